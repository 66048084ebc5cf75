//! [`InlineVec`]: a short list kept inside its owner, on the heap only
//! when it outgrows its room.
//!
//! The tree gives every part a section number and every composite part a
//! list of children, and nearly every Content-Type has one or two
//! parameters: short lists, one per part. Held inline they cost no
//! allocation (`Message::parse` of a message of 18 parts made 67
//! allocations with `Vec`s for them; 15 now: see `tests/allocations.rs`).

use std::fmt;
use std::ops::Deref;

/// A list of at most `N` items held inline, moved to a `Vec` when a push
/// finds it full. Reads go through [`Deref`] to a slice, so it reads like
/// a `Vec` (`len`, `first`, `get`, `iter`, indexing, `==` with a slice or
/// a `Vec`).
///
/// ```
/// use mailwire_mime::InlineVec;
/// let mut v: InlineVec<u32, 2> = InlineVec::new();
/// v.push(1);
/// v.push(2);
/// v.push(3); // spills to the heap
/// assert_eq!(v, [1, 2, 3][..]);
/// assert_eq!(v.first(), Some(&1));
/// ```
#[derive(Clone)]
pub struct InlineVec<T, const N: usize>(Repr<T, N>);

#[derive(Clone)]
enum Repr<T, const N: usize> {
    /// `buf[..len]` are the items; the rest are defaults.
    Inline {
        len: u8,
        buf: [T; N],
    },
    Heap(Vec<T>),
}

impl<T: Default, const N: usize> InlineVec<T, N> {
    /// Room for `N` items inline; at most 255.
    const ROOM: () = assert!(
        N <= u8::MAX as usize,
        "InlineVec holds at most 255 items inline"
    );

    /// An empty list (no allocation).
    pub fn new() -> Self {
        let () = Self::ROOM;
        Self(Repr::Inline {
            len: 0,
            buf: std::array::from_fn(|_| T::default()),
        })
    }

    /// Appends `item`; the first push past `N` items moves them all to
    /// the heap.
    pub fn push(&mut self, item: T) {
        let spilled = match &mut self.0 {
            Repr::Heap(v) => {
                v.push(item);
                return;
            }
            Repr::Inline { len, buf } => {
                let n = usize::from(*len);
                if n < N {
                    buf[n] = item;
                    *len += 1;
                    return;
                }
                let mut v = Vec::with_capacity(N * 2 + 1);
                v.extend(buf.iter_mut().map(std::mem::take));
                v.push(item);
                v
            }
        };
        self.0 = Repr::Heap(spilled);
    }

    /// Shortens the list to `len` items (no effect when it is not longer).
    pub fn truncate(&mut self, new_len: usize) {
        match &mut self.0 {
            Repr::Heap(v) => v.truncate(new_len),
            Repr::Inline { len, buf } => {
                let n = usize::from(*len);
                if new_len < n {
                    for x in &mut buf[new_len..n] {
                        *x = T::default();
                    }
                    // new_len < n <= 255.
                    *len = new_len as u8;
                }
            }
        }
    }

    /// Keeps the items for which `keep` is true, in order.
    pub fn retain(&mut self, mut keep: impl FnMut(&T) -> bool) {
        match &mut self.0 {
            Repr::Heap(v) => v.retain(keep),
            Repr::Inline { len, buf } => {
                let n = usize::from(*len);
                let mut w = 0;
                for r in 0..n {
                    if keep(&buf[r]) {
                        buf.swap(w, r);
                        w += 1;
                    }
                }
                for x in &mut buf[w..n] {
                    *x = T::default();
                }
                // w <= n <= 255.
                *len = w as u8;
            }
        }
    }

    /// Whether the items are still inline (no allocation made).
    pub fn is_inline(&self) -> bool {
        matches!(self.0, Repr::Inline { .. })
    }
}

impl<T, const N: usize> Deref for InlineVec<T, N> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        match &self.0 {
            Repr::Inline { len, buf } => &buf[..usize::from(*len)],
            Repr::Heap(v) => v,
        }
    }
}

impl<T: Default, const N: usize> Default for InlineVec<T, N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Default + Clone, const N: usize> From<&[T]> for InlineVec<T, N> {
    fn from(items: &[T]) -> Self {
        if items.len() <= N {
            // N <= 255 (ROOM).
            let () = Self::ROOM;
            Self(Repr::Inline {
                len: items.len() as u8,
                buf: std::array::from_fn(|i| items.get(i).cloned().unwrap_or_default()),
            })
        } else {
            Self(Repr::Heap(items.to_vec()))
        }
    }
}

impl<T: Default, const N: usize> From<Vec<T>> for InlineVec<T, N> {
    fn from(items: Vec<T>) -> Self {
        Self(Repr::Heap(items))
    }
}

impl<T: Default, const N: usize> FromIterator<T> for InlineVec<T, N> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        let mut v = Self::new();
        for x in iter {
            v.push(x);
        }
        v
    }
}

impl<'v, T, const N: usize> IntoIterator for &'v InlineVec<T, N> {
    type Item = &'v T;
    type IntoIter = std::slice::Iter<'v, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<T: fmt::Debug, const N: usize> fmt::Debug for InlineVec<T, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<T: PartialEq, const N: usize, const M: usize> PartialEq<InlineVec<T, M>> for InlineVec<T, N> {
    fn eq(&self, other: &InlineVec<T, M>) -> bool {
        **self == **other
    }
}

impl<T: Eq, const N: usize> Eq for InlineVec<T, N> {}

impl<T: PartialEq, const N: usize> PartialEq<[T]> for InlineVec<T, N> {
    fn eq(&self, other: &[T]) -> bool {
        **self == *other
    }
}

impl<T: PartialEq, const N: usize> PartialEq<Vec<T>> for InlineVec<T, N> {
    fn eq(&self, other: &Vec<T>) -> bool {
        **self == **other
    }
}

impl<T: std::hash::Hash, const N: usize> std::hash::Hash for InlineVec<T, N> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (**self).hash(state);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Op {
        Push(u16),
        Truncate(usize),
        Retain(u16),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => any::<u16>().prop_map(Op::Push),
            1 => (0usize..8).prop_map(Op::Truncate),
            1 => (1u16..5).prop_map(Op::Retain),
        ]
    }

    proptest! {
        /// Any sequence of operations leaves the same items as on a `Vec`,
        /// whether the list stays inline or spills.
        #[test]
        fn behaves_like_vec(ops in proptest::collection::vec(op(), 0..40)) {
            let mut v: InlineVec<u16, 3> = InlineVec::new();
            let mut want: Vec<u16> = Vec::new();
            let mut longest = 0;
            for op in ops {
                match op {
                    Op::Push(x) => { v.push(x); want.push(x); }
                    Op::Truncate(n) => { v.truncate(n); want.truncate(n); }
                    Op::Retain(m) => { v.retain(|x| x % m != 0); want.retain(|x| x % m != 0); }
                }
                longest = longest.max(want.len());
                prop_assert_eq!(&*v, &want[..]);
                // Inline until it first held more than it has room for.
                prop_assert_eq!(v.is_inline(), longest <= 3);
                prop_assert_eq!(v.clone(), InlineVec::<u16, 5>::from(&want[..]));
            }
        }
    }

    #[test]
    fn spills_past_room() {
        let mut v: InlineVec<String, 1> = InlineVec::new();
        v.push("a".into());
        assert!(v.is_inline());
        v.push("b".into());
        assert!(!v.is_inline());
        assert_eq!(v, vec!["a".to_owned(), "b".to_owned()]);
    }
}

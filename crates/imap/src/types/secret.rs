//! [`Secret`]: passwords and SASL data whose `Debug` output is redacted, and
//! [`Vec1`]: a list that holds at least one element.
//!
//! `mailwire_sasl::Secret` requires `T: Zeroize` and owns its value, whereas
//! this codec is zero-copy: a parsed LOGIN password is an [`IString`](super::core::IString)
//! or a `&[u8]` borrowing the caller's buffer, which the codec can neither own
//! nor wipe. So this crate keeps its own small wrapper, which only redacts.

use std::fmt;
use std::ops::Deref;

/// A secret value: a LOGIN password (RFC 3501 §6.2.3) or AUTHENTICATE data
/// (§6.2.2, RFC 4959 SASL-IR initial response).
///
/// `Debug` prints `Secret([REDACTED])`, so a command holding a password can be
/// logged with `{:?}`; there is deliberately no `Display` and no `Deref`.
/// Read the value with [`Secret::expose`]. The value may borrow the input, so
/// it is not wiped on drop: wipe the buffer it borrows if that matters.
///
/// ```
/// use mailwire_imap::{IString, Secret};
/// let s = Secret::new(IString::try_from("sesame").unwrap());
/// assert_eq!(format!("{s:?}"), "Secret([REDACTED])");
/// assert_eq!(s.expose().as_bytes(), b"sesame");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    /// Wraps a value.
    pub const fn new(value: T) -> Self {
        Self(value)
    }

    /// Gives the secret value. Whatever reads it must not log it.
    pub fn expose(&self) -> &T {
        &self.0
    }

    /// Unwraps the value.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> From<T> for Secret<T> {
    fn from(value: T) -> Self {
        Self(value)
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([REDACTED])")
    }
}

/// A `Vec` with at least one element (STYLE.md: "Use NonZero* and Vec1 for
/// 'at least one'"), for grammar rules written `1*(...)` or `x *(SP x)` such as
/// `ENABLE` capabilities (RFC 5161), LIST patterns (RFC 5258) and the parts of a
/// multipart body (RFC 3501 §9 `body-type-mpart`).
///
/// ```
/// use mailwire_imap::Vec1;
/// let v = Vec1::new(1, vec![2, 3]);
/// assert_eq!(v.first(), &1);
/// assert_eq!(v.len(), 3);
/// assert!(Vec1::<u8>::try_from(vec![]).is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Vec1<T>(Vec<T>);

/// [`Vec1::try_from`] was given an empty `Vec`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the list must hold at least one element")]
pub struct EmptyError;

impl<T> Vec1<T> {
    /// A list of `first` followed by `rest`.
    pub fn new(first: T, rest: Vec<T>) -> Self {
        let mut v = Vec::with_capacity(rest.len() + 1);
        v.push(first);
        v.extend(rest);
        Self(v)
    }

    /// A list of one element.
    pub fn one(first: T) -> Self {
        Self(vec![first])
    }

    /// The first element (there always is one).
    pub fn first(&self) -> &T {
        &self.0[0]
    }

    /// Appends an element.
    pub fn push(&mut self, value: T) {
        self.0.push(value);
    }

    /// The elements as a slice.
    pub fn as_slice(&self) -> &[T] {
        &self.0
    }

    /// The elements as a `Vec`.
    pub fn into_vec(self) -> Vec<T> {
        self.0
    }

    /// Maps every element, keeping the list non-empty.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Vec1<U> {
        Vec1(self.0.into_iter().map(f).collect())
    }
}

impl<T> Deref for Vec1<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.0
    }
}

impl<T> AsRef<[T]> for Vec1<T> {
    fn as_ref(&self) -> &[T] {
        &self.0
    }
}

impl<T> TryFrom<Vec<T>> for Vec1<T> {
    type Error = EmptyError;
    fn try_from(v: Vec<T>) -> Result<Self, EmptyError> {
        if v.is_empty() {
            Err(EmptyError)
        } else {
            Ok(Self(v))
        }
    }
}

impl<T: PartialEq> PartialEq<Vec<T>> for Vec1<T> {
    fn eq(&self, other: &Vec<T>) -> bool {
        self.0 == *other
    }
}

impl<T> From<Vec1<T>> for Vec<T> {
    fn from(v: Vec1<T>) -> Self {
        v.0
    }
}

impl<'a, T> IntoIterator for &'a Vec1<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl<T> IntoIterator for Vec1<T> {
    type Item = T;
    type IntoIter = std::vec::IntoIter<T>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

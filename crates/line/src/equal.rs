//! Comparing short byte strings inline.

/// Whether `a` and `b` are the same bytes: for the short strings a parser
/// compares again and again (a MIME boundary against the start of a
/// delimiter line, a parameter's name), where a call to `memcmp` cost more
/// than the comparison (the MIME structure parse called it for every
/// delimiter line and every parameter asked for: 3% of the three-level
/// forwards' full parse). Up to 32 bytes two loads of each side at most (8
/// or 16 bytes, from the start and ending at the end, overlapping); past
/// that the slices' own comparison.
///
/// ```
/// assert!(mailwire_line::equal(b"boundary", b"boundary"));
/// assert!(!mailwire_line::equal(b"boundary", b"Boundary"));
/// assert!(!mailwire_line::equal(b"charset", b"charse"));
/// ```
#[inline(always)]
pub fn equal(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    match n {
        0..4 => a == b,
        4..8 => word::<4>(a, 0) == word::<4>(b, 0) && word::<4>(a, n - 4) == word::<4>(b, n - 4),
        8..=16 => word::<8>(a, 0) == word::<8>(b, 0) && word::<8>(a, n - 8) == word::<8>(b, n - 8),
        17..=32 => {
            word::<16>(a, 0) == word::<16>(b, 0) && word::<16>(a, n - 16) == word::<16>(b, n - 16)
        }
        _ => a == b,
    }
}

/// Whether `hay` starts with `prefix` ([`equal`] on the start).
///
/// ```
/// assert!(mailwire_line::starts_with(b"--frontier--\r\n", b"--frontier"));
/// assert!(!mailwire_line::starts_with(b"--front", b"--frontier"));
/// ```
#[inline(always)]
pub fn starts_with(hay: &[u8], prefix: &[u8]) -> bool {
    hay.get(..prefix.len()).is_some_and(|h| equal(h, prefix))
}

/// The `N` bytes of `s` from `at` (which the caller keeps in bounds), as
/// an array the comparison reads with one load.
#[inline(always)]
fn word<const N: usize>(s: &[u8], at: usize) -> [u8; N] {
    let mut w = [0u8; N];
    w.copy_from_slice(&s[at..at + N]);
    w
}

#[cfg(test)]
mod tests {
    use super::{equal, starts_with};
    use proptest::prelude::*;

    /// Every length up to 70, one byte changed at each place: unequal;
    /// unchanged: equal; one byte shorter: unequal.
    #[test]
    fn each_length_each_place() {
        for n in 0..70usize {
            let a: Vec<u8> = (0..n).map(|k| (k * 37 % 251) as u8).collect();
            assert!(equal(&a, &a.clone()), "{n}");
            assert!(n == 0 || !equal(&a, &a[..n - 1]), "{n}");
            for at in 0..n {
                let mut b = a.clone();
                b[at] ^= 0x20;
                assert!(!equal(&a, &b), "{n} {at}");
                assert!(!starts_with(&[&b[..], b"rest"].concat(), &a), "{n} {at}");
            }
            assert!(starts_with(&[&a[..], b"rest"].concat(), &a), "{n}");
        }
    }

    proptest! {
        /// Any two strings of a few bytes' alphabet (so that equal ones
        /// and near misses are common): as the slices' comparison.
        #[test]
        fn as_slices(
            a in proptest::collection::vec(0u8..3, 0..40),
            b in proptest::collection::vec(0u8..3, 0..40),
        ) {
            prop_assert_eq!(equal(&a, &b), a == b);
            prop_assert_eq!(starts_with(&a, &b), a.starts_with(&b));
        }
    }
}

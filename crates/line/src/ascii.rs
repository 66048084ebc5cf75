//! Whether bytes are all ASCII.

/// Whether every byte of `bytes` is ASCII (below 0x80): the check a text
/// part gets before its bytes are taken as UTF-8 without a conversion.
///
/// On x86-64 SSE2 (part of its base ABI) ORs 128 bytes together a step,
/// eight 16-byte loads, and tests their top bits with one `pmovmskb`; the
/// rest goes 16 bytes a step, the last 16 loaded where they end (over
/// bytes already seen), and under 16 bytes two overlapping 8-byte words
/// do. Elsewhere the standard library's check. (`<[u8]>::is_ascii` took
/// 10-17 ns for a 220-byte text part here, this 2.7 ns; 21-26 ns for 1,440
/// bytes, this 10.)
///
/// ```
/// assert!(mailwire_line::is_ascii(b"See below, forwarded.\r\n"));
/// assert!(!mailwire_line::is_ascii("caf\u{e9}".as_bytes()));
/// assert!(mailwire_line::is_ascii(b""));
/// ```
#[inline]
pub fn is_ascii(bytes: &[u8]) -> bool {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    return is_ascii_sse2(bytes);
    #[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
    bytes.is_ascii()
}

/// `bytes` as a string when every byte is ASCII ([`is_ascii`]), which
/// needs no UTF-8 validation: for the short values a parser takes as text
/// (an address, a parameter), where `str::from_utf8`'s byte loop cost
/// several times the check. `None` otherwise (the caller validates UTF-8).
///
/// ```
/// assert_eq!(mailwire_line::ascii_str(b"user@example.org"), Some("user@example.org"));
/// assert_eq!(mailwire_line::ascii_str("Zo\u{eb}".as_bytes()), None);
/// ```
#[inline]
pub fn ascii_str(bytes: &[u8]) -> Option<&str> {
    #[allow(unsafe_code)]
    // SAFETY: every byte of `bytes` is ASCII, and ASCII is UTF-8.
    is_ascii(bytes).then(|| unsafe { std::str::from_utf8_unchecked(bytes) })
}

/// `bytes` as a string, UTF-8 validated only when a byte is not ASCII
/// ([`ascii_str`] first): for the short values a parser takes as text,
/// which are nearly always ASCII; a long text with a late non-ASCII byte
/// is read twice.
///
/// ```
/// assert_eq!(mailwire_line::short_str(b"boundary"), Ok("boundary"));
/// assert_eq!(mailwire_line::short_str("Zo\u{eb}".as_bytes()), Ok("Zo\u{eb}"));
/// assert!(mailwire_line::short_str(b"\xff").is_err());
/// ```
#[inline]
pub fn short_str(bytes: &[u8]) -> Result<&str, std::str::Utf8Error> {
    ascii_str(bytes).map_or_else(|| std::str::from_utf8(bytes), Ok)
}

/// [`is_ascii`] with SSE2.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[allow(unsafe_code)]
fn is_ascii_sse2(bytes: &[u8]) -> bool {
    use core::arch::x86_64::{__m128i, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128};
    const TOP_BITS: u64 = 0x8080_8080_8080_8080;
    let n = bytes.len();
    if n < 16 {
        if n >= 8 {
            let word = |at: usize| {
                let mut w = [0u8; 8];
                w.copy_from_slice(&bytes[at..at + 8]);
                u64::from_ne_bytes(w)
            };
            return (word(0) | word(n - 8)) & TOP_BITS == 0;
        }
        return bytes.iter().fold(0, |a, &b| a | b) < 0x80;
    }
    let p = bytes.as_ptr();
    // SAFETY: the cfg above guarantees SSE2 is enabled for this build, so
    // calling these SSE2 intrinsics is sound. Each load reads 16 bytes from
    // an offset `at` with `at + 16 <= n` (the loops' conditions; `n - 16`
    // for the last ones, as `n >= 16`), so it stays inside `bytes`; `loadu`
    // has no alignment requirement.
    unsafe {
        let load = |at: usize| -> __m128i { _mm_loadu_si128(p.add(at).cast()) };
        let mut at = 0;
        while at + 128 <= n {
            let v = _mm_or_si128(
                _mm_or_si128(
                    _mm_or_si128(load(at), load(at + 16)),
                    _mm_or_si128(load(at + 32), load(at + 48)),
                ),
                _mm_or_si128(
                    _mm_or_si128(load(at + 64), load(at + 80)),
                    _mm_or_si128(load(at + 96), load(at + 112)),
                ),
            );
            if _mm_movemask_epi8(v) != 0 {
                return false;
            }
            at += 128;
        }
        let mut v = load(n - 16);
        while at + 16 <= n {
            v = _mm_or_si128(v, load(at));
            at += 16;
        }
        _mm_movemask_epi8(v) == 0
    }
}

#[cfg(test)]
mod tests {
    use super::{ascii_str, is_ascii, short_str};
    use proptest::prelude::*;

    /// Every length up to three steps of 128 bytes, with one byte from
    /// 0x80 at each place (and none): the answer is the standard library's.
    #[test]
    fn each_length_each_place() {
        for n in 0..400 {
            let clean = vec![b'a'; n];
            assert!(is_ascii(&clean), "{n}");
            for at in 0..n {
                for high in [0x80, 0xc3, 0xff] {
                    let mut v = clean.clone();
                    v[at] = high;
                    assert!(!is_ascii(&v), "{n} {at} {high:#x}");
                }
            }
        }
    }

    proptest! {
        /// Any bytes, any length, at any offset of a buffer: as the
        /// standard library answers.
        #[test]
        fn as_std(
            v in proptest::collection::vec(
                prop_oneof![8 => 0u8..0x80, 1 => any::<u8>()], 0..600),
            skip in 0usize..16,
        ) {
            let s = &v[skip.min(v.len())..];
            prop_assert_eq!(is_ascii(s), s.is_ascii());
            prop_assert_eq!(ascii_str(s), s.is_ascii().then(|| std::str::from_utf8(s).unwrap()));
            prop_assert_eq!(short_str(s), std::str::from_utf8(s));
        }
    }
}

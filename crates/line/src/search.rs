//! Searching short lines.

/// The index of the first LF in `hay`, for a search that usually ends
/// within a short line (a header field, a command). Starting a SIMD search
/// costs more than it saves there: the first 64 bytes are searched eight at
/// a time in a `u64` (SWAR), the rest with `memchr`.
///
/// ```
/// assert_eq!(mailwire_line::find_lf(b"Subject: hi\r\nFrom: x\r\n"), Some(12));
/// assert_eq!(mailwire_line::find_lf(b"no line end"), None);
/// ```
#[inline]
pub fn find_lf(hay: &[u8]) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    const LF: u64 = LO * b'\n' as u64;
    let mut i = 0;
    while i < 64 {
        let Some(w) = hay.get(i..i + 8) else {
            return hay[i..].iter().position(|&b| b == b'\n').map(|p| i + p);
        };
        let x = u64::from_le_bytes(w.try_into().unwrap_or_default()) ^ LF;
        // The lowest flagged byte is exact (borrows only run upwards).
        let found = x.wrapping_sub(LO) & !x & HI;
        if found != 0 {
            return Some(i + (found.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    memchr::memchr(b'\n', &hay[i..]).map(|p| i + p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn find_lf_agrees_with_memchr() {
        let mut buf = [b'a'; 200];
        for len in 0..200 {
            for at in 0..len {
                buf[at] = b'\n';
                assert_eq!(find_lf(&buf[..len]), memchr::memchr(b'\n', &buf[..len]));
                buf[at] = 0x8a;
                assert_eq!(find_lf(&buf[..len]), None);
                buf[at] = b'a';
            }
        }
    }

    proptest! {
        /// The word-at-a-time search finds what memchr finds, whatever the
        /// bytes and the length (below, at and beyond the 64 bytes searched
        /// in line).
        #[test]
        fn find_lf_matches_memchr(hay in proptest::collection::vec(prop_oneof![
            Just(b'\n'), Just(b'\r'), Just(0x0b), Just(0x8a), Just(0x09), Just(b'a'),
            any::<u8>()], 0..150), nl_rate in 0usize..4) {
            // Fewer line ends at higher rates, so long lines come too.
            let hay: Vec<u8> = hay.iter().enumerate()
                .map(|(k, &b)| if b == b'\n' && k % (nl_rate * 40 + 1) != 0 { b'x' } else { b })
                .collect();
            for from in 0..hay.len().min(20) {
                prop_assert_eq!(find_lf(&hay[from..]), memchr::memchr(b'\n', &hay[from..]));
            }
        }
    }
}

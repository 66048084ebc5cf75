//! Whole base64 lines decoded with AVX-512 VBMI (RFC 2045 §6.8).
//!
//! A MIME base64 body is lines of symbols (76 a line when written as RFC
//! 2045 §6.8 says), each ended by CRLF or LF. [`decode_lines`] decodes such
//! lines from the start of a body, a line a step (two alike lines a step,
//! one test for both, in the main loop): one or two 64-byte loads
//! translated to 6-bit values by one `vpermi2b` over a 128-entry table,
//! the line's end found as the first byte outside the alphabet (the
//! translation of Muła and Lemire, "Base64 encoding and decoding at almost
//! the speed of a memory copy", 2019), and its values packed to bytes by
//! two `vpmultishiftqb`, a `vpternlogd` and a `vpermb`. No line is copied
//! and no line end compressed out: a line is decoded where it lies. Once a
//! line is decoded, the lines after it are taken to be as long and checked
//! to be so, so where the next line starts never waits for the search of
//! the last one's end: the loads of several lines are in flight at once.
//!
//! It stops, and leaves the rest to the caller's general decoder, at the
//! first line that is not exactly symbols then a line end: a `=`, white
//! space before the line end, junk, a byte from 0x80, a line of more than
//! 128 symbols or of a number of symbols that is not a multiple of four
//! (so every line it decodes ends a quantum, and the caller goes on between
//! quanta), or a last line without a line end. What it decodes is what a
//! lenient decoder that skips line ends gives for those lines.
//!
//! Elsewhere (not x86-64, or a CPU without AVX512BW and AVX512VBMI, which
//! Ice Lake and later have) it decodes nothing and the general decoder does
//! all. The tests check it against encodify's decoder.

/// The shortest input decoded here: a shorter one costs little either
/// way. (It was 16 KiB while the kernel packed with multiplies, which
/// lowered the clock for the work around a short body: see [`avx512`]'s
/// `HIGH`.)
const MIN_LEN: usize = 1024;

/// The room to give a buffer that base64 `len` bytes are decoded into:
/// 3/4 of them, and 64 bytes for the last store of [`decode_lines`], which
/// writes a whole vector (so that it never has to grow the buffer).
pub(crate) fn room(len: usize) -> usize {
    len / 4 * 3 + 64
}

/// Decodes the whole lines at the start of `input` (symbols, then CRLF or
/// LF; see the module documentation for where it stops), appending their
/// bytes to `out`. Returns how many input bytes it consumed: always whole
/// lines, each a whole number of quanta; none for an input shorter than
/// [`MIN_LEN`].
pub(crate) fn decode_lines(input: &[u8], out: &mut Vec<u8>) -> usize {
    if input.len() < MIN_LEN {
        return 0;
    }
    decode_lines_any(input, out)
}

/// [`decode_lines`] for an input of any length.
fn decode_lines_any(input: &[u8], out: &mut Vec<u8>) -> usize {
    #[cfg(target_arch = "x86_64")]
    if input.len() >= 64
        && std::is_x86_feature_detected!("avx512bw")
        && std::is_x86_feature_detected!("avx512vbmi")
    {
        out.reserve(room(input.len()));
        #[allow(unsafe_code)]
        // SAFETY: both target features were detected just above.
        return unsafe { avx512::decode_lines(input, out) };
    }
    let _ = (input, out);
    0
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use core::arch::x86_64::{
        __m512i, _mm512_loadu_si512, _mm512_mask_blend_epi8, _mm512_maskz_loadu_epi8,
        _mm512_maskz_set1_epi8, _mm512_movepi8_mask, _mm512_movm_epi8,
        _mm512_multishift_epi64_epi8, _mm512_or_si512, _mm512_permutex2var_epi8,
        _mm512_permutexvar_epi8, _mm512_set1_epi8, _mm512_setzero_si512, _mm512_storeu_si512,
        _mm512_ternarylogic_epi32, _mm512_test_epi8_mask,
    };

    /// How far past the line being decoded its input, and the room its
    /// bytes go to, are asked for ahead ([`ahead`]).
    const AHEAD: usize = 1024;

    #[cfg(test)]
    thread_local! {
        /// The lines the two-vector path decoded on this thread: a wrong
        /// line-end check there changes no output (the general loop takes
        /// the lines over), so the tests count them.
        pub(super) static TWO_VECTOR_LINES: std::cell::Cell<usize> =
            const { std::cell::Cell::new(0) };
    }

    /// Not a symbol: any value with the top bit set.
    const NOT_SYMBOL: u8 = 0x80;

    /// The 6-bit value of each ASCII byte that is a symbol of the base64
    /// alphabet (RFC 2045 §6.8, Table 1), [`NOT_SYMBOL`] for the others.
    static VALUES: [u8; 128] = {
        let mut t = [NOT_SYMBOL; 128];
        let mut k = 0;
        while k < 26 {
            t[b'A' as usize + k] = k as u8;
            t[b'a' as usize + k] = 26 + k as u8;
            k += 1;
        }
        let mut k = 0;
        while k < 10 {
            t[b'0' as usize + k] = 52 + k as u8;
            k += 1;
        }
        t[b'+' as usize] = 62;
        t[b'/' as usize] = 63;
        t
    };

    /// Where each output byte of a line of two vectors comes from: the
    /// first vector's 48 bytes ([`PACK`]), then the second's (lanes 64 on
    /// of the two-vector permute).
    static JOIN: [u8; 64] = {
        let mut t = [0u8; 64];
        let mut j = 0;
        while j < 64 {
            t[j] = if j < 48 { PACK[j] } else { 64 + PACK[j - 48] };
            j += 1;
        }
        t
    };

    /// The two bit windows each output byte is made of. A 64-bit lane of
    /// values holds two quanta, a symbol's six bits in each byte from bit
    /// 0 (the first symbol in the lowest byte). Output byte `j` (0 to 5) of
    /// the lane is bits `HIGH[j]` to `HIGH[j] + 8` of the lane (rotating)
    /// where [`HIGH_BITS`] has a one, and bits `LOW[j]` to `LOW[j] + 8`
    /// where it has a zero: for a quantum of values `a b c d` (bits 0, 8,
    /// 16, 24), `a << 2 | b >> 4` from windows at 62 and 12, `b << 4 | c >>
    /// 2` from 4 and 18, `c << 6 | d` from 10 and 24; the second quantum
    /// 32 bits on. `vpmultishiftqb` cuts each window, one `vpternlogd`
    /// selects the bits. No multiply: `vpmaddubsw` and `vpmaddwd` on
    /// 512-bit registers, which packed the values before, lower the clock
    /// of some Intel CPUs for what runs around them (measured on a
    /// Sapphire Rapids VM: plain additions right after the kernel at 3.37
    /// a nanosecond instead of 3.7, and the bench's forwards with their
    /// 8 KiB attachments 10% slower to parse with the kernel than with
    /// encodify's AVX2 decoder alone); these run at the full clock.
    static HIGH: [u8; 64] = per_lane([62, 4, 10, 30, 36, 42, 0, 0]);
    /// See [`HIGH`].
    static LOW: [u8; 64] = per_lane([12, 18, 24, 44, 50, 56, 0, 0]);
    /// See [`HIGH`].
    static HIGH_BITS: [u8; 64] = per_lane([0xfc, 0xf0, 0xc0, 0xfc, 0xf0, 0xc0, 0, 0]);

    /// Eight 64-bit lanes alike.
    const fn per_lane(lane: [u8; 8]) -> [u8; 64] {
        let mut t = [0u8; 64];
        let mut j = 0;
        while j < 64 {
            t[j] = lane[j % 8];
            j += 1;
        }
        t
    }

    /// Where each output byte of a vector comes from after [`HIGH`]'s
    /// windows: the six bytes of each 64-bit lane, one lane after the
    /// other. The last 16 are unused.
    static PACK: [u8; 64] = {
        let mut t = [0u8; 64];
        let mut j = 0;
        while j < 48 {
            t[j] = (j / 6 * 8 + j % 6) as u8;
            j += 1;
        }
        t
    };

    /// A mask of the first `n` of 64 lanes.
    #[inline(always)]
    fn lanes(n: usize) -> u64 {
        if n >= 64 { u64::MAX } else { (1u64 << n) - 1 }
    }

    /// Asks for the cache lines [`AHEAD`] bytes past `input[i]` and past
    /// `out[o]` (a hint: an address past either buffer is never read or
    /// written through). The input because the hardware's prefetcher
    /// stops at each page edge; the output's room because a line first
    /// read by a prefetch comes in held by this core alone, so the store
    /// to it later does not wait to take it over (the bench's 1 MiB
    /// bodies 13% faster with the input's, 13% more with the output's).
    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
    #[inline]
    fn ahead(input: &[u8], i: usize, out: *mut u8, o: usize) {
        use core::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        _mm_prefetch::<_MM_HINT_T0>(input.as_ptr().wrapping_add(i + AHEAD).cast());
        _mm_prefetch::<_MM_HINT_T0>(out.wrapping_add(o + AHEAD).cast());
    }

    /// See [`super::decode_lines`]. `out` has room for 3/4 of
    /// `input.len()` bytes and 64 more after its length.
    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
    #[allow(unsafe_code)]
    pub(super) unsafe fn decode_lines(input: &[u8], out: &mut Vec<u8>) -> usize {
        // SAFETY: the loads read the 128 and 64 bytes of the tables;
        // `loadu` has no alignment requirement.
        let (low, high, pack) = unsafe {
            (
                _mm512_loadu_si512(VALUES.as_ptr().cast()),
                _mm512_loadu_si512(VALUES[64..].as_ptr().cast()),
                _mm512_loadu_si512(PACK.as_ptr().cast()),
            )
        };
        // The 6-bit values of the `n` bytes from `at` (lanes past `n` read
        // as 0, not a symbol) and the mask of those that are not symbols:
        // not in the table, or from 0x80 (which the table, indexed by the
        // low seven bits, does not see).
        let translate = |at: usize, n: usize| -> (__m512i, u64) {
            // SAFETY: the mask covers the `n` bytes from `at`, which the
            // callers keep inside `input`; masked-off lanes are not read.
            let v = unsafe { _mm512_maskz_loadu_epi8(lanes(n), input.as_ptr().add(at).cast()) };
            let t = _mm512_permutex2var_epi8(low, v, high);
            (t, _mm512_movepi8_mask(_mm512_or_si512(t, v)))
        };
        let base = out.len();
        let dst = out.as_mut_ptr();
        // SAFETY: the loads read the 64 bytes of each table.
        let (high_at, low_at, high_bits) = unsafe {
            (
                _mm512_loadu_si512(HIGH.as_ptr().cast()),
                _mm512_loadu_si512(LOW.as_ptr().cast()),
                _mm512_loadu_si512(HIGH_BITS.as_ptr().cast()),
            )
        };
        // Each 64-bit lane's six bytes in its six low bytes ([`HIGH`]).
        let quanta = |t: __m512i| {
            _mm512_ternarylogic_epi32::<0xca>(
                high_bits,
                _mm512_multishift_epi64_epi8(high_at, t),
                _mm512_multishift_epi64_epi8(low_at, t),
            )
        };
        // Writes the bytes of a line of `len` symbols (whole quanta, at
        // most 128) from `o` on: 48 from its first 64 values (`a`), then
        // those of the rest (`b`). Each store writes a whole vector: the
        // bytes past the line's are written over by the next line's, or
        // lie past the end.
        let put = |o: usize, len: usize, a: __m512i, b: __m512i| {
            let bytes = |t: __m512i| _mm512_permutexvar_epi8(pack, quanta(t));
            // SAFETY: the stores write 64 bytes from `base + o` and, for a
            // line over 64 symbols, from `base + o + 48`; `o` is 3/4 of
            // the bytes consumed before this line, so `o + 48` is at most
            // 3/4 of those consumed with it: they end within 3/4 of
            // `input.len()` and 64 bytes after `base`, the room the caller
            // reserved.
            unsafe {
                _mm512_storeu_si512(dst.add(base + o).cast(), bytes(a));
                if len > 64 {
                    _mm512_storeu_si512(dst.add(base + o + 48).cast(), bytes(b));
                }
            }
        };
        let (mut i, mut o) = (0usize, 0usize);
        while i < input.len() {
            let left = input.len() - i;
            let (a, bad_a) = translate(i, left);
            // The line's symbols: up to the first byte that is not one,
            // within 128 bytes (the lanes past the input's end are not
            // symbols), else 128 (and the line end must follow).
            let (len, b) = if bad_a != 0 {
                (bad_a.trailing_zeros() as usize, _mm512_setzero_si512())
            } else {
                let (b, bad_b) = translate(i + 64, left - 64);
                let in_b = if bad_b == 0 {
                    64
                } else {
                    bad_b.trailing_zeros() as usize
                };
                (64 + in_b, b)
            };
            if len % 4 != 0 {
                break;
            }
            let eol = match (input.get(i + len), input.get(i + len + 1)) {
                (Some(b'\n'), _) => 1,
                (Some(b'\r'), Some(b'\n')) => 2,
                _ => break,
            };
            put(o, len, a, b);
            o += len / 4 * 3;
            i += len + eol;
            // The lines after it of the same length and line end (most
            // bodies are all such lines but the last): each is checked,
            // but where the next one starts does not wait for that check.
            let (in_a, in_b) = (len.min(64), len.saturating_sub(64));
            // Lines of 65 to 84 symbols (76 as RFC 2045 §6.8 writes them)
            // while 128 bytes are left: both vectors loaded whole (no
            // masks), the symbols and the line end checked together by
            // one test, and the line's bytes (at most 63) packed from both
            // vectors into one store. The lines from the first that is not
            // such a line, and the last ones, go on below.
            if (1..=20).contains(&in_b) {
                // The lanes of the second vector that hold symbols, and
                // those that hold the line end, as vectors (all ones in
                // each such lane).
                let symbols_b = _mm512_movm_epi8(lanes(in_b));
                // The line end the first line had, where the second vector
                // holds it (an LF in its lane, for CRLF a CR in the lane
                // before), and the lanes it takes there.
                let lf = 1u64 << (in_b + eol - 1);
                let end_bytes = _mm512_mask_blend_epi8(
                    lf,
                    _mm512_maskz_set1_epi8(lanes(eol) << in_b, b'\r' as i8),
                    _mm512_set1_epi8(b'\n' as i8),
                );
                let ends = _mm512_movm_epi8(lanes(eol) << in_b);
                let top_bit = _mm512_set1_epi8(NOT_SYMBOL as i8);
                // SAFETY: the load reads the 64 bytes of the table.
                let join = unsafe { _mm512_loadu_si512(JOIN.as_ptr().cast()) };
                // One line at `at`: its bytes (packed from both vectors)
                // and its test vector (nonzero in a lane that fails).
                let line = |at: usize| {
                    // SAFETY: both read 64 bytes within the 128 from `at`,
                    // which the callers keep inside `input`.
                    let (va, vb) = unsafe {
                        (
                            _mm512_loadu_si512(input.as_ptr().add(at).cast()),
                            _mm512_loadu_si512(input.as_ptr().add(at + 64).cast()),
                        )
                    };
                    let (ta, tb) = (
                        _mm512_permutex2var_epi8(low, va, high),
                        _mm512_permutex2var_epi8(low, vb, high),
                    );
                    // The top bit of any lane of either vector that should
                    // hold a symbol and does not (its byte or its value has
                    // it), or any bit that differs from the line end in the
                    // lanes that hold it.
                    let not_symbols = _mm512_ternarylogic_epi32::<0xfe>(
                        ta,
                        va,
                        _mm512_ternarylogic_epi32::<0xa8>(tb, vb, symbols_b),
                    );
                    let not_end = _mm512_ternarylogic_epi32::<0x28>(vb, end_bytes, ends);
                    let bad = _mm512_ternarylogic_epi32::<0xea>(not_symbols, top_bit, not_end);
                    (_mm512_permutex2var_epi8(quanta(ta), join, quanta(tb)), bad)
                };
                let step = len + eol;
                let made = len / 4 * 3;
                // Two lines a step, one test for both, with no mask
                // register work but its result (on an AMD EPYC, Zen 4, the
                // test of each line held the loop back: the bench's 1 MiB
                // bodies 190.5 -> 185.9 µs).
                while i + step + 128 <= input.len() {
                    ahead(input, i, dst, base + o);
                    let (first, bad_first) = line(i);
                    let (second, bad_second) = line(i + step);
                    let bad = _mm512_or_si512(bad_first, bad_second);
                    if _mm512_test_epi8_mask(bad, bad) != 0 {
                        break;
                    }
                    // SAFETY: as in `put`: the 64 bytes from `base + o` and
                    // from `base + o + made` lie within the room the caller
                    // reserved (3/4 of the bytes consumed with each line,
                    // and 64 more).
                    unsafe {
                        _mm512_storeu_si512(dst.add(base + o).cast(), first);
                        _mm512_storeu_si512(dst.add(base + o + made).cast(), second);
                    }
                    #[cfg(test)]
                    TWO_VECTOR_LINES.with(|c| c.set(c.get() + 2));
                    o += 2 * made;
                    i += 2 * step;
                }
                while i + 128 <= input.len() {
                    ahead(input, i, dst, base + o);
                    let (bytes, bad) = line(i);
                    if _mm512_test_epi8_mask(bad, bad) != 0 {
                        break;
                    }
                    // SAFETY: as in `put`: the 64 bytes from `base + o` lie
                    // within the room the caller reserved.
                    unsafe { _mm512_storeu_si512(dst.add(base + o).cast(), bytes) };
                    #[cfg(test)]
                    TWO_VECTOR_LINES.with(|c| c.set(c.get() + 1));
                    o += made;
                    i += step;
                }
            }
            while i + len + eol <= input.len() {
                ahead(input, i, dst, base + o);
                let (a, bad_a) = translate(i, in_a);
                let (b, bad_b) = if in_b > 0 {
                    translate(i + 64, in_b)
                } else {
                    (_mm512_setzero_si512(), 0)
                };
                let symbols = (bad_a & lanes(in_a)) | (bad_b & lanes(in_b)) == 0;
                let ends = match eol {
                    1 => input[i + len] == b'\n',
                    _ => input[i + len] == b'\r' && input[i + len + 1] == b'\n',
                };
                if !(symbols && ends) {
                    break;
                }
                put(o, len, a, b);
                o += len / 4 * 3;
                i += len + eol;
            }
        }
        // SAFETY: the `o` bytes after `base` were written above.
        unsafe { out.set_len(base + o) };
        i
    }
}

#[cfg(test)]
mod tests {
    use super::{MIN_LEN, decode_lines, decode_lines_any};
    use proptest::prelude::*;

    /// encodify's lenient MIME decoder: the reference.
    fn reference(input: &[u8]) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        encodify::base64::MIME
            .decode_append(input, &mut out)
            .ok()
            .map(|_| out)
    }

    fn is_symbol(c: u8) -> bool {
        c.is_ascii_alphanumeric() || c == b'+' || c == b'/'
    }

    /// What is decoded here, then the rest by the reference; checks that
    /// what was consumed is whole lines of whole quanta and that what was
    /// written before is kept.
    fn split(input: &[u8]) -> (usize, Option<Vec<u8>>) {
        let mut out = b"kept".to_vec();
        let n = decode_lines_any(input, &mut out);
        assert!(out.starts_with(b"kept"));
        if input.len() < MIN_LEN {
            assert_eq!(decode_lines(input, &mut Vec::new()), 0);
        }
        let done = &input[..n];
        assert!(n == 0 || done.ends_with(b"\n"));
        assert!(
            done.iter()
                .all(|&c| is_symbol(c) || c == b'\r' || c == b'\n')
        );
        let symbols = done.iter().filter(|&&c| is_symbol(c)).count();
        assert_eq!(symbols % 4, 0);
        assert_eq!(out.len() - 4, symbols / 4 * 3);
        (n, reference(&input[n..]).map(|r| [&out[4..], &r].concat()))
    }

    fn lines(data: &[u8], width: usize, eol: &[u8]) -> Vec<u8> {
        let text = crate::encoding::encode_base64(data);
        let symbols: Vec<u8> = text
            .into_iter()
            .filter(|c| !c.is_ascii_whitespace())
            .collect();
        let mut out = Vec::new();
        for line in symbols.chunks(width) {
            out.extend_from_slice(line);
            out.extend_from_slice(eol);
        }
        out
    }

    fn cpu_has_it() -> bool {
        #[cfg(target_arch = "x86_64")]
        return std::is_x86_feature_detected!("avx512bw")
            && std::is_x86_feature_detected!("avx512vbmi")
            && std::is_x86_feature_detected!("avx512vbmi2");
        #[cfg(not(target_arch = "x86_64"))]
        false
    }

    /// Whether a clean body of lines as long as its first (the last one
    /// maybe shorter, maybe padded) is decoded up to its last line, or not
    /// at all when its first line cannot be.
    fn decoded_far_enough(body: &[u8], n: usize) -> bool {
        let first = body.iter().take_while(|&&c| is_symbol(c)).count();
        let last = body[..body.len().saturating_sub(1)]
            .iter()
            .rposition(|&c| c == b'\n')
            .map_or(0, |p| p + 1);
        if cpu_has_it() && body.len() >= 64 && first.is_multiple_of(4) && first <= 128 {
            n >= last
        } else {
            n == 0
        }
    }

    #[test]
    fn rfc2045_6_8_lines_of_76() {
        let data: Vec<u8> = (0..=255u8).cycle().take(57 * 20 + 10).collect();
        for eol in [&b"\r\n"[..], b"\n"] {
            let body = lines(&data, 76, eol);
            #[cfg(target_arch = "x86_64")]
            let before = super::avx512::TWO_VECTOR_LINES.with(|c| c.get());
            let (n, all) = split(&body);
            assert_eq!(all.as_deref(), Some(&data[..]));
            assert!(decoded_far_enough(&body, n), "{n} of {}", body.len());
            // The 76-symbol lines went through the two-vector path, but
            // the last ones (its loads need 128 bytes).
            #[cfg(target_arch = "x86_64")]
            if cpu_has_it() {
                let two = super::avx512::TWO_VECTOR_LINES.with(|c| c.get()) - before;
                assert!(two >= 18, "{two} lines of 21 on the two-vector path");
            }
        }
    }

    #[test]
    fn other_widths() {
        let data: Vec<u8> = (0..3 * 400).map(|k| (k * 7 % 251) as u8).collect();
        for width in [
            3, 4, 40, 60, 63, 64, 65, 68, 72, 76, 100, 124, 128, 132, 100_000,
        ] {
            let body = lines(&data, width, b"\r\n");
            let (n, all) = split(&body);
            assert_eq!(all.as_deref(), Some(&data[..]), "width {width}");
            assert!(decoded_far_enough(&body, n), "width {width}: {n}");
        }
    }

    /// A line longer than the ones before it, where the line end should
    /// be: whatever symbols stand there, and whatever symbols stand in the
    /// first vector's lanes beside them (the one test ORs both vectors'
    /// lanes, so a check that let one lane hide another's mismatch would
    /// take the long line as a short one), the lines decode as the
    /// reference decodes them (the long line too, as lines of its own
    /// length).
    #[test]
    fn a_longer_line_where_the_line_end_should_be() {
        let good = lines(&[7u8; 57 * 4], 76, b"\r\n");
        let symbols = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        for (k, &early) in symbols.iter().enumerate() {
            for &late in symbols.iter().skip(k % 8).step_by(8) {
                let mut long = vec![b'Q'; 80];
                // Lanes 12 and 13 of the first vector, and bytes 76, 77 of
                // the line (lanes 12 and 13 of the second): where a 76-symbol
                // line's CRLF would be.
                long[12] = early;
                long[13] = late;
                long[76] = late;
                long[77] = early;
                let body = [good.as_slice(), &long, b"\r\n", &good].concat();
                let (_, all) = split(&body);
                assert_eq!(all, reference(&body), "{}{}", early as char, late as char);
            }
        }
    }

    #[test]
    fn stops_before_what_it_does_not_decode() {
        let good = lines(&[7u8; 57 * 10], 76, b"\r\n");
        let cases: [(&[u8], &str); 8] = [
            (b"QUFB=QUFB\r\n", "a = inside"),
            (b"QUFB \r\n", "a space before the line end"),
            (b"QUFB\tQUFB\r\n", "a tab"),
            (b"QUFB!\r\n", "junk"),
            (b"QUF\r\n", "a line not of whole quanta"),
            (b"QUFB\xc3\xa9\r\n", "a byte from 0x80"),
            (b"QUFB\rQUFB\r\n", "a bare CR"),
            (b"--boundary\r\n", "a delimiter"),
        ];
        for (bad, what) in cases {
            let body = [good.as_slice(), bad, &good].concat();
            let (n, all) = split(&body);
            assert_eq!(all, reference(&body), "{what}");
            if cpu_has_it() {
                assert_eq!(n, good.len(), "{what}");
            }
        }
        let body = [good.as_slice(), b"QUFB"].concat();
        let (n, all) = split(&body);
        assert_eq!(all, reference(&body), "no line end");
        if cpu_has_it() {
            assert_eq!(n, good.len(), "no line end");
        }
        let long = [&[b'Q'; 132][..], b"\r\n"].concat();
        assert_eq!(split(&long).0, 0, "a line over 128 symbols");
    }

    /// A body from runs of any length, each of symbols or, now and then,
    /// of any bytes, each followed by CRLF, LF, CR or nothing.
    fn body() -> impl Strategy<Value = Vec<u8>> {
        let symbol = prop::sample::select(
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".to_vec(),
        );
        let run = prop_oneof![
            8 => prop::collection::vec(symbol, 0..140),
            1 => prop::collection::vec(any::<u8>(), 0..8),
        ];
        let eol = prop::sample::select(vec![&b"\r\n"[..], b"\n", b"\r", b""]);
        prop::collection::vec((run, eol), 0..40).prop_map(|rs| {
            rs.into_iter()
                .flat_map(|(r, e)| r.into_iter().chain(e.iter().copied()))
                .collect()
        })
    }

    proptest! {
        /// Any body: what is decoded here and the rest by encodify give
        /// what encodify gives for the whole.
        #[test]
        fn decodes_as_the_reference_does(body in body()) {
            let (_, all) = split(&body);
            prop_assert_eq!(all, reference(&body));
        }

        /// Lines of any width, any data, either line end: all but the
        /// last line decoded here when the width is whole quanta, at most
        /// 128.
        #[test]
        fn any_width_any_data(
            data in prop::collection::vec(any::<u8>(), 0..3000),
            width in 1usize..=200,
            crlf in any::<bool>(),
        ) {
            let eol: &[u8] = if crlf { b"\r\n" } else { b"\n" };
            let body = lines(&data, width, eol);
            let (n, all) = split(&body);
            prop_assert_eq!(all.as_deref(), Some(&data[..]));
            prop_assert!(decoded_far_enough(&body, n), "{} of {}", n, body.len());
        }
    }
}

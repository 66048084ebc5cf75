//! The unstuffer's fast path: skipping 64-byte blocks of plain content.
//!
//! A block is plain when every CR in it is followed by LF, every LF is
//! preceded by CR, and no `.` follows an LF: nothing in it needs a decision.
//! Three bitmasks per block (CR, LF, `.`) decide that with a few shifts.
//!
//! On x86-64 the masks come from SSE2, which every x86-64 CPU has (it is
//! part of the base ABI), or from AVX2 when the CPU reports it at run time.
//! Elsewhere a portable loop gives the same answer. The tests check the
//! vector forms against the portable one.

/// The block size the masks cover.
pub(crate) const BLOCK: usize = 64;

/// What [`skip_plain_blocks`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Skip {
    /// Go on with the exact scan from here.
    Resume(usize),
    /// All bytes before this index are plain content, ending with CRLF, and
    /// this index is a line start holding a `.`.
    DotLine(usize),
}

/// The block loop, over a given mask function (a macro so that each
/// instance inlines its own mask code under its own target features).
macro_rules! skip_loop {
    ($buf:expr, $start:expr, $masks:expr) => {{
        let buf: &[u8] = $buf;
        let mut off: usize = $start;
        let mut carry_cr = 0u64;
        let mut carry_lf = 0u64;
        loop {
            let Some(block) = buf.get(off..off.saturating_add(BLOCK)) else {
                break;
            };
            let Ok(block) = <&[u8; BLOCK]>::try_from(block) else {
                break;
            };
            let (cr, lf, dot): (u64, u64, u64) = $masks(block);
            // Bit j: an LF at j without a CR at j - 1, or a CR at j - 1
            // without an LF at j (the previous block's last CR carried in).
            let bad = lf ^ ((cr << 1) | carry_cr);
            // Bit j: a `.` at a line start (after an LF, maybe carried in).
            let dots = dot & ((lf << 1) | carry_lf);
            if bad | dots != 0 {
                if dots != 0 {
                    let q = dots.trailing_zeros();
                    // Every CR and LF before the dot is in a CRLF. (Bit q of
                    // `bad` is clear: byte q is a dot and byte q - 1 an LF.)
                    if bad & ((1u64 << q) - 1) == 0 {
                        return Skip::DotLine(off + q as usize);
                    }
                }
                break;
            }
            carry_cr = cr >> 63;
            carry_lf = lf >> 63;
            off += BLOCK;
        }
        // A CR ending the last block is unchecked: back up onto it. An LF
        // ending it makes `off` an unchecked line start: back up onto its CR.
        Skip::Resume(off - (carry_cr as usize) - 2 * (carry_lf as usize))
    }};
}

/// Skips whole blocks of plain content from `start`.
///
/// Stops at the first block that is not plain. If the first thing wrong in
/// it is a line starting with `.`, that line start is returned exactly
/// ([`Skip::DotLine`]). Otherwise the returned position is one from which
/// an exact scan can go on: never just after an unchecked CR, and never at
/// an unchecked line start (it backs up to the CR of a CRLF that ends a
/// block).
///
/// `start` must not be just after a CR, and if it is a line start its dot
/// check must be done.
#[inline]
pub(crate) fn skip_plain_blocks(buf: &[u8], start: usize) -> Skip {
    #[cfg(target_arch = "x86_64")]
    if buf.len().saturating_sub(start) >= 4 * BLOCK && std::is_x86_feature_detected!("avx2") {
        return avx2::skip(buf, start);
    }
    skip_baseline(buf, start)
}

/// [`skip_plain_blocks`] with the baseline masks.
#[inline]
fn skip_baseline(buf: &[u8], start: usize) -> Skip {
    skip_loop!(buf, start, masks)
}

/// Bitmasks of CR, LF and `.` in `block`: bit `i` is set where `block[i]` is
/// that byte.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[inline]
#[allow(unsafe_code)]
pub(crate) fn masks(block: &[u8; BLOCK]) -> (u64, u64, u64) {
    use core::arch::x86_64::{_mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8};
    let mut cr = 0u64;
    let mut lf = 0u64;
    let mut dot = 0u64;
    // SAFETY: the cfg above guarantees SSE2 is enabled for this build, so
    // calling these SSE2 intrinsics is sound. Each `_mm_loadu_si128` reads
    // 16 bytes at offset 16*k (k < 4) of a 64-byte array we borrow, so it
    // stays in bounds; `loadu` has no alignment requirement.
    unsafe {
        let v_cr = _mm_set1_epi8(b'\r' as i8);
        let v_lf = _mm_set1_epi8(b'\n' as i8);
        let v_dot = _mm_set1_epi8(b'.' as i8);
        for k in 0..BLOCK / 16 {
            let v = _mm_loadu_si128(block.as_ptr().add(16 * k).cast());
            let shift = 16 * k;
            cr |= u64::from(_mm_movemask_epi8(_mm_cmpeq_epi8(v, v_cr)) as u16) << shift;
            lf |= u64::from(_mm_movemask_epi8(_mm_cmpeq_epi8(v, v_lf)) as u16) << shift;
            dot |= u64::from(_mm_movemask_epi8(_mm_cmpeq_epi8(v, v_dot)) as u16) << shift;
        }
    }
    (cr, lf, dot)
}

/// Bitmasks of CR, LF and `.` in `block`: bit `i` is set where `block[i]` is
/// that byte.
#[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
#[inline]
pub(crate) fn masks(block: &[u8; BLOCK]) -> (u64, u64, u64) {
    portable_masks(block)
}

/// The portable form of [`masks`].
#[inline]
#[cfg_attr(
    all(target_arch = "x86_64", target_feature = "sse2", not(test)),
    allow(dead_code)
)]
pub(crate) fn portable_masks(block: &[u8; BLOCK]) -> (u64, u64, u64) {
    let mut cr = 0u64;
    let mut lf = 0u64;
    let mut dot = 0u64;
    for (i, &b) in block.iter().enumerate() {
        cr |= u64::from(b == b'\r') << i;
        lf |= u64::from(b == b'\n') << i;
        dot |= u64::from(b == b'.') << i;
    }
    (cr, lf, dot)
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{BLOCK, Skip};
    use core::arch::x86_64::{
        _mm256_cmpeq_epi8, _mm256_loadu_si256, _mm256_movemask_epi8, _mm256_set1_epi8,
    };

    /// [`super::skip_plain_blocks`] with AVX2 masks. Call only when the
    /// CPU has AVX2.
    #[allow(unsafe_code)]
    pub(super) fn skip(buf: &[u8], start: usize) -> Skip {
        // SAFETY: the only caller checks `is_x86_feature_detected!("avx2")`
        // first, so the CPU runs AVX2 instructions.
        unsafe { skip_avx2(buf, start) }
    }

    #[target_feature(enable = "avx2")]
    fn skip_avx2(buf: &[u8], start: usize) -> Skip {
        skip_loop!(buf, start, masks)
    }

    /// Bitmasks of CR, LF and `.` in `block`, with AVX2.
    #[target_feature(enable = "avx2")]
    #[inline]
    #[allow(unsafe_code)]
    pub(super) fn masks(block: &[u8; BLOCK]) -> (u64, u64, u64) {
        let v_cr = _mm256_set1_epi8(b'\r' as i8);
        let v_lf = _mm256_set1_epi8(b'\n' as i8);
        let v_dot = _mm256_set1_epi8(b'.' as i8);
        // SAFETY: each load reads 32 bytes at offset 0 or 32 of a 64-byte
        // array we borrow, so it stays in bounds; `loadu` has no alignment
        // requirement. AVX2 is enabled in this function.
        let (lo, hi) = unsafe {
            (
                _mm256_loadu_si256(block.as_ptr().cast()),
                _mm256_loadu_si256(block.as_ptr().add(32).cast()),
            )
        };
        let m = |a, b| {
            let a = u64::from(_mm256_movemask_epi8(a) as u32);
            let b = u64::from(_mm256_movemask_epi8(b) as u32);
            a | (b << 32)
        };
        (
            m(_mm256_cmpeq_epi8(lo, v_cr), _mm256_cmpeq_epi8(hi, v_cr)),
            m(_mm256_cmpeq_epi8(lo, v_lf), _mm256_cmpeq_epi8(hi, v_lf)),
            m(_mm256_cmpeq_epi8(lo, v_dot), _mm256_cmpeq_epi8(hi, v_dot)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blocks() -> impl Iterator<Item = [u8; BLOCK]> {
        (0u64..3000).map(|seed| {
            let mut block = [b'x'; BLOCK];
            let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
            let alphabet: &[u8] = match seed % 3 {
                0 => &[b'\r', b'\n', b'.', b'x', 0x8D, 0xAE, 0x8A],
                1 => b"\r\nxxxxx",
                _ => b".xxxxx\n",
            };
            for b in block.iter_mut() {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                *b = alphabet[(s % 7) as usize];
            }
            block
        })
    }

    #[test]
    fn masks_agree_with_portable_form() {
        for block in blocks() {
            assert_eq!(masks(&block), portable_masks(&block));
        }
        assert_eq!(masks(&[b'\r'; BLOCK]), (u64::MAX, 0, 0));
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    #[allow(unsafe_code)]
    fn avx2_masks_agree_with_portable_form() {
        if !std::is_x86_feature_detected!("avx2") {
            eprintln!("no AVX2 on this CPU: skipped");
            return;
        }
        for block in blocks() {
            // SAFETY: AVX2 was detected above.
            let got = unsafe { avx2::masks(&block) };
            assert_eq!(got, portable_masks(&block));
        }
    }

    #[test]
    fn baseline_and_dispatch_agree() {
        let mut buf = Vec::new();
        for i in 0..400usize {
            buf.extend(std::iter::repeat_n(b'x', i % 90));
            buf.extend_from_slice(if i % 37 == 36 { b"\r\n." } else { b"\r\n" });
        }
        for start in 0..300 {
            // A position after a CR is not a valid start.
            if start > 0 && buf[start - 1] == b'\r' {
                continue;
            }
            assert_eq!(
                skip_plain_blocks(&buf, start),
                skip_baseline(&buf, start),
                "start {start}"
            );
        }
    }
}

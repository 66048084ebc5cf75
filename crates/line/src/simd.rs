//! Byte-class bitmasks of 64-byte blocks, for the unstuffer's fast path.
//!
//! On x86-64 this uses SSE2, which every x86-64 CPU has (it is part of the
//! base ABI, so no run-time detection is needed). Elsewhere a portable loop
//! gives the same answer.

/// The block size the masks cover.
pub(crate) const BLOCK: usize = 64;

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
#[cfg_attr(all(target_arch = "x86_64", target_feature = "sse2"), allow(dead_code))]
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_agree_with_portable_form() {
        let mut block = [b'x'; BLOCK];
        for seed in 0u64..2000 {
            let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
            for b in block.iter_mut() {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                *b = [b'\r', b'\n', b'.', b'x', 0x8D, 0xAE, 0x8A][(s % 7) as usize];
            }
            assert_eq!(masks(&block), portable_masks(&block));
        }
        let (cr, lf, dot) = masks(&[b'\r'; BLOCK]);
        assert_eq!((cr, lf, dot), (u64::MAX, 0, 0));
    }
}

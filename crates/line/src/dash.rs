//! Searching for a line that starts with `--`: the candidates for a MIME
//! boundary delimiter (RFC 2046 §5.1.1).
//!
//! A general substring search (`memchr::memmem`) spends its time on a
//! prefilter tuned for any needle; this needle is three fixed bytes. In the
//! bodies the MIME parser crosses (base64, quoted-printable, text) a `-` is
//! rare, so the vector loop first compares 128 bytes with `-` alone and
//! moves on when none matched; only then three shifted loads compared with
//! `\n`, `-`, `-` and ANDed decide each start position exactly, with no
//! verification step.
//!
//! On x86-64 the compares use AVX-512 (AVX512BW on an Intel CPU from Ice
//! Lake on, see `has_avx512`) or else AVX2 when the CPU reports it at run
//! time, else SSE2 (part of the x86-64 base ABI). On AMD's CPUs the AVX2
//! form runs, without the software prefetch (see `is_amd`).
//! Elsewhere a `memchr` loop over line ends gives the same answer. The tests
//! check every form this CPU runs against `memchr::memmem::find`.

/// The needle: a line end followed by the two dashes of a delimiter.
const NEEDLE: &[u8; 3] = b"\n--";

/// The index of the LF of the first `"\n--"` in `hay`: where the search for
/// a MIME boundary delimiter line finds its next candidate (the line
/// starts one byte later). The same answer as
/// `memchr::memmem::find(hay, b"\n--")`, found faster on long bodies.
///
/// ```
/// assert_eq!(mailwire_line::find_dash_line(b"body\r\n--b\r\n"), Some(5));
/// assert_eq!(mailwire_line::find_dash_line(b"a\n-b\n- -"), None);
/// ```
#[inline]
pub fn find_dash_line(hay: &[u8]) -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    {
        // On AMD's CPUs, AVX2 without the software prefetch (see
        // `crate::is_amd`).
        let amd = crate::is_amd();
        if hay.len() >= avx512::STEP && !amd && crate::has_avx512() {
            return avx512::find(hay);
        }
        if hay.len() >= avx2::STEP && std::is_x86_feature_detected!("avx2") {
            return if amd {
                avx2::find_unaided(hay)
            } else {
                avx2::find(hay)
            };
        }
        sse2::find(hay)
    }
    #[cfg(not(target_arch = "x86_64"))]
    find_portable(hay)
}

/// The portable form: each LF (found with `memchr`) checked for two dashes
/// after it.
#[cfg_attr(all(target_arch = "x86_64", not(test)), allow(dead_code))]
fn find_portable(hay: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(p) = memchr::memchr(b'\n', hay.get(from..)?) {
        let lf = from + p;
        if hay.get(lf + 1..lf + 3)? == b"--" {
            return Some(lf);
        }
        from = lf + 1;
    }
    None
}

/// The search for haystacks too short for a vector step.
#[inline]
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
fn find_short(hay: &[u8]) -> Option<usize> {
    hay.windows(NEEDLE.len()).position(|w| w == NEEDLE)
}

#[cfg(target_arch = "x86_64")]
mod sse2 {
    use super::find_short;
    use core::arch::x86_64::{
        __m128i, _mm_and_si128, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128,
        _mm_set1_epi8,
    };

    /// Start positions decided per loop step (four 16-byte vectors).
    const STEP: usize = 64;

    /// Bytes a 16-position vector step reads: the two after the last start.
    const READ: usize = 18;

    /// The start positions `0..16` of `w` where `"\n--"` begins, as a
    /// 16-bit mask (bit `j` for position `j`).
    #[target_feature(enable = "sse2")]
    #[inline]
    #[allow(unsafe_code)]
    fn match16(w: &[u8; READ]) -> __m128i {
        // SAFETY: the three loads read bytes 0..16, 1..17 and 2..18 of an
        // 18-byte array we borrow, so they stay in bounds; `loadu` has no
        // alignment requirement. SSE2 is enabled in this function.
        let (a, b, c) = unsafe {
            let p = w.as_ptr();
            (
                _mm_loadu_si128(p.cast()),
                _mm_loadu_si128(p.add(1).cast()),
                _mm_loadu_si128(p.add(2).cast()),
            )
        };
        let dash = _mm_set1_epi8(b'-' as i8);
        let lf = _mm_cmpeq_epi8(a, _mm_set1_epi8(b'\n' as i8));
        _mm_and_si128(
            lf,
            _mm_and_si128(_mm_cmpeq_epi8(b, dash), _mm_cmpeq_epi8(c, dash)),
        )
    }

    /// The bit mask of a [`match16`] result.
    #[target_feature(enable = "sse2")]
    #[inline]
    fn bits(m: __m128i) -> u64 {
        u64::from(_mm_movemask_epi8(m) as u16)
    }

    /// The 16-position step at `i`, if `hay` holds the 18 bytes it reads.
    #[target_feature(enable = "sse2")]
    #[inline]
    fn step16(hay: &[u8], i: usize) -> Option<u64> {
        let w = hay.get(i..i + READ)?.try_into().ok()?;
        Some(bits(match16(w)))
    }

    /// [`super::find_dash_line`] with SSE2.
    #[allow(unsafe_code)]
    pub(super) fn find(hay: &[u8]) -> Option<usize> {
        // SAFETY: SSE2 is part of the x86-64 base ABI, so every x86-64 CPU
        // runs SSE2 instructions.
        unsafe { find_sse2(hay) }
    }

    #[target_feature(enable = "sse2")]
    fn find_sse2(hay: &[u8]) -> Option<usize> {
        if hay.len() < READ {
            return find_short(hay);
        }
        let mut i = 0;
        while let Some(w) = hay.get(i..i + STEP + 2) {
            let (Some(w0), Some(w1), Some(w2), Some(w3)) = (
                w.first_chunk::<READ>(),
                w[16..].first_chunk::<READ>(),
                w[32..].first_chunk::<READ>(),
                w[48..].first_chunk::<READ>(),
            ) else {
                break;
            };
            let (m0, m1, m2, m3) = (match16(w0), match16(w1), match16(w2), match16(w3));
            let any = _mm_or_si128(_mm_or_si128(m0, m1), _mm_or_si128(m2, m3));
            // One mask and branch per 64 positions: the four masks are only
            // combined when something matched.
            if bits(any) != 0 {
                let all = bits(m0) | bits(m1) << 16 | bits(m2) << 32 | bits(m3) << 48;
                return Some(i + all.trailing_zeros() as usize);
            }
            i += STEP;
        }
        while let Some(m) = step16(hay, i) {
            if m != 0 {
                return Some(i + m.trailing_zeros() as usize);
            }
            i += 16;
        }
        // Fewer than 16 start positions are left: one last step ending at
        // the end of `hay` covers them (it rechecks some, which held none).
        let last = hay.len() - READ;
        let m = step16(hay, last)?;
        (m != 0).then(|| last + m.trailing_zeros() as usize)
    }
}

/// Start positions an exact step of the wide forms decides.
#[cfg(target_arch = "x86_64")]
const STEP: usize = 64;

/// Bytes an exact step reads: the two after the last start.
#[cfg(target_arch = "x86_64")]
const READ: usize = STEP + 2;

/// Start positions the dash pre-check of the wide forms clears at once.
#[cfg(target_arch = "x86_64")]
const WIDE: usize = 2 * STEP;

/// The haystack length from which the pre-check loop aligns its loads.
#[cfg(target_arch = "x86_64")]
const ALIGN_FROM: usize = 1024;

/// How far ahead of the search [`prefetch_ahead`] asks for the cache
/// lines: a page, since the hardware prefetcher stops at a page edge and
/// starts again on the next page only after a few misses there.
#[cfg(target_arch = "x86_64")]
const PREFETCH: usize = 4096;

/// Asks for the four cache lines of the two pre-checks at `i + PREFETCH`
/// of `hay` (structure/qp-newsletters 1.30-1.33x against 1.20-1.25x
/// without, structure/base64-1mib a little better; SSE, so every x86-64
/// CPU has it).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse")]
#[inline]
fn prefetch_ahead(hay: &[u8], i: usize) {
    use core::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
    // A prefetch is a hint that never faults, so the address may lie past
    // the end of `hay` (`wrapping_add` computes it without claiming it is
    // in bounds); nothing is read through it.
    let at = hay.as_ptr().wrapping_add(i + PREFETCH);
    for line in [0, 64, 128, 192] {
        _mm_prefetch::<_MM_HINT_T0>(at.wrapping_add(line).cast());
    }
}

// A `-` is rare in the bodies searched (base64 has none; QP text few), so
// the dash pre-check of `wide` clears most blocks, and only a block with a
// dash pays the three shifted loads of the exact check. Doing the exact
// check on every block measured slower (bound by loads that split cache
// lines), and so did building LF and dash bit masks per block and shifting
// those (bound by the mask moves and shifts), and so did a first software
// prefetch (better on QP, worse on base64); the one a page ahead in
// `prefetch_ahead` measured faster on both. Four pre-checks per step
// measured slower on QP and the same on base64.

/// The search of the wide forms (AVX2, AVX-512), written once over each
/// form's own vector code: a macro, so that every function it makes is
/// compiled under the form's target feature `$feature` and inlines that
/// code. The module it expands in provides `exact` (the start mask of a
/// `READ`-byte window), `dashes` (the pre-check of a `WIDE + 2`-byte
/// window), `any` (whether a pre-check saw a dash) and `any2` (whether
/// either of two did, in one test); `$lane` is its load width, to which the
/// pre-check loads are aligned on a long haystack.
#[cfg(target_arch = "x86_64")]
macro_rules! wide_search {
    ($feature:tt, $find:ident, $lane:expr) => {
        /// The exact check of the starts `0..WIDE` of `w`.
        #[target_feature(enable = $feature)]
        #[inline]
        fn exact_wide(w: &[u8; WIDE + 2]) -> Option<usize> {
            for k in [0, STEP] {
                let m = exact(w[k..].first_chunk::<READ>()?);
                if m != 0 {
                    return Some(k + m.trailing_zeros() as usize);
                }
            }
            None
        }

        /// The first start in `0..WIDE` of `w` where `"\n--"` begins.
        ///
        /// A match starting there has its second dash in `2..WIDE + 2`:
        /// when no byte there is a dash (one compare per byte), there is
        /// no match.
        #[target_feature(enable = $feature)]
        #[inline]
        fn wide(w: &[u8; WIDE + 2]) -> Option<usize> {
            if !any(dashes(w)) {
                return None;
            }
            exact_wide(w)
        }

        /// [`super::find_dash_line`] for `hay` of at least `STEP` bytes;
        /// with `PREFETCH`, asking for the lines a page ahead as it goes
        /// ([`super::prefetch_ahead`]).
        #[target_feature(enable = $feature)]
        fn $find<const PREFETCH: bool>(hay: &[u8]) -> Option<usize> {
            let wide_at = |i: usize| hay.get(i..i + WIDE + 2)?.first_chunk::<{ WIDE + 2 }>();
            let mut i = 0;
            // On a long haystack, after one step from the start, the loop
            // goes on where its loads (at `i + 2`, one load width apart) are
            // aligned, so none splits a cache line (a few starts are
            // checked twice).
            if hay.len() >= ALIGN_FROM
                && let Some(w) = wide_at(0)
            {
                if let Some(p) = wide(w) {
                    return Some(p);
                }
                i = WIDE - (hay.as_ptr() as usize + WIDE + 2) % $lane;
            }
            // Two pre-checks per step, one branch for both (a single
            // pre-check of 256 bytes measured slower on QP, whose HTML
            // holds dashes).
            while let Some(w2) = hay.get(i..i + 2 * WIDE + 2) {
                let (Some(a), Some(b)) = (
                    w2.first_chunk::<{ WIDE + 2 }>(),
                    w2[WIDE..].first_chunk::<{ WIDE + 2 }>(),
                ) else {
                    break;
                };
                if PREFETCH {
                    super::prefetch_ahead(hay, i);
                }
                let (da, db) = (dashes(a), dashes(b));
                if any2(da, db) {
                    if any(da)
                        && let Some(p) = exact_wide(a)
                    {
                        return Some(i + p);
                    }
                    if any(db)
                        && let Some(p) = exact_wide(b)
                    {
                        return Some(i + WIDE + p);
                    }
                }
                i += 2 * WIDE;
            }
            while let Some(w) = wide_at(i) {
                if let Some(p) = wide(w) {
                    return Some(i + p);
                }
                i += WIDE;
            }
            while let Some(block) = hay.get(i..).and_then(|w| w.first_chunk::<READ>()) {
                let m = exact(block);
                if m != 0 {
                    return Some(i + m.trailing_zeros() as usize);
                }
                i += STEP;
            }
            // Every start before `i` is ruled out; fewer than a block is
            // left.
            super::sse2::find(hay.get(i..)?).map(|p| i + p)
        }
    };
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    pub(super) use super::STEP;
    use super::{ALIGN_FROM, READ, WIDE};
    use core::arch::x86_64::{
        __m256i, _mm256_and_si256, _mm256_cmpeq_epi8, _mm256_loadu_si256, _mm256_movemask_epi8,
        _mm256_or_si256, _mm256_set1_epi8,
    };

    /// [`super::find_dash_line`] with AVX2, for `hay` of at least `STEP`
    /// bytes. Call only when the CPU has AVX2.
    #[allow(unsafe_code)]
    pub(super) fn find(hay: &[u8]) -> Option<usize> {
        // SAFETY: the only callers check `is_x86_feature_detected!("avx2")`
        // first, so the CPU runs AVX2 instructions.
        unsafe { find_avx2::<true>(hay) }
    }

    /// [`find`] without the software prefetch (for AMD's CPUs).
    #[allow(unsafe_code)]
    pub(super) fn find_unaided(hay: &[u8]) -> Option<usize> {
        // SAFETY: as for `find`: the callers check for AVX2 first.
        unsafe { find_avx2::<false>(hay) }
    }

    wide_search!("avx2", find_avx2, 32);

    /// The 32 bytes at `k` of `w`, for `k + 32 <= N`.
    #[target_feature(enable = "avx2")]
    #[inline]
    #[allow(unsafe_code)]
    fn load<const N: usize>(w: &[u8; N], k: usize) -> __m256i {
        assert!(k + 32 <= N);
        // SAFETY: the assert keeps the 32 bytes read inside the N-byte
        // array we borrow (it folds away: every caller passes constants);
        // `loadu` has no alignment requirement. AVX2 is enabled here.
        unsafe { _mm256_loadu_si256(w.as_ptr().add(k).cast()) }
    }

    /// The start positions `0..64` of `w` where `"\n--"` begins, as a
    /// bit mask (bit `j` for position `j`).
    #[target_feature(enable = "avx2")]
    #[inline]
    fn exact(w: &[u8; READ]) -> u64 {
        let lf = _mm256_set1_epi8(b'\n' as i8);
        let dash = _mm256_set1_epi8(b'-' as i8);
        let half = |k| {
            let a = _mm256_cmpeq_epi8(load(w, k), lf);
            let b = _mm256_cmpeq_epi8(load(w, k + 1), dash);
            let c = _mm256_cmpeq_epi8(load(w, k + 2), dash);
            u64::from(_mm256_movemask_epi8(_mm256_and_si256(a, _mm256_and_si256(b, c))) as u32)
        };
        half(0) | half(32) << 32
    }

    /// The dashes at `2..WIDE + 2` of `w`, ORed into one vector.
    #[target_feature(enable = "avx2")]
    #[inline]
    fn dashes(w: &[u8; WIDE + 2]) -> __m256i {
        let dash = _mm256_set1_epi8(b'-' as i8);
        _mm256_or_si256(
            _mm256_or_si256(
                _mm256_cmpeq_epi8(load(w, 2), dash),
                _mm256_cmpeq_epi8(load(w, 34), dash),
            ),
            _mm256_or_si256(
                _mm256_cmpeq_epi8(load(w, 66), dash),
                _mm256_cmpeq_epi8(load(w, 98), dash),
            ),
        )
    }

    /// Whether the pre-check `d` saw a dash.
    #[target_feature(enable = "avx2")]
    #[inline]
    fn any(d: __m256i) -> bool {
        _mm256_movemask_epi8(d) != 0
    }

    /// Whether either pre-check saw a dash: one mask for both.
    #[target_feature(enable = "avx2")]
    #[inline]
    fn any2(a: __m256i, b: __m256i) -> bool {
        any(_mm256_or_si256(a, b))
    }
}

/// The AVX-512 form: the AVX2 one's steps with 64-byte vectors, whose
/// compares give bit masks directly (no `movemask`), so a 128-byte
/// pre-check is two loads and two compares.
#[cfg(target_arch = "x86_64")]
mod avx512 {
    pub(super) use super::STEP;
    use super::{ALIGN_FROM, READ, WIDE};
    use core::arch::x86_64::{
        __m512i, _mm512_cmpeq_epi8_mask, _mm512_loadu_si512, _mm512_set1_epi8,
    };

    /// [`super::find_dash_line`] with AVX-512 (AVX512BW), for `hay` of at
    /// least `STEP` bytes. Call only when the CPU has AVX512BW.
    #[allow(unsafe_code)]
    pub(super) fn find(hay: &[u8]) -> Option<usize> {
        // SAFETY: the only callers check `crate::has_avx512()` (the
        // dispatch) or `is_x86_feature_detected!("avx512bw")` (the tests)
        // first, so the CPU runs AVX512F and AVX512BW instructions.
        unsafe { find_avx512::<true>(hay) }
    }

    wide_search!("avx512bw", find_avx512, 64);

    /// The 64 bytes at `k` of `w`, for `k + 64 <= N`.
    #[target_feature(enable = "avx512bw")]
    #[inline]
    #[allow(unsafe_code)]
    fn load<const N: usize>(w: &[u8; N], k: usize) -> __m512i {
        assert!(k + 64 <= N);
        // SAFETY: the assert keeps the 64 bytes read inside the N-byte
        // array we borrow (it folds away: every caller passes constants);
        // `loadu` has no alignment requirement. AVX512F is enabled here.
        unsafe { _mm512_loadu_si512(w.as_ptr().add(k).cast()) }
    }

    /// Bit `j` set where byte `j` of `v` is `b`.
    #[target_feature(enable = "avx512bw")]
    #[inline]
    fn eq(v: __m512i, b: u8) -> u64 {
        _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8(b as i8))
    }

    /// The start positions `0..64` of `w` where `"\n--"` begins, as a bit
    /// mask (bit `j` for position `j`).
    #[target_feature(enable = "avx512bw")]
    #[inline]
    fn exact(w: &[u8; READ]) -> u64 {
        eq(load(w, 0), b'\n') & eq(load(w, 1), b'-') & eq(load(w, 2), b'-')
    }

    /// The dashes at `2..WIDE + 2` of `w`, bit `j` for the bytes `2 + j`
    /// and `66 + j` together.
    #[target_feature(enable = "avx512bw")]
    #[inline]
    fn dashes(w: &[u8; WIDE + 2]) -> u64 {
        eq(load(w, 2), b'-') | eq(load(w, 66), b'-')
    }

    /// Whether the pre-check `d` saw a dash.
    #[target_feature(enable = "avx512bw")]
    #[inline]
    fn any(d: u64) -> bool {
        d != 0
    }

    /// Whether either pre-check saw a dash.
    #[target_feature(enable = "avx512bw")]
    #[inline]
    fn any2(a: u64, b: u64) -> bool {
        a | b != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A search form, named for the failure message.
    type Form = (&'static str, fn(&[u8]) -> Option<usize>);

    /// Every form this target has.
    fn forms() -> Vec<Form> {
        let mut forms: Vec<Form> = vec![
            ("dispatch", find_dash_line),
            ("portable", find_portable),
            ("short", find_short),
        ];
        #[cfg(target_arch = "x86_64")]
        {
            forms.push(("sse2", sse2::find));
            if std::is_x86_feature_detected!("avx2") {
                // The AVX2 form takes only haystacks of a block or more;
                // shorter ones go to SSE2 as the dispatch does.
                forms.push(("avx2", |hay| {
                    if hay.len() >= avx2::STEP {
                        avx2::find(hay)
                    } else {
                        sse2::find(hay)
                    }
                }));
                forms.push(("avx2 unaided", |hay| {
                    if hay.len() >= avx2::STEP {
                        avx2::find_unaided(hay)
                    } else {
                        sse2::find(hay)
                    }
                }));
            } else {
                eprintln!("no AVX2 on this CPU: its form is not tested");
            }
            if std::is_x86_feature_detected!("avx512bw") {
                forms.push(("avx512", |hay| {
                    if hay.len() >= avx512::STEP {
                        avx512::find(hay)
                    } else {
                        sse2::find(hay)
                    }
                }));
            } else {
                eprintln!("no AVX512BW on this CPU: its form is not tested");
            }
        }
        forms
    }

    fn check(hay: &[u8]) {
        let want = memchr::memmem::find(hay, NEEDLE);
        for (name, f) in forms() {
            assert_eq!(f(hay), want, "{name} on {:?}", String::from_utf8_lossy(hay));
        }
    }

    /// `len` bytes of near misses ("\n-x", "-\n-", "\n\n-") and no match.
    fn near_misses(len: usize) -> Vec<u8> {
        b"\n-x-\n\n-ab-\n-"
            .iter()
            .copied()
            .cycle()
            .take(len)
            .collect()
    }

    /// One match at every position of every length up to 200, in filler
    /// full of near misses ("\n-x", "-\n-", "\n\n-"), so every block edge
    /// (16, 32, 64 bytes) and every tail length is crossed.
    #[test]
    fn finds_each_position_of_each_length() {
        let filler = near_misses(200);
        assert_eq!(memchr::memmem::find(&filler, NEEDLE), None);
        for len in 0..200 {
            check(&filler[..len]);
            for at in 0..len.saturating_sub(2) {
                let mut hay = filler[..len].to_vec();
                hay[at..at + 3].copy_from_slice(NEEDLE);
                check(&hay);
                // A second match later must not win over the first.
                if at + 6 <= len {
                    hay[len - 3..].copy_from_slice(NEEDLE);
                    check(&hay);
                }
            }
        }
    }

    /// Haystacks long enough for the AVX2 loop to align its loads, at
    /// every start alignment, with the match early (before, at and after
    /// the aligned restart) or near the end.
    #[test]
    fn long_haystacks_at_every_alignment() {
        let filler = near_misses(1400);
        for from in 0..40 {
            let end = filler.len() - from % 7;
            let at_list = (0..420).chain((end - 140..end - 2).step_by(3));
            for at in at_list {
                let mut hay = filler.clone();
                hay[at..at + 3].copy_from_slice(NEEDLE);
                if at >= from {
                    check(&hay[from..end]);
                }
            }
        }
    }

    #[test]
    fn needle_cut_at_the_end_is_no_match() {
        for len in 0..200 {
            let mut hay = vec![b'x'; len];
            if len >= 2 {
                hay[len - 2] = b'\n';
                hay[len - 1] = b'-';
            }
            check(&hay);
        }
    }

    proptest! {
        /// Every form finds what `memmem` finds, on bytes heavy in '\n' and
        /// '-', at every start alignment within a 64-byte block.
        #[test]
        fn agrees_with_memmem(hay in proptest::collection::vec(prop_oneof![
            4 => Just(b'-'), 2 => Just(b'\n'), 1 => Just(b'\r'), 1 => Just(b'a'),
            1 => any::<u8>()], 0..600), sparse in 0usize..4) {
            // Thin out the line ends at higher rates, so matches come late
            // or not at all too.
            let hay: Vec<u8> = hay.iter().enumerate()
                .map(|(k, &b)| if b == b'\n' && k % (sparse * 30 + 1) != 0 { b'=' } else { b })
                .collect();
            let want = |h: &[u8]| memchr::memmem::find(h, NEEDLE);
            for from in 0..hay.len().min(65) {
                let h = &hay[from..];
                for (name, f) in forms() {
                    prop_assert_eq!(f(h), want(h), "{} from {}", name, from);
                }
            }
        }
    }
}

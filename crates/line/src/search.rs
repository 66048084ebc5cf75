//! Searching short lines.

/// The index of the first LF in `hay`, for a search that usually ends
/// within a short line (a header field, a command). The first 64 bytes are
/// one window: its LF mask comes from four SSE2 compares (the portable
/// form elsewhere) and the first bit set is the answer, with no branch that
/// depends on where the line ends; beyond the window `memchr` goes on.
/// Input shorter than a window is searched eight bytes at a time in a
/// `u64` (SWAR). (The eight-at-a-time loop over the whole window, whose
/// exit branch varied with every line's length, made the MIME structure
/// parse of the corpus 6% slower.)
///
/// ```
/// assert_eq!(mailwire_line::find_lf(b"Subject: hi\r\nFrom: x\r\n"), Some(12));
/// assert_eq!(mailwire_line::find_lf(b"no line end"), None);
/// ```
#[inline(always)]
pub fn find_lf(hay: &[u8]) -> Option<usize> {
    // A 64-byte window at once: a header line fits in one, so the search
    // takes no data-dependent branch within it.
    if let Some(w) = hay.get(..64)
        && let Ok(w) = <&[u8; 64]>::try_from(w)
    {
        return lf_at(hay, lf_mask(w));
    }
    // Shorter than a window: eight bytes at a time.
    find_in_words(hay, b"\n")
}

/// The first LF of `hay` given the LF mask `m` of its first 64 bytes: the
/// mask's first bit, else `memchr` beyond the window.
#[inline(always)]
fn lf_at(hay: &[u8], m: u64) -> Option<usize> {
    if m != 0 {
        return Some(m.trailing_zeros() as usize);
    }
    memchr::memchr(b'\n', hay.get(64..)?).map(|p| 64 + p)
}

/// One header line at the start of `hay`: where its LF is (as
/// [`find_lf`]) and, where the same pass can tell, where its field name
/// ends (as [`field_name_len`] with the same `eight_bit`: the first control
/// character, space, `:` or DEL, or byte from 0x80 up unless `eight_bit`).
///
/// With AVX-512 (AVX512BW on a CPU from Ice Lake on, detected at run
/// time) the first 64 bytes are one vector: a load and a few compares give
/// the LF mask and the name's stop mask together, so a header parser
/// learns the line and its name in one pass (MIME structure of the corpus
/// 5-8% faster than the SSE2 line search and the name scan after it).
/// Elsewhere, and when the window does not hold the name's end (a name of
/// 64 bytes or more, input shorter than a window), the name's end is `None`
/// and the caller scans the name: the same stop mask from SSE2 compares
/// cost as much as the scan it saved.
///
/// ```
/// let line = b"Subject: a subject long enough to fill the window of 64 bytes\r\nTo: x\r\n";
/// let (lf, name) = mailwire_line::find_header_line(line, false);
/// assert_eq!(lf, Some(62));
/// assert!(name == Some(7) || name.is_none());
/// assert_eq!(mailwire_line::find_header_line(b"To: x\r\n", false), (Some(6), None));
/// ```
#[inline(always)]
pub fn find_header_line(hay: &[u8], eight_bit: bool) -> (Option<usize>, Option<usize>) {
    if let Some(w) = hay.get(..64)
        && let Ok(w) = <&[u8; 64]>::try_from(w)
    {
        return match avx512_window(w, eight_bit) {
            Some(w) => w.first_line(hay),
            None => (lf_at(hay, lf_mask(w)), None),
        };
    }
    (find_in_words(hay, b"\n"), None)
}

/// The lines of the first [`HeaderWindow::LEN`] bytes of a header block,
/// found at once: a header parser that asks it for each line (and for the
/// end of a folded field) where it would call [`find_header_line`] and
/// [`find_field_end`] reads all the lines of a short block (a MIME part's
/// `Content-Type: text/plain;` and its folded `charset` parameter, then
/// the blank line) from one 64-byte vector instead of a search per line,
/// each one a call (the vector code is compiled apart, for the CPUs that
/// have it). A window of 64 bytes, not more: where the lines are longer (a
/// message's own header), a wider one was made for each line all the same
/// and cost more than it saved (the MIME structure of the corpus 1-2%
/// slower with 128 bytes, the three-level forwards 3% faster with 64).
///
/// Made only where the AVX-512 searches run (see [`find_header_line`]), on
/// a CPU that is not AMD's (see `is_amd`), and where `hay` holds a whole
/// window; elsewhere [`HeaderWindow::new`] gives `None` and the parser
/// searches line by line. Each answer is the one the
/// line-by-line search gives, or `None` when the window does not hold it.
///
/// ```
/// let block = b"Content-Type: text/plain;\r\n\tcharset=us-ascii\r\n\r\n";
/// let mut hay = block.to_vec();
/// hay.resize(64, b'x');
/// if let Some(w) = mailwire_line::HeaderWindow::new(&hay, true) {
///     assert_eq!(w.line(0), Some((26, 12))); // the LF, the name's end
///     assert_eq!(w.field_end(27), Some(18)); // the fold ends at its LF
///     assert_eq!(w.line(46), Some((1, 0))); // the blank line
/// }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderWindow {
    /// Bit `i` set where byte `i` is an LF.
    lf: u64,
    /// Bit `i` set where byte `i` cannot be in a field name (see
    /// [`field_name_len`]).
    stop: u64,
    /// Bit `i` set where byte `i` is a space or a tab.
    blank: u64,
}

impl HeaderWindow {
    /// The bytes a window covers.
    pub const LEN: usize = 64;

    /// The window over the first [`HeaderWindow::LEN`] bytes of `hay`,
    /// names read as [`field_name_len`] reads them with `eight_bit`;
    /// `None` when `hay` is shorter or the CPU lacks the AVX-512 forms.
    #[inline(always)]
    pub fn new(hay: &[u8], eight_bit: bool) -> Option<HeaderWindow> {
        let w = hay.first_chunk::<{ Self::LEN }>()?;
        avx512_window(w, eight_bit)
    }

    /// The line that starts `off` bytes into the window: where its LF is
    /// and where its field name ends, both from `off` (what
    /// [`find_header_line`] gives for the bytes from `off`, the name's end
    /// always known here), when the window holds its LF.
    #[inline(always)]
    pub fn line(&self, off: usize) -> Option<(usize, usize)> {
        let lf = self.lf.checked_shr(u32::try_from(off).ok()?)?;
        if lf == 0 {
            return None;
        }
        // The LF is a stop too, so the name ends at it at the latest.
        let stop = self.stop >> off;
        Some((lf.trailing_zeros() as usize, stop.trailing_zeros() as usize))
    }

    /// The line at the start of `hay`, over whose first bytes the window
    /// was made: what [`find_header_line`] gives (the LF beyond the window
    /// found by `memchr`, the name's end when the window holds it).
    #[inline(always)]
    pub fn first_line(&self, hay: &[u8]) -> (Option<usize>, Option<usize>) {
        let name = (self.stop != 0).then(|| self.stop.trailing_zeros() as usize);
        (lf_at(hay, self.lf), name)
    }

    /// The end of the folded field whose lines go on at `off` (what
    /// [`find_field_end`] gives for the bytes from `off`), when the window
    /// holds it and the byte after it.
    #[inline(always)]
    pub fn field_end(&self, off: usize) -> Option<usize> {
        // An LF whose next byte is in the window (at most `LEN - 2 - off`
        // from `off`) and is no space or tab.
        let room = (Self::LEN - 1).checked_sub(off)?;
        let ends = (self.lf & !(self.blank >> 1)) >> off;
        let ends = ends & ((1u64 << room) - 1);
        (ends != 0).then(|| ends.trailing_zeros() as usize)
    }
}

/// [`HeaderWindow::new`] for a whole window, when the AVX-512 forms run
/// and the CPU is not AMD's: on Zen 4 the line-by-line search split the
/// corpus's headers in 25.3 µs where the window took 28.6.
#[inline(always)]
fn avx512_window(w: &[u8; HeaderWindow::LEN], eight_bit: bool) -> Option<HeaderWindow> {
    #[cfg(target_arch = "x86_64")]
    if crate::is_amd() {
        return None;
    }
    window_form(w, eight_bit)
}

/// The AVX-512 window of `w` wherever the CPU has the instructions,
/// whether or not [`avx512_window`] hands it out (the tests check it on
/// every such CPU).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
#[allow(unsafe_code)]
fn window_form(w: &[u8; HeaderWindow::LEN], eight_bit: bool) -> Option<HeaderWindow> {
    if !crate::has_avx512() {
        return None;
    }
    // SAFETY: AVX512BW (which implies AVX512F) was detected just above.
    Some(unsafe { avx512::window(w, eight_bit) })
}

#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn window_form(_: &[u8; HeaderWindow::LEN], _: bool) -> Option<HeaderWindow> {
    None
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use core::arch::x86_64::{
        _mm512_cmpeq_epi8_mask, _mm512_cmple_epu8_mask, _mm512_loadu_si512, _mm512_movepi8_mask,
        _mm512_set1_epi8,
    };

    /// [`super::HeaderWindow`] from one 64-byte vector.
    #[target_feature(enable = "avx512bw")]
    #[allow(unsafe_code)]
    pub(super) fn window(
        w: &[u8; super::HeaderWindow::LEN],
        eight_bit: bool,
    ) -> super::HeaderWindow {
        // SAFETY: reads the 64 bytes of the array we borrow; `loadu` has
        // no alignment requirement. AVX512BW is enabled in this function.
        let v = unsafe { _mm512_loadu_si512(w.as_ptr().cast()) };
        let is = |b: u8| _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8(b as i8));
        let low = _mm512_cmple_epu8_mask(v, _mm512_set1_epi8(b' ' as i8));
        let high = if eight_bit { 0 } else { _mm512_movepi8_mask(v) };
        super::HeaderWindow {
            lf: is(b'\n'),
            stop: low | is(b':') | is(0x7f) | high,
            blank: is(b' ') | is(b'\t'),
        }
    }

    /// [`super::fold_end`] without line checks: the plain search of
    /// [`super::find_field_end`], its own function so that it has none of
    /// the checks' work.
    #[target_feature(enable = "avx512bw")]
    pub(super) fn fold_end_plain(hay: &[u8]) -> Option<usize> {
        super::fold_end(hay, None, |w| masks(w))
    }

    /// [`super::fold_end`] with line checks.
    #[target_feature(enable = "avx512bw")]
    pub(super) fn fold_end_checked(hay: &[u8], check: super::LineCheck) -> Option<usize> {
        super::fold_end(hay, Some(check), |w| masks(w))
    }

    /// [`super::FoldMasks`] with one 64-byte vector for the LFs and CRs of
    /// a window and one, a byte further on, for the spaces and tabs.
    #[target_feature(enable = "avx512bw")]
    #[inline]
    #[allow(unsafe_code)]
    fn masks(w: &[u8; 65]) -> super::FoldMasks {
        // SAFETY: both loads read 64 bytes inside the 65-byte array we
        // borrow (from 0 and from 1); `loadu` has no alignment requirement.
        // AVX512BW is enabled in this function.
        let (v, next) = unsafe {
            (
                _mm512_loadu_si512(w.as_ptr().cast()),
                _mm512_loadu_si512(w.as_ptr().add(1).cast()),
            )
        };
        let is = |v, b: u8| _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8(b as i8));
        (is(v, b'\n'), is(next, b' ') | is(next, b'\t'), is(v, b'\r'))
    }
}

/// Byte by byte, the window [`HeaderWindow::new`] makes of `w`.
#[cfg(test)]
fn portable_window(w: &[u8; 64], eight_bit: bool) -> HeaderWindow {
    let mask = |f: &dyn Fn(u8) -> bool| {
        w.iter()
            .enumerate()
            .fold(0, |m, (i, &b)| m | (u64::from(f(b)) << i))
    };
    HeaderWindow {
        lf: mask(&|b| b == b'\n'),
        stop: mask(&|b| !in_field_name(b, eight_bit)),
        blank: mask(&|b| b == b' ' || b == b'\t'),
    }
}

/// Bit `i` set where `w[i]` is an LF.
#[inline(always)]
fn lf_mask(w: &[u8; 64]) -> u64 {
    byte_mask(w, b'\n')
}

/// Bit `i` set where `w[i]` is `b`.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[inline(always)]
#[allow(unsafe_code)]
fn byte_mask(w: &[u8; 64], b: u8) -> u64 {
    use core::arch::x86_64::{_mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8};
    let mut m = 0u64;
    // SAFETY: the cfg above guarantees SSE2 is enabled for this build, so
    // calling these SSE2 intrinsics is sound. Each `_mm_loadu_si128` reads
    // 16 bytes at offset 16*k (k < 4) of a 64-byte array we borrow, so it
    // stays in bounds; `loadu` has no alignment requirement.
    unsafe {
        let b = _mm_set1_epi8(b as i8);
        for k in 0..4 {
            let v = _mm_loadu_si128(w.as_ptr().add(16 * k).cast());
            m |= u64::from(_mm_movemask_epi8(_mm_cmpeq_epi8(v, b)) as u16) << (16 * k);
        }
    }
    m
}

/// Bit `i` set where `w[i]` is `b` (the portable form).
#[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
#[inline(always)]
fn byte_mask(w: &[u8; 64], b: u8) -> u64 {
    w.iter()
        .enumerate()
        .fold(0, |m, (i, &x)| m | (u64::from(x == b) << i))
}

/// [`lf_mask`] byte by byte: what the tests check the SSE2 form against.
#[cfg(test)]
fn portable_lf_mask(w: &[u8; 64]) -> u64 {
    w.iter()
        .enumerate()
        .fold(0, |m, (i, &b)| m | (u64::from(b == b'\n') << i))
}

/// The length of the field name at the start of `line`: the run of bytes a
/// name may hold, printable US-ASCII but `:` (RFC 5322 §3.6.8 `ftext`),
/// and with `eight_bit` also the bytes from 0x80 up, which lenient readers
/// take into a name. Names are short, but every header line has one: the
/// scan goes eight bytes at a time in a `u64` (SWAR).
///
/// ```
/// assert_eq!(mailwire_line::field_name_len(b"Subject: hi", false), 7);
/// assert_eq!(mailwire_line::field_name_len(b"X-\xc3\xa9: v", false), 2);
/// assert_eq!(mailwire_line::field_name_len(b"X-\xc3\xa9: v", true), 4);
/// ```
#[inline(always)]
pub fn field_name_len(line: &[u8], eight_bit: bool) -> usize {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = LO * 0x80;
    // Flags the bytes equal to `b` (`x ^ b*LO` is zero there).
    let eq = |x: u64, b: u8| {
        let y = x ^ (LO * u64::from(b));
        y.wrapping_sub(LO) & !y
    };
    let high = if eight_bit { 0 } else { u64::MAX };
    let mut i = 0;
    while let Some(w) = line.get(i..i + 8) {
        let x = u64::from_le_bytes(w.try_into().unwrap_or_default());
        // Controls and space (below 33), ':', DEL, and (the bare `x`, when
        // eight-bit bytes end a name) any byte with its top bit set. Each
        // term's lowest flagged byte is exact, as borrows only run upwards,
        // so the lowest of the union is the first byte that ends the name.
        let below = x.wrapping_sub(LO * 33) & !x;
        let found = (below | eq(x, b':') | eq(x, 0x7f) | (x & high)) & HI;
        if found != 0 {
            return i + (found.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    i + line[i..]
        .iter()
        .take_while(|&&b| in_field_name(b, eight_bit))
        .count()
}

/// The end of a folded header field: the index of the first LF in `hay`
/// whose next byte is there and is neither a space nor a tab (RFC 5322
/// §2.2.3: a line starting with white space continues the field before it).
/// `None` when no LF in `hay` is followed by such a byte, including an LF
/// that is the last byte (what follows it has not been seen).
///
/// For a header parser that has read a field's first line and sees that
/// the next starts with white space: the continuation lines are found in
/// one pass, 64 bytes a step (an LF mask and, from the bytes one further
/// on, a white-space mask: SSE2 compares, or one AVX-512 vector each where
/// [`find_header_line`] uses them), instead of a search per line. A field
/// folded over thousands of lines (a long recipient list) costs a few
/// nanoseconds per 64 bytes.
///
/// ```
/// let h = b"To: a,\r\n b,\r\n\tc\r\nSubject: x\r\n";
/// assert_eq!(mailwire_line::find_field_end(h), Some(16));
/// assert_eq!(mailwire_line::find_field_end(b"a\r\n b\r\n"), None);
/// ```
#[inline]
pub fn find_field_end(hay: &[u8]) -> Option<usize> {
    match avx512_fold_end(hay, None) {
        Some(found) => found,
        None => windows_fold_end(hay, None),
    }
}

/// [`find_field_end`] for a parser that reports defects per line: the end
/// only when no line up to it holds more than `max_line` bytes before its
/// line end (CRLF, or with `lone_lf` an LF alone too) and, unless
/// `lone_lf`, every line ends in CRLF. `None` also when one does not (or
/// when `hay` starts with an LF, whose CR could be before it), so that the
/// caller reads that fold a line at a time and finds which. The checks
/// come from the same masks (the CRs a byte before the LFs, the distance
/// from one LF to the next), so a clean fold costs about what
/// [`find_field_end`] does.
///
/// ```
/// let h = b" a,\r\n b\r\nSubject: x\r\n";
/// assert_eq!(mailwire_line::find_checked_field_end(h, 998, false), Some(8));
/// assert_eq!(mailwire_line::find_checked_field_end(h, 2, false), None);
/// let lf = b" a,\n b\r\nS: x\r\n";
/// assert_eq!(mailwire_line::find_checked_field_end(lf, 998, false), None);
/// assert_eq!(mailwire_line::find_checked_field_end(lf, 998, true), Some(7));
/// ```
#[inline]
pub fn find_checked_field_end(hay: &[u8], max_line: usize, lone_lf: bool) -> Option<usize> {
    let check = Some(LineCheck { max_line, lone_lf });
    match avx512_fold_end(hay, check) {
        Some(found) => found,
        None => windows_fold_end(hay, check),
    }
}

/// What [`find_checked_field_end`] asks of each line of a fold.
#[derive(Debug, Clone, Copy)]
struct LineCheck {
    max_line: usize,
    lone_lf: bool,
}

impl LineCheck {
    /// Whether the line from `start` whose LF is at `lf` passes, `cr`
    /// telling whether a CR comes before the LF.
    #[inline(always)]
    fn passes(self, start: usize, lf: usize, cr: bool) -> bool {
        (cr || self.lone_lf) && (lf - usize::from(cr)).saturating_sub(start) <= self.max_line
    }
}

/// The masks of the 64-byte window at the start of a 65-byte array: its
/// LFs, the spaces and tabs a byte further on (`w[1..]`), and its CRs.
type FoldMasks = (u64, u64, u64);

/// The search of [`find_field_end`] (`check` `None`) and of
/// [`find_checked_field_end`], given the window masks: 64 bytes a step,
/// the tail shorter than a window byte by byte.
#[inline(always)]
fn fold_end(
    hay: &[u8],
    check: Option<LineCheck>,
    masks: impl Fn(&[u8; 65]) -> FoldMasks,
) -> Option<usize> {
    let mut i = 0;
    // Where the current line starts; whether the byte before the window
    // is a CR.
    let mut line_start = 0;
    let mut cr_carry = 0;
    while let Some(w) = hay.get(i..i + 65) {
        let (lf, blank, cr) = masks(window65(w, 0));
        let ends = lf & !blank;
        if let Some(check) = check {
            // The LFs of the fold in this window: up to the first end.
            let upto = lf & ((ends & ends.wrapping_neg()) << 1).wrapping_sub(1);
            let cr_before = (cr << 1) | cr_carry;
            if upto & !cr_before != 0 && !check.lone_lf {
                return None;
            }
            let mut m = upto;
            while m != 0 {
                let bit = m.trailing_zeros();
                let at = i + bit as usize;
                if !check.passes(line_start, at, cr_before >> bit & 1 != 0) {
                    return None;
                }
                line_start = at + 1;
                m &= m - 1;
            }
            cr_carry = cr >> 63;
        }
        if ends != 0 {
            return Some(i + ends.trailing_zeros() as usize);
        }
        i += 64;
    }
    let mut j = i;
    while let (Some(&b), Some(&next)) = (hay.get(j), hay.get(j + 1)) {
        if b == b'\n' {
            if let Some(check) = check {
                let cr = j > 0 && hay[j - 1] == b'\r';
                if !check.passes(line_start, j, cr) {
                    return None;
                }
                line_start = j + 1;
            }
            if next != b' ' && next != b'\t' {
                return Some(j);
            }
        }
        j += 1;
    }
    None
}

/// [`fold_end`] with the SSE2 (or portable) masks.
#[inline]
fn windows_fold_end(hay: &[u8], check: Option<LineCheck>) -> Option<usize> {
    fold_end(hay, check, |w| {
        let head = window(w, 0);
        (
            lf_mask(head),
            blank_mask(window(w, 1)),
            byte_mask(head, b'\r'),
        )
    })
}

/// [`fold_end`] with AVX-512, when its forms run ([`crate::has_avx512`]):
/// the whole search in one function built for it, so the loop's loads and
/// compares are inlined.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
#[allow(unsafe_code)]
fn avx512_fold_end(hay: &[u8], check: Option<LineCheck>) -> Option<Option<usize>> {
    if !crate::has_avx512() {
        return None;
    }
    // SAFETY: AVX512BW (which implies AVX512F) was detected just above.
    Some(unsafe {
        match check {
            None => avx512::fold_end_plain(hay),
            Some(check) => avx512::fold_end_checked(hay, check),
        }
    })
}

#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn avx512_fold_end(_: &[u8], _: Option<LineCheck>) -> Option<Option<usize>> {
    None
}

/// The first index from `from` on that ends a field (see
/// [`find_field_end`]), a byte at a time: what the tests check the window
/// searches against.
#[cfg(test)]
fn portable_field_end(hay: &[u8], from: usize) -> Option<usize> {
    let rest = hay.get(from..)?;
    rest.windows(2)
        .position(|p| p[0] == b'\n' && p[1] != b' ' && p[1] != b'\t')
        .map(|p| from + p)
}

/// The 65 bytes of `b` from `at` (`b` holds them).
#[inline(always)]
fn window65(b: &[u8], at: usize) -> &[u8; 65] {
    let (w, _) = b[at..].split_first_chunk::<65>().unwrap_or((&[0; 65], &[]));
    w
}

/// The 64 bytes of `w` from `at` (0 or 1).
#[inline(always)]
fn window(w: &[u8; 65], at: usize) -> &[u8; 64] {
    let (head, _) = w[at..].split_first_chunk::<64>().unwrap_or((&[0; 64], &[]));
    head
}

/// Bit `i` set where `w[i]` is a space or a tab.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[inline(always)]
#[allow(unsafe_code)]
fn blank_mask(w: &[u8; 64]) -> u64 {
    use core::arch::x86_64::{
        _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
    };
    let mut m = 0u64;
    // SAFETY: as in `lf_mask`: SSE2 is enabled for this build, and each
    // load reads 16 bytes at offset 16*k (k < 4) of a 64-byte array.
    unsafe {
        let sp = _mm_set1_epi8(b' ' as i8);
        let tab = _mm_set1_epi8(b'\t' as i8);
        for k in 0..4 {
            let v = _mm_loadu_si128(w.as_ptr().add(16 * k).cast());
            let b = _mm_or_si128(_mm_cmpeq_epi8(v, sp), _mm_cmpeq_epi8(v, tab));
            m |= u64::from(_mm_movemask_epi8(b) as u16) << (16 * k);
        }
    }
    m
}

/// Bit `i` set where `w[i]` is a space or a tab (the portable form).
#[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
#[inline(always)]
fn blank_mask(w: &[u8; 64]) -> u64 {
    w.iter().enumerate().fold(0, |m, (i, &b)| {
        m | (u64::from(b == b' ' || b == b'\t') << i)
    })
}

/// Whether `b` may stand in a field name (see [`field_name_len`]).
#[inline]
fn in_field_name(b: u8, eight_bit: bool) -> bool {
    if eight_bit {
        b > b' ' && b != b':' && b != 0x7f
    } else {
        b.wrapping_sub(33) < 94 && b != b':'
    }
}

/// The index of the first byte of `hay` that is one of `set`, for a search
/// that usually ends within a few dozen bytes (a parameter value, an
/// encoded word's text), without a vector search's set-up (`memchr`,
/// `str`'s UTF-8 check), which costs more to start than such a value takes
/// to read. The first 64 bytes are read 16 at a time with SSE2 compares
/// (the last 16 overlapping the ones before) where the input has 16, else
/// eight at a time in a `u64` (SWAR); beyond them `memchr` goes on (for
/// sets of up to three bytes).
///
/// ```
/// assert_eq!(mailwire_line::find_any_short(b"utf-8?Q?a?=", [b'?', b' ']), Some(5));
/// assert_eq!(mailwire_line::find_any_short(b"plain", [b'?']), None);
/// ```
#[inline(always)]
pub fn find_any_short<const N: usize>(hay: &[u8], set: [u8; N]) -> Option<usize> {
    let short = hay.len().min(64);
    if let Some(found) = find_in_window(&hay[..short], &set) {
        return found;
    }
    let rest = &hay[64..];
    match set.as_slice() {
        [a] => memchr::memchr(*a, rest),
        [a, b] => memchr::memchr2(*a, *b, rest),
        [a, b, c] => memchr::memchr3(*a, *b, *c, rest),
        _ => rest.iter().position(|b| set.contains(b)),
    }
    .map(|p| 64 + p)
}

/// [`find_any_short`] within `w` (at most 64 bytes): `Some(answer)` when
/// the answer is known from `w` (found, or `w` is the whole input), `None`
/// when `w` is a full window without any byte of `set` (the search goes
/// on after it).
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[inline(always)]
#[allow(unsafe_code)]
fn find_in_window<const N: usize>(w: &[u8], set: &[u8; N]) -> Option<Option<usize>> {
    use core::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
        _mm_setzero_si128,
    };
    if w.len() < 16 {
        return Some(find_in_words(w, set));
    }
    // SAFETY: the cfg above guarantees SSE2 for this build, so these
    // intrinsics are sound to call; every `_mm_loadu_si128` reads the 16
    // bytes at an offset `at` with `at + 16 <= w.len()` (the loop's bound,
    // then `w.len() - 16` for the last, overlapping load), inside `w`;
    // `loadu` needs no alignment.
    unsafe {
        let needles: [__m128i; N] = core::array::from_fn(|k| _mm_set1_epi8(set[k] as i8));
        let hits = |at: usize| {
            let v = _mm_loadu_si128(w.as_ptr().add(at).cast());
            let m = needles.iter().fold(_mm_setzero_si128(), |m, &n| {
                _mm_or_si128(m, _mm_cmpeq_epi8(v, n))
            });
            _mm_movemask_epi8(m) as u32
        };
        let mut at = 0;
        while at + 16 <= w.len() {
            let m = hits(at);
            if m != 0 {
                return Some(Some(at + m.trailing_zeros() as usize));
            }
            at += 16;
        }
        if at < w.len() {
            // The last 16 bytes, overlapping the ones before (which held
            // none of `set`).
            let last = w.len() - 16;
            let m = hits(last);
            if m != 0 {
                return Some(Some(last + m.trailing_zeros() as usize));
            }
        }
    }
    (w.len() < 64).then_some(None)
}

/// [`find_in_window`] without SSE2: eight bytes at a time.
#[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
#[inline(always)]
fn find_in_window<const N: usize>(w: &[u8], set: &[u8; N]) -> Option<Option<usize>> {
    match find_in_words(w, set) {
        Some(p) => Some(Some(p)),
        None => (w.len() < 64).then_some(None),
    }
}

/// The first byte of `w` that is one of `set`, eight bytes at a time in a
/// `u64` (SWAR), the last word overlapping the ones before, a byte loop
/// under eight bytes.
#[inline(always)]
fn find_in_words<const N: usize>(w: &[u8], set: &[u8; N]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    if w.len() < 8 {
        return w.iter().position(|b| set.contains(b));
    }
    // The high bit of each byte of the word that is one of `set`. The
    // zero-byte test may set bits above the first zero byte falsely (a
    // borrow), never below it, so the lowest set bit is exact.
    let hits = |at: usize| {
        let x = u64::from_le_bytes(w[at..at + 8].try_into().unwrap_or([0; 8]));
        set.iter().fold(0, |m, &b| {
            let v = x ^ (ONES * u64::from(b));
            m | (v.wrapping_sub(ONES) & !v & HIGH)
        })
    };
    let mut at = 0;
    while at + 8 <= w.len() {
        let m = hits(at);
        if m != 0 {
            return Some(at + (m.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    if at < w.len() {
        let last = w.len() - 8;
        let m = hits(last);
        if m != 0 {
            return Some(last + (m.trailing_zeros() / 8) as usize);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// [`find_checked_field_end`] a line at a time: the model the tests
    /// check it against.
    fn checked_line_loop(hay: &[u8], max: usize, lone_lf: bool) -> Option<usize> {
        let mut start = 0;
        for (j, &b) in hay.iter().enumerate() {
            if b != b'\n' {
                continue;
            }
            let next = *hay.get(j + 1)?;
            let cr = j > 0 && hay[j - 1] == b'\r';
            let content = if cr { j - 1 } else { j };
            if !(cr || lone_lf) || content - start > max {
                return None;
            }
            if next != b' ' && next != b'\t' {
                return Some(j);
            }
            start = j + 1;
        }
        None
    }

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

    /// Header-like bytes for the line searches' properties: line ends,
    /// field-name stops and bytes one off them, of `len` bytes.
    fn header_bytes(len: std::ops::Range<usize>) -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(
            prop_oneof![
                Just(b'\n'),
                Just(b'\r'),
                Just(b':'),
                Just(b' '),
                Just(b'\t'),
                Just(0x7f),
                Just(0x80),
                Just(b'a'),
                Just(b'-'),
                any::<u8>()
            ],
            len,
        )
    }

    /// `hay` with all but every `every`-th name stop made a name byte:
    /// fewer stops at higher `every`, so long names and lines come too.
    fn thin_stops(hay: Vec<u8>, every: usize) -> Vec<u8> {
        hay.iter()
            .enumerate()
            .map(|(k, &b)| {
                if !in_field_name(b, true) && k % every != 0 {
                    b'x'
                } else {
                    b
                }
            })
            .collect()
    }

    proptest! {
        /// The short search finds the first byte of the set a byte loop
        /// finds, for sets of one to four bytes, every length around the
        /// 8-byte words and the 64-byte window, and bytes one off the set's
        /// (where a borrow between lanes would show).
        #[test]
        fn find_any_short_matches_byte_loop(
            hay in proptest::collection::vec(prop_oneof![
                Just(b'?'), Just(b'@'), Just(b'>'), Just(b'"'), Just(b'#'), Just(b'!'),
                Just(0u8), Just(0xff), Just(b'a'), any::<u8>()], 0..150),
            fill in 0..80usize,
        ) {
            let mut h = vec![b'a'; fill];
            h.extend_from_slice(&hay);
            let naive = |set: &[u8]| h.iter().position(|b| set.contains(b));
            prop_assert_eq!(find_any_short(&h, [b'?']), naive(b"?"));
            prop_assert_eq!(find_any_short(&h, [b'?', b'"']), naive(b"?\""));
            prop_assert_eq!(find_any_short(&h, [b'?', b'"', 0]), naive(b"?\"\0"));
            prop_assert_eq!(find_any_short(&h, [b'?', b'"', 0, 0xff]), naive(b"?\"\0\xff"));
            // The portable form, what other CPUs run.
            let w = &h[..h.len().min(64)];
            let naive_w = |set: &[u8]| w.iter().position(|b| set.contains(b));
            prop_assert_eq!(find_in_words(w, b"?"), naive_w(b"?"));
            prop_assert_eq!(find_in_words(w, &[b'?', b'"', 0, 0xff]), naive_w(b"?\"\0\xff"));
        }

        /// The word-at-a-time name scan stops where the byte loop stops,
        /// with and without eight-bit bytes in names, for every start and
        /// length (names shorter and longer than a word, every byte value,
        /// the edges of the name bytes weighted).
        #[test]
        fn field_name_len_matches_byte_loop(line in proptest::collection::vec(prop_oneof![
            Just(b':'), Just(b' '), Just(b'!'), Just(b'~'), Just(0x7f), Just(0x80),
            Just(0x20), Just(0xff), Just(b'\t'), Just(0x1f), Just(0x21), Just(b'a'),
            Just(b'-'), any::<u8>()], 0..40)) {
            for from in 0..=line.len() {
                let l = &line[from..];
                // RFC 5322 ftext: printable US-ASCII but ':'.
                let ftext = l.iter().take_while(|&&b| (33..=126).contains(&b) && b != b':').count();
                prop_assert_eq!(field_name_len(l, false), ftext);
                let lenient = l
                    .iter()
                    .position(|&b| b <= b' ' || b == b':' || b == 127)
                    .unwrap_or(l.len());
                prop_assert_eq!(field_name_len(l, true), lenient);
            }
        }

        /// The SSE2 window mask is the byte loop's, whatever the bytes.
        #[test]
        fn lf_mask_matches_portable(w in proptest::collection::vec(prop_oneof![
            Just(b'\n'), Just(0x8a), Just(0x0b), any::<u8>()], 64)) {
            let w: [u8; 64] = w.try_into().unwrap_or([0; 64]);
            prop_assert_eq!(lf_mask(&w), portable_lf_mask(&w));
        }

        /// The AVX-512 window masks are the byte loop's, whatever the bytes,
        /// with eight-bit bytes in names and without.
        #[test]
        fn window_masks_match_portable(w in proptest::collection::vec(prop_oneof![
            Just(b'\n'), Just(b':'), Just(b' '), Just(b'\t'), Just(b'!'), Just(0x7f), Just(0x80),
            Just(0x1f), Just(0x21), Just(0xff), Just(0x8a), Just(0x89), any::<u8>()], 64)) {
            let w: [u8; 64] = w.try_into().unwrap_or([0; 64]);
            for eight_bit in [false, true] {
                if let Some(m) = window_form(&w, eight_bit) {
                    prop_assert_eq!(m, portable_window(&w, eight_bit));
                }
            }
        }

        /// The line and the name's end from one window are what `memchr`
        /// and the lenient `field_name_len` give, for every start and
        /// length (names and lines shorter and longer than a window); the
        /// name's end is missing only without AVX-512 or when the window
        /// does not hold it.
        #[test]
        fn find_header_line_matches_separate_scans(hay in header_bytes(0..200), sparse in 0usize..4) {
            let hay = thin_stops(hay, sparse * 40 + 1);
            let fused = avx512_window(&[0; 64], true).is_some();
            for from in 0..hay.len().min(30) {
                let h = &hay[from..];
                for eight_bit in [false, true] {
                    let (lf, name) = find_header_line(h, eight_bit);
                    prop_assert_eq!(lf, memchr::memchr(b'\n', h));
                    let want = field_name_len(h, eight_bit);
                    match name {
                        Some(n) => prop_assert_eq!(n, want),
                        None => prop_assert!(!fused || h.len() < 64 || want >= 64),
                    }
                }
            }
        }

        /// Every line, name's end and fold end a window gives is the one
        /// the line-by-line searches give from that offset, and the window
        /// gives none only where the answer lies outside it: for every
        /// offset, with and without eight-bit bytes in names (lines and
        /// folds shorter and longer than the window, LFs at its edges).
        #[test]
        fn header_window_matches_line_searches(hay in header_bytes(64..160), sparse in 0usize..4) {
            let hay = thin_stops(hay, sparse * 20 + 1);
            for eight_bit in [false, true] {
                // The window form itself, where the CPU has it (the
                // dispatch does not hand it out on AMD's CPUs).
                let Some(w) = hay.first_chunk().and_then(|w| window_form(w, eight_bit)) else {
                    prop_assert!(window_form(&[0; 64], eight_bit).is_none());
                    continue;
                };
                for off in 0..=HeaderWindow::LEN + 1 {
                    let h = hay.get(off..).unwrap_or_default();
                    let lf = memchr::memchr(b'\n', h);
                    match w.line(off) {
                        Some((l, name)) => {
                            prop_assert_eq!(Some(l), lf);
                            prop_assert_eq!(name, field_name_len(h, eight_bit));
                        }
                        None => prop_assert!(lf.is_none_or(|l| off + l >= HeaderWindow::LEN)),
                    }
                    let end = find_field_end(h);
                    match w.field_end(off) {
                        Some(e) => prop_assert_eq!(Some(e), end),
                        None => prop_assert!(end.is_none_or(|e| off + e + 1 >= HeaderWindow::LEN)),
                    }
                }
            }
        }

        /// The folded field's end from 64-byte windows (SSE2 or AVX-512
        /// masks, the byte loop for the tail) is the byte loop's, for every
        /// start and length (folds shorter and longer than a window, LFs
        /// at window edges, input ending in an LF).
        #[test]
        fn find_field_end_matches_byte_loop(hay in proptest::collection::vec(prop_oneof![
            Just(b'\n'), Just(b'\r'), Just(b' '), Just(b'\t'), Just(b'a'), Just(0x0b),
            Just(0x8a), any::<u8>()], 0..300), fold_rate in 0usize..4) {
            // At higher rates, nearly every LF is followed by white space, so
            // long folds come too.
            let mut hay = hay;
            for k in 1..hay.len() {
                if hay[k - 1] == b'\n' && k % (fold_rate * 30 + 1) != 0 {
                    hay[k] = if k % 2 == 0 { b' ' } else { b'\t' };
                }
            }
            for from in 0..hay.len().min(70) {
                let h = &hay[from..];
                let want = portable_field_end(h, 0);
                prop_assert_eq!(find_field_end(h), want);
                // The SSE2 (or portable) form too, where AVX-512 ran above.
                prop_assert_eq!(windows_fold_end(h, None), want);
            }
        }

        /// The fold's end with its lines checked (CRLF or also LF alone,
        /// none longer than the limit) is what a line-at-a-time loop finds, in both forms
        /// (AVX-512 where it runs, SSE2 or portable), for every start and
        /// limit (below, at and above a window, lines across windows).
        #[test]
        fn find_checked_field_end_matches_line_loop(hay in proptest::collection::vec(prop_oneof![
            Just(b'\n'), Just(b'\r'), Just(b' '), Just(b'\t'), Just(b'a'), Just(b'a'),
            Just(b'a'), any::<u8>()], 0..400), fold_rate in 0usize..4) {
            // Mostly CRLF line ends followed by white space, so long clean
            // folds come too.
            let mut hay = hay;
            for k in 1..hay.len() {
                if hay[k - 1] == b'\n' && k % (fold_rate * 30 + 1) != 0 {
                    hay[k] = if k % 2 == 0 { b' ' } else { b'\t' };
                }
                if k + 1 < hay.len() && hay[k + 1] == b'\n' && k % 7 != 0 {
                    hay[k] = b'\r';
                }
            }
            for from in 0..hay.len().min(70) {
                let h = &hay[from..];
                for max in [0, 1, 3, 10, 62, 63, 64, 65, 70, 130, 998] {
                    for lone_lf in [false, true] {
                        let want = checked_line_loop(h, max, lone_lf);
                        prop_assert_eq!(find_checked_field_end(h, max, lone_lf), want);
                        let check = Some(LineCheck { max_line: max, lone_lf });
                        prop_assert_eq!(windows_fold_end(h, check), want);
                    }
                }
            }
        }

        /// The search (a 64-byte window, memchr beyond it, eight bytes at a
        /// time below a window) finds what memchr finds, whatever the bytes
        /// and the length (below, at and beyond 64 bytes).
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

//! Content-Transfer-Encoding (RFC 2045 §6): streaming decoders and encoders.
//!
//! Every decoder is incremental: feed the encoded bytes in any split with
//! [`Decoder::decode`] and call [`Decoder::finish`] once; the output is the
//! same as decoding the whole input at once (a property test checks this).
//! Decoding is lenient, as real mail needs: base64 skips whitespace and junk,
//! quoted-printable keeps a bad `=` escape as it is, uuencode skips the lines
//! around `begin`/`end`.

use base64::Engine as _;

/// A Content-Transfer-Encoding mechanism (RFC 2045 §6.1).
///
/// ```text
/// encoding := "Content-Transfer-Encoding" ":" mechanism
/// mechanism := "7bit" / "8bit" / "binary" / "quoted-printable" / "base64" / ietf-token / x-token
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum TransferEncoding {
    /// `7bit`: the default (RFC 2045 §6.1), lines of US-ASCII.
    #[default]
    SevenBit,
    /// `8bit`: lines that may hold octets over 127 (RFC 6152 transport).
    EightBit,
    /// `binary`: any octets, no line structure (RFC 3030 transport).
    Binary,
    /// `quoted-printable` (RFC 2045 §6.7).
    QuotedPrintable,
    /// `base64` (RFC 2045 §6.8).
    Base64,
    /// `x-uuencode`, `x-uue`, `uuencode` (not standard, common in old mail).
    UuEncode,
    /// Any other token: the body is kept as it is and a defect is reported.
    Unknown,
}

impl TransferEncoding {
    /// Parses the value of a Content-Transfer-Encoding field (case-insensitive,
    /// surrounding whitespace and comments ignored). Unknown tokens give
    /// [`TransferEncoding::Unknown`].
    pub fn parse(value: &[u8]) -> Self {
        let v = crate::params::trim_comments(value).trim_ascii();
        let eq = |s: &str| v.eq_ignore_ascii_case(s.as_bytes());
        if eq("7bit") {
            Self::SevenBit
        } else if eq("base64") {
            Self::Base64
        } else if eq("quoted-printable") {
            Self::QuotedPrintable
        } else if eq("8bit") {
            Self::EightBit
        } else if eq("binary") {
            Self::Binary
        } else if eq("x-uuencode") || eq("x-uue") || eq("uuencode") || eq("x-uu") {
            Self::UuEncode
        } else if v.is_empty() {
            Self::SevenBit
        } else {
            Self::Unknown
        }
    }

    /// The canonical token for the field value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SevenBit => "7bit",
            Self::EightBit => "8bit",
            Self::Binary => "binary",
            Self::QuotedPrintable => "quoted-printable",
            Self::Base64 => "base64",
            Self::UuEncode => "x-uuencode",
            Self::Unknown => "binary",
        }
    }

    /// True for the identity encodings (7bit, 8bit, binary and unknown tokens).
    pub fn is_identity(self) -> bool {
        matches!(
            self,
            Self::SevenBit | Self::EightBit | Self::Binary | Self::Unknown
        )
    }
}

/// An incremental decoder for one transfer encoding.
#[derive(Debug, Clone)]
pub enum Decoder {
    /// 7bit, 8bit, binary: output is the input.
    Identity,
    /// Base64, tolerant of whitespace and junk.
    Base64(Base64Decoder),
    /// Quoted-printable, lenient.
    QuotedPrintable(QpDecoder),
    /// uuencode.
    UuEncode(UuDecoder),
}

impl Decoder {
    /// A decoder for `encoding`.
    pub fn new(encoding: TransferEncoding) -> Self {
        match encoding {
            TransferEncoding::Base64 => Self::Base64(Base64Decoder::new()),
            TransferEncoding::QuotedPrintable => Self::QuotedPrintable(QpDecoder::new()),
            TransferEncoding::UuEncode => Self::UuEncode(UuDecoder::new()),
            _ => Self::Identity,
        }
    }

    /// Decodes `input`, appending to `out`. Bytes that may belong to an escape
    /// continued in the next call are held back (a few bytes at most).
    pub fn decode(&mut self, input: &[u8], out: &mut Vec<u8>) {
        match self {
            Self::Identity => out.extend_from_slice(input),
            Self::Base64(d) => d.decode(input, out),
            Self::QuotedPrintable(d) => d.decode(input, out),
            Self::UuEncode(d) => d.decode(input, out),
        }
    }

    /// Flushes what was held back at the end of the input.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        match self {
            Self::Identity => {}
            Self::Base64(d) => d.finish(out),
            Self::QuotedPrintable(d) => d.finish(out),
            Self::UuEncode(d) => d.finish(out),
        }
    }
}

/// Decodes a whole body in one call.
pub fn decode(encoding: TransferEncoding, input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(match encoding {
        TransferEncoding::Base64 | TransferEncoding::UuEncode => {
            crate::base64_avx512::room(input.len())
        }
        // The quoted-printable fast path writes words: a word of slack.
        _ => input.len() + 8,
    });
    if encoding == TransferEncoding::Base64 && decode_base64_lines(input, &mut out) {
        return out;
    }
    if encoding == TransferEncoding::QuotedPrintable && decode_qp_whole(input, &mut out) {
        return out;
    }
    let mut d = Decoder::new(encoding);
    d.decode(input, &mut out);
    d.finish(&mut out);
    out
}

/// The whole-body fast path for base64: the whole lines at the start
/// decoded with AVX-512 where the CPU has it (`base64_avx512`), the rest
/// by encodify's line-aware SIMD decoder, whose lenient mode skips white
/// space and flushes a quantum at `=`, as [`Base64Decoder`] does, and fails
/// on any other byte (then `out` is as it was and the caller falls back to
/// the decoder that skips junk). The first part always ends between
/// quanta, so encodify goes on as if it had decoded those lines itself.
fn decode_base64_lines(input: &[u8], out: &mut Vec<u8>) -> bool {
    let start = out.len();
    let done = crate::base64_avx512::decode_lines(input, out);
    if encodify::base64::MIME
        .decode_append(&input[done..], out)
        .is_ok()
    {
        return true;
    }
    out.truncate(start);
    false
}

/// The end of the raw white space held back at the end of `run` by
/// [`QpDecoder`] (spaces and tabs, then at most one CR at the very end),
/// and whether it ends with that CR.
fn qp_trailing_ws(run: &[u8]) -> (usize, bool) {
    let mut k = run.len();
    let cr = run.last() == Some(&b'\r');
    if cr {
        k -= 1;
    }
    while k > 0 && matches!(run[k - 1], b' ' | b'\t') {
        k -= 1;
    }
    (k, cr)
}

/// The whole-body fast path for quoted-printable: the same output as
/// [`QpDecoder`] for bodies where no `=` is followed by white space and
/// whose held-back white space stays under its bound (a bad escape keeps
/// its `=`, a final `=` is dropped, as there); false, with `out` as it
/// was, for anything else, and the caller then runs [`QpDecoder`].
///
/// Decoding never makes the body longer, so `out` is grown once by the
/// input's length (and a word of slack) and written in place: each block of
/// input (16 bytes compared at once by SSE2 on x86-64, else an 8-byte word
/// tested as an integer) is stored to the output before it is looked at,
/// and only the bytes before the first `=` or LF in it are kept; white
/// space to drop at a line end is taken back from the output.
fn decode_qp_whole(input: &[u8], out: &mut Vec<u8>) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // The lowest flagged byte is exact (borrows only run upwards).
    let zero_byte = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    let base = out.len();
    out.resize(base + input.len() + 8, 0);
    let buf = &mut out[base..];
    // Input and output positions (o <= i), and where the current run of
    // data (since the last line end or escape) starts in the output.
    let (mut i, mut o, mut run) = (0usize, 0usize, 0usize);
    // The last 16-byte block searched: where it starts in the input and
    // its mask of '=' and LF. The stops after the one handled last are
    // read from the mask rather than searched for again.
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    let (mut block, mut block_mask) = (usize::MAX, 0u32);
    let ok = loop {
        // Copy up to the next '=' or LF.
        loop {
            #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
            if let Some(c) = input.get(i..i + 16) {
                let c: [u8; 16] = c.try_into().unwrap_or_default();
                // `o <= i` and `buf` is a word longer than `input`.
                buf[o..o + 16].copy_from_slice(&c);
                let rel = i.wrapping_sub(block);
                let left = if rel < 16 { block_mask >> rel } else { 0 };
                if left != 0 {
                    // The next stop lies in the block searched last, before
                    // its end: within the 16 bytes just copied.
                    let k = left.trailing_zeros() as usize;
                    i += k;
                    o += k;
                    break;
                }
                let m = eq_or_lf_mask(c);
                if m == 0 {
                    i += 16;
                    o += 16;
                    continue;
                }
                (block, block_mask) = (i, m);
                let k = m.trailing_zeros() as usize;
                i += k;
                o += k;
                break;
            }
            if let Some(w) = input.get(i..i + 8) {
                let w: [u8; 8] = w.try_into().unwrap_or_default();
                buf[o..o + 8].copy_from_slice(&w);
                let w = u64::from_le_bytes(w);
                let m = zero_byte(w ^ (ONES * u64::from(b'=')))
                    | zero_byte(w ^ (ONES * u64::from(b'\n')));
                if m == 0 {
                    i += 8;
                    o += 8;
                    continue;
                }
                let k = (m.trailing_zeros() / 8) as usize;
                i += k;
                o += k;
                break;
            }
            match input.get(i) {
                Some(&c) if c != b'=' && c != b'\n' => {
                    buf[o] = c;
                    i += 1;
                    o += 1;
                }
                _ => break,
            }
        }
        match input.get(i) {
            end @ (None | Some(b'\n')) => {
                // A hard line break, or the end of the body: trailing white
                // space removed (rule 3), the CR of the line end kept (at
                // the end of the body, a lone CR: QpDecoder::finish).
                let (k, cr) = qp_trailing_ws(&buf[run..o]);
                if o - run - k > MAX_HELD_WS {
                    break false;
                }
                o = run + k;
                if cr {
                    buf[o] = b'\r';
                    o += 1;
                }
                if end.is_none() {
                    break true;
                }
                buf[o] = b'\n';
                o += 1;
                i += 1;
            }
            Some(_) => {
                // '=': the white space before it is data. Escapes often
                // come in a row (the UTF-8 bytes of one character): those
                // are decoded here, without going back to the word loop.
                let mut bad = false;
                loop {
                    match input.get(i + 1..i + 3) {
                        Some(&[h, l])
                            if HEX_VALUES[usize::from(h)] | HEX_VALUES[usize::from(l)] < 16 =>
                        {
                            buf[o] = HEX_VALUES[usize::from(h)] << 4 | HEX_VALUES[usize::from(l)];
                            o += 1;
                            i += 3;
                            if input.get(i) == Some(&b'=') {
                                continue;
                            }
                        }
                        Some(b"\r\n") => i += 3,
                        _ => match input.get(i + 1) {
                            Some(b'\n') => i += 2,
                            // A final '=': a soft break at the end (dropped).
                            None => i += 1,
                            // A bad escape (a bare '=' in HTML written as
                            // it is, say): the '=' kept as it is and what
                            // follows read as data, which is what
                            // `QpDecoder` makes of it (a '=' followed by
                            // white space is left to it).
                            Some(b' ' | b'\t' | b'\r') => bad = true,
                            Some(_) => {
                                buf[o] = b'=';
                                o += 1;
                                i += 1;
                            }
                        },
                    }
                    break;
                }
                if bad {
                    break false;
                }
            }
        }
        run = o;
    };
    out.truncate(if ok { base + o } else { base });
    ok
}

/// Bit `k` set for each byte `c[k]` that is `=` or LF, by SSE2 (part of
/// every x86-64 processor, so enabled at compile time there).
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[inline(always)]
fn eq_or_lf_mask(c: [u8; 16]) -> u32 {
    use std::arch::x86_64::{
        _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
    };
    #[allow(unsafe_code)]
    // SAFETY: the cfg above enables SSE2, the only target feature these
    // intrinsics need; the unaligned load reads the 16 bytes of `c`.
    let m = unsafe {
        let v = _mm_loadu_si128(c.as_ptr().cast());
        let eq = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'=' as i8));
        let lf = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\n' as i8));
        _mm_movemask_epi8(_mm_or_si128(eq, lf))
    };
    m as u32
}

/// Base64 decoder (RFC 2045 §6.8) that skips every character outside the
/// alphabet and treats `=` as the end of a quantum (decoding goes on after it,
/// so concatenated base64 blocks decode too).
///
/// Runs of alphabet characters (a line, between line ends) go through
/// encodify's SIMD quantum decoder, which keeps the partial quantum between
/// runs and calls; every other byte is looked at here.
#[derive(Debug, Clone)]
pub struct Base64Decoder {
    inner: encodify::base64::Decoder,
}

impl Default for Base64Decoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Base64Decoder {
    /// A fresh decoder.
    pub fn new() -> Self {
        Self {
            inner: encodify::base64::STANDARD.decoder(),
        }
    }

    /// Decodes `input`, appending to `out`.
    ///
    /// The first line (to its line end) goes through the quantum decoder,
    /// since it may finish a quantum an earlier call began; then, if that
    /// leaves the decoder between quanta, the whole lines after it go to
    /// encodify's whole-body decoder at once (`whole_lines`),
    /// and what follows the last line end through the quantum decoder again.
    pub fn decode(&mut self, input: &[u8], out: &mut Vec<u8>) {
        out.reserve(crate::base64_avx512::room(input.len()));
        let (first, lines) = split_lines(input);
        self.decode_runs(first, out);
        let done = self.inner.is_aligned() && whole_lines(lines, out);
        self.decode_runs(
            &input[first.len() + if done { lines.len() } else { 0 }..],
            out,
        );
    }

    /// The quantum decoder over `input`: runs of symbols, `=` flushing.
    fn decode_runs(&mut self, input: &[u8], out: &mut Vec<u8>) {
        let mut i = 0;
        while i < input.len() {
            i += self.inner.decode_symbols(&input[i..], out);
            match input.get(i) {
                // `=` ends the quantum: flush what it holds.
                Some(b'=') => self.inner.pad(out),
                // White space and junk are skipped.
                Some(_) => {}
                None => break,
            }
            i += 1;
        }
    }

    /// Flushes a final unpadded quantum.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        self.inner.pad(out);
    }
}

/// How the streaming decoders split their input: the first line (to its
/// line end, or all of it), which may go on with what an earlier call left
/// open, and the whole lines after it (to the last line end, maybe none),
/// which they may hand to a whole-body decoder at once.
fn split_lines(input: &[u8]) -> (&[u8], &[u8]) {
    let first = memchr::memchr(b'\n', input).map_or(input.len(), |p| p + 1);
    let rest = &input[first..];
    let lines = memchr::memrchr(b'\n', rest).map_or(0, |p| p + 1);
    (&input[..first], &rest[..lines])
}

/// Decodes `lines` at once with encodify's whole-body decoder, for a
/// [`Base64Decoder`] between quanta, when that gives what its quantum
/// decoder would: no `=` in them (one flushes a quantum), only symbols and
/// white space (else encodify fails), and a whole number of quanta (else
/// encodify flushes the last one, which the quantum decoder keeps open for
/// the next call; every byte that is not a symbol is white space, at most
/// `b' '`, and every symbol is above it). False, with `out` as it was,
/// when it does not apply.
fn whole_lines(lines: &[u8], out: &mut Vec<u8>) -> bool {
    if lines.is_empty() || memchr::memchr(b'=', lines).is_some() {
        return false;
    }
    let start = out.len();
    if !decode_base64_lines(lines, out) {
        return false;
    }
    // Counted in blocks of 255 bytes with a byte-wide sum, which the
    // compiler turns into vector compares.
    let space: usize = lines
        .chunks(255)
        .map(|block| {
            usize::from(
                block
                    .iter()
                    .fold(0u8, |n, &b| n.wrapping_add(u8::from(b <= b' '))),
            )
        })
        .sum();
    if !(lines.len() - space).is_multiple_of(4) {
        out.truncate(start);
        return false;
    }
    true
}

/// The value of each hex digit (either case); 0xff for other bytes.
const HEX_VALUES: [u8; 256] = {
    let mut t = [0xffu8; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'A' as usize + i] = 10 + i as u8;
        t[b'a' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

fn hex_val(c: u8) -> Option<u8> {
    let v = HEX_VALUES[usize::from(c)];
    (v != 0xff).then_some(v)
}

/// Longest run of whitespace held back at a line end or after `=`.
const MAX_HELD_WS: usize = 1024;

/// Quoted-printable decoder (RFC 2045 §6.7), lenient: `=XX` in either case,
/// soft line breaks `=` CRLF or `=` LF (with whitespace before the line end),
/// trailing whitespace on a line removed (rule 3), and a bad escape kept as it
/// is (the note of rule 1). Line ends are kept as they are in the input.
#[derive(Debug, Clone, Default)]
pub struct QpDecoder {
    /// Trailing whitespace (and a CR) of the current line, not yet written.
    ws: Vec<u8>,
    /// An `=` and what followed it, not yet resolved.
    eq: Vec<u8>,
}

impl QpDecoder {
    /// A fresh decoder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Decodes `input`, appending to `out`.
    ///
    /// The first line (to its line end) goes through the byte path, since
    /// it may go on with what an earlier call held back; after a line end
    /// the decoder holds nothing, and the whole lines after it go to the
    /// whole-body decoder at once (`decode_qp_whole`, which gives what
    /// this decoder gives, or declines), what follows the last line end
    /// through the byte path again.
    pub fn decode(&mut self, input: &[u8], out: &mut Vec<u8>) {
        out.reserve(input.len());
        let (first, lines) = split_lines(input);
        self.decode_bytes(first, out);
        let done = self.ws.is_empty()
            && self.eq.is_empty()
            && !lines.is_empty()
            && decode_qp_whole(lines, out);
        self.decode_bytes(
            &input[first.len() + if done { lines.len() } else { 0 }..],
            out,
        );
    }

    /// The byte path of [`QpDecoder::decode`].
    fn decode_bytes(&mut self, input: &[u8], out: &mut Vec<u8>) {
        let mut i = 0;
        while i < input.len() {
            if !self.eq.is_empty() {
                let c = input[i];
                i += 1;
                self.eq_byte(c, out);
                continue;
            }
            // Copy a run of ordinary bytes.
            let rest = &input[i..];
            let run = memchr::memchr2(b'=', b'\n', rest).unwrap_or(rest.len());
            let run_bytes = &rest[..run];
            if !run_bytes.is_empty() {
                // Split off trailing spaces, tabs and CR: they may be
                // trailing whitespace.
                let keep = run_bytes
                    .iter()
                    .rposition(|&b| b != b' ' && b != b'\t' && b != b'\r')
                    .map_or(0, |p| p + 1);
                if keep > 0 {
                    self.flush_ws(out);
                    out.extend_from_slice(&run_bytes[..keep]);
                }
                self.push_ws(&run_bytes[keep..], out);
            }
            i += run;
            if i >= input.len() {
                break;
            }
            let c = input[i];
            i += 1;
            match c {
                b'\n' => self.line_end(out),
                _ => {
                    // '='
                    self.flush_ws(out);
                    // Fast path: an escape or a soft line break that is
                    // whole in this input, decided here without holding
                    // anything back (the same outcome as `eq_byte`).
                    match input.get(i..i + 2) {
                        Some(&[h, l]) if let (Some(h), Some(l)) = (hex_val(h), hex_val(l)) => {
                            out.push(h << 4 | l);
                            i += 2;
                        }
                        Some(b"\r\n") => i += 2,
                        _ if input.get(i) == Some(&b'\n') => i += 1,
                        _ => self.eq.push(b'='),
                    }
                }
            }
        }
    }

    fn push_ws(&mut self, ws: &[u8], out: &mut Vec<u8>) {
        // A CR followed by anything but LF is not whitespace: flush it.
        for &b in ws {
            if self.ws.last() == Some(&b'\r') {
                self.flush_ws(out);
            }
            self.ws.push(b);
            if self.ws.len() > MAX_HELD_WS {
                self.flush_ws(out);
            }
        }
    }

    fn flush_ws(&mut self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.ws);
        self.ws.clear();
    }

    fn line_end(&mut self, out: &mut Vec<u8>) {
        if self.ws.last() == Some(&b'\r') {
            out.extend_from_slice(b"\r\n");
        } else {
            out.push(b'\n');
        }
        self.ws.clear();
    }

    fn eq_byte(&mut self, c: u8, out: &mut Vec<u8>) {
        // self.eq starts with '='.
        if self.eq.len() == 1 {
            if hex_val(c).is_some() {
                self.eq.push(c);
                return;
            }
        } else if self.eq.len() == 2 && hex_val(self.eq[1]).is_some() {
            if let (Some(h), Some(l)) = (hex_val(self.eq[1]), hex_val(c)) {
                out.push(h << 4 | l);
                self.eq.clear();
                return;
            }
            // "=A" followed by a non-hex: keep literally, reprocess c.
            out.extend_from_slice(&self.eq);
            self.eq.clear();
            self.decode_bytes(&[c], out);
            return;
        }
        // self.eq is "=" followed by whitespace (possibly CR) only.
        match c {
            b'\n' => {
                // Soft line break.
                self.eq.clear();
            }
            b' ' | b'\t' | b'\r' if self.eq.len() <= MAX_HELD_WS => {
                if self.eq.last() == Some(&b'\r') {
                    // "=\r" followed by something other than LF: not a break.
                    let held = std::mem::take(&mut self.eq);
                    out.extend_from_slice(&held);
                    self.decode_bytes(&[c], out);
                } else {
                    self.eq.push(c);
                }
            }
            _ => {
                // A bad escape: keep "=" (and any whitespace) as it is.
                let held = std::mem::take(&mut self.eq);
                out.extend_from_slice(&held);
                self.decode_bytes(&[c], out);
            }
        }
    }

    /// Flushes at the end of the body: a final `=` is a soft break, trailing
    /// whitespace is dropped.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if self.eq.len() == 2 && hex_val(self.eq[1]).is_some() {
            out.extend_from_slice(&self.eq);
        }
        self.eq.clear();
        // Trailing whitespace at the end of the body is removed (rule 3), but a
        // lone CR is data.
        if self.ws.last() == Some(&b'\r') {
            out.push(b'\r');
        }
        self.ws.clear();
    }
}

/// Longest uuencoded line kept while waiting for its end.
const MAX_UU_LINE: usize = 1024;

/// uuencode decoder: skips everything before a `begin` line and after the
/// `end` line; lines are decoded by their length character.
#[derive(Debug, Clone, Default)]
pub struct UuDecoder {
    line: Vec<u8>,
    state: UuState,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum UuState {
    #[default]
    BeforeBegin,
    Data,
    Done,
}

impl UuDecoder {
    /// A fresh decoder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Decodes `input`, appending to `out`.
    pub fn decode(&mut self, mut input: &[u8], out: &mut Vec<u8>) {
        while !input.is_empty() {
            if self.state == UuState::Done {
                return;
            }
            if self.state == UuState::Data && self.line.is_empty() {
                // A run of full lines at once, where the CPU can.
                input = &input[uu_full_lines(input, out)..];
                if input.is_empty() {
                    return;
                }
            }
            match memchr::memchr(b'\n', input) {
                Some(p) => {
                    if self.line.is_empty() {
                        self.line_done(&input[..p], out);
                    } else {
                        let room = MAX_UU_LINE.saturating_sub(self.line.len());
                        self.line.extend_from_slice(&input[..p.min(room)]);
                        let line = std::mem::take(&mut self.line);
                        self.line_done(&line, out);
                    }
                    input = &input[p + 1..];
                }
                None => {
                    let room = MAX_UU_LINE.saturating_sub(self.line.len());
                    self.line.extend_from_slice(&input[..input.len().min(room)]);
                    return;
                }
            }
        }
    }

    fn line_done(&mut self, line: &[u8], out: &mut Vec<u8>) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        match self.state {
            UuState::BeforeBegin => {
                if line.starts_with(b"begin ") || line == b"begin" {
                    self.state = UuState::Data;
                }
            }
            UuState::Data => {
                // `end` and white space (not `trim_ascii_end` first: data
                // lines often end in long runs of spaces).
                if line
                    .strip_prefix(b"end")
                    .is_some_and(|r| r.trim_ascii_end().is_empty())
                {
                    self.state = UuState::Done;
                    return;
                }
                if let Some((&len_ch, rest)) = line.split_first() {
                    uu_line(len_ch, rest, out);
                }
            }
            UuState::Done => {}
        }
    }

    /// Decodes a final line without a line end.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if !self.line.is_empty() {
            let line = std::mem::take(&mut self.line);
            self.line_done(&line, out);
        }
    }
}

/// Decodes the full lines at the start of `input` (`M` and 60 symbols,
/// then LF or CRLF: the 45 bytes uuencode writes on every line but the
/// last) with AVX2 where the CPU has it, 32 symbols a step, appending their
/// bytes to `out`. Returns the input bytes consumed: whole lines, none on a
/// CPU without AVX2. What it gives is what [`UuDecoder`]'s line by line
/// path gives for those lines (the tests compare them): each byte's value
/// is `(c - 0x20) & 0x3f`, junk included, and a line holds no LF.
fn uu_full_lines(input: &[u8], out: &mut Vec<u8>) -> usize {
    #[cfg(target_arch = "x86_64")]
    if input.len() >= 64 && input[0] == b'M' && std::is_x86_feature_detected!("avx2") {
        // SAFETY: AVX2 was detected just above.
        #[allow(unsafe_code)]
        return unsafe { uu_full_lines_avx2(input, out) };
    }
    let _ = (input, out);
    0
}

/// See [`uu_full_lines`]. Each line's 60 symbols are read as two
/// overlapping 32-byte vectors (symbols 0-31 and 28-59, eight groups of
/// four each); a group's four 6-bit values are joined by `vpmaddubsw`
/// and `vpmaddwd` into 24 bits, whose three bytes a shuffle puts in
/// order, 12 to each 128-bit half.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[allow(unsafe_code)]
unsafe fn uu_full_lines_avx2(input: &[u8], out: &mut Vec<u8>) -> usize {
    use core::arch::x86_64::{
        __m256i, _mm_storeu_si128, _mm256_and_si256, _mm256_castsi256_si128, _mm256_cmpeq_epi8,
        _mm256_extracti128_si256, _mm256_loadu_si256, _mm256_madd_epi16, _mm256_maddubs_epi16,
        _mm256_movemask_epi8, _mm256_or_si256, _mm256_set1_epi8, _mm256_set1_epi32,
        _mm256_setr_epi8, _mm256_shuffle_epi8, _mm256_sub_epi8,
    };
    let low6 = _mm256_set1_epi8(0x3f);
    let space = _mm256_set1_epi8(0x20);
    let lf = _mm256_set1_epi8(b'\n' as i8);
    let pairs = _mm256_set1_epi32(0x0140_0140);
    let quads = _mm256_set1_epi32(0x0001_1000);
    #[rustfmt::skip]
    let order = _mm256_setr_epi8(
        2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1,
        2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1,
    );
    let mut i = 0;
    // The line: `M`, 60 symbols at `i + 1`, its end at `i + 61`, and 64
    // bytes readable from `i`.
    while let Some(line) = input.get(i..i + 64) {
        let eol = match (line[0], line[60], line[61], line[62]) {
            // A CR right before the LF ends the line (59 symbols, then
            // CRLF), as the line-by-line path reads it.
            (b'M', b'\r', b'\n', _) => break,
            (b'M', _, b'\n', _) => 1,
            (b'M', _, b'\r', b'\n') => 2,
            _ => break,
        };
        // SAFETY: both loads read 32 bytes within the 64 of `line`
        // (from 1 and from 29, ending at 33 and 61).
        let (a, b) = unsafe {
            (
                _mm256_loadu_si256(line.as_ptr().add(1).cast::<__m256i>()),
                _mm256_loadu_si256(line.as_ptr().add(29).cast::<__m256i>()),
            )
        };
        if _mm256_movemask_epi8(_mm256_or_si256(
            _mm256_cmpeq_epi8(a, lf),
            _mm256_cmpeq_epi8(b, lf),
        )) != 0
        {
            break;
        }
        // Three bytes from each group, 12 in each half's first lanes.
        let bytes = |v: __m256i| {
            let values = _mm256_and_si256(_mm256_sub_epi8(v, space), low6);
            let joined = _mm256_madd_epi16(_mm256_maddubs_epi16(values, pairs), quads);
            _mm256_shuffle_epi8(joined, order)
        };
        let (a, b) = (bytes(a), bytes(b));
        out.reserve(64);
        let at = out.len();
        // SAFETY: the four 16-byte stores end at `at + 49`, within the 64
        // bytes reserved past the length; the 45 bytes up to `at + 45` are
        // all written (12 at 0, 12 at 12, 12 at 21, 12 at 33: symbols 28-59
        // are groups 7-14, bytes 21-44) before the length takes them in.
        unsafe {
            let dst = out.as_mut_ptr().add(at);
            _mm_storeu_si128(dst.cast(), _mm256_castsi256_si128(a));
            _mm_storeu_si128(dst.add(12).cast(), _mm256_extracti128_si256::<1>(a));
            _mm_storeu_si128(dst.add(21).cast(), _mm256_castsi256_si128(b));
            _mm_storeu_si128(dst.add(33).cast(), _mm256_extracti128_si256::<1>(b));
            out.set_len(at + 45);
        }
        i += 61 + eol;
    }
    i
}

/// The bytes of one uuencoded data line: as many as its length character
/// says (at most 63), from groups of four characters (a short last group
/// read as if padded with zero values), into a buffer on the stack and
/// appended at once. Two groups at a time are read as one 64-bit word:
/// each character's value (`(c - 0x20) & 0x3f`, taken as `((c & 0x3f) +
/// 0x20) & 0x3f` so that no byte carries into the next), then pairs of
/// values joined to 12 bits and pairs of those to 24, in the word's lanes.
fn uu_line(len_ch: u8, rest: &[u8], out: &mut Vec<u8>) {
    const LOW6: u64 = 0x3f3f_3f3f_3f3f_3f3f;
    let val = |c: u8| u32::from(c.wrapping_sub(b' ') & 0x3f);
    let n = usize::from(len_ch.wrapping_sub(b' ') & 0x3f);
    // The whole groups read: those the line has, at most those `n` needs.
    let whole = rest.len() / 4;
    let groups = whole.min(n.div_ceil(3));
    // At most 21 groups (63 bytes); a word's two stores reach 7 bytes on.
    let mut buf = [0u8; 72];
    let mut produced = 0;
    let mut g = 0;
    while g + 2 <= groups {
        let w = u64::from_le_bytes(rest[g * 4..g * 4 + 8].try_into().unwrap_or_default());
        let v = ((w & LOW6) + 0x2020_2020_2020_2020) & LOW6;
        let pairs = ((v & 0x003f_003f_003f_003f) << 6) | ((v >> 8) & 0x003f_003f_003f_003f);
        let quanta =
            ((pairs & 0x0000_0fff_0000_0fff) << 12) | ((pairs >> 16) & 0x0000_0fff_0000_0fff);
        buf[produced..produced + 4].copy_from_slice(&((quanta as u32) << 8).to_be_bytes());
        buf[produced + 3..produced + 7]
            .copy_from_slice(&(((quanta >> 32) as u32) << 8).to_be_bytes());
        produced += 6;
        g += 2;
    }
    let mut put = |v: u32, produced: &mut usize| {
        buf[*produced..*produced + 3].copy_from_slice(&v.to_be_bytes()[1..]);
        *produced += 3;
    };
    if g < groups {
        let q = &rest[g * 4..g * 4 + 4];
        put(
            val(q[0]) << 18 | val(q[1]) << 12 | val(q[2]) << 6 | val(q[3]),
            &mut produced,
        );
    }
    let tail = &rest[whole * 4..];
    if produced < n && !tail.is_empty() {
        let v = (0..4).fold(0, |v, k| (v << 6) | tail.get(k).map_or(0, |&c| val(c)));
        put(v, &mut produced);
    }
    out.extend_from_slice(&buf[..n.min(produced)]);
}

/// Encodes `input` as base64 in lines of 76 characters, each ended by CRLF
/// (RFC 2045 §6.8).
pub fn encode_base64(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len() * 4 / 3 + input.len() / 57 * 2 + 8);
    encode_base64_into(input, &mut out);
    out
}

/// Like [`encode_base64`], appending to `out`.
pub fn encode_base64_into(input: &[u8], out: &mut Vec<u8>) {
    let engine = base64::engine::general_purpose::STANDARD;
    let mut line = [0u8; 76];
    for chunk in input.chunks(57) {
        let n = engine.encode_slice(chunk, &mut line).unwrap_or_default();
        out.extend_from_slice(&line[..n]);
        out.extend_from_slice(b"\r\n");
    }
}

/// Encodes `input` as quoted-printable (RFC 2045 §6.7) with lines of at most
/// 76 characters and soft line breaks.
///
/// With `text` true, CRLF and bare LF in the input are hard line breaks and
/// come out as CRLF; otherwise (binary content) CR and LF are encoded as
/// `=0D` and `=0A`. Trailing whitespace before a line break is encoded, and so
/// are `=`, control characters, octets over 126, and the `F` of a line that
/// starts with `From ` and a lone `.` (RFC 2049 §3, for safe transport).
pub fn encode_quoted_printable(input: &[u8], text: bool) -> Vec<u8> {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = Vec::with_capacity(input.len() + input.len() / 16 + 4);
    let mut col = 0usize;
    let mut i = 0;
    while i < input.len() {
        let b = input[i];
        if text && (b == b'\n' || (b == b'\r' && input.get(i + 1) == Some(&b'\n'))) {
            out.extend_from_slice(b"\r\n");
            col = 0;
            i += if b == b'\r' { 2 } else { 1 };
            continue;
        }
        let at_line_end = i + 1 == input.len()
            || (text
                && (input[i + 1] == b'\n'
                    || (input[i + 1] == b'\r' && input.get(i + 2) == Some(&b'\n'))));
        let line_start = col == 0;
        let encode = match b {
            b'=' => true,
            b' ' | b'\t' => at_line_end,
            b'.' => line_start && at_line_end,
            b'F' => line_start && input[i..].starts_with(b"From "),
            33..=126 => false,
            _ => true,
        };
        let width = if encode { 3 } else { 1 };
        // Keep room for a soft break "=" unless this is the last char of the line.
        let limit = if at_line_end { 76 } else { 75 };
        if col + width > limit {
            out.extend_from_slice(b"=\r\n");
            col = 0;
        }
        if encode {
            out.extend_from_slice(&[b'=', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
        } else {
            out.push(b);
        }
        col += width;
        i += 1;
    }
    out
}

/// Encodes `input` with uuencode between `begin 644 name` and `end` lines.
pub fn encode_uuencode(input: &[u8], name: &str) -> Vec<u8> {
    let enc = |v: u32| -> u8 {
        let c = (v & 0x3f) as u8;
        if c == 0 { b'`' } else { c + b' ' }
    };
    let mut out = Vec::with_capacity(input.len() * 4 / 3 + 64);
    out.extend_from_slice(b"begin 644 ");
    out.extend(name.bytes().filter(|b| !matches!(b, b'\r' | b'\n')));
    out.extend_from_slice(b"\r\n");
    for chunk in input.chunks(45) {
        out.push(enc(chunk.len() as u32));
        for q in chunk.chunks(3) {
            let v = (u32::from(q[0]) << 16)
                | (u32::from(*q.get(1).unwrap_or(&0)) << 8)
                | u32::from(*q.get(2).unwrap_or(&0));
            out.extend_from_slice(&[enc(v >> 18), enc(v >> 12), enc(v >> 6), enc(v)]);
        }
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"`\r\nend\r\n");
    out
}

/// What a body needs to travel (RFC 2045 §2.7-2.9, RFC 5322 §2.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ContentStats {
    /// Octets over 127.
    pub high: usize,
    /// NUL, lone CR, lone LF or other controls besides TAB.
    pub controls: usize,
    /// Longest line in octets, without its line end.
    pub longest_line: usize,
    /// Total length.
    pub len: usize,
    /// Whether line ends are bare LF rather than CRLF somewhere.
    pub bare_lf: bool,
    /// Whether the content ends without a line end.
    pub no_final_eol: bool,
}

impl ContentStats {
    /// Measures `data`.
    pub fn of(data: &[u8]) -> Self {
        let mut s = Self {
            len: data.len(),
            ..Self::default()
        };
        let mut line = 0usize;
        let mut i = 0;
        while i < data.len() {
            let b = data[i];
            match b {
                b'\r' if data.get(i + 1) == Some(&b'\n') => {
                    s.longest_line = s.longest_line.max(line);
                    line = 0;
                    i += 2;
                    continue;
                }
                b'\n' => {
                    s.bare_lf = true;
                    s.longest_line = s.longest_line.max(line);
                    line = 0;
                    i += 1;
                    continue;
                }
                b'\t' => {}
                0..=31 | 127 => s.controls += 1,
                128..=255 => s.high += 1,
                _ => {}
            }
            line += 1;
            i += 1;
        }
        s.longest_line = s.longest_line.max(line);
        s.no_final_eol = line > 0;
        s
    }
}

/// Chooses the transfer encoding for a part (RFC 2045 §6): `7bit` when the
/// content already is short CRLF lines of US-ASCII, quoted-printable for
/// text that is mostly ASCII, base64 otherwise.
pub fn choose_encoding(data: &[u8], is_text: bool) -> TransferEncoding {
    let s = ContentStats::of(data);
    if s.high == 0 && s.controls == 0 && s.longest_line <= 76 && !s.bare_lf {
        return TransferEncoding::SevenBit;
    }
    if is_text && s.controls == 0 && s.high * 6 < s.len.max(1) {
        return TransferEncoding::QuotedPrintable;
    }
    TransferEncoding::Base64
}

/// Encodes `data` with `encoding` (identity for 7bit, 8bit and binary).
/// Quoted-printable treats the content as text when `text` is true.
pub fn encode(encoding: TransferEncoding, data: &[u8], text: bool) -> Vec<u8> {
    match encoding {
        TransferEncoding::Base64 => encode_base64(data),
        TransferEncoding::QuotedPrintable => encode_quoted_printable(data, text),
        TransferEncoding::UuEncode => encode_uuencode(data, "data"),
        _ => data.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn split_decode(enc: TransferEncoding, input: &[u8], splits: &[usize]) -> Vec<u8> {
        let mut d = Decoder::new(enc);
        let mut out = Vec::new();
        let mut last = 0;
        for &s in splits {
            let s = s.min(input.len()).max(last);
            d.decode(&input[last..s], &mut out);
            last = s;
        }
        d.decode(&input[last..], &mut out);
        d.finish(&mut out);
        out
    }

    #[test]
    fn base64_tolerant() {
        assert_eq!(
            decode(TransferEncoding::Base64, b"SGVs\r\nbG8=\r\n"),
            b"Hello"
        );
        assert_eq!(decode(TransferEncoding::Base64, b"SG!!Vs bG8"), b"Hello");
        assert_eq!(decode(TransferEncoding::Base64, b"SGk=SGk="), b"HiHi");
    }

    #[test]
    fn rfc2045_6_7_qp() {
        // Rule 3: trailing whitespace deleted; rule 5: soft line breaks.
        let qp = b"Now's the time =\r\nfor all folk to come=\r\n to the aid of their country.   \r\nx=3D1\r\n";
        assert_eq!(
            decode(TransferEncoding::QuotedPrintable, qp),
            b"Now's the time for all folk to come to the aid of their country.\r\nx=1\r\n"
        );
        // Bad escapes kept, lower-case hex accepted.
        assert_eq!(
            decode(TransferEncoding::QuotedPrintable, b"a=zz=3d=\n"),
            b"a=zz="
        );
        assert_eq!(
            decode(TransferEncoding::QuotedPrintable, b"a= \t\r\nb"),
            b"ab"
        );
    }

    #[test]
    fn corpus_encoders() {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/corpus/mime/mimekit-encoders"
        );
        let Ok(jpg) = std::fs::read(format!("{dir}/photo.jpg")) else {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "corpus missing"
            );
            eprintln!("skipping: corpus missing");
            return;
        };
        let b64 = std::fs::read(format!("{dir}/photo.b64")).unwrap();
        assert_eq!(decode(TransferEncoding::Base64, &b64), jpg);
        let uu = std::fs::read(format!("{dir}/photo.uu")).unwrap();
        assert_eq!(decode(TransferEncoding::UuEncode, &uu), jpg);
        assert_eq!(
            decode(
                TransferEncoding::UuEncode,
                &encode_uuencode(&jpg, "photo.jpg")
            ),
            jpg
        );
        assert_eq!(decode(TransferEncoding::Base64, &encode_base64(&jpg)), jpg);
        let qp = std::fs::read(format!("{dir}/wikipedia.qp")).unwrap();
        let txt = std::fs::read(format!("{dir}/wikipedia.txt")).unwrap();
        let norm = |v: Vec<u8>| String::from_utf8(v).unwrap().replace("\r\n", "\n");
        assert_eq!(
            norm(decode(TransferEncoding::QuotedPrintable, &qp)),
            norm(txt)
        );
    }

    #[test]
    fn qp_encode_lines() {
        let long = "é".repeat(100);
        let enc = encode_quoted_printable(long.as_bytes(), true);
        for line in enc.split(|&b| b == b'\n') {
            assert!(line.len() <= 77, "{}", line.len());
        }
        assert_eq!(
            decode(TransferEncoding::QuotedPrintable, &enc),
            long.as_bytes()
        );
        assert_eq!(
            encode_quoted_printable(b"a \r\nFrom x", true),
            b"a=20\r\n=46rom x"
        );
    }

    /// The portable reference for base64: every alphabet character in
    /// order, `=` ends a quantum, every other byte skipped (what the SIMD
    /// paths must reproduce exactly).
    fn portable_base64(input: &[u8]) -> Vec<u8> {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let (mut acc, mut n, mut out) = (0u32, 0, Vec::new());
        let flush = |acc: u32, n: u8, out: &mut Vec<u8>| match n {
            2 => out.push((acc >> 4) as u8),
            3 => out.extend_from_slice(&[(acc >> 10) as u8, (acc >> 2) as u8]),
            _ => {}
        };
        for &c in input {
            if let Some(v) = ALPHABET.iter().position(|&a| a == c) {
                acc = (acc << 6) | v as u32;
                n += 1;
                if n == 4 {
                    out.extend_from_slice(&[(acc >> 16) as u8, (acc >> 8) as u8, acc as u8]);
                    (acc, n) = (0, 0);
                }
            } else if c == b'=' {
                flush(acc, n, &mut out);
                (acc, n) = (0, 0);
            }
        }
        flush(acc, n, &mut out);
        out
    }

    /// `data` in base64 (padded), in lines of `line` characters.
    fn wrapped_base64(data: &[u8], line: usize, crlf: bool) -> Vec<u8> {
        use base64::Engine as _;
        let flat = base64::engine::general_purpose::STANDARD.encode(data);
        let mut out = Vec::new();
        for l in flat.as_bytes().chunks(line) {
            out.extend_from_slice(l);
            out.extend_from_slice(if crlf { b"\r\n" } else { b"\n" });
        }
        out
    }

    /// `input` fed one byte at a time: no escape or run is ever whole in a
    /// call, so every byte takes the portable path.
    fn byte_by_byte(enc: TransferEncoding, input: &[u8]) -> Vec<u8> {
        let mut d = Decoder::new(enc);
        let mut out = Vec::new();
        for b in input {
            d.decode(std::slice::from_ref(b), &mut out);
        }
        d.finish(&mut out);
        out
    }

    /// Whole-body decoding, every two-way split, and byte by byte (which
    /// never finds a whole run or escape, so it takes the portable paths)
    /// all give `want`.
    fn assert_all_paths(enc: TransferEncoding, input: &[u8], want: &[u8]) {
        assert_eq!(decode(enc, input), want, "whole");
        for k in 0..=input.len() {
            assert_eq!(split_decode(enc, input, &[k]), want, "split at {k}");
        }
        assert_eq!(byte_by_byte(enc, input), want, "byte by byte");
    }

    #[test]
    fn base64_every_line_length_and_split() {
        let data: Vec<u8> = (0..97u32).map(|i| (i * 37 + 11) as u8).collect();
        for line in 1..=100 {
            for crlf in [false, true] {
                let enc = wrapped_base64(&data, line, crlf);
                assert_eq!(portable_base64(&enc), data);
                assert_all_paths(TransferEncoding::Base64, &enc, &data);
            }
        }
    }

    #[test]
    fn qp_whole_body_edge_cases() {
        // Held-back white space at and over its bound, lone CRs, a final
        // CR, escapes of white space, bad escapes and a final '='.
        for n in [1023usize, 1024, 1025, 1030] {
            for end in [&b"\r\n"[..], b"\n", b"", b"\r"] {
                let mut input = b"a=20".to_vec();
                input.extend(std::iter::repeat_n(b' ', n));
                input.extend_from_slice(end);
                input.extend_from_slice(b"b \t");
                let want = byte_by_byte(TransferEncoding::QuotedPrintable, &input);
                assert_eq!(
                    decode(TransferEncoding::QuotedPrintable, &input),
                    want,
                    "{n} {end:?}"
                );
            }
        }
        for input in [
            &b"a\r b\r\r\n=41=\r\n=\nx\r"[..],
            b"=4",
            b"=",
            b"=zz =\r =\t\r\n",
            b"=3d=3D\t \r\n",
        ] {
            let want = byte_by_byte(TransferEncoding::QuotedPrintable, input);
            assert_all_paths(TransferEncoding::QuotedPrintable, input, &want);
        }
    }

    #[test]
    fn qp_stop_at_every_offset() {
        // Each stop of the whole-body copy loop ('=' escape, soft break,
        // bad escape, hard line break with and without trailing white
        // space) after every length of plain run, so that it falls at
        // each byte of a 16-byte step, of an 8-byte word and of the tail.
        for stop in [
            &b"=C3=A9"[..],
            b"=\r\n",
            b"=\n",
            b"=zz",
            b" \t\r\n",
            b"\r\n",
            b"\n",
            b"=",
        ] {
            for before in 0..40 {
                for after in [0usize, 1, 7, 8, 15, 16, 17, 33] {
                    let mut input: Vec<u8> = (0..before).map(|k| b'a' + (k % 26) as u8).collect();
                    input.extend_from_slice(stop);
                    input.extend((0..after).map(|k| b'A' + (k % 26) as u8));
                    let want = byte_by_byte(TransferEncoding::QuotedPrintable, &input);
                    assert_all_paths(TransferEncoding::QuotedPrintable, &input, &want);
                }
            }
        }
        // Two stops a gap apart, so that the second is read from the mask
        // of the block that found the first, or from the next block.
        let stops: [&[u8]; 5] = [b"=41", b"=\r\n", b" \r\n", b"\n", b"=3D=3d"];
        for first in stops {
            for second in stops {
                for before in [0usize, 3, 9, 14] {
                    for gap in 0..20 {
                        let mut input = vec![b'x'; before];
                        input.extend_from_slice(first);
                        input.extend((0..gap).map(|k| b'a' + (k % 26) as u8));
                        input.extend_from_slice(second);
                        input.extend_from_slice(b"0123456789abcdefghij");
                        let want = byte_by_byte(TransferEncoding::QuotedPrintable, &input);
                        assert_eq!(
                            decode(TransferEncoding::QuotedPrintable, &input),
                            want,
                            "{input:?}"
                        );
                    }
                }
            }
        }
    }

    /// The line decoding as it was written first, a group at a time
    /// through `extend_from_slice`: the oracle for [`uu_line`].
    fn uu_line_reference(len_ch: u8, rest: &[u8], out: &mut Vec<u8>) {
        let n = usize::from(len_ch.wrapping_sub(b' ') & 0x3f);
        let val = |c: u8| u32::from(c.wrapping_sub(b' ') & 0x3f);
        let mut produced = 0;
        for q in rest.chunks(4) {
            if produced >= n {
                break;
            }
            let mut v = 0u32;
            for k in 0..4 {
                v = (v << 6) | q.get(k).map_or(0, |&c| val(c));
            }
            let bytes = [(v >> 16) as u8, (v >> 8) as u8, v as u8];
            let take = (n - produced).min(3);
            out.extend_from_slice(&bytes[..take]);
            produced += take;
        }
    }

    /// A line of `M` and 59 symbols ended by CRLF is a short line (its
    /// CR is part of the line end), not 60 symbols with a CR for the last:
    /// the full-line path leaves it to the line-by-line one.
    #[test]
    fn uu_full_line_path_leaves_a_short_line_ending_in_crlf() {
        let mut body = b"begin 644 f\nM".to_vec();
        body.extend_from_slice(&[b' '; 60]);
        body.extend_from_slice(b"\nM");
        body.extend_from_slice(&[b' '; 59]);
        body.extend_from_slice(b"\r\n`\nend\n");
        let mut got = Vec::new();
        let mut d = UuDecoder::new();
        d.decode(&body, &mut got);
        d.finish(&mut got);
        assert_eq!(got, [0u8; 90]);
    }

    proptest! {
        /// Bodies of full lines (with junk, CRs, LFs and short lines
        /// among them) give the same bytes through the decoder, with its
        /// full-line fast path, as line by line.
        #[test]
        fn uu_full_lines_agree_with_line_by_line(
            lines in proptest::collection::vec((
                proptest::collection::vec(prop_oneof![8 => 32u8..=96, 1 => any::<u8>()], 60),
                prop_oneof![Just(&b"\n"[..]), Just(&b"\r\n"[..]), Just(&b"\r"[..]), Just(&b""[..])],
                0usize..70,
                any::<bool>(),
            ), 0..8),
            splits in proptest::collection::vec(0usize..600, 0..3),
        ) {
            let mut body = b"begin 644 f\n".to_vec();
            for (symbols, eol, cut, full) in &lines {
                if *full {
                    body.push(b'M');
                    body.extend_from_slice(symbols);
                } else {
                    body.push(b'0' + (*cut % 40) as u8);
                    body.extend_from_slice(&symbols[..cut % 60]);
                }
                body.extend_from_slice(eol);
                body.push(b'\n');
            }
            body.extend_from_slice(b"`\nend\n");
            let mut want = Vec::new();
            let mut reference = UuDecoder::new();
            for line in body.split(|&b| b == b'\n') {
                reference.line_done(line, &mut want);
            }
            let mut got = Vec::new();
            let mut d = UuDecoder::new();
            let mut at = 0;
            let mut cuts: Vec<usize> = splits.iter().map(|s| s % (body.len() + 1)).collect();
            cuts.sort_unstable();
            for c in cuts {
                d.decode(&body[at..c], &mut got);
                at = c;
            }
            d.decode(&body[at..], &mut got);
            d.finish(&mut got);
            prop_assert_eq!(got, want);
        }

        /// Any length character and any line (short, exact, long, any
        /// bytes): the same bytes as the first form.
        #[test]
        fn uu_line_agrees_with_its_first_form(
            len_ch in any::<u8>(),
            rest in proptest::collection::vec(prop_oneof![32u8..=96, any::<u8>()], 0..100),
        ) {
            let (mut a, mut b) = (b"x".to_vec(), b"x".to_vec());
            uu_line(len_ch, &rest, &mut a);
            uu_line_reference(len_ch, &rest, &mut b);
            prop_assert_eq!(a, b);
        }

        #[test]
        fn base64_fast_paths_match_portable(
            data in proptest::collection::vec(any::<u8>(), 0..120),
            line in 1usize..90,
            crlf in any::<bool>(),
            junk in proptest::collection::vec((any::<usize>(), prop_oneof![
                Just(b' '), Just(b'\t'), Just(b'\r'), Just(b'\n'), Just(b'='), Just(b'!'),
                Just(b'-'), Just(b'_'), Just(b'.'), Just(0x0b), any::<u8>()]), 0..4),
        ) {
            let mut enc = wrapped_base64(&data, line, crlf);
            for (at, b) in &junk {
                enc.insert(at % (enc.len() + 1), *b);
            }
            let want = portable_base64(&enc);
            if junk.is_empty() {
                prop_assert_eq!(&want, &data);
            }
            assert_all_paths(TransferEncoding::Base64, &enc, &want);
        }

        #[test]
        fn qp_fast_paths_match_portable(
            lines in proptest::collection::vec(proptest::collection::vec(prop_oneof![
                Just(b'='), Just(b'A'), Just(b'f'), Just(b'3'), Just(b'D'), Just(b'g'),
                Just(b' '), Just(b'\t'), Just(b'\r'), Just(b'x'), any::<u8>()], 0..90), 0..5),
            crlf in any::<bool>(),
        ) {
            let mut input = Vec::new();
            for l in &lines {
                input.extend_from_slice(l);
                input.extend_from_slice(if crlf { b"\r\n" } else { b"\n" });
            }
            // Byte by byte is the portable path: no escape is ever whole.
            let want = byte_by_byte(TransferEncoding::QuotedPrintable, &input);
            assert_all_paths(TransferEncoding::QuotedPrintable, &input, &want);
        }

        #[test]
        fn qp_every_line_length(text in "[ -~\t\u{e9}\u{20ac}]{0,300}", line in 1usize..120) {
            // The encoding of `text` with its soft line breaks removed, then
            // wrapped again every `line` characters (never inside an escape).
            let enc = encode_quoted_printable(text.as_bytes(), false);
            let mut flat: Vec<u8> = enc
                .split(|&b| b == b'\n')
                .flat_map(|l| {
                    let l = l.strip_suffix(b"\r").unwrap_or(l);
                    l.strip_suffix(b"=").unwrap_or(l).to_vec()
                })
                .collect();
            let mut wrapped = Vec::new();
            while !flat.is_empty() {
                let mut take = line.min(flat.len());
                while take < flat.len() && flat[take.saturating_sub(2)..take].contains(&b'=') {
                    take += 1;
                }
                wrapped.extend_from_slice(&flat[..take]);
                wrapped.extend_from_slice(b"=\r\n");
                flat.drain(..take);
            }
            assert_all_paths(TransferEncoding::QuotedPrintable, &wrapped, text.as_bytes());
        }

        #[test]
        fn base64_roundtrip(data in proptest::collection::vec(any::<u8>(), 0..600), splits in proptest::collection::vec(0usize..800, 0..5)) {
            let enc = encode_base64(&data);
            let mut s = splits.clone();
            s.sort();
            prop_assert_eq!(split_decode(TransferEncoding::Base64, &enc, &s), data);
        }

        #[test]
        fn qp_roundtrip_binary(data in proptest::collection::vec(any::<u8>(), 0..600), splits in proptest::collection::vec(0usize..2000, 0..5)) {
            let enc = encode_quoted_printable(&data, false);
            for line in enc.split(|&b| b == b'\n') {
                prop_assert!(line.len() <= 77);
            }
            let mut s = splits.clone();
            s.sort();
            prop_assert_eq!(split_decode(TransferEncoding::QuotedPrintable, &enc, &s), data);
        }

        #[test]
        fn qp_roundtrip_text(lines in proptest::collection::vec("[ -~\t\u{e9}\u{4e2d}]{0,200}", 0..6), splits in proptest::collection::vec(0usize..2000, 0..5)) {
            let text = lines.join("\r\n");
            let enc = encode_quoted_printable(text.as_bytes(), true);
            let mut s = splits.clone();
            s.sort();
            prop_assert_eq!(split_decode(TransferEncoding::QuotedPrintable, &enc, &s), text.as_bytes());
        }

        #[test]
        fn decoders_split_invariant(data in proptest::collection::vec(prop_oneof![Just(b'='), Just(b'\r'), Just(b'\n'), Just(b' '), Just(b'A'), Just(b'3'), any::<u8>()], 0..300), split in 0usize..300) {
            for enc in [TransferEncoding::Base64, TransferEncoding::QuotedPrintable, TransferEncoding::UuEncode] {
                let whole = decode(enc, &data);
                prop_assert_eq!(split_decode(enc, &data, &[split]), whole.clone());
                prop_assert_eq!(byte_by_byte(enc, &data), whole);
            }
        }
    }
}

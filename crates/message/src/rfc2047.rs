//! RFC 2047 encoded words: decoding in unstructured text and phrases, and
//! encoding for the builder.
//!
//! ```text
//! encoded-word = "=?" charset ["*" language] "?" encoding "?" encoded-text "?="   ; RFC 2047 §2, RFC 2231 §5
//! encoding     = "B" / "Q"
//! ```
//!
//! Decoding follows RFC 2047 §6.2: white space between two adjacent encoded
//! words is dropped, and the bytes of adjacent words in the same charset are
//! joined before charset decoding, so a character split across two words
//! comes back whole. Malformed words are kept as text, with a defect.
//!
//! ```
//! use mailwire_message::decode_unstructured;
//! assert_eq!(
//!     decode_unstructured(b" =?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?= c"),
//!     "ab c"
//! );
//! assert_eq!(
//!     decode_unstructured(b"=?UTF-8?B?w6k=?=\r\n =?UTF-8*fr?Q?t=C3=A9?="),
//!     "\u{e9}t\u{e9}"
//! );
//! ```

use std::borrow::Cow;

use base64::Engine as _;

use crate::charset::{self, DecodeStatus};
use crate::defect::{Defect, DefectKind, DefectSink, IgnoreDefects};

/// The transfer encoding of an encoded word (RFC 2047 §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WordEncoding {
    /// "B": base64 (RFC 2047 §4.1).
    B,
    /// "Q": quoted-printable-like, `_` for space (RFC 2047 §4.2).
    Q,
}

/// One encoded word, borrowed from its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncodedWord<'a> {
    /// The charset label, without the RFC 2231 language suffix.
    pub charset: &'a [u8],
    /// The RFC 2231 §5 language, if any (`=?utf-8*en?q?...?=`).
    pub language: Option<&'a [u8]>,
    /// B or Q.
    pub encoding: WordEncoding,
    /// The encoded text, between the third `?` and the closing `?=`.
    pub text: &'a [u8],
}

/// The first index of the two-byte sequence `a b` (cheaper than building
/// a `memmem` finder for two bytes on short header values).
#[inline]
pub(crate) fn find_pair(hay: &[u8], a: u8, b: u8) -> Option<usize> {
    let mut i = 0;
    while let Some(p) = memchr::memchr(a, &hay[i..]) {
        let at = i + p;
        if hay.get(at + 1) == Some(&b) {
            return Some(at);
        }
        i = at + 1;
    }
    None
}

/// Largest encoded word looked for (RFC 2047 §2 says 75; real mail has
/// longer ones). Bounds the search for `?=`.
const MAX_WORD: usize = 4096;

#[inline]
fn is_token_char(b: u8) -> bool {
    crate::lex::is_token(b)
}

/// Outcome of trying to read an encoded word at a position.
enum WordParse<'a> {
    Word(EncodedWord<'a>, usize),
    Malformed(usize),
    NotAWord,
}

/// Where the charset (`charset ["*" language]`, token characters and the
/// `.` seen in the wild) at the start of `rest` ends: the position of its
/// `?` and of its `*`, if any. `None` when `rest` does not start with one.
///
/// `utf-8`, the charset of nearly every word, is matched in any case from
/// one eight-byte load: the byte loop cost a word a quarter of its time
/// (a `To:` of 2,710 encoded words read in 53 µs with the loop, 40 without).
#[inline]
fn charset_end(rest: &[u8]) -> Option<(usize, Option<usize>)> {
    const UTF8: u64 = u64::from_le_bytes(*b"utf-8?\0\0");
    // The three letters lower-cased (an OR of 0x20 makes only `U`, `T`
    // and `F` into them), the six bytes compared.
    if let Some(w) = rest.first_chunk::<8>()
        && (u64::from_le_bytes(*w) | 0x20_2020) & 0xffff_ffff_ffff == UTF8
    {
        return Some((5, None));
    }
    let mut star = None;
    for (q1, &b) in rest.iter().enumerate().take(81) {
        match b {
            b'?' if q1 == 0 || star == Some(0) => return None,
            b'?' => return Some((q1, star)),
            b'*' if star.is_none() => star = Some(q1),
            b if is_token_char(b) || b == b'.' => {}
            _ => return None,
        }
    }
    None
}

#[inline]
fn parse_word_at(input: &[u8]) -> WordParse<'_> {
    // input starts with "=?"
    let rest = &input[2..];
    let Some((q1, star)) = charset_end(rest) else {
        return WordParse::NotAWord;
    };
    let cs_full = &rest[..q1];
    let after = &rest[q1 + 1..];
    if after.len() < 2 || after[1] != b'?' {
        return WordParse::NotAWord;
    }
    let encoding = match after[0] {
        b'B' | b'b' => Some(WordEncoding::B),
        b'Q' | b'q' => Some(WordEncoding::Q),
        _ => None,
    };
    let text_area = &after[2..];
    let window = &text_area[..text_area.len().min(MAX_WORD)];
    // encoded-text holds no '?', space or line break (RFC 2047 §2): the
    // first of them must be the '?' of the closing "?=". An encoded text
    // is short (RFC 2047 §2 bounds a word at 75 bytes): found eight bytes
    // at a time without a vector search's set-up (a header of thousands of
    // encoded words spent a third of its time in that set-up).
    let Some(end) = mailwire_line::find_any_short(window, [b'?', b' ', b'\n']) else {
        return WordParse::NotAWord;
    };
    if window[end] != b'?' || window.get(end + 1) != Some(&b'=') {
        return WordParse::NotAWord;
    }
    let text = &text_area[..end];
    let total = 2 + q1 + 1 + 2 + end + 2;
    let Some(encoding) = encoding else {
        return WordParse::Malformed(total);
    };
    let (charset, language) = match star {
        Some(star) => (&cs_full[..star], Some(&cs_full[star + 1..])),
        None => (cs_full, None),
    };
    WordParse::Word(
        EncodedWord {
            charset,
            language,
            encoding,
            text,
        },
        total,
    )
}

/// The length of the well formed encoded word at the start of `input`
/// (what [`parse_encoded_word`] would take), without handing the parsed
/// word out: the lexer only needs where it ends.
#[inline]
pub(crate) fn encoded_word_len(input: &[u8]) -> Option<usize> {
    if !input.starts_with(b"=?") {
        return None;
    }
    match parse_word_at(input) {
        WordParse::Word(_, n) => Some(n),
        _ => None,
    }
}

/// Parse one encoded word at the start of `input`. Returns the word and how
/// many bytes it took, or `None` when `input` does not start with a well
/// formed encoded word.
pub fn parse_encoded_word(input: &[u8]) -> Option<(EncodedWord<'_>, usize)> {
    if !input.starts_with(b"=?") {
        return None;
    }
    match parse_word_at(input) {
        WordParse::Word(w, n) => Some((w, n)),
        _ => None,
    }
}

static B64: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

impl EncodedWord<'_> {
    /// The word's bytes before charset decoding, or `None` when the
    /// encoded text is not valid B or Q.
    pub fn decode_bytes(&self) -> Option<Vec<u8>> {
        let mut out = Vec::with_capacity(self.text.len());
        self.decode_into(&mut out).then_some(out)
    }

    /// Append the word's bytes before charset decoding to `out`; `false`
    /// (and `out` unchanged) when the encoded text is not valid B or Q.
    pub fn decode_into(&self, out: &mut Vec<u8>) -> bool {
        let before = out.len();
        match self.encoding {
            WordEncoding::B => {
                let t: &[u8] = self.text;
                let b64 = |b: u8| b.is_ascii_alphanumeric() || b == b'+' || b == b'/';
                // Padding is optional (the engine is indifferent to it).
                let mut unpadded = t;
                while let [rest @ .., b'='] = unpadded {
                    unpadded = rest;
                }
                let ok = if unpadded.iter().all(|&b| b64(b)) {
                    B64.decode_vec(unpadded, out).is_ok()
                } else if t.iter().all(|&b| b64(b) || b == b'=' || b == b' ') {
                    // Tolerate stray padding and white space inside.
                    let cleaned: Vec<u8> = t.iter().copied().filter(|&b| b64(b)).collect();
                    B64.decode_vec(&cleaned, out).is_ok()
                } else {
                    false
                };
                if !ok {
                    out.truncate(before);
                }
                ok
            }
            WordEncoding::Q => {
                decode_q_into(self.text, out);
                true
            }
        }
    }
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decode RFC 2047 §4.2 "Q" text: `_` is a space, `=XX` a byte; a `=`
/// not followed by two hex digits is kept as it is.
pub fn decode_q(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    decode_q_into(text, &mut out);
    out
}

fn decode_q_into(text: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while i < text.len() {
        match text[i] {
            b'_' => out.push(b' '),
            b'=' => match (
                text.get(i + 1).copied().and_then(hex),
                text.get(i + 2).copied().and_then(hex),
            ) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 3;
                    continue;
                }
                _ => out.push(b'='),
            },
            b => out.push(b),
        }
        i += 1;
    }
}

/// Accumulates decoded text; joins adjacent encoded words of one charset.
struct Decoder<'s, 'c, S: DefectSink + ?Sized> {
    out: String,
    pending_charset: &'c [u8],
    pending_bytes: Vec<u8>,
    /// Reused buffer for one word's bytes.
    scratch: Vec<u8>,
    pending_offset: usize,
    has_pending: bool,
    sink: &'s mut S,
}

impl<'c, S: DefectSink + ?Sized> Decoder<'_, 'c, S> {
    fn new(sink: &mut S, capacity: usize) -> Decoder<'_, 'c, S> {
        Decoder {
            out: String::with_capacity(capacity),
            pending_charset: b"",
            pending_bytes: Vec::new(),
            scratch: Vec::new(),
            pending_offset: 0,
            has_pending: false,
            sink,
        }
    }

    /// Decode `w` into the scratch buffer; `false` if it is malformed.
    fn try_word(&mut self, w: &EncodedWord<'c>) -> bool {
        self.scratch.clear();
        w.decode_into(&mut self.scratch)
    }

    fn flush(&mut self) {
        if !self.has_pending {
            return;
        }
        self.has_pending = false;
        let status = decode_charset_into(self.pending_charset, &self.pending_bytes, &mut self.out);
        match status {
            DecodeStatus::Ok => {}
            DecodeStatus::Malformed => self.sink.push_defect(Defect::new(
                DefectKind::CharsetDecodeError,
                self.pending_offset,
            )),
            DecodeStatus::UnknownCharset => self
                .sink
                .push_defect(Defect::new(DefectKind::UnknownCharset, self.pending_offset)),
        }
        self.pending_bytes.clear();
    }

    /// Add the word decoded by the last successful `try_word`.
    fn word(&mut self, w: &EncodedWord<'c>, offset: usize) {
        if self.has_pending && self.pending_charset.eq_ignore_ascii_case(w.charset) {
            self.pending_bytes.extend_from_slice(&self.scratch);
            return;
        }
        self.flush();
        self.pending_charset = w.charset;
        // Take the scratch buffer instead of copying it.
        std::mem::swap(&mut self.pending_bytes, &mut self.scratch);
        self.pending_offset = offset;
        self.has_pending = true;
    }

    /// Plain text: unfold (drop CR and LF) and decode as UTF-8 or windows-1252.
    fn text(&mut self, t: &[u8], offset: usize) {
        if t.is_empty() {
            return;
        }
        self.flush();
        push_plain(&mut self.out, t, offset, self.sink);
    }
}

/// Decode `bytes` in charset `label`, appending to `out` (no temporary
/// string for the WHATWG charsets).
fn decode_charset_into(label: &[u8], bytes: &[u8], out: &mut String) -> DecodeStatus {
    match charset::Charset::for_label(label) {
        Some(charset::Charset::Whatwg(enc))
            if enc != encoding_rs::UTF_16LE && enc != encoding_rs::UTF_16BE =>
        {
            if enc == encoding_rs::UTF_8
                && let Ok(s) = std::str::from_utf8(bytes)
            {
                out.push_str(s);
                return DecodeStatus::Ok;
            }
            let mut dec = enc.new_decoder_without_bom_handling();
            let need = dec
                .max_utf8_buffer_length(bytes.len())
                .unwrap_or(bytes.len() * 3 + 16);
            out.reserve(need);
            let (_, _, errors) = dec.decode_to_string(bytes, out, true);
            if errors {
                DecodeStatus::Malformed
            } else {
                DecodeStatus::Ok
            }
        }
        _ => {
            let (text, status) = charset::decode(label, bytes);
            out.push_str(&text);
            status
        }
    }
}

/// Push header text, dropping CR and LF (unfolding) and decoding UTF-8 or windows-1252.
pub(crate) fn push_plain<S: DefectSink + ?Sized>(
    out: &mut String,
    t: &[u8],
    offset: usize,
    sink: &mut S,
) {
    let mut start = 0;
    for (i, &b) in t.iter().enumerate() {
        if b == b'\r' || b == b'\n' {
            push_bytes(out, &t[start..i], offset + start, sink);
            start = i + 1;
        }
    }
    push_bytes(out, &t[start..], offset + start, sink);
}

fn push_bytes<S: DefectSink + ?Sized>(out: &mut String, t: &[u8], offset: usize, sink: &mut S) {
    match std::str::from_utf8(t) {
        Ok(s) => out.push_str(s),
        Err(e) => {
            sink.push_defect(Defect::new(
                DefectKind::InvalidUtf8,
                offset + e.valid_up_to(),
            ));
            out.push_str(&charset::bytes_to_text(t));
        }
    }
}

#[inline]
fn is_wsp(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// Decode an unstructured field body (Subject, Comments, ...; RFC 5322
/// §3.2.5) with RFC 2047 §6.2 rules: unfold, trim, decode encoded words.
/// Defects are dropped; see [`decode_unstructured_with`].
pub fn decode_unstructured(value: &[u8]) -> Cow<'_, str> {
    decode_unstructured_with(value, &mut IgnoreDefects)
}

/// As [`decode_unstructured`], recording defects (offsets relative to `value`).
pub fn decode_unstructured_with<'a, S: DefectSink + ?Sized>(
    value: &'a [u8],
    sink: &mut S,
) -> Cow<'a, str> {
    let trimmed = crate::header::trim_wsp(value);
    let base = if trimmed.is_empty() {
        0
    } else {
        trimmed.as_ptr() as usize - value.as_ptr() as usize
    };
    let has_word = find_pair(trimmed, b'=', b'?').is_some();
    if !has_word && memchr::memchr2(b'\r', b'\n', trimmed).is_none() {
        return match std::str::from_utf8(trimmed) {
            Ok(s) => Cow::Borrowed(s),
            Err(e) => {
                sink.push_defect(Defect::new(DefectKind::InvalidUtf8, base + e.valid_up_to()));
                charset::bytes_to_text(trimmed)
            }
        };
    }
    let mut d = Decoder::new(sink, trimmed.len());
    let mut pos = 0;
    let mut text_start = 0;
    // End of the last encoded word, if the text since then is only white space.
    let mut after_word: Option<usize> = None;
    while let Some(rel) = find_pair(&trimmed[pos..], b'=', b'?') {
        let at = pos + rel;
        match parse_word_at(&trimmed[at..]) {
            WordParse::Word(w, n) => {
                let between = &trimmed[text_start..at];
                let ws_only = between.iter().all(|&b| is_wsp(b));
                let delimited_before = at == 0 || is_wsp(trimmed[at - 1]) || after_word == Some(at);
                let end = at + n;
                let delimited_after = end == trimmed.len()
                    || is_wsp(trimmed[end])
                    || trimmed[end..].starts_with(b"=?");
                if !delimited_before || !delimited_after {
                    d.sink
                        .push_defect(Defect::new(DefectKind::EncodedWordNotDelimited, base + at));
                }
                if n > 75 {
                    d.sink
                        .push_defect(Defect::new(DefectKind::EncodedWordTooLong, base + at));
                }
                match d.try_word(&w) {
                    true => {
                        if !(ws_only && after_word.is_some()) {
                            d.text(between, base + text_start);
                        }
                        d.word(&w, base + at);
                        after_word = Some(end);
                    }
                    false => {
                        d.sink
                            .push_defect(Defect::new(DefectKind::MalformedEncodedWord, base + at));
                        d.text(&trimmed[text_start..end], base + text_start);
                        after_word = None;
                    }
                }
                pos = end;
                text_start = end;
            }
            WordParse::Malformed(n) => {
                d.sink
                    .push_defect(Defect::new(DefectKind::MalformedEncodedWord, base + at));
                pos = at + n;
                after_word = None;
            }
            WordParse::NotAWord => {
                pos = at + 2;
                if after_word.is_some() {
                    // Text that is not white space follows the last word.
                    after_word = None;
                }
            }
        }
    }
    d.text(&trimmed[text_start..], base + text_start);
    d.flush();
    Cow::Owned(d.out)
}

/// A token of a phrase (RFC 5322 §3.2.5) as the address parser sees it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum PhraseToken<'a> {
    /// An atom (or several atext runs), as written.
    Atom(&'a [u8]),
    /// A quoted string's content, escapes still in place.
    Quoted(&'a [u8]),
    /// A "." (obs-phrase).
    Dot,
}

/// One phrase token and where it lies in the source it was read from,
/// which gives the token back ([`PhraseItem::token`]): 24 bytes, where an
/// item holding the token's slice took 40, copied again each time the list
/// grew (a `To:` of 2,710 encoded words spent a twelfth of its time there).
#[derive(Debug, Clone, Copy)]
pub(crate) struct PhraseItem<'a> {
    /// Where the token starts (a quoted string's opening quote).
    pub(crate) offset: usize,
    /// The length of its text (a quoted string's content).
    len: usize,
    kind: PhraseKind,
    pub(crate) space_before: bool,
    src: std::marker::PhantomData<&'a [u8]>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PhraseKind {
    Atom,
    Quoted,
    Dot,
}

impl<'a> PhraseItem<'a> {
    /// `token`, read at `offset` of `src` (an atom's text starts there, a
    /// quoted string's content a byte after).
    pub(crate) fn new(
        src: &'a [u8],
        token: PhraseToken<'a>,
        space_before: bool,
        offset: usize,
    ) -> Self {
        let (kind, len) = match token {
            PhraseToken::Atom(a) => (PhraseKind::Atom, a.len()),
            PhraseToken::Quoted(q) => (PhraseKind::Quoted, q.len()),
            PhraseToken::Dot => (PhraseKind::Dot, 1),
        };
        let item = PhraseItem {
            offset,
            len,
            kind,
            space_before,
            src: std::marker::PhantomData,
        };
        debug_assert!(match (token, item.token(src)) {
            (PhraseToken::Atom(a), PhraseToken::Atom(b))
            | (PhraseToken::Quoted(a), PhraseToken::Quoted(b)) => std::ptr::eq(a, b),
            (PhraseToken::Dot, PhraseToken::Dot) => true,
            _ => false,
        });
        item
    }

    /// The token, from the source it was read from.
    #[inline]
    pub(crate) fn token(&self, src: &'a [u8]) -> PhraseToken<'a> {
        let text = |at: usize| src.get(at..at + self.len).unwrap_or_default();
        match self.kind {
            PhraseKind::Atom => PhraseToken::Atom(text(self.offset)),
            PhraseKind::Quoted => PhraseToken::Quoted(text(self.offset + 1)),
            PhraseKind::Dot => PhraseToken::Dot,
        }
    }

    /// Whether the token is a `.`.
    pub(crate) fn is_dot(&self) -> bool {
        self.kind == PhraseKind::Dot
    }

    /// Where the token ends in its source (past a quoted string's closing
    /// quote, where it has one).
    pub(crate) fn end(&self) -> usize {
        match self.kind {
            PhraseKind::Quoted => self.offset + self.len + 2,
            PhraseKind::Atom | PhraseKind::Dot => self.offset + self.len,
        }
    }
}

/// Unescape a quoted string's content (RFC 5322 §3.2.4): drop `\` before a
/// character and the CRLF of folding.
pub(crate) fn unquote(content: &[u8]) -> Cow<'_, [u8]> {
    if memchr::memchr3(b'\\', b'\r', b'\n', content).is_none() {
        return Cow::Borrowed(content);
    }
    let mut out = Vec::with_capacity(content.len());
    let mut i = 0;
    while i < content.len() {
        match content[i] {
            b'\\' if i + 1 < content.len() => {
                out.push(content[i + 1]);
                i += 2;
                continue;
            }
            b'\r' | b'\n' => {}
            b => out.push(b),
        }
        i += 1;
    }
    Cow::Owned(out)
}

/// Render a phrase: words joined by one space, quoted strings unquoted,
/// encoded words decoded (RFC 2047 §5(3), §6.2). Borrowed from `src` when
/// it is a run of plain words separated by single spaces.
pub(crate) fn render_phrase<'a, S: DefectSink + ?Sized>(
    src: &'a [u8],
    items: &[PhraseItem<'a>],
    sink: &mut S,
) -> Cow<'a, str> {
    let (Some(first), Some(last)) = (items.first(), items.last()) else {
        return Cow::Borrowed("");
    };
    // Fast path: one quoted string, or atoms and dots separated by single spaces.
    if items.len() == 1
        && let PhraseToken::Quoted(q) = first.token(src)
        && find_pair(q, b'=', b'?').is_none()
        && let Cow::Borrowed(b) = unquote(q)
        && let Ok(s) = std::str::from_utf8(b)
    {
        return Cow::Borrowed(s);
    }
    let simple = items.iter().all(|it| match it.token(src) {
        PhraseToken::Atom(a) => !a.starts_with(b"=?"),
        PhraseToken::Dot => true,
        PhraseToken::Quoted(_) => false,
    });
    if simple {
        let (start, end) = (first.offset, last.end());
        if end <= src.len() && start <= end {
            let slice = &src[start..end];
            // Equal to the rendering when every gap is exactly one space
            // (or nothing before a dot).
            let mut expected = 0usize;
            for (i, it) in items.iter().enumerate() {
                if i > 0 && it.space_before {
                    expected += 1;
                }
                expected += it.len;
            }
            if expected == slice.len()
                && memchr::memchr3(b'\r', b'\n', b'\t', slice).is_none()
                && memchr::memchr(b'(', slice).is_none()
                && !slice.windows(2).any(|w| w == b"  ")
                && let Ok(s) = std::str::from_utf8(slice)
            {
                return Cow::Borrowed(s);
            }
        }
    }
    let mut d = Decoder::new(sink, 32);
    let mut prev_word = false;
    for (i, it) in items.iter().enumerate() {
        let space = i > 0 && it.space_before;
        match it.token(src) {
            PhraseToken::Atom(a) if a.starts_with(b"=?") => {
                if let Some((w, n)) = parse_encoded_word(a).filter(|(_, n)| *n == a.len()) {
                    let _ = n;
                    if d.try_word(&w) {
                        if space && !prev_word {
                            d.flush();
                            d.out.push(' ');
                        }
                        d.word(&w, it.offset);
                        prev_word = true;
                        continue;
                    }
                    d.sink
                        .push_defect(Defect::new(DefectKind::MalformedEncodedWord, it.offset));
                }
                if space {
                    d.text(b" ", it.offset);
                }
                d.text(a, it.offset);
                prev_word = false;
            }
            PhraseToken::Atom(a) => {
                if space {
                    d.text(b" ", it.offset);
                }
                d.text(a, it.offset);
                prev_word = false;
            }
            PhraseToken::Dot => {
                if space {
                    d.text(b" ", it.offset);
                }
                d.text(b".", it.offset);
                prev_word = false;
            }
            PhraseToken::Quoted(q) => {
                if space {
                    d.text(b" ", it.offset);
                }
                let content = unquote(q);
                if find_pair(&content, b'=', b'?').is_some() {
                    let mut tmp: Vec<Defect> = Vec::new();
                    let decoded = decode_unstructured_with(&content, &mut tmp);
                    if let Cow::Owned(_) = decoded {
                        d.sink.push_defect(Defect::new(
                            DefectKind::EncodedWordInQuotedString,
                            it.offset,
                        ));
                    }
                    for x in tmp {
                        d.sink.push_defect(Defect::new(x.kind, it.offset));
                    }
                    d.flush();
                    // Keep the quoted string's own leading/trailing spaces.
                    let lead = content.iter().take_while(|&&b| b == b' ').count();
                    let trail = content.iter().rev().take_while(|&&b| b == b' ').count();
                    for _ in 0..lead.min(content.len()) {
                        d.out.push(' ');
                    }
                    d.out.push_str(&decoded);
                    if lead < content.len() {
                        for _ in 0..trail {
                            d.out.push(' ');
                        }
                    }
                } else {
                    d.text(&content, it.offset);
                }
                prev_word = false;
            }
        }
    }
    d.flush();
    Cow::Owned(d.out)
}

/// Decode a phrase (RFC 5322 §3.2.5: a display name, a Keywords item)
/// with its encoded words: comments dropped, quoted strings unquoted, words
/// joined by one space. Defects are dropped; see [`decode_phrase_with`].
pub fn decode_phrase(value: &[u8]) -> Cow<'_, str> {
    decode_phrase_with(value, &mut IgnoreDefects)
}

/// As [`decode_phrase`], recording defects (offsets relative to `value`).
pub fn decode_phrase_with<'a, S: DefectSink + ?Sized>(
    value: &'a [u8],
    sink: &mut S,
) -> Cow<'a, str> {
    let mut lx = crate::lex::Lexer::new(value, 0);
    let mut items = Vec::new();
    loop {
        let space = lx.skip_cfws(sink);
        let Some(b) = lx.peek() else { break };
        let offset = lx.pos;
        let token = match b {
            b'"' => PhraseToken::Quoted(lx.quoted_string(sink)),
            b'.' => {
                lx.pos += 1;
                PhraseToken::Dot
            }
            _ => match lx.atom_lenient() {
                Some(a) => PhraseToken::Atom(a),
                None => {
                    // A special: keep it as text.
                    lx.pos += 1;
                    PhraseToken::Atom(&value[offset..offset + 1])
                }
            },
        };
        items.push(PhraseItem::new(value, token, space, offset));
    }
    render_phrase(value, &items, sink)
}

// ------------------------------------------------------------------------
// Encoding

/// Whether `text` can go into a header as it is (printable US-ASCII and
/// white space, no sequence that would read as an encoded word).
pub fn is_plain_ascii(text: &str) -> bool {
    text.bytes()
        .all(|b| (0x20..0x7f).contains(&b) || b == b'\t')
        && !looks_encoded(text)
}

fn looks_encoded(word: &str) -> bool {
    word.contains("=?")
}

/// Characters that stand for themselves in a "Q" word anywhere, including
/// in phrases (RFC 2047 §5(3)).
#[inline]
fn q_literal(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'!' | b'*' | b'+' | b'-' | b'/')
}

fn q_len(c: char) -> usize {
    if c == ' ' || (c.is_ascii() && q_literal(c as u8)) {
        1
    } else {
        3 * c.len_utf8()
    }
}

/// Encode `text` as one or more UTF-8 encoded words, each at most 75
/// characters (RFC 2047 §2), never splitting a character (§5), choosing
/// B or Q by which is shorter; words are separated by one space.
pub fn encode_words(text: &str) -> String {
    const PREFIX_Q: &str = "=?UTF-8?Q?";
    const PREFIX_B: &str = "=?UTF-8?B?";
    const MAX_PAYLOAD: usize = 75 - 12;
    let q_total: usize = text.chars().map(q_len).sum();
    let b_total = text.len().div_ceil(3) * 4;
    // Q reads better for mostly-Latin text: prefer it unless B is clearly shorter.
    let use_q = q_total <= b_total + b_total / 4;
    let mut out = String::with_capacity(text.len() * 2);
    let mut chunk_start = 0;
    let mut chunk_len = 0; // payload length of the current chunk
    let push_chunk = |out: &mut String, s: &str| {
        if s.is_empty() {
            return;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        if use_q {
            out.push_str(PREFIX_Q);
            for b in s.bytes() {
                if b == b' ' {
                    out.push('_');
                } else if q_literal(b) {
                    out.push(b as char);
                } else {
                    const HEX: &[u8; 16] = b"0123456789ABCDEF";
                    out.push('=');
                    out.push(HEX[(b >> 4) as usize] as char);
                    out.push(HEX[(b & 15) as usize] as char);
                }
            }
        } else {
            out.push_str(PREFIX_B);
            out.push_str(&base64::engine::general_purpose::STANDARD.encode(s.as_bytes()));
        }
        out.push_str("?=");
    };
    let mut bytes_in_chunk = 0;
    for (i, c) in text.char_indices() {
        let add = if use_q {
            q_len(c)
        } else {
            // B length of the chunk if c is added.
            (bytes_in_chunk + c.len_utf8()).div_ceil(3) * 4 - chunk_len
        };
        if chunk_len + add > MAX_PAYLOAD && i > chunk_start {
            push_chunk(&mut out, &text[chunk_start..i]);
            chunk_start = i;
            chunk_len = 0;
            bytes_in_chunk = 0;
        }
        bytes_in_chunk += c.len_utf8();
        chunk_len = if use_q {
            chunk_len + q_len(c)
        } else {
            bytes_in_chunk.div_ceil(3) * 4
        };
    }
    push_chunk(&mut out, &text[chunk_start..]);
    out
}

fn word_needs_encoding(word: &str, utf8: bool) -> bool {
    word.len() > 900
        || looks_encoded(word)
        || word.bytes().any(|b| {
            if utf8 {
                b < 0x20 || b == 0x7f
            } else {
                !(0x21..0x7f).contains(&b)
            }
        })
}

/// Encode unstructured text (RFC 5322 §3.2.5) for a header: words that
/// need it become encoded words (runs of such words share words, so the
/// spaces between them survive decoding); the rest is kept as it is.
/// With `utf8` (RFC 6532 output), non-ASCII is written raw and only words
/// that would read as encoded words are encoded.
///
/// The text must not contain CR, LF or NUL (the builder refuses them).
pub fn encode_unstructured(text: &str, utf8: bool) -> Cow<'_, str> {
    if text.bytes().all(|b| (0x20..0x7f).contains(&b))
        && !looks_encoded(text)
        && !text.split(' ').any(|w| w.len() > 900)
    {
        return Cow::Borrowed(text);
    }
    if utf8 && !text.split(' ').any(|w| word_needs_encoding(w, true)) {
        return Cow::Borrowed(text);
    }
    // Split into words at spaces, keeping the spaces.
    let mut out = String::with_capacity(text.len() * 2);
    let words: Vec<&str> = text.split(' ').collect();
    let mut i = 0;
    while i < words.len() {
        if i > 0 {
            out.push(' ');
        }
        if !word_needs_encoding(words[i], utf8) {
            out.push_str(words[i]);
            i += 1;
            continue;
        }
        // A run of words to encode together, with the spaces between them.
        // Empty words (runs of spaces) between two words to encode go into
        // the run too: white space between encoded words is dropped when
        // decoding (RFC 2047 §6.2), so it must be inside the encoding.
        let mut j = i;
        loop {
            let mut k = j + 1;
            while k < words.len() && words[k].is_empty() {
                k += 1;
            }
            if k < words.len() && word_needs_encoding(words[k], utf8) {
                j = k;
            } else {
                break;
            }
        }
        let run = words[i..=j].join(" ");
        out.push_str(&encode_words(&run));
        i = j + 1;
    }
    Cow::Owned(out)
}

/// Encode a display name or other phrase (RFC 5322 §3.2.5) for a header:
/// as it is when it is a run of atoms, as a quoted string when it is
/// printable ASCII, else as encoded words (or, with `utf8`, as a quoted
/// string holding raw UTF-8, RFC 6532 §3.2).
pub fn encode_phrase(text: &str, utf8: bool) -> Cow<'_, str> {
    let atoms = !text.is_empty()
        && text.split(' ').all(|w| {
            !w.is_empty()
                && w.bytes()
                    .all(|b| crate::lex::is_atext(b) || (utf8 && b >= 0x80))
        })
        && !looks_encoded(text);
    if atoms {
        return Cow::Borrowed(text);
    }
    let printable = text
        .bytes()
        .all(|b| (0x20..0x7f).contains(&b) || (utf8 && b >= 0x80));
    if printable && !looks_encoded(text) {
        let mut out = String::with_capacity(text.len() + 2);
        out.push('"');
        for c in text.chars() {
            if c == '"' || c == '\\' {
                out.push('\\');
            }
            out.push(c);
        }
        out.push('"');
        return Cow::Owned(out);
    }
    Cow::Owned(encode_words(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(s: &[u8]) -> (String, Vec<Defect>) {
        let mut d = Vec::new();
        let t = decode_unstructured_with(s, &mut d).into_owned();
        (t, d)
    }

    #[test]
    fn rfc2047_section_8_examples() {
        assert_eq!(dec(b"(=?ISO-8859-1?Q?a?=)").0, "(a)");
        assert_eq!(dec(b"=?ISO-8859-1?Q?a?= b").0, "a b");
        assert_eq!(dec(b"=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?=").0, "ab");
        assert_eq!(dec(b"=?ISO-8859-1?Q?a?=  =?ISO-8859-1?Q?b?=").0, "ab");
        assert_eq!(dec(b"=?ISO-8859-1?Q?a?=\r\n    =?ISO-8859-1?Q?b?=").0, "ab");
        assert_eq!(dec(b"=?ISO-8859-1?Q?a_b?=").0, "a b");
        assert_eq!(dec(b"=?ISO-8859-1?Q?a?= =?ISO-8859-2?Q?_b?=").0, "a b");
        assert_eq!(
            dec(b"=?ISO-8859-1?Q?Keld_J=F8rn_Simonsen?=").0,
            "Keld J\u{f8}rn Simonsen"
        );
        assert_eq!(dec(b"=?US-ASCII?Q?Keith_Moore?=").0, "Keith Moore");
        assert_eq!(
            dec(b"=?ISO-8859-1?B?SWYgeW91IGNhbiByZWFkIHRoaXMgeW8=?=\r\n    =?ISO-8859-2?B?dSB1bmRlcnN0YW5kIHRoZSBleGFtcGxlLg==?=").0,
            "If you can read this you understand the example."
        );
    }

    #[test]
    fn split_character_rejoined() {
        // "é" = C3 A9 split across two B words.
        assert_eq!(dec(b"=?utf-8?B?w6?= =?utf-8?Q?=A9?=").0, "é");
        assert_eq!(dec(b"=?utf-8?Q?=C3?= =?UTF-8?Q?=A9x?=").0, "éx");
    }

    #[test]
    fn malformed_kept() {
        let (t, d) = dec(b"=?utf-8?X?abc?= ok");
        assert_eq!(t, "=?utf-8?X?abc?= ok");
        assert_eq!(d[0].kind, DefectKind::MalformedEncodedWord);
        let (t, d) = dec(b"=?utf-8?B?#####?=");
        assert_eq!(t, "=?utf-8?B?#####?=");
        assert_eq!(d[0].kind, DefectKind::MalformedEncodedWord);
        let (t, d) = dec(b"=?x-unknown?Q?abc?=");
        assert_eq!(t, "abc");
        assert_eq!(d[0].kind, DefectKind::UnknownCharset);
        assert_eq!(dec(b"a =? b").0, "a =? b");
    }

    #[test]
    fn utf7_word() {
        assert_eq!(dec(b"=?utf-7?Q?Hi_+Jjo-?=").0, "Hi \u{263A}");
    }

    #[test]
    fn encode_round_trip() {
        for s in [
            "héllo wörld",
            "plain text",
            "日本語のテキストはとても長いのでいくつかの単語に分割されなければなりません、そうですね",
            "mixed ascii and ümlauts and more ascii",
            "=?not?q?a word?=",
            "a  é  b",
            "é  é",
            "é \u{3000} é",
        ] {
            let e = encode_unstructured(s, false);
            assert!(e.is_ascii(), "{e}");
            for w in e.split(' ') {
                assert!(w.len() <= 75, "{w}");
            }
            assert_eq!(decode_unstructured(e.as_bytes()), s, "{e}");
        }
    }

    #[test]
    fn phrase() {
        assert_eq!(decode_phrase(b" Joe   Q. Public (c) "), "Joe Q. Public");
        assert_eq!(
            decode_phrase(b"\"Giant; \\\"Big\\\" Box\""),
            "Giant; \"Big\" Box"
        );
        assert_eq!(
            decode_phrase(b"=?utf-8?q?J=C3=B6rg?= =?utf-8?q?_M?= x"),
            "Jörg M x"
        );
        assert_eq!(encode_phrase("Joe Public", false), "Joe Public");
        assert_eq!(encode_phrase("Joe Q. Public", false), "\"Joe Q. Public\"");
        assert_eq!(
            decode_phrase(encode_phrase("Jörg \"x\"", false).as_bytes()),
            "Jörg \"x\""
        );
    }

    /// The charset scan byte by byte, as it was before the `utf-8` load.
    fn charset_end_model(rest: &[u8]) -> Option<(usize, Option<usize>)> {
        let mut star = None;
        let mut q1 = 0;
        loop {
            match rest.get(q1) {
                Some(b'?') => break,
                Some(b'*') if star.is_none() => star = Some(q1),
                Some(&b) if is_token_char(b) || b == b'.' => {}
                _ => return None,
            }
            q1 += 1;
            if q1 > 80 {
                return None;
            }
        }
        (q1 != 0 && star != Some(0)).then_some((q1, star))
    }

    #[test]
    fn charset_end_takes_utf8_in_any_case() {
        for cs in [&b"utf-8?Q?"[..], b"UTF-8?B?", b"Utf-8?q?x"] {
            assert_eq!(charset_end(cs), Some((5, None)), "{cs:?}");
        }
        // Not the fast path's: a language, a longer name, too short a rest,
        // and bytes that an OR of 0x20 would turn into `-`, `8` or `?`.
        assert_eq!(charset_end(b"utf-8*en?Q?"), Some((8, Some(5))));
        assert_eq!(charset_end(b"utf-16?B?"), Some((6, None)));
        assert_eq!(charset_end(b"utf-8?"), Some((5, None)));
        assert_eq!(charset_end(b"utf\r8?Q?x"), None);
        assert_eq!(charset_end(b"utf-\x188?Q?"), None);
        assert_eq!(charset_end(b"utf-8\x1fQ?x?="), None);
        assert_eq!(
            parse_encoded_word(b"=?UTF-8?Q?caf=C3=A9?=").map(|(w, _)| w.charset),
            Some(&b"UTF-8"[..])
        );
    }

    proptest::proptest! {
        /// The `utf-8` load and the byte loop agree with the byte scan on
        /// names built from the bytes around `utf-8` (and those an OR of
        /// 0x20 confuses with them).
        #[test]
        fn charset_end_agrees_with_the_byte_scan(
            rest in proptest::collection::vec(proptest::sample::select(
                b"uUtTfF-8?*. \r\x0d\x18\x1f\x15\x14\x06=aZ".to_vec()), 0..90),
        ) {
            proptest::prop_assert_eq!(charset_end(&rest), charset_end_model(&rest));
        }

        #[test]
        fn charset_end_agrees_after_utf8(tail in proptest::collection::vec(proptest::num::u8::ANY, 0..12), upper in 0u8..8) {
            let mut rest = b"utf-8".to_vec();
            for (i, b) in rest.iter_mut().take(3).enumerate() {
                if upper >> i & 1 == 1 {
                    b.make_ascii_uppercase();
                }
            }
            rest.extend_from_slice(&tail);
            proptest::prop_assert_eq!(charset_end(&rest), charset_end_model(&rest));
        }
    }
}

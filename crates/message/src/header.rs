//! The header section: split a message into fields and body (RFC 5322 §2.1,
//! §2.2, §3.5), zero-copy.
//!
//! ```text
//! message   = (fields / obs-fields) [CRLF body]
//! field     = field-name ":" unstructured CRLF
//! field-name = 1*ftext            ; printable US-ASCII except ":"
//! obs-optional = field-name *WSP ":" unstructured CRLF   (RFC 5322 §4.5)
//! ```
//!
//! The splitter accepts CRLF and bare LF line ends (recording [`DefectKind::BareLf`]),
//! keeps each field's raw bytes (so an untouched message is written back
//! byte for byte), and never does more work than [`Limits`] allows.
//!
//! Every [`Field`] borrows from the input and carries byte offsets; a caller
//! holding the message in a [`bytes::Bytes`] gets owned views with
//! `bytes.slice(field.offset()..field.end())` (no copy).

use std::borrow::Cow;

use crate::defect::{Defect, DefectKind};

/// Limits on the work done on one header section.
///
/// `#[non_exhaustive]`: build it with [`Limits::default`] and set fields.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest header section read, in bytes. Default 1 MiB: far above any
    /// legitimate header section (Received chains of large relays stay
    /// below 64 KiB), low enough to bound the work on hostile input.
    pub max_header_bytes: usize,
    /// Most fields read. Default 10 000: large mailing-list digests carry
    /// a few hundred; this bounds the `Vec` of fields.
    pub max_fields: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_header_bytes: 1 << 20,
            max_fields: 10_000,
        }
    }
}

/// One header field (RFC 5322 §2.2), borrowed from the message.
///
/// `raw()` is the field exactly as it appeared, including its folding and
/// its final line end; `raw_value()` is the field body (after the colon,
/// before the final line end), still folded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field<'a> {
    name: &'a [u8],
    value: &'a [u8],
    raw: &'a [u8],
    offset: usize,
    value_offset: usize,
}

impl<'a> Field<'a> {
    /// The field name as written (case preserved). Field names are
    /// printable US-ASCII (RFC 5322 §3.6.8 `ftext`), checked by the parser.
    pub fn name(&self) -> &'a str {
        // The splitter only accepts ftext (33..=126, not ':') in names.
        std::str::from_utf8(self.name).unwrap_or_default()
    }

    /// The field name's bytes.
    pub fn name_bytes(&self) -> &'a [u8] {
        self.name
    }

    /// Whether the field's name is `name`, ignoring ASCII case.
    #[inline]
    pub fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name.as_bytes())
    }

    /// The field body as written: after the colon, up to (not including)
    /// the final line end, folding kept.
    pub fn raw_value(&self) -> &'a [u8] {
        self.value
    }

    /// The field body unfolded (RFC 5322 §2.2.3: every CRLF or LF removed;
    /// the white space after it kept). Borrowed when the field is not folded.
    pub fn unfolded_value(&self) -> Cow<'a, [u8]> {
        unfold(self.value)
    }

    /// The field body unfolded, trimmed of surrounding white space, as text:
    /// UTF-8 (RFC 6532) when valid, else decoded as windows-1252. Encoded
    /// words are not decoded: see [`crate::decode_unstructured`].
    pub fn value_text(&self) -> Cow<'a, str> {
        let trimmed = trim_wsp(self.value);
        match unfold(trimmed) {
            Cow::Borrowed(b) => crate::charset::bytes_to_text(b),
            Cow::Owned(v) => Cow::Owned(crate::charset::bytes_to_text(&v).into_owned()),
        }
    }

    /// The whole field as written, including its final line end.
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }

    /// Offset of the field's first byte (its name) in the parsed input.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// Offset of the first byte of [`Field::raw_value`] in the parsed input.
    pub fn value_offset(&self) -> usize {
        self.value_offset
    }

    /// Offset just past the field's final line end.
    pub fn end(&self) -> usize {
        self.offset + self.raw.len()
    }

    /// The whole field as an owned view of `whole`, the [`bytes::Bytes`]
    /// this field was split from (no copy). `None` when the field does not
    /// lie inside `whole`.
    pub fn raw_in(&self, whole: &bytes::Bytes) -> Option<bytes::Bytes> {
        sub_bytes(whole, self.raw)
    }

    /// The field body ([`Field::raw_value`]) as an owned view of `whole`.
    pub fn value_in(&self, whole: &bytes::Bytes) -> Option<bytes::Bytes> {
        sub_bytes(whole, self.value)
    }
}

/// `part` as a `Bytes` view of `whole`, if it lies inside it.
fn sub_bytes(whole: &bytes::Bytes, part: &[u8]) -> Option<bytes::Bytes> {
    let base = whole.as_ptr() as usize;
    let start = (part.as_ptr() as usize).checked_sub(base)?;
    let end = start.checked_add(part.len())?;
    (end <= whole.len()).then(|| whole.slice(start..end))
}

/// Remove folding from a field body: every CRLF or bare LF is dropped
/// (RFC 5322 §2.2.3). Borrowed when there is nothing to remove.
pub fn unfold(value: &[u8]) -> Cow<'_, [u8]> {
    let Some(first) = memchr::memchr(b'\n', value) else {
        return Cow::Borrowed(value);
    };
    let mut out = Vec::with_capacity(value.len());
    let mut start = 0;
    let mut nl = first;
    loop {
        let mut end = nl;
        if end > start && value[end - 1] == b'\r' {
            end -= 1;
        }
        out.extend_from_slice(&value[start..end]);
        start = nl + 1;
        match memchr::memchr(b'\n', &value[start..]) {
            Some(i) => nl = start + i,
            None => break,
        }
    }
    out.extend_from_slice(&value[start..]);
    Cow::Owned(out)
}

/// Trim leading and trailing white space (SP, HTAB, CR, LF).
pub(crate) fn trim_wsp(mut b: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = b {
        if matches!(first, b' ' | b'\t' | b'\r' | b'\n') {
            b = rest;
        } else {
            break;
        }
    }
    while let [rest @ .., last] = b {
        if matches!(last, b' ' | b'\t' | b'\r' | b'\n') {
            b = rest;
        } else {
            break;
        }
    }
    b
}

/// The longest line RFC 5322 §2.1.1 allows, line end not counted: a longer
/// one is a [`DefectKind::LineTooLong`].
const MAX_LINE: usize = 998;

/// A lazy iterator over the fields of a header section: no allocation
/// except for defects.
///
/// After it returns `None`, [`FieldIter::body_offset`] is where the body
/// starts and [`FieldIter::defects`] holds what was repaired.
#[derive(Debug, Clone)]
pub struct FieldIter<'a> {
    input: &'a [u8],
    pos: usize,
    count: usize,
    limits: Limits,
    done: bool,
    body_offset: usize,
    header_end: usize,
    defects: Vec<Defect>,
    bare_lf_seen: bool,
    /// Whether a fold's continuation lines are found in one search (always,
    /// but in the tests that compare it with the line-at-a-time loop).
    fold_search: bool,
}

impl<'a> FieldIter<'a> {
    /// Iterate over the fields at the start of `input` (a whole message or
    /// a MIME part).
    pub fn new(input: &'a [u8], limits: Limits) -> Self {
        FieldIter {
            input,
            pos: 0,
            count: 0,
            limits,
            done: false,
            body_offset: input.len(),
            header_end: input.len(),
            defects: Vec::new(),
            bare_lf_seen: false,
            fold_search: true,
        }
    }

    /// Where the body starts (after the blank line). Meaningful once the
    /// iterator has returned `None`.
    pub fn body_offset(&self) -> usize {
        self.body_offset
    }

    /// Where the header section ends: the end of the last field, or the
    /// start of the line that was not a field. The bytes from here to
    /// [`FieldIter::body_offset`] are the separator (blank line).
    pub fn header_end(&self) -> usize {
        self.header_end
    }

    /// The defects found so far.
    pub fn defects(&self) -> &[Defect] {
        &self.defects
    }

    /// Take the defects found so far.
    pub fn take_defects(&mut self) -> Vec<Defect> {
        std::mem::take(&mut self.defects)
    }

    fn finish(&mut self, header_end: usize, body_offset: usize) {
        // One pass for NUL bytes over the whole header section.
        if let Some(at) = memchr::memchr(0, &self.input[..header_end]) {
            self.defects.push(Defect::new(DefectKind::NulByte, at));
        }
        self.done = true;
        self.header_end = header_end;
        self.body_offset = body_offset;
    }

    /// Find the end of the line starting at `start`: (content end, next line start).
    /// Always inlined: as a call it spent a tenth of its samples on its
    /// prologue, for lines of a few dozen bytes.
    #[inline(always)]
    fn line_at(&mut self, start: usize) -> (usize, usize) {
        let (end, next, _) = self.field_line_at(start);
        (end, next)
    }

    /// [`FieldIter::line_at`], with where the line's field name ends when
    /// the line search found that too (see
    /// [`mailwire_line::find_header_line`]).
    #[inline(always)]
    fn field_line_at(&mut self, start: usize) -> (usize, usize, Option<usize>) {
        let input = self.input;
        let (lf, name_end) = mailwire_line::find_header_line(&input[start..], false);
        let (end, next) = match lf {
            Some(i) => {
                let nl = start + i;
                let end = if nl > start && input[nl - 1] == b'\r' {
                    nl - 1
                } else {
                    // Reported once per header section: a file with LF
                    // line ends would otherwise give one per line.
                    if !self.bare_lf_seen {
                        self.bare_lf_seen = true;
                        self.defects.push(Defect::new(DefectKind::BareLf, nl));
                    }
                    nl
                };
                if end - start > MAX_LINE {
                    self.defects
                        .push(Defect::new(DefectKind::LineTooLong, start + MAX_LINE));
                }
                (end, nl + 1)
            }
            None => {
                if input.len() - start > MAX_LINE {
                    self.defects
                        .push(Defect::new(DefectKind::LineTooLong, start + MAX_LINE));
                }
                (input.len(), input.len())
            }
        };
        (end, next, name_end)
    }
}

impl<'a> Iterator for FieldIter<'a> {
    type Item = Field<'a>;

    fn next(&mut self) -> Option<Field<'a>> {
        self.next_field()
    }
}

impl<'a> FieldIter<'a> {
    /// The next field. Inline in [`HeaderSection::parse_with`], whose list
    /// gets each field's parts where they are found: a `Field` returned
    /// from a call comes back in memory, and its copy into the list waited
    /// on the stores that wrote it (a store-forwarding stall per field).
    #[inline(always)]
    fn next_field(&mut self) -> Option<Field<'a>> {
        let input = self.input;
        loop {
            if self.done {
                return None;
            }
            let start = self.pos;
            if start >= input.len() {
                if start == 0 {
                    self.defects.push(Defect::new(DefectKind::NotAMessage, 0));
                } else {
                    self.defects
                        .push(Defect::new(DefectKind::MissingBlankLine, start));
                }
                self.finish(input.len(), input.len());
                return None;
            }
            if start > self.limits.max_header_bytes {
                self.defects
                    .push(Defect::new(DefectKind::HeaderSectionTooLarge, start));
                self.finish(start, start);
                return None;
            }
            let (end, next, name_end) = self.field_line_at(start);
            let line = &input[start..end];
            if line.is_empty() {
                // The blank line that separates header and body.
                if self.count == 0 && start == 0 {
                    // A message with no fields at all is still a message
                    // (RFC 5322 §3.5: fields are optional in the grammar,
                    // but Date and From are required).
                }
                self.finish(start, next);
                return None;
            }
            if matches!(line[0], b' ' | b'\t') {
                self.defects
                    .push(Defect::new(DefectKind::LeadingContinuation, start));
                self.pos = next;
                continue;
            }
            // field-name = 1*ftext, then optional WSP (obs), then ':'.
            let name_end = name_end.unwrap_or_else(|| mailwire_line::field_name_len(line, false));
            let mut colon = name_end;
            while colon < line.len() && matches!(line[colon], b' ' | b'\t') {
                colon += 1;
            }
            if name_end == 0 || colon >= line.len() || line[colon] != b':' {
                if start == 0 && line.starts_with(b"From ") {
                    self.defects.push(Defect::new(DefectKind::MboxFromLine, 0));
                    self.pos = next;
                    continue;
                }
                let kind = if self.count == 0 {
                    DefectKind::NotAMessage
                } else {
                    DefectKind::InvalidHeaderLine
                };
                self.defects.push(Defect::new(kind, start));
                self.finish(start, start);
                return None;
            }
            if name_end != colon {
                self.defects.push(Defect::new(
                    DefectKind::WhitespaceBeforeColon,
                    start + name_end,
                ));
            }
            if self.count >= self.limits.max_fields {
                self.defects
                    .push(Defect::new(DefectKind::TooManyFields, start));
                self.finish(start, start);
                return None;
            }
            // Continuation lines: a fold's end found in one search where
            // the input holds it within the limit and no line of it gives a
            // defect (a long recipient list folded over thousands of
            // lines), else a line at a time.
            let mut value_end = end;
            let mut field_next = next;
            if self.fold_search
                && matches!(input.get(field_next), Some(b' ' | b'\t'))
                && let Some(p) = mailwire_line::find_checked_field_end(
                    &input[field_next..],
                    MAX_LINE,
                    self.bare_lf_seen,
                )
                && field_next + p <= self.limits.max_header_bytes
            {
                let lf = field_next + p;
                value_end = if input[lf - 1] == b'\r' { lf - 1 } else { lf };
                field_next = lf + 1;
            }
            while field_next < input.len() && matches!(input[field_next], b' ' | b'\t') {
                if field_next > self.limits.max_header_bytes {
                    break;
                }
                let (e, n) = self.line_at(field_next);
                value_end = e;
                field_next = n;
            }
            let raw = &input[start..field_next];
            self.count += 1;
            self.pos = field_next;
            return Some(Field {
                name: &input[start..start + name_end],
                value: &input[start + colon + 1..value_end],
                raw,
                offset: start,
                value_offset: start + colon + 1,
            });
        }
    }
}

/// A parsed header section: its fields in order, where the body starts, and
/// the defects found (offsets relative to the parsed input).
#[derive(Debug, Clone)]
pub struct HeaderSection<'a> {
    input: &'a [u8],
    fields: Vec<Field<'a>>,
    header_end: usize,
    body_offset: usize,
    defects: Vec<Defect>,
}

impl<'a> HeaderSection<'a> {
    /// Split `input` (a whole message or a MIME part) into its fields and
    /// body with the default [`Limits`]. Never fails: whatever could not be
    /// read is reported as a defect.
    pub fn parse(input: &'a [u8]) -> Self {
        Self::parse_with(input, Limits::default())
    }

    /// As [`HeaderSection::parse`], with explicit limits.
    pub fn parse_with(input: &'a [u8], limits: Limits) -> Self {
        let mut it = FieldIter::new(input, limits);
        // Room for 16 fields first: 1 KiB, which glibc's per-thread cache
        // serves (it keeps chunks of up to 1032 bytes); a list of 32 went
        // through its general allocator, whose cost grows with what other
        // code freed before (after mail-parser's passes, the corpus rounds
        // 1.47-1.52x -> 1.49-1.51x). A header of more fields grows the list.
        let mut fields: Vec<Field<'a>> = Vec::with_capacity(16);
        while let Some(f) = it.next_field() {
            fields.push(f);
        }
        HeaderSection {
            input,
            fields,
            header_end: it.header_end,
            body_offset: it.body_offset,
            defects: it.defects,
        }
    }

    /// The input that was parsed.
    pub fn input(&self) -> &'a [u8] {
        self.input
    }

    /// Every field, in order.
    pub fn fields(&self) -> &[Field<'a>] {
        &self.fields
    }

    /// The first field named `name` (ASCII case-insensitive).
    pub fn get(&self, name: &str) -> Option<&Field<'a>> {
        self.fields.iter().find(|f| f.is(name))
    }

    /// Every field named `name`, in order.
    pub fn get_all<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s Field<'a>> + 's {
        self.fields.iter().filter(move |f| f.is(name))
    }

    /// Where the header section ends (end of the last field).
    pub fn header_end(&self) -> usize {
        self.header_end
    }

    /// Where the body starts, after the blank line.
    pub fn body_offset(&self) -> usize {
        self.body_offset
    }

    /// The body (may be empty).
    pub fn body(&self) -> &'a [u8] {
        &self.input[self.body_offset..]
    }

    /// Defects found while splitting.
    pub fn defects(&self) -> &[Defect] {
        &self.defects
    }

    /// Write the message back: every field's raw bytes, the bytes between
    /// the fields and the body, and the body. For an untouched message
    /// this is exactly the input.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        out.reserve(self.input.len());
        let mut pos = 0;
        for f in &self.fields {
            // Bytes skipped before a field (an mbox From line, a leading
            // continuation) are kept as they were.
            out.extend_from_slice(&self.input[pos..f.offset]);
            out.extend_from_slice(f.raw);
            pos = f.end();
        }
        out.extend_from_slice(&self.input[pos..]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Every field `FieldIter` gives (name, value, raw, offsets), then its
    /// defects and where the body starts.
    fn split(input: &[u8], limits: Limits, fold_search: bool) -> String {
        let mut it = FieldIter::new(input, limits);
        it.fold_search = fold_search;
        let fields: Vec<String> = it
            .by_ref()
            .map(|f| {
                format!(
                    "{:?} {:?} {:?} {} {}",
                    f.name, f.value, f.raw, f.offset, f.value_offset
                )
            })
            .collect();
        format!(
            "{fields:?} {:?} {} {}",
            it.defects, it.header_end, it.body_offset
        )
    }

    proptest! {
        /// A fold's continuation lines found in one search give the fields,
        /// defects (bare LFs, lines over 998 bytes) and body the
        /// line-at-a-time loop gives, whatever the folds, line ends and
        /// header limit (before, inside or after a long fold).
        #[test]
        fn fold_search_matches_line_loop(
            fields in proptest::collection::vec((
                "[A-Za-z-]{1,12}",
                "[ -~]{0,40}",
                proptest::collection::vec((
                    prop_oneof![Just(" "), Just("\t")],
                    prop_oneof![Just(0usize), Just(20), Just(70), Just(997), Just(998), Just(1000)],
                    prop_oneof![Just("\r\n"), Just("\n")],
                ), 0..12),
                prop_oneof![Just("\r\n"), Just("\n")],
            ), 0..6),
            limit in prop_oneof![Just(usize::MAX), 0usize..4000],
        ) {
            let mut msg = Vec::new();
            for (name, value, folds, end) in &fields {
                msg.extend_from_slice(format!("{name}: {value}{end}").as_bytes());
                for (lead, len, end) in folds {
                    msg.extend_from_slice(lead.as_bytes());
                    msg.extend(std::iter::repeat_n(b'w', *len));
                    msg.extend_from_slice(end.as_bytes());
                }
            }
            msg.extend_from_slice(b"\r\nbody");
            let limits = Limits { max_header_bytes: limit, ..Limits::default() };
            prop_assert_eq!(split(&msg, limits, true), split(&msg, limits, false));
        }
    }

    #[test]
    fn split_crlf() {
        let m = b"A: 1\r\nB: 2\r\n  3\r\n\r\nbody";
        let h = HeaderSection::parse(m);
        assert_eq!(h.fields().len(), 2);
        assert_eq!(h.fields()[1].raw_value(), b" 2\r\n  3");
        assert_eq!(&*h.fields()[1].unfolded_value(), b" 2  3");
        assert_eq!(h.body(), b"body");
        assert!(h.defects().is_empty());
        let mut out = Vec::new();
        h.write_to(&mut out);
        assert_eq!(out, m);
    }

    #[test]
    fn split_bare_lf_and_obs() {
        let m = b"From foo\nA : 1\nB: 2\n\nbody";
        let h = HeaderSection::parse(m);
        assert_eq!(h.fields().len(), 2);
        assert_eq!(h.fields()[0].name(), "A");
        assert_eq!(h.body(), b"body");
        assert!(h.defects().iter().any(|d| d.kind == DefectKind::BareLf));
        assert!(
            h.defects()
                .iter()
                .any(|d| d.kind == DefectKind::MboxFromLine)
        );
        assert!(
            h.defects()
                .iter()
                .any(|d| d.kind == DefectKind::WhitespaceBeforeColon && d.offset == 10)
        );
        let mut out = Vec::new();
        h.write_to(&mut out);
        assert_eq!(out, m);
    }

    #[test]
    fn bytes_views() {
        let whole = bytes::Bytes::from_static(b"A: 1\r\nB: 2\r\n\r\n");
        let h = HeaderSection::parse(&whole);
        let f = h.fields()[1];
        assert_eq!(f.raw_in(&whole).unwrap(), &b"B: 2\r\n"[..]);
        assert_eq!(f.value_in(&whole).unwrap(), &b" 2"[..]);
        let other = bytes::Bytes::from_static(b"A: 1\r\n");
        assert!(f.raw_in(&other).is_none());
    }

    #[test]
    fn not_a_message() {
        let h = HeaderSection::parse(b"\x89PNG\r\n\x1a\n");
        assert!(h.fields().is_empty());
        assert_eq!(h.defects()[0].kind, DefectKind::NotAMessage);
    }

    #[test]
    fn limits() {
        let m = b"A: 1\r\nB: 2\r\nC: 3\r\n\r\n";
        let l = Limits {
            max_fields: 2,
            ..Limits::default()
        };
        let h = HeaderSection::parse_with(m, l);
        assert_eq!(h.fields().len(), 2);
        assert!(
            h.defects()
                .iter()
                .any(|d| d.kind == DefectKind::TooManyFields)
        );
        let l = Limits {
            max_header_bytes: 7,
            ..Limits::default()
        };
        let h = HeaderSection::parse_with(m, l);
        assert_eq!(h.fields().len(), 2);
        assert!(
            h.defects()
                .iter()
                .any(|d| d.kind == DefectKind::HeaderSectionTooLarge)
        );
    }
}

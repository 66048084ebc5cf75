//! The MIME tree (RFC 2046): every entity of a message with its byte ranges,
//! parsed MIME fields and IMAP section number.
//!
//! The tree is flat (a `Vec` of parts in depth-first order, each knowing its
//! parent and children), so walking it never recurses and a deeply nested
//! message cannot overflow the stack. Ranges index the input, which the tree
//! borrows; the decoded body of a base64 or quoted-printable encapsulated
//! message is the one thing it owns (in a stream of its own).

use std::borrow::Cow;
use std::ops::Range;

use crate::charset::{TextStatus, decode_text};
use crate::defect::{Defect, DefectKind};
use crate::encoding::{TransferEncoding, decode};
use crate::headers::MimeHeaders;
use crate::stream::{Event, EventSink, Options, Parser, PartKind, Started};
use tinyvec::TinyVec;

/// One entity of the tree.
#[derive(Debug, Clone)]
pub struct Part {
    /// Depth-first index (0 is the message).
    pub id: usize,
    /// The enclosing entity.
    pub parent: Option<usize>,
    /// Children in order (body parts of a multipart; the message inside an
    /// encapsulated message part). Up to four inline, without allocating.
    pub children: TinyVec<[usize; 4]>,
    /// Nesting depth.
    pub depth: usize,
    /// Which stream the ranges index (0: the input).
    pub stream: usize,
    /// IMAP section (RFC 3501 §6.4.5); empty for the message's own
    /// multipart body. Up to six levels inline, without allocating.
    pub section: TinyVec<[u32; 6]>,
    /// The header block, blank line included.
    pub header: Range<usize>,
    /// The body (for a multipart: preamble, parts and epilogue).
    pub body: Range<usize>,
    /// Parsed MIME fields.
    pub mime: MimeHeaders,
    /// Structure.
    pub kind: PartKind,
    /// For an encoded encapsulated message, the stream of its decoded body.
    pub inner_stream: Option<usize>,
    /// Multipart preamble.
    pub preamble: Option<Range<usize>>,
    /// Multipart epilogue.
    pub epilogue: Option<Range<usize>>,
    /// True for the leaf given to a multipart without any body part: its
    /// body is the multipart's preamble (see
    /// [`PartStart::from_preamble`](crate::PartStart::from_preamble)).
    pub from_preamble: bool,
}

impl Part {
    /// A part with nothing set and blank MIME fields, which the tree parse
    /// copies into its list and fills in (a constant: copied from
    /// read-only data).
    const BLANK: Part = Part {
        id: 0,
        parent: None,
        children: TinyVec::Inline(tinyvec::ArrayVec::from_array_empty([0; 4])),
        depth: 0,
        stream: 0,
        section: TinyVec::Inline(tinyvec::ArrayVec::from_array_empty([0; 6])),
        header: 0..0,
        body: 0..0,
        mime: MimeHeaders::BLANK,
        kind: PartKind::Leaf,
        inner_stream: None,
        preamble: None,
        epilogue: None,
        from_preamble: false,
    };

    /// The section as IMAP writes it (`1.2.3`, empty for the message body).
    pub fn section_string(&self) -> String {
        section_to_string(&self.section)
    }

    /// True for a leaf whose body is data.
    pub fn is_leaf(&self) -> bool {
        self.kind == PartKind::Leaf
    }
}

pub(crate) fn section_to_string(s: &[u32]) -> String {
    let mut out = String::new();
    for (i, n) in s.iter().enumerate() {
        if i > 0 {
            out.push('.');
        }
        out.push_str(&n.to_string());
    }
    out
}

/// A parsed message: its tree of parts over the input.
#[derive(Debug, Clone)]
pub struct Message<'a> {
    input: &'a [u8],
    /// Streams 1, 2, ...: the decoded bodies of encoded encapsulated
    /// messages.
    decoded: Vec<Vec<u8>>,
    /// The leaves decoded while parsing (a decoding parse), by part id.
    leaves: Vec<(usize, Vec<u8>)>,
    parts: Vec<Part>,
    defects: Vec<Defect>,
}

impl<'a> Message<'a> {
    /// Parses a message with the default options.
    pub fn parse(input: &'a [u8]) -> Self {
        Self::parse_with(input, Options::default())
    }

    /// Parses a message with `opts`: the limits, and whether to decode
    /// while parsing.
    ///
    /// The tree keeps raw ranges and decodes a body on request
    /// ([`Message::decoded`], [`Message::text`]). With
    /// [`Options::decoding`], the parse also decodes each base64 leaf as
    /// it comes to it, with the search for where the leaf ends: encodify's
    /// SIMD decoder takes the body's run of base64 symbols, white space
    /// and `=`, and stops at the first other byte; when that byte starts
    /// the delimiter line of an open multipart, the run was the whole body
    /// (a delimiter cannot hide in it, since `-` is no base64 byte), so the
    /// parser looks for no boundary inside it. The body is read once
    /// instead of twice (once for the boundary, once more to decode), and
    /// the tree keeps the bytes: [`Message::decoded`] lends them. A body
    /// with anything else in it (junk, a stray `-`), or a short one (under
    /// 16 KiB, which costs little to read twice), is parsed as usual and
    /// decoded on request. The tree is the same either way. For a reader
    /// that decodes every leaf anyway: an indexer, a mail client that
    /// shows the attachments.
    ///
    /// ```
    /// use std::borrow::Cow;
    /// use mailwire_mime::{Message, Options};
    /// use mailwire_mime::builder::{MessageBuilder, PartBuilder};
    /// let photo = vec![0x5a; 100_000];
    /// let raw = MessageBuilder::new()
    ///     .text("The photo.\n")
    ///     .attachment(PartBuilder::attachment("image/jpeg", "p.jpg", photo.clone()))
    ///     .build();
    /// let msg = Message::parse_with(&raw, Options::decoding());
    /// let file = msg.leaves().nth(1).unwrap();
    /// assert!(matches!(msg.decoded(file), Cow::Borrowed(b) if b == photo));
    /// ```
    pub fn parse_with(input: &'a [u8], opts: Options) -> Self {
        Self::build(input, opts, |p, b| p.feed_into(input, b))
    }

    /// The tree of `input`, built by the parser `feed` drives: the same
    /// parser the streaming API drives, given the builder itself as its
    /// sink (not a `dyn` callback), so each event is built and taken apart
    /// in place.
    fn build(input: &'a [u8], opts: Options, feed: impl FnOnce(&mut Parser, &mut Builder)) -> Self {
        let mut b = Builder {
            decoded: Vec::new(),
            leaves: Vec::new(),
            parts: Vec::with_capacity(part_capacity(input.len())),
            defects: Vec::new(),
        };
        let mut p = Parser::with_options(Options {
            decode: false,
            keep_base64: opts.decode,
            ..opts
        });
        feed(&mut p, &mut b);
        p.finish_into(&mut b);
        Message {
            input,
            decoded: b.decoded,
            leaves: b.leaves,
            parts: b.parts,
            defects: b.defects,
        }
    }

    /// Parses the message whose header `header` split (with default
    /// options), without scanning the top-level header block again: the
    /// tree is the one [`Message::parse`] gives for `header.input()`.
    ///
    /// For a reader that wants the header's fields too (a summary, a
    /// Received chain) and the MIME tree: the header is read once. A header
    /// with defects (other than LF line ends and white space before a
    /// colon), or one past the MIME limits, is scanned again as
    /// [`Message::parse`] does (the two parsers may treat a broken header
    /// differently, and the tree must not depend on which read it).
    ///
    /// ```
    /// use mailwire_message::HeaderSection;
    /// use mailwire_mime::Message;
    /// let raw = b"Subject: hi\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nbody\r\n";
    /// let header = HeaderSection::parse(raw);
    /// let msg = Message::parse_after_header(&header);
    /// assert_eq!(msg.root().mime.content_type.charset().as_deref(), Some("utf-8"));
    /// assert_eq!(msg.raw_body(msg.root()), b"body\r\n");
    /// ```
    pub fn parse_after_header(header: &mailwire_message::HeaderSection<'a>) -> Self {
        Self::parse_after_header_with(header, Options::default())
    }

    /// [`Message::parse_after_header`] with `opts`, as
    /// [`Message::parse_with`] takes them.
    pub fn parse_after_header_with(
        header: &mailwire_message::HeaderSection<'a>,
        opts: Options,
    ) -> Self {
        let input = header.input();
        let end = header.body_offset();
        let fields = header.fields();
        // The split this parser's own scan makes: every line a field or a
        // continuation, from the first byte on, ended by a blank line.
        // LF line ends and white space before a colon are defects of
        // the message format, not of the split.
        let split_defect = |d: &mailwire_message::Defect| {
            !matches!(
                d.kind,
                mailwire_message::DefectKind::BareLf
                    | mailwire_message::DefectKind::WhitespaceBeforeColon
            )
        };
        let clean = !header.defects().iter().any(split_defect)
            && end <= opts.limits.max_header_size
            && matches!(input.get(header.header_end()..end), Some(b"\n" | b"\r\n"))
            && fields.first().is_some_and(|f| f.offset() == 0)
            && fields.windows(2).all(|w| w[0].end() == w[1].offset())
            && fields
                .last()
                .is_some_and(|f| f.end() == header.header_end())
            && fields.iter().all(|f| {
                f.value_offset() > f.offset() && input.get(f.value_offset() - 1) == Some(&b':')
            });
        if !clean {
            return Self::parse_with(input, opts);
        }
        Self::build(input, opts, |p, b| {
            let split = fields
                .iter()
                .map(|f| (f.offset(), f.end(), f.value_offset() - 1 - f.offset()));
            p.start_root_split(input, end, split, b);
            p.feed_into(&input[end..], b);
        })
    }

    /// Every part, depth-first.
    pub fn parts(&self) -> &[Part] {
        &self.parts
    }

    /// The part with `id`.
    pub fn part(&self, id: usize) -> Option<&Part> {
        self.parts.get(id)
    }

    /// The message's own entity.
    pub fn root(&self) -> &Part {
        &self.parts[0]
    }

    /// The leaves (data parts), depth-first, descending into encapsulated
    /// messages.
    pub fn leaves(&self) -> impl Iterator<Item = &Part> {
        self.parts.iter().filter(|p| p.is_leaf())
    }

    /// Every defect found, in document order.
    pub fn defects(&self) -> &[Defect] {
        &self.defects
    }

    /// Whether a defect of `kind` was found.
    pub fn has_defect(&self, kind: DefectKind) -> bool {
        self.defects.iter().any(|d| d.kind == kind)
    }

    /// The bytes of stream `n` (0 is the input).
    pub fn stream(&self, n: usize) -> &[u8] {
        match n.checked_sub(1) {
            None => self.input,
            Some(k) => self.decoded.get(k).map_or(&[][..], Vec::as_slice),
        }
    }

    /// The header block of `part`.
    pub fn header_bytes(&self, part: &Part) -> &[u8] {
        &self.stream(part.stream)[part.header.clone()]
    }

    /// The raw body of `part` (transfer encoding not removed).
    pub fn raw_body(&self, part: &Part) -> &[u8] {
        &self.stream(part.stream)[part.body.clone()]
    }

    /// The whole entity: header block and body.
    pub fn raw_entity(&self, part: &Part) -> &[u8] {
        &self.stream(part.stream)[part.header.start..part.body.end]
    }

    /// The body of `part` with its transfer encoding removed: lent when
    /// it needs no decoding or was decoded while parsing
    /// ([`Options::decoding`]), decoded now otherwise.
    pub fn decoded(&self, part: &Part) -> Cow<'_, [u8]> {
        if let Ok(i) = self.leaves.binary_search_by_key(&part.id, |(id, _)| *id) {
            return Cow::Borrowed(&self.leaves[i].1);
        }
        let raw = self.raw_body(part);
        match part.mime.transfer_encoding {
            TransferEncoding::Base64
            | TransferEncoding::QuotedPrintable
            | TransferEncoding::UuEncode => Cow::Owned(decode(part.mime.transfer_encoding, raw)),
            _ => Cow::Borrowed(raw),
        }
    }

    /// The decoded text of a `text/*` part in UTF-8, with how it went.
    /// `None` for other types. Borrowed from the input when the body needs
    /// no decoding.
    pub fn text(&self, part: &Part) -> Option<(Cow<'_, str>, TextStatus)> {
        if part.mime.content_type.ty() != "text" {
            return None;
        }
        // The label as written (trimmed, as `ContentType::charset` gives it,
        // without its lower-casing copy: every charset lookup ignores case).
        let cs = part.mime.content_type.param("charset").map(str::trim);
        let label = cs.unwrap_or("us-ascii").as_bytes();
        Some(match self.decoded(part) {
            Cow::Borrowed(b) => decode_text(label, b),
            Cow::Owned(v) => {
                let (t, st) = crate::charset::decode_text_owned(label, v);
                (Cow::Owned(t), st)
            }
        })
    }

    /// For a multipart/signed part (RFC 1847 §2.1): the exact bytes that
    /// were signed (the first body part, header and body, without the line
    /// end that belongs to the delimiter) and the signature part.
    pub fn signed_content(&self, part: &Part) -> Option<(&[u8], &Part)> {
        if !part.mime.content_type.is("multipart", "signed") {
            return None;
        }
        let first = self.part(*part.children.first()?)?;
        let sig = self.part(*part.children.get(1)?)?;
        Some((self.raw_entity(first), sig))
    }

    /// The fields of a message/delivery-status part (RFC 3464).
    pub fn delivery_status(&self, part: &Part) -> Option<crate::report::DeliveryStatus> {
        let ct = &part.mime.content_type;
        (ct.is("message", "delivery-status") || ct.is("message", "global-delivery-status"))
            .then(|| crate::report::DeliveryStatus::parse(&self.decoded(part)))
    }

    /// The fields of a message/disposition-notification part (RFC 8098).
    pub fn disposition_notification(
        &self,
        part: &Part,
    ) -> Option<crate::report::DispositionNotification> {
        let ct = &part.mime.content_type;
        (ct.is("message", "disposition-notification")
            || ct.is("message", "global-disposition-notification"))
        .then(|| crate::report::DispositionNotification::parse(&self.decoded(part)))
    }

    /// The header block of the message a part encapsulates (IMAP
    /// `section.HEADER`), for a message/rfc822 part.
    pub fn encapsulated(&self, part: &Part) -> Option<&Part> {
        match part.kind {
            PartKind::Message | PartKind::EncodedMessage => self.part(*part.children.first()?),
            _ => None,
        }
    }

    /// The bytes an IMAP server returns for `BODY[spec]` (RFC 3501
    /// §6.4.5): `""` (the whole message), `HEADER`, `TEXT`, `1.2` (a part's
    /// body; for a message/rfc822 part, the whole encapsulated message),
    /// `1.2.MIME` (a part's header), `3.HEADER` and `3.TEXT` (the header and
    /// body of the message a message/rfc822 part encapsulates). Header
    /// blocks include their blank line. `None` when there is no such part.
    /// (`HEADER.FIELDS` is a filter over `HEADER`, left to the caller.)
    pub fn imap_section(&self, spec: &str) -> Option<&[u8]> {
        let root = self.parts.first()?;
        let (num, suffix) = match spec.find(|c: char| !c.is_ascii_digit() && c != '.') {
            Some(i) => (spec[..i].trim_end_matches('.'), &spec[i..]),
            None => (spec, ""),
        };
        if num.is_empty() {
            return match suffix.to_ascii_uppercase().as_str() {
                "" => Some(self.stream(0)),
                "HEADER" => Some(self.header_bytes(root)),
                "TEXT" => Some(&self.stream(0)[root.header.end..]),
                _ => None,
            };
        }
        let part = self.find_section(num)?;
        match suffix.to_ascii_uppercase().as_str() {
            "" => Some(self.raw_body(part)),
            "MIME" => Some(self.header_bytes(part)),
            "HEADER" => self.encapsulated(part).map(|m| self.header_bytes(m)),
            "TEXT" => self.encapsulated(part).map(|m| self.raw_body(m)),
            _ => None,
        }
    }

    /// `BODY[spec.HEADER.FIELDS (names)]` and `.HEADER.FIELDS.NOT`: the
    /// fields of the header block `BODY[spec.HEADER]` (or `BODY[HEADER]`
    /// when `spec` is empty) whose names are (`not` false) or are not
    /// (`not` true) in `names`, case-insensitive, in their order, followed
    /// by the blank line (RFC 3501 §6.4.5).
    pub fn imap_header_fields(&self, spec: &str, names: &[&str], not: bool) -> Option<Vec<u8>> {
        let header = if spec.is_empty() {
            self.imap_section("HEADER")?
        } else {
            self.imap_section(&format!("{spec}.HEADER"))?
        };
        let mut out = Vec::with_capacity(header.len());
        for field in crate::headers::raw_fields(header) {
            let Some(colon) = memchr::memchr(b':', field) else {
                continue;
            };
            let name = field[..colon].trim_ascii();
            let listed = names
                .iter()
                .any(|n| name.eq_ignore_ascii_case(n.as_bytes()));
            if listed != not {
                out.extend_from_slice(field);
            }
        }
        out.extend_from_slice(b"\r\n");
        Some(out)
    }

    /// The part with IMAP section `section` (`"1.2"`); `""` is the message.
    /// For a section that names both an encapsulated message part and its
    /// multipart body, the message part is returned (RFC 3501 §6.4.5).
    pub fn find_section(&self, section: &str) -> Option<&Part> {
        let want: Vec<u32> = if section.is_empty() {
            Vec::new()
        } else {
            section
                .split('.')
                .map(|n| n.parse().ok())
                .collect::<Option<Vec<u32>>>()?
        };
        if want.is_empty() {
            return self.parts.first();
        }
        self.parts.iter().find(|p| *p.section == *want)
    }
}

/// The parts a message of `len` bytes is given room for at first: most
/// messages need no reallocation of the list, whose entries are large
/// (each one moved again when the list grows), and no message is given
/// much more than it could use.
fn part_capacity(len: usize) -> usize {
    (len / 512).clamp(8, 64)
}

/// `section` as a [`Part::section`]. Sections of up to six levels are
/// copied element by element into the inline array: `From<&[u32]>` goes
/// through a `memcpy` call whose stores the next loads of the part then
/// wait on, a visible share of the tree's per-part cost.
fn section_of(section: &[u32]) -> TinyVec<[u32; 6]> {
    if section.len() > 6 {
        return section.into();
    }
    // Element by element, not a copy of the slice: a `memcpy` call whose
    // small stores the next loads of the array could not take
    // (store-forwarding stalls).
    let arr: [u32; 6] = std::array::from_fn(|i| section.get(i).copied().unwrap_or(0));
    TinyVec::Inline(tinyvec::ArrayVec::from_array_len(arr, section.len()))
}

struct Builder {
    /// See [`Message::decoded`].
    decoded: Vec<Vec<u8>>,
    /// In a decoding parse, the decoded bodies of the leaves decoded while
    /// parsing, by part id (in parse order, so sorted).
    leaves: Vec<(usize, Vec<u8>)>,
    parts: Vec<Part>,
    defects: Vec<Defect>,
}

impl Builder {
    /// Part `id` starts: its parent's child, and the stream of its decoded
    /// body made.
    #[inline(always)]
    fn link(&mut self, id: usize, parent: Option<usize>, inner_stream: Option<usize>) {
        if let Some(p) = parent.and_then(|p| self.parts.get_mut(p)) {
            p.children.push(id);
        }
        if let Some(n) = inner_stream {
            while self.decoded.len() < n {
                self.decoded.push(Vec::new());
            }
        }
    }
}

impl EventSink for Builder {
    fn keep_decoded(&mut self, id: usize, bytes: Vec<u8>) {
        self.leaves.push((id, bytes));
    }

    /// The new part, blank, at the end of the list: the parser fills its
    /// MIME fields in place.
    #[inline(always)]
    fn mime_slot(&mut self, id: usize) -> Option<&mut MimeHeaders> {
        debug_assert_eq!(id, self.parts.len());
        self.parts.push(Part::BLANK);
        self.parts.last_mut().map(|p| &mut p.mime)
    }

    #[inline(always)]
    fn part_started(&mut self, s: Started<'_>) {
        self.link(s.id, s.parent, s.inner_stream);
        if let Some(p) = self.parts.last_mut() {
            p.id = s.id;
            p.parent = s.parent;
            p.depth = s.depth;
            p.stream = s.stream;
            p.section = section_of(s.section);
            p.header = s.offset as usize..s.body_offset as usize;
            p.body = s.body_offset as usize..s.body_offset as usize;
            p.kind = s.kind;
            p.inner_stream = s.inner_stream;
        }
    }

    #[inline(always)]
    fn event(&mut self, ev: Event<'_>) {
        match ev {
            Event::PartStart(s) => {
                let id = s.id;
                debug_assert_eq!(id, self.parts.len());
                self.link(id, s.parent, s.inner_stream);
                self.parts.push(Part {
                    id,
                    parent: s.parent,
                    children: TinyVec::new(),
                    depth: s.depth,
                    stream: s.stream,
                    section: section_of(s.section),
                    header: s.offset as usize..s.body_offset as usize,
                    body: s.body_offset as usize..s.body_offset as usize,
                    mime: s.mime,
                    kind: s.kind,
                    inner_stream: s.inner_stream,
                    preamble: None,
                    epilogue: None,
                    from_preamble: s.from_preamble,
                });
            }
            Event::Decoded { id, data } => {
                if let Some(n) = self.parts.get(id).and_then(|p| p.inner_stream)
                    && let Some(v) = n.checked_sub(1).and_then(|k| self.decoded.get_mut(k))
                {
                    v.extend_from_slice(data);
                }
            }
            Event::Preamble { id, offset, data } => {
                if let Some(p) = self.parts.get_mut(id) {
                    let r = p.preamble.get_or_insert(offset as usize..offset as usize);
                    r.end = offset as usize + data.len();
                }
            }
            Event::Epilogue { id, offset, data } => {
                if let Some(p) = self.parts.get_mut(id) {
                    let r = p.epilogue.get_or_insert(offset as usize..offset as usize);
                    r.end = offset as usize + data.len();
                }
            }
            Event::PartEnd(e) => {
                if let Some(p) = self.parts.get_mut(e.id) {
                    p.body.end = (e.end as usize).max(p.body.start);
                }
            }
            Event::Defect(d) => self.defects.push(d),
            Event::Body { .. } => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Cow, Message, Options, TransferEncoding, section_of};
    use crate::builder::{MessageBuilder, PartBuilder};
    use proptest::prelude::*;
    use tinyvec::TinyVec;

    /// A decoding parse keeps a long base64 leaf decoded while parsing
    /// and lends it, and leaves a short one to be decoded on request, as
    /// the default parse does with both. All give the attachments' bytes.
    #[test]
    fn decoding_parse_keeps_long_base64_leaves() {
        let long: Vec<u8> = (0..60_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
        let short = long[..5000].to_vec();
        let raw = MessageBuilder::new()
            .text("see the files\n")
            .attachment(PartBuilder::attachment(
                "application/octet-stream",
                "long.bin",
                long.clone(),
            ))
            .attachment(PartBuilder::attachment(
                "application/octet-stream",
                "short.bin",
                short.clone(),
            ))
            .build();
        let files = |m: &Message<'_>| -> Vec<super::Part> {
            m.leaves()
                .filter(|p| p.mime.transfer_encoding == TransferEncoding::Base64)
                .cloned()
                .collect()
        };
        let decoding = Message::parse_with(&raw, Options::decoding());
        let [l, s] = &files(&decoding)[..] else {
            panic!("two attachments")
        };
        assert!(matches!(decoding.decoded(l), Cow::Borrowed(b) if b == long));
        assert!(matches!(decoding.decoded(s), Cow::Owned(b) if b == short));
        let plain = Message::parse(&raw);
        let [l, s] = &files(&plain)[..] else {
            panic!("two attachments")
        };
        assert!(matches!(plain.decoded(l), Cow::Owned(b) if b == long));
        assert!(matches!(plain.decoded(s), Cow::Owned(b) if b == short));
    }

    /// A long base64 leaf whose run of symbols ends at the end of the
    /// input, or at a byte that cannot start a delimiter line (one dash,
    /// junk), just after a line end: no delimiter there, so the decoding
    /// parse leaves the body to the usual path and gives the tree the
    /// default parse gives (it once read past such an end).
    #[test]
    fn decoding_parse_of_a_long_base64_body_without_a_delimiter() {
        let lines = "QUFB\r\n".repeat(5000);
        for tail in ["", "-", "!", "-\r\n", "=", "--"] {
            for multipart in [false, true] {
                let raw = if multipart {
                    format!(
                        "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\
                         Content-Transfer-Encoding: base64\r\n\r\n{lines}{tail}"
                    )
                } else {
                    format!("Content-Transfer-Encoding: base64\r\n\r\n{lines}{tail}")
                };
                let decoding = Message::parse_with(raw.as_bytes(), Options::decoding());
                let plain = Message::parse(raw.as_bytes());
                let tree = |m: &Message<'_>| format!("{:?}", m.parts());
                assert_eq!(tree(&decoding), tree(&plain), "{tail:?} {multipart}");
                let leaf = decoding.leaves().last().unwrap();
                assert!(decoding.decoded(leaf).starts_with(b"AAAAAA"), "{tail:?}");
            }
        }
    }

    proptest! {
        /// The element-wise copy gives what the general conversion gives,
        /// inline for six levels or fewer and on the heap beyond.
        #[test]
        fn section_of_matches_from(section in proptest::collection::vec(any::<u32>(), 0..10)) {
            let general: TinyVec<[u32; 6]> = section[..].into();
            let fast = section_of(&section);
            prop_assert_eq!(fast.is_inline(), general.is_inline());
            prop_assert_eq!(&fast[..], &general[..]);
        }
    }
}

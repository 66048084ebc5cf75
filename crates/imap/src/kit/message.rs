//! A stored message, parsed once, that FETCH and SEARCH answer from.
//!
//! The message bytes are kept as one [`Bytes`]; the MIME tree
//! (mailwire-mime, RFC 2045/2046) records byte ranges into it, so every
//! section a FETCH returns is a slice of the stored bytes, never a copy.
//! The one exception is an encapsulated message in base64 or
//! quoted-printable (RFC 2046 §5.2.1 forbids it, real mail has it): its
//! decoded form is parsed too and held in a stream of its own.

use std::borrow::Cow;

use bytes::Bytes;
use mailwire_message::{DateTime, Field, FieldIter};
use mailwire_mime::{Defect, Limits, Part, PartKind, TextStatus, TransferEncoding};

/// Options for [`Message::parse_with`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Options {
    /// Bounds on the MIME tree: nesting depth, part count, header size
    /// (the mailwire-mime defaults: depth 50, 10 000 parts, 256 KiB per
    /// header block). Input beyond a limit is not an error: the rest is
    /// kept as the body of the last part that fit.
    pub limits: Limits,
}

/// A stored message (RFC 5322 with MIME), parsed once: its bytes, its MIME
/// tree and the header fields of every entity.
///
/// Parsing never fails and never panics: broken MIME is repaired the way
/// mailwire-mime does it (each repair is a [`Defect`]).
///
/// ```
/// use mailwire_imap::kit::Message;
/// let m = Message::parse(&b"Subject: hi\r\nDate: Tue, 1 Jul 2003 10:52:37 +0200\r\n\r\nbody\r\n"[..]);
/// assert_eq!(m.size(), 59);
/// assert_eq!(m.field("subject"), Some(&b" hi"[..]));
/// assert_eq!(m.header().len(), 53);
/// assert_eq!(&m.text()[..], b"body\r\n");
/// assert_eq!(m.sent_date().map(|d| d.day()), Some(1));
/// ```
#[derive(Debug, Clone)]
pub struct Message {
    /// Stream 0 is the stored message; others are decoded encapsulated messages.
    pub(super) streams: Vec<Bytes>,
    parts: Vec<Part>,
    defects: Vec<Defect>,
}

impl Message {
    /// Parses `raw` with the default [`Options`].
    pub fn parse(raw: impl Into<Bytes>) -> Self {
        Self::parse_with(raw.into(), Options::default())
    }

    /// Parses `raw` within `options`' limits.
    pub fn parse_with(raw: Bytes, options: Options) -> Self {
        let tree = mailwire_mime::Message::parse_with(
            &raw,
            mailwire_mime::Options::default().with_limits(options.limits),
        );
        let mut parts = tree.parts().to_vec();
        // A multipart without body parts: mailwire-mime gives it one leaf
        // over its preamble; Dovecot answers an empty text/plain part (size
        // 0, `BODY[1]` empty), and so does the kit.
        for p in parts.iter_mut().filter(|p| p.from_preamble) {
            p.body = p.body.start..p.body.start;
        }
        let last_stream = parts
            .iter()
            .flat_map(|p| [Some(p.stream), p.inner_stream])
            .flatten()
            .max()
            .unwrap_or(0);
        let mut streams = Vec::with_capacity(last_stream + 1);
        streams.push(raw.clone());
        for n in 1..=last_stream {
            streams.push(Bytes::copy_from_slice(tree.stream(n)));
        }
        let defects = tree.defects().to_vec();
        Message {
            streams,
            parts,
            defects,
        }
    }

    /// The stored bytes (`RFC822`, `BODY[]`).
    pub fn raw(&self) -> &Bytes {
        &self.streams[0]
    }

    /// `RFC822.SIZE` (RFC 3501 §7.4.2): the size of the stored message in
    /// octets. (A server that stores CRLF line ends reports exactly this.)
    pub fn size(&self) -> u64 {
        self.raw().len() as u64
    }

    /// The message's own entity: its header is the message header.
    pub fn root(&self) -> &Part {
        &self.parts[0]
    }

    /// The header of the message, blank line included (`RFC822.HEADER`,
    /// `BODY[HEADER]`).
    pub fn header(&self) -> Bytes {
        self.part_header(self.root())
    }

    /// The body of the message (`RFC822.TEXT`, `BODY[TEXT]`).
    pub fn text(&self) -> Bytes {
        self.part_body(self.root())
    }

    /// Every entity of the MIME tree in depth-first order (index 0 is the
    /// message). See [`Part`] for the fields.
    pub fn parts(&self) -> &[Part] {
        &self.parts
    }

    /// The entity with index `id` (its [`Part::id`]).
    pub fn part(&self, id: usize) -> Option<&Part> {
        self.parts.get(id)
    }

    /// The message an encapsulating part (message/rfc822, message/global)
    /// holds: an entity whose header is that message's header.
    pub fn encapsulated(&self, part: &Part) -> Option<&Part> {
        match part.kind {
            PartKind::Message | PartKind::EncodedMessage => self.part(*part.children.first()?),
            _ => None,
        }
    }

    /// What the MIME parser repaired, in document order.
    pub fn defects(&self) -> &[Defect] {
        &self.defects
    }

    /// The stream `part`'s ranges index.
    pub(super) fn stream(&self, part: &Part) -> &Bytes {
        self.streams.get(part.stream).unwrap_or(&self.streams[0])
    }

    /// A slice of `part`'s stream; empty when the range does not fit (it
    /// always does for parts of this message).
    fn slice(&self, part: &Part, range: std::ops::Range<usize>) -> Bytes {
        let s = self.stream(part);
        if range.start <= range.end && range.end <= s.len() {
            s.slice(range)
        } else {
            Bytes::new()
        }
    }

    /// The header block of `part`, blank line included (for a body part:
    /// its MIME header, `BODY[n.MIME]`).
    pub fn part_header(&self, part: &Part) -> Bytes {
        self.slice(part, part.header.clone())
    }

    /// The body of `part` as stored, transfer encoding not removed
    /// (`BODY[n]`).
    pub fn part_body(&self, part: &Part) -> Bytes {
        self.slice(part, part.body.clone())
    }

    /// The header fields of `part`'s header block, in order, as
    /// mailwire-message reads them (name, folded raw value, whole field).
    pub fn part_fields<'s>(&'s self, part: &Part) -> FieldIter<'s> {
        let s = self.stream(part);
        let block = s.get(part.header.clone()).unwrap_or_default();
        FieldIter::new(block, mailwire_message::Limits::default())
    }

    /// `part`'s header fields as FETCH reads them (leniently, as Dovecot).
    pub(crate) fn raw_fields<'s>(
        &'s self,
        part: &Part,
    ) -> impl Iterator<Item = super::lex::RawField<'s>> + 's {
        let block = self
            .stream(part)
            .get(part.header.clone())
            .unwrap_or_default();
        super::lex::fields(block)
    }

    /// The message's header fields, in order.
    pub fn fields(&self) -> FieldIter<'_> {
        self.part_fields(self.root())
    }

    /// The raw (folded, encoded words kept) values of the message's header
    /// fields called `name` (case-insensitive), in order. For SEARCH HEADER
    /// (RFC 3501 §6.4.4) and the ENVELOPE.
    pub fn field_values<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s [u8]> + 's {
        self.fields()
            .filter(move |f| f.is(name))
            .map(|f| f.raw_value())
    }

    /// The raw value of the first field called `name`.
    pub fn field(&self, name: &str) -> Option<&[u8]> {
        self.fields().find(|f| f.is(name)).map(|f| f.raw_value())
    }

    /// The first field called `name`, unfolded, RFC 2047 words decoded
    /// (RFC 2047 §6.1), as text.
    pub fn field_text(&self, name: &str) -> Option<String> {
        let f: Field<'_> = self.fields().find(|f| f.is(name))?;
        Some(mailwire_message::decode_unstructured(f.raw_value()).into_owned())
    }

    /// The message's `Date:` (RFC 5322 §3.6.1), for SEARCH SENTBEFORE/ON/
    /// SINCE (RFC 3501 §6.4.4) and SORT DATE. `None` when missing or
    /// unparseable.
    pub fn sent_date(&self) -> Option<DateTime> {
        let v = self.field("date")?;
        mailwire_message::parse_date_time(v).0
    }

    /// The body of `part` with its Content-Transfer-Encoding removed
    /// (RFC 2045 §6). Borrowed for the identity encodings (and for unknown
    /// ones, which cannot be decoded).
    pub fn decoded(&self, part: &Part) -> Cow<'_, [u8]> {
        let s = self.stream(part);
        let raw = s.get(part.body.clone()).unwrap_or_default();
        match part.mime.transfer_encoding {
            TransferEncoding::Base64
            | TransferEncoding::QuotedPrintable
            | TransferEncoding::UuEncode => Cow::Owned(mailwire_mime::encoding::decode(
                part.mime.transfer_encoding,
                raw,
            )),
            _ => Cow::Borrowed(raw),
        }
    }

    /// The text of a `text/*` leaf in UTF-8: transfer encoding removed,
    /// then decoded from its charset (any WHATWG charset, UTF-7; RFC 2046
    /// §4.1.2; us-ascii when none is given), with how the decoding went.
    /// `None` for other parts.
    pub fn decoded_text(&self, part: &Part) -> Option<(String, TextStatus)> {
        if !part.is_leaf() || part.mime.content_type.ty() != "text" {
            return None;
        }
        let cs = part.mime.content_type.charset();
        let label = cs.as_deref().unwrap_or("us-ascii");
        let body = self.decoded(part);
        let (text, status) = mailwire_mime::decode_text(label.as_bytes(), &body);
        Some((text.into_owned(), status))
    }

    /// The decoded text of every `text/*` leaf, encapsulated messages
    /// included, in document order (for SEARCH BODY and TEXT, RFC 3501
    /// §6.4.4).
    pub fn texts(&self) -> impl Iterator<Item = String> + '_ {
        self.parts
            .iter()
            .filter_map(|p| self.decoded_text(p).map(|(t, _)| t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIXED: &[u8] = b"From: a@b\r\nSubject: =?utf-8?q?caf=C3=A9?=\r\n\
Content-Type: multipart/mixed; boundary=x\r\n\r\npre\r\n--x\r\n\
Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
caf=E9\r\n--x\r\nContent-Type: application/octet-stream\r\n\r\nAA\r\n--x--\r\n";

    #[test]
    fn sections_are_slices_of_the_stored_bytes() {
        let raw = Bytes::from_static(MIXED);
        let m = Message::parse(raw.clone());
        assert_eq!(m.size(), MIXED.len() as u64);
        let h = m.header();
        assert!(h.ends_with(b"boundary=x\r\n\r\n"));
        assert_eq!(h.as_ptr(), raw.as_ptr());
        let t = m.text();
        assert_eq!(t.as_ptr() as usize - raw.as_ptr() as usize, h.len());
        let leaf = &m.parts()[1];
        assert_eq!(&m.part_body(leaf)[..], b"caf=E9");
        assert!(m.part_header(leaf).starts_with(b"Content-Type: text/plain"));
    }

    #[test]
    fn header_fields_and_texts() {
        let m = Message::parse(Bytes::from_static(MIXED));
        assert_eq!(m.field_text("SUBJECT").as_deref(), Some("café"));
        assert_eq!(
            m.field_values("from").collect::<Vec<_>>(),
            vec![&b" a@b"[..]]
        );
        assert_eq!(m.field("x-none"), None);
        assert_eq!(m.texts().collect::<Vec<_>>(), vec!["café".to_owned()]);
        assert_eq!(m.sent_date(), None);
    }

    #[test]
    fn garbage_never_panics() {
        for raw in [
            &b""[..],
            b"\r\n",
            b":",
            b"Content-Type: multipart/mixed\r\n\r\n--",
        ] {
            let m = Message::parse(Bytes::copy_from_slice(raw));
            let _ = (m.header(), m.text(), m.texts().count(), m.sent_date());
        }
    }
}

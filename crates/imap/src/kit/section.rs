//! `BODY[section]<partial>` and `BINARY[section]<partial>` (RFC 3501
//! §6.4.5, RFC 9051 §6.4.5, RFC 3516 §4.1).
//!
//! ```text
//! section-spec = section-msgtext / (section-part ["." section-text])
//! section-part = nz-number *("." nz-number)
//! section-text = section-msgtext / "MIME"
//! section-msgtext = "HEADER" / "HEADER.FIELDS" [".NOT"] SP header-list / "TEXT"
//! ```
//!
//! Part numbers walk the MIME tree: the parts of a multipart are numbered
//! from 1; a message that is not multipart has the one part `1`, its body;
//! the numbers after a message/rfc822 part index the encapsulated message's
//! parts. `HEADER`, `TEXT` and `HEADER.FIELDS` apply to the message itself
//! or to an encapsulated message; `MIME` to a numbered part.
//!
//! Everything but `HEADER.FIELDS[.NOT]` and decoded `BINARY` is a slice
//! of the stored bytes.

use std::num::NonZeroU32;
use std::ops::Range;

use bytes::Bytes;
use mailwire_mime::{Part, PartKind, TransferEncoding};

use super::Message;
use crate::types::core::IString;
use crate::types::fetch::{Partial, Section, SectionText};

/// Section data: a range of one of the message's streams, or bytes built
/// for the answer.
#[derive(Debug, Clone)]
pub(crate) enum Data {
    /// `streams[stream][range]`.
    Slice(usize, Range<usize>),
    /// Built (`HEADER.FIELDS`) or decoded (`BINARY`).
    Owned(Vec<u8>),
}

impl Data {
    pub(crate) fn len(&self) -> usize {
        match self {
            Data::Slice(_, r) => r.len(),
            Data::Owned(v) => v.len(),
        }
    }

    /// Cuts `<origin.length>` (RFC 3501 §6.4.5): an origin past the end
    /// gives the empty string, a length past the end stops at the end.
    pub(crate) fn partial(self, partial: Option<Partial>) -> Data {
        let Some(p) = partial else { return self };
        let len = self.len();
        let start = (p.origin as usize).min(len);
        let end = start.saturating_add(p.length.get() as usize).min(len);
        match self {
            Data::Slice(s, r) => Data::Slice(s, r.start + start..r.start + end),
            Data::Owned(mut v) => {
                v.truncate(end);
                v.drain(..start);
                Data::Owned(v)
            }
        }
    }
}

/// Why a `BINARY` fetch cannot be answered (RFC 3516 §4.3, RFC 9051
/// §6.4.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct UnknownCte;

impl Message {
    /// The entity section part `path` designates, or `None` when there is
    /// no such part. The empty path is the message itself.
    pub fn section_part(&self, path: &[NonZeroU32]) -> Option<&Part> {
        let mut cur = self.root();
        for (i, n) in path.iter().enumerate() {
            let entity = if i == 0 {
                cur
            } else {
                match cur.kind {
                    PartKind::Message | PartKind::EncodedMessage => self.encapsulated(cur)?,
                    PartKind::Multipart => cur,
                    PartKind::Leaf => return None,
                }
            };
            cur = if entity.kind == PartKind::Multipart {
                self.part(*entity.children.get(n.get() as usize - 1)?)?
            } else if n.get() == 1 {
                entity
            } else {
                return None;
            };
        }
        Some(cur)
    }

    /// The message `HEADER`/`TEXT` of a section apply to: the message
    /// itself for the empty path, else the message a message/rfc822 part
    /// encapsulates.
    fn section_message(&self, path: &[NonZeroU32]) -> Option<&Part> {
        if path.is_empty() {
            return Some(self.root());
        }
        self.encapsulated(self.section_part(path)?)
    }

    fn range_of(part: &Part, r: &Range<usize>) -> Data {
        Data::Slice(part.stream, r.clone())
    }

    /// Resolves a section to its data (`None`: no such section).
    pub(crate) fn section_data(&self, section: &Section<'_>) -> Option<Data> {
        let path = &section.part;
        Some(match &section.text {
            None if path.is_empty() => Data::Slice(0, 0..self.raw().len()),
            None => {
                let p = self.section_part(path)?;
                Self::range_of(p, &p.body)
            }
            Some(SectionText::Mime) => {
                if path.is_empty() {
                    return None;
                }
                let p = self.section_part(path)?;
                Self::range_of(p, &p.header)
            }
            Some(SectionText::Header) => {
                let m = self.section_message(path)?;
                Self::range_of(m, &m.header)
            }
            Some(SectionText::Text) => {
                let m = self.section_message(path)?;
                Self::range_of(m, &m.body)
            }
            Some(SectionText::HeaderFields(names)) => {
                Data::Owned(self.header_fields(self.section_message(path)?, names, true))
            }
            Some(SectionText::HeaderFieldsNot(names)) => {
                Data::Owned(self.header_fields(self.section_message(path)?, names, false))
            }
        })
    }

    /// The fields of `m`'s header whose names are (`keep`) or are not in
    /// `names`, as written, then the blank line that ends a header.
    fn header_fields(&self, m: &Part, names: &[IString<'_>], keep: bool) -> Vec<u8> {
        let mut out = Vec::new();
        for f in self.part_fields(m) {
            let listed = names
                .iter()
                .any(|n| n.as_bytes().eq_ignore_ascii_case(f.name_bytes()));
            if listed == keep {
                out.extend_from_slice(f.raw());
                if !f.raw().ends_with(b"\n") {
                    out.extend_from_slice(b"\r\n");
                }
            }
        }
        out.extend_from_slice(b"\r\n");
        out
    }

    /// The bytes of section data.
    pub(crate) fn data_bytes(&self, data: Data) -> Bytes {
        match data {
            Data::Slice(stream, r) => self
                .streams
                .get(stream)
                .filter(|s| r.end <= s.len())
                .map(|s| s.slice(r))
                .unwrap_or_default(),
            Data::Owned(v) => Bytes::from(v),
        }
    }

    /// `streams[stream][r]`, empty when out of range (never, for ranges
    /// of this message's parts).
    pub(crate) fn stream_slice(&self, stream: usize, r: Range<usize>) -> &[u8] {
        self.streams
            .get(stream)
            .and_then(|s| s.get(r))
            .unwrap_or_default()
    }

    /// `BODY[section]<partial>`: the section's bytes, `None` when the
    /// section does not exist. A slice of the stored message except for
    /// `HEADER.FIELDS` and `HEADER.FIELDS.NOT`, which are built.
    ///
    /// ```
    /// use std::num::NonZeroU32;
    /// use mailwire_imap::{Section, SectionText, Partial, kit::Message};
    /// let m = Message::parse(&b"Subject: x\r\n\r\nHello\r\n"[..]);
    /// let text = Section { part: vec![], text: Some(SectionText::Text) };
    /// assert_eq!(&m.section(&text, None).unwrap()[..], b"Hello\r\n");
    /// let p = Partial { origin: 1, length: NonZeroU32::new(3).unwrap() };
    /// assert_eq!(&m.section(&text, Some(p)).unwrap()[..], b"ell");
    /// ```
    pub fn section(&self, section: &Section<'_>, partial: Option<Partial>) -> Option<Bytes> {
        Some(self.data_bytes(self.section_data(section)?.partial(partial)))
    }

    /// The decoded content of `BINARY[path]` (RFC 3516 §4.2): the part's
    /// body with its Content-Transfer-Encoding removed; for the empty path
    /// the whole message as stored. `Ok(None)`: no such part.
    pub(crate) fn binary_data(&self, path: &[NonZeroU32]) -> Result<Option<Data>, UnknownCte> {
        if path.is_empty() {
            return Ok(Some(Data::Slice(0, 0..self.raw().len())));
        }
        let Some(p) = self.section_part(path) else {
            return Ok(None);
        };
        Ok(Some(match p.mime.transfer_encoding {
            TransferEncoding::Unknown => return Err(UnknownCte),
            TransferEncoding::Base64
            | TransferEncoding::QuotedPrintable
            | TransferEncoding::UuEncode => Data::Owned(self.decoded(p).into_owned()),
            _ => Self::range_of(p, &p.body),
        }))
    }
}

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

    /// `part`'s header block. When the body is empty and a boundary
    /// delimiter follows right away, the last line end belongs to the
    /// delimiter (RFC 2046 §5.1.1: "the CRLF preceding the boundary
    /// delimiter line is conceptually attached to the boundary"), not to
    /// the header, as Dovecot reads it.
    fn header_of(&self, part: &Part) -> Data {
        let mut h = part.header.clone();
        let s: &[u8] = self.stream(part);
        let at_delimiter = part.parent.is_some()
            && part.body.is_empty()
            && s.get(h.end..).is_some_and(|r| r.starts_with(b"--"));
        if at_delimiter {
            let block = s.get(h.clone()).unwrap_or_default();
            if block.ends_with(b"\r\n") {
                h.end -= 2;
            } else if block.ends_with(b"\n") {
                h.end -= 1;
            }
        }
        Data::Slice(part.stream, h)
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
                self.header_of(self.section_part(path)?)
            }
            Some(SectionText::Header) => self.header_of(self.section_message(path)?),
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
        for f in self.raw_fields(m) {
            let listed = names
                .iter()
                .any(|n| n.as_bytes().eq_ignore_ascii_case(f.name));
            if listed == keep {
                out.extend_from_slice(f.raw);
                if !f.raw.ends_with(b"\n") {
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The message of the RFC 3501 §6.4.5 part-specifier example.
    const RFC3501_6_4_5: &[u8] = b"Subject: top\r\nContent-Type: MULTIPART/MIXED; boundary=1\r\n\r\n\
--1\r\nContent-Type: TEXT/PLAIN\r\n\r\npart 1\r\n\
--1\r\nContent-Type: APPLICATION/OCTET-STREAM\r\n\r\npart 2\r\n\
--1\r\nContent-Type: MESSAGE/RFC822\r\n\r\n\
Subject: three\r\nContent-Type: MULTIPART/MIXED; boundary=3\r\n\r\n\
--3\r\nContent-Type: TEXT/PLAIN\r\n\r\npart 3.1\r\n\
--3\r\nContent-Type: APPLICATION/OCTET-STREAM\r\n\r\npart 3.2\r\n--3--\r\n\
--1\r\nContent-Type: MULTIPART/MIXED; boundary=4\r\n\r\n\
--4\r\nContent-Type: IMAGE/GIF\r\n\r\npart 4.1\r\n\
--4\r\nContent-Type: MESSAGE/RFC822\r\n\r\n\
Subject: four-two\r\nContent-Type: MULTIPART/MIXED; boundary=42\r\n\r\n\
--42\r\nContent-Type: TEXT/PLAIN\r\n\r\npart 4.2.1\r\n\
--42\r\nContent-Type: MULTIPART/ALTERNATIVE; boundary=422\r\n\r\n\
--422\r\nContent-Type: TEXT/PLAIN\r\n\r\npart 4.2.2.1\r\n\
--422\r\nContent-Type: TEXT/RICHTEXT\r\n\r\npart 4.2.2.2\r\n--422--\r\n--42--\r\n--4--\r\n--1--\r\n";

    fn sec(spec: &str) -> Section<'static> {
        let (nums, text) = match spec.find(|c: char| c.is_ascii_alphabetic()) {
            Some(i) => (spec[..i].trim_end_matches('.'), Some(&spec[i..])),
            None => (spec, None),
        };
        Section {
            part: nums
                .split('.')
                .filter(|s| !s.is_empty())
                .map(|n| n.parse().unwrap())
                .collect(),
            text: text.map(|t| match t {
                "HEADER" => SectionText::Header,
                "TEXT" => SectionText::Text,
                "MIME" => SectionText::Mime,
                _ => unreachable!(),
            }),
        }
    }

    fn get(m: &Message, spec: &str) -> Option<String> {
        m.section(&sec(spec), None)
            .map(|b| String::from_utf8(b.to_vec()).unwrap())
    }

    #[test]
    fn rfc3501_6_4_5_part_specifiers() {
        let m = Message::parse(RFC3501_6_4_5);
        for (spec, body) in [
            ("1", "part 1"),
            ("2", "part 2"),
            ("3.1", "part 3.1"),
            ("3.2", "part 3.2"),
            ("4.1", "part 4.1"),
            ("4.2.1", "part 4.2.1"),
            ("4.2.2.1", "part 4.2.2.1"),
            ("4.2.2.2", "part 4.2.2.2"),
        ] {
            assert_eq!(get(&m, spec).as_deref(), Some(body), "{spec}");
        }
        assert!(get(&m, "HEADER").unwrap().starts_with("Subject: top\r\n"));
        assert!(get(&m, "TEXT").unwrap().starts_with("--1\r\n"));
        assert!(get(&m, "3").unwrap().starts_with("Subject: three\r\n"));
        assert_eq!(
            get(&m, "3.HEADER").as_deref(),
            Some("Subject: three\r\nContent-Type: MULTIPART/MIXED; boundary=3\r\n\r\n")
        );
        assert!(get(&m, "3.TEXT").unwrap().starts_with("--3\r\n"));
        assert!(get(&m, "4").unwrap().starts_with("--4\r\n"));
        assert_eq!(
            get(&m, "4.1.MIME").as_deref(),
            Some("Content-Type: IMAGE/GIF\r\n\r\n")
        );
        assert!(
            get(&m, "4.2.HEADER")
                .unwrap()
                .starts_with("Subject: four-two")
        );
        assert!(get(&m, "4.2.TEXT").unwrap().starts_with("--42\r\n"));
        assert!(get(&m, "4.2.2").unwrap().starts_with("--422\r\n"));
        // What does not exist.
        for spec in ["5", "1.1", "4.3", "4.2.2.3", "1.HEADER", "MIME"] {
            assert_eq!(get(&m, spec), None, "{spec}");
        }
    }

    #[test]
    fn single_part_message_has_part_1() {
        let m = Message::parse(&b"Subject: x\r\nContent-Type: text/plain\r\n\r\nbody\r\n"[..]);
        assert_eq!(get(&m, "1").as_deref(), Some("body\r\n"));
        assert_eq!(get(&m, "1.MIME"), get(&m, "HEADER"));
        assert_eq!(get(&m, "2"), None);
        assert_eq!(get(&m, "1.1"), None);
    }

    #[test]
    fn header_fields_and_not() {
        let m = Message::parse(
            &b"From: a@b\r\nSubject: s\r\n folded\r\nTo: c@d\r\nsubject: again\r\n\r\nbody"[..],
        );
        let names = |l: &[&'static str]| {
            l.iter()
                .map(|n| IString::try_from(*n).unwrap())
                .collect::<Vec<_>>()
        };
        let fields = Section {
            part: vec![],
            text: Some(SectionText::HeaderFields(names(&["SUBJECT", "x-none"]))),
        };
        assert_eq!(
            &m.section(&fields, None).unwrap()[..],
            b"Subject: s\r\n folded\r\nsubject: again\r\n\r\n"
        );
        let not = Section {
            part: vec![],
            text: Some(SectionText::HeaderFieldsNot(names(&["subject"]))),
        };
        assert_eq!(
            &m.section(&not, None).unwrap()[..],
            b"From: a@b\r\nTo: c@d\r\n\r\n"
        );
    }

    #[test]
    fn empty_part_header_leaves_its_line_end_to_the_delimiter() {
        let m = Message::parse(
            &b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: image/gif\r\n\r\n--b--\r\n"[..],
        );
        assert_eq!(
            get(&m, "1.MIME").as_deref(),
            Some("Content-Type: image/gif\r\n")
        );
        assert_eq!(get(&m, "1").as_deref(), Some(""));
    }

    #[test]
    fn partial_ranges() {
        let m = Message::parse(&b"\r\n0123456789"[..]);
        let text = sec("TEXT");
        let p = |origin, length| {
            Some(Partial {
                origin,
                length: NonZeroU32::new(length).unwrap(),
            })
        };
        let cut = |o, l| m.section(&text, p(o, l)).map(|b| b.to_vec());
        assert_eq!(cut(0, 3), Some(b"012".to_vec()));
        assert_eq!(cut(8, 5), Some(b"89".to_vec()));
        assert_eq!(cut(10, 1), Some(Vec::new()));
        assert_eq!(cut(u32::MAX, u32::MAX), Some(Vec::new()));
    }

    fn path() -> impl Strategy<Value = Vec<NonZeroU32>> {
        proptest::collection::vec(1u32..4, 0..4)
            .prop_map(|v| v.into_iter().filter_map(NonZeroU32::new).collect())
    }

    fn text() -> impl Strategy<Value = Option<SectionText<'static>>> {
        prop_oneof![
            Just(None),
            Just(Some(SectionText::Header)),
            Just(Some(SectionText::Text)),
            Just(Some(SectionText::Mime)),
            Just(Some(SectionText::HeaderFields(vec![
                IString::try_from("subject").unwrap()
            ]))),
        ]
    }

    proptest! {
        /// A partial fetch is the same cut of the whole section, for any
        /// message, section and range, and nothing panics.
        #[test]
        fn partial_is_a_cut_of_the_section(
            raw in proptest::collection::vec(
                prop_oneof![
                    Just(b"\r\n".to_vec()),
                    Just(b"--b".to_vec()),
                    Just(b"Content-Type: multipart/mixed; boundary=b\r\n".to_vec()),
                    Just(b"Content-Type: message/rfc822\r\n".to_vec()),
                    Just(b"Content-Transfer-Encoding: base64\r\n".to_vec()),
                    Just(b"Subject: x\r\n".to_vec()),
                    proptest::collection::vec(any::<u8>(), 0..8),
                ],
                0..30,
            ),
            part in path(),
            text in text(),
            origin in 0u32..200,
            length in 1u32..200,
        ) {
            let m = Message::parse(raw.concat());
            let section = Section { part: part.clone(), text };
            let partial = Partial { origin, length: NonZeroU32::new(length).unwrap() };
            let whole = m.section(&section, None);
            let cut = m.section(&section, Some(partial));
            prop_assert_eq!(whole.is_some(), cut.is_some());
            if let (Some(w), Some(c)) = (whole, cut) {
                let start = (origin as usize).min(w.len());
                let end = (start + length as usize).min(w.len());
                prop_assert_eq!(&w[start..end], &c[..]);
            }
            let _ = (m.binary(&part, Some(partial)), m.binary_size(&part));
        }
    }
}

//! One FETCH attribute answered from a stored message, as the codec's
//! [`FetchItem`] (RFC 3501 §6.4.5 / §7.4.2, RFC 9051 §6.4.5 / §7.5.2,
//! RFC 3516).

use std::borrow::Cow;
use std::num::NonZeroU32;

use bytes::Bytes;

use super::section::{Data, UnknownCte};
use super::{Message, istr};
use crate::types::core::{Atom, Binary, IString};
use crate::types::fetch::{FetchAttr, FetchItem, Partial, Section, SectionText};
use crate::types::response::Code;

/// Why a FETCH attribute cannot be answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// `BINARY` of a part whose Content-Transfer-Encoding is unknown: the
    /// server answers `NO [UNKNOWN-CTE]` (RFC 3516 §4.3, RFC 9051 §7.1).
    #[error("unknown Content-Transfer-Encoding")]
    UnknownCte,
}

impl FetchError {
    /// The response code the tagged `NO` carries.
    pub fn code(&self) -> Code<'static> {
        match self {
            FetchError::UnknownCte => Code::Simple(Atom::unvalidated("UNKNOWN-CTE")),
        }
    }
}

impl From<UnknownCte> for FetchError {
    fn from(_: UnknownCte) -> Self {
        FetchError::UnknownCte
    }
}

/// `section` detached from the command it came from.
fn owned_section(section: &Section<'_>) -> Section<'static> {
    let names = |l: &[IString<'_>]| l.iter().map(|n| n.clone().into_owned()).collect();
    Section {
        part: section.part.clone(),
        text: section.text.as_ref().map(|t| match t {
            SectionText::Header => SectionText::Header,
            SectionText::HeaderFields(l) => SectionText::HeaderFields(names(l)),
            SectionText::HeaderFieldsNot(l) => SectionText::HeaderFieldsNot(names(l)),
            SectionText::Text => SectionText::Text,
            SectionText::Mime => SectionText::Mime,
        }),
    }
}

impl Message {
    /// `BINARY[part]<partial>` (RFC 3516 §4.2): the part's content with its
    /// transfer encoding removed (a slice of the stored message when the
    /// encoding is an identity one). `Ok(None)`: no such part.
    pub fn binary(
        &self,
        part: &[NonZeroU32],
        partial: Option<Partial>,
    ) -> Result<Option<Bytes>, FetchError> {
        Ok(self
            .binary_data(part)?
            .map(|d| self.data_bytes(d.partial(partial))))
    }

    /// `BINARY.SIZE[part]` (RFC 3516 §4.2): the size of the decoded
    /// content. `Ok(None)`: no such part.
    pub fn binary_size(&self, part: &[NonZeroU32]) -> Result<Option<u64>, FetchError> {
        Ok(self.binary_data(part)?.map(|d| d.len() as u64))
    }

    /// Answers one FETCH attribute. `Ok(None)` for what the stored message
    /// does not hold (FLAGS, UID, INTERNALDATE, SAVEDATE, MODSEQ, EMAILID,
    /// THREADID and unknown attributes): the mailbox supplies them.
    /// SAVEDATE is the date the message was saved in its mailbox (RFC 8514
    /// §3), answered NIL where the storage keeps none (§4.2). EMAILID is
    /// the server's object identifier of the message's content (RFC 8474
    /// §5.1), which a COPY or MOVE keeps; THREADID is that of its thread
    /// (§5.2), answered NIL by a server that keeps no threads. Section data
    /// borrow from the message (no copy). A section that does not exist is
    /// the empty string, as Dovecot answers it.
    ///
    /// ```
    /// use mailwire_imap::{FetchAttr, FetchItem, kit::Message};
    /// let m = Message::parse(&b"Subject: x\r\n\r\nHi\r\n"[..]);
    /// assert_eq!(m.fetch(&FetchAttr::Rfc822Size), Ok(Some(FetchItem::Rfc822Size(18))));
    /// assert_eq!(m.fetch(&FetchAttr::Flags), Ok(None));
    /// ```
    pub fn fetch<'s>(&'s self, attr: &FetchAttr<'_>) -> Result<Option<FetchItem<'s>>, FetchError> {
        let whole = |text: Option<SectionText<'static>>| {
            self.section_data(&Section {
                part: Vec::new(),
                text,
            })
        };
        // An IMAP string cannot hold NUL (RFC 3501 §4.3): a section with
        // one is copied with 0x80 in its place (as Dovecot sends it);
        // BINARY keeps the octets.
        let string = |d: Option<Data>| -> Option<IString<'s>> {
            d.map(|d| match d {
                Data::Slice(s, r) => match self.stream_slice(s, r) {
                    b if b.contains(&0) => istr(b.to_vec()),
                    b => IString::from_literal(b),
                },
                Data::Owned(v) => istr(v),
            })
        };
        Ok(Some(match attr {
            FetchAttr::Envelope => FetchItem::Envelope(Box::new(self.envelope())),
            FetchAttr::BodyStructure => FetchItem::BodyStructure(Box::new(self.body_structure())),
            FetchAttr::Body => FetchItem::Body(Box::new(self.body())),
            FetchAttr::Rfc822Size => FetchItem::Rfc822Size(self.size()),
            FetchAttr::Rfc822 => FetchItem::Rfc822(string(whole(None))),
            FetchAttr::Rfc822Header => {
                FetchItem::Rfc822Header(string(whole(Some(SectionText::Header))))
            }
            FetchAttr::Rfc822Text => FetchItem::Rfc822Text(string(whole(Some(SectionText::Text)))),
            FetchAttr::BodySection {
                section, partial, ..
            } => {
                let data = self
                    .section_data(section)
                    .unwrap_or(Data::Owned(Vec::new()))
                    .partial(*partial);
                FetchItem::BodySection {
                    section: owned_section(section),
                    origin: partial.map(|p| p.origin),
                    data: string(Some(data)),
                }
            }
            FetchAttr::Binary { part, partial, .. } => {
                let data = self
                    .binary_data(part)?
                    .unwrap_or(Data::Owned(Vec::new()))
                    .partial(*partial);
                let bytes: Cow<'s, [u8]> = match data {
                    Data::Slice(s, r) => Cow::Borrowed(self.stream_slice(s, r)),
                    Data::Owned(v) => Cow::Owned(v),
                };
                FetchItem::Binary {
                    part: part.clone(),
                    origin: partial.map(|p| p.origin),
                    data: Some(Binary(bytes)),
                }
            }
            FetchAttr::BinarySize(part) => FetchItem::BinarySize {
                part: part.clone(),
                size: self.binary_size(part)?.unwrap_or(0),
            },
            FetchAttr::Preview { .. } => {
                FetchItem::Preview(Some(istr(self.preview().into_bytes())))
            }
            FetchAttr::Flags
            | FetchAttr::InternalDate
            | FetchAttr::SaveDate
            | FetchAttr::EmailId
            | FetchAttr::ThreadId
            | FetchAttr::Uid
            | FetchAttr::ModSeq
            | FetchAttr::Other(_) => return Ok(None),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::response_to_vec;
    use crate::types::response::{Data, Response};

    fn encode(items: Vec<FetchItem<'_>>) -> String {
        let r = Response::Data(Data::Fetch {
            seq: NonZeroU32::new(12).unwrap(),
            items,
        });
        String::from_utf8(response_to_vec(&r)).unwrap()
    }

    /// The header `a004 fetch 12 body[header]` returns in the RFC 3501 §8
    /// sample (342 octets).
    const RFC3501_8_HEADER: &[u8] = b"Date: Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\r\n\
From: Terry Gray <gray@cac.washington.edu>\r\n\
Subject: IMAP4rev1 WG mtg summary and minutes\r\n\
To: imap@cac.washington.edu\r\n\
cc: minutes@CNRI.Reston.VA.US, John Klensin <KLENSIN@MIT.EDU>\r\n\
Message-Id: <B27397-0100000@cac.washington.edu>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n\r\n";

    /// The sample's message: its header and a body of 3028 octets in 92
    /// lines, as `BODY` reports it.
    fn rfc3501_8_message() -> Message {
        let mut raw = RFC3501_8_HEADER.to_vec();
        for i in 0..92 {
            let len = if i < 84 { 31 } else { 30 };
            raw.extend(std::iter::repeat_n(b'x', len));
            raw.extend_from_slice(b"\r\n");
        }
        Message::parse(raw)
    }

    #[test]
    fn rfc3501_8_sample() {
        let m = rfc3501_8_message();
        let items = [FetchAttr::Rfc822Size, FetchAttr::Envelope, FetchAttr::Body]
            .iter()
            .map(|a| m.fetch(a).unwrap().unwrap())
            .collect();
        // `a003 fetch 12 full`, without what the mailbox supplies (FLAGS,
        // INTERNALDATE) and with this message's size. The RFC writes the
        // default encoding "7BIT"; the kit writes it as Dovecot does.
        assert_eq!(
            encode(items),
            "* 12 FETCH (RFC822.SIZE 3370 ENVELOPE (\"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\" \
\"IMAP4rev1 WG mtg summary and minutes\" \
((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) \
((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) \
((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) \
((NIL NIL \"imap\" \"cac.washington.edu\")) \
((NIL NIL \"minutes\" \"CNRI.Reston.VA.US\")(\"John Klensin\" NIL \"KLENSIN\" \"MIT.EDU\")) \
NIL NIL \"<B27397-0100000@cac.washington.edu>\") \
BODY (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7bit\" 3028 92))\r\n"
        );
        // `a004 fetch 12 body[header]`.
        let header = FetchAttr::BodySection {
            peek: false,
            section: Section {
                part: vec![],
                text: Some(SectionText::Header),
            },
            partial: None,
        };
        let got = encode(vec![m.fetch(&header).unwrap().unwrap()]);
        let mut want = b"* 12 FETCH (BODY[HEADER] {342}\r\n".to_vec();
        want.extend_from_slice(RFC3501_8_HEADER);
        want.extend_from_slice(b")\r\n");
        assert_eq!(got.as_bytes(), want);
    }

    #[test]
    fn section_data_borrow_the_stored_message() {
        let m = rfc3501_8_message();
        let attr = FetchAttr::Rfc822Text;
        let Some(FetchItem::Rfc822Text(Some(s))) = m.fetch(&attr).unwrap() else {
            panic!()
        };
        let base = m.raw().as_ptr() as usize;
        assert_eq!(s.as_bytes().as_ptr() as usize - base, 342);
        assert!(matches!(s.into_inner(), Cow::Borrowed(_)));
    }

    #[test]
    fn rfc3501_4_3_a_nul_of_a_section_goes_out_as_0x80() {
        let m = Message::parse(b"Subject: nul\r\n\r\na\x00b\r\n".to_vec());
        let text = FetchAttr::Rfc822Text;
        let Some(FetchItem::Rfc822Text(Some(s))) = m.fetch(&text).unwrap() else {
            panic!()
        };
        assert_eq!(s.as_bytes(), b"a\x80b\r\n");
        let binary = FetchAttr::Binary {
            part: vec![NonZeroU32::MIN],
            partial: None,
            peek: true,
        };
        let Some(FetchItem::Binary { data, .. }) = m.fetch(&binary).unwrap() else {
            panic!()
        };
        assert_eq!(data.map(|d| d.0.into_owned()), Some(b"a\x00b\r\n".to_vec()));
    }

    #[test]
    fn rfc3516_4_3_unknown_cte() {
        let m = Message::parse(
            &b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\
Content-Transfer-Encoding: x-rot13\r\n\r\nuryyb\r\n--b\r\n\
Content-Transfer-Encoding: base64\r\n\r\naGVsbG8=\r\n--b--\r\n"[..],
        );
        let one = [NonZeroU32::MIN];
        let two = [NonZeroU32::new(2).unwrap()];
        assert_eq!(m.binary(&one, None), Err(FetchError::UnknownCte));
        assert_eq!(m.binary_size(&one), Err(FetchError::UnknownCte));
        assert_eq!(
            FetchError::UnknownCte.code(),
            Code::Simple(Atom::unvalidated("UNKNOWN-CTE"))
        );
        assert_eq!(
            m.binary(&two, None).unwrap().as_deref(),
            Some(&b"hello"[..])
        );
        assert_eq!(m.binary_size(&two), Ok(Some(5)));
        let p = Partial {
            origin: 1,
            length: NonZeroU32::new(3).unwrap(),
        };
        assert_eq!(
            m.binary(&two, Some(p)).unwrap().as_deref(),
            Some(&b"ell"[..])
        );
        let attr = FetchAttr::Binary {
            peek: true,
            part: two.to_vec(),
            partial: Some(p),
        };
        assert_eq!(
            encode(vec![m.fetch(&attr).unwrap().unwrap()]),
            "* 12 FETCH (BINARY[2]<1> {3}\r\nell)\r\n"
        );
        // No such part: nothing to decode.
        assert_eq!(m.binary(&[NonZeroU32::new(3).unwrap()], None), Ok(None));
    }

    #[test]
    fn attributes_the_mailbox_supplies() {
        let m = Message::parse(&b"\r\n"[..]);
        for a in [
            FetchAttr::Flags,
            FetchAttr::Uid,
            FetchAttr::InternalDate,
            FetchAttr::SaveDate,
            FetchAttr::EmailId,
            FetchAttr::ThreadId,
            FetchAttr::ModSeq,
        ] {
            assert_eq!(m.fetch(&a), Ok(None));
        }
    }
}

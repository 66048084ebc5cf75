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
    /// does not hold (FLAGS, UID, INTERNALDATE, MODSEQ and unknown
    /// attributes: the mailbox supplies them). Section data borrow from
    /// the message (no copy). A section that does not exist is the empty
    /// string, as Dovecot answers it.
    ///
    /// ```
    /// use mailwire_imap::{FetchAttr, FetchItem, kit::Message};
    /// let m = Message::parse(&b"Subject: x\r\n\r\nHi\r\n"[..]);
    /// assert_eq!(m.fetch(&FetchAttr::Rfc822Size), Ok(Some(FetchItem::Rfc822Size(19))));
    /// assert_eq!(m.fetch(&FetchAttr::Flags), Ok(None));
    /// ```
    pub fn fetch<'s>(&'s self, attr: &FetchAttr<'_>) -> Result<Option<FetchItem<'s>>, FetchError> {
        let whole = |text: Option<SectionText<'static>>| {
            self.section_data(&Section {
                part: Vec::new(),
                text,
            })
        };
        let string = |d: Option<Data>| -> Option<IString<'s>> {
            d.map(|d| match d {
                Data::Slice(s, r) => IString::from_literal(self.stream_slice(s, r)),
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
            FetchAttr::Flags
            | FetchAttr::InternalDate
            | FetchAttr::Uid
            | FetchAttr::ModSeq
            | FetchAttr::Other(_) => return Ok(None),
        }))
    }
}

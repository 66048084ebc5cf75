//! BODYSTRUCTURE and BODY (RFC 3501 §7.4.2 / RFC 9051 §7.5.2): the MIME
//! tree as IMAP describes it.
//!
//! ```text
//! body-type-1part: type subtype (params) id description encoding size
//!                  [lines | envelope body lines]  [md5 [dsp [lang [loc]]]]
//! body-type-mpart: (part)(part)... subtype [(params) [dsp [lang [loc]]]]
//! ```
//!
//! Values are given as the message wrote them (type names in their case,
//! parameters with RFC 2231 continuations joined but not decoded). An
//! entity without Content-Type is `text/plain; charset=us-ascii` (RFC 2045
//! §5.2), or `message/rfc822` inside a multipart/digest (RFC 2046
//! §5.1.5); a text type without a charset gets `charset=us-ascii` too, as
//! Dovecot reports it. A multipart whose body holds no part gets one empty
//! `text/plain` part, so the structure stays valid (`body-type-mpart`
//! needs at least one body).

use mailwire_mime::{Part, PartKind};

use super::content::{ContentFields, Params};
use super::{Message, istr};
use crate::types::body::{
    BasicFields, BodyStructure, Disposition, ExtensionData, MultipartExtension,
    SinglePartExtension, SpecificFields,
};
use crate::types::core::IString;
use crate::types::secret::Vec1;

/// `size` and line counts are 32-bit in the grammar (`number`).
fn clamp(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Lines of a body: its LF count, as Dovecot counts them.
fn lines(body: &[u8]) -> u32 {
    clamp(memchr::memchr_iter(b'\n', body).count())
}

fn params_out(params: &Params) -> Vec<(IString<'static>, IString<'static>)> {
    params
        .iter()
        .map(|(k, v)| (istr(k.clone()), istr(v.clone())))
        .collect()
}

fn ext_data(c: &ContentFields) -> ExtensionData<'static> {
    ExtensionData {
        disposition: c.disposition.as_ref().map(|(kind, params)| Disposition {
            kind: istr(kind.clone()),
            params: params_out(params),
        }),
        language: c
            .language
            .iter()
            .flatten()
            .map(|t| istr(t.clone()))
            .collect(),
        location: c.location.clone().map(istr),
        extensions: Vec::new(),
    }
}

/// The empty `text/plain` part a multipart without body parts reports.
fn empty_part(extensible: bool) -> BodyStructure<'static> {
    BodyStructure::Single {
        fields: BasicFields {
            params: vec![(istr(b"charset".to_vec()), istr(b"us-ascii".to_vec()))],
            id: None,
            description: None,
            encoding: Some(istr(b"7bit".to_vec())),
            size: 0,
        },
        specific: SpecificFields::Text {
            subtype: istr(b"plain".to_vec()),
            lines: 0,
        },
        extension: extensible.then(|| SinglePartExtension {
            md5: None,
            data: ExtensionData::default(),
        }),
    }
}

impl Message {
    /// `BODYSTRUCTURE`: the extensible form, with MD5, disposition,
    /// language and location.
    pub fn body_structure(&self) -> BodyStructure<'static> {
        self.structure_of(self.root(), true)
    }

    /// `BODY`: the non-extensible form.
    pub fn body(&self) -> BodyStructure<'static> {
        self.structure_of(self.root(), false)
    }

    /// The Content-* fields of `part`, as BODYSTRUCTURE reads them.
    pub(crate) fn content_fields(&self, part: &Part) -> ContentFields {
        ContentFields::parse(
            self.part_fields(part)
                .map(|f| (f.name_bytes(), f.raw_value())),
            self.in_multipart(part),
        )
    }

    /// Whether `part` is a body part of a multipart.
    fn in_multipart(&self, part: &Part) -> bool {
        part.parent
            .and_then(|p| self.part(p))
            .is_some_and(|p| p.kind == PartKind::Multipart)
    }

    /// The structure of one entity (`extensible`: BODYSTRUCTURE).
    pub(crate) fn structure_of(&self, part: &Part, extensible: bool) -> BodyStructure<'static> {
        let c = self.content_fields(part);
        if part.kind == PartKind::Multipart {
            return self.multipart(part, &c, extensible);
        }
        let in_digest = part.parent.and_then(|p| self.part(p)).is_some_and(|p| {
            p.kind == PartKind::Multipart
                && p.mime.content_type.subtype().eq_ignore_ascii_case("digest")
        });
        let body = self.part_body(part);
        let (ty, sub, mut params) = match &c.media {
            Some((ty, Some(sub))) if !ty.is_empty() && !sub.is_empty() => {
                (ty.clone(), sub.clone(), c.params.clone())
            }
            _ if in_digest => (b"message".to_vec(), b"rfc822".to_vec(), Params::new()),
            _ => (b"text".to_vec(), b"plain".to_vec(), Params::new()),
        };
        let is_text = ty.eq_ignore_ascii_case(b"text");
        if is_text
            && !params
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case(b"charset"))
        {
            params.push((b"charset".to_vec(), b"us-ascii".to_vec()));
        }
        let fields = BasicFields {
            params: params_out(&params),
            id: c.id.clone().map(istr),
            description: c.description.clone().map(istr),
            encoding: Some(istr(c.encoding_or_default().to_vec())),
            size: clamp(body.len()),
        };
        let specific = match self.encapsulated(part) {
            Some(inner) => SpecificFields::Message {
                subtype: istr(sub),
                envelope: Box::new(self.envelope_of(inner)),
                body: Box::new(self.structure_of(inner, extensible)),
                lines: lines(&body),
            },
            None if is_text => SpecificFields::Text {
                subtype: istr(sub),
                lines: lines(&body),
            },
            None => SpecificFields::Basic {
                media_type: istr(ty),
                subtype: istr(sub),
            },
        };
        BodyStructure::Single {
            fields,
            specific,
            extension: extensible.then(|| SinglePartExtension {
                md5: c.md5.clone().map(istr),
                data: ext_data(&c),
            }),
        }
    }

    fn multipart(
        &self,
        part: &Part,
        c: &ContentFields,
        extensible: bool,
    ) -> BodyStructure<'static> {
        let children: Vec<BodyStructure<'static>> = part
            .children
            .iter()
            .filter_map(|&id| self.part(id))
            .map(|child| self.structure_of(child, extensible))
            .collect();
        let bodies = Vec1::try_from(children).unwrap_or_else(|_| Vec1::one(empty_part(extensible)));
        let subtype = match &c.media {
            Some((_, Some(sub))) if !sub.is_empty() => sub.clone(),
            _ => part.mime.content_type.subtype().as_bytes().to_vec(),
        };
        BodyStructure::Multi {
            bodies,
            subtype: istr(subtype),
            extension: extensible.then(|| MultipartExtension {
                params: params_out(&c.params),
                data: ext_data(c),
            }),
        }
    }
}

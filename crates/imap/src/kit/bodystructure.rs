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

fn params_out(params: Params) -> Vec<(IString<'static>, IString<'static>)> {
    params
        .into_iter()
        .map(|(k, v)| (istr(k), istr(v)))
        .collect()
}

/// Disposition, language and location (the values move, no copy).
fn ext_data(c: ContentFields) -> ExtensionData<'static> {
    ExtensionData {
        disposition: c.disposition.map(|(kind, params)| Disposition {
            kind: istr(kind),
            params: params_out(params),
        }),
        language: c.language.into_iter().flatten().map(istr).collect(),
        location: c.location.map(istr),
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
            self.raw_fields(part).map(|f| (f.name, f.value)),
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
        let mut c = self.content_fields(part);
        if part.kind == PartKind::Multipart {
            return self.multipart(part, c, extensible);
        }
        let in_digest = part.parent.and_then(|p| self.part(p)).is_some_and(|p| {
            p.kind == PartKind::Multipart
                && p.mime.content_type.subtype().eq_ignore_ascii_case("digest")
        });
        let body = self.part_body(part);
        let mut valid = true;
        let (ty, sub, mut params) = match c.media.take() {
            Some((ty, Some(sub))) if !ty.is_empty() && !sub.is_empty() => {
                (ty, sub, std::mem::take(&mut c.params))
            }
            // A Content-Type that does not parse: Dovecot reports `"" ""`.
            Some(_) => {
                valid = false;
                (Vec::new(), Vec::new(), Params::new())
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
            params: params_out(params),
            id: c.id.take().map(istr),
            description: c.description.take().map(istr),
            encoding: Some(istr(c.encoding.take().unwrap_or_else(|| b"7bit".to_vec()))),
            size: clamp(body.len()),
        };
        let specific = match self.encapsulated(part).filter(|_| valid) {
            Some(inner) => SpecificFields::Message {
                // Dovecot writes the subtype of message/rfc822 in lower case.
                subtype: istr(sub.to_ascii_lowercase()),
                envelope: Box::new(self.envelope_of(inner)),
                body: Box::new(self.structure_of(inner, extensible)),
                lines: lines(&body),
            },
            None if is_text && valid => SpecificFields::Text {
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
                md5: c.md5.take().map(istr),
                data: ext_data(c),
            }),
        }
    }

    fn multipart(
        &self,
        part: &Part,
        mut c: ContentFields,
        extensible: bool,
    ) -> BodyStructure<'static> {
        let children: Vec<BodyStructure<'static>> = part
            .children
            .iter()
            .filter_map(|&id| self.part(id))
            .map(|child| self.structure_of(child, extensible))
            .collect();
        let bodies = Vec1::try_from(children).unwrap_or_else(|_| Vec1::one(empty_part(extensible)));
        let subtype = match c.media.take() {
            Some((_, Some(sub))) if !sub.is_empty() => sub,
            _ => part.mime.content_type.subtype().as_bytes().to_vec(),
        };
        BodyStructure::Multi {
            bodies,
            subtype: istr(subtype),
            extension: extensible.then(|| MultipartExtension {
                params: params_out(std::mem::take(&mut c.params)),
                data: ext_data(c),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU32;

    use proptest::prelude::*;

    use super::*;
    use crate::encode::response_to_vec;
    use crate::parse;
    use crate::types::fetch::FetchItem;
    use crate::types::response::{Data, Response};

    fn encode(items: Vec<FetchItem<'_>>) -> Vec<u8> {
        response_to_vec(&Response::Data(Data::Fetch {
            seq: NonZeroU32::MIN,
            items,
        }))
    }

    fn show(b: BodyStructure<'static>) -> String {
        String::from_utf8(encode(vec![FetchItem::BodyStructure(Box::new(b))])).unwrap()
    }

    #[test]
    fn extension_data_nested_message_and_defaults() {
        let m = Message::parse(
            &b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\
Content-Language: en\r\n\r\n\
--b\r\n\r\nplain default\r\n\
--b\r\nContent-Type: application/pdf; name=\"a b.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\
Content-ID: <id@x>\r\nContent-Description: =?utf-8?q?d?=\r\nContent-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\r\n\
Content-Disposition: attachment; filename*0*=utf-8''a%20; filename*1=b.pdf\r\n\
Content-Language: de, fr\r\nContent-Location: http://x/a.pdf\r\n\r\nAAAA\r\n\
--b\r\nContent-Type: message/RFC822\r\n\r\nSubject: inner\r\nFrom: a@b\r\n\r\none\r\ntwo\r\n\
--b--\r\n"[..],
        );
        assert_eq!(
            show(m.body_structure()),
            "* 1 FETCH (BODYSTRUCTURE ((\"TEXT\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 13 0 NIL)\
(\"application\" \"pdf\" (\"name\" \"a b.pdf\") \"<id@x>\" \"=?utf-8?q?d?=\" \"base64\" 4 \
\"Q2hlY2sgSW50ZWdyaXR5IQ==\" (\"attachment\" (\"filename*\" \"utf-8''a%20b.pdf\")) (\"de\" \"fr\") \"http://x/a.pdf\")\
(\"MESSAGE\" \"rfc822\" NIL NIL NIL \"7bit\" 37 (NIL \"inner\" ((NIL NIL \"a\" \"b\")) ((NIL NIL \"a\" \"b\")) \
((NIL NIL \"a\" \"b\")) NIL NIL NIL NIL NIL) (\"TEXT\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 8 1 NIL) 4 NIL) \
\"mixed\" (\"boundary\" \"b\") NIL \"en\"))\r\n"
        );
        // BODY: the same without extension data.
        let body = String::from_utf8(encode(vec![FetchItem::Body(Box::new(m.body()))])).unwrap();
        assert!(body.starts_with("* 1 FETCH (BODY ((\"TEXT\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 13 0)("));
        assert!(body.ends_with(" 4) \"mixed\"))\r\n"));
    }

    #[test]
    fn multipart_without_parts_gets_one_empty_part() {
        let m = Message::parse(
            &b"Content-Type: multipart/mixed; boundary=x\r\n\r\nno delimiter at all\r\n"[..],
        );
        assert_eq!(
            show(m.body_structure()),
            "* 1 FETCH (BODYSTRUCTURE ((\"TEXT\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL) \
\"mixed\" (\"boundary\" \"x\")))\r\n"
        );
    }

    #[test]
    fn digest_parts_default_to_message_and_bad_types_are_empty() {
        let m = Message::parse(
            &b"Content-Type: multipart/digest; boundary=d\r\n\r\n--d\r\n\r\nSubject: s\r\n\r\nx\r\n\
--d\r\nContent-Type: text\r\n\r\ny\r\n--d--\r\n"[..],
        );
        let s = show(m.body());
        assert!(
            s.contains("(\"MESSAGE\" \"rfc822\" NIL NIL NIL \"7bit\" 15 (NIL \"s\""),
            "{s}"
        );
        assert!(s.contains("(\"\" \"\" NIL NIL NIL \"7bit\" 1)"), "{s}");
    }

    proptest! {
        /// ENVELOPE, BODYSTRUCTURE and BODY of any message encode to a
        /// FETCH response the codec parses back to the same values.
        #[test]
        fn structures_round_trip_through_the_codec(
            raw in proptest::collection::vec(
                prop_oneof![
                    Just(b"\r\n".to_vec()),
                    Just(b"--b\r\n".to_vec()),
                    Just(b"Content-Type: multipart/mixed; boundary=b; x*0*=a'b'%41\r\n".to_vec()),
                    Just(b"Content-Type: message/rfc822\r\n".to_vec()),
                    Just(b"Content-Disposition: inline; a=\"q\\\"\"\r\n".to_vec()),
                    Just(b"From: \"N\" <a@b>, g: c@d;\r\n".to_vec()),
                    Just(b"Subject: \x00\xff\r\n".to_vec()),
                    proptest::collection::vec(any::<u8>(), 0..8),
                ],
                0..30,
            ),
        ) {
            let m = Message::parse(raw.concat());
            let items = vec![
                FetchItem::Envelope(Box::new(m.envelope())),
                FetchItem::BodyStructure(Box::new(m.body_structure())),
                FetchItem::Body(Box::new(m.body())),
            ];
            let bytes = encode(items.clone());
            let (parsed, n) = parse::response(&bytes).unwrap();
            prop_assert_eq!(n, bytes.len());
            let Response::Data(Data::Fetch { items: back, .. }) = parsed else {
                panic!("not a FETCH: {parsed:?}");
            };
            prop_assert_eq!(back, items);
        }
    }
}

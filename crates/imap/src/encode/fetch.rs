//! FETCH attributes (command side) and items (response side).

use std::num::NonZeroU32;

use super::Encoder;
use crate::types::fetch::{FetchAttr, FetchAttrs, FetchItem, Partial, Section, SectionText};

impl Encoder<'_> {
    fn part(&mut self, part: &[NonZeroU32]) {
        for (k, p) in part.iter().enumerate() {
            if k > 0 {
                self.out.push(b'.');
            }
            self.num(u64::from(p.get()));
        }
    }

    pub(crate) fn section(&mut self, s: &Section<'_>) {
        self.out.push(b'[');
        self.part(&s.part);
        if let Some(t) = &s.text {
            if !s.part.is_empty() {
                self.out.push(b'.');
            }
            match t {
                SectionText::Header => self.raw(b"HEADER"),
                SectionText::Text => self.raw(b"TEXT"),
                SectionText::Mime => self.raw(b"MIME"),
                SectionText::HeaderFields(l) => {
                    self.raw(b"HEADER.FIELDS ");
                    self.list(l, |e, s| e.astring(s));
                }
                SectionText::HeaderFieldsNot(l) => {
                    self.raw(b"HEADER.FIELDS.NOT ");
                    self.list(l, |e, s| e.astring(s));
                }
            }
        }
        self.out.push(b']');
    }

    fn partial(&mut self, p: &Option<Partial>) {
        if let Some(p) = p {
            self.out.push(b'<');
            self.num(u64::from(p.origin));
            self.out.push(b'.');
            self.num(u64::from(p.length.get()));
            self.out.push(b'>');
        }
    }

    fn origin(&mut self, o: Option<u32>) {
        if let Some(o) = o {
            self.out.push(b'<');
            self.num(u64::from(o));
            self.out.push(b'>');
        }
    }

    pub(crate) fn fetch_attr(&mut self, a: &FetchAttr<'_>) {
        match a {
            FetchAttr::Envelope => self.raw(b"ENVELOPE"),
            FetchAttr::Flags => self.raw(b"FLAGS"),
            FetchAttr::InternalDate => self.raw(b"INTERNALDATE"),
            FetchAttr::Rfc822 => self.raw(b"RFC822"),
            FetchAttr::Rfc822Header => self.raw(b"RFC822.HEADER"),
            FetchAttr::Rfc822Size => self.raw(b"RFC822.SIZE"),
            FetchAttr::Rfc822Text => self.raw(b"RFC822.TEXT"),
            FetchAttr::Body => self.raw(b"BODY"),
            FetchAttr::BodyStructure => self.raw(b"BODYSTRUCTURE"),
            FetchAttr::Uid => self.raw(b"UID"),
            FetchAttr::ModSeq => self.raw(b"MODSEQ"),
            FetchAttr::SaveDate => self.raw(b"SAVEDATE"),
            FetchAttr::EmailId => self.raw(b"EMAILID"),
            FetchAttr::ThreadId => self.raw(b"THREADID"),
            FetchAttr::Preview { lazy } => {
                self.raw(if *lazy { b"PREVIEW (LAZY)" } else { b"PREVIEW" })
            }
            FetchAttr::Other(a) => self.atom(a),
            FetchAttr::BodySection {
                peek,
                section,
                partial,
            } => {
                self.raw(if *peek { b"BODY.PEEK" } else { b"BODY" });
                self.section(section);
                self.partial(partial);
            }
            FetchAttr::Binary {
                peek,
                part,
                partial,
            } => {
                self.raw(if *peek { b"BINARY.PEEK[" } else { b"BINARY[" });
                self.part(part);
                self.out.push(b']');
                self.partial(partial);
            }
            FetchAttr::BinarySize(part) => {
                self.raw(b"BINARY.SIZE[");
                self.part(part);
                self.out.push(b']');
            }
        }
    }

    pub(crate) fn fetch_attrs(&mut self, a: &FetchAttrs<'_>) {
        match a {
            FetchAttrs::All => self.raw(b"ALL"),
            FetchAttrs::Fast => self.raw(b"FAST"),
            FetchAttrs::Full => self.raw(b"FULL"),
            // One attribute goes bare, but PREVIEW without LAZY: bare, a
            // fetch-modifier list after it would read as its own
            // modifier list (RFC 8970 §7, `PREVIEW (CHANGEDSINCE 1)`).
            FetchAttrs::List(l)
                if l.len() == 1 && !matches!(l[0], FetchAttr::Preview { lazy: false }) =>
            {
                self.fetch_attr(&l[0])
            }
            FetchAttrs::List(l) => self.list(l, |e, a| e.fetch_attr(a)),
        }
    }

    pub(crate) fn fetch_item(&mut self, it: &FetchItem<'_>) {
        match it {
            FetchItem::Flags(f) => {
                self.raw(b"FLAGS ");
                self.flag_list(f);
            }
            FetchItem::Envelope(env) => {
                self.raw(b"ENVELOPE ");
                self.envelope(env);
            }
            FetchItem::InternalDate(d) => {
                self.raw(b"INTERNALDATE ");
                self.date_time(d);
            }
            FetchItem::SaveDate(d) => {
                self.raw(b"SAVEDATE ");
                match d {
                    Some(d) => self.date_time(d),
                    None => self.raw(b"NIL"),
                }
            }
            // RFC 8474 §7: `"EMAILID" SP "(" objectid ")"`.
            FetchItem::EmailId(id) => {
                self.raw(b"EMAILID ");
                self.paren_object_id(id);
            }
            // RFC 8474 §7: `"THREADID" SP ( "(" objectid ")" / nil )`.
            FetchItem::ThreadId(id) => {
                self.raw(b"THREADID ");
                match id {
                    Some(id) => self.paren_object_id(id),
                    None => self.raw(b"NIL"),
                }
            }
            FetchItem::Rfc822(s) => {
                self.raw(b"RFC822 ");
                self.nstring(s);
            }
            FetchItem::Rfc822Header(s) => {
                self.raw(b"RFC822.HEADER ");
                self.nstring(s);
            }
            FetchItem::Rfc822Text(s) => {
                self.raw(b"RFC822.TEXT ");
                self.nstring(s);
            }
            FetchItem::Preview(s) => {
                self.raw(b"PREVIEW ");
                self.nstring(s);
            }
            FetchItem::Rfc822Size(n) => {
                self.raw(b"RFC822.SIZE ");
                self.num(*n);
            }
            FetchItem::Body(b) => {
                self.raw(b"BODY ");
                self.body(b);
            }
            FetchItem::BodyStructure(b) => {
                self.raw(b"BODYSTRUCTURE ");
                self.body(b);
            }
            FetchItem::BodySection {
                section,
                origin,
                data,
            } => {
                self.raw(b"BODY");
                self.section(section);
                self.origin(*origin);
                self.sp();
                self.nstring(data);
            }
            FetchItem::Binary { part, origin, data } => {
                self.raw(b"BINARY[");
                self.part(part);
                self.out.push(b']');
                self.origin(*origin);
                self.sp();
                match data {
                    None => self.raw(b"NIL"),
                    Some(b) => self.binary(b),
                }
            }
            FetchItem::BinarySize { part, size } => {
                self.raw(b"BINARY.SIZE[");
                self.part(part);
                self.raw(b"] ");
                self.num(*size);
            }
            FetchItem::Uid(n) => {
                self.raw(b"UID ");
                self.num(u64::from(n.get()));
            }
            FetchItem::ModSeq(n) => {
                self.raw(b"MODSEQ (");
                self.num(*n);
                self.out.push(b')');
            }
            FetchItem::GmailMsgId(n) => {
                self.raw(b"X-GM-MSGID ");
                self.num(*n);
            }
            FetchItem::GmailThrId(n) => {
                self.raw(b"X-GM-THRID ");
                self.num(*n);
            }
            FetchItem::GmailLabels(l) => {
                self.raw(b"X-GM-LABELS ");
                self.list(l, |e, v| e.value(v));
            }
            FetchItem::Other { name, value } => {
                self.atom(name);
                self.sp();
                self.value(value);
            }
        }
    }
}

/// The head of a FETCH response whose last item the caller streams as a
/// literal of `length` octets: `* seq FETCH (items... NAME {length}CRLF`
/// (`~{length}` when `literal8`, for a BINARY holding NUL). The caller writes the data and `)CRLF`. Only
/// the name of `streamed` is written; its data is ignored. The server
/// machine sends a large `BODY[]` this way without holding it in memory.
pub(crate) fn fetch_literal_head(
    seq: NonZeroU32,
    items: &[FetchItem<'_>],
    streamed: &FetchItem<'_>,
    length: u64,
    literal8: bool,
    out: &mut Vec<u8>,
) {
    let mut e = Encoder::new(out, false, super::EncodeOptions::default());
    e.raw(b"* ");
    e.num(u64::from(seq.get()));
    e.raw(b" FETCH (");
    for it in items {
        e.fetch_item(it);
        e.sp();
    }
    let binary = match streamed {
        FetchItem::BodySection {
            section, origin, ..
        } => {
            e.raw(b"BODY");
            e.section(section);
            e.origin(*origin);
            false
        }
        FetchItem::Binary { part, origin, .. } => {
            e.raw(b"BINARY[");
            e.part(part);
            e.out.push(b']');
            e.origin(*origin);
            literal8
        }
        FetchItem::Rfc822Header(_) => {
            e.raw(b"RFC822.HEADER");
            false
        }
        FetchItem::Rfc822Text(_) => {
            e.raw(b"RFC822.TEXT");
            false
        }
        _ => {
            e.raw(b"RFC822");
            false
        }
    };
    e.raw(if binary { b" ~{" } else { b" {" });
    e.num(length);
    e.raw(b"}\r\n");
}

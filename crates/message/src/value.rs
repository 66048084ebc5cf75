//! Structured values of any field, chosen by the field's name.

use std::borrow::Cow;

use crate::address::{AddressList, Mailbox, parse_address_list_with, parse_return_path};
use crate::datetime::{DateTime, parse_date_time_with};
use crate::defect::{DefectSink, IgnoreDefects, Shifted};
use crate::fields::{
    ListUrls, Received, parse_keywords, parse_list_id, parse_list_urls, parse_received_with,
};
use crate::header::Field;
use crate::msgid::{MessageId, parse_message_ids_with};

/// A field's value parsed by the grammar its name calls for.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldValue<'a> {
    /// Unstructured text, RFC 2047 decoded: Subject, Comments,
    /// Content-Description, Content-Location, Content-Transfer-Encoding.
    Text(Cow<'a, str>),
    /// An address list: From, Sender, Reply-To, To, Cc, Bcc and their
    /// Resent- forms.
    Addresses(AddressList<'a>),
    /// Return-Path: a path, `Some` null mailbox for `<>`.
    Path(Option<Mailbox<'a>>),
    /// Date, Resent-Date.
    Date(Option<DateTime>),
    /// Message-ID, In-Reply-To, References, Resent-Message-ID, Content-ID.
    Ids(Vec<MessageId<'a>>),
    /// Received.
    Received(Received<'a>),
    /// List-Help, List-Subscribe, List-Unsubscribe, List-Post,
    /// List-Owner, List-Archive (RFC 2369).
    ListUrls(ListUrls<'a>),
    /// List-Id (RFC 2919).
    ListId(Option<Cow<'a, str>>),
    /// Keywords, Content-Language: a comma-separated list of phrases.
    List(Vec<Cow<'a, str>>),
    /// Any other field: the value trimmed, as text (UTF-8, else
    /// windows-1252), neither unfolded nor decoded (see
    /// [`Field::value_text`] for the unfolded text).
    Raw(Cow<'a, str>),
}

#[derive(Clone, Copy)]
enum Kind {
    Text,
    Addresses,
    Path,
    Date,
    Ids,
    Received,
    ListUrls,
    ListId,
    List,
    Raw,
}

fn kind_of(name: &[u8]) -> Kind {
    let eq = |s: &str| name.eq_ignore_ascii_case(s.as_bytes());
    match name.len() {
        2 if eq("To") || eq("Cc") => Kind::Addresses,
        3 if eq("Bcc") => Kind::Addresses,
        4 if eq("From") => Kind::Addresses,
        4 if eq("Date") => Kind::Date,
        6 if eq("Sender") => Kind::Addresses,
        7 if eq("Subject") => Kind::Text,
        7 if eq("List-Id") => Kind::ListId,
        8 if eq("Reply-To") => Kind::Addresses,
        8 if eq("Received") => Kind::Received,
        8 if eq("Comments") => Kind::Text,
        8 if eq("Keywords") => Kind::List,
        9 if eq("Resent-To") || eq("Resent-Cc") => Kind::Addresses,
        9 if eq("List-Help") || eq("List-Post") => Kind::ListUrls,
        10 if eq("Message-ID") || eq("References") || eq("Content-ID") => Kind::Ids,
        10 if eq("Resent-Bcc") => Kind::Addresses,
        10 if eq("List-Owner") => Kind::ListUrls,
        11 if eq("In-Reply-To") => Kind::Ids,
        11 if eq("Resent-From") || eq("Resent-Date") => {
            if eq("Resent-Date") {
                Kind::Date
            } else {
                Kind::Addresses
            }
        }
        11 if eq("Return-Path") => Kind::Path,
        12 if eq("List-Archive") => Kind::ListUrls,
        13 if eq("Resent-Sender") => Kind::Addresses,
        14 if eq("List-Subscribe") => Kind::ListUrls,
        16 if eq("Content-Location") || eq("Content-Language") => {
            if eq("Content-Language") {
                Kind::List
            } else {
                Kind::Text
            }
        }
        16 if eq("List-Unsubscribe") => Kind::ListUrls,
        17 if eq("Resent-Message-ID") => Kind::Ids,
        19 if eq("Content-Description") => Kind::Text,
        25 if eq("Content-Transfer-Encoding") => Kind::Text,
        _ => Kind::Raw,
    }
}

/// Parse a field's value by the grammar its name calls for, dropping defects.
pub fn parse_field<'a>(field: &Field<'a>) -> FieldValue<'a> {
    parse_field_with(field, &mut IgnoreDefects)
}

/// As [`parse_field`], recording defects with offsets relative to the
/// input the field was split from.
pub fn parse_field_with<'a, S: DefectSink + ?Sized>(
    field: &Field<'a>,
    sink: &mut S,
) -> FieldValue<'a> {
    let v = field.raw_value();
    let mut sink = Shifted {
        inner: sink,
        base: field.value_offset(),
    };
    match kind_of(field.name_bytes()) {
        Kind::Text => FieldValue::Text(crate::rfc2047::decode_unstructured_with(v, &mut sink)),
        Kind::Addresses => FieldValue::Addresses(parse_address_list_with(v, &mut sink)),
        Kind::Path => {
            let (p, defects) = parse_return_path(v);
            for d in defects {
                sink.push_defect(d);
            }
            FieldValue::Path(p)
        }
        Kind::Date => FieldValue::Date(parse_date_time_with(v, &mut sink)),
        Kind::Ids => FieldValue::Ids(parse_message_ids_with(v, &mut sink)),
        Kind::Received => FieldValue::Received(parse_received_with(v, &mut sink)),
        Kind::ListUrls => {
            let (l, defects) = parse_list_urls(v);
            for d in defects {
                sink.push_defect(d);
            }
            FieldValue::ListUrls(l)
        }
        Kind::ListId => FieldValue::ListId(parse_list_id(v)),
        Kind::List => FieldValue::List(parse_keywords(v)),
        Kind::Raw => FieldValue::Raw(crate::charset::bytes_to_text(crate::header::trim_wsp(v))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header::HeaderSection;

    #[test]
    fn dispatch() {
        let raw = b"resent-date: 1 Jan 2001 00:00:00 +0000\r\nX-Other:  a\r\n b \r\nKeywords: a, b\r\nReturn-Path: <>\r\nSUBJECT: =?utf-8?q?x?=\r\n\r\n";
        let h = HeaderSection::parse(raw);
        let v: Vec<FieldValue<'_>> = h.fields().iter().map(parse_field).collect();
        assert!(matches!(v[0], FieldValue::Date(Some(_))));
        assert_eq!(v[1], FieldValue::Raw("a\r\n b".into()));
        assert_eq!(v[2], FieldValue::List(vec!["a".into(), "b".into()]));
        assert!(matches!(&v[3], FieldValue::Path(Some(m)) if m.is_null()));
        assert_eq!(v[4], FieldValue::Text("x".into()));
    }
}

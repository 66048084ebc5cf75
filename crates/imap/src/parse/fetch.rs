//! FETCH: attributes asked for (command side) and returned (`msg-att`, response side).

use std::num::NonZeroU32;

use super::body::{body, envelope};
use super::core::{
    IResult, astring, atom, byte, date_time, fail, flag_list, literal8_or_literal, nstring, number,
    number64, nz_number, opt_sp, or_nil, paren_list, paren_objectid, sp, tag_no_case, upper, value,
};
use crate::types::fetch::{FetchAttr, FetchAttrs, FetchItem, Partial, Section, SectionText, Value};

/// `section-part = nz-number *("." nz-number)`, then an optional `.section-text`.
pub(crate) fn section(i: &[u8]) -> IResult<'_, Section<'_>> {
    let (mut i, _) = byte(b'[', "'['")(i)?;
    let mut part = Vec::new();
    let mut text = None;
    loop {
        if i.first().is_some_and(u8::is_ascii_digit) {
            let (j, n) = nz_number(i)?;
            part.push(n);
            i = j;
            if i.first() == Some(&b'.') {
                i = &i[1..];
                continue;
            }
            break;
        }
        if i.first() == Some(&b']') {
            break;
        }
        let (j, t) = section_text(i, !part.is_empty())?;
        text = Some(t);
        i = j;
        break;
    }
    let (i, _) = byte(b']', "']'")(i)?;
    Ok((i, Section { part, text }))
}

fn section_text(i: &[u8], allow_mime: bool) -> IResult<'_, SectionText<'_>> {
    let header_list = |j| paren_list(j, astring);
    if let Ok((j, _)) = tag_no_case("HEADER.FIELDS.NOT")(i) {
        let (j, _) = sp(j)?;
        let (j, l) = header_list(j)?;
        return Ok((j, SectionText::HeaderFieldsNot(l)));
    }
    if let Ok((j, _)) = tag_no_case("HEADER.FIELDS")(i) {
        let (j, _) = sp(j)?;
        let (j, l) = header_list(j)?;
        return Ok((j, SectionText::HeaderFields(l)));
    }
    if let Ok((j, _)) = tag_no_case("HEADER")(i) {
        return Ok((j, SectionText::Header));
    }
    if let Ok((j, _)) = tag_no_case("TEXT")(i) {
        return Ok((j, SectionText::Text));
    }
    if allow_mime && let Ok((j, _)) = tag_no_case("MIME")(i) {
        return Ok((j, SectionText::Mime));
    }
    fail(i, "section-text")
}

/// `section-binary = "[" [section-part] "]"`.
fn section_binary(i: &[u8]) -> IResult<'_, Vec<NonZeroU32>> {
    let (mut i, _) = byte(b'[', "'['")(i)?;
    let mut part = Vec::new();
    while i.first().is_some_and(u8::is_ascii_digit) {
        let (j, n) = nz_number(i)?;
        part.push(n);
        i = j;
        if i.first() == Some(&b'.') {
            i = &i[1..];
        }
    }
    let (i, _) = byte(b']', "']'")(i)?;
    Ok((i, part))
}

/// `"<" number ">"` in a response.
fn origin(i: &[u8]) -> IResult<'_, Option<u32>> {
    if i.first() != Some(&b'<') {
        return Ok((i, None));
    }
    let (i, n) = number(&i[1..])?;
    let (i, _) = byte(b'>', "'>'")(i)?;
    Ok((i, Some(n)))
}

/// `"<" number "." nz-number ">"` in a command.
fn partial(i: &[u8]) -> IResult<'_, Option<Partial>> {
    if i.first() != Some(&b'<') {
        return Ok((i, None));
    }
    let (i, origin) = number(&i[1..])?;
    let (i, _) = byte(b'.', "'.'")(i)?;
    let (i, length) = nz_number(i)?;
    let (i, _) = byte(b'>', "'>'")(i)?;
    Ok((i, Some(Partial { origin, length })))
}

/// The name of a fetch attribute: letters, digits, `.` and `-`.
fn att_name(i: &[u8]) -> IResult<'_, &[u8]> {
    let n = i
        .iter()
        .take_while(|&&b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_')
        .count();
    if n == 0 {
        fail(i, "fetch attribute")
    } else {
        Ok((&i[n..], &i[..n]))
    }
}

/// `msg-att-dynamic / msg-att-static`.
pub(crate) fn msg_att(i: &[u8]) -> IResult<'_, FetchItem<'_>> {
    let start = i;
    let (i, name) = att_name(i)?;
    let is = |s: &[u8]| name.eq_ignore_ascii_case(s);
    if is(b"BODY") && i.first() == Some(&b'[') {
        let (i, section) = section(i)?;
        let (i, origin) = origin(i)?;
        let (i, _) = sp(i)?;
        let (i, data) = nstring(i)?;
        return Ok((
            i,
            FetchItem::BodySection {
                section,
                origin,
                data,
            },
        ));
    }
    if is(b"BINARY") && i.first() == Some(&b'[') {
        let (i, part) = section_binary(i)?;
        let (i, origin) = origin(i)?;
        let (i, _) = sp(i)?;
        let (i, data) = or_nil(i, |i| match super::core::quoted(i) {
            Ok((i, s)) => Ok((i, crate::types::core::Binary(s.into_inner()))),
            Err(_) => literal8_or_literal(i),
        })?;
        return Ok((i, FetchItem::Binary { part, origin, data }));
    }
    if is(b"BINARY.SIZE") && i.first() == Some(&b'[') {
        let (i, part) = section_binary(i)?;
        let (i, _) = sp(i)?;
        let (i, size) = number64(i)?;
        return Ok((i, FetchItem::BinarySize { part, size }));
    }
    let (i, _) = sp(i)?;
    let item = match upper(name).as_bytes() {
        b"FLAGS" => flag_list(i).map(|(r, f)| (r, FetchItem::Flags(f)))?,
        b"ENVELOPE" => envelope(i).map(|(r, e)| (r, FetchItem::Envelope(Box::new(e))))?,
        b"INTERNALDATE" => date_time(i).map(|(r, d)| (r, FetchItem::InternalDate(d)))?,
        b"RFC822" => nstring(i).map(|(r, s)| (r, FetchItem::Rfc822(s)))?,
        b"RFC822.HEADER" => nstring(i).map(|(r, s)| (r, FetchItem::Rfc822Header(s)))?,
        b"RFC822.TEXT" => nstring(i).map(|(r, s)| (r, FetchItem::Rfc822Text(s)))?,
        b"RFC822.SIZE" => number64(i).map(|(r, n)| (r, FetchItem::Rfc822Size(n)))?,
        b"BODY" => body(i, 0).map(|(r, b)| (r, FetchItem::Body(Box::new(b))))?,
        b"BODYSTRUCTURE" => body(i, 0).map(|(r, b)| (r, FetchItem::BodyStructure(Box::new(b))))?,
        b"UID" => nz_number(i).map(|(r, n)| (r, FetchItem::Uid(n)))?,
        b"PREVIEW" => nstring(i).map(|(r, s)| (r, FetchItem::Preview(s)))?,
        // RFC 8514 §5: `"SAVEDATE" SP (date-time / nil)`.
        b"SAVEDATE" => or_nil(i, date_time).map(|(r, d)| (r, FetchItem::SaveDate(d)))?,
        // RFC 8474 §7: `fetch-emailid-resp = "EMAILID" SP "(" objectid ")"`.
        b"EMAILID" => paren_objectid(i).map(|(r, id)| (r, FetchItem::EmailId(id)))?,
        // RFC 8474 §7: `fetch-threadid-resp = "THREADID" SP ( "(" objectid
        // ")" / nil )`.
        b"THREADID" => or_nil(i, paren_objectid).map(|(r, id)| (r, FetchItem::ThreadId(id)))?,
        b"MODSEQ" => {
            let (i, _) = byte(b'(', "'('")(i)?;
            let (i, n) = number64(opt_sp(i))?;
            let (i, _) = byte(b')', "')'")(opt_sp(i))?;
            (i, FetchItem::ModSeq(n))
        }
        b"X-GM-MSGID" => number64(i).map(|(r, n)| (r, FetchItem::GmailMsgId(n)))?,
        b"X-GM-THRID" => number64(i).map(|(r, n)| (r, FetchItem::GmailThrId(n)))?,
        b"X-GM-LABELS" => {
            let (i, v) = value(i, 0)?;
            match v {
                Value::List(l) => (i, FetchItem::GmailLabels(l)),
                Value::Nil => (i, FetchItem::GmailLabels(Vec::new())),
                _ => return fail(i, "label list"),
            }
        }
        _ => {
            let (_, name) = atom(start)?;
            let (i, v) = value(i, 0)?;
            (i, FetchItem::Other { name, value: v })
        }
    };
    Ok(item)
}

/// `"(" msg-att *(SP msg-att) ")"`.
pub(crate) fn msg_atts(i: &[u8]) -> IResult<'_, Vec<FetchItem<'_>>> {
    // Most FETCH responses carry a handful of items: one allocation, no regrowth.
    super::core::paren_list_with_capacity(i, 8, msg_att)
}

/// `fetch-att` (command side).
pub(crate) fn fetch_att(i: &[u8]) -> IResult<'_, FetchAttr<'_>> {
    let (i, name) = att_name(i)?;
    let n = upper(name);
    let n = n.as_bytes();
    if i.first() == Some(&b'[') {
        return match n {
            b"BODY" | b"BODY.PEEK" => {
                let (i, section) = section(i)?;
                let (i, partial) = partial(i)?;
                Ok((
                    i,
                    FetchAttr::BodySection {
                        peek: n.len() > 4,
                        section,
                        partial,
                    },
                ))
            }
            b"BINARY" | b"BINARY.PEEK" => {
                let (i, part) = section_binary(i)?;
                let (i, partial) = partial(i)?;
                Ok((
                    i,
                    FetchAttr::Binary {
                        peek: n.len() > 6,
                        part,
                        partial,
                    },
                ))
            }
            b"BINARY.SIZE" => section_binary(i).map(|(r, p)| (r, FetchAttr::BinarySize(p))),
            _ => fail(i, "fetch attribute with a section"),
        };
    }
    let a = match n {
        b"ENVELOPE" => FetchAttr::Envelope,
        b"FLAGS" => FetchAttr::Flags,
        b"INTERNALDATE" => FetchAttr::InternalDate,
        b"RFC822" => FetchAttr::Rfc822,
        b"RFC822.HEADER" => FetchAttr::Rfc822Header,
        b"RFC822.SIZE" => FetchAttr::Rfc822Size,
        b"RFC822.TEXT" => FetchAttr::Rfc822Text,
        b"BODY" => FetchAttr::Body,
        b"BODYSTRUCTURE" => FetchAttr::BodyStructure,
        b"UID" => FetchAttr::Uid,
        b"MODSEQ" => FetchAttr::ModSeq,
        b"SAVEDATE" => FetchAttr::SaveDate,
        // RFC 8474 §7: `fetch-att =/ "EMAILID" / "THREADID"`.
        b"EMAILID" => FetchAttr::EmailId,
        b"THREADID" => FetchAttr::ThreadId,
        // RFC 8970 §7: `"PREVIEW" [SP "(" preview-mod *(SP preview-mod) ")"]`,
        // `preview-mod = "LAZY"`.
        b"PREVIEW" => {
            let Ok((j, ())) = sp(i) else {
                return Ok((i, FetchAttr::Preview { lazy: false }));
            };
            if j.first() != Some(&b'(') {
                return Ok((i, FetchAttr::Preview { lazy: false }));
            }
            // A list of LAZY is PREVIEW's own; any other list after a
            // bare PREVIEW is the command's fetch modifiers
            // (`FETCH 1 PREVIEW (CHANGEDSINCE 1)`), left to them.
            return match paren_list(j, atom) {
                Ok((j, mods))
                    if !mods.is_empty()
                        && mods.iter().all(|m| m.as_str().eq_ignore_ascii_case("LAZY")) =>
                {
                    Ok((j, FetchAttr::Preview { lazy: true }))
                }
                _ => Ok((i, FetchAttr::Preview { lazy: false })),
            };
        }
        _ => {
            let (_, a) = atom(name)?;
            FetchAttr::Other(a)
        }
    };
    Ok((i, a))
}

/// `"ALL" / "FULL" / "FAST" / fetch-att / "(" fetch-att *(SP fetch-att) ")"`.
pub(crate) fn fetch_attrs(i: &[u8]) -> IResult<'_, FetchAttrs<'_>> {
    if i.first() == Some(&b'(') {
        return paren_list(i, fetch_att).map(|(r, l)| (r, FetchAttrs::List(l)));
    }
    for (kw, m) in [
        ("ALL", FetchAttrs::All),
        ("FAST", FetchAttrs::Fast),
        ("FULL", FetchAttrs::Full),
    ] {
        if let Ok((j, _)) = tag_no_case(kw)(i)
            && !j
                .first()
                .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'.')
        {
            return Ok((j, m));
        }
    }
    fetch_att(i).map(|(r, a)| (r, FetchAttrs::List(vec![a])))
}

//! ENVELOPE and BODY/BODYSTRUCTURE (RFC 3501 §7.4.2, RFC 9051 §7.5.2, grammar in §9).

use super::core::{
    IResult, MAX_DEPTH, byte, fail, nstring, number, opt_sp, paren_list, sp, string, string_or_nil,
    vec1,
};
use crate::types::body::{
    Address, BasicFields, BodyExtension, BodyStructure, Disposition, Envelope, ExtensionData,
    MultipartExtension, SinglePartExtension, SpecificFields,
};
use crate::types::core::IString;

/// `address = "(" addr-name SP addr-adl SP addr-mailbox SP addr-host ")"`.
fn address(i: &[u8]) -> IResult<'_, Address<'_>> {
    let (i, _) = byte(b'(', "address")(i)?;
    let (i, name) = nstring(opt_sp(i))?;
    let (i, _) = sp(i)?;
    let (i, adl) = nstring(i)?;
    let (i, _) = sp(i)?;
    let (i, mailbox) = nstring(i)?;
    let (i, _) = sp(i)?;
    let (i, host) = nstring(i)?;
    let (i, _) = byte(b')', "')' after address")(opt_sp(i))?;
    Ok((
        i,
        Address {
            name,
            adl,
            mailbox,
            host,
        },
    ))
}

/// `"(" 1*address ")" / nil`; leniently `()` and spaces between addresses.
fn address_list(i: &[u8]) -> IResult<'_, Vec<Address<'_>>> {
    if i.first() == Some(&b'(') {
        paren_list(i, address)
    } else {
        let (i, _) = super::core::nil(i)?;
        Ok((i, Vec::new()))
    }
}

/// `envelope`.
pub(crate) fn envelope(i: &[u8]) -> IResult<'_, Envelope<'_>> {
    let (i, _) = byte(b'(', "envelope")(i)?;
    let (i, date) = nstring(opt_sp(i))?;
    let (i, _) = sp(i)?;
    let (i, subject) = nstring(i)?;
    let (i, _) = sp(i)?;
    let (i, from) = address_list(i)?;
    let (i, _) = sp(i)?;
    let (i, sender) = address_list(i)?;
    let (i, _) = sp(i)?;
    let (i, reply_to) = address_list(i)?;
    let (i, _) = sp(i)?;
    let (i, to) = address_list(i)?;
    let (i, _) = sp(i)?;
    let (i, cc) = address_list(i)?;
    let (i, _) = sp(i)?;
    let (i, bcc) = address_list(i)?;
    let (i, _) = sp(i)?;
    let (i, in_reply_to) = nstring(i)?;
    let (i, _) = sp(i)?;
    let (i, message_id) = nstring(i)?;
    let (i, _) = byte(b')', "')' after envelope")(opt_sp(i))?;
    Ok((
        i,
        Envelope {
            date,
            subject,
            from,
            sender,
            reply_to,
            to,
            cc,
            bcc,
            in_reply_to,
            message_id,
        },
    ))
}

/// `body-fld-param = "(" string SP string *(SP string SP string) ")" / nil`.
fn params(i: &[u8]) -> IResult<'_, Vec<(IString<'_>, IString<'_>)>> {
    if i.first() != Some(&b'(') {
        let (i, _) = super::core::nil(i)?;
        return Ok((i, Vec::new()));
    }
    paren_list(i, |j| {
        let (j, k) = string_or_nil(j)?;
        let (j, _) = sp(j)?;
        let (j, v) = string_or_nil(j)?;
        Ok((j, (k, v)))
    })
}

/// `body-fields`.
fn body_fields(i: &[u8]) -> IResult<'_, BasicFields<'_>> {
    let (i, params) = params(i)?;
    let (i, _) = sp(i)?;
    let (i, id) = nstring(i)?;
    let (i, _) = sp(i)?;
    let (i, description) = nstring(i)?;
    let (i, _) = sp(i)?;
    let (i, encoding) = nstring(i)?;
    let (i, _) = sp(i)?;
    let (i, size) = number(i)?;
    Ok((
        i,
        BasicFields {
            params,
            id,
            description,
            encoding,
            size,
        },
    ))
}

/// `body-fld-dsp = "(" string SP body-fld-param ")" / nil`.
fn disposition(i: &[u8]) -> IResult<'_, Option<Disposition<'_>>> {
    if i.first() != Some(&b'(') {
        let (i, _) = super::core::nil(i)?;
        return Ok((i, None));
    }
    let (i, _) = byte(b'(', "'('")(i)?;
    let (i, kind) = string_or_nil(opt_sp(i))?;
    let (i, _) = sp(i)?;
    let (i, params) = params(i)?;
    let (i, _) = byte(b')', "')' after disposition")(opt_sp(i))?;
    Ok((i, Some(Disposition { kind, params })))
}

/// `body-fld-lang = nstring / "(" string *(SP string) ")"`.
fn language(i: &[u8]) -> IResult<'_, Vec<IString<'_>>> {
    if i.first() == Some(&b'(') {
        paren_list(i, string)
    } else {
        nstring(i).map(|(r, s)| (r, s.into_iter().collect()))
    }
}

/// `body-extension = nstring / number / "(" body-extension *(SP body-extension) ")"`.
fn body_extension(i: &[u8], depth: usize) -> IResult<'_, BodyExtension<'_>> {
    if depth > MAX_DEPTH {
        return fail(i, "nesting within the depth limit");
    }
    match i.first() {
        Some(b'(') => {
            let (r, v) = paren_list(i, |j| body_extension(j, depth + 1))?;
            let (r, v) = vec1(i, r, v, "at least one body-extension")?;
            Ok((r, BodyExtension::List(v)))
        }
        Some(b) if b.is_ascii_digit() => number(i).map(|(r, n)| (r, BodyExtension::Number(n))),
        _ => nstring(i).map(|(r, s)| (r, BodyExtension::NString(s))),
    }
}

/// `[SP body-fld-dsp [SP body-fld-lang [SP body-fld-loc *(SP body-extension)]]]`.
fn extension_data(mut i: &[u8], depth: usize) -> IResult<'_, ExtensionData<'_>> {
    let mut data = ExtensionData::default();
    let Ok((j, ())) = sp(i) else {
        return Ok((i, data));
    };
    if j.first() == Some(&b')') {
        return Ok((j, data));
    }
    let (j, d) = disposition(j)?;
    data.disposition = d;
    i = j;
    let Ok((j, ())) = sp(i) else {
        return Ok((i, data));
    };
    if j.first() == Some(&b')') {
        return Ok((j, data));
    }
    let (j, l) = language(j)?;
    data.language = l;
    i = j;
    let Ok((j, ())) = sp(i) else {
        return Ok((i, data));
    };
    if j.first() == Some(&b')') {
        return Ok((j, data));
    }
    let (j, loc) = nstring(j)?;
    data.location = loc;
    i = j;
    loop {
        let Ok((j, ())) = sp(i) else {
            return Ok((i, data));
        };
        if j.first() == Some(&b')') {
            return Ok((j, data));
        }
        let (j, e) = body_extension(j, depth + 1)?;
        data.extensions.push(e);
        i = j;
    }
}

/// `body = "(" (body-type-1part / body-type-mpart) ")"`. `extensible` is false
/// for the BODY form, which carries no extension data.
pub(crate) fn body(i: &[u8], depth: usize) -> IResult<'_, BodyStructure<'_>> {
    if depth > MAX_DEPTH {
        return fail(i, "body nesting within the depth limit");
    }
    let (i, _) = byte(b'(', "body")(i)?;
    let i = opt_sp(i);
    let (i, b) = if i.first() == Some(&b'(') {
        multipart(i, depth)?
    } else {
        single(i, depth)?
    };
    let (i, _) = byte(b')', "')' after body")(opt_sp(i))?;
    Ok((i, b))
}

fn multipart(i: &[u8], depth: usize) -> IResult<'_, BodyStructure<'_>> {
    let start = i;
    let mut bodies = Vec::new();
    let mut i = i;
    while i.first() == Some(&b'(') {
        let (j, b) = body(i, depth + 1)?;
        bodies.push(b);
        i = opt_sp(j);
    }
    let (i, bodies) = vec1(start, i, bodies, "at least one body part")?;
    let (i, subtype) = string_or_nil(i)?;
    let Ok((j, ())) = sp(i) else {
        return Ok((
            i,
            BodyStructure::Multi {
                bodies,
                subtype,
                extension: None,
            },
        ));
    };
    if j.first() == Some(&b')') {
        return Ok((
            j,
            BodyStructure::Multi {
                bodies,
                subtype,
                extension: None,
            },
        ));
    }
    let (j, params) = params(j)?;
    let (j, data) = extension_data(j, depth)?;
    Ok((
        j,
        BodyStructure::Multi {
            bodies,
            subtype,
            extension: Some(MultipartExtension { params, data }),
        },
    ))
}

fn single(i: &[u8], depth: usize) -> IResult<'_, BodyStructure<'_>> {
    let (i, media_type) = string_or_nil(i)?;
    let (i, _) = sp(i)?;
    let (i, subtype) = string_or_nil(i)?;
    let (i, _) = sp(i)?;
    let (mut i, fields) = body_fields(i)?;
    let ty = media_type.as_bytes();
    let mut specific = None;
    if ty.eq_ignore_ascii_case(b"TEXT") {
        if let Ok((j, ())) = sp(i)
            && let Ok((j, lines)) = number(j)
        {
            i = j;
            specific = Some(SpecificFields::Text {
                subtype: subtype.clone(),
                lines,
            });
        }
    } else if ty.eq_ignore_ascii_case(b"MESSAGE")
        && (subtype.as_bytes().eq_ignore_ascii_case(b"RFC822")
            || subtype.as_bytes().eq_ignore_ascii_case(b"GLOBAL"))
    {
        let inner = |j| -> IResult<'_, _> {
            let (j, ()) = sp(j)?;
            let (j, env) = envelope(j)?;
            let (j, ()) = sp(j)?;
            let (j, b) = body(j, depth + 1)?;
            let (j, ()) = sp(j)?;
            let (j, lines) = number(j)?;
            Ok((j, (env, b, lines)))
        };
        match inner(i) {
            Ok((j, (env, b, lines))) => {
                i = j;
                specific = Some(SpecificFields::Message {
                    subtype: subtype.clone(),
                    envelope: Box::new(env),
                    body: Box::new(b),
                    lines,
                });
            }
            Err(nom::Err::Error(_)) => {}
            Err(e) => return Err(e),
        }
    }
    let specific = specific.unwrap_or(SpecificFields::Basic {
        media_type,
        subtype,
    });
    let Ok((j, ())) = sp(i) else {
        return Ok((
            i,
            BodyStructure::Single {
                fields,
                specific,
                extension: None,
            },
        ));
    };
    if j.first() == Some(&b')') {
        return Ok((
            j,
            BodyStructure::Single {
                fields,
                specific,
                extension: None,
            },
        ));
    }
    let (j, md5) = nstring(j)?;
    let (j, data) = extension_data(j, depth)?;
    Ok((
        j,
        BodyStructure::Single {
            fields,
            specific,
            extension: Some(SinglePartExtension { md5, data }),
        },
    ))
}

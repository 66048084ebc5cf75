//! Server responses (RFC 3501 §7, RFC 9051 §7, and the extensions' response grammar).

use std::num::NonZeroU32;

use super::core::{
    IResult, astring, atom, byte, crlf, fail, flag, flag_list, mailbox, nil, nstring, number,
    number64, nz_number, opt_sp, or_nil, paren_list, paren_list_in_line, paren_objectid,
    sequence_set, sp, sp_list1, string, tag, tag_no_case, text, upper, value, vec1,
};
use super::fetch::msg_atts;
use crate::types::command::StatusAttr;
use crate::types::core::{Atom, IString, Text};
use crate::types::response::{
    Code, Continue, Data, ESearchItem, ListItem, Namespace, Raw, Response, StatusItem, StatusKind,
    StatusResponse, Thread,
};

/// A keyword ends at SP, CRLF, `]` or `)`.
fn kw_end(i: &[u8]) -> bool {
    matches!(
        i.first(),
        None | Some(b' ') | Some(b'\r') | Some(b']') | Some(b')') | Some(b'(')
    )
}

fn keyword<'a>(kw: &'static str) -> impl Fn(&'a [u8]) -> IResult<'a, ()> {
    move |i| {
        let (j, _) = tag_no_case(kw)(i)?;
        if kw_end(j) { Ok((j, ())) } else { fail(i, kw) }
    }
}

/// `resp-text-code` (inside the brackets).
fn code(i: &[u8]) -> IResult<'_, Code<'_>> {
    let (i, name) = atom(i)?;
    let up = upper(name.as_str().as_bytes());
    let parsed: IResult<'_, Code<'_>> = (|| {
        Ok(match up.as_str() {
            "ALERT" => (i, Code::Alert),
            "PARSE" => (i, Code::Parse),
            "READ-ONLY" => (i, Code::ReadOnly),
            "READ-WRITE" => (i, Code::ReadWrite),
            "TRYCREATE" => (i, Code::TryCreate),
            "UIDNOTSTICKY" => (i, Code::UidNotSticky),
            "NOMODSEQ" => (i, Code::NoModSeq),
            "CLOSED" => (i, Code::Closed),
            "BADCHARSET" => match sp(i) {
                Ok((j, ())) => {
                    paren_list_in_line(j, astring).map(|(r, l)| (r, Code::BadCharset(l)))?
                }
                Err(_) => (i, Code::BadCharset(Vec::new())),
            },
            "CAPABILITY" => {
                let (j, _) = sp(i)?;
                let (r, l) = sp_list1(j, atom)?;
                vec1(j, r, l, "capability").map(|(r, l)| (r, Code::Capability(l)))?
            }
            "PERMANENTFLAGS" => {
                let (j, _) = sp(i)?;
                paren_list_in_line(j, flag).map(|(r, l)| (r, Code::PermanentFlags(l)))?
            }
            "UIDNEXT" => nz_number(sp(i)?.0).map(|(r, n)| (r, Code::UidNext(n)))?,
            "UIDVALIDITY" => nz_number(sp(i)?.0).map(|(r, n)| (r, Code::UidValidity(n)))?,
            "UNSEEN" => nz_number(sp(i)?.0).map(|(r, n)| (r, Code::Unseen(n)))?,
            "HIGHESTMODSEQ" => number64(sp(i)?.0).map(|(r, n)| (r, Code::HighestModSeq(n)))?,
            "MODIFIED" => sequence_set(sp(i)?.0).map(|(r, s)| (r, Code::Modified(s)))?,
            // RFC 8474 §7: `resp-text-code =/ "MAILBOXID" SP "(" objectid ")"`.
            // Anything else falls to the lenient `Code::Other` below.
            "MAILBOXID" => paren_objectid(sp(i)?.0).map(|(r, id)| (r, Code::MailboxId(id)))?,
            "APPENDUID" => {
                let (j, uidvalidity) = nz_number(sp(i)?.0)?;
                let (j, uids) = sequence_set(sp(j)?.0)?;
                (j, Code::AppendUid { uidvalidity, uids })
            }
            "COPYUID" => {
                let (j, uidvalidity) = nz_number(sp(i)?.0)?;
                let (j, source) = sequence_set(sp(j)?.0)?;
                let (j, destination) = sequence_set(sp(j)?.0)?;
                (
                    j,
                    Code::CopyUid {
                        uidvalidity,
                        source,
                        destination,
                    },
                )
            }
            "METADATA" => {
                let (j, _) = sp(i)?;
                if let Ok((j, ())) = keyword("LONGENTRIES")(j) {
                    number(sp(j)?.0).map(|(r, n)| (r, Code::MetadataLongEntries(n)))?
                } else if let Ok((j, ())) = keyword("MAXSIZE")(j) {
                    number(sp(j)?.0).map(|(r, n)| (r, Code::MetadataMaxSize(n)))?
                } else if let Ok((j, ())) = keyword("TOOMANY")(j) {
                    (j, Code::MetadataTooMany)
                } else {
                    let (j, ()) = keyword("NOPRIVATE")(j)?;
                    (j, Code::MetadataNoPrivate)
                }
            }
            _ => {
                if i.first() == Some(&b']') {
                    (i, Code::Simple(name.clone()))
                } else {
                    return fail(i, "']'");
                }
            }
        })
    })();
    match parsed {
        Ok((r, c)) if opt_sp(r).first() == Some(&b']') => Ok((opt_sp(r), c)),
        _ => {
            // Lenient: keep an unparsable code as its name and raw arguments.
            let (j, _) = sp(i)?;
            let n = j
                .iter()
                .take_while(|&&b| b != b']' && b != b'\r' && b != b'\n' && b != 0)
                .count();
            if j.get(n) != Some(&b']') {
                return fail(&j[n..], "']'");
            }
            match Text::new(&j[..n]) {
                Ok(t) => Ok((&j[n..], Code::Other(name, t))),
                Err(_) => fail(j, "response code arguments"),
            }
        }
    }
}

/// `resp-text = ["[" resp-text-code "]" SP] text`; lenient about a missing SP
/// or text, and about brackets that do not open a code.
fn resp_text(i: &[u8]) -> IResult<'_, (Option<Code<'_>>, Text<'_>)> {
    if i.first() == Some(&b'[')
        && let Ok((j, c)) = code(&i[1..])
        && let Ok((j, _)) = byte(b']', "']'")(j).and_then(|(j, ())| match j.first() {
            // `[Gmail]/Sent` is text, not a code: a code is followed by SP or CRLF.
            Some(b' ') | Some(b'\r') => Ok((j, ())),
            _ => fail(j, "SP after response code"),
        })
    {
        let j = opt_sp(j);
        let (j, t) = text(j)?;
        return Ok((j, (Some(c), t)));
    }
    let (j, t) = text(i)?;
    Ok((j, (None, t)))
}

fn status_kind(i: &[u8]) -> IResult<'_, StatusKind> {
    let n = i.iter().take_while(|b| b.is_ascii_alphabetic()).count();
    let k = match upper(&i[..n]).as_bytes() {
        b"OK" => StatusKind::Ok,
        b"NO" => StatusKind::No,
        b"BAD" => StatusKind::Bad,
        b"PREAUTH" => StatusKind::PreAuth,
        b"BYE" => StatusKind::Bye,
        _ => return fail(i, "OK, NO, BAD, PREAUTH or BYE"),
    };
    if !kw_end(&i[n..]) {
        return fail(i, "status keyword");
    }
    Ok((&i[n..], k))
}

fn status_tail(i: &[u8]) -> IResult<'_, (Option<Code<'_>>, Text<'_>)> {
    // Lenient: the SP and text may be missing altogether.
    let i = opt_sp(i);
    resp_text(i)
}

/// `mbx-list-flags` item: `\` atom (leniently a bare atom).
fn list_attr(i: &[u8]) -> IResult<'_, Atom<'_>> {
    let i = if i.first() == Some(&b'\\') {
        &i[1..]
    } else {
        i
    };
    if i.first() == Some(&b'*') {
        return fail(i, "mailbox attribute");
    }
    atom(i)
}

/// `DQUOTE QUOTED-CHAR DQUOTE / nil`.
fn delimiter(i: &[u8]) -> IResult<'_, Option<u8>> {
    if let Ok((j, ())) = nil(i) {
        return Ok((j, None));
    }
    let (j, s) = string(i)?;
    match s.as_bytes() {
        [c] => Ok((j, Some(*c))),
        // Lenient: `""` for no hierarchy.
        [] => Ok((j, None)),
        _ => fail(i, "one delimiter character"),
    }
}

/// `mailbox-list`.
fn mailbox_list(i: &[u8]) -> IResult<'_, ListItem<'_>> {
    let (i, attributes) = paren_list(i, list_attr)?;
    let (i, _) = sp(i)?;
    let (i, delimiter) = delimiter(i)?;
    let (i, _) = sp(i)?;
    let (i, mailbox) = mailbox(i)?;
    let mut extended = Vec::new();
    let mut i = i;
    if let Ok((j, ())) = sp(i)
        && j.first() == Some(&b'(')
    {
        let (j, items) = paren_list(j, |k| {
            let (k, t) = astring(k)?;
            let (k, _) = sp(k)?;
            let (k, v) = value(k, 0)?;
            Ok((k, (t, v)))
        })?;
        extended = items;
        i = j;
    }
    Ok((
        i,
        ListItem {
            attributes,
            delimiter,
            mailbox,
            extended,
        },
    ))
}

pub(super) fn status_att(i: &[u8]) -> IResult<'_, StatusAttr> {
    let n = i.iter().take_while(|b| b.is_ascii_alphabetic()).count();
    let a = match upper(&i[..n]).as_bytes() {
        b"MESSAGES" => StatusAttr::Messages,
        b"RECENT" => StatusAttr::Recent,
        b"UIDNEXT" => StatusAttr::UidNext,
        b"UIDVALIDITY" => StatusAttr::UidValidity,
        b"UNSEEN" => StatusAttr::Unseen,
        b"DELETED" => StatusAttr::Deleted,
        b"SIZE" => StatusAttr::Size,
        b"HIGHESTMODSEQ" => StatusAttr::HighestModSeq,
        b"APPENDLIMIT" => StatusAttr::AppendLimit,
        b"MAILBOXID" => StatusAttr::MailboxId,
        _ => return fail(i, "status attribute"),
    };
    Ok((&i[n..], a))
}

fn status_item(i: &[u8]) -> IResult<'_, StatusItem<'_>> {
    let (i, a) = status_att(i)?;
    let (i, _) = sp(i)?;
    // RFC 8474 §7: `status-att-value =/ "MAILBOXID" SP "(" objectid ")"`.
    if a == StatusAttr::MailboxId {
        return paren_objectid(i).map(|(r, id)| (r, StatusItem::MailboxId(id)));
    }
    if let Ok((j, ())) = nil(i) {
        return Ok((j, StatusItem::Number(a, None)));
    }
    let (i, n) = number64(i)?;
    Ok((i, StatusItem::Number(a, Some(n))))
}

/// `*(SP nz-number) [SP "(" "MODSEQ" SP n ")"]` of SEARCH and SORT.
fn numbers_modseq(mut i: &[u8]) -> IResult<'_, (Vec<u32>, Option<u64>)> {
    let mut numbers = Vec::new();
    let mut modseq = None;
    while let Ok((j, ())) = sp(i) {
        if j.first().is_some_and(u8::is_ascii_digit) {
            let (j, n) = number(j)?;
            numbers.push(n);
            i = j;
        } else if j.first() == Some(&b'(') {
            let (j, _) = byte(b'(', "'('")(j)?;
            let (j, ()) = keyword("MODSEQ")(j)?;
            let (j, n) = number64(sp(j)?.0)?;
            let (j, _) = byte(b')', "')'")(j)?;
            modseq = Some(n);
            i = j;
            break;
        } else {
            break;
        }
    }
    Ok((i, (numbers, modseq)))
}

/// `thread-list = "(" (thread-members / thread-nested) ")"`.
fn thread(i: &[u8], depth: usize) -> IResult<'_, Thread> {
    if depth > super::core::MAX_DEPTH {
        return fail(i, "thread nesting within the depth limit");
    }
    let (mut i, _) = byte(b'(', "'('")(i)?;
    let mut t = Thread {
        chain: Vec::new(),
        children: Vec::new(),
    };
    loop {
        i = opt_sp(i);
        match i.first() {
            Some(b')') => return Ok((&i[1..], t)),
            Some(b'(') => {
                let (j, c) = thread(i, depth + 1)?;
                t.children.push(c);
                i = j;
            }
            _ => {
                if !t.children.is_empty() {
                    return fail(i, "')' after nested threads");
                }
                let (j, n) = number(i)?;
                t.chain.push(n);
                i = j;
            }
        }
    }
}

fn esearch_item(i: &[u8]) -> IResult<'_, ESearchItem<'_>> {
    let (i, name) = atom(i)?;
    let (i, _) = sp(i)?;
    Ok(match upper(name.as_str().as_bytes()).as_str() {
        "MIN" => number(i).map(|(r, n)| (r, ESearchItem::Min(n)))?,
        "MAX" => number(i).map(|(r, n)| (r, ESearchItem::Max(n)))?,
        "COUNT" => number(i).map(|(r, n)| (r, ESearchItem::Count(n)))?,
        "ALL" => sequence_set(i).map(|(r, s)| (r, ESearchItem::All(s)))?,
        "MODSEQ" => number64(i).map(|(r, n)| (r, ESearchItem::ModSeq(n)))?,
        // RFC 9394 §3.1: `"(" partial-range SP (sequence-set / "NIL") ")"`.
        "PARTIAL" => {
            let (i, _) = byte(b'(', "'('")(i)?;
            let (i, range) = super::core::partial_range(i)?;
            let (i, _) = sp(i)?;
            let (i, set) = or_nil(i, sequence_set)?;
            let (i, _) = byte(b')', "')'")(i)?;
            (i, ESearchItem::Partial { range, set })
        }
        _ => value(i, 0).map(|(r, v)| (r, ESearchItem::Other(name, v)))?,
    })
}

fn namespaces(i: &[u8]) -> IResult<'_, Vec<Namespace<'_>>> {
    if let Ok((j, ())) = nil(i) {
        return Ok((j, Vec::new()));
    }
    paren_list(i, |j| {
        let (j, _) = byte(b'(', "'('")(j)?;
        let (j, prefix) = string(j)?;
        let (j, _) = sp(j)?;
        let (mut j, delimiter) = delimiter(j)?;
        let mut extensions = Vec::new();
        while let Ok((k, ())) = sp(j) {
            let (k, name) = string(k)?;
            let (k, _) = sp(k)?;
            let (k, vals) = paren_list(k, string)?;
            extensions.push((name, vals));
            j = k;
        }
        let (j, _) = byte(b')', "')'")(opt_sp(j))?;
        Ok((
            j,
            Namespace {
                prefix,
                delimiter,
                extensions,
            },
        ))
    })
}

/// `id-params-list`: field/value pairs, or `None` for NIL.
type IdParams<'a> = Option<Vec<(IString<'a>, Option<IString<'a>>)>>;

pub(super) fn id_params(i: &[u8]) -> IResult<'_, IdParams<'_>> {
    if let Ok((j, ())) = nil(i) {
        return Ok((j, None));
    }
    let (j, l) = paren_list(i, |k| {
        let (k, key) = string(k)?;
        let (k, _) = sp(k)?;
        let (k, v) = nstring(k)?;
        Ok((k, (key, v)))
    })?;
    Ok((j, Some(l)))
}

/// Skips to the end of a response, stepping over literals; returns the bytes before the final CRLF.
fn rest_of_response(i: &[u8]) -> IResult<'_, &[u8]> {
    let mut pos = 0;
    loop {
        let Some(k) = memchr::memmem::find(&i[pos..], b"\r\n") else {
            return fail(&i[pos..], "CRLF");
        };
        let line_end = pos + k;
        // Only this line (from `pos`) can announce the next literal.
        if let Some((n, _, _)) = crate::fragment::literal_announcement(&i[pos..line_end]) {
            let skip = usize::try_from(n)
                .ok()
                .and_then(|n| (line_end + 2).checked_add(n));
            match skip {
                Some(skip) if skip <= i.len() => {
                    pos = skip;
                    continue;
                }
                _ => return fail(&i[line_end..], "literal data (input ends early)"),
            }
        }
        return Ok((&i[line_end..], &i[..line_end]));
    }
}

fn untagged_data(i: &[u8]) -> IResult<'_, Data<'_>> {
    if i.first().is_some_and(u8::is_ascii_digit) {
        let (j, n) = number(i)?;
        let (j, _) = sp(j)?;
        let (k, name) = atom(j)?;
        return Ok(match upper(name.as_str().as_bytes()).as_str() {
            "EXISTS" => (k, Data::Exists(n)),
            "RECENT" => (k, Data::Recent(n)),
            "EXPUNGE" => match NonZeroU32::new(n) {
                Some(n) => (k, Data::Expunge(n)),
                None => return fail(i, "non-zero number"),
            },
            "FETCH" => {
                let Some(seq) = NonZeroU32::new(n) else {
                    return fail(i, "non-zero number");
                };
                let (k, _) = sp(k)?;
                let (k, items) = msg_atts(k)?;
                (k, Data::Fetch { seq, items })
            }
            _ => {
                let (k, rest) = rest_of_response(k)?;
                (
                    k,
                    Data::Other {
                        name,
                        number: Some(n),
                        rest: Raw(rest),
                    },
                )
            }
        });
    }
    let (j, name) = atom(i)?;
    let up = upper(name.as_str().as_bytes());
    Ok(match up.as_str() {
        "CAPABILITY" => {
            let (j, _) = sp(j)?;
            let (r, l) = sp_list1(j, atom)?;
            vec1(j, r, l, "capability").map(|(r, l)| (r, Data::Capability(l)))?
        }
        "ENABLED" => {
            let mut caps = Vec::new();
            let mut j = j;
            while let Ok((k, ())) = sp(j) {
                match atom(k) {
                    Ok((k, a)) => {
                        caps.push(a);
                        j = k;
                    }
                    Err(_) => break,
                }
            }
            (j, Data::Enabled(caps))
        }
        "LIST" => mailbox_list(sp(j)?.0).map(|(r, l)| (r, Data::List(l)))?,
        "LSUB" => mailbox_list(sp(j)?.0).map(|(r, l)| (r, Data::Lsub(l)))?,
        "XLIST" => mailbox_list(sp(j)?.0).map(|(r, l)| (r, Data::XList(l)))?,
        "STATUS" => {
            let (j, mailbox) = mailbox(sp(j)?.0)?;
            let (j, _) = sp(j)?;
            let (j, items) = paren_list(j, status_item)?;
            (j, Data::Status { mailbox, items })
        }
        "SEARCH" => {
            numbers_modseq(j).map(|(r, (numbers, modseq))| (r, Data::Search { numbers, modseq }))?
        }
        "SORT" => {
            numbers_modseq(j).map(|(r, (numbers, modseq))| (r, Data::Sort { numbers, modseq }))?
        }
        "THREAD" => {
            let mut threads = Vec::new();
            let mut j = opt_sp(j);
            while j.first() == Some(&b'(') {
                let (k, t) = thread(j, 0)?;
                threads.push(t);
                j = k;
            }
            (j, Data::Thread(threads))
        }
        "ESEARCH" => {
            let mut j = j;
            let mut tag = None;
            let mut uid = false;
            if let Ok((k, ())) = sp(j)
                && k.first() == Some(&b'(')
            {
                let (k, _) = byte(b'(', "'('")(k)?;
                let (k, ()) = keyword("TAG")(k)?;
                let (k, t) = string(sp(k)?.0)?;
                let (k, _) = byte(b')', "')'")(k)?;
                tag = Some(t);
                j = k;
            }
            if let Ok((k, ())) = sp(j)
                && let Ok((k, ())) = keyword("UID")(k)
            {
                uid = true;
                j = k;
            }
            let mut items = Vec::new();
            while let Ok((k, ())) = sp(j) {
                if k.first() == Some(&b'\r') {
                    break;
                }
                let (k, item) = esearch_item(k)?;
                items.push(item);
                j = k;
            }
            (j, Data::ESearch { tag, uid, items })
        }
        "FLAGS" => flag_list(sp(j)?.0).map(|(r, f)| (r, Data::Flags(f)))?,
        "VANISHED" => {
            let (mut j, _) = sp(j)?;
            let mut earlier = false;
            if let Ok((k, _)) = tag_no_case("(EARLIER)")(j) {
                earlier = true;
                j = sp(k)?.0;
            }
            let (j, uids) = sequence_set(j)?;
            (j, Data::Vanished { earlier, uids })
        }
        "NAMESPACE" => {
            let (j, personal) = namespaces(sp(j)?.0)?;
            let (j, other) = namespaces(sp(j)?.0)?;
            let (j, shared) = namespaces(sp(j)?.0)?;
            (
                j,
                Data::Namespace {
                    personal,
                    other,
                    shared,
                },
            )
        }
        "ID" => id_params(sp(j)?.0).map(|(r, p)| (r, Data::Id(p)))?,
        "QUOTA" => {
            let (j, root) = astring(sp(j)?.0)?;
            let (j, resources) = paren_list(sp(j)?.0, |k| {
                let (k, name) = atom(k)?;
                let (k, usage) = number64(sp(k)?.0)?;
                let (k, limit) = number64(sp(k)?.0)?;
                Ok((k, (name, usage, limit)))
            })?;
            (j, Data::Quota { root, resources })
        }
        "QUOTAROOT" => {
            let (mut j, mailbox) = mailbox(sp(j)?.0)?;
            let mut roots = Vec::new();
            while let Ok((k, ())) = sp(j) {
                match astring(k) {
                    Ok((k, r)) => {
                        roots.push(r);
                        j = k;
                    }
                    Err(_) => break,
                }
            }
            (j, Data::QuotaRoot { mailbox, roots })
        }
        "METADATA" => {
            let (j, mailbox) = mailbox(sp(j)?.0)?;
            let (j, _) = sp(j)?;
            if j.first() == Some(&b'(') {
                let (j, entries) = paren_list(j, |k| {
                    let (k, e) = astring(k)?;
                    let (k, v) = nstring(sp(k)?.0)?;
                    Ok((k, (e, v)))
                })?;
                (j, Data::Metadata { mailbox, entries })
            } else {
                let (j, entries) = sp_list1(j, astring)?;
                (j, Data::MetadataKeys { mailbox, entries })
            }
        }
        "ACL" => {
            let (mut j, mailbox) = mailbox(sp(j)?.0)?;
            let mut entries = Vec::new();
            while let Ok((k, ())) = sp(j) {
                let Ok((k, who)) = astring(k) else { break };
                let (k, rights) = astring(sp(k)?.0)?;
                entries.push((who, rights));
                j = k;
            }
            (j, Data::Acl { mailbox, entries })
        }
        "LISTRIGHTS" => {
            let (j, mailbox) = mailbox(sp(j)?.0)?;
            let (j, identifier) = astring(sp(j)?.0)?;
            let (j, rights) = sp_list1(sp(j)?.0, astring)?;
            (
                j,
                Data::ListRights {
                    mailbox,
                    identifier,
                    rights,
                },
            )
        }
        "MYRIGHTS" => {
            let (j, mailbox) = mailbox(sp(j)?.0)?;
            let (j, rights) = astring(sp(j)?.0)?;
            (j, Data::MyRights { mailbox, rights })
        }
        _ => {
            let (j, rest) = rest_of_response(j)?;
            (
                j,
                Data::Other {
                    name,
                    number: None,
                    rest: Raw(rest),
                },
            )
        }
    })
}

/// `response` unit: one continuation request, untagged response or tagged
/// completion, including its CRLF. Returns the rest of the input.
pub(crate) fn response(i: &[u8]) -> IResult<'_, Response<'_>> {
    match i.first() {
        Some(b'+') => {
            let j = opt_sp(&i[1..]);
            let (j, (code, text)) = resp_text(j)?;
            let (j, ()) = crlf(j)?;
            Ok((j, Response::Continue(Continue { code, text })))
        }
        Some(b'*') => {
            let (j, _) = sp(&i[1..])?;
            if let Ok((k, kind)) = status_kind(j) {
                let (k, (code, text)) = status_tail(k)?;
                let (k, ()) = crlf(k)?;
                return Ok((
                    k,
                    Response::Status(StatusResponse {
                        tag: None,
                        kind,
                        code,
                        text,
                    }),
                ));
            }
            let (j, d) = untagged_data(j)?;
            let (j, ()) = crlf(j)?;
            Ok((j, Response::Data(d)))
        }
        _ => {
            let (j, t) = tag(i)?;
            let (j, _) = sp(j)?;
            let (j, kind) = status_kind(j)?;
            if matches!(kind, StatusKind::PreAuth) {
                return fail(i, "OK, NO, BAD or BYE after a tag");
            }
            let (j, (code, text)) = status_tail(j)?;
            let (j, ()) = crlf(j)?;
            Ok((
                j,
                Response::Status(StatusResponse {
                    tag: Some(t),
                    kind,
                    code,
                    text,
                }),
            ))
        }
    }
}

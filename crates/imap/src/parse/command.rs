//! Client commands (RFC 3501 §6, RFC 9051 §6, and the extensions' command grammar).

use nom::Parser;
use nom::branch::alt;
use nom::combinator::value as nom_value;

use super::core::upper;
use super::core::{
    IResult, astring, atom, byte, crlf, date_time, fail, flag, flag_list, literal8_or_literal,
    mailbox, number, number64, nz_number, opt_sp, paren_list, sequence_set, sp, sp_list1, string,
    tag, tag_no_case, vec1,
};
use super::fetch::fetch_attrs;
use super::response::{id_params as parse_id_params, status_att as parse_status_att};
use super::search::search_key;
use crate::types::command::{
    AppendMessage, Command, CommandBody, FetchModifier, ListReturn, ListSelect, MetadataOptions,
    SelectParam, SortCriterion, SortKey, StoreKind, ThreadAlgorithm,
};
use crate::types::core::{IString, is_atom_char};
use crate::types::search::SearchKey;
use crate::types::secret::{Secret, Vec1};

fn kw<'a>(k: &'static str) -> impl Fn(&'a [u8]) -> IResult<'a, ()> {
    move |i| {
        let (j, _) = tag_no_case(k)(i)?;
        if j.first().is_some_and(|&b| is_atom_char(b) && b != b'[') {
            fail(i, k)
        } else {
            Ok((j, ()))
        }
    }
}

/// `list-mailbox = 1*list-char / string`.
fn list_mailbox(i: &[u8]) -> IResult<'_, IString<'_>> {
    match i.first() {
        Some(b'"') | Some(b'{') => string(i),
        _ => {
            let n = i
                .iter()
                .take_while(|&&b| is_atom_char(b) || b == b'%' || b == b'*' || b == b']')
                .count();
            if n == 0 {
                return fail(i, "list-mailbox");
            }
            // list-chars are printable ASCII.
            Ok((&i[n..], IString::unvalidated(&i[..n])))
        }
    }
}

fn select_params(i: &[u8]) -> IResult<'_, Vec<SelectParam>> {
    let Ok((j, ())) = sp(i) else {
        return Ok((i, Vec::new()));
    };
    if j.first() != Some(&b'(') {
        return Ok((i, Vec::new()));
    }
    paren_list(j, |k| {
        if let Ok((k, ())) = kw("CONDSTORE")(k) {
            return Ok((k, SelectParam::CondStore));
        }
        let (k, ()) = kw("QRESYNC")(k)?;
        let (k, _) = sp(k)?;
        let (k, _) = byte(b'(', "'('")(k)?;
        let (k, uidvalidity) = nz_number(k)?;
        let (mut k, modseq) = number64(sp(k)?.0)?;
        let mut known_uids = None;
        let mut seq_match = None;
        if let Ok((m, ())) = sp(k)
            && m.first() != Some(&b'(')
        {
            let (m, s) = sequence_set(m)?;
            known_uids = Some(s);
            k = m;
        }
        if let Ok((m, ())) = sp(k) {
            let (m, _) = byte(b'(', "'('")(m)?;
            let (m, a) = sequence_set(m)?;
            let (m, b) = sequence_set(sp(m)?.0)?;
            let (m, _) = byte(b')', "')'")(m)?;
            seq_match = Some((a, b));
            k = m;
        }
        let (k, _) = byte(b')', "')'")(k)?;
        Ok((
            k,
            SelectParam::QResync {
                uidvalidity: uidvalidity.get(),
                modseq,
                known_uids,
                seq_match,
            },
        ))
    })
}

/// `1*(SP search-key)` after the command's fixed arguments.
fn search_keys(i: &[u8]) -> IResult<'_, Vec1<SearchKey<'_>>> {
    let (i, _) = sp(i)?;
    let (r, v) = sp_list1(i, |j| search_key(j, 0))?;
    vec1(i, r, v, "search key")
}

fn search(i: &[u8], uid: bool) -> IResult<'_, CommandBody<'_>> {
    let mut i = i;
    let mut return_opts = None;
    let mut charset = None;
    if let Ok((j, ())) = sp(i).and_then(|(j, ())| kw("RETURN")(j)) {
        let (j, opts) = paren_list(sp(j)?.0, |k| {
            use crate::types::command::SearchReturn as R;
            if let Ok((k, ())) = kw("PARTIAL")(k) {
                let (k, range) = super::core::partial_range(sp(k)?.0)?;
                return Ok((k, R::Partial(range)));
            }
            alt((
                nom_value(R::Min, kw("MIN")),
                nom_value(R::Max, kw("MAX")),
                nom_value(R::All, kw("ALL")),
                nom_value(R::Count, kw("COUNT")),
                nom_value(R::Save, kw("SAVE")),
            ))
            .parse(k)
        })?;
        return_opts = Some(opts);
        i = j;
    }
    if let Ok((j, ())) = sp(i).and_then(|(j, ())| kw("CHARSET")(j)) {
        let (j, c) = astring(sp(j)?.0)?;
        charset = Some(c);
        i = j;
    }
    let (i, criteria) = search_keys(i)?;
    Ok((
        i,
        CommandBody::Search {
            uid,
            return_opts,
            charset,
            criteria,
        },
    ))
}

fn fetch(i: &[u8], uid: bool) -> IResult<'_, CommandBody<'_>> {
    let (i, set) = sequence_set(sp(i)?.0)?;
    let (i, attrs) = fetch_attrs(sp(i)?.0)?;
    let mut modifiers = Vec::new();
    let mut i = i;
    if let Ok((j, ())) = sp(i)
        && j.first() == Some(&b'(')
    {
        let (j, m) = paren_list(j, |k| {
            if let Ok((k, ())) = kw("VANISHED")(k) {
                return Ok((k, FetchModifier::Vanished));
            }
            let (k, ()) = kw("CHANGEDSINCE")(k)?;
            number64(sp(k)?.0).map(|(r, n)| (r, FetchModifier::ChangedSince(n)))
        })?;
        modifiers = m;
        i = j;
    }
    Ok((
        i,
        CommandBody::Fetch {
            uid,
            set,
            attrs,
            modifiers,
        },
    ))
}

fn store(i: &[u8], uid: bool) -> IResult<'_, CommandBody<'_>> {
    let (mut i, set) = sequence_set(sp(i)?.0)?;
    let mut unchanged_since = None;
    let (j, _) = sp(i)?;
    i = j;
    if i.first() == Some(&b'(') {
        let (j, _) = byte(b'(', "'('")(i)?;
        let (j, ()) = kw("UNCHANGEDSINCE")(j)?;
        let (j, n) = number64(sp(j)?.0)?;
        let (j, _) = byte(b')', "')'")(j)?;
        unchanged_since = Some(n);
        i = sp(j)?.0;
    }
    let (i, kind) = match i.first() {
        Some(b'+') => (&i[1..], StoreKind::Add),
        Some(b'-') => (&i[1..], StoreKind::Remove),
        _ => (i, StoreKind::Replace),
    };
    let (i, _) = tag_no_case("FLAGS")(i)?;
    let (i, silent) = match tag_no_case(".SILENT")(i) {
        Ok((i, _)) => (i, true),
        Err(_) => (i, false),
    };
    let (i, _) = sp(i)?;
    let (i, flags) = if i.first() == Some(&b'(') {
        flag_list(i)?
    } else {
        sp_list1(i, flag)?
    };
    Ok((
        i,
        CommandBody::Store {
            uid,
            set,
            unchanged_since,
            kind,
            silent,
            flags,
        },
    ))
}

fn sort_criteria(i: &[u8]) -> IResult<'_, Vec1<SortCriterion>> {
    let start = i;
    let (i, l) = paren_list(i, |k| {
        let (k, reverse) = match kw("REVERSE")(k) {
            Ok((k, ())) => (sp(k)?.0, true),
            Err(_) => (k, false),
        };
        let (k, key) = alt((
            nom_value(SortKey::Arrival, kw("ARRIVAL")),
            nom_value(SortKey::Cc, kw("CC")),
            nom_value(SortKey::Date, kw("DATE")),
            nom_value(SortKey::DisplayFrom, kw("DISPLAYFROM")),
            nom_value(SortKey::DisplayTo, kw("DISPLAYTO")),
            nom_value(SortKey::From, kw("FROM")),
            nom_value(SortKey::Size, kw("SIZE")),
            nom_value(SortKey::Subject, kw("SUBJECT")),
            nom_value(SortKey::To, kw("TO")),
        ))
        .parse(k)?;
        Ok((k, SortCriterion { reverse, key }))
    })?;
    vec1(start, i, l, "sort criterion")
}

fn append(i: &[u8]) -> IResult<'_, CommandBody<'_>> {
    let (mut i, mailbox) = mailbox(sp(i)?.0)?;
    let mut messages = Vec::new();
    while let Ok((mut j, ())) = sp(i) {
        if !matches!(
            j.first(),
            Some(b'(') | Some(b'"') | Some(b'{') | Some(b'~') | Some(b'U') | Some(b'u')
        ) {
            break;
        }
        let mut flags = Vec::new();
        let mut date = None;
        if j.first() == Some(&b'(') {
            let (k, f) = flag_list(j)?;
            flags = f;
            j = sp(k)?.0;
        }
        if j.first() == Some(&b'"') {
            let (k, d) = date_time(j)?;
            date = Some(d);
            j = sp(k)?.0;
        }
        let (k, utf8, message) = if let Ok((k, ())) = kw("UTF8")(j) {
            let (k, _) = byte(b'(', "'('")(sp(k)?.0)?;
            let (k, m) = literal8_or_literal(k)?;
            let (k, _) = byte(b')', "')'")(k)?;
            (k, true, m)
        } else {
            let (k, m) = literal8_or_literal(j)?;
            (k, false, m)
        };
        messages.push(AppendMessage {
            flags,
            date,
            message,
            utf8,
        });
        i = k;
    }
    let (i, messages) = vec1(i, i, messages, "message literal")?;
    Ok((i, CommandBody::Append { mailbox, messages }))
}

fn list(i: &[u8]) -> IResult<'_, CommandBody<'_>> {
    let (mut i, _) = sp(i)?;
    let mut select = Vec::new();
    if i.first() == Some(&b'(') {
        let (j, s) = paren_list(i, |k| {
            alt((
                nom_value(ListSelect::Subscribed, kw("SUBSCRIBED")),
                nom_value(ListSelect::Remote, kw("REMOTE")),
                nom_value(ListSelect::RecursiveMatch, kw("RECURSIVEMATCH")),
                nom_value(ListSelect::SpecialUse, kw("SPECIAL-USE")),
            ))
            .parse(k)
        })?;
        select = s;
        i = sp(j)?.0;
    }
    let (i, reference) = mailbox(i)?;
    let (i, _) = sp(i)?;
    let (mut i, patterns) = if i.first() == Some(&b'(') {
        let (r, v) = paren_list(i, list_mailbox)?;
        vec1(i, r, v, "at least one LIST pattern")?
    } else {
        list_mailbox(i).map(|(r, p)| (r, Vec1::one(p)))?
    };
    if patterns.is_empty() {
        return fail(i, "list-mailbox");
    }
    let mut return_opts = Vec::new();
    if let Ok((j, ())) = sp(i).and_then(|(j, ())| kw("RETURN")(j)) {
        let (j, r) = paren_list(sp(j)?.0, |k| {
            if let Ok((k, ())) = kw("STATUS")(k) {
                let (k, l) = paren_list(sp(k)?.0, parse_status_att)?;
                return Ok((k, ListReturn::Status(l)));
            }
            alt((
                nom_value(ListReturn::Subscribed, kw("SUBSCRIBED")),
                nom_value(ListReturn::Children, kw("CHILDREN")),
                nom_value(ListReturn::SpecialUse, kw("SPECIAL-USE")),
            ))
            .parse(k)
        })?;
        return_opts = r;
        i = j;
    }
    Ok((
        i,
        CommandBody::List {
            select,
            reference,
            patterns,
            return_opts,
        },
    ))
}

fn uid_command(i: &[u8]) -> IResult<'_, CommandBody<'_>> {
    let (i, _) = sp(i)?;
    let n = i.iter().take_while(|b| b.is_ascii_alphabetic()).count();
    let name = upper(&i[..n]);
    let name = name.as_bytes();
    let j = &i[n..];
    match name {
        b"FETCH" => fetch(j, true),
        b"SEARCH" => search(j, true),
        b"STORE" => store(j, true),
        b"COPY" => {
            let (j, set) = sequence_set(sp(j)?.0)?;
            let (j, mailbox) = mailbox(sp(j)?.0)?;
            Ok((
                j,
                CommandBody::Copy {
                    uid: true,
                    set,
                    mailbox,
                },
            ))
        }
        b"MOVE" => {
            let (j, set) = sequence_set(sp(j)?.0)?;
            let (j, mailbox) = mailbox(sp(j)?.0)?;
            Ok((
                j,
                CommandBody::Move {
                    uid: true,
                    set,
                    mailbox,
                },
            ))
        }
        b"EXPUNGE" => sequence_set(sp(j)?.0).map(|(r, s)| (r, CommandBody::UidExpunge(s))),
        b"SORT" => sort(j, true),
        b"THREAD" => thread(j, true),
        _ => fail(
            i,
            "FETCH, SEARCH, STORE, COPY, MOVE, EXPUNGE, SORT or THREAD after UID",
        ),
    }
}

fn sort(i: &[u8], uid: bool) -> IResult<'_, CommandBody<'_>> {
    let (i, criteria) = sort_criteria(sp(i)?.0)?;
    let (i, charset) = astring(sp(i)?.0)?;
    let (i, search) = search_keys(i)?;
    Ok((
        i,
        CommandBody::Sort {
            uid,
            criteria,
            charset,
            search,
        },
    ))
}

fn thread(i: &[u8], uid: bool) -> IResult<'_, CommandBody<'_>> {
    let (i, alg) = atom(sp(i)?.0)?;
    let algorithm = match upper(alg.as_str().as_bytes()).as_str() {
        "ORDEREDSUBJECT" => ThreadAlgorithm::OrderedSubject,
        "REFERENCES" => ThreadAlgorithm::References,
        _ => ThreadAlgorithm::Other(alg),
    };
    let (i, charset) = astring(sp(i)?.0)?;
    let (i, search) = search_keys(i)?;
    Ok((
        i,
        CommandBody::Thread {
            uid,
            algorithm,
            charset,
            search,
        },
    ))
}

fn command_body(i: &[u8]) -> IResult<'_, CommandBody<'_>> {
    let n = i.iter().take_while(|b| b.is_ascii_alphabetic()).count();
    let name = upper(&i[..n]);
    let name = name.as_bytes();
    let j = &i[n..];
    if j.first().is_some_and(|&b| b != b' ' && b != b'\r') {
        return fail(i, "command name");
    }
    let mbox = |j| -> IResult<'_, _> { mailbox(sp(j)?.0) };
    Ok(match name {
        b"CAPABILITY" => (j, CommandBody::Capability),
        b"NOOP" => (j, CommandBody::Noop),
        b"LOGOUT" => (j, CommandBody::Logout),
        b"STARTTLS" => (j, CommandBody::StartTls),
        b"NAMESPACE" => (j, CommandBody::Namespace),
        b"IDLE" => (j, CommandBody::Idle),
        b"CHECK" => (j, CommandBody::Check),
        b"CLOSE" => (j, CommandBody::Close),
        b"UNSELECT" => (j, CommandBody::Unselect),
        b"UNAUTHENTICATE" => (j, CommandBody::Unauthenticate),
        b"EXPUNGE" => (j, CommandBody::Expunge),
        b"AUTHENTICATE" => {
            let (j, mechanism) = atom(sp(j)?.0)?;
            let (j, initial_response) = match sp(j) {
                Ok((k, ())) if k.first() != Some(&b'\r') => {
                    atom(k).map(|(r, a)| (r, Some(Secret::new(a))))?
                }
                _ => (j, None),
            };
            (
                j,
                CommandBody::Authenticate {
                    mechanism,
                    initial_response,
                },
            )
        }
        b"COMPRESS" => {
            let (j, algorithm) = atom(sp(j)?.0)?;
            (j, CommandBody::Compress { algorithm })
        }
        b"LOGIN" => {
            let (j, username) = astring(sp(j)?.0)?;
            let (j, password) = astring(sp(j)?.0)?;
            (
                j,
                CommandBody::Login {
                    username,
                    password: Secret::new(password),
                },
            )
        }
        b"ENABLE" => {
            let k = sp(j)?.0;
            let (j, caps) = sp_list1(k, atom)?;
            let (j, caps) = vec1(k, j, caps, "at least one capability")?;
            (j, CommandBody::Enable(caps))
        }
        b"SELECT" | b"EXAMINE" => {
            let (j, mailbox) = mbox(j)?;
            let (j, params) = select_params(j)?;
            if name == b"SELECT" {
                (j, CommandBody::Select { mailbox, params })
            } else {
                (j, CommandBody::Examine { mailbox, params })
            }
        }
        b"CREATE" => {
            let (mut j, mailbox) = mbox(j)?;
            let mut special_use = Vec::new();
            if let Ok((k, ())) = sp(j) {
                let (k, _) = byte(b'(', "'('")(k)?;
                let (k, ()) = kw("USE")(k)?;
                let (k, l) = paren_list(sp(k)?.0, |m| atom(byte(b'\\', "'\\'")(m)?.0))?;
                let (k, _) = byte(b')', "')'")(k)?;
                special_use = l;
                j = k;
            }
            (
                j,
                CommandBody::Create {
                    mailbox,
                    special_use,
                },
            )
        }
        b"DELETE" => mbox(j).map(|(r, m)| (r, CommandBody::Delete(m)))?,
        b"SUBSCRIBE" => mbox(j).map(|(r, m)| (r, CommandBody::Subscribe(m)))?,
        b"UNSUBSCRIBE" => mbox(j).map(|(r, m)| (r, CommandBody::Unsubscribe(m)))?,
        b"RENAME" => {
            let (j, from) = mbox(j)?;
            let (j, to) = mbox(j)?;
            (j, CommandBody::Rename { from, to })
        }
        b"LIST" => list(j)?,
        b"LSUB" => {
            let (j, reference) = mbox(j)?;
            let (j, pattern) = list_mailbox(sp(j)?.0)?;
            (j, CommandBody::Lsub { reference, pattern })
        }
        b"STATUS" => {
            let (j, mailbox) = mbox(j)?;
            let (j, items) = paren_list(sp(j)?.0, parse_status_att)?;
            (j, CommandBody::Status { mailbox, items })
        }
        b"APPEND" => append(j)?,
        b"SEARCH" => search(j, false)?,
        b"FETCH" => fetch(j, false)?,
        b"STORE" => store(j, false)?,
        b"COPY" | b"MOVE" => {
            let (j, set) = sequence_set(sp(j)?.0)?;
            let (j, mailbox) = mbox(j)?;
            if name == b"COPY" {
                (
                    j,
                    CommandBody::Copy {
                        uid: false,
                        set,
                        mailbox,
                    },
                )
            } else {
                (
                    j,
                    CommandBody::Move {
                        uid: false,
                        set,
                        mailbox,
                    },
                )
            }
        }
        b"UID" => uid_command(j)?,
        b"SORT" => sort(j, false)?,
        b"THREAD" => thread(j, false)?,
        b"ID" => parse_id_params(sp(j)?.0).map(|(r, p)| (r, CommandBody::Id(p)))?,
        b"GETQUOTA" => astring(sp(j)?.0).map(|(r, s)| (r, CommandBody::GetQuota(s)))?,
        b"GETQUOTAROOT" => mbox(j).map(|(r, m)| (r, CommandBody::GetQuotaRoot(m)))?,
        b"SETQUOTA" => {
            let (j, root) = astring(sp(j)?.0)?;
            let (j, limits) = paren_list(sp(j)?.0, |k| {
                let (k, a) = atom(k)?;
                let (k, n) = number64(sp(k)?.0)?;
                Ok((k, (a, n)))
            })?;
            (j, CommandBody::SetQuota { root, limits })
        }
        b"GETMETADATA" => {
            let (mut j, _) = sp(j)?;
            let mut options = MetadataOptions::default();
            if j.first() == Some(&b'(') {
                let (k, opts) = paren_list(j, |m| {
                    if let Ok((m, ())) = kw("MAXSIZE")(m) {
                        return number(sp(m)?.0).map(|(r, n)| (r, (true, n)));
                    }
                    let (m, ()) = kw("DEPTH")(m)?;
                    let (m, _) = sp(m)?;
                    if let Ok((m, ())) = kw("infinity")(m) {
                        return Ok((m, (false, u32::MAX)));
                    }
                    number(m).map(|(r, n)| (r, (false, n)))
                })?;
                for (is_size, n) in opts {
                    if is_size {
                        options.max_size = Some(n)
                    } else {
                        options.depth = Some(n)
                    }
                }
                j = sp(k)?.0;
            }
            let (j, mailbox) = mailbox(j)?;
            let (j, _) = sp(j)?;
            let (j, entries) = if j.first() == Some(&b'(') {
                paren_list(j, astring)?
            } else {
                astring(j).map(|(r, e)| (r, vec![e]))?
            };
            (
                j,
                CommandBody::GetMetadata {
                    options,
                    mailbox,
                    entries,
                },
            )
        }
        b"SETMETADATA" => {
            let (j, mailbox) = mbox(j)?;
            let (j, entries) = paren_list(sp(j)?.0, |k| {
                let (k, e) = astring(k)?;
                let (k, v) = super::core::nstring(sp(k)?.0)?;
                Ok((k, (e, v)))
            })?;
            (j, CommandBody::SetMetadata { mailbox, entries })
        }
        _ => return fail(i, "command name"),
    })
}

/// `command = tag SP (command-any / command-auth / command-nonauth / command-select) CRLF`.
pub(crate) fn command(i: &[u8]) -> IResult<'_, Command<'_>> {
    let (i, (tag, ())) = (tag, sp).parse(i)?;
    let (i, body) = command_body(i)?;
    let (i, ()) = crlf(i)?;
    Ok((i, Command { tag, body }))
}

/// `idle-done = "DONE" CRLF` (RFC 2177).
pub(crate) fn idle_done(i: &[u8]) -> IResult<'_, ()> {
    let (i, ()) = kw("DONE")(i)?;
    crlf(i)
}

/// `authenticate` continuation data: `base64 CRLF` or `*` CRLF to cancel.
pub(crate) fn auth_data(i: &[u8]) -> IResult<'_, Option<Secret<&[u8]>>> {
    let i = opt_sp(i);
    if i.first() == Some(&b'*') {
        let (i, ()) = crlf(&i[1..])?;
        return Ok((i, None));
    }
    let n = i
        .iter()
        .take_while(|&&b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'=')
        .count();
    let data = &i[..n];
    let (i, ()) = crlf(&i[n..])?;
    Ok((i, Some(Secret::new(data))))
}

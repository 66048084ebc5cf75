//! SEARCH keys (RFC 3501 §6.4.4, RFC 9051 §6.4.4, RFC 7162 §3.1.5, RFC 5032,
//! RFC 8514 §4.3, RFC 8474 §6).

use super::core::{
    IResult, MAX_DEPTH, astring, atom, byte, date, fail, number, number64, objectid, opt_sp,
    sequence_set, sp, upper,
};
use crate::types::search::{EntryType, SearchKey};
use crate::types::secret::Vec1;

/// `search-key`, nested to at most the depth limit.
pub(crate) fn search_key(i: &[u8], depth: usize) -> IResult<'_, SearchKey<'_>> {
    if depth > MAX_DEPTH {
        return fail(i, "search key nesting within the depth limit");
    }
    match i.first() {
        Some(b'(') => {
            let (j, _) = byte(b'(', "'('")(i)?;
            let (mut j, first) = search_key(opt_sp(j), depth + 1)?;
            let mut keys = Vec1::one(first);
            loop {
                j = opt_sp(j);
                if j.first() == Some(&b')') {
                    return Ok((&j[1..], SearchKey::And(keys)));
                }
                let (k, key) = search_key(j, depth + 1)?;
                keys.push(key);
                j = k;
            }
        }
        Some(b) if b.is_ascii_digit() || *b == b'*' || *b == b'$' => {
            sequence_set(i).map(|(r, s)| (r, SearchKey::SequenceSet(s)))
        }
        _ => {
            let n = i.iter().take_while(|b| b.is_ascii_alphabetic()).count();
            let name = upper(&i[..n]);
            let name = name.as_bytes();
            let j = &i[n..];
            if !matches!(j.first(), None | Some(b' ') | Some(b')') | Some(b'\r')) {
                return fail(i, "search key");
            }
            let s = |j| -> IResult<'_, _> { astring(sp(j)?.0) };
            let d = |j| -> IResult<'_, _> { date(sp(j)?.0) };
            // An objectid ends where the key does: `EMAILID a.b` is not
            // the objectid `a` followed by more.
            let oid = |j| -> IResult<'_, _> {
                let (r, v) = objectid(sp(j)?.0)?;
                if matches!(r.first(), None | Some(b' ') | Some(b')') | Some(b'\r')) {
                    Ok((r, v))
                } else {
                    fail(r, "objectid (1 to 255 of ALPHA, DIGIT, \"_\", \"-\")")
                }
            };
            Ok(match name {
                b"ALL" => (j, SearchKey::All),
                b"ANSWERED" => (j, SearchKey::Answered),
                b"DELETED" => (j, SearchKey::Deleted),
                b"DRAFT" => (j, SearchKey::Draft),
                b"FLAGGED" => (j, SearchKey::Flagged),
                b"NEW" => (j, SearchKey::New),
                b"OLD" => (j, SearchKey::Old),
                b"RECENT" => (j, SearchKey::Recent),
                b"SEEN" => (j, SearchKey::Seen),
                b"UNANSWERED" => (j, SearchKey::Unanswered),
                b"UNDELETED" => (j, SearchKey::Undeleted),
                b"UNDRAFT" => (j, SearchKey::Undraft),
                b"UNFLAGGED" => (j, SearchKey::Unflagged),
                b"UNSEEN" => (j, SearchKey::Unseen),
                b"SAVEDATESUPPORTED" => (j, SearchKey::SaveDateSupported),
                b"BCC" => s(j).map(|(r, v)| (r, SearchKey::Bcc(v)))?,
                b"BODY" => s(j).map(|(r, v)| (r, SearchKey::Body(v)))?,
                b"CC" => s(j).map(|(r, v)| (r, SearchKey::Cc(v)))?,
                b"FROM" => s(j).map(|(r, v)| (r, SearchKey::From(v)))?,
                b"SUBJECT" => s(j).map(|(r, v)| (r, SearchKey::Subject(v)))?,
                b"TEXT" => s(j).map(|(r, v)| (r, SearchKey::Text(v)))?,
                b"TO" => s(j).map(|(r, v)| (r, SearchKey::To(v)))?,
                b"HEADER" => {
                    let (j, f) = s(j)?;
                    let (j, v) = s(j)?;
                    (j, SearchKey::Header(f, v))
                }
                b"KEYWORD" => atom(sp(j)?.0).map(|(r, a)| (r, SearchKey::Keyword(a)))?,
                b"UNKEYWORD" => atom(sp(j)?.0).map(|(r, a)| (r, SearchKey::Unkeyword(a)))?,
                b"BEFORE" => d(j).map(|(r, v)| (r, SearchKey::Before(v)))?,
                b"ON" => d(j).map(|(r, v)| (r, SearchKey::On(v)))?,
                b"SINCE" => d(j).map(|(r, v)| (r, SearchKey::Since(v)))?,
                b"SENTBEFORE" => d(j).map(|(r, v)| (r, SearchKey::SentBefore(v)))?,
                b"SENTON" => d(j).map(|(r, v)| (r, SearchKey::SentOn(v)))?,
                b"SENTSINCE" => d(j).map(|(r, v)| (r, SearchKey::SentSince(v)))?,
                b"SAVEDBEFORE" => d(j).map(|(r, v)| (r, SearchKey::SavedBefore(v)))?,
                b"SAVEDON" => d(j).map(|(r, v)| (r, SearchKey::SavedOn(v)))?,
                b"SAVEDSINCE" => d(j).map(|(r, v)| (r, SearchKey::SavedSince(v)))?,
                b"LARGER" => number64(sp(j)?.0).map(|(r, v)| (r, SearchKey::Larger(v)))?,
                b"SMALLER" => number64(sp(j)?.0).map(|(r, v)| (r, SearchKey::Smaller(v)))?,
                b"OLDER" => number(sp(j)?.0).map(|(r, v)| (r, SearchKey::Older(v)))?,
                b"YOUNGER" => number(sp(j)?.0).map(|(r, v)| (r, SearchKey::Younger(v)))?,
                b"UID" => sequence_set(sp(j)?.0).map(|(r, v)| (r, SearchKey::Uid(v)))?,
                // RFC 8474 §7: `search-key =/ "EMAILID" SP objectid /
                // "THREADID" SP objectid`, no parentheses.
                b"EMAILID" => oid(j).map(|(r, v)| (r, SearchKey::EmailId(v)))?,
                b"THREADID" => oid(j).map(|(r, v)| (r, SearchKey::ThreadId(v)))?,
                b"NOT" => search_key(sp(j)?.0, depth + 1)
                    .map(|(r, k)| (r, SearchKey::Not(Box::new(k))))?,
                b"OR" => {
                    let (j, a) = search_key(sp(j)?.0, depth + 1)?;
                    let (j, b) = search_key(sp(j)?.0, depth + 1)?;
                    (j, SearchKey::Or(Box::new(a), Box::new(b)))
                }
                b"MODSEQ" => {
                    let (j, _) = sp(j)?;
                    if matches!(j.first(), Some(b'"') | Some(b'{')) {
                        let (j, name) = super::core::string(j)?;
                        let (j, _) = sp(j)?;
                        let m = j.iter().take_while(|b| b.is_ascii_alphabetic()).count();
                        let t = match upper(&j[..m]).as_bytes() {
                            b"PRIV" => EntryType::Private,
                            b"SHARED" => EntryType::Shared,
                            b"ALL" => EntryType::All,
                            _ => return fail(j, "priv, shared or all"),
                        };
                        let (j, modseq) = number64(sp(&j[m..])?.0)?;
                        (
                            j,
                            SearchKey::ModSeq {
                                entry: Some((name, t)),
                                modseq,
                            },
                        )
                    } else {
                        number64(j).map(|(r, modseq)| {
                            (
                                r,
                                SearchKey::ModSeq {
                                    entry: None,
                                    modseq,
                                },
                            )
                        })?
                    }
                }
                _ => return fail(i, "search key"),
            })
        }
    }
}

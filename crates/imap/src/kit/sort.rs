//! SORT (RFC 5256 §3, DISPLAYFROM/DISPLAYTO of RFC 5957) and the
//! base-subject extraction of RFC 5256 §2.1 that SORT SUBJECT and THREAD use.
//!
//! ```
//! use mailwire_imap::kit::sort::base_subject;
//! assert_eq!(base_subject("Re: [list] Fwd: Hello (fwd)").text, "HELLO");
//! assert!(base_subject("[Fwd: Re: hi]").reply_or_forward);
//! ```

use std::cmp::Ordering;

use super::Message;
use super::search::{LazyContent, MessageMeta, unix_time};
use crate::types::command::{SortCriterion, SortKey};

/// A subject with the RFC 5256 §2.1 artifacts removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseSubject {
    /// The base subject, case-mapped for comparison (upper case: the
    /// i;ascii-casemap of RFC 4790 §9.2, extended to Unicode letters the
    /// way i;unicode-casemap titlecases them).
    pub text: String,
    /// Whether extraction removed a `Re:`/`Fwd:`, a `(fwd)` trailer or a
    /// `[fwd: ... ]` wrapper: the message is a reply or forward (RFC 5256
    /// §3, REFERENCES).
    pub reply_or_forward: bool,
}

fn starts_with_ci(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len() && s.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

fn ends_with_ci(s: &str, suffix: &str) -> bool {
    s.len() >= suffix.len()
        && s.as_bytes()[s.len() - suffix.len()..].eq_ignore_ascii_case(suffix.as_bytes())
}

fn is_wsp(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// `subj-blob = "[" *BLOBCHAR "]" *WSP`: its length at the start of `s`.
fn blob(s: &[u8]) -> Option<usize> {
    if s.first() != Some(&b'[') {
        return None;
    }
    let close = s[1..].iter().position(|&b| b == b']' || b == b'[')?;
    if s[1 + close] != b']' {
        return None;
    }
    let mut n = close + 2;
    while s.get(n).copied().is_some_and(is_wsp) {
        n += 1;
    }
    Some(n)
}

/// `subj-refwd = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":"`.
fn refwd(s: &[u8]) -> Option<usize> {
    let mut n = if s.len() >= 2 && s[..2].eq_ignore_ascii_case(b"re") {
        2
    } else if s.len() >= 2 && s[..2].eq_ignore_ascii_case(b"fw") {
        if s.get(2).is_some_and(|b| b.eq_ignore_ascii_case(&b'd')) {
            3
        } else {
            2
        }
    } else {
        return None;
    };
    while s.get(n).copied().is_some_and(is_wsp) {
        n += 1;
    }
    if let Some(b) = blob(&s[n..]) {
        n += b;
    }
    (s.get(n) == Some(&b':')).then_some(n + 1)
}

/// `subj-leader = (*subj-blob subj-refwd) / WSP`: its length.
fn leader(s: &[u8]) -> Option<usize> {
    if s.first().copied().is_some_and(is_wsp) {
        return Some(1);
    }
    let mut n = 0;
    loop {
        if let Some(r) = refwd(&s[n..]) {
            return Some(n + r);
        }
        n += blob(&s[n..])?;
    }
}

/// RFC 5256 §2.1 on a subject already decoded from RFC 2047 (step 1's
/// first half); white space is normalized here.
pub fn base_subject(subject: &str) -> BaseSubject {
    // (1) Tabs and continuations to space, runs of spaces to one.
    let mut s = String::with_capacity(subject.len());
    for c in subject.chars() {
        let c = if matches!(c, '\t' | '\r' | '\n') {
            ' '
        } else {
            c
        };
        if c == ' ' && s.ends_with(' ') {
            continue;
        }
        s.push(c);
    }
    let mut reply = false;
    let mut s: &str = &s;
    loop {
        // (2) Trailers: "(fwd)" or WSP, repeatedly.
        loop {
            if ends_with_ci(s, "(fwd)") {
                s = &s[..s.len() - 5];
                reply = true;
            } else if s.as_bytes().last().copied().is_some_and(is_wsp) {
                s = &s[..s.len() - 1];
            } else {
                break;
            }
        }
        // (3)-(5) Leaders and blobs until neither matches.
        loop {
            let before = s.len();
            while let Some(n) = leader(s.as_bytes()) {
                if s.as_bytes()[0] != b' ' && s.as_bytes()[0] != b'\t' {
                    reply = true;
                }
                s = &s[n..];
            }
            if let Some(n) = blob(s.as_bytes()) {
                // Only when a non-empty subj-base is left (it starts with
                // non-WSP: the blob took the white space after it).
                if n < s.len() {
                    s = &s[n..];
                }
            }
            if s.len() == before {
                break;
            }
        }
        // (6) "[fwd:" ... "]": unwrap and start over.
        if starts_with_ci(s, "[fwd:") && s.ends_with(']') && s.len() >= 6 {
            s = &s[5..s.len() - 1];
            reply = true;
            continue;
        }
        break;
    }
    BaseSubject {
        text: casemap(s),
        reply_or_forward: reply,
    }
}

/// The comparison form of a string: upper case (i;ascii-casemap, and the
/// i;unicode-casemap idea for other letters).
pub(crate) fn casemap(s: &str) -> String {
    s.chars().flat_map(char::to_uppercase).collect()
}

/// The decoded Subject of a message ("" when absent).
pub(crate) fn subject_of(m: &Message) -> String {
    m.field_text("subject").unwrap_or_default()
}

/// The sent date of RFC 5256 §2.2 in seconds since 1970 UTC: the Date:
/// field, or the INTERNALDATE when it is missing or unparseable.
pub(crate) fn sent_date(m: &Message, meta: &MessageMeta<'_>) -> i64 {
    m.sent_date()
        .map_or_else(|| unix_time(&meta.internal_date), |d| d.unix_timestamp())
}

/// The first address of an address field as the IMAP ENVELOPE has it:
/// (display name, addr-mailbox, addr-spec). A group comes first as its
/// start marker, whose addr-mailbox is the group name (RFC 3501 §7.4.2).
fn first_address(m: &Message, field: &str) -> Option<(Option<String>, String, String)> {
    let raw = m.field(field)?;
    let (list, _) = mailwire_message::parse_address_list(raw);
    match list.0.first()? {
        mailwire_message::Address::Mailbox(mb) => Some((
            mb.name().map(str::to_owned),
            mb.local_part().to_owned(),
            mb.addr_spec().to_owned(),
        )),
        mailwire_message::Address::Group(g) => Some((
            Some(g.name.to_string()),
            g.name.to_string(),
            g.name.to_string(),
        )),
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Value {
    Num(i64),
    Str(String),
}

fn key_value(key: SortKey, meta: &MessageMeta<'_>, content: &mut LazyContent<'_>) -> Value {
    match key {
        SortKey::Arrival => Value::Num(unix_time(&meta.internal_date)),
        SortKey::Size => Value::Num(i64::try_from(meta.size).unwrap_or(i64::MAX)),
        SortKey::Date => Value::Num(sent_date(content.get(), meta)),
        SortKey::Subject => Value::Str(base_subject(&subject_of(content.get())).text),
        // The IMAP addr-mailbox (local part) of the first address (§3).
        SortKey::From | SortKey::To | SortKey::Cc => {
            let field = match key {
                SortKey::From => "from",
                SortKey::To => "to",
                _ => "cc",
            };
            Value::Str(
                first_address(content.get(), field)
                    .map(|(_, local, _)| casemap(&local))
                    .unwrap_or_default(),
            )
        }
        // RFC 5957 §3: the display name of the first address, decoded;
        // its addr-spec when it has none (or an empty one).
        SortKey::DisplayFrom | SortKey::DisplayTo => {
            let field = if key == SortKey::DisplayFrom {
                "from"
            } else {
                "to"
            };
            Value::Str(
                first_address(content.get(), field)
                    .map(|(name, _, spec)| {
                        casemap(name.as_deref().filter(|n| !n.is_empty()).unwrap_or(&spec))
                    })
                    .unwrap_or_default(),
            )
        }
    }
}

/// SORT: the messages (already searched) in the order of the criteria,
/// ties broken by sequence number (RFC 5256 §3). Returns UIDs when `uid`,
/// else sequence numbers. A missing header sorts as the empty string, which
/// comes first.
pub fn sort<'m, I>(criteria: &[SortCriterion], uid: bool, messages: I) -> Vec<u32>
where
    I: IntoIterator<Item = (MessageMeta<'m>, LazyContent<'m>)>,
{
    let mut rows: Vec<(Vec<Value>, u32, u32)> = messages
        .into_iter()
        .map(|(meta, mut content)| {
            let values = criteria
                .iter()
                .map(|c| key_value(c.key, &meta, &mut content))
                .collect();
            (values, meta.seq, meta.uid)
        })
        .collect();
    rows.sort_by(|a, b| {
        for (i, c) in criteria.iter().enumerate() {
            let o = a.0[i].cmp(&b.0[i]);
            let o = if c.reverse { o.reverse() } else { o };
            if o != Ordering::Equal {
                return o;
            }
        }
        a.1.cmp(&b.1)
    });
    rows.into_iter()
        .map(|(_, seq, u)| if uid { u } else { seq })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kit::mailbox::Flags;
    use crate::types::core::{Date, DateTime};

    fn b(s: &str) -> String {
        base_subject(s).text
    }

    #[test]
    fn rfc5256_2_1_base_subject() {
        assert_eq!(b("Re: Hello"), "HELLO");
        assert_eq!(b("RE:  re:Hello  "), "HELLO");
        assert_eq!(b("Fw: Hello"), "HELLO");
        assert_eq!(b("FWD: Hello"), "HELLO");
        assert_eq!(b("Re[2]: Hello"), "HELLO");
        assert_eq!(b("Re [2]: Hello"), "HELLO");
        assert_eq!(b("[list] Re: Hello"), "HELLO");
        assert_eq!(b("Re: [list] Hello"), "HELLO");
        // A blob is kept when removing it would leave nothing.
        assert_eq!(b("[list]"), "[LIST]");
        assert_eq!(b("Re: [list]"), "[LIST]");
        assert_eq!(b("[a][b]"), "[B]");
        assert_eq!(b("Hello (fwd)"), "HELLO");
        assert_eq!(b("Hello (FWD) (fwd)  "), "HELLO");
        assert_eq!(b("[Fwd: Hello]"), "HELLO");
        assert_eq!(b("[Fwd: Re: [x] Hello (fwd)]"), "HELLO");
        assert_eq!(b("Hello\t  world"), "HELLO WORLD");
        assert_eq!(b("Rex: Hello"), "REX: HELLO");
        assert_eq!(b("Re Hello"), "RE HELLO");
        assert_eq!(b(""), "");
        assert_eq!(b("Re:"), "");
        assert_eq!(b("[fwd: x"), "[FWD: X");
        assert!(base_subject("Re: x").reply_or_forward);
        assert!(base_subject("x (fwd)").reply_or_forward);
        assert!(base_subject("[fwd: x]").reply_or_forward);
        assert!(!base_subject("[list] x").reply_or_forward);
        assert!(!base_subject("  x  ").reply_or_forward);
    }

    struct M {
        raw: &'static [u8],
        date: DateTime,
        size: u64,
    }

    fn run(criteria: &str, msgs: &[M]) -> Vec<u32> {
        let cmd = format!("a SORT ({criteria}) UTF-8 ALL\r\n");
        let (c, _) = crate::parse::command(cmd.as_bytes()).unwrap();
        let crate::CommandBody::Sort { criteria, .. } = c.body else {
            panic!()
        };
        let flags = Flags::default();
        let items = msgs.iter().enumerate().map(|(i, m)| {
            (
                MessageMeta {
                    seq: i as u32 + 1,
                    uid: i as u32 + 101,
                    flags: &flags,
                    recent: false,
                    internal_date: m.date,
                    size: m.size,
                    modseq: 1,
                    save_date: None,
                    email_id: None,
                    thread_id: None,
                },
                LazyContent::new(move || Message::parse(m.raw)),
            )
        });
        sort(&criteria, false, items)
    }

    fn dt(d: u8, h: u8) -> DateTime {
        DateTime::new(Date::new(2020, 1, d).unwrap(), h, 0, 0, 0).unwrap()
    }

    fn msgs() -> Vec<M> {
        vec![
            M {
                raw: b"Subject: Re: banana\r\nFrom: Zed <zed@x>\r\nTo: b@x\r\nDate: 3 Jan 2020 00:00 +0000\r\n\r\n",
                date: dt(9, 0),
                size: 30,
            },
            M {
                raw: b"Subject: apple\r\nFrom: \"Bob\" <Adam@x>\r\nCc: c@x\r\nDate: 2 Jan 2020 23:00 -0200\r\n\r\n",
                date: dt(8, 0),
                size: 10,
            },
            M {
                raw: b"Subject: [fwd: Banana]\r\nFrom: carl@x\r\nTo: a@x\r\n\r\n",
                date: dt(1, 0),
                size: 20,
            },
            M {
                raw: b"Subject: Apple\r\nFrom: bob@x\r\nTo: group:;\r\nDate: garbage\r\n\r\n",
                date: dt(2, 0),
                size: 10,
            },
        ]
    }

    #[test]
    fn rfc5256_3_sort_criteria() {
        let m = msgs();
        assert_eq!(run("ARRIVAL", &m), vec![3, 4, 2, 1]);
        assert_eq!(run("REVERSE ARRIVAL", &m), vec![1, 2, 4, 3]);
        // Sent date in UTC; a missing or broken Date: uses the internal date.
        assert_eq!(run("DATE", &m), vec![3, 4, 1, 2]);
        assert_eq!(run("SIZE", &m), vec![2, 4, 3, 1]);
        // Ties by sequence number, also under REVERSE.
        assert_eq!(run("REVERSE SIZE", &m), vec![1, 3, 2, 4]);
        assert_eq!(run("SUBJECT", &m), vec![2, 4, 1, 3]);
        // "(SUBJECT REVERSE DATE)".
        assert_eq!(run("SUBJECT REVERSE DATE", &m), vec![2, 4, 1, 3]);
        assert_eq!(run("SUBJECT ARRIVAL", &m), vec![4, 2, 3, 1]);
        // addr-mailbox (local part), case-insensitively.
        assert_eq!(run("FROM", &m), vec![2, 4, 3, 1]);
        // A missing header is the empty string, first; a group sorts by its name.
        assert_eq!(run("TO", &m), vec![2, 3, 1, 4]);
        assert_eq!(run("CC", &m), vec![1, 3, 4, 2]);
        // RFC 5957: display name, else the address.
        assert_eq!(run("DISPLAYFROM", &m), vec![2, 4, 3, 1]);
        assert_eq!(run("DISPLAYTO", &m), vec![2, 3, 1, 4]);
    }
}

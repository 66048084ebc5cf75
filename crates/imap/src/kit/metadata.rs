//! METADATA (RFC 5464): the rules of entry names, what a GETMETADATA
//! returns from a mailbox's (or the server's) entries, and what a
//! SETMETADATA may change, as pure functions over a map the server keeps
//! however it likes.
//!
//! RFC 5464 is not in `shared/rfc`; the sections cited are those of the
//! published RFC. Where it leaves room the kit answers as Dovecot does: an
//! entry asked for with DEPTH 0 that has no value is returned as NIL, and
//! left out with a greater DEPTH.
//!
//! ```
//! use mailwire_imap::kit::metadata::{entry_name, select, Depth, Entries};
//! let mut entries = Entries::new();
//! entries.insert("/private/comment".into(), b"my inbox".to_vec());
//! entries.insert("/private/vendor/x/a".into(), b"1".to_vec());
//! entries.insert("/private/vendor/x/a/b".into(), b"2".to_vec());
//! let asked = [entry_name(b"/Private/Vendor/x", true).unwrap()];
//! let found = select(&entries, &asked, Depth::One, None);
//! assert_eq!(found.entries, [("/private/vendor/x/a", Some(&b"1"[..]))]);
//! ```

use std::collections::BTreeMap;

use crate::types::command::MetadataOptions;
use crate::types::core::{IString, NString};
use crate::types::mailbox::Mailbox;
use crate::types::response::{Code, Data};

/// Entry names (as [`entry_name`] gives them) and their values.
pub type Entries = BTreeMap<String, Vec<u8>>;

/// An entry name and its value, `None` for NIL: a SETMETADATA's change
/// (NIL removes the entry).
pub type Change = (String, Option<Vec<u8>>);

/// The longest entry name taken, in octets.
pub const MAX_NAME: usize = 1024;

/// Why an entry name, or a value, is refused (a BAD).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BadEntry {
    /// Longer than [`MAX_NAME`].
    #[error("entry name too long")]
    TooLong,
    /// Not UTF-8 (§3.2).
    #[error("entry name is not UTF-8")]
    NotUtf8,
    /// Not below `/private` or `/shared` (§3.2).
    #[error("entry name must begin with /private/ or /shared/")]
    Prefix,
    /// Holds `*` or `%` (§3.2).
    #[error("entry name must not hold * or %")]
    Wildcard,
    /// Holds two slashes in a row (§3.2).
    #[error("entry name must not hold two slashes in a row")]
    DoubleSlash,
    /// Ends with a slash (§3.2).
    #[error("entry name must not end with a slash")]
    TrailingSlash,
    /// Holds NUL (§3.2).
    #[error("entry name must not hold NUL")]
    Nul,
    /// A value holds NUL (which only a `literal8` could carry, and the
    /// codec reads values as strings).
    #[error("a value must not hold NUL")]
    NulValue,
}

/// An entry name as a server keeps it (§3.2): checked, ASCII letters
/// lower-cased (names compare without case). `root` also takes
/// `/private` and `/shared` alone, for a GETMETADATA that asks for what
/// is below one with DEPTH; a SETMETADATA names an entry below one.
pub fn entry_name(raw: &[u8], root: bool) -> Result<String, BadEntry> {
    if raw.len() > MAX_NAME {
        return Err(BadEntry::TooLong);
    }
    let lower = std::str::from_utf8(raw)
        .map_err(|_| BadEntry::NotUtf8)?
        .to_ascii_lowercase();
    let under = ["/private", "/shared"]
        .iter()
        .find_map(|p| lower.strip_prefix(p))
        .ok_or(BadEntry::Prefix)?;
    if under.is_empty() && !root || !under.is_empty() && !under.starts_with('/') {
        return Err(BadEntry::Prefix);
    }
    if lower.contains(['*', '%']) {
        return Err(BadEntry::Wildcard);
    }
    if lower.contains("//") {
        return Err(BadEntry::DoubleSlash);
    }
    if lower.ends_with('/') {
        return Err(BadEntry::TrailingSlash);
    }
    if lower.contains('\0') {
        return Err(BadEntry::Nul);
    }
    Ok(lower)
}

/// A SETMETADATA's arguments as changes: each name checked by
/// [`entry_name`], each value free of NUL.
pub fn changes(args: Vec<(IString<'_>, NString<'_>)>) -> Result<Vec<Change>, BadEntry> {
    args.into_iter()
        .map(|(name, value)| {
            let name = entry_name(name.as_bytes(), false)?;
            match value {
                Some(v) if v.as_bytes().contains(&0) => Err(BadEntry::NulValue),
                v => Ok((name, v.map(|v| v.into_inner().into_owned()))),
            }
        })
        .collect()
}

/// How far below each entry asked for a GETMETADATA reads (§4.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Depth {
    /// The entry alone (the default).
    Zero,
    /// The entry and its children.
    One,
    /// The entry and everything below it.
    Infinity,
}

impl Depth {
    /// The DEPTH of a GETMETADATA's options; `None` for a number §4.2.2
    /// does not define (a BAD).
    pub fn of(options: &MetadataOptions) -> Option<Depth> {
        match options.depth {
            None | Some(0) => Some(Depth::Zero),
            Some(1) => Some(Depth::One),
            Some(u32::MAX) => Some(Depth::Infinity),
            Some(_) => None,
        }
    }
}

/// What a GETMETADATA returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection<'e> {
    /// Entries in the order asked for (what is below one sorted), each
    /// once; `None`: NIL.
    pub entries: Vec<(&'e str, Option<&'e [u8]>)>,
    /// The longest value left out for MAXSIZE (§4.2.1).
    pub longest_omitted: Option<usize>,
}

impl Selection<'_> {
    /// The `METADATA` response of `mailbox` (§4.4.1); none when nothing
    /// was found (the response has at least one entry).
    pub fn response(&self, mailbox: Mailbox<'static>) -> Option<Data<'static>> {
        let entries: Vec<(IString<'static>, NString<'static>)> = self
            .entries
            .iter()
            .filter_map(|&(n, v)| {
                let value = match v {
                    Some(v) => Some(IString::new(v.to_vec()).ok()?),
                    None => None,
                };
                Some((IString::new(n.as_bytes().to_vec()).ok()?, value))
            })
            .collect();
        (!entries.is_empty()).then_some(Data::Metadata { mailbox, entries })
    }

    /// The tagged OK's code: `METADATA LONGENTRIES` when MAXSIZE left a
    /// value out (§4.2.1).
    pub fn code(&self) -> Option<Code<'static>> {
        self.longest_omitted
            .map(|n| Code::MetadataLongEntries(u32::try_from(n).unwrap_or(u32::MAX)))
    }
}

/// What a GETMETADATA of `names` (from [`entry_name`]) returns from
/// `entries` (§4.2): for each name, the entry itself (NIL when it has no
/// value and `depth` is 0; left out otherwise), then with DEPTH 1 its
/// children, with DEPTH infinity everything below it. Values longer than
/// `max_size` (MAXSIZE, §4.2.1) are left out.
pub fn select<'e>(
    entries: &'e Entries,
    names: &'e [String],
    depth: Depth,
    max_size: Option<u32>,
) -> Selection<'e> {
    let mut out = Selection {
        entries: Vec::new(),
        longest_omitted: None,
    };
    let mut seen = std::collections::HashSet::new();
    let mut give = |name: &'e str, value: Option<&'e [u8]>| {
        if !seen.insert(name) {
            return;
        }
        if let Some(v) = value
            && max_size.is_some_and(|m| v.len() > m as usize)
        {
            out.longest_omitted = out.longest_omitted.max(Some(v.len()));
            return;
        }
        out.entries.push((name, value));
    };
    for name in names {
        match entries.get_key_value(name) {
            Some((k, v)) => give(k, Some(v)),
            None if depth == Depth::Zero => give(name, None),
            None => {}
        }
        if depth == Depth::Zero {
            continue;
        }
        let prefix = format!("{name}/");
        for (k, v) in entries.range(prefix.clone()..) {
            let Some(rest) = k.strip_prefix(&prefix) else {
                break;
            };
            if depth == Depth::One && rest.contains('/') {
                continue;
            }
            give(k, Some(v));
        }
    }
    out
}

/// A server's limits on what SETMETADATA may store (§4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The longest value, in octets.
    pub max_value: usize,
    /// The most entries of one mailbox (or of the server).
    pub max_entries: usize,
}

/// Why a SETMETADATA changes nothing (a NO with the code of §4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OverLimit {
    /// A value is longer than the limit.
    #[error("value too long")]
    MaxSize(usize),
    /// There would be more entries than the limit.
    #[error("too many entries")]
    TooMany,
}

impl OverLimit {
    /// `METADATA MAXSIZE n` or `METADATA TOOMANY`.
    pub fn code(&self) -> Code<'static> {
        match *self {
            OverLimit::MaxSize(n) => Code::MetadataMaxSize(u32::try_from(n).unwrap_or(u32::MAX)),
            OverLimit::TooMany => Code::MetadataTooMany,
        }
    }
}

/// `changes` made to `entries`, all of them or (over a limit) none
/// (§4.3).
pub fn apply(entries: &mut Entries, changes: Vec<Change>, limits: Limits) -> Result<(), OverLimit> {
    if changes
        .iter()
        .any(|(_, v)| v.as_ref().is_some_and(|v| v.len() > limits.max_value))
    {
        return Err(OverLimit::MaxSize(limits.max_value));
    }
    let mut next = entries.clone();
    for (name, value) in changes {
        match value {
            Some(v) => next.insert(name, v),
            None => next.remove(&name),
        };
    }
    if next.len() > limits.max_entries && next.len() > entries.len() {
        return Err(OverLimit::TooMany);
    }
    *entries = next;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(list: &[(&str, &str)]) -> Entries {
        list.iter()
            .map(|(n, v)| (n.to_string(), v.as_bytes().to_vec()))
            .collect()
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|n| n.to_string()).collect()
    }

    #[test]
    fn rfc5464_3_2_entry_names() {
        assert_eq!(
            entry_name(b"/Private/Comment", false).as_deref(),
            Ok("/private/comment")
        );
        assert_eq!(
            entry_name(b"/shared/vendor/Example/x", false).as_deref(),
            Ok("/shared/vendor/example/x")
        );
        assert_eq!(entry_name(b"/private", true).as_deref(), Ok("/private"));
        for (bad, why) in [
            (&b"/private"[..], BadEntry::Prefix),
            (b"/shared", BadEntry::Prefix),
            (b"/privatex/a", BadEntry::Prefix),
            (b"/other/a", BadEntry::Prefix),
            (b"private/a", BadEntry::Prefix),
            (b"/private/a*", BadEntry::Wildcard),
            (b"/private/%", BadEntry::Wildcard),
            (b"/private//a", BadEntry::DoubleSlash),
            (b"/private/a/", BadEntry::TrailingSlash),
            (b"/private/a\0", BadEntry::Nul),
            (b"/private/\xff", BadEntry::NotUtf8),
        ] {
            assert_eq!(entry_name(bad, false), Err(why), "{bad:?}");
        }
        assert_eq!(
            entry_name(&[b'a'; MAX_NAME + 1], true),
            Err(BadEntry::TooLong)
        );
        let s = |v: &str| IString::new(v.as_bytes().to_vec()).unwrap();
        assert_eq!(
            changes(vec![
                (s("/Private/A"), Some(s("x"))),
                (s("/shared/b"), None)
            ]),
            Ok(vec![
                ("/private/a".to_string(), Some(b"x".to_vec())),
                ("/shared/b".to_string(), None)
            ])
        );
        let nul = IString::from_literal(b"a\0b");
        assert_eq!(
            changes(vec![(s("/private/a"), Some(nul))]),
            Err(BadEntry::NulValue)
        );
    }

    /// The answers Dovecot 2.3 gives to the same questions (the mail
    /// server's interop test compares the two servers).
    #[test]
    fn rfc5464_4_2_depth_and_max_size() {
        let e = entries(&[
            ("/private/vendor/x/a", "1"),
            ("/private/vendor/x/a/b", "2"),
            ("/private/vendor/x/c", "0123456789"),
            ("/private/vendor/xy", "other"),
            ("/shared/comment", "shared one"),
        ]);
        let got = |asked: &[&str], depth, max| {
            let asked = names(asked);
            let s = select(&e, &asked, depth, max);
            let list: Vec<(String, Option<String>)> = s
                .entries
                .iter()
                .map(|(n, v)| (n.to_string(), v.map(|v| String::from_utf8_lossy(v).into())))
                .collect();
            (list, s.longest_omitted)
        };
        let s = |n: &str, v: Option<&str>| (n.to_string(), v.map(str::to_string));
        assert_eq!(
            got(&["/private/vendor/x"], Depth::One, None),
            (
                vec![
                    s("/private/vendor/x/a", Some("1")),
                    s("/private/vendor/x/c", Some("0123456789"))
                ],
                None
            )
        );
        assert_eq!(
            got(&["/private"], Depth::Infinity, Some(5)),
            (
                vec![
                    s("/private/vendor/x/a", Some("1")),
                    s("/private/vendor/x/a/b", Some("2")),
                    s("/private/vendor/xy", Some("other")),
                ],
                Some(10)
            )
        );
        assert_eq!(
            got(
                &["/shared/comment", "/private/nothere", "/private"],
                Depth::Zero,
                None
            ),
            (
                vec![
                    s("/shared/comment", Some("shared one")),
                    s("/private/nothere", None),
                    s("/private", None)
                ],
                None
            )
        );
        // Asked for twice, or found under two names: once.
        let (list, _) = got(
            &["/private/vendor/x", "/private/vendor/x/a"],
            Depth::Infinity,
            None,
        );
        assert_eq!(list.len(), 3);
        // The response and the code.
        let asked = names(&["/private"]);
        let sel = select(&e, &asked, Depth::Infinity, Some(1));
        assert_eq!(sel.code(), Some(Code::MetadataLongEntries(10)));
        assert!(matches!(
            sel.response(Mailbox::Inbox),
            Some(Data::Metadata { entries, .. }) if entries.len() == 2
        ));
        let none = names(&["/shared/nothing"]);
        assert_eq!(
            select(&e, &none, Depth::One, None).response(Mailbox::Inbox),
            None
        );
        assert_eq!(
            Depth::of(&MetadataOptions {
                max_size: None,
                depth: Some(2)
            }),
            None
        );
    }

    #[test]
    fn rfc5464_4_3_limits_set_nothing() {
        let limits = Limits {
            max_value: 8,
            max_entries: 3,
        };
        let mut e = entries(&[("/private/a", "1")]);
        let r = apply(
            &mut e,
            vec![
                ("/private/b".into(), Some(b"2".to_vec())),
                ("/private/c".into(), Some(vec![b'x'; 9])),
            ],
            limits,
        );
        assert_eq!(r, Err(OverLimit::MaxSize(8)));
        assert_eq!(r.unwrap_err().code(), Code::MetadataMaxSize(8));
        assert_eq!(e, entries(&[("/private/a", "1")]));
        let many = (0..3)
            .map(|i| (format!("/private/n{i}"), Some(vec![b'v'])))
            .collect();
        assert_eq!(apply(&mut e, many, limits), Err(OverLimit::TooMany));
        assert_eq!(e.len(), 1);
        apply(
            &mut e,
            vec![("/private/a".into(), None), ("/private/z".into(), None)],
            limits,
        )
        .unwrap();
        assert!(e.is_empty());
    }
}

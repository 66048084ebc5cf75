//! Annotations of the server and of each folder: IMAP METADATA (RFC 5464).
//!
//! RFC 5464 is not in `shared/rfc`; the sections cited are those of the
//! published RFC. What a client reads and writes:
//!
//! - **Entries** (§3.2) are slash-separated paths under `/private` (the
//!   user's own) or `/shared` (every user's who can see the mailbox; on
//!   this server, where no mailbox is shared, the owner's alone, kept
//!   apart from the private ones). Names compare without ASCII case: they
//!   are stored lower-cased. A name with `*` or `%`, two slashes in a row,
//!   a slash at its end, a NUL, or that is not UTF-8, is refused (BAD).
//! - **Where they live**: a folder's entries in `mailwire-metadata` in
//!   its directory (INBOX's in the account's root), so RENAME takes them
//!   along and DELETE removes them with the folder (§4.3: a mailbox
//!   created again has none); the account's private server entries in
//!   `mailwire-server-metadata` in the account's root. The server's shared
//!   entries are the administrator's (`/shared/admin`, §3.2.1.1: where
//!   to reach them), not written over IMAP. Both files are written whole
//!   through a temporary file, synced, then renamed over the old one, so
//!   a crash leaves the old entries or the new ones; the account's INBOX
//!   lock keeps two writers apart.
//! - **Limits** (§4.3): a value of at most [`MAX_VALUE`] octets (else
//!   `METADATA MAXSIZE`), at most [`MAX_ENTRIES`] entries in one file
//!   (else `METADATA TOOMANY`); a SETMETADATA that breaks one sets
//!   nothing.
//!
//! The file: a first line `mailwire-metadata 1`, then per entry a line
//! with the name's and the value's lengths in octets and the two after it,
//! then a line end: any byte but NUL may be in either.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::PathBuf;

use super::{MailStore, StoreError};

/// The longest value stored, in octets (`METADATA MAXSIZE`).
pub(crate) const MAX_VALUE: usize = 64 * 1024;

/// The most entries one folder, or one account's server entries, hold
/// (`METADATA TOOMANY`).
pub(crate) const MAX_ENTRIES: usize = 128;

/// The longest entry name, in octets.
const MAX_NAME: usize = 1024;

/// A folder's entries, in its directory.
const FOLDER_FILE: &str = "mailwire-metadata";

/// An account's private server entries, in its root.
const SERVER_FILE: &str = "mailwire-server-metadata";

/// The file's first line.
const MAGIC: &[u8] = b"mailwire-metadata 1\n";

/// Entry names (lower-cased) and their values.
pub(crate) type Entries = BTreeMap<String, Vec<u8>>;

/// An entry name and its value, `None` for NIL: what a GETMETADATA
/// returns, what a SETMETADATA sets (NIL removes).
pub(crate) type EntryValue = (String, Option<Vec<u8>>);

/// How far below each entry asked for a GETMETADATA reads (§4.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Depth {
    /// The entry alone (the default).
    Zero,
    /// The entry and its children.
    One,
    /// The entry and everything below it.
    Infinity,
}

impl Depth {
    /// The `DEPTH` option's value (`u32::MAX` for `infinity`); `None`
    /// for a number the RFC does not define.
    pub(crate) fn from_option(depth: Option<u32>) -> Option<Depth> {
        match depth {
            None | Some(0) => Some(Depth::Zero),
            Some(1) => Some(Depth::One),
            Some(u32::MAX) => Some(Depth::Infinity),
            Some(_) => None,
        }
    }
}

/// Where an annotation is kept: on the server (the mailbox `""`) or on a
/// folder (its stored name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope<'a> {
    Server,
    Folder(&'a str),
}

/// Why a SETMETADATA was refused.
#[derive(Debug)]
pub(crate) enum SetError {
    /// A value is longer than [`MAX_VALUE`].
    MaxSize,
    /// The entries would pass [`MAX_ENTRIES`].
    TooMany,
    /// A shared server entry: the administrator's.
    NoPermission,
    /// The folder, or the store.
    Store(StoreError),
}

impl From<StoreError> for SetError {
    fn from(e: StoreError) -> Self {
        SetError::Store(e)
    }
}

impl From<io::Error> for SetError {
    fn from(e: io::Error) -> Self {
        SetError::Store(StoreError::Io(e))
    }
}

/// An entry name as stored (§3.2): checked, ASCII letters lower-cased.
/// `root` allows `/private` and `/shared` alone (a GETMETADATA that asks
/// for every entry below one with DEPTH); a SETMETADATA names an entry
/// below one. The error says why, for the BAD.
pub(crate) fn entry_name(raw: &[u8], root: bool) -> Result<String, &'static str> {
    if raw.len() > MAX_NAME {
        return Err("entry name too long");
    }
    let name = std::str::from_utf8(raw).map_err(|_| "entry name is not UTF-8")?;
    let lower = name.to_ascii_lowercase();
    let under = ["/private", "/shared"]
        .iter()
        .find_map(|p| lower.strip_prefix(p))
        .ok_or("entry name must begin with /private or /shared")?;
    if under.is_empty() && !root || !under.is_empty() && !under.starts_with('/') {
        return Err("entry name must begin with /private/ or /shared/");
    }
    if lower.contains(['*', '%']) {
        return Err("entry name must not hold * or %");
    }
    if lower.contains("//") {
        return Err("entry name must not hold two slashes in a row");
    }
    if lower.ends_with('/') {
        return Err("entry name must not end with a slash");
    }
    if lower.contains('\0') {
        return Err("entry name must not hold NUL");
    }
    Ok(lower)
}

/// What a GETMETADATA returns from `entries` (§4.2): for each name asked
/// for, in order, the entry itself (`None`, NIL, when it has no value and
/// DEPTH is 0, as Dovecot answers; left out otherwise), then with DEPTH 1
/// its children, with DEPTH infinity everything below it, sorted. An
/// entry is given once. Values longer than `max_size` are left out, and
/// the longest of them returned (for `METADATA LONGENTRIES`, §4.2.1).
pub(crate) fn select(
    entries: &Entries,
    names: &[String],
    depth: Depth,
    max_size: Option<u32>,
) -> (Vec<EntryValue>, Option<usize>) {
    let mut out: Vec<EntryValue> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut longest = None;
    let mut give = |name: &str, value: Option<&Vec<u8>>, out: &mut Vec<_>| {
        if !seen.insert(name.to_string()) {
            return;
        }
        if let Some(v) = value
            && max_size.is_some_and(|m| v.len() > m as usize)
        {
            longest = longest.max(Some(v.len()));
            return;
        }
        out.push((name.to_string(), value.cloned()));
    };
    for name in names {
        match entries.get(name) {
            Some(v) => give(name, Some(v), &mut out),
            None if depth == Depth::Zero => give(name, None, &mut out),
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
            give(k, Some(v), &mut out);
        }
    }
    (out, longest)
}

/// `changes` made to `entries` (a `None` value removes the entry, §4.3),
/// or why nothing may be: a value over [`MAX_VALUE`], more than
/// [`MAX_ENTRIES`] entries after.
pub(crate) fn apply(entries: &mut Entries, changes: Vec<EntryValue>) -> Result<(), SetError> {
    if changes
        .iter()
        .any(|(_, v)| v.as_ref().is_some_and(|v| v.len() > MAX_VALUE))
    {
        return Err(SetError::MaxSize);
    }
    let mut next = entries.clone();
    for (name, value) in changes {
        match value {
            Some(v) => next.insert(name, v),
            None => next.remove(&name),
        };
    }
    if next.len() > MAX_ENTRIES && next.len() > entries.len() {
        return Err(SetError::TooMany);
    }
    *entries = next;
    Ok(())
}

/// The file's bytes for `entries`.
fn encode(entries: &Entries) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    for (name, value) in entries {
        out.extend_from_slice(format!("{} {}\n", name.len(), value.len()).as_bytes());
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(value);
        out.push(b'\n');
    }
    out
}

/// The entries of a file's bytes; an error for a file this module did not
/// write.
fn decode(mut bytes: &[u8]) -> io::Result<Entries> {
    let bad = || io::Error::new(io::ErrorKind::InvalidData, "damaged metadata file");
    bytes = bytes.strip_prefix(MAGIC).ok_or_else(bad)?;
    let mut entries = Entries::new();
    while !bytes.is_empty() {
        let nl = bytes.iter().position(|&b| b == b'\n').ok_or_else(bad)?;
        let line = std::str::from_utf8(&bytes[..nl]).map_err(|_| bad())?;
        let (n, v) = line.split_once(' ').ok_or_else(bad)?;
        let (n, v): (usize, usize) = (n.parse().map_err(|_| bad())?, v.parse().map_err(|_| bad())?);
        let rest = &bytes[nl + 1..];
        let end = n
            .checked_add(v)
            .filter(|&e| e < rest.len())
            .ok_or_else(bad)?;
        if rest[end] != b'\n' {
            return Err(bad());
        }
        let name = std::str::from_utf8(&rest[..n]).map_err(|_| bad())?;
        entries.insert(name.to_string(), rest[n..end].to_vec());
        bytes = &rest[end + 1..];
    }
    Ok(entries)
}

impl MailStore {
    /// The file of `scope`'s entries; a folder must exist.
    fn metadata_file(&self, user: &str, scope: Scope<'_>) -> Result<PathBuf, StoreError> {
        Ok(match scope {
            Scope::Server => self.user_root(user).join(SERVER_FILE),
            Scope::Folder(name) => self.folder(user, name)?.dir.join(FOLDER_FILE),
        })
    }

    /// The entries stored for `scope` (for the server, the account's
    /// private ones).
    pub(crate) fn metadata(&self, user: &str, scope: Scope<'_>) -> Result<Entries, StoreError> {
        let path = self.metadata_file(user, scope)?;
        match fs::read(&path) {
            Ok(bytes) => Ok(decode(&bytes)?),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Entries::new()),
            Err(e) => Err(e.into()),
        }
    }

    /// Makes `changes` to `scope`'s entries, all or none (§4.3), durably
    /// before it returns. Shared server entries are refused.
    pub(crate) fn set_metadata(
        &self,
        user: &str,
        scope: Scope<'_>,
        changes: Vec<EntryValue>,
    ) -> Result<(), SetError> {
        if scope == Scope::Server && changes.iter().any(|(n, _)| n.starts_with("/shared")) {
            return Err(SetError::NoPermission);
        }
        let _lock = self.inbox(user).lock()?;
        let mut entries = self.metadata(user, scope)?;
        apply(&mut entries, changes)?;
        let path = self.metadata_file(user, scope)?;
        crate::maildir::write_atomic(&path, &encode(&entries))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

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
        for bad in [
            &b"/private"[..],
            b"/shared",
            b"/privatex/a",
            b"/other/a",
            b"private/a",
            b"/private/a*",
            b"/private/%",
            b"/private//a",
            b"/private/a/",
            b"/private/a\0",
            b"/private/\xff",
        ] {
            assert!(entry_name(bad, false).is_err(), "{bad:?}");
        }
        assert!(entry_name(&[b'a'; MAX_NAME + 1], true).is_err());
    }

    /// The answers Dovecot 2.3 gave to the same questions (what
    /// tests/interop_mailserver_metadata compares against the server).
    #[test]
    fn rfc5464_4_2_depth_and_max_size() {
        let e = entries(&[
            ("/private/vendor/x/a", "1"),
            ("/private/vendor/x/a/b", "2"),
            ("/private/vendor/x/c", "0123456789"),
            ("/private/vendor/xy", "other"),
            ("/shared/comment", "shared one"),
        ]);
        let vals = |r: (Vec<EntryValue>, Option<usize>)| {
            (
                r.0.into_iter()
                    .map(|(n, v)| (n, v.map(|v| String::from_utf8(v).unwrap())))
                    .collect::<Vec<_>>(),
                r.1,
            )
        };
        let s = |n: &str, v: Option<&str>| (n.to_string(), v.map(str::to_string));
        assert_eq!(
            vals(select(&e, &names(&["/private/vendor/x"]), Depth::One, None)),
            (
                vec![
                    s("/private/vendor/x/a", Some("1")),
                    s("/private/vendor/x/c", Some("0123456789"))
                ],
                None
            )
        );
        assert_eq!(
            vals(select(&e, &names(&["/private"]), Depth::Infinity, Some(5))),
            (
                vec![
                    s("/private/vendor/x/a", Some("1")),
                    s("/private/vendor/x/a/b", Some("2")),
                    s("/private/vendor/xy", Some("other")),
                ],
                Some(10)
            )
        );
        // Depth 0: an entry without a value is NIL; the root alone too.
        assert_eq!(
            vals(select(
                &e,
                &names(&["/shared/comment", "/private/nothere", "/private"]),
                Depth::Zero,
                None
            )),
            (
                vec![
                    s("/shared/comment", Some("shared one")),
                    s("/private/nothere", None),
                    s("/private", None)
                ],
                None
            )
        );
        // An entry asked for twice, or found under two names, comes once.
        let (got, _) = select(
            &e,
            &names(&["/private/vendor/x", "/private/vendor/x/a"]),
            Depth::Infinity,
            None,
        );
        assert_eq!(got.len(), 3);
    }

    #[test]
    fn rfc5464_4_3_limits_set_nothing() {
        let mut e = entries(&[("/private/a", "1")]);
        let big = vec![b'x'; MAX_VALUE + 1];
        let r = apply(
            &mut e,
            vec![
                ("/private/b".into(), Some(b"2".to_vec())),
                ("/private/c".into(), Some(big)),
            ],
        );
        assert!(matches!(r, Err(SetError::MaxSize)));
        assert_eq!(e, entries(&[("/private/a", "1")]));
        let many = (0..MAX_ENTRIES)
            .map(|i| (format!("/private/n{i}"), Some(vec![b'v'])))
            .collect();
        assert!(matches!(apply(&mut e, many), Err(SetError::TooMany)));
        assert_eq!(e.len(), 1);
        // NIL removes; removing what is not there is no error.
        apply(
            &mut e,
            vec![("/private/a".into(), None), ("/private/z".into(), None)],
        )
        .unwrap();
        assert!(e.is_empty());
    }

    #[test]
    fn damaged_files_are_errors() {
        for bad in [
            &b""[..],
            b"mailwire-metadata 2\n",
            b"mailwire-metadata 1\n3 1\n/ab",
            b"mailwire-metadata 1\n3 1\n/abcX",
            b"mailwire-metadata 1\nx 1\n/abc\n",
            b"mailwire-metadata 1\n18446744073709551615 2\n",
        ] {
            assert!(decode(bad).is_err(), "{bad:?}");
        }
    }

    /// Through the store: folders keep their entries apart, RENAME takes
    /// them along, DELETE and a new CREATE leave none, the server's
    /// shared entries are refused, and a refused change sets nothing.
    #[test]
    fn entries_follow_their_folder() {
        let d = std::env::temp_dir().join(format!("metadata-{}", crate::maildir::queue_id()));
        let s = MailStore::open(&d, &["u"]).unwrap();
        let set = |scope, name: &str, value: Option<&str>| {
            s.set_metadata(
                "u",
                scope,
                vec![(name.to_string(), value.map(|v| v.as_bytes().to_vec()))],
            )
        };
        let get = |scope| s.metadata("u", scope).unwrap();
        s.create("u", "Projects").unwrap();
        set(Scope::Folder("INBOX"), "/private/comment", Some("in")).unwrap();
        set(Scope::Folder("Projects"), "/shared/comment", Some("proj")).unwrap();
        set(Scope::Server, "/private/motd", Some("hi")).unwrap();
        assert_eq!(
            get(Scope::Folder("INBOX")),
            entries(&[("/private/comment", "in")])
        );
        assert_eq!(get(Scope::Server), entries(&[("/private/motd", "hi")]));
        assert!(matches!(
            set(Scope::Server, "/shared/comment", Some("x")),
            Err(SetError::NoPermission)
        ));
        assert!(matches!(
            set(Scope::Folder("Nope"), "/private/a", Some("x")),
            Err(SetError::Store(StoreError::NoSuch))
        ));
        s.rename("u", "Projects", "Work").unwrap();
        assert_eq!(
            get(Scope::Folder("Work")),
            entries(&[("/shared/comment", "proj")])
        );
        s.delete("u", "Work").unwrap();
        s.create("u", "Work").unwrap();
        assert!(get(Scope::Folder("Work")).is_empty());
        let big = "x".repeat(MAX_VALUE + 1);
        assert!(matches!(
            set(Scope::Folder("INBOX"), "/private/big", Some(&big)),
            Err(SetError::MaxSize)
        ));
        set(Scope::Folder("INBOX"), "/private/comment", None).unwrap();
        assert!(get(Scope::Folder("INBOX")).is_empty());
        fs::remove_dir_all(d).unwrap();
    }

    proptest! {
        /// Any entries, any bytes in names and values but NUL, read back
        /// as written.
        #[test]
        fn file_round_trip(list in proptest::collection::btree_map(
            "[^\u{0}]{0,12}",
            proptest::collection::vec(1u8..=255, 0..40),
            0..8,
        )) {
            prop_assert_eq!(decode(&encode(&list)).unwrap(), list);
        }
    }
}

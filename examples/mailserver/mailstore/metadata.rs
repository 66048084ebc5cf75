//! Where the annotations of IMAP METADATA (RFC 5464) are kept: the
//! server's and each folder's. The protocol's rules (entry names, DEPTH,
//! MAXSIZE, the limits of a SETMETADATA) are the server kit's
//! ([`mailwire::imap::kit::metadata`]); this is the storage.
//!
//! RFC 5464 is not in `shared/rfc`; the sections cited are those of the
//! published RFC.
//!
//! - **Entries** (§3.2) are slash-separated paths under `/private` (the
//!   user's own) or `/shared` (every user's who can see the mailbox; on
//!   this server, where no mailbox is shared, the owner's alone, kept
//!   apart from the private ones), stored lower-cased as the kit gives
//!   them.
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
//! - **Limits** (§4.3, [`LIMITS`]): a value of at most 64 KiB (else
//!   `METADATA MAXSIZE`), at most 128 entries in one file (else `METADATA
//!   TOOMANY`); a SETMETADATA that breaks one sets nothing.
//!
//! The file: a first line `mailwire-metadata 1`, then per entry a line
//! with the name's and the value's lengths in octets and the two after it,
//! then a line end: any byte but NUL may be in either.

use std::fs;
use std::io;
use std::path::PathBuf;

use mailwire::imap::kit::metadata::{Change, Entries, Limits, OverLimit, apply};

use super::{MailStore, StoreError};

/// What one folder, or one account's server entries, may hold.
pub(crate) const LIMITS: Limits = Limits {
    max_value: 64 * 1024,
    max_entries: 128,
};

/// A folder's entries, in its directory.
const FOLDER_FILE: &str = "mailwire-metadata";

/// An account's private server entries, in its root.
const SERVER_FILE: &str = "mailwire-server-metadata";

/// The file's first line.
const MAGIC: &[u8] = b"mailwire-metadata 1\n";

/// Where an annotation is kept: on the server (the mailbox `""`) or on a
/// folder (its stored name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope<'a> {
    Server,
    Folder(&'a str),
}

impl<'a> Scope<'a> {
    /// The scope of mailbox `name` (stored form): the server's for `""`
    /// (RFC 5464 §4.2, §4.3).
    pub(crate) fn of(name: &'a str) -> Self {
        if name.is_empty() {
            Scope::Server
        } else {
            Scope::Folder(name)
        }
    }
}

/// Why a SETMETADATA was refused.
#[derive(Debug)]
pub(crate) enum SetError {
    /// Over [`LIMITS`].
    Over(OverLimit),
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
        changes: Vec<Change>,
    ) -> Result<(), SetError> {
        if scope == Scope::Server && changes.iter().any(|(n, _)| n.starts_with("/shared")) {
            return Err(SetError::NoPermission);
        }
        let _lock = self.inbox(user).lock()?;
        let mut entries = self.metadata(user, scope)?;
        apply(&mut entries, changes, LIMITS).map_err(SetError::Over)?;
        let path = self.metadata_file(user, scope)?;
        crate::maildir::write_atomic(&path, &encode(&entries))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

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
            Entries::from([("/private/comment".to_string(), b"in".to_vec())])
        );
        assert_eq!(
            get(Scope::Server),
            Entries::from([("/private/motd".to_string(), b"hi".to_vec())])
        );
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
            Entries::from([("/shared/comment".to_string(), b"proj".to_vec())])
        );
        s.delete("u", "Work").unwrap();
        s.create("u", "Work").unwrap();
        assert!(get(Scope::Folder("Work")).is_empty());
        let big = "x".repeat(LIMITS.max_value + 1);
        assert!(matches!(
            set(Scope::Folder("INBOX"), "/private/big", Some(&big)),
            Err(SetError::Over(OverLimit::MaxSize(_)))
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

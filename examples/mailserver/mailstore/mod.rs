//! The mailbox store shared by SMTP delivery, POP3 and IMAP: one Maildir++
//! tree per account, in the layout and with the control files Dovecot uses,
//! so that Dovecot can serve the same mail with the same UIDs and flags.
//!
//! ```text
//! DIR/mailboxes/USER/                 INBOX (tmp/ new/ cur/ dovecot-uidlist dovecot-keywords)
//! DIR/mailboxes/USER/.Sent/           folder "Sent" (and maildirfolder)
//! DIR/mailboxes/USER/.Archive.2024/   folder "Archive.2024": a child of "Archive"
//! DIR/mailboxes/USER/subscriptions    subscribed folders, one a line
//! DIR/mailboxes/USER/maildirsize      bytes and messages used, Maildir++'s way (with a quota)
//! DIR/mailboxes/USER/mailwire-metadata         INBOX's annotations (each folder has its own)
//! DIR/mailboxes/USER/mailwire-server-metadata  the account's server annotations
//! ```
//!
//! - **Hierarchy delimiter `.`**, as Maildir++ and Dovecot's default
//!   Maildir namespace: the IMAP name is the directory name without its
//!   leading dot. Names are stored as they go over the wire (modified
//!   UTF-7), as Dovecot stores them. A name with `/`, an empty level, or a
//!   level starting with `.` is refused.
//! - **SPECIAL-USE** (RFC 6154): Sent, Drafts, Trash, Junk and Archive are
//!   created and subscribed for every account and carry `\Sent`,
//!   `\Drafts`, `\Trash`, `\Junk`, `\Archive`.
//! - **UIDs and flags**: [`folder`] (`dovecot-uidlist` version 3,
//!   `dovecot-keywords`, flags in the `:2,` info part, `,S=` and `,W=`
//!   sizes in the name; a copy's name also carries its original's EMAILID,
//!   RFC 8474, in `,E=`, which other programs take for part of the unique
//!   name).
//! - **MODSEQ** (CONDSTORE): in [`modseq`]'s `mailwire-modseq`, a file of
//!   our own. Dovecot keeps mod-sequences in its index files, which the
//!   mailserver does not write, and a field of our own in
//!   `dovecot-uidlist` would be dropped when Dovecot rewrites the file.
//!   The same file keeps the folder's last expunges with their
//!   mod-sequences, for QRESYNC's VANISHED (EARLIER) (RFC 7162 §3.2.5.1),
//!   and each message's save date (RFC 8514 SAVEDATE), set once.
//! - **Quota usage**: [`quota`]'s `maildirsize`, as Maildir++ (and
//!   Dovecot's `maildir` quota backend) keeps it: a check reads one small
//!   file; every change made through the store appends a line to it.
//! - **Annotations** (IMAP METADATA): [`metadata`]'s files of our own
//!   (Dovecot keeps them in a dictionary it is configured with).
//! - **Change notification**: every change made through the store (a
//!   delivery, an expunge, flags, APPEND, COPY, MOVE) bumps the folder's
//!   counter ([`MailStore::watch`]); an IDLE session compares the counter
//!   every driver tick (200 ms) and syncs only when it moved.

pub(crate) mod folder;
pub(crate) mod keywords;
pub(crate) mod metadata;
pub(crate) mod modseq;
pub(crate) mod quota;
pub(crate) mod uidlist;

use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

pub(crate) use folder::Folder;
pub(crate) use quota::{Limits, Resource, Usage};

/// The IMAP hierarchy delimiter.
pub(crate) const DELIMITER: u8 = b'.';

/// The folders every account has, with their SPECIAL-USE attribute.
pub(crate) const SPECIAL: [(&str, &str); 5] = [
    ("Sent", "\\Sent"),
    ("Drafts", "\\Drafts"),
    ("Trash", "\\Trash"),
    ("Junk", "\\Junk"),
    ("Archive", "\\Archive"),
];

const SUBSCRIPTIONS: &str = "subscriptions";

/// Why a folder operation was refused.
#[derive(Debug)]
pub(crate) enum StoreError {
    /// Not a name this store accepts.
    BadName,
    /// No such folder.
    NoSuch,
    /// It exists already.
    Exists,
    /// Not allowed (INBOX, a folder with children).
    Refused(&'static str),
    Io(io::Error),
}

impl From<io::Error> for StoreError {
    fn from(e: io::Error) -> Self {
        StoreError::Io(e)
    }
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::BadName => f.write_str("invalid mailbox name"),
            StoreError::NoSuch => f.write_str("no such mailbox"),
            StoreError::Exists => f.write_str("mailbox exists"),
            StoreError::Refused(why) => f.write_str(why),
            StoreError::Io(e) => write!(f, "{e}"),
        }
    }
}

/// Every account's mail.
#[derive(Debug)]
pub(crate) struct MailStore {
    root: PathBuf,
    watchers: Mutex<HashMap<PathBuf, Arc<AtomicU64>>>,
}

/// Whether `name` (not INBOX) is a folder name the store accepts.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 200
        && !name.contains('/')
        && !name.bytes().any(|b| b < 0x20 || b == 0x7f)
        && name
            .split('.')
            .all(|level| !level.is_empty() && !level.starts_with('.'))
}

impl MailStore {
    /// Opens the tree under `root`, creating each account's INBOX, special
    /// folders and subscriptions.
    pub(crate) fn open(root: &Path, users: &[&str]) -> io::Result<Self> {
        let this = Self {
            root: root.to_path_buf(),
            watchers: Mutex::new(HashMap::new()),
        };
        for u in users {
            this.create_account(u)?;
            // What a crash left in a folder's tmp/ was never acknowledged
            // (APPEND, COPY, MOVE answer after the rename into cur/).
            for name in this.list(u)? {
                let tmp = this
                    .dir_of(u, &name)
                    .map_err(|_| io::Error::other("bad name"))?;
                if let Ok(rd) = fs::read_dir(tmp.join("tmp")) {
                    for e in rd.flatten() {
                        if e.file_type().is_ok_and(|t| t.is_file()) {
                            let _ = fs::remove_file(e.path());
                        }
                    }
                }
            }
        }
        Ok(this)
    }

    /// Creates what `user`'s account lacks of its INBOX, special folders
    /// and subscriptions (at the start, or for an account the config file
    /// gained while the server runs).
    pub(crate) fn create_account(&self, user: &str) -> io::Result<()> {
        Folder::new(self.user_root(user)).create(false)?;
        for (name, _) in SPECIAL {
            Folder::new(self.user_root(user).join(format!(".{name}"))).create(true)?;
        }
        let subs = self.user_root(user).join(SUBSCRIPTIONS);
        if !subs.exists() {
            let list: String = SPECIAL.iter().map(|(n, _)| format!("{n}\n")).collect();
            crate::maildir::write_atomic(&subs, list.as_bytes())?;
        }
        Ok(())
    }

    /// The Maildir of `user` (its INBOX).
    pub(crate) fn user_root(&self, user: &str) -> PathBuf {
        self.root.join(user)
    }

    /// The INBOX of `user`.
    pub(crate) fn inbox(&self, user: &str) -> Folder {
        Folder::new(self.user_root(user))
    }

    /// The directory of a folder name (INBOX in any case is the root).
    fn dir_of(&self, user: &str, name: &str) -> Result<PathBuf, StoreError> {
        if name.eq_ignore_ascii_case("INBOX") {
            return Ok(self.user_root(user));
        }
        if !valid_name(name) {
            return Err(StoreError::BadName);
        }
        Ok(self.user_root(user).join(format!(".{name}")))
    }

    /// An existing folder.
    pub(crate) fn folder(&self, user: &str, name: &str) -> Result<Folder, StoreError> {
        let dir = self.dir_of(user, name)?;
        if dir.join("cur").is_dir() {
            Ok(Folder::new(dir))
        } else {
            Err(StoreError::NoSuch)
        }
    }

    /// The bytes and messages of `user`, every folder together: what a
    /// quota's `STORAGE` and `MESSAGE` count (RFC 9208 §5.1, §5.2; a copy
    /// counts again, as in Dovecot, though it is a hard link). From the
    /// account's `maildirsize` ([`quota`]) when it has a usable one, else
    /// counted and the file written anew (with the limits it had, none
    /// for an account without a quota), so that the next ask reads it.
    pub(crate) fn usage(&self, user: &str) -> io::Result<Usage> {
        let root = self.user_root(user);
        let file = quota::read(&root)?;
        if let Some(s) = &file
            && s.sane()
        {
            return Ok(s.usage());
        }
        self.recount(user, &root, &file.map(|s| s.limits).unwrap_or_default())
    }

    /// The limit of `limits` (the account's quota) that adding `adding`
    /// would take `user` past, if any: the check SMTP's RCPT, IMAP's
    /// APPEND and COPY and the webmail's saves make before they store.
    /// Adding nothing never does. Reads the account's `maildirsize`, or
    /// counts every folder and writes the file anew when it cannot answer
    /// ([`quota::Sizes::answers`]): a check is one small read, not a walk
    /// through every message.
    pub(crate) fn exceeds(
        &self,
        user: &str,
        limits: &Limits,
        adding: Usage,
    ) -> io::Result<Option<Resource>> {
        if !limits.any() || adding == Usage::default() {
            return Ok(None);
        }
        let root = self.user_root(user);
        let used = match quota::read(&root)? {
            Some(s) if s.answers(limits, adding, std::time::SystemTime::now()) => s.usage(),
            _ => self.recount(user, &root, limits)?,
        };
        Ok(limits.passed_by(used, adding))
    }

    /// Counts `user`'s folders ([`MailStore::count`]) and writes the
    /// account's `maildirsize` (at `root`) anew with `limits` and the
    /// count. A file that cannot be written leaves the next check to count
    /// again.
    fn recount(&self, user: &str, root: &Path, limits: &Limits) -> io::Result<Usage> {
        // Written only when no change of the account overlapped the count
        // (`quota::Recount`): the next check counts again otherwise.
        let recount = quota::Recount::begin(root);
        let used = self.count(user)?;
        recount.write(limits, used);
        Ok(used)
    }

    /// The bytes and messages of every folder of `user`, counted (each
    /// folder synced, from memory when unchanged).
    fn count(&self, user: &str) -> io::Result<Usage> {
        let mut used = Usage::default();
        for name in self.list(user)? {
            // A folder deleted meanwhile holds nothing.
            let Ok(folder) = self.folder(user, &name) else {
                continue;
            };
            let (b, m) = folder.usage()?;
            used.bytes += b;
            used.messages += m;
        }
        Ok(used)
    }

    /// Every folder of `user`, INBOX first, then sorted.
    pub(crate) fn list(&self, user: &str) -> io::Result<Vec<String>> {
        let mut out = Vec::new();
        for e in fs::read_dir(self.user_root(user))? {
            let e = e?;
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(n) = name.strip_prefix('.')
                && valid_name(n)
                && e.path().join("cur").is_dir()
            {
                out.push(n.to_string());
            }
        }
        out.sort();
        out.insert(0, "INBOX".to_string());
        Ok(out)
    }

    /// The SPECIAL-USE attribute of a folder, without its backslash
    /// (`Sent` for `\Sent`).
    pub(crate) fn special_use(name: &str) -> Option<&'static str> {
        SPECIAL
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, a)| a.trim_start_matches('\\'))
    }

    /// Creates a folder.
    pub(crate) fn create(&self, user: &str, name: &str) -> Result<(), StoreError> {
        if name.eq_ignore_ascii_case("INBOX") {
            return Err(StoreError::Exists);
        }
        let dir = self.dir_of(user, name)?;
        if dir.exists() {
            return Err(StoreError::Exists);
        }
        Folder::new(dir).create(true)?;
        crate::maildir::sync_dir(&self.user_root(user))?;
        Ok(())
    }

    /// Deletes a folder and its messages. INBOX and folders with children
    /// are refused.
    pub(crate) fn delete(&self, user: &str, name: &str) -> Result<(), StoreError> {
        if name.eq_ignore_ascii_case("INBOX") {
            return Err(StoreError::Refused("INBOX cannot be deleted"));
        }
        let folder = self.folder(user, name)?;
        let prefix = format!("{name}.");
        if self.list(user)?.iter().any(|n| n.starts_with(&prefix)) {
            return Err(StoreError::Refused("the mailbox has children"));
        }
        // What the folder held, for the usage; a folder that cannot be
        // read is still deleted (as before there was a usage file), and
        // the usage counted again at the next check.
        let root = self.user_root(user);
        let mut change = quota::Change::new(root.as_path());
        let held = folder.usage().ok();
        let dir = folder.dir;
        // Out of sight at once (a name starting with two dots is no
        // folder), then removed.
        let gone = self
            .user_root(user)
            .join(format!("..deleted-{}", crate::maildir::queue_id()));
        fs::rename(&dir, &gone)?;
        // Out of sight, out of the usage (recorded when `change` is
        // dropped, whatever happens next).
        match held {
            Some((bytes, messages)) => change.add_counts(-(bytes as i64), -(messages as i64)),
            None => change.forget(),
        }
        crate::maildir::sync_dir(&root)?;
        drop(change);
        fs::remove_dir_all(&gone)?;
        self.notify(&dir);
        Ok(())
    }

    /// Renames a folder and its children. Renaming INBOX is refused.
    pub(crate) fn rename(&self, user: &str, from: &str, to: &str) -> Result<(), StoreError> {
        if from.eq_ignore_ascii_case("INBOX") || to.eq_ignore_ascii_case("INBOX") {
            return Err(StoreError::Refused("renaming INBOX is not supported"));
        }
        let src = self.folder(user, from)?.dir;
        let dst = self.dir_of(user, to)?;
        if dst.exists() {
            return Err(StoreError::Exists);
        }
        let prefix = format!("{from}.");
        let children: Vec<String> = self
            .list(user)?
            .into_iter()
            .filter(|n| n.starts_with(&prefix))
            .collect();
        fs::rename(&src, &dst)?;
        for c in children {
            let new = format!("{to}.{}", &c[prefix.len()..]);
            fs::rename(self.dir_of(user, &c)?, self.dir_of(user, &new)?)?;
        }
        crate::maildir::sync_dir(&self.user_root(user))?;
        self.notify(&src);
        Ok(())
    }

    /// The subscribed folder names.
    pub(crate) fn subscriptions(&self, user: &str) -> io::Result<Vec<String>> {
        match fs::read_to_string(self.user_root(user).join(SUBSCRIPTIONS)) {
            // Dovecot 2.3's format starts with a "V\t2" line and an empty
            // one; the old one is a name a line. Read both.
            Ok(t) => Ok(t
                .lines()
                .filter(|l| !l.is_empty() && !l.starts_with("V\t"))
                .map(|l| l.replace('\t', "."))
                .collect()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    /// Subscribes (`on`) or unsubscribes a name.
    pub(crate) fn subscribe(&self, user: &str, name: &str, on: bool) -> Result<(), StoreError> {
        if !name.eq_ignore_ascii_case("INBOX") && !valid_name(name) {
            return Err(StoreError::BadName);
        }
        let path = self.user_root(user).join(SUBSCRIPTIONS);
        // The folder's lock is not needed: one writer per account file is
        // ensured by the INBOX lock.
        let _lock = self.inbox(user).lock()?;
        let mut subs = self.subscriptions(user)?;
        subs.retain(|n| n != name);
        if on {
            subs.push(name.to_string());
        }
        let text: String = subs.iter().map(|n| format!("{n}\n")).collect();
        crate::maildir::write_atomic(&path, text.as_bytes())?;
        Ok(())
    }

    /// The change counter of a folder directory: it grows whenever a
    /// message is delivered to, added to, changed in or removed from it
    /// through the store.
    pub(crate) fn watch(&self, dir: &Path) -> Arc<AtomicU64> {
        self.watchers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(dir.to_path_buf())
            .or_default()
            .clone()
    }

    /// After a delivery into `dir/new` (made outside [`Folder`]): the
    /// folder's snapshot in memory is dropped ([`folder::touched`]) and the
    /// sessions watching it are told.
    pub(crate) fn delivered(&self, dir: &Path) {
        folder::touched(dir);
        self.notify(dir);
    }

    /// Tells the sessions watching `dir` that it changed.
    pub(crate) fn notify(&self, dir: &Path) {
        let w = self
            .watchers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(dir)
            .cloned();
        if let Some(w) = w {
            w.fetch_add(1, Ordering::SeqCst);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether storing `bytes` more (one message; nothing for 0) would
    /// pass a storage quota of `limit`.
    fn over(s: &MailStore, limit: u64, bytes: u64) -> bool {
        let limits = Limits {
            storage: Some(limit),
            messages: None,
        };
        let adding = Usage {
            bytes,
            messages: u64::from(bytes > 0),
        };
        s.exceeds("u", &limits, adding).unwrap().is_some()
    }

    fn bytes(s: &MailStore) -> u64 {
        s.usage("u").unwrap().bytes
    }

    fn store() -> (MailStore, PathBuf) {
        let d = std::env::temp_dir().join(format!("mailstore-{}", crate::maildir::queue_id()));
        (MailStore::open(&d, &["u"]).unwrap(), d)
    }

    /// Every folder's messages count, by their `,S=` size or else their
    /// file's.
    #[test]
    fn usage_of_every_folder() {
        let (s, d) = store();
        fs::write(d.join("u/new/1.a,S=100,W=102"), b"x").unwrap();
        fs::write(d.join("u/.Archive/cur/2.b,S=50:2,S"), b"y").unwrap();
        fs::write(d.join("u/.Junk/new/3.c"), b"seven b").unwrap();
        assert_eq!(bytes(&s), 157);
        // Counted once, then read from the file (without limits): a
        // message put in behind the store's back is not seen.
        assert_eq!(quota_file(&d), "\n157 3\n");
        fs::write(d.join("u/new/4.d,S=1000,W=1000"), b"z").unwrap();
        assert_eq!(bytes(&s), 157);
        fs::remove_file(d.join("u/new/4.d,S=1000,W=1000")).unwrap();
        assert!(!over(&s, 160, 3));
        assert!(over(&s, 160, 4));
        assert!(!over(&s, 100, 0));
        fs::remove_dir_all(d).unwrap();
    }

    /// A message of `size` bytes in `folder`'s `tmp/`, added through the
    /// store (as APPEND adds it); its base name.
    fn append(f: &Folder, size: u64) -> String {
        let base = folder::new_base("t", size, size);
        fs::write(f.tmp_path(&base), vec![b'x'; size as usize]).unwrap();
        f.add(&[(base.clone(), Default::default())]).unwrap();
        base
    }

    fn quota_file(d: &Path) -> String {
        fs::read_to_string(d.join("u").join(quota::FILE)).unwrap()
    }

    /// Once a quota check has counted the folders, every change made
    /// through the store is a line of `maildirsize`, and the checks read
    /// that file only: a message put in behind the store's back shows
    /// when the file is counted again (a new limit here).
    #[test]
    fn maildirsize_follows_the_changes_made_through_the_store() {
        let (s, d) = store();
        fs::write(d.join("u/new/1.a,S=100,W=102"), b"x").unwrap();
        assert!(!over(&s, 1000, 1));
        assert_eq!(quota_file(&d), "1000S\n100 1\n");
        // APPEND and a COPY (an add from tmp/): counted.
        let inbox = s.inbox("u");
        append(&inbox, 200);
        let archive = s.folder("u", "Archive").unwrap();
        append(&archive, 300);
        assert_eq!(bytes(&s), 600);
        // A MOVE counts nothing: the message was counted where it was.
        let snap = inbox.sync(false).unwrap();
        let moved = snap
            .messages
            .iter()
            .find(|m| m.size() == Some(200))
            .unwrap();
        let base = folder::new_base("t", 200, 200);
        archive
            .move_in(&[(moved.path(&inbox.dir), base, Default::default())])
            .unwrap();
        // Its source's expunge finds it gone: nothing to count either.
        inbox.expunge(&[moved]).unwrap();
        assert_eq!(bytes(&s), 600);
        // An expunge of a message there: taken off.
        let first = inbox.sync(false).unwrap().messages[0].clone();
        inbox.expunge(&[&first]).unwrap();
        assert_eq!(bytes(&s), 500);
        assert!(over(&s, 1000, 501));
        assert!(!over(&s, 1000, 500));
        // Deleting a folder takes its messages off.
        s.create("u", "Work").unwrap();
        append(&s.folder("u", "Work").unwrap(), 50);
        assert_eq!(bytes(&s), 550);
        s.delete("u", "Work").unwrap();
        assert_eq!(bytes(&s), 500);
        assert_eq!(
            quota_file(&d),
            "1000S\n100 1\n200 1\n300 1\n-100 -1\n50 1\n-50 -1\n"
        );
        // Behind the store's back: not seen until the file is counted
        // again, here for a check against another limit.
        fs::write(d.join("u/new/2.b,S=7,W=7"), b"x").unwrap();
        assert_eq!(bytes(&s), 500);
        assert!(!over(&s, 2000, 1));
        assert_eq!(quota_file(&d), "2000S\n507 3\n");
        assert_eq!(bytes(&s), 507);
        fs::remove_dir_all(d).unwrap();
    }

    /// The file is counted again when it has grown to 5120 bytes, when it
    /// is damaged, and when it says the account is full and is older than
    /// 15 minutes; a fresh one that says so is believed.
    #[test]
    fn maildirsize_is_counted_again() {
        let (s, d) = store();
        let path = d.join("u").join(quota::FILE);
        fs::write(d.join("u/new/1.a,S=100,W=102"), b"x").unwrap();
        // Long: 5120 bytes of changes summing to nothing.
        let long = format!("1000S\n{}", "1 1\n-1 -1\n".repeat(512));
        assert!(long.len() >= quota::RECOUNT_LEN as usize);
        fs::write(&path, long).unwrap();
        assert!(!over(&s, 1000, 1));
        assert_eq!(quota_file(&d), "1000S\n100 1\n");
        // Damaged (a line cut short).
        fs::write(&path, "1000S\n100 1\n5").unwrap();
        assert!(!over(&s, 1000, 1));
        assert_eq!(quota_file(&d), "1000S\n100 1\n");
        // Full by the file's word: believed while fresh...
        fs::write(&path, "1000S\n999 1\n").unwrap();
        assert!(over(&s, 1000, 2));
        // ...and counted again once it is old.
        let old = std::time::SystemTime::now() - quota::RECOUNT_AGE * 2;
        fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(old)
            .unwrap();
        assert!(!over(&s, 1000, 2));
        assert_eq!(quota_file(&d), "1000S\n100 1\n");
        fs::remove_dir_all(d).unwrap();
    }

    /// A store whose account `u` has a `maildirsize` (a storage quota
    /// nothing reaches), with the account's root and the limits.
    fn counted_store() -> (MailStore, PathBuf, PathBuf, Limits) {
        let (s, d) = store();
        let limits = Limits {
            storage: Some(1 << 40),
            messages: None,
        };
        let root = s.user_root("u");
        s.recount("u", &root, &limits).unwrap();
        (s, d, root, limits)
    }

    /// A recount that a change overlaps does not write its file (the race
    /// Maildir++ leaves open: a change recorded in the old file while the
    /// new one is counted would be lost, one counted and then recorded
    /// would count twice); one that none overlaps does.
    #[test]
    fn a_recount_overlapped_by_a_change_leaves_the_file() {
        let (s, d, root, limits) = counted_store();
        let inbox = s.inbox("u");
        let truth = |s: &MailStore| s.count("u").unwrap();
        let sums = || quota::read(&root).unwrap().expect("the file").usage();
        // An APPEND between the count and the write: recorded in the old
        // file, which stays.
        let recount = quota::Recount::begin(&root);
        let counted = truth(&s);
        append(&inbox, 50);
        assert!(!recount.write(&limits, counted));
        assert_eq!(sums(), truth(&s));
        // A change begun before the count and finished after the write.
        let mut change = quota::Change::new(root.as_path());
        let recount = quota::Recount::begin(&root);
        let counted = truth(&s);
        assert!(!recount.write(&limits, counted));
        change.add(7);
        drop(change);
        assert_eq!(sums().bytes, truth(&s).bytes + 7);
        // None: written.
        let recount = quota::Recount::begin(&root);
        let counted = truth(&s);
        assert!(recount.write(&limits, counted));
        assert_eq!(sums(), truth(&s));
        fs::remove_dir_all(d).unwrap();
    }

    /// APPENDs on one thread and recounts on another: no deadlock (a
    /// change holds its folder's lock, a recount takes the folders' locks
    /// one at a time and never a change's), and the file's sums agree with
    /// a count at the end.
    #[test]
    fn recounts_beside_appends() {
        use std::sync::atomic::{AtomicBool, Ordering};
        let (s, d, root, limits) = counted_store();
        let done = AtomicBool::new(false);
        std::thread::scope(|scope| {
            scope.spawn(|| {
                let inbox = s.inbox("u");
                for i in 0..100 {
                    append(&inbox, 10 + i);
                }
                done.store(true, Ordering::SeqCst);
            });
            scope.spawn(|| {
                while !done.load(Ordering::SeqCst) {
                    s.recount("u", &root, &limits).unwrap();
                }
            });
        });
        let file = quota::read(&root).unwrap().expect("the file");
        assert_eq!(file.usage(), s.count("u").unwrap());
        assert_eq!(file.usage().messages, 100);
        fs::remove_dir_all(d).unwrap();
    }

    /// A message quota (RFC 9208 §5.2, Maildir++'s `C`) counts messages
    /// the same way, in the same file, beside the storage one.
    #[test]
    fn message_quota_in_maildirsize() {
        let (s, d) = store();
        fs::write(d.join("u/new/1.a,S=100,W=102"), b"x").unwrap();
        let inbox = s.inbox("u");
        append(&inbox, 10);
        let both = Limits {
            storage: Some(1000),
            messages: Some(3),
        };
        let one = |bytes| Usage { bytes, messages: 1 };
        assert_eq!(s.exceeds("u", &both, one(1)).unwrap(), None);
        assert_eq!(quota_file(&d), "1000S,3C\n110 2\n");
        append(&inbox, 10);
        assert_eq!(
            s.exceeds("u", &both, one(1)).unwrap(),
            Some(Resource::Messages)
        );
        assert_eq!(
            s.exceeds("u", &both, one(900)).unwrap(),
            Some(Resource::Storage)
        );
        assert_eq!(
            s.usage("u").unwrap(),
            Usage {
                bytes: 120,
                messages: 3
            }
        );
        // A message limit alone: the file names only that.
        let count = Limits {
            storage: None,
            messages: Some(10),
        };
        assert_eq!(s.exceeds("u", &count, one(1)).unwrap(), None);
        assert_eq!(quota_file(&d), "10C\n120 3\n");
        fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn layout_names_and_folders() {
        let (s, d) = store();
        assert_eq!(
            s.list("u").unwrap(),
            ["INBOX", "Archive", "Drafts", "Junk", "Sent", "Trash"]
        );
        assert!(d.join("u/.Sent/maildirfolder").exists());
        assert_eq!(MailStore::special_use("Trash"), Some("Trash"));
        for bad in ["", "a/b", ".a", "a..b", "a.", "x\ny"] {
            assert!(
                matches!(s.create("u", bad), Err(StoreError::BadName)),
                "{bad:?}"
            );
        }
        s.create("u", "Work").unwrap();
        s.create("u", "Work.2024").unwrap();
        assert!(matches!(s.create("u", "Work"), Err(StoreError::Exists)));
        assert!(matches!(s.delete("u", "Work"), Err(StoreError::Refused(_))));
        s.rename("u", "Work", "Jobs").unwrap();
        assert!(s.folder("u", "Jobs.2024").is_ok());
        assert!(matches!(s.folder("u", "Work"), Err(StoreError::NoSuch)));
        s.delete("u", "Jobs.2024").unwrap();
        s.delete("u", "Jobs").unwrap();
        assert!(matches!(
            s.delete("u", "INBOX"),
            Err(StoreError::Refused(_))
        ));
        assert_eq!(s.list("u").unwrap().len(), 6);
        assert!(s.subscriptions("u").unwrap().contains(&"Sent".to_string()));
        s.subscribe("u", "Sent", false).unwrap();
        s.subscribe("u", "INBOX", true).unwrap();
        assert_eq!(
            s.subscriptions("u").unwrap(),
            ["Drafts", "Trash", "Junk", "Archive", "INBOX"]
        );
        fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn open_cleans_folder_tmp() {
        let (s, d) = store();
        let junk = d.join("u/.Sent/tmp/partial");
        fs::write(&junk, b"half an APPEND").unwrap();
        drop(s);
        MailStore::open(&d, &["u"]).unwrap();
        assert!(!junk.exists());
        fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn watchers_count_changes() {
        let (s, d) = store();
        let inbox = s.inbox("u").dir;
        let w = s.watch(&inbox);
        s.notify(&inbox);
        s.notify(&inbox);
        assert_eq!(w.load(Ordering::SeqCst), 2);
        fs::remove_dir_all(d).unwrap();
    }
}

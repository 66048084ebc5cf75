//! One Maildir folder (`tmp/`, `new/`, `cur/`) with Dovecot's control files:
//! UIDs, flags in file names, and the lock that serializes every change of
//! the UID list.
//!
//! # Locking
//!
//! Every operation that reads and writes `dovecot-uidlist` holds
//! `dovecot-uidlist.lock`, a dot-lock created with `O_EXCL` (the name
//! Dovecot uses): it excludes the threads of this process and other
//! processes alike. Its content is `PID:HOST`; a lock whose process no
//! longer exists (a crash) is removed, and so is one older than two
//! minutes, as Dovecot does.
//!
//! # Crash safety
//!
//! - A new `dovecot-uidlist` or `dovecot-keywords` is written to a
//!   temporary file, fsynced, renamed over the old one and the directory
//!   fsynced: after a crash the file is the old one or the new one, whole.
//! - UIDs are given only under the lock, from the `N` (next UID) of the
//!   file just read, and the file is written before the lock is released,
//!   so no two processes or threads give the same UID. A crash after a
//!   message file was renamed into `cur/` but before the list was written
//!   leaves a file without a UID: the next sync gives it one. A crash after
//!   the list was written but before a file was removed leaves a file whose
//!   record is gone: it gets a new, higher UID. Either way nothing
//!   acknowledged is lost and no UID goes back.
//! - A message file is complete and fsynced in `tmp/` before it is renamed
//!   into `cur/` or `new/`; the directory is fsynced before the client is
//!   told (APPENDUID, COPYUID, 250).
//! - A new keyword gets its letter in `dovecot-keywords` (written as above)
//!   before any file name uses that letter.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mailwire::imap::kit::mailbox::{Flags, SystemFlags};

use super::keywords::Keywords;
use super::modseq::ModSeqs;
use super::quota::Change;
use super::uidlist::UidList;
use crate::maildir::{create_new, sync_dir, unique_name, write_atomic};

const UIDLIST: &str = "dovecot-uidlist";
const KEYWORDS: &str = "dovecot-keywords";
const LOCK: &str = "dovecot-uidlist.lock";
const MODSEQ: &str = "mailwire-modseq";
/// A lock older than this is stale (Dovecot's default for this lock).
const STALE: Duration = Duration::from_secs(120);
/// How long to wait for the lock before failing the operation.
const LOCK_WAIT: Duration = Duration::from_secs(30);

/// The system flags and their Maildir info letters (the Maildir spec).
const LETTERS: [(char, SystemFlags); 5] = [
    ('D', SystemFlags::DRAFT),
    ('F', SystemFlags::FLAGGED),
    ('R', SystemFlags::ANSWERED),
    ('S', SystemFlags::SEEN),
    ('T', SystemFlags::DELETED),
];

/// One message file as a sync found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MsgFile {
    pub(crate) uid: u32,
    /// The name before `:2,`.
    pub(crate) base: String,
    /// The whole current file name.
    pub(crate) name: String,
    /// In `new/` (else `cur/`).
    pub(crate) in_new: bool,
    pub(crate) flags: Flags,
    /// Info letters with no IMAP meaning (`P` passed ...), kept as found.
    pub(crate) other: String,
    /// This sync moved it from `new/` to `cur/`: `\Recent` for the caller.
    pub(crate) recent: bool,
    /// Its mod-sequence (RFC 7162).
    pub(crate) modseq: u64,
    /// When it was saved in this folder (RFC 8514 §3), in seconds since
    /// 1970 UTC: kept in the `mailwire-modseq` file ([`super::modseq`]).
    pub(crate) save_date: i64,
    /// Its EMAILID (RFC 8474 §5.1): [`email_id_of`] its base name. Shared,
    /// not copied, when a cached snapshot is cloned for a sync.
    pub(crate) email_id: Arc<str>,
}

impl MsgFile {
    /// The flag letters of its name (after `:2,`).
    fn info(&self) -> &str {
        self.name.split_once(":2,").map_or("", |(_, i)| i)
    }

    /// Where the file was.
    pub(crate) fn path(&self, dir: &Path) -> PathBuf {
        dir.join(if self.in_new { "new" } else { "cur" })
            .join(&self.name)
    }

    /// The `S=` (file size) field of the name.
    pub(crate) fn size(&self) -> Option<u64> {
        name_field(&self.base, "S=")
    }

    /// The `W=` (size with CRLF line ends) field of the name.
    pub(crate) fn wire_size(&self) -> Option<u64> {
        name_field(&self.base, "W=")
    }

    /// A new base name (from `host`) for a copy of this message in
    /// another folder (COPY, MOVE): its sizes from this name, else from
    /// the file at `path`, and this message's EMAILID in an `E=` field,
    /// which the copy keeps (RFC 8474 §5.1).
    pub(crate) fn copy_base(&self, path: &Path, host: &str) -> io::Result<String> {
        let size = match self.size() {
            Some(s) => s,
            None => fs::metadata(path)?.len(),
        };
        let wire = match self.wire_size() {
            Some(w) => w,
            None => mailwire::pop3::WireSize::of(&fs::read(path)?),
        };
        Ok(format!(
            "{},E={}",
            new_base(host, size, wire),
            self.email_id
        ))
    }
}

/// The EMAILID (RFC 8474 §5.1) of the message with this base name: the
/// `E=` field a copy's name carries (the EMAILID of the message it was
/// copied or moved from), else `M` and 24 hex digits of the name's
/// SHA-256: the same for the file's whole life in the folder (a flag
/// change keeps the base name), known from the name alone (no file of
/// the store's keeps it), and telling nothing of the name (§11).
pub(crate) fn email_id_of(base: &str) -> String {
    let given = base
        .split(',')
        .skip(1)
        .find_map(|f| f.strip_prefix("E="))
        .filter(|id| mailwire::imap::is_object_id(id.as_bytes()));
    match given {
        Some(id) => id.to_string(),
        None => hashed_id('M', base),
    }
}

/// The THREADID (RFC 8474 §5.2) of a message whose header names `root`
/// as the first message of its thread (`kit::thread::thread_root`) and
/// whose EMAILID is `email_id`: `T` and 24 hex digits of the SHA-256 of
/// `<root>`, so the messages of one conversation share it in every folder
/// and account, with nothing stored; a message that names no message
/// (no Message-ID, References or In-Reply-To) is a thread of its own,
/// hashed from its EMAILID, so its copies (one EMAILID) share one
/// THREADID as §5.2 requires. A message's header never changes, so
/// neither does its THREADID; the `T` keeps THREADIDs apart from EMAILIDs
/// (`M`), which §5.2 asks for.
pub(crate) fn thread_id_of(root: Option<&str>, email_id: &str) -> String {
    match root {
        Some(root) => hashed_id('T', &format!("<{root}>")),
        None => hashed_id('T', email_id),
    }
}

/// The MAILBOXID (RFC 8474 §4) of a folder whose `dovecot-uidlist` has
/// this GUID: `F` and the GUID (32 hex digits, as the store and Dovecot
/// write it), or `F` and a hash of it when it would not make an objectid.
pub(crate) fn mailbox_id_of(guid: &str) -> String {
    let id = format!("F{guid}");
    if mailwire::imap::is_object_id(id.as_bytes()) {
        id
    } else {
        hashed_id('F', guid)
    }
}

/// `prefix` and 24 hex digits of the SHA-256 of `text`: an objectid
/// (RFC 8474 §7) that says nothing of `text`.
fn hashed_id(prefix: char, text: &str) -> String {
    use sha2::{Digest as _, Sha256};
    use std::fmt::Write as _;
    let digest = Sha256::digest(text.as_bytes());
    let mut id = String::with_capacity(25);
    id.push(prefix);
    for b in &digest[..12] {
        let _ = write!(id, "{b:02x}");
    }
    id
}

/// The time now in seconds since 1970 UTC.
fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// The status-change time of the file at `path` (its last rename or
/// link), in seconds since 1970 UTC; now when it cannot be read.
fn ctime(path: &Path) -> i64 {
    use std::os::unix::fs::MetadataExt as _;
    fs::metadata(path).map_or_else(|_| unix_now(), |md| md.ctime())
}

/// The length of the file at `path`, `None` when it cannot be read.
fn file_len(path: &Path) -> Option<u64> {
    fs::metadata(path).ok().map(|md| md.len())
}

/// A `,K=value` field of a Maildir base name.
pub(crate) fn name_field(base: &str, key: &str) -> Option<u64> {
    base.split(',')
        .skip(1)
        .find_map(|f| f.strip_prefix(key))
        .and_then(|v| v.parse().ok())
}

/// The order new files get their UIDs in: the delivery time and counter
/// of a `SECS.M<micros>P<pid>Q<n>.host` name (numbers compared as numbers,
/// so that `M99` comes before `M100`), then the name.
fn delivery_order(base: &str) -> (u64, u64, u64, String) {
    let mut parts = base.splitn(3, '.');
    let secs = parts
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or(u64::MAX);
    let unique = parts.next().unwrap_or("");
    let field = |key: char| -> u64 {
        unique
            .split_once(key)
            .map(|(_, r)| {
                r.chars()
                    .take_while(char::is_ascii_digit)
                    .collect::<String>()
            })
            .and_then(|d| d.parse().ok())
            .unwrap_or(0)
    };
    (secs, field('M'), field('Q'), base.to_string())
}

/// A fresh base name carrying the sizes: `TIME.MmicrosPpidQn.host,S=..,W=..`.
pub(crate) fn new_base(host: &str, size: u64, wire: u64) -> String {
    format!("{},S={size},W={wire}", unique_name(host))
}

/// What a sync saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Snapshot {
    pub(crate) uid_validity: u32,
    /// The MAILBOXID (RFC 8474 §4): `F` and the GUID of the folder's
    /// `dovecot-uidlist` (Dovecot's mailbox GUID), which goes with the
    /// folder through RENAME and is new for a folder made again.
    pub(crate) mailbox_id: String,
    pub(crate) uid_next: u32,
    /// By UID, ascending.
    pub(crate) messages: Vec<MsgFile>,
    /// Whether a new keyword can still be stored.
    pub(crate) keyword_room: bool,
    /// HIGHESTMODSEQ.
    pub(crate) highest_modseq: u64,
    /// `(uid, modseq)` of the expunges remembered, by UID (see
    /// [`super::modseq`]).
    pub(crate) expunged: Vec<(u32, u64)>,
    /// Expunges at or below this mod-sequence are forgotten.
    pub(crate) expunge_horizon: u64,
}

/// The held lock; dropping it releases it.
#[derive(Debug)]
pub(crate) struct Lock {
    path: PathBuf,
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// A UIDVALIDITY for a new folder: the time, and above any given before by
/// this process (a folder deleted and created again within a second gets a
/// different one).
fn fresh_uid_validity() -> u32 {
    static LAST: AtomicU32 = AtomicU32::new(0);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as u32)
        .unwrap_or(1)
        .max(1);
    let mut cur = LAST.load(Ordering::SeqCst);
    loop {
        let next = now.max(cur.saturating_add(1));
        match LAST.compare_exchange(cur, next, Ordering::SeqCst, Ordering::SeqCst) {
            Ok(_) => return next,
            Err(c) => cur = c,
        }
    }
}

/// The flags of an info part (`:2,` letters).
pub(crate) fn parse_info(info: &str, kw: &Keywords) -> (Flags, String) {
    let mut flags = Flags::default();
    let mut other = String::new();
    for c in info.chars() {
        if let Some((_, bit)) = LETTERS.iter().find(|(l, _)| *l == c) {
            flags.system.insert(*bit);
        } else if c.is_ascii_lowercase() {
            match kw.name(c) {
                Some(name) => {
                    flags.insert_keyword(name);
                }
                // A letter without a name: keep it on the file.
                None => other.push(c),
            }
        } else if c.is_ascii_graphic() {
            other.push(c);
        }
    }
    (flags, other)
}

/// `disk` with the change from `seen` to `want` made to it: the flags
/// added and removed, each on its own.
fn rebase(disk: &Flags, seen: &Flags, want: &Flags) -> Flags {
    let mut out = disk.clone();
    for (_, bit) in LETTERS {
        match (seen.system.contains(bit), want.system.contains(bit)) {
            (false, true) => out.system.insert(bit),
            (true, false) => out.system.remove(bit),
            _ => {}
        }
    }
    for k in want.keywords() {
        if !seen.has_keyword(k) {
            out.insert_keyword(k);
        }
    }
    for k in seen.keywords() {
        if !want.has_keyword(k) {
            out.remove_keyword(k);
        }
    }
    out
}

/// The info letters for `flags`, in ASCII order as the Maildir spec wants;
/// keywords get letters (the table may grow); keywords past the 26th are
/// left out. The bool says whether the table changed.
fn format_info(flags: &Flags, other: &str, kw: &mut Keywords) -> (String, bool) {
    let mut letters: Vec<char> = other.chars().collect();
    for (l, bit) in LETTERS {
        if flags.system.contains(bit) {
            letters.push(l);
        }
    }
    let mut changed = false;
    for k in flags.keywords() {
        if let Some((l, new)) = kw.letter_or_assign(k) {
            letters.push(l);
            changed |= new;
        }
    }
    letters.sort_unstable();
    letters.dedup();
    (letters.into_iter().collect(), changed)
}

/// A Maildir folder.
#[derive(Debug, Clone)]
pub(crate) struct Folder {
    pub(crate) dir: PathBuf,
}

impl Folder {
    pub(crate) fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    /// Creates `tmp/`, `new/` and `cur/` (and the `maildirfolder` marker of
    /// a Maildir++ subfolder).
    pub(crate) fn create(&self, subfolder: bool) -> io::Result<()> {
        for sub in ["tmp", "new", "cur"] {
            fs::create_dir_all(self.dir.join(sub))?;
        }
        if subfolder {
            let marker = self.dir.join("maildirfolder");
            if !marker.exists() {
                fs::write(marker, b"")?;
            }
        }
        Ok(())
    }

    /// Takes the folder's lock, waiting for another holder.
    pub(crate) fn lock(&self) -> io::Result<Lock> {
        let path = self.dir.join(LOCK);
        let deadline = Instant::now() + LOCK_WAIT;
        let mut wait = Duration::from_micros(200);
        loop {
            match create_new(&path) {
                Ok(mut f) => {
                    let host = crate::maildir::unique_name("h");
                    let _ = write!(f, "{}:{}", std::process::id(), host);
                    return Ok(Lock { path });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    if stale(&path) {
                        let _ = fs::remove_file(&path);
                        continue;
                    }
                    if Instant::now() >= deadline {
                        return Err(io::Error::new(
                            io::ErrorKind::TimedOut,
                            format!("{}: lock held too long", path.display()),
                        ));
                    }
                    std::thread::sleep(wait);
                    wait = (wait * 2).min(Duration::from_millis(10));
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn read_uidlist(&self) -> io::Result<UidList> {
        match fs::read_to_string(self.dir.join(UIDLIST)) {
            Ok(t) => UidList::parse(&t)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(UidList::new(
                fresh_uid_validity(),
                crate::smtp_session::random_hex(16),
            )),
            Err(e) => Err(e),
        }
    }

    fn write_uidlist(&self, list: &UidList) -> io::Result<()> {
        write_atomic(&self.dir.join(UIDLIST), list.format().as_bytes())
    }

    fn read_keywords(&self) -> io::Result<Keywords> {
        match fs::read_to_string(self.dir.join(KEYWORDS)) {
            Ok(t) => Ok(Keywords::parse(&t)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Keywords::default()),
            Err(e) => Err(e),
        }
    }

    fn read_modseqs(&self) -> io::Result<ModSeqs> {
        match fs::read_to_string(self.dir.join(MODSEQ)) {
            Ok(t) => Ok(ModSeqs::parse(&t)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(ModSeqs::default()),
            Err(e) => Err(e),
        }
    }

    fn write_modseqs(&self, m: &ModSeqs) -> io::Result<()> {
        write_atomic(&self.dir.join(MODSEQ), m.format().as_bytes())
    }

    fn write_keywords(&self, kw: &Keywords) -> io::Result<()> {
        write_atomic(&self.dir.join(KEYWORDS), kw.format().as_bytes())
    }

    /// The message files of `new/` then `cur/`: base name to (in new/, name).
    /// `new/` is read first so that a file moved to `cur/` meanwhile is
    /// still seen.
    fn scan(&self, expect: usize) -> io::Result<Found> {
        let mut found = HashMap::with_capacity(expect);
        for (sub, in_new) in [("new", true), ("cur", false)] {
            let rd = match fs::read_dir(self.dir.join(sub)) {
                Ok(rd) => rd,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            for e in rd {
                let e = e?;
                let name = e
                    .file_name()
                    .into_string()
                    .unwrap_or_else(|n| n.to_string_lossy().into_owned());
                if name.starts_with('.') {
                    continue;
                }
                let base = name.split(":2,").next().unwrap_or(&name).to_string();
                found.insert(base, (in_new, name, false));
            }
        }
        Ok(found)
    }

    /// Brings the UID list up to date with the files: new files get UIDs
    /// (in name order, which starts with the delivery time), files gone
    /// lose their record; with `take_recent`, files in `new/` move to
    /// `cur/` and are `\Recent` for the caller (an IMAP session; POP3 and
    /// STATUS leave them). Returns every message.
    pub(crate) fn sync(&self, take_recent: bool) -> io::Result<Snapshot> {
        let _lock = self.lock()?;
        let key = self.state_key();
        let epoch = match cached_snapshot(&self.dir, key.as_ref(), take_recent) {
            Ok(snap) => return Ok(snap),
            Err(epoch) => epoch,
        };
        let snap = self.sync_locked(take_recent)?;
        // The key after our own writes: unchanged since, the next sync
        // can answer from memory.
        remember_owned(&self.dir, epoch, self.state_key(), snap.clone());
        Ok(snap)
    }

    /// What identifies the folder's state on disk: the control files'
    /// and directories' modification times, sizes and inodes, and the
    /// newest of those times. `None` when a time cannot be read.
    fn state_key(&self) -> Option<StateKey> {
        use std::os::unix::fs::MetadataExt as _;
        let mut parts = Vec::with_capacity(5);
        let mut newest = UNIX_EPOCH;
        for name in [UIDLIST, MODSEQ, KEYWORDS, "new", "cur"] {
            match fs::metadata(self.dir.join(name)) {
                Ok(md) => {
                    let mtime = md.modified().ok()?;
                    newest = newest.max(mtime);
                    let nanos = mtime.duration_since(UNIX_EPOCH).ok()?.as_nanos();
                    parts.push((nanos, md.len(), md.ino()));
                }
                Err(_) => parts.push((0, 0, 0)),
            }
        }
        Some(StateKey { parts, newest })
    }

    /// Before a change of our own, under the lock: the cached snapshot,
    /// taken out of the cache, when it still describes the folder; the
    /// change then updates it ([`Self::own_change_end`]) instead of the
    /// next sync reading every file name again.
    fn own_change_begin(&self) -> Option<(u64, Snapshot)> {
        let key = self.state_key();
        let mut cache = snapshots().lock().unwrap_or_else(|e| e.into_inner());
        let epoch = cache.epoch(&self.dir);
        let c = cache.entries.remove(&self.dir)?;
        (key.as_ref().is_some_and(|k| c.answers(k))).then_some((epoch, c.snap))
    }

    /// After a change of our own, still under the lock: the updated
    /// snapshot under the folder's new state key.
    fn own_change_end(&self, (epoch, snap): (u64, Snapshot)) {
        remember_owned(&self.dir, epoch, self.state_key(), snap);
    }

    fn sync_locked(&self, take_recent: bool) -> io::Result<Snapshot> {
        let mut list = self.read_uidlist()?;
        let fresh_list = !self.dir.join(UIDLIST).exists();
        let kw = self.read_keywords()?;
        let mut found = self.scan(list.records.len())?;
        let mut missing = !mark_known(&list.records, &mut found);
        if missing {
            // A file may have been renamed while we read: look again
            // before taking a record away.
            for (b, v) in self.scan(0)? {
                found.entry(b).or_insert(v);
            }
            missing = !mark_known(&list.records, &mut found);
        }
        let before = list.records.len();
        if missing {
            list.records.retain(|r| found.contains_key(&r.base));
        }
        let mut changed = fresh_list || list.records.len() != before;
        // A list written without a GUID (by hand, or a program that keeps
        // none) gets one: the MAILBOXID needs it.
        if list.guid.is_empty() {
            list.guid = crate::smtp_session::random_hex(16);
            changed = true;
        }
        let mut unknown: Vec<String> = found
            .iter()
            .filter(|(_, (_, _, known))| !known)
            .map(|(b, _)| b.clone())
            .collect();
        unknown.sort_by_cached_key(|b| delivery_order(b));
        for b in unknown {
            if list.assign(b).is_none() {
                return Err(io::Error::other(
                    "UIDs used up: the folder needs a new UIDVALIDITY",
                ));
            }
            changed = true;
        }
        if changed {
            self.write_uidlist(&list)?;
        }
        let cur = self.dir.join("cur");
        let mut ms = self.read_modseqs()?;
        let mut ms_changed = false;
        let mut messages = Vec::with_capacity(list.records.len());
        for r in &list.records {
            let Some((in_new, name, _)) = found.remove(&r.base) else {
                continue;
            };
            // A message new to the table is saved as of its file's last
            // rename (the delivery's into `new/`, a program's into
            // `cur/`), read before this sync moves it.
            let save_date = match ms.saved.get(&r.uid) {
                Some(&t) => t,
                None => {
                    let sub = if in_new { "new" } else { "cur" };
                    let t = ctime(&self.dir.join(sub).join(&name));
                    ms.saved.insert(r.uid, t);
                    ms_changed = true;
                    t
                }
            };
            let info = name
                .split_once(":2,")
                .map_or(String::new(), |(_, i)| i.to_string());
            let (flags, other) = parse_info(&info, &kw);
            let mut m = MsgFile {
                uid: r.uid,
                base: r.base.clone(),
                name,
                in_new,
                flags,
                other,
                recent: false,
                modseq: 0,
                save_date,
                email_id: email_id_of(&r.base).into(),
            };
            if in_new && take_recent {
                let to = format!("{}:2,{}", m.base, info);
                match fs::rename(self.dir.join("new").join(&m.name), cur.join(&to)) {
                    Ok(()) => {
                        m.name = to;
                        m.in_new = false;
                        m.recent = true;
                    }
                    // Moved by someone else meanwhile: it is in cur/.
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {
                        if let Some(n) = self.locate(&m.base) {
                            m.name = n;
                            m.in_new = false;
                        }
                    }
                    Err(e) => return Err(e),
                }
            }
            messages.push(m);
        }
        // Mod-sequences: a message new to the table, or whose letters
        // changed behind the store's back, gets a new one; so does the
        // folder when messages went away.
        // `messages` is in UID order (the list's): no set of the UIDs.
        let gone: Vec<u32> = ms
            .map
            .keys()
            .copied()
            .filter(|u| messages.binary_search_by_key(u, |m| m.uid).is_err())
            .collect();
        let mut next = None;
        if !gone.is_empty() {
            ms_changed = true;
            // Expunged by another program (or by hand): remembered for
            // QRESYNC like the store's own expunges.
            for &u in &gone {
                ms.remove(u);
            }
            let q = *next.get_or_insert_with(|| ms.next());
            ms.record_expunged(gone, q);
        }
        for m in &mut messages {
            match ms.map.get(&m.uid) {
                Some((q, info)) if info == m.info() => m.modseq = *q,
                _ => {
                    let q = *next.get_or_insert_with(|| ms.next());
                    ms.map.insert(m.uid, (q, m.info().to_string()));
                    m.modseq = q;
                    ms_changed = true;
                }
            }
        }
        if ms_changed {
            self.write_modseqs(&ms)?;
        }
        Ok(Snapshot {
            uid_validity: list.uid_validity,
            mailbox_id: mailbox_id_of(&list.guid),
            uid_next: list.next_uid,
            messages,
            keyword_room: kw.has_room(),
            highest_modseq: ms.highest,
            expunged: ms.expunged,
            expunge_horizon: ms.horizon,
        })
    }

    /// The current name in `cur/` of the file with this base name.
    fn locate(&self, base: &str) -> Option<String> {
        let rd = fs::read_dir(self.dir.join("cur")).ok()?;
        rd.filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .find(|n| n == base || n.strip_prefix(base).is_some_and(|r| r.starts_with(":2,")))
    }

    /// The bytes and messages the folder holds (synced, from memory when
    /// unchanged): its part of the account's usage.
    pub(crate) fn usage(&self) -> io::Result<(u64, u64)> {
        let snap = self.sync(false)?;
        let bytes = snap.messages.iter().map(|m| self.message_size(m)).sum();
        Ok((bytes, snap.messages.len() as u64))
    }

    /// The account's root, whose `maildirsize` ([`super::quota`]) counts
    /// this folder: the folder itself for INBOX, else its parent (a
    /// Maildir++ folder is a `.NAME` directory in the root).
    fn account_root(&self) -> &Path {
        match (self.dir.file_name(), self.dir.parent()) {
            (Some(n), Some(parent)) if n.as_encoded_bytes().starts_with(b".") => parent,
            _ => &self.dir,
        }
    }

    /// The size of a message: from its name (`,S=`), else its file's
    /// (0 when it is gone).
    pub(crate) fn message_size(&self, m: &MsgFile) -> u64 {
        m.size()
            .or_else(|| self.find(m).and_then(|p| file_len(&p)))
            .unwrap_or(0)
    }

    /// The path of the message with this base name, wherever it is now.
    pub(crate) fn find(&self, m: &MsgFile) -> Option<PathBuf> {
        let p = m.path(&self.dir);
        if p.exists() {
            return Some(p);
        }
        if let Some(n) = self.locate(&m.base) {
            return Some(self.dir.join("cur").join(n));
        }
        let n = self.dir.join("new").join(&m.base);
        n.exists().then_some(n)
    }

    /// Renames each file to carry its new flags. Returns the new state of
    /// each (`None`: the file is gone, expunged by someone else).
    ///
    /// Each change is what the caller did to the flags it saw (`m.flags`
    /// to `flags`): under the lock it is applied to the flags the file has
    /// now, so that two sessions storing different flags on one message at
    /// once both keep theirs (no lost update).
    pub(crate) fn set_flags(
        &self,
        changes: &[(&MsgFile, Flags)],
    ) -> io::Result<Vec<Option<MsgFile>>> {
        let _lock = self.lock()?;
        let mut cached = self.own_change_begin();
        let mut kw = self.read_keywords()?;
        // (where the file is now, its new info), per change.
        let mut plans = Vec::with_capacity(changes.len());
        let mut kw_changed = false;
        for (m, want) in changes {
            let Some(from) = self.find(m) else {
                plans.push(None);
                continue;
            };
            let name = from
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            let info = name.split_once(":2,").map_or("", |(_, i)| i);
            let (disk, other) = parse_info(info, &kw);
            let flags = rebase(&disk, &m.flags, want);
            let (info, ch) = format_info(&flags, &other, &mut kw);
            kw_changed |= ch;
            plans.push(Some((from, info)));
        }
        if kw_changed {
            self.write_keywords(&kw)?;
        }
        let cur = self.dir.join("cur");
        let mut ms = self.read_modseqs()?;
        let modseq = ms.next();
        let mut out = Vec::with_capacity(changes.len());
        for ((m, _), plan) in changes.iter().zip(plans) {
            let renamed = plan.and_then(|(from, info)| {
                let to = format!("{}:2,{}", m.base, info);
                let moved = if from == cur.join(&to) {
                    Ok(())
                } else {
                    fs::rename(&from, cur.join(&to))
                };
                match moved {
                    Ok(()) => Some(Ok((to, info))),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => None,
                    Err(e) => Some(Err(e)),
                }
            });
            if let Some(r) = renamed {
                let (to, info) = r?;
                let (flags, other) = parse_info(&info, &kw);
                let new = MsgFile {
                    name: to,
                    in_new: false,
                    flags,
                    other,
                    modseq,
                    ..(*m).clone()
                };
                ms.map.insert(m.uid, (modseq, info));
                if let Some((_, snap)) = &mut cached {
                    match snap.messages.binary_search_by_key(&m.uid, |x| x.uid) {
                        Ok(i) => snap.messages[i] = new.clone(),
                        Err(_) => cached = None,
                    }
                }
                out.push(Some(new));
            } else {
                // Expunged by another program: the snapshot is behind.
                cached = None;
                out.push(None);
            }
        }
        self.write_modseqs(&ms)?;
        if let Some((epoch, mut snap)) = cached {
            snap.highest_modseq = ms.highest;
            snap.keyword_room = kw.has_room();
            self.own_change_end((epoch, snap));
        }
        Ok(out)
    }

    /// Removes the files and their records; returns the new HIGHESTMODSEQ.
    pub(crate) fn expunge(&self, files: &[&MsgFile]) -> io::Result<u64> {
        let _lock = self.lock()?;
        let cached = self.own_change_begin();
        let mut gone = HashSet::new();
        // What this expunge removes (a file gone already was someone
        // else's to count: another expunge, or a MOVE that took it).
        let mut usage = Change::new(self.account_root());
        for m in files {
            if let Some(p) = self.find(m) {
                let size = m.size().or_else(|| file_len(&p)).unwrap_or(0);
                match fs::remove_file(&p) {
                    Ok(()) => usage.remove(size),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                }
            }
            gone.insert(m.base.as_str());
        }
        let mut list = self.read_uidlist()?;
        list.records.retain(|r| !gone.contains(r.base.as_str()));
        self.write_uidlist(&list)?;
        let mut ms = self.read_modseqs()?;
        for m in files {
            ms.remove(m.uid);
        }
        let highest = ms.next();
        ms.record_expunged(files.iter().map(|m| m.uid), highest);
        self.write_modseqs(&ms)?;
        sync_dir(&self.dir.join("cur"))?;
        sync_dir(&self.dir.join("new"))?;
        if let Some((epoch, mut snap)) = cached {
            snap.messages.retain(|m| !gone.contains(m.base.as_str()));
            snap.highest_modseq = ms.highest;
            snap.expunged = ms.expunged;
            snap.expunge_horizon = ms.horizon;
            self.own_change_end((epoch, snap));
        }
        Ok(highest)
    }

    /// A path in `tmp/` for a message with this base name.
    pub(crate) fn tmp_path(&self, base: &str) -> PathBuf {
        self.dir.join("tmp").join(base)
    }

    /// Adds complete, fsynced files of `tmp/` (each with its base name and
    /// flags) to the folder: renamed into `cur/` with their flags, given
    /// UIDs in order. Returns the UIDs and UIDVALIDITY once everything is
    /// durable.
    pub(crate) fn add(&self, items: &[(String, Flags)]) -> io::Result<(u32, Vec<u32>)> {
        let items: Vec<(Option<&Path>, &str, &Flags)> =
            items.iter().map(|(b, f)| (None, b.as_str(), f)).collect();
        let (validity, uids) = self.insert(&items)?;
        Ok((validity, uids.into_iter().flatten().collect()))
    }

    /// MOVE: renames message files of another folder straight into this
    /// one's `cur/` (under a new base name, with these flags) and gives
    /// them UIDs. The rename is the claim: of two sessions moving the same
    /// message, one gets it and the other finds it gone (`None`), so a
    /// message is never moved twice; and at every moment the file is in
    /// one folder or the other, so a crash loses nothing (a file without
    /// a UID gets one at the next sync). The source's record goes with
    /// its next expunge or sync.
    pub(crate) fn move_in(
        &self,
        items: &[(PathBuf, String, Flags)],
    ) -> io::Result<(u32, Vec<Option<u32>>)> {
        let items: Vec<(Option<&Path>, &str, &Flags)> = items
            .iter()
            .map(|(p, b, f)| (Some(p.as_path()), b.as_str(), f))
            .collect();
        self.insert(&items)
    }

    /// [`Self::add`] and [`Self::move_in`]: each file (from `tmp/` when no
    /// source is given) renamed into `cur/` and given the next UID.
    fn insert(
        &self,
        items: &[(Option<&Path>, &str, &Flags)],
    ) -> io::Result<(u32, Vec<Option<u32>>)> {
        let _lock = self.lock()?;
        let mut cached = self.own_change_begin();
        let mut list = self.read_uidlist()?;
        let mut kw = self.read_keywords()?;
        let mut names = Vec::with_capacity(items.len());
        let mut kw_changed = false;
        for (_, base, flags) in items {
            let (info, ch) = format_info(flags, "", &mut kw);
            kw_changed |= ch;
            names.push(format!("{base}:2,{info}"));
        }
        if kw_changed {
            self.write_keywords(&kw)?;
        }
        let cur = self.dir.join("cur");
        let mut uids = Vec::with_capacity(items.len());
        let mut ms = self.read_modseqs()?;
        let modseq = ms.next();
        // APPEND, COPY and MOVE save the message now (RFC 8514 §3).
        let save_date = unix_now();
        // What comes from `tmp/` adds to the account's usage (a message
        // moved in from another folder was counted there already).
        let mut usage = Change::new(self.account_root());
        for ((src, base, _), name) in items.iter().zip(&names) {
            let from = src.map_or_else(|| self.tmp_path(base), Path::to_path_buf);
            match fs::rename(&from, cur.join(name)) {
                Ok(()) if src.is_none() => usage.add(
                    name_field(base, "S=")
                        .or_else(|| file_len(&cur.join(name)))
                        .unwrap_or(0),
                ),
                Ok(()) => {}
                // Moved or expunged by someone else meanwhile.
                Err(e) if e.kind() == io::ErrorKind::NotFound && src.is_some() => {
                    uids.push(None);
                    continue;
                }
                Err(e) => return Err(e),
            }
            let uid = list
                .assign((*base).to_string())
                .ok_or_else(|| io::Error::other("UIDs used up"))?;
            let info = name.split_once(":2,").map_or("", |(_, i)| i);
            ms.map.insert(uid, (modseq, info.to_string()));
            ms.saved.insert(uid, save_date);
            uids.push(Some(uid));
            if let Some((_, snap)) = &mut cached {
                let (flags, other) = parse_info(info, &kw);
                snap.messages.push(MsgFile {
                    uid,
                    base: (*base).to_string(),
                    name: name.clone(),
                    in_new: false,
                    flags,
                    other,
                    recent: false,
                    modseq,
                    save_date,
                    email_id: email_id_of(base).into(),
                });
            }
        }
        sync_dir(&cur)?;
        self.write_uidlist(&list)?;
        self.write_modseqs(&ms)?;
        if let Some((epoch, mut snap)) = cached {
            snap.uid_next = list.next_uid;
            snap.highest_modseq = ms.highest;
            snap.keyword_room = kw.has_room();
            self.own_change_end((epoch, snap));
        }
        Ok((list.uid_validity, uids))
    }
}

/// The files a scan found: base name to (in `new/`, file name, has a
/// record).
type Found = HashMap<String, (bool, String, bool)>;

/// Marks the files that have a record; whether every record has its file.
/// One look-up per record: the files left unmarked are the new ones.
fn mark_known(records: &[super::uidlist::Record], found: &mut Found) -> bool {
    let mut all = true;
    for r in records {
        match found.get_mut(&r.base) {
            Some(f) => f.2 = true,
            None => all = false,
        }
    }
    all
}

/// A time stamp older than this is trusted to tell changes apart (a
/// timestamp cannot tell two changes within its granularity apart;
/// Dovecot waits the same way).
const TRUST_AFTER: Duration = Duration::from_secs(2);
/// Snapshots kept in memory at most (one per folder); past it the cache
/// starts over.
const SNAPSHOTS_MAX: usize = 256;

/// What identifies a folder's state on disk ([`Folder::state_key`]).
#[derive(Debug, Clone, PartialEq, Eq)]
struct StateKey {
    /// (mtime in ns, size, inode) of the control files and directories.
    parts: Vec<(u128, u64, u64)>,
    /// The newest of the times.
    newest: SystemTime,
}

/// A folder's last known state, and what it was at that moment.
///
/// # Trust
///
/// A key whose newest time is over [`TRUST_AFTER`] old tells every later
/// change apart: the snapshot answers as long as the key is the same. A
/// newer key (the folder changed less than that ago: the usual case right
/// after a change of our own, which updates the snapshot in place) cannot
/// tell a change made by another program (Dovecot) in the same clock tick
/// from none. It answers anyway until `verify_at` (the newest time plus
/// [`TRUST_AFTER`]), and the first sync after that reads the folder again:
/// such a change is seen at most [`TRUST_AFTER`] late. Any change that moves
/// a time, a size or an inode is seen at once.
#[derive(Debug)]
struct Cached {
    key: StateKey,
    snap: Snapshot,
    verify_at: Option<SystemTime>,
}

impl Cached {
    fn new(key: StateKey, snap: Snapshot) -> Self {
        let verify_at = (SystemTime::now()
            .duration_since(key.newest)
            .map_or(true, |age| age < TRUST_AFTER))
        .then(|| key.newest + TRUST_AFTER);
        Self {
            key,
            snap,
            verify_at,
        }
    }

    /// Whether the snapshot describes the folder whose key is now `key`.
    fn answers(&self, key: &StateKey) -> bool {
        self.key == *key && self.verify_at.is_none_or(|t| SystemTime::now() < t)
    }
}

/// The snapshots, and per folder the count of changes made by this
/// process outside [`Folder`] ([`touched`]).
#[derive(Debug, Default)]
struct SnapshotMap {
    entries: HashMap<PathBuf, Cached>,
    /// A sync or a change stores its snapshot only if the folder's epoch
    /// is still the one read when it started: a delivery meanwhile may be
    /// missing from it.
    epochs: HashMap<PathBuf, u64>,
}

impl SnapshotMap {
    fn epoch(&self, dir: &Path) -> u64 {
        self.epochs.get(dir).copied().unwrap_or(0)
    }
}

fn snapshots() -> &'static std::sync::Mutex<SnapshotMap> {
    static SNAPSHOTS: std::sync::OnceLock<std::sync::Mutex<SnapshotMap>> =
        std::sync::OnceLock::new();
    SNAPSHOTS.get_or_init(Default::default)
}

/// A change made to the folder `dir` by this process outside [`Folder`]
/// (a delivery into `new/`), after it is on disk: the folder's snapshot
/// in memory no longer answers, even when no time stamp moved (two
/// deliveries in one clock tick), and a sync running meanwhile does not
/// keep its result.
pub(crate) fn touched(dir: &Path) {
    let mut cache = snapshots().lock().unwrap_or_else(|e| e.into_inner());
    cache.entries.remove(dir);
    *cache.epochs.entry(dir.to_path_buf()).or_default() += 1;
}

/// The last sync's result when the folder's state key has not changed
/// since (no file moved, no control file written): no directory is read.
/// Not when files wait in `new/` and the caller takes `\Recent`. What was
/// `\Recent` went to the sync that moved it.
///
/// Otherwise the folder's epoch, for [`remember_owned`].
fn cached_snapshot(dir: &Path, key: Option<&StateKey>, take_recent: bool) -> Result<Snapshot, u64> {
    let cache = snapshots().lock().unwrap_or_else(|e| e.into_inner());
    let epoch = cache.epoch(dir);
    let (Some(key), Some(c)) = (key, cache.entries.get(dir)) else {
        return Err(epoch);
    };
    if !c.answers(key) || (take_recent && c.snap.messages.iter().any(|m| m.in_new)) {
        return Err(epoch);
    }
    let mut snap = c.snap.clone();
    for m in &mut snap.messages {
        m.recent = false;
    }
    Ok(snap)
}

/// Keeps `snap` as the folder's state under `key`, unless the folder was
/// [`touched`] since `epoch` was read.
fn remember_owned(dir: &Path, epoch: u64, key: Option<StateKey>, snap: Snapshot) {
    let mut cache = snapshots().lock().unwrap_or_else(|e| e.into_inner());
    let Some(key) = key.filter(|_| cache.epoch(dir) == epoch) else {
        cache.entries.remove(dir);
        return;
    };
    if cache.entries.len() >= SNAPSHOTS_MAX {
        cache.entries.clear();
    }
    cache
        .entries
        .insert(dir.to_path_buf(), Cached::new(key, snap));
}

/// Whether a lock file was left by a process that no longer runs, or is
/// older than [`STALE`].
fn stale(path: &Path) -> bool {
    let content = fs::read_to_string(path).unwrap_or_default();
    if let Some(pid) = content
        .split(':')
        .next()
        .and_then(|p| p.parse::<u32>().ok())
        && pid != std::process::id()
        && !Path::new(&format!("/proc/{pid}")).exists()
    {
        return true;
    }
    fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .is_some_and(|age| age > STALE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::File;
    use std::sync::Arc;

    fn scratch(tag: &str) -> Folder {
        let d = std::env::temp_dir().join(format!(
            "mailstore-folder-{tag}-{}",
            crate::maildir::queue_id()
        ));
        let f = Folder::new(d);
        f.create(false).unwrap();
        f
    }

    fn deliver(f: &Folder, body: &[u8]) -> String {
        let base = new_base("test", body.len() as u64, body.len() as u64);
        let tmp = f.tmp_path(&base);
        fs::write(&tmp, body).unwrap();
        fs::rename(&tmp, f.dir.join("new").join(&base)).unwrap();
        base
    }

    #[test]
    fn sync_assigns_moves_and_keeps_uids() {
        let f = scratch("sync");
        let a = deliver(&f, b"a\r\n");
        let s = f.sync(true).unwrap();
        assert_eq!(s.messages.len(), 1);
        assert_eq!(s.messages[0].uid, 1);
        assert!(s.messages[0].recent);
        assert_eq!(s.messages[0].name, format!("{a}:2,"));
        assert_eq!(s.messages[0].size(), Some(3));
        let b = deliver(&f, b"bb\r\n");
        let s2 = f.sync(true).unwrap();
        assert_eq!(s2.uid_validity, s.uid_validity);
        assert_eq!(
            s2.messages.iter().map(|m| m.uid).collect::<Vec<_>>(),
            [1, 2]
        );
        assert!(!s2.messages[0].recent && s2.messages[1].recent);
        assert_eq!(s2.messages[1].base, b);
        // Flags, a keyword: file name and dovecot-keywords.
        let mut fl = Flags::default();
        fl.system.insert(SystemFlags::SEEN);
        fl.system.insert(SystemFlags::DELETED);
        fl.insert_keyword("$Work");
        let out = f.set_flags(&[(&s2.messages[0], fl.clone())]).unwrap();
        assert_eq!(out[0].as_ref().unwrap().name, format!("{a}:2,STa"));
        assert_eq!(
            fs::read_to_string(f.dir.join(KEYWORDS)).unwrap(),
            "0 $Work\n"
        );
        let s3 = f.sync(true).unwrap();
        assert_eq!(s3.messages[0].flags, fl);
        // Expunge: the UID is not given again.
        f.expunge(&[&s3.messages[0], &s3.messages[1]]).unwrap();
        deliver(&f, b"c\r\n");
        let s4 = f.sync(true).unwrap();
        assert_eq!(s4.messages.iter().map(|m| m.uid).collect::<Vec<_>>(), [3]);
        let list = fs::read_to_string(f.dir.join(UIDLIST)).unwrap();
        assert!(
            list.starts_with(&format!("3 V{} N4 G", s.uid_validity)),
            "{list}"
        );
        fs::remove_dir_all(&f.dir).unwrap();
    }

    #[test]
    fn uids_follow_delivery_order() {
        let mut names = vec![
            "1700000001.M5P1Q1.h".to_string(),
            "1700000000.M100P1Q3.h".to_string(),
            "1700000000.M99P1Q2.h".to_string(),
            "other-mda-name".to_string(),
        ];
        names.sort_by_cached_key(|b| delivery_order(b));
        assert_eq!(
            names,
            [
                "1700000000.M99P1Q2.h",
                "1700000000.M100P1Q3.h",
                "1700000001.M5P1Q1.h",
                "other-mda-name"
            ]
        );
    }

    #[test]
    fn add_gives_ascending_uids() {
        let f = scratch("add");
        deliver(&f, b"x\r\n");
        let mut items = Vec::new();
        for i in 0..3 {
            let base = new_base("t", 2, 2);
            fs::write(f.tmp_path(&base), format!("{i}\n")).unwrap();
            let mut fl = Flags::default();
            fl.system.insert(SystemFlags::SEEN);
            items.push((base, fl));
        }
        let (_, uids) = f.add(&items).unwrap();
        // The delivered file has no UID yet: the added ones come first.
        assert_eq!(uids, [1, 2, 3]);
        let s = f.sync(true).unwrap();
        assert_eq!(
            s.messages.iter().map(|m| m.uid).collect::<Vec<_>>(),
            [1, 2, 3, 4]
        );
        assert!(s.messages[0].flags.system.contains(SystemFlags::SEEN));
        fs::remove_dir_all(&f.dir).unwrap();
    }

    /// Many threads deliver and sync at once: every file gets exactly one
    /// UID, no UID twice, and each thread sees UIDs only grow. The
    /// deliveries are this process's (as `Store::delivered` makes them:
    /// [`touched`] after the rename); one by another program in the clock
    /// tick of a sync is seen up to [`TRUST_AFTER`] late by design, which
    /// the final count here once caught (199 of 200, the last file still in
    /// `new/`, under a loaded CI run).
    #[test]
    fn concurrent_deliveries_and_syncs() {
        let f = Arc::new(scratch("concurrent"));
        let mut threads = Vec::new();
        for t in 0..8 {
            let f = f.clone();
            threads.push(std::thread::spawn(move || {
                let mut last_next = 0;
                let mut seen: HashMap<String, u32> = HashMap::new();
                for i in 0..25 {
                    if t % 2 == 0 {
                        deliver(&f, format!("{t} {i}\r\n").as_bytes());
                        touched(&f.dir);
                    } else {
                        let base = new_base("t", 1, 1);
                        fs::write(f.tmp_path(&base), b"x").unwrap();
                        f.add(&[(base, Flags::default())]).unwrap();
                    }
                    let s = f.sync(true).unwrap();
                    assert!(s.uid_next >= last_next, "UIDNEXT went back");
                    last_next = s.uid_next;
                    for w in s.messages.windows(2) {
                        assert!(w[0].uid < w[1].uid);
                    }
                    for m in &s.messages {
                        if let Some(u) = seen.insert(m.base.clone(), m.uid) {
                            assert_eq!(u, m.uid, "a message changed UID");
                        }
                    }
                }
            }));
        }
        for t in threads {
            t.join().unwrap();
        }
        let s = f.sync(true).unwrap();
        assert_eq!(s.messages.len(), 200);
        let uids: HashSet<u32> = s.messages.iter().map(|m| m.uid).collect();
        assert_eq!(uids.len(), 200, "no UID twice");
        assert_eq!(s.uid_next, 201);
        assert!(!f.dir.join(LOCK).exists());
        fs::remove_dir_all(&f.dir).unwrap();
    }

    /// Two sessions STORE different flags on one message from the same
    /// snapshot: both changes stay (the second is applied to the flags the
    /// file has by then, not to the stale ones it saw).
    #[test]
    fn concurrent_stores_from_one_snapshot_keep_both_changes() {
        let f = scratch("lost-update");
        deliver(&f, b"a\r\n");
        let s = f.sync(true).unwrap();
        let m = &s.messages[0];
        let mut seen = Flags::default();
        seen.system.insert(SystemFlags::SEEN);
        f.set_flags(&[(m, seen)]).unwrap();
        let mut flagged = Flags::default();
        flagged.system.insert(SystemFlags::FLAGGED);
        flagged.insert_keyword("$Work");
        let out = f.set_flags(&[(m, flagged)]).unwrap();
        let now = &out[0].as_ref().unwrap().flags;
        assert!(now.system.contains(SystemFlags::SEEN), "{now:?}");
        assert!(now.system.contains(SystemFlags::FLAGGED), "{now:?}");
        assert!(now.has_keyword("$Work"));
        // A removal from the same stale view removes only what it removes.
        let out = f.set_flags(&[(&out[0].clone().unwrap(), Flags::default())]);
        let s = f.sync(true).unwrap();
        assert_eq!(s.messages[0].flags, Flags::default(), "{out:?}");
        let mut again = Flags::default();
        again.system.insert(SystemFlags::DRAFT);
        f.set_flags(&[(m, again)]).unwrap();
        let s = f.sync(true).unwrap();
        let fl = &s.messages[0].flags;
        assert!(fl.system.contains(SystemFlags::DRAFT) && !fl.system.contains(SystemFlags::SEEN));
        fs::remove_dir_all(&f.dir).unwrap();
    }

    #[test]
    fn modseqs_persist_and_follow_changes_made_elsewhere() {
        let f = scratch("modseq");
        deliver(&f, b"a\r\n");
        deliver(&f, b"b\r\n");
        let s = f.sync(true).unwrap();
        let (q1, q2) = (s.messages[0].modseq, s.messages[1].modseq);
        assert!(s.highest_modseq >= q1.max(q2));
        // A STORE through the store: one new mod-sequence, recorded.
        let mut fl = Flags::default();
        fl.system.insert(SystemFlags::SEEN);
        let out = f.set_flags(&[(&s.messages[0], fl)]).unwrap();
        let q = out[0].as_ref().unwrap().modseq;
        assert!(q > s.highest_modseq);
        let s2 = f.sync(true).unwrap();
        assert_eq!(s2.messages[0].modseq, q, "kept across syncs");
        assert_eq!(s2.messages[1].modseq, q2, "the other one unchanged");
        // Another program renames the second file (a flag): a new one.
        let m = &s2.messages[1];
        fs::rename(
            m.path(&f.dir),
            f.dir.join("cur").join(format!("{}:2,F", m.base)),
        )
        .unwrap();
        let s3 = f.sync(true).unwrap();
        assert!(s3.messages[1].modseq > q);
        assert!(s3.messages[1].flags.system.contains(SystemFlags::FLAGGED));
        assert_eq!(s3.messages[0].modseq, q);
        // An expunge raises HIGHESTMODSEQ.
        let h = f.expunge(&[&s3.messages[0]]).unwrap();
        assert!(h > s3.highest_modseq);
        assert_eq!(f.sync(true).unwrap().highest_modseq, h);
        fs::remove_dir_all(&f.dir).unwrap();
    }

    /// RFC 8514 §3: a delivered message is saved as of its rename into
    /// `new/` (not the later sync that moves it to `cur/`), an added one
    /// (APPEND, COPY, MOVE) as of the addition; a flag change (a rename)
    /// keeps the save date, which a fresh read finds in the file.
    #[test]
    fn save_dates_are_set_once() {
        use std::os::unix::fs::MetadataExt as _;
        let f = scratch("savedate");
        let base = deliver(&f, b"a\r\n");
        let delivered = fs::metadata(f.dir.join("new").join(&base)).unwrap().ctime();
        // The sync's rename comes in a later second.
        std::thread::sleep(Duration::from_millis(1100));
        let s = f.sync(true).unwrap();
        assert_eq!(s.messages[0].save_date, delivered);
        assert!(!s.messages[0].in_new);
        let mut fl = Flags::default();
        fl.system.insert(SystemFlags::SEEN);
        f.set_flags(&[(&s.messages[0], fl)]).unwrap();
        let added = new_base("t", 2, 2);
        fs::write(f.tmp_path(&added), b"b\n").unwrap();
        let (_, uids) = f.add(&[(added, Flags::default())]).unwrap();
        let s = from_disk(&f);
        assert_eq!(s.messages[0].save_date, delivered, "kept through STORE");
        assert_eq!(s.messages[1].uid, uids[0]);
        assert!(s.messages[1].save_date > delivered, "saved at the APPEND");
        fs::remove_dir_all(&f.dir).unwrap();
    }

    /// RFC 8474 §5.1: a message's EMAILID comes from its name, so it is
    /// the same at every sync and after a flag change; a copy's name
    /// carries its original's (COPY and MOVE keep the EMAILID); an `E=`
    /// field that is no objectid is not taken.
    #[test]
    fn email_ids_follow_copies() {
        let f = scratch("emailid");
        deliver(&f, b"a\r\n");
        let s = f.sync(true).unwrap();
        let m = &s.messages[0];
        assert_eq!(*m.email_id, email_id_of(&m.base));
        assert!(m.email_id.starts_with('M') && m.email_id.len() == 25);
        assert!(mailwire::imap::is_object_id(m.email_id.as_bytes()));
        let mut fl = Flags::default();
        fl.system.insert(SystemFlags::FLAGGED);
        f.set_flags(&[(m, fl)]).unwrap();
        assert_eq!(from_disk(&f).messages[0].email_id, m.email_id);
        let copy = m.copy_base(&m.path(&f.dir), "h").unwrap();
        assert_eq!(email_id_of(&copy), *m.email_id);
        fs::write(f.tmp_path(&copy), b"a\r\n").unwrap();
        f.add(&[(copy, Flags::default())]).unwrap();
        let s = from_disk(&f);
        assert_eq!(s.messages[1].email_id, m.email_id);
        assert_ne!(s.messages[1].base, m.base);
        let odd = "1.M1P1Q1.h,S=3,W=3,E=no.dots";
        assert_eq!(email_id_of(odd), hashed_id('M', odd));
        assert_ne!(email_id_of("1.M1P1Q1.h"), email_id_of("1.M1P1Q2.h"));
        fs::remove_dir_all(&f.dir).unwrap();
    }

    /// RFC 8474 §5.2: a THREADID is one per thread root, else one per
    /// EMAILID, never an EMAILID, and an objectid.
    #[test]
    fn thread_ids() {
        let a = thread_id_of(Some("root@x"), "M1");
        assert_eq!(a, thread_id_of(Some("root@x"), "M2"));
        assert_eq!(a, hashed_id('T', "<root@x>"));
        assert_ne!(a, thread_id_of(Some("other@x"), "M1"));
        assert!(a.starts_with('T') && mailwire::imap::is_object_id(a.as_bytes()));
        let own = thread_id_of(None, "M1");
        assert_eq!(own, thread_id_of(None, "M1"));
        assert_ne!(own, thread_id_of(None, "M2"));
        assert_ne!(own, a);
        let base = "1.M1P1Q1.h";
        assert_ne!(thread_id_of(None, &email_id_of(base)), email_id_of(base));
    }

    /// RFC 8474 §4: the MAILBOXID is `F` and the uidlist's GUID, the same
    /// at every sync; a uidlist without a GUID gets one, written.
    #[test]
    fn mailbox_id_from_the_uidlist_guid() {
        let f = scratch("mailboxid");
        let id = f.sync(false).unwrap().mailbox_id;
        assert!(id.starts_with('F') && id.len() == 33, "{id}");
        assert!(mailwire::imap::is_object_id(id.as_bytes()));
        assert_eq!(from_disk(&f).mailbox_id, id);
        fs::write(f.dir.join(UIDLIST), "3 V1234 N1\n").unwrap();
        let fresh = from_disk(&f).mailbox_id;
        assert_ne!(fresh, id);
        assert_eq!(from_disk(&f).mailbox_id, fresh, "the new GUID was written");
        assert_eq!(mailbox_id_of("not:an id"), hashed_id('F', "not:an id"));
        fs::remove_dir_all(&f.dir).unwrap();
    }

    /// A `mailwire-modseq` file written before the save-date column: its
    /// rows keep their mod-sequences, and the next sync gives every
    /// message a save date and writes it.
    #[test]
    fn save_dates_added_to_an_old_modseq_file() {
        let f = scratch("savedate-old");
        deliver(&f, b"a\r\n");
        deliver(&f, b"b\r\n");
        let s = f.sync(true).unwrap();
        let old: String = fs::read_to_string(f.dir.join(MODSEQ))
            .unwrap()
            .lines()
            .map(|l| match l.split(' ').collect::<Vec<_>>()[..] {
                [uid, q, info, _] => format!("{uid} {q} {info}\n"),
                _ => format!("{l}\n"),
            })
            .collect();
        assert!(!old.contains(&s.messages[0].save_date.to_string()));
        fs::write(f.dir.join(MODSEQ), &old).unwrap();
        let again = from_disk(&f);
        let modseqs = |s: &Snapshot| s.messages.iter().map(|m| m.modseq).collect::<Vec<_>>();
        assert_eq!(modseqs(&again), modseqs(&s));
        assert!(again.messages.iter().all(|m| m.save_date > 0));
        let text = fs::read_to_string(f.dir.join(MODSEQ)).unwrap();
        for m in &again.messages {
            let row = format!("{} {} {} {}\n", m.uid, m.modseq, m.info(), m.save_date);
            assert!(text.contains(&row), "{text}");
        }
        fs::remove_dir_all(&f.dir).unwrap();
    }

    /// Expunges through the store and files removed by another program
    /// are both remembered with their mod-sequence, on disk (a fresh read
    /// has them) and in the cached snapshot alike.
    #[test]
    fn expunge_history_persists() {
        let f = scratch("expunged");
        for body in [b"a\r\n", b"b\r\n", b"c\r\n"] {
            deliver(&f, body);
        }
        let s = f.sync(true).unwrap();
        let uids: Vec<u32> = s.messages.iter().map(|m| m.uid).collect();
        assert!(s.expunged.is_empty());
        let h = f.expunge(&[&s.messages[0]]).unwrap();
        let cached = f.sync(false).unwrap();
        assert_eq!(cached.expunged, vec![(uids[0], h)]);
        assert_eq!(from_disk(&f).expunged, vec![(uids[0], h)]);
        assert!(cached.expunge_horizon < h);
        // Another program deletes the third file.
        fs::remove_file(cached.messages[1].path(&f.dir)).unwrap();
        backdate(&f.dir.join("cur"));
        let s2 = from_disk(&f);
        assert_eq!(s2.messages.len(), 1);
        let q = s2.highest_modseq;
        assert!(q > h);
        assert_eq!(s2.expunged, vec![(uids[0], h), (uids[2], q)]);
        fs::remove_dir_all(&f.dir).unwrap();
    }

    #[test]
    fn a_message_is_moved_once() {
        let src = scratch("move-src");
        let (b, c) = (scratch("move-b"), scratch("move-c"));
        deliver(&src, b"m\r\n");
        let s = src.sync(true).unwrap();
        let path = s.messages[0].path(&src.dir);
        let item = || (path.clone(), new_base("h", 3, 3), Flags::default());
        let (_, won) = b.move_in(&[item()]).unwrap();
        let (_, lost) = c.move_in(&[item()]).unwrap();
        assert_eq!(won, [Some(1)]);
        assert_eq!(lost, [None], "already moved: not twice");
        assert_eq!(b.sync(true).unwrap().messages.len(), 1);
        assert!(c.sync(true).unwrap().messages.is_empty());
        assert!(src.sync(true).unwrap().messages.is_empty());
        for f in [src, b, c] {
            fs::remove_dir_all(&f.dir).unwrap();
        }
    }

    /// Sets a modification time back by a minute.
    fn backdate(path: &Path) {
        let then = SystemTime::now() - Duration::from_secs(60);
        File::open(path).unwrap().set_modified(then).unwrap();
    }

    #[test]
    fn unchanged_folder_answers_from_memory() {
        let f = scratch("cache");
        deliver(&f, b"a\r\n");
        f.sync(true).unwrap();
        let all = [UIDLIST, MODSEQ, "new", "cur"].map(|n| f.dir.join(n));
        for p in &all {
            backdate(p);
        }
        let s1 = f.sync(true).unwrap();
        assert_eq!(s1.messages.len(), 1);
        // A file slipped in without any time stamp moving (impossible in
        // real life within TRUST_AFTER): the answer comes from memory.
        let cur_mtime = fs::metadata(f.dir.join("cur")).unwrap().modified().unwrap();
        fs::write(f.dir.join("cur").join("1700000000.M1P1Q1.h:2,"), b"x").unwrap();
        File::open(f.dir.join("cur"))
            .unwrap()
            .set_modified(cur_mtime)
            .unwrap();
        let s2 = f.sync(true).unwrap();
        assert_eq!(s2.messages.len(), 1, "cached");
        assert!(!s2.messages[0].recent, "\\Recent went to the first sync");
        // Any change moves a time stamp: read from disk again.
        backdate(&f.dir.join("cur"));
        let s3 = f.sync(true).unwrap();
        assert_eq!(s3.messages.len(), 2);
        fs::remove_dir_all(&f.dir).unwrap();
    }

    /// A full read of the folder, the cache bypassed.
    fn from_disk(f: &Folder) -> Snapshot {
        let forget = || {
            snapshots()
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .entries
                .remove(&f.dir)
        };
        forget();
        let s = f.sync(false).unwrap();
        forget();
        s
    }

    /// Plants a file in `cur/` with no time stamp moving: what another
    /// program's change within one clock tick looks like.
    fn plant_unseen(f: &Folder, name: &str) {
        let cur = f.dir.join("cur");
        let mtime = fs::metadata(&cur).unwrap().modified().unwrap();
        fs::write(cur.join(name), b"x").unwrap();
        File::open(&cur).unwrap().set_modified(mtime).unwrap();
    }

    #[test]
    fn own_changes_update_the_snapshot_in_memory() {
        let f = scratch("own");
        for b in [b"a\r\n", b"b\r\n", b"c\r\n"] {
            deliver(&f, b);
        }
        let s = f.sync(true).unwrap();
        // Flags: the next sync answers from memory (the planted file is
        // not seen) and agrees with the disk.
        let mut flags = Flags::default();
        flags.system.insert(SystemFlags::FLAGGED);
        flags.system.insert(SystemFlags::SEEN);
        f.set_flags(&[(&s.messages[1], flags.clone())]).unwrap();
        plant_unseen(&f, "1700000000.M1P1Q1.h:2,");
        let cached = f.sync(true).unwrap();
        assert_eq!(cached.messages.len(), 3, "from memory");
        assert_eq!(cached.messages[1].flags, flags);
        fs::remove_file(f.dir.join("cur/1700000000.M1P1Q1.h:2,")).unwrap();
        let disk = from_disk(&f);
        assert_eq!(cached, disk);
        // Expunge and APPEND: the same.
        f.sync(false).unwrap();
        f.expunge(&[&disk.messages[0]]).unwrap();
        let after_expunge = f.sync(false).unwrap();
        assert_eq!(after_expunge, from_disk(&f));
        assert_eq!(after_expunge.messages.len(), 2);
        f.sync(false).unwrap();
        let base = new_base("test", 3, 3);
        fs::write(f.tmp_path(&base), b"d\r\n").unwrap();
        let (_, uids) = f.add(&[(base, flags.clone())]).unwrap();
        let after_add = f.sync(false).unwrap();
        assert_eq!(after_add.messages.last().unwrap().uid, uids[0]);
        assert_eq!(after_add, from_disk(&f));
        fs::remove_dir_all(&f.dir).unwrap();
    }

    #[test]
    fn changes_of_another_program_are_seen() {
        let f = scratch("foreign");
        deliver(&f, b"a\r\n");
        deliver(&f, b"b\r\n");
        let s = f.sync(true).unwrap();
        f.set_flags(&[(&s.messages[0], Flags::default())]).unwrap();
        // A rename that moves a time stamp (Dovecot storing a flag in
        // another clock tick): seen at once.
        let m = &s.messages[1];
        let cur = f.dir.join("cur");
        fs::rename(cur.join(&m.name), cur.join(format!("{}:2,T", m.base))).unwrap();
        let later = SystemTime::now() + Duration::from_secs(1);
        File::open(&cur).unwrap().set_modified(later).unwrap();
        let seen = f.sync(false).unwrap();
        assert!(seen.messages[1].flags.system.contains(SystemFlags::DELETED));
        // One within the same tick: seen once the key is old enough to be
        // checked (here: its check time set in the past).
        f.set_flags(&[(&seen.messages[0], Flags::default())])
            .unwrap();
        plant_unseen(&f, "1700000000.M2P2Q2.h:2,");
        assert_eq!(f.sync(false).unwrap().messages.len(), 2);
        if let Some(c) = snapshots()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entries
            .get_mut(&f.dir)
        {
            c.verify_at = Some(UNIX_EPOCH);
        }
        assert_eq!(f.sync(false).unwrap().messages.len(), 3);
        fs::remove_dir_all(&f.dir).unwrap();
    }

    /// Deliveries of this process (outside `Folder`) end the snapshot's
    /// trust even when no time stamp moved, and a sync that ran across one
    /// does not keep its result.
    #[test]
    fn deliveries_are_never_missed() {
        let f = scratch("touched");
        deliver(&f, b"a\r\n");
        assert_eq!(f.sync(false).unwrap().messages.len(), 1);
        let new = f.dir.join("new");
        let mtime = fs::metadata(&new).unwrap().modified().unwrap();
        deliver(&f, b"b\r\n");
        File::open(&new).unwrap().set_modified(mtime).unwrap();
        assert_eq!(f.sync(false).unwrap().messages.len(), 1, "same tick");
        touched(&f.dir);
        assert_eq!(f.sync(false).unwrap().messages.len(), 2);
        // A result read before a delivery is not kept.
        let (epoch, key) = (snapshots().lock().unwrap().epoch(&f.dir), f.state_key());
        touched(&f.dir);
        remember_owned(&f.dir, epoch, key, f.sync(false).unwrap());
        assert!(!snapshots().lock().unwrap().entries.contains_key(&f.dir));
        fs::remove_dir_all(&f.dir).unwrap();
    }

    #[test]
    fn stale_lock_of_a_dead_process_is_taken() {
        let f = scratch("stale");
        // PID 0x7ffffffe does not exist.
        fs::write(f.dir.join(LOCK), "2147483646:host").unwrap();
        f.sync(true).unwrap();
        assert!(!f.dir.join(LOCK).exists());
        fs::remove_dir_all(&f.dir).unwrap();
    }
}

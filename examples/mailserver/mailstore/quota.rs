//! The storage an account uses, kept the Maildir++ way: a `maildirsize`
//! file in the account's root, as Courier, maildrop, Exim and Dovecot's
//! `maildir` quota backend keep it (Courier's `README.maildirquota`), so
//! that a quota check reads one small file instead of every folder.
//!
//! ```text
//! 1048576S,1000C    the quota definition: bytes and messages (a line of its own)
//! 52314 13          bytes and messages, summed at the last recount
//! 2048 1            a delivery, an APPEND or a COPY
//! -4096 -2          an expunge
//! ```
//!
//! The first line is the limits the server enforces ([`Limits`]:
//! `--quota` and `--message-quota`, `S` and `C`, either left out when the
//! account has no such limit); every other line is a change in bytes and
//! messages, appended with one `O_APPEND` write, and the usage is their
//! sum. The file is counted from scratch (every folder's messages, by the
//! `,S=` sizes of their names) and written anew when it is missing or
//! unreadable, when it has grown to [`RECOUNT_LEN`] bytes, when its first
//! line is not the limits checked against, and when it says an account is
//! over its quota and was last written more than [`RECOUNT_AGE`] ago: as
//! Maildir++ says, a change made behind the file's back (a message removed
//! by hand, a change whose line was lost) shows until then. A change when
//! there is no file is left out: the next recount sees it.
//!
//! An account without a quota gets its file, with an empty first line,
//! the first time its usage is asked for (the webmail's display): then
//! its deliveries and changes are lines too, and the display one read.
//!
//! A recount races the changes made while it counts (Maildir++'s own
//! flaw): a change whose line lands between the count and the new file
//! is lost, one counted and then appended to the new file counts twice.
//! Within the server every change is a [`Change`], begun before its
//! first file operation and finished after its line, and a recount
//! writes its file only when no change of the account was in flight
//! from before its count to its write ([`Recount`]); otherwise it
//! answers with its count and leaves the file to the next check. A
//! change made by another program (Dovecot on the same Maildir) still
//! races as Maildir++ says.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// The file's name in the account's root.
pub(crate) const FILE: &str = "maildirsize";

/// A file this long is counted again from scratch (Maildir++: 5120).
pub(crate) const RECOUNT_LEN: u64 = 5120;

/// A file that says an account is over its quota is counted again when it
/// was last written longer ago than this (Maildir++: 15 minutes).
pub(crate) const RECOUNT_AGE: Duration = Duration::from_secs(15 * 60);

/// An account's quota (RFC 9208 §5): the bytes of its messages, all
/// folders together (`STORAGE`, Maildir++'s `S`), and their number
/// (`MESSAGE`, `C`); `None`: no such limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Limits {
    pub(crate) storage: Option<u64>,
    pub(crate) messages: Option<u64>,
}

/// What an account holds, or what an operation adds to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Usage {
    pub(crate) bytes: u64,
    pub(crate) messages: u64,
}

/// The resource a quota limits (RFC 9208 §5.1, §5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Resource {
    Storage,
    Messages,
}

impl Resource {
    /// The resource as a quota's kind is named in a sentence
    /// (`storage`, `message`).
    pub(crate) fn word(self) -> &'static str {
        match self {
            Resource::Storage => "storage",
            Resource::Messages => "message",
        }
    }
}

impl Limits {
    /// Whether there is any limit (the account then has a quota root).
    pub(crate) fn any(&self) -> bool {
        self.storage.is_some() || self.messages.is_some()
    }

    /// The limit `used` and then `adding` would pass, if any (the storage
    /// first). Adding nothing passes none, even over a limit (a MOVE).
    pub(crate) fn passed_by(&self, used: Usage, adding: Usage) -> Option<Resource> {
        if adding == Usage::default() {
            return None;
        }
        let over = |limit: Option<u64>, used: u64, adding: u64| {
            limit.is_some_and(|l| used.saturating_add(adding) > l)
        };
        if over(self.storage, used.bytes, adding.bytes) {
            Some(Resource::Storage)
        } else if over(self.messages, used.messages, adding.messages) {
            Some(Resource::Messages)
        } else {
            None
        }
    }

    /// The quota definition line (`1048576S,1000C`; empty for none).
    fn definition(&self) -> String {
        let s = self.storage.map(|n| format!("{n}S"));
        let c = self.messages.map(|n| format!("{n}C"));
        s.into_iter().chain(c).collect::<Vec<_>>().join(",")
    }
}

/// What a `maildirsize` holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Sizes {
    /// The limits of the first line.
    pub(crate) limits: Limits,
    /// The sum of the byte column.
    pub(crate) bytes: i64,
    /// The sum of the message column.
    pub(crate) messages: i64,
    /// The file's length.
    pub(crate) len: u64,
    /// When it was last written.
    pub(crate) modified: SystemTime,
}

impl Sizes {
    /// The sums as a usage (a negative one as nothing).
    pub(crate) fn usage(&self) -> Usage {
        Usage {
            bytes: self.bytes.max(0) as u64,
            messages: self.messages.max(0) as u64,
        }
    }

    /// Whether the sums can be believed at all: a file not grown too
    /// long, without a negative sum.
    pub(crate) fn sane(&self) -> bool {
        self.len < RECOUNT_LEN && self.bytes >= 0 && self.messages >= 0
    }

    /// Whether these sums answer a check against `limits` adding `adding`
    /// at `now`, or the folders must be counted again.
    pub(crate) fn answers(&self, limits: &Limits, adding: Usage, now: SystemTime) -> bool {
        let over = limits.passed_by(self.usage(), adding).is_some();
        let old = now
            .duration_since(self.modified)
            .is_ok_and(|age| age > RECOUNT_AGE);
        self.limits == *limits && self.sane() && !(over && old)
    }
}

/// Reads `root`'s `maildirsize`: `None` when there is none or it is not
/// one (a first line that is no quota definition, another line that is
/// not two integers).
pub(crate) fn read(root: &Path) -> io::Result<Option<Sizes>> {
    // One open: the text and the length and time of the same file.
    let read = |mut f: fs::File| -> io::Result<(Vec<u8>, fs::Metadata)> {
        let md = f.metadata()?;
        let mut text = Vec::with_capacity(md.len() as usize);
        io::Read::read_to_end(&mut f, &mut text)?;
        Ok((text, md))
    };
    let (text, md) = match fs::File::open(root.join(FILE)).and_then(read) {
        Ok(x) => x,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    Ok(parse(&text).map(|(limits, bytes, messages)| Sizes {
        limits,
        bytes,
        messages,
        len: md.len(),
        modified: md.modified().unwrap_or(SystemTime::UNIX_EPOCH),
    }))
}

/// The limits of the first line and the sums of the others; `None` for a
/// text that is not a `maildirsize` (a last line cut short by a crash
/// included: the file is then counted again).
fn parse(text: &[u8]) -> Option<(Limits, i64, i64)> {
    let text = std::str::from_utf8(text).ok()?;
    let body = text.strip_suffix('\n')?;
    let mut lines = body.split('\n');
    let limits = parse_definition(lines.next()?)?;
    let (mut bytes, mut messages) = (0i64, 0i64);
    for line in lines {
        let mut cols = line.split_ascii_whitespace();
        let b: i64 = cols.next()?.parse().ok()?;
        let m: i64 = cols.next()?.parse().ok()?;
        if cols.next().is_some() {
            return None;
        }
        bytes = bytes.checked_add(b)?;
        messages = messages.checked_add(m)?;
    }
    Some((limits, bytes, messages))
}

/// A quota definition (`1000000S,1000C`, either part left out): its
/// limits; `None` for anything else.
fn parse_definition(line: &str) -> Option<Limits> {
    let mut limits = Limits::default();
    for member in line.split(',').filter(|m| !m.trim().is_empty()) {
        let m = member.trim();
        if let Some(n) = m.strip_suffix('S') {
            limits.storage = Some(n.parse().ok()?);
        } else {
            limits.messages = Some(m.strip_suffix('C')?.parse().ok()?);
        }
    }
    Some(limits)
}

/// Writes `root`'s `maildirsize` anew (atomically): `limits` and the sums
/// of a recount.
fn write(root: &Path, limits: &Limits, used: Usage) -> io::Result<()> {
    let text = format!(
        "{}\n{} {}\n",
        limits.definition(),
        used.bytes,
        used.messages
    );
    crate::maildir::write_atomic(&root.join(FILE), text.as_bytes())
}

/// Appends a change of `bytes` and `messages` to `root`'s `maildirsize`
/// when it has one (one write of one line, `O_APPEND`). Never fails the
/// change itself, which is done: a line that cannot be written takes the
/// file away, so that the next check counts from scratch.
fn record(root: &Path, bytes: i64, messages: i64) {
    if bytes == 0 && messages == 0 {
        return;
    }
    let path = root.join(FILE);
    let line = format!("{bytes} {messages}\n");
    let res = OpenOptions::new()
        .append(true)
        .open(&path)
        .and_then(|mut f| f.write_all(line.as_bytes()));
    match res {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(_) => forget(root),
    }
}

/// Takes `root`'s `maildirsize` away after a change it cannot record: the
/// next check counts from scratch.
fn forget(root: &Path) {
    let _ = fs::remove_file(root.join(FILE));
}

/// The changes begun and finished of one account: a recount compares
/// them before its count and before its write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct InFlight {
    begun: u64,
    finished: u64,
}

/// The [`InFlight`] counts of every account a change or recount has
/// touched, by its root (an entry per account, kept: a count that started
/// again from zero could match an earlier one). Each account's counts have
/// a lock of their own, which a recount holds through its write without
/// holding up the changes of other accounts.
static IN_FLIGHT: Mutex<BTreeMap<PathBuf, Arc<Mutex<InFlight>>>> = Mutex::new(BTreeMap::new());

/// The counts of the account whose root is `root`.
fn counts_of(root: &Path) -> Arc<Mutex<InFlight>> {
    let mut all = IN_FLIGHT.lock().unwrap_or_else(|e| e.into_inner());
    match all.get(root) {
        Some(c) => Arc::clone(c),
        None => Arc::clone(all.entry(root.to_path_buf()).or_default()),
    }
}

/// Locks `counts`.
fn lock(counts: &Mutex<InFlight>) -> std::sync::MutexGuard<'_, InFlight> {
    counts.lock().unwrap_or_else(|e| e.into_inner())
}

/// A recount of an account's folders under way: made before the count
/// ([`Recount::begin`]), it writes the account's file after it only when
/// no change was in flight at the start and none began meanwhile
/// ([`Recount::write`]).
pub(crate) struct Recount<'a> {
    root: &'a Path,
    counts: Arc<Mutex<InFlight>>,
    /// The changes begun when the count started, if none was in flight.
    quiet_at: Option<u64>,
}

impl<'a> Recount<'a> {
    /// A recount of the account whose root is `root`, starting now.
    pub(crate) fn begin(root: &'a Path) -> Self {
        let counts = counts_of(root);
        let f = *lock(&counts);
        Self {
            root,
            counts,
            quiet_at: (f.begun == f.finished).then_some(f.begun),
        }
    }

    /// Writes the account's file anew with `limits` and the count `used`
    /// ([`write`]) when no change of it overlapped the count; the counts'
    /// lock is held through the write, so a change that begins now makes
    /// its file operations after it and its line goes into the new file.
    /// Whether it was written (a change overlapped, or the write failed:
    /// the next check counts again either way).
    pub(crate) fn write(self, limits: &Limits, used: Usage) -> bool {
        let f = lock(&self.counts);
        let quiet = self
            .quiet_at
            .is_some_and(|b| f.begun == b && f.finished == b);
        quiet && write(self.root, limits, used).is_ok()
    }
}

/// The change one operation makes to an account's usage, recorded in
/// one line when it is dropped: after the operation, whether it finished
/// or stopped at an error part of the way (what it did by then counts).
/// Made before the operation's first file operation: while it lives, a
/// recount of the account does not write its file ([`Recount`]).
#[derive(Debug)]
pub(crate) struct Change<'a> {
    root: Cow<'a, Path>,
    counts: Arc<Mutex<InFlight>>,
    bytes: i64,
    messages: i64,
    /// Take the file away instead of recording (a change that cannot be
    /// known: [`Change::forget`]).
    forget: bool,
}

impl<'a> Change<'a> {
    /// No change yet to the account whose root is `root`.
    pub(crate) fn new(root: impl Into<Cow<'a, Path>>) -> Self {
        let root = root.into();
        let counts = counts_of(&root);
        lock(&counts).begun += 1;
        Self {
            root,
            counts,
            bytes: 0,
            messages: 0,
            forget: false,
        }
    }

    /// A change of `bytes` and `messages` in one (a folder deleted whole).
    pub(crate) fn add_counts(&mut self, bytes: i64, messages: i64) {
        self.bytes = self.bytes.saturating_add(bytes);
        self.messages = self.messages.saturating_add(messages);
    }

    /// A change whose size is not known (a folder that could not be read
    /// was deleted): the file is taken away when this is dropped, so that
    /// the next check counts from scratch ([`forget`]).
    pub(crate) fn forget(&mut self) {
        self.forget = true;
    }

    /// A message of `size` bytes came in.
    pub(crate) fn add(&mut self, size: u64) {
        self.bytes = self.bytes.saturating_add_unsigned(size);
        self.messages += 1;
    }

    /// A message of `size` bytes went away.
    pub(crate) fn remove(&mut self, size: u64) {
        self.bytes = self.bytes.saturating_sub_unsigned(size);
        self.messages -= 1;
    }
}

impl Drop for Change<'_> {
    fn drop(&mut self) {
        if self.forget {
            forget(&self.root);
        } else {
            record(&self.root, self.bytes, self.messages);
        }
        lock(&self.counts).finished += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn dir(tag: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!(
            "mailwire-it-quota-{tag}-{}",
            crate::maildir::queue_id()
        ));
        fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn the_specifications_example_sums() {
        // README.maildirquota's form: a definition, then byte and message
        // counts, some negative, padded with spaces as Courier pads them.
        let text = b"10000000S,1000C\n  52314    13\n2048 1\n-4096 -2\n";
        let both = Limits {
            storage: Some(10_000_000),
            messages: Some(1000),
        };
        assert_eq!(parse(text), Some((both, 50266, 12)));
        let count = Limits {
            storage: None,
            messages: Some(1000),
        };
        assert_eq!(parse(b"1000C\n5 1\n"), Some((count, 5, 1)));
        assert_eq!(parse(b"\n"), Some((Limits::default(), 0, 0)));
        // Written as read.
        assert_eq!(both.definition(), "10000000S,1000C");
        assert_eq!(count.definition(), "1000C");
    }

    #[test]
    fn a_damaged_file_is_no_answer() {
        for bad in [
            &b""[..],
            b"100S\n5 1",                          // the last line cut short
            b"100S\n5\n",                          // one column
            b"100S\n5 1 7\n",                      // three
            b"100S\nfive 1\n",                     // not a number
            b"100X\n5 1\n",                        // not a definition
            "1\u{e9}\n5 1\n".as_bytes(),           // nor this
            b"100S\n9223372036854775807 1\n1 1\n", // overflow
        ] {
            assert_eq!(parse(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn changes_append_and_a_missing_file_stays_missing() {
        let d = dir("append");
        record(&d, 100, 1);
        assert_eq!(read(&d).unwrap(), None);
        write(&d, &storage(1000), used(300, 3)).unwrap();
        record(&d, 100, 1);
        record(&d, -50, -1);
        record(&d, 0, 0);
        let s = read(&d).unwrap().unwrap();
        assert_eq!((s.limits, s.bytes, s.messages), (storage(1000), 350, 3));
        assert_eq!(
            fs::read_to_string(d.join(FILE)).unwrap(),
            "1000S\n300 3\n100 1\n-50 -1\n"
        );
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_change_is_one_line_when_dropped() {
        let d = dir("change");
        write(&d, &storage(1000), Usage::default()).unwrap();
        {
            let mut c = Change::new(&d);
            c.add(300);
            c.add(200);
            c.remove(100);
        }
        drop(Change::new(&d));
        assert_eq!(
            fs::read_to_string(d.join(FILE)).unwrap(),
            "1000S\n0 0\n400 1\n"
        );
        fs::remove_dir_all(&d).unwrap();
    }

    fn storage(n: u64) -> Limits {
        Limits {
            storage: Some(n),
            messages: None,
        }
    }

    fn used(bytes: u64, messages: u64) -> Usage {
        Usage { bytes, messages }
    }

    #[test]
    fn when_the_sums_answer() {
        let now = SystemTime::now();
        let s = Sizes {
            limits: storage(1000),
            bytes: 900,
            messages: 9,
            len: 100,
            modified: now,
        };
        let l = storage(1000);
        assert!(s.answers(&l, used(100, 1), now));
        // Other limits, a long file, a negative sum: counted again.
        assert!(!s.answers(&storage(2000), used(100, 1), now));
        let counted = Limits {
            messages: Some(10),
            ..l
        };
        assert!(!s.answers(&counted, used(100, 1), now));
        let long = Sizes {
            len: RECOUNT_LEN,
            ..s
        };
        assert!(!long.answers(&l, used(100, 1), now));
        assert!(!Sizes { bytes: -1, ..s }.answers(&l, used(100, 1), now));
        // Over the quota: believed while fresh, counted again when old.
        assert!(s.answers(&l, used(101, 1), now));
        let later = now + RECOUNT_AGE + Duration::from_secs(1);
        assert!(!s.answers(&l, used(101, 1), later));
        assert!(s.answers(&l, used(100, 1), later));
    }

    proptest! {
        /// Any bytes: a `maildirsize` or not, never a panic; and what is
        /// written, then changed line by line, reads back as its sums.
        #[test]
        fn any_text_parses_or_not(text in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = parse(&text);
        }

        #[test]
        fn written_and_changed_reads_back(
            storage in proptest::option::of(0u64..1 << 40),
            messages in proptest::option::of(0u64..1 << 20),
            start in (0u64..1 << 30, 0u64..1000),
            changes in proptest::collection::vec((-5000i64..5000, -3i64..3), 0..20),
        ) {
            let limits = Limits { storage, messages };
            let mut text = format!("{}\n{} {}\n", limits.definition(), start.0, start.1);
            for (b, m) in &changes {
                text.push_str(&format!("{b} {m}\n"));
            }
            let bytes = start.0 as i64 + changes.iter().map(|c| c.0).sum::<i64>();
            let count = start.1 as i64 + changes.iter().map(|c| c.1).sum::<i64>();
            prop_assert_eq!(parse(text.as_bytes()), Some((limits, bytes, count)));
        }
    }

    /// RFC 9208 §5: a limit is passed when what is held and what comes
    /// together go over it (equal fits); the storage is named first;
    /// nothing added passes nothing.
    #[test]
    fn which_limit_is_passed() {
        let l = Limits {
            storage: Some(1000),
            messages: Some(10),
        };
        assert_eq!(l.passed_by(used(900, 9), used(100, 1)), None);
        assert_eq!(
            l.passed_by(used(900, 9), used(101, 1)),
            Some(Resource::Storage)
        );
        assert_eq!(
            l.passed_by(used(900, 10), used(1, 1)),
            Some(Resource::Messages)
        );
        assert_eq!(l.passed_by(used(2000, 20), Usage::default()), None);
        assert_eq!(
            Limits::default().passed_by(used(u64::MAX, 0), used(1, 1)),
            None
        );
        assert!(l.any() && !Limits::default().any());
    }
}

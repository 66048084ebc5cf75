//! The storage an account uses, kept the Maildir++ way: a `maildirsize`
//! file in the account's root, as Courier, maildrop, Exim and Dovecot's
//! `maildir` quota backend keep it (Courier's `README.maildirquota`), so
//! that a quota check reads one small file instead of every folder.
//!
//! ```text
//! 1048576S          the quota definition: bytes (a line of its own)
//! 52314 13          bytes and messages, summed at the last recount
//! 2048 1            a delivery, an APPEND or a COPY
//! -4096 -2          an expunge
//! ```
//!
//! The first line is the limit the server enforces (`--quota`); every
//! other line is a change in bytes and messages, appended with one
//! `O_APPEND` write, and the usage is their sum. The file is counted from
//! scratch (every folder's messages, by the `,S=` sizes of their names)
//! and written anew when it is missing or unreadable, when it has grown to
//! [`RECOUNT_LEN`] bytes, when its first line is not the limit checked
//! against, and when it says an account is over its quota and was last
//! written more than [`RECOUNT_AGE`] ago: as Maildir++ says, a change made
//! behind the file's back (a message removed by hand, a change whose line
//! was lost) shows until then. A change when there is no file is left
//! out: the next recount sees it.
//!
//! An account without a quota has no file: its usage (IMAP's GETQUOTA
//! without a limit, the webmail's display) is counted from the folders
//! each time, as before.

use std::fs::{self, OpenOptions};
use std::io::{self, Write as _};
use std::path::Path;
use std::time::{Duration, SystemTime};

/// The file's name in the account's root.
pub(crate) const FILE: &str = "maildirsize";

/// A file this long is counted again from scratch (Maildir++: 5120).
pub(crate) const RECOUNT_LEN: u64 = 5120;

/// A file that says an account is over its quota is counted again when it
/// was last written longer ago than this (Maildir++: 15 minutes).
pub(crate) const RECOUNT_AGE: Duration = Duration::from_secs(15 * 60);

/// What a `maildirsize` holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Sizes {
    /// The byte limit of the first line (`None`: the line gives none).
    pub(crate) limit: Option<u64>,
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
    /// Whether these sums answer a check against `limit` adding `adding`
    /// bytes at `now`, or the folders must be counted again.
    pub(crate) fn answers(&self, limit: u64, adding: u64, now: SystemTime) -> bool {
        let over = self.bytes.max(0) as u64 + adding > limit;
        let old = now
            .duration_since(self.modified)
            .is_ok_and(|age| age > RECOUNT_AGE);
        self.limit == Some(limit)
            && self.len < RECOUNT_LEN
            && self.bytes >= 0
            && self.messages >= 0
            && !(over && old)
    }
}

/// Reads `root`'s `maildirsize`: `None` when there is none or it is not
/// one (a line that is not two integers, a first line without a limit).
pub(crate) fn read(root: &Path) -> io::Result<Option<Sizes>> {
    let path = root.join(FILE);
    let (text, md) = match fs::read(&path).and_then(|t| Ok((t, fs::metadata(&path)?))) {
        Ok(x) => x,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    Ok(parse(&text).map(|(limit, bytes, messages)| Sizes {
        limit,
        bytes,
        messages,
        len: md.len(),
        modified: md.modified().unwrap_or(SystemTime::UNIX_EPOCH),
    }))
}

/// The limit of the first line and the sums of the others; `None` for a
/// text that is not a `maildirsize` (a last line cut short by a crash
/// included: the file is then counted again).
fn parse(text: &[u8]) -> Option<(Option<u64>, i64, i64)> {
    let text = std::str::from_utf8(text).ok()?;
    let body = text.strip_suffix('\n')?;
    let mut lines = body.split('\n');
    let limit = parse_definition(lines.next()?)?;
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
    Some((limit, bytes, messages))
}

/// A quota definition (`1000000S,1000C`): its byte limit, `None` when it
/// has none; not a definition (`None` outside) for anything else.
fn parse_definition(line: &str) -> Option<Option<u64>> {
    let mut limit = None;
    for member in line.split(',').filter(|m| !m.trim().is_empty()) {
        let m = member.trim();
        if let Some(n) = m.strip_suffix('S') {
            limit = Some(n.parse().ok()?);
        } else {
            m.strip_suffix('C')?.parse::<u64>().ok()?;
        }
    }
    Some(limit)
}

/// Writes `root`'s `maildirsize` anew (atomically): `limit` and the sums
/// of a recount.
pub(crate) fn write(root: &Path, limit: u64, bytes: u64, messages: u64) -> io::Result<()> {
    let text = format!("{limit}S\n{bytes} {messages}\n");
    crate::maildir::write_atomic(&root.join(FILE), text.as_bytes())
}

/// Appends a change of `bytes` and `messages` to `root`'s `maildirsize`
/// when it has one (one write of one line, `O_APPEND`). Never fails the
/// change itself, which is done: a line that cannot be written takes the
/// file away, so that the next check counts from scratch.
pub(crate) fn record(root: &Path, bytes: i64, messages: i64) {
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
        Err(_) => {
            let _ = fs::remove_file(&path);
        }
    }
}

/// The change one operation makes to an account's usage, recorded in
/// one line when it is dropped: after the operation, whether it finished
/// or stopped at an error part of the way (what it did by then counts).
#[derive(Debug)]
pub(crate) struct Change<'a> {
    root: &'a Path,
    bytes: i64,
    messages: i64,
}

impl<'a> Change<'a> {
    /// No change yet to the account whose root is `root`.
    pub(crate) fn new(root: &'a Path) -> Self {
        Self {
            root,
            bytes: 0,
            messages: 0,
        }
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
        record(self.root, self.bytes, self.messages);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(parse(text), Some((Some(10_000_000), 50266, 12)));
        assert_eq!(parse(b"1000C\n5 1\n"), Some((None, 5, 1)));
        assert_eq!(parse(b"\n"), Some((None, 0, 0)));
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
        write(&d, 1000, 300, 3).unwrap();
        record(&d, 100, 1);
        record(&d, -50, -1);
        record(&d, 0, 0);
        let s = read(&d).unwrap().unwrap();
        assert_eq!((s.limit, s.bytes, s.messages), (Some(1000), 350, 3));
        assert_eq!(
            fs::read_to_string(d.join(FILE)).unwrap(),
            "1000S\n300 3\n100 1\n-50 -1\n"
        );
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_change_is_one_line_when_dropped() {
        let d = dir("change");
        write(&d, 1000, 0, 0).unwrap();
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

    #[test]
    fn when_the_sums_answer() {
        let now = SystemTime::now();
        let s = Sizes {
            limit: Some(1000),
            bytes: 900,
            messages: 9,
            len: 100,
            modified: now,
        };
        assert!(s.answers(1000, 100, now));
        // Another limit, a long file, a negative sum: counted again.
        assert!(!s.answers(2000, 100, now));
        assert!(
            !Sizes {
                len: RECOUNT_LEN,
                ..s
            }
            .answers(1000, 100, now)
        );
        assert!(!Sizes { bytes: -1, ..s }.answers(1000, 100, now));
        // Over the quota: believed while fresh, counted again when old.
        assert!(s.answers(1000, 101, now));
        let later = now + RECOUNT_AGE + Duration::from_secs(1);
        assert!(!s.answers(1000, 101, later));
        assert!(s.answers(1000, 100, later));
    }
}

//! Maildir mailboxes (`DIR/mailboxes/USER/{tmp,new,cur}`) and the file
//! system steps that make a delivery durable.
//!
//! A delivery writes the whole message to `tmp/NAME`, fsyncs the file, moves
//! it to `new/NAME` (rename, or a hard link for a second recipient) and fsyncs
//! the `new` directory. Only then does the server answer 250.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// The process id, asked once.
fn pid() -> u32 {
    static PID: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *PID.get_or_init(std::process::id)
}

/// A file name no other delivery in this or any other run gets: seconds,
/// microseconds, process id, a per-process counter and the host name, in the
/// form Maildir readers expect (`1700000000.M012345P42Q7.host`).
pub(crate) fn unique_name(host: &str) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    // '/' and ':' may not appear in a Maildir name.
    let host: String = host
        .chars()
        .map(|c| match c {
            '/' => '_',
            ':' => '_',
            c => c,
        })
        .collect();
    // Microseconds zero-padded, so that names sort in delivery order
    // (POP3 numbers the maildrop in name order).
    format!(
        "{}.M{:06}P{}Q{}.{}",
        now.as_secs(),
        now.subsec_micros(),
        pid(),
        n,
        host
    )
}

/// A queue id: 14 upper-case hex digits of time, process and counter,
/// unique across restarts.
pub(crate) fn queue_id() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!(
        "{:09X}{:05X}{:04X}{:04X}",
        now.as_secs(),
        now.subsec_micros(),
        pid() & 0xffff,
        n & 0xffff
    )
}

/// fsyncs a directory, so that entries created or renamed in it survive a
/// crash.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    sync_file(&File::open(dir)?)
}

/// fsyncs a file. On a thread of the connection pool, another thread
/// serves the other connections while it waits (`driver::blocking`).
pub(crate) fn sync_file(f: &File) -> io::Result<()> {
    crate::driver::blocking(|| f.sync_all())
}

/// Creates a new file that must not exist yet.
pub(crate) fn create_new(path: &Path) -> io::Result<File> {
    OpenOptions::new().write(true).create_new(true).open(path)
}

/// Writes `data` to `path` atomically: a temporary file beside it, fsync,
/// rename over `path`, fsync of the directory.
pub(crate) fn write_atomic(path: &Path, data: &[u8]) -> io::Result<()> {
    write_through_tmp(path, data, 0o666)
}

/// [`write_atomic`] for a file readable by its owner only (mode 0600,
/// from its creation on).
pub(crate) fn write_atomic_private(path: &Path, data: &[u8]) -> io::Result<()> {
    write_through_tmp(path, data, 0o600)
}

/// [`write_atomic`] with the temporary file created with `mode` (less
/// the umask).
fn write_through_tmp(path: &Path, data: &[u8], mode: u32) -> io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt as _;
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", unique_name("w")));
    let res = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        f.write_all(data)?;
        sync_file(&f)?;
        fs::rename(&tmp, path)?;
        sync_dir(dir)
    })();
    if res.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    res
}

/// The mailboxes of all accounts.
#[derive(Debug, Clone)]
pub(crate) struct Maildirs {
    root: PathBuf,
}

/// The end of the name of an SMTP delivery's spool file in `tmp/`
/// ([`Maildirs::spool_path`]): what tells it from the other files there
/// (an IMAP COPY's link of a stored message, another program's file),
/// which a start only removes.
const SPOOL_MARK: &str = ".delivering";

/// The spool files of deliveries a crash interrupted after their first
/// copies were made ([`Maildirs::open`]): the message in the first
/// account's `tmp/`, hard-linked as each other account's copy in its
/// `new/` and as the queue's message file. None of them was acknowledged
/// (the 250 comes after the last step, the spool's rename out of `tmp/`),
/// so [`Interrupted::undo`] takes the copies away: the client's retry
/// then delivers the message once, not once more to those accounts. Only
/// the delivery itself links its spool, created fresh, so no other message
/// shares its inode.
#[derive(Debug, Default)]
pub(crate) struct Interrupted {
    /// The spool files (in some `tmp/`), each with other links.
    spools: Vec<PathBuf>,
    /// Their (device, inode): what their copies share.
    inodes: std::collections::HashSet<(u64, u64)>,
}

impl Interrupted {
    /// Whether no delivery was interrupted (the usual start).
    pub(crate) fn is_empty(&self) -> bool {
        self.spools.is_empty()
    }

    /// Whether the (device, inode) of `md` is an interrupted delivery's.
    pub(crate) fn holds(&self, md: &fs::Metadata) -> bool {
        use std::os::unix::fs::MetadataExt as _;
        self.inodes.contains(&(md.dev(), md.ino()))
    }

    /// Removes the copies of the interrupted deliveries from the `new/` of
    /// every folder of every account under `maildirs`, then the spool
    /// files (the queue's links go first: `Queue::drop_interrupted`).
    /// Returns the copies removed. A copy a reader already moved to
    /// `cur/` stays: someone saw it.
    pub(crate) fn undo(self, maildirs: &Maildirs) -> io::Result<Vec<PathBuf>> {
        let mut removed = Vec::new();
        if self.is_empty() {
            return Ok(removed);
        }
        for folder in maildirs.every_folder()? {
            let new = folder.join("new");
            let Ok(files) = fs::read_dir(&new) else {
                continue;
            };
            let mut any = false;
            // A copy that cannot be read or removed stays (a duplicate
            // at worst), and the start goes on.
            for e in files.flatten() {
                if e.metadata().is_ok_and(|md| self.holds(&md)) && fs::remove_file(e.path()).is_ok()
                {
                    removed.push(e.path());
                    any = true;
                }
            }
            if any {
                sync_dir(&new)?;
            }
        }
        for spool in &self.spools {
            let _ = fs::remove_file(spool);
        }
        Ok(removed)
    }
}

impl Maildirs {
    /// Opens (creating as needed) `root` and one Maildir per user, and
    /// removes what an interrupted delivery or copy left in their `tmp/`:
    /// a file there was never acknowledged. A delivery's spool with other
    /// links (in the `tmp/` of any folder) is a delivery interrupted after
    /// its first copies: it stays for [`Interrupted::undo`], which finds
    /// them by it.
    pub(crate) fn open(root: &Path, users: &[&str]) -> io::Result<(Self, Interrupted)> {
        use std::os::unix::fs::MetadataExt as _;
        fs::create_dir_all(root)?;
        let this = Self {
            root: root.to_path_buf(),
        };
        for u in users {
            let dir = this.dir(u);
            for sub in ["tmp", "new", "cur"] {
                fs::create_dir_all(dir.join(sub))?;
            }
        }
        // Looked up once per folder of the store: a set, not a list.
        let accounts: std::collections::HashSet<PathBuf> =
            users.iter().map(|u| this.dir(u)).collect();
        let mut interrupted = Interrupted::default();
        for folder in this.every_folder()? {
            let Ok(files) = fs::read_dir(folder.join("tmp")) else {
                continue;
            };
            let inbox = accounts.contains(&folder);
            for entry in files.flatten() {
                let Ok(md) = entry.metadata() else {
                    continue;
                };
                let spool = entry.file_name().to_string_lossy().ends_with(SPOOL_MARK);
                if !md.is_file() || !(spool || inbox) {
                    continue;
                }
                if spool && md.nlink() > 1 {
                    interrupted.inodes.insert((md.dev(), md.ino()));
                    interrupted.spools.push(entry.path());
                } else {
                    let _ = fs::remove_file(entry.path());
                }
            }
        }
        Ok((this, interrupted))
    }

    /// Every account's directory under the root (INBOX) and its Maildir++
    /// folders (`.Name`); a directory that cannot be read is left out.
    fn every_folder(&self) -> io::Result<Vec<PathBuf>> {
        let mut folders = Vec::new();
        for account in fs::read_dir(&self.root)?.flatten() {
            let account = account.path();
            let Ok(entries) = fs::read_dir(&account) else {
                continue;
            };
            for f in entries.flatten() {
                if f.file_name().to_string_lossy().starts_with('.') && f.path().is_dir() {
                    folders.push(f.path());
                }
            }
            folders.push(account);
        }
        Ok(folders)
    }

    /// A path in `USER/tmp/` for a delivery's spool (marked as one, see
    /// [`Interrupted`]) and the fresh unique name its message takes in
    /// `new/` ([`Self::commit`]).
    pub(crate) fn spool_path(&self, user: &str, host: &str) -> (PathBuf, String) {
        let name = unique_name(host);
        let path = self
            .dir(user)
            .join("tmp")
            .join(format!("{name}{SPOOL_MARK}"));
        (path, name)
    }

    /// The Maildir of `user`.
    pub(crate) fn dir(&self, user: &str) -> PathBuf {
        self.root.join(user)
    }

    /// `USER/tmp/NAME` for a fresh unique name.
    pub(crate) fn tmp_path(&self, user: &str, host: &str) -> (PathBuf, String) {
        let name = unique_name(host);
        (self.dir(user).join("tmp").join(&name), name)
    }

    /// Moves a complete, fsynced `tmp` file of `user` into `new/` of
    /// `folder` (a Maildir++ folder directory such as `.Junk`; `""` for
    /// INBOX) and fsyncs that `new/`. On error the file is at `tmp`.
    pub(crate) fn commit(
        &self,
        tmp: &Path,
        user: &str,
        folder: &str,
        name: &str,
    ) -> io::Result<PathBuf> {
        let new_dir = self.dir(user).join(folder).join("new");
        let dest = new_dir.join(name);
        fs::rename(tmp, &dest)?;
        if let Err(e) = sync_dir(&new_dir) {
            // Not delivered: back in `tmp/`, where the caller's clean-up
            // of a failed delivery finds it.
            let _ = fs::rename(&dest, tmp);
            return Err(e);
        }
        Ok(dest)
    }

    /// Delivers the already fsynced file `src` to `user`'s `folder` (as in
    /// [`Self::commit`]) as well: a hard link
    /// into `tmp/`, then a rename into `new/` (a copy when the link fails,
    /// e.g. across file systems) under a fresh name ending in `suffix`.
    /// Does not fsync `new/`: call [`Self::sync_new`].
    pub(crate) fn link_into(
        &self,
        src: &Path,
        user: &str,
        folder: &str,
        host: &str,
        suffix: &str,
    ) -> io::Result<PathBuf> {
        let (tmp, name) = self.tmp_path(user, host);
        let name = format!("{name}{suffix}");
        if fs::hard_link(src, &tmp).is_err()
            && let Err(e) = fs::copy(src, &tmp).and_then(|_| sync_file(&File::open(&tmp)?))
        {
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
        let dest = self.dir(user).join(folder).join("new").join(name);
        if let Err(e) = fs::rename(&tmp, &dest) {
            // Not left in `tmp/` for the next cleanup to find.
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
        Ok(dest)
    }

    /// fsyncs `USER/FOLDER/new`.
    pub(crate) fn sync_new(&self, user: &str, folder: &str) -> io::Result<()> {
        sync_dir(&self.dir(user).join(folder).join("new"))
    }

    /// Whether `USER/FOLDER` (a Maildir++ folder directory such as
    /// `.Junk`) can take a delivery.
    pub(crate) fn has_folder(&self, user: &str, folder: &str) -> bool {
        self.dir(user).join(folder).join("new").is_dir()
    }

    /// The files in `USER/new` and `USER/cur` (for tests and the log).
    #[allow(dead_code)]
    pub(crate) fn messages(&self, user: &str) -> io::Result<Vec<PathBuf>> {
        let mut out = Vec::new();
        for sub in ["new", "cur"] {
            for e in fs::read_dir(self.dir(user).join(sub))? {
                out.push(e?.path());
            }
        }
        out.sort();
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::io::Write;

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("mailserver-maildir-{name}-{}", queue_id()));
        fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn names_are_unique_and_clean() {
        let mut seen = HashSet::new();
        for _ in 0..10_000 {
            assert!(seen.insert(unique_name("a/b:c")));
        }
        assert!(seen.iter().all(|n| !n.contains('/') && !n.contains(':')));
        let ids: HashSet<_> = (0..10_000).map(|_| queue_id()).collect();
        assert_eq!(ids.len(), 10_000);
    }

    #[test]
    fn tmp_to_new_and_links() {
        let root = scratch("deliver");
        let (md, _) = Maildirs::open(&root, &["u1", "u2"]).unwrap();
        for sub in ["tmp", "new", "cur"] {
            assert!(root.join("u1").join(sub).is_dir());
        }
        let (tmp, name) = md.tmp_path("u1", "host");
        let mut f = create_new(&tmp).unwrap();
        f.write_all(b"Subject: x\r\n\r\nhi\r\n").unwrap();
        f.sync_all().unwrap();
        let other = md.link_into(&tmp, "u2", "", "host", ",S=17").unwrap();
        assert!(other.to_string_lossy().ends_with(",S=17"));
        md.sync_new("u2", "").unwrap();
        let dest = md.commit(&tmp, "u1", "", &name).unwrap();
        assert!(!tmp.exists());
        assert_eq!(fs::read(&dest).unwrap(), b"Subject: x\r\n\r\nhi\r\n");
        assert_eq!(fs::read(&other).unwrap(), b"Subject: x\r\n\r\nhi\r\n");
        assert_eq!(md.messages("u1").unwrap(), vec![dest]);
        assert_eq!(md.messages("u2").unwrap(), vec![other]);
        assert!(fs::read_dir(root.join("u2/tmp")).unwrap().next().is_none());
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn open_cleans_tmp() {
        let root = scratch("clean");
        let (md, _) = Maildirs::open(&root, &["u"]).unwrap();
        let (tmp, _) = md.tmp_path("u", "h");
        fs::write(&tmp, b"partial").unwrap();
        let (_, interrupted) = Maildirs::open(&root, &["u"]).unwrap();
        assert!(!tmp.exists());
        assert!(interrupted.spools.is_empty());
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn atomic_write_replaces() {
        let root = scratch("atomic");
        let p = root.join("f.json");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert_eq!(fs::read_dir(&root).unwrap().count(), 1);
        fs::remove_dir_all(&root).unwrap();
    }
}

//! Storing an accepted message: local recipients get it in their Maildir,
//! remote ones through the queue, all on disk before the 250.
//!
//! The content is spooled once while it arrives: into `tmp/` of the first
//! local recipient (with the Return-Path field in front), or into
//! `DIR/queue/tmp` when every recipient is remote. At the end of DATA the
//! spool is fsynced, hard-linked into the other mailboxes and the queue, and
//! renamed into `new/`; then the directories are fsynced.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::config::{Config, Quotas};
use crate::maildir::{self, Maildirs};
use crate::mailstore::{MailStore, quota};
use crate::queue::{Entry, Queue};
use mailwire::pop3::WireSize;

/// Where a recipient's copy goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Dest {
    /// The Maildir of this account (or of one of its folders, `user/.tag`,
    /// see [`account_of`]).
    Local(String),
    /// The queue, for delivery to another server.
    Remote,
}

/// The account of a local destination: its name without the folder a
/// plus-address put after a `/` (`alice/.lists` is alice's).
pub(crate) fn account_of(local: &str) -> &str {
    local.split('/').next().unwrap_or(local)
}

/// Everything that stores mail.
#[derive(Debug)]
pub(crate) struct Store {
    /// The configuration of the start.
    pub(crate) cfg: Arc<Config>,
    /// Where mail goes: the configuration of the start with the accounts,
    /// aliases and lists of the config file's last reading
    /// ([`Store::take_routing`]).
    routing: std::sync::RwLock<Arc<Config>>,
    /// The quotas in force: the configuration's at the start, replaced by
    /// [`Store::set_quotas`] when the config file changes.
    quotas: std::sync::RwLock<Quotas>,
    pub(crate) maildirs: Maildirs,
    /// The folders, UIDs and flags over the same Maildirs (IMAP, POP3).
    pub(crate) mail: MailStore,
    pub(crate) queue: Arc<Queue>,
}

/// Splits `local@domain` at the last '@'.
pub(crate) fn split_addr(addr: &str) -> Option<(&str, &str)> {
    let (l, d) = addr.rsplit_once('@')?;
    (!l.is_empty() && !d.is_empty()).then_some((l, d))
}

/// The RFC 5322 §3.3 date-time of a Unix time, in UTC
/// (`mailwire_message::DateTime`).
pub(crate) fn rfc5322_date(unix: u64) -> String {
    let t = i64::try_from(unix).unwrap_or(0);
    match mailwire::message::DateTime::from_unix(t, 0) {
        Ok(d) => d.to_rfc5322(),
        // Out of the years 1900-9999: not a clock this program runs under.
        Err(_) => "Thu, 1 Jan 1970 00:00:00 +0000".to_string(),
    }
}

/// Now as a Unix time.
pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// How a message came in, for its Received field (RFC 5321 §4.4).
#[derive(Debug, Clone, Default)]
pub(crate) struct Trace {
    pub(crate) helo: String,
    pub(crate) peer: String,
    pub(crate) tls: bool,
    pub(crate) auth: bool,
    pub(crate) extended: bool,
}

/// The Received field (RFC 5321 §4.4, protocol names of RFC 3848), folded,
/// ending in CRLF. `for_rcpt` is given when there is a single recipient.
pub(crate) fn received_field(
    hostname: &str,
    id: &str,
    trace: &Trace,
    for_rcpt: Option<&str>,
    unix: u64,
) -> String {
    let with = match (trace.extended, trace.tls, trace.auth) {
        (false, _, _) => "SMTP",
        (true, false, false) => "ESMTP",
        (true, true, false) => "ESMTPS",
        (true, false, true) => "ESMTPA",
        (true, true, true) => "ESMTPSA",
    };
    // The HELO name came from the peer: keep only what is safe in a
    // field (the machine already validated it as a domain or literal).
    let helo: String = trace
        .helo
        .chars()
        .filter(|c| c.is_ascii_graphic() && *c != '(' && *c != ')')
        .collect();
    let mut value = format!(
        "from {helo} ({}) by {hostname} (mailwire) with {with} id {id}",
        trace.peer
    );
    if let Some(r) = for_rcpt {
        value.push_str(&format!(" for <{r}>"));
    }
    value.push_str(&format!("; {}", rfc5322_date(unix)));
    let mut out = Vec::with_capacity(value.len() + 16);
    mailwire::message::fold_field("Received", &value, &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// The Return-Path field added at final delivery (RFC 5321 §4.4).
pub(crate) fn return_path_field(sender: &str) -> String {
    format!("Return-Path: <{sender}>\r\n")
}

enum Spool {
    /// Discard (`--sink`).
    Sink,
    /// In `tmp/` of this user, with this unique name.
    Maildir {
        user: String,
        name: String,
        path: PathBuf,
        file: BufWriter<File>,
    },
    /// In `DIR/queue/tmp`.
    Queue {
        path: PathBuf,
        file: BufWriter<File>,
    },
}

/// A message being received.
pub(crate) struct Incoming {
    pub(crate) id: String,
    sender: String,
    rcpts: Vec<(String, Dest)>,
    spool: Spool,
    /// Length of the Return-Path field at the start of the spool.
    offset: u64,
    pub(crate) size: u64,
    /// The stored size with CRLF line ends (`,W=` in the Maildir name).
    wire: WireSize,
    pub(crate) eight_bit: bool,
    pub(crate) smtputf8: bool,
    /// The envelope sender of the queued (remote) copy when it differs
    /// from the one in Return-Path: SRS for forwarded mail.
    pub(crate) remote_sender: Option<String>,
    /// The DSN requests (RFC 3461) for the queued copy.
    pub(crate) dsn: crate::bounce::Request,
    pub(crate) rcpt_dsn: std::collections::BTreeMap<String, crate::bounce::RcptRequest>,
    /// MT-PRIORITY (RFC 6710) for the queued copy.
    pub(crate) priority: Option<mailwire::smtp::Priority>,
    /// REQUIRETLS (RFC 8689) for the queued copy.
    pub(crate) requiretls: bool,
    /// Local copies go to the recipients' Junk folder (a DMARC
    /// quarantine), where it exists; INBOX otherwise.
    pub(crate) junk: bool,
}

impl std::fmt::Debug for Incoming {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Incoming")
            .field("id", &self.id)
            .field("size", &self.size)
            .finish()
    }
}

/// What [`Incoming::commit`] did.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Stored {
    pub(crate) local: Vec<PathBuf>,
    pub(crate) queued: usize,
}

impl Store {
    /// Opens the data directory, recovering the queue and cleaning `tmp/`.
    pub(crate) fn open(cfg: Arc<Config>) -> io::Result<Self> {
        fs::create_dir_all(&cfg.data)?;
        let users: Vec<&str> = cfg.users.iter().map(|u| u.name.as_str()).collect();
        let (maildirs, interrupted) = Maildirs::open(&cfg.data.join("mailboxes"), &users)?;
        let queue = Arc::new(Queue::open(&cfg.data.join("queue"))?);
        // Deliveries a crash cut off after their first copies: never
        // acknowledged, so their copies and queue entries go (the
        // client's retry brings the message again, once).
        for id in queue.drop_interrupted(&interrupted) {
            crate::driver::log(format!(
                "queue: {id} dropped: its delivery was interrupted before the answer"
            ));
        }
        for copy in interrupted.undo(&maildirs)? {
            crate::driver::log(format!(
                "{}: removed: a copy of a delivery interrupted before the answer",
                copy.display()
            ));
        }
        // After the clean-up: the store's first look at the folders
        // finds none of those copies.
        let mail = MailStore::open(&cfg.data.join("mailboxes"), &users)?;
        Ok(Self {
            quotas: std::sync::RwLock::new(cfg.quotas.clone()),
            routing: std::sync::RwLock::new(cfg.clone()),
            cfg,
            maildirs,
            mail,
            queue,
        })
    }

    /// The quotas in force.
    fn quotas(&self) -> std::sync::RwLockReadGuard<'_, Quotas> {
        self.quotas.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Both limits of `user`'s quota, as in force now.
    pub(crate) fn quota_limits(&self, user: &str) -> crate::mailstore::Limits {
        self.quotas().limits(user)
    }

    /// Whether any account has a quota now.
    pub(crate) fn any_quota(&self) -> bool {
        self.quotas().any()
    }

    /// Puts `quotas` in force (a change of the config file: every check
    /// from now on uses them, and an account's `maildirsize` takes its new
    /// limits at its next check). Whether they differ from those in force.
    pub(crate) fn set_quotas(&self, quotas: Quotas) -> bool {
        let mut now = self.quotas.write().unwrap_or_else(|e| e.into_inner());
        let changed = *now != quotas;
        *now = quotas;
        changed
    }

    /// The accounts, aliases and lists mail is routed by now (see
    /// [`Store::take_routing`]), in the configuration of the start.
    pub(crate) fn routing(&self) -> Arc<Config> {
        self.routing
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Puts the accounts, aliases and mailing lists of `new` (the config
    /// file read again) in force for mail routing: an account it gained
    /// gets its folders first, then mail for it is accepted; mail for an
    /// account it lost is refused from now on (its folders stay as they
    /// are); the next recipient meets the aliases and lists as they are
    /// now (a post accepted before keeps its list's configuration). Which
    /// of the aliases and lists changed, for the log; `Err`: a gained
    /// account's folders could not be made, nothing changed.
    pub(crate) fn take_routing(&self, new: &Config) -> io::Result<Vec<&'static str>> {
        let mut routing = self.routing.write().unwrap_or_else(|e| e.into_inner());
        let mut changed = Vec::new();
        if routing.aliases != new.aliases {
            changed.push("aliases");
        }
        if routing.lists != new.lists {
            changed.push("lists");
        }
        let same_accounts = routing.users.len() == new.users.len()
            && routing
                .users
                .iter()
                .zip(&new.users)
                .all(|(x, y)| x.name == y.name);
        if same_accounts && changed.is_empty() {
            return Ok(changed);
        }
        for u in &new.users {
            if routing.user(&u.name).is_none_or(|had| had.name != u.name) {
                // Its INBOX is the Maildir deliveries write into.
                self.mail.create_account(&u.name)?;
            }
        }
        let mut next = (*self.cfg).clone();
        next.users = new.users.clone();
        next.aliases = new.aliases.clone();
        next.lists = new.lists.clone();
        *routing = Arc::new(next);
        Ok(changed)
    }

    /// Where mail for `addr` goes, or `None` for a local domain without
    /// such an account.
    pub(crate) fn classify(&self, addr: &str) -> Option<Dest> {
        let (local, domain) = split_addr(addr)?;
        if self.cfg.is_local_domain(domain) {
            self.routing()
                .user(local)
                .map(|u| Dest::Local(u.name.clone()))
        } else {
            Some(Dest::Remote)
        }
    }

    /// Starts spooling a message. `prefix` is the trace (Received) field.
    pub(crate) fn begin(
        &self,
        id: String,
        sender: &str,
        rcpts: Vec<(String, Dest)>,
        prefix: &[u8],
    ) -> io::Result<Incoming> {
        let mut offset = 0;
        let mut wire = WireSize::new();
        let spool = if self.cfg.sink {
            Spool::Sink
        } else if let Some(user) = rcpts.iter().find_map(|(_, d)| match d {
            Dest::Local(u) => Some(u.clone()),
            Dest::Remote => None,
        }) {
            let (path, name) = self.maildirs.spool_path(&user, &self.cfg.hostname);
            let mut file = BufWriter::with_capacity(64 * 1024, maildir::create_new(&path)?);
            let rp = return_path_field(sender);
            offset = rp.len() as u64;
            wire.push(rp.as_bytes());
            file.write_all(rp.as_bytes())?;
            Spool::Maildir {
                user,
                name,
                path,
                file,
            }
        } else {
            let path = self.queue.tmp_path(&id);
            let file = BufWriter::with_capacity(64 * 1024, maildir::create_new(&path)?);
            Spool::Queue { path, file }
        };
        let mut inc = Incoming {
            id,
            sender: sender.to_string(),
            rcpts,
            spool,
            offset,
            size: 0,
            wire,
            eight_bit: false,
            smtputf8: false,
            remote_sender: None,
            dsn: Default::default(),
            rcpt_dsn: Default::default(),
            priority: None,
            requiretls: false,
            junk: false,
        };
        inc.write(prefix)?;
        Ok(inc)
    }

    /// Stores a complete message from memory (bounces).
    pub(crate) fn inject(
        &self,
        id: String,
        sender: &str,
        rcpts: Vec<(String, Dest)>,
        data: &[u8],
    ) -> io::Result<Stored> {
        self.inject_requiring_tls(id, sender, rcpts, data, false)
    }

    /// [`inject`](Self::inject), with `requiretls` the message is relayed
    /// only as REQUIRETLS (RFC 8689) allows, with the parameter.
    pub(crate) fn inject_requiring_tls(
        &self,
        id: String,
        sender: &str,
        rcpts: Vec<(String, Dest)>,
        data: &[u8],
        requiretls: bool,
    ) -> io::Result<Stored> {
        let mut inc = self.begin(id, sender, rcpts, b"")?;
        inc.requiretls = requiretls;
        inc.write(data)?;
        inc.commit(self)
    }
}

impl Incoming {
    /// Appends content.
    pub(crate) fn write(&mut self, data: &[u8]) -> io::Result<()> {
        self.size += data.len() as u64;
        self.wire.push(data);
        match &mut self.spool {
            Spool::Sink => Ok(()),
            Spool::Maildir { file, .. } | Spool::Queue { file, .. } => file.write_all(data),
        }
    }

    /// The content written so far (without the Return-Path field), the
    /// spool removed: to store it again for other recipients.
    pub(crate) fn into_content(self) -> io::Result<Vec<u8>> {
        let offset = self.offset as usize;
        match self.spool {
            Spool::Sink => Ok(Vec::new()),
            Spool::Maildir { path, file, .. } | Spool::Queue { path, file } => {
                let res = file
                    .into_inner()
                    .map_err(|e| e.into_error())
                    .and_then(|_| fs::read(&path));
                let _ = fs::remove_file(&path);
                let mut data = res?;
                data.drain(..offset.min(data.len()));
                Ok(data)
            }
        }
    }

    /// Throws the message away.
    pub(crate) fn abort(self) {
        match self.spool {
            Spool::Sink => {}
            Spool::Maildir { path, file, .. } | Spool::Queue { path, file } => {
                drop(file);
                let _ = fs::remove_file(path);
            }
        }
    }

    /// Makes the message durable for every recipient. On error nothing was
    /// acknowledged and, for local recipients, nothing is left: the copies
    /// and queue files made before the failing step are taken away (a
    /// crash part of the way can still leave some: a copy not yet taken
    /// away, or queue files a restart delivers).
    pub(crate) fn commit(self, store: &Store) -> io::Result<Stored> {
        let Incoming {
            id,
            sender,
            rcpts,
            spool,
            offset,
            size,
            wire,
            eight_bit,
            smtputf8,
            remote_sender,
            dsn,
            rcpt_dsn,
            priority,
            requiretls,
            junk,
            ..
        } = self;
        // The Maildir name carries the sizes (Dovecot's `,S=` and `,W=`),
        // so that no reader opens the file to learn them.
        let sizes = format!(",S={},W={}", offset + size, wire.size());
        let mut stored = Stored::default();
        if let Spool::Sink = spool {
            // `--sink`: nothing to make durable, no queue entry to build.
            return Ok(stored);
        }
        let remote: Vec<String> = rcpts
            .iter()
            .filter(|(_, d)| *d == Dest::Remote)
            .map(|(a, _)| a.clone())
            .collect();
        let mut entry = Entry::new(id.clone(), remote_sender.unwrap_or(sender), remote);
        entry.offset = offset;
        entry.eight_bit = eight_bit;
        entry.smtputf8 = smtputf8;
        entry.dsn = dsn;
        entry.priority = priority;
        entry.requiretls = requiretls;
        entry.rcpt_dsn = rcpt_dsn
            .into_iter()
            .filter(|(r, _)| entry.recipients.contains(r))
            .collect();
        let finish = |file: BufWriter<File>| -> io::Result<()> {
            let f = file.into_inner().map_err(|e| e.into_error())?;
            crate::maildir::sync_file(&f)
        };
        match spool {
            Spool::Sink => {}
            Spool::Queue { path, file } => {
                if let Err(e) = finish(file) {
                    let _ = fs::remove_file(&path);
                    return Err(e);
                }
                stored.queued = entry.recipients.len();
                store.queue.enqueue(entry, &path, true)?;
            }
            Spool::Maildir {
                user,
                name,
                path,
                file,
            } => {
                if let Err(e) = finish(file) {
                    let _ = fs::remove_file(&path);
                    return Err(e);
                }
                let mut others: Vec<&str> = Vec::new();
                for (_, d) in &rcpts {
                    if let Dest::Local(u) = d
                        && u != &user
                        && !others.contains(&u.as_str())
                    {
                        others.push(u);
                    }
                }
                // Where each copy goes, the other accounts' then the
                // first's (looked up once): `u`'s own directory (INBOX, or
                // a plus-address folder `user/.tag`), or, quarantined, the
                // account's Junk folder when it has one.
                let places: Vec<(String, &'static str)> = others
                    .iter()
                    .copied()
                    .chain([user.as_str()])
                    .map(|u| {
                        let account = account_of(u);
                        if junk && store.maildirs.has_folder(account, JUNK) {
                            (account.to_string(), JUNK)
                        } else {
                            (u.to_string(), "")
                        }
                    })
                    .collect();
                let (own, other_places) = places
                    .split_last()
                    .unwrap_or_else(|| unreachable!("the first account is in the list"));
                // Each account's usage (`maildirsize`) grows by its copies:
                // each change begun before the first copy is made (a
                // recount meanwhile leaves the file alone) and recorded
                // when dropped.
                let mut changes: Vec<(&str, quota::Change)> = Vec::new();
                for (to, _) in &places {
                    let account = account_of(to);
                    if !changes.iter().any(|(a, _)| *a == account) {
                        let root = store.mail.user_root(account);
                        changes.push((account, quota::Change::new(root)));
                    }
                }
                // All or nothing: the copies for the other accounts, the
                // queue's files, then the spool itself into the first
                // account's folder; should a step fail, those before it
                // are undone, so that the 451 the client gets leaves no
                // copy its retry would make twice. The queue's entry goes
                // to the delivery threads only after the last step.
                let mut made: Vec<(PathBuf, &str)> = Vec::new();
                let mut prepared = false;
                let res = (|| -> io::Result<()> {
                    for (to, folder) in other_places {
                        let dest = store.maildirs.link_into(
                            &path,
                            to,
                            folder,
                            &store.cfg.hostname,
                            &sizes,
                        )?;
                        made.push((dest, to));
                    }
                    for (to, folder) in other_places {
                        store.maildirs.sync_new(to, folder)?;
                    }
                    if !entry.recipients.is_empty() {
                        store.queue.prepare(&entry, &path, false)?;
                        prepared = true;
                    }
                    let (to, folder) = own;
                    let dest =
                        store
                            .maildirs
                            .commit(&path, to, folder, &format!("{name}{sizes}"))?;
                    made.push((dest, to));
                    Ok(())
                })();
                if let Err(e) = res {
                    // Undone, uncounted: no session was told of these
                    // copies (one that looked in `new/` on its own in the
                    // meantime keeps what it took there).
                    for (dest, _) in &made {
                        let _ = fs::remove_file(dest);
                    }
                    if prepared {
                        store.queue.discard(&entry.id);
                    }
                    let _ = fs::remove_file(&path);
                    return Err(e);
                }
                for (dest, to) in made {
                    if let Some((_, c)) = changes.iter_mut().find(|(a, _)| *a == account_of(to)) {
                        c.add(offset + size);
                    }
                    stored.local.push(dest);
                }
                drop(changes);
                if prepared {
                    stored.queued = entry.recipients.len();
                    store.queue.publish(entry);
                }
                // IMAP sessions (IDLE) of these folders look now (the
                // folder's directory as the store names it: INBOX is the
                // account's root, without a final separator).
                for (to, folder) in &places {
                    let root = store.mail.user_root(to);
                    let dir = match *folder {
                        "" => root,
                        f => root.join(f),
                    };
                    store.mail.delivered(&dir);
                }
            }
        }
        Ok(stored)
    }
}

/// The Maildir++ directory of the Junk folder (see [`crate::mailstore`]).
const JUNK: &str = ".Junk";

/// Reads a file, for tests and bounces.
#[allow(dead_code)]
pub(crate) fn read(path: &Path) -> io::Result<Vec<u8>> {
    fs::read(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Command;

    fn store(extra: &[&str]) -> (Store, PathBuf) {
        let dir = std::env::temp_dir().join(format!("mailserver-store-{}", maildir::queue_id()));
        let mut args = vec!["--data".to_string(), dir.display().to_string()];
        args.extend(extra.iter().map(|s| s.to_string()));
        let Command::Run(cfg) = Config::parse(args).unwrap() else {
            panic!()
        };
        (Store::open(Arc::new(*cfg)).unwrap(), dir)
    }

    #[test]
    fn dates() {
        assert_eq!(rfc5322_date(0), "Thu, 1 Jan 1970 00:00:00 +0000");
        assert_eq!(rfc5322_date(951_782_400), "Tue, 29 Feb 2000 00:00:00 +0000");
        assert_eq!(
            rfc5322_date(1_700_000_000),
            "Tue, 14 Nov 2023 22:13:20 +0000"
        );
    }

    #[test]
    fn received() {
        let t = Trace {
            helo: "client.test".into(),
            peer: "[127.0.0.1]".into(),
            tls: true,
            auth: false,
            extended: true,
        };
        assert_eq!(
            received_field("mx.test", "ABC", &t, Some("u@mx.test"), 0),
            "Received: from client.test ([127.0.0.1]) by mx.test (mailwire) with ESMTPS id\r\n ABC for <u@mx.test>; Thu, 1 Jan 1970 00:00:00 +0000\r\n"
        );
    }

    /// The quotas start as the configuration's; new ones are in force for
    /// the next check, and a store says whether they changed anything.
    #[test]
    fn quotas_replaced() {
        let (s, dir) = store(&["--user", "x:1", "--quota", "1K"]);
        let limits = |storage, messages| crate::mailstore::Limits { storage, messages };
        assert_eq!(s.quota_limits("x"), limits(Some(1024), None));
        assert!(s.any_quota());
        let mut q = s.cfg.quotas.clone();
        assert!(!s.set_quotas(q.clone()), "the same quotas change nothing");
        q.messages = Some(2);
        q.storages.insert("x".into(), None);
        assert!(s.set_quotas(q));
        assert_eq!(s.quota_limits("x"), limits(None, Some(2)));
        // Two messages fit, three do not: the check has the new limits
        // (and no longer the storage one).
        let usage = |messages| crate::mailstore::Usage {
            bytes: 4096,
            messages,
        };
        let over = |n| s.mail.exceeds("x", &s.quota_limits("x"), usage(n)).unwrap();
        assert_eq!(over(2), None);
        assert_eq!(over(3), Some(crate::mailstore::Resource::Messages));
        assert!(s.set_quotas(Default::default()));
        assert!(!s.any_quota());
        let _ = std::fs::remove_dir_all(dir);
    }

    /// A delivery to two accounts and a remote recipient cut off by a
    /// crash after the other account's copy and the queue's files, before
    /// the spool's rename (so before the 250): the next start takes the
    /// copy and the queue entry away, and leaves a finished delivery and
    /// a copy a reader already moved to `cur/` alone.
    #[test]
    fn interrupted_delivery_undone_at_start() {
        let args = ["--domain", "a.test", "--user", "x:1", "--user", "y:1"];
        let (s, dir) = store(&args);
        let spool = |s: &Store, text: &[u8]| {
            let (path, name) = s.maildirs.spool_path("x", "h");
            let mut f = maildir::create_new(&path).unwrap();
            f.write_all(text).unwrap();
            f.sync_all().unwrap();
            (path, name)
        };
        // Finished: the copy for y, then x's own.
        let (done, name) = spool(&s, b"Subject: done\r\n\r\n");
        let done_y = s.maildirs.link_into(&done, "y", "", "h", "").unwrap();
        let done_x = s.maildirs.commit(&done, "x", "", &name).unwrap();
        // Cut off: y's copy, the queue's files, no rename of the spool.
        let (cut, _) = spool(&s, b"Subject: cut\r\n\r\n");
        let cut_y = s.maildirs.link_into(&cut, "y", "", "h", "").unwrap();
        let seen = s.maildirs.link_into(&cut, "y", "", "h", "").unwrap();
        let seen_cur = dir.join("mailboxes/y/cur").join(seen.file_name().unwrap());
        fs::rename(&seen, &seen_cur).unwrap();
        let entry = Entry::new("CUT1".into(), "a@a.test".into(), vec!["r@b.test".into()]);
        s.queue.prepare(&entry, &cut, false).unwrap();
        let kept = Entry::new("KEPT1".into(), "a@a.test".into(), vec!["r@b.test".into()]);
        s.queue.enqueue(kept, &done_x, false).unwrap();
        // An IMAP COPY of the finished message into y's INBOX, cut off
        // between its link in tmp/ and its rename: that link goes, the
        // message it links stays.
        let copying = dir.join("mailboxes/y/tmp/1.M1P1Q1.h");
        fs::hard_link(&done_x, &copying).unwrap();
        drop(s);

        let Command::Run(cfg) = Config::parse(
            ["--data", dir.to_str().unwrap()]
                .iter()
                .chain(&args)
                .map(|a| a.to_string()),
        )
        .unwrap() else {
            panic!()
        };
        let s = Store::open(Arc::new(*cfg)).unwrap();
        assert!(!cut_y.exists(), "the cut-off copy is gone");
        assert!(!cut.exists(), "and its spool");
        assert!(seen_cur.exists(), "a copy a reader took to cur/ stays");
        assert!(
            done_x.exists() && done_y.exists(),
            "the finished delivery stays"
        );
        assert!(!copying.exists(), "a cut-off COPY's link goes");
        assert_eq!(s.queue.len(), 1, "only the finished delivery's entry");
        assert!(!s.queue.msg_path("CUT1").exists());
        assert!(s.queue.msg_path("KEPT1").exists());
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn classify() {
        let (s, dir) = store(&["--domain", "a.test", "--user", "x:1"]);
        assert_eq!(s.classify("X@A.test"), Some(Dest::Local("x".into())));
        assert_eq!(
            s.classify("postmaster@a.test"),
            Some(Dest::Local("x".into()))
        );
        assert_eq!(s.classify("y@a.test"), None);
        assert_eq!(s.classify("y@b.test"), Some(Dest::Remote));
        assert_eq!(s.classify("nodomain"), None);
        fs::remove_dir_all(dir).unwrap();
    }

    /// The accounts and aliases of a config file read again route mail at
    /// once: a gained account has its folders before mail for it is
    /// taken, a lost one's mail is refused (its folders stay), the rest of
    /// the configuration is the start's.
    #[test]
    fn accounts_read_again_route_mail() {
        let (s, dir) = store(&["--domain", "a.test", "--user", "x:1"]);
        let reread = |args: &[&str]| {
            let mut all = vec!["--data", dir.to_str().unwrap(), "--domain", "b.test"];
            all.extend_from_slice(args);
            let Command::Run(c) = Config::parse(all).unwrap() else {
                panic!()
            };
            c
        };
        assert!(
            s.take_routing(&reread(&["--user", "x:2"]))
                .unwrap()
                .is_empty(),
            "same names"
        );
        assert_eq!(s.classify("y@a.test"), None);
        let new = reread(&["--user", "y:1", "--alias", "team@a.test=y@a.test"]);
        assert_eq!(s.take_routing(&new).unwrap(), ["aliases"]);
        assert_eq!(s.classify("y@a.test"), Some(Dest::Local("y".into())));
        assert!(dir.join("mailboxes/y/new").is_dir());
        assert!(dir.join("mailboxes/y/.Sent/cur").is_dir());
        assert_eq!(s.classify("x@a.test"), None, "x is gone");
        assert!(dir.join("mailboxes/x/new").is_dir(), "its mailbox stays");
        assert_eq!(
            s.classify("postmaster@a.test"),
            Some(Dest::Local("y".into()))
        );
        assert_eq!(s.routing().aliases.len(), 1);
        // The domains stay the start's.
        assert_eq!(s.classify("y@b.test"), Some(Dest::Remote));
        // A list: in the routing, the rest as it was.
        let members = dir.join("team.members");
        let list = format!("news@a.test={}", members.display());
        let with_list = reread(&[
            "--user",
            "y:1",
            "--alias",
            "team@a.test=y@a.test",
            "--list",
            &list,
        ]);
        assert_eq!(s.take_routing(&with_list).unwrap(), ["lists"]);
        assert_eq!(s.routing().lists["news@a.test"].file, members);
        assert_eq!(s.classify("y@a.test"), Some(Dest::Local("y".into())));
        assert!(s.take_routing(&with_list).unwrap().is_empty());
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn local_and_remote_copies() {
        let (s, dir) = store(&["--user", "a:1", "--user", "b:2"]);
        let rcpts = vec![
            ("a@localhost".to_string(), Dest::Local("a".into())),
            ("b@localhost".to_string(), Dest::Local("b".into())),
            ("a@localhost".to_string(), Dest::Local("a".into())),
            ("z@remote.test".to_string(), Dest::Remote),
        ];
        let mut inc = s
            .begin("Q1".into(), "s@x.test", rcpts, b"Received: x\r\n")
            .unwrap();
        inc.write(b"Subject: t\r\n\r\nbody\r\n").unwrap();
        let st = inc.commit(&s).unwrap();
        assert_eq!(st.local.len(), 2, "one copy per account");
        assert_eq!(st.queued, 1);
        for p in &st.local {
            assert_eq!(
                fs::read(p).unwrap(),
                b"Return-Path: <s@x.test>\r\nReceived: x\r\nSubject: t\r\n\r\nbody\r\n"
            );
        }
        let e = &s.queue.entries()[0];
        assert_eq!(e.recipients, ["z@remote.test"]);
        assert_eq!(
            s.queue.read_message(e).unwrap(),
            b"Received: x\r\nSubject: t\r\n\r\nbody\r\n"
        );
        assert!(
            fs::read_dir(dir.join("mailboxes/a/tmp"))
                .unwrap()
                .next()
                .is_none()
        );
        fs::remove_dir_all(dir).unwrap();
    }

    /// A delivery that fails part of the way leaves nothing: the copies
    /// made for the other accounts and the queue's files are taken away,
    /// and the queue's delivery threads never saw the entry, so the
    /// client's retry after the 451 makes no copy twice. Here the first
    /// account's `new/` is a file, so the last step fails; then another
    /// account's, so the first one does.
    #[test]
    fn a_delivery_that_fails_part_of_the_way_is_undone() {
        let (s, dir) = store(&["--user", "a:1", "--user", "b:2", "--user", "c:3"]);
        let boxes = dir.join("mailboxes");
        let rcpts = vec![
            ("a@localhost".to_string(), Dest::Local("a".into())),
            ("b@localhost".to_string(), Dest::Local("b".into())),
            ("c@localhost".to_string(), Dest::Local("c".into())),
            ("z@remote.test".to_string(), Dest::Remote),
        ];
        let files = |p: PathBuf| fs::read_dir(p).unwrap().count();
        for (broken, id) in [("a", "Q7"), ("c", "Q8")] {
            fs::remove_dir(boxes.join(broken).join("new")).unwrap();
            fs::write(boxes.join(broken).join("new"), b"not a directory").unwrap();
            let mut inc = s.begin(id.into(), "s@x.test", rcpts.clone(), b"").unwrap();
            inc.write(b"Subject: t\r\n\r\nbody\r\n").unwrap();
            assert!(inc.commit(&s).is_err(), "{broken}");
            for u in ["a", "b", "c"] {
                if u != broken {
                    assert_eq!(files(boxes.join(u).join("new")), 0, "{broken}: {u}/new");
                }
                assert_eq!(files(boxes.join(u).join("tmp")), 0, "{broken}: {u}/tmp");
            }
            assert!(s.queue.entries().is_empty(), "{broken}");
            assert!(!s.queue.msg_path(id).exists(), "{broken}");
            fs::remove_file(boxes.join(broken).join("new")).unwrap();
            fs::create_dir(boxes.join(broken).join("new")).unwrap();
        }
        // Mended, the same delivery goes through whole.
        let mut inc = s.begin("Q9".into(), "s@x.test", rcpts, b"").unwrap();
        inc.write(b"Subject: t\r\n\r\nbody\r\n").unwrap();
        let st = inc.commit(&s).unwrap();
        assert_eq!((st.local.len(), st.queued), (3, 1));
        for u in ["a", "b", "c"] {
            assert_eq!(files(boxes.join(u).join("new")), 1, "{u}");
        }
        assert_eq!(s.queue.entries().len(), 1);
        fs::remove_dir_all(dir).unwrap();
    }

    /// Each local copy adds its size to its account's `maildirsize` where
    /// the account has one (a quota check made it), a plus-addressed
    /// folder's to the account's; without the file nothing is written.
    #[test]
    fn deliveries_count_in_maildirsize() {
        let (s, dir) = store(&["--user", "a:1", "--user", "b:2", "--user", "d:4"]);
        for sub in ["tmp", "new", "cur"] {
            fs::create_dir_all(dir.join("mailboxes/d/.lists").join(sub)).unwrap();
        }
        let limits = crate::mailstore::Limits {
            storage: Some(10_000),
            messages: None,
        };
        let one = crate::mailstore::Usage {
            bytes: 1,
            messages: 1,
        };
        for u in ["a", "d"] {
            assert_eq!(s.mail.exceeds(u, &limits, one).unwrap(), None);
        }
        let rcpts = vec![
            ("a@localhost".to_string(), Dest::Local("a".into())),
            ("b@localhost".to_string(), Dest::Local("b".into())),
            (
                "d+lists@localhost".to_string(),
                Dest::Local("d/.lists".into()),
            ),
        ];
        let mut inc = s.begin("Q2".into(), "s@x.test", rcpts, b"").unwrap();
        inc.write(b"Subject: t\r\n\r\nbody\r\n").unwrap();
        let st = inc.commit(&s).unwrap();
        let size = fs::metadata(&st.local[0]).unwrap().len();
        let file = |u: &str| fs::read_to_string(dir.join("mailboxes").join(u).join("maildirsize"));
        assert_eq!(file("a").unwrap(), format!("10000S\n0 0\n{size} 1\n"));
        assert_eq!(file("d").unwrap(), format!("10000S\n0 0\n{size} 1\n"));
        assert!(file("b").is_err());
        assert_eq!(s.mail.usage("d").unwrap().bytes, size);
        fs::remove_dir_all(dir).unwrap();
    }

    /// A quarantined message (DMARC) goes to each account's Junk folder,
    /// or to INBOX where the account deleted its Junk folder; the queued
    /// copy is the same.
    #[test]
    fn quarantine_goes_to_junk() {
        let (s, dir) = store(&[
            "--user", "a:1", "--user", "b:2", "--user", "c:3", "--user", "d:4",
        ]);
        fs::remove_dir_all(dir.join("mailboxes/c/.Junk")).unwrap();
        for sub in ["tmp", "new", "cur"] {
            fs::create_dir_all(dir.join("mailboxes/d/.lists").join(sub)).unwrap();
        }
        let rcpts = vec![
            ("a@localhost".to_string(), Dest::Local("a".into())),
            ("b@localhost".to_string(), Dest::Local("b".into())),
            ("c@localhost".to_string(), Dest::Local("c".into())),
            // Plus-addressed into a folder: the account's Junk all the same.
            (
                "d+lists@localhost".to_string(),
                Dest::Local("d/.lists".into()),
            ),
            ("z@remote.test".to_string(), Dest::Remote),
        ];
        let mut inc = s.begin("Q9".into(), "s@x.test", rcpts, b"").unwrap();
        inc.junk = true;
        inc.write(b"Subject: t\r\n\r\nbody\r\n").unwrap();
        let st = inc.commit(&s).unwrap();
        let mut places: Vec<String> = st
            .local
            .iter()
            .map(|p| {
                let p = p.strip_prefix(dir.join("mailboxes")).unwrap();
                p.parent().unwrap().display().to_string()
            })
            .collect();
        places.sort();
        assert_eq!(
            places,
            ["a/.Junk/new", "b/.Junk/new", "c/new", "d/.Junk/new"]
        );
        assert_eq!(st.queued, 1);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn content_read_back_without_return_path() {
        let (s, dir) = store(&["--user", "a:1"]);
        let mut inc = s
            .begin(
                "Q5".into(),
                "s@x.test",
                vec![("a@localhost".into(), Dest::Local("a".into()))],
                b"Received: x\r\n",
            )
            .unwrap();
        inc.write(b"Subject: t\r\n\r\nbody\r\n").unwrap();
        assert_eq!(
            inc.into_content().unwrap(),
            b"Received: x\r\nSubject: t\r\n\r\nbody\r\n"
        );
        assert_eq!(
            fs::read_dir(dir.join("mailboxes/a/tmp")).unwrap().count(),
            0
        );
        assert!(s.maildirs.messages("a").unwrap().is_empty());
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn remote_only_and_abort_and_sink() {
        let (s, dir) = store(&[]);
        let inc = s
            .begin(
                "Q2".into(),
                "",
                vec![("z@r.test".into(), Dest::Remote)],
                b"R\r\n",
            )
            .unwrap();
        inc.abort();
        assert_eq!(fs::read_dir(dir.join("queue/tmp")).unwrap().count(), 0);
        let st = s
            .inject(
                "Q3".into(),
                "",
                vec![("z@r.test".into(), Dest::Remote)],
                b"m\r\n",
            )
            .unwrap();
        assert_eq!(st.queued, 1);
        let e = &s.queue.entries()[0];
        assert_eq!(s.queue.read_message(e).unwrap(), b"m\r\n");
        fs::remove_dir_all(&dir).unwrap();

        let (s, dir) = store(&["--sink"]);
        let mut inc = s
            .begin(
                "Q4".into(),
                "",
                vec![("demo@localhost".into(), Dest::Local("demo".into()))],
                b"",
            )
            .unwrap();
        inc.write(b"xyz").unwrap();
        assert_eq!(inc.size, 3);
        assert_eq!(inc.commit(&s).unwrap(), Stored::default());
        assert!(s.maildirs.messages("demo").unwrap().is_empty());
        fs::remove_dir_all(dir).unwrap();
    }
}

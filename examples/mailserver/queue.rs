//! The persistent outgoing queue in `DIR/queue`.
//!
//! Each message is two files: `ID.msg`, the message as it will be sent
//! (possibly after `offset` bytes of a local Return-Path field, when the file
//! is shared with a mailbox by a hard link), and `ID.env`, its envelope as
//! JSON. `ID.msg` is written and fsynced first; the atomic rename of `ID.env`
//! (temporary file, fsync, rename, fsync of the directory) is the commit
//! point. On start, an `ID.msg` without an envelope was never acknowledged and
//! is removed; every envelope is loaded again. Removal deletes the envelope
//! first, so a crash never leaves an envelope without its message.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mailwire::smtp::{Priority, Ret};
use serde_json::{Value, json};

use crate::maildir::{sync_dir, write_atomic};

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// One queued message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) id: String,
    /// The reverse path without angle brackets; empty for a bounce.
    pub(crate) sender: String,
    /// Recipients still to deliver.
    pub(crate) recipients: Vec<String>,
    /// Unix milliseconds of acceptance.
    pub(crate) created: u64,
    /// Failed attempts so far.
    pub(crate) attempts: u32,
    /// Unix milliseconds of the next attempt.
    pub(crate) next_attempt: u64,
    /// Bytes at the start of `ID.msg` that are not part of the message.
    pub(crate) offset: u64,
    /// Received with `BODY=8BITMIME`.
    pub(crate) eight_bit: bool,
    /// Received with `SMTPUTF8`.
    pub(crate) smtputf8: bool,
    /// The latest temporary failure, per recipient, for the log and the
    /// bounce.
    pub(crate) last_error: BTreeMap<String, String>,
    /// The DSN request (RFC 3461): ENVID and RET. Absent from older
    /// queue files, which read as no request.
    pub(crate) dsn: crate::bounce::Request,
    /// The recipients' DSN requests (NOTIFY, ORCPT), by recipient; one
    /// without an entry asked for nothing.
    pub(crate) rcpt_dsn: BTreeMap<String, crate::bounce::RcptRequest>,
    /// The delay notices have been sent (once per message).
    pub(crate) delay_warned: bool,
    /// `MT-PRIORITY` as accepted (RFC 6710), after the policy of
    /// `smtp_session::mixer_priority`: orders the queue, and goes on to the
    /// next hop.
    pub(crate) priority: Option<Priority>,
    /// Received with `REQUIRETLS` (RFC 8689): relayed only under its
    /// conditions (see `delivery.rs`), bounced otherwise, the bounce
    /// without the message's content.
    pub(crate) requiretls: bool,
}

impl Entry {
    /// A fresh entry, due now.
    pub(crate) fn new(id: String, sender: String, recipients: Vec<String>) -> Self {
        let now = now_ms();
        Self {
            id,
            sender,
            recipients,
            created: now,
            attempts: 0,
            next_attempt: now,
            offset: 0,
            eight_bit: false,
            smtputf8: false,
            last_error: BTreeMap::new(),
            dsn: Default::default(),
            rcpt_dsn: BTreeMap::new(),
            delay_warned: false,
            priority: None,
            requiretls: false,
        }
    }

    /// The rank in the queue: higher priority first (RFC 6710 §4.1), then
    /// the older message.
    pub(crate) fn rank(&self) -> (std::cmp::Reverse<Priority>, u64) {
        (
            std::cmp::Reverse(self.priority.unwrap_or(Priority::NORMAL)),
            self.created,
        )
    }

    /// The DSN request of a recipient.
    pub(crate) fn rcpt_request(&self, rcpt: &str) -> crate::bounce::RcptRequest {
        self.rcpt_dsn.get(rcpt).cloned().unwrap_or_default()
    }

    fn to_json(&self) -> Value {
        json!({
            "version": 1,
            "id": self.id,
            "sender": self.sender,
            "recipients": self.recipients,
            "created": self.created,
            "attempts": self.attempts,
            "next_attempt": self.next_attempt,
            "offset": self.offset,
            "eight_bit": self.eight_bit,
            "smtputf8": self.smtputf8,
            "last_error": self.last_error,
            "envid": self.dsn.envid,
            "ret": self.dsn.ret.map(|r| if r == Ret::Full { "FULL" } else { "HDRS" }),
            "priority": self.priority.map(|p| p.get()),
            "delay_warned": self.delay_warned,
            "requiretls": self.requiretls,
            "rcpt_dsn": self
                .rcpt_dsn
                .iter()
                .map(|(r, d)| (r.clone(), json!({"notify": d.notify_text(), "orcpt": d.orcpt})))
                .collect::<serde_json::Map<String, Value>>(),
        })
    }

    fn from_json(v: &Value) -> Option<Self> {
        let s = |k: &str| v.get(k)?.as_str().map(str::to_string);
        let n = |k: &str| v.get(k)?.as_u64();
        let b = |k: &str| v.get(k).and_then(Value::as_bool).unwrap_or(false);
        let recipients = v
            .get("recipients")?
            .as_array()?
            .iter()
            .map(|r| r.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()?;
        let last_error = match v.get("last_error").and_then(Value::as_object) {
            Some(m) => m
                .iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect(),
            None => BTreeMap::new(),
        };
        let rcpt_dsn = match v.get("rcpt_dsn").and_then(Value::as_object) {
            Some(m) => m
                .iter()
                .map(|(k, d)| {
                    let notify = d
                        .get("notify")
                        .and_then(Value::as_str)
                        .map(crate::bounce::RcptRequest::parse_notify);
                    let orcpt = d.get("orcpt").and_then(Value::as_str).map(str::to_string);
                    (k.clone(), crate::bounce::RcptRequest { notify, orcpt })
                })
                .collect(),
            None => BTreeMap::new(),
        };
        Some(Self {
            dsn: crate::bounce::Request {
                envid: s("envid"),
                // Queue files before RET=HDRS was kept had `ret_full`.
                ret: match s("ret").as_deref() {
                    Some("FULL") => Some(Ret::Full),
                    Some("HDRS") => Some(Ret::Hdrs),
                    _ => b("ret_full").then_some(Ret::Full),
                },
                // Kept as the entry's own `requiretls`.
                requiretls: false,
            },
            // Absent from older queue files: no MT-PRIORITY.
            priority: v
                .get("priority")
                .and_then(Value::as_i64)
                .and_then(|p| Priority::new(i8::try_from(p).ok()?).ok()),
            rcpt_dsn,
            delay_warned: b("delay_warned"),
            // Absent from older queue files: no REQUIRETLS.
            requiretls: b("requiretls"),
            id: s("id")?,
            sender: s("sender")?,
            recipients,
            created: n("created")?,
            attempts: u32::try_from(n("attempts")?).ok()?,
            next_attempt: n("next_attempt")?,
            offset: n("offset").unwrap_or(0),
            eight_bit: b("eight_bit"),
            smtputf8: b("smtputf8"),
            last_error,
        })
    }
}

struct Inner {
    entries: BTreeMap<String, Entry>,
    /// Ids handed to the runner and not yet returned.
    busy: std::collections::BTreeSet<String>,
    shutdown: bool,
}

/// The queue: files on disk plus an index in memory.
pub(crate) struct Queue {
    dir: PathBuf,
    inner: Mutex<Inner>,
    wake: Condvar,
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue").field("dir", &self.dir).finish()
    }
}

fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

impl Queue {
    /// Opens `dir` (creating it), recovering what a previous run left.
    pub(crate) fn open(dir: &Path) -> io::Result<Self> {
        fs::create_dir_all(dir.join("tmp"))?;
        let mut entries = BTreeMap::new();
        let mut msgs = Vec::new();
        for e in fs::read_dir(dir)? {
            let e = e?;
            if !e.file_type()?.is_file() {
                continue;
            }
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') && name.ends_with(".tmp") {
                let _ = fs::remove_file(e.path());
            } else if let Some(id) = name.strip_suffix(".env") {
                let parsed = fs::read(e.path())
                    .ok()
                    .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
                    .and_then(|v| Entry::from_json(&v))
                    .filter(|en| en.id == id && valid_id(id));
                match parsed {
                    Some(en) if dir.join(format!("{id}.msg")).exists() => {
                        entries.insert(en.id.clone(), en);
                    }
                    _ => {
                        eprintln!(
                            "queue: {name} is unreadable or has no message; set aside as .bad"
                        );
                        let _ = fs::rename(e.path(), dir.join(format!("{name}.bad")));
                    }
                }
            } else if let Some(id) = name.strip_suffix(".msg") {
                msgs.push(id.to_string());
            }
        }
        for id in msgs {
            if !entries.contains_key(&id) {
                // Written, but the envelope never was: never acknowledged.
                let _ = fs::remove_file(dir.join(format!("{id}.msg")));
            }
        }
        for e in fs::read_dir(dir.join("tmp"))? {
            let _ = fs::remove_file(e?.path());
        }
        sync_dir(dir)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            inner: Mutex::new(Inner {
                entries,
                busy: Default::default(),
                shutdown: false,
            }),
            wake: Condvar::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A path in `DIR/queue/tmp` for spooling a message with no local
    /// recipient.
    pub(crate) fn tmp_path(&self, id: &str) -> PathBuf {
        self.dir.join("tmp").join(id)
    }

    /// The message file of `id`.
    pub(crate) fn msg_path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.msg"))
    }

    fn env_path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.env"))
    }

    /// Adds a message durably. `src` is a complete, fsynced file; it is
    /// renamed into the queue when `move_src`, else hard-linked (or copied).
    /// Returns when message and envelope are on disk.
    pub(crate) fn enqueue(&self, entry: Entry, src: &Path, move_src: bool) -> io::Result<()> {
        self.prepare(&entry, src, move_src)?;
        self.publish(entry);
        Ok(())
    }

    /// The first half of [`Queue::enqueue`]: the message and its envelope
    /// on disk, the entry not yet given to the delivery threads. Then
    /// [`Queue::publish`] gives it to them, or [`Queue::discard`] takes
    /// the files away (a delivery that failed elsewhere before its
    /// answer). An error leaves nothing.
    pub(crate) fn prepare(&self, entry: &Entry, src: &Path, move_src: bool) -> io::Result<()> {
        let msg = self.msg_path(&entry.id);
        if move_src {
            fs::rename(src, &msg)?;
        } else if fs::hard_link(src, &msg).is_err() {
            fs::copy(src, &msg)?;
            crate::maildir::sync_file(&fs::File::open(&msg)?)?;
        }
        if let Err(e) = write_atomic(
            &self.env_path(&entry.id),
            entry.to_json().to_string().as_bytes(),
        ) {
            let _ = fs::remove_file(&msg);
            return Err(e);
        }
        Ok(())
    }

    /// Gives an entry [`Queue::prepare`] wrote to the delivery threads.
    pub(crate) fn publish(&self, entry: Entry) {
        self.lock().entries.insert(entry.id.clone(), entry);
        self.wake.notify_all();
    }

    /// Takes away the files of an entry [`Queue::prepare`] wrote and
    /// [`Queue::publish`] did not give out: the envelope first, then the
    /// message (as [`Queue::remove`]). A restart after a crash between
    /// the two halves finds the entry and delivers it.
    pub(crate) fn discard(&self, id: &str) {
        let _ = fs::remove_file(self.env_path(id));
        let _ = fs::remove_file(self.msg_path(id));
    }

    /// Takes away the entries whose message file is a link of an
    /// interrupted delivery's spool ([`crate::maildir::Interrupted`]):
    /// prepared for the remote recipients of a message whose local
    /// delivery never finished, so never acknowledged (the client's retry
    /// queues it again). Returns their ids. For the start, before any
    /// delivery thread takes an entry.
    pub(crate) fn drop_interrupted(
        &self,
        interrupted: &crate::maildir::Interrupted,
    ) -> Vec<String> {
        // The usual start: no entry's file looked at.
        if interrupted.is_empty() {
            return Vec::new();
        }
        let mut g = self.lock();
        let ids: Vec<String> = g
            .entries
            .keys()
            .filter(|id| fs::metadata(self.msg_path(id)).is_ok_and(|md| interrupted.holds(&md)))
            .cloned()
            .collect();
        for id in &ids {
            g.entries.remove(id);
            self.discard(id);
        }
        ids
    }

    /// Saves a changed entry (after an attempt) and gives it back to the
    /// queue.
    pub(crate) fn update(&self, entry: Entry) -> io::Result<()> {
        write_atomic(
            &self.env_path(&entry.id),
            entry.to_json().to_string().as_bytes(),
        )?;
        let mut g = self.lock();
        g.busy.remove(&entry.id);
        g.entries.insert(entry.id.clone(), entry);
        drop(g);
        self.wake.notify_all();
        Ok(())
    }

    /// Removes a finished message: envelope first, then the message.
    pub(crate) fn remove(&self, id: &str) -> io::Result<()> {
        {
            let mut g = self.lock();
            g.entries.remove(id);
            g.busy.remove(id);
        }
        fs::remove_file(self.env_path(id))?;
        sync_dir(&self.dir)?;
        let _ = fs::remove_file(self.msg_path(id));
        Ok(())
    }

    /// Number of messages in the queue.
    pub(crate) fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// A copy of every entry.
    #[allow(dead_code)]
    pub(crate) fn entries(&self) -> Vec<Entry> {
        self.lock().entries.values().cloned().collect()
    }

    /// Takes the due entries not being worked on, waiting up to `max_wait`
    /// (less when an entry falls due sooner or one is added). Returns `None`
    /// once [`Self::shutdown`] was called.
    pub(crate) fn take_due(&self, max_wait: Duration) -> Option<Vec<Entry>> {
        let give_up = std::time::Instant::now() + max_wait;
        let mut g = self.lock();
        loop {
            if g.shutdown {
                return None;
            }
            let now = now_ms();
            let mut due: Vec<Entry> = g
                .entries
                .values()
                .filter(|e| e.next_attempt <= now && !g.busy.contains(&e.id))
                .cloned()
                .collect();
            due.sort_by_key(Entry::rank);
            if !due.is_empty() {
                for e in &due {
                    g.busy.insert(e.id.clone());
                }
                return Some(due);
            }
            let next = g
                .entries
                .values()
                .filter(|e| !g.busy.contains(&e.id))
                .map(|e| e.next_attempt)
                .min();
            let wait = match next {
                Some(t) => Duration::from_millis(t.saturating_sub(now)).min(max_wait),
                None => max_wait,
            };
            let left = give_up.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Some(Vec::new());
            }
            let (ng, _) = self
                .wake
                .wait_timeout(g, wait.min(left).max(Duration::from_millis(1)))
                .unwrap_or_else(|e| e.into_inner());
            g = ng;
        }
    }

    /// Makes the waiting entries with a recipient in one of `domains` due
    /// now: a destination that takes mail again gets its deferred mail at
    /// once, not at each message's next retry. In memory only (a restart
    /// keeps the saved retry times). Returns how many.
    pub(crate) fn wake_domains(&self, domains: &[String]) -> usize {
        let mut g = self.lock();
        let now = now_ms();
        let Inner { entries, busy, .. } = &mut *g;
        let mut n = 0;
        for e in entries.values_mut() {
            let hit = e.recipients.iter().any(|r| {
                r.rsplit_once('@')
                    .is_some_and(|(_, d)| domains.iter().any(|x| x.eq_ignore_ascii_case(d)))
            });
            if hit && e.next_attempt > now && !busy.contains(&e.id) {
                e.next_attempt = now;
                n += 1;
            }
        }
        if n > 0 {
            self.wake.notify_all();
        }
        n
    }

    /// Stops [`Self::take_due`].
    pub(crate) fn shutdown(&self) {
        self.lock().shutdown = true;
        self.wake.notify_all();
    }

    /// Reads the message of `entry` (without the local prefix).
    pub(crate) fn read_message(&self, entry: &Entry) -> io::Result<Vec<u8>> {
        let mut data = fs::read(self.msg_path(&entry.id))?;
        let off = usize::try_from(entry.offset)
            .unwrap_or(usize::MAX)
            .min(data.len());
        data.drain(..off);
        Ok(data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::maildir::queue_id;

    fn scratch() -> PathBuf {
        let d = std::env::temp_dir().join(format!("mailserver-queue-{}", queue_id()));
        fs::create_dir_all(&d).unwrap();
        d
    }

    fn spool(dir: &Path, data: &[u8]) -> PathBuf {
        let p = dir.join(format!("spool-{}", queue_id()));
        fs::write(&p, data).unwrap();
        p
    }

    #[test]
    fn wake_domains_makes_deferred_entries_due() {
        let dir = std::env::temp_dir().join(format!("mailwire-wake-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let q = Queue::open(&dir).unwrap();
        let src = dir.join("src");
        for (id, rcpt) in [("a1", "x@b.test"), ("a2", "y@B.test"), ("a3", "z@c.test")] {
            fs::write(&src, b"Subject: x\r\n\r\nbody\r\n").unwrap();
            let mut e = Entry::new(id.into(), "s@a.test".into(), vec![rcpt.into()]);
            e.next_attempt = now_ms() + 3_600_000;
            q.enqueue(e, &src, true).unwrap();
        }
        assert!(q.take_due(Duration::from_millis(1)).unwrap().is_empty());
        assert_eq!(q.wake_domains(&["b.test".to_string()]), 2);
        let due = q.take_due(Duration::from_millis(1)).unwrap();
        let mut ids: Vec<&str> = due.iter().map(|e| e.id.as_str()).collect();
        ids.sort();
        assert_eq!(ids, ["a1", "a2"]);
        assert_eq!(
            q.wake_domains(&["b.test".to_string()]),
            0,
            "busy ones are left alone"
        );
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn dsn_request_round_trip_and_older_files() {
        let mut e = Entry::new("Q".into(), "s@x.test".into(), vec!["r@y.test".into()]);
        e.dsn = crate::bounce::Request {
            envid: Some("id 1".into()),
            ret: Some(Ret::Hdrs),
            ..Default::default()
        };
        e.priority = Some(Priority::new(-4).unwrap());
        e.rcpt_dsn.insert(
            "r@y.test".into(),
            crate::bounce::RcptRequest {
                notify: Some(mailwire::smtp::Notify::NEVER),
                orcpt: Some("rfc822;R@y.test".into()),
            },
        );
        e.delay_warned = true;
        e.requiretls = true;
        assert_eq!(Entry::from_json(&e.to_json()), Some(e.clone()));
        // A file of before DSN: no request.
        let old = json!({"version": 1, "id": "Q", "sender": "s@x.test",
            "recipients": ["r@y.test"], "created": 1, "attempts": 0, "next_attempt": 1});
        let o = Entry::from_json(&old).unwrap();
        assert_eq!(o.dsn, crate::bounce::Request::default());
        assert_eq!(o.priority, None);
        assert!(!o.requiretls);
        assert!(o.rcpt_request("r@y.test").wants_failure());
        // A file of before RET=HDRS was kept: `ret_full` is RET=FULL.
        let mut old = old;
        old["ret_full"] = json!(true);
        let o = Entry::from_json(&old).unwrap();
        assert_eq!(o.dsn.ret, Some(Ret::Full));
    }

    /// RFC 6710 §4.1: the due messages come out highest priority first,
    /// then oldest first.
    #[test]
    fn rfc6710_4_1_due_in_priority_order() {
        let root = scratch();
        let q = Queue::open(&root.join("queue")).unwrap();
        for (id, prio, created) in [
            ("low", Some(-4), 1),
            ("none", None, 3),
            ("urgent", Some(4), 5),
            ("normal", Some(0), 2),
        ] {
            let mut e = Entry::new(id.into(), "a@x.test".into(), vec!["b@y.test".into()]);
            e.priority = prio.map(|p| Priority::new(p).unwrap());
            e.created = created;
            e.next_attempt = 0;
            let src = spool(&root, b"Subject: x\r\n\r\nbody\r\n");
            q.enqueue(e, &src, true).unwrap();
        }
        let due = q.take_due(Duration::from_millis(10)).unwrap();
        let ids: Vec<&str> = due.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids, ["urgent", "normal", "none", "low"]);
        let _ = fs::remove_dir_all(&root);
    }

    #[test]
    fn survives_restart() {
        let root = scratch();
        let qdir = root.join("queue");
        let q = Queue::open(&qdir).unwrap();
        let mut e = Entry::new(
            queue_id(),
            "a@x.test".into(),
            vec!["b@y.test".into(), "c@y.test".into()],
        );
        e.offset = 3;
        e.eight_bit = true;
        e.last_error.insert("b@y.test".into(), "451 later".into());
        let src = spool(&root, b"RP\nSubject: x\r\n\r\nbody\r\n");
        q.enqueue(e.clone(), &src, false).unwrap();
        assert!(src.exists());
        drop(q);

        let q = Queue::open(&qdir).unwrap();
        assert_eq!(q.entries(), vec![e.clone()]);
        assert_eq!(q.read_message(&e).unwrap(), b"Subject: x\r\n\r\nbody\r\n");
        let due = q.take_due(Duration::from_millis(10)).unwrap();
        assert_eq!(due, vec![e.clone()]);
        // Busy entries are not handed out twice.
        assert!(q.take_due(Duration::from_millis(10)).unwrap().is_empty());

        let mut e2 = e.clone();
        e2.recipients.remove(0);
        e2.attempts = 1;
        e2.next_attempt = now_ms() + 60_000;
        q.update(e2.clone()).unwrap();
        drop(q);
        let q = Queue::open(&qdir).unwrap();
        assert_eq!(q.entries(), vec![e2.clone()]);
        assert!(q.take_due(Duration::from_millis(10)).unwrap().is_empty());
        q.remove(&e2.id).unwrap();
        drop(q);
        let q = Queue::open(&qdir).unwrap();
        assert_eq!(q.len(), 0);
        assert_eq!(fs::read_dir(&qdir).unwrap().count(), 1, "only tmp/ is left");
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn recovery_drops_unacknowledged_and_bad() {
        let root = scratch();
        let qdir = root.join("queue");
        fs::create_dir_all(&qdir).unwrap();
        fs::write(qdir.join("ORPHAN.msg"), b"x").unwrap();
        fs::write(qdir.join(".x.env.1.tmp"), b"{").unwrap();
        fs::write(qdir.join("BAD.env"), b"{not json").unwrap();
        fs::write(
            qdir.join("NOMSG.env"),
            Entry::new("NOMSG".into(), "".into(), vec![])
                .to_json()
                .to_string(),
        )
        .unwrap();
        let q = Queue::open(&qdir).unwrap();
        assert_eq!(q.len(), 0);
        assert!(!qdir.join("ORPHAN.msg").exists());
        assert!(!qdir.join(".x.env.1.tmp").exists());
        assert!(qdir.join("BAD.env.bad").exists());
        assert!(qdir.join("NOMSG.env.bad").exists());
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn wakes_on_enqueue_and_due_time() {
        let root = scratch();
        let q = std::sync::Arc::new(Queue::open(&root.join("queue")).unwrap());
        let q2 = q.clone();
        let src = spool(&root, b"m");
        let t = std::thread::spawn(move || q2.take_due(Duration::from_secs(10)).unwrap());
        std::thread::sleep(Duration::from_millis(50));
        let e = Entry::new(queue_id(), "".into(), vec!["x@y.test".into()]);
        q.enqueue(e.clone(), &src, true).unwrap();
        assert!(!src.exists(), "moved");
        let got = t.join().unwrap();
        assert_eq!(got, vec![e.clone()]);
        let mut later = e.clone();
        // Timed from before the due time is set: the update's fsync may
        // take long on a loaded machine (timed after it, the wait was
        // shorter than 150 ms once).
        let start = std::time::Instant::now();
        later.next_attempt = now_ms() + 200;
        q.update(later).unwrap();
        let got = q.take_due(Duration::from_secs(5)).unwrap();
        assert_eq!(got.len(), 1);
        assert!(start.elapsed() >= Duration::from_millis(150));
        q.shutdown();
        assert!(q.take_due(Duration::from_secs(5)).is_none());
        fs::remove_dir_all(&root).unwrap();
    }
}

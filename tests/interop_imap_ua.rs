//! Interop: the `imap` example (the user agent on the blocking driver) in
//! all its modes against Dovecot's IMAP server (../shared/PEERS.md), and the
//! blocking driver `mailwire::blocking::ImapSession` itself against Dovecot:
//! - online: folders, list, threads, read, headers, part (bytes compared), search,
//!   flag, move, delete;
//! - offline: download twice (only new mail the second time), then with
//!   `--delete` (the server is empty, the copies are byte for byte);
//! - disconnected: sync twice (the second a no-op); local flag change,
//!   deletion, move and new file propagated up; new server mail and flag
//!   changes down;
//! - watch: a message appended during IDLE is printed within seconds.
//!
//! `#[ignore]`d: run with `cargo test --release -p mailwire --test interop_imap_ua -- --ignored --test-threads=1`
//! after `bash .ci/install-peers`. A missing Dovecot or corpus skips the
//! test, or fails it when `CI=true`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::dovecot::Dovecot;
use mailwire::blocking::{ImapOptions, ImapSession, Security, SummaryItems};
use mailwire::imap::client::Update;
use mailwire::imap::{CommandBody, Flag, Mailbox, SearchKey, StoreKind};

struct Run {
    ok: bool,
    stdout: String,
    stderr: String,
}

/// The `imap` example logged in as the test user, with `args` after.
fn imap_command(d: &Dovecot, args: &[&str]) -> Command {
    let mut c = Command::new(common::example("imap"));
    c.args([
        "--server",
        &format!("127.0.0.1:{}", d.imap_port),
        "--user",
        "testuser",
        "--password",
        "testpass",
    ])
    .args(args)
    .stdin(Stdio::null());
    c
}

fn imap(d: &Dovecot, args: &[&str]) -> Run {
    let out = imap_command(d, args).output().unwrap();
    let r = Run {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    eprintln!("imap {args:?}:\n{}{}", r.stdout, r.stderr);
    r
}

/// Runs the example and requires success.
fn ok(d: &Dovecot, args: &[&str]) -> String {
    let r = imap(d, args);
    assert!(r.ok, "imap {args:?} failed: {}", r.stderr);
    r.stdout
}

fn session(d: &Dovecot) -> ImapSession {
    let mut o = ImapOptions::default();
    o.transport.security = Security::Plain;
    let mut s = ImapSession::connect(&format!("127.0.0.1:{}", d.imap_port), o).unwrap();
    s.login("testuser", "testpass").unwrap();
    s
}

fn create_folder(d: &Dovecot, name: &str) {
    let mut s = session(d);
    s.run(CommandBody::Create {
        mailbox: Mailbox::from_utf8_name(name),
        special_use: Vec::new(),
    })
    .unwrap();
    s.logout().unwrap();
}

/// The hunny-samples corpus messages (CRLF), or `None` (skip; a failure under CI).
fn corpus(n: usize) -> Option<Vec<Vec<u8>>> {
    let dir = common::repo().join("../shared/corpus/mime/hunny-samples");
    let dir = if dir.is_dir() {
        dir
    } else {
        PathBuf::from("/work/shared/corpus/mime/hunny-samples")
    };
    let Ok(rd) = fs::read_dir(&dir) else {
        assert!(
            !common::ci(),
            "corpus {} is missing (CI=true)",
            dir.display()
        );
        eprintln!("SKIP: corpus {} is missing", dir.display());
        return None;
    };
    let mut files: Vec<PathBuf> = rd
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    files.sort();
    Some(
        files
            .iter()
            .take(n)
            .map(|p| crlf(&fs::read(p).unwrap()))
            .collect(),
    )
}

fn crlf(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len() + b.len() / 40);
    for (i, &c) in b.iter().enumerate() {
        if c == b'\n' && (i == 0 || b[i - 1] != b'\r') {
            out.push(b'\r');
        }
        out.push(c);
    }
    out
}

/// Pseudo-random bytes (xorshift), the attachment of [`report`].
fn attachment() -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..5000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// A multipart message: a text part and a base64 attachment (section 2).
fn report() -> Vec<u8> {
    let b64 = mailwire::sasl::framing::encode(&attachment());
    let wrapped: Vec<&str> = b64
        .as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "From: Alice Example <alice@example.org>\r\n\
         To: testuser@example.org\r\n\
         Subject: Quarterly report\r\n\
         Date: Mon, 1 Jan 2024 10:00:00 +0000\r\n\
         Message-ID: <report@example.org>\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b1\"\r\n\
         \r\n\
         --b1\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         \r\n\
         Hello Bob, the report is attached.\r\n\
         --b1\r\n\
         Content-Type: application/octet-stream; name=\"data.bin\"\r\n\
         Content-Disposition: attachment; filename=\"data.bin\"\r\n\
         Content-Transfer-Encoding: base64\r\n\
         \r\n\
         {}\r\n\
         --b1--\r\n",
        wrapped.join("\r\n")
    )
    .into_bytes()
}

fn simple(i: usize, subject: &str) -> Vec<u8> {
    format!(
        "From: Sender {i} <s{i}@example.net>\r\nTo: testuser@example.org\r\nSubject: {subject}\r\n\
         Date: Tue, 2 Jan 2024 10:00:0{} +0000\r\nMessage-ID: <m{i}@example.net>\r\n\r\nbody {i}\r\n",
        i % 10
    )
    .into_bytes()
}

/// The UIDs at the start of `list` output lines.
fn uids(list: &str) -> Vec<u32> {
    list.lines()
        .filter_map(|l| l.split_whitespace().next()?.parse().ok())
        .collect()
}

fn line_with<'a>(out: &'a str, needle: &str) -> &'a str {
    out.lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line with {needle:?} in:\n{out}"))
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = ["new", "cur"]
        .iter()
        .flat_map(|s| fs::read_dir(dir.join(s)).into_iter().flatten())
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

#[test]
#[ignore = "interop: needs Dovecot (bash .ci/install-peers)"]
fn online_commands_against_dovecot() {
    let Some(d) = Dovecot::start() else { return };
    let Some(msgs) = corpus(3) else { return };
    for (i, m) in msgs.iter().enumerate() {
        d.deliver(&format!("100000000{i}.M1P1Q{i}.test"), m);
    }
    d.deliver("1000000009.M1P1Q9.test", &report());
    create_folder(&d, "Archive");

    let folders = ok(&d, &["folders"]);
    assert!(line_with(&folders, "INBOX").contains("4 messages"));
    assert!(folders.contains("Archive"));

    let list = ok(&d, &["list"]);
    assert_eq!(uids(&list).len(), 4, "{list}");
    let line = line_with(&list, "Quarterly report");
    assert!(line.contains("Alice Example <alice@example.org>"), "{line}");
    assert!(line.contains("2024-01-01 10:00"), "{line}");
    let report_uid = uids(line)[0];
    let uid = report_uid.to_string();
    assert_eq!(uids(&ok(&d, &["list", "--limit", "2"])).len(), 2);

    let read = ok(&d, &["read", &uid]);
    assert!(read.contains("Subject: Quarterly report"));
    assert!(read.contains("Hello Bob, the report is attached."));
    let att = line_with(&read, "data.bin");
    assert!(
        att.contains("[2]") && att.contains("application/octet-stream, base64"),
        "{att}"
    );
    // A single-part message: its body is the text shown.
    d.deliver("1000000010.M1P1Q10.test", &simple(10, "single part"));
    let single = uids(line_with(&ok(&d, &["list"]), "single part"))[0].to_string();
    let read = ok(&d, &["read", &single]);
    assert!(
        read.contains("Subject: single part") && read.contains("body 10"),
        "{read}"
    );
    assert!(!read.contains("Attachments"), "{read}");
    ok(&d, &["delete", &single]);

    let headers = ok(&d, &["headers", &uid]);
    assert!(headers.contains("Message-ID: <report@example.org>"));
    assert!(!headers.contains("Hello Bob"), "headers only");

    let part = d.root.join("part.bin");
    ok(&d, &["part", &uid, "2", "--out", part.to_str().unwrap()]);
    assert_eq!(fs::read(&part).unwrap(), attachment(), "part bytes");

    // Server-side search, each key alone and together.
    assert_eq!(uids(&ok(&d, &["search", "--from", "alice"])), [report_uid]);
    assert_eq!(
        uids(&ok(
            &d,
            &["search", "--subject", "quarterly", "--since", "2023-12-31"]
        )),
        [report_uid]
    );
    assert_eq!(
        uids(&ok(&d, &["search", "--text", "report is attached"])),
        [report_uid]
    );
    assert!(uids(&ok(&d, &["search", "--from", "nobody-at-all"])).is_empty());
    assert!(uids(&ok(&d, &["search", "--since", "1-Jan-2030"])).is_empty());

    // Flags.
    let f = ok(&d, &["flag", &uid, "--add", "flagged", "--add", "seen"]);
    assert!(f.contains("\\Flagged") && f.contains("\\Seen"), "{f}");
    let f = ok(&d, &["flag", &uid, "--remove", "seen"]);
    assert!(f.contains("\\Flagged") && !f.contains("\\Seen"), "{f}");
    assert!(line_with(&ok(&d, &["list"]), "Quarterly").contains("\\Flagged"));

    // Move, then delete.
    ok(&d, &["move", &uid, "Archive"]);
    assert!(!ok(&d, &["list"]).contains("Quarterly"));
    let archived = ok(&d, &["list", "Archive"]);
    assert!(line_with(&archived, "Quarterly").contains("\\Flagged"));
    let first = uids(&ok(&d, &["list"]))[0].to_string();
    ok(&d, &["delete", &first]);
    assert_eq!(uids(&ok(&d, &["list"])).len(), 2);

    // A refused command exits 1 and says why.
    let r = imap(&d, &["move", "1:*", "No/Such/Folder"]);
    assert!(!r.ok);
    assert!(r.stderr.contains("MOVE"), "{}", r.stderr);
}

#[test]
#[ignore = "interop: needs Dovecot (bash .ci/install-peers)"]
fn download_twice_then_with_delete() {
    let Some(d) = Dovecot::start() else { return };
    let Some(mut msgs) = corpus(3) else { return };
    for (i, m) in msgs.iter().enumerate() {
        d.deliver(&format!("100000000{i}.M1P1Q{i}.test"), m);
    }
    let out = d.root.join("client");
    let o = out.to_str().unwrap();
    assert!(ok(&d, &["download", "--out", o]).contains("downloaded 3 messages"));
    let stored = |dir: &Path| {
        let mut v: Vec<Vec<u8>> = files(dir).iter().map(|p| fs::read(p).unwrap()).collect();
        v.sort();
        v
    };
    let mut want = msgs.clone();
    want.sort();
    assert_eq!(stored(&out), want, "byte for byte");
    assert!(ok(&d, &["download", "--out", o]).contains("downloaded 0 messages"));
    assert_eq!(d.count(), 3, "kept on the server");

    let extra = simple(7, "late arrival");
    d.deliver("1000000007.M1P1Q7.test", &extra);
    assert!(ok(&d, &["download", "--out", o]).contains("downloaded 1 messages"));
    msgs.push(extra);
    let mut want = msgs.clone();
    want.sort();
    assert_eq!(stored(&out), want);

    let out2 = d.root.join("client2");
    let r = ok(
        &d,
        &["download", "--out", out2.to_str().unwrap(), "--delete"],
    );
    assert!(
        r.contains("downloaded 4 messages") && r.contains("deleted 4"),
        "{r}"
    );
    assert_eq!(stored(&out2), want);
    assert_eq!(d.count(), 0, "deleted on the server");
    assert!(uids(&ok(&d, &["list"])).is_empty());
}

/// Flags of the message with `subject` in `list` output.
fn flags_of(list: &str, subject: &str) -> String {
    let l = line_with(list, subject);
    l[l.rfind('(').unwrap()..].to_owned()
}

#[test]
#[ignore = "interop: needs Dovecot (bash .ci/install-peers)"]
fn sync_both_ways_against_dovecot() {
    let Some(d) = Dovecot::start() else { return };
    for i in 1..=4 {
        d.deliver(
            &format!("100000000{i}.M1P1Q{i}.test"),
            &simple(i, &format!("sync message {i}")),
        );
    }
    create_folder(&d, "Archive");
    let dir = d.root.join("mirror");
    let ds = dir.to_str().unwrap();

    let r = ok(&d, &["sync", "--dir", ds]);
    assert!(r.contains("sync: 4 down, 0 up"), "{r}");
    let inbox = dir.join("INBOX");
    assert_eq!(files(&inbox).len(), 4);
    assert!(dir.join("Archive/cur").is_dir());
    let r = ok(&d, &["sync", "--dir", ds]);
    assert!(
        r.contains("sync: 0 down, 0 up"),
        "second sync is a no-op: {r}"
    );
    assert!(r.contains("INBOX: 0 down, 0 up (unchanged)"), "{r}");

    // Local changes: \Seen on message 1, message 2 deleted, message 3
    // moved to Archive, a new local message in INBOX.
    let by_subject = |n: usize| {
        files(&inbox)
            .into_iter()
            .find(|p| {
                String::from_utf8_lossy(&fs::read(p).unwrap())
                    .contains(&format!("sync message {n}"))
            })
            .unwrap()
    };
    let one = by_subject(1);
    let seen = format!("{}S", one.to_str().unwrap());
    fs::rename(&one, &seen).unwrap();
    fs::remove_file(by_subject(2)).unwrap();
    let three = by_subject(3);
    fs::rename(
        &three,
        dir.join("Archive/cur").join(three.file_name().unwrap()),
    )
    .unwrap();
    fs::write(inbox.join("new/local-draft"), simple(8, "written offline")).unwrap();
    // Server changes: a new message; \Flagged on message 4.
    d.deliver("1000000009.M1P1Q9.test", &simple(9, "new on the server"));
    let list = ok(&d, &["list"]);
    let four = uids(line_with(&list, "sync message 4"))[0].to_string();
    ok(&d, &["flag", &four, "--add", "flagged"]);

    let r = ok(&d, &["sync", "--dir", ds]);
    assert!(r.contains("INBOX: moved 1 to Archive"), "{r}");
    assert!(
        r.lines()
            .any(|l| l.starts_with("INBOX: ") && l.ends_with("up (QRESYNC)")),
        "Dovecot offers QRESYNC: only the changes are asked for: {r}"
    );
    let list = ok(&d, &["list"]);
    assert!(
        flags_of(&list, "sync message 1").contains("\\Seen"),
        "{list}"
    );
    assert!(!list.contains("sync message 2"), "deleted up: {list}");
    assert!(!list.contains("sync message 3"), "moved up: {list}");
    assert!(list.contains("written offline"), "appended: {list}");
    assert!(ok(&d, &["list", "Archive"]).contains("sync message 3"));
    let local: Vec<String> = files(&inbox)
        .iter()
        .map(|p| String::from_utf8_lossy(&fs::read(p).unwrap()).into_owned())
        .collect();
    assert!(
        local.iter().any(|m| m.contains("new on the server")),
        "down"
    );
    let four_file = files(&inbox)
        .into_iter()
        .find(|p| String::from_utf8_lossy(&fs::read(p).unwrap()).contains("sync message 4"))
        .unwrap();
    assert!(
        four_file.to_str().unwrap().ends_with(":2,F"),
        "flag down: {}",
        four_file.display()
    );
    assert_eq!(files(&dir.join("Archive")).len(), 1);

    let r = ok(&d, &["sync", "--dir", ds]);
    assert!(r.contains("sync: 0 down, 0 up"), "then nothing to do: {r}");

    // A run cut short before saving its state: the copies it downloaded
    // are recognized, not uploaded again.
    let before = files(&inbox).len();
    fs::remove_file(inbox.join(".mailwire-sync")).unwrap();
    let r = ok(&d, &["sync", "--dir", ds]);
    assert!(r.contains("INBOX: 0 down, 0 up (full)"), "{r}");
    assert_eq!(files(&inbox).len(), before);
    assert_eq!(
        uids(&ok(&d, &["list"])).len(),
        before,
        "no duplicate uploaded"
    );
}

#[test]
#[ignore = "interop: needs Dovecot (bash .ci/install-peers)"]
fn watch_sees_a_message_appended_during_idle() {
    let Some(d) = Dovecot::start() else { return };
    d.deliver("1000000001.M1P1Q1.test", &simple(1, "already there"));
    let mut child = imap_command(&d, &["watch", "--timeout", "30", "--count", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let _ = tx.send(line);
        }
    });
    let first = rx.recv_timeout(Duration::from_secs(20)).unwrap();
    assert!(first.starts_with("watching INBOX"), "{first}");
    // Give the IDLE a moment to start, then append from another session.
    std::thread::sleep(Duration::from_millis(500));
    let started = Instant::now();
    let mut s = session(&d);
    s.append("INBOX", Vec::new(), &simple(5, "hello while idling"))
        .unwrap();
    s.logout().unwrap();
    let line = rx.recv_timeout(Duration::from_secs(20)).unwrap();
    let elapsed = started.elapsed();
    assert!(line.contains("s5@example.net"), "{line}");
    assert!(line.contains("hello while idling"), "{line}");
    assert!(elapsed < Duration::from_secs(10), "seen after {elapsed:?}");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            assert!(st.success());
            break;
        }
        assert!(
            Instant::now() < deadline,
            "watch did not stop after --count 1"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A writer that keeps what it got and how it came.
#[derive(Default)]
struct Pieces {
    bytes: Vec<u8>,
    writes: usize,
    largest: usize,
}

impl std::io::Write for Pieces {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.writes += 1;
        self.largest = self.largest.max(buf.len());
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
#[ignore = "interop: needs Dovecot (bash .ci/install-peers)"]
fn blocking_session_against_dovecot() {
    let Some(d) = Dovecot::start() else { return };
    let mut s = session(&d);
    let caps = s.capabilities().unwrap();
    assert!(caps.has("IMAP4rev1") && caps.has("IDLE"));
    s.run(CommandBody::Create {
        mailbox: Mailbox::from_utf8_name("Grüße"),
        special_use: Vec::new(),
    })
    .unwrap();
    let folders = s.list_folders(true).unwrap();
    let inbox = folders.iter().find(|f| f.name == "INBOX").unwrap();
    assert_eq!(inbox.status.unwrap().messages, Some(0));
    assert!(folders.iter().any(|f| f.name == "Grüße"), "{folders:?}");

    // A 3 MiB message: above the stream threshold, written out as it comes.
    let mut big = simple(1, "big one");
    let line = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_=+[]\r\n";
    while big.len() < 3 << 20 {
        big.extend_from_slice(line);
    }
    let uid = s.append("INBOX", vec![Flag::Draft], &big).unwrap();
    let m = s.select("INBOX").unwrap();
    assert_eq!(m.exists, 1);
    let found = s.uid_search(vec![SearchKey::All]).unwrap();
    assert_eq!(Some(found[0]), uid.or(Some(found[0])));
    let mut got = Pieces::default();
    let n = s.fetch_message_to(found[0], &mut got).unwrap();
    assert_eq!(n as usize, big.len());
    assert!(got.bytes == big, "streamed bytes equal");
    // Handed over as it arrived, never as one 3 MiB piece.
    assert!(got.writes >= 3, "{} writes", got.writes);
    assert!(got.largest <= 1 << 20, "largest write {}", got.largest);
    let header = s.fetch_header(found[0]).unwrap();
    assert!(header.ends_with(b"\r\n\r\n") && header.len() < 400);

    s.store_flags(
        &mailwire::blocking::imap::uid_set(&found).unwrap(),
        StoreKind::Add,
        vec![Flag::Seen],
    )
    .unwrap();
    let sum = s
        .fetch_summaries(
            &mailwire::blocking::imap::uid_set(&found).unwrap(),
            SummaryItems::default(),
            None,
        )
        .unwrap();
    assert!(sum[0].flags.contains(&Flag::Seen) && sum[0].flags.contains(&Flag::Draft));
    assert_eq!(sum[0].size, Some(big.len() as u64));
    let env = sum[0].envelope().unwrap();
    assert_eq!(env.subject.unwrap().as_bytes(), b"big one");

    // A wrong command keeps the server's tagged answer.
    let err = s.examine("No such folder").unwrap_err();
    assert!(
        matches!(
            &err,
            mailwire::blocking::ImapError::Command {
                command: "EXAMINE",
                ..
            }
        ),
        "{err}"
    );
    s.select("INBOX").unwrap();

    // IDLE: a delivery from another session arrives as EXISTS.
    let port = d.imap_port;
    let other = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        let mut o = ImapOptions::default();
        o.transport.security = Security::Plain;
        let mut t = ImapSession::connect(&format!("127.0.0.1:{port}"), o).unwrap();
        t.login("testuser", "testpass").unwrap();
        t.append("INBOX", Vec::new(), b"Subject: ping\r\n\r\nx\r\n")
            .unwrap();
        t.logout().unwrap();
    });
    let started = Instant::now();
    let mut exists = None;
    for u in s.idle(Duration::from_secs(15)).unwrap() {
        if let Update::Exists(n) = u.unwrap() {
            exists = Some(n);
            break;
        }
    }
    other.join().unwrap();
    assert_eq!(exists, Some(2), "IDLE told of the new message");
    assert!(started.elapsed() < Duration::from_secs(10));
    // The session goes on after IDLE.
    assert_eq!(s.uid_search(vec![SearchKey::All]).unwrap().len(), 2);
    // An IDLE that times out ends by itself.
    let t = Instant::now();
    s.take_updates();
    let quiet: Vec<_> = s.idle(Duration::from_millis(300)).unwrap().collect();
    assert!(
        quiet
            .iter()
            .all(|u| matches!(u, Ok(u) if !matches!(u, Update::Exists(_)))),
        "{quiet:?}"
    );
    assert!(t.elapsed() < Duration::from_secs(5));
    // MOVE into a folder whose name needs modified UTF-7.
    s.move_messages(&mailwire::blocking::imap::uid_set(&found).unwrap(), "Grüße")
        .unwrap();
    assert_eq!(s.examine("Grüße").unwrap().exists, 1);
    s.logout().unwrap();
}

/// `ImapSession::uid_sort` and `uid_thread` (RFC 5256) against Dovecot and
/// against the mail server example, over the same three messages (a
/// first message, its reply two days later, an unrelated one between):
/// both servers give the same orders and the same threads.
#[test]
#[ignore = "interop: needs Dovecot (bash .ci/install-peers); starts the mailserver"]
fn sort_and_thread_against_dovecot_and_the_mail_server() {
    use mailwire::imap::{SortCriterion, SortKey, Thread, ThreadAlgorithm, Vec1};
    let Some(d) = Dovecot::start() else { return };
    let msg = |id: &str, refs: &str, day: u32, subject: &str| {
        format!(
            "Message-ID: <{id}@x.test>\r\n{refs}Date: {day} Mar 2026 10:00:00 +0000\r\n\
             From: a@x.test\r\nSubject: {subject}\r\n\r\nbody\r\n"
        )
    };
    let messages = [
        msg("a", "", 1, "alpha"),
        msg(
            "b",
            "References: <a@x.test>\r\nIn-Reply-To: <a@x.test>\r\n",
            3,
            "Re: alpha",
        ),
        msg("c", "", 2, "beta"),
    ];
    // (REVERSE DATE), (SUBJECT DATE), REFERENCES, ORDEREDSUBJECT, in UID
    // order of the three appended.
    let answers = |s: &mut ImapSession| {
        let mut uids = Vec::new();
        for m in &messages {
            s.append("INBOX", Vec::new(), m.as_bytes()).unwrap();
        }
        s.select("INBOX").unwrap();
        uids.extend(s.uid_search(vec![SearchKey::All]).unwrap());
        assert_eq!(uids.len(), 3);
        // As positions 1-3, so the two servers' UIDs compare.
        let pos = |u: u32| uids.iter().position(|&x| x == u).unwrap() as u32 + 1;
        let by = |reverse, key| SortCriterion { reverse, key };
        let date = s
            .uid_sort(Vec1::one(by(true, SortKey::Date)), vec![])
            .unwrap();
        let subject = s
            .uid_sort(
                Vec1::new(by(false, SortKey::Subject), vec![by(false, SortKey::Date)]),
                vec![],
            )
            .unwrap();
        fn renumber(t: Thread, pos: &dyn Fn(u32) -> u32) -> Thread {
            Thread {
                chain: t.chain.into_iter().map(pos).collect(),
                children: t.children.into_iter().map(|c| renumber(c, pos)).collect(),
            }
        }
        let mut thread = |a| -> Vec<Thread> {
            let t = s.uid_thread(a, vec![]).unwrap();
            t.into_iter().map(|t| renumber(t, &pos)).collect()
        };
        let refs = thread(ThreadAlgorithm::References);
        let ordered = thread(ThreadAlgorithm::OrderedSubject);
        (
            date.into_iter().map(pos).collect::<Vec<_>>(),
            subject.into_iter().map(pos).collect::<Vec<_>>(),
            refs,
            ordered,
        )
    };
    let mut s = session(&d);
    let dovecot = answers(&mut s);
    s.logout().unwrap();
    // The user agent's `threads`: the reply indented under its original,
    // the other message on its own.
    let out = ok(&d, &["threads"]);
    let lines: Vec<&str> = out.lines().collect();
    let indent = |l: &str| l.len() - l.trim_start().len();
    assert!(
        lines.len() == 3
            && lines[0].contains(" alpha ")
            && lines[1].contains(" Re: alpha ")
            && lines[2].contains(" beta "),
        "{out}"
    );
    assert_eq!(indent(lines[1]), indent(lines[0]) + 2, "{out}");
    assert_eq!(indent(lines[2]), indent(lines[0]), "{out}");
    // `list --sort`: the server's order, printed as given.
    let subjects = |args: &[&str]| -> Vec<String> {
        ok(&d, args)
            .lines()
            .map(|l| {
                l.split("  ")
                    .filter(|w| !w.is_empty())
                    .nth(3)
                    .unwrap_or("")
                    .to_string()
            })
            .collect()
    };
    assert_eq!(
        subjects(&["list", "--sort", "date", "--reverse"]),
        ["Re: alpha", "beta", "alpha"]
    );
    assert_eq!(
        subjects(&["list", "--sort", "date", "--limit", "2"]),
        ["alpha", "beta"]
    );
    let chain = |c: &[u32]| Thread {
        chain: c.to_vec(),
        children: vec![],
    };
    assert_eq!(dovecot.0, [2, 3, 1], "REVERSE DATE");
    assert_eq!(dovecot.1, [1, 2, 3], "SUBJECT DATE: alpha, Re: alpha, beta");
    assert_eq!(dovecot.2, [chain(&[1, 2]), chain(&[3])], "REFERENCES");
    assert_eq!(dovecot.3, [chain(&[1, 2]), chain(&[3])], "ORDEREDSUBJECT");

    let dir = common::scratch("sort-thread");
    let srv = common::MailServer::start(&dir.join("data"), &[]);
    let mut o = ImapOptions::default();
    o.transport.security = Security::Plain;
    let mut s = ImapSession::connect(&srv.imap.expect("imap").to_string(), o).unwrap();
    s.login("demo", "demo").unwrap();
    let ours = answers(&mut s);
    s.logout().unwrap();
    assert_eq!(ours, dovecot);
}

/// The folder conveniences of `ImapSession` against Dovecot: CREATE,
/// SUBSCRIBE and UNSUBSCRIBE (seen in LSUB), RENAME to a name that needs
/// quoting and modified UTF-7, UID COPY whose COPYUID (RFC 4315 §3) names
/// the UIDs the copies have, STATUS counts, NOOP letting in a message
/// another session appended, UNSELECT, DELETE; LIST reflects each step.
#[test]
#[ignore = "interop: needs Dovecot (bash .ci/install-peers)"]
fn folder_conveniences_against_dovecot() {
    use mailwire::blocking::imap::uid_set;
    use mailwire::imap::{Data, IString};
    let Some(d) = Dovecot::start() else { return };
    let mut s = session(&d);
    let names = |s: &mut ImapSession| -> Vec<String> {
        let folders = s.list_folders(false).unwrap();
        folders.into_iter().map(|f| f.name).collect()
    };
    let subscribed = |s: &mut ImapSession| -> Vec<String> {
        let c = s
            .run(CommandBody::Lsub {
                reference: Mailbox::new(IString::try_from(String::new()).unwrap()),
                pattern: IString::try_from("*".to_owned()).unwrap(),
            })
            .unwrap();
        c.data()
            .filter_map(|d| match d {
                Data::Lsub(item) => item.mailbox.to_utf8_name(),
                _ => None,
            })
            .collect()
    };
    let renamed = "Ablage Grüße";

    s.create_folder("Work").unwrap();
    assert!(names(&mut s).contains(&"Work".to_owned()));
    s.subscribe("Work").unwrap();
    assert_eq!(subscribed(&mut s), ["Work"]);
    s.unsubscribe("Work").unwrap();
    assert!(subscribed(&mut s).is_empty());
    s.rename_folder("Work", renamed).unwrap();
    let now = names(&mut s);
    assert!(
        now.contains(&renamed.to_owned()) && !now.contains(&"Work".to_owned()),
        "{now:?}"
    );

    for i in 1..=2 {
        s.append("INBOX", Vec::new(), &simple(i, "to copy"))
            .unwrap();
    }
    s.select("INBOX").unwrap();
    let inbox = s.uid_search(vec![SearchKey::All]).unwrap();
    assert_eq!(inbox.len(), 2);
    let copies = s
        .copy_messages(&uid_set(&inbox).unwrap(), renamed)
        .unwrap()
        .expect("Dovecot sends COPYUID");
    let status = s.folder_status(renamed).unwrap();
    assert_eq!((status.messages, status.unseen), (Some(2), Some(2)));
    assert_eq!(
        status.uid_next,
        copies.iter().max().map(|&u| u64::from(u) + 1)
    );
    assert!(status.uid_validity.is_some());
    let listed = s.list_folders(true).unwrap();
    let folder = listed.iter().find(|f| f.name == renamed).unwrap();
    assert_eq!(folder.status, Some(status));

    // NOOP lets in what another session appended to the selected folder.
    let mut other = session(&d);
    other
        .append("INBOX", Vec::new(), &simple(3, "meanwhile"))
        .unwrap();
    other.logout().unwrap();
    s.take_updates();
    s.noop().unwrap();
    assert_eq!(s.selected().unwrap().exists, 3);
    let updates = s.take_updates();
    assert!(
        updates.iter().any(|u| matches!(u, Update::Exists(3))),
        "{updates:?}"
    );
    s.unselect().unwrap();
    assert!(s.selected().is_none());

    s.examine(renamed).unwrap();
    // Copied in UID order, the copies have ascending UIDs too.
    let found = s.uid_search(vec![SearchKey::All]).unwrap();
    assert_eq!(found, copies, "COPYUID names the copies");
    s.unselect().unwrap();

    s.delete_folder(renamed).unwrap();
    let now = names(&mut s);
    assert!(!now.contains(&renamed.to_owned()), "{now:?}");
    s.logout().unwrap();
}

//! Interop: the mailserver's IMAP service (and the mail store it shares
//! with SMTP delivery and POP3) against real peers: Python's imaplib,
//! poplib and smtplib, curl's `imap://`, and Dovecot serving the same
//! Maildir.
//!
//! `#[ignore]`d: run with `cargo test --release -p mailwire --test
//! interop_imap_server -- --ignored --test-threads=1` after `bash
//! .ci/install-peers`. A missing peer skips the test, or fails it when
//! `CI=true`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;

use common::{MailServer, have, scratch};

/// A fresh mailserver (default options) for a test that drives it from
/// Python; `None` (the test skips) when python3 is missing.
fn python_server(tag: &str) -> Option<(MailServer, std::path::PathBuf)> {
    if !have("python3") {
        return None;
    }
    let dir = scratch(tag);
    let data = dir.to_path_buf();
    let srv = MailServer::start(&data, &[]).owning(dir);
    Some((srv, data))
}

/// Runs a script against a fresh mailserver with [`python_on`]; panics
/// unless its output ends with `ok`. `None`: python3 is missing (skip).
fn python_ok(tag: &str, script: &str) -> Option<(MailServer, std::path::PathBuf)> {
    let (srv, data) = python_server(tag)?;
    let out = python_on(script, &srv);
    assert!(out.ends_with("ok\n"), "{out}\n{}", srv.log());
    eprint!("{out}");
    Some((srv, data))
}

/// Runs a program to its end; panics with its output on failure.
fn stdout_of(cmd: &mut Command) -> String {
    let out = cmd.output().expect("the program runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{:?} failed:\n{stdout}\n{}",
        cmd.get_program(),
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Runs a Python script with the server's SMTP, IMAP and POP3 ports as
/// arguments; panics with its output on failure.
fn python_on(script: &str, srv: &MailServer) -> String {
    let ports = [
        srv.smtp(),
        srv.imap.expect("imap port"),
        srv.listener("pop3"),
    ];
    python(script, &ports.map(|a| a.port().to_string()))
}

/// Runs a Python script with arguments; panics with its output on failure.
fn python(script: &str, args: &[String]) -> String {
    stdout_of(Command::new("python3").arg("-c").arg(script).args(args))
}

/// The whole session: STARTTLS, LOGIN, LIST (SPECIAL-USE), SELECT, FETCH,
/// SEARCH, STORE (keywords), COPY, UID MOVE, STATUS, APPEND, EXPUNGE,
/// CREATE/RENAME/DELETE/SUBSCRIBE/LSUB, ESEARCH, SORT, IDLE through raw
/// commands (a delivery seen within a second), a POP3 deletion seen as an
/// EXPUNGE, LOGOUT. Every check is an assert in the script.
const SESSION: &str = r#"
import imaplib, poplib, smtplib, ssl, sys, time, re
smtp_port, imap_port, pop3_port = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])

def deliver(subject, body="hello"):
    s = smtplib.SMTP("127.0.0.1", smtp_port)
    s.sendmail("a@example.com", ["demo@localhost"],
               "From: A <a@example.com>\r\nSubject: %s\r\nMessage-ID: <%s@test>\r\n\r\n%s\r\n"
               % (subject, subject.replace(" ", "."), body))
    s.quit()

for i in range(3):
    deliver("msg %d" % i, "body number %d" % i)

M = imaplib.IMAP4("127.0.0.1", imap_port)
assert "STARTTLS" in M.capabilities, M.capabilities
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
M.starttls(ssl_context=ctx)
typ, data = M.login("demo", "demo")
assert typ == "OK", data
caps = M.capability()[1][0].decode().split()
for c in ["IMAP4rev1", "IDLE", "UIDPLUS", "MOVE", "SPECIAL-USE", "ESEARCH", "SORT", "NAMESPACE"]:
    assert c in caps, (c, caps)

typ, data = M.list()
lines = [l.decode() for l in data]
assert '(\\HasNoChildren \\Sent) "." Sent' in lines, lines
assert '(\\HasNoChildren \\Trash) "." Trash' in lines, lines
assert '(\\HasNoChildren) "." INBOX' in lines, lines

typ, data = M.select("INBOX")
assert data == [b"3"], data
typ, data = M.uid("FETCH", "1:*", "(FLAGS RFC822.SIZE BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
subjects = [d[1].decode().strip() for d in data if isinstance(d, tuple)]
assert subjects == ["Subject: msg 0", "Subject: msg 1", "Subject: msg 2"], subjects
assert b"UID 1 " in data[0][0] and b"\\Recent" in data[0][0], data[0][0]

typ, data = M.search(None, "SUBJECT", '"msg 1"')
assert data == [b"2"], data
typ, data = M.uid("SEARCH", "BODY", '"number 2"')
assert data == [b"3"], data

typ, data = M.store("2", "+FLAGS", "(\\Flagged $Work)")
assert b"$Work" in data[0] and b"\\Flagged" in data[0], data
typ, data = M.fetch("1", "(BODY[TEXT])")
assert data[0][1] == b"body number 0\r\n", data
typ, data = M.fetch("1", "(FLAGS)")
assert b"\\Seen" in data[0], data

typ, data = M.copy("1", "Archive")
assert typ == "OK" and b"COPYUID" in data[0], data
typ, data = M.uid("MOVE", "3", "Trash")
assert typ == "OK", data
typ, data = M.status("Trash", "(MESSAGES UIDNEXT UNSEEN)")
assert b"MESSAGES 1 UIDNEXT 2 UNSEEN 1" in data[0], data
typ, data = M.status("Archive", "(MESSAGES)")
assert b"MESSAGES 1" in data[0], data

typ, data = M.append("Sent", "(\\Seen)", imaplib.Time2Internaldate(time.time()),
                     b"From: demo@localhost\r\nSubject: sent one\r\n\r\nsent body\r\n")
assert typ == "OK" and b"APPENDUID" in data[0], data
typ, data = M.status("Sent", "(MESSAGES)")
assert b"MESSAGES 1" in data[0], data

typ, data = M.store("1", "+FLAGS", "\\Deleted")
typ, data = M.expunge()
# imaplib keeps the MOVE's "* 3 EXPUNGE" too.
assert data[-1] == b"1", data
typ, data = M.uid("SEARCH", "ALL")
assert data == [b"2"], data

# Folders.
assert M.create("Work.2024")[0] == "OK"
typ, data = M.list('""', "W%")
assert [l.decode() for l in data] == ['(\\NonExistent \\Noselect \\HasChildren) "." Work'], data
assert M.create("Work")[0] == "OK"
assert M.rename("Work", "Jobs")[0] == "OK"
typ, data = M.list('""', "Jobs*")
assert [l.decode() for l in data] == ['(\\HasChildren) "." Jobs', '(\\HasNoChildren) "." Jobs.2024'], data
assert M.subscribe("Jobs")[0] == "OK"
typ, data = M.lsub('""', "Jo*")
assert len(data) == 1 and data[0].endswith(b'"." Jobs'), data
assert M.delete("Jobs")[0] == "NO"
assert M.delete("Jobs.2024")[0] == "OK"
assert M.delete("Jobs")[0] == "OK"
assert M.delete("INBOX")[0] == "NO"

# ESEARCH and SORT through raw commands.
typ, data = M._simple_command("UID", "SEARCH", "RETURN", "(COUNT MIN)", "ALL")
typ, data = M._untagged_response(typ, data, "ESEARCH")
assert b"UID COUNT 1 MIN 2" in data[0] or b"UID MIN 2 COUNT 1" in data[0], data
typ, data = M.uid("SORT", "(REVERSE SUBJECT)", "UTF-8", "ALL")
assert data == [b"2"], data

# IDLE: a delivery shows up within a second of its 250.
tag = M._new_tag().decode()
M.send(("%s IDLE\r\n" % tag).encode())
line = M.readline()
assert line.startswith(b"+"), line
t0 = time.time()
deliver("idle one")
seen = None
while True:
    line = M.readline()
    if re.match(rb"\* \d+ EXISTS", line):
        seen = time.time() - t0
        break
assert seen < 1.0, seen
M.send(b"DONE\r\n")
while True:
    line = M.readline()
    if line.startswith(tag.encode()):
        assert b"OK" in line, line
        break
print("idle delay %.3f s" % seen)

# POP3 deletes a message: an expunge for this session.
P = poplib.POP3("127.0.0.1", pop3_port)
P.user("demo")
P.pass_("demo")
count, _ = P.stat()
assert count == 2, count
P.dele(1)
P.quit()
typ, data = M.noop()
typ, data = M._untagged_response(typ, data, "EXPUNGE")
assert data == [b"1"], data
typ, data = M.uid("SEARCH", "ALL")
assert data == [b"4"], data

# A big message streams back from the file as it was appended.
big = b"Subject: big\r\n\r\n" + b"".join(b"line %07d of a big message\r\n" % i for i in range(100000))
typ, data = M.append("Drafts", "(\\Draft)", None, big)
assert typ == "OK", data
typ, data = M.select("Drafts")
assert data == [b"1"], data
typ, data = M.fetch("1", "(UID RFC822.SIZE BODY.PEEK[])")
assert data[0][1] == big, (len(data[0][1]), len(big))
assert (b"RFC822.SIZE %d" % len(big)) in data[0][0], data[0][0]
typ, data = M.fetch("1", "(FLAGS)")
assert b"\\Seen" not in data[0] and b"\\Draft" in data[0], data

assert M.logout()[0] == "BYE"
print("ok")
"#;

#[test]
#[ignore = "interop: needs python3"]
fn imaplib_session_against_mailserver() {
    let Some((_srv, data)) = python_ok("imap-imaplib", SESSION) else {
        return;
    };
    // The Maildir is Dovecot's: a uidlist with every UID given.
    let list = fs::read_to_string(data.join("mailboxes/demo/dovecot-uidlist")).unwrap();
    assert!(list.starts_with("3 V"), "{list}");
    assert!(list.contains(" N5 "), "{list}");
    assert_eq!(
        fs::read_to_string(data.join("mailboxes/demo/dovecot-keywords")).unwrap(),
        "0 $Work\n"
    );
}

#[test]
#[ignore = "interop: needs curl"]
fn curl_lists_fetches_and_searches() {
    if !have("curl") {
        return;
    }
    let data = scratch("imap-curl");
    let mut srv = MailServer::start(&data, &[]);
    let imap = srv.imap.expect("imap port");
    for i in 0..2 {
        let (code, _) = srv.smtp_mail(i);
        assert_eq!(code, 250);
    }
    let url = |path: &str| format!("imap://demo:demo@{imap}/{path}");
    let run = |args: &[&str]| {
        stdout_of(
            Command::new("curl")
                .args(["-sS", "--max-time", "20"])
                .args(args),
        )
    };
    let list = run(&[&url("")]);
    assert!(list.contains("\\Sent) \".\" Sent"), "{list}");
    assert!(list.contains("INBOX"), "{list}");
    let msg = run(&[&url("INBOX;UID=2")]);
    assert!(msg.contains("Subject: curl 1"), "{msg}");
    let found = run(&[&url("INBOX?SUBJECT%20%22curl%201%22")]);
    assert_eq!(found.trim(), "* SEARCH 2", "{found}");
    let found = run(&[&url("INBOX"), "-X", "UID SEARCH ALL"]);
    assert_eq!(found.trim(), "* SEARCH 1 2", "{found}");
    srv.terminate(std::time::Duration::from_secs(10));
}

/// A message for SMTP with a marker subject.
trait SmtpMail {
    fn smtp_mail(&mut self, i: usize) -> (u16, String);
}

impl SmtpMail for MailServer {
    fn smtp_mail(&mut self, i: usize) -> (u16, String) {
        let mut c = common::Raw::connect(self.smtp());
        c.reply();
        c.cmd("EHLO client.test");
        let data = format!("From: a@example.com\r\nSubject: curl {i}\r\n\r\nhi {i}\r\n");
        c.mail("a@example.com", &["demo@localhost"], data.as_bytes())
    }
}

/// UID FETCH of UID and FLAGS from a `doveadm exec imap` transcript.
fn dovecot_flags(out: &str) -> BTreeMap<u32, String> {
    let mut m = BTreeMap::new();
    for l in out.lines() {
        if let (Some(u), Some(f)) = (l.find("UID "), l.find("FLAGS (")) {
            let uid: u32 = l[u + 4..]
                .split(|c: char| !c.is_ascii_digit())
                .next()
                .unwrap()
                .parse()
                .unwrap();
            let flags = l[f + 7..].split(')').next().unwrap().to_string();
            m.insert(uid, flags);
        }
    }
    m
}

fn copy_tree(from: &Path, to: &Path) {
    let _ = fs::remove_dir_all(to);
    let ok = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .unwrap()
        .success();
    assert!(ok);
}

/// A Dovecot prepared for `doveadm exec imap` and a mailserver with its
/// user `testuser`; `None` (skip) without Dovecot or python3.
fn dovecot_and_mailserver(
    tag: &str,
) -> Option<(common::dovecot::Dovecot, MailServer, std::path::PathBuf)> {
    let dc = common::dovecot::Dovecot::prepare()?;
    if !have("python3") {
        return None;
    }
    let dir = scratch(tag);
    let data = dir.to_path_buf();
    let srv = MailServer::start(&data, &["--user", "testuser:testpass"]).owning(dir);
    Some((dc, srv, data))
}

/// Dovecot gets a copy of the mailserver's Maildir of `testuser`.
fn give_to_dovecot(dc: &common::dovecot::Dovecot, data: &Path) {
    copy_tree(&data.join("mailboxes/testuser"), &dc.maildir());
    assert!(
        Command::new("chown")
            .args(["-R", "vmail:vmail"])
            .arg(dc.maildir())
            .status()
            .unwrap()
            .success()
    );
}

/// The mailserver gives UIDs and flags; Dovecot, on a copy of the same
/// Maildir, serves the same UIDs, UIDVALIDITY and flags (keywords too).
/// Then Dovecot changes flags and appends; the mailserver, on a copy of
/// that Maildir, serves Dovecot's UIDs and flags.
#[test]
#[ignore = "interop: needs Dovecot and python3"]
fn dovecot_serves_the_same_uids_and_flags_and_back() {
    let Some((dc, mut srv, data)) = dovecot_and_mailserver("imap-dovecot") else {
        return;
    };
    let imap = srv.imap.expect("imap port");
    let script = r#"
import imaplib, smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]))
for i in range(3):
    s.sendmail("a@example.com", ["testuser@localhost"], "Subject: d%d\r\n\r\nx\r\n" % i)
s.quit()
M = imaplib.IMAP4("127.0.0.1", int(sys.argv[2]))
M.login("testuser", "testpass")
typ, data = M.select("INBOX")
print("validity", M.response("UIDVALIDITY")[1][0].decode())
M.store("1", "+FLAGS", "(\\Seen)")
M.store("2", "+FLAGS", "(\\Flagged $Work)")
M.store("3", "+FLAGS", "(\\Answered)")
M.store("3", "-FLAGS", "(\\Answered)")
M.logout()
"#;
    let out = python(
        script,
        &[srv.smtp().port().to_string(), imap.port().to_string()],
    );
    let validity = out
        .lines()
        .find_map(|l| l.strip_prefix("validity "))
        .unwrap()
        .to_string();
    srv.terminate(std::time::Duration::from_secs(10));

    // Dovecot on the mailserver's Maildir.
    give_to_dovecot(&dc, &data);
    let out = dc.exec_imap(
        b"a SELECT INBOX\r\nb UID FETCH 1:* (UID FLAGS)\r\n\
c STORE 3 +FLAGS (\\Deleted $Later)\r\n\
d APPEND INBOX (\\Seen) {14}\r\nSubject: x\r\n\r\n\r\ne LOGOUT\r\n",
    );
    let out = String::from_utf8_lossy(&out).into_owned();
    assert!(out.contains(&format!("[UIDVALIDITY {validity}]")), "{out}");
    let flags = dovecot_flags(&out);
    assert_eq!(
        flags.keys().copied().collect::<Vec<_>>(),
        [1, 2, 3],
        "{out}"
    );
    assert!(flags[&1].contains("\\Seen"), "{out}");
    assert!(
        flags[&2].contains("\\Flagged") && flags[&2].contains("$Work"),
        "{out}"
    );
    assert!(!flags[&3].contains("\\Answered"), "{out}");
    assert!(out.contains("[APPENDUID "), "{out}");

    // And back: the mailserver on Dovecot's Maildir.
    copy_tree(&dc.maildir(), &data.join("mailboxes/testuser"));
    srv.restart();
    let imap = srv.imap.expect("imap port");
    let script = r#"
import imaplib, sys
M = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
M.login("testuser", "testpass")
M.select("INBOX")
print("validity", M.response("UIDVALIDITY")[1][0].decode())
typ, data = M.uid("FETCH", "1:*", "(FLAGS)")
for d in data:
    print(d.decode())
M.logout()
"#;
    let out = python(script, &[imap.port().to_string()]);
    assert!(out.contains(&format!("validity {validity}")), "{out}");
    let flags = dovecot_flags(&out);
    assert_eq!(
        flags.keys().copied().collect::<Vec<_>>(),
        [1, 2, 3, 4],
        "{out}"
    );
    assert!(flags[&2].contains("$Work"), "{out}");
    assert!(
        flags[&3].contains("\\Deleted") && flags[&3].contains("$Later"),
        "{out}"
    );
    assert!(flags[&4].contains("\\Seen"), "{out}");
}

/// Dovecot's Maildir++ quota for `testuser`: the `maildir` backend (the
/// `maildirsize` file), 10 KiB, as the mailserver's `--quota 10K`.
const DOVECOT_QUOTA: &str = "mail_plugins = $mail_plugins quota
protocol imap {
  mail_plugins = $mail_plugins imap_quota
}
plugin {
  quota = maildir:User quota
  quota_rule = *:storage=10K:messages=100
}
";

/// The byte and message sums of a `maildirsize` (the first line is the
/// limit).
fn maildirsize_sums(text: &str) -> (i64, i64) {
    text.lines().skip(1).fold((0, 0), |(b, m), l| {
        let mut cols = l.split_whitespace().map(|c| c.parse::<i64>().unwrap());
        (b + cols.next().unwrap(), m + cols.next().unwrap())
    })
}

/// The KiB values of the `STORAGE` usages a script printed, in order.
fn storage_values(out: &str) -> Vec<u64> {
    out.lines()
        .filter_map(|l| l.split_once("(STORAGE ").map(|(_, r)| r))
        .map(|r| r.split(' ').next().unwrap().parse().unwrap())
        .collect()
}

/// The mailserver's `maildirsize` is Maildir++'s, both ways: Dovecot's
/// `maildir` quota backend, on a copy of the Maildir, takes the file as
/// it is (its usage is the file's sum, and its own APPEND and expunge go
/// after the mailserver's lines instead of a recount); the mailserver,
/// on Dovecot's copy, reads Dovecot's lines and appends its next
/// delivery the same way.
#[test]
#[ignore = "interop: needs Dovecot and python3"]
fn dovecot_and_mailserver_share_maildirsize() {
    if !have("python3") {
        return;
    }
    let dir = scratch("imap-dovecot-quota");
    let data = dir.to_path_buf();
    let mut srv = MailServer::start(
        &data,
        &[
            "--user",
            "testuser:testpass",
            "--quota",
            "10K",
            "--message-quota",
            "100",
        ],
    )
    .owning(dir);
    let script = r#"
import imaplib, smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]))
s.sendmail("a@example.com", ["testuser@localhost"], "Subject: one\r\n\r\n" + "x" * 2000 + "\r\n")
s.quit()
M = imaplib.IMAP4("127.0.0.1", int(sys.argv[2]))
M.login("testuser", "testpass")
typ, data = M.append("Archive", None, None, b"Subject: two\r\n\r\n" + b"y" * 1500 + b"\r\n")
assert typ == "OK", data
M.logout()
"#;
    let imap = srv.imap.expect("imap port");
    python(
        script,
        &[srv.smtp().port().to_string(), imap.port().to_string()],
    );
    srv.terminate(std::time::Duration::from_secs(10));
    let sizes = data.join("mailboxes/testuser/maildirsize");
    let ours = fs::read_to_string(&sizes).unwrap();
    assert!(ours.starts_with("10240S,100C\n"), "{ours}");
    let (bytes, messages) = maildirsize_sums(&ours);
    assert_eq!(messages, 2, "{ours}");

    assert_eq!(maildir_total(&data.join("mailboxes/testuser")), (bytes, 2));

    // Dovecot on a copy: the usage of the file, and its changes (an
    // APPEND, an expunge) appended after the mailserver's lines.
    let Some(dc) = common::dovecot::Dovecot::start_with(DOVECOT_QUOTA) else {
        return;
    };
    give_to_dovecot(&dc, &data);
    let script = r#"
import imaplib, sys
M = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
M.login("testuser", "testpass")
print(M.getquotaroot("INBOX")[1][1][0].decode())
typ, data = M.append("INBOX", None, None, b"Subject: three\r\n\r\n" + b"z" * 1000 + b"\r\n")
assert typ == "OK", data
M.select("Archive")
M.store("1", "+FLAGS", "\\Deleted")
typ, data = M.expunge()
assert typ == "OK", data
print(M.getquotaroot("INBOX")[1][1][0].decode())
M.logout()
"#;
    let out = python(script, &[dc.imap_port.to_string()]);
    let storage = storage_values(&out);
    let kib = |b: i64| (b as u64 / 1024)..=(b as u64).div_ceil(1024);
    assert!(kib(bytes).contains(&storage[0]), "{bytes} {out}");
    let theirs = fs::read_to_string(dc.maildir().join("maildirsize")).unwrap();
    assert!(
        theirs.starts_with(&ours),
        "ours:\n{ours}\ntheirs:\n{theirs}"
    );
    let (bytes, messages) = maildirsize_sums(&theirs);
    assert_eq!(maildir_total(&dc.maildir()), (bytes, messages), "{theirs}");
    assert_eq!(messages, 2, "{theirs}");
    assert!(kib(bytes).contains(&storage[1]), "{bytes} {out}");

    // And back: the mailserver reads Dovecot's lines (no recount) and
    // appends its next delivery.
    copy_tree(&dc.maildir(), &data.join("mailboxes/testuser"));
    srv.restart();
    let script = r#"
import imaplib, smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]))
s.sendmail("a@example.com", ["testuser@localhost"], "Subject: four\r\n\r\nw\r\n")
s.quit()
M = imaplib.IMAP4("127.0.0.1", int(sys.argv[2]))
M.login("testuser", "testpass")
typ, data = M.getquota('""')
print(data[0].decode())
M.logout()
"#;
    let imap = srv.imap.expect("imap port");
    let out = python(
        script,
        &[srv.smtp().port().to_string(), imap.port().to_string()],
    );
    let ours = fs::read_to_string(&sizes).unwrap();
    assert!(
        ours.starts_with(&theirs),
        "theirs:\n{theirs}\nours:\n{ours}"
    );
    let (bytes, messages) = maildirsize_sums(&ours);
    assert_eq!(messages, 3, "{ours}");
    assert_eq!(maildir_total(&data.join("mailboxes/testuser")), (bytes, 3));
    assert!(
        out.contains(&format!(
            "(STORAGE {} 10 MESSAGE 3 100)",
            (bytes as u64).div_ceil(1024)
        )),
        "{bytes} {out}"
    );
}

/// The bytes (by the `,S=` of each name, else the file's length) and the
/// messages of every folder of a Maildir++ tree: what a recount finds.
fn maildir_total(root: &Path) -> (i64, i64) {
    let mut dirs = vec![root.to_path_buf()];
    for e in fs::read_dir(root).unwrap().flatten() {
        if e.file_name().to_string_lossy().starts_with('.') && e.path().join("cur").is_dir() {
            dirs.push(e.path());
        }
    }
    let (mut bytes, mut messages) = (0, 0);
    for d in dirs {
        for sub in ["new", "cur"] {
            for e in fs::read_dir(d.join(sub)).unwrap().flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                let size = name
                    .split(':')
                    .next()
                    .unwrap()
                    .split(',')
                    .find_map(|f| f.strip_prefix("S="))
                    .and_then(|v| v.parse().ok())
                    .unwrap_or_else(|| e.metadata().unwrap().len() as i64);
                bytes += size;
                messages += 1;
            }
        }
    }
    (bytes, messages)
}

/// Runs the `imap` user agent against the mailserver, compressed (RFC
/// 4978: our client's DEFLATE layer against the server's, through every
/// command the agent sends, IDLE included; `interop_imap_ua.rs` runs it
/// uncompressed against Dovecot); panics on failure.
fn ua(imap: SocketAddr, args: &[&str]) -> String {
    stdout_of(
        Command::new(common::example("imap"))
            .args([
                "--server",
                &imap.to_string(),
                "--user",
                "demo",
                "--password",
                "demo",
                "--compress",
            ])
            .args(args),
    )
}

/// The `imap` example in its three modes against the mailserver: online
/// (folders, list, read, search, flag, move, delete), disconnected (sync
/// twice: the second run has nothing to do), offline (download --delete),
/// and watch (IDLE) seeing a delivery.
#[test]
#[ignore = "interop: the imap example against the mailserver"]
fn imap_user_agent_against_mailserver() {
    let data = scratch("imap-ua");
    let mut srv = MailServer::start(&data, &[]);
    let imap = srv.imap.expect("imap port");
    for i in 0..3 {
        let (code, _) = srv.smtp_mail(i);
        assert_eq!(code, 250);
    }
    let folders = ua(imap, &["folders"]);
    assert!(
        folders.contains("INBOX") && folders.contains("3 messages"),
        "{folders}"
    );
    assert!(
        folders
            .lines()
            .any(|l| l.starts_with("Trash") && l.contains("Trash")),
        "{folders}"
    );
    let list = ua(imap, &["list"]);
    assert_eq!(list.lines().count(), 3, "{list}");
    assert!(list.contains("curl 1"), "{list}");
    let read = ua(imap, &["read", "2"]);
    assert!(read.contains("hi 1"), "{read}");
    let found = ua(imap, &["search", "--subject", "curl 2"]);
    assert_eq!(found.lines().count(), 1, "{found}");
    assert!(found.trim_start().starts_with('3'), "{found}");
    let flagged = ua(imap, &["flag", "1", "--add", "flagged"]);
    assert!(flagged.contains("\\Flagged"), "{flagged}");
    ua(imap, &["move", "3", "Archive"]);
    ua(imap, &["delete", "1"]);
    let list = ua(imap, &["list"]);
    assert_eq!(list.lines().count(), 1, "{list}");

    let mirror = data.join("mirror");
    let first = ua(imap, &["sync", "--dir", mirror.to_str().unwrap()]);
    assert!(first.contains("sync: 2 down, 0 up"), "{first}");
    let second = ua(imap, &["sync", "--dir", mirror.to_str().unwrap()]);
    assert!(second.contains("sync: 0 down, 0 up"), "{second}");

    let out = data.join("download");
    let dl = ua(
        imap,
        &["download", "--out", out.to_str().unwrap(), "--delete"],
    );
    assert!(dl.contains("downloaded 1 messages"), "{dl}");
    assert_eq!(ua(imap, &["list"]).trim(), "");

    let watcher = {
        let imap = imap.to_string();
        std::thread::spawn(move || {
            Command::new(common::example("imap"))
                .args(["--server", &imap, "--user", "demo", "--password", "demo"])
                .args(["--compress", "watch", "--timeout", "20", "--count", "1"])
                .output()
                .expect("imap watch runs")
        })
    };
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let (code, _) = srv.smtp_mail(7);
    assert_eq!(code, 250);
    let w = watcher.join().unwrap();
    let wout = String::from_utf8_lossy(&w.stdout);
    assert!(w.status.success() && wout.contains("curl 7"), "{wout}");
    let log = srv.log();
    let sessions = log.matches("COMPRESS=DEFLATE on").count();
    assert!(sessions >= 10, "{sessions} compressed sessions:\n{log}");
    srv.terminate(std::time::Duration::from_secs(10));
}

/// APPENDs and MOVEs as fast as the server answers, printing each
/// acknowledgement, until the server dies.
const APPEND_MOVE_LOOP: &str = r#"
import imaplib, sys, re
M = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
M.login("demo", "demo")
M.select("INBOX")
i = 0
try:
    while True:
        subject = "k%d" % i
        typ, data = M.append("INBOX", None, None, ("Subject: %s\r\n\r\nbody\r\n" % subject).encode())
        v, uid = re.search(rb"APPENDUID (\d+) (\d+)", data[0]).groups()
        print("append", v.decode(), uid.decode(), subject, flush=True)
        if i % 2 == 0:
            typ, data = M.uid("MOVE", uid.decode(), "Archive")
            assert typ == "OK", data
            print("moved", uid.decode(), subject, flush=True)
        i += 1
except Exception as e:
    print("stopped", repr(e), flush=True)
"#;

/// Every subject by UID in a folder.
const SUBJECTS: &str = r#"
import imaplib, sys, re
M = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
M.login("demo", "demo")
for folder in ["INBOX", "Archive"]:
    typ, data = M.select(folder)
    print("validity", folder, M.response("UIDVALIDITY")[1][0].decode())
    typ, data = M.uid("FETCH", "1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    for d in data:
        if isinstance(d, tuple):
            uid = re.search(rb"UID (\d+)", d[0]).group(1).decode()
            print("has", folder, uid, d[1].decode().split(":", 1)[1].strip())
M.logout()
"#;

/// SIGKILL while a client APPENDs and MOVEs: after a restart every
/// acknowledged APPEND is there under the UID it was given (or, moved, in
/// Archive), UIDVALIDITY did not change, and no UID names two messages.
#[test]
#[ignore = "interop: needs python3"]
fn sigkill_during_append_and_move_loses_nothing_acknowledged() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let Some((mut srv, _)) = python_server("imap-sigkill") else {
        return;
    };
    let imap = srv.imap.expect("imap port");
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(APPEND_MOVE_LOOP)
        .arg(imap.port().to_string())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut acks: Vec<(String, String, String)> = Vec::new();
    let mut moved: HashSet<String> = HashSet::new();
    while let Some(Ok(l)) = lines.next() {
        let w: Vec<&str> = l.split(' ').collect();
        match w[0] {
            "append" => acks.push((w[1].into(), w[2].into(), w[3].into())),
            "moved" => {
                moved.insert(w[2].to_string());
            }
            _ => break,
        }
        if acks.len() == 60 {
            srv.kill9();
        }
    }
    let _ = child.wait();
    assert!(acks.len() >= 60, "{acks:?}");
    srv.restart();
    let imap = srv.imap.expect("imap port");
    let out = python(SUBJECTS, &[imap.port().to_string()]);
    let validity = &acks[0].0;
    assert!(out.contains(&format!("validity INBOX {validity}")), "{out}");
    let mut has: BTreeMap<(String, String), String> = BTreeMap::new();
    let mut subjects_seen: HashSet<String> = HashSet::new();
    for l in out.lines().filter(|l| l.starts_with("has ")) {
        let w: Vec<&str> = l.split(' ').collect();
        assert!(
            has.insert((w[1].into(), w[2].into()), w[3].into())
                .is_none(),
            "UID twice: {l}"
        );
        subjects_seen.insert(w[3].to_string());
    }
    for (_, uid, subject) in &acks {
        if moved.contains(subject) {
            assert!(
                has.iter().any(|((f, _), s)| f == "Archive" && s == subject),
                "moved {subject} lost:\n{out}"
            );
        } else {
            let in_inbox = has.get(&("INBOX".into(), uid.clone())) == Some(subject);
            let in_archive = has.iter().any(|((f, _), s)| f == "Archive" && s == subject);
            assert!(
                in_inbox || in_archive,
                "appended {subject} (UID {uid}) lost:\n{out}"
            );
        }
    }
    eprintln!(
        "{} APPENDs and {} MOVEs acknowledged before SIGKILL; all there",
        acks.len(),
        moved.len()
    );
}

/// A minimal IMAP client for timing: sends a command and reads until its
/// tagged completion, counting the octets of the untagged data (literals
/// included).
struct Timer {
    r: std::io::BufReader<std::net::TcpStream>,
    w: std::net::TcpStream,
    n: u32,
}

impl Timer {
    fn connect(port: u16, user: &str, pass: &str) -> Timer {
        let s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let mut t = Timer {
            r: std::io::BufReader::new(s.try_clone().unwrap()),
            w: s,
            n: 0,
        };
        let mut greeting = String::new();
        std::io::BufRead::read_line(&mut t.r, &mut greeting).unwrap();
        t.run(&format!("LOGIN {user} {pass}"));
        t
    }

    /// The command's response octets and how long it took.
    fn run(&mut self, cmd: &str) -> (usize, std::time::Duration) {
        use std::io::{BufRead, Read, Write};
        self.n += 1;
        let tag = format!("t{}", self.n);
        let start = std::time::Instant::now();
        self.w
            .write_all(format!("{tag} {cmd}\r\n").as_bytes())
            .unwrap();
        let mut total = 0;
        let mut line = Vec::new();
        loop {
            line.clear();
            self.r.read_until(b'\n', &mut line).unwrap();
            assert!(!line.is_empty(), "connection closed during {cmd}");
            if line.starts_with(tag.as_bytes()) {
                assert!(
                    line[tag.len()..].starts_with(b" OK"),
                    "{cmd}: {}",
                    String::from_utf8_lossy(&line)
                );
                return (total, start.elapsed());
            }
            // Untagged data only: the completion texts differ.
            total += line.len();
            // A literal: `{n}` at the end of the line.
            let l = line.strip_suffix(b"\r\n").unwrap_or(&line);
            if l.ends_with(b"}")
                && let Some(open) = l.iter().rposition(|&b| b == b'{')
                && let Ok(n) = std::str::from_utf8(&l[open + 1..l.len() - 1])
                    .unwrap_or("x")
                    .parse::<usize>()
            {
                let mut buf = vec![0u8; n];
                self.r.read_exact(&mut buf).unwrap();
                total += n;
            }
        }
    }
}

/// Writes `n` messages (corpus-like, with a text and an attachment part)
/// into a Maildir's `new/`, named with sizes as a delivery would.
fn fill_maildir(dir: &Path, n: usize) {
    for i in 0..n {
        let body = format!(
            "From: Sender {i} <s{i}@example.com>\r\nTo: demo@localhost\r\nSubject: message {i} about topic {}\r\n\
Date: Mon, 1 Jan 2024 10:00:00 +0000\r\nMessage-ID: <{i}@bench>\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{}\r\n\
--b\r\nContent-Type: application/octet-stream; name=\"a.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n--b--\r\n",
            i % 17,
            "Some words of the message text, long enough to search. ".repeat(20),
            "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=\r\n".repeat(40)
        );
        let name = format!(
            "1700000000.M{i}P1Q{i}.bench,S={},W={}",
            body.len(),
            body.len()
        );
        fs::write(dir.join("new").join(name), body).unwrap();
    }
}

/// The mailserver against Dovecot on copies of the same Maildir of 10,000
/// messages, the same client, the same run: SELECT, FETCH 1:* (FLAGS
/// ENVELOPE BODYSTRUCTURE), FETCH 1:* BODY.PEEK[], SEARCH TEXT. Prints the
/// times and ratios (run in release: `cargo test --release -p mailwire
/// --test interop_imap_server -- --ignored bench --nocapture`;
/// `MAILWIRE_IMAP_BENCH_N` sets the number of messages). Asserts that every
/// command completes OK on both servers and that both send the same
/// message data for `BODY.PEEK[]`.
/// The bench row of a SELECT right after another session's STORE.
const AFTER_CHANGE: &str = "SELECT INBOX (after a STORE elsewhere)";

#[test]
#[ignore = "benchmark: needs Dovecot; run in release"]
fn bench_against_dovecot_same_maildir() {
    let Some(dc) = common::dovecot::Dovecot::start() else {
        return;
    };
    let n: usize = std::env::var("MAILWIRE_IMAP_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let data = scratch("imap-bench");
    let mut srv = MailServer::start(&data, &["--user", "testuser:testpass"]);
    let inbox = data.join("mailboxes/testuser");
    fill_maildir(&inbox, n);
    let port = srv.imap.expect("imap port").port();
    // UIDs given by the mailserver; then the same Maildir for Dovecot.
    Timer::connect(port, "testuser", "testpass").run("SELECT INBOX");
    srv.terminate(std::time::Duration::from_secs(10));
    give_to_dovecot(&dc, &data);
    srv.restart();
    let ours = srv.imap.expect("imap port").port();
    let commands = [
        "SELECT INBOX",
        "FETCH 1:* (FLAGS ENVELOPE BODYSTRUCTURE)",
        "FETCH 1:* BODY.PEEK[]",
        "SEARCH TEXT \"topic 15\"",
    ];
    let mut report = String::new();
    for (name, port) in [("mailserver", ours), ("dovecot", dc.imap_port)] {
        let mut c = Timer::connect(port, "testuser", "testpass");
        // Warm up (Dovecot builds its index and cache on first use).
        for cmd in &commands {
            c.run(cmd);
        }
        for cmd in &commands {
            let mut best = std::time::Duration::MAX;
            let mut size = 0;
            for _ in 0..3 {
                let (s, t) = c.run(cmd);
                best = best.min(t);
                size = s;
            }
            report.push_str(&format!(
                "{name}\t{cmd}\t{:.1} ms\t{size} octets\n",
                best.as_secs_f64() * 1e3
            ));
        }
        // SELECT right after another session changed the folder (a flag
        // stored: a file renamed, the mod-sequences written).
        let mut other = Timer::connect(port, "testuser", "testpass");
        other.run("SELECT INBOX");
        let mut best = std::time::Duration::MAX;
        let mut size = 0;
        for i in 0..3 {
            let sign = if i % 2 == 0 { '+' } else { '-' };
            other.run(&format!("STORE {} {sign}FLAGS (\\Flagged)", i + 1));
            let (s, t) = c.run("SELECT INBOX");
            best = best.min(t);
            size = s;
        }
        report.push_str(&format!(
            "{name}\t{AFTER_CHANGE}\t{:.1} ms\t{size} octets\n",
            best.as_secs_f64() * 1e3
        ));
    }
    eprintln!("{n} messages\n{report}");
    let size_of = |who: &str| {
        report
            .lines()
            .find(|l| l.starts_with(who) && l.contains("BODY.PEEK[]"))
            .and_then(|l| l.split('\t').nth(3))
            .and_then(|v| v.trim_end_matches(" octets").parse::<usize>().ok())
            .unwrap()
    };
    assert_eq!(size_of("mailserver"), size_of("dovecot"), "{report}");
    let rows: Vec<(String, String, f64)> = report
        .lines()
        .map(|l| {
            let w: Vec<&str> = l.split('\t').collect();
            (
                w[0].into(),
                w[1].into(),
                w[2].trim_end_matches(" ms").parse().unwrap(),
            )
        })
        .collect();
    for cmd in commands.iter().chain([&AFTER_CHANGE]) {
        let t = |who: &str| rows.iter().find(|r| r.0 == who && r.1 == *cmd).unwrap().2;
        eprintln!(
            "{cmd}: dovecot/mailserver = {:.2}x",
            t("dovecot") / t("mailserver")
        );
    }
    srv.terminate(std::time::Duration::from_secs(10));
}

const CONDSTORE: &str = r#"
import imaplib, smtplib, sys, re
smtp_port, imap_port = int(sys.argv[1]), int(sys.argv[2])
s = smtplib.SMTP("127.0.0.1", smtp_port)
for i in range(2):
    s.sendmail("a@example.com", ["demo@localhost"], "Subject: c%d\r\n\r\nx\r\n" % i)
s.quit()
M = imaplib.IMAP4("127.0.0.1", imap_port)
M.login("demo", "demo")
assert "CONDSTORE" in M.capability()[1][0].decode().split()
typ, data = M._simple_command("ENABLE", "CONDSTORE")
assert typ == "OK", data
M.select("INBOX")
h0 = int(M.response("HIGHESTMODSEQ")[1][0])
validity = int(M.response("UIDVALIDITY")[1][0])
typ, data = M.uid("FETCH", "1:*", "(FLAGS MODSEQ)")
assert all(b"MODSEQ (" in d for d in data), data
typ, data = M.store("1", "+FLAGS", "(\\Seen)")
m1 = int(re.search(rb"MODSEQ \((\d+)\)", data[0]).group(1))
assert m1 > h0, (m1, h0, data)
typ, data = M._simple_command("UID", "FETCH", "1:*", "(FLAGS)", "(CHANGEDSINCE %d)" % h0)
typ, data = M._untagged_response(typ, data, "FETCH")
assert len(data) == 1 and b"UID 1" in data[0] and (b"MODSEQ (%d)" % m1) in data[0], data
typ, data = M._simple_command("STORE", "2", "(UNCHANGEDSINCE 1)", "+FLAGS", "(\\Flagged)")
assert typ == "OK", data
assert any(b"MODIFIED 2" in (x or b"") for x in data), data
typ, data = M.fetch("2", "(FLAGS)")
assert b"\\Flagged" not in data[0], data
typ, data = M.search(None, "MODSEQ", str(h0 + 1))
assert data[0].startswith(b"1 (MODSEQ "), data
# Another session's change arrives with its MODSEQ.
N = imaplib.IMAP4("127.0.0.1", imap_port)
N.login("demo", "demo")
N.select("INBOX")
N.store("2", "+FLAGS", "(\\Answered)")
N.logout()
typ, data = M.noop()
typ, data = M._untagged_response(typ, data, "FETCH")
assert any(b"\\Answered" in d and b"MODSEQ" in d for d in data), data
# QRESYNC: a client back after an expunge and a flag change.
M.store("1", "+FLAGS", "(\\Deleted)")
M.expunge()
Q = imaplib.IMAP4("127.0.0.1", imap_port)
Q.login("demo", "demo")
typ, data = Q._simple_command("ENABLE", "QRESYNC")
assert typ == "OK", data
typ, data = Q._simple_command("SELECT", "INBOX", "(QRESYNC (%d %d))" % (validity, h0))
assert typ == "OK", data
Q.state = "SELECTED"  # imaplib tracks only its own select()
assert Q.untagged_responses.get("VANISHED") == [b"(EARLIER) 1"], Q.untagged_responses
# The state after the first expunge, for the QRESYNC after the restart.
between = int(Q.untagged_responses["HIGHESTMODSEQ"][-1])
fetched = Q.untagged_responses.get("FETCH", [])
assert len(fetched) == 1 and b"UID 2" in fetched[0] and b"\\Answered" in fetched[0], fetched
# Under QRESYNC an expunge is a VANISHED.
Q._simple_command("STORE", "1", "+FLAGS", "(\\Deleted)")
typ, data = Q._simple_command("EXPUNGE")
assert Q.untagged_responses.get("VANISHED")[-1] == b"2", Q.untagged_responses
Q.logout()
typ, data = M.status("INBOX", "(HIGHESTMODSEQ)")
h = int(re.search(rb"HIGHESTMODSEQ (\d+)", data[0]).group(1))
assert h > m1, (h, m1)
print("highest", h)
print("resync", validity, h0, between)
M.logout()
"#;

/// CONDSTORE and QRESYNC (RFC 7162): MODSEQ in FETCH and after STORE,
/// CHANGEDSINCE, UNCHANGEDSINCE, SEARCH MODSEQ, another session's change
/// with its MODSEQ, SELECT (QRESYNC ...) with VANISHED (EARLIER) and the
/// changed flags, VANISHED for an expunge, STATUS HIGHESTMODSEQ; the
/// mod-sequences and the expunge history survive a restart: a QRESYNC
/// from between the two expunges learns of the second only (RFC 7162
/// §3.2.5.1), not of every missing UID.
#[test]
#[ignore = "interop: needs python3"]
fn condstore_with_imaplib_and_across_a_restart() {
    let Some((mut srv, _)) = python_server("imap-condstore") else {
        return;
    };
    let out = python_on(CONDSTORE, &srv);
    let highest = out
        .lines()
        .find_map(|l| l.strip_prefix("highest "))
        .unwrap()
        .to_string();
    let resync: Vec<String> = out
        .lines()
        .find_map(|l| l.strip_prefix("resync "))
        .unwrap()
        .split(' ')
        .map(str::to_string)
        .collect();
    srv.restart();
    let imap = srv.imap.expect("imap port");
    let mut args = vec![imap.port().to_string()];
    args.extend(resync);
    let again = python(
        r#"
import imaplib, sys
port, validity, h0, between = (int(a) for a in sys.argv[1:5])
M = imaplib.IMAP4("127.0.0.1", port)
M.login("demo", "demo")
M.select("INBOX")
print("highest", M.response("HIGHESTMODSEQ")[1][0].decode())
M.logout()
for since, want in ((between, b"(EARLIER) 2"), (h0, b"(EARLIER) 1:2")):
    Q = imaplib.IMAP4("127.0.0.1", port)
    Q.login("demo", "demo")
    typ, data = Q._simple_command("ENABLE", "QRESYNC")
    assert typ == "OK", data
    typ, data = Q._simple_command("SELECT", "INBOX", "(QRESYNC (%d %d))" % (validity, since))
    assert typ == "OK", data
    assert Q.untagged_responses.get("VANISHED") == [want], (since, Q.untagged_responses)
    Q.logout()
print("resynced")
"#,
        &args,
    );
    assert_eq!(
        again.trim(),
        format!("highest {highest}\nresynced"),
        "{out}"
    );
}

/// SIGTERM while a session IDLEs: the session gets a BYE and the server
/// exits at once instead of waiting for the client.
#[test]
#[ignore = "interop: needs python3"]
fn sigterm_ends_an_idle_session_with_bye() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let Some((mut srv, _)) = python_server("imap-sigterm") else {
        return;
    };
    let imap = srv.imap.expect("imap port");
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(
            r#"
import imaplib, sys
M = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
M.login("demo", "demo")
M.select("INBOX")
M.send(b"i IDLE\r\n")
M.readline()
print("idling", flush=True)
while True:
    line = M.readline()
    if not line or line.startswith(b"* BYE"):
        print("got", line.decode().strip(), flush=True)
        break
"#,
        )
        .arg(imap.port().to_string())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "idling");
    let start = std::time::Instant::now();
    let status = srv.terminate(std::time::Duration::from_secs(20));
    assert!(status.is_some_and(|s| s.success()), "{}", srv.log());
    assert!(
        start.elapsed() < std::time::Duration::from_secs(5),
        "took {:?}",
        start.elapsed()
    );
    let got = lines.next().unwrap().unwrap();
    assert!(got.starts_with("got * BYE"), "{got}");
    let _ = child.wait();
}

/// IMAPS (implicit TLS, RFC 8314) and the SASL mechanisms through imaplib:
/// AUTHENTICATE PLAIN and CRAM-MD5 over TLS, a wrong password refused.
#[test]
#[ignore = "interop: needs python3"]
fn imaps_and_sasl_with_imaplib() {
    if !have("python3") {
        return;
    }
    let data = scratch("imap-imaps");
    let mut srv = MailServer::start(&data, &["--imaps", "127.0.0.1:0"]);
    let imaps = srv.listener("imaps");
    let out = python(
        r#"
import imaplib, ssl, sys
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
port = int(sys.argv[1])
M = imaplib.IMAP4_SSL("127.0.0.1", port, ssl_context=ctx)
assert "STARTTLS" not in M.capabilities, M.capabilities
assert "AUTH=PLAIN" in M.capabilities, M.capabilities
typ, data = M.authenticate("PLAIN", lambda _: b"\0demo\0demo")
assert typ == "OK", data
typ, data = M.select("INBOX")
assert typ == "OK", data
M.logout()
M = imaplib.IMAP4_SSL("127.0.0.1", port, ssl_context=ctx)
typ, data = M.login_cram_md5("demo", "demo")
assert typ == "OK", data
M.logout()
M = imaplib.IMAP4_SSL("127.0.0.1", port, ssl_context=ctx)
try:
    M.login("demo", "wrong")
    raise SystemExit("a wrong password was taken")
except imaplib.IMAP4.error:
    pass
print("ok")
"#,
        &[imaps.port().to_string()],
    );
    assert_eq!(out.trim(), "ok", "{}", srv.log());
    srv.terminate(std::time::Duration::from_secs(10));
}

/// The issue's concurrency must-show in one run: 10 IMAP sessions (3
/// IDLE; 3 STORE and MOVE to Archive; 2 STORE flag changes on 40 seed
/// messages; 1 STORE and UID EXPUNGE; 1 following UIDs) while SMTP
/// delivers 1,000 messages over 10 connections and a POP3 session deletes
/// some. At the end: no UID names two messages (for the reader over the
/// whole run, and in each folder), UIDs ascending, no Message-ID stored
/// twice, none lost; every IDLE session's model of the folder, built only
/// from what it was told (EXISTS, EXPUNGE and FETCH FLAGS), is the folder
/// as it is: the same messages and, for each message whose flags it knew,
/// the same flags (the seeds' included, so every flag change by other
/// sessions reached it).
const ALL_AT_ONCE: &str = r#"
import imaplib, poplib, smtplib, sys, threading, time, re
smtp_port, imap_port, pop3_port = [int(a) for a in sys.argv[1:4]]
SEEDS, SENDERS, PER = 40, 10, 100
total = SENDERS * PER
errors, deleted = [], set()
lock = threading.Lock()
done = threading.Event()
t_start = time.time()

def err(what):
    with lock:
        errors.append(what)

def deliver_all(s, mids):
    for mid in mids:
        s.sendmail("a@example.com", ["demo@localhost"],
                   "From: a@example.com\r\nMessage-ID: %s\r\nSubject: m\r\n\r\nx\r\n" % mid)

def send(n):
    try:
        s = smtplib.SMTP("127.0.0.1", smtp_port)
        deliver_all(s, ["<%d.%d@all>" % (n, i) for i in range(PER)])
        s.quit()
    except Exception as e:
        err("send %r" % (e,))

def login():
    M = imaplib.IMAP4("127.0.0.1", imap_port)
    M.login("demo", "demo")
    M.select("INBOX")
    return M

def mid_of(M, uid):
    typ, data = M.uid("FETCH", str(uid), "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
    for d in data:
        if isinstance(d, tuple):
            return d[1].decode().split(":", 1)[1].strip()
    return None

def delivered_uids(M):
    typ, data = M.uid("SEARCH", "ALL")
    return [u for u in (int(x) for x in data[0].split()) if u > SEEDS]

def mover(k):
    # STORE then MOVE to Archive; seeds stay.
    try:
        M = login()
        while not done.is_set():
            for u in delivered_uids(M)[k::7][:3]:
                M.uid("STORE", str(u), "+FLAGS", "(\\Flagged)")
                M.uid("MOVE", str(u), "Archive")
            time.sleep(0.05)
        M.logout()
    except Exception as e:
        err("mover %d %r" % (k, e))

def expunger():
    try:
        M = login()
        while not done.is_set():
            for u in delivered_uids(M)[5::11][:2]:
                mid = mid_of(M, u)
                M.uid("STORE", str(u), "+FLAGS", "(\\Deleted)")
                typ, _ = M._simple_command("UID", "EXPUNGE", str(u))
                if mid and typ == "OK":
                    with lock:
                        deleted.add(mid)
            time.sleep(0.05)
        M.logout()
    except Exception as e:
        err("expunger %r" % (e,))

stores = [0]
def flagger(k):
    # Flag changes on the seeds (which nothing moves or deletes), for the
    # IDLE sessions to be told of.
    kw = ["$A", "\\Answered"][k]
    try:
        M = login()
        n = 0
        while not done.is_set():
            u = 1 + (n * 7 + k) % SEEDS
            M.uid("STORE", str(u), "+FLAGS" if (n // SEEDS) % 2 == 0 else "-FLAGS", "(%s)" % kw)
            n += 1
            time.sleep(0.01)
        # A last change to every seed once the load is over.
        M.uid("STORE", "1:%d" % SEEDS, "+FLAGS", "($End%d)" % k)
        with lock:
            stores[0] += n + 1
        M.logout()
    except Exception as e:
        err("flagger %d %r" % (k, e))

pop_deleted = [0]
def pop3():
    # Deletes a few delivered messages at a time (never a seed).
    try:
        while not done.is_set():
            P = poplib.POP3("127.0.0.1", pop3_port)
            P.user("demo")
            try:
                P.pass_("demo")
            except poplib.error_proto as e:
                if b"IN-USE" not in str(e).encode():
                    raise
                P.quit()
                time.sleep(0.1)
                continue
            n, _ = P.stat()
            gone = []
            for i in range(max(1, n - 2), n + 1):
                try:
                    head = b"\n".join(P.top(i, 0)[1]).decode()
                except poplib.error_proto:
                    continue
                m = re.search(r"Message-ID: (\S+)", head, re.I)
                if m and "@all>" in m.group(1) and "seed." not in m.group(1):
                    P.dele(i)
                    gone.append(m.group(1))
            P.quit()
            with lock:
                deleted.update(gone)
                pop_deleted[0] += len(gone)
            time.sleep(0.2)
    except Exception as e:
        err("pop3 %r" % (e,))

uid_mid = {}
def reader():
    # UIDs only grow and never name two messages.
    try:
        M = login()
        last = 0
        while not done.is_set():
            M.noop()
            typ, data = M.uid("FETCH", "%d:*" % (last + 1), "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
            for d in data:
                if not isinstance(d, tuple):
                    continue
                uid = int(re.search(rb"UID (\d+)", d[0]).group(1))
                if uid <= last:
                    continue  # "n:*" gives the last message when nothing is newer
                last = uid
                mid = d[1].decode().split(":", 1)[1].strip()
                if uid_mid.setdefault(uid, mid) != mid:
                    err("UID %d names %s and %s" % (uid, uid_mid[uid], mid))
            time.sleep(0.05)
        M.logout()
    except Exception as e:
        err("reader %r" % (e,))

def strip(flags):
    return " ".join(sorted(f for f in flags.split() if f != "\\Recent"))

def follow(model, line):
    """Applies an untagged response to the model: a list, one entry per
    message, of its flags or None (not known yet). Returns 1 for a FETCH FLAGS."""
    m = re.match(rb"\* (\d+) (EXISTS|EXPUNGE|FETCH)(.*)", line)
    if not m:
        return 0
    n = int(m.group(1))
    if m.group(2) == b"EXISTS":
        model.extend([None] * (n - len(model)))
    elif m.group(2) == b"EXPUNGE":
        del model[n - 1]
    else:
        f = re.search(rb"FLAGS \(([^)]*)\)", m.group(3))
        if f:
            model[n - 1] = strip(f.group(1).decode())
            return 1
    return 0

def flags_now(M):
    M.untagged_responses.clear()
    typ, data = M.fetch("1:*", "(FLAGS)")
    by_seq = {}
    for d in data:
        m = re.match(rb"(\d+) \(.*FLAGS \(([^)]*)\)", d)
        by_seq[int(m.group(1))] = strip(m.group(2).decode())
    assert sorted(by_seq) == list(range(1, len(by_seq) + 1)), sorted(by_seq)
    return [by_seq[i] for i in sorted(by_seq)]

def idler(r, result):
    try:
        M = login()
        model = flags_now(M)
        M.untagged_responses.clear()
        tag = M._new_tag().decode()
        M.send(("%s IDLE\r\n" % tag).encode())
        M.readline()
        told = 0
        # Until the final delivery, which comes after every other change.
        while True:
            line = M.readline()
            told += follow(model, line)
            if final.is_set() and b"EXISTS" in line:
                break
        M.send(b"DONE\r\n")
        while True:
            line = M.readline()
            told += follow(model, line)
            if line.startswith(tag.encode()):
                break
        # What happened after DONE comes with the NOOP.
        M.untagged_responses.clear()
        tag = M._new_tag().decode()
        M.send(("%s NOOP\r\n" % tag).encode())
        while True:
            line = M.readline()
            if line.startswith(tag.encode()):
                break
            told += follow(model, line)
        real = flags_now(M)
        result[r] = (model, real, told)
        M.logout()
    except Exception as e:
        err("idler %d %r" % (r, e))

# The seeds first.
s = smtplib.SMTP("127.0.0.1", smtp_port)
deliver_all(s, ["<seed.%d@all>" % i for i in range(SEEDS)])
s.quit()

final = threading.Event()
results = {}
idlers = [threading.Thread(target=idler, args=(r, results)) for r in range(3)]
for t in idlers:
    t.start()
time.sleep(0.5)
senders = [threading.Thread(target=send, args=(n,)) for n in range(SENDERS)]
workers = [threading.Thread(target=mover, args=(k,)) for k in range(3)]
workers += [threading.Thread(target=flagger, args=(k,)) for k in range(2)]
workers += [threading.Thread(target=expunger), threading.Thread(target=reader), threading.Thread(target=pop3)]
for t in senders + workers:
    t.start()
for t in senders:
    t.join()
time.sleep(1.0)
done.set()
for t in workers:
    t.join()
final.set()
s = smtplib.SMTP("127.0.0.1", smtp_port)
deliver_all(s, ["<final@all>"])
s.quit()
for t in idlers:
    t.join()
assert not errors, errors
assert len(results) == 3, results

# Every IDLE session was told of every change: its model (one entry per
# message, flags included) is the folder as it is.
for r, (model, real, told) in results.items():
    assert len(model) == len(real), ("idler", r, len(model), len(real))
    for i, (a, b) in enumerate(zip(model, real)):
        assert a is None or a == b, ("idler", r, "message", i + 1, a, b)
    # The seeds' flags were known from the start, so each is checked.
    for i in range(SEEDS):
        assert model[i] is not None and "$End0" in model[i] and "$End1" in model[i], (r, i, model[i])
    assert told >= SEEDS, ("idler", r, "FETCH FLAGS told", told)

M = imaplib.IMAP4("127.0.0.1", imap_port)
M.login("demo", "demo")
seen = {}
for folder in ["INBOX", "Archive"]:
    M.select(folder)
    typ, data = M.uid("FETCH", "1:*", "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
    uids = []
    for d in data:
        if not isinstance(d, tuple):
            continue
        uid = int(re.search(rb"UID (\d+)", d[0]).group(1))
        uids.append(uid)
        mid = d[1].decode().split(":", 1)[1].strip()
        assert mid not in seen, ("stored twice", mid, seen.get(mid), folder)
        seen[mid] = folder
        if folder == "INBOX" and uid in uid_mid:
            assert uid_mid[uid] == mid, ("UID changed message", uid, uid_mid[uid], mid)
    assert uids == sorted(set(uids)), ("UIDs not ascending or twice", folder)
mids = ["<seed.%d@all>" % i for i in range(SEEDS)] + ["<final@all>"]
mids += ["<%d.%d@all>" % (n, i) for n in range(SENDERS) for i in range(PER)]
# A deletion may have lost a race with a MOVE (the message is then in
# Archive): "kept" wins, and the check above shows it is kept once.
for mid in mids:
    assert mid in seen or mid in deleted, ("lost", mid)
assert set(seen) <= set(mids), set(seen) - set(mids)
pop_or_expunged = len(set(mids) - set(seen))
moved = sum(1 for f in seen.values() if f == "Archive")
assert moved > 0 and pop_deleted[0] > 0, (moved, pop_deleted)
print("ok kept %d moved %d deleted %d (POP3 %d) stores %d uids-read %d in %.1f s" % (
    len(seen), moved, pop_or_expunged, pop_deleted[0], stores[0], len(uid_mid), time.time() - t_start))
"#;

#[test]
#[ignore = "interop: needs python3"]
fn ten_sessions_1000_deliveries_and_pop3_idle_told_everything() {
    if !have("python3") {
        return;
    }
    let data = scratch("imap-all-at-once");
    // 22 connections at once from 127.0.0.1: more than the default allows.
    let srv = MailServer::start(&data, &["--max-per-address", "40"]);
    let out = python_on(ALL_AT_ONCE, &srv);
    assert!(out.starts_with("ok "), "{out}\n{}", srv.log());
    eprint!("{out}");
    // On disk, each folder's uidlist: UIDs ascending, each file once.
    for list in ["dovecot-uidlist", ".Archive/dovecot-uidlist"] {
        let list = fs::read_to_string(data.join("mailboxes/demo").join(list)).unwrap();
        let uids: Vec<u32> = list
            .lines()
            .skip(1)
            .map(|l| l.split(' ').next().unwrap().parse().unwrap())
            .collect();
        assert!(uids.windows(2).all(|w| w[0] < w[1]), "{list}");
        let names: HashSet<&str> = list
            .lines()
            .skip(1)
            .filter_map(|l| l.split(" :").nth(1))
            .collect();
        assert_eq!(names.len(), uids.len(), "{list}");
    }
}

/// A multipart message whose parts need decoding for BINARY: quoted-
/// printable text, base64 data holding NUL, and 7bit text.
const BINARY_MULTIPART: &[u8] = b"From: a@example.com\r\nSubject: parts\r\n\
MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n\
--b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
caf=C3=A9 and a soft=\r\n break\r\n\
--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n\
AAFiaW5hcnkA/w==\r\n\
--b\r\nContent-Type: text/plain\r\n\r\nplain part\r\n--b--\r\n";

/// A message with a NUL in its body: `BODY[]` is an IMAP string and
/// cannot carry it (RFC 3501 §4.3).
const WITH_NUL: &[u8] = b"From: a@example.com\r\nSubject: nul\r\n\r\na\x00b\r\n";

/// A message in an encoding no one knows (RFC 3516 §4.3: `UNKNOWN-CTE`).
const BINARY_UNKNOWN: &[u8] = b"From: a@example.com\r\nSubject: odd\r\n\
MIME-Version: 1.0\r\nContent-Transfer-Encoding: x-made-up\r\n\r\nzzzz\r\n";

/// RFC 3516 through imaplib's raw commands: BINARY advertised, BINARY[part]
/// decoded (quoted-printable, base64 with NUL as `~{n}`), BINARY.SIZE,
/// partial `<o.n>`, BINARY.PEEK leaving \Seen alone and BINARY setting it,
/// `NO [UNKNOWN-CTE]`, APPEND of a `~{n}` literal8 holding NUL and its
/// `BINARY[]` streamed back as `~{n}` (a plain `{n}` without NUL).
const BINARY_SESSION: &str = r#"
import imaplib, smtplib, sys
smtp_port, imap_port = int(sys.argv[1]), int(sys.argv[2])
multipart, unknown = bytes.fromhex(sys.argv[4]), bytes.fromhex(sys.argv[5])
s = smtplib.SMTP("127.0.0.1", smtp_port)
s.sendmail("a@example.com", ["demo@localhost"], multipart)
s.sendmail("a@example.com", ["demo@localhost"], unknown)
s.quit()

M = imaplib.IMAP4("127.0.0.1", imap_port)
M.login("demo", "demo")
assert "BINARY" in M.capability()[1][0].decode().split()
M.select("INBOX")

def fetch(seq, items):
    typ, data = M._simple_command("FETCH", seq, items)
    return typ, M._untagged_response(typ, data, "FETCH")[1]

# RFC 3516 §4.2: the content with its transfer encoding removed.
typ, data = fetch("1", "(BINARY.PEEK[1])")
assert typ == "OK" and data[0][1] == "café and a soft break".encode(), data
assert data[0][0].endswith(b"BINARY[1] {22}"), data
typ, data = fetch("1", "(BINARY.PEEK[2])")
assert data[0][1] == b"\x00\x01binary\x00\xff", data
assert data[0][0].endswith(b"BINARY[2] ~{10}"), data
typ, data = fetch("1", "(BINARY.SIZE[1] BINARY.SIZE[2] BINARY.SIZE[3])")
assert b"BINARY.SIZE[1] 22" in data[0] and b"BINARY.SIZE[2] 10" in data[0], data
assert b"BINARY.SIZE[3] 10" in data[0], data
typ, data = fetch("1", "(BINARY.PEEK[2]<2.6>)")
assert data[0][1] == b"binary" and data[0][0].endswith(b"BINARY[2]<2> {6}"), data
typ, data = fetch("1", "(FLAGS)")
assert b"\\Seen" not in data[0], data
typ, data = fetch("1", "(BINARY[3])")
assert data[0][1] == b"plain part", data
typ, data = fetch("1", "(FLAGS)")
assert b"\\Seen" in data[0], data

# RFC 3516 §4.3: an encoding the server cannot undo.
tag = M._new_tag().decode()
M.send(("%s FETCH 2 (BINARY.PEEK[1])\r\n" % tag).encode())
while True:
    line = M.readline()
    if line.startswith(tag.encode()):
        assert line.startswith(("%s NO [UNKNOWN-CTE]" % tag).encode()), line
        break
typ, data = fetch("2", "(BINARY.SIZE[1])")
assert typ == "NO", (typ, data)

# RFC 3516 §4.4: APPEND with a literal8 holding NUL.
with_nul = b"Subject: nul\r\n\r\na\x00b\r\n"
tag = M._new_tag().decode()
M.send(("%s APPEND INBOX ~{%d}\r\n" % (tag, len(with_nul))).encode())
line = M.readline()
assert line.startswith(b"+"), line
M.send(with_nul + b"\r\n")
while True:
    line = M.readline()
    if line.startswith(tag.encode()):
        assert b" OK " in line and b"APPENDUID" in line, line
        break
M.noop()
typ, data = fetch("3", "(UID BINARY.PEEK[])")
assert data[0][1] == with_nul and data[0][0].endswith(b"BINARY[] ~{%d}" % len(with_nul)), data
typ, data = fetch("3", "(FLAGS)")
assert b"\\Seen" not in data[0], data
# BODY[] is an IMAP string: no NUL (RFC 3501 §4.3); 0x80 in its place, as Dovecot.
typ, data = fetch("3", "(BODY.PEEK[])")
assert data[0][1] == with_nul.replace(b"\x00", b"\x80") and data[0][0].endswith(b"BODY[] {%d}" % len(with_nul)), data
typ, data = fetch("2", "(UID BINARY.PEEK[])")
assert data[0][1].endswith(unknown) and data[0][0].endswith(b"BINARY[] {%d}" % len(data[0][1])), data
typ, data = fetch("2", "(BINARY[])")
# (as stored: the delivery added its trace fields on top)
assert data[0][1].endswith(unknown) and data[0][0].endswith(b"BINARY[] {%d}" % len(data[0][1])), data
typ, data = fetch("2", "(FLAGS)")
assert b"\\Seen" in data[0], data
assert M.logout()[0] == "BYE"
print("ok")
"#;

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
#[ignore = "interop: needs python3"]
fn rfc3516_binary_with_imaplib() {
    let Some((srv, _)) = python_server("imap-binary") else {
        return;
    };
    let ports = [
        srv.smtp().port().to_string(),
        srv.imap.expect("imap port").port().to_string(),
        srv.listener("pop3").port().to_string(),
        hex(BINARY_MULTIPART),
        hex(BINARY_UNKNOWN),
    ];
    let out = python(BINARY_SESSION, &ports);
    assert!(out.ends_with("ok\n"), "{out}\n{}", srv.log());
}

/// One IMAP session's output: its FETCH responses of BINARY items
/// One IMAP session's output: its FETCH responses of BINARY and BODY items
/// each tagged reply's status with its response code (`NO [UNKNOWN-CTE]`),
/// text dropped. Dovecot runs pipelined FETCH commands at once, so the
/// responses are not cut per command: each command fetches other items.
fn fetches_and_statuses(out: &[u8]) -> (Vec<Vec<u8>>, BTreeMap<String, String>) {
    let mut fetches = Vec::new();
    let mut statuses = BTreeMap::new();
    let mut i = 0;
    while i < out.len() {
        // One response: lines joined across literals.
        let mut resp = Vec::new();
        loop {
            let Some(end) = out[i..].windows(2).position(|w| w == b"\r\n") else {
                i = out.len();
                break;
            };
            let line = &out[i..i + end];
            resp.extend_from_slice(line);
            i += end + 2;
            let lit = line
                .strip_suffix(b"}")
                .and_then(|l| l.iter().rposition(|&c| c == b'{').map(|p| &l[p + 1..]))
                .and_then(|n| std::str::from_utf8(n).ok()?.parse::<usize>().ok());
            match lit {
                Some(n) => {
                    resp.extend_from_slice(b"\r\n");
                    resp.extend_from_slice(&out[i..i + n]);
                    i += n;
                }
                None => break,
            }
        }
        if resp.starts_with(b"* ") {
            let item = |name: &[u8]| resp.windows(name.len()).any(|w| w == name);
            if item(b" FETCH ") && (item(b"BINARY") || item(b"BODY[")) {
                fetches.push(resp);
            }
        } else if !resp.starts_with(b"+") && !resp.is_empty() {
            let text = String::from_utf8_lossy(&resp).into_owned();
            let mut w = text.split(' ');
            let tag = w.next().unwrap_or_default().to_string();
            let status = w.next().unwrap_or_default().to_string();
            let code = w
                .next()
                .filter(|c| c.starts_with('['))
                .map(|c| c.trim_end_matches(']').to_string())
                .unwrap_or_default();
            statuses.insert(tag, format!("{status} {code}"));
        }
    }
    fetches.sort();
    (fetches, statuses)
}

/// The mailserver and Dovecot answer the same BINARY fetches the same way
/// on the same Maildir (both decode each part; both refuse an unknown
/// encoding with `UNKNOWN-CTE`; both send a NUL of `BODY[]` as 0x80 and
/// keep it in `BINARY[part]`): every FETCH response and tagged status.
/// `BINARY[]` is left out: there the kit differs from Dovecot on purpose
/// (see `mailwire_imap::kit`).
#[test]
#[ignore = "interop: needs Dovecot and python3"]
fn binary_fetches_match_dovecot_on_the_same_maildir() {
    let Some((dc, mut srv, data)) = dovecot_and_mailserver("imap-binary-dovecot") else {
        return;
    };
    python(
        r#"
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]))
for m in sys.argv[2:]:
    s.sendmail("a@example.com", ["testuser@localhost"], bytes.fromhex(m))
s.quit()
"#,
        &[
            srv.smtp().port().to_string(),
            hex(BINARY_MULTIPART),
            hex(BINARY_UNKNOWN),
            hex(WITH_NUL),
        ],
    );
    let fetches: &[&str] = &[
        "FETCH 1 (BINARY.PEEK[1])",
        "FETCH 1 (BINARY.PEEK[2])",
        "FETCH 1 (BINARY.PEEK[3])",
        "FETCH 1 (BINARY.SIZE[1])",
        "FETCH 1 (BINARY.SIZE[2])",
        "FETCH 1 (BINARY.PEEK[2]<2.6>)",
        "FETCH 1 (BINARY.PEEK[1]<0.3>)",
        "FETCH 1 (BINARY.PEEK[2]<0.1>)",
        "FETCH 2 (BINARY.PEEK[1])",
        "FETCH 2 (BINARY.SIZE[1])",
        "FETCH 3 (BODY.PEEK[])",
        "FETCH 3 (BODY.PEEK[TEXT])",
        "FETCH 3 (BINARY.PEEK[1])",
    ];
    let mut script = String::from("s EXAMINE INBOX\r\n");
    for (n, f) in fetches.iter().enumerate() {
        script += &format!("f{n} {f}\r\n");
    }
    script += "z LOGOUT\r\n";

    let ours = imap_session(srv.imap.expect("imap port"), &script);
    srv.terminate(std::time::Duration::from_secs(10));
    give_to_dovecot(&dc, &data);
    let theirs = dc.exec_imap(script.as_bytes());
    let (ours, our_status) = fetches_and_statuses(&ours);
    let plain_len = ours.len();
    let (theirs, their_status) = fetches_and_statuses(&theirs);
    for (n, f) in fetches.iter().enumerate() {
        let tag = format!("f{n}");
        assert_eq!(our_status.get(&tag), their_status.get(&tag), "{f}");
    }
    // Dovecot sends every BINARY literal as `~{n}`; RFC 3516 §4.2 says a
    // `{n}` SHOULD be used when the data holds no NUL, as the mail server
    // does. Literals with NUL must be `~{n}` on both sides.
    let plain = |v: Vec<Vec<u8>>| -> Vec<String> {
        v.into_iter()
            .map(|r| {
                let r = String::from_utf8_lossy(&r).into_owned();
                if r.contains('\0') {
                    r
                } else {
                    r.replace(" ~{", " {")
                }
            })
            .collect()
    };
    assert_eq!(plain(ours), plain(theirs), "mailserver vs Dovecot");
    // Not vacuous: eleven FETCH responses, and the unknown encoding refused.
    assert_eq!(plain_len, 11, "{our_status:?}");
    assert_eq!(our_status["f8"], "NO [UNKNOWN-CTE", "{our_status:?}");
}

/// MULTIAPPEND (RFC 3502) through imaplib's raw commands: one APPEND of
/// three messages (synchronizing literals, then non-synchronizing ones)
/// gives an APPENDUID with three UIDs, in order; an APPEND to a folder
/// that does not exist appends none of its messages (RFC 3502 §3).
const MULTIAPPEND: &str = r#"
import imaplib, re, sys
imap_port = int(sys.argv[2])
M = imaplib.IMAP4("127.0.0.1", imap_port)
M.login("demo", "demo")
assert "MULTIAPPEND" in M.capability()[1][0].decode().split()

def raw(pieces, sync):
    """Sends APPEND pieces: text, literal, text, literal, ..., text."""
    tag = M._new_tag().decode()
    out = [("%s " % tag).encode()]
    for i, p in enumerate(pieces):
        if i % 2 == 0:
            out.append(p)
            continue
        out.append(b"{%d%s}\r\n" % (len(p), b"" if sync else b"+"))
        if sync:
            M.send(b"".join(out))
            out = []
            line = M.readline()
            if not line.startswith(b"+"):
                return line
        out.append(p)
    M.send(b"".join(out) + b"\r\n")
    while True:
        line = M.readline()
        if line.startswith(tag.encode()):
            return line

msgs = [b"Subject: m%d\r\n\r\nbody %d\r\n" % (i, i) for i in range(3)]
for sync in [True, False]:
    line = raw([b"APPEND Drafts (\\Draft) ", msgs[0], b" ", msgs[1], b" (\\Seen) ", msgs[2], b""], sync)
    m = re.search(rb"\[APPENDUID \d+ (\d+):(\d+)\]", line)
    assert line.split()[1] == b"OK" and m, line
    assert int(m.group(2)) - int(m.group(1)) == 2, line
M.select("Drafts")
typ, data = M.fetch("1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
subjects = [d[1].strip() for d in data if isinstance(d, tuple)]
assert subjects == [b"Subject: m0", b"Subject: m1", b"Subject: m2"] * 2, subjects
flags = [d[0] for d in data if isinstance(d, tuple)]
assert b"\\Draft" in flags[0] and b"\\Seen" in flags[2] and b"\\Seen" not in flags[1], flags
line = raw([b"APPEND NoSuchFolder ", msgs[0], b" ", msgs[1], b""], False)
assert line.split()[1] == b"NO" and b"[TRYCREATE]" in line, line
typ, data = M.status("Drafts", "(MESSAGES)")
assert b"MESSAGES 6" in data[0], data
M.logout()
print("ok")
"#;

#[test]
#[ignore = "interop: needs python3"]
fn rfc3502_multiappend_with_imaplib() {
    python_ok("imap-multiappend", MULTIAPPEND);
}

/// RFC 6855 with imaplib: a client that ENABLEs UTF8=ACCEPT creates,
/// lists and selects a mailbox named in UTF-8, APPENDs a message with
/// 8-bit header fields in the UTF8 form (§4; sent by hand: imaplib puts
/// `UTF8 (` inside the literal) and searches it without CHARSET, which it
/// may no longer give (§3: BAD; sent by hand too); a client that did not enable it sees the
/// same mailbox in modified UTF-7 and may not APPEND 8-bit header fields
/// (NO); one that enabled IMAP4rev2 sees UTF-8 names too.
const UTF8: &str = r#"
import imaplib, sys
imap_port = int(sys.argv[2])
name = "Grüße & Co"
utf7 = "Gr&APwA3w-e &- Co"

def listed(M, pattern):
    typ, data = M.list('""', pattern)
    assert typ == "OK", data
    return b"\n".join(x if isinstance(x, bytes) else b" ".join(x) for x in data)

def tagged(M, tag):
    while True:
        line = M.readline()
        if line.startswith(tag + b" "):
            return line

def raw(M, tag, command):
    M.send(tag + b" " + command + b"\r\n")
    return tagged(M, tag)

def append_utf8(M, tag, mailbox, message):
    M.send(b'%s APPEND "%s" UTF8 (~{%d}\r\n' % (tag, mailbox.encode(), len(message)))
    line = M.readline()
    assert line.startswith(b"+"), line
    M.send(message + b")\r\n")
    return tagged(M, tag)

def login():
    M = imaplib.IMAP4("127.0.0.1", imap_port)
    M.login("demo", "demo")
    # The capabilities after log-in (the greeting's lack ENABLE).
    M._get_capabilities()
    return M

A = login()
assert "UTF8=ACCEPT" in A.capabilities, A.capabilities
typ, data = A.enable("UTF8=ACCEPT")
assert typ == "OK", data
typ, data = A.create('"%s"' % name)
assert typ == "OK", data
out = listed(A, '"Grü*"')
assert name.encode() in out and utf7.encode() not in out, out
msg = "From: Jörg <joerg@example.org>\r\nSubject: Grüße aus Köln\r\n\r\nHallo\r\n".encode()
done = append_utf8(A, b"u1", name, msg)
assert done.startswith(b"u1 OK"), done
typ, data = A.select('"%s"' % name)
assert typ == "OK" and data == [b"1"], data
typ, data = A.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
assert "Grüße aus Köln".encode() in data[0][1], data
typ, data = A.search(None, "SUBJECT", '"Köln"')
assert data == [b"1"], data
# Sent by hand: imaplib itself refuses a charset in UTF-8 mode.
done = raw(A, b"s1", b"SEARCH CHARSET UTF-8 ALL")
assert done.startswith(b"s1 BAD"), done
# A name not in NFC (e and a combining acute accent) is made in NFC, told
# with OLDNAME (RFC 9051 §6.3.4), and either form names it afterwards.
decomposed, composed = "Cafe\u0301", "Caf\u00e9"
typ, data = A.create('"%s"' % decomposed)
assert typ == "OK", data
told = A.untagged_responses.pop("LIST", [])
# imaplib gives a response with literals as tuples of its pieces.
told = [b"".join(b"".join(p) if isinstance(p, tuple) else p for p in told)]
assert composed.encode() in told[0] and b"OLDNAME" in told[0] and decomposed.encode() in told[0], told
out = listed(A, '"Caf*"')
assert composed.encode() in out and decomposed.encode() not in out, out
typ, data = A.select('"%s"' % decomposed)
assert typ == "OK", data
typ, data = A.append('"%s"' % composed, None, None, b"Subject: nfc\r\n\r\nx\r\n")
assert typ == "OK", data
typ, data = A.select('"%s"' % decomposed)
assert typ == "OK" and data == [b"1"], data
typ, data = A.create('"%s"' % composed)
assert typ == "NO", data
A.logout()

B = login()
out = listed(B, '"Gr*"')
assert utf7.encode() in out and name.encode() not in out, out
typ, data = B.select('"%s"' % utf7)
assert typ == "OK" and data == [b"1"], data
typ, data = B.append('"%s"' % utf7, None, None, msg)
assert typ == "NO" and b"UTF8=ACCEPT" in data[0], (typ, data)
typ, data = B.append('"%s"' % utf7, None, None, "Subject: plain\r\n\r\nGrüße\r\n".encode())
assert typ == "OK", (typ, data)
B.logout()

C = login()
typ, data = C.enable("IMAP4rev2")
assert typ == "OK", data
out = listed(C, '"*"')
assert name.encode() in out, out
C.logout()
print("ok")
"#;

#[test]
#[ignore = "interop: needs python3"]
fn utf8_accept_with_imaplib() {
    let Some((_srv, data)) = python_ok("imap-utf8", UTF8) else {
        return;
    };
    // Stored as Dovecot names folders: modified UTF-7 after the dot; the
    // name given in another normal form, once, in NFC.
    for name in ["Gr&APwA3w-e &- Co", "Caf&AOk-"] {
        let folder = data.join("mailboxes/demo").join(format!(".{name}"));
        assert!(
            folder.join("cur").is_dir() || folder.join("new").is_dir(),
            "{folder:?}"
        );
    }
}

/// QUOTA (RFC 9208) with `--quota 10K`, through imaplib and smtplib.
const QUOTA: &str = r#"
import imaplib, smtplib, sys
smtp_port, imap_port = int(sys.argv[1]), int(sys.argv[2])
imaplib.Commands.setdefault("MOVE", ("SELECTED",))

def msg(n, subject):
    return (b"From: a@example.com\r\nSubject: " + subject + b"\r\n\r\n" + b"x" * n + b"\r\n")

M = imaplib.IMAP4("127.0.0.1", imap_port)
M.login("demo", "demo")
M._get_capabilities()
assert "QUOTA" in M.capabilities and "QUOTA=RES-STORAGE" in M.capabilities, M.capabilities
typ, data = M.getquotaroot("INBOX")
assert typ == "OK", data
roots, quotas = data
assert roots == [b'INBOX ""'], roots
assert quotas == [b'"" (STORAGE 0 10)'], quotas
typ, data = M.append("INBOX", None, None, msg(6000, b"first"))
assert typ == "OK", data
typ, data = M.getquota('""')
assert typ == "OK" and data == [b'"" (STORAGE 6 10)'], data
# Past the quota: APPEND and COPY refused; MOVE takes no more room.
typ, data = M.append("Archive", None, None, msg(6000, b"second"))
assert typ == "NO" and data[0].startswith(b"[OVERQUOTA]"), (typ, data)
M.select("INBOX")
typ, data = M.copy("1", "Archive")
assert typ == "NO" and data[0].startswith(b"[OVERQUOTA]"), (typ, data)
typ, data = M._simple_command("MOVE", "1", "Archive")
assert typ == "OK", data
typ, data = M.getquotaroot("Archive")
assert typ == "OK" and data[1] == [b'"" (STORAGE 6 10)'], data
typ, data = M.getquota('"other"')
assert typ == "NO", data
typ, data = M.setquota('""', "(STORAGE 100)")
assert typ == "NO" and data[0].startswith(b"[NOPERM]"), (typ, data)
# SMTP: taken while under the quota (even past it), then 452 4.2.2.
S = smtplib.SMTP("127.0.0.1", smtp_port)
S.sendmail("a@example.com", ["demo@localhost"], msg(5000, b"third"))
try:
    S.sendmail("a@example.com", ["demo@localhost"], msg(10, b"fourth"))
    raise AssertionError("a full mailbox took mail")
except smtplib.SMTPRecipientsRefused as e:
    code, text = e.recipients["demo@localhost"]
    assert code == 452 and text.startswith(b"4.2.2 "), (code, text)
S.quit()
# The delivered copy carries the server's trace fields too.
typ, data = M.getquota('""')
used = int(data[0].split()[2])
assert typ == "OK" and 11 <= used <= 13 and data[0].endswith(b" 10)"), data
# An expunge gives the room back (the moved message, about 6 KiB).
M.select("Archive")
M.store("1", "+FLAGS", "\\Deleted")
typ, data = M.expunge()
assert typ == "OK", data
typ, data = M.getquota('""')
assert typ == "OK" and 5 <= int(data[0].split()[2]) <= used - 6, (used, data)
M.logout()
print("ok")
"#;

#[test]
#[ignore = "interop: needs python3 (imaplib, smtplib); starts the mailserver"]
fn quota_with_imaplib_and_smtplib() {
    if !have("python3") {
        return;
    }
    let dir = scratch("imap-quota");
    let sizes_file = dir.join("mailboxes/demo/maildirsize");
    let srv = MailServer::start(&dir, &["--quota", "10K"]).owning(dir);
    let out = python_on(QUOTA, &srv);
    assert!(out.ends_with("ok\n"), "{out}\n{}", srv.log());
    // The usage the checks read: Maildir++'s maildirsize, the limit, then
    // lines of bytes and messages whose sums are the one message left.
    let sizes = std::fs::read_to_string(&sizes_file).unwrap();
    assert!(sizes.starts_with("10240S\n"), "{sizes}");
    let (bytes, messages) = maildirsize_sums(&sizes);
    assert_eq!(messages, 1, "{sizes}");
    assert!((5000..6000).contains(&bytes), "{sizes}");
    // Both limits (RFC 9208 §5.2 MESSAGE beside STORAGE): the message
    // count refuses APPEND and RCPT first here.
    let dir = scratch("imap-message-quota");
    let srv = MailServer::start(&dir, &["--quota", "1M", "--message-quota", "2"]).owning(dir);
    let out = python_on(
        r#"
import imaplib, smtplib, sys
M = imaplib.IMAP4("127.0.0.1", int(sys.argv[2]))
M.login("demo", "demo")
M._get_capabilities()
assert "QUOTA=RES-MESSAGE" in M.capabilities, M.capabilities
typ, data = M.getquotaroot("INBOX")
assert typ == "OK" and data[1] == [b'"" (STORAGE 0 1024 MESSAGE 0 2)'], data
for i in range(2):
    typ, data = M.append("INBOX", None, None, b"Subject: m%d\r\n\r\nx\r\n" % i)
    assert typ == "OK", data
typ, data = M.append("Archive", None, None, b"Subject: m3\r\n\r\nx\r\n")
assert typ == "NO" and data[0].startswith(b"[OVERQUOTA]") and b"message quota" in data[0], (typ, data)
S = smtplib.SMTP("127.0.0.1", int(sys.argv[1]))
try:
    S.sendmail("a@example.com", ["demo@localhost"], "Subject: m4\r\n\r\nx\r\n")
    raise AssertionError("a full mailbox took mail")
except smtplib.SMTPRecipientsRefused as e:
    code, text = e.recipients["demo@localhost"]
    assert code == 452 and text.startswith(b"4.2.2 "), (code, text)
S.quit()
typ, data = M.getquota('""')
assert typ == "OK" and data == [b'"" (STORAGE 1 1024 MESSAGE 2 2)'], data
M.logout()
print("ok")
"#,
        &srv,
    );
    assert!(out.ends_with("ok\n"), "{out}\n{}", srv.log());
    // Without --quota: not offered.
    let dir = scratch("imap-no-quota");
    let srv = MailServer::start(&dir, &[]).owning(dir);
    let out = python_on(
        r#"
import imaplib, sys
M = imaplib.IMAP4("127.0.0.1", int(sys.argv[2]))
M.login("demo", "demo")
M._get_capabilities()
assert not any(c.startswith("QUOTA") for c in M.capabilities), M.capabilities
print("ok")
"#,
        &srv,
    );
    assert!(out.ends_with("ok\n"), "{out}");
    // A limit for one account only (the config file's [quotas]): offered,
    // and the other account has no quota root.
    let dir = scratch("imap-one-quota");
    let conf = dir.join("mailserver.toml");
    std::fs::write(&conf, "[quotas]\ndemo = \"10K\"\nbob = \"none\"\n").unwrap();
    let srv = MailServer::start(
        &dir.join("data"),
        &[
            "--config",
            conf.to_str().unwrap(),
            "--user",
            "demo:demo",
            "--user",
            "bob:bob",
        ],
    )
    .owning(dir);
    let out = python_on(
        r#"
import imaplib, sys
def login(user):
    M = imaplib.IMAP4("127.0.0.1", int(sys.argv[2]))
    M.login(user, user)
    M._get_capabilities()
    return M
D, B = login("demo"), login("bob")
assert "QUOTA" in B.capabilities, B.capabilities
typ, data = D.getquotaroot("INBOX")
assert typ == "OK" and data[1] == [b'"" (STORAGE 0 10)'], data
typ, data = B.getquotaroot("INBOX")
assert typ == "OK" and data[0] == [b"INBOX"], data
typ, data = B.getquota('""')
assert typ == "NO", data
print("ok")
"#,
        &srv,
    );
    assert!(out.ends_with("ok\n"), "{out}\n{}", srv.log());
}

/// The METADATA commands both servers get (after LOGIN): values quoted
/// and as literals (one holding a quote, a backslash and a line break),
/// DEPTH 0, 1 and infinity, MAXSIZE, NIL removing an entry, names in
/// another case, the server's private entries, names RFC 5464 §3.2
/// forbids, a mailbox that does not exist, and a folder's entries across
/// RENAME and DELETE.
const METADATA_SCRIPT: &str = "a1 SETMETADATA INBOX (/private/comment \"my inbox\" /shared/comment {10+}\r\nshared one)\r\n\
a2 GETMETADATA INBOX (/private/comment /shared/comment /private/nothere)\r\n\
a3 SETMETADATA INBOX (/private/vendor/x/a \"1\" /private/vendor/x/a/b \"2\" /private/vendor/x/c \"0123456789\")\r\n\
a4 GETMETADATA (DEPTH 1) INBOX /private/vendor/x\r\n\
a5 GETMETADATA (DEPTH infinity MAXSIZE 5) INBOX /private\r\n\
a6 GETMETADATA (DEPTH infinity) INBOX /PRIVATE/Vendor\r\n\
a7 SETMETADATA INBOX (/private/comment NIL)\r\n\
a8 GETMETADATA INBOX /private/comment\r\n\
a9 SETMETADATA \"\" (/private/foo \"bar\")\r\n\
b1 GETMETADATA \"\" (/private/foo /private/nothere)\r\n\
b2 SETMETADATA INBOX (/bad \"x\")\r\n\
b3 SETMETADATA INBOX (/private/a* \"x\")\r\n\
b4 SETMETADATA INBOX (/private/a/ \"x\")\r\n\
b5 SETMETADATA INBOX (/private//a \"x\")\r\n\
b6 GETMETADATA nosuch /private/comment\r\n\
b7 CREATE Projects\r\n\
b8 SETMETADATA Projects (/shared/comment \"proj\" /private/vendor/y {12+}\r\nq\"b\\s\r\nline2)\r\n\
b9 RENAME Projects Work\r\n\
c1 GETMETADATA Work (/shared/comment /private/vendor/y)\r\n\
c2 DELETE Work\r\n\
c3 CREATE Work\r\n\
c4 GETMETADATA Work /shared/comment\r\n\
c5 GETMETADATA (DEPTH 1) INBOX (/private/vendor/x /shared)\r\n\
c6 GETMETADATA INBOX /private\r\n\
z LOGOUT\r\n";

/// Everything an IMAP server at `addr` says to `LOGIN testuser testpass`
/// and then `script` (which ends with LOGOUT), sent at once (LITERAL+)
/// once the LOGIN is answered (Dovecot's login process takes no more than
/// a few KiB of input before it hands the connection on).
fn imap_session(addr: SocketAddr, script: &str) -> Vec<u8> {
    use std::io::{Read, Write};
    let mut c = std::net::TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    c.write_all(b"l LOGIN testuser testpass\r\n").unwrap();
    let mut out = Vec::new();
    let mut byte = [0u8; 1];
    while !out.ends_with(b"\r\n") || !out.split(|&b| b == b'\n').any(|l| l.starts_with(b"l ")) {
        match c.read(&mut byte) {
            Ok(1) => out.push(byte[0]),
            _ => return out,
        }
    }
    c.write_all(script.as_bytes()).unwrap();
    // To the end, or to an error (a reset): what came is kept, and the
    // comparison says what is missing.
    let mut buf = [0u8; 16384];
    loop {
        match c.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                eprintln!("{addr}: {e} after {} octets", out.len());
                break;
            }
        }
    }
    out
}

/// Per tag: the completion's status with its `METADATA` response code if
/// it has one, and the entries of the `METADATA` responses before it,
/// sorted (the servers list them in different orders; values read from
/// quoted strings and literals alike).
type MetadataAnswers = BTreeMap<String, (String, Vec<(String, Option<Vec<u8>>)>)>;

fn metadata_answers(out: &[u8]) -> MetadataAnswers {
    #[derive(Debug)]
    enum Tok {
        Atom(String),
        Str(Vec<u8>),
        Open,
        Close,
    }
    let mut answers = MetadataAnswers::new();
    let mut pending = Vec::new();
    let mut i = 0;
    while i < out.len() {
        if out[i] != b'*' {
            // A completion (or a continuation): one line.
            let end = i + out[i..].windows(2).position(|w| w == b"\r\n").unwrap();
            let line = String::from_utf8_lossy(&out[i..end]).into_owned();
            i = end + 2;
            let mut words = line.split(' ');
            let (tag, status) = (words.next().unwrap(), words.next().unwrap_or(""));
            let rest: Vec<&str> = words.collect();
            let mut what = status.to_string();
            if rest.first() == Some(&"[METADATA") {
                let n = rest.iter().position(|w| w.ends_with(']')).unwrap();
                what = format!("{status} {}", rest[..=n].join(" "));
            }
            pending.sort();
            answers.insert(tag.to_string(), (what, std::mem::take(&mut pending)));
            continue;
        }
        // An untagged response: tokens to its line end, literals read.
        let mut toks = Vec::new();
        loop {
            match out[i] {
                b' ' => i += 1,
                b'\r' => {
                    i += 2;
                    break;
                }
                b'(' => (toks.push(Tok::Open), i += 1).1,
                b')' => (toks.push(Tok::Close), i += 1).1,
                b'"' => {
                    let mut s = Vec::new();
                    i += 1;
                    while out[i] != b'"' {
                        if out[i] == b'\\' {
                            i += 1;
                        }
                        s.push(out[i]);
                        i += 1;
                    }
                    i += 1;
                    toks.push(Tok::Str(s));
                }
                b'{' => {
                    let close = i + out[i..].iter().position(|&b| b == b'}').unwrap();
                    let n: usize = std::str::from_utf8(&out[i + 1..close])
                        .unwrap()
                        .trim_end_matches('+')
                        .parse()
                        .unwrap();
                    toks.push(Tok::Str(out[close + 3..close + 3 + n].to_vec()));
                    i = close + 3 + n;
                }
                _ => {
                    let n = out[i..].iter().position(|b| b" ()\r".contains(b)).unwrap();
                    toks.push(Tok::Atom(String::from_utf8_lossy(&out[i..i + n]).into()));
                    i += n;
                }
            }
        }
        if !matches!(toks.get(1), Some(Tok::Atom(a)) if a == "METADATA") {
            continue;
        }
        let text = |t: &Tok| match t {
            Tok::Atom(a) => a.clone(),
            Tok::Str(s) => String::from_utf8_lossy(s).into_owned(),
            _ => panic!("{toks:?}"),
        };
        let mailbox = text(&toks[2]);
        let inner = &toks[4..toks.len() - 1];
        for pair in inner.chunks(2) {
            let value = match &pair[1] {
                Tok::Atom(a) if a == "NIL" => None,
                Tok::Str(s) => Some(s.clone()),
                t => panic!("{t:?}"),
            };
            pending.push((format!("{mailbox} {}", text(&pair[0])), value));
        }
    }
    answers
}

/// IMAP METADATA (RFC 5464) against Dovecot with its metadata
/// dictionary: the same commands get the same completions (OK, NO or BAD,
/// and the same `METADATA LONGENTRIES`) and the same entries and values.
/// Then what differs on purpose: the server's `/shared/admin`, shared
/// server entries refused, and this server's value limit.
#[test]
#[ignore = "interop: needs Dovecot"]
fn metadata_matches_dovecot() {
    let Some(dc) = common::dovecot::Dovecot::start_with(
        "mail_attribute_dict = file:%h/dovecot-attributes\nimap_metadata = yes\n",
    ) else {
        return;
    };
    let dir = scratch("imap-metadata");
    let data = dir.to_path_buf();
    let srv = MailServer::start(&data, &["--user", "testuser:testpass"]).owning(dir);
    let imap = srv.imap.expect("imap port");
    let ours = imap_session(imap, METADATA_SCRIPT);
    let theirs = imap_session(
        SocketAddr::from(([127, 0, 0, 1], dc.imap_port)),
        METADATA_SCRIPT,
    );
    let (a, b) = (metadata_answers(&ours), metadata_answers(&theirs));
    let context = || {
        format!(
            "ours:\n{}\nDovecot:\n{}\nour log:\n{}\nDovecot's log:\n{}",
            String::from_utf8_lossy(&ours),
            String::from_utf8_lossy(&theirs),
            srv.log(),
            fs::read_to_string(dc.root.join("dovecot.log")).unwrap_or_default()
        )
    };
    assert_eq!(a.len(), 26, "{}", context());
    for (tag, answer) in &a {
        assert_eq!(Some(answer), b.get(tag), "{tag}\n{}", context());
    }
    let mine = metadata_answers(&imap_session(
        imap,
        &format!(
            "x1 GETMETADATA \"\" /shared/admin\r\n\
             x2 SETMETADATA \"\" (/shared/motd \"hello\")\r\n\
             x3 SETMETADATA INBOX (/private/big {{65537+}}\r\n{})\r\n\
             x4 GETMETADATA INBOX /private/big\r\nz LOGOUT\r\n",
            "v".repeat(65537)
        ),
    ));
    let host = srv
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("hostname "))
        .map(str::trim);
    let (status, entries) = &mine["x1"];
    assert_eq!(status, "OK");
    assert_eq!(entries[0].0, "\"\" /shared/admin".replace('"', ""));
    let admin = String::from_utf8(entries[0].1.clone().unwrap()).unwrap();
    assert!(admin.starts_with("mailto:postmaster@"), "{admin}");
    if let Some(h) = host {
        assert_eq!(admin, format!("mailto:postmaster@{h}"));
    }
    assert_eq!(mine["x2"].0, "NO");
    assert_eq!(mine["x3"].0, "NO [METADATA MAXSIZE 65536]");
    assert_eq!(mine["x4"].1, vec![("INBOX /private/big".into(), None)]);
}

/// Big APPENDs stream into files: a 30 MB message through imaplib (a
/// synchronizing literal) and a MULTIAPPEND of a small and a 1 MB message
/// with LITERAL+ come back byte for byte with the right sizes; a
/// streamed APPEND to a folder that does not exist, one malformed after
/// its literal, or one whose connection drops in its literal, leaves no
/// file behind.
const BIG_APPEND: &str = r#"
import hashlib, imaplib, socket, sys, time
imap_port = int(sys.argv[2])
big = b"Subject: big\r\n\r\n" + b"".join(b"line %08d of the big message\r\n" % i for i in range(1_000_000))
M = imaplib.IMAP4("127.0.0.1", imap_port)
M.login("demo", "demo")
typ, data = M.append("INBOX", None, None, big)
assert typ == "OK", data
M.select("INBOX")
typ, data = M.uid("FETCH", "1:*", "(RFC822.SIZE BODY.PEEK[])")
assert typ == "OK", typ
got = data[0][1]
assert len(big) == len(got) and hashlib.sha256(got).digest() == hashlib.sha256(big).digest(), len(got)
assert b"RFC822.SIZE %d" % len(big) in data[0][0], data[0][0]
print("big", len(big))

mid = b"Subject: mid\n\n" + b"x" * 1_000_000 + b"\n"
s = socket.create_connection(("127.0.0.1", imap_port))
f = s.makefile("rb")
f.readline()
def cmd(raw):
    s.sendall(raw)
    while True:
        l = f.readline()
        if l.startswith(raw.split(b" ")[0] + b" "):
            return l
assert cmd(b"l LOGIN demo demo\r\n").startswith(b"l OK")
done = cmd(b"a APPEND Archive {11+}\r\nSubject: a\n (\\Seen) {%d+}\r\n%s\r\n" % (len(mid), mid))
assert done.startswith(b"a OK [APPENDUID"), done
done = cmd(b"b APPEND Nowhere {%d+}\r\n%s\r\n" % (len(mid), mid))
assert done.startswith(b"b NO [TRYCREATE]"), done
# Malformed after its literal: the machine answers BAD itself.
done = cmd(b"e APPEND INBOX {%d+}\r\n%s (junk\r\n" % (len(mid), mid))
assert done.startswith(b"e BAD"), done
assert cmd(b"c SELECT Archive\r\n").startswith(b"c OK")
s.sendall(b"d UID FETCH 1:* (FLAGS RFC822.SIZE)\r\n")
lines = []
while True:
    l = f.readline()
    lines.append(l)
    if l.startswith(b"d "):
        break
text = b"".join(lines)
# Stored as sent (LF line ends); RFC822.SIZE counts each as CRLF, as
# Dovecot does.
assert b"RFC822.SIZE 12" in text and b"RFC822.SIZE %d" % (len(mid) + 3) in text and b"\\Seen" in text, text
s.close()

# A literal cut off by the connection's end.
s = socket.create_connection(("127.0.0.1", imap_port))
f = s.makefile("rb")
f.readline()
s.sendall(b"l LOGIN demo demo\r\n")
f.readline()
s.sendall(b"a APPEND INBOX {5000000+}\r\n" + b"y" * 2_000_000)
time.sleep(0.5)
s.close()
print("ok")
"#;

#[test]
#[ignore = "interop: needs python3"]
fn big_appends_stream_to_files() {
    let Some((srv, data)) = python_server("imap-big-append") else {
        return;
    };
    let out = python_on(BIG_APPEND, &srv);
    assert!(out.ends_with("ok\n"), "{out}\n{}", srv.log());
    // The server's peak memory is far below the 30 MB message.
    let status = fs::read_to_string(format!("/proc/{}/status", srv.pid())).unwrap();
    let peak_kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    eprintln!("peak RSS {peak_kib} KiB");
    assert!(peak_kib < 24 * 1024, "peak RSS {peak_kib} KiB");
    // Nothing left staged or half written.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let left: Vec<_> = ["mailboxes/demo/tmp", "mailboxes/demo/.Archive/tmp"]
            .iter()
            .flat_map(|d| fs::read_dir(data.join(d)).unwrap().flatten())
            .map(|e| e.file_name())
            .collect();
        if left.is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "left in tmp: {left:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// RFC 4978 with Python's zlib (raw DEFLATE, sync flush) under imaplib,
/// over plain IMAP and over implicit TLS: COMPRESS=DEFLATE offered after
/// log-in, the OK in the clear and everything after compressed (APPEND of
/// a 300 KB message, FETCH of it byte for byte, a delivery told by NOOP,
/// a second COMPRESS answered `NO [COMPRESSIONACTIVE]`, LOGOUT), with
/// fewer octets on the wire than the message.
const COMPRESS: &str = r#"
import imaplib, smtplib, ssl, sys, zlib
imaplib.Commands["COMPRESS"] = ("AUTH", "SELECTED")
smtp_port, imap_port, imaps_port = (int(a) for a in sys.argv[1:4])

class Deflating:
    compressing = False
    def compress(self):
        typ, data = self._simple_command("COMPRESS", "DEFLATE")
        assert typ == "OK", data
        self.z_out = zlib.compressobj(6, zlib.DEFLATED, -15)
        self.z_in = zlib.decompressobj(-15)
        self.plain = b""
        self.wire_in = self.wire_out = 0
        self.compressing = True
    def send(self, data):
        if not self.compressing:
            return super().send(data)
        wire = self.z_out.compress(data) + self.z_out.flush(zlib.Z_SYNC_FLUSH)
        self.wire_out += len(wire)
        self.sock.sendall(wire)
    def fill(self):
        wire = self.sock.recv(65536)
        if not wire:
            raise EOFError("connection closed")
        self.wire_in += len(wire)
        self.plain += self.z_in.decompress(wire)
    def read(self, size):
        if not self.compressing:
            return super().read(size)
        while len(self.plain) < size:
            self.fill()
        out, self.plain = self.plain[:size], self.plain[size:]
        return out
    def readline(self):
        if not self.compressing:
            return super().readline()
        while b"\n" not in self.plain:
            self.fill()
        i = self.plain.index(b"\n") + 1
        out, self.plain = self.plain[:i], self.plain[i:]
        return out

class Plain(Deflating, imaplib.IMAP4): pass
class Tls(Deflating, imaplib.IMAP4_SSL): pass

ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
text = b"".join(b"Line %d of a long and very repetitive message body.\r\n" % i for i in range(6000))
# A timeout: a server that does not compress leaves the client waiting.
sessions = [Plain("127.0.0.1", imap_port, timeout=20), Tls("127.0.0.1", imaps_port, ssl_context=ctx, timeout=20)]
for n, M in enumerate(sessions):
    assert "COMPRESS=DEFLATE" not in M.capabilities, M.capabilities
    typ, data = M.login("demo", "demo")
    assert typ == "OK", data
    M._get_capabilities()
    assert "COMPRESS=DEFLATE" in M.capabilities, M.capabilities
    M.compress()
    message = b"Subject: compressed %d\r\n\r\n" % n + text
    typ, data = M.append("INBOX", None, None, message)
    assert typ == "OK", data
    typ, data = M.select("INBOX")
    assert typ == "OK", data
    count = int(data[0])
    typ, data = M.fetch(str(count), "(BODY.PEEK[])")
    assert typ == "OK" and data[0][1] == message, (typ, len(data[0][1]))
    assert M.wire_in < len(message) // 10 and M.wire_out < len(message) // 10, (M.wire_in, M.wire_out, len(message))
    s = smtplib.SMTP("127.0.0.1", smtp_port)
    s.sendmail("a@example.com", ["demo@localhost"], "Subject: news %d\r\n\r\nx\r\n" % n)
    s.quit()
    typ, data = M.noop()
    told = M.untagged_responses.get("EXISTS", [])
    assert told and int(told[-1]) == count + 1, (typ, data, told)
    typ, data = M._simple_command("COMPRESS", "DEFLATE")
    assert typ == "NO" and data[0].startswith(b"[COMPRESSIONACTIVE]"), (typ, data)
    typ, data = M.logout()
    assert typ == "BYE", (typ, data)
print("ok")
"#;

#[test]
#[ignore = "interop: needs python3"]
fn rfc4978_compress_with_python_zlib() {
    if !have("python3") {
        return;
    }
    let data = scratch("imap-compress");
    let srv = MailServer::start(&data, &["--imaps", "127.0.0.1:0"]);
    let args = [
        srv.smtp(),
        srv.imap.expect("imap port"),
        srv.listener("imaps"),
    ];
    let out = python(COMPRESS, &args.map(|a| a.port().to_string()));
    assert!(out.ends_with("ok\n"), "{out}\n{}", srv.log());
    let log = srv.log();
    assert_eq!(log.matches("COMPRESS=DEFLATE on").count(), 2, "{log}");
}

/// RFC 5032 (WITHIN), RFC 7889 (APPENDLIMIT) and RFC 8970 (PREVIEW) with
/// imaplib: OLDER and YOUNGER against the internal dates APPEND set, the
/// limit announced in the capabilities and STATUS, a larger APPEND
/// refused before its literal is sent, the previews of a plain, a quoted
/// and an HTML-only message in UTF-8; RFC 9394 PARTIAL from the start
/// and the end, past the end (NIL), and with ALL (BAD).
const WITHIN_APPENDLIMIT: &str = r#"
import imaplib, sys, time
M = imaplib.IMAP4("127.0.0.1", int(sys.argv[2]), timeout=20)
M.login("demo", "demo")
M._get_capabilities()
assert "WITHIN" in M.capabilities and "PREVIEW" in M.capabilities, M.capabilities
limit = [c for c in M.capabilities if c.startswith("APPENDLIMIT=")]
assert len(limit) == 1, M.capabilities
limit = int(limit[0].split("=")[1])
assert limit == 35 << 20, limit
typ, data = M.status("INBOX", "(APPENDLIMIT)")
assert typ == "OK" and b"APPENDLIMIT %d" % limit in data[0], data
two_days_ago = imaplib.Time2Internaldate(time.time() - 2 * 86400)
typ, data = M.append("INBOX", None, two_days_ago, b"Subject: old\r\n\r\nx\r\n")
assert typ == "OK", data
typ, data = M.append("INBOX", None, None, b"Subject: new\r\n\r\nx\r\n")
assert typ == "OK", data
typ, data = M.select("INBOX")
assert typ == "OK", data
typ, data = M.search(None, "YOUNGER", "3600")
assert data == [b"2"], data
typ, data = M.search(None, "OLDER", "86400")
assert data == [b"1"], data
typ, data = M.search(None, "OLDER", "3600", "YOUNGER", "259200")
assert data == [b"1"], data
typ, data = M.append("INBOX", None, None, b"x" * (limit + 1))
assert typ == "NO" and b"TOOBIG" in data[0], (typ, data)
quoted = "Subject: re\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n> old words\r\nGrüße,\r\n  bis  bald\r\n-- \r\nAnn\r\n"
html = "Subject: h\r\nContent-Type: text/html\r\n\r\n<html><style>p{}</style><p>Caf&#233; &amp; more</p></html>\r\n"
for m in (quoted, html):
    typ, data = M.append("INBOX", None, None, m.encode())
    assert typ == "OK", data
M.select("INBOX")
typ, data = M.fetch("1:4", "(PREVIEW)")
assert typ == "OK", data
previews = [d for d in data if d != b")"]
assert previews[0] == b'1 (PREVIEW "x")', previews
# imaplib returns a literal as a (prefix, text) tuple.
assert previews[2][1].decode() == "Grüße, bis bald", previews
assert previews[3] == b'4 (PREVIEW "Caf\xc3\xa9 & more")' or previews[3][1] == "Café & more".encode(), previews
typ, data = M.fetch("1", "(PREVIEW (LAZY))")
assert typ == "OK" and data[0] == b'1 (PREVIEW "x")', data
# RFC 9394: PARTIAL pages through a result, from either end.
def raw(tag, command):
    M.send(tag + b" " + command + b"\r\n")
    lines = []
    while True:
        line = M.readline()
        lines.append(line)
        if line.startswith(tag + b" "):
            return lines
out = raw(b"p1", b"UID SEARCH RETURN (PARTIAL 2:3 COUNT) ALL")
assert out[0].startswith(b'* ESEARCH (TAG "p1") UID PARTIAL (2:3 2:3) COUNT 4'), out
out = raw(b"p2", b"SEARCH RETURN (PARTIAL -1:-1) ALL")
assert out[0] == b'* ESEARCH (TAG "p2") PARTIAL (-1:-1 4)\r\n', out
out = raw(b"p3", b"SEARCH RETURN (PARTIAL 10:20) ALL")
assert out[0] == b'* ESEARCH (TAG "p3") PARTIAL (10:20 NIL)\r\n', out
out = raw(b"p4", b"SEARCH RETURN (PARTIAL 1:2 ALL) ALL")
assert out[-1].startswith(b"p4 BAD"), out
M.logout()
print("ok")
"#;

#[test]
#[ignore = "interop: needs python3"]
fn within_appendlimit_preview_partial_with_imaplib() {
    python_ok("imap-within", WITHIN_APPENDLIMIT);
}

/// RFC 8437 with imaplib: demo logs in, appends and selects, then
/// UNAUTHENTICATE: OK, the authenticated commands refused (BAD), and a
/// LOGIN as alice in the same connection sees alice's INBOX, not demo's.
const UNAUTHENTICATE: &str = r#"
import imaplib, sys
imaplib.Commands["UNAUTHENTICATE"] = ("AUTH", "SELECTED")
M = imaplib.IMAP4("127.0.0.1", int(sys.argv[2]), timeout=20)
M.login("demo", "demo")
M._get_capabilities()
assert "UNAUTHENTICATE" in M.capabilities, M.capabilities
typ, data = M.append("INBOX", None, None, b"Subject: demo-only\r\n\r\nx\r\n")
assert typ == "OK", data
typ, data = M.select("INBOX")
assert typ == "OK" and data == [b"1"], data
typ, data = M._simple_command("UNAUTHENTICATE")
assert typ == "OK", (typ, data)
# imaplib does not know the state changed: tell it, then try SELECT.
M.state = "AUTH"
try:
    M.select("INBOX")
    raise SystemExit("SELECT after UNAUTHENTICATE was accepted")
except imaplib.IMAP4.error as e:
    assert "BAD" in str(e) or "not" in str(e).lower(), e
M.state = "NONAUTH"
M.login("alice", "pa")
typ, data = M.select("INBOX")
assert typ == "OK" and data == [b"0"], data
M.logout()
print("ok")
"#;

#[test]
#[ignore = "interop: needs python3"]
fn rfc8437_unauthenticate_with_imaplib() {
    if !have("python3") {
        return;
    }
    let dir = scratch("imap-unauthenticate");
    let users = ["--user", "demo:demo", "--user", "alice:pa"];
    let srv = MailServer::start(&dir, &users).owning(dir);
    let out = python_on(UNAUTHENTICATE, &srv);
    assert!(out.ends_with("ok\n"), "{out}\n{}", srv.log());
    assert!(srv.log().contains("demo unauthenticated"), "{}", srv.log());
    // The same with the blocking facade, under COMPRESS, which stays.
    use mailwire::blocking::{ImapOptions, ImapSession, Security};
    let mut o = ImapOptions::default().compress(true);
    o.transport.security = Security::Plain;
    let addr = srv.imap.expect("imap port").to_string();
    let mut s = ImapSession::connect(&addr, o).unwrap();
    s.login("demo", "demo").unwrap();
    assert_eq!(s.select("INBOX").unwrap().exists, 1);
    s.unauthenticate().unwrap();
    assert!(s.is_compressed());
    assert!(s.select("INBOX").is_err());
    s.login("alice", "pa").unwrap();
    assert_eq!(s.select("INBOX").unwrap().exists, 0);
    s.logout().unwrap();
}

/// RFC 8514 SAVEDATE under imaplib: a delivered message is saved as of
/// its delivery (not the later SELECT), an APPEND with an old internal
/// date as of the APPEND, a COPY as of the COPY; a STORE keeps the save
/// date; SAVEDBEFORE, SAVEDON, SAVEDSINCE and SAVEDATESUPPORTED against
/// BEFORE on the internal dates. Prints the save dates and the SEARCH
/// answers for the comparisons after it.
const SAVEDATE: &str = r#"
import datetime, imaplib, re, smtplib, sys, time
def dates(data, item):
    out = []
    for d in data:
        m = re.search(item.encode() + rb' "([^"]+)"', d)
        t = datetime.datetime.strptime(m.group(1).decode().strip(), "%d-%b-%Y %H:%M:%S %z")
        out.append(int(t.timestamp()))
    return out
def search(*keys):
    typ, data = M.search(None, *keys)
    assert typ == "OK", data
    return (data[0] or b"").decode()
t0 = int(time.time())
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]))
s.sendmail("a@example.com", ["testuser@localhost"], "Subject: s1\r\n\r\nx\r\n")
s.quit()
t1 = time.time()
time.sleep(1.2)
M = imaplib.IMAP4("127.0.0.1", int(sys.argv[2]), timeout=20)
M.login("testuser", "testpass")
M._get_capabilities()
assert "SAVEDATE" in M.capabilities, M.capabilities
M.select("INBOX")
t2 = int(time.time())
old = imaplib.Time2Internaldate(time.time() - 3 * 86400)
typ, data = M.append("INBOX", None, old, b"Subject: s2\r\n\r\ny\r\n")
assert typ == "OK", data
M.select("INBOX")
typ, data = M.fetch("1:2", "(SAVEDATE INTERNALDATE)")
saved, internal = dates(data, "SAVEDATE"), dates(data, "INTERNALDATE")
assert t0 - 1 <= saved[0] <= t1 + 1, (t0, saved, t1)
assert saved[1] >= t2 and internal[1] < t2 - 2 * 86400, (saved, internal, t2)
M.store("1", "+FLAGS", "(\\Seen)")
time.sleep(1.1)
typ, data = M.fetch("1", "(SAVEDATE)")
assert dates(data, "SAVEDATE") == saved[:1], (data, saved)
tc = int(time.time())
typ, data = M.copy("1", "Archive")
assert typ == "OK", data
M.select("Archive")
typ, data = M.fetch("1", "(SAVEDATE)")
assert dates(data, "SAVEDATE")[0] >= tc > saved[0], (data, tc, saved)
M.select("INBOX")
day = lambda t: time.strftime("%d-%b-%Y", time.gmtime(t))
print("saved", *saved)
print("day", day(saved[1]))
if day(saved[0]) == day(saved[1]):
    assert search("SAVEDATESUPPORTED") == "1 2"
    assert search("SAVEDON", day(saved[1])) == "1 2"
    assert search("SAVEDSINCE", day(saved[1])) == "1 2"
    assert search("SAVEDBEFORE", day(saved[1])) == ""
    assert search("SAVEDBEFORE", day(saved[1] + 86400)) == "1 2"
    assert search("BEFORE", day(saved[1])) == "2"
    assert search("NOT", "SAVEDSINCE", day(saved[1])) == ""
M.logout()
print("ok")
"#;

/// The SEARCH commands both servers are asked on the same Maildir, with
/// `DAY` the day the messages were saved.
const SAVEDATE_SEARCHES: [&str; 4] = [
    "SEARCH SAVEDATESUPPORTED",
    "SEARCH SAVEDSINCE DAY",
    "SEARCH SAVEDBEFORE DAY",
    "SEARCH SAVEDON DAY",
];

/// RFC 8514 SAVEDATE ([`SAVEDATE`]), then kept across a restart of the
/// server; then Dovecot on a copy of the same Maildir gives the same
/// answers to the same SEARCH commands. (Its save dates are its own: it
/// sets one when it first indexes a message, the copy's first SELECT.)
#[test]
#[ignore = "interop: needs Dovecot and python3"]
fn savedate_with_imaplib_and_like_dovecot() {
    let Some((dc, mut srv, data)) = dovecot_and_mailserver("imap-savedate") else {
        return;
    };
    let imap = srv.imap.expect("imap port");
    let out = python(
        SAVEDATE,
        &[srv.smtp().port().to_string(), imap.port().to_string()],
    );
    assert!(out.ends_with("ok\n"), "{out}\n{}", srv.log());
    let saved = out.lines().find_map(|l| l.strip_prefix("saved ")).unwrap();
    let day = out.lines().find_map(|l| l.strip_prefix("day ")).unwrap();
    srv.restart();
    let script = r#"
import imaplib, sys
M = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
M.login("testuser", "testpass")
M.select("INBOX")
typ, data = M.fetch("1:2", "(SAVEDATE)")
for d in data:
    print(d.decode())
for q in sys.argv[2:]:
    typ, data = M._simple_command(*q.split(" "))
    print(q, "->", (M.untagged_responses.pop("SEARCH", [b""])[0] or b"").decode())
M.logout()
"#;
    let searches: Vec<String> = SAVEDATE_SEARCHES
        .iter()
        .map(|q| q.replace("DAY", day))
        .collect();
    let mut args = vec![srv.imap.expect("imap port").port().to_string()];
    args.extend(searches.iter().cloned());
    let after = python(script, &args);
    // The same save dates after the restart, read from the store.
    let again: Vec<i64> = after
        .lines()
        .filter_map(|l| l.split_once("SAVEDATE \"").map(|(_, r)| r))
        .map(|r| imap_unix(r.split('"').next().unwrap()))
        .collect();
    let before: Vec<i64> = saved.split(' ').map(|t| t.parse().unwrap()).collect();
    assert_eq!(again, before, "{after}");
    srv.terminate(std::time::Duration::from_secs(10));

    give_to_dovecot(&dc, &data);
    let mut script = String::from("a SELECT INBOX\r\nb FETCH 1:* (SAVEDATE)\r\n");
    for (i, q) in searches.iter().enumerate() {
        script.push_str(&format!("s{i} {q}\r\n"));
    }
    script.push_str("z LOGOUT\r\n");
    let dovecot = String::from_utf8_lossy(&dc.exec_imap(script.as_bytes())).into_owned();
    assert_eq!(
        dovecot.matches("FETCH (SAVEDATE \"").count(),
        2,
        "{dovecot}"
    );
    let mut answers = dovecot
        .lines()
        .filter_map(|l| l.strip_prefix("* SEARCH"))
        .map(|r| r.trim().to_string());
    for q in &searches {
        let ours = after
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{q} -> ")))
            .unwrap();
        assert_eq!(
            Some(ours.to_string()),
            answers.next(),
            "{q}\n{after}\n{dovecot}"
        );
    }
}

/// Seconds since 1970 of an IMAP date-time (`" 7-Dec-2026 19:48:46 +0000"`),
/// read as the RFC 5322 date it is with spaces for its dashes.
fn imap_unix(s: &str) -> i64 {
    let (dt, _) = mailwire::message::parse_date_time(s.replacen('-', " ", 2).as_bytes());
    dt.expect("a date-time").unix_timestamp()
}

/// RFC 8474 OBJECTID under imaplib: CREATE's MAILBOXID is the one SELECT
/// and STATUS give, goes with the folder through RENAME and is new for a
/// folder made again under the old name; each message has its EMAILID,
/// which a COPY and a MOVE keep and SEARCH EMAILID finds (case-sensitive);
/// a reply's THREADID is its original's (from its References), another
/// message's differs, SEARCH THREADID finds the thread, and the copies
/// keep their THREADIDs (§5.2). Prints the ids for the check after a
/// restart.
const OBJECTID: &str = r#"
import imaplib, re, smtplib, sys
imaplib.Commands.setdefault("MOVE", ("SELECTED",))
def ids(data, item):
    return [re.search(item.encode() + rb" \(([A-Za-z0-9_-]+)\)", d).group(1).decode()
            for d in data if isinstance(d, bytes)]
def code():
    return M.response("MAILBOXID")[1][-1].decode().strip("()")
def search(*keys):
    typ, data = M.search(None, *keys)
    assert typ == "OK", data
    return (data[0] or b"").decode()
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]))
heads = ["Message-ID: <root@example.com>",
         "Message-ID: <other@example.com>",
         "Message-ID: <r1@example.com>\r\nIn-Reply-To: <root@example.com>\r\n"
         "References: <root@example.com>"]
for i, h in enumerate(heads):
    s.sendmail("a@example.com", ["demo@localhost"], "%s\r\nSubject: o%d\r\n\r\nx\r\n" % (h, i))
s.quit()
M = imaplib.IMAP4("127.0.0.1", int(sys.argv[2]), timeout=20)
M.login("demo", "demo")
M._get_capabilities()
assert "OBJECTID" in M.capabilities, M.capabilities
typ, data = M.create("Projects")
assert typ == "OK", data
made = code()
typ, data = M.status("Projects", "(MAILBOXID)")
assert ("(MAILBOXID (%s))" % made).encode() in data[0], (data, made)
M.select("Projects")
assert code() == made
typ, data = M.rename("Projects", "Work")
assert typ == "OK", data
typ, data = M.status("Work", "(MAILBOXID)")
assert made.encode() in data[0], (data, made)
M.create("Projects")
assert code() != made
M.select("INBOX")
inbox = code()
assert inbox not in (made,)
typ, data = M.fetch("1:3", "(EMAILID THREADID)")
e = ids(data, "EMAILID")
assert len(e) == 3 and len(set(e)) == 3, data
# The reply shares the first message's thread, the other message has its
# own; no THREADID is an EMAILID (RFC 8474 §5.2).
t = ids(data, "THREADID")
assert len(t) == 3 and t[0] == t[2] != t[1], data
assert not set(t) & set(e), data
assert search("EMAILID", e[1]) == "2"
if e[1].upper() != e[1]:
    assert search("EMAILID", e[1].upper()) == ""
assert search("THREADID", "T1") == ""
assert search("THREADID", t[0]) == "1 3"
assert search("NOT", "THREADID", t[0]) == "2"
assert search("THREADID", e[0]) == ""
typ, data = M.copy("1", "Work")
assert typ == "OK", data
typ, data = M._simple_command("MOVE", "2", "Work")
assert typ == "OK", data
M.select("Work")
typ, data = M.fetch("1:2", "(EMAILID THREADID)")
assert ids(data, "EMAILID") == e[:2], (data, e)
assert ids(data, "THREADID") == t[:2], (data, t)
assert search("EMAILID", e[0]) == "1"
assert search("THREADID", t[1]) == "2"
print("work", made, *e)
M.logout()
print("ok")
"#;

/// [`OBJECTID`], then the same MAILBOXID, EMAILIDs and THREADIDs after a
/// restart (which empties the THREADID cache: they are worked out again).
#[test]
#[ignore = "interop: needs python3"]
fn objectid_with_imaplib() {
    let Some((mut srv, _data)) = python_ok("imap-objectid", OBJECTID) else {
        return;
    };
    let out = python_on(OBJECTID_IDS, &srv);
    let before = out
        .lines()
        .find_map(|l| l.strip_prefix("ids "))
        .unwrap()
        .to_string();
    srv.restart();
    let after = python_on(OBJECTID_IDS, &srv);
    assert!(
        after.contains(&format!("ids {before}")),
        "{before}\n{after}"
    );
}

/// The MAILBOXID, EMAILIDs and THREADIDs of the folder `Work`, printed.
const OBJECTID_IDS: &str = r#"
import imaplib, re, sys
M = imaplib.IMAP4("127.0.0.1", int(sys.argv[2]), timeout=20)
M.login("demo", "demo")
M.select("Work")
mailbox = M.response("MAILBOXID")[1][-1].decode().strip("()")
typ, data = M.fetch("1:2", "(EMAILID THREADID)")
e = [re.search(rb"EMAILID \(([A-Za-z0-9_-]+)\)", d).group(1).decode() for d in data]
t = [re.search(rb"THREADID \(([A-Za-z0-9_-]+)\)", d).group(1).decode() for d in data]
print("ids", mailbox, *e, *t)
M.logout()
"#;

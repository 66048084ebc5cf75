//! Interop: the `pop3` example (the offline user agent, built on
//! `mailwire::pop3::client`) against Dovecot's POP3 server
//! (../shared/PEERS.md): keep mode twice (no duplicates, only new mail the
//! second time), headers only, every login method Dovecot offers, and
//! delete mode (the maildrop is empty afterwards).
//!
//! `#[ignore]`d: run with `cargo test --release -p mailwire --test interop_pop3 -- --ignored --test-threads=1`
//! after `bash .ci/install-peers`. A missing Dovecot skips the test, or
//! fails it when `CI=true`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::dovecot::{Dovecot, free_port, peer_missing, which};

/// The `pop3` example binary, built for this test's profile by the shared
/// interop helper (the same build the mailserver tests use).
fn pop3_example() -> PathBuf {
    common::example("pop3")
}

struct Run {
    stdout: String,
    ok: bool,
}

fn run_pop3(port: u16, out: &Path, extra: &[&str]) -> Run {
    let mut c = Command::new(pop3_example());
    c.args([
        "--server",
        &format!("127.0.0.1:{port}"),
        "--user",
        "testuser",
        "--password",
        "testpass",
        "--out",
    ])
    .arg(out)
    .args(extra)
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    eprintln!("pop3 {extra:?}:\n{stdout}{stderr}");
    Run {
        stdout,
        ok: status.success(),
    }
}

fn summary_number(stdout: &str, what: &str) -> u64 {
    let line = stdout
        .lines()
        .find(|l| l.starts_with("summary:"))
        .unwrap_or_else(|| panic!("no summary in {stdout}"));
    let pos = line
        .find(what)
        .unwrap_or_else(|| panic!("{what} not in {line}"));
    line[..pos]
        .split_whitespace()
        .last()
        .unwrap()
        .trim_start_matches('(')
        .parse()
        .unwrap()
}

fn stored(out: &Path) -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = fs::read_dir(out.join("new"))
        .map(|r| r.map(|e| fs::read(e.unwrap().path()).unwrap()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

fn message(i: usize, extra: &str) -> Vec<u8> {
    let mut m = format!("From: a{i}@example.com\r\nTo: testuser@example.com\r\nSubject: message {i}\r\nMessage-ID: <{i}@example.com>\r\n\r\n").into_bytes();
    m.extend_from_slice(extra.as_bytes());
    m.extend_from_slice(b".a line with a leading dot\r\n..two dots\r\n.\r\nend\r\n");
    m
}

#[test]
#[ignore = "interop: needs Dovecot (bash .ci/install-peers)"]
fn pop3_example_against_dovecot_keep_twice_then_delete() {
    let Some(d) = Dovecot::start() else { return };
    let mut originals: Vec<Vec<u8>> = (1..=4).map(|i| message(i, "")).collect();
    originals.push(message(5, &"0123456789abcdef\r\n".repeat(600))); // about 10 KiB
    for (i, m) in originals.iter().enumerate() {
        d.deliver(&format!("100000000{i}.M1P1Q{i}.test"), m);
    }
    let out = d.root.join("client");

    // Keep mode: everything is fetched, byte for byte.
    let r = run_pop3(d.port, &out, &["--keep"]);
    assert!(r.ok);
    assert_eq!(summary_number(&r.stdout, "fetched"), 5);
    let mut want = originals.clone();
    want.sort();
    assert_eq!(stored(&out), want);
    assert_eq!(
        r.stdout
            .lines()
            .filter(|l| l.starts_with("message "))
            .count(),
        5
    );
    assert_eq!(d.count(), 5, "keep mode leaves the messages");
    let uidls = fs::read_to_string(out.join(".mailwire-pop3-uidl")).unwrap();
    assert_eq!(uidls.lines().count(), 5);

    // Keep mode again: no duplicates.
    let r = run_pop3(d.port, &out, &["--keep"]);
    assert!(r.ok);
    assert_eq!(summary_number(&r.stdout, "fetched"), 0);
    assert_eq!(summary_number(&r.stdout, "already stored"), 5);
    assert_eq!(stored(&out).len(), 5);

    // New mail: only it is fetched.
    let new = message(6, "fresh\r\n");
    d.deliver("1000000099.M1P1Q99.test", &new);
    let r = run_pop3(d.port, &out, &[]);
    assert!(r.ok);
    assert_eq!(summary_number(&r.stdout, "fetched"), 1);
    assert!(stored(&out).contains(&new));

    // Headers only, into another folder.
    let heads = d.root.join("heads");
    let r = run_pop3(d.port, &heads, &["--headers-only"]);
    assert!(r.ok);
    assert_eq!(summary_number(&r.stdout, "fetched"), 6);
    for h in stored(&heads) {
        assert!(h.ends_with(b"\r\n\r\n"), "{}", String::from_utf8_lossy(&h));
        assert!(!h.windows(5).any(|w| w == b"end\r\n"));
    }

    // Delete mode: a new message is fetched, then it and everything stored
    // before goes.
    let newer = message(7, "newest\r\n");
    d.deliver("1000000100.M1P1Q100.test", &newer);
    let r = run_pop3(d.port, &out, &["--delete"]);
    assert!(r.ok);
    assert_eq!(summary_number(&r.stdout, "fetched"), 1);
    assert_eq!(summary_number(&r.stdout, "deleted"), 7);
    assert_eq!(d.count(), 0, "delete mode empties the maildrop");
    assert_eq!(stored(&out).len(), 7);
    assert!(stored(&out).contains(&newer));
}

#[test]
#[ignore = "interop: needs Dovecot (bash .ci/install-peers)"]
fn pop3_example_login_methods_against_dovecot() {
    let Some(d) = Dovecot::start() else { return };
    d.deliver("1000000001.M1P1Q1.test", &message(1, ""));
    for mech in ["PLAIN", "LOGIN", "USER"] {
        let out = d.root.join(format!("client-{mech}"));
        let r = run_pop3(d.port, &out, &["--auth-mech", mech]);
        assert!(r.ok, "{mech}");
        assert_eq!(summary_number(&r.stdout, "fetched"), 1, "{mech}");
    }
    // A wrong password fails cleanly.
    let mut c = Command::new(pop3_example());
    let out = c
        .args([
            "--server",
            &format!("127.0.0.1:{}", d.port),
            "--user",
            "testuser",
            "--password",
            "nope",
            "--out",
        ])
        .arg(d.root.join("bad"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("authentication failed"));
}

/// The sans-IO client over a plain std socket against Dovecot, without the
/// example: CAPA as Dovecot documents it, UIDL stable across sessions,
/// pipelined LIST, and TOP.
#[test]
#[ignore = "interop: needs Dovecot (bash .ci/install-peers)"]
fn client_machine_against_dovecot() {
    use mailwire::pop3::client::{Client, Event, Options, TlsMode};
    use mailwire::pop3::{Capability, Command};
    let Some(d) = Dovecot::start() else { return };
    for i in 1..=3 {
        d.deliver(&format!("100000000{i}.M1P1Q{i}.test"), &message(i, ""));
    }
    let session = |cmds: Vec<Command<'static>>| -> Vec<Event> {
        let mut o = Options::new("testuser", "testpass");
        o.tls = TlsMode::None;
        o.allow_plaintext_auth = true;
        let mut c = Client::new(o, Instant::now());
        for cmd in cmds {
            c.enqueue(cmd).unwrap();
        }
        let mut sock = TcpStream::connect(("127.0.0.1", d.port)).unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut events = Vec::new();
        let mut out = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            while c.poll_transmit(Instant::now(), &mut out).is_some() {}
            sock.write_all(&out).unwrap();
            out.clear();
            let mut any = false;
            while let Some(e) = c.poll_event() {
                any = true;
                let closed = matches!(e, Event::Closed { .. });
                events.push(e);
                if closed {
                    return events;
                }
            }
            if any {
                continue;
            }
            match sock.read(&mut buf).unwrap() {
                0 => c.handle_eof(Instant::now()),
                n => c.handle_input(Instant::now(), &buf[..n]),
            }
        }
    };
    let one = std::num::NonZeroU32::new(1).unwrap();
    let ev = session(vec![
        Command::Uidl(None),
        Command::List(None),
        Command::Top { msg: one, lines: 0 },
        Command::Quit,
    ]);
    let Some(Event::Ready { capabilities, .. }) = ev.first() else {
        panic!("{ev:?}")
    };
    for c in [
        Capability::Top,
        Capability::Uidl,
        Capability::RespCodes,
        Capability::Pipelining,
        Capability::User,
    ] {
        assert!(capabilities.contains(&c), "{c:?} in {capabilities:?}");
    }
    let uidl = |ev: &[Event]| {
        ev.iter()
            .find_map(|e| match e {
                Event::Uidl { listings, .. } => Some(
                    listings
                        .iter()
                        .map(|l| l.uid.to_string())
                        .collect::<Vec<_>>(),
                ),
                _ => None,
            })
            .unwrap()
    };
    let first = uidl(&ev);
    assert_eq!(first.len(), 3);
    assert!(
        ev.iter()
            .any(|e| matches!(e, Event::List { listings, .. } if listings.len() == 3))
    );
    let ev2 = session(vec![Command::Uidl(None), Command::Quit]);
    assert_eq!(uidl(&ev2), first, "UIDL stable across sessions");
    let _ = BufReader::new(&b""[..]).lines();
}

// ----- against the mailserver example -------------------------------------------

/// An example binary: beside this test, or built into a separate folder.
fn example_bin(name: &str) -> PathBuf {
    common::example(name)
}

/// The mailserver example with `--pop3` (or `$MAILWIRE_MAILSERVER_BIN`), on
/// free loopback ports; `None` (skip) while it has no POP3 service.
struct Mailserver {
    child: Child,
    data: PathBuf,
    smtp: u16,
    pop3: u16,
}

impl Drop for Mailserver {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline && !matches!(self.child.try_wait(), Ok(Some(_))) {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = fs::remove_dir_all(&self.data);
        let _ = fs::remove_file(self.data.with_extension("log"));
    }
}

impl Mailserver {
    fn start() -> Option<Mailserver> {
        let bin = std::env::var_os("MAILWIRE_MAILSERVER_BIN")
            .map_or_else(|| example_bin("mailserver"), PathBuf::from);
        let data = std::env::temp_dir().join(format!(
            "mailwire-pop3-ms-{}-{}",
            std::process::id(),
            free_port()
        ));
        let (smtp, pop3) = (free_port(), free_port());
        let log = data.with_extension("log");
        fs::create_dir_all(&data).unwrap();
        let mut child = Command::new(bin)
            .args(["--data"])
            .arg(&data)
            .args([
                "--smtp",
                &format!("127.0.0.1:{smtp}"),
                "--no-submission",
                "--pop3",
                &format!("127.0.0.1:{pop3}"),
            ])
            .args(["--domain", "localhost", "--user", "demo:demo"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if TcpStream::connect(("127.0.0.1", pop3)).is_ok()
                && TcpStream::connect(("127.0.0.1", smtp)).is_ok()
            {
                return Some(Mailserver {
                    child,
                    data,
                    smtp,
                    pop3,
                });
            }
            if let Ok(Some(_)) = child.try_wait() {
                let err = fs::read_to_string(&log).unwrap_or_default();
                let _ = fs::remove_dir_all(&data);
                panic!("mailserver failed: {err}");
            }
            assert!(Instant::now() < deadline, "mailserver did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn mailbox(&self) -> PathBuf {
        self.data.join("mailboxes/demo")
    }
}

fn python3() -> Option<PathBuf> {
    which("python3")
}

/// Python's poplib and curl against the mailserver's POP3 service, on
/// messages delivered by SMTP: LIST, UIDL, TOP, RETR byte-identical to the
/// delivered file, DELE then QUIT removes, DELE then a dropped connection
/// keeps, a second session gets IN-USE; then the pop3 example in keep mode
/// twice and delete mode.
#[test]
#[ignore = "interop: needs python3 and curl, and the mailserver's --pop3"]
fn poplib_curl_and_pop3_example_against_mailserver() {
    let Some(py) = python3() else {
        peer_missing("python3");
        return;
    };
    let Some(ms) = Mailserver::start() else {
        return;
    };
    let script = format!(
        r#"
import smtplib, poplib, os, sys, time
S, P, BOX = {smtp}, {pop3}, {mailbox:?}
for i in range(3):
    body = f"Subject: m{{i}}\r\nFrom: a@x.test\r\nTo: demo@localhost\r\n\r\n.leading dot {{i}}\r\n..two\r\nline\r\n"
    smtplib.SMTP('127.0.0.1', S).sendmail('a@x.test', ['demo@localhost'], body)
def files():
    out = {{}}
    for sub in ('new', 'cur'):
        for n in os.listdir(os.path.join(BOX, sub)):
            out[n.split(':2,')[0]] = open(os.path.join(BOX, sub, n), 'rb').read().replace(b'\r\n', b'\n').replace(b'\n', b'\r\n')
    return out
p = poplib.POP3('127.0.0.1', P)
caps = p.capa()
assert 'UIDL' in caps and 'TOP' in caps and 'STLS' in caps, caps
p.user('demo'); p.pass_('demo')
resp, listing, _ = p.list()
assert len(listing) == 3, listing
resp, uidls, _ = p.uidl()
uids = [u.split()[1].decode() for u in uidls]
stored = files()
for n, line in enumerate(listing, 1):
    size = int(line.split()[1])
    resp, lines, octets = p.retr(n)
    got = b'\r\n'.join(lines) + b'\r\n'
    want = [v for k, v in stored.items() if k == uids[n - 1] or k.startswith(uids[n - 1])]
    assert want and got == want[0], (got, want)
    assert size == len(got), (size, len(got))
    resp, head, _ = p.top(n, 0)
    assert head[-1] == b'' and b'.leading dot' not in b''.join(head)
p.dele(1)
p.quit()
p = poplib.POP3('127.0.0.1', P); p.user('demo'); p.pass_('demo')
assert p.stat()[0] == 2, p.stat()
resp, uidls2, _ = p.uidl()
assert [u.split()[1].decode() for u in uidls2] == uids[1:], 'UIDL stable across sessions'
q = poplib.POP3('127.0.0.1', P); q.user('demo')
try:
    q.pass_('demo'); raise SystemExit('second session got the maildrop')
except poplib.error_proto as e:
    assert b'IN-USE' in e.args[0], e
p.dele(1)
p.sock.close(); p.file.close()
time.sleep(0.5)
p = poplib.POP3('127.0.0.1', P); p.user('demo'); p.pass_('demo')
assert p.stat()[0] == 2, 'DELE then a dropped connection keeps'
p.quit()
print('poplib ok')
"#,
        smtp = ms.smtp,
        pop3 = ms.pop3,
        mailbox = ms.mailbox().display().to_string(),
    );
    let out = Command::new(py).arg("-c").arg(&script).output().unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    if let Some(curl) = which("curl") {
        let url = format!("pop3://demo:demo@127.0.0.1:{}/", ms.pop3);
        let list = Command::new(&curl).args(["-s", &url]).output().unwrap();
        assert!(list.status.success());
        assert_eq!(String::from_utf8_lossy(&list.stdout).lines().count(), 2);
        let one = Command::new(&curl)
            .args(["-s", &format!("{url}1")])
            .output()
            .unwrap();
        assert!(String::from_utf8_lossy(&one.stdout).contains("Subject: m1"));
        let uidl = Command::new(&curl)
            .args(["-s", "-X", "UIDL", &url])
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&uidl.stdout).lines().count(), 2);
    } else {
        peer_missing("curl");
    }

    let out = ms.data.join("client");
    let r = run_pop3_as(ms.pop3, &out, "demo", "demo", &["--keep"]);
    assert!(r.ok);
    assert_eq!(summary_number(&r.stdout, "fetched"), 2);
    let r = run_pop3_as(
        ms.pop3,
        &out,
        "demo",
        "demo",
        &["--keep", "--starttls", "--insecure"],
    );
    assert!(r.ok);
    assert_eq!(summary_number(&r.stdout, "fetched"), 0);
    let r = run_pop3_as(
        ms.pop3,
        &out,
        "demo",
        "demo",
        &["--delete", "--auth-mech", "USER"],
    );
    assert!(r.ok);
    assert_eq!(summary_number(&r.stdout, "deleted"), 2);
    let left: usize = ["new", "cur"]
        .iter()
        .map(|d| {
            fs::read_dir(ms.mailbox().join(d))
                .map(|r| r.count())
                .unwrap_or(0)
        })
        .sum();
    assert_eq!(left, 0);
}

fn run_pop3_as(port: u16, out: &Path, user: &str, pass: &str, extra: &[&str]) -> Run {
    let mut c = Command::new(pop3_example());
    c.args([
        "--server",
        &format!("127.0.0.1:{port}"),
        "--user",
        user,
        "--password",
        pass,
        "--out",
    ])
    .arg(out)
    .args(extra);
    let o = c.output().unwrap();
    eprintln!(
        "pop3 {extra:?}:\n{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    Run {
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        ok: o.status.success(),
    }
}

//! Interop tests of the mailserver example against real peers
//! (../shared/PEERS.md): Python's smtplib, swaks, curl, Postfix's
//! smtp-source, and the mailserver itself as a relay peer. They start the
//! example on 127.0.0.1 with system-chosen ports.
//!
//! Run them with `cargo test --release -p mailwire --test interop_mailserver
//! -- --ignored --test-threads=1` after `bash .ci/install-peers`. With
//! CI=true a missing peer fails the test; elsewhere it skips with a message.
//!
//! The example's own modules are compiled into this test too, so their unit
//! tests run with the plain `cargo test` (examples' tests are not run by
//! default).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

#[allow(dead_code, unreachable_pub)]
#[path = "../examples/mailserver/accounts.rs"]
mod accounts;
#[allow(dead_code, unreachable_pub)]
#[path = "../examples/mailserver/auth_guard.rs"]
mod auth_guard;
#[allow(dead_code, unreachable_pub)]
#[path = "../examples/mailserver/bounce.rs"]
mod bounce;
#[allow(dead_code, unreachable_pub)]
#[path = "../examples/mailserver/config.rs"]
mod config;
#[allow(dead_code, unreachable_pub)]
#[path = "../examples/mailserver/config_file.rs"]
mod config_file;
#[allow(dead_code, unreachable_pub)]
#[path = "../examples/mailserver/delivery.rs"]
mod delivery;
#[allow(dead_code, unreachable_pub)]
#[path = "../examples/mailserver/dkim.rs"]
mod dkim;

#[allow(dead_code, unreachable_pub)]
#[path = "../examples/mailserver/dkim_verify.rs"]
mod dkim_verify;
#[allow(dead_code, unreachable_pub)]
#[path = "../examples/mailserver/dmarc.rs"]
mod dmarc;
#[allow(dead_code, unreachable_pub)]
#[path = "../examples/mailserver/dmarc_report.rs"]
mod dmarc_report;
#[allow(dead_code, unreachable_pub)]
#[path = "../examples/mailserver/dns_name.rs"]
mod dns_name;
#[allow(dead_code, unreachable_pub)]
#[path = "../examples/mailserver/dnsbl.rs"]
mod dnsbl;
#[allow(dead_code, unreachable_pub)]
#[path = "../examples/mailserver/greylist.rs"]
mod greylist;
#[allow(dead_code, unreachable_pub)]
#[path = "../examples/mailserver/spf.rs"]
mod spf;
#[allow(dead_code, unreachable_pub)]
#[path = "../examples/mailserver/txt.rs"]
mod txt;

#[allow(dead_code, unreachable_pub)]
#[path = "../examples/mailserver/driver.rs"]
mod driver;
#[allow(dead_code, unreachable_pub)]
#[path = "../examples/mailserver/hops.rs"]
mod hops;
#[allow(dead_code, unreachable_pub)]
#[path = "../examples/mailserver/imap_session.rs"]
mod imap_session;
#[allow(dead_code, unreachable_pub)]
#[path = "../examples/mailserver/limits.rs"]
mod limits;
#[allow(dead_code, unreachable_pub)]
#[path = "../examples/mailserver/list.rs"]
mod list;
#[allow(dead_code, unreachable_pub)]
#[path = "../examples/mailserver/maildir.rs"]
mod maildir;
#[allow(dead_code, unreachable_pub)]
#[path = "../examples/mailserver/mailstore/mod.rs"]
mod mailstore;
#[allow(dead_code, unreachable_pub)]
#[path = "../examples/mailserver/mta_sts.rs"]
mod mta_sts;
#[allow(dead_code, unreachable_pub)]
#[path = "../examples/mailserver/mta_sts_policy.rs"]
mod mta_sts_policy;
#[allow(dead_code, unreachable_pub)]
#[path = "../examples/mailserver/queue.rs"]
mod queue;
#[allow(dead_code, unreachable_pub)]
#[path = "../examples/mailserver/resolve.rs"]
mod resolve;
#[allow(dead_code, unreachable_pub)]
#[path = "../examples/mailserver/rewrite.rs"]
mod rewrite;
#[allow(dead_code, unreachable_pub)]
#[path = "../examples/mailserver/runner.rs"]
mod runner;
#[allow(dead_code, unreachable_pub)]
#[path = "../examples/mailserver/smtp_session.rs"]
mod smtp_session;
#[allow(dead_code, unreachable_pub)]
#[path = "../examples/mailserver/srs.rs"]
mod srs;
#[allow(dead_code, unreachable_pub)]
#[path = "../examples/mailserver/store.rs"]
mod store;
#[path = "../examples/mailserver/testdir.rs"]
mod testdir;
#[allow(dead_code, unreachable_pub)]
#[path = "../examples/mailserver/tls.rs"]
mod tls;
#[allow(dead_code, unreachable_pub)]
#[path = "../examples/mailserver/vacation.rs"]
mod vacation;
/// The webmail, so that its unit tests run with the plain cargo test.
#[allow(dead_code, unreachable_pub)]
#[path = "../examples/mailserver/webmail"]
mod webmail {
    mod autoreply;
    mod checks;
    pub(crate) mod compose;
    mod contacts;
    mod http;
    mod mailbox;
    mod pages;
    mod password;
    pub(crate) mod render;
    pub(crate) mod sanitize;
    mod session;
    mod unsubscribe;
    mod view;
}

use std::collections::{HashMap, HashSet};
use std::fs;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::dns::TinyDns;
use common::*;

/// A message with a unique marker, CRLF line ends, lines that need
/// dot-stuffing and some 8-bit text.
fn sample(marker: &str, from: &str, to: &str) -> Vec<u8> {
    format!(
        "From: <{from}>\r\nTo: <{to}>\r\nSubject: {marker}\r\nMessage-ID: <{marker}@test>\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\
         Hello {marker}.\r\n.\r\n..two dots\r\n. dot space\r\nGr\u{fc}\u{df}e aus K\u{f6}ln\r\n\r\n  indented\r\nlast line\r\n"
    )
    .into_bytes()
}

/// The text with folded header lines joined (RFC 5322 §2.2.3).
fn unfold(d: &[u8]) -> String {
    String::from_utf8_lossy(d)
        .replace("\r\n ", " ")
        .replace("\r\n\t", " ")
}

fn assert_stored(server: &MailServer, user: &str, marker: &str, sent: &[u8]) {
    let stored = find_one(server, user, marker);
    assert!(stored.starts_with(b"Return-Path: <"), "Return-Path first");
    assert!(
        stored.windows(10).any(|w| w == b"Received: "),
        "a Received field"
    );
    let body = strip_trace(&stored);
    assert_eq!(
        String::from_utf8_lossy(body),
        String::from_utf8_lossy(sent),
        "message {marker} stored byte-identical"
    );
}

const PY_SEND: &str = r#"
import smtplib, ssl, sys, json
job = json.load(open(sys.argv[1]))
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
for m in job:
    data = open(m["file"], "rb").read()
    if m["mode"] == "smtps":
        c = smtplib.SMTP_SSL("127.0.0.1", m["port"], context=ctx)
    else:
        c = smtplib.SMTP("127.0.0.1", m["port"])
    c.ehlo("client.test")
    if m["mode"] in ("starttls", "auth-tls"):
        c.starttls(context=ctx); c.ehlo("client.test")
    if m.get("mech"):
        c.user, c.password = m["user"], m["password"]
        code, text = c.auth(m["mech"], getattr(c, "auth_" + m["mech"].lower().replace("-", "_")))
        assert code == 235, (code, text)
    refused = c.sendmail(m["from"], [m["to"]], data, mail_options=["BODY=8BITMIME"])
    assert not refused, refused
    c.quit()
print("sent", len(job))
"#;

#[test]
#[ignore = "interop: needs python3 (bash .ci/install-peers)"]
fn smtplib_plain_starttls_auth_and_smtps() {
    if !have("python3") {
        return;
    }
    let dir = scratch("smtplib");
    let srv = MailServer::start(&dir.join("data"), &["--smtps", "127.0.0.1:0"]);
    let smtp = srv.smtp().port();
    let sub = srv.submission().port();
    let smtps = srv.smtps.expect("smtps").port();
    let cases = [
        ("plain", smtp, None),
        ("starttls", smtp, None),
        ("auth", sub, Some("PLAIN")),
        ("auth", sub, Some("LOGIN")),
        ("auth-tls", sub, Some("PLAIN")),
        ("auth-tls", sub, Some("LOGIN")),
        ("auth", sub, Some("CRAM-MD5")),
        ("smtps", smtps, Some("PLAIN")),
    ];
    let mut job = Vec::new();
    let mut sent = Vec::new();
    for (i, (mode, port, mech)) in cases.iter().enumerate() {
        let marker = format!("smtplib-{mode}-{}-{i}", mech.unwrap_or("none"));
        let from = if mech.is_some() {
            "demo@localhost"
        } else {
            "someone@elsewhere.test"
        };
        let data = sample(&marker, from, "demo@localhost");
        let file = dir.join(format!("{marker}.eml"));
        fs::write(&file, &data).unwrap();
        job.push(serde_json::json!({
            "file": file, "mode": mode, "port": port, "mech": mech, "user": "demo", "password": "demo",
            "from": from, "to": "demo@localhost",
        }));
        sent.push((marker, data));
    }
    let jobf = dir.join("job.json");
    fs::write(&jobf, serde_json::to_vec(&job).unwrap()).unwrap();
    let (ok, out) = run(Command::new("python3").arg("-c").arg(PY_SEND).arg(&jobf));
    assert!(ok, "smtplib failed: {out}\n{}", srv.log());
    for (marker, data) in &sent {
        assert_stored(&srv, "demo", marker, data);
    }
    let log = srv.log();
    assert!(log.contains("with") || log.contains("250"), "{log}");
    // The Received fields tell how each message came in (RFC 3848).
    let tls_auth = find_one(&srv, "demo", "smtplib-auth-tls-PLAIN-4");
    assert!(unfold(&tls_auth).contains("with ESMTPSA id "));
    let plain = find_one(&srv, "demo", "smtplib-plain-none-0");
    assert!(unfold(&plain).contains("with ESMTP id "));
    let _ = fs::remove_dir_all(dir);
}

#[test]
#[ignore = "interop: needs swaks (bash .ci/install-peers)"]
fn swaks_pipeline_tls_and_auth() {
    if !have("swaks") {
        return;
    }
    // swaks needs Net::SSLeay for --tls (Debian: libnet-ssleay-perl).
    let tls_ok = run(Command::new("perl").args(["-MNet::SSLeay", "-e", "1"])).0;
    if !tls_ok {
        assert!(
            !ci(),
            "swaks --tls needs Net::SSLeay (apt-get install libnet-ssleay-perl)"
        );
        eprintln!("SKIP: swaks --tls needs Net::SSLeay (libnet-ssleay-perl)");
        return;
    }
    let dir = scratch("swaks");
    let srv = MailServer::start(&dir.join("data"), &[]);
    let smtp = srv.smtp();
    let sub = srv.submission();
    let runs: Vec<(&str, Vec<String>)> = vec![
        ("swaks-pipeline", vec!["--pipeline".into()]),
        ("swaks-tls", vec!["--tls".into()]),
        (
            "swaks-auth",
            vec![
                "--tls".into(),
                "--auth".into(),
                "PLAIN".into(),
                "--auth-user".into(),
                "demo".into(),
                "--auth-password".into(),
                "demo".into(),
                "--port".into(),
                sub.port().to_string(),
            ],
        ),
        (
            "swaks-pipeline-tls-login",
            vec![
                "--pipeline".into(),
                "--tls".into(),
                "--auth".into(),
                "LOGIN".into(),
                "--auth-user".into(),
                "demo".into(),
                "--auth-password".into(),
                "demo".into(),
                "--port".into(),
                sub.port().to_string(),
            ],
        ),
    ];
    for (marker, extra) in runs {
        let data = sample(marker, "demo@localhost", "demo@localhost");
        let file = dir.join(format!("{marker}.eml"));
        // swaks puts CRLF . CRLF after the data: the file has no final line end.
        fs::write(&file, &data[..data.len() - 2]).unwrap();
        let mut cmd = Command::new("swaks");
        cmd.args(["--server", "127.0.0.1", "--port", &smtp.port().to_string()])
            .args([
                "--from",
                "demo@localhost",
                "--to",
                "demo@localhost",
                "--helo",
                "client.test",
            ])
            .arg("--data")
            .arg(format!("@{}", file.display()))
            .args(&extra);
        let (ok, out) = run(&mut cmd);
        assert!(ok, "swaks {marker} failed:\n{out}\n{}", srv.log());
        if marker.contains("pipeline") {
            assert!(out.contains("PIPELINING"), "{out}");
        }
        if extra.iter().any(|a| a == "--tls") {
            assert!(
                out.contains("STARTTLS") && out.contains("TLS started"),
                "{out}"
            );
        }
        assert_stored(&srv, "demo", marker, &data);
    }
    let _ = fs::remove_dir_all(dir);
}

#[test]
#[ignore = "interop: needs curl (bash .ci/install-peers)"]
fn curl_upload() {
    if !have("curl") {
        return;
    }
    let dir = scratch("curl");
    let srv = MailServer::start(&dir.join("data"), &[]);
    let marker = "curl-upload";
    let data = sample(marker, "someone@elsewhere.test", "demo@localhost");
    let file = dir.join("msg.eml");
    fs::write(&file, &data).unwrap();
    let url = format!("smtp://{}/client.test", srv.smtp());
    let (ok, out) = run(Command::new("curl")
        .args([
            "-sS",
            "--max-time",
            "20",
            &url,
            "--mail-from",
            "someone@elsewhere.test",
            "--mail-rcpt",
            "demo@localhost",
            "-T",
        ])
        .arg(&file));
    assert!(ok, "curl failed: {out}\n{}", srv.log());
    assert_stored(&srv, "demo", marker, &data);

    // And with STARTTLS required (--ssl-reqd), to the submission port with AUTH.
    let marker = "curl-starttls-auth";
    let data = sample(marker, "demo@localhost", "demo@localhost");
    fs::write(&file, &data).unwrap();
    let url = format!("smtp://{}/client.test", srv.submission());
    let (ok, out) = run(Command::new("curl")
        .args([
            "-sS",
            "--max-time",
            "20",
            "--ssl-reqd",
            "-k",
            "-u",
            "demo:demo",
            &url,
        ])
        .args([
            "--mail-from",
            "demo@localhost",
            "--mail-rcpt",
            "demo@localhost",
            "-T",
        ])
        .arg(&file));
    assert!(ok, "curl STARTTLS failed: {out}\n{}", srv.log());
    assert_stored(&srv, "demo", marker, &data);
    let _ = fs::remove_dir_all(dir);
}

#[test]
#[ignore = "interop: starts the mailserver"]
fn relay_refused_without_auth_and_auth_required_on_submission() {
    let dir = scratch("relay");
    let srv = MailServer::start(&dir.join("data"), &["--domain", "a.test"]);
    let mut c = Raw::connect(srv.smtp());
    assert_eq!(c.reply().0, 220);
    assert_eq!(c.cmd("EHLO client.test").0, 250);
    assert_eq!(c.cmd("MAIL FROM:<x@elsewhere.test>").0, 250);
    let (code, text) = c.cmd("RCPT TO:<victim@remote.test>");
    assert_eq!(code, 550, "{text}");
    assert!(
        text.contains("5.7.1") && text.contains("Relay access denied"),
        "{text}"
    );
    let (code, text) = c.cmd("RCPT TO:<nobody@a.test>");
    assert_eq!(code, 550, "{text}");
    assert!(text.contains("5.1.1"), "{text}");
    assert_eq!(c.cmd("RCPT TO:<demo@a.test>").0, 250);
    assert_eq!(c.cmd("RCPT TO:<Postmaster>").0, 250);
    assert_eq!(c.cmd("QUIT").0, 221);

    // Submission: no MAIL before AUTH.
    let mut c = Raw::connect(srv.submission());
    assert_eq!(c.reply().0, 220);
    let (code, ehlo) = c.cmd("EHLO client.test");
    assert_eq!(code, 250);
    assert!(
        ehlo.contains("AUTH PLAIN LOGIN CRAM-MD5 SCRAM-SHA-256"),
        "{ehlo}"
    );
    assert_eq!(c.cmd("MAIL FROM:<demo@a.test>").0, 530);
    // Wrong password, then the right one (AUTH PLAIN with initial response).
    assert_eq!(c.cmd("AUTH PLAIN AGRlbW8Ad3Jvbmc=").0, 535);
    assert_eq!(c.cmd("AUTH PLAIN AGRlbW8AZGVtbw==").0, 235);
    assert_eq!(c.cmd("MAIL FROM:<demo@a.test>").0, 250);
    assert_eq!(
        c.cmd("RCPT TO:<anyone@remote.test>").0,
        250,
        "relay after AUTH"
    );
    assert_eq!(c.cmd("QUIT").0, 221);
    let _ = fs::remove_dir_all(dir);
}

/// RFC 5802 / RFC 7677 SCRAM-SHA-256 through the submission port, with the
/// mailwire SASL client as the peer.
#[test]
#[ignore = "interop: starts the mailserver"]
fn scram_sha256_auth() {
    let dir = scratch("scram");
    let srv = MailServer::start(&dir.join("data"), &["--user", "alice:s3cret"]);
    for (password, want) in [("s3cret", 235), ("wrong", 535)] {
        let mut c = Raw::connect(srv.submission());
        assert_eq!(c.reply().0, 220);
        assert_eq!(c.cmd("EHLO client.test").0, 250);
        let (code, text) = c.auth_scram("alice", password);
        assert_eq!(code, want, "{password}: {text}");
    }
    let _ = fs::remove_dir_all(dir);
}

/// The project's own user agent, `examples/send.rs`, against the
/// submission port: AUTH on loopback, STARTTLS and implicit TLS, verifying
/// a certificate given with --cert/--key.
#[test]
#[ignore = "interop: builds and runs the send example"]
fn send_example_to_submission() {
    let dir = scratch("send");
    // A certificate for 127.0.0.1 and localhost, handed to both sides.
    let (srv, _) = common::peer::mailserver_with_cert(&dir);
    let cert = dir.join("cert.pem");
    assert!(srv.stdout.contains("certificate from"), "{}", srv.stdout);
    let send = example("send");
    let sub = srv.submission().to_string();
    let smtps = srv.smtps.expect("smtps").to_string();
    let cases: Vec<(&str, Vec<&str>)> = vec![
        ("send-plain-auth", vec!["--server", &sub]),
        (
            "send-starttls",
            vec![
                "--server",
                &sub,
                "--starttls",
                "--ca-file",
                cert.to_str().unwrap(),
            ],
        ),
        (
            "send-implicit-tls",
            vec![
                "--server",
                &smtps,
                "--tls",
                "--ca-file",
                cert.to_str().unwrap(),
            ],
        ),
    ];
    for (marker, args) in cases {
        let (ok, out) = run(Command::new(&send)
            .args(&args)
            .args([
                "--user",
                "demo",
                "--password",
                "demo",
                "--from",
                "demo@localhost",
                "--to",
                "demo@localhost",
            ])
            .args([
                "--subject",
                marker,
                "--body",
                "Hello from send.\n.leading dot\n",
            ]));
        assert!(ok, "send {marker}: {out}\n{}", srv.log());
        assert!(out.contains("ok     demo@localhost"), "{out}");
        let stored = find_one(&srv, "demo", marker);
        let text = unfold(&stored);
        assert!(
            text.contains("\r\n\r\nHello from send.\r\n.leading dot\r\n"),
            "{text}"
        );
    }
    // Without credentials, submission refuses the message.
    let (ok, out) = run(Command::new(&send).args([
        "--server",
        &sub,
        "--from",
        "demo@localhost",
        "--to",
        "demo@localhost",
        "--subject",
        "x",
        "--body",
        "x",
    ]));
    assert!(!ok && out.contains("FAILED demo@localhost"), "{out}");
    assert_eq!(srv.messages("demo").len(), 3);
    let _ = fs::remove_dir_all(dir);
}

/// Python's ssl module as the client: the SHA-256 of the certificate the
/// server shows on its SMTPS port, after SMTP STARTTLS (smtplib) and after
/// IMAP STARTTLS (imaplib), and of the certificate in the file given; with
/// `hold`, an IMAP session in TLS opened first, which after a line on stdin
/// still answers NOOP and shows the certificate it began with.
const PY_CERTS: &str = r#"
import hashlib, imaplib, smtplib, socket, ssl, sys
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
fp = lambda der: hashlib.sha256(der).hexdigest()
smtps, smtp, imap, cert = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
held = None
if len(sys.argv) > 5:
    held = imaplib.IMAP4("127.0.0.1", imap, timeout=20)
    held.starttls(ssl_context=ctx)
    held.login("demo", "demo")
    print("held", fp(held.sock.getpeercert(True)), flush=True)
    sys.stdin.readline()
with socket.create_connection(("127.0.0.1", smtps), timeout=20) as raw:
    with ctx.wrap_socket(raw) as t:
        print("smtps", fp(t.getpeercert(True)))
s = smtplib.SMTP("127.0.0.1", smtp, timeout=20)
s.starttls(context=ctx)
print("starttls", fp(s.sock.getpeercert(True)))
s.quit()
M = imaplib.IMAP4("127.0.0.1", imap, timeout=20)
M.starttls(ssl_context=ctx)
print("imap", fp(M.sock.getpeercert(True)))
M.logout()
print("file", fp(ssl.PEM_cert_to_DER_cert(open(cert).read())))
if held:
    typ, _ = held.noop()
    print("held-after", typ, fp(held.sock.getpeercert(True)))
    held.logout()
"#;

/// A renewed certificate without a restart: the server shows the
/// `--cert`/`--key` files' new certificate from the next handshake on, on
/// SMTPS and after SMTP and IMAP STARTTLS (Python's ssl module as the
/// client); a certificate whose key file is not yet written is not taken
/// (the old one stays, the log says why); a TLS session opened before goes
/// on with the certificate it began with.
#[test]
#[ignore = "interop: needs python3 (bash .ci/install-peers)"]
fn certificate_renewed_without_restart() {
    use std::io::{BufRead as _, BufReader, Write as _};
    use std::process::Stdio;
    if !have("python3") {
        return;
    }
    let dir = scratch("cert-renewal");
    let (srv, _) = common::peer::mailserver_with_cert(&dir);
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let ports = [
        srv.smtps.expect("smtps").port().to_string(),
        srv.smtp().port().to_string(),
        srv.imap.expect("imap").port().to_string(),
        cert.to_str().unwrap().to_string(),
    ];
    // What each line of PY_CERTS says, by its first word.
    let shown = |out: &str| -> HashMap<String, String> {
        out.lines()
            .filter_map(|l| l.split_once(' '))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let certs = || {
        let (ok, out) = run(Command::new("python3").arg("-c").arg(PY_CERTS).args(&ports));
        assert!(ok, "{out}\n{}", srv.log());
        shown(&out)
    };
    let first = certs();
    let old = first["file"].clone();
    for port in ["smtps", "starttls", "imap"] {
        assert_eq!(first[port], old, "{port}: {first:?}");
    }
    let mut held = Command::new("python3")
        .arg("-c")
        .arg(PY_CERTS)
        .args(&ports)
        .arg("hold")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut held_out = BufReader::new(held.stdout.take().unwrap());
    let mut line = String::new();
    held_out.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), format!("held {old}"));

    // The renewal's certificate first, its key not yet: not taken.
    let renewed =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    fs::write(&cert, renewed.cert.pem()).unwrap();
    let wait_log = |what: &str, n: usize| {
        let end = Instant::now() + Duration::from_secs(15);
        while srv.log().matches(what).count() < n {
            assert!(
                Instant::now() < end,
                "no {what:?} in the log:\n{}",
                srv.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    wait_log("not taken, the certificate in force stays", 1);
    let half = certs();
    assert_ne!(half["file"], old);
    for port in ["smtps", "starttls", "imap"] {
        assert_eq!(half[port], old, "{port}: {half:?}");
    }
    // Then its key: in force for the next handshakes.
    fs::write(&key, renewed.key_pair.serialize_pem()).unwrap();
    wait_log("the new certificate in force from the next handshake", 1);
    let after = certs();
    let new = after["file"].clone();
    for port in ["smtps", "starttls", "imap"] {
        assert_eq!(after[port], new, "{port}: {after:?}");
    }
    // The session opened before goes on with its certificate.
    held.stdin.as_mut().unwrap().write_all(b"go\n").unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut held_out, &mut rest).unwrap();
    assert!(held.wait().unwrap().success(), "{rest}");
    assert_eq!(shown(&rest)["held-after"], format!("OK {old}"), "{rest}");
    assert_eq!(shown(&rest)["smtps"], new, "{rest}");
    let _ = fs::remove_dir_all(dir);
}

/// The SMTP smuggling sequences (CVE-2023-51764 and relatives): a body that
/// holds a fake end of data followed by a second transaction. The server
/// must answer the end of data exactly once and never store the smuggled
/// message.
#[test]
#[ignore = "interop: starts the mailserver"]
fn smuggling_sequences() {
    let dir = scratch("smuggle");
    let srv = MailServer::start(&dir.join("data"), &[]);
    // The sequences of the workspace issue (the same list as
    // crates/smtp/tests/server.rs), each named for the log.
    let seqs: [(&str, &[u8]); 11] = [
        ("lf-dot-lf", b"\n.\n"),
        ("lf-dot-crlf", b"\n.\r\n"),
        ("cr-dot-crlf", b"\r.\r\n"),
        ("crlf-dot-lf", b"\r\n.\n"),
        ("crlf-dot-cr", b"\r\n.\r"),
        ("cr-dot-cr", b"\r.\r"),
        ("lf-dot-cr", b"\n.\r"),
        ("cr-dot-lf", b"\r.\n"),
        ("crlf-nul-dot-crlf", b"\r\n\x00.\r\n"),
        ("crlf-dot-cr-crlf", b"\r\n.\r\r\n"),
        ("cr-crlf-dot-cr-crlf", b"\r\r\n.\r\r\n"),
    ];
    for (name, seq) in seqs {
        let before = srv.messages("demo").len();
        let mut c = Raw::connect(srv.smtp());
        assert_eq!(c.reply().0, 220);
        assert_eq!(c.cmd("EHLO client.test").0, 250);
        assert_eq!(c.cmd("MAIL FROM:<a@elsewhere.test>").0, 250);
        assert_eq!(c.cmd("RCPT TO:<demo@localhost>").0, 250);
        assert_eq!(c.cmd("DATA").0, 354);
        let mut body = format!("Subject: carrier-{name}\r\n\r\nfirst").into_bytes();
        body.extend_from_slice(seq);
        body.extend_from_slice(
            format!("MAIL FROM:<evil@elsewhere.test>\r\nRCPT TO:<demo@localhost>\r\nDATA\r\nSubject: smuggled-{name}\r\n\r\nsmuggled\r\n")
                .as_bytes(),
        );
        body.extend_from_slice(b"\r\n.\r\n");
        c.send(&body);
        let (data_code, text) = c.reply();
        assert!(
            data_code == 250 || data_code == 550,
            "{name}: end of data answered {data_code} {text}"
        );
        // Nothing else may be pending: the next reply is the one to QUIT.
        let (code, text) = c.cmd("QUIT");
        assert_eq!(
            code, 221,
            "{name}: a second reply came before QUIT's: {text}"
        );
        let after = srv.messages("demo");
        // Exactly one transaction: stored once when accepted, not at all
        // when refused for its bare line ends; never a second message.
        let want = before + usize::from(data_code == 250);
        eprintln!("smuggling {name}: end of data answered {data_code}");
        assert_eq!(after.len(), want, "{name}: answered {data_code}");
        for p in &after {
            let d = fs::read(p).unwrap();
            let s = String::from_utf8_lossy(&d);
            assert!(
                !s.contains(&format!("\r\nSubject: smuggled-{name}\r\n\r\nsmuggled"))
                    || s.contains(&format!("carrier-{name}")),
                "{name}: smuggled message stored on its own"
            );
        }
    }
    // The control: a real end of data in the middle does give two messages.
    let mut c = Raw::connect(srv.smtp());
    c.reply();
    c.cmd("EHLO client.test");
    assert_eq!(
        c.mail(
            "a@elsewhere.test",
            &["demo@localhost"],
            b"Subject: control-1\r\n\r\nx\r\n"
        )
        .0,
        250
    );
    assert_eq!(
        c.mail(
            "a@elsewhere.test",
            &["demo@localhost"],
            b"Subject: control-2\r\n\r\ny\r\n"
        )
        .0,
        250
    );
    find_one(&srv, "demo", "control-1");
    find_one(&srv, "demo", "control-2");
    let _ = fs::remove_dir_all(dir);
}

/// CVE-2011-0411: a command pipelined after STARTTLS in the same packet is
/// never answered; only the 220 comes back.
#[test]
#[ignore = "interop: starts the mailserver"]
fn starttls_then_plaintext_rset() {
    let dir = scratch("starttls-rset");
    let srv = MailServer::start(&dir.join("data"), &[]);
    for addr in [srv.smtp(), srv.submission()] {
        let mut c = Raw::connect(addr);
        assert_eq!(c.reply().0, 220);
        assert_eq!(c.cmd("EHLO client.test").0, 250);
        c.send(b"STARTTLS\r\nRSET\r\n");
        let rest = c.read_to_end();
        assert!(rest.starts_with("220 "), "{rest}");
        assert_eq!(rest.lines().count(), 1, "only the 220: {rest:?}");
    }
    let _ = fs::remove_dir_all(dir);
}

/// The README's first command runs the server with its defaults; the
/// instructions it prints work as printed.
#[test]
#[ignore = "interop: starts the mailserver on its default ports"]
fn banner_instructions_work() {
    if !have("python3") || !have("curl") {
        return;
    }
    let dir = scratch("banner");
    if std::net::TcpListener::bind("127.0.0.1:2525").is_err()
        || std::net::TcpListener::bind("127.0.0.1:2587").is_err()
        || std::net::TcpListener::bind("127.0.0.1:1110").is_err()
    {
        assert!(!ci(), "ports 2525/2587/1110 are busy");
        eprintln!("SKIP: default ports busy");
        return;
    }
    // Same as `cargo run --release --example mailserver`, with the data
    // folder moved out of the work tree.
    let data = dir.join("mail-data");
    let srv = MailServer::start(
        &data,
        &[
            "--smtp",
            "127.0.0.1:2525",
            "--submission",
            "127.0.0.1:2587",
            "--pop3",
            "127.0.0.1:1110",
        ],
    );
    let out = srv.stdout.clone();
    assert!(out.contains("listening on 127.0.0.1:2525"), "{out}");
    assert!(out.contains("listening on 127.0.0.1:2587"), "{out}");
    assert!(out.contains("listening on 127.0.0.1:1110"), "{out}");
    assert!(out.contains("demo@localhost  password demo"), "{out}");
    let py = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("or: "))
        .expect("a python command in the banner");
    let (ok, o) = run(Command::new("sh").arg("-c").arg(py));
    assert!(ok, "{py}: {o}");
    let read = out
        .lines()
        .find(|l| l.trim().starts_with("ls "))
        .expect("a read command");
    let (ok, o) = run(Command::new("sh").arg("-c").arg(read.trim()));
    assert!(ok && o.contains("It works."), "{read}: {o}");
    let pop = out
        .lines()
        .find(|l| l.trim().starts_with("curl pop3://"))
        .expect("a POP3 read command");
    let (ok, o) = run(Command::new("sh").arg("-c").arg(pop.trim()));
    assert!(ok && o.contains("It works."), "{pop}: {o}");
    let _ = fs::remove_dir_all(dir);
}

/// SIGTERM while a message is in DATA: the transaction completes (250),
/// then the server exits.
#[test]
#[ignore = "interop: starts the mailserver"]
fn sigterm_finishes_open_transaction() {
    let dir = scratch("sigterm");
    let mut srv = MailServer::start(&dir.join("data"), &[]);
    let mut c = Raw::connect(srv.smtp());
    c.reply();
    c.cmd("EHLO client.test");
    assert_eq!(c.cmd("MAIL FROM:<a@elsewhere.test>").0, 250);
    assert_eq!(c.cmd("RCPT TO:<demo@localhost>").0, 250);
    assert_eq!(c.cmd("DATA").0, 354);
    c.send(b"Subject: in-flight\r\n\r\nfirst half\r\n");
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(srv.pid().to_string())
        .status();
    std::thread::sleep(Duration::from_millis(500));
    c.send(b"second half\r\n.\r\n");
    let (code, text) = c.reply();
    assert_eq!(code, 250, "{text}");
    let (code, _) = c.reply();
    assert_eq!(code, 421, "then the session ends");
    let st = srv
        .terminate(Duration::from_secs(10))
        .expect("exited by itself");
    assert!(st.success(), "{st:?}");
    let m = srv.messages("demo");
    assert_eq!(m.len(), 1);
    assert!(String::from_utf8_lossy(&fs::read(&m[0]).unwrap()).contains("second half"));
    let _ = fs::remove_dir_all(dir);
}

/// Durability: SIGKILL in the middle of a load of 600 messages; after a
/// restart every message that got a 250 is in a mailbox or the queue, once.
#[test]
#[ignore = "interop: starts the mailserver"]
fn durability_sigkill_under_load() {
    let dir = scratch("durable");
    // remote.test goes nowhere (a closed port) and retries in an hour, so its
    // messages stay in the queue.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let route = format!("remote.test={dead}");
    let mut srv = MailServer::start(
        &dir.join("data"),
        &[
            "--route",
            &route,
            "--retry",
            "1h",
            "--user",
            "demo:demo",
            "--user",
            "other:x",
        ],
    );
    let addr = srv.smtp();
    let total = 600usize;
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..8 {
        let acked = acked.clone();
        let next = next.clone();
        workers.push(std::thread::spawn(move || {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                if i >= total {
                    return;
                }
                let Some(mut c) = Raw::try_connect(addr) else {
                    return;
                };
                if c.reply().0 != 220 {
                    return;
                }
                c.cmd("EHLO load.test");
                let marker = format!("durable-{i:05}");
                let rcpt: &[&str] = match i % 5 {
                    0 => &["x@remote.test"],
                    1 => &["demo@localhost", "other@localhost"],
                    _ => &["demo@localhost"],
                };
                let body = format!("Subject: {marker}\r\n\r\n{}\r\n", "x".repeat(1000));
                let (code, _) = c.mail("load@elsewhere.test", rcpt, body.as_bytes());
                if code == 250 {
                    acked.lock().unwrap().push(marker);
                } else if code == 0 {
                    return;
                }
                let _ = c.cmd("QUIT");
            }
        }));
    }
    // Kill once about half has been acknowledged.
    let start = Instant::now();
    while acked.lock().unwrap().len() < total / 2 && start.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(5));
    }
    srv.kill9();
    for w in workers {
        let _ = w.join();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() >= total / 2,
        "only {} acknowledged before the kill",
        acked.len()
    );
    srv.restart();

    // Count every copy: Maildir files and queued messages.
    let mut seen: HashMap<String, HashMap<&str, usize>> = HashMap::new();
    let marker_of = |d: &[u8]| -> Option<String> {
        let s = String::from_utf8_lossy(d);
        let i = s.find("Subject: durable-")?;
        Some(s[i + 9..i + 9 + 13].to_string())
    };
    for user in ["demo", "other"] {
        for p in srv.messages(user) {
            if let Some(m) = marker_of(&fs::read(&p).unwrap()) {
                *seen.entry(m).or_default().entry(user).or_default() += 1;
            }
        }
    }
    let qdir = srv.data.join("queue");
    for e in fs::read_dir(&qdir).unwrap().flatten() {
        let p = e.path();
        if p.extension().is_some_and(|x| x == "msg") {
            assert!(
                p.with_extension("env").exists(),
                "every queued message has its envelope"
            );
            if let Some(m) = marker_of(&fs::read(&p).unwrap()) {
                *seen.entry(m).or_default().entry("queue").or_default() += 1;
            }
        }
    }
    for (m, places) in &seen {
        for (place, n) in places {
            assert_eq!(*n, 1, "{m} is in {place} {n} times");
        }
    }
    for m in &acked {
        let i: usize = m["durable-".len()..].parse().unwrap();
        let places = seen
            .get(m)
            .unwrap_or_else(|| panic!("{m} got a 250 but was lost"));
        match i % 5 {
            0 => assert_eq!(places.get("queue"), Some(&1), "{m} queued"),
            1 => {
                assert_eq!(places.get("demo"), Some(&1), "{m} for demo");
                assert_eq!(places.get("other"), Some(&1), "{m} for other");
            }
            _ => assert_eq!(places.get("demo"), Some(&1), "{m} for demo"),
        }
    }
    // The restarted server still works.
    let mut c = Raw::connect(srv.smtp());
    c.reply();
    c.cmd("EHLO client.test");
    assert_eq!(
        c.mail(
            "a@elsewhere.test",
            &["demo@localhost"],
            b"Subject: after-restart\r\n\r\nok\r\n"
        )
        .0,
        250
    );
    eprintln!(
        "durability: {} acknowledged, {} found",
        acked.len(),
        seen.len()
    );
    let _ = fs::remove_dir_all(dir);
}

/// Submits one message through `srv`'s submission port with AUTH PLAIN.
fn submit(
    srv: &MailServer,
    user: &str,
    password: &str,
    from: &str,
    to: &[&str],
    data: &[u8],
) -> (u16, String) {
    let mut c = Raw::connect(srv.submission());
    assert_eq!(c.reply().0, 220);
    assert_eq!(c.cmd("EHLO client.test").0, 250);
    let token = mailwire::sasl::framing::encode(format!("\0{user}\0{password}").as_bytes());
    assert_eq!(c.cmd(&format!("AUTH PLAIN {token}")).0, 235);
    let r = c.mail(from, to, data);
    c.cmd("QUIT");
    r
}

/// Two instances, a.test and b.test, relaying through --route: b.test is
/// down at first, and the message arrives on the next retry once it is up.
#[test]
#[ignore = "interop: starts two mailservers"]
fn relay_between_instances_with_retry() {
    let dir = scratch("relay-retry");
    let b_addr = free_port();
    let route = format!("b.test={b_addr}");
    let a = MailServer::start(
        &dir.join("a"),
        &[
            "--domain",
            "a.test",
            "--hostname",
            "mx.a.test",
            "--user",
            "alice:pa",
            "--route",
            &route,
            "--retry",
            "1s,1s",
        ],
    );
    let data = sample("relay-retry", "alice@a.test", "bob@b.test");
    let (code, text) = submit(&a, "alice", "pa", "alice@a.test", &["bob@b.test"], &data);
    assert_eq!(code, 250, "{text}");
    assert!(text.contains("queued as"), "{text}");
    assert!(
        wait_log(&a, "deferred=1", Duration::from_secs(20)),
        "first attempt deferred:\n{}",
        a.log()
    );
    // Now b.test comes up on the routed port.
    let b_port = b_addr.to_string();
    let b = MailServer::start(
        &dir.join("b"),
        &[
            "--domain",
            "b.test",
            "--hostname",
            "mx.b.test",
            "--user",
            "bob:pb",
            "--smtp",
            &b_port,
        ],
    );
    let got = b.wait_messages("bob", 1, Duration::from_secs(30));
    assert_eq!(
        got.len(),
        1,
        "delivered on retry\nA:\n{}\nB:\n{}",
        a.log(),
        b.log()
    );
    let stored = fs::read(&got[0]).unwrap();
    let text = String::from_utf8_lossy(&stored);
    assert!(
        text.starts_with("Return-Path: <alice@a.test>\r\n"),
        "{text}"
    );
    assert_eq!(
        text.matches("Received: ").count(),
        2,
        "one Received per hop: {text}"
    );
    assert!(
        text.contains("by mx.a.test (mailwire) with ESMTPA"),
        "{text}"
    );
    assert!(text.contains("from mx.a.test"), "{text}");
    assert!(
        text.contains("by mx.b.test (mailwire) with ESMTPS"),
        "opportunistic STARTTLS between the two: {text}"
    );
    assert_eq!(
        String::from_utf8_lossy(strip_trace(&stored)),
        String::from_utf8_lossy(&data)
    );
    assert!(
        wait_log(&a, "delivered=1 deferred=0", Duration::from_secs(5)),
        "{}",
        a.log()
    );
    // The queue is empty again.
    let end = Instant::now() + Duration::from_secs(10);
    let left = loop {
        let left: Vec<_> = fs::read_dir(dir.join("a/queue"))
            .unwrap()
            .flatten()
            .filter(|e| e.path().is_file())
            .collect();
        if left.is_empty() || Instant::now() > end {
            break left;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(left.is_empty(), "{left:?}");
    let _ = fs::remove_dir_all(dir);
}

/// A destination that answers 550: the sender gets an RFC 3464 report.
#[test]
#[ignore = "interop: starts two mailservers"]
fn bounce_on_permanent_failure() {
    let dir = scratch("bounce");
    let b = MailServer::start(
        &dir.join("b"),
        &[
            "--domain",
            "b.test",
            "--hostname",
            "mx.b.test",
            "--user",
            "bob:pb",
        ],
    );
    let route = format!("b.test={}", b.smtp());
    let a = MailServer::start(
        &dir.join("a"),
        &[
            "--domain",
            "a.test",
            "--hostname",
            "mx.a.test",
            "--user",
            "alice:pa",
            "--route",
            &route,
            "--retry",
            "1s,1s",
        ],
    );
    let data = sample("bounce-me", "alice@a.test", "nobody@b.test");
    let (code, text) = submit(
        &a,
        "alice",
        "pa",
        "alice@a.test",
        &["nobody@b.test", "bob@b.test"],
        &data,
    );
    assert_eq!(code, 250, "{text}");
    let bounces = a.wait_messages("alice", 1, Duration::from_secs(30));
    assert_eq!(bounces.len(), 1, "one bounce\n{}", a.log());
    let dsn = fs::read(&bounces[0]).unwrap();
    let s = String::from_utf8_lossy(&dsn);
    assert!(s.starts_with("Return-Path: <>\r\n"), "{s}");
    // bob got his copy; only nobody bounced.
    assert_eq!(b.wait_messages("bob", 1, Duration::from_secs(10)).len(), 1);
    // Parse it with mailwire-mime: one failed recipient, status 5.1.1.
    let msg = mailwire::mime::Message::parse(strip_trace(&dsn));
    assert_eq!(msg.root().mime.mime_type(), "multipart/report");
    assert_eq!(
        msg.root().mime.content_type.param("report-type"),
        Some("delivery-status")
    );
    let leaves: Vec<_> = msg.leaves().collect();
    assert_eq!(leaves.len(), 3, "{s}");
    assert_eq!(leaves[1].mime.mime_type(), "message/delivery-status");
    let ds = mailwire::mime::report::DeliveryStatus::parse(&msg.decoded(leaves[1]));
    assert_eq!(ds.recipients.len(), 1, "{s}");
    assert_eq!(ds.recipients[0].action.as_deref(), Some("failed"));
    assert_eq!(ds.recipients[0].status.as_deref(), Some("5.1.1"));
    assert!(s.contains("Final-Recipient: rfc822; nobody@b.test"), "{s}");
    assert!(
        s.contains("Subject: bounce-me"),
        "the original header is returned: {s}"
    );
    // A second opinion from Python's email package, where it is installed.
    if have("python3") {
        let f = dir.join("dsn.eml");
        fs::write(&f, strip_trace(&dsn)).unwrap();
        let (ok, out) = run(Command::new("python3").arg("-c").arg(
            "import email,sys; m=email.message_from_binary_file(open(sys.argv[1],'rb')); \
             print(m.get_content_type(), m.get_param('report-type'), [p.get_content_type() for p in m.get_payload()])",
        ).arg(&f));
        assert!(ok, "{out}");
        assert!(out.contains("multipart/report delivery-status ['text/plain', 'message/delivery-status', 'text/rfc822-headers']"), "{out}");
    }
    let _ = fs::remove_dir_all(dir);
}

/// A destination that stays down past --expire: the sender gets a report
/// with status 4.4.7 and the queue is empty.
#[test]
#[ignore = "interop: starts the mailserver"]
fn expiry_bounces() {
    let dir = scratch("expire");
    let dead = free_port();
    let route = format!("down.test={dead}");
    let a = MailServer::start(
        &dir.join("a"),
        &[
            "--domain", "a.test", "--user", "alice:pa", "--route", &route, "--retry", "1s",
            "--expire", "3s",
        ],
    );
    let data = sample("expire-me", "alice@a.test", "x@down.test");
    assert_eq!(
        submit(&a, "alice", "pa", "alice@a.test", &["x@down.test"], &data).0,
        250
    );
    let s = a.wait_one("alice", Duration::from_secs(30), "the bounce");
    assert!(
        s.contains("Final-Recipient: rfc822; x@down.test\r\nAction: failed\r\nStatus: 4.4.7\r\n"),
        "{s}"
    );
    assert!(s.contains("delivery time expired"), "{s}");
    assert!(
        a.log().contains("attempt=2"),
        "it was retried first: {}",
        a.log()
    );
    assert!(wait_log(&a, "bounced=1", Duration::from_secs(5)));
    // The entry goes right after its bounce is stored (bounce first, so a
    // crash in between repeats the bounce rather than losing it): wait.
    let queued = || -> Vec<_> {
        fs::read_dir(dir.join("a/queue"))
            .unwrap()
            .flatten()
            .filter(|e| e.path().is_file())
            .collect()
    };
    let end = Instant::now() + Duration::from_secs(5);
    while !queued().is_empty() && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(20));
    }
    let left = queued();
    assert!(left.is_empty(), "{left:?}");
    let _ = fs::remove_dir_all(dir);
}

/// MX resolution through hickory-resolver (pointed at a local DNS server
/// with --dns): hosts in preference order (the first is down), the implicit
/// MX of a domain with only an A record, and NXDOMAIN as a permanent
/// failure.
#[test]
#[ignore = "interop: starts two mailservers and a DNS responder"]
fn mx_resolution_with_fallbacks() {
    let dir = scratch("mx");
    let b = MailServer::start(
        &dir.join("b"),
        &[
            "--domain",
            "mx.test",
            "--domain",
            "amx.test",
            "--hostname",
            "mx.b.test",
            "--user",
            "bob:pb",
        ],
    );
    let dns = TinyDns::mx_test();
    let a = dns.sender(&dir.join("a"), &b, &[]);
    let data = sample("via-mx", "alice@a.test", "bob@mx.test");
    assert_eq!(
        submit(&a, "alice", "pa", "alice@a.test", &["bob@mx.test"], &data).0,
        250
    );
    let data2 = sample("via-implicit-mx", "alice@a.test", "bob@amx.test");
    assert_eq!(
        submit(&a, "alice", "pa", "alice@a.test", &["bob@amx.test"], &data2).0,
        250
    );
    let data3 = sample("to-nxdomain", "alice@a.test", "x@nx.test");
    assert_eq!(
        submit(&a, "alice", "pa", "alice@a.test", &["x@nx.test"], &data3).0,
        250
    );
    let got = b.wait_messages("bob", 2, Duration::from_secs(30));
    assert_eq!(got.len(), 2, "A:\n{}\nB:\n{}", a.log(), b.log());
    assert_stored(&b, "bob", "via-mx", &data);
    assert_stored(&b, "bob", "via-implicit-mx", &data2);
    let s = a.wait_one("alice", Duration::from_secs(30), "the bounce");
    assert!(
        s.contains("Final-Recipient: rfc822; x@nx.test\r\nAction: failed\r\nStatus: 5.1.2"),
        "{s}"
    );
    let q = dns.queries.lock().unwrap().clone();
    assert!(q.contains(&("mx.test".to_string(), 15)), "{q:?}");
    assert!(q.contains(&("primary.mx.test".to_string(), 1)), "{q:?}");
    assert!(
        q.contains(&("amx.test".to_string(), 15)) && q.contains(&("amx.test".to_string(), 1)),
        "{q:?}"
    );
    let log = a.log();
    assert!(log.contains("delivered=1"), "{log}");
    let _ = fs::remove_dir_all(dir);
}

/// Relaying 8-bit content to a server without 8BITMIME (smtp-sink -8):
/// the copy that arrives is 7 bit and decodes to the same text.
#[test]
#[ignore = "interop: needs smtp-sink (postfix)"]
fn eight_bit_downgrade_to_smtp_sink() {
    if !have("smtp-sink") {
        return;
    }
    let dir = scratch("downgrade");
    let dump = dir.join("dump");
    fs::create_dir_all(&dump).unwrap();
    let dump_arg = format!("{}/%M.", dump.display());
    let (mut sink, sink_addr) = start_smtp_sink(&["-u", "nobody", "-8", "-d", &dump_arg]);
    // smtp-sink runs as nobody: the dump folder must be writable.
    let _ = Command::new("chmod").arg("777").arg(&dump).status();
    let route = format!("c.test={sink_addr}");
    let a = MailServer::start(
        &dir.join("a"),
        &[
            "--domain", "a.test", "--user", "alice:pa", "--route", &route, "--retry", "1s",
        ],
    );
    let data = sample("downgrade-me", "alice@a.test", "carol@c.test");
    assert_eq!(
        submit(&a, "alice", "pa", "alice@a.test", &["carol@c.test"], &data).0,
        250
    );
    assert!(
        wait_log(&a, "delivered=1", Duration::from_secs(20)),
        "{}",
        a.log()
    );
    sink.stop();
    let files: Vec<_> = fs::read_dir(&dump)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let got = fs::read(&files[0]).unwrap();
    let i = got
        .windows(20)
        .position(|w| w == b"Subject: downgrade-m")
        .expect("message in the dump");
    let body = &got[i..];
    assert!(
        !body.iter().any(|&b| b >= 0x80),
        "7 bit on the wire: {}",
        String::from_utf8_lossy(body)
    );
    let text = String::from_utf8_lossy(body);
    assert!(
        text.contains("Content-Transfer-Encoding: quoted-printable"),
        "{text}"
    );
    assert!(text.contains("Gr=C3=BC=C3=9Fe aus K=C3=B6ln"), "{text}");
    let _ = fs::remove_dir_all(dir);
}

#[allow(dead_code)]
fn unique<T: std::hash::Hash + Eq + Clone>(v: &[T]) -> bool {
    v.iter().cloned().collect::<HashSet<_>>().len() == v.len()
}

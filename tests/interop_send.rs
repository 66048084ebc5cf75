//! Interop: the `send` example against real SMTP servers on 127.0.0.1:
//! aiosmtpd 1.4.6 (plain, and with AUTH PLAIN/LOGIN, and refusing one
//! recipient) and Postfix's smtp-sink. Opt-in: `cargo test --release -p
//! mailwire --tests -- --ignored --test-threads=1` after `.ci/install-peers`.
//! Without a peer the test skips, or fails when CI=true.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers, outside #[test] fns

mod common;

use std::io::Read;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::dovecot::free_port;

fn aiosmtpd(with_auth: bool) -> Option<(common::peer::Peer, u16)> {
    common::peer::aiosmtpd(with_auth, None)
}

fn send(args: &[&str]) -> Output {
    let exe = common::example("send");
    let mut child = Command::new(exe)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run send");
    let start = Instant::now();
    loop {
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("send did not finish in 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut out = Vec::new();
    let mut err = Vec::new();
    if let Some(mut s) = child.stdout.take() {
        let _ = s.read_to_end(&mut out);
    }
    if let Some(mut s) = child.stderr.take() {
        let _ = s.read_to_end(&mut err);
    }
    let status = child.wait().expect("status");
    Output {
        status,
        stdout: out,
        stderr: err,
    }
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
#[ignore = "interop: needs aiosmtpd (bash .ci/install-peers)"]
fn send_to_aiosmtpd_plain_with_bcc_removed() {
    let Some((peer, port)) = aiosmtpd(false) else {
        return;
    };
    let server = format!("127.0.0.1:{port}");
    let o = send(&[
        "--server",
        &server,
        "--helo",
        "client.test",
        "--from",
        "alice@example.org",
        "--to",
        "bob@example.net",
        "--cc",
        "carol@example.net",
        "--bcc",
        "dave@example.net",
        "--subject",
        "interop plain",
        "--body",
        "Hello from mailwire.\n.a line with a leading dot\n",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    for r in ["bob@example.net", "carol@example.net", "dave@example.net"] {
        assert!(stdout.contains(&format!("ok     {r}")), "{}", text(&o));
    }
    let got = peer.wait_for("MESSAGE-END");
    assert!(got.contains("MESSAGE-FROM alice@example.org"), "{got}");
    assert!(
        got.contains("MESSAGE-TO bob@example.net carol@example.net dave@example.net"),
        "{got}"
    );
    assert!(got.contains("Subject: interop plain"), "{got}");
    assert!(got.contains("\n.a line with a leading dot"), "{got}");
    assert!(
        !got.to_ascii_lowercase().contains("bcc:"),
        "Bcc must not be sent: {got}"
    );
}

#[test]
#[ignore = "interop: needs aiosmtpd (bash .ci/install-peers)"]
fn send_to_aiosmtpd_with_auth() {
    let Some((peer, port)) = aiosmtpd(true) else {
        return;
    };
    let server = format!("127.0.0.1:{port}");
    let base = [
        "--server",
        server.as_str(),
        "--from",
        "alice@example.org",
        "--to",
        "bob@example.net",
        "--subject",
        "interop auth",
        "--body",
        "authenticated\n",
    ];
    let mut args: Vec<&str> = base.to_vec();
    args.extend(["--user", "user", "--password", "secret"]);
    let o = send(&args);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("authenticated with"),
        "{}",
        text(&o)
    );
    let got = peer.wait_for("MESSAGE-END");
    assert!(got.contains("AUTH True"), "{got}");
    // A wrong password fails the session (exit 2), and nothing is delivered.
    let mut args: Vec<&str> = base.to_vec();
    args.extend(["--user", "user", "--password", "wrong"]);
    let o = send(&args);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("authentication failed"),
        "{}",
        text(&o)
    );
    // Without credentials the server refuses MAIL (530): every recipient fails.
    let o = send(&base);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
}

#[test]
#[ignore = "interop: needs aiosmtpd (bash .ci/install-peers)"]
fn send_per_recipient_results_when_one_fails() {
    let Some((peer, port)) = aiosmtpd(false) else {
        return;
    };
    let server = format!("127.0.0.1:{port}");
    let o = send(&[
        "--server",
        &server,
        "--from",
        "alice@example.org",
        "--to",
        "bob@example.net",
        "--to",
        "bad.user@example.net",
        "--to",
        "carol@example.net",
        "--subject",
        "partial",
        "--body",
        "to some\n",
    ]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "one recipient failed: {}",
        text(&o)
    );
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("ok     bob@example.net"), "{}", text(&o));
    assert!(stdout.contains("ok     carol@example.net"), "{}", text(&o));
    assert!(
        stdout.contains("FAILED bad.user@example.net: 550"),
        "{}",
        text(&o)
    );
    let got = peer.wait_for("MESSAGE-END");
    assert!(
        got.contains("MESSAGE-TO bob@example.net carol@example.net"),
        "{got}"
    );
}

#[test]
#[ignore = "interop: needs postfix's smtp-sink (bash .ci/install-peers)"]
fn send_to_postfix_smtp_sink() {
    let port = free_port();
    let Some(_peer) = common::peer::smtp_sink(port) else {
        return;
    };
    let dir = common::scratch("send-sink");
    let eml = dir.join("msg.eml");
    std::fs::write(
        &eml,
        "From: Alice <alice@example.org>\r\nTo: bob@example.net\r\nBcc: hidden@example.net\r\nSubject: sink\r\n\r\nCafé au lait.\r\n",
    )
    .expect("write eml");
    let server = format!("127.0.0.1:{port}");
    let o = send(&["--server", &server, eml.to_str().expect("utf-8 path")]);
    assert!(o.status.success(), "{}", text(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("ok     bob@example.net"), "{}", text(&o));
    assert!(stdout.contains("ok     hidden@example.net"), "{}", text(&o));
}

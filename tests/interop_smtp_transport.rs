//! Interop: the blocking SMTP transport (`mailwire::blocking::SmtpTransport`)
//! against aiosmtpd 1.4.6 (STARTTLS with a test CA and verification on,
//! AUTH, a wrong certificate refused, per-recipient results, connection
//! reuse, a streamed message) and against the mailserver example
//! (submission with STARTTLS and AUTH, implicit TLS). Opt-in: `cargo test
//! --release -p mailwire --tests -- --ignored --test-threads=1` after
//! `.ci/install-peers`. Without a peer the test skips, or fails when CI=true.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers, outside #[test] fns

mod common;

use std::io::Read;
use std::path::Path;

use common::peer::{Peer, test_ca};
use common::*;
use mailwire::blocking::smtp::SmtpError;
use mailwire::blocking::{Security, SmtpOptions, SmtpTransport, TransportError, Verification};
use mailwire::mime::builder::{MessageBuilder, PartBuilder};
use mailwire::smtp::ConnectionError;

/// aiosmtpd with AUTH, and STARTTLS when `tls_dir` holds cert.pem and
/// key.pem.
fn aiosmtpd(tls_dir: Option<&Path>) -> Option<(Peer, u16)> {
    let files = tls_dir.map(|d| (d.join("cert.pem"), d.join("key.pem")));
    common::peer::aiosmtpd(
        true,
        files.as_ref().map(|(c, k)| (c.as_path(), k.as_path())),
    )
}

fn starttls_options(ca_pem: &[u8]) -> SmtpOptions {
    let mut o = SmtpOptions::new().login("user", "secret");
    o.transport.security = Security::StartTls;
    o.transport.verification = Verification::ca_pem(ca_pem).unwrap();
    o.transport.server_name = Some("localhost".into());
    o
}

fn message(subject: &str, to: &str, extra: &[(&str, &str)]) -> Vec<u8> {
    let mut b = MessageBuilder::new()
        .header("From", "Alice <alice@example.org>")
        .unwrap()
        .header("To", to)
        .unwrap()
        .header("Subject", subject)
        .unwrap();
    for (k, v) in extra {
        b = b.header(k, v).unwrap();
    }
    b.text("Hello.\r\n.leading dot\r\n").build()
}

#[test]
#[ignore = "interop: needs aiosmtpd (bash .ci/install-peers)"]
fn starttls_auth_attachment_bcc_removed_and_reuse() {
    let dir = scratch("smtp-transport");
    let ca = test_ca(&dir);
    let Some((peer, port)) = aiosmtpd(Some(&dir)) else {
        return;
    };
    let addr = format!("127.0.0.1:{port}");
    let mut smtp = SmtpTransport::connect(&addr, starttls_options(&ca)).unwrap();
    assert!(smtp.is_tls());
    assert!(smtp.authenticated().is_some());
    let msg = MessageBuilder::new()
        .header("From", "Alice <alice@example.org>")
        .unwrap()
        .header("To", "bob@example.net")
        .unwrap()
        .header("Cc", "carol@example.net")
        .unwrap()
        .header("Bcc", "hidden@example.net")
        .unwrap()
        .header("Subject", "transport-attachment")
        .unwrap()
        .text("See attached.\r\n")
        .attachment(PartBuilder::attachment(
            "application/octet-stream",
            "data.bin",
            (0..=255u8).collect(),
        ))
        .build();
    let o = smtp.send(&msg).unwrap();
    assert!(o.all_delivered(), "{o:?}");
    assert_eq!(o.recipients.len(), 3);
    // Two more on the same connection.
    for i in 0..2 {
        let o = smtp
            .send(&message(&format!("reuse-{i}"), "dave@example.net", &[]))
            .unwrap();
        assert!(o.all_delivered());
    }
    smtp.quit().unwrap();
    let out = peer.wait_count("MESSAGE-END", 3);
    assert!(
        out.contains("MESSAGE-TO bob@example.net carol@example.net hidden@example.net"),
        "{out}"
    );
    assert!(
        out.contains("AUTH True") && !out.contains("AUTH False"),
        "{out}"
    );
    assert!(!out.contains("TLS False"), "{out}");
    assert!(
        out.contains("filename=\"data.bin\"") || out.contains("filename=data.bin"),
        "{out}"
    );
    assert!(
        !out.contains("Bcc:") && !out.contains("hidden@example.net\r\n"),
        "{out}"
    );
    assert!(!out.contains("\nBcc"), "Bcc removed: {out}");
    let peers: std::collections::HashSet<&str> =
        out.lines().filter(|l| l.starts_with("PEER ")).collect();
    assert_eq!(peers.len(), 1, "one connection for three messages: {out}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
#[ignore = "interop: needs aiosmtpd (bash .ci/install-peers)"]
fn a_certificate_from_another_ca_is_refused() {
    let dir = scratch("smtp-transport-badca");
    let _ca = test_ca(&dir);
    let other = scratch("smtp-transport-otherca");
    let other_ca = test_ca(&other);
    let Some((_peer, port)) = aiosmtpd(Some(&dir)) else {
        return;
    };
    let addr = format!("127.0.0.1:{port}");
    let err = SmtpTransport::connect(&addr, starttls_options(&other_ca)).unwrap_err();
    assert!(
        matches!(
            err,
            SmtpError::Transport(TransportError::Tls(rustls::Error::InvalidCertificate(_)))
        ),
        "{err:?}"
    );
    // The webpki roots (the default) do not know the test CA either.
    let mut o = starttls_options(&other_ca);
    o.transport.verification = Verification::WebPki;
    let err = SmtpTransport::connect(&addr, o).unwrap_err();
    assert!(
        matches!(
            err,
            SmtpError::Transport(TransportError::Tls(rustls::Error::InvalidCertificate(_)))
        ),
        "{err:?}"
    );
    let _ = std::fs::remove_dir_all(dir);
    let _ = std::fs::remove_dir_all(other);
}

#[test]
#[ignore = "interop: needs aiosmtpd (bash .ci/install-peers)"]
fn starttls_required_opportunistic_and_auth_refused() {
    let Some((peer, port)) = aiosmtpd(None) else {
        return;
    };
    let addr = format!("127.0.0.1:{port}");
    // No STARTTLS offered: required fails, opportunistic goes on.
    let mut o = SmtpOptions::new().login("user", "secret");
    o.transport.security = Security::StartTls;
    let err = SmtpTransport::connect(&addr, o.clone()).unwrap_err();
    assert!(
        matches!(err, SmtpError::Closed(ConnectionError::TlsUnavailable)),
        "{err:?}"
    );
    o.opportunistic_tls = true;
    // Without TLS the password may only go in the clear when allowed.
    let err = SmtpTransport::connect(&addr, o.clone()).unwrap_err();
    assert!(
        matches!(err, SmtpError::Closed(ConnectionError::AuthFailed(_))),
        "{err:?}"
    );
    o.machine.allow_plaintext_auth = true;
    let mut smtp = SmtpTransport::connect(&addr, o.clone()).unwrap();
    assert!(!smtp.is_tls());
    // Per-recipient results: one refused, the others delivered.
    let msg = message(
        "partial",
        "bob@example.net, bad-one@example.net",
        &[("Cc", "carol@example.net")],
    );
    let out = smtp.send(&msg).unwrap();
    let got: Vec<(String, bool)> = out
        .recipients
        .iter()
        .map(|r| (r.to.to_string(), r.delivered))
        .collect();
    assert_eq!(
        got,
        vec![
            ("bob@example.net".to_owned(), true),
            ("bad-one@example.net".to_owned(), false),
            ("carol@example.net".to_owned(), true),
        ]
    );
    let refused = out.recipients[1].reply.as_ref().unwrap();
    assert_eq!(refused.code().get(), 550);
    // Every recipient refused: an error that keeps the server's reply.
    let err = smtp
        .send(&message("none", "bad@example.net", &[]))
        .unwrap_err();
    match &err {
        SmtpError::Refused(o) => assert!(!o.is_delivered()),
        e => panic!("{e:?}"),
    }
    assert!(err.to_string().contains("550 5.1.1"), "{err}");
    // NOOP on the idle connection, then one more message on it.
    assert_eq!(smtp.noop().unwrap().code().get(), 250);
    assert!(
        smtp.send(&message("after", "bob@example.net", &[]))
            .unwrap()
            .all_delivered()
    );
    smtp.quit().unwrap();
    // Wrong password: the session ends with the server's reply.
    let mut bad = SmtpOptions::new().login("user", "wrong");
    bad.transport.security = Security::Plain;
    bad.machine.allow_plaintext_auth = true;
    let err = SmtpTransport::connect(&addr, bad).unwrap_err();
    match err {
        SmtpError::Closed(ConnectionError::AuthFailed(text)) => {
            assert!(text.starts_with("535"), "{text}")
        }
        e => panic!("{e:?}"),
    }
    peer.wait_count("MESSAGE-END", 2);
}

/// A reader that produces `n` octets of message without holding them.
struct Generated {
    header: Vec<u8>,
    pos: u64,
    n: u64,
}

impl Read for Generated {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let h = self.header.len() as u64;
        if self.pos >= self.n {
            return Ok(0);
        }
        let mut k = 0;
        while k < buf.len() && self.pos < self.n {
            buf[k] = if self.pos < h {
                self.header[self.pos as usize]
            } else {
                // 64-octet lines, some starting with a dot.
                let i = (self.pos - h) % 64;
                match i {
                    62 => b'\r',
                    63 => b'\n',
                    0 if (self.pos - h).is_multiple_of(4096) => b'.',
                    _ => b'a' + (i % 26) as u8,
                }
            };
            k += 1;
            self.pos += 1;
        }
        Ok(k)
    }
}

/// A message of `header` and `body` generated octets; its total size.
fn generated(header: String, body: u64) -> (Generated, u64) {
    let header = header.into_bytes();
    let n = header.len() as u64 + body;
    (Generated { header, pos: 0, n }, n)
}

#[test]
#[ignore = "interop: needs aiosmtpd (bash .ci/install-peers)"]
fn streamed_message_from_a_reader() {
    let dir = scratch("smtp-transport-stream");
    let ca = test_ca(&dir);
    let Some((peer, port)) = aiosmtpd(Some(&dir)) else {
        return;
    };
    let mut smtp =
        SmtpTransport::connect(&format!("127.0.0.1:{port}"), starttls_options(&ca)).unwrap();
    let body = 8 << 20;
    let (mut r, n) = generated(
        "From: alice@example.org\r\nTo: bob@example.net\r\nBcc: hidden@example.net\r\nSubject: streamed\r\n\r\n".into(),
        body,
    );
    let o = smtp.send_reader(&mut r, Some(n)).unwrap();
    assert!(o.all_delivered());
    smtp.quit().unwrap();
    let out = peer.wait_count("MESSAGE-END", 1);
    assert!(
        out.contains("MESSAGE-TO bob@example.net hidden@example.net"),
        "{out}"
    );
    // The header without Bcc, and every body octet (dot-stuffing undone).
    let header = "From: alice@example.org\r\nTo: bob@example.net\r\nSubject: streamed\r\n\r\n";
    assert!(
        out.contains(&format!("SIZE {}", header.len() as u64 + body)),
        "{out}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
#[ignore = "interop: starts the mailserver"]
fn mailserver_submission_starttls_and_implicit_tls() {
    let dir = scratch("smtp-transport-ms");
    let (srv, ca) = common::peer::mailserver_with_cert(&dir);
    let sub = srv.submission().to_string();
    let smtps = srv.smtps.expect("smtps").to_string();
    for (marker, addr, security) in [
        ("transport-starttls", &sub, Security::StartTls),
        ("transport-implicit", &smtps, Security::Implicit),
    ] {
        let mut o = SmtpOptions::new().login("demo", "demo");
        o.transport.security = security;
        o.transport.verification = Verification::ca_pem(&ca).unwrap();
        o.transport.server_name = Some("localhost".into());
        let mut smtp = SmtpTransport::connect(addr, o).unwrap();
        assert!(smtp.is_tls() && smtp.authenticated().is_some());
        let msg = message(
            marker,
            "demo@localhost",
            &[
                ("Bcc", "demo@localhost"),
                ("Message-ID", &format!("<{marker}@test>")),
            ],
        );
        let out = smtp.send(&msg).unwrap();
        assert!(out.all_delivered(), "{out:?}");
        // A streamed one on the same connection.
        let streamed = format!("big-{security:?}");
        let (mut r, n) = generated(
            format!("From: demo@localhost\r\nTo: demo@localhost\r\nSubject: {streamed}\r\n\r\n"),
            1 << 20,
        );
        assert!(smtp.send_reader(&mut r, Some(n)).unwrap().all_delivered());
        smtp.quit().unwrap();
        let stored = find_one(&srv, "demo", marker);
        let text = String::from_utf8_lossy(strip_trace(&stored)).into_owned();
        assert!(!text.contains("Bcc:"), "{text}");
        assert!(text.contains(".leading dot"), "{text}");
        let big = find_one(&srv, "demo", &streamed);
        assert_eq!(
            strip_trace(&big).len() as u64,
            n,
            "streamed message stored whole"
        );
    }
    let _ = std::fs::remove_dir_all(dir);
}

//! Interop: the tokio SMTP transport (`mailwire::tokio::SmtpTransport`)
//! against aiosmtpd 1.4.6 (STARTTLS with a test CA and verification on,
//! AUTH, attachment, Bcc removed, connection reuse; a certificate from
//! another CA refused) and the mailserver example (implicit TLS, a message
//! streamed from an `AsyncRead`). Opt-in: `cargo test --release -p
//! mailwire --tests -- --ignored --test-threads=1` after `.ci/install-peers`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers

mod common;

use common::peer::{aiosmtpd, test_ca};
use common::*;
use mailwire::blocking::smtp::SmtpError;
use mailwire::blocking::{Security, SmtpOptions, TransportError, Verification};
use mailwire::mime::builder::{MessageBuilder, PartBuilder};
use mailwire::tokio::SmtpTransport;

fn starttls(ca: &[u8]) -> SmtpOptions {
    let mut o = SmtpOptions::new()
        .security(Security::StartTls)
        .login("user", "secret");
    o.transport.verification = Verification::ca_pem(ca).unwrap();
    o.transport.server_name = Some("localhost".into());
    o
}

#[test]
#[ignore = "interop: needs aiosmtpd (bash .ci/install-peers)"]
fn tokio_starttls_auth_attachment_and_reuse() {
    let dir = scratch("smtp-tokio");
    let ca = test_ca(&dir);
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let Some((peer, port)) = aiosmtpd(true, Some((&cert, &key))) else {
        return;
    };
    let addr = format!("127.0.0.1:{port}");
    block_on(async {
        let mut smtp = SmtpTransport::connect(&addr, starttls(&ca)).await.unwrap();
        assert!(smtp.is_tls() && smtp.authenticated().is_some());
        for i in 0..2 {
            let msg = MessageBuilder::new()
                .header("From", "alice@example.org")
                .unwrap()
                .header("To", "bob@example.net")
                .unwrap()
                .header("Bcc", "hidden@example.net")
                .unwrap()
                .header("Subject", &format!("tokio-{i}"))
                .unwrap()
                .text("See attached.\r\n")
                .attachment(PartBuilder::attachment(
                    "application/octet-stream",
                    "data.bin",
                    vec![7; 1000],
                ))
                .build();
            let o = smtp.send(&msg).await.unwrap();
            assert!(o.all_delivered() && o.recipients.len() == 2, "{o:?}");
        }
        assert_eq!(smtp.noop().await.unwrap().code().get(), 250);
        smtp.quit().await.unwrap();
    });
    let out = peer.wait_count("MESSAGE-END", 2);
    assert!(
        out.contains("MESSAGE-TO bob@example.net hidden@example.net"),
        "{out}"
    );
    assert!(
        out.contains("AUTH True") && out.contains("TLS True"),
        "{out}"
    );
    assert!(out.contains("data.bin") && !out.contains("Bcc:"), "{out}");
    let peers: std::collections::HashSet<&str> =
        out.lines().filter(|l| l.starts_with("PEER ")).collect();
    assert_eq!(peers.len(), 1, "one connection for two messages: {out}");

    // A certificate from another CA is refused.
    let other = scratch("smtp-tokio-other");
    let other_ca = test_ca(&other);
    let err = block_on(SmtpTransport::connect(&addr, starttls(&other_ca))).unwrap_err();
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
#[ignore = "interop: starts the mailserver"]
fn tokio_implicit_tls_to_the_mailserver_with_a_streamed_message() {
    let dir = scratch("smtp-tokio-ms");
    let (srv, ca) = common::peer::mailserver_with_cert(&dir);
    let mut o = SmtpOptions::new()
        .security(Security::Implicit)
        .login("demo", "demo");
    o.transport.verification = Verification::ca_pem(&ca).unwrap();
    o.transport.server_name = Some("localhost".into());
    let mut message =
        b"From: demo@localhost\r\nTo: demo@localhost\r\nBcc: demo@localhost\r\nSubject: tokio-streamed\r\n\r\n"
            .to_vec();
    for i in 0..20_000 {
        message.extend_from_slice(
            format!("line {i:05}, and some more text to fill it\r\n").as_bytes(),
        );
    }
    let smtps = srv.smtps.expect("smtps").to_string();
    block_on(async {
        let mut smtp = SmtpTransport::connect(&smtps, o).await.unwrap();
        assert!(smtp.is_tls());
        let mut reader = &message[..];
        let n = message.len() as u64;
        let out = smtp.send_reader(&mut reader, Some(n)).await.unwrap();
        assert!(out.all_delivered(), "{out:?}");
        smtp.quit().await.unwrap();
    });
    let stored = find_one(&srv, "demo", "tokio-streamed");
    let body = strip_trace(&stored);
    let sent = String::from_utf8(message)
        .unwrap()
        .replace("Bcc: demo@localhost\r\n", "");
    assert_eq!(String::from_utf8_lossy(body), sent);
    let _ = std::fs::remove_dir_all(dir);
}

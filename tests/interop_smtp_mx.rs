//! Interop: the SMTP transports' `connect_domain` (feature `mx`) through
//! hickory-resolver pointed at a tiny local DNS responder, delivering to
//! the mailserver example: MX hosts in preference order (the first one
//! down), the implicit MX of a domain with only an address (RFC 5321
//! §5.1), and NXDOMAIN as a typed error. Opt-in: `cargo test -p mailwire
//! --test interop_smtp_mx -- --ignored`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers

mod common;

use std::time::Duration;

use common::dns::TinyDns;
use common::{MailServer, block_on, scratch};
use mailwire::blocking::mx::{MxError, MxResolver};
use mailwire::blocking::{Security, SmtpError, SmtpOptions};

fn message(tag: &str) -> Vec<u8> {
    format!("From: a@example.org\r\nTo: demo@localhost\r\nSubject: {tag}\r\n\r\nHi.\r\n")
        .into_bytes()
}

#[test]
#[ignore = "interop: starts the mailserver and a DNS responder"]
fn connect_domain_by_mx_and_implicit_mx() {
    let dir = scratch("smtp-mx");
    let srv = MailServer::start(&dir.join("data"), &[]);
    let dns = TinyDns::mx_test();
    let resolver = MxResolver::with_nameserver(dns.addr);
    let port = srv.smtp().port();
    let mut o = SmtpOptions::new();
    o.transport.security = Security::Plain;
    o.transport.connect_timeout = Duration::from_secs(5);

    let hosts = resolver.mail_hosts_blocking("mx.test", port).unwrap();
    let names: Vec<&str> = hosts.iter().map(|h| h.name.as_str()).collect();
    assert_eq!(names, ["primary.mx.test", "backup.mx.test"]);

    // Blocking: primary is down, backup takes the message.
    let mut t =
        mailwire::blocking::SmtpTransport::connect_domain(&resolver, "mx.test", port, o.clone())
            .unwrap();
    assert!(t.send(&message("via-mx")).unwrap().all_delivered());
    t.quit().unwrap();
    // Tokio, the implicit MX.
    block_on(async {
        let mut t =
            mailwire::tokio::SmtpTransport::connect_domain(&resolver, "amx.test", port, o.clone())
                .await
                .unwrap();
        assert!(
            t.send(&message("via-implicit-mx"))
                .await
                .unwrap()
                .all_delivered()
        );
        t.quit().await.unwrap();
    });
    assert_eq!(
        srv.wait_messages("demo", 2, Duration::from_secs(10)).len(),
        2
    );
    // NXDOMAIN: a typed, permanent error.
    let err = mailwire::blocking::SmtpTransport::connect_domain(&resolver, "nx.test", port, o)
        .unwrap_err();
    assert!(
        matches!(err, SmtpError::Mx(MxError::NoSuchDomain(ref d)) if d == "nx.test"),
        "{err:?}"
    );
    let q = dns.queries.lock().unwrap().clone();
    assert!(q.contains(&("amx.test".to_string(), 15)), "{q:?}");
    drop(srv);
    let _ = std::fs::remove_dir_all(dir);
}

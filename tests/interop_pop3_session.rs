//! Interop: the blocking POP3 session (`mailwire::blocking::Pop3Session`)
//! against Dovecot (list with UIDL, retrieve streamed to a writer
//! byte-identical, TOP, "new since last time" across sessions, delete at
//! QUIT, RSET, a wrong password refused with the server's text) and against
//! the mailserver example (messages delivered with the blocking SMTP
//! transport, then read and deleted over POP3). Opt-in: `cargo test
//! --release -p mailwire --tests -- --ignored --test-threads=1` after
//! `.ci/install-peers`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers

mod common;

use std::collections::HashSet;

use common::dovecot::{Dovecot, free_port};
use common::pop3_plain;
use mailwire::blocking::{
    Pop3Error, Pop3Options, Pop3Session, Security, SmtpOptions, SmtpTransport,
};
use mailwire::pop3::ConnectionError;
use mailwire::pop3::client::LoginMethod;

fn message(i: usize) -> Vec<u8> {
    format!(
        "From: a@example.org\r\nTo: testuser@example.org\r\nSubject: pop3 session {i}\r\nMessage-ID: <s{i}@test>\r\n\r\nBody {i}.\r\n.leading dot\r\n..two\r\n"
    )
    .into_bytes()
}

#[test]
#[ignore = "interop: needs dovecot (bash .ci/install-peers)"]
fn session_against_dovecot() {
    let Some(d) = Dovecot::start() else { return };
    for i in 1..=3 {
        d.deliver(&format!("100000000{i}.M1P1Q{i}.test"), &message(i));
    }
    let addr = format!("127.0.0.1:{}", d.port);
    // Wrong password: refused, with Dovecot's text.
    let err = Pop3Session::connect(&addr, pop3_plain("testuser", "wrong")).unwrap_err();
    assert!(
        matches!(
            err,
            Pop3Error::Closed(ConnectionError::AuthenticationFailed { .. })
        ),
        "{err:?}"
    );
    // Without TLS the password is not sent unless allowed.
    let mut o = Pop3Options::new("testuser", "testpass");
    o.transport.security = Security::Plain;
    assert!(Pop3Session::connect(&addr, o).is_err());
    // STLS required, Dovecot here has ssl = no.
    let mut o = pop3_plain("testuser", "testpass");
    o.transport.security = Security::StartTls;
    assert!(matches!(
        Pop3Session::connect(&addr, o),
        Err(Pop3Error::Closed(_))
    ));

    let mut pop = Pop3Session::connect(&addr, pop3_plain("testuser", "testpass")).unwrap();
    assert!(matches!(pop.login_method(), Some(LoginMethod::Sasl(_))));
    let (count, size) = pop.stat().unwrap();
    assert_eq!(count, 3);
    let list = pop.list().unwrap();
    assert_eq!(list.len(), 3);
    assert_eq!(list.iter().map(|m| m.size).sum::<u64>(), size);
    assert!(list.iter().all(|m| m.uid.is_some()));
    for m in &list {
        let mut got = Vec::new();
        let n = pop.retrieve(m.number, &mut got).unwrap();
        assert_eq!(got, message(m.number as usize), "message {}", m.number);
        assert_eq!(n, got.len() as u64);
        assert_eq!(m.size, got.len() as u64);
    }
    let mut head = Vec::new();
    pop.top(1, 0, &mut head).unwrap();
    assert!(head.ends_with(b"\r\n\r\n") && head.starts_with(b"From: "));
    // A message that does not exist: -ERR kept.
    match pop.retrieve(9, &mut Vec::new()) {
        Err(Pop3Error::Failed { command, status }) => {
            assert_eq!(command, "RETR");
            assert!(!status.is_empty());
        }
        r => panic!("{r:?}"),
    }
    // Nothing is new to a client that has seen all three.
    let seen: HashSet<String> = list.iter().filter_map(|m| m.uid.clone()).collect();
    assert!(pop.new_messages(&seen).unwrap().is_empty());
    // Delete 1, take it back with RSET, delete 2 for real.
    pop.delete(1).unwrap();
    pop.reset().unwrap();
    pop.delete(2).unwrap();
    pop.noop().unwrap();
    pop.quit().unwrap();
    assert_eq!(d.count(), 2);

    // Next session: a new message arrived; only it is new.
    d.deliver("1000000009.M1P1Q9.test", &message(9));
    let mut pop = Pop3Session::connect(&addr, pop3_plain("testuser", "testpass")).unwrap();
    let new = pop.new_messages(&seen).unwrap();
    assert_eq!(new.len(), 1, "{new:?}");
    let mut got = Vec::new();
    pop.retrieve(new[0].number, &mut got).unwrap();
    assert_eq!(got, message(9));
    // A dropped connection deletes nothing (no UPDATE state).
    pop.delete(new[0].number).unwrap();
    drop(pop);
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(d.count(), 3);
    // USER/PASS when asked for.
    let o = pop3_plain("testuser", "testpass").auth(mailwire::pop3::client::AuthChoice::User);
    let pop = Pop3Session::connect(&addr, o).unwrap();
    assert_eq!(pop.login_method(), Some(LoginMethod::User));
    pop.quit().unwrap();
}

#[test]
#[ignore = "interop: starts the mailserver"]
fn session_against_the_mailserver_with_smtp_delivery() {
    let dir = common::scratch("pop3-session");
    let pop3_port = free_port();
    let pop3 = format!("127.0.0.1:{pop3_port}");
    let srv = common::MailServer::start(&dir.join("data"), &["--pop3", &pop3]);
    // Deliver two messages with the blocking SMTP transport (port 25 style,
    // no AUTH, local recipient).
    let mut o = SmtpOptions::new();
    o.transport.security = Security::Plain;
    let mut smtp = SmtpTransport::connect(&srv.smtp().to_string(), o).unwrap();
    for i in 1..=2 {
        let m = format!(
            "From: a@example.org\r\nTo: demo@localhost\r\nSubject: via smtp {i}\r\n\r\nHello {i}.\r\n.dot\r\n"
        );
        assert!(smtp.send(m.as_bytes()).unwrap().all_delivered());
    }
    smtp.quit().unwrap();
    srv.wait_messages("demo", 2, std::time::Duration::from_secs(10));

    let mut pop = Pop3Session::connect(&pop3, pop3_plain("demo", "demo")).unwrap();
    let list = pop.list().unwrap();
    assert_eq!(list.len(), 2, "{list:?}");
    let mut bodies = Vec::new();
    for m in &list {
        let mut got = Vec::new();
        pop.retrieve(m.number, &mut got).unwrap();
        assert_eq!(m.size, got.len() as u64);
        bodies.push(String::from_utf8(got).unwrap());
    }
    assert!(
        bodies
            .iter()
            .any(|b| b.contains("Subject: via smtp 1") && b.contains("\r\n.dot\r\n"))
    );
    let seen: HashSet<String> = list.iter().filter_map(|m| m.uid.clone()).collect();
    assert_eq!(seen.len(), 2);
    for m in &list {
        pop.delete(m.number).unwrap();
    }
    pop.quit().unwrap();
    let mut pop = Pop3Session::connect(&pop3, pop3_plain("demo", "demo")).unwrap();
    assert_eq!(pop.stat().unwrap().0, 0);
    // A wrong password: the session is refused.
    let err = Pop3Session::connect(&pop3, pop3_plain("demo", "nope")).unwrap_err();
    assert!(
        matches!(
            err,
            Pop3Error::Closed(ConnectionError::AuthenticationFailed { .. })
        ),
        "{err:?}"
    );
    pop.quit().unwrap();
    drop(srv);
    let _ = std::fs::remove_dir_all(dir);
}

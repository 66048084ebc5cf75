//! The client machine against the server machine, in memory.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use mailwire_pop3::client::{self, AuthChoice, Event, LoginMethod, TlsMode};
use mailwire_pop3::{Command, ConnectionError, ResponseCode};
use mailwire_sasl::Mechanism;
use proptest::prelude::*;

fn copts(auth: AuthChoice, tls: TlsMode) -> client::Options {
    let mut o = client::Options::new("mrose", "tanstaaf");
    o.auth = auth;
    o.tls = tls;
    o.sasl_nonce = "clientnonce123".into();
    o
}

fn sopts() -> mailwire_pop3::server::Options {
    let mut o = server_options();
    o.sasl_mechanisms = vec![Mechanism::ScramSha256, Mechanism::CramMd5, Mechanism::Plain];
    o.stls = true;
    o.allow_plaintext_auth = false;
    o
}

fn messages() -> Vec<Vec<u8>> {
    vec![
        b"Subject: one\r\n\r\n.leading dot\r\n..two dots\r\nlast line".to_vec(),
        b"Subject: two\n\nlf only\n.\n".to_vec(),
        message_of_size(10 * 1024, "big"),
    ]
}

fn login_with(auth: AuthChoice, tls: TlsMode) -> Pair {
    let mut p = Pair::new(copts(auth, tls), sopts(), App::new(messages()));
    for cmd in [
        Command::Stat,
        Command::Uidl(None),
        Command::Retr(n(1)),
        Command::Retr(n(2)),
        Command::Retr(n(3)),
        Command::Quit,
    ] {
        p.client.enqueue(cmd).unwrap();
    }
    p.drive();
    p
}

fn ready_method(p: &Pair) -> Option<LoginMethod> {
    p.events.iter().find_map(|e| match e {
        Event::Ready { method, .. } => Some(*method),
        _ => None,
    })
}

fn crlf_form(m: &[u8]) -> Vec<u8> {
    // stuff_all makes line ends CRLF and doubles leading dots; undo the
    // dots and the terminator to get what a client must receive.
    let mut s = mailwire_line::stuff_all(m);
    s.truncate(s.len() - 3);
    let mut out = Vec::new();
    let mut at_start = true;
    for (i, &b) in s.iter().enumerate() {
        if !(at_start && b == b'.') {
            out.push(b);
        }
        at_start = b == b'\n' && i > 0 && s[i - 1] == b'\r';
    }
    if !out.is_empty() && !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}

#[test]
fn every_login_method_and_retrieval_is_byte_identical() {
    for (auth, tls, want) in [
        (
            AuthChoice::Auto,
            TlsMode::StartTls,
            LoginMethod::Sasl(Mechanism::ScramSha256),
        ),
        (
            AuthChoice::Sasl(Mechanism::CramMd5),
            TlsMode::None,
            LoginMethod::Sasl(Mechanism::CramMd5),
        ),
        (
            AuthChoice::Sasl(Mechanism::Plain),
            TlsMode::StartTls,
            LoginMethod::Sasl(Mechanism::Plain),
        ),
        (AuthChoice::Apop, TlsMode::None, LoginMethod::Apop),
        (AuthChoice::User, TlsMode::StartTls, LoginMethod::User),
    ] {
        let p = login_with(auth, tls);
        assert_eq!(ready_method(&p), Some(want), "{auth:?}: {:?}", p.events);
        assert_eq!(p.closed_reason(), Some(&ConnectionError::Quit), "{auth:?}");
        let got = p.messages();
        assert_eq!(got.len(), 3);
        for (g, m) in got.iter().zip(messages()) {
            assert_eq!(
                String::from_utf8_lossy(g),
                String::from_utf8_lossy(&crlf_form(&m))
            );
        }
        assert_eq!(
            tls == TlsMode::StartTls,
            p.app.log.iter().any(|l| l == "tls"),
            "{auth:?}"
        );
    }
}

#[test]
fn scram_with_wrong_password_fails() {
    let mut o = copts(AuthChoice::Auto, TlsMode::StartTls);
    o.password = "wrong".to_owned().into();
    let mut p = Pair::new(o, sopts(), App::new(messages()));
    p.drive();
    assert!(
        matches!(
            p.closed_reason(),
            Some(ConnectionError::AuthenticationFailed {
                code: Some(ResponseCode::Auth),
                ..
            })
        ),
        "{:?}",
        p.events
    );
}

#[test]
fn dele_then_quit_removes_dele_then_drop_keeps() {
    let mut p = Pair::new(
        copts(AuthChoice::Apop, TlsMode::None),
        sopts(),
        App::new(messages()),
    );
    for cmd in [
        Command::Dele(n(1)),
        Command::Dele(n(3)),
        Command::Stat,
        Command::Quit,
    ] {
        p.client.enqueue(cmd).unwrap();
    }
    p.drive();
    assert_eq!(p.app.removed, vec![0, 2]);
    assert!(
        p.events
            .iter()
            .any(|e| matches!(e, Event::Stat { listing, .. } if listing.count == 1))
    );

    let mut p = Pair::new(
        copts(AuthChoice::Apop, TlsMode::None),
        sopts(),
        App::new(messages()),
    );
    for cmd in [Command::Dele(n(1)), Command::Dele(n(3))] {
        p.client.enqueue(cmd).unwrap();
    }
    p.drive();
    p.server.handle_eof(p.now);
    p.drive();
    assert!(p.app.removed.is_empty());
    assert!(p.app.log.iter().any(|l| l.contains("Eof")));
}

#[test]
fn in_use_maildrop() {
    let mut app = App::new(messages());
    app.locked = true;
    let mut p = Pair::new(copts(AuthChoice::Apop, TlsMode::None), sopts(), app);
    p.drive();
    assert!(matches!(
        p.closed_reason(),
        Some(ConnectionError::AuthenticationFailed {
            code: Some(ResponseCode::InUse),
            ..
        })
    ));
}

#[test]
fn pipelining_sends_commands_together() {
    let mut p = Pair::new(
        copts(AuthChoice::Apop, TlsMode::None),
        sopts(),
        App::new(messages()),
    );
    for i in 1..=3 {
        p.client.enqueue(Command::List(Some(n(i)))).unwrap();
    }
    p.drive();
    let c2s = String::from_utf8(p.c2s.clone()).unwrap();
    assert!(c2s.contains("LIST 1\r\nLIST 2\r\nLIST 3\r\n"), "{c2s}");
    let lists = p
        .events
        .iter()
        .filter(|e| matches!(e, Event::List { .. }))
        .count();
    assert_eq!(lists, 3);
}

#[test]
fn top_returns_headers_only() {
    let mut p = Pair::new(
        copts(AuthChoice::Apop, TlsMode::None),
        sopts(),
        App::new(messages()),
    );
    p.client
        .enqueue(Command::Top {
            msg: n(3),
            lines: 0,
        })
        .unwrap();
    p.client
        .enqueue(Command::Top {
            msg: n(1),
            lines: 1,
        })
        .unwrap();
    p.drive();
    let got = p.messages();
    assert_eq!(got[0], b"From: big@example.com\r\nSubject: big\r\n\r\n");
    assert_eq!(got[1], b"Subject: one\r\n\r\n.leading dot\r\n");
}

#[test]
fn idle_session_is_logged_out() {
    let mut p = Pair::new(
        copts(AuthChoice::Apop, TlsMode::None),
        sopts(),
        App::new(messages()),
    );
    p.drive();
    assert!(p.client.is_ready());
    assert_eq!(p.client.poll_timeout(), None, "nothing awaited");
    p.advance(Duration::from_secs(601));
    p.drive();
    assert!(p.server.is_closed());
    assert!(p.app.log.iter().any(|l| l.contains("Timeout")));
}

#[test]
fn empty_message() {
    let mut p = Pair::new(
        copts(AuthChoice::Apop, TlsMode::None),
        sopts(),
        App::new(vec![Vec::new()]),
    );
    p.client.enqueue(Command::Retr(n(1))).unwrap();
    p.drive();
    assert_eq!(p.messages(), vec![Vec::<u8>::new()]);
    assert_eq!(crlf_form(b""), b"");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn any_message_round_trips(body in proptest::collection::vec(prop_oneof![Just(b'.'), Just(b'\r'), Just(b'\n'), Just(b'x'), any::<u8>()], 0..400), chunk in 1usize..64) {
        let mut app = App::new(vec![body.clone(), Vec::new()]);
        app.chunk = chunk;
        let mut p = Pair::new(copts(AuthChoice::Apop, TlsMode::None), sopts(), app);
        p.client.enqueue(Command::Retr(n(1))).unwrap();
        p.client.enqueue(Command::List(Some(n(1)))).unwrap();
        p.drive();
        let got = p.messages();
        prop_assert_eq!(got.len(), 1);
        prop_assert_eq!(&got[0], &crlf_form(&body));
    }
}

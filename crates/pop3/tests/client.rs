//! The client machine against RFC transcripts and negative cases.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use mailwire_pop3::client::{AuthChoice, Client, Event, LoginMethod, Options, TlsMode};
use mailwire_pop3::{Command, ConnectionError, ResponseCode};
use proptest::prelude::*;

fn plain_options(user: &str, pw: &str) -> Options {
    let mut o = Options::new(user, pw);
    o.tls = TlsMode::None;
    o
}

fn enqueue_all(c: &mut Client, cmds: &[Command<'static>]) {
    for cmd in cmds {
        c.enqueue(cmd.clone()).unwrap();
    }
}

const RFC1939_10: &str = "
    S: +OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>
    C: CAPA
    S: -ERR unknown command
    C: APOP mrose c4c9334bac560ecc979e58001b3e22fb
    S: +OK mrose's maildrop has 2 messages (320 octets)
    C: STAT
    S: +OK 2 320
    C: LIST
    S: +OK 2 messages (320 octets)
    S: 1 120
    S: 2 200
    S: .
    C: RETR 1
    S: +OK 120 octets
    S: Subject: one
    S: ..leading dot
    S: .
    C: DELE 1
    S: +OK message 1 deleted
    C: RETR 2
    S: +OK 200 octets
    S: Subject: two
    S: .
    C: DELE 2
    S: +OK message 2 deleted
    C: QUIT
    S: +OK dewey POP3 server signing off (maildrop empty)";

fn rfc1939_10_commands() -> Vec<Command<'static>> {
    vec![
        Command::Stat,
        Command::List(None),
        Command::Retr(n(1)),
        Command::Dele(n(1)),
        Command::Retr(n(2)),
        Command::Dele(n(2)),
        Command::Quit,
    ]
}

/// RFC 1939 §10, the example session; the server predates CAPA (RFC 2449
/// §5 lets a client try it first) so the client logs in with APOP.
#[test]
fn rfc1939_10_example_session() {
    let now = Instant::now();
    let mut c = Client::new(plain_options("mrose", "tanstaaf"), now);
    enqueue_all(&mut c, &rfc1939_10_commands());
    let events = replay_client(&mut c, now, &transcript(RFC1939_10));
    let r = render_client_events(&events);
    assert!(r[0].starts_with("Ready") && r[0].contains("Apop"), "{r:#?}");
    assert!(r[1].contains("Stat") && r[1].contains("count: 2, size: 320"));
    assert!(r[2].contains("List") && r[2].contains("size: 120") && r[2].contains("size: 200"));
    assert_eq!(r[4], "content \"Subject: one\\r\\n.leading dot\\r\\n\"");
    assert!(r[5].starts_with("MessageEnd") && r[5].contains("size: 28"));
    assert!(matches!(
        events.last(),
        Some(Event::Closed {
            reason: ConnectionError::Quit
        })
    ));
    assert!(c.is_closed());
}

/// RFC 2449 §5's CAPA example, then CRAM-MD5 with RFC 2195's example
/// exchange, then pipelined commands (PIPELINING was offered).
#[test]
fn rfc2449_5_capa_cram_md5_pipelining() {
    let now = Instant::now();
    let mut c = Client::new(plain_options("tim", "tanstaaftanstaaf"), now);
    enqueue_all(
        &mut c,
        &[
            Command::Stat,
            Command::List(Some(n(1))),
            Command::Uidl(Some(n(1))),
        ],
    );
    let script = "
        S: +OK POP3 server ready
        C: CAPA
        S: +OK Capability list follows
        S: TOP
        S: USER
        S: SASL CRAM-MD5 KERBEROS_V4
        S: RESP-CODES
        S: LOGIN-DELAY 900
        S: PIPELINING
        S: EXPIRE 60
        S: UIDL
        S: IMPLEMENTATION Shlemazle-Plotz-v302
        S: .
        C: AUTH CRAM-MD5
        S: + PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+
        C: dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw
        S: +OK maildrop locked and ready
        C: STAT
        C: LIST 1
        C: UIDL 1
        S: +OK 2 320
        S: +OK 1 120
        S: +OK 1 whqtswO00WBw418f9t5JxYwZ";
    let events = replay_client(&mut c, now, &transcript(script));
    let Event::Ready {
        capabilities,
        method,
        ..
    } = &events[0]
    else {
        panic!("{events:?}")
    };
    assert_eq!(
        *method,
        LoginMethod::Sasl(mailwire_sasl::Mechanism::CramMd5)
    );
    assert_eq!(capabilities.len(), 9);
    assert!(
        matches!(&events[3], Event::Uidl { listings, .. } if listings[0].uid.as_bytes() == b"whqtswO00WBw418f9t5JxYwZ")
    );
}

/// RFC 2595 §4: STLS, then capabilities asked again; RFC 5034 §4's PLAIN
/// with an initial response once TLS is up.
#[test]
fn rfc2595_4_stls_then_rfc5034_plain() {
    let now = Instant::now();
    let mut o = Options::new("test", "test");
    o.tls = TlsMode::StartTls;
    let mut c = Client::new(o, now);
    let script = "
        S: +OK ready
        C: CAPA
        S: +OK
        S: STLS
        S: SASL PLAIN
        S: .
        C: STLS
        S: +OK Begin TLS negotiation";
    let events = replay_client(&mut c, now, &transcript(script));
    assert!(matches!(events[..], [Event::StartTls]));
    let mut out = Vec::new();
    assert!(
        c.poll_transmit(now, &mut out).is_none(),
        "nothing in plaintext after STLS"
    );
    c.handle_tls_established(now);
    let script = "
        C: CAPA
        S: +OK
        S: SASL PLAIN
        S: .
        C: AUTH PLAIN AHRlc3QAdGVzdA==
        S: +OK Maildrop locked and ready";
    let events = replay_client(&mut c, now, &transcript(script));
    assert!(matches!(
        &events[0],
        Event::Ready {
            method: LoginMethod::Sasl(mailwire_sasl::Mechanism::Plain),
            ..
        }
    ));
}

#[test]
fn rfc5034_4_plain_with_empty_challenge_and_failure() {
    let now = Instant::now();
    let mut o = plain_options("test", "test");
    o.allow_plaintext_auth = true;
    o.auth = AuthChoice::Sasl(mailwire_sasl::Mechanism::Plain);
    let mut c = Client::new(o, now);
    let script = "
        S: +OK ready
        C: CAPA
        S: +OK
        S: SASL PLAIN
        S: .
        C: AUTH PLAIN AHRlc3QAdGVzdA==
        S: -ERR [AUTH] Invalid login";
    let events = replay_client(&mut c, now, &transcript(script));
    assert!(
        matches!(
            &events[0],
            Event::Closed {
                reason: ConnectionError::AuthenticationFailed {
                    code: Some(ResponseCode::Auth),
                    ..
                }
            }
        ),
        "{events:?}"
    );
}

#[test]
fn rfc1939_7_user_pass_and_in_use() {
    let now = Instant::now();
    let mut o = plain_options("mrose", "secret");
    o.allow_plaintext_auth = true;
    let mut c = Client::new(o, now);
    let script = "
        S: +OK ready
        C: CAPA
        S: +OK
        S: USER
        S: .
        C: USER mrose
        S: +OK mrose is a real hoopy frood
        C: PASS secret
        S: -ERR [IN-USE] maildrop already locked";
    let events = replay_client(&mut c, now, &transcript(script));
    assert!(
        matches!(
            &events[0],
            Event::Closed {
                reason: ConnectionError::AuthenticationFailed {
                    code: Some(ResponseCode::InUse),
                    ..
                }
            }
        ),
        "{events:?}"
    );
}

#[test]
fn rfc1939_7_top_and_uidl_listing() {
    let now = Instant::now();
    let mut o = plain_options("mrose", "secret");
    o.allow_plaintext_auth = true;
    let mut c = Client::new(o, now);
    enqueue_all(
        &mut c,
        &[
            Command::Top {
                msg: n(1),
                lines: 10,
            },
            Command::Top {
                msg: n(100),
                lines: 3,
            },
            Command::Uidl(None),
        ],
    );
    let script = "
        S: +OK ready
        C: CAPA
        S: -ERR
        C: USER mrose
        S: +OK
        C: PASS secret
        S: +OK
        C: TOP 1 10
        S: +OK
        S: Subject: x
        S: .
        C: TOP 100 3
        S: -ERR no such message
        C: UIDL
        S: +OK
        S: 1 whqtswO00WBw418f9t5JxYwZ
        S: 2 QhdPYR:00WBw1Ph7x7
        S: .";
    let events = replay_client(&mut c, now, &transcript(script));
    let r = render_client_events(&events);
    assert!(r[1].starts_with("MessageStart"));
    assert_eq!(r[2], "content \"Subject: x\\r\\n\"");
    assert!(r[4].starts_with("Failed"));
    assert!(r[5].contains("QhdPYR:00WBw1Ph7x7"));
}

#[test]
fn negative_greetings() {
    let now = Instant::now();
    for (input, check) in [
        (&b"-ERR go away\r\n"[..], "Refused"),
        (b"HELLO THERE\r\n", "MalformedResponse"),
        (b"\x00\x01\x02\r\n", "MalformedResponse"),
        (&[b'+'; 5000][..], "MalformedResponse"),
        (b"+OK hi\n", "MalformedResponse"),
    ] {
        let mut c = Client::new(plain_options("u", "p"), now);
        c.handle_input(now, input);
        let e = c.poll_event();
        assert!(format!("{e:?}").contains(check), "{input:?}: {e:?}");
        assert!(c.is_closed());
    }
}

#[test]
fn stls_required_but_missing_or_refused() {
    let now = Instant::now();
    let mut c = Client::new(Options::new("u", "p"), now);
    c.handle_input(now, b"+OK hi\r\n+OK\r\nUSER\r\n.\r\n");
    assert!(matches!(
        c.poll_event(),
        Some(Event::Closed {
            reason: ConnectionError::TlsUnavailable
        })
    ));

    let mut c = Client::new(Options::new("u", "p"), now);
    c.handle_input(now, b"+OK hi\r\n-ERR\r\n-ERR no\r\n");
    assert!(matches!(
        c.poll_event(),
        Some(Event::Closed {
            reason: ConnectionError::TlsUnavailable
        })
    ));
}

#[test]
fn plaintext_after_stls_ok_closes() {
    let now = Instant::now();
    let mut c = Client::new(Options::new("u", "p"), now);
    c.handle_input(now, b"+OK hi\r\n+OK\r\nSTLS\r\n.\r\n");
    // The +OK to STLS and injected bytes in one read.
    c.handle_input(now, b"+OK go\r\n+OK injected\r\n");
    let evs: Vec<Event> = std::iter::from_fn(|| c.poll_event()).collect();
    assert!(
        matches!(
            evs[..],
            [
                Event::StartTls,
                Event::Closed {
                    reason: ConnectionError::PlaintextAfterStartTls
                }
            ]
        ),
        "{evs:?}"
    );

    let mut c = Client::new(Options::new("u", "p"), now);
    c.handle_input(now, b"+OK hi\r\n+OK\r\nSTLS\r\n.\r\n+OK go\r\n");
    assert!(matches!(c.poll_event(), Some(Event::StartTls)));
    c.handle_input(now, b"x");
    assert!(matches!(
        c.poll_event(),
        Some(Event::Closed {
            reason: ConnectionError::PlaintextAfterStartTls
        })
    ));
}

#[test]
fn no_plaintext_password_without_tls() {
    let now = Instant::now();
    let mut c = Client::new(plain_options("u", "p"), now);
    c.handle_input(now, b"+OK hi\r\n+OK\r\nUSER\r\nSASL PLAIN LOGIN\r\n.\r\n");
    let mut out = Vec::new();
    while c.poll_transmit(now, &mut out).is_some() {}
    assert_eq!(out, b"CAPA\r\n");
    assert!(matches!(
        c.poll_event(),
        Some(Event::Closed {
            reason: ConnectionError::AuthenticationFailed { .. }
        })
    ));
}

#[test]
fn corpus_like_mismatched_single_listing_is_an_error() {
    let now = Instant::now();
    let mut o = plain_options("u", "p");
    o.allow_plaintext_auth = true;
    let mut c = Client::new(o, now);
    c.enqueue(Command::List(Some(n(1)))).unwrap();
    c.handle_input(now, b"+OK\r\n-ERR\r\n+OK\r\n+OK\r\n+OK 99 1024\r\n");
    let evs: Vec<Event> = std::iter::from_fn(|| c.poll_event()).collect();
    assert!(
        matches!(
            evs.last(),
            Some(Event::Closed {
                reason: ConnectionError::MalformedResponse(_)
            })
        ),
        "{evs:?}"
    );
}

#[test]
fn response_timeout() {
    let now = Instant::now();
    let mut c = Client::new(plain_options("u", "p"), now);
    assert_eq!(c.poll_timeout(), Some(now + Duration::from_secs(300)));
    c.handle_timeout(now + Duration::from_secs(299));
    assert!(!c.is_closed());
    c.handle_timeout(now + Duration::from_secs(300));
    assert!(matches!(
        c.poll_event(),
        Some(Event::Closed {
            reason: ConnectionError::Timeout
        })
    ));
}

#[test]
fn enqueue_refuses_login_commands_and_after_quit() {
    let now = Instant::now();
    let mut c = Client::new(plain_options("u", "p"), now);
    assert!(c.enqueue(Command::Stls).is_err());
    assert!(
        c.enqueue(Command::User(mailwire_pop3::Arg::try_from("x").unwrap()))
            .unwrap_err()
            .into_inner()
            == Command::User(mailwire_pop3::Arg::try_from("x").unwrap())
    );
    c.enqueue(Command::Quit).unwrap();
    assert_eq!(
        c.enqueue(Command::Noop).unwrap_err().into_inner(),
        Command::Noop
    );
}

fn server_stream() -> Vec<u8> {
    transcript(RFC1939_10)
        .into_iter()
        .filter(|(s, _)| *s == 'S')
        .flat_map(|(_, l)| format!("{l}\r\n").into_bytes())
        .collect()
}

fn run_client_split(input: &[u8], splits: &[usize]) -> (Vec<u8>, Vec<String>) {
    let now = Instant::now();
    let mut c = Client::new(plain_options("mrose", "tanstaaf"), now);
    enqueue_all(&mut c, &rfc1939_10_commands());
    let mut out = Vec::new();
    let mut events = Vec::new();
    let mut last = 0;
    for &p in splits.iter().chain(std::iter::once(&input.len())) {
        let p = p.clamp(last, input.len());
        c.handle_input(now, &input[last..p]);
        while c.poll_transmit(now, &mut out).is_some() {}
        events.extend(std::iter::from_fn(|| c.poll_event()));
        last = p;
    }
    (out, render_client_events(&events))
}

#[test]
fn any_split_byte_by_byte() {
    let input = server_stream();
    let whole = run_client_split(&input, &[]);
    assert!(whole.1.last().unwrap().contains("Quit"));
    let all: Vec<usize> = (1..input.len()).collect();
    assert_eq!(run_client_split(&input, &all), whole);
    for p in 0..input.len() {
        assert_eq!(run_client_split(&input, &[p]), whole, "split at {p}");
    }
}

proptest! {
    #[test]
    fn any_split_gives_the_same_events(mut splits in proptest::collection::vec(0usize..400, 0..8)) {
        let input = server_stream();
        splits.sort_unstable();
        prop_assert_eq!(run_client_split(&input, &splits), run_client_split(&input, &[]));
    }

    #[test]
    fn garbage_never_panics(data in proptest::collection::vec(any::<u8>(), 0..600), cut in 0usize..600) {
        let now = Instant::now();
        let mut o = plain_options("u", "p");
        o.allow_plaintext_auth = true;
        let mut c = Client::new(o, now);
        c.enqueue(Command::Retr(n(1))).unwrap();
        let mut input = b"+OK <a@b>\r\n".to_vec();
        input.extend_from_slice(&data);
        let cut = cut.min(input.len());
        c.handle_input(now, &input[..cut]);
        c.handle_input(now, &input[cut..]);
        let mut out = Vec::new();
        while c.poll_transmit(now, &mut out).is_some() {}
        while c.poll_event().is_some() {}
    }
}

#[test]
fn a_long_retrieval_that_keeps_arriving_does_not_time_out() {
    let now = Instant::now();
    let mut o = plain_options("u", "p");
    o.allow_plaintext_auth = true;
    let mut c = Client::new(o, now);
    c.enqueue(Command::Retr(n(1))).unwrap();
    c.handle_input(now, b"+OK\r\n-ERR\r\n+OK\r\n+OK\r\n+OK\r\n");
    let mut t = now;
    for _ in 0..20 {
        t += Duration::from_secs(100);
        c.handle_input(t, b"0123456789\r\n");
        c.handle_timeout(t);
        assert!(!c.is_closed());
        assert_eq!(c.poll_timeout(), Some(t + Duration::from_secs(300)));
    }
    c.handle_input(t, b".\r\n");
    let evs: Vec<Event> = std::iter::from_fn(|| c.poll_event()).collect();
    assert!(
        matches!(evs.last(), Some(Event::MessageEnd { size: 240, .. })),
        "{evs:?}"
    );
    assert_eq!(c.poll_timeout(), None);
}

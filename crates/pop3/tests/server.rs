//! The server machine against RFC transcripts and negative cases.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use mailwire_pop3::ConnectionError;
use mailwire_pop3::server::{Event, Options};
use mailwire_sasl::Mechanism;
use proptest::prelude::*;

fn rfc_app() -> App {
    App::new(vec![
        message_of_size(120, "one"),
        message_of_size(200, "two"),
    ])
}

fn body_lines(m: &[u8]) -> String {
    let s = String::from_utf8(m.to_vec()).unwrap();
    s.trim_end_matches("\r\n")
        .split("\r\n")
        .map(|l| format!("S: {l}\n"))
        .collect()
}

/// RFC 1939 §10, the example session, with the two messages written out.
fn rfc1939_10_script(app: &App) -> String {
    format!(
        "S: +OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>
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
         {}S: .
         C: DELE 1
         S: +OK message 1 deleted
         C: RETR 2
         S: +OK 200 octets
         {}S: .
         C: DELE 2
         S: +OK message 2 deleted
         C: QUIT
         S: +OK dewey POP3 server signing off (maildrop empty)",
        body_lines(&app.messages[0]),
        body_lines(&app.messages[1])
    )
}

#[test]
fn rfc1939_10_example_session() {
    let now = Instant::now();
    let mut app = rfc_app();
    let mut s = new_server(server_options(), now);
    assert_eq!(s.apop_timestamp(), "<1896.697170952@dbc.mtview.ca.us>");
    let script = transcript(&rfc1939_10_script(&app));
    replay_server(&mut s, &mut app, now, &script, false);
    assert_eq!(app.removed, vec![0, 1]);
    assert!(s.is_closed());
    assert!(app.log.iter().any(|l| l.contains("Quit")));
}

#[test]
fn rfc1939_5_list_dele_rset_noop() {
    let now = Instant::now();
    let mut app = rfc_app();
    let mut s = new_server(server_options(), now);
    let script = "
        S: +OK ready
        C: USER mrose
        S: +OK mrose is a real hoopy frood
        C: PASS tanstaaf
        S: +OK mrose's maildrop has 2 messages (320 octets)
        C: LIST 2
        S: +OK 2 200
        C: LIST 3
        S: -ERR no such message, only 2 messages in maildrop
        C: DELE 1
        S: +OK message 1 deleted
        C: DELE 1
        S: -ERR message 1 already deleted
        C: STAT
        S: +OK 1 200
        C: LIST 1
        S: -ERR no such message
        C: NOOP
        S: +OK
        C: RSET
        S: +OK maildrop has 2 messages (320 octets)
        C: STAT
        S: +OK 2 320
        C: QUIT
        S: +OK dewey POP3 server signing off (2 messages left)";
    replay_server(&mut s, &mut app, now, &transcript(script), false);
    assert!(app.removed.is_empty(), "RSET unmarked everything");
}

#[test]
fn rfc1939_7_uidl_top_user_pass() {
    let now = Instant::now();
    let mut app = App::new(vec![
        b"Subject: a\r\nX: y\r\n\r\nline 1\r\n.line 2\r\nline 3\r\n".to_vec(),
        message_of_size(200, "two"),
    ]);
    let mut s = new_server(server_options(), now);
    let script = "
        S: +OK ready
        C: USER frated
        S: +OK
        C: PASS secret
        S: -ERR [AUTH] sorry
        C: USER mrose
        S: +OK mrose is a real hoopy frood
        C: PASS tanstaaf
        S: +OK mrose's maildrop has 2 messages (320 octets)
        C: UIDL
        S: +OK
        S: 1 uid-1
        S: 2 uid-2
        S: .
        C: UIDL 2
        S: +OK 2 uid-2
        C: UIDL 3
        S: -ERR no such message, only 2 messages in maildrop
        C: TOP 1 2
        S: +OK
        S: Subject: a
        S: X: y
        S:
        S: line 1
        S: ..line 2
        S: .
        C: TOP 1 0
        S: +OK
        S: Subject: a
        S: X: y
        S:
        S: .
        C: TOP 100 3
        S: -ERR no such message
        C: QUIT
        S: +OK bye";
    // "S:" with nothing after it is an empty line: keep it.
    let script: Vec<(char, String)> = script
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| {
            (
                l.chars().next().unwrap(),
                l[2..].strip_prefix(' ').unwrap_or(&l[2..]).to_owned(),
            )
        })
        .collect();
    replay_server(&mut s, &mut app, now, &script, false);
    assert!(app.log.iter().any(|l| l == "retrieve 0 Some(2)"));
}

#[test]
fn rfc2449_5_capa_and_8_1_in_use() {
    let now = Instant::now();
    let mut o = server_options();
    o.sasl_mechanisms = vec![Mechanism::CramMd5];
    o.login_delay = Some(900);
    o.expire = Some(mailwire_pop3::Expire::Days(60));
    o.implementation = Some("Shlemazle-Plotz-v302".into());
    o.resp_codes = true;
    let mut app = rfc_app();
    app.locked = true;
    let mut s = new_server(o, now);
    let script = "
        S: +OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>
        C: CAPA
        S: +OK Capability list follows
        S: TOP
        S: UIDL
        S: USER
        S: SASL CRAM-MD5
        S: RESP-CODES
        S: AUTH-RESP-CODE
        S: PIPELINING
        S: LOGIN-DELAY 900
        S: EXPIRE 60
        S: IMPLEMENTATION Shlemazle-Plotz-v302
        S: .
        C: APOP mrose c4c9334bac560ecc979e58001b3e22fb
        S: -ERR [IN-USE] Do you have another POP session running?";
    replay_server(&mut s, &mut app, now, &transcript(script), false);
    assert!(!s.is_closed(), "still in AUTHORIZATION after IN-USE");
}

#[test]
fn rfc2595_4_stls() {
    let now = Instant::now();
    let mut o = server_options();
    o.stls = true;
    o.allow_plaintext_auth = false;
    let mut app = rfc_app();
    let mut s = new_server(o, now);
    let script = "
        S: +OK ready
        C: USER mrose
        S: -ERR use STLS first
        C: STLS
        S: +OK Begin TLS negotiation";
    replay_server(&mut s, &mut app, now, &transcript(script), false);
    assert!(app.log.iter().any(|l| l == "StartTls"));
    s.handle_tls_established(now);
    let script = "
        C: STLS
        S: -ERR Command not permitted when TLS active
        C: USER mrose
        S: +OK
        C: PASS tanstaaf
        S: +OK maildrop locked";
    replay_server(&mut s, &mut app, now, &transcript(script), false);
}

#[test]
fn stls_with_pipelined_plaintext_closes() {
    let now = Instant::now();
    let mut o = server_options();
    o.stls = true;
    let mut app = rfc_app();
    let mut s = new_server(o, now);
    let mut out = Vec::new();
    drive_server(&mut s, &mut app, now, &mut out);
    out.clear();
    s.handle_input(now, b"STLS\r\nUSER mrose\r\n");
    drive_server(&mut s, &mut app, now, &mut out);
    assert_eq!(out, b"+OK Begin TLS negotiation\r\n");
    assert!(
        app.log.iter().any(|l| l.contains("PlaintextAfterStartTls")),
        "{:?}",
        app.log
    );
    assert!(!app.log.iter().any(|l| l.starts_with("auth")));

    // Bytes fed later, before the handshake, close too.
    let mut app = rfc_app();
    let mut s = new_server(server_options_with_stls(), now);
    drive_server(&mut s, &mut app, now, &mut Vec::new());
    s.handle_input(now, b"STLS\r\n");
    drive_server(&mut s, &mut app, now, &mut Vec::new());
    assert!(!s.is_closed());
    s.handle_input(now, b"CAPA\r\n");
    assert!(s.is_closed());
}

fn server_options_with_stls() -> Options {
    let mut o = server_options();
    o.stls = true;
    o
}

#[test]
fn rfc5034_auth_plain_with_and_without_initial_response() {
    let now = Instant::now();
    let mut o = server_options();
    o.sasl_mechanisms = vec![Mechanism::Plain, Mechanism::CramMd5, Mechanism::ScramSha256];
    let mut app = rfc_app();
    app.user = "test".into();
    app.password = "test".into();
    let mut s = new_server(o, now);
    // RFC 5034 §6 style: PLAIN with an empty challenge, then cancelled,
    // then with an initial response.
    let script = "
        S: +OK ready
        C: AUTH PLAIN
        S: +
        C: *
        S: -ERR cancelled
        C: AUTH X-UNKNOWN
        S: -ERR unsupported
        C: AUTH PLAIN dGVzdAB0ZXN0AHRlc3Q=
        S: +OK Maildrop locked and ready";
    let script: Vec<(char, String)> = transcript(script)
        .into_iter()
        .map(|(c, l)| {
            if l == "+" {
                (c, "+ ".to_owned())
            } else {
                (c, l)
            }
        })
        .collect();
    replay_server(&mut s, &mut app, now, &script, false);
    assert!(app.log.iter().any(|l| l == "open test"));
}

#[test]
fn rfc2195_cram_md5_against_server() {
    use hmac_md5::digest;
    let now = Instant::now();
    let mut o = server_options();
    o.sasl_mechanisms = vec![Mechanism::CramMd5];
    o.hostname = "postoffice.reston.mci.net".into();
    let mut app = rfc_app();
    app.user = "tim".into();
    app.password = "tanstaaftanstaaf".into();
    let mut s = new_server(o, now);
    let mut out = Vec::new();
    drive_server(&mut s, &mut app, now, &mut out);
    out.clear();
    s.handle_input(now, b"AUTH CRAM-MD5\r\n");
    drive_server(&mut s, &mut app, now, &mut out);
    let line = String::from_utf8(out.clone()).unwrap();
    let b64 = line.strip_prefix("+ ").unwrap().trim_end();
    let challenge = mailwire_sasl::framing::decode_challenge(b64.as_bytes()).unwrap();
    assert_eq!(challenge, b"<1896.697170952.1@postoffice.reston.mci.net>");
    let resp = format!("tim {}", digest(b"tanstaaftanstaaf", &challenge));
    out.clear();
    s.handle_input(
        now,
        format!("{}\r\n", mailwire_sasl::framing::encode(resp.as_bytes())).as_bytes(),
    );
    drive_server(&mut s, &mut app, now, &mut out);
    assert!(out.starts_with(b"+OK"), "{}", String::from_utf8_lossy(&out));
}

mod hmac_md5 {
    /// HMAC-MD5 (RFC 2104) by hand, hex-encoded, to check the server
    /// independently of mailwire-sasl's client.
    pub(crate) fn digest(key: &[u8], msg: &[u8]) -> String {
        use md5::{Digest, Md5};
        let mut k = [0u8; 64];
        k[..key.len()].copy_from_slice(key);
        let mut inner = Md5::new();
        inner.update(k.map(|b| b ^ 0x36));
        inner.update(msg);
        let mut outer = Md5::new();
        outer.update(k.map(|b| b ^ 0x5c));
        outer.update(inner.finalize());
        outer
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

#[test]
fn plaintext_auth_refused_before_tls_and_not_offered() {
    let now = Instant::now();
    let mut o = server_options();
    o.allow_plaintext_auth = false;
    o.stls = true;
    o.sasl_mechanisms = vec![Mechanism::Plain, Mechanism::CramMd5];
    let mut app = rfc_app();
    let mut s = new_server(o, now);
    let script = "
        S: +OK ready
        C: CAPA
        S: +OK Capability list follows
        S: TOP
        S: UIDL
        S: SASL CRAM-MD5
        S: RESP-CODES
        S: AUTH-RESP-CODE
        S: PIPELINING
        S: STLS
        S: .
        C: AUTH PLAIN dGVzdAB0ZXN0AHRlc3Q=
        S: -ERR use STLS first
        C: USER mrose
        S: -ERR use STLS first
        C: PASS tanstaaf
        S: -ERR USER first";
    replay_server(&mut s, &mut app, now, &transcript(script), false);
}

#[test]
fn transaction_commands_refused_in_authorization_and_bad_commands() {
    let now = Instant::now();
    let mut o = server_options();
    o.max_bad_commands = 3;
    let mut app = rfc_app();
    let mut s = new_server(o, now);
    let script = "
        S: +OK ready
        C: STAT
        S: -ERR not in this state
        C: RETR 0
        S: -ERR no such message
        C: FOO
        S: -ERR unknown
        C: LIST 1 2 3
        S: -ERR syntax
        C: BAR
        S: -ERR unknown";
    replay_server(&mut s, &mut app, now, &transcript(script), false);
    assert!(s.is_closed());
    assert!(app.log.iter().any(|l| l.contains("TooManyBadCommands")));
}

#[test]
fn over_long_line_and_bare_lf() {
    let now = Instant::now();
    let mut app = rfc_app();
    let mut s = new_server(server_options(), now);
    let mut out = Vec::new();
    drive_server(&mut s, &mut app, now, &mut out);
    out.clear();
    let mut long = vec![b'A'; 5000];
    long.extend_from_slice(b"\r\nNOOP\nQUIT\r\n");
    s.handle_input(now, &long);
    drive_server(&mut s, &mut app, now, &mut out);
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text:?}");
    assert!(
        lines[0].starts_with("-ERR") && lines[1].starts_with("-ERR") && lines[2].starts_with("+OK")
    );
}

#[test]
fn gibberish_and_binary_input_does_not_panic() {
    let now = Instant::now();
    let mut app = rfc_app();
    let mut s = new_server(server_options(), now);
    s.handle_input(
        now,
        b"\x00\xff\xfe\r\n\r\n\r\nUSER \xff\r\nPASS \r\nAPOP a b\r\n",
    );
    drive_server(&mut s, &mut app, now, &mut Vec::new());
    assert!(!s.is_closed());
}

#[test]
fn rfc1939_3_autologout_timer() {
    let now = Instant::now();
    let mut app = rfc_app();
    let mut s = new_server(server_options(), now);
    drive_server(&mut s, &mut app, now, &mut Vec::new());
    assert_eq!(s.poll_timeout(), Some(now + Duration::from_secs(600)));
    // A command restarts the timer.
    let later = now + Duration::from_secs(300);
    s.handle_input(later, b"USER mrose\r\nPASS tanstaaf\r\nDELE 1\r\n");
    drive_server(&mut s, &mut app, later, &mut Vec::new());
    assert_eq!(s.poll_timeout(), Some(later + Duration::from_secs(600)));
    // An early call does nothing.
    s.handle_timeout(later + Duration::from_secs(599));
    assert!(!s.is_closed());
    s.handle_timeout(later + Duration::from_secs(600));
    let mut out = Vec::new();
    drive_server(&mut s, &mut app, later, &mut out);
    assert!(s.is_closed());
    assert!(app.log.iter().any(|l| l.contains("Timeout")));
    // Autologout does not enter UPDATE: nothing removed.
    assert!(app.removed.is_empty());
}

#[test]
fn rfc1939_6_eof_without_quit_keeps_marked_messages() {
    let now = Instant::now();
    let mut app = rfc_app();
    let mut s = new_server(server_options(), now);
    s.handle_input(now, b"USER mrose\r\nPASS tanstaaf\r\nDELE 1\r\nDELE 2\r\n");
    drive_server(&mut s, &mut app, now, &mut Vec::new());
    s.handle_eof(now);
    drive_server(&mut s, &mut app, now, &mut Vec::new());
    assert!(app.removed.is_empty());
    assert!(app.log.iter().any(|l| l.contains("Eof")));
    assert!(!app.log.iter().any(|l| l.starts_with("update")));
}

#[test]
fn answers_with_wrong_handle_or_kind_hand_the_value_back() {
    let now = Instant::now();
    let mut s = new_server(server_options(), now);
    s.handle_input(now, b"USER mrose\r\nPASS tanstaaf\r\n");
    let Some(Event::Authenticate { handle, .. }) = s.poll_event() else {
        panic!()
    };
    // Not the decision pending.
    let err = s.open_maildrop(handle, vec![]).unwrap_err();
    assert!(matches!(err, mailwire_pop3::server::AnswerError::WrongAnswer(v) if v.is_empty()));
    let err = s
        .refuse(handle, mailwire_pop3::StatusLine::ok("x"))
        .unwrap_err();
    assert!(matches!(
        err,
        mailwire_pop3::server::AnswerError::WrongAnswer(_)
    ));
    s.provide_password(handle, Some("tanstaaf".into())).unwrap();
    let err = s
        .provide_password(handle, Some("again".into()))
        .unwrap_err();
    assert!(matches!(
        err,
        mailwire_pop3::server::AnswerError::UnknownHandle(Some(_))
    ));
}

#[test]
fn pipelined_commands_answered_in_order() {
    let now = Instant::now();
    let mut app = rfc_app();
    let mut s = new_server(server_options(), now);
    let mut out = Vec::new();
    drive_server(&mut s, &mut app, now, &mut out);
    out.clear();
    s.handle_input(
        now,
        b"USER mrose\r\nPASS tanstaaf\r\nSTAT\r\nRETR 1\r\nLIST 2\r\nDELE 1\r\nQUIT\r\n",
    );
    drive_server(&mut s, &mut app, now, &mut out);
    let text = String::from_utf8(out).unwrap();
    let statuses: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("+OK") || l.starts_with("-ERR"))
        .collect();
    assert_eq!(statuses.len(), 7, "{text}");
    assert_eq!(statuses[2], "+OK 2 320");
    assert_eq!(statuses[4], "+OK 2 200");
    assert_eq!(app.removed, vec![0]);
}

#[test]
fn content_is_crlf_and_dot_stuffed_from_lf_storage() {
    let now = Instant::now();
    let stored = b"Subject: x\n\n.dot\n..two\nend".to_vec();
    let mut app = App::new(vec![stored]);
    let mut s = new_server(server_options(), now);
    let mut out = Vec::new();
    drive_server(&mut s, &mut app, now, &mut out);
    out.clear();
    s.handle_input(now, b"USER mrose\r\nPASS tanstaaf\r\nLIST 1\r\nRETR 1\r\n");
    drive_server(&mut s, &mut app, now, &mut out);
    let text = String::from_utf8(out).unwrap();
    let wire = "Subject: x\r\n\r\n.dot\r\n..two\r\nend";
    assert!(
        text.contains(&format!("+OK 1 {}\r\n", wire.len())),
        "{text}"
    );
    assert!(
        text.ends_with("+OK message follows\r\nSubject: x\r\n\r\n..dot\r\n...two\r\nend\r\n.\r\n"),
        "{text}"
    );
}

fn run_split(input: &[u8], splits: &[usize]) -> (Vec<u8>, Vec<String>) {
    let now = Instant::now();
    let mut app = rfc_app();
    app.messages
        .push(b"Subject: s\r\n\r\n.\r\n..\r\nx".to_vec());
    let mut s = new_server(server_options(), now);
    let mut out = Vec::new();
    drive_server(&mut s, &mut app, now, &mut out);
    let mut last = 0;
    for &p in splits.iter().chain(std::iter::once(&input.len())) {
        let p = p.clamp(last, input.len());
        s.handle_input(now, &input[last..p]);
        drive_server(&mut s, &mut app, now, &mut out);
        last = p;
    }
    (out, app.log)
}

const SESSION: &[u8] = b"CAPA\r\nUSER mrose\r\nPASS tanstaaf\r\nSTAT\r\nLIST\r\nUIDL\r\nTOP 3 1\r\nRETR 3\r\nRETR 1\r\nDELE 2\r\nRSET\r\nDELE 1\r\nNOOP\r\nQUIT\r\n";

#[test]
fn any_split_byte_by_byte() {
    let whole = run_split(SESSION, &[]);
    let splits: Vec<usize> = (1..SESSION.len()).collect();
    assert_eq!(run_split(SESSION, &splits), whole);
    for p in 0..SESSION.len() {
        assert_eq!(run_split(SESSION, &[p]), whole, "split at {p}");
    }
}

proptest! {
    #[test]
    fn any_split_gives_the_same_output(mut splits in proptest::collection::vec(0..SESSION.len(), 0..8)) {
        splits.sort_unstable();
        prop_assert_eq!(run_split(SESSION, &splits), run_split(SESSION, &[]));
    }

    #[test]
    fn any_content_chunking_gives_the_same_wire(body in proptest::collection::vec(prop_oneof![Just(b'.'), Just(b'\r'), Just(b'\n'), Just(b'a')], 0..200), chunk in 1usize..20) {
        let now = Instant::now();
        let mut a = App::new(vec![body.clone()]);
        a.chunk = chunk;
        let mut b = App::new(vec![body.clone()]);
        b.chunk = 1000;
        let mut outs = Vec::new();
        for app in [&mut a, &mut b] {
            let mut s = new_server(server_options(), now);
            let mut out = Vec::new();
            s.handle_input(now, b"USER mrose\r\nPASS tanstaaf\r\nRETR 1\r\n");
            drive_server(&mut s, app, now, &mut out);
            outs.push(out);
        }
        prop_assert_eq!(&outs[0], &outs[1]);
        // What a client unstuffs is the CRLF form of the stored body.
        let wire = &outs[0];
        let start = wire.windows(19).position(|w| w == b"+OK message follows").unwrap() + 21;
        let (units, rest) = mailwire_pop3::decode_response(mailwire_pop3::ResponseKind::Content, &[b"+OK\r\n", &wire[start..]].concat()).unwrap();
        prop_assert_eq!(rest, 0);
        let got: Vec<u8> = units.iter().filter_map(|u| match u { mailwire_pop3::Decoded::Chunk(c) => Some(c.to_vec()), _ => None }).flatten().collect();
        let mut expect = mailwire_line::stuff_all(&body);
        // stuff_all's output, unstuffed, is the canonical CRLF body.
        let (u2, _) = mailwire_pop3::decode_response(mailwire_pop3::ResponseKind::Content, &[b"+OK\r\n".as_slice(), &expect].concat()).unwrap();
        expect = u2.iter().filter_map(|u| match u { mailwire_pop3::Decoded::Chunk(c) => Some(c.to_vec()), _ => None }).flatten().collect();
        prop_assert_eq!(got.len() as u64, mailwire_pop3::WireSize::of(&body) + u64::from(!body.is_empty() && !matches!(body.last(), Some(b'\n' | b'\r'))) * 2);
        prop_assert_eq!(got, expect);
    }
}

#[test]
fn connection_error_is_sticky() {
    let now = Instant::now();
    let mut app = rfc_app();
    let mut s = new_server(server_options(), now);
    s.handle_eof(now);
    drive_server(&mut s, &mut app, now, &mut Vec::new());
    s.handle_input(now, b"USER mrose\r\n");
    let mut out = Vec::new();
    drive_server(&mut s, &mut app, now, &mut out);
    assert!(out.is_empty() || !String::from_utf8_lossy(&out).contains("USER"));
    assert_eq!(app.log.iter().filter(|l| l.contains("Closed")).count(), 1);
    let _ = ConnectionError::Eof;
}

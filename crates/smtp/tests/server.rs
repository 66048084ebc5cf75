//! Server state machine: RFC transcripts, any-split, security and limits.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers, outside #[test] fns

mod common;

use std::time::{Duration, Instant};

use common::*;
use mailwire_smtp::server::{AbortReason, Event, Options, Server};
use mailwire_smtp::*;
use mailwire_testkit::{Scripted, Side, Transcript};
use proptest::prelude::*;

mailwire_testkit::machine!(struct Srv(Server), Event);

/// The application policy used by every test: refuse a few named
/// recipients, accept the rest, check the RFC 4954 PLAIN credentials.
fn policy(s: &mut Server, e: &Event) {
    match e {
        Event::Mail { handle, .. } => s.accept(*handle).unwrap(),
        Event::Rcpt { handle, to, .. } => {
            let name = to.to_string();
            if ["Green@", "nsb@", "galvin@"]
                .iter()
                .any(|p| name.starts_with(p))
            {
                s.reply(
                    *handle,
                    Reply::single(550, Some((5, 1, 1)), "No such user here").unwrap(),
                )
                .unwrap();
            } else {
                s.accept(*handle).unwrap();
            }
        }
        Event::DataEnd { handle, .. } => s.accept(*handle).unwrap(),
        Event::AuthStart {
            handle,
            mechanism,
            initial_response,
        } => match initial_response {
            Some(ir) if ir.expose() == b"test\0test\x001234" => s.auth_success(*handle).unwrap(),
            Some(_) => s
                .reply(*handle, Reply::single(535, Some((5, 7, 8)), "bad").unwrap())
                .unwrap(),
            None if *mechanism == mailwire_sasl::Mechanism::CramMd5 => s
                .auth_challenge(*handle, b"<41929423412.12828472@sourcefour.andrew.cmu.edu>")
                .unwrap(),
            None => s.auth_challenge(*handle, b"").unwrap(),
        },
        Event::AuthResponse { handle, .. } => s.auth_success(*handle).unwrap(),
        _ => {}
    }
}

/// A comparable summary of an event; consecutive chunks are merged by
/// [`summarize`].
fn describe(e: &Event) -> String {
    match e {
        Event::Mail { from, params, .. } => format!("Mail({from:?}, {params:?})"),
        Event::Rcpt { to, params, .. } => format!("Rcpt({to:?}, {params:?})"),
        Event::DataEnd { size, .. } => format!("DataEnd({size})"),
        Event::AuthStart {
            mechanism,
            initial_response,
            ..
        } => {
            format!(
                "AuthStart({mechanism}, {:?})",
                initial_response.as_ref().map(|r| r.expose().clone())
            )
        }
        Event::AuthResponse { response, .. } => format!("AuthResponse({:?})", response.expose()),
        other => format!("{other:?}"),
    }
}

struct Run {
    out: Vec<u8>,
    events: Vec<String>,
    body: Vec<Vec<u8>>,
}

fn drive(script: &mut Scripted<Srv>, run: &mut Run) {
    loop {
        let events = script.events();
        if events.is_empty() {
            break;
        }
        for e in events {
            match &e {
                Event::DataStart { .. } => run.body.push(Vec::new()),
                Event::DataChunk(c) => run.body.last_mut().unwrap().extend_from_slice(c),
                _ => {}
            }
            if !matches!(e, Event::DataChunk(_)) {
                run.events.push(describe(&e));
            }
            script.act(|m| policy(m, &e));
        }
    }
    run.out.extend(script.take_output());
}

fn run_pieces(opts: Options, pieces: &[&[u8]]) -> Run {
    let now = Instant::now();
    let mut script = Scripted::new(Srv(Server::new(opts, now)), now);
    let mut run = Run {
        out: Vec::new(),
        events: Vec::new(),
        body: Vec::new(),
    };
    drive(&mut script, &mut run);
    for p in pieces {
        script.send(p);
        drive(&mut script, &mut run);
    }
    run
}

fn tls_opts() -> Options {
    let mut o = Options::default();
    o.implicit_tls = true;
    o.dsn = true;
    o.auth_mechanisms = vec![
        mailwire_sasl::Mechanism::Plain,
        mailwire_sasl::Mechanism::CramMd5,
    ];
    o
}

/// Replays a transcript turn by turn and checks the server's reply codes
/// against the transcript's (VRFY may answer 252 for 250, RFC 5321 §3.5.3).
fn replay(text: &str, opts: Options) -> Run {
    let t = Transcript::parse(text);
    let turns = t.turns();
    let client: Vec<&[u8]> = turns
        .iter()
        .filter(|(s, _)| *s == Side::Client)
        .map(|(_, b)| &b[..])
        .collect();
    let run = run_pieces(opts.clone(), &client);
    let mut want = reply_codes(&t.bytes_of(Side::Server));
    let client_lines: Vec<&[u8]> = t
        .lines
        .iter()
        .filter(|(s, _)| *s == Side::Client)
        .map(|(_, l)| &l[..])
        .collect();
    if client_lines.iter().any(|l| l.starts_with(b"VRFY")) {
        for c in want.iter_mut() {
            if *c == 250 {
                *c = 252;
                break;
            }
        }
        // The first 250 is the EHLO reply: put it back and mark VRFY's.
        want = reply_codes(&t.bytes_of(Side::Server));
        let idx = want
            .iter()
            .enumerate()
            .filter(|(_, c)| **c == 250)
            .nth(1)
            .unwrap()
            .0;
        want[idx] = 252;
    }
    assert_eq!(
        reply_codes(&run.out),
        want,
        "transcript replies; server sent {:?}",
        String::from_utf8_lossy(&run.out)
    );
    // Feeding the whole client side at once gives the same replies and events.
    let all = t.bytes_of(Side::Client);
    let whole = run_pieces(opts, &[&all]);
    assert_eq!(whole.out, run.out);
    assert_eq!(whole.events, run.events);
    run
}

#[test]
fn rfc5321_d_1_typical_transaction() {
    let run = replay(RFC5321_D_1, Options::default());
    assert_eq!(
        run.body,
        vec![b"Blah blah blah...\r\n..etc. etc. etc.\r\n".to_vec()]
    );
    assert!(run.events.iter().filter(|e| e.starts_with("Rcpt")).count() == 3);
    assert!(run.events.last().unwrap().contains("Quit"));
}

#[test]
fn rfc5321_d_2_aborted_transaction() {
    let run = replay(RFC5321_D_2, Options::default());
    assert!(
        run.events
            .iter()
            .any(|e| e.contains("MessageAborted { reason: Reset }"))
    );
}

#[test]
fn rfc5321_d_3_relayed_mail() {
    let run = replay(RFC5321_D_3, Options::default());
    assert!(run.body[0].starts_with(b"Date: Thu, 21 May 1998"));
    assert!(run.body[0].ends_with(b"John.\r\n"));
}

#[test]
fn rfc5321_d_4_verify_and_send() {
    replay(RFC5321_D_4, Options::default());
}

#[test]
fn rfc2920_3_1_pipelined() {
    let run = replay(RFC2920_3_1, Options::default());
    // Pipelined replies go out in one batch.
    assert!(run.out.windows(5).any(|w| w == b"\r\n354"));
}

#[test]
fn rfc2920_3_2_no_valid_recipients() {
    replay(RFC2920_3_2, Options::default());
}

#[test]
fn rfc3030_4_1_bdat() {
    let run = replay(RFC3030_4_1, Options::default());
    assert_eq!(run.body[0].len(), 86);
}

#[test]
fn rfc3030_4_2_pipelined_binarymime() {
    let mut o = Options::default();
    o.binarymime = true;
    let mut input = b"EHLO ymir.claremont.edu\r\nMAIL FROM:<ned@ymir.claremont.edu> BODY=BINARYMIME\r\nRCPT TO:<gvaudre@cnri.reston.va.us>\r\nRCPT TO:<jstewart@cnri.reston.va.us>\r\nBDAT 1000\r\n".to_vec();
    let data: Vec<u8> = (0..1000u32).map(|i| (i % 256) as u8).collect();
    input.extend_from_slice(&data);
    input.extend_from_slice(b"BDAT 324\r\n");
    input.extend_from_slice(&[0u8; 324]);
    input.extend_from_slice(b"BDAT 0 LAST\r\nQUIT\r\n");
    let run = run_pieces(o.clone(), &[&input]);
    assert_eq!(
        reply_codes(&run.out),
        [220, 250, 250, 250, 250, 250, 250, 250, 221]
    );
    assert_eq!(run.body.len(), 1);
    assert_eq!(run.body[0].len(), 1324);
    assert_eq!(&run.body[0][..1000], &data[..]);
    // DATA is refused with BODY=BINARYMIME.
    let run = run_pieces(
        o,
        &[b"EHLO a\r\nMAIL FROM:<a@b.c> BODY=BINARYMIME\r\nRCPT TO:<c@d.e>\r\nDATA\r\n"],
    );
    assert_eq!(reply_codes(&run.out), [220, 250, 250, 250, 503]);
}

#[test]
fn rfc4954_4_auth_plain_initial_response() {
    let run = replay(RFC4954_4_PLAIN_IR, tls_opts());
    assert!(
        run.events
            .iter()
            .any(|e| e.starts_with("AuthStart(PLAIN, Some("))
    );
}

#[test]
fn rfc4954_4_auth_plain_challenge() {
    replay(RFC4954_4_PLAIN, tls_opts());
}

#[test]
fn rfc4954_4_auth_cram_md5() {
    let run = replay(RFC4954_4_CRAM, tls_opts());
    assert!(run.out.windows(10).any(|w| w == b"334 PDQxOT"));
}

#[test]
fn rfc3461_dsn_parameters() {
    let run = replay(RFC3461_DSN, tls_opts());
    assert!(run.events.iter().any(|e| e.contains("ret: Some(Hdrs)")));
    assert!(
        run.events
            .iter()
            .any(|e| e.contains("notify: Some(Notify { success: true"))
    );
    // Without DSN offered, the parameters are refused with 555.
    let run = run_pieces(
        Options::default(),
        &[b"EHLO a\r\nMAIL FROM:<a@b.c> RET=HDRS\r\n"],
    );
    assert_eq!(reply_codes(&run.out), [220, 250, 555]);
}

fn mt_priority_opts(policy: Option<PriorityPolicy>) -> Options {
    let mut o = Options::default();
    o.mt_priority = true;
    o.mt_priority_policy = policy;
    o
}

/// RFC 6710 §3: the EHLO keyword `MT-PRIORITY`, with the optional name of
/// the Priority Assignment Policy; not offered unless configured.
#[test]
fn rfc6710_3_ehlo_keyword_and_policy() {
    let text = |o: Options| String::from_utf8(run_pieces(o, &[b"EHLO a\r\n"]).out).unwrap();
    assert!(
        text(mt_priority_opts(Some(PriorityPolicy::Mixer))).contains("250-MT-PRIORITY MIXER\r\n")
    );
    assert!(
        text(mt_priority_opts(Some(PriorityPolicy::Stanag4406)))
            .contains("250-MT-PRIORITY STANAG4406\r\n")
    );
    assert!(text(mt_priority_opts(None)).contains("250-MT-PRIORITY\r\n"));
    assert!(!text(Options::default()).contains("MT-PRIORITY"));
    // What the server writes, a client reads back.
    let out = run_pieces(
        mt_priority_opts(Some(PriorityPolicy::Nsep)),
        &[b"EHLO a\r\n"],
    )
    .out;
    let ehlo = &out[out.iter().position(|&b| b == b'\n').unwrap() + 1..];
    let reply = parse_reply(ehlo).unwrap();
    let caps = Capabilities::from_ehlo(&reply);
    assert!(caps.mt_priority);
    assert_eq!(caps.mt_priority_policy.as_deref(), Some("NSEP"));
}

/// RFC 9422: LIMITS in the EHLO reply, RCPTMAX from `max_recipients` and
/// MAILMAX from `max_transactions`; a MAIL past MAILMAX gets 421 and the
/// session ends; `limits: false` announces nothing.
#[test]
fn rfc9422_limits_announced_and_mailmax_kept() {
    let text = |o: Options| String::from_utf8(run_pieces(o, &[b"EHLO a\r\n"]).out).unwrap();
    assert!(text(Options::default()).contains("250-LIMITS RCPTMAX=100\r\n"));
    let mut o = Options::default();
    o.max_recipients = 250;
    o.max_transactions = Some(2);
    assert!(text(o.clone()).contains("250-LIMITS MAILMAX=2 RCPTMAX=250\r\n"));
    let mut off = Options::default();
    off.limits = false;
    assert!(!text(off).contains("LIMITS"));
    // What the server writes, a client reads back.
    let out = run_pieces(o.clone(), &[b"EHLO a\r\n"]).out;
    let ehlo = &out[out.iter().position(|&b| b == b'\n').unwrap() + 1..];
    let limits = Capabilities::from_ehlo(&parse_reply(ehlo).unwrap()).limits();
    assert_eq!(limits.mailmax.map(|n| n.get()), Some(2));
    assert_eq!(limits.rcptmax.map(|n| n.get()), Some(250));
    // Two transactions (one of them reset) are taken, the third MAIL not.
    let run = run_pieces(
        o,
        &[
            b"EHLO a\r\nMAIL FROM:<a@b.c>\r\nRSET\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<d@e.f>\r\n\
            DATA\r\nx\r\n.\r\nMAIL FROM:<a@b.c>\r\nNOOP\r\n",
        ],
    );
    assert_eq!(
        reply_codes(&run.out),
        [220, 250, 250, 250, 250, 250, 354, 250, 421]
    );
    assert!(String::from_utf8_lossy(&run.out).contains("421 4.7.0 "));
    assert!(run.events.last().unwrap().contains("TooManyTransactions"));
}

/// RFC 6710 §3: the MAIL parameter, -9 to 9 with an optional sign, carried
/// in the MAIL event; refused with 555 when the extension is not offered.
#[test]
fn rfc6710_3_mail_parameter() {
    let run = run_pieces(
        mt_priority_opts(Some(PriorityPolicy::Mixer)),
        &[b"EHLO a\r\nMAIL FROM:<a@b.c> MT-PRIORITY=-9\r\nRSET\r\nMAIL FROM:<a@b.c> mt-priority=+4\r\n"],
    );
    assert_eq!(reply_codes(&run.out), [220, 250, 250, 250, 250]);
    let mails: Vec<&String> = run
        .events
        .iter()
        .filter(|e| e.starts_with("Mail("))
        .collect();
    assert!(
        mails[0].contains("mt_priority: Some(Priority(-9))"),
        "{mails:?}"
    );
    assert!(
        mails[1].contains("mt_priority: Some(Priority(4))"),
        "{mails:?}"
    );
    let run = run_pieces(
        Options::default(),
        &[b"EHLO a\r\nMAIL FROM:<a@b.c> MT-PRIORITY=3\r\n"],
    );
    assert_eq!(reply_codes(&run.out), [220, 250, 555]);
}

/// RFC 6710 §4.1: a value outside -9..9, not one digit, or given twice is
/// a syntax error in the parameters (501 5.5.4), and no MAIL event.
#[test]
fn rfc6710_4_1_bad_value_501() {
    for bad in ["10", "-10", "03", "", "+", "x", "1.0", "4 MT-PRIORITY=4"] {
        let line = format!("EHLO a\r\nMAIL FROM:<a@b.c> MT-PRIORITY={bad}\r\n");
        let run = run_pieces(mt_priority_opts(None), &[line.as_bytes()]);
        assert_eq!(reply_codes(&run.out), [220, 250, 501], "{bad:?}");
        assert!(
            String::from_utf8_lossy(&run.out).contains("501 5.5.4"),
            "{bad:?}"
        );
        assert!(
            !run.events.iter().any(|e| e.starts_with("Mail(")),
            "{bad:?}"
        );
    }
}

#[test]
fn auth_cancel_and_bad_base64() {
    let run = run_pieces(
        tls_opts(),
        &[b"EHLO a\r\nAUTH PLAIN\r\n*\r\nAUTH PLAIN\r\n!!!\r\nAUTH PLAIN !!\r\n"],
    );
    assert_eq!(reply_codes(&run.out), [220, 250, 334, 501, 334, 501, 501]);
    assert!(run.events.iter().any(|e| e == "AuthCancelled"));
}

#[test]
fn auth_plaintext_refused_before_tls_538() {
    let mut o = Options::default();
    o.auth_mechanisms = vec![
        mailwire_sasl::Mechanism::Plain,
        mailwire_sasl::Mechanism::CramMd5,
    ];
    let run = run_pieces(
        o.clone(),
        &[b"EHLO a\r\nAUTH PLAIN dGVzdAB0ZXN0ADEyMzQ=\r\n"],
    );
    assert_eq!(reply_codes(&run.out), [220, 250, 538]);
    // Not offered either; CRAM-MD5 is.
    assert!(!run.out.windows(10).any(|w| w == b"AUTH PLAIN"));
    assert!(run.out.windows(13).any(|w| w == b"AUTH CRAM-MD5"));
    o.allow_plaintext_auth = true;
    let run = run_pieces(
        o,
        &[b"EHLO a\r\nAUTH PLAIN dGVzdAB0ZXN0ADEyMzQ=\r\nAUTH PLAIN\r\n"],
    );
    assert_eq!(reply_codes(&run.out), [220, 250, 235, 503]);
}

#[test]
fn auth_required_530() {
    let mut o = tls_opts();
    o.auth_required = true;
    let run = run_pieces(o, &[b"EHLO a\r\nMAIL FROM:<a@b.c>\r\nAUTH PLAIN dGVzdAB0ZXN0ADEyMzQ=\r\nMAIL FROM:<a@b.c>\r\n"]);
    assert_eq!(reply_codes(&run.out), [220, 250, 530, 235, 250]);
}

#[test]
fn command_order_503() {
    let run = run_pieces(
        Options::default(),
        &[b"MAIL FROM:<a@b.c>\r\nEHLO a\r\nRCPT TO:<a@b.c>\r\nDATA\r\nMAIL FROM:<a@b.c>\r\nMAIL FROM:<a@b.c>\r\nDATA\r\nNOOP\r\nRSET\r\nVRFY x\r\nHELP\r\n"],
    );
    assert_eq!(
        reply_codes(&run.out),
        [220, 503, 250, 503, 503, 250, 503, 554, 250, 250, 252, 214]
    );
}

#[test]
fn helo_session_refuses_extensions() {
    let run = run_pieces(
        Options::default(),
        &[b"HELO a\r\nMAIL FROM:<a@b.c> SIZE=10\r\nMAIL FROM:<a@b.c>\r\n"],
    );
    assert_eq!(reply_codes(&run.out), [220, 250, 555, 250]);
    assert!(!run.out.windows(10).any(|w| w == b"PIPELINING"));
}

/// The SMTP smuggling sequences of the workspace issue: none of them ends
/// the data, so the pipelined transaction after each stays inside the one
/// message (rejected, since a bare CR or LF is in it).
const SMUGGLE: [&[u8]; 11] = [
    b"\n.\n",
    b"\n.\r\n",
    b"\r.\r\n",
    b"\r\n.\n",
    b"\r\n.\r",
    b"\r.\r",
    b"\n.\r",
    b"\r.\n",
    b"\r\n\x00.\r\n",
    b"\r\n.\r\r\n",
    b"\r\r\n.\r\r\n",
];

fn smuggle_input(seq: &[u8]) -> Vec<u8> {
    let mut v =
        b"EHLO a\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<c@d.e>\r\nDATA\r\nSubject: hi\r\n\r\nbody"
            .to_vec();
    v.extend_from_slice(seq);
    v.extend_from_slice(b"MAIL FROM:<evil@x.y>\r\nRCPT TO:<victim@d.e>\r\nDATA\r\nsmuggled\r\n");
    v.extend_from_slice(b"\r\n.\r\nQUIT\r\n");
    v
}

#[test]
fn smuggling_sequences_yield_one_message() {
    for policy in [
        mailwire_line::BareEol::Reject,
        mailwire_line::BareEol::Normalize,
    ] {
        for seq in SMUGGLE {
            let mut o = Options::default();
            o.bare_eol = policy;
            let input = smuggle_input(seq);
            for run in [run_pieces(o.clone(), &[&input]), {
                let pieces: Vec<&[u8]> = input.chunks(1).collect();
                run_pieces(o.clone(), &pieces)
            }] {
                let mails = run.events.iter().filter(|e| e.starts_with("Mail(")).count();
                let ends = run
                    .events
                    .iter()
                    .filter(|e| e.starts_with("DataEnd") || e.contains("BareLineEnding"))
                    .count();
                assert_eq!(mails, 1, "{seq:?} {policy:?}: {:?}", run.events);
                assert_eq!(ends, 1, "{seq:?} {policy:?}: {:?}", run.events);
                assert!(!run.events.iter().any(|e| e.contains("evil")), "{seq:?}");
                let codes = reply_codes(&run.out);
                assert_eq!(codes.last(), Some(&221), "{seq:?}");
                if policy == mailwire_line::BareEol::Reject && seq != b"\r\n\x00.\r\n" {
                    assert!(codes.contains(&550), "{seq:?} {codes:?}");
                }
            }
        }
    }
}

#[test]
fn starttls_pipelined_plaintext_is_never_answered() {
    let mut o = Options::default();
    o.starttls = true;
    let now = Instant::now();
    let mut s = Scripted::new(Srv(Server::new(o.clone(), now)), now);
    let _ = s.take_output();
    s.send(b"EHLO a\r\n");
    assert!(s.take_output().windows(8).any(|w| w == b"STARTTLS"));
    let _ = s.events();
    s.send(b"STARTTLS\r\nRSET\r\n");
    assert_eq!(s.take_output(), b"220 2.0.0 Ready to start TLS\r\n");
    let ev: Vec<String> = s.events().iter().map(describe).collect();
    assert_eq!(ev, ["Closed { reason: PlaintextAfterStartTls }"]);
    s.send(b"RSET\r\n");
    s.expect_nothing();

    // STARTTLS alone, then plaintext before the handshake: closed too.
    let mut s = Scripted::new(Srv(Server::new(o.clone(), now)), now);
    s.send(b"EHLO a\r\nSTARTTLS\r\n");
    let _ = s.take_output();
    assert!(s.events().iter().any(|e| matches!(e, Event::StartTls)));
    s.send(b"R");
    s.expect_nothing();
    assert!(s.events().iter().any(|e| matches!(
        e,
        Event::Closed {
            reason: ConnectionError::PlaintextAfterStartTls
        }
    )));

    // The real upgrade: EHLO is required again and STARTTLS is no longer offered.
    let mut s = Scripted::new(Srv(Server::new(o, now)), now);
    s.send(b"EHLO a\r\nSTARTTLS\r\n");
    let _ = s.take_output();
    s.act(|m| m.handle_tls_established(now));
    s.send(b"MAIL FROM:<a@b.c>\r\nEHLO a\r\n");
    let out = s.take_output();
    assert_eq!(reply_codes(&out), [503, 250]);
    assert!(!out.windows(8).any(|w| w == b"STARTTLS"));
    assert!(s.machine.is_tls());
}

#[test]
fn over_long_path_501() {
    let long = format!(
        "EHLO a\r\nMAIL FROM:<{}@b.c>\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<{}@x.y>\r\n",
        "a".repeat(65),
        "b".repeat(300)
    );
    let run = run_pieces(Options::default(), &[long.as_bytes()]);
    assert_eq!(reply_codes(&run.out), [220, 250, 501, 250, 501]);
}

#[test]
fn too_many_recipients_452() {
    let mut o = Options::default();
    o.max_recipients = 3; // raised to the RFC minimum of 100
    let mut input = b"EHLO a\r\nMAIL FROM:<a@b.c>\r\n".to_vec();
    for i in 0..101 {
        input.extend_from_slice(format!("RCPT TO:<r{i}@d.e>\r\n").as_bytes());
    }
    let run = run_pieces(o, &[&input]);
    let codes = reply_codes(&run.out);
    assert_eq!(codes.iter().filter(|c| **c == 250).count(), 1 + 1 + 100);
    assert_eq!(codes.last(), Some(&452));
}

#[test]
fn oversized_data_552() {
    let mut o = Options::default();
    o.max_message_size = 100;
    // Declared too large.
    let run = run_pieces(o.clone(), &[b"EHLO a\r\nMAIL FROM:<a@b.c> SIZE=101\r\n"]);
    assert_eq!(reply_codes(&run.out), [220, 250, 552]);
    assert!(run.out.windows(8).any(|w| w == b"SIZE 100"));
    // DATA over the limit: 552 at the end, then the session goes on.
    let mut input = b"EHLO a\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<c@d.e>\r\nDATA\r\n".to_vec();
    input.extend_from_slice(&b"0123456789\r\n".repeat(20));
    input.extend_from_slice(b".\r\nNOOP\r\n");
    let run = run_pieces(o.clone(), &[&input]);
    assert_eq!(reply_codes(&run.out), [220, 250, 250, 250, 354, 552, 250]);
    assert!(run.events.iter().any(|e| e.contains("TooLarge")));
    // BDAT over the limit: the chunk is read and dropped.
    let mut input = b"EHLO a\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<c@d.e>\r\nBDAT 150 LAST\r\n".to_vec();
    input.extend_from_slice(&[b'x'; 150]);
    input.extend_from_slice(b"NOOP\r\n");
    let run = run_pieces(o, &[&input]);
    assert_eq!(reply_codes(&run.out), [220, 250, 250, 250, 552, 250]);
    let _ = AbortReason::TooLarge;
}

#[test]
fn large_bdat_in_one_read_streams_and_overflow_is_bounded() {
    // A 3 MiB chunk in one read is streamed out, not held.
    let mut input =
        b"EHLO a\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<c@d.e>\r\nBDAT 3145728 LAST\r\n".to_vec();
    input.extend(std::iter::repeat_n(b'x', 3 << 20));
    input.extend_from_slice(b"QUIT\r\n");
    let run = run_pieces(Options::default(), &[&input]);
    assert_eq!(reply_codes(&run.out), [220, 250, 250, 250, 250, 221]);
    assert_eq!(run.body[0].len(), 3 << 20);
    // Input held while a decision is pending is capped.
    let now = Instant::now();
    let mut o = Options::default();
    o.max_buffered = 1000;
    let mut s = Scripted::new(Srv(Server::new(o, now)), now);
    s.send(b"EHLO a\r\nMAIL FROM:<a@b.c>\r\n");
    assert!(s.machine.wants_read());
    s.send(&b"NOOP\r\n".repeat(3000));
    assert!(!s.machine.wants_read() && !s.machine.is_closed());
    s.send(b"NOOP\r\n");
    assert!(s.machine.is_closed());
    assert!(s.events().iter().any(|e| matches!(
        e,
        Event::Closed {
            reason: ConnectionError::InputOverflow
        }
    )));
}

#[test]
fn bad_command_limit_421() {
    let mut o = Options::default();
    o.max_bad_commands = 3;
    let run = run_pieces(o, &[b"FOO\r\nBAR\r\nBAZ\r\nNOOP\r\n"]);
    assert_eq!(reply_codes(&run.out), [220, 500, 500, 421]);
    assert_eq!(
        run.events.last().unwrap(),
        "Closed { reason: TooManyBadCommands }"
    );
}

#[test]
fn line_too_long_500_and_bare_lf() {
    let mut input = b"NOOP ".to_vec();
    input.extend_from_slice(&[b'x'; 5000]);
    input.extend_from_slice(b"\r\nNOOP\nNOOP\r\n");
    let run = run_pieces(Options::default(), &[&input]);
    assert_eq!(reply_codes(&run.out), [220, 500, 500, 250]);
}

#[test]
fn timeouts_rfc5321_4_5_3_2() {
    let now = Instant::now();
    let mut s = Scripted::new(Srv(Server::new(Options::default(), now)), now);
    let _ = s.take_output();
    assert_eq!(
        s.machine.poll_timeout(),
        Some(now + Duration::from_secs(300))
    );
    s.advance(Duration::from_secs(299));
    s.expect_nothing();
    s.send(b"NOOP\r\n");
    s.expect(b"250 2.0.0 OK\r\n");
    // The wait restarts at the last input.
    assert_eq!(
        s.machine.poll_timeout(),
        Some(now + Duration::from_secs(599))
    );
    s.advance(Duration::from_secs(300));
    assert_eq!(reply_codes(&s.take_output()), [421]);
    assert!(s.machine.is_closed());
    assert!(s.events().iter().any(|e| matches!(
        e,
        Event::Closed {
            reason: ConnectionError::Timeout(_)
        }
    )));
    // No timer runs while the application decides.
    let mut s = Scripted::new(Srv(Server::new(Options::default(), now)), now);
    s.send(b"EHLO a\r\nMAIL FROM:<a@b.c>\r\n");
    assert_eq!(s.machine.poll_timeout(), None);
}

#[test]
fn reply_errors_hand_the_value_back() {
    let now = Instant::now();
    let mut s = Server::new(Options::default(), now);
    s.handle_input(now, b"EHLO a\r\nMAIL FROM:<a@b.c>\r\n");
    let mut handle = None;
    while let Some(e) = s.poll_event() {
        if let Event::Mail { handle: h, .. } = e {
            handle = Some(h);
        }
    }
    let h = handle.unwrap();
    let r354 = Reply::single(354, None, "go").unwrap();
    let err = s.reply(h, r354.clone()).unwrap_err();
    assert_eq!(err.into_inner(), r354);
    assert!(s.auth_challenge(h, b"").is_err());
    s.accept(h).unwrap();
    assert!(s.accept(h).is_err());
}

#[test]
fn rejecting_server_554() {
    let now = Instant::now();
    let mut s = Scripted::new(Srv(Server::new_rejecting(Options::default(), now)), now);
    s.send(b"EHLO a\r\nMAIL FROM:<a@b.c>\r\nQUIT\r\n");
    assert_eq!(reply_codes(&s.take_output()), [554, 503, 503, 221]);
}

#[test]
fn smtputf8_addresses() {
    let run = run_pieces(Options::default(), &[
        "EHLO a\r\nMAIL FROM:<用户@例子.广告>\r\nMAIL FROM:<用户@例子.广告> SMTPUTF8\r\nRCPT TO:<ü@x.y>\r\n".as_bytes(),
    ]);
    assert_eq!(reply_codes(&run.out), [220, 250, 553, 250, 250]);
}

/// `all` cut at the given offsets (taken modulo its length, in order).
fn split_at(all: &[u8], cuts: Vec<usize>) -> Vec<&[u8]> {
    let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (all.len() + 1)).collect();
    cuts.sort();
    let mut pieces = Vec::new();
    let mut last = 0;
    for c in cuts {
        pieces.push(&all[last..c]);
        last = c;
    }
    pieces.push(&all[last..]);
    pieces
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any split of a session gives the same output and events as one feed.
    #[test]
    fn any_split_same_events(cuts in proptest::collection::vec(0usize..2000, 0..12), which in 0usize..5) {
        let text = [RFC5321_D_1, RFC5321_D_3, RFC2920_3_1, RFC3030_4_1, RFC3461_DSN][which];
        let t = Transcript::parse(text);
        let all = t.bytes_of(Side::Client);
        let pieces = split_at(&all, cuts);
        let whole = run_pieces(tls_opts(), &[&all]);
        let split = run_pieces(tls_opts(), &pieces);
        prop_assert_eq!(whole.out, split.out);
        prop_assert_eq!(whole.events, split.events);
        prop_assert_eq!(whole.body, split.body);
    }

    /// RFC 6710 §3: a session with MT-PRIORITY, split anywhere, gives the
    /// same replies and events (the priority in the MAIL event).
    #[test]
    fn rfc6710_3_any_split_same_events(cuts in proptest::collection::vec(0usize..200, 0..8)) {
        let all: &[u8] = b"EHLO a\r\nMAIL FROM:<a@b.c> MT-PRIORITY=-3\r\nRCPT TO:<d@e.f>\r\nDATA\r\nhi\r\n.\r\nMAIL FROM:<a@b.c> MT-PRIORITY=12\r\nQUIT\r\n";
        let pieces = split_at(all, cuts);
        let whole = run_pieces(mt_priority_opts(None), &[all]);
        let split = run_pieces(mt_priority_opts(None), &pieces);
        prop_assert_eq!(reply_codes(&whole.out), [220, 250, 250, 250, 354, 250, 501, 221]);
        prop_assert!(whole.events.iter().any(|e| e.contains("Priority(-3)")));
        prop_assert_eq!(whole.out, split.out);
        prop_assert_eq!(whole.events, split.events);
    }

    /// Arbitrary bytes never panic, and memory stays bounded.
    #[test]
    fn arbitrary_input_never_panics(data in proptest::collection::vec(any::<u8>(), 0..600)) {
        let run = run_pieces(tls_opts(), &[b"EHLO a\r\n", &data]);
        prop_assert!(run.out.starts_with(b"220 "));
    }
}

#[test]
fn every_split_point_and_bytewise() {
    for text in [RFC5321_D_1, RFC3030_4_1, RFC4954_4_PLAIN] {
        let all = Transcript::parse(text).bytes_of(Side::Client);
        let whole = run_pieces(tls_opts(), &[&all]);
        for i in 0..=all.len() {
            let split = run_pieces(tls_opts(), &[&all[..i], &all[i..]]);
            assert_eq!(split.out, whole.out, "split at {i}");
            assert_eq!(split.events, whole.events, "split at {i}");
        }
        let bytes: Vec<&[u8]> = all.chunks(1).collect();
        let bw = run_pieces(tls_opts(), &bytes);
        assert_eq!(bw.out, whole.out);
        assert_eq!(bw.events, whole.events);
    }
}

/// RFC 8689 §4.1: REQUIRETLS offered and its MAIL parameter taken only
/// under TLS (530 5.7.10 before), carried in the MAIL event; refused as
/// unknown (555) when not configured.
#[test]
fn rfc8689_4_1_requiretls_only_under_tls() {
    let mut o = Options::default();
    o.requiretls = true;
    let plain = run_pieces(o.clone(), &[b"EHLO a\r\nMAIL FROM:<a@b.c> REQUIRETLS\r\n"]);
    assert!(!String::from_utf8_lossy(&plain.out).contains("250-REQUIRETLS"));
    assert_eq!(reply_codes(&plain.out), [220, 250, 530]);
    assert!(String::from_utf8_lossy(&plain.out).contains("530 5.7.10 "));
    o.implicit_tls = true;
    let tls = run_pieces(o.clone(), &[b"EHLO a\r\nMAIL FROM:<a@b.c> REQUIRETLS\r\n"]);
    assert!(String::from_utf8_lossy(&tls.out).contains("250-REQUIRETLS\r\n"));
    assert_eq!(reply_codes(&tls.out), [220, 250, 250]);
    assert!(
        tls.events
            .iter()
            .any(|e| e.starts_with("Mail(") && e.contains("requiretls: true")),
        "{:?}",
        tls.events
    );
    o.requiretls = false;
    let off = run_pieces(o, &[b"EHLO a\r\nMAIL FROM:<a@b.c> REQUIRETLS\r\n"]);
    assert!(!String::from_utf8_lossy(&off.out).contains("250-REQUIRETLS"));
    assert_eq!(reply_codes(&off.out), [220, 250, 555]);
}

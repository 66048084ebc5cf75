//! Client state machine: RFC transcripts from the client side, pair tests
//! against the server machine, STARTTLS injection, per-recipient results.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers, outside #[test] fns

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use mailwire_sasl::{Credentials, Secret};
use mailwire_smtp::client::{Client, Envelope, Event, MailError, Options, SendError, TlsMode};
use mailwire_smtp::server::{self, Server};
use mailwire_smtp::*;
use mailwire_testkit::{Direction, Pair, Scripted, Side, Transcript};
use proptest::prelude::*;

mailwire_testkit::machine!(struct Cli(Client), Event);
mailwire_testkit::machine!(struct Srv(Server), server::Event);

fn mbox(s: &str) -> Mailbox<'static> {
    Mailbox::try_from(s.to_owned()).unwrap()
}

fn env(from: &str, to: &[&str]) -> Envelope {
    Envelope::new(ReversePath::Mailbox(mbox(from)), to.iter().map(|t| mbox(t)))
}

fn opts(helo: &str) -> Options {
    let mut o = Options::default();
    o.helo_domain = Host::try_from(helo.to_owned()).unwrap();
    o
}

/// Strips ` SIZE=<n>` from MAIL lines: the client declares SIZE when the
/// server offers it, which the RFC transcripts do not show.
fn strip_size(bytes: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(bytes).into_owned();
    let mut out = String::new();
    for line in text.split_inclusive("\r\n") {
        if line.starts_with("MAIL FROM:") {
            let mut parts: Vec<&str> = line
                .trim_end()
                .split(' ')
                .filter(|p| !p.starts_with("SIZE="))
                .collect();
            let joined = parts.join(" ");
            parts.clear();
            out.push_str(&joined);
            out.push_str("\r\n");
        } else {
            out.push_str(line);
        }
    }
    out.into_bytes()
}

/// Feeds the transcript's server replies one at a time, whenever the
/// client has sent what it can; returns everything the client sent and
/// every event.
fn replay_client(text: &str, mut client: Client, pieces: Option<usize>) -> (Vec<u8>, Vec<Event>) {
    let t = Transcript::parse(text);
    let server_bytes = t.bytes_of(Side::Server);
    let now = Instant::now();
    let mut replies = Vec::new();
    let mut rest = &server_bytes[..];
    while !rest.is_empty() {
        let Ok(Status::Complete(n)) = reply_frame(rest, 4096, 100) else {
            panic!("bad transcript")
        };
        replies.push(rest[..n].to_vec());
        rest = &rest[n..];
    }
    let mut out = Vec::new();
    let mut events = Vec::new();
    for r in replies {
        while client.poll_transmit(now, &mut out).is_some() {}
        match pieces {
            None => client.handle_input(now, &r),
            Some(k) => r.chunks(k).for_each(|c| client.handle_input(now, c)),
        }
        while let Some(e) = client.poll_event() {
            events.push(e);
        }
    }
    while client.poll_transmit(now, &mut out).is_some() {}
    while let Some(e) = client.poll_event() {
        events.push(e);
    }
    (out, events)
}

fn outcome(events: &[Event]) -> &client::Outcome {
    events
        .iter()
        .find_map(|e| match e {
            Event::MailSent { result: Ok(o), .. } => Some(o),
            _ => None,
        })
        .expect("a MailSent event")
}

fn d1_client(helo: &str, from: &str, to: &[&str], body: &str) -> Client {
    let mut c = Client::new(opts(helo), Instant::now());
    c.send_mail(env(from, to), Bytes::from(body.to_owned()))
        .unwrap();
    c.quit();
    c
}

#[test]
fn rfc5321_d_1_client() {
    let c = d1_client(
        "bar.com",
        "Smith@bar.com",
        &["Jones@foo.com", "Green@foo.com", "Brown@foo.com"],
        "Blah blah blah...\r\n..etc. etc. etc.\r\n",
    );
    let (out, events) = replay_client(RFC5321_D_1, c, None);
    let t = Transcript::parse(RFC5321_D_1);
    assert_eq!(
        String::from_utf8_lossy(&strip_size(&out)),
        String::from_utf8_lossy(&t.bytes_of(Side::Client))
    );
    let o = outcome(&events);
    let delivered: Vec<bool> = o.recipients.iter().map(|r| r.delivered).collect();
    assert_eq!(delivered, [true, false, true]);
    assert_eq!(o.recipients[1].reply.as_ref().unwrap().code().get(), 550);
    assert!(matches!(
        events.last(),
        Some(Event::Closed {
            reason: ConnectionError::Quit
        })
    ));
}

#[test]
fn rfc5321_d_3_client() {
    let body = "Date: Thu, 21 May 1998 05:33:29 -0700\r\nFrom: John Q. Public <JQP@bar.com>\r\nSubject: The Next Meeting of the Board\r\nTo: Jones@xyz.com\r\n\r\nBill:\r\nThe next meeting of the board of directors will be\r\non Tuesday.\r\nJohn.\r\n";
    let c = d1_client("bar.com", "JQP@bar.com", &["Jones@XYZ.COM"], body);
    let (out, events) = replay_client(RFC5321_D_3, c, None);
    assert_eq!(
        strip_size(&out),
        Transcript::parse(RFC5321_D_3).bytes_of(Side::Client)
    );
    assert!(outcome(&events).all_delivered());
}

#[test]
fn rfc2920_3_1_client_pipelines() {
    let c = d1_client(
        "dbc.mtview.ca.us",
        "mrose@dbc.mtview.ca.us",
        &["ned@innosoft.com", "dan@innosoft.com", "kvc@innosoft.com"],
        "Hello.\r\n",
    );
    let (out, events) = replay_client(RFC2920_3_1, c, None);
    assert_eq!(out, Transcript::parse(RFC2920_3_1).bytes_of(Side::Client));
    assert!(outcome(&events).all_delivered());
    // The group MAIL..DATA leaves in one transmit.
    let now = Instant::now();
    let mut c = Client::new(opts("a.example"), now);
    c.send_mail(
        env("a@b.c", &["d@e.f", "g@h.i"]),
        Bytes::from_static(b"x\r\n"),
    )
    .unwrap();
    let mut s = Scripted::new(Cli(c), now);
    s.send(b"220 x\r\n");
    s.expect(b"EHLO a.example\r\n");
    s.send(b"250-x\r\n250 PIPELINING\r\n");
    s.expect(b"MAIL FROM:<a@b.c>\r\nRCPT TO:<d@e.f>\r\nRCPT TO:<g@h.i>\r\nDATA\r\n");
}

#[test]
fn rfc2920_3_2_client_all_refused() {
    let c = d1_client(
        "dbc.mtview.ca.us",
        "mrose@dbc.mtview.ca.us",
        &["nsb@thumper.bellcore.com", "galvin@tis.com"],
        "Hello.\r\n",
    );
    let (out, events) = replay_client(RFC2920_3_2, c, None);
    // After the refused DATA the client resets the open transaction.
    let mut want = Transcript::parse(RFC2920_3_2).bytes_of(Side::Client);
    let quit = want.len() - b"QUIT\r\n".len();
    want.splice(quit..quit, b"RSET\r\n".iter().copied());
    let t = text_without(&out);
    assert!(t.starts_with("EHLO dbc.mtview.ca.us\r\nMAIL FROM:<mrose@dbc.mtview.ca.us>\r\nRCPT TO:<nsb@thumper.bellcore.com>\r\nRCPT TO:<galvin@tis.com>\r\nDATA\r\nRSET\r\n"), "{t}");
    let o = outcome(&events);
    assert!(!o.is_delivered());
    assert_eq!(o.data.as_ref().unwrap().code().get(), 554);
}

fn text_without(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn rfc3030_4_1_client_bdat() {
    let body = "To: Susan@random.com\r\nFrom: Sam@random.com\r\nSubject: This is a bodyless test message\r\n";
    assert_eq!(body.len(), 86);
    let c = d1_client(
        "ymir.claremont.edu",
        "Sam@Random.com",
        &["Susan@Random.com"],
        body,
    );
    let (out, events) = replay_client(RFC3030_4_1, c, None);
    assert_eq!(
        text_without(&out),
        text_without(&Transcript::parse(RFC3030_4_1).bytes_of(Side::Client))
    );
    assert!(outcome(&events).all_delivered());
}

#[test]
fn rfc3461_client_dsn_parameters() {
    let mut c = Client::new(opts("Example.ORG"), Instant::now());
    let mut e = env(
        "Alice@Example.ORG",
        &["Bob@Example.COM", "Fred@Bombs.AF.MIL"],
    );
    e.params.ret = Some(Ret::Hdrs);
    e.params.envid = Some(XText::try_from("QQ314159").unwrap());
    e.recipients[0].1.notify = Some(Notify {
        success: true,
        ..Notify::NEVER
    });
    e.recipients[0].1.orcpt = Some(Orcpt {
        addr_type: Keyword::try_from("rfc822").unwrap(),
        addr: XText::encode(b"Bob@Example.COM"),
    });
    e.recipients[1].1.notify = Some(Notify::NEVER);
    c.send_mail(e, Bytes::from_static(b"Subject: dsn\r\n\r\nhi\r\n"))
        .unwrap();
    c.quit();
    let (out, events) = replay_client(RFC3461_DSN, c, None);
    assert_eq!(
        text_without(&out),
        text_without(&Transcript::parse(RFC3461_DSN).bytes_of(Side::Client))
    );
    assert!(outcome(&events).all_delivered());
}

#[test]
fn rfc4954_4_client_auth_plain() {
    {
        let text = RFC4954_4_PLAIN_IR;
        let mut o = opts("client.example.com");
        o.implicit_tls = true;
        o.credentials =
            Some(Credentials::password("test", Secret::from("1234")).with_authzid("test"));
        let c = Client::new(o, Instant::now());
        let (out, events) = replay_client(text, c, None);
        assert_eq!(out, Transcript::parse(text).bytes_of(Side::Client));
        assert!(
            events
                .iter()
                .any(|e| matches!(e, Event::Authenticated(mailwire_sasl::Mechanism::Plain)))
        );
        assert!(events.iter().any(|e| matches!(e, Event::Ready(_))));
    }
}

#[test]
fn auth_login_against_server_challenges() {
    let now = Instant::now();
    let mut o = opts("c.example");
    o.implicit_tls = true;
    o.mechanisms = vec![mailwire_sasl::Mechanism::Login];
    o.credentials = Some(Credentials::password("user", Secret::from("pass")));
    let mut s = Scripted::new(Cli(Client::new(o, now)), now);
    s.send(b"220 x\r\n");
    s.expect(b"EHLO c.example\r\n");
    s.send(b"250-x\r\n250 AUTH PLAIN LOGIN\r\n");
    s.expect(b"AUTH LOGIN\r\n");
    s.send(b"334 VXNlcm5hbWU6\r\n");
    s.expect(b"dXNlcg==\r\n");
    s.send(b"334 UGFzc3dvcmQ6\r\n");
    s.expect(b"cGFzcw==\r\n");
    s.send(b"535 5.7.8 no\r\n");
    s.expect(b"QUIT\r\n");
    assert!(s.events().iter().any(|e| matches!(
        e,
        Event::Closed {
            reason: ConnectionError::AuthFailed(_)
        }
    )));
}

#[test]
fn no_plaintext_auth_before_tls() {
    let now = Instant::now();
    let mut o = opts("c.example");
    o.credentials = Some(Credentials::password("user", Secret::from("pass")));
    let mut s = Scripted::new(Cli(Client::new(o, now)), now);
    s.send(b"220 x\r\n250-x\r\n250 AUTH PLAIN LOGIN\r\n");
    s.expect(b"EHLO c.example\r\nQUIT\r\n");
    assert!(s.events().iter().any(|e| matches!(
        e,
        Event::Closed {
            reason: ConnectionError::AuthFailed(_)
        }
    )));
}

#[test]
fn starttls_bytes_with_the_220_are_rejected() {
    // Exim CVE-2021-38371: a reply injected with the 220 before TLS.
    let now = Instant::now();
    let mut o = opts("c.example");
    o.starttls = TlsMode::Required;
    for split in [false, true] {
        let mut s = Scripted::new(Cli(Client::new(o.clone(), now)), now);
        s.send(b"220 x\r\n");
        s.expect(b"EHLO c.example\r\n");
        s.send(b"250-x\r\n250 STARTTLS\r\n");
        s.expect(b"STARTTLS\r\n");
        if split {
            s.send(b"220 go ahead\r\n");
            assert!(s.events().iter().any(|e| matches!(e, Event::StartTls)));
            s.send(b"250 injected\r\n");
        } else {
            s.send(b"220 go ahead\r\n250 injected\r\n");
        }
        s.expect_nothing();
        let ev = s.events();
        assert!(
            ev.iter().any(|e| matches!(
                e,
                Event::Closed {
                    reason: ConnectionError::PlaintextAfterStartTls
                }
            )),
            "{ev:?}"
        );
        assert!(!ev.iter().any(|e| matches!(e, Event::Ready(_))));
    }
    // The clean upgrade: EHLO again, capabilities forgotten.
    let mut s = Scripted::new(Cli(Client::new(o.clone(), now)), now);
    s.send(b"220 x\r\n250-x\r\n250 STARTTLS\r\n");
    s.expect(b"EHLO c.example\r\nSTARTTLS\r\n");
    s.send(b"220 go ahead\r\n");
    assert!(s.machine.capabilities().is_some());
    s.act(|c| c.handle_tls_established(now));
    s.expect(b"EHLO c.example\r\n");
    assert!(s.machine.capabilities().is_none());
    s.send(b"250-x\r\n250 8BITMIME\r\n");
    assert!(s.events().iter().any(|e| matches!(e, Event::Ready(_))));
    assert!(s.machine.is_tls());
    // Required but not offered.
    let mut s = Scripted::new(Cli(Client::new(o, now)), now);
    s.send(b"220 x\r\n250 x\r\n");
    s.expect(b"EHLO c.example\r\nQUIT\r\n");
    assert!(s.events().iter().any(|e| matches!(
        e,
        Event::Closed {
            reason: ConnectionError::TlsUnavailable
        }
    )));
}

#[test]
fn opportunistic_tls_goes_on_without_it() {
    let now = Instant::now();
    let mut o = opts("c.example");
    o.starttls = TlsMode::Opportunistic;
    let mut s = Scripted::new(Cli(Client::new(o, now)), now);
    s.send(b"220 x\r\n250 x\r\n");
    s.expect(b"EHLO c.example\r\n");
    assert!(s.events().iter().any(|e| matches!(e, Event::Ready(_))));
}

#[test]
fn ehlo_falls_back_to_helo() {
    let now = Instant::now();
    let mut s = Scripted::new(Cli(Client::new(opts("c.example"), now)), now);
    s.send(b"220 x\r\n502 5.5.1 no EHLO\r\n");
    s.expect(b"EHLO c.example\r\nHELO c.example\r\n");
    s.send(b"250 x\r\n");
    assert!(s.events().iter().any(|e| matches!(e, Event::Ready(_))));
    s.act(|c| {
        c.send_mail(env("a@b.c", &["d@e.f"]), Bytes::from_static(b"hi\r\n"))
            .map(|_| ())
            .unwrap()
    });
    s.expect(b"MAIL FROM:<a@b.c>\r\n");
}

#[test]
fn greeting_refused_and_421() {
    let now = Instant::now();
    let mut s = Scripted::new(Cli(Client::new(opts("c.example"), now)), now);
    s.send(b"554 go away\r\n");
    s.expect(b"QUIT\r\n");
    assert!(s.events().iter().any(|e| matches!(
        e,
        Event::Closed {
            reason: ConnectionError::ServiceUnavailable(554, _)
        }
    )));
    let mut s = Scripted::new(Cli(Client::new(opts("c.example"), now)), now);
    s.act(|c| {
        c.send_mail(env("a@b.c", &["d@e.f"]), Bytes::from_static(b"hi\r\n"))
            .map(|_| ())
            .unwrap()
    });
    s.send(b"220 x\r\n421 4.3.2 shutting down\r\n");
    let ev = s.events();
    assert!(ev.iter().any(|e| matches!(
        e,
        Event::MailSent {
            result: Err(MailError::ConnectionLost(_)),
            ..
        }
    )));
    assert!(ev.iter().any(|e| matches!(
        e,
        Event::Closed {
            reason: ConnectionError::ServiceUnavailable(421, _)
        }
    )));
}

#[test]
fn gibberish_greeting_and_bare_lf() {
    let now = Instant::now();
    for bad in [&b"hello there\r\n"[..], b"220 x\n", b"999 x\r\n"] {
        let mut s = Scripted::new(Cli(Client::new(opts("c.example"), now)), now);
        s.send(bad);
        assert!(
            s.events().iter().any(|e| matches!(
                e,
                Event::Closed {
                    reason: ConnectionError::MalformedReply
                }
            )),
            "{bad:?}"
        );
    }
    let mut s = Scripted::new(Cli(Client::new(opts("c.example"), now)), now);
    s.send(&[b'2'; 5000]);
    assert!(s.machine.is_closed());
}

#[test]
fn extension_checks() {
    let now = Instant::now();
    let run = |ehlo: &[u8], e: Envelope, body: &'static [u8]| {
        let mut s = Scripted::new(Cli(Client::new(opts("c.example"), now)), now);
        s.act(|c| {
            c.send_mail(e, Bytes::from_static(body))
                .map(|_| ())
                .unwrap()
        });
        s.send(b"220 x\r\n");
        s.send(ehlo);
        let out = s.take_output();
        (text_without(&out), s.events())
    };
    // 8-bit content: BODY=8BITMIME when offered, a clear error when not.
    let (out, _) = run(
        b"250-x\r\n250-8BITMIME\r\n250 SIZE 1000\r\n",
        env("a@b.c", &["d@e.f"]),
        "héllo\r\n".as_bytes(),
    );
    assert!(
        out.contains("MAIL FROM:<a@b.c> SIZE=8 BODY=8BITMIME\r\n"),
        "{out}"
    );
    let (_, ev) = run(
        b"250 x\r\n",
        env("a@b.c", &["d@e.f"]),
        "héllo\r\n".as_bytes(),
    );
    assert!(ev.iter().any(|e| matches!(
        e,
        Event::MailSent {
            result: Err(MailError::EightBitUnsupported),
            ..
        }
    )));
    // SIZE over the server's limit.
    let (out, ev) = run(
        b"250-x\r\n250 SIZE 3\r\n",
        env("a@b.c", &["d@e.f"]),
        b"hello\r\n",
    );
    assert!(!out.contains("MAIL"));
    assert!(ev.iter().any(|e| matches!(
        e,
        Event::MailSent {
            result: Err(MailError::TooLarge { size: 7, limit: 3 }),
            ..
        }
    )));
    // SMTPUTF8.
    let utf8 = Envelope::new(
        ReversePath::Mailbox(mbox("用户@例子.广告")),
        [mbox("d@e.f")],
    );
    let (out, _) = run(
        b"250-x\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n",
        utf8.clone(),
        b"hi\r\n",
    );
    assert!(
        out.contains("MAIL FROM:<用户@例子.广告> SMTPUTF8\r\n"),
        "{out}"
    );
    let (_, ev) = run(b"250 x\r\n", utf8, b"hi\r\n");
    assert!(ev.iter().any(|e| matches!(
        e,
        Event::MailSent {
            result: Err(MailError::SmtpUtf8Unsupported),
            ..
        }
    )));
    // DSN.
    let mut dsn = env("a@b.c", &["d@e.f"]);
    dsn.params.ret = Some(Ret::Full);
    let (_, ev) = run(b"250 x\r\n", dsn, b"hi\r\n");
    assert!(ev.iter().any(|e| matches!(
        e,
        Event::MailSent {
            result: Err(MailError::DsnUnsupported),
            ..
        }
    )));
}

/// RFC 6710 §3: MT-PRIORITY goes on MAIL only to a server that offers it;
/// to one that does not, the message is not attempted.
/// One message from a@b.c to d@e.f with the MAIL parameters `params`
/// sets, to a server greeting `220 x` and answering EHLO with `ehlo`
/// (under implicit TLS or not): what the client sent, and its events.
fn one_mail(
    implicit_tls: bool,
    ehlo: &[u8],
    params: impl FnOnce(&mut MailParams),
) -> (String, Vec<Event>) {
    let now = Instant::now();
    let mut o = opts("c.example");
    o.implicit_tls = implicit_tls;
    let mut s = Scripted::new(Cli(Client::new(o, now)), now);
    let mut e = env("a@b.c", &["d@e.f"]);
    params(&mut e.params);
    s.act(|c| {
        c.send_mail(e, Bytes::from_static(b"hi\r\n"))
            .map(|_| ())
            .unwrap()
    });
    s.send(b"220 x\r\n");
    s.send(ehlo);
    (text_without(&s.take_output()), s.events())
}

#[test]
fn rfc6710_3_client_sends_mt_priority_only_when_offered() {
    let run = |ehlo: &[u8], p: i8| {
        one_mail(false, ehlo, |params| {
            params.mt_priority = Some(Priority::new(p).unwrap())
        })
    };
    let (out, _) = run(b"250-x\r\n250 MT-PRIORITY MIXER\r\n", -4);
    assert!(
        out.contains("MAIL FROM:<a@b.c> MT-PRIORITY=-4\r\n"),
        "{out}"
    );
    let (out, _) = run(b"250-x\r\n250 MT-PRIORITY\r\n", 9);
    assert!(out.contains("MAIL FROM:<a@b.c> MT-PRIORITY=9\r\n"), "{out}");
    let (out, ev) = run(b"250 x\r\n", 4);
    assert!(!out.contains("MAIL"), "{out}");
    assert!(ev.iter().any(|e| matches!(
        e,
        Event::MailSent {
            result: Err(MailError::MtPriorityUnsupported),
            ..
        }
    )));
}

#[test]
fn client_inputs_refuse_cr_lf_nul() {
    for bad in ["x\ry", "x\ny", "x\0y", "x\r\nRCPT TO:<evil@x>"] {
        assert!(Host::try_from(bad).is_err());
        assert!(Mailbox::try_from(format!("{bad}@b.c")).is_err());
        assert!(Mailbox::try_from(format!("a@{bad}")).is_err());
        assert!(XText::try_from(bad).is_err());
        assert!(Keyword::try_from(bad).is_err());
        assert!(EsmtpValue::try_from(bad).is_err());
        assert!(Text::try_from(bad).is_err());
        assert!(Mechanism::try_from(bad).is_err());
        assert!(InitialResponse::new(bad).is_err());
        // SASL PLAIN refuses NUL inside its fields.
        if bad.contains('\0') {
            assert!(mailwire_sasl::Client::plain(None, bad, Secret::from("p")).is_err());
        }
    }
    // Every envelope value the client writes went through these types, so
    // each encoded command is exactly one line.
    let mut e = env("a@b.c", &["d@e.f"]);
    e.params.envid = Some(XText::encode(b"\r\nRSET\r\n"));
    let mut out = Vec::new();
    Command::Mail(e.from.clone(), e.params.clone()).encode(&mut out);
    assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 1);
    assert!(!out[..out.len() - 2].contains(&b'\r'));
}

#[test]
fn greeting_timeout_rfc5321_4_5_3_2_1() {
    let now = Instant::now();
    let mut s = Scripted::new(Cli(Client::new(opts("c.example"), now)), now);
    assert_eq!(
        s.machine.poll_timeout(),
        Some(now + Duration::from_secs(300))
    );
    s.advance(Duration::from_secs(301));
    assert!(s.events().iter().any(|e| matches!(
        e,
        Event::Closed {
            reason: ConnectionError::Timeout("initial 220 message")
        }
    )));
}

#[test]
fn data_timeouts_rfc5321_4_5_3_2() {
    let now = Instant::now();
    let mut c = Client::new(opts("c.example"), now);
    c.send_mail(env("a@b.c", &["d@e.f"]), Bytes::from_static(b"hi\r\n"))
        .unwrap();
    let mut s = Scripted::new(Cli(c), now);
    s.send(b"220 x\r\n250-x\r\n250 PIPELINING\r\n");
    let _ = s.take_output();
    s.send(b"250 ok\r\n250 ok\r\n");
    // DATA initiation: 2 minutes.
    assert_eq!(
        s.machine.poll_timeout(),
        Some(now + Duration::from_secs(120))
    );
    s.send(b"354 go\r\n");
    assert_eq!(s.take_output(), b"hi\r\n.\r\n");
    // DATA termination: 10 minutes.
    assert_eq!(
        s.machine.poll_timeout(),
        Some(now + Duration::from_secs(600))
    );
    s.advance(Duration::from_secs(601));
    assert!(s.events().iter().any(|e| matches!(
        e,
        Event::Closed {
            reason: ConnectionError::Timeout("DATA termination")
        }
    )));
}

fn server_policy(s: &mut Server, e: server::Event) {
    let s: &mut Server = s;
    match e {
        server::Event::Mail { handle, .. } => s.accept(handle).unwrap(),
        server::Event::Rcpt { handle, to, .. } => {
            if to.to_string().starts_with("bad") {
                s.reply(
                    handle,
                    Reply::single(550, Some((5, 1, 1)), "no such user").unwrap(),
                )
                .unwrap();
            } else {
                s.accept(handle).unwrap();
            }
        }
        server::Event::DataEnd { handle, .. } => s.accept(handle).unwrap(),
        _ => {}
    }
}

fn pair_run(
    copts: Options,
    sopts: server::Options,
    msgs: &[(Envelope, &'static [u8])],
    chunk: Option<usize>,
) -> (Vec<client::Outcome>, Vec<String>, Vec<Vec<u8>>) {
    let now = Instant::now();
    let mut c = Client::new(copts, now);
    for (e, m) in msgs {
        c.send_mail(e.clone(), Bytes::from_static(m)).unwrap();
    }
    c.quit();
    let mut pair = Pair::new(Cli(c), Srv(Server::new(sopts, now)), now);
    pair.chunk = chunk;
    let mut outcomes = Vec::new();
    let closed = std::cell::RefCell::new(Vec::new());
    let mut bodies: Vec<Vec<u8>> = Vec::new();
    pair.drive(
        |_, e| match e {
            Event::MailSent { result, .. } => outcomes.push(result.unwrap()),
            Event::Closed { reason } => closed.borrow_mut().push(format!("client {reason:?}")),
            _ => {}
        },
        |s, e| {
            match &e {
                server::Event::DataStart { .. } => bodies.push(Vec::new()),
                server::Event::DataChunk(c) => bodies.last_mut().unwrap().extend_from_slice(c),
                server::Event::Closed { reason } => {
                    closed.borrow_mut().push(format!("server {reason:?}"))
                }
                _ => {}
            }
            server_policy(s, e)
        },
    );
    (outcomes, closed.into_inner(), bodies)
}

#[test]
fn pair_per_recipient_results_and_several_transactions() {
    let msgs = [
        (
            env("a@b.c", &["ok1@d.e", "bad@d.e", "ok2@d.e"]),
            &b"Subject: 1\r\n\r\n.leading dot\r\nbare\nlf\r\n"[..],
        ),
        (
            env("a@b.c", &["bad1@d.e", "bad2@d.e"]),
            &b"Subject: 2\r\n\r\nnobody\r\n"[..],
        ),
        (
            env("a@b.c", &["ok3@d.e"]),
            &b"Subject: 3\r\n\r\nthree\r\n"[..],
        ),
    ];
    for chunking in [true, false] {
        for pipelining in [true, false] {
            for chunk in [None, Some(1), Some(7)] {
                let mut co = opts("c.example");
                co.chunking = chunking;
                co.pipelining = pipelining;
                // Several BDAT chunks per message.
                co.bdat_chunk_size = 16;
                let (outcomes, closed, bodies) =
                    pair_run(co, server::Options::default(), &msgs, chunk);
                let what = format!("chunking={chunking} pipelining={pipelining} chunk={chunk:?}");
                assert_eq!(outcomes.len(), 3, "{what}");
                let d: Vec<Vec<bool>> = outcomes
                    .iter()
                    .map(|o| o.recipients.iter().map(|r| r.delivered).collect())
                    .collect();
                assert_eq!(
                    d,
                    vec![vec![true, false, true], vec![false, false], vec![true]],
                    "{what}"
                );
                assert_eq!(closed, ["server Quit", "client Quit"], "{what}");
                // The server got exactly the content (dot-stuffing undone,
                // the bare LF made CRLF).
                assert_eq!(
                    bodies.first().unwrap(),
                    b"Subject: 1\r\n\r\n.leading dot\r\nbare\r\nlf\r\n",
                    "{what}"
                );
                assert_eq!(
                    bodies.last().unwrap(),
                    b"Subject: 3\r\n\r\nthree\r\n",
                    "{what}"
                );
            }
        }
    }
}

/// RFC 9422 against the server machine, which announces `LIMITS MAILMAX=2
/// RCPTMAX=100`: the client sends the first 100 of 130 recipients (the
/// rest are `unsent`, for another transaction), and of three messages the
/// third fails with `MailMaxReached` instead of meeting the server's 421;
/// with and without pipelining.
#[test]
fn rfc9422_client_keeps_rcptmax_and_mailmax() {
    let many: Vec<String> = (0..130).map(|k| format!("u{k}@d.e")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    for pipelining in [true, false] {
        let mut so = server::Options::default();
        so.max_transactions = Some(2);
        let now = Instant::now();
        let mut co = opts("c.example");
        co.pipelining = pipelining;
        let mut c = Client::new(co, now);
        for e in [
            env("a@b.c", &many),
            env("a@b.c", &["x@d.e"]),
            env("a@b.c", &["y@d.e"]),
        ] {
            c.send_mail(e, Bytes::from_static(b"Subject: s\r\n\r\nbody\r\n"))
                .unwrap();
        }
        c.quit();
        let mut pair = Pair::new(Cli(c), Srv(Server::new(so, now)), now);
        let mut results = Vec::new();
        let mut rcpts = 0;
        pair.drive(
            |_, e| {
                if let Event::MailSent { result, .. } = e {
                    results.push(result);
                }
            },
            |s, e| {
                if matches!(e, server::Event::Rcpt { .. }) {
                    rcpts += 1;
                }
                server_policy(s, e)
            },
        );
        assert_eq!(rcpts, 101, "pipelining={pipelining}");
        let first = results[0].as_ref().unwrap();
        assert_eq!(first.recipients.iter().filter(|r| r.delivered).count(), 100);
        let unsent: Vec<String> = first.unsent().map(|t| t.to_string()).collect();
        assert_eq!(unsent.len(), 30);
        assert_eq!(unsent[0], "u100@d.e");
        // The next transaction's envelope: those 30.
        let rest = first.rest(&env("a@b.c", &many)).unwrap();
        assert_eq!(rest.recipients.len(), 30);
        assert!(results[1].as_ref().unwrap().all_delivered());
        assert!(results[1].as_ref().unwrap().rest(&rest).is_none());
        assert_eq!(results[2], Err(MailError::MailMaxReached { limit: 2 }));
    }
}

/// RFC 9422 RCPTDOMAINMAX: of recipients in three domains, the client
/// sends those up to the first of a third domain; the rest are `unsent`.
#[test]
fn rfc9422_client_keeps_rcptdomainmax() {
    let now = Instant::now();
    let mut c = Client::new(opts("a.example"), now);
    c.send_mail(
        env(
            "a@b.c",
            &[
                "x@one.test",
                "y@TWO.test",
                "z@One.Test",
                "w@three.test",
                "v@one.test",
            ],
        ),
        Bytes::from_static(b"x\r\n"),
    )
    .unwrap();
    let mut s = Scripted::new(Cli(c), now);
    s.send(b"220 x\r\n");
    s.expect(b"EHLO a.example\r\n");
    s.send(b"250-x\r\n250-PIPELINING\r\n250 LIMITS RCPTDOMAINMAX=2\r\n");
    s.expect(
        b"MAIL FROM:<a@b.c>\r\nRCPT TO:<x@one.test>\r\nRCPT TO:<y@TWO.test>\r\n\
          RCPT TO:<z@One.Test>\r\nDATA\r\n",
    );
    s.send(b"250 ok\r\n250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n");
    s.send(b"250 done\r\n");
    let events = s.events();
    let o = outcome(&events);
    assert_eq!(o.recipients.iter().filter(|r| r.delivered).count(), 3);
    let unsent: Vec<String> = o.unsent().map(|t| t.to_string()).collect();
    assert_eq!(unsent, ["w@three.test", "v@one.test"]);
}

#[test]
fn pair_oversized_message_is_refused_per_message() {
    let mut so = server::Options::default();
    so.max_message_size = 50;
    let big: &'static [u8] = Box::leak(vec![b'x'; 100].into_boxed_slice());
    let msgs = [
        (env("a@b.c", &["ok@d.e"]), big),
        (env("a@b.c", &["ok@d.e"]), &b"small\r\n"[..]),
    ];
    let now = Instant::now();
    let mut c = Client::new(opts("c.example"), now);
    let h1 = c
        .send_mail(msgs[0].0.clone(), Bytes::from_static(msgs[0].1))
        .unwrap();
    c.send_mail(msgs[1].0.clone(), Bytes::from_static(msgs[1].1))
        .unwrap();
    c.quit();
    let mut pair = Pair::new(Cli(c), Srv(Server::new(so, now)), now);
    let mut results = Vec::new();
    pair.drive(
        |_, e| {
            if let Event::MailSent { handle, result } = e {
                results.push((handle, result))
            }
        },
        |s: &mut Srv, e| server_policy(s, e),
    );
    assert!(
        matches!(&results[0], (h, Err(MailError::TooLarge { size: 100, limit: 50 })) if *h == h1)
    );
    assert!(results[1].1.as_ref().unwrap().all_delivered());
}

#[test]
fn pair_tamper_hook_sees_starttls_injection() {
    // A man in the middle appends a reply to the server's 220: the client
    // must refuse it.
    let now = Instant::now();
    let mut co = opts("c.example");
    co.starttls = TlsMode::Required;
    let mut so = server::Options::default();
    so.starttls = true;
    let mut pair = Pair::new(Cli(Client::new(co, now)), Srv(Server::new(so, now)), now);
    pair.tamper(|dir, bytes| {
        if dir == Direction::ToClient && bytes.starts_with(b"220 2.0.0 Ready") {
            bytes.extend_from_slice(b"250-evil\r\n250 AUTH PLAIN\r\n");
        }
    });
    let mut closed = None;
    pair.drive(
        |_, e| {
            if let Event::Closed { reason } = e {
                closed = Some(reason);
            }
        },
        |_, _| {},
    );
    assert_eq!(closed, Some(ConnectionError::PlaintextAfterStartTls));
}

#[test]
fn pair_livelock_bound() {
    let now = Instant::now();
    let mut pair = Pair::new(
        Cli(Client::new(opts("c.example"), now)),
        Srv(Server::new(server::Options::default(), now)),
        now,
    );
    // Both sides idle after the session is ready and no timers fire in 10 steps.
    assert!(
        pair.drive_bounded(3, &mut |_, _| {}, &mut |_, _| {})
            .is_err()
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Any split of the server's bytes gives the client the same output and
    /// events.
    #[test]
    fn client_any_split(k in 1usize..40) {
        let mk = || d1_client("bar.com", "Smith@bar.com", &["Jones@foo.com", "Green@foo.com", "Brown@foo.com"], "Blah\r\n");
        let (out1, ev1) = replay_client(RFC5321_D_1, mk(), None);
        let (out2, ev2) = replay_client(RFC5321_D_1, mk(), Some(k));
        prop_assert_eq!(out1, out2);
        prop_assert_eq!(format!("{ev1:?}"), format!("{ev2:?}"));
    }

    /// Arbitrary server bytes never panic the client.
    #[test]
    fn client_arbitrary_input(data in proptest::collection::vec(any::<u8>(), 0..400)) {
        let now = Instant::now();
        let mut c = Client::new(opts("c.example"), now);
        c.send_mail(env("a@b.c", &["d@e.f"]), Bytes::from_static(b"hi\r\n")).unwrap();
        c.handle_input(now, b"220 x\r\n250-x\r\n250-PIPELINING\r\n250 CHUNKING\r\n");
        c.handle_input(now, &data);
        let mut out = Vec::new();
        while c.poll_transmit(now, &mut out).is_some() {}
        while c.poll_event().is_some() {}
    }
}

#[test]
fn rfc3030_4_2_client_pipelined_binarymime() {
    let now = Instant::now();
    let mut o = opts("ymir.claremont.edu");
    o.bdat_chunk_size = 100_000;
    let mut e = env(
        "ned@ymir.claremont.edu",
        &["gvaudre@cnri.reston.va.us", "jstewart@cnri.reston.va.us"],
    );
    e.params.body = Some(BodyType::BinaryMime);
    // Binary content: NUL, bare CR and LF are sent as they are.
    let content: Vec<u8> = (0..100_324u32).map(|i| (i * 7 % 256) as u8).collect();
    let mut c = Client::new(o, now);
    c.send_mail(e, Bytes::from(content.clone())).unwrap();
    c.quit();
    let mut s = Scripted::new(Cli(c), now);
    s.send(b"220 cnri.reston.va.us SMTP service ready\r\n");
    s.expect(b"EHLO ymir.claremont.edu\r\n");
    s.send(
        b"250-cnri.reston.va.us says hello\r\n250-PIPELINING\r\n250-BINARYMIME\r\n250 CHUNKING\r\n",
    );
    let out = s.take_output();
    let mut want = b"MAIL FROM:<ned@ymir.claremont.edu> BODY=BINARYMIME\r\nRCPT TO:<gvaudre@cnri.reston.va.us>\r\nRCPT TO:<jstewart@cnri.reston.va.us>\r\nBDAT 100000\r\n".to_vec();
    want.extend_from_slice(&content[..100_000]);
    want.extend_from_slice(b"BDAT 324 LAST\r\n");
    want.extend_from_slice(&content[100_000..]);
    assert!(out == want, "pipelined group differs");
    s.send(b"250 <ned@ymir.claremont.edu>... Sender and BINARYMIME ok\r\n250 <gvaudre@cnri.reston.va.us>... Recipient ok\r\n250 <jstewart@cnri.reston.va.us>... Recipient ok\r\n250 100000 octets received\r\n");
    s.expect_nothing();
    s.send(b"250 Message OK, 100324 octets received\r\n");
    s.expect(b"QUIT\r\n");
    let ev = s.events();
    let o = outcome(&ev);
    assert!(o.all_delivered());
    assert_eq!(
        o.data.as_ref().unwrap().text(),
        "Message OK, 100324 octets received"
    );
    // Without BINARYMIME offered, the message is refused before anything is sent.
    let mut e = env("a@b.c", &["d@e.f"]);
    e.params.body = Some(BodyType::BinaryMime);
    let mut c = Client::new(opts("c.example"), now);
    c.send_mail(e, Bytes::from_static(b"\0")).unwrap();
    let mut s = Scripted::new(Cli(c), now);
    s.send(b"220 x\r\n250-x\r\n250 CHUNKING\r\n");
    assert!(s.events().iter().any(|e| matches!(
        e,
        Event::MailSent {
            result: Err(MailError::BinaryUnsupported),
            ..
        }
    )));
}

// ---- streamed bodies (start_mail / push_body / end_body), RSET, NOOP ----

/// What a streamed run saw: every byte the client sent, the outcome, the
/// content the server got, and the most the client held of the body.
struct Streamed {
    wire: Vec<u8>,
    result: Option<Result<client::Outcome, MailError>>,
    bodies: Vec<Vec<u8>>,
    max_held: usize,
}

/// Runs one streamed message against the server machine, pushing `pieces`
/// whenever the client wants body, and ending the body after them.
fn stream_run(copts: Options, sopts: server::Options, e: Envelope, pieces: &[Bytes]) -> Streamed {
    let now = Instant::now();
    let mut c = Client::new(copts, now);
    let size: u64 = pieces.iter().map(|p| p.len() as u64).sum();
    let h = c.start_mail(e, Some(size)).unwrap();
    c.quit();
    let mut s = Server::new(sopts, now);
    let mut st = Streamed {
        wire: Vec::new(),
        result: None,
        bodies: Vec::new(),
        max_held: 0,
    };
    let mut next = 0;
    let mut pushed_total = 0usize;
    let mut received = 0usize;
    for _ in 0..100_000 {
        let mut progress = false;
        while c.wants_body() && next < pieces.len() {
            c.push_body(pieces[next].clone()).unwrap();
            pushed_total += pieces[next].len();
            next += 1;
            progress = true;
        }
        if next == pieces.len() && c.open_body() == Some(h) {
            c.end_body().unwrap();
            progress = true;
        }
        // Pushed and not yet at the server: for canonical content without
        // leading dots, an upper bound of what the client holds.
        st.max_held = st.max_held.max(pushed_total.saturating_sub(received));
        let mut out = Vec::new();
        while let Some(b) = c.poll_transmit_bytes(now) {
            out.extend_from_slice(&b);
        }
        if !out.is_empty() {
            progress = true;
            st.wire.extend_from_slice(&out);
            s.handle_input(now, &out);
        }
        while let Some(ev) = s.poll_event() {
            match &ev {
                server::Event::DataStart { .. } => st.bodies.push(Vec::new()),
                server::Event::DataChunk(d) => {
                    received += d.len();
                    st.bodies.last_mut().unwrap().extend_from_slice(d)
                }
                _ => {}
            }
            server_policy(&mut s, ev);
        }
        let mut back = Vec::new();
        while s.poll_transmit(now, &mut back).is_some() {}
        if !back.is_empty() {
            progress = true;
            c.handle_input(now, &back);
        }
        while let Some(ev) = c.poll_event() {
            if let Event::MailSent { handle, result } = ev {
                assert_eq!(handle, h);
                st.result = Some(result);
            }
        }
        if c.is_closed() || !progress {
            break;
        }
    }
    st
}

fn caps_opts(chunking: bool, pipelining: bool, chunk: usize) -> (Options, server::Options) {
    let mut co = opts("c.example");
    co.chunking = chunking;
    co.pipelining = pipelining;
    co.bdat_chunk_size = chunk;
    co.body_buffer = 64;
    let mut so = server::Options::default();
    so.chunking = chunking;
    so.pipelining = pipelining;
    (co, so)
}

fn cut(data: &[u8], cuts: &[usize]) -> Vec<Bytes> {
    let mut cuts: Vec<usize> = cuts.iter().map(|&c| c.min(data.len())).collect();
    cuts.sort_unstable();
    let mut out = Vec::new();
    let mut at = 0;
    for c in cuts {
        out.push(Bytes::copy_from_slice(&data[at..c]));
        at = c;
    }
    out.push(Bytes::copy_from_slice(&data[at..]));
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any chunking of the body gives the same bytes on the wire as the
    /// whole body in one piece, with DATA and with BDAT, with and without
    /// PIPELINING; the server gets the canonical content.
    #[test]
    fn streamed_body_any_chunking_same_wire(
        data in proptest::collection::vec(prop_oneof![Just(b'\r'), Just(b'\n'), Just(b'.'), Just(b'a')], 0..120),
        cuts in proptest::collection::vec(0usize..120, 0..8),
        chunking: bool,
        pipelining: bool,
        chunk in 1usize..40,
    ) {
        let (co, so) = caps_opts(chunking, pipelining, chunk);
        let whole = stream_run(co.clone(), so.clone(), env("a@b.c", &["d@e.f"]), &[Bytes::from(data.clone())]);
        let split = stream_run(co.clone(), so.clone(), env("a@b.c", &["d@e.f"]), &cut(&data, &cuts));
        prop_assert_eq!(&whole.wire, &split.wire);
        // And the same as send_mail with the whole body.
        let (outcomes, _, bodies) = pair_run(co, so, &[(env("a@b.c", &["d@e.f"]), Box::leak(data.clone().into_boxed_slice()))], None);
        prop_assert!(outcomes[0].all_delivered());
        prop_assert!(split.result.unwrap().unwrap().all_delivered());
        prop_assert_eq!(&split.bodies, &bodies);
    }
}

#[test]
fn streamed_bdat_wire_rfc3030_4_2() {
    // Pieces of 7 octets, chunks of 16: BDAT boundaries follow the chunk
    // size, not the pieces; the body is never held beyond the buffer.
    let body: Vec<u8> = b"0123456789abcdef\r\n".repeat(5);
    let (co, so) = caps_opts(true, true, 16);
    let pieces: Vec<Bytes> = body.chunks(7).map(Bytes::copy_from_slice).collect();
    let st = stream_run(co, so, env("a@b.c", &["d@e.f"]), &pieces);
    let text = String::from_utf8_lossy(&st.wire).into_owned();
    assert_eq!(text.matches("BDAT 16\r\n").count(), 5, "{text}");
    assert!(text.contains("BDAT 10 LAST\r\n"), "{text}");
    assert_eq!(st.bodies, vec![body]);
    assert!(st.result.unwrap().unwrap().all_delivered());
    // body_buffer 64 + a piece pushed while under it.
    assert!(st.max_held <= 64 + 7 + 16, "held {}", st.max_held);
}

#[test]
fn streamed_large_body_memory_bounded() {
    // 8 MiB in 4 KiB pieces through DATA and BDAT: the client never holds
    // more than its buffer plus one piece.
    let piece = Bytes::from(
        b"0123456789abcdef0123456789abcdef0123456789abcdef01234567890123\r\n".repeat(64),
    );
    let pieces: Vec<Bytes> = std::iter::repeat_n(piece, 2048).collect();
    for chunking in [false, true] {
        let mut co = opts("c.example");
        co.chunking = chunking;
        co.bdat_chunk_size = 64 << 10;
        co.body_buffer = 256 << 10;
        let mut so = server::Options::default();
        so.chunking = chunking;
        so.max_message_size = 64 << 20;
        let st = stream_run(co, so, env("a@b.c", &["d@e.f"]), &pieces);
        assert!(
            st.result.unwrap().unwrap().all_delivered(),
            "chunking={chunking}"
        );
        assert_eq!(st.bodies[0].len(), 2048 * 4096);
        assert!(
            st.max_held <= (256 << 10) + 4096,
            "chunking={chunking} held {}",
            st.max_held
        );
    }
}

#[test]
fn bdat_content_is_the_pushed_chunk_not_a_copy() {
    let now = Instant::now();
    let mut o = opts("c.example");
    o.bdat_chunk_size = 8;
    let mut c = Client::new(o, now);
    c.start_mail(env("a@b.c", &["d@e.f"]), None).unwrap();
    c.handle_input(now, b"220 x\r\n");
    while c.poll_transmit_bytes(now).is_some() {}
    c.handle_input(now, b"250-x\r\n250-PIPELINING\r\n250 CHUNKING\r\n");
    let chunk = Bytes::from_static(b"0123456789ab\r\n");
    c.push_body(chunk.clone()).unwrap();
    c.end_body().unwrap();
    let pieces: Vec<Bytes> = std::iter::from_fn(|| c.poll_transmit_bytes(now)).collect();
    let wire: Vec<u8> = pieces.iter().flat_map(|p| p.iter().copied()).collect();
    assert_eq!(
        wire,
        b"MAIL FROM:<a@b.c>\r\nRCPT TO:<d@e.f>\r\nBDAT 8\r\n01234567BDAT 6 LAST\r\n89ab\r\n"
    );
    // The content pieces point into the pushed chunk.
    let inside = |p: &Bytes| {
        let r = chunk.as_ptr_range();
        r.contains(&p.as_ptr()) && !p.is_empty()
    };
    assert_eq!(pieces.iter().filter(|p| inside(p)).count(), 2);
}

#[test]
fn streamed_without_size_and_declared_size_checked() {
    let now = Instant::now();
    let mut c = Client::new(opts("c.example"), now);
    let h = c.start_mail(env("a@b.c", &["d@e.f"]), Some(100)).unwrap();
    // One body at a time.
    assert!(matches!(
        c.start_mail(env("a@b.c", &["d@e.f"]), None),
        Err(SendError::BodyOpen(_))
    ));
    let mut s = Scripted::new(Cli(c), now);
    s.send(b"220 x\r\n");
    s.expect(b"EHLO c.example\r\n");
    s.send(b"250-x\r\n250 SIZE 50\r\n");
    let ev = s.events();
    assert!(ev.iter().any(|e| matches!(e,
        Event::MailSent { handle, result: Err(MailError::TooLarge { size: 100, limit: 50 }) } if *handle == h)));
    // The body closed with its transaction.
    assert!(!s.machine.wants_body());
    assert!(matches!(
        s.machine.push_body(Bytes::from_static(b"x")),
        Err(SendError::NoOpenBody(_))
    ));
}

#[test]
fn rset_aborts_a_streamed_bdat_message() {
    let now = Instant::now();
    let mut o = opts("c.example");
    o.bdat_chunk_size = 4;
    let mut c = Client::new(o, now);
    let h = c.start_mail(env("a@b.c", &["d@e.f"]), None).unwrap();
    let mut s = Scripted::new(Cli(c), now);
    s.send(b"220 x\r\n");
    s.expect(b"EHLO c.example\r\n");
    s.send(b"250-x\r\n250-PIPELINING\r\n250 CHUNKING\r\n");
    s.machine.push_body(Bytes::from_static(b"abcdefg")).unwrap();
    assert_eq!(
        s.take_output(),
        b"MAIL FROM:<a@b.c>\r\nRCPT TO:<d@e.f>\r\nBDAT 4\r\nabcd"
    );
    // The source failed: no LAST, RSET once the replies are in.
    s.machine.rset();
    s.expect_nothing();
    s.send(b"250 ok\r\n250 ok\r\n250 4 octets\r\n");
    s.expect(b"RSET\r\n");
    let ev = s.events();
    assert!(ev.iter().any(
        |e| matches!(e, Event::MailSent { handle, result: Err(MailError::Aborted) } if *handle == h)
    ));
    s.send(b"250 reset\r\n");
    // The session goes on: the next message is sent.
    s.machine
        .send_mail(env("a@b.c", &["d@e.f"]), Bytes::from_static(b"hi\r\n"))
        .unwrap();
    let out = String::from_utf8(s.take_output()).unwrap();
    assert!(out.starts_with("MAIL FROM:<a@b.c>"), "{out}");
}

#[test]
fn rset_before_start_and_during_data() {
    let now = Instant::now();
    // Not started: dropped without a word on the wire.
    let mut c = Client::new(opts("c.example"), now);
    let h = c.start_mail(env("a@b.c", &["d@e.f"]), None).unwrap();
    c.rset();
    assert!(matches!(c.poll_event(),
        Some(Event::MailSent { handle, result: Err(MailError::Aborted) }) if handle == h));
    // After 354 the only way not to deliver part of it is to close.
    let mut c = Client::new(opts("c.example"), now);
    c.start_mail(env("a@b.c", &["d@e.f"]), None).unwrap();
    let mut s = Scripted::new(Cli(c), now);
    s.send(b"220 x\r\n250-x\r\n250 PIPELINING\r\n");
    let _ = s.take_output();
    s.machine.push_body(Bytes::from_static(b"part")).unwrap();
    s.send(b"250 ok\r\n250 ok\r\n354 go\r\n");
    assert_eq!(s.take_output(), b"part");
    s.machine.rset();
    assert!(s.machine.is_closed());
    assert!(s.events().iter().any(|e| matches!(
        e,
        Event::Closed {
            reason: ConnectionError::Local
        }
    )));
}

#[test]
fn streamed_bdat_stops_when_every_recipient_is_refused() {
    let now = Instant::now();
    let mut o = opts("c.example");
    o.bdat_chunk_size = 4;
    let mut c = Client::new(o, now);
    c.start_mail(env("a@b.c", &["d@e.f"]), None).unwrap();
    let mut s = Scripted::new(Cli(c), now);
    s.send(b"220 x\r\n250-x\r\n250-PIPELINING\r\n250 CHUNKING\r\n");
    s.machine.push_body(Bytes::from_static(b"abcdefg")).unwrap();
    let _ = s.take_output();
    s.send(b"250 ok\r\n550 no such user\r\n");
    // Nothing can be delivered: the body is not wanted any more.
    assert!(!s.machine.wants_body());
    s.machine.push_body(Bytes::from_static(b"more")).unwrap();
    s.machine.end_body().unwrap();
    s.expect_nothing();
    s.send(b"554 no valid recipients\r\n");
    s.expect(b"RSET\r\n");
    let ev = s.events();
    let o = outcome(&ev);
    assert!(!o.is_delivered());
}

#[test]
fn noop_and_rset_between_transactions() {
    let now = Instant::now();
    let mut c = Client::new(opts("c.example"), now);
    c.noop();
    c.rset();
    let mut s = Scripted::new(Cli(c), now);
    s.send(b"220 x\r\n");
    s.expect(b"EHLO c.example\r\n");
    s.send(b"250-x\r\n250 PIPELINING\r\n");
    s.expect(b"NOOP\r\n");
    s.send(b"250 2.0.0 ok\r\n");
    s.expect(b"RSET\r\n");
    s.send(b"250 2.0.0 flushed\r\n");
    let ev = s.events();
    assert!(
        ev.iter()
            .any(|e| matches!(e, Event::Noop(r) if r.code().get() == 250))
    );
    assert!(
        ev.iter()
            .any(|e| matches!(e, Event::Reset(r) if r.text().contains("flushed")))
    );
}

#[test]
fn pipelined_bdat_waits_for_the_recipients_beyond_the_buffer() {
    // Chunks of 4, buffer 8: before MAIL and RCPT are answered at most 8
    // octets of content go; the rest follows their replies.
    let now = Instant::now();
    let mut o = opts("c.example");
    o.bdat_chunk_size = 4;
    o.body_buffer = 8;
    let mut c = Client::new(o, now);
    c.send_mail(
        env("a@b.c", &["d@e.f"]),
        Bytes::from_static(b"0123456789abcdef"),
    )
    .unwrap();
    let mut s = Scripted::new(Cli(c), now);
    s.send(b"220 x\r\n");
    s.expect(b"EHLO c.example\r\n");
    s.send(b"250-x\r\n250-PIPELINING\r\n250 CHUNKING\r\n");
    s.expect(b"MAIL FROM:<a@b.c>\r\nRCPT TO:<d@e.f>\r\nBDAT 4\r\n0123BDAT 4\r\n4567");
    s.expect_nothing();
    s.send(b"250 ok\r\n");
    s.expect_nothing();
    s.send(b"250 ok\r\n");
    s.expect(b"BDAT 4\r\n89abBDAT 4 LAST\r\ncdef");
    s.send(b"250 4\r\n250 4\r\n250 4\r\n250 done\r\n");
    assert!(outcome(&s.events()).all_delivered());
}

/// RFC 8689 §4.2.1: a REQUIRETLS message goes only to a server that offers
/// REQUIRETLS under TLS, with the parameter; elsewhere it is refused
/// before MAIL.
#[test]
fn rfc8689_4_2_1_requiretls_only_to_a_tls_server_that_offers_it() {
    let run = |implicit_tls: bool, ehlo: &[u8]| {
        one_mail(implicit_tls, ehlo, |params| params.requiretls = true)
    };
    let (out, _) = run(true, b"250-x\r\n250 REQUIRETLS\r\n");
    assert!(out.contains("MAIL FROM:<a@b.c> REQUIRETLS\r\n"), "{out}");
    for (tls, ehlo) in [
        (true, &b"250 x\r\n"[..]),
        (false, b"250-x\r\n250 REQUIRETLS\r\n"),
    ] {
        let (out, ev) = run(tls, ehlo);
        assert!(!out.contains("MAIL"), "{out}");
        assert!(ev.iter().any(|e| matches!(
            e,
            Event::MailSent {
                result: Err(MailError::RequireTlsUnsupported),
                ..
            }
        )));
    }
}

//! The IMAP server machine driven by structured input that reaches every
//! state: the input is a program of operations (feed a well-formed command
//! from a list, feed raw bytes, fire the timers, finish TLS, push an
//! update, close the input), and a fuzzer-driven application answers every
//! event (accept or deny logins, send data, stream FETCH literals, complete
//! with OK/NO/BAD). Never panics; every answer the machine asked for is
//! accepted; output stays bounded; after Closed nothing more happens; a
//! streamed APPEND message comes in order, from offset 0, and its command
//! ends with its Command or AppendAbandoned before another one streams.
#![no_main]

use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use mailwire_imap::server::{
    AuthMethod, Completion, Event, FetchLiteral, Greeting, LiteralExtension, Options, Server,
    Streamed,
};
use mailwire_imap::{Code, Data, FetchItem, Section, SequenceSet};
use mailwire_sasl::{Mechanism, ScramCredentials, ScramHash, Secret};

/// Commands that move the session between states.
const COMMANDS: [&[u8]; 28] = [
    b"a LOGIN u p\r\n",
    b"a LOGIN u wrong\r\n",
    b"a AUTHENTICATE PLAIN AHUAcA==\r\n",
    b"a AUTHENTICATE SCRAM-SHA-256 biwsbj11LHI9ZnV6eg==\r\n",
    b"a AUTHENTICATE CRAM-MD5\r\n",
    b"a STARTTLS\r\n",
    b"a SELECT INBOX\r\n",
    b"a EXAMINE INBOX (QRESYNC (1 2))\r\n",
    b"a ENABLE CONDSTORE QRESYNC IMAP4rev2 UTF8=ACCEPT\r\n",
    b"a IDLE\r\n",
    b"DONE\r\n",
    b"a FETCH 1:* (FLAGS BODY.PEEK[])\r\n",
    b"a UID FETCH 1:* (UID FLAGS) (CHANGEDSINCE 1 VANISHED)\r\n",
    b"a STORE 1 +FLAGS (\\Seen)\r\n",
    b"a SEARCH ALL\r\n",
    b"a NOOP\r\n",
    b"a UNSELECT\r\n",
    b"a UNAUTHENTICATE\r\n",
    b"a CLOSE\r\n",
    b"a APPEND INBOX {5}\r\n",
    b"hello\r\n",
    b"a APPEND INBOX {5+}\r\nhello\r\n",
    b"a APPEND INBOX {5+}\r\nhello {40+}\r\n0123456789012345678901234567890123456789\r\n",
    b"a CAPABILITY\r\nb NAMESPACE\r\nc ID NIL\r\n",
    b"a LOGOUT\r\n",
    b"*\r\n",
    b"a COMPRESS DEFLATE\r\n",
    b"a COMPRESS DEFLATE\r\nb NOOP\r\n",
];

/// Bytes the application reads its decisions from.
struct Choices<'a>(&'a [u8]);

impl Choices<'_> {
    fn next(&mut self) -> u8 {
        match self.0.split_first() {
            Some((b, rest)) => {
                self.0 = rest;
                *b
            }
            None => 0,
        }
    }
}

fn n(v: u32) -> NonZeroU32 {
    NonZeroU32::new(v).unwrap_or(NonZeroU32::MIN)
}

/// The streamed APPEND message being received: its index and the octets
/// so far.
type Streaming = Option<(usize, u64)>;

fn answer(s: &mut Server, c: &mut Choices<'_>, now: Instant, st: &mut Streaming) -> bool {
    let mut any = false;
    while let Some(ev) = s.poll_event() {
        any = true;
        match &ev {
            Event::AppendData {
                message,
                offset,
                data,
            } => {
                if *offset == 0 {
                    // A new message: the command's next one, never a new
                    // command's while the last is not told.
                    assert!(st.is_none_or(|(m, _)| m < *message), "{st:?} {message}");
                } else {
                    assert_eq!(*st, Some((*message, *offset)));
                }
                *st = Some((*message, offset + data.len() as u64));
            }
            Event::Command { .. } | Event::AppendAbandoned | Event::Closed { .. } => *st = None,
            _ => {}
        }
        match ev {
            Event::Authenticate {
                handle,
                username,
                method,
                ..
            } => {
                let known = username == "u" && c.next() % 4 != 0;
                let r = match (method, c.next() % 3) {
                    (_, 0) => s.complete(handle, Completion::no("denied")).is_ok(),
                    (AuthMethod::Sasl(Mechanism::ScramSha256), _) => s
                        .provide_scram_credentials(
                            handle,
                            known.then(|| {
                                ScramCredentials::derive(ScramHash::Sha256, "p", b"salt", n(2))
                                    .expect("derive")
                            }),
                        )
                        .is_ok(),
                    (AuthMethod::Login | AuthMethod::Sasl(Mechanism::Plain), 1) => {
                        s.check_password(handle, |p| known && p.ct_eq(b"p")).is_ok()
                    }
                    _ => s
                        .provide_password(handle, known.then(|| Secret::new("p".to_owned())))
                        .is_ok(),
                };
                assert!(r, "answer refused");
            }
            Event::LoggedIn { handle, .. } => {
                let done = if c.next() % 5 == 0 {
                    Completion::no("store unavailable")
                } else {
                    Completion::ok("logged in")
                };
                s.complete(handle, done).expect("complete login");
            }
            Event::Command { handle, .. } => {
                for _ in 0..c.next() % 4 {
                    match c.next() % 6 {
                        0 => s
                            .send_data(handle, Data::Exists(u32::from(c.next())))
                            .expect("data"),
                        1 => s
                            .send_data(handle, Data::Expunge(n(u32::from(c.next()))))
                            .expect("data"),
                        2 => s
                            .send_data(
                                handle,
                                Data::Vanished {
                                    earlier: c.next() & 1 == 0,
                                    uids: SequenceSet::range(1, 3).expect("set"),
                                },
                            )
                            .expect("data"),
                        3 => s
                            .send_status(handle, Completion::ok("info").with_code(Code::ReadOnly))
                            .expect("status"),
                        _ => {
                            let body = vec![b'x'; usize::from(c.next())];
                            s.start_fetch_literal(
                                handle,
                                FetchLiteral {
                                    seq: n(1),
                                    items: vec![FetchItem::Uid(n(7))],
                                    item: Streamed::Body {
                                        section: Section::default(),
                                        origin: None,
                                    },
                                    length: body.len() as u64,
                                },
                            )
                            .expect("start literal");
                            let step = usize::from(c.next() % 16) + 1;
                            for piece in body.chunks(step) {
                                s.send_literal_chunk(handle, piece).expect("chunk");
                            }
                        }
                    }
                }
                let done = match c.next() % 4 {
                    0 => Completion::no("no"),
                    1 => Completion::bad("bad"),
                    2 => Completion::ok("read-only").with_code(Code::ReadOnly),
                    _ => Completion::ok("done"),
                };
                s.complete(handle, done).expect("complete");
            }
            Event::Compress => assert!(s.is_compressed(), "Compress event, not compressed"),
            Event::StartTls => {
                if c.next() & 1 == 0 {
                    s.handle_tls_established(now);
                }
            }
            _ => {}
        }
    }
    any
}

fn drain(s: &mut Server, c: &mut Choices<'_>, now: Instant, out: &mut Vec<u8>, st: &mut Streaming) {
    loop {
        while s.poll_transmit(now, out).is_some() {}
        if !answer(s, c, now, st) {
            break;
        }
    }
    assert!(out.len() < 1 << 20);
    out.clear();
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    // The first half is the program, the second the application's choices.
    let (program, choices) = rest.split_at(rest.len() / 2);
    let mut c = Choices(choices);
    let mut now = Instant::now();
    let mut o = Options::default();
    o.starttls = flags & 1 != 0;
    o.allow_plaintext_auth = flags & 2 != 0;
    o.literal = if flags & 4 != 0 {
        LiteralExtension::Plus
    } else {
        LiteralExtension::Minus
    };
    o.sasl_mechanisms = vec![
        Mechanism::ScramSha256,
        Mechanism::CramMd5,
        Mechanism::Plain,
        Mechanism::Login,
    ];
    o.capabilities = vec![
        mailwire_imap::Atom::new("CONDSTORE").expect("atom"),
        mailwire_imap::Atom::new("QRESYNC").expect("atom"),
    ];
    o.max_buffered = 2048;
    o.max_line = 1024;
    o.max_literal = 256;
    o.max_command = 2048;
    o.max_bad_commands = 50;
    o.append_stream_threshold = (flags & 8 != 0).then_some(16);
    o.compress = flags & 16 != 0;
    o.unauthenticate = flags & 16 == 0;
    let greeting = match flags >> 6 {
        0 => Greeting::PreAuth("hi".into()),
        1 => Greeting::Bye("go".into()),
        _ => Greeting::ok("ready"),
    };
    let mut s = Server::new(o, greeting, "fuzz", now).expect("nonce");
    let mut out = Vec::new();
    let mut st = None;
    drain(&mut s, &mut c, now, &mut out, &mut st);
    let mut p = program;
    while let Some((&op, tail)) = p.split_first() {
        p = tail;
        match op % 8 {
            0..=3 => {
                let k = usize::from(op >> 3) % COMMANDS.len();
                s.handle_input(now, COMMANDS[k]);
            }
            4 => {
                let len = usize::from(op >> 3).min(p.len());
                let (raw, tail) = p.split_at(len);
                p = tail;
                s.handle_input(now, raw);
            }
            5 => {
                now += Duration::from_secs(u64::from(op >> 3) * 120);
                s.handle_timeout(now);
            }
            6 => {
                let d = match op >> 3 & 3 {
                    0 => Data::Exists(u32::from(op)),
                    1 => Data::Expunge(n(u32::from(op >> 5) + 1)),
                    2 => Data::Vanished {
                        earlier: false,
                        uids: SequenceSet::single(9).expect("set"),
                    },
                    _ => Data::Flags(Vec::new()),
                };
                let _ = s.push_update(&d);
            }
            _ => {
                if op >> 3 == 0 {
                    s.handle_eof(now);
                } else {
                    s.handle_tls_established(now);
                }
            }
        }
        drain(&mut s, &mut c, now, &mut out, &mut st);
        if s.is_closed() {
            assert!(s.poll_timeout().is_none());
            s.handle_input(now, b"a NOOP\r\n");
            assert!(s.poll_transmit(now, &mut out).is_none());
            assert!(s.poll_event().is_none());
            return;
        }
    }
    s.handle_eof(now);
    drain(&mut s, &mut c, now, &mut out, &mut st);
    assert!(s.is_closed());
});

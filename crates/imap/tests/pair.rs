//! The real client machine against the real server machine, joined in
//! memory by testkit's `Pair`: the RFC 3501 §8 sample session (the server
//! application answers with the RFC's data; the server's bytes must be the
//! RFC's, and the client must understand them), IDLE with a pushed EXISTS,
//! and a FETCH of a message too big to hold, streamed on both sides.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::num::NonZeroU32;
use std::time::Instant;

use mailwire_imap::client::{self, Client, Update};
use mailwire_imap::server::{self, Completion, FetchLiteral, Greeting, Outcome, Server, Streamed};
use std::cell::RefCell;
use std::rc::Rc;

use mailwire_imap::{
    CommandBody, Data, FetchAttr, FetchAttrs, FetchItem, Flag, IString, Mailbox, Response, Section,
    SectionText, SequenceSet, StatusKind, StoreKind, Tag, parse,
};
use mailwire_testkit::{Direction, Pair, Side, Transcript};

mailwire_testkit::machine!(struct C(Client), client::Event);
mailwire_testkit::machine!(struct S(Server), server::Event);

/// RFC 3501 §8, as the server machine sends it (the file says how it was
/// normalized).
const RFC3501_8: &str = include_str!("transcripts/rfc3501_8.txt");

/// The server's lines of the sample, one response each (literals inside).
fn server_lines() -> Vec<Vec<u8>> {
    let bytes = Transcript::parse(RFC3501_8).bytes_of(Side::Server);
    let mut out = Vec::new();
    let mut rest = &bytes[..];
    while !rest.is_empty() {
        let (_, n) = parse::response(rest).expect("RFC line parses");
        out.push(rest[..n].to_vec());
        rest = &rest[n..];
    }
    out
}

/// The lines answering the command with `tag`: the untagged ones before its
/// completion (after the previous completion), and the completion.
fn lines_for(tag: &str) -> (Vec<Vec<u8>>, Vec<u8>) {
    let mut untagged = Vec::new();
    for l in server_lines().into_iter().skip(1) {
        if l.starts_with(b"* ") {
            untagged.push(l);
        } else if l.starts_with(format!("{tag} ").as_bytes()) {
            return (untagged, l);
        } else {
            untagged.clear();
        }
    }
    panic!("no completion for {tag}")
}

fn completion(line: &[u8]) -> Completion<'_> {
    let Ok((Response::Status(s), _)) = parse::response(line) else {
        panic!()
    };
    let outcome = match s.kind {
        StatusKind::Ok => Outcome::Ok,
        StatusKind::No => Outcome::No,
        _ => Outcome::Bad,
    };
    Completion {
        outcome,
        code: s.code,
        text: s.text,
    }
}

/// The server application: answers each command with the sample's data,
/// streaming the literal of BODY[HEADER] in chunks.
fn serve_rfc(s: &mut S, ev: server::Event, auth_tag: &str) {
    let (handle, tag) = match ev {
        server::Event::Authenticate {
            handle, username, ..
        } => {
            assert_eq!(username, "mrc");
            s.provide_password(
                handle,
                Some(mailwire_sasl::Secret::new("secret".to_owned())),
            )
            .unwrap();
            return;
        }
        server::Event::LoggedIn { handle, .. } => (handle, auth_tag.to_owned()),
        server::Event::Command { handle, tag, .. } => (handle, tag.as_str().to_owned()),
        _ => return,
    };
    let (untagged, tagged) = lines_for(&tag);
    for l in &untagged {
        match parse::response(l).unwrap().0 {
            Response::Status(st) => s
                .send_status(
                    handle,
                    Completion {
                        outcome: Outcome::Ok,
                        code: st.code,
                        text: st.text,
                    },
                )
                .unwrap(),
            Response::Data(Data::Fetch { seq, mut items })
                if l.windows(3).any(|w| w == b"}\r\n") =>
            {
                let Some(FetchItem::BodySection {
                    section,
                    origin,
                    data: Some(d),
                }) = items.pop()
                else {
                    panic!()
                };
                let body = d.as_bytes().to_vec();
                let fetch = FetchLiteral {
                    seq,
                    items,
                    item: Streamed::Body { section, origin },
                    length: body.len() as u64,
                };
                s.start_fetch_literal(handle, fetch).unwrap();
                for c in body.chunks(50) {
                    s.send_literal_chunk(handle, c).unwrap();
                }
            }
            Response::Data(d) => s.send_data(handle, d).unwrap(),
            Response::Continue(_) => panic!(),
        }
    }
    s.complete(handle, completion(&tagged)).unwrap();
}

fn n(v: u32) -> NonZeroU32 {
    NonZeroU32::new(v).unwrap()
}

fn seq(v: u32) -> SequenceSet {
    SequenceSet::single(v).unwrap()
}

fn fetch(attrs: FetchAttrs<'static>) -> CommandBody<'static> {
    CommandBody::Fetch {
        uid: false,
        set: seq(12),
        attrs,
        modifiers: vec![],
    }
}

/// Records every byte that goes one way.
fn record(pair: &mut Pair<C, S>, way: Direction) -> Rc<RefCell<Vec<u8>>> {
    let seen = Rc::new(RefCell::new(Vec::new()));
    let log = seen.clone();
    pair.tamper(move |d, bytes| {
        if d == way {
            log.borrow_mut().extend_from_slice(bytes);
        }
    });
    seen
}

fn rfc_server(now: Instant) -> S {
    let mut so = server::Options::default();
    so.allow_plaintext_auth = true;
    so.capability_in_greeting = false;
    so.capability_after_login = false;
    so.texts.logout_bye = "IMAP4rev1 server terminating connection".into();
    S(Server::new(so, Greeting::ok("IMAP4rev1 Service Ready"), "n0nce", now).unwrap())
}

fn rfc_client(now: Instant) -> C {
    let mut co = client::Options::default();
    co.tag_prefix = Tag::new("a").unwrap();
    co.tag_width = 3;
    // The sample has no CAPABILITY command.
    co.auto_capability = false;
    C(Client::new(co, now))
}

#[test]
fn rfc3501_8_sample_between_client_and_server() {
    let now = Instant::now();
    let mut pair = Pair::new(rfc_client(now), rfc_server(now), now);
    let to_client = record(&mut pair, Direction::ToClient);
    let header = SectionText::Header;
    let commands = vec![
        CommandBody::Login {
            username: IString::try_from("mrc").unwrap(),
            password: mailwire_imap::Secret::new(IString::try_from("secret").unwrap()),
        },
        CommandBody::Select {
            mailbox: Mailbox::Inbox,
            params: vec![],
        },
        fetch(FetchAttrs::Full),
        fetch(FetchAttrs::List(vec![FetchAttr::BodySection {
            peek: false,
            section: Section {
                part: vec![],
                text: Some(header),
            },
            partial: None,
        }])),
        CommandBody::Store {
            uid: false,
            set: seq(12),
            unchanged_since: None,
            kind: StoreKind::Add,
            silent: false,
            flags: vec![Flag::Deleted],
        },
        CommandBody::Logout,
    ];
    let handles: Vec<_> = commands
        .into_iter()
        .map(|c| pair.client.enqueue_command(c).unwrap())
        .collect();
    let mut completed = Vec::new();
    let mut selected = None;
    pair.drive(
        |c, ev| {
            if let client::Event::Completed(done) = ev {
                if done.command == "SELECT" {
                    selected = c.selected().cloned();
                }
                completed.push(done);
            }
        },
        |s, ev| serve_rfc(s, ev, "a001"),
    );
    // The server said exactly what the RFC says.
    let rfc = Transcript::parse(RFC3501_8).bytes_of(Side::Server);
    assert_eq!(
        String::from_utf8_lossy(&to_client.borrow()),
        String::from_utf8_lossy(&rfc)
    );
    // The client understood every command's answer.
    let names: Vec<&str> = completed.iter().map(|d| d.command).collect();
    assert_eq!(
        names,
        ["LOGIN", "SELECT", "FETCH", "FETCH", "STORE", "LOGOUT"]
    );
    assert!(completed.iter().all(|d| d.is_ok()));
    assert_eq!(
        completed.iter().map(|d| d.handle).collect::<Vec<_>>(),
        handles
    );
    let sel = selected.expect("selected");
    assert_eq!(
        (sel.exists, sel.recent, sel.read_only),
        (18, Some(2), false)
    );
    assert_eq!(sel.uid_validity, Some(n(3857529045)));
    let (seq12, items) = completed[3].fetches().next().unwrap();
    assert_eq!(seq12, n(12));
    let Some(FetchItem::BodySection { data: Some(h), .. }) = items.first() else {
        panic!("{items:?}")
    };
    assert_eq!(h.as_bytes().len(), 342);
    assert!(h.as_bytes().starts_with(b"Date: Wed, 17 Jul 1996"));
    let flags = completed[4].fetches().next().unwrap().1;
    assert_eq!(
        flags,
        vec![FetchItem::Flags(vec![Flag::Seen, Flag::Deleted])]
    );
    assert!(pair.client.is_closed() && pair.server.is_closed());
}

#[test]
fn idle_with_a_pushed_exists() {
    let now = Instant::now();
    let mut so = server::Options::default();
    so.allow_plaintext_auth = true;
    let server = S(Server::new(so, Greeting::ok("ready"), "n0nce", now).unwrap());
    let mut pair = Pair::new(C(Client::new(client::Options::default(), now)), server, now);
    pair.advance_clock = false;
    for c in [
        CommandBody::Login {
            username: IString::try_from("u").unwrap(),
            password: mailwire_imap::Secret::new(IString::try_from("p").unwrap()),
        },
        CommandBody::Select {
            mailbox: Mailbox::Inbox,
            params: vec![],
        },
        CommandBody::Idle,
    ] {
        pair.client.enqueue_command(c).unwrap();
    }
    let mut log = Vec::new();
    pair.drive(
        |c, ev| match ev {
            client::Event::Update(Update::Exists(k)) => {
                log.push(format!("exists {k}"));
                c.idle_done().unwrap();
            }
            client::Event::IdleStarted { .. } => log.push("idling".into()),
            client::Event::Completed(d) => log.push(format!("{} {}", d.command, d.is_ok())),
            _ => {}
        },
        |s, ev| match ev {
            server::Event::Authenticate { handle, .. } => s
                .provide_password(handle, Some(mailwire_sasl::Secret::new("p".to_owned())))
                .unwrap(),
            server::Event::LoggedIn { handle, .. } => {
                s.complete(handle, Completion::ok("hi")).unwrap()
            }
            server::Event::Command { handle, .. } => {
                s.send_data(handle, Data::Exists(3)).unwrap();
                s.complete(handle, Completion::ok("selected")).unwrap();
            }
            // Another session delivers a message while the client idles.
            server::Event::IdleStarted => s.push_update(&Data::Exists(4)).unwrap(),
            _ => {}
        },
    );
    assert_eq!(
        log,
        [
            "LOGIN true",
            "SELECT true",
            "idling",
            "exists 4",
            "IDLE true"
        ]
    );
    assert_eq!(pair.client.selected().unwrap().exists, 4);
    assert!(!pair.server.is_closed());
}

#[test]
fn big_message_streams_on_both_sides() {
    let now = Instant::now();
    let mut so = server::Options::default();
    so.allow_plaintext_auth = true;
    let server = S(Server::new(so, Greeting::PreAuth("hi".into()), "n0nce", now).unwrap());
    let mut pair = Pair::new(C(Client::new(client::Options::default(), now)), server, now);
    pair.advance_clock = false;
    pair.chunk = Some(16 << 10);
    let size: usize = 3 << 20;
    let message: Vec<u8> = (0..size).map(|i| b'a' + (i % 26) as u8).collect();
    pair.client
        .enqueue_command(CommandBody::Select {
            mailbox: Mailbox::Inbox,
            params: vec![],
        })
        .unwrap();
    pair.client
        .enqueue_command(CommandBody::Fetch {
            uid: false,
            set: seq(1),
            attrs: FetchAttrs::List(vec![
                FetchAttr::Uid,
                FetchAttr::BodySection {
                    peek: true,
                    section: Section::default(),
                    partial: None,
                },
            ]),
            modifiers: vec![],
        })
        .unwrap();
    let mut got = Vec::new();
    let mut chunks = 0;
    let mut done = Vec::new();
    pair.drive(
        |_, ev| match ev {
            client::Event::FetchChunk { data, total, .. } => {
                assert_eq!(total, size as u64);
                chunks += 1;
                got.extend_from_slice(&data);
            }
            client::Event::Completed(d) => done.push((d.command, d.is_ok())),
            _ => {}
        },
        |s, ev| {
            if let server::Event::Command {
                handle, command, ..
            } = ev
            {
                if let CommandBody::Fetch { .. } = command {
                    let fetch = FetchLiteral {
                        seq: n(1),
                        items: vec![FetchItem::Uid(n(9))],
                        item: Streamed::Body {
                            section: Section::default(),
                            origin: None,
                        },
                        length: size as u64,
                    };
                    s.start_fetch_literal(handle, fetch).unwrap();
                    for c in message.chunks(64 << 10) {
                        s.send_literal_chunk(handle, c).unwrap();
                    }
                } else {
                    s.send_data(handle, Data::Exists(1)).unwrap();
                }
                s.complete(handle, Completion::ok("done")).unwrap();
            }
        },
    );
    assert_eq!(done, [("SELECT", true), ("FETCH", true)]);
    assert!(chunks > 1, "streamed in {chunks} chunks");
    assert!(got == message);
}

/// The flow of RFC 9051 §8 between the two machines: STARTTLS (both sides
/// wait for the handshake), SCRAM-SHA-256 with the sample's user, password,
/// salt and nonces (each side verifies the other's proof), ENABLE
/// IMAP4rev2, SELECT, FETCH and LOGOUT. The tags differ from the sample's
/// (the client numbers its own), so the events are checked, not the bytes.
#[test]
fn rfc9051_8_flow_with_starttls_and_scram() {
    let now = Instant::now();
    let mut so = server::Options::default();
    so.imap4rev1 = false;
    so.starttls = true;
    so.sasl_mechanisms = vec![mailwire_sasl::Mechanism::ScramSha256];
    let server = Server::new(
        so,
        Greeting::ok("IMAP4rev2 Service Ready"),
        "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
        now,
    );
    let mut pair = Pair::new(
        C(Client::new(client::Options::default(), now)),
        S(server.unwrap()),
        now,
    );
    pair.advance_clock = false;
    pair.client.enqueue_command(CommandBody::StartTls).unwrap();
    let sasl = mailwire_sasl::Client::scram_sha256(
        None,
        "user",
        mailwire_sasl::Secret::new("pencil".to_owned()),
        "rOprNGfwEbeRWgbNEkqO",
    )
    .unwrap();
    pair.client.authenticate(sasl).unwrap();
    let enable = mailwire_imap::Vec1::one(mailwire_imap::Atom::new("IMAP4rev2").unwrap());
    pair.client
        .enqueue_command(CommandBody::Enable(enable))
        .unwrap();
    pair.client
        .enqueue_command(CommandBody::Select {
            mailbox: Mailbox::Inbox,
            params: vec![],
        })
        .unwrap();
    pair.client
        .enqueue_command(fetch(FetchAttrs::Fast))
        .unwrap();
    pair.client.enqueue_command(CommandBody::Logout).unwrap();
    // RFC 7677 §3: the stored keys of "pencil" with the sample's salt.
    let salt =
        mailwire_sasl::framing::decode_initial_response(b"W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
    let keys = mailwire_sasl::ScramCredentials::derive(
        mailwire_sasl::ScramHash::Sha256,
        "pencil",
        &salt,
        n(4096),
    );
    let keys = keys.unwrap();
    let mut log = Vec::new();
    pair.drive(
        |c, ev| match ev {
            client::Event::StartTls { .. } => {
                log.push("starttls".to_owned());
                c.handle_tls_established(now);
            }
            client::Event::Completed(d) => log.push(format!("{} {}", d.command, d.is_ok())),
            client::Event::Closed { reason } => log.push(format!("closed {reason:?}")),
            _ => {}
        },
        |s, ev| match ev {
            server::Event::StartTls => s.handle_tls_established(now),
            server::Event::Authenticate {
                handle, username, ..
            } => {
                assert_eq!(username, "user");
                s.provide_scram_credentials(handle, Some(keys.clone()))
                    .unwrap();
            }
            server::Event::LoggedIn { handle, .. } => s
                .complete(
                    handle,
                    Completion::ok("SCRAM-SHA-256 authentication successful"),
                )
                .unwrap(),
            server::Event::Command {
                handle, command, ..
            } => {
                match command {
                    CommandBody::Select { .. } => s.send_data(handle, Data::Exists(18)).unwrap(),
                    _ => s
                        .send_data(
                            handle,
                            Data::Fetch {
                                seq: n(12),
                                items: vec![
                                    FetchItem::Flags(vec![Flag::Seen]),
                                    FetchItem::Rfc822Size(4286),
                                ],
                            },
                        )
                        .unwrap(),
                }
                s.complete(handle, Completion::ok("done")).unwrap();
            }
            _ => {}
        },
    );
    assert_eq!(
        log,
        [
            "starttls",
            "AUTHENTICATE true",
            "ENABLE true",
            "SELECT true",
            "FETCH true",
            "LOGOUT true",
            "closed Logout"
        ]
    );
    assert!(pair.server.is_tls() && pair.server.is_enabled("IMAP4rev2"));
}

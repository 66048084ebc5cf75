//! Transcripts against the client machine alone: `S:` lines are fed, `C:`
//! lines are what the machine must send. The RFCs write commands in lower
//! case and with their own tags; the runner compares without case and maps
//! each RFC tag to the machine's (recorded from the first `C:` line using it).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use mailwire_testkit::{Machine, Scripted, Side, Transcript};
use proptest::prelude::*;

use std::num::NonZeroU32;

use super::*;
use crate::types::command::{AppendMessage, SelectParam, StoreKind};
use crate::types::core::Atom;
use crate::types::core::{Binary, IString};
use crate::types::fetch::FetchItem;
use crate::types::fetch::{FetchAttr, FetchAttrs, Section};
use crate::types::flag::Flag;
use crate::types::mailbox::Mailbox;
use crate::types::response::{Code, Data, StatusKind};
use crate::types::secret::Secret;
use crate::types::secret::Vec1;
use crate::types::sequence::SequenceSet;

impl Machine for Client {
    type Event = Event;
    fn handle_input(&mut self, now: Instant, data: &[u8]) {
        Client::handle_input(self, now, data)
    }
    fn handle_eof(&mut self, now: Instant) {
        Client::handle_eof(self, now)
    }
    fn handle_timeout(&mut self, now: Instant) {
        Client::handle_timeout(self, now)
    }
    fn poll_transmit(&mut self, now: Instant, buf: &mut Vec<u8>) -> Option<usize> {
        Client::poll_transmit(self, now, buf)
    }
    fn poll_event(&mut self) -> Option<Event> {
        Client::poll_event(self)
    }
    fn poll_timeout(&self) -> Option<Instant> {
        Client::poll_timeout(self)
    }
    fn is_closed(&self) -> bool {
        Client::is_closed(self)
    }
}

type Action = Box<dyn FnOnce(&mut Client)>;

fn cmd(body: CommandBody<'static>) -> Action {
    Box::new(move |c: &mut Client| {
        c.enqueue_command(body).unwrap();
    })
}

fn s(v: &str) -> IString<'static> {
    IString::try_from(v.to_owned()).unwrap()
}

fn login(user: &str, pass: &str) -> CommandBody<'static> {
    CommandBody::Login {
        username: s(user),
        password: Secret::new(s(pass)),
    }
}

fn select(name: &str) -> CommandBody<'static> {
    CommandBody::Select {
        mailbox: Mailbox::new(s(name)),
        params: vec![],
    }
}

fn set(v: &str) -> SequenceSet {
    let line = format!("x FETCH {v} UID\r\n");
    let (c, _) = crate::parse::command(line.as_bytes()).unwrap();
    match c.body {
        CommandBody::Fetch { set, .. } => set,
        _ => unreachable!(),
    }
}

fn fetch(v: &str, attrs: FetchAttrs<'static>) -> CommandBody<'static> {
    CommandBody::Fetch {
        uid: false,
        set: set(v),
        attrs,
        modifiers: vec![],
    }
}

fn body_header() -> FetchAttrs<'static> {
    FetchAttrs::List(vec![FetchAttr::BodySection {
        peek: false,
        section: Section {
            part: vec![],
            text: Some(crate::types::fetch::SectionText::Header),
        },
        partial: None,
    }])
}

fn store_deleted(v: &str) -> CommandBody<'static> {
    CommandBody::Store {
        uid: false,
        set: set(v),
        unchanged_since: None,
        kind: StoreKind::Add,
        silent: false,
        flags: vec![Flag::Deleted],
    }
}

fn t0() -> Instant {
    // A fixed origin so that events (which hold no instants) compare across runs.
    Instant::now()
}

fn opts() -> Options {
    Options {
        tag_prefix: Tag::try_from("a").unwrap(),
        tag_width: 3,
        ..Options::default()
    }
}

/// How each server turn is fed.
#[derive(Debug, Clone, Copy)]
enum Feed {
    Whole,
    Bytewise,
    /// Split each turn at this fraction (per mille) of its length.
    At(usize),
}

fn tag_of(line: &[u8]) -> (&[u8], &[u8]) {
    let sp = line.iter().position(|&b| b == b' ').unwrap_or(line.len());
    (&line[..sp], &line[sp..])
}

/// Runs a transcript; returns the machine and every event.
fn run(options: Options, text: &str, actions: Vec<Action>, feed: Feed) -> (Client, Vec<Event>) {
    let t = Transcript::parse(text);
    let now = t0();
    let mut sc = Scripted::new(Client::new(options, now), now);
    let mut actions = actions.into_iter();
    let mut tags: HashMap<Vec<u8>, Vec<u8>> = HashMap::new();
    let mut out: Vec<u8> = Vec::new();
    for (side, block) in t.turns() {
        match side {
            Side::Server => {
                // Map the RFC's tags to the machine's, line by line.
                let mut fed = Vec::new();
                for line in block.split_inclusive(|&b| b == b'\n') {
                    let (tag, rest) = tag_of(line);
                    match tags.get(tag) {
                        Some(m) => {
                            fed.extend_from_slice(m);
                            fed.extend_from_slice(rest);
                        }
                        None => fed.extend_from_slice(line),
                    }
                }
                match feed {
                    Feed::Whole => sc.send(&fed),
                    Feed::Bytewise => sc.send_bytewise(&fed),
                    Feed::At(pm) => {
                        let k = fed.len() * pm / 1000;
                        sc.send(&fed[..k]);
                        sc.send(&fed[k..]);
                    }
                }
            }
            Side::Client => {
                for want in block.split_inclusive(|&b| b == b'\n') {
                    out.extend(sc.take_output());
                    if !out.windows(2).any(|w| w == b"\r\n") {
                        let a = actions.next().unwrap_or_else(|| {
                            panic!("no action left for {:?}", String::from_utf8_lossy(want))
                        });
                        sc.act(a);
                        out.extend(sc.take_output());
                    }
                    let end = out
                        .windows(2)
                        .position(|w| w == b"\r\n")
                        .unwrap_or_else(|| {
                            panic!(
                                "machine sent nothing for {:?}; events {:?}",
                                String::from_utf8_lossy(want),
                                sc.collected
                            )
                        })
                        + 2;
                    let got: Vec<u8> = out.drain(..end).collect();
                    let (wt, wrest) = tag_of(want);
                    let (gt, grest) = tag_of(&got);
                    let same_cmd = !wrest.is_empty() && wrest.eq_ignore_ascii_case(grest);
                    if same_cmd && wt != gt {
                        tags.insert(wt.to_vec(), gt.to_vec());
                    }
                    assert!(
                        got.eq_ignore_ascii_case(want) || same_cmd,
                        "expected {:?}\n     got {:?}",
                        String::from_utf8_lossy(want),
                        String::from_utf8_lossy(&got)
                    );
                }
            }
        }
    }
    out.extend(sc.take_output());
    assert!(
        out.is_empty(),
        "unexpected output {:?}",
        String::from_utf8_lossy(&out)
    );
    let events = sc.events();
    (sc.machine, events)
}

fn completions(events: &[Event]) -> Vec<&Completion> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Completed(c) => Some(c),
            _ => None,
        })
        .collect()
}

fn closed(events: &[Event]) -> Option<&ConnectionError> {
    events.iter().find_map(|e| match e {
        Event::Closed { reason } => Some(reason),
        _ => None,
    })
}

// ----- RFC 3501 §8 ----------------------------------------------------------

/// RFC 3501 §8, the long lines joined (with [`SAMPLE_TAIL`]). The store line is written as the
/// machine sends it: a flag list in parentheses (the shortest correct form
/// the encoder always uses).
/// The part both §8 samples share (FETCH, STORE, LOGOUT); they differ in
/// the version name and in a typo of RFC 9051's envelope message id.
const SAMPLE_TAIL: &str = r#"
C: a003 fetch 12 full
S: * 12 FETCH (FLAGS (\Seen) INTERNALDATE "17-Jul-1996 02:44:25 -0700" RFC822.SIZE 4286 ENVELOPE ("Wed, 17 Jul 1996 02:23:25 -0700 (PDT)" "{REV} WG mtg summary and minutes" (("Terry Gray" NIL "gray" "cac.washington.edu")) (("Terry Gray" NIL "gray" "cac.washington.edu")) (("Terry Gray" NIL "gray" "cac.washington.edu")) ((NIL NIL "imap" "cac.washington.edu")) ((NIL NIL "minutes" "CNRI.Reston.VA.US") ("John Klensin" NIL "KLENSIN" "MIT.EDU")) NIL NIL "{ENVID}") BODY ("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 3028 92))
S: a003 OK FETCH completed
C: a004 fetch 12 body[header]
S: * 12 FETCH (BODY[HEADER] {342}
S: Date: Wed, 17 Jul 1996 02:23:25 -0700 (PDT)
S: From: Terry Gray <gray@cac.washington.edu>
S: Subject: {REV} WG mtg summary and minutes
S: To: imap@cac.washington.edu
S: cc: minutes@CNRI.Reston.VA.US, John Klensin <KLENSIN@MIT.EDU>
S: Message-Id: <B27397-0100000@cac.washington.edu>
S: MIME-Version: 1.0
S: Content-Type: TEXT/PLAIN; CHARSET=US-ASCII
S:
S: )
S: a004 OK FETCH completed
C: a005 store 12 +flags (\deleted)
S: * 12 FETCH (FLAGS (\Seen \Deleted))
S: a005 OK +FLAGS completed
C: a006 logout
S: * BYE {REV} server terminating connection
S: a006 OK LOGOUT completed
"#;

fn sample(head: &str, rev: &str, envid: &str) -> &'static str {
    let tail = SAMPLE_TAIL.replace("{REV}", rev).replace("{ENVID}", envid);
    String::leak(format!("{head}{tail}"))
}

const RFC3501_8_HEAD: &str = r#"
S: * OK IMAP4rev1 Service Ready
C: a001 login mrc secret
S: a001 OK LOGIN completed
C: a002 select inbox
S: * 18 EXISTS
S: * FLAGS (\Answered \Flagged \Deleted \Seen \Draft)
S: * 2 RECENT
S: * OK [UNSEEN 17] Message 17 is the first unseen message
S: * OK [UIDVALIDITY 3857529045] UIDs valid
S: a002 OK [READ-WRITE] SELECT completed
"#;

fn rfc3501_8() -> &'static str {
    sample(
        RFC3501_8_HEAD,
        "IMAP4rev1",
        "<B27397-0100000@cac.washington.edu>",
    )
}

fn rfc3501_actions() -> Vec<Action> {
    vec![
        cmd(login("mrc", "secret")),
        cmd(select("inbox")),
        cmd(fetch("12", FetchAttrs::Full)),
        cmd(fetch("12", body_header())),
        cmd(store_deleted("12")),
        cmd(CommandBody::Logout),
    ]
}

fn rfc3501_opts() -> Options {
    // This sample's server announces no capabilities and its client asks none.
    Options {
        auto_capability: false,
        ..opts()
    }
}

#[test]
fn rfc3501_8_sample() {
    let (client, events) = run(rfc3501_opts(), rfc3501_8(), rfc3501_actions(), Feed::Whole);
    let done = completions(&events);
    assert_eq!(done.len(), 6);
    assert!(done.iter().all(|c| c.is_ok()));
    assert_eq!(
        done.iter().map(|c| c.command).collect::<Vec<_>>(),
        ["LOGIN", "SELECT", "FETCH", "FETCH", "STORE", "LOGOUT"]
    );
    // SELECT carries its data; the mailbox state was kept.
    assert_eq!(done[1].data.len(), 5);
    // FETCH FULL: one FETCH with five items; BODY[HEADER]: the literal.
    let f: Vec<_> = done[2].fetches().collect();
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].0.get(), 12);
    assert_eq!(f[0].1.len(), 5);
    let f: Vec<_> = done[3].fetches().collect();
    match &f[0].1[0] {
        FetchItem::BodySection { data: Some(d), .. } => assert_eq!(d.as_bytes().len(), 342),
        other => panic!("{other:?}"),
    }
    // The STORE's FETCH is the STORE's data, not an update.
    assert_eq!(done[4].data.len(), 1);
    assert!(!events.iter().any(|e| matches!(e, Event::Update(_))));
    // BYE within LOGOUT, then closed.
    assert_eq!(closed(&events), Some(&ConnectionError::Logout));
    assert!(client.is_closed());
}

#[test]
fn rfc3501_8_mailbox_state() {
    // Stop before LOGOUT to read the selected mailbox.
    let text = rfc3501_8().split("C: a006").next().unwrap();
    let mut actions = rfc3501_actions();
    actions.pop();
    let (client, _) = run(rfc3501_opts(), text, actions, Feed::Whole);
    let m = client.selected().unwrap();
    assert_eq!(m.name, Mailbox::Inbox);
    assert_eq!(m.exists, 18);
    assert_eq!(m.recent, Some(2));
    assert_eq!(m.unseen.map(|n| n.get()), Some(17));
    assert_eq!(m.uid_validity.map(|n| n.get()), Some(3857529045));
    assert!(!m.read_only);
    assert_eq!(m.flags.len(), 5);
    assert!(client.is_authenticated());
}

// ----- RFC 9051 §8 ----------------------------------------------------------

/// RFC 9051 §8 with the long lines joined (with [`SAMPLE_TAIL`]). Two exchanges are added (marked
/// `added`): the machine asks CAPABILITY after STARTTLS (RFC 9051 §6.2.1:
/// the old list must not be used) and after AUTHENTICATE (its OK carried no
/// CAPABILITY code).
const RFC9051_8_HEAD: &str = r#"
S: * OK [CAPABILITY STARTTLS AUTH=SCRAM-SHA-256 LOGINDISABLED IMAP4rev2] IMAP4rev2 Service Ready
C: a000 starttls
S: a000 OK Proceed with TLS negotiation
C: c1 CAPABILITY
S: * CAPABILITY IMAP4rev2 AUTH=SCRAM-SHA-256
S: c1 OK added: capabilities after TLS
C: A001 AUTHENTICATE SCRAM-SHA-256 biwsbj11c2VyLHI9ck9wck5HZndFYmVSV2diTkVrcU8=
S: + cj1yT3ByTkdmd0ViZVJXZ2JORWtxTyVodllEcFdVYTJSYVRDQWZ1eEZJbGopaE5sRiRrMCxzPVcyMlphSjBTTlk3c29Fc1VFamI2Z1E9PSxpPTQwOTY=
C: Yz1iaXdzLHI9ck9wck5HZndFYmVSV2diTkVrcU8laHZZRHBXVWEyUmFUQ0FmdXhGSWxqKWhObEYkazAscD1kSHpiWmFwV0lrNGpVaE4rVXRlOXl0YWc5empmTUhnc3FtbWl6N0FuZFZRPQ==
S: + dj02cnJpVFJCaTIzV3BSUi93dHVwK21NaFVaVW4vZEI1bkxUSlJzamw5NUc0PQ==
C:
S: A001 OK SCRAM-SHA-256 authentication successful
C: c2 CAPABILITY
S: * CAPABILITY IMAP4rev2 ENABLE IDLE
S: c2 OK added: capabilities after authentication
C: babc ENABLE IMAP4rev2
S: * ENABLED IMAP4rev2
S: babc OK Some capabilities enabled
C: a002 select inbox
S: * 18 EXISTS
S: * FLAGS (\Answered \Flagged \Deleted \Seen \Draft)
S: * OK [UIDVALIDITY 3857529045] UIDs valid
S: * LIST () "/" INBOX ("OLDNAME" ("inbox"))
S: a002 OK [READ-WRITE] SELECT completed
"#;

fn rfc9051_8() -> &'static str {
    sample(
        RFC9051_8_HEAD,
        "IMAP4rev2",
        "<B27397-0100000@cac.washington.ed>",
    )
}

fn rfc9051_actions() -> Vec<Action> {
    vec![
        cmd(CommandBody::StartTls),
        Box::new(|c: &mut Client| c.handle_tls_established(t0())),
        Box::new(|c: &mut Client| {
            let sasl = mailwire_sasl::Client::scram_sha256(
                None,
                "user",
                mailwire_sasl::Secret::new("pencil".to_owned()),
                "rOprNGfwEbeRWgbNEkqO",
            )
            .unwrap();
            c.authenticate(sasl).unwrap();
        }),
        cmd(CommandBody::Enable(Vec1::one(
            Atom::try_from("IMAP4rev2").unwrap(),
        ))),
        cmd(select("inbox")),
        cmd(fetch("12", FetchAttrs::Full)),
        cmd(fetch("12", body_header())),
        cmd(store_deleted("12")),
        cmd(CommandBody::Logout),
    ]
}

#[test]
fn rfc9051_8_sample() {
    let (client, events) = run(opts(), rfc9051_8(), rfc9051_actions(), Feed::Whole);
    assert!(events.iter().any(|e| matches!(e, Event::StartTls { .. })));
    let done = completions(&events);
    assert_eq!(
        done.iter().map(|c| c.command).collect::<Vec<_>>(),
        [
            "AUTHENTICATE",
            "ENABLE",
            "SELECT",
            "FETCH",
            "FETCH",
            "STORE",
            "LOGOUT"
        ]
    );
    assert!(done.iter().all(|c| c.is_ok()));
    assert!(client.enabled().has("imap4rev2"));
    // The LIST with OLDNAME is part of the SELECT's data.
    assert_eq!(done[2].lists().count(), 1);
    assert!(matches!(done[2].code(), Some(Code::ReadWrite)));
    assert_eq!(closed(&events), Some(&ConnectionError::Logout));
}

#[test]
fn rfc9051_8_login_refused_under_logindisabled() {
    let mut sc = Scripted::new(Client::new(opts(), t0()), t0());
    sc.send(b"* OK [CAPABILITY STARTTLS AUTH=SCRAM-SHA-256 LOGINDISABLED IMAP4rev2] ready\r\n");
    let err = sc.act(|c| c.enqueue_command(login("fred", "secret")));
    match err {
        Err(SendError::LoginDisabled(CommandBody::Login { password, .. })) => {
            assert_eq!(password.expose().as_bytes(), b"secret");
        }
        other => panic!("{other:?}"),
    }
    sc.expect_nothing();
}

#[test]
fn login_queued_before_logindisabled_was_known_is_not_sent() {
    let mut sc = Scripted::new(Client::new(opts(), t0()), t0());
    let h = sc.act(|c| c.enqueue_command(login("fred", "secret")).unwrap());
    sc.send(b"* OK [CAPABILITY IMAP4rev2 LOGINDISABLED] ready\r\n");
    sc.expect_nothing();
    let ev = sc.events();
    assert!(ev.iter().any(|e| matches!(e,
        Event::Refused { handle, error: SendError::LoginDisabled(_) } if *handle == h)));
}

// ----- every split of the input ---------------------------------------------

fn event_log(events: &[Event]) -> Vec<String> {
    events.iter().map(|e| format!("{e:?}")).collect()
}

fn rfc2177_text() -> &'static str {
    RFC2177
}

/// A transcript's options, text and application actions.
type Setup = fn() -> (Options, &'static str, Vec<Action>);

/// Each transcript, with its options and actions.
fn transcripts() -> Vec<(&'static str, Setup)> {
    vec![
        ("rfc3501", || {
            (rfc3501_opts(), rfc3501_8(), rfc3501_actions())
        }),
        ("rfc9051", || (opts(), rfc9051_8(), rfc9051_actions())),
        ("rfc2177", || {
            (rfc2177_opts(), rfc2177_text(), rfc2177_actions())
        }),
        ("rfc7162", || {
            (upper_opts(), RFC7162_QRESYNC, rfc7162_actions())
        }),
        ("rfc6851", || {
            (upper_opts(), RFC6851_MOVE, rfc6851_actions())
        }),
        ("rfc4315", || {
            (upper_opts(), RFC4315_UIDPLUS, rfc4315_actions())
        }),
    ]
}

#[test]
fn every_transcript_bytewise_gives_the_same_events() {
    for (name, t) in transcripts() {
        let (o, text, a) = t();
        let (_, whole) = run(o, text, a, Feed::Whole);
        let (o, text, a) = t();
        let (_, bytewise) = run(o, text, a, Feed::Bytewise);
        assert_eq!(event_log(&whole), event_log(&bytewise), "{name}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any split of the server's bytes gives the same events and output.
    #[test]
    fn any_split_gives_the_same_events(which in 0usize..6, at in 0usize..=1000) {
        let (name, t) = transcripts()[which];
        let (o, text, a) = t();
        let (_, whole) = run(o, text, a, Feed::Whole);
        let (o, text, a) = t();
        let (_, split) = run(o, text, a, Feed::At(at));
        prop_assert_eq!(event_log(&whole), event_log(&split), "{}", name);
    }
}

// ----- RFC 2177 IDLE --------------------------------------------------------

/// RFC 2177 §3, the example; `(...)` written out as a FLAGS item.
const RFC2177: &str = r#"
S: * PREAUTH [CAPABILITY IMAP4rev1 IDLE] ready
C: A001 SELECT INBOX
S: * FLAGS (Deleted Seen)
S: * 3 EXISTS
S: * 0 RECENT
S: * OK [UIDVALIDITY 1]
S: A001 OK SELECT completed
C: A002 IDLE
S: + idling
S: * 4 EXISTS
C: DONE
S: A002 OK IDLE terminated
C: A003 FETCH 4 ALL
S: * 4 FETCH (FLAGS ())
S: A003 OK FETCH completed
C: A004 IDLE
S: * 2 EXPUNGE
S: * 3 EXISTS
S: + idling
S: * 3 EXPUNGE
S: * 2 EXISTS
S: * 3 EXISTS
C: DONE
S: A004 OK IDLE terminated
C: A005 FETCH 3 ALL
S: * 3 FETCH (FLAGS ())
S: A005 OK FETCH completed
"#;

fn upper_opts() -> Options {
    Options {
        tag_prefix: Tag::try_from("A").unwrap(),
        tag_width: 3,
        ..Options::default()
    }
}

fn rfc2177_opts() -> Options {
    upper_opts()
}

fn done_action() -> Action {
    Box::new(|c: &mut Client| c.idle_done().unwrap())
}

fn rfc2177_actions() -> Vec<Action> {
    vec![
        cmd(select("INBOX")),
        cmd(CommandBody::Idle),
        done_action(),
        cmd(fetch("4", FetchAttrs::All)),
        cmd(CommandBody::Idle),
        done_action(),
        cmd(fetch("3", FetchAttrs::All)),
    ]
}

#[test]
fn rfc2177_3_idle() {
    let (client, events) = run(rfc2177_opts(), RFC2177, rfc2177_actions(), Feed::Whole);
    let updates: Vec<&Update> = events
        .iter()
        .filter_map(|e| match e {
            Event::Update(u) => Some(u),
            _ => None,
        })
        .collect();
    assert_eq!(updates.len(), 6, "{updates:?}");
    assert_eq!(updates[0], &Update::Exists(4));
    assert_eq!(updates[1], &Update::Expunge(NonZeroU32::new(2).unwrap()));
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e, Event::IdleStarted { .. }))
            .count(),
        2
    );
    let done = completions(&events);
    assert_eq!(
        done.iter().map(|c| c.command).collect::<Vec<_>>(),
        ["SELECT", "IDLE", "FETCH", "IDLE", "FETCH"]
    );
    // 3, +1 (4), -1 (3), =3, -1 (2), =2, =3.
    assert_eq!(client.selected().unwrap().exists, 3);
    assert!(client.is_authenticated());
}

#[test]
fn rfc2177_3_idle_is_reissued_before_29_minutes() {
    let mut sc = Scripted::new(Client::new(upper_opts(), t0()), t0());
    sc.send(b"* PREAUTH [CAPABILITY IMAP4rev1 IDLE] ready\r\n");
    let h = sc.act(|c| c.enqueue_command(CommandBody::Idle).unwrap());
    sc.expect(b"A001 IDLE\r\n");
    sc.send(b"+ idling\r\n");
    assert!(sc.machine.is_idle());
    // Active IDLE: no response timeout, only the refresh.
    let due = sc.machine.poll_timeout().unwrap();
    assert_eq!(due - sc.now, Duration::from_secs(28 * 60));
    sc.advance(Duration::from_secs(28 * 60 - 1));
    sc.expect_nothing();
    sc.advance(Duration::from_secs(1));
    sc.expect(b"DONE\r\n");
    sc.send(b"A001 OK IDLE terminated\r\n");
    sc.expect(b"A002 IDLE\r\n");
    sc.send(b"+ idling\r\n* 5 EXISTS\r\n* OK Still here\r\n");
    let ev = sc.events();
    assert_eq!(
        ev.iter()
            .filter(|e| matches!(e, Event::IdleStarted { .. }))
            .count(),
        1,
        "the refresh is silent: {ev:?}"
    );
    assert!(!ev.iter().any(|e| matches!(e, Event::Completed(_))));
    assert!(
        ev.iter()
            .any(|e| matches!(e, Event::Update(Update::Notice(_))))
    );
    sc.act(|c| c.idle_done().unwrap());
    sc.expect(b"DONE\r\n");
    sc.send(b"A002 OK IDLE terminated\r\n");
    let ev = sc.events();
    assert!(matches!(&ev[..], [Event::Completed(c)] if c.handle == h && c.is_ok()));
    assert_eq!(sc.act(|c| c.idle_done()), Err(NotIdling));
}

#[test]
fn command_timeout_closes() {
    let mut sc = Scripted::new(Client::new(upper_opts(), t0()), t0());
    sc.send(b"* PREAUTH [CAPABILITY IMAP4rev1] ready\r\n");
    sc.act(|c| c.enqueue_command(CommandBody::Noop).unwrap());
    sc.expect(b"A001 NOOP\r\n");
    sc.advance(Duration::from_secs(299));
    assert!(!sc.machine.is_closed());
    // A byte of progress restarts the timer.
    sc.send(b"* 3 EXISTS\r\n");
    sc.advance(Duration::from_secs(299));
    assert!(!sc.machine.is_closed());
    sc.advance(Duration::from_secs(1));
    assert_eq!(closed(&sc.events()), Some(&ConnectionError::Timeout));
    assert_eq!(sc.machine.poll_timeout(), None);
}

#[test]
fn greeting_timeout_closes() {
    let mut sc = Scripted::new(Client::new(upper_opts(), t0()), t0());
    sc.advance(Duration::from_secs(300));
    assert_eq!(closed(&sc.events()), Some(&ConnectionError::Timeout));
}

// ----- RFC 7888 LITERAL+ / LITERAL- ----------------------------------------

fn append(msg: Vec<u8>) -> CommandBody<'static> {
    CommandBody::Append {
        mailbox: Mailbox::Inbox,
        messages: Vec1::one(AppendMessage {
            flags: vec![],
            date: None,
            message: Binary(msg.into()),
            utf8: false,
        }),
    }
}

fn preauth(caps: &str) -> Scripted<Client> {
    let mut sc = Scripted::new(Client::new(upper_opts(), t0()), t0());
    sc.send(format!("* PREAUTH [CAPABILITY {caps}] ready\r\n").as_bytes());
    sc
}

#[test]
fn synchronizing_literal_waits_for_continuation() {
    let mut sc = preauth("IMAP4rev1");
    let h = sc.act(|c| c.enqueue_command(append(b"Hello".to_vec())).unwrap());
    sc.act(|c| c.enqueue_command(CommandBody::Noop).unwrap());
    sc.expect(b"A001 APPEND INBOX {5}\r\n");
    // Nothing else, not even the NOOP, before the `+`.
    sc.expect_nothing();
    sc.send(b"+ Ready for literal data\r\n");
    sc.expect(b"Hello\r\n");
    sc.expect(b"A002 NOOP\r\n");
    sc.send(b"A001 OK [APPENDUID 38505 3955] APPEND completed\r\nA002 OK done\r\n");
    let done = completions(&sc.events())
        .iter()
        .map(|c| c.handle)
        .collect::<Vec<_>>();
    assert_eq!(done[0], h);
}

#[test]
fn refused_literal_is_not_sent() {
    let mut sc = preauth("IMAP4rev1");
    sc.act(|c| c.enqueue_command(append(b"Hello".to_vec())).unwrap());
    sc.expect(b"A001 APPEND INBOX {5}\r\n");
    sc.send(b"A001 NO [TOOBIG] too big\r\n");
    sc.expect_nothing();
    let ev = sc.events();
    assert_eq!(completions(&ev)[0].status, StatusKind::No);
}

#[test]
fn rfc7888_literal_plus() {
    let mut sc = preauth("IMAP4rev1 LITERAL+");
    sc.act(|c| c.enqueue_command(append(vec![b'x'; 5000])).unwrap());
    let mut want = b"A001 APPEND INBOX {5000+}\r\n".to_vec();
    want.extend(vec![b'x'; 5000]);
    want.extend_from_slice(b"\r\n");
    sc.expect(&want);
}

#[test]
fn rfc7888_literal_minus_only_up_to_4096() {
    let mut sc = preauth("IMAP4rev1 LITERAL-");
    sc.act(|c| c.enqueue_command(append(vec![b'x'; 4096])).unwrap());
    let mut want = b"A001 APPEND INBOX {4096+}\r\n".to_vec();
    want.extend(vec![b'x'; 4096]);
    want.extend_from_slice(b"\r\n");
    sc.expect(&want);
    sc.send(b"A001 OK done\r\n");
    sc.act(|c| c.enqueue_command(append(vec![b'y'; 4097])).unwrap());
    sc.expect(b"A002 APPEND INBOX {4097}\r\n");
    sc.expect_nothing();
    sc.send(b"+ go\r\n");
    let mut want = vec![b'y'; 4097];
    want.extend_from_slice(b"\r\n");
    sc.expect(&want);
}

// ----- pipelining (RFC 9051 §5.5) -------------------------------------------

#[test]
fn rfc9051_5_5_pipelining_rules() {
    let mut sc = preauth("IMAP4rev1");
    sc.act(|c| c.enqueue_command(select("INBOX")).unwrap());
    sc.expect(b"A001 SELECT INBOX\r\n");
    // FETCH + STORE + NOOP go together (RFC 9051 §5.5: valid), but the
    // STORE after the NOOP waits: the NOOP may bring an EXPUNGE.
    sc.act(|c| {
        c.enqueue_command(fetch("1:3", FetchAttrs::Fast)).unwrap();
        c.enqueue_command(store_deleted("2")).unwrap();
        c.enqueue_command(CommandBody::Noop).unwrap();
        c.enqueue_command(store_deleted("3")).unwrap();
    });
    sc.expect_nothing(); // SELECT is state-changing: everything waits
    sc.send(b"* 3 EXISTS\r\nA001 OK [READ-WRITE] done\r\n");
    sc.expect(b"A002 FETCH 1:3 FAST\r\nA003 STORE 2 +FLAGS (\\Deleted)\r\nA004 NOOP\r\n");
    // FETCH + NOOP + STORE is invalid: the STORE waits for the NOOP.
    sc.expect_nothing();
    sc.send(b"A002 OK done\r\nA003 OK done\r\n");
    sc.expect_nothing();
    sc.send(b"A004 OK done\r\n");
    sc.expect(b"A005 STORE 3 +FLAGS (\\Deleted)\r\n");
}

#[test]
fn uid_command_blocks_sequence_numbers() {
    let mut sc = preauth("IMAP4rev1");
    sc.act(|c| {
        c.enqueue_command(CommandBody::Fetch {
            uid: true,
            set: set("1:*"),
            attrs: FetchAttrs::List(vec![FetchAttr::Flags]),
            modifiers: vec![],
        })
        .unwrap();
        c.enqueue_command(CommandBody::Copy {
            uid: true,
            set: set("5"),
            mailbox: Mailbox::new(s("x")),
        })
        .unwrap();
        c.enqueue_command(fetch("1", FetchAttrs::Fast)).unwrap();
    });
    sc.expect(b"A001 UID FETCH 1:* FLAGS\r\nA002 UID COPY 5 x\r\n");
    sc.expect_nothing();
    sc.send(b"A001 OK done\r\nA002 OK done\r\n");
    sc.expect(b"A003 FETCH 1 FAST\r\n");
}

#[test]
fn pipelined_list_and_status_each_get_their_own_data() {
    let mut sc = preauth("IMAP4rev1");
    sc.act(|c| {
        c.enqueue_command(CommandBody::List {
            select: vec![],
            reference: Mailbox::new(s("")),
            patterns: Vec1::one(s("*")),
            return_opts: vec![],
        })
        .unwrap();
        c.enqueue_command(CommandBody::Status {
            mailbox: Mailbox::Inbox,
            items: vec![crate::types::command::StatusAttr::Messages],
        })
        .unwrap();
    });
    sc.expect(b"A001 LIST \"\" *\r\nA002 STATUS INBOX (MESSAGES)\r\n");
    sc.send(b"* LIST () \"/\" INBOX\r\n* STATUS INBOX (MESSAGES 3)\r\n* LIST () \"/\" Sent\r\nA001 OK done\r\nA002 OK done\r\n");
    let ev = sc.events();
    let done = completions(&ev);
    assert_eq!(done[0].lists().count(), 2);
    assert_eq!(done[0].statuses().count(), 0);
    assert_eq!(done[1].statuses().count(), 1);
}

// ----- STARTTLS and other security tests ------------------------------------

#[test]
fn starttls_plaintext_after_tagged_ok_is_fatal() {
    // In the same read as the OK, and in a later read.
    for split in [false, true] {
        let mut sc = Scripted::new(Client::new(upper_opts(), t0()), t0());
        sc.send(b"* OK [CAPABILITY IMAP4rev1 STARTTLS] hi\r\n");
        sc.act(|c| c.enqueue_command(CommandBody::StartTls).unwrap());
        sc.expect(b"A001 STARTTLS\r\n");
        let injected = b"A001 OK go\r\n* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n";
        if split {
            sc.send(&injected[..12]);
            assert!(
                sc.events()
                    .iter()
                    .any(|e| matches!(e, Event::StartTls { .. }))
            );
            sc.send(&injected[12..]);
        } else {
            sc.send(injected);
        }
        let ev = sc.events();
        assert_eq!(closed(&ev), Some(&ConnectionError::PlaintextAfterStartTls));
        // The injected capability was never taken.
        assert!(
            !ev.iter()
                .any(|e| matches!(e, Event::Capabilities(c) if c.has("AUTH=PLAIN")))
        );
        sc.expect_nothing();
    }
}

#[test]
fn starttls_forgets_capabilities_and_asks_again() {
    let mut sc = Scripted::new(Client::new(upper_opts(), t0()), t0());
    sc.send(b"* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] hi\r\n");
    sc.act(|c| c.enqueue_command(CommandBody::StartTls).unwrap());
    sc.expect(b"A001 STARTTLS\r\n");
    sc.send(b"A001 OK go\r\n");
    assert!(sc.machine.capabilities().is_none());
    sc.expect_nothing();
    sc.act(|c| c.handle_tls_established(t0()));
    sc.expect(b"A002 CAPABILITY\r\n");
    sc.send(b"* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\nA002 OK done\r\n");
    assert!(sc.machine.capabilities().unwrap().has("AUTH=PLAIN"));
    // LOGIN is allowed now.
    assert!(sc.act(|c| c.enqueue_command(login("a", "b"))).is_ok());
    sc.expect(b"A003 LOGIN a b\r\n");
    // After login without a CAPABILITY code: asked again.
    sc.send(b"A003 OK done\r\n");
    sc.expect(b"A004 CAPABILITY\r\n");
    assert_eq!(
        sc.act(|c| c.enqueue_command(CommandBody::StartTls))
            .map_err(|e| matches!(e, SendError::NotAllowed(_))),
        Err(true)
    );
}

// ----- COMPRESS=DEFLATE (RFC 4978) -------------------------------------------

fn compress_deflate() -> CommandBody<'static> {
    CommandBody::Compress {
        algorithm: Atom::try_from("DEFLATE").unwrap(),
    }
}

/// A deterministic stand-in for DEFLATE (STYLE.md (d)): the machine never
/// looks into compressed bytes, it only hands them back, so any reversible
/// transform shows whether they were parsed, lost or altered.
fn squash(b: &[u8]) -> Vec<u8> {
    b.iter().map(|x| x ^ 0xa5).collect()
}

#[test]
fn rfc4978_3_compress_ok_waits_for_the_switch() {
    let mut sc = preauth("IMAP4rev1 COMPRESS=DEFLATE");
    sc.events(); // the greeting
    let h = sc.act(|c| c.enqueue_command(compress_deflate()).unwrap());
    sc.expect(b"A001 COMPRESS DEFLATE\r\n");
    let noop = sc.act(|c| c.enqueue_command(CommandBody::Noop).unwrap());
    // RFC 4978 §3: nothing more until the result of COMPRESS.
    sc.expect_nothing();
    // The OK and, in the same read, compressed bytes that look like
    // responses once inflated (and must not be parsed before).
    let later = b"* 7 EXISTS\r\n* OK [ALERT] compressed\r\n";
    let mut read = b"A001 OK DEFLATE active\r\n".to_vec();
    read.extend(squash(&later[..15]));
    sc.send(&read);
    let ev = sc.events();
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert!(
        matches!(&ev[0], Event::Compress { handle, text } if *handle == h && text == "DEFLATE active")
    );
    assert!(!sc.machine.is_compressed());
    // Nothing is sent before the switch, however the machine is pushed.
    sc.expect_nothing();
    sc.advance(Duration::from_secs(60));
    sc.expect_nothing();
    assert!(sc.machine.poll_timeout().is_none());
    // Compressed bytes fed before the switch join the leftover.
    sc.send(&squash(&later[15..]));
    assert!(sc.events().is_empty());
    assert_eq!(sc.act(|c| c.take_compressed_input()), squash(later));
    assert!(sc.act(|c| c.take_compressed_input()).is_empty());
    sc.act(|c| c.handle_compression_started(t0()));
    assert!(sc.machine.is_compressed());
    // The queued NOOP is released by the switch.
    sc.expect(b"A002 NOOP\r\n");
    // The inflated leftover, fed back, is parsed as usual.
    sc.send(later);
    sc.send(b"A002 OK done\r\n");
    let ev = sc.events();
    assert!(
        ev.iter()
            .any(|e| matches!(e, Event::Update(Update::Exists(7))))
    );
    assert!(
        ev.iter()
            .any(|e| matches!(e, Event::Update(Update::Alert(t)) if t == "compressed"))
    );
    assert_eq!(completions(&ev).len(), 1);
    assert_eq!(completions(&ev)[0].handle, noop);
    // A second switch call does nothing.
    sc.act(|c| c.handle_compression_started(t0()));
    sc.expect_nothing();
}

#[test]
fn rfc4978_3_compress_ok_at_the_end_of_a_read_leaves_nothing() {
    let mut sc = preauth("IMAP4rev1 COMPRESS=DEFLATE");
    sc.act(|c| c.enqueue_command(compress_deflate()).unwrap());
    sc.expect(b"A001 COMPRESS DEFLATE\r\n");
    sc.events(); // the greeting
    sc.send(b"A001 OK");
    assert!(sc.events().is_empty());
    sc.send(b" go\r\n");
    assert!(
        sc.events()
            .iter()
            .any(|e| matches!(e, Event::Compress { .. }))
    );
    assert!(sc.act(|c| c.take_compressed_input()).is_empty());
}

#[test]
fn rfc4978_3_compress_no_or_bad_changes_nothing() {
    for answer in [
        &b"A001 NO [COMPRESSIONACTIVE] DEFLATE active via TLS\r\n"[..],
        b"A001 NO not now\r\n",
        b"A001 BAD unknown command\r\n",
    ] {
        let mut sc = preauth("IMAP4rev1 COMPRESS=DEFLATE");
        let h = sc.act(|c| c.enqueue_command(compress_deflate()).unwrap());
        sc.act(|c| c.enqueue_command(CommandBody::Noop).unwrap());
        sc.expect(b"A001 COMPRESS DEFLATE\r\n");
        sc.expect_nothing();
        // Plaintext after the refusal is plaintext.
        let mut read = answer.to_vec();
        read.extend_from_slice(b"* 3 EXISTS\r\n");
        sc.send(&read);
        sc.expect(b"A002 NOOP\r\n");
        let ev = sc.events();
        assert!(!ev.iter().any(|e| matches!(e, Event::Compress { .. })));
        let done = completions(&ev);
        assert_eq!(done.len(), 1);
        assert_eq!(done[0].handle, h);
        assert_ne!(done[0].status, StatusKind::Ok);
        if answer.starts_with(b"A001 NO [") {
            assert!(
                matches!(done[0].code(), Some(Code::Simple(a)) if a.as_str() == "COMPRESSIONACTIVE")
            );
        }
        assert!(
            ev.iter()
                .any(|e| matches!(e, Event::Update(Update::Exists(3))))
        );
        assert!(!sc.machine.is_compressed());
        assert!(sc.act(|c| c.take_compressed_input()).is_empty());
        // It may be tried again.
        assert!(sc.act(|c| c.enqueue_command(compress_deflate())).is_ok());
    }
}

#[test]
fn rfc4978_3_compress_is_a_barrier_both_ways() {
    let mut sc = preauth("IMAP4rev1 COMPRESS=DEFLATE");
    sc.act(|c| {
        c.enqueue_command(CommandBody::Noop).unwrap();
        c.enqueue_command(compress_deflate()).unwrap();
        c.enqueue_command(CommandBody::Noop).unwrap();
    });
    // COMPRESS waits for the NOOP before it, the NOOP after waits for it.
    sc.expect(b"A001 NOOP\r\n");
    sc.expect_nothing();
    sc.send(b"A001 OK done\r\n");
    sc.expect(b"A002 COMPRESS DEFLATE\r\n");
    sc.expect_nothing();
    sc.send(b"A002 OK go\r\n");
    sc.expect_nothing();
    sc.act(|c| c.handle_compression_started(t0()));
    sc.expect(b"A003 NOOP\r\n");
}

#[test]
fn rfc4978_3_second_compress_is_refused() {
    let mut sc = preauth("IMAP4rev1 COMPRESS=DEFLATE");
    let refused = |sc: &mut Scripted<Client>| {
        matches!(
            sc.act(|c| c.enqueue_command(compress_deflate())),
            Err(SendError::NotAllowed(CommandBody::Compress { .. }))
        )
    };
    sc.act(|c| c.enqueue_command(compress_deflate()).unwrap());
    // In progress.
    assert!(refused(&mut sc));
    sc.send(b"A001 OK go\r\n");
    // Waiting for the switch.
    assert!(refused(&mut sc));
    sc.act(|c| c.handle_compression_started(t0()));
    // Active.
    assert!(refused(&mut sc));
    sc.expect(b"A001 COMPRESS DEFLATE\r\n");
    sc.expect_nothing();
}

/// Runs PREAUTH, COMPRESS, NOOP against `server` (the OK to COMPRESS and
/// the squashed rest) cut at `cuts`, switching as a driver would; returns
/// the event log and what the machine sent.
fn compress_session(server: &[u8], cuts: &[usize]) -> (Vec<String>, Vec<u8>) {
    let mut sc = preauth("IMAP4rev1 COMPRESS=DEFLATE");
    sc.act(|c| {
        c.enqueue_command(compress_deflate()).unwrap();
        c.enqueue_command(CommandBody::Noop).unwrap();
    });
    let mut log = Vec::new();
    let mut active = false;
    let mut from = 0;
    let mut cuts = cuts.to_vec();
    cuts.push(server.len());
    cuts.sort_unstable();
    for to in cuts {
        let to = to.clamp(from, server.len());
        let piece = &server[from..to];
        from = to;
        if active {
            sc.send(&squash(piece));
        } else {
            sc.send(piece);
        }
        for e in sc.events() {
            let switch = matches!(e, Event::Compress { .. });
            log.push(format!("{e:?}"));
            if switch {
                let left = sc.act(|c| c.take_compressed_input());
                sc.act(|c| c.handle_compression_started(t0()));
                active = true;
                sc.send(&squash(&left));
            }
        }
    }
    log.extend(sc.events().iter().map(|e| format!("{e:?}")));
    (log, sc.take_output())
}

fn compress_server_bytes() -> Vec<u8> {
    let mut server =
        b"* OK [ALERT] before\r\nA001 OK [CAPABILITY IMAP4rev1] DEFLATE active\r\n".to_vec();
    server.extend(squash(
        b"* 2 EXISTS\r\n* 1 FETCH (FLAGS (\\Seen) BODY[] {5}\r\nhello)\r\nA002 OK done\r\n",
    ));
    server
}

#[test]
fn compress_bytewise_gives_the_same_events() {
    let server = compress_server_bytes();
    let whole = compress_session(&server, &[]);
    assert!(whole.0.iter().any(|e| e.starts_with("Compress")));
    assert!(whole.0.iter().any(|e| e.contains("Exists(2)")));
    assert!(whole.0.iter().any(|e| e.contains("A002 OK done")));
    assert_eq!(whole.1, b"A001 COMPRESS DEFLATE\r\nA002 NOOP\r\n");
    let every: Vec<usize> = (1..server.len()).collect();
    assert_eq!(compress_session(&server, &every), whole);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Any split of the server's bytes around and after the OK to COMPRESS
    /// gives the same events and output.
    #[test]
    fn compress_any_split_gives_the_same_events(a in 0usize..200, b in 0usize..200) {
        let server = compress_server_bytes();
        let whole = compress_session(&server, &[]);
        prop_assert_eq!(compress_session(&server, &[a, b]), whole);
    }
}

#[test]
fn authenticate_plain_with_sasl_ir_and_without() {
    let plain = || {
        mailwire_sasl::Client::plain(
            None,
            "tim",
            mailwire_sasl::Secret::new("tanstaaftanstaaf".into()),
        )
        .unwrap()
    };
    let mut sc = preauth("IMAP4rev1 SASL-IR AUTH=PLAIN");
    sc.act(|c| c.authenticate(plain()).unwrap());
    sc.expect(b"A001 AUTHENTICATE PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm\r\n");
    sc.send(b"A001 OK [CAPABILITY IMAP4rev1 IDLE] done\r\n");
    sc.expect_nothing();
    assert!(sc.machine.capabilities().unwrap().has("IDLE"));

    let mut sc = preauth("IMAP4rev1 AUTH=PLAIN");
    sc.act(|c| c.authenticate(plain()).unwrap());
    sc.expect(b"A001 AUTHENTICATE PLAIN\r\n");
    sc.send(b"+ \r\n");
    sc.expect(b"AHRpbQB0YW5zdGFhZnRhbnN0YWFm\r\n");
    sc.send(b"A001 NO [AUTHENTICATIONFAILED] no\r\n");
    assert_eq!(completions(&sc.events())[0].status, StatusKind::No);
}

#[test]
fn bad_sasl_challenge_is_cancelled() {
    let mut sc = preauth("IMAP4rev1 AUTH=CRAM-MD5");
    let cram =
        mailwire_sasl::Client::cram_md5("tim", mailwire_sasl::Secret::new("x".into())).unwrap();
    sc.act(|c| c.authenticate(cram).unwrap());
    sc.expect(b"A001 AUTHENTICATE CRAM-MD5\r\n");
    sc.send(b"+ !!!notbase64\r\n");
    sc.expect(b"*\r\n");
    sc.send(b"A001 BAD cancelled\r\n");
    assert_eq!(completions(&sc.events())[0].status, StatusKind::Bad);
}

#[test]
fn over_size_response_is_fatal() {
    let o = Options {
        max_line: 100,
        ..upper_opts()
    };
    let mut sc = Scripted::new(Client::new(o, t0()), t0());
    sc.send(b"* PREAUTH ready\r\n");
    sc.send(&[b'x'; 200]);
    assert!(matches!(
        closed(&sc.events()),
        Some(ConnectionError::TooLarge(crate::FrameError::LineTooLong {
            max: 100
        }))
    ));
    // An over-size literal outside a FETCH body is refused at its announcement.
    let o = Options {
        max_literal: 10,
        ..upper_opts()
    };
    let mut sc = Scripted::new(Client::new(o, t0()), t0());
    sc.send(b"* PREAUTH ready\r\n* LIST () \"/\" {11}\r\n");
    assert!(matches!(
        closed(&sc.events()),
        Some(ConnectionError::TooLarge(
            crate::FrameError::LiteralTooLarge { length: 11, .. }
        ))
    ));
}

#[test]
fn too_many_responses_for_one_command() {
    let o = Options {
        max_responses_per_command: 3,
        ..upper_opts()
    };
    let mut sc = Scripted::new(Client::new(o, t0()), t0());
    sc.send(b"* PREAUTH [CAPABILITY IMAP4rev1] ready\r\n");
    sc.act(|c| c.enqueue_command(CommandBody::Namespace).unwrap());
    for _ in 0..4 {
        sc.send(b"* NAMESPACE NIL NIL NIL\r\n");
    }
    assert_eq!(
        closed(&sc.events()),
        Some(&ConnectionError::TooManyResponses)
    );
}

#[test]
fn greetings() {
    let mut sc = Scripted::new(Client::new(upper_opts(), t0()), t0());
    sc.send(b"* BYE too busy\r\n");
    assert_eq!(
        closed(&sc.events()),
        Some(&ConnectionError::Refused("too busy".into()))
    );
    let mut sc = Scripted::new(Client::new(upper_opts(), t0()), t0());
    sc.send(b"220 smtp.example.com ESMTP\r\n");
    assert!(matches!(
        closed(&sc.events()),
        Some(ConnectionError::MalformedGreeting(_))
    ));
    let mut sc = Scripted::new(Client::new(upper_opts(), t0()), t0());
    sc.send(b"* OK hi\r\n");
    sc.expect(b"A001 CAPABILITY\r\n");
    sc.send(b"* BYE shutting down\r\n");
    sc.eof();
    assert_eq!(
        closed(&sc.events()),
        Some(&ConnectionError::Bye("shutting down".into()))
    );
}

// ----- RFC 7162 CONDSTORE / QRESYNC -----------------------------------------

/// RFC 7162 §3.2.5.1, the second example (long lines joined), after ENABLE;
/// then §3.1.3 example 6 (a conditional STORE), with an unsolicited
/// VANISHED added before it.
const RFC7162_QRESYNC: &str = r#"
S: * PREAUTH [CAPABILITY IMAP4rev1 CONDSTORE QRESYNC ENABLE] ready
C: A001 ENABLE QRESYNC
S: * ENABLED QRESYNC
S: A001 OK done
C: A002 SELECT INBOX (QRESYNC (67890007 90060115194045000 41:211,214:541))
S: * OK [CLOSED]
S: * 100 EXISTS
S: * 11 RECENT
S: * OK [UIDVALIDITY 67890007] UIDVALIDITY
S: * OK [UIDNEXT 600] Predicted next UID
S: * OK [HIGHESTMODSEQ 90060115205545359] Highest mailbox mod-sequence
S: * OK [UNSEEN 7] There are some unseen messages in the mailbox
S: * FLAGS (\Answered \Flagged \Draft \Deleted \Seen)
S: * OK [PERMANENTFLAGS (\Answered \Flagged \Draft \Deleted \Seen \*)] Permanent flags
S: * VANISHED (EARLIER) 41,43:116,118,120:211,214:540
S: * 49 FETCH (UID 117 FLAGS (\Seen \Answered) MODSEQ (90060115194045001))
S: * 50 FETCH (UID 119 FLAGS (\Draft $MDNSent) MODSEQ (90060115194045308))
S: * 51 FETCH (UID 541 FLAGS (\Seen $Forwarded) MODSEQ (90060115194045001))
S: A002 OK [READ-WRITE] mailbox selected
C: A003 STORE 7,5,9 (UNCHANGEDSINCE 320162338) +FLAGS.SILENT (\Deleted)
S: * VANISHED 117
S: * 7 FETCH (MODSEQ (320162342) FLAGS (\Seen \Deleted))
S: * 5 FETCH (MODSEQ (320162350))
S: * 9 FETCH (MODSEQ (320162349) FLAGS (\Answered))
S: A003 OK [MODIFIED 7,9] Conditional STORE failed
"#;

fn rfc7162_actions() -> Vec<Action> {
    vec![
        cmd(CommandBody::Enable(Vec1::one(
            Atom::try_from("QRESYNC").unwrap(),
        ))),
        cmd(CommandBody::Select {
            mailbox: Mailbox::Inbox,
            params: vec![SelectParam::QResync {
                uidvalidity: 67890007,
                modseq: 90060115194045000,
                known_uids: Some(set("41:211,214:541")),
                seq_match: None,
            }],
        }),
        cmd(CommandBody::Store {
            uid: false,
            set: set("7,5,9"),
            unchanged_since: Some(320162338),
            kind: StoreKind::Add,
            silent: true,
            flags: vec![Flag::Deleted],
        }),
    ]
}

#[test]
fn rfc7162_3_2_5_1_qresync_select() {
    let (client, events) = run(
        upper_opts(),
        RFC7162_QRESYNC,
        rfc7162_actions(),
        Feed::Whole,
    );
    assert!(client.enabled().has("QRESYNC"));
    // RFC 7162 §3.2.3: QRESYNC implies CONDSTORE.
    assert!(client.enabled().has("CONDSTORE"));
    let done = completions(&events);
    // VANISHED (EARLIER) and the three FETCHes belong to the SELECT.
    assert_eq!(done[1].fetches().count(), 3);
    assert!(
        done[1]
            .data()
            .any(|d| matches!(d, Data::Vanished { earlier: true, .. }))
    );
    let m = client.selected().unwrap();
    assert_eq!(m.exists, 99); // 100, then VANISHED 117
    assert_eq!(m.uid_next.map(|n| n.get()), Some(600));
    assert_eq!(m.permanent_flags.len(), 6);
    assert_eq!(m.highest_modseq, Some(90060115205545359));
    // The conditional STORE's FETCHes are its data; MODIFIED is in its code.
    assert_eq!(done[2].fetches().count(), 3);
    assert!(matches!(done[2].code(), Some(Code::Modified(_))));
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::Update(Update::Vanished(_))))
    );
}

/// RFC 7162 §3.1.8: SELECT (CONDSTORE) is a CONDSTORE enabling command.
#[test]
fn rfc7162_3_1_8_select_condstore_enables_condstore() {
    let mut sc = preauth("IMAP4rev1 CONDSTORE");
    sc.act(|c| {
        c.enqueue_command(CommandBody::Select {
            mailbox: Mailbox::Inbox,
            params: vec![SelectParam::CondStore],
        })
        .unwrap()
    });
    sc.expect(b"A001 SELECT INBOX (CONDSTORE)\r\n");
    assert!(!sc.machine.enabled().has("CONDSTORE"));
    sc.send(b"* OK [HIGHESTMODSEQ 715194045007] Highest\r\nA001 OK [READ-WRITE] done\r\n");
    assert!(sc.machine.enabled().has("CONDSTORE"));
    assert_eq!(
        sc.machine.selected().unwrap().highest_modseq,
        Some(715194045007)
    );
}

// ----- RFC 8474 OBJECTID ----------------------------------------------------

/// RFC 8474 §4.2: SELECT's responses carry the MAILBOXID; a later SELECT of
/// a mailbox without one does not keep the old identifier.
#[test]
fn rfc8474_4_2_select_records_the_mailbox_id() {
    let mut sc = preauth("IMAP4rev1 OBJECTID");
    sc.act(|c| c.enqueue_command(select("foo")).unwrap());
    sc.expect(b"A001 SELECT foo\r\n");
    sc.send(
        b"* 2 EXISTS\r\n\
          * OK [UIDVALIDITY 1234] Ok\r\n\
          * OK [MAILBOXID (F2212ea87-6097-4256-9d51-71338625)] Ok\r\n\
          A001 OK [READ-WRITE] Completed\r\n",
    );
    let m = sc.machine.selected().unwrap();
    assert_eq!(
        m.mailbox_id.as_ref().map(Atom::as_str),
        Some("F2212ea87-6097-4256-9d51-71338625")
    );
    assert_eq!(m.uid_validity.map(|n| n.get()), Some(1234));
    assert_eq!(m.exists, 2);

    sc.act(|c| {
        c.enqueue_command(CommandBody::Examine {
            mailbox: Mailbox::new(s("bar")),
            params: vec![],
        })
        .unwrap()
    });
    sc.expect(b"A002 EXAMINE bar\r\n");
    sc.send(b"* 0 EXISTS\r\n* OK [UIDVALIDITY 99] Ok\r\nA002 OK [READ-ONLY] Completed\r\n");
    let m = sc.machine.selected().unwrap();
    assert_eq!(m.name, Mailbox::new(s("bar")));
    assert_eq!(m.uid_validity.map(|n| n.get()), Some(99));
    assert_eq!(m.mailbox_id, None);
}

// ----- RFC 6851 MOVE --------------------------------------------------------

/// RFC 6851 §4.4 ("(more expunges)" written out).
const RFC6851_MOVE: &str = r#"
S: * PREAUTH [CAPABILITY IMAP4rev1 MOVE UIDPLUS] ready
C: A001 SELECT INBOX
S: * 30 EXISTS
S: A001 OK [READ-WRITE] done
C: A002 UID MOVE 42:69 foo
S: * OK [COPYUID 432432 42:69 1202:1229]
S: * 22 EXPUNGE
S: * 22 EXPUNGE
S: A002 OK Done
"#;

fn rfc6851_actions() -> Vec<Action> {
    vec![
        cmd(select("INBOX")),
        cmd(CommandBody::Move {
            uid: true,
            set: set("42:69"),
            mailbox: Mailbox::new(s("foo")),
        }),
    ]
}

#[test]
fn rfc6851_4_4_move() {
    let (client, events) = run(upper_opts(), RFC6851_MOVE, rfc6851_actions(), Feed::Whole);
    let done = completions(&events);
    // The untagged COPYUID is the MOVE's data.
    assert!(matches!(
        done[1].data[0].status().unwrap().code,
        Some(Code::CopyUid { .. })
    ));
    assert_eq!(client.selected().unwrap().exists, 28);
}

// ----- RFC 4315 UIDPLUS -----------------------------------------------------

/// RFC 4315 §3, the UID EXPUNGE and COPYUID examples.
const RFC4315_UIDPLUS: &str = r#"
S: * PREAUTH [CAPABILITY IMAP4rev1 UIDPLUS] ready
C: A001 SELECT INBOX
S: * 5 EXISTS
S: A001 OK [READ-WRITE] done
C: A002 UID EXPUNGE 3000:3002
S: * 3 EXPUNGE
S: * 3 EXPUNGE
S: * 3 EXPUNGE
S: A002 OK UID EXPUNGE completed
C: A003 COPY 2 meeting
S: A003 OK [COPYUID 38505 304 3956] Done
"#;

fn rfc4315_actions() -> Vec<Action> {
    vec![
        cmd(select("INBOX")),
        cmd(CommandBody::UidExpunge(set("3000:3002"))),
        cmd(CommandBody::Copy {
            uid: false,
            set: set("2"),
            mailbox: Mailbox::new(s("meeting")),
        }),
    ]
}

#[test]
fn rfc4315_3_uidplus() {
    let (client, events) = run(
        upper_opts(),
        RFC4315_UIDPLUS,
        rfc4315_actions(),
        Feed::Whole,
    );
    assert_eq!(client.selected().unwrap().exists, 2);
    let done = completions(&events);
    assert!(matches!(done[2].code(), Some(Code::CopyUid { .. })));
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e, Event::Update(Update::Expunge(_))))
            .count(),
        3
    );
}

// ----- streaming large literals ---------------------------------------------

#[test]
fn large_body_is_streamed_in_chunks() {
    let o = Options {
        stream_threshold: 16,
        max_literal: 64,
        max_response: 256,
        ..upper_opts()
    };
    let mut sc = Scripted::new(Client::new(o, t0()), t0());
    sc.send(b"* PREAUTH [CAPABILITY IMAP4rev1] ready\r\n");
    sc.act(|c| {
        c.enqueue_command(fetch(
            "7",
            FetchAttrs::List(vec![FetchAttr::Uid, FetchAttr::Rfc822]),
        ))
        .unwrap()
    });
    sc.expect(b"A001 FETCH 7 (UID RFC822)\r\n");
    // 10 000 bytes: far over max_literal and max_response, streamed.
    let body: Vec<u8> = (0..10_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    let mut wire = b"* 7 FETCH (UID 42 BODY[] {10000}\r\n".to_vec();
    wire.extend_from_slice(&body);
    wire.extend_from_slice(b" FLAGS (\\Seen))\r\nA001 OK done\r\n");
    for piece in wire.chunks(97) {
        sc.send(piece);
    }
    let ev = sc.events();
    let mut got = Vec::new();
    for e in &ev {
        if let Event::FetchChunk {
            handle,
            seq,
            uid,
            item,
            offset,
            total,
            data,
        } = e
        {
            assert_eq!(handle.map(|h| h.0), Some(1));
            assert_eq!(
                (seq.get(), uid.map(|u| u.get()), *total),
                (7, Some(42), 10_000)
            );
            assert_eq!(&item[..], b"BODY[]");
            assert_eq!(*offset, got.len() as u64);
            assert!(data.len() <= 97);
            got.extend_from_slice(data);
        }
    }
    assert_eq!(got, body);
    let done = completions(&ev);
    let f: Vec<_> = done[0].fetches().collect();
    assert_eq!(f.len(), 1);
    assert!(f[0].1.iter().any(|i| matches!(i, FetchItem::Flags(_))));
}

/// Events with consecutive FetchChunks merged: chunk boundaries follow the
/// reads, everything else must not.
fn merged(events: &[Event]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut data: Vec<u8> = Vec::new();
    for e in events {
        if let Event::FetchChunk { data: d, .. } = e {
            data.extend_from_slice(d);
            continue;
        }
        if !data.is_empty() {
            out.push(format!("chunks {}", String::from_utf8_lossy(&data)));
            data.clear();
        }
        out.push(format!("{e:?}"));
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// A streamed body gives the same events, chunks merged, for any split.
    #[test]
    fn streamed_body_any_split(at in 1usize..400, piece in 1usize..50) {
        let feed = |cuts: &dyn Fn(&[u8]) -> Vec<Vec<u8>>| {
            let o = Options { stream_threshold: 16, ..upper_opts() };
            let mut sc = Scripted::new(Client::new(o, t0()), t0());
            sc.send(b"* PREAUTH [CAPABILITY IMAP4rev1] ready\r\n");
            sc.act(|c| c.enqueue_command(fetch("1:2", FetchAttrs::Full)).unwrap());
            let wire = b"* 1 FETCH (BODY[1.2]<0> {40}\r\n0123456789012345678901234567890123456789 UID 5)\r\n* 2 FETCH (UID 6 BINARY[] ~{30}\r\nabcdefghijabcdefghijabcdefghij)\r\n* 9 EXISTS\r\nA001 OK done\r\n";
            for p in cuts(wire) {
                sc.send(&p);
            }
            merged(&sc.events())
        };
        let whole = feed(&|w| vec![w.to_vec()]);
        prop_assert!(whole.iter().any(|e| e.starts_with("chunks 0123")));
        let split = feed(&|w| { let k = at.min(w.len()); vec![w[..k].to_vec(), w[k..].to_vec()] });
        prop_assert_eq!(&whole, &split);
        let pieces = feed(&|w| w.chunks(piece).map(<[u8]>::to_vec).collect());
        prop_assert_eq!(&whole, &pieces);
    }
}

// ----- unsolicited data and leniency -----------------------------------------

#[test]
fn unsolicited_updates_and_alerts() {
    let mut sc = preauth("IMAP4rev1");
    sc.act(|c| c.enqueue_command(select("INBOX")).unwrap());
    sc.send(b"* 2 EXISTS\r\nA001 OK [READ-ONLY] done\r\n");
    assert!(sc.machine.selected().unwrap().read_only);
    sc.send(b"* 3 EXISTS\r\n* 1 FETCH (FLAGS (\\Seen) UID 9)\r\n* OK [ALERT] disk full\r\n* NO warning\r\n");
    let ev = sc.events();
    let u: Vec<_> = ev
        .iter()
        .filter_map(|e| match e {
            Event::Update(u) => Some(u),
            _ => None,
        })
        .collect();
    assert_eq!(u[0], &Update::Exists(3));
    assert!(
        matches!(u[1], Update::Fetch { seq, uid: Some(_), flags: Some(f), .. } if seq.get() == 1 && f == &[Flag::Seen])
    );
    assert_eq!(u[2], &Update::Alert("disk full".into()));
    assert!(matches!(u[3], Update::Notice(_)));
    assert_eq!(sc.machine.selected().unwrap().exists, 3);
}

#[test]
fn lenient_responses_are_understood_with_defects() {
    let mut sc = preauth("IMAP4rev1");
    sc.act(|c| c.enqueue_command(fetch("1", FetchAttrs::Fast)).unwrap());
    sc.send(b"* 1 FETCH (FLAGS (\\Seen) RFC822.SIZE 44827)) \r\n");
    sc.send(b"* 1 FETCH (FLAGS (\\Seen)UID 5\r\n");
    sc.send(b"A001 OK [garbage\x01] done\r\n");
    let ev = sc.events();
    let done = completions(&ev);
    assert_eq!(done.len(), 1, "{ev:?}");
    assert_eq!(done[0].fetches().count(), 2);
    assert!(done[0].data.iter().all(|r| !r.defects().is_empty()));
    assert!(done[0].is_ok());
}

#[test]
fn unparsable_untagged_is_discarded_and_the_session_goes_on() {
    let mut sc = preauth("IMAP4rev1");
    sc.act(|c| c.enqueue_command(CommandBody::Noop).unwrap());
    sc.send(b"* \x01\x02 nonsense (((\r\nA001 OK done\r\n");
    let ev = sc.events();
    assert!(
        ev.iter()
            .any(|e| matches!(e, Event::Update(Update::Malformed { .. })))
    );
    assert_eq!(completions(&ev).len(), 1);
    assert!(!sc.machine.is_closed());
}

// ----- corpus -----------------------------------------------------------------

/// `shared/corpus/imap` beside one of the crate's ancestors (the project
/// root's sibling in a checkout, or further up in a git worktree).
fn corpus_dir() -> Option<std::path::PathBuf> {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .map(|a| a.join("shared/corpus/imap"))
        .find(|p| p.is_dir())
}

/// Every recording, LF turned into CRLF, fed to a machine that sent one
/// command (tag `A00000001`, MailKit's first tag) in the selected state: it
/// yields events and never a fatal error, unless the recording says BYE.
#[test]
fn corpus_recordings() {
    let Some(Ok(dirs)) = corpus_dir().map(std::fs::read_dir) else {
        assert!(
            std::env::var("CI").is_err(),
            "corpus shared/corpus/imap missing"
        );
        eprintln!("skipped: corpus shared/corpus/imap missing");
        return;
    };
    let mut files = 0;
    let mut responses = 0;
    for dir in dirs.flatten() {
        let Ok(entries) = std::fs::read_dir(dir.path()) else {
            continue;
        };
        for f in entries.flatten() {
            let p = f.path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            if name.contains("message.") || name.ends_with(".msg") || !p.is_file() {
                continue;
            }
            let raw = std::fs::read(&p).unwrap();
            // The recordings write every tag as `A########`: ours is A00000001.
            let raw = raw
                .split_inclusive(|&b| b == b'\n')
                .flat_map(|l| match l.strip_prefix(b"A########") {
                    Some(rest) => [&b"A00000001"[..], rest].concat(),
                    None => l.to_vec(),
                })
                .collect::<Vec<u8>>();
            let mut wire = Vec::with_capacity(raw.len() + raw.len() / 16);
            for &b in &raw {
                if b == b'\n' {
                    wire.push(b'\r');
                }
                wire.push(b);
            }
            let o = Options {
                tag_prefix: Tag::try_from("A").unwrap(),
                tag_width: 8,
                auto_capability: false,
                // Gmail sends some literals one line short.
                blank_line_after_literal_continues: true,
                ..Options::default()
            };
            let mut sc = Scripted::new(Client::new(o, t0()), t0());
            let greeting: &[u8] = if wire.starts_with(b"* OK") || wire.starts_with(b"* PREAUTH") {
                b""
            } else {
                b"* PREAUTH ready\r\n"
            };
            sc.send(greeting);
            sc.act(|c| c.enqueue_command(CommandBody::Noop).unwrap());
            sc.send(&wire);
            let ev = sc.events();
            files += 1;
            responses += ev.len();
            let bye = wire.windows(6).any(|w| w.eq_ignore_ascii_case(b"* BYE "));
            let malformed: Vec<_> = ev
                .iter()
                .filter(|e| matches!(e, Event::Update(Update::Malformed { .. })))
                .collect();
            assert!(malformed.is_empty(), "{name}: {malformed:?}");
            let completed = completions(&ev).len();
            let tagged =
                wire.starts_with(b"A00000001") || wire.windows(11).any(|w| w == b"\nA00000001 ");
            assert_eq!(completed, usize::from(tagged), "{name}: {ev:?}");
            match closed(&ev) {
                None => {}
                Some(ConnectionError::Logout) if bye => {}
                Some(r) => panic!("{name}: closed with {r:?}"),
            }
        }
    }
    assert!(files > 250, "only {files} recordings");
    eprintln!("{files} recordings, {responses} events");
}

/// RFC 8437: after the OK to UNAUTHENTICATE the client is not
/// authenticated, no mailbox is selected and ENABLE is undone; it asks the
/// capabilities again unless the OK carried them, and may LOGIN again.
#[test]
fn rfc8437_unauthenticate() {
    let text = r#"
S: * OK [CAPABILITY IMAP4rev1 IMAP4rev2] hi
C: a1 LOGIN u p
S: a1 OK [CAPABILITY IMAP4rev1 IMAP4rev2 ENABLE UNAUTHENTICATE] done
C: e1 ENABLE IMAP4rev2
S: * ENABLED IMAP4rev2
S: e1 OK enabled
C: s1 SELECT INBOX
S: * 3 EXISTS
S: s1 OK [READ-WRITE] selected
C: u1 UNAUTHENTICATE
S: u1 OK [CAPABILITY IMAP4rev1 IMAP4rev2] UNAUTHENTICATE completed
"#;
    let actions = vec![
        cmd(login("u", "p")),
        cmd(CommandBody::Enable(Vec1::one(
            Atom::try_from("IMAP4rev2").unwrap(),
        ))),
        cmd(select("INBOX")),
        cmd(CommandBody::Unauthenticate),
    ];
    let (client, events) = run(opts(), text, actions, Feed::Whole);
    assert_eq!(completions(&events).len(), 4);
    assert!(!client.is_authenticated());
    assert!(client.selected().is_none());
    assert!(!client.enabled().has("IMAP4rev2"));
    assert!(!client.capabilities().unwrap().has("UNAUTHENTICATE"));
}

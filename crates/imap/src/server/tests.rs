//! The server machine against RFC transcripts, splits, and attacks.
//!
//! Transcripts are replayed against the machine alone: `C:` turns are fed,
//! a test application answers the events with the data of the `S:` lines
//! that follow (parsed, then handed back through the answer methods, so
//! the machine tags, orders, streams and encodes them), and the `S:` turns
//! must come out byte for byte. Lines the machine makes itself (greeting,
//! continuation requests, CAPABILITY, ENABLED, BYE, IDLE, `OK [CLOSED]`,
//! queued updates) are never given to it by the application.

// `Options` is `#[non_exhaustive]`: outside the crate it can only be built
// this way, and the tests show that pattern.
#![allow(clippy::field_reassign_with_default)]

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use bytes::Bytes;
use mailwire_sasl::{Mechanism, ScramCredentials, ScramHash, Secret};
use mailwire_testkit::{Scripted, Side, Transcript};
use proptest::prelude::*;

use super::*;
use crate::types::command::CommandBody;
use crate::types::core::{Atom, IString, Text};
use crate::types::fetch::{FetchItem, Section, SectionText};
use crate::types::response::{Data, Response, StatusKind};
use crate::types::secret::Vec1;

mailwire_testkit::machine!(struct Srv(Server), Event);

/// The untagged responses of one command and its completion, from a
/// transcript.
#[derive(Debug, Clone, Default)]
struct Group {
    untagged: Vec<Bytes>,
    tagged: Option<Bytes>,
}

/// The test application: answers events from a transcript.
#[derive(Debug, Clone, Default)]
struct App {
    groups: HashMap<String, Group>,
    /// Users and passwords.
    users: Vec<(String, String)>,
    /// SCRAM credentials of `users[0]`.
    scram: Option<ScramCredentials>,
    /// The tag of the LOGIN/AUTHENTICATE command in flight.
    auth_tag: Option<String>,
    /// Untagged lines the machine makes itself (skipped when answering).
    machine_lines: Vec<Vec<u8>>,
    /// Updates to push when IDLE starts, one list per IDLE.
    on_idle: Vec<Vec<Vec<u8>>>,
    /// Updates "another session" makes while the command with this tag
    /// runs (pushed before the application answers it).
    on_command: HashMap<String, Vec<Vec<u8>>>,
    /// Literal chunk size when streaming FETCH data.
    chunk: usize,
    log: Vec<String>,
}

fn frames(bytes: &[u8]) -> Vec<Bytes> {
    let mut f = Fragmenter::new(FragmentOptions::default());
    f.push(bytes);
    let mut out = Vec::new();
    while let Ok(Some(fr)) = f.poll() {
        if let Frame::Message(m) = fr {
            out.push(m);
        }
    }
    out
}

fn data(line: &[u8]) -> Data<'_> {
    match crate::parse::response(line) {
        Ok((Response::Data(d), _)) => d,
        other => panic!("not data: {other:?}"),
    }
}

impl App {
    fn from_transcript(t: &Transcript) -> App {
        let mut app = App {
            chunk: 7,
            ..App::default()
        };
        let mut current = Vec::new();
        // The first line is the greeting, which the machine makes.
        for m in frames(&t.bytes_of(Side::Server)).into_iter().skip(1) {
            if m.starts_with(b"* ") {
                current.push(m);
            } else if m.starts_with(b"+") {
                continue;
            } else {
                let tag = String::from_utf8_lossy(m.split(|&b| b == b' ').next().unwrap_or(b""))
                    .into_owned();
                app.groups.insert(
                    tag,
                    Group {
                        untagged: std::mem::take(&mut current),
                        tagged: Some(m),
                    },
                );
            }
        }
        app
    }

    fn completion(line: &[u8]) -> Completion<'_> {
        let Ok((Response::Status(s), _)) = crate::parse::response(line) else {
            panic!("not a status: {:?}", String::from_utf8_lossy(line));
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

    fn answer_group(&mut self, s: &mut Server, handle: Handle, tag: &str) {
        let group = self.groups.get(tag).cloned().unwrap_or_default();
        for m in &group.untagged {
            if self.machine_lines.iter().any(|l| l[..] == m[..]) {
                continue;
            }
            match crate::parse::response(m) {
                Ok((Response::Status(st), _)) => {
                    let c = Self::completion(m);
                    assert!(st.tag.is_none());
                    s.send_status(handle, c).unwrap();
                }
                Ok((Response::Data(Data::Fetch { seq, mut items }), _))
                    if m.windows(3).any(|w| w == b"}\r\n") =>
                {
                    // A literal: stream it in chunks, as a big BODY[] goes.
                    let last = items.pop().unwrap();
                    let (item, bytes) = match last {
                        FetchItem::BodySection {
                            section,
                            origin,
                            data: Some(d),
                        } => (Streamed::Body { section, origin }, d.as_bytes().to_vec()),
                        FetchItem::Rfc822(Some(d)) => (Streamed::Rfc822, d.as_bytes().to_vec()),
                        other => panic!("cannot stream {other:?}"),
                    };
                    s.start_fetch_literal(
                        handle,
                        FetchLiteral {
                            seq,
                            items,
                            item,
                            length: bytes.len() as u64,
                        },
                    )
                    .unwrap();
                    for c in bytes.chunks(self.chunk.max(1)) {
                        s.send_literal_chunk(handle, c).unwrap();
                    }
                }
                Ok((Response::Data(d), _)) => s.send_data(handle, d).unwrap(),
                other => panic!("cannot answer with {other:?}"),
            }
        }
        let tagged = group.tagged.expect("no completion in the transcript");
        s.complete(handle, Self::completion(&tagged)).unwrap();
    }

    fn answer(&mut self, s: &mut Server, ev: Event) {
        self.log.push(format!("{ev:?}"));
        match ev {
            Event::Authenticate {
                handle,
                username,
                method,
                ..
            } => {
                let pw = self
                    .users
                    .iter()
                    .find(|(u, _)| *u == username)
                    .map(|(_, p)| p.clone());
                match method {
                    AuthMethod::Sasl(Mechanism::ScramSha256) => {
                        let c = pw.and(self.scram.clone());
                        s.provide_scram_credentials(handle, c).unwrap()
                    }
                    _ => s.provide_password(handle, pw.map(Secret::new)).unwrap(),
                }
            }
            Event::LoggedIn { handle, .. } => {
                let tag = self.auth_tag.clone().expect("auth tag");
                self.answer_group(s, handle, &tag);
            }
            Event::Command { handle, tag, .. } => {
                for u in self.on_command.remove(tag.as_str()).unwrap_or_default() {
                    s.push_update(&data(&u)).unwrap();
                }
                self.answer_group(s, handle, tag.as_str())
            }
            Event::StartTls => s.handle_tls_established(s.last_now),
            Event::IdleStarted if !self.on_idle.is_empty() => {
                for u in self.on_idle.remove(0) {
                    s.push_update(&data(&u)).unwrap();
                }
            }
            _ => {}
        }
    }

    /// Notes the tag of a LOGIN/AUTHENTICATE in client bytes.
    fn note_auth(&mut self, client: &[u8]) {
        for line in client.split(|&b| b == b'\n') {
            let words: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
            if words.len() > 1 {
                let w = words[1].to_ascii_uppercase();
                if w == b"LOGIN" || w.starts_with(b"AUTHENTICATE") {
                    self.auth_tag = Some(String::from_utf8_lossy(words[0]).into_owned());
                }
            }
        }
    }
}

fn pump(s: &mut Scripted<Srv>, app: &mut App) {
    loop {
        let evs = s.events();
        if evs.is_empty() {
            break;
        }
        for e in evs {
            s.act(|m| app.answer(&mut m.0, e));
        }
    }
}

/// How the client turns are fed.
#[derive(Debug, Clone)]
enum Feed {
    /// Each turn whole.
    Whole,
    /// Each turn in pieces of these sizes (cycled).
    Chunks(Vec<usize>),
    /// Each turn split once at this offset (when inside it).
    SplitAt(usize),
}

/// Replays a transcript; returns everything the server sent and the
/// event log. With `Feed::Whole` each `S:` turn is checked as it comes.
fn replay(
    opts: Options,
    greeting: Greeting,
    nonce: &str,
    script: &str,
    mut app: App,
    feed: Feed,
) -> (Vec<u8>, Vec<String>) {
    let t = Transcript::parse(script);
    let now = Instant::now();
    let server = Server::new(opts, greeting, nonce, now).unwrap();
    let mut s = Scripted::new(Srv(server), now);
    let mut all = Vec::new();
    let check = matches!(feed, Feed::Whole);
    for (side, bytes) in t.turns() {
        match side {
            Side::Client => {
                app.note_auth(&bytes);
                match &feed {
                    Feed::Whole => {
                        s.send(&bytes);
                        pump(&mut s, &mut app);
                    }
                    Feed::SplitAt(p) => {
                        let p = (*p).min(bytes.len());
                        for piece in [&bytes[..p], &bytes[p..]] {
                            if !piece.is_empty() {
                                s.send(piece);
                                pump(&mut s, &mut app);
                            }
                        }
                    }
                    Feed::Chunks(sizes) => {
                        let mut at = 0;
                        let mut k = 0;
                        while at < bytes.len() {
                            let n = sizes[k % sizes.len()].max(1).min(bytes.len() - at);
                            s.send(&bytes[at..at + n]);
                            pump(&mut s, &mut app);
                            at += n;
                            k += 1;
                        }
                    }
                }
            }
            Side::Server => {
                pump(&mut s, &mut app);
                if check {
                    s.expect(&bytes);
                }
                all.extend_from_slice(&bytes);
            }
        }
    }
    pump(&mut s, &mut app);
    let out = if check {
        s.expect_nothing();
        all
    } else {
        s.take_output()
    };
    (out, app.log)
}

/// Replays whole, then at every split point of every turn, byte by byte,
/// and in odd chunks: the output and the events must not change.
fn replay_any_split(opts: Options, greeting: Greeting, nonce: &str, script: &str, app: App) {
    let whole = replay(
        opts.clone(),
        greeting.clone(),
        nonce,
        script,
        app.clone(),
        Feed::Whole,
    );
    let longest = Transcript::parse(script)
        .turns()
        .iter()
        .filter(|(s, _)| *s == Side::Client)
        .map(|(_, b)| b.len())
        .max()
        .unwrap_or(0);
    for p in 1..longest {
        let r = replay(
            opts.clone(),
            greeting.clone(),
            nonce,
            script,
            app.clone(),
            Feed::SplitAt(p),
        );
        assert_eq!(r, whole, "split at {p}");
    }
    for sizes in [vec![1], vec![2, 5, 3], vec![13]] {
        let r = replay(
            opts.clone(),
            greeting.clone(),
            nonce,
            script,
            app.clone(),
            Feed::Chunks(sizes.clone()),
        );
        assert_eq!(r, whole, "chunks {sizes:?}");
    }
}

fn plain_options() -> Options {
    let mut o = Options::default();
    o.allow_plaintext_auth = true;
    o.capability_in_greeting = false;
    o.capability_after_login = false;
    o
}

/// RFC 3501 §8 (shared with the pair test; the file says how it was
/// normalized).
const RFC3501_8: &str = include_str!("../../tests/transcripts/rfc3501_8.txt");

fn rfc3501_app() -> App {
    let mut app = App::from_transcript(&Transcript::parse(RFC3501_8));
    app.users.push(("mrc".into(), "secret".into()));
    app
}

fn rfc3501_options() -> Options {
    let mut o = plain_options();
    o.texts.logout_bye = "IMAP4rev1 server terminating connection".into();
    o
}

#[test]
fn rfc3501_8_sample() {
    let (_, log) = replay(
        rfc3501_options(),
        Greeting::ok("IMAP4rev1 Service Ready"),
        "n0nce",
        RFC3501_8,
        rfc3501_app(),
        Feed::Whole,
    );
    assert!(
        log.iter().any(|l| l.contains("Closed { reason: Logout }")),
        "{log:?}"
    );
}

#[test]
fn rfc3501_8_sample_any_split() {
    replay_any_split(
        rfc3501_options(),
        Greeting::ok("IMAP4rev1 Service Ready"),
        "n0nce",
        RFC3501_8,
        rfc3501_app(),
    );
}

/// RFC 9051 §8 (the file says how it was normalized).
const RFC9051_8: &str = include_str!("../../tests/transcripts/rfc9051_8.txt");

fn rfc9051_options() -> Options {
    let mut o = Options::default();
    o.imap4rev1 = false;
    o.starttls = true;
    o.sasl_mechanisms = vec![Mechanism::ScramSha256];
    o.sasl_ir = false;
    o.literal = LiteralExtension::None;
    o.id = None;
    o.capability_after_login = false;
    o.texts.starttls = "Proceed with TLS negotiation".into();
    o.texts.enable = "Some capabilities enabled".into();
    o.texts.logout_bye = "IMAP4rev2 server terminating connection".into();
    o
}

fn rfc9051_app() -> App {
    let mut app = App::from_transcript(&Transcript::parse(RFC9051_8));
    app.users.push(("user".into(), "pencil".into()));
    // RFC 7677 §3: the salt and iteration count the sample uses.
    let salt =
        mailwire_sasl::framing::decode_initial_response(b"W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
    app.scram = Some(
        ScramCredentials::derive(
            ScramHash::Sha256,
            "pencil",
            &salt,
            NonZeroU32::new(4096).unwrap(),
        )
        .unwrap(),
    );
    app
}

/// The server nonce part of the sample's SCRAM exchange.
const RFC9051_NONCE: &str = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";

#[test]
fn rfc9051_8_sample() {
    let (_, log) = replay(
        rfc9051_options(),
        Greeting::ok("IMAP4rev2 Service Ready"),
        RFC9051_NONCE,
        RFC9051_8,
        rfc9051_app(),
        Feed::Whole,
    );
    assert!(log.iter().any(|l| l.starts_with("StartTls")));
    assert!(
        log.iter()
            .any(|l| l.contains("Enabled([Atom(\"IMAP4rev2\")])")),
        "{log:?}"
    );
}

#[test]
fn rfc9051_8_sample_any_split() {
    replay_any_split(
        rfc9051_options(),
        Greeting::ok("IMAP4rev2 Service Ready"),
        RFC9051_NONCE,
        RFC9051_8,
        rfc9051_app(),
    );
}

/// RFC 7888 §3: the LITERAL+ example (non-synchronizing literals, no
/// continuation request).
const RFC7888_3: &str = "
S: * OK ready
C: A001 LOGIN {11+}
C: FRED FOOBAR {7+}
C: fat man
S: A001 OK LOGIN completed
";

#[test]
fn rfc7888_3_literal_plus() {
    let mut o = plain_options();
    o.literal = LiteralExtension::Plus;
    let mut app = App::from_transcript(&Transcript::parse(RFC7888_3));
    app.users.push(("FRED FOOBAR".into(), "fat man".into()));
    replay(
        o.clone(),
        Greeting::ok("ready"),
        "n",
        RFC7888_3,
        app.clone(),
        Feed::Whole,
    );
    replay_any_split(o, Greeting::ok("ready"), "n", RFC7888_3, app);
}

fn selected_prelude(extra: &str) -> String {
    format!(
        "S: * OK ready
         C: a1 LOGIN u p
         S: a1 OK done
         {extra}
         C: s1 SELECT INBOX
         S: * 172 EXISTS
         S: s1 OK [READ-WRITE] SELECT completed
         "
    )
}

fn run_selected(extra: &str, body: &str, opts: Options, tweak: impl Fn(&mut App)) {
    let script = format!("{}{body}", selected_prelude(extra));
    let mut app = App::from_transcript(&Transcript::parse(&script));
    app.users.push(("u".into(), "p".into()));
    tweak(&mut app);
    replay(
        opts.clone(),
        Greeting::ok("ready"),
        "n",
        &script,
        app.clone(),
        Feed::Whole,
    );
    replay_any_split(opts, Greeting::ok("ready"), "n", &script, app);
}

fn ext_options(caps: &[&'static str]) -> Options {
    let mut o = plain_options();
    o.capabilities = caps.iter().map(|c| Atom::unvalidated(*c)).collect();
    o
}

/// RFC 6851 §3.3: UID MOVE with COPYUID in an untagged OK and the
/// expunges of the moved messages (MOVE allows EXPUNGE while it runs).
#[test]
fn rfc6851_3_3_move() {
    run_selected(
        "",
        "C: a UID MOVE 42:69 foo
         S: * OK [COPYUID 432432 42:69 1202:1229]
         S: * 22 EXPUNGE
         S: * 22 EXPUNGE
         S: * 22 EXPUNGE
         S: a OK Done
        ",
        ext_options(&["MOVE", "UIDPLUS"]),
        |_| {},
    );
}

/// RFC 4315 §3: UID EXPUNGE, APPEND with APPENDUID, COPY with COPYUID,
/// and a SELECT with UIDNOTSTICKY. The RFC omits the continuation request
/// of APPEND's synchronizing literal; the machine sends it.
#[test]
fn rfc4315_uidplus() {
    run_selected(
        "",
        "C: A003 UID EXPUNGE 3000:3002
         S: * 3 EXPUNGE
         S: * 3 EXPUNGE
         S: * 3 EXPUNGE
         S: A003 OK UID EXPUNGE completed
         C: A004 APPEND saved-messages (\\Seen) {297}
         S: + Ready for literal data
         C: Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)
         C: From: Fred Foobar <foobar@example.com>
         C: Subject: afternoon meeting
         C: To: mooch@example.com
         C: Message-Id: <B27397-0100000@example.com>
         C: MIME-Version: 1.0
         C: Content-Type: TEXT/PLAIN; CHARSET=US-ASCII
         C:
         C: Hello Joe, do you think we can meet at 3:30 tomorrow?
         C:
         S: A004 OK [APPENDUID 38505 3955] APPEND completed
         C: A005 COPY 2:4 meeting
         S: A005 OK [COPYUID 38505 304,319:320 3956:3958] Done
         C: A006 UID COPY 305:310 meeting
         S: A006 OK No matching messages, so nothing copied
         C: A007 SELECT funny
         S: * 1 EXISTS
         S: * 1 RECENT
         S: * OK [UNSEEN 1] Message 1 is first unseen
         S: * OK [UIDVALIDITY 3857529045] Validity session-only
         S: * OK [UIDNEXT 2] Predicted next UID
         S: * NO [UIDNOTSTICKY] Non-persistent UIDs
         S: * FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)
         S: * OK [PERMANENTFLAGS (\\Deleted \\Seen)] Limited
         S: A007 OK [READ-WRITE] SELECT completed
        ",
        ext_options(&["UIDPLUS"]),
        |_| {},
    );
}

/// RFC 7162 §3.1.3 (STORE UNCHANGEDSINCE failing on expunged messages):
/// the expunges another session made are pushed during the STORE, held
/// (no EXPUNGE during STORE by sequence number), and go out at the NOOP,
/// with the FETCH queued after them. Flags as the encoder writes them
/// (`\Seen` for the RFC's `\SEEN`: the same flag).
#[test]
fn rfc7162_3_1_3_expunge_held_until_noop() {
    let script = format!(
        "{}C: B001 STORE 1:7 (UNCHANGEDSINCE 320172338) +FLAGS (\\Seen)
         S: * 1 FETCH (MODSEQ (320172342) FLAGS (\\Seen))
         S: * 3 FETCH (MODSEQ (320172342) FLAGS (\\Seen))
         S: B001 NO [MODIFIED 2] Some of the messages no longer exist.
         C: B002 NOOP
         S: * 4 EXPUNGE
         S: * 4 EXPUNGE
         S: * 4 EXPUNGE
         S: * 4 EXPUNGE
         S: * 2 FETCH (MODSEQ (320172340) FLAGS (\\Deleted \\Answered))
         S: B002 OK NOOP Completed.
        ",
        selected_prelude(
            "C: e1 ENABLE CONDSTORE\nS: * ENABLED CONDSTORE\nS: e1 OK ENABLE completed"
        )
    );
    let t = Transcript::parse(&script);
    let mut app = App::from_transcript(&t);
    app.users.push(("u".into(), "p".into()));
    // The updates come from "another session" during the STORE, not as
    // the NOOP's own data.
    let updates: Vec<Bytes> = app.groups["B002"].untagged.clone();
    app.groups.get_mut("B002").unwrap().untagged.clear();
    let now = Instant::now();
    let mut s = Scripted::new(
        Srv(Server::new(ext_options(&["CONDSTORE"]), Greeting::ok("ready"), "n", now).unwrap()),
        now,
    );
    for (side, bytes) in t.turns() {
        match side {
            Side::Client if bytes.starts_with(b"B001") => {
                s.send(&bytes);
                let evs = s.events();
                let Some(Event::Command { handle, .. }) = evs.into_iter().next() else {
                    panic!()
                };
                for u in &updates {
                    s.machine.push_update(&data(u)).unwrap();
                }
                // Also the application's own EXPUNGE during STORE is held.
                s.act(|m| app.answer_group(&mut m.0, handle, "B001"));
            }
            Side::Client => {
                app.note_auth(&bytes);
                s.send(&bytes);
                pump(&mut s, &mut app);
            }
            Side::Server => s.expect(&bytes),
        }
    }
    s.expect_nothing();
    assert!(s.machine.is_enabled("CONDSTORE"));
}

/// RFC 7162 §3.2.5.1: SELECT with QRESYNC while a mailbox is selected:
/// the machine closes it and says so with `OK [CLOSED]` first.
#[test]
fn rfc7162_3_2_5_1_qresync_select_closes_previous() {
    let mut o = ext_options(&["CONDSTORE", "QRESYNC"]);
    o.texts.closed = String::new();
    run_selected(
        "C: e1 ENABLE QRESYNC
         S: * ENABLED QRESYNC
         S: e1 OK ENABLE completed",
        "C: A03 SELECT INBOX (QRESYNC (67890007 90060115194045000 41:211,214:541))
         S: * OK [CLOSED]
         S: * 100 EXISTS
         S: * 11 RECENT
         S: * OK [UIDVALIDITY 67890007] UIDVALIDITY
         S: * OK [UIDNEXT 600] Predicted next UID
         S: * OK [HIGHESTMODSEQ 90060115205545359] Highest mailbox mod-sequence
         S: * OK [UNSEEN 7] There are some unseen messages in the mailbox
         S: * FLAGS (\\Answered \\Flagged \\Draft \\Deleted \\Seen)
         S: * OK [PERMANENTFLAGS (\\Answered \\Flagged \\Draft \\Deleted \\Seen \\*)] Permanent flags
         S: * VANISHED (EARLIER) 41,43:116,118,120:211,214:540
         S: * 49 FETCH (UID 117 FLAGS (\\Seen \\Answered) MODSEQ (90060115194045001))
         S: * 50 FETCH (UID 119 FLAGS (\\Draft $MDNSent) MODSEQ (90060115194045308))
         S: * 51 FETCH (UID 541 FLAGS (\\Seen $Forwarded) MODSEQ (90060115194045001))
         S: A03 OK [READ-WRITE] mailbox selected
         C: A202 EXPUNGE
         S: * VANISHED 505,507,510,625
         S: A202 OK EXPUNGE completed
         C: a SEARCH RETURN (ALL) MODSEQ 1234
         S: * ESEARCH (TAG \"a\") ALL 1:3,5 MODSEQ 1236
         S: a OK Extended SEARCH completed
        ",
        o,
        |app| app.machine_lines.push(b"* OK [CLOSED]\r\n".to_vec()),
    );
}

/// RFC 2177 §3: IDLE (shared with the client's tests). Updates pushed
/// while idle go out at once; the EXPUNGE and EXISTS another session makes
/// during A003's FETCH are held (no EXPUNGE during FETCH) and go out when
/// A004's IDLE starts, before its continuation request, as the RFC shows.
const RFC2177_3: &str = include_str!("../../tests/transcripts/rfc2177_3.txt");

#[test]
fn rfc2177_3_idle() {
    let mut app = App::from_transcript(&Transcript::parse(RFC2177_3));
    app.on_idle = vec![
        vec![b"* 4 EXISTS\r\n".to_vec()],
        vec![
            b"* 3 EXPUNGE\r\n".to_vec(),
            b"* 2 EXISTS\r\n".to_vec(),
            b"* 3 EXISTS\r\n".to_vec(),
        ],
    ];
    app.on_command.insert(
        "A003".into(),
        vec![b"* 2 EXPUNGE\r\n".to_vec(), b"* 3 EXISTS\r\n".to_vec()],
    );
    // The greeting's capabilities: IMAP4rev1 and IDLE alone.
    let mut o = plain_options();
    o.capability_in_greeting = true;
    o.imap4rev2 = false;
    o.literal = LiteralExtension::None;
    o.id = None;
    o.enable = false;
    o.unselect = false;
    o.namespaces = None;
    let greeting = Greeting::PreAuth("ready".into());
    let (_, log) = replay(
        o.clone(),
        greeting.clone(),
        "n",
        RFC2177_3,
        app.clone(),
        Feed::Whole,
    );
    assert_eq!(
        log.iter().filter(|e| *e == "IdleDone").count(),
        2,
        "{log:?}"
    );
    replay_any_split(o, greeting, "n", RFC2177_3, app);
}

// ----- security and negative cases ----------------------------------

fn session(opts: Options) -> Scripted<Srv> {
    let now = Instant::now();
    let mut s = Scripted::new(
        Srv(Server::new(opts, Greeting::ok("ready"), "n", now).unwrap()),
        now,
    );
    s.take_output();
    s
}

fn login(s: &mut Scripted<Srv>) {
    s.send(b"L LOGIN u p\r\n");
    let evs = s.events();
    let Some(Event::Authenticate { handle, .. }) = evs.into_iter().next() else {
        panic!()
    };
    s.act(|m| {
        m.provide_password(handle, Some(Secret::new("p".into())))
            .unwrap()
    });
    let evs = s.events();
    let Some(Event::LoggedIn { handle, .. }) = evs.into_iter().next() else {
        panic!()
    };
    s.act(|m| m.complete(handle, Completion::ok("done")).unwrap());
    s.expect(b"L OK done\r\n");
}

fn select(s: &mut Scripted<Srv>) {
    s.send(b"S SELECT INBOX\r\n");
    let evs = s.events();
    let Some(Event::Command { handle, .. }) = evs.into_iter().next() else {
        panic!()
    };
    s.act(|m| m.send_data(handle, Data::Exists(9)).unwrap());
    s.act(|m| m.complete(handle, Completion::ok("selected")).unwrap());
    s.expect(b"* 9 EXISTS\r\nS OK selected\r\n");
}

fn command(s: &mut Scripted<Srv>, line: &[u8]) -> Handle {
    s.send(line);
    let evs = s.events();
    match evs.into_iter().next() {
        Some(Event::Command { handle, .. }) => handle,
        other => panic!("{other:?}"),
    }
}

#[test]
fn starttls_injection_closes_without_executing() {
    let mut o = Options::default();
    o.starttls = true;
    let mut s = session(o.clone());
    s.send(b"a STARTTLS\r\nb LOGIN u p\r\n");
    s.expect(b"a OK Begin TLS negotiation now\r\n");
    s.expect_nothing();
    let evs: Vec<String> = s.events().iter().map(|e| format!("{e:?}")).collect();
    assert_eq!(
        evs,
        ["StartTls", "Closed { reason: PlaintextAfterStartTls }"]
    );
    // Fed in a later read, before the handshake: the same.
    let mut s = session(o);
    s.send(b"a STARTTLS\r\n");
    s.expect(b"a OK Begin TLS negotiation now\r\n");
    s.send(b"b CAPABILITY\r\n");
    s.expect_nothing();
    let evs: Vec<String> = s.events().iter().map(|e| format!("{e:?}")).collect();
    assert_eq!(
        evs,
        ["StartTls", "Closed { reason: PlaintextAfterStartTls }"]
    );
}

#[test]
fn starttls_then_capabilities_change() {
    let mut o = Options::default();
    o.starttls = true;
    o.sasl_mechanisms = vec![Mechanism::Plain];
    let mut s = session(o);
    s.send(b"c CAPABILITY\r\n");
    s.expect(b"* CAPABILITY STARTTLS LOGINDISABLED IMAP4rev1 IMAP4rev2 LITERAL- ID\r\nc OK CAPABILITY completed\r\n");
    s.send(b"a STARTTLS\r\n");
    s.take_output();
    s.events();
    let now = s.now;
    s.act(|m| m.handle_tls_established(now));
    s.send(b"c CAPABILITY\r\n");
    s.expect(b"* CAPABILITY AUTH=PLAIN SASL-IR IMAP4rev1 IMAP4rev2 LITERAL- ID\r\nc OK CAPABILITY completed\r\n");
    s.send(b"d STARTTLS\r\n");
    s.expect(b"d BAD Unknown command\r\n");
}

#[test]
fn login_before_tls_refused() {
    let mut o = Options::default();
    o.sasl_mechanisms = vec![Mechanism::Plain, Mechanism::ScramSha256];
    let mut s = session(o);
    s.send(b"a LOGIN fred secret\r\n");
    s.expect(b"a NO [PRIVACYREQUIRED] LOGIN needs TLS\r\n");
    // With a literal the password is refused before the client sends it.
    s.send(b"l LOGIN {4}\r\n");
    s.expect(b"l NO [PRIVACYREQUIRED] LOGIN needs TLS\r\n");
    s.expect_nothing();
    s.send(b"b AUTHENTICATE PLAIN AGZyZWQAc2VjcmV0\r\n");
    s.expect(b"b NO [PRIVACYREQUIRED] Mechanism needs TLS\r\n");
    assert!(s.events().is_empty(), "the application is never asked");
    s.send(b"c CAPABILITY\r\n");
    s.expect(b"* CAPABILITY AUTH=SCRAM-SHA-256 LOGINDISABLED SASL-IR IMAP4rev1 IMAP4rev2 LITERAL- ID\r\n");
}

#[test]
fn oversize_literal_refused_before_it_is_read() {
    let mut o = plain_options();
    o.max_literal = 10;
    let mut s = session(o);
    login(&mut s);
    s.send(b"a APPEND INBOX {11}\r\n");
    s.expect(b"a NO [TOOBIG] Literal too large\r\n");
    s.expect_nothing();
    assert!(s.events().is_empty());
    // The client sends no literal after a refusal: the next command is read.
    s.send(b"b NOOP\r\n");
    s.expect(b"b OK NOOP completed\r\n");
    // Within the limit: the continuation request, then the command.
    s.send(b"c APPEND INBOX {10}\r\n");
    s.expect(b"+ Ready for literal data\r\n");
    s.send(b"0123456789\r\n");
    let evs = s.events();
    assert!(matches!(
        &evs[0],
        Event::Command {
            command: CommandBody::Append { .. },
            ..
        }
    ));
}

#[test]
fn literal_for_a_command_in_the_wrong_state_gets_no_continuation() {
    let mut s = session(plain_options());
    s.send(b"a APPEND INBOX {5}\r\n");
    s.expect(b"a BAD Command not allowed in this state\r\n");
    s.send(b"b XYZZY {5}\r\n");
    s.expect(b"b BAD Unknown command\r\n");
    s.expect_nothing();
}

#[test]
fn non_sync_literal_over_literal_minus_limit_closes() {
    let mut s = session(plain_options());
    login(&mut s);
    s.send(b"a APPEND INBOX {4097+}\r\n");
    s.expect(b"a BAD [TOOBIG] Literal too large\r\n* BYE [TOOBIG] Literal too large\r\n");
    let evs: Vec<String> = s.events().iter().map(|e| format!("{e:?}")).collect();
    assert_eq!(evs, ["Closed { reason: LiteralTooLarge }"]);
    // 4096 is fine without a continuation request.
    let mut s = session(plain_options());
    login(&mut s);
    let mut cmd = b"b APPEND INBOX {4096+}\r\n".to_vec();
    cmd.extend(std::iter::repeat_n(b'x', 4096));
    cmd.extend_from_slice(b"\r\n");
    s.send(&cmd);
    s.expect_nothing();
    assert!(matches!(&s.events()[0], Event::Command { .. }));
}

#[test]
fn commands_in_the_wrong_state_refused() {
    let mut s = session(plain_options());
    for c in [
        &b"a SELECT INBOX\r\n"[..],
        b"b FETCH 1 FLAGS\r\n",
        b"c ENABLE CONDSTORE\r\n",
        b"d IDLE\r\n",
        b"e UID FETCH 1 UID\r\n",
    ] {
        s.send(c);
        let tag = &c[..1];
        let mut want = tag.to_vec();
        want.extend_from_slice(b" BAD Command not allowed in this state\r\n");
        s.expect(&want);
    }
    login(&mut s);
    s.send(b"f LOGIN u p\r\n");
    s.expect(b"f BAD Command not allowed in this state\r\n");
    s.send(b"g FETCH 1 FLAGS\r\n");
    s.expect(b"g BAD Command not allowed in this state\r\n");
    s.send(b"h CLOSE\r\n");
    s.expect(b"h BAD Command not allowed in this state\r\n");
    select(&mut s);
    s.send(b"i ENABLE CONDSTORE\r\n");
    s.expect(b"i BAD Command not allowed in this state\r\n");
    assert!(s.events().is_empty(), "the application is never asked");
}

#[test]
fn pipelined_input_beyond_the_limit() {
    let mut o = plain_options();
    o.max_buffered = 64;
    o.max_line = 64;
    let mut s = session(o);
    login(&mut s);
    let h = command(&mut s, b"a LIST \"\" *\r\n");
    // The application is slow; the client pipelines.
    s.send(&b"b NOOP\r\n".repeat(8));
    assert!(!s.machine.wants_read());
    s.send(&b"c NOOP\r\n".repeat(9));
    let evs: Vec<String> = s.events().iter().map(|e| format!("{e:?}")).collect();
    assert_eq!(evs, ["Closed { reason: InputOverflow }"]);
    assert!(s.take_output().starts_with(b"* BYE"));
    assert!(matches!(
        s.machine.complete(h, Completion::ok("x")),
        Err(ReplyError::Closed(_))
    ));
}

#[test]
fn pipelined_commands_run_in_order_within_the_limit() {
    let mut s = session(plain_options());
    login(&mut s);
    s.send(b"a CAPABILITY\r\nb NOOP\r\nc NOOP\r\n");
    let out = s.take_output();
    assert!(
        out.ends_with(
            b"a OK CAPABILITY completed\r\nb OK NOOP completed\r\nc OK NOOP completed\r\n"
        )
    );
}

#[test]
fn expunge_held_during_fetch_store_search() {
    for (cmd, later) in [
        (
            &b"f FETCH 1:* FLAGS\r\n"[..],
            &b"u UID FETCH 1 FLAGS\r\n"[..],
        ),
        (
            b"f STORE 1 +FLAGS (\\Seen)\r\n",
            b"u UID STORE 1 +FLAGS (\\Seen)\r\n",
        ),
        (b"f SEARCH ALL\r\n", b"u UID SEARCH ALL\r\n"),
    ] {
        let mut s = session(plain_options());
        login(&mut s);
        select(&mut s);
        let h = command(&mut s, cmd);
        s.act(|m| m.push_update(&Data::Exists(10)).unwrap());
        s.act(|m| m.push_update(&data(b"* 3 EXPUNGE\r\n")).unwrap());
        s.act(|m| m.push_update(&Data::Exists(10)).unwrap());
        // The application's own EXPUNGE during FETCH is held too.
        s.act(|m| m.send_data(h, data(b"* 4 EXPUNGE\r\n")).unwrap());
        s.act(|m| m.complete(h, Completion::ok("done")).unwrap());
        s.expect(b"* 10 EXISTS\r\nf OK done\r\n");
        let h = command(&mut s, later);
        s.act(|m| m.complete(h, Completion::ok("done")).unwrap());
        s.expect(b"* 3 EXPUNGE\r\n* 10 EXISTS\r\n* 4 EXPUNGE\r\nu OK done\r\n");
    }
}

#[test]
fn vanished_held_like_expunge_but_not_earlier() {
    let mut s = session(plain_options());
    login(&mut s);
    select(&mut s);
    let h = command(&mut s, b"f FETCH 1 FLAGS\r\n");
    s.act(|m| m.push_update(&data(b"* VANISHED 5\r\n")).unwrap());
    s.act(|m| m.send_data(h, data(b"* VANISHED (EARLIER) 7\r\n")).unwrap());
    s.act(|m| m.complete(h, Completion::ok("done")).unwrap());
    s.expect(b"* VANISHED (EARLIER) 7\r\nf OK done\r\n");
    s.send(b"n NOOP\r\n");
    let h = match s.events().pop() {
        Some(Event::Command { handle, .. }) => handle,
        other => panic!("{other:?}"),
    };
    s.act(|m| m.complete(h, Completion::ok("done")).unwrap());
    s.expect(b"* VANISHED 5\r\nn OK done\r\n");
}

#[test]
fn updates_not_sent_outside_a_command_and_dropped_on_unselect() {
    let mut s = session(plain_options());
    assert_eq!(
        s.machine.push_update(&Data::Exists(1)),
        Err(PushError::NotSelected)
    );
    login(&mut s);
    select(&mut s);
    assert_eq!(
        s.machine
            .push_update(&Data::Capability(Vec1::one(Atom::unvalidated("X")))),
        Err(PushError::NotAnUpdate)
    );
    s.act(|m| m.push_update(&Data::Exists(10)).unwrap());
    s.expect_nothing();
    s.send(b"u UNSELECT\r\n");
    s.expect(b"u OK UNSELECT completed\r\n");
    assert_eq!(s.machine.is_selected(), None);
}

#[test]
fn streamed_fetch_literal_of_a_big_message() {
    let mut s = session(plain_options());
    login(&mut s);
    select(&mut s);
    let h = command(&mut s, b"f FETCH 1 (UID BODY.PEEK[])\r\n");
    let size = 4 << 20;
    s.act(|m| {
        m.start_fetch_literal(
            h,
            FetchLiteral {
                seq: NonZeroU32::new(1).unwrap(),
                items: vec![FetchItem::Uid(NonZeroU32::new(7).unwrap())],
                item: Streamed::Body {
                    section: Section::default(),
                    origin: None,
                },
                length: size,
            },
        )
        .unwrap()
    });
    s.expect(b"* 1 FETCH (UID 7 BODY[] {4194304}\r\n");
    // Completing early is refused: the literal is unfinished.
    assert!(matches!(
        s.machine.complete(h, Completion::ok("x")),
        Err(ReplyError::WrongAnswer(_))
    ));
    let chunk = vec![b'x'; 64 << 10];
    let mut out = Vec::new();
    let mut peak = 0;
    for _ in 0..size / chunk.len() as u64 {
        s.machine.send_literal_chunk(h, &chunk).unwrap();
        while s.machine.poll_transmit(s.now, &mut out).is_some() {}
        peak = peak.max(out.len());
        out.clear();
    }
    // Bounded: never more than a chunk and the closing parenthesis held.
    assert!(peak <= chunk.len() + 3, "peak {peak}");
    assert!(matches!(
        s.machine.send_literal_chunk(h, b"y"),
        Err(ReplyError::WrongAnswer(()))
    ));
    s.act(|m| m.complete(h, Completion::ok("FETCH completed")).unwrap());
    s.expect(b"f OK FETCH completed\r\n");
}

/// RFC 3516 §4.2: a streamed `BINARY[]` is a `literal8` only when the data
/// holds NUL; otherwise a plain literal.
#[test]
fn rfc3516_4_2_streamed_binary_literal8_only_with_nul() {
    for (data, literal8, head) in [
        (&b"a\0b\r\n"[..], true, &b"* 1 FETCH (BINARY[] ~{5}\r\n"[..]),
        (&b"ab\r\n"[..], false, &b"* 1 FETCH (BINARY[] {4}\r\n"[..]),
    ] {
        let mut s = session(plain_options());
        login(&mut s);
        select(&mut s);
        let h = command(&mut s, b"f FETCH 1 BINARY.PEEK[]\r\n");
        s.act(|m| {
            m.start_fetch_literal(
                h,
                FetchLiteral {
                    seq: NonZeroU32::new(1).unwrap(),
                    items: vec![],
                    item: Streamed::Binary {
                        part: vec![],
                        origin: None,
                        literal8,
                    },
                    length: data.len() as u64,
                },
            )
            .unwrap()
        });
        s.act(|m| m.send_literal_chunk(h, data).unwrap());
        s.act(|m| m.complete(h, Completion::ok("done")).unwrap());
        let mut want = head.to_vec();
        want.extend_from_slice(data);
        want.extend_from_slice(b")\r\nf OK done\r\n");
        s.expect(&want);
    }
}

#[test]
fn streamed_fetch_literal_with_section_and_origin() {
    let mut s = session(plain_options());
    login(&mut s);
    select(&mut s);
    let h = command(&mut s, b"f FETCH 2 BODY[1.HEADER]<0.4>\r\n");
    s.act(|m| {
        m.start_fetch_literal(
            h,
            FetchLiteral {
                seq: NonZeroU32::new(2).unwrap(),
                items: vec![],
                item: Streamed::Body {
                    section: Section {
                        part: vec![NonZeroU32::new(1).unwrap()],
                        text: Some(SectionText::Header),
                    },
                    origin: Some(0),
                },
                length: 4,
            },
        )
        .unwrap()
    });
    s.act(|m| m.send_literal_chunk(h, b"ab").unwrap());
    s.act(|m| m.send_literal_chunk(h, b"\r\n").unwrap());
    s.act(|m| m.complete(h, Completion::ok("done")).unwrap());
    s.expect(b"* 2 FETCH (BODY[1.HEADER]<0> {4}\r\nab\r\n)\r\nf OK done\r\n");
}

#[test]
fn autologout_before_and_after_login() {
    let mut s = session(plain_options());
    s.advance(Duration::from_secs(59));
    s.expect_nothing();
    s.advance(Duration::from_secs(1));
    s.expect(b"* BYE Autologout; idle for too long\r\n");
    assert!(matches!(
        s.events().last(),
        Some(Event::Closed {
            reason: ConnectionError::Timeout
        })
    ));

    let mut s = session(plain_options());
    login(&mut s);
    select(&mut s);
    s.send(b"i IDLE\r\n");
    s.take_output();
    s.advance(Duration::from_secs(29 * 60));
    s.expect_nothing();
    assert!(!s.machine.is_closed());
    s.advance(Duration::from_secs(60));
    s.expect(b"* BYE Autologout; idle for too long\r\n");
    assert!(s.machine.is_closed());
}

#[test]
fn autologout_waits_while_the_application_decides() {
    let mut s = session(plain_options());
    login(&mut s);
    let h = command(&mut s, b"a LIST \"\" *\r\n");
    s.advance(Duration::from_secs(31 * 60));
    assert!(!s.machine.is_closed());
    s.act(|m| m.complete(h, Completion::ok("done")).unwrap());
    s.expect(b"a OK done\r\n");
}

#[test]
fn bad_commands_discard_one_command_and_close_after_n() {
    let mut o = plain_options();
    o.max_bad_commands = 3;
    let mut s = session(o);
    s.send(b"a FOO\r\nb NOOP\r\n");
    let out = s.take_output();
    assert!(
        out.starts_with(b"a BAD Syntax error"),
        "{}",
        String::from_utf8_lossy(&out)
    );
    assert!(out.ends_with(b"b OK NOOP completed\r\n"));
    s.send(b"+ NOOP\r\n");
    assert!(s.take_output().starts_with(b"* BAD "));
    s.send(b"c LOGIN\r\n");
    let out = s.take_output();
    assert!(out.starts_with(b"c BAD "));
    assert!(out.ends_with(b"* BYE Too many invalid commands\r\n"));
    assert!(matches!(
        s.events().last(),
        Some(Event::Closed {
            reason: ConnectionError::TooManyBadCommands
        })
    ));
}

#[test]
fn authenticate_plain_with_sasl_ir_and_cancel() {
    let mut o = plain_options();
    o.sasl_mechanisms = vec![Mechanism::Plain];
    o.capability_after_login = true;
    let mut s = session(o);
    s.send(b"a AUTHENTICATE PLAIN\r\n");
    s.expect(b"+ \r\n");
    s.send(b"*\r\n");
    s.expect(b"a BAD Authentication cancelled or malformed\r\n");
    s.send(b"b AUTHENTICATE PLAIN AGZyZWQAc2VjcmV0\r\n");
    let Some(Event::Authenticate {
        handle,
        username,
        method,
        ..
    }) = s.events().pop()
    else {
        panic!()
    };
    assert_eq!(
        (username.as_str(), method),
        ("fred", AuthMethod::Sasl(Mechanism::Plain))
    );
    s.act(|m| assert!(m.check_password(handle, |p| p.expose() == "wrong").is_ok()));
    s.expect(b"b NO [AUTHENTICATIONFAILED] Authentication failed\r\n");
    s.send(b"c AUTHENTICATE PLAIN AGZyZWQAc2VjcmV0\r\n");
    let Some(Event::Authenticate { handle, .. }) = s.events().pop() else {
        panic!()
    };
    s.act(|m| assert!(m.check_password(handle, |p| p.expose() == "secret").is_ok()));
    let Some(Event::LoggedIn {
        handle, username, ..
    }) = s.events().pop()
    else {
        panic!()
    };
    assert_eq!(username, "fred");
    s.act(|m| m.complete(handle, Completion::ok("Logged in")).unwrap());
    s.expect(b"c OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL- ID ENABLE IDLE UNSELECT NAMESPACE] Logged in\r\n");
    assert!(s.machine.is_authenticated());
}

#[test]
fn wrong_answers_hand_the_value_back() {
    let mut s = session(plain_options());
    s.send(b"a LOGIN u p\r\n");
    let Some(Event::Authenticate { handle, .. }) = s.events().pop() else {
        panic!()
    };
    let c = Completion::ok("no");
    assert_eq!(
        s.machine.complete(handle, c.clone()),
        Err(ReplyError::WrongAnswer(c))
    );
    assert_eq!(
        s.machine.send_data(handle, Data::Exists(1)),
        Err(ReplyError::WrongAnswer(Data::Exists(1)))
    );
    assert_eq!(
        s.machine.complete(Handle(999), Completion::no("x")),
        Err(ReplyError::UnknownHandle(Completion::no("x")))
    );
    s.act(|m| {
        m.complete(
            handle,
            Completion::no("Go away").with_code(Code::Simple(Atom::unvalidated("UNAVAILABLE"))),
        )
        .unwrap()
    });
    s.expect(b"a NO [UNAVAILABLE] Go away\r\n");
    assert!(!s.machine.is_authenticated());
}

#[test]
fn greetings_preauth_and_bye() {
    let now = Instant::now();
    let mut s = Scripted::new(
        Srv(Server::new(Options::default(), Greeting::PreAuth("hi".into()), "n", now).unwrap()),
        now,
    );
    s.expect(b"* PREAUTH [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL- ID ENABLE IDLE UNSELECT NAMESPACE] hi\r\n");
    assert!(s.machine.is_authenticated());
    let mut s = Scripted::new(
        Srv(Server::new(Options::default(), Greeting::Bye("busy".into()), "n", now).unwrap()),
        now,
    );
    s.expect(b"* BYE busy\r\n");
    assert!(matches!(
        s.events().last(),
        Some(Event::Closed {
            reason: ConnectionError::Refused
        })
    ));
    assert!(Server::new(Options::default(), Greeting::ok("x"), "a,b", now).is_err());
}

#[test]
fn namespace_id_enable_and_select_transitions() {
    let mut o = plain_options();
    o.id = Some(vec![("name".into(), "mailwire".into())]);
    o.capabilities = vec![Atom::unvalidated("CONDSTORE")];
    let mut s = session(o);
    s.send(b"i ID (\"name\" \"client\")\r\n");
    s.expect(b"* ID (\"name\" \"mailwire\")\r\ni OK ID completed\r\n");
    assert!(matches!(s.events().pop(), Some(Event::ClientId(Some(_)))));
    login(&mut s);
    s.send(b"n NAMESPACE\r\n");
    s.expect(b"* NAMESPACE ((\"\" \"/\")) NIL NIL\r\nn OK NAMESPACE completed\r\n");
    s.send(b"e ENABLE CONDSTORE QRESYNC X-NOPE\r\n");
    s.expect(b"* ENABLED CONDSTORE\r\ne OK ENABLE completed\r\n");
    assert!(s.machine.is_enabled("condstore"));
    s.send(b"x EXAMINE INBOX\r\n");
    let Some(Event::Command { handle, .. }) = s.events().pop() else {
        panic!()
    };
    s.act(|m| m.complete(handle, Completion::ok("examined")).unwrap());
    assert_eq!(s.machine.is_selected(), Some(true));
    // A failed SELECT leaves no mailbox selected (RFC 9051 §6.3.2).
    s.send(b"y SELECT nope\r\n");
    let Some(Event::Command { handle, .. }) = s.events().pop() else {
        panic!()
    };
    s.act(|m| {
        m.complete(handle, Completion::no("no such mailbox"))
            .unwrap()
    });
    assert_eq!(s.machine.is_selected(), None);
    s.take_output();
    select(&mut s);
    s.send(b"c CLOSE\r\n");
    let Some(Event::Command { handle, .. }) = s.events().pop() else {
        panic!()
    };
    s.act(|m| m.complete(handle, Completion::ok("closed")).unwrap());
    assert_eq!(s.machine.is_selected(), None);
    s.send(b"l LOGOUT\r\n");
    s.expect(b"c OK closed\r\n* BYE Logging out\r\nl OK LOGOUT completed\r\n");
    assert!(s.machine.is_closed());
}

#[test]
fn idle_without_done_is_bad() {
    let mut s = session(plain_options());
    login(&mut s);
    s.send(b"i IDLE\r\n");
    s.expect(b"+ idling\r\n");
    s.send(b"j NOOP\r\n");
    s.expect(b"i BAD Expected DONE\r\n");
    s.send(b"k NOOP\r\n");
    s.expect(b"k OK NOOP completed\r\n");
}

#[test]
fn close_session_says_bye() {
    let mut s = session(plain_options());
    s.act(|m| m.close_session("Server shutting down"));
    s.expect(b"* BYE Server shutting down\r\n");
    assert!(matches!(
        s.events().last(),
        Some(Event::Closed {
            reason: ConnectionError::Local
        })
    ));
    s.send(b"a NOOP\r\n");
    s.expect_nothing();
}

#[test]
fn completion_text_is_sanitized() {
    let c = Completion::ok("a\r\nb {5}");
    assert_eq!(c.text, Text::new(&b"a  b {5}."[..]).unwrap());
    let _ = IString::try_from("x").unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// Any chunking of the client's bytes gives the same output and events.
    #[test]
    fn rfc3501_8_any_chunking(sizes in proptest::collection::vec(1usize..40, 1..8)) {
        let whole = replay(rfc3501_options(), Greeting::ok("IMAP4rev1 Service Ready"), "n0nce", RFC3501_8, rfc3501_app(), Feed::Whole);
        let r = replay(rfc3501_options(), Greeting::ok("IMAP4rev1 Service Ready"), "n0nce", RFC3501_8, rfc3501_app(), Feed::Chunks(sizes));
        prop_assert_eq!(r, whole);
    }

    /// Arbitrary bytes never panic the machine and never make it buffer
    /// beyond its limits.
    #[test]
    fn garbage_never_panics(input in proptest::collection::vec(any::<u8>(), 0..512)) {
        let mut s = session(plain_options());
        s.send(&input);
        s.events();
        prop_assert!(s.machine.frag.buffered() <= 512);
    }
}

/// RFC 5161 §4: ENABLE answered by the machine; only what the server
/// offers and the extension allows is enabled (X-GOOD-IDEA is not an
/// ENABLE-able extension here, so `* ENABLED` lists CONDSTORE alone).
#[test]
fn rfc5161_4_enable() {
    let script = "
        S: * OK ready
        C: a LOGIN u p
        S: a OK done
        C: a1 ENABLE CONDSTORE
        S: * ENABLED CONDSTORE
        S: a1 OK Conditional Store enabled
        C: a2 ENABLE CONDSTORE X-GOOD-IDEA
        S: * ENABLED
        S: a2 OK Conditional Store enabled
    ";
    let mut o = ext_options(&["CONDSTORE"]);
    o.texts.enable = "Conditional Store enabled".into();
    let mut app = App::from_transcript(&Transcript::parse(script));
    app.users.push(("u".into(), "p".into()));
    let (_, log) = replay(
        o.clone(),
        Greeting::ok("ready"),
        "n",
        script,
        app.clone(),
        Feed::Whole,
    );
    assert_eq!(
        log.iter().filter(|l| l.starts_with("Enabled")).count(),
        1,
        "{log:?}"
    );
    replay_any_split(o, Greeting::ok("ready"), "n", script, app);
}

#[test]
fn extension_commands_need_their_capability() {
    let mut o = plain_options();
    o.imap4rev2 = false;
    let mut s = session(o);
    login(&mut s);
    select(&mut s);
    for c in [
        &b"m UID MOVE 1 foo\r\n"[..],
        b"m UID EXPUNGE 1\r\n",
        b"m SORT (DATE) UTF-8 ALL\r\n",
        b"m THREAD REFERENCES UTF-8 ALL\r\n",
        b"m GETQUOTAROOT INBOX\r\n",
    ] {
        s.send(c);
        s.expect(b"m BAD Unknown command\r\n");
    }
    assert!(s.events().is_empty());
    let mut o = ext_options(&["MOVE", "SORT=DISPLAY"]);
    o.imap4rev2 = false;
    let mut s = session(o);
    login(&mut s);
    select(&mut s);
    for c in [&b"m UID MOVE 1 foo\r\n"[..], b"m SORT (DATE) UTF-8 ALL\r\n"] {
        let h = command(&mut s, c);
        s.act(|m| m.complete(h, Completion::ok("done")).unwrap());
        s.expect(b"m OK done\r\n");
    }
}

#[test]
fn sasl_login_cram_md5_and_scram_nonces() {
    let mut o = plain_options();
    o.sasl_mechanisms = vec![Mechanism::Login, Mechanism::CramMd5, Mechanism::ScramSha256];
    o.hostname = "imap.example.org".into();
    let mut s = session(o);
    // LOGIN: two challenges, then the password check.
    s.send(b"a AUTHENTICATE LOGIN\r\n");
    s.expect(b"+ VXNlcm5hbWU6\r\n");
    s.send(b"ZnJlZA==\r\n");
    s.expect(b"+ UGFzc3dvcmQ6\r\n");
    s.send(b"c2VjcmV0\r\n");
    let Some(Event::Authenticate {
        handle, username, ..
    }) = s.events().pop()
    else {
        panic!()
    };
    assert_eq!(username, "fred");
    s.act(|m| m.provide_password(handle, None).unwrap());
    s.expect(b"a NO [AUTHENTICATIONFAILED] Authentication failed\r\n");
    // CRAM-MD5: the challenge is built from the nonce, the attempt and the host.
    s.send(b"b AUTHENTICATE CRAM-MD5\r\n");
    assert_eq!(sasl_challenge(&mut s), b"<n.2@imap.example.org>");
    s.send(b"*\r\n");
    s.expect(b"b BAD Authentication cancelled or malformed\r\n");
    // SCRAM after the first attempt: the server nonce gets `.n` appended.
    s.send(b"c AUTHENTICATE SCRAM-SHA-256 biwsbj1mcmVkLHI9YWJj\r\n");
    let Some(Event::Authenticate { handle, .. }) = s.events().pop() else {
        panic!()
    };
    let creds = ScramCredentials::derive(
        ScramHash::Sha256,
        "pw",
        b"salt",
        NonZeroU32::new(2).unwrap(),
    )
    .unwrap();
    s.act(|m| m.provide_scram_credentials(handle, Some(creds)).unwrap());
    let first = sasl_challenge(&mut s);
    assert!(
        first.starts_with(b"r=abcn.3,"),
        "{}",
        String::from_utf8_lossy(&first)
    );
}

/// The decoded challenge of the `+ base64` line the server sent last.
fn sasl_challenge(s: &mut Scripted<Srv>) -> Vec<u8> {
    let out = s.take_output();
    let b64 = out
        .strip_prefix(b"+ ")
        .unwrap()
        .strip_suffix(b"\r\n")
        .unwrap();
    mailwire_sasl::framing::decode_initial_response(b64).unwrap()
}

fn streaming_session(threshold: u64) -> Scripted<Srv> {
    let mut o = plain_options();
    o.append_stream_threshold = Some(threshold);
    o.literal = LiteralExtension::Plus;
    let mut s = session(o);
    login(&mut s);
    s
}

/// Streamed octets per APPEND message index.
type StreamedOctets = Vec<(usize, Vec<u8>)>;

/// Feeds `wire` in pieces of `step` and collects what the events say: the
/// streamed octets per message, and the APPEND's messages as the command
/// event holds them.
fn run_append(s: &mut Scripted<Srv>, wire: &[u8], step: usize) -> (StreamedOctets, Vec<Vec<u8>>) {
    let mut streamed: StreamedOctets = Vec::new();
    let mut messages = Vec::new();
    for piece in wire.chunks(step) {
        s.send(piece);
        assert!(
            s.machine.frag.buffered() <= 2 * step + 64,
            "held {}",
            s.machine.frag.buffered()
        );
        for ev in s.events() {
            match ev {
                Event::AppendData {
                    message,
                    offset,
                    data,
                } => match streamed.last_mut() {
                    Some((m, d)) if *m == message && offset > 0 => {
                        assert_eq!(offset, d.len() as u64);
                        d.extend_from_slice(&data)
                    }
                    _ => {
                        assert_eq!(offset, 0);
                        streamed.push((message, data.to_vec()))
                    }
                },
                Event::Command {
                    command: CommandBody::Append { messages: m, .. },
                    ..
                } => messages = m.into_iter().map(|m| m.message.0.into_owned()).collect(),
                other => panic!("{other:?}"),
            }
        }
    }
    (streamed, messages)
}

#[test]
fn big_append_messages_stream_to_the_application() {
    let body: Vec<u8> = (0..1000u32).map(|i| b'a' + (i % 26) as u8).collect();
    let mut wire = b"a APPEND INBOX (\\Seen) {1000}\r\n".to_vec();
    wire.extend_from_slice(&body);
    wire.extend_from_slice(b"\r\n");
    for step in [1, 7, 100, wire.len()] {
        let mut s = streaming_session(100);
        let (streamed, messages) = run_append(&mut s, &wire, step);
        assert_eq!(streamed, vec![(0, body.clone())], "step {step}");
        assert_eq!(messages, vec![Vec::<u8>::new()]);
        assert_eq!(s.take_output(), b"+ Ready for literal data\r\n");
    }
}

/// A command whose message streamed but that the machine refuses itself
/// (a syntax error after the literal; a later literal too large) ends
/// with `AppendAbandoned`, never a `Command`, so the application drops
/// what it stored.
#[test]
fn refused_streamed_appends_are_abandoned() {
    let big = vec![b'x'; 300];
    let cases: [(&[u8], &[u8]); 2] = [
        (b"a APPEND INBOX {300+}\r\n", b" (junk\r\n"),
        (b"a APPEND INBOX {300+}\r\n", b" {99999999}\r\n"),
    ];
    for (head, tail) in cases {
        let mut wire = head.to_vec();
        wire.extend_from_slice(&big);
        wire.extend_from_slice(tail);
        let mut s = streaming_session(100);
        s.send(&wire);
        let events = s.events();
        assert!(
            matches!(events.first(), Some(Event::AppendData { offset: 0, .. })),
            "{events:?}"
        );
        assert!(
            matches!(events.last(), Some(Event::AppendAbandoned)),
            "{events:?}"
        );
        assert!(
            !events.iter().any(|e| matches!(e, Event::Command { .. })),
            "{events:?}"
        );
        let out = s.take_output();
        assert!(
            out.starts_with(b"a BAD") || out.starts_with(b"a NO"),
            "{}",
            String::from_utf8_lossy(&out)
        );
        // The next command is read as usual.
        s.send(b"b NOOP\r\n");
        assert!(
            s.events()
                .iter()
                .all(|e| !matches!(e, Event::AppendAbandoned)),
        );
    }
}

#[test]
fn multiappend_streams_only_the_big_message() {
    let big = vec![b'x'; 300];
    let mut wire = b"a APPEND INBOX {5+}\r\nhello {300+}\r\n".to_vec();
    wire.extend_from_slice(&big);
    wire.extend_from_slice(b" (\\Seen) {3+}\r\nbye\r\n");
    for step in [1, 13, wire.len()] {
        let mut s = streaming_session(100);
        let (streamed, messages) = run_append(&mut s, &wire, step);
        assert_eq!(streamed, vec![(1, big.clone())], "step {step}");
        assert_eq!(
            messages,
            vec![b"hello".to_vec(), Vec::new(), b"bye".to_vec()]
        );
    }
}

#[test]
fn a_big_mailbox_literal_is_not_streamed_and_limits_still_hold() {
    let mut s = streaming_session(10);
    let mut wire = b"a APPEND {20+}\r\n".to_vec();
    wire.extend_from_slice(&[b'm'; 20]);
    wire.extend_from_slice(b" {2+}\r\nhi\r\n");
    let (streamed, messages) = run_append(&mut s, &wire, 5);
    assert!(streamed.is_empty());
    assert_eq!(messages, vec![b"hi".to_vec()]);
    // Over max_literal: refused at the announcement, streamed or not.
    let mut o = plain_options();
    o.append_stream_threshold = Some(10);
    o.max_literal = 1000;
    let mut s = session(o);
    login(&mut s);
    s.send(b"b APPEND INBOX {1001}\r\n");
    s.expect(b"b NO [TOOBIG] Literal too large\r\n");
    // Before login the literal is refused for the state and never streamed.
    let mut o = plain_options();
    o.append_stream_threshold = Some(10);
    let mut s = session(o);
    s.send(b"c APPEND INBOX {100}\r\n");
    s.expect(b"c BAD Command not allowed in this state\r\n");
    assert!(s.events().is_empty());
}

fn compress_options() -> Options {
    let mut o = plain_options();
    o.compress = true;
    o
}

/// RFC 4978 §3: COMPRESS=DEFLATE is offered once authenticated; the OK
/// goes out, then the event; a second COMPRESS gets COMPRESSIONACTIVE,
/// and the session goes on (the driver decompresses what it feeds).
#[test]
fn rfc4978_3_compress() {
    let mut s = session(compress_options());
    s.send(b"c CAPABILITY\r\n");
    assert!(!String::from_utf8_lossy(&s.take_output()).contains("COMPRESS"));
    s.send(b"a COMPRESS DEFLATE\r\n");
    s.expect(b"a BAD Command not allowed in this state\r\n");
    login(&mut s);
    s.send(b"c CAPABILITY\r\n");
    assert!(String::from_utf8_lossy(&s.take_output()).contains(" COMPRESS=DEFLATE"));
    s.send(b"b compress x-lzw\r\n");
    s.expect(b"b NO Unknown compression algorithm\r\n");
    assert!(!s.act(|m| m.is_compressed()));
    select(&mut s);
    s.send(b"d COMPRESS deflate\r\n");
    s.expect(b"d OK COMPRESS completed\r\n");
    let evs: Vec<String> = s.events().iter().map(|e| format!("{e:?}")).collect();
    assert_eq!(evs, ["Compress"]);
    assert!(s.act(|m| m.is_compressed()));
    s.send(b"e COMPRESS DEFLATE\r\n");
    s.expect(b"e NO [COMPRESSIONACTIVE] DEFLATE active already\r\n");
    let h = command(&mut s, b"f NOOP\r\n");
    s.act(|m| m.complete(h, Completion::ok("done")).unwrap());
    s.expect(b"f OK done\r\n");
}

/// Without the option COMPRESS is unknown; bytes pipelined after COMPRESS
/// (which §3 forbids: they may be plaintext or compressed) end the session
/// unread, whether the client sent them with the command or not.
#[test]
fn compress_not_offered_or_pipelined() {
    let mut s = session(plain_options());
    login(&mut s);
    s.send(b"a COMPRESS DEFLATE\r\n");
    s.expect(b"a BAD Unknown command\r\n");
    let mut s = session(compress_options());
    login(&mut s);
    s.send(b"a COMPRESS DEFLATE\r\nb NOOP\r\n");
    s.expect(b"* BYE Nothing may follow COMPRESS before its answer\r\n");
    let evs: Vec<String> = s.events().iter().map(|e| format!("{e:?}")).collect();
    assert_eq!(evs, ["Closed { reason: PipelinedAfterCompress }"]);
    assert!(!s.act(|m| m.is_compressed()));
}

/// The output so far, as text.
fn output(s: &mut Scripted<Srv>) -> String {
    String::from_utf8(s.take_output()).unwrap()
}

/// RFC 8437: UNAUTHENTICATE, offered once authenticated when switched on,
/// takes the session back to the not authenticated state: the selected
/// mailbox closed, ENABLE undone, the capabilities of that state in the OK;
/// the application is told, and the commands of the authenticated state
/// are refused until a new LOGIN. Before LOGIN, or switched off, it is
/// refused.
#[test]
fn rfc8437_unauthenticate() {
    let mut o = ext_options(&["CONDSTORE"]);
    o.unauthenticate = true;
    o.sasl_mechanisms = vec![Mechanism::CramMd5];
    o.hostname = "h".into();
    let mut s = session(o);
    // The CRAM-MD5 challenge of the session's n-th AUTHENTICATE.
    let challenge = |s: &mut Scripted<Srv>| {
        s.send(b"m AUTHENTICATE CRAM-MD5\r\n");
        let c = sasl_challenge(s);
        s.send(b"*\r\n");
        s.take_output();
        c
    };
    assert_eq!(challenge(&mut s), b"<n.1@h>");
    s.send(b"c CAPABILITY\r\n");
    assert!(!output(&mut s).contains("UNAUTHENTICATE"));
    s.send(b"u UNAUTHENTICATE\r\n");
    assert!(output(&mut s).starts_with("u BAD"));
    login(&mut s);
    s.send(b"c CAPABILITY\r\n");
    assert!(output(&mut s).contains(" UNAUTHENTICATE"));
    s.send(b"e ENABLE CONDSTORE\r\n");
    s.events();
    s.take_output();
    assert!(s.machine.is_enabled("CONDSTORE"));
    select(&mut s);
    s.send(b"u UNAUTHENTICATE\r\n");
    let out = output(&mut s);
    assert!(out.starts_with("u OK [CAPABILITY "), "{out}");
    assert!(
        !out.contains("UNAUTHENTICATE]") && !out.contains(" IDLE"),
        "{out}"
    );
    assert!(
        s.events()
            .iter()
            .any(|e| matches!(e, Event::Unauthenticated))
    );
    assert_eq!(s.machine.is_selected(), None);
    assert!(!s.machine.is_enabled("CONDSTORE"));
    s.send(b"l LIST \"\" *\r\n");
    assert!(output(&mut s).starts_with("l BAD"));
    // The SASL nonce is not used again in the session.
    assert_eq!(challenge(&mut s), b"<n.2@h>");
    // A new LOGIN, as at the start.
    login(&mut s);
    select(&mut s);
    // Switched off: refused.
    let mut s = session(plain_options());
    login(&mut s);
    s.send(b"u UNAUTHENTICATE\r\n");
    assert!(output(&mut s).starts_with("u BAD"));
}

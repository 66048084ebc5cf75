//! Test support: a fixture maildrop application for the server machine, a
//! scripted peer for transcripts, and an in-memory client/server pair.
#![allow(dead_code, unreachable_pub)]

use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use mailwire_pop3::client::{self, Client};
use mailwire_pop3::server::{self, AuthMethod, MaildropEntry, Server};
use mailwire_pop3::{ResponseCode, StatusLine, Uid, WireSize};
use mailwire_sasl::{Mechanism, ScramCredentials, ScramHash, Secret};

/// The application side of a server: one user, one maildrop.
#[derive(Debug, Clone)]
pub struct App {
    pub user: String,
    pub password: String,
    pub messages: Vec<Vec<u8>>,
    /// Another session holds the lock.
    pub locked: bool,
    /// Content chunk size when streaming RETR/TOP.
    pub chunk: usize,
    /// Messages deleted in UPDATE (indices).
    pub removed: Vec<usize>,
    /// A log of events, for any-split comparisons.
    pub log: Vec<String>,
}

impl App {
    pub fn new(messages: Vec<Vec<u8>>) -> Self {
        App {
            user: "mrose".into(),
            password: "tanstaaf".into(),
            messages,
            locked: false,
            chunk: 7,
            removed: Vec::new(),
            log: Vec::new(),
        }
    }
}

pub fn n(v: u32) -> NonZeroU32 {
    NonZeroU32::new(v).unwrap()
}

/// A message of exactly `size` octets (CRLF line ends).
pub fn message_of_size(size: usize, tag: &str) -> Vec<u8> {
    let mut m = format!("From: {tag}@example.com\r\nSubject: {tag}\r\n\r\n").into_bytes();
    while m.len() + 2 < size {
        m.push(b'x');
    }
    m.truncate(size - 2);
    m.extend_from_slice(b"\r\n");
    assert_eq!(m.len(), size);
    m
}

/// Answers every pending event of `s`; returns when none is left.
pub fn answer_events(s: &mut Server, app: &mut App) {
    while let Some(ev) = s.poll_event() {
        match ev {
            server::Event::Authenticate {
                handle,
                username,
                method,
                ..
            } => {
                app.log.push(format!("auth {username} {method:?}"));
                let known = username == app.user;
                match method {
                    AuthMethod::Sasl(Mechanism::ScramSha256) => {
                        let creds = known.then(|| {
                            ScramCredentials::derive(
                                ScramHash::Sha256,
                                &app.password,
                                b"salt",
                                NonZeroU32::new(4096).unwrap(),
                            )
                            .unwrap()
                        });
                        s.provide_scram_credentials(handle, creds).unwrap();
                    }
                    _ => s
                        .provide_password(
                            handle,
                            known.then(|| Secret::from(app.password.as_str())),
                        )
                        .unwrap(),
                }
            }
            server::Event::OpenMaildrop { handle, username } => {
                app.log.push(format!("open {username}"));
                if app.locked {
                    s.refuse(
                        handle,
                        StatusLine::err(
                            Some(ResponseCode::InUse),
                            "Do you have another POP session running?",
                        ),
                    )
                    .unwrap();
                } else {
                    let listing = app
                        .messages
                        .iter()
                        .enumerate()
                        .map(|(i, m)| MaildropEntry {
                            size: WireSize::of(m),
                            uid: Uid::try_from(format!("uid-{}", i + 1)).unwrap(),
                        })
                        .collect();
                    s.open_maildrop(handle, listing).unwrap();
                }
            }
            server::Event::Retrieve {
                handle, index, top, ..
            } => {
                app.log.push(format!("retrieve {index} {top:?}"));
                let m = app.messages[index].clone();
                for c in m.chunks(app.chunk.max(1)) {
                    if !s.send_content(handle, c).unwrap() {
                        break;
                    }
                }
                s.end_content(handle).unwrap();
            }
            server::Event::Update { handle, deleted } => {
                app.log.push(format!("update {deleted:?}"));
                app.removed.extend(deleted.iter().map(|d| d.index));
                s.finish_update(handle, Ok(())).unwrap();
            }
            other => app.log.push(format!("{other:?}")),
        }
    }
}

/// Drains a server completely: output bytes, answering events.
pub fn drive_server(s: &mut Server, app: &mut App, now: Instant, out: &mut Vec<u8>) {
    loop {
        while s.poll_transmit(now, out).is_some() {}
        let before = app.log.len();
        answer_events(s, app);
        let mut more = Vec::new();
        if app.log.len() == before && s.poll_transmit(now, &mut more).is_none() {
            break;
        }
        out.extend_from_slice(&more);
    }
}

pub fn server_options() -> server::Options {
    let mut o = server::Options::default();
    o.hostname = "dbc.mtview.ca.us".into();
    o.apop = true;
    o.allow_plaintext_auth = true;
    o
}

pub fn new_server(o: server::Options, now: Instant) -> Server {
    Server::new(o, "1896.697170952", now).unwrap()
}

/// A transcript of `C:`/`S:` lines (RFC style, leading spaces trimmed).
pub fn transcript(text: &str) -> Vec<(char, String)> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (who, rest) = l.split_at(2);
            let side = match who {
                "C:" => 'C',
                "S:" => 'S',
                _ => panic!("bad transcript line {l:?}"),
            };
            (
                side,
                rest.strip_prefix(' ')
                    .unwrap_or(rest)
                    .trim_start()
                    .to_owned(),
            )
        })
        .collect()
}

/// Replays a transcript against a server: each client line is fed, the
/// output compared with the server lines that follow. Status lines compare
/// by status, and by text when the text is data (STAT, LIST n, UIDL n) or
/// `exact_text` is set; other lines compare exactly.
pub fn replay_server(
    s: &mut Server,
    app: &mut App,
    now: Instant,
    script: &[(char, String)],
    exact_text: bool,
) {
    let mut i = 0;
    let mut last_cmd = String::new();
    while i < script.len() {
        let mut out = Vec::new();
        if script[i].0 == 'C' {
            let line = format!("{}\r\n", script[i].1);
            last_cmd = script[i].1.to_ascii_uppercase();
            s.handle_input(now, line.as_bytes());
            i += 1;
        }
        drive_server(s, app, now, &mut out);
        let mut expected = Vec::new();
        while i < script.len() && script[i].0 == 'S' {
            expected.push(script[i].1.clone());
            i += 1;
        }
        let got = String::from_utf8_lossy(&out).into_owned();
        assert!(
            got.is_empty() || got.ends_with("\r\n"),
            "unterminated output {got:?}"
        );
        let got: Vec<&str> = if got.is_empty() {
            vec![]
        } else {
            got[..got.len() - 2].split("\r\n").collect()
        };
        assert_eq!(
            got.len(),
            expected.len(),
            "after {last_cmd:?}: got {got:#?}, expected {expected:#?}"
        );
        for (k, (g, e)) in got.iter().zip(&expected).enumerate() {
            if k == 0 && (e.starts_with("+OK") || e.starts_with("-ERR")) {
                let data = exact_text
                    || (last_cmd == "STAT"
                        || last_cmd.starts_with("LIST ")
                        || last_cmd.starts_with("UIDL "))
                        && e.starts_with("+OK");
                if data {
                    assert_eq!(g, e, "after {last_cmd:?}");
                } else {
                    let status = |l: &str| l.split(' ').next().unwrap_or("").to_owned();
                    assert_eq!(status(g), status(e), "after {last_cmd:?}: {g:?} vs {e:?}");
                    if let Some(code) = e.split(' ').nth(1).filter(|c| c.starts_with('[')) {
                        assert!(g.contains(code), "{g:?} lacks {code}");
                    }
                }
            } else {
                assert_eq!(g, e, "after {last_cmd:?} line {k}");
            }
        }
    }
}

/// Replays a transcript against a client: server lines are fed in blocks,
/// the client's output must equal the client lines that follow, byte for
/// byte. Returns the events.
pub fn replay_client(
    c: &mut Client,
    now: Instant,
    script: &[(char, String)],
) -> Vec<client::Event> {
    let mut events = Vec::new();
    let mut i = 0;
    while i < script.len() {
        let mut input = Vec::new();
        while i < script.len() && script[i].0 == 'S' {
            input.extend_from_slice(script[i].1.as_bytes());
            input.extend_from_slice(b"\r\n");
            i += 1;
        }
        c.handle_input(now, &input);
        let mut out = Vec::new();
        while c.poll_transmit(now, &mut out).is_some() {}
        while let Some(e) = c.poll_event() {
            events.push(e);
        }
        while c.poll_transmit(now, &mut out).is_some() {}
        let mut expected = Vec::new();
        while i < script.len() && script[i].0 == 'C' {
            expected.extend_from_slice(script[i].1.as_bytes());
            expected.extend_from_slice(b"\r\n");
            i += 1;
        }
        assert_eq!(
            String::from_utf8_lossy(&out),
            String::from_utf8_lossy(&expected)
        );
    }
    events
}

/// Renders client events for comparison, merging message chunks.
pub fn render_client_events(events: &[client::Event]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut content: Option<Vec<u8>> = None;
    for e in events {
        match e {
            client::Event::MessageChunk { data, .. } => {
                content.get_or_insert_with(Vec::new).extend_from_slice(data)
            }
            other => {
                if let Some(c) = content.take() {
                    out.push(format!("content {:?}", String::from_utf8_lossy(&c)));
                }
                out.push(format!("{other:?}"));
            }
        }
    }
    if let Some(c) = content.take() {
        out.push(format!("content {:?}", String::from_utf8_lossy(&c)));
    }
    out
}

/// An in-memory client/server pair on a virtual clock.
pub struct Pair {
    pub client: Client,
    pub server: Server,
    pub app: App,
    pub now: Instant,
    pub events: Vec<client::Event>,
    /// Simulates STLS: both sides call handle_tls_established once both
    /// asked for it.
    pub client_wants_tls: bool,
    pub server_wants_tls: bool,
    /// Bytes the client sent, all of them.
    pub c2s: Vec<u8>,
    pub s2c: Vec<u8>,
}

impl Pair {
    pub fn new(copts: client::Options, sopts: server::Options, app: App) -> Pair {
        let now = Instant::now();
        Pair {
            client: Client::new(copts, now),
            server: new_server(sopts, now),
            app,
            now,
            events: Vec::new(),
            client_wants_tls: false,
            server_wants_tls: false,
            c2s: Vec::new(),
            s2c: Vec::new(),
        }
    }

    /// One round: server output to the client, client output to the
    /// server, events. Returns whether anything happened.
    pub fn step(&mut self) -> bool {
        let mut progressed = false;
        let mut out = Vec::new();
        drive_server(&mut self.server, &mut self.app, self.now, &mut out);
        if self.app.log.iter().any(|l| l == "StartTls") && !self.server_wants_tls {
            self.server_wants_tls = true;
        }
        if !out.is_empty() {
            progressed = true;
            self.s2c.extend_from_slice(&out);
            self.client.handle_input(self.now, &out);
        }
        let mut out = Vec::new();
        while self.client.poll_transmit(self.now, &mut out).is_some() {}
        while let Some(e) = self.client.poll_event() {
            progressed = true;
            if matches!(e, client::Event::StartTls) {
                self.client_wants_tls = true;
            }
            self.events.push(e);
        }
        while self.client.poll_transmit(self.now, &mut out).is_some() {}
        if !out.is_empty() {
            progressed = true;
            self.c2s.extend_from_slice(&out);
            self.server.handle_input(self.now, &out);
        }
        if self.client_wants_tls && self.server_wants_tls {
            self.client_wants_tls = false;
            self.server_wants_tls = false;
            self.app.log.retain(|l| l != "StartTls");
            self.app.log.push("tls".into());
            self.server.handle_tls_established(self.now);
            self.client.handle_tls_established(self.now);
            progressed = true;
        }
        progressed
    }

    /// Runs until both sides are idle; panics on livelock.
    pub fn drive(&mut self) {
        for _ in 0..10_000 {
            if !self.step() {
                return;
            }
        }
        panic!("livelock");
    }

    /// Advances the virtual clock to the earliest deadline and fires it.
    pub fn advance(&mut self, by: Duration) {
        self.now += by;
        self.client.handle_timeout(self.now);
        self.server.handle_timeout(self.now);
    }

    pub fn closed_reason(&self) -> Option<&mailwire_pop3::ConnectionError> {
        self.events.iter().find_map(|e| match e {
            client::Event::Closed { reason } => Some(reason),
            _ => None,
        })
    }

    /// The content of every message the client received, by handle order.
    pub fn messages(&self) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut cur: Option<Vec<u8>> = None;
        for e in &self.events {
            match e {
                client::Event::MessageStart { .. } => cur = Some(Vec::new()),
                client::Event::MessageChunk { data, .. } => {
                    cur.as_mut().unwrap().extend_from_slice(data)
                }
                client::Event::MessageEnd { .. } => out.push(cur.take().unwrap()),
                _ => {}
            }
        }
        out
    }
}

//! The POP3 client state machine (RFC 1939, RFC 2449, RFC 2595, RFC 5034).
//!
//! ```text
//! S: +OK ready <ts@host>    greeting; the APOP timestamp is kept
//! C: CAPA                   capabilities (an -ERR means a plain RFC 1939 server)
//! C: STLS                   when TLS is wanted: Event::StartTls, then
//!                           handle_tls_established, then CAPA again (RFC 2595 §4)
//! C: AUTH SCRAM-SHA-256 ..  the best method offered: SASL SCRAM-SHA-256,
//!                           CRAM-MD5, PLAIN, then APOP, then USER/PASS
//!                           Event::Ready
//! C: STAT / LIST / UIDL / TOP / RETR / DELE / RSET / NOOP / QUIT
//!                           as the application queues them; pipelined when
//!                           the server offers PIPELINING (RFC 2449 §6.6)
//! ```
//!
//! Passwords never go out in the clear (USER/PASS, SASL PLAIN) unless TLS
//! is up or [`Options::allow_plaintext_auth`] says so.

mod event;

pub use event::{CommandHandle, Event, LoginMethod};

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use mailwire_sasl::framing::{decode_challenge, encode, encode_initial_response};
use mailwire_sasl::{Credentials, Mechanism, Secret};
use md5::{Digest as _, Md5};

use crate::error::ConnectionError;
use crate::parse::{parse_capability, parse_drop_listing, parse_scan_listing, parse_uid_listing};
use crate::response::{Decoded, ResponseDecoder};
use crate::types::*;
use mailwire_line::timer::TimerTable;

/// How the connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TlsMode {
    /// No TLS (loopback tests, or a tunnel).
    None,
    /// Upgrade with STLS (RFC 2595 §4); fail if the server does not offer it.
    StartTls,
    /// The driver runs TLS from the first byte (port 995, RFC 8314).
    Implicit,
}

/// Which login method to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuthChoice {
    /// The best one the server offers: SASL SCRAM-SHA-256, CRAM-MD5, PLAIN,
    /// then APOP, then USER/PASS.
    Auto,
    /// This SASL mechanism only.
    Sasl(Mechanism),
    /// APOP only.
    Apop,
    /// USER/PASS only.
    User,
}

/// Client configuration. Every default carries its reason.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Options {
    /// The user name.
    pub username: String,
    /// The password.
    pub password: Secret<String>,
    /// SASL authorization identity, if not the user itself.
    pub authzid: Option<String>,
    /// TLS. Default [`TlsMode::StartTls`]: passwords stay private.
    pub tls: TlsMode,
    /// Login method. Default [`AuthChoice::Auto`].
    pub auth: AuthChoice,
    /// Send passwords in the clear (USER/PASS, SASL PLAIN) without TLS.
    /// Default false (RFC 2595 §2.4).
    pub allow_plaintext_auth: bool,
    /// The SCRAM client nonce, from the caller's random source (printable
    /// ASCII without `,`). Default empty: SCRAM is not used.
    pub sasl_nonce: String,
    /// Use PIPELINING when offered. Default true.
    pub pipelining: bool,
    /// How long to wait for a response. Default 5 minutes.
    pub response_timeout: Duration,
    /// Longest status or listing line, CRLF included. Default 4096: RFC
    /// 2449 §4's 512 with room for servers that exceed it.
    pub max_line: usize,
    /// Largest message content accepted. Default 1 GiB: content streams
    /// out, so this only stops a server that never ends a message.
    pub max_message_size: u64,
    /// Most entries in a LIST or UIDL answer. Default 1 000 000.
    pub max_listing: usize,
}

impl Options {
    /// Options for this user and password, every other field at its
    /// default.
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        Options {
            username: username.into(),
            password: Secret::new(password.into()),
            authzid: None,
            tls: TlsMode::StartTls,
            auth: AuthChoice::Auto,
            allow_plaintext_auth: false,
            sasl_nonce: String::new(),
            pipelining: true,
            response_timeout: Duration::from_secs(300),
            max_line: 4096,
            max_message_size: 1 << 30,
            max_listing: 1_000_000,
        }
    }
}

/// A command that could not be queued: it is handed back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SendError<T> {
    /// The machine runs this command itself (USER, PASS, APOP, AUTH, STLS,
    /// UTF8, LANG).
    #[error("command is run by the machine itself")]
    NotAllowed(T),
    /// QUIT was already queued, or the connection is closed.
    #[error("session is ending or closed")]
    Closed(T),
}

impl<T> SendError<T> {
    /// The command that was not queued.
    pub fn into_inner(self) -> T {
        match self {
            SendError::NotAllowed(t) | SendError::Closed(t) => t,
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Timer {
    Response = 0,
}

/// What a response in flight answers.
#[derive(Debug)]
enum Expect {
    Greeting,
    Capa {
        after_tls: bool,
    },
    Stls,
    User,
    Pass,
    Apop,
    Auth(Box<mailwire_sasl::Client>),
    /// After a client-side SASL error: the `-ERR` to `*`.
    AuthCancelled(String),
    App {
        handle: CommandHandle,
        cmd: Command<'static>,
    },
}

impl Expect {
    fn kind(&self) -> ResponseKind {
        match self {
            Expect::Capa { .. } => ResponseKind::MultiLine,
            Expect::Auth(_) | Expect::AuthCancelled(_) => ResponseKind::Auth,
            Expect::App { cmd, .. } => cmd.response_kind(),
            _ => ResponseKind::SingleLine,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Before login: internal commands only.
    Login,
    /// After the +OK to STLS.
    WaitTls,
    /// TRANSACTION: application commands flow.
    Ready,
    Closed,
}

/// A multi-line answer being collected.
#[derive(Debug)]
enum Collect {
    None,
    Capa(Vec<Capability<'static>>),
    List(Vec<ScanListing>),
    Uidl(Vec<UidListing<'static>>),
    Content { size: u64 },
    Skip,
}

/// The POP3 client machine.
///
/// Method groups (STYLE.md (a)):
/// - getters: [`is_closed`](Self::is_closed), [`wants_read`](Self::wants_read),
///   [`capabilities`](Self::capabilities);
/// - inputs: [`handle_input`](Self::handle_input), [`handle_eof`](Self::handle_eof),
///   [`handle_timeout`](Self::handle_timeout), [`handle_tls_established`](Self::handle_tls_established);
/// - commands: [`enqueue`](Self::enqueue) (returns a [`CommandHandle`]);
/// - outputs: [`poll_transmit`](Self::poll_transmit), [`poll_event`](Self::poll_event),
///   [`poll_timeout`](Self::poll_timeout).
///
/// **Driver contract:** after any input or command, drain `poll_transmit`,
/// then `poll_event`, then read `poll_timeout`.
#[derive(Debug)]
pub struct Client {
    options: Options,
    phase: Phase,
    tls: bool,
    decoder: ResponseDecoder,
    inbuf: BytesMut,
    out: Vec<u8>,
    events: VecDeque<Event>,
    timers: TimerTable<1>,
    /// Responses awaited, oldest first.
    inflight: VecDeque<Expect>,
    /// Application commands not yet sent.
    queue: VecDeque<(CommandHandle, Command<'static>)>,
    next_handle: u64,
    quit_queued: bool,
    collect: Collect,
    capabilities: Vec<Capability<'static>>,
    capa_known: bool,
    apop_timestamp: Option<String>,
    method: Option<LoginMethod>,
    closed: bool,
    pipelining: bool,
}

impl Client {
    /// A new session: the machine waits for the greeting.
    pub fn new(options: Options, now: Instant) -> Client {
        let mut c = Client {
            phase: Phase::Login,
            tls: options.tls == TlsMode::Implicit,
            decoder: ResponseDecoder::new(options.max_line, options.max_message_size),
            inbuf: BytesMut::new(),
            out: Vec::new(),
            events: VecDeque::new(),
            timers: TimerTable::new(),
            inflight: VecDeque::from([Expect::Greeting]),
            queue: VecDeque::new(),
            next_handle: 1,
            quit_queued: false,
            collect: Collect::None,
            capabilities: Vec::new(),
            capa_known: false,
            apop_timestamp: None,
            method: None,
            closed: false,
            pipelining: false,
            options,
        };
        c.timers
            .set(Timer::Response as usize, now + c.options.response_timeout);
        c
    }

    /// True once the session is over.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// False while undrained events pile up: stop reading until they are
    /// taken.
    pub fn wants_read(&self) -> bool {
        !self.closed && self.events.len() < 256
    }

    /// True after login (TRANSACTION state).
    pub fn is_ready(&self) -> bool {
        self.phase == Phase::Ready
    }

    /// The capabilities the server announced (empty before CAPA, or when
    /// the server does not know CAPA).
    pub fn capabilities(&self) -> &[Capability<'static>] {
        &self.capabilities
    }

    /// Queues a command: `STAT`, `LIST`, `UIDL`, `RETR`, `TOP`, `DELE`,
    /// `RSET`, `NOOP`, `CAPA` or `QUIT`. It is sent after login, pipelined
    /// when the server offers PIPELINING. Then drain the outputs.
    pub fn enqueue(
        &mut self,
        cmd: Command<'static>,
    ) -> Result<CommandHandle, SendError<Command<'static>>> {
        if self.closed || self.quit_queued {
            return Err(SendError::Closed(cmd));
        }
        match cmd {
            Command::User(_)
            | Command::Pass(_)
            | Command::Apop { .. }
            | Command::Auth { .. }
            | Command::Stls
            | Command::Utf8
            | Command::Lang(_) => return Err(SendError::NotAllowed(cmd)),
            Command::Quit => self.quit_queued = true,
            _ => {}
        }
        let handle = CommandHandle(self.next_handle);
        self.next_handle += 1;
        self.queue.push_back((handle, cmd));
        self.flush_queue();
        Ok(handle)
    }

    /// Feeds bytes from the server (plaintext), split anywhere. Then drain
    /// the outputs.
    pub fn handle_input(&mut self, now: Instant, data: &[u8]) {
        if self.closed || data.is_empty() {
            return;
        }
        if self.phase == Phase::WaitTls {
            self.close(ConnectionError::PlaintextAfterStartTls);
            return;
        }
        self.inbuf.extend_from_slice(data);
        self.process(now);
    }

    /// The server closed its side. Then drain the outputs.
    pub fn handle_eof(&mut self, _now: Instant) {
        if !self.closed {
            self.close(ConnectionError::Eof);
        }
    }

    /// Fires the response timer if it expired; an early call does nothing.
    pub fn handle_timeout(&mut self, now: Instant) {
        if !self.closed && self.timers.expired(now).is_some() {
            self.close(ConnectionError::Timeout);
        }
    }

    /// TLS is up after [`Event::StartTls`]: capabilities are forgotten and
    /// asked again (RFC 2595 §4). Then drain the outputs.
    pub fn handle_tls_established(&mut self, now: Instant) {
        if self.closed || self.phase != Phase::WaitTls {
            return;
        }
        self.tls = true;
        self.phase = Phase::Login;
        self.capabilities.clear();
        self.capa_known = false;
        self.decoder.reset();
        self.inbuf.clear();
        self.send_internal(Command::Capa, Expect::Capa { after_tls: true });
        self.timers.set(
            Timer::Response as usize,
            now + self.options.response_timeout,
        );
    }

    /// Appends what is to be sent to `buf`; returns how many octets, or
    /// `None`. `now` starts the response timer. Changed by every input and
    /// command.
    #[must_use]
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut Vec<u8>) -> Option<usize> {
        if self.out.is_empty() {
            return None;
        }
        if self.timers.next().is_none() && !self.inflight.is_empty() {
            self.timers.set(
                Timer::Response as usize,
                now + self.options.response_timeout,
            );
        }
        mailwire_line::drain_into(&mut self.out, buf)
    }

    /// The next event.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The response deadline, if a response is awaited. Ask last.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.closed {
            None
        } else {
            self.timers.next()
        }
    }

    // ----- internals ----------------------------------------------------

    fn close(&mut self, reason: ConnectionError) {
        if self.closed {
            return;
        }
        self.closed = true;
        self.phase = Phase::Closed;
        self.timers.stop_all();
        self.inflight.clear();
        self.queue.clear();
        self.inbuf.clear();
        self.events.push_back(Event::Closed { reason });
    }

    fn fail_auth(&mut self, code: Option<ResponseCode<'static>>, text: impl Into<String>) {
        self.close(ConnectionError::AuthenticationFailed {
            code,
            text: text.into(),
        });
    }

    fn send_internal(&mut self, cmd: Command<'_>, expect: Expect) {
        cmd.encode(&mut self.out);
        self.inflight.push_back(expect);
    }

    fn flush_queue(&mut self) {
        if self.phase != Phase::Ready {
            return;
        }
        while let Some((handle, cmd)) = self.queue.front() {
            if !self.inflight.is_empty() && !self.pipelining {
                break;
            }
            let (handle, cmd) = (*handle, cmd.clone());
            self.queue.pop_front();
            cmd.encode(&mut self.out);
            self.inflight.push_back(Expect::App { handle, cmd });
        }
    }

    fn process(&mut self, now: Instant) {
        while !self.closed && self.phase != Phase::WaitTls {
            let Some(kind) = self.inflight.front().map(Expect::kind) else {
                if !self.inbuf.is_empty() {
                    self.close(ConnectionError::MalformedResponse(
                        "data no command asked for".into(),
                    ));
                }
                break;
            };
            match self.decoder.decode(kind, &mut self.inbuf) {
                Ok(crate::Progress::Partial) => break,
                Ok(crate::Progress::Complete(unit)) => self.unit(unit),
                Err(e) => self.close(ConnectionError::MalformedResponse(e.to_string())),
            }
            // Any progress restarts the response timer, so a long RETR that
            // keeps arriving never times out.
            if self.inflight.is_empty() {
                self.timers.stop_all();
            } else {
                self.timers.set(
                    Timer::Response as usize,
                    now + self.options.response_timeout,
                );
            }
        }
        if self.phase == Phase::WaitTls && !self.inbuf.is_empty() {
            self.close(ConnectionError::PlaintextAfterStartTls);
        }
    }

    fn unit(&mut self, unit: Decoded) {
        match unit {
            Decoded::Status(status) => self.status(status),
            Decoded::Continuation(b64) => self.continuation(&b64),
            Decoded::Line(line) => self.line(&line),
            Decoded::Chunk(data) => {
                if let (Collect::Content { size }, Some(Expect::App { handle, .. })) =
                    (&mut self.collect, self.inflight.front())
                {
                    *size += data.len() as u64;
                    let handle = *handle;
                    self.events.push_back(Event::MessageChunk { handle, data });
                }
            }
            Decoded::End => {
                let collect = std::mem::replace(&mut self.collect, Collect::None);
                let Some(expect) = self.inflight.pop_front() else {
                    return;
                };
                match (expect, collect) {
                    (Expect::Capa { after_tls }, Collect::Capa(caps)) => {
                        self.capa_done(caps, after_tls)
                    }
                    (Expect::App { handle, .. }, Collect::Capa(capabilities)) => {
                        self.events.push_back(Event::Capabilities {
                            handle,
                            capabilities,
                        })
                    }
                    (Expect::App { handle, .. }, Collect::List(listings)) => {
                        self.events.push_back(Event::List { handle, listings })
                    }
                    (Expect::App { handle, .. }, Collect::Uidl(listings)) => {
                        self.events.push_back(Event::Uidl { handle, listings })
                    }
                    (Expect::App { handle, .. }, Collect::Content { size }) => {
                        self.events.push_back(Event::MessageEnd { handle, size })
                    }
                    _ => {}
                }
                self.flush_queue();
            }
        }
    }

    fn line(&mut self, line: &[u8]) {
        let over = |n: usize, max: usize| n >= max;
        let max = self.options.max_listing;
        let err = match &mut self.collect {
            Collect::Capa(v) => {
                // An unknown or malformed capability line is skipped: the
                // list is advisory (RFC 2449 §5).
                if let Ok(c) = parse_capability(line)
                    && !over(v.len(), 256)
                {
                    v.push(c.into_owned());
                }
                None
            }
            Collect::List(v) => match parse_scan_listing(line) {
                Ok(l) if !over(v.len(), max) => {
                    v.push(l);
                    None
                }
                Ok(_) => Some("listing too long".to_owned()),
                Err(e) => Some(e.to_string()),
            },
            Collect::Uidl(v) => match parse_uid_listing(line) {
                Ok(l) if !over(v.len(), max) => {
                    v.push(l.into_owned());
                    None
                }
                Ok(_) => Some("listing too long".to_owned()),
                Err(e) => Some(e.to_string()),
            },
            _ => None,
        };
        if let Some(e) = err {
            self.close(ConnectionError::MalformedResponse(e));
        }
    }

    fn status(&mut self, status: StatusLine<'static>) {
        let ok = status.is_ok();
        let Some(front) = self.inflight.front() else {
            return;
        };
        let multi = ok
            && matches!(
                front.kind(),
                ResponseKind::MultiLine | ResponseKind::Content
            );
        if multi {
            // The lines follow; the entry stays in flight until End.
            self.collect = match front {
                Expect::Capa { .. } => Collect::Capa(Vec::new()),
                Expect::App {
                    cmd: Command::Capa, ..
                } => Collect::Capa(Vec::new()),
                Expect::App {
                    cmd: Command::List(None),
                    ..
                } => Collect::List(Vec::new()),
                Expect::App {
                    cmd: Command::Uidl(None),
                    ..
                } => Collect::Uidl(Vec::new()),
                Expect::App {
                    handle,
                    cmd: Command::Retr(msg) | Command::Top { msg, .. },
                } => {
                    self.events.push_back(Event::MessageStart {
                        handle: *handle,
                        msg: *msg,
                    });
                    Collect::Content { size: 0 }
                }
                _ => Collect::Skip,
            };
            return;
        }
        let Some(expect) = self.inflight.pop_front() else {
            return;
        };
        match expect {
            Expect::Greeting => {
                if !ok {
                    self.close(ConnectionError::Refused(
                        status.text.to_str_lossy().into_owned(),
                    ));
                    return;
                }
                self.apop_timestamp = apop_timestamp(status.text.as_bytes());
                self.send_internal(
                    Command::Capa,
                    Expect::Capa {
                        after_tls: self.tls,
                    },
                );
            }
            Expect::Capa { after_tls } => {
                // -ERR: an RFC 1939 server without CAPA.
                self.capa_done(Vec::new(), after_tls);
            }
            Expect::Stls => {
                if ok {
                    self.phase = Phase::WaitTls;
                    self.events.push_back(Event::StartTls);
                    if !self.inbuf.is_empty() {
                        self.close(ConnectionError::PlaintextAfterStartTls);
                    }
                } else {
                    self.close(ConnectionError::TlsUnavailable);
                }
            }
            Expect::User => {
                if ok {
                    let pw = Text::try_from(self.options.password.expose().as_bytes().to_vec());
                    match pw {
                        Ok(pw) => self.send_internal(Command::Pass(pw), Expect::Pass),
                        Err(_) => self.fail_auth(None, "password cannot be sent with PASS"),
                    }
                } else {
                    self.fail_auth(status.code, status.text.to_str_lossy().into_owned());
                }
            }
            Expect::Pass | Expect::Apop => {
                if ok {
                    let m = if matches!(expect, Expect::Pass) {
                        LoginMethod::User
                    } else {
                        LoginMethod::Apop
                    };
                    self.ready(m, status);
                } else {
                    self.fail_auth(status.code, status.text.to_str_lossy().into_owned());
                }
            }
            Expect::Auth(mut sasl) => {
                if ok {
                    match sasl.finish(None) {
                        Ok(()) => self.ready(LoginMethod::Sasl(sasl.mechanism()), status),
                        Err(e) => self.fail_auth(None, format!("server not verified: {e}")),
                    }
                } else {
                    self.fail_auth(status.code, status.text.to_str_lossy().into_owned());
                }
            }
            Expect::AuthCancelled(why) => self.fail_auth(status.code, why),
            Expect::App { handle, .. } => {
                let cmd = match expect {
                    Expect::App { cmd, .. } => cmd,
                    _ => return,
                };
                if !ok {
                    self.events.push_back(Event::Failed { handle, status });
                } else {
                    match cmd {
                        Command::Stat => match parse_drop_listing(status.text.as_bytes()) {
                            Ok(listing) => self.events.push_back(Event::Stat { handle, listing }),
                            Err(e) => {
                                return self
                                    .close(ConnectionError::MalformedResponse(e.to_string()));
                            }
                        },
                        Command::List(Some(n)) => {
                            match parse_scan_listing(status.text.as_bytes()) {
                                Ok(l) if l.msg == n => self.events.push_back(Event::List {
                                    handle,
                                    listings: vec![l],
                                }),
                                Ok(_) => {
                                    return self.close(ConnectionError::MalformedResponse(
                                        "LIST answered for another message".into(),
                                    ));
                                }
                                Err(e) => {
                                    return self
                                        .close(ConnectionError::MalformedResponse(e.to_string()));
                                }
                            }
                        }
                        Command::Uidl(Some(n)) => match parse_uid_listing(status.text.as_bytes()) {
                            Ok(l) if l.msg == n => self.events.push_back(Event::Uidl {
                                handle,
                                listings: vec![l.into_owned()],
                            }),
                            Ok(_) => {
                                return self.close(ConnectionError::MalformedResponse(
                                    "UIDL answered for another message".into(),
                                ));
                            }
                            Err(e) => {
                                return self
                                    .close(ConnectionError::MalformedResponse(e.to_string()));
                            }
                        },
                        Command::Quit => {
                            self.events.push_back(Event::Done { handle, status });
                            self.close(ConnectionError::Quit);
                            return;
                        }
                        _ => self.events.push_back(Event::Done { handle, status }),
                    }
                }
                self.flush_queue();
            }
        }
    }

    fn capa_done(&mut self, caps: Vec<Capability<'static>>, after_tls: bool) {
        self.capa_known = !caps.is_empty();
        self.capabilities = caps;
        self.pipelining =
            self.options.pipelining && self.capabilities.contains(&Capability::Pipelining);
        if self.options.tls == TlsMode::StartTls && !after_tls && !self.tls {
            if self.capa_known && !self.capabilities.contains(&Capability::Stls) {
                self.close(ConnectionError::TlsUnavailable);
            } else {
                self.send_internal(Command::Stls, Expect::Stls);
            }
            return;
        }
        self.login();
    }

    fn sasl_offered(&self) -> Vec<&str> {
        let mut v = Vec::new();
        for c in &self.capabilities {
            if let Capability::Sasl(m) = c {
                for a in m {
                    if let Ok(s) = std::str::from_utf8(a.as_bytes()) {
                        v.push(s);
                    }
                }
            }
        }
        v
    }

    fn login(&mut self) {
        let plaintext_ok = self.tls || self.options.allow_plaintext_auth;
        let creds = {
            let mut c =
                Credentials::password(self.options.username.clone(), self.options.password.clone());
            if let Some(a) = &self.options.authzid {
                c = c.with_authzid(a.clone());
            }
            c
        };
        let mut mine = vec![Mechanism::CramMd5];
        if !self.options.sasl_nonce.is_empty() {
            mine.insert(0, Mechanism::ScramSha256);
        }
        if plaintext_ok {
            mine.push(Mechanism::Plain);
        }
        let user_ok =
            plaintext_ok && (!self.capa_known || self.capabilities.contains(&Capability::User));
        let method = match self.options.auth {
            AuthChoice::Auto => {
                let offered = self.sasl_offered();
                if let Some(m) = mailwire_sasl::choose(&offered, &mine) {
                    Some(LoginMethod::Sasl(m))
                } else if self.apop_timestamp.is_some() {
                    Some(LoginMethod::Apop)
                } else if user_ok {
                    Some(LoginMethod::User)
                } else {
                    None
                }
            }
            AuthChoice::Sasl(m) if !m.sends_secret_in_clear() || plaintext_ok => {
                Some(LoginMethod::Sasl(m))
            }
            AuthChoice::Apop if self.apop_timestamp.is_some() => Some(LoginMethod::Apop),
            AuthChoice::User if plaintext_ok => Some(LoginMethod::User),
            _ => None,
        };
        self.method = method;
        match method {
            None => self.fail_auth(None, "no usable login method (TLS needed, or none offered)"),
            Some(LoginMethod::User) => {
                match Arg::try_from(self.options.username.as_bytes().to_vec()) {
                    Ok(u) => self.send_internal(Command::User(u), Expect::User),
                    Err(_) => self.fail_auth(None, "user name cannot be sent with USER"),
                }
            }
            Some(LoginMethod::Apop) => {
                let ts = self.apop_timestamp.clone().unwrap_or_default();
                let mut h = Md5::new();
                h.update(ts.as_bytes());
                h.update(self.options.password.expose().as_bytes());
                let digest: [u8; 16] = h.finalize().into();
                match Arg::try_from(self.options.username.as_bytes().to_vec()) {
                    Ok(name) => self.send_internal(Command::Apop { name, digest }, Expect::Apop),
                    Err(_) => self.fail_auth(None, "user name cannot be sent with APOP"),
                }
            }
            Some(LoginMethod::Sasl(m)) => {
                match mailwire_sasl::Client::new(m, &creds, &self.options.sasl_nonce) {
                    Ok(sasl) => {
                        let ir = sasl.initial_response().map(|r| encode_initial_response(&r));
                        let cmd = Command::Auth {
                            mechanism: Arg::unvalidated(m.name().as_bytes()),
                            initial_response: ir.and_then(|r| Arg::try_from(r.into_bytes()).ok()),
                        };
                        self.send_internal(cmd, Expect::Auth(Box::new(sasl)));
                    }
                    Err(e) => self.fail_auth(None, e.to_string()),
                }
            }
        }
    }

    fn continuation(&mut self, b64: &[u8]) {
        let Some(Expect::Auth(sasl)) = self.inflight.front_mut() else {
            if matches!(self.inflight.front(), Some(Expect::AuthCancelled(_))) {
                return;
            }
            self.close(ConnectionError::MalformedResponse(
                "unexpected continuation".into(),
            ));
            return;
        };
        let reply = decode_challenge(b64)
            .map_err(|e| e.to_string())
            .and_then(|c| sasl.step(&c).map_err(|e| e.to_string()));
        match reply {
            Ok(r) => {
                self.out.extend_from_slice(encode(&r).as_bytes());
                self.out.extend_from_slice(b"\r\n");
            }
            Err(why) => {
                self.out.extend_from_slice(b"*\r\n");
                if let Some(f) = self.inflight.front_mut() {
                    *f = Expect::AuthCancelled(why);
                }
            }
        }
    }

    fn ready(&mut self, method: LoginMethod, greeting: StatusLine<'static>) {
        self.phase = Phase::Ready;
        self.events.push_back(Event::Ready {
            capabilities: self.capabilities.clone(),
            method,
            greeting,
        });
        self.flush_queue();
    }
}

/// The APOP timestamp in a greeting (RFC 1939 §7): `<...@...>`.
fn apop_timestamp(text: &[u8]) -> Option<String> {
    let start = text.iter().position(|&b| b == b'<')?;
    let len = text[start..].iter().position(|&b| b == b'>')?;
    let ts = &text[start..=start + len];
    (ts.contains(&b'@') && ts.iter().all(|&b| (0x21..0x7f).contains(&b)))
        .then(|| String::from_utf8_lossy(ts).into_owned())
}

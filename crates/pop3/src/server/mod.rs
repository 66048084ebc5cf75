//! The POP3 server state machine (RFC 1939 §3-§6, RFC 2449, RFC 2595,
//! RFC 5034, RFC 6856).
//!
//! ```text
//!            handle_input(now, bytes)               poll_transmit(now, &mut out)
//! socket ──▶ ─────────────────────────▶ Server ──▶ ──────────────────────────────▶ socket
//!                                         │  ▲
//!                          poll_event()   ▼  │  provide_password / open_maildrop /
//!                                       application   send_content / finish_update
//! ```
//!
//! # Sessions
//!
//! ```text
//! S: +OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>
//! C: USER mrose            S: +OK
//! C: PASS secret           Event::Authenticate    -> provide_password / check_password
//!                          Event::OpenMaildrop    -> open_maildrop(listing) | refuse(-ERR [IN-USE])
//!                          S: +OK mrose's maildrop has 2 messages (320 octets)
//! C: RETR 1                Event::Retrieve        -> send_content(chunk)* end_content
//!                          S: +OK ... dot-stuffed content ... .
//! C: DELE 1                S: +OK (only marked)
//! C: QUIT                  Event::Update{deleted} -> finish_update
//!                          S: +OK ... ; Event::Closed{Quit}
//! C: STLS                  S: +OK ; Event::StartTls; any byte before
//!                          handle_tls_established ends the session
//! ```
//!
//! Message numbers and sizes are fixed when the maildrop is opened; `DELE`
//! only marks, `RSET` unmarks, and a session that ends without `QUIT`
//! deletes nothing (RFC 1939 §6, §8).

mod event;

pub use event::{AuthMethod, Deleted, Event, Handle};

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use mailwire_line::{LineConfig, LineError, LineFramer, Stuffer};
use mailwire_sasl::{
    Mechanism, PendingCheck, ScramCredentials, Secret, ServerOptions, ServerStep, Verdict,
};

use crate::content::TopCut;
use crate::encode::{encode_continuation, stuffed_line};
use crate::error::ConnectionError;
use crate::parse::{CommandError, parse_command};
use crate::types::*;
use mailwire_line::timer::TimerTable;

/// Server configuration. Every default carries its reason.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Options {
    /// The host name in the greeting and the APOP timestamp. Default
    /// `localhost`: the application should set its FQDN.
    pub hostname: String,
    /// Offer `USER`/`PASS` (RFC 2449 §6.2). Default true: every client
    /// speaks it.
    pub user: bool,
    /// Offer `APOP` (RFC 1939 §7): a timestamp in the greeting. Default
    /// false: it needs the plaintext password and MD5 is weak.
    pub apop: bool,
    /// SASL mechanisms to offer (RFC 5034). Default none: the application
    /// chooses what its user database can verify.
    pub sasl_mechanisms: Vec<Mechanism>,
    /// Allow `USER`/`PASS` and SASL mechanisms that send the password in
    /// the clear before TLS. Default false: refused with `-ERR` and not
    /// offered (RFC 2595 §2.4).
    pub allow_plaintext_auth: bool,
    /// Offer `STLS` (RFC 2595 §4). Default false: only the driver knows
    /// whether it has a certificate.
    pub stls: bool,
    /// The session is already under TLS (implicit TLS, RFC 8314 / port
    /// 995). Default false.
    pub implicit_tls: bool,
    /// Offer `TOP` (RFC 2449 §6.1). Default true: the machine cuts content.
    pub top: bool,
    /// Offer `UIDL` (RFC 2449 §6.8). Default true: the listing carries ids.
    pub uidl: bool,
    /// Offer `PIPELINING` (RFC 2449 §6.6). Default true: commands are
    /// answered in order from the buffer anyway.
    pub pipelining: bool,
    /// Offer `RESP-CODES` and `AUTH-RESP-CODE` (RFC 2449 §6.4, RFC 3206).
    /// Default true.
    pub resp_codes: bool,
    /// Offer `UTF8` (RFC 6856 §2). Default false: the application must
    /// store UTF-8 user names to honour it.
    pub utf8: bool,
    /// `EXPIRE` to announce (RFC 2449 §6.7). Default none.
    pub expire: Option<Expire>,
    /// `LOGIN-DELAY` to announce (RFC 2449 §6.5). Default none.
    pub login_delay: Option<u32>,
    /// `IMPLEMENTATION` text. Default none: do not advertise versions.
    pub implementation: Option<String>,
    /// The autologout timer (RFC 1939 §3: at least 10 minutes). Default
    /// 10 minutes.
    pub autologout: Duration,
    /// Longest command line, CRLF included. Default 2048: RFC 2449 §4's 255
    /// plus room for an `AUTH` initial response (RFC 5034 §4 lifts the
    /// limit for it).
    pub max_command_line: usize,
    /// Longest SASL response line (RFC 5034 §4 follows RFC 4954's 12288).
    pub max_auth_line: usize,
    /// Bad commands before the session is closed. Default 20.
    pub max_bad_commands: u32,
    /// Most input held while the application decides; more closes the
    /// session (the driver should stop reading when `wants_read` is
    /// false). Default 256 KiB: thousands of pipelined commands.
    pub max_buffered: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            hostname: "localhost".to_owned(),
            user: true,
            apop: false,
            sasl_mechanisms: Vec::new(),
            allow_plaintext_auth: false,
            stls: false,
            implicit_tls: false,
            top: true,
            uidl: true,
            pipelining: true,
            resp_codes: true,
            utf8: false,
            expire: None,
            login_delay: None,
            implementation: None,
            autologout: Duration::from_secs(600),
            max_command_line: 2048,
            max_auth_line: 12288,
            max_bad_commands: 20,
            max_buffered: 256 * 1024,
        }
    }
}

/// One message of the maildrop, as the application lists it when it opens
/// the maildrop.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MaildropEntry {
    /// The size POP3 reports: CRLF line ends, before dot-stuffing (use
    /// [`WireSize`](crate::WireSize) on stored bytes).
    pub size: u64,
    /// A unique id stable across sessions (RFC 1939 §7).
    pub uid: Uid<'static>,
}

/// A wrong call: the value is handed back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AnswerError<T> {
    /// The handle is not the one the machine waits on (already answered,
    /// or never issued).
    #[error("no decision pending for this handle")]
    UnknownHandle(T),
    /// The answer does not fit the decision (e.g. `check_password` for
    /// APOP, or a `+OK` given to `refuse`).
    #[error("answer does not fit this decision")]
    WrongAnswer(T),
    /// The connection is closed.
    #[error("connection closed")]
    Closed(T),
}

impl<T> AnswerError<T> {
    /// The value that was not used.
    pub fn into_inner(self) -> T {
        match self {
            AnswerError::UnknownHandle(t)
            | AnswerError::WrongAnswer(t)
            | AnswerError::Closed(t) => t,
        }
    }
}

/// A nonce that cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("nonce must be 1-64 octets of [A-Za-z0-9+/=.-]")]
pub struct NonceError;

/// Proof that TLS is in place: only `handle_tls_established` or the
/// implicit-TLS option create it.
#[derive(Debug, Clone, Copy)]
struct TlsActive(());

#[derive(Debug, Clone, Copy)]
enum Timer {
    Autologout = 0,
}

/// The session state (RFC 1939 §3).
#[derive(Debug)]
enum Phase {
    /// AUTHORIZATION; the name given by USER, if any.
    Authorization { user: Option<String> },
    /// Reading a SASL response line.
    AuthLine(Box<mailwire_sasl::Server>),
    /// TRANSACTION.
    Transaction,
    /// After the `+OK` to STLS.
    WaitTls,
    /// Over.
    Closed,
}

#[derive(Debug)]
struct Message {
    size: u64,
    uid: Uid<'static>,
    deleted: bool,
}

#[derive(Debug)]
enum Pending {
    Auth {
        check: PendingCheck,
        username: String,
        authzid: Option<String>,
        method: AuthMethod,
    },
    Open {
        username: String,
    },
    Content {
        started: bool,
        stuffer: Stuffer,
        top: Option<TopCut>,
    },
    Update,
}

/// The POP3 server machine.
///
/// Method groups (STYLE.md (a)):
/// - getters: [`is_closed`](Self::is_closed), [`wants_read`](Self::wants_read);
/// - inputs: [`handle_input`](Self::handle_input), [`handle_eof`](Self::handle_eof),
///   [`handle_timeout`](Self::handle_timeout), [`handle_tls_established`](Self::handle_tls_established);
/// - answers to decision events: [`provide_password`](Self::provide_password),
///   [`check_password`](Self::check_password), [`provide_scram_credentials`](Self::provide_scram_credentials),
///   [`open_maildrop`](Self::open_maildrop), [`send_content`](Self::send_content),
///   [`end_content`](Self::end_content), [`finish_update`](Self::finish_update),
///   [`refuse`](Self::refuse), and [`close_session`](Self::close_session);
/// - outputs: [`poll_transmit`](Self::poll_transmit), [`poll_event`](Self::poll_event),
///   [`poll_timeout`](Self::poll_timeout).
///
/// **Driver contract:** after any input or answer, drain `poll_transmit`,
/// then `poll_event`, then read `poll_timeout`; go round again when an
/// event was answered.
///
/// ```
/// use std::time::Instant;
/// use mailwire_pop3::server::{Event, MaildropEntry, Options, Server};
/// use mailwire_pop3::Uid;
///
/// let now = Instant::now();
/// let mut opts = Options::default();
/// opts.allow_plaintext_auth = true;
/// let mut s = Server::new(opts, "n1", now).unwrap();
/// let mut out = Vec::new();
/// while s.poll_transmit(now, &mut out).is_some() {}
/// assert!(out.starts_with(b"+OK"));
/// out.clear();
/// s.handle_input(now, b"USER u\r\nPASS p\r\nSTAT\r\n");
/// while let Some(ev) = s.poll_event() {
///     match ev {
///         Event::Authenticate { handle, .. } => s.provide_password(handle, Some("p".into())).unwrap(),
///         Event::OpenMaildrop { handle, .. } => s
///             .open_maildrop(handle, vec![MaildropEntry { size: 10, uid: Uid::try_from("a".to_owned()).unwrap() }])
///             .unwrap(),
///         _ => {}
///     }
/// }
/// while s.poll_transmit(now, &mut out).is_some() {}
/// assert!(out.ends_with(b"+OK 1 10\r\n"));
/// ```
#[derive(Debug)]
pub struct Server {
    options: Options,
    nonce: String,
    timestamp: String,
    auth_attempts: u32,
    tls: Option<TlsActive>,
    utf8: bool,
    phase: Phase,
    pending: Option<(Handle, Pending)>,
    next_handle: u64,
    framer: LineFramer,
    inbuf: BytesMut,
    out: Vec<u8>,
    events: VecDeque<Event>,
    timers: TimerTable<1>,
    messages: Vec<Message>,
    bad_commands: u32,
    closed: bool,
    last_now: Instant,
}

fn nonce_ok(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 64
        && n.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'.' | b'-'))
}

impl Server {
    /// A new session; the greeting is queued at once.
    ///
    /// `nonce` comes from the caller's random source (1-64 octets of
    /// `[A-Za-z0-9+/=.-]`, e.g. 18 random bytes in base64): it makes the
    /// APOP timestamp `<nonce@hostname>` (RFC 1939 §7) and the SASL server
    /// nonces unique to the session.
    pub fn new(options: Options, nonce: &str, now: Instant) -> Result<Server, NonceError> {
        if !nonce_ok(nonce) {
            return Err(NonceError);
        }
        let timestamp = format!("<{nonce}@{}>", options.hostname);
        let mut s = Server {
            tls: options.implicit_tls.then_some(TlsActive(())),
            framer: LineFramer::new(LineConfig::with_max_len(options.max_command_line)),
            nonce: nonce.to_owned(),
            timestamp,
            auth_attempts: 0,
            utf8: false,
            phase: Phase::Authorization { user: None },
            pending: None,
            next_handle: 1,
            inbuf: BytesMut::new(),
            out: Vec::new(),
            events: VecDeque::new(),
            timers: TimerTable::new(),
            messages: Vec::new(),
            bad_commands: 0,
            closed: false,
            last_now: now,
            options,
        };
        let greeting = if s.options.apop {
            format!("{} POP3 server ready {}", s.options.hostname, s.timestamp)
        } else {
            format!("{} POP3 server ready", s.options.hostname)
        };
        s.ok(&greeting);
        s.timers
            .set(Timer::Autologout as usize, now + s.options.autologout);
        Ok(s)
    }

    /// The APOP timestamp announced in the greeting (RFC 1939 §7).
    pub fn apop_timestamp(&self) -> &str {
        &self.timestamp
    }

    /// True once the session is over.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// False while the machine holds as much input as it may buffer: stop
    /// reading until events are answered.
    pub fn wants_read(&self) -> bool {
        !self.closed && self.inbuf.len() < self.options.max_buffered
    }

    /// True when TLS is in place (STLS done, or implicit TLS).
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    // ----- inputs -------------------------------------------------------

    /// Feeds bytes from the client (plaintext; under TLS, what rustls
    /// decrypted), split anywhere. Then drain `poll_transmit`, `poll_event`
    /// and read `poll_timeout`.
    pub fn handle_input(&mut self, now: Instant, data: &[u8]) {
        if self.closed || data.is_empty() {
            return;
        }
        if matches!(self.phase, Phase::WaitTls) {
            self.close(ConnectionError::PlaintextAfterStartTls);
            return;
        }
        self.last_now = now;
        self.inbuf.extend_from_slice(data);
        if self.inbuf.len() > self.options.max_buffered + self.options.max_auth_line {
            self.close(ConnectionError::InputOverflow);
            return;
        }
        self.process(now);
    }

    /// The client closed its side. Marked messages are not deleted
    /// (RFC 1939 §6). Then drain the outputs.
    pub fn handle_eof(&mut self, _now: Instant) {
        if !self.closed {
            self.close(ConnectionError::Eof);
        }
    }

    /// Fires expired timers: the autologout timer closes the session
    /// without entering UPDATE (RFC 1939 §3). An early call does nothing.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.closed {
            return;
        }
        if self.timers.expired(now).is_some() {
            self.timers.stop_all();
            self.push_status(&StatusLine::err(None, "autologout timer expired"));
            self.close(ConnectionError::Timeout);
        }
    }

    /// TLS is up after [`Event::StartTls`]: the session starts over in
    /// AUTHORIZATION with no user named (RFC 2595 §4). Then drain the
    /// outputs.
    pub fn handle_tls_established(&mut self, now: Instant) {
        if self.closed || !matches!(self.phase, Phase::WaitTls) {
            return;
        }
        self.tls = Some(TlsActive(()));
        self.phase = Phase::Authorization { user: None };
        self.framer.reset();
        self.inbuf.clear();
        self.timers
            .set(Timer::Autologout as usize, now + self.options.autologout);
    }

    // ----- outputs ------------------------------------------------------

    /// Appends what is to be sent to `buf`; returns how many octets, or
    /// `None` when there is nothing. Changed by every input and answer.
    #[must_use]
    pub fn poll_transmit(&mut self, _now: Instant, buf: &mut Vec<u8>) -> Option<usize> {
        mailwire_line::drain_into(&mut self.out, buf)
    }

    /// The next event. Answer decision events before polling for more
    /// input.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The next deadline (the autologout timer). Ask last: every input
    /// changes it.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.closed {
            None
        } else {
            self.timers.next()
        }
    }

    // ----- answers ------------------------------------------------------

    fn check_pending(&self, handle: Handle, fits: impl Fn(&Pending) -> bool) -> Result<(), Misuse> {
        if self.closed {
            return Err(Misuse::Closed);
        }
        match &self.pending {
            Some((h, p)) if *h == handle => {
                if fits(p) {
                    Ok(())
                } else {
                    Err(Misuse::Wrong)
                }
            }
            _ => Err(Misuse::Unknown),
        }
    }

    /// Ends the pending credential check with the application's answer,
    /// given that it fits (`fits`); then drains the outputs.
    fn answer_check<T>(
        &mut self,
        handle: Handle,
        value: T,
        fits: fn(&PendingCheck) -> bool,
        answer: impl FnOnce(PendingCheck, T) -> Verdict,
    ) -> Result<(), AnswerError<T>> {
        if let Err(m) = self.check_pending(
            handle,
            |p| matches!(p, Pending::Auth { check, .. } if fits(check)),
        ) {
            return Err(m.with(value));
        }
        let Some((
            _,
            Pending::Auth {
                check,
                username,
                authzid,
                method,
            },
        )) = self.pending.take()
        else {
            return Ok(());
        };
        match answer(check, value) {
            Verdict::Accepted => self.auth_succeeded(username, authzid, method),
            Verdict::Rejected => self.auth_failed(),
            Verdict::Step(sasl, step) => self.sasl_step(sasl, step),
        }
        self.process(self.last_now);
        Ok(())
    }

    /// Answers [`Event::Authenticate`] with the user's plaintext password,
    /// or `None` for an unknown user. The machine compares it in constant
    /// time (USER/PASS, PLAIN, LOGIN), checks the APOP digest, or runs
    /// CRAM-MD5. Not for SCRAM. Then drain the outputs.
    pub fn provide_password(
        &mut self,
        handle: Handle,
        password: Option<Secret<String>>,
    ) -> Result<(), AnswerError<Option<Secret<String>>>> {
        self.answer_check(
            handle,
            password,
            PendingCheck::takes_password,
            PendingCheck::with_password,
        )
    }

    /// Answers [`Event::Authenticate`] for [`AuthMethod::User`] and SASL
    /// `PLAIN`/`LOGIN` by letting `verify` check the password the client
    /// sent (e.g. against a stored hash). Then drain the outputs.
    pub fn check_password<F>(&mut self, handle: Handle, verify: F) -> Result<(), AnswerError<F>>
    where
        F: FnOnce(&Secret<String>) -> bool,
    {
        self.answer_check(
            handle,
            verify,
            PendingCheck::takes_verifier,
            PendingCheck::with_verifier,
        )
    }

    /// Answers [`Event::Authenticate`] for SASL `SCRAM-*` with the user's
    /// stored keys, or `None` for an unknown user. Then drain the outputs.
    pub fn provide_scram_credentials(
        &mut self,
        handle: Handle,
        credentials: Option<ScramCredentials>,
    ) -> Result<(), AnswerError<Option<ScramCredentials>>> {
        self.answer_check(
            handle,
            credentials,
            PendingCheck::takes_scram,
            PendingCheck::with_scram,
        )
    }

    /// Answers [`Event::OpenMaildrop`]: the maildrop is locked and these are
    /// its messages, numbered from 1 in this order for the whole session.
    /// The session enters TRANSACTION. Then drain the outputs.
    pub fn open_maildrop(
        &mut self,
        handle: Handle,
        listing: Vec<MaildropEntry>,
    ) -> Result<(), AnswerError<Vec<MaildropEntry>>> {
        if let Err(m) = self.check_pending(handle, |p| matches!(p, Pending::Open { .. })) {
            return Err(m.with(listing));
        }
        let Some((_, Pending::Open { username })) = self.pending.take() else {
            return Ok(());
        };
        let now = self.last_now;
        self.messages = listing
            .into_iter()
            .map(|e| Message {
                size: e.size,
                uid: e.uid,
                deleted: false,
            })
            .collect();
        let (count, size) = self.totals();
        let user: String = username
            .chars()
            .filter(|c| !c.is_control())
            .take(64)
            .collect();
        self.ok(&format!(
            "{user}'s maildrop has {count} messages ({size} octets)"
        ));
        self.phase = Phase::Transaction;
        self.process(now);
        Ok(())
    }

    /// Refuses a decision with a `-ERR` line: credentials
    /// ([`Event::Authenticate`], e.g. `[LOGIN-DELAY]`), the maildrop
    /// ([`Event::OpenMaildrop`], e.g. `[IN-USE]` or `[SYS/TEMP]`; the session
    /// stays in AUTHORIZATION), or a message before any content was sent
    /// ([`Event::Retrieve`]). The line must be `-ERR`. Then drain the outputs.
    pub fn refuse(
        &mut self,
        handle: Handle,
        reply: StatusLine<'static>,
    ) -> Result<(), AnswerError<StatusLine<'static>>> {
        if reply.is_ok() {
            return Err(AnswerError::WrongAnswer(reply));
        }
        if let Err(m) = self.check_pending(handle, |p| match p {
            Pending::Auth { .. } | Pending::Open { .. } => true,
            Pending::Content { started, .. } => !started,
            Pending::Update => false,
        }) {
            return Err(m.with(reply));
        }
        let now = self.last_now;
        if let Some((_, Pending::Auth { .. } | Pending::Open { .. })) = self.pending.take() {
            self.phase = Phase::Authorization { user: None };
        }
        self.push_status(&reply);
        self.process(now);
        Ok(())
    }

    /// Streams a piece of the message of [`Event::Retrieve`], as stored (any
    /// line ends; the machine writes CRLF and dot-stuffs). Returns `false`
    /// once no more is wanted (`TOP` has enough): call
    /// [`end_content`](Self::end_content) then. Drain `poll_transmit` after
    /// each call.
    pub fn send_content(&mut self, handle: Handle, chunk: &[u8]) -> Result<bool, AnswerError<()>> {
        self.check_pending(handle, |p| matches!(p, Pending::Content { .. }))
            .map_err(|m| m.with(()))?;
        let Some((
            _,
            Pending::Content {
                started,
                stuffer,
                top,
            },
        )) = self.pending.as_mut()
        else {
            return Ok(false);
        };
        if !*started {
            *started = true;
            self.out.extend_from_slice(b"+OK message follows\r\n");
        }
        let take = match top {
            Some(cut) => cut.take(chunk),
            None => chunk.len(),
        };
        stuffer.push(&chunk[..take], &mut self.out);
        Ok(!top.as_ref().is_some_and(TopCut::is_done))
    }

    /// Ends the message of [`Event::Retrieve`]: writes the terminating `.`
    /// and goes on with the next command. Then drain the outputs.
    pub fn end_content(&mut self, handle: Handle) -> Result<(), AnswerError<()>> {
        self.check_pending(handle, |p| matches!(p, Pending::Content { .. }))
            .map_err(|m| m.with(()))?;
        let Some((
            _,
            Pending::Content {
                started, stuffer, ..
            },
        )) = self.pending.take()
        else {
            return Ok(());
        };
        if !started {
            self.out.extend_from_slice(b"+OK message follows\r\n");
        }
        stuffer.finish(&mut self.out);
        let now = self.last_now;
        self.process(now);
        Ok(())
    }

    /// Answers [`Event::Update`]: `Ok(())` when every marked message was
    /// removed, or the `-ERR` line to send (RFC 1939 §6: "-ERR some deleted
    /// messages not removed"). The session then ends.
    pub fn finish_update(
        &mut self,
        handle: Handle,
        result: Result<(), StatusLine<'static>>,
    ) -> Result<(), AnswerError<Result<(), StatusLine<'static>>>> {
        if let Err(m) = self.check_pending(handle, |p| matches!(p, Pending::Update)) {
            return Err(m.with(result));
        }
        self.pending = None;
        match result {
            Ok(()) => self.ok("bye"),
            Err(line) if !line.is_ok() => self.push_status(&line),
            Err(_) => self.push_status(&StatusLine::err(
                Some(ResponseCode::SysTemp),
                "some deleted messages not removed",
            )),
        }
        self.close(ConnectionError::Quit);
        Ok(())
    }

    /// Ends the session from the application's side (e.g. shutdown); marked
    /// messages are not deleted.
    pub fn close_session(&mut self) {
        if !self.closed {
            self.close(ConnectionError::Local);
        }
    }

    // ----- internals ----------------------------------------------------

    fn handle(&mut self) -> Handle {
        let h = Handle(self.next_handle);
        self.next_handle += 1;
        h
    }

    fn close(&mut self, reason: ConnectionError) {
        self.closed = true;
        self.phase = Phase::Closed;
        self.pending = None;
        self.timers.stop_all();
        self.inbuf.clear();
        self.events.push_back(Event::Closed { reason });
    }

    fn ok(&mut self, text: &str) {
        self.push_status(&StatusLine::ok(text));
    }

    fn err(&mut self, code: Option<ResponseCode<'static>>, text: &str) {
        let code = if self.options.resp_codes { code } else { None };
        self.push_status(&StatusLine::err(code, text));
    }

    fn push_status(&mut self, line: &StatusLine<'_>) {
        line.encode(&mut self.out);
    }

    fn totals(&self) -> (u32, u64) {
        self.messages
            .iter()
            .filter(|m| !m.deleted)
            .fold((0u32, 0u64), |(c, s), m| {
                (c.saturating_add(1), s.saturating_add(m.size))
            })
    }

    fn plaintext_ok(&self) -> bool {
        self.tls.is_some() || self.options.allow_plaintext_auth
    }

    fn user_offered(&self) -> bool {
        self.options.user && self.plaintext_ok()
    }

    fn sasl_offered(&self) -> Vec<Mechanism> {
        self.options
            .sasl_mechanisms
            .iter()
            .copied()
            .filter(|m| !m.sends_secret_in_clear() || self.plaintext_ok())
            .collect()
    }

    /// The capabilities offered now (RFC 2449 §5: they may differ by state).
    pub fn capabilities(&self) -> Vec<Capability<'static>> {
        let mut c = Vec::new();
        let auth = matches!(self.phase, Phase::Authorization { .. } | Phase::AuthLine(_));
        if self.options.top {
            c.push(Capability::Top);
        }
        if self.options.uidl {
            c.push(Capability::Uidl);
        }
        if auth && self.user_offered() {
            c.push(Capability::User);
        }
        let mechs = self.sasl_offered();
        if auth && !mechs.is_empty() {
            c.push(Capability::Sasl(
                mechs
                    .iter()
                    .map(|m| Arg::unvalidated(m.name().as_bytes()))
                    .collect(),
            ));
        }
        if self.options.resp_codes {
            c.push(Capability::RespCodes);
            c.push(Capability::AuthRespCode);
        }
        if self.options.pipelining {
            c.push(Capability::Pipelining);
        }
        if let Some(secs) = self.options.login_delay {
            c.push(Capability::LoginDelay {
                secs,
                per_user: false,
            });
        }
        if let Some(expire) = self.options.expire {
            c.push(Capability::Expire {
                expire,
                per_user: false,
            });
        }
        if auth && self.options.stls && self.tls.is_none() {
            c.push(Capability::Stls);
        }
        if auth && self.options.utf8 {
            c.push(Capability::Utf8 { user: true });
        }
        if let Some(t) = self
            .options
            .implementation
            .as_deref()
            .and_then(|t| Text::try_from(t.as_bytes().to_vec()).ok())
        {
            c.push(Capability::Implementation(t));
        }
        c
    }

    fn bad_command(&mut self, text: &str) {
        self.bad_commands += 1;
        self.err(None, text);
        if self.bad_commands >= self.options.max_bad_commands {
            self.close(ConnectionError::TooManyBadCommands);
        }
    }

    fn auth_failed(&mut self) {
        self.phase = Phase::Authorization { user: None };
        self.err(Some(ResponseCode::Auth), "authentication failed");
    }

    fn auth_succeeded(&mut self, username: String, authzid: Option<String>, _method: AuthMethod) {
        let handle = self.handle();
        let username = authzid.unwrap_or(username);
        self.pending = Some((
            handle,
            Pending::Open {
                username: username.clone(),
            },
        ));
        self.events
            .push_back(Event::OpenMaildrop { handle, username });
    }

    fn sasl_step(&mut self, mut sasl: Box<mailwire_sasl::Server>, step: ServerStep) {
        let method = AuthMethod::Sasl(sasl.mechanism());
        match step {
            ServerStep::Challenge(c) => {
                encode_continuation(&c, &mut self.out);
                self.framer
                    .set_config(LineConfig::with_max_len(self.options.max_auth_line));
                self.phase = Phase::AuthLine(sasl);
                return;
            }
            ServerStep::NeedPassword { authcid, authzid }
            | ServerStep::NeedScramCredentials { authcid, authzid } => {
                let handle = self.handle();
                self.pending = Some((
                    handle,
                    Pending::Auth {
                        check: PendingCheck::Sasl(sasl),
                        username: authcid.clone(),
                        authzid: authzid.clone(),
                        method,
                    },
                ));
                self.events.push_back(Event::Authenticate {
                    handle,
                    username: authcid,
                    authzid,
                    method,
                });
            }
            ServerStep::Success {
                authcid, authzid, ..
            } => self.auth_succeeded(authcid, authzid, method),
            ServerStep::Failure(reason) => {
                self.phase = Phase::Authorization { user: None };
                if reason.is_client_error() || reason == mailwire_sasl::FailureReason::Cancelled {
                    self.err(None, "authentication cancelled or malformed");
                } else {
                    self.err(Some(ResponseCode::Auth), "authentication failed");
                }
            }
            // Token and EXTERNAL mechanisms are never offered by this
            // machine (no event to verify them): fail the exchange.
            _ => {
                let _ = sasl.cancel();
                self.auth_failed();
            }
        }
        self.framer
            .set_config(LineConfig::with_max_len(self.options.max_command_line));
        if matches!(self.phase, Phase::AuthLine(_)) {
            self.phase = Phase::Authorization { user: None };
        }
    }

    /// Reads commands from the buffer until a decision is pending, the
    /// buffer has no complete line, or the session ends.
    fn process(&mut self, now: Instant) {
        self.last_now = now;
        while !self.closed && self.pending.is_none() && !matches!(self.phase, Phase::WaitTls) {
            let Some(line) = self.framer.next_line(&mut self.inbuf) else {
                break;
            };
            self.timers
                .set(Timer::Autologout as usize, now + self.options.autologout);
            match line {
                Err(LineError::TooLong { .. }) => {
                    if matches!(self.phase, Phase::AuthLine(_)) {
                        self.phase = Phase::Authorization { user: None };
                        self.framer
                            .set_config(LineConfig::with_max_len(self.options.max_command_line));
                    }
                    self.bad_command("line too long");
                }
                Err(_) => self.bad_command("lines end with CRLF"),
                Ok(line) => {
                    let content = line.into_content();
                    if matches!(self.phase, Phase::AuthLine(_)) {
                        let Phase::AuthLine(mut sasl) =
                            std::mem::replace(&mut self.phase, Phase::Authorization { user: None })
                        else {
                            continue;
                        };
                        let step = sasl.step_line(&content);
                        self.framer
                            .set_config(LineConfig::with_max_len(self.options.max_command_line));
                        self.sasl_step(sasl, step);
                        continue;
                    }
                    match parse_command(&content) {
                        Ok(cmd) => self.command(cmd.into_owned()),
                        Err(CommandError::Unknown) => self.bad_command("unknown command"),
                        Err(CommandError::InvalidNumber) => self.err(None, "no such message"),
                        Err(_) => self.bad_command("syntax error"),
                    }
                }
            }
            if matches!(self.phase, Phase::WaitTls) && !self.inbuf.is_empty() {
                self.close(ConnectionError::PlaintextAfterStartTls);
            }
        }
    }

    fn message(&self, n: MsgNum) -> Option<(usize, &Message)> {
        let i = usize::try_from(n.get() - 1).ok()?;
        self.messages.get(i).filter(|m| !m.deleted).map(|m| (i, m))
    }

    fn command(&mut self, cmd: Command<'static>) {
        match (&mut self.phase, cmd) {
            (_, Command::Capa) => {
                self.ok("Capability list follows");
                for c in self.capabilities() {
                    c.encode(&mut self.out);
                }
                self.out.extend_from_slice(b".\r\n");
            }
            (Phase::Transaction, Command::Noop) => self.ok(""),
            (Phase::Authorization { .. }, Command::Quit) => {
                self.ok("bye");
                self.close(ConnectionError::Quit);
            }
            (Phase::Authorization { .. }, Command::Stls) => {
                if !self.options.stls || self.tls.is_some() {
                    self.err(None, "STLS not available");
                } else {
                    self.ok("Begin TLS negotiation");
                    self.phase = Phase::WaitTls;
                    self.events.push_back(Event::StartTls);
                }
            }
            (Phase::Authorization { user }, Command::User(name)) => {
                if !self.options.user {
                    self.err(None, "USER not supported");
                } else if self.tls.is_none() && !self.options.allow_plaintext_auth {
                    self.err(None, "use STLS first");
                } else {
                    match String::from_utf8(name.as_bytes().to_vec()) {
                        Ok(n) if n.is_ascii() || self.utf8 => {
                            *user = Some(n);
                            self.ok("send PASS");
                        }
                        _ => self.err(Some(ResponseCode::Utf8), "use UTF8 first"),
                    }
                }
            }
            (Phase::Authorization { user }, Command::Pass(pw)) => match user.take() {
                None => self.err(None, "USER first"),
                Some(username) => match String::from_utf8(pw.as_bytes().to_vec()) {
                    Ok(p) => {
                        let handle = self.handle();
                        self.pending = Some((
                            handle,
                            Pending::Auth {
                                check: PendingCheck::Password(Secret::new(p)),
                                username: username.clone(),
                                authzid: None,
                                method: AuthMethod::User,
                            },
                        ));
                        self.events.push_back(Event::Authenticate {
                            handle,
                            username,
                            authzid: None,
                            method: AuthMethod::User,
                        });
                    }
                    Err(_) => self.auth_failed(),
                },
            },
            (Phase::Authorization { .. }, Command::Apop { name, digest }) => {
                if !self.options.apop {
                    self.err(None, "APOP not supported");
                } else {
                    match String::from_utf8(name.as_bytes().to_vec()) {
                        Ok(username) => {
                            let handle = self.handle();
                            self.pending = Some((
                                handle,
                                Pending::Auth {
                                    check: PendingCheck::Apop {
                                        timestamp: self.timestamp.clone(),
                                        digest,
                                    },
                                    username: username.clone(),
                                    authzid: None,
                                    method: AuthMethod::Apop,
                                },
                            ));
                            self.events.push_back(Event::Authenticate {
                                handle,
                                username,
                                authzid: None,
                                method: AuthMethod::Apop,
                            });
                        }
                        Err(_) => self.auth_failed(),
                    }
                }
            }
            (
                Phase::Authorization { .. },
                Command::Auth {
                    mechanism,
                    initial_response,
                },
            ) => {
                let mech = Mechanism::from_name(mechanism.as_bytes())
                    .filter(|m| self.options.sasl_mechanisms.contains(m));
                match mech {
                    None => self.err(None, "unsupported mechanism"),
                    Some(m) if m.sends_secret_in_clear() && !self.plaintext_ok() => {
                        self.err(None, "use STLS first")
                    }
                    Some(m) => {
                        self.auth_attempts += 1;
                        let nonce = match m {
                            Mechanism::CramMd5 => format!(
                                "<{}.{}@{}>",
                                self.nonce, self.auth_attempts, self.options.hostname
                            ),
                            _ => format!("{}.{}", self.nonce, self.auth_attempts),
                        };
                        match mailwire_sasl::Server::new(m, &nonce, ServerOptions::default()) {
                            Ok(mut sasl) => {
                                let step =
                                    sasl.start_line(initial_response.as_ref().map(Arg::as_bytes));
                                self.sasl_step(Box::new(sasl), step);
                            }
                            Err(_) => {
                                self.err(Some(ResponseCode::SysTemp), "mechanism unavailable")
                            }
                        }
                    }
                }
            }
            (Phase::Authorization { .. }, Command::Utf8) => {
                if self.options.utf8 {
                    self.utf8 = true;
                    self.ok("UTF8 enabled");
                    self.events.push_back(Event::Utf8Enabled);
                } else {
                    self.bad_command("UTF8 not supported");
                }
            }
            (Phase::Transaction, Command::Stat) => {
                let (count, size) = self.totals();
                let mut t = Vec::new();
                DropListing { count, size }.encode(&mut t);
                self.ok_bytes(&t);
            }
            (Phase::Transaction, Command::List(Some(n))) => match self.message(n) {
                Some((_, m)) => {
                    let mut t = Vec::new();
                    ScanListing {
                        msg: n,
                        size: m.size,
                    }
                    .encode(&mut t);
                    self.ok_bytes(&t);
                }
                None => self.err(None, "no such message"),
            },
            (Phase::Transaction, Command::List(None)) => {
                let (count, size) = self.totals();
                self.ok(&format!("{count} messages ({size} octets)"));
                for (i, m) in self.messages.iter().enumerate() {
                    if !m.deleted {
                        let Some(msg) = u32::try_from(i + 1).ok().and_then(MsgNum::new) else {
                            break;
                        };
                        ScanListing { msg, size: m.size }.encode(&mut self.out);
                        self.out.extend_from_slice(b"\r\n");
                    }
                }
                self.out.extend_from_slice(b".\r\n");
            }
            (Phase::Transaction, Command::Uidl(_)) if !self.options.uidl => {
                self.bad_command("UIDL not supported")
            }
            (Phase::Transaction, Command::Uidl(Some(n))) => match self.message(n) {
                Some((_, m)) => {
                    let mut t = Vec::new();
                    UidListing {
                        msg: n,
                        uid: m.uid.clone(),
                    }
                    .encode(&mut t);
                    self.ok_bytes(&t);
                }
                None => self.err(None, "no such message"),
            },
            (Phase::Transaction, Command::Uidl(None)) => {
                self.ok("");
                for (i, m) in self.messages.iter().enumerate() {
                    if !m.deleted {
                        let Some(msg) = u32::try_from(i + 1).ok().and_then(MsgNum::new) else {
                            break;
                        };
                        let mut l = Vec::new();
                        UidListing {
                            msg,
                            uid: m.uid.clone(),
                        }
                        .encode(&mut l);
                        stuffed_line(&l, &mut self.out);
                    }
                }
                self.out.extend_from_slice(b".\r\n");
            }
            (Phase::Transaction, Command::Top { .. }) if !self.options.top => {
                self.bad_command("TOP not supported")
            }
            (Phase::Transaction, cmd @ (Command::Retr(_) | Command::Top { .. })) => {
                let (n, top) = match cmd {
                    Command::Top { msg, lines } => (msg, Some(lines)),
                    Command::Retr(msg) => (msg, None),
                    _ => return,
                };
                match self.message(n).map(|(i, m)| (i, m.uid.clone())) {
                    Some((index, uid)) => {
                        let handle = self.handle();
                        self.pending = Some((
                            handle,
                            Pending::Content {
                                started: false,
                                stuffer: Stuffer::new(),
                                top: top.map(TopCut::new),
                            },
                        ));
                        self.events.push_back(Event::Retrieve {
                            handle,
                            msg: n,
                            index,
                            uid,
                            top,
                        });
                    }
                    None => self.err(None, "no such message"),
                }
            }
            (Phase::Transaction, Command::Dele(n)) => match self.message(n).map(|(i, _)| i) {
                Some(i) => {
                    self.messages[i].deleted = true;
                    self.ok(&format!("message {n} deleted"));
                }
                None => self.err(None, "no such message"),
            },
            (Phase::Transaction, Command::Rset) => {
                for m in &mut self.messages {
                    m.deleted = false;
                }
                let (count, size) = self.totals();
                self.ok(&format!("maildrop has {count} messages ({size} octets)"));
            }
            (Phase::Transaction, Command::Quit) => {
                let deleted = self
                    .messages
                    .iter()
                    .enumerate()
                    .filter(|(_, m)| m.deleted)
                    .map(|(index, m)| Deleted {
                        index,
                        uid: m.uid.clone(),
                    })
                    .collect();
                let handle = self.handle();
                self.pending = Some((handle, Pending::Update));
                self.timers.stop_all();
                self.events.push_back(Event::Update { handle, deleted });
            }
            (_, Command::Lang(_)) => self.bad_command("LANG not supported"),
            (_, _) => self.err(None, "command not valid in this state"),
        }
    }

    fn ok_bytes(&mut self, text: &[u8]) {
        self.out.extend_from_slice(b"+OK ");
        self.out.extend_from_slice(text);
        self.out.extend_from_slice(b"\r\n");
    }
}

#[derive(Debug, Clone, Copy)]
enum Misuse {
    Unknown,
    Wrong,
    Closed,
}

impl Misuse {
    fn with<T>(self, v: T) -> AnswerError<T> {
        match self {
            Misuse::Unknown => AnswerError::UnknownHandle(v),
            Misuse::Wrong => AnswerError::WrongAnswer(v),
            Misuse::Closed => AnswerError::Closed(v),
        }
    }
}

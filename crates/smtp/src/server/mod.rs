//! The SMTP server state machine (RFC 5321 §4, §3.3 and the extensions).
//!
//! ```text
//!            handle_input(now, bytes)               poll_transmit(now, &mut out)
//! socket ──▶ ─────────────────────────▶ Server ──▶ ──────────────────────────────▶ socket
//!                                         │  ▲
//!                          poll_event()   ▼  │  accept / reply / auth_challenge
//!                                       application
//! ```
//!
//! # DATA, BDAT and STARTTLS
//!
//! ```text
//! C: DATA                  S: 354 ...           content streams out as Event::DataChunk,
//! C: ..leading dot\r\n                          unstuffed; only <CRLF>.<CRLF> ends it
//! C: .\r\n                 Event::DataEnd       the application answers 250 or 5xx
//! C: BDAT 86 LAST          exactly 86 octets follow, no unstuffing (RFC 3030)
//! C: STARTTLS              S: 220 ...           Event::StartTls; any byte before
//!                                               handle_tls_established ends the session
//! ```

mod event;

pub use event::{AbortReason, Event, ReplyHandle};

use std::borrow::Cow;
use std::collections::VecDeque;
use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use mailwire_line::{
    BareEol, DataEnd, LineConfig, LineError, LineFramer, Status, UnstuffConfig, Unstuffed,
    Unstuffer,
};
use mailwire_sasl::Secret;
use mailwire_sasl::framing::{ClientLine, decode_client_line, decode_initial_response};

use crate::error::ConnectionError;
use crate::parse::parse_command;
use crate::types::*;
use mailwire_line::timer::TimerTable;

/// Server configuration. Every default carries its reason.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Options {
    /// The name in the greeting and the EHLO reply. Default `localhost`: the
    /// application should set its FQDN (RFC 5321 §4.1.3).
    pub hostname: String,
    /// Offer PIPELINING (RFC 2920). Default true: replies are batched anyway.
    pub pipelining: bool,
    /// Offer 8BITMIME (RFC 6152). Default true: the content is passed through.
    pub eightbitmime: bool,
    /// Offer SMTPUTF8 (RFC 6531). Default true.
    pub smtputf8: bool,
    /// Offer DSN (RFC 3461). Default false: the application must generate
    /// DSNs to honour it.
    pub dsn: bool,
    /// Offer MT-PRIORITY (RFC 6710) and accept its MAIL parameter, which
    /// reaches the application in [`Event::Mail`]'s parameters. Default
    /// false: the application must honour (or lower) the priority.
    pub mt_priority: bool,
    /// The Priority Assignment Policy named after `MT-PRIORITY` in the
    /// EHLO reply (RFC 6710 §3); `None` names none. Default `None`.
    pub mt_priority_policy: Option<PriorityPolicy>,
    /// Offer REQUIRETLS (RFC 8689 §4.1) once the session is under TLS, and
    /// accept its MAIL parameter there (before TLS: 530 5.7.10). Default
    /// false: the application must then relay such a message only under
    /// the RFC's conditions (or bounce it), which [`Event::Mail`]'s
    /// parameters tell it to.
    pub requiretls: bool,
    /// Offer CHUNKING (RFC 3030). Default true.
    pub chunking: bool,
    /// Offer BINARYMIME (RFC 3030). Default false: needs a store that keeps
    /// binary content.
    pub binarymime: bool,
    /// Offer and use ENHANCEDSTATUSCODES (RFC 2034). Default true.
    pub enhanced_status_codes: bool,
    /// Offer STARTTLS (RFC 3207). Default false: only the driver knows
    /// whether it has a certificate.
    pub starttls: bool,
    /// The session is already under TLS (implicit TLS, RFC 8314). Default
    /// false.
    pub implicit_tls: bool,
    /// SASL mechanisms to offer (RFC 4954). Default none.
    pub auth_mechanisms: Vec<mailwire_sasl::Mechanism>,
    /// Allow mechanisms that send a password in the clear before TLS.
    /// Default false: they are answered 538 (RFC 4954 §4) and not offered.
    pub allow_plaintext_auth: bool,
    /// Refuse MAIL before AUTH (530, RFC 4954 §6). Default false.
    pub auth_required: bool,
    /// Largest message accepted, announced as SIZE (RFC 1870). Default
    /// 10 240 000 octets, Postfix's `message_size_limit`.
    pub max_message_size: u64,
    /// Recipients accepted per transaction before 452 (RFC 5321 §4.5.3.1.8
    /// and §4.5.3.1.10). Default 100, the RFC's minimum; values below 100
    /// are raised to 100.
    pub max_recipients: usize,
    /// Mail transactions (MAIL commands that get as far as the
    /// application) taken in one session; the next MAIL is answered 421
    /// 4.7.0 and the session ends, so the client goes on in a new one.
    /// Default `None`, no limit (Exim's `smtp_accept_max_per_connection`
    /// is 1000); `Some(0)` is taken as 1.
    pub max_transactions: Option<usize>,
    /// Announce LIMITS (RFC 9422) in the EHLO reply: RCPTMAX is
    /// `max_recipients`, MAILMAX `max_transactions` when set, so a client
    /// splits its recipients and sessions instead of meeting 452 and 421.
    /// Default true.
    pub limits: bool,
    /// Bad commands before 421 and close. Default 20, Postfix's
    /// `smtpd_hard_error_limit`.
    pub max_bad_commands: u32,
    /// Longest command line, CRLF included (500 beyond). Default 2048: RFC
    /// 5321 §4.5.3.1.4's 512 plus room for the MAIL parameters of the
    /// extensions (RFC 1870 §3 and others add to it).
    pub max_command_line: usize,
    /// Longest SASL response line (RFC 4954 §4: 12288 octets).
    pub max_auth_line: usize,
    /// What bare CR/LF inside DATA means. Default reject (550): the SMTP
    /// smuggling defence (CVE-2023-51764).
    pub bare_eol: BareEol,
    /// Waiting for a command (RFC 5321 §4.5.3.2.7: at least 5 minutes).
    pub command_timeout: Duration,
    /// Waiting for the next piece of DATA/BDAT content (RFC 5321 §4.5.3.2.7
    /// applies as well: 5 minutes).
    pub data_timeout: Duration,
    /// Most input held while the application decides: `wants_read` goes
    /// false at this size, and input fed after that ends the session
    /// (`InputOverflow`). Default 1 MiB.
    pub max_buffered: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            hostname: "localhost".to_owned(),
            pipelining: true,
            eightbitmime: true,
            smtputf8: true,
            dsn: false,
            mt_priority: false,
            mt_priority_policy: None,
            requiretls: false,
            chunking: true,
            binarymime: false,
            enhanced_status_codes: true,
            starttls: false,
            implicit_tls: false,
            auth_mechanisms: Vec::new(),
            allow_plaintext_auth: false,
            auth_required: false,
            max_message_size: 10_240_000,
            max_recipients: 100,
            max_transactions: None,
            limits: true,
            max_bad_commands: 20,
            max_command_line: 2048,
            max_auth_line: 12288,
            bare_eol: BareEol::Reject,
            command_timeout: Duration::from_secs(300),
            data_timeout: Duration::from_secs(300),
            max_buffered: 1 << 20,
        }
    }
}

/// A wrong call: the value is handed back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReplyError<T> {
    /// The handle is not the one the machine waits on (already answered, or
    /// never issued).
    #[error("no decision pending for this handle")]
    UnknownHandle(T),
    /// The reply does not fit the decision (e.g. a 3xx to MAIL).
    #[error("reply code does not fit this decision")]
    WrongCode(T),
    /// The connection is closed.
    #[error("connection closed")]
    Closed(T),
}

impl<T> ReplyError<T> {
    /// The value that was not used.
    pub fn into_inner(self) -> T {
        match self {
            ReplyError::UnknownHandle(t) | ReplyError::WrongCode(t) | ReplyError::Closed(t) => t,
        }
    }
}

/// Proof that TLS is in place: only `handle_tls_established` (or the
/// implicit-TLS option) creates it.
#[derive(Debug, Clone, Copy)]
struct TlsActive(());

/// Proof of a successful AUTH: only a 2xx answer to an AUTH decision creates it.
#[derive(Debug, Clone, Copy)]
struct Authenticated(());

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Timer {
    Command = 0,
    Data = 1,
}

/// What the machine reads next.
#[derive(Debug)]
enum Phase {
    /// Command lines.
    Command,
    /// Dot-stuffed DATA content.
    Data(Unstuffer),
    /// BDAT content: octets left; LAST; whether they are being dropped.
    Bdat {
        left: u64,
        last: bool,
        discard: Option<Reply<'static>>,
    },
    /// A SASL response line.
    AuthLine(mailwire_sasl::Mechanism),
    /// After the 220 to STARTTLS, until `handle_tls_established`.
    WaitTls,
    /// Over.
    Closed,
}

/// What decision the machine waits for.
#[derive(Debug)]
enum Pending {
    Mail(MailParams<'static>),
    Rcpt,
    DataEnd,
    Auth(mailwire_sasl::Mechanism),
}

#[derive(Debug, Default)]
struct Transaction {
    params: MailParams<'static>,
    /// Recipients accepted.
    rcpts: usize,
    /// Content octets so far (BDAT).
    size: u64,
    /// BDAT used in this transaction (DATA is then refused, RFC 3030 §2).
    chunked: bool,
}

/// The SMTP server state machine. No I/O, no clock.
///
/// Method groups (STYLE.md (a)):
/// - getters: [`is_closed`](Self::is_closed), [`wants_read`](Self::wants_read);
/// - inputs: [`handle_input`](Self::handle_input), [`handle_eof`](Self::handle_eof),
///   [`handle_timeout`](Self::handle_timeout), [`handle_tls_established`](Self::handle_tls_established);
/// - application commands: [`accept`](Self::accept), [`reply`](Self::reply),
///   [`auth_challenge`](Self::auth_challenge), [`auth_success`](Self::auth_success),
///   [`shutdown`](Self::shutdown);
/// - outputs: [`poll_transmit`](Self::poll_transmit), [`poll_event`](Self::poll_event),
///   [`poll_timeout`](Self::poll_timeout).
///
/// **Driver contract:** after any `handle_*` call or application command,
/// drain `poll_transmit`, then `poll_event`, then ask `poll_timeout`; go
/// round again when an event led to a command.
///
/// ```
/// use std::time::Instant;
/// use mailwire_smtp::server::{Event, Options, Server};
///
/// let now = Instant::now();
/// let mut server = Server::new(Options::default(), now);
/// let mut out = Vec::new();
/// while server.poll_transmit(now, &mut out).is_some() {}
/// assert!(out.starts_with(b"220 localhost"));
/// server.handle_input(now, b"EHLO client.example\r\nMAIL FROM:<a@b.example>\r\n");
/// out.clear();
/// while server.poll_transmit(now, &mut out).is_some() {}
/// assert!(out.starts_with(b"250-localhost"));
/// assert!(matches!(server.poll_event(), Some(Event::Hello { .. })));
/// let Some(Event::Mail { handle, .. }) = server.poll_event() else { panic!() };
/// server.accept(handle).unwrap();
/// out.clear();
/// while server.poll_transmit(now, &mut out).is_some() {}
/// assert_eq!(out, b"250 2.1.0 OK\r\n");
/// ```
#[derive(Debug)]
pub struct Server {
    opts: Options,
    buf: BytesMut,
    framer: LineFramer,
    out: Vec<u8>,
    events: VecDeque<Event>,
    timers: TimerTable<2>,
    now: Instant,
    phase: Phase,
    pending: Option<(ReplyHandle, Pending)>,
    next_handle: u64,
    helo: Option<(Host<'static>, bool)>,
    tx: Option<Transaction>,
    tls: Option<TlsActive>,
    auth: Option<Authenticated>,
    bad_commands: u32,
    /// MAIL commands handed to the application in this session.
    transactions: usize,
    /// The last command line was too long: its tail was dropped.
    rejecting_greeting: bool,
}

impl Server {
    /// A server that greets with `220 <hostname> ESMTP` (RFC 5321 §3.1).
    pub fn new(options: Options, now: Instant) -> Server {
        let mut s = Server::build(options, now);
        let text = format!("{} ESMTP mailwire", s.opts.hostname);
        s.send_raw(220, None, &text);
        s
    }

    /// A server that refuses the session (RFC 5321 §3.1): it greets with
    /// `554` and answers every command but QUIT with 503.
    pub fn new_rejecting(options: Options, now: Instant) -> Server {
        let mut s = Server::build(options, now);
        let text = format!("{} no SMTP service here", s.opts.hostname);
        s.send_raw(554, None, &text);
        s.rejecting_greeting = true;
        s
    }

    fn build(mut options: Options, now: Instant) -> Server {
        options.max_recipients = options.max_recipients.max(100);
        options.max_transactions = options.max_transactions.map(|m| m.max(1));
        let mut timers = TimerTable::new();
        timers.set(Timer::Command as usize, now + options.command_timeout);
        let tls = options.implicit_tls.then_some(TlsActive(()));
        let framer = LineFramer::new(LineConfig::with_max_len(options.max_command_line));
        Server {
            opts: options,
            buf: BytesMut::with_capacity(4096),
            framer,
            out: Vec::with_capacity(512),
            events: VecDeque::new(),
            timers,
            now,
            phase: Phase::Command,
            pending: None,
            next_handle: 0,
            helo: None,
            tx: None,
            tls,
            auth: None,
            bad_commands: 0,
            transactions: 0,
            rejecting_greeting: false,
        }
    }

    // ---- getters ----

    /// True after [`Event::Closed`] was queued.
    pub fn is_closed(&self) -> bool {
        matches!(self.phase, Phase::Closed)
    }

    /// False while undrained events or input held for a pending decision
    /// exceed their caps: the driver should stop reading (backpressure).
    pub fn wants_read(&self) -> bool {
        !self.is_closed() && self.events.len() < 1024 && self.buf.len() < self.opts.max_buffered
    }

    /// True under TLS (after `handle_tls_established`, or implicit TLS).
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// True after a successful AUTH.
    pub fn is_authenticated(&self) -> bool {
        self.auth.is_some()
    }

    // ---- inputs ----

    /// Bytes from the client, split anywhere. Then drain `poll_transmit`,
    /// `poll_event`, `poll_timeout`.
    pub fn handle_input(&mut self, now: Instant, data: &[u8]) {
        self.now = now;
        if self.is_closed() || data.is_empty() {
            return;
        }
        if matches!(self.phase, Phase::WaitTls) {
            // CVE-2011-0411: nothing sent in plaintext after STARTTLS is acted on.
            self.close(ConnectionError::PlaintextAfterStartTls);
            return;
        }
        // Input left over waits for a decision of the application (content
        // is streamed out as it comes). A driver that keeps reading although
        // `wants_read` went false ends the session: memory stays bounded by
        // `max_buffered` plus one read.
        if self.buf.len() >= self.opts.max_buffered {
            self.send_raw(421, Some((4, 3, 2)), "Too much pipelined input");
            self.close(ConnectionError::InputOverflow);
            return;
        }
        self.buf.extend_from_slice(data);
        self.process();
    }

    /// The client closed its side. Then drain the outputs.
    pub fn handle_eof(&mut self, now: Instant) {
        self.now = now;
        if self.is_closed() {
            return;
        }
        if self.tx.is_some() {
            self.tx = None;
            self.events.push_back(Event::MessageAborted {
                reason: AbortReason::Reset,
            });
        }
        self.close(ConnectionError::Eof);
    }

    /// Fires expired timers: a 421 (RFC 5321 §4.5.3.2.7) and close. Early or
    /// repeated calls do nothing. Then drain the outputs.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.now = now;
        if self.is_closed() {
            return;
        }
        if let Some(i) = self.timers.expired(now) {
            let what = if i == Timer::Command as usize {
                "waiting for a command"
            } else {
                "waiting for data"
            };
            self.send_raw(
                421,
                Some((4, 4, 2)),
                &format!("{} Error: timeout exceeded", self.opts.hostname),
            );
            if self.tx.is_some() {
                self.tx = None;
                self.events.push_back(Event::MessageAborted {
                    reason: AbortReason::Reset,
                });
            }
            self.close(ConnectionError::Timeout(what));
        }
    }

    /// TLS is now in place under the machine (after [`Event::StartTls`]).
    /// The session restarts as RFC 3207 §4.2 requires: the client must say
    /// EHLO again. Then drain the outputs.
    pub fn handle_tls_established(&mut self, now: Instant) {
        self.now = now;
        if !matches!(self.phase, Phase::WaitTls) {
            return;
        }
        self.tls = Some(TlsActive(()));
        self.helo = None;
        self.tx = None;
        self.auth = None;
        self.buf.clear();
        self.framer.reset();
        self.phase = Phase::Command;
        self.timers
            .set(Timer::Command as usize, now + self.opts.command_timeout);
    }

    // ---- application commands ----

    /// Answers a decision with its standard positive reply: `250 2.1.0` to
    /// MAIL, `250 2.1.5` to RCPT, `250 2.0.0` to the end of data, `235 2.7.0`
    /// to AUTH.
    pub fn accept(&mut self, handle: ReplyHandle) -> Result<(), ReplyError<ReplyHandle>> {
        // Constant replies: nothing to format or allocate per transaction.
        let reply = match &self.pending {
            Some((h, p)) if *h == handle => match p {
                Pending::Mail(_) => self.fixed(250, (2, 1, 0), b"250 2.1.0 OK\r\n", b"250 OK\r\n"),
                Pending::Rcpt => self.fixed(250, (2, 1, 5), b"250 2.1.5 OK\r\n", b"250 OK\r\n"),
                Pending::DataEnd => self.fixed(
                    250,
                    (2, 0, 0),
                    b"250 2.0.0 OK: message accepted\r\n",
                    b"250 OK: message accepted\r\n",
                ),
                Pending::Auth(_) => self.fixed(
                    235,
                    (2, 7, 0),
                    b"235 2.7.0 Authentication successful\r\n",
                    b"235 Authentication successful\r\n",
                ),
            },
            _ if self.is_closed() => return Err(ReplyError::Closed(handle)),
            _ => return Err(ReplyError::UnknownHandle(handle)),
        };
        self.reply(handle, reply).map_err(|e| match e {
            ReplyError::UnknownHandle(_) => ReplyError::UnknownHandle(handle),
            ReplyError::WrongCode(_) => ReplyError::WrongCode(handle),
            ReplyError::Closed(_) => ReplyError::Closed(handle),
        })
    }

    /// Answers a decision with `reply`. A 2xx opens the transaction (MAIL),
    /// adds the recipient (RCPT), or completes AUTH; anything else refuses.
    /// 1xx and 3xx replies are refused here (use
    /// [`auth_challenge`](Self::auth_challenge) for 334).
    pub fn reply(
        &mut self,
        handle: ReplyHandle,
        reply: Reply<'static>,
    ) -> Result<(), ReplyError<Reply<'static>>> {
        if self.is_closed() {
            return Err(ReplyError::Closed(reply));
        }
        match &self.pending {
            Some((h, _)) if *h == handle => {}
            _ => return Err(ReplyError::UnknownHandle(reply)),
        }
        if reply.code().is_intermediate() {
            return Err(ReplyError::WrongCode(reply));
        }
        let Some((_, pending)) = self.pending.take() else {
            return Err(ReplyError::UnknownHandle(reply));
        };
        let ok = reply.code().is_positive();
        reply.encode(&mut self.out);
        match pending {
            Pending::Mail(params) => {
                if ok {
                    self.tx = Some(Transaction {
                        params,
                        ..Transaction::default()
                    });
                }
            }
            Pending::Rcpt => {
                if ok && let Some(tx) = &mut self.tx {
                    tx.rcpts += 1;
                }
            }
            Pending::DataEnd => {
                self.tx = None;
            }
            Pending::Auth(_) => {
                self.phase = Phase::Command;
                if ok {
                    self.auth = Some(Authenticated(()));
                }
            }
        }
        if reply.code().get() == 421 {
            self.close(ConnectionError::Local);
            return Ok(());
        }
        self.process();
        Ok(())
    }

    /// Answers an AUTH decision with a `334` challenge (RFC 4954 §4); the
    /// client's answer comes as [`Event::AuthResponse`].
    pub fn auth_challenge(
        &mut self,
        handle: ReplyHandle,
        challenge: &[u8],
    ) -> Result<(), ReplyError<ReplyHandle>> {
        let mech = match &self.pending {
            Some((h, Pending::Auth(m))) if *h == handle => *m,
            Some((h, _)) if *h == handle => return Err(ReplyError::WrongCode(handle)),
            _ if self.is_closed() => return Err(ReplyError::Closed(handle)),
            _ => return Err(ReplyError::UnknownHandle(handle)),
        };
        self.pending = None;
        self.out.extend_from_slice(b"334 ");
        self.out
            .extend_from_slice(mailwire_sasl::framing::encode(challenge).as_bytes());
        self.out.extend_from_slice(b"\r\n");
        self.phase = Phase::AuthLine(mech);
        self.framer
            .set_config(LineConfig::with_max_len(self.opts.max_auth_line));
        self.process();
        Ok(())
    }

    /// Answers an AUTH decision with `235 2.7.0` (RFC 4954 §6).
    pub fn auth_success(&mut self, handle: ReplyHandle) -> Result<(), ReplyError<ReplyHandle>> {
        match &self.pending {
            Some((h, Pending::Auth(_))) if *h == handle => self.accept(handle),
            Some((h, _)) if *h == handle => Err(ReplyError::WrongCode(handle)),
            _ if self.is_closed() => Err(ReplyError::Closed(handle)),
            _ => Err(ReplyError::UnknownHandle(handle)),
        }
    }

    /// Ends the session with `421 4.3.2` (RFC 5321 §3.8), e.g. at shutdown.
    pub fn shutdown(&mut self) {
        if self.is_closed() {
            return;
        }
        let text = format!("{} Service shutting down", self.opts.hostname);
        self.send_raw(421, Some((4, 3, 2)), &text);
        self.close(ConnectionError::Local);
    }

    // ---- outputs ----

    /// Appends queued reply bytes to `buf`; `None` when there is nothing to
    /// send. Invalidated by every input and application command. Pipelined
    /// replies come out batched in one call (RFC 2920 §3.2).
    #[must_use]
    pub fn poll_transmit(&mut self, _now: Instant, buf: &mut Vec<u8>) -> Option<usize> {
        mailwire_line::drain_into(&mut self.out, buf)
    }

    /// The next event; `None` when drained.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The next deadline, if any: call `handle_timeout` then. Ask last: every
    /// input and application command may change it.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next()
    }

    // ---- internals ----

    /// The enhanced code to send with a reply, if they are offered.
    fn enhanced(&self, enh: (u8, u16, u16)) -> Option<EnhancedCode> {
        if self.opts.enhanced_status_codes {
            EnhancedCode::new(enh.0, enh.1, enh.2).ok()
        } else {
            None
        }
    }

    fn mk(&self, code: u16, enh: (u8, u16, u16), text: &str) -> Reply<'static> {
        // Codes and texts are our own constants; fall back to a bare line if
        // one ever failed validation.
        match ReplyCode::new(code).and_then(|c| Reply::new(c, self.enhanced(enh), &[text])) {
            Ok(r) => r,
            Err(_) => Reply::internal_error(),
        }
    }

    /// A constant reply: `with` when enhanced codes are offered (it must
    /// read `code enh ...`), `without` otherwise.
    fn fixed(
        &self,
        code: u16,
        enh: (u8, u16, u16),
        with: &'static [u8],
        without: &'static [u8],
    ) -> Reply<'static> {
        let Ok(c) = ReplyCode::new(code) else {
            return Reply::internal_error();
        };
        match self.enhanced(enh) {
            Some(e) => Reply::from_static(c, Some(e), with),
            None => Reply::from_static(c, None, without),
        }
    }

    /// Appends one reply line to the output, with no allocation.
    fn send_line(&mut self, code: u16, enh: Option<EnhancedCode>, text: &str) {
        let ok = ReplyCode::new(code)
            .and_then(|c| encode_reply_line(&mut self.out, c, enh, text, true))
            .is_ok();
        if !ok {
            Reply::internal_error().encode(&mut self.out);
        }
    }

    fn send_raw(&mut self, code: u16, enh: Option<(u8, u16, u16)>, text: &str) {
        let enh = enh.and_then(|e| self.enhanced(e));
        self.send_line(code, enh, text);
    }

    fn send(&mut self, code: u16, enh: (u8, u16, u16), text: &str) {
        let enh = self.enhanced(enh);
        self.send_line(code, enh, text);
    }

    fn close(&mut self, reason: ConnectionError) {
        if self.is_closed() {
            return;
        }
        self.phase = Phase::Closed;
        self.pending = None;
        self.timers.stop_all();
        self.buf.clear();
        self.events.push_back(Event::Closed { reason });
    }

    fn handle(&mut self) -> ReplyHandle {
        self.next_handle += 1;
        ReplyHandle(self.next_handle)
    }

    fn decide(&mut self, p: Pending) -> ReplyHandle {
        let h = self.handle();
        self.pending = Some((h, p));
        h
    }

    /// A bad command: counts towards the limit (RFC 5321 §4.3.2 allows 421).
    fn bad(&mut self, code: u16, enh: (u8, u16, u16), text: &str) {
        self.bad_commands += 1;
        if self.bad_commands >= self.opts.max_bad_commands {
            let t = format!("{} Error: too many errors", self.opts.hostname);
            self.send(421, (4, 7, 0), &t);
            self.close(ConnectionError::TooManyBadCommands);
        } else {
            self.send(code, enh, text);
        }
    }

    fn abort_tx(&mut self) {
        if self.tx.take().is_some() {
            self.events.push_back(Event::MessageAborted {
                reason: AbortReason::Reset,
            });
        }
    }

    /// Consumes buffered input until it runs out, a decision is pending, or
    /// the session waits for TLS or is closed.
    fn process(&mut self) {
        loop {
            if self.pending.is_some() {
                // The client waits on us, not the other way round.
                self.timers.stop_all();
                return;
            }
            match &mut self.phase {
                Phase::Closed => return,
                Phase::WaitTls => {
                    if !self.buf.is_empty() {
                        self.close(ConnectionError::PlaintextAfterStartTls);
                    }
                    return;
                }
                Phase::Data(unstuffer) => match unstuffer.next_chunk(&mut self.buf) {
                    Status::Partial => {
                        self.wait(Timer::Data);
                        return;
                    }
                    Status::Complete(Unstuffed::Data(chunk)) => {
                        self.events.push_back(Event::DataChunk(chunk))
                    }
                    Status::Complete(Unstuffed::End(end)) => {
                        let consumed = unstuffer.consumed();
                        self.framer.skipped(consumed);
                        self.phase = Phase::Command;
                        self.data_end(end);
                    }
                },
                Phase::Bdat {
                    left,
                    last,
                    discard,
                } => {
                    if *left > 0 {
                        if self.buf.is_empty() {
                            self.wait(Timer::Data);
                            return;
                        }
                        let n = (*left).min(self.buf.len() as u64) as usize;
                        let chunk = self.buf.split_to(n).freeze();
                        *left -= n as u64;
                        self.framer.skipped(n as u64);
                        if discard.is_none() {
                            self.events.push_back(Event::DataChunk(chunk));
                        }
                        continue;
                    }
                    let last = *last;
                    let discard = discard.take();
                    self.phase = Phase::Command;
                    self.bdat_end(last, discard);
                }
                Phase::AuthLine(mech) => {
                    let mech = *mech;
                    match self.framer.next_line(&mut self.buf) {
                        None => {
                            self.wait(Timer::Command);
                            return;
                        }
                        Some(line) => {
                            self.framer
                                .set_config(LineConfig::with_max_len(self.opts.max_command_line));
                            self.phase = Phase::Command;
                            match line {
                                Err(_) => self.bad(500, (5, 5, 6), "Authentication line too long"),
                                Ok(line) => match decode_client_line(line.content()) {
                                    Ok(ClientLine::Cancel) => {
                                        self.send(501, (5, 0, 0), "Authentication cancelled");
                                        self.events.push_back(Event::AuthCancelled);
                                    }
                                    Ok(ClientLine::Response(r)) => {
                                        let handle = self.decide(Pending::Auth(mech));
                                        self.events.push_back(Event::AuthResponse {
                                            handle,
                                            response: Secret::new(r),
                                        });
                                    }
                                    Err(_) => self.bad(501, (5, 5, 2), "Invalid base64 data"),
                                },
                            }
                        }
                    }
                }
                Phase::Command => match self.framer.next_line(&mut self.buf) {
                    None => {
                        self.wait(Timer::Command);
                        return;
                    }
                    Some(Err(LineError::TooLong { .. })) => {
                        self.bad(500, (5, 5, 2), "Line too long")
                    }
                    Some(Err(_)) => self.bad(500, (5, 5, 2), "Bare LF not allowed in commands"),
                    Some(Ok(line)) => self.command(line.content()),
                },
            }
        }
    }

    fn wait(&mut self, t: Timer) {
        let (set, clear, d) = match t {
            Timer::Command => (Timer::Command, Timer::Data, self.opts.command_timeout),
            Timer::Data => (Timer::Data, Timer::Command, self.opts.data_timeout),
        };
        self.timers.stop(clear as usize);
        // Restart the wait at the latest input.
        self.timers.set(set as usize, self.now + d);
    }

    fn data_end(&mut self, end: DataEnd) {
        match end {
            DataEnd::Accepted { size } => {
                let handle = self.decide(Pending::DataEnd);
                self.events.push_back(Event::DataEnd { handle, size });
            }
            DataEnd::TooLarge { .. } => {
                self.tx = None;
                self.send(552, (5, 3, 4), "Message size exceeds fixed limit");
                self.events.push_back(Event::MessageAborted {
                    reason: AbortReason::TooLarge,
                });
            }
            _ => {
                self.tx = None;
                self.send(
                    550,
                    (5, 6, 0),
                    "Bare CR or LF in message content not allowed",
                );
                self.events.push_back(Event::MessageAborted {
                    reason: AbortReason::BareLineEnding,
                });
            }
        }
    }

    fn bdat_end(&mut self, last: bool, discard: Option<Reply<'static>>) {
        if let Some(r) = discard {
            r.encode(&mut self.out);
            return;
        }
        let Some(tx) = &mut self.tx else { return };
        if last {
            let size = tx.size;
            let handle = self.decide(Pending::DataEnd);
            self.events.push_back(Event::DataEnd { handle, size });
        } else {
            let size = tx.size;
            self.send(250, (2, 0, 0), &format!("{size} octets received"));
        }
    }

    /// The LIMITS line of the EHLO reply (RFC 9422), when announced.
    fn limits_line(&self) -> Vec<Extension<'static>> {
        if !self.opts.limits {
            return Vec::new();
        }
        let n = |v: usize| NonZeroU32::new(u32::try_from(v).unwrap_or(u32::MAX));
        let limits = Limits::new(
            self.opts.max_transactions.and_then(n),
            n(self.opts.max_recipients),
            None,
        );
        vec![Extension {
            keyword: Cow::Borrowed("LIMITS"),
            params: Cow::Owned(limits.to_string()),
        }]
    }

    fn ehlo_reply(&self, domain: &Host<'_>, extended: bool) -> Reply<'static> {
        let mut lines = vec![format!("{} greets {}", self.opts.hostname, domain)];
        if extended {
            let caps = Capabilities {
                pipelining: self.opts.pipelining,
                eightbitmime: self.opts.eightbitmime,
                smtputf8: self.opts.smtputf8,
                starttls: self.opts.starttls && self.tls.is_none(),
                dsn: self.opts.dsn,
                mt_priority: self.opts.mt_priority,
                requiretls: self.opts.requiretls && self.tls.is_some(),
                mt_priority_policy: self
                    .opts
                    .mt_priority_policy
                    .filter(|_| self.opts.mt_priority)
                    .map(|p| Cow::Borrowed(p.as_str())),
                enhanced_status_codes: self.opts.enhanced_status_codes,
                chunking: self.opts.chunking,
                binarymime: self.opts.binarymime && self.opts.chunking,
                size: Some(self.opts.max_message_size),
                other: self.limits_line(),
                ..Capabilities::default()
            };
            lines.extend(caps.to_lines());
            // AUTH in the configured order (the capability set keeps none).
            if self.auth.is_none() {
                let mut auth = String::new();
                for m in self.opts.auth_mechanisms.iter() {
                    if self.mech_allowed(*m) {
                        auth.push_str(if auth.is_empty() { "AUTH " } else { " " });
                        auth.push_str(m.name());
                    }
                }
                if !auth.is_empty() {
                    lines.push(auth);
                }
            }
            lines.push("HELP".to_owned());
        }
        // The hostname comes from the application; the other lines are ours.
        ReplyCode::new(250)
            .and_then(|c| Reply::new(c, None, &lines))
            .unwrap_or_else(|_| self.mk(250, (2, 0, 0), "OK"))
    }

    fn mech_allowed(&self, m: mailwire_sasl::Mechanism) -> bool {
        !m.sends_secret_in_clear() || self.tls.is_some() || self.opts.allow_plaintext_auth
    }

    fn command(&mut self, line: &[u8]) {
        let cmd = match parse_command(line) {
            Ok(c) => c,
            Err(e) => {
                // A command that is only wrong in its arguments is still a
                // transaction command: keep the transaction.
                let (code, enh) = e.reply_code();
                let text = match e {
                    crate::ParseError::UnknownCommand => "Error: command not recognized",
                    crate::ParseError::PathTooLong => "Error: address too long",
                    crate::ParseError::BadPath => "Error: bad address syntax",
                    _ => "Error: syntax error in parameters or arguments",
                };
                self.bad(code, enh, text);
                return;
            }
        };
        if self.rejecting_greeting {
            match cmd {
                Command::Quit => self.quit(),
                _ => self.bad(503, (5, 5, 1), "Error: no SMTP service here"),
            }
            return;
        }
        match cmd {
            Command::Quit => self.quit(),
            Command::Noop(_) => self.send(250, (2, 0, 0), "OK"),
            Command::Help(_) => self.send(214, (2, 0, 0), "See RFC 5321"),
            Command::Vrfy(_) | Command::Expn(_) => self.send(
                252,
                (2, 5, 2),
                "Cannot VRFY user, but will accept message and attempt delivery",
            ),
            Command::Rset => {
                self.abort_tx();
                self.send(250, (2, 0, 0), "OK");
            }
            Command::Helo(domain) | Command::Ehlo(domain) => {
                let extended = line.len() >= 4 && line[..4].eq_ignore_ascii_case(b"EHLO");
                self.abort_tx();
                let reply = self.ehlo_reply(&domain, extended);
                reply.encode(&mut self.out);
                let domain = domain.into_owned();
                self.helo = Some((domain.clone(), extended));
                self.events.push_back(Event::Hello { domain, extended });
            }
            Command::StartTls => {
                if !self.opts.starttls {
                    self.bad(502, (5, 5, 1), "Error: command not implemented");
                } else if self.tls.is_some() {
                    self.bad(503, (5, 5, 1), "Error: TLS already active");
                } else if self.helo.is_none() {
                    self.bad(503, (5, 5, 1), "Error: send EHLO first");
                } else if self.tx.is_some() {
                    self.bad(503, (5, 5, 1), "Error: MAIL transaction in progress");
                } else {
                    self.send(220, (2, 0, 0), "Ready to start TLS");
                    self.phase = Phase::WaitTls;
                    self.timers.stop_all();
                    if self.buf.is_empty() {
                        self.events.push_back(Event::StartTls);
                    } else {
                        // Pipelined plaintext after STARTTLS (CVE-2011-0411).
                        self.close(ConnectionError::PlaintextAfterStartTls);
                    }
                }
            }
            Command::Auth(mech, ir) => self.auth_cmd(mech, ir),
            Command::Mail(from, params) => self.mail(from, params),
            Command::Rcpt(to, params) => self.rcpt(to, params),
            Command::Data => self.data(),
            Command::Bdat { size, last } => self.bdat(size, last),
        }
    }

    fn quit(&mut self) {
        let t = format!(
            "{} Service closing transmission channel",
            self.opts.hostname
        );
        self.send(221, (2, 0, 0), &t);
        self.abort_tx();
        self.close(ConnectionError::Quit);
    }

    fn auth_cmd(&mut self, mech: Mechanism<'_>, ir: Option<InitialResponse<'_>>) {
        if self.opts.auth_mechanisms.is_empty() {
            return self.bad(502, (5, 5, 1), "Error: authentication not enabled");
        }
        if self.helo.is_none() {
            return self.bad(503, (5, 5, 1), "Error: send EHLO first");
        }
        if self.auth.is_some() {
            return self.bad(503, (5, 5, 1), "Error: already authenticated");
        }
        if self.tx.is_some() {
            return self.bad(503, (5, 5, 1), "Error: MAIL transaction in progress");
        }
        let Some(m) = mailwire_sasl::Mechanism::from_name(mech.as_str().as_bytes())
            .filter(|m| self.opts.auth_mechanisms.contains(m))
        else {
            return self.bad(504, (5, 5, 4), "Error: unrecognized authentication type");
        };
        if !self.mech_allowed(m) {
            return self.bad(
                538,
                (5, 7, 11),
                "Encryption required for requested authentication mechanism",
            );
        }
        let initial_response = match ir {
            None => None,
            Some(ir) => match decode_initial_response(ir.expose().as_bytes()) {
                Ok(v) => Some(Secret::new(v)),
                Err(_) => return self.bad(501, (5, 5, 2), "Invalid base64 data"),
            },
        };
        let handle = self.decide(Pending::Auth(m));
        self.events.push_back(Event::AuthStart {
            handle,
            mechanism: m,
            initial_response,
        });
    }

    fn mail(&mut self, from: ReversePath<'_>, params: MailParams<'_>) {
        if self.helo.is_none() {
            return self.bad(503, (5, 5, 1), "Error: send HELO/EHLO first");
        }
        if self.tx.is_some() {
            return self.bad(503, (5, 5, 1), "Error: nested MAIL command");
        }
        if self.opts.auth_required && self.auth.is_none() {
            return self.send(530, (5, 7, 0), "Authentication required");
        }
        let extended = self.helo.as_ref().is_some_and(|h| h.1);
        let o = &self.opts;
        let unsupported = !params.other.is_empty()
            || (!extended && params != MailParams::default())
            || (params.smtputf8 && !o.smtputf8)
            || (params.body == Some(BodyType::EightBitMime) && !o.eightbitmime)
            || (params.body == Some(BodyType::BinaryMime) && !(o.binarymime && o.chunking))
            || ((params.ret.is_some() || params.envid.is_some()) && !o.dsn)
            || (params.auth.is_some() && o.auth_mechanisms.is_empty())
            || (params.requiretls && !o.requiretls)
            || (params.mt_priority.is_some() && !o.mt_priority)
            || params.by.is_some();
        if unsupported {
            return self.send(
                555,
                (5, 5, 4),
                "Error: MAIL parameters not recognized or not implemented",
            );
        }
        if params.requiretls && self.tls.is_none() {
            // RFC 8689 §4.1: REQUIRETLS only over TLS.
            return self.send(530, (5, 7, 10), "REQUIRETLS needs a TLS session");
        }
        if params.size.is_some_and(|s| s > self.opts.max_message_size) {
            return self.send(
                552,
                (5, 3, 4),
                "Message size exceeds fixed maximum message size",
            );
        }
        if !from.is_ascii() && !params.smtputf8 {
            return self.send(553, (5, 6, 7), "Non-ASCII address requires SMTPUTF8");
        }
        if self
            .opts
            .max_transactions
            .is_some_and(|max| self.transactions >= max)
        {
            // The MAILMAX announced (RFC 9422): the client goes on in a
            // new session.
            let t = format!(
                "{} Error: too many transactions in one session",
                self.opts.hostname
            );
            self.send(421, (4, 7, 0), &t);
            return self.close(ConnectionError::TooManyTransactions);
        }
        self.transactions += 1;
        let handle = self.decide(Pending::Mail(params.clone().into_owned()));
        self.events.push_back(Event::Mail {
            handle,
            from: from.into_owned(),
            params: params.into_owned(),
        });
    }

    fn rcpt(&mut self, to: ForwardPath<'_>, params: RcptParams<'_>) {
        let Some(tx) = &self.tx else {
            return self.bad(503, (5, 5, 1), "Error: need MAIL command");
        };
        if !params.other.is_empty()
            || ((params.notify.is_some() || params.orcpt.is_some()) && !self.opts.dsn)
        {
            return self.send(
                555,
                (5, 5, 4),
                "Error: RCPT parameters not recognized or not implemented",
            );
        }
        if tx.rcpts >= self.opts.max_recipients {
            return self.send(452, (4, 5, 3), "Error: too many recipients");
        }
        if !to.is_ascii() && !tx.params.smtputf8 {
            return self.send(553, (5, 6, 7), "Non-ASCII address requires SMTPUTF8");
        }
        let handle = self.decide(Pending::Rcpt);
        self.events.push_back(Event::Rcpt {
            handle,
            to: to.into_owned(),
            params: params.into_owned(),
        });
    }

    fn data(&mut self) {
        let Some(tx) = &self.tx else {
            return self.bad(503, (5, 5, 1), "Error: need MAIL command");
        };
        if tx.chunked || tx.params.body == Some(BodyType::BinaryMime) {
            return self.bad(
                503,
                (5, 5, 1),
                "Error: DATA not allowed with BDAT or BINARYMIME",
            );
        }
        if tx.rcpts == 0 {
            return self.send(554, (5, 5, 1), "Error: no valid recipients");
        }
        self.send(354, (0, 0, 0), "End data with <CR><LF>.<CR><LF>");
        let cfg =
            UnstuffConfig::with_max_size(self.opts.max_message_size).bare_eol(self.opts.bare_eol);
        self.phase = Phase::Data(Unstuffer::new(cfg));
        self.events.push_back(Event::DataStart { chunked: false });
    }

    fn bdat(&mut self, size: u64, last: bool) {
        // RFC 3030 §2: the chunk is read (and dropped) whatever the answer.
        let discard = if !self.opts.chunking {
            Some(self.mk(502, (5, 5, 1), "Error: command not implemented"))
        } else {
            match &self.tx {
                None => Some(self.mk(503, (5, 5, 1), "Error: need MAIL command")),
                Some(tx) if tx.rcpts == 0 => {
                    Some(self.mk(554, (5, 5, 1), "Error: no valid recipients"))
                }
                Some(_) => None,
            }
        };
        if let Some(r) = discard {
            self.bad_commands += 1;
            if self.bad_commands >= self.opts.max_bad_commands {
                let t = format!("{} Error: too many errors", self.opts.hostname);
                self.send(421, (4, 7, 0), &t);
                self.close(ConnectionError::TooManyBadCommands);
                return;
            }
            self.phase = Phase::Bdat {
                left: size,
                last,
                discard: Some(r),
            };
            return;
        }
        let max = self.opts.max_message_size;
        let Some(tx) = &mut self.tx else { return };
        let first = !tx.chunked;
        tx.chunked = true;
        tx.size = tx.size.saturating_add(size);
        let too_large = tx.size > max;
        if first {
            self.events.push_back(Event::DataStart { chunked: true });
        }
        if too_large {
            // The transaction fails; later chunks meet "need MAIL".
            self.tx = None;
            let r = self.mk(552, (5, 3, 4), "Message size exceeds fixed limit");
            self.events.push_back(Event::MessageAborted {
                reason: AbortReason::TooLarge,
            });
            self.phase = Phase::Bdat {
                left: size,
                last,
                discard: Some(r),
            };
            return;
        }
        self.phase = Phase::Bdat {
            left: size,
            last,
            discard: None,
        };
    }
}

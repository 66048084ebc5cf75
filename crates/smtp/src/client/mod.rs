//! The SMTP client state machine (RFC 5321 §3, §4 and the extensions).
//!
//! ```text
//! application ── send_mail(envelope, message) ──▶ Client ── poll_transmit ──▶ socket
//!             ◀── Event::MailSent (per recipient) ──    ◀── handle_input ───
//! ```
//!
//! The session runs by itself: greeting, EHLO (HELO if EHLO is refused),
//! STARTTLS when configured, AUTH when credentials are given, then
//! [`Event::Ready`]. Each message becomes one transaction: MAIL, RCPT for
//! each recipient, then DATA (dot-stuffed while it streams out) or BDAT
//! chunks when CHUNKING is offered. With PIPELINING the whole group goes out
//! at once (RFC 2920 §3.1); without it each command waits for its reply.
//!
//! A message too large to hold goes in pieces: [`Client::start_mail`],
//! then [`Client::push_body`] while [`Client::wants_body`] is true, then
//! [`Client::end_body`]. The machine holds at most
//! [`Options::body_buffer`] of it; BDAT chunks are built from the pushed
//! [`Bytes`] without copying ([`Client::poll_transmit_bytes`]), and the
//! bytes on the wire do not depend on how the body was cut.
//!
//! ```text
//! application ── start_mail ─ push_body… (while wants_body) ─ end_body ──▶ Client
//! ```
//!
//! ```text
//! C: MAIL FROM:<a@x> SIZE=1234 BODY=8BITMIME     (pipelined)
//! C: RCPT TO:<b@y>
//! C: RCPT TO:<c@z>
//! C: BDAT 1234 LAST
//! C: <1234 octets>
//! S: 250 / 550 / 250 / 250                        one result per recipient
//! ```

mod body;
mod event;

pub use event::{Event, MailError, MailHandle, Outcome, RecipientResult};

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use mailwire_line::Stuffer;
use mailwire_sasl::{Credentials, Mechanism as SaslMechanism};

use crate::error::ConnectionError;
use crate::parse::{Status, parse_reply, reply_frame};
use crate::types::*;
use body::{Body, Canon};
use mailwire_line::timer::TimerTable;

/// When to use STARTTLS (RFC 3207).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TlsMode {
    /// Never.
    Disabled,
    /// When the server offers it.
    Opportunistic,
    /// Always: the session fails when the server does not offer it.
    Required,
}

/// Client configuration. Every default carries its reason.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Options {
    /// The name in EHLO/HELO. Default `localhost`; set the client's FQDN
    /// (RFC 5321 §4.1.4). A `Host` cannot hold CR, LF or NUL.
    pub helo_domain: Host<'static>,
    /// STARTTLS policy. Default [`TlsMode::Disabled`]: only the driver knows
    /// whether it can run a handshake; submission should use `Required`.
    pub starttls: TlsMode,
    /// The session already runs under TLS (RFC 8314). Default false.
    pub implicit_tls: bool,
    /// AUTH credentials (RFC 4954). Default none.
    pub credentials: Option<Credentials>,
    /// The SCRAM client nonce (the crate has no RNG). Default empty, which
    /// keeps SCRAM out of the choice.
    pub sasl_nonce: String,
    /// Mechanisms the client may use, in any order; the best one both
    /// sides have wins ([`mailwire_sasl::choose`]). Default all but EXTERNAL.
    pub mechanisms: Vec<SaslMechanism>,
    /// Allow PLAIN/LOGIN/bearer tokens without TLS. Default false: a
    /// password never crosses the network in the clear.
    pub allow_plaintext_auth: bool,
    /// Use PIPELINING when offered (RFC 2920). Default true.
    pub pipelining: bool,
    /// Use BDAT when CHUNKING is offered (RFC 3030). Default true.
    pub chunking: bool,
    /// Largest BDAT chunk. Default 1 MiB. Content pushed in smaller
    /// pieces is gathered (not copied) into chunks of this size, so the
    /// commands on the wire do not depend on how the body was pushed.
    pub bdat_chunk_size: usize,
    /// How much of a streamed body ([`Client::start_mail`]) the machine
    /// holds before [`Client::wants_body`] says stop. Default 1 MiB; at
    /// least `bdat_chunk_size` is always allowed.
    pub body_buffer: usize,
    /// Longest reply line accepted. Default 4096: RFC 5321 §4.5.3.1.5 says
    /// 512, and real servers exceed it.
    pub max_reply_line: usize,
    /// Most lines in one reply. Default 256.
    pub max_reply_lines: usize,
    /// RFC 5321 §4.5.3.2.1: initial 220, 5 minutes.
    pub greeting_timeout: Duration,
    /// RFC 5321 §4.5.3.2.2/3 (MAIL, RCPT) and the other commands: 5 minutes.
    pub command_timeout: Duration,
    /// RFC 5321 §4.5.3.2.4: DATA initiation, 2 minutes.
    pub data_init_timeout: Duration,
    /// RFC 5321 §4.5.3.2.5: data block, 3 minutes (each BDAT reply).
    pub data_block_timeout: Duration,
    /// RFC 5321 §4.5.3.2.6: DATA termination, 10 minutes.
    pub data_end_timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            // "localhost" is a valid Domain.
            helo_domain: Host::unvalidated("localhost"),
            starttls: TlsMode::Disabled,
            implicit_tls: false,
            credentials: None,
            sasl_nonce: String::new(),
            mechanisms: SaslMechanism::PREFERENCE
                .into_iter()
                .filter(|m| *m != SaslMechanism::External)
                .collect(),
            allow_plaintext_auth: false,
            pipelining: true,
            chunking: true,
            bdat_chunk_size: 1 << 20,
            body_buffer: 1 << 20,
            max_reply_line: 4096,
            max_reply_lines: 256,
            greeting_timeout: Duration::from_secs(300),
            command_timeout: Duration::from_secs(300),
            data_init_timeout: Duration::from_secs(120),
            data_block_timeout: Duration::from_secs(180),
            data_end_timeout: Duration::from_secs(600),
        }
    }
}

/// The envelope of one message (RFC 5321 §2.3.1): reverse path, recipients
/// and their parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// `MAIL FROM`.
    pub from: ReversePath<'static>,
    /// MAIL parameters beyond those the client sets itself (SIZE, BODY,
    /// SMTPUTF8 are filled in): RET, ENVID, AUTH, ...
    pub params: MailParams<'static>,
    /// `RCPT TO` with the parameters of each (NOTIFY, ORCPT).
    pub recipients: Vec<(ForwardPath<'static>, RcptParams<'static>)>,
}

impl Envelope {
    /// An envelope without parameters.
    pub fn new(
        from: ReversePath<'static>,
        to: impl IntoIterator<Item = Mailbox<'static>>,
    ) -> Envelope {
        Envelope {
            from,
            params: MailParams::default(),
            recipients: to
                .into_iter()
                .map(|m| (ForwardPath::Mailbox(m), RcptParams::default()))
                .collect(),
        }
    }
}

/// A wrong call: the value is handed back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SendError<T> {
    /// The connection is closed or closing (QUIT was asked for).
    #[error("connection closed")]
    Closed(T),
    /// The envelope has no recipient.
    #[error("no recipients")]
    NoRecipients(T),
    /// Another message's body is still being pushed: end it first.
    #[error("another message's body is still open")]
    BodyOpen(T),
    /// No message body is open for pushing (none was started, or it was
    /// ended, or its transaction is already over).
    #[error("no message body is open")]
    NoOpenBody(T),
}

impl<T> SendError<T> {
    /// The value that was not used.
    pub fn into_inner(self) -> T {
        match self {
            SendError::Closed(t)
            | SendError::NoRecipients(t)
            | SendError::BodyOpen(t)
            | SendError::NoOpenBody(t) => t,
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Timer {
    Reply = 0,
}

/// Why a reply is awaited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Greeting,
    Ehlo,
    Helo,
    StartTls,
    Auth,
    AuthCancel,
    Mail,
    Rcpt(usize),
    Data,
    DataEnd,
    Bdat {
        last: bool,
    },
    Rset,
    /// RSET or NOOP asked for by the application.
    Aux(Aux),
    Quit,
}

/// A command the application asks for between transactions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Aux {
    Noop,
    Rset,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Greeting,
    Hello,
    StartTls,
    WaitTls,
    Auth,
    Ready,
    Closed,
}

/// A message waiting or in flight.
#[derive(Debug)]
struct Tx {
    handle: MailHandle,
    env: Envelope,
    /// The size to declare (SIZE, RFC 1870), when known.
    size: Option<u64>,
    /// The content has octets above 127.
    eight_bit: bool,
    body: Body,
    outcome: Outcome,
    mail_sent: bool,
    /// Next RCPT to send (without pipelining).
    next_rcpt: usize,
    /// The recipients sent: all of them, or as many first ones as the
    /// server's RCPTMAX and RCPTDOMAINMAX allow (RFC 9422); the others
    /// stay unanswered.
    rcpt_end: usize,
    accepted: usize,
    /// Every command of the transaction is out (DATA, or the last BDAT),
    /// or it was cut short.
    sent_all: bool,
    /// BDAT: canonical content ready to go, and its length.
    ready: VecDeque<Bytes>,
    ready_len: usize,
    canon: Canon,
    /// BDAT content sent before MAIL and every RCPT were answered.
    sent_early: usize,
    /// The application aborted it ([`Client::rset`]).
    aborted: bool,
    done: bool,
    /// Replies still due for this transaction.
    due: usize,
}

/// The SMTP client state machine. No I/O, no clock.
///
/// Method groups (STYLE.md (a)):
/// - getters: [`is_closed`](Self::is_closed), [`wants_read`](Self::wants_read),
///   [`capabilities`](Self::capabilities), [`wants_body`](Self::wants_body),
///   [`open_body`](Self::open_body);
/// - inputs: [`handle_input`](Self::handle_input), [`handle_eof`](Self::handle_eof),
///   [`handle_timeout`](Self::handle_timeout), [`handle_tls_established`](Self::handle_tls_established);
/// - application commands: [`send_mail`](Self::send_mail),
///   [`start_mail`](Self::start_mail), [`push_body`](Self::push_body),
///   [`end_body`](Self::end_body), [`rset`](Self::rset), [`noop`](Self::noop),
///   [`quit`](Self::quit);
/// - outputs: [`poll_transmit`](Self::poll_transmit) (or
///   [`poll_transmit_bytes`](Self::poll_transmit_bytes)),
///   [`poll_event`](Self::poll_event), [`poll_timeout`](Self::poll_timeout).
///
/// **Driver contract:** after any `handle_*` call or application command,
/// drain `poll_transmit`, then `poll_event`, then ask `poll_timeout`; go
/// round again when an event led to a command.
///
/// ```
/// use std::time::Instant;
/// use mailwire_smtp::client::{Client, Envelope, Event, Options};
/// use mailwire_smtp::{Mailbox, ReversePath};
///
/// let now = Instant::now();
/// let mut client = Client::new(Options::default(), now);
/// let env = Envelope::new(
///     ReversePath::Mailbox(Mailbox::try_from("a@example.org").unwrap().into_owned()),
///     [Mailbox::try_from("b@example.net").unwrap().into_owned()],
/// );
/// client.send_mail(env, "Subject: hi\r\n\r\nhello\r\n".into()).unwrap();
/// let mut out = Vec::new();
/// client.handle_input(now, b"220 mx.example.net ESMTP\r\n");
/// while client.poll_transmit(now, &mut out).is_some() {}
/// assert_eq!(out, b"EHLO localhost\r\n");
/// client.handle_input(now, b"250-mx.example.net\r\n250 PIPELINING\r\n");
/// out.clear();
/// while client.poll_transmit(now, &mut out).is_some() {}
/// assert_eq!(out, b"MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n");
/// ```
#[derive(Debug)]
pub struct Client {
    opts: Options,
    buf: BytesMut,
    /// Commands being written; goes out after `out_queue`.
    out: Vec<u8>,
    /// Pieces ready to go (commands and BDAT content, never copied).
    out_queue: VecDeque<Bytes>,
    /// Octets in `out_queue`.
    out_queued: usize,
    /// DATA content is streaming out (after 354) through this stuffer.
    body_out: Option<Stuffer>,
    /// The message whose body the application is still pushing.
    open: Option<MailHandle>,
    /// NOOP or RSET asked for by the application, sent between transactions.
    aux: VecDeque<Aux>,
    events: VecDeque<Event>,
    timers: TimerTable<1>,
    now: Instant,
    phase: Phase,
    expect: VecDeque<Expect>,
    caps: Option<Capabilities<'static>>,
    tls: bool,
    sasl: Option<mailwire_sasl::Client>,
    queue: VecDeque<Tx>,
    next_handle: u64,
    /// MAIL commands sent in the session (RFC 9422 MAILMAX counts them).
    transactions: usize,
    quit_requested: bool,
    quit_sent: bool,
    /// The reply timer must be (re)started at the next transmit.
    arm_on_transmit: bool,
}

impl Client {
    /// A client at the start of a connection, waiting for the greeting.
    pub fn new(options: Options, now: Instant) -> Client {
        let mut timers = TimerTable::new();
        timers.set(Timer::Reply as usize, now + options.greeting_timeout);
        let tls = options.implicit_tls;
        Client {
            opts: options,
            buf: BytesMut::with_capacity(1024),
            out: Vec::with_capacity(512),
            out_queue: VecDeque::new(),
            out_queued: 0,
            body_out: None,
            open: None,
            aux: VecDeque::new(),
            events: VecDeque::new(),
            timers,
            now,
            phase: Phase::Greeting,
            expect: VecDeque::from([Expect::Greeting]),
            caps: None,
            tls,
            sasl: None,
            queue: VecDeque::new(),
            next_handle: 0,
            transactions: 0,
            quit_requested: false,
            quit_sent: false,
            arm_on_transmit: false,
        }
    }

    // ---- getters ----

    /// True after [`Event::Closed`] was queued.
    pub fn is_closed(&self) -> bool {
        self.phase == Phase::Closed
    }

    /// False while undrained events or unparsed input exceed their caps.
    pub fn wants_read(&self) -> bool {
        !self.is_closed() && self.events.len() < 1024 && self.buf.len() < 1 << 20
    }

    /// What the server offered in its last EHLO reply (after TLS, the new
    /// one).
    pub fn capabilities(&self) -> Option<&Capabilities<'static>> {
        self.caps.as_ref()
    }

    /// True under TLS.
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// Messages handed in and not yet reported.
    pub fn pending_mail(&self) -> usize {
        self.queue.len()
    }

    // ---- inputs ----

    /// Bytes from the server, split anywhere. Then drain the outputs.
    pub fn handle_input(&mut self, now: Instant, data: &[u8]) {
        self.now = now;
        if self.is_closed() || data.is_empty() {
            return;
        }
        if self.phase == Phase::WaitTls {
            self.fail(ConnectionError::PlaintextAfterStartTls);
            return;
        }
        self.buf.extend_from_slice(data);
        loop {
            if self.is_closed() || self.phase == Phase::WaitTls {
                if self.phase == Phase::WaitTls && !self.buf.is_empty() {
                    self.fail(ConnectionError::PlaintextAfterStartTls);
                }
                return;
            }
            match reply_frame(
                &self.buf,
                self.opts.max_reply_line,
                self.opts.max_reply_lines,
            ) {
                Ok(Status::Partial) => return,
                Err(_) => return self.fail(ConnectionError::MalformedReply),
                Ok(Status::Complete(n)) => {
                    let unit = self.buf.split_to(n).freeze();
                    let reply = match parse_reply(&unit) {
                        Ok(r) => r.into_owned(),
                        Err(_) => return self.fail(ConnectionError::MalformedReply),
                    };
                    self.on_reply(reply);
                }
            }
        }
    }

    /// The server closed its side. Then drain the outputs.
    pub fn handle_eof(&mut self, now: Instant) {
        self.now = now;
        if self.is_closed() {
            return;
        }
        if self.quit_sent {
            self.finish(ConnectionError::Quit);
        } else {
            self.fail(ConnectionError::Eof);
        }
    }

    /// Fires the reply timer (RFC 5321 §4.5.3.2); early or repeated calls do
    /// nothing. Then drain the outputs.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.now = now;
        if self.is_closed() {
            return;
        }
        if self.timers.expired(now).is_some() {
            let what = match self.expect.front() {
                Some(Expect::Greeting) => "initial 220 message",
                Some(Expect::Mail) => "MAIL command",
                Some(Expect::Rcpt(_)) => "RCPT command",
                Some(Expect::Data) => "DATA initiation",
                Some(Expect::Bdat { .. }) => "data block",
                Some(Expect::DataEnd) => "DATA termination",
                _ => "server reply",
            };
            self.fail(ConnectionError::Timeout(what));
        }
    }

    /// TLS is now in place under the machine (after [`Event::StartTls`]):
    /// the client forgets what it knew and says EHLO again (RFC 3207 §4.2).
    pub fn handle_tls_established(&mut self, now: Instant) {
        self.now = now;
        if self.phase != Phase::WaitTls {
            return;
        }
        self.tls = true;
        self.caps = None;
        self.buf.clear();
        self.phase = Phase::Hello;
        self.command(Expect::Ehlo, &Command::Ehlo(self.opts.helo_domain.clone()));
    }

    // ---- application commands ----

    /// Hands a message to the machine. It goes out when the session is
    /// ready, after the ones before it; [`Event::MailSent`] reports each
    /// recipient's result. `message` is the RFC 5322 message as it should be
    /// delivered (Bcc already removed); SIZE, BODY=8BITMIME and SMTPUTF8 are
    /// set from its content and the envelope. For a message too large to
    /// hold in memory, use [`start_mail`](Self::start_mail).
    // The error hands the envelope and message back by value (STYLE.md
    // (a)); it is the cold path.
    #[allow(clippy::result_large_err)]
    pub fn send_mail(
        &mut self,
        envelope: Envelope,
        message: Bytes,
    ) -> Result<MailHandle, SendError<(Envelope, Bytes)>> {
        if self.is_closed() || self.quit_requested {
            return Err(SendError::Closed((envelope, message)));
        }
        if envelope.recipients.is_empty() {
            return Err(SendError::NoRecipients((envelope, message)));
        }
        let size = Some(message.len() as u64);
        let eight_bit = message.iter().any(|&b| b >= 0x80);
        let handle = self.enqueue(envelope, Body::whole(message), size, eight_bit);
        self.pump();
        Ok(handle)
    }

    /// Starts a message whose body the application pushes in chunks
    /// ([`push_body`](Self::push_body), then [`end_body`](Self::end_body)),
    /// so a message of any size needs only [`Options::body_buffer`] of
    /// memory. `size` is declared with SIZE (RFC 1870 §3) when the server
    /// offers it, and checked against its limit; declare BODY=8BITMIME in
    /// `envelope.params.body` when the content has octets above 127 (the
    /// machine cannot scan a body it has not seen yet).
    ///
    /// The body goes out dot-stuffed after DATA, or as BDAT chunks
    /// (RFC 3030) of [`Options::bdat_chunk_size`] made of the pushed
    /// [`Bytes`] themselves, without copying them (bare CR and LF are
    /// made CRLF unless BODY=BINARYMIME, which copies only the chunks that
    /// need it). One body is open at a time.
    // As send_mail: the envelope comes back by value.
    #[allow(clippy::result_large_err)]
    pub fn start_mail(
        &mut self,
        envelope: Envelope,
        size: Option<u64>,
    ) -> Result<MailHandle, SendError<Envelope>> {
        if self.is_closed() || self.quit_requested {
            return Err(SendError::Closed(envelope));
        }
        if self.open.is_some() {
            return Err(SendError::BodyOpen(envelope));
        }
        if envelope.recipients.is_empty() {
            return Err(SendError::NoRecipients(envelope));
        }
        let handle = self.enqueue(envelope, Body::default(), size, false);
        self.open = Some(handle);
        self.pump();
        Ok(handle)
    }

    /// Appends a chunk to the open body. Push while
    /// [`wants_body`](Self::wants_body) is true; chunks pushed after the
    /// transaction failed are dropped. The error hands the chunk back when
    /// no body is open (its [`Event::MailSent`] may already be out).
    pub fn push_body(&mut self, chunk: Bytes) -> Result<(), SendError<Bytes>> {
        let Some(tx) = self.open_tx() else {
            return Err(SendError::NoOpenBody(chunk));
        };
        tx.body.push(chunk);
        self.pump();
        Ok(())
    }

    /// Ends the open body: the message is complete.
    pub fn end_body(&mut self) -> Result<(), SendError<()>> {
        let Some(tx) = self.open_tx() else {
            return Err(SendError::NoOpenBody(()));
        };
        tx.body.ended = true;
        self.open = None;
        self.pump();
        Ok(())
    }

    /// True when the open body should get more: the machine holds less
    /// than [`Options::body_buffer`] of it (or of one BDAT chunk) and its
    /// transaction can still succeed. When false, drain `poll_transmit` and
    /// read the server until it turns true or [`Event::MailSent`] comes.
    pub fn wants_body(&self) -> bool {
        let Some(h) = self.open else {
            return false;
        };
        let Some(tx) = self.queue.iter().find(|t| t.handle == h) else {
            return false;
        };
        if tx.body.is_discarding() {
            return false;
        }
        let mut held = tx.body.len() + tx.ready_len;
        if self.queue.front().is_some_and(|f| f.handle == h) {
            held += self.out_queued;
        }
        held <= self.opts.body_buffer.max(self.opts.bdat_chunk_size)
    }

    /// The message whose body is open for [`push_body`](Self::push_body).
    pub fn open_body(&self) -> Option<MailHandle> {
        self.open
    }

    /// RSET (RFC 5321 §4.1.1.5). With a body open (for instance because
    /// its source failed), aborts that message so that no part of it is
    /// delivered: not yet started, it is dropped; in BDAT, no further
    /// chunk goes and RSET ends the transaction; [`Event::MailSent`]
    /// reports [`MailError::Aborted`]. After DATA the only way not to
    /// deliver a truncated message is to close the connection, which this
    /// does ([`ConnectionError::Local`]). Without an open body, RSET is
    /// sent between transactions and [`Event::Reset`] gives its reply.
    pub fn rset(&mut self) {
        if self.is_closed() {
            return;
        }
        let Some(h) = self.open.take() else {
            self.aux.push_back(Aux::Rset);
            return self.pump();
        };
        let Some(i) = self.queue.iter().position(|t| t.handle == h) else {
            return;
        };
        let tx = &mut self.queue[i];
        if !tx.mail_sent {
            if let Some(tx) = self.queue.remove(i) {
                self.events.push_back(Event::MailSent {
                    handle: tx.handle,
                    result: Err(MailError::Aborted),
                });
            }
            return self.pump();
        }
        if tx.body.is_discarding() {
            // Already failed: its MailSent reports why.
            return;
        }
        if tx.sent_all {
            // DATA is out: "." would deliver what was sent so far.
            return self.fail(ConnectionError::Local);
        }
        tx.aborted = true;
        tx.stop_sending();
        if tx.due == 0 {
            let mail_ok = tx.mail_ok();
            self.complete_front(mail_ok);
        }
    }

    /// NOOP (RFC 5321 §4.1.1.9), sent between transactions; its reply is
    /// [`Event::Noop`]. Checks that an idle connection is still usable.
    pub fn noop(&mut self) {
        if self.is_closed() {
            return;
        }
        self.aux.push_back(Aux::Noop);
        self.pump();
    }

    /// Ends the session with QUIT once every message handed in is done.
    pub fn quit(&mut self) {
        if self.is_closed() {
            return;
        }
        self.quit_requested = true;
        self.pump();
    }

    // ---- outputs ----

    /// Appends bytes to send to `buf`; `None` when there is nothing. A
    /// DATA body streams out in pieces of at most 64 KiB per call,
    /// dot-stuffed. `now` starts the reply timer. Invalidated by every
    /// input and application command.
    #[must_use]
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut Vec<u8>) -> Option<usize> {
        self.now = now;
        if let Some(b) = self.next_queued() {
            buf.extend_from_slice(&b);
            return Some(b.len());
        }
        if !self.out.is_empty() {
            let n = self.out.len();
            buf.extend_from_slice(&self.out);
            self.out.clear();
            self.arm();
            return Some(n);
        }
        self.stuff_next(buf)
    }

    /// As [`poll_transmit`](Self::poll_transmit), one piece at a time as
    /// [`Bytes`]: BDAT content comes out as the very chunks pushed (or
    /// slices of them), never copied, for drivers that write pieces
    /// (vectored writes, TLS records).
    #[must_use]
    pub fn poll_transmit_bytes(&mut self, now: Instant) -> Option<Bytes> {
        self.now = now;
        if let Some(b) = self.next_queued() {
            return Some(b);
        }
        if !self.out.is_empty() {
            let b = Bytes::from(std::mem::replace(&mut self.out, Vec::with_capacity(512)));
            self.arm();
            return Some(b);
        }
        let mut v = Vec::new();
        self.stuff_next(&mut v)?;
        Some(Bytes::from(v))
    }

    /// The next event; `None` when drained.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The next deadline: call `handle_timeout` then. Ask last.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next()
    }

    // ---- internals ----

    fn enqueue(
        &mut self,
        envelope: Envelope,
        body: Body,
        size: Option<u64>,
        eight_bit: bool,
    ) -> MailHandle {
        self.next_handle += 1;
        let handle = MailHandle(self.next_handle);
        let envelope_len = envelope.recipients.len();
        let recipients = envelope
            .recipients
            .iter()
            .map(|(to, _)| RecipientResult {
                to: to.clone(),
                reply: None,
                delivered: false,
            })
            .collect();
        self.queue.push_back(Tx {
            handle,
            env: envelope,
            size,
            eight_bit,
            body,
            outcome: Outcome {
                mail: None,
                recipients,
                data: None,
            },
            mail_sent: false,
            next_rcpt: 0,
            rcpt_end: envelope_len,
            accepted: 0,
            sent_all: false,
            ready: VecDeque::new(),
            ready_len: 0,
            canon: Canon::default(),
            sent_early: 0,
            aborted: false,
            done: false,
            due: 0,
        });
        handle
    }

    fn open_tx(&mut self) -> Option<&mut Tx> {
        let h = self.open?;
        let tx = self.queue.iter_mut().find(|t| t.handle == h);
        if tx.is_none() {
            self.open = None;
        }
        tx
    }

    /// The next queued piece (commands before BDAT content, BDAT content).
    fn next_queued(&mut self) -> Option<Bytes> {
        let b = self.out_queue.pop_front()?;
        self.out_queued -= b.len();
        if self.out_queue.is_empty() && self.out.is_empty() {
            self.arm();
        }
        Some(b)
    }

    /// The next piece of DATA content, dot-stuffed, and the terminator
    /// once the body is complete.
    fn stuff_next(&mut self, buf: &mut Vec<u8>) -> Option<usize> {
        let stuffer = self.body_out.as_mut()?;
        let tx = self.queue.front_mut()?;
        let start = buf.len();
        if let Some(piece) = tx.body.pop(65536) {
            stuffer.push(&piece, buf);
        }
        if tx.body.is_drained() {
            let st = *stuffer;
            st.finish(buf);
            self.body_out = None;
            self.arm();
        }
        let n = buf.len() - start;
        (n > 0).then_some(n)
    }

    fn arm(&mut self) {
        if self.arm_on_transmit && self.body_out.is_none() {
            self.arm_on_transmit = false;
            self.restart_timer();
        }
    }

    fn timeout_for(&self, e: Expect) -> Duration {
        match e {
            Expect::Greeting => self.opts.greeting_timeout,
            Expect::Data => self.opts.data_init_timeout,
            Expect::DataEnd | Expect::Bdat { last: true } => self.opts.data_end_timeout,
            Expect::Bdat { last: false } => self.opts.data_block_timeout,
            _ => self.opts.command_timeout,
        }
    }

    fn restart_timer(&mut self) {
        match self.expect.front() {
            Some(e) => {
                let d = self.timeout_for(*e);
                self.timers.set(Timer::Reply as usize, self.now + d);
            }
            None => self.timers.stop(Timer::Reply as usize),
        }
    }

    fn command(&mut self, e: Expect, cmd: &Command<'_>) {
        cmd.encode(&mut self.out);
        self.expect.push_back(e);
        self.arm_on_transmit = true;
    }

    fn fail(&mut self, reason: ConnectionError) {
        if self.is_closed() {
            return;
        }
        while let Some(tx) = self.queue.pop_front() {
            self.events.push_back(Event::MailSent {
                handle: tx.handle,
                result: Err(MailError::ConnectionLost(reason.clone())),
            });
        }
        self.finish(reason);
    }

    fn finish(&mut self, reason: ConnectionError) {
        self.phase = Phase::Closed;
        self.timers.stop_all();
        self.body_out = None;
        self.out_queue.clear();
        self.out_queued = 0;
        self.open = None;
        self.aux.clear();
        self.expect.clear();
        self.buf.clear();
        self.events.push_back(Event::Closed { reason });
    }

    /// Sends QUIT and closes at once (for fatal protocol outcomes).
    fn quit_and_fail(&mut self, reason: ConnectionError) {
        Command::Quit.encode(&mut self.out);
        self.fail(reason);
    }

    fn on_reply(&mut self, reply: Reply<'static>) {
        let Some(expect) = self.expect.pop_front() else {
            return self.fail(ConnectionError::UnexpectedReply(reply.code().get()));
        };
        self.restart_timer();
        let code = reply.code();
        // RFC 5321 §3.8: 421 at any time closes the session.
        if code.get() == 421 && expect != Expect::Quit {
            return self.fail(ConnectionError::ServiceUnavailable(421, reply.text()));
        }
        match expect {
            Expect::Greeting => {
                if code.get() != 220 {
                    return self.quit_and_fail(ConnectionError::ServiceUnavailable(
                        code.get(),
                        reply.text(),
                    ));
                }
                self.events.push_back(Event::Greeting(reply));
                self.phase = Phase::Hello;
                self.command(Expect::Ehlo, &Command::Ehlo(self.opts.helo_domain.clone()));
            }
            Expect::Ehlo => {
                if code.is_positive() {
                    self.caps = Some(Capabilities::from_ehlo(&reply).into_owned());
                    self.after_hello();
                } else if code.is_permanent() {
                    // RFC 5321 §4.1.1.1: fall back to HELO.
                    self.command(Expect::Helo, &Command::Helo(self.opts.helo_domain.clone()));
                } else {
                    self.quit_and_fail(ConnectionError::HelloRejected(code.get(), reply.text()));
                }
            }
            Expect::Helo => {
                if code.is_positive() {
                    self.caps = Some(Capabilities {
                        domain: reply.text().into(),
                        ..Capabilities::default()
                    });
                    self.after_hello();
                } else {
                    self.quit_and_fail(ConnectionError::HelloRejected(code.get(), reply.text()));
                }
            }
            Expect::StartTls => {
                if code.get() == 220 {
                    if !self.buf.is_empty() {
                        // CVE-2021-38371: bytes that came with the 220 were
                        // injected before TLS.
                        return self.fail(ConnectionError::PlaintextAfterStartTls);
                    }
                    self.phase = Phase::WaitTls;
                    self.timers.stop_all();
                    self.events.push_back(Event::StartTls);
                } else if self.opts.starttls == TlsMode::Required {
                    self.quit_and_fail(ConnectionError::TlsUnavailable);
                } else {
                    self.after_tls();
                }
            }
            Expect::Auth => self.on_auth_reply(reply),
            Expect::AuthCancel => self.quit_and_fail(ConnectionError::AuthFailed(reply.text())),
            Expect::Aux(a) => {
                self.events.push_back(match a {
                    Aux::Noop => Event::Noop(reply),
                    Aux::Rset => Event::Reset(reply),
                });
                self.pump();
            }
            Expect::Rset | Expect::Quit => {
                if expect == Expect::Quit {
                    return self.finish(ConnectionError::Quit);
                }
                self.pump();
            }
            Expect::Mail
            | Expect::Rcpt(_)
            | Expect::Data
            | Expect::DataEnd
            | Expect::Bdat { .. } => self.on_tx_reply(expect, reply),
        }
    }

    fn after_hello(&mut self) {
        let offers_tls = self.caps.as_ref().is_some_and(|c| c.starttls);
        if !self.tls && self.opts.starttls != TlsMode::Disabled {
            if offers_tls {
                self.phase = Phase::StartTls;
                return self.command(Expect::StartTls, &Command::StartTls);
            }
            if self.opts.starttls == TlsMode::Required {
                return self.quit_and_fail(ConnectionError::TlsUnavailable);
            }
        }
        self.after_tls();
    }

    fn after_tls(&mut self) {
        let Some(creds) = self.opts.credentials.clone() else {
            return self.ready();
        };
        let offered: Vec<&str> = self
            .caps
            .as_ref()
            .map(|c| c.auth.names().collect())
            .unwrap_or_default();
        let usable: Vec<SaslMechanism> = creds
            .mechanisms()
            .into_iter()
            .filter(|m| self.opts.mechanisms.contains(m))
            .filter(|m| self.tls || self.opts.allow_plaintext_auth || !m.sends_secret_in_clear())
            .filter(|m| {
                !matches!(m, SaslMechanism::ScramSha1 | SaslMechanism::ScramSha256)
                    || !self.opts.sasl_nonce.is_empty()
            })
            .collect();
        let Some(mech) = mailwire_sasl::choose(&offered, &usable) else {
            return self.quit_and_fail(ConnectionError::AuthFailed(
                "no usable mechanism".to_owned(),
            ));
        };
        let sasl = match mailwire_sasl::Client::new(mech, &creds, &self.opts.sasl_nonce) {
            Ok(s) => s,
            Err(e) => return self.quit_and_fail(ConnectionError::AuthFailed(e.to_string())),
        };
        let ir = sasl
            .initial_response()
            .map(|ir| mailwire_sasl::framing::encode_initial_response(&ir));
        // The mechanism name is a valid `Mechanism` by construction; the
        // encoded response is base64 or "=".
        let name = Mechanism::unvalidated(mech.name());
        let ir = match ir.map(InitialResponse::new).transpose() {
            Ok(ir) => ir,
            Err(_) => {
                return self.quit_and_fail(ConnectionError::AuthFailed(
                    "bad initial response".to_owned(),
                ));
            }
        };
        self.sasl = Some(sasl);
        self.phase = Phase::Auth;
        self.command(Expect::Auth, &Command::Auth(name, ir));
    }

    fn on_auth_reply(&mut self, reply: Reply<'static>) {
        let Some(sasl) = &mut self.sasl else {
            return self.fail(ConnectionError::UnexpectedReply(reply.code().get()));
        };
        match reply.code().get() {
            334 => {
                let text = reply.lines().next().unwrap_or("").trim().to_owned();
                let step = mailwire_sasl::framing::decode_challenge(text.as_bytes())
                    .map_err(|e| e.to_string())
                    .and_then(|c| sasl.step(&c).map_err(|e| e.to_string()));
                match step {
                    Ok(resp) => {
                        let line =
                            mailwire_sasl::Secret::new(mailwire_sasl::framing::encode(&resp));
                        self.out.extend_from_slice(line.expose().as_bytes());
                        self.out.extend_from_slice(b"\r\n");
                        self.expect.push_back(Expect::Auth);
                        self.arm_on_transmit = true;
                    }
                    Err(_) => {
                        // RFC 4954 §4: cancel with "*".
                        self.out.extend_from_slice(b"*\r\n");
                        self.expect.push_back(Expect::AuthCancel);
                        self.arm_on_transmit = true;
                    }
                }
            }
            c if (200..300).contains(&c) => {
                let mech = sasl.mechanism();
                if let Err(e) = sasl.finish(None) {
                    return self.quit_and_fail(ConnectionError::AuthFailed(e.to_string()));
                }
                self.sasl = None;
                self.events.push_back(Event::Authenticated(mech));
                self.ready();
            }
            _ => self.quit_and_fail(ConnectionError::AuthFailed(reply.to_string())),
        }
    }

    fn ready(&mut self) {
        self.phase = Phase::Ready;
        let caps = self.caps.clone().unwrap_or_default();
        self.events.push_back(Event::Ready(caps));
        self.pump();
    }

    fn pipelining(&self) -> bool {
        self.opts.pipelining && self.caps.as_ref().is_some_and(|c| c.pipelining)
    }

    fn chunking(&self) -> bool {
        self.opts.chunking && self.caps.as_ref().is_some_and(|c| c.chunking)
    }

    /// Starts or continues the transaction at the front of the queue, or
    /// sends QUIT when everything is done.
    fn pump(&mut self) {
        if self.phase != Phase::Ready || self.body_out.is_some() {
            return;
        }
        loop {
            if !self.expect.is_empty() && !self.pipelining() {
                return;
            }
            let front_started = self.queue.front().is_some_and(|t| t.mail_sent);
            if !front_started && !self.aux.is_empty() {
                // RFC 2920 §3.1: NOOP ends a group; send it (and RSET) alone.
                if self.expect.is_empty()
                    && let Some(a) = self.aux.pop_front()
                {
                    let cmd = match a {
                        Aux::Noop => Command::Noop(None),
                        Aux::Rset => Command::Rset,
                    };
                    self.command(Expect::Aux(a), &cmd);
                }
                return;
            }
            let Some(tx) = self.queue.front() else {
                if self.quit_requested && !self.quit_sent && self.expect.is_empty() {
                    self.quit_sent = true;
                    self.command(Expect::Quit, &Command::Quit);
                }
                return;
            };
            if tx.sent_all {
                return;
            }
            if !tx.mail_sent {
                // Not started yet: check the message against the capabilities.
                if let Err(e) = self.prepare_front() {
                    if let Some(tx) = self.queue.pop_front() {
                        self.events.push_back(Event::MailSent {
                            handle: tx.handle,
                            result: Err(e),
                        });
                    }
                    continue;
                }
            }
            self.send_next();
            return;
        }
    }

    /// Fills in SIZE, BODY and SMTPUTF8, or says why the message cannot go.
    fn prepare_front(&mut self) -> Result<(), MailError> {
        let caps = self.caps.clone().unwrap_or_default();
        let chunking = self.chunking();
        let tls = self.tls;
        let transactions = self.transactions;
        let Some(tx) = self.queue.front_mut() else {
            return Ok(());
        };
        // RFC 9422: no more transactions than MAILMAX in the session, no
        // more RCPT commands than RCPTMAX in one, no more domains than
        // RCPTDOMAINMAX among its recipients (the rest stay unsent, for
        // another transaction: `Outcome::unsent`).
        let limits = caps.limits();
        if let Some(max) = limits.mailmax
            && transactions >= max.get() as usize
        {
            return Err(MailError::MailMaxReached { limit: max.get() });
        }
        tx.rcpt_end = tx.env.recipients.len();
        if let Some(max) = limits.rcptmax {
            tx.rcpt_end = tx.rcpt_end.min(max.get() as usize);
        }
        if let Some(max) = limits.rcptdomainmax {
            // The recipients up to the first of one domain more than
            // RCPTDOMAINMAX (domains compared in any case; <Postmaster>
            // is the server's own).
            let mut domains: Vec<&str> = Vec::new();
            let mut end = 0;
            for (to, _) in &tx.env.recipients[..tx.rcpt_end] {
                let domain = match to {
                    // The host: after the last `@` (a quoted local part
                    // may hold one, a host never does).
                    ForwardPath::Mailbox(m) => m.as_str().rsplit_once('@').map_or("", |(_, h)| h),
                    ForwardPath::Postmaster => "",
                };
                if !domains.iter().any(|d| d.eq_ignore_ascii_case(domain)) {
                    if domains.len() == max.get() as usize {
                        break;
                    }
                    domains.push(domain);
                }
                end += 1;
            }
            tx.rcpt_end = end;
        }
        let p = &mut tx.env.params;
        if let Some(limit) = caps.size {
            if let Some(size) = tx.size
                && limit > 0
                && size > limit
            {
                return Err(MailError::TooLarge { size, limit });
            }
            p.size = tx.size;
        } else {
            p.size = None;
        }
        match p.body {
            Some(BodyType::BinaryMime) => {
                if !(caps.binarymime && chunking) {
                    return Err(MailError::BinaryUnsupported);
                }
            }
            _ => {
                if tx.eight_bit || p.body == Some(BodyType::EightBitMime) {
                    if !caps.eightbitmime {
                        return Err(MailError::EightBitUnsupported);
                    }
                    p.body = Some(BodyType::EightBitMime);
                } else if p.body == Some(BodyType::SevenBit) && !caps.eightbitmime {
                    // BODY=7BIT is only defined with 8BITMIME.
                    p.body = None;
                }
            }
        }
        let utf8 = !tx.env.from.is_ascii() || tx.env.recipients.iter().any(|(r, _)| !r.is_ascii());
        if utf8 || p.smtputf8 {
            if !caps.smtputf8 {
                return Err(MailError::SmtpUtf8Unsupported);
            }
            p.smtputf8 = true;
        }
        let dsn = p.ret.is_some()
            || p.envid.is_some()
            || tx
                .env
                .recipients
                .iter()
                .any(|(_, r)| r.notify.is_some() || r.orcpt.is_some());
        if dsn && !caps.dsn {
            return Err(MailError::DsnUnsupported);
        }
        if p.mt_priority.is_some() && !caps.mt_priority {
            return Err(MailError::MtPriorityUnsupported);
        }
        if p.requiretls && !(caps.requiretls && tls) {
            return Err(MailError::RequireTlsUnsupported);
        }
        Ok(())
    }

    /// Writes the next command(s) of the front transaction: BDAT chunks
    /// as far as the body pushed so far allows.
    fn send_next(&mut self) {
        let pipelining = self.pipelining();
        let chunking = self.chunking();
        let chunk = self.opts.bdat_chunk_size.max(1);
        let early_budget = self.opts.body_buffer;
        let Client {
            queue,
            out,
            out_queue,
            out_queued,
            transactions,
            ..
        } = self;
        let Some(tx) = queue.front_mut() else {
            return;
        };
        let mut expects = Vec::new();
        let mut refused = false;
        'send: {
            if !tx.mail_sent {
                Command::Mail(tx.env.from.clone(), tx.env.params.clone()).encode(out);
                expects.push(Expect::Mail);
                tx.mail_sent = true;
                *transactions += 1;
                tx.due += 1;
                if !pipelining {
                    break 'send;
                }
            }
            while tx.next_rcpt < tx.rcpt_end {
                let (to, params) = &tx.env.recipients[tx.next_rcpt];
                Command::Rcpt(to.clone(), params.clone()).encode(out);
                expects.push(Expect::Rcpt(tx.next_rcpt));
                tx.next_rcpt += 1;
                tx.due += 1;
                if !pipelining {
                    break 'send;
                }
            }
            if !pipelining && tx.accepted == 0 {
                // Every recipient was refused: no DATA (RFC 5321 §3.3).
                tx.stop_sending();
                refused = true;
                break 'send;
            }
            if !chunking {
                tx.sent_all = true;
                Command::Data.encode(out);
                expects.push(Expect::Data);
                tx.due += 1;
                break 'send;
            }
            let binary = tx.env.params.body == Some(BodyType::BinaryMime);
            // Content pipelined before MAIL and every RCPT are answered is
            // wasted when they are refused (and servers count the refused
            // BDATs as bad commands): at most `body_buffer` of it.
            let settled = tx.outcome.mail.is_some()
                && tx.outcome.recipients[..tx.rcpt_end]
                    .iter()
                    .all(|r| r.reply.is_some());
            loop {
                while tx.ready_len <= chunk {
                    let Some(b) = tx.body.pop(usize::MAX) else {
                        break;
                    };
                    tx.ready_len += if binary {
                        let n = b.len();
                        tx.ready.push_back(b);
                        n
                    } else {
                        tx.canon.push(b, &mut tx.ready)
                    };
                }
                let (size, last) = if tx.ready_len > chunk {
                    (chunk, false)
                } else if tx.body.is_drained() {
                    (tx.ready_len, true)
                } else {
                    break;
                };
                Command::Bdat {
                    size: size as u64,
                    last,
                }
                .encode(out);
                let cmd = std::mem::replace(out, Vec::with_capacity(512));
                *out_queued += cmd.len();
                out_queue.push_back(Bytes::from(cmd));
                let mut left = size;
                while left > 0 {
                    let Some(front) = tx.ready.front_mut() else {
                        break;
                    };
                    let piece = if front.len() <= left {
                        match tx.ready.pop_front() {
                            Some(p) => p,
                            None => break,
                        }
                    } else {
                        front.split_to(left)
                    };
                    left -= piece.len();
                    *out_queued += piece.len();
                    out_queue.push_back(piece);
                }
                tx.ready_len -= size;
                if !settled {
                    tx.sent_early += size;
                }
                expects.push(Expect::Bdat { last });
                tx.due += 1;
                if last {
                    tx.sent_all = true;
                    break;
                }
                // Without PIPELINING each chunk waits for its reply (RFC 3030 §4.2).
                if !pipelining || (!settled && tx.sent_early >= early_budget) {
                    break;
                }
            }
        }
        self.push_expects(expects);
        if refused {
            self.complete_front(true);
        }
    }

    fn push_expects(&mut self, e: Vec<Expect>) {
        if !e.is_empty() {
            self.expect.extend(e);
            self.arm_on_transmit = true;
        }
    }

    fn on_tx_reply(&mut self, expect: Expect, reply: Reply<'static>) {
        let Some(tx) = self.queue.front_mut() else {
            return self.fail(ConnectionError::UnexpectedReply(reply.code().get()));
        };
        tx.due = tx.due.saturating_sub(1);
        let ok = reply.code().is_positive();
        match expect {
            Expect::Mail => tx.outcome.mail = Some(reply),
            Expect::Rcpt(i) => {
                if ok {
                    tx.accepted += 1;
                }
                if let Some(r) = tx.outcome.recipients.get_mut(i) {
                    r.reply = Some(reply);
                }
            }
            Expect::Data => {
                if reply.code().get() == 354 {
                    if tx.accepted == 0 || !tx.mail_ok() {
                        // RFC 2920 §3.1: nothing was accepted but the server
                        // wants data: send an empty message to end it.
                        tx.body.discard();
                    }
                    tx.due += 1;
                    self.expect.push_back(Expect::DataEnd);
                    self.body_out = Some(Stuffer::new());
                    self.arm_on_transmit = true;
                    self.timers.stop(Timer::Reply as usize);
                    return;
                }
                tx.outcome.data = Some(reply);
            }
            Expect::DataEnd => tx.outcome.data = Some(reply),
            // The first failure (or the final reply) is the one that tells;
            // later chunk replies do not overwrite a failure.
            Expect::Bdat { last } if last || !ok => {
                let keep = tx
                    .outcome
                    .data
                    .as_ref()
                    .is_some_and(|d| !d.code().is_positive());
                if !keep {
                    tx.outcome.data = Some(reply);
                }
            }
            _ => {}
        }
        let pipelining = self.pipelining();
        let Some(tx) = self.queue.front_mut() else {
            return;
        };
        let mail_failed = tx
            .outcome
            .mail
            .as_ref()
            .is_some_and(|m| !m.code().is_positive());
        if pipelining && !tx.sent_all {
            // A streamed BDAT body whose transaction cannot succeed any
            // more: send no further chunk (RSET follows).
            let rcpts_answered = tx.next_rcpt == tx.rcpt_end
                && tx.outcome.recipients[..tx.rcpt_end]
                    .iter()
                    .all(|r| r.reply.is_some());
            let chunk_failed = matches!(expect, Expect::Bdat { .. }) && !ok;
            if mail_failed || chunk_failed || (rcpts_answered && tx.accepted == 0) {
                tx.stop_sending();
            } else if rcpts_answered && matches!(expect, Expect::Rcpt(_) | Expect::Mail) {
                // Settled: the content held back may go now.
                return self.pump();
            }
        }
        if !pipelining && tx.due == 0 && !tx.sent_all {
            let chunk_failed = tx
                .outcome
                .data
                .as_ref()
                .is_some_and(|d| !d.code().is_positive());
            if mail_failed || chunk_failed {
                tx.sent_all = true;
                return self.complete_front(!mail_failed);
            }
            return self.pump();
        }
        if tx.due == 0 && tx.sent_all {
            self.complete_front(!mail_failed);
        }
    }

    /// Reports the front transaction; sends RSET when MAIL was accepted and
    /// the transaction did not end with the data.
    fn complete_front(&mut self, mail_ok: bool) {
        let Some(mut tx) = self.queue.pop_front() else {
            return;
        };
        if tx.done {
            return;
        }
        tx.done = true;
        if self.open == Some(tx.handle) {
            self.open = None;
        }
        let data_ok = tx
            .outcome
            .data
            .as_ref()
            .is_some_and(|d| d.code().is_positive());
        for r in &mut tx.outcome.recipients {
            r.delivered = data_ok && r.reply.as_ref().is_some_and(|x| x.code().is_positive());
        }
        let data_ended = tx.outcome.data.is_some() && tx.accepted > 0 && data_ok;
        if mail_ok
            && !data_ended
            && tx
                .outcome
                .mail
                .as_ref()
                .is_some_and(|m| m.code().is_positive())
        {
            self.command(Expect::Rset, &Command::Rset);
        }
        self.events.push_back(Event::MailSent {
            handle: tx.handle,
            result: if tx.aborted {
                Err(MailError::Aborted)
            } else {
                Ok(tx.outcome)
            },
        });
        self.pump();
    }
}

impl Tx {
    /// MAIL was accepted.
    fn mail_ok(&self) -> bool {
        self.outcome
            .mail
            .as_ref()
            .is_some_and(|m| m.code().is_positive())
    }

    /// No further command or content for this transaction.
    fn stop_sending(&mut self) {
        self.sent_all = true;
        self.body.discard();
        self.ready.clear();
        self.ready_len = 0;
    }
}

//! The IMAP server state machine (RFC 9051 and RFC 3501, with IDLE,
//! ENABLE, UNSELECT, NAMESPACE, ID, LITERAL+/LITERAL-, SASL-IR, COMPRESS).
//!
//! ```text
//!            handle_input(now, bytes)               poll_transmit(now, &mut out)
//! socket ──▶ ─────────────────────────▶ Server ──▶ ──────────────────────────────▶ socket
//!                                         │  ▲
//!                          poll_event()   ▼  │  provide_password / send_data /
//!                                       application   send_literal_chunk / complete / push_update
//! ```
//!
//! The machine enforces the protocol: the four states and which commands
//! each allows (RFC 9051 §3, §6), literals and their limits, STARTTLS,
//! the SASL exchange, IDLE, ENABLE, UNSELECT, NAMESPACE, ID, LOGOUT, the
//! autologout timer, and when untagged updates may be sent. The
//! application decides everything about mailboxes and messages by
//! answering [`Event::Command`].
//!
//! # Sessions
//!
//! ```text
//! S: * OK [CAPABILITY ...] ready         Server::new(options, Greeting::ok(..), nonce, now)
//! C: a1 LOGIN {4}                        announced literal checked first: NO [TOOBIG] or
//! S: + Ready for literal data            the continuation request
//! C: fred "secret"                       Event::Authenticate -> provide_password / check_password
//!                                        Event::LoggedIn     -> complete(OK | NO)
//! S: a1 OK [CAPABILITY ...] LOGIN completed
//! C: a2 SELECT INBOX                     Event::Command -> send_data(* 18 EXISTS) .. complete(OK [READ-WRITE])
//! C: a3 FETCH 1 BODY[]                   Event::Command -> start_fetch_literal(len) send_literal_chunk* complete
//! S: * 1 FETCH (BODY[] {4711}            the message streams through in chunks
//! C: a4 IDLE                             S: + idling; push_update(EXISTS) goes out at once
//! C: DONE                                S: a4 OK IDLE terminated
//! C: a5 STARTTLS                         S: a5 OK ...; Event::StartTls; any byte before
//!                                        handle_tls_established ends the session
//! C: a6 COMPRESS DEFLATE                 S: a6 OK ...; Event::Compress: the driver
//!                                        compresses both ways from the next byte on
//!                                        (RFC 4978, with Options::compress)
//! C: a7 LOGOUT                           S: * BYE ...  S: a7 OK ...  Event::Closed{Logout}
//! ```
//!
//! # Untagged updates
//!
//! Changes made by other sessions (new mail, flags, expunges) are pushed
//! with [`Server::push_update`] at any time. The machine queues them and
//! sends them only while a command is in progress (at its end, before the
//! tagged completion) or during IDLE, and never an EXPUNGE or VANISHED
//! while FETCH, STORE or SEARCH by sequence number runs (RFC 9051 §7.5.1,
//! RFC 3501 §7.4.1, §5.5): those wait, with everything queued after them,
//! for the next command that allows them (NOOP, IDLE, any UID command).
//!
//! # Defences
//!
//! - **STARTTLS injection** (CVE-2011-0411): bytes buffered after the
//!   STARTTLS command, or fed before `handle_tls_established`, close the
//!   connection ([`ConnectionError::PlaintextAfterStartTls`]); they are
//!   never parsed.
//! - **Literals**: every announcement is judged before its bytes are read.
//!   A synchronizing literal over [`Options::max_literal`] (or making the
//!   command larger than [`Options::max_command`]), for an unknown command,
//!   a command the state does not allow, or a LOGIN before TLS gets its
//!   tagged NO/BAD and no continuation request, so the client never sends
//!   it. A non-synchronizing one over the limits (over 4096 octets unless
//!   LITERAL+ is offered) cannot be stopped: `BAD [TOOBIG]`, `* BYE
//!   [TOOBIG]` and the connection closes (RFC 7888 §4, §5).
//! - **Memory**: lines are bounded ([`Options::max_line`], fatal since a
//!   line cannot be resynchronized), pipelined input while the application
//!   decides ([`Options::max_buffered`], with [`Server::wants_read`]), queued
//!   updates ([`Options::max_queued_updates`]); big FETCH data streams out
//!   in chunks, and with [`Options::append_stream_threshold`] big APPEND
//!   messages stream in ([`Event::AppendData`]).
//! - **Passwords**: LOGIN and mechanisms that send the password in the
//!   clear are refused before TLS (`NO [PRIVACYREQUIRED]`, and
//!   LOGINDISABLED is announced) unless [`Options::allow_plaintext_auth`];
//!   the machine compares passwords in constant time and never puts one in
//!   an event (only [`Server::check_password`] lends it to a closure).
//! - **Bad input**: a malformed command is answered BAD and discarded alone;
//!   [`Options::max_bad_commands`] of them end the session.

mod auth;
mod command;
mod error;
mod event;
mod reply;
mod state;
#[cfg(test)]
mod tests;

pub use error::{ConnectionError, NonceError, PushError, ReplyError};
pub use event::{AuthMethod, Event, Handle};
pub use reply::{Completion, FetchLiteral, Greeting, Outcome, Streamed};

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::Bytes;
use mailwire_sasl::Mechanism;

use crate::fragment::{FragmentOptions, Fragmenter, Frame};
use crate::types::core::{LiteralMode, Tag, Text};
use crate::types::flag::Capability;
use crate::types::response::{Code, Namespace, StatusKind, StatusResponse};
use mailwire_line::timer::TimerTable;
use state::{Mode, Pending, State};

/// Which non-synchronizing literal extension to offer (RFC 7888).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LiteralExtension {
    /// Neither: clients send `{n}` and wait for the continuation request
    /// (a `{n+}` sent anyway is taken up to 4096 octets, as LITERAL-).
    None,
    /// `LITERAL+`: `{n+}` of any size up to the limits. A client may then
    /// send a literal over the limit before the machine can refuse it; the
    /// machine answers `BAD [TOOBIG]` and closes (RFC 7888 §4).
    Plus,
    /// `LITERAL-`: `{n+}` only up to 4096 octets (RFC 7888 §5).
    Minus,
}

/// The namespaces NAMESPACE returns (RFC 2342, RFC 9051 §6.3.10).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Namespaces {
    /// Personal namespaces.
    pub personal: Vec<Namespace<'static>>,
    /// Other users' namespaces.
    pub other: Vec<Namespace<'static>>,
    /// Shared namespaces.
    pub shared: Vec<Namespace<'static>>,
}

/// The human-readable texts of the responses the machine makes itself.
/// Clients must not interpret them (RFC 9051 §7.1); they are settable so
/// that a deployment can brand them and the RFC transcripts can be
/// replayed byte for byte.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Texts {
    /// The continuation request for a synchronizing literal. Default
    /// `Ready for literal data`.
    pub literal: String,
    /// The OK to STARTTLS. Default `Begin TLS negotiation now` (RFC 3501 §6.2.1).
    pub starttls: String,
    /// The continuation request of IDLE. Default `idling` (RFC 2177 §3).
    pub idle: String,
    /// The OK that ends IDLE. Default `IDLE terminated` (RFC 2177 §3).
    pub idle_done: String,
    /// The OK to ENABLE. Default `ENABLE completed`.
    pub enable: String,
    /// The BYE before the OK to LOGOUT. Default `Logging out`.
    pub logout_bye: String,
    /// The OK to LOGOUT. Default `LOGOUT completed` (RFC 9051 §8).
    pub logout: String,
    /// The BYE of the autologout timer. Default `Autologout; idle for too long`.
    pub autologout: String,
    /// The untagged `OK [CLOSED]` when SELECT replaces a selected mailbox
    /// (RFC 7162 §3.2.11). Default `Previous mailbox closed`.
    pub closed: String,
}

impl Default for Texts {
    fn default() -> Self {
        Texts {
            literal: "Ready for literal data".to_owned(),
            starttls: "Begin TLS negotiation now".to_owned(),
            idle: "idling".to_owned(),
            idle_done: "IDLE terminated".to_owned(),
            enable: "ENABLE completed".to_owned(),
            logout_bye: "Logging out".to_owned(),
            logout: "LOGOUT completed".to_owned(),
            autologout: "Autologout; idle for too long".to_owned(),
            closed: "Previous mailbox closed".to_owned(),
        }
    }
}

/// Server configuration. Every default carries its reason.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Options {
    /// The host name in CRAM-MD5 challenges. Default `localhost`: the
    /// application should set its FQDN.
    pub hostname: String,
    /// Offer IMAP4rev1 (RFC 3501). Default true: most clients speak only it.
    pub imap4rev1: bool,
    /// Offer IMAP4rev2 (RFC 9051), enabled with `ENABLE IMAP4rev2`.
    /// Default true: the machine implements what it requires.
    pub imap4rev2: bool,
    /// Offer STARTTLS (RFC 9051 §6.2.1). Default false: only the driver
    /// knows whether it has a certificate.
    pub starttls: bool,
    /// The session is already under TLS (implicit TLS, RFC 8314, port
    /// 993). Default false.
    pub implicit_tls: bool,
    /// Allow LOGIN and SASL mechanisms that send the password in the clear
    /// before TLS (e.g. on loopback: the application decides). Default
    /// false: LOGINDISABLED is announced, LOGIN is answered
    /// `NO [PRIVACYREQUIRED]` (RFC 9051 §6.2.3, §7.1) and such mechanisms
    /// are neither offered nor accepted.
    pub allow_plaintext_auth: bool,
    /// SASL mechanisms to offer as `AUTH=` (RFC 9051 §6.2.2). Default none:
    /// the application chooses what its user database can verify.
    pub sasl_mechanisms: Vec<Mechanism>,
    /// Offer SASL-IR (RFC 4959). Default true: saves a round trip, and an
    /// initial response is accepted whether offered or not.
    pub sasl_ir: bool,
    /// Offer IDLE (RFC 2177). Default true.
    pub idle: bool,
    /// Offer ENABLE (RFC 5161). Default true: needed for CONDSTORE,
    /// QRESYNC, UTF8=ACCEPT and IMAP4rev2.
    pub enable: bool,
    /// Offer UNSELECT (RFC 3691). Default true: the machine answers it.
    pub unselect: bool,
    /// Offer UNAUTHENTICATE (RFC 8437) once authenticated. The machine
    /// answers it and goes back to the not authenticated state, the
    /// selected mailbox closed (no expunge), ENABLEd extensions dropped;
    /// [`Event::Unauthenticated`] tells the application to forget the
    /// user. Default false: the application must handle that event.
    pub unauthenticate: bool,
    /// Offer `COMPRESS=DEFLATE` (RFC 4978) once authenticated. Default
    /// false: the driver must then compress and decompress the stream
    /// after [`Event::Compress`], which only it can do.
    pub compress: bool,
    /// Answer NAMESPACE (RFC 2342) with these. Default one personal
    /// namespace `""` with delimiter `/`, as a flat Maildir++-less store has.
    /// `None`: not offered.
    pub namespaces: Option<Namespaces>,
    /// Answer ID (RFC 2971) with these field/value pairs. Default
    /// `Some(vec![])` (answered `* ID NIL`): do not advertise versions.
    /// `None`: not offered.
    pub id: Option<Vec<(String, String)>>,
    /// LITERAL+ or LITERAL- (RFC 7888). Default `Minus`: a non-synchronizing
    /// literal above 4096 octets cannot arrive unannounced, so large
    /// APPENDs are refused before they are sent.
    pub literal: LiteralExtension,
    /// Further capabilities the application implements, announced once
    /// authenticated (UIDPLUS, MOVE, CONDSTORE, QRESYNC, ESEARCH, SORT,
    /// THREAD=..., UTF8=ACCEPT, SPECIAL-USE ...). CONDSTORE, QRESYNC and
    /// UTF8=ACCEPT listed here can be ENABLEd. Default none.
    pub capabilities: Vec<Capability<'static>>,
    /// Put a CAPABILITY code in the OK/PREAUTH greeting (RFC 9051 §7.1).
    /// Default true: saves clients a round trip.
    pub capability_in_greeting: bool,
    /// Put a CAPABILITY code in the OK to LOGIN/AUTHENTICATE when the
    /// application gave none. Default true: the list changes on login.
    pub capability_after_login: bool,
    /// Largest literal accepted (APPEND), checked at its announcement.
    /// Default 64 MiB: above common message size limits; a command holds
    /// its literals in memory, so this bounds memory per connection.
    pub max_literal: u64,
    /// Largest command, literals included. Default 64 MiB + 64 KiB: one
    /// maximal literal and its lines.
    pub max_command: u64,
    /// Longest line outside literals, CRLF included. Default 64 KiB
    /// (Dovecot's `imap_max_line_length`): a SEARCH or a UID set from a big
    /// mailbox fits; longer is fatal (a line cannot be resynchronized).
    pub max_line: usize,
    /// Bad commands (syntax errors) before the session is closed with BYE.
    /// Default 20.
    pub max_bad_commands: u32,
    /// Most pipelined input held while the application decides; the driver
    /// stops reading when `wants_read` is false, and more than this plus
    /// `max_line` closes the session. Default 256 KiB.
    pub max_buffered: usize,
    /// Most untagged updates queued for a client that sends no command.
    /// Default 10 000.
    pub max_queued_updates: usize,
    /// Stream APPEND messages larger than this to the application as
    /// [`Event::AppendData`] instead of holding them (the limit is then
    /// [`Options::max_literal`] alone, not [`Options::max_command`]).
    /// Default `None`: off, since the application must handle those
    /// events; with it, an APPEND of any size needs memory for one read.
    pub append_stream_threshold: Option<u64>,
    /// The autologout timer before authentication. Default 60 s: a client
    /// logs in within seconds; this bounds idle unauthenticated sessions
    /// (RFC 9051 §5.4 allows less than 30 minutes here).
    pub autologout_unauthenticated: Duration,
    /// The autologout timer once authenticated, IDLE included. Default
    /// 30 minutes, the minimum RFC 9051 §5.4 and RFC 2177 allow.
    pub autologout: Duration,
    /// The texts of the machine's own responses.
    pub texts: Texts,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            hostname: "localhost".to_owned(),
            imap4rev1: true,
            imap4rev2: true,
            starttls: false,
            implicit_tls: false,
            allow_plaintext_auth: false,
            sasl_mechanisms: Vec::new(),
            sasl_ir: true,
            idle: true,
            enable: true,
            unselect: true,
            unauthenticate: false,
            compress: false,
            namespaces: Some(Namespaces {
                personal: vec![Namespace {
                    prefix: crate::types::core::IString::unvalidated(&b""[..]),
                    delimiter: Some(b'/'),
                    extensions: Vec::new(),
                }],
                other: Vec::new(),
                shared: Vec::new(),
            }),
            id: Some(Vec::new()),
            literal: LiteralExtension::Minus,
            capabilities: Vec::new(),
            capability_in_greeting: true,
            capability_after_login: true,
            max_literal: 64 << 20,
            max_command: (64 << 20) + (64 << 10),
            max_line: 64 << 10,
            max_bad_commands: 20,
            max_buffered: 256 << 10,
            max_queued_updates: 10_000,
            append_stream_threshold: None,
            autologout_unauthenticated: Duration::from_secs(60),
            autologout: Duration::from_secs(30 * 60),
            texts: Texts::default(),
        }
    }
}

/// Undrained events past which `wants_read` turns false (commands the
/// machine answers itself, e.g. pipelined ID, each leave an event).
const MAX_UNDRAINED_EVENTS: usize = 64;

/// Proof that TLS is in place: only `handle_tls_established` or the
/// implicit-TLS option create it.
#[derive(Debug, Clone, Copy)]
struct TlsActive(());

#[derive(Debug, Clone, Copy)]
enum Timer {
    Autologout = 0,
}

/// An update waiting for a moment RFC 9051 §7.5.1 allows.
#[derive(Debug)]
struct Queued {
    /// EXPUNGE or VANISHED (not EARLIER): held during FETCH/STORE/SEARCH.
    expunge: bool,
    bytes: Vec<u8>,
}

/// The IMAP server machine.
///
/// Method groups (STYLE.md (a)):
/// - getters: [`is_closed`](Self::is_closed), [`wants_read`](Self::wants_read),
///   [`is_tls`](Self::is_tls), [`is_authenticated`](Self::is_authenticated),
///   [`is_selected`](Self::is_selected), [`is_enabled`](Self::is_enabled),
///   [`capabilities`](Self::capabilities);
/// - inputs: [`handle_input`](Self::handle_input), [`handle_eof`](Self::handle_eof),
///   [`handle_timeout`](Self::handle_timeout), [`handle_tls_established`](Self::handle_tls_established);
/// - answers to decision events: [`provide_password`](Self::provide_password),
///   [`check_password`](Self::check_password), [`provide_scram_credentials`](Self::provide_scram_credentials),
///   [`send_data`](Self::send_data), [`send_status`](Self::send_status),
///   [`start_fetch_literal`](Self::start_fetch_literal), [`send_literal_chunk`](Self::send_literal_chunk),
///   [`complete`](Self::complete); and at any time [`push_update`](Self::push_update)
///   and [`close_session`](Self::close_session);
/// - outputs: [`poll_transmit`](Self::poll_transmit), [`poll_event`](Self::poll_event),
///   [`poll_timeout`](Self::poll_timeout).
///
/// **Driver contract:** after any input or answer, drain `poll_transmit`,
/// then `poll_event`, then read `poll_timeout`; go round again when an
/// event was answered.
///
/// ```no_run
/// use std::time::Instant;
/// use mailwire_imap::server::{Completion, Event, Greeting, Options, Server};
/// # struct Socket;
/// # impl Socket {
/// #     fn write_all(&mut self, _: &[u8]) {}
/// #     fn read(&mut self, _: &mut [u8], _: Option<Instant>) -> Option<usize> { None }
/// # }
/// # let mut socket = Socket;
/// let mut opts = Options::default();
/// opts.allow_plaintext_auth = true; // loopback only
/// let mut server = Server::new(opts, Greeting::ok("ready"), "k2Nf7pQ", Instant::now()).unwrap();
/// let (mut out, mut buf) = (Vec::new(), [0u8; 16384]);
/// loop {
///     while server.poll_transmit(Instant::now(), &mut out).is_some() {}
///     socket.write_all(&out);
///     out.clear();
///     let mut answered = false;
///     while let Some(event) = server.poll_event() {
///         answered = true;
///         match event {
///             Event::Authenticate { handle, .. } => {
///                 server.provide_password(handle, Some("secret".to_owned().into())).unwrap()
///             }
///             Event::LoggedIn { handle, .. } => server.complete(handle, Completion::ok("LOGIN completed")).unwrap(),
///             Event::Command { handle, .. } => server.complete(handle, Completion::no("not here")).unwrap(),
///             Event::Closed { .. } => return,
///             _ => {}
///         }
///     }
///     if answered {
///         continue;
///     }
///     let deadline = server.poll_timeout();
///     match socket.read(&mut buf, deadline) {
///         Some(0) => server.handle_eof(Instant::now()),
///         Some(n) => server.handle_input(Instant::now(), &buf[..n]),
///         None => server.handle_timeout(Instant::now()),
///     }
/// }
/// ```
#[derive(Debug)]
pub struct Server {
    options: Options,
    nonce: String,
    auth_attempts: u32,
    tls: Option<TlsActive>,
    /// COMPRESS was answered OK (RFC 4978 §3): the stream is compressed
    /// from then on, and a second COMPRESS gets `NO [COMPRESSIONACTIVE]`.
    compressed: bool,
    state: State,
    mode: Mode,
    enabled: Vec<Capability<'static>>,
    pending: Option<(Handle, Pending)>,
    next_handle: u64,
    frag: Fragmenter,
    out: Vec<u8>,
    events: VecDeque<Event>,
    updates: VecDeque<Queued>,
    timers: TimerTable<1>,
    bad_commands: u32,
    /// The APPEND message (its index in the command) being streamed.
    streaming_append: Option<usize>,
    /// Octets of the streaming APPEND message given so far.
    streamed: u64,
    /// The command being read streamed a message: its end is told, as
    /// [`Event::Command`] (which clears this) or
    /// [`Event::AppendAbandoned`].
    streamed_pending: bool,
    closed: bool,
    last_now: Instant,
}

fn nonce_ok(n: &str) -> bool {
    !n.is_empty() && n.len() <= 64 && n.bytes().all(|b| (0x21..=0x7e).contains(&b) && b != b',')
}

/// A `Text` from any string: bytes a text cannot hold (CR, LF, NUL) become
/// spaces, and a text that would end like a literal announcement gets a
/// final `.`.
pub(crate) fn text(s: &str) -> Text<'static> {
    let mut b: Vec<u8> = s
        .bytes()
        .map(|c| {
            if matches!(c, b'\r' | b'\n' | 0) {
                b' '
            } else {
                c
            }
        })
        .collect();
    if crate::fragment::literal_announcement(&b).is_some() {
        b.push(b'.');
    }
    Text::unvalidated(b)
}

impl Server {
    /// A new session; the greeting is queued at once.
    ///
    /// `nonce` comes from the caller's random source (1-64 printable ASCII
    /// octets without `,`, e.g. 18 random bytes in base64): the SCRAM
    /// server nonce of the first AUTHENTICATE (later ones append `.n`) and
    /// the unique part of CRAM-MD5 challenges.
    pub fn new(
        options: Options,
        greeting: Greeting,
        nonce: &str,
        now: Instant,
    ) -> Result<Server, NonceError> {
        if !nonce_ok(nonce) {
            return Err(NonceError);
        }
        let frag = Fragmenter::new(Self::frag_options(&options));
        let mut s = Server {
            tls: options.implicit_tls.then_some(TlsActive(())),
            compressed: false,
            nonce: nonce.to_owned(),
            auth_attempts: 0,
            state: State::NotAuthenticated,
            mode: Mode::Commands,
            enabled: Vec::new(),
            pending: None,
            next_handle: 1,
            frag,
            out: Vec::new(),
            events: VecDeque::new(),
            updates: VecDeque::new(),
            timers: TimerTable::new(),
            bad_commands: 0,
            streaming_append: None,
            streamed: 0,
            streamed_pending: false,
            closed: false,
            last_now: now,
            options,
        };
        s.greet(greeting, now);
        Ok(s)
    }

    fn frag_options(options: &Options) -> FragmentOptions {
        // The machine checks literal and command sizes itself at each
        // announcement (to answer NO [TOOBIG] instead of failing), so the
        // fragmenter only bounds lines.
        FragmentOptions {
            max_line: options.max_line,
            max_literal: u64::MAX,
            max_message: u64::MAX,
            ..FragmentOptions::default()
        }
    }

    /// True once the session is over.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// False while the machine holds as much pipelined input as it may
    /// while the application decides: stop reading until events are
    /// answered, or while many events wait to be polled. Always true while
    /// a command (or its literal) is still arriving and events are drained.
    pub fn wants_read(&self) -> bool {
        !self.closed
            && self.events.len() < MAX_UNDRAINED_EVENTS
            && (!self.waiting() || self.frag.buffered() < self.options.max_buffered)
    }

    /// True when TLS is in place (STARTTLS done, or implicit TLS).
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// True once COMPRESS was answered OK (RFC 4978): the driver compresses
    /// and decompresses the stream since [`Event::Compress`].
    pub fn is_compressed(&self) -> bool {
        self.compressed
    }

    /// True in the authenticated and selected states.
    pub fn is_authenticated(&self) -> bool {
        self.state.proof().is_some()
    }

    /// True while a mailbox is selected; `Some(true)` when read-only.
    pub fn is_selected(&self) -> Option<bool> {
        match self.state {
            State::Selected { read_only, .. } => Some(read_only),
            _ => None,
        }
    }

    /// True once the client ENABLEd `capability` (e.g. `CONDSTORE`,
    /// `QRESYNC`, `UTF8=ACCEPT`, `IMAP4rev2`); compared without case.
    pub fn is_enabled(&self, capability: &str) -> bool {
        self.enabled
            .iter()
            .any(|c| c.as_str().eq_ignore_ascii_case(capability))
    }

    fn waiting(&self) -> bool {
        self.pending.is_some() || matches!(self.mode, Mode::WaitTls)
    }

    // ----- inputs -------------------------------------------------------

    /// Feeds bytes from the client (plaintext; under TLS, what rustls
    /// decrypted), split anywhere. Then drain `poll_transmit`, `poll_event`
    /// and read `poll_timeout`.
    pub fn handle_input(&mut self, now: Instant, data: &[u8]) {
        if self.closed || data.is_empty() {
            return;
        }
        self.last_now = now;
        if matches!(self.mode, Mode::WaitTls) {
            self.close(ConnectionError::PlaintextAfterStartTls);
            return;
        }
        self.frag.push(data);
        if self.waiting()
            && self.frag.buffered() > self.options.max_buffered + self.options.max_line
        {
            self.bye(None, "Too much pipelined input");
            self.close(ConnectionError::InputOverflow);
            return;
        }
        self.arm_autologout(now);
        self.process();
    }

    /// The client closed its side. Then drain the outputs.
    pub fn handle_eof(&mut self, now: Instant) {
        self.last_now = now;
        if !self.closed {
            self.close(ConnectionError::Eof);
        }
    }

    /// Fires expired timers: the autologout timer sends `* BYE` and closes
    /// (RFC 9051 §5.4). It does not run while the application decides. An
    /// early call does nothing. Then drain the outputs.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.last_now = now;
        if self.closed || self.timers.expired(now).is_none() {
            return;
        }
        if self.pending.is_some() {
            self.arm_autologout(now);
            return;
        }
        let t = self.options.texts.autologout.clone();
        self.bye(None, &t);
        self.close(ConnectionError::Timeout);
    }

    /// TLS is up after [`Event::StartTls`]: the session is not
    /// authenticated, and the capabilities are computed anew (RFC 9051
    /// §6.2.1: the client must ask again). Then drain the outputs.
    pub fn handle_tls_established(&mut self, now: Instant) {
        self.last_now = now;
        if self.closed || !matches!(self.mode, Mode::WaitTls) {
            return;
        }
        self.tls = Some(TlsActive(()));
        self.mode = Mode::Commands;
        self.state = State::NotAuthenticated;
        self.frag = Fragmenter::new(Self::frag_options(&self.options));
        self.arm_autologout(now);
    }

    // ----- outputs ------------------------------------------------------

    /// Appends what is to be sent to `buf`; returns how many octets, or
    /// `None` when there is nothing. Changed by every input and answer.
    #[must_use]
    pub fn poll_transmit(&mut self, _now: Instant, buf: &mut Vec<u8>) -> Option<usize> {
        mailwire_line::drain_into(&mut self.out, buf)
    }

    /// The next event. Answer decision events before polling for more
    /// input. Changed by every input and answer.
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

    // ----- internals ----------------------------------------------------

    fn arm_autologout(&mut self, now: Instant) {
        let d = if self.is_authenticated() {
            self.options.autologout
        } else {
            self.options.autologout_unauthenticated
        };
        self.timers.set(Timer::Autologout as usize, now + d);
    }

    fn handle(&mut self) -> Handle {
        let h = Handle(self.next_handle);
        self.next_handle += 1;
        h
    }

    fn close(&mut self, reason: ConnectionError) {
        self.closed = true;
        self.state = State::Logout;
        self.mode = Mode::Commands;
        self.pending = None;
        self.updates.clear();
        self.timers.stop_all();
        self.frag = Fragmenter::new(FragmentOptions::default());
        self.events.push_back(Event::Closed { reason });
    }

    fn status(&mut self, tag: Option<Tag<'_>>, kind: StatusKind, code: Option<Code<'_>>, t: &str) {
        crate::encode::response(
            &crate::types::response::Response::Status(StatusResponse {
                tag,
                kind,
                code,
                text: text(t),
            }),
            &mut self.out,
        );
    }

    fn tagged(&mut self, tag: &Tag<'_>, kind: StatusKind, code: Option<Code<'_>>, t: &str) {
        self.status(Some(tag.clone()), kind, code, t);
    }

    /// A continuation request with text (`+ text`, RFC 9051 §7.5).
    fn continuation(&mut self, t: &str) {
        self.out.extend_from_slice(b"+ ");
        self.out.extend_from_slice(text(t).as_bytes());
        self.out.extend_from_slice(b"\r\n");
    }

    fn bye(&mut self, code: Option<Code<'_>>, t: &str) {
        self.status(None, StatusKind::Bye, code, t);
    }

    /// A syntax error: BAD, and the session ends after too many.
    fn bad_command(&mut self, tag: Option<Tag<'_>>, t: &str) {
        self.bad_commands += 1;
        self.status(tag, StatusKind::Bad, None, t);
        if self.bad_commands >= self.options.max_bad_commands {
            self.bye(None, "Too many invalid commands");
            self.close(ConnectionError::TooManyBadCommands);
        }
    }

    /// Reads commands until a decision is pending, the input holds no
    /// complete command, or the session ends.
    fn process(&mut self) {
        while !self.closed && !self.waiting() {
            if let Some(message) = self.streaming_append {
                while let Some(data) = self.frag.poll_streamed() {
                    let offset = self.streamed;
                    self.streamed += data.len() as u64;
                    self.events.push_back(Event::AppendData {
                        message,
                        offset,
                        data,
                    });
                }
                if self.frag.streaming().is_some() {
                    break;
                }
                self.streaming_append = None;
            }
            let frame = match self.frag.poll() {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(_) => {
                    self.bye(None, "Line too long");
                    self.close(ConnectionError::InputOverflow);
                    break;
                }
            };
            match frame {
                Frame::LiteralAnnounced { length, mode, .. } => {
                    self.literal_announced(length, mode)
                }
                Frame::Message(msg) => self.message(msg),
            }
            if matches!(self.mode, Mode::WaitTls) && self.frag.buffered() > 0 {
                self.close(ConnectionError::PlaintextAfterStartTls);
            }
        }
    }

    fn message(&mut self, msg: Bytes) {
        match std::mem::replace(&mut self.mode, Mode::Commands) {
            Mode::AuthLine { tag, sasl } => {
                let line = msg.strip_suffix(b"\r\n").unwrap_or(&msg);
                self.sasl_line(tag, sasl, line);
            }
            Mode::Idle { tag } => match crate::parse::idle_done(&msg) {
                Ok(n) if n == msg.len() => {
                    let t = self.options.texts.idle_done.clone();
                    self.flush_updates(true);
                    self.tagged(&tag, StatusKind::Ok, None, &t);
                    self.events.push_back(Event::IdleDone);
                }
                _ => {
                    self.events.push_back(Event::IdleDone);
                    self.bad_command(Some(tag), "Expected DONE");
                }
            },
            Mode::Commands => {
                match crate::parse::command(&msg) {
                    Ok((cmd, n)) if n == msg.len() => self.command(cmd),
                    Ok(_) => self.bad_command(tag_of(&msg), "Syntax error: junk after the command"),
                    Err(e) => {
                        let t =
                            format!("Syntax error at byte {}: expected {}", e.offset, e.expected);
                        self.bad_command(tag_of(&msg), &t)
                    }
                }
                // Not given to the application (`command_event` clears
                // the flag when it is): the streamed octets are dropped.
                self.abandon_streamed();
            }
            Mode::WaitTls => self.mode = Mode::WaitTls,
        }
    }

    /// A literal was announced: refuse it (too large, or a command that
    /// cannot be accepted) before any of its bytes are read, or send the
    /// continuation request for a synchronizing one.
    fn literal_announced(&mut self, length: u64, mode: LiteralMode) {
        let prefix = self.frag.pending();
        let tag = tag_of(prefix);
        let unacceptable = if !matches!(self.mode, Mode::Commands) {
            Some(Refusal::Bad("No literal expected here"))
        } else if tag.is_none() {
            Some(Refusal::Bad("Missing or invalid tag"))
        } else {
            match command_name(prefix).map(|n| (Allowed::of_name(&n), n)) {
                Some((None, _)) | None => Some(Refusal::Bad("Unknown command")),
                Some((Some(a), _)) if !a.permits(self.state) => {
                    Some(Refusal::Bad("Command not allowed in this state"))
                }
                // A LOGIN that will be refused: do not let the client send
                // its password in the clear (RFC 9051 §6.2.3).
                Some((_, n)) if n == b"LOGIN" && !self.plaintext_ok() => Some(Refusal::Privacy),
                _ => None,
            }
        };
        // A big APPEND message of an acceptable command may stream through
        // instead of being held; then only `max_literal` limits it.
        let stream = match self.options.append_stream_threshold {
            Some(t) if length > t && unacceptable.is_none() => {
                append_message_index(prefix, self.options.max_line)
            }
            _ => None,
        };
        let too_big = length > self.options.max_literal
            || (stream.is_none()
                && (prefix.len() as u64).saturating_add(length) > self.options.max_command);
        let refusal = unacceptable.or(too_big.then_some(Refusal::TooBig));
        let atom = |a| Code::Simple(crate::types::core::Atom::unvalidated(a));
        match (mode, refusal) {
            (LiteralMode::Sync, None) => {
                self.stream_append(stream);
                let t = self.options.texts.literal.clone();
                self.continuation(&t);
            }
            // Refused: no continuation request, so the client sends no
            // literal bytes; the announcement line is dropped.
            (LiteralMode::Sync, Some(refusal)) => {
                self.frag.reject_literal();
                self.abandon_streamed();
                match (std::mem::replace(&mut self.mode, Mode::Commands), refusal) {
                    (Mode::AuthLine { tag, .. }, _) => {
                        self.bad_command(Some(tag), "No literal expected here")
                    }
                    (Mode::Idle { tag }, _) => {
                        self.events.push_back(Event::IdleDone);
                        self.bad_command(Some(tag), "Expected DONE");
                    }
                    (_, Refusal::TooBig) => self.status(
                        tag,
                        StatusKind::No,
                        Some(atom("TOOBIG")),
                        "Literal too large",
                    ),
                    (_, Refusal::Privacy) => {
                        let code = Some(atom("PRIVACYREQUIRED"));
                        self.status(tag, StatusKind::No, code, "LOGIN needs TLS")
                    }
                    (_, Refusal::Bad(t)) => self.bad_command(tag, t),
                }
            }
            // A non-synchronizing literal arrives anyway. Over the limits
            // (over 4096 octets unless LITERAL+ is offered) it cannot be
            // taken: RFC 7888 §4 choice 2 and §5, BAD and BYE with TOOBIG.
            // Otherwise the command is judged whole once it is complete.
            (LiteralMode::NonSync, _) => {
                if too_big || (self.options.literal != LiteralExtension::Plus && length > 4096) {
                    self.abandon_streamed();
                    let t = "Literal too large";
                    self.status(tag, StatusKind::Bad, Some(atom("TOOBIG")), t);
                    self.bye(Some(atom("TOOBIG")), t);
                    self.close(ConnectionError::LiteralTooLarge);
                } else if refusal.is_none() {
                    self.stream_append(stream);
                }
            }
        }
    }
}

impl Server {
    /// Streams the literal just announced as APPEND message `index`.
    fn stream_append(&mut self, index: Option<usize>) {
        if let Some(i) = index
            && self.frag.stream_literal()
        {
            self.streaming_append = Some(i);
            self.streamed = 0;
            self.streamed_pending = true;
        }
    }

    /// The command whose messages streamed ends without an
    /// [`Event::Command`]: [`Event::AppendAbandoned`].
    fn abandon_streamed(&mut self) {
        if std::mem::take(&mut self.streamed_pending) {
            self.events.push_back(Event::AppendAbandoned);
        }
    }
}

/// The index, within its APPEND command, of the message whose literal was
/// just announced at the end of `prefix`; `None` when the literal is not an
/// APPEND message (e.g. the mailbox name) or the prefix is longer than
/// `max` (the probe copies it).
fn append_message_index(prefix: &[u8], max: usize) -> Option<usize> {
    if prefix.len() > max {
        return None;
    }
    let line = prefix.strip_suffix(b"\r\n")?;
    let open = memchr::memrchr(b'{', line)?;
    let mut probe = prefix[..open].to_vec();
    probe.extend_from_slice(b"{0}\r\n\r\n");
    match crate::parse::command(&probe) {
        Ok((cmd, n)) if n == probe.len() => match cmd.body {
            crate::types::command::CommandBody::Append { messages, .. } => Some(messages.len() - 1),
            _ => None,
        },
        _ => None,
    }
}

/// Why an announced literal is refused before its bytes are read.
#[derive(Debug, Clone, Copy)]
enum Refusal {
    /// Over `max_literal` or `max_command`: `NO [TOOBIG]`.
    TooBig,
    /// LOGIN before TLS: `NO [PRIVACYREQUIRED]`.
    Privacy,
    /// Not a command that can be accepted: BAD with this text.
    Bad(&'static str),
}

use state::Allowed;

/// The tag at the start of a message, if it is a valid one.
fn tag_of(msg: &[u8]) -> Option<Tag<'static>> {
    let end = msg
        .iter()
        .position(|&b| b == b' ' || b == b'\r' || b == b'\n')
        .unwrap_or(msg.len());
    let t = std::str::from_utf8(&msg[..end]).ok()?;
    Tag::new(t.to_owned()).ok()
}

/// The command name of a partial command (upper case; `UID FETCH` gives
/// `UID`, which is enough to know the state it needs).
fn command_name(msg: &[u8]) -> Option<Vec<u8>> {
    let mut words = msg.split(|&b| b == b' ' || b == b'\r');
    words.next()?;
    let name = words.next()?;
    Some(name.to_ascii_uppercase())
}

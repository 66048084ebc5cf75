//! The IMAP client state machine (RFC 9051 IMAP4rev2 and RFC 3501
//! IMAP4rev1, with IDLE, LITERAL+/LITERAL-, SASL-IR, ENABLE, CONDSTORE,
//! QRESYNC, MOVE and UIDPLUS).
//!
//! ```text
//! S: * OK [CAPABILITY IMAP4rev2 STARTTLS ...] ready   Event::Greeting, Event::Capabilities
//! C: A1 CAPABILITY                                    only when the greeting had no capabilities
//! C: A2 STARTTLS                                      queued by the application
//! S: A2 OK go                                         Event::StartTls; handle_tls_established;
//! C: A3 CAPABILITY                                    capabilities forgotten and asked again
//! C: A4 AUTHENTICATE PLAIN AGZyZWQAc2VjcmV0           Client::authenticate, SASL-IR when offered
//! S: A4 OK [CAPABILITY IMAP4rev2 ...] done            Event::Completed (and new capabilities)
//! C: A5 SELECT INBOX                                  state-changing: waits for everything before it
//! C: A6 FETCH 1:* (FLAGS)  A7 SEARCH UNSEEN           pipelined where RFC 9051 §5.5 allows
//! S: * 3 FETCH ...  A6 OK ...                         one Event::Completed per command, with its data
//! S: * 4 EXISTS                                       Event::Update, applied to Client::selected
//! ```
//!
//! The application queues commands with [`Client::enqueue_command`] (any
//! time, even before the greeting) and gets one [`Event::Completed`] per
//! command, carrying the untagged responses the command caused and its
//! tagged status. Tags are generated (`A1`, `A2`, ...; the prefix is
//! [`Options::tag_prefix`]). Everything else the server says arrives as
//! [`Event::Update`].
//!
//! # Pipelining (RFC 9051 §5.5)
//!
//! Commands are sent without waiting where the RFC allows it:
//! - STARTTLS, AUTHENTICATE, LOGIN, SELECT, EXAMINE, ENABLE, IDLE, CLOSE,
//!   UNSELECT and LOGOUT change the session's state: each waits until every
//!   earlier command completed, and later commands wait for it.
//! - A command with message sequence numbers (FETCH, STORE, SEARCH, COPY,
//!   MOVE, SORT, THREAD; UID SEARCH/SORT/THREAD too, as their keys may hold
//!   sequence numbers) waits unless only FETCH, STORE and SEARCH are in
//!   progress, since any other command may cause an EXPUNGE that renumbers.
//! - A command using the saved result `$` (RFC 5182) waits for all.
//! - A synchronizing literal `{n}` waits for the server's `+`; nothing else
//!   is sent meanwhile. With LITERAL+ (RFC 7888) every literal is sent as
//!   `{n+}` at once; with LITERAL- (or IMAP4rev2) only when all the
//!   command's literals are at most 4096 octets.
//!
//! # STARTTLS (RFC 9051 §6.2.1)
//!
//! After the tagged OK, the machine stops sending, yields
//! [`Event::StartTls`] and waits for [`Client::handle_tls_established`].
//! Any byte the server sent after the OK, in the same read or later,
//! closes the connection with [`ConnectionError::PlaintextAfterStartTls`]
//! (CVE-2011-0411). Once TLS is up the capabilities are forgotten and asked
//! again.
//!
//! # Large messages
//!
//! A `BODY[...]`, `BINARY[...]` or `RFC822` literal in a FETCH response that
//! is larger than [`Options::stream_threshold`] is never buffered whole: it
//! is handed out as [`Event::FetchChunk`]s as it arrives, so fetching a
//! 1 GiB message needs memory for one read, not for the message.

mod error;
mod event;
mod repair;
mod state;
#[cfg(test)]
mod tests;

pub use error::{ConnectionError, NotIdling, SendError};
pub use event::{CommandHandle, Completion, Defect, DefectKind, Event, Greeting, Received, Update};
pub use state::{Capabilities, SelectedMailbox};

use std::collections::VecDeque;
use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use bytes::Bytes;
use mailwire_sasl::framing::{decode_challenge, encode as b64, encode_initial_response};

use crate::encode::{self, EncodeOptions, Encoded};
use crate::fragment::{FragmentOptions, Fragmenter, Frame, literal_announcement};
use crate::timer::TimerTable;
use crate::types::command::{Command, CommandBody};
use crate::types::core::{Atom, LiteralMode, Tag};
use crate::types::fetch::FetchItem;
use crate::types::flag::Flag;
use crate::types::response::{Code, Continue, Data, Response, StatusKind, StatusResponse};
use crate::types::secret::Secret;
use crate::types::sequence::{SeqNum, SeqRange, SequenceSet};
use event::text_of;

/// Client configuration. Every default carries its reason.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Options {
    /// Tags are this prefix and a counter from 1. Default `A`.
    pub tag_prefix: Tag<'static>,
    /// The counter is zero-padded to this many digits. Default 1 (no
    /// padding): `A1`, `A2`, ... A transcript written with `a001` uses
    /// prefix `a` and width 3.
    pub tag_width: usize,
    /// Ask CAPABILITY by itself when the capabilities are unknown: after a
    /// greeting without them, after STARTTLS (RFC 9051 §6.2.1 forbids using
    /// the old ones) and after authentication without a CAPABILITY code.
    /// Default true: LOGINDISABLED, SASL-IR and LITERAL+ can only be honoured
    /// when known.
    pub auto_capability: bool,
    /// Pipeline commands where RFC 9051 §5.5 allows. Default true.
    pub pipelining: bool,
    /// Use LITERAL+ / LITERAL- (RFC 7888) when the server offers them.
    /// Default true: saves a round trip per literal.
    pub literal_plus: bool,
    /// How long a command (or the greeting) may wait for the server without
    /// any byte arriving. Default 5 minutes, as SMTP's RFC 5321 §4.5.3.2
    /// data block timeout: long enough for a slow server, short enough to
    /// notice a dead one. An active IDLE is exempt.
    pub command_timeout: Duration,
    /// An active IDLE is ended with DONE and issued again after this long.
    /// Default 28 minutes: RFC 2177 §3 says at least every 29 minutes, as
    /// servers may log out an inactive client after 30.
    pub idle_refresh: Duration,
    /// Longest response line (outside literals), CRLF included. Default
    /// 1 MiB: far above any real FETCH line with ENVELOPE and BODYSTRUCTURE.
    pub max_line: usize,
    /// Leniency: a line of only spaces right after a literal does not end
    /// the response (recorded from Gmail, which sends a literal one line
    /// short). Default false: framing is strict (STYLE.md (b)).
    pub blank_line_after_literal_continues: bool,
    /// Largest literal kept in memory. Default 64 MiB.
    pub max_literal: u64,
    /// Largest response kept in memory (lines and literals; streamed
    /// literals excluded). Default 80 MiB: one maximal literal and its lines.
    pub max_response: u64,
    /// FETCH literals (`BODY[...]`, `BINARY[...]`, `RFC822`) larger than this
    /// are streamed as [`Event::FetchChunk`]s. Default 1 MiB: larger
    /// messages are better written out as they come.
    pub stream_threshold: u64,
    /// Largest literal accepted at all when streamed. Default 4 GiB: the
    /// largest `RFC822.SIZE` (a `number`) a server can announce.
    pub max_streamed_literal: u64,
    /// Most untagged responses one command may collect. Default 1 000 000:
    /// a FETCH over a very large mailbox.
    pub max_responses_per_command: usize,
    /// [`Client::wants_read`] goes false at this many undrained events; at
    /// twice as many the connection closes
    /// ([`ConnectionError::TooManyResponses`]). Default 10 000.
    pub max_pending_events: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            tag_prefix: Tag::unvalidated("A"),
            tag_width: 1,
            auto_capability: true,
            pipelining: true,
            literal_plus: true,
            command_timeout: Duration::from_secs(5 * 60),
            idle_refresh: Duration::from_secs(28 * 60),
            max_line: 1 << 20,
            blank_line_after_literal_continues: false,
            max_literal: 64 << 20,
            max_response: 80 << 20,
            stream_threshold: 1 << 20,
            max_streamed_literal: 1 << 32,
            max_responses_per_command: 1_000_000,
            max_pending_events: 10_000,
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Timer {
    /// The greeting or a command's response.
    Response = 0,
    /// Re-issue of an active IDLE.
    IdleRefresh = 1,
}

/// What a command is, as far as routing and pipelining care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Capability,
    StartTls,
    Login,
    Authenticate,
    Select,
    Enable,
    Idle,
    Logout,
    /// CLOSE or UNSELECT: leaves the selected state.
    Close,
    Fetch {
        uid: bool,
    },
    Store {
        uid: bool,
    },
    Search {
        uid: bool,
    },
    Sort,
    Thread,
    List,
    Status,
    Namespace,
    Id,
    Quota,
    Metadata,
    /// EXPUNGE, COPY, MOVE, APPEND, NOOP, CREATE ...
    Other,
}

impl Kind {
    fn of(body: &CommandBody<'_>) -> Kind {
        use CommandBody as B;
        match body {
            B::Capability => Kind::Capability,
            B::StartTls => Kind::StartTls,
            B::Login { .. } => Kind::Login,
            B::Authenticate { .. } => Kind::Authenticate,
            B::Select { .. } | B::Examine { .. } => Kind::Select,
            B::Enable(_) => Kind::Enable,
            B::Idle => Kind::Idle,
            B::Logout => Kind::Logout,
            B::Close | B::Unselect => Kind::Close,
            B::Fetch { uid, .. } => Kind::Fetch { uid: *uid },
            B::Store { uid, .. } => Kind::Store { uid: *uid },
            B::Search { uid, .. } => Kind::Search { uid: *uid },
            B::Sort { .. } => Kind::Sort,
            B::Thread { .. } => Kind::Thread,
            B::List { .. } | B::Lsub { .. } => Kind::List,
            B::Status { .. } => Kind::Status,
            B::Namespace => Kind::Namespace,
            B::Id(_) => Kind::Id,
            B::GetQuota(_) | B::GetQuotaRoot(_) | B::SetQuota { .. } => Kind::Quota,
            B::GetMetadata { .. } | B::SetMetadata { .. } => Kind::Metadata,
            _ => Kind::Other,
        }
    }

    /// Changes the session's state: waits for all before, all after wait for it.
    fn is_barrier(self) -> bool {
        matches!(
            self,
            Kind::StartTls
                | Kind::Login
                | Kind::Authenticate
                | Kind::Select
                | Kind::Enable
                | Kind::Idle
                | Kind::Logout
                | Kind::Close
        )
    }

    /// In progress, it keeps the server from sending EXPUNGE (RFC 9051 §5.5).
    fn blocks_expunge(self) -> bool {
        matches!(
            self,
            Kind::Fetch { uid: false } | Kind::Store { uid: false } | Kind::Search { uid: false }
        )
    }
}

/// True if the command carries message sequence numbers (RFC 9051 §5.5);
/// UID SEARCH, SORT and THREAD count too, as their keys may.
fn uses_sequence_numbers(body: &CommandBody<'_>) -> bool {
    use CommandBody as B;
    match body {
        B::Fetch { uid, .. } | B::Store { uid, .. } | B::Copy { uid, .. } | B::Move { uid, .. } => {
            !uid
        }
        B::Search { .. } | B::Sort { .. } | B::Thread { .. } => true,
        _ => false,
    }
}

/// True if the command reads the saved search result `$` (RFC 5182 §2.4).
fn uses_saved_result(body: &CommandBody<'_>) -> bool {
    use CommandBody as B;
    match body {
        B::Fetch { set, .. }
        | B::Store { set, .. }
        | B::Copy { set, .. }
        | B::Move { set, .. }
        | B::UidExpunge(set) => matches!(set, SequenceSet::Saved),
        _ => false,
    }
}

/// A command waiting to be sent.
#[derive(Debug)]
enum Queued {
    Command(CommandBody<'static>),
    Authenticate(Box<mailwire_sasl::Client>),
}

/// Where an IDLE stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Idle {
    /// IDLE sent, no `+` yet. `announce`: first issue (not a refresh).
    Sent { announce: bool, done: bool },
    /// `+` received: idling.
    Active,
    /// DONE sent; `refresh`: issue IDLE again after the tagged OK.
    Ending { refresh: bool },
}

/// A command sent and not yet completed.
#[derive(Debug)]
struct InFlight {
    handle: CommandHandle,
    tag: String,
    name: &'static str,
    kind: Kind,
    /// Sent by the machine itself (CAPABILITY): no Completed event.
    internal: bool,
    data: Vec<Received>,
    /// Fragments still to send, each after a continuation request.
    rest: VecDeque<Vec<u8>>,
    sasl: Option<Box<mailwire_sasl::Client>>,
    /// The SASL exchange was cancelled with `*`.
    sasl_cancelled: bool,
    idle: Option<Idle>,
    /// SELECT/EXAMINE: the mailbox being opened.
    select: Option<SelectedMailbox>,
    /// FETCH/STORE: the set, to attribute FETCH responses.
    set: Option<SequenceSet>,
}

impl InFlight {
    fn awaits_continuation(&self) -> bool {
        !self.rest.is_empty()
            || (self.kind == Kind::Authenticate && !self.sasl_cancelled)
            || matches!(self.idle, Some(Idle::Sent { .. }))
    }

    /// Waits for the server (not an active IDLE).
    fn awaits_response(&self) -> bool {
        !matches!(self.idle, Some(Idle::Active))
    }
}

/// A literal being streamed out as [`Event::FetchChunk`]s.
#[derive(Debug)]
struct Streaming {
    handle: Option<CommandHandle>,
    seq: NonZeroU32,
    uid: Option<NonZeroU32>,
    item: Bytes,
    offset: u64,
    total: u64,
}

/// The IMAP client machine.
///
/// Method groups (STYLE.md (a)):
/// - getters: [`is_closed`](Self::is_closed), [`wants_read`](Self::wants_read),
///   [`capabilities`](Self::capabilities), [`enabled`](Self::enabled),
///   [`selected`](Self::selected), [`is_authenticated`](Self::is_authenticated),
///   [`is_idle`](Self::is_idle);
/// - inputs: [`handle_input`](Self::handle_input), [`handle_eof`](Self::handle_eof),
///   [`handle_timeout`](Self::handle_timeout),
///   [`handle_tls_established`](Self::handle_tls_established);
/// - commands: [`enqueue_command`](Self::enqueue_command),
///   [`authenticate`](Self::authenticate), [`idle_done`](Self::idle_done);
/// - outputs: [`poll_transmit`](Self::poll_transmit), [`poll_event`](Self::poll_event),
///   [`poll_timeout`](Self::poll_timeout).
///
/// **Driver contract:** after any input or command, drain `poll_transmit`,
/// then `poll_event`, then read `poll_timeout`; go round again if an event
/// led to a new command.
///
/// ```no_run
/// use std::time::Instant;
/// use mailwire_imap::client::{Client, Event, Options};
/// use mailwire_imap::{CommandBody, IString, Secret};
/// # fn read(_: &mut [u8], _: Option<Instant>) -> Option<usize> { None }
/// # fn write(_: &[u8]) {}
/// let mut conn = Client::new(Options::default(), Instant::now());
/// let login = CommandBody::Login {
///     username: IString::try_from("fred").unwrap(),
///     password: Secret::new(IString::try_from("secret").unwrap()),
/// };
/// conn.enqueue_command(login).unwrap();
/// conn.enqueue_command(CommandBody::Logout).unwrap();
/// let (mut out, mut buf) = (Vec::new(), [0u8; 65536]);
/// while !conn.is_closed() {
///     while conn.poll_transmit(Instant::now(), &mut out).is_some() {}
///     write(&out);
///     out.clear();
///     while let Some(event) = conn.poll_event() {
///         match event {
///             Event::Completed(c) => println!("{} {:?}: {}", c.command, c.status, c.text()),
///             Event::Closed { reason } => println!("closed: {reason}"),
///             _ => {}
///         }
///     }
///     match read(&mut buf, conn.poll_timeout()) {
///         Some(0) => conn.handle_eof(Instant::now()),
///         Some(n) => conn.handle_input(Instant::now(), &buf[..n]),
///         None => conn.handle_timeout(Instant::now()),
///     }
/// }
/// ```
#[derive(Debug)]
pub struct Client {
    options: Options,
    frag: Fragmenter,
    out: Vec<u8>,
    events: VecDeque<Event>,
    timers: TimerTable<2>,
    queue: VecDeque<(CommandHandle, Queued)>,
    inflight: VecDeque<InFlight>,
    next_handle: u64,
    next_tag: u64,
    greeted: bool,
    authenticated: bool,
    tls: bool,
    wait_tls: bool,
    logout_queued: bool,
    closed: bool,
    bye: Option<String>,
    caps: Option<Capabilities>,
    enabled: Capabilities,
    selected: Option<SelectedMailbox>,
    streaming: Option<Streaming>,
}

impl Client {
    /// A new session: the machine waits for the greeting (timed by
    /// [`Options::command_timeout`]).
    pub fn new(options: Options, now: Instant) -> Client {
        let frag = Fragmenter::new(FragmentOptions {
            max_line: options.max_line,
            max_literal: options.max_literal,
            max_message: options.max_response,
            blank_line_after_literal_continues: options.blank_line_after_literal_continues,
            max_streamed_literal: options.max_streamed_literal,
        });
        let mut timers = TimerTable::new();
        timers.set(Timer::Response as usize, now + options.command_timeout);
        Client {
            frag,
            out: Vec::new(),
            events: VecDeque::new(),
            timers,
            queue: VecDeque::new(),
            inflight: VecDeque::new(),
            next_handle: 1,
            next_tag: 1,
            greeted: false,
            authenticated: false,
            tls: false,
            wait_tls: false,
            logout_queued: false,
            closed: false,
            bye: None,
            caps: None,
            enabled: Capabilities::default(),
            selected: None,
            streaming: None,
            options,
        }
    }

    // ----- getters -------------------------------------------------------

    /// True once the session is over.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// False while undrained events pile up ([`Options::max_pending_events`]):
    /// stop reading until they are taken.
    pub fn wants_read(&self) -> bool {
        !self.closed && self.events.len() < self.options.max_pending_events
    }

    /// The server's capabilities; `None` while unknown (before the greeting
    /// or the CAPABILITY answer, and right after STARTTLS).
    pub fn capabilities(&self) -> Option<&Capabilities> {
        self.caps.as_ref()
    }

    /// The extensions the server confirmed with `ENABLED` (RFC 5161):
    /// CONDSTORE, QRESYNC, UTF8=ACCEPT, IMAP4rev2, ...
    pub fn enabled(&self) -> &Capabilities {
        &self.enabled
    }

    /// The selected mailbox, kept up to date; `None` when none is selected.
    pub fn selected(&self) -> Option<&SelectedMailbox> {
        self.selected.as_ref()
    }

    /// True after LOGIN or AUTHENTICATE succeeded, or a PREAUTH greeting.
    pub fn is_authenticated(&self) -> bool {
        self.authenticated
    }

    /// True while an IDLE is active (after [`Event::IdleStarted`]).
    pub fn is_idle(&self) -> bool {
        self.inflight
            .iter()
            .any(|c| matches!(c.idle, Some(Idle::Active)))
    }

    // ----- commands ------------------------------------------------------

    /// Queues a command; it is sent as soon as the rules of pipelining
    /// allow (see the module docs). Then drain the outputs.
    ///
    /// Refused, with the command handed back: anything after LOGOUT or
    /// once closed; LOGIN under LOGINDISABLED ([`SendError::LoginDisabled`]);
    /// AUTHENTICATE (use [`authenticate`](Self::authenticate)); STARTTLS
    /// when TLS is active; a second IDLE.
    pub fn enqueue_command(
        &mut self,
        body: CommandBody<'static>,
    ) -> Result<CommandHandle, SendError<CommandBody<'static>>> {
        if self.closed || self.logout_queued {
            return Err(SendError::Closed(body));
        }
        match &body {
            CommandBody::Login { .. } if self.login_disabled() => {
                return Err(SendError::LoginDisabled(body));
            }
            CommandBody::Authenticate { .. } => return Err(SendError::NotAllowed(body)),
            CommandBody::StartTls if self.tls || self.wait_tls => {
                return Err(SendError::NotAllowed(body));
            }
            CommandBody::Idle if self.idle_pending() => return Err(SendError::NotAllowed(body)),
            CommandBody::Logout => self.logout_queued = true,
            _ => {}
        }
        Ok(self.push_queue(Queued::Command(body)))
    }

    /// Queues `AUTHENTICATE` (RFC 9051 §6.2.2) run by a mailwire-sasl client
    /// machine; the initial response goes with the command when the server
    /// offers SASL-IR (RFC 4959) or IMAP4rev2. Completes as an
    /// [`Event::Completed`]; a server that cannot be verified (SCRAM) closes
    /// the connection with [`ConnectionError::AuthenticationNotVerified`].
    pub fn authenticate(
        &mut self,
        sasl: mailwire_sasl::Client,
    ) -> Result<CommandHandle, SendError<Box<mailwire_sasl::Client>>> {
        if self.closed || self.logout_queued {
            return Err(SendError::Closed(Box::new(sasl)));
        }
        Ok(self.push_queue(Queued::Authenticate(Box::new(sasl))))
    }

    /// Ends the running IDLE with `DONE` (RFC 2177 §3); its
    /// [`Event::Completed`] follows. Called before the server's `+`, DONE is
    /// sent right after it. Then drain the outputs.
    pub fn idle_done(&mut self) -> Result<(), NotIdling> {
        for c in self.inflight.iter_mut() {
            match c.idle {
                Some(Idle::Active) => {
                    c.idle = Some(Idle::Ending { refresh: false });
                    self.out.extend_from_slice(b"DONE\r\n");
                    self.timers.stop(Timer::IdleRefresh as usize);
                    return Ok(());
                }
                Some(Idle::Sent { announce, .. }) => {
                    c.idle = Some(Idle::Sent {
                        announce,
                        done: true,
                    });
                    return Ok(());
                }
                Some(Idle::Ending { refresh: true }) => {
                    c.idle = Some(Idle::Ending { refresh: false });
                    return Ok(());
                }
                _ => {}
            }
        }
        Err(NotIdling)
    }

    // ----- inputs --------------------------------------------------------

    /// Feeds bytes from the server (plaintext), split anywhere. Then drain
    /// the outputs.
    pub fn handle_input(&mut self, now: Instant, data: &[u8]) {
        if self.closed || data.is_empty() {
            return;
        }
        if self.wait_tls {
            self.close(ConnectionError::PlaintextAfterStartTls);
            return;
        }
        self.frag.push(data);
        self.process();
        if !self.closed && self.wait_tls && self.frag.buffered() > 0 {
            // Bytes after the tagged OK to STARTTLS in the same read.
            self.close(ConnectionError::PlaintextAfterStartTls);
        }
        // Any byte is progress: the server is working on our commands.
        self.rearm(now, true);
        self.check_event_limit();
    }

    /// The server closed its side. Then drain the outputs.
    pub fn handle_eof(&mut self, _now: Instant) {
        if self.closed {
            return;
        }
        let logout = self.inflight.iter().any(|c| c.kind == Kind::Logout);
        let reason = match self.bye.take() {
            Some(_) if logout => ConnectionError::Logout,
            Some(text) => ConnectionError::Bye(text),
            None => ConnectionError::Eof,
        };
        self.close(reason);
    }

    /// Fires expired timers: a command without response closes the
    /// connection ([`ConnectionError::Timeout`]); an IDLE due for refresh is
    /// ended with DONE and issued again. An early call does nothing. Then
    /// drain the outputs.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.closed {
            return;
        }
        while let Some(i) = self.timers.expired(now) {
            self.timers.stop(i);
            if i == Timer::Response as usize {
                self.close(ConnectionError::Timeout);
                return;
            }
            for c in self.inflight.iter_mut() {
                if c.idle == Some(Idle::Active) {
                    c.idle = Some(Idle::Ending { refresh: true });
                    self.out.extend_from_slice(b"DONE\r\n");
                }
            }
        }
    }

    /// TLS is up after [`Event::StartTls`]: the capabilities are forgotten
    /// and asked again (RFC 9051 §6.2.1), queued commands flow. Then drain
    /// the outputs.
    pub fn handle_tls_established(&mut self, now: Instant) {
        if self.closed || !self.wait_tls {
            return;
        }
        self.wait_tls = false;
        self.tls = true;
        self.caps = None;
        self.ask_capabilities();
        self.pump();
        self.rearm(now, false);
    }

    // ----- outputs -------------------------------------------------------

    /// Appends what is to be sent to `buf`; returns how many octets, or
    /// `None`. `now` starts the response timer. Changed by every input and
    /// command.
    #[must_use]
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut Vec<u8>) -> Option<usize> {
        if self.out.is_empty() {
            return None;
        }
        self.rearm(now, false);
        let n = self.out.len();
        if buf.is_empty() {
            std::mem::swap(buf, &mut self.out);
        } else {
            buf.append(&mut self.out);
        }
        Some(n)
    }

    /// The next event.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The next deadline (a response timeout or an IDLE refresh). Ask last:
    /// every input, command and `poll_transmit` may change it.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.closed {
            None
        } else {
            self.timers.next()
        }
    }

    // ----- internals: sending ------------------------------------------

    fn push_queue(&mut self, q: Queued) -> CommandHandle {
        let handle = CommandHandle(self.next_handle);
        self.next_handle += 1;
        self.queue.push_back((handle, q));
        self.pump();
        handle
    }

    fn login_disabled(&self) -> bool {
        self.caps.as_ref().is_some_and(|c| c.has("LOGINDISABLED"))
    }

    fn idle_pending(&self) -> bool {
        self.inflight.iter().any(|c| c.kind == Kind::Idle)
            || self
                .queue
                .iter()
                .any(|(_, q)| matches!(q, Queued::Command(CommandBody::Idle)))
    }

    fn next_tag(&mut self) -> Tag<'static> {
        let n = self.next_tag;
        self.next_tag += 1;
        let w = self.options.tag_width;
        // A valid tag followed by digits (ASTRING-CHARs other than `+`) is a valid tag.
        Tag::unvalidated(format!("{}{n:0w$}", self.options.tag_prefix))
    }

    /// Sends queued commands while the pipelining rules allow.
    fn pump(&mut self) {
        while self.greeted && !self.wait_tls && !self.closed {
            if self
                .inflight
                .iter()
                .any(|c| !c.rest.is_empty() || c.kind.is_barrier() || c.internal)
            {
                return;
            }
            let Some((_, q)) = self.queue.front() else {
                return;
            };
            let go = self.inflight.is_empty()
                || (self.options.pipelining
                    && match q {
                        Queued::Authenticate(_) => false,
                        Queued::Command(b) => {
                            !Kind::of(b).is_barrier()
                                && !uses_saved_result(b)
                                && (!uses_sequence_numbers(b)
                                    || self.inflight.iter().all(|c| c.kind.blocks_expunge()))
                        }
                    });
            if !go {
                return;
            }
            let Some((handle, q)) = self.queue.pop_front() else {
                return;
            };
            match q {
                Queued::Command(body) => {
                    if matches!(body, CommandBody::Login { .. }) && self.login_disabled() {
                        // The capabilities became known after it was queued.
                        self.events.push_back(Event::Refused {
                            handle,
                            error: SendError::LoginDisabled(body),
                        });
                        continue;
                    }
                    self.send(handle, body, false);
                }
                Queued::Authenticate(sasl) => self.send_authenticate(handle, sasl),
            }
        }
    }

    fn literal_mode(&self, sync: &Encoded) -> LiteralMode {
        let Some(caps) = &self.caps else {
            return LiteralMode::Sync;
        };
        if !self.options.literal_plus || sync.waits() == 0 {
            return LiteralMode::Sync;
        }
        if caps.has("LITERAL+") {
            return LiteralMode::NonSync;
        }
        if caps.has("LITERAL-") || caps.has("IMAP4rev2") {
            // RFC 7888 §5: LITERAL- allows `{n+}` only up to 4096 octets.
            let small = sync.fragments().take(sync.waits()).all(|f| {
                let line = f.strip_suffix(b"\r\n").unwrap_or(f);
                literal_announcement(line).is_some_and(|(n, _, _)| n <= 4096)
            });
            if small {
                return LiteralMode::NonSync;
            }
        }
        LiteralMode::Sync
    }

    fn send(&mut self, handle: CommandHandle, body: CommandBody<'static>, internal: bool) {
        let tag = self.next_tag();
        let kind = Kind::of(&body);
        let name = body.name();
        let cmd = Command { tag, body };
        let sync = encode::command(&cmd, EncodeOptions::default());
        let encoded = match self.literal_mode(&sync) {
            LiteralMode::Sync => sync,
            mode => encode::command(&cmd, EncodeOptions { literal_mode: mode }),
        };
        let mut rest: VecDeque<Vec<u8>> = encoded.fragments().map(<[u8]>::to_vec).collect();
        if let Some(first) = rest.pop_front() {
            self.out.extend_from_slice(&first);
        }
        let (select, set) = match &cmd.body {
            CommandBody::Select { mailbox, .. } => {
                (Some(SelectedMailbox::new(mailbox.clone(), false)), None)
            }
            CommandBody::Examine { mailbox, .. } => {
                (Some(SelectedMailbox::new(mailbox.clone(), true)), None)
            }
            CommandBody::Fetch { set, .. } | CommandBody::Store { set, .. } => {
                (None, Some(set.clone()))
            }
            _ => (None, None),
        };
        self.inflight.push_back(InFlight {
            handle,
            tag: cmd.tag.as_str().to_owned(),
            name,
            kind,
            internal,
            data: Vec::new(),
            rest,
            sasl: None,
            sasl_cancelled: false,
            idle: (kind == Kind::Idle).then_some(Idle::Sent {
                announce: true,
                done: false,
            }),
            select,
            set,
        });
    }

    fn send_authenticate(&mut self, handle: CommandHandle, sasl: Box<mailwire_sasl::Client>) {
        let tag = self.next_tag();
        let sasl_ir = self.caps.as_ref().is_some_and(Capabilities::sasl_ir);
        let initial = if sasl_ir {
            sasl.initial_response()
                .and_then(|r| Atom::new(encode_initial_response(&r)).ok())
                .map(Secret::new)
        } else {
            None
        };
        let mut sasl = sasl;
        if initial.is_some() {
            // The initial response went with the command: the server's first
            // challenge is the next step, not a request for it.
            let _ = sasl.step(&[]);
        }
        let mechanism = Atom::unvalidated(sasl.mechanism().name());
        let cmd = Command {
            tag,
            body: CommandBody::Authenticate {
                mechanism,
                initial_response: initial,
            },
        };
        self.out
            .extend_from_slice(encode::command(&cmd, EncodeOptions::default()).as_bytes());
        self.inflight.push_back(InFlight {
            handle,
            tag: cmd.tag.as_str().to_owned(),
            name: "AUTHENTICATE",
            kind: Kind::Authenticate,
            internal: false,
            data: Vec::new(),
            rest: VecDeque::new(),
            sasl: Some(sasl),
            sasl_cancelled: false,
            idle: None,
            select: None,
            set: None,
        });
    }

    fn ask_capabilities(&mut self) {
        if self.options.auto_capability && self.caps.is_none() && !self.closed {
            let handle = CommandHandle(0);
            self.send(handle, CommandBody::Capability, true);
        }
    }

    /// Arms the response timer while anything is awaited; `progress`
    /// restarts it.
    fn rearm(&mut self, now: Instant, progress: bool) {
        if self.closed {
            return;
        }
        let awaited = !self.greeted || self.inflight.iter().any(InFlight::awaits_response);
        let t = Timer::Response as usize;
        if !awaited {
            self.timers.stop(t);
        } else if progress || self.timers.get(t).is_none() {
            self.timers.set(t, now + self.options.command_timeout);
        }
        let idle_active = self.is_idle();
        let t = Timer::IdleRefresh as usize;
        if !idle_active {
            self.timers.stop(t);
        } else if self.timers.get(t).is_none() {
            self.timers.set(t, now + self.options.idle_refresh);
        }
    }

    fn close(&mut self, reason: ConnectionError) {
        if self.closed {
            return;
        }
        self.closed = true;
        self.timers.stop_all();
        self.queue.clear();
        self.inflight.clear();
        self.streaming = None;
        self.events.push_back(Event::Closed { reason });
    }

    fn check_event_limit(&mut self) {
        if self.events.len() > self.options.max_pending_events.saturating_mul(2) {
            self.close(ConnectionError::TooManyResponses);
        }
    }

    // ----- internals: receiving ----------------------------------------

    fn process(&mut self) {
        while !self.closed && !self.wait_tls {
            if let Some(chunk) = self.frag.poll_streamed() {
                self.chunk(chunk);
                continue;
            }
            match self.frag.poll() {
                Ok(None) => break,
                Ok(Some(Frame::LiteralAnnounced { length, .. })) => self.literal(length),
                Ok(Some(Frame::Message(m))) => self.message(m),
                Err(e) => self.close(ConnectionError::TooLarge(e)),
            }
        }
    }

    /// A literal is announced: stream it if it is a large FETCH body.
    fn literal(&mut self, length: u64) {
        if length <= self.options.stream_threshold && length <= self.options.max_literal {
            return;
        }
        let Some((seq, uid, item)) = stream_context(self.frag.pending()) else {
            return; // over max_literal: the next poll reports it
        };
        if !self.frag.stream_literal() {
            return;
        }
        let handle = self
            .fetch_target(seq, uid, false)
            .map(|i| self.inflight[i].handle);
        self.streaming = Some(Streaming {
            handle,
            seq,
            uid,
            item,
            offset: 0,
            total: length,
        });
    }

    fn chunk(&mut self, data: Bytes) {
        let done = self.frag.streaming().is_none();
        let Some(s) = self.streaming.as_mut() else {
            return;
        };
        let offset = s.offset;
        s.offset += data.len() as u64;
        self.events.push_back(Event::FetchChunk {
            handle: s.handle,
            seq: s.seq,
            uid: s.uid,
            item: s.item.clone(),
            offset,
            total: s.total,
            data,
        });
        if done {
            self.streaming = None;
        }
    }

    fn message(&mut self, raw: Bytes) {
        // The common case parses once; only a response that fails is repaired.
        match crate::parse::response(&raw) {
            Ok((resp, _)) => {
                let rec = Received::new(raw.clone(), Vec::new());
                self.dispatch(resp, rec);
            }
            Err(first) => match repair::repair(&raw, first) {
                Some((bytes, defects)) => {
                    if let Ok((resp, _)) = crate::parse::response(&bytes) {
                        self.dispatch(resp, Received::new(bytes.clone(), defects));
                    }
                }
                None => self.malformed(raw, first),
            },
        }
    }

    fn dispatch(&mut self, resp: Response<'_>, rec: Received) {
        if !self.greeted {
            return self.greeting(resp);
        }
        match resp {
            Response::Continue(c) => self.continuation(c, rec),
            Response::Status(s) if s.tag.is_some() => self.tagged(s, rec),
            Response::Status(s) => self.untagged_status(s, rec),
            Response::Data(d) => self.data(d, rec),
        }
    }

    /// A response that did not parse even after repairs: discarded whole.
    /// A tagged one for a command in progress still completes it (with the
    /// status word it starts with), so the session does not hang.
    fn malformed(&mut self, raw: Bytes, error: crate::parse::ParseError) {
        if !self.greeted {
            let text = String::from_utf8_lossy(&raw).trim_end().to_owned();
            return self.close(ConnectionError::MalformedGreeting(text));
        }
        let mut words = raw.splitn(3, |&b| b == b' ' || b == b'\r');
        let (tag, status) = (words.next(), words.next());
        if let (Some(tag), Some(status)) = (tag, status)
            && let Some(kind) = ["OK", "NO", "BAD"]
                .iter()
                .find(|k| status.eq_ignore_ascii_case(k.as_bytes()))
            && self.inflight.iter().any(|c| c.tag.as_bytes() == tag)
        {
            let mut line = tag.to_vec();
            line.push(b' ');
            line.extend_from_slice(kind.as_bytes());
            line.extend_from_slice(b"\r\n");
            let bytes = Bytes::from(line);
            if let Ok((Response::Status(s), _)) = crate::parse::response(&bytes) {
                let defect = Defect {
                    kind: DefectKind::TextDropped,
                    offset: tag.len() + 1 + status.len(),
                };
                let rec = Received::new(bytes.clone(), vec![defect]);
                return self.tagged(s, rec);
            }
        }
        self.events
            .push_back(Event::Update(Update::Malformed { bytes: raw, error }));
    }

    fn greeting(&mut self, resp: Response<'_>) {
        match resp {
            Response::Status(s) if s.tag.is_none() => match s.kind {
                StatusKind::Ok | StatusKind::PreAuth => {
                    self.greeted = true;
                    let kind = if s.kind == StatusKind::PreAuth {
                        self.authenticated = true;
                        Greeting::PreAuth
                    } else {
                        Greeting::Ok
                    };
                    self.events.push_back(Event::Greeting {
                        kind,
                        text: text_of(&s.text),
                    });
                    if let Some(Code::Capability(c)) = &s.code {
                        self.set_caps(Capabilities::from_atoms(c.iter()));
                    }
                    if let Some(Code::Alert) = &s.code {
                        self.events
                            .push_back(Event::Update(Update::Alert(text_of(&s.text))));
                    }
                    self.ask_capabilities();
                    self.pump();
                }
                StatusKind::Bye => self.close(ConnectionError::Refused(text_of(&s.text))),
                _ => self.close(ConnectionError::MalformedGreeting(text_of(&s.text))),
            },
            _ => self.close(ConnectionError::MalformedGreeting(
                "not an untagged status".into(),
            )),
        }
    }

    fn set_caps(&mut self, caps: Capabilities) {
        self.caps = Some(caps.clone());
        self.events.push_back(Event::Capabilities(caps));
    }

    fn continuation(&mut self, c: Continue<'_>, rec: Received) {
        let Some(cmd) = self.inflight.iter_mut().find(|c| c.awaits_continuation()) else {
            self.events.push_back(Event::Update(Update::Other(rec)));
            return;
        };
        if let Some(next) = cmd.rest.pop_front() {
            self.out.extend_from_slice(&next);
            if cmd.rest.is_empty() {
                // The command is fully sent: the next may follow.
                self.pump();
            }
            return;
        }
        if let Some(sasl) = cmd.sasl.as_mut() {
            let reply = decode_challenge(c.text.as_bytes())
                .map_err(|_| ())
                .and_then(|ch| sasl.step(&ch).map_err(|_| ()));
            match reply {
                Ok(r) => {
                    self.out.extend_from_slice(b64(&r).as_bytes());
                    self.out.extend_from_slice(b"\r\n");
                }
                Err(()) => {
                    // RFC 9051 §6.2.2: `*` cancels; the server answers BAD.
                    self.out.extend_from_slice(b"*\r\n");
                    cmd.sasl_cancelled = true;
                }
            }
            return;
        }
        if let Some(Idle::Sent { announce, done }) = cmd.idle {
            let handle = cmd.handle;
            if done {
                cmd.idle = Some(Idle::Ending { refresh: false });
                self.out.extend_from_slice(b"DONE\r\n");
            } else {
                cmd.idle = Some(Idle::Active);
            }
            if announce {
                self.events.push_back(Event::IdleStarted { handle });
            }
        }
    }

    fn tagged(&mut self, s: StatusResponse<'_>, rec: Received) {
        let tag = s.tag.as_ref().map(|t| t.as_str()).unwrap_or_default();
        let Some(i) = self.inflight.iter().position(|c| c.tag == tag) else {
            self.events.push_back(Event::Update(Update::Other(rec)));
            return;
        };
        let Some(mut cmd) = self.inflight.remove(i) else {
            return;
        };
        let ok = s.kind == StatusKind::Ok;
        let mut caps_in_code = false;
        if let Some(Code::Capability(c)) = &s.code {
            caps_in_code = true;
            self.set_caps(Capabilities::from_atoms(c.iter()));
        }
        match cmd.kind {
            Kind::StartTls if ok => {
                self.wait_tls = true;
                self.caps = None;
                self.events
                    .push_back(Event::StartTls { handle: cmd.handle });
                return;
            }
            Kind::Login | Kind::Authenticate if ok => {
                if let Some(sasl) = cmd.sasl.as_mut()
                    && let Err(e) = sasl.finish(None)
                {
                    return self.close(ConnectionError::AuthenticationNotVerified(e.to_string()));
                }
                self.authenticated = true;
                if !caps_in_code {
                    // RFC 9051 §6.2.2: the capabilities may change with authentication.
                    self.caps = None;
                    self.ask_capabilities();
                }
            }
            Kind::Select => {
                self.selected = match (ok, cmd.select.take()) {
                    (true, Some(mut m)) => {
                        if let Some(code) = &s.code {
                            m.apply_code(code);
                        }
                        Some(m)
                    }
                    // RFC 9051 §6.3.2: a failed SELECT leaves no mailbox selected.
                    _ => None,
                };
            }
            Kind::Close if ok => self.selected = None,
            Kind::Idle
                if ok
                    && cmd.idle == Some(Idle::Ending { refresh: true })
                    && !self.logout_queued =>
            {
                // The refresh: issue IDLE again under the same handle.
                let tag = self.next_tag();
                let line = encode::command(
                    &Command {
                        tag: tag.clone(),
                        body: CommandBody::Idle,
                    },
                    EncodeOptions::default(),
                );
                self.out.extend_from_slice(line.as_bytes());
                cmd.tag = tag.as_str().to_owned();
                cmd.idle = Some(Idle::Sent {
                    announce: false,
                    done: false,
                });
                cmd.data.clear();
                self.inflight.push_front(cmd);
                return;
            }
            _ => {}
        }
        if let Some(code) = &s.code
            && let Some(m) = self.selected.as_mut()
            && cmd.kind != Kind::Select
            && matches!(code, Code::HighestModSeq(_))
        {
            m.apply_code(code);
        }
        if !cmd.internal {
            self.events.push_back(Event::Completed(Completion {
                handle: cmd.handle,
                command: cmd.name,
                status: s.kind,
                tagged: rec,
                data: cmd.data,
            }));
        }
        if cmd.kind == Kind::Logout {
            return self.close(ConnectionError::Logout);
        }
        self.pump();
    }

    /// The index of the oldest command of a kind.
    fn find(&self, f: impl Fn(Kind) -> bool) -> Option<usize> {
        self.inflight.iter().position(|c| f(c.kind))
    }

    /// The SELECT/EXAMINE in progress, if any.
    fn select_index(&self) -> Option<usize> {
        self.find(|k| k == Kind::Select)
    }

    fn push_data(&mut self, i: usize, rec: Received) {
        let max = self.options.max_responses_per_command;
        let Some(c) = self.inflight.get_mut(i) else {
            return;
        };
        if c.data.len() >= max {
            return self.close(ConnectionError::TooManyResponses);
        }
        c.data.push(rec);
    }

    /// Gives the response to the command `i`, or else as an update.
    fn deliver(
        &mut self,
        i: Option<usize>,
        rec: Received,
        update: impl FnOnce(Received) -> Update,
    ) {
        match i {
            Some(i) => self.push_data(i, rec),
            None => self.events.push_back(Event::Update(update(rec))),
        }
    }

    /// The oldest command that is not the machine's own.
    fn oldest(&self) -> Option<usize> {
        self.inflight.iter().position(|c| !c.internal)
    }

    fn untagged_status(&mut self, s: StatusResponse<'_>, rec: Received) {
        if s.kind == StatusKind::Bye {
            self.bye = Some(text_of(&s.text));
            let logout = self.find(|k| k == Kind::Logout);
            return self.deliver(logout, rec, |r| {
                Update::Bye(r.status().map(|s| text_of(&s.text)).unwrap_or_default())
            });
        }
        match &s.code {
            Some(Code::Alert) => {
                self.events
                    .push_back(Event::Update(Update::Alert(text_of(&s.text))));
                return;
            }
            Some(Code::Capability(c)) => {
                self.set_caps(Capabilities::from_atoms(c.iter()));
                return;
            }
            Some(Code::Closed) => {
                // RFC 7162 §3.2.11: the previous mailbox is closed; what
                // follows belongs to the one being selected.
                self.selected = None;
            }
            Some(code) => {
                if let Some(i) = self.select_index() {
                    if let Some(m) = self.inflight[i].select.as_mut() {
                        m.apply_code(code);
                    }
                    return self.push_data(i, rec);
                }
                if let Some(m) = self.selected.as_mut() {
                    m.apply_code(code);
                }
            }
            None => {}
        }
        let i = self.oldest();
        self.deliver(i, rec, Update::Notice);
    }

    /// The mailbox that mailbox data applies to: the one being selected,
    /// else the selected one; with the SELECT's index if any.
    fn mailbox_mut(&mut self) -> (Option<usize>, Option<&mut SelectedMailbox>) {
        match self.select_index() {
            Some(i) => (Some(i), self.inflight[i].select.as_mut()),
            None => (None, self.selected.as_mut()),
        }
    }

    fn data(&mut self, d: Data<'_>, rec: Received) {
        match d {
            Data::Exists(n) => {
                let (sel, m) = self.mailbox_mut();
                if let Some(m) = m {
                    m.exists = n;
                }
                self.deliver(sel, rec, |_| Update::Exists(n));
            }
            Data::Recent(n) => {
                let (sel, m) = self.mailbox_mut();
                if let Some(m) = m {
                    m.recent = Some(n);
                }
                self.deliver(sel, rec, |_| Update::Recent(n));
            }
            Data::Flags(f) => {
                let flags: Vec<Flag<'static>> = f.into_iter().map(Flag::into_owned).collect();
                let (sel, m) = self.mailbox_mut();
                if let Some(m) = m {
                    m.flags = flags.clone();
                }
                match sel {
                    Some(i) => self.push_data(i, rec),
                    None => self.events.push_back(Event::Update(Update::Flags(flags))),
                }
            }
            Data::Expunge(n) => {
                if let (_, Some(m)) = self.mailbox_mut() {
                    m.expunge(n.get());
                }
                self.events.push_back(Event::Update(Update::Expunge(n)));
            }
            Data::Vanished {
                earlier: true,
                uids: _,
            } => {
                // RFC 7162 §3.2.10: the answer to a UID FETCH (VANISHED) or a
                // SELECT (QRESYNC).
                let i = self.find(|k| matches!(k, Kind::Fetch { uid: true } | Kind::Select));
                self.deliver(i, rec, Update::Other);
            }
            Data::Vanished {
                earlier: false,
                uids,
            } => {
                if let (_, Some(m)) = self.mailbox_mut() {
                    m.exists = m.exists.saturating_sub(set_len(&uids, m.exists));
                }
                self.events.push_back(Event::Update(Update::Vanished(uids)));
            }
            Data::Fetch { seq, items } => self.fetch(seq, &items, rec),
            Data::Capability(c) => {
                self.set_caps(Capabilities::from_atoms(c.iter()));
                if let Some(i) = self.find(|k| k == Kind::Capability)
                    && !self.inflight[i].internal
                {
                    self.push_data(i, rec);
                }
            }
            Data::Enabled(c) => {
                for cap in Capabilities::from_atoms(c.iter()).as_slice() {
                    if !self.enabled.has(cap) {
                        self.enabled.push(cap.clone());
                    }
                }
                let i = self.find(|k| k == Kind::Enable);
                self.deliver(i, rec, Update::Other);
            }
            Data::ESearch { tag: Some(t), .. } => {
                let i = self
                    .inflight
                    .iter()
                    .position(|c| c.tag.as_bytes() == t.as_bytes());
                self.deliver(i, rec, Update::Other);
            }
            Data::Search { .. } | Data::ESearch { .. } => {
                let i = self.find(|k| matches!(k, Kind::Search { .. }));
                self.deliver(i, rec, Update::Other);
            }
            Data::Sort { .. } => {
                let i = self.find(|k| k == Kind::Sort);
                self.deliver(i, rec, Update::Other);
            }
            Data::Thread(_) => {
                let i = self.find(|k| k == Kind::Thread);
                self.deliver(i, rec, Update::Other);
            }
            Data::List(_) | Data::Lsub(_) | Data::XList(_) => {
                let i = self.find(|k| matches!(k, Kind::List | Kind::Select));
                self.deliver(i, rec, Update::Other);
            }
            Data::Status { .. } => {
                let i = self.find(|k| matches!(k, Kind::Status | Kind::List));
                self.deliver(i, rec, Update::Other);
            }
            Data::Namespace { .. } => {
                let i = self.find(|k| k == Kind::Namespace);
                self.deliver(i, rec, Update::Other);
            }
            Data::Id(_) => {
                let i = self.find(|k| k == Kind::Id);
                self.deliver(i, rec, Update::Other);
            }
            Data::Quota { .. } | Data::QuotaRoot { .. } => {
                let i = self.find(|k| k == Kind::Quota);
                self.deliver(i, rec, Update::Other);
            }
            Data::Metadata { .. } => {
                let i = self.find(|k| k == Kind::Metadata);
                self.deliver(i, rec, Update::Other);
            }
            _ => {
                let i = self.oldest();
                self.deliver(i, rec, Update::Other);
            }
        }
    }

    /// The FETCH or STORE in progress whose set holds this message, or, for
    /// a response carrying more than flags, the oldest one.
    fn fetch_target(
        &self,
        seq: NonZeroU32,
        uid: Option<NonZeroU32>,
        flags_only: bool,
    ) -> Option<usize> {
        let exists = self.selected.as_ref().map_or(u32::MAX, |m| m.exists.max(1));
        let hit = self.inflight.iter().position(|c| match (c.kind, &c.set) {
            (Kind::Fetch { uid: false } | Kind::Store { uid: false }, Some(set)) => {
                set_contains(set, seq.get(), exists)
            }
            (Kind::Fetch { uid: true } | Kind::Store { uid: true }, Some(set)) => {
                uid.is_some_and(|u| set_contains(set, u.get(), u32::MAX))
            }
            _ => false,
        });
        if hit.is_some() {
            return hit;
        }
        // RFC 7162 §3.2.5.1: SELECT (QRESYNC) answers with FETCH responses.
        if let Some(i) = self.select_index() {
            return Some(i);
        }
        if flags_only {
            return None;
        }
        self.find(|k| matches!(k, Kind::Fetch { .. } | Kind::Store { .. } | Kind::Select))
    }

    fn fetch(&mut self, seq: NonZeroU32, items: &[FetchItem<'_>], rec: Received) {
        let mut uid = None;
        let mut flags = None;
        let mut modseq = None;
        let mut flags_only = true;
        for it in items {
            match it {
                FetchItem::Uid(u) => uid = Some(*u),
                FetchItem::Flags(f) => {
                    flags = Some(f.iter().cloned().map(Flag::into_owned).collect());
                }
                FetchItem::ModSeq(m) => modseq = Some(*m),
                _ => flags_only = false,
            }
        }
        match self.fetch_target(seq, uid, flags_only) {
            Some(i) => self.push_data(i, rec),
            None => self.events.push_back(Event::Update(Update::Fetch {
                seq,
                uid,
                flags,
                modseq,
                response: rec,
            })),
        }
        if let (Some(m), Some(ms)) = (self.selected.as_mut(), modseq)
            && m.highest_modseq.is_some_and(|h| h < ms)
        {
            m.highest_modseq = Some(ms);
        }
    }
}

/// True if `set` holds `n` (`*` is `largest`).
fn set_contains(set: &SequenceSet, n: u32, largest: u32) -> bool {
    let val = |s: SeqNum| match s {
        SeqNum::Value(v) => v.get(),
        SeqNum::Largest => largest,
    };
    match set {
        SequenceSet::Saved => true,
        SequenceSet::Set(ranges) => ranges.iter().any(|r| {
            let (a, b) = match *r {
                SeqRange::Single(x) => (val(x), val(x)),
                SeqRange::Range(x, y) => (val(x), val(y)),
            };
            a.min(b) <= n && n <= a.max(b)
        }),
    }
}

/// How many numbers `set` holds, counted by ranges (never iterated) and
/// capped at `cap`.
fn set_len(set: &SequenceSet, cap: u32) -> u32 {
    let SequenceSet::Set(ranges) = set else {
        return 0;
    };
    let val = |s: SeqNum| match s {
        SeqNum::Value(v) => u64::from(v.get()),
        SeqNum::Largest => u64::from(u32::MAX),
    };
    let total: u64 = ranges
        .iter()
        .map(|r| match *r {
            SeqRange::Single(_) => 1,
            SeqRange::Range(a, b) => val(a).abs_diff(val(b)) + 1,
        })
        .sum();
    u32::try_from(total.min(u64::from(cap))).unwrap_or(cap)
}

/// For a literal announced in `* n FETCH (... ITEM {len}`: the message
/// number, its UID if it came before, and the item, when the item is a
/// message body worth streaming (`BODY[...]`, `BINARY[...]`, `RFC822`,
/// `RFC822.TEXT`).
fn stream_context(pending: &[u8]) -> Option<(NonZeroU32, Option<NonZeroU32>, Bytes)> {
    let rest = pending.strip_prefix(b"* ")?;
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    let seq: NonZeroU32 = std::str::from_utf8(&rest[..digits]).ok()?.parse().ok()?;
    let after = &rest[digits..];
    if after.len() < 8 || !after[..8].eq_ignore_ascii_case(b" FETCH (") {
        return None;
    }
    let line = pending.strip_suffix(b"\r\n")?;
    let mut end = memchr::memrchr(b'{', line)?;
    if end > 0 && line[end - 1] == b'~' {
        end -= 1;
    }
    let head = line[..end].strip_suffix(b" ")?;
    let upper = head.to_ascii_uppercase();
    let start = ["BODY[", "BINARY[", "RFC822"]
        .iter()
        .filter_map(|k| memchr::memmem::rfind(&upper, k.as_bytes()))
        .max()?;
    if start == 0 || !matches!(upper[start - 1], b' ' | b'(') {
        return None;
    }
    let item = &upper[start..];
    let ok = item.starts_with(b"BODY[") && item.contains(&b']')
        || item.starts_with(b"BINARY[") && item.contains(&b']')
        || item == b"RFC822"
        || item == b"RFC822.TEXT";
    if !ok {
        return None;
    }
    Some((
        seq,
        uid_before(&upper[..start]),
        Bytes::copy_from_slice(&head[start..]),
    ))
}

/// `UID n` in the upper-cased start of a FETCH response.
fn uid_before(upper: &[u8]) -> Option<NonZeroU32> {
    let mut from = 0;
    while let Some(k) = memchr::memmem::find(&upper[from..], b"UID ") {
        let at = from + k;
        if at > 0 && matches!(upper[at - 1], b' ' | b'(') {
            let digits: Vec<u8> = upper[at + 4..]
                .iter()
                .copied()
                .take_while(u8::is_ascii_digit)
                .collect();
            return std::str::from_utf8(&digits).ok()?.parse().ok();
        }
        from = at + 4;
    }
    None
}

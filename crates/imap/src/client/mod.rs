//! The IMAP client state machine (RFC 9051 IMAP4rev2 and RFC 3501
//! IMAP4rev1, with IDLE, LITERAL+/LITERAL-, SASL-IR, ENABLE, CONDSTORE,
//! QRESYNC, MOVE, UIDPLUS and COMPRESS=DEFLATE).
//!
//! ```text
//! S: * OK [CAPABILITY IMAP4rev2 STARTTLS LOGINDISABLED] hi   Event::Greeting, Event::Capabilities
//!                                       (no capabilities in it: the machine asks CAPABILITY first)
//! C: A1 STARTTLS                        queued by the application
//! S: A1 OK go                           Event::StartTls; the driver runs TLS, then
//!                                       handle_tls_established
//! C: A2 CAPABILITY                      capabilities forgotten and asked again
//! S: * CAPABILITY IMAP4rev2 AUTH=PLAIN
//! S: A2 OK done
//! C: A3 AUTHENTICATE PLAIN AGZyZWQAc2VjcmV0   Client::authenticate, SASL-IR when offered
//! S: A3 OK [CAPABILITY IMAP4rev2 IDLE] done   Event::Completed (and the new capabilities)
//! C: A4 SELECT INBOX                    state-changing: waits for everything before it
//! C: A5 FETCH 1:* (FLAGS)               pipelined where RFC 9051 §5.5 allows
//! C: A6 SEARCH UNSEEN
//! S: * 3 FETCH ...  A5 OK ...           one Event::Completed per command, with its data
//! S: * 4 EXISTS                         Event::Update, applied to Client::selected
//! C: A7 COMPRESS DEFLATE                waits for everything before it (RFC 4978)
//! S: A7 OK DEFLATE active               Event::Compress; the driver takes
//!                                       take_compressed_input, layers DEFLATE
//!                                       both ways, then handle_compression_started
//! C: A8 NOOP                            compressed from here on, both ways
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
//! - STARTTLS, COMPRESS, AUTHENTICATE, LOGIN, SELECT, EXAMINE, ENABLE, IDLE,
//!   CLOSE, UNSELECT and LOGOUT change the session's state: each waits until every
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
//! # COMPRESS=DEFLATE (RFC 4978)
//!
//! `COMPRESS DEFLATE` is queued like any command and is a barrier: it waits
//! until every earlier command completed, and nothing is sent after it
//! until its answer (RFC 4978 §3: the client sends no further command
//! until it has seen the result of COMPRESS). On NO or BAD
//! (`NO [COMPRESSIONACTIVE]` when a lower layer compresses already) it
//! completes as an [`Event::Completed`] and nothing changes. On the tagged
//! OK the machine yields [`Event::Compress`], stops sending (commands
//! queued meanwhile stay queued) and stops reading: the server compresses
//! everything after the CRLF of its OK, so bytes that came after it in the
//! same read, or are fed before the switch, are never parsed but kept for
//! [`Client::take_compressed_input`]. The driver then puts DEFLATE (RFC
//! 1951, raw, with a sync flush after each write) between the machine and
//! TLS or the socket (app, DEFLATE, TLS, socket), calls
//! [`Client::handle_compression_started`], and feeds the inflated leftover
//! back through [`Client::handle_input`]. The machine itself never sees a
//! compressed byte.
//!
//! ```text
//! C: A1 COMPRESS DEFLATE
//! S: A1 OK DEFLATE active<compressed bytes...>   Event::Compress
//!    take_compressed_input() == <compressed bytes...>
//!    handle_compression_started(now)             queued commands flow again
//! ```
//!
//! # IDLE (RFC 2177)
//!
//! IDLE is queued like any command; [`Event::IdleStarted`] says the server
//! accepted it. Updates then arrive as [`Event::Update`] until the
//! application calls [`Client::idle_done`] (commands queued meanwhile wait
//! for that). Before [`Options::idle_refresh`] passes the machine sends
//! DONE and IDLE again by itself, without events.
//!
//! # Leniency
//!
//! A response that does not parse is repaired where a real server's
//! mistake is plain (a stray or missing parenthesis, a space too many or
//! missing, a number out of range, `NIL` for a string): each repair is a
//! [`Defect`] on the [`Received`] response. One that cannot be repaired is
//! discarded alone ([`Update::Malformed`]); a tagged one still completes
//! its command. Framing faults and over-limit input are fatal. What the
//! machine sends is always strict: the encoder refuses invalid values.
//!
//! # Large messages
//!
//! A `BODY[...]`, `BINARY[...]` or `RFC822` literal in a FETCH response that
//! is larger than [`Options::stream_threshold`] is never buffered whole: it
//! is handed out as [`Event::FetchChunk`]s as it arrives, so fetching a
//! 1 GiB message needs memory for one read, not for the message.

mod error;
mod event;
mod receive;
mod repair;
mod send;
mod state;
#[cfg(test)]
mod tests;

pub use error::{ConnectionError, NotIdling, SendError};
pub use event::{CommandHandle, Completion, Defect, DefectKind, Event, Greeting, Received, Update};
pub use state::{Capabilities, SelectedMailbox};

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::fragment::{FragmentOptions, Fragmenter};
use crate::types::command::CommandBody;
use crate::types::core::Tag;
use mailwire_line::timer::TimerTable;
use receive::Streaming;
use send::{Idle, InFlight, Kind, Queued};

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

/// The IMAP client machine.
///
/// Method groups (STYLE.md (a)):
/// - getters: [`is_closed`](Self::is_closed), [`wants_read`](Self::wants_read),
///   [`capabilities`](Self::capabilities), [`enabled`](Self::enabled),
///   [`selected`](Self::selected), [`is_authenticated`](Self::is_authenticated),
///   [`is_idle`](Self::is_idle), [`is_compressed`](Self::is_compressed);
/// - inputs: [`handle_input`](Self::handle_input), [`handle_eof`](Self::handle_eof),
///   [`handle_timeout`](Self::handle_timeout),
///   [`handle_tls_established`](Self::handle_tls_established),
///   [`handle_compression_started`](Self::handle_compression_started);
/// - commands: [`enqueue_command`](Self::enqueue_command),
///   [`authenticate`](Self::authenticate), [`idle_done`](Self::idle_done),
///   [`take_compressed_input`](Self::take_compressed_input);
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
    /// COMPRESS is active (RFC 4978): the driver inflates and deflates.
    compressed: bool,
    /// The tagged OK to COMPRESS arrived; waiting for the driver to switch.
    wait_compress: bool,
    /// Bytes received after the tagged OK to COMPRESS: raw DEFLATE data for
    /// the driver to inflate ([`Client::take_compressed_input`]).
    compressed_input: Vec<u8>,
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
        let frag = Fragmenter::new(frag_options(&options));
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
            compressed: false,
            wait_compress: false,
            compressed_input: Vec::new(),
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

    /// True once COMPRESS is active (RFC 4978 §3): after
    /// [`handle_compression_started`](Self::handle_compression_started).
    pub fn is_compressed(&self) -> bool {
        self.compressed
    }

    // ----- commands ------------------------------------------------------

    /// Queues a command; it is sent as soon as the rules of pipelining
    /// allow (see the module docs). Then drain the outputs.
    ///
    /// Refused, with the command handed back: anything after LOGOUT or
    /// once closed; LOGIN under LOGINDISABLED ([`SendError::LoginDisabled`]);
    /// AUTHENTICATE (use [`authenticate`](Self::authenticate)); STARTTLS
    /// when TLS is active; a second IDLE; COMPRESS while one is queued, in
    /// progress or active (RFC 4978 §3: a second COMPRESS is an error).
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
            CommandBody::Compress { .. } if self.compress_pending() => {
                return Err(SendError::NotAllowed(body));
            }
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

    /// Takes the bytes that arrived after the tagged OK to COMPRESS (RFC
    /// 4978 §3): the server compresses everything after the CRLF of that OK,
    /// so they are raw DEFLATE data, never parsed here. After
    /// [`Event::Compress`], take them, inflate them with the new DEFLATE
    /// layer and feed the result back through
    /// [`handle_input`](Self::handle_input) once
    /// [`handle_compression_started`](Self::handle_compression_started) was
    /// called. Bytes fed between the event and that call are added here too.
    /// Empty at any other time.
    pub fn take_compressed_input(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.compressed_input)
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
        if self.wait_compress {
            // Compressed already (RFC 4978 §3): for the driver to inflate.
            self.compressed_input.extend_from_slice(data);
            return;
        }
        self.frag.push(data);
        self.process();
        if !self.closed && self.wait_tls && self.frag.buffered() > 0 {
            // Bytes after the tagged OK to STARTTLS in the same read.
            self.close(ConnectionError::PlaintextAfterStartTls);
        }
        if !self.closed && self.wait_compress && self.frag.buffered() > 0 {
            self.split_compressed(data);
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

    /// DEFLATE is in place both ways after [`Event::Compress`] (RFC 4978
    /// §3): from now on everything the machine sends is compressed by the
    /// driver, and what it is fed has been inflated. Queued commands flow
    /// again. Feed the inflated [`take_compressed_input`](Self::take_compressed_input)
    /// next, then drain the outputs. Does nothing at any other time.
    pub fn handle_compression_started(&mut self, now: Instant) {
        if self.closed || !self.wait_compress {
            return;
        }
        self.wait_compress = false;
        self.compressed = true;
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
        mailwire_line::drain_into(&mut self.out, buf)
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

    /// The tagged OK to COMPRESS ended within `data`, the bytes just fed:
    /// what the fragmenter holds after it is compressed data. It came whole
    /// from `data` (the OK itself completed in this read, and every earlier
    /// byte was framed), so it is the end of `data`; the fragmenter is
    /// replaced by an empty one, as no plaintext is left to frame.
    fn split_compressed(&mut self, data: &[u8]) {
        let n = self.frag.buffered();
        debug_assert!(n <= data.len());
        let n = n.min(data.len());
        self.compressed_input
            .extend_from_slice(&data[data.len() - n..]);
        self.frag = Fragmenter::new(frag_options(&self.options));
    }

    fn check_event_limit(&mut self) {
        if self.events.len() > self.options.max_pending_events.saturating_mul(2) {
            self.close(ConnectionError::TooManyResponses);
        }
    }
}

/// The fragmenter's limits, from the client's options.
fn frag_options(options: &Options) -> FragmentOptions {
    FragmentOptions {
        max_line: options.max_line,
        max_literal: options.max_literal,
        max_message: options.max_response,
        blank_line_after_literal_continues: options.blank_line_after_literal_continues,
        max_streamed_literal: options.max_streamed_literal,
    }
}

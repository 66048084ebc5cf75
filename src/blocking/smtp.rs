//! [`SmtpTransport`]: the sans-IO SMTP client machine
//! ([`mailwire_smtp::client`]) run over a blocking [`Connection`], for
//! submission (RFC 6409) or relaying.
//!
//! ```no_run
//! use mailwire::blocking::{Security, SmtpOptions, SmtpTransport};
//! use mailwire::mime::builder::{MessageBuilder, PartBuilder};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let message = MessageBuilder::new()
//!     .header("From", "Fred <fred@example.org>")?
//!     .header("To", "wilma@example.net")?
//!     .header("Bcc", "barney@example.net")?
//!     .header("Subject", "Report")?
//!     .text("See the attachment.\r\n")
//!     .attachment(PartBuilder::attachment("application/pdf", "r.pdf", std::fs::read("r.pdf")?))
//!     .build();
//! let options = SmtpOptions::new().security(Security::StartTls).login("fred", "secret");
//! let mut smtp = SmtpTransport::connect("smtp.example.org:587", options)?;
//! let outcome = smtp.send(&message)?; // envelope from From/To/Cc/Bcc, Bcc removed
//! for r in &outcome.recipients {
//!     println!("{:?}: {}", r.to, r.delivered);
//! }
//! smtp.quit()?;
//! # Ok(()) }
//! ```
//!
//! - The connection is implicit TLS (port 465) by default, or STARTTLS
//!   (RFC 3207) required, or opportunistic with
//!   [`SmtpOptions::opportunistic_tls`]; certificates are verified (webpki
//!   roots, or a custom CA: [`Verification`](super::Verification)).
//! - AUTH (RFC 4954) uses the best mechanism both sides have
//!   ([`mailwire_sasl::choose`]); never a password in the clear unless
//!   [`Options::allow_plaintext_auth`] says so.
//! - A message goes as one transaction; the [`Outcome`] holds each
//!   recipient's reply. The connection stays open for the next message,
//!   and is opened again when the server closed it between messages.
//! - [`SmtpTransport::send_reader`] streams a message of any size from a
//!   reader: memory stays bounded by [`Options::body_buffer`] and
//!   [`Options::bdat_chunk_size`] (1 MiB each by default).

use std::collections::VecDeque;
use std::io::{self, Read};
use std::time::{Duration, Instant};

use bytes::Bytes;
use mailwire_message::{EnvelopeError, Message, derive_envelope};
use mailwire_sasl::{Credentials, Mechanism, Secret};
use mailwire_smtp::client::{
    Client, Envelope, Event, MailError, MailHandle, Options, Outcome, TlsMode,
};
use mailwire_smtp::{BodyType, Capabilities, ConnectionError, Mailbox, Reply, ReversePath};

use super::tls::{Connection, Security, TransportError, TransportOptions};
use super::{Conn, Source, SyncSource, block_on};

/// Transport settings.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct SmtpOptions {
    /// Address, TLS and connect/write timeouts. Default: implicit TLS
    /// (submissions, port 465, RFC 8314), certificates verified against
    /// the webpki roots.
    pub transport: TransportOptions,
    /// With [`Security::StartTls`]: go on in plaintext when the server does
    /// not offer STARTTLS (opportunistic TLS, as MX relaying does; RFC 3207
    /// §4). Default false: STARTTLS is required. A certificate that does
    /// not verify is refused either way.
    pub opportunistic_tls: bool,
    /// The client machine's settings: EHLO name, AUTH credentials and
    /// mechanisms, PIPELINING/CHUNKING use, limits, and the RFC 5321
    /// §4.5.3.2 timeouts (which bound every read). STARTTLS and implicit
    /// TLS are set from `transport`.
    pub machine: Options,
}

impl SmtpOptions {
    /// The defaults.
    pub fn new() -> SmtpOptions {
        SmtpOptions::default()
    }

    /// How the connection is protected ([`TransportOptions::security`]).
    pub fn security(mut self, security: Security) -> SmtpOptions {
        self.transport.security = security;
        self
    }

    /// AUTH with a user name and password (RFC 4954), with the best SASL
    /// mechanism the server offers (SCRAM when it can, PLAIN/LOGIN only
    /// under TLS unless [`Options::allow_plaintext_auth`]).
    pub fn login(mut self, user: &str, password: &str) -> SmtpOptions {
        self.machine.credentials = Some(Credentials::password(
            user.to_owned(),
            Secret::new(password.to_owned()),
        ));
        self
    }
}

/// Everything that can go wrong; the server's replies are kept.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SmtpError {
    /// The connection or TLS failed (a refused certificate included).
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The session ended: the server refused it (greeting, EHLO, 421, with
    /// its code and text), STARTTLS was required and not offered, AUTH
    /// failed (with the server's reply), a timeout, or a protocol error.
    #[error("SMTP session closed: {0}")]
    Closed(ConnectionError),
    /// The message was not attempted: too large for the server's SIZE,
    /// 8-bit content or SMTPUTF8 or DSN the server lacks, ...
    #[error("message not sent: {0}")]
    NotSent(MailError),
    /// The server refused the message for every recipient: MAIL, every
    /// RCPT, or the data was refused. The replies are in the outcome.
    #[error("message refused: {}", decisive_reply(.0))]
    Refused(Box<Outcome>),
    /// The message lacks a sender or recipients in its header.
    #[error("envelope: {0}")]
    Envelope(#[from] EnvelopeError),
    /// An address cannot be used in SMTP.
    #[error("address {0:?} cannot be used in SMTP")]
    Address(String),
    /// The message's header section is larger than the limit of
    /// [`SmtpTransport::send_reader`].
    #[error("header section over {0} octets")]
    HeaderTooLarge(usize),
    /// Reading the message failed; the message was aborted (nothing of it
    /// delivered). After DATA that means closing the connection.
    #[error("reading the message: {0}")]
    Source(#[source] io::Error),
    /// No host receives mail for the domain, or the lookup failed
    /// (feature `mx`).
    #[cfg(feature = "mx")]
    #[error(transparent)]
    Mx(#[from] super::mx::MxError),
}

/// The reply that tells why a refused message was refused.
fn decisive_reply(o: &Outcome) -> String {
    let refused =
        |r: &Option<Reply<'static>>| r.as_ref().filter(|r| !r.code().is_positive()).cloned();
    refused(&o.mail)
        .or_else(|| refused(&o.data))
        .or_else(|| o.recipients.iter().find_map(|r| refused(&r.reply)))
        .map(|r| r.to_string())
        .unwrap_or_else(|| "no reply".to_owned())
}

/// The largest header section [`SmtpTransport::send_reader`] reads to
/// derive the envelope.
pub const MAX_HEADER: usize = 1 << 20;

/// Size of each read from a message source.
pub(crate) const READ_CHUNK: usize = 64 * 1024;

/// A connection idle for longer than this is checked for a server that
/// closed it (or said 421) before a message goes.
pub(crate) const IDLE_CHECK: Duration = Duration::from_secs(1);

/// Pieces at least this long are written as they are, not gathered.
pub(crate) const DIRECT_WRITE: usize = 16 * 1024;

/// What the driver must do after an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    /// Nothing.
    None,
    /// Flush, run the TLS handshake, then `handle_tls_established`.
    StartTls,
    /// Flush the last bytes and close the socket.
    Close,
}

/// The part of an SMTP transport that does no I/O, shared by the blocking
/// and the tokio drivers: the machine and what its events said.
#[derive(Debug)]
pub(crate) struct Session {
    pub(crate) client: Client,
    pub(crate) caps: Option<Capabilities<'static>>,
    pub(crate) authenticated: Option<Mechanism>,
    results: VecDeque<(MailHandle, Result<Outcome, MailError>)>,
    pub(crate) noop: Option<Reply<'static>>,
    pub(crate) closed: Option<ConnectionError>,
}

/// A message being streamed from a source.
#[derive(Debug)]
pub(crate) struct Streaming {
    pub(crate) handle: MailHandle,
    pub(crate) source_error: Option<SmtpError>,
    pub(crate) ended: bool,
    eight_bit_ok: bool,
    binary: bool,
}

impl Session {
    /// A session at the start of a connection, set up from `options`.
    pub(crate) fn new(options: &SmtpOptions) -> Session {
        let mut machine = options.machine.clone();
        machine.implicit_tls = options.transport.security == Security::Implicit;
        machine.starttls = match options.transport.security {
            Security::StartTls if options.opportunistic_tls => TlsMode::Opportunistic,
            Security::StartTls => TlsMode::Required,
            Security::Plain | Security::Implicit => TlsMode::Disabled,
        };
        if machine.sasl_nonce.is_empty() {
            machine.sasl_nonce = super::random_nonce().unwrap_or_default();
        }
        Session {
            client: Client::new(machine, Instant::now()),
            caps: None,
            authenticated: None,
            results: VecDeque::new(),
            noop: None,
            closed: None,
        }
    }

    /// Records what one event says.
    pub(crate) fn on_event(&mut self, ev: Event) -> Action {
        match ev {
            Event::StartTls => return Action::StartTls,
            Event::Authenticated(m) => self.authenticated = Some(m),
            Event::Ready(caps) => self.caps = Some(caps),
            Event::MailSent { handle, result } => self.results.push_back((handle, result)),
            Event::Noop(r) => self.noop = Some(r),
            Event::Closed { reason } => {
                self.closed = Some(reason);
                return Action::Close;
            }
            _ => {}
        }
        Action::None
    }

    /// The session's end as an error, once it ended.
    pub(crate) fn check(&self) -> Result<(), SmtpError> {
        match &self.closed {
            Some(reason) => Err(SmtpError::Closed(reason.clone())),
            None => Ok(()),
        }
    }

    pub(crate) fn closed_error(&self) -> SmtpError {
        SmtpError::Closed(self.closed.clone().unwrap_or(ConnectionError::Local))
    }

    /// True when the machine cannot take a message any more.
    pub(crate) fn is_over(&self) -> bool {
        self.closed.is_some() || self.client.is_closed()
    }

    pub(crate) fn has_result(&self, h: MailHandle) -> bool {
        self.results.iter().any(|(x, _)| *x == h)
    }

    /// The result of message `h`: `Ok` when at least one recipient got it.
    pub(crate) fn take_result(&mut self, h: MailHandle) -> Result<Outcome, SmtpError> {
        let result = self.take_mail_result(h)?;
        self.judge(result)
    }

    /// The machine's result for `h` as it came; the session's end when
    /// there is none.
    fn take_mail_result(&mut self, h: MailHandle) -> Result<Result<Outcome, MailError>, SmtpError> {
        let i = self.results.iter().position(|(x, _)| *x == h);
        match i.and_then(|i| self.results.remove(i)) {
            Some((_, result)) => Ok(result),
            None => Err(self.closed_error()),
        }
    }

    /// A transaction's result as the facade reports it: `Ok` when at least
    /// one recipient got the message.
    fn judge(&self, result: Result<Outcome, MailError>) -> Result<Outcome, SmtpError> {
        match result {
            Ok(o) if o.is_delivered() => Ok(o),
            Ok(o) => Err(SmtpError::Refused(Box::new(o))),
            Err(MailError::ConnectionLost(r)) => Err(SmtpError::Closed(r)),
            Err(e) => Err(SmtpError::NotSent(e)),
        }
    }

    /// Hands a whole message to the machine.
    pub(crate) fn send_mail(
        &mut self,
        envelope: Envelope,
        message: Bytes,
    ) -> Result<MailHandle, SmtpError> {
        self.client
            .send_mail(envelope, message)
            .map_err(|_| self.closed_error())
    }

    /// Starts a streamed message: BODY=8BITMIME declared when offered.
    pub(crate) fn start_streaming(
        &mut self,
        mut envelope: Envelope,
        size: Option<u64>,
    ) -> Result<Streaming, SmtpError> {
        let eight_bit_ok = self.caps.as_ref().is_some_and(|c| c.eightbitmime);
        if eight_bit_ok && envelope.params.body.is_none() {
            envelope.params.body = Some(BodyType::EightBitMime);
        }
        let binary = envelope.params.body == Some(BodyType::BinaryMime);
        let handle = self
            .client
            .start_mail(envelope, size)
            .map_err(|_| self.closed_error())?;
        Ok(Streaming {
            handle,
            source_error: None,
            ended: false,
            eight_bit_ok,
            binary,
        })
    }

    /// Hands what one read of the source gave to the machine: a chunk,
    /// the end (empty), or an error, which aborts the message (nothing of
    /// it may be delivered); so does 8-bit content without 8BITMIME.
    pub(crate) fn feed(&mut self, s: &mut Streaming, read: io::Result<Vec<u8>>) {
        let chunk = match read {
            Ok(c) => c,
            Err(e) => {
                s.source_error = Some(SmtpError::Source(e));
                Vec::new()
            }
        };
        if s.source_error.is_none()
            && !s.eight_bit_ok
            && !s.binary
            && chunk.iter().any(|&b| b >= 0x80)
        {
            s.source_error = Some(SmtpError::NotSent(MailError::EightBitUnsupported));
        }
        if s.source_error.is_some() {
            self.client.rset();
            s.ended = true;
        } else if chunk.is_empty() {
            let _ = self.client.end_body();
            s.ended = true;
        } else {
            let _ = self.client.push_body(Bytes::from(chunk));
        }
    }

    /// True when the source should be read now.
    pub(crate) fn wants_body(&self, s: &Streaming) -> bool {
        !s.ended && self.client.wants_body()
    }

    /// The streamed message's outcome, once its result came.
    pub(crate) fn finish_streaming(&mut self, s: Streaming) -> Result<Outcome, SmtpError> {
        let r = self.take_result(s.handle);
        match s.source_error {
            Some(e) => Err(e),
            None => r,
        }
    }
}

/// The envelope and the copy to send of an RFC 5322 message (Bcc removed).
pub(crate) fn prepare(message: &[u8]) -> Result<(Envelope, Bytes), SmtpError> {
    let parsed = Message::parse(message);
    let (env, copy) = derive_envelope(&parsed)?;
    Ok((smtp_envelope(&env)?, Bytes::from(copy)))
}

/// The message in 7 bit (RFC 6152 §3), for a server without 8BITMIME.
pub(crate) fn downgrade(copy: &[u8]) -> Bytes {
    Bytes::from(
        mailwire_mime::downgrade::downgrade_7bit(copy)
            .bytes
            .into_owned(),
    )
}

/// From the header section read first (and what came after it): the
/// envelope, the declared size of the copy without Bcc, and the octets to
/// send before the rest of the source.
pub(crate) fn prepare_streamed(
    header: &[u8],
    rest: &[u8],
    size: Option<u64>,
) -> Result<(Envelope, Option<u64>, Vec<u8>), SmtpError> {
    let (envelope, copy) = prepare(header)?;
    let size = size.map(|s| s.saturating_sub((header.len() - copy.len()) as u64));
    let mut head = copy.to_vec();
    head.extend_from_slice(rest);
    Ok((envelope, size, head))
}

/// A blocking SMTP session that sends messages one after another. See the
/// module docs.
#[derive(Debug)]
pub struct SmtpTransport {
    core: Core<Connection>,
}

impl SmtpTransport {
    /// Connects, reads the greeting, says EHLO, runs STARTTLS and AUTH as
    /// configured, and returns once the session is ready for mail.
    pub fn connect(addr: &str, options: SmtpOptions) -> Result<SmtpTransport, SmtpError> {
        let core = block_on(Core::connect(addr, options))?;
        Ok(SmtpTransport { core })
    }

    /// Connects to the mail hosts of `domain` on `port` (25 for relay),
    /// as RFC 5321 §5.1 says: its MX hosts by preference, else the domain
    /// itself (see [`super::mx`]), each address in turn until one answers
    /// with a session ready for mail; its certificate is verified for the
    /// MX host's name. The last failure is returned when none does.
    #[cfg(feature = "mx")]
    pub fn connect_domain(
        resolver: &super::mx::MxResolver,
        domain: &str,
        port: u16,
        options: SmtpOptions,
    ) -> Result<SmtpTransport, SmtpError> {
        let hosts = resolver.mail_hosts_blocking(domain, port)?;
        let core = block_on(Core::connect_hosts(domain, &hosts, &options))?;
        Ok(SmtpTransport { core })
    }

    transport_accessors!();

    /// Sends an RFC 5322 message (as [`mailwire_mime::builder::MessageBuilder`]
    /// builds it): the envelope comes from its header (Sender or From; To,
    /// Cc and Bcc, or the newest Resent-* block), and the copy sent has its
    /// Bcc fields removed. With 8-bit content and a server without
    /// 8BITMIME, the message is downgraded to 7 bit (RFC 6152 §3) and sent
    /// again.
    ///
    /// `Ok` when at least one recipient got it (check
    /// [`Outcome::all_delivered`]); [`SmtpError::Refused`] when none did.
    /// Within the server's LIMITS (RFC 9422): the recipients past its
    /// RCPTMAX or RCPTDOMAINMAX go in further transactions, and past its
    /// MAILMAX in a new session; the outcome has each one's result.
    pub fn send(&mut self, message: &[u8]) -> Result<Outcome, SmtpError> {
        block_on(self.core.send(message))
    }

    /// Sends `message` as it is with the given envelope.
    pub fn send_envelope(
        &mut self,
        envelope: Envelope,
        message: Bytes,
    ) -> Result<Outcome, SmtpError> {
        block_on(self.core.send_envelope(envelope, message))
    }

    /// Streams an RFC 5322 message from `message`: the header section
    /// (at most [`MAX_HEADER`]) is read first to derive the envelope and
    /// drop Bcc, as [`send`](Self::send) does; the rest goes out as it is
    /// read, so a message of any size needs about 2 MiB of memory.
    /// `size`, when known, is declared with SIZE. BODY=8BITMIME is
    /// declared when the server offers it; without it, 8-bit content
    /// aborts the message ([`MailError::EightBitUnsupported`]). A body
    /// read once goes in one transaction: recipients past the server's
    /// LIMITS (RFC 9422) come back in [`Outcome::unsent`], where
    /// [`send`](Self::send) sends them in further transactions.
    pub fn send_reader(
        &mut self,
        message: &mut dyn Read,
        size: Option<u64>,
    ) -> Result<Outcome, SmtpError> {
        block_on(self.core.send_reader(&mut SyncSource(message), size))
    }

    /// Streams `body` (the whole RFC 5322 message, sent as it is) with the
    /// given envelope; see [`send_reader`](Self::send_reader).
    pub fn send_envelope_reader(
        &mut self,
        envelope: Envelope,
        size: Option<u64>,
        body: &mut dyn Read,
    ) -> Result<Outcome, SmtpError> {
        block_on(
            self.core
                .send_envelope_reader(envelope, size, &mut SyncSource(body)),
        )
    }

    /// NOOP (RFC 5321 §4.1.1.9): checks that the connection still works;
    /// the server's reply.
    pub fn noop(&mut self) -> Result<Reply<'static>, SmtpError> {
        block_on(self.core.noop())
    }

    /// QUIT (RFC 5321 §4.1.1.10) and close.
    pub fn quit(mut self) -> Result<(), SmtpError> {
        block_on(self.core.quit())
    }
}

/// The accessors the blocking and the tokio transport share (they read
/// the session's state and do no I/O).
macro_rules! transport_accessors {
    () => {
        /// What the server offered (after TLS, its second EHLO reply).
        pub fn capabilities(&self) -> Option<&Capabilities<'static>> {
            self.core.s.caps.as_ref()
        }

        /// True under TLS.
        pub fn is_tls(&self) -> bool {
            self.core.conn.is_tls()
        }

        /// The SASL mechanism AUTH used, if any.
        pub fn authenticated(&self) -> Option<Mechanism> {
            self.core.s.authenticated
        }
    };
}
pub(crate) use transport_accessors;

/// The transport's logic, written once for the blocking and the tokio
/// transport ([`Conn`] is their socket, [`Source`] their message reader;
/// see [`super::block_on`]).
#[derive(Debug)]
pub(crate) struct Core<C> {
    addr: String,
    options: SmtpOptions,
    pub(crate) conn: C,
    pub(crate) s: Session,
    out: Vec<u8>,
    buf: Vec<u8>,
    /// The last time a reply was read.
    last_read: Instant,
}

impl<C: Conn> Core<C> {
    /// Connects, reads the greeting, says EHLO, runs STARTTLS and AUTH as
    /// configured; ready for mail.
    pub(crate) async fn connect(addr: &str, options: SmtpOptions) -> Result<Core<C>, SmtpError> {
        let conn = C::connect(addr, &options.transport).await?;
        let mut t = Core {
            addr: addr.to_owned(),
            s: Session::new(&options),
            options,
            conn,
            out: Vec::with_capacity(DIRECT_WRITE),
            buf: vec![0; 16 * 1024],
            last_read: Instant::now(),
        };
        t.pump_until(|t| t.s.caps.is_some()).await?;
        Ok(t)
    }

    /// The first of `hosts` (a domain's mail hosts, best first) that
    /// answers with a session ready for mail; the last failure otherwise.
    #[cfg(feature = "mx")]
    pub(crate) async fn connect_hosts(
        domain: &str,
        hosts: &[super::mx::MailHost],
        options: &SmtpOptions,
    ) -> Result<Core<C>, SmtpError> {
        let mut last = super::mx::MxError::NoHost(domain.to_owned()).into();
        for (addr, o) in super::mx::attempts(hosts, options) {
            match Core::connect(&addr, o).await {
                Ok(t) => return Ok(t),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    pub(crate) async fn send(&mut self, message: &[u8]) -> Result<Outcome, SmtpError> {
        let (envelope, copy) = prepare(message)?;
        match self.send_envelope(envelope.clone(), copy.clone()).await {
            Err(SmtpError::NotSent(MailError::EightBitUnsupported)) => {
                self.send_envelope(envelope, downgrade(&copy)).await
            }
            r => r,
        }
    }

    /// Sends `message` to the envelope's recipients, within the server's
    /// LIMITS (RFC 9422): the recipients past its RCPTMAX go in further
    /// transactions, and once the session has had MAILMAX transactions
    /// the rest goes in a new session. The outcome is the first
    /// transaction's (MAIL and data replies) with every recipient's own
    /// result.
    pub(crate) async fn send_envelope(
        &mut self,
        mut envelope: Envelope,
        message: Bytes,
    ) -> Result<Outcome, SmtpError> {
        let mut merged: Option<Outcome> = None;
        loop {
            self.reconnect_if_closed().await?;
            let h = self.s.send_mail(envelope.clone(), message.clone())?;
            self.pump_until(|t| t.s.has_result(h)).await?;
            let outcome = match self.s.take_mail_result(h)? {
                Err(MailError::MailMaxReached { .. }) => {
                    self.quit().await?;
                    continue;
                }
                Err(e) if merged.is_none() => return self.s.judge(Err(e)),
                Err(_) => break,
                Ok(o) => o,
            };
            let rest = outcome.rest(&envelope);
            match &mut merged {
                None => merged = Some(outcome),
                Some(first) => first.absorb(outcome),
            }
            match rest {
                Some(rest) => envelope = rest,
                None => break,
            }
        }
        match merged {
            Some(o) => self.s.judge(Ok(o)),
            None => Err(self.s.closed_error()),
        }
    }

    pub(crate) async fn send_reader(
        &mut self,
        message: &mut impl Source,
        size: Option<u64>,
    ) -> Result<Outcome, SmtpError> {
        let (header, rest) = read_header(message).await?;
        let (envelope, size, head) = prepare_streamed(&header, &rest, size)?;
        let mut body = Prefixed {
            head,
            pos: 0,
            rest: message,
        };
        self.send_envelope_reader(envelope, size, &mut body).await
    }

    pub(crate) async fn send_envelope_reader(
        &mut self,
        envelope: Envelope,
        size: Option<u64>,
        body: &mut impl Source,
    ) -> Result<Outcome, SmtpError> {
        self.reconnect_if_closed().await?;
        let mut st = self.s.start_streaming(envelope, size)?;
        loop {
            while self.s.wants_body(&st) {
                let mut chunk = vec![0u8; READ_CHUNK];
                let read = body.read(&mut chunk).await.map(|n| {
                    chunk.truncate(n);
                    chunk
                });
                self.s.feed(&mut st, read);
            }
            self.flush().await?;
            let drained = self.drain().await;
            if self.s.has_result(st.handle) {
                break;
            }
            if let Err(e) = drained {
                // After DATA an abort closes the connection.
                return Err(st.source_error.unwrap_or(e));
            }
            if self.s.wants_body(&st) {
                continue;
            }
            self.read_once(None).await?;
        }
        self.s.finish_streaming(st)
    }

    pub(crate) async fn noop(&mut self) -> Result<Reply<'static>, SmtpError> {
        self.reconnect_if_closed().await?;
        self.s.noop = None;
        self.s.client.noop();
        self.pump_until(|t| t.s.noop.is_some()).await?;
        self.s.noop.take().ok_or_else(|| self.s.closed_error())
    }

    pub(crate) async fn quit(&mut self) -> Result<(), SmtpError> {
        if self.s.closed.is_some() {
            return Ok(());
        }
        self.s.client.quit();
        match self.pump_until(|_| false).await {
            Err(SmtpError::Closed(ConnectionError::Quit)) | Ok(()) => Ok(()),
            Err(e) => Err(e),
        }
    }

    // ---- the driver loop ----

    /// The server may drop an idle connection between messages (RFC 5321
    /// §4.5.3.2.7): open a new one, never in the middle of a message.
    async fn reconnect_if_closed(&mut self) -> Result<(), SmtpError> {
        if self.s.closed.is_none() && self.last_read.elapsed() > IDLE_CHECK {
            // Whatever the server said meanwhile (421, or its FIN).
            let soon = Instant::now() + Duration::from_millis(1);
            if self.read_once(Some(soon)).await.is_err() {
                // A reset connection is as closed as one with a FIN.
                self.s.closed = Some(ConnectionError::Eof);
            }
            let _ = self.drain().await;
        }
        if !self.s.is_over() {
            return Ok(());
        }
        *self = Core::connect(&self.addr.clone(), self.options.clone()).await?;
        Ok(())
    }

    async fn pump_until(&mut self, cond: impl Fn(&Self) -> bool) -> Result<(), SmtpError> {
        loop {
            self.flush().await?;
            let r = self.drain().await;
            if cond(self) {
                return Ok(());
            }
            r?;
            self.flush().await?;
            self.read_once(None).await?;
        }
    }

    /// Writes what the machine has: small pieces gathered, large ones
    /// (BDAT content) written as they are.
    async fn flush(&mut self) -> Result<(), SmtpError> {
        while let Some(piece) = self.s.client.poll_transmit_bytes(Instant::now()) {
            if piece.len() >= DIRECT_WRITE {
                self.write_out().await?;
                self.conn.write_all(&piece).await?;
            } else {
                self.out.extend_from_slice(&piece);
                if self.out.len() >= DIRECT_WRITE {
                    self.write_out().await?;
                }
            }
        }
        self.write_out().await
    }

    async fn write_out(&mut self) -> Result<(), SmtpError> {
        if !self.out.is_empty() {
            let r = self.conn.write_all(&self.out).await;
            self.out.clear();
            r?;
        }
        Ok(())
    }

    /// Takes every pending event.
    async fn drain(&mut self) -> Result<(), SmtpError> {
        while let Some(ev) = self.s.client.poll_event() {
            match self.s.on_event(ev) {
                Action::StartTls => {
                    self.flush().await?;
                    self.conn.start_tls().await?;
                    self.s.client.handle_tls_established(Instant::now());
                    self.flush().await?;
                }
                Action::Close => {
                    // The last bytes (QUIT), then the socket is closed.
                    let _ = self.flush().await;
                    self.conn.shutdown().await;
                }
                Action::None => {}
            }
        }
        self.s.check()
    }

    /// One read, bounded by the machine's deadline and `until`.
    async fn read_once(&mut self, until: Option<Instant>) -> Result<(), SmtpError> {
        self.s.check()?;
        super::read_once(&mut self.s.client, &mut self.conn, &mut self.buf, until).await?;
        self.last_read = Instant::now();
        Ok(())
    }
}

/// What was read past the header section, then the rest of the source.
struct Prefixed<'a, S> {
    head: Vec<u8>,
    pos: usize,
    rest: &'a mut S,
}

impl<S: Source> Source for Prefixed<'_, S> {
    async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos < self.head.len() {
            let n = buf.len().min(self.head.len() - self.pos);
            buf[..n].copy_from_slice(&self.head[self.pos..self.pos + n]);
            self.pos += n;
            return Ok(n);
        }
        self.rest.read(buf).await
    }
}

/// The SMTP envelope of a derived one.
fn smtp_envelope(env: &mailwire_message::Envelope) -> Result<Envelope, SmtpError> {
    let mailbox = |a: &str| {
        Mailbox::try_from(a.to_owned())
            .map(|m| m.into_owned())
            .map_err(|_| SmtpError::Address(a.to_owned()))
    };
    let from = if env.reverse_path.is_empty() {
        ReversePath::Null
    } else {
        ReversePath::Mailbox(mailbox(&env.reverse_path)?)
    };
    let to = env
        .recipients
        .iter()
        .map(|r| mailbox(r))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Envelope::new(from, to))
}

/// Reads up to the end of the header section (the empty line, CRLF or
/// bare LF), at most [`MAX_HEADER`] octets; returns the header section
/// with its empty line, and what was read after it.
async fn read_header(r: &mut impl Source) -> Result<(Vec<u8>, Vec<u8>), SmtpError> {
    let mut buf = Vec::with_capacity(8192);
    let mut chunk = [0u8; 8192];
    loop {
        if let Some(end) = header_end(&buf) {
            let rest = buf.split_off(end);
            return Ok((buf, rest));
        }
        if buf.len() > MAX_HEADER {
            return Err(SmtpError::HeaderTooLarge(MAX_HEADER));
        }
        let n = r.read(&mut chunk).await.map_err(SmtpError::Source)?;
        if n == 0 {
            // A message without a body: all of it is header.
            return Ok((buf, Vec::new()));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Where the body starts: after the first empty line.
pub(crate) fn header_end(b: &[u8]) -> Option<usize> {
    if b.starts_with(b"\r\n") {
        return Some(2);
    }
    if b.starts_with(b"\n") {
        return Some(1);
    }
    let mut i = 0;
    while let Some(p) = b[i..].iter().position(|&c| c == b'\n') {
        let p = i + p;
        let rest = &b[p + 1..];
        if rest.starts_with(b"\r\n") {
            return Some(p + 3);
        }
        if rest.starts_with(b"\n") {
            return Some(p + 2);
        }
        i = p + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_end_crlf_and_lf() {
        assert_eq!(header_end(b"A: b\r\n\r\nbody"), Some(8));
        assert_eq!(header_end(b"A: b\n\nbody"), Some(6));
        assert_eq!(header_end(b"\r\nbody"), Some(2));
        assert_eq!(header_end(b"A: b\r\nC: d\r\n"), None);
    }

    #[test]
    fn read_header_keeps_the_body_read_past_it() {
        let mut r = io::Cursor::new(b"From: a@b.c\r\nBcc: x@y.z\r\n\r\nbody\r\n".to_vec());
        let (h, rest) = block_on(read_header(&mut SyncSource(&mut r))).unwrap();
        assert_eq!(h, b"From: a@b.c\r\nBcc: x@y.z\r\n\r\n");
        assert_eq!(rest, b"body\r\n");
    }

    #[test]
    fn the_prefix_is_read_before_the_rest() {
        let mut rest = io::Cursor::new(b"world".to_vec());
        let mut src = SyncSource(&mut rest);
        let mut p = Prefixed {
            head: b"hello ".to_vec(),
            pos: 0,
            rest: &mut src,
        };
        let mut all = Vec::new();
        let mut buf = [0u8; 4];
        loop {
            let n = block_on(p.read(&mut buf)).unwrap();
            if n == 0 {
                break;
            }
            all.extend_from_slice(&buf[..n]);
        }
        assert_eq!(all, b"hello world");
    }

    #[test]
    fn derived_header_copy_drops_bcc_and_keeps_the_empty_line() {
        let h = b"From: a@b.c\r\nTo: d@e.f\r\nBcc: x@y.z\r\nSubject: s\r\n\r\n";
        let (env, copy) = derive_envelope(&Message::parse(h)).unwrap();
        assert_eq!(copy, b"From: a@b.c\r\nTo: d@e.f\r\nSubject: s\r\n\r\n");
        let e = smtp_envelope(&env).unwrap();
        assert_eq!(e.recipients.len(), 2);
    }

    #[test]
    fn the_decisive_reply_is_the_refusal() {
        let r = |c, t| Some(Reply::single(c, None, t).unwrap());
        let o = Outcome {
            mail: r(250, "ok"),
            recipients: vec![mailwire_smtp::client::RecipientResult {
                to: mailwire_smtp::ForwardPath::Postmaster,
                reply: r(550, "no such user"),
                delivered: false,
            }],
            data: None,
        };
        assert_eq!(decisive_reply(&o), "550 no such user");
    }
}

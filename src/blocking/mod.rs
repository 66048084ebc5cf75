//! Blocking drivers (feature `blocking`): the sans-IO machines run over std
//! TCP sockets, with rustls for implicit TLS and STARTTLS.
//!
//! - [`tls`]: the connection every driver uses ([`Connection`]): plaintext,
//!   implicit TLS or a STARTTLS upgrade; certificates verified by default
//!   against the webpki roots, or a custom CA; connect, read and write
//!   timeouts.
//! - [`smtp`]: [`SmtpTransport`], an SMTP submission or relay session
//!   (STARTTLS or implicit TLS, AUTH, envelope from the header with Bcc
//!   removed, per-recipient results, connection reuse, bodies streamed
//!   from a reader with bounded memory).
//! - [`pop3`]: [`Pop3Session`], a POP3 session (STLS or implicit TLS,
//!   the best login method, list, retrieve streamed to a writer, delete,
//!   UIDL-based "new since last time").
//! - [`imap`]: [`ImapSession`], an IMAP client session (login, folders,
//!   select, search, fetch streamed to a writer, store, move, append,
//!   expunge, IDLE as a blocking iterator, COMPRESS=DEFLATE on request).
//! - `mx` (feature `mx`): where mail for a domain goes (MX, else the
//!   implicit MX; RFC 5321 §5.1), for `SmtpTransport::connect_domain`.
//!
//! The SMTP, POP3 and IMAP session logic is written once, generic over the
//! socket, and shared with the tokio sessions of `mailwire::tokio`.
//!
//! ```no_run
//! use mailwire::blocking::{ImapOptions, ImapSession, Security};
//! # fn main() -> Result<(), mailwire::blocking::ImapError> {
//! let mut options = ImapOptions::default();
//! options.transport.security = Security::StartTls;
//! let mut imap = ImapSession::connect("mail.example.org:143", options)?;
//! imap.login("fred", "secret")?;
//! for folder in imap.list_folders(true)? {
//!     println!("{} {:?}", folder.name, folder.status.and_then(|s| s.messages));
//! }
//! imap.logout()
//! # }
//! ```
//!
//! The sans-IO crates stay free of any I/O: only this module (behind the
//! non-default `blocking` feature) links rustls and touches sockets.

mod deflate;
pub mod imap;
pub use deflate::Deflate;
#[cfg(feature = "mx")]
pub mod mx;
pub mod pop3;
pub mod smtp;
pub mod tls;

#[cfg(test)]
mod smtp_tests;
#[cfg(test)]
mod tests;

pub use imap::{
    Folder, FolderStatus, IdleUpdates, ImapError, ImapOptions, ImapSession, MessageSummary,
    SummaryItems,
};
pub use pop3::{Pop3Error, Pop3Message, Pop3Options, Pop3Session};
pub use smtp::{SmtpError, SmtpOptions, SmtpTransport};
use std::time::Instant;

pub use tls::{Connection, ReadOutcome, Security, TransportError, TransportOptions, Verification};

/// A fresh SASL client nonce (SCRAM, RFC 5802 §5.1) from the OS random
/// source; `None` where there is none (SCRAM is then left out).
pub(crate) fn random_nonce() -> Option<String> {
    use std::io::Read as _;
    let mut b = [0u8; 18];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .ok()?;
    Some(b.iter().map(|x| format!("{x:02x}")).collect())
}

/// What every sans-IO client machine offers its driver (the contract of
/// DESIGN.md), so that the drivers share their socket plumbing.
pub(crate) trait Machine {
    fn poll_transmit(&mut self, now: Instant, buf: &mut Vec<u8>) -> Option<usize>;
    fn poll_timeout(&self) -> Option<Instant>;
    fn handle_input(&mut self, now: Instant, data: &[u8]);
    fn handle_eof(&mut self, now: Instant);
    fn handle_timeout(&mut self, now: Instant);
}

macro_rules! machine {
    ($($t:ty),*) => {$(
        impl Machine for $t {
            fn poll_transmit(&mut self, now: Instant, buf: &mut Vec<u8>) -> Option<usize> {
                <$t>::poll_transmit(self, now, buf)
            }
            fn poll_timeout(&self) -> Option<Instant> {
                <$t>::poll_timeout(self)
            }
            fn handle_input(&mut self, now: Instant, data: &[u8]) {
                <$t>::handle_input(self, now, data)
            }
            fn handle_eof(&mut self, now: Instant) {
                <$t>::handle_eof(self, now)
            }
            fn handle_timeout(&mut self, now: Instant) {
                <$t>::handle_timeout(self, now)
            }
        }
    )*};
}

machine!(
    mailwire_imap::client::Client,
    mailwire_pop3::client::Client,
    mailwire_smtp::client::Client
);

/// The socket an SMTP, POP3 or IMAP session runs over: the blocking
/// [`Connection`] or the tokio one. The session logic is written once, as
/// `async fn`s generic over this; the blocking sessions run it with
/// [`block_on`] (a blocking connection's futures are ready when first
/// polled), the tokio ones `.await` it.
pub(crate) trait Conn: Sized {
    fn connect(
        addr: &str,
        options: &TransportOptions,
    ) -> impl Future<Output = Result<Self, TransportError>>;
    fn read_until(
        &mut self,
        buf: &mut [u8],
        deadline: Option<Instant>,
    ) -> impl Future<Output = Result<ReadOutcome, TransportError>>;
    fn write_all(&mut self, data: &[u8]) -> impl Future<Output = Result<(), TransportError>>;
    fn start_tls(&mut self) -> impl Future<Output = Result<(), TransportError>>;
    fn shutdown(&mut self) -> impl Future<Output = ()>;
    fn is_tls(&self) -> bool;
}

impl Conn for Connection {
    fn connect(
        addr: &str,
        options: &TransportOptions,
    ) -> impl Future<Output = Result<Self, TransportError>> {
        std::future::ready(Connection::connect(addr, options))
    }
    fn read_until(
        &mut self,
        buf: &mut [u8],
        deadline: Option<Instant>,
    ) -> impl Future<Output = Result<ReadOutcome, TransportError>> {
        std::future::ready(Connection::read_until(self, buf, deadline))
    }
    fn write_all(&mut self, data: &[u8]) -> impl Future<Output = Result<(), TransportError>> {
        std::future::ready(Connection::write_all(self, data))
    }
    fn start_tls(&mut self) -> impl Future<Output = Result<(), TransportError>> {
        std::future::ready(Connection::start_tls(self))
    }
    fn shutdown(&mut self) -> impl Future<Output = ()> {
        Connection::shutdown(self);
        std::future::ready(())
    }
    fn is_tls(&self) -> bool {
        Connection::is_tls(self)
    }
}

/// Where streamed message bytes go: a [`std::io::Write`] ([`SyncSink`])
/// or a tokio `AsyncWrite`.
pub(crate) trait Sink {
    async fn put(&mut self, data: &[u8]) -> std::io::Result<()>;
    async fn finish(&mut self) -> std::io::Result<()>;
}

/// A blocking writer as a [`Sink`].
pub(crate) struct SyncSink<'a>(pub(crate) &'a mut dyn std::io::Write);

impl Sink for SyncSink<'_> {
    async fn put(&mut self, data: &[u8]) -> std::io::Result<()> {
        self.0.write_all(data)
    }
    async fn finish(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

/// Where a streamed message comes from: a [`std::io::Read`]
/// ([`SyncSource`]) or a tokio `AsyncRead`.
pub(crate) trait Source {
    /// Reads some bytes into `buf`; 0 at the end.
    async fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize>;
}

/// A blocking reader as a [`Source`] (reads interrupted by a signal are
/// retried).
pub(crate) struct SyncSource<'a>(pub(crate) &'a mut dyn std::io::Read);

impl Source for SyncSource<'_> {
    async fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            match self.0.read(buf) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                r => return r,
            }
        }
    }
}

/// The sink of commands that stream nothing.
pub(crate) struct Discard;

impl Sink for Discard {
    async fn put(&mut self, _: &[u8]) -> std::io::Result<()> {
        Ok(())
    }
    async fn finish(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Runs a session future whose I/O is blocking to its end. Such a future
/// never waits for a wake-up: every `.await` in it is on a
/// [`std::future::ready`] value, so the first poll completes it (the loop
/// is only there for the type's sake).
pub(crate) fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

/// Writes everything the machine has to send (`out` is scratch space).
pub(crate) async fn flush(
    machine: &mut impl Machine,
    conn: &mut impl Conn,
    out: &mut Vec<u8>,
) -> Result<(), TransportError> {
    while machine.poll_transmit(Instant::now(), out).is_some() {}
    if !out.is_empty() {
        let r = conn.write_all(out).await;
        out.clear();
        r?;
    }
    Ok(())
}

/// One read into the machine, waiting at most until its deadline or
/// `until`; true when `until` passed.
pub(crate) async fn read_once(
    machine: &mut impl Machine,
    conn: &mut impl Conn,
    buf: &mut [u8],
    until: Option<Instant>,
) -> Result<bool, TransportError> {
    let r = conn.read_until(buf, read_deadline(machine, until)).await?;
    Ok(take_read(machine, r, buf, until))
}

/// How long one read may wait: until the machine's deadline or `until`,
/// whichever comes first.
pub(crate) fn read_deadline(machine: &impl Machine, until: Option<Instant>) -> Option<Instant> {
    match (machine.poll_timeout(), until) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Gives the machine what one read brought (the data in `buf`); true when
/// it timed out and `until` passed.
pub(crate) fn take_read(
    machine: &mut impl Machine,
    r: ReadOutcome,
    buf: &[u8],
    until: Option<Instant>,
) -> bool {
    let now = Instant::now();
    match r {
        ReadOutcome::Data(n) => machine.handle_input(now, &buf[..n]),
        ReadOutcome::Eof => machine.handle_eof(now),
        ReadOutcome::TimedOut => {
            machine.handle_timeout(now);
            return until.is_some_and(|u| u <= now);
        }
    }
    false
}

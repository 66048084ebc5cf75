//! [`Pop3Session`]: the sans-IO POP3 client machine
//! ([`mailwire_pop3::client`]) run over a blocking [`Connection`].
//!
//! ```no_run
//! use std::collections::HashSet;
//! use mailwire::blocking::{Pop3Options, Pop3Session};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // UIDs of the messages fetched last time (kept by the application).
//! let known: HashSet<String> = std::fs::read_to_string("seen.txt")
//!     .unwrap_or_default().lines().map(str::to_owned).collect();
//! let mut pop = Pop3Session::connect("pop.example.org:995", Pop3Options::new("fred", "secret"))?;
//! for m in pop.new_messages(&known)? {
//!     let mut file = std::fs::File::create(format!("{}.eml", m.number))?;
//!     pop.retrieve(m.number, &mut file)?; // streamed: memory stays bounded
//! }
//! let all: Vec<String> = pop.list()?.into_iter().filter_map(|m| m.uid).collect();
//! std::fs::write("seen.txt", all.join("\n"))?;
//! pop.quit()?;
//! # Ok(()) }
//! ```
//!
//! Commands run one at a time: each method sends its command, drives the
//! machine until the answer, and returns it, or a [`Pop3Error`] that keeps
//! the server's `-ERR` line. Deletions take effect at [`Pop3Session::quit`]
//! (the UPDATE state, RFC 1939 §6); a connection dropped before that
//! deletes nothing.

use std::collections::HashSet;
use std::io::{self, Write};
use std::num::NonZeroU32;
use std::time::Instant;

use mailwire_pop3::client::{
    AuthChoice, Client, CommandHandle, Event, LoginMethod, Options, TlsMode,
};
use mailwire_pop3::{Capability, Command, ConnectionError, StatusLine};

use super::tls::{Connection, Security, TransportError, TransportOptions};
use super::{Conn, Discard, Sink, SyncSink, block_on};

/// Session settings.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Pop3Options {
    /// Address, TLS and timeouts. Default: implicit TLS (port 995, RFC
    /// 8314), certificates verified against the webpki roots.
    pub transport: TransportOptions,
    /// The client machine's settings: user, password, login method
    /// (default the best offered: SCRAM, CRAM-MD5, PLAIN, APOP, USER),
    /// plaintext passwords (refused without TLS by default), limits and
    /// the response timeout (which bounds every read). TLS is set from
    /// `transport`.
    pub machine: Options,
}

impl Pop3Options {
    /// Options for this user and password, every other field at its
    /// default.
    pub fn new(user: &str, password: &str) -> Pop3Options {
        Pop3Options {
            transport: TransportOptions::default(),
            machine: Options::new(user, password),
        }
    }

    /// How the connection is protected ([`TransportOptions::security`]).
    pub fn security(mut self, security: Security) -> Pop3Options {
        self.transport.security = security;
        self
    }

    /// Only this login method.
    pub fn auth(mut self, choice: AuthChoice) -> Pop3Options {
        self.machine.auth = choice;
        self
    }
}

/// Everything that can go wrong in a session.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Pop3Error {
    /// The connection or TLS failed (a refused certificate included).
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The session ended: login refused (with the server's text), STLS not
    /// offered, a timeout, the server closed, or broke the protocol.
    #[error("POP3 session closed: {0}")]
    Closed(ConnectionError),
    /// The server answered a command with `-ERR`; its line is kept.
    #[error("{command} failed: {status}")]
    Failed {
        /// The command, e.g. `RETR`.
        command: &'static str,
        /// The server's `-ERR` text (and response code).
        status: String,
    },
    /// The server does not offer UIDL (RFC 1939 §7 makes it optional).
    #[error("the server does not offer UIDL")]
    NoUidl,
    /// Message number 0 does not exist.
    #[error("message numbers start at 1")]
    BadNumber,
    /// Writing the message to the caller's writer failed.
    #[error("writing the message: {0}")]
    Sink(#[source] io::Error),
}

/// One message of the maildrop.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Pop3Message {
    /// Its number in this session (RFC 1939 §5).
    pub number: u32,
    /// Its size in octets (as the server counts them).
    pub size: u64,
    /// Its unique id (UIDL), the same in every session; `None` when the
    /// server has no UIDL.
    pub uid: Option<String>,
}

/// What answered a command.
enum Answer {
    Stat(u32, u64),
    List(Vec<(u32, u64)>),
    Uidl(Vec<(u32, String)>),
    Capabilities(Vec<Capability<'static>>),
    Message(u64),
    Done,
}

/// A blocking POP3 session. See the module docs.
#[derive(Debug)]
pub struct Pop3Session {
    core: Core<Connection>,
}

impl Pop3Session {
    /// Connects, reads the greeting, upgrades with STLS when
    /// [`TransportOptions::security`] says so, and logs in.
    pub fn connect(addr: &str, options: Pop3Options) -> Result<Pop3Session, Pop3Error> {
        let conn = Connection::connect(addr, &options.transport)?;
        let core = block_on(Core::start(conn, options))?;
        Ok(Pop3Session { core })
    }

    session_accessors!();

    /// `STAT` (RFC 1939 §5): the number of messages and their total size.
    pub fn stat(&mut self) -> Result<(u32, u64), Pop3Error> {
        block_on(self.core.stat())
    }

    /// Every message with its size (`LIST`), and its unique id (`UIDL`)
    /// when the server offers it.
    pub fn list(&mut self) -> Result<Vec<Pop3Message>, Pop3Error> {
        block_on(self.core.list())
    }

    /// `UIDL` (RFC 1939 §7): each message's number and unique id.
    pub fn uidl(&mut self) -> Result<Vec<(u32, String)>, Pop3Error> {
        block_on(self.core.uidl())
    }

    /// The messages whose unique id is not in `known`: what arrived since
    /// the application last looked (it keeps the UIDs it has seen; RFC 1939
    /// §7 makes them stable across sessions). Needs UIDL.
    pub fn new_messages(&mut self, known: &HashSet<String>) -> Result<Vec<Pop3Message>, Pop3Error> {
        block_on(self.core.new_messages(known))
    }

    /// `RETR` (RFC 1939 §5): writes the message to `sink` as it arrives
    /// (dot-stuffing undone, CRLF line ends); returns its size.
    pub fn retrieve(&mut self, number: u32, sink: &mut dyn Write) -> Result<u64, Pop3Error> {
        block_on(self.core.retrieve(number, None, &mut SyncSink(sink)))
    }

    /// `TOP` (RFC 1939 §7): the header and the first `lines` body lines.
    pub fn top(&mut self, number: u32, lines: u32, sink: &mut dyn Write) -> Result<u64, Pop3Error> {
        block_on(self.core.retrieve(number, Some(lines), &mut SyncSink(sink)))
    }

    /// `DELE` (RFC 1939 §5): marks the message deleted; it goes at
    /// [`quit`](Self::quit).
    pub fn delete(&mut self, number: u32) -> Result<(), Pop3Error> {
        block_on(self.core.delete(number))
    }

    /// `RSET` (RFC 1939 §5): unmarks every deleted message.
    pub fn reset(&mut self) -> Result<(), Pop3Error> {
        block_on(self.core.simple(Command::Rset, "RSET"))
    }

    /// `NOOP` (RFC 1939 §5).
    pub fn noop(&mut self) -> Result<(), Pop3Error> {
        block_on(self.core.simple(Command::Noop, "NOOP"))
    }

    /// `QUIT` (RFC 1939 §6): the messages marked deleted are removed.
    pub fn quit(mut self) -> Result<(), Pop3Error> {
        block_on(self.core.quit())
    }
}

/// The accessors the blocking and the tokio session share (they read
/// the session's state and do no I/O).
macro_rules! session_accessors {
    () => {
        /// How the session logged in.
        pub fn login_method(&self) -> Option<LoginMethod> {
            self.core.method
        }

        /// True once TLS protects the session.
        pub fn is_tls(&self) -> bool {
            self.core.conn.is_tls()
        }

        /// The capabilities the server announced before login (RFC 2449).
        pub fn capabilities(&self) -> &[Capability<'static>] {
            &self.core.capabilities
        }
    };
}
pub(crate) use session_accessors;

/// The session logic, written once for the blocking and the tokio
/// session ([`Conn`] is their socket; see [`super::block_on`]).
#[derive(Debug)]
pub(crate) struct Core<C> {
    pub(crate) conn: C,
    client: Client,
    out: Vec<u8>,
    buf: Vec<u8>,
    pub(crate) method: Option<LoginMethod>,
    pub(crate) capabilities: Vec<Capability<'static>>,
    closed: Option<ConnectionError>,
}

impl<C: Conn> Core<C> {
    /// Reads the greeting over `conn`, upgrades with STLS when
    /// [`TransportOptions::security`] says so, and logs in.
    pub(crate) async fn start(conn: C, options: Pop3Options) -> Result<Core<C>, Pop3Error> {
        let mut machine = options.machine;
        machine.tls = match options.transport.security {
            Security::Plain => TlsMode::None,
            Security::StartTls => TlsMode::StartTls,
            Security::Implicit => TlsMode::Implicit,
        };
        if machine.sasl_nonce.is_empty() {
            machine.sasl_nonce = super::random_nonce().unwrap_or_default();
        }
        let mut s = Core {
            conn,
            client: Client::new(machine, Instant::now()),
            out: Vec::new(),
            buf: vec![0; 64 * 1024],
            method: None,
            capabilities: Vec::new(),
            closed: None,
        };
        while s.method.is_none() {
            s.step(None, &mut Discard).await?;
        }
        Ok(s)
    }

    pub(crate) async fn stat(&mut self) -> Result<(u32, u64), Pop3Error> {
        match self.run(Command::Stat, "STAT", &mut Discard).await? {
            Answer::Stat(n, size) => Ok((n, size)),
            _ => Err(protocol("STAT")),
        }
    }

    async fn sizes(&mut self) -> Result<Vec<(u32, u64)>, Pop3Error> {
        match self.run(Command::List(None), "LIST", &mut Discard).await? {
            Answer::List(l) => Ok(l),
            _ => Err(protocol("LIST")),
        }
    }

    pub(crate) async fn list(&mut self) -> Result<Vec<Pop3Message>, Pop3Error> {
        let sizes = self.sizes().await?;
        let uids = match self.uidl().await {
            Ok(u) => u,
            Err(Pop3Error::NoUidl) | Err(Pop3Error::Failed { .. }) => Vec::new(),
            Err(e) => return Err(e),
        };
        Ok(sizes
            .into_iter()
            .map(|(number, size)| Pop3Message {
                number,
                size,
                uid: uids
                    .iter()
                    .find(|(n, _)| *n == number)
                    .map(|(_, u)| u.clone()),
            })
            .collect())
    }

    pub(crate) async fn uidl(&mut self) -> Result<Vec<(u32, String)>, Pop3Error> {
        let known_capa = !self.capabilities.is_empty();
        let offers = self
            .capabilities
            .iter()
            .any(|c| matches!(c, Capability::Uidl));
        if known_capa && !offers {
            return Err(Pop3Error::NoUidl);
        }
        match self.run(Command::Uidl(None), "UIDL", &mut Discard).await? {
            Answer::Uidl(u) => Ok(u),
            _ => Err(protocol("UIDL")),
        }
    }

    pub(crate) async fn new_messages(
        &mut self,
        known: &HashSet<String>,
    ) -> Result<Vec<Pop3Message>, Pop3Error> {
        let sizes = self.sizes().await?;
        let uids = self.uidl().await?;
        Ok(uids
            .into_iter()
            .filter(|(_, u)| !known.contains(u))
            .map(|(number, uid)| Pop3Message {
                number,
                size: sizes
                    .iter()
                    .find(|(n, _)| *n == number)
                    .map_or(0, |(_, s)| *s),
                uid: Some(uid),
            })
            .collect())
    }

    /// `RETR`, or `TOP` with `lines`: the message streamed to `sink`.
    pub(crate) async fn retrieve(
        &mut self,
        number: u32,
        lines: Option<u32>,
        sink: &mut impl Sink,
    ) -> Result<u64, Pop3Error> {
        let n = msg(number)?;
        let (cmd, name) = match lines {
            None => (Command::Retr(n), "RETR"),
            Some(lines) => (Command::Top { msg: n, lines }, "TOP"),
        };
        match self.run(cmd, name, sink).await? {
            Answer::Message(size) => {
                sink.finish().await.map_err(Pop3Error::Sink)?;
                Ok(size)
            }
            _ => Err(protocol(name)),
        }
    }

    pub(crate) async fn delete(&mut self, number: u32) -> Result<(), Pop3Error> {
        let n = msg(number)?;
        self.simple(Command::Dele(n), "DELE").await
    }

    /// A command whose answer is only OK or `-ERR`.
    pub(crate) async fn simple(
        &mut self,
        cmd: Command<'static>,
        name: &'static str,
    ) -> Result<(), Pop3Error> {
        self.run(cmd, name, &mut Discard).await.map(drop)
    }

    pub(crate) async fn quit(&mut self) -> Result<(), Pop3Error> {
        match self.run(Command::Quit, "QUIT", &mut Discard).await {
            Ok(_) | Err(Pop3Error::Closed(ConnectionError::Quit)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    // ---- the driver loop ----

    async fn run(
        &mut self,
        cmd: Command<'static>,
        name: &'static str,
        sink: &mut impl Sink,
    ) -> Result<Answer, Pop3Error> {
        let h = self
            .client
            .enqueue(cmd)
            .map_err(|_| Pop3Error::Closed(self.closed.clone().unwrap_or(ConnectionError::Quit)))?;
        loop {
            if let Some(a) = self.step(Some((h, name)), sink).await? {
                return Ok(a);
            }
        }
    }

    /// Flushes, handles every event (the answer to `want` returned), and
    /// reads once when nothing answered.
    async fn step(
        &mut self,
        want: Option<(CommandHandle, &'static str)>,
        sink: &mut impl Sink,
    ) -> Result<Option<Answer>, Pop3Error> {
        loop {
            self.flush().await?;
            let mut answer = None;
            let mut acted = false;
            while let Some(ev) = self.client.poll_event() {
                let mine = |h: CommandHandle| want.is_some_and(|(w, _)| w == h);
                match ev {
                    Event::StartTls => {
                        self.flush().await?;
                        self.conn.start_tls().await?;
                        self.client.handle_tls_established(Instant::now());
                        acted = true;
                    }
                    Event::Ready {
                        capabilities,
                        method,
                        ..
                    } => {
                        self.capabilities = capabilities;
                        self.method = Some(method);
                    }
                    Event::Stat { handle, listing } if mine(handle) => {
                        answer = Some(Answer::Stat(listing.count, listing.size));
                    }
                    Event::List { handle, listings } if mine(handle) => {
                        answer = Some(Answer::List(
                            listings.iter().map(|l| (l.msg.get(), l.size)).collect(),
                        ));
                    }
                    Event::Uidl { handle, listings } if mine(handle) => {
                        answer = Some(Answer::Uidl(
                            listings
                                .iter()
                                .map(|l| (l.msg.get(), l.uid.to_string()))
                                .collect(),
                        ));
                    }
                    Event::Capabilities {
                        handle,
                        capabilities,
                    } if mine(handle) => answer = Some(Answer::Capabilities(capabilities)),
                    Event::MessageChunk { handle, data } if mine(handle) => {
                        sink.put(&data).await.map_err(Pop3Error::Sink)?;
                    }
                    Event::MessageEnd { handle, size } if mine(handle) => {
                        answer = Some(Answer::Message(size));
                    }
                    Event::Done { handle, .. } if mine(handle) => answer = Some(Answer::Done),
                    Event::Failed { handle, status } if mine(handle) => {
                        let command = want.map_or("command", |(_, n)| n);
                        return Err(Pop3Error::Failed {
                            command,
                            status: status_text(&status),
                        });
                    }
                    Event::Closed { reason } => {
                        // The last bytes, then the socket is closed.
                        let _ = self.flush().await;
                        self.conn.shutdown().await;
                        self.closed = Some(reason);
                    }
                    _ => {}
                }
            }
            if let Some(Answer::Capabilities(c)) = &answer {
                self.capabilities.clone_from(c);
            }
            if answer.is_some() {
                return Ok(answer);
            }
            if let Some(reason) = &self.closed {
                return Err(Pop3Error::Closed(reason.clone()));
            }
            if want.is_none() && self.method.is_some() {
                return Ok(None);
            }
            if acted {
                continue;
            }
            super::read_once(&mut self.client, &mut self.conn, &mut self.buf, None).await?;
            return Ok(None);
        }
    }

    async fn flush(&mut self) -> Result<(), Pop3Error> {
        Ok(super::flush(&mut self.client, &mut self.conn, &mut self.out).await?)
    }
}

fn protocol(command: &'static str) -> Pop3Error {
    Pop3Error::Failed {
        command,
        status: "unexpected answer".to_owned(),
    }
}

fn msg(number: u32) -> Result<NonZeroU32, Pop3Error> {
    NonZeroU32::new(number).ok_or(Pop3Error::BadNumber)
}

/// `-ERR [CODE] text` as the server sent it (after the status).
fn status_text(s: &StatusLine<'_>) -> String {
    let text = s.text.to_str_lossy();
    match &s.code {
        Some(c) => format!("[{}] {text}", c.as_str()),
        None => text.into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_number_zero_is_refused() {
        assert!(matches!(msg(0), Err(Pop3Error::BadNumber)));
        assert_eq!(msg(3).unwrap().get(), 3);
    }

    #[test]
    fn the_err_line_keeps_its_code() {
        let s = mailwire_pop3::parse_status_line(b"-ERR [IN-USE] locked").unwrap();
        assert_eq!(status_text(&s), "[IN-USE] locked");
    }
}

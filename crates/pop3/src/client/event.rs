//! What the client machine reports to the application.

use bytes::Bytes;

use crate::error::ConnectionError;
use crate::types::{Capability, DropListing, MsgNum, ScanListing, StatusLine, UidListing};

/// Ties a queued command to the events that answer it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CommandHandle(pub(crate) u64);

/// How the client logged in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LoginMethod {
    /// SASL `AUTH` (RFC 5034) with this mechanism.
    Sasl(mailwire_sasl::Mechanism),
    /// `APOP` (RFC 1939 §7).
    Apop,
    /// `USER`/`PASS` (RFC 1939 §7).
    User,
}

/// An event of the client machine. None needs an answer: the application
/// queues commands with [`Client::enqueue`](super::Client::enqueue) when it
/// likes (after [`Event::Ready`] they are sent).
#[derive(Debug)]
#[non_exhaustive]
pub enum Event {
    /// The `+OK` to STLS arrived. Drain `poll_transmit` (nothing more is
    /// sent in plaintext), run the TLS handshake under the machine, then
    /// MUST call [`Client::handle_tls_established`](super::Client::handle_tls_established).
    /// Any byte fed before that closes the connection.
    StartTls,
    /// Logged in: the session is in the TRANSACTION state and queued
    /// commands are sent.
    Ready {
        /// The capabilities the server offered before login (empty when it
        /// does not know CAPA).
        capabilities: Vec<Capability<'static>>,
        /// How the client logged in.
        method: LoginMethod,
        /// The server's `+OK` text (often the maildrop size).
        greeting: StatusLine<'static>,
    },
    /// The answer to `STAT`.
    Stat {
        /// The command.
        handle: CommandHandle,
        /// Count and total size.
        listing: DropListing,
    },
    /// The answer to `LIST` (all messages) or `LIST msg` (one entry).
    List {
        /// The command.
        handle: CommandHandle,
        /// The scan listings.
        listings: Vec<ScanListing>,
    },
    /// The answer to `UIDL` (all messages) or `UIDL msg` (one entry).
    Uidl {
        /// The command.
        handle: CommandHandle,
        /// The unique-id listings.
        listings: Vec<UidListing<'static>>,
    },
    /// The answer to `CAPA` queued by the application.
    Capabilities {
        /// The command.
        handle: CommandHandle,
        /// The capabilities.
        capabilities: Vec<Capability<'static>>,
    },
    /// `+OK` to `RETR` or `TOP`: chunks follow, then [`Event::MessageEnd`].
    MessageStart {
        /// The command.
        handle: CommandHandle,
        /// The message.
        msg: MsgNum,
    },
    /// A piece of the message, dot-unstuffed, CRLF line ends; chunks end
    /// anywhere. A zero-copy view of the receive buffer.
    MessageChunk {
        /// The command.
        handle: CommandHandle,
        /// The octets.
        data: Bytes,
    },
    /// The message ended.
    MessageEnd {
        /// The command.
        handle: CommandHandle,
        /// Octets handed out.
        size: u64,
    },
    /// `+OK` to `DELE`, `RSET`, `NOOP` or `QUIT`.
    Done {
        /// The command.
        handle: CommandHandle,
        /// The status line.
        status: StatusLine<'static>,
    },
    /// `-ERR` to a queued command; the session goes on.
    Failed {
        /// The command.
        handle: CommandHandle,
        /// The status line.
        status: StatusLine<'static>,
    },
    /// The connection is over; drain `poll_transmit` one last time, then
    /// close the socket.
    Closed {
        /// Why.
        reason: ConnectionError,
    },
}

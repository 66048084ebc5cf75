//! What the server machine reports to the application.

use mailwire_sasl::Mechanism;

use crate::error::ConnectionError;
use crate::types::{MsgNum, Uid};

/// Ties a decision event to the answer the application gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Handle(pub(crate) u64);

/// How the client is authenticating.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuthMethod {
    /// `USER` and `PASS` (RFC 1939 §7).
    User,
    /// `APOP` (RFC 1939 §7): the machine needs the plaintext password.
    Apop,
    /// `AUTH` with a SASL mechanism (RFC 5034).
    Sasl(Mechanism),
}

/// A message marked deleted, applied in the UPDATE state.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Deleted {
    /// Index into the listing given to [`Server::open_maildrop`](super::Server::open_maildrop).
    pub index: usize,
    /// Its unique id.
    pub uid: Uid<'static>,
}

/// An event of the server machine. Variants with a `handle` need an answer
/// and say which method MUST be called; until then the machine reads no
/// further command (pipelined commands wait in the buffer).
#[derive(Debug)]
#[non_exhaustive]
pub enum Event {
    /// Credentials to check (AUTHORIZATION state, RFC 1939 §4). MUST answer
    /// with one of:
    /// - [`Server::provide_password`](super::Server::provide_password): the
    ///   user's plaintext password (any method but SCRAM), or `None` for an
    ///   unknown user;
    /// - [`Server::check_password`](super::Server::check_password): verify
    ///   the password the client sent (only [`AuthMethod::User`] and SASL
    ///   `PLAIN`/`LOGIN`), e.g. against a stored hash;
    /// - [`Server::provide_scram_credentials`](super::Server::provide_scram_credentials)
    ///   (SASL `SCRAM-*`);
    /// - [`Server::refuse`](super::Server::refuse) (e.g. `-ERR [LOGIN-DELAY]`).
    Authenticate {
        /// The handle to answer.
        handle: Handle,
        /// The authentication identity.
        username: String,
        /// The authorization identity requested, if any (SASL).
        authzid: Option<String>,
        /// The method.
        method: AuthMethod,
    },
    /// The credentials were valid. Lock the maildrop of `username` and list
    /// it (RFC 1939 §4: "the POP3 server then acquires an exclusive-access
    /// lock on the maildrop"). MUST answer with
    /// [`Server::open_maildrop`](super::Server::open_maildrop) (the session
    /// enters TRANSACTION) or [`Server::refuse`](super::Server::refuse), for
    /// instance `-ERR [IN-USE]` when another session holds the lock.
    OpenMaildrop {
        /// The handle to answer.
        handle: Handle,
        /// Whose maildrop (the authorization identity if one was given).
        username: String,
    },
    /// `RETR` or `TOP` for a message not marked deleted. MUST stream the
    /// content (as stored; line ends are made CRLF and lines dot-stuffed by
    /// the machine) with [`Server::send_content`](super::Server::send_content)
    /// until it returns `false` or the message ends, then call
    /// [`Server::end_content`](super::Server::end_content); or refuse before
    /// the first chunk with [`Server::refuse`](super::Server::refuse). Drain
    /// `poll_transmit` between chunks so that memory stays bounded.
    Retrieve {
        /// The handle to answer.
        handle: Handle,
        /// The message number.
        msg: MsgNum,
        /// Index into the listing.
        index: usize,
        /// Its unique id.
        uid: Uid<'static>,
        /// `TOP msg n`: the body lines wanted (the machine cuts the content
        /// after the header and `n` lines; `send_content` returns `false`
        /// once it has enough). `None` for `RETR`.
        top: Option<u32>,
    },
    /// QUIT in TRANSACTION: the UPDATE state (RFC 1939 §6). Remove the
    /// messages listed (possibly none), release the lock, and MUST call
    /// [`Server::finish_update`](super::Server::finish_update).
    Update {
        /// The handle to answer.
        handle: Handle,
        /// The messages marked deleted.
        deleted: Vec<Deleted>,
    },
    /// The client switched to UTF8 mode (RFC 6856 §2).
    Utf8Enabled,
    /// The `+OK` to STLS was queued. Send it (drain `poll_transmit`), run
    /// the TLS handshake under the machine, then MUST call
    /// [`Server::handle_tls_established`](super::Server::handle_tls_established).
    /// Any byte fed before that closes the connection.
    StartTls,
    /// The connection is over; drain `poll_transmit` one last time, close
    /// the socket and release the maildrop lock. Marked messages were not
    /// deleted unless an [`Event::Update`] was answered.
    Closed {
        /// Why.
        reason: ConnectionError,
    },
}

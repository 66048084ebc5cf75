//! What the server machine reports to the application.

use mailwire_sasl::Mechanism;

use super::error::ConnectionError;
use crate::types::command::CommandBody;
use crate::types::core::{IString, NString, Tag};
use crate::types::flag::Capability;

/// Ties a decision event to the answers the application gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Handle(pub(crate) u64);

/// How the client is authenticating.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuthMethod {
    /// `LOGIN user password` (RFC 9051 §6.2.3).
    Login,
    /// `AUTHENTICATE` with a SASL mechanism (RFC 9051 §6.2.2).
    Sasl(Mechanism),
}

/// An event of the server machine. Variants with a `handle` need an answer
/// and say which method MUST be called; until then the machine reads no
/// further command (pipelined commands wait in the buffer, see
/// [`Server::wants_read`](super::Server::wants_read)).
#[derive(Debug)]
#[non_exhaustive]
pub enum Event {
    /// Credentials to check (LOGIN, or a SASL exchange that reached the
    /// user name). MUST answer with one of:
    /// - [`Server::provide_password`](super::Server::provide_password): the
    ///   user's plaintext password (the LOGIN command; SASL PLAIN, LOGIN and
    ///   CRAM-MD5), or
    ///   `None` for an unknown user; the machine compares in constant time;
    /// - [`Server::check_password`](super::Server::check_password): verify
    ///   the password the client sent (LOGIN, SASL PLAIN and LOGIN), e.g.
    ///   against a stored hash;
    /// - [`Server::provide_scram_credentials`](super::Server::provide_scram_credentials)
    ///   (SASL `SCRAM-*`);
    /// - [`Server::complete`](super::Server::complete) with NO or BAD to
    ///   refuse (e.g. `NO [UNAVAILABLE]`).
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
    /// The credentials were valid. Open the user's mailbox store, then MUST
    /// call [`Server::complete`](super::Server::complete): OK (the session
    /// enters the authenticated state; the machine adds a CAPABILITY code
    /// when [`Options::capability_after_login`](super::Options::capability_after_login)
    /// is set and the completion has no code) or NO (e.g. `[UNAVAILABLE]`;
    /// the session stays not authenticated).
    LoggedIn {
        /// The handle to answer.
        handle: Handle,
        /// Who logged in (the authorization identity if one was given).
        username: String,
        /// How.
        method: AuthMethod,
    },
    /// A command for the application, already checked against the state
    /// (RFC 9051 §6) and the offered extensions (MOVE, SORT, THREAD,
    /// QUOTA and METADATA commands only when
    /// [`Options::capabilities`](super::Options::capabilities) lists
    /// them; MOVE and UID EXPUNGE also with IMAP4rev2). MUST answer with any
    /// number of [`Server::send_data`](super::Server::send_data),
    /// [`Server::send_status`](super::Server::send_status) and streamed
    /// FETCH literals ([`Server::start_fetch_literal`](super::Server::start_fetch_literal),
    /// [`Server::send_literal_chunk`](super::Server::send_literal_chunk)),
    /// then [`Server::complete`](super::Server::complete).
    ///
    /// A SELECT or EXAMINE has already closed the previously selected
    /// mailbox (RFC 9051 §6.3.2); an OK completion selects the new one
    /// (read-only for EXAMINE or when the code is `READ-ONLY`). An OK to
    /// CLOSE returns to the authenticated state.
    Command {
        /// The handle to answer.
        handle: Handle,
        /// The command's tag (for `ESEARCH (TAG ...)`).
        tag: Tag<'static>,
        /// The command.
        command: CommandBody<'static>,
    },
    /// A piece of an APPEND message larger than
    /// [`Options::append_stream_threshold`](super::Options::append_stream_threshold),
    /// in order, as it arrives (a view of the receive buffer). Store it
    /// (e.g. in a temporary file). The [`Event::Command`] of the APPEND
    /// follows once the command is complete; in it, message `message` has
    /// empty content: its octets are these. Throw them away at
    /// [`Event::AppendAbandoned`], or when the connection closes first.
    AppendData {
        /// The message's index in the APPEND (MULTIAPPEND sends several).
        message: usize,
        /// Where `data` starts in the message: 0 for its first piece.
        offset: u64,
        /// The octets.
        data: bytes::Bytes,
    },
    /// The APPEND whose messages came as [`Event::AppendData`] ended
    /// without its [`Event::Command`]: the machine refused it itself (a
    /// syntax error after the literal, a later literal too large). Throw
    /// the streamed octets away.
    AppendAbandoned,
    /// ENABLE turned these extensions on (RFC 5161); the machine answered.
    /// Responses from now on must use them (e.g. MODSEQ in FETCH after
    /// CONDSTORE, VANISHED instead of EXPUNGE after QRESYNC).
    Enabled(Vec<Capability<'static>>),
    /// The client sent ID (RFC 2971); the machine answered from
    /// [`Options::id`](super::Options::id). For logging.
    ClientId(Option<Vec<(IString<'static>, NString<'static>)>>),
    /// IDLE started (RFC 2177): push updates with
    /// [`Server::push_update`](super::Server::push_update); they go out at
    /// once until [`Event::IdleDone`].
    IdleStarted,
    /// IDLE ended with DONE (answered).
    IdleDone,
    /// UNSELECT closed the mailbox without expunging (RFC 3691); the
    /// machine answered.
    Unselected,
    /// The machine answered UNAUTHENTICATE (RFC 8437): the session is
    /// back in the not authenticated state; forget the user and the
    /// selected mailbox. A LOGIN or AUTHENTICATE may follow.
    Unauthenticated,
    /// The OK to STARTTLS was queued. Send it (drain `poll_transmit`), run
    /// the TLS handshake under the machine, then MUST call
    /// [`Server::handle_tls_established`](super::Server::handle_tls_established).
    /// Any byte fed before that closes the connection.
    StartTls,
    /// The OK to `COMPRESS DEFLATE` was queued (RFC 4978 §3). Send it
    /// (drain `poll_transmit`) as it is; from the next byte on, compress
    /// everything sent (raw DEFLATE, RFC 1951, without the zlib header,
    /// flushed at the end of every write so that the client can read each
    /// response at once) and decompress everything received before
    /// feeding it to `handle_input`. Compression goes under the machine
    /// and over TLS. Nothing was buffered after the command (the machine
    /// closed the connection otherwise).
    Compress,
    /// The connection is over; drain `poll_transmit` one last time (a BYE
    /// may be queued), then close the socket.
    Closed {
        /// Why.
        reason: ConnectionError,
    },
}

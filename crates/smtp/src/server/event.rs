//! What the server machine reports to the application.

use bytes::Bytes;
use mailwire_sasl::Secret;

use crate::error::ConnectionError;
use crate::types::{ForwardPath, Host, MailParams, RcptParams, ReversePath};

/// Ties a decision event to the answer the application gives through
/// [`Server::reply`](super::Server::reply) and friends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReplyHandle(pub(crate) u64);

/// Why a message that was being received was dropped by the machine itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AbortReason {
    /// The body held a bare CR or LF under the strict policy (smuggling
    /// defence); answered 550.
    BareLineEnding,
    /// The body passed the size limit; answered 552 (RFC 1870).
    TooLarge,
    /// RSET, a new EHLO/HELO, or the end of the session in the middle of a
    /// transaction.
    Reset,
}

/// An event of the server machine. Variants that need an answer say which
/// method MUST be called next; until then the machine reads no further
/// command.
#[derive(Debug)]
#[non_exhaustive]
pub enum Event {
    /// The client said HELO or EHLO (already answered; any transaction was
    /// reset, RFC 5321 §4.1.4).
    Hello {
        /// The client's domain or address literal.
        domain: Host<'static>,
        /// EHLO (true) or HELO (false).
        extended: bool,
    },
    /// `MAIL FROM`. MUST answer with [`Server::accept`](super::Server::accept)
    /// or [`Server::reply`](super::Server::reply); a 2xx reply opens the
    /// transaction.
    Mail {
        /// The handle to answer.
        handle: ReplyHandle,
        /// The reverse path.
        from: ReversePath<'static>,
        /// The parameters, already checked against the offered extensions.
        params: MailParams<'static>,
    },
    /// `RCPT TO`. MUST answer with `accept` or `reply`; a 2xx reply adds the
    /// recipient.
    Rcpt {
        /// The handle to answer.
        handle: ReplyHandle,
        /// The forward path.
        to: ForwardPath<'static>,
        /// The parameters.
        params: RcptParams<'static>,
    },
    /// The message content starts (after the 354 to DATA, or with the first
    /// BDAT chunk). Chunks follow.
    DataStart {
        /// True for BDAT (no dot-unstuffing; the content is exactly what was
        /// sent).
        chunked: bool,
    },
    /// A piece of the message content, unstuffed: a zero-copy view of the
    /// receive buffer. Chunks end anywhere. The application stores them and
    /// discards them all on [`Event::MessageAborted`].
    DataChunk(Bytes),
    /// The whole message arrived. MUST answer with `accept` or `reply`; the
    /// transaction ends either way.
    DataEnd {
        /// The handle to answer.
        handle: ReplyHandle,
        /// Content octets received.
        size: u64,
    },
    /// The transaction was dropped; throw away what it delivered. The
    /// machine has answered the client where an answer was due.
    MessageAborted {
        /// Why.
        reason: AbortReason,
    },
    /// `AUTH` with a mechanism the server offers (RFC 4954 §4). MUST answer
    /// with [`Server::auth_challenge`](super::Server::auth_challenge) (334),
    /// [`Server::auth_success`](super::Server::auth_success) (235) or
    /// [`Server::reply`](super::Server::reply) (535 and others).
    AuthStart {
        /// The handle to answer.
        handle: ReplyHandle,
        /// The mechanism.
        mechanism: mailwire_sasl::Mechanism,
        /// The decoded initial response, if one was sent (`=` gives an empty
        /// one).
        initial_response: Option<Secret<Vec<u8>>>,
    },
    /// A client response to a 334 challenge. MUST answer as for
    /// [`Event::AuthStart`].
    AuthResponse {
        /// The handle to answer.
        handle: ReplyHandle,
        /// The decoded response.
        response: Secret<Vec<u8>>,
    },
    /// The client cancelled the exchange with `*` (answered 501).
    AuthCancelled,
    /// The 220 reply to STARTTLS was queued. Send it (drain
    /// `poll_transmit`), then run the TLS handshake under the machine and
    /// MUST call [`Server::handle_tls_established`](super::Server::handle_tls_established).
    /// Any byte fed before that closes the connection.
    StartTls,
    /// The connection is over; drain `poll_transmit` one last time (a 221 or
    /// 421 may be queued), then close the socket.
    Closed {
        /// Why.
        reason: ConnectionError,
    },
}

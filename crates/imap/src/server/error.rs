//! Errors of the server machine.

/// Why the connection ended: the payload of [`Event::Closed`](super::Event::Closed).
/// After it, `is_closed()` is true and every input is ignored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectionError {
    /// The client logged out (RFC 9051 §6.1.3): `* BYE` and the tagged OK
    /// were sent.
    #[error("client logged out")]
    Logout,
    /// The greeting was `* BYE` (the application refused the connection).
    #[error("connection refused in the greeting")]
    Refused,
    /// The client closed its side without LOGOUT.
    #[error("peer closed the connection")]
    Eof,
    /// The autologout timer expired (RFC 9051 §5.4); `* BYE` was sent.
    #[error("autologout timer expired")]
    Timeout,
    /// Bytes arrived after the STARTTLS command and before the TLS
    /// handshake: the command-injection class of CVE-2011-0411. Never
    /// acted on.
    #[error("plaintext received after STARTTLS")]
    PlaintextAfterStartTls,
    /// Bytes arrived after the COMPRESS command, before its answer (RFC
    /// 4978 §3: the client sends nothing more until it has seen the
    /// result). Whether they were compressed cannot be known: never acted
    /// on; `* BYE` was sent.
    #[error("input pipelined after COMPRESS")]
    PipelinedAfterCompress,
    /// The client sent too many bad commands; `* BYE` was sent.
    #[error("too many bad commands")]
    TooManyBadCommands,
    /// The client sent more than the machine may buffer while it waited
    /// for the application (the driver ignored `wants_read`), or a line
    /// longer than the limit, which cannot be resynchronized.
    #[error("input limit exceeded")]
    InputOverflow,
    /// A non-synchronizing literal over the limit (RFC 7888 §4, §5): the
    /// command was answered `BAD [TOOBIG]` and `* BYE [TOOBIG]` was sent.
    #[error("non-synchronizing literal too large")]
    LiteralTooLarge,
    /// The application closed the session
    /// ([`Server::close_session`](super::Server::close_session)).
    #[error("closed by the application")]
    Local,
}

/// A wrong call: the value is handed back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReplyError<T> {
    /// The handle is not the one the machine waits on (already completed,
    /// or never issued).
    #[error("no decision pending for this handle")]
    UnknownHandle(T),
    /// The answer does not fit the decision (e.g. `provide_password` for a
    /// command, data after the last literal chunk was promised, or a
    /// completion while a literal is still being streamed).
    #[error("answer does not fit this decision")]
    WrongAnswer(T),
    /// The connection is closed.
    #[error("connection closed")]
    Closed(T),
}

impl<T> ReplyError<T> {
    /// The value that was not used.
    pub fn into_inner(self) -> T {
        match self {
            ReplyError::UnknownHandle(t) | ReplyError::WrongAnswer(t) | ReplyError::Closed(t) => t,
        }
    }
}

/// Why [`Server::push_update`](super::Server::push_update) refused an update.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PushError {
    /// No mailbox is selected: there is nothing to update.
    #[error("no mailbox selected")]
    NotSelected,
    /// Only mailbox updates may be pushed (EXISTS, RECENT, EXPUNGE,
    /// VANISHED, FETCH, FLAGS).
    #[error("not a mailbox update")]
    NotAnUpdate,
    /// [`Options::max_queued_updates`](super::Options::max_queued_updates)
    /// updates wait already; the client does not let them out (no
    /// command). Close the session or resynchronize it otherwise.
    #[error("too many updates queued")]
    QueueFull,
    /// The connection is closed.
    #[error("connection closed")]
    Closed,
}

/// A nonce that cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("nonce must be 1-64 printable ASCII octets without `,`")]
pub struct NonceError;

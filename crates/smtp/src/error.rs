//! Errors shared by both roles.

/// Why a connection ended: the payload of `Event::Closed` on both roles.
/// After it, `is_closed()` is true and every input is ignored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectionError {
    /// The session ended normally: QUIT and its 221 reply (RFC 5321 §4.1.1.10).
    #[error("session ended with QUIT")]
    Quit,
    /// The peer closed its side without QUIT.
    #[error("peer closed the connection")]
    Eof,
    /// A timer of RFC 5321 §4.5.3.2 expired.
    #[error("timed out ({0})")]
    Timeout(&'static str),
    /// Bytes arrived after STARTTLS and before the TLS handshake: the
    /// command-injection class of CVE-2011-0411 (server) and CVE-2021-38371
    /// (client). Never acted on.
    #[error("plaintext received after STARTTLS")]
    PlaintextAfterStartTls,
    /// The peer sent too many bad commands (server; RFC 5321 §4.3.2 allows
    /// closing with 421).
    #[error("too many bad commands")]
    TooManyBadCommands,
    /// More mail transactions than `max_transactions` (the MAILMAX of RFC
    /// 9422); the server answered 421.
    #[error("too many mail transactions in one session")]
    TooManyTransactions,
    /// The peer sent more than the machine may buffer while it waited for
    /// the application (the driver ignored `wants_read`).
    #[error("input buffer limit exceeded")]
    InputOverflow,
    /// A reply could not be framed or parsed (client).
    #[error("malformed reply from server")]
    MalformedReply,
    /// The server sent a reply no command asked for, or a code that does not
    /// fit the command (client).
    #[error("unexpected reply {0}")]
    UnexpectedReply(u16),
    /// The server refused the session: a non-220 greeting, or 421 at any time
    /// (client; RFC 5321 §3.1, §4.2.4). Holds the code and text.
    #[error("service not available: {0} {1}")]
    ServiceUnavailable(u16, String),
    /// Neither EHLO nor HELO was accepted (client).
    #[error("greeting refused: {0} {1}")]
    HelloRejected(u16, String),
    /// STARTTLS was required but the server does not offer it, or refused it
    /// (client).
    #[error("STARTTLS required but not available")]
    TlsUnavailable,
    /// AUTH failed (client): the server refused the credentials, or no
    /// mechanism both sides support may be used on this connection.
    #[error("authentication failed: {0}")]
    AuthFailed(String),
    /// The application closed the session (e.g. `Server::close`).
    #[error("closed by the application")]
    Local,
}

//! Errors shared by both roles.

/// Why a connection ended: the payload of `Event::Closed` on both roles.
/// After it, `is_closed()` is true and every input is ignored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectionError {
    /// The session ended normally with QUIT (RFC 1939 §4, §6).
    #[error("session ended with QUIT")]
    Quit,
    /// The peer closed its side without QUIT. On the server, marked
    /// messages are not deleted (RFC 1939 §6).
    #[error("peer closed the connection")]
    Eof,
    /// The server's autologout timer (RFC 1939 §3: at least 10 minutes), or
    /// the client's response timer, expired.
    #[error("timed out")]
    Timeout,
    /// Bytes arrived after STLS and before the TLS handshake: the
    /// command-injection class of CVE-2011-0411. Never acted on.
    #[error("plaintext received after STLS")]
    PlaintextAfterStartTls,
    /// The peer sent too many bad commands (server).
    #[error("too many bad commands")]
    TooManyBadCommands,
    /// The peer sent more than the machine may buffer while it waited for
    /// the application (the driver ignored `wants_read`).
    #[error("input buffer limit exceeded")]
    InputOverflow,
    /// A response could not be framed or parsed (client).
    #[error("malformed response from server: {0}")]
    MalformedResponse(String),
    /// The server refused the session in its greeting (client).
    #[error("server refused the session: {0}")]
    Refused(String),
    /// Authentication failed, no usable method was offered, or the
    /// maildrop could not be opened (client). Holds the server's code
    /// (e.g. `IN-USE`, `AUTH`, `LOGIN-DELAY`) and text.
    #[error("authentication failed: {text}")]
    AuthenticationFailed {
        /// The RFC 2449 §8 response code, if the server sent one.
        code: Option<crate::types::ResponseCode<'static>>,
        /// The server's text, or why the client gave up.
        text: String,
    },
    /// TLS was required but the server does not offer STLS, or refused it
    /// (client).
    #[error("STLS required but not available")]
    TlsUnavailable,
    /// The application closed the session.
    #[error("closed by the application")]
    Local,
}

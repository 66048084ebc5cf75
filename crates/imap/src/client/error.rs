//! Why a connection ended, and why a call was refused.

use crate::fragment::FrameError;

/// Why the connection ended: the payload of [`Event::Closed`](super::Event::Closed).
/// After it, [`Client::is_closed`](super::Client::is_closed) is true and every
/// input is ignored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectionError {
    /// The session ended normally: the tagged OK to LOGOUT (RFC 9051 §6.1.3).
    #[error("session ended with LOGOUT")]
    Logout,
    /// The server said BYE (RFC 9051 §7.1.5) and closed, outside LOGOUT.
    #[error("server closed the session: {0}")]
    Bye(String),
    /// The greeting was BYE: the server refused the session (RFC 9051 §7.1.5).
    #[error("server refused the session: {0}")]
    Refused(String),
    /// The server closed its side without BYE.
    #[error("server closed the connection")]
    Eof,
    /// No greeting, or a command got no response within
    /// [`Options::command_timeout`](super::Options::command_timeout).
    #[error("timed out waiting for the server")]
    Timeout,
    /// Bytes arrived after the tagged OK to STARTTLS and before the TLS
    /// handshake: the command-injection class of CVE-2011-0411 (RFC 9051
    /// §6.2.1, §11.1). They are never acted on.
    #[error("plaintext received after STARTTLS")]
    PlaintextAfterStartTls,
    /// A response, a line or a literal exceeded the configured limits
    /// (framing cannot resynchronize after it).
    #[error("response over the limits: {0}")]
    TooLarge(FrameError),
    /// A command caused more untagged responses than
    /// [`Options::max_responses_per_command`](super::Options::max_responses_per_command),
    /// or undrained events exceeded [`Options::max_pending_events`](super::Options::max_pending_events).
    #[error("too many responses buffered")]
    TooManyResponses,
    /// The first response was not a greeting (untagged OK, PREAUTH or BYE).
    #[error("malformed greeting: {0}")]
    MalformedGreeting(String),
    /// The server could not be verified at the end of AUTHENTICATE (a SCRAM
    /// server signature missing or wrong): the session must not be trusted.
    #[error("authentication not verified: {0}")]
    AuthenticationNotVerified(String),
    /// The application closed the session.
    #[error("closed by the application")]
    Local,
}

/// A command that could not be queued; the value is handed back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SendError<T> {
    /// The connection is closed, or LOGOUT was already queued.
    #[error("session is ending or closed")]
    Closed(T),
    /// LOGIN while the server announced LOGINDISABLED (RFC 9051 §6.2.3):
    /// the password is not sent.
    #[error("the server disabled LOGIN (LOGINDISABLED)")]
    LoginDisabled(T),
    /// The machine runs this command through another method
    /// (`AUTHENTICATE`: [`Client::authenticate`](super::Client::authenticate)),
    /// or it makes no sense now (STARTTLS with TLS already active, a second IDLE).
    #[error("command not allowed here")]
    NotAllowed(T),
}

impl<T> SendError<T> {
    /// The value that was not queued.
    pub fn into_inner(self) -> T {
        match self {
            SendError::Closed(t) | SendError::LoginDisabled(t) | SendError::NotAllowed(t) => t,
        }
    }
}

/// [`Client::idle_done`](super::Client::idle_done) was called while no IDLE
/// was running.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("no IDLE command is running")]
#[non_exhaustive]
pub struct NotIdling;

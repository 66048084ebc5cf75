//! What the client machine reports to the application.

use crate::error::ConnectionError;
use crate::types::{Capabilities, ForwardPath, Reply};

/// Ties a message handed to [`Client::send_mail`](super::Client::send_mail)
/// to its [`Event::MailSent`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MailHandle(pub(crate) u64);

/// One recipient's fate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecipientResult {
    /// The recipient.
    pub to: ForwardPath<'static>,
    /// The server's reply to its RCPT; `None` when the transaction ended
    /// before RCPT was answered (e.g. MAIL refused without pipelining), or
    /// when RCPT was not sent because the server's RCPTMAX (RFC 9422) was
    /// reached.
    pub reply: Option<Reply<'static>>,
    /// True when the message was delivered to this recipient: RCPT and the
    /// end of data both succeeded.
    pub delivered: bool,
}

/// The replies of one mail transaction (RFC 5321 §3.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The reply to MAIL.
    pub mail: Option<Reply<'static>>,
    /// One entry per recipient, in envelope order.
    pub recipients: Vec<RecipientResult>,
    /// The reply that ended the data (to `.` or to `BDAT ... LAST`), or to
    /// `DATA` or a BDAT chunk when those failed.
    pub data: Option<Reply<'static>>,
}

impl Outcome {
    /// True when the message went to at least one recipient.
    pub fn is_delivered(&self) -> bool {
        self.recipients.iter().any(|r| r.delivered)
    }

    /// True when every recipient got the message.
    pub fn all_delivered(&self) -> bool {
        !self.recipients.is_empty() && self.recipients.iter().all(|r| r.delivered)
    }

    /// The recipients whose RCPT was never answered: those past the
    /// server's RCPTMAX (RFC 9422), which the client does not send, or all
    /// of them when the transaction ended before (MAIL refused). Send them
    /// in another transaction (after MAILMAX of them, in another session).
    pub fn unsent(&self) -> impl Iterator<Item = &ForwardPath<'static>> + '_ {
        self.recipients
            .iter()
            .filter(|r| r.reply.is_none())
            .map(|r| &r.to)
    }

    /// The envelope of the next transaction for the recipients this one
    /// left [`unsent`](Self::unsent) (past the server's LIMITS, RFC 9422):
    /// `envelope`, the one this transaction was sent with (whose
    /// recipients are this outcome's, in the same order), with only those.
    /// `None` when none is left, or when MAIL was refused or no recipient
    /// was sent (a next transaction would get no further), or when
    /// `envelope` is not this transaction's.
    pub fn rest(&self, envelope: &super::Envelope) -> Option<super::Envelope> {
        let mail_ok = self.mail.as_ref().is_some_and(|r| r.code().is_positive());
        let unsent = self.unsent().count();
        if !mail_ok
            || unsent == 0
            || unsent == self.recipients.len()
            || envelope.recipients.len() != self.recipients.len()
        {
            return None;
        }
        let mut rest = envelope.clone();
        // One pass, by position: the recipients line up with the outcome's.
        let mut sent = self.recipients.iter().map(|r| r.reply.is_some());
        rest.recipients.retain(|_| !sent.next().unwrap_or(true));
        Some(rest)
    }

    /// Takes in the outcome of a later transaction of the same message:
    /// the one sent with this outcome's [`rest`](Self::rest), whose
    /// recipients are the ones [`unsent`](Self::unsent) here, in the same
    /// order. Each one's result becomes the later one (found in one pass
    /// over both lists); MAIL and the data reply stay this transaction's.
    pub fn absorb(&mut self, later: Outcome) {
        let mut slots = self.recipients.iter_mut().filter(|x| x.reply.is_none());
        for r in later.recipients {
            if let Some(slot) = slots.find(|x| x.to == r.to) {
                *slot = r;
            }
        }
    }
}

/// Why a message was not attempted or not finished.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MailError {
    /// The session has had as many transactions as the server's MAILMAX
    /// (RFC 9422): send the message in a new session.
    #[error("the server takes {limit} transactions a session (LIMITS MAILMAX)")]
    MailMaxReached {
        /// The server's MAILMAX.
        limit: u32,
    },
    /// The content has 8-bit bytes and the server lacks 8BITMIME (RFC 6152
    /// §3): downgrade it to 7 bit (mailwire-mime) and send again.
    #[error("the message needs 8BITMIME, which the server does not offer")]
    EightBitUnsupported,
    /// BODY=BINARYMIME without BINARYMIME and CHUNKING (RFC 3030 §3).
    #[error("the server does not offer BINARYMIME and CHUNKING")]
    BinaryUnsupported,
    /// A non-ASCII address and no SMTPUTF8 (RFC 6531 §3.4).
    #[error("the envelope needs SMTPUTF8, which the server does not offer")]
    SmtpUtf8Unsupported,
    /// DSN parameters and no DSN (RFC 3461 §4).
    #[error("DSN parameters given, but the server does not offer DSN")]
    DsnUnsupported,
    /// `MT-PRIORITY=` given and the server does not offer MT-PRIORITY (RFC
    /// 6710 §3: the parameter is only sent to a server that does). A
    /// relay sends again without it, keeping the priority in an
    /// `MT-Priority:` header field when it trusts the next hop (RFC 6710
    /// §5).
    #[error("MT-PRIORITY given, but the server does not offer MT-PRIORITY")]
    MtPriorityUnsupported,
    /// REQUIRETLS given (RFC 8689 §4.2.1), but the session is not under
    /// TLS or the server does not offer REQUIRETLS: the message must not go
    /// to this server.
    #[error("REQUIRETLS given, but the session is not under TLS or the server does not offer it")]
    RequireTlsUnsupported,
    /// The message is larger than the server's SIZE (RFC 1870 §4).
    #[error("message of {size} octets exceeds the server's limit of {limit}")]
    TooLarge {
        /// The message size.
        size: u64,
        /// The server's limit.
        limit: u64,
    },
    /// The application aborted the message
    /// ([`Client::rset`](super::Client::rset)): nothing was delivered.
    #[error("aborted by the application")]
    Aborted,
    /// The connection ended first.
    #[error("connection lost: {0}")]
    ConnectionLost(ConnectionError),
}

/// An event of the client machine. Variants that need an answer say so.
#[derive(Debug)]
#[non_exhaustive]
pub enum Event {
    /// The server's 220 greeting (RFC 5321 §3.1).
    Greeting(Reply<'static>),
    /// The server accepted STARTTLS. Send what `poll_transmit` has (nothing
    /// new), run the TLS handshake under the machine, and MUST call
    /// [`Client::handle_tls_established`](super::Client::handle_tls_established).
    /// Any byte fed before that closes the connection.
    StartTls,
    /// AUTH succeeded (RFC 4954 §6) with this mechanism.
    Authenticated(mailwire_sasl::Mechanism),
    /// The session is ready for mail: EHLO (or HELO) done, TLS and AUTH done
    /// as configured. Messages handed in earlier go out now.
    Ready(Capabilities<'static>),
    /// A transaction ended: the replies, per recipient, or why it was not
    /// attempted.
    MailSent {
        /// The handle `send_mail` returned.
        handle: MailHandle,
        /// The result.
        result: Result<Outcome, MailError>,
    },
    /// The reply to a NOOP asked for with
    /// [`Client::noop`](super::Client::noop).
    Noop(Reply<'static>),
    /// The reply to an RSET asked for with
    /// [`Client::rset`](super::Client::rset) without an open body.
    Reset(Reply<'static>),
    /// The connection is over; drain `poll_transmit` one last time, then
    /// close the socket.
    Closed {
        /// Why.
        reason: ConnectionError,
    },
}

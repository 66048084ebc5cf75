//! [`SmtpTransport`] on tokio: the SMTP client machine
//! ([`mailwire_smtp::client`]) over a tokio `TcpStream`, with
//! tokio-rustls for implicit TLS and STARTTLS. Same options, errors and
//! behaviour as [`crate::blocking::SmtpTransport`] (one implementation,
//! generic over the socket): STARTTLS required or opportunistic,
//! certificates verified, AUTH with the best mechanism, envelope from the
//! header with Bcc removed, per-recipient results, connection reuse and
//! reopening, a message streamed from an [`AsyncRead`] in bounded memory.

use ::tokio::io::AsyncRead;
use bytes::Bytes;
use mailwire_sasl::Mechanism;
use mailwire_smtp::client::{Envelope, Outcome};
use mailwire_smtp::{Capabilities, Reply};

use super::conn::{AsyncSource, Connection};
use crate::blocking::smtp::{Core, SmtpError, SmtpOptions};

/// An SMTP session on tokio that sends messages one after another. See
/// the module docs and [`crate::blocking::SmtpTransport`].
#[derive(Debug)]
pub struct SmtpTransport {
    core: Core<Connection>,
}

impl SmtpTransport {
    /// Connects, reads the greeting, says EHLO, runs STARTTLS and AUTH as
    /// configured, and returns once the session is ready for mail.
    pub async fn connect(addr: &str, options: SmtpOptions) -> Result<SmtpTransport, SmtpError> {
        let core = Core::connect(addr, options).await?;
        Ok(SmtpTransport { core })
    }

    /// Connects to the mail hosts of `domain` on `port`, best first; see
    /// [`crate::blocking::SmtpTransport::connect_domain`].
    #[cfg(feature = "mx")]
    pub async fn connect_domain(
        resolver: &crate::blocking::mx::MxResolver,
        domain: &str,
        port: u16,
        options: SmtpOptions,
    ) -> Result<SmtpTransport, SmtpError> {
        let hosts = resolver.mail_hosts(domain, port).await?;
        let core = Core::connect_hosts(domain, &hosts, &options).await?;
        Ok(SmtpTransport { core })
    }

    crate::blocking::smtp::transport_accessors!();

    /// Sends an RFC 5322 message, envelope from its header and Bcc
    /// removed; see [`crate::blocking::SmtpTransport::send`].
    pub async fn send(&mut self, message: &[u8]) -> Result<Outcome, SmtpError> {
        self.core.send(message).await
    }

    /// Sends `message` as it is with the given envelope.
    pub async fn send_envelope(
        &mut self,
        envelope: Envelope,
        message: Bytes,
    ) -> Result<Outcome, SmtpError> {
        self.core.send_envelope(envelope, message).await
    }

    /// Streams an RFC 5322 message from `message` in bounded memory; see
    /// [`crate::blocking::SmtpTransport::send_reader`].
    pub async fn send_reader<R: AsyncRead + Unpin>(
        &mut self,
        message: &mut R,
        size: Option<u64>,
    ) -> Result<Outcome, SmtpError> {
        self.core.send_reader(&mut AsyncSource(message), size).await
    }

    /// Streams `body` (the whole message, sent as it is) with the given
    /// envelope.
    pub async fn send_envelope_reader<R: AsyncRead + Unpin>(
        &mut self,
        envelope: Envelope,
        size: Option<u64>,
        body: &mut R,
    ) -> Result<Outcome, SmtpError> {
        self.core
            .send_envelope_reader(envelope, size, &mut AsyncSource(body))
            .await
    }

    /// NOOP (RFC 5321 §4.1.1.9): the server's reply.
    pub async fn noop(&mut self) -> Result<Reply<'static>, SmtpError> {
        self.core.noop().await
    }

    /// QUIT (RFC 5321 §4.1.1.10) and close.
    pub async fn quit(mut self) -> Result<(), SmtpError> {
        self.core.quit().await
    }
}

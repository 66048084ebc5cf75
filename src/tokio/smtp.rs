//! [`SmtpTransport`] on tokio: the SMTP client machine
//! ([`mailwire_smtp::client`]) over a tokio `TcpStream`, with
//! tokio-rustls for implicit TLS and STARTTLS. Same options, errors and
//! behaviour as [`crate::blocking::SmtpTransport`]: STARTTLS required or
//! opportunistic, certificates verified, AUTH with the best mechanism,
//! envelope from the header with Bcc removed, per-recipient results,
//! connection reuse and reopening, a message streamed from an
//! [`AsyncRead`] in bounded memory.

use std::time::{Duration, Instant};

use ::tokio::io::{AsyncRead, AsyncReadExt};
use bytes::Bytes;
use mailwire_sasl::Mechanism;
use mailwire_smtp::client::{Envelope, MailError, Outcome};
use mailwire_smtp::{Capabilities, ConnectionError, Reply};

use super::conn::Connection;

use crate::blocking::smtp::{
    Action, DIRECT_WRITE, IDLE_CHECK, MAX_HEADER, READ_CHUNK, Session, SmtpError, SmtpOptions,
    downgrade, header_end, prepare, prepare_streamed,
};
use crate::blocking::tls::ReadOutcome;

/// An SMTP session on tokio that sends messages one after another. See
/// the module docs and [`crate::blocking::SmtpTransport`].
#[derive(Debug)]
pub struct SmtpTransport {
    addr: String,
    options: SmtpOptions,
    conn: Connection,
    s: Session,
    out: Vec<u8>,
    buf: Vec<u8>,
    last_read: Instant,
}

impl SmtpTransport {
    /// Connects, reads the greeting, says EHLO, runs STARTTLS and AUTH as
    /// configured, and returns once the session is ready for mail.
    pub async fn connect(addr: &str, options: SmtpOptions) -> Result<SmtpTransport, SmtpError> {
        let conn = Connection::connect(addr, &options.transport).await?;
        let mut t = SmtpTransport {
            addr: addr.to_owned(),
            s: Session::new(&options),
            options,
            conn,
            out: Vec::with_capacity(DIRECT_WRITE),
            buf: vec![0; 16 * 1024],
            last_read: Instant::now(),
        };
        t.pump_until(|t| t.s.caps.is_some()).await?;
        Ok(t)
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
        let mut last = crate::blocking::mx::MxError::NoHost(domain.to_owned()).into();
        for (addr, o) in crate::blocking::mx::attempts(&hosts, &options) {
            match SmtpTransport::connect(&addr, o).await {
                Ok(t) => return Ok(t),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// What the server offered (after TLS, its second EHLO reply).
    pub fn capabilities(&self) -> Option<&Capabilities<'static>> {
        self.s.caps.as_ref()
    }

    /// True under TLS.
    pub fn is_tls(&self) -> bool {
        self.conn.is_tls()
    }

    /// The SASL mechanism AUTH used, if any.
    pub fn authenticated(&self) -> Option<Mechanism> {
        self.s.authenticated
    }

    /// Sends an RFC 5322 message, envelope from its header and Bcc
    /// removed; see [`crate::blocking::SmtpTransport::send`].
    pub async fn send(&mut self, message: &[u8]) -> Result<Outcome, SmtpError> {
        let (envelope, copy) = prepare(message)?;
        match self.send_envelope(envelope.clone(), copy.clone()).await {
            Err(SmtpError::NotSent(MailError::EightBitUnsupported)) => {
                self.send_envelope(envelope, downgrade(&copy)).await
            }
            r => r,
        }
    }

    /// Sends `message` as it is with the given envelope.
    pub async fn send_envelope(
        &mut self,
        envelope: Envelope,
        message: Bytes,
    ) -> Result<Outcome, SmtpError> {
        self.reconnect_if_closed().await?;
        let h = self.s.send_mail(envelope, message)?;
        self.pump_until(|t| t.s.has_result(h)).await?;
        self.s.take_result(h)
    }

    /// Streams an RFC 5322 message from `message` in bounded memory; see
    /// [`crate::blocking::SmtpTransport::send_reader`].
    pub async fn send_reader<R: AsyncRead + Unpin>(
        &mut self,
        message: &mut R,
        size: Option<u64>,
    ) -> Result<Outcome, SmtpError> {
        let mut header = Vec::with_capacity(8192);
        let mut chunk = vec![0u8; 8192];
        let rest = loop {
            if let Some(end) = header_end(&header) {
                break header.split_off(end);
            }
            if header.len() > MAX_HEADER {
                return Err(SmtpError::HeaderTooLarge(MAX_HEADER));
            }
            let n = message.read(&mut chunk).await.map_err(SmtpError::Source)?;
            if n == 0 {
                break Vec::new();
            }
            header.extend_from_slice(&chunk[..n]);
        };
        let (envelope, size, head) = prepare_streamed(&header, &rest, size)?;
        let mut body = AsyncReadExt::chain(&head[..], message);
        self.send_envelope_reader(envelope, size, &mut body).await
    }

    /// Streams `body` (the whole message, sent as it is) with the given
    /// envelope.
    pub async fn send_envelope_reader<R: AsyncRead + Unpin>(
        &mut self,
        envelope: Envelope,
        size: Option<u64>,
        body: &mut R,
    ) -> Result<Outcome, SmtpError> {
        self.reconnect_if_closed().await?;
        let mut st = self.s.start_streaming(envelope, size)?;
        loop {
            while self.s.wants_body(&st) {
                let mut chunk = vec![0u8; READ_CHUNK];
                let read = body.read(&mut chunk).await.map(|n| {
                    chunk.truncate(n);
                    chunk
                });
                self.s.feed(&mut st, read);
            }
            self.flush().await?;
            let drained = self.drain().await;
            if self.s.has_result(st.handle) {
                break;
            }
            if let Err(e) = drained {
                // After DATA an abort closes the connection.
                return Err(st.source_error.unwrap_or(e));
            }
            if self.s.wants_body(&st) {
                continue;
            }
            self.read_once(None).await?;
        }
        self.s.finish_streaming(st)
    }

    /// NOOP (RFC 5321 §4.1.1.9): the server's reply.
    pub async fn noop(&mut self) -> Result<Reply<'static>, SmtpError> {
        self.reconnect_if_closed().await?;
        self.s.noop = None;
        self.s.client.noop();
        self.pump_until(|t| t.s.noop.is_some()).await?;
        self.s.noop.take().ok_or_else(|| self.s.closed_error())
    }

    /// QUIT (RFC 5321 §4.1.1.10) and close.
    pub async fn quit(mut self) -> Result<(), SmtpError> {
        if self.s.closed.is_some() {
            return Ok(());
        }
        self.s.client.quit();
        match self.pump_until(|_| false).await {
            Err(SmtpError::Closed(ConnectionError::Quit)) | Ok(()) => Ok(()),
            Err(e) => Err(e),
        }
    }

    // ---- the driver loop ----

    /// Reopens a connection the server ended between messages.
    async fn reconnect_if_closed(&mut self) -> Result<(), SmtpError> {
        if self.s.closed.is_none() && self.last_read.elapsed() > IDLE_CHECK {
            let soon = Instant::now() + Duration::from_millis(1);
            if self.read_once(Some(soon)).await.is_err() {
                self.s.closed = Some(ConnectionError::Eof);
            }
            let _ = self.drain().await;
        }
        if !self.s.is_over() {
            return Ok(());
        }
        *self = SmtpTransport::connect(&self.addr.clone(), self.options.clone()).await?;
        Ok(())
    }

    async fn pump_until(&mut self, cond: impl Fn(&Self) -> bool) -> Result<(), SmtpError> {
        loop {
            self.flush().await?;
            let r = self.drain().await;
            if cond(self) {
                return Ok(());
            }
            r?;
            self.flush().await?;
            self.read_once(None).await?;
        }
    }

    /// Writes what the machine has: small pieces gathered, large ones
    /// (BDAT content) written as they are.
    async fn flush(&mut self) -> Result<(), SmtpError> {
        while let Some(piece) = self.s.client.poll_transmit_bytes(Instant::now()) {
            if piece.len() >= DIRECT_WRITE {
                self.write_out().await?;
                self.conn.write_all(&piece).await?;
            } else {
                self.out.extend_from_slice(&piece);
                if self.out.len() >= DIRECT_WRITE {
                    self.write_out().await?;
                }
            }
        }
        self.write_out().await
    }

    async fn write_out(&mut self) -> Result<(), SmtpError> {
        if !self.out.is_empty() {
            let r = self.conn.write_all(&self.out).await;
            self.out.clear();
            r?;
        }
        Ok(())
    }

    /// Takes every pending event.
    async fn drain(&mut self) -> Result<(), SmtpError> {
        while let Some(ev) = self.s.client.poll_event() {
            match self.s.on_event(ev) {
                Action::StartTls => {
                    self.flush().await?;
                    self.conn.start_tls().await?;
                    self.s.client.handle_tls_established(Instant::now());
                    self.flush().await?;
                }
                Action::Close => {
                    let _ = self.flush().await;
                    self.conn.shutdown().await;
                }
                Action::None => {}
            }
        }
        self.s.check()
    }

    /// One read, bounded by the machine's deadline and `until`.
    async fn read_once(&mut self, until: Option<Instant>) -> Result<(), SmtpError> {
        self.s.check()?;
        let deadline = match (self.s.client.poll_timeout(), until) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let r = self.conn.read_until(&mut self.buf, deadline).await?;
        let now = Instant::now();
        match r {
            ReadOutcome::Data(n) => {
                self.s.client.handle_input(now, &self.buf[..n]);
                self.last_read = now;
            }
            ReadOutcome::Eof => self.s.client.handle_eof(now),
            ReadOutcome::TimedOut => self.s.client.handle_timeout(now),
        }
        Ok(())
    }
}

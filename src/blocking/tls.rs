//! A std TCP connection that is plaintext, implicit TLS, or upgraded with
//! STARTTLS, through rustls. Not tied to a protocol: every blocking driver
//! (IMAP here; SMTP and POP3 alike) runs its machine over a [`Connection`].
//!
//! Certificates are verified by default against the Mozilla roots of the
//! `webpki-roots` crate; [`Verification::CustomCa`] trusts given CAs only
//! (a test CA), and [`Verification::InsecureAcceptAny`] switches
//! verification off (tests against throwaway certificates only: anyone on
//! the path can read and change the session).

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, RootCertStore, StreamOwned};

/// How the connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Security {
    /// Plaintext throughout. Passwords travel in the clear: loopback or
    /// tests only.
    Plain,
    /// Plaintext first, then upgraded by the protocol's STARTTLS command
    /// (IMAP RFC 9051 §6.2.1, SMTP RFC 3207, POP3 RFC 2595). Required: a
    /// server that does not offer it is an error, never a silent downgrade.
    StartTls,
    /// TLS from the first byte (RFC 8314 implicit TLS: IMAPS 993,
    /// submissions 465, POP3S 995). The default, as RFC 8314 §3 recommends.
    #[default]
    Implicit,
}

/// Which server certificates are accepted.
#[derive(Debug, Clone, Default)]
pub enum Verification {
    /// The Mozilla root program (the `webpki-roots` crate), checked for the
    /// host name connected to.
    #[default]
    WebPki,
    /// Only certificates issued by these CAs (DER), for the host name.
    CustomCa(Vec<CertificateDer<'static>>),
    /// Any certificate, for any name. For tests against throwaway
    /// certificates only.
    InsecureAcceptAny,
}

impl Verification {
    /// Reads the CA certificates of a PEM file for [`Verification::CustomCa`].
    pub fn ca_file(path: impl AsRef<std::path::Path>) -> Result<Verification, TransportError> {
        let pem = std::fs::read(path.as_ref()).map_err(TransportError::Io)?;
        Verification::ca_pem(&pem)
    }

    /// Reads the CA certificates of PEM text for [`Verification::CustomCa`].
    pub fn ca_pem(pem: &[u8]) -> Result<Verification, TransportError> {
        use rustls::pki_types::pem::PemObject as _;
        let certs = CertificateDer::pem_slice_iter(pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| TransportError::Config(format!("CA certificates: {e}")))?;
        if certs.is_empty() {
            return Err(TransportError::Config(
                "no CERTIFICATE in the PEM data".into(),
            ));
        }
        Ok(Verification::CustomCa(certs))
    }
}

/// Connection settings shared by every blocking driver.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TransportOptions {
    /// Plain, STARTTLS or implicit TLS. Default implicit TLS.
    pub security: Security,
    /// Certificate verification. Default the webpki roots.
    pub verification: Verification,
    /// The name the certificate must be valid for; default the host part
    /// of the address connected to.
    pub server_name: Option<String>,
    /// Longest wait for the TCP connection (per address tried). Default 30 s.
    pub connect_timeout: Duration,
    /// Longest wait for a single write to make progress. Default 60 s.
    pub write_timeout: Duration,
}

impl Default for TransportOptions {
    fn default() -> Self {
        TransportOptions {
            security: Security::default(),
            verification: Verification::default(),
            server_name: None,
            connect_timeout: Duration::from_secs(30),
            write_timeout: Duration::from_secs(60),
        }
    }
}

/// What went wrong below the protocol.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// A socket error.
    #[error("I/O: {0}")]
    Io(#[source] io::Error),
    /// No byte came before the deadline.
    #[error("timed out")]
    Timeout,
    /// The TLS handshake or session failed; a refused certificate is
    /// `rustls::Error::InvalidCertificate`.
    #[error("TLS: {0}")]
    Tls(#[source] rustls::Error),
    /// The address did not resolve, or the name is not a valid server name.
    #[error("address: {0}")]
    Address(String),
    /// Bad TLS settings (an empty CA file, ...).
    #[error("TLS configuration: {0}")]
    Config(String),
}

impl TransportError {
    pub(crate) fn from_io(e: io::Error) -> TransportError {
        match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => TransportError::Timeout,
            _ => match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
                Some(t) => TransportError::Tls(t.clone()),
                None => TransportError::Io(e),
            },
        }
    }
}

/// What one read gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadOutcome {
    /// This many bytes were read into the buffer.
    Data(usize),
    /// The peer closed its side.
    Eof,
    /// The deadline passed first.
    TimedOut,
}

enum Inner {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
    /// Only while the upgrade swaps the two.
    Gone,
}

/// A TCP connection, plaintext or under TLS.
pub struct Connection {
    inner: Inner,
    server_name: ServerName<'static>,
    config: Arc<ClientConfig>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        debug_connection(f, self.is_tls(), &self.server_name)
    }
}

/// What the blocking and the tokio connection show of themselves.
pub(crate) fn debug_connection(
    f: &mut std::fmt::Formatter<'_>,
    tls: bool,
    server_name: &ServerName<'static>,
) -> std::fmt::Result {
    f.debug_struct("Connection")
        .field("tls", &tls)
        .field("server_name", server_name)
        .finish_non_exhaustive()
}

/// Accepts every certificate ([`Verification::InsecureAcceptAny`]), still
/// checking that the handshake signatures are valid for the key presented.
#[derive(Debug)]
struct AcceptAny(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The rustls client configuration for `verification`.
pub fn client_config(verification: &Verification) -> Result<Arc<ClientConfig>, TransportError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(TransportError::Tls)?;
    let config = match verification {
        Verification::WebPki => {
            let roots = RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            };
            builder.with_root_certificates(roots).with_no_client_auth()
        }
        Verification::CustomCa(certs) => {
            let mut roots = RootCertStore::empty();
            for c in certs {
                roots.add(c.clone()).map_err(TransportError::Tls)?;
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
        Verification::InsecureAcceptAny => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAny(provider)))
            .with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

/// The name the certificate must be valid for, and the rustls
/// configuration, for a connection to `addr`.
pub(crate) fn tls_setup(
    addr: &str,
    options: &TransportOptions,
) -> Result<(ServerName<'static>, Arc<ClientConfig>), TransportError> {
    let name = options
        .server_name
        .clone()
        .unwrap_or_else(|| host_of(addr).to_owned());
    let server_name =
        ServerName::try_from(name).map_err(|e| TransportError::Address(e.to_string()))?;
    Ok((server_name, client_config(&options.verification)?))
}

/// The host part of `host:port` or `[v6]:port`.
fn host_of(addr: &str) -> &str {
    if let Some(rest) = addr.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match addr.rsplit_once(':') {
        Some((h, _)) => h,
        None => addr,
    }
}

impl Connection {
    /// Connects to `addr` (`host:port`), and runs the TLS handshake at once
    /// for [`Security::Implicit`]. For [`Security::StartTls`] the
    /// connection starts plaintext: call [`start_tls`](Self::start_tls)
    /// when the protocol says so.
    pub fn connect(addr: &str, options: &TransportOptions) -> Result<Connection, TransportError> {
        let (server_name, config) = tls_setup(addr, options)?;
        let addrs = addr
            .to_socket_addrs()
            .map_err(|e| TransportError::Address(format!("{addr}: {e}")))?;
        let mut last = TransportError::Address(format!("{addr}: no address"));
        let mut tcp = None;
        for a in addrs {
            match TcpStream::connect_timeout(&a, options.connect_timeout) {
                Ok(s) => {
                    tcp = Some(s);
                    break;
                }
                Err(e) => last = TransportError::from_io(e),
            }
        }
        let tcp = tcp.ok_or(last)?;
        tcp.set_nodelay(true).map_err(TransportError::Io)?;
        tcp.set_write_timeout(Some(options.write_timeout))
            .map_err(TransportError::Io)?;
        let mut conn = Connection {
            inner: Inner::Plain(tcp),
            server_name,
            config,
        };
        if options.security == Security::Implicit {
            conn.start_tls()?;
        }
        Ok(conn)
    }

    /// True once TLS is up.
    pub fn is_tls(&self) -> bool {
        matches!(self.inner, Inner::Tls(_))
    }

    /// Runs the TLS handshake over the plaintext connection (after the
    /// protocol's STARTTLS was accepted), within the write timeout or 30 s.
    /// A certificate that does not verify fails with
    /// [`TransportError::Tls`].
    pub fn start_tls(&mut self) -> Result<(), TransportError> {
        let tcp = match std::mem::replace(&mut self.inner, Inner::Gone) {
            Inner::Plain(t) => t,
            other => {
                self.inner = other;
                return Err(TransportError::Config("TLS is already active".into()));
            }
        };
        let conn = ClientConnection::new(self.config.clone(), self.server_name.clone())
            .map_err(TransportError::Tls)?;
        let mut tls = StreamOwned::new(conn, tcp);
        let deadline = Instant::now() + Duration::from_secs(30);
        while tls.conn.is_handshaking() {
            set_deadline(&tls.sock, Some(deadline))?;
            if let Err(e) = tls.conn.complete_io(&mut tls.sock) {
                return Err(TransportError::from_io(e));
            }
        }
        self.inner = Inner::Tls(Box::new(tls));
        Ok(())
    }

    fn tcp(&self) -> Option<&TcpStream> {
        match &self.inner {
            Inner::Plain(t) => Some(t),
            Inner::Tls(s) => Some(&s.sock),
            Inner::Gone => None,
        }
    }

    /// Reads what is there, waiting at most until `deadline` (forever with
    /// `None`).
    pub fn read_until(
        &mut self,
        buf: &mut [u8],
        deadline: Option<Instant>,
    ) -> Result<ReadOutcome, TransportError> {
        if let Some(t) = self.tcp() {
            if deadline.is_some_and(|d| d <= Instant::now()) {
                return Ok(ReadOutcome::TimedOut);
            }
            set_deadline(t, deadline)?;
        }
        let r = match &mut self.inner {
            Inner::Plain(t) => t.read(buf),
            Inner::Tls(s) => s.read(buf),
            Inner::Gone => return Err(TransportError::Io(io::ErrorKind::NotConnected.into())),
        };
        match r {
            Ok(0) => Ok(ReadOutcome::Eof),
            Ok(n) => Ok(ReadOutcome::Data(n)),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(ReadOutcome::Data(0)),
            // A peer that closes without close_notify: end of stream all the same.
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(ReadOutcome::Eof),
            Err(e) => match TransportError::from_io(e) {
                TransportError::Timeout => Ok(ReadOutcome::TimedOut),
                other => Err(other),
            },
        }
    }

    /// Writes all of `data` (under TLS, encrypted and flushed).
    pub fn write_all(&mut self, data: &[u8]) -> Result<(), TransportError> {
        let r = match &mut self.inner {
            Inner::Plain(t) => t.write_all(data).and_then(|()| t.flush()),
            Inner::Tls(s) => s.write_all(data).and_then(|()| s.flush()),
            Inner::Gone => Err(io::ErrorKind::NotConnected.into()),
        };
        r.map_err(TransportError::from_io)
    }

    /// Closes the connection (a TLS close_notify first, best effort).
    pub fn shutdown(&mut self) {
        if let Inner::Tls(s) = &mut self.inner {
            s.conn.send_close_notify();
            let _ = s.conn.complete_io(&mut s.sock);
        }
        if let Some(t) = self.tcp() {
            let _ = t.shutdown(std::net::Shutdown::Both);
        }
    }
}

/// Sets the socket's read timeout to reach `deadline` (none: block).
fn set_deadline(tcp: &TcpStream, deadline: Option<Instant>) -> Result<(), TransportError> {
    let timeout = deadline.map(|d| {
        d.saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1))
    });
    tcp.set_read_timeout(timeout).map_err(TransportError::Io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_part() {
        assert_eq!(host_of("mail.example.org:993"), "mail.example.org");
        assert_eq!(host_of("[::1]:143"), "::1");
        assert_eq!(host_of("localhost"), "localhost");
    }

    #[test]
    fn pem_without_certificate_is_refused() {
        assert!(matches!(
            Verification::ca_pem(b"nothing here"),
            Err(TransportError::Config(_))
        ));
    }
}

//! The tokio connection every tokio driver runs over: a `TcpStream`,
//! plaintext or under TLS (tokio-rustls), with the TLS settings of
//! [`crate::blocking::TransportOptions`].

use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ::tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use ::tokio::net::TcpStream;
use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::blocking::tls::{ReadOutcome, Security, TransportError, TransportOptions, tls_setup};

enum Inner {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
    /// Only while the upgrade swaps the two.
    Gone,
}

/// A tokio TCP connection, plaintext or under TLS.
pub(crate) struct Connection {
    inner: Inner,
    server_name: ServerName<'static>,
    config: Arc<ClientConfig>,
    write_timeout: Duration,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        crate::blocking::tls::debug_connection(f, self.is_tls(), &self.server_name)
    }
}

impl Connection {
    pub(crate) async fn connect(
        addr: &str,
        options: &TransportOptions,
    ) -> Result<Connection, TransportError> {
        let (server_name, config) = tls_setup(addr, options)?;
        let tcp =
            match ::tokio::time::timeout(options.connect_timeout, TcpStream::connect(addr)).await {
                Err(_) => return Err(TransportError::Timeout),
                Ok(r) => r.map_err(TransportError::from_io)?,
            };
        tcp.set_nodelay(true).map_err(TransportError::Io)?;
        let mut conn = Connection {
            inner: Inner::Plain(tcp),
            server_name,
            config,
            write_timeout: options.write_timeout,
        };
        if options.security == Security::Implicit {
            conn.start_tls().await?;
        }
        Ok(conn)
    }

    pub(crate) fn is_tls(&self) -> bool {
        matches!(self.inner, Inner::Tls(_))
    }

    /// The TLS handshake over the plaintext connection, within 30 s.
    pub(crate) async fn start_tls(&mut self) -> Result<(), TransportError> {
        let tcp = match std::mem::replace(&mut self.inner, Inner::Gone) {
            Inner::Plain(t) => t,
            other => {
                self.inner = other;
                return Err(TransportError::Config("TLS is already active".into()));
            }
        };
        let connector = TlsConnector::from(self.config.clone());
        let handshake = connector.connect(self.server_name.clone(), tcp);
        let tls = match ::tokio::time::timeout(Duration::from_secs(30), handshake).await {
            Err(_) => return Err(TransportError::Timeout),
            Ok(r) => r.map_err(TransportError::from_io)?,
        };
        self.inner = Inner::Tls(Box::new(tls));
        Ok(())
    }

    pub(crate) async fn read_until(
        &mut self,
        buf: &mut [u8],
        deadline: Option<Instant>,
    ) -> Result<ReadOutcome, TransportError> {
        let read = async {
            match &mut self.inner {
                Inner::Plain(t) => t.read(buf).await,
                Inner::Tls(s) => s.read(buf).await,
                Inner::Gone => Err(io::ErrorKind::NotConnected.into()),
            }
        };
        let r = match deadline {
            Some(d) => {
                match ::tokio::time::timeout_at(::tokio::time::Instant::from_std(d), read).await {
                    Err(_) => return Ok(ReadOutcome::TimedOut),
                    Ok(r) => r,
                }
            }
            None => read.await,
        };
        match r {
            Ok(0) => Ok(ReadOutcome::Eof),
            Ok(n) => Ok(ReadOutcome::Data(n)),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(ReadOutcome::Data(0)),
            // A peer that closes without close_notify: end of stream all the same.
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(ReadOutcome::Eof),
            Err(e) => Err(TransportError::from_io(e)),
        }
    }

    pub(crate) async fn write_all(&mut self, data: &[u8]) -> Result<(), TransportError> {
        let write = async {
            match &mut self.inner {
                Inner::Plain(t) => t.write_all(data).await,
                Inner::Tls(s) => {
                    s.write_all(data).await?;
                    s.flush().await
                }
                Inner::Gone => Err(io::ErrorKind::NotConnected.into()),
            }
        };
        match ::tokio::time::timeout(self.write_timeout, write).await {
            Err(_) => Err(TransportError::Timeout),
            Ok(r) => r.map_err(TransportError::from_io),
        }
    }

    /// Closes the connection (a TLS close_notify first, best effort).
    pub(crate) async fn shutdown(&mut self) {
        let close = async {
            match &mut self.inner {
                Inner::Plain(t) => t.shutdown().await,
                Inner::Tls(s) => s.shutdown().await,
                Inner::Gone => Ok(()),
            }
        };
        let _ = ::tokio::time::timeout(Duration::from_secs(5), close).await;
    }
}

impl crate::blocking::Conn for Connection {
    fn connect(
        addr: &str,
        options: &TransportOptions,
    ) -> impl Future<Output = Result<Self, TransportError>> {
        Connection::connect(addr, options)
    }
    fn read_until(
        &mut self,
        buf: &mut [u8],
        deadline: Option<Instant>,
    ) -> impl Future<Output = Result<ReadOutcome, TransportError>> {
        Connection::read_until(self, buf, deadline)
    }
    fn write_all(&mut self, data: &[u8]) -> impl Future<Output = Result<(), TransportError>> {
        Connection::write_all(self, data)
    }
    fn start_tls(&mut self) -> impl Future<Output = Result<(), TransportError>> {
        Connection::start_tls(self)
    }
    fn shutdown(&mut self) -> impl Future<Output = ()> {
        Connection::shutdown(self)
    }
    fn is_tls(&self) -> bool {
        Connection::is_tls(self)
    }
}

/// A tokio writer as a [`Sink`](crate::blocking::Sink).
pub(crate) struct AsyncSink<'a, W>(pub(crate) &'a mut W);

impl<W: AsyncWrite + Unpin> crate::blocking::Sink for AsyncSink<'_, W> {
    async fn put(&mut self, data: &[u8]) -> io::Result<()> {
        self.0.write_all(data).await
    }
    async fn finish(&mut self) -> io::Result<()> {
        self.0.flush().await
    }
}

/// A tokio reader as a [`Source`](crate::blocking::Source).
pub(crate) struct AsyncSource<'a, R>(pub(crate) &'a mut R);

impl<R: AsyncRead + Unpin> crate::blocking::Source for AsyncSource<'_, R> {
    async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf).await
    }
}

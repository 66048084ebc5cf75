//! [`Pop3Session`] on tokio: the POP3 client machine
//! ([`mailwire_pop3::client`]) over a tokio `TcpStream`, with tokio-rustls
//! for implicit TLS and STLS. The session logic, options and errors are
//! those of [`crate::blocking::Pop3Session`] (one implementation, generic
//! over the socket); messages stream to an [`AsyncWrite`].
//!
//! ```no_run
//! use mailwire::blocking::Pop3Options;
//! use mailwire::tokio::Pop3Session;
//! # async fn run() -> Result<(), mailwire::blocking::Pop3Error> {
//! let mut pop = Pop3Session::connect("pop.example.org:995", Pop3Options::new("fred", "secret")).await?;
//! for m in pop.list().await? {
//!     let mut file = tokio::fs::File::create(format!("{}.eml", m.number)).await.unwrap();
//!     pop.retrieve(m.number, &mut file).await?; // streamed: memory stays bounded
//! }
//! pop.quit().await
//! # }
//! ```

use std::collections::HashSet;

use ::tokio::io::AsyncWrite;
use mailwire_pop3::client::LoginMethod;
use mailwire_pop3::{Capability, Command};

use super::conn::{AsyncSink, Connection};
use crate::blocking::pop3::{Core, Pop3Error, Pop3Message, Pop3Options};

/// A POP3 session on tokio. See the module docs and
/// [`crate::blocking::Pop3Session`].
#[derive(Debug)]
pub struct Pop3Session {
    core: Core<Connection>,
}

impl Pop3Session {
    /// Connects, reads the greeting, upgrades with STLS when the options'
    /// `transport.security` says so, and logs in.
    pub async fn connect(addr: &str, options: Pop3Options) -> Result<Pop3Session, Pop3Error> {
        let conn = Connection::connect(addr, &options.transport).await?;
        let core = Core::start(conn, options).await?;
        Ok(Pop3Session { core })
    }

    crate::blocking::pop3::session_accessors!();

    /// `STAT`: the number of messages and their total size.
    pub async fn stat(&mut self) -> Result<(u32, u64), Pop3Error> {
        self.core.stat().await
    }

    /// Every message with its size and unique id; see
    /// [`crate::blocking::Pop3Session::list`].
    pub async fn list(&mut self) -> Result<Vec<Pop3Message>, Pop3Error> {
        self.core.list().await
    }

    /// `UIDL`: each message's number and unique id.
    pub async fn uidl(&mut self) -> Result<Vec<(u32, String)>, Pop3Error> {
        self.core.uidl().await
    }

    /// The messages whose unique id is not in `known`; see
    /// [`crate::blocking::Pop3Session::new_messages`].
    pub async fn new_messages(
        &mut self,
        known: &HashSet<String>,
    ) -> Result<Vec<Pop3Message>, Pop3Error> {
        self.core.new_messages(known).await
    }

    /// `RETR`: writes the message to `sink` as it arrives; returns its size.
    pub async fn retrieve(
        &mut self,
        number: u32,
        sink: &mut (impl AsyncWrite + Unpin),
    ) -> Result<u64, Pop3Error> {
        self.core.retrieve(number, None, &mut AsyncSink(sink)).await
    }

    /// `TOP`: the header and the first `lines` body lines, to `sink`.
    pub async fn top(
        &mut self,
        number: u32,
        lines: u32,
        sink: &mut (impl AsyncWrite + Unpin),
    ) -> Result<u64, Pop3Error> {
        self.core
            .retrieve(number, Some(lines), &mut AsyncSink(sink))
            .await
    }

    /// `DELE`: marks the message deleted; it goes at [`quit`](Self::quit).
    pub async fn delete(&mut self, number: u32) -> Result<(), Pop3Error> {
        self.core.delete(number).await
    }

    /// `RSET`: unmarks every deleted message.
    pub async fn reset(&mut self) -> Result<(), Pop3Error> {
        self.core.simple(Command::Rset, "RSET").await
    }

    /// `NOOP`.
    pub async fn noop(&mut self) -> Result<(), Pop3Error> {
        self.core.simple(Command::Noop, "NOOP").await
    }

    /// `QUIT`: the messages marked deleted are removed.
    pub async fn quit(mut self) -> Result<(), Pop3Error> {
        self.core.quit().await
    }
}

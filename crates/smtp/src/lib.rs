//! # mailwire-smtp
//!
//! SMTP (RFC 5321) with its extensions, sans-IO: no I/O, no clock. A
//! codec (typed commands, replies and EHLO capabilities, zero-copy parsers,
//! serializers that cannot emit CR, LF or NUL inside a field) and two state
//! machines, [`client::Client`] and [`server::Server`], that any transport
//! can drive.
//!
//! Extensions: SIZE (RFC 1870), 8BITMIME (RFC 6152), PIPELINING (RFC 2920),
//! SMTPUTF8 (RFC 6531), STARTTLS (RFC 3207), AUTH (RFC 4954), DSN (RFC 3461),
//! ENHANCEDSTATUSCODES (RFC 2034, RFC 3463), CHUNKING and BINARYMIME
//! (RFC 3030), MT-PRIORITY (RFC 6710, with its policy name), REQUIRETLS
//! (RFC 8689), LIMITS (RFC 9422: the server announces RCPTMAX and MAILMAX
//! and keeps MAILMAX; the client sends no more RCPTs than RCPTMAX and no
//! more domains than RCPTDOMAINMAX in a transaction, leaving the rest
//! [`client::Outcome::unsent`], and no more transactions than MAILMAX);
//! the parser also knows BY.
//!
//! ```text
//!            ┌──────────── your driver (socket, TLS, clock) ────────────┐
//!  socket ──▶│ handle_input(now, bytes)        poll_transmit(now, &mut v)│──▶ socket
//!            │ handle_eof / handle_timeout     poll_event() -> Event     │
//!            │ handle_tls_established          poll_timeout() -> Instant │
//!            └──────────────────── Client or Server ─────────────────────┘
//! ```
//!
//! ## Run loop
//!
//! After every `handle_*` call or application command, drain
//! `poll_transmit`, then `poll_event`, then ask `poll_timeout`, and go round
//! again when an event led to a command:
//!
//! ```no_run
//! use std::io::{Read, Write};
//! use std::time::Instant;
//! use mailwire_smtp::server::{Event, Options, Server};
//!
//! # fn serve(mut socket: std::net::TcpStream) -> std::io::Result<()> {
//! let mut server = Server::new(Options::default(), Instant::now());
//! let mut out = Vec::new();
//! let mut buf = [0u8; 8192];
//! loop {
//!     while server.poll_transmit(Instant::now(), &mut out).is_some() {}
//!     socket.write_all(&out)?;
//!     out.clear();
//!     let mut answered = false;
//!     while let Some(event) = server.poll_event() {
//!         answered = true;
//!         match event {
//!             Event::Mail { handle, .. } | Event::Rcpt { handle, .. } => server.accept(handle).unwrap(),
//!             Event::DataChunk(_chunk) => { /* store it */ }
//!             Event::DataEnd { handle, .. } => server.accept(handle).unwrap(),
//!             Event::Closed { .. } => return Ok(()),
//!             _ => {}
//!         }
//!     }
//!     if answered { continue; }
//!     socket.set_read_timeout(server.poll_timeout().map(|t| t.saturating_duration_since(Instant::now())))?;
//!     match socket.read(&mut buf) {
//!         Ok(0) => server.handle_eof(Instant::now()),
//!         Ok(n) => server.handle_input(Instant::now(), &buf[..n]),
//!         Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => server.handle_timeout(Instant::now()),
//!         Err(e) => return Err(e),
//!     }
//! }
//! # }
//! ```
//!
//! ## The codec
//!
//! ```
//! use mailwire_smtp::{parse_command, parse_reply, Command, Mailbox, ReversePath};
//!
//! let cmd = parse_command(b"MAIL FROM:<alice@example.org> SIZE=1024 BODY=8BITMIME").unwrap();
//! let Command::Mail(ReversePath::Mailbox(from), params) = &cmd else { panic!() };
//! assert_eq!(from.to_string(), "alice@example.org");
//! assert_eq!(params.size, Some(1024));
//! assert_eq!(cmd.to_bytes(), b"MAIL FROM:<alice@example.org> SIZE=1024 BODY=8BITMIME\r\n");
//!
//! // Values with CR, LF or NUL cannot be built, so cannot be sent.
//! assert!(Mailbox::try_from("a\r\nRSET@example.org").is_err());
//!
//! let reply = parse_reply(b"550 5.1.1 No such user\r\n").unwrap();
//! assert_eq!(reply.code().get(), 550);
//! assert_eq!(reply.enhanced().unwrap().to_string(), "5.1.1");
//! ```
//!
//! The [`manual`] module records the design reasons and the attacks the
//! machines defend against.
#![deny(missing_docs)]
// `deny`, not `forbid`: `parse::bytes_str` allows one `unsafe` block, with
// its SAFETY proof, to skip UTF-8 validation of ASCII command arguments.
#![deny(unsafe_code)]

pub mod client;
mod encode;
mod error;
pub mod manual;
mod parse;
pub mod server;
mod types;

pub use error::ConnectionError;

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
pub use parse::{
    EhloReply, FrameError, ParseError, Status, command_frame, ehlo_frame, parse_command,
    parse_reply, reply_frame,
};
pub use types::*;

//! # mailwire
//!
//! ```
//! use mailwire::message::Message;
//! use mailwire::mime::builder::MessageBuilder;
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let raw = MessageBuilder::new()
//!     .header("From", "fred@example.org")?
//!     .header("Subject", "Hello")?
//!     .text("Hi.\r\n")
//!     .build();
//! assert_eq!(Message::parse(&raw).subject().as_deref(), Some("Hello"));
//! # Ok(()) }
//! ```
//!
//! Sending it over SMTP takes the blocking driver
//! (`mailwire::blocking::SmtpTransport`, feature `blocking`) or the tokio
//! one (`mailwire::tokio::SmtpTransport`, feature `tokio`); the README has
//! the whole examples, and a tokio IMAP reader.
//!
//! Sans-IO Internet mail for Rust. Each protocol and format lives in its own
//! crate; this facade re-exports each one as a module behind a default-on
//! cargo feature of the same name:
//!
//! | module | crate | what |
//! |---|---|---|
//! | [`line`](mod@line) | `mailwire-line` | CRLF line framing, dot-stuffing (RFC 5321 §4.5.2, RFC 1939 §3) |
//! | [`sasl`] | `mailwire-sasl` | SASL mechanisms, client and server (RFC 4422) |
//! | [`message`] | `mailwire-message` | RFC 5322/6532 messages, RFC 2047 words |
//! | [`mime`] | `mailwire-mime` | MIME (RFC 2045-2049, 2183, 2231) |
//! | [`smtp`] | `mailwire-smtp` | SMTP (RFC 5321 and extensions) |
//! | [`pop3`] | `mailwire-pop3` | POP3 (RFC 1939, 2449, 2595, 5034) |
//! | [`imap`] | `mailwire-imap` | IMAP (RFC 3501, RFC 9051 and extensions) |
//!
//! No crate opens a socket, reads a clock or touches a file. The
//! `mailwire::blocking` module (feature `blocking`, off by default)
//! runs the client machines over std sockets and rustls: an SMTP transport,
//! a POP3 session and an IMAP session; `mailwire::tokio` (feature `tokio`)
//! has the same three on tokio (IMAP IDLE as a `Stream`). Feature `mx`
//! adds MX lookup to the SMTP transports (`connect_domain`).

#![deny(missing_docs)]

#[cfg(feature = "line")]
#[doc(inline)]
pub use mailwire_line as line;

#[cfg(feature = "sasl")]
#[doc(inline)]
pub use mailwire_sasl as sasl;

#[cfg(feature = "message")]
#[doc(inline)]
pub use mailwire_message as message;

#[cfg(feature = "mime")]
#[doc(inline)]
pub use mailwire_mime as mime;

#[cfg(feature = "smtp")]
#[doc(inline)]
pub use mailwire_smtp as smtp;

#[cfg(feature = "pop3")]
#[doc(inline)]
pub use mailwire_pop3 as pop3;

#[cfg(feature = "imap")]
#[doc(inline)]
pub use mailwire_imap as imap;

#[cfg(feature = "blocking")]
pub mod blocking;

#[cfg(feature = "tokio")]
pub mod tokio;

/// The code blocks of README.md, compiled as doctests (the first needs
/// the `blocking` driver, the second the `tokio` one).
#[cfg(all(doctest, feature = "tokio"))]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

//! Tokio drivers (feature `tokio`): the sans-IO machines run over tokio
//! sockets and timers, with rustls (tokio-rustls) for implicit TLS and
//! STARTTLS. The TLS settings ([`TransportOptions`](crate::blocking::TransportOptions),
//! [`Verification`](crate::blocking::Verification)), the errors and the
//! session logic are those of the blocking drivers.
//!
//! - [`smtp`]: [`SmtpTransport`], the SMTP transport of
//!   [`crate::blocking::smtp`] as `async fn`s.
//! - [`pop3`]: [`Pop3Session`], the POP3 session of
//!   [`crate::blocking::pop3`]; messages stream to an `AsyncWrite`.
//! - [`imap`]: [`ImapSession`], the IMAP session of
//!   [`crate::blocking::imap`]; fetched messages stream to an
//!   `AsyncWrite`, and IDLE is a `Stream` ([`IdleStream`]).
//!
//! ```no_run
//! use mailwire::blocking::{Security, SmtpOptions};
//! use mailwire::tokio::SmtpTransport;
//! # async fn run(message: Vec<u8>) -> Result<(), mailwire::blocking::SmtpError> {
//! let options = SmtpOptions::new().security(Security::StartTls).login("fred", "secret");
//! let mut smtp = SmtpTransport::connect("smtp.example.org:587", options).await?;
//! let outcome = smtp.send(&message).await?;
//! println!("delivered to all: {}", outcome.all_delivered());
//! smtp.quit().await
//! # }
//! ```

mod conn;
pub mod imap;
pub mod pop3;
pub mod smtp;

pub use imap::{IdleStream, ImapSession};
pub use pop3::Pop3Session;
pub use smtp::SmtpTransport;

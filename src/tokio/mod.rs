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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blocking::{ImapOptions, Pop3Options, SmtpOptions};
    use std::time::Duration;

    fn send<T: Send>(_: &T) {}

    /// The sessions' futures and the IDLE stream can move between the
    /// threads of a multi-threaded runtime (`tokio::spawn`).
    #[test]
    fn futures_and_the_idle_stream_are_send() {
        let connect = ImapSession::connect("127.0.0.1:1", ImapOptions::default());
        send(&connect);
        let pop = Pop3Session::connect("127.0.0.1:1", Pop3Options::new("u", "p"));
        send(&pop);
        fn idle(s: &mut ImapSession) {
            send(&s.idle(Duration::from_secs(1)));
            let mut out = Vec::new();
            send(&s.fetch_message_to(1, &mut out));
        }
        fn stream(s: &IdleStream<'_>) {
            send(s);
        }
        fn smtp(t: &mut SmtpTransport, body: &mut &[u8]) {
            send(&t.send(b"From: a@b.c\r\n\r\n"));
            send(&t.send_reader(body, None));
            send(&t.noop());
        }
        let smtp_connect = SmtpTransport::connect("127.0.0.1:1", SmtpOptions::new());
        send(&smtp_connect);
        let _ = (
            idle as fn(&mut ImapSession),
            stream as fn(&IdleStream<'_>),
            smtp as fn(&mut SmtpTransport, &mut &[u8]),
        );
    }
}

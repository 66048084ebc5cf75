//! # mailwire-pop3
//!
//! POP3 without I/O and without a clock: the codec and the client and server
//! state machines of RFC 1939, with CAPA and response codes (RFC 2449), STLS
//! (RFC 2595), SASL AUTH (RFC 5034, through `mailwire-sasl`) and UTF8
//! (RFC 6856). Bytes go in through `handle_input`, bytes come out through
//! `poll_transmit`, decisions go to the application as events; time comes
//! in as `now`.
//!
//! ```
//! use mailwire_pop3::{parse_command, parse_status_line, Command, ResponseCode, Status};
//!
//! // What a server reads: RETR with a message number (never 0, RFC 1939 §5).
//! assert_eq!(parse_command(b"retr 1").unwrap(), Command::Retr(1.try_into().unwrap()));
//! // What a client reads: the status, the RFC 2449 §8 response code, the text.
//! let line = parse_status_line(b"-ERR [IN-USE] Do you have another POP session running?").unwrap();
//! assert_eq!((line.status, line.code), (Status::Err, Some(ResponseCode::InUse)));
//! ```
//!
//! ```text
//!   socket ─▶ handle_input(now, &[u8]) ─▶ ┌────────────────┐ ─▶ poll_transmit(now, &mut Vec<u8>) ─▶ socket
//!                                         │ client::Client │
//!   timer  ─▶ handle_timeout(now)     ─▶  │ server::Server │ ─▶ poll_event()  ─▶ application
//!                                         └────────────────┘ ─▶ poll_timeout() ─▶ timer
//! ```
//!
//! - [`parse_command`], [`parse_status_line`], [`parse_capability`] and the
//!   listing parsers are zero-copy nom 8 parsers over complete lines;
//!   [`ResponseDecoder`] frames whole responses (multi-line ones
//!   dot-unstuffed through `mailwire-line`).
//! - [`server::Server`] runs the AUTHORIZATION, TRANSACTION and UPDATE
//!   states; the application answers events for credentials, the maildrop
//!   lock and listing, message content (streamed) and the final deletions.
//! - [`client::Client`] discovers capabilities, upgrades with STLS, logs in
//!   with the best method offered and runs the commands the application
//!   queues, pipelined when the server offers PIPELINING.
//!
//! # Driver loop
//!
//! ```no_run
//! # use std::time::Instant;
//! # use mailwire_pop3::client::{Client, Event, Options};
//! # struct Socket;
//! # impl Socket { fn write_all(&mut self, _: &[u8]) {} fn read(&mut self, _: &mut [u8], _: Option<Instant>) -> Option<usize> { None } }
//! # let mut socket = Socket;
//! let mut client = Client::new(Options::new("user", "password"), Instant::now());
//! let mut out = Vec::new();
//! let mut buf = [0u8; 16384];
//! loop {
//!     // 1. what to send, 2. what happened, 3. when to wake up: in this order.
//!     while client.poll_transmit(Instant::now(), &mut out).is_some() {}
//!     socket.write_all(&out);
//!     out.clear();
//!     while let Some(event) = client.poll_event() {
//!         match event {
//!             Event::Closed { .. } => return,
//!             _ => { /* answer or record it */ }
//!         }
//!     }
//!     match socket.read(&mut buf, client.poll_timeout()) {
//!         Some(0) => client.handle_eof(Instant::now()),
//!         Some(n) => client.handle_input(Instant::now(), &buf[..n]),
//!         None => client.handle_timeout(Instant::now()),
//!     }
//! }
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

/// The README's example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

pub mod client;
mod content;
mod encode;
mod error;
pub mod manual;
mod parse;
mod response;
pub mod server;
mod types;

pub use content::WireSize;
pub use encode::encode_continuation;
pub use error::ConnectionError;
pub use mailwire_line::Status as Progress;
pub use parse::{
    CommandError, ReplyError, parse_capability, parse_command, parse_continuation,
    parse_drop_listing, parse_lang_listing, parse_scan_listing, parse_status_line,
    parse_uid_listing, unstuff_line,
};
pub use response::{DecodeError, Decoded, ResponseDecoder, decode_response};
pub use types::{
    Arg, Capability, Command, DropListing, Expire, LangListing, MsgNum, ResponseCode, ResponseKind,
    ScanListing, Status, StatusLine, Text, Uid, UidListing, ValidationError,
};

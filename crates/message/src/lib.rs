//! # mailwire-message
//!
//! Parse and build Internet messages: RFC 5322 (with the obsolete syntax of
//! its §4), RFC 6532 (UTF-8 headers) and RFC 2047 (encoded words).
//! No I/O, no clock, no randomness: the caller passes the bytes, the time
//! and the seeds in.
//!
//! ```text
//!  bytes ──► HeaderSection (fields, body offset, defects) ──► structured values
//!                                                  (addresses, dates, ids, ...)
//!  values ──► HeaderBuilder / MessageBuilder ──► bytes (folded, encoded, injection-proof)
//! ```
//!
//! Parsing is zero-copy and lenient: values borrow from the input, and
//! every repair of broken real-world mail is recorded as a [`Defect`].
//!
//! ```
//! use mailwire_message::Message;
//! let raw = b"From: =?utf-8?q?J=C3=B6rg?= <joerg@example.com>\r\n\
//!             Subject: Hello\r\n\
//!             Date: Tue, 17 May 2005 15:58:25 +0200\r\n\r\nBody\r\n";
//! let msg = Message::parse(raw);
//! assert_eq!(msg.subject().as_deref(), Some("Hello"));
//! let from = msg.from();
//! let first = from.mailboxes().next().unwrap();
//! assert_eq!(first.name(), Some("Jörg"));
//! assert_eq!(first.addr_spec(), "joerg@example.com");
//! assert_eq!(msg.date().unwrap().to_rfc3339(), "2005-05-17T15:58:25+02:00");
//! assert_eq!(msg.body(), b"Body\r\n");
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

/// The README's example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

mod address;
mod builder;
pub mod charset;
mod datetime;
mod defect;
mod fields;
mod header;
mod lex;
mod message;
mod msgid;
mod reply;
pub mod rfc2047;
mod value;

pub use address::{
    Address, AddressError, AddressList, Group, Mailbox, parse_address_list,
    parse_address_list_with, parse_mailbox, parse_mailbox_list, parse_mailbox_list_with,
    parse_return_path,
};
pub use builder::{BuildError, HeaderBuilder, MessageBuilder, fold_field};
pub use datetime::{DateError, DateTime, parse_date_time, parse_date_time_with};
pub use defect::{Defect, DefectKind, DefectSink, IgnoreDefects};
pub use fields::{
    AutoSubmitted, ListUrls, Priority, Received, ReceivedTokens, parse_auto_submitted,
    parse_keywords, parse_list_id, parse_list_urls, parse_priority, parse_received,
    parse_received_with,
};
pub use header::{Field, FieldIter, HeaderSection, Limits, unfold};
pub use message::{Message, ResentBlock, Summary};
pub use msgid::{
    MessageId, MessageIdError, MessageIdGenerator, parse_message_id, parse_message_id_with,
    parse_message_ids, parse_message_ids_with,
};
pub use reply::{
    AutoReplyRefusal, Envelope, EnvelopeError, Resend, auto_reply, derive_envelope, reply, resend,
    strip_reply_prefix,
};
pub use rfc2047::{
    decode_phrase, decode_phrase_with, decode_unstructured, decode_unstructured_with,
    encode_phrase, encode_unstructured, encode_words,
};
pub use value::{FieldValue, parse_field, parse_field_with};

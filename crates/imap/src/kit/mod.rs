//! The server kit: pure functions over mailwire-mime (no I/O) that answer
//! FETCH (and SEARCH) from a stored message.
//!
//! ```text
//!  stored bytes ──► Message::parse (once) ──► envelope(), body_structure(),
//!                                             section(), binary(), ...
//!                                               └─► FetchItem values for the encoder
//! ```
//!
//! [`Message::fetch`] answers one FETCH attribute with the codec's
//! [`FetchItem`](crate::FetchItem); the other methods give the pieces.
//! Section data are [`Bytes`](bytes::Bytes) slices of the stored message
//! wherever the RFC lets the answer be one (everything but
//! `HEADER.FIELDS` and decoded `BINARY`).

mod address;
mod bodystructure;
mod content;
mod envelope;
mod fetch;
mod lex;
mod message;
mod section;

pub use fetch::FetchError;
pub use message::{Message, Options};

use crate::types::core::IString;

/// A header-derived value as an IMAP string. An IMAP string cannot hold
/// NUL (RFC 3501 §4.3): a NUL becomes 0x80, as Dovecot writes it.
pub(crate) fn istr(mut v: Vec<u8>) -> IString<'static> {
    for b in &mut v {
        if *b == 0 {
            *b = 0x80;
        }
    }
    // NUL replaced just above.
    IString::unvalidated(v)
}

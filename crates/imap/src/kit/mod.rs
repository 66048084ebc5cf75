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
//!
//! Where the RFCs leave room, the kit answers as Dovecot does (the server
//! whose output clients are tuned to; `tests/interop_imap_kit.rs` compares
//! the two over the whole corpus and lists what still differs):
//!
//! * header values as written, unfolded, NUL as 0x80; header fields read
//!   leniently (a line without a colon is a field of its own);
//! * ENVELOPE: the last occurrence of a field; `MISSING_MAILBOX`,
//!   `MISSING_DOMAIN` and `SYNTAX_ERROR` where an address lacks a part;
//! * BODYSTRUCTURE: `charset=us-ascii` added to text parts without one,
//!   `"" ""` for a Content-Type that does not parse, `rfc822` in lower
//!   case, lines counted as line feeds, an empty `text/plain` part in a
//!   multipart that has none;
//! * a section that does not exist is the empty string, `BINARY.SIZE` 0.
//!
//! Two choices differ from Dovecot on purpose: `BINARY` of a multipart or
//! message/rfc822 part returns its content as stored (Dovecot decodes the
//! parts inside it), and each part is decoded on its own (Dovecot refuses
//! `BINARY` for the whole message when any part has bad base64 or an
//! encoding it does not know; the kit decodes x-uuencode).
//!
//! `PREVIEW` (RFC 8970) is the kit's own algorithm ([`Message::preview`]):
//! RFC 8970 leaves it to the server.

mod address;
mod bodystructure;
mod content;
mod envelope;
mod fetch;
mod lex;
mod message;
mod preview;
mod section;

pub use fetch::FetchError;
pub use message::{Message, Options};
pub use preview::{PREVIEW_CHARS, READ_LIMIT, preview_of_text};

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

pub mod mailbox;
pub mod metadata;
pub mod search;
pub mod sort;
pub mod thread;

//! # mailwire-mime
//!
//! MIME (RFC 2045-2049, 2183, 2231, 2387, 1847, 3464): the body of an
//! Internet message. No I/O, no clock: bytes in, a tree or events out; and
//! values in, bytes out.
//!
//! ```text
//!  message bytes ──► Message::parse ──► tree of parts (zero-copy ranges) ──► decoded bodies, text
//!  message bytes ──► Parser::feed (any split) ──► events (bounded memory)
//!  parts ──► Builder ──► message bytes
//! ```
//!
//! ```
//! use mailwire_mime::Message;
//! let raw = b"Content-Type: multipart/mixed; boundary=xyz\r\n\r\n\
//! --xyz\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nhello\r\n\
//! --xyz\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\
//! Content-Disposition: attachment; filename=\"a.bin\"\r\n\r\nAAEC\r\n--xyz--\r\n";
//! let msg = Message::parse(raw);
//! let leaves: Vec<_> = msg.leaves().collect();
//! assert_eq!(leaves.len(), 2);
//! assert_eq!(leaves[0].section_string(), "1");
//! assert_eq!(msg.text(leaves[0]).unwrap().0, "hello");
//! assert_eq!(msg.decoded(leaves[1]).as_ref(), &[0, 1, 2]);
//! assert_eq!(leaves[1].mime.filename(), Some("a.bin"));
//! ```
#![warn(missing_docs)]

pub mod builder;
mod charset;
mod defect;
pub mod downgrade;
pub mod encoding;
mod headers;
pub mod params;
pub mod partial;
pub mod report;
mod stream;
pub mod summary;
mod tree;

pub use charset::{TextStatus, decode_text};
pub use defect::{Defect, DefectKind};
pub use encoding::{Decoder, TransferEncoding};
pub use headers::MimeHeaders;
pub use params::{ContentDisposition, ContentType, Param};
pub use stream::{Event, Limits, Options, Parser, PartEnd, PartKind, PartStart};
pub use tree::{Message, Part};

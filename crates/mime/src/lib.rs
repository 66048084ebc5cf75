//! # mailwire-mime
//!
//! MIME (RFC 2045-2049, 2183, 2231, 2387, 1847, 3464): the body of an
//! Internet message. No I/O, no clock, no RNG: bytes in, a tree or events
//! out; values in, bytes out.
//!
//! ```text
//!  message bytes ──► Message::parse ──► flat tree of parts (zero-copy ranges,
//!                                        IMAP section numbers, defects)
//!                                          └─► decoded(), text(), signed_content(), ...
//!  message bytes ──► Parser::feed (any split) ──► Event::{PartStart, Body, Decoded,
//!                                                  Preamble, Epilogue, PartEnd, Defect}
//!  PartBuilder / MessageBuilder ──► message bytes
//!  downgrade::downgrade_7bit, partial::{split, reassemble}
//! ```
//!
//! - [`Message::parse`] builds the tree. It *is* the streaming [`Parser`]
//!   fed the whole input, so the tree and the streaming events agree by
//!   construction; the tests also feed every corpus message and generated
//!   messages in random splits and byte by byte and compare.
//! - Parsing is lenient (missing close delimiters, missing blank lines,
//!   truncated parts, broken Content-Type, bare LF, unknown charsets and
//!   encodings) and every repair is a [`Defect`]. Limits ([`Limits`]) bound
//!   depth, part count and header size; exceeding one is a defect too.
//! - Part numbering is IMAP's (RFC 3501 §6.4.5): see [`Part::section`].
//! - [`encoding`] holds the transfer decoders (incremental) and encoders;
//!   [`params`] the Content-Type / Content-Disposition / RFC 2231 parser;
//!   [`report`] the RFC 3464 and MDN fields; [`summary`] the per-leaf
//!   summary used by the `parse` example.
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
//!
//! ## For the `parse` example
//!
//! - `"parts"`: [`summary::leaf_parts`]`(&Message::parse(&bytes))`, then
//!   [`summary::parts_json`] (or [`summary::PartSummary::to_json`] per part).
//! - `--stream`: a [`summary::StreamSummarizer`], [`feed`](summary::StreamSummarizer::feed)
//!   each read, [`finish`](summary::StreamSummarizer::finish): the identical
//!   list, with SHA-256 computed as the bytes pass and memory bounded.
//! - `--tree`: [`summary::outline`]`(&msg)`.
#![deny(missing_docs)]

/// The README's example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

mod base64_avx512;
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
/// The inline list type of [`Part::children`] and [`Part::section`].
pub use tinyvec::TinyVec;
pub use tree::{Message, Part};

//! mailwire-imap: the IMAP codec (IMAP4rev1, RFC 3501, and IMAP4rev2, RFC 9051).
//!
//! No I/O, no clock: this crate turns bytes into typed values and back. The
//! client and server state machines stand on it.
//!
//! ```text
//!  socket bytes ──► Fragmenter ──► one complete message (Bytes) ──► parse::response / parse::command
//!                      │                                                   │
//!                      └─ LiteralAnnounced { sync } : send "+ go ahead"     ▼
//!  socket bytes ◄── encode::{Encoder, Encoded} ◄──────────────────── Command / Response values
//! ```
//!
//! * [`Fragmenter`] splits a byte stream into complete messages, stepping over
//!   literals by their announced length (O(1) per literal, bytes never scanned),
//!   reporting an over-size literal before buffering it and telling a server
//!   when a synchronizing literal needs a continuation request.
//! * [`parse`] holds zero-copy nom parsers for commands and responses.
//! * [`encode`] serializes values to the shortest correct form, and splits a
//!   command at synchronizing literals.
//! * [`types`] holds the values; they cannot be built invalid (an [`Atom`] with
//!   a space, a [`Tag`] with `+`, a [`Text`] with CR or LF are refused).
//!
//! ```
//! use mailwire_imap::{Fragmenter, FragmentOptions, Frame, parse, Response, Data, FetchItem};
//!
//! let mut f = Fragmenter::new(FragmentOptions::default());
//! f.push(b"* 1 FETCH (UID 7 BODY[] {5}\r\nHello)\r\n");
//! // First the literal announcement (a server would now send "+ ..." to a client's `{n}`),
//! assert!(matches!(f.poll(), Ok(Some(Frame::LiteralAnnounced { length: 5, .. }))));
//! // then the whole response as one `Bytes` view of the buffer.
//! let Ok(Some(Frame::Message(msg))) = f.poll() else { panic!() };
//! let (resp, _) = parse::response(&msg).unwrap();
//! let Response::Data(Data::Fetch { items, .. }) = resp else { panic!() };
//! assert!(matches!(&items[1], FetchItem::BodySection { data: Some(s), .. } if s.as_bytes() == b"Hello"));
//!
//! // And back:
//! let bytes = mailwire_imap::encode::response_to_vec(&Response::Data(Data::Exists(3)));
//! assert_eq!(bytes, b"* 3 EXISTS\r\n");
//! ```
//!
//! # The client machine
//!
//! [`client::Client`] is a sans-IO IMAP client: the application queues
//! commands and gets one [`client::Event::Completed`] per command with the
//! data it caused; the driver moves bytes and time. After every input or
//! command, drain `poll_transmit`, then `poll_event`, then ask `poll_timeout`
//! (the full driver loop is on [`client::Client`]):
//!
//! ```
//! use std::time::Instant;
//! use mailwire_imap::client::{Client, Event, Options};
//! use mailwire_imap::{CommandBody, Mailbox};
//!
//! let now = Instant::now();
//! let mut conn = Client::new(Options::default(), now);
//! let select = CommandBody::Select { mailbox: Mailbox::Inbox, params: vec![] };
//! let handle = conn.enqueue_command(select).unwrap(); // queued until the greeting
//! conn.handle_input(now, b"* PREAUTH [CAPABILITY IMAP4rev2] ready\r\n");
//! let mut out = Vec::new();
//! while conn.poll_transmit(now, &mut out).is_some() {}
//! assert_eq!(out, b"A1 SELECT INBOX\r\n");
//! conn.handle_input(now, b"* 3 EXISTS\r\nA1 OK [READ-WRITE] done\r\n");
//! let done = std::iter::from_fn(|| conn.poll_event())
//!     .find_map(|e| match e { Event::Completed(c) => Some(c), _ => None })
//!     .unwrap();
//! assert!(done.handle == handle && done.is_ok());
//! assert_eq!(conn.selected().unwrap().exists, 3);
//! ```
#![deny(missing_docs)]

pub mod client;
pub mod encode;
mod fragment;
pub mod kit;
mod owned;
pub mod parse;
pub mod server;
pub mod types;

/// The README's examples run as doctests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

pub use fragment::{FragmentOptions, Fragmenter, Frame, FrameError};
pub use parse::ParseError;
pub use types::body::{
    Address, BasicFields, BodyExtension, BodyStructure, Disposition, Envelope, ExtensionData,
    MultipartExtension, SinglePartExtension, SpecificFields,
};
pub use types::command::{
    AppendMessage, Command, CommandBody, FetchModifier, ListReturn, ListSelect, MetadataOptions,
    PartialRange, SearchReturn, SelectParam, SortCriterion, SortKey, StatusAttr, StoreKind,
    ThreadAlgorithm,
};
pub use types::core::{
    Atom, Binary, Date, DateTime, IString, LiteralMode, NString, Tag, Text, ValidationError,
    is_object_id,
};
pub use types::fetch::{FetchAttr, FetchAttrs, FetchItem, Partial, Section, SectionText, Value};
pub use types::flag::{Capability, Flag, MailboxAttr};
pub use types::mailbox::{Mailbox, decode_utf7, encode_utf7};
pub use types::response::{
    Code, Continue, Data, ESearchItem, ListItem, Namespace, Raw, Response, StatusItem, StatusKind,
    StatusResponse, Thread,
};
pub use types::search::{EntryType, SearchKey};
pub use types::secret::{EmptyError, Secret, Vec1};
pub use types::sequence::{SeqNum, SeqRange, SequenceSet};

//! What the client machine reports to the application.

use std::num::NonZeroU32;

use bytes::Bytes;

use super::error::ConnectionError;
use super::state::Capabilities;
use crate::parse;
use crate::types::core::Text;
use crate::types::fetch::FetchItem;
use crate::types::flag::Flag;
use crate::types::mailbox::Mailbox;
use crate::types::response::{
    Code, Data, ListItem, Raw, Response, StatusItem, StatusKind, StatusResponse,
};
use crate::types::sequence::SequenceSet;

/// Ties a queued command to the event that completes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CommandHandle(pub(crate) u64);

/// What the machine repaired in a response before it could understand it
/// (the server's mistake, recorded rather than refused).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DefectKind {
    /// A space too many (doubled, after `(`, before `)` or CRLF).
    ExtraSpace,
    /// A space missing between two items.
    MissingSpace,
    /// A `)` with no `(` to close.
    StrayParenthesis,
    /// A `(` never closed: `)` added before the CRLF.
    MissingParenthesis,
    /// A number too large for its field: clamped to the largest allowed.
    NumberOutOfRange,
    /// `NIL` where the grammar wants a string: read as `""`.
    NilForString,
    /// A tagged status whose text and code could not be read: kept as the
    /// tag and the status word alone.
    TextDropped,
}

/// One repair, and the byte offset in the response as received where it was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Defect {
    /// What was wrong.
    pub kind: DefectKind,
    /// Where, from the start of the response.
    pub offset: usize,
}

/// One server response, owned: a view of the receive buffer (never a copy
/// unless it had to be repaired) that parses to a [`Response`].
#[derive(Clone, PartialEq, Eq)]
pub struct Received {
    bytes: Bytes,
    defects: Vec<Defect>,
}

impl std::fmt::Debug for Received {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("Received");
        d.field("bytes", &String::from_utf8_lossy(&self.bytes));
        if !self.defects.is_empty() {
            d.field("defects", &self.defects);
        }
        d.finish()
    }
}

impl Received {
    /// Only the machine builds one, from bytes it parsed successfully.
    pub(crate) fn new(bytes: Bytes, defects: Vec<Defect>) -> Self {
        Received { bytes, defects }
    }

    /// The response bytes, CRLF included (after repairs, if any).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The repairs made before the response could be parsed (usually none).
    pub fn defects(&self) -> &[Defect] {
        &self.defects
    }

    /// The parsed response, borrowing from `self`.
    pub fn response(&self) -> Response<'_> {
        match parse::response(&self.bytes) {
            Ok((r, _)) => r,
            // Unreachable: the machine only builds a `Received` from bytes
            // that parsed, and parsing is deterministic. Still, no panic.
            Err(_) => Response::Data(Data::Other {
                name: crate::types::core::Atom::unvalidated("UNPARSED"),
                number: None,
                rest: Raw(&[]),
            }),
        }
    }

    /// The untagged data, when this is `* ...` data.
    pub fn data(&self) -> Option<Data<'_>> {
        match self.response() {
            Response::Data(d) => Some(d),
            _ => None,
        }
    }

    /// The status response, when this is one (tagged or untagged).
    pub fn status(&self) -> Option<StatusResponse<'_>> {
        match self.response() {
            Response::Status(s) => Some(s),
            _ => None,
        }
    }
}

/// The one event that completes a command: its tagged status and every
/// untagged response it caused (FETCH, SEARCH, ESEARCH, LIST, STATUS,
/// NAMESPACE, ...). Mailbox changes the server reports meanwhile (EXISTS,
/// EXPUNGE, ...) come as [`Event::Update`] instead, before this event.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Completion {
    /// The command.
    pub handle: CommandHandle,
    /// Its name as sent, e.g. `UID FETCH`.
    pub command: &'static str,
    /// OK, NO or BAD.
    pub status: StatusKind,
    /// The tagged response (code and text).
    pub tagged: Received,
    /// The untagged responses the command caused, in order.
    pub data: Vec<Received>,
}

impl Completion {
    /// True for a tagged OK.
    pub fn is_ok(&self) -> bool {
        self.status == StatusKind::Ok
    }

    /// The tagged response's text.
    pub fn text(&self) -> String {
        self.tagged
            .status()
            .map(|s| s.text.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// The untagged data, parsed.
    pub fn data(&self) -> impl Iterator<Item = Data<'_>> {
        self.data.iter().filter_map(Received::data)
    }

    /// The FETCH responses: sequence number and items.
    pub fn fetches(&self) -> impl Iterator<Item = (NonZeroU32, Vec<FetchItem<'_>>)> {
        self.data().filter_map(|d| match d {
            Data::Fetch { seq, items } => Some((seq, items)),
            _ => None,
        })
    }

    /// The tagged response's code (`[READ-WRITE]`, `[APPENDUID ...]`,
    /// `[COPYUID ...]`, `[MODIFIED ...]`, ...).
    pub fn code(&self) -> Option<Code<'_>> {
        self.tagged.status().and_then(|s| s.code)
    }

    /// The LIST (and LSUB, XLIST) responses.
    pub fn lists(&self) -> impl Iterator<Item = ListItem<'_>> {
        self.data().filter_map(|d| match d {
            Data::List(l) | Data::Lsub(l) | Data::XList(l) => Some(l),
            _ => None,
        })
    }

    /// The STATUS responses: mailbox and items.
    pub fn statuses(&self) -> impl Iterator<Item = (Mailbox<'_>, Vec<StatusItem<'_>>)> {
        self.data().filter_map(|d| match d {
            Data::Status { mailbox, items } => Some((mailbox, items)),
            _ => None,
        })
    }

    /// The numbers of SEARCH or SORT responses, or ESEARCH `ALL` expanded
    /// (bounded by `limit`, since a set like `1:4294967295` is huge).
    pub fn search_results(&self, limit: usize) -> Vec<u32> {
        let mut out = Vec::new();
        for d in self.data() {
            match d {
                Data::Search { numbers, .. } | Data::Sort { numbers, .. } => {
                    out.extend(numbers.into_iter().take(limit.saturating_sub(out.len())));
                }
                Data::ESearch { items, .. } => {
                    for i in items {
                        if let crate::types::response::ESearchItem::All(set) = i {
                            let room = limit.saturating_sub(out.len());
                            out.extend(set.iter(u32::MAX).take(room));
                        }
                    }
                }
                _ => {}
            }
        }
        out
    }

    /// The threads of the command's THREAD responses (RFC 5256 §4), in
    /// the order the server sent them; empty when none came.
    pub fn thread_results(&self) -> Vec<crate::types::response::Thread> {
        self.data()
            .filter_map(|d| match d {
                Data::Thread(t) => Some(t),
                _ => None,
            })
            .flatten()
            .collect()
    }
}

/// Unsolicited news about the session or the selected mailbox (RFC 9051
/// §7.5: the server may send these at any time). The machine has already
/// applied them to [`Client::selected`](super::Client::selected).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Update {
    /// `n EXISTS`: the mailbox now holds `n` messages.
    Exists(u32),
    /// `n RECENT` (IMAP4rev1).
    Recent(u32),
    /// `n EXPUNGE`: message `n` is gone; later ones move down by one.
    Expunge(NonZeroU32),
    /// `VANISHED uids` (RFC 7162 §3.2.10): these UIDs are gone.
    Vanished(SequenceSet),
    /// `FLAGS (...)`: the mailbox's defined flags changed.
    Flags(Vec<Flag<'static>>),
    /// A FETCH no command asked for, typically flags another session
    /// changed (RFC 9051 §7.5.2).
    Fetch {
        /// The message.
        seq: NonZeroU32,
        /// Its UID, if sent.
        uid: Option<NonZeroU32>,
        /// Its flags, if sent.
        flags: Option<Vec<Flag<'static>>>,
        /// Its mod-sequence (RFC 7162), if sent.
        modseq: Option<u64>,
        /// The whole response.
        response: Received,
    },
    /// `[ALERT]` text the user MUST see (RFC 9051 §7.1).
    Alert(String),
    /// `BYE`: the server is closing the connection (RFC 9051 §7.1.5).
    Bye(String),
    /// An untagged OK, NO or BAD that belongs to no command (a warning or
    /// a notice).
    Notice(Received),
    /// Any other response no command asked for.
    Other(Received),
    /// A response that could not be understood even after repairs: it was
    /// discarded whole and the session goes on.
    Malformed {
        /// The bytes as received.
        bytes: Bytes,
        /// Why it did not parse.
        error: parse::ParseError,
    },
}

/// How the server greeted (RFC 9051 §7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Greeting {
    /// `* OK`: not authenticated yet.
    Ok,
    /// `* PREAUTH`: already authenticated (RFC 9051 §7.1.4).
    PreAuth,
}

/// An event of the client machine.
#[derive(Debug)]
#[non_exhaustive]
pub enum Event {
    /// The server greeted. Commands queued before now are sent from here on.
    Greeting {
        /// OK or PREAUTH.
        kind: Greeting,
        /// The greeting's text.
        text: String,
    },
    /// The server's capabilities became known or changed (greeting code,
    /// CAPABILITY response, code of a tagged OK). Read them with
    /// [`Client::capabilities`](super::Client::capabilities).
    Capabilities(Capabilities),
    /// The tagged OK to STARTTLS arrived. Drain `poll_transmit` (nothing
    /// more is sent in plaintext), run the TLS handshake under the machine,
    /// then MUST call [`Client::handle_tls_established`](super::Client::handle_tls_established).
    /// Any byte fed before that closes the connection with
    /// [`ConnectionError::PlaintextAfterStartTls`].
    StartTls {
        /// The STARTTLS command.
        handle: CommandHandle,
    },
    /// The tagged OK to COMPRESS arrived (RFC 4978 §3): the server compresses
    /// everything after it. The machine sends nothing more and parses
    /// nothing more until the switch. The driver MUST take the bytes that
    /// followed the OK with
    /// [`Client::take_compressed_input`](super::Client::take_compressed_input),
    /// put raw DEFLATE (RFC 1951, a sync flush after each write, as RFC 4978 asks)
    /// between the machine and the socket or TLS layer, then call
    /// [`Client::handle_compression_started`](super::Client::handle_compression_started)
    /// and feed the inflated leftover through
    /// [`Client::handle_input`](super::Client::handle_input). (A NO or BAD
    /// to COMPRESS is an ordinary [`Event::Completed`].)
    Compress {
        /// The COMPRESS command.
        handle: CommandHandle,
        /// The text of the tagged OK.
        text: String,
    },
    /// The server accepted IDLE (RFC 2177 §3): updates now come as
    /// [`Event::Update`] until the application MUST call
    /// [`Client::idle_done`](super::Client::idle_done) to end it (the
    /// machine re-issues IDLE by itself before
    /// [`Options::idle_refresh`](super::Options::idle_refresh) passes).
    IdleStarted {
        /// The IDLE command.
        handle: CommandHandle,
    },
    /// A command completed; see [`Completion`].
    Completed(Completion),
    /// A piece of a large `BODY[...]`, `BINARY[...]` or `RFC822` literal,
    /// handed out as it arrives (see [`Options::stream_threshold`](super::Options::stream_threshold)).
    /// The pieces follow each other in order; in the FETCH data of the
    /// completed command the item appears empty.
    FetchChunk {
        /// The FETCH command, or `None` if no FETCH was in progress.
        handle: Option<CommandHandle>,
        /// The message.
        seq: NonZeroU32,
        /// Its UID, when the server sent it before the literal.
        uid: Option<NonZeroU32>,
        /// The item as sent, e.g. `BODY[1.2]<0>` or `BINARY[]`.
        item: Bytes,
        /// Offset of `data` within the item.
        offset: u64,
        /// The literal's announced size.
        total: u64,
        /// The octets: a view of the receive buffer.
        data: Bytes,
    },
    /// A queued command was not sent after all: LOGIN queued before the
    /// capabilities were known, which then said LOGINDISABLED. The command
    /// is handed back; the password never left.
    Refused {
        /// The command.
        handle: CommandHandle,
        /// Why, with the command.
        error: super::error::SendError<crate::types::command::CommandBody<'static>>,
    },
    /// Unsolicited data; see [`Update`].
    Update(Update),
    /// The connection is over; drain `poll_transmit` one last time, then
    /// close the socket.
    Closed {
        /// Why.
        reason: ConnectionError,
    },
}

/// Text of a status response, lossily decoded.
pub(crate) fn text_of(t: &Text<'_>) -> String {
    t.to_string_lossy().into_owned()
}

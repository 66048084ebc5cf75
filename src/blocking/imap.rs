//! [`ImapSession`]: the sans-IO IMAP client machine
//! ([`mailwire_imap::client`]) run over a blocking [`Connection`].
//!
//! ```no_run
//! use mailwire::blocking::imap::{ImapOptions, ImapSession};
//! use mailwire::imap::SearchKey;
//! # fn main() -> Result<(), mailwire::blocking::imap::ImapError> {
//! let mut s = ImapSession::connect("imap.example.org:993", ImapOptions::default())?;
//! s.login("fred", "secret")?;
//! let inbox = s.examine("INBOX")?;
//! println!("{} messages", inbox.exists);
//! let unseen = s.uid_search(vec![SearchKey::Unseen])?;
//! let mut out = std::fs::File::create("newest.eml").unwrap();
//! if let Some(uid) = unseen.last() {
//!     s.fetch_message_to(*uid, &mut out)?; // streamed: memory stays bounded
//! }
//! s.logout()?;
//! # Ok(()) }
//! ```
//!
//! Commands run one at a time: each method queues its command(s), drives
//! the machine until the tagged response, and returns the typed result or
//! an [`ImapError`] that keeps the server's tagged response. Mailbox
//! updates the server sends meanwhile (EXISTS, EXPUNGE, flag changes) are
//! applied to [`ImapSession::selected`] and kept for
//! [`ImapSession::take_updates`]; [`ImapSession::idle`] hands them out as
//! they arrive.
//!
//! With [`ImapOptions::compress`] the session turns on COMPRESS=DEFLATE
//! (RFC 4978) after authentication when the server offers it: from then on
//! both directions are raw DEFLATE streams under TLS (the machine's bytes
//! are deflated, then encrypted; what is read is decrypted, then inflated).
//! [`ImapSession::is_compressed`] tells whether it is on.

use std::collections::VecDeque;
use std::io::{self, Write};
use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use mailwire_imap::client::{
    Capabilities, Client, CommandHandle, Completion, ConnectionError, Event, Options, Received,
    SelectedMailbox, SendError, Update,
};
use mailwire_imap::{
    AppendMessage, Atom, Binary, BodyStructure, Code, CommandBody, Data, DateTime, Envelope,
    FetchAttr, FetchAttrs, FetchItem, FetchModifier, Flag, IString, ListReturn, Mailbox, SearchKey,
    Section, SectionText, SelectParam, SeqNum, SeqRange, SequenceSet, SortCriterion, StatusAttr,
    StatusItem, StatusKind, StoreKind, Thread, ThreadAlgorithm, Vec1,
};
use mailwire_sasl::{Credentials, Mechanism, Secret};

use super::deflate::Deflate;
use super::tls::{Connection, ReadOutcome, Security, TransportError, TransportOptions};
use super::{Conn, Discard, Sink, SyncSink, block_on};

/// Session settings.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ImapOptions {
    /// Address, TLS and timeouts. Default: implicit TLS (port 993),
    /// certificates verified against the webpki roots.
    pub transport: TransportOptions,
    /// The client machine's limits and timeouts (the command timeout is the
    /// read timeout: a server that sends nothing for that long is dead).
    pub machine: Options,
    /// Turn on COMPRESS=DEFLATE (RFC 4978 §3) once authenticated, when the
    /// server announces it; a NO (`COMPRESSIONACTIVE`: a lower layer
    /// compresses already) or BAD leaves the session uncompressed. Default
    /// false: it saves bandwidth on text (headers, FETCH lists) at a cost
    /// in CPU and memory per session (two DEFLATE streams), and compressing
    /// secrets next to data an attacker chooses, under TLS, is the CRIME
    /// class of leak.
    pub compress: bool,
}

impl ImapOptions {
    /// Turns COMPRESS=DEFLATE on or off ([`ImapOptions::compress`]).
    pub fn compress(mut self, on: bool) -> ImapOptions {
        self.compress = on;
        self
    }
}

/// Everything that can go wrong in a session.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImapError {
    /// The connection or TLS failed (a refused certificate included).
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The server answered a command with NO or BAD; its tagged response is kept.
    #[error("{command} failed: {status:?} {text}")]
    Command {
        /// The command, e.g. `UID FETCH`.
        command: &'static str,
        /// NO or BAD.
        status: StatusKind,
        /// The response text.
        text: String,
        /// The whole tagged response (code included).
        tagged: Received,
    },
    /// The session ended (the server closed, said BYE, timed out, broke
    /// the protocol or its limits).
    #[error("session closed: {0}")]
    Closed(ConnectionError),
    /// [`Security::StartTls`] was asked for and the server does not offer it.
    #[error("the server does not offer STARTTLS")]
    StartTlsUnavailable,
    /// The server offers no way to log in this client can use.
    #[error("cannot log in: {0}")]
    NoLoginMethod(String),
    /// The SASL mechanism could not be set up.
    #[error("SASL: {0}")]
    Sasl(#[from] mailwire_sasl::ClientError),
    /// The server lacks an extension the call needs.
    #[error("the server does not offer {0}")]
    Unsupported(&'static str),
    /// An argument cannot be sent (a NUL in a string, an empty set).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The server's answer lacked what the command asks for.
    #[error("unexpected answer: {0}")]
    Protocol(String),
    /// Writing fetched data to the caller's writer failed.
    #[error("writing fetched data: {0}")]
    Sink(#[source] io::Error),
}

/// One folder from LIST.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Folder {
    /// The name decoded to UTF-8 (modified UTF-7 undone).
    pub name: String,
    /// The name as on the wire, to pass back to the server.
    pub mailbox: Mailbox<'static>,
    /// The hierarchy delimiter, if any.
    pub delimiter: Option<char>,
    /// The attributes without the backslash (`Noselect`, `HasChildren`, `Sent`, ...).
    pub attributes: Vec<String>,
    /// The RFC 6154 special use (`Sent`, `Drafts`, `Trash`, `Junk`,
    /// `Archive`, `All`, `Flagged`), when the server marks one.
    pub special_use: Option<String>,
    /// STATUS of the folder, when asked for (LIST-STATUS, or one STATUS per folder).
    pub status: Option<FolderStatus>,
    /// The folder's `MAILBOXID` (RFC 8474 §4.3): its server-assigned
    /// identifier, which stays the same across a RENAME. Asked for in the
    /// STATUS items when STATUS is asked for and the server announces
    /// `OBJECTID` (RFC 8474 §3); `None` otherwise. It is kept here rather
    /// than in [`FolderStatus`] so that the latter stays `Copy`.
    pub mailbox_id: Option<String>,
}

impl Folder {
    /// Takes a STATUS response's items: the numbers into
    /// [`Folder::status`], `MAILBOXID` (RFC 8474 §4.3) into
    /// [`Folder::mailbox_id`].
    fn take_status(&mut self, items: &[StatusItem<'_>]) {
        self.status = Some(folder_status(items));
        if let Some(id) = items.iter().find_map(|i| match i {
            StatusItem::MailboxId(id) => Some(id.as_str()),
            StatusItem::Number(..) => None,
        }) {
            self.mailbox_id = Some(id.to_owned());
        }
    }

    /// False for `\Noselect` and `\NonExistent` folders.
    pub fn selectable(&self) -> bool {
        !self
            .attributes
            .iter()
            .any(|a| a.eq_ignore_ascii_case("Noselect") || a.eq_ignore_ascii_case("NonExistent"))
    }
}

/// STATUS items of a folder (RFC 9051 §6.3.11).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct FolderStatus {
    /// `MESSAGES`.
    pub messages: Option<u64>,
    /// `UNSEEN`.
    pub unseen: Option<u64>,
    /// `UIDNEXT`.
    pub uid_next: Option<u64>,
    /// `UIDVALIDITY`.
    pub uid_validity: Option<u64>,
}

/// What a summary FETCH returned for one message.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct MessageSummary {
    /// The message's UID.
    pub uid: u32,
    /// Its flags.
    pub flags: Vec<Flag<'static>>,
    /// `RFC822.SIZE`.
    pub size: Option<u64>,
    /// `MODSEQ` (RFC 7162), when asked for.
    pub modseq: Option<u64>,
    /// `INTERNALDATE`.
    pub internal_date: Option<DateTime>,
    /// `EMAILID` (RFC 8474 §5.1, §5.3): the identifier of the message's
    /// content, the same for its copies. `None` when not asked for
    /// ([`SummaryItems::object_ids`]).
    pub email_id: Option<String>,
    /// `THREADID` (RFC 8474 §5.2, §5.3): the identifier of the message's
    /// thread. `None` when not asked for ([`SummaryItems::object_ids`]) or
    /// when the server answered NIL (it keeps no threads).
    pub thread_id: Option<String>,
    /// `SAVEDATE` (RFC 8514 §3, §4.2): when the message was saved in this
    /// folder. `None` when not asked for ([`SummaryItems::save_date`]) or
    /// when the server answered NIL (the folder's storage keeps no save
    /// dates).
    pub save_date: Option<DateTime>,
    /// The header fields fetched (`BODY.PEEK[HEADER.FIELDS (...)]`), if any.
    pub header: Vec<u8>,
    response: Received,
}

impl MessageSummary {
    /// The BODYSTRUCTURE, when it was fetched (borrows from the response).
    pub fn body_structure(&self) -> Option<BodyStructure<'_>> {
        let Some(Data::Fetch { items, .. }) = self.response.data() else {
            return None;
        };
        items.into_iter().find_map(|i| match i {
            FetchItem::BodyStructure(b) | FetchItem::Body(b) => Some(*b),
            _ => None,
        })
    }

    /// The ENVELOPE, when it was fetched (borrows from the response).
    pub fn envelope(&self) -> Option<Envelope<'_>> {
        let Some(Data::Fetch { items, .. }) = self.response.data() else {
            return None;
        };
        items.into_iter().find_map(|i| match i {
            FetchItem::Envelope(e) => Some(*e),
            _ => None,
        })
    }
}

/// What [`ImapSession::fetch_summaries`] asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct SummaryItems {
    /// `ENVELOPE`.
    pub envelope: bool,
    /// `RFC822.SIZE` and `INTERNALDATE`.
    pub size_and_date: bool,
    /// `BODY.PEEK[HEADER.FIELDS (DATE FROM TO CC SUBJECT MESSAGE-ID)]`.
    pub header_fields: bool,
    /// `MODSEQ` (needs CONDSTORE).
    pub modseq: bool,
    /// `BODYSTRUCTURE`: the MIME tree, to fetch one part alone.
    pub body_structure: bool,
    /// `EMAILID` and `THREADID` (RFC 8474 §5.3), into
    /// [`MessageSummary::email_id`] and [`MessageSummary::thread_id`]. Asked
    /// for only when the server announces `OBJECTID` (RFC 8474 §3): without
    /// it the fields stay `None`, so a caller may always set this.
    pub object_ids: bool,
    /// `SAVEDATE` (RFC 8514 §4.2), into [`MessageSummary::save_date`].
    /// Asked for only when the server announces `SAVEDATE` (RFC 8514
    /// §4.1): without it the field stays `None`, so a caller may always
    /// set this.
    pub save_date: bool,
}

impl Default for SummaryItems {
    fn default() -> Self {
        SummaryItems {
            envelope: true,
            size_and_date: true,
            header_fields: true,
            modseq: false,
            body_structure: false,
            object_ids: false,
            save_date: false,
        }
    }
}

impl SummaryItems {
    /// UID and FLAGS only (plus MODSEQ when asked): what a sync compares.
    pub fn flags_only() -> Self {
        SummaryItems {
            envelope: false,
            size_and_date: false,
            header_fields: false,
            modseq: false,
            body_structure: false,
            object_ids: false,
            save_date: false,
        }
    }
}

/// A blocking IMAP session. See the module docs.
#[derive(Debug)]
pub struct ImapSession {
    core: Core<Connection>,
}

/// The accessors the blocking and the tokio session share (they read
/// the session's state and do no I/O).
macro_rules! session_accessors {
    () => {
        /// The greeting's text.
        pub fn greeting(&self) -> &str {
            self.core.greeting()
        }

        /// True once TLS protects the session.
        pub fn is_tls(&self) -> bool {
            self.core.is_tls()
        }

        /// True once COMPRESS=DEFLATE is active (RFC 4978 §3): see
        /// [`ImapOptions::compress`](crate::blocking::ImapOptions::compress).
        pub fn is_compressed(&self) -> bool {
            self.core.is_compressed()
        }

        /// The selected mailbox, kept up to date by the machine.
        pub fn selected(&self) -> Option<&SelectedMailbox> {
            self.core.selected()
        }

        /// The unsolicited updates received since the last call.
        pub fn take_updates(&mut self) -> Vec<Update> {
            self.core.take_updates()
        }
    };
}
pub(crate) use session_accessors;

/// The session logic, written once for the blocking and the tokio
/// session ([`Conn`] is their socket; see [`super::block_on`]).
#[derive(Debug)]
pub(crate) struct Core<C> {
    conn: C,
    client: Client,
    out: Vec<u8>,
    buf: Vec<u8>,
    updates: VecDeque<Update>,
    /// Completions that arrived while waiting for another command.
    done: VecDeque<Completion>,
    greeting: Option<String>,
    idle_started: Option<CommandHandle>,
    /// The IDLE in progress and when it is to end.
    idle: Option<(CommandHandle, Instant)>,
    closed: Option<ConnectionError>,
    /// [`ImapOptions::compress`].
    want_compress: bool,
    /// The DEFLATE layer between the machine and `conn`, once COMPRESS is
    /// active (RFC 4978).
    deflate: Option<Deflate>,
    /// What one flush deflated (scratch space like `out`: cleared, its room
    /// kept for the next).
    wire: Vec<u8>,
}

/// The STATUS items of [`FolderStatus`] (RFC 9051 §6.3.11).
const STATUS_NUMBERS: [StatusAttr; 4] = [
    StatusAttr::Messages,
    StatusAttr::Unseen,
    StatusAttr::UidNext,
    StatusAttr::UidValidity,
];

/// Most unsolicited updates kept between [`ImapSession::take_updates`]
/// calls: older ones are dropped, the mailbox state stays right anyway.
const MAX_UPDATES: usize = 10_000;

/// Counts what goes through to the caller's writer.
struct Counting<'a, S> {
    inner: &'a mut S,
    n: u64,
}
impl ImapSession {
    /// Connects, reads the greeting and the capabilities, and upgrades with
    /// STARTTLS when [`TransportOptions::security`] says so.
    pub fn connect(addr: &str, options: ImapOptions) -> Result<ImapSession, ImapError> {
        let conn = Connection::connect(addr, &options.transport)?;
        let core = block_on(Core::start(conn, options))?;
        Ok(ImapSession { core })
    }

    session_accessors!();

    /// The server's capabilities as last announced (asked again when unknown).
    pub fn capabilities(&mut self) -> Result<Capabilities, ImapError> {
        block_on(self.core.capabilities())
    }

    /// Logs in with the best SASL mechanism both sides support
    /// (SCRAM-SHA-256, SCRAM-SHA-1, CRAM-MD5, PLAIN, LOGIN: see
    /// [`mailwire_sasl::choose`]), else with LOGIN (RFC 9051 §6.2.3) unless
    /// the server disabled it.
    pub fn login(&mut self, user: &str, password: &str) -> Result<(), ImapError> {
        block_on(self.core.login(user, password))
    }

    /// Sends one command and waits for its completion; NO and BAD are
    /// errors. For commands without a method of their own.
    pub fn run(&mut self, body: CommandBody<'static>) -> Result<Completion, ImapError> {
        block_on(self.core.run(body))
    }

    /// `UNAUTHENTICATE` (RFC 8437), where the server offers it: back to
    /// the not authenticated state in the same connection (TLS and
    /// COMPRESS stay), the selected folder closed without expunge, so that
    /// [`login`](Self::login) may log in as another user.
    pub fn unauthenticate(&mut self) -> Result<(), ImapError> {
        block_on(self.core.run(CommandBody::Unauthenticate)).map(drop)
    }

    /// `ENABLE` (RFC 5161); returns what the server enabled.
    pub fn enable(&mut self, extensions: &[&str]) -> Result<Capabilities, ImapError> {
        block_on(self.core.enable(extensions))
    }

    /// Every folder (`LIST "" "*"`), with SPECIAL-USE attributes when the
    /// server offers them, and with STATUS when `status` is true (through
    /// LIST-STATUS when offered, else one STATUS per selectable folder;
    /// with [`Folder::mailbox_id`] when the server offers OBJECTID).
    pub fn list_folders(&mut self, status: bool) -> Result<Vec<Folder>, ImapError> {
        block_on(self.core.list_folders(status))
    }

    /// `SELECT` (RFC 9051 §6.3.2): opens the folder read-write.
    pub fn select(&mut self, folder: &str) -> Result<SelectedMailbox, ImapError> {
        block_on(self.core.select(folder))
    }

    /// `EXAMINE` (RFC 9051 §6.3.3): opens the folder read-only (no flag
    /// changes, `\Seen` included).
    pub fn examine(&mut self, folder: &str) -> Result<SelectedMailbox, ImapError> {
        block_on(self.core.examine(folder))
    }

    /// `SELECT`/`EXAMINE` with CONDSTORE/QRESYNC parameters (RFC 7162);
    /// returns the mailbox and the completion, whose data holds what
    /// QRESYNC sends (VANISHED (EARLIER) and FETCH of changed messages).
    pub fn select_with(
        &mut self,
        folder: &str,
        read_only: bool,
        params: Vec<SelectParam>,
    ) -> Result<(SelectedMailbox, Completion), ImapError> {
        block_on(self.core.select_with(folder, read_only, params))
    }

    /// `UID SEARCH` (RFC 9051 §6.4.4) evaluated by the server: the UIDs
    /// matching every key, ascending. Non-ASCII strings are sent with
    /// `CHARSET UTF-8`.
    pub fn uid_search(&mut self, criteria: Vec<SearchKey<'static>>) -> Result<Vec<u32>, ImapError> {
        block_on(self.core.uid_search(criteria))
    }

    /// `UID SORT` (RFC 5256 §3) evaluated by the server: the UIDs
    /// matching every key of `search` (no key: all), in the order of
    /// `criteria` (e.g. `REVERSE DATE`, then `SUBJECT`). Non-ASCII
    /// strings are sent with `UTF-8` as the charset, the rest with
    /// `US-ASCII` (both of which §3 has every server support).
    /// [`ImapError::Unsupported`] when the server does not offer SORT.
    pub fn uid_sort(
        &mut self,
        criteria: Vec1<SortCriterion>,
        search: Vec<SearchKey<'static>>,
    ) -> Result<Vec<u32>, ImapError> {
        block_on(self.core.uid_sort(criteria, search))
    }

    /// `UID THREAD` (RFC 5256 §3) evaluated by the server: the messages
    /// matching every key of `search` (no key: all) as the trees of UIDs
    /// `algorithm` makes (`REFERENCES`, `ORDEREDSUBJECT`), oldest thread
    /// first. The charset as for [`uid_sort`](Self::uid_sort).
    /// [`ImapError::Unsupported`] when the server does not offer
    /// `THREAD=` that algorithm.
    pub fn uid_thread(
        &mut self,
        algorithm: ThreadAlgorithm<'static>,
        search: Vec<SearchKey<'static>>,
    ) -> Result<Vec<Thread>, ImapError> {
        block_on(self.core.uid_thread(algorithm, search))
    }

    /// `UID FETCH uids (UID FLAGS ...)`: one summary per message, in
    /// UID order. With `changed_since` (CONDSTORE, RFC 7162 §3.1.4) only the
    /// messages whose flags changed after that mod-sequence.
    pub fn fetch_summaries(
        &mut self,
        uids: &SequenceSet,
        what: SummaryItems,
        changed_since: Option<u64>,
    ) -> Result<Vec<MessageSummary>, ImapError> {
        block_on(self.core.fetch_summaries(uids, what, changed_since))
    }

    /// The header section (`BODY.PEEK[HEADER]`).
    pub fn fetch_header(&mut self, uid: u32) -> Result<Vec<u8>, ImapError> {
        block_on(self.core.fetch_header(uid))
    }

    /// The whole message (`BODY.PEEK[]`) written to `out` as it arrives:
    /// memory stays bounded by the machine's stream threshold whatever the
    /// message's size. Returns the number of bytes written.
    pub fn fetch_message_to(&mut self, uid: u32, out: &mut dyn Write) -> Result<u64, ImapError> {
        block_on(self.core.fetch_message_to(uid, &mut SyncSink(out)))
    }

    /// One body section (`BODY.PEEK[section]`, e.g. part `1.2`, or its
    /// `MIME` header) as on the wire (transfer encoding not undone), written
    /// to `out` as it arrives. Nothing else of the message is fetched.
    pub fn fetch_section_to(
        &mut self,
        uid: u32,
        section: Section<'static>,
        out: &mut dyn Write,
    ) -> Result<u64, ImapError> {
        block_on(self.core.fetch_section_to(uid, section, &mut SyncSink(out)))
    }

    /// One MIME part decoded by the server (`BINARY.PEEK[part]`, RFC 3516),
    /// written to `out` as it arrives. Needs the BINARY extension.
    pub fn fetch_binary_to(
        &mut self,
        uid: u32,
        part: Vec<NonZeroU32>,
        out: &mut dyn Write,
    ) -> Result<u64, ImapError> {
        block_on(self.core.fetch_binary_to(uid, part, &mut SyncSink(out)))
    }

    /// `UID STORE uids ±FLAGS.SILENT (flags)` (RFC 9051 §6.4.6).
    pub fn store_flags(
        &mut self,
        uids: &SequenceSet,
        kind: StoreKind,
        flags: Vec<Flag<'static>>,
    ) -> Result<(), ImapError> {
        block_on(self.core.store_flags(uids, kind, flags))
    }

    /// Moves messages to `folder`: `UID MOVE` (RFC 6851) when offered,
    /// else `UID COPY`, `\Deleted` and `UID EXPUNGE` (or `EXPUNGE` without
    /// UIDPLUS, which also removes other messages already marked
    /// `\Deleted`).
    pub fn move_messages(&mut self, uids: &SequenceSet, folder: &str) -> Result<(), ImapError> {
        block_on(self.core.move_messages(uids, folder))
    }

    /// Marks messages `\Deleted` and expunges exactly them (`UID EXPUNGE`
    /// with UIDPLUS, else `EXPUNGE`).
    pub fn delete_messages(&mut self, uids: &SequenceSet) -> Result<(), ImapError> {
        block_on(self.core.delete_messages(uids))
    }

    /// `APPEND` (RFC 9051 §6.3.12) of one message with flags; returns its
    /// UID when the server tells (UIDPLUS `APPENDUID`). The message is held
    /// in memory while it is sent.
    pub fn append(
        &mut self,
        folder: &str,
        flags: Vec<Flag<'static>>,
        message: &[u8],
    ) -> Result<Option<u32>, ImapError> {
        block_on(self.core.append(folder, flags, message))
    }

    /// `EXPUNGE`: removes every `\Deleted` message of the selected folder.
    pub fn expunge(&mut self) -> Result<(), ImapError> {
        block_on(self.core.expunge())
    }

    /// `UID EXPUNGE uids` (RFC 4315): removes those of `uids` marked `\Deleted`.
    pub fn uid_expunge(&mut self, uids: &SequenceSet) -> Result<(), ImapError> {
        block_on(self.core.uid_expunge(uids))
    }

    /// `UID COPY` (RFC 9051 §6.4.7) of `uids` into `folder`, which must
    /// exist (else NO, often with `[TRYCREATE]`). Returns the copies'
    /// UIDs from the `COPYUID` response code (RFC 4315 §3, RFC 9051 §7.1)
    /// in ascending order of the UIDs they were copied from; UIDs of
    /// `uids` that no longer exist are not copied, so the list can be
    /// shorter than `uids`. `None` when the server sends no COPYUID (it
    /// lacks UIDPLUS), or one that cannot be taken: sets of different
    /// sizes, or more messages than the selected folder holds.
    pub fn copy_messages(
        &mut self,
        uids: &SequenceSet,
        folder: &str,
    ) -> Result<Option<Vec<u32>>, ImapError> {
        block_on(self.core.copy_messages(uids, folder))
    }

    /// `CREATE` (RFC 9051 §6.3.4): makes the folder `name` (UTF-8, sent
    /// in modified UTF-7, RFC 3501 §5.1.3, as every folder name here). A
    /// name that ends with the hierarchy delimiter asks for a parent
    /// folder only; the server answers NO when the folder exists.
    pub fn create_folder(&mut self, name: &str) -> Result<(), ImapError> {
        block_on(self.core.create_folder(name))
    }

    /// `DELETE` (RFC 9051 §6.3.5): removes the folder and its messages.
    /// A folder with subfolders loses its messages and stays as their
    /// `\Noselect` parent; the server refuses INBOX, and a `\Noselect`
    /// folder with subfolders.
    pub fn delete_folder(&mut self, name: &str) -> Result<(), ImapError> {
        block_on(self.core.delete_folder(name))
    }

    /// `RENAME` (RFC 9051 §6.3.6): renames `from` to `to`, its subfolders
    /// with it. Renaming INBOX moves its messages into a new folder `to`
    /// and leaves INBOX empty.
    pub fn rename_folder(&mut self, from: &str, to: &str) -> Result<(), ImapError> {
        block_on(self.core.rename_folder(from, to))
    }

    /// `SUBSCRIBE` (RFC 9051 §6.3.7): adds the folder to the subscribed
    /// ones (`LIST (SUBSCRIBED)`, RFC 3501's `LSUB`).
    pub fn subscribe(&mut self, name: &str) -> Result<(), ImapError> {
        block_on(self.core.subscribe(name))
    }

    /// `UNSUBSCRIBE` (RFC 9051 §6.3.8): removes the folder from the
    /// subscribed ones; the folder itself stays.
    pub fn unsubscribe(&mut self, name: &str) -> Result<(), ImapError> {
        block_on(self.core.unsubscribe(name))
    }

    /// `STATUS name (MESSAGES UNSEEN UIDNEXT UIDVALIDITY)` (RFC 9051
    /// §6.3.11): a folder's counts without selecting it. §6.3.11 asks
    /// clients not to use it on the selected folder: read
    /// [`selected`](Self::selected) there.
    pub fn folder_status(&mut self, name: &str) -> Result<FolderStatus, ImapError> {
        block_on(self.core.folder_status(name))
    }

    /// `NOOP` (RFC 9051 §6.1.2): does nothing, which gives the server the
    /// occasion to send the selected folder's changes (new messages,
    /// expunges, flag changes) and resets its inactivity timer. The
    /// changes are applied to [`selected`](Self::selected), and
    /// [`take_updates`](Self::take_updates) then returns them.
    pub fn noop(&mut self) -> Result<(), ImapError> {
        block_on(self.core.noop())
    }

    /// `UNSELECT` (RFC 3691 §2, RFC 9051 §6.4.2): closes the selected
    /// folder without expunging (messages marked `\Deleted` stay), back
    /// to the authenticated state. [`ImapError::Unsupported`], with
    /// nothing sent, when the server offers neither UNSELECT nor
    /// IMAP4rev2: CLOSE, the IMAP4rev1 way out, would expunge.
    pub fn unselect(&mut self) -> Result<(), ImapError> {
        block_on(self.core.unselect())
    }

    /// `LOGOUT`, then the connection is closed.
    pub fn logout(mut self) -> Result<(), ImapError> {
        block_on(self.core.logout())
    }

    /// `IDLE` (RFC 2177): an iterator of the selected mailbox's updates as
    /// the server sends them, which ends (`DONE`) when `timeout` has
    /// passed, or when dropped. Updates already received come first.
    pub fn idle(&mut self, timeout: Duration) -> Result<IdleUpdates<'_>, ImapError> {
        block_on(self.core.idle_start(timeout))?;
        Ok(IdleUpdates { session: self })
    }
}

impl<C: Conn> Core<C> {
    /// Reads the greeting and the capabilities over `conn`, and upgrades
    /// with STARTTLS when [`TransportOptions::security`] says so.
    pub(crate) async fn start(conn: C, options: ImapOptions) -> Result<Core<C>, ImapError> {
        let security = options.transport.security;
        let want_compress = options.compress;
        let mut s = Core {
            conn,
            client: Client::new(options.machine, Instant::now()),
            out: Vec::new(),
            buf: vec![0; 64 * 1024],
            updates: VecDeque::new(),
            done: VecDeque::new(),
            greeting: None,
            idle_started: None,
            idle: None,
            closed: None,
            want_compress,
            deflate: None,
            wire: Vec::new(),
        };
        s.pump_until(|s| s.greeting.is_some() && s.client.capabilities().is_some())
            .await?;
        if security == Security::StartTls {
            if !s.caps().has("STARTTLS") {
                return Err(ImapError::StartTlsUnavailable);
            }
            let h = s.enqueue(CommandBody::StartTls)?;
            // Success is Event::StartTls (handled in `drain`); failure a Completed.
            s.pump_until(|s| s.conn.is_tls() || s.done.iter().any(|c| c.handle == h))
                .await?;
            if let Some(c) = s.take_done(h) {
                check(c)?;
                return Err(ImapError::Protocol("STARTTLS did not start TLS".into()));
            }
            s.pump_until(|s| s.client.capabilities().is_some()).await?;
        }
        if s.client.is_authenticated() {
            // PREAUTH (RFC 9051 §7.1.4): authenticated from the greeting on.
            s.start_compression().await?;
        }
        Ok(s)
    }

    /// True once COMPRESS=DEFLATE is active.
    pub(crate) fn is_compressed(&self) -> bool {
        self.client.is_compressed()
    }

    /// Sends COMPRESS DEFLATE (RFC 4978 §3) when asked for, offered and not
    /// on yet. The switch itself happens in `drain` on
    /// [`Event::Compress`]; a NO or BAD leaves the session as it was.
    async fn start_compression(&mut self) -> Result<(), ImapError> {
        if !self.want_compress
            || self.client.is_compressed()
            || !self.caps().has("COMPRESS=DEFLATE")
        {
            return Ok(());
        }
        let h = self.enqueue(CommandBody::Compress {
            algorithm: atom("DEFLATE")?,
        })?;
        self.pump_until(|s| s.client.is_compressed() || s.done.iter().any(|c| c.handle == h))
            .await?;
        // NO [COMPRESSIONACTIVE], NO or BAD: carry on uncompressed.
        let _ = self.take_done(h);
        Ok(())
    }

    /// The greeting's text.
    pub(crate) fn greeting(&self) -> &str {
        self.greeting.as_deref().unwrap_or("")
    }

    /// True once TLS protects the session.
    pub(crate) fn is_tls(&self) -> bool {
        self.conn.is_tls()
    }

    /// The server's capabilities as last announced (asked again when unknown).
    pub(crate) async fn capabilities(&mut self) -> Result<Capabilities, ImapError> {
        self.pump_until(|s| s.client.capabilities().is_some())
            .await?;
        Ok(self.caps())
    }

    fn caps(&self) -> Capabilities {
        self.client.capabilities().cloned().unwrap_or_default()
    }

    /// The selected mailbox, kept up to date by the machine.
    pub(crate) fn selected(&self) -> Option<&SelectedMailbox> {
        self.client.selected()
    }

    /// The unsolicited updates received since the last call.
    pub(crate) fn take_updates(&mut self) -> Vec<Update> {
        self.updates.drain(..).collect()
    }

    /// Logs in with the best SASL mechanism both sides support
    /// (SCRAM-SHA-256, SCRAM-SHA-1, CRAM-MD5, PLAIN, LOGIN: see
    /// [`mailwire_sasl::choose`]), else with LOGIN (RFC 9051 §6.2.3) unless
    /// the server disabled it.
    pub(crate) async fn login(&mut self, user: &str, password: &str) -> Result<(), ImapError> {
        let caps = self.capabilities().await?;
        let offered: Vec<&str> = caps.auth_mechanisms().collect();
        let creds = Credentials::password(user, Secret::new(password.to_owned()));
        let nonce = super::random_nonce();
        let usable: Vec<Mechanism> = creds
            .mechanisms()
            .into_iter()
            .filter(|m| {
                nonce.is_some() || !matches!(m, Mechanism::ScramSha1 | Mechanism::ScramSha256)
            })
            .collect();
        match mailwire_sasl::choose(&offered, &usable) {
            Some(m) => {
                let sasl = mailwire_sasl::Client::new(m, &creds, nonce.as_deref().unwrap_or("x"))?;
                let h = self
                    .client
                    .authenticate(sasl)
                    .map_err(|_| self.closed_error())?;
                check(self.wait(h, &mut Discard).await?)?;
            }
            None if caps.has("LOGINDISABLED") => {
                return Err(ImapError::NoLoginMethod(format!(
                    "LOGINDISABLED and no usable mechanism among {offered:?}"
                )));
            }
            None => {
                let login = CommandBody::Login {
                    username: istring(user)?,
                    password: mailwire_imap::Secret::new(istring(password)?),
                };
                self.run(login).await?;
            }
        }
        self.pump_until(|s| s.client.capabilities().is_some())
            .await?;
        self.start_compression().await
    }

    /// Sends one command and waits for its completion; NO and BAD are
    /// errors. For commands without a method of their own.
    pub(crate) async fn run(
        &mut self,
        body: CommandBody<'static>,
    ) -> Result<Completion, ImapError> {
        self.run_to(body, &mut Discard).await
    }

    /// `ENABLE` (RFC 5161); returns what the server enabled.
    pub(crate) async fn enable(&mut self, extensions: &[&str]) -> Result<Capabilities, ImapError> {
        let caps: Vec<Atom<'static>> = extensions
            .iter()
            .map(|e| atom(e))
            .collect::<Result<_, _>>()?;
        let caps = Vec1::try_from(caps)
            .map_err(|_| ImapError::InvalidArgument("ENABLE needs an extension".into()))?;
        self.run(CommandBody::Enable(caps)).await?;
        Ok(self.client.enabled().clone())
    }

    /// Every folder (`LIST "" "*"`), with SPECIAL-USE attributes when the
    /// server offers them, and with STATUS when `status` is true (through
    /// LIST-STATUS when offered, else one STATUS per selectable folder;
    /// with [`Folder::mailbox_id`] when the server offers OBJECTID).
    pub(crate) async fn list_folders(&mut self, status: bool) -> Result<Vec<Folder>, ImapError> {
        let caps = self.capabilities().await?;
        let mut items = STATUS_NUMBERS.to_vec();
        if caps.has("OBJECTID") {
            // RFC 8474 §4.3: the STATUS item of a server with OBJECTID.
            items.push(StatusAttr::MailboxId);
        }
        let mut return_opts = Vec::new();
        if caps.has("SPECIAL-USE") {
            return_opts.push(ListReturn::SpecialUse);
        }
        let list_status = status && caps.has("LIST-STATUS");
        if list_status {
            return_opts.push(ListReturn::Status(items.clone()));
        }
        let c = self
            .run(CommandBody::List {
                select: Vec::new(),
                reference: Mailbox::new(istring("")?),
                patterns: Vec1::one(istring("*")?),
                return_opts,
            })
            .await?;
        let mut folders: Vec<Folder> = Vec::new();
        for d in c.data() {
            match d {
                Data::List(item) => {
                    let attributes: Vec<String> = item
                        .attributes
                        .iter()
                        .map(|a| a.as_str().to_owned())
                        .collect();
                    let special_use = attributes
                        .iter()
                        .find(|a| {
                            [
                                "All", "Archive", "Drafts", "Flagged", "Junk", "Sent", "Trash",
                            ]
                            .iter()
                            .any(|s| s.eq_ignore_ascii_case(a))
                        })
                        .cloned();
                    let mailbox = item.mailbox.into_owned();
                    folders.push(Folder {
                        name: mailbox
                            .to_utf8_name()
                            .unwrap_or_else(|| String::from_utf8_lossy(mailbox.as_bytes()).into()),
                        mailbox,
                        delimiter: item.delimiter.map(char::from),
                        attributes,
                        special_use,
                        status: None,
                        mailbox_id: None,
                    });
                }
                Data::Status { mailbox, items } => {
                    if let Some(f) = folders.iter_mut().find(|f| f.mailbox == mailbox) {
                        f.take_status(&items);
                    }
                }
                _ => {}
            }
        }
        if status && !list_status {
            for f in folders.iter_mut().filter(|f| f.selectable()) {
                let c = self
                    .run(CommandBody::Status {
                        mailbox: f.mailbox.clone(),
                        items: items.clone(),
                    })
                    .await?;
                for d in c.data() {
                    if let Data::Status { items, .. } = d {
                        f.take_status(&items);
                    }
                }
            }
        }
        Ok(folders)
    }

    /// `SELECT` (RFC 9051 §6.3.2): opens the folder read-write.
    pub(crate) async fn select(&mut self, folder: &str) -> Result<SelectedMailbox, ImapError> {
        self.select_with(folder, false, Vec::new())
            .await
            .map(|(m, _)| m)
    }

    /// `EXAMINE` (RFC 9051 §6.3.3): opens the folder read-only (no flag
    /// changes, `\Seen` included).
    pub(crate) async fn examine(&mut self, folder: &str) -> Result<SelectedMailbox, ImapError> {
        self.select_with(folder, true, Vec::new())
            .await
            .map(|(m, _)| m)
    }

    /// `SELECT`/`EXAMINE` with CONDSTORE/QRESYNC parameters (RFC 7162);
    /// returns the mailbox and the completion, whose data holds what
    /// QRESYNC sends (VANISHED (EARLIER) and FETCH of changed messages).
    pub(crate) async fn select_with(
        &mut self,
        folder: &str,
        read_only: bool,
        params: Vec<SelectParam>,
    ) -> Result<(SelectedMailbox, Completion), ImapError> {
        let mailbox = Mailbox::from_utf8_name(folder);
        let body = if read_only {
            CommandBody::Examine { mailbox, params }
        } else {
            CommandBody::Select { mailbox, params }
        };
        let c = self.run(body).await?;
        let m =
            self.client.selected().cloned().ok_or_else(|| {
                ImapError::Protocol("SELECT OK without a selected mailbox".into())
            })?;
        Ok((m, c))
    }

    /// `UID SEARCH` (RFC 9051 §6.4.4) evaluated by the server: the UIDs
    /// matching every key, ascending. Non-ASCII strings are sent with
    /// `CHARSET UTF-8`.
    pub(crate) async fn uid_search(
        &mut self,
        criteria: Vec<SearchKey<'static>>,
    ) -> Result<Vec<u32>, ImapError> {
        let utf8 = criteria.iter().any(non_ascii_key);
        let criteria = keys_or_all(criteria);
        let c = self
            .run(CommandBody::Search {
                uid: true,
                return_opts: None,
                charset: if utf8 { Some(istring("UTF-8")?) } else { None },
                criteria,
            })
            .await?;
        let mut uids = c.search_results(usize::MAX);
        uids.sort_unstable();
        uids.dedup();
        Ok(uids)
    }

    /// See [`ImapSession::uid_sort`].
    pub(crate) async fn uid_sort(
        &mut self,
        criteria: Vec1<SortCriterion>,
        search: Vec<SearchKey<'static>>,
    ) -> Result<Vec<u32>, ImapError> {
        if !self.capabilities().await?.has("SORT") {
            return Err(ImapError::Unsupported("SORT"));
        }
        let (charset, search) = charset_and_keys(search)?;
        let c = self
            .run(CommandBody::Sort {
                uid: true,
                criteria,
                charset,
                search,
            })
            .await?;
        Ok(c.search_results(usize::MAX))
    }

    /// See [`ImapSession::uid_thread`].
    pub(crate) async fn uid_thread(
        &mut self,
        algorithm: ThreadAlgorithm<'static>,
        search: Vec<SearchKey<'static>>,
    ) -> Result<Vec<Thread>, ImapError> {
        let offered = format!("THREAD={}", algorithm.name());
        if !self.capabilities().await?.has(&offered) {
            return Err(ImapError::Unsupported("THREAD"));
        }
        let (charset, search) = charset_and_keys(search)?;
        let c = self
            .run(CommandBody::Thread {
                uid: true,
                algorithm,
                charset,
                search,
            })
            .await?;
        Ok(c.thread_results())
    }

    /// `UID FETCH uids (UID FLAGS ...)`: one summary per message, in
    /// UID order. With `changed_since` (CONDSTORE, RFC 7162 §3.1.4) only the
    /// messages whose flags changed after that mod-sequence.
    pub(crate) async fn fetch_summaries(
        &mut self,
        uids: &SequenceSet,
        what: SummaryItems,
        changed_since: Option<u64>,
    ) -> Result<Vec<MessageSummary>, ImapError> {
        let mut attrs = vec![FetchAttr::Uid, FetchAttr::Flags];
        if what.envelope {
            attrs.push(FetchAttr::Envelope);
        }
        if what.size_and_date {
            attrs.push(FetchAttr::Rfc822Size);
            attrs.push(FetchAttr::InternalDate);
        }
        if what.body_structure {
            attrs.push(FetchAttr::BodyStructure);
        }
        if what.modseq || changed_since.is_some() {
            attrs.push(FetchAttr::ModSeq);
        }
        if what.object_ids || what.save_date {
            let caps = self.capabilities().await?;
            // RFC 8474 §3, RFC 8514 §4.1: a server without the capability
            // would answer BAD; the fields then stay `None`.
            if what.object_ids && caps.has("OBJECTID") {
                attrs.push(FetchAttr::EmailId);
                attrs.push(FetchAttr::ThreadId);
            }
            if what.save_date && caps.has("SAVEDATE") {
                attrs.push(FetchAttr::SaveDate);
            }
        }
        if what.header_fields {
            let fields = ["DATE", "FROM", "TO", "CC", "SUBJECT", "MESSAGE-ID"]
                .iter()
                .map(|f| istring(f))
                .collect::<Result<_, _>>()?;
            attrs.push(FetchAttr::BodySection {
                peek: true,
                section: Section {
                    part: Vec::new(),
                    text: Some(SectionText::HeaderFields(fields)),
                },
                partial: None,
            });
        }
        let modifiers = changed_since
            .map(|m| vec![FetchModifier::ChangedSince(m)])
            .unwrap_or_default();
        let c = self
            .run(CommandBody::Fetch {
                uid: true,
                set: uids.clone(),
                attrs: FetchAttrs::List(attrs),
                modifiers,
            })
            .await?;
        let mut out = Vec::new();
        for rec in &c.data {
            let Some(Data::Fetch { items, .. }) = rec.data() else {
                continue;
            };
            let mut s = MessageSummary {
                uid: 0,
                flags: Vec::new(),
                size: None,
                modseq: None,
                internal_date: None,
                email_id: None,
                thread_id: None,
                save_date: None,
                header: Vec::new(),
                response: rec.clone(),
            };
            for i in items {
                match i {
                    FetchItem::Uid(u) => s.uid = u.get(),
                    FetchItem::Flags(f) => s.flags = f.into_iter().map(Flag::into_owned).collect(),
                    FetchItem::Rfc822Size(n) => s.size = Some(n),
                    FetchItem::ModSeq(m) => s.modseq = Some(m),
                    FetchItem::InternalDate(d) => s.internal_date = Some(d),
                    FetchItem::EmailId(id) => s.email_id = Some(id.as_str().to_owned()),
                    FetchItem::ThreadId(id) => {
                        s.thread_id = id.map(|id| id.as_str().to_owned());
                    }
                    FetchItem::SaveDate(d) => s.save_date = d,
                    FetchItem::BodySection { data: Some(d), .. } => {
                        s.header = d.as_bytes().to_vec();
                    }
                    _ => {}
                }
            }
            if s.uid != 0 {
                out.push(s);
            }
        }
        out.sort_by_key(|s| s.uid);
        Ok(out)
    }

    /// The header section (`BODY.PEEK[HEADER]`).
    pub(crate) async fn fetch_header(&mut self, uid: u32) -> Result<Vec<u8>, ImapError> {
        let mut v = Vec::new();
        let section = Section {
            part: Vec::new(),
            text: Some(SectionText::Header),
        };
        self.fetch_section_to(uid, section, &mut SyncSink(&mut v))
            .await?;
        Ok(v)
    }

    /// The whole message (`BODY.PEEK[]`) written to `out` as it arrives:
    /// memory stays bounded by the machine's stream threshold whatever the
    /// message's size. Returns the number of bytes written.
    pub(crate) async fn fetch_message_to(
        &mut self,
        uid: u32,
        out: &mut impl Sink,
    ) -> Result<u64, ImapError> {
        self.fetch_section_to(uid, Section::default(), out).await
    }

    /// One body section (`BODY.PEEK[section]`, e.g. part `1.2`, or its
    /// `MIME` header) as on the wire (transfer encoding not undone), written
    /// to `out` as it arrives. Nothing else of the message is fetched.
    pub(crate) async fn fetch_section_to(
        &mut self,
        uid: u32,
        section: Section<'static>,
        out: &mut impl Sink,
    ) -> Result<u64, ImapError> {
        self.fetch_item_to(
            uid,
            FetchAttr::BodySection {
                peek: true,
                section,
                partial: None,
            },
            out,
        )
        .await
    }

    /// One MIME part decoded by the server (`BINARY.PEEK[part]`, RFC 3516),
    /// written to `out` as it arrives. Needs the BINARY extension.
    pub(crate) async fn fetch_binary_to(
        &mut self,
        uid: u32,
        part: Vec<NonZeroU32>,
        out: &mut impl Sink,
    ) -> Result<u64, ImapError> {
        if !self.capabilities().await?.has("BINARY") {
            return Err(ImapError::Unsupported("BINARY"));
        }
        self.fetch_item_to(
            uid,
            FetchAttr::Binary {
                peek: true,
                part,
                partial: None,
            },
            out,
        )
        .await
    }

    async fn fetch_item_to(
        &mut self,
        uid: u32,
        attr: FetchAttr<'static>,
        out: &mut impl Sink,
    ) -> Result<u64, ImapError> {
        let set = uid_set(&[uid])?;
        let mut sink = Counting { inner: out, n: 0 };
        let c = self
            .run_to(
                CommandBody::Fetch {
                    uid: true,
                    set,
                    attrs: FetchAttrs::List(vec![FetchAttr::Uid, attr]),
                    modifiers: Vec::new(),
                },
                &mut sink,
            )
            .await?;
        let mut found = sink.n > 0;
        for (_, items) in c.fetches() {
            let is_ours = items
                .iter()
                .any(|i| matches!(i, FetchItem::Uid(u) if u.get() == uid));
            if !is_ours {
                continue;
            }
            for i in items {
                let data: Option<&[u8]> = match &i {
                    FetchItem::BodySection { data, .. } => {
                        found = true;
                        data.as_ref().map(IString::as_bytes)
                    }
                    FetchItem::Binary { data, .. } => {
                        found = true;
                        data.as_ref().map(|b| b.0.as_ref())
                    }
                    _ => None,
                };
                // A streamed item appears empty here; its bytes went out as chunks.
                if let Some(d) = data.filter(|d| !d.is_empty()) {
                    sink.put(d).await.map_err(ImapError::Sink)?;
                }
            }
        }
        if !found {
            return Err(ImapError::Protocol(format!("no message with UID {uid}")));
        }
        sink.finish().await.map_err(ImapError::Sink)?;
        Ok(sink.n)
    }

    /// `UID STORE uids ±FLAGS.SILENT (flags)` (RFC 9051 §6.4.6).
    pub(crate) async fn store_flags(
        &mut self,
        uids: &SequenceSet,
        kind: StoreKind,
        flags: Vec<Flag<'static>>,
    ) -> Result<(), ImapError> {
        self.run(CommandBody::Store {
            uid: true,
            set: uids.clone(),
            unchanged_since: None,
            kind,
            silent: true,
            flags,
        })
        .await
        .map(drop)
    }

    /// Moves messages to `folder`: `UID MOVE` (RFC 6851) when offered,
    /// else `UID COPY`, `\Deleted` and `UID EXPUNGE` (or `EXPUNGE` without
    /// UIDPLUS, which also removes other messages already marked
    /// `\Deleted`).
    pub(crate) async fn move_messages(
        &mut self,
        uids: &SequenceSet,
        folder: &str,
    ) -> Result<(), ImapError> {
        let mailbox = Mailbox::from_utf8_name(folder);
        if self.capabilities().await?.has("MOVE") {
            self.run(CommandBody::Move {
                uid: true,
                set: uids.clone(),
                mailbox,
            })
            .await?;
            return Ok(());
        }
        self.run(CommandBody::Copy {
            uid: true,
            set: uids.clone(),
            mailbox,
        })
        .await?;
        self.delete_messages(uids).await
    }

    /// Marks messages `\Deleted` and expunges exactly them (`UID EXPUNGE`
    /// with UIDPLUS, else `EXPUNGE`).
    pub(crate) async fn delete_messages(&mut self, uids: &SequenceSet) -> Result<(), ImapError> {
        self.store_flags(uids, StoreKind::Add, vec![Flag::Deleted])
            .await?;
        if self.capabilities().await?.has("UIDPLUS") {
            self.uid_expunge(uids).await
        } else {
            self.expunge().await
        }
    }

    /// `APPEND` (RFC 9051 §6.3.12) of one message with flags; returns its
    /// UID when the server tells (UIDPLUS `APPENDUID`). The message is held
    /// in memory while it is sent.
    pub(crate) async fn append(
        &mut self,
        folder: &str,
        flags: Vec<Flag<'static>>,
        message: &[u8],
    ) -> Result<Option<u32>, ImapError> {
        let c = self
            .run(CommandBody::Append {
                mailbox: Mailbox::from_utf8_name(folder),
                messages: Vec1::one(AppendMessage {
                    flags,
                    date: None,
                    message: Binary(message.to_vec().into()),
                    utf8: false,
                }),
            })
            .await?;
        let uid = c.tagged.status().and_then(|s| match s.code {
            Some(Code::AppendUid { uids, .. }) => uids.iter(u32::MAX).next(),
            _ => None,
        });
        Ok(uid)
    }

    /// `EXPUNGE`: removes every `\Deleted` message of the selected folder.
    pub(crate) async fn expunge(&mut self) -> Result<(), ImapError> {
        self.run(CommandBody::Expunge).await.map(drop)
    }

    /// `UID EXPUNGE uids` (RFC 4315): removes those of `uids` marked `\Deleted`.
    pub(crate) async fn uid_expunge(&mut self, uids: &SequenceSet) -> Result<(), ImapError> {
        if !self.capabilities().await?.has("UIDPLUS") {
            return Err(ImapError::Unsupported("UIDPLUS"));
        }
        self.run(CommandBody::UidExpunge(uids.clone()))
            .await
            .map(drop)
    }

    /// See [`ImapSession::copy_messages`].
    pub(crate) async fn copy_messages(
        &mut self,
        uids: &SequenceSet,
        folder: &str,
    ) -> Result<Option<Vec<u32>>, ImapError> {
        let before = self.selected().map_or(0, |m| m.exists);
        let set = uids.clone();
        let c = self
            .run_on(folder, |mailbox| CommandBody::Copy {
                uid: true,
                set,
                mailbox,
            })
            .await?;
        // No more can have been copied than the source folder holds.
        let most = before.max(self.selected().map_or(0, |m| m.exists));
        Ok(c.tagged.status().and_then(|s| match s.code {
            Some(Code::CopyUid {
                source,
                destination,
                ..
            }) => copied_uids(&source, &destination, most),
            _ => None,
        }))
    }

    /// See [`ImapSession::create_folder`].
    pub(crate) async fn create_folder(&mut self, name: &str) -> Result<(), ImapError> {
        self.run_on(name, |mailbox| CommandBody::Create {
            mailbox,
            special_use: Vec::new(),
        })
        .await
        .map(drop)
    }

    /// See [`ImapSession::delete_folder`].
    pub(crate) async fn delete_folder(&mut self, name: &str) -> Result<(), ImapError> {
        self.run_on(name, CommandBody::Delete).await.map(drop)
    }

    /// See [`ImapSession::rename_folder`].
    pub(crate) async fn rename_folder(&mut self, from: &str, to: &str) -> Result<(), ImapError> {
        let to = Mailbox::from_utf8_name(to);
        self.run_on(from, |from| CommandBody::Rename { from, to })
            .await
            .map(drop)
    }

    /// See [`ImapSession::subscribe`].
    pub(crate) async fn subscribe(&mut self, name: &str) -> Result<(), ImapError> {
        self.run_on(name, CommandBody::Subscribe).await.map(drop)
    }

    /// See [`ImapSession::unsubscribe`].
    pub(crate) async fn unsubscribe(&mut self, name: &str) -> Result<(), ImapError> {
        self.run_on(name, CommandBody::Unsubscribe).await.map(drop)
    }

    /// See [`ImapSession::folder_status`].
    pub(crate) async fn folder_status(&mut self, name: &str) -> Result<FolderStatus, ImapError> {
        let asked = Mailbox::from_utf8_name(name);
        let c = self
            .run(CommandBody::Status {
                mailbox: asked.clone(),
                items: STATUS_NUMBERS.to_vec(),
            })
            .await?;
        // The name as sent, or decoded (a server with UTF8=ACCEPT enabled
        // answers in UTF-8, RFC 6855 §3).
        c.statuses()
            .find(|(m, _)| *m == asked || m.to_utf8_name().as_deref() == Some(name))
            .map(|(_, items)| folder_status(&items))
            .ok_or_else(|| ImapError::Protocol("STATUS OK without the folder's STATUS".into()))
    }

    /// `NOOP` (RFC 9051 §6.1.2); see [`ImapSession::noop`].
    pub(crate) async fn noop(&mut self) -> Result<(), ImapError> {
        self.run(CommandBody::Noop).await.map(drop)
    }

    /// See [`ImapSession::unselect`].
    pub(crate) async fn unselect(&mut self) -> Result<(), ImapError> {
        let caps = self.capabilities().await?;
        if !caps.has("UNSELECT") && !caps.has("IMAP4rev2") {
            return Err(ImapError::Unsupported("UNSELECT"));
        }
        self.run(CommandBody::Unselect).await.map(drop)
    }

    /// Runs the command `make` builds around the folder `name`, encoded
    /// as [`Mailbox::from_utf8_name`] does (modified UTF-7, RFC 3501
    /// §5.1.3); NO and BAD are errors.
    async fn run_on(
        &mut self,
        name: &str,
        make: impl FnOnce(Mailbox<'static>) -> CommandBody<'static>,
    ) -> Result<Completion, ImapError> {
        self.run(make(Mailbox::from_utf8_name(name))).await
    }

    /// `LOGOUT`, then the connection is closed.
    pub(crate) async fn logout(&mut self) -> Result<(), ImapError> {
        let r = self.run(CommandBody::Logout).await.map(drop);
        self.conn.shutdown().await;
        match r {
            Err(ImapError::Closed(ConnectionError::Logout)) => Ok(()),
            other => other,
        }
    }

    /// `IDLE` (RFC 2177) until `timeout` has passed; the updates come
    /// from [`idle_next`](Self::idle_next). Any other command ends it
    /// first (`DONE`).
    pub(crate) async fn idle_start(&mut self, timeout: Duration) -> Result<(), ImapError> {
        if !self.capabilities().await?.has("IDLE") {
            return Err(ImapError::Unsupported("IDLE"));
        }
        self.idle_finish().await?;
        let deadline = Instant::now() + timeout;
        let h = self.enqueue(CommandBody::Idle)?;
        self.pump_until(|s| s.idle_started == Some(h) || s.done.iter().any(|c| c.handle == h))
            .await?;
        if let Some(c) = self.take_done(h) {
            check(c)?;
            return Err(ImapError::Protocol("IDLE completed at once".into()));
        }
        self.idle = Some((h, deadline));
        Ok(())
    }

    /// The next update of the IDLE (those already received first); `None`
    /// once it has ended: its deadline passed (then `DONE` is sent), the
    /// server ended it, or it failed (the error is returned once).
    pub(crate) async fn idle_next(&mut self) -> Option<Result<Update, ImapError>> {
        loop {
            if let Some(u) = self.updates.pop_front() {
                return Some(Ok(u));
            }
            let (handle, deadline) = self.idle?;
            let step = async {
                self.flush().await?;
                self.drain(None, &mut Discard).await?;
                self.flush().await
            };
            if let Err(e) = step.await {
                self.idle = None;
                return Some(Err(e));
            }
            if !self.updates.is_empty() {
                continue;
            }
            if self.done.iter().any(|c| c.handle == handle) {
                // The server ended the IDLE by itself.
                self.idle = None;
                let c = self.take_done(handle)?;
                return check(c).err().map(Err);
            }
            if Instant::now() >= deadline {
                return self.idle_finish().await.err().map(Err);
            }
            if let Err(e) = self.read_once(Some(deadline)).await {
                self.idle = None;
                return Some(Err(e));
            }
        }
    }

    /// Ends the IDLE, if one is on (`DONE`), and waits for its tagged OK.
    pub(crate) async fn idle_finish(&mut self) -> Result<(), ImapError> {
        let Some((handle, _)) = self.idle.take() else {
            return Ok(());
        };
        // Already over (the server ended it) when this fails: its
        // completion is then waiting in `done`.
        let _ = self.client.idle_done();
        let c = self.wait(handle, &mut Discard).await?;
        check(c).map(drop)
    }

    // ----- the driver loop ------------------------------------------------

    fn closed_error(&self) -> ImapError {
        ImapError::Closed(self.closed.clone().unwrap_or(ConnectionError::Local))
    }

    fn enqueue(&mut self, body: CommandBody<'static>) -> Result<CommandHandle, ImapError> {
        self.client.enqueue_command(body).map_err(|e| match e {
            SendError::LoginDisabled(_) => ImapError::NoLoginMethod("LOGINDISABLED".into()),
            SendError::NotAllowed(b) => {
                ImapError::InvalidArgument(format!("{} not allowed now", b.name()))
            }
            _ => self.closed_error(),
        })
    }

    async fn run_to(
        &mut self,
        body: CommandBody<'static>,
        sink: &mut impl Sink,
    ) -> Result<Completion, ImapError> {
        self.idle_finish().await?;
        let h = self.enqueue(body)?;
        check(self.wait(h, sink).await?)
    }

    fn take_done(&mut self, h: CommandHandle) -> Option<Completion> {
        let i = self.done.iter().position(|c| c.handle == h)?;
        self.done.remove(i)
    }

    /// Drives the machine until command `h` completes; its FETCH chunks go
    /// to `sink`.
    async fn wait(
        &mut self,
        h: CommandHandle,
        sink: &mut impl Sink,
    ) -> Result<Completion, ImapError> {
        loop {
            if let Some(c) = self.take_done(h) {
                return Ok(c);
            }
            self.flush().await?;
            self.drain(Some(h), sink).await?;
            if let Some(c) = self.take_done(h) {
                return Ok(c);
            }
            self.flush().await?;
            self.read_once(None).await?;
        }
    }

    async fn pump_until(&mut self, cond: impl Fn(&Self) -> bool) -> Result<(), ImapError> {
        loop {
            self.flush().await?;
            self.drain(None, &mut Discard).await?;
            if cond(self) {
                return Ok(());
            }
            self.flush().await?;
            self.read_once(None).await?;
        }
    }

    /// Writes what the machine has to send (deflated and sync-flushed when
    /// COMPRESS is active, RFC 4978).
    async fn flush(&mut self) -> Result<(), ImapError> {
        let Some(z) = self.deflate.as_mut() else {
            return Ok(super::flush(&mut self.client, &mut self.conn, &mut self.out).await?);
        };
        while self
            .client
            .poll_transmit(Instant::now(), &mut self.out)
            .is_some()
        {}
        if self.out.is_empty() {
            return Ok(());
        }
        self.wire.clear();
        let r = z.compress(&self.out, &mut self.wire);
        self.out.clear();
        r.map_err(TransportError::Io)?;
        Ok(self.conn.write_all(&self.wire).await?)
    }

    /// Takes every pending event; chunks of command `want` go to `sink`.
    async fn drain(
        &mut self,
        want: Option<CommandHandle>,
        sink: &mut impl Sink,
    ) -> Result<(), ImapError> {
        while let Some(ev) = self.client.poll_event() {
            match ev {
                Event::Greeting { text, .. } => self.greeting = Some(text),
                Event::StartTls { .. } => {
                    self.flush().await?;
                    self.conn.start_tls().await?;
                    self.client.handle_tls_established(Instant::now());
                }
                Event::Compress { .. } => {
                    // RFC 4978 §3: DEFLATE both ways from here; what came
                    // after the OK is compressed already and inflated first.
                    self.flush().await?;
                    self.deflate = Some(Deflate::new(self.client.take_compressed_input()));
                    self.client.handle_compression_started(Instant::now());
                }
                Event::IdleStarted { handle } => self.idle_started = Some(handle),
                Event::Completed(c) => {
                    if self.idle_started == Some(c.handle) {
                        self.idle_started = None;
                    }
                    self.done.push_back(c);
                }
                Event::FetchChunk { handle, data, .. } if handle.is_some() && handle == want => {
                    sink.put(&data).await.map_err(ImapError::Sink)?;
                }
                Event::Refused { .. } => {
                    return Err(ImapError::NoLoginMethod("LOGINDISABLED".into()));
                }
                Event::Update(u) => {
                    if self.updates.len() >= MAX_UPDATES {
                        self.updates.pop_front();
                    }
                    self.updates.push_back(u);
                }
                Event::Closed { reason } => {
                    let _ = self.flush().await;
                    self.closed = Some(reason.clone());
                    // The completion of LOGOUT came before; let `wait` find it.
                    if reason != ConnectionError::Logout || self.done.is_empty() {
                        return Err(ImapError::Closed(reason));
                    }
                }
                _ => {}
            }
        }
        if let Some(reason) = &self.closed
            && self.done.is_empty()
        {
            return Err(ImapError::Closed(reason.clone()));
        }
        Ok(())
    }

    /// One read, bounded by the machine's deadline and `until`; true if
    /// `until` passed.
    /// When COMPRESS is active, the bytes read are inflated into `buf`
    /// first, one buffer at a time (memory stays bounded whatever they
    /// expand to); input already read is inflated before reading more.
    async fn read_once(&mut self, until: Option<Instant>) -> Result<bool, ImapError> {
        let Some(z) = self.deflate.as_mut() else {
            return Ok(
                super::read_once(&mut self.client, &mut self.conn, &mut self.buf, until).await?,
            );
        };
        loop {
            if z.has_pending() {
                let n = z.inflate(&mut self.buf).map_err(TransportError::Io)?;
                if n > 0 {
                    self.client.handle_input(Instant::now(), &self.buf[..n]);
                    return Ok(false);
                }
                continue; // nothing pending now: read
            }
            let deadline = super::read_deadline(&self.client, until);
            let r = self.conn.read_until(z.input_space(), deadline).await;
            match r {
                Ok(ReadOutcome::Data(n)) => z.filled(n),
                other => {
                    // The end, a timeout or an error: nothing was read.
                    z.filled(0);
                    return Ok(super::take_read(&mut self.client, other?, &[], until));
                }
            }
        }
    }
}

impl<S: Sink> Sink for Counting<'_, S> {
    async fn put(&mut self, data: &[u8]) -> io::Result<()> {
        self.inner.put(data).await?;
        self.n += data.len() as u64;
        Ok(())
    }

    async fn finish(&mut self) -> io::Result<()> {
        self.inner.finish().await
    }
}

/// The updates of an active IDLE; see [`ImapSession::idle`].
#[derive(Debug)]
pub struct IdleUpdates<'a> {
    session: &'a mut ImapSession,
}

impl IdleUpdates<'_> {
    /// Ends the IDLE (`DONE`) and waits for its tagged OK.
    pub fn done(self) -> Result<(), ImapError> {
        block_on(self.session.core.idle_finish())
    }
}

impl Iterator for IdleUpdates<'_> {
    type Item = Result<Update, ImapError>;

    fn next(&mut self) -> Option<Self::Item> {
        block_on(self.session.core.idle_next())
    }
}

impl Drop for IdleUpdates<'_> {
    fn drop(&mut self) {
        let _ = block_on(self.session.core.idle_finish());
    }
}

// ----- helpers ------------------------------------------------------------

fn check(c: Completion) -> Result<Completion, ImapError> {
    if c.is_ok() {
        Ok(c)
    } else {
        Err(ImapError::Command {
            command: c.command,
            status: c.status,
            text: c.text(),
            tagged: c.tagged,
        })
    }
}

fn istring(s: &str) -> Result<IString<'static>, ImapError> {
    IString::try_from(s.to_owned()).map_err(|e| ImapError::InvalidArgument(e.to_string()))
}

fn atom(s: &str) -> Result<Atom<'static>, ImapError> {
    Atom::new(s.to_owned()).map_err(|e| ImapError::InvalidArgument(e.to_string()))
}

/// SORT's and THREAD's charset (RFC 5256 §3: `UTF-8` for non-ASCII
/// strings, else `US-ASCII`; both are ones every server supports) and
/// their keys (`ALL` for none).
fn charset_and_keys(
    search: Vec<SearchKey<'static>>,
) -> Result<(IString<'static>, Vec1<SearchKey<'static>>), ImapError> {
    let charset = if search.iter().any(non_ascii_key) {
        "UTF-8"
    } else {
        "US-ASCII"
    };
    Ok((istring(charset)?, keys_or_all(search)))
}

/// The keys of a SEARCH, SORT or THREAD: `ALL` for none.
fn keys_or_all(keys: Vec<SearchKey<'static>>) -> Vec1<SearchKey<'static>> {
    Vec1::try_from(keys).unwrap_or_else(|_| Vec1::one(SearchKey::All))
}

fn non_ascii_key(k: &SearchKey<'_>) -> bool {
    use SearchKey as K;
    match k {
        K::Bcc(s) | K::Body(s) | K::Cc(s) | K::From(s) | K::Subject(s) | K::Text(s) | K::To(s) => {
            !s.as_bytes().is_ascii()
        }
        K::Header(a, b) => !a.as_bytes().is_ascii() || !b.as_bytes().is_ascii(),
        K::Not(k) => non_ascii_key(k),
        K::Or(a, b) => non_ascii_key(a) || non_ascii_key(b),
        K::And(ks) => ks.iter().any(non_ascii_key),
        _ => false,
    }
}

fn folder_status(items: &[StatusItem<'_>]) -> FolderStatus {
    let mut s = FolderStatus::default();
    for i in items {
        if let StatusItem::Number(attr, n) = i {
            match attr {
                StatusAttr::Messages => s.messages = *n,
                StatusAttr::Unseen => s.unseen = *n,
                StatusAttr::UidNext => s.uid_next = *n,
                StatusAttr::UidValidity => s.uid_validity = *n,
                _ => {}
            }
        }
    }
    s
}

/// The destination UIDs of a `COPYUID` (RFC 4315 §3: the n-th source
/// UID was copied to the n-th destination UID), in ascending order of
/// their source UIDs. `None` when the sets differ in size, hold `*` or
/// `$` (neither of which §3 allows), or name more than `most` messages:
/// a hostile `1:4294967295` is refused before anything is allocated.
fn copied_uids(source: &SequenceSet, destination: &SequenceSet, most: u32) -> Option<Vec<u32>> {
    let n = set_len(source)?;
    if n != set_len(destination)? || n > u64::from(most) {
        return None;
    }
    let mut pairs: Vec<(u32, u32)> = source.iter(0).zip(destination.iter(0)).collect();
    pairs.sort_unstable();
    Some(pairs.into_iter().map(|(_, d)| d).collect())
}

/// How many numbers the set names; `None` with `*` or `$`.
fn set_len(set: &SequenceSet) -> Option<u64> {
    let SequenceSet::Set(ranges) = set else {
        return None;
    };
    ranges
        .iter()
        .map(|r| match *r {
            SeqRange::Single(SeqNum::Value(_)) => Some(1),
            SeqRange::Range(SeqNum::Value(a), SeqNum::Value(b)) => {
                Some(u64::from(a.get().abs_diff(b.get())) + 1)
            }
            _ => None,
        })
        .sum()
}

/// The UIDs as a sequence set, consecutive runs as ranges (`1:3,7`).
pub fn uid_set(uids: &[u32]) -> Result<SequenceSet, ImapError> {
    let mut sorted: Vec<u32> = uids.iter().copied().filter(|&u| u != 0).collect();
    sorted.sort_unstable();
    sorted.dedup();
    let mut ranges = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let start = sorted[i];
        let mut end = start;
        while i + 1 < sorted.len() && sorted[i + 1] == end + 1 {
            i += 1;
            end = sorted[i];
        }
        i += 1;
        let v = |n: u32| NonZeroU32::new(n).map(SeqNum::Value);
        let (Some(a), Some(b)) = (v(start), v(end)) else {
            continue;
        };
        ranges.push(if start == end {
            SeqRange::Single(a)
        } else {
            SeqRange::Range(a, b)
        });
    }
    SequenceSet::new(ranges).ok_or_else(|| ImapError::InvalidArgument("no UID given".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uid_sets_compress_runs() {
        let set = uid_set(&[7, 1, 2, 3, 3, 9, 10]).unwrap();
        let all: Vec<u32> = set.iter(u32::MAX).collect();
        assert_eq!(all, vec![1, 2, 3, 7, 9, 10]);
        let SequenceSet::Set(r) = set else { panic!() };
        assert_eq!(r.len(), 3);
        assert!(uid_set(&[]).is_err());
        assert!(uid_set(&[0]).is_err());
    }

    /// RFC 4315 §3: the n-th source UID went to the n-th destination UID.
    #[test]
    fn rfc4315_3_copyuid_maps_sources_to_destinations() {
        let set = |s: &[u32]| uid_set(s).unwrap();
        assert_eq!(
            copied_uids(&set(&[1, 2, 5]), &set(&[7, 8, 9]), 10),
            Some(vec![7, 8, 9])
        );
        // Listed out of order: sorted by the source UID.
        let out_of_order = |a: u32, b: u32| {
            let n = |v| SeqRange::Single(SeqNum::Value(NonZeroU32::new(v).unwrap()));
            SequenceSet::new(vec![n(a), n(b)]).unwrap()
        };
        assert_eq!(
            copied_uids(&out_of_order(5, 1), &set(&[7, 8]), 10),
            Some(vec![8, 7])
        );
        // Sizes differ, `*`, or more than the folder holds: not taken.
        assert_eq!(copied_uids(&set(&[1, 2]), &set(&[7]), 10), None);
        assert_eq!(copied_uids(&SequenceSet::all(), &set(&[7]), 10), None);
        let huge = SequenceSet::range(1, u32::MAX).unwrap();
        assert_eq!(copied_uids(&huge, &huge, 10), None);
    }

    proptest::proptest! {
        /// Any COPYUID pairing of equal-size UID lists within the folder:
        /// each destination once, in the order of its source UID; and a
        /// folder smaller than the lists refuses it.
        #[test]
        fn copyuid_pairs_each_destination_by_source_order(
            pairs in proptest::collection::btree_map(1u32..10_000, 1u32..10_000, 1..40),
        ) {
            let (sources, dests): (Vec<u32>, Vec<u32>) = pairs.iter().map(|(s, d)| (*s, *d)).rev().unzip();
            let list = |v: &[u32]| {
                let one = |u| SeqRange::Single(SeqNum::Value(NonZeroU32::new(u).unwrap()));
                SequenceSet::new(v.iter().map(|&u| one(u)).collect()).unwrap()
            };
            let n = sources.len() as u32;
            let want: Vec<u32> = pairs.values().copied().collect();
            proptest::prop_assert_eq!(copied_uids(&list(&sources), &list(&dests), n), Some(want));
            proptest::prop_assert_eq!(copied_uids(&list(&sources), &list(&dests), n - 1), None);
        }
    }

    #[test]
    fn utf8_search_keys_are_detected() {
        let k = SearchKey::Subject(IString::try_from("Grüße").unwrap());
        assert!(non_ascii_key(&SearchKey::Not(Box::new(k))));
        assert!(!non_ascii_key(&SearchKey::From(
            IString::try_from("a").unwrap()
        )));
    }
}

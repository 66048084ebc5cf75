//! Commands, client to server (RFC 3501 §6, RFC 9051 §6 and the extensions).

use super::core::{Atom, Binary, DateTime, IString, NString, Tag};
use super::fetch::FetchAttrs;
use super::flag::{Capability, Flag};
use super::mailbox::Mailbox;
use super::search::SearchKey;
use super::secret::{Secret, Vec1};
use super::sequence::SequenceSet;

/// A tagged command: `command = tag SP (command-any / command-auth / command-nonauth / command-select) CRLF`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command<'a> {
    /// The tag that ties the command to its completion.
    pub tag: Tag<'a>,
    /// The command itself.
    pub body: CommandBody<'a>,
}

/// STATUS data items (RFC 3501 §6.3.10, RFC 9051 §6.3.11, RFC 7162, RFC 8438, RFC 7889).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusAttr {
    /// `MESSAGES`.
    Messages,
    /// `RECENT` (IMAP4rev1).
    Recent,
    /// `UIDNEXT`.
    UidNext,
    /// `UIDVALIDITY`.
    UidValidity,
    /// `UNSEEN`.
    Unseen,
    /// `DELETED` (IMAP4rev2).
    Deleted,
    /// `SIZE` (STATUS=SIZE, RFC 8438).
    Size,
    /// `HIGHESTMODSEQ` (RFC 7162).
    HighestModSeq,
    /// `APPENDLIMIT` (RFC 7889).
    AppendLimit,
    /// `MAILBOXID` (RFC 8474 §4.3, `status-att =/ "MAILBOXID"` in §7): the
    /// mailbox's object identifier, answered by
    /// [`StatusItem::MailboxId`](crate::StatusItem::MailboxId).
    MailboxId,
}

/// STORE kind: replace, add or remove flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StoreKind {
    /// `FLAGS`.
    Replace,
    /// `+FLAGS`.
    Add,
    /// `-FLAGS`.
    Remove,
}

/// SORT criteria (RFC 5256 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SortKey {
    /// `ARRIVAL`.
    Arrival,
    /// `CC`.
    Cc,
    /// `DATE`.
    Date,
    /// `FROM`.
    From,
    /// `SIZE`.
    Size,
    /// `SUBJECT`.
    Subject,
    /// `TO`.
    To,
    /// `DISPLAYFROM` (RFC 5957).
    DisplayFrom,
    /// `DISPLAYTO` (RFC 5957).
    DisplayTo,
}

/// One SORT criterion, optionally reversed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SortCriterion {
    /// `REVERSE`.
    pub reverse: bool,
    /// The key.
    pub key: SortKey,
}

/// ESEARCH return options (RFC 4731, RFC 9051 `search-return-opt`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SearchReturn {
    /// `MIN`.
    Min,
    /// `MAX`.
    Max,
    /// `ALL`.
    All,
    /// `COUNT`.
    Count,
    /// `SAVE` (RFC 5182).
    Save,
    /// `PARTIAL range` (RFC 9394 §3.1): only the matches at these
    /// positions of the result.
    Partial(PartialRange),
}

/// A `partial-range` (RFC 9394 §3.1): positions in a search result,
/// counted from 1, from the start (`1:100`) or from the end (`-1:-100`,
/// -1 being the last match). The two ends may come in either order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PartialRange {
    /// Counted from the end (the `-` form).
    pub from_end: bool,
    /// The first position as written.
    pub first: std::num::NonZeroU32,
    /// The second position as written.
    pub last: std::num::NonZeroU32,
}

impl PartialRange {
    /// The zero-based indices the range selects in a result of `len`
    /// matches (empty when it lies past the result).
    ///
    /// ```
    /// use mailwire_imap::PartialRange;
    /// use std::num::NonZeroU32;
    /// let n = |v| NonZeroU32::new(v).unwrap();
    /// let r = PartialRange { from_end: true, first: n(1), last: n(2) };
    /// assert_eq!(r.indices(5), 3..5);
    /// let r = PartialRange { from_end: false, first: n(4), last: n(9) };
    /// assert_eq!(r.indices(5), 3..5);
    /// ```
    pub fn indices(&self, len: usize) -> std::ops::Range<usize> {
        let (lo, hi) = (self.first.min(self.last), self.first.max(self.last));
        let (lo, hi) = (lo.get() as usize, hi.get() as usize);
        if self.from_end {
            len.saturating_sub(hi)..len.saturating_sub(lo - 1)
        } else {
            (lo - 1).min(len)..hi.min(len)
        }
    }
}

/// LIST selection options (RFC 5258 §3.1, RFC 6154).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ListSelect {
    /// `SUBSCRIBED`.
    Subscribed,
    /// `REMOTE`.
    Remote,
    /// `RECURSIVEMATCH`.
    RecursiveMatch,
    /// `SPECIAL-USE`.
    SpecialUse,
}

/// LIST return options (RFC 5258 §3.2, RFC 5819, RFC 6154).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ListReturn {
    /// `SUBSCRIBED`.
    Subscribed,
    /// `CHILDREN`.
    Children,
    /// `SPECIAL-USE`.
    SpecialUse,
    /// `STATUS (...)` (LIST-STATUS, RFC 5819).
    Status(Vec<StatusAttr>),
}

/// SELECT/EXAMINE parameters (RFC 7162).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SelectParam {
    /// `CONDSTORE`.
    CondStore,
    /// `QRESYNC (uidvalidity modseq [known-uids] [(seq-match-data)])`.
    QResync {
        /// Last known UIDVALIDITY.
        uidvalidity: u32,
        /// Last known mod-sequence.
        modseq: u64,
        /// Known UIDs.
        known_uids: Option<SequenceSet>,
        /// Known sequence numbers and the UIDs they map to.
        seq_match: Option<(SequenceSet, SequenceSet)>,
    },
}

/// FETCH modifiers (RFC 7162 §3.1.4.1, §3.2.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FetchModifier {
    /// `CHANGEDSINCE n`.
    ChangedSince(u64),
    /// `VANISHED` (with UID FETCH and QRESYNC).
    Vanished,
}

/// THREAD algorithm (RFC 5256 §3).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ThreadAlgorithm<'a> {
    /// `ORDEREDSUBJECT`.
    OrderedSubject,
    /// `REFERENCES`.
    References,
    /// Another algorithm.
    Other(Atom<'a>),
}

impl ThreadAlgorithm<'_> {
    /// The algorithm's name as a THREAD command sends it and a server's
    /// `THREAD=` capability names it (RFC 5256 §3, §5), e.g. `REFERENCES`.
    pub fn name(&self) -> &str {
        match self {
            Self::OrderedSubject => "ORDEREDSUBJECT",
            Self::References => "REFERENCES",
            Self::Other(a) => a.as_str(),
        }
    }
}

/// GETMETADATA options (RFC 5464 §4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct MetadataOptions {
    /// `MAXSIZE n`.
    pub max_size: Option<u32>,
    /// `DEPTH 0/1/infinity` (None = not sent; `u32::MAX` = infinity).
    pub depth: Option<u32>,
}

/// One message of an APPEND (RFC 3502 MULTIAPPEND allows several).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendMessage<'a> {
    /// Flags to set.
    pub flags: Vec<Flag<'a>>,
    /// INTERNALDATE to set.
    pub date: Option<DateTime>,
    /// The message; the encoder sends it as a literal, as `~{n}` (BINARY) if it holds NUL.
    pub message: Binary<'a>,
    /// `UTF8 (literal)` (RFC 6855 §4).
    pub utf8: bool,
}

/// The command names and their arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandBody<'a> {
    /// `CAPABILITY` (§6.1.1).
    Capability,
    /// `NOOP` (§6.1.2).
    Noop,
    /// `LOGOUT` (§6.1.3).
    Logout,
    /// `STARTTLS` (§6.2.1).
    StartTls,
    /// `AUTHENTICATE mechanism [initial-response]` (§6.2.2, RFC 4959 SASL-IR).
    Authenticate {
        /// SASL mechanism name.
        mechanism: Atom<'a>,
        /// Base64 initial response, or `=` for an empty one, as sent (redacted in `Debug`).
        initial_response: Option<Secret<Atom<'a>>>,
    },
    /// `LOGIN user password` (§6.2.3).
    Login {
        /// User name.
        username: IString<'a>,
        /// Password (redacted in `Debug`).
        password: Secret<IString<'a>>,
    },
    /// `ENABLE cap...` (RFC 5161: `"ENABLE" 1*(SP capability)`).
    Enable(Vec1<Capability<'a>>),
    /// `SELECT mailbox [(params)]` (§6.3.1).
    Select {
        /// The mailbox.
        mailbox: Mailbox<'a>,
        /// CONDSTORE/QRESYNC parameters.
        params: Vec<SelectParam>,
    },
    /// `EXAMINE mailbox [(params)]` (§6.3.2).
    Examine {
        /// The mailbox.
        mailbox: Mailbox<'a>,
        /// CONDSTORE/QRESYNC parameters.
        params: Vec<SelectParam>,
    },
    /// `CREATE mailbox [(USE (attrs))]` (§6.3.3, RFC 6154).
    Create {
        /// The mailbox.
        mailbox: Mailbox<'a>,
        /// Special-use attributes to give it (atoms without `\`).
        special_use: Vec<Atom<'a>>,
    },
    /// `DELETE mailbox`.
    Delete(Mailbox<'a>),
    /// `RENAME from to`.
    Rename {
        /// Existing name.
        from: Mailbox<'a>,
        /// New name.
        to: Mailbox<'a>,
    },
    /// `SUBSCRIBE mailbox`.
    Subscribe(Mailbox<'a>),
    /// `UNSUBSCRIBE mailbox`.
    Unsubscribe(Mailbox<'a>),
    /// `LIST [(select-opts)] reference pattern(s) [RETURN (opts)]` (§6.3.8/§6.3.9, RFC 5258).
    List {
        /// Selection options.
        select: Vec<ListSelect>,
        /// Reference name.
        reference: Mailbox<'a>,
        /// One or more patterns (may hold `%` and `*`).
        patterns: Vec1<IString<'a>>,
        /// Return options.
        return_opts: Vec<ListReturn>,
    },
    /// `LSUB reference pattern` (RFC 3501 §6.3.9).
    Lsub {
        /// Reference name.
        reference: Mailbox<'a>,
        /// Pattern.
        pattern: IString<'a>,
    },
    /// `NAMESPACE` (RFC 2342).
    Namespace,
    /// `STATUS mailbox (items)` (§6.3.10).
    Status {
        /// The mailbox.
        mailbox: Mailbox<'a>,
        /// Requested items.
        items: Vec<StatusAttr>,
    },
    /// `APPEND mailbox [flags] [date] literal` (§6.3.11), several with MULTIAPPEND.
    Append {
        /// The mailbox.
        mailbox: Mailbox<'a>,
        /// The messages (at least one).
        messages: Vec1<AppendMessage<'a>>,
    },
    /// `IDLE` (RFC 2177); ended by `DONE`, see [`crate::parse::idle_done`].
    Idle,
    /// `CHECK` (IMAP4rev1).
    Check,
    /// `CLOSE`.
    Close,
    /// `UNSELECT` (RFC 3691).
    Unselect,
    /// `UNAUTHENTICATE` (RFC 8437): back to the not authenticated state,
    /// the selected mailbox closed without expunging.
    Unauthenticate,
    /// `EXPUNGE`.
    Expunge,
    /// `UID EXPUNGE set` (RFC 4315).
    UidExpunge(SequenceSet),
    /// `[UID] SEARCH [RETURN (...)] [CHARSET x] keys` (§6.4.4).
    Search {
        /// UID variant.
        uid: bool,
        /// ESEARCH return options; `Some(vec![])` is `RETURN ()`.
        return_opts: Option<Vec<SearchReturn>>,
        /// Charset.
        charset: Option<IString<'a>>,
        /// The keys (implicitly ANDed, at least one).
        criteria: Vec1<SearchKey<'a>>,
    },
    /// `[UID] FETCH set attrs [(modifiers)]` (§6.4.5).
    Fetch {
        /// UID variant.
        uid: bool,
        /// Messages.
        set: SequenceSet,
        /// Attributes.
        attrs: FetchAttrs<'a>,
        /// CONDSTORE/QRESYNC modifiers.
        modifiers: Vec<FetchModifier>,
    },
    /// `[UID] STORE set [(UNCHANGEDSINCE n)] [+|-]FLAGS[.SILENT] flags` (§6.4.6).
    Store {
        /// UID variant.
        uid: bool,
        /// Messages.
        set: SequenceSet,
        /// `UNCHANGEDSINCE` (RFC 7162).
        unchanged_since: Option<u64>,
        /// Replace, add or remove.
        kind: StoreKind,
        /// `.SILENT`.
        silent: bool,
        /// The flags.
        flags: Vec<Flag<'a>>,
    },
    /// `[UID] COPY set mailbox` (§6.4.7).
    Copy {
        /// UID variant.
        uid: bool,
        /// Messages.
        set: SequenceSet,
        /// Destination.
        mailbox: Mailbox<'a>,
    },
    /// `[UID] MOVE set mailbox` (RFC 6851).
    Move {
        /// UID variant.
        uid: bool,
        /// Messages.
        set: SequenceSet,
        /// Destination.
        mailbox: Mailbox<'a>,
    },
    /// `[UID] SORT (criteria) charset keys` (RFC 5256).
    Sort {
        /// UID variant.
        uid: bool,
        /// Sort criteria (at least one).
        criteria: Vec1<SortCriterion>,
        /// Charset.
        charset: IString<'a>,
        /// Search keys (implicitly ANDed, at least one).
        search: Vec1<SearchKey<'a>>,
    },
    /// `[UID] THREAD algorithm charset keys` (RFC 5256).
    Thread {
        /// UID variant.
        uid: bool,
        /// The algorithm.
        algorithm: ThreadAlgorithm<'a>,
        /// Charset.
        charset: IString<'a>,
        /// Search keys (implicitly ANDed, at least one).
        search: Vec1<SearchKey<'a>>,
    },
    /// `ID (params)` / `ID NIL` (RFC 2971).
    Id(Option<Vec<(IString<'a>, NString<'a>)>>),
    /// `GETQUOTA root` (RFC 9208).
    GetQuota(IString<'a>),
    /// `GETQUOTAROOT mailbox`.
    GetQuotaRoot(Mailbox<'a>),
    /// `SETQUOTA root (resource limit ...)`.
    SetQuota {
        /// Quota root.
        root: IString<'a>,
        /// Resource names and limits.
        limits: Vec<(Atom<'a>, u64)>,
    },
    /// `GETMETADATA [options] mailbox entries` (RFC 5464).
    GetMetadata {
        /// Options.
        options: MetadataOptions,
        /// The mailbox (empty string for the server).
        mailbox: Mailbox<'a>,
        /// Entry names.
        entries: Vec<IString<'a>>,
    },
    /// `COMPRESS algorithm` (RFC 4978 §3): after the tagged OK, both sides
    /// compress everything they send (`DEFLATE`, RFC 1951, is the one
    /// algorithm defined).
    Compress {
        /// The algorithm, e.g. `DEFLATE`.
        algorithm: Atom<'a>,
    },
    /// `SETMETADATA mailbox (entry value ...)` (RFC 5464).
    SetMetadata {
        /// The mailbox.
        mailbox: Mailbox<'a>,
        /// Entries and values (NIL removes).
        entries: Vec<(IString<'a>, NString<'a>)>,
    },
}

impl CommandBody<'_> {
    /// The command name as sent, e.g. `UID FETCH`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Capability => "CAPABILITY",
            Self::Noop => "NOOP",
            Self::Logout => "LOGOUT",
            Self::StartTls => "STARTTLS",
            Self::Authenticate { .. } => "AUTHENTICATE",
            Self::Login { .. } => "LOGIN",
            Self::Enable(_) => "ENABLE",
            Self::Select { .. } => "SELECT",
            Self::Examine { .. } => "EXAMINE",
            Self::Create { .. } => "CREATE",
            Self::Delete(_) => "DELETE",
            Self::Rename { .. } => "RENAME",
            Self::Subscribe(_) => "SUBSCRIBE",
            Self::Unsubscribe(_) => "UNSUBSCRIBE",
            Self::List { .. } => "LIST",
            Self::Lsub { .. } => "LSUB",
            Self::Namespace => "NAMESPACE",
            Self::Status { .. } => "STATUS",
            Self::Append { .. } => "APPEND",
            Self::Idle => "IDLE",
            Self::Check => "CHECK",
            Self::Close => "CLOSE",
            Self::Unselect => "UNSELECT",
            Self::Unauthenticate => "UNAUTHENTICATE",
            Self::Expunge => "EXPUNGE",
            Self::UidExpunge(_) => "UID EXPUNGE",
            Self::Search { uid: true, .. } => "UID SEARCH",
            Self::Search { .. } => "SEARCH",
            Self::Fetch { uid: true, .. } => "UID FETCH",
            Self::Fetch { .. } => "FETCH",
            Self::Store { uid: true, .. } => "UID STORE",
            Self::Store { .. } => "STORE",
            Self::Copy { uid: true, .. } => "UID COPY",
            Self::Copy { .. } => "COPY",
            Self::Move { uid: true, .. } => "UID MOVE",
            Self::Move { .. } => "MOVE",
            Self::Sort { uid: true, .. } => "UID SORT",
            Self::Sort { .. } => "SORT",
            Self::Thread { uid: true, .. } => "UID THREAD",
            Self::Thread { .. } => "THREAD",
            Self::Id(_) => "ID",
            Self::GetQuota(_) => "GETQUOTA",
            Self::GetQuotaRoot(_) => "GETQUOTAROOT",
            Self::SetQuota { .. } => "SETQUOTA",
            Self::GetMetadata { .. } => "GETMETADATA",
            Self::SetMetadata { .. } => "SETMETADATA",
            Self::Compress { .. } => "COMPRESS",
        }
    }
}

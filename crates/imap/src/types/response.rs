//! Responses, server to client (RFC 3501 §7, RFC 9051 §7 and the extensions).

use std::num::NonZeroU32;

use super::command::StatusAttr;
use super::core::{Atom, IString, NString, Tag, Text};
use super::fetch::{FetchItem, Value};
use super::flag::{Capability, Flag, MailboxAttr};
use super::mailbox::Mailbox;
use super::secret::Vec1;
use super::sequence::SequenceSet;

/// A server response: `response = *(continue-req / response-data) response-done`,
/// one unit at a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response<'a> {
    /// A status response, tagged or untagged (OK/NO/BAD/PREAUTH/BYE).
    Status(StatusResponse<'a>),
    /// Untagged data (`* ...`).
    Data(Data<'a>),
    /// A continuation request (`+ ...`).
    Continue(Continue<'a>),
}

/// The status condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusKind {
    /// `OK`.
    Ok,
    /// `NO`.
    No,
    /// `BAD`.
    Bad,
    /// `PREAUTH` (untagged greeting only).
    PreAuth,
    /// `BYE` (untagged only).
    Bye,
}

/// `resp-cond-state`, `resp-cond-auth`, `resp-cond-bye`, tagged or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusResponse<'a> {
    /// The tag; `None` for `*`.
    pub tag: Option<Tag<'a>>,
    /// The condition.
    pub kind: StatusKind,
    /// The response code in brackets.
    pub code: Option<Code<'a>>,
    /// Human-readable text (may be empty).
    pub text: Text<'a>,
}

/// `continue-req = "+" SP (resp-text / base64) CRLF`. Base64 payloads (AUTHENTICATE)
/// are kept as text; decode them with the SASL layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Continue<'a> {
    /// A response code, if the text started with one.
    pub code: Option<Code<'a>>,
    /// The text or base64 data.
    pub text: Text<'a>,
}

/// Response codes (RFC 3501 §7.1, RFC 9051 §7.1, RFC 4315, RFC 7162, RFC 5530, RFC 5464, RFC 9208, RFC 8474 ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Code<'a> {
    /// `ALERT`.
    Alert,
    /// `BADCHARSET [(charsets)]`.
    BadCharset(Vec<IString<'a>>),
    /// `CAPABILITY ...`.
    Capability(Vec1<Capability<'a>>),
    /// `PARSE`.
    Parse,
    /// `PERMANENTFLAGS (...)`.
    PermanentFlags(Vec<Flag<'a>>),
    /// `READ-ONLY`.
    ReadOnly,
    /// `READ-WRITE`.
    ReadWrite,
    /// `TRYCREATE`.
    TryCreate,
    /// `UIDNEXT n`.
    UidNext(NonZeroU32),
    /// `UIDVALIDITY n`.
    UidValidity(NonZeroU32),
    /// `UNSEEN n` (IMAP4rev1).
    Unseen(NonZeroU32),
    /// `APPENDUID uidvalidity uid-set` (RFC 4315).
    AppendUid {
        /// Destination UIDVALIDITY.
        uidvalidity: NonZeroU32,
        /// Assigned UIDs.
        uids: SequenceSet,
    },
    /// `COPYUID uidvalidity source dest` (RFC 4315).
    CopyUid {
        /// Destination UIDVALIDITY.
        uidvalidity: NonZeroU32,
        /// Source UIDs.
        source: SequenceSet,
        /// Destination UIDs.
        destination: SequenceSet,
    },
    /// `UIDNOTSTICKY` (RFC 4315).
    UidNotSticky,
    /// `HIGHESTMODSEQ n` (RFC 7162).
    HighestModSeq(u64),
    /// `NOMODSEQ` (RFC 7162).
    NoModSeq,
    /// `MODIFIED set` (RFC 7162).
    Modified(SequenceSet),
    /// `CLOSED` (RFC 7162).
    Closed,
    /// `METADATA LONGENTRIES n` (RFC 5464).
    MetadataLongEntries(u32),
    /// `METADATA MAXSIZE n` (RFC 5464).
    MetadataMaxSize(u32),
    /// `METADATA TOOMANY` (RFC 5464).
    MetadataTooMany,
    /// `METADATA NOPRIVATE` (RFC 5464).
    MetadataNoPrivate,
    /// `MAILBOXID (objectid)` (RFC 8474 §4, `resp-text-code =/ "MAILBOXID"
    /// SP "(" objectid ")"` in §7): the mailbox's object identifier, in the
    /// tagged OK of a successful CREATE (§4.1) and in an untagged OK of
    /// SELECT and EXAMINE (§4.2). Servers that send it advertise the
    /// `OBJECTID` capability (§3).
    ///
    /// A server must give a valid objectid (`1*255(ALPHA / DIGIT / "_" /
    /// "-")`, case-sensitive; check with [`is_object_id`]); the encoder
    /// writes the atom as it is. A `MAILBOXID` code with anything else in
    /// it is never parsed into this variant: like every known code with
    /// arguments the parser cannot read (`UIDNEXT 0` ...), it is kept as
    /// [`Code::Other`].
    ///
    /// [`is_object_id`]: crate::is_object_id
    MailboxId(Atom<'a>),
    /// A code without arguments from RFC 5530 / RFC 9051 / others, e.g.
    /// `NONEXISTENT`, `ALREADYEXISTS`, `OVERQUOTA`, `COMPRESSIONACTIVE`, `CLIENTBUG`.
    Simple(Atom<'a>),
    /// Any other code with arguments: the atom and its raw arguments
    /// (e.g. `REFERRAL imap://...`, `WEBALERT url`). The encoder drops any `]` from them.
    Other(Atom<'a>, Text<'a>),
}

/// A LIST/LSUB/XLIST line: `mailbox-list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListItem<'a> {
    /// Attributes (without the backslash).
    pub attributes: Vec<MailboxAttr<'a>>,
    /// Hierarchy delimiter; `None` for NIL.
    pub delimiter: Option<u8>,
    /// The mailbox.
    pub mailbox: Mailbox<'a>,
    /// `mbox-list-extended` items such as `CHILDINFO (...)`, `OLDNAME (...)` (RFC 5258, RFC 9051).
    pub extended: Vec<(IString<'a>, Value<'a>)>,
}

/// A STATUS item and value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusItem<'a> {
    /// A numeric item; `APPENDLIMIT NIL` is `None`.
    Number(StatusAttr, Option<u64>),
    /// `MAILBOXID (objectid)` (RFC 8474 §4.3, `status-att-value =/
    /// "MAILBOXID" SP "(" objectid ")"` in §7): the mailbox's object
    /// identifier, asked for with [`StatusAttr::MailboxId`].
    ///
    /// A server must give a valid objectid (`1*255(ALPHA / DIGIT / "_" /
    /// "-")`, case-sensitive; check with [`is_object_id`]): the parser
    /// refuses any other, and the encoder writes the atom as it is.
    ///
    /// [`is_object_id`]: crate::is_object_id
    MailboxId(Atom<'a>),
}

/// One ESEARCH return value (RFC 4731, RFC 9051 `search-return-data`, RFC 7162, RFC 9394 PARTIAL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ESearchItem<'a> {
    /// `MIN n`.
    Min(u32),
    /// `MAX n`.
    Max(u32),
    /// `ALL set`.
    All(SequenceSet),
    /// `COUNT n`.
    Count(u32),
    /// `MODSEQ n`.
    ModSeq(u64),
    /// `PARTIAL (range set)` (RFC 9394 §3.1): the matches at the range's
    /// positions; `None` (NIL) when there are none.
    Partial {
        /// The range asked for, as asked.
        range: crate::types::command::PartialRange,
        /// The matches.
        set: Option<SequenceSet>,
    },
    /// Another item and its value (`PARTIAL (...)`, `RELEVANCY (...)` ...).
    Other(Atom<'a>, Value<'a>),
}

/// A namespace description (RFC 2342 §5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Namespace<'a> {
    /// Prefix.
    pub prefix: IString<'a>,
    /// Hierarchy delimiter (`None` for NIL).
    pub delimiter: Option<u8>,
    /// Extensions: name and values (e.g. `TRANSLATION ("...")`).
    pub extensions: Vec<(IString<'a>, Vec<IString<'a>>)>,
}

/// A thread tree (RFC 5256 §4): a chain of messages with children branching off its last member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thread {
    /// The message numbers in the chain (may be empty for a dummy parent).
    pub chain: Vec<u32>,
    /// Sub-threads under the last message of the chain.
    pub children: Vec<Thread>,
}

/// Untagged response data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Data<'a> {
    /// `CAPABILITY ...` (§7.2.1).
    Capability(Vec1<Capability<'a>>),
    /// `ENABLED ...` (RFC 5161).
    Enabled(Vec<Capability<'a>>),
    /// `LIST ...` (§7.2.2).
    List(ListItem<'a>),
    /// `LSUB ...`.
    Lsub(ListItem<'a>),
    /// `XLIST ...` (Gmail).
    XList(ListItem<'a>),
    /// `STATUS mailbox (...)`.
    Status {
        /// The mailbox.
        mailbox: Mailbox<'a>,
        /// Items.
        items: Vec<StatusItem<'a>>,
    },
    /// `SEARCH n... [(MODSEQ n)]`.
    Search {
        /// Matching numbers.
        numbers: Vec<u32>,
        /// Highest mod-sequence (RFC 7162).
        modseq: Option<u64>,
    },
    /// `SORT n... [(MODSEQ n)]` (RFC 5256).
    Sort {
        /// Numbers in sorted order.
        numbers: Vec<u32>,
        /// Highest mod-sequence.
        modseq: Option<u64>,
    },
    /// `THREAD ...` (RFC 5256).
    Thread(Vec<Thread>),
    /// `ESEARCH [(TAG "x")] [UID] items`.
    ESearch {
        /// Correlating tag.
        tag: Option<IString<'a>>,
        /// UID numbers.
        uid: bool,
        /// Returned items.
        items: Vec<ESearchItem<'a>>,
    },
    /// `FLAGS (...)`.
    Flags(Vec<Flag<'a>>),
    /// `n EXISTS`.
    Exists(u32),
    /// `n RECENT`.
    Recent(u32),
    /// `n EXPUNGE`.
    Expunge(NonZeroU32),
    /// `VANISHED [(EARLIER)] uids` (RFC 7162).
    Vanished {
        /// `(EARLIER)`.
        earlier: bool,
        /// The UIDs.
        uids: SequenceSet,
    },
    /// `n FETCH (...)`.
    Fetch {
        /// Message sequence number.
        seq: NonZeroU32,
        /// The attributes.
        items: Vec<FetchItem<'a>>,
    },
    /// `NAMESPACE personal other shared` (RFC 2342); empty for NIL.
    Namespace {
        /// Personal namespaces.
        personal: Vec<Namespace<'a>>,
        /// Other users' namespaces.
        other: Vec<Namespace<'a>>,
        /// Shared namespaces.
        shared: Vec<Namespace<'a>>,
    },
    /// `ID (...)` / `ID NIL` (RFC 2971).
    Id(Option<Vec<(IString<'a>, NString<'a>)>>),
    /// `QUOTA root (resource usage limit ...)` (RFC 9208).
    Quota {
        /// Quota root.
        root: IString<'a>,
        /// Resource, usage, limit.
        resources: Vec<(Atom<'a>, u64, u64)>,
    },
    /// `QUOTAROOT mailbox root...`.
    QuotaRoot {
        /// The mailbox.
        mailbox: Mailbox<'a>,
        /// Its roots.
        roots: Vec<IString<'a>>,
    },
    /// `METADATA mailbox (entry value ...)` (RFC 5464).
    Metadata {
        /// The mailbox (empty for the server).
        mailbox: Mailbox<'a>,
        /// Entries with values.
        entries: Vec<(IString<'a>, NString<'a>)>,
    },
    /// `METADATA mailbox entry...` (unsolicited, RFC 5464 §4.4.2).
    MetadataKeys {
        /// The mailbox.
        mailbox: Mailbox<'a>,
        /// Changed entries.
        entries: Vec<IString<'a>>,
    },
    /// `ACL mailbox (identifier rights)...` (RFC 4314).
    Acl {
        /// The mailbox.
        mailbox: Mailbox<'a>,
        /// Identifier and rights.
        entries: Vec<(IString<'a>, IString<'a>)>,
    },
    /// `LISTRIGHTS mailbox identifier required optional...` (RFC 4314).
    ListRights {
        /// The mailbox.
        mailbox: Mailbox<'a>,
        /// Identifier.
        identifier: IString<'a>,
        /// Rights always granted, then optional groups.
        rights: Vec<IString<'a>>,
    },
    /// `MYRIGHTS mailbox rights` (RFC 4314).
    MyRights {
        /// The mailbox.
        mailbox: Mailbox<'a>,
        /// Rights.
        rights: IString<'a>,
    },
    /// An untagged response this crate does not know, kept as its name and raw rest
    /// (through the end of the response, literals included).
    Other {
        /// The first atom (or number and atom, e.g. `3 XFOO`: the number is in `number`).
        name: Atom<'a>,
        /// A leading message number, if any.
        number: Option<u32>,
        /// The bytes after the name, without the final CRLF.
        rest: Raw<'a>,
    },
}

/// Bytes of an unknown response, as the parser framed them: only the parser
/// creates one, so it is always a valid response tail.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Raw<'a>(pub(crate) &'a [u8]);

impl<'a> Raw<'a> {
    /// The bytes.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.0
    }
}

impl std::fmt::Debug for Raw<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Raw({:?})", String::from_utf8_lossy(self.0))
    }
}

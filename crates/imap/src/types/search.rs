//! SEARCH keys (RFC 3501 §6.4.4, RFC 9051 §6.4.4, RFC 7162 MODSEQ, RFC 5032
//! OLDER/YOUNGER, RFC 8514 SAVEDBEFORE/SAVEDON/SAVEDSINCE/SAVEDATESUPPORTED,
//! RFC 8474 EMAILID/THREADID).

use super::core::{Atom, Date, IString};
use super::secret::Vec1;
use super::sequence::SequenceSet;

/// The entry type of `search-modseq-ext` (RFC 7162 §3.1.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntryType {
    /// `priv`.
    Private,
    /// `shared`.
    Shared,
    /// `all`.
    All,
}

/// `search-key`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SearchKey<'a> {
    /// `ALL`.
    All,
    /// `ANSWERED`.
    Answered,
    /// `BCC string`.
    Bcc(IString<'a>),
    /// `BEFORE date`.
    Before(Date),
    /// `BODY string`.
    Body(IString<'a>),
    /// `CC string`.
    Cc(IString<'a>),
    /// `DELETED`.
    Deleted,
    /// `DRAFT`.
    Draft,
    /// `FLAGGED`.
    Flagged,
    /// `FROM string`.
    From(IString<'a>),
    /// `HEADER field-name string`.
    Header(IString<'a>, IString<'a>),
    /// `KEYWORD flag-keyword`.
    Keyword(Atom<'a>),
    /// `LARGER n`.
    Larger(u64),
    /// `NEW`.
    New,
    /// `NOT key`.
    Not(Box<SearchKey<'a>>),
    /// `OLD`.
    Old,
    /// `ON date`.
    On(Date),
    /// `OR key key`.
    Or(Box<SearchKey<'a>>, Box<SearchKey<'a>>),
    /// `RECENT`.
    Recent,
    /// `SEEN`.
    Seen,
    /// `SENTBEFORE date`.
    SentBefore(Date),
    /// `SENTON date`.
    SentOn(Date),
    /// `SENTSINCE date`.
    SentSince(Date),
    /// `SINCE date`.
    Since(Date),
    /// `SMALLER n`.
    Smaller(u64),
    /// `SUBJECT string`.
    Subject(IString<'a>),
    /// `TEXT string`.
    Text(IString<'a>),
    /// `TO string`.
    To(IString<'a>),
    /// `UID sequence-set`.
    Uid(SequenceSet),
    /// `UNANSWERED`.
    Unanswered,
    /// `UNDELETED`.
    Undeleted,
    /// `UNDRAFT`.
    Undraft,
    /// `UNFLAGGED`.
    Unflagged,
    /// `UNKEYWORD flag-keyword`.
    Unkeyword(Atom<'a>),
    /// `UNSEEN`.
    Unseen,
    /// A bare sequence set.
    SequenceSet(SequenceSet),
    /// `( key *(SP key) )`: all must match.
    And(Vec1<SearchKey<'a>>),
    /// `MODSEQ [entry-name entry-type] n` (RFC 7162).
    ModSeq {
        /// Optional metadata item name and type.
        entry: Option<(IString<'a>, EntryType)>,
        /// Mod-sequence value.
        modseq: u64,
    },
    /// `OLDER n` seconds (RFC 5032).
    Older(u32),
    /// `YOUNGER n` seconds (RFC 5032).
    Younger(u32),
    /// `SAVEDBEFORE date` (RFC 8514 §4.3): messages whose save date
    /// (disregarding time and timezone) is earlier than the date. Where the
    /// mailbox keeps no save dates, the internal date is used instead.
    SavedBefore(Date),
    /// `SAVEDON date` (RFC 8514 §4.3): messages whose save date
    /// (disregarding time and timezone) is within the date. Where the
    /// mailbox keeps no save dates, the internal date is used instead.
    SavedOn(Date),
    /// `SAVEDSINCE date` (RFC 8514 §4.3): messages whose save date
    /// (disregarding time and timezone) is within or later than the date.
    /// Where the mailbox keeps no save dates, the internal date is used
    /// instead.
    SavedSince(Date),
    /// `SAVEDATESUPPORTED` (RFC 8514 §4.3): every message of the mailbox
    /// when its storage keeps save dates, none otherwise.
    SaveDateSupported,
    /// `EMAILID objectid` (RFC 8474 §6, `search-key =/ "EMAILID" SP
    /// objectid` in §7): the messages whose EMAILID (§5.1) is this one,
    /// compared byte for byte (objectids are case-sensitive). No
    /// parentheses around the identifier here, unlike the FETCH answer.
    ///
    /// The identifier must be a valid objectid (`1*255(ALPHA / DIGIT / "_"
    /// / "-")`; check with [`is_object_id`]): the parser refuses any other,
    /// and the encoder writes the atom as it is.
    ///
    /// [`is_object_id`]: crate::is_object_id
    EmailId(Atom<'a>),
    /// `THREADID objectid` (RFC 8474 §6, `search-key =/ "THREADID" SP
    /// objectid` in §7): the messages whose THREADID (§5.2) is this one,
    /// compared byte for byte. A server that keeps no threads matches no
    /// message with it (§5.2).
    ///
    /// The identifier must be a valid objectid (`1*255(ALPHA / DIGIT / "_"
    /// / "-")`; check with [`is_object_id`]): the parser refuses any other,
    /// and the encoder writes the atom as it is.
    ///
    /// [`is_object_id`]: crate::is_object_id
    ThreadId(Atom<'a>),
}

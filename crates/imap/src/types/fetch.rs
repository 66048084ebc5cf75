//! FETCH attributes and their returned values (RFC 3501 §6.4.5, §7.4.2;
//! RFC 9051 §6.4.5, §7.5.2; RFC 3516 BINARY; RFC 7162 MODSEQ; RFC 8514
//! SAVEDATE; RFC 8474 EMAILID and THREADID).

use std::num::NonZeroU32;

use super::body::{BodyStructure, Envelope};
use super::core::{Atom, Binary, DateTime, IString, NString};
use super::flag::Flag;

/// `section-text` (and `section-msgtext`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SectionText<'a> {
    /// `HEADER`.
    Header,
    /// `HEADER.FIELDS (...)`.
    HeaderFields(Vec<IString<'a>>),
    /// `HEADER.FIELDS.NOT (...)`.
    HeaderFieldsNot(Vec<IString<'a>>),
    /// `TEXT`.
    Text,
    /// `MIME` (only after a part number).
    Mime,
}

/// `section = "[" [section-spec] "]"`: empty is the whole message.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Section<'a> {
    /// `section-part`: `1.2.3`, empty for the top level.
    pub part: Vec<NonZeroU32>,
    /// What of that part.
    pub text: Option<SectionText<'a>>,
}

/// A `<origin.length>` partial range in a FETCH command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Partial {
    /// First octet.
    pub origin: u32,
    /// Number of octets (non-zero).
    pub length: NonZeroU32,
}

/// `fetch-att`: what a FETCH command asks for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FetchAttr<'a> {
    /// `ENVELOPE`.
    Envelope,
    /// `FLAGS`.
    Flags,
    /// `INTERNALDATE`.
    InternalDate,
    /// `RFC822`.
    Rfc822,
    /// `RFC822.HEADER`.
    Rfc822Header,
    /// `RFC822.SIZE`.
    Rfc822Size,
    /// `RFC822.TEXT`.
    Rfc822Text,
    /// `BODY`.
    Body,
    /// `BODYSTRUCTURE`.
    BodyStructure,
    /// `UID`.
    Uid,
    /// `BODY[section]<partial>` or `BODY.PEEK[...]`.
    BodySection {
        /// `.PEEK`: do not set `\Seen`.
        peek: bool,
        /// The section.
        section: Section<'a>,
        /// The octet range.
        partial: Option<Partial>,
    },
    /// `BINARY[part]<partial>` or `BINARY.PEEK[...]` (RFC 3516).
    Binary {
        /// `.PEEK`.
        peek: bool,
        /// `section-binary`.
        part: Vec<NonZeroU32>,
        /// The octet range.
        partial: Option<Partial>,
    },
    /// `BINARY.SIZE[part]` (RFC 3516).
    BinarySize(Vec<NonZeroU32>),
    /// `MODSEQ` (RFC 7162).
    ModSeq,
    /// `PREVIEW` or `PREVIEW (LAZY)` (RFC 8970 §3): a short plain-text
    /// preview of the message. With `lazy` the server may answer NIL
    /// rather than compute one now.
    Preview {
        /// `(LAZY)` was given.
        lazy: bool,
    },
    /// `SAVEDATE` (RFC 8514 §4.2, `fetch-att =/ "SAVEDATE"` in §5): the
    /// date and time the message was saved in its current mailbox (§3),
    /// answered by [`FetchItem::SaveDate`]. Servers that support it
    /// advertise the `SAVEDATE` capability (§4.1).
    SaveDate,
    /// `EMAILID` (RFC 8474 §5.3, `fetch-att =/ "EMAILID"` in §7): the
    /// message's EMAILID, an object identifier of its content (§5.1),
    /// answered by [`FetchItem::EmailId`]. Servers that support it
    /// advertise the `OBJECTID` capability (§3).
    EmailId,
    /// `THREADID` (RFC 8474 §5.3, `fetch-att =/ "THREADID"` in §7): the
    /// message's THREADID, the object identifier of its thread (§5.2),
    /// answered by [`FetchItem::ThreadId`]. Servers that support it
    /// advertise the `OBJECTID` capability (§3).
    ThreadId,
    /// Another attribute by name (`X-GM-LABELS`, `ANNOTATION` ...).
    Other(Atom<'a>),
}

/// The FETCH attribute list: a macro or an explicit list.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FetchAttrs<'a> {
    /// `ALL` = `(FLAGS INTERNALDATE RFC822.SIZE ENVELOPE)`.
    All,
    /// `FAST` = `(FLAGS INTERNALDATE RFC822.SIZE)`.
    Fast,
    /// `FULL` = `(FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODY)`.
    Full,
    /// Explicit attributes (one is sent without parentheses).
    List(Vec<FetchAttr<'a>>),
}

/// A generic value of an attribute this crate does not know: enough to skip and
/// keep it (`X-GM-LABELS (...)`, `ANNOTATION (...)`, vendor items).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Value<'a> {
    /// `NIL`.
    Nil,
    /// A number.
    Number(u64),
    /// An atom.
    Atom(Atom<'a>),
    /// A flag-like `\name`; the atom is without the backslash.
    Flag(Atom<'a>),
    /// A quoted string or literal.
    String(IString<'a>),
    /// A parenthesized list.
    List(Vec<Value<'a>>),
}

/// `msg-att`: one returned attribute in a FETCH response.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FetchItem<'a> {
    /// `FLAGS (...)`.
    Flags(Vec<Flag<'a>>),
    /// `ENVELOPE (...)`.
    Envelope(Box<Envelope<'a>>),
    /// `INTERNALDATE "..."`.
    InternalDate(DateTime),
    /// `RFC822 nstring`.
    Rfc822(NString<'a>),
    /// `RFC822.HEADER nstring`.
    Rfc822Header(NString<'a>),
    /// `RFC822.TEXT nstring`.
    Rfc822Text(NString<'a>),
    /// `RFC822.SIZE n`.
    Rfc822Size(u64),
    /// `BODY (...)`: the non-extensible structure.
    Body(Box<BodyStructure<'a>>),
    /// `BODYSTRUCTURE (...)`.
    BodyStructure(Box<BodyStructure<'a>>),
    /// `BODY[section]<origin> nstring`.
    BodySection {
        /// The section.
        section: Section<'a>,
        /// Octet where the returned data starts.
        origin: Option<u32>,
        /// The data; literal bytes are sliced, never copied.
        data: NString<'a>,
    },
    /// `BINARY[part]<origin> (nstring / literal8)`.
    Binary {
        /// `section-binary`.
        part: Vec<NonZeroU32>,
        /// Start octet.
        origin: Option<u32>,
        /// The decoded data (`None` for NIL).
        data: Option<Binary<'a>>,
    },
    /// `BINARY.SIZE[part] n`.
    BinarySize {
        /// `section-binary`.
        part: Vec<NonZeroU32>,
        /// Decoded size.
        size: u64,
    },
    /// `UID n`.
    Uid(NonZeroU32),
    /// `MODSEQ (n)` (RFC 7162).
    ModSeq(u64),
    /// `PREVIEW nstring` (RFC 8970 §3): up to 256 characters of UTF-8
    /// text; NIL when none is available (yet).
    Preview(NString<'a>),
    /// `SAVEDATE (date-time / nil)` (RFC 8514 §4.2, `msg-att-static` in
    /// §5): when the message was saved in its current mailbox (§3).
    /// `None` is NIL: the mailbox's storage keeps no save dates, and then
    /// the answer is NIL for every message of it.
    SaveDate(Option<DateTime>),
    /// `EMAILID (objectid)` (RFC 8474 §5.3, `fetch-emailid-resp` in §7):
    /// the identifier of the message's content (§5.1). Messages with the
    /// same EMAILID have the same content, and a COPY or MOVE keeps it.
    ///
    /// A server must give a valid objectid (`1*255(ALPHA / DIGIT / "_" /
    /// "-")`, case-sensitive; check with [`is_object_id`]): the parser
    /// refuses any other, and the encoder writes the atom as it is.
    ///
    /// [`is_object_id`]: crate::is_object_id
    EmailId(Atom<'a>),
    /// `THREADID ("(" objectid ")" / nil)` (RFC 8474 §5.3,
    /// `fetch-threadid-resp` in §7): the identifier of the thread the
    /// message belongs to (§5.2). `None` is NIL: THREADID is OPTIONAL, and a
    /// server that does not keep threads answers NIL for every message.
    ///
    /// A server must give a valid objectid in `Some` (`1*255(ALPHA / DIGIT /
    /// "_" / "-")`, case-sensitive; check with [`is_object_id`]): the
    /// parser refuses any other, and the encoder writes the atom as it is.
    ///
    /// [`is_object_id`]: crate::is_object_id
    ThreadId(Option<Atom<'a>>),
    /// `X-GM-MSGID n` (Gmail).
    GmailMsgId(u64),
    /// `X-GM-THRID n` (Gmail).
    GmailThrId(u64),
    /// `X-GM-LABELS (...)` (Gmail): labels are astrings or flags.
    GmailLabels(Vec<Value<'a>>),
    /// Anything else, kept as a generic value.
    Other {
        /// Attribute name as sent.
        name: Atom<'a>,
        /// Its value.
        value: Value<'a>,
    },
}

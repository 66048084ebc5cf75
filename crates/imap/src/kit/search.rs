//! SEARCH evaluation (RFC 3501 §6.4.4, RFC 9051 §6.4.4, RFC 7162 §3.1.5
//! MODSEQ, RFC 5032 OLDER/YOUNGER, RFC 8514 §4.3 SAVEDBEFORE/SAVEDON/
//! SAVEDSINCE/SAVEDATESUPPORTED, RFC 8474 §6 EMAILID/THREADID) and ESEARCH
//! results (RFC 4731, RFC 9051 §7.3.4, RFC 5182 SAVE).
//!
//! A [`Query`] is compiled once from the command's keys (the search strings
//! decoded from the command's CHARSET and case-folded, the nesting depth
//! checked), then run per message over the [`MessageMeta`] the server keeps
//! and a [`LazyContent`] that parses the stored message only if a key needs
//! its content (HEADER, FROM, BODY, SENTON ...): a search on flags, dates,
//! sizes and sets never reads a message. The save date of RFC 8514 is
//! metadata too ([`MessageMeta::with_save_date`]); a mailbox that keeps
//! none leaves it `None`, and the SAVED* keys then use the INTERNALDATE.
//! So are the EMAILID and THREADID of RFC 8474
//! ([`MessageMeta::with_object_ids`]): the server assigns them, and a key
//! for an identifier the message does not have (`None`) never matches.
//!
//! ```
//! use mailwire_imap::kit::search::{Query, SearchContext, MessageMeta, LazyContent};
//! use mailwire_imap::kit::{mailbox::Flags, Message};
//! use mailwire_imap::{parse, CommandBody, Date, DateTime};
//!
//! let cmd = b"a SEARCH CHARSET UTF-8 OR SUBJECT {5}\r\ncaf\xc3\xa9 LARGER 1000 UNSEEN\r\n";
//! let (cmd, _) = parse::command(cmd).unwrap();
//! let CommandBody::Search { criteria, charset, .. } = cmd.body else { panic!() };
//! let query = Query::new(&criteria, charset.as_ref().map(|c| c.as_bytes())).unwrap();
//!
//! let raw = b"Subject: =?iso-8859-1?q?Caf=E9?=\r\n\r\nhi\r\n";
//! let flags = Flags::default();
//! let meta = MessageMeta {
//!     seq: 1, uid: 10, flags: &flags, recent: false, size: raw.len() as u64, modseq: 1,
//!     internal_date: DateTime::new(Date::new(2024, 5, 1).unwrap(), 12, 0, 0, 0).unwrap(),
//!     save_date: None, email_id: None, thread_id: None,
//! };
//! let ctx = SearchContext { max_seq: 1, max_uid: 10, saved: &[], now: 0 };
//! let mut content = LazyContent::new(|| Message::parse(&raw[..]));
//! assert!(query.matches(&ctx, &meta, &mut content));
//!
//! // RFC 8514 §4.3: the SAVED* keys compare the save date, or the
//! // INTERNALDATE where the mailbox keeps no save dates.
//! let (cmd, _) = parse::command(b"b SEARCH SAVEDSINCE 2-May-2024\r\n").unwrap();
//! let CommandBody::Search { criteria, .. } = cmd.body else { panic!() };
//! let query = Query::new(&criteria, None).unwrap();
//! let mut content = LazyContent::new(|| panic!("SAVEDSINCE reads no message"));
//! assert!(!query.matches(&ctx, &meta, &mut content));
//! let saved = DateTime::new(Date::new(2024, 5, 2).unwrap(), 8, 0, 0, 0).unwrap();
//! let meta = meta.with_save_date(Some(saved));
//! assert!(query.matches(&ctx, &meta, &mut content));
//!
//! // RFC 8474 §6: EMAILID and THREADID compare the server's identifiers,
//! // case-sensitively; a server without THREADIDs matches none (§5.2).
//! let (cmd, _) = parse::command(b"c SEARCH EMAILID M6d99ac3275bb4e\r\n").unwrap();
//! let CommandBody::Search { criteria, .. } = cmd.body else { panic!() };
//! let query = Query::new(&criteria, None).unwrap();
//! let mut content = LazyContent::new(|| panic!("EMAILID reads no message"));
//! assert!(!query.matches(&ctx, &meta, &mut content));
//! let meta = meta.with_object_ids(Some("M6d99ac3275bb4e"), None);
//! assert!(query.matches(&ctx, &meta, &mut content));
//! let meta = meta.with_object_ids(Some("m6d99ac3275bb4e"), None);
//! assert!(!query.matches(&ctx, &meta, &mut content));
//! ```

use std::borrow::Cow;

use super::Message;
use super::mailbox::{Entry, Flags, Mailbox, SystemFlags, compact_set, set_contains};
use crate::types::command::SearchReturn;
use crate::types::core::{Date, DateTime};
use crate::types::response::ESearchItem;
use crate::types::search::SearchKey;
use crate::types::sequence::SequenceSet;

/// Deepest nesting of NOT, OR and parentheses a [`Query`] accepts (the
/// codec's parser has the same bound; a query built by hand is checked too).
pub const MAX_DEPTH: usize = 64;

/// Why a SEARCH cannot be run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SearchError {
    /// The CHARSET is not known: answer `NO [BADCHARSET]` (RFC 9051 §6.4.4).
    #[error("unknown charset")]
    BadCharset,
    /// The keys nest deeper than [`MAX_DEPTH`].
    #[error("search keys nested too deeply")]
    TooDeep,
}

/// What the server knows about a message without reading it.
#[derive(Debug, Clone, Copy)]
pub struct MessageMeta<'a> {
    /// Message sequence number.
    pub seq: u32,
    /// UID.
    pub uid: u32,
    /// Flags and keywords.
    pub flags: &'a Flags,
    /// `\Recent` (IMAP4rev1).
    pub recent: bool,
    /// INTERNALDATE.
    pub internal_date: DateTime,
    /// RFC822.SIZE.
    pub size: u64,
    /// MODSEQ (RFC 7162).
    pub modseq: u64,
    /// The SAVEDATE of RFC 8514 (§3): when the message was saved in this
    /// mailbox (delivery, APPEND, COPY, MOVE); it does not change while
    /// the message stays here. `None` for every message of a mailbox whose
    /// storage keeps no save dates: SAVEDATESUPPORTED then matches nothing
    /// and SAVEDBEFORE, SAVEDON and SAVEDSINCE compare
    /// [`internal_date`](Self::internal_date) instead (§4.3).
    pub save_date: Option<DateTime>,
    /// The EMAILID of RFC 8474 (§5.1): the server's object identifier of
    /// the message's content, the same for messages with the same content
    /// and kept by COPY and MOVE. `EMAILID x` (§6) matches when this is
    /// `Some(x)`, byte for byte (objectids are case-sensitive, §7); `None`
    /// (no EMAILID kept for the message) never matches it.
    pub email_id: Option<&'a str>,
    /// The THREADID of RFC 8474 (§5.2): the object identifier of the
    /// message's thread. THREADID is OPTIONAL: `None` for every message of
    /// a server that keeps no threads, and then `THREADID x` (§6) MUST NOT
    /// match any message; with `Some(x)` it matches byte for byte.
    pub thread_id: Option<&'a str>,
}

impl<'a> MessageMeta<'a> {
    /// The metadata of a [`Mailbox`] entry with sequence number `seq`, with
    /// what the mailbox does not keep: the INTERNALDATE and the size. The
    /// save date is `None` (storage without save dates, RFC 8514 §4.3);
    /// give one with [`with_save_date`](Self::with_save_date). The EMAILID
    /// and THREADID are `None` too (no RFC 8474 identifiers, §5.1, §5.2);
    /// give them with [`with_object_ids`](Self::with_object_ids).
    pub fn of(seq: u32, entry: &'a Entry, internal_date: DateTime, size: u64) -> Self {
        Self {
            seq,
            uid: entry.uid.get(),
            flags: &entry.flags,
            recent: entry.recent,
            internal_date,
            size,
            modseq: entry.modseq,
            save_date: None,
            email_id: None,
            thread_id: None,
        }
    }

    /// The same metadata with the RFC 8514 save date (§3) set: `Some` when
    /// the mailbox's storage keeps save dates, `None` when it keeps none
    /// (the same for every message of the mailbox, §4.3).
    #[must_use]
    pub fn with_save_date(self, save_date: Option<DateTime>) -> Self {
        Self { save_date, ..self }
    }

    /// The same metadata with the RFC 8474 object identifiers set: the
    /// message's EMAILID (§5.1) and THREADID (§5.2), each `None` where the
    /// server keeps none (a server without threads gives `None` as the
    /// THREADID of every message). They are to be valid objectids
    /// ([`is_object_id`](crate::is_object_id)), as the server sends them
    /// in FETCH answers; a search compares them byte for byte.
    #[must_use]
    pub fn with_object_ids(self, email_id: Option<&'a str>, thread_id: Option<&'a str>) -> Self {
        Self {
            email_id,
            thread_id,
            ..self
        }
    }
}

/// Mailbox-wide values a search needs.
#[derive(Debug, Clone, Copy)]
pub struct SearchContext<'a> {
    /// The number of messages (`*` in a sequence set).
    pub max_seq: u32,
    /// The largest UID in use (`*` in a UID set).
    pub max_uid: u32,
    /// The saved result `$` (RFC 5182), as UIDs.
    pub saved: &'a [u32],
    /// The time now, in seconds since 1970 UTC (OLDER and YOUNGER).
    pub now: i64,
}

impl<'a> SearchContext<'a> {
    /// The context of a selected [`Mailbox`]: `*` from its size and its
    /// last UID, `$` its saved result.
    pub fn of(mailbox: &'a Mailbox, now: i64) -> Self {
        Self {
            max_seq: mailbox.len(),
            max_uid: mailbox.entries().last().map_or(0, |e| e.uid.get()),
            saved: mailbox.saved(),
            now,
        }
    }
}

/// A parsed message, loaded the first time a key needs it (or one the
/// server already holds).
pub struct LazyContent<'l> {
    load: Option<Box<dyn FnOnce() -> Message + 'l>>,
    borrowed: Option<&'l Message>,
    value: Option<Message>,
}

impl std::fmt::Debug for LazyContent<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LazyContent")
            .field("loaded", &self.is_loaded())
            .finish()
    }
}

impl<'l> LazyContent<'l> {
    /// Content that `load` produces on first use.
    pub fn new(load: impl FnOnce() -> Message + 'l) -> Self {
        Self {
            load: Some(Box::new(load)),
            borrowed: None,
            value: None,
        }
    }

    /// Content already parsed and owned.
    pub fn ready(message: Message) -> Self {
        Self {
            load: None,
            borrowed: None,
            value: Some(message),
        }
    }

    /// Content already parsed and held elsewhere (a cache).
    pub fn borrowed(message: &'l Message) -> Self {
        Self {
            load: None,
            borrowed: Some(message),
            value: None,
        }
    }

    /// Whether the message is at hand (was loaded, or was given).
    pub fn is_loaded(&self) -> bool {
        self.value.is_some() || self.borrowed.is_some()
    }

    pub(crate) fn get(&mut self) -> &Message {
        if let Some(m) = self.borrowed {
            return m;
        }
        let load = &mut self.load;
        self.value.get_or_insert_with(|| match load.take() {
            Some(f) => f(),
            None => Message::parse(bytes::Bytes::new()),
        })
    }
}

/// Which date a date key compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DateOf {
    /// INTERNALDATE (BEFORE, ON, SINCE).
    Internal,
    /// The Date: header (SENTBEFORE, SENTON, SENTSINCE).
    Sent,
    /// The save date, else INTERNALDATE (RFC 8514 §4.3: SAVEDBEFORE,
    /// SAVEDON, SAVEDSINCE).
    Saved,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmp {
    Before,
    On,
    Since,
}

/// A compiled search key.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Node {
    All,
    System(SystemFlags, bool),
    Keyword(String, bool),
    Recent(bool),
    New,
    Seq(SequenceSet),
    Uid(SequenceSet),
    Date(DateOf, Cmp, (u16, u8, u8)),
    Larger(u64),
    Smaller(u64),
    /// Field name, case-folded needle (empty: the field is present).
    Header(String, String),
    Body(String),
    Text(String),
    ModSeq(u64),
    Older(u32),
    Younger(u32),
    /// SAVEDATESUPPORTED (RFC 8514 §4.3).
    SaveDateSupported,
    /// EMAILID objectid (RFC 8474 §6).
    EmailId(String),
    /// THREADID objectid (RFC 8474 §6).
    ThreadId(String),
    Not(Box<Node>),
    Or(Box<Node>, Box<Node>),
    And(Vec<Node>),
}

/// A compiled SEARCH program: keys implicitly ANDed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    root: Node,
    uses_modseq: bool,
}

/// Case folding for `i;unicode-casemap`-like comparison (RFC 9051 §6.4.4:
/// "matching SHOULD be case insensitive"), with white space runs collapsed
/// to one space so folded header lines match as they read.
fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut space = false;
    for c in s.chars() {
        if c.is_whitespace() {
            space = true;
            continue;
        }
        if space && !out.is_empty() {
            out.push(' ');
        }
        space = false;
        if c.is_ascii() {
            out.push(c.to_ascii_lowercase());
        } else {
            out.extend(c.to_lowercase());
        }
    }
    if space && !out.is_empty() {
        out.push(' ');
    }
    out
}

impl Query {
    /// Compiles the keys of a SEARCH (or SORT/THREAD) command. `charset` is
    /// the command's CHARSET (US-ASCII when `None`); any WHATWG label is
    /// accepted, an unknown one is [`SearchError::BadCharset`].
    pub fn new(criteria: &[SearchKey<'_>], charset: Option<&[u8]>) -> Result<Self, SearchError> {
        let encoding = match charset {
            None => None,
            // WHATWG labels (US-ASCII among them, read as its superset windows-1252).
            Some(label) => {
                Some(encoding_rs::Encoding::for_label(label).ok_or(SearchError::BadCharset)?)
            }
        };
        let mut compiler = Compiler {
            encoding,
            uses_modseq: false,
        };
        let root = compiler.all(criteria, 0)?;
        Ok(Self {
            root,
            uses_modseq: compiler.uses_modseq,
        })
    }

    /// Whether a MODSEQ key was used: the result then carries the highest
    /// mod-sequence of the matching messages (RFC 7162 §3.1.5).
    pub fn uses_modseq(&self) -> bool {
        self.uses_modseq
    }

    /// Whether any key needs the message content.
    pub fn needs_content(&self) -> bool {
        self.any_key(&|n| {
            matches!(
                n,
                Node::Header(..) | Node::Body(_) | Node::Text(_) | Node::Date(DateOf::Sent, ..)
            )
        })
    }

    /// Whether a THREADID key (RFC 8474 §6) was used: a server that works
    /// its thread ids out on demand needs them in the
    /// [`MessageMeta::thread_id`]s of this search only.
    pub fn uses_thread_id(&self) -> bool {
        self.any_key(&|n| matches!(n, Node::ThreadId(_)))
    }

    /// Whether any key of the program (under NOT, OR and the implicit AND)
    /// is one `is` accepts.
    fn any_key(&self, is: &dyn Fn(&Node) -> bool) -> bool {
        fn walk(n: &Node, is: &dyn Fn(&Node) -> bool) -> bool {
            match n {
                Node::Not(a) => walk(a, is),
                Node::Or(a, b) => walk(a, is) || walk(b, is),
                Node::And(v) => v.iter().any(|n| walk(n, is)),
                n => is(n),
            }
        }
        walk(&self.root, is)
    }

    /// Whether the message matches.
    pub fn matches(
        &self,
        ctx: &SearchContext<'_>,
        meta: &MessageMeta<'_>,
        content: &mut LazyContent<'_>,
    ) -> bool {
        eval(&self.root, ctx, meta, content)
    }
}

struct Compiler {
    encoding: Option<&'static encoding_rs::Encoding>,
    uses_modseq: bool,
}

impl Compiler {
    fn all(&mut self, keys: &[SearchKey<'_>], depth: usize) -> Result<Node, SearchError> {
        let mut nodes = keys
            .iter()
            .map(|k| self.key(k, depth + 1))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(if nodes.len() == 1 {
            nodes.remove(0)
        } else {
            Node::And(nodes)
        })
    }

    fn text(&self, s: &[u8]) -> String {
        let decoded: Cow<'_, str> = match self.encoding {
            Some(e) => e.decode_without_bom_handling(s).0,
            None => String::from_utf8_lossy(s),
        };
        fold(&decoded)
    }

    fn key(&mut self, key: &SearchKey<'_>, depth: usize) -> Result<Node, SearchError> {
        if depth > MAX_DEPTH {
            return Err(SearchError::TooDeep);
        }
        let date = |d: &Date| (d.year(), d.month(), d.day());
        let header = |this: &Self, name: &str, v: &[u8]| Node::Header(name.into(), this.text(v));
        Ok(match key {
            SearchKey::All => Node::All,
            SearchKey::Answered => Node::System(SystemFlags::ANSWERED, true),
            SearchKey::Unanswered => Node::System(SystemFlags::ANSWERED, false),
            SearchKey::Deleted => Node::System(SystemFlags::DELETED, true),
            SearchKey::Undeleted => Node::System(SystemFlags::DELETED, false),
            SearchKey::Draft => Node::System(SystemFlags::DRAFT, true),
            SearchKey::Undraft => Node::System(SystemFlags::DRAFT, false),
            SearchKey::Flagged => Node::System(SystemFlags::FLAGGED, true),
            SearchKey::Unflagged => Node::System(SystemFlags::FLAGGED, false),
            SearchKey::Seen => Node::System(SystemFlags::SEEN, true),
            SearchKey::Unseen => Node::System(SystemFlags::SEEN, false),
            SearchKey::Keyword(k) => Node::Keyword(k.as_str().into(), true),
            SearchKey::Unkeyword(k) => Node::Keyword(k.as_str().into(), false),
            SearchKey::Recent => Node::Recent(true),
            SearchKey::Old => Node::Recent(false),
            SearchKey::New => Node::New,
            SearchKey::Before(d) => Node::Date(DateOf::Internal, Cmp::Before, date(d)),
            SearchKey::On(d) => Node::Date(DateOf::Internal, Cmp::On, date(d)),
            SearchKey::Since(d) => Node::Date(DateOf::Internal, Cmp::Since, date(d)),
            SearchKey::SentBefore(d) => Node::Date(DateOf::Sent, Cmp::Before, date(d)),
            SearchKey::SentOn(d) => Node::Date(DateOf::Sent, Cmp::On, date(d)),
            SearchKey::SentSince(d) => Node::Date(DateOf::Sent, Cmp::Since, date(d)),
            SearchKey::SavedBefore(d) => Node::Date(DateOf::Saved, Cmp::Before, date(d)),
            SearchKey::SavedOn(d) => Node::Date(DateOf::Saved, Cmp::On, date(d)),
            SearchKey::SavedSince(d) => Node::Date(DateOf::Saved, Cmp::Since, date(d)),
            SearchKey::SaveDateSupported => Node::SaveDateSupported,
            SearchKey::EmailId(id) => Node::EmailId(id.as_str().into()),
            SearchKey::ThreadId(id) => Node::ThreadId(id.as_str().into()),
            SearchKey::Larger(n) => Node::Larger(*n),
            SearchKey::Smaller(n) => Node::Smaller(*n),
            SearchKey::From(s) => header(self, "from", s.as_bytes()),
            SearchKey::To(s) => header(self, "to", s.as_bytes()),
            SearchKey::Cc(s) => header(self, "cc", s.as_bytes()),
            SearchKey::Bcc(s) => header(self, "bcc", s.as_bytes()),
            SearchKey::Subject(s) => header(self, "subject", s.as_bytes()),
            SearchKey::Header(name, s) => header(self, &name.to_string_lossy(), s.as_bytes()),
            SearchKey::Body(s) => Node::Body(self.text(s.as_bytes())),
            SearchKey::Text(s) => Node::Text(self.text(s.as_bytes())),
            SearchKey::Uid(set) => Node::Uid(set.clone()),
            SearchKey::SequenceSet(set) => Node::Seq(set.clone()),
            SearchKey::ModSeq { modseq, .. } => {
                // §3.1.5: a server that keeps no per-flag mod-sequences uses
                // the message's for every entry.
                self.uses_modseq = true;
                Node::ModSeq(*modseq)
            }
            SearchKey::Older(s) => Node::Older(*s),
            SearchKey::Younger(s) => Node::Younger(*s),
            SearchKey::Not(k) => Node::Not(Box::new(self.key(k, depth + 1)?)),
            SearchKey::Or(a, b) => Node::Or(
                Box::new(self.key(a, depth + 1)?),
                Box::new(self.key(b, depth + 1)?),
            ),
            SearchKey::And(keys) => self.all(keys, depth)?,
        })
    }
}

/// Seconds since 1970 UTC of an INTERNALDATE.
pub fn unix_time(d: &DateTime) -> i64 {
    let date = d.date();
    let (h, m, s) = d.time();
    // mailwire-message does the calendar arithmetic; a leap second counts as :59.
    mailwire_message::DateTime::new(
        date.year(),
        date.month(),
        date.day(),
        h,
        m,
        s.min(59),
        d.zone_minutes(),
    )
    .map_or(0, |t| t.unix_timestamp())
}

/// "Disregarding time and timezone" (RFC 9051 §6.4.4): the calendar date
/// as written in the date's own zone.
fn compare(day: (u16, u8, u8), cmp: Cmp, key: (u16, u8, u8)) -> bool {
    match cmp {
        Cmp::Before => day < key,
        Cmp::On => day == key,
        Cmp::Since => day >= key,
    }
}

fn eval(
    node: &Node,
    ctx: &SearchContext<'_>,
    meta: &MessageMeta<'_>,
    content: &mut LazyContent<'_>,
) -> bool {
    match node {
        Node::All => true,
        Node::System(bit, set) => meta.flags.system.contains(*bit) == *set,
        Node::Keyword(k, set) => meta.flags.has_keyword(k) == *set,
        Node::Recent(set) => meta.recent == *set,
        Node::New => meta.recent && !meta.flags.system.contains(SystemFlags::SEEN),
        Node::Seq(SequenceSet::Saved) | Node::Uid(SequenceSet::Saved) => {
            ctx.saved.contains(&meta.uid)
        }
        Node::Seq(set) => set_contains(set, meta.seq, ctx.max_seq),
        Node::Uid(set) => set_contains(set, meta.uid, ctx.max_uid),
        // INTERNALDATE's day in its own zone; the save date's the same way
        // (RFC 8514 §4.3), and where the storage keeps none, INTERNALDATE's
        // (a MUST there).
        Node::Date(of @ (DateOf::Internal | DateOf::Saved), cmp, key) => {
            let at = match (of, &meta.save_date) {
                (DateOf::Saved, Some(saved)) => saved,
                _ => &meta.internal_date,
            };
            let d = at.date();
            compare((d.year(), d.month(), d.day()), *cmp, *key)
        }
        // A missing or unparseable Date: is the earliest date (1 Jan
        // 1970, as Dovecot has it): before any date, so SENTBEFORE and
        // NOT SENTSINCE find it.
        Node::Date(DateOf::Sent, cmp, key) => {
            let day = content
                .get()
                .sent_date()
                .map_or((1970, 1, 1), |d| (d.year(), d.month(), d.day()));
            compare(day, *cmp, *key)
        }
        Node::Larger(n) => meta.size > *n,
        Node::Smaller(n) => meta.size < *n,
        Node::ModSeq(n) => meta.modseq >= *n,
        Node::Older(s) => ctx.now - unix_time(&meta.internal_date) >= i64::from(*s),
        Node::Younger(s) => ctx.now - unix_time(&meta.internal_date) <= i64::from(*s),
        // RFC 8514 §4.3: all messages where the storage keeps save dates,
        // none where it does not.
        Node::SaveDateSupported => meta.save_date.is_some(),
        // RFC 8474 §6: the identifier, byte for byte (objectids are
        // case-sensitive). A message without one never matches: a server
        // without THREADIDs MUST NOT match any message (§5.2).
        Node::EmailId(id) => meta.email_id == Some(id.as_str()),
        Node::ThreadId(id) => meta.thread_id == Some(id.as_str()),
        Node::Header(name, needle) => header_matches(content.get(), name, needle),
        Node::Body(needle) => body_matches(content.get(), needle),
        Node::Text(needle) => text_matches(content.get(), needle),
        Node::Not(a) => !eval(a, ctx, meta, content),
        Node::Or(a, b) => eval(a, ctx, meta, content) || eval(b, ctx, meta, content),
        Node::And(v) => v.iter().all(|n| eval(n, ctx, meta, content)),
    }
}

/// HEADER / FROM / SUBJECT ...: a field of that name whose value, unfolded
/// and with RFC 2047 words decoded, contains the needle; an empty needle
/// matches every message that has the field (RFC 9051 §6.4.4).
fn header_matches(m: &Message, name: &str, needle: &str) -> bool {
    m.field_values(name).any(|v| {
        needle.is_empty() || fold(&mailwire_message::decode_unstructured(v)).contains(needle)
    })
}

/// The body texts BODY searches: every leaf that is `text/*` or a
/// `message/*` kept as a leaf (message/partial, message/delivery-status
/// ...), transfer encoding removed and decoded from its charset (as
/// Dovecot searches; other types are binary and skipped).
fn body_texts(m: &Message) -> impl Iterator<Item = String> + '_ {
    m.parts().iter().filter_map(move |p| {
        let ty = p.mime.content_type.ty();
        if !p.is_leaf() || !(ty.eq_ignore_ascii_case("text") || ty.eq_ignore_ascii_case("message"))
        {
            return None;
        }
        let label = p.mime.content_type.charset();
        let body = m.decoded(p);
        let (text, _) =
            mailwire_mime::decode_text(label.as_deref().unwrap_or("us-ascii").as_bytes(), &body);
        Some(text.into_owned())
    })
}

/// BODY: a body text contains the needle.
fn body_matches(m: &Message, needle: &str) -> bool {
    needle.is_empty() || body_texts(m).any(|t| fold(&t).contains(needle))
}

/// TEXT: the header of the message or of any part (RFC 2047 words
/// decoded), or a body text, contains the needle.
fn text_matches(m: &Message, needle: &str) -> bool {
    needle.is_empty()
        || m.parts().iter().any(|p| {
            fold(&mailwire_message::decode_unstructured(&m.part_header(p))).contains(needle)
        })
        || body_matches(m, needle)
}

/// The numbers to return: UIDs for UID SEARCH, else sequence numbers,
/// ascending.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchResult {
    /// The matching numbers, ascending.
    pub numbers: Vec<u32>,
    /// The highest mod-sequence among the matches when the query used
    /// MODSEQ (RFC 7162 §3.1.5), else `None`.
    pub modseq: Option<u64>,
}

impl SearchResult {
    /// The `ESEARCH` items for `RETURN (options)` (RFC 4731 §3.1): no
    /// option (`RETURN ()`) means ALL; MIN, MAX and ALL are left out when
    /// nothing matched; COUNT is always given; PARTIAL (RFC 9394) gives the
    /// matches at its positions, NIL for none. SAVE is the caller's
    /// business ([`super::mailbox::Mailbox::save_result`]; with SAVE alone
    /// no ESEARCH response is sent, RFC 5182 §2.1).
    pub fn esearch_items(&self, options: &[SearchReturn]) -> Vec<ESearchItem<'static>> {
        let all_default = options.is_empty();
        let wants =
            |o: SearchReturn| options.contains(&o) || (all_default && o == SearchReturn::All);
        let mut out = Vec::new();
        if wants(SearchReturn::Min) {
            out.extend(self.numbers.first().map(|&n| ESearchItem::Min(n)));
        }
        if wants(SearchReturn::Max) {
            out.extend(self.numbers.last().map(|&n| ESearchItem::Max(n)));
        }
        if wants(SearchReturn::All) {
            out.extend(compact_set(&self.numbers).map(ESearchItem::All));
        }
        // RFC 9394 §3.1: the matches at the range's positions, NIL for none.
        for o in options {
            if let SearchReturn::Partial(range) = *o {
                let set = compact_set(&self.numbers[range.indices(self.numbers.len())]);
                out.push(ESearchItem::Partial { range, set });
            }
        }
        if wants(SearchReturn::Count) {
            out.push(ESearchItem::Count(
                u32::try_from(self.numbers.len()).unwrap_or(u32::MAX),
            ));
        }
        if let Some(m) = self.modseq.filter(|_| !self.numbers.is_empty()) {
            out.push(ESearchItem::ModSeq(m));
        }
        out
    }
}

/// Runs a query over messages in sequence order, each given as its
/// metadata and a loader of its content, and returns the matching numbers
/// (UIDs when `uid`).
pub fn search<'m, I>(query: &Query, ctx: &SearchContext<'_>, uid: bool, messages: I) -> SearchResult
where
    I: IntoIterator<Item = (MessageMeta<'m>, LazyContent<'m>)>,
{
    let mut out = SearchResult::default();
    for (meta, mut content) in messages {
        if query.matches(ctx, &meta, &mut content) {
            out.numbers.push(if uid { meta.uid } else { meta.seq });
            if query.uses_modseq {
                out.modseq = Some(out.modseq.unwrap_or(0).max(meta.modseq));
            }
        }
    }
    if uid {
        out.numbers.sort_unstable();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::flag::Flag;
    use proptest::prelude::*;

    pub(crate) struct Stored {
        pub raw: Vec<u8>,
        pub flags: Flags,
        pub recent: bool,
        pub date: DateTime,
        pub modseq: u64,
    }

    fn dt(y: u16, m: u8, d: u8, h: u8, zone: i16) -> DateTime {
        DateTime::new(Date::new(y, m, d).unwrap(), h, 0, 0, zone).unwrap()
    }

    fn lit(s: &str) -> String {
        format!("{{{}}}\r\n{s}", s.len())
    }

    fn keys(s: &str) -> Query {
        keys_bytes(s.as_bytes())
    }

    fn keys_bytes(s: &[u8]) -> Query {
        let cmd = [b"a SEARCH ", s, b"\r\n"].concat();
        let (c, _) = crate::parse::command(&cmd).unwrap();
        let crate::CommandBody::Search {
            criteria, charset, ..
        } = c.body
        else {
            panic!()
        };
        Query::new(&criteria, charset.as_ref().map(|c| c.as_bytes())).unwrap()
    }

    /// The EMAILIDs [`run`] gives the messages of [`sample`], in order.
    const EMAIL_IDS: [&str; 3] = ["M6d99ac3275bb4e", "M5fdc09b49ea703", "M5fdc09b49ea703"];
    /// Their THREADIDs: the second message has none.
    const THREAD_IDS: [Option<&str>; 3] = [Some("T64b478a75b7ea9"), None, Some("T64b478a75b7ea9")];

    fn run(q: &Query, msgs: &[Stored]) -> Vec<u32> {
        let ctx = SearchContext {
            max_seq: msgs.len() as u32,
            max_uid: msgs.len() as u32 * 10,
            saved: &[20],
            now: unix_time(&dt(2024, 6, 1, 0, 0)),
        };
        let iter = msgs.iter().enumerate().map(|(i, m)| {
            let meta = MessageMeta {
                seq: i as u32 + 1,
                uid: (i as u32 + 1) * 10,
                flags: &m.flags,
                recent: m.recent,
                internal_date: m.date,
                size: m.raw.len() as u64,
                modseq: m.modseq,
                save_date: None,
                email_id: None,
                thread_id: None,
            }
            .with_object_ids(
                EMAIL_IDS.get(i).copied(),
                THREAD_IDS.get(i).copied().flatten(),
            );
            let raw = m.raw.clone();
            (meta, LazyContent::new(move || Message::parse(raw)))
        });
        search(q, &ctx, false, iter).numbers
    }

    pub(crate) fn sample() -> Vec<Stored> {
        let f = |flags: &[Flag<'_>]| Flags::from_flags(flags);
        let kw = |k: &str| Flag::Keyword(crate::Atom::new(k.to_owned()).unwrap());
        vec![
            Stored {
                raw: b"From: Terry Gray <gray@cac.washington.edu>\r\nTo: imap@cac.washington.edu\r\n\
Subject: IMAP4rev1 WG mtg summary and minutes\r\nDate: Wed, 17 Jul 1996 02:23:25 -0700\r\n\r\n\
Hello Joe, do you think we can meet at 3:30 tomorrow?\r\n"
                    .to_vec(),
                flags: f(&[Flag::Seen, Flag::Answered]),
                recent: false,
                date: dt(1996, 7, 17, 9, 0),
                modseq: 5,
            },
            Stored {
                raw: b"From: =?iso-8859-1?q?Andr=E9?= Pirard <pirard@vm1.ulg.ac.be>\r\n\
Subject: =?ISO-8859-1?B?SWYgeW91IGNhbiByZWFkIHRoaXMgeW8=?=\r\n =?ISO-8859-2?B?dSB1bmRlcnN0YW5kIHRoZSBleGFtcGxlLg==?=\r\n\
Cc: Keld <keld@dkuug.dk>\r\nX-Mailer: test\r\nDate: Thu, 1 Feb 2001 23:30:00 -0500\r\n\
Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
D=E9j=E0 vu: the caf=E9 is open\r\n"
                    .to_vec(),
                flags: f(&[Flag::Flagged, kw("$Forwarded")]),
                recent: true,
                date: dt(2001, 2, 2, 4, 30),
                modseq: 9,
            },
            Stored {
                raw: b"Subject: no date here\r\nBcc: secret@example.org\r\n\
Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/html; charset=utf-8\r\n\
Content-Transfer-Encoding: base64\r\n\r\nPHA+R3LDvMOfZTwvcD4=\r\n--b\r\nContent-Type: application/octet-stream\r\n\r\nneedle\r\n--b--\r\n"
                    .to_vec(),
                flags: f(&[Flag::Deleted, Flag::Draft]),
                recent: true,
                date: dt(2024, 5, 31, 23, 120),
                modseq: 3,
            },
        ]
    }

    #[test]
    fn rfc3501_6_4_4_examples() {
        let m = sample();
        // "SEARCH FLAGGED SINCE 1-Feb-1994 NOT FROM "Smith""
        assert_eq!(
            run(&keys("FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\""), &m),
            vec![2]
        );
        // "SEARCH TEXT "string not in mailbox""
        assert!(run(&keys("TEXT \"string not in mailbox\""), &m).is_empty());
        // RFC 9051 §6.4.4: "SEARCH OR FROM "gray" CC "keld" ..."
        assert_eq!(run(&keys("OR FROM gray CC keld"), &m), vec![1, 2]);
    }

    #[test]
    fn flags_and_sets() {
        let m = sample();
        assert_eq!(run(&keys("ANSWERED"), &m), vec![1]);
        assert_eq!(run(&keys("UNANSWERED"), &m), vec![2, 3]);
        assert_eq!(run(&keys("DELETED DRAFT"), &m), vec![3]);
        assert_eq!(run(&keys("UNDELETED UNDRAFT UNFLAGGED"), &m), vec![1]);
        assert_eq!(run(&keys("SEEN"), &m), vec![1]);
        assert_eq!(run(&keys("UNSEEN"), &m), vec![2, 3]);
        assert_eq!(run(&keys("KEYWORD $forwarded"), &m), vec![2]);
        assert_eq!(run(&keys("UNKEYWORD $Forwarded"), &m), vec![1, 3]);
        assert_eq!(run(&keys("RECENT"), &m), vec![2, 3]);
        assert_eq!(run(&keys("NEW"), &m), vec![2, 3]);
        assert_eq!(run(&keys("OLD"), &m), vec![1]);
        assert_eq!(run(&keys("2:*"), &m), vec![2, 3]);
        assert_eq!(run(&keys("*"), &m), vec![3]);
        assert_eq!(run(&keys("UID 20,30:25"), &m), vec![2, 3]);
        assert_eq!(run(&keys("UID 31:*"), &m), vec![3]); // * = 30
        assert_eq!(run(&keys("$"), &m), vec![2]);
        assert_eq!(run(&keys("UID $"), &m), vec![2]);
        assert_eq!(run(&keys("MODSEQ 5"), &m), vec![1, 2]);
        assert_eq!(run(&keys("MODSEQ \"/flags/\\\\draft\" all 9"), &m), vec![2]);
        assert_eq!(run(&keys("ALL"), &m), vec![1, 2, 3]);
        assert_eq!(run(&keys("(SEEN (ANSWERED))"), &m), vec![1]);
    }

    #[test]
    fn dates_and_sizes() {
        let m = sample();
        // Internal date in its own zone: message 3 is 2024-05-31 23:00 +0200.
        assert_eq!(run(&keys("ON 31-May-2024"), &m), vec![3]);
        assert_eq!(run(&keys("BEFORE 2-Feb-2001"), &m), vec![1]);
        assert_eq!(run(&keys("SINCE 2-Feb-2001"), &m), vec![2, 3]);
        // Date: header in its own zone (not UTC: 1 Feb 2001 23:30 -0500).
        assert_eq!(run(&keys("SENTON 1-Feb-2001"), &m), vec![2]);
        assert_eq!(run(&keys("SENTBEFORE 1-Feb-2001"), &m), vec![1, 3]);
        assert_eq!(run(&keys("SENTSINCE 17-Jul-1996"), &m), vec![1, 2]);
        // No Date: the earliest date.
        assert_eq!(run(&keys("SENTBEFORE 2-Jan-1970"), &m), vec![3]);
        assert_eq!(run(&keys("NOT SENTSINCE 2-Jan-1970"), &m), vec![3]);
        assert_eq!(run(&keys("SENTON 1-Jan-1970"), &m), vec![3]);
        let size = m[0].raw.len() as u64;
        assert!(run(&keys(&format!("LARGER {}", size - 1)), &m).contains(&1));
        assert!(!run(&keys(&format!("LARGER {size}")), &m).contains(&1));
        assert!(run(&keys(&format!("SMALLER {}", size + 1)), &m).contains(&1));
        assert!(!run(&keys(&format!("SMALLER {size}")), &m).contains(&1));
        // now = 2024-06-01 00:00 UTC; message 3 arrived 2024-05-31 21:00 UTC.
        assert_eq!(run(&keys("YOUNGER 10800"), &m), vec![3]);
        assert_eq!(run(&keys("YOUNGER 10799"), &m), Vec::<u32>::new());
        assert_eq!(run(&keys("OLDER 10800"), &m), vec![1, 2, 3]);
        assert_eq!(run(&keys("OLDER 10801"), &m), vec![1, 2]);
    }

    #[test]
    fn content_keys() {
        let m = sample();
        assert_eq!(run(&keys(&format!("FROM {}", lit("andré"))), &m), vec![2]);
        assert_eq!(run(&keys(&format!("FROM {}", lit("ANDRÉ"))), &m), vec![2]);
        assert_eq!(run(&keys("FROM PIRARD@vm1"), &m), vec![2]);
        // A subject folded over two encoded words in two charsets.
        assert_eq!(run(&keys("SUBJECT \"you understand the\""), &m), vec![2]);
        assert_eq!(run(&keys("TO imap"), &m), vec![1]);
        assert_eq!(run(&keys("BCC secret"), &m), vec![3]);
        assert_eq!(run(&keys("HEADER X-Mailer \"\""), &m), vec![2]);
        assert_eq!(run(&keys("HEADER x-mailer TEST"), &m), vec![2]);
        assert_eq!(run(&keys("HEADER Date \"\""), &m), vec![1, 2]);
        // Body text decoded from quoted-printable Latin-1 and base64 UTF-8.
        assert_eq!(run(&keys(&format!("BODY {}", lit("déjà vu"))), &m), vec![2]);
        assert_eq!(
            run(&keys(&format!("BODY {}", lit("GRÜSSE"))), &m),
            Vec::<u32>::new()
        );
        assert_eq!(run(&keys(&format!("BODY {}", lit("grüße"))), &m), vec![3]);
        // Non-text parts are not searched.
        assert_eq!(run(&keys("BODY needle"), &m), Vec::<u32>::new());
        // BODY does not search the header; TEXT does.
        assert_eq!(run(&keys("BODY Terry"), &m), Vec::<u32>::new());
        assert_eq!(run(&keys("TEXT terry"), &m), vec![1]);
        assert_eq!(run(&keys("TEXT joe"), &m), vec![1]);
        // The CHARSET of the command decodes the search string.
        assert_eq!(
            run(&keys_bytes(b"CHARSET ISO-8859-1 BODY {4}\r\ncaf\xe9"), &m),
            vec![2]
        );
    }

    #[test]
    fn bad_charset_and_depth() {
        let key = [SearchKey::All];
        assert_eq!(
            Query::new(&key, Some(b"x-nope")),
            Err(SearchError::BadCharset)
        );
        assert!(Query::new(&key, Some(b"US-ASCII")).is_ok());
        let mut deep = SearchKey::All;
        for _ in 0..=MAX_DEPTH {
            deep = SearchKey::Not(Box::new(deep));
        }
        assert_eq!(Query::new(&[deep], None), Err(SearchError::TooDeep));
    }

    #[test]
    fn content_is_loaded_only_when_needed() {
        let flags = Flags::default();
        let meta = MessageMeta {
            seq: 1,
            uid: 1,
            flags: &flags,
            recent: false,
            internal_date: dt(2020, 1, 1, 0, 0),
            size: 10,
            modseq: 1,
            save_date: None,
            email_id: None,
            thread_id: None,
        };
        let ctx = SearchContext {
            max_seq: 1,
            max_uid: 1,
            saved: &[],
            now: 0,
        };
        let q = keys("UNSEEN LARGER 5 SINCE 1-Jan-2019");
        assert!(!q.needs_content());
        let mut c = LazyContent::new(|| panic!("loaded"));
        assert!(q.matches(&ctx, &meta, &mut c));
        let q = keys("SEEN SUBJECT x");
        assert!(q.needs_content());
        assert!(!q.matches(&ctx, &meta, &mut c));
        assert!(!c.is_loaded());
    }

    /// A THREADID key is found wherever it sits in the program; the
    /// EMAILID key, which looks the same, is not one.
    #[test]
    fn uses_thread_id_finds_the_key_anywhere() {
        for k in [
            "THREADID T1",
            "SEEN THREADID T1",
            "NOT THREADID T1",
            "OR SEEN (UNSEEN NOT THREADID T1)",
        ] {
            assert!(keys(k).uses_thread_id(), "{k}");
            assert!(!keys(k).needs_content(), "{k}");
        }
        for k in ["EMAILID T1", "OR SEEN SUBJECT T1", "ALL"] {
            assert!(!keys(k).uses_thread_id(), "{k}");
        }
    }

    /// Four dates to compare against 28 Dec 2014, on either side of that
    /// day's two boundaries, three of them in a zone that puts them on
    /// another day in UTC (the day counts as written, in its own zone).
    fn day_boundaries() -> [DateTime; 4] {
        let at = |d, h, m, s, zone| {
            DateTime::new(Date::new(2014, 12, d).unwrap(), h, m, s, zone).unwrap()
        };
        [
            at(27, 23, 59, 59, -60),  // 28 Dec 00:59 UTC, but the 27th
            at(28, 0, 0, 0, 60),      // 27 Dec 23:00 UTC, but the 28th
            at(28, 23, 59, 59, -300), // 29 Dec 04:59 UTC, but the 28th
            at(29, 0, 0, 0, 0),
        ]
    }

    /// The matching sequence numbers of messages with these INTERNALDATEs
    /// and save dates. No key here may read a message.
    fn run_saved(q: &Query, dates: &[(DateTime, Option<DateTime>)]) -> Vec<u32> {
        assert!(!q.needs_content());
        let flags = Flags::default();
        let ctx = SearchContext {
            max_seq: dates.len() as u32,
            max_uid: dates.len() as u32,
            saved: &[],
            now: 0,
        };
        let iter = dates.iter().enumerate().map(|(i, &(internal_date, save))| {
            let meta = MessageMeta {
                seq: i as u32 + 1,
                uid: i as u32 + 1,
                flags: &flags,
                recent: false,
                internal_date,
                size: 1,
                modseq: 1,
                save_date: None,
                email_id: None,
                thread_id: None,
            }
            .with_save_date(save);
            (meta, LazyContent::new(|| panic!("content loaded")))
        });
        search(q, &ctx, false, iter).numbers
    }

    /// RFC 8514 §4.3: SAVEDBEFORE, SAVEDON and SAVEDSINCE compare the save
    /// date's day as written in its own zone (as BEFORE, ON and SINCE
    /// compare INTERNALDATE's), never the INTERNALDATE when there is a
    /// save date; SAVEDATESUPPORTED matches every such message.
    #[test]
    fn rfc8514_4_3_saved_keys_with_save_dates() {
        // INTERNALDATEs a year away from the save dates, so that reading
        // the wrong date gives other answers.
        let long_ago = DateTime::new(Date::new(2013, 12, 28).unwrap(), 12, 0, 0, 0).unwrap();
        let m: Vec<_> = day_boundaries()
            .into_iter()
            .map(|d| (long_ago, Some(d)))
            .collect();
        assert_eq!(run_saved(&keys("SAVEDBEFORE 28-Dec-2014"), &m), vec![1]);
        assert_eq!(run_saved(&keys("SAVEDON 28-Dec-2014"), &m), vec![2, 3]);
        assert_eq!(
            run_saved(&keys("SAVEDSINCE 28-Dec-2014"), &m),
            vec![2, 3, 4]
        );
        assert_eq!(run_saved(&keys("SAVEDON 27-Dec-2014"), &m), vec![1]);
        assert_eq!(run_saved(&keys("SAVEDON 29-Dec-2014"), &m), vec![4]);
        assert_eq!(
            run_saved(&keys("SAVEDBEFORE 29-Dec-2014"), &m),
            vec![1, 2, 3]
        );
        assert_eq!(run_saved(&keys("SAVEDSINCE 29-Dec-2014"), &m), vec![4]);
        assert_eq!(
            run_saved(&keys("savedsince 1-Jan-2015"), &m),
            Vec::<u32>::new()
        );
        assert_eq!(run_saved(&keys("SAVEDATESUPPORTED"), &m), vec![1, 2, 3, 4]);
        assert_eq!(
            run_saved(&keys("NOT SAVEDATESUPPORTED"), &m),
            Vec::<u32>::new()
        );
        // The INTERNALDATE keys still read the INTERNALDATE.
        assert_eq!(run_saved(&keys("ON 28-Dec-2013"), &m), vec![1, 2, 3, 4]);
        assert_eq!(
            run_saved(&keys("SAVEDON 28-Dec-2013"), &m),
            Vec::<u32>::new()
        );
    }

    /// RFC 8514 §4.3: where the storage keeps no save dates, SAVEDBEFORE,
    /// SAVEDON and SAVEDSINCE MUST use the INTERNALDATE (the same answers
    /// as BEFORE, ON and SINCE), and SAVEDATESUPPORTED matches nothing.
    #[test]
    fn rfc8514_4_3_saved_keys_without_save_dates() {
        let m: Vec<_> = day_boundaries().into_iter().map(|d| (d, None)).collect();
        for (saved, internal, want) in [
            ("SAVEDBEFORE 28-Dec-2014", "BEFORE 28-Dec-2014", vec![1]),
            ("SAVEDON 28-Dec-2014", "ON 28-Dec-2014", vec![2, 3]),
            ("SAVEDSINCE 28-Dec-2014", "SINCE 28-Dec-2014", vec![2, 3, 4]),
            ("SAVEDON 29-Dec-2014", "ON 29-Dec-2014", vec![4]),
            (
                "SAVEDBEFORE 29-Dec-2014",
                "BEFORE 29-Dec-2014",
                vec![1, 2, 3],
            ),
        ] {
            assert_eq!(run_saved(&keys(saved), &m), want, "{saved}");
            assert_eq!(run_saved(&keys(internal), &m), want, "{internal}");
        }
        assert_eq!(run_saved(&keys("SAVEDATESUPPORTED"), &m), Vec::<u32>::new());
        assert_eq!(
            run_saved(&keys("NOT SAVEDATESUPPORTED"), &m),
            vec![1, 2, 3, 4]
        );
        // MessageMeta::of keeps no save date.
        let mut mailbox = Mailbox::new(1, false);
        assert_eq!(mailbox.append(Flags::default(), false), Some((1, 1)));
        let meta = MessageMeta::of(1, &mailbox.entries()[0], m[0].0, 1);
        assert_eq!(meta.save_date, None);
        let ctx = SearchContext::of(&mailbox, 0);
        let mut c = LazyContent::new(|| panic!("content loaded"));
        assert!(keys("SAVEDBEFORE 28-Dec-2014").matches(&ctx, &meta, &mut c));
        assert!(!keys("SAVEDATESUPPORTED").matches(&ctx, &meta, &mut c));
        let meta = meta.with_save_date(Some(m[3].0));
        assert_eq!(meta.save_date, Some(m[3].0));
        assert!(!keys("SAVEDBEFORE 28-Dec-2014").matches(&ctx, &meta, &mut c));
        assert!(keys("SAVEDATESUPPORTED").matches(&ctx, &meta, &mut c));
    }

    /// The matching sequence numbers of messages with these EMAILIDs and
    /// THREADIDs (RFC 8474), every other value alike. No key here may read
    /// a message.
    fn run_ids(q: &Query, ids: &[(Option<&str>, Option<&str>)]) -> Vec<u32> {
        assert!(!q.needs_content());
        let flags = Flags::default();
        let ctx = SearchContext {
            max_seq: ids.len() as u32,
            max_uid: ids.len() as u32,
            saved: &[],
            now: 0,
        };
        let iter = ids.iter().enumerate().map(|(i, &(email_id, thread_id))| {
            let meta = MessageMeta {
                seq: i as u32 + 1,
                uid: i as u32 + 1,
                flags: &flags,
                recent: false,
                internal_date: dt(2018, 3, 20, 3, 660),
                size: 1,
                modseq: 1,
                save_date: None,
                email_id: None,
                thread_id: None,
            }
            .with_object_ids(email_id, thread_id);
            (meta, LazyContent::new(|| panic!("content loaded")))
        });
        search(q, &ctx, false, iter).numbers
    }

    /// RFC 8474 §6's examples, `SEARCH EMAILID M6d99ac3275bb4e` and
    /// `SEARCH THREADID T64b478a75b7ea9`, over messages with §5.3's
    /// identifiers: a match is the identifier byte for byte (case
    /// significant, no prefix), a copy shares its original's EMAILID
    /// (§5.1), and a message without the identifier never matches.
    #[test]
    fn rfc8474_6_emailid_threadid_search() {
        let none = Vec::<u32>::new();
        let m = [
            (Some("M6d99ac3275bb4e"), Some("T64b478a75b7ea9")),
            (Some("M5fdc09b49ea703"), None),
            // A copy of the first: the same EMAILID (§5.1).
            (Some("M6d99ac3275bb4e"), Some("T64b478a75b7ea9")),
            (None, Some("T64b478a75b7ea9")),
            // The same letters in another case: other identifiers.
            (Some("m6d99ac3275bb4e"), Some("t64b478a75b7ea9")),
        ];
        assert_eq!(run_ids(&keys("EMAILID M6d99ac3275bb4e"), &m), vec![1, 3]);
        assert_eq!(run_ids(&keys("emailid M6d99ac3275bb4e"), &m), vec![1, 3]);
        assert_eq!(run_ids(&keys("EMAILID m6d99ac3275bb4e"), &m), vec![5]);
        assert_eq!(run_ids(&keys("EMAILID M5fdc09b49ea703"), &m), vec![2]);
        assert_eq!(run_ids(&keys("EMAILID M6d99ac3275bb4"), &m), none);
        assert_eq!(run_ids(&keys("EMAILID M6d99ac3275bb4eX"), &m), none);
        assert_eq!(
            run_ids(&keys("THREADID T64b478a75b7ea9"), &m),
            vec![1, 3, 4]
        );
        assert_eq!(run_ids(&keys("threadid t64b478a75b7ea9"), &m), vec![5]);
        // An EMAILID is not a THREADID, nor the reverse.
        assert_eq!(run_ids(&keys("THREADID M6d99ac3275bb4e"), &m), none);
        assert_eq!(run_ids(&keys("EMAILID T64b478a75b7ea9"), &m), none);
        // With the other keys: NOT is the complement, OR the union.
        assert_eq!(
            run_ids(&keys("NOT EMAILID M6d99ac3275bb4e"), &m),
            vec![2, 4, 5]
        );
        assert_eq!(
            run_ids(&keys("NOT THREADID T64b478a75b7ea9"), &m),
            vec![2, 5]
        );
        assert_eq!(
            run_ids(
                &keys("OR EMAILID M5fdc09b49ea703 THREADID T64b478a75b7ea9"),
                &m
            ),
            vec![1, 2, 3, 4]
        );
        assert_eq!(
            run_ids(
                &keys("EMAILID M6d99ac3275bb4e THREADID T64b478a75b7ea9 2:*"),
                &m
            ),
            vec![3]
        );
    }

    /// RFC 8474 §5.2: THREADID is OPTIONAL, and a server that keeps no
    /// threads MUST NOT match any message with SEARCH THREADID, whatever
    /// the identifier; EMAILID still works. `MessageMeta::of` keeps no
    /// identifiers, so neither key matches until `with_object_ids`.
    #[test]
    fn rfc8474_5_2_threadid_without_threads() {
        let m = [
            (Some("M6d99ac3275bb4e"), None),
            (Some("M5fdc09b49ea703"), None),
            (None, None),
        ];
        for id in ["T64b478a75b7ea9", "M6d99ac3275bb4e", "NIL", "_", "-", "0"] {
            let q = keys(&format!("THREADID {id}"));
            assert_eq!(run_ids(&q, &m), Vec::<u32>::new(), "THREADID {id}");
            let q = keys(&format!("NOT THREADID {id}"));
            assert_eq!(run_ids(&q, &m), vec![1, 2, 3], "NOT THREADID {id}");
        }
        assert_eq!(run_ids(&keys("EMAILID M5fdc09b49ea703"), &m), vec![2]);

        let mut mailbox = Mailbox::new(1, false);
        assert_eq!(mailbox.append(Flags::default(), false), Some((1, 1)));
        let meta = MessageMeta::of(1, &mailbox.entries()[0], dt(2018, 3, 20, 3, 660), 1);
        assert_eq!((meta.email_id, meta.thread_id), (None, None));
        let ctx = SearchContext::of(&mailbox, 0);
        let mut c = LazyContent::new(|| panic!("content loaded"));
        let email = keys("EMAILID M6d99ac3275bb4e");
        let thread = keys("THREADID T64b478a75b7ea9");
        assert!(!email.matches(&ctx, &meta, &mut c));
        assert!(!thread.matches(&ctx, &meta, &mut c));
        let meta = meta.with_object_ids(Some("M6d99ac3275bb4e"), Some("T64b478a75b7ea9"));
        assert_eq!(meta.email_id, Some("M6d99ac3275bb4e"));
        assert_eq!(meta.thread_id, Some("T64b478a75b7ea9"));
        assert!(email.matches(&ctx, &meta, &mut c));
        assert!(thread.matches(&ctx, &meta, &mut c));
        let meta = meta.with_object_ids(Some("M6d99ac3275bb4e"), None);
        assert!(email.matches(&ctx, &meta, &mut c));
        assert!(!thread.matches(&ctx, &meta, &mut c));
        // The save date is left as it was.
        assert_eq!(meta.save_date, None);
        assert!(!c.is_loaded());
    }

    /// RFC 9394 §3.1: PARTIAL from the start and from the end, either
    /// order of the ends, past the result, and NIL when nothing matched.
    #[test]
    fn rfc9394_3_1_partial() {
        use crate::types::command::PartialRange;
        let n = |v| std::num::NonZeroU32::new(v).unwrap();
        let r = SearchResult {
            numbers: vec![2, 10, 11, 12, 43, 50],
            modseq: None,
        };
        let partial = |from_end, first, last| {
            let range = PartialRange {
                from_end,
                first: n(first),
                last: n(last),
            };
            match &r.esearch_items(&[SearchReturn::Partial(range)])[..] {
                [ESearchItem::Partial { range: back, set }] => {
                    assert_eq!(*back, range);
                    set.clone()
                }
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(partial(false, 1, 3), compact_set(&[2, 10, 11]));
        assert_eq!(partial(false, 3, 1), compact_set(&[2, 10, 11]));
        assert_eq!(partial(true, 1, 2), compact_set(&[43, 50]));
        assert_eq!(partial(true, 2, 1), compact_set(&[43, 50]));
        assert_eq!(partial(false, 5, 100), compact_set(&[43, 50]));
        assert_eq!(partial(true, 5, 100), compact_set(&[2, 10]));
        assert_eq!(partial(false, 7, 9), None);
        assert_eq!(partial(true, 7, 9), None);
        let none = SearchResult::default();
        let range = PartialRange {
            from_end: false,
            first: n(1),
            last: n(10),
        };
        assert_eq!(
            none.esearch_items(&[SearchReturn::Partial(range), SearchReturn::Count]),
            vec![
                ESearchItem::Partial { range, set: None },
                ESearchItem::Count(0)
            ]
        );
    }

    #[test]
    fn rfc4731_esearch_items() {
        let r = SearchResult {
            numbers: vec![2, 10, 11, 12, 43],
            modseq: None,
        };
        assert_eq!(
            r.esearch_items(&[SearchReturn::Min, SearchReturn::Count]),
            vec![ESearchItem::Min(2), ESearchItem::Count(5)]
        );
        let all = r.esearch_items(&[]);
        let set = compact_set(&[2, 10, 11, 12, 43]).unwrap();
        assert_eq!(all, vec![ESearchItem::All(set)]);
        let none = SearchResult::default();
        assert_eq!(
            none.esearch_items(&[
                SearchReturn::Min,
                SearchReturn::Max,
                SearchReturn::All,
                SearchReturn::Count
            ]),
            vec![ESearchItem::Count(0)]
        );
        let m = SearchResult {
            numbers: vec![1],
            modseq: Some(7),
        };
        assert_eq!(
            m.esearch_items(&[SearchReturn::Max]),
            vec![ESearchItem::Max(1), ESearchItem::ModSeq(7)]
        );
        // RFC 7162 §3.1.5: MODSEQ rides along the SEARCH that used it.
        let q = keys("MODSEQ 4");
        let out = search(
            &q,
            &SearchContext {
                max_seq: 3,
                max_uid: 30,
                saved: &[],
                now: 0,
            },
            true,
            sample().iter().enumerate().map(|(i, s)| {
                (
                    MessageMeta {
                        seq: i as u32 + 1,
                        uid: i as u32 * 10 + 10,
                        flags: &s.flags,
                        recent: s.recent,
                        internal_date: s.date,
                        size: 1,
                        modseq: s.modseq,
                        save_date: None,
                        email_id: None,
                        thread_id: None,
                    },
                    LazyContent::new(|| Message::parse(bytes::Bytes::new())),
                )
            }),
        );
        assert_eq!(
            out,
            SearchResult {
                numbers: vec![10, 20],
                modseq: Some(9)
            }
        );
    }

    fn arb_key() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            Just("SEEN".to_string()),
            Just("FLAGGED".to_string()),
            Just("RECENT".to_string()),
            Just("KEYWORD $Forwarded".to_string()),
            (1u32..4).prop_map(|n| format!("{n}:*")),
            (1u32..40).prop_map(|n| format!("UID {n}")),
            (0u64..600).prop_map(|n| format!("LARGER {n}")),
            Just("SINCE 1-Jan-2000".to_string()),
            Just("SENTBEFORE 1-Jan-2000".to_string()),
            Just("FROM pirard".to_string()),
            Just("BODY caf".to_string()),
            Just("HEADER bcc \"\"".to_string()),
            (0u64..10).prop_map(|n| format!("MODSEQ {n}")),
            Just("EMAILID M5fdc09b49ea703".to_string()),
            Just("THREADID T64b478a75b7ea9".to_string()),
        ];
        leaf.prop_recursive(4, 16, 2, |inner| {
            prop_oneof![
                inner.clone().prop_map(|k| format!("NOT {k}")),
                (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("OR {a} {b}")),
                (inner.clone(), inner).prop_map(|(a, b)| format!("({a} {b})")),
            ]
        })
    }

    proptest! {
        /// NOT k is the complement of k; OR is the union; AND the intersection.
        #[test]
        fn boolean_laws(a in arb_key(), b in arb_key()) {
            let m = sample();
            let all: Vec<u32> = vec![1, 2, 3];
            let ra = run(&keys(&a), &m);
            let rb = run(&keys(&b), &m);
            let not_a = run(&keys(&format!("NOT {a}")), &m);
            prop_assert_eq!(not_a, all.iter().copied().filter(|n| !ra.contains(n)).collect::<Vec<_>>());
            let or = run(&keys(&format!("OR {a} {b}")), &m);
            prop_assert_eq!(or, all.iter().copied().filter(|n| ra.contains(n) || rb.contains(n)).collect::<Vec<_>>());
            let and = run(&keys(&format!("{a} {b}")), &m);
            prop_assert_eq!(and, all.iter().copied().filter(|n| ra.contains(n) && rb.contains(n)).collect::<Vec<_>>());
        }
    }
}

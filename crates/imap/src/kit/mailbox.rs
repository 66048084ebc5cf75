//! Mailbox bookkeeping for a server: the sequence-number/UID map with EXPUNGE
//! renumbering (RFC 9051 §2.3.1), sequence and UID sets, flags and keywords
//! (RFC 9051 §2.3.2), `\Recent` (RFC 3501 §2.3.2) and mod-sequences for
//! CONDSTORE/QRESYNC (RFC 7162).
//!
//! A [`Mailbox`] holds one entry per message, in UID order, so a sequence
//! number is an index plus one and a UID is found by binary search: every
//! lookup is O(log n), one EXPUNGE of k messages is one O(n) pass, and a
//! set such as `1:*` is evaluated range by range, never number by number.
//!
//! ```
//! use mailwire_imap::kit::mailbox::{Flags, Mailbox};
//! use mailwire_imap::{SequenceSet, StoreKind, Flag};
//!
//! let mut mb = Mailbox::new(1, true);
//! for _ in 0..4 {
//!     mb.append(Flags::default(), false);
//! }
//! let seqs = mb.resolve(&SequenceSet::range(2, 3).unwrap(), false).unwrap();
//! mb.store(&seqs, StoreKind::Add, &[Flag::Deleted], None);
//! assert_eq!(mb.expunge_deleted(None), vec![2, 2]); // "* 2 EXPUNGE" twice
//! assert_eq!(mb.uids().collect::<Vec<_>>(), vec![1, 4]);
//! ```

use std::num::NonZeroU32;

use crate::types::command::StoreKind;
use crate::types::core::Atom;
use crate::types::flag::Flag;
use crate::types::sequence::{SeqNum, SeqRange, SequenceSet};

/// The five system flags that are stored per message (RFC 9051 §2.3.2), as bits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct SystemFlags(u8);

impl SystemFlags {
    /// `\Answered`.
    pub const ANSWERED: Self = Self(1);
    /// `\Flagged`.
    pub const FLAGGED: Self = Self(2);
    /// `\Deleted`.
    pub const DELETED: Self = Self(4);
    /// `\Seen`.
    pub const SEEN: Self = Self(8);
    /// `\Draft`.
    pub const DRAFT: Self = Self(16);
    /// The five flags in the order they are listed in FLAGS responses.
    pub const ALL: [(Self, Flag<'static>); 5] = [
        (Self::ANSWERED, Flag::Answered),
        (Self::FLAGGED, Flag::Flagged),
        (Self::DELETED, Flag::Deleted),
        (Self::SEEN, Flag::Seen),
        (Self::DRAFT, Flag::Draft),
    ];

    /// No flag.
    pub const fn empty() -> Self {
        Self(0)
    }

    /// Whether every flag of `other` is set.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// Sets the flags of `other`.
    pub fn insert(&mut self, other: Self) {
        self.0 |= other.0;
    }

    /// Clears the flags of `other`.
    pub fn remove(&mut self, other: Self) {
        self.0 &= !other.0;
    }

    /// The bit of a system flag; `None` for a keyword, `\Recent`, `\*` or an extension.
    pub fn of(flag: &Flag<'_>) -> Option<Self> {
        Self::ALL
            .iter()
            .find(|(_, f)| f == flag)
            .map(|(bit, _)| *bit)
    }
}

/// The flags of one message: system flags and keywords. Keywords compare
/// without regard to ASCII case and are kept sorted, each once.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Flags {
    /// The system flags.
    pub system: SystemFlags,
    keywords: Vec<Box<str>>,
}

/// Orders keywords the way they compare: ASCII case ignored.
fn keyword_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    a.bytes()
        .map(|c| c.to_ascii_lowercase())
        .cmp(b.bytes().map(|c| c.to_ascii_lowercase()))
}

impl Flags {
    /// Flags from a STORE or APPEND flag list. `\Recent`, `\*` and unknown
    /// `\Extension` flags are not stored and are ignored.
    pub fn from_flags(flags: &[Flag<'_>]) -> Self {
        let mut out = Self::default();
        out.apply(StoreKind::Add, flags);
        out
    }

    /// Whether the keyword is set (ASCII case ignored).
    pub fn has_keyword(&self, keyword: &str) -> bool {
        self.keywords
            .binary_search_by(|k| keyword_cmp(k, keyword))
            .is_ok()
    }

    /// Sets a keyword; returns whether it was new.
    pub fn insert_keyword(&mut self, keyword: &str) -> bool {
        match self.keywords.binary_search_by(|k| keyword_cmp(k, keyword)) {
            Ok(_) => false,
            Err(at) => {
                self.keywords.insert(at, keyword.into());
                true
            }
        }
    }

    /// Clears a keyword; returns whether it was set.
    pub fn remove_keyword(&mut self, keyword: &str) -> bool {
        match self.keywords.binary_search_by(|k| keyword_cmp(k, keyword)) {
            Ok(at) => {
                self.keywords.remove(at);
                true
            }
            Err(_) => false,
        }
    }

    /// The keywords, sorted.
    pub fn keywords(&self) -> impl Iterator<Item = &str> {
        self.keywords.iter().map(|k| &**k)
    }

    /// Applies a STORE (`FLAGS`, `+FLAGS`, `-FLAGS`); returns whether anything changed.
    pub fn apply(&mut self, kind: StoreKind, flags: &[Flag<'_>]) -> bool {
        let before = self.clone();
        if kind == StoreKind::Replace {
            *self = Self::default();
        }
        for flag in flags {
            match (SystemFlags::of(flag), flag) {
                (Some(bit), _) if kind == StoreKind::Remove => self.system.remove(bit),
                (Some(bit), _) => self.system.insert(bit),
                (None, Flag::Keyword(k)) if kind == StoreKind::Remove => {
                    self.remove_keyword(k.as_str());
                }
                (None, Flag::Keyword(k)) => {
                    self.insert_keyword(k.as_str());
                }
                (None, _) => {}
            }
        }
        *self != before
    }

    /// The flags as the codec's values, `\Recent` included when `recent`
    /// (for `FETCH FLAGS`).
    pub fn to_flags(&self, recent: bool) -> Vec<Flag<'static>> {
        let mut out: Vec<Flag<'static>> = SystemFlags::ALL
            .iter()
            .filter(|(bit, _)| self.system.contains(*bit))
            .map(|(_, f)| f.clone())
            .collect();
        if recent {
            out.push(Flag::Recent);
        }
        out.extend(self.keywords().filter_map(keyword_flag));
        out
    }
}

/// A keyword as a flag; `None` if it is not a valid atom (never stored from a parsed command).
fn keyword_flag(k: &str) -> Option<Flag<'static>> {
    Atom::new(k.to_owned()).ok().map(Flag::Keyword)
}

/// The state of one message in a [`Mailbox`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The UID.
    pub uid: NonZeroU32,
    /// Its flags.
    pub flags: Flags,
    /// Its mod-sequence (RFC 7162 §3.1): the last change to its metadata.
    pub modseq: u64,
    /// `\Recent` for this session (IMAP4rev1 only).
    pub recent: bool,
}

/// A sequence set that names a message that does not exist (RFC 9051 §6.4.5:
/// the server responds with BAD to a message sequence number out of range).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SetError {
    /// A message sequence number above the number of messages, or `*` in an empty mailbox.
    #[error("message sequence number {0} out of range")]
    OutOfRange(u32),
}

/// What a STORE changed (RFC 7162 §3.1.3).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreOutcome {
    /// Sequence numbers whose flags changed (each now has the new mod-sequence).
    pub changed: Vec<u32>,
    /// Sequence numbers not changed because their mod-sequence is above
    /// UNCHANGEDSINCE: the `[MODIFIED set]` response code.
    pub modified: Vec<u32>,
}

/// What SELECT/EXAMINE with QRESYNC must send (RFC 7162 §3.2.5).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QresyncOutcome {
    /// `VANISHED (EARLIER) uids`, if any.
    pub vanished: Option<SequenceSet>,
    /// Sequence numbers whose flags changed since the client's mod-sequence
    /// (to send as `FETCH (UID FLAGS MODSEQ)`).
    pub changed: Vec<u32>,
}

/// One selected mailbox: the messages in UID order, expunged UIDs with the
/// mod-sequence of their expunge, the keyword list and the saved search result.
#[derive(Debug, Clone)]
pub struct Mailbox {
    uid_validity: u32,
    /// Wider than a UID: 2^32 means the UIDs are used up.
    uid_next: u64,
    highest_modseq: u64,
    messages: Vec<Entry>,
    /// `(uid, modseq)` of expunged messages, sorted by UID.
    expunged: Vec<(u32, u64)>,
    /// Expunges at or below this mod-sequence were forgotten.
    expunge_horizon: u64,
    /// Every keyword in use or announced, sorted (for FLAGS).
    keywords: Flags,
    allow_new_keywords: bool,
    /// RFC 5182 `$`, as UIDs.
    saved: Vec<u32>,
}

impl Mailbox {
    /// An empty mailbox; `allow_new_keywords` adds `\*` to PERMANENTFLAGS.
    pub fn new(uid_validity: u32, allow_new_keywords: bool) -> Self {
        Self {
            uid_validity,
            uid_next: 1,
            highest_modseq: 1,
            messages: Vec::new(),
            expunged: Vec::new(),
            expunge_horizon: 0,
            keywords: Flags::default(),
            allow_new_keywords,
            saved: Vec::new(),
        }
    }

    /// UIDVALIDITY.
    pub fn uid_validity(&self) -> u32 {
        self.uid_validity
    }

    /// UIDNEXT: the UID the next message will get.
    pub fn uid_next(&self) -> u32 {
        u32::try_from(self.uid_next).unwrap_or(u32::MAX)
    }

    /// The largest UID ever given (0 before the first).
    fn top_uid(&self) -> u32 {
        u32::try_from(self.uid_next.saturating_sub(1)).unwrap_or(u32::MAX)
    }

    /// HIGHESTMODSEQ (RFC 7162 §3.1.1).
    pub fn highest_modseq(&self) -> u64 {
        self.highest_modseq
    }

    /// The number of messages (EXISTS).
    pub fn len(&self) -> u32 {
        u32::try_from(self.messages.len()).unwrap_or(u32::MAX)
    }

    /// Whether there is no message.
    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }

    /// The message with this sequence number.
    pub fn entry(&self, seq: u32) -> Option<&Entry> {
        self.messages.get((seq as usize).checked_sub(1)?)
    }

    /// The messages in sequence order.
    pub fn entries(&self) -> &[Entry] {
        &self.messages
    }

    /// The UIDs in sequence order.
    pub fn uids(&self) -> impl Iterator<Item = u32> + '_ {
        self.messages.iter().map(|m| m.uid.get())
    }

    /// The UID of a sequence number.
    pub fn uid(&self, seq: u32) -> Option<u32> {
        self.entry(seq).map(|e| e.uid.get())
    }

    /// The sequence number of a UID.
    pub fn seq(&self, uid: u32) -> Option<u32> {
        let at = self
            .messages
            .binary_search_by(|m| m.uid.get().cmp(&uid))
            .ok()?;
        u32::try_from(at + 1).ok()
    }

    /// Number of messages with `\Recent` (the RECENT response, IMAP4rev1).
    pub fn recent_count(&self) -> u32 {
        self.messages.iter().filter(|m| m.recent).count() as u32
    }

    /// The sequence number of the first message without `\Seen` (`[UNSEEN n]`).
    pub fn first_unseen(&self) -> Option<u32> {
        self.messages
            .iter()
            .position(|m| !m.flags.system.contains(SystemFlags::SEEN))
            .and_then(|i| u32::try_from(i + 1).ok())
    }

    /// Clears `\Recent` on every message (a session that saw them keeps
    /// them recent only for itself, RFC 3501 §2.3.2).
    pub fn clear_recent(&mut self) {
        for m in &mut self.messages {
            m.recent = false;
        }
    }

    fn next_modseq(&mut self) -> u64 {
        self.highest_modseq += 1;
        self.highest_modseq
    }

    /// Adds a message at the end with the next UID and a fresh mod-sequence;
    /// returns its sequence number and UID. Its keywords join the FLAGS list.
    /// `None` when UID 4294967295 was given already: the mailbox needs a new
    /// UIDVALIDITY (RFC 9051 §2.3.1.1), a new [`Mailbox`].
    pub fn append(&mut self, flags: Flags, recent: bool) -> Option<(u32, u32)> {
        let uid = u32::try_from(self.uid_next)
            .ok()
            .and_then(NonZeroU32::new)?;
        self.uid_next += 1;
        for k in flags.keywords() {
            self.keywords.insert_keyword(k);
        }
        let modseq = self.next_modseq();
        self.messages.push(Entry {
            uid,
            flags,
            modseq,
            recent,
        });
        Some((self.len(), uid.get()))
    }

    /// Adds a message the server already holds (when loading a mailbox):
    /// its UID must be above every UID present; UIDNEXT and HIGHESTMODSEQ
    /// rise to cover it. Returns false (and changes nothing) otherwise.
    pub fn push_existing(
        &mut self,
        uid: NonZeroU32,
        flags: Flags,
        modseq: u64,
        recent: bool,
    ) -> bool {
        if self.messages.last().is_some_and(|m| m.uid >= uid) {
            return false;
        }
        self.uid_next = self.uid_next.max(u64::from(uid.get()) + 1);
        self.highest_modseq = self.highest_modseq.max(modseq);
        for k in flags.keywords() {
            self.keywords.insert_keyword(k);
        }
        self.messages.push(Entry {
            uid,
            flags,
            modseq,
            recent,
        });
        true
    }

    /// Raises UIDNEXT to `uid_next` (UIDs may be skipped, never reused).
    pub fn raise_uid_next(&mut self, uid_next: u32) {
        self.uid_next = self.uid_next.max(u64::from(uid_next));
    }

    /// Raises HIGHESTMODSEQ to `modseq` (when loading a mailbox whose last
    /// change was an expunge).
    pub fn raise_highest_modseq(&mut self, modseq: u64) {
        self.highest_modseq = self.highest_modseq.max(modseq);
    }

    /// The FLAGS response: the system flags and every keyword defined.
    pub fn flags(&self) -> Vec<Flag<'static>> {
        let mut all = self.keywords.clone();
        all.system = SystemFlags(0x1f);
        all.to_flags(false)
    }

    /// The PERMANENTFLAGS response code: FLAGS plus `\*` when new keywords may be created.
    pub fn permanent_flags(&self) -> Vec<Flag<'static>> {
        let mut out = self.flags();
        if self.allow_new_keywords {
            out.push(Flag::Wildcard);
        }
        out
    }

    /// Whether STORE may set this flag permanently (a new keyword needs `\*`).
    pub fn is_permanent(&self, flag: &Flag<'_>) -> bool {
        match flag {
            Flag::Keyword(k) => self.allow_new_keywords || self.keywords.has_keyword(k.as_str()),
            f => SystemFlags::of(f).is_some(),
        }
    }

    /// The sequence numbers a set names, ascending and each once.
    ///
    /// With `uid` false the numbers are message sequence numbers: `*` is the
    /// last message and a number beyond it is an error. With `uid` true they
    /// are UIDs: `*` is the largest UID in use, UIDs with no message are
    /// ignored, and `n:*` always includes the last message even when `n` is
    /// above every UID (RFC 9051 §6.4.8). `$` is the saved result (RFC 5182).
    pub fn resolve(&self, set: &SequenceSet, uid: bool) -> Result<Vec<u32>, SetError> {
        let ranges = match set {
            SequenceSet::Saved => {
                return Ok(self.saved.iter().filter_map(|&u| self.seq(u)).collect());
            }
            SequenceSet::Set(r) => r,
        };
        let n = self.len();
        let largest = if uid {
            self.messages.last().map_or(0, |m| m.uid.get())
        } else {
            n
        };
        // Index ranges [lo, hi) into `messages`.
        let mut spans: Vec<(usize, usize)> = Vec::with_capacity(ranges.len());
        for r in ranges.iter() {
            let val = |s: SeqNum| match s {
                SeqNum::Value(v) => v.get(),
                SeqNum::Largest => largest,
            };
            let (a, b) = match *r {
                SeqRange::Single(x) => (val(x), val(x)),
                SeqRange::Range(x, y) => (val(x), val(y)),
            };
            let (lo, hi) = (a.min(b), a.max(b));
            if uid {
                let start = self.messages.partition_point(|m| m.uid.get() < lo);
                let end = self.messages.partition_point(|m| m.uid.get() <= hi);
                spans.push((start, end));
            } else {
                if hi > n || lo == 0 {
                    return Err(SetError::OutOfRange(hi));
                }
                spans.push((lo as usize - 1, hi as usize));
            }
        }
        Ok(expand_spans(spans))
    }

    /// Applies a STORE to the messages (sequence numbers), giving every
    /// changed message one new mod-sequence. With `unchanged_since`, a
    /// message whose mod-sequence is above it is left alone and reported in
    /// `modified` (RFC 7162 §3.1.3).
    pub fn store(
        &mut self,
        seqs: &[u32],
        kind: StoreKind,
        flags: &[Flag<'_>],
        unchanged_since: Option<u64>,
    ) -> StoreOutcome {
        let mut out = StoreOutcome::default();
        let modseq = self.highest_modseq + 1;
        for &seq in seqs {
            let Some(m) = (seq as usize)
                .checked_sub(1)
                .and_then(|i| self.messages.get_mut(i))
            else {
                continue;
            };
            if unchanged_since.is_some_and(|u| m.modseq > u) {
                out.modified.push(seq);
                continue;
            }
            if m.flags.apply(kind, flags) {
                m.modseq = modseq;
                out.changed.push(seq);
            }
        }
        if !out.changed.is_empty() {
            self.highest_modseq = modseq;
            if kind != StoreKind::Remove {
                for f in flags {
                    if let Flag::Keyword(k) = f {
                        self.keywords.insert_keyword(k.as_str());
                    }
                }
            }
        }
        out
    }

    /// Expunges the messages with `\Deleted` (EXPUNGE), or only those whose
    /// UID is also in `uids` (UID EXPUNGE, RFC 4315). Returns the numbers of
    /// the `* n EXPUNGE` responses to send, in order: each reflects the
    /// renumbering of the ones before it (RFC 3501 §6.4.3 example).
    pub fn expunge_deleted(&mut self, uids: Option<&SequenceSet>) -> Vec<u32> {
        let allowed = match uids.map(|s| self.resolve(s, true)) {
            Some(Ok(seqs)) => Some(seqs),
            Some(Err(_)) => Some(Vec::new()),
            None => None,
        };
        let seqs: Vec<u32> = match allowed {
            Some(seqs) => seqs.into_iter().filter(|&s| self.is_deleted(s)).collect(),
            None => (1..=self.len()).filter(|&s| self.is_deleted(s)).collect(),
        };
        self.expunge(&seqs)
    }

    fn is_deleted(&self, seq: u32) -> bool {
        self.entry(seq)
            .is_some_and(|m| m.flags.system.contains(SystemFlags::DELETED))
    }

    /// Removes the messages with these sequence numbers (ascending) and
    /// returns the EXPUNGE numbers to send, as [`Mailbox::expunge_deleted`].
    /// The UIDs are remembered with the expunge's mod-sequence for VANISHED.
    pub fn expunge(&mut self, seqs: &[u32]) -> Vec<u32> {
        let modseq = self.highest_modseq + 1;
        self.expunge_at(seqs, modseq)
    }

    /// [`Mailbox::expunge`] at a mod-sequence the caller's store gave the
    /// expunge (HIGHESTMODSEQ is raised to it), so that the kit's record of
    /// the expunge and the store's agree.
    pub fn expunge_at(&mut self, seqs: &[u32], modseq: u64) -> Vec<u32> {
        let mut doomed = vec![false; self.messages.len()];
        for &s in seqs {
            if let Some(d) = (s as usize).checked_sub(1).and_then(|i| doomed.get_mut(i)) {
                *d = true;
            }
        }
        let count = doomed.iter().filter(|d| **d).count();
        if count == 0 {
            return Vec::new();
        }
        self.raise_highest_modseq(modseq);
        let mut out = Vec::with_capacity(count);
        let mut gone = Vec::with_capacity(count);
        let mut removed = 0u32;
        let mut index = 0usize;
        self.messages.retain(|m| {
            let kill = doomed[index];
            index += 1;
            if kill {
                out.push(index as u32 - removed);
                removed += 1;
                gone.push((m.uid.get(), modseq));
            }
            !kill
        });
        // Both lists are sorted by UID: merge.
        let old = std::mem::take(&mut self.expunged);
        self.expunged = merge_sorted(old, gone);
        out
    }

    /// Loads an expunge the store remembers: `uid` was expunged at
    /// `modseq` (a mailbox rebuilt from storage keeps what
    /// VANISHED (EARLIER) needs, RFC 7162 §3.2.5.1). A UID held by a message
    /// is ignored; HIGHESTMODSEQ is raised to `modseq`.
    pub fn push_expunged(&mut self, uid: NonZeroU32, modseq: u64) {
        let uid = uid.get();
        if self
            .messages
            .binary_search_by_key(&uid, |m| m.uid.get())
            .is_ok()
        {
            return;
        }
        self.raise_highest_modseq(modseq);
        self.uid_next = self.uid_next.max(u64::from(uid) + 1);
        match self.expunged.binary_search_by_key(&uid, |&(u, _)| u) {
            Ok(i) => self.expunged[i].1 = self.expunged[i].1.max(modseq),
            Err(i) => self.expunged.insert(i, (uid, modseq)),
        }
    }

    /// Forgets expunges at or below `modseq` (bounding memory); a later
    /// QRESYNC from before that point falls back to reporting every UID
    /// missing from the client's known set.
    pub fn forget_expunged(&mut self, modseq: u64) {
        self.expunged.retain(|&(_, m)| m > modseq);
        self.expunge_horizon = self.expunge_horizon.max(modseq);
    }

    /// The sequence numbers among `seqs` whose mod-sequence is above
    /// `modseq` (FETCH `CHANGEDSINCE`, RFC 7162 §3.1.4.1).
    pub fn changed_since(&self, seqs: &[u32], modseq: u64) -> Vec<u32> {
        seqs.iter()
            .copied()
            .filter(|&s| self.entry(s).is_some_and(|m| m.modseq > modseq))
            .collect()
    }

    /// The UIDs expunged after `modseq`, limited to `uids` if given: the
    /// set of `UID FETCH ... (CHANGEDSINCE m VANISHED)` (RFC 7162 §3.2.6).
    /// When the expunges after `modseq` were forgotten, every UID below
    /// UIDNEXT without a message is reported (RFC 7162 §3.2.5.2).
    pub fn vanished_since(&self, modseq: u64, uids: Option<&SequenceSet>) -> Option<SequenceSet> {
        self.vanished_from(modseq, uids, 0)
    }

    fn vanished_from(
        &self,
        modseq: u64,
        uids: Option<&SequenceSet>,
        above: u32,
    ) -> Option<SequenceSet> {
        let top = self.top_uid();
        let in_set = |u: u32| {
            u > above
                && match uids {
                    None => true,
                    Some(s) => set_contains(s, u, top),
                }
        };
        let list: Vec<u32> = if modseq >= self.expunge_horizon {
            self.expunged
                .iter()
                .filter(|&&(u, m)| m > modseq && in_set(u))
                .map(|&(u, _)| u)
                .collect()
        } else {
            // The history is incomplete: every UID we do not hold.
            let mut out = Vec::new();
            let mut present = self.messages.iter().map(|m| m.uid.get()).peekable();
            for span in set_spans(uids, top) {
                // UIDs above UIDNEXT were never given: a client's `1:4294967295`
                // costs nothing beyond them.
                for u in span.0.max(above + 1)..=span.1.min(top) {
                    while present.peek().is_some_and(|&p| p < u) {
                        present.next();
                    }
                    if present.peek() != Some(&u) {
                        out.push(u);
                    }
                }
            }
            out.sort_unstable();
            out.dedup();
            out
        };
        compact_set(&list)
    }

    /// Evaluates SELECT/EXAMINE `(QRESYNC (uidvalidity modseq [known-uids]
    /// [seq-match-data]))` (RFC 7162 §3.2.5). Returns `None` when the
    /// UIDVALIDITY differs (the client must resynchronize from scratch).
    pub fn qresync(
        &self,
        uid_validity: u32,
        modseq: u64,
        known_uids: Option<&SequenceSet>,
        seq_match: Option<(&SequenceSet, &SequenceSet)>,
    ) -> Option<QresyncOutcome> {
        if uid_validity != self.uid_validity {
            return None;
        }
        // §3.2.5.2: every matching (seq, uid) pair means the client knows
        // all expunges up to that UID.
        let mut above = 0;
        if let Some((seqs, uids)) = seq_match {
            let top = self.top_uid();
            for (s, u) in seqs.iter(self.len()).zip(uids.iter(top)) {
                if self.uid(s) == Some(u) {
                    above = above.max(u);
                } else {
                    break;
                }
            }
        }
        let changed = (1..=self.len())
            .filter(|&s| {
                self.entry(s).is_some_and(|m| {
                    m.modseq > modseq
                        && known_uids.is_none_or(|k| set_contains(k, m.uid.get(), self.top_uid()))
                })
            })
            .collect();
        Some(QresyncOutcome {
            vanished: self.vanished_from(modseq, known_uids, above),
            changed,
        })
    }

    /// Saves a search result for `$` (RFC 5182), as UIDs.
    pub fn save_result(&mut self, uids: Vec<u32>) {
        self.saved = uids;
    }

    /// The saved result (UIDs still present).
    pub fn saved(&self) -> &[u32] {
        &self.saved
    }
}

/// Merges two UID-sorted lists.
fn merge_sorted(a: Vec<(u32, u64)>, b: Vec<(u32, u64)>) -> Vec<(u32, u64)> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut a, mut b) = (a.into_iter().peekable(), b.into_iter().peekable());
    loop {
        let next = match (a.peek(), b.peek()) {
            (Some(x), Some(y)) if x.0 <= y.0 => a.next(),
            (Some(_), Some(_)) => b.next(),
            (Some(_), None) => a.next(),
            (None, Some(_)) => b.next(),
            (None, None) => break,
        };
        out.extend(next);
    }
    out
}

/// Sorts and merges index spans `[lo, hi)` and expands them to sequence numbers.
fn expand_spans(mut spans: Vec<(usize, usize)>) -> Vec<u32> {
    spans.retain(|s| s.0 < s.1);
    spans.sort_unstable();
    let mut out = Vec::new();
    let mut next = 0usize;
    for (lo, hi) in spans {
        for i in lo.max(next)..hi {
            out.push(i as u32 + 1);
        }
        next = next.max(hi);
    }
    out
}

/// The inclusive numeric spans of a set, `*` standing for `largest`, sorted
/// and merged; `None` is `1:largest`.
pub(crate) fn set_spans(set: Option<&SequenceSet>, largest: u32) -> Vec<(u32, u32)> {
    let Some(SequenceSet::Set(ranges)) = set else {
        return if largest == 0 || matches!(set, Some(SequenceSet::Saved)) {
            Vec::new()
        } else {
            vec![(1, largest)]
        };
    };
    let val = |s: SeqNum| match s {
        SeqNum::Value(v) => v.get(),
        SeqNum::Largest => largest,
    };
    let mut spans: Vec<(u32, u32)> = ranges
        .iter()
        .map(|r| match *r {
            SeqRange::Single(x) => (val(x), val(x)),
            SeqRange::Range(x, y) => (val(x).min(val(y)), val(x).max(val(y))),
        })
        .collect();
    spans.sort_unstable();
    let mut merged: Vec<(u32, u32)> = Vec::with_capacity(spans.len());
    for (lo, hi) in spans {
        match merged.last_mut() {
            Some(last) if lo <= last.1.saturating_add(1) => last.1 = last.1.max(hi),
            _ => merged.push((lo, hi)),
        }
    }
    merged
}

/// Whether `n` is in the set (`*` = `largest`); `$` contains nothing here.
pub(crate) fn set_contains(set: &SequenceSet, n: u32, largest: u32) -> bool {
    let SequenceSet::Set(ranges) = set else {
        return false;
    };
    let val = |s: SeqNum| match s {
        SeqNum::Value(v) => v.get(),
        SeqNum::Largest => largest,
    };
    ranges.iter().any(|r| {
        let (a, b) = match *r {
            SeqRange::Single(x) => (val(x), val(x)),
            SeqRange::Range(x, y) => (val(x), val(y)),
        };
        (a.min(b)..=a.max(b)).contains(&n)
    })
}

/// The shortest sequence set for ascending numbers (`1:3,7,9:10`); `None` if empty.
pub fn compact_set(sorted: &[u32]) -> Option<SequenceSet> {
    let mut ranges = Vec::new();
    let mut iter = sorted
        .iter()
        .copied()
        .filter_map(NonZeroU32::new)
        .peekable();
    while let Some(start) = iter.next() {
        let mut end = start;
        while let Some(&n) = iter.peek() {
            if n.get() == end.get().saturating_add(1) || n == end {
                end = n;
                iter.next();
            } else {
                break;
            }
        }
        ranges.push(if start == end {
            SeqRange::Single(SeqNum::Value(start))
        } else {
            SeqRange::Range(SeqNum::Value(start), SeqNum::Value(end))
        });
    }
    SequenceSet::new(ranges)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn mailbox(n: u32) -> Mailbox {
        let mut mb = Mailbox::new(7, true);
        for _ in 0..n {
            mb.append(Flags::default(), true);
        }
        mb
    }

    fn set(s: &str) -> SequenceSet {
        // Parse through the codec's own grammar.
        let cmd = format!("a FETCH {s} FLAGS\r\n");
        let (c, _) = crate::parse::command(cmd.as_bytes()).unwrap();
        match c.body {
            crate::CommandBody::Fetch { set, .. } => set,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn rfc3501_6_4_3_expunge() {
        // "messages 3, 4, 7, and 11 had the \Deleted flag set":
        // * 3 EXPUNGE * 3 EXPUNGE * 5 EXPUNGE * 8 EXPUNGE
        let mut mb = mailbox(12);
        mb.store(&[3, 4, 7, 11], StoreKind::Add, &[Flag::Deleted], None);
        assert_eq!(mb.expunge_deleted(None), vec![3, 3, 5, 8]);
        assert_eq!(mb.len(), 8);
        assert_eq!(mb.seq(5), Some(3));
        assert_eq!(mb.seq(4), None);
        assert_eq!(mb.uid(8), Some(12));
    }

    #[test]
    fn uid_expunge_only_in_set() {
        let mut mb = mailbox(5);
        mb.store(&[1, 2, 3], StoreKind::Add, &[Flag::Deleted], None);
        assert_eq!(mb.expunge_deleted(Some(&set("2:4"))), vec![2, 2]);
        assert_eq!(mb.uids().collect::<Vec<_>>(), vec![1, 4, 5]);
    }

    #[test]
    fn sequence_sets() {
        let mb = mailbox(10);
        assert_eq!(
            mb.resolve(&set("*:8,2,1:2"), false).unwrap(),
            vec![1, 2, 8, 9, 10]
        );
        assert_eq!(mb.resolve(&set("11"), false), Err(SetError::OutOfRange(11)));
        assert_eq!(
            mailbox(0).resolve(&set("*"), false),
            Err(SetError::OutOfRange(0))
        );
    }

    #[test]
    fn rfc9051_6_4_8_uid_range_includes_last() {
        // "a UID range of 559:* always includes the UID of the last message".
        let mut mb = mailbox(3);
        mb.expunge(&[1]);
        assert_eq!(mb.resolve(&set("559:*"), true).unwrap(), vec![2]);
        assert_eq!(mb.resolve(&set("1:2,9"), true).unwrap(), vec![1]);
        assert!(mailbox(0).resolve(&set("1:*"), true).unwrap().is_empty());
        // A huge range costs nothing.
        assert_eq!(mb.resolve(&set("1:4294967295"), true).unwrap(), vec![1, 2]);
    }

    #[test]
    fn flags_and_keywords() {
        let mut mb = mailbox(2);
        let kw = Flag::Keyword(Atom::new("$Forwarded").unwrap());
        let out = mb.store(&[1], StoreKind::Add, &[Flag::Seen, kw.clone()], None);
        assert_eq!(out.changed, vec![1]);
        assert!(mb.entry(1).unwrap().flags.has_keyword("$forwarded"));
        assert_eq!(
            mb.entry(1).unwrap().flags.to_flags(true),
            vec![Flag::Seen, Flag::Recent, kw.clone()]
        );
        assert!(mb.flags().contains(&kw));
        assert_eq!(mb.permanent_flags().last(), Some(&Flag::Wildcard));
        // Storing the same flags again changes nothing and keeps the modseq.
        let before = mb.highest_modseq();
        assert!(
            mb.store(&[1], StoreKind::Add, &[Flag::Seen], None)
                .changed
                .is_empty()
        );
        assert_eq!(mb.highest_modseq(), before);
        mb.store(&[1], StoreKind::Replace, &[Flag::Draft], None);
        assert_eq!(
            mb.entry(1).unwrap().flags.to_flags(false),
            vec![Flag::Draft]
        );
        assert_eq!(mb.first_unseen(), Some(1));
        assert_eq!(mb.recent_count(), 2);
        mb.clear_recent();
        assert_eq!(mb.recent_count(), 0);
    }

    #[test]
    fn rfc7162_3_1_3_unchanged_since() {
        // Example 6 shape: messages changed after UNCHANGEDSINCE are MODIFIED.
        let mut mb = mailbox(4);
        let base = mb.highest_modseq();
        mb.store(&[2], StoreKind::Add, &[Flag::Flagged], None);
        let out = mb.store(&[1, 2, 3], StoreKind::Add, &[Flag::Deleted], Some(base));
        assert_eq!(out.modified, vec![2]);
        assert_eq!(out.changed, vec![1, 3]);
        assert_eq!(mb.entry(1).unwrap().modseq, mb.highest_modseq());
        assert_eq!(mb.changed_since(&[1, 2, 3, 4], base), vec![1, 2, 3]);
        assert_eq!(
            mb.store(&[4], StoreKind::Add, &[Flag::Seen], Some(0))
                .modified,
            vec![4]
        );
    }

    #[test]
    fn rfc7162_3_2_5_vanished_earlier() {
        let mut mb = mailbox(10);
        let m0 = mb.highest_modseq();
        mb.expunge(&[2, 3]);
        let m1 = mb.highest_modseq();
        mb.expunge(&[5]); // UID 7 (after renumbering)
        assert_eq!(mb.uids().collect::<Vec<_>>(), vec![1, 4, 5, 6, 8, 9, 10]);
        assert_eq!(mb.vanished_since(m0, None), Some(set("2:3,7")));
        assert_eq!(mb.vanished_since(m1, None), Some(set("7")));
        assert_eq!(mb.vanished_since(m0, Some(&set("3:*"))), Some(set("3,7")));
        assert_eq!(mb.vanished_since(mb.highest_modseq(), None), None);
        let q = mb.qresync(7, m1, None, None).unwrap();
        assert_eq!(q.vanished, Some(set("7")));
        assert!(mb.qresync(8, m1, None, None).is_none());
    }

    /// A mailbox rebuilt from storage with the store's expunge history
    /// answers VANISHED (EARLIER) from it, not with every missing UID; an
    /// expunge at the store's mod-sequence is recorded at that one.
    #[test]
    fn rfc7162_3_2_5_1_history_loaded_from_storage() {
        let mut mb = Mailbox::new(7, true);
        for uid in [1, 4, 5, 9] {
            mb.push_existing(NonZeroU32::new(uid).unwrap(), Flags::default(), 3, false);
        }
        mb.push_expunged(NonZeroU32::new(2).unwrap(), 5);
        mb.push_expunged(NonZeroU32::new(3).unwrap(), 8);
        mb.push_expunged(NonZeroU32::new(4).unwrap(), 9); // held: ignored
        mb.forget_expunged(4);
        assert_eq!(mb.highest_modseq(), 8);
        assert_eq!(mb.vanished_since(5, None), Some(set("3")));
        assert_eq!(mb.vanished_since(4, None), Some(set("2:3")));
        // Below the horizon: every UID without a message, up to UIDNEXT.
        assert_eq!(mb.vanished_since(3, None), Some(set("2:3,6:8")));
        assert_eq!(mb.expunge_at(&[2], 12), vec![2]);
        assert_eq!(mb.highest_modseq(), 12);
        assert_eq!(mb.vanished_since(8, None), Some(set("4")));
        assert_eq!(mb.vanished_since(11, None), Some(set("4")));
        assert_eq!(mb.vanished_since(12, None), None);
    }

    #[test]
    fn rfc7162_3_2_5_2_seq_match_data() {
        // The server forgot every expunge; only UIDs divisible by 3 remain.
        let mut mb = mailbox(30);
        let seqs: Vec<u32> = (1..=30).filter(|s| s % 3 != 0).collect();
        mb.expunge(&seqs);
        mb.forget_expunged(mb.highest_modseq());
        let q = mb.qresync(7, 1, Some(&set("1:29")), None).unwrap();
        assert_eq!(
            q.vanished,
            Some(set("1:2,4:5,7:8,10:11,13:14,16:17,19:20,22:23,25:26,28:29"))
        );
        // The client knows that message 4 is UID 12: nothing up to 12 is reported.
        let q = mb
            .qresync(7, 1, Some(&set("1:29")), Some((&set("2,4"), &set("6,12"))))
            .unwrap();
        assert_eq!(q.vanished, Some(set("13:14,16:17,19:20,22:23,25:26,28:29")));
        // A huge known set costs no more than the UIDs given so far.
        let q = mb.qresync(7, 1, Some(&set("1:4294967295")), None).unwrap();
        assert_eq!(
            q.vanished.unwrap(),
            set("1:2,4:5,7:8,10:11,13:14,16:17,19:20,22:23,25:26,28:29")
        );
        // A pair that does not match stops the scan.
        let q = mb
            .qresync(7, 1, Some(&set("1:29")), Some((&set("2,4"), &set("7,12"))))
            .unwrap();
        assert_eq!(
            q.vanished.unwrap(),
            set("1:2,4:5,7:8,10:11,13:14,16:17,19:20,22:23,25:26,28:29")
        );
    }

    #[test]
    fn loading_and_running_out_of_uids() {
        let mut mb = Mailbox::new(7, true);
        let uid = |n| NonZeroU32::new(n).unwrap();
        assert!(mb.push_existing(uid(5), Flags::default(), 40, false));
        assert!(!mb.push_existing(uid(5), Flags::default(), 41, false));
        assert_eq!((mb.uid_next(), mb.highest_modseq()), (6, 40));
        mb.raise_uid_next(10);
        assert_eq!(mb.append(Flags::default(), true), Some((2, 10)));
        assert_eq!(mb.highest_modseq(), 41);
        assert!(mb.push_existing(uid(u32::MAX - 1), Flags::default(), 1, false));
        assert_eq!(mb.append(Flags::default(), true), Some((4, u32::MAX)));
        assert_eq!(mb.append(Flags::default(), true), None);
        assert_eq!(mb.len(), 4);
        assert_eq!(mb.resolve(&set("*"), true).unwrap(), vec![4]);
    }

    #[test]
    fn saved_result() {
        let mut mb = mailbox(5);
        mb.save_result(vec![2, 4]);
        mb.expunge(&[2]);
        assert_eq!(mb.resolve(&SequenceSet::Saved, false).unwrap(), vec![3]);
    }

    #[test]
    fn compact() {
        assert_eq!(compact_set(&[1, 2, 3, 7, 9, 10]), Some(set("1:3,7,9:10")));
        assert_eq!(compact_set(&[]), None);
    }

    proptest! {
        /// EXPUNGE renumbering against a naive model: a Vec of UIDs where
        /// each EXPUNGE n removes the nth element.
        #[test]
        fn expunge_matches_naive_model(n in 0u32..60, rounds in proptest::collection::vec(proptest::collection::vec(any::<bool>(), 0..60), 1..4)) {
            let mut mb = mailbox(n);
            let mut model: Vec<u32> = (1..=n).collect();
            for kill in rounds {
                let seqs: Vec<u32> = (1..=mb.len()).filter(|&s| kill.get(s as usize - 1).copied().unwrap_or(false)).collect();
                let doomed: Vec<u32> = seqs.iter().map(|&s| mb.uid(s).unwrap()).collect();
                for e in mb.expunge(&seqs) {
                    let uid = model.remove(e as usize - 1);
                    prop_assert!(doomed.contains(&uid));
                }
                prop_assert_eq!(mb.uids().collect::<Vec<_>>(), model.clone());
                for (i, &u) in model.iter().enumerate() {
                    prop_assert_eq!(mb.seq(u), Some(i as u32 + 1));
                }
            }
        }

        /// Set evaluation against iterating the set number by number.
        #[test]
        fn resolve_matches_iteration(n in 1u32..40, ranges in proptest::collection::vec((0u32..45, 0u32..45), 1..5), uid in any::<bool>()) {
            let mut mb = mailbox(n);
            mb.expunge(&[1, 3]);
            let text: Vec<String> = ranges.iter().map(|&(a, b)| {
                let f = |x: u32| if x == 0 { "*".to_string() } else { x.to_string() };
                format!("{}:{}", f(a), f(b))
            }).collect();
            let s = set(&text.join(","));
            let largest = if uid { mb.uids().last().unwrap_or(0) } else { mb.len() };
            let mut want: Vec<u32> = s.iter(largest).filter_map(|x| if uid { mb.seq(x) } else { Some(x) }).collect();
            want.sort_unstable();
            want.dedup();
            match mb.resolve(&s, uid) {
                Ok(got) => prop_assert_eq!(got, want),
                Err(_) => prop_assert!(!uid && want.iter().any(|&x| x > mb.len() || x == 0)),
            }
        }
    }
}

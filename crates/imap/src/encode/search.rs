//! SEARCH keys.

use super::Encoder;
use crate::types::search::{EntryType, SearchKey};

impl Encoder<'_> {
    pub(crate) fn search_key(&mut self, k: &SearchKey<'_>) {
        macro_rules! s {
            ($name:literal, $v:expr) => {{
                self.raw($name);
                self.sp();
                self.astring($v);
            }};
        }
        macro_rules! d {
            ($name:literal, $v:expr) => {{
                self.raw($name);
                self.sp();
                self.date($v);
            }};
        }
        match k {
            SearchKey::All => self.raw(b"ALL"),
            SearchKey::Answered => self.raw(b"ANSWERED"),
            SearchKey::Deleted => self.raw(b"DELETED"),
            SearchKey::Draft => self.raw(b"DRAFT"),
            SearchKey::Flagged => self.raw(b"FLAGGED"),
            SearchKey::New => self.raw(b"NEW"),
            SearchKey::Old => self.raw(b"OLD"),
            SearchKey::Recent => self.raw(b"RECENT"),
            SearchKey::Seen => self.raw(b"SEEN"),
            SearchKey::Unanswered => self.raw(b"UNANSWERED"),
            SearchKey::Undeleted => self.raw(b"UNDELETED"),
            SearchKey::Undraft => self.raw(b"UNDRAFT"),
            SearchKey::Unflagged => self.raw(b"UNFLAGGED"),
            SearchKey::Unseen => self.raw(b"UNSEEN"),
            SearchKey::SaveDateSupported => self.raw(b"SAVEDATESUPPORTED"),
            SearchKey::Bcc(v) => s!(b"BCC", v),
            SearchKey::Body(v) => s!(b"BODY", v),
            SearchKey::Cc(v) => s!(b"CC", v),
            SearchKey::From(v) => s!(b"FROM", v),
            SearchKey::Subject(v) => s!(b"SUBJECT", v),
            SearchKey::Text(v) => s!(b"TEXT", v),
            SearchKey::To(v) => s!(b"TO", v),
            SearchKey::Header(f, v) => {
                s!(b"HEADER", f);
                self.sp();
                self.astring(v);
            }
            SearchKey::Keyword(a) => {
                self.raw(b"KEYWORD ");
                self.atom(a);
            }
            SearchKey::Unkeyword(a) => {
                self.raw(b"UNKEYWORD ");
                self.atom(a);
            }
            // RFC 8474 §7: `"EMAILID" SP objectid / "THREADID" SP objectid`.
            SearchKey::EmailId(id) => {
                self.raw(b"EMAILID ");
                self.atom(id);
            }
            SearchKey::ThreadId(id) => {
                self.raw(b"THREADID ");
                self.atom(id);
            }
            SearchKey::Before(v) => d!(b"BEFORE", v),
            SearchKey::On(v) => d!(b"ON", v),
            SearchKey::Since(v) => d!(b"SINCE", v),
            SearchKey::SentBefore(v) => d!(b"SENTBEFORE", v),
            SearchKey::SentOn(v) => d!(b"SENTON", v),
            SearchKey::SentSince(v) => d!(b"SENTSINCE", v),
            SearchKey::SavedBefore(v) => d!(b"SAVEDBEFORE", v),
            SearchKey::SavedOn(v) => d!(b"SAVEDON", v),
            SearchKey::SavedSince(v) => d!(b"SAVEDSINCE", v),
            SearchKey::Larger(n) => {
                self.raw(b"LARGER ");
                self.num(*n);
            }
            SearchKey::Smaller(n) => {
                self.raw(b"SMALLER ");
                self.num(*n);
            }
            SearchKey::Older(n) => {
                self.raw(b"OLDER ");
                self.num(u64::from(*n));
            }
            SearchKey::Younger(n) => {
                self.raw(b"YOUNGER ");
                self.num(u64::from(*n));
            }
            SearchKey::Uid(s) => {
                self.raw(b"UID ");
                self.sequence_set(s);
            }
            SearchKey::SequenceSet(s) => self.sequence_set(s),
            SearchKey::Not(k) => {
                self.raw(b"NOT ");
                self.search_key(k);
            }
            SearchKey::Or(a, b) => {
                self.raw(b"OR ");
                self.search_key(a);
                self.sp();
                self.search_key(b);
            }
            SearchKey::And(l) => self.list(l, |e, k| e.search_key(k)),
            SearchKey::ModSeq { entry, modseq } => {
                self.raw(b"MODSEQ ");
                if let Some((name, t)) = entry {
                    // entry-name is a quoted string in the grammar.
                    self.string(name);
                    self.raw(match t {
                        EntryType::Private => b" priv ",
                        EntryType::Shared => b" shared ",
                        EntryType::All => b" all ",
                    });
                }
                self.num(*modseq);
            }
        }
    }

    pub(crate) fn search_keys(&mut self, keys: &[SearchKey<'_>]) {
        self.sep(keys, |e, k| e.search_key(k));
    }
}

//! Core syntax: numbers, strings, flags, mailboxes, sequence sets, dates.

use super::Encoder;
use crate::types::core::{
    Atom, Binary, Date, DateTime, IString, LiteralMode, NString, is_astring_char,
};
use crate::types::fetch::Value;
use crate::types::flag::Flag;
use crate::types::mailbox::Mailbox;
use crate::types::sequence::{SeqNum, SeqRange, SequenceSet};

/// Longest string we send quoted; longer ones go as literals.
const MAX_QUOTED: usize = 1024;

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

impl Encoder<'_> {
    #[inline]
    pub(crate) fn raw(&mut self, b: &[u8]) {
        self.out.extend_from_slice(b);
    }

    #[inline]
    pub(crate) fn sp(&mut self) {
        self.out.push(b' ');
    }

    #[inline]
    pub(crate) fn crlf(&mut self) {
        self.out.extend_from_slice(b"\r\n");
    }

    #[inline]
    pub(crate) fn num(&mut self, n: u64) {
        let mut buf = [0u8; 20];
        let mut k = buf.len();
        let mut n = n;
        loop {
            k -= 1;
            buf[k] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        self.out.extend_from_slice(&buf[k..]);
    }

    #[inline]
    pub(crate) fn atom(&mut self, a: &Atom<'_>) {
        self.raw(a.as_str().as_bytes());
    }

    /// `"(" objectid ")"` (RFC 8474 §7: EMAILID, THREADID, MAILBOXID).
    pub(crate) fn paren_object_id(&mut self, id: &Atom<'_>) {
        self.out.push(b'(');
        self.atom(id);
        self.out.push(b')');
    }

    fn quotable(s: &[u8]) -> bool {
        s.len() <= MAX_QUOTED
            && s.iter()
                .all(|&b| matches!(b, 0x01..=0x7f) && b != b'\r' && b != b'\n')
    }

    fn quoted(&mut self, s: &[u8]) {
        self.out.push(b'"');
        for &b in s {
            if b == b'"' || b == b'\\' {
                self.out.push(b'\\');
            }
            self.out.push(b);
        }
        self.out.push(b'"');
    }

    pub(crate) fn literal(&mut self, data: &[u8], binary: bool) {
        if binary {
            self.out.push(b'~');
        }
        self.out.push(b'{');
        self.num(data.len() as u64);
        let sync = !self.command || self.literal_mode == LiteralMode::Sync;
        if !sync {
            self.out.push(b'+');
        }
        self.raw(b"}\r\n");
        if self.command && sync {
            self.cuts.push(self.out.len());
        }
        self.raw(data);
    }

    /// `string`: quoted or literal.
    pub(crate) fn string(&mut self, s: &IString<'_>) {
        let b = s.as_bytes();
        if Self::quotable(b) {
            self.quoted(b)
        } else {
            self.literal(b, false)
        }
    }

    /// `astring`: atom form when it fits.
    pub(crate) fn astring(&mut self, s: &IString<'_>) {
        let b = s.as_bytes();
        if !b.is_empty() && b.iter().all(|&c| is_astring_char(c)) && !b.eq_ignore_ascii_case(b"NIL")
        {
            self.raw(b);
        } else {
            self.string(s);
        }
    }

    /// `nstring`.
    pub(crate) fn nstring(&mut self, s: &NString<'_>) {
        match s {
            Some(s) => self.string(s),
            None => self.raw(b"NIL"),
        }
    }

    /// Binary data: a literal, `literal8` if it holds NUL.
    pub(crate) fn binary(&mut self, b: &Binary<'_>) {
        self.literal(&b.0, b.0.contains(&0));
    }

    pub(crate) fn mailbox(&mut self, m: &Mailbox<'_>) {
        match m {
            Mailbox::Inbox => self.raw(b"INBOX"),
            Mailbox::Other(s) => self.astring(s),
        }
    }

    pub(crate) fn flag(&mut self, f: &Flag<'_>) {
        match f {
            Flag::Answered => self.raw(b"\\Answered"),
            Flag::Flagged => self.raw(b"\\Flagged"),
            Flag::Deleted => self.raw(b"\\Deleted"),
            Flag::Seen => self.raw(b"\\Seen"),
            Flag::Draft => self.raw(b"\\Draft"),
            Flag::Recent => self.raw(b"\\Recent"),
            Flag::Wildcard => self.raw(b"\\*"),
            Flag::Keyword(a) => self.atom(a),
            Flag::Extension(a) => {
                self.out.push(b'\\');
                self.atom(a);
            }
        }
    }

    /// `"(" item *(SP item) ")"`.
    pub(crate) fn list<T>(&mut self, items: &[T], mut f: impl FnMut(&mut Self, &T)) {
        self.out.push(b'(');
        self.sep(items, &mut f);
        self.out.push(b')');
    }

    /// `item *(SP item)`.
    pub(crate) fn sep<T>(&mut self, items: &[T], mut f: impl FnMut(&mut Self, &T)) {
        for (k, it) in items.iter().enumerate() {
            if k > 0 {
                self.sp();
            }
            f(self, it);
        }
    }

    pub(crate) fn flag_list(&mut self, flags: &[Flag<'_>]) {
        self.list(flags, |e, f| e.flag(f));
    }

    fn seq_num(&mut self, n: SeqNum) {
        match n {
            SeqNum::Value(v) => self.num(u64::from(v.get())),
            SeqNum::Largest => self.out.push(b'*'),
        }
    }

    /// `partial-range` (RFC 9394 §3.1).
    pub(crate) fn partial_range(&mut self, r: &crate::types::command::PartialRange) {
        let minus = if r.from_end { "-" } else { "" };
        self.raw(format!("{minus}{}:{minus}{}", r.first, r.last).as_bytes());
    }

    pub(crate) fn sequence_set(&mut self, s: &SequenceSet) {
        match s {
            SequenceSet::Saved => self.out.push(b'$'),
            SequenceSet::Set(ranges) => {
                for (k, r) in ranges.iter().enumerate() {
                    if k > 0 {
                        self.out.push(b',');
                    }
                    match *r {
                        SeqRange::Single(n) => self.seq_num(n),
                        SeqRange::Range(a, b) => {
                            self.seq_num(a);
                            self.out.push(b':');
                            self.seq_num(b);
                        }
                    }
                }
            }
        }
    }

    fn two(&mut self, n: u32) {
        self.out.push(b'0' + (n / 10 % 10) as u8);
        self.out.push(b'0' + (n % 10) as u8);
    }

    pub(crate) fn date(&mut self, d: &Date) {
        self.num(u64::from(d.day));
        self.out.push(b'-');
        self.raw(MONTHS[usize::from(d.month.clamp(1, 12) - 1)].as_bytes());
        self.out.push(b'-');
        self.two(u32::from(d.year) / 100);
        self.two(u32::from(d.year) % 100);
    }

    pub(crate) fn date_time(&mut self, d: &DateTime) {
        self.out.push(b'"');
        if d.date.day < 10 {
            self.out.push(b' ');
        }
        self.date(&d.date);
        self.sp();
        self.two(u32::from(d.hour));
        self.out.push(b':');
        self.two(u32::from(d.minute));
        self.out.push(b':');
        self.two(u32::from(d.second));
        self.sp();
        self.out.push(if d.zone_minutes < 0 { b'-' } else { b'+' });
        let z = u32::from(d.zone_minutes.unsigned_abs());
        self.two(z / 60);
        self.two(z % 60);
        self.out.push(b'"');
    }

    pub(crate) fn value(&mut self, v: &Value<'_>) {
        match v {
            Value::Nil => self.raw(b"NIL"),
            Value::Number(n) => self.num(*n),
            Value::Atom(a) => self.atom(a),
            Value::Flag(a) => {
                self.out.push(b'\\');
                self.atom(a);
            }
            Value::String(s) => self.string(s),
            Value::List(l) => self.list(l, |e, v| e.value(v)),
        }
    }

    /// A delimiter: quoted char or NIL.
    pub(crate) fn delimiter(&mut self, d: Option<u8>) {
        match d {
            None => self.raw(b"NIL"),
            Some(c) => {
                // CR, LF and NUL cannot be quoted: send the one-byte string as a literal then.
                let s = [c];
                if Self::quotable(&s) {
                    self.quoted(&s)
                } else {
                    self.literal(&s, false)
                }
            }
        }
    }
}

//! Dot-unstuffing: the receiving side of SMTP `DATA` and POP3 multi-line
//! responses.

use bytes::{Buf, Bytes, BytesMut};
use memchr::memchr2;

use crate::Status;
use crate::simd::{BLOCK, Skip, skip_plain_blocks};

/// What the [`Unstuffer`] does with a bare CR or bare LF in the data.
///
/// Only CRLF ends a line on the wire (RFC 5321 §2.3.8). Either way, a bare CR
/// or LF never starts a line for the purpose of dot handling, so it can never
/// help end the data: see [`manual`](crate::manual).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum BareEol {
    /// The data is refused: the unstuffer stops handing out content, drops
    /// the rest up to the real end of data, then reports
    /// [`DataEnd::Rejected`] (an SMTP server answers 550 and stores
    /// nothing).
    #[default]
    Reject,
    /// Each bare CR and bare LF is handed out as CRLF. The byte after it is
    /// still not at a line start: a `.` there is content and is kept.
    Normalize,
}

/// Which bare line-end byte was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BareEolKind {
    /// A CR not followed by LF.
    Cr,
    /// An LF not preceded by CR.
    Lf,
}

/// Configuration of an [`Unstuffer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct UnstuffConfig {
    /// The most content octets (after unstuffing) accepted; beyond it the
    /// rest is dropped and the end reports [`DataEnd::TooLarge`] (SMTP 552,
    /// RFC 5321 §4.5.3.1.9, RFC 1870). `u64::MAX` means no limit.
    pub max_size: u64,
    /// What a bare CR or LF in the data means.
    pub bare_eol: BareEol,
}

impl Default for UnstuffConfig {
    fn default() -> Self {
        Self {
            // Postfix's message_size_limit default (10 240 000 octets): a
            // common, conservative ceiling; servers set their SIZE value.
            max_size: 10_240_000,
            // SMTP smuggling (CVE-2023-51764/51765/51766): refuse data with
            // bare CR or LF rather than guess what the sender meant.
            bare_eol: BareEol::Reject,
        }
    }
}

impl UnstuffConfig {
    /// A configuration with the given size limit and the default policy.
    pub fn with_max_size(max_size: u64) -> Self {
        Self {
            max_size,
            ..Self::default()
        }
    }

    /// Sets the bare CR/LF policy.
    pub fn bare_eol(mut self, bare_eol: BareEol) -> Self {
        self.bare_eol = bare_eol;
        self
    }
}

/// How the data ended. Reported once, when the real `<CRLF>.<CRLF>` has been
/// consumed, whatever happened before: the server answers at that moment and
/// parses what follows as commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DataEnd {
    /// All content was handed out (SMTP: answer 250).
    Accepted {
        /// Content octets handed out, after unstuffing.
        size: u64,
    },
    /// A bare CR or LF was found under [`BareEol::Reject`]; content after it
    /// was dropped (SMTP: answer 550 and store nothing, including the
    /// chunks already handed out).
    Rejected {
        /// The byte found.
        kind: BareEolKind,
        /// Its offset from the first byte of the data on the wire.
        offset: u64,
    },
    /// The content passed [`UnstuffConfig::max_size`]: the first
    /// `max_size` octets were handed out, the rest dropped without being
    /// buffered (SMTP: answer 552, RFC 5321 §4.5.3.1.9, and store nothing).
    TooLarge {
        /// Content octets in the whole data (counted while dropping).
        size: u64,
        /// The configured limit.
        limit: u64,
    },
}

impl DataEnd {
    /// True for [`DataEnd::Accepted`].
    pub fn is_accepted(&self) -> bool {
        matches!(self, DataEnd::Accepted { .. })
    }
}

/// One step of output of an [`Unstuffer`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Unstuffed {
    /// Content, never empty: a view of the receive buffer (or a static CRLF
    /// under [`BareEol::Normalize`]). Chunks end anywhere, not on lines.
    Data(Bytes),
    /// The real end of data was consumed; bytes after it are still in the
    /// buffer. The caller MUST act on the verdict before reading those bytes
    /// as commands.
    End(DataEnd),
}

/// Decodes a dot-stuffed body (RFC 5321 §4.5.2, RFC 1939 §3) from a
/// caller-owned receive buffer, in streaming fashion.
///
/// Start it right after the line that opens the data (the `DATA` command,
/// or a POP3 `+OK` line of a multi-line response), with that line already
/// taken off the buffer. Then call [`Unstuffer::next_chunk`] until it gives
/// [`Status::Partial`] (read more, append, call again) or
/// [`Unstuffed::End`].
///
/// - Content is split off the buffer as [`Bytes`] views, many lines at a
///   time: bytes are never copied. A doubled leading dot is removed by
///   dropping it from the buffer between two chunks.
/// - The data ends only at `<CRLF>.<CRLF>`, or at `.<CRLF>` as the very first
///   line. Bare CR and LF never end a line for this purpose (SMTP
///   smuggling, see [`manual`](crate::manual)).
/// - On a policy violation or an oversize body the unstuffer keeps
///   consuming, dropping bytes, up to the real end of data; only then does
///   it report the verdict. Bytes after the end stay in the buffer.
/// - The content handed out is the same whatever the split: everything up
///   to the first bare CR/LF under [`BareEol::Reject`], and at most the first
///   [`UnstuffConfig::max_size`] octets.
/// - Memory: the unstuffer holds nothing itself; at [`Status::Partial`] the
///   buffer holds at most two undecided bytes (`.`, `.\r` at a line start, or
///   a trailing `\r`).
///
/// ```
/// use bytes::BytesMut;
/// use mailwire_line::{BareEolKind, DataEnd, Status, UnstuffConfig, Unstuffed, Unstuffer};
///
/// // A smuggling attempt: "\n.\r\n" is not the end of the data.
/// let mut buf = BytesMut::from(&b"a\n.\r\nMAIL FROM:<x@y>\r\n.\r\nRSET\r\n"[..]);
/// let mut u = Unstuffer::new(UnstuffConfig::default());
/// // "a" is handed out before the bare LF is seen.
/// assert_eq!(u.next_chunk(&mut buf), Status::Complete(Unstuffed::Data("a".into())));
/// assert_eq!(
///     u.next_chunk(&mut buf),
///     Status::Complete(Unstuffed::End(DataEnd::Rejected { kind: BareEolKind::Lf, offset: 1 }))
/// );
/// assert_eq!(&buf[..], b"RSET\r\n");
/// ```
#[derive(Debug, Clone)]
pub struct Unstuffer {
    config: UnstuffConfig,
    /// The next byte of the buffer starts a line (after CRLF or at the start).
    at_line_start: bool,
    /// Under Normalize, a CRLF is owed for a bare CR/LF just consumed.
    pending_crlf: bool,
    /// Content octets counted so far (handed out, or that would have been).
    size: u64,
    /// Wire octets consumed so far.
    consumed: u64,
    /// The first violation or overflow: content is being dropped.
    verdict: Option<DataEnd>,
    finished: bool,
}

/// Where a content scan stopped.
enum Stop {
    /// The buffer is exhausted (maybe but for a trailing CR left undecided).
    More,
    /// The scanned bytes end with CRLF: the next byte starts a line.
    LineStart,
    /// A bare CR or LF sits right after the scanned bytes.
    Bare(BareEolKind),
}

/// Scans content from the start of `buf` (not at a line start, or at one
/// whose dot check is done): returns how many bytes are plain content, and
/// why it stopped.
///
/// Plain content runs across whole lines; it stops only before a line that
/// starts with `.`, at a bare CR/LF, or where the buffer ends, so a chunk
/// spans many lines. Long runs are skipped 64 bytes at a time by
/// `skip_plain_blocks`; the exact decisions are made with `memchr2`.
#[inline]
fn scan(buf: &[u8]) -> (usize, Stop) {
    let mut pos = 0;
    loop {
        match skip_plain_blocks(buf, pos) {
            Skip::DotLine(q) => return (q, Stop::LineStart),
            Skip::Resume(p) => pos = p,
        }
        // Exact scan, until a stop or until well past the block where the
        // fast path gave up (then back to the fast path).
        let limit = pos + 2 * BLOCK;
        loop {
            let Some(i) = memchr2(b'\r', b'\n', &buf[pos..]) else {
                return (buf.len(), Stop::More);
            };
            let p = pos + i;
            if buf[p] == b'\n' {
                return (p, Stop::Bare(BareEolKind::Lf));
            }
            match buf.get(p + 1) {
                // A CR at the end: leave it undecided in the buffer.
                None => return (p, Stop::More),
                Some(b'\n') => {
                    pos = p + 2;
                    match buf.get(pos) {
                        None | Some(b'.') => return (pos, Stop::LineStart),
                        Some(_) => {}
                    }
                }
                Some(_) => return (p, Stop::Bare(BareEolKind::Cr)),
            }
            if pos >= limit {
                break;
            }
        }
    }
}

static CRLF: &[u8] = b"\r\n";

impl Unstuffer {
    /// An unstuffer at the start of the data (a line start).
    pub fn new(config: UnstuffConfig) -> Self {
        Self {
            config,
            at_line_start: true,
            pending_crlf: false,
            size: 0,
            consumed: 0,
            verdict: None,
            finished: false,
        }
    }

    /// The configuration in force.
    pub fn config(&self) -> &UnstuffConfig {
        &self.config
    }

    /// Starts over for a new body with the same configuration.
    pub fn reset(&mut self) {
        *self = Self::new(self.config);
    }

    /// True once [`Unstuffed::End`] has been returned.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// True while content is being dropped (after a violation or overflow),
    /// before the end is reached.
    pub fn is_discarding(&self) -> bool {
        self.verdict.is_some() && !self.finished
    }

    /// Content octets counted so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Wire octets consumed from buffers so far, including the final
    /// `.<CRLF>` once finished. A [`LineFramer`](crate::LineFramer) sharing
    /// the buffer can be told with [`LineFramer::skipped`](crate::LineFramer::skipped).
    pub fn consumed(&self) -> u64 {
        self.consumed
    }

    fn advance(&mut self, buf: &mut BytesMut, n: usize) {
        buf.advance(n);
        self.consumed += n as u64;
    }

    fn end(&mut self) -> DataEnd {
        self.finished = true;
        match self.verdict {
            Some(DataEnd::TooLarge { limit, .. }) => DataEnd::TooLarge {
                size: self.size,
                limit,
            },
            Some(v) => v,
            None => DataEnd::Accepted { size: self.size },
        }
    }

    /// Counts `n` content octets and returns how many of them may be handed
    /// out: all of them while within the limit and no verdict is set, so the
    /// content handed out is always exactly the first `max_size` octets (or
    /// those before a violation), whatever the split.
    fn allow(&mut self, n: usize) -> usize {
        let room = match self.verdict {
            Some(_) => 0,
            None => self.config.max_size.saturating_sub(self.size),
        };
        let k = usize::try_from(room).map_or(n, |room| room.min(n));
        self.size += n as u64;
        if self.size > self.config.max_size && self.verdict.is_none() {
            self.verdict = Some(DataEnd::TooLarge {
                size: self.size,
                limit: self.config.max_size,
            });
        }
        k
    }

    /// The next step: a content chunk, the end of data, or
    /// [`Status::Partial`] when the buffer holds nothing decidable (read more,
    /// append it to `buf`, call again).
    ///
    /// After [`Unstuffed::End`] it returns `Partial` and leaves `buf` alone
    /// until [`Unstuffer::reset`].
    pub fn next_chunk(&mut self, buf: &mut BytesMut) -> Status<Unstuffed> {
        if self.finished {
            return Status::Partial;
        }
        if self.pending_crlf {
            self.pending_crlf = false;
            let k = self.allow(2);
            if k > 0 {
                return Status::Complete(Unstuffed::Data(Bytes::from_static(&CRLF[..k])));
            }
        }
        loop {
            if self.at_line_start {
                match buf.first() {
                    None => return Status::Partial,
                    Some(b'.') => {
                        match buf.get(1) {
                            None => return Status::Partial,
                            Some(b'\r') => match buf.get(2) {
                                None => return Status::Partial,
                                Some(b'\n') => {
                                    self.advance(buf, 3);
                                    return Status::Complete(Unstuffed::End(self.end()));
                                }
                                Some(_) => {}
                            },
                            Some(_) => {}
                        }
                        // RFC 5321 §4.5.2: a leading dot with more on the
                        // line is deleted (one `.` of `..`, or a lone `.`).
                        self.advance(buf, 1);
                    }
                    Some(_) => {}
                }
                self.at_line_start = false;
            }

            let (n, stop) = scan(buf);
            let k = self.allow(n);
            let chunk = if k > 0 {
                let chunk = buf.split_to(k).freeze();
                self.consumed += k as u64;
                Some(chunk)
            } else {
                None
            };
            self.advance(buf, n - k);
            match stop {
                Stop::More => {
                    return match chunk {
                        Some(chunk) => Status::Complete(Unstuffed::Data(chunk)),
                        None => Status::Partial,
                    };
                }
                Stop::LineStart => self.at_line_start = true,
                Stop::Bare(kind) => {
                    let offset = self.consumed;
                    self.advance(buf, 1);
                    match self.config.bare_eol {
                        BareEol::Reject => {
                            if self.verdict.is_none() {
                                self.verdict = Some(DataEnd::Rejected { kind, offset });
                            }
                            // Counted as one octet while dropping.
                            self.size += 1;
                        }
                        BareEol::Normalize => {
                            if chunk.is_some() {
                                self.pending_crlf = true;
                            } else {
                                let k = self.allow(2);
                                if k > 0 {
                                    return Status::Complete(Unstuffed::Data(Bytes::from_static(
                                        &CRLF[..k],
                                    )));
                                }
                            }
                        }
                    }
                }
            }
            if let Some(chunk) = chunk {
                return Status::Complete(Unstuffed::Data(chunk));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input` whole; returns (content, end, leftover).
    fn run(config: UnstuffConfig, input: &[u8]) -> (Vec<u8>, Option<DataEnd>, Vec<u8>) {
        let mut u = Unstuffer::new(config);
        let mut buf = BytesMut::from(input);
        let mut out = Vec::new();
        loop {
            match u.next_chunk(&mut buf) {
                Status::Complete(Unstuffed::Data(d)) => {
                    assert!(!d.is_empty());
                    out.extend_from_slice(&d);
                }
                Status::Complete(Unstuffed::End(e)) => return (out, Some(e), buf.to_vec()),
                Status::Partial => return (out, None, buf.to_vec()),
            }
        }
    }

    fn def() -> UnstuffConfig {
        UnstuffConfig::default()
    }

    #[test]
    fn plain_body() {
        let (out, end, rest) = run(def(), b"Subject: x\r\n\r\nbody\r\n.\r\nQUIT\r\n");
        assert_eq!(out, b"Subject: x\r\n\r\nbody\r\n");
        assert_eq!(end, Some(DataEnd::Accepted { size: 20 }));
        assert_eq!(rest, b"QUIT\r\n");
    }

    #[test]
    fn empty_body() {
        let (out, end, rest) = run(def(), b".\r\nNOOP\r\n");
        assert!(out.is_empty());
        assert_eq!(end, Some(DataEnd::Accepted { size: 0 }));
        assert_eq!(rest, b"NOOP\r\n");
    }

    #[test]
    fn one_empty_line() {
        let (out, end, _) = run(def(), b"\r\n.\r\n");
        assert_eq!(out, b"\r\n");
        assert_eq!(end, Some(DataEnd::Accepted { size: 2 }));
    }

    #[test]
    fn doubled_dots_removed() {
        let (out, end, _) = run(def(), b"..\r\n...x\r\n.y\r\na.b\r\n\r\n..\r\n.\r\n");
        assert_eq!(out, b".\r\n..x\r\ny\r\na.b\r\n\r\n.\r\n");
        assert!(end.unwrap().is_accepted());
    }

    #[test]
    fn zero_copy_chunks() {
        let mut buf = BytesMut::from(&b"line one\r\nline two\r\n..dot\r\n.\r\n"[..]);
        let base = buf.as_ptr() as usize;
        let mut u = Unstuffer::new(def());
        let Status::Complete(Unstuffed::Data(a)) = u.next_chunk(&mut buf) else {
            panic!()
        };
        assert_eq!(&a[..], b"line one\r\nline two\r\n");
        assert_eq!(a.as_ptr() as usize, base);
        let Status::Complete(Unstuffed::Data(b)) = u.next_chunk(&mut buf) else {
            panic!()
        };
        assert_eq!(&b[..], b".dot\r\n");
        assert_eq!(b.as_ptr() as usize, base + 21, "split around the dot");
    }

    #[test]
    fn partial_holds_at_most_two_bytes() {
        for input in [&b"x\r"[..], b"x\r\n.", b"x\r\n.\r", b"."] {
            let (_, end, rest) = run(def(), input);
            assert_eq!(end, None);
            assert!(rest.len() <= 2, "{input:?} left {rest:?}");
        }
    }

    #[test]
    fn bare_lf_rejected_until_real_end() {
        let (out, end, rest) = run(def(), b"ok\r\nbad\nmore\r\n.\r\nNOOP\r\n");
        assert_eq!(out, b"ok\r\nbad");
        assert_eq!(
            end,
            Some(DataEnd::Rejected {
                kind: BareEolKind::Lf,
                offset: 7
            })
        );
        assert_eq!(rest, b"NOOP\r\n");
    }

    #[test]
    fn bare_cr_rejected() {
        let (_, end, _) = run(def(), b"a\rb\r\n.\r\n");
        assert_eq!(
            end,
            Some(DataEnd::Rejected {
                kind: BareEolKind::Cr,
                offset: 1
            })
        );
    }

    #[test]
    fn normalize_bare_eols() {
        let cfg = def().bare_eol(BareEol::Normalize);
        let (out, end, rest) = run(cfg, b"a\nb\rc\r\r\n\n.\r\n.\r\nX");
        // The dot after a normalized bare LF is content, not a line start.
        assert_eq!(out, b"a\r\nb\r\nc\r\n\r\n\r\n.\r\n");
        assert_eq!(
            end,
            Some(DataEnd::Accepted {
                size: out.len() as u64
            })
        );
        assert_eq!(rest, b"X");
    }

    #[test]
    fn too_large_drops_rest_and_reports_at_end() {
        let mut u = Unstuffer::new(UnstuffConfig::with_max_size(10));
        let mut buf = BytesMut::from(&b"12345\r\n"[..]);
        assert_eq!(
            u.next_chunk(&mut buf),
            Status::Complete(Unstuffed::Data("12345\r\n".into()))
        );
        // The first `max_size` octets are handed out, no more.
        buf.extend_from_slice(b"more content\r\n");
        assert_eq!(
            u.next_chunk(&mut buf),
            Status::Complete(Unstuffed::Data("mor".into()))
        );
        assert_eq!(u.next_chunk(&mut buf), Status::Partial);
        for _ in 0..1000 {
            buf.extend_from_slice(b"more content\r\n");
            assert_eq!(u.next_chunk(&mut buf), Status::Partial);
            assert!(buf.is_empty(), "dropped, not buffered");
            assert!(u.is_discarding());
        }
        buf.extend_from_slice(b".\r\nRSET\r\n");
        assert_eq!(
            u.next_chunk(&mut buf),
            Status::Complete(Unstuffed::End(DataEnd::TooLarge {
                size: 7 + 14 * 1001,
                limit: 10
            }))
        );
        assert_eq!(&buf[..], b"RSET\r\n");
        assert_eq!(u.next_chunk(&mut buf), Status::Partial);
        assert_eq!(&buf[..], b"RSET\r\n");
    }

    #[test]
    fn exactly_at_limit_is_accepted() {
        let (_, end, _) = run(UnstuffConfig::with_max_size(5), b"abc\r\n.\r\n");
        assert_eq!(end, Some(DataEnd::Accepted { size: 5 }));
        let (_, end, _) = run(UnstuffConfig::with_max_size(4), b"abc\r\n.\r\n");
        assert!(matches!(end, Some(DataEnd::TooLarge { size: 5, limit: 4 })));
    }

    #[test]
    fn consumed_counts_wire_bytes() {
        let mut u = Unstuffer::new(def());
        let mut buf = BytesMut::from(&b"..a\r\n.\r\nX"[..]);
        while !matches!(u.next_chunk(&mut buf), Status::Complete(Unstuffed::End(_))) {}
        assert_eq!(u.consumed(), 8);
        u.reset();
        assert!(!u.is_finished());
        assert_eq!(u.consumed(), 0);
    }

    #[test]
    fn rfc5321_4_5_2_transparency() {
        // "Before sending a line of mail text, the SMTP client checks the
        // first character of the line. If it is a period, one additional
        // period is inserted at the beginning of the line." The receiver
        // deletes it.
        let (out, end, _) = run(def(), b"..\r\n..leading\r\n.\r\n");
        assert_eq!(out, b".\r\n.leading\r\n");
        assert!(end.unwrap().is_accepted());
    }

    #[test]
    fn rfc5321_d_1_typical_transaction_data() {
        // RFC 5321 Appendix D.1: the client's DATA lines as sent; the line
        // "...etc. etc. etc." is the stuffed form of "..etc. etc. etc.".
        let wire = b"Blah blah blah...\r\n...etc. etc. etc.\r\n.\r\nQUIT\r\n";
        let (out, end, rest) = run(def(), wire);
        assert_eq!(out, b"Blah blah blah...\r\n..etc. etc. etc.\r\n");
        assert_eq!(end, Some(DataEnd::Accepted { size: 37 }));
        assert_eq!(rest, b"QUIT\r\n");
        // And the encoder gives the same wire back.
        assert_eq!(
            crate::stuff_all(&out),
            b"Blah blah blah...\r\n...etc. etc. etc.\r\n.\r\n"
        );
    }

    #[test]
    fn fast_path_finds_every_anomaly_position() {
        // Long well-formed lines (so whole 64-byte blocks are skipped), with
        // one bare LF, bare CR or dot line put at every position.
        let mut base = Vec::new();
        for i in 0..20 {
            base.extend(std::iter::repeat_n(b'a' + i as u8, 50 + i * 7));
            base.extend_from_slice(b"\r\n");
        }
        for pos in 0..base.len() {
            if base[pos] == b'\r' || base[pos] == b'\n' {
                continue;
            }
            for (bad, kind) in [(b'\n', BareEolKind::Lf), (b'\r', BareEolKind::Cr)] {
                let mut wire = base.clone();
                wire[pos] = bad;
                wire.extend_from_slice(b".\r\nX");
                let (out, end, rest) = run(def(), &wire);
                assert_eq!(
                    end,
                    Some(DataEnd::Rejected {
                        kind,
                        offset: pos as u64
                    }),
                    "pos {pos}"
                );
                assert_eq!(out, &base[..pos]);
                assert_eq!(rest, b"X");
            }
            if pos > 0 && base[pos - 1] == b'\n' {
                // A stuffed dot at this line start.
                let mut wire = base[..pos].to_vec();
                wire.extend_from_slice(b"..");
                wire.extend_from_slice(&base[pos..]);
                wire.extend_from_slice(b".\r\nX");
                let mut want = base[..pos].to_vec();
                want.push(b'.');
                want.extend_from_slice(&base[pos..]);
                let (out, end, rest) = run(def(), &wire);
                assert_eq!(out, want, "dot at {pos}");
                assert!(end.unwrap().is_accepted());
                assert_eq!(rest, b"X");
            }
        }
    }

    #[test]
    fn rfc1939_3_multi_line_termination() {
        // RFC 1939 §3: a multi-line response ends with "." CRLF; a line
        // starting with the termination octet is byte-stuffed.
        let (out, end, rest) = run(def(), b"1 120\r\n2 200\r\n..3\r\n.\r\n+OK next\r\n");
        assert_eq!(out, b"1 120\r\n2 200\r\n.3\r\n");
        assert!(end.unwrap().is_accepted());
        assert_eq!(rest, b"+OK next\r\n");
    }
}

//! CRLF line framing with a length limit.

use bytes::{Buf, Bytes, BytesMut};
use memchr::memchr;

/// What a bare LF (an LF not preceded by CR) means to the [`LineFramer`].
///
/// RFC 5321 §2.3.8 and RFC 1939 §3 end every line with CRLF; a bare LF is
/// not a line end. Accepting it is a leniency for broken peers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum BareLf {
    /// A line ending in a bare LF is reported as [`LineError::BareLf`] and
    /// dropped (up to and including the LF); framing goes on.
    #[default]
    Reject,
    /// A bare LF ends a line like CRLF does.
    Accept,
}

/// Configuration of a [`LineFramer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct LineConfig {
    /// The longest line accepted, in octets, counting its terminator.
    pub max_len: usize,
    /// What a bare LF means.
    pub bare_lf: BareLf,
}

impl Default for LineConfig {
    fn default() -> Self {
        Self {
            // RFC 5321 §4.5.3.1.6: a text line is at most 1000 octets with its
            // CRLF; a command line (512, §4.5.3.1.4) or a POP3 line (512,
            // RFC 2449 §3) fits under it. Protocol crates narrow it per use.
            max_len: 1000,
            // RFC 5321 §2.3.8: only CRLF ends a line; strict by default
            // (STYLE.md: protocol framing is strict, leniency is an option).
            bare_lf: BareLf::Reject,
        }
    }
}

impl LineConfig {
    /// A configuration with the given maximum line length (terminator
    /// included) and the default bare-LF policy.
    pub fn with_max_len(max_len: usize) -> Self {
        Self {
            max_len,
            ..Self::default()
        }
    }

    /// Sets the bare-LF policy.
    pub fn bare_lf(mut self, bare_lf: BareLf) -> Self {
        self.bare_lf = bare_lf;
        self
    }
}

/// A line that failed framing. The line is dropped; framing goes on with the
/// next one (an SMTP server answers 500, RFC 5321 §4.5.3.1.4, and continues).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum LineError {
    /// The line is longer than [`LineConfig::max_len`]. Reported once, as
    /// soon as the limit is passed; the rest of the line is discarded as it
    /// arrives, never buffered.
    #[error("line at offset {offset} longer than {limit} octets")]
    TooLong {
        /// Stream offset of the first byte of the line.
        offset: u64,
        /// The configured limit.
        limit: usize,
    },
    /// The line ends in a bare LF and [`BareLf::Reject`] is in force.
    #[error("bare LF at offset {offset}")]
    BareLf {
        /// Stream offset of the LF.
        offset: u64,
    },
}

/// One complete line: a frozen, zero-copy view of the receive buffer.
///
/// [`Line::content`] is the line without its terminator, [`Line::raw`] with it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Line {
    raw: Bytes,
    content_len: usize,
    offset: u64,
}

impl Line {
    /// The line without its terminator.
    pub fn content(&self) -> &[u8] {
        &self.raw[..self.content_len]
    }

    /// The line without its terminator, as a `Bytes` view (no copy).
    pub fn content_bytes(&self) -> Bytes {
        self.raw.slice(..self.content_len)
    }

    /// The line with its terminator (CRLF, or LF under [`BareLf::Accept`]).
    pub fn raw(&self) -> &Bytes {
        &self.raw
    }

    /// The terminator alone: `b"\r\n"` or `b"\n"`.
    pub fn terminator(&self) -> &[u8] {
        &self.raw[self.content_len..]
    }

    /// True when the line ended in a bare LF (only under [`BareLf::Accept`]).
    pub fn bare_lf(&self) -> bool {
        self.raw.len() - self.content_len == 1
    }

    /// Stream offset of the first byte of the line.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The line without its terminator.
    pub fn into_content(self) -> Bytes {
        let mut raw = self.raw;
        raw.truncate(self.content_len);
        raw
    }

    /// The line with its terminator.
    pub fn into_raw(self) -> Bytes {
        self.raw
    }
}

impl AsRef<[u8]> for Line {
    fn as_ref(&self) -> &[u8] {
        self.content()
    }
}

/// Splits a caller-owned receive buffer into CRLF-terminated lines.
///
/// The framer keeps no bytes of its own: complete lines are split off the
/// front of the buffer with [`BytesMut::split_to`] and frozen, so each
/// [`Line`] is a view of the bytes that were read, never a copy. Incomplete
/// input stays in the buffer; the framer remembers how far it has already
/// searched, so feeding a long line byte by byte stays linear.
///
/// A line longer than [`LineConfig::max_len`] is reported as
/// [`LineError::TooLong`] once, as soon as the limit is passed; the framer
/// then drops input up to the end of that line (what it has and what
/// arrives later) and goes on with the next line. Memory is bounded by the
/// limit, not by the peer.
///
/// ```
/// use bytes::BytesMut;
/// use mailwire_line::{LineConfig, LineError, LineFramer};
///
/// let mut framer = LineFramer::new(LineConfig::with_max_len(8));
/// let mut buf = BytesMut::from(&b"NOOP\r\nHELO a.very.long.name\r\nQU"[..]);
/// assert_eq!(framer.next_line(&mut buf).unwrap().unwrap().content(), b"NOOP");
/// assert_eq!(
///     framer.next_line(&mut buf),
///     Some(Err(LineError::TooLong { offset: 6, limit: 8 }))
/// );
/// assert_eq!(framer.next_line(&mut buf), None); // "QU" is incomplete
/// buf.extend_from_slice(b"IT\r\n");
/// assert_eq!(framer.next_line(&mut buf).unwrap().unwrap().content(), b"QUIT");
/// ```
#[derive(Debug, Clone)]
pub struct LineFramer {
    config: LineConfig,
    /// `buf[..scanned]` is known to hold no LF.
    scanned: usize,
    /// Dropping the rest of an over-long line.
    discarding: bool,
    /// Stream offset of `buf[0]`.
    offset: u64,
}

impl LineFramer {
    /// A framer at the start of a stream.
    pub fn new(config: LineConfig) -> Self {
        Self {
            config,
            scanned: 0,
            discarding: false,
            offset: 0,
        }
    }

    /// The configuration in force.
    pub fn config(&self) -> &LineConfig {
        &self.config
    }

    /// Changes the configuration, e.g. a longer limit after AUTH. Takes
    /// effect from the next call.
    pub fn set_config(&mut self, config: LineConfig) {
        self.config = config;
    }

    /// True while the rest of an over-long line is being dropped.
    pub fn is_discarding(&self) -> bool {
        self.discarding
    }

    /// Stream offset of the next byte the framer will look at: how many bytes
    /// it has taken off buffers so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Forget any line in progress (e.g. after STARTTLS, RFC 3207 §4.2,
    /// where the caller also clears its buffer). Offsets restart at zero.
    pub fn reset(&mut self) {
        self.scanned = 0;
        self.discarding = false;
        self.offset = 0;
    }

    /// Tells the framer that the caller took `n` bytes off the front of the
    /// buffer itself (e.g. a DATA body consumed by an [`Unstuffer`](crate::Unstuffer)),
    /// so that offsets stay true. Any line in progress is forgotten.
    pub fn skipped(&mut self, n: u64) {
        self.offset += n;
        self.scanned = 0;
    }

    fn consume(&mut self, buf: &mut BytesMut, n: usize) {
        buf.advance(n);
        self.offset += n as u64;
        self.scanned = 0;
    }

    /// The next line of `buf`, split off its front.
    ///
    /// - `Some(Ok(line))`: a complete line, removed from `buf`.
    /// - `Some(Err(e))`: a line that failed framing; what of it is in `buf` was
    ///   removed, and (for [`LineError::TooLong`]) the rest will be dropped as it
    ///   arrives. Call again for the next line.
    /// - `None`: no complete line yet; append more input and call again.
    pub fn next_line(&mut self, buf: &mut BytesMut) -> Option<Result<Line, LineError>> {
        if self.discarding {
            match memchr(b'\n', buf) {
                Some(lf) => {
                    self.consume(buf, lf + 1);
                    self.discarding = false;
                }
                None => {
                    let n = buf.len();
                    self.consume(buf, n);
                    return None;
                }
            }
        }
        let max_len = self.config.max_len;
        // Never search beyond what could still be a line within the limit.
        let start = self.scanned.min(buf.len());
        match memchr(b'\n', &buf[start..]) {
            Some(i) => {
                let lf = start + i;
                let len = lf + 1;
                let offset = self.offset;
                let has_cr = lf > 0 && buf[lf - 1] == b'\r';
                if len > max_len {
                    self.consume(buf, len);
                    return Some(Err(LineError::TooLong {
                        offset,
                        limit: max_len,
                    }));
                }
                if !has_cr && self.config.bare_lf == BareLf::Reject {
                    self.consume(buf, len);
                    return Some(Err(LineError::BareLf {
                        offset: offset + lf as u64,
                    }));
                }
                let raw = buf.split_to(len).freeze();
                self.offset += len as u64;
                self.scanned = 0;
                Some(Ok(Line {
                    raw,
                    content_len: if has_cr { len - 2 } else { len - 1 },
                    offset,
                }))
            }
            None => {
                if !buf.is_empty() && buf.len() >= max_len {
                    // Even if the next byte is LF the line is too long.
                    let offset = self.offset;
                    let n = buf.len();
                    self.consume(buf, n);
                    self.discarding = true;
                    return Some(Err(LineError::TooLong {
                        offset,
                        limit: max_len,
                    }));
                }
                self.scanned = buf.len();
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(config: LineConfig, input: &[u8]) -> Vec<Result<Vec<u8>, LineError>> {
        let mut framer = LineFramer::new(config);
        let mut buf = BytesMut::from(input);
        let mut out = Vec::new();
        while let Some(r) = framer.next_line(&mut buf) {
            out.push(r.map(|l| l.content().to_vec()));
        }
        out
    }

    #[test]
    fn splits_crlf_lines_zero_copy() {
        let mut buf = BytesMut::from(&b"EHLO a\r\nMAIL FROM:<>\r\npart"[..]);
        let base = buf.as_ptr();
        let mut f = LineFramer::new(LineConfig::default());
        let l1 = f.next_line(&mut buf).unwrap().unwrap();
        assert_eq!(l1.content(), b"EHLO a");
        assert_eq!(l1.raw().as_ref(), b"EHLO a\r\n");
        assert_eq!(l1.terminator(), b"\r\n");
        assert_eq!(l1.raw().as_ptr(), base, "the line is a view, not a copy");
        let l2 = f.next_line(&mut buf).unwrap().unwrap();
        assert_eq!(l2.content(), b"MAIL FROM:<>");
        assert_eq!(l2.offset(), 8);
        assert_eq!(l2.into_content().as_ref(), b"MAIL FROM:<>");
        assert!(f.next_line(&mut buf).is_none());
        assert_eq!(&buf[..], b"part");
    }

    #[test]
    fn zero_limit_reports_each_line_once() {
        let mut f = LineFramer::new(LineConfig::with_max_len(0));
        let mut buf = BytesMut::new();
        assert_eq!(f.next_line(&mut buf), None);
        buf.extend_from_slice(b"a\r\nb");
        assert!(matches!(
            f.next_line(&mut buf),
            Some(Err(LineError::TooLong { offset: 0, .. }))
        ));
        assert!(matches!(
            f.next_line(&mut buf),
            Some(Err(LineError::TooLong { offset: 3, .. }))
        ));
        assert_eq!(f.next_line(&mut buf), None);
        assert_eq!(f.next_line(&mut buf), None);
    }

    #[test]
    fn empty_line() {
        assert_eq!(lines(LineConfig::default(), b"\r\n"), vec![Ok(vec![])]);
    }

    #[test]
    fn bare_lf_rejected_by_default_and_framing_goes_on() {
        assert_eq!(
            lines(LineConfig::default(), b"NOOP\nQUIT\r\n"),
            vec![Err(LineError::BareLf { offset: 4 }), Ok(b"QUIT".to_vec())]
        );
    }

    #[test]
    fn bare_lf_accepted_when_asked() {
        let cfg = LineConfig::default().bare_lf(BareLf::Accept);
        let mut f = LineFramer::new(cfg);
        let mut buf = BytesMut::from(&b"NOOP\nQUIT\r\n"[..]);
        let l = f.next_line(&mut buf).unwrap().unwrap();
        assert_eq!(l.content(), b"NOOP");
        assert!(l.bare_lf());
        assert_eq!(l.terminator(), b"\n");
        let l = f.next_line(&mut buf).unwrap().unwrap();
        assert_eq!(l.content(), b"QUIT");
        assert!(!l.bare_lf());
    }

    #[test]
    fn bare_cr_stays_in_the_line() {
        assert_eq!(
            lines(LineConfig::default(), b"A\rB\r\n"),
            vec![Ok(b"A\rB".to_vec())]
        );
    }

    #[test]
    fn limit_counts_the_terminator() {
        // 8 octets with CRLF: fits.
        assert_eq!(
            lines(LineConfig::with_max_len(8), b"123456\r\n"),
            vec![Ok(b"123456".to_vec())]
        );
        // 9 octets: too long.
        assert_eq!(
            lines(LineConfig::with_max_len(8), b"1234567\r\nok\r\n"),
            vec![
                Err(LineError::TooLong {
                    offset: 0,
                    limit: 8
                }),
                Ok(b"ok".to_vec())
            ]
        );
    }

    #[test]
    fn too_long_reported_once_and_not_buffered() {
        let mut f = LineFramer::new(LineConfig::with_max_len(10));
        let mut buf = BytesMut::new();
        buf.extend_from_slice(b"0123456789");
        assert_eq!(
            f.next_line(&mut buf),
            Some(Err(LineError::TooLong {
                offset: 0,
                limit: 10
            }))
        );
        assert!(buf.is_empty());
        for _ in 0..100 {
            buf.extend_from_slice(b"abcdefghijklmnop");
            assert_eq!(f.next_line(&mut buf), None);
            assert!(buf.is_empty(), "discarded, not buffered");
            assert!(f.is_discarding());
        }
        buf.extend_from_slice(b"xyz\r\nNOOP\r\n");
        let l = f.next_line(&mut buf).unwrap().unwrap();
        assert_eq!(l.content(), b"NOOP");
        assert_eq!(l.offset(), 10 + 1600 + 5);
    }

    #[test]
    fn partial_line_limit_boundary() {
        // 7 bytes and a CR in the buffer, limit 9: may still end within it.
        let mut f = LineFramer::new(LineConfig::with_max_len(9));
        let mut buf = BytesMut::from(&b"1234567\r"[..]);
        assert_eq!(f.next_line(&mut buf), None);
        buf.extend_from_slice(b"\n");
        assert_eq!(
            f.next_line(&mut buf).unwrap().unwrap().content(),
            b"1234567"
        );
    }

    #[test]
    fn byte_by_byte_matches_whole() {
        let input = b"A\r\nBB\nCCCCCCCCCCCCCCCCCCCCC\r\n\r\nD\rE\r\nlast";
        let cfg = LineConfig::with_max_len(12);
        let whole = lines(cfg, input);
        let mut f = LineFramer::new(cfg);
        let mut buf = BytesMut::new();
        let mut split = Vec::new();
        for b in input {
            buf.extend_from_slice(&[*b]);
            while let Some(r) = f.next_line(&mut buf) {
                split.push(r.map(|l| l.content().to_vec()));
            }
        }
        assert_eq!(whole, split);
        assert_eq!(whole.len(), 5);
    }

    #[test]
    fn rfc5321_4_5_3_1_6_text_line_limit_default() {
        let mut line = vec![b'x'; 998];
        line.extend_from_slice(b"\r\n");
        assert_eq!(lines(LineConfig::default(), &line).len(), 1);
        assert!(lines(LineConfig::default(), &line)[0].is_ok());
        line.insert(0, b'x');
        assert!(matches!(
            lines(LineConfig::default(), &line)[0],
            Err(LineError::TooLong { .. })
        ));
    }
}

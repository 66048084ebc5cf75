//! Framing: splitting a byte stream into complete messages before parsing.
//!
//! An IMAP message is one or more lines, where every line that ends in a literal
//! announcement (`{n}`, `{n+}`, `~{n}`) is followed by exactly `n` octets
//! and then the rest of the message:
//!
//! ```text
//! C: a1 APPEND INBOX {11}        <- line ending in a literal announcement
//! S: + go ahead                  <- the server's continuation request (synchronizing literal only)
//! C: Hello World                 <- 11 octets, never scanned
//! C: (empty rest of line) CRLF   <- the message ends at the next CRLF not inside a literal
//! ```
//!
//! The [`Fragmenter`] finds line ends with `memchr` and steps over literals by
//! their length, so a literal costs O(1) work however large it is. A literal
//! larger than [`FragmentOptions::max_literal`] is reported as soon as its
//! announcement line is complete, before any of its bytes are buffered.

use bytes::{Bytes, BytesMut};

use crate::types::core::LiteralMode;

/// Limits for the [`Fragmenter`]. Every one bounds memory the peer can make us use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct FragmentOptions {
    /// Longest line (outside literals), CRLF included. Default 1 MiB: far above
    /// any real FETCH line with ENVELOPE and BODYSTRUCTURE, small enough to bound a flood.
    pub max_line: usize,
    /// Largest literal. Default 64 MiB: larger than the message size limits of common servers.
    pub max_literal: u64,
    /// Largest complete message (lines and literals). Default 80 MiB: one
    /// maximal literal plus its surrounding lines.
    pub max_message: u64,
    /// Leniency: a line that holds only spaces right after a literal does not
    /// end the message. Some servers (recorded from Gmail) send a literal one
    /// line short and put the missing blank line before the closing `)`.
    /// Default false: strict framing.
    pub blank_line_after_literal_continues: bool,
    /// Largest literal that may be *streamed* (see [`Fragmenter::stream_literal`]):
    /// a literal above [`max_literal`](Self::max_literal) but not above this is
    /// still announced, and the caller must stream it or the next
    /// [`Fragmenter::poll`] fails with [`FrameError::LiteralTooLarge`]. Default 0:
    /// no streaming, every literal above `max_literal` is refused at once.
    pub max_streamed_literal: u64,
}

impl Default for FragmentOptions {
    fn default() -> Self {
        Self {
            max_line: 1 << 20,
            max_literal: 64 << 20,
            max_message: 80 << 20,
            blank_line_after_literal_continues: false,
            max_streamed_literal: 0,
        }
    }
}

/// A framing fault. It is fatal: the stream cannot be resynchronized, and every
/// later [`Fragmenter::poll`] returns it again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// A line grew past [`FragmentOptions::max_line`] without a CRLF.
    #[error("line longer than {max} bytes")]
    LineTooLong {
        /// The limit.
        max: usize,
    },
    /// A literal announced more than [`FragmentOptions::max_literal`] octets.
    #[error("literal of {length} bytes exceeds the limit of {max}")]
    LiteralTooLarge {
        /// The announced length.
        length: u64,
        /// The limit.
        max: u64,
    },
    /// A message grew past [`FragmentOptions::max_message`].
    #[error("message larger than {max} bytes")]
    MessageTooLarge {
        /// The limit.
        max: u64,
    },
}

/// What [`Fragmenter::poll`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A line ended with a literal announcement; its `length` octets come next.
    /// For a [`LiteralMode::Sync`] literal received by a server, a continuation
    /// request is due now (the client waits for it); a server that refuses the
    /// literal answers the command instead and MUST call
    /// [`Fragmenter::reject_literal`]. A client receiving a literal from a server
    /// has nothing to do.
    LiteralAnnounced {
        /// Announced length in octets.
        length: u64,
        /// Synchronizing or not.
        mode: LiteralMode,
        /// `~{n}` (RFC 3516 literal8).
        binary: bool,
    },
    /// A complete message: every line and literal of it, with the final CRLF.
    /// It is a view of the receive buffer, never a copy. Parse it with
    /// [`crate::parse::response`] or [`crate::parse::command`].
    Message(Bytes),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Looking for the CRLF of the line starting at `line_start`; bytes before `scanned` hold none.
    Line { line_start: usize, scanned: usize },
    /// Inside a literal that ends at `end` (an offset in the buffer).
    Literal { end: usize },
    /// Handing out a streamed literal: `remaining` octets of it still come
    /// through [`Fragmenter::poll_streamed`]. The message read so far sits in
    /// `Fragmenter::held`.
    Streaming { remaining: u64 },
}

/// Splits a byte stream into complete IMAP messages; feed any split.
///
/// ```
/// use mailwire_imap::{Fragmenter, FragmentOptions, Frame, LiteralMode};
/// let mut f = Fragmenter::new(FragmentOptions::default());
/// f.push(b"a1 LOGIN {4}\r\n");
/// assert_eq!(
///     f.poll(),
///     Ok(Some(Frame::LiteralAnnounced { length: 4, mode: LiteralMode::Sync, binary: false }))
/// );
/// assert_eq!(f.poll(), Ok(None)); // waiting for the literal
/// f.push(b"fred \"x\"\r\n");
/// assert!(matches!(f.poll(), Ok(Some(Frame::Message(m))) if &m[..] == b"a1 LOGIN {4}\r\nfred \"x\"\r\n"));
/// ```
#[derive(Debug)]
pub struct Fragmenter {
    buf: BytesMut,
    state: State,
    opts: FragmentOptions,
    error: Option<FrameError>,
    consumed: u64,
    literal_line_end: Option<usize>,
    after_literal: Option<usize>,
    /// The literal just announced is over `max_literal`: it must be streamed.
    must_stream: Option<u64>,
    /// While streaming: the message so far, the literal announcement rewritten to `{0}`.
    held: BytesMut,
}

impl Fragmenter {
    /// A fragmenter with the given limits.
    pub fn new(opts: FragmentOptions) -> Self {
        Self {
            buf: BytesMut::new(),
            state: State::Line {
                line_start: 0,
                scanned: 0,
            },
            opts,
            error: None,
            consumed: 0,
            literal_line_end: None,
            after_literal: None,
            must_stream: None,
            held: BytesMut::new(),
        }
    }

    /// The message being framed, up to and including the line of the literal
    /// just announced (empty when no literal is pending). Lets a receiver
    /// look at what a literal belongs to (e.g. `* 3 FETCH (UID 9 BODY[] {n}`)
    /// before it decides to [`stream_literal`](Self::stream_literal).
    pub fn pending(&self) -> &[u8] {
        match (self.state, self.literal_line_end) {
            (State::Literal { .. }, Some(end)) => &self.buf[..end.min(self.buf.len())],
            _ => &[],
        }
    }

    /// Streams the literal just announced instead of buffering it: its
    /// octets are handed out by [`poll_streamed`](Self::poll_streamed) as they
    /// arrive, and the message is later handed out by [`poll`](Self::poll) with
    /// the announcement rewritten to an empty literal (`{0}` or `~{0}`), so it
    /// still parses. Memory stays bounded by what one `push` brings, however
    /// large the literal. Call right after [`Frame::LiteralAnnounced`];
    /// returns false (and does nothing) at any other time.
    pub fn stream_literal(&mut self) -> bool {
        let (State::Literal { end }, Some(line_end)) = (self.state, self.literal_line_end) else {
            return false;
        };
        let line = &self.buf[..line_end.saturating_sub(2)];
        // Where the announcement starts: the `{` (a `~` before it stays).
        let Some(open) = memchr::memrchr(b'{', line) else {
            return false;
        };
        let length = (end - line_end) as u64;
        let tail = self.buf.split_off(line_end);
        self.buf.truncate(open);
        self.buf.extend_from_slice(b"{0}\r\n");
        // The rewritten announcement is shorter; count the difference as
        // consumed so `consumed` stays an offset in the stream.
        self.consumed += (line_end - self.buf.len()) as u64;
        self.held = std::mem::replace(&mut self.buf, tail);
        self.literal_line_end = None;
        self.must_stream = None;
        self.state = State::Streaming { remaining: length };
        true
    }

    /// While a literal streams: the next piece of it (a view of the receive
    /// buffer, never a copy), or `None` when no octet of it is buffered.
    /// When the last piece is out, framing of the message resumes and
    /// [`poll`](Self::poll) hands it out in the end.
    pub fn poll_streamed(&mut self) -> Option<Bytes> {
        let State::Streaming { remaining } = self.state else {
            return None;
        };
        if self.buf.is_empty() && remaining > 0 {
            return None;
        }
        let n = usize::try_from(remaining)
            .unwrap_or(usize::MAX)
            .min(self.buf.len());
        let chunk = self.buf.split_to(n).freeze();
        self.consumed += n as u64;
        let remaining = remaining - n as u64;
        if remaining == 0 {
            let resume = self.held.len();
            let mut held = std::mem::take(&mut self.held);
            held.extend_from_slice(&self.buf);
            self.buf = held;
            self.after_literal = Some(resume);
            self.state = State::Line {
                line_start: resume,
                scanned: resume,
            };
        } else {
            self.state = State::Streaming { remaining };
        }
        (n > 0).then_some(chunk)
    }

    /// Octets of a streamed literal still to come, if one is streaming.
    pub fn streaming(&self) -> Option<u64> {
        match self.state {
            State::Streaming { remaining } => Some(remaining),
            _ => None,
        }
    }

    /// Appends received bytes. Call [`poll`](Self::poll) until it returns `Ok(None)` next.
    pub fn push(&mut self, data: &[u8]) {
        if self.error.is_none() {
            self.buf.extend_from_slice(data);
        }
    }

    /// Bytes buffered and not yet handed out.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Offset in the stream of the first byte not yet handed out in a [`Frame::Message`].
    pub fn consumed(&self) -> u64 {
        self.consumed
    }

    /// Drops the message being framed, announced literal included (a server
    /// that refused a synchronizing literal, whose bytes the client will not
    /// send). Framing resumes with the next line.
    pub fn reject_literal(&mut self) {
        if let (State::Literal { .. }, Some(line_end)) = (self.state, self.literal_line_end.take())
        {
            // Only the announcement line and what came before it belong to the
            // refused message: the client sends no literal bytes after a refusal.
            let line_end = line_end.min(self.buf.len());
            self.consumed += line_end as u64;
            let _ = self.buf.split_to(line_end);
            self.state = State::Line {
                line_start: 0,
                scanned: 0,
            };
        }
    }

    /// The next event, `Ok(None)` when more input is needed.
    ///
    /// `Ok(None)` plays the part of STYLE.md's `Status::Partial`, and a frame
    /// the part of `Status::Complete(n)`: unlike a stateless framer, which
    /// reports a length into the caller's buffer, the fragmenter owns its
    /// buffer and hands out the message itself (a [`Bytes`] view), so there is
    /// no length to report; a literal is its own variant
    /// ([`Frame::LiteralAnnounced`]), never folded into "need more".
    pub fn poll(&mut self) -> Result<Option<Frame>, FrameError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        if let Some(length) = self.must_stream.take() {
            self.error = Some(FrameError::LiteralTooLarge {
                length,
                max: self.opts.max_literal,
            });
            self.buf = BytesMut::new();
            return Err(FrameError::LiteralTooLarge {
                length,
                max: self.opts.max_literal,
            });
        }
        let r = self.poll_inner();
        if let Err(e) = r {
            self.error = Some(e);
            self.buf = BytesMut::new();
        }
        r
    }

    fn poll_inner(&mut self) -> Result<Option<Frame>, FrameError> {
        loop {
            match self.state {
                State::Streaming { .. } => return Ok(None),
                State::Literal { end } => {
                    if self.buf.len() < end {
                        return Ok(None);
                    }
                    self.literal_line_end = None;
                    self.after_literal = Some(end);
                    self.state = State::Line {
                        line_start: end,
                        scanned: end,
                    };
                }
                State::Line {
                    line_start,
                    scanned,
                } => {
                    let Some(k) = memchr::memchr(b'\n', &self.buf[scanned..]) else {
                        let len = self.buf.len();
                        if len - line_start > self.opts.max_line {
                            return Err(FrameError::LineTooLong {
                                max: self.opts.max_line,
                            });
                        }
                        if len as u64 > self.opts.max_message {
                            return Err(FrameError::MessageTooLarge {
                                max: self.opts.max_message,
                            });
                        }
                        self.state = State::Line {
                            line_start,
                            scanned: len,
                        };
                        return Ok(None);
                    };
                    let lf = scanned + k;
                    if lf + 1 - line_start > self.opts.max_line {
                        return Err(FrameError::LineTooLong {
                            max: self.opts.max_line,
                        });
                    }
                    if lf == line_start || self.buf[lf - 1] != b'\r' {
                        // A bare LF does not end a line (nor does an LF right
                        // after a literal whose last byte is CR): keep scanning.
                        self.state = State::Line {
                            line_start,
                            scanned: lf + 1,
                        };
                        continue;
                    }
                    let line = &self.buf[line_start..lf - 1];
                    if self.opts.blank_line_after_literal_continues
                        && self.after_literal == Some(line_start)
                        && !line.is_empty()
                        && line.iter().all(|&b| b == b' ')
                    {
                        self.after_literal = None;
                        self.state = State::Line {
                            line_start: lf + 1,
                            scanned: lf + 1,
                        };
                        continue;
                    }
                    self.after_literal = None;
                    if let Some((length, mode, binary)) = literal_announcement(line) {
                        let oversize = length > self.opts.max_literal;
                        if oversize && length > self.opts.max_streamed_literal {
                            return Err(FrameError::LiteralTooLarge {
                                length,
                                max: self.opts.max_literal,
                            });
                        }
                        if oversize {
                            // Announced so the caller can stream it; the
                            // next poll fails unless it does.
                            self.must_stream = Some(length);
                            self.state = State::Literal {
                                end: (lf + 1)
                                    .saturating_add(usize::try_from(length).unwrap_or(usize::MAX)),
                            };
                            self.literal_line_end = Some(lf + 1);
                            return Ok(Some(Frame::LiteralAnnounced {
                                length,
                                mode,
                                binary,
                            }));
                        }
                        let end = (lf as u64 + 1).saturating_add(length);
                        if end > self.opts.max_message {
                            return Err(FrameError::MessageTooLarge {
                                max: self.opts.max_message,
                            });
                        }
                        // `end` <= max_message, which the caller sized to fit in memory.
                        let end =
                            usize::try_from(end).map_err(|_| FrameError::MessageTooLarge {
                                max: self.opts.max_message,
                            })?;
                        self.state = State::Literal { end };
                        self.literal_line_end = Some(lf + 1);
                        return Ok(Some(Frame::LiteralAnnounced {
                            length,
                            mode,
                            binary,
                        }));
                    }
                    let msg = self.buf.split_to(lf + 1).freeze();
                    self.consumed += msg.len() as u64;
                    self.state = State::Line {
                        line_start: 0,
                        scanned: 0,
                    };
                    return Ok(Some(Frame::Message(msg)));
                }
            }
        }
    }
}

/// `{n}`, `{n+}`, `~{n}` or `~{n+}` at the end of a line (CRLF removed).
pub(crate) fn literal_announcement(line: &[u8]) -> Option<(u64, LiteralMode, bool)> {
    let body = line.strip_suffix(b"}")?;
    let (body, mode) = match body.last() {
        Some(b'+') => (&body[..body.len() - 1], LiteralMode::NonSync),
        _ => (body, LiteralMode::Sync),
    };
    let digits = body.iter().rev().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || digits > 19 {
        return None;
    }
    let open = body.len().checked_sub(digits + 1)?;
    if body.get(open) != Some(&b'{') {
        return None;
    }
    let mut n: u64 = 0;
    for &b in &body[open + 1..] {
        n = n.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    let binary = open > 0 && body[open - 1] == b'~';
    Some((n, mode, binary))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(f: &mut Fragmenter) -> Vec<Frame> {
        let mut out = Vec::new();
        while let Some(fr) = f.poll().unwrap() {
            out.push(fr);
        }
        out
    }

    #[test]
    fn literal_too_large_is_reported_at_the_announcement() {
        let opts = FragmentOptions {
            max_literal: 10,
            ..Default::default()
        };
        let mut f = Fragmenter::new(opts);
        f.push(b"a APPEND INBOX {11}\r\n");
        assert_eq!(
            f.poll(),
            Err(FrameError::LiteralTooLarge {
                length: 11,
                max: 10
            })
        );
        // Fatal and sticky; later input is not buffered.
        f.push(b"hello world\r\n");
        assert_eq!(f.buffered(), 0);
        assert!(f.poll().is_err());
    }

    #[test]
    fn line_too_long_without_crlf() {
        let opts = FragmentOptions {
            max_line: 16,
            ..Default::default()
        };
        let mut f = Fragmenter::new(opts);
        f.push(b"* OK 0123456789");
        assert_eq!(f.poll(), Ok(None));
        f.push(b"0123456789");
        assert_eq!(f.poll(), Err(FrameError::LineTooLong { max: 16 }));
    }

    #[test]
    fn bare_lf_does_not_end_a_line() {
        let mut f = Fragmenter::new(FragmentOptions::default());
        f.push(b"* OK a\nb\r\n");
        assert_eq!(
            drain(&mut f),
            vec![Frame::Message(Bytes::from_static(b"* OK a\nb\r\n"))]
        );
    }

    #[test]
    fn literal_bytes_are_not_scanned_for_line_ends() {
        let mut f = Fragmenter::new(FragmentOptions::default());
        let wire = b"* 1 FETCH (BODY[] {4}\r\n\r\n\r\n)\r\n* 2 EXISTS\r\n";
        f.push(wire);
        let frames = drain(&mut f);
        assert_eq!(frames.len(), 3);
        assert_eq!(
            frames[0],
            Frame::LiteralAnnounced {
                length: 4,
                mode: LiteralMode::Sync,
                binary: false
            }
        );
        assert_eq!(
            frames[1],
            Frame::Message(Bytes::from_static(
                b"* 1 FETCH (BODY[] {4}\r\n\r\n\r\n)\r\n"
            ))
        );
        assert_eq!(f.consumed(), wire.len() as u64);
        assert_eq!(f.buffered(), 0);
    }

    #[test]
    fn literal_ending_in_cr_then_lf() {
        // Found by fuzzing: the CR belongs to the literal, so the LF after it ends nothing.
        let mut f = Fragmenter::new(FragmentOptions::default());
        f.push(b"* 1 FETCH (BODY[] {1}\r\n\r\n)\r\n");
        let frames = drain(&mut f);
        assert_eq!(frames.len(), 2);
        assert_eq!(
            frames[1],
            Frame::Message(Bytes::from_static(b"* 1 FETCH (BODY[] {1}\r\n\r\n)\r\n"))
        );
    }

    #[test]
    fn non_sync_and_binary_literals() {
        let mut f = Fragmenter::new(FragmentOptions::default());
        f.push(b"a APPEND INBOX ~{2+}\r\n\0\0\r\n");
        let frames = drain(&mut f);
        assert_eq!(
            frames[0],
            Frame::LiteralAnnounced {
                length: 2,
                mode: LiteralMode::NonSync,
                binary: true
            }
        );
        assert!(matches!(&frames[1], Frame::Message(m) if m.len() == 26));
    }

    #[test]
    fn rejected_literal_drops_the_command() {
        let mut f = Fragmenter::new(FragmentOptions::default());
        f.push(b"a LOGIN {5}\r\n");
        assert!(matches!(
            f.poll(),
            Ok(Some(Frame::LiteralAnnounced { length: 5, .. }))
        ));
        f.reject_literal();
        f.push(b"b NOOP\r\n");
        assert_eq!(
            drain(&mut f),
            vec![Frame::Message(Bytes::from_static(b"b NOOP\r\n"))]
        );
    }

    #[test]
    fn blank_line_after_literal_is_strict_by_default() {
        let wire = b"* 1 FETCH (BODY[] {2}\r\nab \r\n)\r\n";
        let mut f = Fragmenter::new(FragmentOptions::default());
        f.push(wire);
        assert_eq!(drain(&mut f).len(), 3); // announcement, "...ab \r\n", ")\r\n"
        let opts = FragmentOptions {
            blank_line_after_literal_continues: true,
            ..Default::default()
        };
        let mut f = Fragmenter::new(opts);
        f.push(wire);
        let frames = drain(&mut f);
        assert_eq!(frames.len(), 2);
        assert_eq!(frames[1], Frame::Message(Bytes::from_static(wire)));
    }

    fn streaming_opts() -> FragmentOptions {
        FragmentOptions {
            max_literal: 8,
            max_message: 64,
            max_streamed_literal: 1 << 40,
            ..Default::default()
        }
    }

    #[test]
    fn streamed_literal_comes_out_in_pieces_and_the_message_still_parses() {
        let mut f = Fragmenter::new(streaming_opts());
        let body = vec![b'x'; 1000];
        let mut wire = b"* 3 FETCH (UID 9 BODY[] {1000}\r\n".to_vec();
        wire.extend_from_slice(&body);
        wire.extend_from_slice(b" FLAGS ())\r\n* 4 EXISTS\r\n");
        let mut got = Vec::new();
        let mut messages = Vec::new();
        let mut announced = false;
        for piece in wire.chunks(7) {
            f.push(piece);
            loop {
                if let Some(c) = f.poll_streamed() {
                    assert!(c.len() <= 7 + 4);
                    got.extend_from_slice(&c);
                    continue;
                }
                match f.poll().unwrap() {
                    None => break,
                    Some(Frame::LiteralAnnounced { length, .. }) => {
                        assert_eq!(length, 1000);
                        assert_eq!(f.pending(), b"* 3 FETCH (UID 9 BODY[] {1000}\r\n");
                        assert!(f.stream_literal());
                        announced = true;
                    }
                    Some(Frame::Message(m)) => messages.push(m),
                }
            }
            // Memory stays bounded: never more than a piece or two buffered.
            assert!(f.buffered() < 64);
        }
        assert!(announced);
        assert_eq!(got, body);
        assert_eq!(messages.len(), 2);
        assert_eq!(
            &messages[0][..],
            b"* 3 FETCH (UID 9 BODY[] {0}\r\n FLAGS ())\r\n"
        );
        assert!(crate::parse::response(&messages[0]).is_ok());
        assert_eq!(f.consumed(), wire.len() as u64);
    }

    #[test]
    fn oversize_literal_not_streamed_is_refused() {
        let mut f = Fragmenter::new(streaming_opts());
        f.push(b"* 3 FETCH (BODY[] {9}\r\n");
        assert!(matches!(
            f.poll(),
            Ok(Some(Frame::LiteralAnnounced { length: 9, .. }))
        ));
        assert_eq!(
            f.poll(),
            Err(FrameError::LiteralTooLarge { length: 9, max: 8 })
        );
        // Above max_streamed_literal: refused at once, as before.
        let mut f = Fragmenter::new(FragmentOptions::default());
        f.push(b"* 3 FETCH (BODY[] {99999999999}\r\n");
        assert!(matches!(f.poll(), Err(FrameError::LiteralTooLarge { .. })));
    }

    #[test]
    fn stream_literal_only_right_after_an_announcement() {
        let mut f = Fragmenter::new(streaming_opts());
        assert!(!f.stream_literal());
        f.push(b"* 1 EXISTS\r\n");
        assert!(matches!(f.poll(), Ok(Some(Frame::Message(_)))));
        assert!(!f.stream_literal());
        assert_eq!(f.poll_streamed(), None);
        assert_eq!(f.streaming(), None);
    }
}

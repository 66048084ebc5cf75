//! The streaming response decoder: server bytes in, status lines, listing
//! lines and message content out.
//!
//! POP3 responses do not say whether they are multi-line: the command does
//! (RFC 1939 §3). The caller passes the [`ResponseKind`] of the command being
//! answered; the decoder frames the status line and, after a `+OK` to a
//! multi-line command, the lines up to the terminating `.`.
//!
//! ```text
//! C: RETR 1
//! S: +OK 120 octets        Decoded::Status
//! S: ..leading dot         Decoded::Chunk(".leading dot\r\n...")   (unstuffed, any split)
//! S: .                     Decoded::End
//! ```

use bytes::{Bytes, BytesMut};
use mailwire_line::{
    BareEol, DataEnd, LineConfig, LineError, LineFramer, Status, UnstuffConfig, Unstuffed,
    Unstuffer,
};

use crate::parse::{ReplyError, parse_continuation, parse_status_line, unstuff_line};
use crate::types::{ResponseKind, StatusLine};

/// One unit of a decoded response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded {
    /// The status line. After `+OK` to a multi-line or content command,
    /// lines or chunks follow, then [`Decoded::End`].
    Status(StatusLine<'static>),
    /// A SASL continuation (`+ base64`, RFC 5034 §4): the base64 text.
    Continuation(Bytes),
    /// One line of a multi-line answer, dot-unstuffed, without CRLF.
    Line(Bytes),
    /// A piece of message content (`RETR`, `TOP`), unstuffed, CRLF line
    /// ends; chunks end anywhere.
    Chunk(Bytes),
    /// The terminating `.` of a multi-line answer.
    End,
}

/// A response that could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// Framing failed (a line too long, a bare LF).
    #[error(transparent)]
    Line(#[from] LineError),
    /// A line was framed but is not what the grammar expects.
    #[error(transparent)]
    Reply(#[from] ReplyError),
    /// Message content passed the configured limit.
    #[error("message content larger than {limit} octets")]
    TooLarge {
        /// The limit.
        limit: u64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Start,
    Lines,
    Content,
}

/// Decodes server responses from a caller-owned buffer (the client side of
/// RFC 1939 §3).
///
/// ```
/// use bytes::BytesMut;
/// use mailwire_line::Status;
/// use mailwire_pop3::{Decoded, ResponseDecoder, ResponseKind};
///
/// let mut d = ResponseDecoder::new(512, u64::MAX);
/// let mut buf = BytesMut::from(&b"+OK\r\nTOP\r\n.\r\n"[..]);
/// assert!(matches!(d.decode(ResponseKind::MultiLine, &mut buf), Ok(Status::Complete(Decoded::Status(s))) if s.is_ok()));
/// assert_eq!(d.decode(ResponseKind::MultiLine, &mut buf), Ok(Status::Complete(Decoded::Line("TOP".into()))));
/// assert_eq!(d.decode(ResponseKind::MultiLine, &mut buf), Ok(Status::Complete(Decoded::End)));
/// assert_eq!(d.decode(ResponseKind::MultiLine, &mut buf), Ok(Status::Partial));
/// ```
#[derive(Debug, Clone)]
pub struct ResponseDecoder {
    framer: LineFramer,
    unstuffer: Unstuffer,
    state: State,
}

impl ResponseDecoder {
    /// A decoder with a line limit (status and listing lines, CRLF
    /// included; RFC 2449 §4 says 512) and a content limit (octets of one
    /// `RETR`/`TOP` answer after unstuffing).
    pub fn new(max_line: usize, max_content: u64) -> Self {
        ResponseDecoder {
            framer: LineFramer::new(LineConfig::with_max_len(max_line)),
            // A bare CR or LF inside content from a server cannot end the
            // data (only CRLF.CRLF does); it is handed out as CRLF so that no
            // octet of a message is lost.
            unstuffer: Unstuffer::new(
                UnstuffConfig::with_max_size(max_content).bare_eol(BareEol::Normalize),
            ),
            state: State::Start,
        }
    }

    /// True between responses (nothing half-decoded).
    pub fn is_idle(&self) -> bool {
        self.state == State::Start
    }

    /// Forgets any response in progress (after STLS: RFC 2595 §4).
    pub fn reset(&mut self) {
        self.framer.reset();
        self.unstuffer.reset();
        self.state = State::Start;
    }

    /// Decodes the next unit of the response to a command of kind `kind`.
    /// `kind` is only looked at when a new response starts.
    ///
    /// `Ok(Status::Partial)`: append more input and call again. An `Err` is
    /// fatal for the session: the decoder no longer knows where responses
    /// start.
    pub fn decode(
        &mut self,
        kind: ResponseKind,
        buf: &mut BytesMut,
    ) -> Result<Status<Decoded>, DecodeError> {
        match self.state {
            State::Content => {
                let before = self.unstuffer.consumed();
                let r = self.unstuffer.next_chunk(buf);
                self.framer.skipped(self.unstuffer.consumed() - before);
                match r {
                    Status::Partial => Ok(Status::Partial),
                    Status::Complete(Unstuffed::Data(d)) => Ok(Status::Complete(Decoded::Chunk(d))),
                    Status::Complete(Unstuffed::End(end)) => {
                        self.state = State::Start;
                        self.unstuffer.reset();
                        match end {
                            DataEnd::TooLarge { limit, .. } => Err(DecodeError::TooLarge { limit }),
                            _ => Ok(Status::Complete(Decoded::End)),
                        }
                    }
                }
            }
            State::Lines => match self.framer.next_line(buf) {
                None => Ok(Status::Partial),
                Some(Err(e)) => Err(e.into()),
                Some(Ok(line)) => {
                    let raw = line.into_content();
                    match unstuff_line(&raw) {
                        None => {
                            self.state = State::Start;
                            Ok(Status::Complete(Decoded::End))
                        }
                        Some(l) => Ok(Status::Complete(Decoded::Line(raw.slice_ref(l)))),
                    }
                }
            },
            State::Start => match self.framer.next_line(buf) {
                None => Ok(Status::Partial),
                Some(Err(e)) => Err(e.into()),
                Some(Ok(line)) => {
                    let raw = line.into_content();
                    if kind == ResponseKind::Auth
                        && raw.first() == Some(&b'+')
                        && !raw.starts_with(b"+OK")
                    {
                        let b64 = parse_continuation(&raw)?;
                        return Ok(Status::Complete(Decoded::Continuation(raw.slice_ref(b64))));
                    }
                    let status = parse_status_line(&raw)?.into_owned();
                    if status.is_ok() {
                        match kind {
                            ResponseKind::MultiLine => self.state = State::Lines,
                            ResponseKind::Content => {
                                self.unstuffer.reset();
                                self.state = State::Content;
                            }
                            ResponseKind::SingleLine | ResponseKind::Auth => {}
                        }
                    }
                    Ok(Status::Complete(Decoded::Status(status)))
                }
            },
        }
    }
}

/// Decodes one complete response held in `bytes` (a test and corpus helper):
/// every unit, in order, or the first error. Bytes after the response are
/// left unread; their count is returned with the units.
pub fn decode_response(
    kind: ResponseKind,
    bytes: &[u8],
) -> Result<(Vec<Decoded>, usize), DecodeError> {
    let mut d = ResponseDecoder::new(4096, u64::MAX);
    let mut buf = BytesMut::from(bytes);
    let mut out = Vec::new();
    loop {
        match d.decode(kind, &mut buf)? {
            Status::Partial => return Ok((out, buf.len())),
            Status::Complete(u) => {
                let done = match &u {
                    Decoded::End | Decoded::Continuation(_) => true,
                    Decoded::Status(_) => d.is_idle(),
                    _ => false,
                };
                out.push(u);
                if done {
                    return Ok((out, buf.len()));
                }
            }
        }
    }
}

//! Dot-stuffing: the sending side of SMTP `DATA` and POP3 multi-line
//! responses.

use memchr::memchr2;

use crate::simd::{BLOCK, Skip, skip_plain_blocks};

/// Where a run of copyable bytes stopped.
enum Stop {
    /// The chunk ends inside a line.
    Eof,
    /// The run ends with CRLF, before a `.` or the end of the chunk.
    LineStart(usize),
    /// A bare CR or LF (or a CR ending the chunk) at this index.
    Bare(usize),
}

/// Encodes a body for SMTP `DATA` (RFC 5321 §4.5.2) or a POP3 multi-line
/// response (RFC 1939 §3), chunk by chunk.
///
/// - Every bare CR and bare LF becomes CRLF (a CR at the end of one chunk
///   and an LF at the start of the next are one CRLF).
/// - A `.` at the start of every line is doubled, including the line after
///   an empty line and the first line (RUSTSEC-2021-0069 was a dot missed
///   after a blank line).
/// - [`Stuffer::finish`] writes the terminator: `.<CRLF>` when the output
///   already ends with CRLF (or is empty), `<CRLF>.<CRLF>` otherwise.
///
/// The output never contains a bare CR, a bare LF or `<CRLF>.<CRLF>` before the
/// terminator, so no receiver can end the data early or differently.
///
/// ```
/// use mailwire_line::Stuffer;
///
/// let mut s = Stuffer::new();
/// let mut out = Vec::new();
/// s.push(b"a\r", &mut out);
/// s.push(b"\n.b\n\n", &mut out);
/// s.push(b".", &mut out);
/// s.finish(&mut out);
/// assert_eq!(out, b"a\r\n..b\r\n\r\n..\r\n.\r\n");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stuffer {
    /// The output so far ends with CRLF, or is empty.
    mid_line: bool,
    /// The last input byte was CR (already written as CRLF): an LF next
    /// belongs to it.
    skip_lf: bool,
}

impl Stuffer {
    /// A stuffer at the start of a body.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends the stuffed form of `chunk` to `out`.
    pub fn push(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        let mut rest = chunk;
        if self.skip_lf {
            match rest.split_first() {
                None => return,
                Some((b'\n', tail)) => rest = tail,
                Some(_) => {}
            }
            self.skip_lf = false;
        }
        out.reserve(rest.len() + 8);
        while !rest.is_empty() {
            if !self.mid_line && rest[0] == b'.' {
                out.push(b'.');
            }
            // Copy whole runs of well-formed lines at once: stop only at a
            // bare CR/LF, a CR at the end of the chunk, or before a line that
            // starts with a dot. Plain 64-byte blocks are skipped whole.
            let mut pos = 0;
            let stop = 'run: loop {
                match skip_plain_blocks(rest, pos) {
                    Skip::DotLine(q) => break Stop::LineStart(q),
                    Skip::Resume(p) => pos = p,
                }
                let limit = pos + 2 * BLOCK;
                loop {
                    let Some(i) = memchr2(b'\r', b'\n', &rest[pos..]) else {
                        break 'run Stop::Eof;
                    };
                    let p = pos + i;
                    if rest[p] == b'\r' && rest.get(p + 1) == Some(&b'\n') {
                        pos = p + 2;
                        if rest.get(pos).is_none_or(|&b| b == b'.') {
                            break 'run Stop::LineStart(pos);
                        }
                    } else {
                        break 'run Stop::Bare(p);
                    }
                    if pos >= limit {
                        break;
                    }
                }
            };
            match stop {
                Stop::Eof => {
                    out.extend_from_slice(rest);
                    self.mid_line = true;
                    return;
                }
                Stop::LineStart(end) => {
                    out.extend_from_slice(&rest[..end]);
                    self.mid_line = false;
                    rest = &rest[end..];
                }
                Stop::Bare(p) => {
                    // A bare CR or LF at p, or a CR at the end of the chunk.
                    out.extend_from_slice(&rest[..p]);
                    out.extend_from_slice(b"\r\n");
                    self.mid_line = false;
                    if rest[p] == b'\r' {
                        match rest.get(p + 1) {
                            Some(b'\n') => rest = &rest[p + 2..],
                            Some(_) => rest = &rest[p + 1..],
                            None => {
                                self.skip_lf = true;
                                return;
                            }
                        }
                    } else {
                        rest = &rest[p + 1..];
                    }
                }
            }
        }
    }

    /// Writes the end of data: `.<CRLF>` if the output ends with CRLF or is
    /// empty, otherwise `<CRLF>.<CRLF>`.
    pub fn finish(self, out: &mut Vec<u8>) {
        if self.mid_line {
            out.extend_from_slice(b"\r\n.\r\n");
        } else {
            out.extend_from_slice(b".\r\n");
        }
    }
}

/// Stuffs a whole body and appends the end of data: the output of one
/// [`Stuffer::push`] and [`Stuffer::finish`].
///
/// ```
/// assert_eq!(mailwire_line::stuff_all(b".\n"), b"..\r\n.\r\n");
/// assert_eq!(mailwire_line::stuff_all(b""), b".\r\n");
/// assert_eq!(mailwire_line::stuff_all(b"x"), b"x\r\n.\r\n");
/// ```
pub fn stuff_all(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + body.len() / 32 + 8);
    let mut s = Stuffer::new();
    s.push(body, &mut out);
    s.finish(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunked(chunks: &[&[u8]]) -> Vec<u8> {
        let mut s = Stuffer::new();
        let mut out = Vec::new();
        for c in chunks {
            s.push(c, &mut out);
        }
        s.finish(&mut out);
        out
    }

    #[test]
    fn terminator_with_or_without_final_crlf() {
        assert_eq!(stuff_all(b"a\r\n"), b"a\r\n.\r\n");
        assert_eq!(stuff_all(b"a"), b"a\r\n.\r\n");
        assert_eq!(stuff_all(b""), b".\r\n");
        assert_eq!(stuff_all(b"\r\n"), b"\r\n.\r\n");
    }

    #[test]
    fn dots_doubled_on_every_line() {
        assert_eq!(stuff_all(b".a\r\n.b\r\n"), b"..a\r\n..b\r\n.\r\n");
        assert_eq!(stuff_all(b"a.\r\nb.c"), b"a.\r\nb.c\r\n.\r\n");
        assert_eq!(stuff_all(b"."), b"..\r\n.\r\n");
    }

    #[test]
    fn rustsec_2021_0069_dot_after_blank_line() {
        // lettre missed the dot on the line after an empty line.
        assert_eq!(
            stuff_all(b"a\r\n\r\n.\r\nMAIL FROM:<x>\r\n"),
            b"a\r\n\r\n..\r\nMAIL FROM:<x>\r\n.\r\n"
        );
        assert_eq!(stuff_all(b"\n\n."), b"\r\n\r\n..\r\n.\r\n");
    }

    #[test]
    fn bare_cr_and_lf_canonicalized() {
        assert_eq!(
            stuff_all(b"a\nb\rc\r\r\nd"),
            b"a\r\nb\r\nc\r\n\r\nd\r\n.\r\n"
        );
        assert_eq!(stuff_all(b"\r.\n."), b"\r\n..\r\n..\r\n.\r\n");
        assert_eq!(stuff_all(b"\n\r"), b"\r\n\r\n.\r\n");
    }

    #[test]
    fn state_across_chunks() {
        assert_eq!(chunked(&[b"a\r", b"\nb"]), stuff_all(b"a\r\nb"));
        assert_eq!(chunked(&[b"a\r", b"", b"\n", b".b"]), stuff_all(b"a\r\n.b"));
        assert_eq!(chunked(&[b"a\r", b".b"]), stuff_all(b"a\r.b"));
        assert_eq!(chunked(&[b"a\r\n", b"."]), b"a\r\n..\r\n.\r\n");
        assert_eq!(chunked(&[b"a\r"]), b"a\r\n.\r\n");
        assert_eq!(chunked(&[b"a", b".", b"\r", b"\r"]), stuff_all(b"a.\r\r"));
    }

    #[test]
    fn smuggling_sequences_in_body_are_neutralized() {
        for seq in [
            &b"\n.\n"[..],
            b"\n.\r\n",
            b"\r.\r\n",
            b"\r\n.\n",
            b"\r\n.\r",
            b"\r.\r",
            b"\n.\r",
            b"\r.\n",
            b"\r\n.\r\r\n",
            b"\r\r\n.\r\r\n",
        ] {
            let mut body = b"x".to_vec();
            body.extend_from_slice(seq);
            body.extend_from_slice(b"MAIL FROM:<a@b>\r\n");
            let wire = stuff_all(&body);
            let end = memchr::memmem::find(&wire, b"\r\n.\r\n").unwrap();
            assert_eq!(end + 5, wire.len(), "{seq:?}: {wire:?}");
        }
    }
}

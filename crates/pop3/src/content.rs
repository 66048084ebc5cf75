//! Message content helpers for servers: the CRLF wire size of a message and
//! the `TOP` cut (RFC 1939 §7).

use memchr::memchr;

/// Counts the size of a message as POP3 reports it (RFC 1939 §5 `LIST`,
/// §11): octets with every line end written as CRLF, before dot-stuffing.
/// A message stored with bare LF line ends (a Maildir written by most MTAs)
/// is one octet larger per line on the wire.
///
/// Feed the stored bytes in any split with [`WireSize::push`].
///
/// ```
/// use mailwire_pop3::WireSize;
/// let mut w = WireSize::new();
/// w.push(b"a\nb\r");
/// w.push(b"\nc");
/// assert_eq!(w.size(), 7); // "a\r\nb\r\nc"
/// assert_eq!(WireSize::of(b"x\n\n"), 5);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WireSize {
    size: u64,
    last_cr: bool,
}

impl WireSize {
    /// Zero octets.
    pub fn new() -> Self {
        Self::default()
    }

    /// The wire size of a whole message.
    pub fn of(message: &[u8]) -> u64 {
        let mut w = WireSize::new();
        w.push(message);
        w.size()
    }

    /// Counts a chunk of the stored message.
    pub fn push(&mut self, chunk: &[u8]) {
        // Mirrors mailwire_line::Stuffer: a bare LF and a bare CR each become
        // CRLF; a CR at a chunk end pairs with an LF at the next start.
        let mut extra = 0u64;
        let mut prev_cr = self.last_cr;
        for &b in chunk {
            match b {
                b'\n' if !prev_cr => extra += 1,
                b'\n' => {}
                _ if prev_cr => extra += 1, // bare CR before this byte
                _ => {}
            }
            prev_cr = b == b'\r';
        }
        self.size += chunk.len() as u64 + extra;
        self.last_cr = prev_cr;
    }

    /// The size so far (a CR left at the end counts as the CRLF it becomes).
    pub fn size(&self) -> u64 {
        self.size + u64::from(self.last_cr)
    }
}

/// Cuts a message after its header and `lines` body lines, as `TOP msg n`
/// returns it (RFC 1939 §7). Lines end at LF (CRLF or a bare LF).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TopCut {
    in_header: bool,
    line_has_content: bool,
    lines_left: u32,
    done: bool,
}

impl TopCut {
    pub(crate) fn new(lines: u32) -> Self {
        TopCut {
            in_header: true,
            line_has_content: false,
            lines_left: lines,
            done: false,
        }
    }

    pub(crate) fn is_done(&self) -> bool {
        self.done
    }

    /// How many octets of `chunk` belong to the answer; once it returns
    /// less than `chunk.len()`, the cut is done.
    pub(crate) fn take(&mut self, chunk: &[u8]) -> usize {
        if self.done {
            return 0;
        }
        let mut pos = 0;
        while let Some(i) = memchr(b'\n', &chunk[pos..]) {
            let line = &chunk[pos..pos + i];
            let content = self.line_has_content || line.iter().any(|&b| b != b'\r');
            pos += i + 1;
            self.line_has_content = false;
            if self.in_header {
                if !content {
                    self.in_header = false;
                    if self.lines_left == 0 {
                        self.done = true;
                        return pos;
                    }
                }
            } else {
                self.lines_left -= 1;
                if self.lines_left == 0 {
                    self.done = true;
                    return pos;
                }
            }
        }
        if chunk[pos..].iter().any(|&b| b != b'\r') {
            self.line_has_content = true;
        }
        chunk.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cut(msg: &[u8], n: u32, split: usize) -> Vec<u8> {
        let mut t = TopCut::new(n);
        let mut out = Vec::new();
        for c in [&msg[..split], &msg[split..]] {
            let k = t.take(c);
            out.extend_from_slice(&c[..k]);
            if t.is_done() {
                break;
            }
        }
        out
    }

    #[test]
    fn top_cuts_after_header_and_lines() {
        let m = b"A: 1\r\nB: 2\r\n\r\nl1\r\nl2\r\nl3\r\n";
        for split in 0..=m.len() {
            assert_eq!(cut(m, 0, split), b"A: 1\r\nB: 2\r\n\r\n");
            assert_eq!(cut(m, 2, split), b"A: 1\r\nB: 2\r\n\r\nl1\r\nl2\r\n");
            assert_eq!(cut(m, 9, split), m);
        }
        let lf = b"A: 1\n\nbody\nmore\n";
        for split in 0..=lf.len() {
            assert_eq!(cut(lf, 1, split), b"A: 1\n\nbody\n");
        }
    }

    #[test]
    fn wire_size_any_split() {
        let m = b"a\nb\r\nc\rd\n\n";
        let whole = WireSize::of(m);
        assert_eq!(
            whole,
            mailwire_line::stuff_all(m).len() as u64 - 3 /* ".\r\n" */
        );
        for s in 0..=m.len() {
            let mut w = WireSize::new();
            w.push(&m[..s]);
            w.push(&m[s..]);
            assert_eq!(w.size(), whole);
        }
    }
}

//! Mail loop detection by hop count (RFC 5321 §6.3: "a simple counting of
//! the number of "Received:" header fields in a message has proven to be
//! an effective ... technique"): the `Received:` fields of the header
//! section are counted as the content streams in, and a message with more
//! than [`MAX_HOPS`] is refused (Postfix's `hopcount_limit`, 50). This
//! catches forwarding loops between servers, which a single server's alias
//! expansion cannot see.

/// The most `Received:` fields a message may have.
pub(crate) const MAX_HOPS: u32 = 50;

/// Counts the `Received:` fields of a header streamed in pieces.
#[derive(Debug, Default)]
pub(crate) struct HopCounter {
    hops: u32,
    /// The header section has ended (an empty line): nothing more to do.
    done: bool,
    /// The start of the current line, up to 9 bytes (`Received:`).
    line: Vec<u8>,
    /// Inside a line, past its first 9 bytes.
    mid_line: bool,
}

impl HopCounter {
    /// Feeds content (as received, CRLF line ends).
    pub(crate) fn feed(&mut self, data: &[u8]) {
        if self.done {
            return;
        }
        for &b in data {
            if b == b'\n' {
                let line = std::mem::take(&mut self.line);
                if !self.mid_line && (line.is_empty() || line == b"\r") {
                    self.done = true;
                    return;
                }
                self.mid_line = false;
                continue;
            }
            if self.mid_line {
                continue;
            }
            self.line.push(b);
            if self.line.len() == 9 {
                if self.line.eq_ignore_ascii_case(b"Received:") {
                    self.hops += 1;
                }
                self.mid_line = true;
                self.line.clear();
            }
        }
    }

    /// The `Received:` fields seen.
    pub(crate) fn hops(&self) -> u32 {
        self.hops
    }

    /// Whether there are too many.
    pub(crate) fn too_many(&self) -> bool {
        self.hops > MAX_HOPS
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn msg(n: usize) -> Vec<u8> {
        let mut m = Vec::new();
        for i in 0..n {
            m.extend_from_slice(
                format!("Received: from h{i} by x; date\r\n\tfolded\r\n").as_bytes(),
            );
        }
        m.extend_from_slice(
            b"Subject: x\r\nX-Received: no\r\nreceived: yes\r\n\r\nReceived: in the body\r\n",
        );
        m
    }

    #[test]
    fn counts_header_fields_only() {
        let mut c = HopCounter::default();
        c.feed(&msg(3));
        assert_eq!(
            c.hops(),
            4,
            "3 + the lower-case one; not X-Received, not the body"
        );
        // msg(n) has n + 1 fields.
        let mut c = HopCounter::default();
        c.feed(&msg(49));
        assert!(!c.too_many());
        let mut d = HopCounter::default();
        d.feed(&msg(50));
        assert!(d.too_many());
    }

    proptest! {
        #[test]
        fn any_split_gives_the_same_count(n in 0usize..60, cuts in proptest::collection::vec(0usize..4000, 0..8)) {
            let m = msg(n);
            let mut whole = HopCounter::default();
            whole.feed(&m);
            let mut parts = HopCounter::default();
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (m.len() + 1)).collect();
            cuts.sort();
            let mut at = 0;
            for c in cuts {
                parts.feed(&m[at..c]);
                at = c;
            }
            parts.feed(&m[at..]);
            prop_assert_eq!(whole.hops(), parts.hops());
        }
    }
}

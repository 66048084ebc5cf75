//! Mail loop detection by hop count (RFC 5321 §6.3: "a simple counting of
//! the number of "Received:" header fields in a message has proven to be
//! an effective ... technique"): the `Received:` fields of the header
//! section are counted as the content streams in, and a message with more
//! than [`MAX_HOPS`] is refused (Postfix's `hopcount_limit`, 50). This
//! catches forwarding loops between servers, which a single server's alias
//! expansion cannot see.
//!
//! The `Delivered-To:` fields are collected too ([`DeliveredTo`]): the
//! server adds one at delivery, and a message coming back for an address
//! it already names is a loop, seen on its second round rather than its
//! fiftieth.

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
    pub(crate) fn feed(&mut self, mut data: &[u8]) {
        while !self.done
            && let Some((piece, ended, rest)) = line_piece(data)
        {
            data = rest;
            if !self.mid_line {
                let take = (9 - self.line.len()).min(piece.len());
                self.line.extend_from_slice(&piece[..take]);
                if self.line.len() == 9 {
                    if self.line.eq_ignore_ascii_case(b"Received:") {
                        self.hops += 1;
                    }
                    self.mid_line = true;
                    self.line.clear();
                }
            }
            if ended {
                if !self.mid_line && (self.line.is_empty() || self.line == b"\r") {
                    self.done = true;
                }
                self.mid_line = false;
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

/// The bytes of `data` up to its first LF (without it), whether there was
/// one, and the rest after it; `None` for no data. The header scans take a
/// line's bytes a piece at a time, not byte by byte.
fn line_piece(data: &[u8]) -> Option<(&[u8], bool, &[u8])> {
    if data.is_empty() {
        return None;
    }
    Some(match mailwire::line::find_lf(data) {
        Some(p) => (&data[..p], true, &data[p + 1..]),
        None => (data, false, &[][..]),
    })
}

/// The most `Delivered-To:` values kept.
pub(crate) const MAX_DELIVERED_TO: usize = 100;
/// The longest header line looked at (RFC 5322 §2.1.1's limit).
const MAX_LINE: usize = 998;

/// Collects the `Delivered-To:` fields of a header streamed in pieces
/// (the field Postfix and qmail add at final delivery; one for this
/// server's address means the message has come round again, a forwarding
/// loop). Values are lower-cased, angle brackets and spaces removed; at
/// most [`MAX_DELIVERED_TO`], lines longer than 998 bytes are skipped.
#[derive(Debug, Default)]
pub(crate) struct DeliveredTo {
    values: Vec<String>,
    /// The header section has ended.
    done: bool,
    /// The current line, while it is short enough.
    line: Vec<u8>,
    /// The current line is too long: ignored to its end.
    skipping: bool,
    /// The last complete line was (part of) a `Delivered-To:` field.
    in_field: bool,
}

impl DeliveredTo {
    /// Feeds content (as received, CRLF line ends).
    pub(crate) fn feed(&mut self, mut data: &[u8]) {
        while !self.done
            && let Some((piece, ended, rest)) = line_piece(data)
        {
            data = rest;
            if !self.skipping {
                if self.line.len() + piece.len() > MAX_LINE {
                    self.skipping = true;
                    self.line.clear();
                } else {
                    self.line.extend_from_slice(piece);
                }
            }
            if ended {
                // The line's buffer is lent to `end_line` and kept for the
                // next line, not allocated again per line.
                let mut line = std::mem::take(&mut self.line);
                let skipped = std::mem::take(&mut self.skipping);
                self.end_line(&line, skipped);
                line.clear();
                self.line = line;
            }
        }
    }

    fn end_line(&mut self, line: &[u8], skipped: bool) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if skipped {
            self.in_field = false;
            return;
        }
        if line.is_empty() {
            self.done = true;
            return;
        }
        let value = if line[0] == b' ' || line[0] == b'\t' {
            // A continuation (RFC 5322 §2.2.3).
            if !self.in_field {
                return;
            }
            match self.values.pop() {
                Some(v) => [v.as_bytes(), line].concat(),
                None => return,
            }
        } else if line.len() >= 13 && line[..13].eq_ignore_ascii_case(b"Delivered-To:") {
            if self.values.len() == MAX_DELIVERED_TO {
                self.in_field = false;
                return;
            }
            line[13..].to_vec()
        } else {
            self.in_field = false;
            return;
        };
        self.in_field = true;
        let v: String = String::from_utf8_lossy(&value)
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '<' && *c != '>')
            .collect();
        self.values.push(v.to_lowercase());
    }

    /// Whether a field names `addr` (compared without case).
    pub(crate) fn contains(&self, addr: &str) -> bool {
        self.values().contains(&addr.to_lowercase())
    }

    /// The values seen, lower case.
    pub(crate) fn values(&self) -> &[String] {
        &self.values
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

    const LOOPED: &[u8] = b"Received: from x by y; date\r\n\
        Delivered-To: Alice@A.test\r\n\
        X-Delivered-To: not@this.test\r\n\
        delivered-to:\r\n <bob@a.test>\r\n\
        Subject: x\r\n\
        \r\n\
        Delivered-To: body@a.test\r\n";

    #[test]
    fn delivered_to_fields_of_the_header_only() {
        let mut d = DeliveredTo::default();
        d.feed(LOOPED);
        assert_eq!(d.values(), ["alice@a.test", "bob@a.test"]);
        assert!(d.contains("ALICE@a.test"));
        assert!(d.contains("bob@a.test"));
        assert!(!d.contains("not@this.test"));
        assert!(!d.contains("body@a.test"));
    }

    #[test]
    fn delivered_to_lines_up_to_the_limit_in_any_split() {
        // "Delivered-To: " and the value: the line with its CR exactly
        // MAX_LINE bytes is read, one byte more is skipped.
        for (extra, kept) in [(0, true), (1, false)] {
            let value = "v".repeat(MAX_LINE - 15 + extra);
            let m = format!("Delivered-To: {value}\r\n\r\n");
            for cut in [0, 1, 14, 500, MAX_LINE - 1, MAX_LINE, MAX_LINE + 1, m.len()] {
                let mut d = DeliveredTo::default();
                d.feed(&m.as_bytes()[..cut]);
                d.feed(&m.as_bytes()[cut..]);
                assert_eq!(d.contains(&value), kept, "extra {extra}, cut {cut}");
            }
        }
    }

    #[test]
    fn delivered_to_bounded() {
        let mut m = Vec::new();
        for i in 0..(MAX_DELIVERED_TO + 5) {
            m.extend_from_slice(format!("Delivered-To: u{i}@a.test\r\n").as_bytes());
        }
        m.extend_from_slice(b"Delivered-To: ");
        m.extend_from_slice(&vec![b'x'; 2 * MAX_LINE]);
        m.extend_from_slice(b"\r\n\r\n");
        let mut d = DeliveredTo::default();
        d.feed(&m);
        assert_eq!(d.values().len(), MAX_DELIVERED_TO);
        assert!(!d.contains(&format!("u{MAX_DELIVERED_TO}@a.test")));
    }

    /// Feeds `m` in the pieces cut at `cuts` (taken modulo its length).
    fn feed_split(m: &[u8], cuts: Vec<usize>, mut feed: impl FnMut(&[u8])) {
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (m.len() + 1)).collect();
        cuts.sort();
        let mut at = 0;
        for c in cuts {
            feed(&m[at..c]);
            at = c;
        }
        feed(&m[at..]);
    }

    proptest! {
        #[test]
        fn any_split_gives_the_same_count(n in 0usize..60, cuts in proptest::collection::vec(0usize..4000, 0..8)) {
            let m = msg(n);
            let mut whole = HopCounter::default();
            whole.feed(&m);
            let mut parts = HopCounter::default();
            feed_split(&m, cuts, |p| parts.feed(p));
            prop_assert_eq!(whole.hops(), parts.hops());
        }

        #[test]
        fn any_split_gives_the_same_delivered_to(cuts in proptest::collection::vec(0usize..200, 0..8)) {
            let mut whole = DeliveredTo::default();
            whole.feed(LOOPED);
            let mut parts = DeliveredTo::default();
            feed_split(LOOPED, cuts, |p| parts.feed(p));
            prop_assert_eq!(whole.values(), parts.values());
        }
    }
}

//! The dot-unstuffer on arbitrary input, fed whole and in pieces, checked
//! against a byte-at-a-time model of RFC 5321 §4.5.2.
//!
//! Input: byte 0 picks the policy and the size limit, bytes 1..9 pick split
//! points, the rest is the wire. Checks: the same content, end and leftover
//! whatever the split; at most two bytes held back; one end at most, and it
//! is the model's end (only a real `<CRLF>.<CRLF>` ends the data).
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use mailwire_line::{BareEol, BareEolKind, DataEnd, Status, UnstuffConfig, Unstuffed, Unstuffer};

#[derive(Debug, PartialEq)]
struct Outcome {
    content: Vec<u8>,
    end: Option<DataEnd>,
    consumed: u64,
    rest: Vec<u8>,
}

fn run(cfg: UnstuffConfig, wire: &[u8], cuts: &[usize]) -> Outcome {
    let mut u = Unstuffer::new(cfg);
    let mut buf = BytesMut::new();
    let mut content = Vec::new();
    let mut end = None;
    let mut last = 0;
    for &cut in cuts.iter().chain(std::iter::once(&wire.len())) {
        buf.extend_from_slice(&wire[last..cut]);
        last = cut;
        loop {
            match u.next_chunk(&mut buf) {
                Status::Complete(Unstuffed::Data(d)) => {
                    assert!(!d.is_empty());
                    assert!(end.is_none());
                    content.extend_from_slice(&d);
                }
                Status::Complete(Unstuffed::End(e)) => {
                    assert!(end.is_none(), "two ends");
                    end = Some(e);
                }
                Status::Partial => break,
            }
        }
        if end.is_none() {
            assert!(buf.len() <= 2, "held back {} bytes", buf.len());
        }
    }
    Outcome {
        content,
        end,
        consumed: u.consumed(),
        rest: buf.to_vec(),
    }
}

/// A byte-at-a-time model of the unstuffer.
struct Model {
    cfg: UnstuffConfig,
    content: Vec<u8>,
    size: u64,
    verdict: Option<DataEnd>,
}

impl Model {
    fn push(&mut self, b: u8) {
        if self.verdict.is_none() && self.size < self.cfg.max_size {
            self.content.push(b);
        }
        self.size += 1;
        if self.size > self.cfg.max_size && self.verdict.is_none() {
            self.verdict = Some(DataEnd::TooLarge {
                size: 0,
                limit: self.cfg.max_size,
            });
        }
    }

    fn run(mut self, wire: &[u8]) -> Outcome {
        let mut i = 0;
        let mut line_start = true;
        while i < wire.len() {
            if line_start {
                if wire[i..].starts_with(b".\r\n") {
                    let end = match self.verdict {
                        None => DataEnd::Accepted { size: self.size },
                        Some(DataEnd::TooLarge { limit, .. }) => DataEnd::TooLarge {
                            size: self.size,
                            limit,
                        },
                        Some(v) => v,
                    };
                    return Outcome {
                        content: self.content,
                        end: Some(end),
                        consumed: i as u64 + 3,
                        rest: wire[i + 3..].to_vec(),
                    };
                }
                if wire[i] == b'.' {
                    i += 1;
                }
                line_start = false;
                continue;
            }
            let b = wire[i];
            if b == b'\r' && wire.get(i + 1) == Some(&b'\n') {
                self.push(b'\r');
                self.push(b'\n');
                i += 2;
                line_start = true;
            } else if b == b'\r' || b == b'\n' {
                if self.cfg.bare_eol == BareEol::Normalize {
                    self.push(b'\r');
                    self.push(b'\n');
                } else {
                    if self.verdict.is_none() {
                        let kind = if b == b'\r' {
                            BareEolKind::Cr
                        } else {
                            BareEolKind::Lf
                        };
                        self.verdict = Some(DataEnd::Rejected {
                            kind,
                            offset: i as u64,
                        });
                    }
                    // A rejected bare byte counts one octet.
                    self.size += 1;
                }
                i += 1;
            } else {
                self.push(b);
                i += 1;
            }
        }
        Outcome {
            content: self.content,
            end: None,
            consumed: i as u64,
            rest: Vec::new(),
        }
    }
}

/// Each input byte becomes up to 63 content bytes and a line end: mostly
/// CRLF, sometimes CRLF and a dot, rarely a bare CR, a bare LF or an end.
fn expand(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() * 40);
    for &b in raw {
        out.extend(std::iter::repeat_n(b'x', usize::from(b & 0x3F)));
        out.extend_from_slice(match b >> 6 {
            0 | 1 => b"\r\n",
            2 => b"\r\n.",
            _ => match b & 3 {
                0 => b"\r",
                1 => b"\n",
                2 => b"\r\n.\r\n",
                _ => b"\n.\r\n",
            },
        });
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&head, rest)) = data.split_first() else {
        return;
    };
    let (seeds, raw) = rest.split_at(rest.len().min(8));
    // Seeds whose first byte is odd expand the rest into long, mostly
    // well-formed lines, so the 64-byte fast path gets exercised.
    let expanded;
    let wire = if seeds.first().is_some_and(|s| s & 1 == 1) {
        expanded = expand(raw);
        &expanded[..]
    } else {
        raw
    };
    let mut cfg = UnstuffConfig::with_max_size(match head & 0x7F {
        0x7F => u64::MAX,
        n => u64::from(n) * 8,
    });
    if head & 0x80 != 0 {
        cfg = cfg.bare_eol(BareEol::Normalize);
    }
    let mut cuts: Vec<usize> = seeds
        .iter()
        .map(|&s| usize::from(s) * wire.len() / 255)
        .collect();
    cuts.sort_unstable();

    let whole = run(cfg, wire, &[]);
    assert_eq!(run(cfg, wire, &cuts), whole, "split changed the events");
    let want = Model {
        cfg,
        content: Vec::new(),
        size: 0,
        verdict: None,
    }
    .run(wire);
    if want.end.is_some() {
        assert_eq!(whole, want, "differs from the model");
    } else {
        assert!(whole.end.is_none(), "ended where the model did not");
        assert!(want.content.starts_with(&whole.content));
    }
});

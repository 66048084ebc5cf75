//! The line framer on arbitrary input, fed whole and in pieces.
//!
//! Input: byte 0 picks the limit and the bare-LF policy, bytes 1..9 pick
//! split points, the rest is the stream. Checks: the same events whatever
//! the split, no line over the limit, no buffering past the limit, every
//! line is the stream's own bytes at its own offset.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use mailwire_line::{BareLf, LineConfig, LineError, LineFramer};

type Events = Vec<Result<(Vec<u8>, u64, usize), LineError>>;

fn run(cfg: LineConfig, input: &[u8], cuts: &[usize]) -> (Events, Vec<u8>) {
    let mut f = LineFramer::new(cfg);
    let mut buf = BytesMut::new();
    let mut events = Vec::new();
    let mut last = 0;
    for &cut in cuts.iter().chain(std::iter::once(&input.len())) {
        buf.extend_from_slice(&input[last..cut]);
        last = cut;
        while let Some(r) = f.next_line(&mut buf) {
            events.push(r.map(|l| {
                assert!(l.raw().len() <= cfg.max_len, "line over the limit");
                assert!(l.terminator() == b"\r\n" || l.terminator() == b"\n");
                assert!(!l.content().contains(&b'\n'));
                (l.raw().to_vec(), l.offset(), l.content().len())
            }));
        }
        assert!(buf.len() < cfg.max_len, "buffered past the limit");
    }
    (events, buf.to_vec())
}

fuzz_target!(|data: &[u8]| {
    let Some((&head, rest)) = data.split_first() else {
        return;
    };
    let (seeds, input) = rest.split_at(rest.len().min(8));
    let policy = if head & 0x80 != 0 {
        BareLf::Accept
    } else {
        BareLf::Reject
    };
    let cfg = LineConfig::with_max_len(1 + usize::from(head & 0x7F)).bare_lf(policy);
    let mut cuts: Vec<usize> = seeds
        .iter()
        .map(|&s| usize::from(s) * input.len() / 255)
        .collect();
    cuts.sort_unstable();

    let whole = run(cfg, input, &[]);
    assert_eq!(run(cfg, input, &cuts), whole, "split changed the events");
    if input.len() <= 512 {
        let bytewise: Vec<usize> = (1..input.len()).collect();
        assert_eq!(run(cfg, input, &bytewise), whole, "byte by byte");
    }
    for (raw, offset, content_len) in whole.0.iter().flatten() {
        let o = *offset as usize;
        assert_eq!(&input[o..o + raw.len()], &raw[..]);
        if policy == BareLf::Reject {
            assert_eq!(raw.len(), content_len + 2, "bare LF accepted under Reject");
        }
    }
});

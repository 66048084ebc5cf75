//! Property tests: any split of the input gives the same events; stuffing
//! and unstuffing round-trip; the unstuffer agrees with a byte-at-a-time
//! reference model of RFC 5321 §4.5.2.

use bytes::BytesMut;
use mailwire_line::{
    BareEol, BareEolKind, BareLf, DataEnd, LineConfig, LineError, LineFramer, Status, Stuffer,
    UnstuffConfig, Unstuffed, Unstuffer, stuff_all,
};
use proptest::prelude::*;

/// Bytes rich in the characters that matter here.
fn wire_bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![
            4 => Just(b'\r'),
            4 => Just(b'\n'),
            4 => Just(b'.'),
            4 => Just(b'x'),
            1 => Just(0u8),
            1 => any::<u8>(),
        ],
        0..max,
    )
}

/// Mostly well-formed CRLF lines with long plain runs (so the 64-byte fast
/// path is exercised), with rare dots, bare CRs and LFs, and fake ends.
fn mostly_plain(max_parts: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![
            30 => (0usize..150).prop_map(|n| vec![b'x'; n]),
            30 => Just(b"\r\n".to_vec()),
            3 => Just(b".".to_vec()),
            2 => Just(b"\r\n.".to_vec()),
            1 => Just(b"\r".to_vec()),
            1 => Just(b"\n".to_vec()),
            1 => Just(b"\r\n.\r\n".to_vec()),
            1 => Just(b"\n.\r\n".to_vec()),
        ],
        0..max_parts,
    )
    .prop_map(|parts| parts.concat())
}

/// Either kind of input.
fn any_wire() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![wire_bytes(200), mostly_plain(40)]
}

/// Cut points for `len` bytes, from arbitrary seeds.
fn cuts(len: usize, seeds: &[usize]) -> Vec<usize> {
    let mut c: Vec<usize> = seeds.iter().map(|s| s % (len + 1)).collect();
    c.sort_unstable();
    c
}

#[derive(Debug, PartialEq)]
struct Outcome {
    content: Vec<u8>,
    end: Option<DataEnd>,
    consumed: u64,
    rest: Vec<u8>,
}

fn unstuff_split(config: UnstuffConfig, wire: &[u8], cuts: &[usize]) -> Outcome {
    let mut u = Unstuffer::new(config);
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
                    assert!(!d.is_empty(), "empty chunk");
                    assert!(end.is_none(), "data after end");
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
            assert!(buf.len() <= 2, "held {} bytes", buf.len());
        }
    }
    Outcome {
        content,
        end,
        consumed: u.consumed(),
        rest: buf.to_vec(),
    }
}

/// A byte-at-a-time model. Only meaningful when the end is present (else
/// the streaming decoder may still hold up to two undecided bytes).
fn reference(config: UnstuffConfig, wire: &[u8]) -> Outcome {
    let mut i = 0;
    let mut line_start = true;
    let mut content = Vec::new();
    let mut size: u64 = 0;
    let mut verdict: Option<DataEnd> = None;
    let push = |content: &mut Vec<u8>, size: &mut u64, verdict: &mut Option<DataEnd>, b: u8| {
        if verdict.is_none() && *size < config.max_size {
            content.push(b);
        }
        *size += 1;
        if *size > config.max_size && verdict.is_none() {
            *verdict = Some(DataEnd::TooLarge {
                size: 0,
                limit: config.max_size,
            });
        }
    };
    while i < wire.len() {
        if line_start {
            if wire[i..].starts_with(b".\r\n") {
                let end = match verdict {
                    None => DataEnd::Accepted { size },
                    Some(DataEnd::TooLarge { limit, .. }) => DataEnd::TooLarge { size, limit },
                    Some(v) => v,
                };
                return Outcome {
                    content,
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
            push(&mut content, &mut size, &mut verdict, b'\r');
            push(&mut content, &mut size, &mut verdict, b'\n');
            i += 2;
            line_start = true;
        } else if b == b'\r' || b == b'\n' {
            match config.bare_eol {
                BareEol::Normalize => {
                    push(&mut content, &mut size, &mut verdict, b'\r');
                    push(&mut content, &mut size, &mut verdict, b'\n');
                }
                _ => {
                    if verdict.is_none() {
                        let kind = if b == b'\r' {
                            BareEolKind::Cr
                        } else {
                            BareEolKind::Lf
                        };
                        verdict = Some(DataEnd::Rejected {
                            kind,
                            offset: i as u64,
                        });
                    }
                    size += 1;
                }
            }
            i += 1;
        } else {
            push(&mut content, &mut size, &mut verdict, b);
            i += 1;
        }
    }
    Outcome {
        content,
        end: None,
        consumed: i as u64,
        rest: Vec::new(),
    }
}

/// The body with every bare CR/LF made CRLF and a final CRLF added if
/// missing: what a receiver gets back from `stuff_all(body)`.
fn canonical(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < body.len() {
        match body[i] {
            b'\r' => {
                out.extend_from_slice(b"\r\n");
                if body.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
            }
            b'\n' => out.extend_from_slice(b"\r\n"),
            b => out.push(b),
        }
        i += 1;
    }
    if !out.is_empty() && !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}

fn config(normalize: bool, max_size: u64) -> UnstuffConfig {
    let c = UnstuffConfig::with_max_size(max_size);
    if normalize {
        c.bare_eol(BareEol::Normalize)
    } else {
        c
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    /// Any split of the wire gives the same content, end and leftover.
    #[test]
    fn unstuff_any_split_same_events(
        wire in any_wire(),
        seeds in prop::collection::vec(any::<usize>(), 0..8),
        normalize in any::<bool>(),
        max_size in prop_oneof![Just(u64::MAX), 0u64..64, 0u64..3000],
    ) {
        let cfg = config(normalize, max_size);
        let whole = unstuff_split(cfg, &wire, &[]);
        let split = unstuff_split(cfg, &wire, &cuts(wire.len(), &seeds));
        prop_assert_eq!(&split, &whole);
        let bytewise: Vec<usize> = (1..wire.len()).collect();
        prop_assert_eq!(&unstuff_split(cfg, &wire, &bytewise), &whole);
    }

    /// The unstuffer matches the byte-at-a-time model.
    #[test]
    fn unstuff_matches_reference(
        wire in any_wire(),
        normalize in any::<bool>(),
        max_size in prop_oneof![Just(u64::MAX), 0u64..64, 0u64..3000],
    ) {
        let cfg = config(normalize, max_size);
        let got = unstuff_split(cfg, &wire, &[]);
        let want = reference(cfg, &wire);
        if want.end.is_some() {
            prop_assert_eq!(got, want);
        } else {
            prop_assert!(got.end.is_none());
            prop_assert!(want.content.starts_with(&got.content));
            prop_assert!(got.consumed + 2 >= want.consumed);
        }
    }

    /// unstuff(stuff(body)) is the body with line ends canonicalized, for any
    /// chunking of the body and any split of the wire; what follows the end
    /// stays in the buffer.
    #[test]
    fn stuff_unstuff_round_trip(
        body in prop_oneof![wire_bytes(300), mostly_plain(40)],
        body_seeds in prop::collection::vec(any::<usize>(), 0..6),
        wire_seeds in prop::collection::vec(any::<usize>(), 0..6),
        trailer in wire_bytes(20),
        reject in any::<bool>(),
    ) {
        let mut s = Stuffer::new();
        let mut wire = Vec::new();
        let mut last = 0;
        let body_cuts = cuts(body.len(), &body_seeds);
        for &cut in body_cuts.iter().chain(std::iter::once(&body.len())) {
            s.push(&body[last..cut], &mut wire);
            last = cut;
        }
        s.finish(&mut wire);
        prop_assert_eq!(&wire, &stuff_all(&body), "chunking changed the output");

        let data_len = wire.len();
        wire.extend_from_slice(&trailer);
        // The stuffed wire has no bare CR/LF, so Reject and Normalize agree.
        let cfg = config(!reject, u64::MAX);
        let got = unstuff_split(cfg, &wire, &cuts(wire.len(), &wire_seeds));
        let want = canonical(&body);
        prop_assert_eq!(got.end, Some(DataEnd::Accepted { size: want.len() as u64 }));
        prop_assert_eq!(got.content, want);
        prop_assert_eq!(got.consumed, data_len as u64);
        prop_assert_eq!(got.rest, trailer);
    }

    /// The framer gives the same lines and errors for any split, and no line
    /// over the limit.
    #[test]
    fn framer_any_split_same_events(
        input in wire_bytes(300),
        seeds in prop::collection::vec(any::<usize>(), 0..8),
        max_len in 1usize..40,
        accept in any::<bool>(),
    ) {
        let cfg = LineConfig::with_max_len(max_len)
            .bare_lf(if accept { BareLf::Accept } else { BareLf::Reject });
        let run = |cuts: &[usize]| {
            let mut f = LineFramer::new(cfg);
            let mut buf = BytesMut::new();
            let mut events: Vec<Result<(Vec<u8>, u64), LineError>> = Vec::new();
            let mut last = 0;
            for &cut in cuts.iter().chain(std::iter::once(&input.len())) {
                buf.extend_from_slice(&input[last..cut]);
                last = cut;
                while let Some(r) = f.next_line(&mut buf) {
                    events.push(r.map(|l| {
                        assert!(l.raw().len() <= max_len);
                        (l.raw().to_vec(), l.offset())
                    }));
                }
                assert!(buf.len() < max_len, "buffered past the limit");
            }
            (events, buf.to_vec())
        };
        let whole = run(&[]);
        prop_assert_eq!(&run(&cuts(input.len(), &seeds)), &whole);
        let bytewise: Vec<usize> = (1..input.len()).collect();
        let by_byte = run(&bytewise);
        // Byte by byte, an over-long line is reported as soon as the limit
        // is passed, in the same order: identical events.
        prop_assert_eq!(&by_byte, &whole);
        // Lines are the input's own bytes, at their own offsets.
        for (raw, offset) in whole.0.iter().flatten() {
            let o = *offset as usize;
            prop_assert_eq!(&input[o..o + raw.len()], &raw[..]);
        }
    }
}

//! Stuffing then unstuffing arbitrary bodies, in arbitrary chunks.
//!
//! Input: bytes 0..8 pick the body's chunk points and the wire's split
//! points, the rest is the body. Checks: chunking does not change the
//! stuffed form; the wire has no bare CR/LF and exactly one end of data, at
//! its end; unstuffing gives back the body with line ends canonicalized.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use mailwire_line::{DataEnd, Status, Stuffer, UnstuffConfig, Unstuffed, Unstuffer, stuff_all};

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

fn cuts(seeds: &[u8], len: usize) -> Vec<usize> {
    let mut c: Vec<usize> = seeds.iter().map(|&s| usize::from(s) * len / 255).collect();
    c.sort_unstable();
    c
}

fuzz_target!(|data: &[u8]| {
    let (seeds, body) = data.split_at(data.len().min(8));
    let (body_seeds, wire_seeds) = seeds.split_at(seeds.len() / 2);

    let mut s = Stuffer::new();
    let mut wire = Vec::new();
    let mut last = 0;
    for &cut in cuts(body_seeds, body.len())
        .iter()
        .chain(std::iter::once(&body.len()))
    {
        s.push(&body[last..cut], &mut wire);
        last = cut;
    }
    s.finish(&mut wire);
    assert_eq!(wire, stuff_all(body), "chunking changed the output");

    for (i, &b) in wire.iter().enumerate() {
        if b == b'\r' {
            assert_eq!(wire.get(i + 1), Some(&b'\n'), "bare CR at {i}");
        } else if b == b'\n' {
            assert!(i > 0 && wire[i - 1] == b'\r', "bare LF at {i}");
        }
    }

    let mut u = Unstuffer::new(UnstuffConfig::with_max_size(u64::MAX));
    let mut buf = BytesMut::new();
    let mut content = Vec::new();
    let mut end = None;
    let mut last = 0;
    for &cut in cuts(wire_seeds, wire.len())
        .iter()
        .chain(std::iter::once(&wire.len()))
    {
        buf.extend_from_slice(&wire[last..cut]);
        last = cut;
        while let Status::Complete(step) = u.next_chunk(&mut buf) {
            match step {
                Unstuffed::Data(d) => content.extend_from_slice(&d),
                Unstuffed::End(e) => {
                    assert!(end.is_none());
                    end = Some(e);
                }
            }
        }
        if end.is_none() {
            assert!(last < wire.len(), "the end came early or never");
        }
    }
    let want = canonical(body);
    assert_eq!(
        end,
        Some(DataEnd::Accepted {
            size: want.len() as u64
        })
    );
    assert_eq!(content, want);
    assert!(buf.is_empty());
    assert_eq!(u.consumed(), wire.len() as u64);
});

//! Dot-unstuffing a 10 MiB SMTP DATA body: mailwire-line's `Unstuffer`
//! against smtp-proto's `DataReceiver`, on identical input in the same run.
//!
//! The body has mixed line lengths (0 to 998 octets, most of 72 to 78) and
//! a leading dot on about one line in twenty. `mailwire-line` hands out
//! zero-copy `Bytes` chunks; `mailwire-line+copy` also copies them into a
//! `Vec<u8>`, as smtp-proto always does, for a like-for-like figure.
//!
//! Run: `cargo bench -p mailwire-benches --bench unstuff -- --warm-up-time 1 --measurement-time 3`

use bytes::BytesMut;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use mailwire_line::{DataEnd, Status, UnstuffConfig, Unstuffed, Unstuffer, stuff_all};
use smtp_proto::request::receiver::DataReceiver;
use std::hint::black_box;
use std::time::Instant;

const SIZE: usize = 10 * 1024 * 1024;

/// A deterministic body of about `SIZE` octets, CRLF lines.
fn body() -> Vec<u8> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut out = Vec::with_capacity(SIZE + 256);
    while out.len() < SIZE {
        let r = next();
        // 10% empty, 10% 0..200, 2% 998 (the RFC 5321 maximum), 78% of
        // 72..=78 octets (text and base64 lines).
        let len = match r % 50 {
            0..5 => 0,
            5..10 => (r >> 8) as usize % 200,
            10 => 998,
            _ => 72 + (r >> 8) as usize % 7,
        };
        let start = out.len();
        for i in 0..len {
            out.push(b' ' + ((r >> (i % 48)) as u8 + i as u8) % 94);
        }
        if len > 0 && (r >> 32) % 20 == 0 {
            out[start] = b'.';
        }
        out.extend_from_slice(b"\r\n");
    }
    out
}

fn mailwire(wire: &mut BytesMut, copy: Option<&mut Vec<u8>>) -> u64 {
    let mut u = Unstuffer::new(UnstuffConfig::with_max_size(u64::MAX));
    let mut total = 0u64;
    let mut copy = copy;
    loop {
        match u.next_chunk(wire) {
            Status::Complete(Unstuffed::Data(chunk)) => {
                total += chunk.len() as u64;
                if let Some(v) = copy.as_deref_mut() {
                    v.extend_from_slice(&chunk);
                }
                black_box(&chunk);
            }
            Status::Complete(Unstuffed::End(end)) => {
                assert_eq!(end, DataEnd::Accepted { size: total });
                return total;
            }
            Status::Partial => panic!("the whole body is in the buffer"),
        }
    }
}

fn smtp_proto(wire: &[u8], out: &mut Vec<u8>) -> usize {
    let mut r = DataReceiver::new();
    let mut it = wire.iter();
    assert!(r.ingest(&mut it, out));
    out.len()
}

/// The ratio from the best of 30 alternating runs of each: on a loaded
/// machine the minimum is steadier than criterion's means.
fn print_ratio(wire: &[u8]) {
    let mut best = [f64::MAX; 3];
    let mut out = Vec::with_capacity(wire.len());
    for _ in 0..30 {
        let mut buf = BytesMut::from(wire);
        let t = Instant::now();
        black_box(mailwire(&mut buf, None));
        best[0] = best[0].min(t.elapsed().as_secs_f64());
        let mut buf = BytesMut::from(wire);
        out.clear();
        let t = Instant::now();
        black_box(mailwire(&mut buf, Some(&mut out)));
        best[1] = best[1].min(t.elapsed().as_secs_f64());
        out.clear();
        let t = Instant::now();
        black_box(smtp_proto(black_box(wire), &mut out));
        best[2] = best[2].min(t.elapsed().as_secs_f64());
    }
    let mib = wire.len() as f64 / (1024.0 * 1024.0);
    println!(
        "unstuff_10MiB best of 30: mailwire-line {:.0} MiB/s, mailwire-line+copy {:.0} MiB/s, \
         smtp-proto {:.0} MiB/s; ratio {:.2}x (+copy {:.2}x)",
        mib / best[0],
        mib / best[1],
        mib / best[2],
        best[2] / best[0],
        best[2] / best[1],
    );
}

fn bench(c: &mut Criterion) {
    let body = body();
    let wire = stuff_all(&body);

    // Both decoders give the body back, byte for byte.
    let mut got = Vec::new();
    mailwire(&mut BytesMut::from(&wire[..]), Some(&mut got));
    assert_eq!(got, body);
    let mut theirs = Vec::new();
    smtp_proto(&wire, &mut theirs);
    assert_eq!(theirs, body);

    print_ratio(&wire);

    let mut g = c.benchmark_group("unstuff_10MiB");
    g.throughput(Throughput::Bytes(wire.len() as u64));
    g.sample_size(20);
    g.bench_function("mailwire-line", |b| {
        b.iter_batched_ref(
            || BytesMut::from(&wire[..]),
            |buf| mailwire(buf, None),
            BatchSize::LargeInput,
        )
    });
    g.bench_function("mailwire-line+copy", |b| {
        let mut out = Vec::with_capacity(wire.len());
        b.iter_batched_ref(
            || BytesMut::from(&wire[..]),
            |buf| {
                out.clear();
                mailwire(buf, Some(&mut out))
            },
            BatchSize::LargeInput,
        )
    });
    g.bench_function("smtp-proto", |b| {
        let mut out = Vec::with_capacity(wire.len());
        b.iter(|| {
            out.clear();
            smtp_proto(black_box(&wire), &mut out)
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

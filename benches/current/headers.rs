//! Header parsing against the current release: every header field of every
//! corpus message into structured values, mailwire-message beside
//! mail-parser 1.0.x, on identical input in one benchmark group.
//!
//! Input and mailwire's work are those of the workspace bench
//! `benches/message_headers.rs` (shared through `../fixtures.rs`):
//! `Message::parse`, then `parse_field` on every field, every value
//! touched. Throughput counts header-section bytes, the same figure for
//! both.
//!
//! mail-parser 1.0: `MessageParser::new().parse_headers(..)`, whose
//! default table parses the same fields as 0.11 did (addresses, dates, ids,
//! Received, List-* as addresses, Keywords as a list, unstructured text
//! decoded, others raw), then every header's `value()` touched the same
//! way. 1.0 always parses Content-Type and Content-Disposition (0.11 could
//! keep them raw, which the workspace bench does); mailwire-message leaves
//! them raw, so this favours neither side much: a corpus message has one or
//! two such fields.
//!
//! Besides criterion's figures, an interleaved run (a round of each, 40
//! times) prints both throughputs and the ratio, which the load of a shared
//! machine affects alike, over all rounds and over each one's best round.
//!
//! Run: `cargo +nightly bench --ignore-rust-version --manifest-path benches/current/Cargo.toml --bench headers_current -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mail_parser::{HeaderValue, MessageParser};

#[path = "../fixtures.rs"]
#[allow(dead_code, unused_imports)]
mod fixtures;

use fixtures::{header_bytes, header_corpus, interleaved_rounds, mailwire_headers};

fn mail_parser_headers(parser: &MessageParser, msgs: &[Vec<u8>]) -> u64 {
    let mut sum = 0u64;
    for m in msgs {
        let Some(msg) = parser.parse_headers(m) else {
            continue;
        };
        for h in msg.root().headers() {
            sum += match h.value() {
                HeaderValue::Text(t) => t.len() as u64,
                HeaderValue::TextList(l) => l.iter().map(|t| t.len() as u64).sum(),
                HeaderValue::Address(a) => a
                    .mailboxes()
                    .map(|x| {
                        x.address().map_or(0, |s| s.len() as u64)
                            + x.name().map_or(0, |n| n.len() as u64)
                    })
                    .sum(),
                HeaderValue::DateTime(d) => d.to_timestamp() as u64,
                HeaderValue::Received(r) => r.date().map_or(0, |d| d.to_timestamp() as u64) + 1,
                HeaderValue::ContentType(c) => c.ctype().len() as u64,
                HeaderValue::Empty => 0,
            };
        }
    }
    sum
}

fn bench(c: &mut Criterion) {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/corpus/mime");
    let msgs = header_corpus(dir.as_ref());
    if msgs.is_empty() {
        eprintln!("headers_current: corpus missing, nothing to measure");
        return;
    }
    let bytes = header_bytes(&msgs);
    eprintln!(
        "headers_current: {} messages, {bytes} header bytes",
        msgs.len()
    );
    let parser = MessageParser::new();
    interleaved_rounds(
        "headers",
        bytes,
        &mut [
            (
                "mailwire",
                Box::new(|| mailwire_headers(black_box(&msgs)) as usize),
            ),
            (
                "mail-parser",
                Box::new(|| mail_parser_headers(&parser, black_box(&msgs)) as usize),
            ),
        ],
    );
    let mut g = c.benchmark_group("message_headers_current");
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("mailwire", |b| {
        b.iter(|| black_box(mailwire_headers(black_box(&msgs))))
    });
    g.bench_function("mail-parser", |b| {
        b.iter(|| black_box(mail_parser_headers(&parser, black_box(&msgs))))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

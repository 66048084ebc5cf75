//! MIME parsing: mailwire-mime against mail-parser 0.11 and mailparse 0.18
//! on identical input in the same run.
//!
//! mail-parser 0.11.9 is the newest release that builds on Rust 1.95
//! (1.0.x needs 1.98).
//!
//! Inputs: every message of `../shared/corpus/mime/` (skipped with a note
//! when the corpus is missing), and a generated corpus: quoted-printable
//! newsletters, messages with a 1 MiB base64 attachment, and three-level
//! forwards (message/rfc822 inside message/rfc822 inside message/rfc822).
//!
//! Two groups per input:
//! - `full`: the whole message with every leaf decoded. mailwire: the
//!   top-level header parsed (mailwire-message `Message::summary`: subject,
//!   addresses, date, ids), the MIME tree after that header with its base64
//!   leaves decoded as it goes (`Message::parse_after_header_with`,
//!   `Options::decoding`), every leaf's body decoded (text/* ones on to
//!   UTF-8). mail-parser: `MessageParser::default().parse`
//!   (it parses every header and decodes every part while parsing), then every
//!   part's contents touched. mailparse: `parse_mail`, then `get_body_raw` of
//!   every leaf and `get_body` of text parts.
//! - `structure`: the tree only. mailwire: `Message::parse`. mailparse:
//!   `parse_mail`. mail-parser has no structure-only mode (it always decodes);
//!   its figure is `MessageParser::new().with_mime_headers().parse`, which
//!   parses the MIME fields only and still decodes bodies.
//!
//! Run: `cargo bench -p mailwire-benches --bench mime -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mailwire_benches::fixtures::{
    interleaved, mailparse_full, mailparse_structure, mailwire_full, mailwire_structure,
    mime_inputs,
};

fn mail_parser_full(data: &[u8]) -> usize {
    let msg = mail_parser::MessageParser::default()
        .parse(data)
        .expect("mail-parser");
    let mut n = 0;
    for p in &msg.parts {
        n += p.contents().len();
    }
    n + msg.subject().map_or(0, str::len)
}

fn bench_set(c: &mut Criterion, name: &str, inputs: &[Vec<u8>]) {
    if inputs.is_empty() {
        return;
    }
    // Only inputs every library accepts, so no figure measures an error path.
    let all = inputs.len();
    let inputs: Vec<Vec<u8>> = inputs
        .iter()
        .filter(|d| {
            mail_parser::MessageParser::default()
                .parse(d.as_slice())
                .is_some()
                && mailparse::parse_mail(d).is_ok()
        })
        .cloned()
        .collect();
    if inputs.len() < all {
        eprintln!(
            "{name}: {} of {all} messages left out (a peer rejects them)",
            all - inputs.len()
        );
    }
    let inputs = &inputs[..];
    let bytes: usize = inputs.iter().map(Vec::len).sum();
    eprintln!("{name}: {} messages, {bytes} bytes", inputs.len());
    interleaved(
        &format!("full/{name}"),
        &[
            ("mailwire", mailwire_full),
            ("mail-parser", mail_parser_full),
            ("mailparse", mailparse_full),
        ],
        inputs,
    );
    let mut g = c.benchmark_group(format!("mime_full/{name}"));
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("mailwire", |b| {
        b.iter(|| {
            inputs
                .iter()
                .map(|d| mailwire_full(black_box(d)))
                .sum::<usize>()
        })
    });
    g.bench_function("mail-parser", |b| {
        b.iter(|| {
            inputs
                .iter()
                .map(|d| mail_parser_full(black_box(d)))
                .sum::<usize>()
        })
    });
    g.bench_function("mailparse", |b| {
        b.iter(|| {
            inputs
                .iter()
                .map(|d| mailparse_full(black_box(d)))
                .sum::<usize>()
        })
    });
    g.finish();
    let mut g = c.benchmark_group(format!("mime_structure/{name}"));
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("mailwire", |b| {
        b.iter(|| {
            inputs
                .iter()
                .map(|d| mailwire_structure(black_box(d)))
                .sum::<usize>()
        })
    });
    let mp = mail_parser::MessageParser::new().with_mime_headers();
    g.bench_function("mail-parser", |b| {
        b.iter(|| {
            inputs
                .iter()
                .map(|d| {
                    mp.parse(black_box(d.as_slice()))
                        .map_or(0, |m| m.parts.len())
                })
                .sum::<usize>()
        })
    });
    g.bench_function("mailparse", |b| {
        b.iter(|| {
            inputs
                .iter()
                .map(|d| mailparse_structure(black_box(d)))
                .sum::<usize>()
        })
    });
    g.finish();
}

fn mime(c: &mut Criterion) {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/corpus/mime");
    for (name, inputs) in mime_inputs(dir.as_ref()) {
        bench_set(c, name, &inputs);
    }
}

criterion_group!(benches, mime);
criterion_main!(benches);

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
//!   addresses, date, ids), the MIME tree, every leaf's body decoded
//!   (text/* ones on to UTF-8). mail-parser: `MessageParser::default().parse`
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
use mailwire_mime::builder::{MessageBuilder, PartBuilder};
use mailwire_mime::{Message, TransferEncoding};

fn noise(n: usize, seed: u64) -> Vec<u8> {
    let mut s = seed | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s as u8
        })
        .collect()
}

fn newsletters() -> Vec<Vec<u8>> {
    (0..10)
        .map(|i| {
            let mut text = String::new();
            let mut html = String::from("<html><body>");
            for k in 0..300 {
                text.push_str(&format!("Article {k}: les nouvelles de la semaine, café et thé, prix réduits à 9,99 € — lisez la suite sur le site.\n"));
                html.push_str(&format!("<p class=\"article\" style=\"font-family: Arial\">Article {k}: les nouvelles de la semaine, café et thé, <b>prix réduits</b> à 9,99&nbsp;€ — <a href=\"https://example.org/a/{k}?utm=x\">lisez la suite</a></p>\n"));
            }
            html.push_str("</body></html>");
            MessageBuilder::new()
                .header("From", "News <news@example.org>")
                .and_then(|b| b.header("Subject", &format!("Lettre n° {i}")))
                .expect("valid header")
                .text(&text)
                .html(&html)
                .boundary_seed(i)
                .build()
        })
        .collect()
}

fn attachments() -> Vec<Vec<u8>> {
    (0..3)
        .map(|i| {
            MessageBuilder::new()
                .header("From", "a@example.org")
                .and_then(|b| b.header("Subject", "the file"))
                .expect("valid header")
                .text("Here it is.\n")
                .attachment(PartBuilder::attachment(
                    "application/octet-stream",
                    "data.bin",
                    noise(1 << 20, i + 1),
                ))
                .boundary_seed(i)
                .build()
        })
        .collect()
}

fn forwards() -> Vec<Vec<u8>> {
    (0..20)
        .map(|i| {
            let mut msg = MessageBuilder::new()
                .header("Subject", "original")
                .expect("valid header")
                .text(&"The original text, with some words.\n".repeat(40))
                .attachment(PartBuilder::attachment(
                    "image/png",
                    "pic.png",
                    noise(6000, i + 7),
                ))
                .build();
            for level in 0..3 {
                msg = MessageBuilder::new()
                    .header("Subject", &format!("Fwd level {level}"))
                    .expect("valid header")
                    .text(&"See below, forwarded.\n".repeat(10))
                    .html("<p>See below</p>")
                    .forward(msg)
                    .boundary_seed(i * 10 + level)
                    .build();
            }
            msg
        })
        .collect()
}

fn mailwire_full(data: &[u8]) -> usize {
    let header = mailwire_message::Message::parse(data);
    let mut n = header.summary().from.len();
    let msg = Message::parse(data);
    for p in msg.leaves() {
        // text() decodes the transfer encoding, then the charset.
        n += match msg.text(p) {
            Some((t, _)) => t.len(),
            None => msg.decoded(p).len(),
        };
    }
    n
}

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

fn mailparse_full(data: &[u8]) -> usize {
    fn walk(p: &mailparse::ParsedMail<'_>) -> usize {
        if p.subparts.is_empty() {
            let mut n = p.get_body_raw().map_or(0, |b| b.len());
            if p.ctype.mimetype.starts_with("text/") {
                n += p.get_body().map_or(0, |b| b.len());
            }
            n
        } else {
            p.subparts.iter().map(walk).sum()
        }
    }
    let m = mailparse::parse_mail(data).expect("mailparse");
    walk(&m)
}

/// The machine is shared, so load changes within seconds: besides
/// criterion's figures, time the three libraries in alternation (a round of
/// each, 30 times) and print the throughput of each and the ratios, which
/// that load affects alike.
fn interleaved(name: &str, inputs: &[Vec<u8>], bytes: usize) {
    type Full = fn(&[u8]) -> usize;
    let libs: [(&str, Full); 3] = [
        ("mailwire", mailwire_full),
        ("mail-parser", mail_parser_full),
        ("mailparse", mailparse_full),
    ];
    let reps = (4_000_000 / bytes.max(1)).max(1);
    let mut secs = [0f64; 3];
    for _ in 0..30 {
        for (k, (_, f)) in libs.iter().enumerate() {
            let t = std::time::Instant::now();
            for _ in 0..reps {
                black_box(inputs.iter().map(|d| f(black_box(d))).sum::<usize>());
            }
            secs[k] += t.elapsed().as_secs_f64();
        }
    }
    let mib = |k: usize| (bytes * reps * 30) as f64 / secs[k] / 1048576.0;
    eprintln!(
        "interleaved full/{name}: mailwire {:.0} MiB/s, mail-parser {:.0} MiB/s, mailparse {:.0} MiB/s; mailwire/mail-parser {:.2}x, mailwire/mailparse {:.2}x",
        mib(0),
        mib(1),
        mib(2),
        mib(0) / mib(1),
        mib(0) / mib(2)
    );
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
    interleaved(name, inputs, bytes);
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
                .map(|d| Message::parse(black_box(d)).parts().len())
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
                .map(|d| mailparse::parse_mail(black_box(d)).map_or(0, |m| m.subparts.len()))
                .sum::<usize>()
        })
    });
    g.finish();
}

fn mime(c: &mut Criterion) {
    let _ = TransferEncoding::Base64;
    bench_set(c, "corpus", &mailwire_benches::mime_corpus());
    bench_set(c, "qp-newsletters", &newsletters());
    bench_set(c, "base64-1mib", &attachments());
    bench_set(c, "forwards-3-levels", &forwards());
}

criterion_group!(benches, mime);
criterion_main!(benches);

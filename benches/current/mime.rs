//! MIME parsing against the current release: mailwire-mime beside
//! mail-parser 1.0.x and mailparse 0.18 on identical input in the same run.
//!
//! The inputs and mailwire's work are those of the workspace bench
//! `benches/mime.rs` (shared through `../fixtures.rs`): every message of
//! `../shared/corpus/mime/`, quoted-printable newsletters, 1 MiB base64
//! attachments and three-level forwards. One criterion group per input and
//! mode; besides criterion's figures, an interleaved run prints MiB/s and
//! the ratios (the load of a shared machine affects them alike).
//!
//! - `full`: mailwire as in `benches/mime.rs` (top-level header summary,
//!   the tree after that header with base64 leaves decoded as it goes,
//!   every leaf decoded, text leaves on to UTF-8). mail-parser
//!   1.0 decodes bodies on access, so its full parse is
//!   `MessageParser::new().parse`, the subject, then every leaf of
//!   `parts()` through `text()` for text and HTML parts and `decoded()`
//!   for the others. mailparse: `parse_mail`, `get_body_raw` of every leaf
//!   and `get_body` of text parts.
//! - `structure`: the tree only. mailwire: `Message::parse`. mail-parser
//!   1.0: `parse` with every header the default table would parse kept raw
//!   (the MIME fields are always parsed), `parts().len()`. mailparse:
//!   `parse_mail`.
//!
//! Run (mail-parser 1.0 needs Rust 1.98; the nightly toolchain builds it
//! with `--ignore-rust-version`):
//! `cargo +nightly bench --ignore-rust-version --manifest-path benches/current/Cargo.toml --bench mime_current -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;
use std::sync::LazyLock;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mail_parser::{HeaderForm, HeaderName, MessageParser, PartKind};

#[path = "../fixtures.rs"]
#[allow(dead_code, unused_imports)]
mod fixtures;

use fixtures::{
    Work, interleaved, mailparse_full, mailparse_structure, mailwire_full, mailwire_structure,
    mime_inputs,
};

static FULL: LazyLock<MessageParser> = LazyLock::new(MessageParser::new);

/// Only the MIME fields parsed: every field the default table parses into a
/// structured value is kept raw instead.
static STRUCTURE: LazyLock<MessageParser> = LazyLock::new(|| {
    use HeaderName::*;
    [
        Subject,
        From,
        To,
        Cc,
        Date,
        Bcc,
        ReplyTo,
        Sender,
        Comments,
        InReplyTo,
        Keywords,
        Received,
        MessageId,
        References,
        ReturnPath,
        ResentTo,
        ResentFrom,
        ResentBcc,
        ResentCc,
        ResentSender,
        ResentDate,
        ResentMessageId,
        ListArchive,
        ListHelp,
        ListId,
        ListOwner,
        ListPost,
        ListSubscribe,
        ListUnsubscribe,
        ContentDescription,
        ContentLocation,
        ContentId,
        ContentLanguage,
    ]
    .into_iter()
    .fold(MessageParser::new(), |p, name| {
        p.header(name, HeaderForm::Raw)
    })
});

fn mail_parser_full(data: &[u8]) -> usize {
    let msg = FULL.parse(data).expect("mail-parser");
    let mut n = msg.root().subject().map_or(0, str::len);
    for p in msg.parts() {
        n += match p.kind() {
            PartKind::Text | PartKind::Html => p.text().map_or(0, |t| t.len()),
            PartKind::Binary | PartKind::InlineBinary => p.decoded().len(),
            PartKind::Multipart | PartKind::Message(_) => 0,
        };
    }
    n
}

fn mail_parser_structure(data: &[u8]) -> usize {
    STRUCTURE.parse(data).map_or(0, |m| m.parts().len())
}

fn group(c: &mut Criterion, mode: &str, name: &str, libs: &[(&str, Work)], inputs: &[Vec<u8>]) {
    let bytes: usize = inputs.iter().map(Vec::len).sum();
    interleaved(&format!("{mode}/{name}"), libs, inputs);
    let mut g = c.benchmark_group(format!("mime_{mode}/{name}"));
    g.throughput(Throughput::Bytes(bytes as u64));
    for &(lib, f) in libs {
        g.bench_function(lib, |b| {
            b.iter(|| inputs.iter().map(|d| f(black_box(d))).sum::<usize>())
        });
    }
    g.finish();
}

fn bench_set(c: &mut Criterion, name: &str, inputs: &[Vec<u8>]) {
    if inputs.is_empty() {
        return;
    }
    // Only inputs every library accepts, so no figure measures an error path.
    let all = inputs.len();
    let inputs: Vec<Vec<u8>> = inputs
        .iter()
        .filter(|d| FULL.parse(d.as_slice()).is_some() && mailparse::parse_mail(d).is_ok())
        .cloned()
        .collect();
    if inputs.len() < all {
        eprintln!(
            "{name}: {} of {all} messages left out (a peer rejects them)",
            all - inputs.len()
        );
    }
    let bytes: usize = inputs.iter().map(Vec::len).sum();
    eprintln!("{name}: {} messages, {bytes} bytes", inputs.len());
    group(
        c,
        "full",
        name,
        &[
            ("mailwire", mailwire_full),
            ("mail-parser", mail_parser_full),
            ("mailparse", mailparse_full),
        ],
        &inputs,
    );
    group(
        c,
        "structure",
        name,
        &[
            ("mailwire", mailwire_structure),
            ("mail-parser", mail_parser_structure),
            ("mailparse", mailparse_structure),
        ],
        &inputs,
    );
}

fn mime(c: &mut Criterion) {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/corpus/mime");
    for (name, inputs) in mime_inputs(dir.as_ref()) {
        bench_set(c, name, &inputs);
    }
}

criterion_group!(benches, mime);
criterion_main!(benches);

//! The IMAP server kit answering `FETCH n (FLAGS ENVELOPE BODYSTRUCTURE)`:
//! for every message of `../shared/corpus/mime/` (the licence files and
//! the encoder fixtures left out; skipped with a note when the corpus is
//! missing), the kit builds ENVELOPE and BODYSTRUCTURE and the codec
//! encodes the whole response line. Throughput counts message input.
//!
//! Two figures: `parse+fetch` (a server that parses the stored message
//! per request: `kit::Message::parse`, then the response) and `fetch`
//! (messages parsed once beforehand, as a server caching the parse).
//! No other Rust library offers a server-side FETCH builder to set beside
//! it.
//!
//! Run: `cargo bench -p mailwire-benches --bench imap_kit -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;
use std::num::NonZeroU32;

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mailwire_imap::kit::Message;
use mailwire_imap::{Data, FetchAttr, FetchItem, Flag, Response, encode};

/// `* n FETCH (FLAGS (\Seen) ENVELOPE (...) BODYSTRUCTURE (...))`, appended
/// to `out`.
fn respond(n: usize, m: &Message, out: &mut Vec<u8>) {
    let mut items = vec![FetchItem::Flags(vec![Flag::Seen])];
    for attr in [FetchAttr::Envelope, FetchAttr::BodyStructure] {
        if let Ok(Some(item)) = m.fetch(&attr) {
            items.push(item);
        }
    }
    let seq = NonZeroU32::new(u32::try_from(n + 1).unwrap_or(u32::MAX)).unwrap_or(NonZeroU32::MIN);
    encode::response(&Response::Data(Data::Fetch { seq, items }), out);
}

fn benches(c: &mut Criterion) {
    let msgs: Vec<Bytes> = mailwire_benches::fixtures::mime_corpus(
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/corpus/mime").as_ref(),
    )
    .into_iter()
    .map(Bytes::from)
    .collect();
    if msgs.is_empty() {
        return;
    }
    let total: usize = msgs.iter().map(Bytes::len).sum();
    let parsed: Vec<Message> = msgs.iter().cloned().map(Message::parse).collect();
    let mut out = Vec::with_capacity(1 << 20);
    for (i, m) in parsed.iter().enumerate() {
        respond(i, m, &mut out);
    }
    eprintln!(
        "imap_kit: {} messages, {} octets in, {} octets of FETCH responses",
        msgs.len(),
        total,
        out.len()
    );

    let mut g = c.benchmark_group("imap_kit/fetch-flags-envelope-bodystructure");
    g.throughput(Throughput::Bytes(total as u64));
    g.bench_function("parse+fetch", |b| {
        b.iter(|| {
            out.clear();
            for (i, raw) in msgs.iter().enumerate() {
                let m = Message::parse(black_box(raw.clone()));
                respond(i, &m, &mut out);
            }
            black_box(out.len())
        })
    });
    g.bench_function("fetch", |b| {
        b.iter(|| {
            out.clear();
            for (i, m) in parsed.iter().enumerate() {
                respond(i, black_box(m), &mut out);
            }
            black_box(out.len())
        })
    });
    g.finish();
}

criterion_group!(kit, benches);
criterion_main!(kit);

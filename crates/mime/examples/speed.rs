//! Rough timing of the full parse over the files given (debugging aid; the
//! real numbers come from the criterion bench `benches/mime.rs`).
use std::time::Instant;

fn full(d: &[u8]) -> usize {
    let h = mailwire_message::Message::parse(d);
    let mut n = h.summary().from.len();
    let m = mailwire_mime::Message::parse(d);
    for p in m.leaves() {
        n += match m.text(p) {
            Some((t, _)) => t.len(),
            None => m.decoded(p).len(),
        };
    }
    n
}

fn forwards() -> Vec<Vec<u8>> {
    use mailwire_mime::builder::{MessageBuilder, PartBuilder};
    (0..20u64)
        .map(|i| {
            let mut msg = MessageBuilder::new()
                .header("Subject", "original")
                .unwrap()
                .text(&"The original text, with some words.\n".repeat(40))
                .attachment(PartBuilder::attachment("image/png", "pic.png", vec![7; 6000]))
                .build();
            for level in 0..3 {
                msg = MessageBuilder::new()
                    .header("Subject", &format!("Fwd level {level}"))
                    .unwrap()
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

fn main() {
    let mut files: Vec<Vec<u8>> = std::env::args().skip(1).filter_map(|p| std::fs::read(p).ok()).collect();
    if files.is_empty() {
        files = forwards();
    }
    let total: usize = files.iter().map(Vec::len).sum();
    let rounds = (300_000_000 / total.max(1)).max(1);
    let t = Instant::now();
    let mut n = 0usize;
    for _ in 0..rounds {
        for d in &files {
            n += full(d);
        }
    }
    let s = t.elapsed().as_secs_f64();
    println!("full: {:.0} MiB/s ({n})", (total * rounds) as f64 / s / 1048576.0);
}

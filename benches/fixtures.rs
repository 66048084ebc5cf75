//! Inputs, mailwire's and mailparse's side of the work, shared by the benches of this
//! package and by the nightly package in `current/` (which includes this
//! file with `#[path]`), so both measure the same bytes and the same work.
//!
//! The corpus functions take the corpus directory (`shared/corpus/mime`),
//! which each package finds from its own manifest directory.

use std::path::{Path, PathBuf};

use mailwire_message::{FieldValue, parse_field};
use mailwire_mime::builder::{MessageBuilder, PartBuilder};
use mailwire_mime::{Message, Options};

/// The MIME corpus (the message files of `dir`, as
/// [`mailwire_testkit::corpus::mime_messages`] lists them). Empty (with a
/// note) when the corpus is missing.
pub fn mime_corpus(dir: &Path) -> Vec<Vec<u8>> {
    let Some(paths) = mailwire_testkit::corpus::mime_messages(dir) else {
        corpus_missing(dir);
        return Vec::new();
    };
    paths
        .into_iter()
        .filter_map(|p| std::fs::read(p).ok())
        .collect()
}

/// Says that the corpus at `dir` is missing, so its rows are skipped; with
/// `CI=true` panics instead, since a CI run must not pass with rows silently
/// left out.
fn corpus_missing(dir: &Path) {
    assert!(
        std::env::var_os("CI").is_none_or(|v| v != "true"),
        "CI=true and the corpus is missing at {}",
        dir.display()
    );
    eprintln!(
        "corpus missing at {}: corpus benchmark skipped",
        dir.display()
    );
}

/// The header corpus: every message file under `dir` (`*.eml` and `*.txt`,
/// without the bare bodies `body.N.txt`, the RFC texts and the encoder
/// fixtures).
pub fn header_corpus(dir: &Path) -> Vec<Vec<u8>> {
    let mut files: Vec<PathBuf> = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let name = p
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_owned();
            let dir = p
                .parent()
                .and_then(|d| d.file_name())
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            let is_msg = (name.ends_with(".eml") || name.ends_with(".txt"))
                && !name.starts_with("body.")
                && !(dir == "rfc-examples" && name.starts_with("rfc"))
                && dir != "mimekit-encoders";
            if is_msg {
                files.push(p);
            }
        }
    }
    if files.is_empty() {
        corpus_missing(dir);
    }
    files.sort();
    files.iter().filter_map(|p| std::fs::read(p).ok()).collect()
}

/// `n` pseudo-random bytes (xorshift from `seed`).
pub fn noise(n: usize, seed: u64) -> Vec<u8> {
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

/// Ten newsletters: French text and HTML alternatives in quoted-printable.
pub fn newsletters() -> Vec<Vec<u8>> {
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

/// Three messages, each with a 1 MiB base64 attachment.
pub fn attachments() -> Vec<Vec<u8>> {
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

/// Twenty three-level forwards: message/rfc822 inside message/rfc822
/// inside message/rfc822, each level with text and HTML.
pub fn forwards() -> Vec<Vec<u8>> {
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

/// The four MIME inputs, named as in the benchmark groups: the corpus
/// under `dir`, QP newsletters, 1 MiB base64 attachments, three-level
/// forwards.
pub fn mime_inputs(dir: &Path) -> [(&'static str, Vec<Vec<u8>>); 4] {
    [
        ("corpus", mime_corpus(dir)),
        ("qp-newsletters", newsletters()),
        ("base64-1mib", attachments()),
        ("forwards-3-levels", forwards()),
    ]
}

/// mailwire's full parse: the top-level header (`Message::summary`: subject,
/// addresses, date, ids), the MIME tree after that header
/// (`Message::parse_after_header_with`: the header block is not scanned
/// again; `Options::decoding`: a long base64 leaf decoded in the pass
/// that finds its end), every leaf's body decoded (text/* ones on to
/// UTF-8). Returns a checksum.
pub fn mailwire_full(data: &[u8]) -> usize {
    let header = mailwire_message::Message::parse(data);
    let mut n = header.summary().from.len();
    let msg = Message::parse_after_header_with(header.header(), Options::decoding());
    for p in msg.leaves() {
        // text() decodes the transfer encoding, then the charset.
        n += match msg.text(p) {
            Some((t, _)) => t.len(),
            None => msg.decoded(p).len(),
        };
    }
    n
}

/// mailwire's structure-only parse: the MIME tree.
pub fn mailwire_structure(data: &[u8]) -> usize {
    Message::parse(data).parts().len()
}

/// mailwire's header work: every field of every message into its
/// structured value, each value touched (a checksum).
pub fn mailwire_headers(msgs: &[Vec<u8>]) -> u64 {
    let mut sum = 0u64;
    for m in msgs {
        let msg = mailwire_message::Message::parse(m);
        for f in msg.fields() {
            sum += match parse_field(f) {
                FieldValue::Text(t) | FieldValue::Raw(t) => t.len() as u64,
                FieldValue::Addresses(l) => l
                    .mailboxes()
                    .map(|m| m.addr_spec().len() as u64 + m.name().map_or(0, |n| n.len() as u64))
                    .sum(),
                FieldValue::Path(p) => p.map_or(0, |p| p.addr_spec().len() as u64),
                FieldValue::Date(d) => d.map_or(0, |d| d.unix_timestamp() as u64),
                FieldValue::Ids(ids) => ids.iter().map(|i| i.as_str().len() as u64).sum(),
                FieldValue::Received(r) => {
                    r.tokens().count() as u64 + r.date.map_or(0, |d| d.unix_timestamp() as u64)
                }
                FieldValue::ListUrls(l) => l.urls.iter().map(|u| u.len() as u64).sum(),
                FieldValue::ListId(l) => l.map_or(0, |l| l.len() as u64),
                FieldValue::List(l) => l.iter().map(|u| u.len() as u64).sum(),
                _ => 0,
            };
        }
    }
    sum
}

/// Header-section bytes of every message (up to and including the blank
/// line): the throughput figure of the header benches.
pub fn header_bytes(msgs: &[Vec<u8>]) -> usize {
    msgs.iter()
        .map(|m| mailwire_message::Message::parse(m).header().body_offset())
        .sum()
}

/// mailparse's full parse: `parse_mail`, then `get_body_raw` of every
/// leaf and `get_body` of text parts.
pub fn mailparse_full(data: &[u8]) -> usize {
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

/// mailparse's structure: `parse_mail`.
pub fn mailparse_structure(data: &[u8]) -> usize {
    mailparse::parse_mail(data).map_or(0, |m| m.subparts.len())
}

/// One library's work on one message, returning a checksum.
pub type Work = fn(&[u8]) -> usize;

/// One library's pass over a whole input set, returning a checksum.
pub type Pass<'a> = Box<dyn Fn() -> usize + 'a>;

/// The machine is shared, so load changes within seconds: besides
/// criterion's figures, time the libraries in alternation (40 passes of
/// each, in the order of [`follow_order`], so that each library follows
/// each other one equally often) and print the throughput of each and the
/// ratio of the first to each other, which that load affects alike: over
/// all rounds, and over each library's best round (the least disturbed
/// one, the robust figure when other jobs preempt the benchmark).
/// `BENCH_NO_INTERLEAVED=1` skips it (for profiling one criterion
/// benchmark); `BENCH_INTERLEAVED=text` runs it only for the labels that
/// contain `text` (`structure/forwards`).
pub fn interleaved(label: &str, libs: &[(&str, Work)], inputs: &[Vec<u8>]) {
    let bytes: usize = inputs.iter().map(Vec::len).sum();
    let mut runs: Vec<(&str, Pass<'_>)> = libs
        .iter()
        .map(|&(name, f)| {
            let run: Pass<'_> = Box::new(move || {
                inputs
                    .iter()
                    .map(|d| f(std::hint::black_box(d)))
                    .sum::<usize>()
            });
            (name, run)
        })
        .collect();
    interleaved_rounds(label, bytes, &mut runs);
}

/// The order in which [`interleaved_rounds`] runs `n` libraries, repeated:
/// each library follows each other one exactly once in a pass of it (taken
/// as a ring), `n - 1` runs of each. A pass leaves the caches and the
/// allocator as its library used them, which the next one pays for: in a
/// fixed order one library always follows the same other (with mailwire,
/// mail-parser and mailparse in turn, the 1 MiB base64 bodies' full parse
/// ratio was 1.41-1.47x with mailwire right after mailparse and 1.65-1.67x
/// with mail-parser there). The order is an Eulerian circuit of the
/// complete directed graph on the libraries (Hierholzer's algorithm):
/// `[0, 1]` for two, `[0, 2, 1, 2, 0, 1]` for three.
pub fn follow_order(n: usize) -> Vec<usize> {
    if n < 2 {
        return vec![0; n];
    }
    // The edges not yet walked from each library: to every other one.
    let mut next: Vec<Vec<usize>> = (0..n)
        .map(|u| (0..n).filter(|&v| v != u).collect())
        .collect();
    let mut stack = vec![0];
    let mut circuit = Vec::with_capacity(n * (n - 1) + 1);
    while let Some(&u) = stack.last() {
        match next[u].pop() {
            Some(v) => stack.push(v),
            None => circuit.extend(stack.pop()),
        }
    }
    circuit.reverse();
    // It ends where it starts; as a ring the last step is back to the first.
    circuit.pop();
    circuit
}

/// [`interleaved`] over any work: each closure does one pass over `bytes`
/// bytes of input.
pub fn interleaved_rounds(label: &str, bytes: usize, libs: &mut [(&str, Pass<'_>)]) {
    if std::env::var_os("BENCH_NO_INTERLEAVED").is_some() {
        return;
    }
    if let Ok(only) = std::env::var("BENCH_INTERLEAVED")
        && !label.contains(&only)
    {
        return;
    }
    const ROUNDS: usize = 40;
    let reps = (2_000_000 / bytes.max(1)).max(1);
    let mut total = vec![0f64; libs.len()];
    let mut best = vec![f64::MAX; libs.len()];
    let order = follow_order(libs.len());
    // Each library runs `libs.len() - 1` times (once alone) in one pass of
    // `order`.
    let per_pass = libs.len().saturating_sub(1).max(1);
    let cycles = ROUNDS.div_ceil(per_pass);
    for _ in 0..cycles {
        for &k in &order {
            let f = &libs[k].1;
            let t = std::time::Instant::now();
            for _ in 0..reps {
                std::hint::black_box(f());
            }
            let e = t.elapsed().as_secs_f64();
            total[k] += e;
            best[k] = best[k].min(e);
        }
    }
    let rounds = cycles * per_pass;
    let mib = |s: f64, rounds: usize| (bytes * reps * rounds) as f64 / s / 1048576.0;
    let mut line = format!("interleaved {label}:");
    for (k, (name, _)) in libs.iter().enumerate() {
        line.push_str(&format!(
            " {name} {:.0} MiB/s (best round {:.0}),",
            mib(total[k], rounds),
            mib(best[k], 1)
        ));
    }
    for (k, (name, _)) in libs.iter().enumerate().skip(1) {
        line.push_str(&format!(
            " {}/{name} {:.2}x (best rounds {:.2}x)",
            libs[0].0,
            total[k] / total[0],
            best[k] / best[0]
        ));
    }
    eprintln!("{line}");
}

#[cfg(test)]
mod tests {
    use super::follow_order;
    use std::collections::HashMap;

    #[test]
    fn each_library_follows_each_other_once() {
        assert_eq!(follow_order(0), Vec::<usize>::new());
        assert_eq!(follow_order(1), vec![0]);
        assert_eq!(follow_order(2), vec![0, 1]);
        for n in 2..=6 {
            let order = follow_order(n);
            assert_eq!(order.len(), n * (n - 1), "{n}: {order:?}");
            let mut pairs = HashMap::new();
            for (i, &a) in order.iter().enumerate() {
                let b = order[(i + 1) % order.len()];
                assert_ne!(a, b, "{n}: {order:?}");
                *pairs.entry((a, b)).or_insert(0) += 1;
            }
            assert_eq!(pairs.len(), n * (n - 1), "{n}: {order:?}");
            assert!(pairs.values().all(|&c| c == 1), "{n}: {order:?}");
        }
        assert_eq!(follow_order(3), vec![0, 2, 1, 2, 0, 1]);
    }
}

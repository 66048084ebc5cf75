//! Corpus tests: the tree of real messages, and agreement of the tree and
//! streaming parsers on every corpus message in any split.

mod common;

use common::*;
use mailwire_mime::Message;
use mailwire_mime::summary::{StreamSummarizer, leaf_parts};

#[test]
fn stream_events_are_split_invariant_on_corpus() {
    let Some(files) = corpus_files() else { return };
    assert!(files.len() > 130, "{}", files.len());
    let mut rng = Lcg(7);
    for f in &files {
        let data = std::fs::read(f).unwrap();
        let whole = events_split(&data, &[]);
        // Byte by byte (bounded for the big files: 1-3 byte chunks up to 40 KB).
        let step_cuts: Vec<usize> = if data.len() < 40_000 {
            (1..data.len()).collect()
        } else {
            let mut v = Vec::new();
            let mut c = 0;
            while c < data.len() {
                c += 1 + rng.next(9000);
                v.push(c);
            }
            v
        };
        assert_same(
            &events_split(&data, &step_cuts),
            &whole,
            &format!("byte split of {}", f.display()),
        );
        for _ in 0..8 {
            let mut cuts: Vec<usize> = (0..1 + rng.next(6))
                .map(|_| rng.next(data.len() + 1))
                .collect();
            cuts.sort();
            assert_same(
                &events_split(&data, &cuts),
                &whole,
                &format!("split {cuts:?} of {}", f.display()),
            );
        }
    }
}

#[test]
fn decoding_parse_agrees_on_corpus() {
    let Some(files) = corpus_files() else { return };
    for f in &files {
        let data = std::fs::read(f).unwrap();
        assert_decoding_parse_agrees(&data, &f.display().to_string());
    }
}

#[test]
fn tree_and_stream_summaries_agree_on_corpus() {
    let Some(files) = corpus_files() else { return };
    let mut rng = Lcg(11);
    for f in &files {
        let data = std::fs::read(f).unwrap();
        let tree = leaf_parts(&Message::parse(&data));
        for chunk in [1usize, 2, 3, 64, 1000, usize::MAX] {
            let mut s = StreamSummarizer::new();
            let chunk = if chunk == 1 && data.len() > 40_000 {
                1 + rng.next(50)
            } else {
                chunk
            };
            for c in data.chunks(chunk.min(data.len().max(1))) {
                s.feed(c);
            }
            assert_eq!(s.finish(), tree, "chunk {chunk} of {}", f.display());
        }
    }
}

#[test]
fn tree_matches_offsets_of_stream() {
    // Every part's ranges lie inside its stream and nest inside the parent.
    let Some(files) = corpus_files() else { return };
    for f in &files {
        let data = std::fs::read(f).unwrap();
        let msg = Message::parse(&data);
        for p in msg.parts() {
            assert!(
                p.header.end <= p.body.start && p.body.start <= p.body.end,
                "{}",
                f.display()
            );
            assert!(p.body.end <= msg.stream(p.stream).len());
            if let Some(parent) = p.parent.and_then(|i| msg.part(i))
                && parent.stream == p.stream
            {
                assert!(
                    parent.body.start <= p.header.start && p.body.end <= parent.body.end,
                    "{}",
                    f.display()
                );
            }
        }
    }
}

#[test]
#[ignore = "prints the signature table used by corpus_trees"]
fn print_signatures() {
    for f in corpus_files().unwrap() {
        let data = std::fs::read(&f).unwrap();
        let rel = f.strip_prefix(CORPUS).unwrap().display().to_string();
        println!("    (\"{rel}\", {:?}),", signature(&Message::parse(&data)));
    }
}

#[test]
fn mime_fields_from_noted_lines_match_a_full_parse() {
    // The parser reads the MIME fields from the lines it noted while
    // finding the end of each header block; a full parse of the block
    // must give the same fields.
    use mailwire_mime::{DefectKind, MimeHeaders};
    let Some(files) = corpus_files() else { return };
    for f in &files {
        let data = std::fs::read(f).unwrap();
        let msg = Message::parse(&data);
        if msg.has_defect(DefectKind::HeaderTooLarge) {
            continue;
        }
        for p in msg.parts() {
            let digest = p.parent.and_then(|q| msg.part(q)).is_some_and(|q| {
                // The leaf given to a multipart without body parts is
                // text/plain even in a digest.
                let preamble_leaf = p.header.is_empty() && p.header.start == q.body.start;
                q.mime.content_type.is("multipart", "digest") && !preamble_leaf
            });
            let full = MimeHeaders::parse(msg.header_bytes(p), digest);
            assert_eq!(p.mime, full, "part {} of {}", p.id, f.display());
        }
    }
}

/// A tree built after the message crate split the header
/// (`Message::parse_after_header`) is the tree `Message::parse` builds, on
/// every corpus message; most of them have a clean header, so the split
/// is used, the others are scanned again.
#[test]
fn tree_after_a_split_header_on_corpus() {
    let Some(files) = corpus_files() else { return };
    let mut clean = 0;
    for f in &files {
        let data = std::fs::read(f).unwrap();
        let header = mailwire_message::HeaderSection::parse(&data);
        clean += usize::from(header.defects().iter().all(|d| {
            matches!(
                d.kind,
                mailwire_message::DefectKind::BareLf
                    | mailwire_message::DefectKind::WhitespaceBeforeColon
            )
        }));
        let after = Message::parse_after_header(&header);
        let scanned = Message::parse(&data);
        assert_eq!(
            format!("{:?}", after.parts()),
            format!("{:?}", scanned.parts()),
            "{}",
            f.display()
        );
        assert_eq!(after.defects(), scanned.defects(), "{}", f.display());
    }
    assert!(clean * 2 > files.len(), "{clean} of {} clean", files.len());
}

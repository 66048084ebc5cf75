//! Shared helpers for the corpus tests.
#![allow(dead_code)]

use mailwire_mime::{Event, Message, Options, Parser, PartKind};

pub(crate) const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/corpus/mime");

/// Every message file of the MIME corpus (licence files left out), sorted.
/// `None` when the corpus is missing (fails under CI=true).
pub(crate) fn corpus_files() -> Option<Vec<std::path::PathBuf>> {
    let files = mailwire_testkit::corpus::mime_messages(std::path::Path::new(CORPUS));
    if files.is_none() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "corpus missing at {CORPUS}"
        );
        eprintln!("skipping: corpus missing at {CORPUS}");
    }
    files
}

/// An owned, normalised event: adjacent data chunks of one kind merged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Ev {
    Start {
        id: usize,
        parent: Option<usize>,
        section: String,
        kind: PartKind,
        ty: String,
        offset: u64,
        body_offset: u64,
        header: Vec<u8>,
        stream: usize,
    },
    Body(usize, u64, Vec<u8>),
    Decoded(usize, Vec<u8>),
    Preamble(usize, Vec<u8>),
    Epilogue(usize, Vec<u8>),
    End(usize, u64),
    Defect(String, usize, u64),
}

pub(crate) fn push(out: &mut Vec<Ev>, ev: Event<'_>) {
    match ev {
        Event::PartStart(s) => out.push(Ev::Start {
            id: s.id,
            parent: s.parent,
            section: s
                .section
                .iter()
                .map(|n| n.to_string())
                .collect::<Vec<_>>()
                .join("."),
            kind: s.kind,
            ty: s.mime.mime_type(),
            offset: s.offset,
            body_offset: s.body_offset,
            header: s.header.to_vec(),
            stream: s.stream,
        }),
        Event::Body { id, offset, data } => match out.last_mut() {
            Some(Ev::Body(i, _, v)) if *i == id => v.extend_from_slice(data),
            _ => out.push(Ev::Body(id, offset, data.to_vec())),
        },
        Event::Decoded { id, data } => {
            // Decoded chunks interleave with Body chunks: merge into the last Decoded of this id
            // when nothing but Body of the same id came between.
            let mut k = out.len();
            while k > 0 {
                match &out[k - 1] {
                    Ev::Body(i, _, _) if *i == id => k -= 1,
                    Ev::Decoded(i, _) if *i == id => {
                        if let Ev::Decoded(_, v) = &mut out[k - 1] {
                            v.extend_from_slice(data);
                        }
                        return;
                    }
                    _ => break,
                }
            }
            out.push(Ev::Decoded(id, data.to_vec()));
        }
        Event::Preamble { id, data, .. } => match out.last_mut() {
            Some(Ev::Preamble(i, v)) if *i == id => v.extend_from_slice(data),
            _ => out.push(Ev::Preamble(id, data.to_vec())),
        },
        Event::Epilogue { id, data, .. } => match out.last_mut() {
            Some(Ev::Epilogue(i, v)) if *i == id => v.extend_from_slice(data),
            _ => out.push(Ev::Epilogue(id, data.to_vec())),
        },
        Event::PartEnd(e) => out.push(Ev::End(e.id, e.end)),
        Event::Defect(d) => out.push(Ev::Defect(d.kind.to_string(), d.part, d.offset)),
        _ => {}
    }
}

/// Events from feeding `chunks` (decoding on).
pub(crate) fn events_split(data: &[u8], cuts: &[usize]) -> Vec<Ev> {
    let mut p = Parser::with_options(Options::decoding());
    let mut out = Vec::new();
    let mut last = 0;
    for &c in cuts {
        let c = c.clamp(last, data.len());
        p.feed(&data[last..c], &mut |ev| push(&mut out, ev));
        last = c;
    }
    p.feed(&data[last..], &mut |ev| push(&mut out, ev));
    p.finish(&mut |ev| push(&mut out, ev));
    normalise(out)
}

/// Decoded events interleave with nested parts' events; sort them out by
/// merging every Decoded/Body of one id (order within an id is kept).
fn normalise(evs: Vec<Ev>) -> Vec<Ev> {
    let mut out: Vec<Ev> = Vec::new();
    for e in evs {
        match e {
            Ev::Body(id, off, v) => {
                if let Some(Ev::Body(_, _, w)) = out
                    .iter_mut()
                    .rev()
                    .find(|x| matches!(x, Ev::Body(i, _, _) if *i == id))
                {
                    w.extend_from_slice(&v);
                } else {
                    out.push(Ev::Body(id, off, v));
                }
            }
            Ev::Decoded(id, v) => {
                if let Some(Ev::Decoded(_, w)) = out
                    .iter_mut()
                    .rev()
                    .find(|x| matches!(x, Ev::Decoded(i, _) if *i == id))
                {
                    w.extend_from_slice(&v);
                } else {
                    out.push(Ev::Decoded(id, v));
                }
            }
            Ev::Preamble(id, v) => {
                if let Some(Ev::Preamble(_, w)) = out
                    .iter_mut()
                    .rev()
                    .find(|x| matches!(x, Ev::Preamble(i, _) if *i == id))
                {
                    w.extend_from_slice(&v);
                } else {
                    out.push(Ev::Preamble(id, v));
                }
            }
            Ev::Epilogue(id, v) => {
                if let Some(Ev::Epilogue(_, w)) = out
                    .iter_mut()
                    .rev()
                    .find(|x| matches!(x, Ev::Epilogue(i, _) if *i == id))
                {
                    w.extend_from_slice(&v);
                } else {
                    out.push(Ev::Epilogue(id, v));
                }
            }
            other => out.push(other),
        }
    }
    out
}

/// Asserts two event lists are equal, showing only the first difference.
pub(crate) fn assert_same(a: &[Ev], b: &[Ev], what: &str) {
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            x == y,
            "{what}: event {i} differs:\n{}\n{}",
            show(x),
            show(y)
        );
    }
    assert_eq!(a.len(), b.len(), "{what}: event counts differ");
}

fn show(e: &Ev) -> String {
    let s = format!("{e:?}");
    if s.len() > 600 {
        format!("{}...", &s[..600])
    } else {
        s
    }
}

/// A small deterministic generator for split points.
pub(crate) struct Lcg(pub(crate) u64);
impl Lcg {
    pub(crate) fn next(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % n.max(1)
    }
}

/// A compact description of the tree: one item per part.
pub(crate) fn signature(msg: &Message<'_>) -> String {
    let mut out = Vec::new();
    for p in msg.parts() {
        let sec = p.section_string();
        let sec = if sec.is_empty() { "-".to_string() } else { sec };
        let mut s = format!("{sec} {}", p.mime.mime_type());
        if p.kind == PartKind::Leaf {
            s.push_str(&format!(" {}", msg.decoded(p).len()));
            if let Some(f) = p.mime.filename() {
                s.push_str(&format!(" \"{f}\""));
            }
        }
        out.push(s);
    }
    out.join("; ")
}

/// The decoding parse ([`Options::decoding`]) gives the tree the default
/// parse gives (parts, defects) and the same decoded body for every part,
/// from the whole message and after a split header.
pub(crate) fn assert_decoding_parse_agrees(raw: &[u8], what: &str) {
    let plain = Message::parse(raw);
    let header = mailwire_message::HeaderSection::parse(raw);
    for decoding in [
        Message::parse_with(raw, Options::decoding()),
        Message::parse_after_header_with(&header, Options::decoding()),
    ] {
        assert_eq!(
            format!("{:?}", decoding.parts()),
            format!("{:?}", plain.parts()),
            "{what}: parts"
        );
        assert_eq!(decoding.defects(), plain.defects(), "{what}: defects");
        for (a, b) in decoding.parts().iter().zip(plain.parts()) {
            assert!(
                decoding.decoded(a) == plain.decoded(b),
                "{what}: part {} decodes differently",
                a.section_string()
            );
        }
    }
}

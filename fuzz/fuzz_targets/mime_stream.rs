#![no_main]
//! The streaming parser fed in the splits the first bytes choose gives the
//! same events as one whole feed, and the same leaf summaries as the tree.
use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use mailwire_mime::summary::{StreamSummarizer, leaf_parts};
use mailwire_mime::{Event, Message, Options, Parser};

#[derive(Default, PartialEq, Debug)]
struct Seen {
    structure: Vec<String>,
    data: BTreeMap<(u8, usize), Vec<u8>>,
}

fn record(seen: &mut Seen, ev: Event<'_>) {
    match ev {
        Event::PartStart(s) => seen.structure.push(format!(
            "start {} {:?} {:?} {} {} {} {:?} {}",
            s.id,
            s.parent,
            s.section,
            s.offset,
            s.body_offset,
            s.stream,
            s.kind,
            s.mime.mime_type()
        )),
        Event::PartEnd(e) => seen.structure.push(format!("end {} {}", e.id, e.end)),
        Event::Defect(d) => seen.structure.push(format!("defect {d}")),
        Event::Body { id, data, .. } => seen
            .data
            .entry((0, id))
            .or_default()
            .extend_from_slice(data),
        Event::Decoded { id, data } => seen
            .data
            .entry((1, id))
            .or_default()
            .extend_from_slice(data),
        Event::Preamble { id, data, .. } => seen
            .data
            .entry((2, id))
            .or_default()
            .extend_from_slice(data),
        Event::Epilogue { id, data, .. } => seen
            .data
            .entry((3, id))
            .or_default()
            .extend_from_slice(data),
        _ => {}
    }
}

fn run(data: &[u8], cuts: &[usize]) -> Seen {
    let mut seen = Seen::default();
    let mut p = Parser::with_options(Options::decoding());
    let mut last = 0;
    for &c in cuts {
        let c = c.clamp(last, data.len());
        p.feed(&data[last..c], &mut |ev| record(&mut seen, ev));
        last = c;
    }
    p.feed(&data[last..], &mut |ev| record(&mut seen, ev));
    p.finish(&mut |ev| record(&mut seen, ev));
    seen
}

fuzz_target!(|input: &[u8]| {
    let Some((&k, data)) = input.split_first() else {
        return;
    };
    let whole = run(data, &[]);
    let step = usize::from(k % 16) + 1;
    let cuts: Vec<usize> = (step..data.len()).step_by(step).collect();
    assert!(run(data, &cuts) == whole, "split every {step}");
    let mut s = StreamSummarizer::new();
    for c in data.chunks(step) {
        s.feed(c);
    }
    assert_eq!(s.finish(), leaf_parts(&Message::parse(data)));
});

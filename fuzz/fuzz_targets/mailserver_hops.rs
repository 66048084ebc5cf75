#![no_main]
//! The mail server's loop checks on a message as it streams in
//! (`examples/mailserver/hops.rs`): the `Received:` count (RFC 5321 §6.3)
//! and the `Delivered-To:` values are the same in any split of the
//! content, and the same as `mailwire-message`'s header parser finds in a
//! header it reads without defects (lines of at most 998 bytes and at
//! most `MAX_DELIVERED_TO` `Delivered-To:` fields, the limits the
//! streaming scan keeps): a sender can neither hide hops from the count
//! by where the packets break nor add any.
//!
//! The first two bytes of the input choose two cuts; the rest is the
//! content, its line ends made CRLF as the server receives them.
use libfuzzer_sys::fuzz_target;
use mailwire_message::HeaderSection;

#[allow(dead_code)]
#[path = "../../examples/mailserver/hops.rs"]
mod hops;

use hops::{DeliveredTo, HopCounter, MAX_DELIVERED_TO};

/// Both scans over `content` fed in the pieces `cuts` make.
fn scan(content: &[u8], cuts: &[usize]) -> (u32, Vec<String>) {
    let (mut hops, mut delivered) = (HopCounter::default(), DeliveredTo::default());
    let mut last = 0;
    for &c in cuts.iter().chain([&content.len()]) {
        let c = c.clamp(last, content.len());
        hops.feed(&content[last..c]);
        delivered.feed(&content[last..c]);
        last = c;
    }
    (hops.hops(), delivered.values().to_vec())
}

/// Whether `raw` starts with `name` and its colon, in any case.
fn named(raw: &[u8], name: &[u8]) -> bool {
    raw.get(..name.len())
        .is_some_and(|n| n.eq_ignore_ascii_case(name))
}

fuzz_target!(|data: &[u8]| {
    let Some((cuts, rest)) = data.split_first_chunk::<2>() else {
        return;
    };
    let content = mailwire_fuzz::crlf(rest);
    let len = content.len().max(1);
    let mut cuts = [
        usize::from(cuts[0]) * len / 256,
        usize::from(cuts[1]) * len / 256,
    ];
    cuts.sort_unstable();
    let whole = scan(&content, &[]);
    assert_eq!(scan(&content, &cuts), whole, "cut at {cuts:?}");
    let bytewise: Vec<usize> = (1..content.len().min(300)).collect();
    assert_eq!(scan(&content, &bytewise), whole, "cut at every byte");

    let header = HeaderSection::parse(&content);
    let lines_short = header.input()[..header.body_offset()]
        .split(|&b| b == b'\n')
        .all(|l| l.len() < 998);
    if !header.defects().is_empty() || !lines_short {
        return;
    }
    let received = header
        .fields()
        .iter()
        .filter(|f| named(f.raw(), b"received:"))
        .count();
    assert_eq!(whole.0 as usize, received, "the Received: count");
    let delivered: Vec<String> = header
        .fields()
        .iter()
        .filter(|f| named(f.raw(), b"delivered-to:"))
        .take(MAX_DELIVERED_TO)
        .map(|f| {
            String::from_utf8_lossy(&f.raw()[13..])
                .chars()
                .filter(|c| !c.is_whitespace() && *c != '<' && *c != '>')
                .collect::<String>()
                .to_lowercase()
        })
        .collect();
    assert_eq!(whole.1, delivered, "the Delivered-To: values");
});

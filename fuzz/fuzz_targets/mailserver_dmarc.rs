#![no_main]
//! The mail server's DMARC check (`examples/mailserver/dmarc.rs`, RFC
//! 7489): any `From` field and any policy records give evaluations without
//! a panic, at most two lookups for each author domain checked, and never
//! a disposition stronger than the policy asked for, nor any for a pass.
use std::cell::Cell;

use libfuzzer_sys::fuzz_target;

#[allow(dead_code)]
#[path = "../../examples/mailserver/txt.rs"]
mod txt;

#[allow(dead_code)]
#[path = "../../examples/mailserver/spf.rs"]
mod spf;

#[allow(dead_code)]
#[path = "../../examples/mailserver/dmarc.rs"]
mod dmarc;

use dmarc::{Authenticated, DmarcResult, Policy};

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    // The input: the From field's value, then after a newline up to three
    // records (one a line) that every `_dmarc.` name answers with.
    let text = String::from_utf8_lossy(rest);
    let (from, records) = text.split_once('\n').unwrap_or((&text, ""));
    let mut records: Vec<String> = records.split('\n').take(3).map(str::to_string).collect();
    if flags & 1 == 0 {
        records[0] = format!("v=DMARC1; {}", records[0]);
    }
    let header = format!("From: {from}\r\nSubject: s\r\n\r\n");
    let header = mailwire::message::HeaderSection::parse(header.as_bytes());
    let domains = dmarc::author_domains(&header);
    let lookups = Cell::new(0usize);
    let lookup = |name: &str| -> Result<Vec<String>, String> {
        lookups.set(lookups.get() + 1);
        if flags & 2 != 0 && name.len() % 7 == 0 {
            return Err("timeout".into());
        }
        Ok(if name.starts_with("_dmarc.") {
            records.clone()
        } else {
            Vec::new()
        })
    };
    let found = dmarc::policies(&lookup, &domains);
    assert!(lookups.get() <= 2 * dmarc::MAX_AUTHOR_DOMAINS);
    // What the sender authenticated: the first author domain, or another.
    let first = domains.first().map_or("example.com", String::as_str);
    let authenticated = if flags & 4 != 0 {
        first
    } else {
        "other.example"
    };
    let spf = (flags & 8 != 0).then_some((spf::SpfResult::Pass, authenticated));
    let dkim = [authenticated];
    let dkim: &[&str] = if flags & 16 != 0 { &dkim } else { &[] };
    let evaluations = dmarc::evaluate(&found, Authenticated { spf, dkim }, flags >> 5);
    for e in &evaluations {
        let _ = e.resinfo();
        assert!(e.disposition <= e.policy);
        if e.result == DmarcResult::Pass {
            assert_eq!(e.disposition, Policy::None);
        }
    }
    let _ = dmarc::disposition(&evaluations);
});

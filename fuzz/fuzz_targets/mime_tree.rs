#![no_main]
//! The tree parser on arbitrary bytes: never panics, ranges stay inside
//! their streams, every accessor works on every part, and the tree built
//! after a split header, or by the decoding parse, is the tree of a full
//! scan (the decoding parse's bodies are the ones decoded on request).
use libfuzzer_sys::fuzz_target;
use mailwire_mime::{Limits, Message, Options};

fuzz_target!(|data: &[u8]| {
    let mut limits = Limits::default();
    limits.max_depth = 20;
    limits.max_parts = 200;
    limits.max_header_size = 4096;
    let msg = Message::parse_with(data, Options::default().with_limits(limits));
    assert!(msg.parts().len() <= 201);
    for p in msg.parts() {
        let s = msg.stream(p.stream);
        assert!(
            p.header.start <= p.header.end && p.header.end <= p.body.start && p.body.end <= s.len()
        );
        let _ = msg.raw_entity(p);
        let _ = msg.decoded(p);
        let _ = msg.text(p);
        let _ = msg.signed_content(p);
        let _ = msg.delivery_status(p);
        let _ = msg.disposition_notification(p);
        let _ = mailwire_mime::partial::ExternalBody::from_part(&msg, p);
        let _ = msg.find_section(&p.section_string());
    }
    let _ = mailwire_mime::summary::parts_json(&mailwire_mime::summary::leaf_parts(&msg));
    let _ = mailwire_mime::summary::outline(&msg);
    // After the message crate split the header, the same tree as a parse
    // that scans it (default options on both sides).
    let header = mailwire_message::HeaderSection::parse(data);
    let after = Message::parse_after_header(&header);
    let scanned = Message::parse(data);
    assert_eq!(
        format!("{:?}", after.parts()),
        format!("{:?}", scanned.parts())
    );
    assert_eq!(after.defects(), scanned.defects());
    // The decoding parse: the same tree, the same bytes from every part.
    let decoding = Message::parse_with(data, Options::decoding());
    assert_eq!(
        format!("{:?}", decoding.parts()),
        format!("{:?}", scanned.parts())
    );
    assert_eq!(decoding.defects(), scanned.defects());
    for (a, b) in decoding.parts().iter().zip(scanned.parts()) {
        assert!(decoding.decoded(a) == scanned.decoded(b));
    }
    // Downgrading keeps the structure's leaf count.
    let down = mailwire_mime::downgrade::downgrade_7bit(data);
    let _ = Message::parse(&down.bytes);
});

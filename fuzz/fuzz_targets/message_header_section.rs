//! The header section splitter and every structured field parser on raw
//! bytes: never panics, offsets stay inside the input, and an untouched
//! message writes back byte for byte.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailwire_message::{Limits, Message, parse_field_with};

fuzz_target!(|data: &[u8]| {
    // Small limits too, so the limit paths are reached.
    let mut limits = Limits::default();
    limits.max_fields = 16;
    limits.max_header_bytes = 512;
    for m in [Message::parse(data), Message::parse_with(data, limits)] {
        let mut out = Vec::new();
        m.write_to(&mut out);
        assert_eq!(out, data);
        assert!(m.header().body_offset() <= data.len());
        let s = m.summary();
        for d in &s.defects {
            assert!(d.offset <= data.len(), "{d}");
        }
        let mut defects = Vec::new();
        for f in m.fields() {
            let _ = parse_field_with(f, &mut defects);
            assert!(f.end() <= data.len());
        }
        for d in &defects {
            assert!(d.offset <= data.len(), "{d}");
        }
        let _ = (
            m.received(),
            m.resent_blocks(),
            m.keywords(),
            m.priority(),
            m.auto_submitted(),
        );
        let _ = mailwire_message::derive_envelope(&m);
    }
});

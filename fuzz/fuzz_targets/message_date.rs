//! The date-time parser: never panics; a parsed date written in RFC 5322
//! form parses back to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailwire_message::parse_date_time;

fuzz_target!(|data: &[u8]| {
    let (d, defects) = parse_date_time(data);
    for x in &defects {
        assert!(x.offset <= data.len());
    }
    if let Some(d) = d {
        let text = d.to_rfc5322();
        let (back, _) = parse_date_time(text.as_bytes());
        assert_eq!(back, Some(d), "{text}");
        let _ = d.to_rfc3339();
        let _ = d.unix_timestamp();
    }
});

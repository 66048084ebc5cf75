//! SMTP reply framer and parser on raw bytes: never panic; a parsed reply
//! encodes to the same bytes and parses to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailwire_smtp::{Capabilities, Status, parse_reply, reply_frame};

fuzz_target!(|data: &[u8]| {
    let mut rest = data;
    while let Ok(Status::Complete(n)) = reply_frame(rest, 512, 64) {
        assert!(n > 0 && n <= rest.len());
        if let Ok(reply) = parse_reply(&rest[..n]) {
            let mut enc = Vec::new();
            reply.encode(&mut enc);
            assert_eq!(&enc[..], &rest[..n]);
            let again = parse_reply(&enc).expect("re-parses");
            assert_eq!(again, reply);
            let _ = reply.lines().count();
            let caps = Capabilities::from_ehlo(&reply);
            assert_eq!(caps.clone().into_owned(), caps);
        }
        rest = &rest[n..];
    }
});

//! SMTP reply framer and parser on raw bytes: never panic; a parsed reply
//! encodes to the same bytes and parses to the same value; the one-pass
//! `ehlo_frame` agrees with `reply_frame` + `parse_reply` + `from_ehlo`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailwire_smtp::{Capabilities, Status, ehlo_frame, parse_reply, reply_frame};

fuzz_target!(|data: &[u8]| {
    let mut rest = data;
    loop {
        let framed = reply_frame(rest, 512, 64);
        // The one-pass EHLO reader frames, refuses and reads the same.
        match (ehlo_frame(rest, 512, 64), framed) {
            (Err(a), Err(b)) => assert_eq!(a, b),
            (Ok(Status::Partial), Ok(Status::Partial)) => {}
            (Ok(Status::Complete((m, e))), Ok(Status::Complete(n))) => {
                assert_eq!(m, n);
                match (e, parse_reply(&rest[..n])) {
                    (Ok(e), Ok(r)) => {
                        assert_eq!(e.code, r.code());
                        assert_eq!(e.caps, Capabilities::from_ehlo(&r));
                    }
                    (Err(a), Err(b)) => assert_eq!(a, b),
                    (a, b) => panic!("ehlo_frame {a:?}, parse_reply {b:?}"),
                }
            }
            (a, b) => panic!("ehlo_frame {a:?}, reply_frame {b:?}"),
        }
        let Ok(Status::Complete(n)) = framed else {
            break;
        };
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

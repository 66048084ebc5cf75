//! Raw bytes into the IMAP response parser: never panics; what parses
//! re-encodes to something that parses to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailwire_imap::{encode, parse};

fuzz_target!(|data: &[u8]| {
    if let Ok((r, n)) = parse::response(data) {
        assert!(n <= data.len());
        let wire = encode::response_to_vec(&r);
        let (again, m) = parse::response(&wire).expect("re-encoded response parses");
        assert_eq!(m, wire.len());
        assert_eq!(again, r);
    }
});

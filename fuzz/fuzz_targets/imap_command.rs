//! Raw bytes into the IMAP command parser: never panics; what parses
//! re-encodes to something that parses to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailwire_imap::{encode, parse};

fuzz_target!(|data: &[u8]| {
    let _ = parse::idle_done(data);
    let _ = parse::authenticate_data(data);
    if let Ok((c, n)) = parse::command(data) {
        assert!(n <= data.len());
        let wire = encode::command_to_vec(&c);
        let (again, m) = parse::command(&wire).expect("re-encoded command parses");
        assert_eq!(m, wire.len());
        assert_eq!(again, c);
    }
});

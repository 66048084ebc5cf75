//! Raw bytes into the POP3 command parser: never panics; what parses
//! re-encodes to one CRLF-terminated line that parses to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailwire_pop3::parse_command;

fuzz_target!(|data: &[u8]| {
    if let Ok(c) = parse_command(data) {
        let mut wire = Vec::new();
        c.encode(&mut wire);
        assert!(wire.ends_with(b"\r\n"));
        let line = &wire[..wire.len() - 2];
        assert!(!line.contains(&b'\r') && !line.contains(&b'\n'));
        assert_eq!(parse_command(line).expect("re-encoded command parses"), c);
    }
});

//! SMTP command parser on raw bytes: never panics; whatever parses encodes
//! to one line that parses back to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailwire_smtp::parse_command;

fuzz_target!(|data: &[u8]| {
    if let Ok(cmd) = parse_command(data) {
        let enc = cmd.to_bytes();
        assert!(enc.ends_with(b"\r\n"));
        let line = &enc[..enc.len() - 2];
        assert!(!line.contains(&b'\r') && !line.contains(&b'\n') && !line.contains(&0));
        let again = parse_command(line).expect("encoded command parses");
        assert_eq!(again, cmd);
    }
});

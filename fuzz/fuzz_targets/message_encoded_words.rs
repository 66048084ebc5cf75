//! RFC 2047 decoding and encoding and the charset decoders: decoding never
//! panics; any text encoded (both modes) decodes back to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailwire_message::{
    charset, decode_phrase, decode_unstructured, encode_phrase, encode_unstructured,
};

fuzz_target!(|data: &[u8]| {
    let _ = decode_unstructured(data);
    let _ = decode_phrase(data);
    // First byte picks a split between a charset label and the bytes.
    if let Some((&n, rest)) = data.split_first() {
        let cut = (n as usize).min(rest.len());
        let _ = charset::decode(&rest[..cut], &rest[cut..]);
        let _ = charset::decode_utf7(rest);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let text = text.trim_matches(|c: char| c == ' ' || c == '\t');
        if !text.is_empty() && !text.bytes().any(|b| b < 0x20 || b == 0x7f) {
            for utf8 in [false, true] {
                let enc = encode_unstructured(text, utf8);
                assert_eq!(decode_unstructured(enc.as_bytes()), text, "{enc}");
                let enc = encode_phrase(text, utf8);
                let line = format!("{enc} <a@b.c>");
                let (list, _) = mailwire_message::parse_address_list(line.as_bytes());
                let name = list
                    .mailboxes()
                    .next()
                    .and_then(|m| m.name().map(str::to_owned));
                assert_eq!(name.as_deref(), Some(text), "{enc}");
            }
            assert_eq!(
                charset::decode_utf7(charset::encode_utf7(text).as_bytes()).0,
                text
            );
        }
    }
});

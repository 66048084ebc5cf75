#![no_main]
//! Content-Type / Content-Disposition with RFC 2231 parameters: never panic
//! on any value; a filename written by the builder (RFC 2231 when not ASCII)
//! reads back the same.
use libfuzzer_sys::fuzz_target;
use mailwire_mime::builder::PartBuilder;
use mailwire_mime::{ContentDisposition, ContentType, Message};

fuzz_target!(|data: &[u8]| {
    let ct = ContentType::parse(data);
    let _ = ct.boundary();
    let _ = ct.charset();
    let _ = ContentDisposition::parse(data).map(|d| d.filename().map(str::len));
    let name: String = String::from_utf8_lossy(data)
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect();
    if name.contains("=?") || name.trim() != name {
        return; // encoded-word look-alikes and edge spaces are not kept verbatim
    }
    let raw = PartBuilder::attachment("application/octet-stream", &name, b"x".to_vec())
        .to_bytes(1, false);
    let msg = Message::parse(&raw);
    assert_eq!(msg.root().mime.filename(), Some(name.as_str()));
});

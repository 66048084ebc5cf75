//! Raw bytes into the POP3 reply side: the status-line, capability and
//! listing parsers (round trips where they parse), and the streaming
//! response decoder fed in two pieces, which must give the same units as
//! one feed.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use mailwire_pop3::*;

fn decode(kind: ResponseKind, parts: &[&[u8]]) -> Vec<Result<Decoded, DecodeError>> {
    let mut d = ResponseDecoder::new(512, 1 << 20);
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for p in parts {
        buf.extend_from_slice(p);
        loop {
            match d.decode(kind, &mut buf) {
                Ok(Progress::Partial) => break,
                Ok(Progress::Complete(u)) => out.push(Ok(u)),
                Err(e) => {
                    out.push(Err(e));
                    return out;
                }
            }
        }
    }
    out
}

/// Merges adjacent content chunks: their boundaries depend on the split.
fn merge(units: Vec<Result<Decoded, DecodeError>>) -> Vec<Result<Decoded, DecodeError>> {
    let mut out: Vec<Result<Decoded, DecodeError>> = Vec::new();
    for u in units {
        if let (Some(Ok(Decoded::Chunk(prev))), Ok(Decoded::Chunk(c))) = (out.last_mut(), &u) {
            let mut v = prev.to_vec();
            v.extend_from_slice(c);
            *prev = v.into();
            continue;
        }
        out.push(u);
    }
    out
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let kind = match data[0] % 4 {
        0 => ResponseKind::SingleLine,
        1 => ResponseKind::MultiLine,
        2 => ResponseKind::Content,
        _ => ResponseKind::Auth,
    };
    let split = usize::from(data[1]) % (data.len() - 1);
    let data = &data[2..];
    let split = split.min(data.len());

    if let Ok(s) = parse_status_line(data) {
        let mut wire = Vec::new();
        s.encode(&mut wire);
        let again =
            parse_status_line(&wire[..wire.len() - 2]).expect("re-encoded status line parses");
        assert_eq!(again.status, s.status);
        assert_eq!(again.text, s.text);
        assert_eq!(
            again.code.map(|c| c.as_str().to_owned()),
            s.code.map(|c| c.as_str().to_owned())
        );
    }
    if let Ok(c) = parse_capability(data) {
        let mut wire = Vec::new();
        c.encode(&mut wire);
        assert_eq!(
            parse_capability(&wire[..wire.len() - 2]).expect("re-encoded capability parses"),
            c
        );
    }
    let _ = parse_scan_listing(data);
    let _ = parse_uid_listing(data);
    let _ = parse_drop_listing(data);
    let _ = parse_continuation(data);

    let whole = merge(decode(kind, &[data]));
    let parts = merge(decode(kind, &[&data[..split], &data[split..]]));
    assert_eq!(whole, parts);
});

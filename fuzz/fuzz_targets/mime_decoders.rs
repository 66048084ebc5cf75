#![no_main]
//! Transfer decoders: split-invariant, never panic; base64 and
//! quoted-printable encode then decode is the identity; uuencode too;
//! base64 bodies past 16 KiB as well (the AVX-512 line decoder takes
//! bodies from 1 KiB; these give it many lines and its prefetches).
use libfuzzer_sys::fuzz_target;
use mailwire_mime::encoding::{self, Decoder, TransferEncoding};

fuzz_target!(|input: &[u8]| {
    let Some((&k, data)) = input.split_first() else {
        return;
    };
    let split = usize::from(k) % (data.len() + 1);
    for te in [
        TransferEncoding::Base64,
        TransferEncoding::QuotedPrintable,
        TransferEncoding::UuEncode,
        TransferEncoding::EightBit,
    ] {
        let whole = encoding::decode(te, data);
        let mut d = Decoder::new(te);
        let mut out = Vec::new();
        d.decode(&data[..split], &mut out);
        d.decode(&data[split..], &mut out);
        d.finish(&mut out);
        assert_eq!(out, whole, "{te:?}");
    }
    assert_eq!(
        encoding::decode(TransferEncoding::Base64, &encoding::encode_base64(data)),
        data
    );
    // Long bodies for the AVX-512 line decoder (which runs from 1 KiB):
    // the input repeated, whole against split, and any data encoded and
    // back.
    if !data.is_empty() {
        let long = data.repeat(16 * 1024 / data.len() + 1);
        let whole = encoding::decode(TransferEncoding::Base64, &long);
        let mut d = Decoder::new(TransferEncoding::Base64);
        let mut out = Vec::new();
        let split = split * 16 % long.len();
        d.decode(&long[..split], &mut out);
        d.decode(&long[split..], &mut out);
        d.finish(&mut out);
        assert_eq!(out, whole, "long base64");
        assert_eq!(
            encoding::decode(TransferEncoding::Base64, &encoding::encode_base64(&long)),
            long
        );
    }
    let qp = encoding::encode_quoted_printable(data, false);
    assert!(qp.split(|&b| b == b'\n').all(|l| l.len() <= 77));
    assert_eq!(
        encoding::decode(TransferEncoding::QuotedPrintable, &qp),
        data
    );
    assert_eq!(
        encoding::decode(
            TransferEncoding::UuEncode,
            &encoding::encode_uuencode(data, "f")
        ),
        data
    );
    if let Ok(text) = std::str::from_utf8(data) {
        if !text.contains('\r') && !text.contains('\n') {
            let qp = encoding::encode_quoted_printable(data, true);
            assert_eq!(
                encoding::decode(TransferEncoding::QuotedPrintable, &qp),
                data
            );
        }
    }
});

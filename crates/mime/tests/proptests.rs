//! Property tests: the streaming parser gives the same events in any split,
//! and agrees with the tree, on generated (and mangled) messages.

mod common;

use common::*;
use mailwire_mime::builder::PartBuilder;
use mailwire_mime::summary::{StreamSummarizer, leaf_parts};
use mailwire_mime::{Message, TransferEncoding};
use proptest::prelude::*;

fn arb_leaf() -> impl Strategy<Value = PartBuilder> {
    prop_oneof![
        "[ -~\n\u{e9}]{0,200}".prop_map(|t| PartBuilder::plain(&t)),
        "[ -~\n]{0,200}".prop_map(|t| PartBuilder::html(&t)),
        proptest::collection::vec(any::<u8>(), 0..300).prop_map(|d| PartBuilder::attachment(
            "application/octet-stream",
            "x.bin",
            d
        )),
        "[ -~\n]{0,100}"
            .prop_map(|t| PartBuilder::plain(&t).encoding(TransferEncoding::QuotedPrintable)),
    ]
}

fn arb_part() -> impl Strategy<Value = PartBuilder> {
    arb_leaf().prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            (
                proptest::collection::vec(inner.clone(), 1..4),
                prop_oneof![Just("mixed"), Just("alternative"), Just("digest")]
            )
                .prop_map(|(parts, sub)| PartBuilder::multipart(sub, parts)),
            inner.clone().prop_map(|p| {
                let mut raw = b"Subject: fwd\r\nMIME-Version: 1.0\r\n".to_vec();
                raw.extend_from_slice(&p.to_bytes(3, false));
                PartBuilder::message(raw)
            }),
            inner.prop_map(|p| {
                let mut raw = b"Subject: fwd\r\n".to_vec();
                raw.extend_from_slice(&p.to_bytes(5, false));
                PartBuilder::data("message/rfc822", raw).encoding(TransferEncoding::Base64)
            }),
        ]
    })
}

/// A generated message, optionally mangled: bytes cut out, LF-only line
/// ends, junk inserted.
fn arb_message() -> impl Strategy<Value = Vec<u8>> {
    (
        arb_part(),
        any::<u64>(),
        0u8..4,
        any::<usize>(),
        any::<usize>(),
    )
        .prop_map(|(p, seed, mangle, a, b)| mangled(p.to_bytes(seed, false), mangle, a, b))
}

/// A multipart with a long base64 body part (16 to 40 KiB of data, in
/// lines of 40 to 100 symbols), maybe nested in another, maybe mangled;
/// junk (`*`, a `-`, an 8-bit byte, a `=`) may sit anywhere in it. With
/// the data when nothing was mangled.
fn arb_long_base64() -> impl Strategy<Value = (Vec<u8>, Option<Vec<u8>>)> {
    (
        proptest::collection::vec(any::<u8>(), 16_000..40_000),
        40usize..100,
        any::<bool>(),
        0u8..4,
        any::<usize>(),
        any::<usize>(),
        proptest::option::of((
            any::<prop::sample::Index>(),
            prop::sample::select(vec![b'*', b'-', 0xe9, b'=']),
        )),
    )
        .prop_map(|(data, line, nested, mangle, a, b, junk)| {
            use base64::Engine as _;
            let text = base64::engine::general_purpose::STANDARD.encode(&data);
            let mut body = Vec::new();
            for l in text.as_bytes().chunks(line) {
                body.extend_from_slice(l);
                body.extend_from_slice(b"\r\n");
            }
            if let Some((at, byte)) = &junk {
                let i = at.index(body.len());
                body[i] = *byte;
            }
            let mut entity = b"Content-Type: multipart/mixed; boundary=\"in\"\r\n\r\n\
                --in\r\nContent-Type: text/plain\r\n\r\nthe file\r\n--in\r\n\
                Content-Type: application/octet-stream\r\n\
                Content-Transfer-Encoding: base64\r\n\r\n"
                .to_vec();
            entity.extend_from_slice(&body);
            entity.extend_from_slice(b"--in--\r\n");
            let raw = if nested {
                let mut raw =
                    b"Content-Type: multipart/mixed; boundary=\"out\"\r\n\r\n--out\r\n".to_vec();
                raw.extend_from_slice(&entity);
                raw.extend_from_slice(
                    b"\r\n--out\r\nContent-Type: text/plain\r\n\r\nafter\r\n--out--\r\n",
                );
                raw
            } else {
                entity
            };
            let clean = (mangle == 0 && junk.is_none()).then_some(data);
            (mangled(raw, mangle, a, b), clean)
        })
}

/// `raw`, mangled as `mangle` says (0: not at all).
fn mangled(mut raw: Vec<u8>, mangle: u8, a: usize, b: usize) -> Vec<u8> {
    let n = raw.len().max(1);
    match mangle {
        1 => {
            let (x, y) = (a % n, b % n);
            let (x, y) = (x.min(y), x.max(y));
            raw.drain(x..y.min(x + 40));
        }
        2 => raw.retain(|&c| c != b'\r'),
        3 => {
            let at = a % n;
            raw.splice(at..at, b"\r\n--".iter().copied());
        }
        _ => {}
    }
    raw
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn any_split_gives_the_same_events(raw in arb_message(), cuts in proptest::collection::vec(any::<usize>(), 0..8)) {
        let whole = events_split(&raw, &[]);
        let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (raw.len() + 1)).collect();
        cuts.sort();
        let split = events_split(&raw, &cuts);
        prop_assert!(split == whole, "events differ for cuts {:?}", cuts);
    }

    #[test]
    fn tree_after_a_split_header_agrees(raw in arb_message()) {
        let header = mailwire_message::HeaderSection::parse(&raw);
        let after = Message::parse_after_header(&header);
        let scanned = Message::parse(&raw);
        prop_assert_eq!(format!("{:?}", after.parts()), format!("{:?}", scanned.parts()));
        prop_assert_eq!(after.defects(), scanned.defects());
    }

    #[test]
    fn decoding_parse_agrees(raw in arb_message()) {
        assert_decoding_parse_agrees(&raw, "generated");
    }

    /// Long base64 bodies (which the decoding parse decodes whole), in
    /// lines of any length, mangled; one left as it was generated is kept
    /// decoded (lent, not decoded again).
    #[test]
    fn decoding_parse_agrees_on_long_base64((raw, clean) in arb_long_base64()) {
        assert_decoding_parse_agrees(&raw, "generated");
        if let Some(data) = clean {
            let msg = Message::parse_with(&raw, mailwire_mime::Options::decoding());
            prop_assert!(msg
                .leaves()
                .any(|p| matches!(msg.decoded(p), std::borrow::Cow::Borrowed(b) if b == data)));
        }
    }

    #[test]
    fn tree_and_stream_agree(raw in arb_message(), chunk in 1usize..64) {
        let tree = leaf_parts(&Message::parse(&raw));
        let mut s = StreamSummarizer::new();
        for c in raw.chunks(chunk) {
            s.feed(c);
        }
        prop_assert_eq!(s.finish(), tree);
    }

    #[test]
    fn mime_fields_in_any_split(raw in arb_message(), cut in any::<usize>()) {
        // The fields parsed from the lines noted while reading a header
        // block, whole or in two pieces, equal a full parse of the block.
        fn fields(raw: &[u8], cut: usize) -> Vec<mailwire_mime::MimeHeaders> {
            let mut p = mailwire_mime::Parser::new();
            let mut out = Vec::new();
            let mut push = |ev: mailwire_mime::Event<'_>| {
                if let mailwire_mime::Event::PartStart(s) = ev {
                    out.push(s.mime);
                }
            };
            p.feed(&raw[..cut], &mut push);
            p.feed(&raw[cut..], &mut push);
            p.finish(&mut push);
            out
        }
        let msg = Message::parse(&raw);
        let full: Vec<_> = msg
            .parts()
            .iter()
            .map(|p| {
                let digest = p
                    .parent
                    .and_then(|q| msg.part(q))
                    .is_some_and(|q| {
                        // The leaf given to a multipart without body parts
                        // is text/plain even in a digest.
                        let preamble_leaf = p.header.is_empty() && p.header.start == q.body.start;
                        q.mime.content_type.is("multipart", "digest") && !preamble_leaf
                    });
                mailwire_mime::MimeHeaders::parse(msg.header_bytes(p), digest)
            })
            .collect();
        prop_assert_eq!(&fields(&raw, cut % (raw.len() + 1)), &full);
    }

    #[test]
    fn byte_by_byte(raw in arb_message()) {
        let whole = events_split(&raw, &[]);
        let cuts: Vec<usize> = (1..raw.len()).collect();
        prop_assert!(events_split(&raw, &cuts) == whole);
    }
}

#[test]
fn generated_messages_are_not_trivial() {
    // The strategy reaches nesting, encapsulated messages (plain and base64)
    // and mangled input, so the properties above are not vacuous.
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let (mut deep, mut encoded, mut defects) = (0, 0, 0);
    for _ in 0..200 {
        let raw = arb_message().new_tree(&mut runner).unwrap().current();
        let msg = Message::parse(&raw);
        deep += usize::from(msg.parts().iter().any(|p| p.depth >= 3));
        encoded += usize::from(
            msg.parts()
                .iter()
                .any(|p| p.kind == mailwire_mime::PartKind::EncodedMessage),
        );
        defects += usize::from(!msg.defects().is_empty());
    }
    assert!(
        deep >= 5 && encoded > 20 && defects > 10,
        "deep {deep} encoded {encoded} defects {defects}"
    );
}

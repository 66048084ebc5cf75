//! RFC examples as tests, and structural edge cases.

mod common;

use common::*;
use mailwire_mime::{DefectKind, Limits, Message, Options, Parser, PartKind};

#[test]
fn rfc2046_5_1_1_example() {
    let raw = b"From: Nathaniel Borenstein <nsb@bellcore.com>\r\n\
To: Ned Freed <ned@innosoft.com>\r\n\
Date: Sun, 21 Mar 1993 23:56:48 -0800 (PST)\r\n\
Subject: Sample message\r\n\
MIME-Version: 1.0\r\n\
Content-type: multipart/mixed; boundary=\"simple boundary\"\r\n\
\r\n\
This is the preamble.  It is to be ignored, though it\r\n\
is a handy place for composition agents to include an\r\n\
explanatory note to non-MIME conformant readers.\r\n\
\r\n\
--simple boundary\r\n\
\r\n\
This is implicitly typed plain US-ASCII text.\r\n\
It does NOT end with a linebreak.\r\n\
--simple boundary\r\n\
Content-type: text/plain; charset=us-ascii\r\n\
\r\n\
This is explicitly typed plain US-ASCII text.\r\n\
It DOES end with a linebreak.\r\n\
\r\n\
--simple boundary--\r\n\
\r\n\
This is the epilogue.  It is also to be ignored.\r\n";
    let msg = Message::parse(raw);
    assert!(msg.defects().is_empty());
    let root = msg.root();
    assert_eq!(root.kind, PartKind::Multipart);
    let pre = &raw[root.preamble.clone().unwrap()];
    assert!(pre.starts_with(b"This is the preamble.") && pre.ends_with(b"readers.\r\n"));
    let epi = &raw[root.epilogue.clone().unwrap()];
    assert_eq!(
        epi,
        b"\r\nThis is the epilogue.  It is also to be ignored.\r\n"
    );
    let leaves: Vec<_> = msg.leaves().collect();
    assert_eq!(leaves.len(), 2);
    assert_eq!(
        msg.raw_body(leaves[0]),
        b"This is implicitly typed plain US-ASCII text.\r\nIt does NOT end with a linebreak."
    );
    assert_eq!(
        msg.raw_body(leaves[1]),
        b"This is explicitly typed plain US-ASCII text.\r\nIt DOES end with a linebreak.\r\n"
    );
    assert_eq!(leaves[0].mime.mime_type(), "text/plain");
    assert_eq!(
        leaves[0].mime.content_type.charset().as_deref(),
        Some("us-ascii")
    );
}

#[test]
fn rfc2046_5_1_1_whole_delimiter_only() {
    // "--b" followed by other characters is not a delimiter; transport padding is.
    let raw = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b  \t\r\n\r\n--bc\r\n--b- x\r\n--b--\r\n";
    let msg = Message::parse(raw);
    assert!(msg.defects().is_empty(), "{:?}", msg.defects());
    let leaf = msg.leaves().next().unwrap();
    assert_eq!(msg.raw_body(leaf), b"--bc\r\n--b- x");
}

#[test]
fn nested_boundaries_that_are_prefixes() {
    let raw = b"Content-Type: multipart/mixed; boundary=abc\r\n\r\n--abc\r\n\
Content-Type: multipart/alternative; boundary=abcdef\r\n\r\n--abcdef\r\n\r\none\r\n--abcdef\r\n\r\ntwo\r\n--abcdef--\r\n\
--abc\r\n\r\nthree\r\n--abc--\r\n";
    let msg = Message::parse(raw);
    assert!(msg.defects().is_empty(), "{:?}", msg.defects());
    let got: Vec<_> = msg
        .leaves()
        .map(|p| (p.section_string(), msg.raw_body(p).to_vec()))
        .collect();
    assert_eq!(
        got,
        [
            ("1.1".into(), b"one".to_vec()),
            ("1.2".into(), b"two".to_vec()),
            ("2".into(), b"three".to_vec())
        ]
    );
}

#[test]
fn repairs_are_reported() {
    // Inner multipart never closed; outer close delimiter ends it.
    let raw = b"Content-Type: multipart/mixed; boundary=o\r\n\r\n--o\r\nContent-Type: multipart/mixed; boundary=i\r\n\r\n--i\r\n\r\nx\r\n--o--\r\n";
    let msg = Message::parse(raw);
    assert!(msg.has_defect(DefectKind::MissingCloseDelimiter));
    assert_eq!(msg.raw_body(msg.leaves().next().unwrap()), b"x");
    // Truncated: no close delimiter at all, input ends inside a part.
    let msg =
        Message::parse(b"Content-Type: multipart/mixed; boundary=o\r\n\r\n--o\r\n\r\npartial bo");
    assert!(msg.has_defect(DefectKind::MissingCloseDelimiter));
    assert_eq!(msg.raw_body(msg.leaves().next().unwrap()), b"partial bo");
    // Missing blank line after a part's header.
    let msg = Message::parse(b"Content-Type: multipart/mixed; boundary=o\r\n\r\n--o\r\nContent-Type: text/html\r\n<p>hi</p>\r\n--o--\r\n");
    assert!(msg.has_defect(DefectKind::MissingBlankLine));
    let leaf = msg.leaves().next().unwrap();
    assert_eq!(leaf.mime.mime_type(), "text/html");
    assert_eq!(msg.raw_body(leaf), b"<p>hi</p>");
}

#[test]
fn rfc2046_5_1_5_digest_default() {
    let raw = b"Content-Type: multipart/digest; boundary=d\r\n\r\n--d\r\n\r\nSubject: one\r\n\r\nbody one\r\n--d\r\nContent-Type: text/plain\r\n\r\nnot a message\r\n--d--\r\n";
    let msg = Message::parse(raw);
    let parts: Vec<_> = msg
        .parts()
        .iter()
        .map(|p| (p.section_string(), p.mime.mime_type()))
        .collect();
    assert_eq!(
        parts,
        [
            ("".into(), "multipart/digest".into()),
            ("1".into(), "message/rfc822".into()),
            ("1.1".into(), "text/plain".into()),
            ("2".into(), "text/plain".into())
        ]
    );
    let inner = msg.encapsulated(&msg.parts()[1]).unwrap();
    assert_eq!(msg.header_bytes(inner), b"Subject: one\r\n\r\n");
}

#[test]
fn rfc3501_6_4_5_section_numbers() {
    let Some(_) = corpus_files() else { return };
    let data = std::fs::read(format!("{CORPUS}/mimekit-messages/rfc2060.txt")).unwrap();
    let msg = Message::parse(&data);
    let want = [
        ("1", "text/plain"),
        ("2", "application/octet-stream"),
        ("3", "message/rfc822"),
        ("3.1", "text/plain"),
        ("3.2", "application/octet-stream"),
        ("4", "multipart/mixed"),
        ("4.1", "image/gif"),
        ("4.2", "message/rfc822"),
        ("4.2.1", "text/plain"),
        ("4.2.2", "multipart/alternative"),
        ("4.2.2.1", "text/plain"),
        ("4.2.2.2", "text/richtext"),
    ];
    for (sec, ty) in want {
        assert_eq!(msg.find_section(sec).unwrap().mime.mime_type(), ty, "{sec}");
    }
    // BODY[section] straight from the tree (the file says what each part is).
    let at = |spec: &str| String::from_utf8_lossy(msg.imap_section(spec).unwrap()).into_owned();
    assert!(at("HEADER").starts_with("From: me@myself.com\n") && at("HEADER").ends_with("\n\n"));
    assert!(at("TEXT").starts_with("--x\n"));
    for sec in ["1", "2", "3.1", "3.2", "4.1", "4.2.1", "4.2.2.1", "4.2.2.2"] {
        assert_eq!(
            at(sec),
            format!("This part specifier should be: {sec}\n"),
            "{sec}"
        );
    }
    assert!(at("3").starts_with("From: me@myself.com\n"));
    assert!(at("3.HEADER").contains("Subject: This part specifier should be: 3\n"));
    assert!(at("3.TEXT").starts_with("--3.x\n"));
    assert_eq!(at("4.1.MIME"), "Content-Type: IMAGE/GIF\n\n");
    assert!(at("4.2.HEADER").contains("Subject: This part specifier should be: 4.2\n"));
    assert_eq!(msg.imap_section("").unwrap(), &data[..]);
    assert!(msg.imap_section("9").is_none());
    assert!(msg.imap_section("1.HEADER").is_none());
    let fields = msg
        .imap_header_fields("4.2", &["subject", "TO"], false)
        .unwrap();
    assert_eq!(
        fields,
        b"To: me@myself.com\nSubject: This part specifier should be: 4.2\n\r\n"
    );
    let rest = msg
        .imap_header_fields("", &["from", "to", "subject"], true)
        .unwrap();
    assert_eq!(
        rest,
        b"MIME-Version: 1.0\nContent-Type: MULTIPART/MIXED; boundary=\"x\"\n\r\n"
    );
    // A non-multipart message has only part 1.
    let msg = Message::parse(b"Subject: x\r\n\r\nbody");
    assert_eq!(msg.root().section_string(), "1");
    assert_eq!(msg.raw_body(msg.find_section("1").unwrap()), b"body");
}

#[test]
fn encoded_message_rfc822_is_parsed() {
    use base64::Engine as _;
    let inner = b"Subject: inner\r\nContent-Type: multipart/mixed; boundary=z\r\n\r\n--z\r\n\r\nhello\r\n--z--\r\n";
    let b64 = base64::engine::general_purpose::STANDARD.encode(inner);
    let raw = format!(
        "Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n{b64}\r\n"
    );
    let msg = Message::parse(raw.as_bytes());
    assert_eq!(msg.root().kind, PartKind::EncodedMessage);
    let leaf = msg.leaves().next().unwrap();
    assert_eq!(leaf.section_string(), "1.1");
    assert_eq!(leaf.stream, 1);
    assert_eq!(msg.raw_body(leaf), b"hello");
    assert_eq!(msg.stream(1), inner);
}

#[test]
fn rfc1847_signed_bytes() {
    let Some(_) = corpus_files() else { return };
    let data = std::fs::read(format!("{CORPUS}/dovecot-samples/006.eml")).unwrap();
    let msg = Message::parse(&data);
    let signed = msg
        .parts()
        .iter()
        .find(|p| p.mime.content_type.is("multipart", "signed"))
        .unwrap();
    let (bytes, sig) = msg.signed_content(signed).unwrap();
    assert_eq!(sig.mime.mime_type(), "signature/plain");
    // The signed bytes are exactly what lies between the delimiter lines.
    let b = signed.mime.content_type.boundary().unwrap();
    let text = &data[..];
    let start = memchr::memmem::find(text, format!("--{b}\n").as_bytes()).unwrap() + b.len() + 3;
    assert_eq!(&text[start..start + bytes.len()], bytes);
    let after = &text[start + bytes.len()..];
    assert!(
        after.starts_with(format!("\n--{b}").as_bytes())
            || after.starts_with(format!("\r\n--{b}").as_bytes())
    );
}

#[test]
fn rfc3464_delivery_status_corpus() {
    let Some(_) = corpus_files() else { return };
    for (file, action, status, rcpt) in [
        (
            "delivery-status.txt",
            "failed",
            None,
            "newsletter-request@imusic.com",
        ),
        (
            "delivery-status-no-blank-line.txt",
            "failed",
            None,
            "newsletter-request@imusic.com",
        ),
        (
            "bounce.txt",
            "failed",
            Some("5.1.1"),
            "netec.test@netecgc.com",
        ),
    ] {
        let data = std::fs::read(format!("{CORPUS}/mimekit-messages/{file}")).unwrap();
        let msg = Message::parse(&data);
        let part = msg
            .parts()
            .iter()
            .find(|p| p.mime.content_type.is("message", "delivery-status"))
            .unwrap();
        let ds = msg.delivery_status(part).unwrap();
        assert!(ds.field("reporting-mta").is_some(), "{file}");
        assert_eq!(ds.recipients.len(), 1, "{file}: {ds:?}");
        let r = &ds.recipients[0];
        assert_eq!(r.action.as_deref(), Some(action), "{file}");
        if let Some(s) = status {
            assert_eq!(r.status.as_deref(), Some(s), "{file}");
        }
        assert!(
            r.final_recipient.as_deref().unwrap().contains(rcpt),
            "{file}"
        );
    }
    let data = std::fs::read(format!(
        "{CORPUS}/mimekit-messages/disposition-notification.txt"
    ))
    .unwrap();
    let msg = Message::parse(&data);
    let part = msg
        .parts()
        .iter()
        .find(|p| {
            p.mime
                .content_type
                .is("message", "disposition-notification")
        })
        .unwrap();
    let dn = msg.disposition_notification(part).unwrap();
    assert!(dn.disposition.is_some() && dn.final_recipient.is_some());
}

#[test]
fn limits_are_defects() {
    // Depth: 200 nested multiparts.
    let mut raw = Vec::new();
    for i in 0..200 {
        raw.extend_from_slice(
            format!("Content-Type: multipart/mixed; boundary=b{i}\r\n\r\n--b{i}\r\n").as_bytes(),
        );
    }
    raw.extend_from_slice(b"\r\ndeep\r\n");
    let msg = Message::parse(&raw);
    assert!(msg.has_defect(DefectKind::DepthLimit));
    assert!(msg.parts().len() <= Limits::default().max_depth + 2);
    // Parts.
    let mut raw = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n".to_vec();
    for _ in 0..50 {
        raw.extend_from_slice(b"--b\r\n\r\nx\r\n");
    }
    let mut limits = Limits::default();
    limits.max_parts = 10;
    let msg = Message::parse_with(&raw, Options::default().with_limits(limits));
    assert!(msg.has_defect(DefectKind::PartLimit));
    assert_eq!(msg.parts().len(), 10);
    // Header size, with bounded buffering in the streaming parser.
    let mut limits = Limits::default();
    limits.max_header_size = 1000;
    let mut raw = b"Content-Type: text/plain\r\n".to_vec();
    for i in 0..1000 {
        raw.extend_from_slice(format!("X-Filler-{i}: {}\r\n", "y".repeat(50)).as_bytes());
    }
    raw.extend_from_slice(b"\r\nbody\r\n");
    let msg = Message::parse_with(&raw, Options::default().with_limits(limits));
    assert!(msg.has_defect(DefectKind::HeaderTooLarge));
    assert_eq!(msg.raw_body(msg.leaves().next().unwrap()), b"body\r\n");
    let mut p = Parser::with_options(Options::default().with_limits(limits));
    let mut max = 0;
    for c in raw.chunks(100) {
        p.feed(c, &mut |_| {});
        max = max.max(p.buffered());
    }
    assert!(max <= 2000, "{max}");
}

#[test]
fn stack_overflow_corpus_message() {
    let Some(_) = corpus_files() else { return };
    let data = std::fs::read(format!("{CORPUS}/mimekit-messages/stack-overflow.txt")).unwrap();
    let msg = Message::parse(&data);
    let leaf = msg.leaves().next().unwrap();
    assert_eq!(msg.raw_body(leaf), b"\nMessage Body\n");
}

#[test]
fn unknown_charset_is_reported_and_decoded_with_fallback() {
    let msg = Message::parse(b"Content-Type: text/plain; charset=x-klingon\r\n\r\ncaf\xe9\r\n");
    assert!(msg.has_defect(DefectKind::UnknownCharset));
    let (text, status) = msg.text(msg.root()).unwrap();
    assert_eq!(text, "caf\u{e9}\r\n");
    assert_eq!(status, mailwire_mime::TextStatus::UnknownCharset);
    // UTF-7 and a WHATWG label.
    let msg = Message::parse(b"Content-Type: text/plain; charset=utf-7\r\n\r\nHi Mom -+Jjo--!");
    assert_eq!(msg.text(msg.root()).unwrap().0, "Hi Mom -\u{263A}-!");
    let msg = Message::parse(b"Content-Type: text/plain; charset=koi8-r\r\nContent-Transfer-Encoding: base64\r\n\r\n0NLJ18XU\r\n");
    assert_eq!(msg.text(msg.root()).unwrap().0, "привет");
    assert!(msg.defects().is_empty());
}

#[test]
fn streaming_memory_is_bounded() {
    // A 16 MiB attachment streamed through the summariser in 64 KiB reads:
    // the parser never holds more than a partial delimiter line.
    use mailwire_mime::summary::StreamSummarizer;
    let head = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n";
    let line = b"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVpBQkNERUZHSElKS0xNTk9QUVJTVFVWV1hZWkFC\r\n";
    let mut s = StreamSummarizer::new();
    s.feed(head);
    let mut chunk = Vec::new();
    while chunk.len() < 65536 {
        chunk.extend_from_slice(line);
    }
    let mut max = 0;
    let mut fed = 0;
    while fed < 16 << 20 {
        s.feed(&chunk[..65531]);
        s.feed(&chunk[65531..]);
        max = max.max(s.buffered());
        fed += chunk.len();
    }
    s.feed(b"--b--\r\n");
    let parts = s.finish();
    assert_eq!(parts.len(), 1);
    assert_eq!(parts[0].size as usize, fed / line.len() * 54);
    assert!(max < 1024, "{max}");
}

#[test]
fn oversized_header_is_split_invariant() {
    use mailwire_mime::summary::{StreamSummarizer, leaf_parts};
    let mut limits = Limits::default();
    limits.max_header_size = 600;
    let opts = Options::default().with_limits(limits);
    let mut raw = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\nX-Long: ".to_vec();
    raw.extend(std::iter::repeat_n(b'x', 3000));
    raw.extend_from_slice(b"\r\n");
    raw.extend(std::iter::repeat_n(b'y', 2000)); // a long line without a colon
    raw.extend_from_slice(b"\r\n\r\nbody one\r\n--b\r\n\r\nbody two\r\n--b--\r\n");
    let tree = leaf_parts(&Message::parse_with(&raw, opts));
    assert_eq!(tree.len(), 2);
    assert_eq!(tree[0].text.as_deref(), Some("body one"));
    for chunk in [1, 7, 300, 1000] {
        let mut s = StreamSummarizer::with_options(opts);
        for c in raw.chunks(chunk) {
            s.feed(c);
        }
        assert_eq!(s.finish(), tree, "chunk {chunk}");
    }
}

/// Tree leaves and the streaming summary, fed whole, in every 2-way split
/// and byte by byte: they must agree.
fn check_stream_agrees(raw: &[u8]) {
    use mailwire_mime::summary::{StreamSummarizer, leaf_parts};
    let tree = leaf_parts(&Message::parse(raw));
    let whole = events_split(raw, &[]);
    for cut in 0..=raw.len() {
        let mut s = StreamSummarizer::new();
        s.feed(&raw[..cut]);
        s.feed(&raw[cut..]);
        assert_eq!(s.finish(), tree, "split at {cut}");
        assert_same(
            &events_split(raw, &[cut]),
            &whole,
            &format!("split at {cut}"),
        );
    }
    let mut s = StreamSummarizer::new();
    for b in raw {
        s.feed(std::slice::from_ref(b));
    }
    assert_eq!(s.finish(), tree, "byte by byte");
}

#[test]
fn multipart_without_its_boundary_gives_one_leaf() {
    // The boundary never appears: the body becomes one text/plain leaf, as
    // One leaf over the preamble (the IMAP kit empties it, as Dovecot does), and the repair is reported.
    let raw =
        b"Content-Type: multipart/mixed; boundary=zz\r\n\r\nHello, this is\r\nthe whole text.\r\n";
    let msg = Message::parse(raw);
    assert!(msg.has_defect(DefectKind::NoParts));
    assert!(msg.has_defect(DefectKind::MissingCloseDelimiter));
    let leaves: Vec<_> = msg.leaves().collect();
    assert_eq!(leaves.len(), 1);
    assert_eq!(leaves[0].section_string(), "1");
    assert_eq!(leaves[0].parent, Some(0));
    assert_eq!(leaves[0].mime.mime_type(), "text/plain");
    assert_eq!(
        msg.text(leaves[0]).unwrap().0,
        "Hello, this is\r\nthe whole text.\r\n"
    );
    assert_eq!(
        msg.imap_section("1"),
        Some(&b"Hello, this is\r\nthe whole text.\r\n"[..])
    );
    check_stream_agrees(raw);

    // Only the close delimiter: the preamble is the leaf, the epilogue not.
    let raw = b"Content-Type: multipart/mixed; boundary=zz\r\n\r\nthe preamble\r\n--zz--\r\nthe epilogue\r\n";
    let msg = Message::parse(raw);
    assert!(msg.has_defect(DefectKind::NoParts));
    assert!(!msg.has_defect(DefectKind::MissingCloseDelimiter));
    let leaves: Vec<_> = msg.leaves().collect();
    assert_eq!(leaves.len(), 1);
    assert_eq!(msg.raw_body(leaves[0]), b"the preamble");
    check_stream_agrees(raw);

    // An empty body still gives its (empty) leaf.
    let raw = b"Content-Type: multipart/mixed; boundary=zz\r\n\r\n";
    let msg = Message::parse(raw);
    assert_eq!(msg.leaves().count(), 1);
    check_stream_agrees(raw);
}

#[test]
fn multipart_with_parts_cut_off_keeps_their_text() {
    // An inner multipart whose boundary never appears, ended by the outer
    // delimiter, and a last part cut off by the end of the input.
    let raw = b"Content-Type: multipart/mixed; boundary=o\r\n\r\n--o\r\n\
Content-Type: multipart/alternative; boundary=i\r\n\r\ninner text, no delimiter\r\n\
--o\r\nContent-Type: text/plain\r\n\r\ncut off in the mid";
    let msg = Message::parse(raw);
    let leaves: Vec<_> = msg
        .leaves()
        .map(|p| (p.section_string(), msg.raw_body(p)))
        .collect();
    assert_eq!(
        leaves,
        vec![
            ("1.1".to_owned(), &b"inner text, no delimiter"[..]),
            ("2".to_owned(), &b"cut off in the mid"[..]),
        ]
    );
    assert!(msg.has_defect(DefectKind::NoParts));
    check_stream_agrees(raw);
}

#[test]
fn message_rfc822_with_an_empty_multipart_stays_in_the_parts() {
    let raw = b"Content-Type: multipart/mixed; boundary=o\r\n\r\n--o\r\n\
Content-Type: text/plain\r\n\r\nsee attached\r\n--o\r\n\
Content-Type: message/rfc822\r\n\r\nSubject: inner\r\n\
Content-Type: multipart/alternative; boundary=in\r\n\r\nthe inner body\r\n--o--\r\n";
    let msg = Message::parse(raw);
    // The message/rfc822 part and its multipart are in the tree ...
    let rfc822 = msg.find_section("2").unwrap();
    assert_eq!(rfc822.kind, PartKind::Message);
    assert_eq!(
        msg.imap_section("2.HEADER").unwrap(),
        b"Subject: inner\r\nContent-Type: multipart/alternative; boundary=in\r\n\r\n"
    );
    // ... and its text is a leaf of the parts list, under the message.
    let parts = mailwire_mime::summary::leaf_parts(&msg);
    let sections: Vec<_> = parts.iter().map(|p| p.section.as_str()).collect();
    assert_eq!(sections, ["1", "2.1"]);
    assert_eq!(parts[1].text.as_deref(), Some("the inner body"));
    let leaf = msg.leaves().nth(1).unwrap();
    assert!(msg.parts()[leaf.parent.unwrap()].parent == Some(rfc822.id));
    check_stream_agrees(raw);
}

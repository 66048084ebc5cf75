//! Property tests: build then parse gives back the values; parse then
//! serialize of an untouched message gives back its bytes.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use mailwire_message::{
    Address, DateTime, Group, HeaderBuilder, Mailbox, Message, MessageBuilder, MessageId,
    MessageIdGenerator, parse_address_list,
};
use proptest::prelude::*;

/// Text without control characters (CR, LF, NUL and the rest are refused
/// by the builder), without surrounding white space (unstructured values
/// are trimmed, RFC 5322 §3.2.5).
fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            3 => proptest::char::range(' ', '~'),
            1 => proptest::char::range('\u{a0}', '\u{2fff}'),
            1 => Just('é'),
            1 => Just('😀'),
            1 => Just(' '),
            1 => Just('='),
            1 => Just('?'),
            1 => Just('"'),
        ],
        1..120,
    )
    .prop_map(|v| v.into_iter().collect::<String>().trim().to_owned())
    .prop_filter("non-empty", |s| !s.is_empty())
}

fn atom() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]{1,12}"
}

fn local_part() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::collection::vec(atom(), 1..4).prop_map(|v| v.join(".")),
        // Needs quoting: printable ASCII with spaces, quotes, backslashes.
        "[ -~]{1,20}",
    ]
}

fn domain() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::collection::vec("[a-z0-9-]{1,10}", 1..4).prop_map(|v| v.join(".")),
        "\\[[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}\\]",
    ]
}

fn mailbox() -> impl Strategy<Value = Mailbox<'static>> {
    (prop::option::of(text()), local_part(), domain())
        .prop_map(|(n, l, d)| Mailbox::from_parts(n.as_deref(), &l, &d).unwrap())
}

fn date() -> impl Strategy<Value = DateTime> {
    (0i64..4_000_000_000, -720i16..=840).prop_map(|(ts, off)| DateTime::from_unix(ts, off).unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn build_then_parse(
        subject in text(),
        from in mailbox(),
        to in prop::collection::vec(mailbox(), 1..4),
        group in prop::collection::vec(mailbox(), 0..3),
        group_name in text(),
        d in date(),
        seed in any::<u64>(),
        utf8 in any::<bool>(),
    ) {
        let id = MessageIdGenerator::new("example.test", seed).unwrap().generate();
        let parent = MessageId::new("parent.1@example.test").unwrap();
        let mut addrs: Vec<Address<'_>> = to.iter().cloned().map(Address::Mailbox).collect();
        addrs.push(Address::Group(Group { name: group_name.clone().into(), members: group.clone() }));
        let h = HeaderBuilder::new()
            .utf8(utf8)
            .from(std::slice::from_ref(&from))
            .addresses("To", &addrs)
            .unwrap()
            .subject(&subject)
            .unwrap()
            .date(&d)
            .message_id(&id)
            .in_reply_to(std::slice::from_ref(&parent));
        let bytes = MessageBuilder::new(h, b"body\n").to_bytes();
        // Lines stay within 998 octets; ASCII-only unless RFC 6532 output.
        for line in bytes.split(|&b| b == b'\n') {
            prop_assert!(line.len() <= 998);
        }
        if !utf8 {
            prop_assert!(bytes.is_ascii());
        }
        let m = Message::parse(&bytes);
        let s = m.summary();
        prop_assert_eq!(s.subject.as_deref(), Some(subject.as_str()));
        prop_assert_eq!(&s.from, &vec![from]);
        let got_to: Vec<Mailbox<'_>> = s.to.mailboxes().cloned().collect();
        let want_to: Vec<Mailbox<'_>> = to.iter().chain(group.iter()).cloned().collect();
        prop_assert_eq!(got_to, want_to);
        match s.to.0.last() {
            Some(Address::Group(g)) => prop_assert_eq!(g.name.as_ref(), group_name.as_str()),
            other => prop_assert!(false, "no group: {:?}", other),
        }
        prop_assert_eq!(s.date, Some(d));
        prop_assert_eq!(s.message_id, Some(id));
        prop_assert_eq!(s.in_reply_to, vec![parent]);
        prop_assert_eq!(m.body(), b"body\r\n");
        prop_assert!(s.defects.is_empty(), "{:?}\n{}", s.defects, String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn mailbox_display_parses_back(m in mailbox()) {
        let text = m.to_string();
        let (list, defects) = parse_address_list(text.as_bytes());
        prop_assert!(defects.is_empty(), "{:?} {}", defects, text);
        prop_assert_eq!(list.mailboxes().next(), Some(&m));
    }

    #[test]
    fn untouched_message_round_trips(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let m = Message::parse(&bytes);
        let mut out = Vec::new();
        m.write_to(&mut out);
        prop_assert_eq!(out, bytes);
    }

    #[test]
    fn untouched_header_like_message_round_trips(
        lines in prop::collection::vec(
            prop_oneof![
                "[A-Za-z-]{1,10}: [ -~]{0,30}",
                " [ -~]{0,30}",
                "[A-Za-z-]{1,10} : [^\r\n]{0,30}",
                "From [ -~]{0,20}",
                "[ -~]{0,20}",
            ],
            0..12,
        ),
        crlf in any::<bool>(),
        body in "[ -~\r\n]{0,50}",
    ) {
        let eol = if crlf { "\r\n" } else { "\n" };
        let mut raw = lines.join(eol);
        raw.push_str(eol);
        raw.push_str(eol);
        raw.push_str(&body);
        let m = Message::parse(raw.as_bytes());
        let _ = m.summary();
        let mut out = Vec::new();
        m.write_to(&mut out);
        prop_assert_eq!(out, raw.as_bytes());
    }
}

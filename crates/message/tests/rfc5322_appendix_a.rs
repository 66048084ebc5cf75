//! RFC 5322 Appendix A: every example message, with its parsed values.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use mailwire_message::{
    Address, DefectKind, Mailbox, Message, derive_envelope, parse_address_list, reply,
};

/// Join lines with CRLF; the empty line separates header and body.
fn msg(lines: &[&str]) -> Vec<u8> {
    let mut v = lines.join("\r\n").into_bytes();
    v.extend_from_slice(b"\r\n");
    v
}

fn names_addrs(list: &mailwire_message::AddressList<'_>) -> Vec<(Option<String>, String)> {
    list.mailboxes()
        .map(|m| (m.name().map(str::to_owned), m.addr_spec().to_owned()))
        .collect()
}

fn s(n: Option<&str>, a: &str) -> (Option<String>, String) {
    (n.map(str::to_owned), a.to_owned())
}

fn hello() -> Vec<u8> {
    msg(&[
        "From: John Doe <jdoe@machine.example>",
        "To: Mary Smith <mary@example.net>",
        "Subject: Saying Hello",
        "Date: Fri, 21 Nov 1997 09:55:06 -0600",
        "Message-ID: <1234@local.machine.example>",
        "",
        "This is a message just to say hello.",
        "So, \"Hello\".",
    ])
}

fn check_hello(m: &Message<'_>) {
    assert_eq!(
        names_addrs(&m.from()),
        [s(Some("John Doe"), "jdoe@machine.example")]
    );
    assert_eq!(
        names_addrs(&m.to()),
        [s(Some("Mary Smith"), "mary@example.net")]
    );
    assert_eq!(m.subject().as_deref(), Some("Saying Hello"));
    assert_eq!(m.date().unwrap().to_rfc3339(), "1997-11-21T09:55:06-06:00");
    assert_eq!(
        m.message_id().unwrap().as_str(),
        "1234@local.machine.example"
    );
    assert_eq!(
        m.body(),
        b"This is a message just to say hello.\r\nSo, \"Hello\".\r\n"
    );
}

#[test]
fn rfc5322_a_1_1() {
    let raw = hello();
    let m = Message::parse(&raw);
    check_hello(&m);
    let sum = m.summary();
    assert!(sum.defects.is_empty(), "{:?}", sum.defects);

    let raw = msg(&[
        "From: John Doe <jdoe@machine.example>",
        "Sender: Michael Jones <mjones@machine.example>",
        "To: Mary Smith <mary@example.net>",
        "Subject: Saying Hello",
        "Date: Fri, 21 Nov 1997 09:55:06 -0600",
        "Message-ID: <1234@local.machine.example>",
        "",
        "This is a message just to say hello.",
        "So, \"Hello\".",
    ]);
    let m = Message::parse(&raw);
    check_hello(&m);
    let sender = m.sender().unwrap();
    assert_eq!(sender.name(), Some("Michael Jones"));
    assert_eq!(sender.addr_spec(), "mjones@machine.example");
    // The envelope of a submission uses Sender as the reverse-path.
    assert_eq!(
        derive_envelope(&m).unwrap().0.reverse_path,
        "mjones@machine.example"
    );
}

#[test]
fn rfc5322_a_1_2() {
    let raw = msg(&[
        "From: \"Joe Q. Public\" <john.q.public@example.com>",
        "To: Mary Smith <mary@x.test>, jdoe@example.org, Who? <one@y.test>",
        "Cc: <boss@nil.test>, \"Giant; \\\"Big\\\" Box\" <sysservices@example.net>",
        "Date: Tue, 1 Jul 2003 10:52:37 +0200",
        "Message-ID: <5678.21-Nov-1997@example.com>",
        "",
        "Hi everyone.",
    ]);
    let m = Message::parse(&raw);
    assert_eq!(
        names_addrs(&m.from()),
        [s(Some("Joe Q. Public"), "john.q.public@example.com")]
    );
    assert_eq!(
        names_addrs(&m.to()),
        [
            s(Some("Mary Smith"), "mary@x.test"),
            s(None, "jdoe@example.org"),
            s(Some("Who?"), "one@y.test")
        ]
    );
    assert_eq!(
        names_addrs(&m.cc()),
        [
            s(None, "boss@nil.test"),
            s(Some("Giant; \"Big\" Box"), "sysservices@example.net")
        ]
    );
    assert_eq!(m.date().unwrap().to_rfc3339(), "2003-07-01T10:52:37+02:00");
    assert_eq!(
        m.message_id().unwrap().as_str(),
        "5678.21-Nov-1997@example.com"
    );
    assert!(m.summary().defects.is_empty());
}

#[test]
fn rfc5322_a_1_3() {
    let raw = msg(&[
        "From: Pete <pete@silly.example>",
        "To: A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;",
        "Cc: Undisclosed recipients:;",
        "Date: Thu, 13 Feb 1969 23:32:54 -0330",
        "Message-ID: <testabcd.1234@silly.example>",
        "",
        "Testing.",
    ]);
    let m = Message::parse(&raw);
    let to = m.to();
    assert_eq!(to.0.len(), 1);
    let Address::Group(g) = &to.0[0] else {
        panic!("not a group")
    };
    assert_eq!(g.name, "A Group");
    assert_eq!(
        names_addrs(&to),
        [
            s(Some("Ed Jones"), "c@a.test"),
            s(None, "joe@where.test"),
            s(Some("John"), "jdoe@one.test")
        ]
    );
    let cc = m.cc();
    let Address::Group(g) = &cc.0[0] else {
        panic!("not a group")
    };
    assert_eq!(g.name, "Undisclosed recipients");
    assert!(g.members.is_empty());
    assert_eq!(m.date().unwrap().to_rfc3339(), "1969-02-13T23:32:54-03:30");
    assert!(m.summary().defects.is_empty());
}

#[test]
fn rfc5322_a_2() {
    let first = hello();
    let m1 = Message::parse(&first);
    check_hello(&m1);
    let reply1 = msg(&[
        "From: Mary Smith <mary@example.net>",
        "To: John Doe <jdoe@machine.example>",
        "Reply-To: \"Mary Smith: Personal Account\" <smith@home.example>",
        "Subject: Re: Saying Hello",
        "Date: Fri, 21 Nov 1997 10:01:10 -0600",
        "Message-ID: <3456@example.net>",
        "In-Reply-To: <1234@local.machine.example>",
        "References: <1234@local.machine.example>",
        "",
        "This is a reply to your hello.",
    ]);
    let m2 = Message::parse(&reply1);
    assert_eq!(
        names_addrs(&m2.reply_to()),
        [s(
            Some("Mary Smith: Personal Account"),
            "smith@home.example"
        )]
    );
    assert_eq!(m2.in_reply_to()[0].as_str(), "1234@local.machine.example");
    assert_eq!(m2.references()[0].as_str(), "1234@local.machine.example");

    // Mary's reply as our reply() builds it from John's message.
    let mary = Mailbox::new(Some("Mary Smith"), "mary@example.net").unwrap();
    let r = reply(&m1, &[mary], false).unwrap();
    assert_eq!(r.get("To"), Some("John Doe <jdoe@machine.example>"));
    assert_eq!(r.get("Subject"), Some("Re: Saying Hello"));
    assert_eq!(r.get("In-Reply-To"), Some("<1234@local.machine.example>"));
    assert_eq!(r.get("References"), Some("<1234@local.machine.example>"));

    let reply2 = msg(&[
        "To: \"Mary Smith: Personal Account\" <smith@home.example>",
        "From: John Doe <jdoe@machine.example>",
        "Subject: Re: Saying Hello",
        "Date: Fri, 21 Nov 1997 11:00:00 -0600",
        "Message-ID: <abcd.1234@local.machine.test>",
        "In-Reply-To: <3456@example.net>",
        "References: <1234@local.machine.example> <3456@example.net>",
        "",
        "This is a reply to your reply.",
    ]);
    let m3 = Message::parse(&reply2);
    let refs: Vec<_> = m3
        .references()
        .iter()
        .map(|r| r.as_str().to_owned())
        .collect();
    assert_eq!(refs, ["1234@local.machine.example", "3456@example.net"]);

    // John's reply as reply() builds it from Mary's: To from Reply-To,
    // References chained, one "Re: ".
    let john = Mailbox::new(Some("John Doe"), "jdoe@machine.example").unwrap();
    let r = reply(&m2, &[john], true).unwrap();
    assert_eq!(
        r.get("To"),
        Some("\"Mary Smith: Personal Account\" <smith@home.example>")
    );
    assert_eq!(r.get("Cc"), None);
    assert_eq!(r.get("Subject"), Some("Re: Saying Hello"));
    assert_eq!(r.get("In-Reply-To"), Some("<3456@example.net>"));
    assert_eq!(
        r.get("References"),
        Some("<1234@local.machine.example> <3456@example.net>")
    );
}

#[test]
fn rfc5322_a_3() {
    let raw = msg(&[
        "Resent-From: Mary Smith <mary@example.net>",
        "Resent-To: Jane Brown <j-brown@other.example>",
        "Resent-Date: Mon, 24 Nov 1997 14:22:01 -0800",
        "Resent-Message-ID: <78910@example.net>",
        "From: John Doe <jdoe@machine.example>",
        "To: Mary Smith <mary@example.net>",
        "Subject: Saying Hello",
        "Date: Fri, 21 Nov 1997 09:55:06 -0600",
        "Message-ID: <1234@local.machine.example>",
        "",
        "This is a message just to say hello.",
        "So, \"Hello\".",
    ]);
    let m = Message::parse(&raw);
    check_hello(&m);
    let blocks = m.resent_blocks();
    assert_eq!(blocks.len(), 1);
    let b = &blocks[0];
    assert_eq!(b.from[0].addr_spec(), "mary@example.net");
    assert_eq!(
        names_addrs(&b.to),
        [s(Some("Jane Brown"), "j-brown@other.example")]
    );
    assert_eq!(b.date.unwrap().to_rfc3339(), "1997-11-24T14:22:01-08:00");
    assert_eq!(b.message_id.as_ref().unwrap().as_str(), "78910@example.net");
    let (env, _) = derive_envelope(&m).unwrap();
    assert_eq!(env.reverse_path, "mary@example.net");
    assert_eq!(env.recipients, ["j-brown@other.example"]);
}

#[test]
fn rfc5322_a_4() {
    let raw = msg(&[
        "Received: from x.y.test",
        "   by example.net",
        "   via TCP",
        "   with ESMTP",
        "   id ABC12345",
        "   for <mary@example.net>;  21 Nov 1997 10:05:43 -0600",
        "Received: from node.example by x.y.test; 21 Nov 1997 10:01:22 -0600",
        "From: John Doe <jdoe@node.example>",
        "To: Mary Smith <mary@example.net>",
        "Subject: Saying Hello",
        "Date: Fri, 21 Nov 1997 09:55:06 -0600",
        "Message-ID: <1234@local.node.example>",
        "",
        "This is a message just to say hello.",
        "So, \"Hello\".",
    ]);
    let m = Message::parse(&raw);
    let r = m.received();
    assert_eq!(r.len(), 2);
    assert_eq!(r[0].get("from").as_deref(), Some("x.y.test"));
    assert_eq!(r[0].get("by").as_deref(), Some("example.net"));
    assert_eq!(r[0].get("via").as_deref(), Some("TCP"));
    assert_eq!(r[0].get("with").as_deref(), Some("ESMTP"));
    assert_eq!(r[0].get("id").as_deref(), Some("ABC12345"));
    assert_eq!(r[0].get("for").as_deref(), Some("<mary@example.net>"));
    assert_eq!(r[0].date.unwrap().to_rfc3339(), "1997-11-21T10:05:43-06:00");
    assert_eq!(r[1].get("from").as_deref(), Some("node.example"));
    assert_eq!(r[1].get("by").as_deref(), Some("x.y.test"));
    assert_eq!(r[1].date.unwrap().to_rfc3339(), "1997-11-21T10:01:22-06:00");
    assert_eq!(m.message_id().unwrap().as_str(), "1234@local.node.example");
}

#[test]
fn rfc5322_a_5() {
    let raw = msg(&[
        "From: Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>",
        "To:A Group(Some people)",
        "     :Chris Jones <c@(Chris's host.)public.example>,",
        "         joe@example.org,",
        "  John <jdoe@one.test> (my dear friend); (the end of the group)",
        "Cc:(Empty list)(start)Hidden recipients  :(nobody(that I know))  ;",
        "Date: Thu,",
        "      13",
        "        Feb",
        "          1969",
        "      23:32",
        "               -0330 (Newfoundland Time)",
        "Message-ID:              <testabcd.1234@silly.test>",
        "",
        "Testing.",
    ]);
    let m = Message::parse(&raw);
    assert_eq!(names_addrs(&m.from()), [s(Some("Pete"), "pete@silly.test")]);
    let to = m.to();
    let Address::Group(g) = &to.0[0] else {
        panic!("not a group")
    };
    assert_eq!(g.name, "A Group");
    assert_eq!(
        names_addrs(&to),
        [
            s(Some("Chris Jones"), "c@public.example"),
            s(None, "joe@example.org"),
            s(Some("John"), "jdoe@one.test")
        ]
    );
    let cc = m.cc();
    let Address::Group(g) = &cc.0[0] else {
        panic!("not a group")
    };
    assert_eq!(g.name, "Hidden recipients");
    assert!(g.members.is_empty());
    assert_eq!(m.date().unwrap().to_rfc3339(), "1969-02-13T23:32:00-03:30");
    assert_eq!(m.message_id().unwrap().as_str(), "testabcd.1234@silly.test");
    // Legal syntax: the only repair is the missing seconds.
    let kinds: Vec<_> = m.summary().defects.iter().map(|d| d.kind).collect();
    assert_eq!(kinds, [DefectKind::MissingSeconds]);
}

#[test]
fn rfc5322_a_6_1() {
    let raw = msg(&[
        "From: Joe Q. Public <john.q.public@example.com>",
        "To: Mary Smith <@node.test:mary@example.net>, , jdoe@test  . example",
        "Date: Tue, 1 Jul 2003 10:52:37 +0200",
        "Message-ID: <5678.21-Nov-1997@example.com>",
        "",
        "Hi everyone.",
    ]);
    let m = Message::parse(&raw);
    assert_eq!(
        names_addrs(&m.from()),
        [s(Some("Joe Q. Public"), "john.q.public@example.com")]
    );
    assert_eq!(
        names_addrs(&m.to()),
        [
            s(Some("Mary Smith"), "mary@example.net"),
            s(None, "jdoe@test.example")
        ]
    );
    let kinds: Vec<_> = m.summary().defects.iter().map(|d| d.kind).collect();
    assert!(kinds.contains(&DefectKind::ObsoleteRoute));
    assert!(kinds.contains(&DefectKind::ObsoleteSyntax));
    // The route's offset points into the To field.
    let (_, d) = parse_address_list(b" Mary Smith <@node.test:mary@example.net>");
    assert_eq!(d[0].kind, DefectKind::ObsoleteRoute);
    assert_eq!(d[0].offset, 13);
}

#[test]
fn rfc5322_a_6_2() {
    let raw = msg(&[
        "From: John Doe <jdoe@machine.example>",
        "To: Mary Smith <mary@example.net>",
        "Subject: Saying Hello",
        "Date: 21 Nov 97 09:55:06 GMT",
        "Message-ID: <1234@local.machine.example>",
        "",
        "This is a message just to say hello.",
        "So, \"Hello\".",
    ]);
    let m = Message::parse(&raw);
    let d = m.date().unwrap();
    assert_eq!(d.to_rfc3339(), "1997-11-21T09:55:06+00:00");
    assert_eq!(d.unix_timestamp(), 880106106);
    let kinds: Vec<_> = m.summary().defects.iter().map(|d| d.kind).collect();
    assert_eq!(kinds, [DefectKind::ObsoleteYear, DefectKind::ObsoleteZone]);
}

#[test]
fn rfc5322_a_6_3() {
    let raw = msg(&[
        "From  : John Doe <jdoe@machine(comment).  example>",
        "To    : Mary Smith",
        "  ",
        "          <mary@example.net>",
        "Subject     : Saying Hello",
        "Date  : Fri, 21 Nov 1997 09(comment):   55  :  06 -0600",
        "Message-ID  : <1234   @   local(blah)  .machine .example>",
        "",
        "This is a message just to say hello.",
        "So, \"Hello\".",
    ]);
    let m = Message::parse(&raw);
    assert_eq!(m.fields().len(), 5);
    assert_eq!(m.fields()[1].name(), "To");
    check_hello(&m);
    let kinds: Vec<_> = m.defects().iter().map(|d| d.kind).collect();
    assert!(
        kinds
            .iter()
            .all(|k| *k == DefectKind::WhitespaceBeforeColon)
    );
    assert_eq!(kinds.len(), 5);
    // Unmodified, the message serializes back byte for byte.
    let mut out = Vec::new();
    m.write_to(&mut out);
    assert_eq!(out, raw);
}

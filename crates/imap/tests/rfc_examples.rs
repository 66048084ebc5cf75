//! RFC 3501 and RFC 9051 examples with the parsed values asserted, named after their sections.

// Test helpers outside #[test] functions unwrap too: a failure is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::num::NonZeroU32;

use mailwire_imap::*;

fn resp(s: &'static str) -> Response<'static> {
    let wire: &'static [u8] = Box::leak(format!("{s}\r\n").into_bytes().into_boxed_slice());
    let (r, n) = parse::response(wire).unwrap_or_else(|e| panic!("{s}: {e}"));
    assert_eq!(n, wire.len());
    let again = encode::response_to_vec(&r);
    assert_eq!(parse::response(&again).unwrap().0, r, "round trip of {s}");
    r
}

fn cmd(s: &'static str) -> Command<'static> {
    let wire: &'static [u8] = Box::leak(format!("{s}\r\n").into_bytes().into_boxed_slice());
    let (c, n) = parse::command(wire).unwrap_or_else(|e| panic!("{s}: {e}"));
    assert_eq!(n, wire.len());
    let again = encode::command_to_vec(&c);
    assert_eq!(parse::command(&again).unwrap().0, c, "round trip of {s}");
    c
}

fn nz(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap()
}

fn s(v: &'static str) -> IString<'static> {
    IString::try_from(v).unwrap()
}

fn atom(v: &'static str) -> Atom<'static> {
    Atom::try_from(v).unwrap()
}

fn untagged(r: Response<'static>) -> Data<'static> {
    match r {
        Response::Data(d) => d,
        other => panic!("not data: {other:?}"),
    }
}

#[test]
fn rfc3501_6_1_1_capability() {
    let c = cmd("abcd CAPABILITY");
    assert_eq!(c.tag.as_str(), "abcd");
    assert_eq!(c.body, CommandBody::Capability);
    let d = untagged(resp(
        "* CAPABILITY IMAP4rev1 STARTTLS AUTH=GSSAPI LOGINDISABLED",
    ));
    assert_eq!(
        d,
        Data::Capability(
            Vec1::try_from(vec![
                atom("IMAP4rev1"),
                atom("STARTTLS"),
                atom("AUTH=GSSAPI"),
                atom("LOGINDISABLED")
            ])
            .unwrap()
        )
    );
    let Response::Status(st) = resp("abcd OK CAPABILITY completed") else {
        panic!()
    };
    assert_eq!(st.tag.unwrap().as_str(), "abcd");
    assert_eq!(st.kind, StatusKind::Ok);
    assert_eq!(st.text.as_bytes(), b"CAPABILITY completed");
}

#[test]
fn rfc3501_6_2_3_login() {
    assert_eq!(
        cmd("a001 LOGIN SMITH SESAME").body,
        CommandBody::Login {
            username: s("SMITH"),
            password: Secret::new(s("SESAME"))
        }
    );
}

#[test]
fn rfc3501_6_3_1_select() {
    assert_eq!(
        cmd("A142 SELECT INBOX").body,
        CommandBody::Select {
            mailbox: Mailbox::Inbox,
            params: vec![]
        }
    );
    assert_eq!(untagged(resp("* 172 EXISTS")), Data::Exists(172));
    assert_eq!(untagged(resp("* 1 RECENT")), Data::Recent(1));
    let Response::Status(st) = resp("* OK [UNSEEN 12] Message 12 is first unseen") else {
        panic!()
    };
    assert_eq!(st.code, Some(Code::Unseen(nz(12))));
    let Response::Status(st) = resp("* OK [UIDVALIDITY 3857529045] UIDs valid") else {
        panic!()
    };
    assert_eq!(st.code, Some(Code::UidValidity(nz(3857529045))));
    let Response::Status(st) = resp("* OK [UIDNEXT 4392] Predicted next UID") else {
        panic!()
    };
    assert_eq!(st.code, Some(Code::UidNext(nz(4392))));
    assert_eq!(
        untagged(resp(
            "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)"
        )),
        Data::Flags(vec![
            Flag::Answered,
            Flag::Flagged,
            Flag::Deleted,
            Flag::Seen,
            Flag::Draft
        ])
    );
    let Response::Status(st) = resp("* OK [PERMANENTFLAGS (\\Deleted \\Seen \\*)] Limited") else {
        panic!()
    };
    assert_eq!(
        st.code,
        Some(Code::PermanentFlags(vec![
            Flag::Deleted,
            Flag::Seen,
            Flag::Wildcard
        ]))
    );
    let Response::Status(st) = resp("A142 OK [READ-WRITE] SELECT completed") else {
        panic!()
    };
    assert_eq!(st.code, Some(Code::ReadWrite));
}

#[test]
fn rfc3501_6_3_8_list() {
    let c = cmd("A101 LIST \"\" \"\"");
    let CommandBody::List {
        reference,
        patterns,
        ..
    } = c.body
    else {
        panic!()
    };
    assert_eq!(reference, Mailbox::Other(s("")));
    assert_eq!(patterns, Vec1::one(s("")));
    let Data::List(l) = untagged(resp("* LIST (\\Noselect) \"/\" \"\"")) else {
        panic!()
    };
    assert_eq!(l.attributes, vec![atom("Noselect")]);
    assert_eq!(l.delimiter, Some(b'/'));
    let Data::List(l) = untagged(resp("* LIST (\\Noselect) \".\" #news.")) else {
        panic!()
    };
    assert_eq!(l.mailbox, Mailbox::Other(s("#news.")));
    let CommandBody::List { patterns, .. } = cmd("A202 LIST ~/Mail/ %").body else {
        panic!()
    };
    assert_eq!(patterns, Vec1::one(s("%")));
}

#[test]
fn rfc3501_6_3_10_status() {
    let c = cmd("A042 STATUS blurdybloop (UIDNEXT MESSAGES)");
    assert_eq!(
        c.body,
        CommandBody::Status {
            mailbox: Mailbox::Other(s("blurdybloop")),
            items: vec![StatusAttr::UidNext, StatusAttr::Messages]
        }
    );
    assert_eq!(
        untagged(resp("* STATUS blurdybloop (MESSAGES 231 UIDNEXT 44292)")),
        Data::Status {
            mailbox: Mailbox::Other(s("blurdybloop")),
            items: vec![
                StatusItem::Number(StatusAttr::Messages, Some(231)),
                StatusItem::Number(StatusAttr::UidNext, Some(44292))
            ]
        }
    );
}

#[test]
fn rfc3501_6_3_11_append() {
    let message = "Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)\r\n\
From: Fred Foobar <foobar@Blurdybloop.COM>\r\n\
Subject: afternoon meeting\r\n\
To: mooch@owatagu.siam.edu\r\n\
Message-Id: <B27397-0100000@Blurdybloop.COM>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n\
\r\n\
Hello Joe, do you think we can meet at 3:30 tomorrow?\r\n";
    let wire = format!(
        "A003 APPEND saved-messages (\\Seen) {{{}}}\r\n{message}\r\n",
        message.len()
    );
    // Through the fragmenter: the server sees the announcement first.
    let mut f = Fragmenter::new(FragmentOptions::default());
    f.push(wire.as_bytes());
    assert_eq!(
        f.poll().unwrap(),
        Some(Frame::LiteralAnnounced {
            length: message.len() as u64,
            mode: LiteralMode::Sync,
            binary: false
        })
    );
    let Some(Frame::Message(m)) = f.poll().unwrap() else {
        panic!()
    };
    let (c, _) = parse::command(&m).unwrap();
    let CommandBody::Append { mailbox, messages } = &c.body else {
        panic!()
    };
    assert_eq!(*mailbox, Mailbox::Other(s("saved-messages")));
    assert_eq!(messages[0].flags, vec![Flag::Seen]);
    assert_eq!(&messages[0].message.0[..], message.as_bytes());
    // The encoder pauses after the literal announcement.
    let e = encode::command(&c, encode::EncodeOptions::default());
    assert_eq!(e.waits(), 1);
    let parts: Vec<&[u8]> = e.fragments().collect();
    assert!(
        parts[0].ends_with(b"{310}\r\n"),
        "{:?}",
        String::from_utf8_lossy(parts[0])
    );
    assert_eq!(e.as_bytes(), wire.as_bytes());
    let Response::Continue(_) = resp("+ Ready for literal data") else {
        panic!()
    };
}

#[test]
fn rfc3501_6_4_4_search() {
    let c = cmd("A282 SEARCH FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"");
    let CommandBody::Search {
        criteria,
        charset,
        uid,
        ..
    } = c.body
    else {
        panic!()
    };
    assert!(!uid);
    assert_eq!(charset, None);
    assert_eq!(
        criteria,
        vec![
            SearchKey::Flagged,
            SearchKey::Since(Date::new(1994, 2, 1).unwrap()),
            SearchKey::Not(Box::new(SearchKey::From(s("Smith"))))
        ]
    );
    assert_eq!(
        untagged(resp("* SEARCH 2 84 882")),
        Data::Search {
            numbers: vec![2, 84, 882],
            modseq: None
        }
    );
    assert_eq!(
        untagged(resp("* SEARCH")),
        Data::Search {
            numbers: vec![],
            modseq: None
        }
    );
    let c = cmd("A285 SEARCH CHARSET UTF-8 TEXT {6}\r\nXXXXXX");
    let CommandBody::Search {
        charset, criteria, ..
    } = c.body
    else {
        panic!()
    };
    assert_eq!(charset, Some(s("UTF-8")));
    assert_eq!(criteria, vec![SearchKey::Text(s("XXXXXX"))]);
    let c = cmd("a SEARCH OR (UID 1:5 DELETED) NOT (HEADER X-Foo bar LARGER 100) 2,4:*");
    let CommandBody::Search { criteria, .. } = c.body else {
        panic!()
    };
    assert_eq!(criteria.len(), 2);
    assert!(
        matches!(&criteria[0], SearchKey::Or(a, _) if matches!(**a, SearchKey::And(ref v) if v.len() == 2))
    );
}

#[test]
fn rfc3501_6_4_5_fetch() {
    let c = cmd("A654 FETCH 2:4 (FLAGS BODY[HEADER.FIELDS (DATE FROM)])");
    let CommandBody::Fetch { set, attrs, .. } = c.body else {
        panic!()
    };
    assert_eq!(set, SequenceSet::range(2, 4).unwrap());
    assert_eq!(
        attrs,
        FetchAttrs::List(vec![
            FetchAttr::Flags,
            FetchAttr::BodySection {
                peek: false,
                section: Section {
                    part: vec![],
                    text: Some(SectionText::HeaderFields(vec![s("DATE"), s("FROM")]))
                },
                partial: None
            }
        ])
    );
    let c =
        cmd("a1 FETCH 1 (BODY.PEEK[1.2.MIME]<0.2048> BINARY.PEEK[1]<0.10> BINARY.SIZE[2] MODSEQ)");
    let CommandBody::Fetch {
        attrs: FetchAttrs::List(l),
        ..
    } = c.body
    else {
        panic!()
    };
    assert_eq!(
        l[0],
        FetchAttr::BodySection {
            peek: true,
            section: Section {
                part: vec![nz(1), nz(2)],
                text: Some(SectionText::Mime)
            },
            partial: Some(Partial {
                origin: 0,
                length: nz(2048)
            })
        }
    );
    assert_eq!(l[3], FetchAttr::ModSeq);
    assert_eq!(
        cmd("a FETCH 1:* ALL").body,
        CommandBody::Fetch {
            uid: false,
            set: SequenceSet::all(),
            attrs: FetchAttrs::All,
            modifiers: vec![]
        }
    );
}

#[test]
fn rfc3501_6_4_6_store() {
    let c = cmd("A003 STORE 2:4 +FLAGS (\\Deleted)");
    assert_eq!(
        c.body,
        CommandBody::Store {
            uid: false,
            set: SequenceSet::range(2, 4).unwrap(),
            unchanged_since: None,
            kind: StoreKind::Add,
            silent: false,
            flags: vec![Flag::Deleted]
        }
    );
    assert_eq!(
        untagged(resp("* 4 FETCH (FLAGS (\\Deleted \\Flagged \\Seen))")),
        Data::Fetch {
            seq: nz(4),
            items: vec![FetchItem::Flags(vec![
                Flag::Deleted,
                Flag::Flagged,
                Flag::Seen
            ])]
        }
    );
}

#[test]
fn rfc3501_6_4_8_uid() {
    let c = cmd("A999 UID FETCH 4827313:4828442 FLAGS");
    assert_eq!(c.body.name(), "UID FETCH");
    assert_eq!(
        untagged(resp("* 23 FETCH (FLAGS (\\Seen) UID 4827313)")),
        Data::Fetch {
            seq: nz(23),
            items: vec![
                FetchItem::Flags(vec![Flag::Seen]),
                FetchItem::Uid(nz(4827313))
            ]
        }
    );
}

#[test]
fn rfc3501_7_1_status_responses() {
    let Response::Status(st) = resp("* OK IMAP4rev1 server ready") else {
        panic!()
    };
    assert_eq!((st.tag, st.kind, st.code), (None, StatusKind::Ok, None));
    let Response::Status(st) = resp("* OK [ALERT] System shutdown in 10 minutes") else {
        panic!()
    };
    assert_eq!(st.code, Some(Code::Alert));
    let Response::Status(st) = resp("* NO Disk is 98% full, please delete unnecessary data") else {
        panic!()
    };
    assert_eq!(st.kind, StatusKind::No);
    let Response::Status(st) = resp("* BAD Command line too long") else {
        panic!()
    };
    assert_eq!(st.kind, StatusKind::Bad);
    let Response::Status(st) = resp("* PREAUTH IMAP4rev1 server logged in as Smith") else {
        panic!()
    };
    assert_eq!(st.kind, StatusKind::PreAuth);
    let Response::Status(st) = resp("* BYE Autologout; idle for too long") else {
        panic!()
    };
    assert_eq!(st.kind, StatusKind::Bye);
    // Not a response code: no SP after the bracket.
    let Response::Status(st) = resp("A1 OK [Gmail]/Sent Mail selected") else {
        panic!()
    };
    assert_eq!(st.code, None);
    assert_eq!(st.text.as_bytes(), b"[Gmail]/Sent Mail selected");
}

#[test]
fn rfc3501_7_4_2_fetch_envelope_body() {
    let d = untagged(resp(
        "* 12 FETCH (FLAGS (\\Seen) INTERNALDATE \"17-Jul-1996 02:44:25 -0700\" RFC822.SIZE 4286 ENVELOPE (\"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\" \"IMAP4rev1 WG mtg summary and minutes\" ((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) ((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) ((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) ((NIL NIL \"imap\" \"cac.washington.edu\")) ((NIL NIL \"minutes\" \"CNRI.Reston.VA.US\")(\"John Klensin\" NIL \"KLENSIN\" \"MIT.EDU\")) NIL NIL \"<B27397-0100000@cac.washington.edu>\") BODY (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 3028 92))",
    ));
    let Data::Fetch { seq, items } = d else {
        panic!()
    };
    assert_eq!(seq, nz(12));
    assert_eq!(items.len(), 5);
    let FetchItem::InternalDate(dt) = &items[1] else {
        panic!()
    };
    assert_eq!(
        *dt,
        DateTime::new(Date::new(1996, 7, 17).unwrap(), 2, 44, 25, -420).unwrap()
    );
    assert_eq!(items[2], FetchItem::Rfc822Size(4286));
    let FetchItem::Envelope(env) = &items[3] else {
        panic!()
    };
    assert_eq!(env.subject, Some(s("IMAP4rev1 WG mtg summary and minutes")));
    assert_eq!(env.cc.len(), 2);
    assert_eq!(env.cc[1].name, Some(s("John Klensin")));
    assert_eq!(env.bcc, vec![]);
    assert_eq!(
        env.message_id,
        Some(s("<B27397-0100000@cac.washington.edu>"))
    );
    let FetchItem::Body(b) = &items[4] else {
        panic!()
    };
    assert_eq!(
        **b,
        BodyStructure::Single {
            fields: BasicFields {
                params: vec![(s("CHARSET"), s("US-ASCII"))],
                id: None,
                description: None,
                encoding: Some(s("7BIT")),
                size: 3028
            },
            specific: SpecificFields::Text {
                subtype: s("PLAIN"),
                lines: 92
            },
            extension: None
        }
    );
}

#[test]
fn rfc3501_7_4_2_bodystructure_multipart_extension() {
    let d = untagged(resp(
        "* 1 FETCH (BODYSTRUCTURE ((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 1152 23 NIL NIL NIL)(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\" \"NAME\" \"cc.diff\") \"<960723163407.20117h@cac.washington.edu>\" \"Compiler diff\" \"BASE64\" 4554 73 NIL (\"attachment\" (\"filename\" \"cc.diff\")) \"en\") \"MIXED\" (\"boundary\" \"x\") NIL (\"en\" \"de\") \"http://example.com\" 1 (2 \"x\")))",
    ));
    let Data::Fetch { items, .. } = d else {
        panic!()
    };
    let FetchItem::BodyStructure(b) = &items[0] else {
        panic!()
    };
    let BodyStructure::Multi {
        bodies,
        subtype,
        extension,
    } = &**b
    else {
        panic!()
    };
    assert_eq!(bodies.len(), 2);
    assert_eq!(*subtype, s("MIXED"));
    let ext = extension.as_ref().unwrap();
    assert_eq!(ext.params, vec![(s("boundary"), s("x"))]);
    assert_eq!(ext.data.language, vec![s("en"), s("de")]);
    assert_eq!(ext.data.location, Some(s("http://example.com")));
    assert_eq!(
        ext.data.extensions,
        vec![
            BodyExtension::Number(1),
            BodyExtension::List(Vec1::new(
                BodyExtension::Number(2),
                vec![BodyExtension::NString(Some(s("x")))]
            ))
        ]
    );
    let BodyStructure::Single {
        extension: Some(x), ..
    } = &bodies[1]
    else {
        panic!()
    };
    assert_eq!(x.data.disposition.as_ref().unwrap().kind, s("attachment"));
    assert_eq!(x.data.language, vec![s("en")]);
}

#[test]
fn rfc3501_7_4_2_nested_message_rfc822() {
    let d = untagged(resp(
        "* 3 FETCH (BODY (\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 500 (NIL \"inner\" NIL NIL NIL NIL NIL NIL NIL NIL) (\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 10 1) 20))",
    ));
    let Data::Fetch { items, .. } = d else {
        panic!()
    };
    let FetchItem::Body(b) = &items[0] else {
        panic!()
    };
    let BodyStructure::Single {
        specific:
            SpecificFields::Message {
                envelope,
                body,
                lines,
                ..
            },
        ..
    } = &**b
    else {
        panic!()
    };
    assert_eq!(envelope.subject, Some(s("inner")));
    assert_eq!(*lines, 20);
    assert!(matches!(
        **body,
        BodyStructure::Single {
            specific: SpecificFields::Text { lines: 1, .. },
            ..
        }
    ));
}

#[test]
fn rfc3501_8_sample_fetch_body_header_literal() {
    let header = "Date: Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\r\n\
From: Terry Gray <gray@cac.washington.edu>\r\n\
Subject: IMAP4rev1 WG mtg summary and minutes\r\n\
To: imap@cac.washington.edu\r\n\
cc: minutes@CNRI.Reston.VA.US, John Klensin <KLENSIN@MIT.EDU>\r\n\
Message-Id: <B27397-0100000@cac.washington.edu>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n\r\n";
    assert_eq!(header.len(), 342, "the RFC's count");
    let wire =
        format!("* 12 FETCH (BODY[HEADER] {{342}}\r\n{header})\r\na004 OK FETCH completed\r\n");
    let mut f = Fragmenter::new(FragmentOptions::default());
    f.push(wire.as_bytes());
    assert!(matches!(
        f.poll().unwrap(),
        Some(Frame::LiteralAnnounced { length: 342, .. })
    ));
    let Some(Frame::Message(m)) = f.poll().unwrap() else {
        panic!()
    };
    let (r, _) = parse::response(&m).unwrap();
    let Response::Data(Data::Fetch { items, .. }) = r else {
        panic!()
    };
    let FetchItem::BodySection {
        section,
        origin,
        data,
    } = &items[0]
    else {
        panic!()
    };
    assert_eq!(section.text, Some(SectionText::Header));
    assert_eq!(*origin, None);
    assert_eq!(data.as_ref().unwrap().as_bytes(), header.as_bytes());
    let Some(Frame::Message(m)) = f.poll().unwrap() else {
        panic!()
    };
    assert!(matches!(
        parse::response(&m).unwrap().0,
        Response::Status(StatusResponse {
            kind: StatusKind::Ok,
            ..
        })
    ));
    assert_eq!(
        cmd("a003 fetch 12 full").body,
        CommandBody::Fetch {
            uid: false,
            set: SequenceSet::single(12).unwrap(),
            attrs: FetchAttrs::Full,
            modifiers: vec![]
        }
    );
    assert_eq!(
        cmd("a005 store 12 +flags \\deleted").body,
        CommandBody::Store {
            uid: false,
            set: SequenceSet::single(12).unwrap(),
            unchanged_since: None,
            kind: StoreKind::Add,
            silent: false,
            flags: vec![Flag::Deleted]
        }
    );
}

#[test]
fn rfc9051_6_3_2_enable() {
    assert_eq!(
        cmd("t2 ENABLE CONDSTORE X-GOOD-IDEA").body,
        CommandBody::Enable(Vec1::new(atom("CONDSTORE"), vec![atom("X-GOOD-IDEA")]))
    );
    assert_eq!(
        untagged(resp("* ENABLED X-GOOD-IDEA")),
        Data::Enabled(vec![atom("X-GOOD-IDEA")])
    );
}

#[test]
fn rfc9051_6_4_4_esearch() {
    let c = cmd("A282 SEARCH RETURN (MIN COUNT) FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"");
    let CommandBody::Search { return_opts, .. } = c.body else {
        panic!()
    };
    assert_eq!(
        return_opts,
        Some(vec![SearchReturn::Min, SearchReturn::Count])
    );
    assert_eq!(
        untagged(resp("* ESEARCH (TAG \"A282\") MIN 2 COUNT 3")),
        Data::ESearch {
            tag: Some(s("A282")),
            uid: false,
            items: vec![ESearchItem::Min(2), ESearchItem::Count(3)]
        }
    );
    assert_eq!(
        untagged(resp("* ESEARCH (TAG \"A283\") UID ALL 3:15,27,29:103")),
        Data::ESearch {
            tag: Some(s("A283")),
            uid: true,
            items: vec![ESearchItem::All(SequenceSet::Set(
                Vec1::try_from(vec![
                    SeqRange::Range(SeqNum::Value(nz(3)), SeqNum::Value(nz(15))),
                    SeqRange::Single(SeqNum::Value(nz(27))),
                    SeqRange::Range(SeqNum::Value(nz(29)), SeqNum::Value(nz(103))),
                ])
                .unwrap()
            ))]
        }
    );
}

#[test]
fn rfc9051_7_1_response_codes() {
    let cases: Vec<(&'static str, Code<'static>)> = vec![
        (
            "a NO [ALREADYEXISTS] Mailbox \"that\" already exists",
            Code::Simple(atom("ALREADYEXISTS")),
        ),
        (
            "a OK [APPENDUID 38505 3955] APPEND completed",
            Code::AppendUid {
                uidvalidity: nz(38505),
                uids: SequenceSet::single(3955).unwrap(),
            },
        ),
        (
            "a OK [COPYUID 38505 304,319:320 3956:3958] Done",
            Code::CopyUid {
                uidvalidity: nz(38505),
                source: SequenceSet::Set(
                    Vec1::try_from(vec![
                        SeqRange::Single(SeqNum::Value(nz(304))),
                        SeqRange::Range(SeqNum::Value(nz(319)), SeqNum::Value(nz(320))),
                    ])
                    .unwrap(),
                ),
                destination: SequenceSet::range(3956, 3958).unwrap(),
            },
        ),
        (
            "* OK [HIGHESTMODSEQ 715194045007] Highest",
            Code::HighestModSeq(715194045007),
        ),
        (
            "a OK [MODIFIED 7,9] Conditional STORE failed",
            Code::Modified(SequenceSet::Set(
                Vec1::try_from(vec![
                    SeqRange::Single(SeqNum::Value(nz(7))),
                    SeqRange::Single(SeqNum::Value(nz(9))),
                ])
                .unwrap(),
            )),
        ),
        ("* OK [CLOSED] Previous mailbox is now closed", Code::Closed),
        (
            "a NO [BADCHARSET (UTF-8 US-ASCII)] bad",
            Code::BadCharset(vec![s("UTF-8"), s("US-ASCII")]),
        ),
        ("a NO [METADATA TOOMANY] too many", Code::MetadataTooMany),
        (
            "a NO [REFERRAL IMAP://user;AUTH=*@SERVER2/] Remote",
            Code::Other(
                atom("REFERRAL"),
                Text::try_from("IMAP://user;AUTH=*@SERVER2/").unwrap(),
            ),
        ),
        (
            "* OK [CAPABILITY IMAP4rev2 IDLE] ready",
            Code::Capability(Vec1::try_from(vec![atom("IMAP4rev2"), atom("IDLE")]).unwrap()),
        ),
    ];
    for (line, code) in cases {
        let Response::Status(st) = resp(line) else {
            panic!("{line}")
        };
        assert_eq!(st.code, Some(code), "{line}");
    }
}

#[test]
fn rfc9051_7_2_namespace_and_id() {
    let Data::Namespace {
        personal,
        other,
        shared,
    } = untagged(resp(
        "* NAMESPACE ((\"\" \"/\")) ((\"~\" \"/\")) ((\"#shared/\" \"/\")(\"#public/\" \"/\")(\"#ftp/\" \"/\")(\"#news.\" \".\"))",
    ))
    else {
        panic!()
    };
    assert_eq!(personal.len(), 1);
    assert_eq!(other[0].prefix, s("~"));
    assert_eq!(shared.len(), 4);
    assert_eq!(shared[3].delimiter, Some(b'.'));
    assert_eq!(
        untagged(resp(
            "* ID (\"name\" \"Cyrus\" \"version\" \"1.5\" \"os\" NIL)"
        )),
        Data::Id(Some(vec![
            (s("name"), Some(s("Cyrus"))),
            (s("version"), Some(s("1.5"))),
            (s("os"), None)
        ]))
    );
    assert_eq!(cmd("a023 ID NIL").body, CommandBody::Id(None));
}

#[test]
fn rfc9051_7_5_vanished_and_modseq() {
    assert_eq!(
        untagged(resp("* VANISHED (EARLIER) 41,43:116,118")),
        Data::Vanished {
            earlier: true,
            uids: SequenceSet::Set(
                Vec1::try_from(vec![
                    SeqRange::Single(SeqNum::Value(nz(41))),
                    SeqRange::Range(SeqNum::Value(nz(43)), SeqNum::Value(nz(116))),
                    SeqRange::Single(SeqNum::Value(nz(118))),
                ])
                .unwrap()
            )
        }
    );
    assert_eq!(
        untagged(resp("* 1 FETCH (UID 4 MODSEQ (12121231000))")),
        Data::Fetch {
            seq: nz(1),
            items: vec![FetchItem::Uid(nz(4)), FetchItem::ModSeq(12121231000)]
        }
    );
    let c = cmd("A03 UID FETCH 1:* (FLAGS) (CHANGEDSINCE 12345 VANISHED)");
    let CommandBody::Fetch { modifiers, .. } = c.body else {
        panic!()
    };
    assert_eq!(
        modifiers,
        vec![FetchModifier::ChangedSince(12345), FetchModifier::Vanished]
    );
    let c = cmd("A02 SELECT INBOX (QRESYNC (67890007 20050715194045000 41,43:211,214:541))");
    let CommandBody::Select { params, .. } = c.body else {
        panic!()
    };
    assert!(matches!(
        &params[0],
        SelectParam::QResync {
            uidvalidity: 67890007,
            modseq: 20050715194045000,
            known_uids: Some(_),
            seq_match: None
        }
    ));
}

#[test]
fn rfc5256_sort_and_thread() {
    let c = cmd("A283 SORT (SUBJECT REVERSE DATE) UTF-8 ALL");
    let CommandBody::Sort { criteria, .. } = c.body else {
        panic!()
    };
    assert_eq!(
        criteria[1],
        SortCriterion {
            reverse: true,
            key: SortKey::Date
        }
    );
    assert_eq!(
        untagged(resp("* SORT 2 84 882")),
        Data::Sort {
            numbers: vec![2, 84, 882],
            modseq: None
        }
    );
    let Data::Thread(t) = untagged(resp(
        "* THREAD (166)(167)(168)(169)(172)(170)(171)(173)(174 (175)(176)(178)(181)(180))(179)(177 (183)(182)(188)(184)(185)(186)(187)(189))",
    )) else {
        panic!()
    };
    assert_eq!(t.len(), 11);
    assert_eq!(t[8].chain, vec![174]);
    assert_eq!(t[8].children.len(), 5);
    let c = cmd("A284 THREAD REFERENCES UTF-8 SINCE 5-MAR-2000");
    assert!(matches!(
        c.body,
        CommandBody::Thread {
            algorithm: ThreadAlgorithm::References,
            ..
        }
    ));
}

#[test]
fn extensions_quota_metadata_idle_literal_plus() {
    assert_eq!(
        untagged(resp("* QUOTA \"\" (STORAGE 10 512)")),
        Data::Quota {
            root: s(""),
            resources: vec![(atom("STORAGE"), 10, 512)]
        }
    );
    assert_eq!(
        untagged(resp(
            "* METADATA \"INBOX\" (/private/comment \"My comment\")"
        )),
        Data::Metadata {
            mailbox: Mailbox::Inbox,
            entries: vec![(s("/private/comment"), Some(s("My comment")))]
        }
    );
    let c =
        cmd("a GETMETADATA (MAXSIZE 1024 DEPTH infinity) INBOX (/shared/comment /private/comment)");
    assert!(matches!(
        c.body,
        CommandBody::GetMetadata {
            options: MetadataOptions {
                max_size: Some(1024),
                depth: Some(u32::MAX)
            },
            ..
        }
    ));
    assert_eq!(cmd("a IDLE").body, CommandBody::Idle);
    assert_eq!(parse::idle_done(b"DONE\r\n").unwrap(), 6);
    let c = cmd("a LOGIN {4+}\r\nfred {2+}\r\npw");
    assert_eq!(
        c.body,
        CommandBody::Login {
            username: s("fred"),
            password: Secret::new(s("pw"))
        }
    );
    let c = cmd("a MOVE 1:3 Trash");
    assert!(matches!(c.body, CommandBody::Move { uid: false, .. }));
    let c = cmd("a AUTHENTICATE PLAIN dGVzdAB0ZXN0AHRlc3Q=");
    assert!(matches!(
        c.body,
        CommandBody::Authenticate {
            initial_response: Some(_),
            ..
        }
    ));
    assert_eq!(parse::authenticate_data(b"*\r\n").unwrap(), (None, 3));
    let (data, n) = parse::authenticate_data(b"dGVzdAB0ZXN0AHRlc3Q=\r\n").unwrap();
    assert_eq!(n, 22);
    let data = data.unwrap();
    assert_eq!(*data.expose(), b"dGVzdAB0ZXN0AHRlc3Q=");
    assert!(!format!("{data:?}").contains("dGVzd"));
    // literal8 in APPEND and in a FETCH BINARY response
    let c = cmd("a APPEND INBOX ~{3}\r\na\0b");
    let CommandBody::Append { messages, .. } = &c.body else {
        panic!()
    };
    assert_eq!(&messages[0].message.0[..], b"a\0b");
    let Data::Fetch { items, .. } =
        untagged(resp("* 1 FETCH (BINARY[1] ~{3}\r\nx\0y BINARY.SIZE[1] 3)"))
    else {
        panic!()
    };
    assert!(matches!(&items[0], FetchItem::Binary { data: Some(b), .. } if &b.0[..] == b"x\0y"));
}

#[test]
fn invalid_values_are_refused() {
    assert!(Atom::try_from("a b").is_err());
    assert!(Atom::try_from("").is_err());
    assert!(Tag::try_from("a+b").is_err());
    assert!(Text::try_from("x\r\ny").is_err());
    assert!(IString::try_from("a\0").is_err());
    let e = Atom::try_from("ab(").unwrap_err();
    assert_eq!(
        e,
        ValidationError::InvalidByte {
            what: "atom",
            byte: b'(',
            index: 2
        }
    );
    // CR/LF in a string go out as a literal, never raw in a quoted string.
    let c = Command {
        tag: Tag::try_from("a").unwrap(),
        body: CommandBody::Login {
            username: s("x\r\ny"),
            password: Secret::new(s("p w")),
        },
    };
    let e = encode::command(&c, encode::EncodeOptions::default());
    assert_eq!(e.as_bytes(), b"a LOGIN {4}\r\nx\r\ny \"p w\"\r\n");
    assert_eq!(e.waits(), 1);
}

#[test]
fn utf7_mailbox_names() {
    let m = Mailbox::from_utf8_name("Entwürfe");
    assert_eq!(m.as_bytes(), b"Entw&APw-rfe");
    assert_eq!(m.to_utf8_name().as_deref(), Some("Entwürfe"));
    let Data::List(l) = untagged(resp("* LIST () \"/\" \"Entw&APw-rfe\"")) else {
        panic!()
    };
    assert_eq!(l.mailbox.to_utf8_name().as_deref(), Some("Entwürfe"));
}

#[test]
fn text_cannot_end_like_a_literal() {
    assert!(Text::try_from("!{0}").is_err());
    assert!(Text::try_from("see {12+}").is_err());
    assert!(Text::try_from("{x}").is_ok());
    assert!(parse::response(b"* OK foo {3}\r\n").is_err());
}

#[test]
fn fuzz_regressions() {
    // An unknown response with two literal-looking line ends once looped forever.
    let input = b"* ES*uz+)z{4+}\r\n2uuuz+%\0\0\0+}\r\no\0\x02\xff\xff";
    let _ = parse::response(input);
    let (r, n) = parse::response(b"* XFOO a {3}\r\nb{c d\r\n").unwrap();
    assert_eq!(n, 21);
    assert!(matches!(r, Response::Data(Data::Other { .. })));
}

/// RFC 4978 §3's example: COMPRESS after STARTTLS, and the NO a server
/// gives when a lower layer compresses already.
#[test]
fn rfc4978_3_compress() {
    assert_eq!(
        cmd("b compress deflate").body,
        CommandBody::Compress {
            algorithm: atom("deflate")
        }
    );
    assert_eq!(
        encode::command_to_vec(&cmd("b COMPRESS DEFLATE")),
        b"b COMPRESS DEFLATE\r\n"
    );
    let Response::Status(s) = resp("b NO [COMPRESSIONACTIVE] DEFLATE active via TLS") else {
        panic!("not a status")
    };
    assert_eq!(s.code, Some(Code::Simple(atom("COMPRESSIONACTIVE"))));
    assert!(parse::command(b"b COMPRESS\r\n").is_err());
}

/// RFC 8970 §4's examples: PREVIEW and PREVIEW (LAZY) asked, a preview
/// and NIL answered.
#[test]
fn rfc8970_4_preview() {
    let c = cmd("A1 FETCH 1 (PREVIEW)");
    let CommandBody::Fetch { attrs, .. } = c.body else {
        panic!("not a FETCH")
    };
    assert_eq!(
        attrs,
        FetchAttrs::List(vec![FetchAttr::Preview { lazy: false }])
    );
    let c = cmd("A2 FETCH 1 (PREVIEW (LAZY))");
    let CommandBody::Fetch { attrs, .. } = c.body else {
        panic!("not a FETCH")
    };
    assert_eq!(
        attrs,
        FetchAttrs::List(vec![FetchAttr::Preview { lazy: true }])
    );
    assert!(parse::command(b"A3 FETCH 1 (PREVIEW (FUZZY))\r\n").is_err());
    // A bare PREVIEW and then the command's fetch modifiers: the list is
    // the modifiers', not PREVIEW's (RFC 8970 §7 with RFC 7162 §3.1.4);
    // written back, the attribute goes in parentheses, which nothing
    // can read the other way.
    for (wire, lazy) in [
        ("A4 FETCH 1 PREVIEW (CHANGEDSINCE 5)", false),
        ("A5 FETCH 1 PREVIEW (LAZY) (CHANGEDSINCE 5)", true),
    ] {
        let c = cmd(wire);
        let CommandBody::Fetch {
            ref attrs,
            ref modifiers,
            ..
        } = c.body
        else {
            panic!("not a FETCH")
        };
        assert_eq!(*attrs, FetchAttrs::List(vec![FetchAttr::Preview { lazy }]));
        assert_eq!(*modifiers, vec![FetchModifier::ChangedSince(5)]);
        let again = String::from_utf8(encode::command_to_vec(&c)).unwrap();
        assert!(
            again.contains(if lazy {
                "PREVIEW (LAZY) (CHANGEDSINCE 5)"
            } else {
                "(PREVIEW) (CHANGEDSINCE 5)"
            }),
            "{again}"
        );
    }
    assert_eq!(
        untagged(resp("* 1 FETCH (PREVIEW \"Preview text!\")")),
        Data::Fetch {
            seq: nz(1),
            items: vec![FetchItem::Preview(Some(s("Preview text!")))]
        }
    );
    assert_eq!(
        untagged(resp("* 1 FETCH (PREVIEW NIL)")),
        Data::Fetch {
            seq: nz(1),
            items: vec![FetchItem::Preview(None)]
        }
    );
}

/// RFC 9394 §3.1: PARTIAL from the start and from the end, and an answer
/// with matches and one without (NIL).
#[test]
fn rfc9394_3_1_partial() {
    let range = |from_end, first, last| PartialRange {
        from_end,
        first: nz(first),
        last: nz(last),
    };
    for (line, r) in [
        (
            "A01 UID SEARCH RETURN (PARTIAL 1:500) UNDELETED",
            range(false, 1, 500),
        ),
        (
            "A02 UID SEARCH RETURN (PARTIAL -1:-100) UNDELETED",
            range(true, 1, 100),
        ),
    ] {
        let CommandBody::Search { return_opts, .. } = cmd(line).body else {
            panic!("not a SEARCH")
        };
        assert_eq!(return_opts, Some(vec![SearchReturn::Partial(r)]));
    }
    assert!(parse::command(b"A03 SEARCH RETURN (PARTIAL -1:100) ALL\r\n").is_err());
    assert!(parse::command(b"A03 SEARCH RETURN (PARTIAL 0:100) ALL\r\n").is_err());
    assert_eq!(
        untagged(resp(
            "* ESEARCH (TAG \"A01\") UID PARTIAL (1:500 23764:24000,24003:24006)"
        )),
        Data::ESearch {
            tag: Some(s("A01")),
            uid: true,
            items: vec![ESearchItem::Partial {
                range: range(false, 1, 500),
                set: Some(SequenceSet::Set(
                    Vec1::try_from(vec![
                        SeqRange::Range(SeqNum::Value(nz(23764)), SeqNum::Value(nz(24000))),
                        SeqRange::Range(SeqNum::Value(nz(24003)), SeqNum::Value(nz(24006))),
                    ])
                    .unwrap()
                ))
            }]
        }
    );
    assert_eq!(
        untagged(resp("* ESEARCH (TAG \"A04\") UID PARTIAL (-1:-100 NIL)")),
        Data::ESearch {
            tag: Some(s("A04")),
            uid: true,
            items: vec![ESearchItem::Partial {
                range: range(true, 1, 100),
                set: None
            }]
        }
    );
}

/// The command `s` written back byte for byte.
fn cmd_exact(s: &'static str) -> Command<'static> {
    let c = cmd(s);
    assert_eq!(
        String::from_utf8(encode::command_to_vec(&c)).unwrap(),
        format!("{s}\r\n")
    );
    c
}

fn search_keys(c: Command<'static>) -> Vec<SearchKey<'static>> {
    let CommandBody::Search {
        uid: false,
        return_opts: None,
        charset: None,
        criteria,
    } = c.body
    else {
        panic!("not a plain SEARCH: {c:?}")
    };
    criteria.into_iter().collect()
}

/// RFC 8514 §4.2's example: `FETCH 998 (SAVEDATE)` and its answer. Both
/// lines come back in the encoder's canonical form, which the grammar
/// gives as well and which reads back to the same value: one attribute
/// goes without parentheses (as for every attribute but a bare PREVIEW),
/// and the answer's `date-day-fixed`, `01` in the RFC, is written in its
/// `SP DIGIT` form (` 1`), as for every date-time (INTERNALDATE too).
#[test]
fn rfc8514_4_2_fetch_savedate() {
    let c = cmd("A101 FETCH 998 (SAVEDATE)");
    assert_eq!(encode::command_to_vec(&c), b"A101 FETCH 998 SAVEDATE\r\n");
    let CommandBody::Fetch { set, attrs, .. } = c.body else {
        panic!("not a FETCH")
    };
    assert_eq!(
        set,
        SequenceSet::Set(Vec1::one(SeqRange::Single(SeqNum::Value(nz(998)))))
    );
    assert_eq!(attrs, FetchAttrs::List(vec![FetchAttr::SaveDate]));
    let when = DateTime::new(Date::new(2015, 1, 1).unwrap(), 18, 50, 53, 60).unwrap();
    let r = resp("* 998 FETCH (SAVEDATE \"01-Jan-2015 18:50:53 +0100\")");
    assert_eq!(
        encode::response_to_vec(&r),
        b"* 998 FETCH (SAVEDATE \" 1-Jan-2015 18:50:53 +0100\")\r\n"
    );
    assert_eq!(
        untagged(r),
        Data::Fetch {
            seq: nz(998),
            items: vec![FetchItem::SaveDate(Some(when))]
        }
    );
    // A save date on day 10 or later has one form only: byte for byte.
    let wire = "* 998 FETCH (SAVEDATE \"28-Dec-2014 23:59:59 -0800\")";
    let r = resp(wire);
    assert_eq!(
        encode::response_to_vec(&r),
        format!("{wire}\r\n").as_bytes()
    );
    // The name and NIL in any case (RFC 3501 §9: case-insensitive).
    assert_eq!(
        cmd("A102 FETCH 1 savedate").body,
        cmd_exact("A102 FETCH 1 SAVEDATE").body
    );
    cmd_exact("A103 UID FETCH 1:* (UID SAVEDATE INTERNALDATE)");
    assert_eq!(
        untagged(resp("* 1 FETCH (SaveDate nil)")),
        untagged(resp("* 1 FETCH (SAVEDATE NIL)"))
    );
    // Neither a date-time nor NIL.
    for bad in [
        &b"* 1 FETCH (SAVEDATE 01-Jan-2015)\r\n"[..],
        b"* 1 FETCH (SAVEDATE \"01-Jan-2015\")\r\n",
        b"* 1 FETCH (SAVEDATE)\r\n",
        b"* 1 FETCH (SAVEDATE NILL)\r\n",
    ] {
        assert!(parse::response(bad).is_err(), "{bad:?}");
    }
}

/// RFC 8514 §4.2: NIL where the mailbox's storage keeps no save dates.
#[test]
fn rfc8514_4_2_savedate_nil() {
    let wire = "* 998 FETCH (UID 42 SAVEDATE NIL)";
    let r = resp(wire);
    assert_eq!(
        encode::response_to_vec(&r),
        format!("{wire}\r\n").as_bytes()
    );
    assert_eq!(
        untagged(r),
        Data::Fetch {
            seq: nz(998),
            items: vec![FetchItem::Uid(nz(42)), FetchItem::SaveDate(None)]
        }
    );
}

/// RFC 8514 §4.3's first example.
#[test]
fn rfc8514_4_3_savedon() {
    let keys = search_keys(cmd_exact("A102 SEARCH SAVEDON 28-Dec-2014"));
    assert_eq!(
        keys,
        vec![SearchKey::SavedOn(Date::new(2014, 12, 28).unwrap())]
    );
}

/// RFC 8514 §4.3's second example.
#[test]
fn rfc8514_4_3_savedsince() {
    let keys = search_keys(cmd_exact("A103 SEARCH SAVEDSINCE 28-Dec-2014"));
    assert_eq!(
        keys,
        vec![SearchKey::SavedSince(Date::new(2014, 12, 28).unwrap())]
    );
}

/// RFC 8514 §5's other search keys, SAVEDBEFORE and SAVEDATESUPPORTED,
/// in any case and nested like the others.
#[test]
fn rfc8514_5_savedbefore_savedatesupported() {
    let day = Date::new(2014, 12, 28).unwrap();
    let keys = search_keys(cmd_exact(
        "A104 SEARCH SAVEDATESUPPORTED NOT SAVEDBEFORE 28-Dec-2014",
    ));
    assert_eq!(
        keys,
        vec![
            SearchKey::SaveDateSupported,
            SearchKey::Not(Box::new(SearchKey::SavedBefore(day)))
        ]
    );
    let lower = search_keys(cmd(
        "A105 SEARCH (savedatesupported OR savedbefore \"28-Dec-2014\" savedon 28-dec-2014) savedsince 28-Dec-2014",
    ));
    assert_eq!(
        lower,
        vec![
            SearchKey::And(
                Vec1::try_from(vec![
                    SearchKey::SaveDateSupported,
                    SearchKey::Or(
                        Box::new(SearchKey::SavedBefore(day)),
                        Box::new(SearchKey::SavedOn(day))
                    )
                ])
                .unwrap()
            ),
            SearchKey::SavedSince(day)
        ]
    );
    // A date is required; SAVEDATESUPPORTED takes none; a longer name is
    // not the key.
    for bad in [
        &b"A106 SEARCH SAVEDON\r\n"[..],
        b"A106 SEARCH SAVEDSINCE 28-Dec\r\n",
        b"A106 SEARCH SAVEDATESUPPORTED 28-Dec-2014\r\n",
        b"A106 SEARCH SAVEDATESUPPORTEDX\r\n",
    ] {
        assert!(parse::command(bad).is_err(), "{bad:?}");
    }
}

/// The response `s` written back byte for byte.
fn resp_exact(s: &'static str) -> Response<'static> {
    let r = resp(s);
    assert_eq!(
        String::from_utf8(encode::response_to_vec(&r)).unwrap(),
        format!("{s}\r\n")
    );
    r
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// The RFC 8474 identifiers of §4 and §5.3's examples.
const MAILBOX_ID: &str = "F2212ea87-6097-4256-9d51-71338625";
const EMAIL_ID_1: &str = "M6d99ac3275bb4e";
const EMAIL_ID_2: &str = "M5fdc09b49ea703";
const THREAD_ID_1: &str = "T64b478a75b7ea9";

/// Objectids RFC 8474 §7 does not allow (`1*255(ALPHA / DIGIT / "_" /
/// "-")`), in the places the grammar puts an objectid: empty, 256 bytes
/// long, with a `.` or `=` inside, with a space, another atom character.
fn bad_object_ids() -> Vec<String> {
    vec![
        String::new(),
        "a".repeat(256),
        "F2212ea87.6097".into(),
        "M6d99ac3275bb4e=".into(),
        "=M6d99".into(),
        "M6d99 ac32".into(),
        "M6d99$".into(),
    ]
}

/// RFC 8474 §3: servers announce the extension as `OBJECTID`.
#[test]
fn rfc8474_3_capability() {
    let d = untagged(resp_exact("* CAPABILITY IMAP4rev1 OBJECTID"));
    assert_eq!(
        d,
        Data::Capability(Vec1::try_from(vec![atom("IMAP4rev1"), atom("OBJECTID")]).unwrap())
    );
}

/// RFC 8474 §4.1: the tagged OK of a successful CREATE carries the new
/// mailbox's MAILBOXID. The answer comes back byte for byte; the command
/// in the encoder's upper-case keyword.
#[test]
fn rfc8474_4_1_create_mailboxid() {
    let c = cmd("3 create foo");
    assert_eq!(encode::command_to_vec(&c), b"3 CREATE foo\r\n");
    let Response::Status(st) =
        resp_exact(leak(format!("3 OK [MAILBOXID ({MAILBOX_ID})] Completed")))
    else {
        panic!("not a status")
    };
    assert_eq!(st.tag.unwrap().as_str(), "3");
    assert_eq!(st.kind, StatusKind::Ok);
    assert_eq!(st.code, Some(Code::MailboxId(atom(MAILBOX_ID))));
    assert_eq!(st.text.as_bytes(), b"Completed");
    // The code's name in any case (RFC 3501 §9); the objectid keeps its
    // case (RFC 8474 §7: case is significant).
    let Response::Status(lower) = resp("3 OK [mailboxid (f2212EA87-6097)] Completed") else {
        panic!("not a status")
    };
    assert_eq!(lower.code, Some(Code::MailboxId(atom("f2212EA87-6097"))));
    // The longest objectid.
    let long = "_".repeat(255);
    let Response::Status(st) = resp_exact(leak(format!("3 OK [MAILBOXID ({long})] Completed")))
    else {
        panic!("not a status")
    };
    assert_eq!(st.code, Some(Code::MailboxId(atom(leak(long)))));
}

/// RFC 8474 §7: a MAILBOXID code whose argument is not `"(" objectid ")"`
/// never becomes `Code::MailboxId`. Like any known code the parser cannot
/// read (`[UIDNEXT 0]` ...), the response still parses, with the code kept
/// as `Code::Other` (its raw arguments), or read as text when there are no
/// arguments at all.
#[test]
fn rfc8474_4_1_invalid_mailboxid_code_refused() {
    let mut args: Vec<String> = bad_object_ids()
        .into_iter()
        .map(|id| format!("({id})"))
        .collect();
    args.extend([
        MAILBOX_ID.to_owned(),
        format!("(({MAILBOX_ID}))"),
        format!("({MAILBOX_ID}"),
        format!("( {MAILBOX_ID})"),
        "NIL".into(),
    ]);
    for arg in args {
        for line in [
            format!("3 OK [MAILBOXID {arg}] Completed\r\n"),
            format!("* OK [MAILBOXID {arg}] Ok\r\n"),
        ] {
            let (r, n) = parse::response(line.as_bytes()).unwrap();
            assert_eq!(n, line.len());
            let Response::Status(st) = r else {
                panic!("{line}")
            };
            match st.code {
                Some(Code::Other(name, _)) => assert_eq!(name.as_str(), "MAILBOXID", "{line}"),
                other => panic!("{line}: {other:?}"),
            }
        }
    }
    let (r, _) = parse::response(b"* OK [MAILBOXID] Ok\r\n").unwrap();
    assert!(matches!(
        r,
        Response::Status(StatusResponse { code: None, .. })
    ));
}

/// RFC 8474 §4.2: SELECT and EXAMINE answer the mailbox's MAILBOXID in an
/// untagged OK, byte for byte.
#[test]
fn rfc8474_4_2_select_mailboxid() {
    let Response::Status(st) = resp_exact(leak(format!("* OK [MAILBOXID ({MAILBOX_ID})] Ok")))
    else {
        panic!("not a status")
    };
    assert_eq!(
        st,
        StatusResponse {
            tag: None,
            kind: StatusKind::Ok,
            code: Some(Code::MailboxId(atom(MAILBOX_ID))),
            text: Text::try_from("Ok").unwrap(),
        }
    );
}

/// RFC 8474 §4.3's example: `STATUS foo (MAILBOXID)` and its answer. The
/// answer comes back byte for byte; the command in the encoder's
/// upper-case keywords (`6 STATUS foo (MAILBOXID)`).
#[test]
fn rfc8474_4_3_status_mailboxid() {
    let c = cmd("6 status foo (mailboxid)");
    assert_eq!(encode::command_to_vec(&c), b"6 STATUS foo (MAILBOXID)\r\n");
    assert_eq!(
        c.body,
        CommandBody::Status {
            mailbox: Mailbox::Other(s("foo")),
            items: vec![StatusAttr::MailboxId]
        }
    );
    assert_eq!(
        untagged(resp_exact(leak(format!(
            "* STATUS foo (MAILBOXID ({MAILBOX_ID}))"
        )))),
        Data::Status {
            mailbox: Mailbox::Other(s("foo")),
            items: vec![StatusItem::MailboxId(atom(MAILBOX_ID))]
        }
    );
    // Among other items, the name in any case.
    assert_eq!(
        untagged(resp(
            "* STATUS foo (MESSAGES 3 mailboxid (abc_D-1) UIDNEXT 4)"
        )),
        Data::Status {
            mailbox: Mailbox::Other(s("foo")),
            items: vec![
                StatusItem::Number(StatusAttr::Messages, Some(3)),
                StatusItem::MailboxId(atom("abc_D-1")),
                StatusItem::Number(StatusAttr::UidNext, Some(4)),
            ]
        }
    );
    // Not an objectid in parentheses: the response is refused.
    let mut args: Vec<String> = bad_object_ids()
        .into_iter()
        .map(|id| format!("({id})"))
        .collect();
    args.extend([
        MAILBOX_ID.to_owned(),
        "NIL".into(),
        format!("(({MAILBOX_ID}))"),
    ]);
    for arg in args {
        let line = format!("* STATUS foo (MAILBOXID {arg})\r\n");
        assert!(parse::response(line.as_bytes()).is_err(), "{line}");
    }
}

/// RFC 8474 §5.3's example: `FETCH 1:* (EMAILID THREADID)` and its answers,
/// one with a THREADID, one with NIL (§5.2: a server without threads). The
/// answers come back byte for byte; the command in the encoder's
/// upper-case keywords.
#[test]
fn rfc8474_5_3_fetch_emailid_threadid() {
    let c = cmd("11 fetch 1:* (emailid threadid)");
    assert_eq!(
        encode::command_to_vec(&c),
        b"11 FETCH 1:* (EMAILID THREADID)\r\n"
    );
    let CommandBody::Fetch { attrs, .. } = c.body else {
        panic!("not a FETCH")
    };
    assert_eq!(
        attrs,
        FetchAttrs::List(vec![FetchAttr::EmailId, FetchAttr::ThreadId])
    );
    assert_eq!(
        untagged(resp_exact(leak(format!(
            "* 1 FETCH (EMAILID ({EMAIL_ID_1}) THREADID ({THREAD_ID_1}))"
        )))),
        Data::Fetch {
            seq: nz(1),
            items: vec![
                FetchItem::EmailId(atom(EMAIL_ID_1)),
                FetchItem::ThreadId(Some(atom(THREAD_ID_1)))
            ]
        }
    );
    assert_eq!(
        untagged(resp_exact(leak(format!(
            "* 2 FETCH (EMAILID ({EMAIL_ID_2}) THREADID NIL)"
        )))),
        Data::Fetch {
            seq: nz(2),
            items: vec![
                FetchItem::EmailId(atom(EMAIL_ID_2)),
                FetchItem::ThreadId(None)
            ]
        }
    );
    // One attribute goes bare; with others, in UID FETCH.
    cmd_exact("A1 FETCH 1 EMAILID");
    cmd_exact("A2 UID FETCH 1:* (UID EMAILID THREADID SAVEDATE)");
    // Names and NIL in any case; the objectids keep theirs.
    assert_eq!(
        untagged(resp("* 2 FETCH (emailid (M5fdc09b49ea703) ThreadId nil)")),
        untagged(resp(leak(format!(
            "* 2 FETCH (EMAILID ({EMAIL_ID_2}) THREADID NIL)"
        ))))
    );
    assert_ne!(
        untagged(resp("* 1 FETCH (EMAILID (m6d99ac3275bb4e))")),
        untagged(resp(leak(format!("* 1 FETCH (EMAILID ({EMAIL_ID_1}))"))))
    );
    // A THREADID that reads like NIL in parentheses is an objectid.
    assert_eq!(
        untagged(resp_exact("* 3 FETCH (THREADID (NIL))")),
        Data::Fetch {
            seq: nz(3),
            items: vec![FetchItem::ThreadId(Some(atom("NIL")))]
        }
    );
    // The longest objectid.
    let long = "9".repeat(255);
    let wire = leak(format!("* 4 FETCH (EMAILID ({long}) THREADID ({long}))"));
    let Data::Fetch { items, .. } = untagged(resp_exact(wire)) else {
        panic!("not a FETCH")
    };
    assert_eq!(items[0], FetchItem::EmailId(atom(leak(long.clone()))));
    assert_eq!(items[1], FetchItem::ThreadId(Some(atom(leak(long)))));
}

/// RFC 8474 §7: EMAILID and THREADID answers without a valid objectid in
/// parentheses are refused (EMAILID has no NIL form).
#[test]
fn rfc8474_5_3_invalid_objectids_refused() {
    let mut args: Vec<String> = bad_object_ids()
        .into_iter()
        .map(|id| format!("({id})"))
        .collect();
    args.extend([
        EMAIL_ID_1.to_owned(),
        format!("(({EMAIL_ID_1}))"),
        format!("({EMAIL_ID_1}"),
        format!("( {EMAIL_ID_1} )"),
        format!("\"{EMAIL_ID_1}\""),
    ]);
    for arg in &args {
        for name in ["EMAILID", "THREADID"] {
            let line = format!("* 1 FETCH ({name} {arg})\r\n");
            assert!(parse::response(line.as_bytes()).is_err(), "{line}");
        }
    }
    for line in [
        &b"* 1 FETCH (EMAILID NIL)\r\n"[..],
        b"* 1 FETCH (EMAILID)\r\n",
        b"* 1 FETCH (THREADID)\r\n",
        b"* 1 FETCH (THREADID NILL)\r\n",
    ] {
        assert!(parse::response(line).is_err(), "{line:?}");
    }
}

/// RFC 8474 §6's examples: `SEARCH EMAILID M6d99ac3275bb4e` and `SEARCH
/// THREADID T64b478a75b7ea9`, the objectid bare (no parentheses). They come
/// back in the encoder's upper-case keywords.
#[test]
fn rfc8474_6_search_emailid_threadid() {
    let c = cmd(leak(format!("27 search emailid {EMAIL_ID_1}")));
    assert_eq!(
        encode::command_to_vec(&c),
        format!("27 SEARCH EMAILID {EMAIL_ID_1}\r\n").as_bytes()
    );
    assert_eq!(search_keys(c), vec![SearchKey::EmailId(atom(EMAIL_ID_1))]);
    let c = cmd(leak(format!("28 search threadid {THREAD_ID_1}")));
    assert_eq!(
        encode::command_to_vec(&c),
        format!("28 SEARCH THREADID {THREAD_ID_1}\r\n").as_bytes()
    );
    assert_eq!(search_keys(c), vec![SearchKey::ThreadId(atom(THREAD_ID_1))]);
    // Nested like the other keys; the objectids keep their case; NIL is an
    // objectid here.
    let keys = search_keys(cmd_exact(
        "29 SEARCH OR EMAILID m6d99ac3275bb4e THREADID NIL NOT (EMAILID _ THREADID -)",
    ));
    assert_eq!(
        keys,
        vec![
            SearchKey::Or(
                Box::new(SearchKey::EmailId(atom("m6d99ac3275bb4e"))),
                Box::new(SearchKey::ThreadId(atom("NIL")))
            ),
            SearchKey::Not(Box::new(SearchKey::And(
                Vec1::try_from(vec![
                    SearchKey::EmailId(atom("_")),
                    SearchKey::ThreadId(atom("-"))
                ])
                .unwrap()
            )))
        ]
    );
    cmd_exact("30 UID SEARCH RETURN (COUNT) EMAILID M1 THREADID T1");
    // The longest objectid.
    let long = leak("Z".repeat(255));
    let c = cmd_exact(leak(format!("31 SEARCH EMAILID {long}")));
    assert_eq!(search_keys(c), vec![SearchKey::EmailId(atom(long))]);
    // Not an objectid, or one in parentheses, quoted or missing: refused.
    let mut args = bad_object_ids();
    args.extend([
        format!("({EMAIL_ID_1})"),
        format!("\"{EMAIL_ID_1}\""),
        format!("{{15}}\r\n{EMAIL_ID_1}"),
    ]);
    for arg in &args {
        for name in ["EMAILID", "THREADID"] {
            let line = format!("32 SEARCH {name} {arg}\r\n");
            assert!(parse::command(line.as_bytes()).is_err(), "{line}");
        }
    }
    for line in [
        &b"33 SEARCH EMAILID\r\n"[..],
        b"33 SEARCH THREADID\r\n",
        b"33 SEARCH EMAILIDX M1\r\n",
        b"33 SEARCH EMAILID M1.\r\n",
    ] {
        assert!(parse::command(line).is_err(), "{line:?}");
    }
}

/// RFC 8474 §7's `objectid`: 1 to 255 bytes of ALPHA, DIGIT, `_` and `-`.
#[test]
fn rfc8474_7_is_object_id() {
    for ok in [
        &b"a"[..],
        b"Z",
        b"0",
        b"_",
        b"-",
        b"--",
        MAILBOX_ID.as_bytes(),
        EMAIL_ID_1.as_bytes(),
        b"azAZ09_-",
        &[b'x'; 255],
    ] {
        assert!(is_object_id(ok), "{ok:?}");
    }
    for bad in [
        &b""[..],
        &[b'x'; 256],
        &[b'x'; 1000],
        b"a.b",
        b"a=b",
        b"=",
        b".",
        b"a b",
        b"a+b",
        b"a/b",
        b"a$",
        b"(a)",
        b"a\0",
        b"a\r\n",
        "é".as_bytes(),
        b"\xff",
    ] {
        assert!(!is_object_id(bad), "{bad:?}");
    }
    // Every byte value, alone: exactly the 64 of the grammar.
    let allowed = (0..=255u8).filter(|&b| is_object_id(&[b])).count();
    assert_eq!(allowed, 26 + 26 + 10 + 2);
    // Each one is an atom too.
    for b in (0..=255u8).filter(|&b| is_object_id(&[b])) {
        let s = String::from_utf8(vec![b]).unwrap();
        assert!(Atom::try_from(s).is_ok());
    }
}

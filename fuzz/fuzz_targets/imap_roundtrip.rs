//! Typed values built from fuzz bytes (strings with any byte but NUL, atoms,
//! tags, mailbox names, literals, sequence numbers): serialize, then parse
//! gives the same value back.
#![no_main]

use std::num::NonZeroU32;

use libfuzzer_sys::fuzz_target;
use mailwire_imap::*;

/// Cuts the input into fields.
struct Src<'a>(&'a [u8]);

impl<'a> Src<'a> {
    fn byte(&mut self) -> u8 {
        let Some((&b, rest)) = self.0.split_first() else {
            return 0;
        };
        self.0 = rest;
        b
    }
    fn bytes(&mut self) -> &'a [u8] {
        let n = usize::from(self.byte() % 40).min(self.0.len());
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        a
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.byte(), self.byte(), self.byte(), self.byte()])
    }
    fn istring(&mut self) -> IString<'a> {
        let b = self.bytes();
        IString::new(b).unwrap_or_else(|_| IString::try_from("x").unwrap())
    }
    fn atom(&mut self) -> Atom<'a> {
        let b = self.bytes();
        std::str::from_utf8(b)
            .ok()
            .and_then(|s| Atom::new(s).ok())
            .unwrap_or_else(|| Atom::try_from("A").unwrap())
    }
    /// An atom that names no flag or code of its own (`X` + atom), so it stays the variant it was built as.
    fn x_atom(&mut self) -> Atom<'static> {
        Atom::new(format!("X{}", self.atom())).unwrap_or_else(|_| Atom::try_from("X").unwrap())
    }
    fn seq(&mut self) -> SequenceSet {
        let a = NonZeroU32::new(self.u32()).map_or(SeqNum::Largest, SeqNum::Value);
        let b = NonZeroU32::new(self.u32()).map_or(SeqNum::Largest, SeqNum::Value);
        SequenceSet::Set(Vec1::new(SeqRange::Single(a), vec![SeqRange::Range(a, b)]))
    }
}

fuzz_target!(|data: &[u8]| {
    let mut s = Src(data);
    let tag = {
        let b = s.bytes();
        std::str::from_utf8(b)
            .ok()
            .and_then(|t| Tag::new(t).ok())
            .unwrap_or_else(|| Tag::try_from("a1").unwrap())
    };
    let mailbox = Mailbox::new(s.istring());
    let flag = match s.byte() % 3 {
        0 => Flag::Seen,
        1 => Flag::Keyword(s.atom()),
        _ => Flag::Extension(s.x_atom()),
    };
    let commands = [
        CommandBody::Login {
            username: s.istring(),
            password: Secret::new(s.istring()),
        },
        CommandBody::Authenticate {
            mechanism: s.atom(),
            initial_response: Some(Secret::new(s.atom())),
        },
        CommandBody::Select {
            mailbox: mailbox.clone(),
            params: vec![],
        },
        CommandBody::Enable(Vec1::new(s.atom(), vec![s.x_atom()])),
        CommandBody::List {
            select: vec![],
            reference: mailbox.clone(),
            patterns: Vec1::new(s.istring(), vec![s.istring()]),
            return_opts: vec![],
        },
        CommandBody::Search {
            uid: true,
            return_opts: None,
            charset: Some(s.istring()),
            criteria: Vec1::new(
                SearchKey::Header(s.istring(), s.istring()),
                vec![SearchKey::Or(
                    Box::new(SearchKey::Keyword(s.atom())),
                    Box::new(SearchKey::Uid(s.seq())),
                )],
            ),
        },
        CommandBody::Store {
            uid: false,
            set: s.seq(),
            unchanged_since: None,
            kind: StoreKind::Add,
            silent: true,
            flags: vec![flag.clone()],
        },
        CommandBody::Append {
            mailbox: mailbox.clone(),
            messages: Vec1::one(AppendMessage {
                flags: vec![flag.clone()],
                date: None,
                message: Binary(s.bytes().into()),
                utf8: false,
            }),
        },
        CommandBody::Fetch {
            uid: true,
            set: s.seq(),
            attrs: FetchAttrs::List(vec![FetchAttr::BodySection {
                peek: true,
                section: Section {
                    part: vec![],
                    text: Some(SectionText::HeaderFields(vec![s.istring()])),
                },
                partial: None,
            }]),
            modifiers: vec![],
        },
    ];
    for body in commands {
        let c = Command {
            tag: tag.clone(),
            body,
        };
        let wire = encode::command_to_vec(&c);
        let (back, n) = parse::command(&wire).expect("encoded command parses");
        assert_eq!(n, wire.len());
        assert_eq!(back, c);
    }
    let text = {
        let b = s.bytes();
        Text::new(b)
            .ok()
            .filter(|t| !t.as_bytes().starts_with(b"[") && !t.as_bytes().starts_with(b" "))
    };
    let text = text.unwrap_or_else(|| Text::try_from("ok").unwrap());
    let responses = [
        Response::Data(Data::Fetch {
            seq: NonZeroU32::new(s.u32()).unwrap_or(NonZeroU32::MIN),
            items: vec![
                FetchItem::Flags(vec![flag.clone()]),
                FetchItem::BodySection {
                    section: Section::default(),
                    origin: None,
                    data: Some(s.istring()),
                },
                FetchItem::Envelope(Box::new(Envelope {
                    date: Some(s.istring()),
                    subject: Some(s.istring()),
                    from: vec![Address {
                        name: Some(s.istring()),
                        adl: None,
                        mailbox: Some(s.istring()),
                        host: None,
                    }],
                    sender: vec![],
                    reply_to: vec![],
                    to: vec![],
                    cc: vec![],
                    bcc: vec![],
                    in_reply_to: None,
                    message_id: Some(s.istring()),
                })),
            ],
        }),
        Response::Data(Data::List(ListItem {
            attributes: vec![s.atom()],
            delimiter: Some(b'/'),
            mailbox: mailbox.clone(),
            extended: vec![],
        })),
        Response::Status(StatusResponse {
            tag: Some(tag.clone()),
            kind: StatusKind::No,
            code: Some(Code::Simple(s.x_atom())),
            text: text.clone(),
        }),
        Response::Status(StatusResponse {
            tag: None,
            kind: StatusKind::Ok,
            code: None,
            text,
        }),
    ];
    for r in responses {
        let wire = encode::response_to_vec(&r);
        let (back, n) = parse::response(&wire).expect("encoded response parses");
        assert_eq!(n, wire.len());
        assert_eq!(back, r);
    }
});

//! Secrets stay out of `Debug` output, and "at least one" lists cannot be
//! built or parsed empty.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use mailwire_imap::*;

#[test]
fn login_debug_redacts_password() {
    let (c, _) = parse::command(b"a001 LOGIN smith \"sesame-open\"\r\n").unwrap();
    let CommandBody::Login { password, .. } = &c.body else {
        panic!("{c:?}")
    };
    assert_eq!(password.expose().as_bytes(), b"sesame-open");
    let debug = format!("{c:?}");
    assert!(!debug.contains("sesame"), "{debug}");
    assert!(debug.contains("smith"), "{debug}");
    assert!(debug.contains("Secret([REDACTED])"), "{debug}");
    let pretty = format!("{c:#?}");
    assert!(!pretty.contains("sesame"), "{pretty}");
    // The wire form still carries it.
    assert_eq!(
        encode::command_to_vec(&c),
        b"a001 LOGIN smith sesame-open\r\n"
    );
}

#[test]
fn login_debug_redacts_literal_password() {
    let (c, _) = parse::command(b"a LOGIN fred {11+}\r\nhunter2-xyz\r\n").unwrap();
    assert!(!format!("{c:?}").contains("hunter2"));
}

#[test]
fn authenticate_debug_redacts_initial_response() {
    let (c, _) = parse::command(b"a AUTHENTICATE PLAIN AHRpbQB0YW5zdGFhZg==\r\n").unwrap();
    let debug = format!("{c:?}");
    assert!(debug.contains("PLAIN"), "{debug}");
    assert!(!debug.contains("AHRpbQB0YW5zdGFhZg"), "{debug}");
    let (d, _) = parse::authenticate_data(b"AHRpbQB0YW5zdGFhZg==\r\n").unwrap();
    assert!(!format!("{d:?}").contains("AHRpbQ"));
}

#[test]
fn vec1_refuses_empty() {
    assert_eq!(Vec1::<Atom<'_>>::try_from(vec![]), Err(EmptyError));
    let v = Vec1::try_from(vec![1, 2]).unwrap();
    assert_eq!(v.first(), &1);
    assert_eq!(v.as_slice(), &[1, 2]);
    assert_eq!(Vec1::new(0, vec![]).len(), 1);
    assert_eq!(SequenceSet::new(vec![]), None);
    assert!(SequenceSet::new(vec![SeqRange::Single(SeqNum::Largest)]).is_some());
}

/// The grammar asks for at least one element: the parser refuses the empty forms
/// (which before this change the encoder could produce from an empty `Vec`).
#[test]
fn empty_lists_do_not_parse() {
    assert!(parse::command(b"a ENABLE \r\n").is_err());
    assert!(parse::command(b"a ENABLE\r\n").is_err());
    assert!(parse::command(b"a LIST \"\" ()\r\n").is_err());
    // The forms an empty list used to encode to.
    assert!(parse::command(b"a APPEND x\r\n").is_err());
    assert!(parse::command(b"a SORT () UTF-8 ALL\r\n").is_err());
    assert!(parse::command(b"a STORE  +FLAGS ()\r\n").is_err());
    assert!(parse::command(b"a SEARCH ()\r\n").is_err());
    assert!(parse::command(b"a SEARCH\r\n").is_err());
    assert!(parse::response(b"* CAPABILITY \r\n").is_err());
    // A malformed known code is kept as `Code::Other`, never as an empty list.
    let (r, _) = parse::response(b"* OK [CAPABILITY ] hi\r\n").unwrap();
    let Response::Status(StatusResponse { code, .. }) = r else {
        panic!("{r:?}")
    };
    assert!(matches!(code, Some(Code::Other(..))), "{code:?}");
    // A multipart body without parts.
    assert!(parse::response(b"* 1 FETCH (BODY ( \"MIXED\"))\r\n").is_err());
    // `body-extension` lists: `(` body-extension *(SP body-extension) `)`.
    assert!(
        parse::response(
            b"* 1 FETCH (BODYSTRUCTURE (\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 3 1 NIL NIL NIL NIL ()))\r\n"
        )
        .is_err()
    );
    assert!(
        parse::response(
            b"* 1 FETCH (BODYSTRUCTURE (\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 3 1 NIL NIL NIL NIL (1)))\r\n"
        )
        .is_ok()
    );
}

#[test]
fn one_element_lists_round_trip() {
    for body in [
        CommandBody::Enable(Vec1::one(Atom::try_from("CONDSTORE").unwrap())),
        CommandBody::List {
            select: vec![],
            reference: Mailbox::new(IString::try_from("").unwrap()),
            patterns: Vec1::one(IString::try_from("").unwrap()),
            return_opts: vec![],
        },
        CommandBody::Search {
            uid: false,
            return_opts: None,
            charset: None,
            criteria: Vec1::one(SearchKey::And(Vec1::one(SearchKey::Seen))),
        },
        CommandBody::Sort {
            uid: true,
            criteria: Vec1::one(SortCriterion {
                reverse: true,
                key: SortKey::Date,
            }),
            charset: IString::try_from("UTF-8").unwrap(),
            search: Vec1::one(SearchKey::All),
        },
    ] {
        let c = Command {
            tag: Tag::try_from("a").unwrap(),
            body,
        };
        let wire = encode::command_to_vec(&c);
        assert_eq!(parse::command(&wire).unwrap(), (c, wire.len()));
    }
}

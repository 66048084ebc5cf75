//! Round trips: value -> encode -> parse == value, and parse -> encode ->
//! parse for the RFC transcript lines.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::num::NonZeroU32;

use mailwire_pop3::*;
use proptest::prelude::*;

fn arg() -> impl Strategy<Value = Arg<'static>> {
    proptest::collection::vec(0x21u8..=0xff, 1..40)
        .prop_filter("no DEL", |v| !v.contains(&0x7f))
        .prop_map(|v| Arg::try_from(v).unwrap())
}

fn text() -> impl Strategy<Value = Text<'static>> {
    proptest::collection::vec(
        any::<u8>().prop_filter("no CR LF NUL", |b| !matches!(b, b'\r' | b'\n' | 0)),
        0..60,
    )
    .prop_map(|v| Text::try_from(v).unwrap())
}

fn msg() -> impl Strategy<Value = MsgNum> {
    (1u32..=u32::MAX).prop_map(|v| NonZeroU32::new(v).unwrap())
}

fn command() -> impl Strategy<Value = Command<'static>> {
    prop_oneof![
        arg().prop_map(Command::User),
        text()
            .prop_filter("non-empty", |t| !t.as_bytes().is_empty())
            .prop_map(Command::Pass),
        (arg(), any::<[u8; 16]>()).prop_map(|(name, digest)| Command::Apop { name, digest }),
        (arg(), proptest::option::of(arg())).prop_map(|(mechanism, initial_response)| {
            Command::Auth {
                mechanism,
                initial_response,
            }
        }),
        Just(Command::Capa),
        Just(Command::Stat),
        proptest::option::of(msg()).prop_map(Command::List),
        msg().prop_map(Command::Retr),
        msg().prop_map(Command::Dele),
        Just(Command::Noop),
        Just(Command::Rset),
        (msg(), any::<u32>()).prop_map(|(msg, lines)| Command::Top { msg, lines }),
        proptest::option::of(msg()).prop_map(Command::Uidl),
        Just(Command::Quit),
        Just(Command::Stls),
        Just(Command::Utf8),
        proptest::option::of(arg()).prop_map(Command::Lang),
    ]
}

fn code() -> impl Strategy<Value = ResponseCode<'static>> {
    prop_oneof![
        Just(ResponseCode::InUse),
        Just(ResponseCode::LoginDelay),
        Just(ResponseCode::SysTemp),
        Just(ResponseCode::SysPerm),
        Just(ResponseCode::Auth),
        "[A-Z0-9-]{1,10}(/[A-Z0-9-]{1,10}){0,2}".prop_map(|s| ResponseCode::new(&s).unwrap()),
    ]
}

fn status_line() -> impl Strategy<Value = StatusLine<'static>> {
    (any::<bool>(), proptest::option::of(code()), text())
        .prop_filter("text after a code may not look like a code", |(_, c, t)| {
            c.is_some() || !t.as_bytes().starts_with(b"[")
        })
        .prop_filter("leading space would be eaten", |(_, _, t)| {
            !t.as_bytes().starts_with(b" ")
        })
        .prop_map(|(ok, code, text)| StatusLine {
            status: if ok { Status::Ok } else { Status::Err },
            code,
            text,
        })
}

proptest! {
    #[test]
    fn command_round_trip(cmd in command()) {
        let mut out = Vec::new();
        cmd.encode(&mut out);
        prop_assert!(out.ends_with(b"\r\n"));
        let line = &out[..out.len() - 2];
        prop_assert!(!line.contains(&b'\r') && !line.contains(&b'\n'));
        prop_assert_eq!(parse_command(line).unwrap(), cmd);
    }

    #[test]
    fn status_line_round_trip(s in status_line()) {
        let mut out = Vec::new();
        s.encode(&mut out);
        let parsed = parse_status_line(&out[..out.len() - 2]).unwrap();
        // Known codes come back as their variant.
        let norm = |c: Option<ResponseCode<'_>>| c.map(|c| ResponseCode::new(c.as_str()).unwrap());
        prop_assert_eq!(norm(parsed.code.clone()), norm(s.code.clone()));
        prop_assert_eq!(parsed.status, s.status);
        prop_assert_eq!(parsed.text, s.text);
    }

    #[test]
    fn listings_round_trip(m in msg(), size in any::<u64>(), uid in "[!-~]{1,70}") {
        let mut out = Vec::new();
        ScanListing { msg: m, size }.encode(&mut out);
        prop_assert_eq!(parse_scan_listing(&out).unwrap(), ScanListing { msg: m, size });
        let mut out = Vec::new();
        let u = UidListing { msg: m, uid: Uid::try_from(uid.as_str()).unwrap() };
        u.encode(&mut out);
        prop_assert_eq!(parse_uid_listing(&out).unwrap(), u);
    }

    #[test]
    fn parsers_never_panic(line in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = parse_command(&line);
        let _ = parse_status_line(&line);
        let _ = parse_capability(&line);
        let _ = parse_scan_listing(&line);
        let _ = parse_uid_listing(&line);
        let _ = parse_drop_listing(&line);
        if let Ok(c) = parse_command(&line) {
            let mut out = Vec::new();
            c.encode(&mut out);
            prop_assert_eq!(parse_command(&out[..out.len() - 2]).unwrap(), c);
        }
    }
}

/// Every line of the RFC transcripts parses, encodes and parses again to
/// the same value.
#[test]
fn rfc_transcript_lines_round_trip() {
    let client = [
        "APOP mrose c4c9334bac560ecc979e58001b3e22fb",
        "STAT",
        "LIST",
        "LIST 2",
        "RETR 1",
        "DELE 1",
        "NOOP",
        "RSET",
        "QUIT",
        "TOP 1 10",
        "UIDL",
        "UIDL 2",
        "USER mrose",
        "PASS secret",
        "CAPA",
        "STLS",
        "AUTH PLAIN dGVzdAB0ZXN0AHRlc3Q=",
        "AUTH CRAM-MD5",
        "UTF8",
        "LANG",
        "LANG fr",
    ];
    for l in client {
        let c = parse_command(l.as_bytes()).unwrap_or_else(|e| panic!("{l}: {e}"));
        let mut out = Vec::new();
        c.encode(&mut out);
        assert_eq!(out, format!("{l}\r\n").as_bytes());
    }
    let server = [
        "+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>",
        "+OK mrose's maildrop has 2 messages (320 octets)",
        "+OK 2 320",
        "-ERR no such message, only 2 messages in maildrop",
        "+OK",
        "-ERR [IN-USE] Do you have another POP session running?",
        "-ERR [LOGIN-DELAY] wait 900 seconds",
        "-ERR [SYS/TEMP] try again",
        "-ERR [SYS/PERM] mailbox corrupted",
        "-ERR [AUTH] bad password",
    ];
    for l in server {
        let s = parse_status_line(l.as_bytes()).unwrap();
        let mut out = Vec::new();
        s.encode(&mut out);
        assert_eq!(out, format!("{l}\r\n").as_bytes());
    }
    let caps = [
        "TOP",
        "USER",
        "SASL CRAM-MD5 KERBEROS_V4",
        "RESP-CODES",
        "LOGIN-DELAY 900",
        "PIPELINING",
        "EXPIRE 60",
        "UIDL",
        "IMPLEMENTATION Shlemazle-Plotz-v302",
        "STLS",
        "UTF8 USER",
        "LANG",
    ];
    for l in caps {
        let c = parse_capability(l.as_bytes()).unwrap();
        assert!(!matches!(c, Capability::Other { .. }), "{l}");
        let mut out = Vec::new();
        c.encode(&mut out);
        assert_eq!(out, format!("{l}\r\n").as_bytes());
    }
}

#[test]
fn validation_names_the_byte() {
    assert_eq!(
        Arg::try_from("a b"),
        Err(ValidationError::InvalidByte {
            index: 1,
            byte: b' '
        })
    );
    assert_eq!(
        Text::try_from("a\r\n"),
        Err(ValidationError::InvalidByte {
            index: 1,
            byte: b'\r'
        })
    );
    assert_eq!(Uid::try_from(""), Err(ValidationError::Empty));
    assert_eq!(
        Uid::try_from("x".repeat(71).as_str()),
        Err(ValidationError::TooLong { max: 70 })
    );
    assert!(ResponseCode::new("SYS//TEMP").is_err());
    assert!(ResponseCode::new("A]").is_err());
}

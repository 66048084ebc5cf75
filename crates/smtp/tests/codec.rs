//! Codec tests: known answers with inverse checks, RFC examples, limits,
//! refusal of CR/LF/NUL, framing of every prefix, round-trip properties.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers, outside #[test] fns

use mailwire_smtp::*;
use proptest::prelude::*;

/// Parse, encode, parse again: the same value and the same bytes.
fn kat_inverse_command(line: &str) -> Command<'_> {
    let cmd = parse_command(line.as_bytes()).unwrap_or_else(|e| panic!("{line:?}: {e}"));
    let enc = cmd.to_bytes();
    assert_eq!(
        enc,
        format!("{line}\r\n").into_bytes(),
        "canonical form of {line:?}"
    );
    let again = parse_command(&enc[..enc.len() - 2]).unwrap();
    assert_eq!(again, cmd);
    cmd
}

#[test]
fn kat_commands() {
    for line in [
        "EHLO bar.com",
        "HELO dbc.mtview.ca.us",
        "EHLO [192.0.2.1]",
        "EHLO [IPv6:2001:db8::1]",
        "MAIL FROM:<Smith@bar.com>",
        "MAIL FROM:<>",
        "MAIL FROM:<\"john doe\"@example.com>",
        "MAIL FROM:<a@[10.0.0.1]> SIZE=1000 BODY=8BITMIME",
        "MAIL FROM:<ned@ymir.claremont.edu> BODY=BINARYMIME",
        "MAIL FROM:<e=mc2@example.com> AUTH=e+3Dmc2@example.com",
        "MAIL FROM:<john+@example.org> AUTH=<>",
        "MAIL FROM:<Alice@Example.ORG> RET=HDRS ENVID=QQ314159",
        "MAIL FROM:<用户@例子.广告> SMTPUTF8",
        "MAIL FROM:<a@b.c> REQUIRETLS MT-PRIORITY=-3 BY=120;RT",
        "MAIL FROM:<a@b.c> X-FOO=bar X-FLAG",
        "RCPT TO:<Jones@foo.com>",
        "RCPT TO:<Postmaster>",
        "RCPT TO:<Bob@Example.COM> NOTIFY=SUCCESS ORCPT=rfc822;Bob@Example.COM",
        "RCPT TO:<Dana@Ivory.EDU> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;Dana@Ivory.EDU",
        "RCPT TO:<Fred@Bombs.AF.MIL> NOTIFY=NEVER",
        "DATA",
        "BDAT 86 LAST",
        "BDAT 100000",
        "BDAT 0 LAST",
        "RSET",
        "VRFY Crispin",
        "EXPN Example-People",
        "HELP",
        "HELP MAIL",
        "NOOP",
        "NOOP hello there",
        "QUIT",
        "STARTTLS",
        "AUTH PLAIN dGVzdAB0ZXN0ADEyMzQ=",
        "AUTH PLAIN",
        "AUTH EXTERNAL =",
        "AUTH CRAM-MD5",
    ] {
        kat_inverse_command(line);
    }
}

#[test]
fn rfc3461_6_2_dsn_parameters() {
    let Command::Mail(from, p) =
        kat_inverse_command("MAIL FROM:<Alice@Example.ORG> RET=HDRS ENVID=QQ314159")
    else {
        panic!()
    };
    assert_eq!(
        from,
        ReversePath::Mailbox(Mailbox::try_from("Alice@Example.ORG").unwrap())
    );
    assert_eq!(p.ret, Some(Ret::Hdrs));
    assert_eq!(p.envid.unwrap().decode(), b"QQ314159");
    let Command::Rcpt(_, p) = kat_inverse_command(
        "RCPT TO:<Eric@Bombs.AF.MIL> NOTIFY=FAILURE ORCPT=rfc822;Eric@Bombs.AF.MIL",
    ) else {
        panic!()
    };
    assert_eq!(
        p.notify,
        Some(Notify {
            failure: true,
            ..Notify::NEVER
        })
    );
    let o = p.orcpt.unwrap();
    assert_eq!(o.addr_type.as_str(), "rfc822");
    assert_eq!(o.addr.decode(), b"Eric@Bombs.AF.MIL");
}

#[test]
fn rfc4954_5_auth_parameter_xtext() {
    let Command::Mail(_, p) =
        parse_command(b"MAIL FROM:<e=mc2@example.com> AUTH=e+3Dmc2@example.com").unwrap()
    else {
        panic!()
    };
    assert_eq!(p.auth.unwrap().decode(), b"e=mc2@example.com");
    assert_eq!(
        XText::encode(b"e=mc2@example.com").as_str(),
        "e+3Dmc2@example.com"
    );
}

#[test]
fn verbs_case_insensitive_and_canonical_on_encode() {
    let c = parse_command(b"mail from:<a@b.c> size=10").unwrap();
    assert_eq!(c.to_bytes(), b"MAIL FROM:<a@b.c> SIZE=10\r\n");
    assert_eq!(parse_command(b"quit").unwrap(), Command::Quit);
    assert_eq!(
        parse_command(b"rcpt to:<postmaster>").unwrap(),
        Command::Rcpt(ForwardPath::Postmaster, RcptParams::default())
    );
}

#[test]
fn source_route_is_accepted_and_ignored() {
    // RFC 5321 §4.1.2 / §C: servers accept and ignore A-d-l.
    let c = parse_command(b"RCPT TO:<@hosta.int,@jkl.org:userc@d.bar.org>").unwrap();
    assert_eq!(c.to_bytes(), b"RCPT TO:<userc@d.bar.org>\r\n");
}

#[test]
fn command_errors() {
    use ParseError::*;
    for (line, err) in [
        (&b"FOO bar"[..], UnknownCommand),
        (b"", UnknownCommand),
        (b"MAIL FROM:", BadPath),
        (b"MAIL FROM:a@b.c", BadPath),
        (b"MAIL TO:<a@b.c>", Syntax),
        (b"MAIL", Syntax),
        (b"MAIL FROM:<a@b.c", BadPath),
        (b"MAIL FROM:<a..b@c.d>", BadPath),
        (b"MAIL FROM:<a@-b.c>", BadPath),
        (b"MAIL FROM:<a@[999.1.1.1]>", BadPath),
        (b"MAIL FROM:<a@b.c> SIZE=x", BadParameter),
        (b"MAIL FROM:<a@b.c> SIZE=1 SIZE=2", DuplicateParameter),
        (b"MAIL FROM:<a@b.c> BODY=9BIT", BadParameter),
        (b"MAIL FROM:<a@b.c> SMTPUTF8=yes", BadParameter),
        (b"MAIL FROM:<a@b.c>  SIZE=1", Syntax),
        (b"MAIL FROM:<a@b.c> MT-PRIORITY=10", BadParameter),
        (b"RCPT TO:<>", BadPath),
        (b"RCPT TO:<a@b.c> NOTIFY=NEVER,SUCCESS", BadParameter),
        (b"RCPT TO:<a@b.c> NOTIFY=SUCCESS,SUCCESS", BadParameter),
        (b"RCPT TO:<a@b.c> ORCPT=rfc822", BadParameter),
        (b"DATA x", Syntax),
        (b"BDAT", Syntax),
        (b"BDAT x", Syntax),
        (b"BDAT 1 FIRST", Syntax),
        (b"BDAT 99999999999999999999", Syntax),
        (b"VRFY", Syntax),
        (b"EHLO", Syntax),
        (b"EHLO bad_host", Syntax),
        (b"AUTH plain", Syntax),
        (b"AUTH PLAIN abc!", Syntax),
        (b"NOOP a\x00b", Syntax),
    ] {
        assert_eq!(
            parse_command(line),
            Err(err),
            "{:?}",
            String::from_utf8_lossy(line)
        );
    }
}

#[test]
fn rfc5321_4_5_3_1_path_limits() {
    // 64-octet local part is fine; 65 is too long.
    let ok = format!("MAIL FROM:<{}@x.org>", "a".repeat(64));
    assert!(parse_command(ok.as_bytes()).is_ok());
    let long_local = format!("MAIL FROM:<{}@x.org>", "a".repeat(65));
    assert_eq!(
        parse_command(long_local.as_bytes()),
        Err(ParseError::PathTooLong)
    );
    // Path over 256 octets including the brackets.
    let host = format!(
        "{}.{}.{}.{}",
        "b".repeat(63),
        "c".repeat(63),
        "d".repeat(63),
        "e".repeat(50)
    );
    let long_path = format!("RCPT TO:<{}@{}>", "a".repeat(20), host);
    assert_eq!(
        parse_command(long_path.as_bytes()),
        Err(ParseError::PathTooLong)
    );
    let err = parse_command(long_path.as_bytes()).unwrap_err();
    assert_eq!(err.reply_code().0, 501);
    // Domain over 255.
    assert!(matches!(
        Host::try_from("a".repeat(256).as_str()),
        Err(ValidationError::TooLong { .. })
    ));
}

#[test]
fn cr_lf_nul_refused_in_every_field() {
    for bad in ["a\rb", "a\nb", "a\0b", "a\r\nMAIL FROM:<x@y>"] {
        assert!(Host::try_from(bad).is_err(), "host {bad:?}");
        assert!(LocalPart::try_from(bad).is_err(), "local {bad:?}");
        assert!(Text::try_from(bad).is_err(), "text {bad:?}");
        assert!(Keyword::try_from(bad).is_err());
        assert!(EsmtpValue::try_from(bad).is_err());
        assert!(XText::try_from(bad).is_err());
        assert!(Mechanism::try_from(bad).is_err());
        assert!(InitialResponse::new(bad).is_err());
        assert!(Mailbox::try_from(format!("{bad}@x.org")).is_err());
        assert!(Mailbox::try_from(format!("x@{bad}")).is_err());
        assert!(Reply::single(250, None, bad).is_err());
        assert!(
            LocalPart::try_from(format!("\"{bad}\"")).is_err(),
            "quoted {bad:?}"
        );
    }
    assert_eq!(
        Text::try_from("ab\ncd"),
        Err(ValidationError::ByteNotAllowed {
            byte: b'\n',
            index: 2
        })
    );
}

#[test]
fn replies_parse_and_round_trip() {
    let raw = b"250-foo.com greets bar.com\r\n250-8BITMIME\r\n250-SIZE\r\n250-DSN\r\n250 HELP\r\n";
    assert_eq!(reply_frame(raw, 512, 100), Ok(Status::Complete(raw.len())));
    let r = parse_reply(raw).unwrap();
    assert_eq!(r.code().get(), 250);
    assert_eq!(
        r.lines().collect::<Vec<_>>(),
        ["foo.com greets bar.com", "8BITMIME", "SIZE", "DSN", "HELP"]
    );
    let caps = Capabilities::from_ehlo(&r);
    assert!(caps.eightbitmime && caps.dsn && caps.size == Some(0));
    assert_eq!(caps.domain, "foo.com");
    let mut enc = Vec::new();
    r.encode(&mut enc);
    assert_eq!(enc, raw);

    let r = parse_reply(b"235 2.7.0 Authentication successful\r\n").unwrap();
    assert_eq!(r.enhanced(), Some(EnhancedCode::new(2, 7, 0).unwrap()));
    assert_eq!(r.text(), "Authentication successful");
    let r = parse_reply(b"334\r\n").unwrap();
    assert_eq!(r.text(), "");
    // Enhanced class must match the code.
    assert_eq!(parse_reply(b"250 5.0.0 odd\r\n").unwrap().enhanced(), None);
    let built = Reply::new(
        ReplyCode::new(250).unwrap(),
        EnhancedCode::new(2, 1, 0).ok(),
        &["a", "b"],
    )
    .unwrap();
    assert_eq!(built.as_bytes(), b"250-2.1.0 a\r\n250 2.1.0 b\r\n");
    assert_eq!(parse_reply(built.as_bytes()).unwrap(), built);
    assert_eq!(built.lines().collect::<Vec<_>>(), ["a", "b"]);
}

#[test]
fn reply_errors() {
    assert_eq!(
        parse_reply(b"250-a\r\n251 b\r\n"),
        Err(ParseError::BadReply)
    );
    assert_eq!(parse_reply(b"650 x\r\n"), Err(ParseError::BadReply));
    assert_eq!(parse_reply(b"25 x\r\n"), Err(ParseError::BadReply));
    assert_eq!(reply_frame(b"250 x\n", 512, 10), Err(FrameError::Malformed));
    assert_eq!(
        reply_frame(b"hello\r\n", 512, 10),
        Err(FrameError::Malformed)
    );
    assert_eq!(reply_frame(b"xyz", 512, 10), Err(FrameError::Malformed));
    assert_eq!(
        reply_frame(&[b'2'; 600], 512, 10),
        Err(FrameError::LineTooLong)
    );
    assert_eq!(
        reply_frame(b"250-a\r\n250-b\r\n250-c\r\n", 512, 2),
        Err(FrameError::TooManyLines)
    );
}

#[test]
fn reply_frame_every_prefix_is_partial() {
    let raw = b"250-foo.com\r\n250-PIPELINING\r\n250 CHUNKING\r\n";
    for i in 0..raw.len() {
        assert_eq!(
            reply_frame(&raw[..i], 512, 100),
            Ok(Status::Partial),
            "prefix {i}"
        );
    }
    assert_eq!(reply_frame(raw, 512, 100), Ok(Status::Complete(raw.len())));
    let mut two = raw.to_vec();
    two.extend_from_slice(b"221 bye\r\n");
    assert_eq!(reply_frame(&two, 512, 100), Ok(Status::Complete(raw.len())));
}

#[test]
fn corpus_smtp_replies_parse() {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/corpus/smtp/mailkit-replies"
    );
    let Ok(entries) = std::fs::read_dir(dir) else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "corpus folder {dir} missing"
        );
        eprintln!("skipping: corpus folder {dir} missing");
        return;
    };
    let mut n = 0;
    for e in entries {
        let path = e.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("txt") {
            continue;
        }
        let text = std::fs::read(&path).unwrap();
        let mut wire = Vec::new();
        for &b in &text {
            if b == b'\n' {
                wire.push(b'\r');
            }
            wire.push(b);
        }
        let mut rest = &wire[..];
        while !rest.is_empty() {
            let Ok(Status::Complete(len)) = reply_frame(rest, 4096, 1000) else {
                panic!(
                    "{}: cannot frame {:?}",
                    path.display(),
                    String::from_utf8_lossy(rest)
                );
            };
            parse_reply(&rest[..len]).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            rest = &rest[len..];
            n += 1;
        }
    }
    assert!(n > 10, "only {n} replies");
}

fn arb_host() -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::collection::vec("[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?", 1..4)
            .prop_map(|v| v.join(".")),
        (any::<u8>(), any::<u8>(), any::<u8>(), any::<u8>())
            .prop_map(|(a, b, c, d)| format!("[{a}.{b}.{c}.{d}]")),
        "é[a-z]{1,5}\\.[a-z]{2,3}",
    ]
}

fn arb_local() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]{1,10}(\\.[a-zA-Z0-9_-]{1,5}){0,2}",
        "\"[ a-z!#-@]{0,10}\"",
        "ü[a-z]{0,5}",
    ]
}

fn arb_command() -> impl Strategy<Value = Command<'static>> {
    let mailbox = || {
        (arb_local(), arb_host()).prop_map(|(l, h)| Mailbox::try_from(format!("{l}@{h}")).unwrap())
    };
    let mail_params = (
        proptest::option::of(0u64..u64::MAX),
        proptest::option::of(prop_oneof![
            Just(BodyType::SevenBit),
            Just(BodyType::EightBitMime),
            Just(BodyType::BinaryMime)
        ]),
        any::<bool>(),
        proptest::option::of(prop_oneof![Just(Ret::Full), Just(Ret::Hdrs)]),
        proptest::option::of("[!-*,-<>-~]{1,20}"),
        any::<bool>(),
        proptest::option::of(-9i8..=9),
    )
        .prop_map(
            |(size, body, smtputf8, ret, envid, requiretls, prio)| MailParams {
                size,
                body,
                smtputf8,
                ret,
                envid: envid.map(|e| XText::try_from(e).unwrap()),
                requiretls,
                mt_priority: prio.map(|p| Priority::new(p).unwrap()),
                ..Default::default()
            },
        );
    let notify = proptest::option::of((any::<bool>(), any::<bool>(), any::<bool>()).prop_map(
        |(success, failure, delay)| Notify {
            success,
            failure,
            delay,
        },
    ));
    prop_oneof![
        arb_host().prop_map(|h| Command::Ehlo(Host::try_from(h).unwrap())),
        arb_host().prop_map(|h| Command::Helo(Host::try_from(h).unwrap())),
        (proptest::option::of(mailbox()), mail_params)
            .prop_map(|(m, p)| Command::Mail(m.map_or(ReversePath::Null, ReversePath::Mailbox), p)),
        (mailbox(), notify).prop_map(|(m, n)| Command::Rcpt(
            ForwardPath::Mailbox(m),
            RcptParams {
                notify: n,
                ..Default::default()
            }
        )),
        Just(Command::Data),
        (any::<u64>(), any::<bool>()).prop_map(|(size, last)| Command::Bdat { size, last }),
        Just(Command::Rset),
        Just(Command::Quit),
        Just(Command::StartTls),
        "[ -~]{1,30}"
            .prop_filter("no edge spaces", |s| !s.starts_with(' '))
            .prop_map(|s| Command::Vrfy(Text::try_from(s).unwrap())),
        proptest::option::of("[!-~][ -~]{0,20}")
            .prop_map(|s| Command::Noop(s.map(|s| Text::try_from(s).unwrap()))),
        (
            "[A-Z0-9_-]{1,20}",
            proptest::option::of("[A-Za-z0-9+/]{1,40}={0,2}")
        )
            .prop_map(|(m, ir)| Command::Auth(
                Mechanism::try_from(m).unwrap(),
                ir.map(|ir| InitialResponse::new(ir).unwrap())
            )),
    ]
}

proptest! {
    /// RFC 6710 §3 `priority-value`: every value prints in a form that
    /// parses back to it; a leading `+` is the same value; any other text
    /// that parses is a sign and one digit.
    #[test]
    fn rfc6710_3_priority_round_trip(p in -9i8..=9, text in "[-+0-9a]{0,3}") {
        let v = Priority::new(p).unwrap();
        prop_assert_eq!(v.to_string().parse::<Priority>(), Ok(v));
        if p >= 0 {
            prop_assert_eq!(format!("+{p}").parse::<Priority>(), Ok(v));
        }
        if let Ok(q) = text.parse::<Priority>() {
            let digits = text.trim_start_matches(['+', '-']);
            prop_assert!(digits.len() == 1 && text.len() - digits.len() <= 1, "{}", text);
            prop_assert_eq!(q.get().unsigned_abs(), digits.as_bytes()[0] - b'0');
        }
    }

    #[test]
    fn command_round_trip(cmd in arb_command()) {
        let enc = cmd.to_bytes();
        let back = parse_command(&enc[..enc.len() - 2]).unwrap();
        prop_assert_eq!(back, cmd);
    }

    #[test]
    fn command_parser_never_panics(line in proptest::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(cmd) = parse_command(&line) {
            // Whatever parses encodes to something that parses the same.
            let enc = cmd.to_bytes();
            prop_assert_eq!(parse_command(&enc[..enc.len() - 2]).unwrap(), cmd);
        }
    }

    #[test]
    fn reply_round_trip(code in 200u16..=559, lines in proptest::collection::vec("[ -~é]{0,30}", 1..5), enh in any::<bool>()) {
        prop_assume!(ReplyCode::new(code).is_ok());
        let enhanced = if enh && code / 100 != 3 { EnhancedCode::new((code / 100) as u8, 1, 2).ok() } else { None };
        let r = Reply::new(ReplyCode::new(code).unwrap(), enhanced, &lines).unwrap();
        let raw = r.as_bytes().to_vec();
        prop_assert_eq!(reply_frame(&raw, 4096, 100), Ok(Status::Complete(raw.len())));
        let back = parse_reply(&raw).unwrap();
        prop_assert_eq!(back.code(), r.code());
        prop_assert_eq!(back.enhanced(), enhanced);
        if enhanced.is_some() {
            let got: Vec<&str> = back.lines().collect();
            let want: Vec<&str> = lines.iter().map(|s| s.as_str()).collect();
            prop_assert_eq!(got, want);
        }
    }

    #[test]
    fn reply_parser_never_panics(data in proptest::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(Status::Complete(n)) = reply_frame(&data, 512, 10) {
            let _ = parse_reply(&data[..n]);
        }
    }
}

#[test]
fn ehlo_capabilities_keywords_case_and_params() {
    let raw = b"250-mx.example.com Hello there\r\n250-size 52428800\r\n250-auth plain LOGIN Plain cram-md5\r\n250-AUTH=LOGIN PLAIN\r\n250-x-exps GSSAPI NTLM\r\n250-starttls\r\n250 CHUNKING\r\n";
    let reply = parse_reply(raw).unwrap();
    let caps = Capabilities::from_ehlo(&reply);
    assert_eq!(caps.domain, "mx.example.com");
    assert_eq!(caps.size, Some(52428800));
    // Known mechanisms come best first, whatever the server's order.
    assert_eq!(
        caps.auth.names().collect::<Vec<_>>(),
        ["CRAM-MD5", "PLAIN", "LOGIN"]
    );
    assert_eq!(caps.auth.len(), 3);
    assert!(caps.auth.contains(mailwire_sasl::Mechanism::Login));
    assert!(!caps.auth.contains(mailwire_sasl::Mechanism::ScramSha256));
    assert!(caps.has_auth("cram-md5") && caps.starttls && caps.chunking && !caps.pipelining);
    let other: Vec<(&str, Vec<&str>)> = caps
        .other
        .iter()
        .map(|e| (e.keyword.as_ref(), e.words().collect()))
        .collect();
    assert_eq!(
        other,
        [
            ("AUTH=LOGIN", vec!["PLAIN"]),
            ("X-EXPS", vec!["GSSAPI", "NTLM"])
        ]
    );
    // The server's own EHLO lines read back the same.
    let lines = caps.to_lines();
    let mut all = vec!["mx.example.com".to_owned()];
    all.extend(lines);
    let reply = Reply::new(ReplyCode::new(250).unwrap(), None, &all).unwrap();
    let again = Capabilities::from_ehlo(&reply);
    assert_eq!(again, caps);
}

//! Every recorded server reply in ../shared/corpus/pop3/ (MailKit's
//! recordings of Gmail, Exchange, Comcast and others) parses; the
//! deliberately broken ones (`*-error*`) are refused with a typed error.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use mailwire_pop3::*;

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/corpus/pop3");

/// The command a recording answers, from its file name.
fn kind_of(name: &str) -> ResponseKind {
    let stem = name.trim_end_matches(".txt");
    let base: String = stem
        .chars()
        .take_while(|c| c.is_ascii_alphabetic())
        .collect();
    let has_num = stem[base.len()..].starts_with(|c: char| c.is_ascii_digit());
    match base.as_str() {
        "capa" | "getlang" => ResponseKind::MultiLine,
        "list" | "uidl" if !has_num => ResponseKind::MultiLine,
        "retr" | "top" => ResponseKind::Content,
        "plus" => ResponseKind::Auth,
        _ => ResponseKind::SingleLine,
    }
}

fn crlf(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + bytes.len() / 20);
    for &b in bytes {
        if b == b'\n' {
            out.push(b'\r');
        }
        out.push(b);
    }
    out
}

/// Decodes every response in `wire` (some files hold several pipelined
/// answers).
fn decode_all(kind: ResponseKind, wire: &[u8]) -> Result<Vec<Vec<Decoded>>, DecodeError> {
    let mut rest = wire;
    let mut all = Vec::new();
    while !rest.is_empty() {
        let (units, left) = decode_response(kind, rest)?;
        assert!(left < rest.len(), "no progress");
        rest = &rest[rest.len() - left..];
        all.push(units);
    }
    Ok(all)
}

/// Checks the meaning of one response; returns whether it is valid.
fn meaning(name: &str, units: &[Decoded]) -> bool {
    let Some(Decoded::Status(status)) = units.first() else {
        return matches!(units, [Decoded::Continuation(_)]);
    };
    // Round trip of the status line.
    let mut enc = Vec::new();
    status.encode(&mut enc);
    assert_eq!(
        &parse_status_line(&enc[..enc.len() - 2]).unwrap(),
        status,
        "{name}"
    );
    let want = name.trim_end_matches(".txt");
    let lines = || {
        units.iter().filter_map(|u| match u {
            Decoded::Line(l) => Some(l.clone()),
            _ => None,
        })
    };
    let digit = |s: &str| {
        s.chars()
            .find(|c| c.is_ascii_digit())
            .and_then(|c| c.to_digit(10))
    };
    match () {
        _ if want.starts_with("stat") => parse_drop_listing(status.text.as_bytes()).is_ok(),
        _ if want.starts_with("list") && kind_of(name) == ResponseKind::SingleLine => {
            parse_scan_listing(status.text.as_bytes())
                .is_ok_and(|l| Some(l.msg.get()) == digit(want))
        }
        _ if want.starts_with("uidl") && kind_of(name) == ResponseKind::SingleLine => {
            parse_uid_listing(status.text.as_bytes())
                .is_ok_and(|l| Some(l.msg.get()) == digit(want))
        }
        _ if want.starts_with("list") => lines().all(|l| parse_scan_listing(&l).is_ok()),
        _ if want.starts_with("uidl") => lines().all(|l| parse_uid_listing(&l).is_ok()),
        _ if want.starts_with("getlang") => lines().all(|l| parse_lang_listing(&l).is_ok()),
        _ if want.starts_with("capa") => lines().all(|l| {
            let c = parse_capability(&l).unwrap_or_else(|e| panic!("{name}: {e} in {l:?}"));
            let mut enc = Vec::new();
            c.encode(&mut enc);
            assert_eq!(
                parse_capability(&enc[..enc.len() - 2]).unwrap(),
                c,
                "{name}"
            );
            true
        }),
        _ => true,
    }
}

#[test]
fn corpus_replies_parse() {
    if !Path::new(CORPUS).is_dir() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "corpus missing at {CORPUS}"
        );
        eprintln!("skipping: corpus not found at {CORPUS}");
        return;
    }
    let mut files = 0;
    let mut rejected = Vec::new();
    for dir in std::fs::read_dir(CORPUS).unwrap() {
        let dir = dir.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        for f in std::fs::read_dir(&dir).unwrap() {
            let path = f.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let wire = crlf(&std::fs::read(&path).unwrap());
            let kind = kind_of(&name);
            let responses =
                decode_all(kind, &wire).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(!responses.is_empty(), "{name}");
            files += 1;
            let valid = responses.iter().all(|r| meaning(&name, r));
            // "retr1-parse-error" is a MIME-level error in MailKit's tests:
            // at the POP3 level it is a good answer.
            let broken = name.contains("-error") && !name.contains("parse-error");
            // list-error2 / uidl-error2 skip a number: legal in POP3 (a
            // deleted message is not listed, RFC 1939 §5).
            let legal_gap = name == "list-error2.txt" || name == "uidl-error2.txt";
            if broken && !legal_gap {
                assert!(!valid, "{}: broken recording accepted", path.display());
                rejected.push(name.clone());
            } else {
                assert!(valid, "{}: refused", path.display());
            }
            if kind == ResponseKind::Content {
                // Content comes out unstuffed: the ".." lines lose one dot.
                let body: Vec<u8> = responses[0]
                    .iter()
                    .filter_map(|u| match u {
                        Decoded::Chunk(c) => Some(c.to_vec()),
                        _ => None,
                    })
                    .flatten()
                    .collect();
                let restuffed = mailwire_line::stuff_all(&body);
                let first_line = wire.windows(2).position(|w| w == b"\r\n").unwrap() + 2;
                assert_eq!(
                    &wire[first_line..first_line + restuffed.len()],
                    &restuffed[..],
                    "{name}"
                );
            }
        }
    }
    assert!(files >= 60, "only {files} files");
    assert!(rejected.len() >= 10, "{rejected:?}");
}

//! Every command and response line of the examples in RFC 3501 and RFC 9051
//! (§6, §7 and the §8 sample session) parses, encodes and parses again to the
//! same value. Lines are taken from the RFC texts in ../shared/rfc/.

// Test helpers outside #[test] functions unwrap too: a failure is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use mailwire_imap::{encode, parse};

const RFC_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/rfc");

/// A `C:` or `S:` line (with wrapped continuation lines joined) and where it was.
#[derive(Debug)]
struct Line {
    client: bool,
    text: String,
    line_no: usize,
    /// Inside an example after a literal announcement from the same side.
    after_literal: bool,
}

fn transcript(file: &str, start: &str, end: &str) -> Option<Vec<Line>> {
    let path = format!("{RFC_DIR}/{file}");
    let Ok(text) = std::fs::read_to_string(&path) else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{path} missing"
        );
        eprintln!("skipping: {path} missing");
        return None;
    };
    let mut out: Vec<Line> = Vec::new();
    let mut inside = false;
    let mut prev_indent = None;
    let mut literal_side: Option<bool> = None;
    for (n, raw) in text.lines().enumerate() {
        if raw.starts_with(start) {
            inside = true;
        }
        if raw.starts_with(end) {
            inside = false;
        }
        if !inside {
            continue;
        }
        let trimmed = raw.trim_start();
        let body = trimmed
            .strip_prefix("Example:")
            .map(str::trim_start)
            .unwrap_or(trimmed);
        let indent = raw.len() - trimmed.len();
        if let Some(rest) = body
            .strip_prefix("C: ")
            .or_else(|| body.strip_prefix("S: "))
        {
            let rest = rest.trim_start();
            let client = body.starts_with('C');
            if literal_side == Some(!client) && !rest.starts_with('+') {
                literal_side = None;
            }
            let after_literal = literal_side == Some(client);
            if rest.trim_end().ends_with('}') {
                literal_side = Some(client);
            }
            out.push(Line {
                client,
                text: rest.trim_end().to_owned(),
                line_no: n + 1,
                after_literal,
            });
            prev_indent = Some(indent);
        } else if body.is_empty() || raw.starts_with("RFC ") || raw.contains("[Page ") {
            if body.is_empty() {
                prev_indent = None;
                literal_side = None;
            }
        } else if let (Some(pi), Some(last)) = (prev_indent, out.last_mut()) {
            // A wrapped line of the previous example line ("broken for editorial clarity").
            if indent > pi {
                last.text.push(' ');
                last.text.push_str(body.trim_end());
            } else {
                prev_indent = None;
            }
        }
    }
    Some(out)
}

/// Lines the grammar cannot take as they stand, each with its reason.
fn skipped(l: &Line) -> Option<&'static str> {
    let t = l.text.as_str();
    if l.after_literal {
        return Some(
            "literal data and the rest of its message: tested with exact bytes in rfc_examples.rs",
        );
    }
    if t.contains('{') && (t.ends_with('}') || t.contains("}\u{20}")) {
        return Some("literal: tested with exact bytes in rfc_examples.rs");
    }
    if t == "DONE" {
        return Some("IDLE's DONE: parse::idle_done");
    }
    if t == "..." || t.starts_with("...") || t.contains("...") {
        return Some("elided example text");
    }
    if l.client
        && !t.contains(' ')
        && t.len() > 2
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b))
    {
        return Some("AUTHENTICATE data line: parse::authenticate_data");
    }
    if l.client
        && t.len() > 40
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+/= ".contains(&b))
    {
        return Some("AUTHENTICATE data (wrapped in the RFC)");
    }
    if t == "A442 XPIG-LATIN" {
        assert!(parse::command(b"A442 XPIG-LATIN\r\n").is_err());
        return Some("an unknown command, which the example answers with BAD");
    }
    if l.client && (t.is_empty() || t == "\"\"") {
        return Some("empty AUTHENTICATE response");
    }
    None
}

fn check(file: &str, start: &str, end: &str, min_lines: usize) {
    let Some(lines) = transcript(file, start, end) else {
        return;
    };
    let mut failures = Vec::new();
    let mut checked = 0;
    for l in &lines {
        if skipped(l).is_some() {
            continue;
        }
        let wire = format!("{}\r\n", l.text);
        if l.client {
            match parse::command(wire.as_bytes()) {
                Ok((c, n)) => {
                    assert_eq!(n, wire.len(), "{file}:{}", l.line_no);
                    let again = encode::command_to_vec(&c);
                    let (c2, _) = parse::command(&again).unwrap_or_else(|e| {
                        panic!(
                            "{file}:{} re-encoded {:?}: {e}",
                            l.line_no,
                            String::from_utf8_lossy(&again)
                        )
                    });
                    assert_eq!(c, c2, "{file}:{}", l.line_no);
                    checked += 1;
                }
                Err(e) => failures.push(format!("{file}:{} C: {:?}: {e}", l.line_no, l.text)),
            }
        } else {
            match parse::response(wire.as_bytes()) {
                Ok((r, n)) => {
                    assert_eq!(n, wire.len(), "{file}:{}", l.line_no);
                    let again = encode::response_to_vec(&r);
                    let (r2, _) = parse::response(&again).unwrap_or_else(|e| {
                        panic!(
                            "{file}:{} re-encoded {:?}: {e}",
                            l.line_no,
                            String::from_utf8_lossy(&again)
                        )
                    });
                    assert_eq!(r, r2, "{file}:{}", l.line_no);
                    checked += 1;
                }
                Err(e) => failures.push(format!("{file}:{} S: {:?}: {e}", l.line_no, l.text)),
            }
        }
    }
    for f in &failures {
        eprintln!("{f}");
    }
    assert!(
        failures.is_empty(),
        "{} of {} lines failed",
        failures.len(),
        lines.len()
    );
    assert!(checked >= min_lines, "{file}: only {checked} lines checked");
}

#[test]
fn rfc3501_6_commands_transcripts() {
    check(
        "rfc3501.txt",
        "6.      Client Commands",
        "7.      Server Responses",
        150,
    );
}

#[test]
fn rfc3501_7_responses_examples() {
    check(
        "rfc3501.txt",
        "7.      Server Responses",
        "8.      Sample IMAP4rev1 connection",
        33,
    );
}

#[test]
fn rfc3501_8_sample_session() {
    check(
        "rfc3501.txt",
        "8.      Sample IMAP4rev1 connection",
        "9.      Formal Syntax",
        20,
    );
}

#[test]
fn rfc9051_6_commands_transcripts() {
    check(
        "rfc9051.txt",
        "6.  Client Commands",
        "7.  Server Responses",
        300,
    );
}

#[test]
fn rfc9051_7_responses_examples() {
    check(
        "rfc9051.txt",
        "7.  Server Responses",
        "8.  Sample IMAP4rev2 Connection",
        60,
    );
}

#[test]
fn rfc9051_8_sample_session() {
    check(
        "rfc9051.txt",
        "8.  Sample IMAP4rev2 Connection",
        "9.  Formal Syntax",
        20,
    );
}

//! Recorded POP3 and SMTP server output (MailKit's recordings, read in place
//! from ../shared/corpus): every status line frames, every multi-line POP3
//! response unstuffs to its end (RFC 1939 §3), the encoder gives the exact
//! wire back, and any split gives the same result.

// Test support: a missing or unreadable corpus file is a test failure.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use bytes::BytesMut;
use mailwire_line::{
    DataEnd, LineConfig, LineFramer, Status, UnstuffConfig, Unstuffed, Unstuffer, stuff_all,
};

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/corpus");

/// The files of `corpus/<sub>/*/`, or None (skip) outside CI when missing.
fn files(sub: &str) -> Option<Vec<PathBuf>> {
    let dir = Path::new(CORPUS).join(sub);
    if !dir.is_dir() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "corpus folder {} missing",
            dir.display()
        );
        eprintln!("corpus folder {} missing: skipped", dir.display());
        return None;
    }
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            for f in std::fs::read_dir(&path).unwrap() {
                let f = f.unwrap().path();
                if f.extension().is_some_and(|e| e == "txt") {
                    out.push(f);
                }
            }
        }
    }
    out.sort();
    Some(out)
}

/// The recordings are stored with LF line ends; on the wire each is CRLF.
fn to_wire(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + text.len() / 16);
    for &b in text {
        if b == b'\n' {
            out.push(b'\r');
        }
        out.push(b);
    }
    out
}

#[derive(Debug, Clone, PartialEq)]
enum Item {
    Status(Vec<u8>),
    MultiLine(Vec<u8>, DataEnd),
}

/// Reads a POP3 server's output: status lines, each `+OK` possibly followed
/// by a multi-line body (recognised here by what follows: the recordings
/// do not say which command was sent).
fn read_pop3(wire: &[u8], cuts: &[usize]) -> (Vec<Item>, usize) {
    let mut framer = LineFramer::new(LineConfig::with_max_len(4096));
    let mut buf = BytesMut::new();
    let mut items = Vec::new();
    let mut body: Option<(Unstuffer, Vec<u8>)> = None;
    let mut last = 0;
    for &cut in cuts.iter().chain(std::iter::once(&wire.len())) {
        buf.extend_from_slice(&wire[last..cut]);
        last = cut;
        loop {
            if let Some((u, content)) = body.as_mut() {
                match u.next_chunk(&mut buf) {
                    Status::Complete(Unstuffed::Data(d)) => content.extend_from_slice(&d),
                    Status::Complete(Unstuffed::End(end)) => {
                        framer.skipped(u.consumed());
                        let (_, content) = body.take().unwrap();
                        items.push(Item::MultiLine(content, end));
                    }
                    Status::Partial => break,
                }
                continue;
            }
            // Deciding whether a multi-line body follows needs 4 bytes or
            // the end of the input.
            if matches!(items.last(), Some(Item::Status(s)) if s.starts_with(b"+OK"))
                && (buf.len() >= 4 || last == wire.len())
                && !buf.is_empty()
                && !buf.starts_with(b"+OK")
                && !buf.starts_with(b"-ERR")
                && !buf.starts_with(b"+ ")
            {
                body = Some((Unstuffer::new(UnstuffConfig::default()), Vec::new()));
                continue;
            }
            if buf.len() < 4 && last < wire.len() {
                break;
            }
            match framer.next_line(&mut buf) {
                Some(Ok(line)) => items.push(Item::Status(line.content().to_vec())),
                Some(Err(e)) => panic!("framing error {e}"),
                None => break,
            }
        }
    }
    (items, buf.len())
}

#[test]
fn rfc1939_3_pop3_recordings_unstuff_and_restuff() {
    let Some(files) = files("pop3") else { return };
    let mut bodies = 0;
    for path in &files {
        let wire = to_wire(&std::fs::read(path).unwrap());
        let (items, left) = read_pop3(&wire, &[]);
        let name = path.display();
        assert_eq!(left, 0, "{name}: bytes left over");
        assert!(!items.is_empty(), "{name}");
        // The encoder gives the exact wire back.
        let mut again = Vec::new();
        for item in &items {
            match item {
                Item::Status(s) => {
                    again.extend_from_slice(s);
                    again.extend_from_slice(b"\r\n");
                }
                Item::MultiLine(content, end) => {
                    bodies += 1;
                    assert_eq!(
                        *end,
                        DataEnd::Accepted {
                            size: content.len() as u64
                        },
                        "{name}"
                    );
                    again.extend_from_slice(&stuff_all(content));
                }
            }
        }
        assert_eq!(again, wire, "{name}: re-encoding differs");
        // Any split gives the same items.
        for cut in (0..wire.len()).step_by(wire.len() / 64 + 1) {
            assert_eq!(
                read_pop3(&wire, &[cut]),
                (items.clone(), 0),
                "{name} cut {cut}"
            );
        }
    }
    eprintln!(
        "{} POP3 recordings, {bodies} multi-line bodies",
        files.len()
    );
    assert!(bodies >= 10, "only {bodies} multi-line bodies found");
}

#[test]
fn rfc5321_4_2_smtp_reply_recordings_frame() {
    // RFC 5321 §4.2: replies are CRLF lines; §4.5.3.1.5 caps a reply line
    // at 512 octets.
    let Some(files) = files("smtp") else { return };
    let mut lines = 0;
    for path in &files {
        let wire = to_wire(&std::fs::read(path).unwrap());
        let mut framer = LineFramer::new(LineConfig::with_max_len(512));
        let mut buf = BytesMut::from(&wire[..]);
        while let Some(line) = framer.next_line(&mut buf) {
            let line = line.unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(line.content().len() >= 3, "{}", path.display());
            lines += 1;
        }
        assert!(buf.is_empty(), "{}: unterminated line", path.display());
        assert_eq!(framer.offset(), wire.len() as u64);
    }
    assert!(lines > 50, "only {lines} lines");
}

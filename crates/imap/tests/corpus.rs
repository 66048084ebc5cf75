//! Every recorded server reply under ../shared/corpus/imap/ parses completely,
//! response by response, through the fragmenter.

// Test helpers outside #[test] functions unwrap too: a failure is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use mailwire_imap::{FragmentOptions, Fragmenter, Frame, Response, parse};

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/corpus/imap");

fn crlf(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + data.len() / 20);
    for &b in data {
        if b == b'\n' {
            out.push(b'\r');
        }
        out.push(b);
    }
    out
}

fn files() -> Option<Vec<std::path::PathBuf>> {
    let root = Path::new(CORPUS);
    if !root.is_dir() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "corpus folder {CORPUS} is missing"
        );
        eprintln!("skipping: corpus folder {CORPUS} is missing");
        return None;
    }
    let mut out = Vec::new();
    for dir in std::fs::read_dir(root).unwrap() {
        let dir = dir.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        for f in std::fs::read_dir(&dir).unwrap() {
            let f = f.unwrap().path();
            if f.extension().is_some_and(|e| e == "txt") {
                out.push(f);
            }
        }
    }
    out.sort();
    Some(out)
}

#[test]
fn corpus_responses_parse_completely() {
    let Some(files) = files() else { return };
    assert!(
        files.len() > 280,
        "expected the MailKit recordings, found {}",
        files.len()
    );
    let mut failures = Vec::new();
    let mut responses = 0;
    let mut fetches = 0;
    let mut others: Vec<String> = Vec::new();
    for path in &files {
        let data = crlf(&std::fs::read(path).unwrap());
        let mut opts = FragmentOptions::default();
        opts.blank_line_after_literal_continues = true;
        let mut f = Fragmenter::new(opts);
        f.push(&data);
        let mut seen = 0usize;
        loop {
            match f.poll() {
                Ok(Some(Frame::Message(msg))) => {
                    seen += msg.len();
                    match parse::response(&msg) {
                        Ok((r, n)) => {
                            assert_eq!(
                                n,
                                msg.len(),
                                "{}: response not consumed whole",
                                path.display()
                            );
                            responses += 1;
                            if let Response::Data(mailwire_imap::Data::Other { name, .. }) = &r {
                                others.push(name.as_str().to_owned());
                            }
                            if matches!(r, Response::Data(mailwire_imap::Data::Fetch { .. })) {
                                fetches += 1;
                            }
                            // Serialize and parse again: the same value.
                            let again = mailwire_imap::encode::response_to_vec(&r);
                            match parse::response(&again) {
                                Ok((r2, _)) => assert_eq!(r, r2, "{}: round trip", path.display()),
                                Err(e) => failures.push(format!(
                                    "{} re-encoded: {e}: {:?}",
                                    path.display(),
                                    String::from_utf8_lossy(&again[..again.len().min(300)])
                                )),
                            }
                        }
                        Err(e) => failures.push(format!(
                            "{}: {e}: {:?}",
                            path.display(),
                            String::from_utf8_lossy(
                                &msg[e.offset.saturating_sub(40)..msg.len().min(e.offset + 60)]
                            )
                        )),
                    }
                }
                Ok(Some(Frame::LiteralAnnounced { .. })) => {}
                Ok(None) => break,
                Err(e) => panic!("{}: {e}", path.display()),
            }
        }
        assert_eq!(
            seen,
            data.len(),
            "{}: trailing bytes not framed",
            path.display()
        );
    }
    for f in &failures {
        eprintln!("{f}");
    }
    assert!(failures.is_empty(), "{} failures", failures.len());
    // Only responses no RFC this crate implements defines may fall back to `Other`.
    others.sort();
    others.dedup();
    assert!(others.is_empty(), "untyped responses: {others:?}");
    assert!(responses > 1000, "{responses}");
    assert!(fetches > 250, "{fetches}");
}

//! The MIME corpus (../shared/corpus/mime) for the interop tests.

use std::path::{Path, PathBuf};

/// The corpus folder, as seen from the repository root.
pub const MIME: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpus/mime");

/// The files of the MIME corpus, sorted, as (path below the corpus
/// folder, bytes with CRLF line ends): the messages
/// ([`mailwire_testkit::corpus::mime_messages`]), and with `fixtures` the
/// encoder fixtures too (`photo.*`, `wikipedia.*`: bodies without a
/// header). `None` (the test skips) when the corpus is missing; under CI
/// that fails instead.
pub fn mime_messages(fixtures: bool) -> Option<Vec<(String, Vec<u8>)>> {
    let root = Path::new(MIME);
    if !root.is_dir() {
        assert!(!super::ci(), "corpus {MIME} is missing (CI=true)");
        eprintln!("skipping: corpus {MIME} is missing");
        return None;
    }
    let mut files: Vec<PathBuf> = if fixtures {
        std::fs::read_dir(root)
            .unwrap()
            .flatten()
            .flat_map(|d| std::fs::read_dir(d.path()).into_iter().flatten().flatten())
            .map(|f| f.path())
            .filter(|p| !p.ends_with("COPYING") && !p.ends_with("LICENSE"))
            .collect()
    } else {
        mailwire_testkit::corpus::mime_messages(root)?
    };
    files.sort();
    Some(
        files
            .into_iter()
            .map(|p| {
                let name = p.strip_prefix(root).unwrap().display().to_string();
                (name, crlf(&std::fs::read(&p).unwrap()))
            })
            .collect(),
    )
}

/// CRLF line ends, as a server stores and serves a message: a bare LF or
/// a bare CR is a line end.
pub fn crlf(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 32);
    for (i, &b) in raw.iter().enumerate() {
        if b == b'\n' && (i == 0 || raw[i - 1] != b'\r') {
            out.push(b'\r');
        }
        out.push(b);
        if b == b'\r' && raw.get(i + 1) != Some(&b'\n') {
            out.push(b'\n');
        }
    }
    out
}

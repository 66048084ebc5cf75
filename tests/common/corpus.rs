//! The MIME corpus (../shared/corpus/mime) for the interop tests.

use std::path::{Path, PathBuf};

/// The corpus folder, as seen from the repository root.
pub const MIME: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpus/mime");

/// Every file of the MIME corpus but the licence files, sorted, as
/// (path below the corpus folder, bytes with CRLF line ends). `None` (the
/// test skips) when the corpus is missing; under CI that fails instead.
pub fn mime_messages() -> Option<Vec<(String, Vec<u8>)>> {
    let root = Path::new(MIME);
    if !root.is_dir() {
        assert!(!super::ci(), "corpus {MIME} is missing (CI=true)");
        eprintln!("skipping: corpus {MIME} is missing");
        return None;
    }
    let mut files: Vec<PathBuf> = Vec::new();
    for d in std::fs::read_dir(root).unwrap().flatten() {
        for f in std::fs::read_dir(d.path()).into_iter().flatten().flatten() {
            let name = f.file_name().to_string_lossy().into_owned();
            if name != "COPYING" && name != "LICENSE" {
                files.push(f.path());
            }
        }
    }
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

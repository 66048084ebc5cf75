//! The shared test corpus (`../shared/corpus/`, described in its README):
//! which files of `corpus/mime/` are messages.

use std::path::{Path, PathBuf};

/// Every message file under `dir` (`corpus/mime/`: one folder per
/// source), sorted by path: the licence files and the encoder fixtures
/// (`photo.*`, `wikipedia.*`) left out. `None` when `dir` cannot be read
/// (the caller skips, or fails under CI).
pub fn mime_messages(dir: &Path) -> Option<Vec<PathBuf>> {
    let dirs = std::fs::read_dir(dir).ok()?;
    let mut files = Vec::new();
    for d in dirs.flatten() {
        for f in std::fs::read_dir(d.path()).into_iter().flatten().flatten() {
            let name = f.file_name().to_string_lossy().into_owned();
            let fixture = name == "COPYING"
                || name == "LICENSE"
                || name.starts_with("photo.")
                || name.starts_with("wikipedia.");
            if !fixture {
                files.push(f.path());
            }
        }
    }
    files.sort();
    Some(files)
}

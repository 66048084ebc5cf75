//! Shared helpers for the benchmarks (fixtures and ratio reporting).

/// Every message of `../shared/corpus/mime/` (the licence files and the
/// encoder fixtures left out), sorted by path; empty, with a note, when
/// the corpus is missing.
pub fn mime_corpus() -> Vec<Vec<u8>> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/corpus/mime");
    let mut out = Vec::new();
    let Ok(dirs) = std::fs::read_dir(dir) else {
        eprintln!("corpus missing at {dir}: corpus benchmarks skipped");
        return out;
    };
    let mut paths = Vec::new();
    for d in dirs.flatten() {
        for f in std::fs::read_dir(d.path()).into_iter().flatten().flatten() {
            let name = f.file_name().to_string_lossy().into_owned();
            if name == "COPYING"
                || name == "LICENSE"
                || name.starts_with("photo.")
                || name.starts_with("wikipedia.")
            {
                continue;
            }
            paths.push(f.path());
        }
    }
    paths.sort();
    for p in paths {
        if let Ok(d) = std::fs::read(p) {
            out.push(d);
        }
    }
    out
}

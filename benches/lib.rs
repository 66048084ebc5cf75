//! Shared helpers for the benchmarks (fixtures and ratio reporting).

/// Every message of `../shared/corpus/mime/` (the licence files and the
/// encoder fixtures left out), sorted by path; empty, with a note, when
/// the corpus is missing.
pub fn mime_corpus() -> Vec<Vec<u8>> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/corpus/mime");
    let Some(paths) = mailwire_testkit::corpus::mime_messages(std::path::Path::new(dir)) else {
        eprintln!("corpus missing at {dir}: corpus benchmarks skipped");
        return Vec::new();
    };
    paths
        .into_iter()
        .filter_map(|p| std::fs::read(p).ok())
        .collect()
}

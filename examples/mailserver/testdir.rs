//! A scratch directory for one unit test, removed when the test ends,
//! whether it passes or fails (a failed assertion unwinds through the
//! drop), so that a failing test leaves nothing in the temporary
//! directory.

use std::path::{Path, PathBuf};

/// A fresh directory `mailwire-TAG-<unique>` under the temporary
/// directory; removed with everything in it when dropped.
#[derive(Debug)]
pub(crate) struct TestDir(PathBuf);

impl TestDir {
    pub(crate) fn new(tag: &str) -> TestDir {
        let d = std::env::temp_dir().join(format!("mailwire-{tag}-{}", crate::maildir::queue_id()));
        std::fs::create_dir_all(&d).expect("a scratch directory");
        TestDir(d)
    }
}

impl std::ops::Deref for TestDir {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

//! Where Prometheus's PromQL test corpus is found, for the tests that run it.

use std::path::{Path, PathBuf};

/// The corpus directory: `VIGIL_PROMQL_CORPUS`, or `../shared/conformance/promql` beside the
/// repository; `None` (the test is skipped) when the variable is unset and the default place
/// has no corpus. A set variable that points nowhere fails.
pub fn corpus() -> Option<PathBuf> {
    match std::env::var_os("VIGIL_PROMQL_CORPUS") {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            assert!(
                dir.is_dir(),
                "VIGIL_PROMQL_CORPUS={} is not a directory",
                dir.display()
            );
            Some(dir)
        }
        None => {
            let dir =
                PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/conformance/promql");
            dir.is_dir().then_some(dir)
        }
    }
}

/// The `.test` scripts of the corpus in `dir`, sorted by name.
pub fn test_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "test"))
        .collect();
    files.sort();
    files
}

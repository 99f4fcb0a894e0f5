//! Replays the committed inputs of the `analyze` fuzz target, `fuzz/corpus/analyze/*`
//! (seeds) and `fuzz/regressions/analyze/*` (every crash the fuzzer found, kept forever),
//! through the same harness on stable: `fuzz/src/analyze.rs` is included, not copied.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

#[path = "../../../fuzz/src/analyze.rs"]
mod harness;

/// Files of `fuzz/<kind>/analyze/`, sorted; none when the directory does not exist.
fn inputs(kind: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz")
        .join(kind)
        .join("analyze");
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = rd
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

/// Runs every input of `kind`; panics listing each one whose harness panicked.
fn replay(kind: &str) -> usize {
    let mut failed = Vec::new();
    let files = inputs(kind);
    for path in &files {
        let data = std::fs::read(path).expect("read fuzz input");
        if catch_unwind(AssertUnwindSafe(|| harness::analyze(&data))).is_err() {
            failed.push(path.display().to_string());
        }
    }
    assert!(
        failed.is_empty(),
        "{} input(s) panicked:\n{}",
        failed.len(),
        failed.join("\n")
    );
    files.len()
}

#[test]
fn analyze_seeds_replay_without_panic() {
    assert!(replay("corpus") > 0, "no seeds in fuzz/corpus/analyze");
}

#[test]
fn analyze_regressions_replay_without_panic() {
    replay("regressions");
}

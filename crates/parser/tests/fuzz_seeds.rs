//! Replays the committed fuzz inputs, `fuzz/corpus/<target>/*` (seeds) and
//! `fuzz/regressions/<target>/*` (minimized crashes), through the fuzz harnesses on stable, so
//! `cargo test` catches a decoder regression without cargo-fuzz or a nightly toolchain.
//!
//! The harnesses are not copied: `fuzz/src/lib.rs` is included as a module, so this runs
//! exactly the code `cargo fuzz run <target>` runs.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

#[path = "../../../fuzz/src/lib.rs"]
mod harness;

type Harness = fn(&[u8]);

/// Every fuzz target and its harness; a corpus directory with another name fails the test.
const TARGETS: [(&str, Harness); 6] = [
    ("records", harness::records),
    ("listpack", harness::listpack),
    ("ziplist", harness::ziplist),
    ("intset", harness::intset),
    ("zipmap", harness::zipmap),
    ("lzf", harness::lzf),
];

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

/// Files of `fuzz/<kind>/<target>/`, sorted; none when the directory does not exist.
fn inputs(kind: &str, target: &str) -> Vec<PathBuf> {
    let Ok(dir) = std::fs::read_dir(fuzz_dir().join(kind).join(target)) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = dir
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

/// Runs every committed input of `target` and returns how many ran; panics listing every
/// input whose harness panicked (each panic message is printed by the default hook).
fn replay(target: &str) -> usize {
    let (_, run) = TARGETS
        .iter()
        .find(|(name, _)| *name == target)
        .expect("known target");
    let mut ran = 0;
    let mut failed = Vec::new();
    for kind in ["corpus", "regressions"] {
        for path in inputs(kind, target) {
            let data = std::fs::read(&path).expect("read fuzz input");
            if catch_unwind(AssertUnwindSafe(|| run(&data))).is_err() {
                failed.push(path.display().to_string());
            }
            ran += 1;
        }
    }
    assert!(
        failed.is_empty(),
        "{target}: {} input(s) panicked:\n{}",
        failed.len(),
        failed.join("\n")
    );
    ran
}

#[test]
fn records_seeds_replay_without_panic() {
    assert!(replay("records") > 0, "no seeds in fuzz/corpus/records");
}

#[test]
fn listpack_seeds_replay_without_panic() {
    assert!(replay("listpack") > 0, "no seeds in fuzz/corpus/listpack");
}

#[test]
fn ziplist_seeds_replay_without_panic() {
    assert!(replay("ziplist") > 0, "no seeds in fuzz/corpus/ziplist");
}

#[test]
fn intset_seeds_replay_without_panic() {
    assert!(replay("intset") > 0, "no seeds in fuzz/corpus/intset");
}

#[test]
fn zipmap_seeds_replay_without_panic() {
    assert!(replay("zipmap") > 0, "no seeds in fuzz/corpus/zipmap");
}

#[test]
fn lzf_seeds_replay_without_panic() {
    assert!(replay("lzf") > 0, "no seeds in fuzz/corpus/lzf");
}

/// Targets whose harness needs more than the parser, replayed elsewhere:
/// `analyze` by `crates/analysis/tests/fuzz_seeds.rs`.
const REPLAYED_ELSEWHERE: [&str; 1] = ["analyze"];

/// A seed directory named after no target would silently never run.
#[test]
fn corpus_dirs_unknown_target_is_error() {
    for kind in ["corpus", "regressions"] {
        let Ok(dir) = std::fs::read_dir(fuzz_dir().join(kind)) else {
            continue;
        };
        for entry in dir.flatten().filter(|e| e.path().is_dir()) {
            let name = entry.file_name().to_string_lossy().into_owned();
            assert!(
                TARGETS.iter().any(|(t, _)| *t == name)
                    || REPLAYED_ELSEWHERE.contains(&name.as_str()),
                "fuzz/{kind}/{name} matches no fuzz target"
            );
        }
    }
}

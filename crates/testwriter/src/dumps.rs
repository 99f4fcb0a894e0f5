//! Where the tests find dump files: the repository's `fixtures/` and the shared corpus
//! (`../shared/corpus/*/dump.rdb` beside the repository, which may be absent).

use std::path::{Path, PathBuf};

/// The repository's root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The `fixtures/*.rdb` files, sorted.
pub fn fixtures() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(repo_root().join("fixtures"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "rdb"))
        .collect();
    v.sort();
    v
}

/// The corpus dumps (`../shared/corpus/*/dump.rdb`), sorted; none, with a message on
/// standard error, when the corpus is not beside the repository.
pub fn corpus() -> Vec<PathBuf> {
    let dir = repo_root().join("../shared/corpus");
    let Ok(rd) = std::fs::read_dir(&dir) else {
        eprintln!("skipping corpus dumps: {} not found", dir.display());
        return Vec::new();
    };
    let mut v: Vec<PathBuf> = rd
        .flatten()
        .map(|e| e.path().join("dump.rdb"))
        .filter(|p| p.exists())
        .collect();
    v.sort();
    v
}

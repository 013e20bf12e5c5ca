//! The corpus replay harness shared by the crates' `tests/corpus.rs` (each
//! includes this file with `#[path]`): runs a fuzz target's oracle on every
//! committed corpus input and regression, on stable Rust
//! (ARCHITECTURE.md: "every parser has a fuzz target whose corpus
//! `cargo test` replays").

use std::{
    panic::{AssertUnwindSafe, catch_unwind},
    path::{Path, PathBuf},
};

/// `fuzz/` at the root of the repository, two levels above this crate.
fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("the crate lives in <root>/crates/<crate>")
        .join("fuzz")
}

/// The files directly in `dir`, sorted by name; hidden files are skipped.
/// An absent directory is empty.
fn files_in(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.expect("reading a corpus directory").path())
        .filter(|path| path.is_file())
        .filter(|path| {
            path.file_name()
                .and_then(|name| name.to_str())
                .is_some_and(|name| !name.starts_with('.'))
        })
        .collect();
    files.sort();
    files
}

/// Runs `oracle` on every corpus input and regression of `target`, and fails
/// naming every input whose oracle panicked. A missing or empty corpus fails
/// too, so that the test cannot pass by replaying nothing.
pub(crate) fn replay(target: &str, oracle: &dyn Fn(&[u8])) {
    let corpus_dir = fuzz_dir().join("corpus").join(target);
    let corpus = files_in(&corpus_dir);
    assert!(
        !corpus.is_empty(),
        "{} holds no inputs: the committed corpus of fuzz target `{target}` is missing",
        corpus_dir.display()
    );
    let regressions = files_in(&fuzz_dir().join("regressions").join(target));

    let mut failed = Vec::new();
    for path in corpus.iter().chain(&regressions) {
        let data =
            std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        if catch_unwind(AssertUnwindSafe(|| oracle(&data))).is_err() {
            failed.push(path.display().to_string());
        }
    }
    assert!(
        failed.is_empty(),
        "fuzz target `{target}`: the oracle failed on {} input(s):\n  {}",
        failed.len(),
        failed.join("\n  ")
    );
    println!(
        "fuzz target `{target}`: replayed {} corpus inputs and {} regressions",
        corpus.len(),
        regressions.len()
    );
}

//! Replays the committed fuzz corpora on stable Rust (STYLE.md "Fuzz"): every
//! input under `fuzz/corpus/<target>/` for the compression targets
//! (`decompress_<method>` and `compress_round_trip`), and every crash
//! reproducer under `fuzz/regressions/<target>/`, goes through the same
//! `shoutnet_compress::fuzzing` oracle its cargo-fuzz target calls
//! (docs/PROTOCOL.md §3). So `cargo test` checks whatever the fuzzers found,
//! without nightly or libFuzzer.

use std::{
    panic::{AssertUnwindSafe, catch_unwind},
    path::{Path, PathBuf},
};

use shoutnet_compress::{Method, fuzzing};

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
fn replay(target: &str, oracle: &dyn Fn(&[u8])) {
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

/// Replays `decompress_<method>`.
fn replay_decompress(method: Method) {
    replay(&format!("decompress_{method}"), &|data| {
        fuzzing::decompress(method, data);
    });
}

#[test]
fn decompress_bz2_corpus() {
    replay_decompress(Method::Bz2);
}

#[test]
fn decompress_gzip_corpus() {
    replay_decompress(Method::Gzip);
}

#[test]
fn decompress_lzma_corpus() {
    replay_decompress(Method::Lzma);
}

#[test]
fn decompress_zlib_corpus() {
    replay_decompress(Method::Zlib);
}

#[test]
fn decompress_snappy_corpus() {
    replay_decompress(Method::Snappy);
}

/// As `fuzz/fuzz_targets/compress_round_trip.rs`: the first byte picks the
/// method by wire id (`byte % 6`), the rest is the data.
#[test]
fn compress_round_trip_corpus() {
    replay("compress_round_trip", &|data| {
        if let Some((&m, rest)) = data.split_first() {
            let method = Method::ALL[usize::from(m) % Method::ALL.len()];
            fuzzing::round_trip(method, rest);
        }
    });
}

//! Replays the committed fuzz corpora on stable Rust (STYLE.md "Fuzz"): every
//! input under `fuzz/corpus/<target>/` for the compression targets
//! (`decompress_<method>` and `compress_round_trip`), and every crash
//! reproducer under `fuzz/regressions/<target>/`, goes through the same
//! `shoutnet_compress::fuzzing` oracle its cargo-fuzz target calls
//! (docs/PROTOCOL.md §3). So `cargo test` checks whatever the fuzzers found,
//! without nightly or libFuzzer.

#[path = "../../../fuzz/replay.rs"]
mod replay;

use replay::replay;
use shoutnet_compress::{Method, fuzzing};

/// Replays the corpus of `decompress_<method>`.
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

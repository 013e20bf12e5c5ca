//! Replays the committed fuzz corpora on stable Rust (STYLE.md "Fuzz"): every
//! input under `fuzz/corpus/{crypto_public_key,crypto_decrypt}/`, and every
//! crash reproducer under `fuzz/regressions/<target>/`, goes through the same
//! `shoutnet_crypto::fuzzing` oracle its cargo-fuzz target calls (key fields,
//! docs/PROTOCOL.md §2; encrypted content, §5.4). So `cargo test` checks
//! whatever the fuzzers found, without nightly or libFuzzer.

#[path = "../../../fuzz/replay.rs"]
mod replay;

use replay::replay;
use shoutnet_crypto::fuzzing;

#[test]
fn public_key_corpus() {
    replay("crypto_public_key", &fuzzing::public_key);
}

#[test]
fn decrypt_corpus() {
    replay("crypto_decrypt", &fuzzing::decrypt);
}

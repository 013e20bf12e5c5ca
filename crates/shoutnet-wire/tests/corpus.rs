//! Replays the committed fuzz corpora on stable Rust (STYLE.md "Fuzz"): every
//! input under `fuzz/corpus/{transmission,stream,value,payload}/`, and every
//! crash reproducer under `fuzz/regressions/<target>/`, goes through the same
//! `shoutnet_wire::fuzzing` oracle its cargo-fuzz target calls
//! (docs/PROTOCOL.md §4–§8). So `cargo test` checks whatever the fuzzers
//! found, without nightly or libFuzzer.

#[path = "../../../fuzz/replay.rs"]
mod replay;

use replay::replay;
use shoutnet_wire::fuzzing;

#[test]
fn transmission_corpus() {
    replay("transmission", &fuzzing::transmission);
}

#[test]
fn stream_corpus() {
    replay("stream", &fuzzing::stream);
}

#[test]
fn value_corpus() {
    replay("value", &fuzzing::value);
}

#[test]
fn payload_corpus() {
    replay("payload", &fuzzing::payload);
}

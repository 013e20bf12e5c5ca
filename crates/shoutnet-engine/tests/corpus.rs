//! Replays the committed fuzz corpus on stable Rust (STYLE.md "Fuzz"): every
//! input under `fuzz/corpus/engine_connection/`, and every crash reproducer
//! under `fuzz/regressions/engine_connection/`, goes through the same
//! `shoutnet_engine::fuzzing::connection` oracle its cargo-fuzz target calls
//! (one engine connection driven with arbitrary bytes: framing, docs/PROTOCOL.md
//! §4; payloads, §8; the handshake, §9.1). So `cargo test` checks whatever the
//! fuzzer found, without nightly or libFuzzer. The same for the secure
//! channel's input (`fuzz/corpus/channel/`, §9.1).

#[path = "../../../fuzz/replay.rs"]
mod replay;

use replay::replay;
use shoutnet_engine::fuzzing;

#[test]
fn connection_corpus() {
    replay("engine_connection", &fuzzing::connection);
}

#[test]
fn channel_corpus() {
    replay("channel", &fuzzing::channel);
}

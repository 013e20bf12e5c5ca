//! Fuzzes the secure channel's input (docs/PROTOCOL.md §9.1): Noise
//! messages from a peer, to either side, in reads of any size; forged
//! handshake messages must never secure it.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| shoutnet_engine::fuzzing::channel(data));

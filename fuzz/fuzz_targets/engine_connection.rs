//! Fuzzes one `NodeEngine` connection (docs/PROTOCOL.md §4, §8, §9): byte 0
//! picks the mode (raw bytes, timed chunks, messages, a lookup's answers) and
//! whether the harness completes the handshake first; a second connection
//! must keep working whatever the input does.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| shoutnet_engine::fuzzing::connection(data));

//! Fuzzes key-field validation (docs/PROTOCOL.md §2): byte 0 picks the
//! profile, and a key that parses must keep exactly the input as its key
//! field and that profile.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| shoutnet_crypto::fuzzing::public_key(data));

//! Fuzzes the restricted msgpack value decoder (docs/PROTOCOL.md §7):
//! whatever decodes must re-encode, no longer than the input, to bytes that
//! decode to an equal value.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| shoutnet_wire::fuzzing::value(data));

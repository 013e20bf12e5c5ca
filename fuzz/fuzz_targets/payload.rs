//! Fuzzes the typed payload schemas (docs/PROTOCOL.md §8): the first input
//! byte is the opcode nibble (with 0x10 set for the rsa2048 profile), the rest
//! the payload content, which must round-trip through its typed form.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| shoutnet_wire::fuzzing::payload(data));

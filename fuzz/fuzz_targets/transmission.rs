//! Fuzzes decoding one whole transmission (docs/PROTOCOL.md §4–§6): the
//! header, decompression, message headers and payloads. Whatever decodes must
//! re-encode to a transmission with the same messages, and every plain payload
//! must round-trip. The first input byte picks the profile (odd = rsa2048).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| shoutnet_wire::fuzzing::transmission(data));

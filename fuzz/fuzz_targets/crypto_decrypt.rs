//! Fuzzes decryption of encrypted content (docs/PROTOCOL.md §5.4): byte 0
//! picks the profile, the rest is decrypted with that profile's fixture key
//! and empty associated data, and every failure must be `DecryptFailed`.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| shoutnet_crypto::fuzzing::decrypt(data));

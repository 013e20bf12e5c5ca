//! Fuzzes `gzip` decompression (docs/PROTOCOL.md §3) of arbitrary bytes as
//! one gzip member (RFC 1952): it fails only with a limit or corrupt error, never
//! returns more than the limit, gives the same output under an exact limit, and
//! its output round-trips.

#![no_main]

use libfuzzer_sys::fuzz_target;
use shoutnet_compress::{Method, fuzzing::decompress};

fuzz_target!(|data: &[u8]| decompress(Method::Gzip, data));

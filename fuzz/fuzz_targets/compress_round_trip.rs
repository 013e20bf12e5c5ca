//! Fuzzes compression (docs/PROTOCOL.md §3): arbitrary bytes, compressed
//! with the method the first input byte picks (`byte % 6`, the wire ids),
//! must decompress back exactly, respect exact output limits, and be refused
//! as corrupt when cut short by one byte.

#![no_main]

use libfuzzer_sys::fuzz_target;
use shoutnet_compress::{Method, fuzzing::round_trip};

fuzz_target!(|data: &[u8]| if let Some((&m, rest)) = data.split_first() {
    round_trip(Method::ALL[usize::from(m) % Method::ALL.len()], rest);
});

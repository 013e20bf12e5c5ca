//! Fuzzes the stream deframer (docs/PROTOCOL.md §4): the same bytes pushed
//! whole and in chunks must give the same frames and the same error, with a
//! bounded buffer. The first input byte picks the chunk size (1 + byte % 31).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| shoutnet_wire::fuzzing::stream(data));

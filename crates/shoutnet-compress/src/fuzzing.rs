//! Implements docs/PROTOCOL.md §3 "Compression": the oracles the cargo-fuzz
//! targets call.
//!
//! Each target in `fuzz/` is one line calling a function here, so ordinary
//! builds compile the harness and it cannot rot. The functions panic, on
//! purpose, when an oracle fails: that is how a fuzzer learns of a bug.
//! Nothing else in the crate panics.

use crate::{Error, Method};

/// The output limit the oracles decompress with. 1 MiB is far more than any
/// honest fuzz input decodes to, and small enough that a bomb the fuzzer
/// finds costs a millisecond, not a gigabyte.
pub const FUZZ_LIMIT: usize = 1 << 20;

/// Decompresses arbitrary `data` as `method` with [`FUZZ_LIMIT`] and checks:
///
/// - it never returns more than the limit, and fails only with
///   [`Error::OutputLimit`] (carrying the limit) or [`Error::Corrupt`],
///   both naming `method`;
/// - output that decoded with the limit also decodes with a limit of exactly
///   its length, and fails with [`Error::OutputLimit`] one byte below it, so
///   the result does not depend on how the limit cuts the output;
/// - that output survives [`round_trip`].
///
/// # Panics
///
/// When an oracle fails.
#[allow(clippy::panic, reason = "a failed oracle must crash the fuzzer")]
pub fn decompress(method: Method, data: &[u8]) {
    match crate::decompress(method, data, FUZZ_LIMIT) {
        Ok(output) => {
            assert!(
                output.len() <= FUZZ_LIMIT,
                "{method}: output over the limit"
            );
            let exact = crate::decompress(method, data, output.len());
            assert_eq!(exact.as_ref(), Ok(&output), "{method}: exact limit");
            if let Some(below) = output.len().checked_sub(1) {
                assert_eq!(
                    crate::decompress(method, data, below),
                    Err(Error::OutputLimit {
                        method,
                        limit: below
                    }),
                    "{method}: one byte below the output length"
                );
            }
            round_trip(method, &output);
        }
        Err(Error::OutputLimit { method: m, limit }) => {
            assert_eq!((m, limit), (method, FUZZ_LIMIT), "{method}: limit error");
        }
        Err(Error::Corrupt { method: m }) => assert_eq!(m, method, "{method}: corrupt"),
        Err(other) => panic!("{method}: unexpected error {other:?}"),
    }
}

/// Compresses `data` with `method` and checks that:
///
/// - compressing succeeds;
/// - the result decompresses to `data` with a limit of exactly `data.len()`,
///   and fails with [`Error::OutputLimit`] one byte below it;
/// - for every method but `none`, the result cut short by one byte is
///   [`Error::Corrupt`] (each format knows where it ends).
///
/// # Panics
///
/// When an oracle fails.
#[allow(clippy::panic, reason = "a failed oracle must crash the fuzzer")]
pub fn round_trip(method: Method, data: &[u8]) {
    let compressed = match crate::compress(method, data) {
        Ok(compressed) => compressed,
        Err(error) => panic!("{method}: compress failed: {error}"),
    };
    let decompressed = crate::decompress(method, &compressed, data.len());
    assert_eq!(decompressed.as_deref(), Ok(data), "{method}: round trip");
    if let Some(below) = data.len().checked_sub(1) {
        assert_eq!(
            crate::decompress(method, &compressed, below),
            Err(Error::OutputLimit {
                method,
                limit: below
            }),
            "{method}: round trip one byte below the length"
        );
    }
    if method != Method::None {
        let cut = compressed
            .get(..compressed.len().saturating_sub(1))
            .unwrap_or_default();
        assert_eq!(
            crate::decompress(method, cut, FUZZ_LIMIT),
            Err(Error::Corrupt { method }),
            "{method}: truncated stream"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oracles_hold_on_simple_inputs() {
        for method in Method::ALL {
            for data in [&b""[..], b"a", b"fuzz fuzz fuzz fuzz fuzz", &[0; 5000]] {
                round_trip(method, data);
                decompress(method, data);
                decompress(method, &crate::compress(method, data).unwrap());
            }
        }
    }
}

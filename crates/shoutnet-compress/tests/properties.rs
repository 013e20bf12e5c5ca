//! Implements docs/PROTOCOL.md §3 "Compression": properties over arbitrary
//! input. Every method round-trips, and decompressing anything never panics
//! and never returns more than the limit.

use proptest::prelude::*;
use shoutnet_compress::{Error, Method, compress, decompress, fuzzing};

fn method() -> impl Strategy<Value = Method> {
    prop::sample::select(Method::ALL.to_vec())
}

/// Bytes with structure: runs and repeats, so the encoders find matches and
/// the decoders take their copy paths, not only literals.
fn structured() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![
            prop::collection::vec(any::<u8>(), 0..64),
            (any::<u8>(), 0_usize..2000).prop_map(|(byte, n)| vec![byte; n]),
            (prop::collection::vec(any::<u8>(), 1..16), 0_usize..100)
                .prop_map(|(pattern, n)| pattern.repeat(n)),
        ],
        0..8,
    )
    .prop_map(|parts| parts.concat())
}

/// A valid stream of `method` with one mutation: a truncation, a flipped
/// byte, or bytes appended. These reach far deeper into a decoder than
/// random bytes, which fail at the magic.
fn mutated() -> impl Strategy<Value = (Method, Vec<u8>)> {
    (
        method(),
        structured(),
        any::<prop::sample::Index>(),
        any::<u8>(),
        0_u8..3,
    )
        .prop_map(|(method, data, at, byte, kind)| {
            let mut stream = compress(method, &data).unwrap();
            let at = at.index(stream.len() + 1);
            match kind {
                0 => stream.truncate(at),
                1 if at < stream.len() => stream[at] ^= byte | 1,
                _ => stream.push(byte),
            }
            (method, stream)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_round_trip(method in method(), data in prop::collection::vec(any::<u8>(), 0..4096)) {
        fuzzing::round_trip(method, &data);
    }

    #[test]
    fn structured_bytes_round_trip(method in method(), data in structured()) {
        fuzzing::round_trip(method, &data);
    }

    #[test]
    fn arbitrary_input_never_passes_the_limit(
        method in method(),
        data in prop::collection::vec(any::<u8>(), 0..4096),
        limit in 0_usize..10_000,
    ) {
        match decompress(method, &data, limit) {
            Ok(output) => prop_assert!(output.len() <= limit),
            Err(error) => prop_assert!(
                error == Error::OutputLimit { method, limit } || error == Error::Corrupt { method },
                "{error:?}"
            ),
        }
        fuzzing::decompress(method, &data);
    }

    #[test]
    fn mutated_streams_never_pass_the_limit((method, stream) in mutated(), limit in 0_usize..20_000) {
        match decompress(method, &stream, limit) {
            Ok(output) => prop_assert!(output.len() <= limit),
            Err(error) => prop_assert!(
                error == Error::OutputLimit { method, limit } || error == Error::Corrupt { method },
                "{error:?}"
            ),
        }
        fuzzing::decompress(method, &stream);
    }

    #[test]
    fn the_limit_is_exact(method in method(), data in structured()) {
        let stream = compress(method, &data).unwrap();
        prop_assert_eq!(decompress(method, &stream, data.len()), Ok(data.clone()));
        prop_assert_eq!(decompress(method, &stream, usize::MAX), Ok(data.clone()));
        if let Some(below) = data.len().checked_sub(1) {
            prop_assert_eq!(
                decompress(method, &stream, below),
                Err(Error::OutputLimit { method, limit: below })
            );
        }
    }
}

//! Implements docs/PROTOCOL.md §3 "Compression": the behaviour every method
//! shares, checked method by method through the public API.

use shoutnet_compress::{Error, Method, MethodSet, compress, decompress};

/// A body shaped like a batch of msgpack messages.
fn body() -> Vec<u8> {
    let mut body = Vec::new();
    for i in 0_u32..200 {
        body.extend_from_slice(&[0x83, 0xa2, b'i', b'd', 0xce]);
        body.extend_from_slice(&i.to_be_bytes());
        body.extend_from_slice(b"\xa2op\xa5shout\xa4data\xc4\x08");
        body.extend_from_slice(&(i.wrapping_mul(2_654_435_761)).to_le_bytes().repeat(2));
    }
    body
}

fn corrupt(method: Method) -> Result<Vec<u8>, Error> {
    Err(Error::Corrupt { method })
}

fn over(method: Method, limit: usize) -> Result<Vec<u8>, Error> {
    Err(Error::OutputLimit { method, limit })
}

/// Every compressing method, with what must follow from compressing `data`.
fn check_round_trip(method: Method, data: &[u8]) {
    let stream = compress(method, data).unwrap();
    assert_eq!(
        decompress(method, &stream, data.len()),
        Ok(data.to_vec()),
        "{method} exact"
    );
    assert_eq!(
        decompress(method, &stream, 64 << 20),
        Ok(data.to_vec()),
        "{method} roomy"
    );
    if let Some(below) = data.len().checked_sub(1) {
        assert_eq!(
            decompress(method, &stream, below),
            over(method, below),
            "{method} below"
        );
    }
    assert_eq!(
        compress(method, data).unwrap(),
        stream,
        "{method} deterministic"
    );
}

#[test]
fn round_trips() {
    let body = body();
    for method in Method::ALL {
        check_round_trip(method, &body);
        check_round_trip(method, b"x");
        check_round_trip(method, &[0; 100_000]);
        check_round_trip(method, &(0..=255).collect::<Vec<u8>>().repeat(40));
    }
}

#[test]
fn empty_input_round_trips_and_compresses_small() {
    for method in Method::ALL {
        let stream = compress(method, b"").unwrap();
        assert!(stream.len() <= 64, "{method}: {} bytes", stream.len());
        assert_eq!(decompress(method, &stream, 0), Ok(Vec::new()), "{method}");
    }
}

#[test]
fn compression_shrinks_a_typical_body() {
    let body = body();
    for method in Method::ALL {
        let stream = compress(method, &body).unwrap();
        if method == Method::None {
            assert_eq!(stream, body);
        } else {
            assert!(
                stream.len() < body.len() / 2,
                "{method}: {} of {}",
                stream.len(),
                body.len()
            );
        }
    }
}

#[test]
fn none_enforces_the_limit_on_the_input() {
    assert_eq!(decompress(Method::None, b"abc", 3), Ok(b"abc".to_vec()));
    assert_eq!(decompress(Method::None, b"abc", 2), over(Method::None, 2));
    assert_eq!(decompress(Method::None, b"", 0), Ok(Vec::new()));
}

#[test]
fn truncated_streams_are_corrupt() {
    let body = body();
    for method in Method::ALL {
        if method == Method::None {
            continue;
        }
        let stream = compress(method, &body).unwrap();
        for len in [
            0,
            1,
            2,
            5,
            stream.len() / 3,
            stream.len() / 2,
            stream.len() - 1,
        ] {
            assert_eq!(
                decompress(method, &stream[..len], 1 << 20),
                corrupt(method),
                "{method} {len}"
            );
        }
    }
}

#[test]
fn trailing_garbage_is_corrupt() {
    let body = body();
    for method in Method::ALL {
        if method == Method::None {
            continue;
        }
        let stream = compress(method, &body).unwrap();
        for tail in [&[0_u8][..], b"garbage", &stream] {
            let mut input = stream.clone();
            input.extend_from_slice(tail);
            assert_eq!(
                decompress(method, &input, 1 << 20),
                corrupt(method),
                "{method} + {tail:?}"
            );
        }
    }
}

#[test]
fn garbage_is_corrupt() {
    let garbage: [&[u8]; 4] = [b"", b"\x00", b"not compressed at all", &[0xff; 64]];
    for method in Method::ALL {
        if method == Method::None {
            continue;
        }
        for input in garbage {
            // Raw snappy has no magic: 0x00 is the valid encoding of "", and
            // some byte strings are valid blocks. Everything else must fail.
            if method == Method::Snappy && input == b"\x00" {
                assert_eq!(decompress(method, input, 10), Ok(Vec::new()));
                continue;
            }
            assert_eq!(
                decompress(method, input, 1 << 20),
                corrupt(method),
                "{method} {input:?}"
            );
        }
    }
}

#[test]
fn a_stream_of_one_method_is_not_another() {
    let body = body();
    for written in Method::ALL {
        let stream = compress(written, &body).unwrap();
        for read in Method::ALL {
            if read == written || read == Method::None || written == Method::None {
                continue;
            }
            match decompress(read, &stream, 1 << 20) {
                Ok(output) => assert_ne!(output, body, "{written} read as {read}"),
                Err(error) => assert_eq!(
                    error,
                    Error::Corrupt { method: read },
                    "{written} as {read}"
                ),
            }
        }
    }
}

#[test]
fn unknown_ids() {
    for id in [6, 7, 8, 255] {
        assert_eq!(Method::from_id(id), Err(Error::UnknownMethod(id)));
    }
    for id in 0..=5 {
        assert_eq!(Method::from_id(id).map(Method::id), Ok(id));
    }
    assert_eq!(MethodSet::from_bits(0b1100_0000), MethodSet::empty());
}

//! Implements docs/PROTOCOL.md §3 "Compression": interoperability. Streams
//! written by Python's standard library and the `xz` tool
//! (tests/data/generate.py) decode to the known plaintext, and xz streams cross between this crate and lzma-rs, a
//! third, independent xz implementation.

use shoutnet_compress::{Error, Method, compress, decompress};

const PLAIN: &[u8] = include_bytes!("data/plain.bin");

/// Every vector in tests/data/, with the method that reads it.
const VECTORS: [(&str, Method, &[u8]); 13] = [
    ("python.bz2", Method::Bz2, include_bytes!("data/python.bz2")),
    ("python.gz", Method::Gzip, include_bytes!("data/python.gz")),
    (
        "python_fname.gz",
        Method::Gzip,
        include_bytes!("data/python_fname.gz"),
    ),
    ("python.xz", Method::Lzma, include_bytes!("data/python.xz")),
    (
        "python_crc32.xz",
        Method::Lzma,
        include_bytes!("data/python_crc32.xz"),
    ),
    (
        "python_sha256.xz",
        Method::Lzma,
        include_bytes!("data/python_sha256.xz"),
    ),
    (
        "python_nocheck.xz",
        Method::Lzma,
        include_bytes!("data/python_nocheck.xz"),
    ),
    (
        "python_delta.xz",
        Method::Lzma,
        include_bytes!("data/python_delta.xz"),
    ),
    (
        "python_x86.xz",
        Method::Lzma,
        include_bytes!("data/python_x86.xz"),
    ),
    (
        "xz_blocks.xz",
        Method::Lzma,
        include_bytes!("data/xz_blocks.xz"),
    ),
    (
        "python.zlib",
        Method::Zlib,
        include_bytes!("data/python.zlib"),
    ),
    (
        "python.snappy",
        Method::Snappy,
        include_bytes!("data/python.snappy"),
    ),
    ("plain.bin", Method::None, PLAIN),
];

#[test]
fn python_vectors_decode_to_the_plaintext() {
    for (name, method, stream) in VECTORS {
        assert_eq!(
            decompress(method, stream, PLAIN.len()).as_deref(),
            Ok(PLAIN),
            "{name}"
        );
        assert_eq!(
            decompress(method, stream, PLAIN.len() - 1),
            Err(Error::OutputLimit {
                method,
                limit: PLAIN.len() - 1
            }),
            "{name}"
        );
    }
}

#[test]
fn python_vectors_with_trailing_bytes_are_corrupt() {
    for (name, method, stream) in VECTORS {
        if method == Method::None {
            continue;
        }
        let mut trailing = stream.to_vec();
        trailing.push(0);
        assert_eq!(
            decompress(method, &trailing, 1 << 20),
            Err(Error::Corrupt { method }),
            "{name}"
        );
    }
}

#[test]
fn python_vectors_cut_short_are_corrupt() {
    for (name, method, stream) in VECTORS {
        if method == Method::None {
            continue;
        }
        for len in [0, 1, stream.len() / 2, stream.len() - 1] {
            assert_eq!(
                decompress(method, &stream[..len], 1 << 20),
                Err(Error::Corrupt { method }),
                "{name} cut to {len}"
            );
        }
    }
}

#[test]
fn python_vectors_with_a_flipped_byte_never_decode_wrongly() {
    // A flipped bit may be caught by a checksum (Corrupt), but must never
    // give back wrong data. Snappy and the xz stream without a check have no
    // checksum over the data, so they are left out.
    for (name, method, stream) in VECTORS {
        if matches!(method, Method::None | Method::Snappy) || name == "python_nocheck.xz" {
            continue;
        }
        for index in 0..stream.len() {
            let mut flipped = stream.to_vec();
            flipped[index] ^= 0x04;
            match decompress(method, &flipped, 1 << 20) {
                Ok(output) => assert_eq!(output, PLAIN, "{name} byte {index}"),
                Err(error) => assert!(
                    matches!(error, Error::Corrupt { .. } | Error::OutputLimit { .. }),
                    "{name} byte {index}: {error:?}"
                ),
            }
        }
    }
}

#[test]
fn our_xz_streams_decode_with_lzma_rs() {
    for data in [&b""[..], b"x", PLAIN, &PLAIN.repeat(50)] {
        let stream = compress(Method::Lzma, data).unwrap();
        let mut output = Vec::new();
        lzma_rs::xz_decompress(&mut &stream[..], &mut output).unwrap();
        assert_eq!(output, data);
    }
}

#[test]
fn lzma_rs_xz_streams_decode_with_ours() {
    // lzma-rs writes stored (uncompressed) LZMA2 chunks: a valid stream of
    // another shape than liblzma's.
    for data in [&b""[..], b"x", PLAIN] {
        let mut stream = Vec::new();
        lzma_rs::xz_compress(&mut &data[..], &mut stream).unwrap();
        assert_eq!(
            decompress(Method::Lzma, &stream, data.len()).as_deref(),
            Ok(data)
        );
    }
}

#[test]
fn our_streams_have_the_documented_headers() {
    let expected: [(Method, &[u8]); 6] = [
        (Method::None, b"shoutnet"),
        (Method::Bz2, b"BZh1"),
        (Method::Gzip, &[0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0]),
        (
            Method::Lzma,
            &[0xfd, b'7', b'z', b'X', b'Z', 0x00, 0x00, 0x04],
        ),
        (Method::Zlib, &[0x78, 0x9c]),
        // The varint of 2905, the plaintext length.
        (Method::Snappy, &[0xd9, 0x16]),
    ];
    for (method, header) in expected {
        let stream = compress(method, PLAIN).unwrap();
        assert!(
            stream.starts_with(header),
            "{method}: {:02x?}",
            &stream[..8]
        );
    }
}

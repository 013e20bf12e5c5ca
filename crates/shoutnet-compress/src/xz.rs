//! Implements docs/PROTOCOL.md §3 "Compression" for `lzma` (id 3): one `.xz`
//! stream (xz file format 1.0.4: stream header, blocks of LZMA2 data, index,
//! stream footer), as Python's `lzma.compress` writes it with its default
//! `FORMAT_XZ`.
//!
//! Decoding is pure Rust: lzma-rust2's sans-IO `XzStream`, driven through the
//! bounded loop of [`crate::limit`]. It accepts every check type (none,
//! CRC32, CRC64, SHA-256), every dictionary up to [`XZ_MAX_DICT`], and one
//! optional BCJ or delta filter before LZMA2. Its dictionary buffer grows with
//! the data actually decoded, not with the size the header declares.
//!
//! Encoding writes one block, LZMA2 at [`XZ_PRESET`], check CRC64 (Python's
//! and the `xz` tool's default). With the default `liblzma` feature the C
//! liblzma (built from the source bundled in liblzma-sys) encodes; without
//! it, lzma-rust2's own encoder does. Both outputs are ordinary xz streams.

use crate::limit::{self, LimitedSink, Progress, Step};
use crate::{Error, Method};

/// The largest LZMA2 dictionary a received stream may declare: 64 MiB, the
/// dictionary of `xz -9`, the largest preset of any xz encoder. A stream
/// header can declare up to 4 GiB; a stream declaring more than this is
/// refused as [`Error::Corrupt`] before any of it is decoded.
pub const XZ_MAX_DICT: u32 = 64 << 20;

/// The memory limit given to the decoder, in KiB: [`XZ_MAX_DICT`] plus 1 MiB
/// for the decoder's fixed state, so a 64 MiB dictionary passes and the next
/// size an xz header can express (96 MiB) does not.
const XZ_MEMLIMIT_KIB: u32 = XZ_MAX_DICT / 1024 + 1024;

/// The encoder preset: 6 is the default of Python's `lzma` and of `xz`.
/// Its 8 MiB dictionary is then shrunk to the input size (at least 4 KiB,
/// the format's minimum), which leaves the output unchanged and the
/// encoder's memory small.
pub const XZ_PRESET: u32 = 6;

/// The dictionary of preset 6, 8 MiB, the most the encoder ever uses.
const XZ_PRESET_DICT: u32 = 8 << 20;

/// The smallest dictionary the xz format allows.
const XZ_MIN_DICT: u32 = 4 << 10;

/// lzma-rust2's xz decoder as a [`Step`].
struct Unxz(lzma_rust2::XzStream);

impl Step for Unxz {
    fn step(&mut self, input: &[u8], output: &mut [u8]) -> Result<Progress, ()> {
        // `Finish`: `input` always holds everything that is left, so running
        // out of it means the stream is truncated.
        let result = self
            .0
            .process(input, output, lzma_rust2::Action::Finish)
            .map_err(drop)?;
        Ok(Progress {
            consumed: result.bytes_consumed,
            produced: result.bytes_produced,
            done: result.status == lzma_rust2::Status::StreamEnd,
        })
    }
}

/// The dictionary size for an input of `len` bytes: a dictionary larger than
/// the input cannot find longer matches, it only costs the encoder memory
/// (preset 6 with its full 8 MiB dictionary allocates about 94 MiB, even for
/// a 100-byte body) and makes the receiver's decoder budget for more.
fn dict_size_for(len: usize) -> u32 {
    u32::try_from(len)
        .unwrap_or(u32::MAX)
        .clamp(XZ_MIN_DICT, XZ_PRESET_DICT)
}

/// Compresses `input` into one xz stream with liblzma.
#[cfg(feature = "liblzma")]
pub(crate) fn compress(input: &[u8]) -> Result<Vec<u8>, Error> {
    use std::io::Write;

    use liblzma::stream::{Check, Filters, LzmaOptions, Stream};

    let error = |_| Error::encoder(Method::Lzma);
    let mut options = LzmaOptions::new_preset(XZ_PRESET).map_err(error)?;
    options.dict_size(dict_size_for(input.len()));
    let mut filters = Filters::new();
    filters.lzma2(&options);
    let stream = Stream::new_stream_encoder(&filters, Check::Crc64).map_err(error)?;
    let output = Vec::with_capacity(input.len() / 2 + 64);
    let mut encoder = liblzma::write::XzEncoder::new_stream(output, stream);
    encoder
        .write_all(input)
        .map_err(|_| Error::encoder(Method::Lzma))?;
    encoder.finish().map_err(|_| Error::encoder(Method::Lzma))
}

/// Compresses `input` into one xz stream with lzma-rust2's encoder.
#[cfg(not(feature = "liblzma"))]
pub(crate) fn compress(input: &[u8]) -> Result<Vec<u8>, Error> {
    compress_pure(input)
}

/// Compresses `input` into one xz stream with lzma-rust2's encoder: the
/// fallback without the `liblzma` feature, and a second encoder to test the
/// decoder against.
#[cfg(any(test, not(feature = "liblzma")))]
pub(crate) fn compress_pure(input: &[u8]) -> Result<Vec<u8>, Error> {
    use std::io::Write;

    let error = |_| Error::encoder(Method::Lzma);
    let mut options = lzma_rust2::XzOptions::with_preset(XZ_PRESET);
    options.lzma_options.dict_size = dict_size_for(input.len());
    options.set_check_sum_type(lzma_rust2::CheckType::Crc64);
    let output = Vec::with_capacity(input.len() / 2 + 64);
    let mut encoder = lzma_rust2::XzWriter::new(output, options).map_err(error)?;
    encoder.write_all(input).map_err(error)?;
    encoder.finish().map_err(error)
}

/// Decompresses exactly one xz stream. The index, every block check and the
/// stream footer are verified; stream padding or a second stream after the
/// footer is trailing garbage.
pub(crate) fn decompress(input: &[u8], limit: usize) -> Result<Vec<u8>, Error> {
    let method = Method::Lzma;
    let mut sink = LimitedSink::new(limit);
    let mut decoder = Unxz(lzma_rust2::XzStream::new_mem_limit(false, XZ_MEMLIMIT_KIB));
    let used = limit::run(method, &mut decoder, input, &mut sink)?;
    limit::expect_end(method, used, input)?;
    Ok(sink.into_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Offset of the block header in a stream: after the 12-byte stream
    /// header.
    const BLOCK_HEADER: usize = 12;

    /// `stream` with the LZMA2 dictionary-size byte of its first block
    /// replaced by `dict_byte` and the block header CRC32 fixed up, so the
    /// only thing wrong with it is the dictionary it declares.
    fn with_dict_byte(stream: &[u8], dict_byte: u8) -> Vec<u8> {
        let mut stream = stream.to_vec();
        let header_len = (usize::from(stream[BLOCK_HEADER]) + 1) * 4;
        // Block header: size, flags (one filter, no sizes), filter id 0x21
        // (LZMA2), properties size 1, the dictionary byte, padding, CRC32.
        assert_eq!(
            stream[BLOCK_HEADER + 1..BLOCK_HEADER + 4],
            [0x00, 0x21, 0x01],
            "a one-filter LZMA2 block header without size fields"
        );
        stream[BLOCK_HEADER + 4] = dict_byte;
        let crc_at = BLOCK_HEADER + header_len - 4;
        let mut crc = flate2::Crc::new();
        crc.update(&stream[BLOCK_HEADER..crc_at]);
        stream[crc_at..crc_at + 4].copy_from_slice(&crc.sum().to_le_bytes());
        stream
    }

    #[test]
    fn dict_size_follows_the_input_within_bounds() {
        let cases = [
            (0, XZ_MIN_DICT),
            (100, XZ_MIN_DICT),
            (4096, 4096),
            (65_536, 65_536),
            (100_000, 100_000),
            (8 << 20, XZ_PRESET_DICT),
            (usize::MAX, XZ_PRESET_DICT),
        ];
        for (len, expected) in cases {
            assert_eq!(dict_size_for(len), expected, "len {len}");
        }
    }

    #[test]
    fn both_encoders_write_crc64_streams_the_decoder_reads() {
        let text = b"xz encoder test, xz encoder test".repeat(64);
        for stream in [compress(&text).unwrap(), compress_pure(&text).unwrap()] {
            // Stream header: magic, flags 00 04 (CRC64).
            assert_eq!(
                stream[..8],
                [0xfd, b'7', b'z', b'X', b'Z', 0x00, 0x00, 0x04]
            );
            assert_eq!(stream[stream.len() - 2..], *b"YZ");
            assert!(stream.len() < text.len() / 4, "compressed, not stored");
            assert_eq!(decompress(&stream, text.len()).unwrap(), text);
        }
    }

    #[test]
    fn declared_dictionary_is_capped() {
        let text = b"dictionary test".repeat(10);
        for stream in [compress(&text).unwrap(), compress_pure(&text).unwrap()] {
            // The dictionary byte d means (2 | (d & 1)) << (d / 2 + 11)
            // bytes, and 40 means 4 GiB - 1.
            let accepted = [0, 18, 28]; // 4 KiB, 2 MiB, 64 MiB
            for dict_byte in accepted {
                let stream = with_dict_byte(&stream, dict_byte);
                assert_eq!(decompress(&stream, 1 << 20).unwrap(), text, "{dict_byte}");
            }
            let refused = [29, 36, 39, 40]; // 96 MiB, 1 GiB, 3 GiB, 4 GiB - 1
            for dict_byte in refused {
                let stream = with_dict_byte(&stream, dict_byte);
                assert_eq!(
                    decompress(&stream, 1 << 20),
                    Err(Error::corrupt(Method::Lzma)),
                    "{dict_byte}"
                );
            }
            // 41 and above are not dictionary sizes at all.
            let stream = with_dict_byte(&stream, 41);
            assert_eq!(
                decompress(&stream, 1 << 20),
                Err(Error::corrupt(Method::Lzma))
            );
        }
    }

    #[test]
    fn index_and_footer_are_checked() {
        let good = compress(b"index test").unwrap();
        let n = good.len();
        // The last 12 bytes are the footer (CRC32, backward size, flags,
        // "YZ"); the index sits just before it.
        for index in [n - 13, n - 12, n - 8, n - 4, n - 1] {
            let mut stream = good.clone();
            stream[index] ^= 0x01;
            assert_eq!(
                decompress(&stream, 1 << 20),
                Err(Error::corrupt(Method::Lzma)),
                "byte {index} of {n}"
            );
        }
    }

    #[test]
    fn stream_padding_and_second_streams_are_trailing_garbage() {
        let one = compress(b"one").unwrap();
        let mut padded = one.clone();
        padded.extend_from_slice(&[0; 4]);
        let mut two = one.clone();
        two.extend_from_slice(&compress(b"two").unwrap());
        for input in [padded, two] {
            assert_eq!(decompress(&input, 100), Err(Error::corrupt(Method::Lzma)));
        }
    }
}

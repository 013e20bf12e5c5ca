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
//! Before the decoder runs, [`outline`] walks the container: block headers
//! and LZMA2 chunk headers only, skipping every payload by the length its
//! header gives. Each LZMA2 chunk states how many bytes it decodes to, and the
//! decoder holds every chunk to exactly that, so the sum is the output of any
//! stream that decodes at all. A stream declaring more than the limit is
//! refused before a single byte is decoded, and one with more blocks than
//! [`max_blocks`] allows is refused too: the decoder keeps a record of every
//! block until the end of the stream, whatever the block decodes to.
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

/// Blocks any xz stream may have, whatever it decodes to.
const XZ_FREE_BLOCKS: u64 = 16;

/// Beyond [`XZ_FREE_BLOCKS`], one more block is allowed per this many bytes
/// of declared output. Honest encoders write one block (Python, `xz`) or
/// blocks of megabytes (`xz -T`); even `xz --block-size=1024` stays within
/// it.
const XZ_OUTPUT_PER_BLOCK: u64 = 1024;

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
    let outline = outline(input).ok_or(Error::corrupt(method))?;
    if usize::try_from(outline.declared).map_or(true, |declared| declared > limit) {
        return Err(Error::limit(method, limit));
    }
    if outline.blocks > max_blocks(outline.declared) {
        return Err(Error::corrupt(method));
    }
    let mut sink = LimitedSink::new(limit);
    let mut decoder = Unxz(lzma_rust2::XzStream::new_mem_limit(false, XZ_MEMLIMIT_KIB));
    let used = limit::run(method, &mut decoder, input, &mut sink)?;
    limit::expect_end(method, used, input)?;
    Ok(sink.into_vec())
}

/// What the container of an xz stream says, read without decoding any of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Outline {
    /// Blocks before the index.
    blocks: u64,
    /// The sum of the uncompressed sizes of all LZMA2 chunks: exactly the
    /// output, if the stream decodes at all.
    declared: u64,
}

/// The most blocks a stream that decodes to `declared` bytes may have:
/// [`XZ_FREE_BLOCKS`] and one per [`XZ_OUTPUT_PER_BLOCK`] bytes. This keeps
/// the decoder's index records (16 bytes a block, kept to the end of the
/// stream) to about 5% of the output, and each block's fixed cost (a new
/// LZMA2 decoder, whose window starts at up to 64 KiB) paid for by output.
/// It depends on the stream alone, not on the caller's limit, so whether a
/// stream decodes never depends on the limit it meets.
const fn max_blocks(declared: u64) -> u64 {
    XZ_FREE_BLOCKS.saturating_add(declared / XZ_OUTPUT_PER_BLOCK)
}

/// The size of the check field for the check type in the low nibble of the
/// stream flags (xz format §2.1.1.2 and §3.4): 0, 4, 8, 16, 32 or 64 bytes
/// by groups of three ids. Types the decoder does not support are its
/// business; the size is all the outline needs.
fn check_size(flags: u8) -> usize {
    match flags & 0x0f {
        0 => 0,
        id => 4 << ((id - 1) / 3),
    }
}

/// The big-endian `u16` at `pos`, as a `u64`.
fn be16(input: &[u8], pos: usize) -> Option<u64> {
    let bytes = input.get(pos..pos.checked_add(2)?)?;
    Some(u64::from(u16::from_be_bytes(bytes.try_into().ok()?)))
}

/// Walks the first stream in `input` the way the decoder will (xz format
/// §3, LZMA2 chunk headers), reading headers only: block header sizes, LZMA2
/// control bytes and the sizes after them, padding and check fields. Stops at
/// the index indicator; the decoder checks the index itself.
///
/// `None` if the walk runs past the end of `input` or meets an LZMA2 control
/// byte that means nothing (0x03 to 0x7f): the decoder would refuse either.
/// CRCs, filters and the chunks' contents are left to the decoder, which
/// meets exactly the same structure, since it consumes every chunk to exactly
/// the compressed size the chunk declares.
fn outline(input: &[u8]) -> Option<Outline> {
    let check = check_size(*input.get(7)?);
    let mut outline = Outline {
        blocks: 0,
        declared: 0,
    };
    let mut pos = 12_usize; // stream header: magic, flags, CRC32
    loop {
        let header_size = *input.get(pos)?;
        if header_size == 0 {
            return Some(outline); // index indicator
        }
        outline.blocks += 1;
        pos = pos.checked_add((usize::from(header_size) + 1) * 4)?;
        let data_start = pos;
        loop {
            let control = *input.get(pos)?;
            let (header, unpacked, packed) = match control {
                0x00 => break,
                // Uncompressed chunk (with or without dictionary reset).
                0x01 | 0x02 => {
                    let size = be16(input, pos + 1)? + 1;
                    (3, size, size)
                }
                // LZMA chunk; from 0xc0 on, a properties byte follows.
                0x80..=0xff => {
                    let unpacked = (u64::from(control & 0x1f) << 16) + be16(input, pos + 1)? + 1;
                    let packed = be16(input, pos + 3)? + 1;
                    (if control >= 0xc0 { 6 } else { 5 }, unpacked, packed)
                }
                _ => return None,
            };
            outline.declared = outline.declared.checked_add(unpacked)?;
            pos = pos
                .checked_add(header)?
                .checked_add(usize::try_from(packed).ok()?)?;
        }
        pos = pos.checked_add(1)?; // the end-of-data control byte
        let data_len = pos - data_start;
        pos = pos
            .checked_add((4 - data_len % 4) % 4)?
            .checked_add(check)?;
    }
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
    fn outline_declares_exactly_the_output() {
        for len in [0, 1, 100, 70_000, 3 << 20] {
            let text: Vec<u8> = (0..len).map(|i| (i % 251) as u8 ^ (i / 7) as u8).collect();
            for stream in [compress(&text).unwrap(), compress_pure(&text).unwrap()] {
                let outline = outline(&stream).unwrap();
                assert_eq!(outline.declared, len as u64, "len {len}");
                assert_eq!(outline.blocks, u64::from(len > 0), "len {len}");
            }
        }
    }

    #[test]
    fn outline_reads_every_check_type_filter_and_block_count() {
        let plain = include_bytes!("../tests/data/plain.bin").len() as u64;
        let vectors: [(&[u8], u64); 7] = [
            (include_bytes!("../tests/data/python.xz"), 1),
            (include_bytes!("../tests/data/python_crc32.xz"), 1),
            (include_bytes!("../tests/data/python_sha256.xz"), 1),
            (include_bytes!("../tests/data/python_nocheck.xz"), 1),
            (include_bytes!("../tests/data/python_delta.xz"), 1),
            (include_bytes!("../tests/data/python_x86.xz"), 1),
            (include_bytes!("../tests/data/xz_blocks.xz"), 3),
        ];
        for (stream, blocks) in vectors {
            let outline = outline(stream).unwrap();
            assert_eq!(
                outline,
                Outline {
                    blocks,
                    declared: plain
                }
            );
        }
    }

    #[test]
    fn outline_refuses_truncation_and_meaningless_control_bytes() {
        let stream = compress(&b"outline test ".repeat(1000)).unwrap();
        // Everything up to the index indicator is needed; the index and
        // footer are the decoder's to check.
        let index_at = (0..stream.len())
            .find(|&cut| outline(&stream[..cut]).is_some())
            .unwrap();
        assert_eq!(
            stream[index_at - 1],
            0x00,
            "the indicator is the last byte read"
        );
        let mut bad = stream.clone();
        let header_len = (usize::from(stream[BLOCK_HEADER]) + 1) * 4;
        bad[BLOCK_HEADER + header_len] = 0x03;
        assert_eq!(outline(&bad), None);
        assert_eq!(decompress(&bad, 1 << 20), Err(Error::corrupt(Method::Lzma)));
    }

    #[test]
    fn check_sizes_follow_the_format() {
        let sizes: Vec<usize> = (0..16).map(check_size).collect();
        assert_eq!(
            sizes,
            [0, 4, 4, 4, 8, 8, 8, 16, 16, 16, 32, 32, 32, 64, 64, 64]
        );
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

//! Implements docs/PROTOCOL.md §3 "Compression" for `bz2` (id 1): one
//! complete bzip2 stream (`BZh` magic, a level digit, blocks, end-of-stream
//! marker with the combined CRC), as Python's `bz2.compress` writes it.
//!
//! The `bzip2` crate (0.6) runs libbz2-rs-sys, a pure-Rust port of libbzip2,
//! so no C compiler is involved.

use std::io::Write;

use bzip2::{Compression, Decompress, Status};

use crate::limit::{self, LimitedSink, Progress, Step};
use crate::{Error, Method};

/// bzip2 block size in units of 100 kB (the `9` in `BZh9`).
///
/// The level changes nothing but the block size, and a block is the unit the
/// decoder must hold in memory: a receiver allocates about 4 bytes per byte
/// of block size when it reads the stream header (3.6 MB for level 9, 400 kB
/// for level 1), however small the body. shoutnet bodies are mostly far
/// smaller than 100 kB, where every level gives the same output apart from
/// that digit, so level 1 makes each peer's decoder cost 9× less memory for
/// the common case. The encoder's memory follows the level too (1.2 MB
/// against 7.6 MB), and allocating it dominates small bodies: measured on a
/// 1 KiB body, level 9 took 3.7 ms and level 1 0.2 ms. The price is ratio on
/// bodies over 100 kB: 6% larger output on a 1 MiB msgpack-like body.
pub const BZ2_LEVEL: u32 = 1;

/// bzip2's decompressor as a [`Step`].
struct Bunzip(Decompress);

impl Step for Bunzip {
    fn step(&mut self, input: &[u8], output: &mut [u8]) -> Result<Progress, ()> {
        let (in_before, out_before) = (self.0.total_in(), self.0.total_out());
        let status = self.0.decompress(input, output).map_err(drop)?;
        let consumed = self.0.total_in().checked_sub(in_before).ok_or(())?;
        let produced = self.0.total_out().checked_sub(out_before).ok_or(())?;
        Ok(Progress {
            consumed: usize::try_from(consumed).map_err(drop)?,
            produced: usize::try_from(produced).map_err(drop)?,
            done: status == Status::StreamEnd,
        })
    }
}

/// Compresses `input` into one bzip2 stream at [`BZ2_LEVEL`].
pub(crate) fn compress(input: &[u8]) -> Result<Vec<u8>, Error> {
    let output = Vec::with_capacity(input.len() / 2 + 64);
    let mut encoder = bzip2::write::BzEncoder::new(output, Compression::new(BZ2_LEVEL));
    encoder
        .write_all(input)
        .map_err(|_| Error::encoder(Method::Bz2))?;
    encoder.finish().map_err(|_| Error::encoder(Method::Bz2))
}

/// Decompresses exactly one bzip2 stream; block CRCs and the stream CRC are
/// checked by the decoder. A second, concatenated stream (which Python's
/// `bz2.decompress` would accept) is trailing garbage here.
pub(crate) fn decompress(input: &[u8], limit: usize) -> Result<Vec<u8>, Error> {
    let method = Method::Bz2;
    let mut sink = LimitedSink::new(limit);
    // `small = false`: the fast decoder. The small one halves decoder memory
    // but also halves speed; at level 1 the fast one needs only ~400 kB.
    let used = limit::run(
        method,
        &mut Bunzip(Decompress::new(false)),
        input,
        &mut sink,
    )?;
    limit::expect_end(method, used, input)?;
    Ok(sink.into_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_is_a_bzip2_stream_at_the_chosen_level() {
        let stream = compress(b"hello").unwrap();
        assert_eq!(stream.get(..4).unwrap(), b"BZh1");
    }

    #[test]
    fn any_level_decodes() {
        let text = b"level test level test level test".repeat(100);
        for level in 1..=9 {
            let mut encoder = bzip2::write::BzEncoder::new(Vec::new(), Compression::new(level));
            encoder.write_all(&text).unwrap();
            let stream = encoder.finish().unwrap();
            assert_eq!(stream[3], b'0' + level as u8);
            assert_eq!(decompress(&stream, text.len()).unwrap(), text);
        }
    }

    #[test]
    fn block_crc_is_checked() {
        let text = b"crc test ".repeat(50);
        let good = compress(&text).unwrap();
        // Bytes 10..14 are the first block's CRC (after "BZh1" and the
        // 6-byte block magic).
        for index in 10..14 {
            let mut stream = good.clone();
            stream[index] ^= 0x10;
            assert_eq!(
                decompress(&stream, 1 << 20),
                Err(Error::corrupt(Method::Bz2)),
                "byte {index}"
            );
        }
    }

    #[test]
    fn concatenated_streams_are_trailing_garbage() {
        let mut two = compress(b"one").unwrap();
        two.extend_from_slice(&compress(b"two").unwrap());
        assert_eq!(decompress(&two, 100), Err(Error::corrupt(Method::Bz2)));
    }
}

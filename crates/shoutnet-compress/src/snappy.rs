//! Implements docs/PROTOCOL.md §3 "Compression" for `snappy` (id 5): the
//! snappy **raw block** format, not the framing format: a little-endian
//! base-128 varint of the uncompressed length, then literal and copy
//! elements, and nothing else (no stream identifier, no CRC). This is what
//! `snap::raw`, python-snappy's `snappy.compress` and cramjam's
//! `snappy.compress_raw` produce.
//!
//! The format declares its output length up front, so the limit is enforced
//! on that number before anything is allocated; the output buffer is then
//! allocated once, at exactly the declared length.

use crate::{Error, Method};

/// The most output one byte of snappy elements can produce. The densest
/// element is a 3-byte copy with a 2-byte offset that copies 64 bytes
/// (21.3 bytes per input byte); 1-byte-offset copies give at most 11 bytes
/// for 2, 4-byte-offset copies 64 for 5, and literals less than 1 per byte.
/// A header that declares more than this times the input is a lie, refused
/// before allocating.
const MAX_EXPANSION: usize = 22;

/// Compresses `input` into one raw snappy block.
pub(crate) fn compress(input: &[u8]) -> Result<Vec<u8>, Error> {
    snap::raw::Encoder::new()
        .compress_vec(input)
        .map_err(|_| Error::encoder(Method::Snappy))
}

/// Decompresses one raw snappy block, checking the declared length against
/// `limit` (and against what the input could possibly expand to) before
/// allocating the output.
pub(crate) fn decompress(input: &[u8], limit: usize) -> Result<Vec<u8>, Error> {
    let method = Method::Snappy;
    let corrupt = Error::corrupt(method);
    if input.is_empty() {
        // Not even the length varint: the empty body is not a snappy block
        // (the encoding of empty input is the single byte 0x00).
        return Err(corrupt);
    }
    let declared = match snap::raw::decompress_len(input) {
        Ok(len) => len,
        // A length over snappy's own maximum (2^32 - 1) is refused by snap
        // before it tells us the number; it is over any sane limit too.
        Err(snap::Error::TooBig { given, .. }) => {
            return Err(
                if usize::try_from(given).map_or(true, |given| given > limit) {
                    Error::limit(method, limit)
                } else {
                    corrupt
                },
            );
        }
        Err(_) => return Err(corrupt),
    };
    if declared > limit {
        return Err(Error::limit(method, limit));
    }
    if declared > input.len().saturating_mul(MAX_EXPANSION) {
        return Err(corrupt);
    }
    let mut output = vec![0_u8; declared];
    let written = snap::raw::Decoder::new()
        .decompress(input, &mut output)
        .map_err(|_| corrupt)?;
    // snap fills exactly the declared length or fails; check anyway rather
    // than hand back zeros.
    if written == declared {
        Ok(output)
    } else {
        Err(corrupt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A raw block header declaring `len` bytes, followed by `rest`.
    fn declaring(len: u64, rest: &[u8]) -> Vec<u8> {
        let mut block = Vec::new();
        let mut n = len;
        while n >= 0x80 {
            block.push((n as u8) | 0x80);
            n >>= 7;
        }
        block.push(n as u8);
        block.extend_from_slice(rest);
        block
    }

    #[test]
    fn known_encodings() {
        assert_eq!(compress(b"").unwrap(), [0x00]);
        // Length 5, then a literal of 5 bytes (tag (5 - 1) << 2).
        assert_eq!(
            compress(b"hello").unwrap(),
            [0x05, 0x10, b'h', b'e', b'l', b'l', b'o']
        );
        assert_eq!(decompress(&[0x00], 0).unwrap(), b"");
        assert_eq!(
            decompress(&[0x05, 0x10, b'h', b'e', b'l', b'l', b'o'], 5).unwrap(),
            b"hello"
        );
    }

    #[test]
    fn huge_declared_lengths_are_refused_before_allocating() {
        let limit = 1 << 20;
        for len in [(1 << 20) + 1, 1 << 31, (1 << 32) - 1, 1 << 32] {
            assert_eq!(
                decompress(&declaring(len, &[0x00, b'x']), limit),
                Err(Error::limit(Method::Snappy, limit)),
                "declared {len}"
            );
        }
    }

    #[test]
    fn lengths_the_input_cannot_reach_are_corrupt() {
        // 1,000 bytes declared, 2 bytes of elements: at most 44 bytes out.
        assert_eq!(
            decompress(&declaring(1000, &[0x00, b'x']), 1 << 20),
            Err(Error::corrupt(Method::Snappy))
        );
    }

    #[test]
    fn the_expansion_bound_holds_for_the_densest_input() {
        let zeros = vec![0_u8; 1 << 20];
        let block = compress(&zeros).unwrap();
        assert!(block.len() * MAX_EXPANSION >= zeros.len());
        assert!(
            block.len() * 21 < zeros.len(),
            "near the bound: {}",
            block.len()
        );
        assert_eq!(decompress(&block, zeros.len()).unwrap(), zeros);
    }

    #[test]
    fn length_mismatches_are_corrupt() {
        let block = compress(b"hello hello hello").unwrap();
        let mut longer = declaring(18, &block[1..]);
        assert_eq!(
            decompress(&longer, 100),
            Err(Error::corrupt(Method::Snappy))
        );
        longer = declaring(16, &block[1..]);
        assert_eq!(
            decompress(&longer, 100),
            Err(Error::corrupt(Method::Snappy))
        );
        let mut extra = block.clone();
        extra.push(0x00);
        assert_eq!(decompress(&extra, 100), Err(Error::corrupt(Method::Snappy)));
    }

    #[test]
    fn bad_varints_are_corrupt() {
        // A lone continuation byte, and varints longer than a u32's 5 bytes.
        for block in [vec![0x80], vec![0xff; 6], declaring(1 << 40, &[0x00])] {
            assert_eq!(
                decompress(&block, 100),
                Err(Error::corrupt(Method::Snappy)),
                "{block:02x?}"
            );
        }
    }
}

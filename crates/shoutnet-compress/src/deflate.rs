//! Implements docs/PROTOCOL.md §3 "Compression" for the two deflate-based
//! methods: `zlib` (id 4, RFC 1950) and `gzip` (id 2, RFC 1952).
//!
//! Both use flate2's pure-Rust backend (miniz_oxide). The gzip member header
//! is parsed here rather than by flate2, because flate2 copies the optional
//! file name, comment and extra field into allocations of their own; this
//! parser only skips over them, so a header costs no memory at all.

use std::io::Write;

use flate2::{Compress, Compression, Crc, Decompress, FlushDecompress, Status};

use crate::limit::{self, LimitedSink, Progress, Step};
use crate::{Error, Method};

/// Compression level for both zlib and gzip: 6 is zlib's own default (what
/// Python's `zlib.compress` uses). On msgpack-like bodies of 64 KiB to 1 MiB,
/// level 9 took 2.4× as long for 0.4–0.6% smaller output, and level 1 was 9×
/// faster for 13–15% larger output.
pub const DEFLATE_LEVEL: u32 = 6;

/// The gzip magic, ID1 and ID2 (RFC 1952 §2.3.1).
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
/// CM = 8: deflate, the only method RFC 1952 defines.
const GZIP_CM_DEFLATE: u8 = 8;
/// FLG.FHCRC: a CRC16 of the header follows the optional fields.
const FHCRC: u8 = 0x02;
/// FLG.FEXTRA: a 2-byte length and that many bytes of extra field follow.
const FEXTRA: u8 = 0x04;
/// FLG.FNAME: a zero-terminated file name follows.
const FNAME: u8 = 0x08;
/// FLG.FCOMMENT: a zero-terminated comment follows.
const FCOMMENT: u8 = 0x10;
/// FLG bits 5–7 are reserved; RFC 1952 §2.3.1.2 says a decoder must refuse
/// a member with any of them set.
const FRESERVED: u8 = 0xe0;
/// The fixed part of the member header: ID1 ID2 CM FLG MTIME(4) XFL OS.
const GZIP_FIXED_HEADER: usize = 10;
/// The member trailer: CRC32 then ISIZE, both little-endian.
const GZIP_TRAILER: usize = 8;

/// flate2's decompressor as a [`Step`].
struct Inflate(Decompress);

impl Step for Inflate {
    fn step(&mut self, input: &[u8], output: &mut [u8]) -> Result<Progress, ()> {
        let (in_before, out_before) = (self.0.total_in(), self.0.total_out());
        let status = self
            .0
            .decompress(input, output, FlushDecompress::None)
            .map_err(drop)?;
        Ok(Progress {
            consumed: delta(in_before, self.0.total_in())?,
            produced: delta(out_before, self.0.total_out())?,
            done: status == Status::StreamEnd,
        })
    }
}

/// `after - before` as a `usize`: the bytes one call moved.
fn delta(before: u64, after: u64) -> Result<usize, ()> {
    after
        .checked_sub(before)
        .and_then(|n| usize::try_from(n).ok())
        .ok_or(())
}

/// Compresses `input` into one zlib stream (RFC 1950) at [`DEFLATE_LEVEL`].
pub(crate) fn compress_zlib(input: &[u8]) -> Result<Vec<u8>, Error> {
    let compress = Compress::new(Compression::new(DEFLATE_LEVEL), true);
    let mut encoder = flate2::write::ZlibEncoder::new_with_compress(output_for(input), compress);
    encoder
        .write_all(input)
        .map_err(|_| Error::encoder(Method::Zlib))?;
    encoder.finish().map_err(|_| Error::encoder(Method::Zlib))
}

/// Compresses `input` into one gzip member (RFC 1952) at [`DEFLATE_LEVEL`],
/// with MTIME 0 and no optional fields, so equal input gives equal output.
pub(crate) fn compress_gzip(input: &[u8]) -> Result<Vec<u8>, Error> {
    let mut encoder = flate2::GzBuilder::new()
        .mtime(0)
        .write(output_for(input), Compression::new(DEFLATE_LEVEL));
    encoder
        .write_all(input)
        .map_err(|_| Error::encoder(Method::Gzip))?;
    encoder.finish().map_err(|_| Error::encoder(Method::Gzip))
}

/// An output buffer sized for typical compressed output of `input`.
fn output_for(input: &[u8]) -> Vec<u8> {
    Vec::with_capacity(input.len() / 2 + 64)
}

/// Decompresses exactly one zlib stream; the Adler-32 is checked by flate2.
pub(crate) fn decompress_zlib(input: &[u8], limit: usize) -> Result<Vec<u8>, Error> {
    let method = Method::Zlib;
    let mut sink = LimitedSink::new(limit);
    let used = limit::run(
        method,
        &mut Inflate(Decompress::new(true)),
        input,
        &mut sink,
    )?;
    limit::expect_end(method, used, input)?;
    Ok(sink.into_vec())
}

/// Decompresses exactly one gzip member and checks its CRC32 and ISIZE.
pub(crate) fn decompress_gzip(input: &[u8], limit: usize) -> Result<Vec<u8>, Error> {
    let method = Method::Gzip;
    let corrupt = Error::corrupt(method);
    let header_len = gzip_header_len(input).ok_or(corrupt)?;
    let body = input.get(header_len..).ok_or(corrupt)?;
    let mut sink = LimitedSink::new(limit);
    let used = limit::run(
        method,
        &mut Inflate(Decompress::new(false)),
        body,
        &mut sink,
    )?;
    // Exactly the trailer must follow the deflate data, and nothing after it.
    let trailer = body.get(used..).ok_or(corrupt)?;
    limit::expect_end(method, GZIP_TRAILER, trailer)?;
    let output = sink.into_vec();
    let mut crc = Crc::new();
    crc.update(&output);
    // ISIZE is the length modulo 2^32 (RFC 1952 §2.3.1); truncation intended.
    let isize = output.len() as u32;
    let expected = [crc.sum().to_le_bytes(), isize.to_le_bytes()].concat();
    if trailer == expected.as_slice() {
        Ok(output)
    } else {
        Err(corrupt)
    }
}

/// The length of the gzip member header at the start of `input`, or `None`
/// if it is malformed or truncated (RFC 1952 §2.3).
fn gzip_header_len(input: &[u8]) -> Option<usize> {
    let fixed = input.get(..GZIP_FIXED_HEADER)?;
    let &[id1, id2, cm, flags, ..] = fixed else {
        return None;
    };
    if [id1, id2] != GZIP_MAGIC || cm != GZIP_CM_DEFLATE || flags & FRESERVED != 0 {
        return None;
    }
    let mut pos = GZIP_FIXED_HEADER;
    if flags & FEXTRA != 0 {
        let xlen = usize::from(read_u16_le(input, pos)?);
        pos = pos.checked_add(2)?.checked_add(xlen)?;
    }
    if flags & FNAME != 0 {
        pos = skip_zero_terminated(input, pos)?;
    }
    if flags & FCOMMENT != 0 {
        pos = skip_zero_terminated(input, pos)?;
    }
    if flags & FHCRC != 0 {
        let mut crc = Crc::new();
        crc.update(input.get(..pos)?);
        // The header CRC is the low 16 bits of the CRC32 (RFC 1952 §2.3.1).
        if read_u16_le(input, pos)? != (crc.sum() & 0xffff) as u16 {
            return None;
        }
        pos = pos.checked_add(2)?;
    }
    // Every optional field must fit inside the input.
    (pos <= input.len()).then_some(pos)
}

/// The little-endian `u16` at `pos`.
fn read_u16_le(input: &[u8], pos: usize) -> Option<u16> {
    let bytes = input.get(pos..pos.checked_add(2)?)?;
    Some(u16::from_le_bytes(bytes.try_into().ok()?))
}

/// The position just after the zero byte that ends the string at `pos`.
fn skip_zero_terminated(input: &[u8], pos: usize) -> Option<usize> {
    let len = input.get(pos..)?.iter().position(|&b| b == 0)?;
    pos.checked_add(len)?.checked_add(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &[u8] = b"shoutnet deflate test: the quick brown fox jumps over the lazy dog";

    /// A gzip member with every optional header field, built by hand around
    /// a raw deflate body from flate2.
    fn gzip_with_all_fields(data: &[u8]) -> Vec<u8> {
        let mut member = vec![
            0x1f,
            0x8b,
            8,
            FEXTRA | FNAME | FCOMMENT | FHCRC,
            0,
            0,
            0,
            0,
            0,
            3,
        ];
        member.extend_from_slice(&[4, 0, b'a', b'b', 2, 0]);
        member.extend_from_slice(b"file.msgpack\0a comment\0");
        let mut crc = Crc::new();
        crc.update(&member);
        member.extend_from_slice(&((crc.sum() & 0xffff) as u16).to_le_bytes());
        let mut deflate = flate2::write::DeflateEncoder::new(Vec::new(), Compression::new(6));
        deflate.write_all(data).unwrap();
        member.extend_from_slice(&deflate.finish().unwrap());
        let mut crc = Crc::new();
        crc.update(data);
        member.extend_from_slice(&crc.sum().to_le_bytes());
        member.extend_from_slice(&(data.len() as u32).to_le_bytes());
        member
    }

    #[test]
    fn gzip_output_has_a_fixed_minimal_header() {
        let member = compress_gzip(TEXT).unwrap();
        // ID1 ID2 CM=8 FLG=0 MTIME=0; XFL and OS are whatever flate2 writes.
        assert_eq!(member.get(..8).unwrap(), [0x1f, 0x8b, 8, 0, 0, 0, 0, 0]);
        assert_eq!(compress_gzip(TEXT).unwrap(), member, "deterministic");
    }

    #[test]
    fn zlib_output_has_the_default_level_header() {
        let stream = compress_zlib(TEXT).unwrap();
        // CMF 0x78 (deflate, 32 KiB window), FLG 0x9c (default level).
        assert_eq!(stream.get(..2).unwrap(), [0x78, 0x9c]);
    }

    #[test]
    fn gzip_header_with_every_optional_field_decodes() {
        let member = gzip_with_all_fields(TEXT);
        assert_eq!(decompress_gzip(&member, TEXT.len()).unwrap(), TEXT);
    }

    #[test]
    fn gzip_header_errors() {
        let good = gzip_with_all_fields(TEXT);
        let corrupt = Err(Error::corrupt(Method::Gzip));
        let mut cases: Vec<(&str, Vec<u8>)> = Vec::new();
        for (name, index, value) in [
            ("bad id1", 0, 0x1e),
            ("bad id2", 1, 0x8c),
            ("cm not deflate", 2, 7),
            ("reserved flag", 3, FEXTRA | FNAME | FCOMMENT | FHCRC | 0x20),
            ("header crc", 16, b'x'),
        ] {
            let mut member = good.clone();
            member[index] = value;
            cases.push((name, member));
        }
        // FNAME set but no terminating zero anywhere.
        cases.push((
            "unterminated name",
            vec![0x1f, 0x8b, 8, FNAME, 0, 0, 0, 0, 0, 3, b'a'],
        ));
        // FEXTRA longer than the input.
        cases.push((
            "extra past end",
            vec![0x1f, 0x8b, 8, FEXTRA, 0, 0, 0, 0, 0, 3, 0xff, 0xff, 0],
        ));
        cases.push(("short fixed header", good[..9].to_vec()));
        for (name, member) in cases {
            assert_eq!(decompress_gzip(&member, 1 << 20), corrupt, "{name}");
        }
    }

    #[test]
    fn gzip_trailer_is_checked() {
        let good = compress_gzip(TEXT).unwrap();
        let n = good.len();
        for (name, index) in [("crc32", n - 8), ("isize", n - 1)] {
            let mut member = good.clone();
            member[index] ^= 0x01;
            assert_eq!(
                decompress_gzip(&member, 1 << 20),
                Err(Error::corrupt(Method::Gzip)),
                "{name}"
            );
        }
        for cut in 1..=GZIP_TRAILER {
            assert_eq!(
                decompress_gzip(&good[..n - cut], 1 << 20),
                Err(Error::corrupt(Method::Gzip)),
                "trailer cut by {cut}"
            );
        }
    }

    #[test]
    fn a_second_gzip_member_is_trailing_garbage() {
        let mut two = compress_gzip(b"one").unwrap();
        two.extend_from_slice(&compress_gzip(b"two").unwrap());
        assert_eq!(
            decompress_gzip(&two, 100),
            Err(Error::corrupt(Method::Gzip))
        );
    }

    #[test]
    fn zlib_adler32_is_checked() {
        let mut stream = compress_zlib(TEXT).unwrap();
        *stream.last_mut().unwrap() ^= 0x01;
        assert_eq!(
            decompress_zlib(&stream, 1 << 20),
            Err(Error::corrupt(Method::Zlib))
        );
    }

    #[test]
    fn raw_deflate_is_not_zlib() {
        let mut deflate = flate2::write::DeflateEncoder::new(Vec::new(), Compression::new(6));
        deflate.write_all(TEXT).unwrap();
        let raw = deflate.finish().unwrap();
        assert_eq!(
            decompress_zlib(&raw, 1 << 20),
            Err(Error::corrupt(Method::Zlib))
        );
        assert_eq!(
            decompress_gzip(&raw, 1 << 20),
            Err(Error::corrupt(Method::Gzip))
        );
    }
}

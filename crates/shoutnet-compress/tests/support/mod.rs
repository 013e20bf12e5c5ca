//! Support for the tests and benchmarks of docs/PROTOCOL.md §3
//! "Compression": bodies shaped like transmissions, and streams built by hand
//! the way a hostile peer would build them (bit by bit, with the block and
//! chunk structure no honest encoder writes).
//!
//! Shared by `tests/bombs.rs` (`mod support;`) and the benchmarks
//! (`#[path = "../tests/support/mod.rs"] mod support;`). Each binary uses a
//! different part of it.
#![allow(dead_code, reason = "each test or bench binary uses a different part")]

use shoutnet_compress::{Method, compress};

/// xorshift64: deterministic bytes without the rand crate.
pub(crate) struct XorShift(pub(crate) u64);

impl XorShift {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub(crate) fn byte(&mut self) -> u8 {
        self.next().to_le_bytes()[0]
    }

    pub(crate) fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).unwrap()
    }
}

/// `len` bytes shaped like a batch of shoutnet messages: msgpack maps with
/// string keys, small and large ints, a key from a handful of peers (32-byte
/// bin, repeats), a timestamp, an opcode name, and a short random payload
/// (incompressible, like nonces, signatures and encrypted data).
pub(crate) fn body(len: usize) -> Vec<u8> {
    const OPS: [&str; 6] = ["shout", "speak", "whisper", "store", "find_node", "ack"];
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let peers: Vec<[u8; 32]> = (0..8)
        .map(|_| std::array::from_fn(|_| rng.byte()))
        .collect();
    let mut out = Vec::with_capacity(len + 128);
    let mut id = 0_u32;
    while out.len() < len {
        out.push(0x85); // fixmap, 5 entries
        out.extend_from_slice(b"\xa2id\xce");
        out.extend_from_slice(&id.to_be_bytes());
        let op = OPS[rng.below(OPS.len())];
        out.extend_from_slice(b"\xa2op");
        out.push(0xa0 | u8::try_from(op.len()).unwrap());
        out.extend_from_slice(op.as_bytes());
        out.extend_from_slice(b"\xa4from\xc4\x20");
        out.extend_from_slice(&peers[rng.below(peers.len())]);
        out.extend_from_slice(b"\xa2ts\xcf");
        out.extend_from_slice(&(1_700_000_000_000_u64 + u64::from(id) * 37).to_be_bytes());
        let n = 8 + rng.below(24);
        out.extend_from_slice(b"\xa4data\xc4");
        out.push(u8::try_from(n).unwrap());
        out.extend((0..n).map(|_| rng.byte()));
        id += 1;
    }
    out.truncate(len);
    out
}

/// `len` random bytes drawn from 16 values: 4 bits of entropy per byte and
/// no repeats to speak of. Every entropy coder compresses it by about half
/// and codes nearly every byte as a literal, the slowest path per output
/// byte (bzip2 also gets full blocks with no run-length savings).
pub(crate) fn skewed(len: usize) -> Vec<u8> {
    let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
    (0..len).map(|_| b'a' + (rng.byte() & 0x0f)).collect()
}

/// CRC-32 (IEEE): the gzip trailer and the xz header, index and footer checks.
pub(crate) fn crc32(data: &[u8]) -> u32 {
    let mut crc = flate2::Crc::new();
    crc.update(data);
    crc.sum()
}

/// Adler-32 (RFC 1950), the zlib trailer.
pub(crate) fn adler32(data: &[u8]) -> u32 {
    let (mut a, mut b) = (1_u32, 0_u32);
    for chunk in data.chunks(5552) {
        for &byte in chunk {
            a += u32::from(byte);
            b += a;
        }
        a %= 65_521;
        b %= 65_521;
    }
    (b << 16) | a
}

// ---------------------------------------------------------------- deflate

/// A deflate bit writer: values are packed from the least significant bit
/// (RFC 1951 §3.1.1), Huffman codes from their most significant bit.
#[derive(Default)]
struct LsbBits {
    out: Vec<u8>,
    acc: u64,
    n: u32,
}

impl LsbBits {
    fn put(&mut self, value: u32, bits: u32) {
        self.acc |= u64::from(value) << self.n;
        self.n += bits;
        while self.n >= 8 {
            self.out.push(self.acc.to_le_bytes()[0]);
            self.acc >>= 8;
            self.n -= 8;
        }
    }

    fn put_code(&mut self, code: u32, len: u32) {
        self.put(code.reverse_bits() >> (32 - len), len);
    }

    fn finish(mut self) -> Vec<u8> {
        if self.n > 0 {
            self.out.push(self.acc.to_le_bytes()[0]);
        }
        self.out
    }
}

/// Raw deflate data of `blocks` fixed-Huffman blocks, each holding `literal`
/// once (a byte below 144) or nothing at all, then end-of-block: 10 bits per
/// empty block, 18 per one-literal block. Every block makes the decoder
/// build both fixed Huffman tables again. Returns the data and its output.
pub(crate) fn deflate_fixed_blocks(blocks: usize, literal: Option<u8>) -> (Vec<u8>, Vec<u8>) {
    let mut bits = LsbBits::default();
    let mut output = Vec::new();
    for i in 0..blocks {
        bits.put(u32::from(i + 1 == blocks), 1); // BFINAL
        bits.put(1, 2); // BTYPE 01: fixed Huffman codes
        if let Some(byte) = literal {
            assert!(byte < 144, "literals 0..=143 have 8-bit codes 0x30..");
            bits.put_code(0x30 + u32::from(byte), 8);
            output.push(byte);
        }
        bits.put_code(0, 7); // 256, end of block
    }
    (bits.finish(), output)
}

/// `raw` deflate data in a zlib stream (RFC 1950) whose output is `output`.
pub(crate) fn zlib_wrap(raw: &[u8], output: &[u8]) -> Vec<u8> {
    let mut stream = vec![0x78, 0x9c];
    stream.extend_from_slice(raw);
    stream.extend_from_slice(&adler32(output).to_be_bytes());
    stream
}

/// `raw` deflate data in a gzip member (RFC 1952) whose output is `output`.
pub(crate) fn gzip_wrap(raw: &[u8], output: &[u8]) -> Vec<u8> {
    let mut member = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    member.extend_from_slice(raw);
    member.extend_from_slice(&crc32(output).to_le_bytes());
    member.extend_from_slice(&(output.len() as u32).to_le_bytes());
    member
}

// ---------------------------------------------------------------- xz

/// The dictionary-size byte for 64 MiB, the most `XZ_MAX_DICT` allows: a
/// hostile peer declares it so that each block's window grows in the
/// largest steps.
pub(crate) const XZ_DICT_64_MIB: u8 = 28;

/// An xz variable-length integer (xz format §1.2).
fn vli(mut n: u64, out: &mut Vec<u8>) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// One xz stream with check type none around `blocks`, each given as its
/// LZMA2 data and the size it decodes to, with block headers declaring
/// dictionary byte `dict`: stream header, blocks with padding, the index
/// listing every block, stream footer. Everything a decoder checks (header
/// CRCs, index, backward size) is right.
pub(crate) fn xz_stream<'a>(
    blocks: impl IntoIterator<Item = (&'a [u8], u64)>,
    dict: u8,
) -> Vec<u8> {
    let flags = [0x00, 0x00]; // check type none
    let mut stream = vec![0xfd, b'7', b'z', b'X', b'Z', 0x00];
    stream.extend_from_slice(&flags);
    stream.extend_from_slice(&crc32(&flags).to_le_bytes());
    // Block header: size (12 bytes = (2 + 1) * 4), flags (one filter, no
    // size fields), LZMA2 filter id and properties, padding, CRC32.
    let mut header = vec![0x02, 0x00, 0x21, 0x01, dict, 0, 0, 0];
    let crc = crc32(&header);
    header.extend_from_slice(&crc.to_le_bytes());
    let mut records = Vec::new();
    for (data, uncompressed) in blocks {
        stream.extend_from_slice(&header);
        stream.extend_from_slice(data);
        stream.resize(stream.len() + (4 - data.len() % 4) % 4, 0);
        records.push(((header.len() + data.len()) as u64, uncompressed));
    }
    let mut index = vec![0x00];
    vli(records.len() as u64, &mut index);
    for (unpadded, uncompressed) in records {
        vli(unpadded, &mut index);
        vli(uncompressed, &mut index);
    }
    index.resize(index.len() + (4 - index.len() % 4) % 4, 0);
    let crc = crc32(&index);
    index.extend_from_slice(&crc.to_le_bytes());
    let backward = u32::try_from(index.len() / 4 - 1).unwrap();
    stream.extend_from_slice(&index);
    let mut footer_fields = backward.to_le_bytes().to_vec();
    footer_fields.extend_from_slice(&flags);
    stream.extend_from_slice(&crc32(&footer_fields).to_le_bytes());
    stream.extend_from_slice(&footer_fields);
    stream.extend_from_slice(b"YZ");
    stream
}

/// An xz stream of `blocks` blocks that each decode to `payload` (at most
/// 64 KiB; empty gives blocks with no LZMA2 chunk at all), stored in one
/// uncompressed LZMA2 chunk that resets the dictionary. 16 bytes per empty
/// block, 20 per one-byte block.
pub(crate) fn xz_tiny_blocks(blocks: usize, payload: &[u8]) -> Vec<u8> {
    let mut data = Vec::new();
    if !payload.is_empty() {
        data.push(0x01); // uncompressed chunk, dictionary reset
        data.extend_from_slice(&u16::try_from(payload.len() - 1).unwrap().to_be_bytes());
        data.extend_from_slice(payload);
    }
    data.push(0x00); // end of LZMA2 data
    let size = payload.len() as u64;
    xz_stream(
        std::iter::repeat_n((&data[..], size), blocks),
        XZ_DICT_64_MIB,
    )
}

/// The first LZMA2 chunk of what this crate's encoder writes for `len`
/// zeros, if it is an LZMA chunk that resets dictionary, state and
/// properties (control byte 0xe0 and up), with `lc + lp` (literal context
/// and position bits) raised to 4, the most LZMA2 allows: a decoder
/// allocates and initialises 0x300 << (lc + lp) probabilities (24 KiB) for
/// it. For all-zero output the
/// literal context is always 0, so the coded bits mean the same under any
/// `lc`.
pub(crate) fn lzma_reset_chunk(len: usize) -> Option<Vec<u8>> {
    let stream = compress(Method::Lzma, &vec![0; len]).ok()?;
    let header_len = (usize::from(*stream.get(12)?) + 1) * 4;
    let data = stream.get(12 + header_len..)?;
    let control = *data.first()?;
    if control < 0xe0 {
        return None;
    }
    let unpacked = (usize::from(control & 0x1f) << 16)
        + usize::from(u16::from_be_bytes([data[1], data[2]]))
        + 1;
    let packed = usize::from(u16::from_be_bytes([data[3], data[4]])) + 1;
    if unpacked != len {
        return None;
    }
    let mut chunk = data.get(..6 + packed)?.to_vec();
    let props = chunk[5];
    let (lc, rest) = (props % 9, props / 9);
    let (lp, pb) = (rest % 5, rest / 5);
    if lc + lp < 4 {
        chunk[5] = (pb * 5 + lp) * 9 + (4 - lp);
    }
    Some(chunk)
}

/// One xz block holding `copies` of `chunk` (an LZMA2 chunk that resets
/// everything, from [`lzma_reset_chunk`]) back to back, decoding to
/// `copies * len` zeros.
pub(crate) fn xz_reset_chunks(chunk: &[u8], len: usize, copies: usize) -> Vec<u8> {
    let mut data = chunk.repeat(copies);
    data.push(0x00);
    xz_stream([(&data[..], (len * copies) as u64)], XZ_DICT_64_MIB)
}

// ---------------------------------------------------------------- bzip2

/// A bzip2 bit writer: most significant bit first.
#[derive(Default)]
struct MsbBits {
    out: Vec<u8>,
    acc: u64,
    n: u32,
}

impl MsbBits {
    fn put(&mut self, value: u64, bits: u32) {
        for i in (0..bits).rev() {
            self.acc = (self.acc << 1) | ((value >> i) & 1);
            self.n += 1;
            if self.n == 8 {
                self.out.push(self.acc.to_le_bytes()[0]);
                self.acc = 0;
                self.n = 0;
            }
        }
    }

    fn finish(mut self) -> Vec<u8> {
        if self.n > 0 {
            self.out.push((self.acc << (8 - self.n)).to_le_bytes()[0]);
        }
        self.out
    }
}

/// Bit `i` of `data`, most significant bit of each byte first.
fn bit(data: &[u8], i: usize) -> u64 {
    u64::from((data[i / 8] >> (7 - i % 8)) & 1)
}

/// `bits` bits of `data` from bit `at`, as a number.
fn bits_at(data: &[u8], at: usize, bits: usize) -> u64 {
    (at..at + bits).fold(0, |acc, i| (acc << 1) | bit(data, i))
}

/// The bzip2 end-of-stream magic, the square root of pi.
const BZ2_END_MAGIC: u64 = 0x1772_4538_5090;

/// A bzip2 stream whose header asks for `level` (block size `level` × 100
/// kB, so `level` × 400 kB of decoder memory) with `blocks` copies of the
/// one block that encodes `byte` alone, and the combined CRC the decoder
/// checks. Blocks are bit-aligned, so the copies are spliced bit by bit.
pub(crate) fn bz2_tiny_blocks(level: u32, byte: u8, blocks: usize) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::new(level));
    encoder.write_all(&[byte]).unwrap();
    let one = encoder.finish().unwrap();
    // Stream: "BZh" digit (32 bits), one block, end magic (48), combined CRC
    // (32), padding to a byte. Find where the end magic starts.
    let total = one.len() * 8;
    let end = (32..total - 80)
        .rev()
        .find(|&at| total - (at + 80) < 8 && bits_at(&one, at, 48) == BZ2_END_MAGIC)
        .expect("a one-block bzip2 stream");
    // The block CRC follows the 48-bit block magic.
    let block_crc = bits_at(&one, 32 + 48, 32) as u32;
    let mut bits = MsbBits::default();
    bits.put(bits_at(&one, 0, 32), 32);
    let mut combined = 0_u32;
    for _ in 0..blocks {
        for i in 32..end {
            bits.put(bit(&one, i), 1);
        }
        combined = combined.rotate_left(1) ^ block_crc;
    }
    bits.put(BZ2_END_MAGIC, 48);
    bits.put(u64::from(combined), 32);
    bits.finish()
}

/// `data` as one bzip2 stream at `level` (the crate itself always writes
/// level 1; a peer may write any).
pub(crate) fn bz2_at_level(data: &[u8], level: u32) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::new(level));
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

// ---------------------------------------------------------------- snappy

/// A raw snappy block header: the uncompressed length as a varint.
fn snappy_len(len: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut n = len;
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
    out
}

/// A raw snappy block of `len` one-byte literals (2 input bytes per output
/// byte: the most elements per output byte).
pub(crate) fn snappy_literals(len: usize) -> Vec<u8> {
    let mut block = snappy_len(len);
    for i in 0..len {
        block.push(0x00); // literal of length 1
        block.push(b'a' + (i % 16) as u8);
    }
    block
}

/// A raw snappy block of one literal byte and `copies` 4-byte copies at
/// offset 1 (2 input bytes per element, the shortest copy there is).
pub(crate) fn snappy_short_copies(copies: usize) -> Vec<u8> {
    let mut block = snappy_len(1 + 4 * copies);
    block.extend_from_slice(&[0x00, b'a']);
    for _ in 0..copies {
        // Copy with 1-byte offset: length 4 ((4 - 4) << 2), tag 01, offset 1.
        block.extend_from_slice(&[0x01, 0x01]);
    }
    block
}

//! Implements docs/PROTOCOL.md §3 "Compression": throughput of every method
//! on msgpack-like transmission bodies, against a `memcpy` of the same bytes
//! in the same group.
//!
//! Run with `cargo bench -p shoutnet-compress`. Throughput is in bytes of
//! *uncompressed* body per second for both directions, so the numbers
//! compare directly with the `memcpy` baseline.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use shoutnet_compress::{Method, compress, decompress};

/// Body sizes: a small batch and a large one.
const SIZES: [(usize, &str); 2] = [(1 << 10, "1KiB"), (64 << 10, "64KiB")];

/// xorshift64: deterministic bytes without the rand crate.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn byte(&mut self) -> u8 {
        self.next().to_le_bytes()[0]
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).unwrap()
    }
}

/// `len` bytes shaped like a batch of shoutnet messages: msgpack maps with
/// string keys, small and large ints, a key from a handful of peers (32-byte
/// bin, repeats), a timestamp, an opcode name, and a short random payload
/// (incompressible, like nonces, signatures and encrypted data).
fn body(len: usize) -> Vec<u8> {
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

fn bench_compress(c: &mut Criterion) {
    for (size, label) in SIZES {
        let data = body(size);
        let mut group = c.benchmark_group(format!("compress/{label}"));
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_function("memcpy", |b| b.iter(|| black_box(data.as_slice()).to_vec()));
        for method in Method::ALL {
            let ratio = compress(method, &data).unwrap().len() as f64 / size as f64;
            eprintln!("ratio {label} {method}: {ratio:.3}");
            group.bench_with_input(BenchmarkId::from_parameter(method), &data, |b, data| {
                b.iter(|| compress(method, black_box(data)).unwrap());
            });
        }
        // The pure-Rust xz encoder used without the `liblzma` feature, for
        // comparison with the default (liblzma) in the row above.
        group.bench_with_input("lzma-rust2", &data, |b, data| {
            b.iter(|| {
                let mut options = lzma_rust2::XzOptions::with_preset(6);
                options.lzma_options.dict_size = u32::try_from(data.len().max(4096)).unwrap();
                let mut writer = lzma_rust2::XzWriter::new(Vec::new(), options).unwrap();
                std::io::Write::write_all(&mut writer, black_box(data)).unwrap();
                writer.finish().unwrap()
            });
        });
        group.finish();
    }
}

fn bench_decompress(c: &mut Criterion) {
    for (size, label) in SIZES {
        let data = body(size);
        let mut group = c.benchmark_group(format!("decompress/{label}"));
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_function("memcpy", |b| b.iter(|| black_box(data.as_slice()).to_vec()));
        for method in Method::ALL {
            let stream = compress(method, &data).unwrap();
            group.bench_with_input(BenchmarkId::from_parameter(method), &stream, |b, stream| {
                b.iter(|| decompress(method, black_box(stream), size).unwrap());
            });
        }
        group.finish();
    }
}

criterion_group!(benches, bench_compress, bench_decompress);
criterion_main!(benches);

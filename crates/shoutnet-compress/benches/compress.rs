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
use support::body;

#[path = "../tests/support/mod.rs"]
mod support;

/// Body sizes: a small batch and a large one.
const SIZES: [(usize, &str); 2] = [(1 << 10, "1KiB"), (64 << 10, "64KiB")];

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

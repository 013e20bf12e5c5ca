//! Encode and decode throughput of a batched transmission against `memcpy`
//! of the same bytes (docs/design.md §16: wire decode and encode at least
//! half the speed of memcpy, measured in the same criterion run).
//!
//! One transmission of 100 plain messages with 256-byte bodies (WHISPERs
//! with binary data and forwarded SHOUTs with a small map), uncompressed,
//! for each key profile: 70-byte message headers for ed25519, 546-byte for
//! rsa2048. Every function of a group handles the same number of bytes, the
//! transmission's length, so the throughputs compare directly.

#[path = "support/mod.rs"]
mod support;

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use shoutnet_wire::{BatchEncoder, Limits, Method, MethodSet, StreamDecoder, decode_transmission};

/// The read size of the `stream_decode` function: one Ethernet MTU.
const CHUNK: usize = 1500;

fn codec(c: &mut Criterion) {
    let limits = Limits::default();
    for profile in support::PROFILES {
        let messages = support::codec_messages(profile);
        let wire = support::codec_transmission(profile, &messages);
        let body_len = wire.len() - shoutnet_wire::TRANSMISSION_HEADER_LEN;

        let mut group = c.benchmark_group(format!("codec/{profile}"));
        group.throughput(Throughput::Bytes(wire.len() as u64));

        let mut dst = vec![0u8; wire.len()];
        group.bench_function("memcpy", |b| {
            b.iter(|| {
                dst.copy_from_slice(black_box(&wire[..]));
                black_box(&mut dst);
            });
        });

        group.bench_function("encode", |b| {
            b.iter(|| {
                let mut batch = BatchEncoder::new(profile);
                for msg in black_box(&messages) {
                    batch.push(msg).expect("push");
                }
                batch.finish(Method::None).expect("finish")
            });
        });

        group.bench_function("encode_with_capacity", |b| {
            b.iter(|| {
                let mut batch = BatchEncoder::with_capacity(profile, body_len);
                for msg in black_box(&messages) {
                    batch.push(msg).expect("push");
                }
                batch.finish(Method::None).expect("finish")
            });
        });

        group.bench_function("decode", |b| {
            b.iter(|| {
                decode_transmission(black_box(wire.clone()), profile, &limits, MethodSet::all())
                    .expect("decode")
            });
        });

        group.bench_function("decode+values", |b| {
            b.iter(|| {
                let tx = decode_transmission(
                    black_box(wire.clone()),
                    profile,
                    &limits,
                    MethodSet::all(),
                )
                .expect("decode");
                for msg in tx.iter() {
                    black_box(msg.value(&limits.value).expect("value"));
                }
                tx
            });
        });

        // One decoder for the whole run, as on a connection; every iteration
        // ends with its buffer drained.
        let mut decoder = StreamDecoder::new(limits);
        group.bench_function("stream_decode", |b| {
            b.iter(|| {
                let mut decoded = 0;
                for chunk in black_box(&wire[..]).chunks(CHUNK) {
                    decoder.push(chunk);
                    while let Some(frame) = decoder.next_frame().expect("frame") {
                        let tx = frame.decode(profile, &limits).expect("decode");
                        decoded += tx.len();
                        black_box(tx);
                    }
                }
                assert_eq!(decoded, support::CODEC_MESSAGES);
            });
        });

        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(30);
    targets = codec
}
criterion_main!(benches);

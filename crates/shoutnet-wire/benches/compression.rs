//! Compression and decompression of realistic batched transmission bodies,
//! per method, against `memcpy` of the same bytes.
//!
//! The bodies are what `BatchEncoder::finish(Method::None)` writes after the
//! 6-byte header for a realistic mix of traffic on one connection (FIND_NODE
//! requests, ACK FIND_NODE replies with node infos, WHISPERs with small maps,
//! SHOUT/SPEAK with text, a handful of distinct header keys), filled with
//! whole messages up to 1 KiB and 64 KiB, for both key profiles. (An rsa2048
//! message header alone is 546 bytes, so its "1 KiB" body is one message.)
//! Throughput is in uncompressed bytes for every function, so compress,
//! decompress and memcpy compare directly.

#[path = "support/mod.rs"]
mod support;

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use shoutnet_wire::Limits;

fn compression(c: &mut Criterion) {
    for profile in support::PROFILES {
        for (label, target) in support::BODY_SIZES {
            let body = support::traffic_body(profile, target);
            let mut group = c.benchmark_group(format!("compression/{profile}/{label}"));
            group.throughput(Throughput::Bytes(body.len() as u64));

            let mut dst = vec![0u8; body.len()];
            group.bench_function("memcpy", |b| {
                b.iter(|| {
                    dst.copy_from_slice(black_box(&body[..]));
                    black_box(&mut dst);
                });
            });

            for method in support::METHODS {
                let compressed = shoutnet_compress::compress(method, &body).expect("compress");
                // What `Frame::decode` passes: the receiver's default limit.
                let limit = Limits::default().max_decompressed;
                assert_eq!(
                    shoutnet_compress::decompress(method, &compressed, limit).as_deref(),
                    Ok(&body[..])
                );
                group.bench_function(format!("{method}/compress"), |b| {
                    b.iter(|| {
                        shoutnet_compress::compress(method, black_box(&body)).expect("compress")
                    });
                });
                group.bench_function(format!("{method}/decompress"), |b| {
                    b.iter(|| {
                        shoutnet_compress::decompress(method, black_box(&compressed), limit)
                            .expect("decompress")
                    });
                });
            }
            group.finish();
        }
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(30);
    targets = compression
}
criterion_main!(benches);

//! Prints a markdown table of every compression method on realistic batched
//! transmission bodies of about 1 KiB and 64 KiB, for both key profiles:
//! compressed size, ratios, and indicative compress/decompress speeds.
//!
//! The bodies are those of `benches/compression.rs` (shared code in
//! `benches/support/mod.rs`). An extra row encodes `lzma` with lzma-rs's
//! `xz_compress`, which writes LZMA2 *stored* (uncompressed) chunks: a valid
//! xz stream that is larger than its input, which is why shoutnet encodes
//! `lzma` with liblzma instead.
//!
//! Run with `cargo run --release -p shoutnet-wire --example compression_table`.
//! Speeds come from a plain `Instant` loop and are indicative only;
//! `cargo bench -p shoutnet-wire --bench compression` has the careful numbers.

#[path = "../benches/support/mod.rs"]
mod support;

use std::hint::black_box;
use std::time::{Duration, Instant};

use shoutnet_wire::{Limits, Method, Profile};

/// How long each speed measurement runs, at least.
const MEASURE: Duration = Duration::from_millis(300);

/// One compressor under test: its row label and how it compresses.
struct Row {
    label: &'static str,
    method: Method,
    compress: fn(&[u8]) -> Vec<u8>,
}

fn lzma_rs_xz(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    lzma_rs::xz_compress(&mut &input[..], &mut out).expect("lzma-rs xz_compress");
    out
}

/// Uncompressed MiB per second of `op`, run until [`MEASURE`] has passed.
#[allow(
    clippy::disallowed_methods,
    reason = "an example binary timing itself, not library code"
)]
fn mib_per_s(bytes: usize, mut op: impl FnMut()) -> f64 {
    op(); // warm up
    let start = Instant::now();
    let mut iterations = 0u64;
    while iterations < 3 || start.elapsed() < MEASURE {
        op();
        iterations += 1;
    }
    let secs = start.elapsed().as_secs_f64();
    (bytes as f64 * iterations as f64) / secs / f64::from(1 << 20)
}

fn table(profile: Profile, rows: &[Row]) {
    let limit = Limits::default().max_decompressed;
    let bodies: Vec<_> = support::BODY_SIZES
        .iter()
        .map(|&(label, target)| (label, support::traffic_body(profile, target)))
        .collect();
    println!(
        "### {profile} ({}-byte message headers)\n",
        profile.header_len()
    );
    println!(
        "| method | body | original B | compressed B | compressed/original | original/compressed | compress MiB/s | decompress MiB/s |"
    );
    println!("|---|---|--:|--:|--:|--:|--:|--:|");
    for row in rows {
        for (label, body) in &bodies {
            let compressed = (row.compress)(body);
            let restored =
                shoutnet_compress::decompress(row.method, &compressed, limit).expect("decompress");
            assert_eq!(restored, &body[..], "{} round trip", row.label);
            let compress = mib_per_s(body.len(), || {
                black_box((row.compress)(black_box(body)));
            });
            let decompress = mib_per_s(body.len(), || {
                black_box(
                    shoutnet_compress::decompress(row.method, black_box(&compressed), limit)
                        .expect("decompress"),
                );
            });
            println!(
                "| {} | {label} | {} | {} | {:.3} | {:.2} | {compress:.1} | {decompress:.1} |",
                row.label,
                body.len(),
                compressed.len(),
                compressed.len() as f64 / body.len() as f64,
                body.len() as f64 / compressed.len() as f64,
            );
        }
    }
    println!();
}

fn main() {
    let mut rows: Vec<Row> = support::METHODS
        .iter()
        .map(|&method| Row {
            label: method.name(),
            method,
            compress: match method {
                Method::None => |b: &[u8]| b.to_vec(),
                Method::Bz2 => |b: &[u8]| shoutnet_compress::compress(Method::Bz2, b).expect("bz2"),
                Method::Gzip => {
                    |b: &[u8]| shoutnet_compress::compress(Method::Gzip, b).expect("gzip")
                }
                Method::Lzma => {
                    |b: &[u8]| shoutnet_compress::compress(Method::Lzma, b).expect("lzma")
                }
                Method::Zlib => {
                    |b: &[u8]| shoutnet_compress::compress(Method::Zlib, b).expect("zlib")
                }
                Method::Snappy => {
                    |b: &[u8]| shoutnet_compress::compress(Method::Snappy, b).expect("snappy")
                }
            },
        })
        .collect();
    rows.push(Row {
        label: "lzma (lzma-rs xz_compress, stored chunks)",
        method: Method::Lzma,
        compress: lzma_rs_xz,
    });

    println!("## Compression of realistic batched transmission bodies\n");
    println!(
        "Bodies: uncompressed `BatchEncoder` output (without the 6-byte transmission header) of \
         FIND_NODE, ACK FIND_NODE (node infos), WHISPER (small maps) and SHOUT/SPEAK (text) \
         messages from a handful of keys, filled with whole messages up to 1 KiB / 64 KiB (a \
         message that would overflow is left for a later transmission; with 546-byte rsa2048 \
         headers the \"1 KiB\" body is a single message). \
         `lzma` is encoded by liblzma (preset 6); every row is decompressed by shoutnet-compress. \
         MiB/s are of uncompressed bytes.\n"
    );
    println!(
        "Note: timings come from a simple `Instant` loop in an example binary and are indicative \
         only; `cargo bench -p shoutnet-wire --bench compression` (criterion) has the careful \
         numbers. In a short-lived process bz2 and lzma compress small bodies several times \
         slower than under criterion: their per-call encoder state (about 0.75 MB for liblzma) \
         is trimmed back to the OS by glibc on free and page-faulted in again on every call.\n"
    );
    for profile in support::PROFILES {
        table(profile, &rows);
    }
}

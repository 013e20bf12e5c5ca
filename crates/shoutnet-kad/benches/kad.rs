//! Routing table speed: `closest(target, 20)` on tables of 1,000 and about
//! 5,000 entries beside a brute-force sort of the same entries in the same
//! group, and `insert_or_update`.
//!
//! With k = 20, random addresses fill only the top dozen buckets (about 240
//! entries), so the tables here are built bucket by bucket: 20 entries in
//! each of the top 50 (1,000 entries) or top 250 (5,000 entries) buckets, the
//! low bits taken from SHA-256 of a counter so every run uses the same table.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use shoutnet_kad::{Address, KadConfig, RoutingTable};

/// The number of closest entries asked for: k.
const N: usize = 20;

fn address(i: u64) -> Address {
    Address::of_dht_key(&i.to_be_bytes())
}

/// The one real instant of the bench; the table only stores it.
#[allow(clippy::disallowed_methods)] // Benches only; the crate never reads a clock.
fn t0() -> Instant {
    Instant::now()
}

/// A k = 20 table with `entries` entries, 20 in each of the top
/// `entries / 20` buckets, and the addresses themselves.
fn table(entries: u64, now: Instant) -> (RoutingTable<u64>, Vec<Address>) {
    let local = Address::of_dht_key(b"bench local");
    let mut table = RoutingTable::new(local, KadConfig::default(), now);
    let addrs: Vec<_> = (0..entries)
        .map(|i| {
            let bucket = u8::try_from(255 - i / 20).expect("at most 256 buckets");
            // The counter within the bucket in the last byte keeps the
            // addresses distinct even in bucket 6, which has 64 in all.
            let mut seed = address(i).0;
            seed[31] = (i % 20) as u8;
            table.random_address_in_bucket(bucket, seed)
        })
        .collect();
    for (i, a) in addrs.iter().enumerate() {
        table.insert_or_update(*a, i as u64, now);
    }
    assert_eq!(table.len(), addrs.len());
    (table, addrs)
}

fn closest(c: &mut Criterion) {
    let now = t0();
    let target = Address::of_dht_key(b"bench target");
    for entries in [1_000, 5_000] {
        let (table, addrs) = table(entries, now);
        let mut group = c.benchmark_group(format!("closest/{entries}"));
        group.bench_function("table", |b| {
            b.iter(|| black_box(&table).closest(black_box(&target), N).len());
        });
        group.bench_function("brute_force_sort", |b| {
            b.iter(|| {
                let mut all: Vec<_> = black_box(&addrs)
                    .iter()
                    .map(|a| (target.distance(a), *a))
                    .collect();
                all.sort_unstable();
                all.truncate(N);
                all.len()
            });
        });
        group.finish();
    }
}

fn insert(c: &mut Criterion) {
    let now = t0();
    let mut group = c.benchmark_group("insert");
    group.bench_function("insert_or_update/1000_new_k20", |b| {
        let addrs: Vec<_> = (0..1_000).map(address).collect();
        b.iter_batched(
            || RoutingTable::<u64>::new(Address([0; 32]), KadConfig::default(), now),
            |mut table| {
                for (i, a) in addrs.iter().enumerate() {
                    table.insert_or_update(*a, i as u64, now);
                }
                table
            },
            BatchSize::SmallInput,
        );
    });
    let (mut table, addrs) = table(1_000, now);
    group.bench_function("insert_or_update/update_in_1000", |b| {
        let mut i = 0usize;
        b.iter(|| {
            i = (i + 1) % addrs.len();
            table.insert_or_update(addrs[i], 0, now)
        });
    });
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_secs(1))
}

criterion_group! {
    name = benches;
    config = config();
    targets = closest, insert
}
criterion_main!(benches);

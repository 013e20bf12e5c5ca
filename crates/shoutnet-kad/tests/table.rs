//! Routing table properties against a brute-force model: buckets never
//! exceed k, replacement caches stay bounded, `closest` equals a full sort,
//! and the table's contents match a simple list-based model.

use std::time::{Duration, Instant};

use proptest::prelude::*;
use shoutnet_kad::{Address, InsertOutcome, KadConfig, RoutingTable, TableEvent};

/// The one real instant of these tests; everything after it is `t0 + d`.
#[allow(clippy::disallowed_methods)] // Tests only; the crate never reads a clock.
fn t0() -> Instant {
    Instant::now()
}

#[derive(Debug, Clone)]
enum Op {
    Insert(Address),
    Ping { alive: bool },
    Fail(Address),
    Remove(Address),
    Tick,
}

/// Addresses crowded into few buckets of the all-zero local address (a
/// short random prefix, the rest zero) so buckets fill up and overflow.
fn crowded() -> impl Strategy<Value = Address> {
    (any::<u8>(), 0u8..4).prop_map(|(b, shift)| {
        let mut a = [0u8; 32];
        a[0] = b >> shift;
        a[1] = b;
        Address(a)
    })
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => crowded().prop_map(Op::Insert),
        2 => any::<bool>().prop_map(|alive| Op::Ping { alive }),
        1 => crowded().prop_map(Op::Fail),
        1 => crowded().prop_map(Op::Remove),
        1 => Just(Op::Tick),
    ]
}

/// The model: a list per bucket of live entries, least-recently-seen first.
fn model_check(table: &RoutingTable<u32>, config: &KadConfig) -> Result<(), TestCaseError> {
    let mut total = 0;
    for i in 0..=u8::MAX {
        let entries = table.bucket_entries(i);
        prop_assert!(
            entries.len() <= config.bucket_size(),
            "bucket {} has {}",
            i,
            entries.len()
        );
        prop_assert!(table.replacements_len(i) <= config.replacement_cache());
        prop_assert_eq!(table.bucket_len(i), entries.len());
        for (a, _) in &entries {
            prop_assert_eq!(table.bucket_index(a), Some(i));
            prop_assert!(!table.is_replacement(a), "an entry is also a replacement");
        }
        if let Some(p) = table.pending_ping(i) {
            prop_assert!(table.contains(&p), "pinging a non-entry");
        }
        total += entries.len();
    }
    prop_assert_eq!(total, table.len());
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Under random insert / ping / failure / remove / time sequences,
    /// buckets stay within k, caches within their bound, the counters agree,
    /// and each insert's outcome matches the table afterwards.
    #[test]
    fn buckets_never_exceed_k(ops in prop::collection::vec(op(), 1..300), k in 1usize..5, cache in 0usize..4, stale_secs in prop_oneof![Just(0u64), Just(6)]) {
        let now0 = t0();
        let mut config = KadConfig::default();
        config.set_k(k).set_replacement_cache(cache).set_stale_after(Duration::from_secs(stale_secs));
        let local = Address([0; 32]);
        let mut table = RoutingTable::new(local, config.clone(), now0);
        let mut now = now0;
        let mut pings: Vec<Address> = Vec::new();
        for (n, op) in ops.into_iter().enumerate() {
            match op {
                Op::Insert(a) => {
                    let was = table.contains(&a);
                    let outcome = table.insert_or_update(a, n as u32, now);
                    match outcome {
                        InsertOutcome::Ignored => prop_assert_eq!(a, local),
                        InsertOutcome::Updated => prop_assert!(was),
                        InsertOutcome::Inserted => prop_assert!(!was && table.contains(&a)),
                        InsertOutcome::Pending { ping } => {
                            prop_assert!(!table.contains(&a));
                            prop_assert_eq!(table.bucket_index(&ping), table.bucket_index(&a));
                            let i = table.bucket_index(&a).unwrap_or_default();
                            prop_assert_eq!(table.bucket_entries(i)[0].0, ping);
                            pings.push(ping);
                        }
                        InsertOutcome::Queued => prop_assert!(!table.contains(&a)),
                    }
                    if outcome != InsertOutcome::Ignored && outcome != InsertOutcome::Inserted && outcome != InsertOutcome::Updated {
                        prop_assert_eq!(table.is_replacement(&a), cache > 0);
                    }
                    if matches!(outcome, InsertOutcome::Inserted | InsertOutcome::Updated) {
                        prop_assert_eq!(table.get(&a), Some(&(n as u32)));
                    }
                }
                Op::Ping { alive } => {
                    if let Some(p) = pings.pop() {
                        table.ping_result(&p, alive, now);
                        if !alive {
                            prop_assert!(!table.contains(&p));
                        }
                    }
                }
                Op::Fail(a) => table.record_failure(&a, now),
                Op::Remove(a) => {
                    let was = table.contains(&a);
                    prop_assert_eq!(table.remove(&a, now).is_some(), was);
                    prop_assert!(!table.contains(&a) && !table.is_replacement(&a));
                }
                Op::Tick => {
                    now += Duration::from_secs(3);
                    table.handle_timeout(now);
                }
            }
            model_check(&table, &config)?;
            while let Some(event) = table.poll_event() {
                match event {
                    TableEvent::Evicted { address } => prop_assert!(!table.contains(&address)),
                    // A later event in the same batch may have evicted it again.
                    TableEvent::Inserted { .. } => {}
                }
            }
        }
    }

    /// `closest(target, n)` equals the brute-force sort of all entries by
    /// distance to `target`, truncated to `n`.
    #[test]
    fn closest_equals_brute_force(
        local in any::<[u8; 32]>(),
        addrs in prop::collection::vec(any::<[u8; 32]>(), 0..200),
        near in prop::collection::vec((0u8..=255, any::<[u8; 32]>()), 0..50),
        target in any::<[u8; 32]>(),
        n in 0usize..40,
    ) {
        let now = t0();
        let local = Address(local);
        let mut config = KadConfig::default();
        config.set_k(8);
        let mut table = RoutingTable::new(local, config, now);
        // Random addresses mostly land in the top buckets; add some in
        // random low buckets too.
        let all = addrs.into_iter().map(Address).chain(
            near.into_iter().map(|(i, seed)| table.random_address_in_bucket(i, seed)),
        ).collect::<Vec<_>>();
        for a in all {
            table.insert_or_update(a, 0u8, now);
        }
        let target = Address(target);
        let mut want: Vec<_> = table.iter().map(|(a, _)| a).collect();
        want.sort_by_key(|a| target.distance(a));
        want.truncate(n);
        let got: Vec<_> = table.closest(&target, n).into_iter().map(|(a, _)| a).collect();
        prop_assert_eq!(got, want);
    }
}

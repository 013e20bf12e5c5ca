//! Random sequences of puts, expiries and removals: the store's running
//! totals, per-peer usage and expiry index always equal a recomputation
//! from its records; the version rule agrees with a model; refused puts
//! change nothing; and no cap or quota is ever exceeded.

use std::collections::BTreeMap;

use proptest::prelude::*;
use shoutnet_dht::{
    Limits, MemoryStore, PutOutcome, Record, RecordStore, StoreError, Usage, address_of,
};

const PEERS: [&[u8]; 4] = [b"a", b"bb", b"ccc", &[0xdd; 32]];

#[derive(Clone, Debug)]
enum Op {
    Put {
        key: u8,
        value: u8,
        version: u64,
        ttl: u64,
        peer: usize,
    },
    Expire,
    Remove {
        key: u8,
    },
    Wait {
        seconds: u64,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0u8..8, 0u8..3, 0u64..4, prop_oneof![Just(30u64), Just(60), Just(100), Just(10_000)], 0..PEERS.len())
            .prop_map(|(key, value, version, ttl, peer)| Op::Put { key, value, version, ttl, peer }),
        1 => Just(Op::Expire),
        1 => (0u8..8).prop_map(|key| Op::Remove { key }),
        2 => (0u64..80).prop_map(|seconds| Op::Wait { seconds }),
    ]
}

/// What the model remembers of a stored record.
#[derive(Clone, Debug)]
struct Model {
    version: u64,
    value: u8,
    owner: usize,
    expires_at: u64,
}

fn check_invariants(s: &MemoryStore) {
    let limits = s.limits();
    let (mut total, mut by_peer) = (Usage::default(), BTreeMap::<Vec<u8>, Usage>::new());
    for (address, record, owner) in s.entries() {
        assert_eq!(*address, address_of(&record.key));
        let charge = record.charge(owner);
        for u in [&mut total, by_peer.entry(owner.to_vec()).or_default()] {
            u.records += 1;
            u.bytes += charge;
        }
    }
    assert_eq!((s.len(), s.bytes()), (total.records, total.bytes));
    for peer in PEERS {
        let expected = by_peer.get(peer).copied().unwrap_or_default();
        assert_eq!(s.usage_of(peer), expected);
        assert!(expected.records <= limits.max_records_per_peer());
        assert!(expected.bytes <= limits.max_bytes_per_peer());
    }
    assert!(total.records <= limits.max_records() && total.bytes <= limits.max_bytes());
    let next = s.entries().map(|(_, r, _)| r.meta.expires_at()).min();
    assert_eq!(s.next_expiry(), next);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn the_accounting_always_equals_a_recomputation(ops in proptest::collection::vec(op(), 1..120)) {
        let mut limits = Limits::default();
        let small = Record::new(vec![0], vec![0; 10], 0, 60, vec![0; 4]).charge(&[0xdd; 32]);
        limits
            .set_max_records_per_peer(3)
            .set_max_bytes_per_peer(3 * small - 20)
            .set_max_records(7)
            .set_max_bytes(6 * small)
            .set_max_ttl(1000);
        let mut s = MemoryStore::new(limits);
        let mut model: BTreeMap<u8, Model> = BTreeMap::new();
        let mut now = 1_000u64;
        for op in ops {
            match op {
                Op::Put { key, value, version, ttl, peer } => {
                    // Values of 1, 10 and 20 bytes, publishers of 4.
                    let bytes = vec![value; [1, 10, 20][usize::from(value)]];
                    let r = Record::new(vec![key], bytes, version, ttl, vec![value; 4]);
                    let before = s.clone();
                    let live = model.get(&key).filter(|m| now < m.expires_at);
                    match s.put(address_of(&[key]), r, PEERS[peer], now) {
                        Ok(outcome) => {
                            let expected = match live {
                                None => PutOutcome::Created,
                                Some(m) if m.version == version => PutOutcome::Refreshed,
                                Some(m) => PutOutcome::Replaced { previous_version: m.version },
                            };
                            prop_assert_eq!(outcome, expected);
                            prop_assert!(live.is_none_or(|m| version > m.version
                                || version == m.version && value == m.value));
                            let expires_at = now + ttl.min(1000);
                            model.insert(key, Model { version, value, owner: peer, expires_at });
                        }
                        Err(err) => {
                            prop_assert_eq!(&s, &before, "refused, yet changed");
                            let conflict = live.is_some_and(|m| version < m.version
                                || version == m.version && value != m.value);
                            match err {
                                StoreError::TtlTooShort { .. } => prop_assert!(ttl < 60),
                                StoreError::Conflict { current } => {
                                    prop_assert!(ttl >= 60 && conflict);
                                    prop_assert_eq!(Some(current.version), live.map(|m| m.version));
                                }
                                StoreError::QuotaExceeded { .. } | StoreError::StoreFull { .. } => {
                                    prop_assert!(ttl >= 60 && !conflict);
                                }
                                other => prop_assert!(false, "unexpected {other:?}"),
                            }
                        }
                    }
                }
                Op::Expire => {
                    let due = model.values().filter(|m| m.expires_at <= now).count();
                    prop_assert_eq!(s.expire(now), due);
                    model.retain(|_, m| m.expires_at > now);
                }
                Op::Remove { key } => {
                    let removed = s.remove(&address_of(&[key]));
                    prop_assert_eq!(removed.is_some(), model.remove(&key).is_some());
                }
                Op::Wait { seconds } => now += seconds,
            }
            check_invariants(&s);
            // The model and the store hold the same records, for the same
            // peers, expiring at the same times.
            prop_assert_eq!(s.len(), model.len());
            for (key, m) in &model {
                let found = s.entries().find(|(a, _, _)| **a == address_of(&[*key]));
                let (_, record, owner) = found.expect("in the store");
                prop_assert_eq!(owner, PEERS[m.owner]);
                prop_assert_eq!((record.meta.version, record.meta.expires_at()), (m.version, m.expires_at));
                prop_assert_eq!(s.get(&address_of(&[*key]), now).is_some(), now < m.expires_at);
            }
        }
    }
}

//! The memory store against hostile puts: the version rule in each case,
//! expiry, every size limit at its edge, the per-peer quotas and the
//! global caps, each attack performed, and refused puts that change
//! nothing.

use bytes::Bytes;
use shoutnet_dht::{
    Limits, MemoryStore, Meta, PutOutcome, Record, RecordStore, StoreError, Usage, address_of,
};

const T0: u64 = 1_700_000_000;

fn rec(key: &[u8], value: &[u8], version: u64, ttl: u64) -> Record {
    Record::new(key.to_vec(), value.to_vec(), version, ttl, vec![0xaa; 32])
}

/// Puts `record` at its own address.
fn put(s: &mut MemoryStore, r: Record, peer: &[u8], now: u64) -> Result<PutOutcome, StoreError> {
    s.put(address_of(&r.key), r, peer, now)
}

/// Puts, expecting a refusal that changes nothing; returns the error.
fn refused(s: &mut MemoryStore, r: Record, peer: &[u8], now: u64) -> StoreError {
    let before = s.clone();
    let err = put(s, r, peer, now).expect_err("refused");
    assert_eq!(*s, before, "a refused put ({err}) changed the store");
    err
}

#[test]
fn no_record_is_created() {
    let mut s = MemoryStore::default();
    assert_eq!(
        put(&mut s, rec(b"k", b"v", 3, 600), b"p", T0),
        Ok(PutOutcome::Created)
    );
    let r = s.get(&address_of(b"k"), T0).unwrap();
    assert_eq!(
        r.meta,
        Meta {
            version: 3,
            ttl: 600,
            stored_at: T0,
            publisher: Bytes::from(vec![0xaa; 32])
        }
    );
    assert_eq!((s.len(), s.usage_of(b"p").records), (1, 1));
}

#[test]
fn the_same_version_and_value_refreshes_time_and_ttl() {
    let mut s = MemoryStore::default();
    put(&mut s, rec(b"k", b"v", 3, 600), b"p", T0).unwrap();
    assert_eq!(
        put(&mut s, rec(b"k", b"v", 3, 900), b"p", T0 + 500),
        Ok(PutOutcome::Refreshed)
    );
    let r = s
        .get(&address_of(b"k"), T0 + 1000)
        .expect("alive past the first TTL");
    assert_eq!(
        (r.meta.stored_at, r.meta.ttl, r.meta.version),
        (T0 + 500, 900, 3)
    );
    assert_eq!(s.next_expiry(), Some(T0 + 1400));
    assert_eq!(s.expire(T0 + 1399), 0);
    assert_eq!(s.expire(T0 + 1400), 1);
}

#[test]
fn a_higher_version_replaces() {
    let mut s = MemoryStore::default();
    put(&mut s, rec(b"k", b"old", 3, 600), b"p", T0).unwrap();
    assert_eq!(
        put(&mut s, rec(b"k", b"new", 7, 600), b"p", T0 + 1),
        Ok(PutOutcome::Replaced {
            previous_version: 3
        })
    );
    let r = s.get(&address_of(b"k"), T0 + 1).unwrap();
    assert_eq!((&r.value[..], r.meta.version), (&b"new"[..], 7));
    assert_eq!(s.len(), 1);
}

#[test]
fn a_lower_version_conflicts_with_the_current_metadata() {
    let mut s = MemoryStore::default();
    put(&mut s, rec(b"k", b"v", 3, 600), b"p", T0).unwrap();
    let current = s.get(&address_of(b"k"), T0).unwrap().meta;
    let err = refused(&mut s, rec(b"k", b"v", 2, 600), b"p", T0 + 1);
    assert_eq!(err, StoreError::Conflict { current });
}

#[test]
fn the_same_version_with_another_value_conflicts_first_write_wins() {
    let mut s = MemoryStore::default();
    put(&mut s, rec(b"k", b"first", 3, 600), b"p", T0).unwrap();
    let err = refused(&mut s, rec(b"k", b"second", 3, 600), b"q", T0 + 1);
    assert!(matches!(err, StoreError::Conflict { current } if current.version == 3));
    assert_eq!(
        &s.get(&address_of(b"k"), T0 + 1).unwrap().value[..],
        b"first"
    );
}

#[test]
fn an_expired_record_is_not_returned_and_expire_drops_exactly_those() {
    let mut s = MemoryStore::default();
    for (i, ttl) in [60u64, 120, 120, 600].into_iter().enumerate() {
        put(&mut s, rec(&[i as u8], b"v", 0, ttl), b"p", T0).unwrap();
    }
    let a0 = address_of(&[0]);
    assert!(s.get(&a0, T0 + 59).is_some());
    assert_eq!(s.get(&a0, T0 + 60), None, "expired at stored_at + ttl");
    assert_eq!(s.len(), 4, "not dropped until expire");
    assert_eq!(s.next_expiry(), Some(T0 + 60));
    assert_eq!(s.expire(T0 + 59), 0);
    assert_eq!(s.expire(T0 + 130), 3);
    assert_eq!(s.expire(T0 + 130), 0, "nothing left to expire twice");
    assert_eq!((s.len(), s.next_expiry()), (1, Some(T0 + 600)));
    let survivor = rec(&[3], b"v", 0, 600);
    assert_eq!(s.bytes(), survivor.charge(b"p"));
    assert_eq!(
        s.usage_of(b"p"),
        Usage {
            records: 1,
            bytes: survivor.charge(b"p")
        }
    );
    assert!(s.entries().all(|(_, r, _)| r.meta.expires_at() > T0 + 130));
    assert_eq!(s.expire(u64::MAX), 1);
    assert_eq!((s.len(), s.bytes(), s.next_expiry()), (0, 0, None));
}

#[test]
fn keys_and_values_are_refused_one_byte_past_their_limit() {
    let mut s = MemoryStore::default();
    let err = refused(&mut s, rec(&[1; 1025], b"v", 0, 600), b"p", T0);
    assert_eq!(
        err,
        StoreError::KeyTooLarge {
            len: 1025,
            max: 1024
        }
    );
    assert_eq!(
        put(&mut s, rec(&[1; 1024], b"v", 0, 600), b"p", T0),
        Ok(PutOutcome::Created)
    );

    let err = refused(&mut s, rec(b"k", &[2; 65_537], 0, 600), b"p", T0);
    assert_eq!(
        err,
        StoreError::ValueTooLarge {
            len: 65_537,
            max: 65_536
        }
    );
    assert_eq!(
        put(&mut s, rec(b"k", &[2; 65_536], 0, 600), b"p", T0),
        Ok(PutOutcome::Created)
    );
}

#[test]
fn lowered_size_limits_are_enforced() {
    let mut limits = Limits::default();
    limits.set_max_key(8).set_max_value(16);
    let mut s = MemoryStore::new(limits);
    assert_eq!(
        refused(&mut s, rec(&[0; 9], b"v", 0, 600), b"p", T0),
        StoreError::KeyTooLarge { len: 9, max: 8 }
    );
    assert_eq!(
        refused(&mut s, rec(b"k", &[0; 17], 0, 600), b"p", T0),
        StoreError::ValueTooLarge { len: 17, max: 16 }
    );
}

#[test]
fn an_address_that_is_not_the_keys_hash_is_refused() {
    let mut s = MemoryStore::default();
    let before = s.clone();
    let err = s.put(address_of(b"other"), rec(b"k", b"v", 0, 600), b"p", T0);
    assert_eq!(
        err,
        Err(StoreError::AddressMismatch {
            claimed: address_of(b"other"),
            actual: address_of(b"k")
        })
    );
    assert_eq!(s, before);
}

#[test]
fn an_empty_key_is_a_key() {
    let mut s = MemoryStore::default();
    assert_eq!(
        put(&mut s, rec(b"", b"v", 0, 600), b"p", T0),
        Ok(PutOutcome::Created)
    );
    assert!(s.get(&address_of(b""), T0).is_some());
}

#[test]
fn a_short_ttl_is_refused_and_a_long_one_clamped() {
    let mut s = MemoryStore::default();
    assert_eq!(
        refused(&mut s, rec(b"k", b"v", 0, 59), b"p", T0),
        StoreError::TtlTooShort { ttl: 59, min: 60 }
    );
    assert_eq!(
        put(&mut s, rec(b"k", b"v", 0, 60), b"p", T0),
        Ok(PutOutcome::Created)
    );
    put(&mut s, rec(b"long", b"v", 0, 10 * 86_400), b"p", T0).unwrap();
    let r = s.get(&address_of(b"long"), T0).unwrap();
    assert_eq!(r.meta.ttl, 86_400, "clamped to 24 h");
    assert_eq!(s.get(&address_of(b"long"), T0 + 86_400), None);
}

#[test]
fn many_small_stores_fill_a_peers_record_quota_and_no_more() {
    let mut s = MemoryStore::default();
    for i in 0..256u32 {
        put(&mut s, rec(&i.to_be_bytes(), b"v", 0, 600), b"mallory", T0).unwrap();
    }
    let held = s.usage_of(b"mallory");
    assert_eq!(held.records, 256);
    let err = refused(&mut s, rec(b"one more", b"v", 0, 600), b"mallory", T0);
    assert_eq!(
        err,
        StoreError::QuotaExceeded {
            records: 256,
            bytes: held.bytes
        }
    );
    // Another peer is not affected.
    assert_eq!(
        put(&mut s, rec(b"one more", b"v", 0, 600), b"alice", T0),
        Ok(PutOutcome::Created)
    );
    // Expiry frees the quota.
    assert_eq!(s.expire(T0 + 600), 257);
    assert_eq!(s.usage_of(b"mallory"), Usage::default());
    assert!(put(&mut s, rec(b"again", b"v", 0, 600), b"mallory", T0 + 600).is_ok());
}

#[test]
fn large_stores_fill_a_peers_byte_quota_and_no_more() {
    let mut s = MemoryStore::default();
    let value = vec![0; 65_536];
    let charge = rec(&[0], &value, 0, 600).charge(b"mallory");
    let fit = Limits::DEFAULT_MAX_BYTES_PER_PEER / charge;
    assert_eq!(fit, 63);
    for i in 0..fit {
        put(&mut s, rec(&[i as u8], &value, 0, 600), b"mallory", T0).unwrap();
    }
    let err = refused(&mut s, rec(&[200], &value, 0, 600), b"mallory", T0);
    assert_eq!(
        err,
        StoreError::QuotaExceeded {
            records: fit,
            bytes: fit * charge
        }
    );
    assert!(put(&mut s, rec(&[200], &value, 0, 600), b"alice", T0).is_ok());
    // A smaller record still fits in what is left.
    assert!(put(&mut s, rec(&[201], b"v", 0, 600), b"mallory", T0).is_ok());
}

#[test]
fn a_replacement_moves_the_charge_to_the_new_peer() {
    let mut s = MemoryStore::default();
    put(&mut s, rec(b"k", b"v1", 1, 600), b"alice", T0).unwrap();
    put(&mut s, rec(b"k", b"v2", 2, 600), b"bob", T0).unwrap();
    let charge = rec(b"k", b"v2", 2, 600).charge(b"bob");
    assert_eq!(s.usage_of(b"alice"), Usage::default());
    assert_eq!(
        s.usage_of(b"bob"),
        Usage {
            records: 1,
            bytes: charge
        }
    );
    assert_eq!(s.bytes(), charge);
}

#[test]
fn a_peer_at_its_quota_cannot_take_over_records_but_can_replace_its_own() {
    let mut limits = Limits::default();
    limits.set_max_records_per_peer(2);
    let mut s = MemoryStore::new(limits);
    put(&mut s, rec(b"a", b"v", 1, 600), b"bob", T0).unwrap();
    put(&mut s, rec(b"b", b"v", 1, 600), b"bob", T0).unwrap();
    put(&mut s, rec(b"c", b"v", 1, 600), b"alice", T0).unwrap();
    // Bob is full: taking over Alice's record (replace or refresh) is refused.
    assert!(matches!(
        refused(&mut s, rec(b"c", b"w", 2, 600), b"bob", T0),
        StoreError::QuotaExceeded { records: 2, .. }
    ));
    assert!(matches!(
        refused(&mut s, rec(b"c", b"v", 1, 600), b"bob", T0),
        StoreError::QuotaExceeded { .. }
    ));
    // Replacing his own record releases its charge first.
    assert_eq!(
        put(&mut s, rec(b"a", b"w", 2, 600), b"bob", T0),
        Ok(PutOutcome::Replaced {
            previous_version: 1
        })
    );
    assert_eq!(
        put(&mut s, rec(b"a", b"w", 2, 600), b"bob", T0 + 1),
        Ok(PutOutcome::Refreshed)
    );
}

#[test]
fn the_global_record_cap_refuses_and_evicts_nothing() {
    let mut limits = Limits::default();
    limits.set_max_records(3);
    let mut s = MemoryStore::new(limits);
    for (i, peer) in [b"a", b"b", b"c"].into_iter().enumerate() {
        put(&mut s, rec(&[i as u8], b"v", 0, 600), peer, T0).unwrap();
    }
    let err = refused(&mut s, rec(b"new", b"v", 0, 600), b"d", T0);
    assert_eq!(
        err,
        StoreError::StoreFull {
            records: 3,
            bytes: s.bytes()
        }
    );
    // A replacement needs no more room.
    assert!(put(&mut s, rec(&[0], b"w", 1, 600), b"d", T0).is_ok());
    assert_eq!(s.len(), 3);
}

#[test]
fn the_global_byte_cap_refuses_and_evicts_nothing() {
    let mut limits = Limits::default();
    let small = rec(&[0], b"v", 0, 600).charge(b"a");
    limits.set_max_bytes(2 * small + 10);
    let mut s = MemoryStore::new(limits);
    put(&mut s, rec(&[0], b"v", 0, 600), b"a", T0).unwrap();
    put(&mut s, rec(&[1], b"v", 0, 600), b"a", T0).unwrap();
    let err = refused(&mut s, rec(&[2], b"v", 0, 600), b"b", T0);
    assert_eq!(
        err,
        StoreError::StoreFull {
            records: 2,
            bytes: 2 * small
        }
    );
    // A replacement that grows past the cap is refused too.
    let bigger = rec(&[1], &[0; 64], 1, 600);
    assert!(matches!(
        refused(&mut s, bigger, b"a", T0),
        StoreError::StoreFull { .. }
    ));
    // One that fits is accepted.
    assert!(put(&mut s, rec(&[1], b"0123456789", 1, 600), b"a", T0).is_ok());
}

#[test]
fn remove_releases_the_record_and_its_charge() {
    let mut s = MemoryStore::default();
    put(&mut s, rec(b"k", b"v", 0, 600), b"p", T0).unwrap();
    let removed = s.remove(&address_of(b"k")).unwrap();
    assert_eq!(&removed.key[..], b"k");
    assert_eq!((s.len(), s.bytes(), s.next_expiry()), (0, 0, None));
    assert_eq!(s.usage_of(b"p"), Usage::default());
    assert_eq!(s.remove(&address_of(b"k")), None);
}

#[test]
fn addresses_are_scanned_in_order_from_a_start() {
    let mut s = MemoryStore::default();
    let mut all: Vec<[u8; 32]> = (0..20u8).map(|i| address_of(&[i])).collect();
    for i in 0..20u8 {
        put(&mut s, rec(&[i], b"v", 0, 600), b"p", T0).unwrap();
    }
    all.sort();
    assert_eq!(s.addresses_from(&[0; 32]).collect::<Vec<_>>(), all);
    assert_eq!(s.addresses_from(&all[5]).collect::<Vec<_>>(), all[5..]);
}

#[test]
fn the_store_is_usable_as_a_trait_object() {
    let mut s: Box<dyn RecordStore> = Box::new(MemoryStore::default());
    assert!(
        s.put(address_of(b"k"), rec(b"k", b"v", 0, 600), b"p", T0)
            .is_ok()
    );
    assert_eq!(s.len(), 1);
    assert_eq!(s.limits().max_key(), 1024);
}

//! Re-replication: exactly the records the rule picks, from hand-built
//! node addresses around real record addresses, and the bound per
//! newcomer, against a brute-force reference.

use proptest::prelude::*;
use shoutnet_dht::{
    MemoryStore, Record, RecordStore, Replication, StoreError, address_of, distance,
};

/// The address `d` away from `a` in the last byte.
fn near(a: &[u8; 32], d: u8) -> [u8; 32] {
    let mut x = *a;
    x[31] ^= d;
    x
}

/// The neighbourhood of `nodes`, by brute force.
fn knowing(nodes: &[[u8; 32]]) -> impl Fn(&[u8; 32], usize) -> Option<[u8; 32]> + '_ {
    |address, n| {
        let mut d: Vec<_> = nodes.iter().map(|x| distance(x, address)).collect();
        d.sort();
        d.get(n.checked_sub(1)?).copied()
    }
}

fn store_of(keys: impl IntoIterator<Item = Vec<u8>>, ttl: u64) -> Result<MemoryStore, StoreError> {
    let mut s = MemoryStore::default();
    for (i, key) in keys.into_iter().enumerate() {
        let peer = (i / 200).to_be_bytes();
        s.put(
            address_of(&key),
            Record::new(key, &b"\xc0"[..], 0, ttl, vec![]),
            &peer,
            0,
        )?;
    }
    Ok(s)
}

#[test]
fn exactly_the_records_the_rule_picks_are_sent() -> Result<(), StoreError> {
    let keys = [
        b"r0".to_vec(),
        b"r1".to_vec(),
        b"r2".to_vec(),
        b"r3".to_vec(),
    ];
    let s = store_of(keys.clone(), 600)?;
    let [r0, r1, r2, r3] = keys.map(|k| address_of(&k));
    // SHA-256 addresses differ in their first bits, so a node `d` from one
    // record (in the last byte) is far from the others. The local node is
    // 8 from r0; it knows nodes 12 and 13 from r0, and nodes 1 to 3 from
    // each other record, which are closer to those than it is.
    let local = near(&r0, 8);
    let known = [
        near(&r0, 12),
        near(&r0, 13),
        near(&r1, 1),
        near(&r2, 2),
        near(&r3, 3),
    ];
    let mut rep = Replication::new(local);
    rep.set_k(3);

    // A newcomer 1 from r0 is closer than the local node: r0 only.
    assert_eq!(
        rep.for_newcomer(&s, &near(&r0, 1), &knowing(&known), 0),
        [r0]
    );
    // 11 from r0: third, after the local node (8) and a node at 10.
    let known_10 = [
        near(&r0, 10),
        near(&r0, 12),
        near(&r1, 1),
        near(&r2, 2),
        near(&r3, 3),
    ];
    assert_eq!(
        rep.for_newcomer(&s, &near(&r0, 11), &knowing(&known_10), 0),
        [r0]
    );
    // 11 from r0 with the node at 10 closer still: fourth.
    let known_9_10 = [
        near(&r0, 9),
        near(&r0, 10),
        near(&r1, 1),
        near(&r2, 2),
        near(&r3, 3),
    ];
    assert!(
        rep.for_newcomer(&s, &near(&r0, 11), &knowing(&known_9_10), 0)
            .is_empty()
    );
    assert_eq!(
        rep.for_newcomer(&s, &near(&r0, 11), &knowing(&known), 0),
        [r0],
        "second"
    );
    // 14 from r0: fourth, so not among the k = 3 closest.
    assert!(
        rep.for_newcomer(&s, &near(&r0, 14), &knowing(&known), 0)
            .is_empty()
    );
    // With k = 4 it is fourth of four.
    rep.set_k(4);
    assert_eq!(
        rep.for_newcomer(&s, &near(&r0, 14), &knowing(&known), 0),
        [r0]
    );
    // A node the local node knows closer to r0 than itself sends r0, not it.
    let closer = [near(&r0, 7), near(&r1, 1), near(&r2, 2), near(&r3, 3)];
    assert!(
        rep.for_newcomer(&s, &near(&r0, 1), &knowing(&closer), 0)
            .is_empty()
    );
    // Never to itself.
    assert!(rep.for_newcomer(&s, &local, &knowing(&known), 0).is_empty());
    Ok(())
}

#[test]
fn expired_records_are_not_sent() -> Result<(), StoreError> {
    let s = store_of([b"r".to_vec()], 60)?;
    let r = address_of(b"r");
    let rep = Replication::new(near(&r, 2));
    assert_eq!(rep.for_newcomer(&s, &near(&r, 1), &knowing(&[]), 59), [r]);
    assert!(
        rep.for_newcomer(&s, &near(&r, 1), &knowing(&[]), 60)
            .is_empty()
    );
    Ok(())
}

#[test]
fn a_join_examines_at_most_max_records_the_closest_to_the_newcomer() -> Result<(), StoreError> {
    let s = store_of((0..1000u32).map(|i| i.to_be_bytes().to_vec()), 600)?;
    let newcomer = address_of(b"newcomer");
    let mut all: Vec<_> = s.addresses_from(&[0; 32]).collect();
    all.sort_by_key(|a| distance(a, &newcomer));
    let mut rep = Replication::new([0; 32]);
    rep.set_max(10);
    // The local node knows no one, so every examined record passes the
    // first rule, and with k large every one passes the second: the result
    // is exactly the 10 records closest to the newcomer.
    rep.set_k(10_000);
    assert_eq!(rep.for_newcomer(&s, &newcomer, &knowing(&[]), 0), all[..10]);
    rep.set_max(0);
    assert!(rep.for_newcomer(&s, &newcomer, &knowing(&[]), 0).is_empty());
    Ok(())
}

proptest! {
    /// The records examined are the `max` closest to the newcomer, in
    /// order, whatever the store and the newcomer.
    #[test]
    fn the_records_examined_are_the_closest(
        n in 0usize..300,
        max in 0usize..40,
        newcomer in any::<[u8; 32]>(),
        clustered in any::<bool>(),
    ) {
        let mut s = MemoryStore::default();
        for i in 0..n {
            let key = (i as u32).to_be_bytes();
            let r = Record::new(key.to_vec(), &b"\xc0"[..], 0, 600, vec![]);
            s.put(address_of(&key), r, &[(i / 200) as u8], 0).unwrap();
        }
        // A newcomer on a stored address exercises the deepest blocks.
        let newcomer = if clustered && n > 0 {
            s.addresses_from(&newcomer).next().unwrap_or(newcomer)
        } else {
            newcomer
        };
        let mut all: Vec<_> = s.addresses_from(&[0; 32]).collect();
        all.sort_by_key(|a| distance(a, &newcomer));
        all.truncate(max);
        let mut rep = Replication::new([0; 32]);
        rep.set_max(max).set_k(usize::MAX);
        prop_assert_eq!(rep.for_newcomer(&s, &newcomer, &knowing(&[]), 0), all);
    }

    /// `should_send` against the rule computed from scratch over every
    /// node: the local node is the closest to the record of all nodes but
    /// the newcomer, and the newcomer is among the k closest of all.
    #[test]
    fn should_send_is_the_rule(
        record in any::<[u8; 32]>(),
        local in any::<u8>(),
        newcomer in any::<u8>(),
        others in proptest::collection::btree_set(any::<u8>(), 0..12),
        k in 1usize..8,
    ) {
        // Nodes differ from the record in the last byte only.
        let at = |d: u8| near(&record, d);
        let others: Vec<u8> = others.into_iter().filter(|&d| d != local && d != newcomer).collect();
        let known: Vec<_> = others.iter().map(|&d| at(d)).collect();
        let mut rep = Replication::new(at(local));
        rep.set_k(k);
        let local_closest = others.iter().all(|&d| d > local);
        let mut everyone: Vec<u8> = others.clone();
        everyone.push(local);
        everyone.push(newcomer);
        everyone.sort();
        everyone.dedup();
        let rank = everyone.iter().position(|&d| d == newcomer).unwrap();
        let expected = newcomer != local && local_closest && rank < k;
        prop_assert_eq!(rep.should_send(&record, &at(newcomer), &knowing(&known)), expected);
    }
}

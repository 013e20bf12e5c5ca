//! The basic DHT (docs/PROTOCOL.md §8.7, §9.8): puts reach the k closest
//! nodes, gets find the value from anywhere, versions never go back,
//! records expire unless republished, and hostile `STORE`s are refused
//! with typed `NACK`s without losing what is stored.

mod support;

use std::time::Duration;

use bytes::Bytes;
use shoutnet_engine::{Command, CommandError, CommandId, Event, Found, PutReport, StoreLimits};
use shoutnet_sim::Sim;
use shoutnet_wire::{Message, NackCode, Opcode, Payload, Store, Value};
use support::{
    bootstrap_all, encode, key, message, nack_codes, network, run_for, settle, two_connected,
};

fn put(sim: &mut Sim, node: usize, key: &str, value: Value, version: Option<u64>) -> PutReport {
    let id = sim.command(
        node,
        Command::Put {
            key: Bytes::copy_from_slice(key.as_bytes()),
            value,
            version,
            ttl: None,
        },
    );
    settle(sim);
    put_report(sim, node, id).expect("the put ended")
}

fn put_report(sim: &Sim, node: usize, id: CommandId) -> Option<PutReport> {
    sim.events(node).find_map(|e| match e {
        Event::PutFinished { id: got, report } if *got == id => Some(report.clone()),
        _ => None,
    })
}

fn get(sim: &mut Sim, node: usize, key: &str) -> Option<Found> {
    let id = sim.command(
        node,
        Command::Get {
            key: Bytes::copy_from_slice(key.as_bytes()),
        },
    );
    settle(sim);
    sim.events(node)
        .find_map(|e| match e {
            Event::GetFinished { id: got, found, .. } if *got == id => Some(found.clone()),
            _ => None,
        })
        .expect("the get ended")
}

fn joined(n: usize, seed: u64) -> Sim {
    let mut sim = network(n, seed, |c| {
        c.set_local_network(true);
        c.kad_mut().set_k(5);
    });
    bootstrap_all(&mut sim);
    sim
}

#[test]
fn a_put_reaches_the_k_closest_and_every_node_gets_it() {
    let mut sim = joined(24, 80);
    let report = put(&mut sim, 3, "greeting", Value::from("hello"), None);
    assert_eq!(report.version, 0);
    assert_eq!(report.stored, 5, "k = 5 copies: {report:?}");
    assert_eq!((report.failed, report.conflict.clone()), (0, None));
    let holders = (0..sim.len())
        .filter(|&i| sim.node(i).stored_records() > 0)
        .count();
    assert_eq!(holders, 5);
    for node in 0..sim.len() {
        let found = get(&mut sim, node, "greeting").expect("found");
        assert_eq!(found.value, Value::from("hello"), "node {node}");
        assert_eq!(found.metadata.version, 0);
    }
    assert_eq!(get(&mut sim, 7, "no such key"), None);
}

#[test]
fn a_put_stores_on_the_record_replicas_only() {
    let mut sim = network(24, 86, |c| {
        c.set_local_network(true).set_record_replicas(3);
        c.kad_mut().set_k(8);
    });
    bootstrap_all(&mut sim);
    let report = put(&mut sim, 5, "fewer copies", Value::from("x"), None);
    assert_eq!(report.stored, 3, "3 replicas, not k = 8: {report:?}");
    let target = shoutnet_kad::Address(shoutnet_dht::address_of(b"fewer copies"));
    let mut by_distance: Vec<usize> = (0..sim.len()).collect();
    by_distance.sort_by_key(|&i| sim.node(i).local_address().distance(&target));
    let holders: Vec<usize> = by_distance
        .iter()
        .copied()
        .filter(|&i| sim.node(i).stored_records() > 0)
        .collect();
    assert_eq!(holders, by_distance[..3], "the 3 closest hold it");
    let found = get(&mut sim, 17, "fewer copies").expect("found");
    assert_eq!(found.value, Value::from("x"));
}

#[test]
fn a_record_at_the_publishers_own_address_goes_to_the_k_closest() {
    // The record naming a dial-out-only node's relays lives at the node's
    // own address (§9.10): the last hop of a recursive whisper, one of the
    // k closest to it, must hold it, so it gets k copies, not r.
    let mut sim = network(24, 87, |c| {
        c.set_local_network(true).set_record_replicas(3);
        c.kad_mut().set_k(8);
    });
    bootstrap_all(&mut sim);
    let own = key(&sim, 5);
    let id = sim.command(
        5,
        Command::Put {
            key: own,
            value: Value::from("relays"),
            version: None,
            ttl: None,
        },
    );
    settle(&mut sim);
    let report = put_report(&sim, 5, id).expect("the put ended");
    assert_eq!(report.stored, 8, "k = 8 copies: {report:?}");
    // Any other key still gets r.
    let other = put(&mut sim, 5, "not an address", Value::from("x"), None);
    assert_eq!(other.stored, 3, "{other:?}");
}

#[test]
fn versions_never_go_back() {
    let mut sim = joined(16, 81);
    let first = put(&mut sim, 2, "counter", Value::from(5u8), Some(5));
    assert_eq!(first.stored, 5);
    // A stale writer is refused by every holder, with the current metadata.
    let stale = put(&mut sim, 9, "counter", Value::from(3u8), Some(3));
    assert_eq!(stale.stored, 0, "{stale:?}");
    let (holders, current) = stale.conflict.expect("a conflict");
    assert!(holders >= 4, "{holders} of 5 holders conflicted");
    assert_eq!(current.version, 5);
    // The same version with another value is refused too; a higher one wins.
    let same = put(&mut sim, 9, "counter", Value::from(4u8), Some(5));
    assert_eq!(same.stored, 0);
    let newer = put(&mut sim, 9, "counter", Value::from(6u8), Some(6));
    assert_eq!(newer.stored, 5);
    let found = get(&mut sim, 0, "counter").unwrap();
    assert_eq!((found.value, found.metadata.version), (Value::from(6u8), 6));
    // Without a version, a publisher counts up from its own last one.
    let next = put(&mut sim, 9, "counter", Value::from(7u8), None);
    assert_eq!((next.version, next.stored), (7, 5));
}

#[test]
fn records_expire_unless_their_publisher_republishes_them() {
    let mut sim = joined(12, 82);
    let put_with_ttl = |sim: &mut Sim, node: usize, key: &str| {
        let id = sim.command(
            node,
            Command::Put {
                key: Bytes::copy_from_slice(key.as_bytes()),
                value: Value::from(key),
                version: None,
                ttl: Some(60),
            },
        );
        settle(sim);
        assert_eq!(put_report(sim, node, id).unwrap().stored, 5);
    };
    put_with_ttl(&mut sim, 1, "kept");
    put_with_ttl(&mut sim, 2, "dropped");
    sim.crash_silently(2);
    // Five minutes: five TTLs. Node 1 republishes at three quarters of one.
    run_for(&mut sim, Duration::from_secs(300));
    assert!(get(&mut sim, 5, "kept").is_some(), "republished");
    assert_eq!(get(&mut sim, 5, "dropped"), None, "expired everywhere");
}

#[test]
fn bad_puts_and_gets_fail_as_commands() {
    let mut sim = joined(4, 83);
    let long = Bytes::from(vec![b'k'; 1025]);
    let put = sim.command(
        1,
        Command::Put {
            key: long.clone(),
            value: Value::Nil,
            version: None,
            ttl: None,
        },
    );
    let get = sim.command(1, Command::Get { key: long });
    let short = sim.command(
        1,
        Command::Put {
            key: Bytes::from_static(b"k"),
            value: Value::Nil,
            version: None,
            ttl: Some(59),
        },
    );
    settle(&mut sim);
    let failed = |id| {
        sim.events(1).find_map(|e| match e {
            Event::CommandFailed { id: got, error } if *got == id => Some(error.clone()),
            _ => None,
        })
    };
    let too_large = CommandError::KeyTooLarge {
        len: 1025,
        max: 1024,
    };
    assert_eq!(failed(put), Some(too_large.clone()));
    assert_eq!(failed(get), Some(too_large));
    assert_eq!(
        failed(short),
        Some(CommandError::TtlTooShort { ttl: 59, min: 60 })
    );
}

fn store(request_id: u64, key: &[u8], value: Value, address: Option<[u8; 32]>) -> Payload {
    Payload::Store(Store {
        request_id,
        address: address.unwrap_or_else(|| shoutnet_dht::address_of(key)),
        key: Bytes::copy_from_slice(key),
        value,
        version: None,
        ttl: None,
    })
}

#[test]
fn hostile_stores_get_typed_refusals_and_nothing_stored_is_lost() {
    let (mut sim, _, at_1) = two_connected();
    let mut msgs = vec![
        // The address is not SHA-256 of the key.
        message(&sim, 0, 1, &store(1, b"a", Value::Nil, Some([0; 32]))),
        // A value one byte over 65,536 encoded: a bin 16 of 65,534 bytes
        // and its 3-byte header. The encoder refuses to build it, so the
        // content is written by hand.
        Message::new(
            key(&sim, 0),
            key(&sim, 1),
            Opcode::Store,
            Value::Array(vec![
                Value::from(2u8),
                Value::bin(shoutnet_dht::address_of(b"b").to_vec()),
                Value::bin(&b"b"[..]),
                Value::bin(vec![0; 65_534]),
            ])
            .encode()
            .unwrap(),
        ),
    ];
    // A key of 1,025 bytes, one over the limit, written by hand too.
    let long = vec![b'k'; 1025];
    msgs.push(Message::new(
        key(&sim, 0),
        key(&sim, 1),
        Opcode::Store,
        Value::Array(vec![
            Value::from(4u8),
            Value::bin(shoutnet_dht::address_of(&long).to_vec()),
            Value::bin(long),
            Value::Nil,
        ])
        .encode()
        .unwrap(),
    ));
    msgs.push(message(&sim, 0, 1, &store(3, b"c", Value::from(1u8), None)));
    sim.inject(1, at_1, &encode(&msgs));
    settle(&mut sim);
    assert_eq!(
        nack_codes(&sim, 1, 0),
        [NackCode::Malformed, NackCode::TooLarge, NackCode::TooLarge]
    );
    assert_eq!(sim.node(1).stored_records(), 1, "the good one is stored");
    assert_eq!(sim.node(1).stats().stores_refused, 1);
}

#[test]
fn one_peer_cannot_fill_a_node() {
    let mut sim = network(2, 84, |c| {
        let mut limits = StoreLimits::new();
        limits.set_max_records_per_peer(3);
        c.set_store_limits(limits);
    });
    let (_, at_1) = sim.connect(0, 1);
    settle(&mut sim);
    let msgs: Vec<_> = (0..5u64)
        .map(|i| {
            let key = format!("key {i}");
            message(&sim, 0, 1, &store(i, key.as_bytes(), Value::from(i), None))
        })
        .collect();
    sim.inject(1, at_1, &encode(&msgs));
    settle(&mut sim);
    assert_eq!(
        nack_codes(&sim, 1, 0),
        [NackCode::RateLimited, NackCode::RateLimited],
        "the quota is per peer, across messages"
    );
    assert_eq!(sim.node(1).stored_records(), 3);
    // What was stored is still served.
    let found = get(&mut sim, 1, "key 0").expect("kept");
    assert_eq!(found.value, Value::from(0u8));
}

#[test]
fn a_node_that_joins_among_the_k_closest_gets_the_record() {
    let n = 13;
    let late = n - 1;
    let mut sim = network(n, 85, |c| {
        c.set_local_network(true);
        c.kad_mut().set_k(5);
    });
    // A key whose 5 closest nodes include the late one.
    let all: Vec<_> = (0..n).map(|i| sim.node(i).local_address()).collect();
    let key = (0..)
        .map(|i| format!("key {i}"))
        .find(|key| {
            let target = shoutnet_engine::Address(shoutnet_dht::address_of(key.as_bytes()));
            let mut by_distance = all.clone();
            by_distance.sort_by_key(|a| a.distance(&target));
            by_distance[..5].contains(&all[late]) && by_distance[0] != all[late]
        })
        .unwrap();
    for i in 1..late {
        let seeds = (0..2.min(i)).map(shoutnet_sim::addr).collect();
        sim.command(i, Command::Bootstrap { seeds });
        settle(&mut sim);
    }
    let report = put(&mut sim, 1, &key, Value::from("v"), None);
    assert_eq!(report.stored, 5);
    assert_eq!(sim.node(late).stored_records(), 0);
    let seeds = vec![shoutnet_sim::addr(0), shoutnet_sim::addr(1)];
    sim.command(late, Command::Bootstrap { seeds });
    settle(&mut sim);
    assert_eq!(sim.node(late).stored_records(), 1, "re-replicated on join");
    let sent: u64 = (0..n).map(|i| sim.node(i).stats().records_replicated).sum();
    assert_eq!(sent, 1, "only the closest holder sends it");
}

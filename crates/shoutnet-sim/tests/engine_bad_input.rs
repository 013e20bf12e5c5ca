//! Bad input from a peer (docs/PROTOCOL.md §9.2, §10, docs/design.md §15):
//! every message in the wrong state gets a typed answer (a `NACK` with a
//! reason, or a close), and the engine keeps serving its other connections.

mod support;

use std::time::Duration;

use bytes::Bytes;
use shoutnet_crypto::Address;
use shoutnet_engine::{CloseReason, Command, CommandId, ConnectionId, Event};
use shoutnet_sim::{Sim, addr, node_keypair};
use shoutnet_wire::{
    Ack, AckResult, FindNode, Message, Method, NackCode, NodeInfo, NodesFor, Opcode, Payload,
    Profile, Value, encode_transmission,
};
use support::{
    closed, closes, connected, encode, key, lookup_result, message, nack_codes, network, run_for,
    sent, settle, two_connected,
};

#[test]
fn find_node_before_the_handshake_is_refused() {
    let mut sim = network(2, 4, |_| {});
    let (_, cb) = sim.connect(0, 1);
    let find = message(
        &sim,
        0,
        1,
        &Payload::FindNode(FindNode {
            request_id: 77,
            target: [5; 32],
        }),
    );
    // Bytes that reach the engine before its channel is secured (which a
    // driver never lets happen) close the connection: nothing can be
    // answered before the peer is known.
    sim.inject(1, cb, &encode(&[find]));
    settle(&mut sim);
    assert!(sent(&sim, 1, 0, Opcode::Nack).is_empty());
    assert!(
        closes(&sim).iter().any(|&(n, c, r)| n == 1
            && c == cb
            && r == CloseReason::NotAuthenticated(Opcode::FindNode)),
        "{:?}",
        closes(&sim)
    );
    assert_eq!(connected(&sim, 1), 0);
}

#[test]
fn reserved_opcodes_are_refused_and_the_connection_stays() {
    let (mut sim, _, cb) = two_connected();
    let reserved = [
        Opcode::Reserved10,
        Opcode::Reserved11,
        Opcode::Reserved12,
        Opcode::Reserved13,
        Opcode::Reserved14,
    ];
    let msgs: Vec<Message> = reserved
        .iter()
        .map(|&op| {
            Message::new(
                key(&sim, 0),
                key(&sim, 1),
                op,
                Bytes::from_static(&[0x91, 1]),
            )
        })
        .collect();
    sim.inject(1, cb, &encode(&msgs));
    settle(&mut sim);
    assert_eq!(nack_codes(&sim, 1, 0), vec![NackCode::UnsupportedOpcode; 5]);
    let acked: Vec<Opcode> = sent(&sim, 1, 0, Opcode::Nack)
        .into_iter()
        .filter_map(|p| match p {
            Some(Payload::Nack(n)) => Some(n.acked),
            _ => None,
        })
        .collect();
    assert_eq!(acked, reserved, "each NACK names the opcode it refuses");
    assert!(closes(&sim).is_empty());
    assert_eq!(sim.node(1).connection_count(), 1);
}

/// Node 0, connected to node 1 only, looks up a target; node 1's own
/// answers are dropped so the test can answer in its place.
fn lookup_answered_by_the_test() -> (Sim, ConnectionId, CommandId, u64) {
    let mut sim = network(2, 30, |config| {
        config.kad_mut().set_k(5);
    });
    sim.set_rewrite(1, |p| match p {
        Payload::Ack(Ack {
            result: AckResult::Nodes { .. },
            ..
        }) => None,
        other => Some(other),
    });
    let (ca, _) = sim.connect(0, 1);
    run_for(&mut sim, Duration::from_secs(1));
    let id = sim.command(
        0,
        Command::FindNode {
            target: Address([9; 32]),
        },
    );
    run_for(&mut sim, Duration::from_millis(10));
    let request_id = sent(&sim, 0, 1, Opcode::FindNode)
        .into_iter()
        .find_map(|p| match p {
            Some(Payload::FindNode(f)) => Some(f.request_id),
            _ => None,
        })
        .expect("node 0 asked node 1");
    (sim, ca, id, request_id)
}

#[test]
fn an_oversized_find_node_answer_fails_the_request_at_once() {
    let (mut sim, ca, id, request_id) = lookup_answered_by_the_test();
    // 21 node infos, one more than a reply may hold.
    let nodes: Vec<Value> = (0..21)
        .map(|i| {
            NodeInfo {
                key: node_keypair(99, i).unwrap().public().to_bytes(),
                listen: vec![addr(50 + i)],
                relays: Vec::new(),
            }
            .to_value()
        })
        .collect();
    let content = Value::Array(vec![
        Value::from(Opcode::FindNode as u64),
        Value::from(request_id),
        Value::Array(nodes),
    ])
    .encode()
    .unwrap();
    let answer = Message::new(key(&sim, 1), key(&sim, 0), Opcode::Ack, content);
    let start = sim.now();
    sim.inject(0, ca, &encode(&[answer]));
    run_for(&mut sim, Duration::from_millis(10));
    assert_eq!(sim.node(0).stats().malformed_replies, 1);
    assert_eq!(
        lookup_result(&sim, 0, id),
        Some(Vec::new()),
        "finished at once, empty"
    );
    assert!(sim.now() - start < Duration::from_secs(1));
    // A reply is never answered, and the connection stays.
    assert!(nack_codes(&sim, 0, 1).is_empty());
    assert!(sim.node(0).is_connected(&sim.node(1).local_address()));
}

#[test]
fn node_infos_with_bad_keys_or_addresses_are_counted_and_skipped() {
    let (mut sim, ca, id, request_id) = lookup_answered_by_the_test();
    let good = NodeInfo {
        key: key(&sim, 1),
        listen: vec![addr(1)],
        relays: Vec::new(),
    };
    // The identity point: 32 bytes, but a key of small order.
    let mut small_order = [0u8; 32];
    small_order[0] = 1;
    let bad = [
        NodeInfo {
            key: Bytes::copy_from_slice(&small_order),
            listen: vec![addr(60)],
            relays: Vec::new(),
        },
        NodeInfo {
            key: node_keypair(98, 1).unwrap().public().to_bytes(),
            listen: vec!["0.0.0.0:0".parse().unwrap()],
            relays: Vec::new(),
        },
        NodeInfo {
            key: node_keypair(98, 2).unwrap().public().to_bytes(),
            listen: vec!["224.0.0.1:4000".parse().unwrap()],
            relays: Vec::new(),
        },
    ];
    let answer = message(
        &sim,
        1,
        0,
        &Payload::Ack(Ack {
            request_id,
            result: AckResult::Nodes {
                acked: NodesFor::FindNode,
                nodes: [good].into_iter().chain(bad).collect(),
            },
        }),
    );
    sim.inject(0, ca, &encode(&[answer]));
    run_for(&mut sim, Duration::from_secs(1));
    assert_eq!(sim.node(0).stats().invalid_nodes, 3);
    assert_eq!(
        lookup_result(&sim, 0, id),
        Some(vec![sim.node(1).local_address()]),
        "the lookup went on with the one real node"
    );
    assert!(closes(&sim).is_empty());
}

#[test]
fn a_whisper_is_answered_with_the_digest_of_its_body_as_received() {
    use sha2::{Digest, Sha256};
    let (mut sim, _, cb) = two_connected();
    let whisper = message(
        &sim,
        0,
        1,
        &Payload::Whisper(shoutnet_wire::Whisper {
            request_id: 5,
            data: Value::Nil,
        }),
    );
    let digest: [u8; 32] = Sha256::digest(&whisper.content).into();
    sim.inject(1, cb, &encode(&[whisper]));
    settle(&mut sim);
    let acks: Vec<_> = support::answers(&sim, 1, 0).into_iter().flatten().collect();
    assert!(
        matches!(&acks[..], [Payload::Ack(Ack { request_id: 5, result: AckResult::Whisper { digest: d } })] if *d == digest),
        "{acks:?}"
    );
    assert!(closes(&sim).is_empty());
}

#[test]
fn unknown_ack_is_counted_not_fatal() {
    let (mut sim, _, cb) = two_connected();
    let ack = message(
        &sim,
        0,
        1,
        &Payload::Ack(Ack {
            request_id: 999_999,
            result: AckResult::Ping,
        }),
    );
    sim.inject(1, cb, &encode(&[ack]));
    settle(&mut sim);
    assert_eq!(sim.node(1).stats().unsolicited, 1);
    assert!(closes(&sim).is_empty());
    assert_eq!(sim.node(1).connection_count(), 1);
}

#[test]
fn foreign_from_key_closes_the_connection() {
    let mut sim = network(3, 9, |_| {});
    let (_, cb) = sim.connect(0, 1);
    settle(&mut sim);
    let ping = message(
        &sim,
        2,
        1,
        &Payload::Ping(shoutnet_wire::Ping { request_id: 1 }),
    );
    sim.inject(1, cb, &encode(&[ping]));
    settle(&mut sim);
    assert_eq!(nack_codes(&sim, 1, 0), vec![NackCode::NotAuthenticated]);
    assert!(closed(&sim, 1, cb));
}

#[test]
fn garbage_closes_one_connection_and_others_keep_working() {
    let mut sim = network(3, 5, |_| {});
    let (c01, _) = sim.connect(0, 1);
    sim.connect(2, 0);
    settle(&mut sim);
    assert_eq!(sim.node(0).connection_count(), 2);
    sim.inject(0, c01, &[0xff; 40]);
    settle(&mut sim);
    assert!(closed(&sim, 0, c01));
    assert_eq!(sim.node(0).stats().framing_errors, 1);
    let peer2 = sim.node(2).local_address();
    assert!(
        sim.node(0).is_connected(&peer2),
        "the other connection stays"
    );
    // The other connection still answers requests.
    let target = sim.node(0).local_address();
    let id = sim.command(2, Command::FindNode { target });
    settle(&mut sim);
    let finished: Vec<_> = sim
        .events(2)
        .filter_map(|e| match e {
            Event::LookupFinished {
                id: got, closest, ..
            } if *got == id => Some(closest),
            _ => None,
        })
        .collect();
    assert_eq!(finished.len(), 1);
    assert_eq!(finished[0].first(), Some(&target));
}

#[test]
fn set_connection_opt_is_acked_for_decodable_methods_only() {
    let (mut sim, _, cb) = two_connected();
    let opt = |id, option, setting| {
        Payload::SetConnectionOpt(shoutnet_wire::SetConnectionOpt {
            request_id: id,
            option,
            setting,
        })
    };
    // Snappy is decoded by default; zlib is not (its decoder's cost per
    // byte sent is unbounded); option 7 does not exist.
    let ok = message(&sim, 0, 1, &opt(1, 0, Method::Snappy.id().into()));
    let not_by_default = message(&sim, 0, 1, &opt(4, 0, Method::Zlib.id().into()));
    let bad = message(&sim, 0, 1, &opt(2, 7, 0));
    sim.inject(1, cb, &encode(&[ok, not_by_default, bad]));
    settle(&mut sim);
    let acks: Vec<_> = sent(&sim, 1, 0, Opcode::Ack)
        .into_iter()
        .flatten()
        .collect();
    assert!(
        acks.iter().any(|p| matches!(
            p,
            Payload::Ack(Ack {
                request_id: 1,
                result: AckResult::SetConnectionOpt {
                    option: 0,
                    setting: 5
                },
            })
        )),
        "{acks:?}"
    );
    assert_eq!(
        nack_codes(&sim, 1, 0),
        vec![NackCode::UnsupportedOption, NackCode::UnsupportedOption]
    );
    // Node 1 now reads snappy transmissions from node 0.
    let ping = message(
        &sim,
        0,
        1,
        &Payload::Ping(shoutnet_wire::Ping { request_id: 3 }),
    );
    let snappy = encode_transmission(Profile::Ed25519, &[ping], Method::Snappy).unwrap();
    sim.inject(1, cb, &snappy);
    settle(&mut sim);
    assert!(closes(&sim).is_empty(), "{:?}", closes(&sim));
    assert!(sent(&sim, 1, 0, Opcode::Ack).iter().any(|p| matches!(
        p,
        Some(Payload::Ack(Ack {
            request_id: 3,
            result: AckResult::Ping
        }))
    )));
}

#[test]
fn a_request_for_another_key_is_refused() {
    let mut sim = network(3, 9, |_| {});
    let (_, cb) = sim.connect(0, 1);
    settle(&mut sim);
    let find = Payload::FindNode(FindNode {
        request_id: 31,
        target: [3; 32],
    });
    // From node 0, on its connection to node 1, but to node 2's key.
    let misaddressed =
        Message::from_payload(Profile::Ed25519, key(&sim, 0), key(&sim, 2), &find).unwrap();
    sim.inject(1, cb, &encode(&[misaddressed]));
    settle(&mut sim);
    let nacks: Vec<_> = sent(&sim, 1, 0, Opcode::Nack)
        .into_iter()
        .flatten()
        .collect();
    assert!(
        matches!(&nacks[..], [Payload::Nack(n)] if n.code == NackCode::Malformed && n.request_id == Some(31)),
        "{nacks:?}"
    );
    // Node 1 may ACK node 0's kept-connection option; nothing answers 31.
    let answers: Vec<_> = sent(&sim, 1, 0, Opcode::Ack)
        .into_iter()
        .flatten()
        .filter(|p| matches!(p, Payload::Ack(a) if a.request_id == 31))
        .collect();
    assert!(answers.is_empty(), "not answered: {answers:?}");
}

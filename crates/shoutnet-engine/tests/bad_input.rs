//! Bad input from a peer (docs/PROTOCOL.md §9.2, §10, DESIGN R12): every
//! message in the wrong state gets a typed answer (a `NACK` with a reason,
//! or a close), and the engine keeps serving its other connections.

mod support;

use std::time::Duration;

use bytes::Bytes;
use shoutnet_crypto::Address;
use shoutnet_engine::{Command, Event};
use shoutnet_wire::{
    Ack, AckResult, BatchEncoder, FindNode, Message, Method, NackCode, NodeInfo, NodesFor, Opcode,
    Payload, Profile, Value,
};
use support::{Cluster, addr, connected, encode};

#[test]
fn find_node_before_the_handshake_is_refused() {
    let mut c = Cluster::new(2, 4, |_| {});
    let (_, cb) = c.connect(0, 1);
    let find = c.message(
        0,
        1,
        &Payload::FindNode(FindNode {
            request_id: 77,
            target: [5; 32],
        }),
    );
    c.inject(1, cb, &encode(&[find]));
    c.run_until_idle();
    let nacks: Vec<_> = c.sent(1, 0, Opcode::Nack).into_iter().flatten().collect();
    assert!(
        matches!(&nacks[..], [Payload::Nack(n)] if n.code == NackCode::NotAuthenticated
            && n.request_id == Some(77) && n.acked == Opcode::FindNode),
        "{nacks:?}"
    );
    assert!(
        c.closes
            .iter()
            .any(|(node, conn, _)| *node == 1 && *conn == cb)
    );
    assert_eq!(connected(&c.events_of(1)), 0);
}

#[test]
fn reserved_opcodes_are_refused_and_the_connection_stays() {
    let (mut c, _, cb) = Cluster::two_connected();
    let reserved = [
        Opcode::Reserved10,
        Opcode::Reserved11,
        Opcode::Reserved12,
        Opcode::Reserved13,
        Opcode::Reserved14,
    ];
    let msgs: Vec<Message> = reserved
        .iter()
        .map(|&op| Message::new(c.key(0), c.key(1), op, Bytes::from_static(&[0x91, 1])))
        .collect();
    c.inject(1, cb, &encode(&msgs));
    c.run_until_idle();
    assert_eq!(c.nack_codes(1, 0), vec![NackCode::UnsupportedOpcode; 5]);
    let acked: Vec<Opcode> = c
        .sent(1, 0, Opcode::Nack)
        .into_iter()
        .filter_map(|p| match p {
            Some(Payload::Nack(n)) => Some(n.acked),
            _ => None,
        })
        .collect();
    assert_eq!(acked, reserved, "each NACK names the opcode it refuses");
    assert!(c.closes.is_empty());
    assert_eq!(c.nodes[1].connection_count(), 1);
}

/// Node 0, connected to node 1 only, looks up a target; node 1's own
/// answers are dropped so the test can answer in its place.
fn lookup_answered_by_the_test() -> (
    Cluster,
    shoutnet_engine::ConnectionId,
    shoutnet_engine::RequestId,
    u64,
) {
    let mut c = Cluster::new(2, 30, |config| config.kad.k = 5);
    c.rewrite = Some((
        1,
        Box::new(|p| match p {
            Payload::Ack(Ack {
                result: AckResult::Nodes { .. },
                ..
            }) => None,
            other => Some(other),
        }),
    ));
    let (ca, _) = c.connect(0, 1);
    c.run_for(Duration::from_secs(1));
    let id = c.command(
        0,
        Command::FindNode {
            target: Address([9; 32]),
        },
    );
    c.run_for(Duration::from_millis(10));
    let request_id = c
        .sent(0, 1, Opcode::FindNode)
        .into_iter()
        .find_map(|p| match p {
            Some(Payload::FindNode(f)) => Some(f.request_id),
            _ => None,
        })
        .expect("node 0 asked node 1");
    (c, ca, id, request_id)
}

#[test]
fn an_oversized_find_node_answer_fails_the_request_at_once() {
    let (mut c, ca, id, request_id) = lookup_answered_by_the_test();
    // 21 node infos, one more than a reply may hold.
    let nodes: Vec<Value> = (0..21)
        .map(|i| {
            NodeInfo {
                key: support::keypair(99, i).public().to_bytes(),
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
    let answer = Message::new(c.key(1), c.key(0), Opcode::Ack, content);
    let start = c.now;
    c.inject(0, ca, &encode(&[answer]));
    c.run_for(Duration::from_millis(10));
    assert_eq!(c.nodes[0].stats().malformed_replies, 1);
    assert_eq!(
        c.lookup_result(0, id),
        Some(Vec::new()),
        "finished at once, empty"
    );
    assert!(c.now - start < Duration::from_secs(1));
    // A reply is never answered, and the connection stays.
    assert!(c.nack_codes(0, 1).is_empty());
    assert!(c.nodes[0].is_connected(&c.nodes[1].local_address()));
}

#[test]
fn node_infos_with_bad_keys_or_addresses_are_counted_and_skipped() {
    let (mut c, ca, id, request_id) = lookup_answered_by_the_test();
    let good = NodeInfo {
        key: c.key(1),
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
            key: support::keypair(98, 1).public().to_bytes(),
            listen: vec!["0.0.0.0:0".parse().unwrap()],
            relays: Vec::new(),
        },
        NodeInfo {
            key: support::keypair(98, 2).public().to_bytes(),
            listen: vec!["224.0.0.1:4000".parse().unwrap()],
            relays: Vec::new(),
        },
    ];
    let answer = c.message(
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
    c.inject(0, ca, &encode(&[answer]));
    c.run_for(Duration::from_secs(1));
    assert_eq!(c.nodes[0].stats().invalid_nodes, 3);
    assert_eq!(
        c.lookup_result(0, id),
        Some(vec![c.nodes[1].local_address()]),
        "the lookup went on with the one real node"
    );
    assert!(c.closes.is_empty());
}

#[test]
fn unsupported_requests_get_an_explicit_nack() {
    let (mut c, _, cb) = Cluster::two_connected();
    let whisper = c.message(
        0,
        1,
        &Payload::Whisper(shoutnet_wire::Whisper {
            request_id: 5,
            data: Value::Nil,
        }),
    );
    c.inject(1, cb, &encode(&[whisper]));
    c.run_until_idle();
    let nacks: Vec<_> = c.sent(1, 0, Opcode::Nack).into_iter().flatten().collect();
    assert!(
        matches!(&nacks[..], [Payload::Nack(n)] if n.code == NackCode::UnsupportedOpcode
            && n.reason == "not supported by this node yet" && n.request_id == Some(5)),
        "{nacks:?}"
    );
    assert!(c.closes.is_empty());
}

#[test]
fn unknown_ack_is_counted_not_fatal() {
    let (mut c, _, cb) = Cluster::two_connected();
    let ack = c.message(
        0,
        1,
        &Payload::Ack(Ack {
            request_id: 999_999,
            result: AckResult::Ping { proof: None },
        }),
    );
    c.inject(1, cb, &encode(&[ack]));
    c.run_until_idle();
    assert_eq!(c.nodes[1].stats().unsolicited, 1);
    assert!(c.closes.is_empty());
    assert_eq!(c.nodes[1].connection_count(), 1);
}

#[test]
fn foreign_from_key_closes_the_connection() {
    let mut c = Cluster::new(3, 9, |_| {});
    let (_, cb) = c.connect(0, 1);
    c.run_until_idle();
    let ping = c.message(
        2,
        1,
        &Payload::Ping(shoutnet_wire::Ping {
            request_id: 1,
            hello: None,
        }),
    );
    c.inject(1, cb, &encode(&[ping]));
    c.run_until_idle();
    assert_eq!(c.nack_codes(1, 0), vec![NackCode::NotAuthenticated]);
    assert!(
        c.closes
            .iter()
            .any(|(node, conn, _)| *node == 1 && *conn == cb)
    );
}

#[test]
fn garbage_closes_one_connection_and_others_keep_working() {
    let mut c = Cluster::new(3, 5, |_| {});
    let (c01, _) = c.connect(0, 1);
    c.connect(2, 0);
    c.run_until_idle();
    assert_eq!(c.nodes[0].connection_count(), 2);
    c.inject(0, c01, &[0xff; 40]);
    c.run_until_idle();
    assert!(
        c.closes
            .iter()
            .any(|(node, conn, _)| *node == 0 && *conn == c01)
    );
    assert_eq!(c.nodes[0].stats().framing_errors, 1);
    let peer2 = c.nodes[2].local_address();
    assert!(
        c.nodes[0].is_connected(&peer2),
        "the other connection stays"
    );
    // The other connection still answers requests.
    let now = c.now;
    let target = c.nodes[0].local_address();
    let id = c.nodes[2].handle_command(Command::FindNode { target }, now);
    c.run_until_idle();
    let finished: Vec<_> = c
        .events_of(2)
        .into_iter()
        .filter_map(|e| match e {
            Event::LookupFinished {
                id: got, closest, ..
            } if got == id => Some(closest),
            _ => None,
        })
        .collect();
    assert_eq!(finished.len(), 1);
    assert_eq!(finished[0].first(), Some(&target));
}

#[test]
fn set_connection_opt_is_acked_for_decodable_methods_only() {
    let (mut c, _, cb) = Cluster::two_connected();
    let opt = |id, option, setting| {
        Payload::SetConnectionOpt(shoutnet_wire::SetConnectionOpt {
            request_id: id,
            option,
            setting,
        })
    };
    let ok = c.message(0, 1, &opt(1, 0, Method::Zlib.id().into()));
    let bad = c.message(0, 1, &opt(2, 7, 0));
    c.inject(1, cb, &encode(&[ok, bad]));
    c.run_until_idle();
    let acks: Vec<_> = c.sent(1, 0, Opcode::Ack).into_iter().flatten().collect();
    assert!(
        acks.iter().any(|p| matches!(
            p,
            Payload::Ack(Ack {
                request_id: 1,
                result: AckResult::SetConnectionOpt {
                    option: 0,
                    setting: 4
                },
            })
        )),
        "{acks:?}"
    );
    assert_eq!(c.nack_codes(1, 0), vec![NackCode::UnsupportedOption]);
    // Node 1 now reads zlib transmissions from node 0.
    let ping = c.message(
        0,
        1,
        &Payload::Ping(shoutnet_wire::Ping {
            request_id: 3,
            hello: None,
        }),
    );
    let mut batch = BatchEncoder::new(Profile::Ed25519);
    batch.push(&ping).unwrap();
    c.inject(1, cb, &batch.finish(Method::Zlib).unwrap());
    c.run_until_idle();
    assert!(c.closes.is_empty(), "{:?}", c.closes);
    assert!(c.sent(1, 0, Opcode::Ack).iter().any(|p| matches!(
        p,
        Some(Payload::Ack(Ack {
            request_id: 3,
            result: AckResult::Ping { proof: None }
        }))
    )));
}

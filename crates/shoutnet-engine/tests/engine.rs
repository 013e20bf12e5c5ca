//! Engine scenarios over the in-memory driver (docs/PROTOCOL.md §9.1, §10,
//! §8.7): handshake, refusals, bad input and lookups.

mod support;

use std::time::Duration;

use bytes::Bytes;
use shoutnet_crypto::Address;
use shoutnet_engine::{Command, Event, NodeEngine};
use shoutnet_wire::{
    Ack, AckResult, BatchEncoder, FindNode, Message, Method, NackCode, Opcode, Payload, Profile,
};
use support::{Cluster, addr};

fn encode(msgs: &[Message]) -> Bytes {
    let mut batch = BatchEncoder::new(Profile::Ed25519);
    for m in msgs {
        batch.push(m).unwrap();
    }
    batch.finish(Method::None).unwrap()
}

fn payload_msg(c: &Cluster, from: usize, to: usize, p: &Payload) -> Message {
    Message::from_payload(Profile::Ed25519, c.key(from), c.key(to), p).unwrap()
}

fn nack_codes(c: &Cluster, from: usize, to: usize) -> Vec<NackCode> {
    c.sent(from, to, Opcode::Nack)
        .into_iter()
        .filter_map(|p| match p {
            Some(Payload::Nack(n)) => Some(n.code),
            _ => None,
        })
        .collect()
}

fn connected(events: &[Event]) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, Event::Connected { .. }))
        .count()
}

fn two_connected() -> (
    Cluster,
    shoutnet_engine::ConnectionId,
    shoutnet_engine::ConnectionId,
) {
    let mut c = Cluster::new(2, 1, |_| {});
    let (ca, cb) = c.connect(0, 1);
    c.run_until_idle();
    assert_eq!(connected(&c.events_of(0)), 1);
    assert_eq!(connected(&c.events_of(1)), 1);
    (c, ca, cb)
}

#[test]
fn two_nodes_complete_the_handshake() {
    let (c, _, _) = two_connected();
    let Event::Connected {
        peer, listen, key, ..
    } = &c.events_of(0)[0]
    else {
        panic!("{:?}", c.events_of(0));
    };
    assert_eq!(*peer, c.nodes[1].local_address());
    assert_eq!(*key, c.key(1));
    assert_eq!(listen, &vec![addr(1)]);
    assert!(c.closes.is_empty());
    // Both inserted each other into their routing tables.
    assert!(
        c.nodes[0]
            .routing_table()
            .contains(&c.nodes[1].local_address())
    );
    assert!(
        c.nodes[1]
            .routing_table()
            .contains(&c.nodes[0].local_address())
    );
}

#[test]
fn tampered_proof_is_refused_with_bad_signature() {
    let mut c = Cluster::new(2, 2, |_| {});
    c.rewrite = Some((
        1,
        Box::new(|p| match p {
            Payload::Ack(Ack {
                request_id,
                result: AckResult::Ping { proof: Some(proof) },
            }) => {
                let mut bad = proof.to_vec();
                bad[0] ^= 1;
                Some(Payload::Ack(Ack {
                    request_id,
                    result: AckResult::Ping {
                        proof: Some(bad.into()),
                    },
                }))
            }
            other => Some(other),
        }),
    ));
    c.connect(0, 1);
    c.run_until_idle();
    assert_eq!(nack_codes(&c, 0, 1), vec![NackCode::BadSignature]);
    assert!(c.closes.iter().any(|(node, _, _)| *node == 0));
    assert_eq!(connected(&c.events_of(0)), 0);
    assert_eq!(c.nodes[0].connection_count(), 0);
    assert_eq!(c.nodes[1].connection_count(), 0);
}

#[test]
fn version_mismatch_is_refused() {
    let mut c = Cluster::new(2, 3, |_| {});
    c.rewrite = Some((
        1,
        Box::new(|p| match p {
            Payload::Ping(mut ping) => {
                if let Some(h) = ping.hello.as_mut() {
                    h.version = 2;
                }
                Some(Payload::Ping(ping))
            }
            other => Some(other),
        }),
    ));
    c.connect(0, 1);
    c.run_until_idle();
    assert_eq!(nack_codes(&c, 0, 1), vec![NackCode::VersionMismatch]);
    assert!(c.closes.iter().any(|(node, _, _)| *node == 0));
    assert_eq!(connected(&c.events_of(0)) + connected(&c.events_of(1)), 0);
}

#[test]
fn find_node_before_the_handshake_is_refused() {
    let mut c = Cluster::new(2, 4, |_| {});
    let (_, cb) = c.connect(0, 1);
    let find = payload_msg(
        &c,
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
fn reserved_opcode_is_refused_and_the_connection_stays() {
    let (mut c, _, cb) = two_connected();
    let msg = Message::new(
        c.key(0),
        c.key(1),
        Opcode::Reserved12,
        Bytes::from_static(&[0x91, 1]),
    );
    c.inject(1, cb, &encode(&[msg]));
    c.run_until_idle();
    assert_eq!(nack_codes(&c, 1, 0), vec![NackCode::UnsupportedOpcode]);
    assert!(c.closes.is_empty());
    assert_eq!(c.nodes[1].connection_count(), 1);
}

#[test]
fn unsupported_requests_get_an_explicit_nack() {
    let (mut c, _, cb) = two_connected();
    let whisper = payload_msg(
        &c,
        0,
        1,
        &Payload::Whisper(shoutnet_wire::Whisper {
            request_id: 5,
            data: shoutnet_wire::Value::Nil,
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
    let (mut c, _, cb) = two_connected();
    let ack = payload_msg(
        &c,
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
    let ping = payload_msg(
        &c,
        2,
        1,
        &Payload::Ping(shoutnet_wire::Ping {
            request_id: 1,
            hello: None,
        }),
    );
    c.inject(1, cb, &encode(&[ping]));
    c.run_until_idle();
    assert_eq!(nack_codes(&c, 1, 0), vec![NackCode::NotAuthenticated]);
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
    assert_eq!(c.nodes[0].connection_count(), 1);
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
fn keepalives_keep_idle_connections_open() {
    let (mut c, _, _) = two_connected();
    c.run_for(Duration::from_secs(200));
    assert!(c.closes.is_empty());
    assert!(!c.sent(0, 1, Opcode::Ping).is_empty());
    assert_eq!(c.nodes[0].connection_count(), 1);
}

#[test]
fn unanswered_keepalive_closes_the_connection() {
    let (mut c, _, _) = two_connected();
    // Node 1 goes silent: everything it sends is lost.
    c.rewrite = Some((1, Box::new(|_| None)));
    c.run_for(Duration::from_secs(60));
    assert!(
        c.closes
            .iter()
            .any(|(node, _, reason)| *node == 0 && reason.contains("keepalive")),
        "{:?}",
        c.closes
    );
}

#[test]
fn silent_peer_hits_the_handshake_timeout() {
    let mut c = Cluster::new(2, 6, |_| {});
    c.rewrite = Some((1, Box::new(|_| None)));
    c.connect(0, 1);
    c.run_until_idle();
    assert!(
        c.closes
            .iter()
            .any(|(node, _, reason)| *node == 0 && reason.contains("handshake timed out")),
        "{:?}",
        c.closes
    );
}

fn bootstrapped(n: usize, seed: u64) -> Cluster {
    let mut c = Cluster::new(n, seed, |config| {
        config.kad.k = 5;
        config.max_outbound = 64;
    });
    for i in 1..n {
        let seeds = if i >= 2 {
            vec![addr(0), addr(1)]
        } else {
            vec![addr(0)]
        };
        let now = c.now;
        c.nodes[i].handle_command(Command::Bootstrap { seeds }, now);
        c.run_until_idle();
    }
    c
}

fn brute_force(c: &Cluster, searcher: usize, target: &Address, k: usize) -> Vec<Address> {
    let mut all: Vec<Address> = (0..c.nodes.len())
        .filter(|i| *i != searcher)
        .map(|i| c.nodes[i].local_address())
        .collect();
    all.sort_by_key(|a| a.distance(target));
    all.truncate(k);
    all
}

#[test]
fn lookup_in_a_bootstrapped_cluster_finds_the_k_closest() {
    let n = 40;
    let mut c = bootstrapped(n, 7);
    for (searcher, t) in [(n - 1, 1u8), (n / 2, 2), (3, 3), (0, 4), (17, 5)] {
        let target = Address([t.wrapping_mul(37); 32]);
        let now = c.now;
        let id = c.nodes[searcher].handle_command(Command::FindNode { target }, now);
        c.run_until_idle();
        let got = c
            .events_of(searcher)
            .into_iter()
            .find_map(|e| match e {
                Event::LookupFinished {
                    id: got, closest, ..
                } if got == id => Some(closest),
                _ => None,
            })
            .expect("lookup finished");
        assert_eq!(
            got,
            brute_force(&c, searcher, &target, 5),
            "searcher {searcher}"
        );
    }
}

#[test]
fn same_seed_gives_the_same_trace() {
    let a = bootstrapped(20, 11);
    let b = bootstrapped(20, 11);
    assert!(!a.trace.is_empty());
    assert_eq!(a.trace, b.trace);
    let other = bootstrapped(20, 12);
    assert_ne!(a.trace, other.trace);
}

#[test]
fn engine_is_usable_without_a_driver() {
    let c = Cluster::new(1, 8, |_| {});
    let engine: &NodeEngine = &c.nodes[0];
    assert_eq!(engine.poll_timeout(), None);
}

#[test]
fn set_connection_opt_is_acked_for_decodable_methods_only() {
    let (mut c, _, cb) = two_connected();
    let opt = |id, option, setting| {
        Payload::SetConnectionOpt(shoutnet_wire::SetConnectionOpt {
            request_id: id,
            option,
            setting,
        })
    };
    let ok = payload_msg(&c, 0, 1, &opt(1, 0, Method::Zlib.id().into()));
    let bad = payload_msg(&c, 0, 1, &opt(2, 7, 0));
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
    assert_eq!(nack_codes(&c, 1, 0), vec![NackCode::UnsupportedOption]);
    // Node 1 now reads zlib transmissions from node 0.
    let ping = payload_msg(
        &c,
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

#[test]
fn dials_respect_the_outbound_limit() {
    let mut c = Cluster::new(4, 10, |config| config.max_outbound = 1);
    let now = c.now;
    c.nodes[3].handle_command(
        Command::Bootstrap {
            seeds: vec![addr(0), addr(1), addr(2)],
        },
        now,
    );
    c.run_until_idle();
    let dials = c
        .trace
        .iter()
        .filter(|l| l.contains("node 3 dials"))
        .count();
    assert_eq!(dials, 1, "{:#?}", c.trace);
    assert!(
        c.events_of(3)
            .iter()
            .any(|e| matches!(e, Event::LookupFinished { .. }))
    );
}

#[test]
fn absurd_durations_are_capped_instead_of_overflowing() {
    let mut c = Cluster::new(2, 3, |config| {
        config.handshake_timeout = Duration::MAX;
        config.request_timeout = Duration::MAX;
        config.keepalive = Duration::MAX;
        config.kad.request_timeout = Duration::MAX;
    });
    c.connect(0, 1);
    c.run_until_idle();
    assert_eq!(connected(&c.events_of(0)), 1);
    assert_eq!(connected(&c.events_of(1)), 1);
}

//! Hostile peers (docs/PROTOCOL.md §11, docs/design.md §15): each test
//! performs one attack on a node and shows the bound or the refusal —
//! request floods, outboxes past the peer's limit, connection floods,
//! decompression bombs, undecryptable messages, claimed addresses, and
//! closes that must not be lost.

mod support;

use std::time::Duration;

use bytes::Bytes;
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use shoutnet_crypto::encrypt_message;
use shoutnet_engine::{Admission, CloseReason, Event, Rate, RequestRates};
use shoutnet_sim::{Sim, addr, node_keypair};
use shoutnet_wire::{
    Custom, FindNode, Hello, Limits, Message, Method, NackCode, Payload, Profile, SetConnectionOpt,
    Value, ValueLimits, encode_transmission,
};
use support::{closes, connected, encode, message, network, run_for, settle};

/// Nodes 0 and 1 connected, after `configure` of every engine.
fn pair(
    seed: u64,
    configure: impl Fn(&mut shoutnet_engine::EngineConfig) + Send + Sync + 'static,
) -> (Sim, shoutnet_engine::ConnectionId) {
    let mut sim = network(2, seed, configure);
    let (_, at_1) = sim.connect(0, 1);
    settle(&mut sim);
    assert_eq!(connected(&sim, 1), 1);
    (sim, at_1)
}

fn find_nodes(sim: &Sim, n: u64) -> Vec<Message> {
    (0..n)
        .map(|i| {
            let find = FindNode {
                request_id: 1_000 + i,
                target: [i as u8; 32],
            };
            message(sim, 0, 1, &Payload::FindNode(find))
        })
        .collect()
}

/// The close node 1 made of its connection `conn`, if any.
fn close_of(sim: &Sim, conn: shoutnet_engine::ConnectionId) -> Option<CloseReason> {
    closes(sim)
        .into_iter()
        .find(|&(node, c, _)| node == 1 && c == conn)
        .map(|(_, _, reason)| reason)
}

#[test]
fn a_request_flood_is_answered_up_to_its_budget_then_closed() {
    // 10,000 FIND_NODEs in one transmission, plain and snappy-compressed
    // (7 KB on the wire for 1.3 MB of requests).
    for method in [Method::None, Method::Snappy] {
        let (mut sim, at_1) = pair(21, |_| {});
        if method != Method::None {
            let opt = SetConnectionOpt {
                request_id: 1,
                option: SetConnectionOpt::COMPRESSION,
                setting: u64::from(method.id()),
            };
            let msg = message(&sim, 0, 1, &Payload::SetConnectionOpt(opt));
            sim.inject(1, at_1, &encode(&[msg]));
        }
        let flood =
            encode_transmission(Profile::Ed25519, &find_nodes(&sim, 10_000), method).unwrap();
        sim.inject(1, at_1, &flood);
        settle(&mut sim);
        let rates = RequestRates::default();
        let answered = support::answers(&sim, 1, 0).len() as u64;
        let refused: Vec<NackCode> = support::nack_codes(&sim, 1, 0);
        assert!(
            answered <= rates.lookup.burst() + 1,
            "{method:?}: {answered} answers"
        );
        assert!(
            refused.len() as u64 <= rates.refusals.burst(),
            "{method:?}: {} NACKs",
            refused.len()
        );
        assert!(
            refused.iter().all(|c| *c == NackCode::RateLimited),
            "{method:?}"
        );
        assert_eq!(
            close_of(&sim, at_1),
            Some(CloseReason::TooManyRefusals),
            "{method:?}"
        );
        let stats = sim.node(1).stats();
        assert_eq!(stats.refusals_over_budget, 1);
        assert!(
            stats.rate_limited >= rates.refusals.burst(),
            "{method:?}: {stats:?}"
        );
        // What the flood bought, in bytes sent back: a few hundred KB at most.
        assert!(flood.len() < 2_000_000, "{}", flood.len());
    }
}

#[test]
fn outboxes_are_split_at_the_peers_transmission_limit() {
    // Node 1 takes transmissions of at most 4 KiB (its hello says so);
    // node 0 answers 30 requests of ~1 KB each in one input.
    let mut sim = network(24, 22, |config| {
        let limits = Limits {
            max_transmission: 4096,
            ..Limits::default()
        };
        config.set_limits(limits);
    });
    for i in 2..24 {
        sim.connect(i, 0);
    }
    settle(&mut sim);
    let (_, at_0) = sim.connect(1, 0);
    settle(&mut sim);
    let finds: Vec<Message> = (0..30u64)
        .map(|i| {
            let find = FindNode {
                request_id: 500 + i,
                target: [i as u8; 32],
            };
            message(&sim, 1, 0, &Payload::FindNode(find))
        })
        .collect();
    let transmissions = sim.stats().transmissions;
    sim.inject(0, at_0, &encode(&finds));
    settle(&mut sim);
    // Node 1 would have closed on a transmission over its limit.
    assert!(
        closes(&sim)
            .iter()
            .all(|&(n, _, r)| !(n == 1 && matches!(r, CloseReason::Framing(_))))
    );
    assert_eq!(
        support::answers(&sim, 0, 1).len(),
        30,
        "every answer arrived"
    );
    assert!(
        sim.stats().transmissions - transmissions >= 5,
        "the answers went in several transmissions"
    );
}

#[test]
fn inbound_connection_floods_are_refused_on_arrival() {
    // (limits of node 0, how the attacker connects, the refusal)
    let per_address = |sim: &mut Sim| {
        for _ in 0..12 {
            sim.connect(1, 0);
        }
    };
    let many_hosts = |sim: &mut Sim| {
        for i in 1..6 {
            sim.connect(i, 0);
        }
    };
    let stalled = |sim: &mut Sim| {
        sim.partition(&[0], &[1, 2, 3, 4, 5]);
        for i in 1..4 {
            sim.connect(i, 0);
        }
    };
    let at_once = |sim: &mut Sim| {
        for i in 1..4 {
            sim.connect(i, 0);
        }
    };
    type Attack = fn(&mut Sim);
    type Limit = fn(&mut shoutnet_engine::EngineConfig);
    // (limits of node 0, how the attacker connects, the refusal, how many)
    let cases: [(Limit, Attack, Admission, usize); 4] = [
        (|_| {}, per_address, Admission::TooManyFromAddress, 4),
        (
            |c| {
                c.set_max_inbound(3);
            },
            many_hosts,
            Admission::TooManyInbound,
            2,
        ),
        (
            |c| {
                c.set_max_handshaking(2);
            },
            stalled,
            Admission::TooManyHandshakes,
            1,
        ),
        (
            |c| {
                c.set_handshake_rate(Rate::new(1, 2));
            },
            at_once,
            Admission::HandshakeRate,
            1,
        ),
    ];
    for (limit, attack, refusal, refused) in cases {
        let mut sim = network(6, 23, limit);
        attack(&mut sim);
        let got: Vec<_> = closes(&sim)
            .into_iter()
            .filter(|&(n, _, r)| n == 0 && r == CloseReason::Admission(refusal))
            .collect();
        assert_eq!(got.len(), refused, "{refusal:?}: {:?}", closes(&sim));
        assert_eq!(
            sim.node(0).stats().refused_inbound,
            refused as u64,
            "{refusal:?}"
        );
    }
    // The rate refills: a second later the node admits again.
    let mut sim = network(6, 23, |c| {
        c.set_handshake_rate(Rate::new(1, 1));
    });
    sim.connect(1, 0);
    sim.connect(2, 0);
    run_for(&mut sim, Duration::from_secs(1));
    sim.connect(3, 0);
    settle(&mut sim);
    assert_eq!(sim.node(0).stats().refused_inbound, 1);
    assert_eq!(connected(&sim, 0), 2);
}

#[test]
fn a_stream_of_compression_bombs_is_closed_at_the_decompression_budget() {
    let (mut sim, at_1) = pair(24, |c| {
        let mut rates = RequestRates::default();
        rates.decompressed_bytes = Rate::new(1 << 20, 20 << 20);
        c.set_request_rates(rates);
    });
    let opt = SetConnectionOpt {
        request_id: 1,
        option: SetConnectionOpt::COMPRESSION,
        setting: u64::from(Method::Snappy.id()),
    };
    sim.inject(
        1,
        at_1,
        &encode(&[message(&sim, 0, 1, &Payload::SetConnectionOpt(opt))]),
    );
    // CUSTOM without request id, 8 MiB of zeros each: about 400 KB sent
    // for 8 MiB to decompress.
    let bomb = Payload::Custom(Custom {
        request_id: None,
        name: "x".into(),
        data: Value::bin(vec![0; 8 << 20]),
    });
    let tx = encode_transmission(
        Profile::Ed25519,
        &[message(&sim, 0, 1, &bomb)],
        Method::Snappy,
    )
    .unwrap();
    assert!(tx.len() < 500_000, "{}", tx.len());
    for _ in 0..4 {
        sim.inject(1, at_1, &tx);
    }
    assert_eq!(close_of(&sim, at_1), Some(CloseReason::DecompressionBudget));
    assert_eq!(sim.node(1).stats().decompression_over_budget, 1);
    // Two 8 MiB bodies fit the 20 MiB burst; the third would not.
    assert_eq!(sim.node(1).stats().customs_unknown, 2);
}

#[test]
fn encrypted_requests_are_decrypted_within_a_budget_or_refused() {
    let (mut sim, at_1) = pair(25, |c| {
        c.set_decrypt_rate(Rate::new(1, 2));
    });
    let sealed = |sim: &Sim, request_id: u64| {
        let mut msg = message(
            sim,
            0,
            1,
            &Payload::FindNode(FindNode {
                request_id,
                target: [1; 32],
            }),
        );
        let to = node_keypair(sim.config().seed(), 1).unwrap();
        encrypt_message(
            to.public(),
            &mut ChaCha20Rng::from_seed([request_id as u8; 32]),
            &mut msg,
            false,
        )
        .unwrap();
        msg
    };
    let mut garbage = message(
        &sim,
        0,
        1,
        &Payload::FindNode(FindNode {
            request_id: 9,
            target: [1; 32],
        }),
    );
    garbage.encrypted = true;
    garbage.content = Bytes::from(vec![7; 80]);
    sim.inject(
        1,
        at_1,
        &encode(&[sealed(&sim, 7), garbage, sealed(&sim, 8)]),
    );
    settle(&mut sim);
    assert_eq!(
        support::answers(&sim, 1, 0).len(),
        1,
        "the first one decrypts and is answered"
    );
    assert_eq!(
        support::nack_codes(&sim, 1, 0),
        [NackCode::DecryptFailed, NackCode::RateLimited],
        "then one that does not decrypt, then one over the budget"
    );
    assert_eq!(sim.node(1).stats().decrypt_failures, 1);
}

#[test]
fn only_a_hellos_addresses_on_the_connections_ip_are_believed() {
    let mut sim = network(2, 26, |_| {});
    let own = sim.node(1).channel_identity().hello().clone();
    let mut hello = Hello::decode(&own, Profile::Ed25519, &ValueLimits::default()).unwrap();
    // Node 1 also claims an address on another host (say, a victim's).
    hello.listen.push("10.200.0.9:22".parse().unwrap());
    sim.set_hello(1, Some(hello.encode().unwrap()));
    sim.connect(0, 1);
    settle(&mut sim);
    let listen = sim.events(0).find_map(|e| match e {
        Event::Connected { listen, .. } => Some(listen.clone()),
        _ => None,
    });
    assert_eq!(listen, Some(vec![addr(1)]));
    let contact = sim
        .node(0)
        .routing_table()
        .get(&sim.node(1).local_address())
        .cloned();
    assert_eq!(contact.map(|c| c.listen), Some(vec![addr(1)]));
}

#[test]
fn closes_are_never_dropped_on_a_full_action_queue() {
    // One handle_timeout closes five stalled handshakes at once, with room
    // for one action in the queue.
    let mut sim = network(6, 27, |c| {
        c.set_queue_capacity(1);
    });
    sim.partition(&[0], &[1, 2, 3, 4, 5]);
    let conns: Vec<_> = (1..6).map(|i| sim.connect(i, 0).1).collect();
    settle(&mut sim);
    for conn in conns {
        assert_eq!(
            closes(&sim)
                .iter()
                .find(|&&(n, c, _)| n == 0 && c == conn)
                .map(|c| c.2),
            Some(CloseReason::HandshakeTimedOut),
            "{conn:?}"
        );
    }
}

#[test]
fn signatures_are_checked_before_any_decryption() {
    let (mut sim, at_1) = pair(28, |c| {
        c.set_decrypt_rate(Rate::new(1, 1));
    });
    let from = node_keypair(sim.config().seed(), 0).unwrap();
    let to = node_keypair(sim.config().seed(), 1).unwrap();
    let mut rng = ChaCha20Rng::from_seed([3; 32]);
    let find = |id| {
        Payload::FindNode(FindNode {
            request_id: id,
            target: [2; 32],
        })
    };
    // Encrypted and signed, then the signature corrupted: refused without
    // decrypting, so the one-decryption budget stays for the good one.
    let mut forged = message(&sim, 0, 1, &find(41));
    shoutnet_crypto::seal_message(&from, to.public(), &mut rng, &mut forged).unwrap();
    let mut sig = forged.signature.clone().unwrap().to_vec();
    sig[0] ^= 1;
    forged.signature = Some(Bytes::from(sig));
    let mut good = message(&sim, 0, 1, &find(42));
    shoutnet_crypto::seal_message(&from, to.public(), &mut rng, &mut good).unwrap();
    sim.inject(1, at_1, &encode(&[forged, good]));
    settle(&mut sim);
    assert_eq!(support::nack_codes(&sim, 1, 0), [NackCode::BadSignature]);
    assert_eq!(
        support::answers(&sim, 1, 0).len(),
        1,
        "the good one was decrypted and answered"
    );
    assert_eq!(sim.node(1).stats().bad_signatures, 1);
}

//! WHISPER (docs/PROTOCOL.md §8.6, §9.9): each route delivers, encrypted
//! unless asked otherwise and readable only by the destination; every
//! command resolves exactly once; routed whispers that would not get closer,
//! are unsigned or unencrypted, or overflow the relay's routes are refused
//! back to their origin; answers for whispers never sent change nothing.

mod support;

use std::time::Duration;

use bytes::Bytes;
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use shoutnet_crypto::{Address, Keypair, Profile, seal_message};
use shoutnet_engine::{Command, CommandId, Delivered, Event, WhisperError, WhisperRoute};
use shoutnet_sim::{Sim, node_keypair};
use shoutnet_wire::{Ack, AckResult, Message, NackCode, Opcode, Payload, Value, Whisper};
use support::{bootstrap_all, encode, key, message, nack_codes, network, run_for, settle};

fn joined(n: usize, seed: u64) -> Sim {
    let mut sim = network(n, seed, |c| {
        c.set_local_network(true);
        c.kad_mut().set_k(5);
    });
    bootstrap_all(&mut sim);
    sim
}

fn whisper(
    sim: &mut Sim,
    from: usize,
    to: Bytes,
    route: WhisperRoute,
    encrypt: Option<bool>,
) -> CommandId {
    sim.command(
        from,
        Command::Whisper {
            to,
            data: Value::from("psst"),
            encrypt,
            route,
        },
    )
}

fn finished(sim: &Sim, node: usize, id: CommandId) -> Vec<Result<Delivered, WhisperError>> {
    sim.events(node)
        .filter_map(|e| match e {
            Event::WhisperFinished { id: got, result } if *got == id => Some(*result),
            _ => None,
        })
        .collect()
}

/// The whispers node `node` received: (from, encrypted, routed).
fn received(sim: &Sim, node: usize) -> Vec<(Bytes, bool, bool)> {
    sim.events(node)
        .filter_map(|e| match e {
            Event::Whisper {
                from,
                data,
                encrypted,
                routed,
                ..
            } => {
                assert_eq!(*data, Value::from("psst"));
                Some((from.clone(), *encrypted, *routed))
            }
            _ => None,
        })
        .collect()
}

/// A node of `sim` that node `from` has no connection to and, for a
/// recursive whisper, no routing-table entry for (so it must be relayed).
fn unconnected(sim: &Sim, from: usize, route: WhisperRoute) -> usize {
    let node = sim.node(from);
    (0..sim.len())
        .rev()
        .find(|&i| {
            let a = sim.node(i).local_address();
            i != from
                && !node.is_connected(&a)
                && (route != WhisperRoute::Recursive || !node.routing_table().contains(&a))
        })
        .expect("someone is not connected")
}

#[test]
fn every_route_delivers_once_and_is_acked() {
    let mut sim = joined(24, 100);
    let origin = 3;
    for route in [
        WhisperRoute::Iterative,
        WhisperRoute::Recursive,
        WhisperRoute::Auto,
    ] {
        let dest = unconnected(&sim, origin, route);
        let before = received(&sim, dest).len();
        let to = key(&sim, dest);

        let id = whisper(&mut sim, origin, to, route, None);
        settle(&mut sim);
        let result = finished(&sim, origin, id);
        assert_eq!(result.len(), 1, "{route:?}: resolved once");
        let delivered = result[0].unwrap_or_else(|e| panic!("{route:?}: {e}"));
        if route != WhisperRoute::Auto {
            assert_eq!(delivered.route, route);
        }
        let got = received(&sim, dest);
        assert_eq!(got.len(), before + 1, "{route:?}");
        let (from, encrypted, routed) = got.last().unwrap().clone();
        assert_eq!(from, key(&sim, origin));
        assert!(encrypted, "encrypted by default");
        // Only a recursive whisper comes through other nodes, and one to a
        // node the origin does not know must.
        assert_eq!(routed, route == WhisperRoute::Recursive, "{route:?}");
    }
    // Nobody but the destinations saw a whisper, and no relay could read one:
    // the logged payloads of every WHISPER are ciphertext.
    assert!(
        sim.messages()
            .iter()
            .filter(|m| m.opcode == Opcode::Whisper)
            .all(|m| m.payload.is_none())
    );
    // Direct, once connected.
    let dest = (0..sim.len())
        .find(|&i| i != origin && sim.node(origin).is_connected(&sim.node(i).local_address()))
        .unwrap();
    let to = key(&sim, dest);
    let id = whisper(&mut sim, origin, to, WhisperRoute::Direct, Some(false));
    settle(&mut sim);
    assert!(matches!(
        finished(&sim, origin, id)[..],
        [Ok(Delivered {
            route: WhisperRoute::Direct,
            ..
        })]
    ));
    assert_eq!(
        received(&sim, dest).last().map(|r| r.1),
        Some(false),
        "asked unencrypted"
    );
}

#[test]
fn an_absent_key_is_undeliverable_by_every_route() {
    let mut sim = joined(16, 101);
    let stranger = Keypair::generate(Profile::Ed25519, &mut ChaCha20Rng::seed_from_u64(9))
        .unwrap()
        .public()
        .to_bytes();
    for route in [
        WhisperRoute::Direct,
        WhisperRoute::Iterative,
        WhisperRoute::Recursive,
    ] {
        let id = whisper(&mut sim, 2, stranger.clone(), route, None);
        run_for(&mut sim, Duration::from_secs(40));
        assert_eq!(
            finished(&sim, 2, id),
            [Err(WhisperError::Undeliverable)],
            "{route:?}"
        );
    }
    let to = key(&sim, 2);

    let own = whisper(&mut sim, 2, to, WhisperRoute::Auto, None);
    let bad = whisper(
        &mut sim,
        2,
        Bytes::from_static(b"short"),
        WhisperRoute::Auto,
        None,
    );
    settle(&mut sim);
    assert_eq!(finished(&sim, 2, own), [Err(WhisperError::ToSelf)]);
    assert_eq!(finished(&sim, 2, bad), [Err(WhisperError::InvalidKey)]);
}

/// A WHISPER from `origin` to `dest`'s key, sealed (encrypted to `dest`,
/// signed by `origin`) unless `plain`.
fn routed(sim: &Sim, origin: usize, dest: usize, plain: bool) -> Message {
    let payload = Payload::Whisper(Whisper {
        request_id: 77,
        data: Value::from("psst"),
    });
    let mut msg =
        Message::from_payload(Profile::Ed25519, key(sim, origin), key(sim, dest), &payload)
            .unwrap();
    if !plain {
        let seed = sim.config().seed();
        let from = node_keypair(seed, origin).unwrap();
        let to = node_keypair(seed, dest).unwrap();
        seal_message(
            &from,
            to.public(),
            &mut ChaCha20Rng::seed_from_u64(5),
            &mut msg,
        )
        .unwrap();
    }
    msg
}

fn common_prefix(a: &Address, b: &Address) -> u32 {
    let d = a.distance(b).0;
    let zeros = d.iter().take_while(|x| **x == 0).count() as u32;
    zeros * 8 + d.get(zeros as usize).map_or(0, |x| x.leading_zeros())
}

#[test]
fn hostile_routed_whispers_are_refused() {
    let mut sim = network(12, 102, |c| {
        c.set_local_network(true);
        c.set_max_whisper_routes(1, 1);
    });
    let (_, at_1) = sim.connect(0, 1);
    settle(&mut sim);
    let address = |i: usize| sim.node(i).local_address();
    // A destination node 1 is no closer to than node 0: refused back.
    let farther = (2..12)
        .find(|&d| {
            common_prefix(&address(1), &address(d)) <= common_prefix(&address(0), &address(d))
        })
        .expect("some destination");
    let closer = (2..12)
        .find(|&d| {
            common_prefix(&address(1), &address(d)) > common_prefix(&address(0), &address(d))
        })
        .expect("some destination");
    // Node 1 is connected to `closer`, so it can take a whisper there.
    sim.connect(1, closer);
    settle(&mut sim);
    let msgs = [
        routed(&sim, 0, farther, false),
        routed(&sim, 0, closer, true),
        routed(&sim, 0, closer, false),
        // A second whisper to relay overflows node 1's single route.
        {
            let mut again = routed(&sim, 0, closer, true);
            let seed = sim.config().seed();
            let from = node_keypair(seed, 0).unwrap();
            let to = node_keypair(seed, closer).unwrap();
            seal_message(
                &from,
                to.public(),
                &mut ChaCha20Rng::seed_from_u64(6),
                &mut again,
            )
            .unwrap();
            again
        },
    ];
    sim.inject(1, at_1, &encode(&msgs));
    run_for(&mut sim, Duration::from_millis(100));
    assert_eq!(
        nack_codes(&sim, 1, 0),
        [
            NackCode::Undeliverable,
            NackCode::Malformed,
            NackCode::RateLimited
        ]
    );
    // The relayed one was delivered, and its ACK went back along the
    // route, which is gone.
    assert_eq!(received(&sim, closer).len(), 1);
    assert_eq!(sim.node(1).stats().whispers_relayed, 1);
    assert_eq!(sim.node(1).whisper_routes(), 0);
    assert_eq!(sim.node(1).stats().whispers_undeliverable, 1);
    assert!(received(&sim, 1).is_empty());
}

#[test]
fn answers_for_whispers_never_sent_change_nothing() {
    let mut sim = network(2, 103, |c| {
        c.set_local_network(true);
    });
    let (_, at_1) = sim.connect(0, 1);
    settle(&mut sim);
    let to = key(&sim, 0);

    let id = whisper(&mut sim, 1, to, WhisperRoute::Direct, Some(false));
    // The whisper reached node 0, whose ACK is on its way back.
    run_for(&mut sim, Duration::from_millis(1));
    let request_id = sim
        .messages()
        .iter()
        .find_map(|m| match &m.payload {
            Some(Payload::Whisper(w)) => Some(w.request_id),
            _ => None,
        })
        .unwrap();
    // Node 0 answers a request id node 1 never used, and the right one
    // with a wrong digest: neither resolves the whisper.
    let forged = |request_id| {
        message(
            &sim,
            0,
            1,
            &Payload::Ack(Ack {
                request_id,
                result: AckResult::Whisper { digest: [7; 32] },
            }),
        )
    };
    let before = sim.node(1).stats().unsolicited;
    sim.inject(1, at_1, &encode(&[forged(999_999), forged(request_id)]));
    assert_eq!(sim.node(1).stats().unsolicited, before + 2);
    assert!(finished(&sim, 1, id).is_empty());
    settle(&mut sim);
    // The real answer resolves it, once.
    assert!(matches!(finished(&sim, 1, id)[..], [Ok(_)]));
}

#[test]
fn dial_out_only_nodes_whisper_each_other_through_their_relays() {
    let n = 30;
    let listening = 20;
    let mut config = shoutnet_sim::SimConfig::new(n, 104);
    config
        .set_latency(shoutnet_sim::Latency::Constant(Duration::from_millis(1)))
        .set_configure(std::sync::Arc::new(move |i, engine| {
            engine.set_local_network(true);
            engine.kad_mut().set_k(5);
            if i >= listening {
                engine.set_listen(Vec::new());
            }
        }));
    let mut sim = Sim::new(config, support::epoch()).unwrap();
    bootstrap_all(&mut sim);
    // Kept connections form, relays are asked, records published.
    run_for(&mut sim, Duration::from_secs(60));
    for i in listening..n {
        assert!(sim.node(i).own_relays() >= 1, "node {i} has a relay");
    }
    let relayed: usize = (0..listening).map(|i| sim.node(i).relayed_nodes()).sum();
    assert!(relayed >= n - listening);
    for (route, from, to) in [
        (WhisperRoute::Iterative, n - 1, n - 2),
        (WhisperRoute::Recursive, n - 3, n - 4),
        (WhisperRoute::Auto, 2, n - 5),
    ] {
        let before = received(&sim, to).len();
        let dest = key(&sim, to);
        let id = whisper(&mut sim, from, dest, route, None);
        settle(&mut sim);
        assert!(
            matches!(finished(&sim, from, id)[..], [Ok(_)]),
            "{route:?} {from} → {to}: {:?}",
            finished(&sim, from, id)
        );
        assert_eq!(received(&sim, to).len(), before + 1);
    }
}

/// Node 0 whispers directly to node 1, which crashed silently; with
/// `keepalive` nothing notices the dead connection for that long.
fn whisper_to_the_dead(keepalive: Duration) -> (Sim, CommandId) {
    let mut sim = network(2, 105, move |c| {
        c.set_local_network(true).set_keepalive(keepalive);
    });
    sim.connect(0, 1);
    settle(&mut sim);
    sim.crash_silently(1);
    let to = key(&sim, 1);
    let id = whisper(&mut sim, 0, to, WhisperRoute::Direct, None);
    (sim, id)
}

#[test]
fn a_whisper_nobody_answers_times_out_once() {
    let (mut sim, id) = whisper_to_the_dead(Duration::from_secs(600));
    run_for(&mut sim, Duration::from_secs(29));
    assert!(finished(&sim, 0, id).is_empty(), "not before the timeout");
    run_for(&mut sim, Duration::from_secs(60));
    assert_eq!(finished(&sim, 0, id), [Err(WhisperError::TimedOut)]);
}

#[test]
fn a_whisper_whose_connection_dies_fails_at_once() {
    // The default keepalive finds the connection dead 20 s later: the
    // whisper that left on it fails then, not at its 30 s timeout.
    let (mut sim, id) = whisper_to_the_dead(Duration::from_secs(30));
    run_for(&mut sim, Duration::from_secs(25));
    assert_eq!(finished(&sim, 0, id), [Err(WhisperError::Undeliverable)]);
    run_for(&mut sim, Duration::from_secs(60));
    assert_eq!(finished(&sim, 0, id).len(), 1, "once");
}

#[test]
fn a_direct_whisper_refused_fails_at_once_by_its_digest() {
    // Node 1 takes one whisper per connection a second, so the second of
    // two sent at once is refused RATE_LIMITED: the refusal names the
    // whisper by digest (§8.6), and the origin fails it then, not after
    // the 30 s timeout.
    let mut sim = network(4, 71, |c| {
        c.set_local_network(true);
        c.kad_mut().set_k(5);
        let mut rates = shoutnet_engine::RequestRates::default();
        rates.whispers = shoutnet_engine::Rate::new(1, 1);
        c.set_request_rates(rates);
    });
    bootstrap_all(&mut sim);
    let to = key(&sim, 1);
    let first = whisper(&mut sim, 0, to.clone(), WhisperRoute::Direct, Some(true));
    let second = whisper(&mut sim, 0, to, WhisperRoute::Direct, Some(true));
    run_for(&mut sim, Duration::from_secs(2));
    assert!(matches!(finished(&sim, 0, first)[..], [Ok(_)]));
    assert_eq!(
        finished(&sim, 0, second),
        [Err(WhisperError::Refused(NackCode::RateLimited))]
    );
}

/// In a joined network, an origin, a destination it has no routing-table
/// entry for, and the node it would relay through: the closest entry of its
/// table sharing a longer prefix with the destination (§9.9), connected.
fn relayed_through(sim: &Sim) -> (usize, usize, usize) {
    let address = |i: usize| sim.node(i).local_address();
    let index = |a: &Address| (0..sim.len()).find(|&i| address(i) == *a).unwrap();
    for origin in 0..sim.len() {
        let node = sim.node(origin);
        let dest = unconnected(sim, origin, WhisperRoute::Recursive);
        let target = address(dest);
        let own = common_prefix(&address(origin), &target);
        let hop = node
            .routing_table()
            .closest(&target, 5)
            .into_iter()
            .map(|(a, _)| a)
            .find(|a| common_prefix(a, &target) > own);
        if let Some(hop) = hop.filter(|hop| node.is_connected(hop)) {
            return (origin, dest, index(&hop));
        }
    }
    panic!("no origin relays through a connected node");
}

#[test]
fn an_auto_whisper_whose_relay_fails_is_sent_again_after_a_lookup() {
    for (route, expected) in [
        // The node chose the route: a lookup of the destination, then the
        // same message again.
        (WhisperRoute::Auto, Ok(WhisperRoute::Iterative)),
        // The caller chose it: the failure is the answer.
        (WhisperRoute::Recursive, Err(WhisperError::Undeliverable)),
    ] {
        let mut sim = joined(24, 106);
        let (origin, dest, hop) = relayed_through(&sim);
        let to = key(&sim, dest);

        let id = whisper(&mut sim, origin, to, route, None);
        // The relay dies before the whisper reaches it; its peers see the
        // close one link latency later.
        sim.crash(hop);
        settle(&mut sim);
        let result = finished(&sim, origin, id);
        assert_eq!(
            result
                .iter()
                .map(|r| r.map(|d| d.route))
                .collect::<Vec<_>>(),
            [expected],
            "{route:?}: resolved once"
        );
        let fallbacks = sim.node(origin).stats().whisper_fallbacks;
        assert_eq!(fallbacks, u64::from(route == WhisperRoute::Auto));
        let got = received(&sim, dest);
        assert_eq!(got.len(), usize::from(expected.is_ok()), "{route:?}");
    }
}

#[test]
fn a_whisper_arriving_twice_is_answered_twice_and_delivered_once() {
    let mut sim = network(2, 107, |c| {
        c.set_local_network(true);
    });
    let (_, at_1) = sim.connect(0, 1);
    settle(&mut sim);
    // The same signed, encrypted whisper twice, as a retry whose first
    // copy arrived would bring it (or an attacker replaying it).
    let msg = routed(&sim, 0, 1, false);
    sim.inject(1, at_1, &encode(&[msg.clone(), msg]));
    run_for(&mut sim, Duration::from_millis(100));
    assert_eq!(received(&sim, 1).len(), 1, "delivered once");
    assert_eq!(sim.node(1).stats().whispers_repeated, 1);
    let acks = sim
        .messages()
        .iter()
        .filter(|m| {
            m.from == 1
                && matches!(
                    m.payload,
                    Some(Payload::Ack(Ack {
                        result: AckResult::Whisper { .. },
                        ..
                    }))
                )
        })
        .count();
    assert_eq!(acks, 2, "answered each time");
}

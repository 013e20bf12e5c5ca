//! Connection upkeep (docs/design.md §13's ℓ, docs/PROTOCOL.md §9):
//! keepalives, kept and transient outbound connections, idle closes, dial
//! failures, and liveness checks before evictions. The simulator checks
//! after every step that no node has more than ℓ kept or `max_transient`
//! transient outbound connections (`SimConfig::set_check_limits`).

mod support;

use std::time::Duration;

use shoutnet_crypto::Address;
use shoutnet_engine::{CloseReason, Command, Event};
use shoutnet_sim::{Sim, addr};
use shoutnet_wire::Opcode;
use support::{
    bootstrap_all, brute_force, closes, dials, lookup_result, network, run_for, sent, settle,
    two_connected,
};

/// `n` nodes with k = 5, ℓ = 2 and 3 transient slots, bootstrapped one
/// after the other.
fn small_network(n: usize, seed: u64) -> Sim {
    let mut sim = network(n, seed, |config| {
        config
            .set_max_outbound(2)
            .set_max_transient(3)
            .kad_mut()
            .set_k(5);
    });
    bootstrap_all(&mut sim);
    sim
}

#[test]
fn keepalives_keep_idle_connections_open() {
    let (mut sim, _, _) = two_connected();
    run_for(&mut sim, Duration::from_secs(200));
    assert!(closes(&sim).is_empty());
    assert!(!sent(&sim, 0, 1, Opcode::Ping).is_empty());
    assert_eq!(sim.node(0).connection_count(), 1);
}

#[test]
fn unanswered_keepalive_closes_the_connection_and_evicts_the_peer() {
    let (mut sim, _, _) = two_connected();
    let peer = sim.node(1).local_address();
    assert!(sim.node(0).routing_table().contains(&peer));
    // Node 1 goes silent: everything it sends is lost.
    sim.set_rewrite(1, |_| None);
    run_for(&mut sim, Duration::from_secs(60));
    assert!(
        closes(&sim)
            .iter()
            .any(|&(node, _, reason)| node == 0 && reason == CloseReason::KeepaliveTimedOut),
        "{:?}",
        closes(&sim)
    );
    assert!(
        !sim.node(0).routing_table().contains(&peer),
        "a failed ping evicts the entry"
    );
}

#[test]
fn bootstrap_keeps_l_connections_and_closes_idle_transient_ones() {
    let mut sim = small_network(12, 10);
    run_for(&mut sim, Duration::from_secs(60));
    for i in 0..sim.len() {
        assert_eq!(
            sim.node(i).outbound_counts(),
            (2, 0),
            "node {i}: ℓ = 2 kept, no transient left after the idle time"
        );
    }
    assert!(
        (0..sim.len()).any(|i| sim.node(i).stats().idle_closed > 0),
        "transient connections were used and closed"
    );
    assert!(
        closes(&sim)
            .iter()
            .any(|&(_, _, reason)| reason == CloseReason::Idle)
    );
}

#[test]
fn a_lost_kept_connection_is_replaced_and_the_dead_peer_evicted() {
    let mut sim = small_network(10, 11);
    run_for(&mut sim, Duration::from_secs(30));
    // Find a node and one of its kept peers; take that peer's host down.
    let (node, dead) = (1..sim.len())
        .find_map(|i| {
            let peer = sim.events(i).find_map(|e| match e {
                Event::Connected { peer, .. } => Some(*peer),
                _ => None,
            })?;
            let j = (0..sim.len()).find(|&j| sim.node(j).local_address() == peer)?;
            sim.node(i).is_connected(&peer).then_some((i, j))
        })
        .expect("some node has a connected peer");
    let dead_address = sim.node(dead).local_address();
    // Nothing closes: its peers notice only through their keepalives.
    sim.crash_silently(dead);
    // Keepalive (30 s idle) plus its request timeout (10 s), then the
    // maintenance dial.
    run_for(&mut sim, Duration::from_secs(120));
    assert!(!sim.node(node).is_connected(&dead_address));
    assert!(!sim.node(node).routing_table().contains(&dead_address));
    assert_eq!(sim.node(node).outbound_counts().0, 2, "ℓ kept again");
}

#[test]
fn a_failed_dial_fails_the_waiting_lookup_at_once() {
    let mut sim = small_network(8, 12);
    run_for(&mut sim, Duration::from_secs(30));
    // Every node that node 0 has no connection to goes down: its lookup
    // gets answers from its kept peers and fails every dial.
    let down: Vec<usize> = (1..sim.len())
        .filter(|&i| !sim.node(0).is_connected(&sim.node(i).local_address()))
        .collect();
    assert!(!down.is_empty());
    for &i in &down {
        // A crashed process: its host refuses dials at once.
        sim.crash(i);
    }
    let before = sim.node(0).stats().dial_failures;
    let start = sim.now();
    let target = Address([0x42; 32]);
    let id = sim.command(0, Command::FindNode { target });
    run_for(&mut sim, Duration::from_secs(1));
    let closest = lookup_result(&sim, 0, id).expect("finished within a second");
    assert!(
        sim.now() - start < Duration::from_secs(2),
        "no 10 s timeout"
    );
    let down_addresses: Vec<Address> = down.iter().map(|&i| sim.node(i).local_address()).collect();
    assert!(closest.iter().all(|a| !down_addresses.contains(a)));
    assert!(sim.node(0).stats().dial_failures > before);
}

#[test]
fn requests_wait_for_a_free_transient_slot() {
    let mut sim = network(30, 13, |config| {
        config.set_max_transient(1).kad_mut().set_k(5);
    });
    bootstrap_all(&mut sim);
    for (searcher, t) in [(29, 1u8), (5, 2), (17, 3)] {
        let target = Address([t.wrapping_mul(71); 32]);
        let id = sim.command(searcher, Command::FindNode { target });
        settle(&mut sim);
        assert_eq!(
            lookup_result(&sim, searcher, id),
            Some(brute_force(&sim, searcher, &target, 5)),
            "searcher {searcher}"
        );
    }
}

#[test]
fn a_stale_entry_is_pinged_before_a_newcomer_takes_its_place() {
    // k = 1 and no grace period: every newcomer to a full bucket pings.
    let mut sim = network(8, 14, |config| {
        config.kad_mut().set_k(1).set_stale_after(Duration::ZERO);
    });
    let bucket = |sim: &Sim, i: usize| {
        sim.node(0)
            .routing_table()
            .bucket_index(&sim.node(i).local_address())
    };
    // Two nodes in the same bucket of node 0.
    let (a, b) = (1..8)
        .flat_map(|a| (a + 1..8).map(move |b| (a, b)))
        .find(|&(a, b)| bucket(&sim, a) == bucket(&sim, b))
        .expect("8 random addresses share a bucket");
    let (a_addr, b_addr) = (sim.node(a).local_address(), sim.node(b).local_address());
    sim.connect(a, 0);
    settle(&mut sim);
    sim.connect(b, 0);
    settle(&mut sim);
    // `a` answered the ping: it stays, `b` waits as a replacement.
    assert!(sim.node(0).routing_table().contains(&a_addr));
    assert!(sim.node(0).routing_table().is_replacement(&b_addr));
    assert!(
        !sent(&sim, 0, a, Opcode::Ping).is_empty(),
        "a liveness ping"
    );

    // Now `a` is down; the next newcomer's ping finds it dead.
    let newcomer = (1..8)
        .find(|&i| i != a && i != b && bucket(&sim, i) == bucket(&sim, a))
        .unwrap_or(b);
    // Its host is cut off without closing anything.
    sim.crash_silently(a);
    if newcomer == b {
        // `b` is the only other node in that bucket: let it come back.
        sim.connect(b, 0);
    } else {
        sim.connect(newcomer, 0);
    }
    run_for(&mut sim, Duration::from_secs(30));
    assert!(!sim.node(0).routing_table().contains(&a_addr), "evicted");
    assert_eq!(
        sim.node(0)
            .routing_table()
            .bucket_len(bucket(&sim, a).unwrap()),
        1,
        "a replacement took its place"
    );
}

#[test]
fn seeds_are_not_kept_beyond_the_bootstrap() {
    let mut sim = network(4, 15, |config| {
        config.set_max_outbound(1);
    });
    sim.command(
        3,
        Command::Bootstrap {
            seeds: vec![addr(0), addr(1), addr(2)],
        },
    );
    run_for(&mut sim, Duration::from_secs(60));
    let dials = dials(&sim, 3);
    assert!(dials >= 3, "every seed dialled: {dials}");
    assert!(
        sim.events(3)
            .any(|e| matches!(e, Event::BootstrapFinished { .. }))
    );
    assert_eq!(sim.node(3).outbound_counts(), (1, 0));
}

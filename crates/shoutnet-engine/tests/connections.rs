//! Connection upkeep (DESIGN R10's ℓ, docs/PROTOCOL.md §9): keepalives,
//! kept and transient outbound connections, idle closes, dial failures,
//! and liveness checks before evictions. The support driver checks after
//! every step that no node has more than ℓ kept or `max_transient`
//! transient outbound connections.

mod support;

use std::time::Duration;

use shoutnet_crypto::Address;
use shoutnet_engine::{Command, Event};
use shoutnet_wire::Opcode;
use support::{Cluster, addr};

/// `n` nodes with k = 5, ℓ = 2 and 3 transient slots, bootstrapped one
/// after the other.
fn small_network(n: usize, seed: u64) -> Cluster {
    let mut c = Cluster::new(n, seed, |config| {
        config.kad.k = 5;
        config.max_outbound = 2;
        config.max_transient = 3;
    });
    c.bootstrap_all();
    c
}

#[test]
fn keepalives_keep_idle_connections_open() {
    let (mut c, _, _) = Cluster::two_connected();
    c.run_for(Duration::from_secs(200));
    assert!(c.closes.is_empty());
    assert!(!c.sent(0, 1, Opcode::Ping).is_empty());
    assert_eq!(c.nodes[0].connection_count(), 1);
}

#[test]
fn unanswered_keepalive_closes_the_connection_and_evicts_the_peer() {
    let (mut c, _, _) = Cluster::two_connected();
    let peer = c.nodes[1].local_address();
    assert!(c.nodes[0].routing_table().contains(&peer));
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
    assert!(
        !c.nodes[0].routing_table().contains(&peer),
        "a failed ping evicts the entry"
    );
}

#[test]
fn bootstrap_keeps_l_connections_and_closes_idle_transient_ones() {
    let mut c = small_network(12, 10);
    c.run_for(Duration::from_secs(60));
    for (i, node) in c.nodes.iter().enumerate() {
        assert_eq!(
            node.outbound_counts(),
            (2, 0),
            "node {i}: ℓ = 2 kept, no transient left after the idle time"
        );
    }
    assert!(
        c.nodes.iter().any(|n| n.stats().idle_closed > 0),
        "transient connections were used and closed"
    );
    assert!(
        c.closes
            .iter()
            .any(|(_, _, reason)| reason == "idle transient connection")
    );
}

#[test]
fn a_lost_kept_connection_is_replaced_and_the_dead_peer_evicted() {
    let mut c = small_network(10, 11);
    c.run_for(Duration::from_secs(30));
    // Find a node and one of its kept peers; take that peer's host down.
    let (node, dead) = (1..c.nodes.len())
        .find_map(|i| {
            let peer = c.events_of(i).into_iter().find_map(|e| match e {
                Event::Connected { peer, .. } => Some(peer),
                _ => None,
            })?;
            let j = (0..c.nodes.len()).find(|&j| c.nodes[j].local_address() == peer)?;
            c.nodes[i].is_connected(&peer).then_some((i, j))
        })
        .expect("some node has a connected peer");
    let dead_address = c.nodes[dead].local_address();
    c.take_down(dead);
    // Keepalive (30 s idle) plus its request timeout (10 s), then the
    // maintenance dial.
    c.run_for(Duration::from_secs(120));
    assert!(!c.nodes[node].is_connected(&dead_address));
    assert!(!c.nodes[node].routing_table().contains(&dead_address));
    assert_eq!(c.nodes[node].outbound_counts().0, 2, "ℓ kept again");
}

#[test]
fn a_failed_dial_fails_the_waiting_lookup_at_once() {
    let mut c = small_network(8, 12);
    c.run_for(Duration::from_secs(30));
    // Every node that node 0 has no connection to goes down: its lookup
    // gets answers from its kept peers and fails every dial.
    let down: Vec<usize> = (1..c.nodes.len())
        .filter(|&i| !c.nodes[0].is_connected(&c.nodes[i].local_address()))
        .collect();
    assert!(!down.is_empty());
    for &i in &down {
        c.take_down(i);
    }
    let before = c.nodes[0].stats().dial_failures;
    let start = c.now;
    let target = Address([0x42; 32]);
    let id = c.command(0, Command::FindNode { target });
    c.run_for(Duration::from_secs(1));
    let closest = c.lookup_result(0, id).expect("finished within a second");
    assert!(c.now - start < Duration::from_secs(2), "no 10 s timeout");
    let down_addresses: Vec<Address> = down.iter().map(|&i| c.nodes[i].local_address()).collect();
    assert!(closest.iter().all(|a| !down_addresses.contains(a)));
    assert!(c.nodes[0].stats().dial_failures > before);
}

#[test]
fn requests_wait_for_a_free_transient_slot() {
    let mut c = Cluster::new(30, 13, |config| {
        config.kad.k = 5;
        config.max_transient = 1;
    });
    c.bootstrap_all();
    for (searcher, t) in [(29, 1u8), (5, 2), (17, 3)] {
        let target = Address([t.wrapping_mul(71); 32]);
        let id = c.command(searcher, Command::FindNode { target });
        c.run_until_idle();
        assert_eq!(
            c.lookup_result(searcher, id),
            Some(c.brute_force(searcher, &target, 5)),
            "searcher {searcher}"
        );
    }
}

#[test]
fn a_stale_entry_is_pinged_before_a_newcomer_takes_its_place() {
    // k = 1 and no grace period: every newcomer to a full bucket pings.
    let mut c = Cluster::new(8, 14, |config| {
        config.kad.k = 1;
        config.kad.stale_after = Duration::ZERO;
    });
    let bucket = |c: &Cluster, i: usize| {
        c.nodes[0]
            .routing_table()
            .bucket_index(&c.nodes[i].local_address())
    };
    // Two nodes in the same bucket of node 0.
    let (a, b) = (1..8)
        .flat_map(|a| (a + 1..8).map(move |b| (a, b)))
        .find(|&(a, b)| bucket(&c, a) == bucket(&c, b))
        .expect("8 random addresses share a bucket");
    let (a_addr, b_addr) = (c.nodes[a].local_address(), c.nodes[b].local_address());
    c.connect(a, 0);
    c.run_until_idle();
    c.connect(b, 0);
    c.run_until_idle();
    // `a` answered the ping: it stays, `b` waits as a replacement.
    assert!(c.nodes[0].routing_table().contains(&a_addr));
    assert!(c.nodes[0].routing_table().is_replacement(&b_addr));
    assert!(
        c.sent(0, a, Opcode::Ping).len() >= 2,
        "a hello and a liveness ping"
    );

    // Now `a` is down; the next newcomer's ping finds it dead.
    let newcomer = (1..8)
        .find(|&i| i != a && i != b && bucket(&c, i) == bucket(&c, a))
        .unwrap_or(b);
    c.take_down(a);
    if newcomer == b {
        // `b` is the only other node in that bucket: let it come back.
        c.connect(b, 0);
    } else {
        c.connect(newcomer, 0);
    }
    c.run_for(Duration::from_secs(30));
    assert!(!c.nodes[0].routing_table().contains(&a_addr), "evicted");
    assert_eq!(
        c.nodes[0]
            .routing_table()
            .bucket_len(bucket(&c, a).unwrap()),
        1,
        "a replacement took its place"
    );
}

#[test]
fn seeds_are_not_kept_beyond_the_bootstrap() {
    let mut c = Cluster::new(4, 15, |config| config.max_outbound = 1);
    c.command(
        3,
        Command::Bootstrap {
            seeds: vec![addr(0), addr(1), addr(2)],
        },
    );
    c.run_for(Duration::from_secs(60));
    let dials = c
        .trace
        .iter()
        .filter(|l| l.contains("node 3 dials"))
        .count();
    assert!(dials >= 3, "every seed dialled: {dials}");
    assert!(
        c.events_of(3)
            .iter()
            .any(|e| matches!(e, Event::BootstrapFinished { .. }))
    );
    assert_eq!(c.nodes[3].outbound_counts(), (1, 0));
}

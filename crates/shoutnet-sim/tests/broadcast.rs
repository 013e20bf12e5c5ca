//! Broadcast in whole simulated networks (docs/PROTOCOL.md §8.5, §9.4,
//! §9.7): every node delivers every `SHOUT` once, over kept connections,
//! within the seed's bound; `SPEAK` stays with direct peers; dial-out-only
//! nodes, partitions and the rsa2048 profile.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use shoutnet_crypto::Address;
use shoutnet_engine::Command;
use shoutnet_sim::scenario::broadcast::{self, BroadcastParams, BroadcastReport, seed_bound};
use shoutnet_sim::scenario::join::{NetworkParams, join};
use shoutnet_sim::{Latency, Sim};
use shoutnet_wire::Value;
use support::epoch;

fn params(n: usize, seed: u64, l: usize, shouts: usize) -> BroadcastParams {
    let mut params = BroadcastParams::new(n, seed, l, shouts);
    params.network.k = 8;
    params.network.batch = 20;
    params
}

/// Every broadcast reached every live node once, each over the kept graph
/// exactly as the topology predicts, within the seed's bound.
fn assert_flooded(report: &BroadcastReport) {
    let n = report.params.network.n;
    let l = report.params.l();
    assert!(!report.samples.is_empty());
    for (i, s) in report.samples.iter().enumerate() {
        assert!(
            s.complete(),
            "n {n} ℓ {l} #{i}: {} of {}",
            s.delivered,
            s.live - 1
        );
        assert_eq!(s.delivered_twice, 0, "n {n} ℓ {l} #{i}");
        assert_eq!(s.transmissions, report.topology_bound(), "n {n} ℓ {l} #{i}");
        assert!(s.transmissions <= seed_bound(n, l), "n {n} ℓ {l} #{i}");
    }
    assert_eq!(report.engines.shouts_off_kept, 0);
    assert_eq!(report.engines.shouts_forged, 0);
    assert_eq!(report.engines.shouts_over_origin_budget, 0);
}

#[test]
fn every_node_delivers_every_shout_once_within_the_bound() {
    for l in [1, 2, 4] {
        let report =
            broadcast::run(&params(150, 40 + l as u64, l, 6), epoch(), &mut |_| {}).unwrap();
        assert_flooded(&report);
        assert_eq!(report.short_of_kept, 0, "ℓ {l}");
        // ℓ kept connections a node: E is at most ℓ·n.
        assert!(report.kept_degrees <= 2 * (l * 150) as u64, "ℓ {l}");
    }
}

#[test]
fn below_the_crossover_the_network_saturates() {
    let report = broadcast::run(&params(8, 41, 4, 4), epoch(), &mut |_| {}).unwrap();
    // n = 8 < 2ℓ + 1 = 9: nodes keep most others (a complete graph would
    // be 56 degrees); copies stay within the saturated (n − 1)².
    assert_flooded(&report);
    assert!(report.kept_degrees > 2 * 8 * 2, "{}", report.kept_degrees);
    assert!(report.max_transmissions() <= 49);
}

#[test]
fn dial_out_only_nodes_hear_every_shout_through_the_listener() {
    // One listening node, 200 that only dial out: their kept connections
    // all go to it, and it floods to them.
    let mut p = params(201, 42, 4, 8);
    p.network.seeds = 1;
    p.network.dial_out_only = 200;
    let report = broadcast::run(&p, epoch(), &mut |_| {}).unwrap();
    assert_flooded(&report);
    assert_eq!(report.kept_degrees, 2 * 200, "a star around the listener");
}

#[test]
fn the_rsa2048_profile_floods_too() {
    let mut p = params(8, 43, 2, 3);
    p.network.k = 3;
    p.network.seeds = 2;
    p.network.keys = Some(support::rsa_fixture_keys());
    let report = broadcast::run(&p, epoch(), &mut |_| {}).unwrap();
    assert_flooded(&report);
}

/// Node `origin` shouts; returns the nodes that delivered it within 10 s.
fn shout_from(sim: &mut Sim, origin: usize) -> BTreeSet<usize> {
    let _ = sim.take_broadcasts();
    sim.command(
        origin,
        Command::Shout {
            data: Value::Str(format!("from {origin}")),
        },
    );
    let end = sim.now() + Duration::from_secs(10);
    sim.run_until(end);
    sim.take_broadcasts()
        .into_iter()
        .filter(|b| b.from.is_some())
        .map(|b| b.node)
        .collect()
}

#[test]
fn a_partition_heals_and_later_shouts_reach_everyone() {
    let mut network = NetworkParams::new(60, 44);
    network.k = 8;
    network.max_outbound = 3;
    network.latency = Latency::Constant(Duration::from_millis(20));
    let mut joined = join(&network, epoch(), &mut |_| {}).unwrap();
    let sim = &mut joined.sim;
    let end = sim.now() + Duration::from_secs(30);
    sim.run_until(end);
    let everyone: BTreeSet<usize> = (1..60).collect();
    assert_eq!(shout_from(sim, 0), everyone);

    // Split in two; the kept connections across time out and are replaced
    // on each side.
    let a: Vec<usize> = (0..30).collect();
    let b: Vec<usize> = (30..60).collect();
    sim.partition(&a, &b);
    let end = sim.now() + Duration::from_secs(120);
    sim.run_until(end);
    let heard = shout_from(sim, 0);
    assert!(heard.iter().all(|i| *i < 30), "nothing crosses: {heard:?}");
    assert_eq!(heard.len(), 29, "side A still floods: {heard:?}");

    sim.heal();
    let end = sim.now() + Duration::from_secs(600);
    sim.run_until(end);
    for origin in [0, 45] {
        let expected: BTreeSet<usize> = (0..60).filter(|i| *i != origin).collect();
        assert_eq!(shout_from(sim, origin), expected, "from {origin}");
    }
}

#[test]
fn speak_reaches_direct_peers_only_and_is_never_forwarded() {
    let mut network = NetworkParams::new(40, 45);
    network.k = 8;
    let mut joined = join(&network, epoch(), &mut |_| {}).unwrap();
    let sim = &mut joined.sim;
    let end = sim.now() + Duration::from_secs(30);
    sim.run_until(end);
    let speaker = 7;
    let address: Address = sim.node(speaker).local_address();
    let peers: BTreeSet<usize> = (0..40)
        .filter(|&i| i != speaker && sim.node(i).is_connected(&address))
        .collect();
    assert!(peers.len() >= 4, "{peers:?}");
    assert!(peers.len() < 39, "not everyone is a direct peer: {peers:?}");
    let before: Vec<u64> = (0..40)
        .map(|i| sim.node(i).stats().speaks_delivered)
        .collect();
    sim.command(
        speaker,
        Command::Speak {
            data: Value::Str("hello, neighbours".into()),
        },
    );
    let end = sim.now() + Duration::from_secs(10);
    sim.run_until(end);
    let heard: Vec<(usize, u64)> = (0..40)
        .map(|i| (i, sim.node(i).stats().speaks_delivered - before[i]))
        .filter(|&(_, got)| got > 0)
        .collect();
    assert!(
        heard.iter().all(|&(_, got)| got == 1),
        "once each: {heard:?}"
    );
    let heard: BTreeSet<usize> = heard.into_iter().map(|(i, _)| i).collect();
    assert_eq!(heard, peers);
}

//! Deterministic simulation tests: determinism, bootstrap, lookups with and
//! without loss, crashes, restarts and partitions.

use std::time::{Duration, Instant};

use shoutnet_engine::{Command, Event};
use shoutnet_sim::scenario::lookup::{self, LookupParams};
use shoutnet_sim::{Latency, Sim, SimConfig, addr};

fn epoch() -> Instant {
    #[allow(clippy::disallowed_methods)] // The one clock read: the virtual epoch.
    Instant::now()
}

fn config(n: usize, seed: u64) -> SimConfig {
    let mut config = SimConfig::new(n, seed);
    config.k = 5;
    config.latency = Latency::Uniform {
        min: Duration::from_millis(5),
        max: Duration::from_millis(80),
    };
    config.max_steps = 5_000_000;
    config
}

/// Every node but 0 bootstraps through nodes 0 and 1, ten at a time.
fn bootstrapped(config: SimConfig) -> Sim {
    let n = config.n;
    let mut sim = Sim::new(config, epoch()).unwrap();
    for i in 1..n {
        let seeds = (0..2.min(i)).map(addr).collect();
        sim.command(i, Command::Bootstrap { seeds });
        if i % 10 == 0 {
            sim.run_until(sim.now() + Duration::from_millis(100));
        }
    }
    let goal = n as u64 - 1;
    sim.run_while(5_000_000, |s| s.stats().bootstraps_finished < goal)
        .unwrap();
    sim
}

#[test]
fn same_seed_same_trace_other_seed_other_trace() {
    let a = bootstrapped(config(30, 11));
    let b = bootstrapped(config(30, 11));
    assert!(!a.log().is_empty());
    assert_eq!(a.trace_hash(), b.trace_hash());
    assert_eq!(a.stats(), b.stats());
    let c = bootstrapped(config(30, 12));
    assert_ne!(a.trace_hash(), c.trace_hash());
}

#[test]
fn lossy_runs_are_deterministic_too() {
    let mut cfg = config(25, 5);
    cfg.loss = 0.1;
    cfg.bandwidth = Some(1_000_000);
    let a = bootstrapped(cfg.clone());
    let b = bootstrapped(cfg);
    assert!(a.stats().lost > 0);
    assert_eq!(a.trace_hash(), b.trace_hash());
}

#[test]
fn bootstrap_fills_every_routing_table() {
    let sim = bootstrapped(config(80, 3));
    for i in 0..sim.len() {
        assert!(!sim.node(i).routing_table().is_empty(), "node {i}");
        assert!(sim.node(i).connection_count() > 0, "node {i}");
    }
    assert_eq!(sim.stats().bootstraps_finished, 79);
}

fn small_lookup(n: usize, seed: u64, loss: f64) -> lookup::LookupReport {
    let mut params = LookupParams::new(n, seed, 20);
    params.k = 5;
    params.loss = loss;
    params.batch = 10;
    lookup::run(&params, epoch(), &mut |_| {}).unwrap()
}

#[test]
fn lookups_without_faults_find_the_true_k_closest() {
    let report = small_lookup(60, 7, 0.0);
    assert_eq!(report.unfinished, 0);
    assert_eq!(report.samples.len(), 20);
    assert_eq!(report.empty_tables, 0);
    let failed: Vec<_> = report.samples.iter().filter(|s| !s.success).collect();
    assert!(failed.is_empty(), "{failed:?}");
    assert!(
        report
            .samples
            .iter()
            .all(|s| s.hops >= 1 && s.requests >= 1)
    );
}

#[test]
fn lookups_with_ten_percent_loss_still_finish() {
    let report = small_lookup(60, 8, 0.1);
    assert_eq!(report.unfinished, 0);
    assert!(report.stats.lost > 0);
    // Observed: loss drops whole transmissions and the engine never
    // retries, so a lookup whose true-closest peer lost a request, an answer
    // or a handshake message returns without it. At 10% loss only about 10%
    // of these lookups find the exact k closest (seed 8: 2 of 20); every
    // lookup still ends.
    assert!(report.success_rate() < 100.0, "{}", report.success_rate());
}

#[test]
fn scenario_is_deterministic() {
    let a = small_lookup(30, 9, 0.05);
    let b = small_lookup(30, 9, 0.05);
    assert_eq!(a.trace_hash, b.trace_hash);
    assert_eq!(a.samples, b.samples);
}

#[test]
fn a_crashed_nodes_peers_see_it_disconnect() {
    let mut sim = bootstrapped(config(20, 4));
    let victim = 5;
    let victim_addr = sim.node(victim).local_address();
    let peers: Vec<usize> = (0..sim.len())
        .filter(|&i| i != victim)
        .filter(|&i| {
            sim.events(i)
                .any(|e| matches!(e, Event::Connected { peer, .. } if *peer == victim_addr))
        })
        .collect();
    assert!(!peers.is_empty());
    let before = sim.log().len();
    sim.crash(victim);
    assert!(!sim.is_up(victim));
    sim.run_until(sim.now() + Duration::from_secs(2));
    for &p in &peers {
        let saw = sim.log()[before..].iter().any(|e| {
            e.node == p
                && matches!(&e.event, Event::Disconnected { peer: Some(a), .. } if *a == victim_addr)
        });
        assert!(saw, "peer {p} did not see node {victim} go");
    }
    // The crashed node emits nothing.
    assert!(sim.log()[before..].iter().all(|e| e.node != victim));

    // After a restart (same key, fresh engine) it can bootstrap again.
    sim.restart(victim);
    assert!(sim.is_up(victim));
    assert_eq!(sim.node(victim).local_address(), victim_addr);
    sim.command(
        victim,
        Command::Bootstrap {
            seeds: vec![addr(0)],
        },
    );
    sim.run_until(sim.now() + Duration::from_secs(5));
    assert!(sim.node(victim).connection_count() > 0);
    assert!(!sim.node(victim).routing_table().is_empty());
}

#[test]
fn a_partition_drops_traffic_and_heal_restores_it() {
    let mut sim = Sim::new(config(4, 6), epoch()).unwrap();
    sim.partition(&[0, 1], &[2, 3]);
    sim.command(
        2,
        Command::Bootstrap {
            seeds: vec![addr(0)],
        },
    );
    sim.run_until(sim.now() + Duration::from_secs(15));
    assert_eq!(sim.node(2).connection_count(), 0);
    assert!(sim.events(0).next().is_none());
    sim.heal();
    sim.command(
        3,
        Command::Bootstrap {
            seeds: vec![addr(0)],
        },
    );
    sim.run_until(sim.now() + Duration::from_secs(5));
    assert!(sim.node(3).connection_count() > 0);
    assert!(sim.events(0).any(|e| matches!(e, Event::Connected { .. })));
}

#[test]
fn run_bounded_reports_a_livelock() {
    let mut sim = Sim::new(config(2, 2), epoch()).unwrap();
    sim.command(
        1,
        Command::Bootstrap {
            seeds: vec![addr(0)],
        },
    );
    assert!(sim.run_bounded(3).is_err());
    // One connection goes quiet for 30 s between keepalives, past the 20 s
    // horizon. (With many connections opened at different times the
    // keepalives interleave less than 20 s apart and idle never comes.)
    let r = sim.run_bounded(1_000_000);
    assert!(r.is_ok(), "{r:?} at {:?}, {:?}", sim.elapsed(), sim.stats());
}

//! Deterministic simulation tests: determinism, bootstrap, lookups with and
//! without loss, crashes, restarts and partitions.

mod support;

use std::time::{Duration, Instant};

use bytes::Bytes;
use shoutnet_crypto::Address;
use shoutnet_engine::{Command, CommandError, Event, WhisperRoute};
use shoutnet_sim::scenario::lookup::{self, LookupParams};
use shoutnet_sim::{Latency, LossModel, Sim, SimConfig, addr};
use shoutnet_wire::Value;

fn epoch() -> Instant {
    #[allow(clippy::disallowed_methods)] // The one clock read: the virtual epoch.
    Instant::now()
}

fn config(n: usize, seed: u64) -> SimConfig {
    let mut config = SimConfig::new(n, seed);
    config
        .set_k(5)
        .set_latency(Latency::Uniform {
            min: Duration::from_millis(5),
            max: Duration::from_millis(80),
        })
        .set_max_steps(5_000_000);
    config
}

/// Every node but 0 bootstraps through nodes 0 and 1, ten at a time.
fn bootstrapped(config: SimConfig) -> Sim {
    let n = config.n();
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
    cfg.set_loss(0.1).set_bandwidth(Some(1_000_000));
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
    params.network.k = 5;
    params.network.loss = loss;
    params.network.batch = 10;
    lookup::run(&params, epoch(), &mut |_| {}).unwrap()
}

fn failures(report: &lookup::LookupReport) -> Vec<&lookup::LookupSample> {
    report.samples.iter().filter(|s| !s.success).collect()
}

#[test]
fn lookups_without_faults_find_the_true_k_closest() {
    let report = small_lookup(60, 7, 0.0);
    assert_eq!(report.unfinished, 0);
    assert_eq!(report.samples.len(), 20);
    assert_eq!(report.empty_tables, 0);
    assert!(failures(&report).is_empty(), "{:?}", failures(&report));
    assert!(
        report
            .samples
            .iter()
            .all(|s| s.hops >= 1 && s.requests >= 1)
    );
}

/// The scale test, at k = 20: 300 nodes join in batches through
/// three seeds, then random nodes look up random targets. Every lookup
/// finds the brute-force 20 closest within ⌈log2(n)/log2(α)⌉ + 3 hops.
#[test]
fn three_hundred_nodes_find_the_true_twenty_closest() {
    let mut params = LookupParams::new(300, 21, 60);
    params.network.batch = 30;
    let report = lookup::run(&params, epoch(), &mut |_| {}).unwrap();
    assert_eq!(report.empty_tables, 0);
    assert_eq!(report.bootstrap.nodes, 299, "every node bootstrapped");
    assert_eq!(report.unfinished, 0);
    assert!(failures(&report).is_empty(), "{:?}", failures(&report));
    let bound = ((300f64).log2() / 3f64.log2()).ceil() as u32 + 3;
    let worst = report.samples.iter().map(|s| s.hops).max().unwrap_or(0);
    assert!(worst <= bound, "{worst} hops, bound {bound}");
}

#[test]
fn lookups_with_ten_percent_loss_still_find_the_true_k_closest() {
    // TCP-like loss (the default model): lost transmissions come late, in
    // order, and lost dials are retried, so only time is lost.
    let report = small_lookup(60, 8, 0.1);
    assert!(report.stats.lost > 0);
    assert_eq!(report.unfinished, 0);
    assert!(failures(&report).is_empty(), "{:?}", failures(&report));
}

#[test]
fn transmissions_dropped_for_good_never_hang_a_lookup() {
    let mut params = LookupParams::new(60, 9, 20);
    params.network.k = 5;
    params.network.loss = 0.1;
    params.network.loss_model = LossModel::Drop;
    params.network.batch = 10;
    let report = lookup::run(&params, epoch(), &mut |_| {}).unwrap();
    assert!(report.stats.lost > 0);
    // Dropped requests, answers and handshake messages cost peers, never
    // a lookup: every one ends with real nodes, nearest first.
    assert_eq!(report.unfinished, 0);
    assert_eq!(report.samples.len(), 20);
    let nodes: Vec<Address> = (0..60)
        .map(|i| {
            shoutnet_sim::node_keypair(9, i)
                .unwrap()
                .public()
                .routing_address()
        })
        .collect();
    for s in &report.samples {
        assert!(s.closest.len() <= 5);
        assert!(s.closest.iter().all(|a| nodes.contains(a)), "{s:?}");
        assert!(
            s.closest.is_sorted_by_key(|a| a.distance(&s.target)),
            "{s:?}"
        );
    }
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

#[test]
fn a_silently_crashed_node_is_evicted_after_failed_pings() {
    let mut sim = bootstrapped(config(40, 16));
    sim.run_until(sim.now() + Duration::from_secs(20));
    let victim = 7;
    let gone = sim.node(victim).local_address();
    let watchers: Vec<usize> = (0..sim.len())
        .filter(|&i| i != victim && sim.node(i).is_connected(&gone))
        .filter(|&i| sim.node(i).routing_table().contains(&gone))
        .collect();
    assert!(
        !watchers.is_empty(),
        "someone keeps a connection to node {victim}"
    );
    sim.crash_silently(victim);
    // No close reaches anyone: the 30 s keepalive goes unanswered for its
    // 10 s timeout, and the failed ping evicts the entry.
    sim.run_until(sim.now() + Duration::from_secs(45));
    for &i in &watchers {
        assert!(!sim.node(i).is_connected(&gone), "node {i}");
        assert!(!sim.node(i).routing_table().contains(&gone), "node {i}");
    }
    // The others keep serving: a lookup from a watcher still succeeds.
    let target = sim.node(3).local_address();
    let id = sim.command(watchers[0], Command::FindNode { target });
    let goal = sim.stats().lookups_finished + 1;
    sim.run_while(1_000_000, |s| s.stats().lookups_finished < goal)
        .unwrap();
    let found = sim.take_finished().into_iter().any(|e| {
        matches!(&e.event, Event::LookupFinished { id: got, closest, .. }
            if *got == id && closest.first() == Some(&target) && !closest.contains(&gone))
    });
    assert!(found);
}

#[test]
fn dials_to_a_crashed_process_are_refused_at_once() {
    let mut sim = bootstrapped(config(12, 17));
    sim.crash(0);
    let before = sim.node(5).stats().dial_failures;
    sim.command(
        5,
        Command::Bootstrap {
            seeds: vec![addr(0)],
        },
    );
    // Refused one link latency (≤ 80 ms) after the dial, not after the
    // 10 s dial timeout.
    sim.run_until(sim.now() + Duration::from_millis(200));
    assert!(sim.node(5).stats().dial_failures > before);
}

/// The `rsa2048` fixture keys for the simulator (test-only, see
/// fixtures/keys/README.md).
#[test]
fn the_rsa2048_profile_runs_the_same_engine() {
    let mut params = LookupParams::new(8, 18, 6);
    params.network.k = 3;
    params.network.seeds = 2;
    params.network.keys = Some(support::rsa_fixture_keys());
    let report = lookup::run(&params, epoch(), &mut |_| {}).unwrap();
    assert_eq!(report.bootstrap.nodes, 7);
    assert_eq!(report.unfinished, 0);
    assert!(failures(&report).is_empty(), "{:?}", failures(&report));
    // rsa2048 headers are 546 bytes against 70: the same run moves far
    // more bytes than with ed25519.
    let mut ed = params.clone();
    ed.network.keys = None;
    let ed = lookup::run(&ed, epoch(), &mut |_| {}).unwrap();
    assert!(
        report.stats.bytes > 3 * ed.stats.bytes,
        "{} vs {}",
        report.stats.bytes,
        ed.stats.bytes
    );
}

#[test]
fn given_keys_must_cover_every_node() {
    let mut cfg = config(9, 1);
    cfg.set_keys(Some(support::rsa_fixture_keys()));
    assert_eq!(
        Sim::new(cfg, epoch()).err(),
        Some(shoutnet_sim::Error::Keys { given: 8, n: 9 })
    );
}

#[test]
fn lookups_from_empty_routing_tables_end_at_once() {
    // Nothing gets through: no bootstrap reaches a seed, every table stays
    // empty, and every lookup ends inside its own command.
    let mut params = LookupParams::new(5, 19, 10);
    params.network.loss = 1.0;
    params.network.loss_model = LossModel::Drop;
    let report = lookup::run(&params, epoch(), &mut |_| {}).unwrap();
    assert_eq!(report.empty_tables, 5);
    assert_eq!(report.bootstrap.table_entries, 0);
    assert_eq!(report.unfinished, 0);
    assert_eq!(report.samples.len(), 10);
    assert!(
        report
            .samples
            .iter()
            .all(|s| s.closest.is_empty() && s.requests == 0)
    );
}

#[test]
fn take_finished_collects_the_end_of_every_command_without_the_log() {
    let mut cfg = config(20, 21);
    cfg.set_keep_log(false);
    let mut sim = bootstrapped(cfg);
    assert!(sim.log().is_empty());
    let bootstraps = sim.take_finished();
    assert_eq!(bootstraps.len(), 19);
    let put = sim.command(
        3,
        Command::Put {
            key: Bytes::from_static(b"key"),
            value: Value::Bin(Bytes::from_static(b"value")),
            version: None,
            ttl: None,
        },
    );
    let too_large = sim.command(
        4,
        Command::Get {
            key: Bytes::from(vec![0; 100_000]),
        },
    );
    let to = shoutnet_sim::node_keypair(21, 6)
        .unwrap()
        .public()
        .to_bytes();
    let data = Value::Bin(Bytes::from_static(b"hello"));
    let (encrypt, route) = (None, WhisperRoute::Auto);
    let whisper = sim.command(
        5,
        Command::Whisper {
            to,
            data,
            encrypt,
            route,
        },
    );
    sim.run_until(sim.now() + Duration::from_secs(40));
    let get = sim.command(
        7,
        Command::Get {
            key: Bytes::from_static(b"key"),
        },
    );
    sim.run_until(sim.now() + Duration::from_secs(40));
    let finished = sim.take_finished();
    assert!(sim.log().is_empty());
    let find = |node: usize, id| {
        let mut hits = finished.iter().filter(|e| {
            e.node == node
                && match &e.event {
                    Event::PutFinished { id: got, .. }
                    | Event::GetFinished { id: got, .. }
                    | Event::WhisperFinished { id: got, .. }
                    | Event::CommandFailed { id: got, .. } => *got == id,
                    _ => false,
                }
        });
        let hit = hits.next().map(|e| e.event.clone());
        assert!(hits.next().is_none(), "node {node}: one event per command");
        hit
    };
    assert!(matches!(find(3, put), Some(Event::PutFinished { report, .. }) if report.stored >= 1));
    assert!(matches!(
        find(4, too_large),
        Some(Event::CommandFailed {
            error: CommandError::KeyTooLarge { .. },
            ..
        })
    ));
    assert!(matches!(
        find(5, whisper),
        Some(Event::WhisperFinished { result: Ok(_), .. })
    ));
    assert!(matches!(
        find(7, get),
        Some(Event::GetFinished { found: Some(_), .. })
    ));
    assert!(sim.take_finished().is_empty(), "taken");
}

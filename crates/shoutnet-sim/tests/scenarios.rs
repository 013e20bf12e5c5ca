//! The `whisper` and `dht` scenarios on small networks (docs/PROTOCOL.md
//! §9.8, §9.9): without faults every whisper and every get succeeds, the
//! reports' counts add up, hops and requests stay within what the routes
//! allow, and the same seed gives the same report.

mod support;

use shoutnet_engine::WhisperRoute;
use shoutnet_sim::scenario::dht::{self, DhtParams, DhtRun, PhaseReport};
use shoutnet_sim::scenario::join::{NetworkParams, join, join_late};
use shoutnet_sim::scenario::whisper::{self, WhisperParams, WhisperReport, WhisperRun};
use support::epoch;

fn whisper_params(n: usize, seed: u64, whispers: usize) -> WhisperParams {
    let mut params = WhisperParams::new(n, seed, whispers);
    params.network.batch = 20;
    params
}

/// Every whisper ended once, in exactly one of the report's columns.
fn assert_counts_add_up(report: &WhisperReport) {
    let total = report.samples.len();
    assert_eq!(total, report.params.whispers);
    assert_eq!(
        report.delivered() + report.undeliverable() + report.timed_out() + report.other_errors(),
        total
    );
    let (d, i, r) = report.routes_taken();
    assert_eq!(d + i + r, report.delivered());
}

#[test]
fn every_whisper_arrives_by_the_direct_recursive_and_auto_routes() {
    let n = 40;
    let params = whisper_params(n, 7, 25);
    let routes = [
        WhisperRoute::Direct,
        WhisperRoute::Recursive,
        WhisperRoute::Auto,
    ];
    let reports = whisper::run(&params, &routes, epoch(), &mut |_| {}).unwrap();
    for (route, report) in routes.into_iter().zip(&reports) {
        assert_counts_add_up(report);
        assert_eq!(report.delivered(), 25, "{route:?}: {:?}", report.samples);
        // One at a time, each whisper's transmissions are its hops: the
        // origin's send and one per relay.
        let hops: Vec<u64> = report.samples.iter().map(|s| s.hops.unwrap()).collect();
        assert_eq!(hops.iter().sum::<u64>(), report.transmissions, "{route:?}");
        assert!(hops.iter().all(|&h| h >= 1), "{route:?}: {hops:?}");
        assert!(
            hops.iter().all(|&h| (h as f64) <= whisper::hop_bound(n)),
            "{route:?}: {hops:?}"
        );
        // A WHISPER and its ACK per hop, at least; keepalives on top.
        assert!(report.messages_no_keepalive >= 2 * report.transmissions);
        assert!(report.messages_no_keepalive <= report.messages);
    }
    // Direct: to a connected node, over that connection, one hop.
    assert_eq!(reports[0].routes_taken(), (25, 0, 0));
    assert_eq!(reports[0].transmissions, 25);
    assert_eq!(
        reports[0].messages_no_keepalive, 50,
        "a WHISPER and an ACK each"
    );
    assert_eq!(reports[1].routes_taken(), (0, 0, 25));
    assert!(reports[1].samples.iter().all(|s| s.origin != s.dest));
}

#[test]
fn iterative_whispers_take_one_hop_each() {
    let params = whisper_params(40, 11, 25);
    let reports = whisper::run(&params, &[WhisperRoute::Iterative], epoch(), &mut |_| {}).unwrap();
    let report = &reports[0];
    assert_counts_add_up(report);
    // Not asserted to be all: an iterative whisper still fails, rarely,
    // when the lookup's transient connection to the destination closed
    // before the lookup ended and the routing table lacks the destination
    // (1 in 60 at n = 60, seed 2).
    assert!(report.delivered() >= 20, "{:?}", report.samples);
    assert_eq!(report.routes_taken(), (0, report.delivered(), 0));
    for s in &report.samples {
        assert_eq!(s.hops, Some(1), "{s:?}");
    }
}

#[test]
fn whispers_in_flight_together_are_all_counted() {
    let mut params = whisper_params(30, 8, 24);
    params.concurrency = 8;
    let reports = whisper::run(&params, &[WhisperRoute::Recursive], epoch(), &mut |_| {}).unwrap();
    let report = &reports[0];
    assert_counts_add_up(report);
    assert_eq!(report.delivered(), 24);
    assert!(report.samples.iter().all(|s| s.hops.is_none()));
    assert!(report.transmissions >= 24);
    assert!(report.row(Default::default(), None).contains("| -/-/- |"));
}

#[test]
fn a_listening_share_makes_the_last_nodes_dial_out_only() {
    let mut params = whisper_params(40, 9, 20);
    params.set_listening_share(0.25);
    assert_eq!(params.network.dial_out_only, 30);
    let mut run = WhisperRun::new(&params, epoch(), &mut |_| {}).unwrap();
    let report = run.route(WhisperRoute::Auto, &mut |_| {}).unwrap();
    assert_counts_add_up(&report);
    // Whatever reaches dial-out-only nodes, whispers between listening
    // nodes go through.
    for s in &report.samples {
        if s.origin < 10 && s.dest < 10 {
            assert!(matches!(s.result, Some(Ok(_))), "{s:?}");
        }
    }
    assert!(report.row(Default::default(), None).contains("| 0.25 |"));
}

#[test]
fn the_same_seed_gives_the_same_whispers() {
    let params = whisper_params(25, 10, 10);
    let run = |seed| {
        let mut p = params.clone();
        p.network.seed = seed;
        whisper::run(&p, &[WhisperRoute::Auto], epoch(), &mut |_| {}).unwrap()
    };
    let (a, b, c) = (run(10), run(10), run(11));
    assert_eq!(a[0].samples, b[0].samples);
    assert_eq!(a[0].trace_hash, b[0].trace_hash);
    assert_eq!(a[0].messages, b[0].messages);
    assert_ne!(a[0].trace_hash, c[0].trace_hash);
}

fn dht_params(n: usize, seed: u64, ops: usize) -> DhtParams {
    let mut params = DhtParams::new(n, seed, ops, ops);
    params.network.batch = 20;
    params
}

fn assert_phase(report: &PhaseReport, ops: usize, k: usize) {
    assert_eq!(report.samples.len(), ops, "{}", report.label);
    assert_eq!(report.unfinished(), 0, "{}", report.label);
    for s in &report.samples {
        assert!(s.replicas <= k, "{}: {s:?}", report.label);
        // A getter holding the record itself asks no one.
        assert!(s.requests >= 1 || !report.puts, "{}: {s:?}", report.label);
    }
}

#[test]
fn every_get_finds_the_value_put() {
    let params = dht_params(40, 11, 30);
    let k = params.network.k;
    let phases = dht::run(&params, epoch(), &mut |_| {}).unwrap();
    assert_eq!(phases.len(), 2);
    let (puts, gets) = (&phases[0], &phases[1]);
    assert!(puts.puts && !gets.puts);
    assert_eq!((puts.label.as_str(), gets.label.as_str()), ("put", "get"));
    assert_phase(puts, 30, k);
    assert_phase(gets, 30, k);
    assert_eq!(gets.success_rate(), 100.0, "{:?}", gets.samples);
    // Put success (stored >= 1) is not asserted to be all: a put still
    // reports early, with nothing stored, when its first STORE fails at
    // once (its peer neither connected nor in the routing table), while
    // the other STOREs go on (1 in 60 at n = 50, seed 12). The gets above
    // find every value all the same. A put's requests are its lookup's
    // and one STORE per node it settled with: at least its replicas.
    assert!(puts.samples.iter().all(|s| s.requests >= s.replicas as u64));
    assert!(puts.mean_replicas() > 1.0);
    let row = gets.row(Default::default(), None);
    assert!(row.starts_with("| get | 40 | 30 | 100.0 | 0 |"), "{row}");
}

#[test]
fn gets_find_the_values_after_a_crash_and_after_a_late_join() {
    let mut params = dht_params(50, 12, 20);
    params.crash = 0.1;
    params.join = 0.2;
    assert_eq!(params.reserved(), 10);
    let mut run = DhtRun::new(&params, epoch(), &mut |_| {}).unwrap();
    let puts = run.puts(&mut |_| {}).unwrap();
    assert_eq!(puts.nodes, 40, "the reserved nodes wait");
    let crashed = run.gets_after_crash(&mut |_| {}).unwrap();
    assert_eq!(crashed.label, "get after 10% crashed");
    assert_eq!(crashed.nodes, 35);
    assert_phase(&crashed, 20, params.network.k);
    assert_eq!(crashed.success_rate(), 100.0, "{:?}", crashed.samples);
    assert!((0..3).all(|seed| run.sim.is_up(seed)), "seeds never crash");
    let joined = run.gets_after_join(&mut |_| {}).unwrap();
    assert_eq!(joined.label, "get after 20% joined");
    assert_eq!(joined.nodes, 45);
    assert_eq!(joined.success_rate(), 100.0, "{:?}", joined.samples);
    assert!((40..50).all(|i| !run.sim.node(i).routing_table().is_empty()));
    assert!(run.sim.engine_stats().records_replicated > 0);
}

#[test]
fn the_same_seed_gives_the_same_dht_report() {
    let run = |seed| {
        let mut p = dht_params(25, seed, 10);
        p.crash = 0.1;
        let mut run = DhtRun::new(&p, epoch(), &mut |_| {}).unwrap();
        let phases = vec![
            run.puts(&mut |_| {}).unwrap(),
            run.gets(&mut |_| {}).unwrap(),
            run.gets_after_crash(&mut |_| {}).unwrap(),
        ];
        (phases, run.sim.trace_hash())
    };
    let (a, b, c) = (run(13), run(13), run(14));
    assert_eq!(a, b);
    assert_ne!(a.1, c.1);
}

#[test]
fn late_nodes_wait_for_join_late() {
    let mut network = NetworkParams::new(30, 15);
    network.batch = 20;
    network.late = 5;
    assert_eq!(network.late_nodes(), 25..30);
    let mut joined = join(&network, epoch(), &mut |_| {}).unwrap();
    assert_eq!(joined.bootstrap.nodes, 24);
    assert_eq!(joined.empty_tables, 0);
    let sim = &mut joined.sim;
    assert!((25..30).all(|i| sim.node(i).routing_table().is_empty()));
    let late = join_late(sim, &network, &mut |_| {}).unwrap();
    assert_eq!(late.nodes, 5);
    assert!((25..30).all(|i| !sim.node(i).routing_table().is_empty()));
    // Node 0 bootstraps through no one: it is never late.
    network.late = 100;
    assert_eq!(network.late_nodes(), 1..30);
    network.late = 0;
    assert!(network.late_nodes().is_empty());
}

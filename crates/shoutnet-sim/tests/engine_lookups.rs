//! Lookups and bootstrap on the simulator (docs/PROTOCOL.md §8.7,
//! docs/design.md §13).

mod support;

use std::time::Duration;

use shoutnet_crypto::Address;
use shoutnet_engine::{Command, Event, NodeEngine};
use shoutnet_sim::{Sim, addr};
use shoutnet_wire::Opcode;
use support::{bootstrap_all, brute_force, network, run_for, settle};

#[test]
fn lookup_in_a_bootstrapped_cluster_finds_the_k_closest() {
    let n = 40;
    let mut sim = bootstrapped(n, 7);
    for (searcher, t) in [(n - 1, 1u8), (n / 2, 2), (3, 3), (0, 4), (17, 5)] {
        let target = Address([t.wrapping_mul(37); 32]);
        let id = sim.command(searcher, Command::FindNode { target });
        settle(&mut sim);
        let got = sim
            .events(searcher)
            .find_map(|e| match e {
                Event::LookupFinished {
                    id: got, closest, ..
                } if *got == id => Some(closest.clone()),
                _ => None,
            })
            .expect("lookup finished");
        assert_eq!(
            got,
            brute_force(&sim, searcher, &target, 5),
            "searcher {searcher}"
        );
    }
}

#[test]
fn idle_buckets_are_refreshed() {
    let mut sim = network(10, 32, |config| {
        config
            .kad_mut()
            .set_k(5)
            .set_refresh_interval(Duration::from_secs(600));
    });
    bootstrap_all(&mut sim);
    let before = sim.messages().len();
    // The refresh timer fires every half interval and looks up a random
    // address in each bucket idle for the interval.
    run_for(&mut sim, Duration::from_secs(1300));
    let finds = sim.messages()[before..]
        .iter()
        .filter(|m| m.opcode == Opcode::FindNode)
        .count();
    assert!(finds > 0, "no FIND_NODE after the bootstrap");
}

#[test]
fn same_seed_gives_the_same_trace() {
    let a = bootstrapped(20, 11);
    let b = bootstrapped(20, 11);
    assert!(!a.log().is_empty());
    assert_eq!(a.trace_hash(), b.trace_hash());
    assert_eq!(a.actions(), b.actions());
    assert_eq!(a.messages(), b.messages());
    let other = bootstrapped(20, 12);
    assert_ne!(a.trace_hash(), other.trace_hash());
}

#[test]
fn engine_is_usable_without_a_driver() {
    let sim = network(1, 8, |_| {});
    let engine: &NodeEngine = sim.node(0);
    assert_eq!(engine.poll_timeout(), None);
}

fn bootstrapped(n: usize, seed: u64) -> Sim {
    let mut sim = network(n, seed, |config| {
        config.set_max_outbound(64).kad_mut().set_k(5);
    });
    for i in 1..n {
        let seeds = if i >= 2 {
            vec![addr(0), addr(1)]
        } else {
            vec![addr(0)]
        };
        sim.command(i, Command::Bootstrap { seeds });
        settle(&mut sim);
    }
    sim
}

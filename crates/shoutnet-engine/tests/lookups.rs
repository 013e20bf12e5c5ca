//! Lookups and bootstrap over the in-memory driver (docs/PROTOCOL.md §8.7,
//! DESIGN R10).

mod support;

use std::time::Duration;

use shoutnet_crypto::Address;
use shoutnet_engine::{Command, Event, NodeEngine};
use shoutnet_wire::Opcode;
use support::{Cluster, addr};

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
            c.brute_force(searcher, &target, 5),
            "searcher {searcher}"
        );
    }
}

#[test]
fn idle_buckets_are_refreshed() {
    let mut c = Cluster::new(10, 32, |config| {
        config.kad.k = 5;
        config.kad.refresh_interval = Duration::from_secs(600);
    });
    c.bootstrap_all();
    c.delivered.clear();
    // The refresh timer fires every half interval and looks up a random
    // address in each bucket idle for the interval.
    c.run_for(Duration::from_secs(1300));
    let finds = c
        .delivered
        .iter()
        .filter(|d| d.opcode == Opcode::FindNode)
        .count();
    assert!(finds > 0, "no FIND_NODE after the bootstrap");
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

//! Lookups against a simulated network: a pure map of who knows whom,
//! driven synchronously through `next` / `on_success` / `on_failure` /
//! `on_value`, checked against the brute-force k closest.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use proptest::prelude::*;
use shoutnet_kad::{Address, KadConfig, Lookup, LookupAction, LookupKind, LookupStats};

/// How a simulated node reacts to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Behaviour {
    /// Answers with the closest nodes it knows.
    Answer,
    /// Never answers: the lookup must time it out.
    Silent,
    /// Answers with an error straight away.
    Refuse,
    /// Has the `FIND_VALUE` value.
    HasValue,
}

/// A network: each node's known peers and behaviour.
#[derive(Debug)]
struct Net {
    nodes: BTreeMap<Address, (Vec<Address>, Behaviour)>,
    /// How many closest known peers a node returns.
    answer_len: usize,
}

impl Net {
    fn answer(&self, node: &Address, target: &Address) -> Vec<Address> {
        let known = self
            .nodes
            .get(node)
            .map(|(k, _)| k.clone())
            .unwrap_or_default();
        closest(known, target, self.answer_len)
    }

    fn behaviour(&self, node: &Address) -> Behaviour {
        self.nodes.get(node).map_or(Behaviour::Silent, |(_, b)| *b)
    }

    fn set(&mut self, node: &Address, behaviour: Behaviour) {
        if let Some(entry) = self.nodes.get_mut(node) {
            entry.1 = behaviour;
        }
    }

    fn live(&self) -> Vec<Address> {
        self.nodes
            .iter()
            .filter(|(_, (_, b))| *b != Behaviour::Silent && *b != Behaviour::Refuse)
            .map(|(a, _)| *a)
            .collect()
    }
}

/// What a driven lookup did.
#[derive(Debug)]
struct Run {
    result: Vec<Address>,
    contacted: Vec<Address>,
    max_in_flight: usize,
    stats: LookupStats,
    value_from: Option<Address>,
    elapsed: Duration,
}

fn address(i: u64) -> Address {
    Address::of_dht_key(&i.to_be_bytes())
}

/// The brute-force `n` closest of `all` to `target`.
fn closest(mut all: Vec<Address>, target: &Address, n: usize) -> Vec<Address> {
    all.sort_by_key(|a| target.distance(a));
    all.dedup();
    all.truncate(n);
    all
}

/// The one real instant of these tests; everything after it is `t0 + d`.
#[allow(clippy::disallowed_methods)] // Tests only; the crate never reads a clock.
fn t0() -> Instant {
    Instant::now()
}

/// `n` nodes, each knowing its true `k` closest plus `extra` others picked
/// by a fixed stride, all answering.
fn network(n: u64, k: usize, extra: u64) -> Net {
    let all: Vec<_> = (0..n).map(address).collect();
    let mut nodes = BTreeMap::new();
    for (i, me) in all.iter().enumerate() {
        let others: Vec<_> = all.iter().copied().filter(|a| a != me).collect();
        let mut known = closest(others.clone(), me, k);
        for j in 0..extra {
            let pick = (i as u64 * 31 + j * 977 + 7) % others.len() as u64;
            known.push(others[pick as usize]);
        }
        known.sort();
        known.dedup();
        nodes.insert(*me, (known, Behaviour::Answer));
    }
    Net {
        nodes,
        answer_len: k,
    }
}

/// Drives `lookup` to the end. Replies are delivered one at a time in an
/// order drawn from `order_seed`; silent nodes never reply, so time jumps to
/// the next deadline when only they are outstanding.
fn drive(mut lookup: Lookup, net: &Net, config: &KadConfig, order_seed: u64, now: Instant) -> Run {
    let start = now;
    let mut now = now;
    let target = *lookup.target();
    let mut contacted = Vec::new();
    let mut outstanding: VecDeque<Address> = VecDeque::new();
    let mut max_in_flight = 0;
    let mut step = 0u64;
    for _ in 0..100_000 {
        loop {
            match lookup.next(now) {
                LookupAction::Send(peer) => {
                    assert!(!contacted.contains(&peer), "{peer:?} contacted twice");
                    contacted.push(peer);
                    if net.behaviour(&peer) != Behaviour::Silent {
                        outstanding.push_back(peer);
                    }
                    max_in_flight = max_in_flight.max(lookup.in_flight());
                    assert!(
                        lookup.in_flight() <= config.parallelism(),
                        "more than α in flight"
                    );
                }
                LookupAction::Waiting => break,
                LookupAction::Finished => {
                    assert_eq!(lookup.next_timeout(), None);
                    return Run {
                        result: lookup.result(),
                        contacted,
                        max_in_flight,
                        stats: lookup.stats(),
                        value_from: lookup.value_from().copied(),
                        elapsed: now - start,
                    };
                }
            }
        }
        if outstanding.is_empty() {
            now = lookup
                .next_timeout()
                .expect("waiting with nothing in flight");
            continue;
        }
        step += 1;
        let index =
            (order_seed.wrapping_mul(step).wrapping_add(step) % outstanding.len() as u64) as usize;
        let peer = outstanding.remove(index).expect("index in range");
        match net.behaviour(&peer) {
            Behaviour::Answer => lookup.on_success(&peer, net.answer(&peer, &target), now),
            Behaviour::Refuse => lookup.on_failure(&peer, now),
            Behaviour::HasValue => lookup.on_value(&peer, now),
            Behaviour::Silent => unreachable!("silent nodes are never queued"),
        }
    }
    panic!("the lookup did not terminate");
}

fn seeds(net: &Net, skip: usize, n: usize) -> Vec<Address> {
    net.nodes.keys().copied().skip(skip).take(n).collect()
}

#[test]
fn find_node_returns_the_true_k_closest() {
    let now = t0();
    let config = KadConfig::default();
    let net = network(500, config.bucket_size(), 5);
    let all: Vec<_> = net.nodes.keys().copied().collect();
    for t in 0..20u64 {
        // Targets both among the nodes and elsewhere.
        let target = if t % 2 == 0 {
            address(t * 13)
        } else {
            Address::of_dht_key(&[t as u8; 3])
        };
        let lookup = Lookup::new(
            target,
            LookupKind::FindNode,
            seeds(&net, t as usize * 7, 3),
            &config,
            now,
        );
        let run = drive(lookup, &net, &config, t, now);
        assert_eq!(
            run.result,
            closest(all.clone(), &target, config.bucket_size()),
            "target {t}"
        );
        assert_eq!(run.max_in_flight, config.parallelism());
        assert!(run.stats.requests < 500, "{:?}", run.stats);
        assert_eq!(run.stats.requests as usize, run.contacted.len());
        assert!(run.stats.rounds >= 2, "{:?}", run.stats);
        assert_eq!(run.elapsed, Duration::ZERO, "no timeout fired");
    }
}

#[test]
fn silent_and_refusing_peers_are_skipped() {
    let now = t0();
    let config = KadConfig::default();
    let mut net = network(300, config.bucket_size(), 5);
    let target = Address::of_dht_key(b"target");
    let all: Vec<_> = net.nodes.keys().copied().collect();
    // Half of the true 20 closest never answer, a quarter refuse.
    let top = closest(all.clone(), &target, config.bucket_size());
    for (i, node) in top.iter().enumerate() {
        match i % 4 {
            0 | 1 => net.set(node, Behaviour::Silent),
            2 => net.set(node, Behaviour::Refuse),
            _ => {}
        }
    }
    // Answers long enough to name the live closest past the dead ones.
    net.answer_len = 2 * config.bucket_size();
    let lookup = Lookup::new(
        target,
        LookupKind::FindNode,
        seeds(&net, 0, 3),
        &config,
        now,
    );
    let run = drive(lookup, &net, &config, 3, now);
    assert_eq!(
        run.result,
        closest(net.live(), &target, config.bucket_size())
    );
    assert_eq!(run.stats.timeouts, 10);
    assert_eq!(run.stats.failures, 5);
    // Silent peers cost at least one request timeout of waiting.
    assert!(run.elapsed >= config.request_timeout(), "{:?}", run.elapsed);
    for dead in top.iter().step_by(4) {
        assert!(
            run.contacted.contains(dead),
            "the closest silent node was tried"
        );
    }
}

#[test]
fn all_seeds_silent_finishes_empty() {
    let now = t0();
    let config = KadConfig::default();
    let mut net = network(50, config.bucket_size(), 0);
    let seeds = seeds(&net, 0, 5);
    for s in &seeds {
        net.set(s, Behaviour::Silent);
    }
    let lookup = Lookup::new(address(1), LookupKind::FindNode, seeds, &config, now);
    let run = drive(lookup, &net, &config, 0, now);
    assert!(run.result.is_empty());
    assert_eq!(run.stats.timeouts, 5);
    // Three at first, then two more after the first deadline.
    assert_eq!(run.elapsed, 2 * config.request_timeout());
}

#[test]
fn no_seeds_finishes_at_once() {
    let now = t0();
    let config = KadConfig::default();
    let mut lookup = Lookup::new(address(1), LookupKind::FindNode, [], &config, now);
    assert_eq!(lookup.next(now), LookupAction::Finished);
    assert!(lookup.result().is_empty());
    assert_eq!(lookup.next_timeout(), None);
}

#[test]
fn find_value_stops_at_the_value() {
    let now = t0();
    let config = KadConfig::default();
    let mut net = network(500, config.bucket_size(), 5);
    let target = Address::of_dht_key(b"some key");
    let all: Vec<_> = net.nodes.keys().copied().collect();
    let top = closest(all, &target, config.bucket_size());
    // Only the 3rd closest node stores the value.
    net.set(&top[2], Behaviour::HasValue);
    let lookup = Lookup::new(
        target,
        LookupKind::FindValue,
        seeds(&net, 10, 3),
        &config,
        now,
    );
    let run = drive(lookup, &net, &config, 5, now);
    assert_eq!(run.value_from, Some(top[2]));
    assert!(run.result.contains(&top[2]));
    assert!(run.stats.requests < 500);

    // The same network with FIND_NODE: the holder is just another answer.
    let lookup = Lookup::new(
        target,
        LookupKind::FindNode,
        seeds(&net, 10, 3),
        &config,
        now,
    );
    let run = drive(lookup, &net, &config, 5, now);
    assert_eq!(run.value_from, None);
    assert_eq!(run.result.len(), config.bucket_size());
}

#[test]
fn late_answers_after_a_timeout_still_count() {
    let now = t0();
    let config = KadConfig::default();
    let (a, b) = (address(1), address(2));
    let mut lookup = Lookup::new(address(9), LookupKind::FindNode, [a], &config, now);
    assert_eq!(lookup.next(now), LookupAction::Send(a));
    assert_eq!(lookup.next_timeout(), Some(now + config.request_timeout()));
    let late = now + config.request_timeout();
    assert_eq!(
        lookup.next(late),
        LookupAction::Finished,
        "a timed out, nothing left"
    );
    // A lookup that is still going accepts the late answer.
    let mut lookup = Lookup::new(address(9), LookupKind::FindNode, [a, b], &config, now);
    let mut config1 = config.clone();
    config1.set_alpha(1);
    let mut one = Lookup::new(address(9), LookupKind::FindNode, [a, b], &config1, now);
    let first = match one.next(now) {
        LookupAction::Send(p) => p,
        other => panic!("{other:?}"),
    };
    assert_eq!(one.next(now), LookupAction::Waiting, "α = 1");
    let second = match one.next(late) {
        LookupAction::Send(p) => p,
        other => panic!("{other:?}"),
    };
    assert_ne!(first, second);
    one.on_success(&first, [], late);
    one.on_success(&second, [], late);
    assert_eq!(one.next(late), LookupAction::Finished);
    assert_eq!(one.result(), closest(vec![a, b], &address(9), 20));
    assert_eq!(one.stats().timeouts, 1);
    assert_eq!(one.stats().successes, 2);
    // Answers from strangers and duplicates are ignored.
    assert_eq!(
        lookup.next(now),
        LookupAction::Send(closest(vec![a, b], &address(9), 1)[0])
    );
    lookup.on_success(&address(77), [address(78)], now);
    lookup.on_failure(&address(77), now);
    assert_eq!(lookup.stats().successes, 0);
}

#[test]
fn the_timeout_counts_from_when_the_request_went_out() {
    let now = t0();
    let config = KadConfig::default();
    let a = address(1);
    let mut lookup = Lookup::new(address(9), LookupKind::FindNode, [a], &config, now);
    assert_eq!(lookup.next(now), LookupAction::Send(a));
    // The caller needed 4 s to connect before the request left.
    let sent = now + Duration::from_secs(4);
    lookup.on_sent(&a, sent);
    assert_eq!(lookup.next_timeout(), Some(sent + config.request_timeout()));
    assert_eq!(
        lookup.next(now + config.request_timeout()),
        LookupAction::Waiting,
        "not timed out 10 s after the choice"
    );
    lookup.on_success(&a, [], sent + Duration::from_secs(9));
    assert_eq!(lookup.next(sent), LookupAction::Finished);
    assert_eq!(lookup.result(), [a]);
    assert_eq!(lookup.stats().timeouts, 0);
    // A peer not waited for is left alone.
    lookup.on_sent(&address(5), sent);
    assert_eq!(lookup.next_timeout(), None);
}

#[test]
fn local_address_is_never_contacted() {
    let now = t0();
    let config = KadConfig::default();
    let (me, a) = (address(1), address(2));
    let mut lookup =
        Lookup::new(address(9), LookupKind::FindNode, [me, a], &config, now).with_local(me);
    assert_eq!(lookup.next(now), LookupAction::Send(a));
    lookup.on_success(&a, [me], now);
    assert_eq!(lookup.next(now), LookupAction::Finished);
    assert_eq!(lookup.result(), [a]);
}

#[test]
fn candidates_are_bounded_without_losing_the_closest() {
    let now = t0();
    let mut config = KadConfig::default();
    config.set_k(2).set_alpha(1);
    let target = address(0);
    let seed = address(1);
    let mut lookup = Lookup::new(target, LookupKind::FindNode, [seed], &config, now);
    assert_eq!(lookup.next(now), LookupAction::Send(seed));
    // 100 peers in one answer; only 16 (k · 8) are kept, the closest.
    let many: Vec<_> = (2..102).map(address).collect();
    lookup.on_success(&seed, many.clone(), now);
    let mut asked = Vec::new();
    while let LookupAction::Send(p) = lookup.next(now) {
        asked.push(p);
        lookup.on_success(&p, [], now);
    }
    // `contains` names exactly the kept candidates: the contacted seed,
    // which is never dropped, and the 15 closest of the answer.
    let mut kept = closest(many.clone(), &target, 15);
    kept.push(seed);
    for a in many.iter().chain([&seed]) {
        assert_eq!(lookup.contains(a), kept.contains(a), "{a:?}");
    }
    assert!(!lookup.contains(&address(500)));
    assert_eq!(lookup.result(), closest(kept, &target, 2));
}

/// A random network for the properties: `n` nodes, each knowing a random
/// subset, some silent or refusing.
fn arb_net() -> impl Strategy<Value = (Net, Vec<usize>, [u8; 32], u64)> {
    (2usize..60)
        .prop_flat_map(|n| {
            (
                Just(n),
                prop::collection::vec(prop::collection::vec(0..n, 0..12), n),
                prop::collection::vec(0u8..10, n),
                prop::collection::vec(0..n, 1..5),
                any::<[u8; 32]>(),
                any::<u64>(),
            )
        })
        .prop_map(|(n, knows, kinds, seeds, target, order)| {
            let addrs: Vec<_> = (0..n as u64).map(address).collect();
            let nodes = addrs
                .iter()
                .enumerate()
                .map(|(i, a)| {
                    let known = knows[i].iter().map(|&j| addrs[j]).collect();
                    let behaviour = match kinds[i] {
                        0 => Behaviour::Silent,
                        1 => Behaviour::Refuse,
                        _ => Behaviour::Answer,
                    };
                    (*a, (known, behaviour))
                })
                .collect();
            (
                Net {
                    nodes,
                    answer_len: 4,
                },
                seeds,
                target,
                order,
            )
        })
}

proptest! {
    /// Lookups terminate within one request per node, never ask a peer
    /// twice, keep α, and return at most k answered peers, sorted.
    #[test]
    fn lookups_terminate_and_return_sorted((net, seed_idx, target, order) in arb_net(), k in 1usize..6, alpha in 1usize..4) {
        let now = t0();
        let mut config = KadConfig::default();
        config.set_k(k).set_alpha(alpha);
        let target = Address(target);
        let all: Vec<_> = net.nodes.keys().copied().collect();
        let seeds: Vec<_> = seed_idx.iter().map(|&i| all[i % all.len()]).collect();
        let lookup = Lookup::new(target, LookupKind::FindNode, seeds, &config, now);
        let run = drive(lookup, &net, &config, order, now);
        prop_assert!(run.contacted.len() <= all.len());
        let unique: BTreeSet<_> = run.contacted.iter().collect();
        prop_assert_eq!(unique.len(), run.contacted.len());
        prop_assert!(run.max_in_flight <= alpha);
        prop_assert!(run.result.len() <= k);
        prop_assert!(run.result.windows(2).all(|w| target.distance(&w[0]) < target.distance(&w[1])));
        let live = net.live();
        prop_assert!(run.result.iter().all(|a| live.contains(a) && run.contacted.contains(a)));
    }

    /// With full knowledge (every node knows every node) and no faults, the
    /// result is exactly the brute-force k closest.
    #[test]
    fn full_knowledge_lookups_are_exact(n in 1u64..80, seed in 0u64..80, target in any::<[u8; 32]>(), k in 1usize..8, alpha in 1usize..4, order in any::<u64>()) {
        let now = t0();
        let mut config = KadConfig::default();
        config.set_k(k).set_alpha(alpha);
        let all: Vec<_> = (0..n).map(address).collect();
        let nodes = all.iter().map(|a| (*a, (all.clone(), Behaviour::Answer))).collect();
        let net = Net { nodes, answer_len: k };
        let target = Address(target);
        let lookup = Lookup::new(target, LookupKind::FindNode, [address(seed % n)], &config, now);
        let run = drive(lookup, &net, &config, order, now);
        prop_assert_eq!(run.result, closest(all, &target, k));
        prop_assert!(run.contacted.len() <= k + 1);
    }
}

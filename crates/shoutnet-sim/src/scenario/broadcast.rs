//! The `broadcast` scenario (docs/PROTOCOL.md §8.5, §9.7;
//! docs/reports/broadcast.md): `n` nodes join, keep ℓ connections each,
//! optionally lose a share of their number to silent crashes, then random
//! live nodes `SHOUT` one after another. Every delivery is traced back to
//! its origin to count hops, and every copy sent is counted against the
//! seed's bound of (2ℓ − 1)·n + 1 transmissions per broadcast.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rand_core::RngCore;
use shoutnet_engine::{Command, MessageId};
use shoutnet_wire::Value;

use super::join::{Joined, NetworkParams, join};
use super::{ScenarioError, percentile};
use crate::{Broadcast, Sim};

/// Parameters of a broadcast run: the network, then the broadcasts.
#[derive(Clone, Debug)]
pub struct BroadcastParams {
    /// The network and how it joins; `network.max_outbound` is ℓ.
    pub network: NetworkParams,
    /// Broadcasts, one at a time.
    pub shouts: usize,
    /// Virtual time from one broadcast to the next.
    pub interval: Duration,
    /// Virtual time after the bootstrap for the kept connections to form.
    pub settle: Duration,
    /// Share of the nodes (never node 0) that crash silently just before
    /// the first broadcast.
    pub crash: f64,
    /// Bytes of data each broadcast carries.
    pub payload: usize,
}

impl BroadcastParams {
    /// `n` nodes ([`NetworkParams::new`]) keeping `l` connections each,
    /// `shouts` broadcasts of 256 bytes a second apart, 30 s after the
    /// bootstrap, no crashes.
    pub fn new(n: usize, seed: u64, l: usize, shouts: usize) -> Self {
        let mut network = NetworkParams::new(n, seed);
        network.max_outbound = l;
        Self {
            network,
            shouts,
            interval: Duration::from_secs(1),
            settle: Duration::from_secs(30),
            crash: 0.0,
            payload: 256,
        }
    }

    /// ℓ.
    pub fn l(&self) -> usize {
        self.network.max_outbound
    }
}

/// What one broadcast did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShoutSample {
    /// Its origin.
    pub origin: usize,
    /// Its message id.
    pub message: MessageId,
    /// Nodes up when it was sent, its origin included.
    pub live: usize,
    /// Nodes other than the origin that delivered it.
    pub delivered: usize,
    /// Nodes that delivered it twice or more (must stay 0).
    pub delivered_twice: usize,
    /// Copies sent: by the origin and every forwarding node.
    pub transmissions: u64,
    /// Hops of each delivery, from the origin.
    pub hops: Vec<u32>,
    /// Virtual time from the command to each delivery.
    pub latencies: Vec<Duration>,
}

impl ShoutSample {
    /// Whether every live node but the origin delivered it.
    pub fn complete(&self) -> bool {
        self.delivered + 1 >= self.live
    }
}

/// The outcome of a run.
#[derive(Clone, Debug)]
pub struct BroadcastReport {
    /// The parameters.
    pub params: BroadcastParams,
    /// One entry per broadcast, in order.
    pub samples: Vec<ShoutSample>,
    /// Nodes crashed before the first broadcast.
    pub crashed: usize,
    /// Live nodes keeping fewer than ℓ connections when the first
    /// broadcast left.
    pub short_of_kept: usize,
    /// The kept graph's degrees, summed over the live nodes, when the first
    /// broadcast left: twice its edges.
    pub kept_degrees: u64,
    /// Copies received that were dropped as duplicates (from the engines'
    /// counters).
    pub duplicates: u64,
    /// The engines' counters, summed over the nodes.
    pub engines: shoutnet_engine::Stats,
    /// Virtual time the bootstrap took.
    pub bootstrap_time: Duration,
    /// Virtual time at the end.
    pub elapsed: Duration,
    /// The run's trace hash.
    pub trace_hash: [u8; 32],
}

/// Runs the scenario from `epoch`, reporting progress lines to `progress`.
pub fn run(
    params: &BroadcastParams,
    epoch: Instant,
    progress: &mut dyn FnMut(&str),
) -> Result<BroadcastReport, ScenarioError> {
    let Joined {
        mut sim,
        bootstrap_time,
        ..
    } = join(&params.network, epoch, progress)?;
    let n = params.network.n;
    let settled = sim.now() + params.settle;
    sim.run_until(settled);
    let crashed = crash_share(&mut sim, params.crash);
    let l = params.l();
    let short_of_kept = (0..n)
        .filter(|&i| sim.is_up(i) && sim.node(i).outbound_counts().0 < l)
        .count();
    let kept_degrees = (0..n)
        .filter(|&i| sim.is_up(i))
        .map(|i| sim.node(i).kept_peers().count() as u64)
        .sum();
    progress(&format!(
        "settled at {:?} virtual: {crashed} nodes crashed, {short_of_kept} live nodes keep fewer than ℓ = {l}",
        sim.elapsed()
    ));
    let before = sim.engine_stats();
    let _ = sim.take_broadcasts();

    let mut sent: Vec<(usize, Instant, usize)> = Vec::with_capacity(params.shouts);
    let mut next_report = 1;
    for s in 0..params.shouts {
        let origin = random_live(&mut sim);
        let mut data = vec![0u8; params.payload];
        sim.rng().fill_bytes(&mut data);
        let live = (0..n).filter(|&i| sim.is_up(i)).count();
        sent.push((origin, sim.now(), live));
        sim.command(
            origin,
            Command::Shout {
                data: Value::Bin(data.into()),
            },
        );
        let next = sim.now() + params.interval;
        sim.run_until(next);
        if next_report <= 10 && (s + 1) * 10 >= params.shouts * next_report {
            next_report = (s + 1) * 10 / params.shouts + 1;
            progress(&format!("broadcasts: {}/{}", s + 1, params.shouts));
        }
    }
    // The last one's stragglers.
    let end = sim.now() + params.interval.max(Duration::from_secs(10));
    sim.run_until(end);
    let after = sim.engine_stats();
    let log = sim.take_broadcasts();
    let samples = trace(&sim, log, &sent);
    Ok(BroadcastReport {
        params: params.clone(),
        samples,
        crashed,
        short_of_kept,
        kept_degrees,
        duplicates: after.shout_duplicates - before.shout_duplicates,
        engines: after,
        bootstrap_time,
        elapsed: sim.elapsed(),
        trace_hash: sim.trace_hash(),
    })
}

/// Crashes `share` of the nodes silently, never node 0, chosen by the
/// simulation's random numbers; returns how many.
fn crash_share(sim: &mut Sim, share: f64) -> usize {
    let n = sim.len();
    let count = ((share * n as f64).round() as usize).min(n.saturating_sub(1));
    let mut crashed = 0;
    while crashed < count {
        let i = 1 + usize::try_from(sim.rng().next_u64() % (n as u64 - 1)).unwrap_or(0);
        if sim.is_up(i) {
            sim.crash_silently(i);
            crashed += 1;
        }
    }
    crashed
}

/// A node that is up, drawn at random (node 0 is never crashed).
fn random_live(sim: &mut Sim) -> usize {
    let n = sim.len() as u64;
    for _ in 0..64 {
        let i = usize::try_from(sim.rng().next_u64() % n).unwrap_or(0);
        if sim.is_up(i) {
            return i;
        }
    }
    0
}

/// Follows every delivery in `log` back to its origin: `sent` lists each
/// broadcast's origin, command time and live nodes, in order.
fn trace(sim: &Sim, log: Vec<Broadcast>, sent: &[(usize, Instant, usize)]) -> Vec<ShoutSample> {
    let n = sim.len();
    let epoch = sim.epoch();
    // Each broadcast's id is its origin's first `Shouted` after its
    // command: commands run at once, so they come in order.
    let mut origins = sent.iter().enumerate();
    let mut samples: Vec<ShoutSample> = Vec::with_capacity(sent.len());
    let mut index: BTreeMap<MessageId, usize> = BTreeMap::new();
    // Per broadcast, per node: hops + 1 once delivered (0: not yet).
    let mut hop_of: Vec<Vec<u32>> = Vec::with_capacity(sent.len());
    for b in log {
        if b.from.is_none() {
            let Some((s, &(origin, _, live))) = origins.next() else {
                continue;
            };
            index.insert(b.message, s);
            let mut hops = vec![0; n];
            hops[origin] = 1;
            hop_of.push(hops);
            samples.push(ShoutSample {
                origin,
                message: b.message,
                live,
                delivered: 0,
                delivered_twice: 0,
                transmissions: b.sent as u64,
                hops: Vec::new(),
                latencies: Vec::new(),
            });
            continue;
        }
        let Some(&s) = index.get(&b.message) else {
            continue;
        };
        let (Some(sample), Some(hops)) = (samples.get_mut(s), hop_of.get_mut(s)) else {
            continue;
        };
        sample.transmissions += b.sent as u64;
        if hops[b.node] != 0 {
            sample.delivered_twice += 1;
            continue;
        }
        let hop = b.from.map_or(0, |f| hops[f]).max(1);
        hops[b.node] = hop + 1;
        sample.delivered += 1;
        sample.hops.push(hop);
        let start = sent[s].1;
        sample
            .latencies
            .push((epoch + b.at).saturating_duration_since(start));
    }
    samples
}

/// The seed's bound on the transmissions of one broadcast in a network of
/// `n` nodes keeping `l` connections each: (2ℓ − 1)·n + 1, or the
/// saturated (n − 1)² below the crossover n = 2ℓ + 1, whichever is smaller.
///
/// ```
/// use shoutnet_sim::scenario::broadcast::seed_bound;
/// assert_eq!(seed_bound(10_000, 4), 70_001);
/// assert_eq!(seed_bound(8, 4), 49, "saturated: every node reaches every other");
/// ```
pub fn seed_bound(n: usize, l: usize) -> u64 {
    let n = n as u64;
    let limited = (2 * l as u64).saturating_sub(1) * n + 1;
    let saturated = n.saturating_sub(1).pow(2);
    limited.min(saturated)
}

/// The seed's worst-case lag in hops, ceil(max((n − 2)/ℓ, 1)), stated for
/// n > 2ℓ + 1.
///
/// ```
/// use shoutnet_sim::scenario::broadcast::seed_lag;
/// assert_eq!(seed_lag(10_000, 4), 2_500);
/// assert_eq!(seed_lag(3, 4), 1);
/// ```
pub fn seed_lag(n: usize, l: usize) -> u64 {
    let l = l.max(1) as u64;
    (n.saturating_sub(2) as u64).div_ceil(l).max(1)
}

/// The hops of a flood over a random graph of degree 2ℓ: log(n)/log(2ℓ − 1)
/// (`None` for ℓ = 1, a tree with no such bound).
pub fn random_graph_hops(n: usize, l: usize) -> Option<f64> {
    let branching = (2 * l) as f64 - 1.0;
    (branching > 1.0).then(|| (n.max(1) as f64).ln() / branching.ln())
}

impl BroadcastReport {
    /// Deliveries over the deliveries owed to live nodes, in percent.
    pub fn delivery_ratio(&self) -> f64 {
        let owed: usize = self.samples.iter().map(|s| s.live.saturating_sub(1)).sum();
        let got: usize = self.samples.iter().map(|s| s.delivered).sum();
        if owed == 0 {
            return 0.0;
        }
        100.0 * got as f64 / owed as f64
    }

    /// Mean transmissions per broadcast.
    pub fn transmissions_per_shout(&self) -> f64 {
        let total: u64 = self.samples.iter().map(|s| s.transmissions).sum();
        total as f64 / self.samples.len().max(1) as f64
    }

    /// The most transmissions any broadcast took.
    pub fn max_transmissions(&self) -> u64 {
        self.samples
            .iter()
            .map(|s| s.transmissions)
            .max()
            .unwrap_or(0)
    }

    /// The transmissions a broadcast takes over the kept graph as it was
    /// when the first one left, if it reaches every node: each node sends
    /// it on every kept edge but the one it came by, 2E − (n − 1).
    pub fn topology_bound(&self) -> u64 {
        let live = self
            .samples
            .first()
            .map_or(self.params.network.n, |s| s.live);
        self.kept_degrees
            .saturating_sub(live.saturating_sub(1) as u64)
    }

    /// Duplicates per live node per broadcast.
    pub fn duplicates_per_node(&self) -> f64 {
        let receivers: usize = self.samples.iter().map(|s| s.live.saturating_sub(1)).sum();
        self.duplicates as f64 / receivers.max(1) as f64
    }

    /// Relative message redundancy (Plumtree): payload messages received
    /// over the nodes that had to receive them, minus one.
    pub fn rmr(&self) -> f64 {
        let delivered: usize = self.samples.iter().map(|s| s.delivered).sum();
        let receivers: usize = self.samples.iter().map(|s| s.live.saturating_sub(1)).sum();
        (delivered as f64 + self.duplicates as f64) / receivers.max(1) as f64 - 1.0
    }

    /// Last delivery hop (Plumtree's LDH): the most hops of any delivery.
    pub fn ldh(&self) -> u32 {
        self.samples
            .iter()
            .flat_map(|s| s.hops.iter().copied())
            .max()
            .unwrap_or(0)
    }

    /// The first broadcast from which every later one reached every live
    /// node (1-based), if any.
    pub fn complete_from(&self) -> Option<usize> {
        let incomplete = self.samples.iter().rposition(|s| !s.complete());
        match incomplete {
            None => Some(1),
            Some(i) if i + 1 < self.samples.len() => Some(i + 2),
            Some(_) => None,
        }
    }

    /// The header of [`row`](Self::row)'s table.
    pub fn header() -> &'static str {
        "| n | ℓ | crashed | shouts | tx/shout (max) | 2E−n+1 | seed bound (2ℓ−1)n+1 | dups/node | delivery % | complete from | hops p50/p99/max | seed lag | log n/log(2ℓ−1) | latency p50/p99 (ms) | RMR | LDH | wall (s) | peak RSS (MiB) |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n"
    }

    /// The report as one row of a markdown table. `wall` and `peak_kib`
    /// come from the caller, who may read clocks and `/proc`.
    pub fn row(&self, wall: Duration, peak_kib: Option<u64>) -> String {
        let n = self.params.network.n;
        let l = self.params.l();
        let mut hops: Vec<u32> = self.samples.iter().flat_map(|s| s.hops.clone()).collect();
        let mut latency: Vec<Duration> = self
            .samples
            .iter()
            .flat_map(|s| s.latencies.clone())
            .collect();
        hops.sort_unstable();
        latency.sort_unstable();
        let dash = || "-".to_owned();
        let ms = |d: Option<Duration>| {
            d.map_or_else(dash, |d| format!("{:.0}", d.as_secs_f64() * 1000.0))
        };
        let num = |v: Option<u32>| v.map_or_else(dash, |v| v.to_string());
        format!(
            "| {n} | {l} | {} | {} | {:.0} ({}) | {} | {} | {:.2} | {:.2} | {} | {}/{}/{} | {} | {} | {}/{} | {:.2} | {} | {:.1} | {} |\n",
            self.crashed,
            self.samples.len(),
            self.transmissions_per_shout(),
            self.max_transmissions(),
            self.topology_bound(),
            seed_bound(n, l),
            self.duplicates_per_node(),
            self.delivery_ratio(),
            self.complete_from().map_or_else(dash, |i| format!("#{i}")),
            num(percentile(&hops, 0.5)),
            num(percentile(&hops, 0.99)),
            num(hops.last().copied()),
            seed_lag(n, l),
            random_graph_hops(n, l).map_or_else(|| "∞".into(), |h| format!("{h:.1}")),
            ms(percentile(&latency, 0.5)),
            ms(percentile(&latency, 0.99)),
            self.rmr(),
            self.ldh(),
            wall.as_secs_f64(),
            peak_kib.map_or_else(dash, |k| format!("{:.0}", k as f64 / 1024.0)),
        )
    }
}

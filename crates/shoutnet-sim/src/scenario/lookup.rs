//! The `lookup` scenario (ARCHITECTURE.md, "Deterministic simulation";
//! measures the iterative lookup of docs/design.md §13 / docs/PROTOCOL.md
//! §8.7): `n` nodes bootstrap through a few seed nodes, then random nodes
//! look up random targets, and each result is checked against the
//! brute-force k closest.

use std::time::{Duration, Instant};

use rand_core::RngCore;
use shoutnet_crypto::Address;
use shoutnet_engine::{Command, CommandId, Event};

use super::join::{BootstrapSummary, Joined, NetworkParams, join};
use super::{ScenarioError, percentile};
use crate::SimStats;

/// Parameters of a lookup run: the network, then the lookups.
#[derive(Clone, Debug)]
pub struct LookupParams {
    /// The network and how it joins.
    pub network: NetworkParams,
    /// Lookups to run after the bootstrap.
    pub lookups: usize,
    /// Lookups started together.
    pub concurrency: usize,
}

impl LookupParams {
    /// `n` nodes ([`NetworkParams::new`]), `lookups` lookups, 32 at a time.
    pub fn new(n: usize, seed: u64, lookups: usize) -> Self {
        Self {
            network: NetworkParams::new(n, seed),
            lookups,
            concurrency: 32,
        }
    }
}

/// What one lookup did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LookupSample {
    /// The searching node.
    pub node: usize,
    /// Whether the result was the true k closest.
    pub success: bool,
    /// Hops (`LookupStats::rounds`).
    pub hops: u32,
    /// Requests sent.
    pub requests: u64,
    /// Virtual time from command to `LookupFinished`.
    pub latency: Duration,
    /// The lookup's result, nearest first.
    pub closest: Vec<Address>,
    /// Its target.
    pub target: Address,
}

/// The outcome of a run.
#[derive(Clone, Debug)]
pub struct LookupReport {
    /// The parameters.
    pub params: LookupParams,
    /// One entry per lookup that finished.
    pub samples: Vec<LookupSample>,
    /// Lookups that never finished.
    pub unfinished: usize,
    /// Nodes whose routing table was empty after the bootstrap.
    pub empty_tables: usize,
    /// Virtual time the bootstrap took.
    pub bootstrap_time: Duration,
    /// Transmissions during the bootstrap.
    pub bootstrap_transmissions: u64,
    /// Dials during the bootstrap.
    pub bootstrap_dials: u64,
    /// What the bootstraps reported.
    pub bootstrap: BootstrapSummary,
    /// Counters at the end.
    pub stats: SimStats,
    /// Messages all engines sent (a transmission batches one or more).
    pub messages: u64,
    /// The engines' counters, summed over the nodes.
    pub engines: shoutnet_engine::Stats,
    /// Virtual time at the end.
    pub elapsed: Duration,
    /// The run's trace hash.
    pub trace_hash: [u8; 32],
}

/// Runs the scenario from `epoch`, reporting progress lines to `progress`.
pub fn run(
    params: &LookupParams,
    epoch: Instant,
    progress: &mut dyn FnMut(&str),
) -> Result<LookupReport, ScenarioError> {
    let Joined {
        mut sim,
        max_steps,
        bootstrap,
        bootstrap_time,
        bootstrap_transmissions,
        bootstrap_dials,
        empty_tables,
    } = join(&params.network, epoch, progress)?;
    let n = params.network.n;

    // The k closest among all nodes, sorted by distance, to check against.
    let addresses: Vec<Address> = (0..n).map(|i| sim.node(i).local_address()).collect();
    let mut samples = Vec::with_capacity(params.lookups);
    let mut unfinished = 0;
    let mut done = 0;
    let mut next_report = 1;
    while done < params.lookups {
        let round = params.concurrency.max(1).min(params.lookups - done);
        let mut pending: Vec<(usize, CommandId, Address, Instant)> = Vec::with_capacity(round);
        // Counted before the commands: a lookup from an empty routing
        // table finishes inside its command.
        let goal = sim.stats().lookups_finished + round as u64;
        for _ in 0..round {
            let node = usize::try_from(sim.rng().next_u64() % n as u64).unwrap_or(0);
            let mut target = [0u8; 32];
            sim.rng().fill_bytes(&mut target);
            let target = Address(target);
            let id = sim.command(node, Command::FindNode { target });
            pending.push((node, id, target, sim.now()));
        }
        sim.run_while(max_steps, |s| s.stats().lookups_finished < goal)?;
        let finished = sim.take_finished();
        for (node, id, target, start) in pending {
            let hit = finished.iter().find_map(|e| match &e.event {
                Event::LookupFinished {
                    id: got,
                    closest,
                    stats,
                    ..
                } if e.node == node && *got == id => Some((e.at, closest, stats)),
                _ => None,
            });
            let Some((at, closest, stats)) = hit else {
                unfinished += 1;
                continue;
            };
            let truth = brute_force(&addresses, node, &target, params.network.k);
            samples.push(LookupSample {
                node,
                success: *closest == truth,
                hops: stats.rounds,
                requests: stats.requests,
                latency: (epoch + at).saturating_duration_since(start),
                closest: closest.clone(),
                target,
            });
        }
        done += round;
        if next_report <= 10 && done * 10 >= params.lookups * next_report {
            next_report = done * 10 / params.lookups + 1;
            progress(&format!("lookups: {done}/{}", params.lookups));
        }
    }
    Ok(LookupReport {
        params: params.clone(),
        samples,
        unfinished,
        empty_tables,
        bootstrap_time,
        bootstrap_transmissions,
        bootstrap_dials,
        bootstrap,
        stats: sim.stats(),
        messages: (0..n).map(|i| sim.node(i).stats().messages_sent).sum(),
        engines: sim.engine_stats(),
        elapsed: sim.elapsed(),
        trace_hash: sim.trace_hash(),
    })
}

/// The `k` addresses of `all` other than `all[searcher]` closest to
/// `target`, nearest first.
pub fn brute_force(all: &[Address], searcher: usize, target: &Address, k: usize) -> Vec<Address> {
    let mut others: Vec<Address> = all
        .iter()
        .enumerate()
        .filter(|&(i, _)| i != searcher)
        .map(|(_, a)| *a)
        .collect();
    if others.len() > k && k > 0 {
        others.select_nth_unstable_by_key(k - 1, |a| a.distance(target));
        others.truncate(k);
    }
    others.sort_by_key(|a| a.distance(target));
    others.truncate(k);
    others
}

impl LookupReport {
    /// Share of finished-or-not lookups that found the true k closest, in
    /// percent.
    pub fn success_rate(&self) -> f64 {
        let total = self.samples.len() + self.unfinished;
        if total == 0 {
            return 0.0;
        }
        let ok = self.samples.iter().filter(|s| s.success).count();
        100.0 * ok as f64 / total as f64
    }

    /// The report as a markdown table (header and one row). `wall` and
    /// `peak_kib` come from the caller, who may read clocks and `/proc`.
    pub fn table(&self, wall: Duration, peak_kib: Option<u64>) -> String {
        let mut hops: Vec<u32> = self.samples.iter().map(|s| s.hops).collect();
        let mut requests: Vec<u64> = self.samples.iter().map(|s| s.requests).collect();
        let mut latency: Vec<Duration> = self.samples.iter().map(|s| s.latency).collect();
        hops.sort_unstable();
        requests.sort_unstable();
        latency.sort_unstable();
        let q = |v: Option<String>| v.unwrap_or_else(|| "-".into());
        let three = |p50: Option<String>, p99: Option<String>, max: Option<String>| {
            format!("{}/{}/{}", q(p50), q(p99), q(max))
        };
        let ms = |d: Option<Duration>| d.map(|d| format!("{:.0}", d.as_secs_f64() * 1000.0));
        let n = self.params.network.n;
        format!(
            "| n | lookups | success % | hops p50/p99/max | requests p50/p99/max | log2(n) | latency p50/p99 (ms) | messages/node | tx/node | bootstrap tx/node | virtual time (s) | wall (s) | peak RSS (MiB) |\n\
             |---|---|---|---|---|---|---|---|---|---|---|---|---|\n\
             | {n} | {} | {:.1} | {} | {} | {:.1} | {}/{} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {} |\n",
            self.samples.len() + self.unfinished,
            self.success_rate(),
            three(
                percentile(&hops, 0.5).map(|v| v.to_string()),
                percentile(&hops, 0.99).map(|v| v.to_string()),
                hops.last().map(|v| v.to_string())
            ),
            three(
                percentile(&requests, 0.5).map(|v| v.to_string()),
                percentile(&requests, 0.99).map(|v| v.to_string()),
                requests.last().map(|v| v.to_string())
            ),
            (n.max(1) as f64).log2(),
            q(ms(percentile(&latency, 0.5))),
            q(ms(percentile(&latency, 0.99))),
            self.messages as f64 / n.max(1) as f64,
            self.stats.transmissions as f64 / n.max(1) as f64,
            self.bootstrap_transmissions as f64 / n.max(1) as f64,
            self.elapsed.as_secs_f64(),
            wall.as_secs_f64(),
            peak_kib.map_or_else(|| "-".into(), |k| format!("{:.0}", k as f64 / 1024.0)),
        )
    }
}

//! The `lookup` scenario (ARCHITECTURE.md, "Deterministic simulation";
//! measures the iterative lookup of docs/design.md §13 / docs/PROTOCOL.md
//! §8.7): `n` nodes bootstrap through a few seed nodes, then random nodes
//! look up random targets, and each result is checked against the
//! brute-force k closest.

use std::time::{Duration, Instant};

use rand_core::RngCore;
use shoutnet_crypto::Address;
use shoutnet_engine::{Command, CommandId, Event};

use shoutnet_crypto::Keypair;

use crate::{ChannelMode, Error, Latency, Livelock, LossModel, Sim, SimConfig, SimStats, addr};

/// Parameters of a lookup run.
#[derive(Clone, Debug)]
pub struct LookupParams {
    /// Nodes.
    pub n: usize,
    /// Master seed.
    pub seed: u64,
    /// Lookups to run after the bootstrap.
    pub lookups: usize,
    /// Seed nodes (nodes `0..seeds`) every other node bootstraps through.
    pub seeds: usize,
    /// Kademlia k.
    pub k: usize,
    /// Loss rate.
    pub loss: f64,
    /// What a loss does.
    pub loss_model: LossModel,
    /// The nodes' keys (see [`SimConfig::set_keys`]); `None` derives
    /// ed25519 keys from the seed.
    pub keys: Option<Vec<Keypair>>,
    /// Link latency.
    pub latency: Latency,
    /// Lookups started together.
    pub concurrency: usize,
    /// Nodes that start their bootstrap together.
    pub batch: usize,
    /// Virtual time between bootstrap batches.
    pub batch_interval: Duration,
    /// The engines' bootstrap refresh threshold.
    pub refresh_below: usize,
    /// The secure channel connections run.
    pub channel: ChannelMode,
}

impl LookupParams {
    /// `n` nodes, `lookups` lookups: 3 seeds, k = 20, no loss, links of
    /// 10–100 ms, 32 lookups at a time, bootstrap batches of 50 every
    /// 100 ms.
    pub fn new(n: usize, seed: u64, lookups: usize) -> Self {
        Self {
            n,
            seed,
            lookups,
            seeds: 3,
            k: shoutnet_kad::KadConfig::DEFAULT_K,
            loss: 0.0,
            loss_model: LossModel::Retransmit,
            keys: None,
            latency: Latency::Uniform {
                min: Duration::from_millis(10),
                max: Duration::from_millis(100),
            },
            concurrency: 32,
            batch: 50,
            batch_interval: Duration::from_millis(100),
            refresh_below: shoutnet_engine::EngineConfig::DEFAULT_BOOTSTRAP_REFRESH_BELOW,
            channel: ChannelMode::default(),
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

/// The `Event::BootstrapFinished` reports of a run, summed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BootstrapSummary {
    /// Bootstraps that finished.
    pub nodes: u64,
    /// Lookups they ran (self-lookups and bucket refreshes).
    pub lookups: u64,
    /// Requests those lookups sent.
    pub requests: u64,
    /// Routing-table entries when each finished.
    pub table_entries: u64,
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

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScenarioError {
    /// The simulator could not be built.
    #[error(transparent)]
    Sim(#[from] Error),
    /// A phase never finished.
    #[error(transparent)]
    Livelock(#[from] Livelock),
}

/// Runs the scenario from `epoch`, reporting progress lines to `progress`.
pub fn run(
    params: &LookupParams,
    epoch: Instant,
    progress: &mut dyn FnMut(&str),
) -> Result<LookupReport, ScenarioError> {
    let mut config = SimConfig::new(params.n, params.seed);
    config
        .set_k(params.k)
        .set_loss(params.loss)
        .set_loss_model(params.loss_model)
        .set_keys(params.keys.clone())
        .set_latency(params.latency)
        .set_keep_log(false)
        .set_refresh_below(params.refresh_below)
        .set_channel(params.channel);
    // Every node joins through the first few, a flash crowd of hundreds of
    // handshakes a second: those seed nodes are configured for it, as a
    // network's seeds would be. The other nodes keep the engine's
    // admission limits.
    let seeds = params.seeds.max(1);
    config.set_configure(std::sync::Arc::new(move |i, engine| {
        if i < seeds {
            engine
                .set_max_inbound(usize::MAX)
                .set_max_handshaking(usize::MAX)
                .set_handshake_rate(shoutnet_engine::Rate::new(1_000_000, 1_000_000));
        }
    }));
    let max_steps = config.max_steps();
    let mut sim = Sim::new(config, epoch)?;
    let n = params.n;

    // Bootstrap in batches, every node through the seed nodes below it.
    let batch = params.batch.max(1);
    let mut started = 0u64;
    let mut next_report = 1;
    for (b, chunk) in (1..n).collect::<Vec<_>>().chunks(batch).enumerate() {
        let at = epoch + params.batch_interval * u32::try_from(b).unwrap_or(u32::MAX);
        sim.run_until(at);
        for &i in chunk {
            let seed_addrs = (0..seeds.min(i)).map(addr).collect();
            sim.command(i, Command::Bootstrap { seeds: seed_addrs });
            started += 1;
        }
        if next_report <= 10 && started * 10 >= (n as u64 - 1) * next_report {
            next_report = started * 10 / (n as u64 - 1) + 1;
            progress(&format!(
                "bootstrap: {started}/{} started at {:?} virtual, {} finished",
                n - 1,
                sim.elapsed(),
                sim.stats().bootstraps_finished
            ));
        }
    }
    sim.run_while(max_steps, |s| s.stats().bootstraps_finished < started)?;
    let mut bootstrap = BootstrapSummary::default();
    for e in sim.take_finished() {
        if let Event::BootstrapFinished {
            lookups,
            stats,
            table_len,
            ..
        } = e.event
        {
            bootstrap.nodes += 1;
            bootstrap.lookups += lookups as u64;
            bootstrap.requests += stats.requests;
            bootstrap.table_entries += table_len as u64;
        }
    }
    let bootstrap_time = sim.elapsed();
    let bootstrap_transmissions = sim.stats().transmissions;
    let bootstrap_dials = sim.stats().dials;
    let empty_tables = (0..n)
        .filter(|&i| sim.node(i).routing_table().is_empty())
        .count();
    progress(&format!(
        "bootstrap done at {bootstrap_time:?} virtual; {empty_tables} empty routing tables"
    ));

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
            let truth = brute_force(&addresses, node, &target, params.k);
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

/// The nearest-rank `q` quantile of sorted `values` (`None` if empty).
pub fn percentile<T: Copy>(sorted: &[T], q: f64) -> Option<T> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len()) - 1).copied()
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
        let n = self.params.n;
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

//! The `dht` scenario (docs/PROTOCOL.md §9.8): `n` nodes join and settle;
//! random nodes put distinct keys (`key-<i>`, random values), a bounded
//! number at a time; then random nodes get random put keys. Optionally a
//! share of the nodes (never the seeds) crashes silently after the puts,
//! or a reserved share that did not bootstrap joins after them, and the
//! same gets run again.
//!
//! Every operation is measured from its own `PutFinished` / `GetFinished`
//! event: a put succeeds if at least one node stored it
//! (`PutReport::stored`, which counts the publisher's own copy), a get if
//! it found the value that was put. Requests per put are its lookup's
//! `LookupStats::requests` plus one `STORE` per node it settled with
//! (`stored + conflicts + failed`, so a copy the publisher keeps itself
//! counts as one); per get, its lookup's requests. Latency runs from the
//! command to the event, in virtual time. An operation whose event has not
//! come within [`OP_LIMIT`] (far past the engine's own request timeouts,
//! which end every operation), or that the engine refused
//! (`CommandFailed`), counts as failed and unfinished.
//!
//! The events come from [`Sim::take_finished`] ([`await_finished`]); the
//! network is built by [`join`], the reserved nodes held back as its
//! [`late`](NetworkParams::late) ones and joined by [`join_late`].

use std::ops::Range;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rand_core::RngCore;
use shoutnet_engine::{Command, CommandError, Event};
use shoutnet_wire::Value;

use super::join::{NetworkParams, join, join_late};
use super::{ScenarioError, await_finished, percentile};
use crate::{LoggedEvent, Sim};

/// Virtual time an operation may take before it counts as unfinished.
pub const OP_LIMIT: Duration = Duration::from_secs(300);

/// Parameters of a DHT run: the network, then the operations.
#[derive(Clone, Debug)]
pub struct DhtParams {
    /// The network and how it joins.
    pub network: NetworkParams,
    /// Puts, each of its own key.
    pub puts: usize,
    /// Gets of put keys, in each get phase.
    pub gets: usize,
    /// Operations started together.
    pub concurrency: usize,
    /// Bytes of each value.
    pub value_size: usize,
    /// Virtual time after the bootstrap before the puts.
    pub settle: Duration,
    /// Share of the nodes (never the seeds) that crash silently after the
    /// puts, before the gets run again.
    pub crash: f64,
    /// Share of the nodes (the last ones) that do not bootstrap until the
    /// puts are done, after which the gets run again. The run sets
    /// `network.late` to [`reserved`](Self::reserved).
    pub join: f64,
    /// Virtual time after a crash or a late join before the gets rerun.
    pub recover: Duration,
}

impl DhtParams {
    /// `n` nodes ([`NetworkParams::new`]), `puts` puts of 100-byte values
    /// and `gets` gets, 32 at a time, 30 s after the bootstrap; no crash,
    /// no late join, 60 s of recovery.
    pub fn new(n: usize, seed: u64, puts: usize, gets: usize) -> Self {
        Self {
            network: NetworkParams::new(n, seed),
            puts,
            gets,
            concurrency: 32,
            value_size: 100,
            settle: Duration::from_secs(30),
            crash: 0.0,
            join: 0.0,
            recover: Duration::from_secs(60),
        }
    }

    /// Nodes held back from the bootstrap: ceil(n·join), at most the
    /// non-seed nodes.
    pub fn reserved(&self) -> usize {
        let n = self.network.n;
        ((self.join * n as f64).ceil() as usize).min(n.saturating_sub(self.network.seeds.max(1)))
    }
}

/// What one operation did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpSample {
    /// The node that ran it.
    pub node: usize,
    /// The key's index (`key-<i>`).
    pub key: usize,
    /// Whether its `PutFinished` or `GetFinished` event came.
    pub finished: bool,
    /// Why the engine refused the command (`CommandFailed`), if it did.
    pub failed: Option<CommandError>,
    /// A put stored on at least one node; a get found the value put.
    pub success: bool,
    /// Requests it sent (see the module doc).
    pub requests: u64,
    /// Virtual time from the command to its event.
    pub latency: Duration,
    /// Puts: nodes that stored it. Gets: nodes that answered with it.
    pub replicas: usize,
}

/// The outcome of one phase: one row of the table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PhaseReport {
    /// The phase's name: `put`, `get`, `get after 10% crashed`, ...
    pub label: String,
    /// Whether it ran puts (else gets).
    pub puts: bool,
    /// Nodes in the network (joined and up) during the phase.
    pub nodes: usize,
    /// One entry per operation, in order.
    pub samples: Vec<OpSample>,
    /// Virtual time the phase took.
    pub duration: Duration,
}

/// A run in progress, phase by phase (the command line times each).
#[derive(Debug)]
pub struct DhtRun {
    /// The simulation.
    pub sim: Sim,
    params: DhtParams,
    max_steps: u64,
    /// Each key's value, by index.
    values: Vec<Bytes>,
    /// The gets, (node, key), as first drawn.
    gets: Vec<(usize, usize)>,
    /// Nodes joined and up.
    members: Vec<usize>,
    /// The reserved nodes not joined yet.
    reserved: Range<usize>,
}

impl DhtRun {
    /// Builds and joins the network (the reserved nodes held back), then
    /// lets it settle.
    pub fn new(
        params: &DhtParams,
        epoch: Instant,
        progress: &mut dyn FnMut(&str),
    ) -> Result<Self, ScenarioError> {
        let mut params = params.clone();
        params.network.late = params.reserved();
        let reserved = params.network.late_nodes();
        let joined = join(&params.network, epoch, progress)?;
        let mut sim = joined.sim;
        let settled = sim.now() + params.settle;
        sim.run_until(settled);
        Ok(Self {
            sim,
            params,
            max_steps: joined.max_steps,
            values: Vec::new(),
            gets: Vec::new(),
            members: (0..reserved.start).collect(),
            reserved,
        })
    }

    /// Puts `params.puts` keys from random members, then draws the gets.
    pub fn puts(&mut self, progress: &mut dyn FnMut(&str)) -> Result<PhaseReport, ScenarioError> {
        let mut ops = Vec::with_capacity(self.params.puts);
        for i in 0..self.params.puts {
            let mut value = vec![0u8; self.params.value_size];
            self.sim.rng().fill_bytes(&mut value);
            let value = Bytes::from(value);
            self.values.push(value.clone());
            let (key, value) = (key(i), Value::Bin(value));
            let command = Command::Put {
                key,
                value,
                version: None,
                ttl: None,
            };
            ops.push((pick(&mut self.sim, &self.members), i, command));
        }
        let report = self.phase("put".into(), ops, progress)?;
        let puts = self.values.len().max(1) as u64;
        for _ in 0..self.params.gets {
            let node = pick(&mut self.sim, &self.members);
            let key = usize::try_from(self.sim.rng().next_u64() % puts).unwrap_or(0);
            self.gets.push((node, key));
        }
        Ok(report)
    }

    /// Runs the gets drawn after the puts; a getter that is down is
    /// replaced by a random member.
    pub fn gets(&mut self, progress: &mut dyn FnMut(&str)) -> Result<PhaseReport, ScenarioError> {
        self.get_phase("get".into(), progress)
    }

    /// Crashes `params.crash` of the nodes silently (never the seeds), lets
    /// `params.recover` pass, and runs the gets again.
    pub fn gets_after_crash(
        &mut self,
        progress: &mut dyn FnMut(&str),
    ) -> Result<PhaseReport, ScenarioError> {
        let seeds = self.params.network.seeds.max(1);
        let count = ((self.params.crash * self.params.network.n as f64).round() as usize)
            .min(self.members.len().saturating_sub(seeds));
        for _ in 0..count {
            // Members start with the seeds, and only later ones leave.
            let others = (self.members.len() - seeds) as u64;
            let at = seeds + usize::try_from(self.sim.rng().next_u64() % others).unwrap_or(0);
            let node = self.members.remove(at);
            self.sim.crash_silently(node);
        }
        progress(&format!("{count} nodes crashed silently"));
        let until = self.sim.now() + self.params.recover;
        self.sim.run_until(until);
        let label = format!("get after {:.0}% crashed", 100.0 * self.params.crash);
        self.get_phase(label, progress)
    }

    /// Bootstraps the reserved nodes, lets `params.recover` pass (for
    /// re-replication), and runs the gets again.
    pub fn gets_after_join(
        &mut self,
        progress: &mut dyn FnMut(&str),
    ) -> Result<PhaseReport, ScenarioError> {
        let nodes = std::mem::replace(&mut self.reserved, 0..0);
        if !nodes.is_empty() {
            join_late(&mut self.sim, &self.params.network, progress)?;
        }
        self.members.extend(nodes);
        let until = self.sim.now() + self.params.recover;
        self.sim.run_until(until);
        let label = format!("get after {:.0}% joined", 100.0 * self.params.join);
        self.get_phase(label, progress)
    }

    fn get_phase(
        &mut self,
        label: String,
        progress: &mut dyn FnMut(&str),
    ) -> Result<PhaseReport, ScenarioError> {
        let mut ops = Vec::with_capacity(self.gets.len());
        for g in 0..self.gets.len() {
            let (mut node, k) = self.gets[g];
            if !self.sim.is_up(node) {
                node = pick(&mut self.sim, &self.members);
            }
            ops.push((node, k, Command::Get { key: key(k) }));
        }
        self.phase(label, ops, progress)
    }

    /// Runs `ops` (node, key, command), `params.concurrency` at a time.
    fn phase(
        &mut self,
        label: String,
        ops: Vec<(usize, usize, Command)>,
        progress: &mut dyn FnMut(&str),
    ) -> Result<PhaseReport, ScenarioError> {
        let start = self.sim.now();
        let total = ops.len();
        let mut samples = Vec::with_capacity(total);
        let mut ops = ops.into_iter().peekable();
        let mut next_report = 1;
        while ops.peek().is_some() {
            let mut pending = Vec::new();
            for (node, key, command) in ops.by_ref().take(self.params.concurrency.max(1)) {
                let id = self.sim.command(node, command);
                pending.push((node, id, key, self.sim.now()));
            }
            let ids: Vec<_> = pending.iter().map(|&(node, id, ..)| (node, id)).collect();
            let events = await_finished(&mut self.sim, &ids, OP_LIMIT, self.max_steps)?;
            for ((node, _, key, at), event) in pending.into_iter().zip(events) {
                samples.push(self.sample(node, key, at, event));
            }
            if next_report <= 10 && samples.len() * 10 >= total * next_report {
                next_report = samples.len() * 10 / total + 1;
                progress(&format!("{label}: {}/{total}", samples.len()));
            }
        }
        Ok(PhaseReport {
            puts: label == "put",
            label,
            nodes: self.members.len(),
            samples,
            duration: self.sim.now() - start,
        })
    }

    fn sample(&self, node: usize, key: usize, start: Instant, e: Option<LoggedEvent>) -> OpSample {
        let mut s = OpSample {
            node,
            key,
            finished: false,
            failed: None,
            success: false,
            requests: 0,
            latency: Duration::ZERO,
            replicas: 0,
        };
        let Some(e) = e else { return s };
        let latency = (self.sim.epoch() + e.at).saturating_duration_since(start);
        s.finished = matches!(
            e.event,
            Event::PutFinished { .. } | Event::GetFinished { .. }
        );
        if s.finished {
            s.latency = latency;
        }
        match e.event {
            Event::CommandFailed { error, .. } => s.failed = Some(error),
            Event::PutFinished { report: r, .. } => {
                let conflicts = r.conflict.map_or(0, |(c, _)| c);
                s.success = r.stored >= 1;
                s.requests = r.lookup.requests + (r.stored + conflicts + r.failed) as u64;
                s.replicas = r.stored;
            }
            Event::GetFinished { found, stats, .. } => {
                s.requests = stats.requests;
                if let Some(found) = found {
                    let want = self.values.get(key).map(|v| Value::Bin(v.clone()));
                    s.success = want.as_ref() == Some(&found.value);
                    s.replicas = found.replicas;
                }
            }
            _ => {}
        }
        s
    }
}

/// Runs the whole scenario: the puts, the gets, then the gets after a
/// crash and after a late join if `params` asks for them; one report per
/// phase.
pub fn run(
    params: &DhtParams,
    epoch: Instant,
    progress: &mut dyn FnMut(&str),
) -> Result<Vec<PhaseReport>, ScenarioError> {
    let mut run = DhtRun::new(params, epoch, progress)?;
    let mut phases = vec![run.puts(progress)?, run.gets(progress)?];
    if params.crash > 0.0 {
        phases.push(run.gets_after_crash(progress)?);
    }
    if params.reserved() > 0 {
        phases.push(run.gets_after_join(progress)?);
    }
    Ok(phases)
}

/// The DHT key of index `i`.
pub fn key(i: usize) -> Bytes {
    Bytes::from(format!("key-{i}"))
}

/// One of `nodes`, drawn from the simulation's random numbers.
fn pick(sim: &mut Sim, nodes: &[usize]) -> usize {
    let i = usize::try_from(sim.rng().next_u64() % nodes.len().max(1) as u64).unwrap_or(0);
    nodes.get(i).copied().unwrap_or(0)
}

impl PhaseReport {
    /// Operations that succeeded over all of them, in percent.
    pub fn success_rate(&self) -> f64 {
        let ok = self.samples.iter().filter(|s| s.success).count();
        100.0 * ok as f64 / self.samples.len().max(1) as f64
    }

    /// Operations whose event never came, refused ones included.
    pub fn unfinished(&self) -> usize {
        self.samples.iter().filter(|s| !s.finished).count()
    }

    /// Mean replicas over the finished operations (puts: nodes that
    /// stored; gets: nodes that answered with the value).
    pub fn mean_replicas(&self) -> f64 {
        let finished: Vec<_> = self.samples.iter().filter(|s| s.finished).collect();
        let sum: usize = finished.iter().map(|s| s.replicas).sum();
        sum as f64 / finished.len().max(1) as f64
    }

    /// The header of [`row`](Self::row)'s table.
    pub fn header() -> &'static str {
        "| phase | nodes up | ops | success % | unfinished | requests/op p50/p99 | libp2p requests/op (n=100–200) | latency p50/p99 (ms) | replicas mean | wall (s) | peak RSS (MiB) |\n\
         |---|---|---|---|---|---|---|---|---|---|---|\n"
    }

    /// The phase as one row of a markdown table. `wall` and `peak_kib`
    /// come from the caller, who may read clocks and `/proc`.
    pub fn row(&self, wall: Duration, peak_kib: Option<u64>) -> String {
        let finished: Vec<_> = self.samples.iter().filter(|s| s.finished).collect();
        let mut requests: Vec<u64> = finished.iter().map(|s| s.requests).collect();
        let mut latency: Vec<Duration> = finished.iter().map(|s| s.latency).collect();
        requests.sort_unstable();
        latency.sort_unstable();
        let dash = || "-".to_owned();
        let num = |v: Option<u64>| v.map_or_else(dash, |v| v.to_string());
        let ms = |d: Option<Duration>| {
            d.map_or_else(dash, |d| format!("{:.0}", d.as_secs_f64() * 1000.0))
        };
        format!(
            "| {} | {} | {} | {:.1} | {} | {}/{} | {} | {}/{} | {:.1} | {:.1} | {} |\n",
            self.label,
            self.nodes,
            self.samples.len(),
            self.success_rate(),
            self.unfinished(),
            num(percentile(&requests, 0.5)),
            num(percentile(&requests, 0.99)),
            if self.puts { "47–56" } else { "3" },
            ms(percentile(&latency, 0.5)),
            ms(percentile(&latency, 0.99)),
            self.mean_replicas(),
            wall.as_secs_f64(),
            peak_kib.map_or_else(dash, |k| format!("{:.0}", k as f64 / 1024.0)),
        )
    }
}

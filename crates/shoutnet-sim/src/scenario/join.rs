//! Building a network and joining it (ARCHITECTURE.md, "Deterministic
//! simulation"; the join of docs/PROTOCOL.md §9.5): the first phase of
//! every scenario. `n` nodes bootstrap in batches through a few seed nodes;
//! the last [`late`](NetworkParams::late) of them may be held back and
//! join later ([`join_late`]).

use std::ops::Range;
use std::time::{Duration, Instant};

use shoutnet_crypto::Keypair;
use shoutnet_engine::{Command, Event};

use super::ScenarioError;
use crate::{ChannelMode, Latency, LossModel, Sim, SimConfig, addr};

/// The network of a scenario and how it joins.
#[derive(Clone, Debug)]
pub struct NetworkParams {
    /// Nodes.
    pub n: usize,
    /// Master seed.
    pub seed: u64,
    /// Seed nodes (nodes `0..seeds`) every other node bootstraps through.
    pub seeds: usize,
    /// Kademlia k.
    pub k: usize,
    /// ℓ, the kept connections of every node.
    pub max_outbound: usize,
    /// Loss rate.
    pub loss: f64,
    /// What a loss does.
    pub loss_model: LossModel,
    /// The nodes' keys (see [`SimConfig::set_keys`]); `None` derives
    /// ed25519 keys from the seed.
    pub keys: Option<Vec<Keypair>>,
    /// Link latency.
    pub latency: Latency,
    /// Nodes that start their bootstrap together.
    pub batch: usize,
    /// Virtual time between bootstrap batches.
    pub batch_interval: Duration,
    /// The engines' bootstrap refresh threshold.
    pub refresh_below: usize,
    /// The secure channel connections run.
    pub channel: ChannelMode,
    /// How many of the nodes, the last ones, listen on no address: they
    /// dial out and are never dialled.
    pub dial_out_only: usize,
    /// How many of the nodes, the last ones, are created but not
    /// bootstrapped by [`join`]: [`join_late`] bootstraps them later.
    /// Counted from the end like [`dial_out_only`](Self::dial_out_only),
    /// the two overlap: the last `min(late, dial_out_only)` nodes are both.
    /// Node 0, which bootstraps through no one, is never late.
    pub late: usize,
    /// Nodes each DHT record is stored on
    /// ([`EngineConfig::set_record_replicas`](shoutnet_engine::EngineConfig::set_record_replicas)).
    pub replicas: usize,
}

impl NetworkParams {
    /// `n` nodes from `seed`: 3 seeds, k = 20, the engine's ℓ, no loss,
    /// links of 10–100 ms, bootstrap batches of 50 every 100 ms.
    pub fn new(n: usize, seed: u64) -> Self {
        Self {
            n,
            seed,
            seeds: 3,
            k: shoutnet_kad::KadConfig::DEFAULT_K,
            max_outbound: shoutnet_engine::EngineConfig::DEFAULT_MAX_OUTBOUND,
            loss: 0.0,
            loss_model: LossModel::Retransmit,
            keys: None,
            latency: Latency::Uniform {
                min: Duration::from_millis(10),
                max: Duration::from_millis(100),
            },
            batch: 50,
            batch_interval: Duration::from_millis(100),
            refresh_below: shoutnet_engine::EngineConfig::DEFAULT_BOOTSTRAP_REFRESH_BELOW,
            channel: ChannelMode::default(),
            dial_out_only: 0,
            late: 0,
            replicas: shoutnet_engine::EngineConfig::DEFAULT_RECORD_REPLICAS,
        }
    }

    /// The nodes [`join`] holds back for [`join_late`]: the last
    /// [`late`](Self::late), node 0 excepted.
    pub fn late_nodes(&self) -> Range<usize> {
        self.n.saturating_sub(self.late).max(1).min(self.n)..self.n
    }
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

/// A joined network.
#[derive(Debug)]
pub struct Joined {
    /// The simulation, every bootstrap finished (the late nodes' not
    /// started).
    pub sim: Sim,
    /// The step budget of each later phase.
    pub max_steps: u64,
    /// What the bootstraps reported.
    pub bootstrap: BootstrapSummary,
    /// Virtual time the bootstrap took.
    pub bootstrap_time: Duration,
    /// Transmissions during the bootstrap.
    pub bootstrap_transmissions: u64,
    /// Dials during the bootstrap.
    pub bootstrap_dials: u64,
    /// Nodes bootstrapped (late ones not counted) whose routing table was
    /// empty after the bootstrap.
    pub empty_tables: usize,
}

/// Builds the network of `params` at `epoch` and bootstraps every node
/// but the [`late`](NetworkParams::late) ones, reporting progress lines to
/// `progress`.
pub fn join(
    params: &NetworkParams,
    epoch: Instant,
    progress: &mut dyn FnMut(&str),
) -> Result<Joined, ScenarioError> {
    let mut config = SimConfig::new(params.n, params.seed);
    config
        .set_k(params.k)
        .set_max_outbound(params.max_outbound)
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
    let listening = params.n.saturating_sub(params.dial_out_only).max(seeds);
    let replicas = params.replicas;
    config.set_configure(std::sync::Arc::new(move |i, engine| {
        engine.set_record_replicas(replicas);
        if i >= listening {
            engine.set_listen(Vec::new());
        }
        if i < seeds {
            engine
                .set_max_inbound(usize::MAX)
                .set_max_handshaking(usize::MAX)
                .set_handshake_rate(shoutnet_engine::Rate::new(1_000_000, 1_000_000));
        }
    }));
    let max_steps = config.max_steps();
    let mut sim = Sim::new(config, epoch)?;
    let joining = params.late_nodes().start;
    let bootstrap = bootstrap(&mut sim, params, 1..joining, progress)?;
    let bootstrap_time = sim.elapsed();
    let empty_tables = (0..joining)
        .filter(|&i| sim.node(i).routing_table().is_empty())
        .count();
    progress(&format!(
        "bootstrap done at {bootstrap_time:?} virtual; {empty_tables} empty routing tables"
    ));
    Ok(Joined {
        bootstrap_transmissions: sim.stats().transmissions,
        bootstrap_dials: sim.stats().dials,
        sim,
        max_steps,
        bootstrap,
        bootstrap_time,
        empty_tables,
    })
}

/// Bootstraps the [`late`](NetworkParams::late) nodes of the network
/// [`join`] built from `params`, from now on as `join` bootstrapped the
/// others (in batches, each through the seed nodes below it), and waits
/// until every one has finished. Takes the events of
/// [`Sim::take_finished`], keeping only the late nodes'
/// `Event::BootstrapFinished` for the summary. Call it once; without late
/// nodes it does nothing.
pub fn join_late(
    sim: &mut Sim,
    params: &NetworkParams,
    progress: &mut dyn FnMut(&str),
) -> Result<BootstrapSummary, ScenarioError> {
    let nodes = params.late_nodes();
    if nodes.is_empty() {
        return Ok(BootstrapSummary::default());
    }
    let summary = bootstrap(sim, params, nodes.clone(), progress)?;
    let empty_tables = nodes
        .filter(|&i| sim.node(i).routing_table().is_empty())
        .count();
    progress(&format!(
        "late join of {} nodes done at {:?} virtual; {empty_tables} empty routing tables",
        summary.nodes,
        sim.elapsed()
    ));
    Ok(summary)
}

/// Bootstraps `nodes` from now, `params.batch` at a time every
/// `params.batch_interval`, each through the seed nodes below it, and
/// waits until every one has finished; sums their
/// `Event::BootstrapFinished` reports.
fn bootstrap(
    sim: &mut Sim,
    params: &NetworkParams,
    nodes: Range<usize>,
    progress: &mut dyn FnMut(&str),
) -> Result<BootstrapSummary, ScenarioError> {
    let seeds = params.seeds.max(1);
    let start = sim.now();
    let total = nodes.len() as u64;
    let before = sim.stats().bootstraps_finished;
    let _ = sim.take_finished();
    let mut started = 0u64;
    let mut next_report = 1;
    let batch = params.batch.max(1);
    for (b, chunk) in nodes.clone().collect::<Vec<_>>().chunks(batch).enumerate() {
        sim.run_until(start + params.batch_interval * u32::try_from(b).unwrap_or(u32::MAX));
        for &i in chunk {
            let seed_addrs = (0..seeds.min(i)).map(addr).collect();
            sim.command(i, Command::Bootstrap { seeds: seed_addrs });
            started += 1;
        }
        if next_report <= 10 && started * 10 >= total * next_report {
            next_report = started * 10 / total + 1;
            progress(&format!(
                "bootstrap: {started}/{total} started at {:?} virtual, {} finished",
                sim.elapsed(),
                sim.stats().bootstraps_finished - before
            ));
        }
    }
    let max_steps = sim.config().max_steps();
    sim.run_while(max_steps, |s| {
        s.stats().bootstraps_finished < before + total
    })?;
    let mut summary = BootstrapSummary::default();
    for e in sim.take_finished() {
        if let Event::BootstrapFinished {
            lookups,
            stats,
            table_len,
            ..
        } = e.event
            && nodes.contains(&e.node)
        {
            summary.nodes += 1;
            summary.lookups += lookups as u64;
            summary.requests += stats.requests;
            summary.table_entries += table_len as u64;
        }
    }
    Ok(summary)
}

//! The simulator's command line: `shoutnet-sim lookup --n N --lookups L`
//! prints the lookup table of ARCHITECTURE.md's simulation section,
//! `shoutnet-sim broadcast --n N --l 1,2,4,8` the broadcast table of
//! docs/reports/broadcast.md.

use std::time::{Duration, Instant};

use anyhow::Result;
use clap::{Parser, Subcommand};
use shoutnet_sim::scenario::broadcast::{self, BroadcastParams, BroadcastReport};
use shoutnet_sim::scenario::join::NetworkParams;
use shoutnet_sim::scenario::lookup::{self, LookupParams};
use shoutnet_sim::{ChannelMode, Latency, LossModel};

#[derive(Debug, Parser)]
#[command(name = "shoutnet-sim", about = "Deterministic shoutnet simulations")]
struct Cli {
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Debug, Subcommand)]
enum Scenario {
    /// Bootstrap n nodes, then look up random targets from random nodes.
    Lookup {
        #[command(flatten)]
        network: NetworkArgs,
        /// Lookups after the bootstrap.
        #[arg(long, default_value_t = 100)]
        lookups: usize,
        /// Lookups started together.
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
    },
    /// Bootstrap n nodes keeping ℓ connections each, then SHOUT from
    /// random nodes, one broadcast at a time. Several `--l` values print
    /// one row each.
    Broadcast {
        #[command(flatten)]
        network: NetworkArgs,
        /// ℓ, the kept connections of every node; a comma-separated list
        /// runs one network per value.
        #[arg(long, value_delimiter = ',', default_value = "4")]
        l: Vec<usize>,
        /// Broadcasts.
        #[arg(long, default_value_t = 100)]
        shouts: usize,
        /// Virtual milliseconds between broadcasts.
        #[arg(long, default_value_t = 1000)]
        interval_ms: u64,
        /// Share of the nodes that crash silently just before the first
        /// broadcast, in [0, 1).
        #[arg(long, default_value_t = 0.0)]
        crash: f64,
        /// Bytes each broadcast carries.
        #[arg(long, default_value_t = 256)]
        payload: usize,
        /// Print the table header.
        #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
        header: bool,
    },
}

/// The network every scenario builds and joins.
#[derive(Debug, clap::Args)]
struct NetworkArgs {
    /// Nodes.
    #[arg(long)]
    n: usize,
    /// Master seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Seed nodes.
    #[arg(long, default_value_t = 3)]
    seeds: usize,
    /// Kademlia k.
    #[arg(long, default_value_t = 20)]
    k: usize,
    /// Loss rate in [0, 1].
    #[arg(long, default_value_t = 0.0)]
    loss: f64,
    /// What a loss does: `retransmit` (TCP: delayed, in order) or
    /// `drop` (gone for good).
    #[arg(long, default_value = "retransmit", value_parser = parse_loss_model)]
    loss_model: LossModel,
    /// The secure channel: `trusted` (the simulator's stand-in, the
    /// default) or `noise` (X25519 and ChaCha20-Poly1305, as the runtime).
    #[arg(long, default_value = "trusted", value_parser = parse_channel)]
    channel: ChannelMode,
    /// After its self-lookup, a bootstrapping node refreshes the buckets
    /// with fewer entries than this.
    #[arg(long, default_value_t = shoutnet_engine::EngineConfig::DEFAULT_BOOTSTRAP_REFRESH_BELOW)]
    refresh_below: usize,
    /// Link latency in milliseconds: `MIN-MAX` draws each link's
    /// uniformly, `MS` gives every link the same.
    #[arg(long, default_value = "10-100", value_parser = parse_latency)]
    latency_ms: Latency,
}

impl NetworkArgs {
    fn params(&self) -> NetworkParams {
        let mut params = NetworkParams::new(self.n, self.seed);
        params.seeds = self.seeds;
        params.k = self.k;
        params.loss = self.loss;
        params.loss_model = self.loss_model;
        params.refresh_below = self.refresh_below;
        params.channel = self.channel;
        params.latency = self.latency_ms;
        params
    }
}

fn parse_channel(s: &str) -> Result<ChannelMode, String> {
    match s {
        "trusted" => Ok(ChannelMode::Trusted),
        "noise" => Ok(ChannelMode::Noise),
        other => Err(format!("{other:?}: expected `trusted` or `noise`")),
    }
}

fn parse_latency(s: &str) -> Result<Latency, String> {
    let ms = |v: &str| {
        v.trim()
            .parse::<u64>()
            .map(Duration::from_millis)
            .map_err(|e| format!("{v:?}: {e}"))
    };
    match s.split_once('-') {
        Some((min, max)) => {
            let (min, max) = (ms(min)?, ms(max)?);
            if min > max {
                return Err(format!("{s:?}: the minimum is above the maximum"));
            }
            Ok(Latency::Uniform { min, max })
        }
        None => Ok(Latency::Constant(ms(s)?)),
    }
}

fn parse_loss_model(s: &str) -> Result<LossModel, String> {
    match s {
        "retransmit" => Ok(LossModel::Retransmit),
        "drop" => Ok(LossModel::Drop),
        other => Err(format!("{other:?}: expected `retransmit` or `drop`")),
    }
}

/// Peak resident memory from `/proc/self/status`, in KiB (Linux only).
fn peak_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    #[allow(clippy::disallowed_methods)] // The one clock read: epoch and wall time.
    let start = Instant::now();
    let mut progress = |line: &str| {
        let wall: Duration = start.elapsed();
        eprintln!("[{:.1}s] {line}", wall.as_secs_f64());
    };
    match cli.scenario {
        Scenario::Lookup {
            network,
            lookups,
            concurrency,
        } => {
            let params = LookupParams {
                network: network.params(),
                lookups,
                concurrency,
            };
            let report = lookup::run(&params, start, &mut progress)?;
            print_lookup(&report, start.elapsed());
        }
        Scenario::Broadcast {
            network,
            l,
            shouts,
            interval_ms,
            crash,
            payload,
            header,
        } => {
            anyhow::ensure!(
                (0.0..1.0).contains(&crash),
                "--crash {crash}: expected a share in [0, 1)"
            );
            if header {
                print!("{}", BroadcastReport::header());
            }
            for l in l {
                #[allow(clippy::disallowed_methods)] // Wall time of this row.
                let row_start = Instant::now();
                let mut params = BroadcastParams::new(network.n, network.seed, l, shouts);
                params.network = network.params();
                params.network.max_outbound = l;
                params.interval = Duration::from_millis(interval_ms);
                params.crash = crash;
                params.payload = payload;
                let report = broadcast::run(&params, row_start, &mut progress)?;
                print!("{}", report.row(row_start.elapsed(), peak_kib()));
                let e = report.engines;
                eprintln!(
                    "ℓ = {l}: {} delivered twice, {} forged, {} off kept connections, {} over origin budgets, {} rate-limited; {} live nodes short of ℓ kept; trace hash {}",
                    report
                        .samples
                        .iter()
                        .map(|s| s.delivered_twice)
                        .sum::<usize>(),
                    e.shouts_forged,
                    e.shouts_off_kept,
                    e.shouts_over_origin_budget,
                    e.rate_limited,
                    report.short_of_kept,
                    hex(&report.trace_hash),
                );
            }
        }
    }
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn print_lookup(report: &lookup::LookupReport, wall: Duration) {
    print!("{}", report.table(wall, peak_kib()));
    let stats = report.stats;
    let b = report.bootstrap;
    let per = |x: u64| x as f64 / b.nodes.max(1) as f64;
    println!();
    let e = report.engines;
    println!(
        "engines: {} inbound refused on arrival, {} handshakes refused, {} dial failures, {} requests rate-limited, {} closed for refusals",
        e.refused_inbound,
        e.refused_handshakes,
        e.dial_failures,
        e.rate_limited,
        e.refusals_over_budget,
    );
    println!(
        "bootstrap per node: {:.1} lookups, {:.1} requests, {:.1} dials, {:.1} routing-table entries at the end",
        per(b.lookups),
        per(b.requests),
        per(report.bootstrap_dials),
        per(b.table_entries),
    );
    println!(
        "steps: {} ({:.0}/s wall), transmissions: {} ({} lost, {} delivered), dials: {}, connects: {}, unfinished lookups: {}, empty routing tables: {}, bootstrap virtual time: {:.1} s, trace hash: {}",
        stats.steps,
        stats.steps as f64 / wall.as_secs_f64().max(1e-9),
        stats.transmissions,
        stats.lost,
        stats.delivered,
        stats.dials,
        stats.connects,
        report.unfinished,
        report.empty_tables,
        report.bootstrap_time.as_secs_f64(),
        hex(&report.trace_hash),
    );
}

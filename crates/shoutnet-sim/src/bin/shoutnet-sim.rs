//! The simulator's command line: `shoutnet-sim lookup --n N --seed S
//! --lookups L` prints the lookup table of ARCHITECTURE.md's simulation
//! section.

use std::time::{Duration, Instant};

use anyhow::Result;
use clap::{Parser, Subcommand};
use shoutnet_sim::scenario::lookup::{self, LookupParams};
use shoutnet_sim::{ChannelMode, LossModel};

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
        /// Nodes.
        #[arg(long)]
        n: usize,
        /// Master seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Lookups after the bootstrap.
        #[arg(long, default_value_t = 100)]
        lookups: usize,
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
        /// Lookups started together.
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
        /// The secure channel: `trusted` (the simulator's stand-in, the
        /// default) or `noise` (X25519 and ChaCha20-Poly1305, as the runtime).
        #[arg(long, default_value = "trusted", value_parser = parse_channel)]
        channel: ChannelMode,
        /// After its self-lookup, a bootstrapping node refreshes the buckets
        /// with fewer entries than this.
        #[arg(long, default_value_t = shoutnet_engine::EngineConfig::DEFAULT_BOOTSTRAP_REFRESH_BELOW)]
        refresh_below: usize,
    },
}

fn parse_channel(s: &str) -> Result<ChannelMode, String> {
    match s {
        "trusted" => Ok(ChannelMode::Trusted),
        "noise" => Ok(ChannelMode::Noise),
        other => Err(format!("{other:?}: expected `trusted` or `noise`")),
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
    match cli.scenario {
        Scenario::Lookup {
            n,
            seed,
            lookups,
            seeds,
            k,
            loss,
            loss_model,
            concurrency,
            channel,
            refresh_below,
        } => {
            let mut params = LookupParams::new(n, seed, lookups);
            params.seeds = seeds;
            params.k = k;
            params.loss = loss;
            params.loss_model = loss_model;
            params.concurrency = concurrency;
            params.refresh_below = refresh_below;
            params.channel = channel;
            #[allow(clippy::disallowed_methods)] // The one clock read: epoch and wall time.
            let start = Instant::now();
            let mut progress = |line: &str| {
                let wall: Duration = start.elapsed();
                eprintln!("[{:.1}s] {line}", wall.as_secs_f64());
            };
            let report = lookup::run(&params, start, &mut progress)?;
            let wall = start.elapsed();
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
                report
                    .trace_hash
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<String>(),
            );
        }
    }
    Ok(())
}

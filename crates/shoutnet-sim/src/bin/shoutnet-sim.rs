//! The simulator's command line: `shoutnet-sim lookup --n N --lookups L`
//! prints the lookup table of ARCHITECTURE.md's simulation section,
//! `shoutnet-sim broadcast --n N --l 1,2,4,8` the broadcast table of
//! docs/reports/broadcast.md, `shoutnet-sim whisper --n N --route all` one
//! row per WHISPER route and `shoutnet-sim dht --n N --crash 0.1 --join 0.1`
//! one row per DHT phase.

use std::time::{Duration, Instant};

use anyhow::Result;
use clap::{Parser, Subcommand};
use shoutnet_engine::WhisperRoute;
use shoutnet_sim::scenario::broadcast::{self, BroadcastParams, BroadcastReport};
use shoutnet_sim::scenario::dht::{DhtParams, DhtRun, PhaseReport};
use shoutnet_sim::scenario::join::NetworkParams;
use shoutnet_sim::scenario::lookup::{self, LookupParams};
use shoutnet_sim::scenario::whisper::{WhisperParams, WhisperReport, WhisperRun, route_name};
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
    /// Bootstrap n nodes, then WHISPER from random nodes to random others
    /// by one route, or by each in turn (`--route all`, one row each, on
    /// the same network). A row's wall time is its whispers'; the join's
    /// goes to stderr.
    Whisper {
        #[command(flatten)]
        network: NetworkArgs,
        /// Whispers per route.
        #[arg(long, default_value_t = 1000)]
        whispers: usize,
        /// `auto`, `direct`, `iterative`, `recursive` or `all`.
        #[arg(long, default_value = "auto", value_parser = parse_routes)]
        route: Routes,
        /// Share of the nodes that listen; the others only dial out.
        #[arg(long, default_value_t = 1.0)]
        listening_share: f64,
        /// Whispers in flight at once; per-whisper hops need 1.
        #[arg(long, default_value_t = 1)]
        concurrency: usize,
        /// Bytes each whisper carries.
        #[arg(long, default_value_t = 100)]
        payload: usize,
        /// Print the table header.
        #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
        header: bool,
    },
    /// Bootstrap n nodes, put distinct keys from random nodes, then get
    /// them from random nodes; optionally again after a crash or a late
    /// join. One row per phase; a row's wall time is its phase's (the
    /// join's goes to stderr).
    Dht {
        #[command(flatten)]
        network: NetworkArgs,
        /// Puts, each of its own key.
        #[arg(long, default_value_t = 1000)]
        puts: usize,
        /// Gets of put keys per get phase.
        #[arg(long, default_value_t = 1000)]
        gets: usize,
        /// Operations started together.
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
        /// Bytes of each value.
        #[arg(long, default_value_t = 100)]
        value_size: usize,
        /// Share of the nodes (never the seeds) that crash silently after
        /// the puts, in [0, 1); the gets then run again.
        #[arg(long, default_value_t = 0.0)]
        crash: f64,
        /// Share of the nodes held back from the bootstrap and joined
        /// after the puts, in [0, 1); the gets then run again.
        #[arg(long, default_value_t = 0.0)]
        join: f64,
        /// Nodes each record is stored on (at most k).
        #[arg(long, default_value_t = shoutnet_engine::EngineConfig::DEFAULT_RECORD_REPLICAS)]
        replicas: usize,
        /// Print the table header.
        #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
        header: bool,
    },
}

/// The routes of `--route`.
#[derive(Clone, Debug)]
struct Routes(Vec<WhisperRoute>);

fn parse_routes(s: &str) -> Result<Routes, String> {
    Ok(Routes(match s {
        "auto" => vec![WhisperRoute::Auto],
        "direct" => vec![WhisperRoute::Direct],
        "iterative" => vec![WhisperRoute::Iterative],
        "recursive" => vec![WhisperRoute::Recursive],
        "all" => vec![
            WhisperRoute::Direct,
            WhisperRoute::Iterative,
            WhisperRoute::Recursive,
            WhisperRoute::Auto,
        ],
        other => {
            return Err(format!(
                "{other:?}: expected `auto`, `direct`, `iterative`, `recursive` or `all`"
            ));
        }
    }))
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
        Scenario::Whisper {
            network,
            whispers,
            route,
            listening_share,
            concurrency,
            payload,
            header,
        } => {
            anyhow::ensure!(
                listening_share > 0.0 && listening_share <= 1.0,
                "--listening-share {listening_share}: expected a share in (0, 1]"
            );
            let mut params = WhisperParams::new(network.n, network.seed, whispers);
            params.network = network.params();
            params.concurrency = concurrency;
            params.payload = payload;
            params.set_listening_share(listening_share);
            let mut run = WhisperRun::new(&params, start, &mut progress)?;
            progress(&format!(
                "joined and settled in {:.1} s wall",
                start.elapsed().as_secs_f64()
            ));
            if header {
                print!("{}", WhisperReport::header());
            }
            for route in route.0 {
                #[allow(clippy::disallowed_methods)] // Wall time of this row.
                let row_start = Instant::now();
                let report = run.route(route, &mut progress)?;
                print!("{}", report.row(row_start.elapsed(), peak_kib()));
                let e = report.engines;
                let unfinished = report
                    .samples
                    .iter()
                    .filter(|s| s.result.is_none() && s.failed.is_none())
                    .count();
                eprintln!(
                    "{}: {:.1} s virtual, {unfinished} whispers never finished (counted timed out); engines so far: {} whispers relayed, {} refused undeliverable by relays, {} rate-limited; trace hash {}",
                    route_name(route),
                    report.duration.as_secs_f64(),
                    e.whispers_relayed,
                    e.whispers_undeliverable,
                    e.rate_limited,
                    hex(&report.trace_hash),
                );
            }
        }
        Scenario::Dht {
            network,
            puts,
            gets,
            concurrency,
            value_size,
            crash,
            join,
            replicas,
            header,
        } => {
            for (name, share) in [("crash", crash), ("join", join)] {
                anyhow::ensure!(
                    (0.0..1.0).contains(&share),
                    "--{name} {share}: expected a share in [0, 1)"
                );
            }
            let mut params = DhtParams::new(network.n, network.seed, puts, gets);
            params.network = network.params();
            params.network.replicas = replicas;
            params.concurrency = concurrency;
            params.value_size = value_size;
            params.crash = crash;
            params.join = join;
            let mut run = DhtRun::new(&params, start, &mut progress)?;
            progress(&format!(
                "joined and settled in {:.1} s wall",
                start.elapsed().as_secs_f64()
            ));
            if header {
                print!("{}", PhaseReport::header());
            }
            let row = |report: PhaseReport, row_start: Instant| {
                print!("{}", report.row(row_start.elapsed(), peak_kib()));
            };
            #[allow(clippy::disallowed_methods)] // Wall time of each row.
            let now = Instant::now;
            let t = now();
            row(run.puts(&mut progress)?, t);
            let t = now();
            row(run.gets(&mut progress)?, t);
            if crash > 0.0 {
                let t = now();
                row(run.gets_after_crash(&mut progress)?, t);
            }
            if params.reserved() > 0 {
                let t = now();
                row(run.gets_after_join(&mut progress)?, t);
            }
            let e = run.sim.engine_stats();
            eprintln!(
                "engines: {} records stored, {} stores refused, {} records re-replicated, {} rate-limited, {} requests dropped; trace hash {}",
                e.records_stored,
                e.stores_refused,
                e.records_replicated,
                e.rate_limited,
                e.dropped_requests,
                hex(&run.sim.trace_hash()),
            );
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

//! The `whisper` scenario (docs/PROTOCOL.md §8.6, §9.9): `n` nodes join
//! (optionally only a share of them listening) and settle; then random
//! nodes whisper 100 random bytes to random other nodes — for the direct
//! route, to a random node they are connected to — by one route, a bounded
//! number at a time. Several routes run one after another on the same
//! network, a short gap apart.
//!
//! Each whisper is measured from its own `WhisperFinished` event (from
//! [`Sim::take_finished`], see [`await_finished`]): delivered (and by
//! which route, for `auto`), undeliverable, timed out, or another error (a
//! `CommandFailed` included); its latency runs from the command to the
//! event, in virtual time. A whisper whose event has not come within
//! [`WHISPER_LIMIT`] (past the engine's own 30 s whisper timeout, which
//! ends every whisper) counts as timed out.
//!
//! Hops are counted from the engines' counters: a whisper's transmissions
//! are the `whispers_sent` and `whispers_relayed` it adds over all nodes
//! (its origin's send plus one per relay that forwarded it), so a
//! delivered whisper's hops are 1 + its relays. Counters are not per
//! whisper, so per-whisper hops (p50/p99/max) are exact only when whispers
//! run one at a time (`concurrency` 1, the default); with more in flight
//! they are not reported, and the mean transmissions per whisper (over all
//! of them, delivered or not) stands in. Messages per whisper are every
//! message the nodes sent during the phase over the whispers ("all"), and
//! the same without keepalives: a pass-through [`Sim::set_rewrite`] hook on
//! every node counts the messages other than `PING` and its `ACK`, and
//! the whisper transmissions (encrypted, so unseen by the hook) are added
//! from the counters, which also count a whisper that failed before it
//! left its origin.
//! At concurrency 1 and large n, "all" is mostly the keepalives of the
//! whole network while the whispers run.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use rand_core::RngCore;
use shoutnet_crypto::Address;
use shoutnet_engine::{Command, CommandError, Delivered, Event, WhisperError, WhisperRoute};
use shoutnet_wire::{Ack, AckResult, Payload, Value};

use super::join::{NetworkParams, join, join_late};
use super::{ScenarioError, await_finished, percentile};
use crate::{LoggedEvent, Sim, node_keypair};

/// Virtual time a whisper may take before it counts as timed out.
pub const WHISPER_LIMIT: Duration = Duration::from_secs(60);

/// Parameters of a whisper run: the network, then the whispers.
#[derive(Clone, Debug)]
pub struct WhisperParams {
    /// The network and how it joins; see
    /// [`set_listening_share`](Self::set_listening_share).
    pub network: NetworkParams,
    /// Whispers per route.
    pub whispers: usize,
    /// Whispers in flight at once.
    pub concurrency: usize,
    /// Bytes of data each whisper carries.
    pub payload: usize,
    /// Virtual time after the bootstrap for the kept connections to form.
    pub settle: Duration,
    /// Virtual time before each route's whispers (transient connections
    /// of the route before close after 5 s idle).
    pub gap: Duration,
    /// Share of the nodes that listen.
    pub listening_share: f64,
}

impl WhisperParams {
    /// `n` nodes ([`NetworkParams::new`]), all listening, `whispers`
    /// whispers of 100 bytes per route, one at a time, 30 s after the
    /// bootstrap, 10 s between routes.
    pub fn new(n: usize, seed: u64, whispers: usize) -> Self {
        Self {
            network: NetworkParams::new(n, seed),
            whispers,
            concurrency: 1,
            payload: 100,
            settle: Duration::from_secs(30),
            gap: Duration::from_secs(10),
            listening_share: 1.0,
        }
    }

    /// Only `share` of the nodes listen: the last n − ceil(n·share) dial
    /// out only.
    pub fn set_listening_share(&mut self, share: f64) -> &mut Self {
        let n = self.network.n;
        let listening = ((share * n as f64).ceil() as usize).min(n);
        self.listening_share = share;
        self.network.dial_out_only = n - listening;
        self
    }
}

/// What one whisper did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WhisperSample {
    /// Its origin.
    pub origin: usize,
    /// Its destination.
    pub dest: usize,
    /// How it ended; `None` if its event never came or the engine refused
    /// the command.
    pub result: Option<Result<Delivered, WhisperError>>,
    /// Why the engine refused the command (`CommandFailed`), if it did.
    pub failed: Option<CommandError>,
    /// Virtual time from the command to its event.
    pub latency: Duration,
    /// Its transmissions (1 + relays), when whispers ran one at a time.
    pub hops: Option<u64>,
}

/// The outcome of one route's whispers.
#[derive(Clone, Debug)]
pub struct WhisperReport {
    /// The parameters.
    pub params: WhisperParams,
    /// The route asked for.
    pub route: WhisperRoute,
    /// One entry per whisper, in order.
    pub samples: Vec<WhisperSample>,
    /// `whispers_sent` + `whispers_relayed` added over all nodes.
    pub transmissions: u64,
    /// Messages all nodes sent during the whispers.
    pub messages: u64,
    /// The same, keepalive `PING`s and their `ACK`s left out.
    pub messages_no_keepalive: u64,
    /// Virtual time the whispers took.
    pub duration: Duration,
    /// The engines' counters, summed over the nodes, at the end.
    pub engines: shoutnet_engine::Stats,
    /// The run's trace hash at the end.
    pub trace_hash: [u8; 32],
}

/// A joined network whispering route after route (the command line times
/// each).
#[derive(Debug)]
pub struct WhisperRun {
    /// The simulation.
    pub sim: Sim,
    params: WhisperParams,
    max_steps: u64,
    keys: Vec<Bytes>,
    addresses: Vec<Address>,
}

impl WhisperRun {
    /// Builds and joins the network (any late nodes right after the
    /// others), then lets it settle.
    pub fn new(
        params: &WhisperParams,
        epoch: Instant,
        progress: &mut dyn FnMut(&str),
    ) -> Result<Self, ScenarioError> {
        let n = params.network.n;
        let joined = join(&params.network, epoch, progress)?;
        let mut sim = joined.sim;
        join_late(&mut sim, &params.network, progress)?;
        let settled = sim.now() + params.settle;
        sim.run_until(settled);
        let keys = match &params.network.keys {
            Some(keys) => keys.iter().take(n).map(|k| k.public().to_bytes()).collect(),
            None => (0..n)
                .map(|i| node_keypair(params.network.seed, i).map(|k| k.public().to_bytes()))
                .collect::<Result<_, _>>()
                .map_err(crate::Error::from)?,
        };
        let addresses = (0..n).map(|i| sim.node(i).local_address()).collect();
        Ok(Self {
            sim,
            params: params.clone(),
            max_steps: joined.max_steps,
            keys,
            addresses,
        })
    }

    /// Waits `params.gap`, then sends `params.whispers` whispers by
    /// `route`.
    pub fn route(
        &mut self,
        route: WhisperRoute,
        progress: &mut dyn FnMut(&str),
    ) -> Result<WhisperReport, ScenarioError> {
        let until = self.sim.now() + self.params.gap;
        self.sim.run_until(until);
        let counted = count_messages(&mut self.sim);
        let start = self.sim.now();
        let messages_before = self.sim.engine_stats().messages_sent;
        let tx_before = transmissions(&self.sim);
        let total = self.params.whispers;
        let one_at_a_time = self.params.concurrency <= 1;
        let mut samples = Vec::with_capacity(total);
        let mut next_report = 1;
        while samples.len() < total {
            let round = self.params.concurrency.max(1).min(total - samples.len());
            let tx = if one_at_a_time {
                transmissions(&self.sim)
            } else {
                0
            };
            let mut pending = Vec::with_capacity(round);
            for _ in 0..round {
                let (origin, dest) = self.pair(route);
                let mut data = vec![0u8; self.params.payload];
                self.sim.rng().fill_bytes(&mut data);
                let command = Command::Whisper {
                    to: self.keys[dest].clone(),
                    data: Value::Bin(data.into()),
                    encrypt: None,
                    route,
                };
                let id = self.sim.command(origin, command);
                pending.push((origin, dest, id, self.sim.now()));
            }
            let ids: Vec<_> = pending.iter().map(|&(o, _, id, _)| (o, id)).collect();
            let events = await_finished(&mut self.sim, &ids, WHISPER_LIMIT, self.max_steps)?;
            let hops = one_at_a_time.then(|| transmissions(&self.sim) - tx);
            for ((origin, dest, _, at), event) in pending.into_iter().zip(events) {
                samples.push(sample(&self.sim, origin, dest, at, event, hops));
            }
            if next_report <= 10 && samples.len() * 10 >= total * next_report {
                next_report = samples.len() * 10 / total + 1;
                progress(&format!(
                    "whispers ({}): {}/{total}",
                    route_name(route),
                    samples.len()
                ));
            }
        }
        for i in 0..self.sim.len() {
            self.sim.clear_rewrite(i);
        }
        let transmissions = transmissions(&self.sim) - tx_before;
        let engines = self.sim.engine_stats();
        Ok(WhisperReport {
            params: self.params.clone(),
            route,
            samples,
            transmissions,
            messages: engines.messages_sent - messages_before,
            messages_no_keepalive: counted.load(Ordering::Relaxed) + transmissions,
            duration: self.sim.now() - start,
            engines,
            trace_hash: self.sim.trace_hash(),
        })
    }

    /// A random origin and a random other node; for the direct route, a
    /// random node the origin is connected to (any node if it has none).
    fn pair(&mut self, route: WhisperRoute) -> (usize, usize) {
        let n = self.addresses.len() as u64;
        let draw = |sim: &mut Sim, below: u64| {
            usize::try_from(sim.rng().next_u64() % below.max(1)).unwrap_or(0)
        };
        let origin = draw(&mut self.sim, n);
        if route == WhisperRoute::Direct {
            let engine = self.sim.node(origin);
            let peers: Vec<usize> = (0..self.addresses.len())
                .filter(|&j| j != origin && engine.is_connected(&self.addresses[j]))
                .collect();
            if !peers.is_empty() {
                let j = draw(&mut self.sim, peers.len() as u64);
                return (origin, peers[j]);
            }
        }
        let dest = (origin + 1 + draw(&mut self.sim, n.saturating_sub(1))) % n.max(1) as usize;
        (origin, dest)
    }
}

/// Runs the scenario, one report per route of `routes`, in order.
pub fn run(
    params: &WhisperParams,
    routes: &[WhisperRoute],
    epoch: Instant,
    progress: &mut dyn FnMut(&str),
) -> Result<Vec<WhisperReport>, ScenarioError> {
    let mut run = WhisperRun::new(params, epoch, progress)?;
    routes.iter().map(|&r| run.route(r, progress)).collect()
}

/// Counts, from now until the hooks are cleared, the plain messages all
/// nodes send other than keepalives and whispers, passing all unchanged.
fn count_messages(sim: &mut Sim) -> Arc<AtomicU64> {
    let counter = Arc::new(AtomicU64::new(0));
    for i in 0..sim.len() {
        let counter = Arc::clone(&counter);
        sim.set_rewrite(i, move |payload| {
            let keepalive = matches!(
                payload,
                Payload::Ping(_)
                    | Payload::Ack(Ack {
                        result: AckResult::Ping,
                        ..
                    })
            );
            if !keepalive && !matches!(payload, Payload::Whisper(_)) {
                counter.fetch_add(1, Ordering::Relaxed);
            }
            Some(payload)
        });
    }
    counter
}

/// Whispers all nodes have sent or relayed.
fn transmissions(sim: &Sim) -> u64 {
    (0..sim.len())
        .map(|i| {
            let s = sim.node(i).stats();
            s.whispers_sent + s.whispers_relayed
        })
        .sum()
}

fn sample(
    sim: &Sim,
    origin: usize,
    dest: usize,
    start: Instant,
    event: Option<LoggedEvent>,
    hops: Option<u64>,
) -> WhisperSample {
    let (mut result, mut failed, mut latency) = (None, None, Duration::ZERO);
    if let Some(LoggedEvent { at, event, .. }) = event {
        latency = (sim.epoch() + at).saturating_duration_since(start);
        match event {
            Event::WhisperFinished { result: r, .. } => result = Some(r),
            Event::CommandFailed { error, .. } => failed = Some(error),
            _ => {}
        }
    }
    WhisperSample {
        origin,
        dest,
        result,
        failed,
        latency,
        hops,
    }
}

/// The route's name on the command line and in the table.
pub fn route_name(route: WhisperRoute) -> &'static str {
    match route {
        WhisperRoute::Direct => "direct",
        WhisperRoute::Iterative => "iterative",
        WhisperRoute::Recursive => "recursive",
        _ => "auto",
    }
}

/// The reference bound on recursive hops: log2(n)/log2(3) + 3.
pub fn hop_bound(n: usize) -> f64 {
    (n.max(1) as f64).log2() / 3f64.log2() + 3.0
}

impl WhisperReport {
    /// Whispers delivered.
    pub fn delivered(&self) -> usize {
        self.count(|s| matches!(s.result, Some(Ok(_))))
    }

    /// Whispers that ended `Undeliverable`.
    pub fn undeliverable(&self) -> usize {
        self.count(|s| matches!(s.result, Some(Err(WhisperError::Undeliverable))))
    }

    /// Whispers that ended `TimedOut`, or whose event never came.
    pub fn timed_out(&self) -> usize {
        let timed_out = |s: &WhisperSample| matches!(s.result, Some(Err(WhisperError::TimedOut)));
        self.count(|s| timed_out(s) || s.result.is_none() && s.failed.is_none())
    }

    /// Whispers that ended with any other error (refused, too many, ...),
    /// or that the engine refused with `CommandFailed`.
    pub fn other_errors(&self) -> usize {
        self.samples.len() - self.delivered() - self.undeliverable() - self.timed_out()
    }

    /// Delivered whispers by the route they took: (direct, iterative,
    /// recursive).
    pub fn routes_taken(&self) -> (usize, usize, usize) {
        let by = |want| self.count(|s| matches!(s.result, Some(Ok(d)) if d.route == want));
        (
            by(WhisperRoute::Direct),
            by(WhisperRoute::Iterative),
            by(WhisperRoute::Recursive),
        )
    }

    fn count(&self, f: impl Fn(&WhisperSample) -> bool) -> usize {
        self.samples.iter().filter(|s| f(s)).count()
    }

    /// The header of [`row`](Self::row)'s table.
    pub fn header() -> &'static str {
        "| n | route | listening share | loss | whispers | delivered % | undeliverable | timed out | other errors | delivered by d/i/r | hops p50/p99/max | tx/whisper (mean) | hop bound log2(n)/log2(3)+3 | latency p50/p99 (ms) | messages/whisper all (no keepalives) | wall (s) | peak RSS (MiB) |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n"
    }

    /// The report as one row of a markdown table. `wall` and `peak_kib`
    /// come from the caller, who may read clocks and `/proc`.
    pub fn row(&self, wall: Duration, peak_kib: Option<u64>) -> String {
        let delivered: Vec<_> = self
            .samples
            .iter()
            .filter(|s| matches!(s.result, Some(Ok(_))))
            .collect();
        let mut hops: Vec<u64> = delivered.iter().filter_map(|s| s.hops).collect();
        let mut latency: Vec<Duration> = delivered.iter().map(|s| s.latency).collect();
        hops.sort_unstable();
        latency.sort_unstable();
        let dash = || "-".to_owned();
        let num = |v: Option<u64>| v.map_or_else(dash, |v| v.to_string());
        let ms = |d: Option<Duration>| {
            d.map_or_else(dash, |d| format!("{:.0}", d.as_secs_f64() * 1000.0))
        };
        let whispers = self.samples.len().max(1) as f64;
        let (d, i, r) = self.routes_taken();
        format!(
            "| {} | {} | {} | {} | {} | {:.1} | {} | {} | {} | {d}/{i}/{r} | {}/{}/{} | {:.2} | {:.1} | {}/{} | {:.1} ({:.1}) | {:.1} | {} |\n",
            self.params.network.n,
            route_name(self.route),
            self.params.listening_share,
            self.params.network.loss,
            self.samples.len(),
            100.0 * self.delivered() as f64 / whispers,
            self.undeliverable(),
            self.timed_out(),
            self.other_errors(),
            num(percentile(&hops, 0.5)),
            num(percentile(&hops, 0.99)),
            num(hops.last().copied()),
            self.transmissions as f64 / whispers,
            hop_bound(self.params.network.n),
            ms(percentile(&latency, 0.5)),
            ms(percentile(&latency, 0.99)),
            self.messages as f64 / whispers,
            self.messages_no_keepalive as f64 / whispers,
            wall.as_secs_f64(),
            peak_kib.map_or_else(dash, |k| format!("{:.0}", k as f64 / 1024.0)),
        )
    }
}

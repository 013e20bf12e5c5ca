//! Simulator configuration (ARCHITECTURE.md, "Deterministic simulation"; the
//! engines it drives implement docs/PROTOCOL.md §9 and DESIGN R10): network
//! size, master seed, link latency, loss, bandwidth and engine parameters.

use std::time::Duration;

use rand_chacha::ChaCha20Rng;
use rand_core::RngCore;

/// Steps `run_until_idle` may take before it reports a livelock: far above
/// what a 10,000-node bootstrap needs (a few tens of millions).
pub const DEFAULT_MAX_STEPS: u64 = 2_000_000_000;

/// How long a transmission takes to cross a link, sampled once per
/// connection (both directions share it), so each link stays FIFO.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Latency {
    /// Every link has this latency.
    Constant(Duration),
    /// Each link's latency is uniform in `[min, max]`, at microsecond
    /// resolution.
    Uniform {
        /// Shortest latency.
        min: Duration,
        /// Longest latency.
        max: Duration,
    },
}

impl Latency {
    /// Samples one link's latency from the simulator's RNG.
    pub(crate) fn sample(&self, rng: &mut ChaCha20Rng) -> Duration {
        match *self {
            Self::Constant(d) => d,
            Self::Uniform { min, max } => {
                let lo = u64::try_from(min.as_micros()).unwrap_or(u64::MAX);
                let hi = u64::try_from(max.as_micros()).unwrap_or(u64::MAX);
                if hi <= lo {
                    return min;
                }
                let span = hi - lo + 1;
                Duration::from_micros(lo + rng.next_u64() % span)
            }
        }
    }
}

/// How a [`Sim`](crate::Sim) is built.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// Number of nodes; node `i` listens on [`addr(i)`](crate::addr).
    pub n: usize,
    /// The master seed: keys, engine RNGs, latencies and losses all derive
    /// from it.
    pub seed: u64,
    /// Link latency.
    pub latency: Latency,
    /// Probability in `[0, 1]` that a whole transmission is lost.
    pub loss: f64,
    /// Link bandwidth in bytes per second, per direction; `None` is
    /// unlimited.
    pub bandwidth: Option<u64>,
    /// Kademlia k of every engine.
    pub k: usize,
    /// ℓ of every engine (the engine's default,
    /// [`DEFAULT_MAX_OUTBOUND`](shoutnet_engine::DEFAULT_MAX_OUTBOUND)).
    pub max_outbound: usize,
    /// The bootstrap refresh threshold of every engine (the engine's
    /// default,
    /// [`DEFAULT_BOOTSTRAP_REFRESH_BELOW`](shoutnet_engine::DEFAULT_BOOTSTRAP_REFRESH_BELOW)).
    pub refresh_below: usize,
    /// Step budget of [`Sim::run_until_idle`](crate::Sim::run_until_idle).
    pub max_steps: u64,
    /// Whether to keep every engine event in [`Sim::log`](crate::Sim::log);
    /// the trace hash is computed either way.
    pub keep_log: bool,
}

impl SimConfig {
    /// `n` nodes from `seed`: 50 ms constant latency, no loss, unlimited
    /// bandwidth, k = 20 and the engine's ℓ.
    pub fn new(n: usize, seed: u64) -> Self {
        Self {
            n,
            seed,
            latency: Latency::Constant(Duration::from_millis(50)),
            loss: 0.0,
            bandwidth: None,
            k: shoutnet_kad::DEFAULT_K,
            max_outbound: shoutnet_engine::DEFAULT_MAX_OUTBOUND,
            refresh_below: shoutnet_engine::DEFAULT_BOOTSTRAP_REFRESH_BELOW,
            max_steps: DEFAULT_MAX_STEPS,
            keep_log: true,
        }
    }
}

//! Simulator configuration (ARCHITECTURE.md, "Deterministic simulation"; the
//! engines it drives implement docs/PROTOCOL.md §9 and DESIGN R10): network
//! size, master seed, link latency, loss, bandwidth and engine parameters.

use std::time::Duration;

use rand_chacha::ChaCha20Rng;
use rand_core::RngCore;

/// Steps `run_until_idle` may take before it reports a livelock: far above
/// what a 10,000-node bootstrap needs (a few tens of millions).
pub const DEFAULT_MAX_STEPS: u64 = 2_000_000_000;

/// What a lost transmission does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum LossModel {
    /// As on TCP, which the engine runs over: a lost transmission is sent
    /// again after a retransmission timeout (200 ms, doubling at each
    /// further loss; a lost dial is retried after 1 s, doubling), and the
    /// link stays in order, so what follows waits behind it. After
    /// [`MAX_RETRANSMISSIONS`] losses in a row the connection is reset
    /// (both sides see it close), as TCP gives up.
    #[default]
    Retransmit,
    /// The transmission (or dial) is dropped for good: a peer that never
    /// answers, or a datagram network. Not what TCP does.
    Drop,
}

/// Losses in a row after which [`LossModel::Retransmit`] resets the
/// connection (or gives a dial up): 8, about 51 s of back-off for data and
/// 255 s for a dial, past every engine timeout.
pub const MAX_RETRANSMISSIONS: u32 = 8;

/// The first retransmission timeout of data: 200 ms, Linux's minimum RTO.
pub const INITIAL_RTO: Duration = Duration::from_millis(200);

/// The first retransmission timeout of a connection attempt: 1 s, the
/// initial SYN timeout of RFC 6298.
pub const INITIAL_SYN_RTO: Duration = Duration::from_secs(1);

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
    /// Probability in `[0, 1]` that a transmission (or a dial) is lost,
    /// each time it is sent.
    pub loss: f64,
    /// What a loss does.
    pub loss_model: LossModel,
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
    /// The nodes' key pairs, in order; `None` derives ed25519 keys from
    /// the seed. Given keys must be at least `n` and of one profile (say
    /// the `rsa2048` fixture keys, since generating RSA keys for many
    /// nodes would dominate a run).
    pub keys: Option<Vec<shoutnet_crypto::Keypair>>,
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
            loss_model: LossModel::Retransmit,
            bandwidth: None,
            k: shoutnet_kad::DEFAULT_K,
            max_outbound: shoutnet_engine::DEFAULT_MAX_OUTBOUND,
            refresh_below: shoutnet_engine::DEFAULT_BOOTSTRAP_REFRESH_BELOW,
            max_steps: DEFAULT_MAX_STEPS,
            keys: None,
            keep_log: true,
        }
    }
}

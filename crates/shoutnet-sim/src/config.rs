//! Simulator configuration (ARCHITECTURE.md, "Deterministic simulation"; the
//! engines it drives implement docs/PROTOCOL.md §9 and docs/design.md §13):
//! network size, master seed, link latency, loss, bandwidth, engine
//! parameters and the hooks tests use.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::channel::ChannelMode;

use rand_chacha::ChaCha20Rng;
use rand_core::RngCore;
use shoutnet_crypto::Keypair;
use shoutnet_engine::EngineConfig;

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

/// A per-node engine configuration hook (see [`SimConfig::set_configure`]):
/// called with the node's index and its configuration, after the simulator
/// has set the node's listen address, k, ℓ and bootstrap refresh threshold.
pub type Configure = Arc<dyn Fn(usize, &mut EngineConfig) + Send + Sync>;

/// How a [`Sim`](crate::Sim) is built.
///
/// Like [`EngineConfig`], the struct is `#[non_exhaustive]` with private
/// fields, a constructor and setters, so that settings can be added without
/// breaking anyone.
///
/// ```
/// use std::time::Duration;
/// use shoutnet_sim::{Latency, SimConfig};
///
/// let mut config = SimConfig::new(100, 7);
/// config
///     .set_k(5)
///     .set_latency(Latency::Constant(Duration::from_millis(20)))
///     .set_keep_log(false);
/// assert_eq!(config.k(), 5);
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct SimConfig {
    pub(crate) n: usize,
    pub(crate) seed: u64,
    pub(crate) latency: Latency,
    pub(crate) loss: f64,
    pub(crate) loss_model: LossModel,
    pub(crate) bandwidth: Option<u64>,
    pub(crate) k: usize,
    pub(crate) max_outbound: usize,
    pub(crate) refresh_below: usize,
    pub(crate) max_steps: u64,
    pub(crate) keys: Option<Vec<Keypair>>,
    pub(crate) keep_log: bool,
    pub(crate) record: bool,
    pub(crate) check_limits: bool,
    pub(crate) configure: Option<Configure>,
    pub(crate) channel: ChannelMode,
}

impl SimConfig {
    /// `n` nodes from `seed`: 50 ms constant latency, no loss, unlimited
    /// bandwidth, k = 20, the engine's ℓ and bootstrap refresh threshold,
    /// [`DEFAULT_MAX_STEPS`], derived keys, the event log kept, no message
    /// or action record, no limit check and no configuration hook.
    pub fn new(n: usize, seed: u64) -> Self {
        Self {
            n,
            seed,
            latency: Latency::Constant(Duration::from_millis(50)),
            loss: 0.0,
            loss_model: LossModel::Retransmit,
            bandwidth: None,
            k: shoutnet_kad::KadConfig::DEFAULT_K,
            max_outbound: EngineConfig::DEFAULT_MAX_OUTBOUND,
            refresh_below: EngineConfig::DEFAULT_BOOTSTRAP_REFRESH_BELOW,
            max_steps: DEFAULT_MAX_STEPS,
            keys: None,
            keep_log: true,
            record: false,
            check_limits: false,
            configure: None,
            channel: ChannelMode::default(),
        }
    }

    /// Which secure channel connections run (see [`ChannelMode`]); the
    /// trusted stand-in by default.
    pub fn set_channel(&mut self, mode: ChannelMode) -> &mut Self {
        self.channel = mode;
        self
    }

    /// See [`set_channel`](Self::set_channel).
    pub fn channel(&self) -> ChannelMode {
        self.channel
    }

    /// Number of nodes; node `i` listens on [`addr(i)`](crate::addr).
    pub fn n(&self) -> usize {
        self.n
    }

    /// The master seed: keys, engine RNGs, latencies and losses all derive
    /// from it.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Link latency.
    pub fn set_latency(&mut self, latency: Latency) -> &mut Self {
        self.latency = latency;
        self
    }

    /// See [`set_latency`](Self::set_latency).
    pub fn latency(&self) -> Latency {
        self.latency
    }

    /// Probability in `[0, 1]` that a transmission (or a dial) is lost,
    /// each time it is sent; [`Sim::new`](crate::Sim::new) refuses any
    /// other value.
    pub fn set_loss(&mut self, loss: f64) -> &mut Self {
        self.loss = loss;
        self
    }

    /// See [`set_loss`](Self::set_loss).
    pub fn loss(&self) -> f64 {
        self.loss
    }

    /// What a loss does.
    pub fn set_loss_model(&mut self, model: LossModel) -> &mut Self {
        self.loss_model = model;
        self
    }

    /// See [`set_loss_model`](Self::set_loss_model).
    pub fn loss_model(&self) -> LossModel {
        self.loss_model
    }

    /// Link bandwidth in bytes per second, per direction; `None` is
    /// unlimited.
    pub fn set_bandwidth(&mut self, bandwidth: Option<u64>) -> &mut Self {
        self.bandwidth = bandwidth;
        self
    }

    /// See [`set_bandwidth`](Self::set_bandwidth).
    pub fn bandwidth(&self) -> Option<u64> {
        self.bandwidth
    }

    /// Kademlia k of every engine.
    pub fn set_k(&mut self, k: usize) -> &mut Self {
        self.k = k;
        self
    }

    /// See [`set_k`](Self::set_k).
    pub fn k(&self) -> usize {
        self.k
    }

    /// ℓ of every engine (the engine's default,
    /// [`DEFAULT_MAX_OUTBOUND`](EngineConfig::DEFAULT_MAX_OUTBOUND)).
    pub fn set_max_outbound(&mut self, limit: usize) -> &mut Self {
        self.max_outbound = limit;
        self
    }

    /// See [`set_max_outbound`](Self::set_max_outbound).
    pub fn max_outbound(&self) -> usize {
        self.max_outbound
    }

    /// The bootstrap refresh threshold of every engine (the engine's
    /// default,
    /// [`DEFAULT_BOOTSTRAP_REFRESH_BELOW`](EngineConfig::DEFAULT_BOOTSTRAP_REFRESH_BELOW)).
    pub fn set_refresh_below(&mut self, below: usize) -> &mut Self {
        self.refresh_below = below;
        self
    }

    /// See [`set_refresh_below`](Self::set_refresh_below).
    pub fn refresh_below(&self) -> usize {
        self.refresh_below
    }

    /// Step budget of [`Sim::run_until_idle`](crate::Sim::run_until_idle)
    /// ([`DEFAULT_MAX_STEPS`]).
    pub fn set_max_steps(&mut self, steps: u64) -> &mut Self {
        self.max_steps = steps;
        self
    }

    /// See [`set_max_steps`](Self::set_max_steps).
    pub fn max_steps(&self) -> u64 {
        self.max_steps
    }

    /// The nodes' key pairs, in order; `None` (the default) derives ed25519
    /// keys from the seed ([`node_keypair`](crate::node_keypair)). Given
    /// keys must be at least `n` and of one profile (say the `rsa2048`
    /// fixture keys, since generating RSA keys for many nodes would
    /// dominate a run).
    pub fn set_keys(&mut self, keys: Option<Vec<Keypair>>) -> &mut Self {
        self.keys = keys;
        self
    }

    /// See [`set_keys`](Self::set_keys).
    pub fn keys(&self) -> Option<&[Keypair]> {
        self.keys.as_deref()
    }

    /// Whether to keep every engine event in [`Sim::log`](crate::Sim::log)
    /// (the default); the trace hash is computed either way.
    pub fn set_keep_log(&mut self, keep: bool) -> &mut Self {
        self.keep_log = keep;
        self
    }

    /// See [`set_keep_log`](Self::set_keep_log).
    pub fn keep_log(&self) -> bool {
        self.keep_log
    }

    /// Whether to record every message delivered over a link, decoded, in
    /// [`Sim::messages`](crate::Sim::messages), and every dial and close the
    /// engines ask for in [`Sim::actions`](crate::Sim::actions). Off by
    /// default: decoding every transmission costs a large run dearly. The
    /// record changes nothing in the run or its trace hash.
    pub fn set_record(&mut self, record: bool) -> &mut Self {
        self.record = record;
        self
    }

    /// See [`set_record`](Self::set_record).
    pub fn record(&self) -> bool {
        self.record
    }

    /// Whether to check, whenever a node has handled an input, that its
    /// [`outbound_counts`](shoutnet_engine::NodeEngine::outbound_counts)
    /// stay within the ℓ and transient limits its configuration asked for
    /// (each taken as at least 1), and panic otherwise. Off by default; for
    /// tests of the engine.
    pub fn set_check_limits(&mut self, check: bool) -> &mut Self {
        self.check_limits = check;
        self
    }

    /// See [`set_check_limits`](Self::set_check_limits).
    pub fn check_limits(&self) -> bool {
        self.check_limits
    }

    /// A hook that adjusts each engine's configuration: called with the
    /// node's index whenever the simulator builds that node's engine (at
    /// [`Sim::new`](crate::Sim::new) and at every
    /// [`restart`](crate::Sim::restart)), after the settings above. It
    /// must be deterministic to keep the run so, and should leave the
    /// listen address alone: the simulator maps it back to the node.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use shoutnet_sim::SimConfig;
    ///
    /// let mut config = SimConfig::new(10, 1);
    /// // Node 0 pings its idle connections after 5 s; the others use the
    /// // defaults.
    /// config.set_configure(Arc::new(|i, engine| {
    ///     if i == 0 {
    ///         engine.set_keepalive(Duration::from_secs(5));
    ///     }
    /// }));
    /// ```
    pub fn set_configure(&mut self, configure: Configure) -> &mut Self {
        self.configure = Some(configure);
        self
    }

    /// See [`set_configure`](Self::set_configure).
    pub fn configure(&self) -> Option<&Configure> {
        self.configure.as_ref()
    }
}

impl fmt::Debug for SimConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimConfig")
            .field("n", &self.n)
            .field("seed", &self.seed)
            .field("latency", &self.latency)
            .field("loss", &self.loss)
            .field("loss_model", &self.loss_model)
            .field("bandwidth", &self.bandwidth)
            .field("k", &self.k)
            .field("max_outbound", &self.max_outbound)
            .field("refresh_below", &self.refresh_below)
            .field("max_steps", &self.max_steps)
            .field("keys", &self.keys)
            .field("keep_log", &self.keep_log)
            .field("record", &self.record)
            .field("check_limits", &self.check_limits)
            .field("channel", &self.channel)
            .field(
                "configure",
                &self
                    .configure
                    .as_ref()
                    .map(|_| "Fn(usize, &mut EngineConfig)"),
            )
            .finish()
    }
}

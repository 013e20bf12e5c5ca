//! Engine configuration (docs/PROTOCOL.md §9.1, §11): the node's key, listen
//! addresses, limits, timeouts and RNG seed.

use std::net::SocketAddr;
use std::time::Duration;

use shoutnet_crypto::Keypair;
use shoutnet_kad::KadConfig;
use shoutnet_wire::{Limits, Method, MethodSet};

/// Every duration in the configuration is capped at this (one day) when the
/// engine is built, so that `now + duration` can never overflow an
/// `Instant`, whatever the configuration says.
pub const MAX_DURATION: Duration = Duration::from_secs(24 * 60 * 60);

/// Handshake timeout of docs/PROTOCOL.md §9.1 and §11.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Time to wait for an `ACK`/`NACK` before a request counts as failed; the
/// same 10 s as the Kademlia per-request timeout (DESIGN R10).
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Idle time after which an established connection is pinged.
pub const DEFAULT_KEEPALIVE: Duration = Duration::from_secs(30);
/// ℓ, the limit on kept self-initiated connections of DESIGN R10 and the
/// seed's broadcast analysis (each node keeps ℓ outbound connections, so a
/// SHOUT costs at most (2ℓ − 1)·n + 1 transmissions).
pub const DEFAULT_MAX_OUTBOUND: usize = 4;
/// After its self-lookup, a bootstrapping node refreshes each bucket from
/// its closest neighbour's out that holds fewer entries than this: 1, so
/// only the empty ones, each of which may hide a part of the address space
/// the node could otherwise never route into. The Kademlia paper
/// refreshes every such bucket (the equivalent of k here); each refresh
/// costs a few connections with a signature handshake each, and the
/// simulator finds every lookup's true k closest with 1 at 100 to 10,000
/// nodes, for 23% fewer dials than 3 (docs/reports/lookup.md).
pub const DEFAULT_BOOTSTRAP_REFRESH_BELOW: usize = 1;
/// Short-lived outbound connections open at once for requests to peers the
/// node keeps no connection to (lookup `FIND_NODE`s, liveness checks): 16,
/// room for five lookups of α = 3 at once. Beyond it, requests wait for a
/// free slot.
pub const DEFAULT_MAX_TRANSIENT: usize = 16;
/// A transient connection without traffic or outstanding requests for this
/// long is closed: 5 s, long enough for a lookup's next request to the same
/// peer to reuse it, far shorter than the 30 s keepalive.
pub const DEFAULT_TRANSIENT_IDLE: Duration = Duration::from_secs(5);
/// How often the engine tries to top up its ℓ kept connections when it has
/// fewer: 10 s, so a lost one is replaced quickly without dialling in a
/// tight loop when the routing table has no one to offer.
pub const DEFAULT_MAINTENANCE_INTERVAL: Duration = Duration::from_secs(10);
/// Bound of every output queue (transmissions, actions, events) and of each
/// connection's outgoing message queue; beyond it items are dropped and
/// counted in [`Stats`](crate::Stats).
pub const DEFAULT_QUEUE_CAPACITY: usize = 4096;
/// Bound of the contacts learned from `FIND_NODE` answers and of the
/// request table; 4096 covers many concurrent lookups of k = 20.
pub const DEFAULT_TABLE_CAPACITY: usize = 4096;

/// How a [`NodeEngine`](crate::NodeEngine) behaves.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// This node's key pair; its profile is the network's profile.
    pub keypair: Keypair,
    /// Addresses this node accepts connections on (at most 8 are sent).
    pub listen: Vec<SocketAddr>,
    /// Seed of the engine's only RNG (nonces, signatures).
    pub rng_seed: [u8; 32],
    /// Wire limits for decoding (docs/PROTOCOL.md §11).
    pub limits: Limits,
    /// Kademlia parameters (k, α, timeouts).
    pub kad: KadConfig,
    /// See [`DEFAULT_HANDSHAKE_TIMEOUT`].
    pub handshake_timeout: Duration,
    /// See [`DEFAULT_REQUEST_TIMEOUT`].
    pub request_timeout: Duration,
    /// See [`DEFAULT_KEEPALIVE`].
    pub keepalive: Duration,
    /// ℓ, see [`DEFAULT_MAX_OUTBOUND`]: kept connections this node opened
    /// or is opening. Used as at least 1 and at most [`max_outbound_limit`]
    /// for the configured k.
    pub max_outbound: usize,
    /// See [`DEFAULT_MAX_TRANSIENT`].
    pub max_transient: usize,
    /// See [`DEFAULT_BOOTSTRAP_REFRESH_BELOW`]; 0 refreshes nothing, k or
    /// more refreshes every bucket that is not full.
    pub bootstrap_refresh_below: usize,
    /// See [`DEFAULT_TRANSIENT_IDLE`].
    pub transient_idle: Duration,
    /// See [`DEFAULT_MAINTENANCE_INTERVAL`].
    pub maintenance_interval: Duration,
    /// Compression methods this node decodes, announced in its hello and
    /// accepted through `SET_CONNECTION_OPT` (`none` is always included).
    pub decode_methods: MethodSet,
    /// The method this node would like to receive.
    pub preferred: Method,
    /// See [`DEFAULT_QUEUE_CAPACITY`].
    pub queue_capacity: usize,
    /// See [`DEFAULT_TABLE_CAPACITY`].
    pub table_capacity: usize,
}

impl EngineConfig {
    /// The defaults for `keypair`, seeded with `rng_seed`.
    pub fn new(keypair: Keypair, rng_seed: [u8; 32]) -> Self {
        Self {
            keypair,
            listen: Vec::new(),
            rng_seed,
            limits: Limits::default(),
            kad: KadConfig::default(),
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            keepalive: DEFAULT_KEEPALIVE,
            max_outbound: DEFAULT_MAX_OUTBOUND,
            max_transient: DEFAULT_MAX_TRANSIENT,
            bootstrap_refresh_below: DEFAULT_BOOTSTRAP_REFRESH_BELOW,
            transient_idle: DEFAULT_TRANSIENT_IDLE,
            maintenance_interval: DEFAULT_MAINTENANCE_INTERVAL,
            decode_methods: MethodSet::all(),
            preferred: Method::None,
            queue_capacity: DEFAULT_QUEUE_CAPACITY,
            table_capacity: DEFAULT_TABLE_CAPACITY,
        }
    }
}

impl EngineConfig {
    /// The configuration with every duration capped at [`MAX_DURATION`] and
    /// ℓ brought into its allowed range.
    pub(crate) fn capped(mut self) -> Self {
        self.max_outbound = self
            .max_outbound
            .clamp(1, max_outbound_limit(self.kad.bucket_size()));
        self.max_transient = self.max_transient.max(1);
        for d in [
            &mut self.handshake_timeout,
            &mut self.request_timeout,
            &mut self.keepalive,
            &mut self.transient_idle,
            &mut self.maintenance_interval,
            &mut self.kad.request_timeout,
            &mut self.kad.refresh_interval,
            &mut self.kad.ping_timeout,
        ] {
            *d = (*d).min(MAX_DURATION);
        }
        self
    }
}

/// The largest ℓ the seed allows for bucket size `k`:
/// `k · (τ − log2(k + 1) + 2)` with τ = 256, rounded down.
///
/// ```
/// assert_eq!(shoutnet_engine::max_outbound_limit(20), 5072);
/// assert_eq!(shoutnet_engine::max_outbound_limit(1), 257);
/// ```
pub fn max_outbound_limit(k: usize) -> usize {
    let k = k.max(1) as f64;
    (k * (256.0 - (k + 1.0).log2() + 2.0)).floor() as usize
}

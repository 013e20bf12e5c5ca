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
/// ℓ, the outbound connection limit of DESIGN R10.
pub const DEFAULT_MAX_OUTBOUND: usize = 4;
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
    /// See [`DEFAULT_MAX_OUTBOUND`]; counts connections this node opened or
    /// is opening.
    pub max_outbound: usize,
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
            decode_methods: MethodSet::all(),
            preferred: Method::None,
            queue_capacity: DEFAULT_QUEUE_CAPACITY,
            table_capacity: DEFAULT_TABLE_CAPACITY,
        }
    }
}

impl EngineConfig {
    /// The configuration with every duration capped at [`MAX_DURATION`].
    pub(crate) fn capped(mut self) -> Self {
        for d in [
            &mut self.handshake_timeout,
            &mut self.request_timeout,
            &mut self.keepalive,
            &mut self.kad.request_timeout,
            &mut self.kad.refresh_interval,
            &mut self.kad.ping_timeout,
        ] {
            *d = (*d).min(MAX_DURATION);
        }
        self
    }
}

//! Engine configuration (docs/PROTOCOL.md §9.1, §9.4, §11): the node's key,
//! listen addresses, limits, timeouts and RNG seed.
//!
//! Like quinn's `TransportConfig` and libp2p-kad's `Config`, the struct is
//! `#[non_exhaustive]` with private fields, a constructor and setters, so
//! that settings can be added (flooding, WHISPER, the DHT) without breaking
//! anyone.

use std::net::SocketAddr;
use std::time::Duration;

use shoutnet_crypto::Keypair;
use shoutnet_dht::Limits as StoreLimits;
use shoutnet_flood::FloodConfig;
use shoutnet_kad::KadConfig;
use shoutnet_wire::{Limits, Method, MethodSet};

use crate::budget::{Rate, RequestRates};

/// How a [`NodeEngine`](crate::NodeEngine) behaves.
///
/// ```
/// use std::time::Duration;
/// use rand_chacha::{ChaCha20Rng, rand_core::SeedableRng};
/// use shoutnet_crypto::{Keypair, Profile};
/// use shoutnet_engine::EngineConfig;
///
/// let keypair = Keypair::generate(Profile::Ed25519, &mut ChaCha20Rng::from_seed([1; 32]))?;
/// let mut config = EngineConfig::new(keypair, [2; 32]);
/// config
///     .set_listen(vec!["127.0.0.1:4000".parse().unwrap()])
///     .set_max_outbound(8)
///     .set_keepalive(Duration::from_secs(15));
/// assert_eq!(config.max_outbound(), 8);
/// # Ok::<(), shoutnet_crypto::Error>(())
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct EngineConfig {
    pub(crate) keypair: Keypair,
    pub(crate) listen: Vec<SocketAddr>,
    pub(crate) rng_seed: [u8; 32],
    pub(crate) limits: Limits,
    pub(crate) kad: KadConfig,
    pub(crate) handshake_timeout: Duration,
    pub(crate) request_timeout: Duration,
    pub(crate) keepalive: Duration,
    pub(crate) max_outbound: usize,
    pub(crate) max_transient: usize,
    pub(crate) bootstrap_refresh_below: usize,
    pub(crate) transient_idle: Duration,
    pub(crate) maintenance_interval: Duration,
    pub(crate) decode_methods: MethodSet,
    pub(crate) preferred: Method,
    pub(crate) queue_capacity: usize,
    pub(crate) table_capacity: usize,
    pub(crate) max_inbound: usize,
    pub(crate) max_inbound_per_address: usize,
    pub(crate) max_handshaking: usize,
    pub(crate) handshake_rate: Rate,
    pub(crate) request_rates: RequestRates,
    pub(crate) max_outbox_bytes: usize,
    pub(crate) decrypt_rate: Rate,
    pub(crate) local_network: bool,
    pub(crate) flood: FloodConfig,
    pub(crate) unix_time: u64,
    pub(crate) store: StoreLimits,
    pub(crate) max_pending_custom: usize,
    pub(crate) custom_reply_timeout: Duration,
    pub(crate) encrypt_whispers: bool,
    pub(crate) whisper_timeout: Duration,
    pub(crate) max_whispers: usize,
    pub(crate) max_whisper_routes: usize,
    pub(crate) max_whisper_routes_per_connection: usize,
    pub(crate) max_relayed: usize,
    pub(crate) relay_rate: Rate,
    pub(crate) record_replicas: usize,
    pub(crate) compress_above: usize,
    pub(crate) batch_bytes: usize,
}

impl EngineConfig {
    /// Every duration in the configuration is capped at this (one day) when
    /// the engine is built, so that `now + duration` can never overflow an
    /// `Instant`, whatever the configuration says.
    pub const MAX_DURATION: Duration = Duration::from_secs(24 * 60 * 60);
    /// Handshake timeout of docs/PROTOCOL.md §9.1 and §11: 10 s.
    pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
    /// Time to wait for an `ACK`/`NACK` before a request counts as failed:
    /// 10 s, the Kademlia per-request timeout (docs/design.md §13).
    pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
    /// Idle time after which an established connection is pinged: 30 s.
    pub const DEFAULT_KEEPALIVE: Duration = Duration::from_secs(30);
    /// ℓ, the limit on kept self-initiated connections (docs/design.md
    /// §13, §10): each node keeps ℓ outbound connections, so a SHOUT costs
    /// at most (2ℓ − 1)·n + 1 transmissions.
    pub const DEFAULT_MAX_OUTBOUND: usize = 4;
    /// After its self-lookup, a bootstrapping node refreshes each bucket
    /// from its closest neighbour's out that holds fewer entries than this:
    /// 1, so only the empty ones, each of which may hide a part of the
    /// address space the node could otherwise never route into. The
    /// Kademlia paper refreshes every such bucket (the equivalent of k
    /// here); each refresh costs a few connections with a signature
    /// handshake each, and the simulator finds every lookup's true k
    /// closest with 1 at 100 to 10,000 nodes, for 23% fewer dials than 3
    /// (docs/reports/lookup.md).
    pub const DEFAULT_BOOTSTRAP_REFRESH_BELOW: usize = 1;
    /// Short-lived outbound connections open at once for requests to peers
    /// the node keeps no connection to (lookup `FIND_NODE`s, liveness
    /// checks): 16, room for five lookups of α = 3 at once. Beyond it,
    /// requests wait for a free slot.
    pub const DEFAULT_MAX_TRANSIENT: usize = 16;
    /// A transient connection without traffic or outstanding requests for
    /// this long is closed: 5 s, long enough for a lookup's next request to
    /// the same peer to reuse it, far shorter than the 30 s keepalive.
    pub const DEFAULT_TRANSIENT_IDLE: Duration = Duration::from_secs(5);
    /// How often the engine tries to top up its ℓ kept connections when it
    /// has fewer: 10 s, so a lost one is replaced quickly without dialling
    /// in a tight loop when the routing table has no one to offer.
    pub const DEFAULT_MAINTENANCE_INTERVAL: Duration = Duration::from_secs(10);
    /// Bound of every output queue (transmissions, dials, events); beyond
    /// it items are dropped and counted in [`Stats`](crate::Stats). Closes
    /// are never dropped, and each connection's outbox is bounded in bytes
    /// ([`DEFAULT_MAX_OUTBOX_BYTES`](Self::DEFAULT_MAX_OUTBOX_BYTES)).
    pub const DEFAULT_QUEUE_CAPACITY: usize = 4096;
    /// Bound of the contacts learned from `FIND_NODE` answers and of the
    /// request table; 4096 covers many concurrent lookups of k = 20.
    pub const DEFAULT_TABLE_CAPACITY: usize = 4096;
    /// Inbound connections at once: 1,024, far above the 2ℓ = 8 kept
    /// connections a node averages, room for many dial-out-only peers and
    /// for the transient connections of others' lookups (a 10,000-node
    /// bootstrap gives each node about 40 within seconds).
    pub const DEFAULT_MAX_INBOUND: usize = 1024;
    /// Inbound connections at once from one IP address: 8, so one host
    /// cannot take every inbound slot (a NAT with many nodes behind it
    /// still gets 8).
    pub const DEFAULT_MAX_INBOUND_PER_ADDRESS: usize = 8;
    /// Connections, either way, whose handshake has not completed: 128.
    /// Each holds at most one Noise message and a timer; a peer that
    /// never finishes is closed after the handshake timeout, so peers that
    /// stall handshakes on purpose need 16 addresses (at 8 each) to keep
    /// the node from accepting new ones.
    pub const DEFAULT_MAX_HANDSHAKING: usize = 128;
    /// New inbound connections admitted per second, and at once: 200 a
    /// second, bursts of 400. Each admitted connection may cost its Noise
    /// handshake (three X25519 operations on the responder's side, about
    /// 0.3 ms), so this bounds the private-key work unauthenticated peers
    /// can demand to about 6% of a core.
    pub const DEFAULT_HANDSHAKE_RATE: Rate = Rate::new(200, 400);
    /// Compression methods a node decodes unless configured otherwise:
    /// `none` and `snappy`, whose cost per byte is bounded well (at most
    /// 9.2 ns per output byte, no block structure to abuse, bombs refused
    /// from the length header). `bz2` and `lzma` cost about 50 ns per
    /// output byte with fixed per-call and per-block costs; `gzip` and
    /// `zlib` decode empty blocks at about 3.5 ms per KiB sent with the
    /// current decoder (miniz_oxide issue #198). The measurements are in
    /// crates/shoutnet-compress/README.md.
    pub const DEFAULT_DECODE_METHODS: MethodSet = MethodSet::only_none().with(Method::Snappy);
    /// Bytes of messages queued for one connection within one input
    /// before more are dropped and counted: 1 MiB. The outbox is emptied
    /// into transmissions at every drain, so this bounds what one input (a
    /// transmission of up to 65,536 requests) can make the node build, on
    /// top of the request budgets.
    pub const DEFAULT_MAX_OUTBOX_BYTES: usize = 1 << 20;
    /// Messages encrypted to this node that it decrypts per second, from
    /// all peers together: 100, bursts of 100. Decryption is private-key
    /// work (an X25519 agreement for `ed25519`, an RSA-OAEP decryption of
    /// about 1.5 ms for `rsa2048`, whose timing RUSTSEC-2023-0071
    /// concerns), so at most about 15% of a core under `rsa2048`, whoever
    /// asks. Past it, `NACK RATE_LIMITED`.
    pub const DEFAULT_DECRYPT_RATE: Rate = Rate::new(100, 100);
    /// `CUSTOM` requests waiting for the application's answer at once;
    /// past it a request is refused `RATE_LIMITED` (docs/PROTOCOL.md §11).
    pub const DEFAULT_MAX_PENDING_CUSTOM: usize = 256;
    /// How long the application has to answer a `CUSTOM` request before
    /// the engine answers `NACK INTERNAL` for it.
    pub const DEFAULT_CUSTOM_REPLY_TIMEOUT: Duration = Duration::from_secs(10);
    /// How long a `WHISPER` waits for its `ACK` before it fails: long
    /// enough for a lookup, a dial and a few relayed hops.
    pub const DEFAULT_WHISPER_TIMEOUT: Duration = Duration::from_secs(30);
    /// This node's whispers waiting for answers at once.
    pub const DEFAULT_MAX_WHISPERS: usize = 1024;
    /// Return routes of whispers this node relays, kept at once.
    pub const DEFAULT_MAX_WHISPER_ROUTES: usize = 4096;
    /// Return routes of whispers that came on one connection.
    pub const DEFAULT_MAX_WHISPER_ROUTES_PER_CONNECTION: usize = 256;
    /// Dial-out-only nodes a listening node relays for at once.
    pub const DEFAULT_MAX_RELAYED: usize = 64;
    /// Whispers relayed to one dial-out-only node: 20 a second, bursts of
    /// 100; over it a whisper is refused `RATE_LIMITED` to its origin.
    pub const DEFAULT_RELAY_RATE: Rate = Rate::new(20, 100);
    /// Nodes a DHT record is stored on: the `r` closest to its address.
    /// Ten copies survive 10% of the nodes crashing at once with odds of
    /// 10^-10 per record, and a put costs a lookup of the 10 closest plus
    /// 10 `STORE`s instead of twice 20 (docs/PROTOCOL.md §9.8).
    pub const DEFAULT_RECORD_REPLICAS: usize = 10;
    /// Transmission bodies shorter than this are sent uncompressed even
    /// when a method was negotiated: under about half a kilobyte the
    /// formats' own headers outweigh what they save (docs/design.md §4).
    pub const DEFAULT_COMPRESS_ABOVE: usize = 512;
    /// Messages queued for one peer leave together in one transmission up
    /// to this many body bytes (a message larger than this goes alone,
    /// within the peer's `max_transmission`): hundreds of small messages
    /// per transmission, while a receiver never has to buffer a
    /// transmission of many large ones before it can decode the first.
    pub const DEFAULT_BATCH_BYTES: usize = 64 * 1024;

    /// The defaults for `keypair`, whose profile is the network's, with the
    /// engine's only RNG (nonces, signatures) seeded from `rng_seed`.
    pub fn new(keypair: Keypair, rng_seed: [u8; 32]) -> Self {
        Self {
            keypair,
            listen: Vec::new(),
            rng_seed,
            limits: Limits::default(),
            kad: KadConfig::default(),
            handshake_timeout: Self::DEFAULT_HANDSHAKE_TIMEOUT,
            request_timeout: Self::DEFAULT_REQUEST_TIMEOUT,
            keepalive: Self::DEFAULT_KEEPALIVE,
            max_outbound: Self::DEFAULT_MAX_OUTBOUND,
            max_transient: Self::DEFAULT_MAX_TRANSIENT,
            bootstrap_refresh_below: Self::DEFAULT_BOOTSTRAP_REFRESH_BELOW,
            transient_idle: Self::DEFAULT_TRANSIENT_IDLE,
            maintenance_interval: Self::DEFAULT_MAINTENANCE_INTERVAL,
            decode_methods: Self::DEFAULT_DECODE_METHODS,
            preferred: Method::None,
            queue_capacity: Self::DEFAULT_QUEUE_CAPACITY,
            table_capacity: Self::DEFAULT_TABLE_CAPACITY,
            max_inbound: Self::DEFAULT_MAX_INBOUND,
            max_inbound_per_address: Self::DEFAULT_MAX_INBOUND_PER_ADDRESS,
            max_handshaking: Self::DEFAULT_MAX_HANDSHAKING,
            handshake_rate: Self::DEFAULT_HANDSHAKE_RATE,
            request_rates: RequestRates::default(),
            max_outbox_bytes: Self::DEFAULT_MAX_OUTBOX_BYTES,
            decrypt_rate: Self::DEFAULT_DECRYPT_RATE,
            local_network: false,
            flood: FloodConfig::default(),
            unix_time: 0,
            store: StoreLimits::new(),
            max_pending_custom: Self::DEFAULT_MAX_PENDING_CUSTOM,
            custom_reply_timeout: Self::DEFAULT_CUSTOM_REPLY_TIMEOUT,
            encrypt_whispers: true,
            whisper_timeout: Self::DEFAULT_WHISPER_TIMEOUT,
            max_whispers: Self::DEFAULT_MAX_WHISPERS,
            max_whisper_routes: Self::DEFAULT_MAX_WHISPER_ROUTES,
            max_whisper_routes_per_connection: Self::DEFAULT_MAX_WHISPER_ROUTES_PER_CONNECTION,
            max_relayed: Self::DEFAULT_MAX_RELAYED,
            relay_rate: Self::DEFAULT_RELAY_RATE,
            record_replicas: Self::DEFAULT_RECORD_REPLICAS,
            compress_above: Self::DEFAULT_COMPRESS_ABOVE,
            batch_bytes: Self::DEFAULT_BATCH_BYTES,
        }
    }

    /// This node's key pair.
    pub fn keypair(&self) -> &Keypair {
        &self.keypair
    }

    /// Addresses this node accepts connections on (at most 8 are sent in
    /// its hello); none for a dial-out-only node.
    pub fn set_listen(&mut self, listen: Vec<SocketAddr>) -> &mut Self {
        self.listen = listen;
        self
    }

    /// See [`set_listen`](Self::set_listen).
    pub fn listen(&self) -> &[SocketAddr] {
        &self.listen
    }

    /// Wire limits for decoding (docs/PROTOCOL.md §11).
    pub fn set_limits(&mut self, limits: Limits) -> &mut Self {
        self.limits = limits;
        self
    }

    /// See [`set_limits`](Self::set_limits).
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Kademlia parameters (k, α, timeouts).
    pub fn set_kad(&mut self, kad: KadConfig) -> &mut Self {
        self.kad = kad;
        self
    }

    /// See [`set_kad`](Self::set_kad).
    pub fn kad(&self) -> &KadConfig {
        &self.kad
    }

    /// The Kademlia parameters, to change one of them.
    pub fn kad_mut(&mut self) -> &mut KadConfig {
        &mut self.kad
    }

    /// See [`DEFAULT_HANDSHAKE_TIMEOUT`](Self::DEFAULT_HANDSHAKE_TIMEOUT).
    pub fn set_handshake_timeout(&mut self, timeout: Duration) -> &mut Self {
        self.handshake_timeout = timeout;
        self
    }

    /// See [`DEFAULT_REQUEST_TIMEOUT`](Self::DEFAULT_REQUEST_TIMEOUT).
    pub fn set_request_timeout(&mut self, timeout: Duration) -> &mut Self {
        self.request_timeout = timeout;
        self
    }

    /// See [`DEFAULT_KEEPALIVE`](Self::DEFAULT_KEEPALIVE).
    pub fn set_keepalive(&mut self, interval: Duration) -> &mut Self {
        self.keepalive = interval;
        self
    }

    /// ℓ, see [`DEFAULT_MAX_OUTBOUND`](Self::DEFAULT_MAX_OUTBOUND): kept
    /// connections this node opened or is opening. Used as at least 1 and at
    /// most [`max_outbound_limit`] for the configured k.
    pub fn set_max_outbound(&mut self, limit: usize) -> &mut Self {
        self.max_outbound = limit;
        self
    }

    /// See [`set_max_outbound`](Self::set_max_outbound).
    pub fn max_outbound(&self) -> usize {
        self.max_outbound
    }

    /// See [`DEFAULT_MAX_TRANSIENT`](Self::DEFAULT_MAX_TRANSIENT); used as
    /// at least 1.
    pub fn set_max_transient(&mut self, limit: usize) -> &mut Self {
        self.max_transient = limit;
        self
    }

    /// See [`set_max_transient`](Self::set_max_transient).
    pub fn max_transient(&self) -> usize {
        self.max_transient
    }

    /// See
    /// [`DEFAULT_BOOTSTRAP_REFRESH_BELOW`](Self::DEFAULT_BOOTSTRAP_REFRESH_BELOW);
    /// 0 refreshes nothing, k or more refreshes every bucket that is not
    /// full.
    pub fn set_bootstrap_refresh_below(&mut self, below: usize) -> &mut Self {
        self.bootstrap_refresh_below = below;
        self
    }

    /// See [`DEFAULT_TRANSIENT_IDLE`](Self::DEFAULT_TRANSIENT_IDLE).
    pub fn set_transient_idle(&mut self, idle: Duration) -> &mut Self {
        self.transient_idle = idle;
        self
    }

    /// See [`DEFAULT_MAINTENANCE_INTERVAL`](Self::DEFAULT_MAINTENANCE_INTERVAL).
    pub fn set_maintenance_interval(&mut self, interval: Duration) -> &mut Self {
        self.maintenance_interval = interval;
        self
    }

    /// Compression methods this node decodes, announced in its hello and
    /// accepted through `SET_CONNECTION_OPT` (`none` is always included).
    pub fn set_decode_methods(&mut self, methods: MethodSet) -> &mut Self {
        self.decode_methods = methods;
        self
    }

    /// The method this node would like to receive.
    pub fn set_preferred(&mut self, method: Method) -> &mut Self {
        self.preferred = method;
        self
    }

    /// See [`DEFAULT_QUEUE_CAPACITY`](Self::DEFAULT_QUEUE_CAPACITY).
    pub fn set_queue_capacity(&mut self, capacity: usize) -> &mut Self {
        self.queue_capacity = capacity;
        self
    }

    /// See [`DEFAULT_TABLE_CAPACITY`](Self::DEFAULT_TABLE_CAPACITY).
    pub fn set_table_capacity(&mut self, capacity: usize) -> &mut Self {
        self.table_capacity = capacity;
        self
    }

    /// See [`DEFAULT_MAX_INBOUND`](Self::DEFAULT_MAX_INBOUND).
    pub fn set_max_inbound(&mut self, limit: usize) -> &mut Self {
        self.max_inbound = limit;
        self
    }

    /// See
    /// [`DEFAULT_MAX_INBOUND_PER_ADDRESS`](Self::DEFAULT_MAX_INBOUND_PER_ADDRESS).
    pub fn set_max_inbound_per_address(&mut self, limit: usize) -> &mut Self {
        self.max_inbound_per_address = limit;
        self
    }

    /// See [`DEFAULT_MAX_HANDSHAKING`](Self::DEFAULT_MAX_HANDSHAKING).
    pub fn set_max_handshaking(&mut self, limit: usize) -> &mut Self {
        self.max_handshaking = limit;
        self
    }

    /// See [`DEFAULT_HANDSHAKE_RATE`](Self::DEFAULT_HANDSHAKE_RATE).
    pub fn set_handshake_rate(&mut self, rate: Rate) -> &mut Self {
        self.handshake_rate = rate;
        self
    }

    /// The budgets of requests and refusals per connection (see
    /// [`RequestRates`]).
    pub fn set_request_rates(&mut self, rates: RequestRates) -> &mut Self {
        self.request_rates = rates;
        self
    }

    /// See [`DEFAULT_MAX_OUTBOX_BYTES`](Self::DEFAULT_MAX_OUTBOX_BYTES).
    pub fn set_max_outbox_bytes(&mut self, max: usize) -> &mut Self {
        self.max_outbox_bytes = max;
        self
    }

    /// See [`DEFAULT_DECRYPT_RATE`](Self::DEFAULT_DECRYPT_RATE).
    pub fn set_decrypt_rate(&mut self, rate: Rate) -> &mut Self {
        self.decrypt_rate = rate;
        self
    }

    /// Whether this node runs on a local network: then it believes and
    /// dials loopback, private and link-local addresses that peers claim.
    /// Off by default, so that on the internet sybils cannot point its
    /// dials at internal services; tests, the simulator and the demo turn
    /// it on.
    pub fn set_local_network(&mut self, local: bool) -> &mut Self {
        self.local_network = local;
        self
    }

    /// The seen-cache and per-origin budgets of broadcasts (see
    /// [`FloodConfig`]).
    pub fn set_flood(&mut self, flood: FloodConfig) -> &mut Self {
        self.flood = flood;
        self
    }

    /// The Unix time, in seconds, at the `now` the engine is created with:
    /// the engine reads no clock, and DHT metadata (`stored_at`,
    /// docs/PROTOCOL.md §8) is in Unix seconds. The runtime sets it from
    /// the system clock; 0 (the default) dates records from 1970.
    pub fn set_unix_time(&mut self, seconds: u64) -> &mut Self {
        self.unix_time = seconds;
        self
    }

    /// What the node stores for others: key and value sizes, TTL bounds,
    /// global caps and per-peer quotas (see [`StoreLimits`]).
    pub fn set_store_limits(&mut self, limits: StoreLimits) -> &mut Self {
        self.store = limits;
        self
    }

    /// The store's limits.
    pub fn store_limits(&self) -> &StoreLimits {
        &self.store
    }

    /// Nodes a record is stored on, clamped to 1..=k
    /// ([`DEFAULT_RECORD_REPLICAS`](Self::DEFAULT_RECORD_REPLICAS)).
    /// Every node of a network should use the same value: it decides
    /// which newcomers get a copy.
    pub fn set_record_replicas(&mut self, replicas: usize) -> &mut Self {
        self.record_replicas = replicas;
        self
    }

    /// Transmission bodies shorter than `bytes` go uncompressed
    /// ([`DEFAULT_COMPRESS_ABOVE`](Self::DEFAULT_COMPRESS_ABOVE)); 0
    /// compresses every one with the negotiated method.
    pub fn set_compress_above(&mut self, bytes: usize) -> &mut Self {
        self.compress_above = bytes;
        self
    }

    /// Transmissions fill with queued messages up to `bytes` of body
    /// ([`DEFAULT_BATCH_BYTES`](Self::DEFAULT_BATCH_BYTES)); a single
    /// larger message still goes, within the peer's limit.
    pub fn set_batch_bytes(&mut self, bytes: usize) -> &mut Self {
        self.batch_bytes = bytes;
        self
    }

    /// Nodes a record is stored on, within 1..=k.
    pub fn record_replicas(&self) -> usize {
        self.record_replicas.clamp(1, self.kad.bucket_size())
    }

    /// `CUSTOM` requests waiting for the application's answer at once.
    pub fn set_max_pending_custom(&mut self, max: usize) -> &mut Self {
        self.max_pending_custom = max;
        self
    }

    /// How long the application has to answer a `CUSTOM` request.
    pub fn set_custom_reply_timeout(&mut self, timeout: Duration) -> &mut Self {
        self.custom_reply_timeout = timeout;
        self
    }

    /// Whether whispers are encrypted end to end unless the command says
    /// otherwise (on by default).
    pub fn set_encrypt_whispers(&mut self, encrypt: bool) -> &mut Self {
        self.encrypt_whispers = encrypt;
        self
    }

    /// How long a `WHISPER` waits for its answer.
    pub fn set_whisper_timeout(&mut self, timeout: Duration) -> &mut Self {
        self.whisper_timeout = timeout;
        self
    }

    /// Whispers waiting for answers at once; past it a command fails.
    pub fn set_max_whispers(&mut self, max: usize) -> &mut Self {
        self.max_whispers = max;
        self
    }

    /// Return routes of relayed whispers, in all and per connection; past
    /// them a whisper to relay is refused `RATE_LIMITED`.
    pub fn set_max_whisper_routes(&mut self, total: usize, per_connection: usize) -> &mut Self {
        self.max_whisper_routes = total;
        self.max_whisper_routes_per_connection = per_connection;
        self
    }

    /// Dial-out-only nodes this node relays for at once, and the rate of
    /// whispers it relays to each (docs/PROTOCOL.md §9.10).
    pub fn set_relaying(&mut self, max_relayed: usize, rate: Rate) -> &mut Self {
        self.max_relayed = max_relayed;
        self.relay_rate = rate;
        self
    }

    /// The configuration with every duration capped at
    /// [`MAX_DURATION`](Self::MAX_DURATION) and ℓ brought into its allowed
    /// range.
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
            &mut self.custom_reply_timeout,
            &mut self.whisper_timeout,
        ] {
            *d = (*d).min(Self::MAX_DURATION);
        }
        self.kad = self.kad.capped(Self::MAX_DURATION);
        self
    }
}

/// The largest ℓ the seed draft allows for bucket size `k`:
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

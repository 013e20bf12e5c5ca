//! Building a node (ARCHITECTURE.md, "The runtime and the facade").

use std::fmt;
use std::net::SocketAddr;

use rand_core::{OsRng, RngCore};
use shoutnet_crypto::Keypair;
use shoutnet_engine::EngineConfig;
use shoutnet_net::{NetConfig, Transport};
use shoutnet_wire::{Method, Profile};

use crate::{Error, Events, Node};

/// A hook that adjusts the engine's configuration before the node starts.
type Configure = Box<dyn FnOnce(&mut NetConfig) + Send>;

/// Builds a [`Node`]: [`Node::builder`], then the settings, then
/// [`build`](Self::build).
///
/// Defaults: the `ed25519` profile, a fresh key pair, no listen address
/// (a dial-out-only node, reached through relays), no seeds, TCP, snappy
/// compression, the engine's ℓ of kept connections, and the internet's
/// caution about private addresses (see
/// [`local_network`](Self::local_network)).
pub struct NodeBuilder {
    profile: Profile,
    keypair: Option<Keypair>,
    listen: Vec<SocketAddr>,
    bootstrap: Vec<SocketAddr>,
    outbound_limit: Option<usize>,
    local_network: bool,
    compression: Method,
    transport: Transport,
    configure: Vec<Configure>,
}

impl fmt::Debug for NodeBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodeBuilder")
            .field("profile", &self.profile)
            .field("listen", &self.listen)
            .field("bootstrap", &self.bootstrap)
            .field("outbound_limit", &self.outbound_limit)
            .field("local_network", &self.local_network)
            .finish_non_exhaustive()
    }
}

impl Default for NodeBuilder {
    fn default() -> Self {
        Self {
            profile: Profile::Ed25519,
            keypair: None,
            listen: Vec::new(),
            bootstrap: Vec::new(),
            outbound_limit: None,
            local_network: false,
            compression: Method::Snappy,
            transport: Transport::Tcp,
            configure: Vec::new(),
        }
    }
}

impl NodeBuilder {
    /// The network's profile (`ed25519` by default; `rsa2048` is the
    /// seed's). Ignored when a key pair is given: its profile counts.
    pub fn profile(mut self, profile: Profile) -> Self {
        self.profile = profile;
        self
    }

    /// The node's identity. Without one, a fresh key pair is generated.
    pub fn keypair(mut self, keypair: Keypair) -> Self {
        self.keypair = Some(keypair);
        self
    }

    /// An address to listen on (port 0 picks one); call again for more
    /// (IPv4 and IPv6). A node with none is dial-out-only.
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen.push(addr);
        self
    }

    /// Seeds to join through; the node retries while it reaches none.
    pub fn bootstrap(mut self, seeds: Vec<SocketAddr>) -> Self {
        self.bootstrap = seeds;
        self
    }

    /// ℓ, the kept connections broadcasts flood over.
    pub fn outbound_limit(mut self, limit: usize) -> Self {
        self.outbound_limit = Some(limit);
        self
    }

    /// Whether the node runs on a local network (loopback, a LAN, tests):
    /// then it believes and dials private and loopback addresses that peers
    /// claim, and lifts the per-address inbound limit, since every peer
    /// shares few addresses. Off by default.
    pub fn local_network(mut self, local: bool) -> Self {
        self.local_network = local;
        self
    }

    /// The compression method the node asks its peers to send with, and
    /// sends with to peers that decode it (docs/PROTOCOL.md §9.3):
    /// snappy by default, cheap and safe to decode; transmissions under
    /// 512 bytes go uncompressed whatever the method. `Method::None`
    /// turns compression off.
    pub fn compression(mut self, method: Method) -> Self {
        self.compression = method;
        self
    }

    /// The transport: TCP by default, or an in-memory network for tests.
    pub fn transport(mut self, transport: Transport) -> Self {
        self.transport = transport;
        self
    }

    /// Adjusts the runtime's and the engine's configuration (timeouts,
    /// limits, queue bounds) before the node starts.
    pub fn configure(mut self, f: impl FnOnce(&mut NetConfig) + Send + 'static) -> Self {
        self.configure.push(Box::new(f));
        self
    }

    /// Starts the node: binds its listen addresses and starts joining
    /// through its seeds ([`Node::joined`] waits for that). Returns the
    /// node and the stream of what arrives.
    pub async fn build(self) -> Result<(Node, Events), Error> {
        let keypair = match self.keypair {
            Some(keypair) => keypair,
            None => Keypair::generate(self.profile, &mut OsRng)?,
        };
        let mut seed = [0; 32];
        OsRng.fill_bytes(&mut seed);
        let mut engine = EngineConfig::new(keypair, seed);
        engine
            .set_listen(self.listen)
            .set_local_network(self.local_network)
            .set_decode_methods(EngineConfig::DEFAULT_DECODE_METHODS.with(self.compression))
            .set_preferred(self.compression);
        if self.local_network {
            engine.set_max_inbound_per_address(EngineConfig::DEFAULT_MAX_INBOUND);
        }
        if let Some(limit) = self.outbound_limit {
            engine.set_max_outbound(limit);
        }
        let mut config = NetConfig::new(engine);
        config
            .set_transport(self.transport)
            .set_bootstrap(self.bootstrap);
        for configure in self.configure {
            configure(&mut config);
        }
        let (handle, events) = shoutnet_net::spawn(config).await?;
        Ok((Node::new(handle), Events::new(events)))
    }
}

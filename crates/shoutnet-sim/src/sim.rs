//! The discrete-event driver (ARCHITECTURE.md, "Deterministic simulation";
//! it drives the sans-IO contract of docs/PROTOCOL.md §9): many
//! `NodeEngine`s, a virtual network of never-bound listen addresses, and one
//! event queue keyed by `(time, sequence)`.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use sha2::{Digest, Sha256};
use shoutnet_crypto::{Keypair, Profile};
use shoutnet_engine::channel::{ChannelEvent, ChannelIdentity, SecureChannel, SecuredPeer};
use shoutnet_engine::{
    Action, Command, CommandId, ConnectionId, Direction, EngineConfig, Event, MessageId, NodeEngine,
};
use shoutnet_wire::{
    Limits, Message, MethodSet, Opcode, Payload, decode_transmission, encode_transmission,
};

use crate::channel::{ChannelMode, Side, Trusted};
use crate::config::{INITIAL_RTO, INITIAL_SYN_RTO, LossModel, MAX_RETRANSMISSIONS, SimConfig};
use crate::error::{Error, Livelock};

/// Node `i` listens on `10.0.0.1 + i`, port [`PORT`]. Nothing is bound:
/// the address is only a name the simulator maps back to the node. Each
/// node has its own IP address, as hosts do, so per-address limits and
/// the observed-address rule work as on a real network.
pub const PORT: u16 = 4000;

/// The first node's IP address, as a number.
const FIRST_IP: u32 = 0x0a00_0001;

/// The port an inbound connection shows as its remote port.
const EPHEMERAL_PORT: u16 = 40_000;

/// The most nodes the `10.0.0.0/8` range above `10.0.0.1` can name.
pub const MAX_NODES: usize = (0x0aff_ffff - FIRST_IP) as usize;

/// The IP address of node `i` (`10.255.255.255`, which no node has, if
/// `i` is out of range).
fn ip(i: usize) -> Ipv4Addr {
    let n = u32::try_from(i)
        .ok()
        .filter(|i| (*i as usize) < MAX_NODES)
        .map_or(0x0aff_ffff, |i| FIRST_IP + i);
    Ipv4Addr::from(n)
}

/// The listen address of node `i`.
pub fn addr(i: usize) -> SocketAddr {
    SocketAddr::from((ip(i), PORT))
}

/// The node listening on `addr`, if the address names one of the first
/// `n` nodes.
pub fn node_of(addr: SocketAddr, n: usize) -> Option<usize> {
    let IpAddr::V4(v4) = addr.ip() else {
        return None;
    };
    if addr.port() != PORT {
        return None;
    }
    let i = usize::try_from(u32::from(v4).checked_sub(FIRST_IP)?).ok()?;
    (i < n).then_some(i)
}

/// One engine event, with its virtual time.
#[derive(Clone, Debug)]
pub struct LoggedEvent {
    /// Time since the simulation's epoch.
    pub at: Duration,
    /// The node that emitted it.
    pub node: usize,
    /// The event.
    pub event: Event,
}

/// A broadcast sent (`from` is `None`: the node is its origin, from
/// `Event::Shouted`) or delivered (`Event::Shout`, `from` the node it came
/// from).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Broadcast {
    /// Time since the simulation's epoch.
    pub at: Duration,
    /// The node that sent or delivered it.
    pub node: usize,
    /// The broadcast.
    pub message: MessageId,
    /// The node it came from, for a delivery.
    pub from: Option<usize>,
    /// The copies the node sent on.
    pub sent: usize,
}

/// One message delivered over a link, decoded (recorded only with
/// [`SimConfig::set_record`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoggedMessage {
    /// Time of delivery since the simulation's epoch.
    pub at: Duration,
    /// The sending node.
    pub from: usize,
    /// The receiving node.
    pub to: usize,
    /// The receiver's connection it arrived on.
    pub conn: ConnectionId,
    /// The message's opcode.
    pub opcode: Opcode,
    /// Its payload, or `None` if that does not decode (an encrypted or
    /// malformed message).
    pub payload: Option<Payload>,
}

/// One dial or close an engine asked for (recorded only with
/// [`SimConfig::set_record`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoggedAction {
    /// Time since the simulation's epoch.
    pub at: Duration,
    /// The node that asked for it.
    pub node: usize,
    /// The action; a close names the node's own connection.
    pub action: Action,
}

/// A hook on what one node sends (see [`Sim::set_rewrite`]): given each
/// payload, returns the payload to send instead, or `None` to drop the
/// message.
pub type Rewrite = Box<dyn FnMut(Payload) -> Option<Payload> + Send + Sync>;

/// Counters of a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SimStats {
    /// Queue entries processed, stale timers included.
    pub steps: u64,
    /// Timer entries skipped because the node re-armed or crashed.
    pub stale_timers: u64,
    /// Transmissions the engines handed to the network (each is one
    /// batch of one or more messages).
    pub transmissions: u64,
    /// Secure-channel handshake messages sent.
    pub handshake_messages: u64,
    /// Connections closed because their channel failed (a handshake or a
    /// message that did not verify).
    pub channel_failures: u64,
    /// Bytes in those transmissions.
    pub bytes: u64,
    /// Losses drawn: transmissions and dials lost (and, under
    /// [`LossModel::Retransmit`], sent again).
    pub lost: u64,
    /// Connections reset after [`MAX_RETRANSMISSIONS`] losses in a row.
    pub resets: u64,
    /// Transmissions dropped by a partition (at send or delivery).
    pub partitioned: u64,
    /// Transmissions delivered to an engine.
    pub delivered: u64,
    /// `Action::Dial`s.
    pub dials: u64,
    /// Dials that connected.
    pub connects: u64,
    /// `Event::LookupFinished` events.
    pub lookups_finished: u64,
    /// `Event::BootstrapFinished` events.
    pub bootstraps_finished: u64,
}

/// A queue entry, ordered by `(at, seq)` only.
#[derive(Debug)]
struct Entry {
    at: Instant,
    seq: u64,
    kind: Kind,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}

impl Eq for Entry {}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

#[derive(Debug)]
enum Kind {
    /// Bytes arrive on the receiver's `conn`.
    Deliver { conn: ConnectionId, bytes: Bytes },
    /// A dial by `from` (in its incarnation `incarnation`) reaches `to`.
    Connect {
        from: usize,
        incarnation: u32,
        to: usize,
        addr: SocketAddr,
        latency: Duration,
    },
    /// The peer closed; the receiver's `conn` is gone.
    Closed { conn: ConnectionId },
    /// `node`'s dial of `addr` (in its incarnation `incarnation`) was
    /// refused: nothing listens there.
    Refused {
        node: usize,
        incarnation: u32,
        addr: SocketAddr,
    },
    /// `node`'s timer armed for `deadline`.
    Timer { node: usize, deadline: Instant },
}

/// One side of an open connection, indexed by its `ConnectionId`.
#[derive(Clone, Copy, Debug)]
struct Link {
    node: usize,
    peer_node: usize,
    peer: ConnectionId,
    latency: Duration,
    /// When this side's sender is free again (bandwidth).
    free_at: Instant,
    /// The latest arrival scheduled from this side, so the link stays FIFO.
    last_arrival: Instant,
}

/// What a node's engine was configured with that the simulator checks or
/// decodes by.
#[derive(Clone, Copy, Debug)]
struct NodeLimits {
    /// The engine's wire limits, to decode what it sends and receives.
    wire: Limits,
    /// ℓ, at least 1.
    kept: usize,
    /// The transient limit, at least 1.
    transient: usize,
}

/// A node's [`Rewrite`] hook.
struct RewriteHook(Rewrite);

impl std::fmt::Debug for RewriteHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RewriteHook")
    }
}

#[derive(Debug)]
struct Node {
    engine: NodeEngine,
    keypair: Keypair,
    limits: NodeLimits,
    rewrite: Option<RewriteHook>,
    /// A hello presented instead of the engine's own (see
    /// [`Sim::set_hello`]).
    hello: Option<Bytes>,
    /// The deadline of the one live timer entry in the queue.
    armed: Option<Instant>,
    up: bool,
    /// Whether a crashed node's host is gone too: nothing answers for it,
    /// not even a refusal.
    silent: bool,
    incarnation: u32,
    /// Partition side: 0 none, 1 or 2.
    side: u8,
}

/// A deterministic simulation of `n` engines over a virtual network.
///
/// Every input comes from the queue or from the caller, every random draw
/// from one `ChaCha20Rng` seeded by [`SimConfig::seed`], so the same
/// configuration gives the same run, byte for byte
/// ([`trace_hash`](Self::trace_hash)).
///
/// Besides the network's own traffic, tests can open connections directly
/// ([`connect`](Self::connect)), feed a node raw bytes
/// ([`inject`](Self::inject)), rewrite or drop what a node sends
/// ([`set_rewrite`](Self::set_rewrite)), record every message and action
/// ([`SimConfig::set_record`]) and have every node's outbound limits
/// checked as it runs ([`SimConfig::set_check_limits`]).
#[derive(Debug)]
pub struct Sim {
    config: SimConfig,
    epoch: Instant,
    now: Instant,
    rng: ChaCha20Rng,
    nodes: Vec<Node>,
    links: Vec<Option<Link>>,
    /// Each link side's secure channel, indexed as `links`.
    channels: Vec<Option<Side>>,
    queue: BinaryHeap<Reverse<Entry>>,
    seq: u64,
    /// Entries in the queue other than timers.
    in_flight: usize,
    log: Vec<LoggedEvent>,
    finished: Vec<LoggedEvent>,
    broadcasts: Vec<Broadcast>,
    messages: Vec<LoggedMessage>,
    actions: Vec<LoggedAction>,
    hasher: Sha256,
    stats: SimStats,
    scratch: String,
}

fn derive(seed: u64, node: usize, label: &[u8], incarnation: u32) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(seed.to_le_bytes());
    h.update((node as u64).to_le_bytes());
    h.update(label);
    h.update(incarnation.to_le_bytes());
    h.finalize().into()
}

/// Node `node`'s key pair under master `seed`: ed25519 from a ChaCha20
/// stream seeded with SHA-256 of the seed, the node index and `"key"`.
pub fn node_keypair(seed: u64, node: usize) -> Result<Keypair, shoutnet_crypto::Error> {
    let mut rng = ChaCha20Rng::from_seed(derive(seed, node, b"key", 0));
    Keypair::generate(Profile::Ed25519, &mut rng)
}

impl Sim {
    /// Builds `config.n` engines at `epoch`, the simulation's time zero.
    /// The caller reads the clock (once); the simulator never does.
    pub fn new(config: SimConfig, epoch: Instant) -> Result<Self, Error> {
        if config.n > MAX_NODES {
            return Err(Error::TooManyNodes {
                n: config.n,
                max: MAX_NODES,
            });
        }
        if !(0.0..=1.0).contains(&config.loss) {
            return Err(Error::BadLoss(config.loss));
        }
        if let Some(keys) = &config.keys {
            let mixed = keys.iter().any(|k| k.profile() != keys[0].profile());
            if keys.len() < config.n || mixed {
                return Err(Error::Keys {
                    given: keys.len(),
                    n: config.n,
                });
            }
        }
        let mut sim = Self {
            rng: ChaCha20Rng::from_seed(derive(config.seed, usize::MAX, b"network", 0)),
            epoch,
            now: epoch,
            nodes: Vec::with_capacity(config.n),
            links: Vec::new(),
            channels: Vec::new(),
            queue: BinaryHeap::new(),
            seq: 0,
            in_flight: 0,
            log: Vec::new(),
            finished: Vec::new(),
            broadcasts: Vec::new(),
            messages: Vec::new(),
            actions: Vec::new(),
            hasher: Sha256::new(),
            stats: SimStats::default(),
            scratch: String::new(),
            config,
        };
        for i in 0..sim.config.n {
            let keypair = match &sim.config.keys {
                Some(keys) => keys[i].clone(),
                None => node_keypair(sim.config.seed, i)?,
            };
            let (engine, limits) = sim.engine(i, &keypair, 0);
            sim.nodes.push(Node {
                engine,
                keypair,
                limits,
                rewrite: None,
                hello: None,
                armed: None,
                up: true,
                silent: false,
                incarnation: 0,
                side: 0,
            });
        }
        Ok(sim)
    }

    /// Node `i`'s engine in incarnation `incarnation`, and the limits it
    /// was configured with.
    fn engine(&self, i: usize, keypair: &Keypair, incarnation: u32) -> (NodeEngine, NodeLimits) {
        let mut config = EngineConfig::new(
            keypair.clone(),
            derive(self.config.seed, i, b"engine", incarnation),
        );
        config
            .set_listen(vec![addr(i)])
            .set_local_network(true)
            .set_max_outbound(self.config.max_outbound)
            .set_bootstrap_refresh_below(self.config.refresh_below)
            .kad_mut()
            .set_k(self.config.k);
        if let Some(configure) = &self.config.configure {
            configure(i, &mut config);
        }
        let limits = NodeLimits {
            wire: *config.limits(),
            kept: config.max_outbound().max(1),
            transient: config.max_transient().max(1),
        };
        (NodeEngine::new(config, self.now), limits)
    }

    /// The configuration.
    pub fn config(&self) -> &SimConfig {
        &self.config
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether there are no nodes.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Time zero.
    pub fn epoch(&self) -> Instant {
        self.epoch
    }

    /// The virtual clock.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Virtual time since the epoch.
    pub fn elapsed(&self) -> Duration {
        self.now - self.epoch
    }

    /// Node `i`'s engine (its last incarnation if crashed). Panics if
    /// `i >= len()`.
    pub fn node(&self, i: usize) -> &NodeEngine {
        &self.nodes[i].engine
    }

    /// Whether node `i` is running.
    pub fn is_up(&self, i: usize) -> bool {
        self.nodes[i].up
    }

    /// Every engine's counters, summed (crashed nodes' last incarnations
    /// included).
    pub fn engine_stats(&self) -> shoutnet_engine::Stats {
        let mut sum = shoutnet_engine::Stats::default();
        for node in &self.nodes {
            sum.add(&node.engine.stats());
        }
        sum
    }

    /// The counters.
    pub fn stats(&self) -> SimStats {
        self.stats
    }

    /// The simulator's RNG, for scenarios that pick random nodes or targets
    /// (drawing from it changes the rest of the run, deterministically).
    pub fn rng(&mut self) -> &mut ChaCha20Rng {
        &mut self.rng
    }

    /// Every event so far, in order (empty unless [`SimConfig::keep_log`]).
    pub fn log(&self) -> &[LoggedEvent] {
        &self.log
    }

    /// Every message delivered over a link so far, decoded, in order of
    /// delivery (empty unless [`SimConfig::record`]). Bytes given to
    /// [`inject`](Self::inject) are not in it.
    pub fn messages(&self) -> &[LoggedMessage] {
        &self.messages
    }

    /// Every dial and close the engines asked for so far, in order (empty
    /// unless [`SimConfig::record`]).
    pub fn actions(&self) -> &[LoggedAction] {
        &self.actions
    }

    /// Takes the events that end a command, since the last call, in order:
    /// `Event::LookupFinished`, `Event::BootstrapFinished`,
    /// `Event::WhisperFinished`, `Event::PutFinished`, `Event::GetFinished`
    /// and `Event::CommandFailed`. They are collected whether or not
    /// [`SimConfig::keep_log`] is set, and kept until taken (a few per
    /// command). A caller picks out the kinds and command ids it waits for
    /// and ignores the rest.
    pub fn take_finished(&mut self) -> Vec<LoggedEvent> {
        std::mem::take(&mut self.finished)
    }

    /// Takes the broadcasts sent and delivered since the last call, in
    /// order: collected whether or not [`SimConfig::keep_log`] is set.
    pub fn take_broadcasts(&mut self) -> Vec<Broadcast> {
        std::mem::take(&mut self.broadcasts)
    }

    /// Node `i`'s events, in order.
    pub fn events(&self, i: usize) -> impl Iterator<Item = &Event> {
        self.log
            .iter()
            .filter(move |e| e.node == i)
            .map(|e| &e.event)
    }

    /// SHA-256 over every event so far: its time since the epoch (ns), its
    /// node and its `Debug` text, in order.
    pub fn trace_hash(&self) -> [u8; 32] {
        self.hasher.clone().finalize().into()
    }

    /// Gives node `i` a command now. Panics if `i >= len()`; a command to a
    /// crashed node goes to its dead engine and has no effect on the
    /// network.
    pub fn command(&mut self, i: usize, command: Command) -> CommandId {
        let now = self.now;
        let id = self.nodes[i].engine.handle_command(command, now);
        self.drain(i);
        id
    }

    /// Opens a connection from node `a` to node `b` now, as if `a` had
    /// dialled [`addr(b)`](addr) and `b` accepted: `a` sees it
    /// [`Direction::Outbound`], `b` [`Direction::Inbound`], and both
    /// engines start their handshake. Unlike a dial it takes no time, no
    /// engine asked for it, nothing can lose it or block it (a partition
    /// still drops what crosses it) and it is not counted in
    /// [`SimStats`]; the link's latency is drawn as a dial's is. Returns
    /// `(a's connection, b's connection)`.
    ///
    /// # Panics
    ///
    /// If `a` or `b` is out of range or crashed.
    pub fn connect(&mut self, a: usize, b: usize) -> (ConnectionId, ConnectionId) {
        assert!(
            self.nodes[a].up && self.nodes[b].up,
            "Sim::connect({a}, {b}): a node is down"
        );
        let latency = self.config.latency.sample(&mut self.rng);
        self.open(a, b, addr(b), latency)
    }

    /// Feeds `bytes` to node `i` on its connection `conn` now, as if its
    /// peer had sent them: no latency, loss or partition, and no record in
    /// [`messages`](Self::messages). They may be anything, a fragment of a
    /// transmission included. Panics if `i >= len()`; bytes for a crashed
    /// node go to its dead engine and have no effect on the network.
    pub fn inject(&mut self, i: usize, conn: ConnectionId, bytes: &[u8]) {
        let now = self.now;
        self.nodes[i].engine.handle_bytes(conn, bytes, now);
        self.drain(i);
    }

    /// From now on node `i` presents `hello` in the handshakes of its new
    /// connections instead of its own (`None` restores its own): a node
    /// that relays another node's hello, say. Its channel's static key
    /// stays its own, so a hello bound to another key fails the binding
    /// check. Panics if `i >= len()`.
    pub fn set_hello(&mut self, i: usize, hello: Option<Bytes>) {
        self.nodes[i].hello = hello;
    }

    /// From now on every transmission node `i` sends goes through
    /// `rewrite` first, as a middlebox on its host would see it: each
    /// message whose payload decodes is replaced by a plain message
    /// ([`Message::from_payload`], same keys) carrying the payload
    /// `rewrite` returns, kept byte for byte if that is the payload
    /// unchanged, or dropped if it returns `None`; messages that do not
    /// decode pass unchanged. A transmission that changed is encoded again
    /// with its compression method; one left empty (or that no longer
    /// encodes) is not sent at all, and a payload that does not encode
    /// drops its message. Replaces any earlier hook of `i`, and stays
    /// across crashes and restarts. Panics if `i >= len()`.
    pub fn set_rewrite(
        &mut self,
        i: usize,
        rewrite: impl FnMut(Payload) -> Option<Payload> + Send + Sync + 'static,
    ) {
        self.nodes[i].rewrite = Some(RewriteHook(Box::new(rewrite)));
    }

    /// Removes node `i`'s [`set_rewrite`](Self::set_rewrite) hook. Panics
    /// if `i >= len()`.
    pub fn clear_rewrite(&mut self, i: usize) {
        self.nodes[i].rewrite = None;
    }

    /// Processes the earliest queue entry; `false` if the queue is empty.
    pub fn step(&mut self) -> bool {
        let Some(Reverse(entry)) = self.queue.pop() else {
            return false;
        };
        self.stats.steps += 1;
        self.now = self.now.max(entry.at);
        let now = self.now;
        match entry.kind {
            Kind::Timer { node, deadline } => {
                let n = &mut self.nodes[node];
                if !n.up || n.armed != Some(deadline) {
                    self.stats.stale_timers += 1;
                    return true;
                }
                n.armed = None;
                n.engine.handle_timeout(now);
                self.drain(node);
            }
            Kind::Deliver { conn, bytes } => {
                self.in_flight -= 1;
                let Some(link) = self.link(conn) else {
                    return true;
                };
                if self.blocked(link.node, link.peer_node) {
                    self.stats.partitioned += 1;
                    return true;
                }
                self.stats.delivered += 1;
                self.receive(link, conn, &bytes);
                // The engine acts first: a connection it closed (say, on
                // refusing the peer's hello) sends nothing more, not even
                // the channel's last handshake message.
                self.drain(link.node);
                self.flush_channel(link.node, conn);
            }
            Kind::Closed { conn } => {
                self.in_flight -= 1;
                let Some(link) = self.take_link(conn) else {
                    return true;
                };
                self.nodes[link.node].engine.handle_closed(conn, now);
                self.drain(link.node);
            }
            Kind::Refused {
                node,
                incarnation,
                addr,
            } => {
                self.in_flight -= 1;
                let n = &mut self.nodes[node];
                if n.up && n.incarnation == incarnation {
                    n.engine.handle_dial_failed(addr, now);
                    self.drain(node);
                }
            }
            Kind::Connect {
                from,
                incarnation,
                to,
                addr,
                latency,
            } => {
                self.in_flight -= 1;
                let dialer = &self.nodes[from];
                if !dialer.up || dialer.incarnation != incarnation || self.blocked(from, to) {
                    // The dial goes unanswered; the engine gives it up
                    // after its handshake timeout.
                    return true;
                }
                if !self.nodes[to].up {
                    // A crashed process's host answers with a refusal,
                    // one link latency later; a silent one never does.
                    if !self.nodes[to].silent {
                        let kind = Kind::Refused {
                            node: from,
                            incarnation,
                            addr,
                        };
                        self.push(now + latency, kind);
                    }
                    return true;
                }
                self.stats.connects += 1;
                self.open(from, to, addr, latency);
            }
        }
        true
    }

    /// Links `from` (which dialled `addr`) and `to`, and tells both
    /// engines.
    fn open(
        &mut self,
        from: usize,
        to: usize,
        addr: SocketAddr,
        latency: Duration,
    ) -> (ConnectionId, ConnectionId) {
        let now = self.now;
        let ca = self.new_link(from, to, latency);
        let cb = self.new_link(to, from, latency);
        self.set_peer(ca, cb);
        self.set_peer(cb, ca);
        let (side_a, side_b) = self.channel_pair(from, to, ca);
        self.set_channel(ca, side_a);
        self.set_channel(cb, side_b);
        self.nodes[from]
            .engine
            .handle_connected(ca, Direction::Outbound { addr }, now);
        let remote = SocketAddr::from((ip(from), EPHEMERAL_PORT));
        self.nodes[to]
            .engine
            .handle_connected(cb, Direction::Inbound { remote }, now);
        self.flush_channel(from, ca);
        self.drain(from);
        self.drain(to);
        (ca, cb)
    }

    /// Runs every entry due at or before `t`, then sets the clock to `t`.
    pub fn run_until(&mut self, t: Instant) {
        while self.queue.peek().is_some_and(|Reverse(e)| e.at <= t) {
            self.step();
        }
        self.now = self.now.max(t);
    }

    /// Runs until nothing is in flight and the next timer is later than
    /// `now + horizon` (keepalives never stop, so "empty" never comes),
    /// failing after [`SimConfig::max_steps`] steps. With many connections
    /// opened at different times the 30 s keepalives interleave closer than
    /// any horizon under 30 s and idle never comes; wait for a goal with
    /// [`run_while`](Self::run_while) instead.
    pub fn run_until_idle(&mut self, horizon: Duration) -> Result<(), Livelock> {
        let max = self.config.max_steps;
        self.run_while(max, |sim| !sim.is_idle(horizon))
    }

    /// [`run_until_idle`](Self::run_until_idle) with a 20 s horizon (past
    /// the 10 s handshake and request timeouts, short of the 30 s
    /// keepalive) and a budget of `max_steps`.
    pub fn run_bounded(&mut self, max_steps: u64) -> Result<(), Livelock> {
        self.run_while(max_steps, |sim| !sim.is_idle(Duration::from_secs(20)))
    }

    /// Steps while `go(self)` holds and the queue is not empty, failing
    /// after `max_steps` steps.
    pub fn run_while(
        &mut self,
        max_steps: u64,
        mut go: impl FnMut(&Self) -> bool,
    ) -> Result<(), Livelock> {
        let mut steps = 0;
        while go(self) {
            if steps >= max_steps {
                return Err(Livelock { steps });
            }
            if !self.step() {
                return Ok(());
            }
            steps += 1;
        }
        Ok(())
    }

    /// Whether nothing is in flight and no timer is due within `horizon`.
    pub fn is_idle(&self, horizon: Duration) -> bool {
        self.in_flight == 0
            && self
                .queue
                .peek()
                .is_none_or(|Reverse(e)| e.at > self.now + horizon)
    }

    /// Splits the network: from now on transmissions and dials between a
    /// node of `a` and a node of `b` are dropped, including those already
    /// in flight. Replaces any earlier partition. Connections stay open.
    pub fn partition(&mut self, a: &[usize], b: &[usize]) {
        self.heal();
        for &i in a {
            self.nodes[i].side = 1;
        }
        for &i in b {
            self.nodes[i].side = 2;
        }
    }

    /// Removes the partition.
    pub fn heal(&mut self) {
        for n in &mut self.nodes {
            n.side = 0;
        }
    }

    /// Crashes node `i`'s process, as a kill would: the host resets its
    /// connections (each peer sees `handle_closed` one link latency
    /// later) and refuses dials; in-flight traffic to it is dropped and
    /// its timers stop.
    pub fn crash(&mut self, i: usize) {
        self.stop(i, false);
    }

    /// Takes node `i`'s host off the network, as a power cut would: its
    /// peers hear nothing, not even a close, and learn of it only when
    /// their keepalives and requests go unanswered; dials to it are never
    /// answered.
    pub fn crash_silently(&mut self, i: usize) {
        self.stop(i, true);
    }

    fn stop(&mut self, i: usize, silent: bool) {
        if !self.nodes[i].up {
            return;
        }
        let node = &mut self.nodes[i];
        node.up = false;
        node.silent = silent;
        node.armed = None;
        node.incarnation += 1;
        for c in 0..self.links.len() {
            let Some(link) = self.links[c] else { continue };
            if link.node != i {
                continue;
            }
            self.links[c] = None;
            if let Some(channel) = self.channels.get_mut(c) {
                *channel = None;
            }
            if !silent && self.links_get(link.peer).is_some() {
                let at = (self.now + link.latency).max(link.last_arrival);
                self.push(at, Kind::Closed { conn: link.peer });
            }
        }
    }

    /// Restarts crashed node `i` with a fresh engine and the same key. A
    /// running node is left alone.
    pub fn restart(&mut self, i: usize) {
        if self.nodes[i].up {
            return;
        }
        let incarnation = self.nodes[i].incarnation;
        let (engine, limits) = self.engine(i, &self.nodes[i].keypair, incarnation);
        let node = &mut self.nodes[i];
        node.engine = engine;
        node.limits = limits;
        node.up = true;
        node.armed = None;
        self.drain(i);
    }

    fn blocked(&self, a: usize, b: usize) -> bool {
        self.nodes[a].side | self.nodes[b].side == 3
    }

    fn links_get(&self, conn: ConnectionId) -> Option<&Link> {
        self.links
            .get(usize::try_from(conn.0).ok()?)
            .and_then(Option::as_ref)
    }

    fn link(&self, conn: ConnectionId) -> Option<Link> {
        self.links_get(conn).copied()
    }

    /// Removes one side of a link, and its channel.
    fn take_link(&mut self, conn: ConnectionId) -> Option<Link> {
        let index = usize::try_from(conn.0).ok()?;
        if let Some(channel) = self.channels.get_mut(index) {
            *channel = None;
        }
        self.links.get_mut(index).and_then(Option::take)
    }

    fn set_channel(&mut self, conn: ConnectionId, side: Option<Side>) {
        let Ok(index) = usize::try_from(conn.0) else {
            return;
        };
        if self.channels.len() <= index {
            self.channels.resize_with(index + 1, || None);
        }
        if let Some(slot) = self.channels.get_mut(index) {
            *slot = side;
        }
    }

    /// The channel identity node `i` presents: its engine's, with the hello
    /// replaced if [`set_hello`](Self::set_hello) said so.
    fn identity(&self, i: usize) -> ChannelIdentity {
        let node = &self.nodes[i];
        let own = node.engine.channel_identity();
        match &node.hello {
            Some(hello) => own.with_hello(hello.clone()),
            None => own.clone(),
        }
    }

    /// The two sides of a new channel between dialler `from` (on its
    /// connection `conn`) and acceptor `to`.
    fn channel_pair(
        &mut self,
        from: usize,
        to: usize,
        conn: ConnectionId,
    ) -> (Option<Side>, Option<Side>) {
        let (a, b) = (self.identity(from), self.identity(to));
        match self.config.channel {
            ChannelMode::Noise => {
                let seed_a = derive(self.config.seed, from, b"channel", conn.0 as u32);
                let seed_b = derive(self.config.seed, to, b"channel", conn.0 as u32);
                let side_a = SecureChannel::initiator(&a, seed_a).ok();
                let side_b = SecureChannel::responder(&b, seed_b).ok();
                (
                    side_a.map(|c| Side::Noise(Box::new(c))),
                    side_b.map(|c| Side::Noise(Box::new(c))),
                )
            }
            ChannelMode::Trusted => {
                let known = |id: &ChannelIdentity| SecuredPeer {
                    remote_static: *id.static_public(),
                    hello: id.hello().clone(),
                };
                (
                    Some(Side::Trusted(Trusted::initiator(known(&b)))),
                    Some(Side::Trusted(Trusted::responder(known(&a)))),
                )
            }
        }
    }

    /// Sends what the channel of node `i`'s `conn` has for the wire.
    fn flush_channel(&mut self, i: usize, conn: ConnectionId) {
        let out = usize::try_from(conn.0)
            .ok()
            .and_then(|c| self.channels.get_mut(c))
            .and_then(Option::as_mut)
            .and_then(Side::take_output);
        if let Some(bytes) = out {
            self.stats.handshake_messages += 1;
            self.send_raw(i, conn, bytes);
        }
    }

    /// Bytes arrived on `conn` of `link.node`: through its channel to the
    /// engine. A channel that fails closes the connection on both sides.
    fn receive(&mut self, link: Link, conn: ConnectionId, bytes: &Bytes) {
        let now = self.now;
        let Some(channel) = usize::try_from(conn.0)
            .ok()
            .and_then(|c| self.channels.get_mut(c))
            .and_then(Option::as_mut)
        else {
            return;
        };
        let mut events = Vec::new();
        let received = channel.receive(bytes, &mut events);
        let mut plaintext = BytesMut::new();
        for event in events {
            match event {
                ChannelEvent::Secured(peer) => {
                    self.nodes[link.node].engine.handle_secured(conn, peer, now);
                }
                ChannelEvent::Data(data) => plaintext.extend_from_slice(&data),
            }
        }
        if !plaintext.is_empty() {
            let plaintext = plaintext.freeze();
            if self.config.record {
                self.record_messages(link.peer_node, link.node, conn, &plaintext);
            }
            self.nodes[link.node]
                .engine
                .handle_bytes(conn, &plaintext, now);
        }
        if received.is_err() {
            self.stats.channel_failures += 1;
            self.take_link(conn);
            self.nodes[link.node].engine.handle_closed(conn, now);
            if self.links_get(link.peer).is_some() {
                self.push(now + link.latency, Kind::Closed { conn: link.peer });
            }
        }
    }

    fn new_link(&mut self, node: usize, peer_node: usize, latency: Duration) -> ConnectionId {
        let id = ConnectionId(self.links.len() as u64);
        self.links.push(Some(Link {
            node,
            peer_node,
            peer: id,
            latency,
            free_at: self.now,
            last_arrival: self.now,
        }));
        id
    }

    fn set_peer(&mut self, conn: ConnectionId, peer: ConnectionId) {
        if let Some(Some(link)) = usize::try_from(conn.0)
            .ok()
            .and_then(|c| self.links.get_mut(c))
        {
            link.peer = peer;
        }
    }

    fn push(&mut self, at: Instant, kind: Kind) {
        if !matches!(kind, Kind::Timer { .. }) {
            self.in_flight += 1;
        }
        let seq = self.seq;
        self.seq += 1;
        self.queue.push(Reverse(Entry { at, seq, kind }));
    }

    /// Drains node `i`'s outputs in the engine's order and re-arms its
    /// timer.
    fn drain(&mut self, i: usize) {
        while let Some(t) = self.nodes[i].engine.poll_transmit() {
            self.send(i, t.conn, t.bytes);
        }
        while let Some(action) = self.nodes[i].engine.poll_action() {
            if self.config.record {
                self.actions.push(LoggedAction {
                    at: self.now - self.epoch,
                    node: i,
                    action: action.clone(),
                });
            }
            match action {
                Action::Dial { addr } => {
                    self.stats.dials += 1;
                    if let Some(to) = node_of(addr, self.nodes.len()) {
                        let latency = self.config.latency.sample(&mut self.rng);
                        let incarnation = self.nodes[i].incarnation;
                        // A lost connection attempt is retried (or, when
                        // dropped or given up, never answered).
                        let Some(retries) = self.loss_delay(INITIAL_SYN_RTO) else {
                            continue;
                        };
                        self.push(
                            self.now + latency + retries,
                            Kind::Connect {
                                from: i,
                                incarnation,
                                to,
                                addr,
                                latency,
                            },
                        );
                    }
                }
                Action::Close { conn, .. } => {
                    if let Some(link) = self.take_link(conn) {
                        let at = (self.now + link.latency).max(link.last_arrival);
                        self.push(at, Kind::Closed { conn: link.peer });
                    }
                }
            }
        }
        while let Some(event) = self.nodes[i].engine.poll_event() {
            self.record(i, event);
        }
        let node = &mut self.nodes[i];
        match node.engine.poll_timeout() {
            Some(deadline) if node.armed != Some(deadline) => {
                node.armed = Some(deadline);
                let at = deadline.max(self.now);
                self.push(at, Kind::Timer { node: i, deadline });
            }
            Some(_) => {}
            None => node.armed = None,
        }
        if self.config.check_limits {
            self.check_limits(i);
        }
    }

    /// Panics if node `i` has more kept or transient outbound connections
    /// than its configuration allows.
    fn check_limits(&self, i: usize) {
        let node = &self.nodes[i];
        let (kept, transient) = node.engine.outbound_counts();
        let limits = node.limits;
        assert!(
            kept <= limits.kept && transient <= limits.transient,
            "node {i} at {:?}: {kept} kept outbound connections (ℓ = {}), {transient} transient (at most {})",
            self.now - self.epoch,
            limits.kept,
            limits.transient,
        );
    }

    /// Node `from`'s [`Rewrite`] hook applied to one transmission: `None`
    /// if nothing is left to send.
    fn rewrite(&mut self, from: usize, bytes: Bytes) -> Option<Bytes> {
        let node = &mut self.nodes[from];
        let Some(RewriteHook(hook)) = node.rewrite.as_mut() else {
            return Some(bytes);
        };
        let profile = node.keypair.profile();
        let limits = node.limits.wire;
        let Ok(tx) = decode_transmission(bytes.clone(), profile, &limits, MethodSet::all()) else {
            return Some(bytes);
        };
        let mut out = Vec::with_capacity(tx.len());
        let mut changed = false;
        for msg in tx.iter() {
            let original = msg.to_message();
            let Ok(payload) = msg.payload(&limits.value) else {
                out.push(original);
                continue;
            };
            match hook(payload.clone()) {
                Some(p) if p == payload => out.push(original),
                Some(p) => {
                    changed = true;
                    if let Ok(m) = Message::from_payload(profile, original.from, original.to, &p) {
                        out.push(m);
                    }
                }
                None => changed = true,
            }
        }
        if !changed {
            return Some(bytes);
        }
        if out.is_empty() {
            return None;
        }
        encode_transmission(profile, &out, tx.compression).ok()
    }

    /// Records the messages of one transmission delivered from `from` to
    /// `to`'s `conn`.
    fn record_messages(&mut self, from: usize, to: usize, conn: ConnectionId, bytes: &Bytes) {
        let node = &self.nodes[to];
        let limits = node.limits.wire;
        let Ok(tx) = decode_transmission(
            bytes.clone(),
            node.keypair.profile(),
            &limits,
            MethodSet::all(),
        ) else {
            return;
        };
        let at = self.now - self.epoch;
        for msg in tx.iter() {
            self.messages.push(LoggedMessage {
                at,
                from,
                to,
                conn,
                opcode: msg.opcode(),
                payload: msg.payload(&limits.value).ok(),
            });
        }
    }

    /// Puts one transmission of node `from` on the wire, through its
    /// channel.
    fn send(&mut self, from: usize, conn: ConnectionId, bytes: Bytes) {
        let bytes = if self.nodes[from].rewrite.is_some() {
            let Some(bytes) = self.rewrite(from, bytes) else {
                return;
            };
            bytes
        } else {
            bytes
        };
        self.stats.transmissions += 1;
        let sealed = usize::try_from(conn.0)
            .ok()
            .and_then(|c| self.channels.get_mut(c))
            .and_then(Option::as_mut)
            .map(|channel| channel.send(&bytes).map(|()| channel.take_output()));
        // The engine sends only on established connections, whose channels
        // are secured; anything else is lost with the link.
        if let Some(Ok(Some(bytes))) = sealed {
            self.send_raw(from, conn, bytes);
        }
    }

    /// Puts bytes of node `from`'s channel on the wire.
    fn send_raw(&mut self, from: usize, conn: ConnectionId, bytes: Bytes) {
        self.stats.bytes += bytes.len() as u64;
        let Some(link) = self.link(conn) else {
            return;
        };
        let Some(retransmissions) = self.loss_delay(INITIAL_RTO) else {
            if self.config.loss_model == LossModel::Retransmit {
                self.reset(conn, link);
            }
            return;
        };
        if self.blocked(from, link.peer_node) {
            self.stats.partitioned += 1;
            return;
        }
        let start = self.now.max(link.free_at);
        let free_at = match self.config.bandwidth {
            Some(bw) if bw > 0 => {
                start + Duration::from_nanos(bytes.len() as u64 * 1_000_000_000 / bw)
            }
            _ => start,
        };
        let at = (free_at + link.latency + retransmissions).max(link.last_arrival);
        if let Some(Some(l)) = self.links.get_mut(conn.0 as usize) {
            l.free_at = free_at;
            l.last_arrival = at;
        }
        self.push(
            at,
            Kind::Deliver {
                conn: link.peer,
                bytes,
            },
        );
    }

    /// Draws the losses of one transmission or dial: the extra delay of
    /// its retransmissions, or `None` when it is dropped
    /// ([`LossModel::Drop`]) or given up after [`MAX_RETRANSMISSIONS`].
    fn loss_delay(&mut self, first_rto: Duration) -> Option<Duration> {
        if self.config.loss <= 0.0 {
            return Some(Duration::ZERO);
        }
        let mut delay = Duration::ZERO;
        let mut rto = first_rto;
        for _ in 0..=MAX_RETRANSMISSIONS {
            let draw = (self.rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
            if draw >= self.config.loss {
                return Some(delay);
            }
            self.stats.lost += 1;
            if self.config.loss_model == LossModel::Drop {
                return None;
            }
            delay += rto;
            rto *= 2;
        }
        None
    }

    /// TCP gave up on `conn`: both sides see it close.
    fn reset(&mut self, conn: ConnectionId, link: Link) {
        self.stats.resets += 1;
        let at = self.now + link.latency;
        if self.links_get(link.peer).is_some() {
            self.push(at, Kind::Closed { conn: link.peer });
        }
        self.push(at, Kind::Closed { conn });
    }

    fn record(&mut self, node: usize, event: Event) {
        let at = self.now - self.epoch;
        match &event {
            Event::Shout {
                conn,
                message,
                forwarded,
                ..
            } => {
                let from = self.link(*conn).map(|l| l.peer_node);
                self.broadcasts.push(Broadcast {
                    at,
                    node,
                    message: *message,
                    from,
                    sent: *forwarded,
                });
            }
            Event::Shouted { message, sent, .. } => self.broadcasts.push(Broadcast {
                at,
                node,
                message: *message,
                from: None,
                sent: *sent,
            }),
            _ => {}
        }
        let finished = match event {
            Event::LookupFinished { .. } => {
                self.stats.lookups_finished += 1;
                true
            }
            Event::BootstrapFinished { .. } => {
                self.stats.bootstraps_finished += 1;
                true
            }
            Event::WhisperFinished { .. }
            | Event::PutFinished { .. }
            | Event::GetFinished { .. }
            | Event::CommandFailed { .. } => true,
            _ => false,
        };
        self.scratch.clear();
        match &event {
            // The message id covers origin and content: the data need not
            // be printed (a broadcast's Debug form is most of its cost).
            Event::Shout {
                conn,
                message,
                forwarded,
                ..
            } => {
                let _ = write!(self.scratch, "Shout {conn:?} {message:?} {forwarded}");
            }
            _ => {
                let _ = write!(self.scratch, "{event:?}");
            }
        }
        self.hasher.update(at.as_nanos().to_le_bytes());
        self.hasher.update((node as u64).to_le_bytes());
        self.hasher
            .update((self.scratch.len() as u64).to_le_bytes());
        self.hasher.update(self.scratch.as_bytes());
        let logged = LoggedEvent { at, node, event };
        if finished {
            self.finished.push(logged.clone());
        }
        if self.config.keep_log {
            self.log.push(logged);
        }
    }
}

//! A tiny deterministic in-memory driver for `NodeEngine`s (docs/PROTOCOL.md
//! §9): a virtual clock, a FIFO of deliveries, and listen addresses that are
//! never bound, only mapped to nodes.
#![allow(dead_code, unreachable_pub)]

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use shoutnet_crypto::{Keypair, Profile};
use shoutnet_engine::{Action, ConnectionId, Direction, EngineConfig, Event, NodeEngine};
use shoutnet_engine::{Command, RequestId};
use shoutnet_wire::{
    BatchEncoder, Limits, Message, Method, MethodSet, Opcode, Payload, decode_transmission,
};

/// Steps one `run_*` call may take before it is declared a livelock.
const MAX_STEPS: usize = 1_000_000;

/// Rewrites (or drops, by returning `None`) payloads a node sends.
pub type Rewrite = Box<dyn FnMut(Payload) -> Option<Payload>>;

/// One decoded message that crossed a link.
#[derive(Clone, Debug)]
pub struct Delivered {
    pub from: usize,
    pub to: usize,
    pub opcode: Opcode,
    pub payload: Option<Payload>,
}

enum Delivery {
    Bytes {
        from: usize,
        to: usize,
        conn: ConnectionId,
        bytes: Bytes,
    },
    Closed {
        to: usize,
        conn: ConnectionId,
    },
}

pub struct Cluster {
    pub t0: Instant,
    pub now: Instant,
    pub nodes: Vec<NodeEngine>,
    pub keys: Vec<Keypair>,
    /// Each node's (ℓ, transient) limits, checked after every step.
    limits: Vec<(usize, usize)>,
    /// Nodes whose host is down: dials to them fail, nothing reaches them.
    pub down: Vec<bool>,
    links: BTreeMap<(usize, ConnectionId), (usize, ConnectionId)>,
    next_conn: u64,
    queue: VecDeque<Delivery>,
    /// Everything that happened, as text with virtual times.
    pub trace: Vec<String>,
    pub events: Vec<(usize, Event)>,
    pub closes: Vec<(usize, ConnectionId, String)>,
    pub delivered: Vec<Delivered>,
    /// Applied to every message node `.0` sends.
    pub rewrite: Option<(usize, Rewrite)>,
}

pub fn addr(i: usize) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 10_000 + u16::try_from(i).unwrap()))
}

fn seed(master: u64, i: usize, salt: u8) -> [u8; 32] {
    let mut s = [salt; 32];
    s[..8].copy_from_slice(&master.to_le_bytes());
    s[8..16].copy_from_slice(&(i as u64).to_le_bytes());
    s
}

pub fn keypair(master: u64, i: usize) -> Keypair {
    Keypair::generate(
        Profile::Ed25519,
        &mut ChaCha20Rng::from_seed(seed(master, i, 1)),
    )
    .unwrap()
}

impl Cluster {
    pub fn new(n: usize, master: u64, configure: impl Fn(&mut EngineConfig)) -> Self {
        #[allow(clippy::disallowed_methods)] // The one clock read: the virtual epoch.
        let t0 = Instant::now();
        let keys: Vec<Keypair> = (0..n).map(|i| keypair(master, i)).collect();
        let mut limits = Vec::new();
        let nodes = keys
            .iter()
            .enumerate()
            .map(|(i, k)| {
                let mut config = EngineConfig::new(k.clone(), seed(master, i, 2));
                config.listen = vec![addr(i)];
                configure(&mut config);
                limits.push((config.max_outbound, config.max_transient));
                NodeEngine::new(config, t0)
            })
            .collect();
        Self {
            t0,
            now: t0,
            nodes,
            keys,
            limits,
            down: vec![false; n],
            links: BTreeMap::new(),
            next_conn: 1,
            queue: VecDeque::new(),
            trace: Vec::new(),
            events: Vec::new(),
            closes: Vec::new(),
            delivered: Vec::new(),
            rewrite: None,
        }
    }

    pub fn key(&self, i: usize) -> Bytes {
        self.keys[i].public().to_bytes()
    }

    fn log(&mut self, line: String) {
        let t = self.now - self.t0;
        self.trace.push(format!("{t:?} {line}"));
    }

    /// Opens a connection from `a` (outbound, to `b`'s address) to `b`.
    pub fn connect(&mut self, a: usize, b: usize) -> (ConnectionId, ConnectionId) {
        let ca = ConnectionId(self.next_conn);
        let cb = ConnectionId(self.next_conn + 1);
        self.next_conn += 2;
        self.links.insert((a, ca), (b, cb));
        self.links.insert((b, cb), (a, ca));
        self.log(format!("connect {a}/{} -> {b}/{}", ca.0, cb.0));
        let now = self.now;
        self.nodes[a].handle_connected(ca, Direction::Outbound { addr: addr(b) }, now);
        self.nodes[b].handle_connected(cb, Direction::Inbound, now);
        (ca, cb)
    }

    /// Feeds raw bytes to `node` on `conn`, as if its peer sent them.
    pub fn inject(&mut self, node: usize, conn: ConnectionId, bytes: &[u8]) {
        let now = self.now;
        self.nodes[node].handle_bytes(conn, bytes, now);
    }

    /// Events of `node`, in order.
    pub fn events_of(&self, node: usize) -> Vec<Event> {
        self.events
            .iter()
            .filter(|(i, _)| *i == node)
            .map(|(_, e)| e.clone())
            .collect()
    }

    /// Messages from `from` to `to` with `opcode`.
    pub fn sent(&self, from: usize, to: usize, opcode: Opcode) -> Vec<Option<Payload>> {
        self.delivered
            .iter()
            .filter(|d| d.from == from && d.to == to && d.opcode == opcode)
            .map(|d| d.payload.clone())
            .collect()
    }

    /// Drains every node's outputs; returns whether there were any.
    fn drain(&mut self) -> bool {
        let mut any = false;
        for i in 0..self.nodes.len() {
            while let Some(t) = self.nodes[i].poll_transmit() {
                any = true;
                let Some(&(to, conn)) = self.links.get(&(i, t.conn)) else {
                    continue;
                };
                let bytes = self.rewrite_bytes(i, t.bytes);
                if !bytes.is_empty() {
                    self.queue.push_back(Delivery::Bytes {
                        from: i,
                        to,
                        conn,
                        bytes,
                    });
                }
            }
            while let Some(a) = self.nodes[i].poll_action() {
                any = true;
                match a {
                    Action::Dial { addr } => {
                        let target = usize::from(addr.port()).checked_sub(10_000);
                        self.log(format!("node {i} dials {addr}"));
                        match target {
                            Some(t) if t < self.nodes.len() && !self.down[t] => {
                                self.connect(i, t);
                            }
                            _ => {
                                let now = self.now;
                                self.nodes[i].handle_dial_failed(addr, now);
                            }
                        }
                    }
                    Action::Close { conn, reason } => {
                        self.log(format!("node {i} closes {} ({reason})", conn.0));
                        self.closes.push((i, conn, reason));
                        if let Some((to, peer_conn)) = self.links.remove(&(i, conn)) {
                            self.links.remove(&(to, peer_conn));
                            self.queue.push_back(Delivery::Closed {
                                to,
                                conn: peer_conn,
                            });
                        }
                    }
                    other => panic!("unknown action {other:?}"),
                }
            }
            while let Some(e) = self.nodes[i].poll_event() {
                any = true;
                self.log(format!("node {i} event {e:?}"));
                self.events.push((i, e));
            }
            let (kept, transient) = self.nodes[i].outbound_counts();
            let (max_kept, max_transient) = self.limits[i];
            assert!(
                kept <= max_kept.max(1) && transient <= max_transient.max(1),
                "node {i}: {kept} kept (ℓ = {max_kept}), {transient} transient (max {max_transient})"
            );
        }
        any
    }

    /// Applies `rewrite` to what node `from` sends, and records the messages.
    fn rewrite_bytes(&mut self, from: usize, bytes: Bytes) -> Bytes {
        let tx = decode_transmission(
            bytes.clone(),
            Profile::Ed25519,
            &Limits::default(),
            MethodSet::all(),
        )
        .unwrap();
        let mut batch = BatchEncoder::new(Profile::Ed25519);
        for msg in tx.to_messages() {
            let payload = msg.payload(Profile::Ed25519, &Default::default()).ok();
            let msg = match (&mut self.rewrite, payload) {
                (Some((node, f)), Some(p)) if *node == from => match f(p) {
                    Some(p) => Message::from_payload(
                        Profile::Ed25519,
                        msg.from.clone(),
                        msg.to.clone(),
                        &p,
                    )
                    .unwrap(),
                    None => continue,
                },
                _ => msg,
            };
            batch.push(&msg).unwrap();
        }
        if batch.is_empty() {
            return Bytes::new();
        }
        batch.finish(Method::None).unwrap()
    }

    fn record(&mut self, from: usize, to: usize, bytes: &Bytes) {
        let Ok(tx) = decode_transmission(
            bytes.clone(),
            Profile::Ed25519,
            &Limits::default(),
            MethodSet::all(),
        ) else {
            return;
        };
        for msg in tx.iter() {
            let payload = msg.payload(&Default::default()).ok();
            self.delivered.push(Delivered {
                from,
                to,
                opcode: msg.opcode(),
                payload,
            });
        }
    }

    /// Runs until nothing is queued and the next timer is after `now + span`.
    pub fn run_for(&mut self, span: Duration) {
        let end = self.now + span;
        for _ in 0..MAX_STEPS {
            if self.drain() {
                continue;
            }
            if let Some(d) = self.queue.pop_front() {
                let now = self.now;
                match d {
                    Delivery::Bytes {
                        from,
                        to,
                        conn,
                        bytes,
                    } => {
                        self.record(from, to, &bytes);
                        if !self.down[to] {
                            self.nodes[to].handle_bytes(conn, &bytes, now);
                        }
                    }
                    Delivery::Closed { to, conn } => {
                        if !self.down[to] {
                            self.nodes[to].handle_closed(conn, now);
                        }
                    }
                }
                continue;
            }
            let down = &self.down;
            let next = self
                .nodes
                .iter()
                .enumerate()
                .filter(|(i, _)| !down[*i])
                .filter_map(|(_, n)| n.poll_timeout())
                .min();
            match next {
                Some(t) if t <= end => {
                    self.now = self.now.max(t);
                    let now = self.now;
                    for (i, node) in self.nodes.iter_mut().enumerate() {
                        if !self.down[i] && node.poll_timeout().is_some_and(|t| t <= now) {
                            node.handle_timeout(now);
                        }
                    }
                }
                _ => return,
            }
        }
        panic!("livelock: more than {MAX_STEPS} steps");
    }

    /// Runs with a 20 s horizon: long enough for request and handshake
    /// timeouts (10 s), short of the 30 s keepalive.
    pub fn run_until_idle(&mut self) {
        self.run_for(Duration::from_secs(20));
    }

    /// Takes node `i`'s host down: it stops without closing anything, so
    /// its peers only notice through timeouts, and dials to it fail.
    pub fn take_down(&mut self, i: usize) {
        self.down[i] = true;
    }

    /// Gives `node` a command now.
    pub fn command(&mut self, node: usize, command: Command) -> RequestId {
        let now = self.now;
        self.nodes[node].handle_command(command, now)
    }

    /// The `closest` of node `node`'s `LookupFinished` for `id`.
    pub fn lookup_result(
        &self,
        node: usize,
        id: RequestId,
    ) -> Option<Vec<shoutnet_crypto::Address>> {
        self.events_of(node).into_iter().find_map(|e| match e {
            Event::LookupFinished {
                id: got, closest, ..
            } if got == id => Some(closest),
            _ => None,
        })
    }

    /// Every node but 0 bootstraps through nodes 0 and 1, one at a time.
    pub fn bootstrap_all(&mut self) {
        for i in 1..self.nodes.len() {
            let seeds = (0..2.min(i)).map(addr).collect();
            self.command(i, Command::Bootstrap { seeds });
            self.run_until_idle();
        }
    }

    /// The `k` addresses other than `searcher`'s closest to `target`.
    pub fn brute_force(
        &self,
        searcher: usize,
        target: &shoutnet_crypto::Address,
        k: usize,
    ) -> Vec<shoutnet_crypto::Address> {
        let mut all: Vec<_> = (0..self.nodes.len())
            .filter(|i| *i != searcher)
            .map(|i| self.nodes[i].local_address())
            .collect();
        all.sort_by_key(|a| a.distance(target));
        all.truncate(k);
        all
    }

    /// A message from node `from` to node `to` carrying `payload`.
    pub fn message(&self, from: usize, to: usize, payload: &Payload) -> Message {
        Message::from_payload(Profile::Ed25519, self.key(from), self.key(to), payload).unwrap()
    }

    /// The codes of the `NACK`s node `from` sent node `to`.
    pub fn nack_codes(&self, from: usize, to: usize) -> Vec<shoutnet_wire::NackCode> {
        self.sent(from, to, Opcode::Nack)
            .into_iter()
            .filter_map(|p| match p {
                Some(Payload::Nack(n)) => Some(n.code),
                _ => None,
            })
            .collect()
    }

    /// Two nodes with one established connection `(0 → 1, 1's side)`.
    pub fn two_connected() -> (Self, ConnectionId, ConnectionId) {
        let mut c = Self::new(2, 1, |_| {});
        let (ca, cb) = c.connect(0, 1);
        c.run_until_idle();
        assert_eq!(connected(&c.events_of(0)), 1);
        assert_eq!(connected(&c.events_of(1)), 1);
        (c, ca, cb)
    }
}

/// One uncompressed transmission of `msgs`.
pub fn encode(msgs: &[Message]) -> Bytes {
    let mut batch = BatchEncoder::new(Profile::Ed25519);
    for m in msgs {
        batch.push(m).unwrap();
    }
    batch.finish(Method::None).unwrap()
}

/// Number of `Event::Connected` in `events`.
pub fn connected(events: &[Event]) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, Event::Connected { .. }))
        .count()
}

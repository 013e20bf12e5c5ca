//! The node engine (docs/PROTOCOL.md §9, §10): connections, output queues,
//! the timer table and the sans-IO `handle_*` / `poll_*` surface.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use shoutnet_crypto::Address;
use shoutnet_kad::{Lookup, RoutingTable};
use shoutnet_wire::{
    BatchEncoder, MAX_NACK_REASON, Message, Nack, NackCode, Opcode, Payload, Profile,
};

use crate::config::EngineConfig;
use crate::connection::Connection;
use crate::event::{Action, Command, ConnectionId, Direction, Event, RequestId, Transmit};
use crate::handshake::Handshake;
use crate::requests::Requests;
use crate::routing::Contact;

/// Counters of things the engine dropped or refused; never reset.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// `ACK`/`NACK`s naming no outstanding request, or the wrong opcode.
    pub unsolicited: u64,
    /// `ACK`/`NACK`s whose payload did not decode (never answered).
    pub malformed_replies: u64,
    /// `SHOUT`/`SPEAK` and `CUSTOM` without request id: not supported yet,
    /// so dropped.
    pub unsupported_dropped: u64,
    /// Node infos in `FIND_NODE` answers whose key is invalid.
    pub invalid_nodes: u64,
    /// Connections closed for framing errors.
    pub framing_errors: u64,
    /// Messages dropped because a connection's outgoing queue was full.
    pub dropped_messages: u64,
    /// Outputs (transmissions, actions, events) dropped on a full queue.
    pub dropped_outputs: u64,
    /// Requests not sent because the request table was full.
    pub dropped_requests: u64,
    /// Learned contacts dropped because the contact map was full.
    pub dropped_contacts: u64,
    /// Messages that could not be encoded (an engine bug if ever non-zero).
    pub encode_errors: u64,
    /// Lookup requests failed because no connection could be opened (no
    /// address, or ℓ outbound connections already open).
    pub lookup_unreachable: u64,
}

/// One node of the shoutnet protocol as a pure state machine.
///
/// # The sans-IO contract
///
/// The engine does no IO, reads no clock and owns its only RNG (seeded from
/// [`EngineConfig::rng_seed`]). A driver (the tokio runtime or a simulator)
/// feeds it **inputs**, each with the current monotonic time `now`:
///
/// - [`handle_connected`](Self::handle_connected)`(conn, direction, now)`:
///   a connection opened; `conn` is a [`ConnectionId`] the driver chose.
/// - [`handle_bytes`](Self::handle_bytes)`(conn, bytes, now)`: bytes read.
/// - [`handle_closed`](Self::handle_closed)`(conn, now)`: the connection is
///   gone (or a dial failed after `handle_connected`).
/// - [`handle_timeout`](Self::handle_timeout)`(now)`: the deadline from
///   `poll_timeout` passed.
/// - [`handle_command`](Self::handle_command)`(command, now)`: the
///   application asks for something; returns the [`RequestId`] its events
///   carry.
///
/// After any input the driver drains the **outputs**, in this order:
///
/// 1. [`poll_transmit`](Self::poll_transmit) until `None`: bytes to write,
///    one whole transmission per call;
/// 2. [`poll_action`](Self::poll_action) until `None`: dial or close;
/// 3. [`poll_event`](Self::poll_event) until `None`: for the application;
/// 4. [`poll_timeout`](Self::poll_timeout): when to call `handle_timeout`.
///    While any output is still queued it returns the last `now` seen, so a
///    driver never sleeps past queued output; otherwise the earliest
///    deadline of a fixed timer table (handshakes, requests, keepalives,
///    dials, lookups, routing-table pings).
///
/// Transmissions come before actions so that a `NACK` is written before
/// the `Close` that follows it. Every queue is bounded; overflow is dropped
/// and counted in [`stats`](Self::stats).
#[derive(Debug)]
pub struct NodeEngine {
    pub(crate) config: EngineConfig,
    pub(crate) profile: Profile,
    pub(crate) key: Bytes,
    pub(crate) local: Address,
    pub(crate) rng: ChaCha20Rng,
    pub(crate) last_now: Instant,
    pub(crate) conns: BTreeMap<ConnectionId, Connection>,
    pub(crate) connected: BTreeMap<Address, ConnectionId>,
    pub(crate) requests: Requests,
    pub(crate) table: RoutingTable<Contact>,
    pub(crate) contacts: BTreeMap<Address, Contact>,
    pub(crate) lookups: BTreeMap<RequestId, Lookup>,
    pub(crate) awaiting: BTreeMap<Address, BTreeSet<RequestId>>,
    pub(crate) pending_dials: BTreeMap<SocketAddr, Instant>,
    pub(crate) dial_targets: BTreeMap<SocketAddr, Address>,
    pub(crate) bootstraps: BTreeMap<RequestId, BTreeSet<SocketAddr>>,
    pub(crate) next_command: u64,
    transmits: VecDeque<Transmit>,
    actions: VecDeque<Action>,
    events: VecDeque<Event>,
    pub(crate) stats: Stats,
}

impl NodeEngine {
    /// A node with `config`, created at `now`. Durations over
    /// [`MAX_DURATION`](crate::MAX_DURATION) are capped.
    pub fn new(config: EngineConfig, now: Instant) -> Self {
        let config = config.capped();
        let profile = config.keypair.profile();
        let key = config.keypair.public().to_bytes();
        let local = config.keypair.public().routing_address();
        let table = RoutingTable::new(local, config.kad.clone(), now);
        Self {
            rng: ChaCha20Rng::from_seed(config.rng_seed),
            requests: Requests::new(config.table_capacity),
            config,
            profile,
            key,
            local,
            last_now: now,
            conns: BTreeMap::new(),
            connected: BTreeMap::new(),
            table,
            contacts: BTreeMap::new(),
            lookups: BTreeMap::new(),
            awaiting: BTreeMap::new(),
            pending_dials: BTreeMap::new(),
            dial_targets: BTreeMap::new(),
            bootstraps: BTreeMap::new(),
            next_command: 1,
            transmits: VecDeque::new(),
            actions: VecDeque::new(),
            events: VecDeque::new(),
            stats: Stats::default(),
        }
    }

    /// This node's routing address.
    pub fn local_address(&self) -> Address {
        self.local
    }

    /// The counters.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// The routing table.
    pub fn routing_table(&self) -> &RoutingTable<Contact> {
        &self.table
    }

    /// Number of connections the engine tracks (any handshake state).
    pub fn connection_count(&self) -> usize {
        self.conns.len()
    }

    /// A connection opened. Both sides send their hello at once.
    pub fn handle_connected(&mut self, conn: ConnectionId, direction: Direction, now: Instant) {
        self.tick(now);
        if self.conns.contains_key(&conn) {
            self.close(conn, "connection id reused".into(), now);
            return;
        }
        if let Direction::Outbound { addr } = direction {
            self.pending_dials.remove(&addr);
        }
        let mut nonce = [0; 32];
        self.rng.fill_bytes(&mut nonce);
        let handshake = Handshake {
            nonce,
            hello_id: self.requests.next_id(),
            hello: None,
            proven: false,
        };
        let c = Connection::new(direction, self.config.limits, handshake, now);
        self.conns.insert(conn, c);
        self.send_hello(conn);
    }

    /// Bytes arrived on `conn`. Framing errors close it; nothing a peer
    /// sends can panic the engine.
    pub fn handle_bytes(&mut self, conn: ConnectionId, bytes: &[u8], now: Instant) {
        self.tick(now);
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        c.last_seen = now;
        c.decoder.push(bytes);
        loop {
            let Some(c) = self.conns.get_mut(&conn) else {
                return;
            };
            let (profile, limits) = (self.profile, &self.config.limits);
            let decoded = c
                .decoder
                .next_frame()
                .and_then(|frame| frame.map(|f| f.decode(profile, limits)).transpose());
            let tx = match decoded {
                Ok(Some(tx)) => tx,
                Ok(None) => return,
                Err(err) => {
                    self.stats.framing_errors += 1;
                    self.close(conn, format!("framing error: {err}"), now);
                    return;
                }
            };
            for msg in tx.iter() {
                if !self.conns.contains_key(&conn) {
                    return;
                }
                self.handle_message(conn, &msg.to_message(), now);
            }
        }
    }

    /// `conn` is gone. Its requests fail and, if it was established,
    /// [`Event::Disconnected`] names the peer.
    pub fn handle_closed(&mut self, conn: ConnectionId, now: Instant) {
        self.tick(now);
        if let Some(c) = self.conns.remove(&conn) {
            self.forget(conn, c, now);
        }
    }

    /// Fires every deadline at or before `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.tick(now);
        let late: Vec<ConnectionId> = self
            .conns
            .iter()
            .filter(|(_, c)| c.peer.is_none() && c.opened + self.config.handshake_timeout <= now)
            .map(|(id, _)| *id)
            .collect();
        for conn in late {
            self.close(conn, "handshake timed out".into(), now);
        }
        for (conn, pending) in self.requests.expire(now) {
            self.request_failed(conn, pending, true, now);
        }
        let dials: Vec<SocketAddr> = self
            .pending_dials
            .iter()
            .filter(|(_, deadline)| **deadline <= now)
            .map(|(addr, _)| *addr)
            .collect();
        for addr in dials {
            self.dial_failed(addr, now);
        }
        self.send_keepalives(now);
        self.table.handle_timeout(now);
        self.drain_table();
        self.drive_lookups(now);
    }

    /// Starts a command; its events carry the returned id.
    pub fn handle_command(&mut self, command: Command, now: Instant) -> RequestId {
        self.tick(now);
        let id = RequestId(self.next_command);
        self.next_command += 1;
        match command {
            Command::FindNode { target } => self.start_lookup(id, target, now),
            Command::Bootstrap { seeds } => self.start_bootstrap(id, seeds, now),
        }
        id
    }

    /// The next transmission to write, one per connection with queued
    /// messages.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        if let Some(t) = self.transmits.pop_front() {
            return Some(t);
        }
        let conn = self
            .conns
            .iter()
            .find(|(_, c)| !c.outbox.is_empty())
            .map(|(id, _)| *id)?;
        self.encode_outbox(conn)
    }

    /// The next dial or close.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// The next application event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When to call [`handle_timeout`](Self::handle_timeout): the last `now`
    /// while output is queued, else the earliest deadline, or `None`.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let queued = !self.transmits.is_empty()
            || !self.actions.is_empty()
            || !self.events.is_empty()
            || self.conns.values().any(|c| !c.outbox.is_empty());
        if queued {
            return Some(self.last_now);
        }
        self.timer_table().into_iter().flatten().min()
    }

    /// The fixed timer table: one deadline per kind of timer.
    fn timer_table(&self) -> [Option<Instant>; 6] {
        let handshake = self
            .conns
            .values()
            .filter(|c| c.peer.is_none())
            .map(|c| c.opened + self.config.handshake_timeout)
            .min();
        let keepalive = self
            .conns
            .values()
            .filter(|c| c.peer.is_some() && !c.keepalive_pending)
            .map(|c| c.last_seen + self.config.keepalive)
            .min();
        let lookups = self.lookups.values().filter_map(Lookup::next_timeout).min();
        [
            handshake,
            keepalive,
            self.requests.next_deadline(),
            self.pending_dials.values().min().copied(),
            lookups,
            self.table.poll_timeout(),
        ]
    }

    fn tick(&mut self, now: Instant) {
        self.last_now = self.last_now.max(now);
    }

    fn encode_outbox(&mut self, conn: ConnectionId) -> Option<Transmit> {
        let c = self.conns.get_mut(&conn)?;
        let messages = std::mem::take(&mut c.outbox);
        let method = c.send_method;
        let mut batch = BatchEncoder::new(self.profile);
        for msg in &messages {
            if batch.push(msg).is_err() {
                self.stats.encode_errors += 1;
            }
        }
        match batch.finish(method) {
            Ok(bytes) => Some(Transmit { conn, bytes }),
            Err(_) => {
                self.stats.encode_errors += 1;
                None
            }
        }
    }

    /// Queues `payload` for `conn`, to the peer's key once known (K zero
    /// bytes before its hello, docs/PROTOCOL.md §9.1).
    pub(crate) fn send(&mut self, conn: ConnectionId, payload: &Payload) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let to = match (&c.peer, &c.handshake.hello) {
            (Some(peer), _) => peer.key.clone(),
            (None, Some(hello)) => hello.public.to_bytes(),
            (None, None) => Bytes::from(vec![0; self.profile.key_len()]),
        };
        match Message::from_payload(self.profile, self.key.clone(), to, payload) {
            Ok(msg) if c.outbox.len() < self.config.queue_capacity => c.outbox.push(msg),
            Ok(_) => self.stats.dropped_messages += 1,
            Err(_) => self.stats.encode_errors += 1,
        }
    }

    /// Sends `NACK [acked, request_id, code, reason]`.
    pub(crate) fn nack(
        &mut self,
        conn: ConnectionId,
        acked: Opcode,
        request_id: Option<u64>,
        code: NackCode,
        reason: &str,
    ) {
        let mut reason = reason.to_owned();
        while reason.len() > MAX_NACK_REASON {
            reason.pop();
        }
        let nack = Nack {
            acked,
            request_id,
            code,
            reason,
            detail: None,
        };
        self.send(conn, &Payload::Nack(nack));
    }

    /// NACKs `msg`, reading its request id from the raw value if it has one.
    pub(crate) fn nack_message(
        &mut self,
        conn: ConnectionId,
        msg: &Message,
        code: NackCode,
        reason: &str,
    ) {
        let index = match msg.opcode {
            Opcode::Ack | Opcode::Nack => Some(1),
            Opcode::Shout | Opcode::Speak => None,
            _ if msg.opcode.is_reserved() => None,
            _ => Some(0),
        };
        let request_id = index.and_then(|i| {
            let value = msg.value(&self.config.limits.value).ok()?;
            value.as_array()?.get(i)?.as_u64()
        });
        self.nack(conn, msg.opcode, request_id, code, reason);
    }

    /// Closes `conn`: flushes its queued messages, asks the driver to close
    /// it and forgets it.
    pub(crate) fn close(&mut self, conn: ConnectionId, reason: String, now: Instant) {
        if let Some(t) = self.encode_outbox(conn).filter(|t| !t.bytes.is_empty()) {
            self.push_transmit(t);
        }
        let Some(c) = self.conns.remove(&conn) else {
            return;
        };
        self.push_action(Action::Close { conn, reason });
        self.forget(conn, c, now);
    }

    fn forget(&mut self, conn: ConnectionId, c: Connection, now: Instant) {
        let peer = c.peer.as_ref().map(|p| p.address);
        if let Some(address) = peer
            && self.connected.get(&address) == Some(&conn)
        {
            self.connected.remove(&address);
        }
        for pending in self.requests.remove_conn(conn) {
            self.request_failed(conn, pending, false, now);
        }
        if peer.is_none()
            && let Some(addr) = c.dialled()
        {
            self.dial_failed(addr, now);
        }
        self.push_event(Event::Disconnected { conn, peer });
        self.drive_lookups(now);
    }

    fn push_transmit(&mut self, t: Transmit) {
        if self.transmits.len() < self.config.queue_capacity {
            self.transmits.push_back(t);
        } else {
            self.stats.dropped_outputs += 1;
        }
    }

    pub(crate) fn push_action(&mut self, a: Action) {
        if self.actions.len() < self.config.queue_capacity {
            self.actions.push_back(a);
        } else {
            self.stats.dropped_outputs += 1;
        }
    }

    pub(crate) fn push_event(&mut self, e: Event) {
        if self.events.len() < self.config.queue_capacity {
            self.events.push_back(e);
        } else {
            self.stats.dropped_outputs += 1;
        }
    }
}

//! The node engine (docs/PROTOCOL.md §9, §10): connections, output queues,
//! the timer table and the sans-IO `handle_*` / `poll_*` surface.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use shoutnet_crypto::Address;
use shoutnet_kad::RoutingTable;
use shoutnet_wire::{
    BatchEncoder, MAX_NACK_REASON, Message, Nack, NackCode, Opcode, Payload, Profile,
};

use crate::config::EngineConfig;
use crate::connection::{Connection, PeerConnections, Role};
use crate::dialer::Dials;
use crate::event::{Action, Command, ConnectionId, Direction, Event, RequestId, Transmit};
use crate::handshake::Handshake;
use crate::lookups::{Bootstrap, LookupState};
use crate::requests::{Failure, Requests};
use crate::routing::Contact;
use crate::timers::{LookupId, Timer, Timers};

/// Counters of what the engine sent, dropped, refused or gave up; never
/// reset.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// `ACK`/`NACK`s naming no outstanding request, or the wrong opcode.
    pub unsolicited: u64,
    /// `ACK`/`NACK`s whose payload did not decode (never answered; the
    /// request they answer, if it can be read, fails at once).
    pub malformed_replies: u64,
    /// `SHOUT`/`SPEAK` and `CUSTOM` without request id: not supported yet,
    /// so dropped.
    pub unsupported_dropped: u64,
    /// Node infos from `FIND_NODE` answers that a lookup went to contact and
    /// found unusable: an invalid key, or only unusable addresses.
    pub invalid_nodes: u64,
    /// Connections closed for framing errors.
    pub framing_errors: u64,
    /// Messages dropped because a connection's outgoing queue was full.
    pub dropped_messages: u64,
    /// Outputs (transmissions, actions, events) dropped on a full queue.
    pub dropped_outputs: u64,
    /// Requests not sent because the request table was full.
    pub dropped_requests: u64,
    /// Messages that could not be encoded (an engine bug if ever non-zero).
    pub encode_errors: u64,
    /// Lookup requests failed because no connection could be opened: the
    /// queue of requests waiting for a transient connection was full, or
    /// another node answers at the peer's address.
    pub lookup_unreachable: u64,
    /// Dials that failed or were never answered within the handshake
    /// timeout.
    pub dial_failures: u64,
    /// Lookup requests sent a second time because the connection closed
    /// before the answer came.
    pub retries: u64,
    /// Transient connections closed because they were idle.
    pub idle_closed: u64,
    /// Messages queued for sending (each transmission batches one or
    /// more).
    pub messages_sent: u64,
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
/// - [`handle_dial_failed`](Self::handle_dial_failed)`(addr, now)`: an
///   [`Action::Dial`] could not connect.
/// - [`handle_bytes`](Self::handle_bytes)`(conn, bytes, now)`: bytes read.
/// - [`handle_closed`](Self::handle_closed)`(conn, now)`: the connection is
///   gone.
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
///    deadline of the timer table (handshakes, requests, keepalives, idle
///    transient connections, dials, lookups, routing-table pings, bucket
///    refresh, upkeep of the ℓ kept connections), found in O(log n).
///
/// Transmissions come before actions so that a `NACK` is written before
/// the `Close` that follows it. Every queue is bounded; overflow is dropped
/// and counted in [`stats`](Self::stats).
///
/// # Connections
///
/// ℓ ([`EngineConfig::max_outbound`]) bounds the node's *kept* outbound
/// connections: after a bootstrap the node dials ℓ random peers of its
/// routing table and keeps those connections open, replacing any it loses.
/// Requests to peers it has no connection to (a lookup's `FIND_NODE`, a
/// liveness check) use *transient* outbound connections, at most
/// [`EngineConfig::max_transient`] at once, closed after
/// [`EngineConfig::transient_idle`] without traffic. A request that finds
/// every transient slot busy waits for one.
#[derive(Debug)]
pub struct NodeEngine {
    pub(crate) config: EngineConfig,
    pub(crate) profile: Profile,
    pub(crate) key: Bytes,
    pub(crate) local: Address,
    pub(crate) rng: ChaCha20Rng,
    pub(crate) last_now: Instant,
    pub(crate) conns: BTreeMap<ConnectionId, Connection>,
    /// The established connections to each peer.
    pub(crate) connected: PeerConnections,
    pub(crate) requests: Requests,
    pub(crate) timers: Timers,
    pub(crate) table: RoutingTable<Contact>,
    pub(crate) dials: Dials,
    pub(crate) lookups: BTreeMap<LookupId, LookupState>,
    pub(crate) next_lookup: u64,
    pub(crate) bootstraps: BTreeMap<RequestId, Bootstrap>,
    /// Whether the upkeep timers run: keeping ℓ connections and
    /// refreshing idle buckets. They start when a bootstrap finishes, or
    /// when the routing table gets its first entry (a seed node that never
    /// bootstraps).
    pub(crate) upkeep: bool,
    next_command: u64,
    /// Connections with messages queued in their outbox.
    dirty: BTreeSet<ConnectionId>,
    transmits: VecDeque<Transmit>,
    actions: VecDeque<Action>,
    events: VecDeque<Event>,
    pub(crate) stats: Stats,
}

impl NodeEngine {
    /// A node with `config`, created at `now`. Durations over
    /// [`MAX_DURATION`](crate::MAX_DURATION) are capped and ℓ is brought
    /// into its allowed range.
    pub fn new(config: EngineConfig, now: Instant) -> Self {
        let config = config.capped();
        let profile = config.keypair.profile();
        let key = config.keypair.public().to_bytes();
        let local = config.keypair.public().routing_address();
        let table = RoutingTable::new(local, config.kad.clone(), now);
        Self {
            rng: ChaCha20Rng::from_seed(config.rng_seed),
            requests: Requests::new(config.table_capacity),
            dials: Dials::new(config.table_capacity),
            config,
            profile,
            key,
            local,
            last_now: now,
            conns: BTreeMap::new(),
            connected: PeerConnections::default(),
            timers: Timers::default(),
            table,
            lookups: BTreeMap::new(),
            next_lookup: 1,
            bootstraps: BTreeMap::new(),
            upkeep: false,
            next_command: 1,
            dirty: BTreeSet::new(),
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

    /// Established connections to `peer` that this engine tracks.
    pub fn is_connected(&self, peer: &Address) -> bool {
        self.connected.contains(peer)
    }

    /// Outbound connections open or being opened, as (kept, transient):
    /// kept ones never exceed ℓ, transient ones never exceed
    /// [`EngineConfig::max_transient`].
    pub fn outbound_counts(&self) -> (usize, usize) {
        (
            self.outbound_count(Role::Kept),
            self.outbound_count(Role::Transient),
        )
    }

    /// Lookups running (commands, bootstraps and refreshes).
    pub fn lookup_count(&self) -> usize {
        self.lookups.len()
    }

    /// A connection opened. Both sides send their hello at once.
    pub fn handle_connected(&mut self, conn: ConnectionId, direction: Direction, now: Instant) {
        self.tick(now);
        if self.conns.contains_key(&conn) {
            self.close(conn, "connection id reused".into(), now);
            return;
        }
        let (role, expected) = match direction {
            Direction::Outbound { addr } => self.dials.connected(addr, conn),
            Direction::Inbound => (Role::Inbound, Vec::new()),
        };
        if let Direction::Outbound { addr } = direction {
            self.timers.cancel(Timer::Dial(addr));
        }
        let mut nonce = [0; 32];
        self.rng.fill_bytes(&mut nonce);
        let handshake = Handshake {
            nonce,
            hello_id: self.requests.next_id(),
            hello: None,
            proven: false,
        };
        let mut c = Connection::new(direction, role, self.config.limits, handshake, now);
        c.expected = expected;
        self.conns.insert(conn, c);
        self.timers
            .set(Timer::Handshake(conn), now + self.config.handshake_timeout);
        self.send_hello(conn);
    }

    /// An [`Action::Dial`] of `addr` could not connect (refused,
    /// unreachable). Dials never reported are given up after the
    /// handshake timeout.
    pub fn handle_dial_failed(&mut self, addr: SocketAddr, now: Instant) {
        self.tick(now);
        if self.dials.is_pending(&addr) {
            self.dial_failed(addr, None, now);
        }
    }

    /// Bytes arrived on `conn`. Framing errors close it; nothing a peer
    /// sends can panic the engine.
    pub fn handle_bytes(&mut self, conn: ConnectionId, bytes: &[u8], now: Instant) {
        self.tick(now);
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        c.last_received = now;
        c.last_active = now;
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
            self.dirty.remove(&conn);
            self.forget(conn, c, now);
        }
    }

    /// Fires every deadline at or before `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.tick(now);
        for timer in self.timers.take_due(now) {
            self.fire(timer, now);
        }
    }

    /// Starts a command; its events carry the returned id.
    pub fn handle_command(&mut self, command: Command, now: Instant) -> RequestId {
        self.tick(now);
        let id = RequestId(self.next_command);
        self.next_command += 1;
        match command {
            Command::FindNode { target } => {
                self.start_lookup(crate::lookups::Owner::Command(id), target, now);
            }
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
        while let Some(conn) = self.dirty.pop_first() {
            if let Some(t) = self.encode_outbox(conn) {
                return Some(t);
            }
        }
        None
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
            || !self.dirty.is_empty();
        if queued {
            return Some(self.last_now);
        }
        self.timers.next()
    }

    /// Handles one timer that fell due.
    fn fire(&mut self, timer: Timer, now: Instant) {
        match timer {
            Timer::Handshake(conn) => {
                if self.conns.get(&conn).is_some_and(|c| !c.is_established()) {
                    self.close(conn, "handshake timed out".into(), now);
                }
            }
            Timer::Keepalive(conn) => self.keepalive_due(conn, now),
            Timer::Idle(conn) => self.idle_due(conn, now),
            Timer::Request(conn, id) => {
                if let Some(pending) = self.requests.remove(conn, id) {
                    self.request_done(conn, id);
                    self.request_failed(conn, pending, Failure::TimedOut, now);
                    self.release_if_waited_for(conn, now);
                }
            }
            Timer::Dial(addr) => {
                if self.dials.is_pending(&addr) {
                    self.dial_failed(addr, None, now);
                }
            }
            Timer::Lookup(id) => self.drive_lookup(id, now),
            Timer::TablePing => {
                self.table.handle_timeout(now);
                self.drain_table();
            }
            Timer::Refresh => self.refresh_due(now),
            Timer::Maintain => self.maintain_kept(now),
        }
    }

    fn tick(&mut self, now: Instant) {
        self.last_now = self.last_now.max(now);
    }

    fn encode_outbox(&mut self, conn: ConnectionId) -> Option<Transmit> {
        let c = self.conns.get_mut(&conn)?;
        if c.outbox.is_empty() {
            return None;
        }
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
            (Some(peer), _) => peer.public.to_bytes(),
            (None, Some(hello)) => hello.public.to_bytes(),
            (None, None) => Bytes::from(vec![0; self.profile.key_len()]),
        };
        match Message::from_payload(self.profile, self.key.clone(), to, payload) {
            Ok(msg) if c.outbox.len() < self.config.queue_capacity => {
                c.outbox.push(msg);
                c.last_active = self.last_now;
                self.dirty.insert(conn);
                self.stats.messages_sent += 1;
            }
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

    /// The request id of `msg`, read from its raw value if it has one: the
    /// first element of a request, the second of an `ACK`/`NACK`.
    pub(crate) fn request_id_of(&self, msg: &Message) -> Option<u64> {
        let index = match msg.opcode {
            Opcode::Ack | Opcode::Nack => 1,
            Opcode::Shout | Opcode::Speak => return None,
            _ if msg.opcode.is_reserved() => return None,
            _ => 0,
        };
        let value = msg.value(&self.config.limits.value).ok()?;
        value.as_array()?.get(index)?.as_u64()
    }

    /// NACKs `msg`, reading its request id from the raw value if it has one.
    pub(crate) fn nack_message(
        &mut self,
        conn: ConnectionId,
        msg: &Message,
        code: NackCode,
        reason: &str,
    ) {
        let request_id = self.request_id_of(msg);
        self.nack(conn, msg.opcode, request_id, code, reason);
    }

    /// Closes `conn`: flushes its queued messages, asks the driver to close
    /// it and forgets it.
    pub(crate) fn close(&mut self, conn: ConnectionId, reason: String, now: Instant) {
        self.dirty.remove(&conn);
        if let Some(t) = self.encode_outbox(conn) {
            self.push_transmit(t);
        }
        let Some(c) = self.conns.remove(&conn) else {
            return;
        };
        self.push_action(Action::Close { conn, reason });
        self.forget(conn, c, now);
    }

    /// Cleans up after a connection that is gone, whoever closed it.
    fn forget(&mut self, conn: ConnectionId, c: Connection, now: Instant) {
        for timer in [
            Timer::Handshake(conn),
            Timer::Keepalive(conn),
            Timer::Idle(conn),
        ] {
            self.timers.cancel(timer);
        }
        let peer = c.peer.as_ref().map(|p| p.address);
        if let Some(address) = peer {
            self.connected.remove(&address, conn);
        }
        for (id, pending) in self.requests.remove_conn(conn) {
            self.timers.cancel(Timer::Request(conn, id));
            self.request_failed(conn, pending, Failure::ConnectionLost, now);
        }
        if let Some(addr) = c.dialled {
            self.dials.disconnected(addr, conn);
            if peer.is_none() {
                self.dial_failed(addr, Some(c.expected), now);
            }
        }
        if c.role == Role::Kept {
            self.want_kept(now);
        }
        self.push_event(Event::Disconnected { conn, peer });
        self.serve_dial_queue(now);
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

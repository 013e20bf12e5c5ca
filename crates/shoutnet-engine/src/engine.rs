//! The node engine (docs/PROTOCOL.md §9, §10): the sans-IO `handle_*` /
//! `poll_*` surface, the timer dispatch, and the orchestration of the
//! engine's parts.
//!
//! This file holds the only `impl NodeEngine`. The parts (the connection
//! [`Pool`] and its [`Connection`]s with their [`Handshake`]s, the
//! [`Requests`] table, the [`Routing`] table, the [`Lookups`] pool, the
//! [`Bootstraps`], the [`Timers`] and the [`Outputs`]) never call each other
//! or the engine: each takes what it needs and returns an outcome, and the
//! engine acts on it. ARCHITECTURE.md ("The engine's parts") says how a new
//! part plugs in.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use shoutnet_crypto::{
    Address, PublicKey, decrypt_message, encrypt_message, sign_message, verify_message,
};
use shoutnet_kad::{InsertOutcome, KadConfig, LookupStats, RoutingTable};
use shoutnet_wire::{
    Ack, AckResult, Broadcast, Custom, FindNode, FindValue, Message, Metadata, Nack, NackCode,
    NodeInfo, Opcode, Payload, Ping, Profile, SetConnectionOpt, Store, Value, Whisper,
};

use crate::addrs::dialable;
use crate::bootstrap::{Bootstraps, Next, Summary};
use crate::budget::{Bucket, Class};
use crate::channel::{ChannelIdentity, SecuredPeer};
use crate::config::EngineConfig;
use crate::connection::{Connection, IdleStep, KeepaliveStep, Role};
use crate::custom::{Arrival, Customs};
use crate::event::{
    Action, Admission, CloseReason, Command, CommandError, CommandId, ConnectionId, CustomRefusal,
    Delivered, Direction, Event, Found, ReplyHandle, RequestError, Transmit, WhisperError,
    WhisperRoute,
};
use crate::handshake::{Judge, OwnHello, Peer, VerifiedBindings};
use crate::lookups::{Finished, Lookups, Owner, PutId, Step as LookupStep};
use crate::outbox::{Lane, Pushed};
use crate::outputs::{Outputs, Stats};
use crate::pool::{AdmissionLimits, Pool, Reach};
use crate::puts::{Outcome as StoreOutcome, Puts};
use crate::records::{Records, StoreAnswer};
use crate::refusal;
use crate::relays::{OwnRelays, Relay, Relaying, parse_record};
use crate::requests::{Failure, Pending, Purpose, Queued, Requests};
use crate::routing::{Contact, Routing};
use crate::timers::{LookupId, Timer, Timers};
use crate::whispers::{Digest, Prepared, Whispers, digest_of};
use shoutnet_flood::{Admit, Flood, MessageId, Verified};

/// The budget class and request id of a request `payload`, if it is one
/// with a budget.
fn request_class(payload: &Payload) -> Option<(Class, u64)> {
    match payload {
        Payload::Ping(p) => Some((Class::Ping, p.request_id)),
        Payload::FindNode(f) => Some((Class::Lookup, f.request_id)),
        Payload::FindValue(f) => Some((Class::Lookup, f.request_id)),
        Payload::SetConnectionOpt(o) => Some((Class::Option, o.request_id)),
        Payload::Store(s) => Some((Class::Store, s.request_id)),
        Payload::Custom(c) => c.request_id.map(|id| (Class::Custom, id)),
        _ => None,
    }
}

/// The digest a `NACK WHISPER` names in its detail (§9.9).
fn whisper_digest(nack: &Nack) -> Option<Digest> {
    nack.detail
        .as_ref()
        .and_then(Value::as_bin)
        .and_then(|b| <[u8; 32]>::try_from(b.as_ref()).ok())
}

/// The opcode byte of a `SHOUT` header (`opcode << 4`), which its message id
/// covers.
const SHOUT_BYTE: u8 = 4 << 4;

/// Where a connection to a peer stands, as the engine sees it after acting
/// on the pool's [`Reach`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reached {
    /// Established: send now.
    Connected(ConnectionId),
    /// Being dialled, in its handshake, or queued for a transient slot:
    /// register the work with the pool.
    Underway,
    /// Not now.
    Unreachable,
}

/// One node of the shoutnet protocol as a pure state machine.
///
/// # The sans-IO contract
///
/// The engine does no IO, reads no clock and owns its only RNG (seeded from
/// the configuration's RNG seed). A driver (the tokio runtime or a
/// simulator) feeds it **inputs**, each with the current monotonic time
/// `now`:
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
///   application asks for something; returns the [`CommandId`] its events
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
/// ℓ ([`EngineConfig::set_max_outbound`]) bounds the node's *kept* outbound
/// connections: after a bootstrap the node dials ℓ random peers of its
/// routing table and keeps those connections open, replacing any it loses.
/// Requests to peers it has no connection to (a lookup's `FIND_NODE`, a
/// liveness check) use *transient* outbound connections, at most
/// [`EngineConfig::set_max_transient`] at once, closed after the transient
/// idle time without traffic. A request that finds every transient slot
/// busy waits for one.
#[derive(Debug)]
pub struct NodeEngine {
    config: EngineConfig,
    profile: Profile,
    key: Bytes,
    local: Address,
    rng: ChaCha20Rng,
    last_now: Instant,
    pool: Pool,
    requests: Requests,
    timers: Timers,
    routing: Routing,
    lookups: Lookups,
    bootstraps: Bootstraps,
    /// Whether the upkeep timers run: keeping ℓ connections and
    /// refreshing idle buckets. They start when a bootstrap finishes, or
    /// when the routing table gets its first entry (a seed node that never
    /// bootstraps).
    upkeep: bool,
    next_command: u64,
    out: Outputs,
    /// The budget of new inbound handshakes.
    handshakes: Bucket,
    /// The budget of private-key decryptions.
    decryptions: Bucket,
    /// This node's side of every secure channel.
    identity: ChannelIdentity,
    /// Broadcasts: the seen-cache and the per-origin budgets.
    flood: Flood,
    /// Channel bindings verified lately.
    bindings: VerifiedBindings,
    /// DHT records: what it stores for others, what it published.
    records: Records,
    /// DHT puts underway.
    puts: Puts,
    /// `CUSTOM` handlers and requests waiting for the application.
    customs: Customs,
    /// Whispers sent and waiting, and return routes of relayed ones.
    whispers: Whispers,
    /// The dial-out-only nodes this node relays for.
    relaying: Relaying,
    /// This node's relays, if it listens nowhere.
    own_relays: OwnRelays,
}

impl NodeEngine {
    /// A node with `config`, created at `now`. Durations over
    /// [`EngineConfig::MAX_DURATION`] are capped and ℓ is brought into its
    /// allowed range.
    pub fn new(config: EngineConfig, now: Instant) -> Self {
        let config = config.capped();
        let profile = config.keypair.profile();
        let key = config.keypair.public().to_bytes();
        let local = config.keypair.public().routing_address();
        let local_network = config.local_network;
        let mut rng = ChaCha20Rng::from_seed(config.rng_seed);
        let mut static_secret = [0; 32];
        rng.fill_bytes(&mut static_secret);
        let own = OwnHello {
            keypair: &config.keypair,
            listen: &config.listen,
            compression: config.decode_methods,
            preferred: config.preferred,
            max_transmission: config.limits.max_transmission,
        };
        // Signing cannot fail for a well-formed key pair; if it ever did,
        // the hello without a binding is refused by every peer.
        let identity = own
            .identity(static_secret, &mut rng)
            .unwrap_or_else(|_| ChannelIdentity::new(profile, static_secret, Bytes::new()));
        Self {
            identity,
            flood: Flood::new(&config.flood),
            bindings: VerifiedBindings::new(VerifiedBindings::CAPACITY),
            records: Records::new(config.store.clone(), config.unix_time, now),
            puts: Puts::default(),
            customs: Customs::new(config.max_pending_custom, config.custom_reply_timeout),
            relaying: Relaying::new(config.max_relayed, config.relay_rate),
            own_relays: OwnRelays::default(),
            whispers: Whispers::new(
                config.whisper_timeout,
                config.max_whispers,
                config.max_whisper_routes,
                config.max_whisper_routes_per_connection,
            ),
            rng,
            requests: Requests::new(config.table_capacity),
            pool: Pool::new(
                config.max_outbound,
                config.max_transient,
                config.table_capacity,
                AdmissionLimits {
                    inbound: config.max_inbound,
                    per_address: config.max_inbound_per_address,
                    handshaking: config.max_handshaking,
                },
            ),
            handshakes: Bucket::new(config.handshake_rate, now),
            decryptions: Bucket::new(config.decrypt_rate, now),
            routing: Routing::new(local, config.kad.clone(), now),
            out: Outputs::new(config.queue_capacity),
            config,
            profile,
            key,
            local,
            last_now: now,
            timers: Timers::default(),
            lookups: Lookups::new(local, local_network),
            bootstraps: Bootstraps::default(),
            upkeep: false,
            next_command: 1,
        }
    }

    /// This node's side of every secure channel (its Noise static key and
    /// its hello), which drivers give to each connection's
    /// [`SecureChannel`](crate::channel::SecureChannel).
    pub fn channel_identity(&self) -> &ChannelIdentity {
        &self.identity
    }

    /// This node's routing address.
    pub fn local_address(&self) -> Address {
        self.local
    }

    /// The counters.
    pub fn stats(&self) -> Stats {
        self.out.stats
    }

    /// The routing table.
    pub fn routing_table(&self) -> &RoutingTable<Contact> {
        self.routing.table()
    }

    /// Number of connections the engine tracks (any handshake state).
    pub fn connection_count(&self) -> usize {
        self.pool.len()
    }

    /// Established connections to `peer` that this engine tracks.
    pub fn is_connected(&self, peer: &Address) -> bool {
        self.pool.is_connected(peer)
    }

    /// Outbound connections open or being opened, as (kept, transient):
    /// kept ones never exceed ℓ, transient ones never exceed the transient
    /// limit.
    pub fn outbound_counts(&self) -> (usize, usize) {
        (
            self.pool.count(Role::Kept),
            self.pool.count(Role::Transient),
        )
    }

    /// The peers this node's broadcasts go to: those over a connection
    /// either side keeps (docs/PROTOCOL.md §9.7), in address order.
    pub fn kept_peers(&self) -> impl Iterator<Item = &Address> {
        self.pool.kept_peers()
    }

    /// DHT records this node holds, for others and its own, expired ones
    /// not yet dropped included.
    pub fn stored_records(&self) -> usize {
        self.records.len()
    }

    /// Return routes of whispers this node relays, waiting for their
    /// answers: at most [`EngineConfig::set_max_whisper_routes`].
    pub fn whisper_routes(&self) -> usize {
        self.whispers.routes()
    }

    /// Dial-out-only nodes this node relays for.
    pub fn relayed_nodes(&self) -> usize {
        self.relaying.len()
    }

    /// This node's relays, if it listens nowhere.
    pub fn own_relays(&self) -> usize {
        self.own_relays.len()
    }

    /// `CUSTOM` requests waiting for the application's answer.
    pub fn pending_custom(&self) -> usize {
        self.customs.waiting()
    }

    /// Broadcast ids the seen-cache holds: at most its configured bound
    /// ([`FloodConfig::seen_max`](shoutnet_flood::FloodConfig::seen_max)).
    pub fn seen_broadcasts(&self) -> usize {
        self.flood.seen_len()
    }

    /// Lookups running (commands, bootstraps and refreshes).
    pub fn lookup_count(&self) -> usize {
        self.lookups.len()
    }

    // ----- Inputs -----

    /// A connection opened. Both sides send their hello at once. An
    /// inbound connection past a limit of the node's admission (total,
    /// per address, handshakes in progress, handshake rate) is closed at
    /// once with [`CloseReason::Admission`], before it costs any work.
    pub fn handle_connected(&mut self, conn: ConnectionId, direction: Direction, now: Instant) {
        self.tick(now);
        if self.pool.contains(conn) {
            self.close(conn, CloseReason::ConnectionIdReused, now);
            return;
        }
        let dialled = match direction {
            Direction::Outbound { addr } => Some(addr),
            Direction::Inbound { remote } => {
                if let Err(refused) = self.admit(&remote, now) {
                    self.out.stats.refused_inbound += 1;
                    let reason = CloseReason::Admission(refused);
                    self.out.push_close(Action::Close { conn, reason });
                    return;
                }
                None
            }
        };
        if let Some(addr) = dialled {
            self.timers.cancel(Timer::Dial(addr));
        }
        let limits = self.config.limits;
        let rates = self.config.request_rates;
        self.pool.open(conn, dialled, |role, expected| {
            let mut c = Connection::new(direction, role, limits, &rates, now);
            c.expected = expected;
            c
        });
        self.timers
            .set(Timer::Handshake(conn), now + self.config.handshake_timeout);
    }

    /// The secure channel of `conn` completed its handshake with `peer`
    /// (docs/PROTOCOL.md §9.1): the peer's hello must carry a valid key
    /// bound to the Noise static key the channel proved, or the connection
    /// is closed. Then the connection is established: [`Event::Connected`],
    /// and the work waiting for the peer proceeds.
    pub fn handle_secured(&mut self, conn: ConnectionId, peer: SecuredPeer, now: Instant) {
        self.tick(now);
        let Some(remote) = self
            .pool
            .get(conn)
            .filter(|c| !c.is_established())
            .map(|c| c.remote)
        else {
            return;
        };
        let judge = Judge {
            profile: self.profile,
            limits: &self.config.limits.value,
            local_key: &self.key,
            remote,
            local_network: self.config.local_network,
        };
        let checked = match judge.read(&peer) {
            Ok(hello) => {
                let key = self.known_key(&hello.key);
                judge.check(&peer, hello, key, &mut self.bindings)
            }
            Err(reason) => Err(reason),
        };
        match checked {
            Ok(peer) => self.established(conn, peer, now),
            Err(reason) => {
                self.out.stats.refused_handshakes += 1;
                self.close(conn, reason, now);
            }
        }
    }

    /// Whether an inbound connection from `remote` may start its
    /// handshake now: within the pool's limits, then within the handshake
    /// rate (which only admitted connections spend).
    fn admit(&mut self, remote: &SocketAddr, now: Instant) -> Result<(), Admission> {
        self.pool.admit(remote)?;
        if !self.handshakes.take(1, now) {
            return Err(Admission::HandshakeRate);
        }
        Ok(())
    }

    /// An [`Action::Dial`] of `addr` could not connect (refused,
    /// unreachable). Dials never reported are given up after the
    /// handshake timeout.
    pub fn handle_dial_failed(&mut self, addr: SocketAddr, now: Instant) {
        self.tick(now);
        if self.pool.is_pending(&addr) {
            self.dial_failed(addr, None, now);
        }
    }

    /// Bytes arrived on `conn`. Framing errors close it; nothing a peer
    /// sends can panic the engine.
    pub fn handle_bytes(&mut self, conn: ConnectionId, bytes: &[u8], now: Instant) {
        self.tick(now);
        let Some(c) = self.pool.get_mut(conn) else {
            return;
        };
        c.receive(bytes, now);
        loop {
            let Some(c) = self.pool.get_mut(conn) else {
                return;
            };
            let tx = match c.next_transmission(self.profile, &self.config.limits, now) {
                Ok(Some((tx, method))) => {
                    self.out.stats.count_received(method);
                    tx
                }
                Ok(None) => return,
                Err(reason) => {
                    match reason {
                        CloseReason::Framing(_) => self.out.stats.framing_errors += 1,
                        _ => self.out.stats.decompression_over_budget += 1,
                    }
                    self.close(conn, reason, now);
                    return;
                }
            };
            for msg in tx.iter() {
                // Any message may close the connection: stop there.
                if !self.pool.contains(conn) {
                    return;
                }
                self.on_message(conn, &msg.to_message(), now);
            }
        }
    }

    /// `conn` is gone. Its requests fail and, if it was established,
    /// [`Event::Disconnected`] names the peer.
    pub fn handle_closed(&mut self, conn: ConnectionId, now: Instant) {
        self.tick(now);
        if let Some(c) = self.pool.remove(conn) {
            self.out.clear_dirty(conn);
            self.forget(conn, c, now);
        }
    }

    /// The driver's writer for `conn` is full: the engine stops encoding
    /// transmissions for it, and its messages wait in its outbox (bounded,
    /// the node's own first, docs/PROTOCOL.md §11) until
    /// [`handle_send_ready`](Self::handle_send_ready).
    pub fn handle_send_blocked(&mut self, conn: ConnectionId) {
        if let Some(c) = self.pool.get_mut(conn) {
            c.send_blocked = true;
        }
    }

    /// The driver's writer for `conn` has room again: what waits in its
    /// outbox is transmitted.
    pub fn handle_send_ready(&mut self, conn: ConnectionId, now: Instant) {
        self.tick(now);
        if let Some(c) = self.pool.get_mut(conn) {
            c.send_blocked = false;
            if c.has_outbox() {
                self.out.mark_dirty(conn);
            }
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
    pub fn handle_command(&mut self, command: Command, now: Instant) -> CommandId {
        self.tick(now);
        let id = CommandId(self.next_command);
        self.next_command += 1;
        match command {
            Command::FindNode { target } => {
                self.start_lookup(Owner::Command(id), target, now);
            }
            Command::Bootstrap { seeds } => self.start_bootstrap(id, seeds, now),
            Command::Shout { data } => self.shout(id, data, now),
            Command::Speak { data } => self.speak(id, data),
            Command::Put {
                key,
                value,
                version,
                ttl,
            } => self.put(id, key, &value, version, ttl, now),
            Command::Get { key } => self.get(id, key, now),
            Command::RegisterCustom { name } => {
                if Customs::valid_name(&name) {
                    self.customs.register(name);
                } else {
                    let error = CommandError::BadName { len: name.len() };
                    self.out.push_event(Event::CommandFailed { id, error });
                }
            }
            Command::UnregisterCustom { name } => self.customs.unregister(&name),
            Command::Custom {
                peer,
                name,
                data,
                reply,
            } => self.custom(id, peer, name, data, reply, now),
            Command::ReplyCustom { reply, answer } => self.reply_custom(id, reply, answer),
            Command::Whisper {
                to,
                data,
                encrypt,
                route,
            } => self.whisper(id, to, data, encrypt, route, now),
        }
        id
    }

    // ----- Outputs -----

    /// The next transmission to write, one per connection with queued
    /// messages.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        if let Some(t) = self.out.pop_transmit() {
            return Some(t);
        }
        while let Some(conn) = self.out.pop_dirty() {
            // A blocked connection is marked again when it is ready.
            if self.pool.get(conn).is_some_and(|c| c.send_blocked) {
                continue;
            }
            if let Some(t) = self.encode(conn) {
                return Some(t);
            }
        }
        None
    }

    /// The next dial or close.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.out.pop_action()
    }

    /// The next application event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.out.pop_event()
    }

    /// When to call [`handle_timeout`](Self::handle_timeout): the last `now`
    /// while output is queued, else the earliest deadline, or `None`.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if !self.out.is_empty() {
            return Some(self.last_now);
        }
        self.timers.next()
    }

    // ----- Timer dispatch -----

    /// Handles one timer that fell due.
    fn fire(&mut self, timer: Timer, now: Instant) {
        match timer {
            Timer::Handshake(conn) => {
                if self.pool.get(conn).is_some_and(|c| !c.is_established()) {
                    self.close(conn, CloseReason::HandshakeTimedOut, now);
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
                if self.pool.is_pending(&addr) {
                    self.dial_failed(addr, None, now);
                }
            }
            Timer::Lookup(id) => self.drive_lookup(id, now),
            Timer::TablePing => self.routing.handle_timeout(now, &mut self.timers),
            Timer::Refresh => self.refresh_due(now),
            Timer::Maintain => self.maintain_kept(now),
            Timer::SeenExpiry => {
                self.flood.expire(now);
                self.arm_seen_expiry();
            }
            Timer::RecordExpiry => {
                let next = self.records.expire(now);
                self.timers.set_or_cancel(Timer::RecordExpiry, next);
            }
            Timer::Republish => self.republish(now),
            Timer::Whisper => {
                for late in self.whispers.overdue(now) {
                    self.out.push_event(Event::WhisperFinished {
                        id: late.command,
                        result: Err(WhisperError::TimedOut),
                    });
                }
                self.whispers.expire_routes(now);
                self.arm_whisper_timer();
            }
            Timer::CustomReply => {
                for late in self.customs.overdue(now) {
                    let reason = "the handler did not answer in time";
                    let nack = refusal::nack(
                        Opcode::Custom,
                        Some(late.request_id),
                        NackCode::Internal,
                        reason,
                    );
                    self.send(late.conn, &Payload::Nack(nack));
                }
                let next = self.customs.next_deadline();
                self.timers.set_or_cancel(Timer::CustomReply, next);
            }
        }
    }

    fn tick(&mut self, now: Instant) {
        self.last_now = self.last_now.max(now);
    }

    // ----- Messages -----

    /// Routes one received message (§9.1, §9.2, §10).
    fn on_message(&mut self, conn: ConnectionId, msg: &Message, now: Instant) {
        let Some(c) = self.pool.get(conn) else {
            return;
        };
        let Some(peer) = c.peer.as_ref() else {
            // The channel hands over data only once secured, and the
            // engine is told first: this is a driver's mistake, or data
            // sent around the channel.
            self.close(conn, CloseReason::NotAuthenticated(msg.opcode), now);
            return;
        };
        // §9.2: only forwarded traffic (SHOUT, a routed WHISPER and its
        // signed ACK/NACK) may carry another origin. Anything else is a
        // peer misbehaving: NACK, close.
        if msg.opcode == Opcode::Whisper {
            let (peer_key, peer_address) = (peer.public.key_field().to_vec(), peer.address);
            self.on_whisper(conn, msg, &peer_key, peer_address, now);
            return;
        }
        let signed_reply =
            matches!(msg.opcode, Opcode::Ack | Opcode::Nack) && msg.signature.is_some();
        if signed_reply && (msg.from != peer.public.key_field() || msg.to != self.key) {
            self.on_routed_reply(msg, now);
            return;
        }
        let forwarded = msg.opcode == Opcode::Shout;
        if !forwarded && msg.from != peer.public.key_field() {
            let reason = "from-key is not the connection's peer";
            let request_id = refusal::request_id_of(msg, self.profile, &self.config.limits.value);
            let code = NackCode::NotAuthenticated;
            self.send(
                conn,
                &Payload::Nack(refusal::nack(msg.opcode, request_id, code, reason)),
            );
            self.close(conn, CloseReason::ForeignFromKey, now);
            return;
        }
        let peer_address = peer.address;
        if !self.addressed_to_us(msg) {
            let code = NackCode::Malformed;
            let request_id = refusal::request_id_of(msg, self.profile, &self.config.limits.value);
            let reason = "to-key is not this node's key";
            self.refuse(
                conn,
                refusal::nack(msg.opcode, request_id, code, reason),
                now,
            );
            return;
        }
        if msg.opcode == Opcode::Shout {
            self.on_shout(conn, msg, &peer_address, now);
            return;
        }
        if msg.opcode.is_reserved() {
            let code = NackCode::UnsupportedOpcode;
            self.refuse(
                conn,
                refusal::nack(msg.opcode, None, code, "reserved opcode"),
                now,
            );
            return;
        }
        // Signature first (§5.2): it is cheap, covers the ciphertext, and a
        // forged message must not cost private-key work.
        if msg.signature.is_some() {
            let valid = self
                .pool
                .get(conn)
                .and_then(|c| c.peer.as_ref())
                .is_some_and(|p| verify_message(&p.public, msg).is_ok());
            if !valid {
                self.out.stats.bad_signatures += 1;
                let request_id =
                    refusal::request_id_of(msg, self.profile, &self.config.limits.value);
                let nack = refusal::nack(
                    msg.opcode,
                    request_id,
                    NackCode::BadSignature,
                    "signature does not verify",
                );
                self.refuse(conn, nack, now);
                return;
            }
        }
        let opened;
        let msg = if msg.encrypted {
            match self.decrypt(msg, now) {
                Ok(plain) => {
                    opened = plain;
                    &opened
                }
                Err(code) => {
                    let reason = match code {
                        NackCode::RateLimited => "over the node's decryption budget",
                        _ => "does not decrypt",
                    };
                    // The request id is inside the ciphertext: unknown.
                    self.refuse(conn, refusal::nack(msg.opcode, None, code, reason), now);
                    return;
                }
            }
        } else {
            msg
        };
        let payload = match msg.read(self.profile, &self.config.limits.value) {
            Ok(payload) => payload,
            Err(refused) => {
                match msg.opcode {
                    Opcode::Speak => self.out.stats.unsupported_dropped += 1,
                    Opcode::Ack | Opcode::Nack => {
                        self.malformed_reply(conn, refused.request_id, now)
                    }
                    _ => match refusal::malformed(msg, &refused) {
                        Some(nack) => self.refuse(conn, nack, now),
                        None => self.out.stats.malformed_replies += 1,
                    },
                }
                return;
            }
        };
        if let Some((class, request_id)) = request_class(&payload)
            && !self.within_budget(conn, class, now)
        {
            self.out.stats.rate_limited += 1;
            let reason = format!("over this connection's {} budget", class.name());
            let nack = refusal::nack(msg.opcode, Some(request_id), NackCode::RateLimited, &reason);
            self.refuse(conn, nack, now);
            return;
        }
        self.serve(conn, payload, &peer_address, now);
    }

    /// Whether `msg`'s to-key fits its opcode (docs/PROTOCOL.md §9.2):
    /// `SHOUT` and `SPEAK` go to the broadcast key, a `WHISPER` to the key
    /// it is for (this node or one it is routed towards), everything else
    /// to this node's key.
    fn addressed_to_us(&self, msg: &Message) -> bool {
        match msg.opcode {
            Opcode::Shout | Opcode::Speak => msg.to.iter().all(|b| *b == 0),
            _ => msg.to == self.key,
        }
    }

    /// Whether a request of `class` on `conn` is within its budget, and the
    /// connection's outbox has room for its answer.
    fn within_budget(&mut self, conn: ConnectionId, class: Class, now: Instant) -> bool {
        let Some(c) = self.pool.get_mut(conn) else {
            return false;
        };
        c.allow(class, now)
    }

    /// Answers or acts on one decoded payload from the peer at
    /// `peer_address`.
    fn serve(
        &mut self,
        conn: ConnectionId,
        payload: Payload,
        peer_address: &Address,
        now: Instant,
    ) {
        let full = self
            .pool
            .get(conn)
            .is_none_or(|c| c.outbox_full(self.config.max_outbox_bytes));
        if full && request_class(&payload).is_some() {
            // The answer would be dropped: do not build it.
            self.out.stats.outbox_full += 1;
            return;
        }
        match payload {
            Payload::Ping(Ping { request_id }) => {
                let result = AckResult::Ping;
                self.send(conn, &Payload::Ack(Ack { request_id, result }));
            }
            Payload::SetConnectionOpt(opt) if opt.option == SetConnectionOpt::RELAY => {
                self.on_relay_option(conn, opt, peer_address, now);
            }
            Payload::SetConnectionOpt(opt) if opt.option == SetConnectionOpt::KEPT => {
                self.on_kept_option(conn, opt, now);
            }
            Payload::SetConnectionOpt(opt) => {
                let decodes = self.config.decode_methods;
                let answer = self.pool.get_mut(conn).map(|c| c.set_option(&opt, decodes));
                match answer {
                    Some(Payload::Nack(nack)) => self.refuse(conn, nack, now),
                    Some(ack) => self.send(conn, &ack),
                    None => {}
                }
            }
            Payload::FindNode(find) => {
                self.seen_on(conn, now);
                let answer =
                    self.routing
                        .answer(find.request_id, &find.target, peer_address, false);
                self.send(conn, &answer);
            }
            Payload::FindValue(find) => {
                self.seen_on(conn, now);
                self.serve_find_value(conn, find, peer_address, now);
            }
            // WHISPER never reaches here (`on_whisper`).
            Payload::Whisper(_) => self.out.stats.malformed_replies += 1,
            Payload::Store(store) => {
                self.seen_on(conn, now);
                self.serve_store(conn, &store, now);
            }
            Payload::Custom(custom) if custom.request_id.is_none() => {
                if self.within_budget(conn, Class::Custom, now) {
                    self.on_custom(conn, custom, peer_address, now);
                } else {
                    self.out.stats.rate_limited += 1;
                }
            }
            Payload::Custom(custom) => self.on_custom(conn, custom, peer_address, now),
            Payload::Speak(_) if !self.within_budget(conn, Class::Speak, now) => {
                self.out.stats.rate_limited += 1;
                let reason = "over this connection's SPEAK budget";
                let nack = refusal::nack(Opcode::Speak, None, NackCode::RateLimited, reason);
                self.refuse(conn, nack, now);
            }
            Payload::Speak(speak) => {
                self.out.stats.speaks_delivered += 1;
                let (peer, data) = (*peer_address, speak.data);
                self.out.push_event(Event::Speak { conn, peer, data });
            }
            // SHOUT never reaches here (`on_shout`).
            Payload::Shout(_) => self.out.stats.shouts_malformed += 1,
            Payload::Ack(ack) => self.on_ack(conn, ack, now),
            Payload::Nack(nack) => self.on_nack(conn, &nack, now),
        }
    }

    /// The plaintext form of `msg`, encrypted to this node (§5.4), within
    /// the node's budget of private-key work; else the `NACK` code.
    fn decrypt(&mut self, msg: &Message, now: Instant) -> Result<Message, NackCode> {
        if !self.decryptions.take(1, now) {
            self.out.stats.rate_limited += 1;
            return Err(NackCode::RateLimited);
        }
        match decrypt_message(&self.config.keypair, &mut self.rng, msg) {
            Ok(plain) => {
                let mut opened = msg.clone();
                opened.content = plain;
                opened.encrypted = false;
                Ok(opened)
            }
            Err(_) => {
                self.out.stats.decrypt_failures += 1;
                Err(NackCode::DecryptFailed)
            }
        }
    }

    /// Announces `conn` as established with `peer`.
    fn established(&mut self, conn: ConnectionId, peer: Peer, now: Instant) {
        let Some(c) = self.pool.get_mut(conn) else {
            return;
        };
        c.peer_max_transmission = peer.max_transmission;
        c.peer = Some(peer.clone());
        self.out.push_event(Event::Connected {
            conn,
            peer: peer.address,
            key: peer.public.to_bytes(),
            listen: peer.listen.clone(),
        });
        self.on_established(conn, &peer, now);
    }

    /// A handshake completed on `conn`: the peer enters the routing table
    /// (if it listens), and the work waiting for it proceeds.
    fn on_established(&mut self, conn: ConnectionId, peer: &Peer, now: Instant) {
        self.pool.established(conn, peer.address);
        self.timers.cancel(Timer::Handshake(conn));
        self.timers
            .set(Timer::Keepalive(conn), now + self.config.keepalive);
        let (role, dialled, expected) = match self.pool.get_mut(conn) {
            Some(c) => (c.role, c.dialled, std::mem::take(&mut c.expected)),
            None => return,
        };
        if role == Role::Transient {
            self.timers
                .set(Timer::Idle(conn), now + self.config.transient_idle);
        }
        if role == Role::Kept {
            self.announce_kept(conn, now);
        }
        self.negotiate_compression(conn, peer, now);
        self.seen(peer, now);
        // Someone else answered at the address some peers were expected at.
        for other in expected.into_iter().filter(|e| *e != peer.address) {
            self.unreachable(other, now);
        }
        self.serve_waiters(peer.address, conn, now);
        if let Some(addr) = dialled {
            self.seed_done(addr, now);
        }
    }

    /// The validated key whose field is `field`: the one held for a routing
    /// table entry or a peer being dialled, if it is that key, else decoded
    /// and checked now (docs/PROTOCOL.md §2).
    fn known_key(&self, field: &[u8]) -> Result<PublicKey, shoutnet_crypto::Error> {
        let address = Address::of_key_field(field);
        let known = self.routing.known_key(&address, field).or_else(|| {
            self.pool
                .waiting_key(&address)
                .filter(|public| public.key_field() == field)
        });
        match known {
            Some(public) => Ok(public.clone()),
            None => PublicKey::from_key_field(self.profile, field),
        }
    }

    // ----- Requests and replies -----

    fn on_ack(&mut self, conn: ConnectionId, ack: Ack, now: Instant) {
        if let AckResult::Whisper { digest } = ack.result {
            // A direct answer: it must name the request and its digest.
            if self.whispers.digest_of_request(ack.request_id) == Some(digest) {
                self.whisper_resolved(&digest, Ok(()), now);
            } else {
                self.out.stats.unsolicited += 1;
            }
            return;
        }
        let opcode = ack.result.acked_opcode();
        let Some(pending) = self.take_request(conn, ack.request_id, opcode) else {
            self.out.stats.unsolicited += 1;
            return;
        };
        self.seen_on(conn, now);
        match (pending.purpose, ack.result) {
            (Purpose::Keepalive, AckResult::Ping) => self.keepalive_answered(conn, now),
            (Purpose::Liveness { address }, AckResult::Ping) => {
                self.routing
                    .ping_result(&address, true, now, &mut self.timers);
            }
            (Purpose::FindNode { lookup, peer }, AckResult::Nodes { nodes, .. }) => {
                self.on_nodes(lookup, peer, nodes, now);
            }
            (
                Purpose::FindNode { lookup, peer },
                AckResult::Value {
                    key,
                    value,
                    metadata,
                },
            ) => self.on_value(lookup, peer, key, value, metadata, now),
            (Purpose::Store { put }, AckResult::Stored { .. }) => {
                self.store_settled(put, StoreOutcome::Stored);
            }
            (Purpose::Custom { command }, AckResult::Custom { data }) => {
                self.out.push_event(Event::CustomAnswered {
                    id: command,
                    result: Ok(data),
                });
            }
            // A notice (the kept signal, a re-replicated record): the
            // answer changes nothing.
            (Purpose::Announcement, _) => {}
            (Purpose::RelayRequest, AckResult::SetConnectionOpt { .. }) => {
                self.relay_accepted(conn, now);
            }
            (Purpose::Compression { method }, AckResult::SetConnectionOpt { .. }) => {
                if let Some(c) = self.pool.get_mut(conn) {
                    c.use_method(method);
                }
            }
            (_, _) => {
                // The opcode matched but the result shape did not (an ACK
                // of FIND_NODE always carries nodes, so this cannot happen
                // today); treat it as a refusal.
                self.request_failed(conn, pending, Failure::Refused, now);
            }
        }
        self.release_if_waited_for(conn, now);
    }

    fn on_nack(&mut self, conn: ConnectionId, nack: &Nack, now: Instant) {
        if nack.acked == Opcode::Whisper {
            let digest = whisper_digest(nack).or_else(|| {
                nack.request_id
                    .and_then(|id| self.whispers.digest_of_request(id))
            });
            match digest {
                Some(digest) => self.whisper_resolved(&digest, Err(nack.code), now),
                None => self.out.stats.unsolicited += 1,
            }
            return;
        }
        let pending = nack
            .request_id
            .and_then(|id| self.take_request(conn, id, nack.acked));
        match pending {
            Some(Pending {
                purpose: Purpose::Store { put },
                ..
            }) if nack.code == NackCode::Conflict => {
                let current = nack.detail.clone().and_then(|detail| {
                    Metadata::from_detail(Opcode::Store, detail, self.profile).ok()
                });
                let outcome = current.map_or(StoreOutcome::Failed, StoreOutcome::Conflict);
                self.store_settled(put, outcome);
                self.release_if_waited_for(conn, now);
            }
            Some(Pending {
                purpose: Purpose::Custom { command },
                ..
            }) => {
                self.out.push_event(Event::CustomAnswered {
                    id: command,
                    result: Err(RequestError::Refused(nack.code)),
                });
                self.release_if_waited_for(conn, now);
            }
            Some(pending) => {
                self.request_failed(conn, pending, Failure::Refused, now);
                self.release_if_waited_for(conn, now);
            }
            None => self.out.stats.unsolicited += 1,
        }
    }

    /// An `ACK`/`NACK` whose payload does not decode (say, a `FIND_NODE`
    /// answer with more than 20 nodes) is never answered, but the request
    /// it names, if its id can be read, fails at once instead of waiting
    /// for its timeout.
    fn malformed_reply(&mut self, conn: ConnectionId, request_id: Option<u64>, now: Instant) {
        self.out.stats.malformed_replies += 1;
        let Some(id) = request_id else {
            return;
        };
        if let Some(pending) = self.requests.remove(conn, id) {
            self.request_done(conn, id);
            self.request_failed(conn, pending, Failure::Refused, now);
        }
    }

    /// A request got a `NACK`, timed out or lost its connection.
    fn request_failed(
        &mut self,
        conn: ConnectionId,
        pending: Pending,
        failure: Failure,
        now: Instant,
    ) {
        match pending.purpose {
            // The peer did not take note; nothing depends on it.
            Purpose::Announcement => {}
            Purpose::Keepalive => match failure {
                Failure::TimedOut => {
                    // A failed ping: the peer is dead to the routing table too.
                    let peer = self
                        .pool
                        .get(conn)
                        .and_then(|c| c.peer.as_ref())
                        .map(|p| p.address);
                    if let Some(address) = peer {
                        self.routing
                            .ping_result(&address, false, now, &mut self.timers);
                    }
                    self.close(conn, CloseReason::KeepaliveTimedOut, now);
                }
                Failure::Refused => self.keepalive_answered(conn, now),
                Failure::ConnectionLost | Failure::Unreachable => {}
            },
            Purpose::Liveness { address } => {
                self.routing
                    .ping_result(&address, false, now, &mut self.timers);
            }
            Purpose::FindNode { lookup, peer } => {
                if failure == Failure::ConnectionLost && self.retry_find_node(lookup, peer, now) {
                    return;
                }
                self.routing.record_failure(&peer, now, &mut self.timers);
                self.peer_failed(lookup, peer, now);
            }
            Purpose::Store { put } => self.store_settled(put, StoreOutcome::Failed),
            Purpose::RelayRequest => self.own_relays.refused(conn),
            // The peer keeps receiving uncompressed transmissions.
            Purpose::Compression { .. } => {}
            Purpose::Custom { command } => {
                let error = match failure {
                    Failure::Refused => RequestError::Refused(NackCode::Unspecified),
                    Failure::TimedOut => RequestError::TimedOut,
                    Failure::ConnectionLost => RequestError::ConnectionLost,
                    Failure::Unreachable => RequestError::Unreachable,
                };
                self.out.push_event(Event::CustomAnswered {
                    id: command,
                    result: Err(error),
                });
            }
        }
    }

    /// Records request `request_id` on `conn` and arms its timeout; `false`
    /// if the request table is full.
    fn send_request(
        &mut self,
        conn: ConnectionId,
        request_id: u64,
        pending: Pending,
        now: Instant,
    ) -> bool {
        if !self.requests.insert(conn, request_id, pending) {
            self.out.stats.dropped_requests += 1;
            return false;
        }
        self.timers.set(
            Timer::Request(conn, request_id),
            now + self.config.request_timeout,
        );
        if let Some(c) = self.pool.get_mut(conn) {
            c.outstanding += 1;
        }
        true
    }

    /// Takes the request an answer names (id and opcode must match).
    fn take_request(&mut self, conn: ConnectionId, id: u64, opcode: Opcode) -> Option<Pending> {
        let pending = self.requests.take(conn, id, opcode)?;
        self.request_done(conn, id);
        Some(pending)
    }

    /// Bookkeeping of a request that left the table: its timer and the
    /// connection's outstanding count.
    fn request_done(&mut self, conn: ConnectionId, id: u64) {
        self.timers.cancel(Timer::Request(conn, id));
        if let Some(c) = self.pool.get_mut(conn) {
            c.outstanding = c.outstanding.saturating_sub(1);
        }
    }

    /// Sends `PING [request_id]` and records it; `false` if the request
    /// table is full.
    fn send_ping(&mut self, conn: ConnectionId, purpose: Purpose, now: Instant) -> bool {
        let request_id = self.requests.next_id();
        let pending = Pending {
            opcode: Opcode::Ping,
            purpose,
        };
        if !self.send_request(conn, request_id, pending, now) {
            return false;
        }
        let ping = Ping { request_id };
        self.send(conn, &Payload::Ping(ping));
        true
    }

    /// The keepalive timer of `conn` fired: ping it if it has been quiet
    /// for the keepalive interval, else wait for the rest.
    fn keepalive_due(&mut self, conn: ConnectionId, now: Instant) {
        let Some(c) = self.pool.get(conn) else {
            return;
        };
        match c.keepalive_step(self.config.keepalive, now) {
            KeepaliveStep::Nothing => {}
            KeepaliveStep::WaitUntil(at) => self.timers.set(Timer::Keepalive(conn), at),
            KeepaliveStep::Ping => {
                if self.send_ping(conn, Purpose::Keepalive, now)
                    && let Some(c) = self.pool.get_mut(conn)
                {
                    c.keepalive_sent();
                }
            }
        }
    }

    /// The keepalive of `conn` was answered (or refused: the peer is there).
    fn keepalive_answered(&mut self, conn: ConnectionId, now: Instant) {
        if let Some(c) = self.pool.get_mut(conn) {
            let at = c.keepalive_answered(self.config.keepalive, now);
            self.timers.set(Timer::Keepalive(conn), at);
        }
    }

    // ----- Connections -----

    /// Finds or opens a connection to `peer` at `addr` in `role`: asks the
    /// driver for the dials the pool records, and closes the idle transient
    /// connection whose slot it frees (which serves the queue first, so the
    /// pool is asked again, without freeing another).
    fn connect(&mut self, peer: Address, addr: SocketAddr, role: Role, now: Instant) -> Reached {
        let mut may_free = true;
        loop {
            match self.pool.connect(peer, addr, role, may_free) {
                Reach::Connected(conn) => return Reached::Connected(conn),
                Reach::Underway => return Reached::Underway,
                Reach::Unreachable => return Reached::Unreachable,
                Reach::Dial => {
                    self.dial(addr, now);
                    return Reached::Underway;
                }
                Reach::FreeSlot(idle) => {
                    self.out.stats.idle_closed += 1;
                    self.close(idle, CloseReason::TransientSlotNeeded, now);
                    may_free = false;
                }
            }
        }
    }

    /// Asks the driver to dial `addr`, which the pool has recorded.
    fn dial(&mut self, addr: SocketAddr, now: Instant) {
        self.timers
            .set(Timer::Dial(addr), now + self.config.handshake_timeout);
        self.out.push_action(Action::Dial { addr });
    }

    /// A dial of `addr` failed: not answered, refused, or closed before its
    /// handshake completed (`expected` then names the peers it was for).
    /// Everything waiting for those peers fails.
    fn dial_failed(&mut self, addr: SocketAddr, expected: Option<Vec<Address>>, now: Instant) {
        self.out.stats.dial_failures += 1;
        self.timers.cancel(Timer::Dial(addr));
        let targets = match (self.pool.dial_failed(addr), expected) {
            (Some(dial), _) => {
                if dial.role == Role::Kept {
                    self.want_kept(now);
                }
                dial.targets
            }
            (None, Some(expected)) => expected,
            (None, None) => Vec::new(),
        };
        for target in targets {
            self.unreachable(target, now);
        }
        self.seed_done(addr, now);
        self.serve_dial_queue(now);
    }

    /// No connection to `peer` could be had: its waiting lookups and
    /// liveness check fail, and the routing table counts a failure.
    fn unreachable(&mut self, peer: Address, now: Instant) {
        let waiters = self.pool.take_waiters(&peer).unwrap_or_default();
        if waiters.liveness {
            self.routing
                .ping_result(&peer, false, now, &mut self.timers);
        } else {
            self.routing.record_failure(&peer, now, &mut self.timers);
        }
        for id in waiters.lookups {
            self.next_address_or_fail(id, peer, now);
        }
        for queued in waiters.sends {
            self.queued_failed(queued, now);
        }
    }

    /// Lookup `id` could not reach `peer` at the address it tried: it tries
    /// another address claimed for it, if any, else gives up on it.
    fn next_address_or_fail(&mut self, id: LookupId, peer: Address, now: Instant) {
        let next = self.lookups.next_address(id, &peer);
        match next.and_then(|(key, addr)| Some((addr, self.checked_key(&key)?))) {
            Some((addr, public)) => self.request_at(id, peer, addr, public, now),
            None => self.peer_failed(id, peer, now),
        }
    }

    /// Dials queued peers while transient slots are free.
    fn serve_dial_queue(&mut self, now: Instant) {
        while let Some((peer, addr)) = self.pool.next_queued() {
            match self.connect(peer, addr, Role::Transient, now) {
                Reached::Connected(conn) => self.serve_waiters(peer, conn, now),
                Reached::Underway => {}
                Reached::Unreachable => self.unreachable(peer, now),
            }
        }
    }

    /// A connection to `peer` is established: the work waiting for it
    /// proceeds.
    fn serve_waiters(&mut self, peer: Address, conn: ConnectionId, now: Instant) {
        let Some(waiters) = self.pool.take_waiters(&peer) else {
            return;
        };
        if waiters.liveness {
            // The handshake proved the peer alive.
            self.routing.ping_result(&peer, true, now, &mut self.timers);
        }
        for id in waiters.lookups {
            self.send_find_node(conn, id, peer, now);
        }
        for queued in waiters.sends {
            self.send_queued(conn, queued, now);
        }
    }

    /// A request on `conn` ended: a transient connection with nothing left
    /// to do is closed at once when others wait for a slot, rather than
    /// after its idle time.
    fn release_if_waited_for(&mut self, conn: ConnectionId, now: Instant) {
        if !self.pool.has_queue() {
            return;
        }
        if self
            .pool
            .get(conn)
            .is_some_and(Connection::is_idle_transient)
            && !self.whispers.waits_on(conn)
        {
            self.out.stats.idle_closed += 1;
            self.close(conn, CloseReason::TransientSlotNeeded, now);
        }
    }

    /// The idle timer of a transient connection fired.
    fn idle_due(&mut self, conn: ConnectionId, now: Instant) {
        let Some(c) = self.pool.get(conn) else {
            return;
        };
        // A whisper's answer comes back on the connection it left on.
        if self.whispers.waits_on(conn) {
            self.timers
                .set(Timer::Idle(conn), now + self.config.transient_idle);
            return;
        }
        match c.idle_step(self.config.transient_idle, now) {
            IdleStep::Nothing => {}
            IdleStep::WaitUntil(at) => self.timers.set(Timer::Idle(conn), at),
            IdleStep::Close => {
                self.out.stats.idle_closed += 1;
                self.close(conn, CloseReason::Idle, now);
            }
        }
    }

    /// Tops up the ℓ kept connections from the routing table. It runs
    /// again when a kept connection or dial is lost, or the table gains an
    /// entry ([`want_kept`](Self::want_kept)).
    fn maintain_kept(&mut self, now: Instant) {
        let candidates: Vec<_> = self.routing.dialable_entries().collect();
        if let Some(conn) = self.pool.make_way_for_anchor(&candidates, &self.local) {
            self.close(conn, CloseReason::MadeWayForAnchor, now);
        }
        let top_up = self
            .pool
            .top_up_kept(candidates.into_iter(), &self.local, &mut self.rng);
        for addr in top_up.dials {
            self.dial(addr, now);
        }
        for conn in top_up.promoted {
            self.announce_kept(conn, now);
        }
    }

    /// Arms the next top-up of the kept connections, if upkeep runs and ℓ
    /// are not kept: after the maintenance interval, not at once, so that
    /// a peer that closes every connection cannot make the node dial in a
    /// loop. Called when a kept connection or dial is lost and when the
    /// routing table gains an entry, so an idle node with nothing to dial
    /// sets no timer.
    fn want_kept(&mut self, now: Instant) {
        if !self.upkeep || !self.pool.wants_kept(&self.local) {
            return;
        }
        let at = now + self.config.maintenance_interval;
        let due = self.timers.get(Timer::Maintain).map_or(at, |t| t.min(at));
        self.timers.set(Timer::Maintain, due);
    }

    /// Starts the upkeep timers, once: the first top-up of the kept
    /// connections at `maintain_at`, and the bucket refresh.
    fn start_upkeep(&mut self, maintain_at: Instant, now: Instant) {
        if self.upkeep {
            return;
        }
        self.upkeep = true;
        self.timers.set(Timer::Maintain, maintain_at);
        self.timers
            .set(Timer::Refresh, now + self.config.kad.refresh_interval() / 2);
    }

    /// Closes `conn`: flushes its queued messages, asks the driver to close
    /// it and forgets it.
    fn close(&mut self, conn: ConnectionId, reason: CloseReason, now: Instant) {
        while let Some(t) = self.encode(conn) {
            self.out.push_transmit(t);
        }
        self.out.clear_dirty(conn);
        let Some(c) = self.pool.remove(conn) else {
            return;
        };
        self.out.push_close(Action::Close { conn, reason });
        self.forget(conn, c, now);
    }

    /// Cleans up after a connection that left the pool, whoever closed it.
    fn forget(&mut self, conn: ConnectionId, c: Connection, now: Instant) {
        for timer in [
            Timer::Handshake(conn),
            Timer::Keepalive(conn),
            Timer::Idle(conn),
        ] {
            self.timers.cancel(timer);
        }
        let peer = c.peer.as_ref().map(|p| p.address);
        self.customs.closed(conn);
        // Whispers that left on it will get no answer: they failed.
        for (origin, digest) in self.whispers.via_closed(conn, &self.key) {
            self.whisper_failed(
                &origin,
                &digest,
                "the connection to the next hop closed",
                now,
            );
        }
        self.whispers.closed(conn);
        self.relaying.closed(conn);
        if self.own_relays.closed(conn) {
            self.publish_relays(now);
        }
        for (id, pending) in self.requests.remove_conn(conn) {
            self.timers.cancel(Timer::Request(conn, id));
            self.request_failed(conn, pending, Failure::ConnectionLost, now);
        }
        if let Some(addr) = c.dialled
            && peer.is_none()
        {
            self.dial_failed(addr, Some(c.expected), now);
        }
        if c.role == Role::Kept {
            self.want_kept(now);
        }
        self.out.push_event(Event::Disconnected { conn, peer });
        self.serve_dial_queue(now);
    }

    // ----- Routing table -----

    /// `peer` was seen alive (a handshake): it becomes its bucket's
    /// most-recently-seen entry, or enters the table.
    fn seen(&mut self, peer: &Peer, now: Instant) {
        match self.routing.seen(peer, now, &mut self.timers) {
            Some(InsertOutcome::Pending { ping }) => self.check_liveness(ping, now),
            // A node that never bootstraps (a seed) starts its upkeep with
            // its first entry, giving a bootstrap the time to finish first.
            Some(InsertOutcome::Inserted) if self.upkeep => {
                self.want_kept(now);
                self.replicate_to(peer.address, now);
            }
            Some(InsertOutcome::Inserted) => {
                self.start_upkeep(now + self.config.maintenance_interval, now);
                self.replicate_to(peer.address, now);
            }
            _ => {}
        }
    }

    /// A node new to the routing table gets the records it should now hold
    /// (Kademlia's re-replication, docs/PROTOCOL.md §9.8).
    fn replicate_to(&mut self, newcomer: Address, now: Instant) {
        if self.records.len() == 0 {
            return;
        }
        let routing = &self.routing;
        let known = |address: &[u8; 32], n: usize| {
            let target = Address(*address);
            routing
                .closest(&target, n + 1)
                .into_iter()
                .filter(|a| *a != newcomer)
                .nth(n.checked_sub(1)?)
                .map(|a| a.distance(&target).0)
        };
        let replicas = self.config.record_replicas();
        let stores = self
            .records
            .for_newcomer(self.local.0, newcomer.0, replicas, known, now);
        for mut store in stores {
            store.request_id = self.requests.next_id();
            self.out.stats.records_replicated += 1;
            // Nothing waits for the answer: a refusal leaves the
            // publisher's republish to fill the gap.
            let payload = Payload::Store(store);
            let purpose = Some(Purpose::Announcement);
            self.request_to(newcomer, Queued::Request { payload, purpose }, now);
        }
    }

    /// The peer of established connection `conn` was seen alive (a request
    /// or an answer). A known entry is only marked seen, without building
    /// a new contact: this runs on every request.
    fn seen_on(&mut self, conn: ConnectionId, now: Instant) {
        let Some(peer) = self.pool.get(conn).and_then(|c| c.peer.as_ref()) else {
            return;
        };
        if peer.listen.is_empty() {
            return;
        }
        if self.routing.mark_seen(&peer.address, now, &mut self.timers) {
            return;
        }
        let peer = peer.clone();
        self.seen(&peer, now);
    }

    /// Checks whether the least-recently-seen entry `address` of a full
    /// bucket is alive: a `PING` over its connection, or else a transient
    /// dial, whose handshake is the proof. The answer goes to the routing
    /// table.
    fn check_liveness(&mut self, address: Address, now: Instant) {
        let reach = match self.pool.newest(&address) {
            Some(conn) => Reached::Connected(conn),
            None => match self.routing.dial_address(&address) {
                Some(addr) => self.connect(address, addr, Role::Transient, now),
                None => Reached::Unreachable,
            },
        };
        let alive = match reach {
            Reached::Connected(conn) => {
                if self.send_ping(conn, Purpose::Liveness { address }, now) {
                    return;
                }
                false
            }
            Reached::Underway => match self.pool.wait_for(address) {
                Some(waiters) => {
                    waiters.liveness = true;
                    return;
                }
                None => false,
            },
            Reached::Unreachable => false,
        };
        self.routing
            .ping_result(&address, alive, now, &mut self.timers);
    }

    /// The refresh timer fired: every bucket idle for the refresh interval
    /// gets a lookup of a random address in it.
    fn refresh_due(&mut self, now: Instant) {
        for index in self.routing.buckets_to_refresh(now) {
            self.refresh_bucket(index, Owner::Refresh, None, now);
        }
        self.timers
            .set(Timer::Refresh, now + self.config.kad.refresh_interval() / 2);
    }

    /// Starts a lookup of a random address in bucket `index`, to find
    /// nodes for that bucket, from the entries the routing table's refresh
    /// plan names. It needs only α answers near the target: its job is to
    /// put a few live nodes into the bucket, not to find the target's k
    /// closest, and every contact costs a connection. With `fill`, it stops
    /// as soon as the bucket holds that many entries.
    fn refresh_bucket(&mut self, index: u8, owner: Owner, fill: Option<usize>, now: Instant) {
        let mut seed = [0; 32];
        self.rng.fill_bytes(&mut seed);
        let (target, seeds) = self.routing.refresh_plan(index, seed);
        let mut config = self.config.kad.clone();
        config.set_k(config.parallelism());
        self.launch_lookup(owner, target, seeds, &config, fill, now);
    }

    // ----- Lookups and bootstrap -----

    /// Starts a `FIND_NODE` lookup of `target` from the table's k closest.
    fn start_lookup(&mut self, owner: Owner, target: Address, now: Instant) {
        self.start_lookup_of(owner, target, None, now);
    }

    /// Starts a lookup of `target` from the routing table: a `FIND_VALUE`
    /// of `value_key` if given, else a `FIND_NODE`.
    fn start_lookup_of(
        &mut self,
        owner: Owner,
        target: Address,
        value_key: Option<Bytes>,
        now: Instant,
    ) {
        let k = self.config.kad.bucket_size();
        let seeds = self.routing.closest(&target, k);
        let config = self.config.kad.clone();
        let fill = self.routing.touch(&target, now).zip(None);
        let id = self
            .lookups
            .start(owner, target, value_key, seeds, &config, fill, now);
        self.drive_lookup(id, now);
    }

    /// Starts a lookup of `target` from `seeds` with `config`, and touches
    /// the target's bucket. With `fill`, it stops once the target's bucket
    /// holds that many entries.
    fn launch_lookup(
        &mut self,
        owner: Owner,
        target: Address,
        seeds: Vec<Address>,
        config: &KadConfig,
        fill: Option<usize>,
        now: Instant,
    ) {
        let fill = self.routing.touch(&target, now).zip(fill);
        let id = self
            .lookups
            .start(owner, target, None, seeds, config, fill, now);
        self.drive_lookup(id, now);
    }

    /// Sends what lookup `id` asks for, and reports it when finished.
    fn drive_lookup(&mut self, id: LookupId, now: Instant) {
        loop {
            match self.lookups.next(id, now) {
                None => return,
                Some(LookupStep::Send(peer)) => self.request_peer(id, peer, now),
                Some(LookupStep::Waiting(next)) => {
                    self.timers.set_or_cancel(Timer::Lookup(id), next);
                    return;
                }
                Some(LookupStep::Finished(finished)) => {
                    self.lookup_finished(id, *finished, now);
                    return;
                }
            }
        }
    }

    fn lookup_finished(&mut self, id: LookupId, finished: Finished, now: Instant) {
        self.timers.cancel(Timer::Lookup(id));
        self.pool.forget_lookup(id);
        match finished.owner {
            Owner::Command(request) => self.out.push_event(Event::LookupFinished {
                id: request,
                target: finished.target,
                closest: finished.closest,
                stats: finished.stats,
            }),
            Owner::Bootstrap(request) => {
                self.bootstrap_step(request, finished.stats, now);
            }
            Owner::Refresh => {}
            Owner::Put(put) => self.put_looked_up(put, finished, now),
            Owner::Whisper(waiting) => self.whisper_looked_up(waiting, &finished, now),
            Owner::Request(key) => self.request_looked_up(key, &finished, now),
            Owner::Get(command) => {
                let found = finished.found.map(|f| Found {
                    value: f.value,
                    metadata: f.metadata,
                    from: f.from,
                    replicas: f.replicas,
                });
                self.out.push_event(Event::GetFinished {
                    id: command,
                    key: finished.value_key.unwrap_or_default(),
                    found,
                    stats: finished.stats,
                });
            }
        }
    }

    /// Asks `peer` for lookup `id`: over its connection if there is one,
    /// else over a transient connection to its first dialable address. A
    /// candidate learned from an answer has its key checked first.
    fn request_peer(&mut self, id: LookupId, peer: Address, now: Instant) {
        if let Some(conn) = self.pool.newest(&peer) {
            self.send_find_node(conn, id, peer, now);
            return;
        }
        let target = match self.routing.dial_info(&peer) {
            Some(target) => Some(target),
            None => self.checked_candidate(id, &peer),
        };
        let Some((addr, public)) = target else {
            self.peer_failed(id, peer, now);
            return;
        };
        self.request_at(id, peer, addr, public, now);
    }

    /// Asks `peer`, whose key is `public`, for lookup `id` over a transient
    /// connection to `addr`.
    fn request_at(
        &mut self,
        id: LookupId,
        peer: Address,
        addr: SocketAddr,
        public: PublicKey,
        now: Instant,
    ) {
        match self.connect(peer, addr, Role::Transient, now) {
            Reached::Connected(conn) => self.send_find_node(conn, id, peer, now),
            Reached::Underway => match self.pool.wait_for(peer) {
                Some(waiters) => {
                    waiters.lookups.insert(id);
                    waiters.public = Some(public);
                }
                None => {
                    self.out.stats.lookup_unreachable += 1;
                    self.peer_failed(id, peer, now);
                }
            },
            Reached::Unreachable => {
                self.out.stats.lookup_unreachable += 1;
                self.peer_failed(id, peer, now);
            }
        }
    }

    /// The first claimed address and the key of candidate `peer` of lookup
    /// `id` if its key is valid; an invalid one is counted and dropped.
    fn checked_candidate(
        &mut self,
        id: LookupId,
        peer: &Address,
    ) -> Option<(SocketAddr, PublicKey)> {
        let (key, addr) = self.lookups.take_candidate(id, peer)?;
        self.checked_key(&key).map(|public| (addr, public))
    }

    /// The validated key whose field is `key`; an invalid one is counted.
    fn checked_key(&mut self, key: &[u8]) -> Option<PublicKey> {
        match self.known_key(key) {
            Ok(public) => Some(public),
            Err(_) => {
                self.out.stats.invalid_nodes += 1;
                None
            }
        }
    }

    /// Lookup `id` gives up on `peer`.
    fn peer_failed(&mut self, id: LookupId, peer: Address, now: Instant) {
        self.lookups.on_failure(id, &peer, now);
        self.drive_lookup(id, now);
    }

    /// Sends lookup `id`'s `FIND_NODE` to `peer` on `conn`.
    fn send_find_node(&mut self, conn: ConnectionId, id: LookupId, peer: Address, now: Instant) {
        let Some(target) = self.lookups.target(id) else {
            return;
        };
        let request_id = self.requests.next_id();
        let opcode = match self.lookups.value_key(id) {
            Some(_) => Opcode::FindValue,
            None => Opcode::FindNode,
        };
        let pending = Pending {
            opcode,
            purpose: Purpose::FindNode { lookup: id, peer },
        };
        if !self.send_request(conn, request_id, pending, now) {
            self.peer_failed(id, peer, now);
            return;
        }
        let request = match self.lookups.value_key(id) {
            Some(key) => Payload::FindValue(FindValue {
                request_id,
                address: target.0,
                key,
            }),
            None => Payload::FindNode(FindNode {
                request_id,
                target: target.0,
            }),
        };
        self.send(conn, &request);
        if let Some(next) = self.lookups.on_sent(id, &peer, now) {
            self.timers.set_or_cancel(Timer::Lookup(id), next);
        }
    }

    /// A `FIND_NODE` to `peer` for lookup `id` lost its connection: ask
    /// again once, over a new connection, since the answer may simply not
    /// have made it (the peer closed an idle connection as the request
    /// crossed it). `false` if it was already asked twice.
    fn retry_find_node(&mut self, id: LookupId, peer: Address, now: Instant) -> bool {
        match self.lookups.may_retry(id, peer) {
            None => true,
            Some(false) => false,
            Some(true) => {
                self.out.stats.retries += 1;
                self.request_peer(id, peer, now);
                true
            }
        }
    }

    /// `peer` answered lookup `id` with `nodes`.
    fn on_nodes(&mut self, id: LookupId, peer: Address, nodes: Vec<NodeInfo>, now: Instant) {
        let Some(answered) = self.lookups.on_nodes(id, &peer, nodes, now) else {
            return;
        };
        self.out.stats.invalid_nodes += answered.invalid;
        if let Some((bucket, enough)) = answered.fill
            && self.routing.table().bucket_len(bucket) >= enough
        {
            if let Some(finished) = self.lookups.finish(id) {
                self.lookup_finished(id, finished, now);
            }
            return;
        }
        self.drive_lookup(id, now);
    }

    /// Starts `Command::Bootstrap`: dials the seeds (transient: they are
    /// only a way in).
    fn start_bootstrap(&mut self, id: CommandId, seeds: Vec<SocketAddr>, now: Instant) {
        let mut waiting = BTreeSet::new();
        for addr in seeds.into_iter().filter(dialable) {
            if self.pool.is_pending(&addr) {
                waiting.insert(addr);
            } else if self.pool.count(Role::Transient) < self.config.max_transient {
                self.pool.dial(addr, Role::Transient, None);
                self.dial(addr, now);
                waiting.insert(addr);
            }
        }
        self.bootstraps.start(id, waiting);
        self.start_ready_bootstraps(now);
    }

    /// A dial of `addr` connected or failed: bootstraps waiting for that
    /// seed move on.
    fn seed_done(&mut self, addr: SocketAddr, now: Instant) {
        if self.bootstraps.seed_done(addr) {
            self.start_ready_bootstraps(now);
        }
    }

    /// Starts the self-lookup of every bootstrap whose seeds all connected
    /// or failed.
    fn start_ready_bootstraps(&mut self, now: Instant) {
        for id in self.bootstraps.ready() {
            self.start_lookup(Owner::Bootstrap(id), self.local, now);
        }
    }

    /// A lookup of bootstrap `id` finished. After the self-lookup comes the
    /// Kademlia paper's join: refresh the buckets from the closest
    /// neighbour's out, here those still sparse.
    fn bootstrap_step(&mut self, id: CommandId, stats: LookupStats, now: Instant) {
        match self.bootstraps.on_lookup(id, stats) {
            Next::Wait => {}
            Next::Refresh => {
                let below = self.config.bootstrap_refresh_below;
                let buckets = self.routing.sparse_buckets(below);
                if let Next::Done(summary) = self.bootstraps.refreshing(id, buckets.len()) {
                    self.bootstrap_finished(id, summary, now);
                }
                for index in buckets {
                    self.refresh_bucket(index, Owner::Bootstrap(id), Some(below), now);
                }
            }
            Next::Done(summary) => self.bootstrap_finished(id, summary, now),
        }
    }

    fn bootstrap_finished(&mut self, id: CommandId, summary: Summary, now: Instant) {
        self.out.push_event(Event::BootstrapFinished {
            id,
            table_len: self.routing.table().len(),
            lookups: summary.lookups,
            stats: summary.stats,
        });
        self.start_upkeep(now, now);
    }

    // ----- Broadcast (docs/PROTOCOL.md §8.5, §9.7) -----

    /// A `SHOUT` on `conn` from the peer at `peer`: checked, verified once,
    /// delivered once and forwarded verbatim to every kept connection but
    /// its peer's.
    fn on_shout(&mut self, conn: ConnectionId, msg: &Message, peer: &Address, now: Instant) {
        if msg.signature.is_none() || msg.encrypted {
            self.out.stats.shouts_malformed += 1;
            let reason = "a SHOUT is signed by its origin and not encrypted";
            let nack = refusal::nack(Opcode::Shout, None, NackCode::Malformed, reason);
            self.refuse(conn, nack, now);
            return;
        }
        if !self.pool.is_kept(conn) {
            // The seed's bound counts kept connections only, and a peer
            // announces a kept connection before it floods on it (§9.7).
            self.out.stats.shouts_off_kept += 1;
            let reason = "SHOUT on a connection neither side keeps";
            let nack = refusal::nack(Opcode::Shout, None, NackCode::Malformed, reason);
            self.refuse(conn, nack, now);
            return;
        }
        let id = MessageId::of(&msg.from, SHOUT_BYTE, &msg.content);
        if self.flood.admit(&id) == Admit::Duplicate {
            self.out.stats.shout_duplicates += 1;
            return;
        }
        if !self.within_budget(conn, Class::Shout, now) {
            self.out.stats.rate_limited += 1;
            let reason = "over this connection's SHOUT budget";
            let nack = refusal::nack(Opcode::Shout, None, NackCode::RateLimited, reason);
            self.refuse(conn, nack, now);
            return;
        }
        let verified = self
            .known_key(&msg.from)
            .ok()
            .filter(|origin| verify_message(origin, msg).is_ok());
        let Some(origin) = verified else {
            // Every relay verifies before it forwards: the peer forged or
            // altered it.
            self.out.stats.shouts_forged += 1;
            let reason = "origin signature does not verify";
            let nack = refusal::nack(Opcode::Shout, None, NackCode::BadSignature, reason);
            self.refuse(conn, nack, now);
            return;
        };
        match self.flood.verified(id, origin.routing_address().0, now) {
            Verified::Duplicate => self.out.stats.shout_duplicates += 1,
            Verified::OverOriginBudget => self.out.stats.shouts_over_origin_budget += 1,
            Verified::Deliver => {
                self.arm_seen_expiry();
                let data = match msg.read(self.profile, &self.config.limits.value) {
                    Ok(Payload::Shout(shout)) => shout.data,
                    // A SHOUT's content reads as a SHOUT or not at all.
                    Ok(_) => return,
                    // Its id is remembered, so its copies are dropped
                    // unread; it goes no further.
                    Err(refused) => {
                        self.out.stats.shouts_malformed += 1;
                        if let Some(nack) = refusal::malformed(msg, &refused) {
                            self.refuse(conn, nack, now);
                        }
                        return;
                    }
                };
                let targets = Flood::forward_to(Some(peer), self.pool.kept_links());
                for &target in &targets {
                    if self.forward_message(target, msg.clone()) {
                        self.out.stats.shouts_sent += 1;
                    }
                }
                self.out.stats.shouts_delivered += 1;
                self.out.push_event(Event::Shout {
                    conn,
                    origin: msg.from.clone(),
                    message: id,
                    forwarded: targets.len(),
                    data,
                });
            }
        }
    }

    /// Starts [`Command::Shout`]: a signed `SHOUT` of `data` to every kept
    /// connection.
    fn shout(&mut self, id: CommandId, data: Value, now: Instant) {
        let payload = Payload::Shout(Broadcast {
            nonce: self.rng.next_u64(),
            data,
        });
        let signed = Message::from_payload(
            self.profile,
            self.key.clone(),
            self.broadcast_key(),
            &payload,
        )
        .map_err(|_| ())
        .and_then(|mut msg| {
            sign_message(&self.config.keypair, &mut self.rng, &mut msg).map_err(|_| ())?;
            Ok(msg)
        });
        let Ok(msg) = signed else {
            self.out.stats.encode_errors += 1;
            return;
        };
        let message = MessageId::of(&msg.from, SHOUT_BYTE, &msg.content);
        self.flood.originate(message, now);
        self.arm_seen_expiry();
        let targets = Flood::forward_to(None, self.pool.kept_links());
        let mut sent = 0;
        for &target in &targets {
            if self.send_message(target, msg.clone()) {
                sent += 1;
            }
        }
        self.out.stats.shouts_sent += sent as u64;
        if sent == 0 && !targets.is_empty() {
            let error = CommandError::Overloaded;
            self.out.push_event(Event::CommandFailed { id, error });
            return;
        }
        self.out.push_event(Event::Shouted { id, message, sent });
    }

    /// Starts [`Command::Speak`]: a `SPEAK` of `data`, to the broadcast
    /// key, on one connection to every direct peer.
    fn speak(&mut self, id: CommandId, data: Value) {
        let payload = Payload::Speak(Broadcast {
            nonce: self.rng.next_u64(),
            data,
        });
        let Ok(msg) = Message::from_payload(
            self.profile,
            self.key.clone(),
            self.broadcast_key(),
            &payload,
        ) else {
            self.out.stats.encode_errors += 1;
            return;
        };
        let peers = self.pool.direct_peers();
        let mut sent = 0;
        for conn in &peers {
            if self.send_message(*conn, msg.clone()) {
                sent += 1;
            }
        }
        if sent == 0 && !peers.is_empty() {
            let error = CommandError::Overloaded;
            self.out.push_event(Event::CommandFailed { id, error });
            return;
        }
        self.out.push_event(Event::Spoken { id, sent });
    }

    /// The all-zero key field `SHOUT` and `SPEAK` are addressed to.
    fn broadcast_key(&self) -> Bytes {
        Bytes::from(vec![0; self.profile.key_len()])
    }

    /// The peer of `conn` says whether it keeps the connection (option 2 of
    /// `SET_CONNECTION_OPT`, §9.7).
    fn on_kept_option(&mut self, conn: ConnectionId, opt: SetConnectionOpt, now: Instant) {
        let accepted = opt.setting <= 1;
        if accepted {
            self.pool.set_kept_by_peer(conn, opt.setting == 1);
        }
        self.answer_option(conn, &opt, accepted, "kept is 0 or 1", now);
    }

    /// Answers `SET_CONNECTION_OPT` `opt` on `conn`: `ACK`, or a refusal.
    fn answer_option(
        &mut self,
        conn: ConnectionId,
        opt: &SetConnectionOpt,
        accepted: bool,
        reason: &str,
        now: Instant,
    ) {
        match refusal::option_answer(opt, accepted, reason) {
            Ok(ack) => self.send(conn, &Payload::Ack(ack)),
            Err(nack) => self.refuse(conn, nack, now),
        }
    }

    /// Tells the peer of `conn` that this node keeps the connection.
    fn announce_kept(&mut self, conn: ConnectionId, now: Instant) {
        let request_id = self.requests.next_id();
        let pending = Pending {
            opcode: Opcode::SetConnectionOpt,
            purpose: Purpose::Announcement,
        };
        if !self.send_request(conn, request_id, pending, now) {
            return;
        }
        let opt = SetConnectionOpt {
            request_id,
            option: SetConnectionOpt::KEPT,
            setting: 1,
        };
        self.send(conn, &Payload::SetConnectionOpt(opt));
        if self.config.listen.is_empty() && self.own_relays.wants_more() {
            self.ask_relay(conn, now);
        }
    }

    /// §9.3: tells the peer of `conn` the method this node will send
    /// with, if any; it is used once the peer acknowledges it.
    fn negotiate_compression(&mut self, conn: ConnectionId, peer: &Peer, now: Instant) {
        let method = peer.send_method(self.config.preferred);
        if method == shoutnet_wire::Method::None {
            return;
        }
        let request_id = self.requests.next_id();
        let pending = Pending {
            opcode: Opcode::SetConnectionOpt,
            purpose: Purpose::Compression { method },
        };
        if !self.send_request(conn, request_id, pending, now) {
            return;
        }
        let opt = SetConnectionOpt {
            request_id,
            option: SetConnectionOpt::COMPRESSION,
            setting: u64::from(method.id()),
        };
        self.send(conn, &Payload::SetConnectionOpt(opt));
    }

    // ----- Relays (§9.10) -----

    /// This node listens nowhere: it asks the peer of kept connection
    /// `conn` to relay whispers to it.
    fn ask_relay(&mut self, conn: ConnectionId, now: Instant) {
        let listens = self
            .pool
            .get(conn)
            .and_then(|c| c.peer.as_ref())
            .is_some_and(|p| !p.listen.is_empty());
        if !listens {
            return;
        }
        let request_id = self.requests.next_id();
        let pending = Pending {
            opcode: Opcode::SetConnectionOpt,
            purpose: Purpose::RelayRequest,
        };
        if !self.send_request(conn, request_id, pending, now) {
            return;
        }
        self.own_relays.asking(conn);
        let opt = SetConnectionOpt {
            request_id,
            option: SetConnectionOpt::RELAY,
            setting: 1,
        };
        self.send(conn, &Payload::SetConnectionOpt(opt));
    }

    /// The peer of `conn` relays for this node: the record naming its
    /// relays is published again.
    fn relay_accepted(&mut self, conn: ConnectionId, now: Instant) {
        let Some(peer) = self.pool.get(conn).and_then(|c| c.peer.as_ref()) else {
            return;
        };
        let relay = Relay {
            key: Bytes::copy_from_slice(peer.public.key_field()),
            listen: peer.listen.clone(),
        };
        self.own_relays.accepted(conn, relay);
        self.publish_relays(now);
    }

    /// Publishes the DHT record under this node's own key naming its
    /// relays (§9.10), a new version each time they change.
    fn publish_relays(&mut self, now: Instant) {
        let key = self.key.clone();
        let record = self.own_relays.record();
        if let Ok(publication) = self.records.publish(key, &record, None, None, now) {
            let put = self.puts.start(None, publication);
            self.arm_republish();
            self.start_put_lookup(put, now);
        }
    }

    /// The peer of `conn` asks this node to relay for it (setting 1) or
    /// to stop (0). Only a listening node relays, for a bounded number of
    /// peers, each over the connection it asked on.
    fn on_relay_option(
        &mut self,
        conn: ConnectionId,
        opt: SetConnectionOpt,
        peer: &Address,
        now: Instant,
    ) {
        let accepted = match opt.setting {
            0 => {
                self.relaying.remove(peer);
                true
            }
            1 => !self.config.listen.is_empty() && self.relaying.add(*peer, conn, now),
            _ => false,
        };
        let reason = "this node does not relay for more peers";
        self.answer_option(conn, &opt, accepted, reason, now);
    }

    /// Arms the seen-cache's expiry timer at its oldest id's deadline.
    fn arm_seen_expiry(&mut self) {
        let next = self.flood.next_expiry();
        self.timers.set_or_cancel(Timer::SeenExpiry, next);
    }

    // ----- DHT (§8.7, §9.8) -----

    /// Answers a `FIND_VALUE`: the value if this node holds it, else the
    /// closest nodes it knows, like `FIND_NODE`.
    fn serve_find_value(
        &mut self,
        conn: ConnectionId,
        find: FindValue,
        peer_address: &Address,
        now: Instant,
    ) {
        match self.records.find(&find.address, &find.key, now) {
            Err(()) => {
                let reason = "address is not SHA-256 of the key";
                let nack = refusal::nack(
                    Opcode::FindValue,
                    Some(find.request_id),
                    NackCode::Malformed,
                    reason,
                );
                self.refuse(conn, nack, now);
            }
            Ok(Some((value, metadata))) => {
                let result = AckResult::Value {
                    key: find.key,
                    value,
                    metadata,
                };
                let request_id = find.request_id;
                self.send(conn, &Payload::Ack(Ack { request_id, result }));
            }
            Ok(None) => {
                let answer =
                    self.routing
                        .answer(find.request_id, &find.address, peer_address, true);
                self.send(conn, &answer);
            }
        }
    }

    /// Answers a `STORE` from the peer of `conn`, charged to its key.
    fn serve_store(&mut self, conn: ConnectionId, store: &Store, now: Instant) {
        let Some(from) = self
            .pool
            .get(conn)
            .and_then(|c| c.peer.as_ref())
            .map(|p| p.public.key_field())
        else {
            return;
        };
        match self.records.store(from, store, now) {
            StoreAnswer::Stored(metadata) => {
                self.out.stats.records_stored += 1;
                let result = AckResult::Stored {
                    key: store.key.clone(),
                    metadata,
                };
                let request_id = store.request_id;
                self.send(conn, &Payload::Ack(Ack { request_id, result }));
                let next = self.records.next_expiry();
                self.timers.set_or_cancel(Timer::RecordExpiry, next);
            }
            StoreAnswer::Refused {
                code,
                reason,
                current,
            } => {
                self.out.stats.stores_refused += 1;
                let mut nack = refusal::nack(Opcode::Store, Some(store.request_id), code, reason);
                nack.detail = current.map(|m| m.to_value());
                self.refuse(conn, nack, now);
            }
        }
    }

    /// Starts `Command::Put`: records the publication, then looks up the
    /// record replicas (the r closest nodes) to store it on.
    fn put(
        &mut self,
        id: CommandId,
        key: Bytes,
        value: &Value,
        version: Option<u64>,
        ttl: Option<u64>,
        now: Instant,
    ) {
        match self.records.publish(key, value, version, ttl, now) {
            Ok(publication) => {
                let put = self.puts.start(Some(id), publication);
                self.arm_republish();
                self.start_put_lookup(put, now);
            }
            Err(error) => self.out.push_event(Event::CommandFailed { id, error }),
        }
    }

    fn start_put_lookup(&mut self, put: PutId, now: Instant) {
        let Some(address) = self.puts.publication(put).map(|p| Address(*p.address())) else {
            return;
        };
        // The lookup ends once the record's replicas are known, not the k
        // closest: a put pays for the copies it makes.
        let seeds = self
            .routing
            .closest(&address, self.config.kad.bucket_size());
        let mut config = self.config.kad.clone();
        config.set_k(self.replicas_at(&address));
        self.launch_lookup(Owner::Put(put), address, seeds, &config, None, now);
    }

    /// How many nodes a record at `address` is stored on: r, but k for
    /// the record at this node's own address — the one naming its relays
    /// (§9.10), which the last hop of a recursive whisper, one of the k
    /// closest to the node, must hold. With r copies only, 1 to 2 whispers
    /// in 200 to dial-out-only nodes failed at n = 10,000.
    fn replicas_at(&self, address: &Address) -> usize {
        if *address == self.local {
            self.config.kad.bucket_size()
        } else {
            self.config.record_replicas()
        }
    }

    /// Republishes every publication due.
    fn republish(&mut self, now: Instant) {
        for publication in self.records.due(now) {
            let put = self.puts.start(None, publication);
            self.start_put_lookup(put, now);
        }
        self.arm_republish();
    }

    fn arm_republish(&mut self) {
        let next = self.records.next_due();
        self.timers.set_or_cancel(Timer::Republish, next);
    }

    /// Put `put`'s lookup found `finished.closest`: this node keeps a copy
    /// if it is among the r closest, and sends `STORE` to the others.
    fn put_looked_up(&mut self, put: PutId, finished: Finished, now: Instant) {
        let Some(publication) = self.puts.publication(put).cloned() else {
            return;
        };
        let target = finished.target;
        let k = self.replicas_at(&target);
        let ours = target.distance(&self.local);
        let here = finished.closest.len() < k
            || finished
                .closest
                .last()
                .is_some_and(|far| ours < target.distance(far));
        if here {
            let local_key = self.key.clone();
            self.records.keep_own(&local_key, &publication, now);
            let next = self.records.next_expiry();
            self.timers.set_or_cancel(Timer::RecordExpiry, next);
        }
        self.puts.looked_up(put, finished.stats, here);
        let mut closest = finished.closest;
        closest.truncate(k.saturating_sub(usize::from(here)));
        // Every STORE counts as outstanding before any is sent: one that
        // fails at once must not end the put while others are on their way.
        for _ in &closest {
            self.puts.sent(put);
        }
        for peer in closest {
            let request_id = self.requests.next_id();
            let payload = Payload::Store(Store {
                request_id,
                address: *publication.address(),
                key: publication.key().clone(),
                value: Value::decode(publication.value(), &self.config.limits.value)
                    .unwrap_or(Value::Nil),
                version: Some(publication.version()),
                ttl: Some(publication.ttl()),
            });
            let purpose = Some(Purpose::Store { put });
            let queued = Queued::Request { payload, purpose };
            match finished.addresses.get(&peer) {
                Some(addr) => self.send_at(peer, *addr, queued, now),
                None => self.request_to(peer, queued, now),
            }
        }
        if let Some(done) = self.puts.finish_if_settled(put) {
            self.put_done(done);
        }
    }

    fn store_settled(&mut self, put: PutId, outcome: StoreOutcome) {
        if let Some(done) = self.puts.settled(put, outcome) {
            self.put_done(done);
        }
    }

    fn put_done(&mut self, done: crate::puts::Done) {
        if let Some(id) = done.command {
            self.out.push_event(Event::PutFinished {
                id,
                report: done.report,
            });
        }
    }

    /// Starts `Command::Get`: the local store first, else a `FIND_VALUE`
    /// lookup.
    fn get(&mut self, id: CommandId, key: Bytes, now: Instant) {
        let max = self.config.store.max_key();
        if key.len() > max {
            let error = CommandError::KeyTooLarge {
                len: key.len(),
                max,
            };
            self.out.push_event(Event::CommandFailed { id, error });
            return;
        }
        let address = Address(shoutnet_dht::address_of(&key));
        if let Ok(Some((value, metadata))) = self.records.find(&address.0, &key, now) {
            let found = Found {
                value,
                metadata,
                from: self.local,
                replicas: 1,
            };
            self.out.push_event(Event::GetFinished {
                id,
                key,
                found: Some(found),
                stats: LookupStats::default(),
            });
            return;
        }
        self.start_lookup_of(Owner::Get(id), address, Some(key), now);
    }

    /// `peer` answered `FIND_VALUE` lookup `id` with a value: kept if it is
    /// for the key asked, else the answer counts as a failure of the peer.
    fn on_value(
        &mut self,
        id: LookupId,
        peer: Address,
        key: Bytes,
        value: Value,
        metadata: Metadata,
        now: Instant,
    ) {
        if self.lookups.value_key(id).as_ref() != Some(&key) {
            self.out.stats.malformed_replies += 1;
            self.peer_failed(id, peer, now);
            return;
        }
        if self.lookups.on_value(id, peer, value, metadata, now) {
            self.drive_lookup(id, now);
        }
    }

    // ----- CUSTOM (§8.8) -----

    /// A `CUSTOM` from the peer: to the application if a handler has its
    /// name, else `NACK NOT_FOUND` (or dropped, without a request id).
    fn on_custom(
        &mut self,
        conn: ConnectionId,
        custom: Custom,
        peer_address: &Address,
        now: Instant,
    ) {
        match self
            .customs
            .arrive(&custom.name, conn, custom.request_id, now)
        {
            Arrival::Deliver(reply) => {
                self.out.stats.customs_delivered += 1;
                self.out.push_event(Event::Custom {
                    conn,
                    peer: *peer_address,
                    name: custom.name,
                    data: custom.data,
                    reply,
                });
                let next = self.customs.next_deadline();
                self.timers.set_or_cancel(Timer::CustomReply, next);
            }
            Arrival::Unknown => {
                self.out.stats.customs_unknown += 1;
                if custom.request_id.is_some() {
                    let reason = format!("no handler named {:?}", custom.name);
                    let nack = refusal::nack(
                        Opcode::Custom,
                        custom.request_id,
                        NackCode::NotFound,
                        &reason,
                    );
                    self.refuse(conn, nack, now);
                }
            }
            Arrival::Full => {
                self.out.stats.rate_limited += 1;
                let reason = "too many CUSTOM requests wait for answers";
                let nack = refusal::nack(
                    Opcode::Custom,
                    custom.request_id,
                    NackCode::RateLimited,
                    reason,
                );
                self.refuse(conn, nack, now);
            }
        }
    }

    /// Starts `Command::Custom`.
    fn custom(
        &mut self,
        id: CommandId,
        peer: Address,
        name: String,
        data: Value,
        reply: bool,
        now: Instant,
    ) {
        if !Customs::valid_name(&name) {
            let error = CommandError::BadName { len: name.len() };
            self.out.push_event(Event::CommandFailed { id, error });
            return;
        }
        let request_id = reply.then(|| self.requests.next_id());
        let payload = Payload::Custom(Custom {
            request_id,
            name,
            data,
        });
        let purpose = reply.then_some(Purpose::Custom { command: id });
        self.request_to_anyone(peer, Queued::Request { payload, purpose }, now);
    }

    /// Answers the `CUSTOM` request `reply` for `Command::ReplyCustom`.
    fn reply_custom(
        &mut self,
        id: CommandId,
        reply: ReplyHandle,
        answer: Result<Value, CustomRefusal>,
    ) {
        let Some(waiting) = self.customs.answer(reply) else {
            let error = CommandError::UnknownReply;
            self.out.push_event(Event::CommandFailed { id, error });
            return;
        };
        let next = self.customs.next_deadline();
        self.timers.set_or_cancel(Timer::CustomReply, next);
        let request_id = waiting.request_id;
        let payload = match answer {
            Ok(data) => Payload::Ack(Ack {
                request_id,
                result: AckResult::Custom { data },
            }),
            Err(refusal) => {
                let (code, reason) = match refusal {
                    CustomRefusal::Malformed => (NackCode::Malformed, "refused by the handler"),
                    CustomRefusal::RateLimited => (NackCode::RateLimited, "handler rate limit"),
                    _ => (NackCode::Internal, "the handler failed"),
                };
                Payload::Nack(refusal::nack(
                    Opcode::Custom,
                    Some(request_id),
                    code,
                    reason,
                ))
            }
        };
        self.send(waiting.conn, &payload);
    }

    // ----- WHISPER (§8.6, §9.9) -----

    /// Starts `Command::Whisper`.
    fn whisper(
        &mut self,
        id: CommandId,
        to: Bytes,
        data: Value,
        encrypt: Option<bool>,
        route: WhisperRoute,
        now: Instant,
    ) {
        let fail = |engine: &mut Self, error| {
            engine.out.push_event(Event::WhisperFinished {
                id,
                result: Err(error),
            });
        };
        let Ok(public) = self.known_key(&to) else {
            return fail(self, WhisperError::InvalidKey);
        };
        let dest = public.routing_address();
        if dest == self.local {
            return fail(self, WhisperError::ToSelf);
        }
        if !self.whispers.has_room() {
            return fail(self, WhisperError::TooMany);
        }
        let connected = self.pool.newest(&dest);
        let auto = route == WhisperRoute::Auto;
        let route = match route {
            WhisperRoute::Auto if connected.is_some() => WhisperRoute::Direct,
            WhisperRoute::Auto if self.routing.dial_info(&dest).is_some() => {
                WhisperRoute::Iterative
            }
            WhisperRoute::Auto if self.next_hop(&dest).is_some() => WhisperRoute::Recursive,
            WhisperRoute::Auto => WhisperRoute::Iterative,
            route => route,
        };
        let recursive = route == WhisperRoute::Recursive;
        let encrypt = recursive || encrypt.unwrap_or(self.config.encrypt_whispers);
        let request_id = self.requests.next_id();
        let payload = Payload::Whisper(Whisper { request_id, data });
        let Ok(mut message) = Message::from_payload(self.profile, self.key.clone(), to, &payload)
        else {
            return fail(self, WhisperError::Unencodable);
        };
        let will_sign = route != WhisperRoute::Direct;
        if encrypt && encrypt_message(&public, &mut self.rng, &mut message, will_sign).is_err() {
            return fail(self, WhisperError::Unencodable);
        }
        // Anything but a direct whisper may pass through a relay (§9.9,
        // §9.10), which forwards only what its origin signed.
        if will_sign && sign_message(&self.config.keypair, &mut self.rng, &mut message).is_err() {
            return fail(self, WhisperError::Unencodable);
        }
        let digest = digest_of(&message);
        self.out.stats.whispers_sent += 1;
        let hop = if recursive {
            self.next_hop(&dest)
        } else {
            None
        };
        if route == WhisperRoute::Direct && connected.is_none() {
            return fail(self, WhisperError::Undeliverable);
        }
        // Iterative, or recursive from a node that knows none closer to the
        // destination than itself (it may listen nowhere, and only the
        // record naming its relays can tell), with no address for it: a
        // lookup first.
        let lookup_first =
            hop.is_none() && connected.is_none() && self.routing.dial_info(&dest).is_none();
        self.whispers.sent(id, route, request_id, digest, now);
        if auto && !lookup_first {
            self.whispers.keep_fallback(&digest, message.clone());
        }
        let queued = |message| Queued::Whisper { message, digest };
        match (hop, connected) {
            (Some(hop), _) => {
                self.whispers.try_hop(&self.local, &digest, hop);
                self.request_to(hop, queued(message), now);
            }
            (None, Some(conn)) => self.send_queued(conn, queued(message), now),
            (None, None) if lookup_first => {
                self.look_up_then_whisper(Prepared { message, digest }, now);
            }
            (None, None) => self.request_to(dest, queued(message), now),
        }
        self.arm_whisper_timer();
    }

    /// A FIND_VALUE of the destination's key, then the whisper: the lookup
    /// finds the destination, or the record naming its relays (§9.10).
    fn look_up_then_whisper(&mut self, prepared: Prepared, now: Instant) {
        let key = prepared.message.to.clone();
        let dest = Address::of_key_field(&key);
        let waiting = self.whispers.prepare(prepared);
        self.start_lookup_of(Owner::Whisper(waiting), dest, Some(key), now);
    }

    /// The lookup of a waiting whisper's destination ended: send it if the
    /// destination answered, else it is undeliverable.
    fn whisper_looked_up(&mut self, waiting: u64, finished: &Finished, now: Instant) {
        let Some(prepared) = self.whispers.take_prepared(waiting) else {
            return;
        };
        let Prepared { message, digest } = prepared;
        if finished.closest.first() == Some(&finished.target) {
            let (target, queued) = (finished.target, Queued::Whisper { message, digest });
            match finished.addresses.get(&target) {
                Some(addr) => self.send_at(target, *addr, queued, now),
                None => self.request_to(target, queued, now),
            }
            return;
        }
        let relays = finished
            .found
            .as_ref()
            .map(|f| parse_record(&f.value, self.config.local_network))
            .unwrap_or_default();
        match relays.into_iter().next() {
            Some(relay) => self.send_via_relay(relay, Queued::Whisper { message, digest }, now),
            None => self.whisper_resolved(&digest, Err(NackCode::Undeliverable), now),
        }
    }

    /// Sends `queued` (a whisper) to `relay`, over a connection to its
    /// first address if there is none.
    fn send_via_relay(&mut self, relay: Relay, queued: Queued, now: Instant) {
        let peer = Address::of_key_field(&relay.key);
        match relay.listen.first() {
            Some(addr) => self.send_at(peer, *addr, queued, now),
            None => self.queued_failed(queued, now),
        }
    }

    /// The common prefix length, in bits, of `a` and `b`.
    fn common_prefix(a: &Address, b: &Address) -> u32 {
        let distance = a.distance(b).0;
        let mut bits = 0;
        for byte in distance {
            bits += byte.leading_zeros();
            if byte != 0 {
                break;
            }
        }
        bits
    }

    /// Where a whisper to `dest` goes next from this node: `dest` itself if
    /// connected, else the known node closest to it among those sharing a
    /// longer prefix with it than this node does (so every hop adds at
    /// least one bit, and a whisper takes at most 256 hops).
    fn next_hop(&self, dest: &Address) -> Option<Address> {
        self.next_hop_but(dest, &[])
    }

    /// [`next_hop`](Self::next_hop), leaving out the hops in `tried`.
    fn next_hop_but(&self, dest: &Address, tried: &[Address]) -> Option<Address> {
        if self.pool.newest(dest).is_some() && !tried.contains(dest) {
            return Some(*dest);
        }
        let own = Self::common_prefix(&self.local, dest);
        let k = self.config.kad.bucket_size();
        self.routing
            .closest(dest, k)
            .into_iter()
            .find(|a| Self::common_prefix(a, dest) > own && !tried.contains(a))
    }

    /// A `WHISPER` arrived on `conn` from the peer `peer_key`: for this
    /// node, or to relay.
    fn on_whisper(
        &mut self,
        conn: ConnectionId,
        msg: &Message,
        peer_key: &[u8],
        peer_address: Address,
        now: Instant,
    ) {
        let digest = digest_of(msg);
        if !self.within_budget(conn, Class::Whisper, now) {
            self.out.stats.rate_limited += 1;
            let reason = "over this connection's WHISPER budget";
            let nack = refusal::whisper_nack(NackCode::RateLimited, reason, &digest);
            self.refuse(conn, nack, now);
            return;
        }
        let routed = msg.from != peer_key;
        let relay = msg.to != self.key;
        // A whisper through other nodes must be encrypted and signed by its
        // origin (§8.6, §9.2); a direct one may be signed. Refusals of a
        // routed one name it by digest, signed, for its origin (§9.9).
        let refusal = if (routed || relay) && !msg.encrypted {
            Some((
                NackCode::Malformed,
                "a WHISPER through other nodes must be encrypted",
            ))
        } else if (routed || relay || msg.signature.is_some())
            && !self
                .known_key(&msg.from)
                .is_ok_and(|origin| verify_message(&origin, msg).is_ok())
        {
            self.out.stats.bad_signatures += 1;
            Some((NackCode::BadSignature, "not signed by its origin"))
        } else {
            None
        };
        if let Some((code, reason)) = refusal {
            if routed || relay {
                self.nack_back(conn, msg.from.clone(), digest, code, reason);
            } else {
                let nack = refusal::whisper_nack(code, reason, &digest);
                self.refuse(conn, nack, now);
            }
            return;
        }
        if relay {
            self.relay_whisper(conn, msg, digest, peer_address, now);
        } else {
            self.deliver_whisper(conn, msg, digest, routed, now);
        }
    }

    /// A whisper for this node: delivered, and answered with its digest.
    fn deliver_whisper(
        &mut self,
        conn: ConnectionId,
        msg: &Message,
        digest: Digest,
        routed: bool,
        now: Instant,
    ) {
        let opened;
        let plain = if msg.encrypted {
            match self.decrypt(msg, now) {
                Ok(plain) => {
                    opened = plain;
                    &opened
                }
                Err(code) => {
                    let nack = refusal::whisper_nack(code, "does not decrypt", &digest);
                    self.refuse(conn, nack, now);
                    return;
                }
            }
        } else {
            msg
        };
        let whisper = match plain.read(self.profile, &self.config.limits.value) {
            Ok(Payload::Whisper(w)) => w,
            Ok(_) => return,
            Err(refused) => {
                if let Some(nack) = refusal::malformed(plain, &refused) {
                    self.refuse(conn, nack, now);
                }
                return;
            }
        };
        if self.whispers.first_delivery(&msg.from, &digest, now) {
            self.out.stats.whispers_delivered += 1;
            self.out.push_event(Event::Whisper {
                conn,
                from: msg.from.clone(),
                data: whisper.data,
                encrypted: msg.encrypted,
                routed,
            });
        } else {
            self.out.stats.whispers_repeated += 1;
        }
        let ack = Payload::Ack(Ack {
            request_id: whisper.request_id,
            result: AckResult::Whisper { digest },
        });
        if routed {
            self.send_signed(conn, msg.from.clone(), &ack);
        } else {
            self.send(conn, &ack);
        }
    }

    /// A whisper for another node, which came from `peer`: forwarded to a
    /// node sharing a longer prefix with its destination, its return route
    /// kept; or refused back to its origin.
    fn relay_whisper(
        &mut self,
        conn: ConnectionId,
        msg: &Message,
        digest: Digest,
        peer: Address,
        now: Instant,
    ) {
        let dest = Address::of_key_field(&msg.to);
        let origin = Address::of_key_field(&msg.from);
        // A node this node relays for gets it directly, whoever sent it:
        // the last hop, so no prefix need grow (§9.10).
        if let Some(route) = self.relaying.route(&dest, now) {
            let added = self
                .whispers
                .add_route(&msg.from, digest, conn, now)
                .is_ok();
            match route {
                Ok(relayed) if added => {
                    self.out.stats.whispers_relayed += 1;
                    let message = msg.clone();
                    self.send_queued(relayed, Queued::Whisper { message, digest }, now);
                    self.arm_whisper_timer();
                }
                _ => {
                    self.out.stats.rate_limited += 1;
                    let reason = "over the relay budget of its destination";
                    if added {
                        self.whispers.take_route(&origin, &digest);
                    }
                    self.nack_back(
                        conn,
                        msg.from.clone(),
                        digest,
                        NackCode::RateLimited,
                        reason,
                    );
                }
            }
            return;
        }
        let own = Self::common_prefix(&self.local, &dest);
        let refusal = if own <= Self::common_prefix(&peer, &dest) {
            self.out.stats.whispers_undeliverable += 1;
            Some((
                NackCode::Undeliverable,
                "this node is no closer to the destination",
            ))
        } else if self
            .whispers
            .add_route(&msg.from, digest, conn, now)
            .is_err()
        {
            self.out.stats.rate_limited += 1;
            Some((
                NackCode::RateLimited,
                "too many whispers in flight through this node",
            ))
        } else {
            None
        };
        if let Some((code, reason)) = refusal {
            self.nack_back(conn, msg.from.clone(), digest, code, reason);
            return;
        }
        let Some(hop) = self.next_hop(&dest) else {
            // No closer node: the destination may listen nowhere, and this
            // node, among the closest to its address, hold its relays.
            let relay = match self.records.find(&dest.0, &msg.to, now) {
                Ok(Some((value, _))) => parse_record(&value, self.config.local_network)
                    .into_iter()
                    .next(),
                _ => None,
            };
            match relay {
                Some(relay) => {
                    self.out.stats.whispers_relayed += 1;
                    let queued = Queued::Whisper {
                        message: msg.clone(),
                        digest,
                    };
                    self.send_via_relay(relay, queued, now);
                }
                None => self.whisper_failed(
                    &msg.from,
                    &digest,
                    "no node closer to the destination",
                    now,
                ),
            }
            return;
        };
        self.out.stats.whispers_relayed += 1;
        self.whispers.try_hop(&origin, &digest, hop);
        let message = msg.clone();
        self.request_to(hop, Queued::Whisper { message, digest }, now);
        self.arm_whisper_timer();
    }

    /// The next hop of a whisper could not be reached: a sealed one tries
    /// the next closest hop, up to `MAX_HOP_TRIES` in all, before it
    /// fails.
    fn next_hop_failed(&mut self, message: Message, digest: Digest, now: Instant) {
        let sealed = message.encrypted && message.signature.is_some();
        let origin = Address::of_key_field(&message.from);
        let dest = Address::of_key_field(&message.to);
        let next = self
            .whispers
            .tried(&origin, &digest)
            .filter(|tried| sealed && !tried.is_empty())
            .and_then(|tried| self.next_hop_but(&dest, tried));
        if let Some(hop) = next
            && self.whispers.try_hop(&origin, &digest, hop)
        {
            self.request_to(hop, Queued::Whisper { message, digest }, now);
            return;
        }
        let reason = "the next hop could not be reached";
        self.whisper_failed(&message.from, &digest, reason, now);
    }

    /// The whisper from `origin` with `digest` cannot go on: this node's
    /// own fails, a relayed one is refused back along its route.
    fn whisper_failed(&mut self, origin: &Bytes, digest: &Digest, reason: &str, now: Instant) {
        if *origin == self.key {
            self.whisper_resolved(digest, Err(NackCode::Undeliverable), now);
            return;
        }
        self.out.stats.whispers_undeliverable += 1;
        if let Some(back) = self
            .whispers
            .take_route(&Address::of_key_field(origin), digest)
        {
            self.nack_back(
                back,
                origin.clone(),
                *digest,
                NackCode::Undeliverable,
                reason,
            );
        }
    }

    /// Sends `NACK WHISPER code` with the whisper's digest as detail to its
    /// origin, signed, on `conn`.
    fn nack_back(
        &mut self,
        conn: ConnectionId,
        origin: Bytes,
        digest: Digest,
        code: NackCode,
        reason: &str,
    ) {
        let nack = refusal::whisper_nack(code, reason, &digest);
        self.send_signed(conn, origin, &Payload::Nack(nack));
    }

    /// Sends `payload` to `to` (not the peer's key) on `conn`, signed.
    fn send_signed(&mut self, conn: ConnectionId, to: Bytes, payload: &Payload) {
        let Ok(mut msg) = Message::from_payload(self.profile, self.key.clone(), to, payload) else {
            self.out.stats.encode_errors += 1;
            return;
        };
        if sign_message(&self.config.keypair, &mut self.rng, &mut msg).is_err() {
            self.out.stats.encode_errors += 1;
            return;
        }
        self.send_message(conn, msg);
    }

    /// A signed `ACK`/`NACK` from another node than the peer: the answer
    /// to a routed whisper, for this node or to send back along its route.
    fn on_routed_reply(&mut self, msg: &Message, now: Instant) {
        let valid = self
            .known_key(&msg.from)
            .is_ok_and(|from| verify_message(&from, msg).is_ok());
        if !valid || msg.encrypted {
            self.out.stats.bad_signatures += u64::from(!valid);
            self.out.stats.malformed_replies += u64::from(valid);
            return;
        }
        let outcome = match msg.read(self.profile, &self.config.limits.value) {
            Ok(Payload::Ack(Ack {
                result: AckResult::Whisper { digest },
                ..
            })) => Some((digest, Ok(()))),
            Ok(Payload::Nack(nack)) if nack.acked == Opcode::Whisper => {
                whisper_digest(&nack).map(|d| (d, Err(nack.code)))
            }
            _ => None,
        };
        let Some((digest, outcome)) = outcome else {
            self.out.stats.unsolicited += 1;
            return;
        };
        if msg.to == self.key {
            self.whisper_resolved(&digest, outcome, now);
            return;
        }
        match self
            .whispers
            .take_route(&Address::of_key_field(&msg.to), &digest)
        {
            Some(back) => {
                self.forward_message(back, msg.clone());
            }
            None => self.out.stats.unsolicited += 1,
        }
    }

    /// This node's whisper with `digest` got its answer.
    fn whisper_resolved(&mut self, digest: &Digest, outcome: Result<(), NackCode>, now: Instant) {
        // A route the node chose by itself failed: a lookup of the
        // destination tries once more, with the same message (§9.9).
        if outcome == Err(NackCode::Undeliverable)
            && let Some(message) = self.whispers.fall_back(digest)
        {
            self.out.stats.whisper_fallbacks += 1;
            let digest = *digest;
            self.look_up_then_whisper(Prepared { message, digest }, now);
            return;
        }
        let Some(sent) = self.whispers.resolve(digest) else {
            self.out.stats.unsolicited += 1;
            return;
        };
        let result = match outcome {
            Ok(()) => Ok(Delivered {
                route: sent.route,
                digest: *digest,
            }),
            Err(NackCode::Undeliverable) => Err(WhisperError::Undeliverable),
            Err(code) => Err(WhisperError::Refused(code)),
        };
        self.out.push_event(Event::WhisperFinished {
            id: sent.command,
            result,
        });
        self.arm_whisper_timer();
    }

    fn arm_whisper_timer(&mut self) {
        let next = self.whispers.next_deadline();
        self.timers.set_or_cancel(Timer::Whisper, next);
    }

    // ----- Requests for commands -----

    /// Sends `queued` to `peer`: over its connection, or a transient one
    /// to the address the routing table has for it once it is up. A peer
    /// with neither fails the request as unreachable.
    fn request_to(&mut self, peer: Address, queued: Queued, now: Instant) {
        if let Some(conn) = self.pool.newest(&peer) {
            self.send_queued(conn, queued, now);
            return;
        }
        match self.routing.dial_info(&peer) {
            Some((addr, _)) => self.send_at(peer, addr, queued, now),
            None => self.queued_failed(queued, now),
        }
    }

    /// [`request_to`](Self::request_to), but a `peer` this node has
    /// neither a connection to nor an address for is looked up first: any
    /// node of the network can be asked.
    fn request_to_anyone(&mut self, peer: Address, queued: Queued, now: Instant) {
        if self.pool.newest(&peer).is_some() || self.routing.dial_info(&peer).is_some() {
            self.request_to(peer, queued, now);
            return;
        }
        if self.requests.may_wait_for_lookup() {
            let key = self.requests.wait_for_lookup(queued);
            self.start_lookup_of(Owner::Request(key), peer, None, now);
        } else {
            self.queued_failed(queued, now);
        }
    }

    /// The lookup of a request's peer ended: the request goes to the
    /// address the peer answered from, or fails as unreachable.
    fn request_looked_up(&mut self, key: u64, finished: &Finished, now: Instant) {
        let Some(queued) = self.requests.looked_up(key) else {
            return;
        };
        let peer = finished.target;
        match finished.addresses.get(&peer) {
            Some(addr) if finished.closest.first() == Some(&peer) => {
                self.send_at(peer, *addr, queued, now);
            }
            _ => self.request_to(peer, queued, now),
        }
    }

    /// Sends `queued` to `peer` over its connection, or a new transient
    /// one to `addr`.
    fn send_at(&mut self, peer: Address, addr: SocketAddr, queued: Queued, now: Instant) {
        if let Some(conn) = self.pool.newest(&peer) {
            self.send_queued(conn, queued, now);
            return;
        }
        match self.connect(peer, addr, Role::Transient, now) {
            Reached::Connected(conn) => self.send_queued(conn, queued, now),
            Reached::Underway => match self.pool.wait_for(peer) {
                Some(waiters) => waiters.sends.push(queued),
                None => self.queued_failed(queued, now),
            },
            Reached::Unreachable => self.queued_failed(queued, now),
        }
    }

    /// Sends `queued` on `conn`, recording it as a request if it expects
    /// an answer.
    fn send_queued(&mut self, conn: ConnectionId, queued: Queued, now: Instant) {
        match queued {
            Queued::Request {
                payload,
                purpose: Some(purpose),
            } => {
                let Some(request_id) = refusal::request_id(&payload) else {
                    return;
                };
                let pending = Pending {
                    opcode: payload.opcode(),
                    purpose,
                };
                if !self.send_request(conn, request_id, pending, now) {
                    self.request_failed(conn, pending, Failure::Unreachable, now);
                    return;
                }
                self.send(conn, &payload);
            }
            Queued::Request {
                payload,
                purpose: None,
            } => self.send(conn, &payload),
            Queued::Whisper { message, digest } => {
                let origin = Address::of_key_field(&message.from);
                self.whispers.left_on(&origin, &digest, conn);
                if message.from == self.key {
                    self.send_message(conn, message);
                } else {
                    self.forward_message(conn, message);
                }
            }
        }
    }

    fn queued_failed(&mut self, queued: Queued, now: Instant) {
        match queued {
            Queued::Request {
                payload,
                purpose: Some(purpose),
            } => {
                let pending = Pending {
                    opcode: payload.opcode(),
                    purpose,
                };
                self.request_failed(ConnectionId(u64::MAX), pending, Failure::Unreachable, now);
            }
            Queued::Request { purpose: None, .. } => {}
            Queued::Whisper { message, digest } => self.next_hop_failed(message, digest, now),
        }
    }

    // ----- Sending -----

    /// Queues `payload` for `conn`, to the peer's key.
    fn send(&mut self, conn: ConnectionId, payload: &Payload) {
        let Some(c) = self.pool.get(conn) else {
            return;
        };
        let to = c.to_key(self.profile);
        match Message::from_payload(self.profile, self.key.clone(), to, payload) {
            Ok(msg) => {
                self.send_message(conn, msg);
            }
            Err(_) => self.out.stats.encode_errors += 1,
        }
    }

    /// Queues `msg`, one of this node's own, for `conn`: in the outbox's
    /// own lane, which drains first and may evict forwarded messages.
    /// `false` if the outbox is full of the node's own messages.
    fn send_message(&mut self, conn: ConnectionId, msg: Message) -> bool {
        self.queue_message(conn, msg, Lane::Own)
    }

    /// Queues `msg` as it is (a forwarded broadcast keeps its origin's
    /// header and signature), which this node passes on for others, in
    /// the outbox's forwarded lane: dropped, and counted, when the outbox
    /// is full.
    fn forward_message(&mut self, conn: ConnectionId, msg: Message) -> bool {
        self.queue_message(conn, msg, Lane::Forwarded)
    }

    fn queue_message(&mut self, conn: ConnectionId, msg: Message, lane: Lane) -> bool {
        let Some(c) = self.pool.get_mut(conn) else {
            return false;
        };
        let len = msg.encoded_len(self.profile);
        match c.queue(msg, len, lane, self.config.max_outbox_bytes, self.last_now) {
            Pushed::Queued { evicted } => {
                self.out.mark_dirty(conn);
                self.out.stats.messages_sent += 1;
                self.out.stats.dropped_forwarded += evicted as u64;
                true
            }
            Pushed::Full => {
                match lane {
                    Lane::Own => self.out.stats.dropped_messages += 1,
                    Lane::Forwarded => self.out.stats.dropped_forwarded += 1,
                }
                false
            }
        }
    }

    /// Encodes the next transmission of what is queued for `conn`, within
    /// the peer's transmission limit; a connection with more left stays
    /// marked.
    fn encode(&mut self, conn: ConnectionId) -> Option<Transmit> {
        let c = self.pool.get_mut(conn)?;
        let (batch, compress_above) = (self.config.batch_bytes, self.config.compress_above);
        loop {
            let (bytes, errors) = c.take_transmission(self.profile, batch, compress_above)?;
            self.out.stats.encode_errors += errors;
            if let Some(bytes) = bytes {
                if c.has_outbox() {
                    self.out.mark_dirty(conn);
                }
                return Some(Transmit { conn, bytes });
            }
        }
    }

    /// Sends the refusal `nack` on `conn`, within the peer's refusal
    /// budget; a peer past it is closed instead, so refusals cannot be an
    /// amplifier.
    fn refuse(&mut self, conn: ConnectionId, nack: Nack, now: Instant) {
        let Some(c) = self.pool.get_mut(conn) else {
            return;
        };
        if c.allow_refusal(now) {
            self.send(conn, &Payload::Nack(nack));
        } else {
            self.out.stats.refusals_over_budget += 1;
            self.close(conn, CloseReason::TooManyRefusals, now);
        }
    }
}

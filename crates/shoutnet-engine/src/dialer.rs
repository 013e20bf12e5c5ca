//! Outbound connections (DESIGN R10's ℓ, docs/PROTOCOL.md §9): dialling
//! peers, the pool of transient connections with its waiting queue, idle
//! closes, and the upkeep of the ℓ kept connections.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use shoutnet_crypto::{Address, PublicKey};

use crate::connection::Role;
use crate::engine::NodeEngine;
use crate::event::{Action, ConnectionId};
use crate::timers::{LookupId, Timer};

/// The most peers one dial may be expected to reach. Answers can name any
/// number of keys at one address; only one node can be there, so past
/// this bound further claims fail at once instead of growing the list.
const MAX_EXPECTED_PER_DIAL: usize = 8;

/// A dial the driver has not reported on yet.
#[derive(Debug)]
struct PendingDial {
    role: Role,
    /// The peers expected at the address.
    targets: Vec<Address>,
}

/// Work waiting for a connection to one peer.
#[derive(Debug, Default)]
pub(crate) struct Waiters {
    /// Lookups that want to send it a `FIND_NODE`.
    pub(crate) lookups: BTreeSet<LookupId>,
    /// Whether the routing table waits for a liveness check of it.
    pub(crate) liveness: bool,
    /// Its key, once checked, so that its hello need not be decoded again.
    pub(crate) public: Option<PublicKey>,
}

impl Waiters {
    fn is_empty(&self) -> bool {
        self.lookups.is_empty() && !self.liveness
    }
}

/// What [`NodeEngine::connect_to`] found or did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reach {
    /// An established connection exists.
    Connected(ConnectionId),
    /// A dial or handshake is under way, or the peer waits for a transient
    /// slot; register the work in [`Dials::waiting`].
    Underway,
    /// No connection can be had now.
    Unreachable,
}

/// Dials in flight, outbound connections by address, and work waiting for
/// connections.
#[derive(Debug)]
pub(crate) struct Dials {
    pending: BTreeMap<SocketAddr, PendingDial>,
    /// Connections this node opened, by the address dialled.
    outbound: BTreeMap<SocketAddr, ConnectionId>,
    /// Work waiting, by peer.
    pub(crate) waiting: BTreeMap<Address, Waiters>,
    /// Peers waiting for a free transient slot, oldest first.
    queue: VecDeque<(Address, SocketAddr)>,
    /// Bound of `queue` and `waiting`.
    capacity: usize,
}

impl Dials {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            pending: BTreeMap::new(),
            outbound: BTreeMap::new(),
            waiting: BTreeMap::new(),
            queue: VecDeque::new(),
            capacity,
        }
    }

    pub(crate) fn is_pending(&self, addr: &SocketAddr) -> bool {
        self.pending.contains_key(addr)
    }

    /// A dial of `addr` connected as `conn`: its role and expected peers.
    /// A connection the engine did not ask for (the driver opened it on
    /// its own, for the application) is kept: it counts towards ℓ, and can
    /// take the count past ℓ, since only the engine's own dials are held
    /// to it.
    pub(crate) fn connected(
        &mut self,
        addr: SocketAddr,
        conn: ConnectionId,
    ) -> (Role, Vec<Address>) {
        self.outbound.insert(addr, conn);
        match self.pending.remove(&addr) {
            Some(dial) => (dial.role, dial.targets),
            None => (Role::Kept, Vec::new()),
        }
    }

    /// Outbound connection `conn` to `addr` is gone.
    pub(crate) fn disconnected(&mut self, addr: SocketAddr, conn: ConnectionId) {
        if self.outbound.get(&addr) == Some(&conn) {
            self.outbound.remove(&addr);
        }
    }

    /// Registers work waiting for `peer`; `false` if the bound is reached.
    pub(crate) fn wait_for(&mut self, peer: Address) -> Option<&mut Waiters> {
        if !self.waiting.contains_key(&peer) && self.waiting.len() >= self.capacity {
            return None;
        }
        Some(self.waiting.entry(peer).or_default())
    }

    /// Forgets `lookup` in every waiter.
    pub(crate) fn forget_lookup(&mut self, lookup: LookupId) {
        self.waiting.retain(|_, w| {
            w.lookups.remove(&lookup);
            !w.is_empty()
        });
    }
}

/// Adds `peer` to the peers a dial under way is expected to reach, within
/// [`MAX_EXPECTED_PER_DIAL`].
fn expect(expected: &mut Vec<Address>, peer: Address) -> Reach {
    if !expected.contains(&peer) {
        if expected.len() >= MAX_EXPECTED_PER_DIAL {
            return Reach::Unreachable;
        }
        expected.push(peer);
    }
    Reach::Underway
}

/// Whether a peer's claimed listen address can be dialled: not the
/// unspecified address, not multicast or broadcast, and not port 0.
pub(crate) fn dialable(addr: &SocketAddr) -> bool {
    let ip_ok = match addr.ip() {
        IpAddr::V4(ip) => !ip.is_unspecified() && !ip.is_multicast() && !ip.is_broadcast(),
        IpAddr::V6(ip) => !ip.is_unspecified() && !ip.is_multicast(),
    };
    ip_ok && addr.port() != 0
}

impl NodeEngine {
    /// Outbound connections of `role` open or being opened.
    pub(crate) fn outbound_count(&self, role: Role) -> usize {
        let pending = self.dials.pending.values().filter(|d| d.role == role);
        let open = self
            .dials
            .outbound
            .values()
            .filter(|conn| self.conns.get(conn).is_some_and(|c| c.role == role));
        pending.count() + open.count()
    }

    /// Finds or opens a connection to `peer` at `addr` in `role`. A
    /// transient dial beyond [`max_transient`](crate::EngineConfig) first
    /// closes an idle transient connection, else queues the peer until a
    /// slot frees.
    pub(crate) fn connect_to(
        &mut self,
        peer: Address,
        addr: SocketAddr,
        role: Role,
        now: Instant,
    ) -> Reach {
        if let Some(conn) = self.connected.newest(&peer) {
            return Reach::Connected(conn);
        }
        if let Some(dial) = self.dials.pending.get_mut(&addr) {
            return expect(&mut dial.targets, peer);
        }
        if let Some(c) = self
            .dials
            .outbound
            .get(&addr)
            .and_then(|conn| self.conns.get_mut(conn))
        {
            if c.is_established() {
                // Someone else answers at that address: `peer` is not
                // there (an established `peer` would be in `connected`).
                return Reach::Unreachable;
            }
            return expect(&mut c.expected, peer);
        }
        let room = match role {
            Role::Kept => self.outbound_count(Role::Kept) < self.config.max_outbound,
            Role::Transient => {
                let max = self.config.max_transient;
                // Closing an idle connection serves the queue first, which
                // may take the freed slot: count again.
                self.outbound_count(Role::Transient) < max
                    || (self.close_idle_transient(now)
                        && self.outbound_count(Role::Transient) < max)
            }
            Role::Inbound => false,
        };
        if room {
            self.dial(addr, role, Some(peer), now);
            return Reach::Underway;
        }
        if role == Role::Transient && self.dials.queue.len() < self.dials.capacity {
            self.dials.queue.push_back((peer, addr));
            return Reach::Underway;
        }
        Reach::Unreachable
    }

    /// Asks the driver to dial `addr`.
    pub(crate) fn dial(
        &mut self,
        addr: SocketAddr,
        role: Role,
        peer: Option<Address>,
        now: Instant,
    ) {
        self.dials.pending.insert(
            addr,
            PendingDial {
                role,
                targets: peer.into_iter().collect(),
            },
        );
        self.timers
            .set(Timer::Dial(addr), now + self.config.handshake_timeout);
        self.push_action(Action::Dial { addr });
    }

    /// Closes the transient connection idle the longest (established, no
    /// outstanding requests); `false` if every one is busy.
    fn close_idle_transient(&mut self, now: Instant) -> bool {
        let idle = self
            .dials
            .outbound
            .values()
            .filter_map(|id| Some((*id, self.conns.get(id)?)))
            .filter(|(_, c)| c.role == Role::Transient && c.is_established() && c.outstanding == 0)
            .min_by_key(|(_, c)| c.last_active)
            .map(|(id, _)| id);
        match idle {
            Some(conn) => {
                self.close_for_slot(conn, now);
                true
            }
            None => false,
        }
    }

    /// Closes idle transient connection `conn` to free its slot.
    fn close_for_slot(&mut self, conn: ConnectionId, now: Instant) {
        self.stats.idle_closed += 1;
        self.close(conn, "transient slot needed".into(), now);
    }

    /// A dial of `addr` failed: not answered, refused, or closed before its
    /// handshake completed (`expected` then names the peers it was for).
    /// Everything waiting for those peers fails.
    pub(crate) fn dial_failed(
        &mut self,
        addr: SocketAddr,
        expected: Option<Vec<Address>>,
        now: Instant,
    ) {
        self.stats.dial_failures += 1;
        self.timers.cancel(Timer::Dial(addr));
        let targets = match (self.dials.pending.remove(&addr), expected) {
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
    pub(crate) fn unreachable(&mut self, peer: Address, now: Instant) {
        let waiters = self.dials.waiting.remove(&peer).unwrap_or_default();
        if waiters.liveness {
            self.table.ping_result(&peer, false, now);
        } else {
            self.table.record_failure(&peer, now);
        }
        self.drain_table();
        for id in waiters.lookups {
            self.peer_failed(id, peer, now);
        }
    }

    /// Dials queued peers while transient slots are free.
    pub(crate) fn serve_dial_queue(&mut self, now: Instant) {
        while self.outbound_count(Role::Transient) < self.config.max_transient {
            let Some((peer, addr)) = self.dials.queue.pop_front() else {
                return;
            };
            if !self.dials.waiting.contains_key(&peer) {
                continue;
            }
            match self.connect_to(peer, addr, Role::Transient, now) {
                Reach::Connected(conn) => self.serve_waiters(peer, conn, now),
                Reach::Underway => {}
                Reach::Unreachable => self.unreachable(peer, now),
            }
        }
    }

    /// A connection to `peer` is established: the work waiting for it
    /// proceeds.
    pub(crate) fn serve_waiters(&mut self, peer: Address, conn: ConnectionId, now: Instant) {
        let Some(waiters) = self.dials.waiting.remove(&peer) else {
            return;
        };
        if waiters.liveness {
            // The handshake proved the peer alive.
            self.table.ping_result(&peer, true, now);
            self.drain_table();
        }
        for id in waiters.lookups {
            self.send_find_node(conn, id, peer, now);
        }
    }

    /// A request on `conn` ended: a transient connection with nothing left
    /// to do is closed at once when others wait for a slot, rather than
    /// after its idle time.
    pub(crate) fn release_if_waited_for(&mut self, conn: ConnectionId, now: Instant) {
        if self.dials.queue.is_empty() {
            return;
        }
        let idle = self
            .conns
            .get(&conn)
            .is_some_and(|c| c.role == Role::Transient && c.is_established() && c.outstanding == 0);
        if idle {
            self.close_for_slot(conn, now);
        }
    }

    /// The idle timer of a transient connection fired.
    pub(crate) fn idle_due(&mut self, conn: ConnectionId, now: Instant) {
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        if c.role != Role::Transient {
            return;
        }
        let idle_until = c.last_active + self.config.transient_idle;
        if c.outstanding > 0 {
            self.timers
                .set(Timer::Idle(conn), now + self.config.transient_idle);
            return;
        }
        if idle_until > now {
            self.timers.set(Timer::Idle(conn), idle_until);
            return;
        }
        self.stats.idle_closed += 1;
        self.close(conn, "idle transient connection".into(), now);
    }

    /// Tops up the ℓ kept connections from the routing table: dials random
    /// entries not connected yet, or promotes a transient connection to
    /// one of them. It runs again when a kept connection or dial is lost,
    /// or the table gains an entry ([`want_kept`](Self::want_kept)).
    pub(crate) fn maintain_kept(&mut self, now: Instant) {
        let mut candidates: Vec<(Address, SocketAddr)> = self
            .table
            .iter()
            .filter(|(a, _)| !self.dials.waiting.contains_key(a))
            .filter(|(a, _)| {
                // Not kept yet, nor reached through the peer's own kept
                // connection: only transient connections, or none.
                self.connected
                    .all(a)
                    .iter()
                    .filter_map(|conn| self.conns.get(conn))
                    .all(|c| c.role == Role::Transient)
            })
            .filter_map(|(a, contact)| Some((a, contact.listen.iter().copied().find(dialable)?)))
            .collect();
        while self.outbound_count(Role::Kept) < self.config.max_outbound && !candidates.is_empty() {
            // `rng_below` is below the length, so the index is in range.
            let pick = usize::try_from(self.rng_below(candidates.len() as u64)).unwrap_or(0);
            let (peer, addr) = candidates.swap_remove(pick);
            let ours = self.connected.all(&peer).iter().copied().find(|conn| {
                self.conns
                    .get(conn)
                    .is_some_and(|c| c.role == Role::Transient && c.dialled.is_some())
            });
            if let Some(c) = ours.and_then(|conn| self.conns.get_mut(&conn)) {
                c.role = Role::Kept;
                continue;
            }
            if self.dials.is_pending(&addr) || self.connected.contains(&peer) {
                continue;
            }
            self.dial(addr, Role::Kept, Some(peer), now);
        }
    }

    /// Arms the next top-up of the kept connections, if upkeep runs and ℓ
    /// are not kept: after the maintenance interval, not at once, so that
    /// a peer that closes every connection cannot make the node dial in a
    /// loop. Called when a kept connection or dial is lost and when the
    /// routing table gains an entry, so an idle node with nothing to dial
    /// sets no timer.
    pub(crate) fn want_kept(&mut self, now: Instant) {
        if !self.upkeep || self.outbound_count(Role::Kept) >= self.config.max_outbound {
            return;
        }
        let at = now + self.config.maintenance_interval;
        let due = self.timers.get(Timer::Maintain).map_or(at, |t| t.min(at));
        self.timers.set(Timer::Maintain, due);
    }

    /// Starts the upkeep timers, once: the first top-up of the kept
    /// connections at `maintain_at`, and the bucket refresh.
    pub(crate) fn start_upkeep(&mut self, maintain_at: Instant, now: Instant) {
        if self.upkeep {
            return;
        }
        self.upkeep = true;
        self.timers.set(Timer::Maintain, maintain_at);
        self.timers
            .set(Timer::Refresh, now + self.config.kad.refresh_interval / 2);
    }

    /// A uniform draw from `0..n` (`n > 0`) from the engine's RNG.
    pub(crate) fn rng_below(&mut self, n: u64) -> u64 {
        use rand_core::RngCore;
        self.rng.next_u64() % n.max(1)
    }
}

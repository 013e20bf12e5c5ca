//! The connection pool (docs/PROTOCOL.md §9.4): every connection the driver
//! reported, the established ones by peer, dials in flight, the ℓ kept and
//! the transient outbound connections with their counts, and the work and
//! the bounded queue waiting for a transient slot.
//!
//! The pool decides and records; it never sends, closes, dials or arms a
//! timer. [`Pool::connect`] returns a [`Reach`] and the engine acts on it.
//! Role counts are kept as connections come and go, so no input rescans
//! the connections.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::{IpAddr, SocketAddr};

use rand_core::RngCore;
use shoutnet_crypto::{Address, PublicKey};

use crate::connection::{Connection, Role};
use crate::event::{Admission, ConnectionId};
use crate::requests::Queued;
use crate::timers::LookupId;

/// The most peers one dial may be expected to reach. Answers can name any
/// number of keys at one address; only one node can be there, so past
/// this bound further claims fail at once instead of growing the list.
const MAX_EXPECTED_PER_DIAL: usize = 8;

/// A dial the driver has not reported on yet.
#[derive(Debug)]
pub(crate) struct PendingDial {
    pub(crate) role: Role,
    /// The peers expected at the address.
    pub(crate) targets: Vec<Address>,
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
    /// Requests of commands (`STORE`, `CUSTOM`) to send it.
    pub(crate) sends: Vec<Queued>,
}

impl Waiters {
    fn is_empty(&self) -> bool {
        self.lookups.is_empty() && !self.liveness && self.sends.is_empty()
    }
}

/// The limits on connections peers open (docs/PROTOCOL.md §11).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct AdmissionLimits {
    /// Inbound connections at once.
    pub(crate) inbound: usize,
    /// Inbound connections at once from one IP address.
    pub(crate) per_address: usize,
    /// Connections, either way, whose handshake has not completed.
    pub(crate) handshaking: usize,
}

/// What [`Pool::connect`] found or did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reach {
    /// An established connection exists.
    Connected(ConnectionId),
    /// A dial or handshake is under way, or the peer waits for a transient
    /// slot: register the work with [`Pool::wait_for`].
    Underway,
    /// A dial was recorded: the engine asks the driver for it, then
    /// registers the work as for `Underway`.
    Dial,
    /// Every transient slot is taken, but this idle transient connection
    /// may be closed to free one: close it, then ask again without
    /// freeing.
    FreeSlot(ConnectionId),
    /// No connection can be had now.
    Unreachable,
}

/// Connections by id and by peer, outbound connections and dials by
/// address, and the work waiting for connections.
#[derive(Debug)]
pub(crate) struct Pool {
    conns: BTreeMap<ConnectionId, Connection>,
    /// The established connections to each peer, oldest first. Two nodes
    /// that dial each other hold two; each is used until it closes.
    connected: BTreeMap<Address, Vec<ConnectionId>>,
    pending: BTreeMap<SocketAddr, PendingDial>,
    /// Connections this node opened, by the address dialled; those named
    /// here are the ones counted.
    outbound: BTreeMap<SocketAddr, ConnectionId>,
    /// Work waiting, by peer.
    waiting: BTreeMap<Address, Waiters>,
    /// Peers waiting for a free transient slot, oldest first.
    queue: VecDeque<(Address, SocketAddr)>,
    /// Bound of `queue` and `waiting`.
    capacity: usize,
    max_kept: usize,
    max_transient: usize,
    /// Outbound connections open or being opened, kept and transient.
    kept: usize,
    transient: usize,
    limits: AdmissionLimits,
    /// Inbound connections, in all and by the peer's IP address.
    inbound: usize,
    inbound_by_ip: BTreeMap<IpAddr, usize>,
    /// Connections whose handshake has not completed.
    handshaking: usize,
    /// Established connections that either side keeps (docs/PROTOCOL.md
    /// §9.7), by peer: the ones broadcasts travel.
    kept_peers: BTreeMap<Address, BTreeSet<ConnectionId>>,
}

impl Pool {
    pub(crate) fn new(
        max_kept: usize,
        max_transient: usize,
        capacity: usize,
        limits: AdmissionLimits,
    ) -> Self {
        Self {
            limits,
            inbound: 0,
            inbound_by_ip: BTreeMap::new(),
            handshaking: 0,
            kept_peers: BTreeMap::new(),
            conns: BTreeMap::new(),
            connected: BTreeMap::new(),
            pending: BTreeMap::new(),
            outbound: BTreeMap::new(),
            waiting: BTreeMap::new(),
            queue: VecDeque::new(),
            capacity,
            max_kept,
            max_transient,
            kept: 0,
            transient: 0,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.conns.len()
    }

    pub(crate) fn contains(&self, conn: ConnectionId) -> bool {
        self.conns.contains_key(&conn)
    }

    pub(crate) fn get(&self, conn: ConnectionId) -> Option<&Connection> {
        self.conns.get(&conn)
    }

    pub(crate) fn get_mut(&mut self, conn: ConnectionId) -> Option<&mut Connection> {
        self.conns.get_mut(&conn)
    }

    /// Whether a new inbound connection from `remote` is within the
    /// limits: total inbound, per address, and handshakes in progress.
    pub(crate) fn admit(&self, remote: &SocketAddr) -> Result<(), Admission> {
        if self.inbound >= self.limits.inbound {
            return Err(Admission::TooManyInbound);
        }
        let from_ip = self.inbound_by_ip.get(&remote.ip()).copied().unwrap_or(0);
        if from_ip >= self.limits.per_address {
            return Err(Admission::TooManyFromAddress);
        }
        if self.handshaking >= self.limits.handshaking {
            return Err(Admission::TooManyHandshakes);
        }
        Ok(())
    }

    /// Connections whose handshake has not completed.
    #[cfg(test)]
    pub(crate) fn handshaking(&self) -> usize {
        self.handshaking
    }

    /// Inbound connections.
    #[cfg(test)]
    pub(crate) fn inbound(&self) -> usize {
        self.inbound
    }

    /// Outbound connections of `role` open or being opened.
    pub(crate) fn count(&self, role: Role) -> usize {
        match role {
            Role::Kept => self.kept,
            Role::Transient => self.transient,
            Role::Inbound => 0,
        }
    }

    /// Whether a top-up has work: fewer than ℓ kept connections are open
    /// or being opened, or none links this node (at `local`) to a lower
    /// peer ([`top_up_kept`](Self::top_up_kept)).
    pub(crate) fn wants_kept(&self, local: &Address) -> bool {
        self.kept < self.max_kept || !self.is_anchored(local)
    }

    fn counter(&mut self, role: Role) -> Option<&mut usize> {
        match role {
            Role::Kept => Some(&mut self.kept),
            Role::Transient => Some(&mut self.transient),
            Role::Inbound => None,
        }
    }

    fn add(&mut self, role: Role) {
        if let Some(n) = self.counter(role) {
            *n += 1;
        }
    }

    fn sub(&mut self, role: Role) {
        if let Some(n) = self.counter(role) {
            *n = n.saturating_sub(1);
        }
    }

    /// Whether `conn` is the outbound connection counted for its address.
    fn is_counted(&self, conn: ConnectionId, c: &Connection) -> bool {
        c.dialled
            .is_some_and(|addr| self.outbound.get(&addr) == Some(&conn))
    }

    /// Whether a dial of `addr` waits for the driver.
    pub(crate) fn is_pending(&self, addr: &SocketAddr) -> bool {
        self.pending.contains_key(addr)
    }

    /// Records a dial of `addr` in `role`, expected to reach `peer`.
    pub(crate) fn dial(&mut self, addr: SocketAddr, role: Role, peer: Option<Address>) {
        let dial = PendingDial {
            role,
            targets: peer.into_iter().collect(),
        };
        if let Some(old) = self.pending.insert(addr, dial) {
            self.sub(old.role);
        }
        self.add(role);
    }

    /// The dial of `addr` failed or was given up: its record, if it was
    /// still pending.
    pub(crate) fn dial_failed(&mut self, addr: SocketAddr) -> Option<PendingDial> {
        let dial = self.pending.remove(&addr)?;
        self.sub(dial.role);
        Some(dial)
    }

    /// Adds connection `conn` built by `build` from the role and expected
    /// peers of its dial. A dial of `addr` the engine did not ask for (the
    /// driver opened it on its own, for the application) is kept: it counts
    /// towards ℓ, and can take the count past ℓ, since only the engine's
    /// own dials are held to it.
    pub(crate) fn open(
        &mut self,
        conn: ConnectionId,
        dialled: Option<SocketAddr>,
        build: impl FnOnce(Role, Vec<Address>) -> Connection,
    ) {
        let (role, expected) = match dialled {
            Some(addr) => {
                if let Some(old) = self.outbound.insert(addr, conn)
                    && let Some(role) = self.conns.get(&old).map(|c| c.role)
                {
                    self.sub(role);
                }
                match self.pending.remove(&addr) {
                    Some(dial) => {
                        self.sub(dial.role);
                        (dial.role, dial.targets)
                    }
                    None => (Role::Kept, Vec::new()),
                }
            }
            None => (Role::Inbound, Vec::new()),
        };
        if dialled.is_some() {
            self.add(role);
        }
        let c = build(role, expected);
        if c.dialled.is_none() {
            self.inbound += 1;
            *self.inbound_by_ip.entry(c.remote.ip()).or_default() += 1;
        }
        if !c.is_established() {
            self.handshaking += 1;
        }
        self.conns.insert(conn, c);
    }

    /// The handshake of `conn` completed with `peer`.
    pub(crate) fn established(&mut self, conn: ConnectionId, peer: Address) {
        self.handshaking = self.handshaking.saturating_sub(1);
        self.connected.entry(peer).or_default().push(conn);
        self.update_kept(conn);
    }

    /// The peer of `conn` says it keeps the connection (`true`) or not.
    pub(crate) fn set_kept_by_peer(&mut self, conn: ConnectionId, kept: bool) {
        if let Some(c) = self.conns.get_mut(&conn) {
            c.kept_by_peer = kept;
        }
        self.update_kept(conn);
    }

    /// Files `conn` under its peer in the kept index, or takes it out, as
    /// its role and its peer's say.
    fn update_kept(&mut self, conn: ConnectionId) {
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        let Some(peer) = c.peer.as_ref().map(|p| p.address) else {
            return;
        };
        if c.role == Role::Kept || c.kept_by_peer {
            self.kept_peers.entry(peer).or_default().insert(conn);
        } else {
            unfile(&mut self.kept_peers, &peer, conn);
        }
    }

    /// Every peer with a connection either side keeps, and the one of
    /// them broadcasts use: the links of the kept graph.
    pub(crate) fn kept_links(&self) -> impl Iterator<Item = (Address, ConnectionId)> + '_ {
        self.kept_peers
            .iter()
            .filter_map(|(peer, conns)| Some((*peer, *conns.first()?)))
    }

    /// The peers broadcasts reach: those with a connection either side
    /// keeps.
    pub(crate) fn kept_peers(&self) -> impl Iterator<Item = &Address> {
        self.kept_peers.keys()
    }

    /// One established connection to every peer: where `SPEAK` goes.
    pub(crate) fn direct_peers(&self) -> Vec<ConnectionId> {
        self.connected
            .values()
            .filter_map(|conns| conns.last().copied())
            .collect()
    }

    /// Whether `conn` is one either side keeps.
    pub(crate) fn is_kept(&self, conn: ConnectionId) -> bool {
        self.conns
            .get(&conn)
            .is_some_and(|c| c.role == Role::Kept || c.kept_by_peer)
    }

    /// Removes `conn`: it is no longer counted, nor connected to its peer.
    pub(crate) fn remove(&mut self, conn: ConnectionId) -> Option<Connection> {
        let c = self.conns.remove(&conn)?;
        if !c.is_established() {
            self.handshaking = self.handshaking.saturating_sub(1);
        }
        if c.dialled.is_none() {
            self.inbound = self.inbound.saturating_sub(1);
            let ip = c.remote.ip();
            if let Some(n) = self.inbound_by_ip.get_mut(&ip) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    self.inbound_by_ip.remove(&ip);
                }
            }
        }
        if let Some(addr) = c.dialled
            && self.outbound.get(&addr) == Some(&conn)
        {
            self.outbound.remove(&addr);
            self.sub(c.role);
        }
        if let Some(peer) = &c.peer {
            if let Some(conns) = self.connected.get_mut(&peer.address) {
                conns.retain(|x| *x != conn);
                if conns.is_empty() {
                    self.connected.remove(&peer.address);
                }
            }
            unfile(&mut self.kept_peers, &peer.address, conn);
        }
        Some(c)
    }

    /// The newest established connection to `peer`.
    pub(crate) fn newest(&self, peer: &Address) -> Option<ConnectionId> {
        self.connected.get(peer).and_then(|c| c.last().copied())
    }

    /// Whether an established connection to `peer` exists.
    pub(crate) fn is_connected(&self, peer: &Address) -> bool {
        self.connected.contains_key(peer)
    }

    /// Finds or opens a connection to `peer` at `addr` in `role`. A
    /// transient dial beyond the limit may first free the slot of an idle
    /// transient connection (when `may_free`), else queues the peer until a
    /// slot frees.
    pub(crate) fn connect(
        &mut self,
        peer: Address,
        addr: SocketAddr,
        role: Role,
        may_free: bool,
    ) -> Reach {
        if let Some(conn) = self.newest(&peer) {
            return Reach::Connected(conn);
        }
        if let Some(dial) = self.pending.get_mut(&addr) {
            return expect(&mut dial.targets, peer);
        }
        if let Some(c) = self
            .outbound
            .get(&addr)
            .and_then(|conn| self.conns.get_mut(conn))
        {
            if c.is_established() {
                // Someone else answers at that address: `peer` is not
                // there (an established `peer` would be connected).
                return Reach::Unreachable;
            }
            return expect(&mut c.expected, peer);
        }
        let room = match role {
            Role::Kept => self.kept < self.max_kept,
            Role::Transient => self.transient < self.max_transient,
            Role::Inbound => false,
        };
        if room {
            self.dial(addr, role, Some(peer));
            return Reach::Dial;
        }
        if role == Role::Transient {
            if may_free && let Some(idle) = self.idlest_transient() {
                return Reach::FreeSlot(idle);
            }
            if self.queue.len() < self.capacity {
                self.queue.push_back((peer, addr));
                return Reach::Underway;
            }
        }
        Reach::Unreachable
    }

    /// The transient connection idle the longest (established, nothing
    /// outstanding). Scans the outbound connections only, at most ℓ plus
    /// the transient limit, and only when every transient slot is taken.
    fn idlest_transient(&self) -> Option<ConnectionId> {
        self.outbound
            .values()
            .filter_map(|id| Some((*id, self.conns.get(id)?)))
            .filter(|(_, c)| c.is_idle_transient())
            .min_by_key(|(_, c)| c.last_active)
            .map(|(id, _)| id)
    }

    /// Whether requests wait for a transient slot.
    pub(crate) fn has_queue(&self) -> bool {
        !self.queue.is_empty()
    }

    /// The next queued peer that still has work waiting, while a transient
    /// slot is free.
    pub(crate) fn next_queued(&mut self) -> Option<(Address, SocketAddr)> {
        while self.transient < self.max_transient {
            let (peer, addr) = self.queue.pop_front()?;
            if self.waiting.contains_key(&peer) {
                return Some((peer, addr));
            }
        }
        None
    }

    /// The work waiting for `peer`, created if needed; `None` when the
    /// bound is reached.
    pub(crate) fn wait_for(&mut self, peer: Address) -> Option<&mut Waiters> {
        if !self.waiting.contains_key(&peer) && self.waiting.len() >= self.capacity {
            return None;
        }
        Some(self.waiting.entry(peer).or_default())
    }

    /// Takes the work waiting for `peer`.
    pub(crate) fn take_waiters(&mut self, peer: &Address) -> Option<Waiters> {
        self.waiting.remove(peer)
    }

    /// The key of `peer` held by the work waiting for it.
    pub(crate) fn waiting_key(&self, peer: &Address) -> Option<&PublicKey> {
        self.waiting.get(peer)?.public.as_ref()
    }

    /// Forgets `lookup` in every waiter.
    pub(crate) fn forget_lookup(&mut self, lookup: LookupId) {
        self.waiting.retain(|_, w| {
            w.lookups.remove(&lookup);
            !w.is_empty()
        });
    }

    /// Tops up the ℓ kept connections from `candidates` (routing-table
    /// entries with a dialable address), picked at random with `rng`:
    /// entries with work waiting or reached over a kept or inbound
    /// connection are skipped, a transient connection of ours is promoted
    /// to kept, and the rest are dialled as kept. Returns the dials the
    /// engine must ask the driver for, and the connections promoted (whose
    /// peers the engine tells).
    ///
    /// The anchor rule (docs/PROTOCOL.md §9.4): unless the node already
    /// holds, or is opening, a kept connection to a peer whose address is
    /// below `local`'s (numerically, as bytes), the first pick is drawn
    /// from the candidates below it. Every node but the lowest then has a
    /// kept edge to a lower one, so the kept connections form one
    /// connected graph, even at ℓ = 1, and heal the same way when an
    /// anchor is lost.
    pub(crate) fn top_up_kept(
        &mut self,
        candidates: impl Iterator<Item = (Address, SocketAddr)>,
        local: &Address,
        rng: &mut impl RngCore,
    ) -> TopUp {
        let mut candidates: Vec<(Address, SocketAddr)> = candidates
            .filter(|(a, _)| !self.waiting.contains_key(a))
            .filter(|(a, _)| {
                // Not kept yet, nor reached through the peer's own kept
                // connection: only transient connections, or none.
                self.connected
                    .get(a)
                    .map_or(&[][..], Vec::as_slice)
                    .iter()
                    .filter_map(|conn| self.conns.get(conn))
                    .all(|c| c.role == Role::Transient)
            })
            .collect();
        let mut top_up = TopUp::default();
        let mut anchoring = !self.is_anchored(local);
        while self.kept < self.max_kept && !candidates.is_empty() {
            let below = candidates.iter().filter(|(a, _)| a < local).count();
            let pick = if anchoring && below > 0 {
                // The draw is below the count, so the index is in range.
                let nth = usize::try_from(rng.next_u64() % below as u64).unwrap_or(0);
                candidates
                    .iter()
                    .enumerate()
                    .filter(|(_, (a, _))| a < local)
                    .nth(nth)
                    .map_or(0, |(i, _)| i)
            } else {
                let n = candidates.len() as u64;
                usize::try_from(rng.next_u64() % n).unwrap_or(0)
            };
            let (peer, addr) = candidates.swap_remove(pick);
            anchoring &= peer >= *local;
            if let Some(conn) = self.own_transient(&peer) {
                self.promote(conn);
                top_up.promoted.push(conn);
                continue;
            }
            if self.is_pending(&addr) || self.is_connected(&peer) {
                continue;
            }
            self.dial(addr, Role::Kept, Some(peer));
            top_up.dials.push(addr);
        }
        top_up
    }

    /// A node holding ℓ kept connections but none below it (at `local`)
    /// closes one of its own to make way for an anchor, if `candidates`
    /// has one: this names it. A peer that loses its anchor this way
    /// re-anchors with a free slot, so nothing cascades further.
    pub(crate) fn make_way_for_anchor(
        &self,
        candidates: &[(Address, SocketAddr)],
        local: &Address,
    ) -> Option<ConnectionId> {
        if self.kept < self.max_kept
            || self.is_anchored(local)
            || !candidates.iter().any(|(a, _)| a < local)
        {
            return None;
        }
        self.conns
            .iter()
            .filter(|(_, c)| c.role == Role::Kept && c.peer.is_some())
            .map(|(id, _)| *id)
            .last()
    }

    /// Whether a kept connection, established or under way, links this node
    /// (at `local`) to a peer whose address is below its own.
    fn is_anchored(&self, local: &Address) -> bool {
        let below = |peer: &Address| peer < local;
        self.kept_peers.keys().next().is_some_and(below)
            || self
                .pending
                .values()
                .any(|d| d.role == Role::Kept && d.targets.iter().any(below))
            || self
                .conns
                .values()
                .any(|c| c.role == Role::Kept && c.peer.is_none() && c.expected.iter().any(below))
    }

    /// An established transient connection this node dialled to `peer`.
    fn own_transient(&self, peer: &Address) -> Option<ConnectionId> {
        let conns = self.connected.get(peer)?;
        conns.iter().copied().find(|conn| {
            self.conns
                .get(conn)
                .is_some_and(|c| c.role == Role::Transient && c.dialled.is_some())
        })
    }

    /// Makes transient connection `conn` a kept one.
    fn promote(&mut self, conn: ConnectionId) {
        let counted = match self.conns.get(&conn) {
            Some(c) => self.is_counted(conn, c),
            None => return,
        };
        if let Some(c) = self.conns.get_mut(&conn) {
            c.role = Role::Kept;
        }
        if counted {
            self.sub(Role::Transient);
            self.add(Role::Kept);
        }
        self.update_kept(conn);
    }

    /// Recounts the roles from scratch, for tests to compare with the
    /// counts kept as connections come and go.
    #[cfg(test)]
    pub(crate) fn recount(&self) -> (usize, usize) {
        let mut counts = (0, 0);
        let roles = self.pending.values().map(|d| d.role).chain(
            self.outbound
                .values()
                .filter_map(|conn| self.conns.get(conn).map(|c| c.role)),
        );
        for role in roles {
            match role {
                Role::Kept => counts.0 += 1,
                Role::Transient => counts.1 += 1,
                Role::Inbound => {}
            }
        }
        counts
    }
}

/// What a top-up of the kept connections did.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct TopUp {
    /// Addresses to dial as kept.
    pub(crate) dials: Vec<SocketAddr>,
    /// Transient connections of ours now kept.
    pub(crate) promoted: Vec<ConnectionId>,
}

/// Takes `conn` out of `peer`'s entry of `index`.
fn unfile(
    index: &mut BTreeMap<Address, BTreeSet<ConnectionId>>,
    peer: &Address,
    conn: ConnectionId,
) {
    if let Some(conns) = index.get_mut(peer) {
        conns.remove(&conn);
        if conns.is_empty() {
            index.remove(peer);
        }
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

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;
    use shoutnet_wire::Limits;

    use super::*;
    use crate::budget::RequestRates;
    use crate::event::Direction;
    use crate::handshake::Peer;

    const LIMITS: AdmissionLimits = AdmissionLimits {
        inbound: 64,
        per_address: 64,
        handshaking: 64,
    };

    fn address(i: u8) -> Address {
        Address([i; 32])
    }

    /// Where a broadcast from `from`'s peer goes.
    fn targets(pool: &Pool, from: Option<&Address>) -> Vec<ConnectionId> {
        shoutnet_flood::Flood::forward_to(from, pool.kept_links())
    }

    fn sock(i: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], 4000 + i))
    }

    fn open(pool: &mut Pool, conn: u64, dialled: Option<SocketAddr>, now: Instant) {
        let remote = "127.0.0.1:1".parse().unwrap();
        let direction = dialled.map_or(Direction::Inbound { remote }, |addr| Direction::Outbound {
            addr,
        });
        pool.open(ConnectionId(conn), dialled, |role, expected| {
            let rates = RequestRates::default();
            let mut c = Connection::new(direction, role, Limits::default(), &rates, now);
            c.expected = expected;
            c
        });
    }

    fn establish(pool: &mut Pool, conn: u64, peer: Address) {
        let keypair = shoutnet_crypto::Keypair::generate(
            shoutnet_wire::Profile::Ed25519,
            &mut ChaCha20Rng::from_seed([1; 32]),
        )
        .unwrap();
        let c = pool.get_mut(ConnectionId(conn)).unwrap();
        c.peer = Some(Peer {
            address: peer,
            public: keypair.public().clone(),
            listen: Vec::new(),
            max_transmission: 1 << 20,
            compression: shoutnet_wire::MethodSet::only_none(),
            preferred: shoutnet_wire::Method::None,
        });
        pool.established(ConnectionId(conn), peer);
    }

    fn counts(pool: &Pool) -> (usize, usize) {
        let counts = (pool.count(Role::Kept), pool.count(Role::Transient));
        assert_eq!(counts, pool.recount(), "kept counts agree with a rescan");
        counts
    }

    #[test]
    fn connect_dials_expects_queues_and_frees_slots() {
        #[allow(clippy::disallowed_methods)] // A fixed epoch for the test.
        let now = Instant::now();
        let mut pool = Pool::new(1, 2, 2, LIMITS);
        // (peer, addr, role, may_free, expected reach)
        let steps = [
            (1, 1, Role::Transient, true, Reach::Dial),
            (2, 1, Role::Transient, true, Reach::Underway), // Same address: expected there too.
            (3, 2, Role::Transient, true, Reach::Dial),
            (4, 3, Role::Transient, true, Reach::Underway), // Queued: no idle slot.
            (5, 4, Role::Kept, true, Reach::Dial),
            (6, 5, Role::Kept, true, Reach::Unreachable), // ℓ = 1.
        ];
        for (peer, addr, role, may_free, reach) in steps {
            let got = pool.connect(address(peer), sock(addr), role, may_free);
            assert_eq!(got, reach, "peer {peer}");
        }
        assert_eq!(counts(&pool), (1, 2));
        open(&mut pool, 10, Some(sock(1)), now);
        assert_eq!(
            counts(&pool),
            (1, 2),
            "a dial that connects is counted once"
        );
        assert_eq!(
            pool.get(ConnectionId(10)).unwrap().expected,
            [address(1), address(2)]
        );
        establish(&mut pool, 10, address(1));
        assert_eq!(
            pool.connect(address(1), sock(9), Role::Transient, true),
            Reach::Connected(ConnectionId(10))
        );
        assert_eq!(
            pool.connect(address(2), sock(1), Role::Transient, true),
            Reach::Unreachable,
            "someone else is there"
        );
        // Slots full: the idle one may be freed.
        assert_eq!(
            pool.connect(address(7), sock(6), Role::Transient, true),
            Reach::FreeSlot(ConnectionId(10))
        );
        assert_eq!(
            pool.connect(address(7), sock(6), Role::Transient, false),
            Reach::Underway
        );
        assert_eq!(
            pool.connect(address(8), sock(7), Role::Transient, false),
            Reach::Unreachable,
            "queue full"
        );
        assert!(pool.remove(ConnectionId(10)).is_some());
        assert_eq!(counts(&pool), (1, 1));
        assert!(!pool.is_connected(&address(1)));
        // The queue serves only peers with work waiting.
        pool.wait_for(address(7)).unwrap().liveness = true;
        assert_eq!(pool.next_queued(), Some((address(7), sock(6))));
        assert_eq!(pool.next_queued(), None);
    }

    #[test]
    fn admission_limits_inbound_per_address_and_handshakes() {
        #[allow(clippy::disallowed_methods)] // A fixed epoch for the test.
        let now = Instant::now();
        let limits = AdmissionLimits {
            inbound: 3,
            per_address: 2,
            handshaking: 3,
        };
        let mut pool = Pool::new(4, 4, 8, limits);
        let from = |ip: u8| SocketAddr::from(([10, 0, 0, ip], 5000));
        let open_from = |pool: &mut Pool, conn: u64, ip: u8| {
            let direction = Direction::Inbound { remote: from(ip) };
            pool.open(ConnectionId(conn), None, |role, _| {
                let rates = RequestRates::default();
                Connection::new(direction, role, Limits::default(), &rates, now)
            });
        };
        assert_eq!(pool.admit(&from(1)), Ok(()));
        open_from(&mut pool, 1, 1);
        open_from(&mut pool, 2, 1);
        assert_eq!(pool.admit(&from(1)), Err(Admission::TooManyFromAddress));
        assert_eq!(pool.admit(&from(2)), Ok(()));
        open_from(&mut pool, 3, 2);
        assert_eq!(pool.admit(&from(3)), Err(Admission::TooManyInbound));
        assert_eq!((pool.inbound(), pool.handshaking()), (3, 3));
        pool.remove(ConnectionId(1));
        assert_eq!(pool.admit(&from(1)), Ok(()), "a slot of that address freed");
        // Handshakes in progress count outbound dials' connections too.
        open(&mut pool, 9, Some(sock(9)), now);
        assert_eq!(pool.admit(&from(4)), Err(Admission::TooManyHandshakes));
        establish(&mut pool, 9, address(9));
        assert_eq!(pool.handshaking(), 2);
        assert_eq!(pool.admit(&from(4)), Ok(()));
    }

    #[test]
    fn counts_follow_failures_overwrites_and_promotions() {
        #[allow(clippy::disallowed_methods)] // A fixed epoch for the test.
        let now = Instant::now();
        let mut pool = Pool::new(4, 4, 8, LIMITS);
        pool.dial(sock(1), Role::Transient, Some(address(1)));
        pool.dial(sock(2), Role::Kept, Some(address(2)));
        assert_eq!(counts(&pool), (1, 1));
        assert!(pool.dial_failed(sock(2)).is_some());
        assert!(pool.dial_failed(sock(2)).is_none(), "once");
        assert_eq!(counts(&pool), (0, 1));
        open(&mut pool, 1, Some(sock(1)), now);
        establish(&mut pool, 1, address(1));
        // A second connection to the same address takes over the count.
        open(&mut pool, 2, Some(sock(1)), now);
        assert_eq!(
            counts(&pool),
            (1, 0),
            "undialled outbound connections are kept"
        );
        pool.remove(ConnectionId(1));
        assert_eq!(
            counts(&pool),
            (1, 0),
            "the replaced one was no longer counted"
        );
        // An inbound connection is never counted.
        open(&mut pool, 3, None, now);
        assert_eq!(counts(&pool), (1, 0));
        // Promotion of our own transient connection.
        pool.dial(sock(5), Role::Transient, Some(address(5)));
        open(&mut pool, 5, Some(sock(5)), now);
        establish(&mut pool, 5, address(5));
        assert_eq!(counts(&pool), (1, 1));
        let mut rng = ChaCha20Rng::from_seed([0; 32]);
        assert!(targets(&pool, None).is_empty(), "no kept connection yet");
        let top_up = pool.top_up_kept(
            [(address(5), sock(5)), (address(6), sock(6))].into_iter(),
            &address(0),
            &mut rng,
        );
        assert_eq!(
            top_up,
            TopUp {
                dials: vec![sock(6)],
                promoted: vec![ConnectionId(5)]
            }
        );
        assert_eq!(pool.get(ConnectionId(5)).unwrap().role, Role::Kept);
        assert_eq!(counts(&pool), (3, 0));
        assert_eq!(
            targets(&pool, None),
            [ConnectionId(5)],
            "the promoted one carries broadcasts"
        );
        assert!(
            targets(&pool, Some(&address(5))).is_empty(),
            "not back to its peer"
        );
        // An inbound connection its peer keeps carries them too, until the
        // peer says otherwise or it closes.
        open(&mut pool, 7, None, now);
        establish(&mut pool, 7, address(7));
        assert_eq!(pool.direct_peers().len(), 2);
        pool.set_kept_by_peer(ConnectionId(7), true);
        assert!(pool.is_kept(ConnectionId(7)));
        assert_eq!(targets(&pool, None).len(), 2);
        pool.set_kept_by_peer(ConnectionId(7), false);
        assert_eq!(targets(&pool, None), [ConnectionId(5)]);
        pool.set_kept_by_peer(ConnectionId(7), true);
        pool.remove(ConnectionId(7));
        assert_eq!(targets(&pool, None), [ConnectionId(5)]);
    }

    #[test]
    fn the_first_kept_connection_goes_below_the_node_and_is_replaced_there() {
        #[allow(clippy::disallowed_methods)] // A fixed epoch for the test.
        let now = Instant::now();
        let local = address(5);
        let candidates = || (1..=9).map(|i| (address(i), sock(u16::from(i))));
        for seed in 0..32 {
            let mut rng = ChaCha20Rng::from_seed([seed; 32]);
            let mut pool = Pool::new(2, 2, 8, LIMITS);
            let top_up = pool.top_up_kept(candidates(), &local, &mut rng);
            assert_eq!(top_up.dials.len(), 2);
            let below = top_up.dials.iter().filter(|a| a.port() < 4005).count();
            assert!(below >= 1, "seed {seed}: {:?}", top_up.dials);
            // The anchor's dial fails: the next top-up anchors again, below.
            let anchor = *top_up.dials.iter().find(|a| a.port() < 4005).unwrap();
            let other = *top_up.dials.iter().find(|a| **a != anchor).unwrap();
            pool.dial_failed(anchor);
            if other.port() < 4005 {
                continue; // Still anchored by the other dial.
            }
            let again = pool.top_up_kept(candidates(), &local, &mut rng);
            assert_eq!(again.dials.len(), 1);
            assert!(again.dials[0].port() < 4005, "seed {seed}: {again:?}");
        }
        // A node with nothing below it (the lowest) draws at random, and
        // an established kept connection below anchors a node.
        let mut rng = ChaCha20Rng::from_seed([0; 32]);
        let mut pool = Pool::new(1, 2, 8, LIMITS);
        assert_eq!(
            pool.top_up_kept(candidates(), &address(0), &mut rng)
                .dials
                .len(),
            1
        );
        let mut pool = Pool::new(3, 2, 8, LIMITS);
        open(&mut pool, 1, None, now);
        establish(&mut pool, 1, address(2));
        pool.set_kept_by_peer(ConnectionId(1), true);
        assert!(pool.is_anchored(&local));
        assert!(!pool.is_anchored(&address(1)));
        // Full with no kept connection below: one of its own makes way, if
        // a candidate below exists.
        let mut pool = Pool::new(1, 2, 8, LIMITS);
        pool.dial(sock(7), Role::Kept, Some(address(7)));
        open(&mut pool, 7, Some(sock(7)), now);
        establish(&mut pool, 7, address(7));
        let above: Vec<_> = candidates().filter(|(a, _)| *a > local).collect();
        assert_eq!(pool.make_way_for_anchor(&above, &local), None);
        assert!(pool.wants_kept(&local), "not anchored");
        let all: Vec<_> = candidates().collect();
        assert_eq!(
            pool.make_way_for_anchor(&all, &local),
            Some(ConnectionId(7))
        );
        assert!(!pool.wants_kept(&address(9)), "anchored and full");
    }
}

//! Routing-table glue (docs/PROTOCOL.md §8.7, DESIGN R10): established
//! peers go into the table, full buckets check their least-recently-seen
//! entry before evicting it, `FIND_NODE`/`FIND_VALUE` are answered from the
//! table, and idle buckets are refreshed.

use std::net::SocketAddr;
use std::time::Instant;

use shoutnet_crypto::{Address, PublicKey};
use shoutnet_kad::InsertOutcome;
use shoutnet_wire::{
    Ack, AckResult, MAX_LISTEN_ADDRS, MAX_NODES_PER_REPLY, NodeInfo, NodesFor, Payload,
};

use crate::connection::{Peer, Role};
use crate::dialer::{Reach, dialable};
use crate::engine::NodeEngine;
use crate::event::ConnectionId;
use crate::lookups::Owner;
use crate::requests::Purpose;
use crate::timers::Timer;

/// What the engine knows about how to reach a node of its routing table,
/// from the node's own authenticated hello.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Contact {
    /// The node's key, validated (so a new handshake with it need not
    /// decode the key again).
    pub public: PublicKey,
    /// Where it accepts connections.
    pub listen: Vec<SocketAddr>,
}

impl NodeEngine {
    /// A handshake completed on `conn`: the peer enters the routing table
    /// (if it listens), and the work waiting for it proceeds.
    pub(crate) fn on_established(&mut self, conn: ConnectionId, peer: &Peer, now: Instant) {
        self.connected.add(peer.address, conn);
        self.timers.cancel(Timer::Handshake(conn));
        self.timers
            .set(Timer::Keepalive(conn), now + self.config.keepalive);
        let (role, dialled, expected) = match self.conns.get_mut(&conn) {
            Some(c) => (c.role, c.dialled, std::mem::take(&mut c.expected)),
            None => return,
        };
        if role == Role::Transient {
            self.timers
                .set(Timer::Idle(conn), now + self.config.transient_idle);
        }
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

    /// `peer` was seen alive (a handshake, a request or an answer): it
    /// becomes its bucket's most-recently-seen entry, or enters the table.
    pub(crate) fn seen(&mut self, peer: &Peer, now: Instant) {
        if peer.listen.is_empty() {
            return;
        }
        let contact = Contact {
            public: peer.public.clone(),
            listen: peer.listen.clone(),
        };
        match self.table.insert_or_update(peer.address, contact, now) {
            InsertOutcome::Pending { ping } => self.check_liveness(ping, now),
            // A node that never bootstraps (a seed) starts its upkeep with
            // its first entry, giving a bootstrap the time to finish first.
            InsertOutcome::Inserted if self.upkeep => self.want_kept(now),
            InsertOutcome::Inserted => {
                self.start_upkeep(now + self.config.maintenance_interval, now);
            }
            InsertOutcome::Updated | InsertOutcome::Queued | InsertOutcome::Ignored => {}
        }
        self.drain_table();
    }

    /// The peer of established connection `conn` was seen alive (a request
    /// or an answer). A known entry is only marked seen, without building
    /// a new contact: this runs on every request.
    pub(crate) fn seen_on(&mut self, conn: ConnectionId, now: Instant) {
        let Some(peer) = self.conns.get(&conn).and_then(|c| c.peer.as_ref()) else {
            return;
        };
        if peer.listen.is_empty() {
            return;
        }
        let address = peer.address;
        if self.table.mark_seen(&address, now) {
            self.drain_table();
            return;
        }
        if let Some(peer) = self.conns.get(&conn).and_then(|c| c.peer.clone()) {
            self.seen(&peer, now);
        }
    }

    /// Checks whether the least-recently-seen entry `address` of a full
    /// bucket is alive: a `PING` over its connection, or else a transient
    /// dial, whose handshake is the proof. The answer goes to
    /// `RoutingTable::ping_result`.
    fn check_liveness(&mut self, address: Address, now: Instant) {
        let reach = match self.connected.newest(&address) {
            Some(conn) => Reach::Connected(conn),
            None => self
                .table
                .get(&address)
                .and_then(|c| c.listen.iter().copied().find(dialable))
                .map_or(Reach::Unreachable, |addr| {
                    self.connect_to(address, addr, Role::Transient, now)
                }),
        };
        match reach {
            Reach::Connected(conn) => {
                if !self.send_ping(conn, Purpose::Liveness { address }, now) {
                    self.table.ping_result(&address, false, now);
                }
            }
            Reach::Underway => match self.dials.wait_for(address) {
                Some(waiters) => waiters.liveness = true,
                None => self.table.ping_result(&address, false, now),
            },
            Reach::Unreachable => self.table.ping_result(&address, false, now),
        }
    }

    /// Drains the table's own change reports (the engine needs none of
    /// them) and re-arms the timer of its pending liveness pings.
    pub(crate) fn drain_table(&mut self) {
        while self.table.poll_event().is_some() {}
        let next = self.table.poll_timeout();
        self.timers.set_or_cancel(Timer::TablePing, next);
    }

    /// Answers `FIND_NODE` (or `FIND_VALUE`, with nodes only: no records
    /// are stored yet) with the k closest entries except the requester.
    pub(crate) fn answer_find_node(
        &mut self,
        conn: ConnectionId,
        request_id: u64,
        target: &[u8; 32],
        requester: &Address,
        find_value: bool,
    ) {
        let k = self.config.kad.bucket_size().min(MAX_NODES_PER_REPLY);
        let nodes: Vec<NodeInfo> = self
            .table
            .closest(&Address(*target), k + 1)
            .into_iter()
            .filter(|(a, _)| a != requester)
            .take(k)
            .map(|(_, c)| NodeInfo {
                key: c.public.to_bytes(),
                listen: c.listen.iter().take(MAX_LISTEN_ADDRS).copied().collect(),
                relays: Vec::new(),
            })
            .collect();
        let acked = if find_value {
            NodesFor::FindValue
        } else {
            NodesFor::FindNode
        };
        self.send(
            conn,
            &Payload::Ack(Ack {
                request_id,
                result: AckResult::Nodes { acked, nodes },
            }),
        );
    }

    /// The refresh timer fired: every bucket idle for the refresh interval
    /// gets a lookup of a random address in it.
    pub(crate) fn refresh_due(&mut self, now: Instant) {
        for index in self.table.buckets_to_refresh(now) {
            self.refresh_bucket(index, Owner::Refresh, None, now);
        }
        self.timers
            .set(Timer::Refresh, now + self.config.kad.refresh_interval / 2);
    }

    /// Starts a lookup of a random address in bucket `index`, to find
    /// nodes for that bucket.
    ///
    /// It starts from the entries of bucket `index` and the farther
    /// buckets, never the closer ones: those are this node's own
    /// neighbourhood, whose view of the bucket's subtree is as blind as
    /// this node's, and a lookup started from them alone can end among
    /// them without ever reaching the subtree (seen in the simulator: two
    /// sibling quarters of the address space that never learned of each
    /// other). Farther nodes see the whole subtree as part of one of their
    /// far buckets. Only when those buckets are empty does it start from
    /// the closest entries. It needs only α answers near the target: its
    /// job is to put a few live nodes into the bucket, not to find the
    /// target's k closest, and every contact costs a connection. With
    /// `fill`, it stops as soon as the bucket holds that many entries.
    pub(crate) fn refresh_bucket(
        &mut self,
        index: u8,
        owner: Owner,
        fill: Option<usize>,
        now: Instant,
    ) {
        let mut seed = [0; 32];
        rand_core::RngCore::fill_bytes(&mut self.rng, &mut seed);
        let target = self.table.random_address_in_bucket(index, seed);
        let k = self.config.kad.bucket_size();
        let mut seeds: Vec<Address> = (index..=u8::MAX)
            .flat_map(|i| self.table.bucket_entries(i).into_iter().map(|(a, _)| a))
            .collect();
        seeds.sort_by_key(|a| target.distance(a));
        seeds.truncate(k);
        if seeds.is_empty() {
            seeds = self
                .table
                .closest(&target, k)
                .into_iter()
                .map(|(a, _)| a)
                .collect();
        }
        let mut config = self.config.kad.clone();
        config.k = config.parallelism();
        self.launch_lookup(owner, target, seeds, &config, fill, now);
    }
}

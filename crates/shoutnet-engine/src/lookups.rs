//! Lookups and bootstrap (docs/PROTOCOL.md §8.7, DESIGN R10): drives
//! `shoutnet_kad::Lookup`s over connections, dialling peers as needed, and
//! joins the network as the Kademlia paper does (self-lookup, then a
//! refresh of every bucket farther than the closest neighbour).

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;
use shoutnet_crypto::{Address, PublicKey};
use shoutnet_kad::{KadConfig, Lookup, LookupAction, LookupKind, LookupStats};
use shoutnet_wire::{FindNode, NodeInfo, Opcode, Payload};

use crate::connection::Role;
use crate::dialer::{Reach, dialable};
use crate::engine::NodeEngine;
use crate::event::{ConnectionId, Event, RequestId};
use crate::requests::{Pending, Purpose};
use crate::timers::{LookupId, Timer};

/// Who a lookup reports to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Owner {
    /// A [`Command::FindNode`](crate::Command::FindNode).
    Command(RequestId),
    /// A step of a [`Command::Bootstrap`](crate::Command::Bootstrap).
    Bootstrap(RequestId),
    /// A refresh of an idle bucket.
    Refresh,
}

/// A candidate learned from a `FIND_NODE` answer. Its key is checked only
/// when the lookup goes to contact it: most candidates never are.
#[derive(Clone, Debug)]
pub(crate) struct Candidate {
    key: Bytes,
    addr: SocketAddr,
}

/// One running lookup.
#[derive(Debug)]
pub(crate) struct LookupState {
    lookup: Lookup,
    owner: Owner,
    /// How to reach the lookup's candidates, pruned to those it keeps.
    candidates: BTreeMap<Address, Candidate>,
    /// Peers asked a second time after a connection closed under the first
    /// request.
    retried: BTreeSet<Address>,
    /// For a bootstrap's bucket refresh: the bucket it fills, and the
    /// number of entries at which it has done its job and stops.
    fill: Option<(u8, usize)>,
}

/// Where a bootstrap stands.
#[derive(Debug)]
enum Phase {
    /// Seeds still connecting.
    Seeds(BTreeSet<SocketAddr>),
    /// The lookup of the node's own address runs.
    SelfLookup,
    /// This many bucket refreshes run.
    Refresh(usize),
}

/// One [`Command::Bootstrap`](crate::Command::Bootstrap).
#[derive(Debug)]
pub(crate) struct Bootstrap {
    phase: Phase,
    lookups: usize,
    stats: LookupStats,
}

impl NodeEngine {
    /// Starts `Command::Bootstrap`: dials the seeds (transient: they are
    /// only a way in).
    pub(crate) fn start_bootstrap(&mut self, id: RequestId, seeds: Vec<SocketAddr>, now: Instant) {
        let mut waiting = BTreeSet::new();
        for addr in seeds.into_iter().filter(dialable) {
            if self.dials.is_pending(&addr) {
                waiting.insert(addr);
            } else if self.outbound_count(Role::Transient) < self.config.max_transient {
                self.dial(addr, Role::Transient, None, now);
                waiting.insert(addr);
            }
        }
        self.bootstraps.insert(
            id,
            Bootstrap {
                phase: Phase::Seeds(waiting),
                lookups: 0,
                stats: LookupStats::default(),
            },
        );
        self.advance_bootstraps(now);
    }

    /// A dial of `addr` connected or failed: bootstraps waiting for that
    /// seed move on.
    pub(crate) fn seed_done(&mut self, addr: SocketAddr, now: Instant) {
        let mut any = false;
        for b in self.bootstraps.values_mut() {
            if let Phase::Seeds(seeds) = &mut b.phase {
                any |= seeds.remove(&addr);
            }
        }
        if any {
            self.advance_bootstraps(now);
        }
    }

    /// Starts the self-lookup of every bootstrap whose seeds all connected
    /// or failed.
    fn advance_bootstraps(&mut self, now: Instant) {
        let ready: Vec<RequestId> = self
            .bootstraps
            .iter()
            .filter(|(_, b)| matches!(&b.phase, Phase::Seeds(s) if s.is_empty()))
            .map(|(id, _)| *id)
            .collect();
        for id in ready {
            if let Some(b) = self.bootstraps.get_mut(&id) {
                b.phase = Phase::SelfLookup;
            }
            self.start_lookup(Owner::Bootstrap(id), self.local, now);
        }
    }

    /// A lookup of bootstrap `id` finished.
    fn bootstrap_step(&mut self, id: RequestId, stats: LookupStats, now: Instant) {
        let Some(b) = self.bootstraps.get_mut(&id) else {
            return;
        };
        b.lookups += 1;
        b.stats.requests += stats.requests;
        b.stats.successes += stats.successes;
        b.stats.failures += stats.failures;
        b.stats.timeouts += stats.timeouts;
        b.stats.rounds = b.stats.rounds.max(stats.rounds);
        match b.phase {
            Phase::Seeds(_) => {}
            Phase::SelfLookup => {
                // The Kademlia paper's join: refresh the buckets from the
                // closest neighbour's out, here those still sparse. The
                // count is set first: a refresh that finishes at once
                // counts itself down.
                let below = self.config.bootstrap_refresh_below;
                let buckets: Vec<u8> = self
                    .table
                    .buckets_from_closest()
                    .filter(|&i| self.table.bucket_len(i) < below)
                    .collect();
                b.phase = Phase::Refresh(buckets.len());
                if buckets.is_empty() {
                    self.finish_bootstrap(id, now);
                }
                for index in buckets {
                    self.refresh_bucket(index, Owner::Bootstrap(id), Some(below), now);
                }
            }
            Phase::Refresh(left) => {
                b.phase = Phase::Refresh(left.saturating_sub(1));
                if left <= 1 {
                    self.finish_bootstrap(id, now);
                }
            }
        }
    }

    fn finish_bootstrap(&mut self, id: RequestId, now: Instant) {
        let Some(b) = self.bootstraps.remove(&id) else {
            return;
        };
        self.push_event(Event::BootstrapFinished {
            id,
            table_len: self.table.len(),
            lookups: b.lookups,
            stats: b.stats,
        });
        self.start_upkeep(now, now);
    }

    /// Starts a `FIND_NODE` lookup of `target` from the table's k closest.
    pub(crate) fn start_lookup(&mut self, owner: Owner, target: Address, now: Instant) -> LookupId {
        let k = self.config.kad.bucket_size();
        let seeds: Vec<Address> = self
            .table
            .closest(&target, k)
            .into_iter()
            .map(|(a, _)| a)
            .collect();
        let config = self.config.kad.clone();
        self.launch_lookup(owner, target, seeds, &config, None, now)
    }

    /// Starts a lookup of `target` from `seeds` with `config`, and touches
    /// the target's bucket. With `fill`, it stops once the target's bucket
    /// holds that many entries.
    pub(crate) fn launch_lookup(
        &mut self,
        owner: Owner,
        target: Address,
        seeds: Vec<Address>,
        config: &KadConfig,
        fill: Option<usize>,
        now: Instant,
    ) -> LookupId {
        let id = LookupId(self.next_lookup);
        self.next_lookup += 1;
        let bucket = self.table.bucket_index(&target);
        if let Some(index) = bucket {
            self.table.touch_bucket(index, now);
        }
        let lookup =
            Lookup::new(target, LookupKind::FindNode, seeds, config, now).with_local(self.local);
        self.lookups.insert(
            id,
            LookupState {
                lookup,
                owner,
                candidates: BTreeMap::new(),
                retried: BTreeSet::new(),
                fill: bucket.zip(fill),
            },
        );
        self.drive_lookup(id, now);
        id
    }

    /// Sends what lookup `id` asks for, and reports it when finished.
    pub(crate) fn drive_lookup(&mut self, id: LookupId, now: Instant) {
        loop {
            let Some(state) = self.lookups.get_mut(&id) else {
                return;
            };
            match state.lookup.next(now) {
                LookupAction::Send(peer) => self.request_peer(id, peer, now),
                LookupAction::Waiting => {
                    let next = state.lookup.next_timeout();
                    self.timers.set_or_cancel(Timer::Lookup(id), next);
                    return;
                }
                LookupAction::Finished => {
                    self.finish_lookup(id, now);
                    return;
                }
            }
        }
    }

    fn finish_lookup(&mut self, id: LookupId, now: Instant) {
        let Some(state) = self.lookups.remove(&id) else {
            return;
        };
        self.timers.cancel(Timer::Lookup(id));
        self.dials.forget_lookup(id);
        let stats = state.lookup.stats();
        match state.owner {
            Owner::Command(request) => self.push_event(Event::LookupFinished {
                id: request,
                target: *state.lookup.target(),
                closest: state.lookup.result(),
                stats,
            }),
            Owner::Bootstrap(request) => self.bootstrap_step(request, stats, now),
            Owner::Refresh => {}
        }
    }

    /// Asks `peer` for lookup `id`: over its connection if there is one,
    /// else over a transient connection to its first dialable address. A
    /// candidate learned from an answer has its key checked first.
    pub(crate) fn request_peer(&mut self, id: LookupId, peer: Address, now: Instant) {
        if let Some(conn) = self.connected.newest(&peer) {
            self.send_find_node(conn, id, peer, now);
            return;
        }
        let from_table = self
            .table
            .get(&peer)
            .and_then(|c| Some((c.listen.iter().copied().find(dialable)?, c.public.clone())));
        let target = match from_table {
            Some(target) => Some(target),
            None => self.checked_candidate(id, &peer),
        };
        let Some((addr, public)) = target else {
            self.peer_failed(id, peer, now);
            return;
        };
        match self.connect_to(peer, addr, Role::Transient, now) {
            Reach::Connected(conn) => self.send_find_node(conn, id, peer, now),
            Reach::Underway => match self.dials.wait_for(peer) {
                Some(waiters) => {
                    waiters.lookups.insert(id);
                    waiters.public = Some(public);
                }
                None => {
                    self.stats.lookup_unreachable += 1;
                    self.peer_failed(id, peer, now);
                }
            },
            Reach::Unreachable => {
                self.stats.lookup_unreachable += 1;
                self.peer_failed(id, peer, now);
            }
        }
    }

    /// The dialable address and key of candidate `peer` of lookup `id` if
    /// its key is valid; an invalid one is counted and dropped.
    fn checked_candidate(
        &mut self,
        id: LookupId,
        peer: &Address,
    ) -> Option<(SocketAddr, PublicKey)> {
        let state = self.lookups.get_mut(&id)?;
        let candidate = state.candidates.remove(peer)?;
        match self.known_key(&candidate.key) {
            Ok(public) => Some((candidate.addr, public)),
            Err(_) => {
                self.stats.invalid_nodes += 1;
                None
            }
        }
    }

    /// Lookup `id` gives up on `peer`.
    pub(crate) fn peer_failed(&mut self, id: LookupId, peer: Address, now: Instant) {
        if let Some(state) = self.lookups.get_mut(&id) {
            state.lookup.on_failure(&peer, now);
        }
        self.drive_lookup(id, now);
    }

    /// Sends lookup `id`'s `FIND_NODE` to `peer` on `conn`.
    pub(crate) fn send_find_node(
        &mut self,
        conn: ConnectionId,
        id: LookupId,
        peer: Address,
        now: Instant,
    ) {
        let Some(target) = self.lookups.get(&id).map(|s| *s.lookup.target()) else {
            return;
        };
        let request_id = self.requests.next_id();
        let pending = Pending {
            opcode: Opcode::FindNode,
            purpose: Purpose::FindNode { lookup: id, peer },
        };
        if !self.send_request(conn, request_id, pending, now) {
            self.peer_failed(id, peer, now);
            return;
        }
        self.send(
            conn,
            &Payload::FindNode(FindNode {
                request_id,
                target: target.0,
            }),
        );
        // The lookup's timeout for this peer counts from now, not from when
        // it chose the peer: dialling and the handshake have their own.
        if let Some(state) = self.lookups.get_mut(&id) {
            state.lookup.on_sent(&peer, now);
            let next = state.lookup.next_timeout();
            self.timers.set_or_cancel(Timer::Lookup(id), next);
        }
    }

    /// A `FIND_NODE` to `peer` for lookup `id` lost its connection: ask
    /// again once, over a new connection, since the answer may simply not
    /// have made it (the peer closed an idle connection as the request
    /// crossed it). `false` if it was already asked twice.
    pub(crate) fn retry_find_node(&mut self, id: LookupId, peer: Address, now: Instant) -> bool {
        let Some(state) = self.lookups.get_mut(&id) else {
            return true;
        };
        if !state.retried.insert(peer) {
            return false;
        }
        self.stats.retries += 1;
        self.request_peer(id, peer, now);
        true
    }

    /// `peer` answered lookup `id` with `nodes`. Nodes without an address
    /// (dial-out-only nodes, until relays exist) cannot be contacted and
    /// are left out; so are nodes whose addresses are all undialable
    /// (unspecified, multicast, port 0), counted as invalid. The others
    /// become candidates, their keys checked when contacted.
    pub(crate) fn on_nodes(
        &mut self,
        id: LookupId,
        peer: Address,
        nodes: Vec<NodeInfo>,
        now: Instant,
    ) {
        let Some(state) = self.lookups.get_mut(&id) else {
            return;
        };
        let mut closer = Vec::with_capacity(nodes.len());
        for node in nodes {
            let address = Address::of_key_field(&node.key);
            if address == self.local {
                continue;
            }
            let Some(addr) = node.listen.iter().copied().find(dialable) else {
                if !node.listen.is_empty() {
                    self.stats.invalid_nodes += 1;
                }
                continue;
            };
            state.candidates.entry(address).or_insert(Candidate {
                key: node.key,
                addr,
            });
            closer.push(address);
        }
        state.lookup.on_success(&peer, closer, now);
        let lookup = &state.lookup;
        state.candidates.retain(|a, _| lookup.contains(a));
        if let Some((bucket, enough)) = state.fill
            && self.table.bucket_len(bucket) >= enough
        {
            self.finish_lookup(id, now);
            return;
        }
        self.drive_lookup(id, now);
    }
}

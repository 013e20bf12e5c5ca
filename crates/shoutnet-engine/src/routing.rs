//! Routing-table and lookup glue (docs/PROTOCOL.md §8.7, DESIGN R10):
//! inserting established peers, least-recently-seen liveness pings,
//! answering `FIND_NODE`/`FIND_VALUE`, and driving `shoutnet_kad::Lookup`s
//! over connections, dialling peers as needed.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;
use shoutnet_crypto::{Address, PublicKey};
use shoutnet_kad::{InsertOutcome, Lookup, LookupAction, LookupKind};
use shoutnet_wire::{
    Ack, AckResult, FindNode, MAX_LISTEN_ADDRS, MAX_NODES_PER_REPLY, NodeInfo, NodesFor, Opcode,
    Payload,
};

use crate::connection::{Connection, Peer};
use crate::engine::NodeEngine;
use crate::event::{ConnectionId, Event, RequestId};
use crate::requests::{Pending, Purpose};

/// What the engine knows about how to reach a node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Contact {
    /// The node's key field.
    pub key: Bytes,
    /// Where it accepts connections.
    pub listen: Vec<SocketAddr>,
    /// The connection it was last seen on, if any (it may have closed since).
    pub conn: Option<ConnectionId>,
}

/// What [`NodeEngine::dial`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dial {
    /// A new `Action::Dial` was queued.
    Started,
    /// A dial or handshake to that address is already under way.
    InProgress,
    /// An outbound connection to that address is already established.
    Connected,
    /// ℓ outbound connections are open or being opened.
    Refused,
}

impl NodeEngine {
    /// Outbound connections open or being opened, compared with ℓ.
    fn outbound_count(&self) -> usize {
        self.pending_dials.len()
            + self
                .conns
                .values()
                .filter(|c| c.dialled().is_some())
                .count()
    }

    /// Dials `addr`, expecting the node `target` there if given.
    pub(crate) fn dial(&mut self, addr: SocketAddr, target: Option<Address>, now: Instant) -> Dial {
        let existing = self.conns.values().find(|c| c.dialled() == Some(addr));
        let outcome = match existing {
            Some(Connection { peer: Some(_), .. }) => return Dial::Connected,
            Some(_) => Dial::InProgress,
            None if self.pending_dials.contains_key(&addr) => Dial::InProgress,
            None if self.outbound_count() >= self.config.max_outbound => return Dial::Refused,
            None => {
                self.pending_dials
                    .insert(addr, now + self.config.handshake_timeout);
                self.push_action(crate::Action::Dial { addr });
                Dial::Started
            }
        };
        if let Some(target) = target {
            self.dial_targets.entry(addr).or_insert(target);
        }
        outcome
    }

    /// A dial to `addr` never completed its handshake.
    pub(crate) fn dial_failed(&mut self, addr: SocketAddr, now: Instant) {
        self.pending_dials.remove(&addr);
        if let Some(target) = self.dial_targets.remove(&addr) {
            self.fail_awaiting(&target, now);
        }
        for seeds in self.bootstraps.values_mut() {
            seeds.remove(&addr);
        }
        self.progress_bootstraps(now);
    }

    /// Every lookup waiting for a connection to `target` gives up on it.
    fn fail_awaiting(&mut self, target: &Address, now: Instant) {
        for id in self.awaiting.remove(target).unwrap_or_default() {
            if let Some(l) = self.lookups.get_mut(&id) {
                l.on_failure(target, now);
            }
            self.drive_lookup(id, now);
        }
    }

    /// A handshake completed on `conn`.
    pub(crate) fn on_established(
        &mut self,
        conn: ConnectionId,
        peer: &Peer,
        dialled: Option<SocketAddr>,
        now: Instant,
    ) {
        self.connected.insert(peer.address, conn);
        let contact = Contact {
            key: peer.key.clone(),
            listen: peer.listen.clone(),
            conn: Some(conn),
        };
        self.remember(peer.address, contact.clone());
        if !peer.listen.is_empty() {
            match self.table.insert_or_update(peer.address, contact, now) {
                InsertOutcome::Pending { ping } => self.ping_lrs(ping, now),
                InsertOutcome::Inserted
                | InsertOutcome::Updated
                | InsertOutcome::Queued
                | InsertOutcome::Ignored => {}
            }
            self.drain_table();
        }
        if let Some(addr) = dialled {
            if let Some(expected) = self.dial_targets.remove(&addr)
                && expected != peer.address
            {
                self.fail_awaiting(&expected, now);
            }
            for seeds in self.bootstraps.values_mut() {
                seeds.remove(&addr);
            }
        }
        for id in self.awaiting.remove(&peer.address).unwrap_or_default() {
            self.send_find_node(conn, id, peer.address, now);
        }
        self.progress_bootstraps(now);
    }

    /// Pings the least-recently-seen entry `address` of a full bucket, or
    /// reports it dead if it is not connected.
    fn ping_lrs(&mut self, address: Address, now: Instant) {
        let conn = self.connected.get(&address).copied();
        let sent =
            conn.is_some_and(|conn| self.send_ping(conn, Purpose::Liveness { address }, now));
        if !sent {
            self.table.ping_result(&address, false, now);
        }
    }

    /// Drains the table's own change reports; the engine needs none of
    /// them yet, and draining keeps the table's queue from overflowing.
    pub(crate) fn drain_table(&mut self) {
        while self.table.poll_event().is_some() {}
    }

    /// Stores a contact learned from a handshake or an answer, bounded.
    fn remember(&mut self, address: Address, contact: Contact) {
        if self.contacts.len() >= self.config.table_capacity
            && !self.contacts.contains_key(&address)
        {
            self.stats.dropped_contacts += 1;
            return;
        }
        self.contacts.insert(address, contact);
    }

    /// Answers `FIND_NODE` (or `FIND_VALUE`, with nodes only: no records
    /// are stored yet) with the k closest known contacts except the
    /// requester.
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
                key: c.key.clone(),
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

    /// Starts `Command::Bootstrap`.
    pub(crate) fn start_bootstrap(&mut self, id: RequestId, seeds: Vec<SocketAddr>, now: Instant) {
        let mut waiting = BTreeSet::new();
        for addr in seeds {
            if let Dial::Started | Dial::InProgress = self.dial(addr, None, now) {
                waiting.insert(addr);
            }
        }
        self.bootstraps.insert(id, waiting);
        self.progress_bootstraps(now);
    }

    /// Starts the self-lookup of every bootstrap whose seeds all connected
    /// or failed.
    fn progress_bootstraps(&mut self, now: Instant) {
        let ready: Vec<RequestId> = self
            .bootstraps
            .iter()
            .filter(|(_, seeds)| seeds.is_empty())
            .map(|(id, _)| *id)
            .collect();
        for id in ready {
            self.bootstraps.remove(&id);
            self.start_lookup(id, self.local, now);
        }
    }

    /// Starts a `FIND_NODE` lookup from the table's k closest.
    pub(crate) fn start_lookup(&mut self, id: RequestId, target: Address, now: Instant) {
        let k = self.config.kad.bucket_size();
        let seeds: Vec<Address> = self
            .table
            .closest(&target, k)
            .into_iter()
            .map(|(a, _)| a)
            .collect();
        let lookup = Lookup::new(target, LookupKind::FindNode, seeds, &self.config.kad, now)
            .with_local(self.local);
        self.lookups.insert(id, lookup);
        self.drive_lookup(id, now);
    }

    /// Drives every lookup (after timeouts).
    pub(crate) fn drive_lookups(&mut self, now: Instant) {
        let ids: Vec<RequestId> = self.lookups.keys().copied().collect();
        for id in ids {
            self.drive_lookup(id, now);
        }
    }

    /// Sends what lookup `id` asks for, and reports it when finished.
    pub(crate) fn drive_lookup(&mut self, id: RequestId, now: Instant) {
        loop {
            let Some(lookup) = self.lookups.get_mut(&id) else {
                return;
            };
            match lookup.next(now) {
                LookupAction::Send(peer) => self.request_peer(id, peer, now),
                LookupAction::Waiting => return,
                LookupAction::Finished => {
                    let target = *lookup.target();
                    let closest = lookup.result();
                    let stats = lookup.stats();
                    self.lookups.remove(&id);
                    for waiting in self.awaiting.values_mut() {
                        waiting.remove(&id);
                    }
                    self.awaiting.retain(|_, w| !w.is_empty());
                    self.push_event(Event::LookupFinished {
                        id,
                        target,
                        closest,
                        stats,
                    });
                    return;
                }
            }
        }
    }

    /// Asks `peer` for lookup `id`: over its connection if there is one,
    /// else after dialling its first listen address. A peer that cannot be
    /// reached now (no address, or ℓ outbound connections in use) counts as
    /// a failed request at once rather than waiting for a free slot.
    fn request_peer(&mut self, id: RequestId, peer: Address, now: Instant) {
        if let Some(conn) = self.connected.get(&peer).copied() {
            self.send_find_node(conn, id, peer, now);
            return;
        }
        let addr = self
            .contacts
            .get(&peer)
            .or_else(|| self.table.get(&peer))
            .and_then(|c| c.listen.first().copied());
        let queued = addr.is_some_and(|addr| {
            matches!(
                self.dial(addr, Some(peer), now),
                Dial::Started | Dial::InProgress
            )
        });
        if queued {
            self.awaiting.entry(peer).or_default().insert(id);
        } else {
            self.stats.lookup_unreachable += 1;
            if let Some(l) = self.lookups.get_mut(&id) {
                l.on_failure(&peer, now);
            }
        }
    }

    fn send_find_node(&mut self, conn: ConnectionId, id: RequestId, peer: Address, now: Instant) {
        let Some(target) = self.lookups.get(&id).map(|l| *l.target()) else {
            return;
        };
        let request_id = self.requests.next_id();
        let pending = Pending {
            opcode: Opcode::FindNode,
            deadline: now + self.config.request_timeout,
            purpose: Purpose::FindNode { lookup: id, peer },
        };
        if !self.requests.insert(conn, request_id, pending) {
            self.stats.dropped_requests += 1;
            if let Some(l) = self.lookups.get_mut(&id) {
                l.on_failure(&peer, now);
            }
            return;
        }
        self.send(
            conn,
            &Payload::FindNode(FindNode {
                request_id,
                target: target.0,
            }),
        );
    }

    /// `peer` answered lookup `id` with `nodes`; invalid keys are dropped
    /// and counted, valid ones remembered as contacts.
    pub(crate) fn on_nodes(
        &mut self,
        id: RequestId,
        peer: Address,
        nodes: Vec<NodeInfo>,
        now: Instant,
    ) {
        let mut closer = Vec::with_capacity(nodes.len());
        for node in nodes {
            // A contact's key was validated when it was remembered, so a key
            // field already held as a contact skips the (costly) point
            // decompression of `PublicKey::from_key_field`.
            let address = Address::of_key_field(&node.key);
            let known = self
                .contacts
                .get(&address)
                .is_some_and(|c| c.key == node.key);
            if !known && PublicKey::from_key_field(self.profile, &node.key).is_err() {
                self.stats.invalid_nodes += 1;
                continue;
            }
            if address == self.local {
                continue;
            }
            if !self.contacts.contains_key(&address) || !node.listen.is_empty() {
                let conn = self.connected.get(&address).copied();
                self.remember(
                    address,
                    Contact {
                        key: node.key,
                        listen: node.listen,
                        conn,
                    },
                );
            }
            closer.push(address);
        }
        if let Some(l) = self.lookups.get_mut(&id) {
            l.on_success(&peer, closer, now);
        }
        self.drive_lookup(id, now);
    }
}

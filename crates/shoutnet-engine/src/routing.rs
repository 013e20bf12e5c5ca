//! Routing-table glue (docs/PROTOCOL.md §8.7, §9.5; docs/design.md §13):
//! the Kademlia table of authenticated peers with their contacts, the
//! answers to `FIND_NODE`/`FIND_VALUE`, and the targets and starting points
//! of bucket refreshes.
//!
//! Every method that changes the table settles it before returning: the
//! table's change reports are taken (the engine acts on none of them yet)
//! and the deadline of its pending liveness pings is put in the timer
//! table, so no caller has to remember either.

use std::net::SocketAddr;
use std::time::Instant;

use shoutnet_crypto::{Address, PublicKey};
use shoutnet_kad::{InsertOutcome, KadConfig, RoutingTable};
use shoutnet_wire::{
    Ack, AckResult, MAX_LISTEN_ADDRS, MAX_NODES_PER_REPLY, NodeInfo, NodesFor, Payload,
};

use crate::addrs::first_dialable;
use crate::handshake::Peer;
use crate::timers::{Timer, Timers};

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

/// The routing table and its glue.
#[derive(Debug)]
pub(crate) struct Routing {
    table: RoutingTable<Contact>,
}

impl Routing {
    pub(crate) fn new(local: Address, config: KadConfig, now: Instant) -> Self {
        Self {
            table: RoutingTable::new(local, config, now),
        }
    }

    pub(crate) fn table(&self) -> &RoutingTable<Contact> {
        &self.table
    }

    /// Takes the table's change reports and re-arms the timer of its
    /// pending liveness pings.
    fn settle(&mut self, timers: &mut Timers) {
        while self.table.poll_event().is_some() {}
        timers.set_or_cancel(Timer::TablePing, self.table.poll_timeout());
    }

    /// `peer` was seen alive: it becomes its bucket's most-recently-seen
    /// entry, or enters the table. `None` for a peer that listens nowhere
    /// (a dial-out-only node), which never enters the table.
    pub(crate) fn seen(
        &mut self,
        peer: &Peer,
        now: Instant,
        timers: &mut Timers,
    ) -> Option<InsertOutcome> {
        if peer.listen.is_empty() {
            return None;
        }
        let contact = Contact {
            public: peer.public.clone(),
            listen: peer.listen.clone(),
        };
        let outcome = self.table.insert_or_update(peer.address, contact, now);
        self.settle(timers);
        Some(outcome)
    }

    /// Marks a known entry seen without building a new contact; `false` if
    /// `address` is not in the table.
    pub(crate) fn mark_seen(
        &mut self,
        address: &Address,
        now: Instant,
        timers: &mut Timers,
    ) -> bool {
        let known = self.table.mark_seen(address, now);
        if known {
            self.settle(timers);
        }
        known
    }

    /// The result of a liveness check of `address`.
    pub(crate) fn ping_result(
        &mut self,
        address: &Address,
        alive: bool,
        now: Instant,
        timers: &mut Timers,
    ) {
        self.table.ping_result(address, alive, now);
        self.settle(timers);
    }

    /// A request to `address` failed.
    pub(crate) fn record_failure(&mut self, address: &Address, now: Instant, timers: &mut Timers) {
        self.table.record_failure(address, now);
        self.settle(timers);
    }

    /// The liveness-ping timer fired.
    pub(crate) fn handle_timeout(&mut self, now: Instant, timers: &mut Timers) {
        self.table.handle_timeout(now);
        self.settle(timers);
    }

    /// The validated key of entry `address`, if its key field is `field`.
    pub(crate) fn known_key(&self, address: &Address, field: &[u8]) -> Option<&PublicKey> {
        self.table
            .get(address)
            .map(|c| &c.public)
            .filter(|public| public.key_field() == field)
    }

    /// The first dialable address and the key of entry `address`.
    pub(crate) fn dial_info(&self, address: &Address) -> Option<(SocketAddr, PublicKey)> {
        let c = self.table.get(address)?;
        Some((first_dialable(&c.listen)?, c.public.clone()))
    }

    /// The first dialable address of entry `address`.
    pub(crate) fn dial_address(&self, address: &Address) -> Option<SocketAddr> {
        first_dialable(&self.table.get(address)?.listen)
    }

    /// Entries with a dialable address: the candidates for kept
    /// connections.
    pub(crate) fn dialable_entries(&self) -> impl Iterator<Item = (Address, SocketAddr)> + '_ {
        self.table
            .iter()
            .filter_map(|(a, contact)| Some((a, first_dialable(&contact.listen)?)))
    }

    /// The addresses of the `n` entries closest to `target`.
    pub(crate) fn closest(&self, target: &Address, n: usize) -> Vec<Address> {
        self.table
            .closest(target, n)
            .into_iter()
            .map(|(a, _)| a)
            .collect()
    }

    /// Touches the bucket `target` falls in, as a lookup of it starts, and
    /// returns its index (`None` for the local address).
    pub(crate) fn touch(&mut self, target: &Address, now: Instant) -> Option<u8> {
        let bucket = self.table.bucket_index(target);
        if let Some(index) = bucket {
            self.table.touch_bucket(index, now);
        }
        bucket
    }

    /// The answer to `FIND_NODE` (or `FIND_VALUE`, with nodes only: no
    /// records are stored yet): the k closest entries except the requester.
    pub(crate) fn answer(
        &self,
        request_id: u64,
        target: &[u8; 32],
        requester: &Address,
        find_value: bool,
    ) -> Payload {
        let k = self.table.config().bucket_size().min(MAX_NODES_PER_REPLY);
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
        Payload::Ack(Ack {
            request_id,
            result: AckResult::Nodes { acked, nodes },
        })
    }

    /// The buckets a bootstrap refreshes after its self-lookup: from the
    /// closest neighbour's out, those with fewer than `below` entries.
    pub(crate) fn sparse_buckets(&self, below: usize) -> Vec<u8> {
        self.table
            .buckets_from_closest()
            .filter(|&i| self.table.bucket_len(i) < below)
            .collect()
    }

    /// Buckets idle for the refresh interval.
    pub(crate) fn buckets_to_refresh(&self, now: Instant) -> Vec<u8> {
        self.table.buckets_to_refresh(now)
    }

    /// The target and starting points of a refresh of bucket `index`: a
    /// random address in the bucket (from `seed`), and up to k entries of
    /// that bucket and the farther ones, closest to the target first.
    ///
    /// Never the closer buckets: those are this node's own neighbourhood,
    /// whose view of the bucket's subtree is as blind as this node's, and a
    /// lookup started from them alone can end among them without ever
    /// reaching the subtree (seen in the simulator: two sibling quarters of
    /// the address space that never learned of each other). Farther nodes
    /// see the whole subtree as part of one of their far buckets. Only when
    /// those buckets are empty does it start from the closest entries.
    pub(crate) fn refresh_plan(&self, index: u8, seed: [u8; 32]) -> (Address, Vec<Address>) {
        let target = self.table.random_address_in_bucket(index, seed);
        let k = self.table.config().bucket_size();
        let mut seeds: Vec<Address> = (index..=u8::MAX)
            .flat_map(|i| self.table.bucket_entries(i).into_iter().map(|(a, _)| a))
            .collect();
        seeds.sort_by_key(|a| target.distance(a));
        seeds.truncate(k);
        if seeds.is_empty() {
            seeds = self.closest(&target, k);
        }
        (target, seeds)
    }
}

#[cfg(test)]
mod tests {
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;
    use shoutnet_crypto::Keypair;
    use shoutnet_wire::Profile;

    use super::*;

    fn peer(seed: u8, listen: &[&str]) -> Peer {
        let keypair =
            Keypair::generate(Profile::Ed25519, &mut ChaCha20Rng::from_seed([seed; 32])).unwrap();
        Peer {
            address: keypair.public().routing_address(),
            public: keypair.public().clone(),
            listen: listen.iter().map(|a| a.parse().unwrap()).collect(),
            max_transmission: 1 << 20,
            compression: shoutnet_wire::MethodSet::only_none(),
            preferred: shoutnet_wire::Method::None,
        }
    }

    #[test]
    fn peers_that_listen_enter_and_answers_leave_out_the_requester() {
        #[allow(clippy::disallowed_methods)] // A fixed epoch for the test.
        let now = Instant::now();
        let mut routing = Routing::new(Address([0; 32]), KadConfig::default(), now);
        let mut timers = Timers::default();
        let (a, b, dial_out) = (
            peer(1, &["127.0.0.1:1"]),
            peer(2, &["0.0.0.0:2", "127.0.0.1:2"]),
            peer(3, &[]),
        );
        assert_eq!(
            routing.seen(&a, now, &mut timers),
            Some(InsertOutcome::Inserted)
        );
        assert_eq!(
            routing.seen(&b, now, &mut timers),
            Some(InsertOutcome::Inserted)
        );
        assert_eq!(
            routing.seen(&dial_out, now, &mut timers),
            None,
            "listens nowhere"
        );
        assert_eq!(routing.table().len(), 2);
        assert!(routing.mark_seen(&a.address, now, &mut timers));
        assert!(!routing.mark_seen(&dial_out.address, now, &mut timers));
        assert_eq!(
            routing.dial_address(&b.address),
            Some("127.0.0.1:2".parse().unwrap()),
            "first dialable"
        );
        assert!(
            routing
                .known_key(&a.address, a.public.key_field())
                .is_some()
        );
        assert!(
            routing
                .known_key(&a.address, b.public.key_field())
                .is_none(),
            "another key"
        );
        let Payload::Ack(Ack {
            result: AckResult::Nodes { nodes, .. },
            ..
        }) = routing.answer(1, &a.address.0, &a.address, false)
        else {
            unreachable!()
        };
        assert_eq!(nodes.len(), 1);
        assert_eq!(nodes[0].key, b.public.to_bytes());
        assert_eq!(routing.dialable_entries().count(), 2);
    }

    #[test]
    fn refresh_plans_start_from_the_bucket_and_farther() {
        #[allow(clippy::disallowed_methods)] // A fixed epoch for the test.
        let now = Instant::now();
        let mut routing = Routing::new(Address([0; 32]), KadConfig::default(), now);
        let mut timers = Timers::default();
        for seed in 1..40 {
            routing.seen(&peer(seed, &["127.0.0.1:1"]), now, &mut timers);
        }
        let table = routing.table();
        for index in [250u8, 254, 255] {
            let (target, seeds) = routing.refresh_plan(index, [index; 32]);
            assert_eq!(table.bucket_index(&target), Some(index));
            for s in &seeds {
                assert!(
                    table.bucket_index(s).unwrap() >= index,
                    "never a closer bucket"
                );
            }
        }
        // A bucket with no entries at or past it starts from the closest.
        let mut empty_far = Routing::new(Address([0xff; 32]), KadConfig::default(), now);
        let near = Peer {
            address: Address([0xfe; 32]),
            ..peer(1, &["127.0.0.1:1"])
        };
        empty_far.seen(&near, now, &mut timers);
        let (_, seeds) = empty_far.refresh_plan(255, [0; 32]);
        assert_eq!(seeds, [near.address]);
    }
}

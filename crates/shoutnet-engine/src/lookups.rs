//! Lookups (docs/PROTOCOL.md §8.7, §9.5): the pool of running
//! `shoutnet_kad::Lookup`s, as libp2p's `QueryPool`. Each is stepped with
//! [`Lookups::next`], which says whom to ask, that it waits, or that it
//! finished; answers and failures are fed back. The pool never sends,
//! dials or arms a timer: the engine does, from what it returns.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;
use shoutnet_crypto::Address;
use shoutnet_kad::{KadConfig, Lookup, LookupAction, LookupKind, LookupStats};
use shoutnet_wire::{Metadata, NodeInfo, Value};

use crate::addrs::usable;
use crate::event::CommandId;
use crate::timers::LookupId;

/// Who a lookup reports to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Owner {
    /// A [`Command::FindNode`](crate::Command::FindNode).
    Command(CommandId),
    /// A step of a [`Command::Bootstrap`](crate::Command::Bootstrap).
    Bootstrap(CommandId),
    /// A refresh of an idle bucket.
    Refresh,
    /// The lookup of a record's address before it is stored
    /// (a [`Command::Put`](crate::Command::Put) or a republish).
    Put(PutId),
    /// A [`Command::Get`](crate::Command::Get): a `FIND_VALUE` lookup.
    Get(CommandId),
    /// The lookup of a whisper's destination (the key of the whisper
    /// waiting for it).
    Whisper(u64),
    /// The lookup of the peer of a request of this node, whose address it
    /// did not know (the key of the request waiting for it).
    Request(u64),
}

/// The id of one put the engine runs: a command's or a republish.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct PutId(pub(crate) u64);

/// A value a `FIND_VALUE` lookup found.
#[derive(Clone, Debug)]
pub(crate) struct FoundValue {
    pub(crate) value: Value,
    pub(crate) metadata: Metadata,
    pub(crate) from: Address,
    pub(crate) replicas: usize,
}

/// The most addresses a lookup keeps for one candidate: answers are
/// claims, and a hostile answer that arrives first must not be able to bind
/// an honest key to its own address for the whole lookup.
const MAX_CLAIMED_ADDRESSES: usize = 3;

/// A candidate learned from `FIND_NODE` answers. Its key is checked only
/// when the lookup goes to contact it: most candidates never are. It keeps
/// the first few distinct usable addresses answers claimed for it, tried in
/// the order they arrived.
#[derive(Clone, Debug)]
pub(crate) struct Candidate {
    pub(crate) key: Bytes,
    pub(crate) addrs: Vec<SocketAddr>,
}

/// What a lookup asks for next.
#[derive(Debug)]
pub(crate) enum Step {
    /// Ask this peer.
    Send(Address),
    /// Wait for answers; its earliest request deadline, if any.
    Waiting(Option<Instant>),
    /// It finished, and left the pool.
    Finished(Box<Finished>),
}

/// A lookup that ended.
#[derive(Debug)]
pub(crate) struct Finished {
    pub(crate) owner: Owner,
    pub(crate) target: Address,
    /// Up to k closest peers that answered, nearest first.
    pub(crate) closest: Vec<Address>,
    pub(crate) stats: LookupStats,
    /// Where the lookup reached those of `closest` it contacted at a
    /// claimed address: a put or a whisper goes there next, and the
    /// connection may be gone and the node absent from the routing table.
    pub(crate) addresses: BTreeMap<Address, SocketAddr>,
    /// For a `FIND_VALUE` lookup, its key and the value, if one was found.
    pub(crate) value_key: Option<Bytes>,
    pub(crate) found: Option<FoundValue>,
}

/// What an answer did to its lookup.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Answered {
    /// Node infos that named addresses but none dialable.
    pub(crate) invalid: u64,
    /// For a bucket refresh that fills a bucket: the bucket and the number
    /// of entries at which the lookup has done its job.
    pub(crate) fill: Option<(u8, usize)>,
}

/// One running lookup.
#[derive(Debug)]
struct State {
    lookup: Lookup,
    owner: Owner,
    /// How to reach the lookup's candidates, pruned to those it keeps.
    candidates: BTreeMap<Address, Candidate>,
    /// Peers asked a second time after a connection closed under the first
    /// request.
    retried: BTreeSet<Address>,
    /// Candidates being contacted, with the addresses left to try if the
    /// one being dialled does not reach them.
    contacting: BTreeMap<Address, Candidate>,
    fill: Option<(u8, usize)>,
    /// The address each contacted candidate was last tried at.
    tried: BTreeMap<Address, SocketAddr>,
    /// The DHT key of a `FIND_VALUE` lookup.
    value_key: Option<Bytes>,
    found: Option<FoundValue>,
}

/// The running lookups of the node at `local`.
#[derive(Debug)]
pub(crate) struct Lookups {
    local: Address,
    /// Whether claimed loopback and private addresses are usable.
    local_network: bool,
    running: BTreeMap<LookupId, State>,
    next_id: u64,
}

impl Lookups {
    /// No lookups yet; they will never ask `local`, this node, and use
    /// claimed non-global addresses only on a `local_network`.
    pub(crate) fn new(local: Address, local_network: bool) -> Self {
        Self {
            local,
            local_network,
            running: BTreeMap::new(),
            next_id: 0,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.running.len()
    }

    /// Starts a lookup of `target` from `seeds` with `config`: a
    /// `FIND_VALUE` of `value_key` if given, else a `FIND_NODE`. With
    /// `fill`, it has done its job once the bucket named holds that many
    /// entries (see [`Answered::fill`]).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn start(
        &mut self,
        owner: Owner,
        target: Address,
        value_key: Option<Bytes>,
        seeds: Vec<Address>,
        config: &KadConfig,
        fill: Option<(u8, usize)>,
        now: Instant,
    ) -> LookupId {
        self.next_id += 1;
        let id = LookupId(self.next_id);
        let kind = match value_key {
            Some(_) => LookupKind::FindValue,
            None => LookupKind::FindNode,
        };
        let lookup = Lookup::new(target, kind, seeds, config, now).with_local(self.local);
        self.running.insert(
            id,
            State {
                lookup,
                owner,
                candidates: BTreeMap::new(),
                retried: BTreeSet::new(),
                contacting: BTreeMap::new(),
                fill,
                tried: BTreeMap::new(),
                value_key,
                found: None,
            },
        );
        id
    }

    /// What lookup `id` asks for next; `None` if it is not running.
    pub(crate) fn next(&mut self, id: LookupId, now: Instant) -> Option<Step> {
        let state = self.running.get_mut(&id)?;
        Some(match state.lookup.next(now) {
            LookupAction::Send(peer) => Step::Send(peer),
            LookupAction::Waiting => Step::Waiting(state.lookup.next_timeout()),
            LookupAction::Finished => Step::Finished(Box::new(self.finish(id)?)),
        })
    }

    /// Ends lookup `id` now.
    pub(crate) fn finish(&mut self, id: LookupId) -> Option<Finished> {
        let mut state = self.running.remove(&id)?;
        let closest = state.lookup.result();
        let addresses = closest
            .iter()
            .filter_map(|a| Some((*a, state.tried.remove(a)?)))
            .collect();
        Some(Finished {
            owner: state.owner,
            target: *state.lookup.target(),
            closest,
            addresses,
            stats: state.lookup.stats(),
            value_key: state.value_key,
            found: state.found,
        })
    }

    /// The target of lookup `id`.
    pub(crate) fn target(&self, id: LookupId) -> Option<Address> {
        Some(*self.running.get(&id)?.lookup.target())
    }

    /// The DHT key lookup `id` asks for with `FIND_VALUE`, if it is one.
    pub(crate) fn value_key(&self, id: LookupId) -> Option<Bytes> {
        self.running.get(&id)?.value_key.clone()
    }

    /// `peer` answered `FIND_VALUE` lookup `id` with a value the engine
    /// checked: the first one is kept, and the lookup ends. `false` if the
    /// lookup is not running or not a `FIND_VALUE`.
    pub(crate) fn on_value(
        &mut self,
        id: LookupId,
        peer: Address,
        value: Value,
        metadata: Metadata,
        now: Instant,
    ) -> bool {
        let Some(state) = self.running.get_mut(&id) else {
            return false;
        };
        if state.value_key.is_none() {
            return false;
        }
        match &mut state.found {
            Some(found) => found.replicas += 1,
            None => {
                state.found = Some(FoundValue {
                    value,
                    metadata,
                    from: peer,
                    replicas: 1,
                });
            }
        }
        state.lookup.on_value(&peer, now);
        true
    }

    /// Lookup `id` goes to contact candidate `peer`: its unchecked key and
    /// the first address claimed for it. The other addresses are kept for
    /// [`next_address`](Self::next_address).
    pub(crate) fn take_candidate(
        &mut self,
        id: LookupId,
        peer: &Address,
    ) -> Option<(Bytes, SocketAddr)> {
        let state = self.running.get_mut(&id)?;
        let mut candidate = state.candidates.remove(peer)?;
        if candidate.addrs.is_empty() {
            return None;
        }
        let first = candidate.addrs.remove(0);
        state.tried.insert(*peer, first);
        let key = candidate.key.clone();
        if !candidate.addrs.is_empty() {
            state.contacting.insert(*peer, candidate);
        }
        Some((key, first))
    }

    /// Another address claimed for candidate `peer` of lookup `id`, with
    /// its unchecked key, after the one tried did not reach it.
    pub(crate) fn next_address(
        &mut self,
        id: LookupId,
        peer: &Address,
    ) -> Option<(Bytes, SocketAddr)> {
        let state = self.running.get_mut(&id)?;
        let candidate = state.contacting.get_mut(peer)?;
        if candidate.addrs.is_empty() {
            state.contacting.remove(peer);
            return None;
        }
        let next = candidate.addrs.remove(0);
        state.tried.insert(*peer, next);
        Some((candidate.key.clone(), next))
    }

    /// Its request to `peer` actually left: its timeout counts from now,
    /// not from when the lookup chose the peer. Returns the lookup's next
    /// deadline.
    pub(crate) fn on_sent(
        &mut self,
        id: LookupId,
        peer: &Address,
        now: Instant,
    ) -> Option<Option<Instant>> {
        let state = self.running.get_mut(&id)?;
        state.lookup.on_sent(peer, now);
        Some(state.lookup.next_timeout())
    }

    /// Lookup `id` gives up on `peer`.
    pub(crate) fn on_failure(&mut self, id: LookupId, peer: &Address, now: Instant) {
        if let Some(state) = self.running.get_mut(&id) {
            state.lookup.on_failure(peer, now);
        }
    }

    /// Whether lookup `id` may ask `peer` a second time after a connection
    /// closed under its request (once per peer). `None` if the lookup is no
    /// longer running.
    pub(crate) fn may_retry(&mut self, id: LookupId, peer: Address) -> Option<bool> {
        Some(self.running.get_mut(&id)?.retried.insert(peer))
    }

    /// `peer` answered lookup `id` with `nodes`. Nodes without an address
    /// (dial-out-only nodes, until relays exist) cannot be contacted and
    /// are left out; so are nodes whose addresses are all unusable
    /// (undialable, or not global off a local network), counted as invalid.
    /// The others become candidates, their keys checked when contacted; a
    /// candidate named again with other addresses keeps up to
    /// [`MAX_CLAIMED_ADDRESSES`] of them.
    pub(crate) fn on_nodes(
        &mut self,
        id: LookupId,
        peer: &Address,
        nodes: Vec<NodeInfo>,
        now: Instant,
    ) -> Option<Answered> {
        let state = self.running.get_mut(&id)?;
        let mut answered = Answered {
            invalid: 0,
            fill: state.fill,
        };
        let mut closer = Vec::with_capacity(nodes.len());
        for node in nodes {
            let address = Address::of_key_field(&node.key);
            if address == self.local {
                continue;
            }
            let usable: Vec<SocketAddr> = node
                .listen
                .iter()
                .copied()
                .filter(|a| usable(a, self.local_network))
                .collect();
            if usable.is_empty() {
                if !node.listen.is_empty() {
                    answered.invalid += 1;
                }
                continue;
            }
            let candidate = state.candidates.entry(address).or_insert(Candidate {
                key: node.key,
                addrs: Vec::new(),
            });
            for addr in usable {
                if candidate.addrs.len() < MAX_CLAIMED_ADDRESSES && !candidate.addrs.contains(&addr)
                {
                    candidate.addrs.push(addr);
                }
            }
            closer.push(address);
        }
        state.lookup.on_success(peer, closer, now);
        let lookup = &state.lookup;
        state.candidates.retain(|a, _| lookup.contains(a));
        Some(answered)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(i: u8) -> Address {
        Address([i; 32])
    }

    fn node(key: u8, listen: &[&str]) -> NodeInfo {
        NodeInfo {
            key: Bytes::from(vec![key; 32]),
            listen: listen.iter().map(|s| s.parse().unwrap()).collect(),
            relays: Vec::new(),
        }
    }

    #[test]
    fn claims_keep_several_addresses_and_only_usable_ones() {
        #[allow(clippy::disallowed_methods)] // A fixed epoch for the test.
        let now = Instant::now();
        let mut config = KadConfig::default();
        config.set_k(2).set_alpha(1);
        let mut pool = Lookups::new(a(9), false);
        let id = pool.start(Owner::Refresh, a(0), None, vec![a(1)], &config, None, now);
        let Some(Step::Send(first)) = pool.next(id, now) else {
            panic!()
        };
        // A hostile answer names node 2 at its own address first; an honest
        // one names its real address; a third names only loopback.
        let answers = [
            vec![node(2, &["8.8.8.8:666"])],
            vec![
                node(2, &["1.1.1.1:4000", "8.8.8.8:666"]),
                node(3, &["127.0.0.1:3"]),
            ],
        ];
        let mut invalid = 0;
        for nodes in answers {
            invalid += pool.on_nodes(id, &first, nodes, now).unwrap().invalid;
        }
        assert_eq!(invalid, 1, "loopback is not usable off a local network");
        let two = Address::of_key_field(&[2; 32]);
        let (_, tried) = pool.take_candidate(id, &two).unwrap();
        assert_eq!(tried, "8.8.8.8:666".parse().unwrap());
        let (_, next) = pool.next_address(id, &two).unwrap();
        assert_eq!(
            next,
            "1.1.1.1:4000".parse().unwrap(),
            "the honest claim is tried next"
        );
        assert!(pool.next_address(id, &two).is_none());
    }

    #[test]
    fn a_lookup_asks_takes_answers_and_finishes() {
        #[allow(clippy::disallowed_methods)] // A fixed epoch for the test.
        let now = Instant::now();
        let mut pool = Lookups::new(a(9), true);
        let mut config = KadConfig::default();
        config.set_k(2).set_alpha(1);
        let id = pool.start(
            Owner::Refresh,
            a(0),
            None,
            vec![a(1)],
            &config,
            Some((3, 1)),
            now,
        );
        assert_eq!(pool.len(), 1);
        let Some(Step::Send(first)) = pool.next(id, now) else {
            panic!()
        };
        assert_eq!(first, a(1));
        assert!(matches!(pool.next(id, now), Some(Step::Waiting(Some(_)))));
        // (node key, listen) → counted invalid or kept as a candidate.
        let nodes = vec![
            node(2, &["127.0.0.1:2"]),
            node(3, &["0.0.0.0:3"]),
            node(4, &[]),
        ];
        let answered = pool.on_nodes(id, &first, nodes, now).unwrap();
        assert_eq!(
            answered,
            Answered {
                invalid: 1,
                fill: Some((3, 1))
            }
        );
        let two = Address::of_key_field(&[2; 32]);
        let Some(Step::Send(next)) = pool.next(id, now) else {
            panic!()
        };
        assert_eq!(next, two);
        let (_, addr) = pool.take_candidate(id, &two).unwrap();
        assert_eq!(addr, "127.0.0.1:2".parse().unwrap());
        assert!(
            pool.next_address(id, &two).is_none(),
            "only one was claimed"
        );
        assert_eq!(pool.may_retry(id, two), Some(true));
        assert_eq!(pool.may_retry(id, two), Some(false), "once per peer");
        pool.on_failure(id, &two, now);
        let Some(Step::Finished(done)) = pool.next(id, now) else {
            panic!()
        };
        assert_eq!(done.owner, Owner::Refresh);
        assert_eq!(done.closest, [a(1)]);
        assert!(pool.next(id, now).is_none(), "gone once finished");
        assert_eq!(pool.may_retry(id, two), None);
    }
}

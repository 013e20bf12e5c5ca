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
use shoutnet_wire::NodeInfo;

use crate::addrs::first_dialable;
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
}

/// A candidate learned from a `FIND_NODE` answer. Its key is checked only
/// when the lookup goes to contact it: most candidates never are.
#[derive(Clone, Debug)]
pub(crate) struct Candidate {
    pub(crate) key: Bytes,
    pub(crate) addr: SocketAddr,
}

/// What a lookup asks for next.
#[derive(Debug)]
pub(crate) enum Step {
    /// Ask this peer.
    Send(Address),
    /// Wait for answers; its earliest request deadline, if any.
    Waiting(Option<Instant>),
    /// It finished, and left the pool.
    Finished(Finished),
}

/// A lookup that ended.
#[derive(Debug)]
pub(crate) struct Finished {
    pub(crate) owner: Owner,
    pub(crate) target: Address,
    /// Up to k closest peers that answered, nearest first.
    pub(crate) closest: Vec<Address>,
    pub(crate) stats: LookupStats,
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
    fill: Option<(u8, usize)>,
}

/// The running lookups of the node at `local`.
#[derive(Debug)]
pub(crate) struct Lookups {
    local: Address,
    running: BTreeMap<LookupId, State>,
    next_id: u64,
}

impl Lookups {
    /// No lookups yet; they will never ask `local`, this node.
    pub(crate) fn new(local: Address) -> Self {
        Self {
            local,
            running: BTreeMap::new(),
            next_id: 0,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.running.len()
    }

    /// Starts a lookup of `target` from `seeds` with `config`. With `fill`, it has done its job once the bucket named
    /// holds that many entries (see [`Answered::fill`]).
    pub(crate) fn start(
        &mut self,
        owner: Owner,
        target: Address,
        seeds: Vec<Address>,
        config: &KadConfig,
        fill: Option<(u8, usize)>,
        now: Instant,
    ) -> LookupId {
        self.next_id += 1;
        let id = LookupId(self.next_id);
        let lookup =
            Lookup::new(target, LookupKind::FindNode, seeds, config, now).with_local(self.local);
        self.running.insert(
            id,
            State {
                lookup,
                owner,
                candidates: BTreeMap::new(),
                retried: BTreeSet::new(),
                fill,
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
            LookupAction::Finished => Step::Finished(self.finish(id)?),
        })
    }

    /// Ends lookup `id` now.
    pub(crate) fn finish(&mut self, id: LookupId) -> Option<Finished> {
        let state = self.running.remove(&id)?;
        Some(Finished {
            owner: state.owner,
            target: *state.lookup.target(),
            closest: state.lookup.result(),
            stats: state.lookup.stats(),
        })
    }

    /// The target of lookup `id`.
    pub(crate) fn target(&self, id: LookupId) -> Option<Address> {
        Some(*self.running.get(&id)?.lookup.target())
    }

    /// The candidate `peer` of lookup `id`, taken: how to reach it and its
    /// unchecked key.
    pub(crate) fn take_candidate(&mut self, id: LookupId, peer: &Address) -> Option<Candidate> {
        self.running.get_mut(&id)?.candidates.remove(peer)
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
    /// are left out; so are nodes whose addresses are all undialable,
    /// counted as invalid. The others become candidates, their keys checked
    /// when contacted.
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
            let Some(addr) = first_dialable(&node.listen) else {
                if !node.listen.is_empty() {
                    answered.invalid += 1;
                }
                continue;
            };
            state.candidates.entry(address).or_insert(Candidate {
                key: node.key,
                addr,
            });
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
    fn a_lookup_asks_takes_answers_and_finishes() {
        #[allow(clippy::disallowed_methods)] // A fixed epoch for the test.
        let now = Instant::now();
        let mut pool = Lookups::new(a(9));
        let mut config = KadConfig::default();
        config.set_k(2).set_alpha(1);
        let id = pool.start(Owner::Refresh, a(0), vec![a(1)], &config, Some((3, 1)), now);
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
        let candidate = pool.take_candidate(id, &two).unwrap();
        assert_eq!(candidate.addr, "127.0.0.1:2".parse().unwrap());
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

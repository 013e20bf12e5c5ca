//! The iterative lookup (implements docs/design.md §13 / docs/PROTOCOL.md
//! §8.7): α requests in flight towards the k closest known peers,
//! per-request timeouts, for `FIND_NODE` and `FIND_VALUE`.
//!
//! Modelled on libp2p's `ClosestPeersIter`: the caller asks [`Lookup::next`]
//! what to do, sends the requests it names, and reports each answer through
//! [`Lookup::on_success`], [`Lookup::on_failure`] or [`Lookup::on_value`].
//! Timeouts fire inside `next(now)`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use shoutnet_crypto::{Address, Distance};

use crate::config::KadConfig;

/// Which request a lookup sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LookupKind {
    /// `FIND_NODE`: find the k closest nodes to the target.
    FindNode,
    /// `FIND_VALUE`: find a value stored under the target; stops at the
    /// first peer that has it ([`Lookup::on_value`]).
    FindValue,
}

/// What the caller should do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LookupAction {
    /// Send the lookup's request to this peer now, then call `next` again.
    Send(Address),
    /// Nothing to do until an answer arrives or [`Lookup::next_timeout`].
    Waiting,
    /// The lookup is over; read [`Lookup::result`].
    Finished,
}

/// Counters of one lookup, for the simulator's requests-and-hops tables.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LookupStats {
    /// Requests sent (one per contacted peer).
    pub requests: u64,
    /// Answers received (closer peers or the value).
    pub successes: u64,
    /// Requests the caller reported as failed.
    pub failures: u64,
    /// Requests that passed their deadline without an answer.
    pub timeouts: u64,
    /// Hops: the greatest depth of a contacted peer, where seeds have depth 1
    /// and a peer first learned from a peer of depth `d` has depth `d + 1`.
    pub rounds: u32,
}

/// Where a candidate stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PeerState {
    /// Known, not yet asked.
    NotContacted,
    /// Asked; the answer is due by the deadline.
    Waiting { deadline: Instant },
    /// Asked and timed out. Not in flight any more, and treated as failed,
    /// but a late answer still counts (as in libp2p).
    Unresponsive,
    /// Asked; the request failed.
    Failed,
    /// Asked and answered.
    Succeeded,
}

#[derive(Debug, Clone, Copy)]
struct Candidate {
    address: Address,
    state: PeerState,
    depth: u32,
}

/// An iterative Kademlia lookup of one target.
///
/// Rules: candidates are ordered by XOR distance to the target; at most α
/// requests are in flight; only the k closest candidates that have not
/// failed are asked; each peer is asked at most once. The lookup finishes
/// when those k closest have all answered (or no candidate is left and
/// nothing is in flight), or when a `FIND_VALUE` finds the value.
///
/// Memory is bounded: at most [`KadConfig::max_candidates`] candidates are
/// kept, dropping the farthest not yet contacted ones. Contacted peers are
/// never dropped, so no peer is asked twice.
#[derive(Debug, Clone)]
pub struct Lookup {
    target: Address,
    kind: LookupKind,
    k: usize,
    alpha: usize,
    max_candidates: usize,
    request_timeout: Duration,
    local: Option<Address>,
    candidates: BTreeMap<Distance, Candidate>,
    in_flight: usize,
    finished: bool,
    value_from: Option<Address>,
    stats: LookupStats,
}

impl Lookup {
    /// A lookup of `target` starting from `seeds` (typically the table's
    /// k closest to `target`).
    pub fn new(
        target: Address,
        kind: LookupKind,
        seeds: impl IntoIterator<Item = Address>,
        config: &KadConfig,
        now: Instant,
    ) -> Self {
        let _ = now;
        let mut lookup = Self {
            target,
            kind,
            k: config.bucket_size(),
            alpha: config.parallelism(),
            max_candidates: config.max_candidates(),
            request_timeout: config.request_timeout,
            local: None,
            candidates: BTreeMap::new(),
            in_flight: 0,
            finished: false,
            value_from: None,
            stats: LookupStats::default(),
        };
        for seed in seeds {
            lookup.add_candidate(seed, 1);
        }
        lookup
    }

    /// Never contacts `local` (the node running the lookup), even if peers
    /// return it.
    pub fn with_local(mut self, local: Address) -> Self {
        self.candidates.remove(&self.target.distance(&local));
        self.local = Some(local);
        self
    }

    /// The target address.
    pub fn target(&self) -> &Address {
        &self.target
    }

    /// The request kind.
    pub fn kind(&self) -> LookupKind {
        self.kind
    }

    /// The next thing to do. Requests in flight past their deadline are
    /// marked unresponsive first.
    ///
    /// Call it until it returns [`LookupAction::Waiting`] or
    /// [`LookupAction::Finished`]; each [`LookupAction::Send`] counts as
    /// sent.
    pub fn next(&mut self, now: Instant) -> LookupAction {
        if self.finished {
            return LookupAction::Finished;
        }
        for candidate in self.candidates.values_mut() {
            if let PeerState::Waiting { deadline } = candidate.state
                && deadline <= now
            {
                candidate.state = PeerState::Unresponsive;
                self.in_flight -= 1;
                self.stats.timeouts += 1;
            }
        }

        // Walk the k closest candidates that have not failed.
        let mut to_send = None;
        let mut all_succeeded = true;
        let mut seen = 0;
        for candidate in self.candidates.values() {
            if seen == self.k {
                break;
            }
            match candidate.state {
                PeerState::Failed | PeerState::Unresponsive => continue,
                PeerState::Succeeded => {}
                PeerState::Waiting { .. } => all_succeeded = false,
                PeerState::NotContacted => {
                    all_succeeded = false;
                    if to_send.is_none() {
                        to_send = Some(candidate.address);
                    }
                }
            }
            seen += 1;
        }
        // Either the k closest all answered, or fewer than k are left and
        // they all answered (then nothing of theirs is in flight either).
        if all_succeeded {
            self.finished = true;
            return LookupAction::Finished;
        }
        match to_send {
            Some(peer) if self.in_flight < self.alpha => {
                let deadline = now + self.request_timeout;
                if let Some(c) = self.candidates.get_mut(&self.target.distance(&peer)) {
                    c.state = PeerState::Waiting { deadline };
                    self.stats.rounds = self.stats.rounds.max(c.depth);
                }
                self.in_flight += 1;
                self.stats.requests += 1;
                LookupAction::Send(peer)
            }
            _ => LookupAction::Waiting,
        }
    }

    /// `peer` answered with `closer` peers. Answers from peers not asked by
    /// this lookup are ignored; a late answer after a timeout still counts.
    pub fn on_success(
        &mut self,
        peer: &Address,
        closer: impl IntoIterator<Item = Address>,
        now: Instant,
    ) {
        let _ = now;
        if self.finished {
            return;
        }
        let Some(depth) = self.answered(peer) else {
            return;
        };
        for address in closer {
            self.add_candidate(address, depth.saturating_add(1));
        }
    }

    /// The request to `peer` went out only now (the caller had to connect
    /// first): its timeout counts from `now`. Ignored unless the lookup
    /// still waits for that peer.
    pub fn on_sent(&mut self, peer: &Address, now: Instant) {
        if self.finished {
            return;
        }
        let timeout = self.request_timeout;
        if let Some(c) = self.candidates.get_mut(&self.target.distance(peer))
            && matches!(c.state, PeerState::Waiting { .. })
        {
            c.state = PeerState::Waiting {
                deadline: now + timeout,
            };
        }
    }

    /// The request to `peer` failed (refused, connection lost, a malformed
    /// answer). The lookup goes on without it.
    pub fn on_failure(&mut self, peer: &Address, now: Instant) {
        let _ = now;
        if self.finished {
            return;
        }
        let Some(candidate) = self.candidates.get_mut(&self.target.distance(peer)) else {
            return;
        };
        match candidate.state {
            PeerState::Waiting { .. } => {
                self.in_flight -= 1;
                candidate.state = PeerState::Failed;
                self.stats.failures += 1;
            }
            PeerState::Unresponsive => {
                // Already counted as a timeout.
                candidate.state = PeerState::Failed;
            }
            _ => {}
        }
    }

    /// `peer` returned the value a `FIND_VALUE` looks for: the lookup
    /// finishes. For a `FIND_NODE` this is an answer without closer peers.
    pub fn on_value(&mut self, peer: &Address, now: Instant) {
        let _ = now;
        if self.finished || self.answered(peer).is_none() {
            return;
        }
        if self.kind == LookupKind::FindValue {
            self.value_from = Some(*peer);
            self.finished = true;
        }
    }

    /// The earliest deadline of a request in flight; `None` when finished
    /// or nothing is in flight.
    pub fn next_timeout(&self) -> Option<Instant> {
        if self.finished {
            return None;
        }
        self.candidates
            .values()
            .filter_map(|c| match c.state {
                PeerState::Waiting { deadline } => Some(deadline),
                _ => None,
            })
            .min()
    }

    /// Whether the lookup is over.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// The peer that returned the value, for a finished `FIND_VALUE`.
    pub fn value_from(&self) -> Option<&Address> {
        self.value_from.as_ref()
    }

    /// Up to k closest peers that answered, nearest first.
    pub fn result(&self) -> Vec<Address> {
        self.candidates
            .values()
            .filter(|c| c.state == PeerState::Succeeded)
            .take(self.k)
            .map(|c| c.address)
            .collect()
    }

    /// Whether `address` is among the lookup's candidates (learned and not
    /// dropped, whatever its state).
    pub fn contains(&self, address: &Address) -> bool {
        self.candidates
            .get(&self.target.distance(address))
            .is_some_and(|c| c.address == *address)
    }

    /// Number of requests in flight.
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// The counters so far.
    pub fn stats(&self) -> LookupStats {
        self.stats
    }

    /// Marks `peer` as answered, returning its depth, or `None` if it was
    /// not waiting for an answer.
    fn answered(&mut self, peer: &Address) -> Option<u32> {
        let candidate = self.candidates.get_mut(&self.target.distance(peer))?;
        match candidate.state {
            PeerState::Waiting { .. } => self.in_flight -= 1,
            PeerState::Unresponsive => {}
            _ => return None,
        }
        candidate.state = PeerState::Succeeded;
        self.stats.successes += 1;
        Some(candidate.depth)
    }

    /// Adds a newly learned peer, keeping the candidate set bounded.
    fn add_candidate(&mut self, address: Address, depth: u32) {
        if self.local == Some(address) {
            return;
        }
        let distance = self.target.distance(&address);
        if self.candidates.contains_key(&distance) {
            return;
        }
        self.candidates.insert(
            distance,
            Candidate {
                address,
                state: PeerState::NotContacted,
                depth,
            },
        );
        if self.candidates.len() > self.max_candidates {
            let farthest = self
                .candidates
                .iter()
                .rev()
                .find(|(_, c)| c.state == PeerState::NotContacted)
                .map(|(d, _)| *d);
            if let Some(farthest) = farthest {
                self.candidates.remove(&farthest);
            }
        }
    }
}

//! Joining the network (docs/PROTOCOL.md §9.5), as libp2p-kad's
//! `bootstrap.rs`: each `Command::Bootstrap` waits for its seeds to connect
//! or fail, runs a lookup of the node's own address, then refreshes the
//! sparse buckets; it reports what to do next and never acts itself.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;

use shoutnet_kad::LookupStats;

use crate::event::CommandId;

/// Where one bootstrap stands.
#[derive(Debug)]
enum Phase {
    /// Seeds still connecting.
    Seeds(BTreeSet<SocketAddr>),
    /// The lookup of the node's own address runs.
    SelfLookup,
    /// This many bucket refreshes run.
    Refresh(usize),
}

/// One bootstrap.
#[derive(Debug)]
struct Bootstrap {
    phase: Phase,
    lookups: usize,
    stats: LookupStats,
}

/// What a finished lookup of a bootstrap leads to.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Next {
    /// Nothing yet.
    Wait,
    /// The self-lookup ended: refresh the sparse buckets, after telling
    /// [`Bootstraps::refreshing`] how many.
    Refresh,
    /// The bootstrap is over.
    Done(Summary),
}

/// A finished bootstrap.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Summary {
    /// Lookups run: the self-lookup and one per refreshed bucket.
    pub(crate) lookups: usize,
    /// Their counters, summed (`rounds` is the most of any one).
    pub(crate) stats: LookupStats,
}

/// The bootstraps running.
#[derive(Debug, Default)]
pub(crate) struct Bootstraps(BTreeMap<CommandId, Bootstrap>);

impl Bootstraps {
    /// Starts bootstrap `id`, waiting for `seeds`.
    pub(crate) fn start(&mut self, id: CommandId, seeds: BTreeSet<SocketAddr>) {
        let b = Bootstrap {
            phase: Phase::Seeds(seeds),
            lookups: 0,
            stats: LookupStats::default(),
        };
        self.0.insert(id, b);
    }

    /// The seed at `addr` connected or failed; `true` if a bootstrap waited
    /// for it.
    pub(crate) fn seed_done(&mut self, addr: SocketAddr) -> bool {
        let mut any = false;
        for b in self.0.values_mut() {
            if let Phase::Seeds(seeds) = &mut b.phase {
                any |= seeds.remove(&addr);
            }
        }
        any
    }

    /// The bootstraps whose seeds have all connected or failed, moved on to
    /// their self-lookup, which the engine starts.
    pub(crate) fn ready(&mut self) -> Vec<CommandId> {
        let mut ready = Vec::new();
        for (id, b) in &mut self.0 {
            if matches!(&b.phase, Phase::Seeds(s) if s.is_empty()) {
                b.phase = Phase::SelfLookup;
                ready.push(*id);
            }
        }
        ready
    }

    /// A lookup of bootstrap `id` finished with `stats`.
    pub(crate) fn on_lookup(&mut self, id: CommandId, stats: LookupStats) -> Next {
        let Some(b) = self.0.get_mut(&id) else {
            return Next::Wait;
        };
        b.lookups += 1;
        b.stats.requests += stats.requests;
        b.stats.successes += stats.successes;
        b.stats.failures += stats.failures;
        b.stats.timeouts += stats.timeouts;
        b.stats.rounds = b.stats.rounds.max(stats.rounds);
        match b.phase {
            Phase::Seeds(_) => Next::Wait,
            Phase::SelfLookup => Next::Refresh,
            Phase::Refresh(left) => {
                b.phase = Phase::Refresh(left.saturating_sub(1));
                if left <= 1 { self.done(id) } else { Next::Wait }
            }
        }
    }

    /// Bootstrap `id` refreshes `buckets` buckets. The count is set before
    /// the refreshes start, since one that finishes at once counts itself
    /// down. With none, it is over.
    pub(crate) fn refreshing(&mut self, id: CommandId, buckets: usize) -> Next {
        let Some(b) = self.0.get_mut(&id) else {
            return Next::Wait;
        };
        b.phase = Phase::Refresh(buckets);
        if buckets == 0 {
            self.done(id)
        } else {
            Next::Wait
        }
    }

    fn done(&mut self, id: CommandId) -> Next {
        match self.0.remove(&id) {
            Some(b) => Next::Done(Summary {
                lookups: b.lookups,
                stats: b.stats,
            }),
            None => Next::Wait,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(requests: u64, rounds: u32) -> LookupStats {
        LookupStats {
            requests,
            rounds,
            ..LookupStats::default()
        }
    }

    #[test]
    fn seeds_then_self_lookup_then_refreshes() {
        let (s1, s2): (SocketAddr, SocketAddr) = (
            "127.0.0.1:1".parse().unwrap(),
            "127.0.0.1:2".parse().unwrap(),
        );
        let mut b = Bootstraps::default();
        let id = CommandId(1);
        b.start(id, [s1, s2].into());
        assert!(b.ready().is_empty());
        assert!(b.seed_done(s1));
        assert!(!b.seed_done(s1), "once");
        assert!(b.seed_done(s2));
        assert_eq!(b.ready(), [id]);
        assert!(b.ready().is_empty(), "moved on");
        assert_eq!(b.on_lookup(id, stats(10, 3)), Next::Refresh);
        assert_eq!(b.refreshing(id, 2), Next::Wait);
        assert_eq!(b.on_lookup(id, stats(4, 5)), Next::Wait);
        let Next::Done(summary) = b.on_lookup(id, stats(1, 1)) else {
            panic!()
        };
        assert_eq!(summary.lookups, 3);
        assert_eq!(summary.stats.requests, 15);
        assert_eq!(summary.stats.rounds, 5, "the most of any one");
        assert_eq!(b.on_lookup(id, stats(1, 1)), Next::Wait, "gone");
    }

    #[test]
    fn nothing_to_refresh_ends_at_once() {
        let mut b = Bootstraps::default();
        b.start(CommandId(2), BTreeSet::new());
        assert_eq!(b.ready(), [CommandId(2)]);
        assert_eq!(b.on_lookup(CommandId(2), stats(1, 1)), Next::Refresh);
        assert!(matches!(b.refreshing(CommandId(2), 0), Next::Done(_)));
    }
}

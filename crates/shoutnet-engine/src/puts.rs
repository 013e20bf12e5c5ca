//! DHT puts (docs/PROTOCOL.md §9.8): a lookup of the record's address, then
//! one `STORE` to each of the k closest nodes it found, counted as they are
//! answered. A put for a command reports once every `STORE` is settled; a
//! republish reports to no one.

use std::collections::BTreeMap;

use shoutnet_crypto::Address;
use shoutnet_dht::Publication;
use shoutnet_kad::LookupStats;
use shoutnet_wire::Metadata;

use crate::event::{CommandId, PutReport};
use crate::lookups::PutId;

/// How one `STORE` of a put ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// `ACK STORE`.
    Stored,
    /// `NACK CONFLICT` with the holder's metadata.
    Conflict(Metadata),
    /// Any other refusal, a timeout or an unreachable node.
    Failed,
}

#[derive(Debug)]
struct State {
    command: Option<CommandId>,
    publication: Publication,
    outstanding: usize,
    report: PutReport,
}

/// A put that ended, for the command that asked (if any).
#[derive(Debug)]
pub(crate) struct Done {
    pub(crate) command: Option<CommandId>,
    pub(crate) report: PutReport,
}

/// The running puts.
#[derive(Debug, Default)]
pub(crate) struct Puts {
    running: BTreeMap<PutId, State>,
    next: u64,
}

impl Puts {
    /// A put of `publication` starts (its lookup comes next).
    pub(crate) fn start(&mut self, command: Option<CommandId>, publication: Publication) -> PutId {
        self.next += 1;
        let id = PutId(self.next);
        let report = PutReport {
            address: Address(*publication.address()),
            version: publication.version(),
            stored: 0,
            conflict: None,
            failed: 0,
            lookup: LookupStats::default(),
        };
        self.running.insert(
            id,
            State {
                command,
                publication,
                outstanding: 0,
                report,
            },
        );
        id
    }

    /// The record put `id` stores.
    pub(crate) fn publication(&self, id: PutId) -> Option<&Publication> {
        self.running.get(&id).map(|s| &s.publication)
    }

    /// Put `id`'s lookup ended with `stats`; `stored_here` if this node
    /// keeps a copy itself. `STORE`s are counted in with
    /// [`sent`](Self::sent) next.
    pub(crate) fn looked_up(&mut self, id: PutId, stats: LookupStats, stored_here: bool) {
        if let Some(state) = self.running.get_mut(&id) {
            state.report.lookup = stats;
            state.report.stored += usize::from(stored_here);
        }
    }

    /// One more `STORE` of put `id` is on its way.
    pub(crate) fn sent(&mut self, id: PutId) {
        if let Some(state) = self.running.get_mut(&id) {
            state.outstanding += 1;
        }
    }

    /// One `STORE` of put `id` ended with `outcome`; the put, once nothing
    /// is outstanding.
    pub(crate) fn settled(&mut self, id: PutId, outcome: Outcome) -> Option<Done> {
        let state = self.running.get_mut(&id)?;
        state.outstanding = state.outstanding.saturating_sub(1);
        match outcome {
            Outcome::Stored => state.report.stored += 1,
            Outcome::Failed => state.report.failed += 1,
            Outcome::Conflict(meta) => match &mut state.report.conflict {
                Some((n, _)) => *n += 1,
                None => state.report.conflict = Some((1, meta)),
            },
        }
        self.finish_if_settled(id)
    }

    /// Put `id` if nothing of it is outstanding (say, its lookup found no
    /// one to send to).
    pub(crate) fn finish_if_settled(&mut self, id: PutId) -> Option<Done> {
        if self.running.get(&id)?.outstanding > 0 {
            return None;
        }
        let state = self.running.remove(&id)?;
        Some(Done {
            command: state.command,
            report: state.report,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_put_reports_once_every_store_settled() {
        let publication = Publication::new(&b"k"[..], &b"\x01"[..], 3, 3600).unwrap();
        let mut puts = Puts::default();
        let id = puts.start(Some(CommandId(7)), publication);
        puts.looked_up(id, LookupStats::default(), true);
        for _ in 0..3 {
            puts.sent(id);
        }
        assert!(puts.settled(id, Outcome::Stored).is_none());
        let meta = Metadata {
            version: 9,
            ttl: 60,
            stored_at: 1,
            publisher: vec![1; 32].into(),
            lock: None,
        };
        assert!(puts.settled(id, Outcome::Conflict(meta.clone())).is_none());
        let done = puts.settled(id, Outcome::Failed).unwrap();
        assert_eq!(done.command, Some(CommandId(7)));
        assert_eq!(done.report.version, 3);
        assert_eq!(done.report.stored, 2, "one here, one acked");
        assert_eq!(done.report.conflict, Some((1, meta)));
        assert_eq!(done.report.failed, 1);
        assert!(puts.settled(id, Outcome::Stored).is_none(), "reported once");
        let empty = puts.start(
            None,
            Publication::new(&b"j"[..], &b"\x02"[..], 0, 60).unwrap(),
        );
        assert!(puts.finish_if_settled(empty).is_some());
    }
}

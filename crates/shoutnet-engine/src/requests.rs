//! The table of outstanding requests (docs/PROTOCOL.md §8, §8.2, §8.3):
//! each request this node sent, keyed by connection and request id, with
//! its deadline and what its answer is for.

use std::collections::BTreeMap;
use std::time::Instant;

use shoutnet_crypto::Address;
use shoutnet_wire::Opcode;

use crate::event::{ConnectionId, RequestId};

/// Why a request was sent: decides what its answer or failure does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// An idle-connection keepalive; failure closes the connection.
    Keepalive,
    /// A liveness ping of a routing-table entry (least-recently-seen
    /// eviction); the result goes to `RoutingTable::ping_result`.
    Liveness {
        /// The pinged entry.
        address: Address,
    },
    /// A `FIND_NODE` of a lookup.
    FindNode {
        /// The lookup's command id.
        lookup: RequestId,
        /// The peer asked.
        peer: Address,
    },
}

/// One outstanding request.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Pending {
    /// The request's opcode, which the answer must name.
    pub(crate) opcode: Opcode,
    /// When it counts as failed.
    pub(crate) deadline: Instant,
    /// What the answer is for.
    pub(crate) purpose: Purpose,
}

/// Outstanding requests, bounded by `capacity`.
#[derive(Debug)]
pub(crate) struct Requests {
    map: BTreeMap<(ConnectionId, u64), Pending>,
    next_id: u64,
    capacity: usize,
}

impl Requests {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            map: BTreeMap::new(),
            next_id: 1,
            capacity,
        }
    }

    /// A fresh request id (unique for the engine's life, so per connection
    /// too).
    pub(crate) fn next_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        id
    }

    /// Records a request; `false` (and nothing recorded) when the table is
    /// full.
    pub(crate) fn insert(&mut self, conn: ConnectionId, id: u64, pending: Pending) -> bool {
        if self.map.len() >= self.capacity {
            return false;
        }
        self.map.insert((conn, id), pending);
        true
    }

    /// Takes the request an answer names, if it exists and has `opcode`;
    /// otherwise leaves the table unchanged and returns `None`.
    pub(crate) fn take(&mut self, conn: ConnectionId, id: u64, opcode: Opcode) -> Option<Pending> {
        match self.map.get(&(conn, id)) {
            Some(p) if p.opcode == opcode => self.map.remove(&(conn, id)),
            _ => None,
        }
    }

    /// Removes every request past its deadline.
    pub(crate) fn expire(&mut self, now: Instant) -> Vec<(ConnectionId, Pending)> {
        let expired: Vec<(ConnectionId, u64)> = self
            .map
            .iter()
            .filter(|(_, p)| p.deadline <= now)
            .map(|(k, _)| *k)
            .collect();
        expired
            .into_iter()
            .filter_map(|k| self.map.remove(&k).map(|p| (k.0, p)))
            .collect()
    }

    /// Removes every request of a closed connection.
    pub(crate) fn remove_conn(&mut self, conn: ConnectionId) -> Vec<Pending> {
        let keys: Vec<(ConnectionId, u64)> = self
            .map
            .range((conn, 0)..=(conn, u64::MAX))
            .map(|(k, _)| *k)
            .collect();
        keys.into_iter()
            .filter_map(|k| self.map.remove(&k))
            .collect()
    }

    /// The earliest deadline.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.map.values().map(|p| p.deadline).min()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn answers_must_name_id_and_opcode_and_deadlines_expire() {
        #[allow(clippy::disallowed_methods)] // A fixed epoch for the test.
        let t0 = Instant::now();
        let mut table = Requests::new(2);
        let (a, b) = (ConnectionId(1), ConnectionId(2));
        let pending = |secs| Pending {
            opcode: Opcode::Ping,
            deadline: t0 + Duration::from_secs(secs),
            purpose: Purpose::Keepalive,
        };
        let (i, j) = (table.next_id(), table.next_id());
        assert_ne!(i, j);
        assert!(table.insert(a, i, pending(5)));
        assert!(table.insert(b, j, pending(10)));
        assert!(!table.insert(a, 99, pending(1)), "bounded");
        // Wrong opcode, wrong connection, unknown id: nothing taken.
        assert!(table.take(a, i, Opcode::FindNode).is_none());
        assert!(table.take(b, i, Opcode::Ping).is_none());
        assert!(table.take(a, 12345, Opcode::Ping).is_none());
        assert_eq!(table.next_deadline(), Some(t0 + Duration::from_secs(5)));
        let expired = table.expire(t0 + Duration::from_secs(5));
        assert_eq!(expired.len(), 1);
        assert_eq!(expired.first().map(|e| e.0), Some(a));
        assert_eq!(table.remove_conn(b).len(), 1);
        assert_eq!(table.next_deadline(), None);
    }
}

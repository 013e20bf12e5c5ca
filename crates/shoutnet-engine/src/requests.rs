//! The table of outstanding requests (docs/PROTOCOL.md §8, §8.2, §8.3):
//! each request this node sent, keyed by connection and request id, with
//! what its answer is for. Deadlines live in the engine's timer table.

use std::collections::BTreeMap;

use shoutnet_crypto::Address;
use shoutnet_wire::{Message, Opcode, Payload};

use crate::event::{CommandId, ConnectionId};
use crate::lookups::PutId;
use crate::timers::LookupId;

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
    /// A notice to the peer (`SET_CONNECTION_OPT` kept, a re-replicated
    /// `STORE`): its answer changes nothing.
    Announcement,
    /// A `FIND_NODE` or `FIND_VALUE` of a lookup.
    FindNode {
        /// The lookup.
        lookup: LookupId,
        /// The peer asked.
        peer: Address,
    },
    /// A `STORE` of a put.
    Store {
        /// The put.
        put: PutId,
    },
    /// A `CUSTOM` of a command.
    Custom {
        /// The command.
        command: CommandId,
    },
    /// This node, listening nowhere, asks the peer to relay for it.
    RelayRequest,
    /// This node announced it will send with `method` (§9.3); it does so
    /// once the peer acknowledges.
    Compression {
        /// The method.
        method: shoutnet_wire::Method,
    },
}

/// What waits for a connection to a peer.
#[derive(Clone, Debug)]
pub(crate) enum Queued {
    /// A request of this node, with what its answer is for (`None`: it
    /// expects none).
    Request {
        payload: Payload,
        purpose: Option<Purpose>,
    },
    /// A `WHISPER`, this node's or one it relays, sent as it is; its
    /// digest names it if it cannot be sent.
    Whisper { message: Message, digest: [u8; 32] },
}

/// One outstanding request.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Pending {
    /// The request's opcode, which the answer must name.
    pub(crate) opcode: Opcode,
    /// What the answer is for.
    pub(crate) purpose: Purpose,
}

/// How a request ended without an answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Failure {
    /// The peer answered with a `NACK`, or with a reply that does not fit.
    Refused,
    /// No answer within the request timeout.
    TimedOut,
    /// The connection closed before an answer came.
    ConnectionLost,
    /// No connection could be had, or no room for the request.
    Unreachable,
}

/// Outstanding requests, bounded by `capacity`, and the requests waiting
/// for a lookup of their peer's address, bounded by the same.
#[derive(Debug)]
pub(crate) struct Requests {
    map: BTreeMap<(ConnectionId, u64), Pending>,
    next_id: u64,
    capacity: usize,
    looking_up: BTreeMap<u64, Queued>,
    next_lookup: u64,
}

impl Requests {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            map: BTreeMap::new(),
            next_id: 1,
            capacity,
            looking_up: BTreeMap::new(),
            next_lookup: 0,
        }
    }

    /// Whether another request may wait for a lookup of its peer.
    pub(crate) fn may_wait_for_lookup(&self) -> bool {
        self.looking_up.len() < self.capacity
    }

    /// `queued` waits for a lookup of its peer's address (after
    /// [`may_wait_for_lookup`](Self::may_wait_for_lookup)): the key for
    /// the lookup's owner.
    pub(crate) fn wait_for_lookup(&mut self, queued: Queued) -> u64 {
        self.next_lookup += 1;
        self.looking_up.insert(self.next_lookup, queued);
        self.next_lookup
    }

    /// The request that waited for lookup `key`.
    pub(crate) fn looked_up(&mut self, key: u64) -> Option<Queued> {
        self.looking_up.remove(&key)
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

    /// Takes a request whatever its opcode (its deadline passed).
    pub(crate) fn remove(&mut self, conn: ConnectionId, id: u64) -> Option<Pending> {
        self.map.remove(&(conn, id))
    }

    /// Removes every request of a closed connection, with their ids.
    pub(crate) fn remove_conn(&mut self, conn: ConnectionId) -> Vec<(u64, Pending)> {
        let ids: Vec<u64> = self
            .map
            .range((conn, 0)..=(conn, u64::MAX))
            .map(|(k, _)| k.1)
            .collect();
        ids.into_iter()
            .filter_map(|id| self.map.remove(&(conn, id)).map(|p| (id, p)))
            .collect()
    }

    /// Number of outstanding requests.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_must_name_id_and_opcode() {
        let mut table = Requests::new(2);
        let (a, b) = (ConnectionId(1), ConnectionId(2));
        let pending = Pending {
            opcode: Opcode::Ping,
            purpose: Purpose::Keepalive,
        };
        let (i, j) = (table.next_id(), table.next_id());
        assert_ne!(i, j);
        assert!(table.insert(a, i, pending));
        assert!(table.insert(b, j, pending));
        assert!(!table.insert(a, 99, pending), "bounded");
        // Wrong opcode, wrong connection, unknown id: nothing taken.
        assert!(table.take(a, i, Opcode::FindNode).is_none());
        assert!(table.take(b, i, Opcode::Ping).is_none());
        assert!(table.take(a, 12345, Opcode::Ping).is_none());
        assert_eq!(table.len(), 2);
        assert!(table.take(a, i, Opcode::Ping).is_some());
        assert_eq!(table.remove_conn(b).len(), 1);
        assert_eq!(table.len(), 0);
    }
}

//! Relays for dial-out-only nodes (docs/PROTOCOL.md §9.10): the nodes this
//! node relays for (it listens, they asked over a connection they keep),
//! each with its own budget, and this node's own relays when it listens
//! nowhere, with the DHT record that tells others how to reach it.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;
use shoutnet_crypto::Address;
use shoutnet_wire::{MAX_LISTEN_ADDRS as MAX_LISTEN, MAX_RELAYS, Value};

use crate::addrs::usable;
use crate::budget::{Bucket, Rate};
use crate::event::ConnectionId;

/// The nodes this node relays for.
#[derive(Debug)]
pub(crate) struct Relaying {
    relayed: BTreeMap<Address, (ConnectionId, Bucket)>,
    max: usize,
    rate: Rate,
}

impl Relaying {
    /// At most `max` relayed nodes, each allowed `rate` whispers.
    pub(crate) fn new(max: usize, rate: Rate) -> Self {
        Self {
            relayed: BTreeMap::new(),
            max,
            rate,
        }
    }

    /// `peer` asks this node to relay for it over `conn`; `false` if this
    /// node relays for its most already.
    pub(crate) fn add(&mut self, peer: Address, conn: ConnectionId, now: Instant) -> bool {
        if !self.relayed.contains_key(&peer) && self.relayed.len() >= self.max {
            return false;
        }
        self.relayed
            .insert(peer, (conn, Bucket::new(self.rate, now)));
        true
    }

    /// `peer` no longer wants it.
    pub(crate) fn remove(&mut self, peer: &Address) {
        self.relayed.remove(peer);
    }

    /// `conn` closed: its node is relayed no more.
    pub(crate) fn closed(&mut self, conn: ConnectionId) {
        self.relayed.retain(|_, (c, _)| *c != conn);
    }

    /// The connection to `dest`, if this node relays for it and `dest` is
    /// within its budget (which this spends); `Err(())` if over it.
    pub(crate) fn route(
        &mut self,
        dest: &Address,
        now: Instant,
    ) -> Option<Result<ConnectionId, ()>> {
        let (conn, bucket) = self.relayed.get_mut(dest)?;
        Some(if bucket.take(1, now) {
            Ok(*conn)
        } else {
            Err(())
        })
    }

    /// Nodes relayed for.
    pub(crate) fn len(&self) -> usize {
        self.relayed.len()
    }
}

/// One relay of this node: its key and where it listens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Relay {
    pub(crate) key: Bytes,
    pub(crate) listen: Vec<SocketAddr>,
}

/// This node's relays, when it listens nowhere.
#[derive(Debug, Default)]
pub(crate) struct OwnRelays {
    relays: BTreeMap<ConnectionId, Relay>,
    asked: BTreeSet<ConnectionId>,
}

impl OwnRelays {
    /// Whether it should ask one more kept peer.
    pub(crate) fn wants_more(&self) -> bool {
        self.relays.len() + self.asked.len() < MAX_RELAYS
    }

    /// It asked the peer of `conn`.
    pub(crate) fn asking(&mut self, conn: ConnectionId) {
        self.asked.insert(conn);
    }

    /// The peer of `conn` relays for it.
    pub(crate) fn accepted(&mut self, conn: ConnectionId, relay: Relay) {
        self.asked.remove(&conn);
        self.relays.insert(conn, relay);
    }

    /// The peer of `conn` refused, or did not answer.
    pub(crate) fn refused(&mut self, conn: ConnectionId) {
        self.asked.remove(&conn);
    }

    /// `conn` closed; `true` if it was a relay (the record must change).
    pub(crate) fn closed(&mut self, conn: ConnectionId) -> bool {
        self.asked.remove(&conn);
        self.relays.remove(&conn).is_some()
    }

    /// Relays.
    pub(crate) fn len(&self) -> usize {
        self.relays.len()
    }

    /// The DHT value naming the relays: `{"relays": [[key, [address,
    /// ...]], ...]}` (§9.10).
    pub(crate) fn record(&self) -> Value {
        let relays = self
            .relays
            .values()
            .map(|r| {
                let listen = r
                    .listen
                    .iter()
                    .take(MAX_LISTEN)
                    .map(|a| Value::Str(a.to_string()))
                    .collect();
                Value::Array(vec![Value::Bin(r.key.clone()), Value::Array(listen)])
            })
            .collect();
        Value::map([("relays", Value::Array(relays))])
    }
}

/// The relays a record names, at most [`MAX_RELAYS`], each with its usable
/// addresses (at most [`MAX_LISTEN`]); entries that do not fit are skipped.
pub(crate) fn parse_record(value: &Value, local_network: bool) -> Vec<Relay> {
    let Some(relays) = value.get("relays").and_then(Value::as_array) else {
        return Vec::new();
    };
    relays
        .iter()
        .filter_map(|entry| {
            let [key, listen] = entry.as_array()? else {
                return None;
            };
            let listen: Vec<SocketAddr> = listen
                .as_array()?
                .iter()
                .take(MAX_LISTEN)
                .filter_map(|a| a.as_str()?.parse().ok())
                .filter(|a| usable(a, local_network))
                .collect();
            let key = key.as_bin()?.clone();
            (!listen.is_empty()).then_some(Relay { key, listen })
        })
        .take(MAX_RELAYS)
        .collect()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn relaying_is_bounded_per_node_and_in_all() {
        #[allow(clippy::disallowed_methods)] // A fixed epoch for the test.
        let t0 = Instant::now();
        let mut relaying = Relaying::new(1, Rate::new(1, 2));
        let (a, b) = (Address([1; 32]), Address([2; 32]));
        assert!(relaying.add(a, ConnectionId(1), t0));
        assert!(!relaying.add(b, ConnectionId(2), t0), "full");
        assert_eq!(relaying.route(&b, t0), None, "not relayed");
        assert_eq!(relaying.route(&a, t0), Some(Ok(ConnectionId(1))));
        assert_eq!(relaying.route(&a, t0), Some(Ok(ConnectionId(1))));
        assert_eq!(relaying.route(&a, t0), Some(Err(())), "over its budget");
        assert!(
            relaying
                .route(&a, t0 + Duration::from_secs(1))
                .is_some_and(|r| r.is_ok())
        );
        relaying.closed(ConnectionId(1));
        assert_eq!(relaying.len(), 0);
    }

    #[test]
    fn the_record_names_at_most_three_usable_relays() {
        let mut own = OwnRelays::default();
        for i in 0..4u8 {
            assert_eq!(own.wants_more(), i < 3);
            own.asking(ConnectionId(u64::from(i)));
            own.accepted(
                ConnectionId(u64::from(i)),
                Relay {
                    key: Bytes::from(vec![i; 32]),
                    listen: vec![format!("127.0.0.{i}:4000").parse().unwrap()],
                },
            );
        }
        let record = own.record();
        let parsed = parse_record(&record, true);
        assert_eq!(parsed.len(), 3);
        assert!(
            parse_record(&record, false).is_empty(),
            "loopback off a local network"
        );
        assert!(own.closed(ConnectionId(0)));
        assert!(!own.closed(ConnectionId(0)));
        assert_eq!(own.len(), 3);
        let junk = Value::map([("relays", Value::Array(vec![Value::Nil, Value::from(1u8)]))]);
        assert!(parse_record(&junk, true).is_empty());
    }
}

//! WHISPER bookkeeping (docs/PROTOCOL.md §8.6, §9.9): the whispers this
//! node sent and waits to hear about, each resolved exactly once (an
//! `ACK` with the right digest, a `NACK`, or its deadline); the whispers
//! waiting for a lookup of their destination; and the return routes of
//! whispers it relays, so that their `ACK`/`NACK` goes back the way they
//! came. Every table is bounded.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use bytes::Bytes;
use shoutnet_crypto::Address;
use shoutnet_flood::{MessageId, SeenCache};
use shoutnet_wire::{Message, Opcode};

use crate::event::{CommandId, ConnectionId, WhisperRoute};

/// Next hops a whisper tries, one after another, when the one chosen
/// cannot be reached (§9.9).
pub(crate) const MAX_HOP_TRIES: usize = 3;

/// Whispers delivered here that are remembered, so that a copy arriving
/// again (a retry whose first copy arrived, or a replay) is answered but
/// not delivered twice; each costs at most
/// [`shoutnet_flood::BYTES_PER_ENTRY`].
pub(crate) const MAX_DELIVERED: usize = 4_096;

/// SHA-256 of a WHISPER's body as sent or received: its content (the
/// ciphertext, if encrypted) and its signature, if signed.
pub(crate) type Digest = [u8; 32];

/// The digest of `msg`'s body.
pub(crate) fn digest_of(msg: &Message) -> Digest {
    use sha2::{Digest as _, Sha256};
    let mut hash = Sha256::new();
    hash.update(&msg.content);
    if let Some(signature) = &msg.signature {
        hash.update(signature);
    }
    hash.finalize().into()
}

/// A whisper this node sent and waits on.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Sent {
    pub(crate) command: CommandId,
    pub(crate) route: WhisperRoute,
    pub(crate) request_id: u64,
    deadline: Instant,
    /// The connection it left on, once it did.
    via: Option<ConnectionId>,
    /// Next hops tried, at most [`MAX_HOP_TRIES`].
    tried: Vec<Address>,
    /// For a whisper the node routed by itself (`WhisperRoute::Auto`) on a
    /// route other than a lookup: the message, sent again after a lookup
    /// of its destination if that route fails.
    fallback: Option<Message>,
}

/// A whisper waiting for the lookup of its destination.
#[derive(Clone, Debug)]
pub(crate) struct Prepared {
    pub(crate) message: Message,
    pub(crate) digest: Digest,
}

/// Why a relayed whisper's return route was not kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RouteFull {
    /// The node keeps its most routes.
    Node,
    /// The connection it came on has its most.
    Connection,
}

#[derive(Clone, Debug)]
struct Return {
    conn: ConnectionId,
    deadline: Instant,
    /// The connection it went on by, once it did.
    next: Option<ConnectionId>,
    origin_key: Bytes,
    /// Next hops tried, at most [`MAX_HOP_TRIES`].
    tried: Vec<Address>,
}

/// The whispers of one node.
#[derive(Debug)]
pub(crate) struct Whispers {
    timeout: Duration,
    sent: BTreeMap<Digest, Sent>,
    by_request: BTreeMap<u64, Digest>,
    sent_deadlines: BTreeSet<(Instant, Digest)>,
    prepared: BTreeMap<u64, Prepared>,
    next_prepared: u64,
    max_sent: usize,
    routes: BTreeMap<(Address, Digest), Return>,
    route_deadlines: BTreeSet<(Instant, Address, Digest)>,
    routes_per_conn: BTreeMap<ConnectionId, usize>,
    max_routes: usize,
    max_routes_per_conn: usize,
    /// Whispers delivered here recently, by origin and digest.
    delivered: SeenCache,
}

impl Whispers {
    pub(crate) fn new(
        timeout: Duration,
        max_sent: usize,
        max_routes: usize,
        max_routes_per_conn: usize,
    ) -> Self {
        Self {
            timeout,
            sent: BTreeMap::new(),
            by_request: BTreeMap::new(),
            sent_deadlines: BTreeSet::new(),
            prepared: BTreeMap::new(),
            next_prepared: 0,
            max_sent,
            routes: BTreeMap::new(),
            route_deadlines: BTreeSet::new(),
            routes_per_conn: BTreeMap::new(),
            max_routes,
            max_routes_per_conn,
            delivered: SeenCache::new(2 * timeout, MAX_DELIVERED),
        }
    }

    /// Whether another whisper may be sent (or prepared) now.
    pub(crate) fn has_room(&self) -> bool {
        self.sent.len() + self.prepared.len() < self.max_sent
    }

    /// A whisper with `digest` left (or will leave) for command `command`.
    pub(crate) fn sent(
        &mut self,
        command: CommandId,
        route: WhisperRoute,
        request_id: u64,
        digest: Digest,
        now: Instant,
    ) {
        let deadline = now + self.timeout;
        self.sent.insert(
            digest,
            Sent {
                command,
                route,
                request_id,
                deadline,
                via: None,
                tried: Vec::new(),
                fallback: None,
            },
        );
        self.by_request.insert(request_id, digest);
        self.sent_deadlines.insert((deadline, digest));
    }

    /// If the route of the whisper with `digest` fails, it is sent again
    /// after a lookup of its destination.
    pub(crate) fn keep_fallback(&mut self, digest: &Digest, message: Message) {
        if let Some(sent) = self.sent.get_mut(digest) {
            sent.fallback = Some(message);
        }
    }

    /// The route of the whisper with `digest` failed: its message, if it
    /// falls back to a lookup of its destination, now counted as an
    /// iterative whisper with no hop tried. Once per whisper.
    pub(crate) fn fall_back(&mut self, digest: &Digest) -> Option<Message> {
        let sent = self.sent.get_mut(digest)?;
        let message = sent.fallback.take()?;
        sent.route = WhisperRoute::Iterative;
        sent.via = None;
        sent.tried.clear();
        Some(message)
    }

    /// Whether the whisper from `origin` with `digest` is delivered here
    /// for the first time (within twice the whisper timeout, and among the
    /// last [`MAX_DELIVERED`]); remembers it.
    pub(crate) fn first_delivery(&mut self, origin: &[u8], digest: &Digest, now: Instant) -> bool {
        let id = MessageId::of(origin, Opcode::Whisper.value() << 4, digest);
        self.delivered.insert(id, now)
    }

    /// The whisper whose body had `digest`, resolved now (once).
    pub(crate) fn resolve(&mut self, digest: &Digest) -> Option<Sent> {
        let sent = self.sent.remove(digest)?;
        self.by_request.remove(&sent.request_id);
        self.sent_deadlines.remove(&(sent.deadline, *digest));
        Some(sent)
    }

    /// The digest of the whisper sent with `request_id`, if it waits.
    pub(crate) fn digest_of_request(&self, request_id: u64) -> Option<Digest> {
        self.by_request.get(&request_id).copied()
    }

    /// Whispers past their deadline, resolved now.
    pub(crate) fn overdue(&mut self, now: Instant) -> Vec<Sent> {
        let mut late = Vec::new();
        while let Some(&(deadline, digest)) = self.sent_deadlines.first() {
            if deadline > now {
                break;
            }
            late.extend(self.resolve(&digest));
        }
        late
    }

    /// Return routes past their deadline are forgotten.
    pub(crate) fn expire_routes(&mut self, now: Instant) {
        while let Some(&(deadline, origin, digest)) = self.route_deadlines.first() {
            if deadline > now {
                break;
            }
            self.take_route(&origin, &digest);
        }
    }

    /// The earliest deadline, of a whisper or a return route.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        let sent = self.sent_deadlines.first().map(|(at, _)| *at);
        let route = self.route_deadlines.first().map(|(at, _, _)| *at);
        match (sent, route) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// A whisper waits for the lookup of its destination; its key for
    /// the lookup's owner.
    pub(crate) fn prepare(&mut self, prepared: Prepared) -> u64 {
        self.next_prepared += 1;
        self.prepared.insert(self.next_prepared, prepared);
        self.next_prepared
    }

    /// The whisper that waited for lookup `id`.
    pub(crate) fn take_prepared(&mut self, id: u64) -> Option<Prepared> {
        self.prepared.remove(&id)
    }

    /// The whisper from `origin` with `digest` (this node's own or one it
    /// relays) left on `conn`: if `conn` closes before its answer comes,
    /// it has failed ([`via_closed`](Self::via_closed)).
    pub(crate) fn left_on(&mut self, origin: &Address, digest: &Digest, conn: ConnectionId) {
        if let Some(sent) = self.sent.get_mut(digest) {
            sent.via = Some(conn);
        } else if let Some(route) = self.routes.get_mut(&(*origin, *digest)) {
            route.next = Some(conn);
        }
    }

    /// The next hops the whisper from `origin` with `digest` tried, if it
    /// still waits for its answer.
    pub(crate) fn tried(&self, origin: &Address, digest: &Digest) -> Option<&[Address]> {
        match self.sent.get(digest) {
            Some(sent) => Some(&sent.tried),
            None => self
                .routes
                .get(&(*origin, *digest))
                .map(|r| r.tried.as_slice()),
        }
    }

    /// The whisper from `origin` with `digest` tries `hop` next; `false`
    /// if it tried [`MAX_HOP_TRIES`] already or no longer waits.
    pub(crate) fn try_hop(&mut self, origin: &Address, digest: &Digest, hop: Address) -> bool {
        let tried = match self.sent.get_mut(digest) {
            Some(sent) => &mut sent.tried,
            None => match self.routes.get_mut(&(*origin, *digest)) {
                Some(route) => &mut route.tried,
                None => return false,
            },
        };
        if tried.len() >= MAX_HOP_TRIES {
            return false;
        }
        tried.push(hop);
        true
    }

    /// Whether a whisper waiting for its answer left on `conn`: its answer
    /// comes back on it, so a transient `conn` is not idle. The tables hold
    /// at most their bounds, so this scan is bounded.
    pub(crate) fn waits_on(&self, conn: ConnectionId) -> bool {
        self.sent.values().any(|s| s.via == Some(conn))
            || self.routes.values().any(|r| r.next == Some(conn))
    }

    /// `conn` closed: the origin key field (`local` for this node's own)
    /// and digest of every whisper waiting for an answer that left on it.
    /// The tables hold at most their bounds, so this scan is bounded.
    pub(crate) fn via_closed(&self, conn: ConnectionId, local: &Bytes) -> Vec<(Bytes, Digest)> {
        let own = self
            .sent
            .iter()
            .filter(|(_, s)| s.via == Some(conn))
            .map(|(d, _)| (local.clone(), *d));
        let relayed = self
            .routes
            .iter()
            .filter(|(_, r)| r.next == Some(conn))
            .map(|((_, d), r)| (r.origin_key.clone(), *d));
        own.chain(relayed).collect()
    }

    /// Remembers that the whisper from `origin` (key field `origin_key`)
    /// with `digest` came on `conn`, so that its answer goes back there.
    pub(crate) fn add_route(
        &mut self,
        origin_key: &Bytes,
        digest: Digest,
        conn: ConnectionId,
        now: Instant,
    ) -> Result<(), RouteFull> {
        let origin = Address::of_key_field(origin_key);
        if self.routes.contains_key(&(origin, digest)) {
            // A copy of a whisper already relayed: keep the first route.
            return Ok(());
        }
        if self.routes.len() >= self.max_routes {
            return Err(RouteFull::Node);
        }
        let per_conn = self.routes_per_conn.entry(conn).or_default();
        if *per_conn >= self.max_routes_per_conn {
            return Err(RouteFull::Connection);
        }
        *per_conn += 1;
        let deadline = now + self.timeout;
        let origin_key = origin_key.clone();
        let next = None;
        self.routes.insert(
            (origin, digest),
            Return {
                conn,
                deadline,
                next,
                origin_key,
                tried: Vec::new(),
            },
        );
        self.route_deadlines.insert((deadline, origin, digest));
        Ok(())
    }

    /// Where the answer to the whisper from `origin` with `digest` goes,
    /// once.
    pub(crate) fn take_route(&mut self, origin: &Address, digest: &Digest) -> Option<ConnectionId> {
        let route = self.routes.remove(&(*origin, *digest))?;
        self.route_deadlines
            .remove(&(route.deadline, *origin, *digest));
        if let Some(n) = self.routes_per_conn.get_mut(&route.conn) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.routes_per_conn.remove(&route.conn);
            }
        }
        Some(route.conn)
    }

    /// `conn` closed: the answers of whispers that came on it cannot go
    /// back; their routes are forgotten.
    pub(crate) fn closed(&mut self, conn: ConnectionId) {
        if self.routes_per_conn.remove(&conn).is_none() {
            return;
        }
        let gone: Vec<(Address, Digest, Instant)> = self
            .routes
            .iter()
            .filter(|(_, r)| r.conn == conn)
            .map(|((o, d), r)| (*o, *d, r.deadline))
            .collect();
        for (origin, digest, deadline) in gone {
            self.routes.remove(&(origin, digest));
            self.route_deadlines.remove(&(deadline, origin, digest));
        }
    }

    /// Return routes kept.
    pub(crate) fn routes(&self) -> usize {
        self.routes.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whispers_resolve_once_and_routes_are_bounded() {
        #[allow(clippy::disallowed_methods)] // A fixed epoch for the test.
        let t0 = Instant::now();
        let mut w = Whispers::new(Duration::from_secs(30), 2, 2, 1);
        let (a, b) = ([1; 32], [2; 32]);
        w.sent(CommandId(1), WhisperRoute::Direct, 11, a, t0);
        w.sent(CommandId(2), WhisperRoute::Recursive, 12, b, t0);
        assert!(!w.has_room());
        assert_eq!(w.digest_of_request(11), Some(a));
        assert_eq!(w.resolve(&a).map(|s| s.command), Some(CommandId(1)));
        assert_eq!(w.resolve(&a), None, "once");
        assert_eq!(w.digest_of_request(11), None);
        assert!(w.overdue(t0 + Duration::from_secs(29)).is_empty());
        let late = w.overdue(t0 + Duration::from_secs(30));
        assert_eq!(late.len(), 1);
        assert_eq!(late[0].route, WhisperRoute::Recursive);

        let key = Bytes::from(vec![9; 32]);
        let origin = Address::of_key_field(&key);
        let (c1, c2, c3) = (ConnectionId(1), ConnectionId(2), ConnectionId(3));
        assert_eq!(w.add_route(&key, a, c1, t0), Ok(()));
        assert_eq!(w.add_route(&key, a, c2, t0), Ok(()), "a copy");
        assert_eq!(w.add_route(&key, b, c1, t0), Err(RouteFull::Connection));
        assert_eq!(w.add_route(&key, b, c2, t0), Ok(()));
        assert_eq!(w.add_route(&key, [3; 32], c2, t0), Err(RouteFull::Node));
        w.left_on(&origin, &b, c3);
        for hop in 0..3u8 {
            assert!(w.try_hop(&origin, &b, Address([hop; 32])));
        }
        assert!(!w.try_hop(&origin, &b, Address([7; 32])), "bounded");
        assert_eq!(w.tried(&origin, &b).map(<[Address]>::len), Some(3));
        let local = Bytes::from_static(b"me");
        assert_eq!(w.via_closed(c3, &local), [(key.clone(), b)]);
        assert!(w.waits_on(c3) && !w.waits_on(c1));
        assert_eq!(w.take_route(&origin, &a), Some(c1));
        assert_eq!(w.take_route(&origin, &a), None);
        w.closed(c2);
        assert_eq!(w.routes(), 0);
        assert!(w.via_closed(c3, &local).is_empty());
        assert_eq!(w.add_route(&key, a, c1, t0), Ok(()));
        w.expire_routes(t0 + Duration::from_secs(30));
        assert_eq!(w.routes(), 0);
    }

    #[test]
    fn a_whisper_falls_back_once_and_is_delivered_once() {
        #[allow(clippy::disallowed_methods)] // A fixed epoch for the test.
        let t0 = Instant::now();
        let timeout = Duration::from_secs(30);
        let mut w = Whispers::new(timeout, 4, 4, 4);
        let (a, b) = ([1; 32], [2; 32]);
        let message = Message::new(
            Bytes::from_static(b"from"),
            Bytes::from_static(b"to"),
            Opcode::Whisper,
            Bytes::from_static(b"sealed"),
        );
        w.sent(CommandId(1), WhisperRoute::Recursive, 11, a, t0);
        w.sent(CommandId(2), WhisperRoute::Recursive, 12, b, t0);
        w.keep_fallback(&a, message.clone());
        w.left_on(&Address([0; 32]), &a, ConnectionId(5));
        assert_eq!(w.fall_back(&a), Some(message));
        assert_eq!(w.fall_back(&a), None, "once");
        assert_eq!(w.fall_back(&b), None, "only those kept");
        let sent = w.resolve(&a).unwrap();
        assert_eq!(sent.route, WhisperRoute::Iterative);
        assert_eq!(sent.via, None);

        // (origin, digest, when, first delivery)
        let cases = [
            (b"k1".as_slice(), a, t0, true),
            (b"k1", a, t0, false),
            (b"k2", a, t0, true),
            (b"k1", b, t0, true),
            (b"k1", a, t0 + 2 * timeout, true),
        ];
        for (origin, digest, now, first) in cases {
            assert_eq!(w.first_delivery(origin, &digest, now), first, "{origin:?}");
        }
    }
}

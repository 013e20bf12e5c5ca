//! The engine's output queues and counters (docs/PROTOCOL.md §9, §10):
//! transmissions, driver actions and application events, each bounded, and
//! the [`Stats`] of everything sent, dropped or refused.
//!
//! Like libp2p's "bound everything": a full queue drops the new item and
//! counts it, it never grows.

use std::collections::{BTreeSet, VecDeque};

use crate::event::{Action, ConnectionId, Event, Transmit};

/// Declares [`Stats`] and its [`Stats::add`] from one list of fields, so
/// that a new counter is summed as soon as it exists.
macro_rules! counters {
    ($($(#[$doc:meta])* pub $field:ident: u64,)*) => {
        /// Counters of what the engine sent, dropped, refused or gave up;
        /// never reset.
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
        #[non_exhaustive]
        pub struct Stats {
            $($(#[$doc])* pub $field: u64,)*
        }

        impl Stats {
            /// Adds `other`'s counts to these (to sum the counters of many
            /// nodes).
            pub fn add(&mut self, other: &Self) {
                $(self.$field += other.$field;)*
            }

            /// Every counter with its field name, in declaration order
            /// (for exporters such as Prometheus).
            ///
            /// ```
            /// let stats = shoutnet_engine::Stats::default();
            /// assert!(stats.named().iter().any(|(name, n)| *name == "shouts_sent" && *n == 0));
            /// ```
            pub fn named(&self) -> Vec<(&'static str, u64)> {
                vec![$((stringify!($field), self.$field),)*]
            }
        }
    };
}

counters! {
    /// Transmissions received uncompressed.
    pub received_none: u64,
    /// Transmissions received compressed with bz2.
    pub received_bz2: u64,
    /// Transmissions received compressed with gzip.
    pub received_gzip: u64,
    /// Transmissions received compressed with lzma (xz).
    pub received_lzma: u64,
    /// Transmissions received compressed with zlib.
    pub received_zlib: u64,
    /// Transmissions received compressed with snappy.
    pub received_snappy: u64,
    /// `ACK`/`NACK`s naming no outstanding request, or the wrong opcode.
    pub unsolicited: u64,
    /// `ACK`/`NACK`s whose payload did not decode (never answered; the
    /// request they answer, if it can be read, fails at once).
    pub malformed_replies: u64,
    /// `SPEAK`s whose payload did not decode, dropped (nothing answers a
    /// `SPEAK`).
    pub unsupported_dropped: u64,
    /// Broadcasts delivered (each once).
    pub shouts_delivered: u64,
    /// Copies of broadcasts already delivered, dropped unverified.
    pub shout_duplicates: u64,
    /// Broadcast messages this node sent: its own and forwarded copies.
    pub shouts_sent: u64,
    /// Broadcasts refused (`MALFORMED`) for being unsigned or encrypted, or
    /// dropped for a payload that does not decode.
    pub shouts_malformed: u64,
    /// Broadcasts whose origin key or signature did not verify (forged or
    /// altered), refused (`BAD_SIGNATURE`).
    pub shouts_forged: u64,
    /// Broadcasts that arrived on a connection neither side keeps, refused
    /// (`MALFORMED`).
    pub shouts_off_kept: u64,
    /// Verified broadcasts dropped because their origin was over its
    /// budget.
    pub shouts_over_origin_budget: u64,
    /// `SPEAK`s delivered.
    pub speaks_delivered: u64,
    /// `STORE`s accepted (created, refreshed or replaced a record).
    pub records_stored: u64,
    /// `STORE`s refused: conflict, quota, size, address or TTL.
    pub stores_refused: u64,
    /// Records sent to nodes that joined among their k closest.
    pub records_replicated: u64,
    /// Whispers this node sent.
    pub whispers_sent: u64,
    /// Whispers delivered to this node.
    pub whispers_delivered: u64,
    /// Whispers that arrived here again (a retry whose first copy had
    /// arrived, or a replay): answered, not delivered twice.
    pub whispers_repeated: u64,
    /// This node's own whispers whose route, chosen by the node, failed
    /// and that were sent again after a lookup of their destination.
    pub whisper_fallbacks: u64,
    /// Whispers this node forwarded towards their destination.
    pub whispers_relayed: u64,
    /// Whispers this node could not take closer, refused back to their
    /// origin (`NACK UNDELIVERABLE`).
    pub whispers_undeliverable: u64,
    /// `CUSTOM` requests handed to the application.
    pub customs_delivered: u64,
    /// `CUSTOM` requests for names with no handler.
    pub customs_unknown: u64,
    /// Node infos from `FIND_NODE` answers that a lookup went to contact and
    /// found unusable: an invalid key, or only unusable addresses.
    pub invalid_nodes: u64,
    /// Connections closed for framing errors.
    pub framing_errors: u64,
    /// Connections closed because they would decompress past their
    /// budget.
    pub decompression_over_budget: u64,
    /// The node's own messages dropped because a connection's outbox was
    /// full of its own messages.
    pub dropped_messages: u64,
    /// Forwarded messages (`SHOUT` copies, relayed `WHISPER`s and their
    /// answers) dropped on a full outbox, or evicted from it by the node's
    /// own (docs/PROTOCOL.md §11).
    pub dropped_forwarded: u64,
    /// Outputs (transmissions, actions, events) dropped on a full queue.
    pub dropped_outputs: u64,
    /// Requests not sent because the request table was full.
    pub dropped_requests: u64,
    /// Messages that could not be encoded (an engine bug if ever non-zero).
    pub encode_errors: u64,
    /// Lookup requests failed because no connection could be opened: the
    /// queue of requests waiting for a transient connection was full, or
    /// another node answers at the peer's address.
    pub lookup_unreachable: u64,
    /// Dials that failed or were never answered within the handshake
    /// timeout.
    pub dial_failures: u64,
    /// Lookup requests sent a second time because the connection closed
    /// before the answer came.
    pub retries: u64,
    /// Transient connections closed because they were idle.
    pub idle_closed: u64,
    /// Messages queued for sending (each transmission batches one or
    /// more).
    pub messages_sent: u64,
    /// Inbound connections refused on arrival by an admission limit.
    pub refused_inbound: u64,
    /// Requests refused with `NACK RATE_LIMITED`: over their class's
    /// budget on their connection.
    pub rate_limited: u64,
    /// Connections closed because they caused more refusals than their
    /// budget allows.
    pub refusals_over_budget: u64,
    /// Requests dropped unanswered because their connection's outbox was
    /// full for this input.
    pub outbox_full: u64,
    /// Encrypted messages to this node that did not decrypt.
    pub decrypt_failures: u64,
    /// Signed messages whose signature did not verify.
    pub bad_signatures: u64,
    /// Secured connections closed because the peer's hello was malformed,
    /// named an invalid key or this node's own, or was not bound to the
    /// channel.
    pub refused_handshakes: u64,
}

/// The bounded output queues, the set of connections with messages waiting
/// to be encoded, and the counters.
#[derive(Debug)]
pub(crate) struct Outputs {
    transmits: VecDeque<Transmit>,
    /// Closes are never dropped: the engine has forgotten the connection,
    /// so only the driver can still free it. There is at most one per
    /// connection the driver reported.
    closes: VecDeque<Action>,
    actions: VecDeque<Action>,
    events: VecDeque<Event>,
    /// Connections with messages queued in their outbox: each becomes one
    /// transmission when the driver polls.
    dirty: BTreeSet<ConnectionId>,
    capacity: usize,
    pub(crate) stats: Stats,
}

impl Outputs {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            transmits: VecDeque::new(),
            closes: VecDeque::new(),
            actions: VecDeque::new(),
            events: VecDeque::new(),
            dirty: BTreeSet::new(),
            capacity,
            stats: Stats::default(),
        }
    }

    pub(crate) fn push_transmit(&mut self, t: Transmit) {
        push(&mut self.transmits, t, self.capacity, &mut self.stats);
    }

    pub(crate) fn push_action(&mut self, a: Action) {
        push(&mut self.actions, a, self.capacity, &mut self.stats);
    }

    /// Queues a close; never dropped (see the `closes` field).
    pub(crate) fn push_close(&mut self, close: Action) {
        self.closes.push_back(close);
    }

    pub(crate) fn push_event(&mut self, e: Event) {
        push(&mut self.events, e, self.capacity, &mut self.stats);
    }

    pub(crate) fn pop_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next action: closes first, so a connection's resources are
    /// freed before new ones are asked for.
    pub(crate) fn pop_action(&mut self) -> Option<Action> {
        self.closes.pop_front().or_else(|| self.actions.pop_front())
    }

    pub(crate) fn pop_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// `conn` has messages waiting to be encoded.
    pub(crate) fn mark_dirty(&mut self, conn: ConnectionId) {
        self.dirty.insert(conn);
    }

    /// `conn` no longer needs encoding (it is being flushed or is gone).
    pub(crate) fn clear_dirty(&mut self, conn: ConnectionId) {
        self.dirty.remove(&conn);
    }

    /// The next connection with messages waiting, lowest id first.
    pub(crate) fn pop_dirty(&mut self) -> Option<ConnectionId> {
        self.dirty.pop_first()
    }

    /// Whether anything waits for the driver.
    pub(crate) fn is_empty(&self) -> bool {
        self.transmits.is_empty()
            && self.closes.is_empty()
            && self.actions.is_empty()
            && self.events.is_empty()
            && self.dirty.is_empty()
    }
}

fn push<T>(queue: &mut VecDeque<T>, item: T, capacity: usize, stats: &mut Stats) {
    if queue.len() < capacity {
        queue.push_back(item);
    } else {
        stats.dropped_outputs += 1;
    }
}

impl Stats {
    /// Counts a transmission received with `method`.
    pub(crate) fn count_received(&mut self, method: shoutnet_compress::Method) {
        use shoutnet_compress::Method;
        let counter = match method {
            Method::None => &mut self.received_none,
            Method::Bz2 => &mut self.received_bz2,
            Method::Gzip => &mut self.received_gzip,
            Method::Lzma => &mut self.received_lzma,
            Method::Zlib => &mut self.received_zlib,
            Method::Snappy => &mut self.received_snappy,
        };
        *counter += 1;
    }

    /// Transmissions received with `method`.
    pub fn received_with(&self, method: shoutnet_compress::Method) -> u64 {
        use shoutnet_compress::Method;
        match method {
            Method::None => self.received_none,
            Method::Bz2 => self.received_bz2,
            Method::Gzip => self.received_gzip,
            Method::Lzma => self.received_lzma,
            Method::Zlib => self.received_zlib,
            Method::Snappy => self.received_snappy,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queues_are_bounded_and_count_what_they_drop() {
        let mut out = Outputs::new(2);
        for i in 0..5 {
            out.push_event(Event::Disconnected {
                conn: ConnectionId(i),
                peer: None,
            });
        }
        assert_eq!(out.stats.dropped_outputs, 3);
        let kept: Vec<_> = std::iter::from_fn(|| out.pop_event()).collect();
        assert_eq!(kept.len(), 2, "the first two stay, in order");
        assert!(out.is_empty());
        for i in 0..5 {
            let reason = crate::CloseReason::Idle;
            out.push_action(Action::Dial {
                addr: "127.0.0.1:1".parse().unwrap(),
            });
            out.push_close(Action::Close {
                conn: ConnectionId(i),
                reason,
            });
        }
        let actions: Vec<_> = std::iter::from_fn(|| out.pop_action()).collect();
        let closes = actions
            .iter()
            .filter(|a| matches!(a, Action::Close { .. }))
            .count();
        assert_eq!(closes, 5, "closes are never dropped");
        assert!(
            matches!(actions[0], Action::Close { .. }),
            "closes come first"
        );
        assert_eq!(actions.len(), 7, "dials are bounded");
        out.mark_dirty(ConnectionId(9));
        out.mark_dirty(ConnectionId(3));
        assert!(!out.is_empty(), "a dirty connection is output waiting");
        assert_eq!(out.pop_dirty(), Some(ConnectionId(3)));
        out.clear_dirty(ConnectionId(9));
        assert!(out.is_empty());
    }
}

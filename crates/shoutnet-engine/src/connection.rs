//! Per-connection state (docs/PROTOCOL.md §4, §6, §9): the stream decoder,
//! the queue of messages waiting for the next transmission, the handshake,
//! and the connection's role.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Instant;

use shoutnet_crypto::{Address, PublicKey};
use shoutnet_wire::{Limits, Message, Method, StreamDecoder};

use crate::event::{ConnectionId, Direction};
use crate::handshake::Handshake;

/// Why a connection exists, which decides who closes it and when.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// The peer dialled us; the peer decides when it ends.
    Inbound,
    /// One of this node's ℓ long-lived outbound connections (DESIGN R10):
    /// kept open with keepalives, replaced when lost.
    Kept,
    /// An outbound connection for requests to a peer the node keeps no
    /// connection to; closed once idle.
    Transient,
}

/// The authenticated peer of an established connection.
#[derive(Clone, Debug)]
pub(crate) struct Peer {
    /// Its routing address.
    pub(crate) address: Address,
    /// Its key.
    pub(crate) public: PublicKey,
    /// Where it accepts connections.
    pub(crate) listen: Vec<SocketAddr>,
}

/// One connection the driver reported.
#[derive(Debug)]
pub(crate) struct Connection {
    /// The address dialled, for outbound connections.
    pub(crate) dialled: Option<SocketAddr>,
    /// Who opened it and why.
    pub(crate) role: Role,
    /// The peers this node expected at the dialled address (empty for
    /// inbound connections and seeds).
    pub(crate) expected: Vec<Address>,
    /// Reassembles transmissions from the byte stream.
    pub(crate) decoder: StreamDecoder,
    /// Messages for the next transmission, bounded by the queue capacity.
    pub(crate) outbox: Vec<Message>,
    /// Handshake progress.
    pub(crate) handshake: Handshake,
    /// Set once the handshake completed.
    pub(crate) peer: Option<Peer>,
    /// When bytes last arrived, or when it was opened.
    pub(crate) last_received: Instant,
    /// When bytes last arrived or were queued, or when it was opened.
    pub(crate) last_active: Instant,
    /// Whether a keepalive `PING` is outstanding.
    pub(crate) keepalive_pending: bool,
    /// Requests this node sent on it that await an answer.
    pub(crate) outstanding: usize,
    /// The compression method used for sending; `none` until negotiated.
    pub(crate) send_method: Method,
}

impl Connection {
    pub(crate) fn new(
        direction: Direction,
        role: Role,
        limits: Limits,
        handshake: Handshake,
        now: Instant,
    ) -> Self {
        let dialled = match direction {
            Direction::Outbound { addr } => Some(addr),
            Direction::Inbound => None,
        };
        Self {
            dialled,
            role,
            expected: Vec::new(),
            decoder: StreamDecoder::new(limits),
            outbox: Vec::new(),
            handshake,
            peer: None,
            last_received: now,
            last_active: now,
            keepalive_pending: false,
            outstanding: 0,
            send_method: Method::None,
        }
    }

    /// Whether the handshake completed.
    pub(crate) fn is_established(&self) -> bool {
        self.peer.is_some()
    }
}

/// The established connections to each peer. Two nodes that dial each
/// other hold two; each is used until it closes.
#[derive(Debug, Default)]
pub(crate) struct PeerConnections(BTreeMap<Address, Vec<ConnectionId>>);

impl PeerConnections {
    /// The newest established connection to `peer`.
    pub(crate) fn newest(&self, peer: &Address) -> Option<ConnectionId> {
        self.0.get(peer).and_then(|conns| conns.last().copied())
    }

    /// Every established connection to `peer`, oldest first.
    pub(crate) fn all(&self, peer: &Address) -> &[ConnectionId] {
        self.0.get(peer).map_or(&[], Vec::as_slice)
    }

    pub(crate) fn contains(&self, peer: &Address) -> bool {
        self.0.contains_key(peer)
    }

    pub(crate) fn add(&mut self, peer: Address, conn: ConnectionId) {
        self.0.entry(peer).or_default().push(conn);
    }

    pub(crate) fn remove(&mut self, peer: &Address, conn: ConnectionId) {
        if let Some(conns) = self.0.get_mut(peer) {
            conns.retain(|c| *c != conn);
            if conns.is_empty() {
                self.0.remove(peer);
            }
        }
    }
}

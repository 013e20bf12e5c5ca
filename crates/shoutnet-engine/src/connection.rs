//! Per-connection state (docs/PROTOCOL.md §4, §6, §9): the stream decoder,
//! the queue of messages waiting for the next transmission, and the
//! handshake.

use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;
use shoutnet_crypto::Address;
use shoutnet_wire::{Limits, Message, Method, StreamDecoder};

use crate::event::Direction;
use crate::handshake::Handshake;

/// The authenticated peer of an established connection.
#[derive(Clone, Debug)]
pub(crate) struct Peer {
    /// Its routing address.
    pub(crate) address: Address,
    /// Its key field.
    pub(crate) key: Bytes,
    /// Where it accepts connections.
    pub(crate) listen: Vec<SocketAddr>,
}

/// One connection the driver reported.
#[derive(Debug)]
pub(crate) struct Connection {
    /// Who opened it.
    pub(crate) direction: Direction,
    /// Reassembles transmissions from the byte stream.
    pub(crate) decoder: StreamDecoder,
    /// Messages for the next transmission, bounded by the queue capacity.
    pub(crate) outbox: Vec<Message>,
    /// Handshake progress.
    pub(crate) handshake: Handshake,
    /// Set once the handshake completed.
    pub(crate) peer: Option<Peer>,
    /// When the driver reported it.
    pub(crate) opened: Instant,
    /// When bytes last arrived or it was opened.
    pub(crate) last_seen: Instant,
    /// Whether a keepalive `PING` is outstanding.
    pub(crate) keepalive_pending: bool,
    /// The compression method used for sending; `none` until negotiated.
    pub(crate) send_method: Method,
}

impl Connection {
    pub(crate) fn new(
        direction: Direction,
        limits: Limits,
        handshake: Handshake,
        now: Instant,
    ) -> Self {
        Self {
            direction,
            decoder: StreamDecoder::new(limits),
            outbox: Vec::new(),
            handshake,
            peer: None,
            opened: now,
            last_seen: now,
            keepalive_pending: false,
            send_method: Method::None,
        }
    }

    /// The address dialled, for outbound connections.
    pub(crate) fn dialled(&self) -> Option<SocketAddr> {
        match self.direction {
            Direction::Outbound { addr } => Some(addr),
            Direction::Inbound => None,
        }
    }
}

//! What arrives at a node (docs/PROTOCOL.md §8.5–§8.8; ARCHITECTURE.md,
//! "The runtime and the facade").

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use serde::de::DeserializeOwned;
use shoutnet_crypto::Address;
use shoutnet_engine::Event as EngineEvent;
use shoutnet_net::EventStream;
use shoutnet_wire::Value;

use crate::Error;

/// Something that arrived at the node.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// A broadcast from anywhere in the network, delivered once.
    Shout {
        /// Its origin's key (its signature was verified).
        from: Bytes,
        /// What it carries.
        data: Value,
    },
    /// A `SPEAK` from a direct peer.
    Speak {
        /// The peer.
        peer: Address,
        /// What it carries.
        data: Value,
    },
    /// A whisper for this node (already acknowledged).
    Whisper {
        /// The sender's key.
        from: Bytes,
        /// What it carries.
        data: Value,
        /// Whether it was encrypted end to end.
        encrypted: bool,
        /// Whether it came through other nodes.
        routed: bool,
    },
    /// A `CUSTOM` request for a name registered through the engine without
    /// a handler (handlers registered with
    /// [`Node::register_custom`](crate::Node::register_custom) answer
    /// their own).
    Custom {
        /// The peer that sent it.
        peer: Address,
        /// The handler's name.
        name: String,
        /// The request's data.
        data: Value,
    },
    /// A peer completed a handshake with this node.
    PeerConnected {
        /// Its routing address.
        peer: Address,
        /// Its key.
        key: Bytes,
    },
    /// A peer's connection closed.
    PeerDisconnected {
        /// Its routing address.
        peer: Address,
    },
}

impl Event {
    /// The data of a `Shout`, `Speak`, `Whisper` or `Custom`, as a serde
    /// type.
    pub fn data_as<T: DeserializeOwned>(&self) -> Option<Result<T, Error>> {
        let data = match self {
            Self::Shout { data, .. }
            | Self::Speak { data, .. }
            | Self::Whisper { data, .. }
            | Self::Custom { data, .. } => data,
            Self::PeerConnected { .. } | Self::PeerDisconnected { .. } => return None,
        };
        Some(shoutnet_wire::from_value(data).map_err(Error::from))
    }

    fn from_engine(event: EngineEvent) -> Option<Self> {
        Some(match event {
            EngineEvent::Shout { origin, data, .. } => Self::Shout { from: origin, data },
            EngineEvent::Speak { peer, data, .. } => Self::Speak { peer, data },
            EngineEvent::Whisper {
                from,
                data,
                encrypted,
                routed,
                ..
            } => Self::Whisper {
                from,
                data,
                encrypted,
                routed,
            },
            EngineEvent::Custom {
                peer, name, data, ..
            } => Self::Custom { peer, name, data },
            EngineEvent::Connected { peer, key, .. } => Self::PeerConnected { peer, key },
            EngineEvent::Disconnected {
                peer: Some(peer), ..
            } => Self::PeerDisconnected { peer },
            _ => return None,
        })
    }
}

/// The stream of what arrives at a node; it ends when the node stops.
/// Events the application does not read pile up to a bound
/// ([`NetConfig::DEFAULT_EVENT_QUEUE`](shoutnet_net::NetConfig::DEFAULT_EVENT_QUEUE)),
/// then are dropped and counted.
#[derive(Debug)]
pub struct Events {
    inner: EventStream,
}

impl Events {
    pub(crate) fn new(inner: EventStream) -> Self {
        Self { inner }
    }

    /// The next event, or `None` once the node stopped.
    pub async fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(event) = Event::from_engine(self.inner.recv().await?) {
                return Some(event);
            }
        }
    }
}

impl futures_core::Stream for Events {
    type Item = Event;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        loop {
            match Pin::new(&mut self.inner).poll_next(cx) {
                Poll::Ready(Some(event)) => {
                    if let Some(event) = Event::from_engine(event) {
                        return Poll::Ready(Some(event));
                    }
                }
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

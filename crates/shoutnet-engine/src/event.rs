//! The engine's inputs and outputs (docs/PROTOCOL.md §9, §10): connection
//! ids, commands, transmissions, driver actions and application events.

use std::net::SocketAddr;

use bytes::Bytes;
use shoutnet_crypto::Address;
use shoutnet_flood::MessageId;
use shoutnet_kad::LookupStats;
use shoutnet_wire::HelloError;
use shoutnet_wire::{DecodeError, Opcode, Value};

/// A connection, numbered by the driver. The engine never invents one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConnectionId(pub u64);

/// The id of a [`Command`], returned by
/// [`NodeEngine::handle_command`](crate::NodeEngine::handle_command) and
/// carried back by the events it causes.
///
/// It is the application's handle, chosen by the engine and never sent: the
/// request ids on the wire (docs/PROTOCOL.md §8) are a separate numbering,
/// since one command (a lookup, a bootstrap) sends many requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CommandId(pub u64);

/// Who opened a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// The peer dialled this node.
    Inbound {
        /// The peer's address as the connection shows it (its IP decides
        /// the per-address limits and which of its claimed listen
        /// addresses are believed).
        remote: SocketAddr,
    },
    /// This node dialled `addr` (usually after an [`Action::Dial`]).
    Outbound {
        /// The address that was dialled.
        addr: SocketAddr,
    },
}

/// What the application asks the engine to do.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Command {
    /// Run an iterative `FIND_NODE` lookup of `target`; ends with
    /// [`Event::LookupFinished`].
    FindNode {
        /// The address looked up.
        target: Address,
    },
    /// Join the network: dial `seeds`, and once every seed has connected or
    /// failed, look up this node's own address, then refresh every bucket
    /// farther away than the closest neighbour found (the Kademlia paper's
    /// join). Ends with [`Event::BootstrapFinished`]; from then on the node
    /// keeps ℓ connections to peers of its routing table.
    Bootstrap {
        /// Addresses of nodes to start from.
        seeds: Vec<SocketAddr>,
    },
    /// Broadcast `data` to the whole network (`SHOUT`, docs/PROTOCOL.md
    /// §8.5, §9.7): signed by this node, flooded over kept connections,
    /// delivered once to every node. [`Event::Shouted`] names its id.
    Shout {
        /// What to broadcast.
        data: Value,
    },
    /// Send `data` to every direct peer (`SPEAK`): one connection per
    /// peer, never forwarded.
    Speak {
        /// What to send.
        data: Value,
    },
}

/// Bytes the driver must write to a connection, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transmit {
    /// The connection to write to.
    pub conn: ConnectionId,
    /// One whole transmission (docs/PROTOCOL.md §4).
    pub bytes: Bytes,
}

/// Something the driver must do besides writing bytes.
///
/// Not `#[non_exhaustive]` on purpose: a driver must carry out every
/// action, so a new one should fail to compile in every driver rather than
/// be ignored by a wildcard arm.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Open a connection to `addr`, then report it with
    /// [`NodeEngine::handle_connected`](crate::NodeEngine::handle_connected)
    /// and [`Direction::Outbound`], or report a failure with
    /// [`NodeEngine::handle_dial_failed`](crate::NodeEngine::handle_dial_failed).
    /// A dial never reported is given up after the handshake timeout.
    Dial {
        /// Where to connect.
        addr: SocketAddr,
    },
    /// Close `conn` after writing what was already transmitted. The engine
    /// has already forgotten it.
    Close {
        /// The connection to close.
        conn: ConnectionId,
        /// Why.
        reason: CloseReason,
    },
}

/// Why the engine closed a connection (docs/PROTOCOL.md §9, §10): one
/// variant per cause, so drivers can log and count them and tests can match
/// them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CloseReason {
    /// The driver reported a new connection under an id already in use;
    /// the old connection is closed.
    #[error("connection id reused")]
    ConnectionIdReused,
    /// The peer's byte stream broke the framing rules (§4, §5).
    #[error("framing error: {0}")]
    Framing(DecodeError),
    /// The handshake did not complete within the handshake timeout (§9.1).
    #[error("handshake timed out")]
    HandshakeTimedOut,
    /// The peer's hello does not follow §9.1.
    #[error("malformed hello: {0}")]
    MalformedHello(HelloError),
    /// The peer's hello carries this node's own key.
    #[error("connected to itself")]
    SelfConnection,
    /// The peer's hello names a key that is not valid for the profile (§2).
    #[error("invalid hello key")]
    InvalidKey,
    /// The peer's hello is not bound to its channel: its binding
    /// signature does not cover the Noise static key the channel proved
    /// (a relayed or forged hello, §5.5).
    #[error("hello not bound to the channel")]
    UnboundKey,
    /// The peer sent data before the handshake completed.
    #[error("{0} before the handshake completed")]
    NotAuthenticated(Opcode),
    /// A message after the handshake carried a from-key other than the
    /// peer's, and is not forwarded traffic (§9.2).
    #[error("from-key is not the authenticated peer")]
    ForeignFromKey,
    /// A keepalive `PING` went unanswered (§9.4).
    #[error("keepalive not answered")]
    KeepaliveTimedOut,
    /// An idle transient connection was closed (§9.4).
    #[error("idle transient connection")]
    Idle,
    /// An idle transient connection was closed early because a request
    /// waits for its slot (§9.4).
    #[error("transient slot needed")]
    TransientSlotNeeded,
    /// The peer sent compressed transmissions that would decompress past
    /// the connection's decompression budget (§11).
    #[error("over the decompression budget")]
    DecompressionBudget,
    /// The peer caused more refusals (`NACK`s) than its budget allows
    /// (§11).
    #[error("too many refusals")]
    TooManyRefusals,
    /// A kept connection closed so that a node holding ℓ of them, none to
    /// a lower address, can open one to its anchor (§9.4).
    #[error("closed to make way for a kept connection to an anchor")]
    MadeWayForAnchor,
    /// An inbound connection refused on arrival (§11).
    #[error("inbound connection refused: {0}")]
    Admission(Admission),
}

/// Why an inbound connection was refused as it arrived (docs/PROTOCOL.md
/// §11): each limit bounds what unauthenticated peers can cost the node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Admission {
    /// The node holds its most inbound connections.
    #[error("too many inbound connections")]
    TooManyInbound,
    /// The peer's IP address holds its most inbound connections.
    #[error("too many inbound connections from one address")]
    TooManyFromAddress,
    /// Too many connections have not completed their handshake.
    #[error("too many handshakes in progress")]
    TooManyHandshakes,
    /// New inbound handshakes arrive faster than the handshake budget.
    #[error("over the handshake rate")]
    HandshakeRate,
}

/// What the engine tells the application.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A handshake completed (docs/PROTOCOL.md §9.1).
    Connected {
        /// The connection.
        conn: ConnectionId,
        /// The peer's routing address.
        peer: Address,
        /// The peer's key field.
        key: Bytes,
        /// The addresses the peer says it listens on.
        listen: Vec<SocketAddr>,
    },
    /// A connection the engine knew of is gone.
    Disconnected {
        /// The connection.
        conn: ConnectionId,
        /// The peer's address, if the handshake had completed.
        peer: Option<Address>,
    },
    /// A [`Command::FindNode`] lookup ended.
    LookupFinished {
        /// The command's id.
        id: CommandId,
        /// The address looked up.
        target: Address,
        /// Up to k closest peers that answered, nearest first.
        closest: Vec<Address>,
        /// The lookup's counters.
        stats: LookupStats,
    },
    /// A [`Command::Shout`] left on this node's kept connections.
    Shouted {
        /// The command's id.
        id: CommandId,
        /// The broadcast's message id, the one every node delivers it with.
        message: MessageId,
        /// The connections it went out on.
        sent: usize,
    },
    /// A broadcast from anywhere in the network, delivered once.
    Shout {
        /// The connection it arrived on first.
        conn: ConnectionId,
        /// Its origin's key field (its signature verified).
        origin: Bytes,
        /// Its message id.
        message: MessageId,
        /// The kept connections it was forwarded on.
        forwarded: usize,
        /// What it carries. Binaries in it share the received transmission's
        /// buffer.
        data: Value,
    },
    /// A `SPEAK` from a direct peer.
    Speak {
        /// The connection it arrived on.
        conn: ConnectionId,
        /// The peer's routing address.
        peer: Address,
        /// What it carries.
        data: Value,
    },
    /// A [`Command::Bootstrap`] ended.
    BootstrapFinished {
        /// The command's id.
        id: CommandId,
        /// Entries in the routing table at the end. 0 means no seed could
        /// be reached: the node is alone, and tries nothing more on its
        /// own; give it another `Bootstrap` (with other seeds, or later).
        table_len: usize,
        /// Lookups run: the self-lookup and one per refreshed bucket.
        lookups: usize,
        /// The counters of those lookups, summed (`rounds` is the most of
        /// any one of them).
        stats: LookupStats,
    },
}

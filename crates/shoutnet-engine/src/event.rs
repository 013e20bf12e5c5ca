//! The engine's inputs and outputs (docs/PROTOCOL.md §9, §10): connection
//! ids, commands, transmissions, driver actions and application events.

use std::net::SocketAddr;

use bytes::Bytes;
use shoutnet_crypto::Address;
use shoutnet_flood::MessageId;
use shoutnet_kad::LookupStats;
use shoutnet_wire::HelloError;
use shoutnet_wire::{DecodeError, Metadata, NackCode, Opcode, Value};

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
    /// Store `value` under `key` in the DHT (docs/PROTOCOL.md §9.8): a
    /// lookup of the key's address, then `STORE` to the r closest nodes
    /// ([`EngineConfig::set_record_replicas`](crate::EngineConfig::set_record_replicas)).
    /// Ends with [`Event::PutFinished`]. The node republishes the record
    /// before its TTL runs out for as long as it runs.
    Put {
        /// The DHT key, at most 1,024 bytes.
        key: Bytes,
        /// The value, at most 65,536 bytes encoded.
        value: Value,
        /// The record's version; `None` is one more than this node last
        /// published under `key`, or 0.
        version: Option<u64>,
        /// Seconds the record lives; `None` is the longest holders keep
        /// (a day by default).
        ttl: Option<u64>,
    },
    /// Find the value stored under `key`: an iterative `FIND_VALUE` lookup
    /// that stops at the first valid value. Ends with
    /// [`Event::GetFinished`].
    Get {
        /// The DHT key.
        key: Bytes,
    },
    /// Serve `CUSTOM` requests named `name` (docs/PROTOCOL.md §8.8): they
    /// arrive as [`Event::Custom`]. Names are 1 to 64 bytes.
    RegisterCustom {
        /// The handler's name.
        name: String,
    },
    /// Stop serving `name`: later requests get `NACK NOT_FOUND`.
    UnregisterCustom {
        /// The handler's name.
        name: String,
    },
    /// Send a `CUSTOM` request to `peer`, over its connection or a new one
    /// to the address the routing table has for it; a peer with neither is
    /// looked up first (`RequestError::Unreachable` if the lookup does not
    /// reach it). With `reply`, ends with [`Event::CustomAnswered`];
    /// without, nothing is answered.
    Custom {
        /// The node to ask.
        peer: Address,
        /// The handler's name.
        name: String,
        /// What to send it.
        data: Value,
        /// Whether to ask for an answer.
        reply: bool,
    },
    /// Send `data` to the node whose key field is `to` (`WHISPER`,
    /// docs/PROTOCOL.md §8.6, §9.9). Ends with exactly one
    /// [`Event::WhisperFinished`]: delivered (the destination's `ACK`
    /// carried the digest of the body as sent), undeliverable, or timed out.
    Whisper {
        /// The destination's key field.
        to: Bytes,
        /// What to send.
        data: Value,
        /// Whether to encrypt it end to end; `None` is the node's default
        /// (on). A recursive whisper is always encrypted.
        encrypt: Option<bool>,
        /// How to route it; [`WhisperRoute::Auto`] lets the node choose.
        route: WhisperRoute,
    },
    /// Answer the `CUSTOM` request that [`Event::Custom`] handed out as
    /// `reply`: with data (`ACK CUSTOM`) or a refusal (`NACK`).
    ReplyCustom {
        /// The request answered.
        reply: ReplyHandle,
        /// The answer.
        answer: Result<Value, CustomRefusal>,
    },
}

/// How a `WHISPER` travels (docs/PROTOCOL.md §9.9).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum WhisperRoute {
    /// Let the node choose: direct if connected, else iterative if the
    /// routing table has the destination's address, else recursive if a
    /// known node shares a longer prefix with the destination than this
    /// node, else iterative with a lookup.
    Auto,
    /// Over an existing connection to the destination only.
    Direct,
    /// Find the destination's address (from the routing table, or a
    /// `FIND_NODE` lookup), connect to it and send.
    Iterative,
    /// Hand it to the known node sharing the longest prefix with the
    /// destination, which does the same; signed and encrypted.
    Recursive,
}

/// Why a `WHISPER` was not delivered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WhisperError {
    /// The destination could not be found or reached: `NACK UNDELIVERABLE`
    /// from a node on the way, no connection for [`WhisperRoute::Direct`],
    /// no node closer for a recursive one, or a lookup that did not find it.
    #[error("undeliverable")]
    Undeliverable,
    /// The destination or a relay refused it with a `NACK` of this code.
    #[error("refused: {0:?}")]
    Refused(NackCode),
    /// No answer within the whisper timeout.
    #[error("timed out")]
    TimedOut,
    /// The destination's key is not a valid key of the network's profile.
    #[error("invalid destination key")]
    InvalidKey,
    /// The whisper is this node's own key.
    #[error("whisper to self")]
    ToSelf,
    /// Too many whispers wait for answers already.
    #[error("too many whispers in flight")]
    TooMany,
    /// The data cannot be encoded or encrypted.
    #[error("data cannot be encoded")]
    Unencodable,
}

/// A delivered `WHISPER`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Delivered {
    /// The route it took.
    pub route: WhisperRoute,
    /// SHA-256 of its body, as the destination received it.
    pub digest: [u8; 32],
}

/// A `CUSTOM` request waiting for the application's answer
/// ([`Command::ReplyCustom`]). Each is answered exactly once: by the
/// application, or by the engine when the answer is late or the connection
/// is gone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ReplyHandle(pub(crate) u64);

/// Why an application refuses a `CUSTOM` request; sent as a `NACK` code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CustomRefusal {
    /// The request does not fit what the handler expects (`MALFORMED`).
    #[error("malformed request")]
    Malformed,
    /// The handler failed for its own reasons (`INTERNAL`).
    #[error("handler failed")]
    Internal,
    /// The requester asks too often (`RATE_LIMITED`).
    #[error("rate limited")]
    RateLimited,
}

/// Why a request this node sent for a command did not get its answer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// The peer refused it with a `NACK` of this code (its reason text is
    /// the peer's and not kept).
    #[error("refused: {0:?}")]
    Refused(NackCode),
    /// No answer within the request timeout.
    #[error("timed out")]
    TimedOut,
    /// The connection closed before the answer came.
    #[error("connection lost")]
    ConnectionLost,
    /// No connection to the peer could be had: not connected and no usable
    /// address, a failed dial, or no room for the request.
    #[error("peer unreachable")]
    Unreachable,
}

/// Why a command was not carried out ([`Event::CommandFailed`]).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CommandError {
    /// A DHT key over its limit.
    #[error("key of {len} bytes, over {max}")]
    KeyTooLarge {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A value over its limit once encoded.
    #[error("value of {len} bytes, over {max}")]
    ValueTooLarge {
        /// Its encoded length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A value that cannot be encoded (a nesting or size limit of §7).
    #[error("value cannot be encoded")]
    Unencodable,
    /// A `CUSTOM` name that is empty or over 64 bytes.
    #[error("custom name of {len} bytes, must be 1 to 64")]
    BadName {
        /// Its length.
        len: usize,
    },
    /// [`Command::ReplyCustom`] for a request already answered, timed out
    /// or never handed out.
    #[error("unknown or already answered custom request")]
    UnknownReply,
    /// This node publishes too many records already.
    #[error("too many publications")]
    TooManyPublications,
    /// Every connection it should go out on has its outbox full of this
    /// node's own messages (a slow or stalled peer, docs/PROTOCOL.md §11):
    /// nothing was sent. Try again later.
    #[error("overloaded: every outbox it needs is full")]
    Overloaded,
    /// A TTL shorter than holders accept.
    #[error("ttl of {ttl} s is below the minimum of {min} s")]
    TtlTooShort {
        /// The TTL asked.
        ttl: u64,
        /// The minimum.
        min: u64,
    },
}

/// A value found by [`Command::Get`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    /// The value.
    pub value: Value,
    /// Its metadata as the holder reported it.
    pub metadata: Metadata,
    /// The node that answered with it.
    pub from: Address,
    /// Nodes that answered with a valid value before the lookup ended (the
    /// first one ends it; answers already on their way may add to it).
    pub replicas: usize,
}

/// How a [`Command::Put`] went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PutReport {
    /// The record's address.
    pub address: Address,
    /// The version published.
    pub version: u64,
    /// Nodes that stored it (`ACK STORE`).
    pub stored: usize,
    /// Nodes that hold a record of a higher version, or of the same
    /// version with another value, and refused (`NACK CONFLICT`); the
    /// metadata of the first such record.
    pub conflict: Option<(usize, Metadata)>,
    /// Nodes that refused it otherwise, or could not be reached or did not
    /// answer.
    pub failed: usize,
    /// The lookup that found the nodes.
    pub lookup: LookupStats,
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
    /// A [`Command::Speak`] was queued on `sent` connections (0 when the
    /// node has no direct peer).
    Spoken {
        /// The command's id.
        id: CommandId,
        /// The connections it went out on.
        sent: usize,
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
    /// A [`Command::Put`] ended.
    PutFinished {
        /// The command.
        id: CommandId,
        /// What happened.
        report: PutReport,
    },
    /// A [`Command::Get`] ended.
    GetFinished {
        /// The command.
        id: CommandId,
        /// The key looked up.
        key: Bytes,
        /// The value, if a node had a valid one.
        found: Option<Found>,
        /// The lookup's statistics.
        stats: LookupStats,
    },
    /// A `CUSTOM` request for a registered name arrived
    /// (docs/PROTOCOL.md §8.8). With `reply`, answer it with
    /// [`Command::ReplyCustom`].
    Custom {
        /// The connection it came on.
        conn: ConnectionId,
        /// The peer that sent it.
        peer: Address,
        /// The handler's name.
        name: String,
        /// The request's data.
        data: Value,
        /// The handle to answer with, if the peer asked for an answer.
        reply: Option<ReplyHandle>,
    },
    /// A `WHISPER` for this node arrived and was answered with its digest.
    Whisper {
        /// The connection it came on.
        conn: ConnectionId,
        /// Its origin's key field (its signature was checked if it came
        /// through other nodes).
        from: Bytes,
        /// The data.
        data: Value,
        /// Whether it was encrypted to this node.
        encrypted: bool,
        /// Whether it came through other nodes.
        routed: bool,
    },
    /// A [`Command::Whisper`] ended.
    WhisperFinished {
        /// The command.
        id: CommandId,
        /// Delivered, or why not.
        result: Result<Delivered, WhisperError>,
    },
    /// A [`Command::Custom`] that asked for an answer got one, or failed.
    CustomAnswered {
        /// The command.
        id: CommandId,
        /// The peer's data, or why there is none.
        result: Result<Value, RequestError>,
    },
    /// A command was not carried out.
    CommandFailed {
        /// The command.
        id: CommandId,
        /// Why.
        error: CommandError,
    },
}

//! The entry point of the `engine_connection` fuzz target: one
//! [`NodeEngine`] connection driven with arbitrary bytes, exercising framing
//! (docs/PROTOCOL.md §4, §6), payload dispatch (§8), the handshake (§9.1),
//! origins (§9.2) and refusals (§10), while a second, well-behaved
//! connection (the *witness*) checks that the engine keeps serving others.
//!
//! Byte 0 of an input picks a [`Mode`] (low nibble, modulo 4) and the flags
//! [`NO_HANDSHAKE`] and [`OUTBOUND`]; the rest is the mode's input. The
//! oracles, each a panic naming what broke:
//!
//! - every [`Transmit`] decodes as a transmission with default [`Limits`],
//!   and each of its messages carries a payload that decodes to its
//!   opcode's schema and is plain, unsigned and from this node's key, but
//!   for a forwarded `SHOUT`: to the broadcast key, its origin's signature
//!   valid;
//! - no transmission follows the [`Action::Close`] of its connection, no
//!   connection is closed twice, and outputs name only opened connections;
//! - no drain yields more than [`QUEUE_CAPACITY`] actions or events (or
//!   transmissions, plus one per connection), no transmission's body is
//!   larger than the outbox bound [`OUTBOX_BYTES`], and
//!   `Stats::encode_errors` stays 0;
//! - a `SHOUT` is delivered at most once, from an origin that signed it;
//! - time moves on: `handle_timeout` is never due more than a few times in a
//!   row at the same instant;
//! - the witness is never refused, closed or disconnected, and at the end
//!   its `PING` gets its `ACK`.
//!
//! Runs replay exactly: keys come from fixed ChaCha20 seeds (`ed25519` only;
//! `rsa2048` key generation is too slow for a fuzz loop), the engine's RNG
//! seed is fixed, and virtual time counts from one epoch per input, the
//! harness's only clock read. The engine only compares instants and adds
//! durations to them, so the epoch's value never matters.
//!
//! [`Mode`]: crate::fuzzing::Mode
//! [`NO_HANDSHAKE`]: crate::fuzzing::NO_HANDSHAKE
//! [`OUTBOUND`]: crate::fuzzing::OUTBOUND
//! [`QUEUE_CAPACITY`]: crate::fuzzing::QUEUE_CAPACITY
//! [`OUTBOX_BYTES`]: crate::fuzzing::OUTBOX_BYTES
//! [`Limits`]: shoutnet_wire::Limits

// (The link targets above are full paths because rustdoc joins this text to
// the `mod fuzzing` item's doc comment and resolves it from the crate root.)

// An oracle failure must crash the fuzzer: panicking is this module's job.
// `expect` is kept for harness invariants no input can reach.
#![allow(clippy::panic, clippy::expect_used)]

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use shoutnet_crypto::{
    Address, Keypair, PublicKey, seal_message, sign_message, verify_message_ref,
};
use shoutnet_wire::{
    Ack, AckResult, BatchEncoder, Limits, Message, Method, MethodSet, NodesFor, Opcode, Payload,
    Ping, Profile, ValueLimits, decode_transmission,
};

use crate::channel::{
    ChannelEvent, ChannelIdentity, MAX_NOISE_MESSAGE, SecureChannel, SecuredPeer,
};
use crate::handshake::OwnHello;
use crate::{
    Action, Command, ConnectionId, Direction, EngineConfig, Event, MessageId, NodeEngine, Transmit,
};

/// What follows byte 0 of an input, after the handshake (unless
/// [`NO_HANDSHAKE`] is set).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Mode {
    /// Raw bytes, fed in one piece.
    Bytes = 0,
    /// Steps `[delay, len, len bytes]`: virtual time advances by `delay` ×
    /// [`TICK`], firing every timer due, then the bytes are fed.
    Timed = 1,
    /// Steps `[op, len (u16, big-endian), content]`, each wrapped in a
    /// message header from the peer's key to this node's (see [`FLUSH`] and
    /// [`REPLY`]; the high nibble of `op` is the opcode). `SHOUT` and
    /// `SPEAK` go to the broadcast key, and a `SHOUT` is signed by its
    /// origin: the peer, or the witness with [`WITNESS_ORIGIN`]; with
    /// [`REPLY`] it is left unsigned.
    Messages = 2,
    /// As `Messages`, after a `Command::FindNode` lookup has sent its
    /// `FIND_NODE`s; at the end a minute of virtual time passes.
    Lookup = 3,
}

/// Byte 0 flag: the harness does not complete the handshake: the rest of
/// the input is the peer's hello, handed to
/// [`NodeEngine::handle_secured`](crate::NodeEngine::handle_secured) as if
/// the peer's secure channel had completed with the peer's static key (see
/// [`peer_hello`]); an empty rest is a channel that never completes.
pub const NO_HANDSHAKE: u8 = 0x40;
/// Byte 0 flag: the fuzzed connection is outbound, to the peer's address.
pub const OUTBOUND: u8 = 0x80;
/// Message-step flag: send the messages batched so far as one transmission
/// after this one (the rest of the input is always sent at the end).
pub const FLUSH: u8 = 0x01;
/// Message-step flag: the content starts with the array header and the
/// first two elements of a reply, `[acked_opcode, request_id, ...]`, naming
/// the last request this node sent the peer, followed by `(op >> 2) & 3`
/// more elements, which the step's bytes provide.
pub const REPLY: u8 = 0x02;
/// Message-step flag for a `SHOUT`: its origin is the witness, who signs
/// it (a broadcast the peer relays). For a `WHISPER`: it goes to the
/// witness's key, sealed (encrypted to the witness, signed by the peer), a
/// whisper for this node to relay.
pub const WITNESS_ORIGIN: u8 = 0x04;
/// Virtual time per unit of a [`Mode::Timed`] delay.
pub const TICK: Duration = Duration::from_millis(250);
/// The engine's queue capacity: small enough that inputs overflow it.
pub const QUEUE_CAPACITY: usize = 16;
/// The engine's outbox bound in bytes: small enough that inputs overflow it.
pub const OUTBOX_BYTES: usize = 4096;

const PROFILE: Profile = Profile::Ed25519;
const FUZZED: ConnectionId = ConnectionId(1);
const WITNESS: ConnectionId = ConnectionId(2);
const WITNESS_PING_ID: u64 = 0x5eed;
const LOOKUP_TARGET: Address = Address([0x5a; 32]);
const MAX_FIRINGS: usize = 1000;
const MAX_REPEATS: usize = 8;
const MAX_ROUNDS: usize = 100;

/// The all-zero key field broadcasts are addressed to.
fn broadcast_key() -> Bytes {
    Bytes::from(vec![0; PROFILE.key_len()])
}

/// The fixed key pairs: this node, the fuzzed connection's peer, the witness.
struct Keys {
    engine: Keypair,
    peer: Keypair,
    witness: Keypair,
}

/// The keys, generated once per process (deterministically, so a cache
/// changes nothing but the time each input takes).
fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let key = |seed| {
            Keypair::generate(PROFILE, &mut ChaCha20Rng::from_seed([seed; 32]))
                .expect("ed25519 key generation does not fail")
        };
        Keys {
            engine: key(1),
            peer: key(2),
            witness: key(3),
        }
    })
}

/// This node's key field, for seed generators that build raw inputs.
pub fn engine_key() -> Bytes {
    keys().engine.public().to_bytes()
}

/// The fuzzed connection's peer key field, which the harness uses in the
/// handshake unless [`NO_HANDSHAKE`] is set.
pub fn peer_key() -> Bytes {
    keys().peer.public().to_bytes()
}

/// The fuzzed connection's peer's valid hello, for seed generators (the
/// input after byte 0 in [`NO_HANDSHAKE`] mode).
pub fn peer_hello() -> Bytes {
    identity(&keys().peer, addr(4001)).hello().clone()
}

/// The witness's valid hello: bound to another static key than the
/// fuzzed peer's, so as the fuzzed peer's hello it must be refused.
pub fn witness_hello() -> Bytes {
    identity(&keys().witness, addr(4002)).hello().clone()
}

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// Drives one engine connection with `data` and checks the oracles of the
/// module documentation, panicking when one fails.
pub fn connection(data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let direction = match selector & OUTBOUND {
        0 => Direction::Inbound { remote: addr(4001) },
        _ => Direction::Outbound { addr: addr(4001) },
    };
    let keys = keys();
    let mut h = Harness::new(keys);
    h.open(
        WITNESS,
        Direction::Inbound { remote: addr(4002) },
        &keys.witness,
        addr(4002),
    );
    if selector & NO_HANDSHAKE == 0 {
        h.open(FUZZED, direction, &keys.peer, addr(4001));
    } else {
        h.engine.handle_connected(FUZZED, direction, h.now);
        h.drain();
    }
    match (selector & 0x0f) % 4 {
        0 => h.feed(rest),     // Mode::Bytes
        1 => h.timed(rest),    // Mode::Timed
        2 => h.messages(rest), // Mode::Messages
        _ => {
            // Mode::Lookup
            let target = LOOKUP_TARGET;
            h.engine.handle_command(Command::FindNode { target }, h.now);
            h.drain();
            h.messages(rest);
            h.advance(Duration::from_secs(60));
        }
    }
    h.check_witness();
}

/// The driver and both peers.
struct Harness {
    engine: NodeEngine,
    epoch: Instant,
    now: Instant,
    witness: Bytes,
    connected: BTreeSet<ConnectionId>,
    closed: BTreeSet<ConnectionId>,
    /// The broadcasts delivered so far.
    delivered: BTreeSet<MessageId>,
    /// The last request this node sent on the fuzzed connection.
    last_request: Option<(Opcode, u64)>,
    /// Request ids of the keepalive `ACK`s this node sent the witness.
    witness_acks: Vec<u64>,
}

impl Harness {
    fn new(keys: &Keys) -> Self {
        #[allow(clippy::disallowed_methods)] // The one clock read: the virtual epoch.
        let epoch = Instant::now();
        let mut config = EngineConfig::new(keys.engine.clone(), [4; 32]);
        config.set_listen(vec![addr(4000)]);
        config.set_limits(shoutnet_wire::fuzzing::FUZZ_LIMITS);
        config.set_queue_capacity(QUEUE_CAPACITY);
        config.set_max_outbox_bytes(OUTBOX_BYTES);
        // The peers listen on loopback: believe them, as tests do.
        config.set_local_network(true);
        Self {
            engine: NodeEngine::new(config, epoch),
            epoch,
            now: epoch,
            witness: keys.witness.public().to_bytes(),
            connected: BTreeSet::new(),
            closed: BTreeSet::new(),
            delivered: BTreeSet::new(),
            last_request: None,
            witness_acks: Vec::new(),
        }
    }

    /// Opens `conn` and completes its handshake as the peer holding
    /// `pair`, listening at `at`: the secure channel's outcome is handed to
    /// the engine as a driver would (§9.1).
    fn open(&mut self, conn: ConnectionId, dir: Direction, pair: &Keypair, at: SocketAddr) {
        self.engine.handle_connected(conn, dir, self.now);
        self.drain();
        let id = identity(pair, at);
        let peer = SecuredPeer {
            remote_static: *id.static_public(),
            hello: id.hello().clone(),
        };
        self.engine.handle_secured(conn, peer, self.now);
        self.drain();
        let done = self.connected.contains(&conn);
        assert!(done, "the handshake on {conn:?} did not complete");
    }

    fn feed(&mut self, bytes: &[u8]) {
        self.engine.handle_bytes(FUZZED, bytes, self.now);
        self.drain();
    }

    fn timed(&mut self, mut data: &[u8]) {
        while let [delay, len, rest @ ..] = data {
            let (chunk, tail) = split(rest, usize::from(*len));
            self.advance(TICK * u32::from(*delay));
            self.feed(chunk);
            data = tail;
        }
    }

    fn messages(&mut self, mut data: &[u8]) {
        let (from, to) = (peer_key(), engine_key());
        let mut batch = BatchEncoder::with_capacity(PROFILE, 0);
        while let [op, hi, lo, rest @ ..] = data {
            let (content, tail) = split(rest, usize::from(u16::from_be_bytes([*hi, *lo])));
            data = tail;
            let content = match (op & REPLY, self.last_request) {
                (0, _) => Bytes::copy_from_slice(content),
                (_, last) => reply_prefix(last.unwrap_or((Opcode::Ping, 0)), *op, content),
            };
            let opcode = Opcode::from_nibble(op >> 4);
            let msg = match opcode {
                Opcode::Shout | Opcode::Speak => {
                    let mut msg = Message::new(from.clone(), broadcast_key(), opcode, content);
                    if opcode == Opcode::Shout && op & REPLY == 0 {
                        let origin = match op & WITNESS_ORIGIN {
                            0 => &keys().peer,
                            _ => &keys().witness,
                        };
                        msg.from = origin.public().to_bytes();
                        // Ed25519 signing draws nothing from the RNG.
                        let mut rng = ChaCha20Rng::from_seed([0; 32]);
                        sign_message(origin, &mut rng, &mut msg)
                            .expect("the origin's own key signs");
                    }
                    msg
                }
                Opcode::Whisper if op & WITNESS_ORIGIN != 0 && op & REPLY == 0 => {
                    let witness = keys().witness.public();
                    let mut msg = Message::new(from.clone(), witness.to_bytes(), opcode, content);
                    let mut rng = ChaCha20Rng::from_seed([1; 32]);
                    seal_message(&keys().peer, witness, &mut rng, &mut msg)
                        .expect("the peer's own key seals");
                    msg
                }
                _ => Message::new(from.clone(), to.clone(), opcode, content),
            };
            batch.push(&msg).expect("right key lengths, short body");
            if op & FLUSH != 0 {
                let full = std::mem::replace(&mut batch, BatchEncoder::with_capacity(PROFILE, 0));
                self.feed_batch(full);
            }
        }
        self.feed_batch(batch);
    }

    fn feed_batch(&mut self, batch: BatchEncoder) {
        if !batch.is_empty() {
            self.feed(&batch.finish(Method::None).expect("a batch encodes"));
        }
    }

    /// Lets `span` of virtual time pass as a driver would: fires each
    /// deadline `poll_timeout` names until the next is past the end. A
    /// timer set while others fire waits for the next call, so a deadline
    /// may come back once or twice, but time must move on.
    fn advance(&mut self, span: Duration) {
        let end = self.now + span;
        let mut repeats = 0;
        for _ in 0..MAX_FIRINGS {
            let Some(deadline) = self.engine.poll_timeout().filter(|d| *d <= end) else {
                self.now = end;
                return;
            };
            repeats = if deadline > self.now { 0 } else { repeats + 1 };
            let at = self.now.saturating_duration_since(self.epoch);
            assert!(repeats <= MAX_REPEATS, "timer livelock at {at:?}");
            self.now = self.now.max(deadline);
            self.engine.handle_timeout(self.now);
            self.drain();
        }
        panic!("more than {MAX_FIRINGS} timer firings in {span:?}");
    }

    /// Drains every output and checks it; the witness answers this node's
    /// requests at once, which may cause more output.
    fn drain(&mut self) {
        for _ in 0..MAX_ROUNDS {
            let mut replies = Vec::new();
            // The queue, plus one per connection with queued messages.
            let transmits = bounded(|| self.engine.poll_transmit(), QUEUE_CAPACITY + 2);
            for t in transmits {
                self.check_transmit(t, &mut replies);
            }
            for action in bounded(|| self.engine.poll_action(), QUEUE_CAPACITY) {
                self.check_action(action);
            }
            for event in bounded(|| self.engine.poll_event(), QUEUE_CAPACITY) {
                self.check_event(event);
            }
            let errors = self.engine.stats().encode_errors;
            assert_eq!(errors, 0, "the engine could not encode a message");
            assert!(self.engine.connection_count() <= 2, "unknown connections");
            if replies.is_empty() {
                return;
            }
            let bytes = encode(&self.witness, &replies);
            self.engine.handle_bytes(WITNESS, &bytes, self.now);
        }
        panic!("the engine and the witness exchanged {MAX_ROUNDS} rounds without rest");
    }

    fn check_transmit(&mut self, t: Transmit, replies: &mut Vec<Payload>) {
        let conn = t.conn;
        assert!(conn == FUZZED || conn == WITNESS, "transmit to {conn:?}");
        assert!(!self.closed.contains(&conn), "transmit after Close");
        let body = t.bytes.len() - shoutnet_wire::TRANSMISSION_HEADER_LEN;
        assert!(body <= OUTBOX_BYTES, "a transmission of {body} bytes");
        let tx = decode_transmission(t.bytes, PROFILE, &Limits::default(), MethodSet::all())
            .unwrap_or_else(|e| panic!("the engine sent a transmission that does not decode: {e}"));
        let engine = engine_key();
        for msg in tx.iter() {
            let name = msg.opcode().name();
            if msg.opcode() == Opcode::Shout {
                assert_eq!(
                    msg.to(),
                    &broadcast_key()[..],
                    "a SHOUT not to the broadcast key"
                );
                let origin = PublicKey::from_key_field(PROFILE, msg.from())
                    .unwrap_or_else(|e| panic!("a SHOUT from an invalid key: {e}"));
                verify_message_ref(&origin, msg)
                    .unwrap_or_else(|e| panic!("a SHOUT sent on unverified: {e}"));
            } else if msg.opcode() == Opcode::Whisper && msg.from() != &engine[..] {
                // A relayed whisper, verbatim: sealed by its origin.
                assert!(msg.encrypted(), "a relayed WHISPER in the clear");
                let origin = PublicKey::from_key_field(PROFILE, msg.from())
                    .unwrap_or_else(|e| panic!("a WHISPER relayed from an invalid key: {e}"));
                verify_message_ref(&origin, msg)
                    .unwrap_or_else(|e| panic!("a WHISPER relayed unverified: {e}"));
                continue;
            } else {
                assert_eq!(msg.from(), &engine[..], "{name} not from this node's key");
                assert!(!msg.encrypted(), "{name} encrypted");
                if msg.signature().is_some() {
                    // Only the answers to routed whispers are signed.
                    assert!(
                        matches!(msg.opcode(), Opcode::Ack | Opcode::Nack),
                        "{name} signed"
                    );
                    verify_message_ref(keys().engine.public(), msg)
                        .unwrap_or_else(|e| panic!("a signed {name} does not verify: {e}"));
                }
            }
            let payload = msg
                .payload(&ValueLimits::default())
                .unwrap_or_else(|e| panic!("the engine sent a malformed {name}: {e}"));
            if conn == WITNESS {
                self.witness_sees(payload, replies);
            } else {
                self.last_request = match payload {
                    Payload::Ping(p) => Some((Opcode::Ping, p.request_id)),
                    Payload::FindNode(f) => Some((Opcode::FindNode, f.request_id)),
                    _ => self.last_request,
                };
            }
        }
    }

    /// The witness peer: answers keepalives and lookups, never misbehaves.
    fn witness_sees(&mut self, payload: Payload, replies: &mut Vec<Payload>) {
        match payload {
            Payload::Ping(p) => {
                replies.push(ack(p.request_id, AckResult::Ping));
            }
            Payload::FindNode(find) => {
                let (acked, nodes) = (NodesFor::FindNode, Vec::new());
                replies.push(ack(find.request_id, AckResult::Nodes { acked, nodes }));
            }
            Payload::Nack(nack) => panic!("the engine refused the witness: {nack:?}"),
            Payload::Ack(a) if a.result == AckResult::Ping => {
                self.witness_acks.push(a.request_id);
            }
            _ => {}
        }
    }

    fn check_action(&mut self, action: Action) {
        if let Action::Close { conn, reason } = action {
            assert_ne!(conn, WITNESS, "the engine closed the witness: {reason}");
            assert_eq!(conn, FUZZED, "Close of a connection nobody opened");
            assert!(self.closed.insert(conn), "closed twice ({reason})");
        }
        // A `Dial` never connects: the engine gives it up after its timeout.
    }

    fn check_event(&mut self, event: Event) {
        match event {
            Event::Connected { conn, .. } => {
                assert!(conn == FUZZED || conn == WITNESS, "Connected of {conn:?}");
                self.connected.insert(conn);
            }
            Event::Disconnected { conn, .. } => {
                assert_ne!(conn, WITNESS, "the witness was disconnected");
                let dropped = self.engine.stats().dropped_outputs > 0;
                assert!(self.closed.contains(&conn) || dropped, "no Close");
            }
            Event::Shout {
                conn,
                origin,
                message,
                ..
            } => {
                assert_eq!(conn, FUZZED, "a SHOUT delivered from the witness");
                let known = [keys().peer.public(), keys().witness.public()];
                let from = known.iter().any(|k| k.key_field() == &origin[..]);
                assert!(from, "a SHOUT delivered from an origin nobody signed as");
                assert!(self.delivered.insert(message), "a SHOUT delivered twice");
            }
            _ => {}
        }
    }

    /// The witness sends a keepalive `PING`; this node must `ACK` it.
    fn check_witness(&mut self) {
        self.witness_acks.clear();
        let bytes = encode(&self.witness, &[ping(WITNESS_PING_ID)]);
        self.engine.handle_bytes(WITNESS, &bytes, self.now);
        self.drain();
        let answered = self.witness_acks.contains(&WITNESS_PING_ID);
        assert!(answered, "the engine no longer answers the witness");
    }
}

/// The entry point of the `channel` fuzz target: a [`SecureChannel`]
/// (docs/PROTOCOL.md §9.1) fed arbitrary bytes as what its peer sent.
///
/// Byte 0's low bit picks the side: 0 the acceptor (the input starts with
/// message 1), 1 the dialler (message 1 is written first, the input is the
/// answer). Its next bits cut the rest into reads of `1 + (byte 0 >> 1)`
/// bytes. The oracles: the channel never secures (no input can forge the
/// peer's messages 2 or 3 without the keys), it buffers at most one Noise
/// message plus the last read, and once failed it stays failed.
///
/// [`SecureChannel`]: crate::channel::SecureChannel
pub fn channel(data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let keys = keys();
    let ours = identity(&keys.engine, addr(4000));
    let mut channel = if selector & 1 == 0 {
        SecureChannel::responder(&ours, [7; 32])
    } else {
        SecureChannel::initiator(&ours, [7; 32])
    }
    .expect("a channel builds");
    let read = 1 + usize::from(selector >> 1);
    let mut events = Vec::new();
    let mut failed = false;
    for piece in rest.chunks(read) {
        let result = channel.receive(piece, &mut events);
        assert!(!(failed && result.is_ok()), "a failed channel recovered");
        failed |= result.is_err();
        assert!(
            channel.buffered() <= 2 + MAX_NOISE_MESSAGE + read,
            "{} bytes buffered",
            channel.buffered()
        );
        let secured = events.iter().any(|e| matches!(e, ChannelEvent::Secured(_)));
        assert!(!secured, "forged handshake messages secured the channel");
        events.clear();
    }
}

/// The channel identity of the peer holding `pair` and listening at `at`,
/// made as a node makes its own (a fixed static key per key pair).
fn identity(pair: &Keypair, at: SocketAddr) -> ChannelIdentity {
    let listen = [at];
    let own = OwnHello {
        keypair: pair,
        listen: &listen,
        compression: MethodSet::all(),
        preferred: Method::None,
        max_transmission: Limits::default().max_transmission,
    };
    let secret = pair.public().routing_address().0;
    own.identity(secret, &mut ChaCha20Rng::from_seed([5; 32]))
        .expect("ed25519 signs")
}

/// Polls until `None`, failing if more than `max` items come out.
fn bounded<T>(mut poll: impl FnMut() -> Option<T>, max: usize) -> Vec<T> {
    let items: Vec<T> = std::iter::from_fn(&mut poll).take(max + 1).collect();
    assert!(items.len() <= max, "an output queue holds more than {max}");
    items
}

/// `data` split after `len` bytes, or all of it when shorter.
fn split(data: &[u8], len: usize) -> (&[u8], &[u8]) {
    data.split_at_checked(len).unwrap_or((data, &[]))
}

fn ping(request_id: u64) -> Payload {
    Payload::Ping(Ping { request_id })
}

fn ack(request_id: u64, result: AckResult) -> Payload {
    Payload::Ack(Ack { request_id, result })
}

/// One transmission of `payloads` from `from` to this node.
fn encode(from: &Bytes, payloads: &[Payload]) -> Bytes {
    let mut batch = BatchEncoder::with_capacity(PROFILE, 0);
    for payload in payloads {
        let msg = Message::from_payload(PROFILE, from.clone(), engine_key(), payload)
            .expect("payloads encode");
        batch.push(&msg).expect("messages encode");
    }
    batch.finish(Method::None).expect("batches encode")
}

/// `[acked, request_id, ...]`: a fixarray of `2 + extra` elements, the two
/// given, then `rest`, which should hold the `extra` elements.
fn reply_prefix((acked, request_id): (Opcode, u64), op: u8, rest: &[u8]) -> Bytes {
    let extra = (op >> 2) & 0x03;
    let mut content = vec![0x92 + extra, acked.value(), 0xcf];
    content.extend_from_slice(&request_id.to_be_bytes());
    content.extend_from_slice(rest);
    Bytes::from(content)
}

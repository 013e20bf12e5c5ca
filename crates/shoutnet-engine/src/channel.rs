//! The secure channel (docs/PROTOCOL.md §9.1): Noise `XX` over a byte
//! stream, as a sans-IO state machine that drivers run on every connection
//! between the socket and the [`NodeEngine`](crate::NodeEngine).
//!
//! The dialler is the initiator. The three handshake messages carry, in
//! order: nothing; the responder's hello; the initiator's hello. Each hello
//! holds the node's identity key and a signature of that key over the
//! node's Noise static key (the *binding*), so a hello proves who holds the
//! static key that the Noise handshake itself proves possession of (the
//! way libp2p-noise binds identities). After the handshake, the plaintexts
//! of the transport messages, in order, are the transmission stream of
//! §4. Every Noise message on the wire is preceded by its length as a
//! big-endian `u16`.
//!
//! A [`SecureChannel`] transforms buffers only: the driver feeds it what it
//! reads ([`receive`](SecureChannel::receive)), writes what it gives out
//! ([`take_output`](SecureChannel::take_output)), hands the peer's hello to
//! the engine when the channel is secured
//! ([`ChannelEvent::Secured`]), the plaintext to the engine as it arrives
//! ([`ChannelEvent::Data`]), and seals what the engine transmits
//! ([`send`](SecureChannel::send)).

use std::fmt;

use bytes::{Buf, Bytes, BytesMut};
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use shoutnet_wire::Profile;
use snow::params::{CipherChoice, DHChoice, HashChoice, NoiseParams};
use snow::resolvers::{CryptoResolver, DefaultResolver};
use snow::types::{Cipher, Dh, Hash, Random};
use snow::{HandshakeState, TransportState};
use zeroize::Zeroizing;

/// The Noise protocol every connection runs (docs/PROTOCOL.md §9.1):
/// pattern `XX`, X25519, ChaCha20-Poly1305, SHA-256.
pub const NOISE_PROTOCOL: &str = "Noise_XX_25519_ChaChaPoly_SHA256";

/// The largest Noise message, handshake or transport, in bytes (the Noise
/// specification's limit), and so the largest length prefix.
pub const MAX_NOISE_MESSAGE: usize = 65_535;

/// The AEAD tag every encrypted Noise payload carries.
const TAG_LEN: usize = 16;

/// The most plaintext one transport message carries.
pub const MAX_CHUNK: usize = MAX_NOISE_MESSAGE - TAG_LEN;

/// The bytes of the length prefix of every Noise message.
const LENGTH_PREFIX: usize = 2;

/// The Noise prologue of a network of `profile`: `shoutnet/1 ` and the
/// profile's name, so nodes of another version or profile fail the
/// handshake instead of misreading each other.
///
/// ```
/// use shoutnet_engine::channel::prologue;
/// use shoutnet_wire::Profile;
/// assert_eq!(prologue(Profile::Ed25519), b"shoutnet/1 ed25519");
/// ```
pub fn prologue(profile: Profile) -> Vec<u8> {
    let mut p = b"shoutnet/1 ".to_vec();
    p.extend_from_slice(profile.name().as_bytes());
    p
}

/// A node's side of every channel: its network profile, its Noise static
/// key pair (made fresh when the node starts) and its hello, which carries
/// the binding of its identity key to that static key.
#[derive(Clone)]
pub struct ChannelIdentity {
    profile: Profile,
    static_secret: Zeroizing<[u8; 32]>,
    static_public: [u8; 32],
    hello: Bytes,
}

impl fmt::Debug for ChannelIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChannelIdentity")
            .field("profile", &self.profile)
            .field("static_public", &hex_bytes(&self.static_public))
            .field("hello_len", &self.hello.len())
            .finish_non_exhaustive()
    }
}

fn hex_bytes(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl ChannelIdentity {
    /// The identity of a node of `profile` whose Noise static secret is
    /// `static_secret` (any 32 bytes; X25519 clamps them) and whose hello
    /// is `hello`.
    pub fn new(profile: Profile, static_secret: [u8; 32], hello: Bytes) -> Self {
        let secret = x25519_dalek::StaticSecret::from(static_secret);
        let static_public = x25519_dalek::PublicKey::from(&secret).to_bytes();
        Self {
            profile,
            static_secret: Zeroizing::new(static_secret),
            static_public,
            hello,
        }
    }

    /// The same static key with another hello: for tests that play a node
    /// presenting someone else's hello (it fails the binding check).
    pub fn with_hello(&self, hello: Bytes) -> Self {
        Self {
            hello,
            ..self.clone()
        }
    }

    /// The Noise static public key, which the hello's binding signs.
    pub fn static_public(&self) -> &[u8; 32] {
        &self.static_public
    }

    /// The hello this node sends in every handshake.
    pub fn hello(&self) -> &Bytes {
        &self.hello
    }

    /// The network's key profile.
    pub fn profile(&self) -> Profile {
        self.profile
    }
}

/// What the channel learned once secured: the peer's Noise static key,
/// which the Noise handshake proved the peer holds, and the peer's hello,
/// which the engine checks against it
/// ([`NodeEngine::handle_secured`](crate::NodeEngine::handle_secured)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecuredPeer {
    /// The peer's Noise static public key.
    pub remote_static: [u8; 32],
    /// The peer's hello, not yet checked.
    pub hello: Bytes,
}

/// Something a channel has for the driver after
/// [`receive`](SecureChannel::receive).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChannelEvent {
    /// The handshake completed: give the peer to the engine.
    Secured(SecuredPeer),
    /// Plaintext of the transmission stream: give it to the engine.
    Data(Bytes),
}

/// Why a channel failed. The connection must be closed; nothing more can
/// be read from it or sent on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChannelError {
    /// A Noise message with a length prefix of 0.
    #[error("empty Noise message")]
    EmptyMessage,
    /// A handshake message that does not verify or does not fit the
    /// pattern: another version or profile, a peer that is not a shoutnet
    /// node, or an attacker.
    #[error("Noise handshake failed")]
    HandshakeFailed,
    /// A transport message that does not decrypt.
    #[error("Noise transport message does not decrypt")]
    DecryptFailed,
    /// Data to send before the handshake completed.
    #[error("data sent before the channel is secured")]
    NotSecured,
    /// The channel already failed.
    #[error("channel already failed")]
    Failed,
}

/// The Noise state of one connection.
enum State {
    Handshake(Box<HandshakeState>),
    Transport(Box<TransportState>),
    Failed,
}

/// One connection's secure channel.
pub struct SecureChannel {
    state: State,
    hello: Bytes,
    /// Bytes received and not yet a whole Noise message: at most one
    /// message plus the last [`receive`](Self::receive).
    inbuf: BytesMut,
    /// Ciphertext waiting for the driver.
    out: BytesMut,
    /// Scratch space for one Noise message, grown to the largest message
    /// handled so far (at most [`MAX_NOISE_MESSAGE`]), so an idle channel
    /// that only ever saw small messages stays small.
    scratch: Vec<u8>,
}

impl fmt::Debug for SecureChannel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            State::Handshake(_) => "handshake",
            State::Transport(_) => "transport",
            State::Failed => "failed",
        };
        f.debug_struct("SecureChannel")
            .field("state", &state)
            .field("buffered_in", &self.inbuf.len())
            .field("buffered_out", &self.out.len())
            .finish_non_exhaustive()
    }
}

impl SecureChannel {
    /// The dialler's side: its first handshake message is ready in
    /// [`take_output`](Self::take_output). `seed` seeds the ephemeral key
    /// (the driver draws it from its own RNG, so a simulation replays).
    pub fn initiator(identity: &ChannelIdentity, seed: [u8; 32]) -> Result<Self, ChannelError> {
        let state = handshake(identity, seed, true)?;
        let mut channel = Self::with_state(state, identity);
        channel.write_handshake(&[])?;
        Ok(channel)
    }

    /// The side that accepted the connection.
    pub fn responder(identity: &ChannelIdentity, seed: [u8; 32]) -> Result<Self, ChannelError> {
        let state = handshake(identity, seed, false)?;
        Ok(Self::with_state(state, identity))
    }

    fn with_state(state: HandshakeState, identity: &ChannelIdentity) -> Self {
        Self {
            state: State::Handshake(Box::new(state)),
            hello: identity.hello.clone(),
            inbuf: BytesMut::new(),
            out: BytesMut::new(),
            scratch: Vec::new(),
        }
    }

    /// Bytes received and not yet part of a whole Noise message: at most
    /// one message (2 + 65,535 bytes) plus the last
    /// [`receive`](Self::receive).
    pub fn buffered(&self) -> usize {
        self.inbuf.len()
    }

    /// Whether the handshake completed.
    pub fn is_secured(&self) -> bool {
        matches!(self.state, State::Transport(_))
    }

    /// Feeds bytes read from the connection; what they complete is pushed
    /// to `events`, in order. After an error the channel stays failed.
    pub fn receive(
        &mut self,
        bytes: &[u8],
        events: &mut Vec<ChannelEvent>,
    ) -> Result<(), ChannelError> {
        if matches!(self.state, State::Failed) {
            return Err(ChannelError::Failed);
        }
        self.inbuf.extend_from_slice(bytes);
        let result = self.drain(events);
        if result.is_err() {
            self.state = State::Failed;
            self.inbuf = BytesMut::new();
        }
        result
    }

    fn drain(&mut self, events: &mut Vec<ChannelEvent>) -> Result<(), ChannelError> {
        while let Some(message) = self.next_message()? {
            match &mut self.state {
                State::Handshake(hs) => {
                    grow(&mut self.scratch, message.len());
                    let len = hs
                        .read_message(&message, &mut self.scratch)
                        .map_err(|_| ChannelError::HandshakeFailed)?;
                    let payload = Bytes::copy_from_slice(self.scratch.get(..len).unwrap_or(&[]));
                    self.after_handshake_read(payload, events)?;
                }
                State::Transport(ts) => {
                    grow(&mut self.scratch, message.len());
                    let len = ts
                        .read_message(&message, &mut self.scratch)
                        .map_err(|_| ChannelError::DecryptFailed)?;
                    if len > 0 {
                        let data = self.scratch.get(..len).unwrap_or(&[]);
                        events.push(ChannelEvent::Data(Bytes::copy_from_slice(data)));
                    }
                }
                State::Failed => return Err(ChannelError::Failed),
            }
        }
        Ok(())
    }

    /// A handshake message was read with `payload`: answer it, and finish
    /// the handshake when it is done.
    fn after_handshake_read(
        &mut self,
        payload: Bytes,
        events: &mut Vec<ChannelEvent>,
    ) -> Result<(), ChannelError> {
        let State::Handshake(hs) = &self.state else {
            return Err(ChannelError::Failed);
        };
        // The responder's first read is message 1, whose payload version 1
        // ignores; the initiator's read is message 2 and the responder's
        // second is message 3, which carry the peer's hello.
        let peer_hello = hs.get_remote_static().is_some().then_some(payload);
        if !hs.is_handshake_finished() && hs.is_my_turn() {
            let hello = self.hello.clone();
            self.write_handshake(&hello)?;
        }
        let State::Handshake(hs) = &self.state else {
            return Err(ChannelError::Failed);
        };
        if !hs.is_handshake_finished() {
            return Ok(());
        }
        let remote_static = hs
            .get_remote_static()
            .and_then(|k| <[u8; 32]>::try_from(k).ok())
            .ok_or(ChannelError::HandshakeFailed)?;
        let State::Handshake(hs) = std::mem::replace(&mut self.state, State::Failed) else {
            return Err(ChannelError::Failed);
        };
        let transport = hs
            .into_transport_mode()
            .map_err(|_| ChannelError::HandshakeFailed)?;
        self.state = State::Transport(Box::new(transport));
        events.push(ChannelEvent::Secured(SecuredPeer {
            remote_static,
            hello: peer_hello.ok_or(ChannelError::HandshakeFailed)?,
        }));
        Ok(())
    }

    /// Writes the next handshake message with `payload`; the initiator's
    /// last one also finishes its handshake.
    fn write_handshake(&mut self, payload: &[u8]) -> Result<(), ChannelError> {
        let State::Handshake(hs) = &mut self.state else {
            return Err(ChannelError::Failed);
        };
        // Two keys, two tags and the payload: well under a Noise message.
        grow(&mut self.scratch, payload.len() + 2 * 32 + 2 * TAG_LEN);
        let len = hs
            .write_message(payload, &mut self.scratch)
            .map_err(|_| ChannelError::HandshakeFailed)?;
        push_message(&mut self.out, self.scratch.get(..len).unwrap_or(&[]));
        Ok(())
    }

    /// The next whole Noise message received, without its length prefix.
    fn next_message(&mut self) -> Result<Option<Bytes>, ChannelError> {
        let Some(prefix) = self.inbuf.get(..LENGTH_PREFIX) else {
            return Ok(None);
        };
        let len = usize::from(u16::from_be_bytes([
            prefix.first().copied().unwrap_or(0),
            prefix.get(1).copied().unwrap_or(0),
        ]));
        if len == 0 {
            return Err(ChannelError::EmptyMessage);
        }
        if self.inbuf.len() < LENGTH_PREFIX + len {
            return Ok(None);
        }
        self.inbuf.advance(LENGTH_PREFIX);
        Ok(Some(self.inbuf.split_to(len).freeze()))
    }

    /// Seals `plaintext` (any length; it is cut into transport messages of
    /// at most [`MAX_CHUNK`] bytes) for the driver to write.
    pub fn send(&mut self, plaintext: &[u8]) -> Result<(), ChannelError> {
        let State::Transport(ts) = &mut self.state else {
            return Err(match self.state {
                State::Failed => ChannelError::Failed,
                _ => ChannelError::NotSecured,
            });
        };
        for chunk in plaintext.chunks(MAX_CHUNK) {
            grow(&mut self.scratch, chunk.len() + TAG_LEN);
            let len = ts
                .write_message(chunk, &mut self.scratch)
                .map_err(|_| ChannelError::Failed)?;
            push_message(&mut self.out, self.scratch.get(..len).unwrap_or(&[]));
        }
        Ok(())
    }

    /// Ciphertext to write to the connection, if any.
    pub fn take_output(&mut self) -> Option<Bytes> {
        (!self.out.is_empty()).then(|| self.out.split().freeze())
    }
}

/// Makes `scratch` at least `len` bytes long (at most a Noise message).
fn grow(scratch: &mut Vec<u8>, len: usize) {
    let len = len.min(MAX_NOISE_MESSAGE);
    if scratch.len() < len {
        scratch.resize(len, 0);
    }
}

/// Appends one Noise message with its length prefix (`message` is at most
/// [`MAX_NOISE_MESSAGE`] bytes: snow never writes more).
fn push_message(out: &mut BytesMut, message: &[u8]) {
    let len = u16::try_from(message.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(message);
}

/// A Noise handshake state for `identity`, as initiator or responder, with
/// its ephemeral key drawn from `seed`.
fn handshake(
    identity: &ChannelIdentity,
    seed: [u8; 32],
    initiator: bool,
) -> Result<HandshakeState, ChannelError> {
    let params: NoiseParams = NOISE_PROTOCOL
        .parse()
        .map_err(|_| ChannelError::HandshakeFailed)?;
    let prologue = prologue(identity.profile);
    let builder = snow::Builder::with_resolver(params, Box::new(SeededResolver { seed }))
        .local_private_key(identity.static_secret.as_slice())
        .and_then(|b| b.prologue(&prologue))
        .map_err(|_| ChannelError::HandshakeFailed)?;
    let state = if initiator {
        builder.build_initiator()
    } else {
        builder.build_responder()
    };
    state.map_err(|_| ChannelError::HandshakeFailed)
}

/// snow's default primitives, with the channel's ephemeral key drawn from
/// a seeded ChaCha20 stream instead of the operating system, so that the
/// channel reads no global randomness.
struct SeededResolver {
    seed: [u8; 32],
}

impl CryptoResolver for SeededResolver {
    fn resolve_rng(&self) -> Option<Box<dyn Random>> {
        Some(Box::new(SeededRandom(ChaCha20Rng::from_seed(self.seed))))
    }

    fn resolve_dh(&self, choice: &DHChoice) -> Option<Box<dyn Dh>> {
        DefaultResolver.resolve_dh(choice)
    }

    fn resolve_hash(&self, choice: &HashChoice) -> Option<Box<dyn Hash>> {
        DefaultResolver.resolve_hash(choice)
    }

    fn resolve_cipher(&self, choice: &CipherChoice) -> Option<Box<dyn Cipher>> {
        DefaultResolver.resolve_cipher(choice)
    }
}

struct SeededRandom(ChaCha20Rng);

impl Random for SeededRandom {
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), snow::Error> {
        self.0.fill_bytes(dest);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(profile: Profile, secret: u8, hello: &'static [u8]) -> ChannelIdentity {
        ChannelIdentity::new(profile, [secret; 32], Bytes::from_static(hello))
    }

    /// Moves every byte `from` has for `to`, in chunks of `chunk` bytes,
    /// and returns what `to` made of them.
    fn pump(
        from: &mut SecureChannel,
        to: &mut SecureChannel,
        chunk: usize,
    ) -> Result<Vec<ChannelEvent>, ChannelError> {
        let mut events = Vec::new();
        while let Some(bytes) = from.take_output() {
            for piece in bytes.chunks(chunk) {
                to.receive(piece, &mut events)?;
            }
        }
        Ok(events)
    }

    fn secured(events: &[ChannelEvent]) -> Option<&SecuredPeer> {
        events.iter().find_map(|e| match e {
            ChannelEvent::Secured(p) => Some(p),
            ChannelEvent::Data(_) => None,
        })
    }

    /// A completed handshake between a fresh initiator and responder.
    fn pair(
        chunk: usize,
    ) -> (
        SecureChannel,
        SecureChannel,
        Vec<ChannelEvent>,
        Vec<ChannelEvent>,
    ) {
        let (a, b) = (
            identity(Profile::Ed25519, 1, b"hello a"),
            identity(Profile::Ed25519, 2, b"hello b"),
        );
        let mut i = SecureChannel::initiator(&a, [3; 32]).unwrap();
        let mut r = SecureChannel::responder(&b, [4; 32]).unwrap();
        assert!(
            pump(&mut i, &mut r, chunk).unwrap().is_empty(),
            "message 1 secures nothing"
        );
        let at_i = pump(&mut r, &mut i, chunk).unwrap();
        let at_r = pump(&mut i, &mut r, chunk).unwrap();
        (i, r, at_i, at_r)
    }

    #[test]
    fn handshake_exchanges_hellos_and_proven_static_keys() {
        for chunk in [1, 7, 100_000] {
            let (i, r, at_i, at_r) = pair(chunk);
            let (a, b) = (
                identity(Profile::Ed25519, 1, b""),
                identity(Profile::Ed25519, 2, b""),
            );
            let peer_of_i = secured(&at_i).expect("the initiator is secured after message 2");
            assert_eq!(peer_of_i.hello, Bytes::from_static(b"hello b"));
            assert_eq!(&peer_of_i.remote_static, b.static_public());
            let peer_of_r = secured(&at_r).expect("the responder is secured after message 3");
            assert_eq!(peer_of_r.hello, Bytes::from_static(b"hello a"));
            assert_eq!(&peer_of_r.remote_static, a.static_public());
            assert!(i.is_secured() && r.is_secured());
        }
    }

    #[test]
    fn data_crosses_in_order_and_large_writes_are_cut() {
        let (mut i, mut r, _, _) = pair(100_000);
        let big: Vec<u8> = (0..200_000u32).map(|x| x as u8).collect();
        i.send(b"first").unwrap();
        i.send(&big).unwrap();
        let out = i.take_output().unwrap();
        assert_eq!(
            out.len(),
            5 + 200_000 + 5 * (LENGTH_PREFIX + TAG_LEN),
            "4 chunks + 1"
        );
        let mut events = Vec::new();
        for piece in out.chunks(999) {
            r.receive(piece, &mut events).unwrap();
        }
        let data: Vec<u8> = events
            .iter()
            .flat_map(|e| match e {
                ChannelEvent::Data(d) => d.to_vec(),
                ChannelEvent::Secured(_) => panic!("secured twice"),
            })
            .collect();
        assert_eq!(&data[..5], b"first");
        assert_eq!(&data[5..], &big[..]);
        // And back.
        r.send(b"answer").unwrap();
        assert_eq!(
            pump(&mut r, &mut i, 3).unwrap(),
            [ChannelEvent::Data(Bytes::from_static(b"answer"))]
        );
    }

    #[test]
    fn each_fault_fails_the_channel_for_good() {
        // (what the attacker does, the error)
        let (a, b) = (
            identity(Profile::Ed25519, 1, b"a"),
            identity(Profile::Ed25519, 2, b"b"),
        );
        let other = identity(Profile::Rsa2048, 2, b"b");
        // Another profile: the prologues differ, so message 2 fails.
        let mut i = SecureChannel::initiator(&a, [3; 32]).unwrap();
        let mut r = SecureChannel::responder(&other, [4; 32]).unwrap();
        pump(&mut i, &mut r, 64).unwrap();
        assert_eq!(pump(&mut r, &mut i, 64), Err(ChannelError::HandshakeFailed));
        assert_eq!(
            i.receive(b"x", &mut Vec::new()),
            Err(ChannelError::Failed),
            "stays failed"
        );
        // A tampered transport message.
        let (mut i, mut r, _, _) = pair(64);
        i.send(b"payload").unwrap();
        let mut bytes = i.take_output().unwrap().to_vec();
        *bytes.last_mut().unwrap() ^= 1;
        assert_eq!(
            r.receive(&bytes, &mut Vec::new()),
            Err(ChannelError::DecryptFailed)
        );
        // An empty message, garbage before the handshake, data too early.
        let mut r = SecureChannel::responder(&b, [4; 32]).unwrap();
        assert_eq!(
            r.receive(&[0, 0], &mut Vec::new()),
            Err(ChannelError::EmptyMessage)
        );
        let mut r = SecureChannel::responder(&b, [4; 32]).unwrap();
        assert_eq!(
            r.receive(&[0, 3, 1, 2, 3], &mut Vec::new()),
            Err(ChannelError::HandshakeFailed)
        );
        let mut i = SecureChannel::initiator(&a, [3; 32]).unwrap();
        assert_eq!(i.send(b"early"), Err(ChannelError::NotSecured));
        // A replayed message 3 on a fresh responder is not a handshake.
        let mut i = SecureChannel::initiator(&a, [3; 32]).unwrap();
        let mut r = SecureChannel::responder(&b, [4; 32]).unwrap();
        pump(&mut i, &mut r, 64).unwrap();
        pump(&mut r, &mut i, 64).unwrap();
        let msg3 = i.take_output().unwrap();
        let mut fresh = SecureChannel::responder(&b, [5; 32]).unwrap();
        let mut events = Vec::new();
        let replay = fresh.receive(&msg3, &mut events);
        assert!(
            replay.is_err() || secured(&events).is_none(),
            "a replay never secures"
        );
    }

    #[test]
    fn a_partial_message_buffers_at_most_one_message() {
        let b = identity(Profile::Ed25519, 2, b"b");
        let mut r = SecureChannel::responder(&b, [4; 32]).unwrap();
        let mut events = Vec::new();
        r.receive(&[0xff, 0xff], &mut events).unwrap();
        r.receive(&vec![0; 60_000], &mut events).unwrap();
        assert!(r.inbuf.len() <= LENGTH_PREFIX + MAX_NOISE_MESSAGE);
        assert!(events.is_empty());
    }

    #[test]
    fn ephemeral_keys_follow_the_seed() {
        let a = identity(Profile::Ed25519, 1, b"a");
        let one = SecureChannel::initiator(&a, [3; 32]).unwrap().take_output();
        let same = SecureChannel::initiator(&a, [3; 32]).unwrap().take_output();
        let other = SecureChannel::initiator(&a, [9; 32]).unwrap().take_output();
        assert_eq!(one, same);
        assert_ne!(one, other);
    }
}

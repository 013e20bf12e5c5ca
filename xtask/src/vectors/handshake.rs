//! The handshake vector of each profile (docs/PROTOCOL.md §9.1, §13): one
//! whole connection between fixture node 1, which dials (the Noise
//! initiator), and fixture node 2 (the responder). The Noise handshake
//! `Noise_XX_25519_ChaChaPoly_SHA256` runs with fixed static and ephemeral
//! X25519 private keys; the hellos carry the fixture identity keys and
//! real bindings (§5.5); after the handshake, one transport message each
//! way carries a transmission (§4): a `FIND_NODE` and its `ACK`.
//!
//! The bytes are made with snow, the Noise library the engine uses, from
//! the fixed keys, and then checked against the engine itself:
//! `shoutnet_engine::channel::SecureChannel`, given the same static keys
//! and the seeds whose ChaCha20 streams begin with the fixed ephemeral
//! keys, must write exactly these bytes and accept the peer's; both hellos
//! must decode and both bindings verify over the static key the handshake
//! delivered (and over no other); and a `NodeEngine` of each side must
//! accept the peer's hello and answer the `FIND_NODE`.

use std::net::SocketAddr;
use std::time::Instant;

use anyhow::{Context, Result, anyhow, bail, ensure};
use bytes::Bytes;
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::{RngCore, SeedableRng};
use serde_json::{Value as Json, json};
use shoutnet_crypto::{PublicKey, sign_binding, verify_binding};
use shoutnet_engine::channel::{
    ChannelEvent, ChannelIdentity, NOISE_PROTOCOL, SecureChannel, SecuredPeer, prologue,
};
use shoutnet_engine::{ConnectionId, Direction, EngineConfig, Event, NodeEngine};
use shoutnet_wire::json::{hex, message_to_json, value_to_json};
use shoutnet_wire::{
    AckResult, FindNode, Hello, Limits, Message, Method, MethodSet, NodeInfo, NodesFor, Payload,
    Value, decode_transmission, encode_transmission,
};
use snow::params::{CipherChoice, DHChoice, HashChoice, NoiseParams};
use snow::resolvers::{CryptoResolver, DefaultResolver};
use snow::types::{Cipher, Dh, Hash, Random};
use snow::{HandshakeState, TransportState};

use super::keys::{Keys, fixed_bytes, seeded, sha256};
use super::messages::ack;

/// The handshake vector's JSON file in each profile's directory.
pub(super) const JSON_FILE: &str = "handshake.json";

/// The directory, beside [`JSON_FILE`], of each side's byte stream:
/// `initiator.hex` and `responder.hex`.
pub(super) const STREAM_DIR: &str = "handshake";

/// The request id of the vector's `FIND_NODE`.
const REQUEST_ID: u64 = 1;

/// The largest Noise message.
const MAX_NOISE: usize = 65_535;

/// The generated vector of one profile.
#[derive(Debug)]
pub(super) struct Vector {
    /// `handshake.json`.
    pub(super) json: Json,
    /// Every byte the initiator writes, in order: messages 1 and 3, then
    /// its transport message.
    pub(super) initiator_stream: Vec<u8>,
    /// Every byte the responder writes: message 2, then its transport
    /// message.
    pub(super) responder_stream: Vec<u8>,
}

/// One side of the connection.
struct Side {
    role: &'static str,
    /// Its fixture node (1 or 2).
    node: usize,
    static_secret: [u8; 32],
    static_public: [u8; 32],
    /// The seed of the engine's ephemeral key stream, whose first 32 bytes
    /// are `ephemeral_secret`.
    ephemeral_seed: [u8; 32],
    ephemeral_secret: [u8; 32],
    ephemeral_public: [u8; 32],
    hello: Hello,
    hello_bytes: Bytes,
}

impl Side {
    fn new(keys: &Keys, role: &'static str, node: usize, hello: HelloFields) -> Result<Self> {
        let profile = keys.profile;
        let static_secret = fixed32(&format!("{profile} handshake {role} static key"));
        let ephemeral_seed = fixed32(&format!("{profile} handshake {role} ephemeral seed"));
        let mut ephemeral_secret = [0; 32];
        ChaCha20Rng::from_seed(ephemeral_seed).fill_bytes(&mut ephemeral_secret);
        let static_public = x25519_public(static_secret);
        let binding = sign_binding(
            keys.keypair(node),
            &mut seeded(profile, &format!("handshake {role} binding")),
            &static_public,
        )?;
        let hello = Hello {
            key: keys.key(node),
            binding: Bytes::from(binding),
            listen: hello
                .listen
                .iter()
                .map(|a| a.parse().with_context(|| format!("address {a}")))
                .collect::<Result<_>>()?,
            compression: hello.compression,
            preferred: hello.preferred,
            max_transmission: hello.max_transmission,
        };
        let hello_bytes = hello.encode()?;
        Ok(Self {
            role,
            node,
            static_secret,
            static_public,
            ephemeral_seed,
            ephemeral_secret,
            ephemeral_public: x25519_public(ephemeral_secret),
            hello,
            hello_bytes,
        })
    }

    /// Its object in the JSON.
    fn json(&self, keys: &Keys, limits: &Limits) -> Result<Json> {
        let value = Value::decode(&self.hello_bytes, &limits.value)?;
        Ok(json!({
            "fixture": format!("{}-{}", keys.profile.name(), self.node),
            "key": hex(&self.hello.key),
            "static_private": hex(&self.static_secret),
            "static_public": hex(&self.static_public),
            "ephemeral_private": hex(&self.ephemeral_secret),
            "ephemeral_public": hex(&self.ephemeral_public),
            "binding": hex(&self.hello.binding),
            "hello": hex(&self.hello_bytes),
            "hello_value": value_to_json(&value),
        }))
    }
}

/// What a side says about itself besides its key and binding.
struct HelloFields {
    listen: &'static [&'static str],
    compression: MethodSet,
    preferred: Method,
    max_transmission: u32,
}

/// The Noise messages of one connection, without their length prefixes.
struct Run {
    /// Messages 1, 2 and 3.
    handshake: [Vec<u8>; 3],
    handshake_hash: Vec<u8>,
    /// The initiator's transport message, then the responder's.
    transport: [Vec<u8>; 2],
}

/// The handshake vector of `keys.profile`.
pub(super) fn vector(keys: &Keys) -> Result<Vector> {
    let profile = keys.profile;
    let limits = Limits::default();
    let initiator = Side::new(
        keys,
        "initiator",
        1,
        HelloFields {
            listen: &["192.0.2.1:4000", "[2001:db8::1]:4000"],
            compression: MethodSet::all(),
            preferred: Method::Zlib,
            max_transmission: 16 << 20,
        },
    )?;
    let responder = Side::new(
        keys,
        "responder",
        2,
        HelloFields {
            listen: &["192.0.2.2:4000"],
            compression: MethodSet::only_none()
                .with(Method::Zlib)
                .with(Method::Snappy),
            preferred: Method::None,
            max_transmission: 1 << 20,
        },
    )?;
    let transmissions = transmissions(keys)?;
    let run = run_noise(keys, &initiator, &responder, &transmissions)?;
    check_engine(keys, &initiator, &responder, &run, &transmissions)?;
    check_hellos(keys, &initiator, &responder)?;

    let framed = |m: &[u8]| -> Result<Vec<u8>> {
        let len = u16::try_from(m.len())?;
        ensure!(len > 0, "an empty Noise message");
        Ok([&len.to_be_bytes()[..], m].concat())
    };
    let [m1, m2, m3] = &run.handshake;
    let [t1, t2] = &run.transport;
    let (m1, m2, m3, t1, t2) = (
        framed(m1)?,
        framed(m2)?,
        framed(m3)?,
        framed(t1)?,
        framed(t2)?,
    );
    let mut transport = Vec::new();
    for (from, plaintext, framed) in [
        ("initiator", &transmissions[0], &t1),
        ("responder", &transmissions[1], &t2),
    ] {
        let tx = decode_transmission(plaintext.clone(), profile, &limits, MethodSet::all())?;
        let messages = tx
            .to_messages()
            .iter()
            .map(|m| {
                m.payload(profile, &limits.value)?;
                Ok(message_to_json(m, &limits.value)?)
            })
            .collect::<Result<Vec<_>>>()?;
        transport.push(json!({
            "from": from,
            "nonce": 0,
            "plaintext": hex(plaintext),
            "compression": tx.compression.name(),
            "messages": messages,
            "framed": hex(framed),
        }));
    }
    let sig_len = profile.signature_len();
    let json = json!({
        "description": format!(
            "one connection of the {profile} profile (§9.1): fixture node 1 dials node 2 and \
             runs {NOISE_PROTOCOL} as the initiator, with the prologue \"shoutnet/1 \
             {profile}\" and fixed static and ephemeral X25519 private keys. Message 1 \
             (-> e) has an empty payload, message 2 (<- e, ee, s, es) carries the \
             responder's hello and message 3 (-> s, se) the initiator's; each hello's \
             binding is its node's {sig_len}-byte signature over \"shoutnet/1 channel \
             binding\" and its Noise static public key (§5.5). Each Noise message is \
             framed by its length as a big-endian u16. Then one transport message each \
             way (nonce 0 in each direction, empty associated data) carries a \
             transmission of §4: a FIND_NODE and its ACK"
        ),
        "profile": profile.name(),
        "protocol": NOISE_PROTOCOL,
        "prologue": hex(&prologue(profile)),
        "initiator": initiator.json(keys, &limits)?,
        "responder": responder.json(keys, &limits)?,
        "handshake": [
            {
                "message": 1,
                "from": "initiator",
                "tokens": "-> e",
                "payload": "",
                "framed": hex(&m1),
            },
            {
                "message": 2,
                "from": "responder",
                "tokens": "<- e, ee, s, es",
                "payload": hex(&responder.hello_bytes),
                "framed": hex(&m2),
            },
            {
                "message": 3,
                "from": "initiator",
                "tokens": "-> s, se",
                "payload": hex(&initiator.hello_bytes),
                "framed": hex(&m3),
            },
        ],
        "handshake_hash": hex(&run.handshake_hash),
        "transport": transport,
    });
    Ok(Vector {
        json,
        initiator_stream: [m1, m3, t1].concat(),
        responder_stream: [m2, t2].concat(),
    })
}

/// The transmission node 1 sends after the handshake (a `FIND_NODE` of
/// node 3's routing address) and node 2's answer (node 3's node info).
fn transmissions(keys: &Keys) -> Result<[Bytes; 2]> {
    let profile = keys.profile;
    let find_node = Message::from_payload(
        profile,
        keys.key(1),
        keys.key(2),
        &Payload::FindNode(FindNode {
            request_id: REQUEST_ID,
            target: sha256(&keys.key(3)),
        }),
    )?;
    let answer = Message::from_payload(
        profile,
        keys.key(2),
        keys.key(1),
        &ack(
            REQUEST_ID,
            AckResult::Nodes {
                acked: NodesFor::FindNode,
                nodes: vec![NodeInfo {
                    key: keys.key(3),
                    listen: vec!["192.0.2.3:4000".parse()?],
                    relays: Vec::new(),
                }],
            },
        ),
    )?;
    Ok([
        encode_transmission(profile, &[find_node], Method::None)?,
        encode_transmission(profile, &[answer], Method::None)?,
    ])
}

/// Runs the handshake and one transport message each way with snow, from
/// the fixed keys.
fn run_noise(keys: &Keys, i: &Side, r: &Side, transmissions: &[Bytes; 2]) -> Result<Run> {
    let prologue = prologue(keys.profile);
    let build = |side: &Side, initiator: bool| -> Result<HandshakeState> {
        let params: NoiseParams = NOISE_PROTOCOL.parse()?;
        let builder = snow::Builder::with_resolver(params, Box::new(FixedKeys))
            .local_private_key(&side.static_secret)?
            .fixed_ephemeral_key_for_testing_only(&side.ephemeral_secret)
            .prologue(&prologue)?;
        Ok(if initiator {
            builder.build_initiator()?
        } else {
            builder.build_responder()?
        })
    };
    let (mut hi, mut hr) = (build(i, true)?, build(r, false)?);
    let mut buf = vec![0; MAX_NOISE];
    let mut write = |hs: &mut HandshakeState, payload: &[u8]| -> Result<Vec<u8>> {
        let len = hs.write_message(payload, &mut buf)?;
        Ok(buf
            .get(..len)
            .context("snow wrote past its buffer")?
            .to_vec())
    };
    let read = |hs: &mut HandshakeState, message: &[u8]| -> Result<Vec<u8>> {
        let mut out = vec![0; MAX_NOISE];
        let len = hs.read_message(message, &mut out)?;
        out.truncate(len);
        Ok(out)
    };
    let m1 = write(&mut hi, &[])?;
    ensure!(read(&mut hr, &m1)?.is_empty(), "message 1 has a payload");
    let m2 = write(&mut hr, &r.hello_bytes)?;
    ensure!(read(&mut hi, &m2)? == r.hello_bytes, "message 2's payload");
    ensure!(
        hi.get_remote_static() == Some(&r.static_public[..]),
        "message 2 delivers another static key"
    );
    let m3 = write(&mut hi, &i.hello_bytes)?;
    ensure!(read(&mut hr, &m3)? == i.hello_bytes, "message 3's payload");
    ensure!(
        hr.get_remote_static() == Some(&i.static_public[..]),
        "message 3 delivers another static key"
    );
    ensure!(
        hi.is_handshake_finished() && hr.is_handshake_finished(),
        "XX has three messages"
    );
    let hash = hi.get_handshake_hash().to_vec();
    ensure!(
        hash == hr.get_handshake_hash(),
        "the handshake hashes differ"
    );
    let (mut ti, mut tr) = (hi.into_transport_mode()?, hr.into_transport_mode()?);
    let mut seal = |ts: &mut TransportState, plaintext: &[u8]| -> Result<Vec<u8>> {
        let len = ts.write_message(plaintext, &mut buf)?;
        Ok(buf
            .get(..len)
            .context("snow wrote past its buffer")?
            .to_vec())
    };
    let open = |ts: &mut TransportState, message: &[u8]| -> Result<Vec<u8>> {
        let mut out = vec![0; MAX_NOISE];
        let len = ts.read_message(message, &mut out)?;
        out.truncate(len);
        Ok(out)
    };
    let [tx1, tx2] = transmissions;
    let t1 = seal(&mut ti, tx1)?;
    ensure!(open(&mut tr, &t1)? == tx1[..], "transport message 1");
    let t2 = seal(&mut tr, tx2)?;
    ensure!(open(&mut ti, &t2)? == tx2[..], "transport message 2");
    Ok(Run {
        handshake: [m1, m2, m3],
        handshake_hash: hash,
        transport: [t1, t2],
    })
}

/// The engine's secure channel, given the same static keys and the seeds of
/// the same ephemeral keys, writes exactly the vector's bytes and accepts
/// the peer's; then a `NodeEngine` of each side accepts the peer's hello.
fn check_engine(
    keys: &Keys,
    i: &Side,
    r: &Side,
    run: &Run,
    transmissions: &[Bytes; 2],
) -> Result<()> {
    let profile = keys.profile;
    let framed = |m: &[u8]| -> Result<Vec<u8>> {
        Ok([&u16::try_from(m.len())?.to_be_bytes()[..], m].concat())
    };
    let [m1, m2, m3] = &run.handshake;
    let [t1, t2] = &run.transport;
    let [tx1, tx2] = transmissions;
    let id_i = ChannelIdentity::new(profile, i.static_secret, i.hello_bytes.clone());
    let id_r = ChannelIdentity::new(profile, r.static_secret, r.hello_bytes.clone());
    ensure!(id_i.static_public() == &i.static_public, "static key");
    let mut ci = SecureChannel::initiator(&id_i, i.ephemeral_seed)?;
    let mut cr = SecureChannel::responder(&id_r, r.ephemeral_seed)?;
    let output = |c: &mut SecureChannel| c.take_output().map(|b| b.to_vec()).unwrap_or_default();
    let mut events = Vec::new();

    ensure!(output(&mut ci) == framed(m1)?, "the engine's message 1");
    cr.receive(&framed(m1)?, &mut events)?;
    ensure!(events.is_empty(), "message 1 secures nothing");
    ensure!(output(&mut cr) == framed(m2)?, "the engine's message 2");

    // The initiator is secured by message 2 and may send at once.
    ci.receive(&framed(m2)?, &mut events)?;
    let at_i = secured(&events, r)?;
    events.clear();
    ensure!(output(&mut ci) == framed(m3)?, "the engine's message 3");
    ci.send(tx1)?;
    ensure!(output(&mut ci) == framed(t1)?, "the engine's transport 1");

    cr.receive(&[framed(m3)?, framed(t1)?].concat(), &mut events)?;
    let at_r = secured(&events, i)?;
    ensure!(
        events.get(1) == Some(&ChannelEvent::Data(tx1.clone())) && events.len() == 2,
        "the responder reads another transmission: {events:?}"
    );
    events.clear();
    cr.send(tx2)?;
    ensure!(output(&mut cr) == framed(t2)?, "the engine's transport 2");
    ci.receive(&framed(t2)?, &mut events)?;
    ensure!(
        events == [ChannelEvent::Data(tx2.clone())],
        "the initiator reads another transmission: {events:?}"
    );

    // Each node accepts the other's hello once its channel is secured, and
    // node 2 answers the FIND_NODE.
    let now = Instant::now();
    let conn = ConnectionId(1);
    let engine = |node: usize, direction: Direction, peer: SecuredPeer| -> Result<NodeEngine> {
        let config = EngineConfig::new(keys.keypair(node).clone(), fixed32("handshake engine"));
        let mut engine = NodeEngine::new(config, now);
        engine.handle_connected(conn, direction, now);
        engine.handle_secured(conn, peer, now);
        let connected = std::iter::from_fn(|| engine.poll_event()).any(|e| {
            matches!(&e, Event::Connected { conn: c, key, .. }
                if *c == conn && *key == keys.key(3 - node))
        });
        ensure!(connected, "node {node}'s engine refuses the peer's hello");
        Ok(engine)
    };
    let addr = |a: &str| -> Result<SocketAddr> { Ok(a.parse()?) };
    engine(
        1,
        Direction::Outbound {
            addr: addr("192.0.2.2:4000")?,
        },
        at_i,
    )?;
    let mut node2 = engine(
        2,
        Direction::Inbound {
            remote: addr("192.0.2.1:49152")?,
        },
        at_r,
    )?;
    node2.handle_bytes(conn, tx1, now);
    let limits = Limits::default();
    let answered = std::iter::from_fn(|| node2.poll_transmit()).any(|t| {
        decode_transmission(t.bytes, profile, &limits, MethodSet::all()).is_ok_and(|tx| {
            tx.to_messages().iter().any(|m| {
                matches!(m.payload(profile, &limits.value),
                    Ok(Payload::Ack(a)) if a.request_id == REQUEST_ID
                        && matches!(a.result, AckResult::Nodes { acked: NodesFor::FindNode, .. }))
            })
        })
    });
    ensure!(answered, "node 2's engine does not answer the FIND_NODE");
    Ok(())
}

/// The peer a channel's events say it secured: `peer`'s static key and
/// hello.
fn secured(events: &[ChannelEvent], peer: &Side) -> Result<SecuredPeer> {
    match events.first() {
        Some(ChannelEvent::Secured(p)) => {
            ensure!(
                p.remote_static == peer.static_public,
                "the channel proved another static key"
            );
            ensure!(
                p.hello == peer.hello_bytes,
                "the channel gives another hello"
            );
            Ok(p.clone())
        }
        _ => bail!("the channel is not secured: {events:?}"),
    }
}

/// Both hellos decode to what was encoded, name valid keys, and carry
/// bindings that verify over their own side's static key and not over the
/// other's (what a relay would present).
fn check_hellos(keys: &Keys, i: &Side, r: &Side) -> Result<()> {
    let limits = Limits::default();
    for (side, other) in [(i, r), (r, i)] {
        let hello = Hello::decode(&side.hello_bytes, keys.profile, &limits.value)
            .map_err(|e| anyhow!("the {} hello: {e}", side.role))?;
        ensure!(
            hello == side.hello,
            "the {} hello decodes otherwise",
            side.role
        );
        let key = PublicKey::from_key_field(keys.profile, &hello.key)?;
        verify_binding(&key, &side.static_public, &hello.binding)
            .map_err(|e| anyhow!("the {} binding: {e}", side.role))?;
        ensure!(
            verify_binding(&key, &other.static_public, &hello.binding).is_err(),
            "the {} binding covers the other static key",
            side.role
        );
    }
    Ok(())
}

/// The X25519 public key of `secret`.
fn x25519_public(secret: [u8; 32]) -> [u8; 32] {
    x25519_dalek::PublicKey::from(&x25519_dalek::StaticSecret::from(secret)).to_bytes()
}

/// 32 fixed bytes named by `label`.
fn fixed32(label: &str) -> [u8; 32] {
    let mut out = [0; 32];
    out.copy_from_slice(&fixed_bytes(label, 32));
    out
}

/// snow's primitives with no randomness: the vectors' ephemeral keys are
/// fixed, so nothing may draw any (a draw fails the generation).
struct FixedKeys;

/// A random source that always fails.
struct NoRandomness;

impl Random for NoRandomness {
    fn try_fill_bytes(&mut self, _dest: &mut [u8]) -> Result<(), snow::Error> {
        Err(snow::Error::Rng)
    }
}

impl CryptoResolver for FixedKeys {
    fn resolve_rng(&self) -> Option<Box<dyn Random>> {
        Some(Box::new(NoRandomness))
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

#[cfg(test)]
mod tests {
    use super::super::keys::tests::ed25519;
    use super::*;

    #[test]
    fn the_vector_is_the_engine_s_handshake_and_hellos_are_bound() -> Result<()> {
        let keys = ed25519();
        let v = vector(&keys)?;
        assert_eq!(v.json["protocol"], NOISE_PROTOCOL);
        // Message 1 is the initiator's ephemeral key and nothing else.
        let m1 = v.json["handshake"][0]["framed"].as_str().unwrap();
        assert_eq!(
            m1,
            format!(
                "0020{}",
                v.json["initiator"]["ephemeral_public"].as_str().unwrap()
            )
        );
        // A relay fails: the responder's hello, presented over a channel
        // that proved another static key.
        let fields = || HelloFields {
            listen: &[],
            compression: MethodSet::all(),
            preferred: Method::None,
            max_transmission: 1,
        };
        let i = Side::new(&keys, "initiator", 1, fields())?;
        let r = Side::new(&keys, "responder", 2, fields())?;
        check_hellos(&keys, &i, &r)?;
        let relayed = Side {
            static_public: x25519_public([9; 32]),
            ..r
        };
        let e = check_hellos(&keys, &i, &relayed).unwrap_err();
        assert!(e.to_string().contains("the responder binding"), "{e}");
        Ok(())
    }
}

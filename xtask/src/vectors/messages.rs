//! The messages of the valid test vectors (docs/PROTOCOL.md §13), as the
//! fixture nodes send them: payloads of §8 between nodes 1, 2 and 3, their
//! node infos and DHT metadata, signed and encrypted messages (§5.2–§5.4),
//! the batch every `batch_*` vector compresses (§6), and data holding every
//! restricted value type (§7).
//!
//! Signatures and ciphertexts are real, made with the fixture private keys
//! and a generator seeded per vector (`seeded`).

use std::collections::BTreeMap;
use std::net::SocketAddr;

use anyhow::{Context, Result};
use bytes::Bytes;
use shoutnet_crypto::{encrypt_message, seal_message, sign_message};
use shoutnet_wire::{
    Ack, AckResult, Broadcast, Custom, FindNode, Lock, Message, Metadata, Method, NodeInfo,
    NodesFor, Payload, Ping, Store, Value, Whisper,
};

use super::generate::{Annotation, Valid};
use super::keys::{Keys, seeded, sha256};

/// The DHT key of the FIND_VALUE / STORE vectors.
pub(super) const DHT_KEY: &[u8] = b"shoutnet/vectors/greeting";
/// 2026-01-01T00:00:00Z, when the vectors' DHT value was stored.
const STORED_AT: u64 = 1_767_225_600;
/// An hour: the stored value's time to live.
const TTL: u64 = 3_600;
/// Five minutes after storing: when the lock in the vectors expires.
const LOCK_EXPIRES: u64 = STORED_AT + 300;

/// Builds the messages of the vectors for one profile.
pub(super) struct Ctx<'a> {
    pub(super) keys: &'a Keys,
}

impl Ctx<'_> {
    /// A plain message from fixture node `from` to node `to` (0: everyone).
    pub(super) fn msg(&self, from: usize, to: usize, payload: &Payload) -> Result<Message> {
        let to = match to {
            0 => self.keys.broadcast(),
            n => self.keys.key(n),
        };
        Message::from_payload(self.keys.profile, self.keys.key(from), to, payload)
            .with_context(|| format!("encoding {}", payload.opcode()))
    }

    fn node(&self, n: usize, listen: &[&str], relays: &[usize]) -> Result<NodeInfo> {
        Ok(NodeInfo {
            key: self.keys.key(n),
            listen: addrs(listen)?,
            relays: relays.iter().map(|r| self.keys.key(*r)).collect(),
        })
    }

    /// The three fixture nodes as an `ACK FIND_NODE` lists them: two
    /// listening, node 3 dial-out only and reached through relays.
    pub(super) fn nodes(&self) -> Result<Vec<NodeInfo>> {
        Ok(vec![
            self.node(2, &["192.0.2.2:4000", "[2001:db8::2]:4000"], &[])?,
            self.node(1, &["127.0.0.1:4000"], &[])?,
            self.node(3, &[], &[1, 2])?,
        ])
    }

    pub(super) fn metadata(&self, version: u64, publisher: usize, lock: Option<usize>) -> Metadata {
        Metadata {
            version,
            ttl: TTL,
            stored_at: STORED_AT,
            publisher: self.keys.key(publisher),
            lock: lock.map(|holder| Lock {
                holder: self.keys.key(holder),
                expires: LOCK_EXPIRES,
            }),
        }
    }

    pub(super) fn whisper(&self) -> Result<Message> {
        let payload = Payload::Whisper(Whisper {
            request_id: 5,
            data: Value::map([
                ("text", Value::from("hello, node 2")),
                ("reply_to", Value::from(1u8)),
            ]),
        });
        self.msg(1, 2, &payload)
    }

    /// A SHOUT from node 1 to everyone, signed by node 1.
    pub(super) fn signed_shout(&self) -> Result<Message> {
        let mut msg = self.msg(
            1,
            0,
            &Payload::Shout(Broadcast {
                nonce: 42,
                data: Value::from("flooded to every node"),
            }),
        )?;
        let mut rng = seeded(self.keys.profile, "signed");
        sign_message(self.keys.keypair(1), &mut rng, &mut msg)?;
        Ok(msg)
    }

    /// Vector `name`: a WHISPER from node 1 to node `to`, encrypted for it,
    /// and signed by node 1 if `signed` (encrypt-then-sign, §5.2).
    pub(super) fn encrypted(
        &self,
        name: &'static str,
        description: String,
        to: usize,
        request_id: u64,
        signed: bool,
    ) -> Result<Valid> {
        let payload = Payload::Whisper(Whisper {
            request_id,
            data: Value::map([
                ("text", Value::from(format!("for node {to}'s eyes only"))),
                ("reply_to", Value::from(1u8)),
            ]),
        });
        let mut msg = self.msg(1, to, &payload)?;
        let plaintext = msg.content.clone();
        let recipient = self.keys.keypair(to).public();
        let mut rng = seeded(self.keys.profile, name);
        if signed {
            seal_message(self.keys.keypair(1), recipient, &mut rng, &mut msg)?;
        } else {
            encrypt_message(recipient, &mut rng, &mut msg, false)?;
        }
        Ok(annotated(
            name,
            description,
            msg,
            Annotation {
                plaintext: Some(plaintext),
            },
        ))
    }

    pub(super) fn stored_value() -> Value {
        Value::map([
            ("greeting", Value::from("hello, DHT")),
            ("lang", Value::from("en")),
        ])
    }
}

fn addrs(list: &[&str]) -> Result<Vec<SocketAddr>> {
    list.iter()
        .map(|a| a.parse().with_context(|| format!("address {a}")))
        .collect()
}

pub(super) fn ack(request_id: u64, result: AckResult) -> Payload {
    Payload::Ack(Ack { request_id, result })
}

pub(super) fn plain(name: &'static str, description: String, messages: Vec<Message>) -> Valid {
    Valid {
        name,
        description,
        compression: Method::None,
        messages,
        annotations: BTreeMap::new(),
    }
}

/// A one-message vector whose message carries `annotation`.
pub(super) fn annotated(
    name: &'static str,
    description: String,
    message: Message,
    annotation: Annotation,
) -> Valid {
    Valid {
        annotations: BTreeMap::from([(0, annotation)]),
        ..plain(name, description, vec![message])
    }
}

pub(super) fn custom(request_id: Option<u64>, name: &str, data: Value) -> Payload {
    Payload::Custom(Custom {
        request_id,
        name: name.into(),
        data,
    })
}

pub(super) fn echo_data() -> Value {
    Value::Array(vec![Value::from("ping"), Value::from(1u8)])
}

/// Eight messages node 1 sends node 2 on one connection: its own requests
/// and its answers to node 2's.
pub(super) fn batch(c: &Ctx<'_>) -> Result<Vec<Message>> {
    let keys = c.keys;
    let peer_whisper = Value::Array(vec![Value::from(700u16), Value::from("are you there?")]);
    let received = peer_whisper.encode()?;
    Ok(vec![
        c.msg(
            1,
            2,
            &Payload::FindNode(FindNode {
                request_id: 20,
                target: sha256(&keys.key(3)),
            }),
        )?,
        c.msg(
            1,
            2,
            &ack(
                701,
                AckResult::Nodes {
                    acked: NodesFor::FindNode,
                    nodes: c.nodes()?,
                },
            ),
        )?,
        c.msg(
            1,
            2,
            &Payload::Whisper(Whisper {
                request_id: 21,
                data: Value::from("meet at the usual place"),
            }),
        )?,
        c.msg(
            1,
            0,
            &Payload::Speak(Broadcast {
                nonce: 22,
                data: Value::map([("status", Value::from("online"))]),
            }),
        )?,
        c.msg(
            1,
            2,
            &Payload::Store(Store {
                request_id: 23,
                address: sha256(DHT_KEY),
                key: Bytes::from_static(DHT_KEY),
                value: Ctx::stored_value(),
                version: None,
                ttl: None,
            }),
        )?,
        c.msg(
            1,
            2,
            &ack(
                700,
                AckResult::Whisper {
                    digest: sha256(&received),
                },
            ),
        )?,
        c.msg(1, 2, &custom(Some(24), "echo", echo_data()))?,
        c.msg(1, 2, &Payload::Ping(Ping { request_id: 25 }))?,
    ])
}

/// Data that exercises every restricted value type and every length form
/// (§7) and every JSON form of §13.1.
pub(super) fn every_value() -> Value {
    let ints = |list: &[i128]| {
        Value::Array(
            list.iter()
                .filter_map(|n| shoutnet_wire::Integer::new(*n).map(Value::Int))
                .collect(),
        )
    };
    let strings = [0usize, 1, 31, 32, 255, 256, 300]
        .into_iter()
        .map(|len| Value::from("s".repeat(len)))
        .chain([Value::from("héllo, wörld ✓ 🦀")]);
    let bins = [0usize, 1, 255, 256, 300]
        .into_iter()
        .map(|len| Value::bin((0..len).map(|i| (i % 251) as u8).collect::<Vec<_>>()));
    let counted = |n: usize| Value::Array((0..n).map(|i| Value::from(i as u64)).collect());
    let map_of = |n: usize| Value::map((0..n).map(|i| (format!("k{i:02}"), Value::from(i as u64))));
    Value::map([
        ("nil", Value::Nil),
        (
            "bools",
            Value::Array(vec![Value::from(false), Value::from(true)]),
        ),
        (
            "uints",
            ints(&[
                0,
                127,
                128,
                255,
                256,
                65_535,
                65_536,
                4_294_967_295,
                4_294_967_296,
                i128::from(u64::MAX),
            ]),
        ),
        (
            "ints",
            ints(&[
                -1,
                -32,
                -33,
                -128,
                -129,
                -32_768,
                -32_769,
                -2_147_483_648,
                -2_147_483_649,
                i128::from(i64::MIN),
            ]),
        ),
        (
            "floats",
            Value::Array(
                [
                    0.0,
                    -0.0,
                    1.0,
                    1.5,
                    0.1,
                    -2.5e-8,
                    1e300,
                    f64::MAX,
                    f64::from_bits(1),
                    f64::NAN,
                    f64::INFINITY,
                    f64::NEG_INFINITY,
                ]
                .into_iter()
                .map(Value::Float)
                .collect(),
            ),
        ),
        ("strings", Value::Array(strings.collect())),
        ("bins", Value::Array(bins.collect())),
        (
            "arrays",
            Value::Array(vec![counted(0), counted(1), counted(15), counted(16)]),
        ),
        (
            "maps",
            Value::Array(vec![
                map_of(0),
                map_of(1),
                map_of(15),
                map_of(16),
                Value::map([(
                    "nested",
                    Value::map([(
                        "deeper",
                        Value::Array(vec![
                            Value::from(1u8),
                            Value::map([("deepest", Value::from(true))]),
                        ]),
                    )]),
                )]),
            ]),
        ),
        (
            "dollar",
            Value::Array(vec![
                Value::map([("$bin", Value::from("a string, not a binary"))]),
                Value::map([("$float", Value::from(1u8)), ("$other", Value::Nil)]),
            ]),
        ),
    ])
}

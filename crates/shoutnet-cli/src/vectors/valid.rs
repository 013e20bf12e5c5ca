//! The valid test vectors (docs/PROTOCOL.md §13): one per payload shape of
//! §8, plus the same batch under each compression method of §3.
//!
//! Messages flow as on one connection between fixture nodes 1 and 2: node 1
//! sends requests, node 2 answers them. Node 3 is known to both.
//!
//! Signatures, ciphertexts and the handshake proof are real, made with the
//! fixture private keys and a generator seeded per vector (`seeded`).

use std::collections::BTreeMap;
use std::net::SocketAddr;

use anyhow::{Context, Result};
use bytes::Bytes;
use shoutnet_crypto::{encrypt_message, handshake_proof, seal_message, sign_message};
use shoutnet_wire::{
    Ack, AckResult, Broadcast, Custom, FindNode, FindValue, Hello, Lock, Message, Metadata, Method,
    MethodSet, Nack, NackCode, NodeInfo, NodesFor, Opcode, PROTOCOL_VERSION, Payload, Ping,
    Profile, SetConnectionOpt, Store, Value, Whisper,
};

use super::{Annotation, Keys, Valid, fixed_bytes, seeded, sha256};

/// The DHT key of the FIND_VALUE / STORE vectors.
const DHT_KEY: &[u8] = b"shoutnet/vectors/greeting";
/// 2026-01-01T00:00:00Z, when the vectors' DHT value was stored.
const STORED_AT: u64 = 1_767_225_600;
/// An hour: the stored value's time to live.
const TTL: u64 = 3_600;
/// Five minutes after storing: when the lock in the vectors expires.
const LOCK_EXPIRES: u64 = STORED_AT + 300;

/// Builds the messages of the vectors for one profile.
struct Ctx<'a> {
    keys: &'a Keys,
}

impl Ctx<'_> {
    /// A plain message from fixture node `from` to node `to` (0: everyone).
    fn msg(&self, from: usize, to: usize, payload: &Payload) -> Result<Message> {
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
    fn nodes(&self) -> Result<Vec<NodeInfo>> {
        Ok(vec![
            self.node(2, &["192.0.2.2:4000", "[2001:db8::2]:4000"], &[])?,
            self.node(1, &["127.0.0.1:4000"], &[])?,
            self.node(3, &[], &[1, 2])?,
        ])
    }

    fn metadata(&self, version: u64, publisher: usize, lock: Option<usize>) -> Metadata {
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

    fn hello(&self) -> Result<Hello> {
        let profile = self.keys.profile;
        let nonce = fixed_bytes(&format!("{profile} hello nonce"), 32);
        Ok(Hello {
            version: PROTOCOL_VERSION,
            profile: profile.name().to_owned(),
            nonce: <[u8; 32]>::try_from(&nonce[..])?,
            listen: addrs(&["127.0.0.1:4000", "[::1]:4000"])?,
            compression: MethodSet::all(),
            preferred: Method::Zlib,
        })
    }

    fn whisper(&self) -> Result<Message> {
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
    fn signed_shout(&self) -> Result<Message> {
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
    fn encrypted(
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
                ..Annotation::default()
            },
        ))
    }

    fn stored_value() -> Value {
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

fn ack(request_id: u64, result: AckResult) -> Payload {
    Payload::Ack(Ack { request_id, result })
}

fn plain(name: &'static str, description: String, messages: Vec<Message>) -> Valid {
    Valid {
        name,
        description,
        compression: Method::None,
        messages,
        annotations: BTreeMap::new(),
    }
}

/// A one-message vector whose message carries `annotation`.
fn annotated(
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

/// Every valid vector of `keys.profile`, in a fixed order.
pub(super) fn vectors(keys: &Keys) -> Result<Vec<Valid>> {
    let c = Ctx { keys };
    let profile = keys.profile;
    let sig_len = profile.signature_len();
    let overhead = shoutnet_crypto::overhead(profile);
    let whisper = c.whisper()?;
    let hello = c.hello()?;
    // Node 2 proves its key to node 1, over the nonce of node 1's hello.
    let proof = handshake_proof(
        keys.keypair(2),
        &mut seeded(profile, "ack_ping_proof"),
        &hello.nonce,
        &keys.key(1),
    )?;
    let address = sha256(DHT_KEY);
    let find_node = Payload::FindNode(FindNode {
        request_id: 6,
        target: sha256(&keys.key(3)),
    });
    let mut out =
        vec![
        plain(
            "ping_hello",
            format!(
                "PING [request_id, hello] opening a connection (§8.1, §9.1): version 1, \
                 profile {profile}, a fixed nonce (SHA-256 of a label), two listen addresses, \
                 all six compression ids, zlib preferred"
            ),
            vec![c.msg(
                1,
                2,
                &Payload::Ping(Ping {
                    request_id: 1,
                    hello: Some(hello.clone()),
                }),
            )?],
        ),
        plain(
            "ping_keepalive",
            "PING [request_id]: a keepalive (§8.1)".into(),
            vec![c.msg(
                1,
                2,
                &Payload::Ping(Ping {
                    request_id: 2,
                    hello: None,
                }),
            )?],
        ),
        annotated(
            "ack_ping_proof",
            format!(
                "ACK [2, request_id, proof] from node 2 answering node 1's hello PING (§8.2, \
                 §9.1): the proof is node 2's {sig_len}-byte signature over \"shoutnet/1 \
                 handshake proof\", the nonce of the `ping_hello` vector, node 2's key field \
                 and node 1's (§5.5); \"handshake\" gives the nonce and the verifier"
            ),
            c.msg(
                2,
                1,
                &ack(
                    1,
                    AckResult::Ping {
                        proof: Some(Bytes::from(proof)),
                    },
                ),
            )?,
            Annotation {
                handshake: Some((hello.nonce, keys.key(1))),
                ..Annotation::default()
            },
        ),
        plain(
            "ack_ping_keepalive",
            "ACK [2, request_id] answering a keepalive PING (§8.2)".into(),
            vec![c.msg(2, 1, &ack(2, AckResult::Ping { proof: None }))?],
        ),
        plain(
            "set_connection_opt",
            "SET_CONNECTION_OPT [request_id, 0, 4]: the sender will compress with zlib from \
             now on (§8.4, §9.3)"
                .into(),
            vec![c.msg(
                1,
                2,
                &Payload::SetConnectionOpt(SetConnectionOpt {
                    request_id: 3,
                    option: SetConnectionOpt::COMPRESSION,
                    setting: u64::from(Method::Zlib.id()),
                }),
            )?],
        ),
        plain(
            "ack_set_connection_opt",
            "ACK [3, request_id, option, setting] echoing the SET_CONNECTION_OPT (§8.2)".into(),
            vec![c.msg(
                2,
                1,
                &ack(
                    3,
                    AckResult::SetConnectionOpt {
                        option: SetConnectionOpt::COMPRESSION,
                        setting: u64::from(Method::Zlib.id()),
                    },
                ),
            )?],
        ),
        plain(
            "nack_set_connection_opt",
            "NACK [3, request_id, UNSUPPORTED_OPTION, reason, [0, 7]] refusing compression id 7, \
             which is reserved (§8.3, §8.4)"
                .into(),
            vec![c.msg(
                2,
                1,
                &Payload::Nack(Nack {
                    acked: Opcode::SetConnectionOpt,
                    request_id: Some(4),
                    code: NackCode::UnsupportedOption,
                    reason: "compression id 7 is reserved".into(),
                    detail: Some(Value::Array(vec![Value::from(0u8), Value::from(7u8)])),
                }),
            )?],
        ),
        plain(
            "speak",
            "SPEAK [nonce, data] to the broadcast key: goes to direct peers only, unsigned \
             (§8.5)"
                .into(),
            vec![c.msg(
                1,
                0,
                &Payload::Speak(Broadcast {
                    nonce: 1,
                    data: Value::map([
                        ("topic", Value::from("weather")),
                        ("celsius", Value::from(21u8)),
                    ]),
                }),
            )?],
        ),
        plain(
            "whisper",
            "WHISPER [request_id, data] sent directly to its destination, so unsigned (§8.6)"
                .into(),
            vec![whisper.clone()],
        ),
        plain(
            "ack_whisper",
            "ACK [6, request_id, digest], where digest is SHA-256 of the body of the `whisper` \
             vector's message (§8.2)"
                .into(),
            vec![c.msg(
                2,
                1,
                &ack(
                    5,
                    AckResult::Whisper {
                        digest: sha256(&whisper.content),
                    },
                ),
            )?],
        ),
        plain(
            "find_node",
            "FIND_NODE [request_id, target], target the routing address (SHA-256 of the key \
             field) of fixture node 3 (§2, §8.7)"
                .into(),
            vec![c.msg(1, 2, &find_node)?],
        ),
        plain(
            "ack_find_node",
            "ACK [7, request_id, nodes] with three node infos: two listening nodes (IPv4 and \
             IPv6 addresses) and a dial-out-only node with no listen addresses and two relays \
             (§8, §8.2)"
                .into(),
            vec![c.msg(
                2,
                1,
                &ack(
                    6,
                    AckResult::Nodes {
                        acked: NodesFor::FindNode,
                        nodes: c.nodes()?,
                    },
                ),
            )?],
        ),
        plain(
            "find_value",
            "FIND_VALUE [request_id, address, key], address = SHA-256 of the key (§8.7)".into(),
            vec![c.msg(
                1,
                2,
                &Payload::FindValue(FindValue {
                    request_id: 7,
                    address,
                    key: Bytes::from_static(DHT_KEY),
                }),
            )?],
        ),
        plain(
            "ack_find_value_nodes",
            "ACK [8, request_id, nodes]: the value is unknown, so the closest nodes (§8.2)".into(),
            vec![c.msg(
                2,
                1,
                &ack(
                    7,
                    AckResult::Nodes {
                        acked: NodesFor::FindValue,
                        nodes: c.nodes()?.split_off(2),
                    },
                ),
            )?],
        ),
        plain(
            "ack_find_value_found",
            "ACK [8, request_id, key, value, metadata]: the value is known; its metadata \
             holds a lock (§8, §8.2)"
                .into(),
            vec![c.msg(
                2,
                1,
                &ack(
                    7,
                    AckResult::Value {
                        key: Bytes::from_static(DHT_KEY),
                        value: Ctx::stored_value(),
                        metadata: c.metadata(3, 3, Some(3)),
                    },
                ),
            )?],
        ),
        plain(
            "store",
            "STORE [request_id, address, key, value], address = SHA-256 of the key (§8.7)".into(),
            vec![c.msg(
                1,
                2,
                &Payload::Store(Store {
                    request_id: 8,
                    address,
                    key: Bytes::from_static(DHT_KEY),
                    value: Ctx::stored_value(),
                }),
            )?],
        ),
        plain(
            "ack_store",
            "ACK [9, request_id, key, metadata] with no lock held (`lock` is nil) (§8, §8.2)"
                .into(),
            vec![c.msg(
                2,
                1,
                &ack(
                    8,
                    AckResult::Stored {
                        key: Bytes::from_static(DHT_KEY),
                        metadata: c.metadata(1, 1, None),
                    },
                ),
            )?],
        ),
        plain(
            "nack_locked",
            "NACK [9, request_id, LOCKED, reason, metadata]: a STORE refused because node 3 \
             holds the key's lock; the detail is the key's metadata (§8.3, §10)"
                .into(),
            vec![c.msg(
                2,
                1,
                &Payload::Nack(Nack {
                    acked: Opcode::Store,
                    request_id: Some(9),
                    code: NackCode::Locked,
                    reason: "the key is locked by another node".into(),
                    detail: Some(c.metadata(3, 3, Some(3)).to_value()),
                }),
            )?],
        ),
        plain(
            "custom",
            "CUSTOM [request_id, name, data]: a request the receiver answers (§8.8)".into(),
            vec![c.msg(1, 2, &custom(Some(10), "echo", echo_data()))?],
        ),
        plain(
            "custom_oneway",
            "CUSTOM [nil, name, data]: no request id, so no answer (§8.8)".into(),
            vec![c.msg(1, 2, &custom(None, "log", Value::from("node 1 started")))?],
        ),
        plain(
            "ack_custom",
            "ACK [15, request_id, data] answering the `custom` vector (§8.2)".into(),
            vec![c.msg(2, 1, &ack(10, AckResult::Custom { data: echo_data() }))?],
        ),
        plain(
            "reserved_opcode",
            "a message with reserved opcode 12 and a valid restricted value as content: it \
             frames like any other message; an engine answers it with NACK \
             UNSUPPORTED_OPCODE (§5.1)"
                .into(),
            vec![Message::new(
                keys.key(1),
                keys.key(2),
                Opcode::Reserved12,
                Value::Array(vec![Value::from(11u8), Value::from("from a later version")])
                    .encode()?,
            )],
        ),
        plain(
            "values",
            "CUSTOM whose data holds every restricted value type (§7, §13.1): nil, booleans, \
             integers at every width boundary from -2^63 to 2^64-1, floats (NaN, ±Infinity, \
             -0.0, a float-32-representable 1.5, which shoutnet still sends as float 64), \
             strings up to str16, binaries up to bin16, arrays and maps up to array16/map16, \
             and a map whose single key starts with `$`, written as {\"$map\": ...}"
                .into(),
            vec![c.msg(1, 2, &custom(Some(11), "values", every_value()))?],
        ),
        c.encrypted(
            "encrypted",
            format!(
                "a WHISPER from node 1 to node 2 sent directly, so encrypted but unsigned: its \
                 content, written as payload_hex, is the {} ({overhead} bytes of overhead) \
                 (§5.2, §5.4); \"plaintext\" is the decrypted value",
                match profile {
                    Profile::Ed25519 => "ephemeral X25519 key E, then the ChaCha20-Poly1305 \
                                         ciphertext and tag",
                    Profile::Rsa2048 => "RSA-OAEP-wrapped key W, then the ChaCha20-Poly1305 \
                                         ciphertext and tag",
                }
            ),
            2,
            12,
            false,
        )?,
        c.encrypted(
            "encrypted_signed",
            format!(
                "a WHISPER from node 1 to node 3 routed through other nodes, so encrypted, then \
                 signed: the signature ({sig_len} bytes, by node 1) covers the header with both \
                 flags set and the ciphertext (§5.2–§5.4); \"plaintext\" is the decrypted value"
            ),
            3,
            13,
            true,
        )?,
        plain(
            "signed",
            format!(
                "a SHOUT to the broadcast key with the signed flag: the body is the content \
                 followed by node 1's {sig_len}-byte signature over the header without its \
                 length field and the content (§5.2, §5.3, §8.5)"
            ),
            vec![c.signed_shout()?],
        ),
    ];
    let batch = batch(&c)?;
    for method in Method::ALL {
        out.push(Valid {
            name: batch_name(method),
            description: format!(
                "the same batch of {} messages as every batch_* vector (FIND_NODE, ACK \
                 FIND_NODE, WHISPER, SPEAK, STORE, ACK WHISPER, CUSTOM, PING), its body \
                 compressed with {method} (§3, §6)",
                batch.len()
            ),
            compression: method,
            messages: batch.clone(),
            annotations: BTreeMap::new(),
        });
    }
    Ok(out)
}

fn batch_name(method: Method) -> &'static str {
    match method {
        Method::None => "batch_none",
        Method::Bz2 => "batch_bz2",
        Method::Gzip => "batch_gzip",
        Method::Lzma => "batch_lzma",
        Method::Zlib => "batch_zlib",
        Method::Snappy => "batch_snappy",
    }
}

/// Eight messages node 1 sends node 2 on one connection: its own requests
/// and its answers to node 2's.
fn batch(c: &Ctx<'_>) -> Result<Vec<Message>> {
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
        c.msg(
            1,
            2,
            &Payload::Ping(Ping {
                request_id: 25,
                hello: None,
            }),
        )?,
    ])
}

fn custom(request_id: Option<u64>, name: &str, data: Value) -> Payload {
    Payload::Custom(Custom {
        request_id,
        name: name.into(),
        data,
    })
}

fn echo_data() -> Value {
    Value::Array(vec![Value::from("ping"), Value::from(1u8)])
}

/// Data that exercises every restricted value type and every length form
/// (§7) and every JSON form of §13.1.
fn every_value() -> Value {
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

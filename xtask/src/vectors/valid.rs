//! The valid test vectors (docs/PROTOCOL.md §13): one per payload shape of
//! §8, plus the same batch under each compression method of §3.
//!
//! Messages flow as on one connection between fixture nodes 1 and 2: node 1
//! sends requests, node 2 answers them. Node 3 is known to both.
//!
//! The messages are built in `messages.rs`. Signatures and ciphertexts are
//! real, made with the fixture private keys and a generator seeded per
//! vector (`seeded`). The connection's handshake, which carries no
//! transmission, has its own vector (`handshake.rs`).

use std::collections::BTreeMap;

use anyhow::Result;
use bytes::Bytes;
use shoutnet_wire::{
    AckResult, Broadcast, FindNode, FindValue, Message, Method, Nack, NackCode, NodesFor, Opcode,
    Payload, Ping, Profile, SetConnectionOpt, Store, Value,
};

use super::generate::Valid;
use super::keys::{Keys, sha256};
use super::messages::{Ctx, DHT_KEY, ack, batch, custom, echo_data, every_value, plain};

/// Every valid vector of `keys.profile`, in a fixed order.
pub(super) fn vectors(keys: &Keys) -> Result<Vec<Valid>> {
    let c = Ctx { keys };
    let profile = keys.profile;
    let sig_len = profile.signature_len();
    let overhead = shoutnet_crypto::overhead(profile);
    let whisper = c.whisper()?;
    let address = sha256(DHT_KEY);
    let find_node = Payload::FindNode(FindNode {
        request_id: 6,
        target: sha256(&keys.key(3)),
    });
    let mut out = vec![
        plain(
            "ping_keepalive",
            "PING [request_id]: a keepalive (§8.1)".into(),
            vec![c.msg(1, 2, &Payload::Ping(Ping { request_id: 2 }))?],
        ),
        plain(
            "ack_ping_keepalive",
            "ACK [2, request_id] answering a keepalive PING (§8.2)".into(),
            vec![c.msg(2, 1, &ack(2, AckResult::Ping))?],
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
                    version: None,
                    ttl: None,
                }),
            )?],
        ),
        plain(
            "store_versioned",
            "STORE [request_id, address, key, value, version, ttl]: version 7, one hour (§8.7)"
                .into(),
            vec![c.msg(
                1,
                2,
                &Payload::Store(Store {
                    request_id: 10,
                    address,
                    key: Bytes::from_static(DHT_KEY),
                    value: Ctx::stored_value(),
                    version: Some(7),
                    ttl: Some(3600),
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
                    Profile::Ed25519 =>
                        "ephemeral X25519 key E, then the ChaCha20-Poly1305 \
                                         ciphertext and tag",
                    Profile::Rsa2048 =>
                        "RSA-OAEP-wrapped key W, then the ChaCha20-Poly1305 \
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

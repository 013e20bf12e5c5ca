//! Shared data for the wire benchmarks and the `compression_table` example:
//! real-looking keys (the fixture public keys plus synthesized ones of the
//! same shape), the 100 × 256-byte transmission of `benches/codec.rs`, and
//! realistic batched transmission bodies (FIND_NODE, ACK FIND_NODE, WHISPER,
//! SHOUT/SPEAK) of about 1 KiB and 64 KiB for compression.
//!
//! Everything is deterministic: a fixed-seed splitmix64 stands in for
//! randomness, so every run (and every bench target) sees the same bytes.
//! Included with `#[path = "support/mod.rs"] mod support;` by the benches
//! and `#[path = "../benches/support/mod.rs"] mod support;` by the example;
//! each target uses only part of it.
#![allow(dead_code, reason = "each bench or example target uses a subset")]

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use bytes::Bytes;
use shoutnet_wire::{
    Ack, AckResult, BatchEncoder, Broadcast, FindNode, Message, Method, NodeInfo, NodesFor,
    Payload, Profile, TRANSMISSION_HEADER_LEN, Value, Whisper,
};

/// Both key profiles, ed25519 first.
pub(crate) const PROFILES: [Profile; 2] = Profile::ALL;

/// Messages in the codec benchmark's transmission.
pub(crate) const CODEC_MESSAGES: usize = 100;
/// Body length of every message in the codec benchmark's transmission.
pub(crate) const CODEC_BODY_LEN: usize = 256;

/// The compressing methods (everything but `none`), in id order.
pub(crate) const METHODS: [Method; 5] = [
    Method::Bz2,
    Method::Gzip,
    Method::Lzma,
    Method::Zlib,
    Method::Snappy,
];

/// The body sizes aimed at for compression: (label, bytes).
pub(crate) const BODY_SIZES: [(&str, usize); 2] = [("1KiB", 1 << 10), ("64KiB", 64 << 10)];

/// The fixture public keys, `{"ed25519-1": "<hex>", ...}`.
const PUBLIC_KEYS_JSON: &str = include_str!("../../../../fixtures/keys/public.json");

/// A fixed-seed splitmix64.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi` (bias is irrelevant here).
    pub(crate) fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }

    pub(crate) fn index(&mut self, len: usize) -> usize {
        (self.next_u64() % len as u64) as usize
    }

    pub(crate) fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(n + 8);
        while out.len() < n {
            out.extend_from_slice(&self.next_u64().to_le_bytes());
        }
        out.truncate(n);
        out
    }
}

fn unhex(s: &str) -> Vec<u8> {
    let nibble = |c: u8| match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        b'A'..=b'F' => c - b'A' + 10,
        _ => panic!("not a hex digit: {c:#x}"),
    };
    s.as_bytes()
        .chunks_exact(2)
        .map(|pair| nibble(pair[0]) << 4 | nibble(pair[1]))
        .collect()
}

/// The three fixture public keys of `profile` (key fields as sent: 32 raw
/// bytes for ed25519, 270 bytes of DER `RSAPublicKey` for rsa2048).
pub(crate) fn fixture_keys(profile: Profile) -> Vec<Bytes> {
    let all: BTreeMap<String, String> =
        serde_json::from_str(PUBLIC_KEYS_JSON).expect("fixtures/keys/public.json");
    let keys: Vec<Bytes> = all
        .iter()
        .filter(|(name, _)| name.starts_with(profile.name()))
        .map(|(_, hex)| Bytes::from(unhex(hex)))
        .collect();
    assert!(keys.len() >= 3, "fixture keys for {profile}");
    for key in &keys {
        assert_eq!(key.len(), profile.key_len(), "fixture key length");
    }
    keys
}

/// A key of the shape `profile` sends: 32 random bytes, or a DER
/// `RSAPublicKey` with a random 2048-bit modulus and exponent 65537.
pub(crate) fn synthetic_key(profile: Profile, rng: &mut Rng) -> Bytes {
    match profile {
        Profile::Ed25519 => Bytes::from(rng.bytes(32)),
        Profile::Rsa2048 => {
            let mut key = unhex("3082010a0282010100");
            let mut modulus = rng.bytes(256);
            modulus[0] |= 0x80;
            modulus[255] |= 1;
            key.extend_from_slice(&modulus);
            key.extend_from_slice(&unhex("0203010001"));
            assert_eq!(key.len(), profile.key_len());
            Bytes::from(key)
        }
    }
}

/// `n` keys: the fixture keys first, then synthesized ones.
pub(crate) fn keys(profile: Profile, n: usize, rng: &mut Rng) -> Vec<Bytes> {
    let mut keys = fixture_keys(profile);
    keys.truncate(n);
    while keys.len() < n {
        keys.push(synthetic_key(profile, rng));
    }
    keys
}

/// The "to everyone" key field: all zeros.
pub(crate) fn everyone(profile: Profile) -> Bytes {
    Bytes::from(vec![0u8; profile.key_len()])
}

/// The payload `make(n)` for the smallest `n` whose encoding is exactly
/// `len` bytes.
fn exact_payload(profile: Profile, len: usize, make: impl Fn(usize) -> Payload) -> Payload {
    (0..=len)
        .map(&make)
        .find(|p| p.encode(profile).expect("valid payload").len() == len)
        .unwrap_or_else(|| panic!("no payload of exactly {len} bytes"))
}

/// The codec benchmark's messages: 100 plain messages with 256-byte bodies,
/// alternating a `WHISPER [request_id, bin(…)]` from this node to its
/// neighbour and a forwarded `SHOUT [nonce, {"topic", "seq", "text"}]` from
/// one of a few origins to everyone.
pub(crate) fn codec_messages(profile: Profile) -> Vec<Message> {
    let mut rng = Rng::new(0x5eed_c0de);
    let peers = keys(profile, 4, &mut rng);
    let (me, neighbour) = (peers[0].clone(), peers[1].clone());
    let all = everyone(profile);
    (0..CODEC_MESSAGES)
        .map(|i| {
            let id = 0x4000_0000 + i as u64;
            if i % 2 == 0 {
                let data = Bytes::from(rng.bytes(CODEC_BODY_LEN));
                let payload = exact_payload(profile, CODEC_BODY_LEN, |n| {
                    Payload::Whisper(Whisper {
                        request_id: id,
                        data: Value::Bin(data.slice(..n)),
                    })
                });
                Message::from_payload(profile, me.clone(), neighbour.clone(), &payload)
            } else {
                let text = sentence(&mut rng, CODEC_BODY_LEN);
                let payload = exact_payload(profile, CODEC_BODY_LEN, |n| {
                    Payload::Shout(Broadcast {
                        nonce: 0x9e37_79b9_7f4a_7c15_u64.wrapping_mul(i as u64 + 1),
                        data: Value::map([
                            ("topic", Value::from("chat/general")),
                            ("seq", Value::from(i as u64)),
                            ("text", Value::from(&text[..n.min(text.len())])),
                        ]),
                    })
                });
                let origin = peers[i % peers.len()].clone();
                Message::from_payload(profile, origin, all.clone(), &payload)
            }
            .expect("valid message")
        })
        .inspect(|m| assert_eq!(m.body_len(), CODEC_BODY_LEN))
        .collect()
}

/// The codec benchmark's transmission, uncompressed.
pub(crate) fn codec_transmission(profile: Profile, messages: &[Message]) -> Bytes {
    let mut batch = BatchEncoder::new(profile);
    for msg in messages {
        batch.push(msg).expect("push");
    }
    let wire = batch.finish(Method::None).expect("finish");
    assert_eq!(
        wire.len(),
        TRANSMISSION_HEADER_LEN + CODEC_MESSAGES * (profile.header_len() + CODEC_BODY_LEN)
    );
    wire
}

const WORDS: &str = "the a node peer network message is was and to of in for on with we you \
     it this that hello everyone update new version release today meeting \
     at noon tomorrow please check logs connection lost restored thanks see \
     later file shared link download ready done working on fix bug test \
     passed failed again soon good morning evening status online";

/// Words joined by spaces, at least `min_len` bytes.
pub(crate) fn sentence(rng: &mut Rng, min_len: usize) -> String {
    let words: Vec<&str> = WORDS.split_whitespace().collect();
    let mut s = String::new();
    while s.len() < min_len {
        if !s.is_empty() {
            s.push(' ');
        }
        s.push_str(words[rng.index(words.len())]);
    }
    s
}

fn address(rng: &mut Rng) -> SocketAddr {
    let port = [4001, 4001, 4001, 9000, 30303][rng.index(5)] as u16;
    if rng.range(0, 3) == 0 {
        SocketAddr::V6(SocketAddrV6::new(
            Ipv6Addr::new(
                0x2001,
                0xdb8,
                rng.range(0, 0xff) as u16,
                0,
                0,
                0,
                0,
                rng.range(1, 0xffff) as u16,
            ),
            port,
            0,
            0,
        ))
    } else {
        SocketAddr::V4(SocketAddrV4::new(
            Ipv4Addr::new(
                [203, 198, 192][rng.index(3)],
                [0, 51, 18][rng.index(3)],
                rng.range(0, 255) as u8,
                rng.range(1, 254) as u8,
            ),
            port,
        ))
    }
}

/// A realistic sequence of messages on one connection, as this node sends
/// them to its neighbour: FIND_NODE requests, ACK FIND_NODE replies with
/// node infos (keys from a routing table of 64 nodes), WHISPERs with small
/// maps, and SHOUT/SPEAK with text, from a handful of header keys.
pub(crate) fn traffic(profile: Profile, count: usize, rng: &mut Rng) -> Vec<Message> {
    let peers = keys(profile, 5, rng);
    let (me, neighbour) = (peers[0].clone(), peers[1].clone());
    let all = everyone(profile);
    let table: Vec<NodeInfo> = (0..64)
        .map(|_| NodeInfo {
            key: synthetic_key(profile, rng),
            listen: (0..rng.range(1, 2)).map(|_| address(rng)).collect(),
            relays: if rng.range(0, 9) == 0 {
                vec![peers[rng.index(peers.len())].clone()]
            } else {
                Vec::new()
            },
        })
        .collect();
    let mut request_id = rng.range(1, 1 << 20);
    let mut seq = 0u64;
    (0..count)
        .map(|_| {
            request_id += 1;
            let (from, to, payload) = match rng.range(0, 99) {
                0..=29 => {
                    let mut target = [0u8; 32];
                    target.copy_from_slice(&rng.bytes(32));
                    (
                        me.clone(),
                        neighbour.clone(),
                        Payload::FindNode(FindNode { request_id, target }),
                    )
                }
                30..=49 => {
                    let n = rng.range(3, 16) as usize;
                    let start = rng.index(table.len());
                    let nodes = (0..n)
                        .map(|j| table[(start + j * 7) % table.len()].clone())
                        .collect();
                    let result = AckResult::Nodes {
                        acked: NodesFor::FindNode,
                        nodes,
                    };
                    (
                        me.clone(),
                        neighbour.clone(),
                        Payload::Ack(Ack { request_id, result }),
                    )
                }
                50..=74 => {
                    seq += 1;
                    let kind = ["chat", "presence", "typing", "receipt"][rng.index(4)];
                    let mut entries = vec![
                        ("type", Value::from(kind)),
                        ("seq", Value::from(seq)),
                        ("ts", Value::from(1_767_225_600_000 + seq * 1_337)),
                    ];
                    if kind == "chat" {
                        let len = rng.range(8, 120) as usize;
                        entries.push(("text", Value::from(sentence(rng, len))));
                    }
                    let data = Value::map(entries);
                    (
                        me.clone(),
                        neighbour.clone(),
                        Payload::Whisper(Whisper { request_id, data }),
                    )
                }
                _ => {
                    let len = rng.range(16, 200) as usize;
                    let broadcast = Broadcast {
                        nonce: rng.next_u64(),
                        data: Value::from(sentence(rng, len)),
                    };
                    if rng.range(0, 2) == 0 {
                        (me.clone(), all.clone(), Payload::Speak(broadcast))
                    } else {
                        let origin = peers[rng.index(peers.len())].clone();
                        (origin, all.clone(), Payload::Shout(broadcast))
                    }
                }
            };
            Message::from_payload(profile, from, to, &payload).expect("valid message")
        })
        .collect()
}

/// An uncompressed transmission body (what `finish(Method::None)` writes
/// after its 6-byte header) of realistic traffic, as a batcher with a budget
/// of `target` bytes fills it: messages in order, a message that would
/// overflow the budget left for a later transmission, until 16 in a row did
/// not fit. At least one message, so the body is near `target` and never
/// larger unless a single message is.
pub(crate) fn traffic_body(profile: Profile, target: usize) -> Bytes {
    let mut rng = Rng::new(0x7ea_ff1c ^ target as u64);
    let mut batch = BatchEncoder::new(profile);
    let mut misfits = 0;
    // Every message is longer than its header, so this is enough of them.
    for msg in traffic(profile, 2 * target / profile.header_len() + 64, &mut rng) {
        if batch.is_empty() || batch.body_len() + msg.encoded_len(profile) <= target {
            batch.push(&msg).expect("push");
            misfits = 0;
        } else {
            misfits += 1;
            if misfits == 16 {
                break;
            }
        }
    }
    let wire = batch.finish(Method::None).expect("finish");
    wire.slice(TRANSMISSION_HEADER_LEN..)
}

//! Property tests: every codec round-trips, and no input panics or breaks a
//! limit (docs/PROTOCOL.md §4–§8).

use bytes::Bytes;
use proptest::prelude::*;
use shoutnet_wire::{
    Ack, AckResult, BatchEncoder, Custom, FindNode, FindValue, Integer, Limits, Lock, Message,
    Metadata, Method, MethodSet, Nack, NackCode, NodeInfo, NodesFor, Opcode, Payload, Profile,
    Store, StreamDecoder, Value, ValueLimits, Whisper, decode_transmission, encode_transmission,
};

fn profile() -> impl Strategy<Value = Profile> {
    prop_oneof![Just(Profile::Ed25519), Just(Profile::Rsa2048)]
}

fn method() -> impl Strategy<Value = Method> {
    proptest::sample::select(Method::ALL.to_vec())
}

fn bytes(max: usize) -> impl Strategy<Value = Bytes> {
    proptest::collection::vec(any::<u8>(), 0..max).prop_map(Bytes::from)
}

fn key(profile: Profile) -> impl Strategy<Value = Bytes> {
    proptest::collection::vec(any::<u8>(), profile.key_len()).prop_map(Bytes::from)
}

fn integer() -> impl Strategy<Value = Integer> {
    prop_oneof![
        any::<u64>().prop_map(Integer::from),
        any::<i64>().prop_map(Integer::from),
        (0u64..300).prop_map(Integer::from),
        (-300i64..0).prop_map(Integer::from),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Nil),
        any::<bool>().prop_map(Value::Bool),
        integer().prop_map(Value::Int),
        any::<f64>().prop_map(Value::Float),
        ".{0,40}".prop_map(Value::Str),
        bytes(300).prop_map(Value::Bin),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            proptest::collection::btree_map("[a-z$]{0,6}", inner, 0..8)
                .prop_map(|m| Value::Map(m.into_iter().collect())),
        ]
    })
}

fn message(profile: Profile) -> impl Strategy<Value = Message> {
    (
        key(profile),
        key(profile),
        (0u8..16).prop_map(Opcode::from_nibble),
        any::<bool>(),
        bytes(600),
        proptest::option::of(
            proptest::collection::vec(any::<u8>(), profile.signature_len()).prop_map(Bytes::from),
        ),
    )
        .prop_map(
            |(from, to, opcode, encrypted, content, signature)| Message {
                from,
                to,
                opcode,
                encrypted,
                content,
                signature,
            },
        )
}

fn node_info(profile: Profile) -> impl Strategy<Value = NodeInfo> {
    (
        key(profile),
        proptest::collection::vec(
            (any::<std::net::IpAddr>(), any::<u16>())
                .prop_map(|(ip, port)| std::net::SocketAddr::new(ip, port)),
            0..=8,
        ),
        proptest::collection::vec(key(profile), 0..=3),
    )
        .prop_map(|(key, listen, relays)| NodeInfo {
            key,
            listen,
            relays,
        })
}

fn metadata(profile: Profile) -> impl Strategy<Value = Metadata> {
    (
        any::<u64>(),
        any::<u64>(),
        any::<u64>(),
        key(profile),
        proptest::option::of(
            (key(profile), any::<u64>()).prop_map(|(holder, expires)| Lock { holder, expires }),
        ),
    )
        .prop_map(|(version, ttl, stored_at, publisher, lock)| Metadata {
            version,
            ttl,
            stored_at,
            publisher,
            lock,
        })
}

fn payload(profile: Profile) -> impl Strategy<Value = Payload> {
    let id = any::<u64>();
    prop_oneof![
        (id, any::<[u8; 32]>())
            .prop_map(|(request_id, target)| Payload::FindNode(FindNode { request_id, target })),
        (id, any::<[u8; 32]>(), bytes(1024)).prop_map(|(request_id, address, key)| {
            Payload::FindValue(FindValue {
                request_id,
                address,
                key,
            })
        }),
        (
            id,
            any::<[u8; 32]>(),
            bytes(64),
            value(),
            proptest::option::of(any::<u64>()),
            proptest::option::of(any::<u64>())
        )
            .prop_map(|(request_id, address, key, value, version, ttl)| {
                // A ttl is only ever sent after a version.
                let ttl = version.and(ttl);
                Payload::Store(Store {
                    request_id,
                    address,
                    key,
                    value,
                    version,
                    ttl,
                })
            }),
        (id, value()).prop_map(|(request_id, data)| Payload::Whisper(Whisper { request_id, data })),
        (proptest::option::of(id), "[a-z_]{1,64}", value()).prop_map(|(request_id, name, data)| {
            Payload::Custom(Custom {
                request_id,
                name,
                data,
            })
        }),
        (
            (0u8..16).prop_map(Opcode::from_nibble),
            proptest::option::of(id),
            0u64..20,
            ".{0,60}",
            proptest::option::of(value())
        )
            .prop_map(
                |(acked, request_id, code, reason, detail)| Payload::Nack(Nack {
                    acked,
                    request_id,
                    code: NackCode::from_u64(code),
                    reason,
                    detail
                })
            ),
        (
            id,
            proptest::collection::vec(node_info(profile), 0..=20),
            any::<bool>()
        )
            .prop_map(|(request_id, nodes, find_value)| Payload::Ack(Ack {
                request_id,
                result: AckResult::Nodes {
                    acked: if find_value {
                        NodesFor::FindValue
                    } else {
                        NodesFor::FindNode
                    },
                    nodes,
                },
            })),
        (id, bytes(64), value(), metadata(profile)).prop_map(
            |(request_id, key, value, metadata)| Payload::Ack(Ack {
                request_id,
                result: AckResult::Value {
                    key,
                    value,
                    metadata
                },
            })
        ),
    ]
}

/// An IPv4 address written with each octet plain or with leading zeros.
fn ipv4_text() -> impl Strategy<Value = String> {
    proptest::collection::vec((any::<u8>(), 0u8..4), 4).prop_map(|octets| {
        let parts: Vec<String> = octets
            .iter()
            .map(|(o, style)| match style {
                0 => format!("0{o}"),
                1 => format!("{o:03}"),
                _ => o.to_string(),
            })
            .collect();
        parts.join(".")
    })
}

/// An IPv6 address (zero groups likely, so that `::` has runs to choose
/// from) written in one of the RFC 4291 forms, only some canonical.
fn ipv6_text() -> impl Strategy<Value = String> {
    let group = prop_oneof![3 => Just(0u16), 1 => Just(0xffff), 2 => any::<u16>()];
    (
        proptest::collection::vec(group, 8),
        0u8..9,
        any::<prop::sample::Index>(),
    )
        .prop_map(|(groups, style, at)| {
            let mut segments = [0u16; 8];
            segments.copy_from_slice(&groups);
            let ip = std::net::Ipv6Addr::from(segments);
            let full = |width: usize| {
                let parts: Vec<String> = segments.iter().map(|g| format!("{g:0width$x}")).collect();
                parts.join(":")
            };
            match style {
                0 => full(1),
                1 => full(4),
                2 => ip.to_string().to_uppercase(),
                3 => format!("{ip}%eth0"),
                4 => format!("{ip}%{}", at.index(100)),
                5 => {
                    // `::` in place of any one run of zero groups, not
                    // necessarily the longest.
                    let start = at.index(8);
                    let end = (start..8).find(|&i| segments[i] != 0).unwrap_or(8);
                    let part = |s: &[u16]| {
                        s.iter()
                            .map(|g| format!("{g:x}"))
                            .collect::<Vec<_>>()
                            .join(":")
                    };
                    format!("{}::{}", part(&segments[..start]), part(&segments[end..]))
                }
                6 => {
                    let [a, b, c, d] = ip.octets()[12..] else {
                        unreachable!()
                    };
                    format!("::ffff:{a}.{b}.{c}.{d}")
                }
                _ => ip.to_string(),
            }
        })
}

/// A socket address text: most are the canonical form of §8, the rest any
/// of the spellings the standard parsers also take.
fn address_text() -> impl Strategy<Value = String> {
    let port = (any::<u16>(), 0u8..5).prop_map(|(p, style)| match style {
        0 => format!("0{p}"),
        1 => format!("{p:05}"),
        2 => (u32::from(p) + 65_536).to_string(),
        _ => p.to_string(),
    });
    prop_oneof![
        (ipv4_text(), port.clone()).prop_map(|(ip, port)| format!("{ip}:{port}")),
        (ipv6_text(), port).prop_map(|(ip, port)| format!("[{ip}]:{port}")),
        (any::<std::net::IpAddr>(), any::<u16>())
            .prop_map(|(ip, port)| std::net::SocketAddr::new(ip, port).to_string()),
    ]
}

/// The content of `ACK [7, 1, [[key, [address], []]]]` (FIND_NODE nodes).
fn ack_with_address(address: &str) -> Bytes {
    let node = Value::Array(vec![
        Value::bin(vec![7; 32]),
        Value::Array(vec![Value::from(address)]),
        Value::Array(vec![]),
    ]);
    Value::Array(vec![
        Value::from(7u8),
        Value::from(1u8),
        Value::Array(vec![node]),
    ])
    .encode()
    .unwrap()
}

proptest! {
    /// Every address string a receiver accepts encodes back to the same
    /// bytes: it is the one text form of §8 (no zone id, no leading zeros,
    /// canonical IPv6), and every address has that form.
    #[test]
    fn accepted_addresses_re_encode_byte_for_byte(text in address_text()) {
        let content = ack_with_address(&text);
        let read = Payload::decode(Opcode::Ack, &content, Profile::Ed25519, &ValueLimits::default());
        let canonical = text
            .parse::<std::net::SocketAddr>()
            .is_ok_and(|a| std::net::SocketAddr::new(a.ip(), a.port()).to_string() == text);
        match read {
            Ok(payload) => {
                prop_assert!(canonical, "{} accepted", text);
                prop_assert_eq!(payload.encode(Profile::Ed25519).unwrap(), content);
            }
            Err(e) => {
                prop_assert!(!canonical, "{} refused: {}", text, e);
                prop_assert!(
                    matches!(e, shoutnet_wire::PayloadError::Field { field: "node_info.listen", .. }),
                    "{}", e
                );
            }
        }
    }

    /// `read` decodes as `decode` does, and names the request id the
    /// engine read from the raw value before (the first element of a
    /// request, the second of an ACK or NACK).
    #[test]
    fn read_agrees_with_decode_and_finds_the_request_id(
        opcode in (0u8..16).prop_map(Opcode::from_nibble),
        items in proptest::collection::vec(value(), 0..6),
        id in any::<u64>(),
        at in 0usize..2,
    ) {
        let mut items = items;
        items.insert(at.min(items.len()), Value::from(id));
        let content = Value::Array(items).encode().unwrap();
        let limits = ValueLimits::default();
        let read = Payload::read(opcode, &content, Profile::Ed25519, &limits);
        let decoded = Payload::decode(opcode, &content, Profile::Ed25519, &limits);
        prop_assert_eq!(read.clone().map_err(|r| r.error), decoded);
        if let Err(refused) = read {
            let index = match opcode {
                Opcode::Ack | Opcode::Nack => Some(1),
                Opcode::Shout | Opcode::Speak => None,
                op if op.is_reserved() => None,
                _ => Some(0),
            };
            let raw = Value::decode(&content, &limits).unwrap();
            let expected = index.and_then(|i| raw.as_array()?.get(i)?.as_u64());
            prop_assert_eq!(refused.request_id, expected);
        }
    }
}

proptest! {
    #[test]
    fn values_round_trip_in_their_shortest_form(v in value()) {
        let bytes = v.encode().unwrap();
        prop_assert_eq!(bytes.len(), v.encoded_len());
        prop_assert_eq!(Value::decode(&bytes, &ValueLimits::default()).unwrap(), v);
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_what_decodes_re_encodes(data in bytes(512)) {
        if let Ok(v) = Value::decode(&data, &ValueLimits::default()) {
            let again = v.encode().unwrap();
            prop_assert_eq!(Value::decode(&again, &ValueLimits::default()).unwrap(), v);
        }
    }

    #[test]
    fn transmissions_round_trip_for_every_method(
        (profile, messages) in profile().prop_flat_map(|p| (Just(p), proptest::collection::vec(message(p), 1..12))),
        method in method(),
    ) {
        let wire = encode_transmission(profile, &messages, method).unwrap();
        let tx = decode_transmission(wire, profile, &Limits::default(), MethodSet::all()).unwrap();
        prop_assert_eq!(tx.compression, method);
        prop_assert_eq!(tx.to_messages(), messages);
    }

    #[test]
    fn payloads_round_trip(
        (profile, payload) in profile().prop_flat_map(|p| (Just(p), payload(p))),
    ) {
        let bytes = payload.encode(profile).unwrap();
        let back = Payload::decode(payload.opcode(), &bytes, profile, &ValueLimits::default()).unwrap();
        prop_assert_eq!(back, payload);
    }

    #[test]
    fn stream_decoder_yields_the_same_frames_for_any_split(
        (profile, batches) in profile().prop_flat_map(|p| (Just(p), proptest::collection::vec(proptest::collection::vec(message(p), 1..4), 1..5))),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..8),
    ) {
        let mut wire = Vec::new();
        for batch in &batches {
            wire.extend_from_slice(&encode_transmission(profile, batch, Method::None).unwrap());
        }
        let mut cuts: Vec<usize> = cuts.iter().map(|i| i.index(wire.len() + 1)).collect();
        cuts.push(0);
        cuts.push(wire.len());
        cuts.sort_unstable();
        let mut decoder = StreamDecoder::new(Limits::default());
        let mut got = Vec::new();
        for pair in cuts.windows(2) {
            decoder.push(&wire[pair[0]..pair[1]]);
            while let Some(frame) = decoder.next_frame().unwrap() {
                got.push(frame.decode(profile, &Limits::default()).unwrap().to_messages());
            }
        }
        prop_assert_eq!(got, batches);
        prop_assert_eq!(decoder.buffered(), 0);
    }

    #[test]
    fn arbitrary_transmissions_never_panic_or_exceed_limits(profile in profile(), data in bytes(2048)) {
        let limits = Limits { max_messages: 4, max_payload: 300, ..Limits::default() };
        if let Ok(tx) = decode_transmission(data, profile, &limits, MethodSet::all()) {
            prop_assert!(!tx.is_empty() && tx.len() <= limits.max_messages);
            for msg in tx.to_messages() {
                prop_assert!(msg.body_len() <= limits.max_payload);
            }
        }
    }
}

#[test]
fn batch_encoder_checks_lengths_against_the_profile() {
    let short = Bytes::from(vec![1u8; 31]);
    let ok = Bytes::from(vec![1u8; 32]);
    let mut batch = BatchEncoder::new(Profile::Ed25519);
    let msg = Message::new(
        short,
        ok.clone(),
        Opcode::Ping,
        Bytes::from_static(&[0x91, 0]),
    );
    assert!(batch.push(&msg).is_err());
    let mut signed = Message::new(ok.clone(), ok, Opcode::Shout, Bytes::from_static(&[0xc0]));
    signed.signature = Some(Bytes::from(vec![0u8; 63]));
    assert!(batch.push(&signed).is_err());
    assert!(batch.is_empty());
    assert!(batch.finish(Method::None).is_err());
}

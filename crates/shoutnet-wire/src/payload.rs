//! Typed payloads for every opcode (docs/PROTOCOL.md §8).
//!
//! Raw values become typed payloads through [`Payload::from_value`], which
//! checks arity, types, lengths and the limits of §11: parse, don't
//! validate.

mod records;
mod reply;
mod request;
mod schema;

use bytes::Bytes;

pub(crate) use self::records::parse_socket_addr;
pub use self::records::{Lock, Metadata, NodeInfo};
pub use self::reply::{Ack, AckResult, Nack, NackCode, NodesFor};
pub use self::request::{
    Broadcast, Custom, FindNode, FindValue, Ping, SetConnectionOpt, Store, Whisper,
};
use crate::value::Head;
use crate::{EncodeError, Opcode, PayloadError, Profile, Refused, Value, ValueLimits};

/// The protocol version this crate speaks; the secure channel's prologue
/// names it (docs/PROTOCOL.md §9.1).
pub const PROTOCOL_VERSION: u64 = 1;
/// Most listen addresses in a hello or node info.
pub const MAX_LISTEN_ADDRS: usize = 8;
/// Most relays of a dial-out-only node.
pub const MAX_RELAYS: usize = 3;
/// Most nodes in one `ACK FIND_NODE` / `FIND_VALUE`: Kademlia's k.
pub const MAX_NODES_PER_REPLY: usize = 20;
/// Most bytes in a DHT key.
pub const MAX_DHT_KEY: usize = 1024;
/// Most bytes in a DHT value's encoding.
pub const MAX_DHT_VALUE: usize = 65_536;
/// Most bytes in a `CUSTOM` handler name.
pub const MAX_CUSTOM_NAME: usize = 64;
/// Most bytes in a `NACK` reason.
pub const MAX_NACK_REASON: usize = 256;
/// Most compression ids in a hello (there are 8 ids in all).
pub const MAX_COMPRESSION_IDS: usize = 8;

/// The payload of a message, one variant per non-reserved opcode.
///
/// ```
/// use shoutnet_wire::{FindNode, Opcode, Payload, Profile};
///
/// let p = Payload::FindNode(FindNode { request_id: 9, target: [0xab; 32] });
/// let bytes = p.encode(Profile::Ed25519).unwrap();
/// assert_eq!(Payload::decode(Opcode::FindNode, &bytes, Profile::Ed25519, &Default::default()).unwrap(), p);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(missing_docs)] // Each variant is its opcode.
pub enum Payload {
    Ack(Ack),
    Nack(Nack),
    Ping(Ping),
    SetConnectionOpt(SetConnectionOpt),
    Shout(Broadcast),
    Speak(Broadcast),
    Whisper(Whisper),
    FindNode(FindNode),
    FindValue(FindValue),
    Store(Store),
    Custom(Custom),
}

impl Payload {
    /// The opcode that carries this payload.
    pub fn opcode(&self) -> Opcode {
        match self {
            Self::Ack(_) => Opcode::Ack,
            Self::Nack(_) => Opcode::Nack,
            Self::Ping(_) => Opcode::Ping,
            Self::SetConnectionOpt(_) => Opcode::SetConnectionOpt,
            Self::Shout(_) => Opcode::Shout,
            Self::Speak(_) => Opcode::Speak,
            Self::Whisper(_) => Opcode::Whisper,
            Self::FindNode(_) => Opcode::FindNode,
            Self::FindValue(_) => Opcode::FindValue,
            Self::Store(_) => Opcode::Store,
            Self::Custom(_) => Opcode::Custom,
        }
    }

    /// Decodes the content of a plain message with `opcode`.
    pub fn decode(
        opcode: Opcode,
        content: &Bytes,
        profile: Profile,
        limits: &ValueLimits,
    ) -> Result<Self, PayloadError> {
        Self::read(opcode, content, profile, limits).map_err(|refused| refused.error)
    }

    /// Decodes the content of a plain message with `opcode`, decoding its
    /// value once; a refusal carries the request id that could be read, for
    /// the `NACK` that answers it (docs/PROTOCOL.md §8.3, §10).
    ///
    /// The request id is the first element of a request's array, the second
    /// of an `ACK`'s or `NACK`'s, when that element is an unsigned integer
    /// and was decoded whole before the first fault: a content whose schema
    /// fails, or whose value breaks §7 only after its request id, still
    /// names it. `SHOUT`, `SPEAK` and reserved opcodes have none (nothing
    /// is decoded for a reserved opcode).
    ///
    /// ```
    /// use bytes::Bytes;
    /// use shoutnet_wire::{Opcode, Payload, PayloadError, Profile, ValueLimits};
    ///
    /// // FIND_NODE [9, "x"]: the target is not bin(32), but the id is read.
    /// let content = Bytes::from_static(&[0x92, 0x09, 0xa1, b'x']);
    /// let refused = Payload::read(Opcode::FindNode, &content, Profile::Ed25519, &ValueLimits::default())
    ///     .unwrap_err();
    /// assert_eq!(refused.request_id, Some(9));
    /// assert!(matches!(refused.error, PayloadError::Field { field: "target", .. }));
    /// ```
    pub fn read(
        opcode: Opcode,
        content: &Bytes,
        profile: Profile,
        limits: &ValueLimits,
    ) -> Result<Self, Refused> {
        if opcode.is_reserved() {
            return Err(Refused {
                error: PayloadError::ReservedOpcode(opcode),
                request_id: None,
            });
        }
        let decoded = Value::decode_noting(content, limits);
        let request_id = request_id_index(opcode).and_then(|i| decoded.head.uint(i));
        let refused = |error| Refused { error, request_id };
        let value = decoded.value.map_err(|e| refused(e.into()))?;
        Self::from_received(opcode, value, profile, Some(&decoded.head)).map_err(refused)
    }

    /// Reads `value` as the payload of `opcode`, checking its schema.
    ///
    /// A value that did not come from the wire has no received encoding, so
    /// the DHT value limit (docs/PROTOCOL.md §8.7) is checked on its shortest
    /// encoding, the one a sender sends.
    pub fn from_value(
        opcode: Opcode,
        value: Value,
        profile: Profile,
    ) -> Result<Self, PayloadError> {
        Self::from_received(opcode, value, profile, None)
    }

    /// [`from_value`](Self::from_value), with what the decoder noted about
    /// the content as received, when it came from the wire.
    fn from_received(
        opcode: Opcode,
        value: Value,
        profile: Profile,
        head: Option<&Head>,
    ) -> Result<Self, PayloadError> {
        Ok(match opcode {
            Opcode::Ack => Self::Ack(Ack::from_value(value, profile, head)?),
            Opcode::Nack => Self::Nack(Nack::from_value(value)?),
            Opcode::Ping => Self::Ping(Ping::from_value(value)?),
            Opcode::SetConnectionOpt => {
                Self::SetConnectionOpt(SetConnectionOpt::from_value(value)?)
            }
            Opcode::Shout => Self::Shout(Broadcast::from_value(opcode, value)?),
            Opcode::Speak => Self::Speak(Broadcast::from_value(opcode, value)?),
            Opcode::Whisper => Self::Whisper(Whisper::from_value(value)?),
            Opcode::FindNode => Self::FindNode(FindNode::from_value(value)?),
            Opcode::FindValue => Self::FindValue(FindValue::from_value(value)?),
            Opcode::Store => Self::Store(Store::from_value(value, head)?),
            Opcode::Custom => Self::Custom(Custom::from_value(value)?),
            Opcode::Reserved10
            | Opcode::Reserved11
            | Opcode::Reserved12
            | Opcode::Reserved13
            | Opcode::Reserved14 => {
                return Err(PayloadError::ReservedOpcode(opcode));
            }
        })
    }

    /// The payload as a value.
    pub fn to_value(&self) -> Value {
        match self {
            Self::Ack(p) => p.to_value(),
            Self::Nack(p) => p.to_value(),
            Self::Ping(p) => p.to_value(),
            Self::SetConnectionOpt(p) => p.to_value(),
            Self::Shout(p) | Self::Speak(p) => p.to_value(),
            Self::Whisper(p) => p.to_value(),
            Self::FindNode(p) => p.to_value(),
            Self::FindValue(p) => p.to_value(),
            Self::Store(p) => p.to_value(),
            Self::Custom(p) => p.to_value(),
        }
    }

    /// Encodes the payload, after checking that a receiver with default
    /// limits would accept it: over-long keys, lists or names are refused
    /// here rather than by the peer.
    ///
    /// The check reads the value built for encoding against the schema and
    /// the value limits; it never decodes the bytes it wrote (only a value
    /// that breaks §7 is decoded again, to name the fault's offset).
    pub fn encode(&self, profile: Profile) -> Result<Bytes, EncodeError> {
        let value = self.to_value();
        let bytes = value.encode()?;
        let limits = ValueLimits::DEFAULT;
        if !value.is_receivable(&limits) {
            let fault =
                Value::decode(&bytes, &limits)
                    .err()
                    .unwrap_or(crate::ValueError::TooManyValues {
                        offset: 0,
                        max: limits.max_values,
                    });
            return Err(EncodeError::Invalid(fault.into()));
        }
        // Our encoding is the shortest, so the received length a peer will
        // measure (§8.7) is the shortest encoding's, which from_value checks.
        Self::from_value(self.opcode(), value, profile).map_err(EncodeError::Invalid)?;
        Ok(bytes)
    }
}

/// Where `opcode`'s payload array keeps its request id: the first element
/// of a request, the second of an `ACK` or `NACK` (docs/PROTOCOL.md §5.1,
/// §8); broadcasts and reserved opcodes have none.
const fn request_id_index(opcode: Opcode) -> Option<usize> {
    match opcode {
        Opcode::Ack | Opcode::Nack => Some(1),
        Opcode::Ping
        | Opcode::SetConnectionOpt
        | Opcode::Whisper
        | Opcode::FindNode
        | Opcode::FindValue
        | Opcode::Store
        | Opcode::Custom => Some(0),
        Opcode::Shout
        | Opcode::Speak
        | Opcode::Reserved10
        | Opcode::Reserved11
        | Opcode::Reserved12
        | Opcode::Reserved13
        | Opcode::Reserved14 => None,
    }
}

#[cfg(test)]
mod tests {

    use super::*;
    use crate::Message;

    const P: Profile = Profile::Ed25519;

    fn decode(opcode: Opcode, value: Value) -> Result<Payload, PayloadError> {
        let bytes = value.encode().unwrap();
        Payload::decode(opcode, &bytes, P, &ValueLimits::default())
    }

    #[test]
    fn ping_is_a_keepalive_only() {
        let ping = Payload::Ping(Ping { request_id: 1 });
        assert_eq!(decode(Opcode::Ping, ping.to_value()), Ok(ping));
        // The hello of earlier drafts is no longer a PING: two elements are
        // an arity error, answered MALFORMED.
        let old = Value::Array(vec![
            Value::from(1u8),
            Value::map([("version", Value::from(1u8))]),
        ]);
        assert!(matches!(
            decode(Opcode::Ping, old),
            Err(PayloadError::Arity { len: 2, .. })
        ));
        let ack = Payload::Ack(Ack {
            request_id: 1,
            result: AckResult::Ping,
        });
        assert_eq!(decode(Opcode::Ack, ack.to_value()), Ok(ack));
        let with_proof = Value::Array(vec![
            Value::from(2u8),
            Value::from(1u8),
            Value::bin(vec![0; 64]),
        ]);
        assert!(matches!(
            decode(Opcode::Ack, with_proof),
            Err(PayloadError::Arity { len: 3, .. })
        ));
    }

    #[test]
    fn schema_violations_name_their_field() {
        let cases: Vec<(Opcode, Value, PayloadError)> = vec![
            (
                Opcode::FindNode,
                Value::Array(vec![Value::from(1u8), Value::bin(vec![0; 31])]),
                PayloadError::Field {
                    opcode: Opcode::FindNode,
                    field: "target",
                    expected: "bin(32)",
                },
            ),
            (
                Opcode::FindNode,
                Value::Array(vec![Value::from(1u8)]),
                PayloadError::Arity {
                    opcode: Opcode::FindNode,
                    len: 1,
                    expected: "2",
                },
            ),
            (
                Opcode::Whisper,
                Value::Array(vec![Value::from(-1i8), Value::Nil]),
                PayloadError::Field {
                    opcode: Opcode::Whisper,
                    field: "request_id",
                    expected: "an unsigned integer",
                },
            ),
            (
                Opcode::Ack,
                Value::Array(vec![
                    Value::from(Opcode::Shout.value()),
                    Value::from(1u8),
                    Value::Nil,
                ]),
                PayloadError::Field {
                    opcode: Opcode::Ack,
                    field: "acked_opcode",
                    expected: "an acknowledgeable opcode",
                },
            ),
            (
                Opcode::Nack,
                Value::Array(vec![
                    Value::from(7u8),
                    Value::Nil,
                    Value::from(1u8),
                    Value::from("x".repeat(257)),
                ]),
                PayloadError::TooLong {
                    opcode: Opcode::Nack,
                    field: "reason",
                    len: 257,
                    max: MAX_NACK_REASON,
                },
            ),
            (
                Opcode::Store,
                Value::Array(vec![
                    Value::from(1u8),
                    Value::bin(vec![0; 32]),
                    Value::bin(vec![1]),
                    Value::bin(vec![0; MAX_DHT_VALUE]),
                ]),
                PayloadError::TooLong {
                    opcode: Opcode::Store,
                    field: "value",
                    len: MAX_DHT_VALUE + 5,
                    max: MAX_DHT_VALUE,
                },
            ),
            (
                Opcode::Custom,
                Value::Array(vec![Value::Nil, Value::from(""), Value::Nil]),
                PayloadError::Field {
                    opcode: Opcode::Custom,
                    field: "name",
                    expected: "a non-empty string",
                },
            ),
            (
                Opcode::Reserved12,
                Value::Nil,
                PayloadError::ReservedOpcode(Opcode::Reserved12),
            ),
        ];
        for (opcode, value, expected) in cases {
            assert_eq!(
                decode(opcode, value.clone()),
                Err(expected),
                "{opcode} {value:?}"
            );
        }
    }

    #[test]
    fn too_many_nodes_are_refused_on_both_sides() {
        let node = NodeInfo {
            key: Bytes::from(vec![1; 32]),
            listen: vec![],
            relays: vec![],
        };
        let ack = Payload::Ack(Ack {
            request_id: 3,
            result: AckResult::Nodes {
                acked: NodesFor::FindNode,
                nodes: vec![node; MAX_NODES_PER_REPLY + 1],
            },
        });
        let too_long = PayloadError::TooLong {
            opcode: Opcode::Ack,
            field: "nodes",
            len: MAX_NODES_PER_REPLY + 1,
            max: MAX_NODES_PER_REPLY,
        };
        assert_eq!(decode(Opcode::Ack, ack.to_value()), Err(too_long));
        assert_eq!(ack.encode(P), Err(EncodeError::Invalid(too_long)));
    }

    /// Decodes run on this thread, counted.
    fn decodes() -> usize {
        crate::value::DECODES.with(std::cell::Cell::get)
    }

    #[test]
    fn read_decodes_once_and_keeps_the_request_id() {
        let limits = ValueLimits::default();
        let cases: &[(Opcode, &[u8], Option<u64>, &str)] = &[
            // FIND_NODE [9, "x"]: the schema fails after the id.
            (
                Opcode::FindNode,
                &[0x92, 0x09, 0xa1, b'x'],
                Some(9),
                "Field",
            ),
            // ACK [7, 42, "x"]: FIND_NODE's nodes are not an array.
            (
                Opcode::Ack,
                &[0x93, 0x07, 0x2a, 0xa1, b'x'],
                Some(42),
                "Field",
            ),
            // NACK [2, 5, 1]: too short; the id is the second element.
            (Opcode::Nack, &[0x93, 0x02, 0x05, 0x01], Some(5), "Arity"),
            // CUSTOM [31, "echo", 0xc1]: the value breaks §7 after the id.
            (
                Opcode::Custom,
                &[0x93, 0x1f, 0xa4, b'e', b'c', b'h', b'o', 0xc1],
                Some(31),
                "ReservedMarker",
            ),
            // CUSTOM [nil, "", nil]: a one-way CUSTOM has no id.
            (Opcode::Custom, &[0x93, 0xc0, 0xa0, 0xc0], None, "Field"),
            // PING [-1]: not an unsigned integer, so no id.
            (Opcode::Ping, &[0x91, 0xff], None, "Field"),
            // The fault comes before the id could be read.
            (Opcode::Whisper, &[0x92, 0xc1, 0x01], None, "ReservedMarker"),
            (Opcode::Whisper, &[0x05], None, "Field"),
            // Broadcasts have no request id, only a nonce.
            (Opcode::Shout, &[0x91, 0x07], None, "Arity"),
        ];
        for &(opcode, content, request_id, error) in cases {
            let before = decodes();
            let refused = Payload::read(opcode, &Bytes::from_static(content), P, &limits)
                .expect_err("refused");
            assert_eq!(decodes() - before, 1, "{opcode} {content:02x?}");
            assert_eq!(refused.request_id, request_id, "{opcode} {content:02x?}");
            assert_eq!(refused.error.name(), error, "{opcode} {content:02x?}");
        }
        // A reserved opcode is refused without decoding anything.
        let before = decodes();
        let refused = Payload::read(
            Opcode::Reserved12,
            &Bytes::from_static(&[0x91, 1]),
            P,
            &limits,
        );
        assert_eq!(
            refused,
            Err(Refused {
                error: PayloadError::ReservedOpcode(Opcode::Reserved12),
                request_id: None
            })
        );
        assert_eq!(decodes(), before);
        // And a valid content reads as its payload, with one decode.
        let before = decodes();
        let ok = Payload::read(
            Opcode::Whisper,
            &Bytes::from_static(&[0x92, 0x03, 0xc0]),
            P,
            &limits,
        );
        assert_eq!(
            ok,
            Ok(Payload::Whisper(Whisper {
                request_id: 3,
                data: Value::Nil
            }))
        );
        assert_eq!(decodes() - before, 1);
    }

    #[test]
    fn encoding_checks_the_schema_without_decoding() {
        let node = NodeInfo {
            key: Bytes::from(vec![1; 32]),
            listen: vec!["[::1]:4000".parse().unwrap()],
            relays: vec![Bytes::from(vec![2; 32])],
        };
        let payloads = [
            Payload::Ping(Ping { request_id: 1 }),
            Payload::Ack(Ack {
                request_id: 2,
                result: AckResult::Nodes {
                    acked: NodesFor::FindNode,
                    nodes: vec![node; MAX_NODES_PER_REPLY],
                },
            }),
            Payload::Store(Store {
                request_id: 3,
                address: [0; 32],
                key: Bytes::from_static(b"k"),
                value: Value::map([("a", Value::from(1u8))]),
                version: Some(2),
                ttl: None,
            }),
        ];
        for payload in &payloads {
            let before = decodes();
            let bytes = payload.encode(P).unwrap();
            let key = Bytes::from(vec![1; 32]);
            let msg = Message::from_payload(P, key.clone(), key, payload).unwrap();
            assert_eq!(decodes(), before, "{payload:?} was decoded to check it");
            assert_eq!(msg.content, bytes);
            assert_eq!(
                Payload::decode(payload.opcode(), &bytes, P, &ValueLimits::DEFAULT).as_ref(),
                Ok(payload)
            );
        }
        // A value a receiver would refuse is still refused, naming where.
        let dup = Payload::Whisper(Whisper {
            request_id: 4,
            data: Value::Map(vec![("a".into(), Value::Nil), ("a".into(), Value::Nil)]),
        });
        assert_eq!(
            dup.encode(P),
            Err(EncodeError::Invalid(PayloadError::Value(
                crate::ValueError::DuplicateKey { offset: 6 }
            )))
        );
        let many = Payload::Whisper(Whisper {
            request_id: 5,
            data: Value::Array(vec![Value::Nil; ValueLimits::DEFAULT.max_values]),
        });
        assert!(
            matches!(
                many.encode(P),
                Err(EncodeError::Invalid(PayloadError::Value(
                    crate::ValueError::TooManyValues { .. }
                )))
            ),
            "{:?}",
            many.encode(P)
        );
    }

    /// STORE [1, address, "k", value] with `value` encoded as given.
    fn store_with_encoded_value(value: &[u8]) -> Bytes {
        let mut content = vec![0x94, 0x01, 0xc4, 32];
        content.extend_from_slice(&[0; 32]);
        content.extend_from_slice(&[0xc4, 1, b'k']);
        content.extend_from_slice(value);
        Bytes::from(content)
    }

    /// A binary of `len` bytes with a 32-bit length (5-byte header), the
    /// longest header there is, whatever `len` is.
    fn bin32(len: usize) -> Vec<u8> {
        let mut out = vec![0xc6];
        out.extend_from_slice(&u32::try_from(len).unwrap().to_be_bytes());
        out.resize(5 + len, 0xab);
        out
    }

    #[test]
    fn the_dht_value_limit_is_on_the_encoding_as_received() {
        let limits = ValueLimits::default();
        let read = |value: &[u8]| {
            Payload::decode(Opcode::Store, &store_with_encoded_value(value), P, &limits)
        };
        let too_long = |len| {
            Err(PayloadError::TooLong {
                opcode: Opcode::Store,
                field: "value",
                len,
                max: MAX_DHT_VALUE,
            })
        };
        // Exactly 65,536 bytes as received: accepted.
        assert!(read(&bin32(MAX_DHT_VALUE - 5)).is_ok());
        // 65,537 as received, though the shortest encoding (a 3-byte header)
        // would be 65,535: refused, on what was received.
        assert_eq!(read(&bin32(MAX_DHT_VALUE - 4)), too_long(MAX_DHT_VALUE + 1));
        // The same boundary in the shortest form a sender uses.
        let shortest = |len: usize| Value::bin(vec![0; len]).encode().unwrap();
        assert!(read(&shortest(MAX_DHT_VALUE - 3)).is_ok());
        assert_eq!(
            read(&shortest(MAX_DHT_VALUE - 2)),
            too_long(MAX_DHT_VALUE + 1)
        );
        // Float 32 is measured at its 5 received bytes, not the 9 of float 64.
        let mut floats = vec![0xdc];
        floats.extend_from_slice(&13_000u16.to_be_bytes());
        for _ in 0..13_000 {
            floats.extend_from_slice(&[0xca, 0x3f, 0xc0, 0, 0]);
        }
        assert_eq!(floats.len(), 65_003);
        assert!(read(&floats).is_ok());
        // ACK FIND_VALUE measures its value the same way.
        let mut ack = vec![0x95, 0x08, 0x01, 0xc4, 1, b'k'];
        ack.extend_from_slice(&bin32(MAX_DHT_VALUE - 4));
        let metadata = Metadata {
            version: 1,
            ttl: 2,
            stored_at: 3,
            publisher: Bytes::from(vec![1; 32]),
            lock: None,
        };
        ack.extend_from_slice(&metadata.to_value().encode().unwrap());
        assert_eq!(
            Payload::decode(Opcode::Ack, &Bytes::from(ack), P, &limits),
            Err(PayloadError::TooLong {
                opcode: Opcode::Ack,
                field: "value",
                len: MAX_DHT_VALUE + 1,
                max: MAX_DHT_VALUE,
            })
        );
    }

    #[test]
    fn nack_codes_keep_unknown_values() {
        for n in 0..40 {
            assert_eq!(NackCode::from_u64(n).code(), n);
        }
        assert_eq!(NackCode::from_u64(8), NackCode::NotAuthenticated);
        assert_eq!(NackCode::from_u64(99), NackCode::Other(99));
    }
}

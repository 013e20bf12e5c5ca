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

pub use self::records::{Hello, Lock, Metadata, NodeInfo};
pub use self::reply::{Ack, AckResult, Nack, NackCode, NodesFor};
pub use self::request::{
    Broadcast, Custom, FindNode, FindValue, Ping, SetConnectionOpt, Store, Whisper,
};
use crate::{EncodeError, Opcode, PayloadError, Profile, Value, ValueLimits};

/// The protocol version this crate speaks (docs/PROTOCOL.md §8.1).
pub const PROTOCOL_VERSION: u64 = 1;
/// Length of a handshake nonce.
pub const NONCE_LEN: usize = 32;
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
        if opcode.is_reserved() {
            return Err(PayloadError::ReservedOpcode(opcode));
        }
        Self::from_value(opcode, Value::decode(content, limits)?, profile)
    }

    /// Reads `value` as the payload of `opcode`, checking its schema.
    pub fn from_value(
        opcode: Opcode,
        value: Value,
        profile: Profile,
    ) -> Result<Self, PayloadError> {
        Ok(match opcode {
            Opcode::Ack => Self::Ack(Ack::from_value(value, profile)?),
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
            Opcode::Store => Self::Store(Store::from_value(value)?),
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
    pub fn encode(&self, profile: Profile) -> Result<Bytes, EncodeError> {
        let bytes = self.to_value().encode()?;
        Self::decode(self.opcode(), &bytes, profile, &ValueLimits::DEFAULT)
            .map_err(EncodeError::Invalid)?;
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use shoutnet_compress::MethodSet;

    use super::*;

    const P: Profile = Profile::Ed25519;

    fn decode(opcode: Opcode, value: Value) -> Result<Payload, PayloadError> {
        let bytes = value.encode().unwrap();
        Payload::decode(opcode, &bytes, P, &ValueLimits::default())
    }

    fn hello() -> Hello {
        Hello {
            version: PROTOCOL_VERSION,
            profile: "ed25519".into(),
            nonce: [7; NONCE_LEN],
            listen: vec![
                "127.0.0.1:4000".parse().unwrap(),
                "[::1]:4000".parse().unwrap(),
            ],
            compression: MethodSet::all(),
            preferred: shoutnet_compress::Method::Zlib,
        }
    }

    #[test]
    fn hello_round_trips_and_its_map_must_be_exact() {
        let ping = Payload::Ping(Ping {
            request_id: 1,
            hello: Some(hello()),
        });
        assert_eq!(decode(Opcode::Ping, ping.to_value()), Ok(ping.clone()));

        let Value::Array(mut items) = ping.to_value() else {
            unreachable!()
        };
        let Some(Value::Map(entries)) = items.get_mut(1) else {
            unreachable!()
        };
        entries.push(("extra".into(), Value::Nil));
        let extra = decode(Opcode::Ping, Value::Array(items.clone()));
        assert!(
            matches!(extra, Err(PayloadError::Field { field: "hello", .. })),
            "{extra:?}"
        );

        let Some(Value::Map(entries)) = items.get_mut(1) else {
            unreachable!()
        };
        entries.retain(|(k, _)| k != "extra" && k != "nonce");
        let missing = decode(Opcode::Ping, Value::Array(items));
        assert!(
            matches!(missing, Err(PayloadError::Field { field: "hello", .. })),
            "{missing:?}"
        );
    }

    #[test]
    fn hello_compression_must_include_none_and_known_ids() {
        for ids in [vec![4u8], vec![0, 6]] {
            let mut h = hello().to_value();
            let Value::Map(entries) = &mut h else {
                unreachable!()
            };
            for (k, v) in entries.iter_mut() {
                if k == "compression" {
                    *v = Value::Array(ids.iter().map(|i| Value::from(*i)).collect());
                }
            }
            let err = decode(Opcode::Ping, Value::Array(vec![Value::from(1u8), h]));
            assert!(
                matches!(
                    err,
                    Err(PayloadError::Field {
                        field: "hello.compression",
                        ..
                    })
                ),
                "{ids:?}: {err:?}"
            );
        }
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

    #[test]
    fn nack_codes_keep_unknown_values() {
        for n in 0..40 {
            assert_eq!(NackCode::from_u64(n).code(), n);
        }
        assert_eq!(NackCode::from_u64(8), NackCode::NotAuthenticated);
        assert_eq!(NackCode::from_u64(99), NackCode::Other(99));
    }
}

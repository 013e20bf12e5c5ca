//! `ACK` and `NACK` payloads (docs/PROTOCOL.md §8.2, §8.3, §10).

use bytes::Bytes;

use super::records::{Metadata, NodeInfo};
use super::schema::{self, Fields};
use super::{MAX_DHT_KEY, MAX_NACK_REASON, MAX_NODES_PER_REPLY};
use crate::value::Head;
use crate::{Opcode, PayloadError, Profile, Value};

/// `ACK [acked_opcode, request_id, ...result]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ack {
    /// The id of the request this answers.
    pub request_id: u64,
    /// What the request produced; it also names the acked opcode.
    pub result: AckResult,
}

/// The result part of an `ACK`, one variant per acknowledgeable request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AckResult {
    /// `PING`, a keepalive: no result.
    Ping,
    /// `SET_CONNECTION_OPT`, echoing the request.
    SetConnectionOpt {
        /// The option that was set.
        option: u64,
        /// The setting it was set to.
        setting: u64,
    },
    /// `WHISPER`: SHA-256 of the body as received.
    Whisper {
        /// The digest.
        digest: [u8; 32],
    },
    /// `FIND_NODE`, or `FIND_VALUE` for an unknown value: the closest nodes.
    Nodes {
        /// `FIND_NODE` or `FIND_VALUE`.
        acked: NodesFor,
        /// At most 20 nodes.
        nodes: Vec<NodeInfo>,
    },
    /// `FIND_VALUE` for a known value.
    Value {
        /// The DHT key (an owned copy when decoded).
        key: Bytes,
        /// The value. Decoded binaries in it are zero-copy slices of the
        /// message: keeping them keeps the decompressed body alive.
        value: Value,
        /// Its metadata.
        metadata: Metadata,
    },
    /// `STORE`.
    Stored {
        /// The DHT key (an owned copy when decoded).
        key: Bytes,
        /// The stored value's metadata.
        metadata: Metadata,
    },
    /// `CUSTOM`: the handler's answer.
    Custom {
        /// The answer. Decoded binaries in it are zero-copy slices of the
        /// message.
        data: Value,
    },
}

/// Which request a list of nodes answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodesFor {
    /// `FIND_NODE`.
    FindNode,
    /// `FIND_VALUE` for a value the node does not hold.
    FindValue,
}

impl AckResult {
    /// The opcode of the request this result answers.
    pub fn acked_opcode(&self) -> Opcode {
        match self {
            Self::Ping => Opcode::Ping,
            Self::SetConnectionOpt { .. } => Opcode::SetConnectionOpt,
            Self::Whisper { .. } => Opcode::Whisper,
            Self::Nodes {
                acked: NodesFor::FindNode,
                ..
            } => Opcode::FindNode,
            Self::Nodes {
                acked: NodesFor::FindValue,
                ..
            }
            | Self::Value { .. } => Opcode::FindValue,
            Self::Stored { .. } => Opcode::Store,
            Self::Custom { .. } => Opcode::Custom,
        }
    }
}

impl Ack {
    /// `head` is what the decoder noted about the content as received; a
    /// found DHT value's received length is element 3's.
    pub(crate) fn from_value(
        value: Value,
        profile: Profile,
        head: Option<&Head>,
    ) -> Result<Self, PayloadError> {
        let mut f = Fields::new(Opcode::Ack, value, 2..=5, "2 to 5")?;
        let acked = acked_opcode(&mut f)?;
        let request_id = f.uint("request_id")?;
        let arity = |f: &Fields, n: usize, expected: &'static str| {
            if f.remaining() == n {
                Ok(())
            } else {
                Err(PayloadError::Arity {
                    opcode: Opcode::Ack,
                    len: 2 + f.remaining(),
                    expected,
                })
            }
        };
        let result = match acked {
            Opcode::Ping => {
                arity(&f, 0, "2 for PING")?;
                AckResult::Ping
            }
            Opcode::SetConnectionOpt => {
                arity(&f, 2, "4 for SET_CONNECTION_OPT")?;
                AckResult::SetConnectionOpt {
                    option: f.uint("option")?,
                    setting: f.uint("setting")?,
                }
            }
            Opcode::Whisper => {
                arity(&f, 1, "3 for WHISPER")?;
                AckResult::Whisper {
                    digest: f.bin32("digest")?,
                }
            }
            Opcode::FindNode => {
                arity(&f, 1, "3 for FIND_NODE")?;
                AckResult::Nodes {
                    acked: NodesFor::FindNode,
                    nodes: nodes(&mut f, profile)?,
                }
            }
            Opcode::FindValue if f.remaining() == 1 => AckResult::Nodes {
                acked: NodesFor::FindValue,
                nodes: nodes(&mut f, profile)?,
            },
            Opcode::FindValue => {
                arity(&f, 3, "3 or 5 for FIND_VALUE")?;
                let key = schema::owned(&f.bin("key", MAX_DHT_KEY)?);
                let value = f.any("value")?;
                schema::dht_value(Opcode::Ack, &value, head, 3)?;
                let metadata = Metadata::from_value(Opcode::Ack, f.any("metadata")?, profile)?;
                AckResult::Value {
                    key,
                    value,
                    metadata,
                }
            }
            Opcode::Store => {
                arity(&f, 2, "4 for STORE")?;
                let key = schema::owned(&f.bin("key", MAX_DHT_KEY)?);
                let metadata = Metadata::from_value(Opcode::Ack, f.any("metadata")?, profile)?;
                AckResult::Stored { key, metadata }
            }
            Opcode::Custom => {
                arity(&f, 1, "3 for CUSTOM")?;
                AckResult::Custom {
                    data: f.any("data")?,
                }
            }
            _ => return Err(f.field("acked_opcode", "an acknowledgeable opcode")),
        };
        Ok(Self { request_id, result })
    }

    pub(crate) fn to_value(&self) -> Value {
        let mut items = vec![
            Value::from(self.result.acked_opcode().value()),
            Value::from(self.request_id),
        ];
        match &self.result {
            AckResult::Ping => {}
            AckResult::SetConnectionOpt { option, setting } => {
                items.extend([Value::from(*option), Value::from(*setting)]);
            }
            AckResult::Whisper { digest } => items.push(Value::bin(digest.to_vec())),
            AckResult::Nodes { nodes, .. } => items.push(nodes_value(nodes)),
            AckResult::Value {
                key,
                value,
                metadata,
            } => {
                items.extend([Value::Bin(key.clone()), value.clone(), metadata.to_value()]);
            }
            AckResult::Stored { key, metadata } => {
                items.extend([Value::Bin(key.clone()), metadata.to_value()]);
            }
            AckResult::Custom { data } => items.push(data.clone()),
        }
        Value::Array(items)
    }
}

fn acked_opcode(f: &mut Fields) -> Result<Opcode, PayloadError> {
    let n = f.uint("acked_opcode")?;
    Opcode::from_u64(n).ok_or(f.field("acked_opcode", "an opcode 0-15"))
}

fn nodes(f: &mut Fields, profile: Profile) -> Result<Vec<NodeInfo>, PayloadError> {
    let opcode = f.opcode();
    f.array("nodes", MAX_NODES_PER_REPLY)?
        .into_iter()
        .map(|n| NodeInfo::from_value(opcode, n, profile))
        .collect()
}

fn nodes_value(nodes: &[NodeInfo]) -> Value {
    Value::Array(nodes.iter().map(NodeInfo::to_value).collect())
}

/// Why a request failed (docs/PROTOCOL.md §10). Unknown codes are kept as
/// [`NackCode::Other`] and mean `UNSPECIFIED`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[allow(missing_docs)] // The variants are the spec's names; §10 explains each.
pub enum NackCode {
    Unspecified,
    Malformed,
    UnsupportedOpcode,
    UnsupportedOption,
    TooLarge,
    Undeliverable,
    Locked,
    Conflict,
    NotAuthenticated,
    BadSignature,
    DecryptFailed,
    RateLimited,
    VersionMismatch,
    NotFound,
    Internal,
    /// A code this version does not know.
    Other(u64),
}

impl NackCode {
    const KNOWN: [Self; 15] = [
        Self::Unspecified,
        Self::Malformed,
        Self::UnsupportedOpcode,
        Self::UnsupportedOption,
        Self::TooLarge,
        Self::Undeliverable,
        Self::Locked,
        Self::Conflict,
        Self::NotAuthenticated,
        Self::BadSignature,
        Self::DecryptFailed,
        Self::RateLimited,
        Self::VersionMismatch,
        Self::NotFound,
        Self::Internal,
    ];

    /// The code of a number on the wire.
    pub fn from_u64(n: u64) -> Self {
        usize::try_from(n)
            .ok()
            .and_then(|i| Self::KNOWN.get(i).copied())
            .unwrap_or(Self::Other(n))
    }

    /// The number on the wire.
    pub fn code(self) -> u64 {
        match self {
            Self::Other(n) => n,
            known => Self::KNOWN
                .iter()
                .position(|k| *k == known)
                .map_or(0, |i| i as u64),
        }
    }
}

/// `NACK [acked_opcode, request_id | nil, code, reason, detail?]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Nack {
    /// The opcode of the message that failed (any opcode, reserved ones
    /// included).
    pub acked: Opcode,
    /// Its request id, when it had one that could be read.
    pub request_id: Option<u64>,
    /// Why it failed.
    pub code: NackCode,
    /// A human-readable reason, at most 256 bytes.
    pub reason: String,
    /// Code-specific detail (docs/PROTOCOL.md §8.3). Decoded binaries in it
    /// are zero-copy slices of the message.
    pub detail: Option<Value>,
}

impl Nack {
    pub(crate) fn from_value(value: Value) -> Result<Self, PayloadError> {
        let mut f = Fields::new(Opcode::Nack, value, 4..=5, "4 or 5")?;
        Ok(Self {
            acked: acked_opcode(&mut f)?,
            request_id: f.uint_or_nil("request_id")?,
            code: NackCode::from_u64(f.uint("code")?),
            reason: f.str("reason", MAX_NACK_REASON)?,
            detail: match f.remaining() {
                0 => None,
                _ => Some(f.any("detail")?),
            },
        })
    }

    pub(crate) fn to_value(&self) -> Value {
        let mut items = vec![
            Value::from(self.acked.value()),
            Value::from(self.request_id),
            Value::from(self.code.code()),
            Value::from(self.reason.as_str()),
        ];
        items.extend(self.detail.clone());
        Value::Array(items)
    }
}

//! Request and broadcast payloads: `PING`, `SET_CONNECTION_OPT`, `SHOUT`,
//! `SPEAK`, `WHISPER`, `FIND_NODE`, `FIND_VALUE`, `STORE`, `CUSTOM`
//! (docs/PROTOCOL.md §8.1, §8.4–§8.8).

use bytes::Bytes;

use super::schema::{self, Fields};
use super::{MAX_CUSTOM_NAME, MAX_DHT_KEY};
use crate::value::Head;
use crate::{Opcode, PayloadError, Value};

/// `PING [request_id]`: a keepalive (docs/PROTOCOL.md §8.1). Connections
/// open with the secure channel's handshake (§9.1), not with a `PING`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ping {
    /// The request id.
    pub request_id: u64,
}

impl Ping {
    pub(crate) fn from_value(value: Value) -> Result<Self, PayloadError> {
        let mut f = Fields::new(Opcode::Ping, value, 1..=1, "1")?;
        Ok(Self {
            request_id: f.uint("request_id")?,
        })
    }

    pub(crate) fn to_value(self) -> Value {
        Value::Array(vec![Value::from(self.request_id)])
    }
}

/// `SET_CONNECTION_OPT [request_id, option, setting]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SetConnectionOpt {
    /// The request id.
    pub request_id: u64,
    /// 0 = compression the sender will use, 1 = preferred compression,
    /// 2 = kept.
    pub option: u64,
    /// A compression id (options 0, 1), or 0/1 (option 2).
    pub setting: u64,
}

impl SetConnectionOpt {
    /// Option 0: the compression method the sender will use.
    pub const COMPRESSION: u64 = 0;
    /// Option 1: the compression method the sender prefers to receive.
    pub const PREFERRED_COMPRESSION: u64 = 1;
    /// Option 2: whether the sender keeps this connection as one of its ℓ
    /// kept connections (setting 1) or not (setting 0); `SHOUT`s travel only
    /// over connections one side keeps (docs/PROTOCOL.md §9.7).
    pub const KEPT: u64 = 2;
    /// Option 3: the sender, which listens nowhere, asks the receiver to
    /// relay `WHISPER`s to it (setting 1) or to stop (0)
    /// (docs/PROTOCOL.md §9.10).
    pub const RELAY: u64 = 3;

    pub(crate) fn from_value(value: Value) -> Result<Self, PayloadError> {
        let mut f = Fields::new(Opcode::SetConnectionOpt, value, 3..=3, "3")?;
        Ok(Self {
            request_id: f.uint("request_id")?,
            option: f.uint("option")?,
            setting: f.uint("setting")?,
        })
    }

    pub(crate) fn to_value(self) -> Value {
        Value::Array(vec![
            Value::from(self.request_id),
            Value::from(self.option),
            Value::from(self.setting),
        ])
    }
}

/// `SHOUT` / `SPEAK [nonce, data]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Broadcast {
    /// Makes identical broadcasts from one origin distinct.
    pub nonce: u64,
    /// The application's data. Decoded binaries in it are zero-copy slices
    /// of the message: keeping them keeps the decompressed body alive.
    pub data: Value,
}

impl Broadcast {
    pub(crate) fn from_value(opcode: Opcode, value: Value) -> Result<Self, PayloadError> {
        let mut f = Fields::new(opcode, value, 2..=2, "2")?;
        Ok(Self {
            nonce: f.uint("nonce")?,
            data: f.any("data")?,
        })
    }

    pub(crate) fn to_value(&self) -> Value {
        Value::Array(vec![Value::from(self.nonce), self.data.clone()])
    }
}

/// `WHISPER [request_id, data]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Whisper {
    /// The request id.
    pub request_id: u64,
    /// The application's data. Decoded binaries in it are zero-copy slices
    /// of the message: keeping them keeps the decompressed body alive.
    pub data: Value,
}

impl Whisper {
    pub(crate) fn from_value(value: Value) -> Result<Self, PayloadError> {
        let mut f = Fields::new(Opcode::Whisper, value, 2..=2, "2")?;
        Ok(Self {
            request_id: f.uint("request_id")?,
            data: f.any("data")?,
        })
    }

    pub(crate) fn to_value(&self) -> Value {
        Value::Array(vec![Value::from(self.request_id), self.data.clone()])
    }
}

/// `FIND_NODE [request_id, target]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FindNode {
    /// The request id.
    pub request_id: u64,
    /// A routing or DHT key address.
    pub target: [u8; 32],
}

impl FindNode {
    pub(crate) fn from_value(value: Value) -> Result<Self, PayloadError> {
        let mut f = Fields::new(Opcode::FindNode, value, 2..=2, "2")?;
        Ok(Self {
            request_id: f.uint("request_id")?,
            target: f.bin32("target")?,
        })
    }

    pub(crate) fn to_value(self) -> Value {
        Value::Array(vec![
            Value::from(self.request_id),
            Value::bin(self.target.to_vec()),
        ])
    }
}

/// `FIND_VALUE [request_id, address, key]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FindValue {
    /// The request id.
    pub request_id: u64,
    /// SHA-256 of `key` (checked by the DHT, which owns hashing).
    pub address: [u8; 32],
    /// The DHT key, at most 1,024 bytes (an owned copy when decoded).
    pub key: Bytes,
}

impl FindValue {
    pub(crate) fn from_value(value: Value) -> Result<Self, PayloadError> {
        let mut f = Fields::new(Opcode::FindValue, value, 3..=3, "3")?;
        Ok(Self {
            request_id: f.uint("request_id")?,
            address: f.bin32("address")?,
            key: schema::owned(&f.bin("key", MAX_DHT_KEY)?),
        })
    }

    pub(crate) fn to_value(&self) -> Value {
        Value::Array(vec![
            Value::from(self.request_id),
            Value::bin(self.address.to_vec()),
            Value::Bin(self.key.clone()),
        ])
    }
}

/// `STORE [request_id, address, key, value, version?, ttl?]`
/// (docs/PROTOCOL.md §8.7).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Store {
    /// The request id.
    pub request_id: u64,
    /// SHA-256 of `key`.
    pub address: [u8; 32],
    /// The DHT key, at most 1,024 bytes (an owned copy when decoded).
    pub key: Bytes,
    /// The value, at most 65,536 bytes encoded (docs/PROTOCOL.md §8.7).
    /// Decoded binaries in it are zero-copy slices of the message: a store
    /// that keeps them keeps the decompressed body alive, so a DHT that
    /// stores values long-term should copy them.
    pub value: Value,
    /// The record's version; absent means 0. A receiver never replaces a
    /// record of a higher version with it.
    pub version: Option<u64>,
    /// Seconds the record should live; absent means the receiver's
    /// maximum. Only sent after a version (trailing elements), so a `ttl`
    /// without a `version` is encoded with version 0.
    pub ttl: Option<u64>,
}

impl Store {
    /// `head` is what the decoder noted about the content as received; the
    /// value's received length is element 3's.
    pub(crate) fn from_value(value: Value, head: Option<&Head>) -> Result<Self, PayloadError> {
        let mut f = Fields::new(Opcode::Store, value, 4..=6, "4 to 6")?;
        let request_id = f.uint("request_id")?;
        let address = f.bin32("address")?;
        let key = schema::owned(&f.bin("key", MAX_DHT_KEY)?);
        let value = f.any("value")?;
        schema::dht_value(Opcode::Store, &value, head, 3)?;
        let version = if f.remaining() > 0 {
            Some(f.uint("version")?)
        } else {
            None
        };
        let ttl = if f.remaining() > 0 {
            Some(f.uint("ttl")?)
        } else {
            None
        };
        Ok(Self {
            request_id,
            address,
            key,
            value,
            version,
            ttl,
        })
    }

    pub(crate) fn to_value(&self) -> Value {
        let mut items = vec![
            Value::from(self.request_id),
            Value::bin(self.address.to_vec()),
            Value::Bin(self.key.clone()),
            self.value.clone(),
        ];
        if self.version.is_some() || self.ttl.is_some() {
            items.push(Value::from(self.version.unwrap_or(0)));
        }
        if let Some(ttl) = self.ttl {
            items.push(Value::from(ttl));
        }
        Value::Array(items)
    }
}

/// `CUSTOM [request_id | nil, name, data]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Custom {
    /// With an id the receiver answers; with `None` it does not.
    pub request_id: Option<u64>,
    /// The application handler's name, 1 to 64 bytes.
    pub name: String,
    /// The application's data. Decoded binaries in it are zero-copy slices
    /// of the message: keeping them keeps the decompressed body alive.
    pub data: Value,
}

impl Custom {
    pub(crate) fn from_value(value: Value) -> Result<Self, PayloadError> {
        let mut f = Fields::new(Opcode::Custom, value, 3..=3, "3")?;
        let request_id = f.uint_or_nil("request_id")?;
        let name = f.str("name", MAX_CUSTOM_NAME)?;
        if name.is_empty() {
            return Err(f.field("name", "a non-empty string"));
        }
        Ok(Self {
            request_id,
            name,
            data: f.any("data")?,
        })
    }

    pub(crate) fn to_value(&self) -> Value {
        Value::Array(vec![
            Value::from(self.request_id),
            Value::from(self.name.as_str()),
            self.data.clone(),
        ])
    }
}

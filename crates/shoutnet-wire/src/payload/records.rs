//! Records shared by several payloads: node infos, DHT metadata and the
//! handshake hello (docs/PROTOCOL.md §8 and §8.1).

use std::net::SocketAddr;

use bytes::Bytes;
use shoutnet_compress::{Method, MethodSet};

use super::schema::{self, Entries, Fields};
use super::{MAX_COMPRESSION_IDS, MAX_LISTEN_ADDRS, MAX_RELAYS, NONCE_LEN};
use crate::{Opcode, PayloadError, Profile, Value};

/// How to reach a node: `[key, listen, relays]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeInfo {
    /// The node's key field.
    pub key: Bytes,
    /// Addresses it accepts connections on (at most 8).
    pub listen: Vec<SocketAddr>,
    /// For a node that only dials out: key fields of up to 3 listening peers
    /// that relay to it.
    pub relays: Vec<Bytes>,
}

impl NodeInfo {
    pub(crate) fn from_value(
        opcode: Opcode,
        value: Value,
        profile: Profile,
    ) -> Result<Self, PayloadError> {
        let mut f = Fields::new(opcode, value, 3..=3, "3 (node_info)")?;
        let key = f.bin_exact("node_info.key", profile.key_len(), "bin(K)")?;
        let listen = addresses(opcode, "node_info.listen", f.any("node_info.listen")?)?;
        let relays = schema::array(
            opcode,
            "node_info.relays",
            f.any("node_info.relays")?,
            MAX_RELAYS,
        )?
        .into_iter()
        .map(|r| {
            schema::bin_exact(
                opcode,
                "node_info.relays",
                r,
                profile.key_len(),
                "an array of bin(K)",
            )
        })
        .collect::<Result<_, _>>()?;
        Ok(Self {
            key,
            listen,
            relays,
        })
    }

    /// The value form of docs/PROTOCOL.md §8.
    pub fn to_value(&self) -> Value {
        Value::Array(vec![
            Value::Bin(self.key.clone()),
            addresses_value(&self.listen),
            Value::Array(self.relays.iter().cloned().map(Value::Bin).collect()),
        ])
    }
}

/// A DHT lock: who holds it and until when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lock {
    /// Key field of the holder.
    pub holder: Bytes,
    /// Unix time in seconds when the lease ends.
    pub expires: u64,
}

/// What a node knows about a stored DHT value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Metadata {
    /// Version, incremented by every change.
    pub version: u64,
    /// Time to live in seconds.
    pub ttl: u64,
    /// Unix time in seconds when it was stored.
    pub stored_at: u64,
    /// Key field of the publisher.
    pub publisher: Bytes,
    /// The lock, if one is held.
    pub lock: Option<Lock>,
}

const METADATA_KEYS: &str = "a map with exactly version, ttl, stored_at, publisher, lock";
const LOCK_KEYS: &str = "nil or a map with exactly holder, expires";

impl Metadata {
    pub(crate) fn from_value(
        opcode: Opcode,
        value: Value,
        profile: Profile,
    ) -> Result<Self, PayloadError> {
        let mut m = Entries::new(opcode, "metadata", METADATA_KEYS, value)?;
        let version = schema::uint(opcode, "metadata.version", &m.take("version")?)?;
        let ttl = schema::uint(opcode, "metadata.ttl", &m.take("ttl")?)?;
        let stored_at = schema::uint(opcode, "metadata.stored_at", &m.take("stored_at")?)?;
        let publisher = schema::bin_exact(
            opcode,
            "metadata.publisher",
            m.take("publisher")?,
            profile.key_len(),
            "bin(K)",
        )?;
        let lock = match m.take("lock")? {
            Value::Nil => None,
            lock => {
                let mut l = Entries::new(opcode, "metadata.lock", LOCK_KEYS, lock)?;
                let holder = schema::bin_exact(
                    opcode,
                    "metadata.lock.holder",
                    l.take("holder")?,
                    profile.key_len(),
                    "bin(K)",
                )?;
                let expires = schema::uint(opcode, "metadata.lock.expires", &l.take("expires")?)?;
                l.finish()?;
                Some(Lock { holder, expires })
            }
        };
        m.finish()?;
        Ok(Self {
            version,
            ttl,
            stored_at,
            publisher,
            lock,
        })
    }

    /// The value form of docs/PROTOCOL.md §8.
    pub fn to_value(&self) -> Value {
        let lock = self.lock.as_ref().map(|l| {
            Value::map([
                ("holder", Value::Bin(l.holder.clone())),
                ("expires", Value::from(l.expires)),
            ])
        });
        Value::map([
            ("version", Value::from(self.version)),
            ("ttl", Value::from(self.ttl)),
            ("stored_at", Value::from(self.stored_at)),
            ("publisher", Value::Bin(self.publisher.clone())),
            ("lock", Value::from(lock)),
        ])
    }
}

/// The handshake fields of a connection-opening `PING` (docs/PROTOCOL.md
/// §8.1, §9.1).
///
/// `version` and `profile` are kept as sent so that the engine can answer a
/// mismatch with `NACK VERSION_MISMATCH` rather than `MALFORMED`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hello {
    /// Protocol version ([`PROTOCOL_VERSION`](super::PROTOCOL_VERSION) here).
    pub version: u64,
    /// The sender's key profile name.
    pub profile: String,
    /// Fresh random bytes the peer must sign.
    pub nonce: [u8; NONCE_LEN],
    /// Addresses the sender accepts connections on (none for dial-out-only
    /// nodes).
    pub listen: Vec<SocketAddr>,
    /// Compression methods the sender can decode (always includes `none`).
    pub compression: MethodSet,
    /// The method the sender would like to receive.
    pub preferred: Method,
}

const HELLO_KEYS: &str =
    "a map with exactly version, profile, nonce, listen, compression, preferred";

impl Hello {
    /// The sender's profile, if it is one this crate knows.
    pub fn profile(&self) -> Option<Profile> {
        self.profile.parse().ok()
    }

    pub(crate) fn from_value(value: Value) -> Result<Self, PayloadError> {
        let op = Opcode::Ping;
        let mut m = Entries::new(op, "hello", HELLO_KEYS, value)?;
        let version = schema::uint(op, "hello.version", &m.take("version")?)?;
        let profile = schema::string(op, "hello.profile", m.take("profile")?, 32)?;
        let nonce = schema::bin_exact(op, "hello.nonce", m.take("nonce")?, NONCE_LEN, "bin(32)")?;
        let nonce = <[u8; NONCE_LEN]>::try_from(&nonce[..]).map_err(|_| PayloadError::Field {
            opcode: op,
            field: "hello.nonce",
            expected: "bin(32)",
        })?;
        let listen = addresses(op, "hello.listen", m.take("listen")?)?;
        let ids = schema::array(
            op,
            "hello.compression",
            m.take("compression")?,
            MAX_COMPRESSION_IDS,
        )?;
        let compression = methods(op, &ids)?;
        let preferred = method(op, "hello.preferred", &m.take("preferred")?)?;
        m.finish()?;
        Ok(Self {
            version,
            profile,
            nonce,
            listen,
            compression,
            preferred,
        })
    }

    /// The value form of docs/PROTOCOL.md §8.
    pub fn to_value(&self) -> Value {
        let ids = self
            .compression
            .with(Method::None)
            .iter()
            .map(|m| Value::from(m.id()));
        Value::map([
            ("version", Value::from(self.version)),
            ("profile", Value::from(self.profile.as_str())),
            ("nonce", Value::bin(self.nonce.to_vec())),
            ("listen", addresses_value(&self.listen)),
            ("compression", Value::Array(ids.collect())),
            ("preferred", Value::from(self.preferred.id())),
        ])
    }
}

fn method(opcode: Opcode, field: &'static str, v: &Value) -> Result<Method, PayloadError> {
    v.as_u64()
        .and_then(|id| u8::try_from(id).ok())
        .and_then(|id| Method::from_id(id).ok())
        .ok_or(PayloadError::Field {
            opcode,
            field,
            expected: "a compression id 0-5",
        })
}

fn methods(opcode: Opcode, ids: &[Value]) -> Result<MethodSet, PayloadError> {
    let mut set = MethodSet::empty();
    for id in ids {
        set.insert(method(opcode, "hello.compression", id)?);
    }
    if !set.contains(Method::None) {
        return Err(PayloadError::Field {
            opcode,
            field: "hello.compression",
            expected: "a list of compression ids including 0",
        });
    }
    Ok(set)
}

fn addresses(
    opcode: Opcode,
    field: &'static str,
    v: Value,
) -> Result<Vec<SocketAddr>, PayloadError> {
    schema::array(opcode, field, v, MAX_LISTEN_ADDRS)?
        .iter()
        .map(|a| {
            a.as_str()
                .and_then(|s| s.parse().ok())
                .ok_or(PayloadError::Field {
                    opcode,
                    field,
                    expected: "an array of \"ip:port\" strings",
                })
        })
        .collect()
}

/// The text forms of `addrs`. IPv6 flow labels and zone ids mean nothing
/// beyond the local link, so the text form (docs/PROTOCOL.md §8) drops them.
fn addresses_value(addrs: &[SocketAddr]) -> Value {
    Value::Array(
        addrs
            .iter()
            .map(|a| Value::from(SocketAddr::new(a.ip(), a.port()).to_string()))
            .collect(),
    )
}

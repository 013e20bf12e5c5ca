//! Records shared by several payloads: node infos and DHT metadata
//! (docs/PROTOCOL.md §8).

use std::net::SocketAddr;

use bytes::Bytes;

use super::schema::{self, Entries, Fields};
use super::{MAX_LISTEN_ADDRS, MAX_RELAYS};
use crate::{Opcode, PayloadError, Profile, Value};

/// How to reach a node: `[key, listen, relays]`.
///
/// Decoded node infos own their bytes: `key` and `relays` are copies, not
/// slices of the message, so a routing table or lookup that keeps them
/// does not keep the (up to 64 MiB) decompressed body alive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeInfo {
    /// The node's key field (an owned copy when decoded).
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
        let key = schema::owned(&f.bin_exact("node_info.key", profile.key_len(), "bin(K)")?);
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
            .map(|relay| schema::owned(&relay))
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
    /// Key field of the holder (an owned copy when decoded).
    pub holder: Bytes,
    /// Unix time in seconds when the lease ends.
    pub expires: u64,
}

/// What a node knows about a stored DHT value. Decoded metadata owns its
/// key fields (copies, not slices of the message).
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
    /// Reads metadata from the `detail` of a `NACK LOCKED` or `CONFLICT`
    /// (docs/PROTOCOL.md §8.3) of a network of `profile`.
    ///
    /// ```
    /// use shoutnet_wire::{Metadata, Opcode, Profile};
    /// let meta = Metadata {
    ///     version: 3,
    ///     ttl: 60,
    ///     stored_at: 1,
    ///     publisher: vec![7; 32].into(),
    ///     lock: None,
    /// };
    /// let read = Metadata::from_detail(Opcode::Store, meta.to_value(), Profile::Ed25519);
    /// assert_eq!(read.unwrap(), meta);
    /// ```
    pub fn from_detail(
        opcode: Opcode,
        detail: Value,
        profile: Profile,
    ) -> Result<Self, PayloadError> {
        Self::from_value(opcode, detail, profile)
    }

    pub(crate) fn from_value(
        opcode: Opcode,
        value: Value,
        profile: Profile,
    ) -> Result<Self, PayloadError> {
        let mut m = Entries::new(opcode, "metadata", METADATA_KEYS, value)?;
        let version = schema::uint(opcode, "metadata.version", &m.take("version")?)?;
        let ttl = schema::uint(opcode, "metadata.ttl", &m.take("ttl")?)?;
        let stored_at = schema::uint(opcode, "metadata.stored_at", &m.take("stored_at")?)?;
        let publisher = schema::owned(&schema::bin_exact(
            opcode,
            "metadata.publisher",
            m.take("publisher")?,
            profile.key_len(),
            "bin(K)",
        )?);
        let lock = match m.take("lock")? {
            Value::Nil => None,
            lock => {
                let mut l = Entries::new(opcode, "metadata.lock", LOCK_KEYS, lock)?;
                let holder = schema::owned(&schema::bin_exact(
                    opcode,
                    "metadata.lock.holder",
                    l.take("holder")?,
                    profile.key_len(),
                    "bin(K)",
                )?);
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

fn addresses(
    opcode: Opcode,
    field: &'static str,
    v: Value,
) -> Result<Vec<SocketAddr>, PayloadError> {
    schema::array(opcode, field, v, MAX_LISTEN_ADDRS)?
        .iter()
        .map(|a| {
            a.as_str()
                .and_then(parse_socket_addr)
                .ok_or(PayloadError::Field {
                    opcode,
                    field,
                    expected: "an array of socket addresses in the text form of §8",
                })
        })
        .collect()
}

/// Reads a socket address in the one text form of docs/PROTOCOL.md §8:
/// `a.b.c.d:port` (dotted decimal without leading zeros) or `[ipv6]:port`
/// (the canonical text of RFC 5952, no zone id), the port in decimal
/// without leading zeros. Exactly the strings [`addresses_value`] writes
/// are accepted, so decoding then encoding gives back the same bytes; any
/// other spelling (`1.2.3.4:080`, `[fe80::1%2]:1`, `[0:0::1]:1`) is `None`.
pub(crate) fn parse_socket_addr(text: &str) -> Option<SocketAddr> {
    let parsed: SocketAddr = text.parse().ok()?;
    let addr = SocketAddr::new(parsed.ip(), parsed.port());
    writes_as(&addr, text).then_some(addr)
}

/// Whether `value` displays as exactly `text`, compared as it is written,
/// without allocating.
fn writes_as(value: &impl std::fmt::Display, text: &str) -> bool {
    struct Compare<'a>(&'a str);
    impl std::fmt::Write for Compare<'_> {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            self.0 = self.0.strip_prefix(s).ok_or(std::fmt::Error)?;
            Ok(())
        }
    }
    let mut rest = Compare(text);
    std::fmt::write(&mut rest, format_args!("{value}")).is_ok() && rest.0.is_empty()
}

/// The text forms of `addrs` (docs/PROTOCOL.md §8): Rust's `Display`, which
/// writes IPv4 in dotted decimal and IPv6 in the canonical form of RFC 5952
/// (an IPv4-mapped address with its last 32 bits dotted). IPv6 flow labels
/// and zone ids mean nothing beyond the local link, so the text form drops
/// them.
fn addresses_value(addrs: &[SocketAddr]) -> Value {
    Value::Array(
        addrs
            .iter()
            .map(|a| Value::from(SocketAddr::new(a.ip(), a.port()).to_string()))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_text_form_of_section_8_is_a_socket_address() {
        let accepted = [
            "127.0.0.1:4000",
            "0.0.0.0:0",
            "255.255.255.255:65535",
            "[::1]:4000",
            "[::]:0",
            "[2001:db8::1]:80",
            // The first of two equal zero runs is the one compressed.
            "[2001:db8::1:0:0:1]:1",
            // A single zero group is never compressed.
            "[2001:db8:0:1:1:1:1:1]:1",
            "[1:0:0:1::1]:5",
            // IPv4-mapped addresses end in dotted decimal (RFC 5952 §5).
            "[::ffff:1.2.3.4]:1",
            "[::102:304]:1",
        ];
        for text in accepted {
            let addr = parse_socket_addr(text).unwrap_or_else(|| panic!("{text} refused"));
            assert_eq!(addr.to_string(), text);
        }
        let refused = [
            // Ports and octets with leading zeros.
            "1.2.3.4:080",
            "1.2.3.4:00",
            "[::1]:04000",
            "01.2.3.4:1",
            // Zone ids, by name or number.
            "[fe80::1%eth0]:1",
            "[fe80::1%2]:1",
            // IPv6 text that is not RFC 5952's canonical form.
            "[0:0::1]:1",
            "[0:0:0:0:0:0:0:1]:1",
            "[2001:DB8::1]:80",
            "[2001:0db8::1]:80",
            "[2001:db8:0:0:1::1]:1",
            "[2001:db8::1:1:1:1:1]:1",
            "[::FFFF:1.2.3.4]:1",
            "[::ffff:102:304]:1",
            "[::1.2.3.4]:1",
            // Not socket addresses at all.
            "1.2.3.4",
            "1.2.3.4:65536",
            "1.2.3.4:+1",
            " 1.2.3.4:1",
            "[::1]",
            "::1:80",
            "localhost:80",
            "",
        ];
        for text in refused {
            assert_eq!(parse_socket_addr(text), None, "{text} accepted");
        }
    }

    #[test]
    fn a_refused_address_is_a_schema_error_of_its_field() {
        let node = |addr: &str| {
            Value::Array(vec![
                Value::bin(vec![1; 32]),
                Value::Array(vec![Value::from(addr)]),
                Value::Array(vec![]),
            ])
        };
        assert!(NodeInfo::from_value(Opcode::Ack, node("1.2.3.4:80"), Profile::Ed25519).is_ok());
        for bad in ["1.2.3.4:080", "[fe80::1%eth0]:1"] {
            assert_eq!(
                NodeInfo::from_value(Opcode::Ack, node(bad), Profile::Ed25519),
                Err(PayloadError::Field {
                    opcode: Opcode::Ack,
                    field: "node_info.listen",
                    expected: "an array of socket addresses in the text form of §8",
                }),
                "{bad}"
            );
        }
    }
}

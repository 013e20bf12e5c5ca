//! The hello (docs/PROTOCOL.md §9.1): what each side of a connection says
//! about itself in the payload of its Noise handshake message — its
//! identity key, the signature binding that key to its Noise static key,
//! where it listens, what it decodes and the largest transmission it
//! takes.
//!
//! A hello is one restricted msgpack map (§7). Keys this version does not
//! know are ignored, so a later version can add fields without breaking
//! version 1 nodes; every key below is required.

use std::net::SocketAddr;

use bytes::Bytes;
use shoutnet_compress::{Method, MethodSet};

use crate::EncodeError;
use crate::payload::parse_socket_addr;
use crate::{MAX_COMPRESSION_IDS, MAX_LISTEN_ADDRS, Profile, Value, ValueError, ValueLimits};

/// The largest hello a node accepts, in bytes: 4 KiB, far above the ~500
/// bytes of an `rsa2048` hello with eight addresses.
pub const MAX_HELLO: usize = 4096;

/// A hello that does not follow docs/PROTOCOL.md §9.1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HelloError {
    /// Longer than [`MAX_HELLO`].
    #[error("hello of {len} bytes is over {max}")]
    TooLong {
        /// Its length.
        len: usize,
        /// [`MAX_HELLO`].
        max: usize,
    },
    /// Not one restricted value.
    #[error("hello is not a restricted value: {0}")]
    Value(#[from] ValueError),
    /// Not a map.
    #[error("hello is not a map")]
    NotAMap,
    /// A required key is missing.
    #[error("hello has no {0:?}")]
    Missing(&'static str),
    /// A field has the wrong type, length or range.
    #[error("hello field {field:?} is not {expected}")]
    Field {
        /// The key.
        field: &'static str,
        /// What §9.1 requires.
        expected: &'static str,
    },
}

/// One side's hello.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hello {
    /// `"key"`: the sender's identity key field (K bytes of its profile).
    pub key: Bytes,
    /// `"binding"`: the sender's signature, with that key, over
    /// `shoutnet/1 channel binding` and its Noise static public key
    /// (docs/PROTOCOL.md §5.5).
    pub binding: Bytes,
    /// `"listen"`: addresses it accepts connections on (none for a
    /// dial-out-only node), at most 8.
    pub listen: Vec<SocketAddr>,
    /// `"compression"`: methods it decodes, always with `none`.
    pub compression: MethodSet,
    /// `"preferred"`: the method it would like to receive.
    pub preferred: Method,
    /// `"max_transmission"`: the largest transmission body it takes, in
    /// bytes; senders split what they queue so that no transmission is
    /// larger.
    pub max_transmission: u32,
}

impl Hello {
    /// Decodes a hello of a network of `profile`: the key and binding must
    /// have that profile's lengths (whether they are a valid key and a
    /// valid signature is for the caller to check).
    ///
    /// ```
    /// use shoutnet_wire::{Hello, Method, MethodSet, Profile, ValueLimits};
    ///
    /// let hello = Hello {
    ///     key: vec![7; 32].into(),
    ///     binding: vec![9; 64].into(),
    ///     listen: vec!["10.0.0.1:4000".parse().unwrap()],
    ///     compression: MethodSet::all(),
    ///     preferred: Method::None,
    ///     max_transmission: 16 << 20,
    /// };
    /// let bytes = hello.encode().unwrap();
    /// assert_eq!(Hello::decode(&bytes, Profile::Ed25519, &ValueLimits::default()), Ok(hello));
    /// ```
    pub fn decode(
        bytes: &Bytes,
        profile: Profile,
        limits: &ValueLimits,
    ) -> Result<Self, HelloError> {
        if bytes.len() > MAX_HELLO {
            return Err(HelloError::TooLong {
                len: bytes.len(),
                max: MAX_HELLO,
            });
        }
        let Value::Map(entries) = Value::decode(bytes, limits)? else {
            return Err(HelloError::NotAMap);
        };
        let get = |key: &'static str| {
            entries
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v)
                .ok_or(HelloError::Missing(key))
        };
        let bin = |key: &'static str, len: usize, expected: &'static str| match get(key)? {
            Value::Bin(b) if b.len() == len => Ok(Bytes::copy_from_slice(b)),
            _ => Err(HelloError::Field {
                field: key,
                expected,
            }),
        };
        let key = bin("key", profile.key_len(), "bin(K)")?;
        let binding = bin("binding", profile.signature_len(), "bin(S)")?;
        let listen = listen(get("listen")?)?;
        let compression = compression(get("compression")?)?;
        let preferred = method(get("preferred")?, "preferred")?;
        let max_transmission = get("max_transmission")?
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .filter(|n| *n > 0)
            .ok_or(HelloError::Field {
                field: "max_transmission",
                expected: "a uint from 1 to 2^32 - 1",
            })?;
        Ok(Self {
            key,
            binding,
            listen,
            compression,
            preferred,
            max_transmission,
        })
    }

    /// The hello as one restricted msgpack map, keys in the order of
    /// docs/PROTOCOL.md §9.1.
    pub fn encode(&self) -> Result<Bytes, EncodeError> {
        let ids = self
            .compression
            .with(Method::None)
            .iter()
            .map(|m| Value::from(m.id()));
        let listen = self
            .listen
            .iter()
            .take(MAX_LISTEN_ADDRS)
            .map(|a| Value::from(SocketAddr::new(a.ip(), a.port()).to_string()));
        Value::map([
            ("key", Value::Bin(self.key.clone())),
            ("binding", Value::Bin(self.binding.clone())),
            ("listen", Value::Array(listen.collect())),
            ("compression", Value::Array(ids.collect())),
            ("preferred", Value::from(self.preferred.id())),
            ("max_transmission", Value::from(self.max_transmission)),
        ])
        .encode()
    }
}

fn listen(v: &Value) -> Result<Vec<SocketAddr>, HelloError> {
    let err = HelloError::Field {
        field: "listen",
        expected: "an array of at most 8 \"ip:port\" strings",
    };
    let items = v
        .as_array()
        .filter(|a| a.len() <= MAX_LISTEN_ADDRS)
        .ok_or(err)?;
    items
        .iter()
        .map(|a| a.as_str().and_then(parse_socket_addr).ok_or(err))
        .collect()
}

fn method(v: &Value, field: &'static str) -> Result<Method, HelloError> {
    v.as_u64()
        .and_then(|id| u8::try_from(id).ok())
        .and_then(|id| Method::from_id(id).ok())
        .ok_or(HelloError::Field {
            field,
            expected: "a compression id 0-5",
        })
}

fn compression(v: &Value) -> Result<MethodSet, HelloError> {
    let err = HelloError::Field {
        field: "compression",
        expected: "an array of 1 to 8 compression ids including 0",
    };
    let ids = v
        .as_array()
        .filter(|a| (1..=MAX_COMPRESSION_IDS).contains(&a.len()))
        .ok_or(err)?;
    let mut set = MethodSet::empty();
    for id in ids {
        set.insert(method(id, "compression")?);
    }
    if set.contains(Method::None) {
        Ok(set)
    } else {
        Err(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hello() -> Hello {
        Hello {
            key: Bytes::from(vec![7; 32]),
            binding: Bytes::from(vec![9; 64]),
            listen: vec!["10.0.0.1:4000".parse().unwrap(), "[::1]:9".parse().unwrap()],
            compression: MethodSet::only_none().with(Method::Zlib),
            preferred: Method::Zlib,
            max_transmission: 1 << 20,
        }
    }

    fn decode(value: Value) -> Result<Hello, HelloError> {
        Hello::decode(
            &value.encode().unwrap(),
            Profile::Ed25519,
            &ValueLimits::default(),
        )
    }

    /// The hello's map with `key` set to `v` (or removed, for `None`).
    fn with(key: &str, v: Option<Value>) -> Value {
        let Value::Map(mut entries) =
            Value::decode(&hello().encode().unwrap(), &ValueLimits::default()).unwrap()
        else {
            unreachable!()
        };
        entries.retain(|(k, _)| k != key);
        if let Some(v) = v {
            entries.push((key.to_owned(), v));
        }
        Value::Map(entries)
    }

    #[test]
    fn round_trip_and_unknown_keys_are_ignored() {
        assert_eq!(
            decode(Value::decode(&hello().encode().unwrap(), &ValueLimits::default()).unwrap()),
            Ok(hello())
        );
        assert_eq!(decode(with("future", Some(Value::from(1u64)))), Ok(hello()));
    }

    #[test]
    fn each_fault_is_named() {
        let field = |field, expected| Err(HelloError::Field { field, expected });
        // (the hello, the error)
        let cases: Vec<(Value, Result<Hello, HelloError>)> = vec![
            (Value::from(1u64), Err(HelloError::NotAMap)),
            (with("key", None), Err(HelloError::Missing("key"))),
            (
                with("key", Some(Value::bin(vec![1; 31]))),
                field("key", "bin(K)"),
            ),
            (
                with("binding", Some(Value::from("x"))),
                field("binding", "bin(S)"),
            ),
            (
                with(
                    "listen",
                    Some(Value::Array(vec![Value::from("1.2.3.4:080")])),
                ),
                field("listen", "an array of at most 8 \"ip:port\" strings"),
            ),
            (
                with("compression", Some(Value::Array(vec![Value::from(4u64)]))),
                field(
                    "compression",
                    "an array of 1 to 8 compression ids including 0",
                ),
            ),
            (
                with("preferred", Some(Value::from(6u64))),
                field("preferred", "a compression id 0-5"),
            ),
            (
                with("max_transmission", Some(Value::from(0u64))),
                field("max_transmission", "a uint from 1 to 2^32 - 1"),
            ),
        ];
        for (value, expected) in cases {
            assert_eq!(decode(value.clone()), expected, "{value:?}");
        }
        let long = Bytes::from(vec![0xc0; MAX_HELLO + 1]);
        assert!(matches!(
            Hello::decode(&long, Profile::Ed25519, &ValueLimits::default()),
            Err(HelloError::TooLong { .. })
        ));
    }
}

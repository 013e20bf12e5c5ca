//! The restricted msgpack value every payload carries (docs/PROTOCOL.md §7).

mod decode;
mod encode;
mod serde;

use bytes::Bytes;

#[cfg(test)]
pub(crate) use self::decode::DECODES;
pub(crate) use self::decode::Head;
pub use self::serde::{SerdeError, from_value, to_value};

/// An integer in the restricted range −2^63 … 2^64−1: every msgpack integer.
///
/// ```
/// use shoutnet_wire::Integer;
/// assert_eq!(Integer::from(u64::MAX).as_u64(), Some(u64::MAX));
/// assert_eq!(Integer::from(-5i64).as_u64(), None);
/// assert!(Integer::new(1i128 << 64).is_none());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Integer(i128);

impl Integer {
    /// The smallest integer, −2^63.
    pub const MIN: Self = Self(i64::MIN as i128);
    /// The largest integer, 2^64−1.
    pub const MAX: Self = Self(u64::MAX as i128);

    /// The integer `n`, or `None` when it is outside the range.
    pub fn new(n: i128) -> Option<Self> {
        (Self::MIN.0..=Self::MAX.0).contains(&n).then_some(Self(n))
    }

    /// The value as an `i128`, which holds every integer.
    pub const fn get(self) -> i128 {
        self.0
    }

    /// The value as a `u64`, when it is not negative.
    pub fn as_u64(self) -> Option<u64> {
        u64::try_from(self.0).ok()
    }

    /// The value as an `i64`, when it fits.
    pub fn as_i64(self) -> Option<i64> {
        i64::try_from(self.0).ok()
    }
}

macro_rules! integer_from {
    ($($t:ty),*) => {$(
        impl From<$t> for Integer {
            fn from(n: $t) -> Self {
                Self(i128::from(n))
            }
        }
        impl From<$t> for Value {
            fn from(n: $t) -> Self {
                Self::Int(Integer::from(n))
            }
        }
    )*};
}
integer_from!(u8, u16, u32, u64, i8, i16, i32, i64);

/// One restricted msgpack value.
///
/// Floats compare by bit pattern, so a NaN equals itself and `0.0` differs
/// from `-0.0`: two values are equal when they encode to the same bytes.
/// Binaries decoded from a payload share its buffer.
///
/// ```
/// use shoutnet_wire::{Value, ValueLimits};
///
/// let v = Value::map([("name", Value::from("ada")), ("age", Value::from(36u8))]);
/// let bytes = v.encode().unwrap();
/// assert_eq!(Value::decode(&bytes, &ValueLimits::default()).unwrap(), v);
/// assert_eq!(v.get("age").and_then(Value::as_u64), Some(36));
/// ```
#[derive(Clone, Debug)]
pub enum Value {
    /// msgpack nil.
    Nil,
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(Integer),
    /// A 64-bit float (float 32 on the wire is widened).
    Float(f64),
    /// A UTF-8 string.
    Str(String),
    /// A byte string.
    Bin(Bytes),
    /// An array.
    Array(Vec<Self>),
    /// A map with distinct string keys, in wire order.
    Map(Vec<(String, Self)>),
}

impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Nil, Self::Nil) => true,
            (Self::Bool(a), Self::Bool(b)) => a == b,
            (Self::Int(a), Self::Int(b)) => a == b,
            (Self::Float(a), Self::Float(b)) => a.to_bits() == b.to_bits(),
            (Self::Str(a), Self::Str(b)) => a == b,
            (Self::Bin(a), Self::Bin(b)) => a == b,
            (Self::Array(a), Self::Array(b)) => a == b,
            (Self::Map(a), Self::Map(b)) => a == b,
            _ => false,
        }
    }
}

impl Eq for Value {}

impl Value {
    /// A map from `(key, value)` pairs, in the given order.
    pub fn map<K: Into<String>>(entries: impl IntoIterator<Item = (K, Self)>) -> Self {
        Self::Map(entries.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    /// A binary value.
    pub fn bin(bytes: impl Into<Bytes>) -> Self {
        Self::Bin(bytes.into())
    }

    /// The value of `key` in a map; `None` for other values or a missing key.
    pub fn get(&self, key: &str) -> Option<&Self> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    /// The integer as a `u64`, if this is a non-negative integer.
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Self::Int(n) => n.as_u64(),
            _ => None,
        }
    }

    /// The integer as an `i64`, if this is an integer that fits.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Self::Int(n) => n.as_i64(),
            _ => None,
        }
    }

    /// The string, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Self::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The bytes, if this is a binary.
    pub fn as_bin(&self) -> Option<&Bytes> {
        match self {
            Self::Bin(b) => Some(b),
            _ => None,
        }
    }

    /// The elements, if this is an array.
    pub fn as_array(&self) -> Option<&[Self]> {
        match self {
            Self::Array(a) => Some(a),
            _ => None,
        }
    }

    /// The entries, if this is a map.
    pub fn as_map(&self) -> Option<&[(String, Self)]> {
        match self {
            Self::Map(m) => Some(m),
            _ => None,
        }
    }

    /// Whether this is nil.
    pub fn is_nil(&self) -> bool {
        matches!(self, Self::Nil)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Self::Bool(b)
    }
}

impl From<f64> for Value {
    fn from(f: f64) -> Self {
        Self::Float(f)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Self::Str(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Self::Str(s)
    }
}

impl From<Bytes> for Value {
    fn from(b: Bytes) -> Self {
        Self::Bin(b)
    }
}

impl From<Vec<Self>> for Value {
    fn from(items: Vec<Self>) -> Self {
        Self::Array(items)
    }
}

impl From<Integer> for Value {
    fn from(n: Integer) -> Self {
        Self::Int(n)
    }
}

impl<T: Into<Self>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Self::Nil, Into::into)
    }
}

//! Routing addresses, DHT key addresses and the XOR distance
//! (docs/PROTOCOL.md §2).

use std::fmt;
use std::str::FromStr;

use sha2_10::{Digest, Sha256};

use crate::Error;

/// A 256-bit address (τ = 256): a node's routing address (SHA-256 of its key
/// field) or a DHT key's address (SHA-256 of the key bytes).
///
/// Addresses order as 256-bit big-endian integers. They print and parse as
/// 64 lowercase hex digits.
///
/// ```
/// use shoutnet_crypto::Address;
/// let a = Address::of_dht_key(b"hello");
/// assert_eq!(a.to_string(), "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
/// assert_eq!(a.to_string().parse::<Address>().unwrap(), a);
/// assert_eq!(a.distance(&a).bucket_index(), None);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Address(pub [u8; 32]);

/// The XOR of two addresses, read as a 256-bit big-endian unsigned integer
/// (docs/PROTOCOL.md §2). The derived `Ord` on the big-endian bytes is the
/// integer order.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Distance(pub [u8; 32]);

impl Address {
    /// Length of an address in bytes.
    pub const LEN: usize = 32;

    /// The routing address of a node: SHA-256 of its key field.
    pub fn of_key_field(key_field: &[u8]) -> Self {
        Self(Sha256::digest(key_field).into())
    }

    /// The address of a DHT key: SHA-256 of the key bytes.
    pub fn of_dht_key(key: &[u8]) -> Self {
        Self(Sha256::digest(key).into())
    }

    /// The address's bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The XOR distance to `other`.
    pub fn distance(&self, other: &Self) -> Distance {
        Distance(std::array::from_fn(|i| {
            self.0.get(i).copied().unwrap_or(0) ^ other.0.get(i).copied().unwrap_or(0)
        }))
    }

    /// The one address at `distance` from this one (XOR is its own inverse).
    pub fn at_distance(&self, distance: &Distance) -> Self {
        Self(self.distance(&Self(distance.0)).0)
    }
}

impl Distance {
    /// The distance of an address to itself.
    pub const ZERO: Self = Self([0; 32]);

    /// Number of leading zero bits, 0–256 (256 for the zero distance).
    pub fn leading_zeros(&self) -> u32 {
        let mut zeros = 0;
        for byte in self.0 {
            zeros += byte.leading_zeros();
            if byte != 0 {
                break;
            }
        }
        zeros
    }

    /// The k-bucket this distance falls in: 255 minus the number of leading
    /// zero bits, so bucket `i` holds distances in `[2^i, 2^(i+1))`. `None`
    /// for the zero distance (an address is in no bucket of its own).
    pub fn bucket_index(&self) -> Option<u8> {
        255u32
            .checked_sub(self.leading_zeros())
            .and_then(|i| u8::try_from(i).ok())
    }

    /// XOR of two distances: `d(a, b) ^ d(b, c) == d(a, c)`.
    pub fn xor(&self, other: &Self) -> Self {
        Self(Address(self.0).distance(&Address(other.0)).0)
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(f, &self.0)
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Address(")?;
        write_hex(f, &self.0)?;
        f.write_str(")")
    }
}

impl fmt::Display for Distance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(f, &self.0)
    }
}

impl fmt::Debug for Distance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Distance(")?;
        write_hex(f, &self.0)?;
        f.write_str(")")
    }
}

impl FromStr for Address {
    type Err = Error;

    /// Parses 64 hex digits (either case).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let digits = s.as_bytes();
        if digits.len() != 64 {
            return Err(Error::AddressLength(s.chars().count()));
        }
        let mut out = [0u8; 32];
        for (byte, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
            let [hi, lo] = pair else {
                return Err(Error::AddressHex);
            };
            *byte = (hex_digit(*hi)? << 4) | hex_digit(*lo)?;
        }
        Ok(Self(out))
    }
}

impl From<[u8; 32]> for Address {
    fn from(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }
}

impl From<Address> for [u8; 32] {
    fn from(address: Address) -> Self {
        address.0
    }
}

impl AsRef<[u8]> for Address {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

fn write_hex(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    bytes.iter().try_for_each(|b| write!(f, "{b:02x}"))
}

fn hex_digit(c: u8) -> Result<u8, Error> {
    match c {
        b'0'..=b'9' => Ok(c - b'0'),
        b'a'..=b'f' => Ok(c - b'a' + 10),
        b'A'..=b'F' => Ok(c - b'A' + 10),
        _ => Err(Error::AddressHex),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn address() -> impl Strategy<Value = Address> {
        any::<[u8; 32]>().prop_map(Address)
    }

    proptest! {
        #[test]
        fn distance_to_self_is_zero(a in address()) {
            prop_assert_eq!(a.distance(&a), Distance::ZERO);
            prop_assert_eq!(a.distance(&a).bucket_index(), None);
        }

        #[test]
        fn distance_is_symmetric(a in address(), b in address()) {
            prop_assert_eq!(a.distance(&b), b.distance(&a));
        }

        #[test]
        fn distances_compose_by_xor(a in address(), b in address(), c in address()) {
            prop_assert_eq!(a.distance(&b).xor(&b.distance(&c)), a.distance(&c));
        }

        #[test]
        fn distance_is_unidirectional(a in address(), b in address(), c in address()) {
            // For a fixed address and distance there is exactly one address.
            let d = a.distance(&b);
            prop_assert_eq!(a.at_distance(&d), b);
            prop_assert_eq!(a.distance(&c) == d, c == b);
        }

        #[test]
        fn zero_distance_only_to_self(a in address(), b in address()) {
            prop_assert_eq!(a.distance(&b) == Distance::ZERO, a == b);
        }

        #[test]
        fn bucket_index_matches_leading_zeros(a in address(), b in address()) {
            let d = a.distance(&b);
            match d.bucket_index() {
                None => prop_assert_eq!(d.leading_zeros(), 256),
                Some(i) => {
                    prop_assert_eq!(u32::from(i), 255 - d.leading_zeros());
                    // The distance lies in [2^i, 2^(i+1)): bit i is its top bit.
                    let byte = d.0[31 - usize::from(i) / 8];
                    prop_assert_eq!(byte >> (i % 8), 1);
                }
            }
        }

        #[test]
        fn order_is_big_endian_integer_order(a in address(), b in address()) {
            let (x, y) = (a.distance(&Address::default()), b.distance(&Address::default()));
            let big = |d: &Distance| (u128::from_be_bytes(d.0[..16].try_into().unwrap()), u128::from_be_bytes(d.0[16..].try_into().unwrap()));
            prop_assert_eq!(x.cmp(&y), big(&x).cmp(&big(&y)));
        }

        #[test]
        fn hex_round_trip(a in address()) {
            let s = a.to_string();
            prop_assert_eq!(s.len(), 64);
            prop_assert_eq!(s.to_lowercase(), s.clone());
            prop_assert_eq!(s.parse::<Address>(), Ok(a));
            prop_assert_eq!(s.to_uppercase().parse::<Address>(), Ok(a));
        }
    }

    #[test]
    fn bucket_index_edges() {
        let check = |d: [u8; 32], expected: Option<u8>| {
            assert_eq!(Distance(d).bucket_index(), expected, "{:?}", Distance(d));
        };
        let mut one = [0; 32];
        one[31] = 1;
        check(one, Some(0));
        let mut top = [0; 32];
        top[0] = 0x80;
        check(top, Some(255));
        check([0xff; 32], Some(255));
        check([0; 32], None);
        let mut mid = [0; 32];
        mid[30] = 0x01;
        check(mid, Some(8));
    }

    #[test]
    fn parse_errors() {
        assert_eq!("ab".parse::<Address>(), Err(Error::AddressLength(2)));
        assert_eq!("g".repeat(64).parse::<Address>(), Err(Error::AddressHex));
        assert_eq!("é".repeat(32).parse::<Address>(), Err(Error::AddressHex));
    }

    #[test]
    fn address_is_sha256() {
        assert_eq!(
            Address::of_key_field(b"").to_string(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}

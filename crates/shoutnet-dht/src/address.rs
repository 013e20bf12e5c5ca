//! Addresses and distance (docs/PROTOCOL.md §2): a DHT key's address is
//! SHA-256 of the key bytes, and the distance between two addresses is
//! their XOR read as a 256-bit big-endian integer, so comparing two
//! distances as byte arrays compares the integers.

use sha2::{Digest, Sha256};

use crate::StoreError;

/// The address of the record with key `key`: SHA-256 of the key bytes.
///
/// ```
/// use shoutnet_dht::address_of;
/// let a = address_of(b"hello");
/// assert_eq!(a[..4], [0x2c, 0xf2, 0x4d, 0xba]);
/// ```
pub fn address_of(key: &[u8]) -> [u8; 32] {
    Sha256::digest(key).into()
}

/// Checks that `claimed`, the address a `STORE` or `FIND_VALUE` carries,
/// is the address of `key` (docs/PROTOCOL.md §8.7: the DHT layer makes this
/// check and the engine answers `MALFORMED`).
///
/// ```
/// use shoutnet_dht::{StoreError, address_of, check_address};
/// assert_eq!(check_address(&address_of(b"k"), b"k"), Ok(()));
/// assert!(matches!(
///     check_address(&[0; 32], b"k"),
///     Err(StoreError::AddressMismatch { .. })
/// ));
/// ```
pub fn check_address(claimed: &[u8; 32], key: &[u8]) -> Result<(), StoreError> {
    let actual = address_of(key);
    if actual == *claimed {
        Ok(())
    } else {
        Err(StoreError::AddressMismatch {
            claimed: *claimed,
            actual,
        })
    }
}

/// The XOR distance between two addresses. Distances compare as byte
/// arrays (`<` on `[u8; 32]` is big-endian integer order).
///
/// ```
/// use shoutnet_dht::distance;
/// let mut a = [0; 32];
/// a[31] = 0b101;
/// let mut b = [0; 32];
/// b[31] = 0b011;
/// assert_eq!(distance(&a, &b)[31], 0b110);
/// assert_eq!(distance(&a, &a), [0; 32]);
/// ```
pub fn distance(a: &[u8; 32], b: &[u8; 32]) -> [u8; 32] {
    let mut d = *a;
    for (x, y) in d.iter_mut().zip(b) {
        *x ^= y;
    }
    d
}

/// Bit `i` of `address`, bit 0 being the most significant of byte 0
/// (docs/PROTOCOL.md §1); `false` past bit 255.
pub(crate) fn bit(address: &[u8; 32], i: usize) -> bool {
    address
        .get(i / 8)
        .is_some_and(|byte| byte & (0x80 >> (i % 8)) != 0)
}

/// `address` with bit `i` set to `value`.
pub(crate) fn with_bit(mut address: [u8; 32], i: usize, value: bool) -> [u8; 32] {
    if let Some(byte) = address.get_mut(i / 8) {
        let mask = 0x80 >> (i % 8);
        if value {
            *byte |= mask;
        } else {
            *byte &= !mask;
        }
    }
    address
}

/// The lowest and highest addresses whose first `depth` bits are those of
/// `prefix`: the block of the address space below that prefix.
pub(crate) fn block(prefix: &[u8; 32], depth: usize) -> ([u8; 32], [u8; 32]) {
    let (mut lo, mut hi) = (*prefix, *prefix);
    for (j, (l, h)) in lo.iter_mut().zip(hi.iter_mut()).enumerate() {
        let kept = depth.saturating_sub(j * 8).min(8);
        // The bits of this byte that belong to the prefix.
        let mask = if kept == 0 { 0 } else { 0xffu8 << (8 - kept) };
        *l &= mask;
        *h |= !mask;
    }
    (lo, hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_address_is_sha256_of_the_key() {
        // SHA-256("") from FIPS 180-2.
        let empty = address_of(b"");
        assert_eq!(empty[..4], [0xe3, 0xb0, 0xc4, 0x42]);
        assert_eq!(empty[28..], [0x78, 0x52, 0xb8, 0x55]);
    }

    #[test]
    fn a_mismatch_names_both_addresses() {
        assert_eq!(
            check_address(&[7; 32], b"key"),
            Err(StoreError::AddressMismatch {
                claimed: [7; 32],
                actual: address_of(b"key"),
            })
        );
    }

    #[test]
    fn distances_compare_as_big_endian_integers() {
        let mut near = [0; 32];
        near[31] = 0xff;
        let mut far = [0; 32];
        far[0] = 0x01;
        assert!(near < far);
        assert!(distance(&[0; 32], &near) < distance(&[0; 32], &far));
    }

    #[test]
    fn bits_are_numbered_from_the_most_significant() {
        let mut a = [0; 32];
        a[0] = 0x80;
        a[1] = 0x01;
        assert!(bit(&a, 0) && !bit(&a, 1) && bit(&a, 15) && !bit(&a, 256));
        assert_eq!(with_bit([0; 32], 15, true)[1], 0x01);
        assert_eq!(with_bit(a, 0, false)[0], 0);
    }

    #[test]
    fn a_block_spans_every_address_below_its_prefix() {
        let p = [0b1010_1010; 32];
        assert_eq!(block(&p, 0), ([0; 32], [0xff; 32]));
        assert_eq!(block(&p, 256), (p, p));
        let (lo, hi) = block(&p, 3);
        assert_eq!((lo[0], hi[0]), (0b1010_0000, 0b1011_1111));
        assert_eq!((lo[1], hi[1]), (0, 0xff));
        let (lo, hi) = block(&p, 12);
        assert_eq!((lo[0], hi[0]), (p[0], p[0]));
        assert_eq!((lo[1], hi[1]), (0b1010_0000, 0b1010_1111));
    }
}

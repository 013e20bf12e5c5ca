//! The 6-byte transmission header and the `2·K + 6`-byte message header
//! (docs/PROTOCOL.md §4 and §5).

use shoutnet_compress::{Method, MethodSet};

use crate::{DecodeError, Limits, Opcode, Profile};

/// Length of a transmission header in bytes.
pub const TRANSMISSION_HEADER_LEN: usize = 6;

/// Reserved bits of the transmission header's second byte (bits 8–12).
const TX_RESERVED_MASK_BYTE1: u8 = 0xf8;
/// The compression id: bits 13–15.
const TX_COMPRESSION_MASK: u8 = 0x07;
/// Reserved low nibble of the opcode byte.
const OPCODE_RESERVED_MASK: u8 = 0x0f;
/// The encrypted flag (bit 4335 for `rsa2048`).
const FLAG_ENCRYPTED: u8 = 0x01;
/// The signed flag (bit 4334 for `rsa2048`), a shoutnet extension.
const FLAG_SIGNED: u8 = 0x02;
/// Reserved bits of the flags byte.
const FLAGS_RESERVED_MASK: u8 = !(FLAG_ENCRYPTED | FLAG_SIGNED);

/// A parsed transmission header: how the body is compressed and how long it
/// is as sent.
///
/// ```
/// use shoutnet_compress::{Method, MethodSet};
/// use shoutnet_wire::{Limits, TransmissionHeader};
///
/// let header = TransmissionHeader { compression: Method::Zlib, body_len: 300 };
/// let bytes = header.to_bytes();
/// assert_eq!(bytes, [0, 4, 0, 0, 1, 44]);
/// let parsed = TransmissionHeader::parse(bytes, &Limits::default(), MethodSet::all()).unwrap();
/// assert_eq!(parsed, header);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TransmissionHeader {
    /// How the body is compressed.
    pub compression: Method,
    /// Length of the body as sent, in bytes.
    pub body_len: usize,
}

impl TransmissionHeader {
    /// Parses and checks the 6 header bytes, in the order docs/PROTOCOL.md §4
    /// lists: reserved bits, compression id, then the length against
    /// `limits.max_transmission`. Nothing is allocated. `accepted` holds the
    /// methods accepted on this connection; `none` is always accepted.
    pub fn parse(
        bytes: [u8; TRANSMISSION_HEADER_LEN],
        limits: &Limits,
        accepted: MethodSet,
    ) -> Result<Self, DecodeError> {
        let [b0, b1, l0, l1, l2, l3] = bytes;
        if b0 != 0 {
            return Err(DecodeError::ReservedBitsSet {
                offset: 0,
                mask: b0,
            });
        }
        if b1 & TX_RESERVED_MASK_BYTE1 != 0 {
            return Err(DecodeError::ReservedBitsSet {
                offset: 1,
                mask: b1 & TX_RESERVED_MASK_BYTE1,
            });
        }
        let id = b1 & TX_COMPRESSION_MASK;
        let compression = Method::from_id(id).map_err(|_| DecodeError::UnknownCompression(id))?;
        if compression != Method::None && !accepted.contains(compression) {
            return Err(DecodeError::UnnegotiatedCompression(compression));
        }
        let body_len = u32::from_be_bytes([l0, l1, l2, l3]) as usize;
        if body_len == 0 {
            return Err(DecodeError::EmptyTransmission { offset: 2 });
        }
        if body_len > limits.max_transmission {
            return Err(DecodeError::TransmissionTooLarge {
                len: body_len,
                max: limits.max_transmission,
            });
        }
        Ok(Self {
            compression,
            body_len,
        })
    }

    /// The header's 6 bytes. The length is written modulo 2^32; encoders
    /// check it fits first.
    pub fn to_bytes(&self) -> [u8; TRANSMISSION_HEADER_LEN] {
        let [l0, l1, l2, l3] = (self.body_len as u32).to_be_bytes();
        [0, self.compression.id(), l0, l1, l2, l3]
    }
}

/// The flags byte of a message header.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Flags {
    /// The content is ciphertext for the to-key.
    pub encrypted: bool,
    /// The body ends with a signature.
    pub signed: bool,
}

impl Flags {
    /// The byte as sent.
    pub const fn to_byte(self) -> u8 {
        (if self.encrypted { FLAG_ENCRYPTED } else { 0 })
            | (if self.signed { FLAG_SIGNED } else { 0 })
    }

    /// Parses the byte; `None` when a reserved bit is set.
    pub const fn from_byte(byte: u8) -> Option<Self> {
        if byte & FLAGS_RESERVED_MASK != 0 {
            return None;
        }
        Some(Self {
            encrypted: byte & FLAG_ENCRYPTED != 0,
            signed: byte & FLAG_SIGNED != 0,
        })
    }
}

/// The fixed-size part of a message header after the two key fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct HeaderTail {
    pub(crate) opcode: Opcode,
    pub(crate) flags: Flags,
    pub(crate) payload_len: usize,
}

impl HeaderTail {
    /// Parses the 6 bytes after the key fields. `offset` is where those
    /// bytes start, for error messages.
    pub(crate) fn parse(tail: [u8; 6], offset: usize) -> Result<Self, DecodeError> {
        let [op, flags, l0, l1, l2, l3] = tail;
        if op & OPCODE_RESERVED_MASK != 0 {
            return Err(DecodeError::ReservedBitsSet {
                offset,
                mask: op & OPCODE_RESERVED_MASK,
            });
        }
        let flags = Flags::from_byte(flags).ok_or(DecodeError::ReservedBitsSet {
            offset: offset + 1,
            mask: flags & FLAGS_RESERVED_MASK,
        })?;
        Ok(Self {
            opcode: Opcode::from_nibble(op >> 4),
            flags,
            payload_len: u32::from_be_bytes([l0, l1, l2, l3]) as usize,
        })
    }

    /// The opcode and flags bytes: the part of the tail that signatures and
    /// associated data cover.
    pub(crate) const fn op_and_flags(opcode: Opcode, flags: Flags) -> [u8; 2] {
        [opcode.value() << 4, flags.to_byte()]
    }
}

/// The header minus its payload-length field, followed by room for
/// `extra` more bytes: what signatures (followed by the content) and
/// encryption's associated data cover (docs/PROTOCOL.md §5.3, §5.4).
///
/// ```
/// use shoutnet_wire::{Flags, Opcode, header_without_length};
/// let h = header_without_length(&[1; 32], &[2; 32], Opcode::Whisper, Flags { encrypted: true, signed: true }, 0);
/// assert_eq!(h.len(), 66);
/// assert_eq!(&h[64..], &[0x60, 0x03]);
/// ```
pub fn header_without_length(
    from: &[u8],
    to: &[u8],
    opcode: Opcode,
    flags: Flags,
    extra: usize,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(from.len() + to.len() + 2 + extra);
    out.extend_from_slice(from);
    out.extend_from_slice(to);
    out.extend_from_slice(&HeaderTail::op_and_flags(opcode, flags));
    out
}

/// Length of the header minus its payload-length field: the bytes that
/// signatures and encryption's associated data cover (docs/PROTOCOL.md §5.2).
pub const fn covered_header_len(profile: Profile) -> usize {
    profile.header_len() - 4
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(bytes: [u8; 6]) -> Result<TransmissionHeader, DecodeError> {
        TransmissionHeader::parse(bytes, &Limits::default(), MethodSet::all())
    }

    #[test]
    fn transmission_header_rules_in_spec_order() {
        let cases: &[([u8; 6], Result<TransmissionHeader, DecodeError>)] = &[
            (
                [0, 0, 0, 0, 0, 1],
                Ok(TransmissionHeader {
                    compression: Method::None,
                    body_len: 1,
                }),
            ),
            (
                [0x80, 0, 0, 0, 0, 1],
                Err(DecodeError::ReservedBitsSet {
                    offset: 0,
                    mask: 0x80,
                }),
            ),
            (
                [0, 0x08, 0, 0, 0, 1],
                Err(DecodeError::ReservedBitsSet {
                    offset: 1,
                    mask: 0x08,
                }),
            ),
            ([0, 6, 0, 0, 0, 1], Err(DecodeError::UnknownCompression(6))),
            ([0, 7, 0, 0, 0, 1], Err(DecodeError::UnknownCompression(7))),
            (
                [0, 0, 0, 0, 0, 0],
                Err(DecodeError::EmptyTransmission { offset: 2 }),
            ),
            (
                [0, 5, 0xff, 0xff, 0xff, 0xff],
                Err(DecodeError::TransmissionTooLarge {
                    len: u32::MAX as usize,
                    max: 16 << 20,
                }),
            ),
            // Reserved bits are reported before an unknown id.
            (
                [0, 0xff, 0, 0, 0, 1],
                Err(DecodeError::ReservedBitsSet {
                    offset: 1,
                    mask: 0xf8,
                }),
            ),
        ];
        for (bytes, expected) in cases {
            assert_eq!(&parse(*bytes), expected, "{bytes:02x?}");
        }
    }

    #[test]
    fn unnegotiated_compression_is_rejected() {
        let err = TransmissionHeader::parse(
            [0, 3, 0, 0, 0, 9],
            &Limits::default(),
            MethodSet::only_none(),
        );
        assert_eq!(err, Err(DecodeError::UnnegotiatedCompression(Method::Lzma)));
    }

    #[test]
    fn flags_byte_round_trips_and_rejects_reserved_bits() {
        for byte in 0u8..=255 {
            match Flags::from_byte(byte) {
                Some(flags) => assert_eq!(flags.to_byte(), byte),
                None => assert_ne!(byte & FLAGS_RESERVED_MASK, 0),
            }
        }
    }

    #[test]
    fn header_tail_takes_the_high_nibble_as_opcode() {
        // The seed's `<< 4` would read 0x70 as 0x700; the opcode is 7.
        let tail = HeaderTail::parse([0x70, 0x03, 0, 0, 1, 0], 64).unwrap();
        assert_eq!(tail.opcode, Opcode::FindNode);
        assert_eq!(
            tail.flags,
            Flags {
                encrypted: true,
                signed: true
            }
        );
        assert_eq!(tail.payload_len, 256);
        assert_eq!(
            HeaderTail::parse([0x71, 0, 0, 0, 0, 0], 64),
            Err(DecodeError::ReservedBitsSet {
                offset: 64,
                mask: 0x01
            })
        );
        assert_eq!(
            HeaderTail::parse([0x70, 0x04, 0, 0, 0, 0], 64),
            Err(DecodeError::ReservedBitsSet {
                offset: 65,
                mask: 0x04
            })
        );
    }
}

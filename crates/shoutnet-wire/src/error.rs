//! Every way a transmission, value or payload can be rejected
//! (docs/PROTOCOL.md §4, §7, §8, §10).
//!
//! Each violation is its own variant so that callers (and tests) can tell
//! them apart. Offsets count bytes from the start of the transmission as if
//! it were uncompressed: the 6-byte header, then the decompressed body.

use shoutnet_compress::Method;

use crate::Opcode;

/// A transmission could not be framed: the connection must be closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// A reserved bit of a header is set.
    #[error("reserved bits {mask:#04x} set in the byte at offset {offset}")]
    ReservedBitsSet {
        /// Offset of the offending byte.
        offset: usize,
        /// The reserved bits that were set.
        mask: u8,
    },
    /// The compression id is 6 or 7.
    #[error("unknown compression id {0} at offset 1")]
    UnknownCompression(u8),
    /// The compression method has not been accepted on this connection.
    #[error("compression {0} at offset 1 was not negotiated on this connection")]
    UnnegotiatedCompression(Method),
    /// The header announces an empty body (offset 2), or the body
    /// decompresses to nothing (offset 6); a transmission holds at least one
    /// message.
    #[error("empty transmission at offset {offset}: a transmission holds at least one message")]
    EmptyTransmission {
        /// 2 for a length field of 0, 6 for a body that decompresses to
        /// nothing.
        offset: usize,
    },
    /// The header announces a body over `max_transmission`.
    #[error("transmission length {len} at offset 2 is over the limit of {max} bytes")]
    TransmissionTooLarge {
        /// The announced length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The data ends inside a header or before the announced body length.
    #[error("truncated at offset {offset}: {needed} more bytes needed")]
    Truncated {
        /// Where the data ends.
        offset: usize,
        /// How many more bytes the structure needs.
        needed: usize,
    },
    /// More data follows the announced body of a transmission decoded on
    /// its own ([`decode_transmission`](crate::decode_transmission)); on a
    /// stream those bytes begin the next transmission. Not to be confused
    /// with [`ValueError::TrailingBytes`], bytes after a payload's value.
    #[error("{extra} bytes after the end of the transmission at offset {offset}")]
    BytesAfterTransmission {
        /// Where the transmission ends.
        offset: usize,
        /// How many bytes follow it.
        extra: usize,
    },
    /// The body could not be decompressed, or decompressed past
    /// `max_decompressed`.
    #[error("body does not decompress: {0}")]
    Decompress(shoutnet_compress::Error),
    /// A message's payload length runs past the end of the body.
    #[error("payload length {len} in the header at offset {offset} runs past the end of the body")]
    PayloadPastEnd {
        /// Offset of the message header.
        offset: usize,
        /// The announced payload length.
        len: usize,
    },
    /// A message's payload length is over `max_payload`.
    #[error(
        "payload length {len} in the header at offset {offset} is over the limit of {max} bytes"
    )]
    PayloadTooLarge {
        /// Offset of the message header.
        offset: usize,
        /// The announced payload length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The transmission holds more than `max_messages` messages.
    #[error("more than {max} messages in one transmission (at offset {offset})")]
    TooManyMessages {
        /// Offset of the first message over the limit.
        offset: usize,
        /// The limit.
        max: usize,
    },
    /// A signed message's payload is shorter than a signature.
    #[error(
        "signed message at offset {offset} has a {len}-byte payload, shorter than its {needed}-byte signature"
    )]
    MissingSignature {
        /// Offset of the message header.
        offset: usize,
        /// The payload length.
        len: usize,
        /// The signature length of the profile.
        needed: usize,
    },
}

impl DecodeError {
    /// The byte the violation was found at, counting the transmission header
    /// and then the body as if it were uncompressed. Header errors point into
    /// the header: 1 for the compression id, 2 for the length field; a body
    /// that does not decompress points at its first byte, 6.
    pub const fn offset(&self) -> usize {
        match *self {
            Self::UnknownCompression(_) | Self::UnnegotiatedCompression(_) => 1,
            Self::TransmissionTooLarge { .. } => 2,
            Self::Decompress(_) => crate::TRANSMISSION_HEADER_LEN,
            Self::ReservedBitsSet { offset, .. }
            | Self::EmptyTransmission { offset }
            | Self::Truncated { offset, .. }
            | Self::BytesAfterTransmission { offset, .. }
            | Self::PayloadPastEnd { offset, .. }
            | Self::PayloadTooLarge { offset, .. }
            | Self::TooManyMessages { offset, .. }
            | Self::MissingSignature { offset, .. } => offset,
        }
    }

    /// The spec's name for this violation (docs/PROTOCOL.md §4), as used by
    /// the invalid test vectors.
    pub const fn name(&self) -> &'static str {
        match self {
            Self::ReservedBitsSet { .. } => "ReservedBitsSet",
            Self::UnknownCompression(_) => "UnknownCompression",
            Self::UnnegotiatedCompression(_) => "UnnegotiatedCompression",
            Self::EmptyTransmission { .. } => "EmptyTransmission",
            Self::TransmissionTooLarge { .. } => "TransmissionTooLarge",
            Self::Truncated { .. } => "Truncated",
            Self::BytesAfterTransmission { .. } => "BytesAfterTransmission",
            Self::Decompress(_) => "Decompress",
            Self::PayloadPastEnd { .. } => "PayloadPastEnd",
            Self::PayloadTooLarge { .. } => "PayloadTooLarge",
            Self::TooManyMessages { .. } => "TooManyMessages",
            Self::MissingSignature { .. } => "MissingSignature",
        }
    }
}

/// A payload is not exactly one restricted msgpack value (docs/PROTOCOL.md
/// §7). Offsets count from the start of the payload's content.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValueError {
    /// The content ends inside a value.
    #[error("value ends early at offset {offset}")]
    UnexpectedEnd {
        /// Where the content ends.
        offset: usize,
    },
    /// The never-used marker `0xc1`.
    #[error("reserved marker 0xc1 at offset {offset}")]
    ReservedMarker {
        /// Offset of the marker.
        offset: usize,
    },
    /// An ext type, which the restricted value does not allow.
    #[error("ext type marker {marker:#04x} at offset {offset} is not allowed")]
    ExtType {
        /// Offset of the marker.
        offset: usize,
        /// The marker byte.
        marker: u8,
    },
    /// A map key that is not a string.
    #[error("map key at offset {offset} is not a string")]
    NonStringKey {
        /// Offset of the key.
        offset: usize,
    },
    /// A map key that repeats an earlier key of the same map.
    #[error("duplicate map key at offset {offset}")]
    DuplicateKey {
        /// Offset of the repeated key.
        offset: usize,
    },
    /// A string that is not valid UTF-8.
    #[error("string at offset {offset} is not valid UTF-8")]
    InvalidUtf8 {
        /// Offset of the string's marker.
        offset: usize,
    },
    /// Arrays and maps nested deeper than `max_depth`.
    #[error("nesting deeper than {max} at offset {offset}")]
    TooDeep {
        /// Offset of the container that goes too deep.
        offset: usize,
        /// The limit.
        max: usize,
    },
    /// More than `max_values` values in one payload.
    #[error("more than {max} values (at offset {offset})")]
    TooManyValues {
        /// Offset of the first value over the limit.
        offset: usize,
        /// The limit.
        max: usize,
    },
    /// Bytes after the value, inside the message's content. (Bytes after a
    /// whole transmission are [`DecodeError::BytesAfterTransmission`].)
    #[error("{extra} bytes after the value at offset {offset}")]
    TrailingBytes {
        /// Where the value ends.
        offset: usize,
        /// How many bytes follow it.
        extra: usize,
    },
}

impl ValueError {
    /// The spec's name for this violation (docs/PROTOCOL.md §7).
    pub const fn name(&self) -> &'static str {
        match self {
            Self::UnexpectedEnd { .. } => "UnexpectedEnd",
            Self::ReservedMarker { .. } => "ReservedMarker",
            Self::ExtType { .. } => "ExtType",
            Self::NonStringKey { .. } => "NonStringKey",
            Self::DuplicateKey { .. } => "DuplicateKey",
            Self::InvalidUtf8 { .. } => "InvalidUtf8",
            Self::TooDeep { .. } => "TooDeep",
            Self::TooManyValues { .. } => "TooManyValues",
            Self::TrailingBytes { .. } => "TrailingBytes",
        }
    }

    /// Offset of the violation within the content.
    pub const fn offset(&self) -> usize {
        match *self {
            Self::UnexpectedEnd { offset }
            | Self::ReservedMarker { offset }
            | Self::ExtType { offset, .. }
            | Self::NonStringKey { offset }
            | Self::DuplicateKey { offset }
            | Self::InvalidUtf8 { offset }
            | Self::TooDeep { offset, .. }
            | Self::TooManyValues { offset, .. }
            | Self::TrailingBytes { offset, .. } => offset,
        }
    }
}

/// A payload's value does not follow its opcode's schema (docs/PROTOCOL.md
/// §8). The engine answers these with `NACK MALFORMED`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PayloadError {
    /// The content is not a restricted value.
    #[error(transparent)]
    Value(#[from] ValueError),
    /// A reserved opcode (10–14) has no payload schema.
    #[error("opcode {0} is reserved")]
    ReservedOpcode(Opcode),
    /// The message is encrypted: its content is ciphertext and must be
    /// decrypted before it can be read.
    #[error("{0} payload is encrypted")]
    Encrypted(Opcode),
    /// The payload's array has the wrong number of elements.
    #[error("{opcode} payload has {len} elements, expected {expected}")]
    Arity {
        /// The message's opcode.
        opcode: Opcode,
        /// The number of elements found.
        len: usize,
        /// What the schema allows, e.g. `"2 or 3"`.
        expected: &'static str,
    },
    /// A field has the wrong type, length or range.
    #[error("{opcode} payload field `{field}` is not {expected}")]
    Field {
        /// The message's opcode.
        opcode: Opcode,
        /// The field's name in docs/PROTOCOL.md §8.
        field: &'static str,
        /// What the schema requires, e.g. `"bin(32)"`.
        expected: &'static str,
    },
    /// A list or byte string is over its limit (docs/PROTOCOL.md §11).
    #[error("{opcode} payload field `{field}` has {len} items or bytes, over the limit of {max}")]
    TooLong {
        /// The message's opcode.
        opcode: Opcode,
        /// The field's name.
        field: &'static str,
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
}

impl PayloadError {
    /// The spec's name for this violation, or the value error's name.
    pub const fn name(&self) -> &'static str {
        match self {
            Self::Value(e) => e.name(),
            Self::ReservedOpcode(_) => "ReservedOpcode",
            Self::Encrypted(_) => "Encrypted",
            Self::Arity { .. } => "Arity",
            Self::Field { .. } => "Field",
            Self::TooLong { .. } => "TooLong",
        }
    }
}

/// A message's content was refused (docs/PROTOCOL.md §7, §8), with the
/// request id its `NACK` names (§8.3): read from the one decode of the
/// value, `None` when the message has none or it could not be read.
///
/// Made by [`Message::read`](crate::Message::read),
/// [`MessageRef::read`](crate::MessageRef::read) and
/// [`Payload::read`](crate::Payload::read).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{error}")]
pub struct Refused {
    /// Why the content was refused.
    pub error: PayloadError,
    /// The request id of the refused message, if it could be read.
    pub request_id: Option<u64>,
}

impl From<Refused> for PayloadError {
    fn from(refused: Refused) -> Self {
        refused.error
    }
}

/// Something the caller asked to send cannot be encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// A key field has the wrong length for the profile.
    #[error("{field} key is {len} bytes, the profile needs {expected}")]
    KeyLength {
        /// `"from"` or `"to"`.
        field: &'static str,
        /// The given length.
        len: usize,
        /// The profile's key length.
        expected: usize,
    },
    /// A signature has the wrong length for the profile.
    #[error("signature is {len} bytes, the profile needs {expected}")]
    SignatureLength {
        /// The given length.
        len: usize,
        /// The profile's signature length.
        expected: usize,
    },
    /// A transmission needs at least one message.
    #[error("a transmission needs at least one message")]
    Empty,
    /// A payload or body does not fit the 32-bit length field.
    #[error("{len} bytes do not fit a 32-bit length field")]
    TooLong {
        /// The length.
        len: usize,
    },
    /// A value nests deeper than the limit (docs/PROTOCOL.md §7).
    #[error("value nests deeper than {max}")]
    TooDeep {
        /// The limit.
        max: usize,
    },
    /// Compression failed.
    #[error("compression failed: {0}")]
    Compress(shoutnet_compress::Error),
    /// The payload breaks its schema or a limit of docs/PROTOCOL.md §11, so
    /// a receiver would refuse it.
    #[error("payload would be refused: {0}")]
    Invalid(PayloadError),
}

/// Any error of this crate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Framing failed.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// A payload is not one restricted value or breaks its schema.
    #[error(transparent)]
    Payload(#[from] PayloadError),
    /// Encoding failed.
    #[error(transparent)]
    Encode(#[from] EncodeError),
}

impl From<ValueError> for Error {
    fn from(e: ValueError) -> Self {
        Self::Payload(PayloadError::Value(e))
    }
}

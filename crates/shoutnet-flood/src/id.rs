//! The message id of a `SHOUT` (docs/PROTOCOL.md §8.5): SHA-256 of the
//! from-key, the opcode byte and the content (the body without its
//! signature), so every copy of one broadcast has one id, whoever forwards
//! it, and two broadcasts differ (their nonces do).

use std::fmt;

use sha2::{Digest, Sha256};

/// The id of a broadcast.
///
/// ```
/// use shoutnet_flood::MessageId;
/// let a = MessageId::of(&[1; 32], 0x40, b"content");
/// assert_eq!(a, MessageId::of(&[1; 32], 0x40, b"content"));
/// assert_ne!(a, MessageId::of(&[2; 32], 0x40, b"content"), "another origin");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MessageId(pub [u8; 32]);

impl MessageId {
    /// The id of the message from `from_key` with header opcode byte
    /// `opcode_byte` (`opcode << 4`) and `content`.
    pub fn of(from_key: &[u8], opcode_byte: u8, content: &[u8]) -> Self {
        let mut h = Sha256::new();
        h.update(from_key);
        h.update([opcode_byte]);
        h.update(content);
        Self(h.finalize().into())
    }
}

impl fmt::Debug for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MessageId(")?;
        for b in self.0.iter().take(8) {
            write!(f, "{b:02x}")?;
        }
        write!(f, "…)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_id_is_sha256_of_key_opcode_byte_and_content() {
        let mut h = Sha256::new();
        h.update([7u8; 32]);
        h.update([0x40]);
        h.update([1, 2, 3]);
        let expected: [u8; 32] = h.finalize().into();
        assert_eq!(MessageId::of(&[7; 32], 0x40, &[1, 2, 3]).0, expected);
        assert_ne!(
            MessageId::of(&[7; 32], 0x50, &[1, 2, 3]).0,
            expected,
            "SPEAK differs"
        );
    }
}

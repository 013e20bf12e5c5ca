//! One message: header fields plus its body, split into content and
//! signature (docs/PROTOCOL.md §5 and §5.2).

use bytes::Bytes;

use crate::header::HeaderTail;
use crate::{EncodeError, Flags, Opcode, Payload, PayloadError, Profile, Value, ValueLimits};

/// A message as carried in a transmission.
///
/// Decoding never copies: `from`, `to`, `content` and `signature` are slices
/// of the transmission's (decompressed) body.
///
/// ```
/// use bytes::Bytes;
/// use shoutnet_wire::{Broadcast, Message, Opcode, Payload, Profile, Value, ValueLimits};
///
/// let me = Bytes::from(vec![7u8; 32]);
/// let everyone = Bytes::from(vec![0u8; 32]);
/// let payload = Payload::Speak(Broadcast { nonce: 1, data: Value::from("hello") });
/// let msg = Message::from_payload(Profile::Ed25519, me, everyone, &payload).unwrap();
/// assert_eq!(msg.opcode, Opcode::Speak);
/// assert_eq!(msg.payload(Profile::Ed25519, &ValueLimits::default()).unwrap(), payload);
/// assert_eq!(msg.encoded_len(Profile::Ed25519), 70 + 8);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    /// Key field of the message's origin.
    pub from: Bytes,
    /// Key field of its destination, or all zeros for everyone.
    pub to: Bytes,
    /// The operation.
    pub opcode: Opcode,
    /// Whether `content` is ciphertext for the to-key.
    pub encrypted: bool,
    /// The body without its signature: one restricted msgpack value, or
    /// ciphertext when `encrypted`.
    pub content: Bytes,
    /// The signature at the end of the body, when the message is signed.
    pub signature: Option<Bytes>,
}

impl Message {
    /// A plain (unencrypted, unsigned) message with the given content.
    pub fn new(from: Bytes, to: Bytes, opcode: Opcode, content: Bytes) -> Self {
        Self {
            from,
            to,
            opcode,
            encrypted: false,
            content,
            signature: None,
        }
    }

    /// A plain message carrying `payload`, encoded for `profile`.
    pub fn from_payload(
        profile: Profile,
        from: Bytes,
        to: Bytes,
        payload: &Payload,
    ) -> Result<Self, EncodeError> {
        Ok(Self::new(
            from,
            to,
            payload.opcode(),
            payload.encode(profile)?,
        ))
    }

    /// The header's flags byte for this message.
    pub fn flags(&self) -> Flags {
        Flags {
            encrypted: self.encrypted,
            signed: self.signature.is_some(),
        }
    }

    /// Length of the body as sent: content plus signature.
    pub fn body_len(&self) -> usize {
        self.content.len() + self.signature.as_ref().map_or(0, Bytes::len)
    }

    /// Length of header plus body in `profile`.
    pub fn encoded_len(&self, profile: Profile) -> usize {
        profile.header_len() + self.body_len()
    }

    /// The bytes a signature covers: the header without its length field,
    /// then the content (docs/PROTOCOL.md §5.2).
    pub fn signed_bytes(&self) -> Vec<u8> {
        let mut out = self.covered_header();
        out.extend_from_slice(&self.content);
        out
    }

    /// The header without its length field: the associated data of
    /// encryption and the first part of what a signature covers.
    pub fn covered_header(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.from.len() + self.to.len() + 2 + self.content.len());
        out.extend_from_slice(&self.from);
        out.extend_from_slice(&self.to);
        out.extend_from_slice(&HeaderTail::op_and_flags(self.opcode, self.flags()));
        out
    }

    /// Decodes the content as one restricted msgpack value.
    pub fn value(&self, limits: &ValueLimits) -> Result<Value, PayloadError> {
        if self.encrypted {
            return Err(PayloadError::Encrypted(self.opcode));
        }
        Ok(Value::decode(&self.content, limits)?)
    }

    /// Decodes the content as the typed payload of the message's opcode.
    pub fn payload(&self, profile: Profile, limits: &ValueLimits) -> Result<Payload, PayloadError> {
        if self.encrypted {
            return Err(PayloadError::Encrypted(self.opcode));
        }
        Payload::decode(self.opcode, &self.content, profile, limits)
    }

    /// Checks the key and signature lengths against `profile`.
    pub(crate) fn check_lengths(&self, profile: Profile) -> Result<(), EncodeError> {
        for (field, key) in [("from", &self.from), ("to", &self.to)] {
            if key.len() != profile.key_len() {
                return Err(EncodeError::KeyLength {
                    field,
                    len: key.len(),
                    expected: profile.key_len(),
                });
            }
        }
        if let Some(sig) = &self.signature
            && sig.len() != profile.signature_len()
        {
            return Err(EncodeError::SignatureLength {
                len: sig.len(),
                expected: profile.signature_len(),
            });
        }
        if u32::try_from(self.body_len()).is_err() {
            return Err(EncodeError::TooLong {
                len: self.body_len(),
            });
        }
        Ok(())
    }
}

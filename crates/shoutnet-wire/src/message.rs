//! One message: header fields plus its body, split into content and
//! signature (docs/PROTOCOL.md §5 and §5.2).

use bytes::Bytes;

use crate::header::{TRANSMISSION_HEADER_LEN, header_without_length};
use crate::{
    EncodeError, Flags, Opcode, Payload, PayloadError, Profile, Refused, Value, ValueLimits,
};

/// A message as carried in a transmission.
///
/// From a decoded transmission ([`MessageRef::to_message`]), `content` and
/// `signature` are slices of the transmission's (decompressed) body, never
/// copied; `from` and `to`, at most 270 bytes each, are copies, so a key
/// kept beyond the input does not keep the whole body alive.
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
        let mut out = header_without_length(
            &self.from,
            &self.to,
            self.opcode,
            self.flags(),
            self.content.len(),
        );
        out.extend_from_slice(&self.content);
        out
    }

    /// The header without its length field: the associated data of
    /// encryption and the first part of what a signature covers.
    pub fn covered_header(&self) -> Vec<u8> {
        header_without_length(&self.from, &self.to, self.opcode, self.flags(), 0)
    }

    /// Decodes the content as one restricted msgpack value.
    pub fn value(&self, limits: &ValueLimits) -> Result<Value, PayloadError> {
        plain(self.opcode, self.encrypted)?;
        Ok(Value::decode(&self.content, limits)?)
    }

    /// Decodes the content as the typed payload of the message's opcode.
    pub fn payload(&self, profile: Profile, limits: &ValueLimits) -> Result<Payload, PayloadError> {
        plain(self.opcode, self.encrypted)?;
        Payload::decode(self.opcode, &self.content, profile, limits)
    }

    /// Decodes the content as the typed payload of the message's opcode,
    /// once; a refusal carries the request id the `NACK` answering it names
    /// (see [`Payload::read`]). An encrypted message is refused with
    /// [`PayloadError::Encrypted`] and no request id: its id is inside the
    /// ciphertext.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use shoutnet_wire::{Message, Opcode, PayloadError, Profile, ValueLimits};
    ///
    /// let key = Bytes::from(vec![1u8; 32]);
    /// // WHISPER [5]: one element short, but the request id is there.
    /// let msg = Message::new(key.clone(), key, Opcode::Whisper, Bytes::from_static(&[0x91, 0x05]));
    /// let refused = msg.read(Profile::Ed25519, &ValueLimits::default()).unwrap_err();
    /// assert_eq!(refused.request_id, Some(5));
    /// assert!(matches!(refused.error, PayloadError::Arity { len: 1, .. }));
    /// ```
    pub fn read(&self, profile: Profile, limits: &ValueLimits) -> Result<Payload, Refused> {
        plain(self.opcode, self.encrypted).map_err(unread)?;
        Payload::read(self.opcode, &self.content, profile, limits)
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

/// A refusal without a request id.
fn unread(error: PayloadError) -> Refused {
    Refused {
        error,
        request_id: None,
    }
}

/// Only plain content can be read as a value; ciphertext must be decrypted
/// first.
fn plain(opcode: Opcode, encrypted: bool) -> Result<(), PayloadError> {
    if encrypted {
        return Err(PayloadError::Encrypted(opcode));
    }
    Ok(())
}

/// Where one message lies in a decoded body: checked once by the decoder,
/// so reading it again cannot fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    /// Offset of the message header in the (decompressed) body.
    pub(crate) at: usize,
    pub(crate) opcode: Opcode,
    pub(crate) flags: Flags,
    /// Length of the body as sent: content plus signature.
    pub(crate) body_len: usize,
}

/// A message inside a decoded [`Transmission`](crate::Transmission),
/// borrowed from it: reading fields copies nothing and touches no reference
/// count. [`to_message`](Self::to_message) makes an owned [`Message`]
/// whose content still shares the transmission's buffer.
///
/// ```
/// use bytes::Bytes;
/// use shoutnet_wire::{Limits, Message, Method, MethodSet, Opcode, Profile, decode_transmission, encode_transmission};
///
/// let key = Bytes::from(vec![3u8; 32]);
/// let msg = Message::new(key.clone(), key, Opcode::Custom, Bytes::from_static(&[0x93, 0xc0, 0xa1, b'x', 1]));
/// let wire = encode_transmission(Profile::Ed25519, &[msg.clone()], Method::None).unwrap();
/// let tx = decode_transmission(wire, Profile::Ed25519, &Limits::default(), MethodSet::all()).unwrap();
/// let first = tx.get(0).unwrap();
/// assert_eq!(first.opcode(), Opcode::Custom);
/// assert_eq!(first.offset(), 6);
/// assert_eq!(first.content_offset(), 6 + 70);
/// assert_eq!(first.to_message(), msg);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct MessageRef<'a> {
    body: &'a Bytes,
    entry: &'a Entry,
    profile: Profile,
}

impl<'a> MessageRef<'a> {
    pub(crate) fn new(body: &'a Bytes, entry: &'a Entry, profile: Profile) -> Self {
        Self {
            body,
            entry,
            profile,
        }
    }

    /// The operation.
    pub fn opcode(&self) -> Opcode {
        self.entry.opcode
    }

    /// The header's flags.
    pub fn flags(&self) -> Flags {
        self.entry.flags
    }

    /// Whether the content is ciphertext.
    pub fn encrypted(&self) -> bool {
        self.entry.flags.encrypted
    }

    /// Key field of the message's origin.
    pub fn from(&self) -> &'a [u8] {
        self.bytes(self.entry.at, self.profile.key_len())
    }

    /// Key field of its destination.
    pub fn to(&self) -> &'a [u8] {
        self.bytes(
            self.entry.at + self.profile.key_len(),
            self.profile.key_len(),
        )
    }

    /// The body without its signature.
    pub fn content(&self) -> &'a [u8] {
        let (start, len) = self.content_range();
        self.bytes(start, len)
    }

    /// The signature at the end of the body, if the message is signed.
    pub fn signature(&self) -> Option<&'a [u8]> {
        let (start, len) = self.content_range();
        self.entry
            .flags
            .signed
            .then(|| self.bytes(start + len, self.profile.signature_len()))
    }

    /// Offset of the message header in the transmission, counting the
    /// 6-byte transmission header and the body as if uncompressed.
    pub fn offset(&self) -> usize {
        TRANSMISSION_HEADER_LEN + self.entry.at
    }

    /// Offset of the content, counted like [`offset`](Self::offset).
    pub fn content_offset(&self) -> usize {
        self.offset() + self.profile.header_len()
    }

    /// Decodes the content as one restricted msgpack value; binaries share
    /// the transmission's buffer.
    pub fn value(&self, limits: &ValueLimits) -> Result<Value, PayloadError> {
        plain(self.opcode(), self.encrypted())?;
        Ok(Value::decode(&self.content_bytes(), limits)?)
    }

    /// Decodes the content as the typed payload of the message's opcode.
    pub fn payload(&self, limits: &ValueLimits) -> Result<Payload, PayloadError> {
        plain(self.opcode(), self.encrypted())?;
        Payload::decode(self.opcode(), &self.content_bytes(), self.profile, limits)
    }

    /// Decodes the content as the typed payload of the message's opcode,
    /// once; a refusal carries the request id the `NACK` answering it names
    /// (see [`Message::read`]).
    pub fn read(&self, limits: &ValueLimits) -> Result<Payload, Refused> {
        plain(self.opcode(), self.encrypted()).map_err(unread)?;
        Payload::read(self.opcode(), &self.content_bytes(), self.profile, limits)
    }

    /// An owned message. Its content and signature share the transmission's
    /// buffer; its from- and to-keys are copies (at most 270 bytes each), so
    /// that keeping a key does not keep the body.
    pub fn to_message(&self) -> Message {
        let (start, len) = self.content_range();
        Message {
            from: Bytes::copy_from_slice(self.from()),
            to: Bytes::copy_from_slice(self.to()),
            opcode: self.opcode(),
            encrypted: self.encrypted(),
            content: self.content_bytes(),
            signature: self.entry.flags.signed.then(|| {
                self.body
                    .slice(start + len..start + len + self.profile.signature_len())
            }),
        }
    }

    /// Start and length of the content in the body.
    fn content_range(&self) -> (usize, usize) {
        let signature = if self.entry.flags.signed {
            self.profile.signature_len()
        } else {
            0
        };
        (
            self.entry.at + self.profile.header_len(),
            self.entry.body_len - signature,
        )
    }

    fn content_bytes(&self) -> Bytes {
        let (start, len) = self.content_range();
        self.body.slice(start..start + len)
    }

    /// The decoder checked every range it recorded, so the fallback is never
    /// taken; it only keeps this free of panicking indexing.
    fn bytes(&self, start: usize, len: usize) -> &'a [u8] {
        self.body.get(start..start + len).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use shoutnet_compress::MethodSet;

    use super::*;
    use crate::{Limits, Method, decode_transmission, encode_transmission};

    fn custom(content: &'static [u8], profile: Profile) -> Message {
        let key = Bytes::from(vec![5u8; profile.key_len()]);
        Message::new(
            key.clone(),
            key,
            Opcode::Custom,
            Bytes::from_static(content),
        )
    }

    #[test]
    fn views_count_offsets_through_signatures_and_match_owned_messages() {
        for p in Profile::ALL {
            let mut signed = custom(&[0xc0], p);
            signed.signature = Some(Bytes::from(vec![9; p.signature_len()]));
            let messages = [custom(&[0xc0, 0xc0], p), signed, custom(&[0xc0], p)];
            let wire = encode_transmission(p, &messages, Method::Zlib).unwrap();
            let tx = decode_transmission(wire, p, &Limits::default(), MethodSet::all()).unwrap();
            let h = p.header_len();
            let offsets: Vec<_> = tx.iter().map(|m| m.content_offset()).collect();
            // The signature of message 1 counts: it sits at the end of its body.
            assert_eq!(
                offsets,
                [
                    6 + h,
                    6 + (h + 2) + h,
                    6 + (h + 2) + (h + 1 + p.signature_len()) + h
                ]
            );
            assert_eq!(tx.to_messages(), messages);
            let view = tx.get(1).unwrap();
            assert_eq!(view.signature(), messages[1].signature.as_deref());
            assert_eq!(view.content(), &[0xc0]);
            assert_eq!(view.from(), &messages[1].from[..]);
            assert_eq!(view.value(&ValueLimits::default()), Ok(Value::Nil));
        }
    }
}

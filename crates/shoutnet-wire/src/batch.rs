//! Batching messages into one transmission and splitting a transmission back
//! into messages (docs/PROTOCOL.md §4–§6).

use bytes::{BufMut, Bytes, BytesMut};
use shoutnet_compress::{Method, MethodSet};

use crate::header::{HeaderTail, TRANSMISSION_HEADER_LEN};
use crate::message::{Entry, MessageRef};
use crate::{DecodeError, EncodeError, Limits, Message, Profile, TransmissionHeader};

/// Bytes [`BatchEncoder::new`] reserves: 16 KiB holds 100 small messages of
/// the `ed25519` profile, or a few dozen of `rsa2048`, without reallocating.
pub const DEFAULT_BATCH_CAPACITY: usize = 16 * 1024;

/// Builds one transmission from messages, writing each header and body
/// straight into the output buffer.
///
/// ```
/// use bytes::Bytes;
/// use shoutnet_compress::{Method, MethodSet};
/// use shoutnet_wire::{BatchEncoder, Limits, Message, Opcode, Profile, decode_transmission};
///
/// let key = Bytes::from(vec![1u8; 32]);
/// let mut batch = BatchEncoder::new(Profile::Ed25519);
/// for _ in 0..3 {
///     let msg = Message::new(key.clone(), key.clone(), Opcode::Custom, Bytes::from_static(&[0xc0]));
///     batch.push(&msg).unwrap();
/// }
/// let wire = batch.finish(Method::Zlib).unwrap();
/// let tx = decode_transmission(wire, Profile::Ed25519, &Limits::default(), MethodSet::all()).unwrap();
/// assert_eq!(tx.len(), 3);
/// ```
#[derive(Debug)]
pub struct BatchEncoder {
    profile: Profile,
    /// Transmission header placeholder, then the uncompressed body.
    buf: Vec<u8>,
    messages: usize,
}

impl BatchEncoder {
    /// An empty batch for `profile`, with room for a typical batch
    /// ([`DEFAULT_BATCH_CAPACITY`] bytes) so that small batches never
    /// reallocate. Use [`with_capacity`](Self::with_capacity) when the size
    /// is known.
    pub fn new(profile: Profile) -> Self {
        Self::with_capacity(profile, DEFAULT_BATCH_CAPACITY)
    }

    /// An empty batch with room for `body_bytes` of headers and bodies.
    pub fn with_capacity(profile: Profile, body_bytes: usize) -> Self {
        let mut buf = Vec::with_capacity(TRANSMISSION_HEADER_LEN + body_bytes);
        buf.extend_from_slice(&[0; TRANSMISSION_HEADER_LEN]);
        Self {
            profile,
            buf,
            messages: 0,
        }
    }

    /// Appends one message, after checking its key and signature lengths.
    pub fn push(&mut self, msg: &Message) -> Result<(), EncodeError> {
        msg.check_lengths(self.profile)?;
        self.buf.reserve(msg.encoded_len(self.profile));
        let [op, flags] = HeaderTail::op_and_flags(msg.opcode, msg.flags());
        // check_lengths proved the body fits in 32 bits.
        let [l0, l1, l2, l3] = (msg.body_len() as u32).to_be_bytes();
        self.buf.extend_from_slice(&msg.from);
        self.buf.extend_from_slice(&msg.to);
        self.buf.extend_from_slice(&[op, flags, l0, l1, l2, l3]);
        self.buf.extend_from_slice(&msg.content);
        if let Some(sig) = &msg.signature {
            self.buf.extend_from_slice(sig);
        }
        self.messages += 1;
        Ok(())
    }

    /// Number of messages pushed so far.
    pub fn len(&self) -> usize {
        self.messages
    }

    /// Whether no message has been pushed.
    pub fn is_empty(&self) -> bool {
        self.messages == 0
    }

    /// Length of the uncompressed body so far.
    pub fn body_len(&self) -> usize {
        self.buf.len() - TRANSMISSION_HEADER_LEN
    }

    /// Compresses the body with `compression` and returns the transmission.
    pub fn finish(mut self, compression: Method) -> Result<Bytes, EncodeError> {
        if self.messages == 0 {
            return Err(EncodeError::Empty);
        }
        if compression == Method::None {
            let header = header_for(compression, self.body_len())?;
            if let Some(slot) = self.buf.get_mut(..TRANSMISSION_HEADER_LEN) {
                slot.copy_from_slice(&header);
            }
            return Ok(Bytes::from(self.buf));
        }
        let body = self.buf.get(TRANSMISSION_HEADER_LEN..).unwrap_or_default();
        let compressed =
            shoutnet_compress::compress(compression, body).map_err(EncodeError::Compress)?;
        let mut out = BytesMut::with_capacity(TRANSMISSION_HEADER_LEN + compressed.len());
        out.put_slice(&header_for(compression, compressed.len())?);
        out.put_slice(&compressed);
        Ok(out.freeze())
    }
}

fn header_for(
    compression: Method,
    body_len: usize,
) -> Result<[u8; TRANSMISSION_HEADER_LEN], EncodeError> {
    if u32::try_from(body_len).is_err() {
        return Err(EncodeError::TooLong { len: body_len });
    }
    Ok(TransmissionHeader {
        compression,
        body_len,
    }
    .to_bytes())
}

/// Encodes `messages` as one transmission compressed with `compression`.
pub fn encode_transmission(
    profile: Profile,
    messages: &[Message],
    compression: Method,
) -> Result<Bytes, EncodeError> {
    let body: usize = messages.iter().map(|m| m.encoded_len(profile)).sum();
    let mut batch = BatchEncoder::with_capacity(profile, body);
    for msg in messages {
        batch.push(msg)?;
    }
    batch.finish(compression)
}

/// A decoded transmission: the (decompressed) body, shared, and where each
/// message lies in it. Reading a message borrows from the body, so decoding
/// costs one small index entry per message and no reference counting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transmission {
    /// How the body was compressed.
    pub compression: Method,
    profile: Profile,
    body: Bytes,
    entries: Vec<Entry>,
}

impl Transmission {
    /// The length of the body after decompression: what decoding it cost
    /// in memory.
    pub fn body_len(&self) -> usize {
        self.body.len()
    }

    /// The key profile the transmission was decoded with.
    pub fn profile(&self) -> Profile {
        self.profile
    }

    /// Number of messages (at least one).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Always false: a transmission holds at least one message.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Message `index`, if there is one.
    pub fn get(&self, index: usize) -> Option<MessageRef<'_>> {
        self.entries.get(index).map(|entry| self.message(entry))
    }

    /// The messages, in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = MessageRef<'_>> {
        self.entries.iter().map(|entry| self.message(entry))
    }

    /// Owned copies of the messages; their byte fields share the body.
    pub fn to_messages(&self) -> Vec<Message> {
        self.iter().map(|m| m.to_message()).collect()
    }

    fn message<'a>(&'a self, entry: &'a Entry) -> MessageRef<'a> {
        MessageRef::new(&self.body, entry, self.profile)
    }
}

/// A framed transmission whose body has not been split yet: what the
/// [`StreamDecoder`](crate::StreamDecoder) yields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// The parsed header.
    pub header: TransmissionHeader,
    /// The body as sent (still compressed).
    pub body: Bytes,
}

impl Frame {
    /// Decompresses the body (stopping at `limits.max_decompressed`) and
    /// splits it into messages without copying them.
    pub fn decode(self, profile: Profile, limits: &Limits) -> Result<Transmission, DecodeError> {
        let body = match self.header.compression {
            Method::None => self.body,
            method => shoutnet_compress::decompress(method, &self.body, limits.max_decompressed)
                .map(Bytes::from)
                .map_err(DecodeError::Decompress)?,
        };
        if body.is_empty() {
            // Only a compressed body can shrink to nothing; the header check
            // already refused an empty one as sent.
            return Err(DecodeError::EmptyTransmission {
                offset: TRANSMISSION_HEADER_LEN,
            });
        }
        let entries = split_body(&body, profile, limits)?;
        Ok(Transmission {
            compression: self.header.compression,
            profile,
            body,
            entries,
        })
    }
}

/// Decodes one complete transmission: exactly a header and the body it
/// announces, nothing more.
///
/// `accepted` is the set of compression methods this side has accepted for
/// the connection; use [`MethodSet::all`] for offline decoding.
pub fn decode_transmission(
    data: Bytes,
    profile: Profile,
    limits: &Limits,
    accepted: MethodSet,
) -> Result<Transmission, DecodeError> {
    let header_bytes: [u8; TRANSMISSION_HEADER_LEN] = data
        .get(..TRANSMISSION_HEADER_LEN)
        .and_then(|h| h.try_into().ok())
        .ok_or(DecodeError::Truncated {
            offset: data.len(),
            needed: TRANSMISSION_HEADER_LEN - data.len().min(TRANSMISSION_HEADER_LEN),
        })?;
    let header = TransmissionHeader::parse(header_bytes, limits, accepted)?;
    let end = TRANSMISSION_HEADER_LEN + header.body_len;
    if data.len() < end {
        return Err(DecodeError::Truncated {
            offset: data.len(),
            needed: end - data.len(),
        });
    }
    if data.len() > end {
        return Err(DecodeError::BytesAfterTransmission {
            offset: end,
            extra: data.len() - end,
        });
    }
    Frame {
        header,
        body: data.slice(TRANSMISSION_HEADER_LEN..),
    }
    .decode(profile, limits)
}

/// Splits a decompressed body into message entries. Offsets in errors count
/// the 6-byte transmission header, as if the body were uncompressed.
fn split_body(body: &Bytes, profile: Profile, limits: &Limits) -> Result<Vec<Entry>, DecodeError> {
    let key_len = profile.key_len();
    let header_len = profile.header_len();
    // Every message takes at least a header, so this bounds the count
    // without a second pass; the limit bounds the allocation.
    let mut entries = Vec::with_capacity((body.len() / header_len + 1).min(limits.max_messages));
    let mut pos = 0;
    while pos < body.len() {
        let offset = TRANSMISSION_HEADER_LEN + pos;
        if entries.len() == limits.max_messages {
            return Err(DecodeError::TooManyMessages {
                offset,
                max: limits.max_messages,
            });
        }
        let remaining = body.len() - pos;
        if remaining < header_len {
            return Err(DecodeError::Truncated {
                offset: TRANSMISSION_HEADER_LEN + body.len(),
                needed: header_len - remaining,
            });
        }
        let tail_at = pos + 2 * key_len;
        let tail: [u8; 6] = body
            .get(tail_at..tail_at + 6)
            .and_then(|t| t.try_into().ok())
            .ok_or(DecodeError::Truncated { offset, needed: 6 })?;
        let tail = HeaderTail::parse(tail, TRANSMISSION_HEADER_LEN + tail_at)?;
        let len = tail.payload_len;
        if len > limits.max_payload {
            return Err(DecodeError::PayloadTooLarge {
                offset,
                len,
                max: limits.max_payload,
            });
        }
        if len > remaining - header_len {
            return Err(DecodeError::PayloadPastEnd { offset, len });
        }
        if tail.flags.signed && len < profile.signature_len() {
            return Err(DecodeError::MissingSignature {
                offset,
                len,
                needed: profile.signature_len(),
            });
        }
        entries.push(Entry {
            at: pos,
            opcode: tail.opcode,
            flags: tail.flags,
            body_len: len,
        });
        pos += header_len + len;
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Opcode;

    const P: Profile = Profile::Ed25519;

    fn msg(content: &'static [u8]) -> Message {
        let key = Bytes::from(vec![9u8; P.key_len()]);
        Message::new(
            key.clone(),
            key,
            Opcode::Custom,
            Bytes::from_static(content),
        )
    }

    fn wire(messages: &[Message]) -> Vec<u8> {
        encode_transmission(P, messages, Method::None)
            .unwrap()
            .to_vec()
    }

    fn decode(bytes: Vec<u8>, limits: &Limits) -> Result<Transmission, DecodeError> {
        decode_transmission(Bytes::from(bytes), P, limits, MethodSet::all())
    }

    #[test]
    fn framing_violations_are_distinct_errors_with_offsets() {
        let limits = Limits::default();
        let two = wire(&[msg(&[0xc0]), msg(&[0x90])]);
        let first_len = P.header_len() + 1;

        let mut cut = two.clone();
        cut.truncate(two.len() - 3);
        assert_eq!(
            decode(cut, &limits),
            Err(DecodeError::Truncated {
                offset: two.len() - 3,
                needed: 3
            })
        );

        let mut trailing = two.clone();
        trailing.push(0);
        assert_eq!(
            decode(trailing, &limits),
            Err(DecodeError::BytesAfterTransmission {
                offset: two.len(),
                extra: 1
            })
        );

        // The second message's payload length claims one byte more than is left.
        let mut past_end = two.clone();
        let len_at = 6 + first_len + P.header_len() - 1;
        past_end[len_at] = 2;
        assert_eq!(
            decode(past_end, &limits),
            Err(DecodeError::PayloadPastEnd {
                offset: 6 + first_len,
                len: 2
            })
        );

        // Claiming a signature on a one-byte payload.
        let mut unsigned = two.clone();
        unsigned[6 + 2 * P.key_len() + 1] = 0x02;
        assert_eq!(
            decode(unsigned, &limits),
            Err(DecodeError::MissingSignature {
                offset: 6,
                len: 1,
                needed: 64
            })
        );

        let few = Limits {
            max_messages: 1,
            ..limits
        };
        assert_eq!(
            decode(two.clone(), &few),
            Err(DecodeError::TooManyMessages {
                offset: 6 + first_len,
                max: 1
            })
        );
        let small = Limits {
            max_payload: 0,
            ..limits
        };
        assert_eq!(
            decode(two, &small),
            Err(DecodeError::PayloadTooLarge {
                offset: 6,
                len: 1,
                max: 0
            })
        );
    }

    #[test]
    fn a_body_cut_inside_a_message_header_is_truncated() {
        let mut bytes = wire(&[msg(&[0xc0])]);
        bytes.extend_from_slice(&[1, 2, 3]);
        let body_len = (bytes.len() - 6) as u32;
        bytes[2..6].copy_from_slice(&body_len.to_be_bytes());
        let end = bytes.len();
        assert_eq!(
            decode(bytes, &Limits::default()),
            Err(DecodeError::Truncated {
                offset: end,
                needed: P.header_len() - 3
            })
        );
    }

    #[test]
    fn a_body_that_decompresses_to_nothing_is_empty() {
        let empty = shoutnet_compress::compress(Method::Zlib, &[]).unwrap();
        let mut bytes = vec![0, Method::Zlib.id()];
        bytes.extend_from_slice(&(empty.len() as u32).to_be_bytes());
        bytes.extend_from_slice(&empty);
        assert_eq!(
            decode(bytes, &Limits::default()),
            Err(DecodeError::EmptyTransmission { offset: 6 })
        );
    }

    /// xz allows stream padding (multiples of 4 zero bytes) after a stream;
    /// §3 counts it as bytes after the one stream, so the body is refused.
    #[test]
    fn xz_stream_padding_is_trailing_data() {
        let wire = encode_transmission(P, &[msg(&[0xc0])], Method::Lzma).unwrap();
        let mut padded = wire.to_vec();
        padded.extend_from_slice(&[0; 4]);
        let body_len = (padded.len() - 6) as u32;
        padded[2..6].copy_from_slice(&body_len.to_be_bytes());
        let err = decode(padded, &Limits::default()).unwrap_err();
        assert!(matches!(err, DecodeError::Decompress(_)), "{err:?}");
        assert!(decode(wire.to_vec(), &Limits::default()).is_ok());
    }

    #[test]
    fn decompression_stops_at_the_limit() {
        let big = vec![msg(&[0xc0]); 1000];
        let wire = encode_transmission(P, &big, Method::Gzip).unwrap();
        let limits = Limits {
            max_decompressed: 4096,
            ..Limits::default()
        };
        let err = decode_transmission(wire, P, &limits, MethodSet::all()).unwrap_err();
        assert!(
            matches!(
                err,
                DecodeError::Decompress(shoutnet_compress::Error::OutputLimit { limit: 4096, .. })
            ),
            "{err:?}"
        );
    }

    #[test]
    fn uncompressed_decoding_shares_the_input_buffer() {
        let bytes = encode_transmission(P, &[msg(b"\xa3abc")], Method::None).unwrap();
        let range = bytes.as_ptr_range();
        let tx =
            decode_transmission(bytes.clone(), P, &Limits::default(), MethodSet::all()).unwrap();
        let msg = tx.get(0).unwrap();
        assert!(
            range.contains(&msg.content().as_ptr()),
            "content was copied"
        );
        assert!(
            range.contains(&msg.to_message().content.as_ptr()),
            "owned content was copied"
        );
    }
}

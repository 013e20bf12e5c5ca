//! Batching messages into one transmission and splitting a transmission back
//! into messages (docs/PROTOCOL.md §4–§6).

use bytes::{BufMut, Bytes, BytesMut};
use shoutnet_compress::{Method, MethodSet};

use crate::header::{HeaderTail, TRANSMISSION_HEADER_LEN};
use crate::{DecodeError, EncodeError, Limits, Message, Profile, TransmissionHeader};

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
/// assert_eq!(tx.messages.len(), 3);
/// ```
#[derive(Debug)]
pub struct BatchEncoder {
    profile: Profile,
    /// Transmission header placeholder, then the uncompressed body.
    buf: BytesMut,
    messages: usize,
}

impl BatchEncoder {
    /// An empty batch for `profile`.
    pub fn new(profile: Profile) -> Self {
        Self::with_capacity(profile, 0)
    }

    /// An empty batch with room for `body_bytes` of headers and bodies.
    pub fn with_capacity(profile: Profile, body_bytes: usize) -> Self {
        let mut buf = BytesMut::with_capacity(TRANSMISSION_HEADER_LEN + body_bytes);
        buf.put_bytes(0, TRANSMISSION_HEADER_LEN);
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
        self.buf.put_slice(&msg.from);
        self.buf.put_slice(&msg.to);
        self.buf
            .put_slice(&HeaderTail::op_and_flags(msg.opcode, msg.flags()));
        // check_lengths proved the body fits in 32 bits.
        self.buf.put_u32(msg.body_len() as u32);
        self.buf.put_slice(&msg.content);
        if let Some(sig) = &msg.signature {
            self.buf.put_slice(sig);
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
            return Ok(self.buf.freeze());
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

/// A decoded transmission.
#[derive(Clone, Debug, PartialEq)]
pub struct Transmission {
    /// How the body was compressed.
    pub compression: Method,
    /// The messages, in order.
    pub messages: Vec<Message>,
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
        Ok(Transmission {
            compression: self.header.compression,
            messages: split_body(&body, profile, limits)?,
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
        return Err(DecodeError::TrailingBytes {
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

/// Splits a decompressed body into messages. Offsets in errors count the
/// 6-byte transmission header, as if the body were uncompressed.
fn split_body(
    body: &Bytes,
    profile: Profile,
    limits: &Limits,
) -> Result<Vec<Message>, DecodeError> {
    let key_len = profile.key_len();
    let header_len = profile.header_len();
    let mut messages = Vec::new();
    let mut pos = 0;
    while pos < body.len() {
        let offset = TRANSMISSION_HEADER_LEN + pos;
        if messages.len() == limits.max_messages {
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
        let body_start = pos + header_len;
        if len > body.len() - body_start {
            return Err(DecodeError::PayloadPastEnd { offset, len });
        }
        let body_end = body_start + len;
        let (content, signature) = if tail.flags.signed {
            let sig_len = profile.signature_len();
            if len < sig_len {
                return Err(DecodeError::MissingSignature {
                    offset,
                    len,
                    needed: sig_len,
                });
            }
            (
                body.slice(body_start..body_end - sig_len),
                Some(body.slice(body_end - sig_len..body_end)),
            )
        } else {
            (body.slice(body_start..body_end), None)
        };
        messages.push(Message {
            from: body.slice(pos..pos + key_len),
            to: body.slice(pos + key_len..tail_at),
            opcode: tail.opcode,
            encrypted: tail.flags.encrypted,
            content,
            signature,
        });
        pos = body_end;
    }
    Ok(messages)
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
            Err(DecodeError::TrailingBytes {
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
        let content = &tx.messages[0].content;
        assert!(range.contains(&content.as_ptr()), "content was copied");
    }
}

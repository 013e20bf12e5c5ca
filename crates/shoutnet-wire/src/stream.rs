//! Incremental framing of a byte stream into transmissions (docs/PROTOCOL.md
//! §4), for drivers that read from sockets.

use bytes::{Buf, BytesMut};
use shoutnet_compress::{Method, MethodSet};

use crate::header::TRANSMISSION_HEADER_LEN;
use crate::{DecodeError, Frame, Limits, TransmissionHeader};

/// The most a [`StreamDecoder`] reserves for a body when its header
/// arrives (64 KiB); past that, the buffer grows only as body bytes arrive.
pub const INITIAL_BODY_RESERVE: usize = 64 * 1024;

/// Turns bytes arriving in any split into whole [`Frame`]s.
///
/// The header is checked as soon as its 6 bytes are here, so a peer that
/// announces an oversized body, sets a reserved bit or uses an unaccepted
/// compression is refused before a single body byte is buffered. The buffer
/// holds at most one incomplete frame plus the bytes of the last
/// [`push`](Self::push): drain with [`next_frame`](Self::next_frame) after
/// every push. Its capacity follows the bytes received, not the length a
/// header announces: a header reserves at most [`INITIAL_BODY_RESERVE`]. After an error the decoder stays failed: close the
/// connection.
///
/// ```
/// use shoutnet_wire::{Limits, StreamDecoder};
///
/// let mut decoder = StreamDecoder::new(Limits::default());
/// let wire = [0u8, 0, 0, 0, 0, 2, 0xc0, 0xc0];
/// decoder.push(&wire[..3]);
/// assert_eq!(decoder.next_frame(), Ok(None)); // incomplete, not invalid
/// decoder.push(&wire[3..]);
/// let frame = decoder.next_frame().unwrap().unwrap();
/// assert_eq!(&frame.body[..], &[0xc0, 0xc0]);
/// assert_eq!(decoder.next_frame(), Ok(None));
/// ```
#[derive(Debug)]
pub struct StreamDecoder {
    limits: Limits,
    accepted: MethodSet,
    buf: BytesMut,
    /// The header of the frame whose body is being collected.
    pending: Option<TransmissionHeader>,
    /// The first error, repeated on every later call.
    failed: Option<DecodeError>,
}

impl StreamDecoder {
    /// A decoder that accepts only uncompressed transmissions until
    /// [`accept`](Self::accept) is called.
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            accepted: MethodSet::only_none(),
            buf: BytesMut::new(),
            pending: None,
            failed: None,
        }
    }

    /// Accepts `method` for the rest of the connection (after this side has
    /// ACKed the peer's `SET_CONNECTION_OPT`).
    pub fn accept(&mut self, method: Method) {
        self.accepted.insert(method);
    }

    /// The methods accepted so far.
    pub fn accepted(&self) -> MethodSet {
        self.accepted
    }

    /// Number of bytes buffered and not yet returned in a frame.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Bytes the buffer has room for, used or not: what the decoder holds in
    /// memory between frames.
    pub fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// Appends bytes read from the connection.
    pub fn push(&mut self, data: &[u8]) {
        if self.failed.is_none() {
            self.buf.extend_from_slice(data);
        }
    }

    /// The next whole frame, `Ok(None)` when more bytes are needed, or the
    /// framing error that must close the connection.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, DecodeError> {
        if let Some(err) = self.failed {
            return Err(err);
        }
        match self.try_next() {
            Err(err) => {
                self.failed = Some(err);
                self.buf = BytesMut::new();
                Err(err)
            }
            ok => ok,
        }
    }

    fn try_next(&mut self) -> Result<Option<Frame>, DecodeError> {
        let header = match self.pending {
            Some(header) => header,
            None => {
                let Some(bytes) = self
                    .buf
                    .get(..TRANSMISSION_HEADER_LEN)
                    .and_then(|h| <[u8; TRANSMISSION_HEADER_LEN]>::try_from(h).ok())
                else {
                    return Ok(None);
                };
                let header = TransmissionHeader::parse(bytes, &self.limits, self.accepted)?;
                self.buf.advance(TRANSMISSION_HEADER_LEN);
                // Room for the body, but at most INITIAL_BODY_RESERVE: a
                // header is 6 bytes a peer can send without following them
                // up, so announcing 16 MiB must not cost 16 MiB. The buffer
                // grows with the bytes that actually arrive.
                let wanted = header.body_len.min(INITIAL_BODY_RESERVE);
                self.buf.reserve(wanted.saturating_sub(self.buf.len()));
                self.pending = Some(header);
                header
            }
        };
        if self.buf.len() < header.body_len {
            return Ok(None);
        }
        self.pending = None;
        let body = self.buf.split_to(header.body_len).freeze();
        Ok(Some(Frame { header, body }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(decoder: &mut StreamDecoder) -> Vec<Frame> {
        let mut out = Vec::new();
        while let Some(frame) = decoder.next_frame().unwrap() {
            out.push(frame);
        }
        out
    }

    #[test]
    fn every_split_of_two_frames_yields_the_same_frames() {
        let wire = [0u8, 0, 0, 0, 0, 1, 0xc0, 0, 0, 0, 0, 0, 3, 0x93, 1, 2];
        for split in 0..=wire.len() {
            let mut decoder = StreamDecoder::new(Limits::default());
            decoder.push(&wire[..split]);
            let mut got = frames(&mut decoder);
            decoder.push(&wire[split..]);
            got.extend(frames(&mut decoder));
            assert_eq!(got.len(), 2, "split at {split}");
            assert_eq!(&got[0].body[..], &[0xc0]);
            assert_eq!(&got[1].body[..], &[0x93, 1, 2]);
            assert_eq!(decoder.buffered(), 0);
        }
    }

    #[test]
    fn oversized_header_fails_before_the_body_arrives_and_stays_failed() {
        let limits = Limits {
            max_transmission: 10,
            ..Limits::default()
        };
        let mut decoder = StreamDecoder::new(limits);
        decoder.push(&[0, 0, 0, 0, 0, 11]);
        let err = DecodeError::TransmissionTooLarge { len: 11, max: 10 };
        assert_eq!(decoder.next_frame(), Err(err));
        decoder.push(&[0; 11]);
        assert_eq!(decoder.buffered(), 0);
        assert_eq!(decoder.next_frame(), Err(err));
    }

    /// A peer announces the largest body the limits allow and sends
    /// nothing more: the decoder reserves 64 KiB, not 16 MiB, and grows
    /// only with the body bytes that come.
    #[test]
    fn an_announced_body_costs_only_what_arrives() {
        let limits = Limits::default();
        let max = limits.max_transmission;
        let mut decoder = StreamDecoder::new(limits);
        decoder.push(&[0, 0]);
        decoder.push(&u32::try_from(max).unwrap().to_be_bytes());
        assert_eq!(decoder.next_frame(), Ok(None));
        assert!(
            decoder.capacity() <= INITIAL_BODY_RESERVE + TRANSMISSION_HEADER_LEN,
            "a 16 MiB announcement reserved {} bytes",
            decoder.capacity()
        );
        // 1 MiB of the body arrives: the buffer holds about that much.
        for _ in 0..16 {
            decoder.push(&[0; 64 * 1024]);
            assert_eq!(decoder.next_frame(), Ok(None));
        }
        assert_eq!(decoder.buffered(), 1 << 20);
        assert!(decoder.capacity() <= 2 << 20, "{}", decoder.capacity());
        // The rest arrives and the frame is whole.
        decoder.push(&vec![0; max - (1 << 20)]);
        let frame = decoder.next_frame().unwrap().unwrap();
        assert_eq!(frame.body.len(), max);
    }

    #[test]
    fn a_small_body_is_reserved_whole() {
        let mut decoder = StreamDecoder::new(Limits::default());
        decoder.push(&[0, 0, 0, 0, 0x10, 0]);
        assert_eq!(decoder.next_frame(), Ok(None));
        assert!(decoder.capacity() >= 0x1000, "{}", decoder.capacity());
        assert!(decoder.capacity() <= INITIAL_BODY_RESERVE);
    }

    #[test]
    fn compression_is_refused_until_accepted() {
        let mut decoder = StreamDecoder::new(Limits::default());
        decoder.push(&[0, 4, 0, 0, 0, 1, 0]);
        assert_eq!(
            decoder.next_frame(),
            Err(DecodeError::UnnegotiatedCompression(Method::Zlib))
        );
        let mut decoder = StreamDecoder::new(Limits::default());
        decoder.accept(Method::Zlib);
        decoder.push(&[0, 4, 0, 0, 0, 1, 0]);
        assert_eq!(
            decoder.next_frame().unwrap().unwrap().header.compression,
            Method::Zlib
        );
    }
}

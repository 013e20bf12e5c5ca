//! A connection's outbox (docs/PROTOCOL.md §11, "Send queues"): the
//! messages waiting for the next transmissions, bounded in encoded bytes,
//! in two lanes.
//!
//! The node's own traffic (its requests, its answers, its own broadcasts
//! and whispers) goes in [`Lane::Own`]; what it passes on for others
//! (forwarded `SHOUT`s, relayed `WHISPER`s and their answers) goes in
//! [`Lane::Forwarded`]. Transmissions drain the own lane first. When the
//! bound is reached, a forwarded message is refused, and an own message
//! takes the room of the oldest forwarded ones: a slow peer can delay
//! what the node forwards, never what it asks or answers.

use std::collections::VecDeque;

use bytes::Bytes;
use shoutnet_compress::Method;
use shoutnet_wire::{BatchEncoder, Message, Profile};

/// Which lane a message waits in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Lane {
    /// The node's own requests, answers, broadcasts and whispers.
    Own,
    /// What the node passes on for others.
    Forwarded,
}

/// What [`Outbox::push`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Pushed {
    /// Queued, after dropping `evicted` forwarded messages to make room.
    Queued {
        /// Forwarded messages dropped for it.
        evicted: usize,
    },
    /// Not queued: no room, and nothing it may evict.
    Full,
}

/// The messages waiting for one connection, bounded in encoded bytes.
#[derive(Debug, Default)]
pub(crate) struct Outbox {
    own: VecDeque<(Message, usize)>,
    forwarded: VecDeque<(Message, usize)>,
    bytes: usize,
}

impl Outbox {
    /// Queues `msg` of `len` encoded bytes in `lane`, keeping the outbox
    /// within `max_bytes`.
    pub(crate) fn push(
        &mut self,
        msg: Message,
        len: usize,
        lane: Lane,
        max_bytes: usize,
    ) -> Pushed {
        let mut evicted = 0;
        while self.bytes.saturating_add(len) > max_bytes {
            if lane == Lane::Forwarded {
                return Pushed::Full;
            }
            let Some((_, old)) = self.forwarded.pop_front() else {
                return Pushed::Full;
            };
            self.bytes -= old;
            evicted += 1;
        }
        self.bytes += len;
        match lane {
            Lane::Own => self.own.push_back((msg, len)),
            Lane::Forwarded => self.forwarded.push_back((msg, len)),
        }
        Pushed::Queued { evicted }
    }

    /// The encoded bytes queued.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    /// Whether nothing is queued.
    pub(crate) fn is_empty(&self) -> bool {
        self.own.is_empty() && self.forwarded.is_empty()
    }

    /// The next message to send and its length: the own lane first.
    fn front(&self) -> Option<usize> {
        self.own
            .front()
            .or_else(|| self.forwarded.front())
            .map(|(_, len)| *len)
    }

    fn pop(&mut self) -> Option<Message> {
        let (msg, len) = self
            .own
            .pop_front()
            .or_else(|| self.forwarded.pop_front())?;
        self.bytes -= len;
        Some(msg)
    }

    /// Encodes queued messages, own lane first, as one transmission whose
    /// body stays within `max_body` (the peer's limit) and, once it holds
    /// a message, within `batch_bytes` (so that large messages are not
    /// copied into ever larger transmissions that the peer must buffer
    /// whole), compressed with `method` only if the body reaches
    /// `compress_above` bytes (small bodies grow under compression):
    /// `None` when nothing is queued, else the bytes (if any could be
    /// encoded) and the number of messages that could not be (a single
    /// message over `max_body` is one). What does not fit stays for the
    /// next transmission.
    pub(crate) fn take_transmission(
        &mut self,
        profile: Profile,
        max_body: usize,
        batch_bytes: usize,
        method: Method,
        compress_above: usize,
    ) -> Option<(Option<Bytes>, u64)> {
        self.front()?;
        let mut errors = 0;
        let mut batch = BatchEncoder::new(profile);
        let fill = batch_bytes.min(max_body);
        while let Some(len) = self.front() {
            if !batch.is_empty() && batch.body_len() + len > fill {
                break;
            }
            let Some(msg) = self.pop() else {
                break;
            };
            if len > max_body || batch.push(&msg).is_err() {
                errors += 1;
            }
        }
        if batch.is_empty() {
            return Some((None, errors));
        }
        let method = if batch.body_len() >= compress_above {
            method
        } else {
            Method::None
        };
        match batch.finish(method) {
            Ok(bytes) => Some((Some(bytes), errors)),
            Err(_) => Some((None, errors + 1)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shoutnet_compress::MethodSet;
    use shoutnet_wire::{
        Limits, Payload, Ping, TRANSMISSION_HEADER_LEN, TransmissionHeader, decode_transmission,
    };

    fn ping(id: u64) -> (Message, usize) {
        let key = Bytes::from(vec![1; 32]);
        let payload = Payload::Ping(Ping { request_id: id });
        let msg = Message::from_payload(Profile::Ed25519, key.clone(), key, &payload).unwrap();
        let len = msg.encoded_len(Profile::Ed25519);
        (msg, len)
    }

    fn ids(outbox: &mut Outbox, compress_above: usize) -> (Vec<u64>, Method) {
        let (bytes, errors) = outbox
            .take_transmission(
                Profile::Ed25519,
                1 << 20,
                1 << 20,
                Method::Snappy,
                compress_above,
            )
            .unwrap();
        assert_eq!(errors, 0);
        let bytes = bytes.unwrap();
        let head: [u8; TRANSMISSION_HEADER_LEN] =
            bytes[..TRANSMISSION_HEADER_LEN].try_into().unwrap();
        let header = TransmissionHeader::parse(head, &Limits::default(), MethodSet::all()).unwrap();
        let tx = decode_transmission(
            bytes,
            Profile::Ed25519,
            &Limits::default(),
            MethodSet::all(),
        )
        .unwrap();
        let ids = tx
            .iter()
            .map(|m| match m.payload(&Limits::default().value) {
                Ok(Payload::Ping(p)) => p.request_id,
                other => panic!("{other:?}"),
            })
            .collect();
        (ids, header.compression)
    }

    #[test]
    fn own_messages_go_first_and_evict_forwarded_ones_when_full() {
        let (_, len) = ping(0);
        let max = 3 * len;
        let mut outbox = Outbox::default();
        for id in [10, 11, 12] {
            let pushed = outbox.push(ping(id).0, len, Lane::Forwarded, max);
            assert_eq!(pushed, Pushed::Queued { evicted: 0 });
        }
        assert_eq!(
            outbox.push(ping(13).0, len, Lane::Forwarded, max),
            Pushed::Full
        );
        // An own message takes the oldest forwarded one's room.
        assert_eq!(
            outbox.push(ping(1).0, len, Lane::Own, max),
            Pushed::Queued { evicted: 1 }
        );
        assert_eq!(outbox.bytes(), max);
        assert_eq!(ids(&mut outbox, usize::MAX).0, [1, 11, 12]);
        assert!(outbox.is_empty());
        // Own messages fill it and then are refused too.
        for id in 0..3 {
            assert!(matches!(
                outbox.push(ping(id).0, len, Lane::Own, max),
                Pushed::Queued { .. }
            ));
        }
        assert_eq!(outbox.push(ping(3).0, len, Lane::Own, max), Pushed::Full);
    }

    #[test]
    fn only_bodies_over_the_threshold_are_compressed() {
        let (_, len) = ping(0);
        let mut outbox = Outbox::default();
        outbox.push(ping(1).0, len, Lane::Own, 1 << 20);
        assert_eq!(
            ids(&mut outbox, 2 * len).1,
            Method::None,
            "one ping is small"
        );
        for id in 0..4 {
            outbox.push(ping(id).0, len, Lane::Own, 1 << 20);
        }
        assert_eq!(
            ids(&mut outbox, 2 * len),
            (vec![0, 1, 2, 3], Method::Snappy)
        );
    }
}

//! The secure channel of every simulated connection (docs/PROTOCOL.md
//! §9.1; ARCHITECTURE.md, "Deterministic simulation"): the real Noise
//! channel the runtime uses, or a trusted stand-in for large runs.
//!
//! Both run the same three handshake messages over the link, so the
//! timing is the same (the dialler is secured after message 2, the
//! acceptor after message 3), and both hand the engine the same binding
//! value: the peer's Noise static key, which the peer's hello must be bound
//! to. The Noise channel proves that key cryptographically. The trusted
//! one takes it from the simulated network, which knows which node is at
//! the other end and cannot be lied to: a relaying node still presents its
//! own static key, so the binding check that defeats the relay is the
//! same. It skips the X25519 work, which would dominate a 10,000-node run.

use bytes::{Buf, Bytes, BytesMut};
use shoutnet_engine::channel::{ChannelError, ChannelEvent, SecureChannel, SecuredPeer};

/// Which channel connections run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ChannelMode {
    /// Noise `XX` with X25519, as the runtime does.
    Noise,
    /// The trusted stand-in: the same messages and binding value, no
    /// cryptography.
    #[default]
    Trusted,
}

/// One side's channel.
#[derive(Debug)]
pub(crate) enum Side {
    Noise(Box<SecureChannel>),
    Trusted(Trusted),
}

impl Side {
    pub(crate) fn receive(
        &mut self,
        bytes: &[u8],
        events: &mut Vec<ChannelEvent>,
    ) -> Result<(), ChannelError> {
        match self {
            Self::Noise(c) => c.receive(bytes, events),
            Self::Trusted(c) => c.receive(bytes, events),
        }
    }

    pub(crate) fn send(&mut self, plaintext: &[u8]) -> Result<(), ChannelError> {
        match self {
            Self::Noise(c) => c.send(plaintext),
            Self::Trusted(c) => c.send(plaintext),
        }
    }

    pub(crate) fn take_output(&mut self) -> Option<Bytes> {
        match self {
            Self::Noise(c) => c.take_output(),
            Self::Trusted(c) => (!c.out.is_empty()).then(|| c.out.split().freeze()),
        }
    }
}

/// A frame of the trusted channel: one tag byte, a `u32` length, the
/// payload.
const HANDSHAKE: u8 = 1;
const DATA: u8 = 2;
const FRAME_HEADER: usize = 5;

/// The trusted stand-in for one side.
#[derive(Debug)]
pub(crate) struct Trusted {
    initiator: bool,
    /// The peer as the network knows it: its real static key, and the
    /// hello it presents.
    peer: SecuredPeer,
    /// Handshake messages seen or sent so far (3 when secured).
    step: u8,
    inbuf: BytesMut,
    out: BytesMut,
}

impl Trusted {
    /// The dialler's side, its first message ready.
    pub(crate) fn initiator(peer: SecuredPeer) -> Self {
        let mut c = Self::new(true, peer);
        c.frame(HANDSHAKE, &[]);
        c.step = 1;
        c
    }

    /// The acceptor's side.
    pub(crate) fn responder(peer: SecuredPeer) -> Self {
        Self::new(false, peer)
    }

    fn new(initiator: bool, peer: SecuredPeer) -> Self {
        Self {
            initiator,
            peer,
            step: 0,
            inbuf: BytesMut::new(),
            out: BytesMut::new(),
        }
    }

    fn frame(&mut self, tag: u8, payload: &[u8]) {
        self.out.extend_from_slice(&[tag]);
        let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
        self.out.extend_from_slice(&len.to_be_bytes());
        self.out.extend_from_slice(payload);
    }

    fn receive(
        &mut self,
        bytes: &[u8],
        events: &mut Vec<ChannelEvent>,
    ) -> Result<(), ChannelError> {
        self.inbuf.extend_from_slice(bytes);
        while self.inbuf.len() >= FRAME_HEADER {
            let tag = self.inbuf[0];
            let len =
                u32::from_be_bytes([self.inbuf[1], self.inbuf[2], self.inbuf[3], self.inbuf[4]]);
            let len = len as usize;
            if self.inbuf.len() < FRAME_HEADER + len {
                return Ok(());
            }
            self.inbuf.advance(FRAME_HEADER);
            let payload = self.inbuf.split_to(len).freeze();
            match (tag, self.initiator, self.step) {
                // The acceptor reads message 1 and answers with message 2.
                (HANDSHAKE, false, 0) => {
                    self.frame(HANDSHAKE, &[]);
                    self.step = 2;
                }
                // The dialler reads message 2, sends message 3: secured.
                (HANDSHAKE, true, 1) => {
                    self.frame(HANDSHAKE, &[]);
                    self.step = 3;
                    events.push(ChannelEvent::Secured(self.peer.clone()));
                }
                // The acceptor reads message 3: secured.
                (HANDSHAKE, false, 2) => {
                    self.step = 3;
                    events.push(ChannelEvent::Secured(self.peer.clone()));
                }
                (DATA, _, 3) => events.push(ChannelEvent::Data(payload)),
                (HANDSHAKE, ..) => return Err(ChannelError::HandshakeFailed),
                _ => return Err(ChannelError::DecryptFailed),
            }
        }
        Ok(())
    }

    fn send(&mut self, plaintext: &[u8]) -> Result<(), ChannelError> {
        if self.step != 3 {
            return Err(ChannelError::NotSecured);
        }
        self.frame(DATA, plaintext);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(tag: u8) -> SecuredPeer {
        SecuredPeer {
            remote_static: [tag; 32],
            hello: Bytes::from(vec![tag]),
        }
    }

    #[test]
    fn the_trusted_channel_secures_in_the_noise_order() {
        let mut i = Side::Trusted(Trusted::initiator(peer(2)));
        let mut r = Side::Trusted(Trusted::responder(peer(1)));
        let mut ev = Vec::new();
        assert_eq!(i.send(b"early"), Err(ChannelError::NotSecured));
        r.receive(&i.take_output().unwrap(), &mut ev).unwrap();
        assert!(ev.is_empty(), "message 1 secures nothing");
        i.receive(&r.take_output().unwrap(), &mut ev).unwrap();
        assert_eq!(
            ev,
            [ChannelEvent::Secured(peer(2))],
            "the dialler after message 2"
        );
        ev.clear();
        i.send(b"data").unwrap();
        let out = i.take_output().unwrap();
        for byte in out.chunks(1) {
            r.receive(byte, &mut ev).unwrap();
        }
        assert_eq!(
            ev,
            [
                ChannelEvent::Secured(peer(1)),
                ChannelEvent::Data(Bytes::from_static(b"data"))
            ]
        );
        assert_eq!(
            r.receive(&[HANDSHAKE, 0, 0, 0, 0], &mut ev),
            Err(ChannelError::HandshakeFailed)
        );
    }
}

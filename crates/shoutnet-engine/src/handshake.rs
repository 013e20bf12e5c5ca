//! The connection handshake (docs/PROTOCOL.md §9.1, §5.5): both sides send
//! `PING [request_id, hello]`, answer the other's hello with
//! `ACK [2, request_id, proof]`, and the connection is established once a
//! side holds a valid hello and a valid proof over its own nonce.
//!
//! [`Handshake`] is one connection's progress. It reads a message into a
//! [`Step`], and each step returns the answer to send or a [`Refusal`]; the
//! engine sends, closes and announces.

use std::net::SocketAddr;

use bytes::Bytes;
use rand_core::CryptoRngCore;
use shoutnet_crypto::{Address, Keypair, PublicKey, handshake_proof, verify_handshake_proof};
use shoutnet_wire::{
    Ack, AckResult, Hello, MAX_LISTEN_ADDRS, Message, Method, MethodSet, NONCE_LEN, Nack, NackCode,
    Opcode, PROTOCOL_VERSION, Payload, Ping, Profile, ValueLimits,
};

use crate::event::CloseReason;
use crate::refusal;

/// Handshake progress of one connection.
#[derive(Debug)]
pub(crate) struct Handshake {
    /// The nonce this node sent; the peer must sign it.
    nonce: [u8; NONCE_LEN],
    /// The request id of this node's hello `PING`.
    hello_id: u64,
    /// The peer's valid hello, once received.
    hello: Option<PeerHello>,
    /// Whether the peer proved its key over our nonce.
    proven: bool,
}

/// The authenticated peer of an established connection.
#[derive(Clone, Debug)]
pub(crate) struct Peer {
    /// Its routing address.
    pub(crate) address: Address,
    /// Its key.
    pub(crate) public: PublicKey,
    /// Where it accepts connections.
    pub(crate) listen: Vec<SocketAddr>,
}

/// What a valid hello told us.
#[derive(Clone, Debug)]
struct PeerHello {
    /// The peer's key, from the hello's from-key.
    public: PublicKey,
    /// Where it listens.
    listen: Vec<SocketAddr>,
}

/// A message received during the handshake, read.
#[derive(Debug)]
pub(crate) enum Step {
    /// The peer's hello.
    Hello {
        /// Its request id, which our proof answers.
        request_id: u64,
        /// The hello.
        hello: Hello,
    },
    /// The peer's proof over our nonce.
    Proof {
        /// The request id of the hello it answers.
        request_id: u64,
        /// The signature.
        proof: Bytes,
    },
    /// The peer refused us.
    PeerRefused(NackCode),
    /// Anything else: refused, and the connection closed.
    Refused(Refusal),
}

/// A handshake that cannot go on: the `NACK` to send, if any, then the
/// close.
#[derive(Debug)]
pub(crate) struct Refusal {
    /// The answer, written before the close (boxed: refusals are rare and
    /// `Result`s carrying them stay small).
    pub(crate) nack: Option<Box<Nack>>,
    /// Why the connection closes.
    pub(crate) close: CloseReason,
}

impl Handshake {
    /// A handshake that will send `nonce` in the hello with `hello_id`.
    pub(crate) fn new(nonce: [u8; NONCE_LEN], hello_id: u64) -> Self {
        Self {
            nonce,
            hello_id,
            hello: None,
            proven: false,
        }
    }

    /// This node's hello `PING`.
    pub(crate) fn hello(
        &self,
        profile: Profile,
        listen: &[SocketAddr],
        compression: MethodSet,
        preferred: Method,
    ) -> Payload {
        Payload::Ping(Ping {
            request_id: self.hello_id,
            hello: Some(Hello {
                version: PROTOCOL_VERSION,
                profile: profile.name().into(),
                nonce: self.nonce,
                listen: listen.iter().take(MAX_LISTEN_ADDRS).copied().collect(),
                compression,
                preferred,
            }),
        })
    }

    /// The peer's key, once its hello was accepted.
    pub(crate) fn peer_key(&self) -> Option<&PublicKey> {
        self.hello.as_ref().map(|h| &h.public)
    }

    /// Reads `msg`: only a hello, its proof, or a `NACK` (the peer refusing
    /// us) are accepted; anything else is refused with
    /// `NACK NOT_AUTHENTICATED`, and a hello that does not decode with
    /// `NACK MALFORMED` (or `TOO_LARGE`).
    pub(crate) fn read(msg: &Message, profile: Profile, limits: &ValueLimits) -> Step {
        match (msg.opcode, msg.payload(profile, limits)) {
            (
                Opcode::Ping,
                Ok(Payload::Ping(Ping {
                    request_id,
                    hello: Some(hello),
                })),
            ) => Step::Hello { request_id, hello },
            (Opcode::Ping, Err(err)) => Step::Refused(Refusal {
                nack: refusal::malformed(msg, &err, limits).map(Box::new),
                close: CloseReason::MalformedHello(err),
            }),
            (
                Opcode::Ack,
                Ok(Payload::Ack(Ack {
                    request_id,
                    result: AckResult::Ping { proof: Some(proof) },
                })),
            ) => Step::Proof { request_id, proof },
            (Opcode::Nack, Ok(Payload::Nack(nack))) => Step::PeerRefused(nack.code),
            _ => Step::Refused(unauthenticated(msg, limits)),
        }
    }

    /// The peer's hello `msg` (read as `request_id`, `hello`), whose
    /// from-key resolved to `key` (a key already held, or decoded now):
    /// checks it and returns our proof, signed with `keypair`, or why the
    /// handshake ends.
    #[allow(clippy::too_many_arguments)] // One step, its whole context.
    pub(crate) fn on_hello(
        &mut self,
        msg: &Message,
        request_id: u64,
        hello: Hello,
        key: Result<PublicKey, shoutnet_crypto::Error>,
        keypair: &Keypair,
        rng: &mut impl CryptoRngCore,
        limits: &ValueLimits,
    ) -> Result<Payload, Refusal> {
        let refuse = |code, reason: &str, close| Refusal {
            nack: Some(Box::new(refusal::nack(
                Opcode::Ping,
                Some(request_id),
                code,
                reason,
            ))),
            close,
        };
        if self.hello.is_some() {
            return Err(unauthenticated(msg, limits));
        }
        if hello.version != PROTOCOL_VERSION || hello.profile() != Some(keypair.profile()) {
            return Err(refuse(
                NackCode::VersionMismatch,
                "this node speaks version 1 with another profile",
                CloseReason::VersionMismatch,
            ));
        }
        let public = match key {
            Ok(public) if public.key_field() != keypair.public().key_field() => public,
            Ok(_) => {
                return Err(Refusal {
                    nack: None,
                    close: CloseReason::SelfConnection,
                });
            }
            Err(_) => {
                return Err(refuse(
                    NackCode::Malformed,
                    "hello from-key is not a valid key",
                    CloseReason::InvalidKey,
                ));
            }
        };
        let Ok(proof) = handshake_proof(keypair, rng, &hello.nonce, &msg.from) else {
            return Err(refuse(
                NackCode::Internal,
                "could not sign the handshake proof",
                CloseReason::ProofSigningFailed,
            ));
        };
        self.hello = Some(PeerHello {
            public,
            listen: hello.listen,
        });
        Ok(Payload::Ack(Ack {
            request_id,
            result: AckResult::Ping {
                proof: Some(Bytes::from(proof)),
            },
        }))
    }

    /// The peer's proof `proof` in `msg`, answering request `request_id`:
    /// it must answer our hello, follow the peer's own hello (which it
    /// always does: both sides send their hello first), and verify over our
    /// nonce and both keys.
    pub(crate) fn on_proof(
        &mut self,
        msg: &Message,
        request_id: u64,
        proof: &[u8],
        local_key: &[u8],
        limits: &ValueLimits,
    ) -> Result<(), Refusal> {
        let public = match &self.hello {
            Some(h) if request_id == self.hello_id && h.public.key_field() == msg.from => &h.public,
            _ => return Err(unauthenticated(msg, limits)),
        };
        if verify_handshake_proof(public, &self.nonce, local_key, proof).is_err() {
            return Err(Refusal {
                nack: Some(Box::new(refusal::nack(
                    Opcode::Ack,
                    Some(request_id),
                    NackCode::BadSignature,
                    "handshake proof does not verify",
                ))),
                close: CloseReason::BadProof,
            });
        }
        self.proven = true;
        Ok(())
    }

    /// The authenticated peer, once both the hello and the proof are in.
    pub(crate) fn peer(&self) -> Option<Peer> {
        let hello = self.hello.as_ref().filter(|_| self.proven)?;
        Some(Peer {
            address: hello.public.routing_address(),
            public: hello.public.clone(),
            listen: hello.listen.clone(),
        })
    }
}

/// The refusal of a message that has no place before the handshake
/// completes.
fn unauthenticated(msg: &Message, limits: &ValueLimits) -> Refusal {
    Refusal {
        nack: Some(Box::new(refusal::nack_message(
            msg,
            NackCode::NotAuthenticated,
            "handshake not complete",
            limits,
        ))),
        close: CloseReason::NotAuthenticated(msg.opcode),
    }
}

/// The reason of a hello refused for its payload, as the refusal's
/// `NACK` and close carry it (for tests).
#[cfg(test)]
fn close_of(step: &Step) -> Option<CloseReason> {
    match step {
        Step::Refused(r) => Some(r.close),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;
    use shoutnet_wire::{FindNode, PayloadError};

    use super::*;

    const PROFILE: Profile = Profile::Ed25519;

    /// (hello version, the key its from-key resolves to, the close, the
    /// NACK code).
    type HelloCase = (
        u64,
        Result<PublicKey, shoutnet_crypto::Error>,
        CloseReason,
        Option<NackCode>,
    );

    fn keypair(seed: u8) -> Keypair {
        Keypair::generate(PROFILE, &mut ChaCha20Rng::from_seed([seed; 32])).unwrap()
    }

    fn msg(from: &Keypair, to: &Keypair, payload: &Payload) -> Message {
        Message::from_payload(
            PROFILE,
            from.public().to_bytes(),
            to.public().to_bytes(),
            payload,
        )
        .unwrap()
    }

    /// `a`'s handshake with `b` after `b`'s hello, and `b`'s hello message.
    fn hello_from(a: &Keypair, b: &Keypair, version: u64) -> (Handshake, Message, u64, Hello) {
        let theirs = Handshake::new([9; 32], 40);
        let Payload::Ping(Ping {
            request_id,
            hello: Some(mut hello),
        }) = theirs.hello(PROFILE, &[], MethodSet::all(), Method::None)
        else {
            unreachable!()
        };
        hello.version = version;
        let payload = Payload::Ping(Ping {
            request_id,
            hello: Some(hello.clone()),
        });
        (
            Handshake::new([8; 32], 7),
            msg(b, a, &payload),
            request_id,
            hello,
        )
    }

    #[test]
    fn a_hello_and_a_proof_establish_and_each_fault_is_refused() {
        let (a, b) = (keypair(1), keypair(2));
        let limits = ValueLimits::default();
        let mut rng = ChaCha20Rng::from_seed([3; 32]);
        // Good path.
        let (mut hs, m, id, hello) = hello_from(&a, &b, PROTOCOL_VERSION);
        let key = Ok(b.public().clone());
        let ack = hs
            .on_hello(&m, id, hello.clone(), key, &a, &mut rng, &limits)
            .unwrap();
        assert!(matches!(ack, Payload::Ack(_)));
        assert!(hs.peer().is_none(), "no proof yet");
        let proof = handshake_proof(&b, &mut rng, &[8; 32], &a.public().to_bytes()).unwrap();
        let wrong = hs.on_proof(&m, 99, &proof, &a.public().to_bytes(), &limits);
        assert_eq!(
            wrong.unwrap_err().close,
            CloseReason::NotAuthenticated(Opcode::Ping),
            "wrong id"
        );
        hs.on_proof(&m, 7, &proof, &a.public().to_bytes(), &limits)
            .unwrap();
        assert_eq!(hs.peer().unwrap().public, *b.public());
        // A second hello.
        let again = hs.on_hello(
            &m,
            id,
            hello.clone(),
            Ok(b.public().clone()),
            &a,
            &mut rng,
            &limits,
        );
        assert_eq!(
            again.unwrap_err().close,
            CloseReason::NotAuthenticated(Opcode::Ping)
        );

        // (version, key, expected close, expected NACK code)
        let cases: [HelloCase; 3] = [
            (
                2,
                Ok(b.public().clone()),
                CloseReason::VersionMismatch,
                Some(NackCode::VersionMismatch),
            ),
            (
                PROTOCOL_VERSION,
                Ok(a.public().clone()),
                CloseReason::SelfConnection,
                None,
            ),
            (
                PROTOCOL_VERSION,
                Err(shoutnet_crypto::Error::MalformedKey),
                CloseReason::InvalidKey,
                Some(NackCode::Malformed),
            ),
        ];
        for (version, key, close, code) in cases {
            let (mut hs, m, id, hello) = hello_from(&a, &b, version);
            let refusal = hs
                .on_hello(&m, id, hello, key, &a, &mut rng, &limits)
                .unwrap_err();
            assert_eq!(refusal.close, close);
            assert_eq!(refusal.nack.map(|n| n.code), code);
        }
        // A bad proof.
        let (mut hs, m, id, hello) = hello_from(&a, &b, PROTOCOL_VERSION);
        hs.on_hello(&m, id, hello, Ok(b.public().clone()), &a, &mut rng, &limits)
            .unwrap();
        let forged = handshake_proof(&b, &mut rng, &[0; 32], &a.public().to_bytes()).unwrap();
        let refusal = hs
            .on_proof(&m, 7, &forged, &a.public().to_bytes(), &limits)
            .unwrap_err();
        assert_eq!(refusal.close, CloseReason::BadProof);
        assert_eq!(refusal.nack.unwrap().code, NackCode::BadSignature);
    }

    #[test]
    fn read_sorts_messages_into_steps() {
        let (a, b) = (keypair(1), keypair(2));
        let limits = ValueLimits::default();
        let find = msg(
            &b,
            &a,
            &Payload::FindNode(FindNode {
                request_id: 5,
                target: [0; 32],
            }),
        );
        let step = Handshake::read(&find, PROFILE, &limits);
        assert_eq!(
            close_of(&step),
            Some(CloseReason::NotAuthenticated(Opcode::FindNode))
        );
        let Step::Refused(r) = step else {
            unreachable!()
        };
        assert_eq!(
            r.nack.unwrap().request_id,
            Some(5),
            "the request id is read"
        );
        let bad_hello = Message::new(
            b.public().to_bytes(),
            a.public().to_bytes(),
            Opcode::Ping,
            Bytes::from_static(&[0x91, 0xc1]),
        );
        let step = Handshake::read(&bad_hello, PROFILE, &limits);
        assert!(matches!(
            close_of(&step),
            Some(CloseReason::MalformedHello(PayloadError::Value(_)))
        ));
        let nack = msg(
            &b,
            &a,
            &Payload::Nack(refusal::nack(
                Opcode::Ping,
                Some(1),
                NackCode::VersionMismatch,
                "no",
            )),
        );
        assert!(matches!(
            Handshake::read(&nack, PROFILE, &limits),
            Step::PeerRefused(NackCode::VersionMismatch)
        ));
    }
}

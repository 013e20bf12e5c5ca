//! The connection handshake (docs/PROTOCOL.md §9.1, §5.5): both sides send
//! `PING [request_id, hello]`, answer the other's hello with
//! `ACK [2, request_id, proof]`, and the connection is established once a
//! side holds a valid hello and a valid proof over its own nonce.

use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;
use shoutnet_crypto::{Address, PublicKey, handshake_proof, verify_handshake_proof};
use shoutnet_wire::{
    Ack, AckResult, Hello, MAX_LISTEN_ADDRS, Message, NONCE_LEN, NackCode, Opcode,
    PROTOCOL_VERSION, Payload, PayloadError, Ping,
};

use crate::connection::Peer;
use crate::engine::NodeEngine;
use crate::event::{ConnectionId, Event};

/// Handshake progress of one connection.
#[derive(Debug)]
pub(crate) struct Handshake {
    /// The nonce this node sent; the peer must sign it.
    pub(crate) nonce: [u8; NONCE_LEN],
    /// The request id of this node's hello `PING`.
    pub(crate) hello_id: u64,
    /// The peer's valid hello, once received.
    pub(crate) hello: Option<PeerHello>,
    /// Whether the peer proved its key over our nonce.
    pub(crate) proven: bool,
}

/// What a valid hello told us.
#[derive(Clone, Debug)]
pub(crate) struct PeerHello {
    /// The peer's key, from the hello's from-key.
    pub(crate) public: PublicKey,
    /// Where it listens.
    pub(crate) listen: Vec<SocketAddr>,
}

impl NodeEngine {
    /// Starts the handshake on a new connection: sends our hello.
    pub(crate) fn send_hello(&mut self, conn: ConnectionId) {
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        let hello = Hello {
            version: PROTOCOL_VERSION,
            profile: self.profile.name().into(),
            nonce: c.handshake.nonce,
            listen: self
                .config
                .listen
                .iter()
                .take(MAX_LISTEN_ADDRS)
                .copied()
                .collect(),
            compression: self.config.decode_methods,
            preferred: self.config.preferred,
        };
        let request_id = c.handshake.hello_id;
        self.send(
            conn,
            &Payload::Ping(Ping {
                request_id,
                hello: Some(hello),
            }),
        );
    }

    /// Handles a message on a connection whose handshake is not complete.
    /// Only a hello, its proof, or a `NACK` (the peer refusing us) are
    /// accepted; anything else is refused with `NOT_AUTHENTICATED`.
    pub(crate) fn on_handshake_message(&mut self, conn: ConnectionId, msg: &Message, now: Instant) {
        let payload = msg.payload(self.profile, &self.config.limits.value);
        match (msg.opcode, payload) {
            (
                Opcode::Ping,
                Ok(Payload::Ping(Ping {
                    request_id,
                    hello: Some(hello),
                })),
            ) => {
                self.on_hello(conn, msg, request_id, hello, now);
            }
            (Opcode::Ping, Err(err)) => {
                self.refuse_malformed(conn, msg, &err);
                self.close(conn, format!("malformed hello: {err}"), now);
            }
            (
                Opcode::Ack,
                Ok(Payload::Ack(Ack {
                    request_id,
                    result: AckResult::Ping { proof: Some(proof) },
                })),
            ) => self.on_proof(conn, msg, request_id, &proof, now),
            (Opcode::Nack, Ok(Payload::Nack(nack))) => {
                self.close(
                    conn,
                    format!(
                        "peer refused the handshake: {:?} {}",
                        nack.code, nack.reason
                    ),
                    now,
                );
            }
            _ => self.refuse_unauthenticated(conn, msg, now),
        }
    }

    fn refuse_unauthenticated(&mut self, conn: ConnectionId, msg: &Message, now: Instant) {
        self.nack_message(
            conn,
            msg,
            NackCode::NotAuthenticated,
            "handshake not complete",
        );
        self.close(conn, "message before the handshake completed".into(), now);
    }

    fn on_hello(
        &mut self,
        conn: ConnectionId,
        msg: &Message,
        request_id: u64,
        hello: Hello,
        now: Instant,
    ) {
        let duplicate = self
            .conns
            .get(&conn)
            .is_some_and(|c| c.handshake.hello.is_some());
        if duplicate {
            self.refuse_unauthenticated(conn, msg, now);
            return;
        }
        if hello.version != PROTOCOL_VERSION || hello.profile() != Some(self.profile) {
            self.nack(
                conn,
                Opcode::Ping,
                Some(request_id),
                NackCode::VersionMismatch,
                "this node speaks version 1 with another profile",
            );
            self.close(conn, "hello with another version or profile".into(), now);
            return;
        }
        let public = match self.known_key(&msg.from) {
            Ok(public) if public.key_field() != self.key.as_ref() => public,
            Ok(_) => {
                self.close(conn, "connected to itself".into(), now);
                return;
            }
            Err(err) => {
                self.nack(
                    conn,
                    Opcode::Ping,
                    Some(request_id),
                    NackCode::Malformed,
                    "hello from-key is not a valid key",
                );
                self.close(conn, format!("invalid hello key: {err}"), now);
                return;
            }
        };
        let proof = handshake_proof(&self.config.keypair, &mut self.rng, &hello.nonce, &msg.from);
        let Ok(proof) = proof else {
            self.nack(
                conn,
                Opcode::Ping,
                Some(request_id),
                NackCode::Internal,
                "could not sign the handshake proof",
            );
            self.close(conn, "could not sign the handshake proof".into(), now);
            return;
        };
        if let Some(c) = self.conns.get_mut(&conn) {
            c.handshake.hello = Some(PeerHello {
                public,
                listen: hello.listen,
            });
        }
        self.send(
            conn,
            &Payload::Ack(Ack {
                request_id,
                result: AckResult::Ping {
                    proof: Some(Bytes::from(proof)),
                },
            }),
        );
        self.maybe_established(conn, now);
    }

    fn on_proof(
        &mut self,
        conn: ConnectionId,
        msg: &Message,
        request_id: u64,
        proof: &[u8],
        now: Instant,
    ) {
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        // The proof must answer our hello, and follow the peer's own hello
        // (which it always does: both sides send their hello first).
        let verdict = match &c.handshake.hello {
            Some(h) if request_id == c.handshake.hello_id && h.public.key_field() == msg.from => {
                verify_handshake_proof(&h.public, &c.handshake.nonce, &self.key, proof).is_ok()
            }
            _ => {
                self.refuse_unauthenticated(conn, msg, now);
                return;
            }
        };
        if !verdict {
            self.nack(
                conn,
                Opcode::Ack,
                Some(request_id),
                NackCode::BadSignature,
                "handshake proof does not verify",
            );
            self.close(conn, "bad handshake proof".into(), now);
            return;
        }
        if let Some(c) = self.conns.get_mut(&conn) {
            c.handshake.proven = true;
        }
        self.maybe_established(conn, now);
    }

    fn maybe_established(&mut self, conn: ConnectionId, now: Instant) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let Some(hello) = c.handshake.hello.as_ref().filter(|_| c.handshake.proven) else {
            return;
        };
        let peer = Peer {
            address: hello.public.routing_address(),
            public: hello.public.clone(),
            listen: hello.listen.clone(),
        };
        c.peer = Some(peer.clone());
        self.push_event(Event::Connected {
            conn,
            peer: peer.address,
            key: peer.public.to_bytes(),
            listen: peer.listen.clone(),
        });
        self.on_established(conn, &peer, now);
    }

    /// Answers a message whose payload does not decode: `TOO_LARGE` for a
    /// field over its limit, `MALFORMED` otherwise. Replies are never
    /// answered (that could loop); they are counted instead.
    pub(crate) fn refuse_malformed(
        &mut self,
        conn: ConnectionId,
        msg: &Message,
        err: &PayloadError,
    ) {
        if matches!(msg.opcode, Opcode::Ack | Opcode::Nack) {
            self.stats.malformed_replies += 1;
            return;
        }
        let code = match err {
            PayloadError::TooLong { .. } => NackCode::TooLarge,
            _ => NackCode::Malformed,
        };
        let reason = err.to_string();
        self.nack_message(conn, msg, code, &reason);
    }
}

impl NodeEngine {
    /// The validated key whose field is `field`: the one held for a routing
    /// table entry or a peer being dialled, if it is that key, else decoded
    /// and checked now (docs/PROTOCOL.md §2).
    pub(crate) fn known_key(&self, field: &[u8]) -> Result<PublicKey, shoutnet_crypto::Error> {
        let address = Address::of_key_field(field);
        let known = self
            .table
            .get(&address)
            .map(|c| &c.public)
            .or_else(|| self.dials.waiting.get(&address)?.public.as_ref())
            .filter(|public| public.key_field() == field);
        match known {
            Some(public) => Ok(public.clone()),
            None => PublicKey::from_key_field(self.profile, field),
        }
    }
}

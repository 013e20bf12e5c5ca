//! Handling of messages on established connections (docs/PROTOCOL.md §8,
//! §9.2, §9.3, §10): origin checks, requests, replies and keepalives.

use std::time::Instant;

use shoutnet_wire::{
    Ack, AckResult, Message, Method, Nack, NackCode, Opcode, Payload, Ping, SetConnectionOpt, Value,
};

use crate::engine::NodeEngine;
use crate::event::ConnectionId;
use crate::requests::{Failure, Pending, Purpose};
use crate::timers::Timer;

/// The reason of the `NACK UNSUPPORTED_OPCODE` answering requests this node
/// does not serve yet (`WHISPER`, `STORE`, `CUSTOM`).
pub(crate) const NOT_SUPPORTED_YET: &str = "not supported by this node yet";

impl NodeEngine {
    /// Routes one received message.
    pub(crate) fn handle_message(&mut self, conn: ConnectionId, msg: &Message, now: Instant) {
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        let Some(peer) = c.peer.as_ref() else {
            self.on_handshake_message(conn, msg, now);
            return;
        };
        // §9.2: only forwarded traffic (SHOUT, recursive WHISPER) may carry
        // another origin. Anything else is a peer misbehaving: NACK, close.
        let forwarded = matches!(msg.opcode, Opcode::Shout | Opcode::Whisper);
        if !forwarded && msg.from != peer.public.key_field() {
            self.nack_message(
                conn,
                msg,
                NackCode::NotAuthenticated,
                "from-key is not the connection's peer",
            );
            self.close(conn, "from-key is not the authenticated peer".into(), now);
            return;
        }
        if msg.opcode.is_reserved() {
            self.nack(
                conn,
                msg.opcode,
                None,
                NackCode::UnsupportedOpcode,
                "reserved opcode",
            );
            return;
        }
        let payload = match msg.payload(self.profile, &self.config.limits.value) {
            Ok(payload) => payload,
            Err(err) => {
                match msg.opcode {
                    Opcode::Shout | Opcode::Speak => self.stats.unsupported_dropped += 1,
                    Opcode::Ack | Opcode::Nack => self.malformed_reply(conn, msg, now),
                    _ => self.refuse_malformed(conn, msg, &err),
                }
                return;
            }
        };
        let peer_address = peer.address;
        match payload {
            Payload::Ping(Ping {
                request_id,
                hello: None,
            }) => self.send(
                conn,
                &Payload::Ack(Ack {
                    request_id,
                    result: AckResult::Ping { proof: None },
                }),
            ),
            Payload::Ping(Ping {
                request_id,
                hello: Some(_),
            }) => self.nack(
                conn,
                Opcode::Ping,
                Some(request_id),
                NackCode::Malformed,
                "hello after the handshake",
            ),
            Payload::SetConnectionOpt(opt) => self.on_set_connection_opt(conn, opt),
            Payload::FindNode(find) => {
                self.seen_on(conn, now);
                self.answer_find_node(conn, find.request_id, &find.target, &peer_address, false);
            }
            Payload::FindValue(find) => {
                self.seen_on(conn, now);
                self.answer_find_node(conn, find.request_id, &find.address, &peer_address, true);
            }
            Payload::Whisper(w) => self.not_supported(conn, Opcode::Whisper, Some(w.request_id)),
            Payload::Store(s) => self.not_supported(conn, Opcode::Store, Some(s.request_id)),
            Payload::Custom(c) => match c.request_id {
                Some(id) => self.not_supported(conn, Opcode::Custom, Some(id)),
                None => self.stats.unsupported_dropped += 1,
            },
            Payload::Shout(_) | Payload::Speak(_) => self.stats.unsupported_dropped += 1,
            Payload::Ack(ack) => self.on_ack(conn, ack, now),
            Payload::Nack(nack) => self.on_nack(conn, &nack, now),
        }
    }

    fn not_supported(&mut self, conn: ConnectionId, opcode: Opcode, request_id: Option<u64>) {
        self.nack(
            conn,
            opcode,
            request_id,
            NackCode::UnsupportedOpcode,
            NOT_SUPPORTED_YET,
        );
    }

    /// §9.3: option 0 (the peer will send with `setting`) is accepted for a
    /// method this node decodes, and the decoder starts accepting it;
    /// option 1 (the peer's preference) is accepted for any known method
    /// and only acknowledged, since this node sends uncompressed for now.
    fn on_set_connection_opt(&mut self, conn: ConnectionId, opt: SetConnectionOpt) {
        let method = u8::try_from(opt.setting)
            .ok()
            .and_then(|id| Method::from_id(id).ok());
        let accepted = match (opt.option, method) {
            (SetConnectionOpt::COMPRESSION, Some(m))
                if self.config.decode_methods.contains(m) || m == Method::None =>
            {
                if let Some(c) = self.conns.get_mut(&conn) {
                    c.decoder.accept(m);
                }
                true
            }
            (SetConnectionOpt::PREFERRED_COMPRESSION, Some(_)) => true,
            _ => false,
        };
        if accepted {
            self.send(
                conn,
                &Payload::Ack(Ack {
                    request_id: opt.request_id,
                    result: AckResult::SetConnectionOpt {
                        option: opt.option,
                        setting: opt.setting,
                    },
                }),
            );
        } else {
            let nack = Nack {
                acked: Opcode::SetConnectionOpt,
                request_id: Some(opt.request_id),
                code: NackCode::UnsupportedOption,
                reason: "unsupported option or setting".into(),
                detail: Some(Value::Array(vec![
                    Value::from(opt.option),
                    Value::from(opt.setting),
                ])),
            };
            self.send(conn, &Payload::Nack(nack));
        }
    }

    fn on_ack(&mut self, conn: ConnectionId, ack: Ack, now: Instant) {
        let opcode = ack.result.acked_opcode();
        let Some(pending) = self.take_request(conn, ack.request_id, opcode) else {
            self.stats.unsolicited += 1;
            return;
        };
        self.seen_on(conn, now);
        match (pending.purpose, ack.result) {
            (Purpose::Keepalive, AckResult::Ping { .. }) => self.keepalive_answered(conn, now),
            (Purpose::Liveness { address }, AckResult::Ping { .. }) => {
                self.table.ping_result(&address, true, now);
                self.drain_table();
            }
            (Purpose::FindNode { lookup, peer }, AckResult::Nodes { nodes, .. }) => {
                self.on_nodes(lookup, peer, nodes, now);
            }
            (_, _) => {
                // The opcode matched but the result shape did not (an ACK
                // of FIND_NODE always carries nodes, so this cannot happen
                // today); treat it as a refusal.
                self.request_failed(conn, pending, Failure::Refused, now);
            }
        }
        self.release_if_waited_for(conn, now);
    }

    fn on_nack(&mut self, conn: ConnectionId, nack: &Nack, now: Instant) {
        let pending = nack
            .request_id
            .and_then(|id| self.take_request(conn, id, nack.acked));
        match pending {
            Some(pending) => {
                self.request_failed(conn, pending, Failure::Refused, now);
                self.release_if_waited_for(conn, now);
            }
            None => self.stats.unsolicited += 1,
        }
    }

    /// An `ACK`/`NACK` whose payload does not decode (say, a `FIND_NODE`
    /// answer with more than 20 nodes) is never answered, but the request
    /// it names, if its id can be read, fails at once instead of waiting
    /// for its timeout.
    fn malformed_reply(&mut self, conn: ConnectionId, msg: &Message, now: Instant) {
        self.stats.malformed_replies += 1;
        let Some(id) = self.request_id_of(msg) else {
            return;
        };
        if let Some(pending) = self.requests.remove(conn, id) {
            self.request_done(conn, id);
            self.request_failed(conn, pending, Failure::Refused, now);
        }
    }

    /// A request got a `NACK`, timed out or lost its connection.
    pub(crate) fn request_failed(
        &mut self,
        conn: ConnectionId,
        pending: Pending,
        failure: Failure,
        now: Instant,
    ) {
        match pending.purpose {
            Purpose::Keepalive => match failure {
                Failure::TimedOut => {
                    // A failed ping: the peer is dead to the routing table too.
                    let peer = self
                        .conns
                        .get(&conn)
                        .and_then(|c| c.peer.as_ref())
                        .map(|p| p.address);
                    if let Some(address) = peer {
                        self.table.ping_result(&address, false, now);
                        self.drain_table();
                    }
                    self.close(conn, "keepalive not answered".into(), now);
                }
                Failure::Refused => self.keepalive_answered(conn, now),
                Failure::ConnectionLost => {}
            },
            Purpose::Liveness { address } => {
                self.table.ping_result(&address, false, now);
                self.drain_table();
            }
            Purpose::FindNode { lookup, peer } => {
                if failure == Failure::ConnectionLost && self.retry_find_node(lookup, peer, now) {
                    return;
                }
                self.table.record_failure(&peer, now);
                self.drain_table();
                self.peer_failed(lookup, peer, now);
            }
        }
    }

    /// Records request `request_id` on `conn` and arms its timeout; `false`
    /// if the request table is full.
    pub(crate) fn send_request(
        &mut self,
        conn: ConnectionId,
        request_id: u64,
        pending: Pending,
        now: Instant,
    ) -> bool {
        if !self.requests.insert(conn, request_id, pending) {
            self.stats.dropped_requests += 1;
            return false;
        }
        self.timers.set(
            Timer::Request(conn, request_id),
            now + self.config.request_timeout,
        );
        if let Some(c) = self.conns.get_mut(&conn) {
            c.outstanding += 1;
        }
        true
    }

    /// Takes the request an answer names (id and opcode must match).
    fn take_request(&mut self, conn: ConnectionId, id: u64, opcode: Opcode) -> Option<Pending> {
        let pending = self.requests.take(conn, id, opcode)?;
        self.request_done(conn, id);
        Some(pending)
    }

    /// Bookkeeping of a request that left the table: its timer and the
    /// connection's outstanding count.
    pub(crate) fn request_done(&mut self, conn: ConnectionId, id: u64) {
        self.timers.cancel(Timer::Request(conn, id));
        if let Some(c) = self.conns.get_mut(&conn) {
            c.outstanding = c.outstanding.saturating_sub(1);
        }
    }

    /// The keepalive timer of `conn` fired: ping it if it has been quiet
    /// for the keepalive interval, else wait for the rest.
    pub(crate) fn keepalive_due(&mut self, conn: ConnectionId, now: Instant) {
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        if !c.is_established() || c.keepalive_pending {
            return;
        }
        let due = c.last_received + self.config.keepalive;
        if due > now {
            self.timers.set(Timer::Keepalive(conn), due);
            return;
        }
        if self.send_ping(conn, Purpose::Keepalive, now)
            && let Some(c) = self.conns.get_mut(&conn)
        {
            c.keepalive_pending = true;
        }
    }

    /// The keepalive of `conn` was answered (or refused: the peer is there).
    fn keepalive_answered(&mut self, conn: ConnectionId, now: Instant) {
        if let Some(c) = self.conns.get_mut(&conn) {
            c.keepalive_pending = false;
            let at = c.last_received.max(now) + self.config.keepalive;
            self.timers.set(Timer::Keepalive(conn), at);
        }
    }

    /// Sends `PING [request_id]` and records it; `false` if the request
    /// table is full.
    pub(crate) fn send_ping(&mut self, conn: ConnectionId, purpose: Purpose, now: Instant) -> bool {
        let request_id = self.requests.next_id();
        let pending = Pending {
            opcode: Opcode::Ping,
            purpose,
        };
        if !self.send_request(conn, request_id, pending, now) {
            return false;
        }
        self.send(
            conn,
            &Payload::Ping(Ping {
                request_id,
                hello: None,
            }),
        );
        true
    }
}

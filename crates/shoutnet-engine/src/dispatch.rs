//! Handling of messages on established connections (docs/PROTOCOL.md §8,
//! §9.2, §9.3, §10): origin checks, requests, replies and keepalives.

use std::time::Instant;

use shoutnet_wire::{
    Ack, AckResult, Message, Method, Nack, NackCode, Opcode, Payload, Ping, SetConnectionOpt, Value,
};

use crate::engine::NodeEngine;
use crate::event::ConnectionId;
use crate::requests::{Pending, Purpose};

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
        if !forwarded && msg.from != peer.key {
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
                if matches!(msg.opcode, Opcode::Shout | Opcode::Speak) {
                    self.stats.unsupported_dropped += 1;
                } else {
                    self.refuse_malformed(conn, msg, &err);
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
                self.answer_find_node(conn, find.request_id, &find.target, &peer_address, false);
            }
            Payload::FindValue(find) => {
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
        let Some(pending) = self.requests.take(conn, ack.request_id, opcode) else {
            self.stats.unsolicited += 1;
            return;
        };
        match (pending.purpose, ack.result) {
            (Purpose::Keepalive, AckResult::Ping { .. }) => {
                if let Some(c) = self.conns.get_mut(&conn) {
                    c.keepalive_pending = false;
                }
            }
            (Purpose::Liveness { address }, AckResult::Ping { .. }) => {
                self.table.ping_result(&address, true, now);
                self.drain_table();
            }
            (Purpose::FindNode { lookup, peer }, AckResult::Nodes { nodes, .. }) => {
                self.on_nodes(lookup, peer, nodes, now);
            }
            (_, _) => {
                // The opcode matched but the result shape did not (e.g. a
                // FIND_VALUE answer to FIND_NODE cannot happen since the
                // opcode is checked); treat it as a failed request.
                self.request_failed(conn, pending, false, now);
            }
        }
    }

    fn on_nack(&mut self, conn: ConnectionId, nack: &Nack, now: Instant) {
        let pending = nack
            .request_id
            .and_then(|id| self.requests.take(conn, id, nack.acked));
        match pending {
            Some(pending) => self.request_failed(conn, pending, false, now),
            None => self.stats.unsolicited += 1,
        }
    }

    /// A request got a `NACK`, timed out (`timed_out`) or lost its
    /// connection.
    pub(crate) fn request_failed(
        &mut self,
        conn: ConnectionId,
        pending: Pending,
        timed_out: bool,
        now: Instant,
    ) {
        match pending.purpose {
            Purpose::Keepalive => {
                if timed_out {
                    self.close(conn, "keepalive not answered".into(), now);
                } else if let Some(c) = self.conns.get_mut(&conn) {
                    c.keepalive_pending = false;
                }
            }
            Purpose::Liveness { address } => {
                self.table.ping_result(&address, false, now);
                self.drain_table();
            }
            Purpose::FindNode { lookup, peer } => {
                if let Some(l) = self.lookups.get_mut(&lookup) {
                    l.on_failure(&peer, now);
                }
                self.table.record_failure(&peer);
                self.drain_table();
                self.drive_lookup(lookup, now);
            }
        }
    }

    /// Pings established connections idle for the keepalive interval.
    pub(crate) fn send_keepalives(&mut self, now: Instant) {
        let idle: Vec<ConnectionId> = self
            .conns
            .iter()
            .filter(|(_, c)| {
                c.peer.is_some()
                    && !c.keepalive_pending
                    && c.last_seen + self.config.keepalive <= now
            })
            .map(|(id, _)| *id)
            .collect();
        for conn in idle {
            if self.send_ping(conn, Purpose::Keepalive, now)
                && let Some(c) = self.conns.get_mut(&conn)
            {
                c.keepalive_pending = true;
            }
        }
    }

    /// Sends `PING [request_id]` and records it; `false` if the request
    /// table is full.
    pub(crate) fn send_ping(&mut self, conn: ConnectionId, purpose: Purpose, now: Instant) -> bool {
        let request_id = self.requests.next_id();
        let pending = Pending {
            opcode: Opcode::Ping,
            deadline: now + self.config.request_timeout,
            purpose,
        };
        if !self.requests.insert(conn, request_id, pending) {
            self.stats.dropped_requests += 1;
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

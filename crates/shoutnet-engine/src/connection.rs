//! One connection (docs/PROTOCOL.md §4, §6, §9): its stream decoder, the
//! queue of messages waiting for the next transmission, its handshake, its
//! keepalive and idle clocks, its compression, and its role.
//!
//! A [`Connection`] never sends, closes or arms a timer itself: its methods
//! return what is due ([`KeepaliveStep`], [`IdleStep`], an encoded
//! transmission) and the engine acts on it.

use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;
use shoutnet_compress::Error as CompressError;
use shoutnet_crypto::Address;
use shoutnet_wire::{
    DecodeError, Limits, Message, Method, MethodSet, Payload, Profile, SetConnectionOpt,
    StreamDecoder, Transmission,
};

use crate::budget::{Bucket, Budgets, Class, RequestRates};
use crate::event::{CloseReason, Direction};
use crate::handshake::Peer;
use crate::outbox::{Lane, Outbox, Pushed};
use crate::refusal;

/// Why a connection exists, which decides who closes it and when.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// The peer dialled us; the peer decides when it ends.
    Inbound,
    /// One of this node's ℓ long-lived outbound connections (§9.4): kept
    /// open with keepalives, replaced when lost.
    Kept,
    /// An outbound connection for requests to a peer the node keeps no
    /// connection to; closed once idle.
    Transient,
}

/// What the keepalive clock of a connection asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KeepaliveStep {
    /// Not established, or a keepalive is already out: nothing to do.
    Nothing,
    /// Traffic came recently: check again then.
    WaitUntil(Instant),
    /// Quiet for the whole interval: send a keepalive `PING`.
    Ping,
}

/// What the idle clock of a transient connection asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum IdleStep {
    /// Not transient: it never idles out.
    Nothing,
    /// Busy or recently active: check again then.
    WaitUntil(Instant),
    /// Idle for the whole interval: close it.
    Close,
}

/// One connection the driver reported.
#[derive(Debug)]
pub(crate) struct Connection {
    /// The address dialled, for outbound connections.
    pub(crate) dialled: Option<SocketAddr>,
    /// The peer's address as the connection shows it: the address dialled,
    /// or the remote address of an inbound connection.
    pub(crate) remote: SocketAddr,
    /// Who opened it and why; changed only through the pool, which counts
    /// roles.
    pub(crate) role: Role,
    /// The peers this node expected at the dialled address (empty for
    /// inbound connections and seeds).
    pub(crate) expected: Vec<Address>,
    /// Reassembles transmissions from the byte stream.
    decoder: StreamDecoder,
    /// Messages for the next transmissions, bounded in bytes, in lanes.
    outbox: Outbox,
    /// Whether the driver's writer for it is full
    /// ([`NodeEngine::handle_send_blocked`](crate::NodeEngine::handle_send_blocked)):
    /// messages wait in the outbox instead of being encoded.
    pub(crate) send_blocked: bool,
    /// The peer's budgets of requests and refusals.
    budgets: Budgets,
    /// Bytes this connection may still decompress (docs/PROTOCOL.md §11).
    decompress: Bucket,
    /// Set once the handshake completed.
    pub(crate) peer: Option<Peer>,
    /// Whether the peer said it keeps this connection (docs/PROTOCOL.md
    /// §9.7); changed only through the pool, which indexes kept
    /// connections.
    pub(crate) kept_by_peer: bool,
    /// When bytes last arrived, or when it was opened.
    last_received: Instant,
    /// When bytes last arrived or were queued, or when it was opened.
    pub(crate) last_active: Instant,
    /// Whether a keepalive `PING` is outstanding.
    keepalive_pending: bool,
    /// Requests this node sent on it that await an answer.
    pub(crate) outstanding: usize,
    /// The compression method used for sending; `none` until negotiated.
    send_method: Method,
    /// The largest transmission body the peer takes (its hello says; the
    /// protocol's default until then).
    pub(crate) peer_max_transmission: usize,
}

impl Connection {
    pub(crate) fn new(
        direction: Direction,
        role: Role,
        limits: Limits,
        rates: &RequestRates,
        now: Instant,
    ) -> Self {
        let decompress = Bucket::new(rates.decompressed_bytes, now);
        let (dialled, remote) = match direction {
            Direction::Outbound { addr } => (Some(addr), addr),
            Direction::Inbound { remote } => (None, remote),
        };
        Self {
            dialled,
            remote,
            role,
            expected: Vec::new(),
            decoder: StreamDecoder::new(limits),
            outbox: Outbox::default(),
            send_blocked: false,
            budgets: Budgets::new(rates, now),
            decompress,
            peer: None,
            kept_by_peer: false,
            last_received: now,
            last_active: now,
            keepalive_pending: false,
            outstanding: 0,
            send_method: Method::None,
            peer_max_transmission: Limits::default().max_transmission,
        }
    }

    /// Whether the handshake completed.
    pub(crate) fn is_established(&self) -> bool {
        self.peer.is_some()
    }

    /// Whether it is an established transient connection with no request
    /// outstanding: one that can be closed to free its slot.
    pub(crate) fn is_idle_transient(&self) -> bool {
        self.role == Role::Transient && self.is_established() && self.outstanding == 0
    }

    /// Bytes arrived.
    pub(crate) fn receive(&mut self, bytes: &[u8], now: Instant) {
        self.last_received = now;
        self.last_active = now;
        self.decoder.push(bytes);
    }

    /// The next complete transmission received, decoded; `Ok(None)` until
    /// one is complete. A compressed one may decompress to no more than the
    /// connection's decompression budget holds at `now` (and is charged
    /// what it did).
    pub(crate) fn next_transmission(
        &mut self,
        profile: Profile,
        limits: &Limits,
        now: Instant,
    ) -> Result<Option<(Transmission, Method)>, CloseReason> {
        let Some(frame) = self.decoder.next_frame().map_err(CloseReason::Framing)? else {
            return Ok(None);
        };
        let method = frame.header.compression;
        if method == Method::None {
            return frame
                .decode(profile, limits)
                .map(|tx| Some((tx, method)))
                .map_err(CloseReason::Framing);
        }
        let budget = usize::try_from(self.decompress.available(now)).unwrap_or(usize::MAX);
        let allowed = budget.min(limits.max_decompressed);
        let capped = Limits {
            max_decompressed: allowed,
            ..*limits
        };
        match frame.decode(profile, &capped) {
            Ok(tx) => {
                self.decompress.take(tx.body_len() as u64, now);
                Ok(Some((tx, method)))
            }
            Err(DecodeError::Decompress(CompressError::OutputLimit { .. }))
                if allowed < limits.max_decompressed =>
            {
                Err(CloseReason::DecompressionBudget)
            }
            Err(err) => Err(CloseReason::Framing(err)),
        }
    }

    /// The to-key of what this node sends: the peer's key (nothing is
    /// sent before the handshake completes), else the broadcast key.
    pub(crate) fn to_key(&self, profile: Profile) -> Bytes {
        match &self.peer {
            Some(peer) => peer.public.to_bytes(),
            None => Bytes::from(vec![0; profile.key_len()]),
        }
    }

    /// Whether the outbox holds `max_bytes` or more: nothing more should
    /// be built for it in this drain.
    pub(crate) fn outbox_full(&self, max_bytes: usize) -> bool {
        self.outbox.bytes() >= max_bytes
    }

    /// Queues `msg` (of `len` encoded bytes) in `lane` for the next
    /// transmission, within `max_bytes` (see [`Outbox::push`]).
    pub(crate) fn queue(
        &mut self,
        msg: Message,
        len: usize,
        lane: Lane,
        max_bytes: usize,
        now: Instant,
    ) -> Pushed {
        let pushed = self.outbox.push(msg, len, lane, max_bytes);
        if pushed != Pushed::Full {
            self.last_active = now;
        }
        pushed
    }

    /// Sends with `method` from now on: the peer acknowledged it (§9.3).
    pub(crate) fn use_method(&mut self, method: Method) {
        self.send_method = method;
    }

    /// Whether messages wait in the outbox.
    pub(crate) fn has_outbox(&self) -> bool {
        !self.outbox.is_empty()
    }

    /// Encodes queued messages as one transmission within the peer's
    /// `max_transmission` and `batch_bytes`, with the negotiated method
    /// once the body reaches `compress_above` bytes (see
    /// [`Outbox::take_transmission`]).
    pub(crate) fn take_transmission(
        &mut self,
        profile: Profile,
        batch_bytes: usize,
        compress_above: usize,
    ) -> Option<(Option<Bytes>, u64)> {
        let max_body = self.peer_max_transmission;
        let method = self.send_method;
        self.outbox
            .take_transmission(profile, max_body, batch_bytes, method, compress_above)
    }

    /// Whether a request of `class` is within the peer's budget at `now`.
    pub(crate) fn allow(&mut self, class: Class, now: Instant) -> bool {
        self.budgets.allow(class, now)
    }

    /// Whether one more refusal to the peer is within its budget at `now`.
    pub(crate) fn allow_refusal(&mut self, now: Instant) -> bool {
        self.budgets.allow_refusal(now)
    }

    /// The keepalive timer fired at `now`.
    pub(crate) fn keepalive_step(
        &self,
        interval: std::time::Duration,
        now: Instant,
    ) -> KeepaliveStep {
        if !self.is_established() || self.keepalive_pending {
            return KeepaliveStep::Nothing;
        }
        let due = self.last_received + interval;
        if due > now {
            KeepaliveStep::WaitUntil(due)
        } else {
            KeepaliveStep::Ping
        }
    }

    /// A keepalive `PING` was sent.
    pub(crate) fn keepalive_sent(&mut self) {
        self.keepalive_pending = true;
    }

    /// The keepalive was answered (or refused: the peer is there); returns
    /// when the next one is due.
    pub(crate) fn keepalive_answered(
        &mut self,
        interval: std::time::Duration,
        now: Instant,
    ) -> Instant {
        self.keepalive_pending = false;
        self.last_received.max(now) + interval
    }

    /// The idle timer fired at `now`.
    pub(crate) fn idle_step(&self, idle: std::time::Duration, now: Instant) -> IdleStep {
        if self.role != Role::Transient {
            return IdleStep::Nothing;
        }
        if self.outstanding > 0 {
            return IdleStep::WaitUntil(now + idle);
        }
        let idle_until = self.last_active + idle;
        if idle_until > now {
            IdleStep::WaitUntil(idle_until)
        } else {
            IdleStep::Close
        }
    }

    /// §9.3: option 0 (the peer will send with `setting`) is accepted for a
    /// method this node decodes, and the decoder starts accepting it;
    /// option 1 (the peer's preference) is accepted for any known method
    /// and only acknowledged: this node chooses its method from the
    /// peer's hello when the connection is established.
    /// Returns the answer.
    pub(crate) fn set_option(&mut self, opt: &SetConnectionOpt, decodes: MethodSet) -> Payload {
        let method = u8::try_from(opt.setting)
            .ok()
            .and_then(|id| Method::from_id(id).ok());
        let accepted = match (opt.option, method) {
            (SetConnectionOpt::COMPRESSION, Some(m))
                if decodes.contains(m) || m == Method::None =>
            {
                self.decoder.accept(m);
                true
            }
            (SetConnectionOpt::PREFERRED_COMPRESSION, Some(_)) => true,
            _ => false,
        };
        match refusal::option_answer(opt, accepted, "unsupported option or setting") {
            Ok(ack) => Payload::Ack(ack),
            Err(nack) => Payload::Nack(nack),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn conn(role: Role, now: Instant) -> Connection {
        let remote = "127.0.0.1:1".parse().unwrap();
        let rates = RequestRates::default();
        Connection::new(
            Direction::Inbound { remote },
            role,
            Limits::default(),
            &rates,
            now,
        )
    }

    #[test]
    fn idle_step_by_role_and_activity() {
        #[allow(clippy::disallowed_methods)] // A fixed epoch for the test.
        let t0 = Instant::now();
        let s = Duration::from_secs;
        // (role, outstanding, now, expected)
        let cases = [
            (Role::Inbound, 0, t0 + s(60), IdleStep::Nothing),
            (Role::Kept, 0, t0 + s(60), IdleStep::Nothing),
            (
                Role::Transient,
                0,
                t0 + s(2),
                IdleStep::WaitUntil(t0 + s(5)),
            ),
            (Role::Transient, 0, t0 + s(5), IdleStep::Close),
            (
                Role::Transient,
                1,
                t0 + s(60),
                IdleStep::WaitUntil(t0 + s(65)),
            ),
        ];
        for (role, outstanding, now, expected) in cases {
            let mut c = conn(role, t0);
            c.outstanding = outstanding;
            assert_eq!(c.idle_step(s(5), now), expected, "{role:?} {outstanding}");
        }
    }

    #[test]
    fn keepalive_waits_for_quiet_and_one_ping_at_a_time() {
        #[allow(clippy::disallowed_methods)] // A fixed epoch for the test.
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut c = conn(Role::Kept, t0);
        assert_eq!(
            c.keepalive_step(s(30), t0 + s(40)),
            KeepaliveStep::Nothing,
            "not established"
        );
        let keypair = shoutnet_crypto::Keypair::generate(
            Profile::Ed25519,
            &mut <rand_chacha::ChaCha20Rng as rand_core::SeedableRng>::from_seed([1; 32]),
        )
        .unwrap();
        c.peer = Some(Peer {
            address: keypair.public().routing_address(),
            public: keypair.public().clone(),
            listen: Vec::new(),
            max_transmission: 1 << 20,
            compression: MethodSet::only_none(),
            preferred: Method::None,
        });
        c.receive(&[], t0 + s(10));
        assert_eq!(
            c.keepalive_step(s(30), t0 + s(20)),
            KeepaliveStep::WaitUntil(t0 + s(40))
        );
        assert_eq!(c.keepalive_step(s(30), t0 + s(40)), KeepaliveStep::Ping);
        c.keepalive_sent();
        assert_eq!(
            c.keepalive_step(s(30), t0 + s(90)),
            KeepaliveStep::Nothing,
            "one at a time"
        );
        assert_eq!(c.keepalive_answered(s(30), t0 + s(45)), t0 + s(75));
        assert_eq!(c.keepalive_step(s(30), t0 + s(75)), KeepaliveStep::Ping);
    }

    /// Messages per transmission as `c`'s outbox drains in batches of at
    /// most `batch_bytes`.
    fn batch_sizes(c: &mut Connection, batch_bytes: usize) -> Vec<usize> {
        let mut sizes = Vec::new();
        while let Some((bytes, errors)) = c.take_transmission(Profile::Ed25519, batch_bytes, 0) {
            assert_eq!(errors, 0);
            let tx = shoutnet_wire::decode_transmission(
                bytes.unwrap(),
                Profile::Ed25519,
                &Limits::default(),
                MethodSet::all(),
            )
            .unwrap();
            sizes.push(tx.len());
        }
        sizes
    }

    #[test]
    fn outbox_is_bounded_in_bytes_and_split_at_the_peers_limit_and_batch_size() {
        #[allow(clippy::disallowed_methods)] // A fixed epoch for the test.
        let t0 = Instant::now();
        let mut c = conn(Role::Inbound, t0);
        assert!(
            c.take_transmission(Profile::Ed25519, 1 << 20, 0).is_none(),
            "nothing queued"
        );
        let key = Bytes::from(vec![1; 32]);
        let ping = Payload::Ping(shoutnet_wire::Ping { request_id: 1 });
        let msg = Message::from_payload(Profile::Ed25519, key.clone(), key, &ping).unwrap();
        let len = msg.encoded_len(Profile::Ed25519);
        for _ in 0..5 {
            assert_ne!(
                c.queue(msg.clone(), len, Lane::Own, 5 * len, t0),
                Pushed::Full
            );
        }
        assert_eq!(
            c.queue(msg.clone(), len, Lane::Own, 5 * len, t0),
            Pushed::Full,
            "bounded in bytes"
        );
        assert!(c.outbox_full(5 * len));
        // A peer that takes at most two messages a transmission gets three,
        // however large the batches may be.
        c.peer_max_transmission = 2 * len;
        assert_eq!(batch_sizes(&mut c, 1 << 20), [2, 2, 1]);
        assert!(!c.outbox_full(1), "emptied");
        // A message bigger than the peer takes is dropped and counted.
        assert_ne!(
            c.queue(msg.clone(), len, Lane::Own, 5 * len, t0),
            Pushed::Full
        );
        c.peer_max_transmission = len - 1;
        assert_eq!(
            c.take_transmission(Profile::Ed25519, 1 << 20, 0),
            Some((None, 1))
        );
        // Batches stop at `batch_bytes` (one message each here), but a
        // message larger than that still goes alone within the peer's limit.
        c.peer_max_transmission = 1 << 20;
        for _ in 0..3 {
            c.queue(msg.clone(), len, Lane::Own, 5 * len, t0);
        }
        assert_eq!(batch_sizes(&mut c, len - 1), [1, 1, 1]);
    }

    #[test]
    fn set_option_accepts_decodable_methods_only() {
        #[allow(clippy::disallowed_methods)] // A fixed epoch for the test.
        let t0 = Instant::now();
        let mut c = conn(Role::Inbound, t0);
        let only_none = MethodSet::all(); // Every method decodes here.
        // (option, setting, accepted)
        let cases = [
            (0, 4, true),
            (0, 0, true),
            (0, 7, false),
            (1, 5, true),
            (1, 9, false),
            (2, 0, false),
        ];
        for (option, setting, accepted) in cases {
            let opt = SetConnectionOpt {
                request_id: 3,
                option,
                setting,
            };
            let answer = c.set_option(&opt, only_none);
            assert_eq!(
                matches!(answer, Payload::Ack(_)),
                accepted,
                "{option} {setting}"
            );
        }
    }
}

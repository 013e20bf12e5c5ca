//! Helpers the engine tests share (docs/PROTOCOL.md §9): small networks of
//! real `NodeEngine`s on `shoutnet_sim::Sim`, with every message and action
//! recorded and every node's ℓ and transient limits checked after each
//! step.
#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use shoutnet_crypto::Address;
use shoutnet_engine::{Action, CloseReason, Command, CommandId, ConnectionId, EngineConfig, Event};
use shoutnet_sim::scenario::lookup;
use shoutnet_sim::{ChannelMode, Latency, Sim, SimConfig, addr, node_keypair};
use shoutnet_wire::{
    Ack, AckResult, Message, Method, NackCode, Opcode, Payload, Profile, SetConnectionOpt,
    encode_transmission,
};

/// How long [`settle`] runs: past the handshake and request timeouts
/// (10 s), short of the 30 s keepalive.
pub const SETTLE: Duration = Duration::from_secs(20);

/// The virtual epoch: the tests' one clock read.
pub fn epoch() -> Instant {
    #[allow(clippy::disallowed_methods)] // The one clock read: the virtual epoch.
    Instant::now()
}

/// `n` nodes from `seed` over 1 ms links (short against every span the
/// tests measure), recording messages and actions and checking every
/// node's outbound limits; `configure` adjusts every engine.
pub fn network(
    n: usize,
    seed: u64,
    configure: impl Fn(&mut EngineConfig) + Send + Sync + 'static,
) -> Sim {
    network_over(ChannelMode::Trusted, n, seed, configure)
}

/// [`network`] with connections over `channel`.
pub fn network_over(
    channel: ChannelMode,
    n: usize,
    seed: u64,
    configure: impl Fn(&mut EngineConfig) + Send + Sync + 'static,
) -> Sim {
    let mut config = SimConfig::new(n, seed);
    config
        .set_channel(channel)
        .set_latency(Latency::Constant(Duration::from_millis(1)))
        .set_record(true)
        .set_check_limits(true)
        .set_configure(Arc::new(move |_, engine| configure(engine)));
    Sim::new(config, epoch()).unwrap()
}

/// Runs every entry due within `span`.
pub fn run_for(sim: &mut Sim, span: Duration) {
    let end = sim.now() + span;
    sim.run_until(end);
}

/// Runs [`SETTLE`]: handshakes, requests and their timeouts play out.
pub fn settle(sim: &mut Sim) {
    run_for(sim, SETTLE);
}

/// Node `i`'s key field.
pub fn key(sim: &Sim, i: usize) -> Bytes {
    node_keypair(sim.config().seed(), i)
        .unwrap()
        .public()
        .to_bytes()
}

/// A message from node `from` to node `to` carrying `payload`.
pub fn message(sim: &Sim, from: usize, to: usize, payload: &Payload) -> Message {
    Message::from_payload(Profile::Ed25519, key(sim, from), key(sim, to), payload).unwrap()
}

/// One uncompressed transmission of `msgs`.
pub fn encode(msgs: &[Message]) -> Bytes {
    encode_transmission(Profile::Ed25519, msgs, Method::None).unwrap()
}

/// The payloads of the messages from `from` to `to` with `opcode`
/// (`None` for one that did not decode).
pub fn sent(sim: &Sim, from: usize, to: usize, opcode: Opcode) -> Vec<Option<Payload>> {
    sim.messages()
        .iter()
        .filter(|m| m.from == from && m.to == to && m.opcode == opcode)
        .map(|m| m.payload.clone())
        .collect()
}

/// The `ACK`s node `from` sent node `to`, leaving out those of the
/// kept-connection signal (`SET_CONNECTION_OPT` option 2), which a node
/// answers whenever its peer keeps the connection (docs/PROTOCOL.md §8.4).
pub fn answers(sim: &Sim, from: usize, to: usize) -> Vec<Option<Payload>> {
    sent(sim, from, to, Opcode::Ack)
        .into_iter()
        .filter(|p| {
            !matches!(p, Some(Payload::Ack(Ack {
                result: AckResult::SetConnectionOpt { option, .. },
                ..
            })) if *option == SetConnectionOpt::KEPT)
        })
        .collect()
}

/// The codes of the `NACK`s node `from` sent node `to`.
pub fn nack_codes(sim: &Sim, from: usize, to: usize) -> Vec<NackCode> {
    sent(sim, from, to, Opcode::Nack)
        .into_iter()
        .filter_map(|p| match p {
            Some(Payload::Nack(n)) => Some(n.code),
            _ => None,
        })
        .collect()
}

/// Every close so far: the node, its connection and why.
pub fn closes(sim: &Sim) -> Vec<(usize, ConnectionId, CloseReason)> {
    sim.actions()
        .iter()
        .filter_map(|a| match a.action {
            Action::Close { conn, reason } => Some((a.node, conn, reason)),
            Action::Dial { .. } => None,
        })
        .collect()
}

/// Whether node `node` closed its connection `conn`.
pub fn closed(sim: &Sim, node: usize, conn: ConnectionId) -> bool {
    closes(sim).iter().any(|&(n, c, _)| n == node && c == conn)
}

/// The dials node `node` asked for.
pub fn dials(sim: &Sim, node: usize) -> usize {
    sim.actions()
        .iter()
        .filter(|a| a.node == node && matches!(a.action, Action::Dial { .. }))
        .count()
}

/// Number of `Event::Connected` of node `node`.
pub fn connected(sim: &Sim, node: usize) -> usize {
    sim.events(node)
        .filter(|e| matches!(e, Event::Connected { .. }))
        .count()
}

/// The `closest` of node `node`'s `LookupFinished` for `id`.
pub fn lookup_result(sim: &Sim, node: usize, id: CommandId) -> Option<Vec<Address>> {
    sim.events(node).find_map(|e| match e {
        Event::LookupFinished {
            id: got, closest, ..
        } if *got == id => Some(closest.clone()),
        _ => None,
    })
}

/// The eight rsa2048 keys of `fixtures/keys/sim`.
pub fn rsa_fixture_keys() -> Vec<shoutnet_crypto::Keypair> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/keys/sim");
    (1..=8)
        .map(|i| {
            let pem = std::fs::read_to_string(dir.join(format!("rsa2048-{i}.pem"))).unwrap();
            shoutnet_crypto::Keypair::from_pkcs8_pem(&pem).unwrap()
        })
        .collect()
}

/// The `k` addresses other than `searcher`'s closest to `target`.
pub fn brute_force(sim: &Sim, searcher: usize, target: &Address, k: usize) -> Vec<Address> {
    let all: Vec<Address> = (0..sim.len())
        .map(|i| sim.node(i).local_address())
        .collect();
    lookup::brute_force(&all, searcher, target, k)
}

/// Every node but 0 bootstraps through nodes 0 and 1, one at a time.
pub fn bootstrap_all(sim: &mut Sim) {
    for i in 1..sim.len() {
        let seeds = (0..2.min(i)).map(addr).collect();
        sim.command(i, Command::Bootstrap { seeds });
        settle(sim);
    }
}

/// Two nodes with one established connection `(0 → 1, 1's side)`.
pub fn two_connected() -> (Sim, ConnectionId, ConnectionId) {
    let mut sim = network(2, 1, |_| {});
    let (ca, cb) = sim.connect(0, 1);
    settle(&mut sim);
    assert_eq!(connected(&sim, 0), 1);
    assert_eq!(connected(&sim, 1), 1);
    (sim, ca, cb)
}

//! Hostile broadcasts (docs/PROTOCOL.md §8.5, §9.7, §11): forged,
//! altered, replayed, unsigned, misaddressed and off-kept `SHOUT`s, floods
//! of distinct ones, and a `SPEAK` naming another origin. Each is injected
//! into node 1 on its connection from node 0, which keeps it.

mod support;

use bytes::Bytes;
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use shoutnet_crypto::{Keypair, sign_message};
use shoutnet_engine::{CloseReason, ConnectionId, Event, FloodConfig, MessageId, Rate};
use shoutnet_sim::Sim;
use shoutnet_wire::{Broadcast, Message, NackCode, Payload, Profile, SetConnectionOpt, Value};
use support::{closes, connected, encode, key, message, nack_codes, network, settle};

/// Nodes 0 and 1 connected, node 0 keeping the connection, after
/// `configure` of every engine; node 1's end of it.
fn kept_pair(
    seed: u64,
    configure: impl Fn(&mut shoutnet_engine::EngineConfig) + Send + Sync + 'static,
) -> (Sim, ConnectionId) {
    let mut sim = network(2, seed, configure);
    let (_, at_1) = sim.connect(0, 1);
    settle(&mut sim);
    assert_eq!(connected(&sim, 1), 1);
    (sim, at_1)
}

/// A `SHOUT` of `data` naming `origin`, signed by `signer`: a forgery
/// unless they are the same.
fn shout(origin: &Keypair, signer: &Keypair, nonce: u64, data: &str) -> Message {
    let payload = Payload::Shout(Broadcast {
        nonce,
        data: Value::Str(data.into()),
    });
    let mut msg = Message::from_payload(
        Profile::Ed25519,
        signer.public().to_bytes(),
        Bytes::from(vec![0; 32]),
        &payload,
    )
    .unwrap();
    let mut rng = ChaCha20Rng::seed_from_u64(nonce);
    sign_message(signer, &mut rng, &mut msg).unwrap();
    msg.from = origin.public().to_bytes();
    msg
}

fn keypair(seed: u64) -> Keypair {
    Keypair::generate(Profile::Ed25519, &mut ChaCha20Rng::seed_from_u64(seed)).unwrap()
}

/// The broadcasts node 1 delivered, by message id.
fn delivered(sim: &Sim) -> Vec<MessageId> {
    sim.events(1)
        .filter_map(|e| match e {
            Event::Shout { message, .. } => Some(*message),
            _ => None,
        })
        .collect()
}

/// The close node 1 made of `conn`, if any.
fn close_of(sim: &Sim, conn: ConnectionId) -> Option<CloseReason> {
    closes(sim)
        .into_iter()
        .find(|&(node, c, _)| node == 1 && c == conn)
        .map(|(_, _, reason)| reason)
}

#[test]
fn a_forged_origin_is_refused_and_never_delivered() {
    let (mut sim, at_1) = kept_pair(60, |_| {});
    let origin = keypair(1);
    let forger = keypair(2);
    sim.inject(1, at_1, &encode(&[shout(&origin, &forger, 1, "forged")]));
    settle(&mut sim);
    assert!(delivered(&sim).is_empty());
    assert_eq!(sim.node(1).stats().shouts_forged, 1);
    assert_eq!(nack_codes(&sim, 1, 0), [NackCode::BadSignature]);
    assert_eq!(
        sim.node(1).seen_broadcasts(),
        0,
        "a forged id is not remembered"
    );
}

#[test]
fn a_forged_copy_arriving_first_does_not_suppress_the_genuine_one() {
    let (mut sim, at_1) = kept_pair(61, |_| {});
    let origin = keypair(1);
    let genuine = shout(&origin, &origin, 7, "genuine");
    // The same header and content under another signature: the same id.
    let mut forged = genuine.clone();
    forged.signature = shout(&origin, &keypair(2), 7, "genuine").signature;
    // An altered copy: the content changed under the genuine signature.
    let mut altered = shout(&origin, &origin, 7, "altered");
    altered.signature = genuine.signature.clone();
    sim.inject(1, at_1, &encode(&[forged, altered, genuine.clone()]));
    settle(&mut sim);
    assert_eq!(delivered(&sim).len(), 1, "the genuine one");
    assert_eq!(sim.node(1).stats().shouts_forged, 2);
    // Replays of it are dropped unverified.
    sim.inject(1, at_1, &encode(&[genuine.clone(), genuine]));
    settle(&mut sim);
    assert_eq!(delivered(&sim).len(), 1);
    assert_eq!(sim.node(1).stats().shout_duplicates, 2);
}

#[test]
fn unsigned_misaddressed_and_off_kept_shouts_are_refused() {
    let (mut sim, at_1) = kept_pair(62, |_| {});
    let origin = keypair(1);
    let mut unsigned = shout(&origin, &origin, 1, "unsigned");
    unsigned.signature = None;
    let mut misaddressed = shout(&origin, &origin, 2, "to node 1");
    misaddressed.to = key(&sim, 1);
    sim.inject(1, at_1, &encode(&[unsigned, misaddressed]));
    settle(&mut sim);
    assert_eq!(
        nack_codes(&sim, 1, 0),
        [NackCode::Malformed, NackCode::Malformed]
    );
    assert_eq!(sim.node(1).stats().shouts_malformed, 1);
    // Node 0 says it no longer keeps the connection: a SHOUT on it is off
    // the kept graph.
    let opt = SetConnectionOpt {
        request_id: 9,
        option: SetConnectionOpt::KEPT,
        setting: 0,
    };
    let off = shout(&origin, &origin, 3, "off kept");
    sim.inject(
        1,
        at_1,
        &encode(&[message(&sim, 0, 1, &Payload::SetConnectionOpt(opt)), off]),
    );
    settle(&mut sim);
    assert_eq!(sim.node(1).stats().shouts_off_kept, 1);
    assert!(delivered(&sim).is_empty());
    assert_eq!(nack_codes(&sim, 1, 0).len(), 3);
}

#[test]
fn a_speak_naming_another_origin_closes_the_connection() {
    let (mut sim, at_1) = kept_pair(63, |_| {});
    let payload = Payload::Speak(Broadcast {
        nonce: 1,
        data: Value::Nil,
    });
    let other = keypair(1);
    let speak = Message::from_payload(
        Profile::Ed25519,
        other.public().to_bytes(),
        Bytes::from(vec![0; 32]),
        &payload,
    )
    .unwrap();
    sim.inject(1, at_1, &encode(&[speak]));
    settle(&mut sim);
    assert_eq!(sim.node(1).stats().speaks_delivered, 0);
    assert_eq!(nack_codes(&sim, 1, 0), [NackCode::NotAuthenticated]);
    assert_eq!(close_of(&sim, at_1), Some(CloseReason::ForeignFromKey));
}

#[test]
fn one_origin_is_held_to_its_budget() {
    let (mut sim, at_1) = kept_pair(64, |_| {});
    let origin = keypair(1);
    let burst = FloodConfig::default().origin_rate.burst();
    let shouts: Vec<Message> = (0..burst + 20)
        .map(|i| shout(&origin, &origin, i, "again"))
        .collect();
    sim.inject(1, at_1, &encode(&shouts));
    settle(&mut sim);
    let stats = sim.node(1).stats();
    // The burst, and what the rate refilled while the copies were read.
    assert!(delivered(&sim).len() as u64 >= burst);
    assert!(delivered(&sim).len() as u64 <= burst + 1);
    assert_eq!(
        stats.shouts_delivered + stats.shouts_over_origin_budget,
        burst + 20
    );
    assert_eq!(close_of(&sim, at_1), None, "the peer only relayed");
}

#[test]
fn a_flood_of_distinct_origins_is_rate_limited_and_the_seen_cache_stays_bounded() {
    // A seen-cache of 64 ids, and a connection budget of 500 SHOUTs: 2,000
    // distinct, validly signed SHOUTs from 2,000 origins in one input.
    let (mut sim, at_1) = kept_pair(65, |config| {
        let mut flood = FloodConfig::default();
        flood.seen_max = 64;
        config.set_flood(flood);
        let mut rates = shoutnet_engine::RequestRates::default();
        rates.shouts = Rate::new(100, 500);
        config.set_request_rates(rates);
    });
    let shouts: Vec<Message> = (0..2_000)
        .map(|i| {
            let origin = keypair(1_000 + i);
            shout(&origin, &origin, i, "new")
        })
        .collect();
    sim.inject(1, at_1, &encode(&shouts));
    settle(&mut sim);
    let stats = sim.node(1).stats();
    assert!(sim.node(1).seen_broadcasts() <= 64);
    assert!(stats.shouts_delivered <= 501, "{stats:?}");
    assert!(stats.rate_limited > 0, "{stats:?}");
    assert_eq!(close_of(&sim, at_1), Some(CloseReason::TooManyRefusals));
}

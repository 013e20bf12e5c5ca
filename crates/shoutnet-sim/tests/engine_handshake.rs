//! The connection handshake on the simulator (docs/PROTOCOL.md §9.1,
//! §5.5): completion, bad proofs, version and profile mismatches,
//! timeouts.

mod support;

use std::time::Duration;

use shoutnet_engine::{CloseReason, Event};
use shoutnet_sim::addr;
use shoutnet_wire::{Ack, AckResult, Hello, NackCode, Payload};
use support::{closes, connected, key, nack_codes, network, run_for, settle, two_connected};

#[test]
fn two_nodes_complete_the_handshake() {
    let (sim, _, _) = two_connected();
    let Some(Event::Connected {
        peer,
        listen,
        key: k,
        ..
    }) = sim.events(0).next()
    else {
        panic!("{:?}", sim.events(0).collect::<Vec<_>>());
    };
    assert_eq!(*peer, sim.node(1).local_address());
    assert_eq!(*k, key(&sim, 1));
    assert_eq!(listen, &vec![addr(1)]);
    assert!(closes(&sim).is_empty());
    // Both inserted each other into their routing tables.
    assert!(
        sim.node(0)
            .routing_table()
            .contains(&sim.node(1).local_address())
    );
    assert!(
        sim.node(1)
            .routing_table()
            .contains(&sim.node(0).local_address())
    );
}

#[test]
fn tampered_proof_is_refused_with_bad_signature() {
    let mut sim = network(2, 2, |_| {});
    sim.set_rewrite(1, |p| match p {
        Payload::Ack(Ack {
            request_id,
            result: AckResult::Ping { proof: Some(proof) },
        }) => {
            let mut bad = proof.to_vec();
            bad[0] ^= 1;
            Some(Payload::Ack(Ack {
                request_id,
                result: AckResult::Ping {
                    proof: Some(bad.into()),
                },
            }))
        }
        other => Some(other),
    });
    sim.connect(0, 1);
    // Short of node 1's first upkeep dial (it did see a valid proof).
    run_for(&mut sim, Duration::from_secs(1));
    assert_eq!(nack_codes(&sim, 0, 1), vec![NackCode::BadSignature]);
    assert!(closes(&sim).iter().any(|&(node, _, _)| node == 0));
    assert_eq!(connected(&sim, 0), 0);
    assert_eq!(sim.node(0).connection_count(), 0);
    assert_eq!(sim.node(1).connection_count(), 0);
}

/// Node 1's hello is altered by `edit`; node 0 must refuse it with
/// `VERSION_MISMATCH` and close, and no one connects.
fn hello_is_refused(seed: u64, edit: fn(&mut Hello)) {
    let mut sim = network(2, seed, |_| {});
    sim.set_rewrite(1, move |p| match p {
        Payload::Ping(mut ping) => {
            if let Some(h) = ping.hello.as_mut() {
                edit(h);
            }
            Some(Payload::Ping(ping))
        }
        other => Some(other),
    });
    sim.connect(0, 1);
    run_for(&mut sim, Duration::from_secs(1));
    assert_eq!(nack_codes(&sim, 0, 1), vec![NackCode::VersionMismatch]);
    assert!(closes(&sim).iter().any(|&(node, _, _)| node == 0));
    assert_eq!(connected(&sim, 0) + connected(&sim, 1), 0);
}

#[test]
fn version_mismatch_is_refused() {
    hello_is_refused(3, |h| h.version = 2);
}

#[test]
fn a_hello_with_another_profile_is_refused() {
    hello_is_refused(31, |h| h.profile = "rsa2048".into());
}

#[test]
fn silent_peer_hits_the_handshake_timeout() {
    let mut sim = network(2, 6, |_| {});
    sim.set_rewrite(1, |_| None);
    sim.connect(0, 1);
    settle(&mut sim);
    assert!(
        closes(&sim)
            .iter()
            .any(|&(node, _, reason)| node == 0 && reason == CloseReason::HandshakeTimedOut),
        "{:?}",
        closes(&sim)
    );
}

#[test]
fn absurd_durations_are_capped_instead_of_overflowing() {
    let mut sim = network(2, 3, |config| {
        config
            .set_handshake_timeout(Duration::MAX)
            .set_request_timeout(Duration::MAX)
            .set_keepalive(Duration::MAX)
            .kad_mut()
            .set_request_timeout(Duration::MAX);
    });
    sim.connect(0, 1);
    settle(&mut sim);
    assert_eq!(connected(&sim, 0), 1);
    assert_eq!(connected(&sim, 1), 1);
}

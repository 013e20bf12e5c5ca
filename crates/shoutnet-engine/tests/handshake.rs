//! The connection handshake over the in-memory driver (docs/PROTOCOL.md
//! §9.1, §5.5): completion, bad proofs, version and profile mismatches,
//! timeouts.

mod support;

use std::time::Duration;

use shoutnet_engine::Event;
use shoutnet_wire::{Ack, AckResult, Hello, NackCode, Payload};
use support::{Cluster, addr, connected};

#[test]
fn two_nodes_complete_the_handshake() {
    let (c, _, _) = Cluster::two_connected();
    let Event::Connected {
        peer, listen, key, ..
    } = &c.events_of(0)[0]
    else {
        panic!("{:?}", c.events_of(0));
    };
    assert_eq!(*peer, c.nodes[1].local_address());
    assert_eq!(*key, c.key(1));
    assert_eq!(listen, &vec![addr(1)]);
    assert!(c.closes.is_empty());
    // Both inserted each other into their routing tables.
    assert!(
        c.nodes[0]
            .routing_table()
            .contains(&c.nodes[1].local_address())
    );
    assert!(
        c.nodes[1]
            .routing_table()
            .contains(&c.nodes[0].local_address())
    );
}

#[test]
fn tampered_proof_is_refused_with_bad_signature() {
    let mut c = Cluster::new(2, 2, |_| {});
    c.rewrite = Some((
        1,
        Box::new(|p| match p {
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
        }),
    ));
    c.connect(0, 1);
    // Short of node 1's first upkeep dial (it did see a valid proof).
    c.run_for(Duration::from_secs(1));
    assert_eq!(c.nack_codes(0, 1), vec![NackCode::BadSignature]);
    assert!(c.closes.iter().any(|(node, _, _)| *node == 0));
    assert_eq!(connected(&c.events_of(0)), 0);
    assert_eq!(c.nodes[0].connection_count(), 0);
    assert_eq!(c.nodes[1].connection_count(), 0);
}

/// Node 1's hello is altered by `edit`; node 0 must refuse it with
/// `VERSION_MISMATCH` and close, and no one connects.
fn hello_is_refused(seed: u64, edit: fn(&mut Hello)) {
    let mut c = Cluster::new(2, seed, |_| {});
    c.rewrite = Some((
        1,
        Box::new(move |p| match p {
            Payload::Ping(mut ping) => {
                if let Some(h) = ping.hello.as_mut() {
                    edit(h);
                }
                Some(Payload::Ping(ping))
            }
            other => Some(other),
        }),
    ));
    c.connect(0, 1);
    c.run_for(Duration::from_secs(1));
    assert_eq!(c.nack_codes(0, 1), vec![NackCode::VersionMismatch]);
    assert!(c.closes.iter().any(|(node, _, _)| *node == 0));
    assert_eq!(connected(&c.events_of(0)) + connected(&c.events_of(1)), 0);
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
    let mut c = Cluster::new(2, 6, |_| {});
    c.rewrite = Some((1, Box::new(|_| None)));
    c.connect(0, 1);
    c.run_until_idle();
    assert!(
        c.closes
            .iter()
            .any(|(node, _, reason)| *node == 0 && reason.contains("handshake timed out")),
        "{:?}",
        c.closes
    );
}

#[test]
fn absurd_durations_are_capped_instead_of_overflowing() {
    let mut c = Cluster::new(2, 3, |config| {
        config.handshake_timeout = Duration::MAX;
        config.request_timeout = Duration::MAX;
        config.keepalive = Duration::MAX;
        config.kad.request_timeout = Duration::MAX;
    });
    c.connect(0, 1);
    c.run_until_idle();
    assert_eq!(connected(&c.events_of(0)), 1);
    assert_eq!(connected(&c.events_of(1)), 1);
}

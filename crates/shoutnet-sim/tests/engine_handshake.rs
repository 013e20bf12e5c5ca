//! The connection handshake on the simulator (docs/PROTOCOL.md §9.1,
//! §5.5): completion over the Noise channel and its trusted stand-in, the
//! relay attack that no longer works, malformed hellos, and timeouts.

mod support;

use std::time::Duration;

use bytes::Bytes;
use shoutnet_engine::{CloseReason, Event};
use shoutnet_sim::{ChannelMode, Sim, addr};
use support::{closes, connected, key, network, network_over, run_for, settle};

const MODES: [ChannelMode; 2] = [ChannelMode::Noise, ChannelMode::Trusted];

#[test]
fn two_nodes_complete_the_handshake_over_either_channel() {
    for mode in MODES {
        let mut sim = network_over(mode, 2, 1, |_| {});
        sim.connect(0, 1);
        settle(&mut sim);
        let Some(Event::Connected {
            peer,
            listen,
            key: k,
            ..
        }) = sim.events(0).next()
        else {
            panic!("{mode:?}: {:?}", sim.events(0).collect::<Vec<_>>());
        };
        assert_eq!(*peer, sim.node(1).local_address());
        assert_eq!(*k, key(&sim, 1));
        assert_eq!(
            listen,
            &vec![addr(1)],
            "the hello's address, on the connection's IP"
        );
        assert!(closes(&sim).is_empty(), "{mode:?}");
        // Both inserted each other into their routing tables.
        let knows = |sim: &Sim, a: usize, b: usize| {
            sim.node(a)
                .routing_table()
                .contains(&sim.node(b).local_address())
        };
        assert!(knows(&sim, 0, 1) && knows(&sim, 1, 0), "{mode:?}");
        if mode == ChannelMode::Noise {
            assert_eq!(sim.stats().channel_failures, 0);
        }
    }
}

/// The relay attack of the old handshake, in its only remaining form:
/// node 2 (M) presents node 1's (V's) hello to node 0 (X). V's binding
/// signs V's Noise static key; X's channel with M proves M's. X refuses M,
/// and never routes V's key to M's address.
#[test]
fn a_relayed_hello_does_not_impersonate_its_owner() {
    for mode in MODES {
        let mut sim = network_over(mode, 3, 7, |_| {});
        let (x, v, m) = (0, 1, 2);
        let v_hello: Bytes = sim.node(v).channel_identity().hello().clone();
        sim.set_hello(m, Some(v_hello));
        let (_, at_x) = sim.connect(m, x);
        settle(&mut sim);
        // X refuses that connection, and every later one M dials (M, which
        // did authenticate X, wants X among its kept connections).
        let at_x_closes: Vec<_> = closes(&sim)
            .into_iter()
            .filter(|&(node, ..)| node == x)
            .collect();
        assert!(
            at_x_closes.iter().any(|&(_, conn, _)| conn == at_x),
            "{mode:?}"
        );
        assert!(
            at_x_closes
                .iter()
                .all(|&(_, _, reason)| reason == CloseReason::UnboundKey),
            "{mode:?}: {at_x_closes:?}"
        );
        assert_eq!(connected(&sim, x), 0, "{mode:?}");
        let v_address = sim.node(v).local_address();
        assert!(
            !sim.node(x).routing_table().contains(&v_address),
            "{mode:?}"
        );
        assert!(!sim.node(x).is_connected(&v_address), "{mode:?}");
        let refused = sim.node(x).stats().refused_handshakes;
        assert_eq!(refused, at_x_closes.len() as u64, "{mode:?}");
        // V itself still connects to X as V.
        sim.connect(v, x);
        settle(&mut sim);
        assert!(sim.node(x).is_connected(&v_address), "{mode:?}");
    }
}

#[test]
fn a_malformed_hello_closes_the_connection() {
    for mode in MODES {
        let mut sim = network_over(mode, 2, 8, |_| {});
        sim.set_hello(
            1,
            Some(Bytes::from_static(&[0x81, 0xa3, b'k', b'e', b'y', 0xc0])),
        );
        sim.connect(0, 1);
        settle(&mut sim);
        // Node 0 refuses node 1 whenever they meet (node 1, which read
        // node 0's valid hello, dials it again to keep it).
        let reasons: Vec<_> = closes(&sim).into_iter().map(|(n, _, r)| (n, r)).collect();
        assert!(!reasons.is_empty(), "{mode:?}");
        assert!(
            reasons
                .iter()
                .all(|r| matches!(r, (0, CloseReason::MalformedHello(_)))),
            "{mode:?}: {reasons:?}"
        );
        assert_eq!(connected(&sim, 0), 0);
    }
}

#[test]
fn a_peer_that_never_finishes_the_handshake_is_closed() {
    for mode in MODES {
        let mut sim = network_over(mode, 2, 6, |_| {});
        // Everything between them is lost from the start: the channel's
        // messages never arrive.
        sim.partition(&[0], &[1]);
        sim.connect(0, 1);
        settle(&mut sim);
        for node in [0, 1] {
            assert!(
                closes(&sim)
                    .iter()
                    .any(|&(n, _, r)| n == node && r == CloseReason::HandshakeTimedOut),
                "{mode:?}: {:?}",
                closes(&sim)
            );
        }
    }
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
    run_for(&mut sim, Duration::from_secs(1));
    assert_eq!(connected(&sim, 0), 1);
    assert_eq!(connected(&sim, 1), 1);
}

//! Bad input from a peer (docs/PROTOCOL.md §9.2, §10, DESIGN R12): every
//! message in the wrong state gets a typed answer (a `NACK` with a reason,
//! or a close), and the engine keeps serving its other connections.

mod support;

use bytes::Bytes;
use shoutnet_engine::{Command, Event};
use shoutnet_wire::{
    Ack, AckResult, BatchEncoder, FindNode, Message, Method, NackCode, Opcode, Payload, Profile,
};
use support::{Cluster, connected, encode};

#[test]
fn find_node_before_the_handshake_is_refused() {
    let mut c = Cluster::new(2, 4, |_| {});
    let (_, cb) = c.connect(0, 1);
    let find = c.message(
        0,
        1,
        &Payload::FindNode(FindNode {
            request_id: 77,
            target: [5; 32],
        }),
    );
    c.inject(1, cb, &encode(&[find]));
    c.run_until_idle();
    let nacks: Vec<_> = c.sent(1, 0, Opcode::Nack).into_iter().flatten().collect();
    assert!(
        matches!(&nacks[..], [Payload::Nack(n)] if n.code == NackCode::NotAuthenticated
            && n.request_id == Some(77) && n.acked == Opcode::FindNode),
        "{nacks:?}"
    );
    assert!(
        c.closes
            .iter()
            .any(|(node, conn, _)| *node == 1 && *conn == cb)
    );
    assert_eq!(connected(&c.events_of(1)), 0);
}

#[test]
fn reserved_opcode_is_refused_and_the_connection_stays() {
    let (mut c, _, cb) = Cluster::two_connected();
    let msg = Message::new(
        c.key(0),
        c.key(1),
        Opcode::Reserved12,
        Bytes::from_static(&[0x91, 1]),
    );
    c.inject(1, cb, &encode(&[msg]));
    c.run_until_idle();
    assert_eq!(c.nack_codes(1, 0), vec![NackCode::UnsupportedOpcode]);
    assert!(c.closes.is_empty());
    assert_eq!(c.nodes[1].connection_count(), 1);
}

#[test]
fn unsupported_requests_get_an_explicit_nack() {
    let (mut c, _, cb) = Cluster::two_connected();
    let whisper = c.message(
        0,
        1,
        &Payload::Whisper(shoutnet_wire::Whisper {
            request_id: 5,
            data: shoutnet_wire::Value::Nil,
        }),
    );
    c.inject(1, cb, &encode(&[whisper]));
    c.run_until_idle();
    let nacks: Vec<_> = c.sent(1, 0, Opcode::Nack).into_iter().flatten().collect();
    assert!(
        matches!(&nacks[..], [Payload::Nack(n)] if n.code == NackCode::UnsupportedOpcode
            && n.reason == "not supported by this node yet" && n.request_id == Some(5)),
        "{nacks:?}"
    );
    assert!(c.closes.is_empty());
}

#[test]
fn unknown_ack_is_counted_not_fatal() {
    let (mut c, _, cb) = Cluster::two_connected();
    let ack = c.message(
        0,
        1,
        &Payload::Ack(Ack {
            request_id: 999_999,
            result: AckResult::Ping { proof: None },
        }),
    );
    c.inject(1, cb, &encode(&[ack]));
    c.run_until_idle();
    assert_eq!(c.nodes[1].stats().unsolicited, 1);
    assert!(c.closes.is_empty());
    assert_eq!(c.nodes[1].connection_count(), 1);
}

#[test]
fn foreign_from_key_closes_the_connection() {
    let mut c = Cluster::new(3, 9, |_| {});
    let (_, cb) = c.connect(0, 1);
    c.run_until_idle();
    let ping = c.message(
        2,
        1,
        &Payload::Ping(shoutnet_wire::Ping {
            request_id: 1,
            hello: None,
        }),
    );
    c.inject(1, cb, &encode(&[ping]));
    c.run_until_idle();
    assert_eq!(c.nack_codes(1, 0), vec![NackCode::NotAuthenticated]);
    assert!(
        c.closes
            .iter()
            .any(|(node, conn, _)| *node == 1 && *conn == cb)
    );
}

#[test]
fn garbage_closes_one_connection_and_others_keep_working() {
    let mut c = Cluster::new(3, 5, |_| {});
    let (c01, _) = c.connect(0, 1);
    c.connect(2, 0);
    c.run_until_idle();
    assert_eq!(c.nodes[0].connection_count(), 2);
    c.inject(0, c01, &[0xff; 40]);
    c.run_until_idle();
    assert!(
        c.closes
            .iter()
            .any(|(node, conn, _)| *node == 0 && *conn == c01)
    );
    assert_eq!(c.nodes[0].stats().framing_errors, 1);
    let peer2 = c.nodes[2].local_address();
    assert!(
        c.nodes[0].is_connected(&peer2),
        "the other connection stays"
    );
    // The other connection still answers requests.
    let now = c.now;
    let target = c.nodes[0].local_address();
    let id = c.nodes[2].handle_command(Command::FindNode { target }, now);
    c.run_until_idle();
    let finished: Vec<_> = c
        .events_of(2)
        .into_iter()
        .filter_map(|e| match e {
            Event::LookupFinished {
                id: got, closest, ..
            } if got == id => Some(closest),
            _ => None,
        })
        .collect();
    assert_eq!(finished.len(), 1);
    assert_eq!(finished[0].first(), Some(&target));
}

#[test]
fn set_connection_opt_is_acked_for_decodable_methods_only() {
    let (mut c, _, cb) = Cluster::two_connected();
    let opt = |id, option, setting| {
        Payload::SetConnectionOpt(shoutnet_wire::SetConnectionOpt {
            request_id: id,
            option,
            setting,
        })
    };
    let ok = c.message(0, 1, &opt(1, 0, Method::Zlib.id().into()));
    let bad = c.message(0, 1, &opt(2, 7, 0));
    c.inject(1, cb, &encode(&[ok, bad]));
    c.run_until_idle();
    let acks: Vec<_> = c.sent(1, 0, Opcode::Ack).into_iter().flatten().collect();
    assert!(
        acks.iter().any(|p| matches!(
            p,
            Payload::Ack(Ack {
                request_id: 1,
                result: AckResult::SetConnectionOpt {
                    option: 0,
                    setting: 4
                },
            })
        )),
        "{acks:?}"
    );
    assert_eq!(c.nack_codes(1, 0), vec![NackCode::UnsupportedOption]);
    // Node 1 now reads zlib transmissions from node 0.
    let ping = c.message(
        0,
        1,
        &Payload::Ping(shoutnet_wire::Ping {
            request_id: 3,
            hello: None,
        }),
    );
    let mut batch = BatchEncoder::new(Profile::Ed25519);
    batch.push(&ping).unwrap();
    c.inject(1, cb, &batch.finish(Method::Zlib).unwrap());
    c.run_until_idle();
    assert!(c.closes.is_empty(), "{:?}", c.closes);
    assert!(c.sent(1, 0, Opcode::Ack).iter().any(|p| matches!(
        p,
        Some(Payload::Ack(Ack {
            request_id: 3,
            result: AckResult::Ping { proof: None }
        }))
    )));
}

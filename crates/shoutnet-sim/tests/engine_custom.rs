//! `CUSTOM` handlers (docs/PROTOCOL.md §8.8): a request with an id gets
//! exactly one answer — the handler's, a refusal, or the engine's when the
//! handler is late — unknown names are refused, and requests waiting for
//! answers are bounded.

mod support;

use std::time::Duration;

use shoutnet_engine::{
    Command, CommandError, CommandId, CustomRefusal, Event, ReplyHandle, RequestError,
};
use shoutnet_sim::Sim;
use shoutnet_wire::{Message, NackCode, Opcode, Value};
use support::{bootstrap_all, encode, key, nack_codes, network, run_for, settle};

/// Nodes 0 and 1 connected; node 1 serves "echo".
fn serving(configure: impl Fn(&mut shoutnet_engine::EngineConfig) + Send + Sync + 'static) -> Sim {
    let mut sim = network(2, 90, configure);
    sim.connect(0, 1);
    settle(&mut sim);
    sim.command(
        1,
        Command::RegisterCustom {
            name: "echo".into(),
        },
    );
    sim
}

fn ask(sim: &mut Sim, name: &str, data: Value) -> CommandId {
    let peer = sim.node(1).local_address();
    sim.command(
        0,
        Command::Custom {
            peer,
            name: name.into(),
            data,
            reply: true,
        },
    )
}

/// The requests node 1's application got, with their reply handles.
fn requests(sim: &Sim) -> Vec<(String, Value, Option<ReplyHandle>)> {
    sim.events(1)
        .filter_map(|e| match e {
            Event::Custom {
                name, data, reply, ..
            } => Some((name.clone(), data.clone(), *reply)),
            _ => None,
        })
        .collect()
}

/// Long enough for a request and its answer over 1 ms links, well within
/// the request and reply timeouts.
fn briefly(sim: &mut Sim) {
    run_for(sim, Duration::from_millis(500));
}

fn answer(sim: &Sim, id: CommandId) -> Vec<Result<Value, RequestError>> {
    sim.events(0)
        .filter_map(|e| match e {
            Event::CustomAnswered { id: got, result } if *got == id => Some(result.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_request_is_answered_once_by_its_handler() {
    let mut sim = serving(|_| {});
    let id = ask(&mut sim, "echo", Value::from("ping"));
    briefly(&mut sim);
    let got = requests(&sim);
    assert_eq!(got.len(), 1);
    let (name, data, reply) = got[0].clone();
    assert_eq!((name.as_str(), data.clone()), ("echo", Value::from("ping")));
    let reply = reply.expect("a request id asks for an answer");
    sim.command(
        1,
        Command::ReplyCustom {
            reply,
            answer: Ok(data),
        },
    );
    briefly(&mut sim);
    assert_eq!(answer(&sim, id), [Ok(Value::from("ping"))]);
    // A second answer to the same request is the application's mistake.
    let again = sim.command(
        1,
        Command::ReplyCustom {
            reply,
            answer: Ok(Value::Nil),
        },
    );
    settle(&mut sim);
    assert!(sim.events(1).any(|e| matches!(e,
        Event::CommandFailed { id, error: CommandError::UnknownReply } if *id == again)));
    assert_eq!(answer(&sim, id).len(), 1, "answered once");
}

#[test]
fn refusals_unknown_names_and_late_handlers_each_get_one_nack() {
    let mut sim = serving(|c| {
        c.set_custom_reply_timeout(Duration::from_secs(2));
    });
    let refused = ask(&mut sim, "echo", Value::Nil);
    let unknown = ask(&mut sim, "nobody", Value::Nil);
    let late = ask(&mut sim, "echo", Value::Nil);
    briefly(&mut sim);
    let handles: Vec<ReplyHandle> = requests(&sim).into_iter().filter_map(|r| r.2).collect();
    assert_eq!(handles.len(), 2, "the unknown name never reaches the app");
    sim.command(
        1,
        Command::ReplyCustom {
            reply: handles[0],
            answer: Err(CustomRefusal::Malformed),
        },
    );
    run_for(&mut sim, Duration::from_secs(3));
    assert_eq!(
        answer(&sim, refused),
        [Err(RequestError::Refused(NackCode::Malformed))]
    );
    assert_eq!(
        answer(&sim, unknown),
        [Err(RequestError::Refused(NackCode::NotFound))]
    );
    assert_eq!(
        answer(&sim, late),
        [Err(RequestError::Refused(NackCode::Internal))]
    );
    assert_eq!(sim.node(1).pending_custom(), 0);
    assert_eq!(sim.node(1).stats().customs_unknown, 1);
}

#[test]
fn requests_waiting_for_answers_are_bounded() {
    let mut sim = serving(|c| {
        c.set_max_pending_custom(2);
    });
    let ids: Vec<CommandId> = (0..3u8)
        .map(|i| ask(&mut sim, "echo", Value::from(i)))
        .collect();
    briefly(&mut sim);
    assert_eq!(sim.node(1).pending_custom(), 2);
    assert_eq!(
        answer(&sim, ids[2]),
        [Err(RequestError::Refused(NackCode::RateLimited))]
    );
}

#[test]
fn names_are_checked_on_both_sides() {
    let mut sim = serving(|_| {});
    let long = "x".repeat(65);
    let id = sim.command(1, Command::RegisterCustom { name: long.clone() });
    let peer = sim.node(1).local_address();
    let ask_long = sim.command(
        0,
        Command::Custom {
            peer,
            name: String::new(),
            data: Value::Nil,
            reply: true,
        },
    );
    settle(&mut sim);
    assert!(sim.events(1).any(|e| matches!(e,
        Event::CommandFailed { id: got, error: CommandError::BadName { len: 65 } } if *got == id)));
    assert!(sim.events(0).any(|e| matches!(e,
        Event::CommandFailed { id: got, error: CommandError::BadName { len: 0 } } if *got == ask_long)));
    // A peer that sends a 65-byte name anyway gets TOO_LARGE (§10: a
    // field over its limit).
    let at_1 = sim
        .events(1)
        .find_map(|e| match e {
            Event::Connected { conn, .. } => Some(*conn),
            _ => None,
        })
        .unwrap();
    let content = Value::Array(vec![Value::from(5u8), Value::Str(long), Value::Nil])
        .encode()
        .unwrap();
    let raw = Message::new(key(&sim, 0), key(&sim, 1), Opcode::Custom, content);
    sim.inject(1, at_1, &encode(&[raw]));
    settle(&mut sim);
    assert_eq!(nack_codes(&sim, 1, 0), [NackCode::TooLarge]);
    assert!(requests(&sim).is_empty());
}

#[test]
fn a_request_to_a_node_never_met_looks_it_up_first() {
    let mut sim = network(24, 91, |c| {
        c.set_local_network(true);
        c.kad_mut().set_k(5);
    });
    bootstrap_all(&mut sim);
    // A node with neither a connection to nor an address for another.
    let address = |sim: &Sim, i: usize| sim.node(i).local_address();
    let (from, to) = (0..sim.len())
        .flat_map(|a| (0..sim.len()).map(move |b| (a, b)))
        .find(|&(a, b)| {
            let node = sim.node(a);
            a != b
                && !node.is_connected(&address(&sim, b))
                && !node.routing_table().contains(&address(&sim, b))
        })
        .expect("a pair that never met");
    sim.command(
        to,
        Command::RegisterCustom {
            name: "echo".into(),
        },
    );
    let ask = |sim: &mut Sim, peer| {
        sim.command(
            from,
            Command::Custom {
                peer,
                name: "echo".into(),
                data: Value::from("hello"),
                reply: true,
            },
        )
    };
    let target = address(&sim, to);
    let id = ask(&mut sim, target);
    // Nobody answers at this address: the lookup ends without it.
    let nobody = ask(&mut sim, shoutnet_crypto::Address([0x5a; 32]));
    // Within the handler's 10 s to answer.
    run_for(&mut sim, Duration::from_secs(2));
    let reply = sim
        .events(to)
        .find_map(|e| match e {
            Event::Custom { reply, .. } => *reply,
            _ => None,
        })
        .expect("the request reached the node");
    sim.command(
        to,
        Command::ReplyCustom {
            reply,
            answer: Ok(Value::from("hello")),
        },
    );
    settle(&mut sim);
    let answers = |sim: &Sim, id| -> Vec<_> {
        sim.events(from)
            .filter_map(|e| match e {
                Event::CustomAnswered { id: got, result } if *got == id => Some(result.clone()),
                _ => None,
            })
            .collect()
    };
    assert_eq!(answers(&sim, id), [Ok(Value::from("hello"))]);
    assert_eq!(answers(&sim, nobody), [Err(RequestError::Unreachable)]);
}

//! Writes the seed inputs of the `engine_connection` fuzz target
//! (`shoutnet_engine::fuzzing::connection`) as `seed-<what-it-is>` files:
//!
//! ```sh
//! cargo run -p shoutnet-engine --example fuzz_seeds [-- <dir>]
//! ```
//!
//! `<dir>` defaults to `fuzz/corpus/engine_connection/`. Each seed is one
//! selector byte (mode and flags) and that mode's input; see the module
//! documentation of `shoutnet_engine::fuzzing`.

use std::path::PathBuf;

use bytes::Bytes;
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use shoutnet_crypto::Keypair;
use shoutnet_engine::channel::{ChannelIdentity, SecureChannel};
use shoutnet_engine::fuzzing::{
    FLUSH, Mode, NO_HANDSHAKE, OUTBOUND, REPLY, WITNESS_ORIGIN, engine_key, peer_hello, peer_key,
    witness_hello,
};
use shoutnet_wire::{
    Ack, AckResult, Broadcast, Custom, FindNode, FindValue, Message, Method, Nack, NackCode,
    NodeInfo, Opcode, Payload, Ping, Profile, SetConnectionOpt, Store, Value, Whisper,
    encode_transmission,
};

/// The id of the engine's first request (no handshake uses request ids).
const FIRST_REQUEST_ID: u64 = 1;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = std::env::args_os().nth(1).map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus"),
        PathBuf::from,
    );
    for (target, seeds) in [("engine_connection", seeds()), ("channel", channel_seeds())] {
        let dir = root.join(target);
        std::fs::create_dir_all(&dir)?;
        for (name, input) in &seeds {
            std::fs::write(dir.join(format!("seed-{name}")), input)?;
        }
        println!("wrote {} seeds to {}", seeds.len(), dir.display());
    }
    Ok(())
}

/// Seeds of the `channel` target: byte 0 picks the side (low bit: 0 the
/// acceptor, 1 the dialler) and the read size, then what the peer sends.
fn channel_seeds() -> Vec<(String, Vec<u8>)> {
    let peer = ChannelIdentity::new(Profile::Ed25519, [0x33; 32], Bytes::from_static(&[0x80]));
    let mut dialler = SecureChannel::initiator(&peer, [1; 32]).expect("a channel builds");
    let msg1 = dialler.take_output().expect("message 1").to_vec();
    // A real acceptor's answer to another dialler's message 1.
    let mut acceptor = SecureChannel::responder(&peer, [2; 32]).expect("a channel builds");
    acceptor
        .receive(&msg1, &mut Vec::new())
        .expect("message 1 reads");
    let msg2 = acceptor.take_output().expect("message 2").to_vec();
    let mut forged_msg3 = msg1.clone();
    forged_msg3.extend([0, 64]);
    forged_msg3.extend([0x5a; 64]);
    let big_reads = 0x7e;
    vec![
        (
            "acceptor-message-1".into(),
            [vec![big_reads], msg1.clone()].concat(),
        ),
        (
            "acceptor-message-1-bytewise".into(),
            [vec![0], msg1].concat(),
        ),
        (
            "acceptor-forged-message-3".into(),
            [vec![big_reads], forged_msg3].concat(),
        ),
        (
            "dialler-message-2-of-another".into(),
            [vec![big_reads | 1], msg2].concat(),
        ),
        ("empty-message".into(), vec![0, 0, 0]),
        (
            "longest-length-then-little".into(),
            [vec![big_reads, 0xff, 0xff], vec![7; 300]].concat(),
        ),
    ]
}

fn seeds() -> Vec<(String, Vec<u8>)> {
    let bytes = Mode::Bytes as u8;
    let pre = bytes | NO_HANDSHAKE;
    let mut out = Vec::new();
    let mut add = |name: &str, selector: u8, input: Vec<u8>| {
        let mut seed = vec![selector];
        seed.extend(input);
        out.push((name.to_owned(), seed));
    };

    // The handshake (§9.1): the peer's hello as its channel hands it over.
    let hello = peer_hello().to_vec();
    add("hello-valid", pre, hello.clone());
    add("hello-valid-outbound", pre | OUTBOUND, hello.clone());
    add("hello-of-another-static-key", pre, witness_hello().to_vec());
    let mut flipped = hello.clone();
    if let Some(last) = flipped.last_mut() {
        *last ^= 1;
    }
    add("hello-bit-flipped", pre, flipped);
    add("hello-not-a-map", pre, vec![0x01]);
    add("hello-garbage", pre, vec![0xff; 40]);
    add("hello-truncated", pre, hello[..hello.len() / 2].to_vec());
    add("hello-never", Mode::Timed as u8 | NO_HANDSHAKE, Vec::new());

    // Established (§8, §9.2, §10): one of every kind of message.
    add("ping", bytes, tx(&[msg(&ping(7))]));
    add("find-node", bytes, tx(&[msg(&find_node(8))]));
    add("find-value", bytes, tx(&[msg(&find_value(9))]));
    add("set-connection-opt", bytes, set_connection_opt());
    add("ack-unknown-id", bytes, tx(&[msg(&keepalive_ack(999_999))]));
    add(
        "nack-unknown-id",
        bytes,
        tx(&[msg(&nack(Opcode::FindNode, Some(99)))]),
    );
    for n in 10..=14 {
        let reserved = Message::new(peer_key(), engine_key(), Opcode::from_nibble(n), one());
        add(&format!("reserved-opcode-{n}"), bytes, tx(&[reserved]));
    }
    add("whisper", bytes, tx(&[msg(&whisper())]));
    add("store", bytes, tx(&[msg(&store())]));
    add("custom-with-id", bytes, tx(&[msg(&custom(Some(11)))]));
    add("custom-without-id", bytes, tx(&[msg(&custom(None))]));
    add(
        "shout-and-speak",
        bytes,
        tx(&[msg(&shout(true)), msg(&shout(false))]),
    );
    let foreign = Message::from_payload(Profile::Ed25519, key(9), engine_key(), &ping(12));
    add(
        "foreign-from-key",
        bytes,
        tx(&[foreign.expect("a ping encodes")]),
    );
    let malformed = Message::new(
        peer_key(),
        engine_key(),
        Opcode::Ping,
        Bytes::from(vec![0xc1]),
    );
    add("malformed-ping", bytes, tx(&[malformed]));
    let mut encrypted = Message::new(
        peer_key(),
        engine_key(),
        Opcode::Ping,
        Bytes::from(vec![0; 60]),
    );
    encrypted.encrypted = true;
    add("encrypted-ping", bytes, tx(&[encrypted]));
    let mut signed = msg(&ping(13));
    signed.signature = Some(Bytes::from(vec![0; 64]));
    add("signed-ping", bytes, tx(&[signed]));
    let pings: Vec<Message> = (0..20).map(|i| msg(&ping(100 + i))).collect();
    add("twenty-pings-overflow-the-queue", bytes, tx(&pings));
    let many: Vec<Message> = (0..65).map(|i| msg(&ping(200 + i))).collect();
    add("too-many-messages", bytes | OUTBOUND, tx(&many));

    // Timed (§9.1 timeouts, keepalives): `[delay in ticks, len, bytes]`.
    add(
        "timed-keepalive-unanswered",
        Mode::Timed as u8,
        vec![124, 0, 60, 0],
    );
    let mut answered = vec![124, 0, 0];
    chunk(&mut answered, &tx(&[msg(&keepalive_ack(FIRST_REQUEST_ID))]));
    answered.extend([200, 0]);
    add("timed-keepalive-answered", Mode::Timed as u8, answered);
    let mut split = Vec::new();
    for piece in tx(&[msg(&ping(14))]).chunks(25) {
        split.push(1);
        chunk(&mut split, piece);
    }
    add("timed-ping-in-pieces", Mode::Timed as u8, split);

    // Messages: `[op, len (u16), content]`, the harness adding headers.
    let mut every = Vec::new();
    for payload in [
        ping(15),
        find_node(16),
        find_value(17),
        whisper(),
        custom(Some(18)),
    ] {
        let op = payload.opcode().value() << 4;
        step(&mut every, op | FLUSH, &content(&payload));
    }
    add("messages-each-kind", Mode::Messages as u8, every);
    let mut reserved = Vec::new();
    for n in 10..=14 {
        step(&mut reserved, n << 4, &[0x91, 1]);
    }
    add("messages-reserved-batched", Mode::Messages as u8, reserved);

    // Broadcasts (§8.5, §9.7): the peer keeps the connection, then SHOUTs
    // from it and relayed from the witness (forwarded to the witness's
    // connection if the engine keeps it), a replay, an unsigned one, a
    // SPEAK; then the peer stops keeping it and SHOUTs off the kept graph.
    let kept = |setting| {
        Payload::SetConnectionOpt(SetConnectionOpt {
            request_id: 30 + setting,
            option: SetConnectionOpt::KEPT,
            setting,
        })
    };
    let shout_op = Opcode::Shout.value() << 4;
    let mut broadcasts = Vec::new();
    step(
        &mut broadcasts,
        Opcode::SetConnectionOpt.value() << 4,
        &content(&kept(1)),
    );
    step(&mut broadcasts, shout_op, &content(&shout(true)));
    step(
        &mut broadcasts,
        shout_op | WITNESS_ORIGIN,
        &content(&shout(true)),
    );
    step(&mut broadcasts, shout_op | FLUSH, &content(&shout(true)));
    step(&mut broadcasts, shout_op | REPLY, &content(&shout(true)));
    step(
        &mut broadcasts,
        Opcode::Speak.value() << 4,
        &content(&shout(false)),
    );
    step(
        &mut broadcasts,
        Opcode::SetConnectionOpt.value() << 4,
        &content(&kept(0)),
    );
    step(
        &mut broadcasts,
        shout_op | WITNESS_ORIGIN,
        &content(&shout(true)),
    );
    add(
        "messages-broadcasts",
        Mode::Messages as u8,
        broadcasts.clone(),
    );
    add(
        "messages-broadcasts-outbound",
        Mode::Messages as u8 | OUTBOUND,
        broadcasts,
    );

    // WHISPER, the DHT and CUSTOM (§8.6–§8.8, §9.8, §9.9): a direct
    // whisper, one sealed for the witness that the engine relays, a STORE
    // and a FIND_VALUE that finds it, a conflicting STORE, a CUSTOM with
    // and without an id.
    let whisper_op = Opcode::Whisper.value() << 4;
    let stored = |request_id, version| {
        Payload::Store(Store {
            request_id,
            address: sha256_of(b"key"),
            key: Bytes::from_static(b"key"),
            value: Value::from("value"),
            version: Some(version),
            ttl: Some(3600),
        })
    };
    let found = Payload::FindValue(FindValue {
        request_id: 42,
        address: sha256_of(b"key"),
        key: Bytes::from_static(b"key"),
    });
    let mut services = Vec::new();
    step(&mut services, whisper_op, &content(&whisper()));
    step(
        &mut services,
        whisper_op | WITNESS_ORIGIN,
        &content(&whisper()),
    );
    step(
        &mut services,
        Opcode::Store.value() << 4,
        &content(&stored(40, 2)),
    );
    step(
        &mut services,
        Opcode::FindValue.value() << 4,
        &content(&found),
    );
    step(
        &mut services,
        Opcode::Store.value() << 4,
        &content(&stored(41, 1)),
    );
    step(
        &mut services,
        Opcode::Custom.value() << 4,
        &content(&custom(Some(43))),
    );
    step(
        &mut services,
        Opcode::Custom.value() << 4,
        &content(&custom(None)),
    );
    add("messages-services", Mode::Messages as u8, services);

    // Lookup (§8.7): answers to the engine's `FIND_NODE`, via `REPLY`.
    let nodes = |seeds: std::ops::Range<u8>| {
        let infos = seeds
            .map(|i| {
                let info = NodeInfo {
                    key: key(i),
                    listen: vec![([127, 0, 0, 1], 5000 + u16::from(i)).into()],
                    relays: Vec::new(),
                };
                info.to_value()
            })
            .collect();
        Value::Array(infos)
            .encode()
            .expect("node infos encode")
            .to_vec()
    };
    let ack_nodes = (Opcode::Ack.value() << 4) | REPLY | (1 << 2);
    let mut answer = Vec::new();
    step(&mut answer, ack_nodes, &nodes(20..25));
    add("lookup-answer-nodes", Mode::Lookup as u8, answer);
    let mut invalid = Vec::new();
    let mut bad_key = vec![0x91, 0x93, 0xc4, 32];
    bad_key.extend([0xff; 32]);
    bad_key.extend([0x90, 0x90]);
    step(&mut invalid, ack_nodes, &bad_key);
    add(
        "lookup-answer-invalid-node",
        Mode::Lookup as u8 | OUTBOUND,
        invalid,
    );
    let mut refused = Vec::new();
    step(
        &mut refused,
        (Opcode::Nack.value() << 4) | REPLY | (2 << 2),
        &[0x00, 0xa2, b'n', b'o'],
    );
    add("lookup-nack", Mode::Lookup as u8, refused);
    add("lookup-silent", Mode::Lookup as u8, Vec::new());
    out
}

/// A test-only key field from a fixed seed.
fn key(seed: u8) -> Bytes {
    let mut rng = ChaCha20Rng::from_seed([seed; 32]);
    let keypair = Keypair::generate(Profile::Ed25519, &mut rng).expect("ed25519 keys generate");
    keypair.public().to_bytes()
}

/// A message from the fuzzed connection's peer to the engine.
fn msg(payload: &Payload) -> Message {
    Message::from_payload(Profile::Ed25519, peer_key(), engine_key(), payload)
        .expect("seed payloads encode")
}

/// One uncompressed transmission of `messages`.
fn tx(messages: &[Message]) -> Vec<u8> {
    encode_transmission(Profile::Ed25519, messages, Method::None)
        .expect("seed batches encode")
        .to_vec()
}

fn content(payload: &Payload) -> Vec<u8> {
    payload
        .encode(Profile::Ed25519)
        .expect("seed payloads encode")
        .to_vec()
}

/// A `Mode::Timed` chunk: its length byte, then the bytes.
fn chunk(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(u8::try_from(bytes.len()).expect("chunks are under 256 bytes"));
    out.extend_from_slice(bytes);
}

/// A `Mode::Messages` step.
fn step(out: &mut Vec<u8>, op: u8, content: &[u8]) {
    out.push(op);
    let len = u16::try_from(content.len()).expect("contents are under 64 KiB");
    out.extend(len.to_be_bytes());
    out.extend_from_slice(content);
}

fn sha256_of(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).into()
}

fn one() -> Bytes {
    Bytes::from_static(&[0x91, 1])
}

fn ping(request_id: u64) -> Payload {
    Payload::Ping(Ping { request_id })
}

fn keepalive_ack(request_id: u64) -> Payload {
    Payload::Ack(Ack {
        request_id,
        result: AckResult::Ping,
    })
}

fn nack(acked: Opcode, request_id: Option<u64>) -> Payload {
    Payload::Nack(Nack {
        acked,
        request_id,
        code: NackCode::Unspecified,
        reason: "no".into(),
        detail: None,
    })
}

fn find_node(request_id: u64) -> Payload {
    Payload::FindNode(FindNode {
        request_id,
        target: [0x33; 32],
    })
}

fn find_value(request_id: u64) -> Payload {
    Payload::FindValue(FindValue {
        request_id,
        address: [0x44; 32],
        key: Bytes::from_static(b"key"),
    })
}

fn whisper() -> Payload {
    Payload::Whisper(Whisper {
        request_id: 10,
        data: Value::Nil,
    })
}

fn store() -> Payload {
    Payload::Store(Store {
        request_id: 19,
        address: [0x55; 32],
        key: Bytes::from_static(b"key"),
        value: Value::from("value"),
        version: None,
        ttl: None,
    })
}

fn custom(request_id: Option<u64>) -> Payload {
    Payload::Custom(Custom {
        request_id,
        name: "echo".into(),
        data: Value::from(1u64),
    })
}

fn shout(shout: bool) -> Payload {
    let b = Broadcast {
        nonce: 1,
        data: Value::from("hi"),
    };
    if shout {
        Payload::Shout(b)
    } else {
        Payload::Speak(b)
    }
}

/// `SET_CONNECTION_OPT` for zlib (ACKed) and an unknown option (NACKed),
/// then a zlib-compressed `PING` the engine now reads (§9.3).
fn set_connection_opt() -> Vec<u8> {
    let opt = |request_id, option, setting| {
        msg(&Payload::SetConnectionOpt(SetConnectionOpt {
            request_id,
            option,
            setting,
        }))
    };
    let mut out = tx(&[
        opt(20, 0, u64::from(Method::Zlib.id())),
        opt(21, 7, 0),
        opt(22, 1, 9),
    ]);
    let zlib = encode_transmission(Profile::Ed25519, &[msg(&ping(23))], Method::Zlib);
    out.extend_from_slice(&zlib.expect("zlib compresses"));
    out
}

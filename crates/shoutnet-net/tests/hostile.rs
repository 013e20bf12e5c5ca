//! Hostile peers against a real node over loopback TCP (docs/PROTOCOL.md
//! §11): garbage, a huge length, a stall mid-transmission, a handshake
//! never finished, a flood of connections past the inbound limit, and a
//! peer that never reads. Each is disconnected or bounded, and the node
//! keeps serving a well-behaved peer.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rand_core::{OsRng, RngCore};
use shoutnet_crypto::Keypair;
use shoutnet_engine::channel::{ChannelEvent, ChannelIdentity, SecureChannel};
use shoutnet_engine::{Command, EngineConfig, Event, NodeEngine, Rate, RequestRates, WhisperRoute};
use shoutnet_net::{EventStream, Handle, NetConfig};
use shoutnet_wire::{
    Limits, Message, Method, NackCode, Payload, Ping, Profile, StreamDecoder, Value,
    encode_transmission,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const WAIT: Duration = Duration::from_secs(10);

fn keypair() -> Keypair {
    Keypair::generate(Profile::Ed25519, &mut OsRng).expect("key")
}

fn seed() -> [u8; 32] {
    let mut seed = [0; 32];
    OsRng.fill_bytes(&mut seed);
    seed
}

/// A node on 127.0.0.1 with short timeouts, adjusted by `configure`.
async fn node(
    listen: bool,
    seeds: Vec<SocketAddr>,
    configure: impl FnOnce(&mut EngineConfig),
) -> (Handle, EventStream) {
    let mut engine = EngineConfig::new(keypair(), seed());
    engine
        .set_local_network(true)
        .set_max_inbound_per_address(EngineConfig::DEFAULT_MAX_INBOUND)
        .set_handshake_timeout(Duration::from_millis(500))
        .set_keepalive(Duration::from_millis(500))
        .set_request_timeout(Duration::from_millis(500));
    if listen {
        engine.set_listen(vec!["127.0.0.1:0".parse().expect("addr")]);
    }
    configure(&mut engine);
    let mut config = NetConfig::new(engine);
    config.set_bootstrap(seeds);
    shoutnet_net::spawn(config).await.expect("node started")
}

/// A channel identity with a valid hello: a peer that can complete the
/// handshake and then misbehave.
fn identity() -> ChannelIdentity {
    let mut config = EngineConfig::new(keypair(), seed());
    config.set_listen(Vec::new());
    #[allow(clippy::disallowed_methods)] // The engine is only asked for its hello.
    let engine = NodeEngine::new(config, Instant::now());
    engine.channel_identity().clone()
}

/// A raw peer with a completed secure channel.
struct RawPeer {
    stream: TcpStream,
    channel: SecureChannel,
}

impl RawPeer {
    async fn connect(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).await.expect("connect");
        let channel = SecureChannel::initiator(&identity(), seed()).expect("channel");
        let mut peer = Self { stream, channel };
        peer.flush().await;
        loop {
            let events = peer.read().await.expect("closed during the handshake");
            peer.flush().await;
            if events.iter().any(|e| matches!(e, ChannelEvent::Secured(_))) {
                return peer;
            }
        }
    }

    /// Reads once and opens what arrived; `None` once the node closed.
    async fn read(&mut self) -> Option<Vec<ChannelEvent>> {
        let mut buf = vec![0; 65_536];
        let n = tokio::time::timeout(WAIT, self.stream.read(&mut buf))
            .await
            .expect("the node answers or closes in time")
            .unwrap_or(0);
        if n == 0 {
            return None;
        }
        let mut events = Vec::new();
        self.channel.receive(&buf[..n], &mut events).expect("noise");
        Some(events)
    }

    async fn flush(&mut self) {
        while let Some(out) = self.channel.take_output() {
            self.stream.write_all(&out).await.expect("write");
        }
    }

    /// Sends `plaintext` as part of the transmission stream.
    async fn send(&mut self, plaintext: &[u8]) {
        self.channel.send(plaintext).expect("seal");
        self.flush().await;
    }
}

/// A peer whose message claims another node's key is answered
/// `NACK NOT_AUTHENTICATED` and closed (§9.2): the answer reaches it
/// before the close.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_from_key_gets_its_nack_before_the_close() {
    let (target, _events) = node(true, Vec::new(), |_| {}).await;
    let mut forger = RawPeer::connect(target.listen_addrs()[0]).await;
    let someone_else = keypair().public().to_bytes();
    let ping = Payload::Ping(Ping { request_id: 7 });
    let msg = Message::from_payload(Profile::Ed25519, someone_else, target.key().clone(), &ping)
        .expect("message");
    let tx = encode_transmission(Profile::Ed25519, &[msg], Method::None).expect("encode");
    forger.send(&tx).await;
    let mut plain = Vec::new();
    while let Some(events) = forger.read().await {
        for event in events {
            if let ChannelEvent::Data(bytes) = event {
                plain.extend_from_slice(&bytes);
            }
        }
    }
    let mut decoder = StreamDecoder::new(Limits::default());
    decoder.push(&plain);
    let mut nacks = Vec::new();
    while let Some(frame) = decoder.next_frame().expect("framing") {
        let tx = frame
            .decode(Profile::Ed25519, &Limits::default())
            .expect("transmission");
        for msg in tx.iter() {
            if let Ok(Payload::Nack(nack)) = msg.payload(&Limits::default().value) {
                nacks.push(nack.code);
            }
        }
    }
    assert_eq!(nacks, [NackCode::NotAuthenticated]);
    target.shutdown().await.expect("shutdown");
}

/// Whether the node closes `stream` within `within` (reading and
/// dropping whatever it sends first).
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buf = vec![0; 65_536];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

/// A well-behaved node joins through `target` and whispers to it.
async fn still_serves(target: &Handle) {
    let (good, _events) = node(false, target.listen_addrs().to_vec(), |_| {}).await;
    assert!(good.joined().await.expect("joined") > 0);
    let command = Command::Whisper {
        to: target.key().clone(),
        data: Value::from("still there?"),
        encrypt: Some(true),
        route: WhisperRoute::Direct,
    };
    match good.command(command).await.expect("whisper") {
        Some(Event::WhisperFinished { result, .. }) => {
            result.expect("delivered");
        }
        other => panic!("{other:?}"),
    }
    good.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_huge_lengths_stalls_and_silent_peers_are_disconnected() {
    let (target, _events) = node(true, Vec::new(), |_| {}).await;
    let addr = target.listen_addrs()[0];

    // Garbage instead of a Noise handshake: a 16 KiB message announced
    // and never completed (the handshake timeout ends it), and a
    // 5-byte one that is no handshake message (refused at once).
    let mut garbage = TcpStream::connect(addr).await.expect("connect");
    garbage.write_all(&[0x42; 4096]).await.expect("write");
    assert!(closed_within(&mut garbage, WAIT).await, "garbage");
    let mut short = TcpStream::connect(addr).await.expect("connect");
    short
        .write_all(&[0, 5, 1, 2, 3, 4, 5])
        .await
        .expect("write");
    assert!(closed_within(&mut short, WAIT).await, "short garbage");

    // A handshake never finished: connect and say nothing.
    let mut silent = TcpStream::connect(addr).await.expect("connect");
    assert!(closed_within(&mut silent, WAIT).await, "silent peer");

    // A transmission header claiming a 4 GiB body, inside a good channel.
    let mut huge = RawPeer::connect(addr).await;
    huge.send(&[0, 0, 0xff, 0xff, 0xff, 0xff]).await;
    assert!(closed_within(&mut huge.stream, WAIT).await, "huge length");

    // Half a transmission, then nothing: the unanswered keepalive closes it.
    let mut stall = RawPeer::connect(addr).await;
    stall.send(&[0, 0, 0, 0, 3, 0xe8, 1, 2, 3, 4]).await;
    assert!(closed_within(&mut stall.stream, WAIT).await, "stall");

    let info = target.info().await.expect("info");
    assert!(info.net.channel_failures >= 1, "{:?}", info.net);
    assert!(info.engine.framing_errors >= 1, "{:?}", info.engine);
    still_serves(&target).await;
    target.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_the_inbound_limit_are_closed_on_arrival() {
    let (target, _events) = node(true, Vec::new(), |c| {
        c.set_max_inbound(4)
            .set_handshake_timeout(Duration::from_secs(30));
    })
    .await;
    let addr = target.listen_addrs()[0];
    let mut flood = Vec::new();
    for _ in 0..12 {
        flood.push(TcpStream::connect(addr).await.expect("connect"));
    }
    // Those within the limit wait for their handshake (30 s); the rest
    // are closed at once.
    let mut closed = 0;
    for stream in &mut flood {
        if closed_within(stream, Duration::from_millis(500)).await {
            closed += 1;
        }
    }
    assert_eq!(closed, 8, "12 connections, 4 admitted");
    let info = target.info().await.expect("info");
    assert_eq!(info.engine.refused_inbound, 8);
    drop(flood);
    // Their slots free up as they go; a good peer is served again.
    tokio::time::sleep(Duration::from_millis(200)).await;
    still_serves(&target).await;
    target.shutdown().await.expect("shutdown");
}

/// Resident memory of this process, in bytes.
fn rss() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("statm");
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .expect("resident pages");
    pages * 4096
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_never_reads_costs_bounded_memory() {
    let unlimited = Rate::new(1_000_000, 1_000_000);
    let (sender, _sender_events) = node(true, Vec::new(), |c| {
        c.set_keepalive(Duration::from_secs(600));
    })
    .await;
    let (reader, mut reader_events) = node(false, sender.listen_addrs().to_vec(), move |c| {
        let mut rates = RequestRates::default();
        rates.speaks = unlimited;
        c.set_request_rates(rates);
    })
    .await;
    reader.joined().await.expect("joined");
    // A peer that completes the handshake, then never reads.
    let stalled = RawPeer::connect(sender.listen_addrs()[0]).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = rss();
    let block = "x".repeat(4096);
    let rounds = 400;
    let per_round = 50;
    let mut received = 0;
    for round in 1..=rounds {
        for _ in 0..per_round {
            let data = Value::from(block.as_str());
            let spoken = sender
                .command(Command::Speak { data })
                .await
                .expect("speak");
            assert!(matches!(spoken, Some(Event::Spoken { sent: 1.., .. })));
        }
        // The reader keeps up: every SPEAK of the round reaches it.
        while received < per_round * round {
            match tokio::time::timeout(WAIT, reader_events.recv()).await {
                Ok(Some(Event::Speak { .. })) => received += 1,
                Ok(Some(_)) => {}
                other => panic!("the reader stopped receiving at {received}: {other:?}"),
            }
        }
    }
    let grown = rss().saturating_sub(before);
    let info = sender.info().await.expect("info");
    eprintln!(
        "RSS grew {} KiB over {} SPEAKs of 4 KiB; {} dropped for the stalled peer",
        grown >> 10,
        rounds * per_round,
        info.engine.dropped_messages
    );
    // 80 MB were queued for the stalled peer; what it holds is its outbox
    // (1 MiB), its writer queue and the socket's buffers.
    assert!(
        grown < 48 << 20,
        "RSS grew by {} MiB while sending 80 MB to a stalled peer",
        grown >> 20
    );
    assert!(info.engine.dropped_messages > 0, "drops are counted");
    assert_eq!(received, rounds * per_round);
    drop(stalled);
    reader.shutdown().await.expect("shutdown");
    sender.shutdown().await.expect("shutdown");
}

/// A peer sending `CUSTOM` requests that want no answer to a handler that
/// never finishes: the node runs at most `MAX_UNANSWERED_HANDLERS` such
/// calls at once, drops and counts the rest, and keeps serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unanswered_customs_to_a_stuck_handler_are_bounded() {
    let lift = |c: &mut EngineConfig| {
        let mut rates = RequestRates::default();
        rates.customs = Rate::new(100_000, 100_000);
        c.set_request_rates(rates);
    };
    let (target, _events) = node(true, Vec::new(), lift).await;
    let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = calls.clone();
    let handler: shoutnet_net::CustomHandler = std::sync::Arc::new(move |_| {
        counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Box::pin(std::future::pending())
    });
    target
        .register_custom("stuck", handler)
        .await
        .expect("register");
    let (sender, _) = node(false, target.listen_addrs().to_vec(), lift).await;
    sender.joined().await.expect("joined");
    let extra = 44;
    let sent = shoutnet_net::MAX_UNANSWERED_HANDLERS + extra;
    for _ in 0..sent {
        let command = Command::Custom {
            peer: target.address(),
            name: "stuck".into(),
            data: Value::Nil,
            reply: false,
        };
        sender.command(command).await.expect("sent");
    }
    let deadline = Instant::now() + WAIT;
    let dropped = loop {
        let info = target.info().await.expect("info");
        let handled = calls.load(std::sync::atomic::Ordering::Relaxed);
        if handled + info.net.customs_dropped as usize >= sent || Instant::now() > deadline {
            break info.net.customs_dropped;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(
        calls.load(std::sync::atomic::Ordering::Relaxed),
        shoutnet_net::MAX_UNANSWERED_HANDLERS
    );
    assert_eq!(dropped, extra as u64);
    still_serves(&target).await;
    sender.shutdown().await.expect("shutdown");
    target.shutdown().await.expect("shutdown");
}

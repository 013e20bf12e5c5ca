//! The network benchmark (`cargo xtask bench net`): real nodes over
//! loopback TCP beside raw tokio TCP and the secure channel's cipher alone,
//! in one run, printing one table.
//!
//! Every row is measured in this process, one after the other, so the rows
//! compare on the same machine at the same time. Budgets that protect a
//! node from its peers (requests per second per connection, decryptions
//! per second) are lifted for the benchmark's nodes: they bound hostile
//! peers, not throughput.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use shoutnet::engine::channel::{ChannelEvent, ChannelIdentity, SecureChannel};
use shoutnet::engine::{Command, EngineConfig, Event, NodeEngine, Rate, RequestRates};
use shoutnet::flood::FloodConfig;
use shoutnet::local::{LocalNetwork, LocalOptions};
use shoutnet::net::{EventStream, Handle, NetConfig, NetError};
use shoutnet::wire::{Method, Profile, Value};
use shoutnet::{Keypair, WhisperRoute};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const MIB: f64 = 1024.0 * 1024.0;

/// 64-byte messages in flight at once: within the sender's 1 MiB outbox,
/// so none is dropped.
const WINDOW: u64 = 4_000;

/// Lifts every per-peer budget: the benchmark's peers are friends.
fn unlimited(config: &mut EngineConfig) {
    let fast = Rate::new(100_000_000, 100_000_000);
    let mut rates = RequestRates::default();
    rates.speaks = fast;
    rates.whispers = fast;
    rates.customs = fast;
    rates.shouts = fast;
    rates.refusals = fast;
    rates.decompressed_bytes = Rate::new(1 << 40, 1 << 40);
    config
        .set_request_rates(rates)
        .set_decrypt_rate(fast)
        .set_max_whispers(1 << 20)
        .set_local_network(true)
        .set_max_inbound_per_address(EngineConfig::DEFAULT_MAX_INBOUND);
    let mut flood = FloodConfig::default();
    flood.origin_rate = fast;
    config.set_flood(flood);
}

fn keypair(profile: Profile) -> Keypair {
    Keypair::generate(profile, &mut rand_core::OsRng).expect("key")
}

/// Two nodes over loopback TCP: a listening receiver and a sender joined
/// to it.
async fn pair(profile: Profile, compression: Method) -> (Handle, Handle, EventStream) {
    let make = |listen: bool, seeds: Vec<std::net::SocketAddr>| {
        let mut engine = EngineConfig::new(keypair(profile), [3; 32]);
        unlimited(&mut engine);
        engine
            .set_preferred(compression)
            .set_decode_methods(EngineConfig::DEFAULT_DECODE_METHODS.with(compression));
        if listen {
            engine.set_listen(vec!["127.0.0.1:0".parse().expect("addr")]);
        }
        let mut config = NetConfig::new(engine);
        config.set_bootstrap(seeds).set_event_queue(1 << 16);
        shoutnet::net::spawn(config)
    };
    let (receiver, events) = make(true, Vec::new()).await.expect("receiver");
    let (sender, _) = make(false, receiver.listen_addrs().to_vec())
        .await
        .expect("sender");
    sender.joined().await.expect("joined");
    (sender, receiver, events)
}

/// Sends `count` SPEAKs of `data` from `sender` without waiting for each,
/// keeping at most `window` ahead of what `counter` counts; returns when
/// all arrived, with the elapsed time. It sleeps while the window is full
/// (woken by the counter), so it does not take a core from the nodes.
async fn one_way(
    sender: &Handle,
    data: &Value,
    count: u64,
    window: u64,
    counter: &Counter,
) -> Duration {
    let base = counter.received.load(Ordering::Relaxed);
    let got = || counter.received.load(Ordering::Relaxed) - base;
    let t0 = Instant::now();
    let mut sent = 0;
    while sent < count {
        if sent - got() >= window {
            counter.wait(got(), count).await;
            continue;
        }
        match sender.send(Command::Speak { data: data.clone() }) {
            Ok(()) => sent += 1,
            Err(NetError::Overloaded) => tokio::task::yield_now().await,
            Err(e) => panic!("{e}"),
        }
    }
    while got() < count {
        counter.wait(got(), count).await;
    }
    t0.elapsed()
}

/// What the receiver counted: SPEAKs, the one-way latency of timestamped
/// ones, and a wake-up for a sender waiting on its window.
struct Counter {
    received: AtomicU64,
    latencies: std::sync::Mutex<Vec<u64>>,
    arrived: tokio::sync::Notify,
}

impl Counter {
    /// Waits for the next arrival; panics if none comes for 10 s.
    async fn wait(&self, got: u64, count: u64) {
        if tokio::time::timeout(Duration::from_secs(10), self.arrived.notified())
            .await
            .is_err()
        {
            panic!("stalled at {got} of {count} received");
        }
    }
}

/// Counts the SPEAKs `events` delivers, and records the one-way latency of
/// those whose data starts with a send time.
fn count_speaks(mut events: EventStream, epoch: Instant) -> Arc<Counter> {
    let counter = Arc::new(Counter {
        received: AtomicU64::new(0),
        latencies: std::sync::Mutex::new(Vec::new()),
        arrived: tokio::sync::Notify::new(),
    });
    let c = counter.clone();
    tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            if let Event::Speak { data, .. } = event {
                if let Some(sent) = data.as_array().and_then(|a| a.first()?.as_u64()) {
                    let now = epoch.elapsed().as_nanos() as u64;
                    c.latencies
                        .lock()
                        .expect("lock")
                        .push(now.saturating_sub(sent));
                }
                c.received.fetch_add(1, Ordering::Relaxed);
                c.arrived.notify_one();
            }
        }
    });
    counter
}

/// `p50 / p99` of nanosecond samples `sorted`, divided by `unit`, with
/// `decimals` decimals.
fn p50_p99(sorted: &[u64], unit: f64, decimals: usize) -> String {
    let at = |p| percentile(sorted, p) as f64 / unit;
    format!("{:.*} / {:.*}", decimals, at(0.5), decimals, at(0.99))
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Raw tokio TCP on loopback: 64 KiB writes, the same bytes as a run of
/// payloads.
async fn raw_tcp(total: usize) -> f64 {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let reader = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.expect("accept");
        let mut buf = vec![0; 64 * 1024];
        let mut got = 0;
        while got < total {
            let n = s.read(&mut buf).await.expect("read");
            if n == 0 {
                break;
            }
            got += n;
        }
    });
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.set_nodelay(true).expect("nodelay");
    let chunk = vec![7u8; 64 * 1024];
    let t0 = Instant::now();
    let mut sent = 0;
    while sent < total {
        s.write_all(&chunk).await.expect("write");
        sent += chunk.len();
    }
    reader.await.expect("reader");
    total as f64 / MIB / t0.elapsed().as_secs_f64()
}

/// The secure channel alone, in memory: seal on one side, open on the
/// other, 64 KiB at a time, on one thread.
fn cipher_alone(total: usize) -> f64 {
    let identity = || -> ChannelIdentity {
        let mut config = EngineConfig::new(keypair(Profile::Ed25519), [5; 32]);
        config.set_listen(Vec::new());
        NodeEngine::new(config, Instant::now())
            .channel_identity()
            .clone()
    };
    let mut a = SecureChannel::initiator(&identity(), [1; 32]).expect("a");
    let mut b = SecureChannel::responder(&identity(), [2; 32]).expect("b");
    let mut events = Vec::new();
    // Three handshake messages.
    for _ in 0..3 {
        while let Some(out) = a.take_output() {
            b.receive(&out, &mut events).expect("b");
        }
        while let Some(out) = b.take_output() {
            a.receive(&out, &mut events).expect("a");
        }
    }
    assert!(a.is_secured() && b.is_secured());
    let chunk = vec![9u8; 64 * 1024];
    let t0 = Instant::now();
    let mut done = 0;
    while done < total {
        a.send(&chunk).expect("seal");
        while let Some(out) = a.take_output() {
            events.clear();
            b.receive(&out, &mut events).expect("open");
        }
        done += chunk.len();
        assert!(events.iter().all(|e| matches!(e, ChannelEvent::Data(_))));
    }
    total as f64 / MIB / t0.elapsed().as_secs_f64()
}

/// `count` whispers of 64 bytes from `sender` to `to`, `concurrency` at a
/// time, each waiting for its ACK; whispers per second.
async fn whispers(sender: &Handle, to: &Bytes, count: u64, encrypt: bool) -> f64 {
    let concurrency = 256;
    let done = Arc::new(AtomicU64::new(0));
    let t0 = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (sender, to, done) = (sender.clone(), to.clone(), done.clone());
        tasks.spawn(async move {
            while done.fetch_add(1, Ordering::Relaxed) < count {
                let command = Command::Whisper {
                    to: to.clone(),
                    data: Value::bin(vec![1; 64]),
                    encrypt: Some(encrypt),
                    route: WhisperRoute::Direct,
                };
                loop {
                    match sender.command(command.clone()).await {
                        Ok(Some(Event::WhisperFinished { result, .. })) => {
                            result.expect("delivered");
                            break;
                        }
                        Err(NetError::Overloaded) => tokio::task::yield_now().await,
                        other => panic!("{other:?}"),
                    }
                }
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    count as f64 / t0.elapsed().as_secs_f64()
}

/// Resident memory of this process, in bytes.
fn rss() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse::<u64>().ok())
        .unwrap_or(0)
        * 4096
}

struct Table(Vec<(String, String, String)>);

impl Table {
    fn row(&mut self, what: &str, value: String, target: &str) {
        println!("{what:<62} {value:>22}   {target}");
        self.0.push((what.into(), value, target.into()));
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(bench());
}

async fn bench() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    // `--only GROUP` (small, payload, whisper, rsa, nodes) runs one group,
    // for profiling.
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1).cloned());
    let run = |group: &str| only.as_deref().is_none_or(|o| o == group);
    let scale = if quick { 10 } else { 1 };
    let mut table = Table(Vec::new());
    println!("{:<62} {:>22}   target", "measurement", "result");
    let epoch = Instant::now();

    // --- Two nodes: one-way messages and payloads ---
    let (sender, receiver, events) = pair(Profile::Ed25519, Method::None).await;
    let counter = count_speaks(events, epoch);
    let small = Value::bin(vec![0xab; 64]);
    let n = 1_000_000 / scale;
    if run("small") {
        // Warm up, then measure.
        one_way(&sender, &small, n / 10, WINDOW, &counter).await;
        let took = one_way(&sender, &small, n, WINDOW, &counter).await;
        table.row(
            "64 B one-way SPEAKs/s, one connection (plaintext channel… Noise)",
            format!("{:.0}", n as f64 / took.as_secs_f64()),
            "≥ 1,000,000",
        );

        // One-way latency of timestamped 64 B messages, idle link and loaded.
        for (label, gap) in [
            ("idle link (1 msg / 1 ms)", 1000u64),
            ("saturated link, 4,000 in flight: queueing, not batching", 0),
        ] {
            counter.latencies.lock().expect("lock").clear();
            let count = if gap > 0 {
                2000 / scale
            } else {
                200_000 / scale
            };
            let base = counter.received.load(Ordering::Relaxed);
            let got = || counter.received.load(Ordering::Relaxed) - base;
            let mut sent = 0;
            while sent < count {
                // Saturated: as many in flight as the window allows (a
                // fire-and-forget SPEAK past the sender's outbox would be
                // dropped, and never counted).
                if sent - got() >= WINDOW {
                    counter.wait(got(), count).await;
                    continue;
                }
                let stamp = epoch.elapsed().as_nanos() as u64;
                let data = Value::Array(vec![Value::from(stamp), Value::bin(vec![0; 48])]);
                match sender.send(Command::Speak { data }) {
                    Ok(()) => sent += 1,
                    Err(NetError::Overloaded) => tokio::task::yield_now().await,
                    Err(e) => panic!("{e}"),
                }
                if gap > 0 {
                    tokio::time::sleep(Duration::from_micros(gap)).await;
                }
            }
            while got() < count {
                counter.wait(got(), count).await;
            }
            let mut l = counter.latencies.lock().expect("lock").clone();
            l.sort_unstable();
            table.row(
                &format!("64 B one-way latency p50/p99, {label} (µs)"),
                p50_p99(&l, 1e3, 0),
                if gap > 0 {
                    "batching adds ≤ 1 ms p99"
                } else {
                    ""
                },
            );
        }
    }

    if run("payload") {
        let big = Value::bin(vec![0x5a; 64 * 1024]);
        let count = 4096 / scale as u64;
        let bytes = (count as usize) * 64 * 1024;
        // Three rounds, each layer in turn, medians reported: loopback
        // throughput swings with the machine's other load.
        let (mut nodes, mut tcp, mut cipher) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..3 {
            let took = one_way(&sender, &big, count, 8, &counter).await;
            nodes.push(bytes as f64 / MIB / took.as_secs_f64());
            tcp.push(raw_tcp(bytes).await);
            cipher.push(
                tokio::task::spawn_blocking(move || cipher_alone(bytes))
                    .await
                    .expect("cipher"),
            );
        }
        let median = |v: &mut Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let (node_mbps, tcp_mbps, cipher_mbps) =
            (median(&mut nodes), median(&mut tcp), median(&mut cipher));
        table.row(
            "64 KiB payloads through two nodes (Noise ChaCha20-Poly1305), MB/s, median of 3",
            format!("{node_mbps:.0}"),
            &format!("≥ 0.5× raw TCP = {:.0}", tcp_mbps / 2.0),
        );
        table.row(
            "raw tokio TCP loopback, same bytes, MB/s",
            format!("{tcp_mbps:.0}"),
            "",
        );
        table.row(
            "Noise ChaCha20-Poly1305 alone (seal + open, one thread), MB/s",
            format!("{cipher_mbps:.0}"),
            "",
        );
        table.row(
            "  ratio: nodes / raw TCP",
            format!("{:.2}×", node_mbps / tcp_mbps),
            "≥ 0.5×",
        );
    }

    // --- Acknowledged WHISPERs ---
    if run("whisper") {
        let to = receiver.key().clone();
        let count = 200_000 / scale as u64;
        let plain = whispers(&sender, &to, count, false).await;
        table.row(
            "64 B WHISPERs/s with ACK, plaintext (ed25519)",
            format!("{plain:.0}"),
            "≥ 100,000",
        );
        let encrypted = whispers(&sender, &to, count / 10, true).await;
        table.row(
            "64 B WHISPERs/s with ACK, encrypted (ed25519)",
            format!("{encrypted:.0}"),
            &format!("within 3× of plaintext ({:.1}×)", plain / encrypted),
        );
    }
    sender.shutdown().await.expect("shutdown");
    receiver.shutdown().await.expect("shutdown");

    if run("rsa") {
        let (rsa_sender, rsa_receiver, _events) = pair(Profile::Rsa2048, Method::None).await;
        let to = rsa_receiver.key().clone();
        let rsa_plain = whispers(&rsa_sender, &to, 20_000 / scale as u64, false).await;
        let rsa_encrypted = whispers(&rsa_sender, &to, 1_000 / scale as u64, true).await;
        table.row(
            "64 B WHISPERs/s with ACK, rsa2048 plaintext / encrypted",
            format!("{rsa_plain:.0} / {rsa_encrypted:.0}"),
            "",
        );
        rsa_sender.shutdown().await.expect("shutdown");
        rsa_receiver.shutdown().await.expect("shutdown");
    }

    // --- 50 nodes: SHOUT latency and rate, memory ---
    if !run("nodes") {
        return;
    }
    let before = rss();
    let mut options = LocalOptions::new(50);
    options.dial_out_every = None;
    options.configure = Some(Arc::new(|_, c| unlimited(c.engine_mut())));
    let mut net = LocalNetwork::start(options, |_, _, _| {})
        .await
        .expect("50 nodes");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = rss();
    let mut connections = 0;
    for node in net.nodes() {
        connections += node.info().await.expect("info").connections;
    }
    // One SHOUT at a time: delivery latency without queueing.
    let mut isolated = Vec::new();
    for i in 0..20 {
        let stamp = epoch.elapsed().as_nanos() as u64;
        net.node(i % 50)
            .shout(Value::from(stamp))
            .await
            .expect("shout");
        let mut got = 0;
        net.wait_for(Duration::from_secs(30), |a| {
            if let shoutnet::Event::Shout { data, .. } = &a.event
                && data.as_u64() == Some(stamp)
            {
                isolated.push((epoch.elapsed().as_nanos() as u64).saturating_sub(stamp));
                got += 1;
            }
            got == 49
        })
        .await
        .expect("every shout delivered");
    }
    isolated.sort_unstable();
    table.row(
        "50 nodes: SHOUT delivery latency p50/p99, one at a time (ms)",
        p50_p99(&isolated, 1e6, 2),
        "",
    );
    // Back to back from every node: the rate, and latency under load.
    let shouts = 200 / scale as usize;
    let mut deliveries = Vec::new();
    let t0 = Instant::now();
    for i in 0..shouts {
        let stamp = epoch.elapsed().as_nanos() as u64;
        net.node(i % 50)
            .shout(Value::from(stamp))
            .await
            .expect("shout");
    }
    let expected = shouts * 49;
    net.wait_for(Duration::from_secs(60), |a| {
        if let shoutnet::Event::Shout { data, .. } = &a.event
            && let Some(sent) = data.as_u64()
        {
            deliveries.push((epoch.elapsed().as_nanos() as u64).saturating_sub(sent));
        }
        deliveries.len() == expected
    })
    .await
    .expect("every shout delivered");
    let rate = shouts as f64 / t0.elapsed().as_secs_f64();
    deliveries.sort_unstable();
    table.row(
        "50 nodes: SHOUT delivery latency p50/p99, 200 back to back (ms)",
        p50_p99(&deliveries, 1e6, 2),
        "",
    );
    table.row(
        "50 nodes: broadcasts/s, each delivered to all 49",
        format!("{rate:.0}"),
        "",
    );
    let per_node = (after.saturating_sub(before)) as f64 / 50.0 / MIB;
    table.row(
        &format!(
            "RSS per idle node with its connections ({:.1} each), MiB",
            connections as f64 / 50.0
        ),
        format!("{per_node:.2}"),
        "≤ 0.75",
    );
    net.shutdown().await.expect("shutdown");
}

//! Real nodes over loopback TCP in one process (docs/PROTOCOL.md §8–§9):
//! 30 nodes, a quarter of them dial-out-only; every capability, each
//! compression method, and a clean shutdown.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use shoutnet::engine::{RequestError, Stats};
use shoutnet::local::{LocalNetwork, LocalOptions};
use shoutnet::wire::{Method, MethodSet, NackCode};
use shoutnet::{CustomRefusal, Encryption, Error, Event, Value, WhisperRoute};

const WAIT: Duration = Duration::from_secs(20);

async fn thirty() -> LocalNetwork {
    LocalNetwork::start(LocalOptions::new(30), |_, _, _| {})
        .await
        .expect("30 nodes joined")
}

/// Broadcasts `text` from `from` and checks that every other node
/// delivers it exactly once.
async fn shout_reaches_all_once(net: &mut LocalNetwork, from: usize, text: &str) {
    net.node(from).shout(text).await.expect("shout");
    let mut count: BTreeMap<usize, usize> = BTreeMap::new();
    let others = net.nodes().len() - 1;
    net.wait_for(WAIT, |a| {
        if matches!(&a.event, Event::Shout { data, .. } if *data == Value::from(text)) {
            *count.entry(a.node).or_default() += 1;
        }
        count.len() == others
    })
    .await
    .unwrap_or_else(|e| panic!("{text}: reached {} of {others}: {e}", count.len()));
    // Copies still on their way would show up now.
    tokio::time::sleep(Duration::from_millis(300)).await;
    for a in net.drain() {
        if matches!(&a.event, Event::Shout { data, .. } if *data == Value::from(text)) {
            *count.entry(a.node).or_default() += 1;
        }
    }
    assert!(
        !count.contains_key(&from),
        "the origin does not deliver its own"
    );
    assert!(count.values().all(|&n| n == 1), "{text}: {count:?}");
}

/// Whispers `text` from `from` to `to` and checks the ACK and the arrival.
async fn whisper_arrives(
    net: &mut LocalNetwork,
    from: usize,
    to: usize,
    text: &str,
    encryption: Encryption,
    route: WhisperRoute,
) {
    let key = net.node(to).key().clone();
    let delivered = net
        .node(from)
        .whisper_by(&key, text, encryption, route)
        .await
        .unwrap_or_else(|e| panic!("{from} → {to} {encryption:?} {route:?}: {e}"));
    // A plain whisper may still travel encrypted when the node routes it
    // recursively (as it reaches dial-out-only nodes), which always
    // encrypts (§9.9); by any other route it arrives as asked.
    let recursive_possible = matches!(route, WhisperRoute::Auto | WhisperRoute::Recursive);
    let expected = match encryption {
        Encryption::Off if recursive_possible => None,
        Encryption::Off => Some(false),
        _ => Some(true),
    };
    let sender = net.node(from).key().clone();
    net.wait_for(WAIT, |a| {
        a.node == to
            && matches!(
                &a.event,
                Event::Whisper { from, data, encrypted, .. }
                    if *from == sender
                        && *data == Value::from(text)
                        && expected.is_none_or(|e| e == *encrypted)
            )
    })
    .await
    .unwrap_or_else(|e| panic!("{text} not seen at {to}: {e}"));
    assert_eq!(delivered.digest.len(), 32);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_nodes_shout_whisper_custom_and_dht() {
    let mut net = thirty().await;
    let dial_out = net.dial_out_only();
    assert_eq!(dial_out.len(), 7, "nodes 3, 7, …, 27");
    let (d1, d2) = (dial_out[0], dial_out[1]);

    // SHOUT from a listening node and from a dial-out-only one.
    shout_reaches_all_once(&mut net, 1, "from a listening node").await;
    shout_reaches_all_once(&mut net, d1, "from a dial-out-only node").await;

    // WHISPER, plain and encrypted, by each route, to listening and
    // dial-out-only nodes.
    use Encryption::{Off, On};
    whisper_arrives(&mut net, 1, 2, "plain", Off, WhisperRoute::Iterative).await;
    whisper_arrives(&mut net, 1, 5, "encrypted", On, WhisperRoute::Auto).await;
    whisper_arrives(&mut net, 4, 9, "iterative", On, WhisperRoute::Iterative).await;
    whisper_arrives(&mut net, 6, 10, "recursive", On, WhisperRoute::Recursive).await;
    whisper_arrives(
        &mut net,
        d1,
        d2,
        "between dial-out-only nodes",
        On,
        WhisperRoute::Auto,
    )
    .await;
    whisper_arrives(
        &mut net,
        0,
        d2,
        "to a dial-out-only node, plain",
        Off,
        WhisperRoute::Auto,
    )
    .await;

    // The DHT: put from a dial-out-only node, every node gets it.
    let report = net
        .node(d1)
        .put("loopback/key", "value")
        .await
        .expect("put");
    assert_eq!(report.stored, 10, "r = 10 copies: {report:?}");
    for (i, node) in net.nodes().iter().enumerate() {
        let found = node.get("loopback/key").await.expect("get");
        assert_eq!(
            found.map(|f| f.value),
            Some(Value::from("value")),
            "node {i}"
        );
    }
    assert_eq!(
        net.node(4).get("loopback/missing").await.expect("get"),
        None
    );

    // CUSTOM: a registered handler answers, an unknown name is refused.
    net.node(8)
        .register_custom("test.len", |request| async move {
            let text = request.data.as_str().ok_or(CustomRefusal::Malformed)?;
            Ok(Value::from(text.len() as u64))
        })
        .await
        .expect("register");
    let server = net.node(8).address();
    let answer = net.node(d2).custom(server, "test.len", "four").await;
    assert_eq!(answer.expect("answered"), Value::from(4u64));
    let unknown = net.node(2).custom(server, "test.nothing", "x").await;
    assert!(
        matches!(
            unknown,
            Err(Error::Request(RequestError::Refused(NackCode::NotFound)))
        ),
        "{unknown:?}"
    );

    let mut stats = Stats::default();
    for node in net.nodes() {
        stats.add(&node.info().await.expect("info").engine);
    }
    assert_eq!(stats.framing_errors, 0);
    assert_eq!(stats.dropped_messages + stats.dropped_forwarded, 0);
    net.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_compression_method_is_negotiated_and_used() {
    for method in [
        Method::Bz2,
        Method::Gzip,
        Method::Lzma,
        Method::Zlib,
        Method::Snappy,
    ] {
        let mut options = LocalOptions::new(3);
        options.dial_out_every = None;
        options.configure = Some(Arc::new(move |_, c| {
            c.engine_mut()
                .set_decode_methods(MethodSet::only_none().with(method))
                .set_preferred(method);
        }));
        let mut net = LocalNetwork::start(options, |_, _, _| {})
            .await
            .expect("joined");
        // Compressible and over the 512-byte threshold.
        let text = "shoutnet ".repeat(200);
        net.node(0).speak(text.as_str()).await.expect("speak");
        net.wait_for(WAIT, |a| {
            matches!(&a.event, Event::Speak { data, .. } if *data == Value::from(text.as_str()))
        })
        .await
        .unwrap_or_else(|e| panic!("{method:?}: {e}"));
        let mut stats = Stats::default();
        for node in net.nodes() {
            stats.add(&node.info().await.expect("info").engine);
        }
        assert!(stats.received_with(method) > 0, "{method:?}: {stats:?}");
        assert_eq!(stats.framing_errors, 0, "{method:?}");
        net.shutdown().await.expect("shutdown");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_leaves_no_task_running() {
    let metrics = tokio::runtime::Handle::current().metrics();
    let net = LocalNetwork::start(LocalOptions::new(8), |_, _, _| {})
        .await
        .expect("joined");
    assert!(metrics.num_alive_tasks() > 8, "connection tasks run");
    net.shutdown().await.expect("shutdown");
    // The event forwarders end once their streams do.
    let deadline = tokio::time::Instant::now() + WAIT;
    while metrics.num_alive_tasks() > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} tasks still alive",
            metrics.num_alive_tasks()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_talk_over_ipv6_loopback() {
    let (seed, _) = shoutnet::Node::builder()
        .listen("[::1]:0".parse().expect("addr"))
        .local_network(true)
        .build()
        .await
        .expect("seed");
    let (node, mut events) = shoutnet::Node::builder()
        .listen("[::1]:0".parse().expect("addr"))
        .bootstrap(seed.listen_addrs().to_vec())
        .local_network(true)
        .build()
        .await
        .expect("node");
    assert!(seed.listen_addrs()[0].is_ipv6());
    node.joined().await.expect("joined over ::1");
    seed.whisper(node.key(), "over IPv6", Encryption::On)
        .await
        .expect("delivered");
    while let Some(event) = events.next().await {
        if let Event::Whisper { data, .. } = event {
            assert_eq!(data, Value::from("over IPv6"));
            break;
        }
    }
    node.shutdown().await.expect("shutdown");
    seed.shutdown().await.expect("shutdown");
}

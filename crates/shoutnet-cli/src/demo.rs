//! `shoutnet demo`: a network of real nodes on loopback TCP in one process,
//! and every capability shown working on it.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use shoutnet::engine::Stats;
use shoutnet::{Encryption, Event, Node, Value};
use tokio::sync::mpsc;

/// Arguments of `shoutnet demo`.
#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// Nodes to start (at least 4). One in four accepts no connections
    /// (dial-out-only) and is reached through relays.
    #[arg(long, default_value_t = 20)]
    nodes: usize,
    /// Seconds to wait for each step before calling it failed.
    #[arg(long, default_value_t = 20)]
    timeout: u64,
}

/// The engine's maintenance interval in the demo.
const MAINTENANCE: Duration = Duration::from_millis(500);

/// One row of the report.
struct Row {
    capability: &'static str,
    result: String,
    took: Duration,
}

/// An event and the index of the node it arrived at.
type Arrival = (usize, Event);

/// The demo's network: nodes, whether each listens, and their events.
struct Network {
    nodes: Vec<Node>,
    listening: Vec<bool>,
    arrivals: mpsc::Receiver<Arrival>,
}

pub(crate) fn run(args: &DemoArgs) -> anyhow::Result<()> {
    ensure!(args.nodes >= 4, "--nodes {}: at least 4 are needed", args.nodes);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    runtime.block_on(demo(args))
}

async fn demo(args: &DemoArgs) -> anyhow::Result<()> {
    let timeout = Duration::from_secs(args.timeout);
    let started = Instant::now();
    let mut net = start(args.nodes, timeout).await?;
    let mut rows = vec![Row {
        capability: "join",
        result: format!(
            "{} nodes on 127.0.0.1, {} dial-out-only, all joined",
            net.nodes.len(),
            net.listening.iter().filter(|l| !**l).count()
        ),
        took: started.elapsed(),
    }];
    let steps = [
        shout(&mut net, timeout).await,
        whisper(&mut net, timeout).await,
        dht(&net, timeout).await,
        custom(&net, timeout).await,
    ];
    let mut failed = None;
    for step in steps {
        match step {
            Ok(row) => rows.push(row),
            Err(e) => {
                failed.get_or_insert(e);
            }
        }
    }
    let mut stats = Stats::default();
    for node in &net.nodes {
        stats.add(&node.info().await?.engine);
    }
    for node in &net.nodes {
        node.shutdown().await?;
    }
    report(&rows, &stats, started.elapsed());
    match failed {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Starts `n` nodes: node 0 is the seed, every fourth node from node 3 is
/// dial-out-only, and all join through the seed.
async fn start(n: usize, timeout: Duration) -> anyhow::Result<Network> {
    let bar = ProgressBar::new(n as u64).with_style(
        ProgressStyle::with_template("{msg:>10} [{bar:30}] {pos}/{len} nodes")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message("starting");
    let (tx, arrivals) = mpsc::channel(64 * n);
    let loopback: SocketAddr = ([127, 0, 0, 1], 0).into();
    let mut nodes = Vec::with_capacity(n);
    let mut listening = Vec::with_capacity(n);
    let mut seeds = Vec::new();
    for i in 0..n {
        let listens = i % 4 != 3;
        let mut builder = Node::builder()
            .local_network(true)
            .bootstrap(seeds.clone())
            // A joining node opens its kept connections one maintenance
            // interval after its first table entry (10 s by default), so
            // that it chooses them from a filled table; a demo shortens it.
            .configure(|c| {
                c.engine_mut().set_maintenance_interval(MAINTENANCE);
            });
        if listens {
            builder = builder.listen(loopback);
        }
        let (node, mut events) = builder.build().await.context("starting a node")?;
        if i == 0 {
            seeds = node.listen_addrs().to_vec();
        }
        let tx = tx.clone();
        tokio::spawn(async move {
            while let Some(event) = events.next().await {
                if tx.send((i, event)).await.is_err() {
                    return;
                }
            }
        });
        nodes.push(node);
        listening.push(listens);
        bar.inc(1);
    }
    bar.set_position(0);
    bar.set_message("joining");
    for node in nodes.iter().skip(1) {
        tokio::time::timeout(timeout, node.joined())
            .await
            .context("a node did not join in time")?
            .context("a node could not join")?;
        bar.inc(1);
    }
    bar.inc(1);
    bar.set_position(0);
    bar.set_message("keeping");
    // Every node keeps connections (broadcasts flood over them) one
    // maintenance interval after joining.
    for node in &nodes {
        let deadline = tokio::time::Instant::now() + timeout;
        while node.info().await?.peers.is_empty() {
            ensure!(
                tokio::time::Instant::now() < deadline,
                "a node kept no connection in time"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    // Relays publish and kept connections settle.
    tokio::time::sleep(MAINTENANCE).await;
    Ok(Network {
        nodes,
        listening,
        arrivals,
    })
}

/// Waits until `done` says the arrivals seen so far are enough.
async fn wait_for(
    arrivals: &mut mpsc::Receiver<Arrival>,
    timeout: Duration,
    mut done: impl FnMut(usize, &Event) -> bool,
) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let (i, event) = tokio::time::timeout_at(deadline, arrivals.recv())
            .await
            .context("timed out")?
            .context("every node stopped")?;
        if done(i, &event) {
            return Ok(());
        }
    }
}

async fn shout(net: &mut Network, timeout: Duration) -> anyhow::Result<Row> {
    let text = "hello from node 1";
    let t0 = Instant::now();
    let sent = net.nodes[1].shout(text).await.context("shout")?;
    let mut reached = BTreeSet::new();
    let mut twice = 0;
    let others = net.nodes.len() - 1;
    wait_for(&mut net.arrivals, timeout, |i, event| {
        if let Event::Shout { data, .. } = event
            && *data == Value::from(text)
            && !reached.insert(i)
        {
            twice += 1;
        }
        reached.len() == others
    })
    .await
    .with_context(|| format!("SHOUT reached {} of {others} nodes", reached.len()))?;
    ensure!(twice == 0, "SHOUT was delivered twice to {twice} nodes");
    Ok(Row {
        capability: "SHOUT",
        result: format!("from node 1 over {sent} kept connections; reached all {others} other nodes, each once"),
        took: t0.elapsed(),
    })
}

async fn whisper(net: &mut Network, timeout: Duration) -> anyhow::Result<Row> {
    let dial_out: Vec<usize> = (0..net.nodes.len()).filter(|&i| !net.listening[i]).collect();
    let [from, to, ..] = dial_out[..] else {
        bail!("the demo needs two dial-out-only nodes (8 nodes or more)");
    };
    let text = "a secret for a node that accepts no connections";
    let t0 = Instant::now();
    let to_key = net.nodes[to].key().clone();
    let delivered = tokio::time::timeout(
        timeout,
        net.nodes[from].whisper(&to_key, text, Encryption::On),
    )
    .await
    .context("WHISPER timed out")?
    .context("WHISPER")?;
    let took = t0.elapsed();
    wait_for(&mut net.arrivals, timeout, |i, event| {
        i == to
            && matches!(event, Event::Whisper { data, encrypted: true, .. } if *data == Value::from(text))
    })
    .await
    .context("the WHISPER was acknowledged but not seen")?;
    Ok(Row {
        capability: "WHISPER",
        result: format!(
            "encrypted, dial-out-only node {from} → dial-out-only node {to} by {:?}, ACK digest {}",
            delivered.route,
            hex::encode(&delivered.digest[..6])
        ),
        took,
    })
}

async fn dht(net: &Network, timeout: Duration) -> anyhow::Result<Row> {
    let t0 = Instant::now();
    let n = net.nodes.len();
    let report = tokio::time::timeout(timeout, net.nodes[2].put("demo/greeting", "hello, DHT"))
        .await
        .context("put timed out")?
        .context("put")?;
    ensure!(report.stored > 0, "the put stored no copy: {report:?}");
    let found = tokio::time::timeout(timeout, net.nodes[n - 1].get("demo/greeting"))
        .await
        .context("get timed out")?
        .context("get")?
        .context("the get found nothing")?;
    ensure!(found.value == Value::from("hello, DHT"), "the get found {:?}", found.value);
    Ok(Row {
        capability: "DHT",
        result: format!(
            "put from node 2 stored {} copies; get from node {} found it",
            report.stored,
            n - 1
        ),
        took: t0.elapsed(),
    })
}

async fn custom(net: &Network, timeout: Duration) -> anyhow::Result<Row> {
    let server = &net.nodes[0];
    server.register_custom("demo.echo", |request| async move {
        match request.data.as_str() {
            Some(text) => Ok(Value::from(text.to_uppercase())),
            None => Err(shoutnet::CustomRefusal::Malformed),
        }
    })?;
    let t0 = Instant::now();
    let answer = tokio::time::timeout(
        timeout,
        net.nodes[5 % net.nodes.len()].custom(server.address(), "demo.echo", "echo me"),
    )
    .await
    .context("CUSTOM timed out")?
    .context("CUSTOM")?;
    ensure!(answer == Value::from("ECHO ME"), "CUSTOM answered {answer:?}");
    Ok(Row {
        capability: "CUSTOM",
        result: "\"demo.echo\" on node 0 answered \"ECHO ME\"".to_owned(),
        took: t0.elapsed(),
    })
}

fn report(rows: &[Row], stats: &Stats, total: Duration) {
    println!("{:<8}  {:>9}  result", "step", "time");
    for row in rows {
        println!(
            "{:<8}  {:>6.1} ms  {}",
            row.capability,
            row.took.as_secs_f64() * 1e3,
            row.result
        );
    }
    println!(
        "all nodes: {} messages sent, {} broadcasts delivered, {} whispers delivered, {} records stored, {} dropped; {:.1} s in all",
        stats.messages_sent,
        stats.shouts_delivered,
        stats.whispers_delivered,
        stats.records_stored,
        stats.dropped_messages + stats.dropped_forwarded,
        total.as_secs_f64()
    );
}

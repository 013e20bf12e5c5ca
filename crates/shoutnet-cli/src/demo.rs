//! `shoutnet demo`: a network of real nodes on loopback TCP in one process,
//! and every capability shown working on it (ARCHITECTURE.md, "The
//! runtime and the facade").

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use shoutnet::engine::Stats;
use shoutnet::local::{LocalNetwork, LocalOptions, Phase};
use shoutnet::{Encryption, Event, Value};

/// Arguments of `shoutnet demo`.
#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// Nodes to start (at least 8). One in four accepts no connections
    /// (dial-out-only) and is reached through relays.
    #[arg(long, default_value_t = 20)]
    nodes: usize,
    /// Seconds to wait for each step before calling it failed.
    #[arg(long, default_value_t = 20)]
    timeout: u64,
}

/// One row of the report.
struct Row {
    capability: &'static str,
    result: String,
    took: Duration,
}

pub(crate) fn run(args: &DemoArgs) -> anyhow::Result<()> {
    ensure!(
        args.nodes >= 8,
        "--nodes {}: at least 8 are needed (two of them dial-out-only)",
        args.nodes
    );
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
            net.nodes().len(),
            net.dial_out_only().len()
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
    for node in net.nodes() {
        stats.add(&node.info().await?.engine);
    }
    net.shutdown().await?;
    report(&rows, &stats, started.elapsed());
    match failed {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Starts `n` nodes on loopback TCP (node 0 the seed, one in four
/// dial-out-only) with a progress bar.
async fn start(n: usize, timeout: Duration) -> anyhow::Result<LocalNetwork> {
    let bar = ProgressBar::new(n as u64).with_style(
        ProgressStyle::with_template("{msg:>10} [{bar:30}] {pos}/{len} nodes")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let mut options = LocalOptions::new(n);
    options.timeout = timeout;
    let net = LocalNetwork::start(options, |phase, done, _| {
        bar.set_message(match phase {
            Phase::Starting => "starting",
            Phase::Joining => "joining",
            _ => "keeping",
        });
        bar.set_position(done as u64);
    })
    .await
    .context("starting the network")?;
    bar.finish_and_clear();
    Ok(net)
}

async fn shout(net: &mut LocalNetwork, timeout: Duration) -> anyhow::Result<Row> {
    let text = "hello from node 1";
    let t0 = Instant::now();
    let sent = net.node(1).shout(text).await.context("shout")?;
    let mut reached = BTreeSet::new();
    let mut twice = 0;
    let others = net.nodes().len() - 1;
    net.wait_for(timeout, |arrival| {
        if let Event::Shout { data, .. } = &arrival.event
            && *data == Value::from(text)
            && !reached.insert(arrival.node)
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
        result: format!(
            "from node 1 over {sent} kept connections; reached all {others} other nodes, each once"
        ),
        took: t0.elapsed(),
    })
}

async fn whisper(net: &mut LocalNetwork, timeout: Duration) -> anyhow::Result<Row> {
    let dial_out = net.dial_out_only();
    let [from, to, ..] = dial_out[..] else {
        bail!("the demo needs two dial-out-only nodes (8 nodes or more)");
    };
    let text = "a secret for a node that accepts no connections";
    let t0 = Instant::now();
    let to_key = net.node(to).key().clone();
    let delivered = tokio::time::timeout(
        timeout,
        net.node(from).whisper(&to_key, text, Encryption::On),
    )
    .await
    .context("WHISPER timed out")?
    .context("WHISPER")?;
    let took = t0.elapsed();
    net.wait_for(timeout, |arrival| {
        arrival.node == to
            && matches!(&arrival.event, Event::Whisper { data, encrypted: true, .. } if *data == Value::from(text))
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

async fn dht(net: &LocalNetwork, timeout: Duration) -> anyhow::Result<Row> {
    let t0 = Instant::now();
    let n = net.nodes().len();
    let report = tokio::time::timeout(timeout, net.node(2).put("demo/greeting", "hello, DHT"))
        .await
        .context("put timed out")?
        .context("put")?;
    ensure!(report.stored > 0, "the put stored no copy: {report:?}");
    let found = tokio::time::timeout(timeout, net.node(n - 1).get("demo/greeting"))
        .await
        .context("get timed out")?
        .context("get")?
        .context("the get found nothing")?;
    ensure!(
        found.value == Value::from("hello, DHT"),
        "the get found {:?}",
        found.value
    );
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

async fn custom(net: &LocalNetwork, timeout: Duration) -> anyhow::Result<Row> {
    let server = net.node(0);
    server
        .register_custom("demo.echo", |request| async move {
            match request.data.as_str() {
                Some(text) => Ok(Value::from(text.to_uppercase())),
                None => Err(shoutnet::CustomRefusal::Malformed),
            }
        })
        .await?;
    let t0 = Instant::now();
    let answer = tokio::time::timeout(
        timeout,
        net.node(5 % net.nodes().len())
            .custom(server.address(), "demo.echo", "echo me"),
    )
    .await
    .context("CUSTOM timed out")?
    .context("CUSTOM")?;
    ensure!(
        answer == Value::from("ECHO ME"),
        "CUSTOM answered {answer:?}"
    );
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

//! `shoutnet node`: one node with a line-oriented console (docs/PROTOCOL.md
//! §8–§9; ARCHITECTURE.md, "The runtime and the facade").
//!
//! The console reads commands from stdin and writes one line per answer or
//! arrival to stdout, each starting with a word a script can match:
//! `key`, `listening`, `joined`, `ok`, `error`, `shout`, `speak`,
//! `whisper`, `custom`, `up`, `down`, `peers`, `found`, `missing`. Logs go
//! to stderr (`RUST_LOG`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use bytes::Bytes;
use clap::Args;
use shoutnet::crypto::keyfile;
use shoutnet::{Encryption, Event, Keypair, Node, NodeInfo, Profile, Value};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::metrics;

/// Arguments of `shoutnet node`.
#[derive(Debug, Args)]
pub(crate) struct NodeArgs {
    /// Address to listen on (repeat for IPv4 and IPv6); none makes a
    /// dial-out-only node.
    #[arg(long)]
    listen: Vec<SocketAddr>,
    /// Seeds to join through.
    #[arg(long, num_args = 1..)]
    bootstrap: Vec<SocketAddr>,
    /// Key file (PKCS#8 PEM); created if missing. Default: key.pem in
    /// --data-dir, or a fresh key each run.
    #[arg(long)]
    key: Option<PathBuf>,
    /// Directory for the node's state (its key file).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Serve the counters in Prometheus text format at http://ADDR/metrics.
    #[arg(long)]
    metrics: Option<SocketAddr>,
    /// The profile of a newly created key: ed25519 or rsa2048.
    #[arg(long, default_value = "ed25519")]
    profile: String,
    /// Believe and dial private and loopback addresses (a LAN, tests).
    #[arg(long)]
    local_network: bool,
}

pub(crate) fn run(args: &NodeArgs) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    runtime.block_on(serve(args))
}

fn keypair(args: &NodeArgs) -> anyhow::Result<Keypair> {
    let path = match (&args.key, &args.data_dir) {
        (Some(path), _) => Some(path.clone()),
        (None, Some(dir)) => {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            Some(dir.join("key.pem"))
        }
        (None, None) => None,
    };
    let profile: Profile = args
        .profile
        .parse()
        .map_err(|_| anyhow::anyhow!("--profile {}: expected ed25519 or rsa2048", args.profile))?;
    match path {
        Some(path) if path.exists() => {
            keyfile::load(&path).with_context(|| format!("loading {}", path.display()))
        }
        Some(path) => {
            let keypair = Keypair::generate(profile, &mut rand_core::OsRng)?;
            keyfile::save(&path, &keypair).with_context(|| format!("saving {}", path.display()))?;
            Ok(keypair)
        }
        None => Ok(Keypair::generate(profile, &mut rand_core::OsRng)?),
    }
}

async fn serve(args: &NodeArgs) -> anyhow::Result<()> {
    let mut builder = Node::builder()
        .keypair(keypair(args)?)
        .bootstrap(args.bootstrap.clone())
        .local_network(args.local_network);
    for addr in &args.listen {
        builder = builder.listen(*addr);
    }
    let (node, mut events) = builder.build().await.context("starting the node")?;
    println!("key {}", hex::encode(node.key()));
    for addr in node.listen_addrs() {
        println!("listening {addr}");
    }
    if let Some(addr) = args.metrics {
        let bound = metrics::serve(addr, node.clone()).await?;
        println!("metrics http://{bound}/metrics");
    }
    if !args.bootstrap.is_empty() {
        let joining = node.clone();
        tokio::spawn(async move {
            match joining.joined().await {
                Ok(n) => println!("joined {n}"),
                Err(e) => println!("error bootstrap: {e}"),
            }
        });
    }
    let node = Arc::new(node);
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let mut stdin_open = true;
    loop {
        tokio::select! {
            line = lines.next_line(), if stdin_open => match line {
                Ok(Some(line)) => {
                    if line.trim() == "quit" {
                        break;
                    }
                    let node = node.clone();
                    // Commands run on their own tasks: a slow get does
                    // not hold up the console.
                    tokio::spawn(async move { console(&node, line.trim()).await });
                }
                // Without a console (stdin closed) the node runs until
                // Ctrl-C.
                Ok(None) | Err(_) => stdin_open = false,
            },
            event = events.next() => match event {
                Some(event) => print_event(&event),
                None => break,
            },
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    node.shutdown().await?;
    println!("stopped");
    Ok(())
}

const HELP: &str = "commands:
  shout TEXT           broadcast TEXT to every node
  speak TEXT           send TEXT to every direct peer
  whisper KEY TEXT     send TEXT to the node with key KEY (hex), encrypted
  whisper-plain KEY TEXT  the same, unencrypted
  put KEY VALUE        store VALUE under KEY in the DHT
  get KEY              find the value under KEY
  peers                list kept peers
  info                 connections and counters
  help                 this text
  quit                 stop the node";

async fn console(node: &Node, line: &str) {
    let (verb, rest) = line.split_once(' ').unwrap_or((line, ""));
    let result = match verb {
        "" => return,
        "help" => {
            println!("{HELP}");
            return;
        }
        "shout" => node.shout(rest).await.map(|n| format!("shout sent on {n}")),
        "speak" => node.speak(rest).await.map(|n| format!("speak sent on {n}")),
        "whisper" | "whisper-plain" => {
            let Some((key, text)) = rest.split_once(' ') else {
                println!("error usage: {verb} KEY TEXT");
                return;
            };
            let Ok(key) = hex::decode(key) else {
                println!("error key is not hex");
                return;
            };
            let encryption = if verb == "whisper" {
                Encryption::On
            } else {
                Encryption::Off
            };
            node.whisper(&Bytes::from(key), text, encryption)
                .await
                .map(|d| format!("whisper delivered {:?} {}", d.route, hex::encode(d.digest)))
        }
        "put" => {
            let Some((key, value)) = rest.split_once(' ') else {
                println!("error usage: put KEY VALUE");
                return;
            };
            node.put(key, value)
                .await
                .map(|r| format!("put stored {} version {}", r.stored, r.version))
        }
        "get" => match node.get(rest).await {
            Ok(Some(found)) => {
                println!("found {rest} {}", show(&found.value));
                return;
            }
            Ok(None) => {
                println!("missing {rest}");
                return;
            }
            Err(e) => Err(e),
        },
        "peers" => node.info().await.map(|info| {
            let peers: Vec<String> = info.peers.iter().map(|p| p.to_string()).collect();
            format!("peers {} {}", peers.len(), peers.join(" "))
        }),
        "info" => node.info().await.map(|info| summary(&info)),
        other => {
            println!("error unknown command {other:?} (try help)");
            return;
        }
    };
    match result {
        Ok(text) => println!("ok {text}"),
        Err(e) => println!("error {e}"),
    }
}

fn summary(info: &NodeInfo) -> String {
    format!(
        "info connections {} table {} records {} messages_sent {} shouts_delivered {}",
        info.connections,
        info.routing_table,
        info.stored_records,
        info.engine.messages_sent,
        info.engine.shouts_delivered
    )
}

/// A value as text: strings as they are, anything else in debug form.
fn show(value: &Value) -> String {
    value
        .as_str()
        .map_or_else(|| format!("{value:?}"), str::to_owned)
}

fn print_event(event: &Event) {
    match event {
        Event::Shout { from, data } => println!("shout {} {}", hex::encode(from), show(data)),
        Event::Speak { peer, data } => println!("speak {peer} {}", show(data)),
        Event::Whisper {
            from,
            data,
            encrypted,
            ..
        } => println!(
            "whisper {} {} {}",
            hex::encode(from),
            if *encrypted { "encrypted" } else { "plain" },
            show(data)
        ),
        Event::Custom { peer, name, data } => println!("custom {peer} {name} {}", show(data)),
        Event::PeerConnected { peer, .. } => println!("up {peer}"),
        Event::PeerDisconnected { peer } => println!("down {peer}"),
        _ => {}
    }
}

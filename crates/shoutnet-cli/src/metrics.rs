//! `--metrics`: the node's counters in the OpenMetrics text format
//! (`prometheus-client` encodes them), served over a minimal HTTP/1.0
//! responder on the given address (ARCHITECTURE.md, "The runtime and the
//! facade").

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;
use shoutnet::{Node, NodeInfo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The most of a request read before answering.
const MAX_REQUEST: usize = 8 * 1024;
/// How long a scraper may take to send its request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Binds `addr` and serves `node`'s metrics there; returns the bound
/// address.
pub(crate) async fn serve(addr: SocketAddr, node: Node) -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding --metrics {addr}"))?;
    let bound = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let node = node.clone();
            tokio::spawn(async move {
                if let Err(error) = answer(stream, &node).await {
                    tracing::debug!(%error, "metrics request failed");
                }
            });
        }
    });
    Ok(bound)
}

async fn answer(mut stream: TcpStream, node: &Node) -> anyhow::Result<()> {
    let mut request = Vec::new();
    let mut buf = [0; 1024];
    tokio::time::timeout(REQUEST_TIMEOUT, async {
        while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < MAX_REQUEST {
            let n = stream.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            request.extend_from_slice(&buf[..n]);
        }
        Ok::<_, std::io::Error>(())
    })
    .await??;
    let body = render(&node.info().await?)?;
    let head = format!(
        "HTTP/1.0 200 OK\r\ncontent-type: application/openmetrics-text; version=1.0.0; charset=utf-8\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body.as_bytes()).await?;
    stream.shutdown().await?;
    Ok(())
}

/// The OpenMetrics text of `info`.
pub(crate) fn render(info: &NodeInfo) -> anyhow::Result<String> {
    let mut registry = Registry::with_prefix("shoutnet");
    for (name, value) in info.engine.named() {
        registry.register(
            name,
            format!("engine counter {name}"),
            ConstCounter::new(value),
        );
    }
    let net = [
        ("net_accepted", info.net.accepted),
        ("net_dials", info.net.dials),
        ("net_dials_failed", info.net.dials_failed),
        ("net_channel_failures", info.net.channel_failures),
        ("net_io_errors", info.net.io_errors),
        ("net_transmissions", info.net.transmissions),
        ("net_transmissions_dropped", info.net.transmissions_dropped),
        ("net_events_dropped", info.net.events_dropped),
        ("net_customs_dropped", info.net.customs_dropped),
    ];
    for (name, value) in net {
        registry.register(
            name,
            format!("runtime counter {name}"),
            ConstCounter::new(value),
        );
    }
    let gauges = [
        ("connections", info.connections),
        ("routing_table_entries", info.routing_table),
        ("stored_records", info.stored_records),
        ("kept_peers", info.peers.len()),
    ];
    for (name, value) in gauges {
        let value = i64::try_from(value).unwrap_or(i64::MAX);
        registry.register(name, format!("current {name}"), ConstGauge::new(value));
    }
    let mut out = String::new();
    encode(&mut out, &registry)?;
    Ok(out)
}

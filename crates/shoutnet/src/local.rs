//! A network of nodes in one process, on loopback TCP or an in-memory
//! transport: what `shoutnet demo`, the loopback tests and the network
//! benchmark run on (ARCHITECTURE.md, "The runtime and the facade").
//!
//! ```
//! use shoutnet::local::{LocalNetwork, LocalOptions};
//! use shoutnet::{Event, Value};
//! use std::time::Duration;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), shoutnet::Error> {
//! let mut net = LocalNetwork::start(LocalOptions::new(6), |_, _, _| {}).await?;
//! net.node(1).shout("hi").await?;
//! let mut reached = 0;
//! net.wait_for(Duration::from_secs(10), |arrival| {
//!     if let Event::Shout { data, .. } = &arrival.event {
//!         assert_eq!(*data, Value::from("hi"));
//!         reached += 1;
//!     }
//!     reached == 5
//! })
//! .await?;
//! net.shutdown().await?;
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use shoutnet_net::{NetConfig, Transport};
use tokio::sync::mpsc;

use crate::{Error, Event, Node};

/// A per-node configuration hook: the node's index and its configuration.
pub type ConfigureNode = Arc<dyn Fn(usize, &mut NetConfig) + Send + Sync>;

/// How to build a [`LocalNetwork`].
#[derive(Clone)]
#[non_exhaustive]
pub struct LocalOptions {
    /// Nodes, at least 1. Node 0 is the seed the others join through.
    pub nodes: usize,
    /// Every `n`-th node (counting from 1, so nodes `n-1`, `2n-1`, …)
    /// listens on no address; `None` makes every node listen.
    pub dial_out_every: Option<usize>,
    /// The transport (TCP on 127.0.0.1 by default).
    pub transport: Transport,
    /// The engine's maintenance interval: a node opens its kept
    /// connections, which broadcasts flood over, one interval after it
    /// joins (10 s in the engine by default, 500 ms here).
    pub maintenance: Duration,
    /// How long starting may take, per phase.
    pub timeout: Duration,
    /// A hook run on each node's configuration last.
    pub configure: Option<ConfigureNode>,
}

impl fmt::Debug for LocalOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalOptions")
            .field("nodes", &self.nodes)
            .field("dial_out_every", &self.dial_out_every)
            .field("transport", &self.transport)
            .field("maintenance", &self.maintenance)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl LocalOptions {
    /// `nodes` nodes over loopback TCP, one in four dial-out-only.
    pub fn new(nodes: usize) -> Self {
        Self {
            nodes: nodes.max(1),
            dial_out_every: Some(4),
            transport: Transport::Tcp,
            maintenance: Duration::from_millis(500),
            timeout: Duration::from_secs(20),
            configure: None,
        }
    }

    fn listens(&self, i: usize) -> bool {
        i == 0
            || self
                .dial_out_every
                .is_none_or(|n| n < 2 || !(i + 1).is_multiple_of(n))
    }
}

/// What [`LocalNetwork::start`] is doing, for progress output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Phase {
    /// Starting nodes.
    Starting,
    /// Waiting for their bootstraps.
    Joining,
    /// Waiting until each keeps a connection.
    Keeping,
}

/// An event and the index of the node it arrived at.
#[derive(Clone, Debug, PartialEq)]
pub struct Arrival {
    /// The node's index.
    pub node: usize,
    /// What arrived.
    pub event: Event,
}

/// Nodes in one process that joined one network.
#[derive(Debug)]
pub struct LocalNetwork {
    nodes: Vec<Node>,
    listening: Vec<bool>,
    arrivals: mpsc::UnboundedReceiver<Arrival>,
}

impl LocalNetwork {
    /// Starts the nodes of `options`, joins each through node 0 and waits
    /// until every node keeps at least one connection. `progress` hears
    /// each phase's count of nodes done out of the total.
    pub async fn start(
        options: LocalOptions,
        mut progress: impl FnMut(Phase, usize, usize),
    ) -> Result<Self, Error> {
        let n = options.nodes;
        // Arrivals are unbounded here so that no node's events are lost
        // while a test or the demo looks elsewhere; each node's own queue
        // stays bounded.
        let (tx, arrivals) = mpsc::unbounded_channel();
        let loopback = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0);
        let mut nodes = Vec::with_capacity(n);
        let mut listening = Vec::with_capacity(n);
        let mut seeds = Vec::new();
        for i in 0..n {
            let listens = options.listens(i);
            let maintenance = options.maintenance;
            let configure = options.configure.clone();
            let mut builder = Node::builder()
                .local_network(true)
                .bootstrap(seeds.clone())
                .transport(options.transport.clone())
                .configure(move |c| {
                    c.engine_mut().set_maintenance_interval(maintenance);
                    if let Some(configure) = configure {
                        configure(i, c);
                    }
                });
            if listens {
                builder = builder.listen(loopback);
            }
            let (node, mut events) = builder.build().await?;
            if i == 0 {
                seeds = node.listen_addrs().to_vec();
            }
            let tx = tx.clone();
            tokio::spawn(async move {
                while let Some(event) = events.next().await {
                    if tx.send(Arrival { node: i, event }).is_err() {
                        return;
                    }
                }
            });
            nodes.push(node);
            listening.push(listens);
            progress(Phase::Starting, i + 1, n);
        }
        progress(Phase::Joining, 1, n);
        for (i, node) in nodes.iter().enumerate().skip(1) {
            tokio::time::timeout(options.timeout, node.joined())
                .await
                .map_err(|_| Error::TimedOut("a node's bootstrap"))??;
            progress(Phase::Joining, i + 1, n);
        }
        if n > 1 {
            for (i, node) in nodes.iter().enumerate() {
                let deadline = tokio::time::Instant::now() + options.timeout;
                while node.info().await?.peers.is_empty() {
                    if tokio::time::Instant::now() >= deadline {
                        return Err(Error::TimedOut("a node's kept connections"));
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                progress(Phase::Keeping, i + 1, n);
            }
            // Relays publish and the kept connections settle.
            tokio::time::sleep(options.maintenance).await;
        }
        Ok(Self {
            nodes,
            listening,
            arrivals,
        })
    }

    /// The nodes, by index.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// Node `i`. Panics if there is no such node.
    pub fn node(&self, i: usize) -> &Node {
        &self.nodes[i]
    }

    /// Whether node `i` listens (it is not dial-out-only).
    pub fn is_listening(&self, i: usize) -> bool {
        self.listening.get(i).copied().unwrap_or(false)
    }

    /// The indexes of the dial-out-only nodes.
    pub fn dial_out_only(&self) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|&i| !self.is_listening(i))
            .collect()
    }

    /// Hands every arrival to `done` until it says enough, within
    /// `timeout`.
    pub async fn wait_for(
        &mut self,
        timeout: Duration,
        mut done: impl FnMut(&Arrival) -> bool,
    ) -> Result<(), Error> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let arrival = tokio::time::timeout_at(deadline, self.arrivals.recv())
                .await
                .map_err(|_| Error::TimedOut("the arrivals waited for"))?
                .ok_or(Error::Net(shoutnet_net::NetError::Shutdown))?;
            if done(&arrival) {
                return Ok(());
            }
        }
    }

    /// The arrivals already there, without waiting.
    pub fn drain(&mut self) -> Vec<Arrival> {
        let mut out = Vec::new();
        while let Ok(arrival) = self.arrivals.try_recv() {
            out.push(arrival);
        }
        out
    }

    /// Shuts every node down.
    pub async fn shutdown(self) -> Result<(), Error> {
        for node in &self.nodes {
            node.shutdown().await?;
        }
        Ok(())
    }
}

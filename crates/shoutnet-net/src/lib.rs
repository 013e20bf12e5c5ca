//! The tokio runtime of a shoutnet node.
//!
//! [`spawn`] starts a node: it binds the listen addresses of its
//! [`EngineConfig`](shoutnet_engine::EngineConfig), then runs one engine
//! task, which owns the sans-IO [`NodeEngine`](shoutnet_engine::NodeEngine),
//! and one task per connection, which owns the socket and its Noise
//! channel (docs/PROTOCOL.md §9.1). Every queue between them is bounded:
//!
//! - a connection's writer queue holds a few transmissions; when it is
//!   full the engine stops encoding for that connection, and its messages
//!   wait in the engine's outbox, bounded in bytes, the node's own
//!   requests and answers ahead of what it forwards for others, which is
//!   dropped first and counted;
//! - the inputs of all connections share one queue; when it is full the
//!   readers wait, and TCP's flow control slows the peers;
//! - commands fail with [`NetError::Overloaded`] when their queue is
//!   full; events the application does not read are dropped and counted.
//!
//! This crate is not the protocol (that is `shoutnet-engine`) and not the
//! friendly API (that is the `shoutnet` crate, which builds on this one).
//!
//! ```
//! use shoutnet_crypto::Keypair;
//! use shoutnet_engine::{Command, EngineConfig, Event};
//! use shoutnet_net::{MemoryNetwork, NetConfig, Transport};
//! use shoutnet_wire::{Profile, Value};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let network = MemoryNetwork::default();
//! let node = |listen: Vec<std::net::SocketAddr>, seeds| {
//!     let keypair = Keypair::generate(Profile::Ed25519, &mut rand_core::OsRng).unwrap();
//!     let mut engine = EngineConfig::new(keypair, [7; 32]);
//!     engine.set_listen(listen).set_local_network(true);
//!     let mut config = NetConfig::new(engine);
//!     config
//!         .set_transport(Transport::Memory(network.clone()))
//!         .set_bootstrap(seeds);
//!     shoutnet_net::spawn(config)
//! };
//! let (a, _) = node(vec!["127.0.0.1:7000".parse()?], vec![]).await?;
//! let (b, mut b_events) = node(vec![], a.listen_addrs().to_vec()).await?;
//! // Once b has joined through a, a can speak to it.
//! while !matches!(b_events.recv().await, Some(Event::Connected { .. })) {}
//! a.command(Command::Speak { data: Value::from("hello") }).await?;
//! loop {
//!     if let Some(Event::Speak { data, .. }) = b_events.recv().await {
//!         assert_eq!(data, Value::from("hello"));
//!         break;
//!     }
//! }
//! a.shutdown().await?;
//! b.shutdown().await?;
//! # Ok(())
//! # }
//! ```

mod config;
mod connection;
mod error;
mod handle;
mod rejoin;
mod runtime;
mod stats;
mod transport;

pub use config::NetConfig;
pub use error::NetError;
pub use handle::{CustomAnswer, CustomHandler, CustomRequest, EventStream, Handle, NodeInfo};
pub use runtime::MAX_UNANSWERED_HANDLERS;
pub use stats::NetStats;
pub use transport::{Io, MemoryNetwork, Transport};

/// Starts a node with `config` on the current tokio runtime: binds its
/// listen addresses (port 0 picks one; [`Handle::listen_addrs`] tells
/// which), joins through its bootstrap seeds if it has any, and returns
/// its handle and the stream of what arrives.
pub async fn spawn(config: NetConfig) -> Result<(Handle, EventStream), NetError> {
    let (handle, events) = runtime::start(config).await?;
    Ok((handle, EventStream::new(events)))
}

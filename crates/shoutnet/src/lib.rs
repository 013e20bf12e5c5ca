//! shoutnet: a peer-to-peer network with broadcast, direct messages and a
//! DHT that keep their promises.
//!
//! Build a [`Node`], join through a seed, and then:
//!
//! - [`shout`](Node::shout) to every node of the network (signed, flooded
//!   over kept connections, delivered once each);
//! - [`speak`](Node::speak) to the node's direct peers;
//! - [`whisper`](Node::whisper) to one node by its key, end-to-end
//!   encrypted by default, resolved when the destination acknowledges it —
//!   also to nodes that accept no connections, through their relays;
//! - [`put`](Node::put) and [`get`](Node::get) records in the DHT;
//! - serve and call named request handlers ([`register_custom`](Node::register_custom),
//!   [`custom`](Node::custom)).
//!
//! What arrives comes out of [`Events`], a [`Stream`](futures_core::Stream).
//! Data is the protocol's restricted msgpack [`Value`]; any serde type
//! converts with [`to_value`] and [`from_value`].
//!
//! ```
//! use shoutnet::{Event, Node, Value};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), shoutnet::Error> {
//! // Two nodes on loopback: a seed, and one that joins through it.
//! let (seed, _) = Node::builder()
//!     .listen("127.0.0.1:0".parse().unwrap())
//!     .local_network(true)
//!     .build()
//!     .await?;
//! let (node, mut events) = Node::builder()
//!     .listen("127.0.0.1:0".parse().unwrap())
//!     .bootstrap(seed.listen_addrs().to_vec())
//!     .local_network(true)
//!     .build()
//!     .await?;
//! node.joined().await?;
//!
//! // A whisper from the seed to the node, encrypted end to end.
//! let delivered = seed.whisper(node.key(), "hello", shoutnet::Encryption::On).await?;
//! println!("acknowledged with digest {:02x?}", &delivered.digest[..4]);
//! while let Some(event) = events.next().await {
//!     if let Event::Whisper { data, encrypted, .. } = event {
//!         assert_eq!((data, encrypted), (Value::from("hello"), true));
//!         break;
//!     }
//! }
//!
//! // A record in the DHT.
//! node.put("greeting", "hi there").await?;
//! let found = seed.get("greeting").await?.expect("stored");
//! assert_eq!(found.value, Value::from("hi there"));
//!
//! node.shutdown().await?;
//! seed.shutdown().await?;
//! # Ok(())
//! # }
//! ```
//!
//! The protocol is docs/PROTOCOL.md; each layer is its own crate,
//! re-exported here for those who want one piece: [`wire`], [`compress`],
//! [`crypto`], [`kad`], [`flood`], [`dht`], [`engine`] (the sans-IO node)
//! and [`net`] (its tokio runtime).

mod builder;
mod error;
mod event;
pub mod local;
mod node;

pub use builder::NodeBuilder;
pub use error::Error;
pub use event::{Event, Events};
pub use node::{Encryption, Node};

pub use shoutnet_compress as compress;
pub use shoutnet_crypto as crypto;
pub use shoutnet_dht as dht;
pub use shoutnet_engine as engine;
pub use shoutnet_flood as flood;
pub use shoutnet_kad as kad;
pub use shoutnet_net as net;
pub use shoutnet_wire as wire;

pub use shoutnet_crypto::{Address, Keypair};
pub use shoutnet_engine::{CustomRefusal, Delivered, Found, PutReport, WhisperRoute};
pub use shoutnet_net::{CustomRequest, NodeInfo};
pub use shoutnet_wire::{Profile, Value, from_value, to_value};

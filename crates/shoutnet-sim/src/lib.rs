//! A deterministic discrete-event simulator for shoutnet (ARCHITECTURE.md,
//! "Deterministic simulation"; docs/design.md §13 for the Kademlia it
//! measures, and the engine contract of docs/PROTOCOL.md §9): many
//! `NodeEngine`s over a virtual network with seeded latency, loss,
//! bandwidth, partitions and crashes.
#![doc = include_str!("../README.md")]
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod channel;
mod config;
mod error;
pub mod scenario;
mod sim;

pub use channel::ChannelMode;
pub use config::{
    Configure, DEFAULT_MAX_STEPS, INITIAL_RTO, INITIAL_SYN_RTO, Latency, LossModel,
    MAX_RETRANSMISSIONS, SimConfig,
};
pub use error::{Error, Livelock};
pub use sim::{
    Broadcast, LoggedAction, LoggedEvent, LoggedMessage, MAX_NODES, PORT, Rewrite, Sim, SimStats,
    addr, node_keypair, node_of,
};

//! One shoutnet node's protocol as a sans-IO state machine
//! (docs/PROTOCOL.md §8–§11): framing, the handshake, requests and
//! replies, and Kademlia lookups.
#![doc = include_str!("../README.md")]
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

mod config;
mod connection;
mod dispatch;
mod engine;
mod event;
mod handshake;
mod requests;
mod routing;

pub use config::{
    DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_KEEPALIVE, DEFAULT_MAX_OUTBOUND, DEFAULT_QUEUE_CAPACITY,
    DEFAULT_REQUEST_TIMEOUT, DEFAULT_TABLE_CAPACITY, EngineConfig, MAX_DURATION,
};
pub use engine::{NodeEngine, Stats};
pub use event::{Action, Command, ConnectionId, Direction, Event, RequestId, Transmit};
pub use routing::Contact;
pub use shoutnet_crypto::Address;
pub use shoutnet_kad::LookupStats;

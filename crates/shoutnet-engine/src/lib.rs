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
mod dialer;
mod dispatch;
mod engine;
mod event;
/// The entry point of the `engine_connection` fuzz target (docs/PROTOCOL.md §4, §8, §9).
pub mod fuzzing;
mod handshake;
mod lookups;
mod requests;
mod routing;
mod timers;

pub use config::{
    DEFAULT_BOOTSTRAP_REFRESH_BELOW, DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_KEEPALIVE,
    DEFAULT_MAINTENANCE_INTERVAL, DEFAULT_MAX_OUTBOUND, DEFAULT_MAX_TRANSIENT,
    DEFAULT_QUEUE_CAPACITY, DEFAULT_REQUEST_TIMEOUT, DEFAULT_TABLE_CAPACITY,
    DEFAULT_TRANSIENT_IDLE, EngineConfig, MAX_DURATION, max_outbound_limit,
};
pub use engine::{NodeEngine, Stats};
pub use event::{Action, Command, ConnectionId, Direction, Event, RequestId, Transmit};
pub use routing::Contact;
pub use shoutnet_crypto::Address;
pub use shoutnet_kad::LookupStats;

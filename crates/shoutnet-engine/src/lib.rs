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

mod addrs;
mod bootstrap;
mod budget;
pub mod channel;
mod config;
mod connection;
mod custom;
mod engine;
mod event;
/// The entry point of the `engine_connection` fuzz target (docs/PROTOCOL.md §4, §8, §9).
pub mod fuzzing;
mod handshake;
mod lookups;
mod outbox;
mod outputs;
mod pool;
mod puts;
mod records;
mod refusal;
mod relays;
mod requests;
mod routing;
mod timers;
mod whispers;

pub use budget::{Rate, RequestRates};
pub use config::{EngineConfig, max_outbound_limit};
pub use engine::NodeEngine;
pub use event::{
    Action, Admission, CloseReason, Command, CommandError, CommandId, ConnectionId, CustomRefusal,
    Delivered, Direction, Event, Found, PutReport, ReplyHandle, RequestError, Transmit,
    WhisperError, WhisperRoute,
};
pub use outputs::Stats;
pub use routing::Contact;
pub use shoutnet_crypto::Address;
pub use shoutnet_dht::Limits as StoreLimits;
pub use shoutnet_flood::{FloodConfig, MessageId};
pub use shoutnet_kad::LookupStats;

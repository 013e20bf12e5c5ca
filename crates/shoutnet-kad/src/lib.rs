//! Kademlia for shoutnet (implements docs/design.md §13 / docs/PROTOCOL.md
//! §8.7): the k-bucket routing table and the iterative lookup behind
//! `FIND_NODE` and `FIND_VALUE`, both sans-IO.
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

mod bucket;
mod config;
mod lookup;
mod table;

pub use config::KadConfig;
pub use lookup::{Lookup, LookupAction, LookupKind, LookupStats};
pub use shoutnet_crypto::{Address, Distance};
pub use table::{
    EVENT_QUEUE_CAPACITY, InsertOutcome, RoutingTable, TableEvent, random_address_in_bucket,
};

//! DHT records for shoutnet (docs/PROTOCOL.md §8, §8.7, §11; docs/design.md
//! §13): what one node stores for others, what it published itself, and
//! which records a newly joined node should be sent, with no IO and no
//! clock.
//!
//! - [`address_of`], [`check_address`], [`distance`]: a record's address
//!   (SHA-256 of its key), the check that a claimed address is that, and
//!   XOR distance.
//! - [`Record`], [`Meta`]: a record as stored: key, value bytes as
//!   received, and its metadata.
//! - [`Limits`]: key and value sizes, TTL bounds, the store's global caps
//!   and the per-peer quotas, each with its default.
//! - [`RecordStore`]: the store's interface, with the version rule
//!   ([`PutOutcome`], [`StoreError::Conflict`]), expiry and accounting;
//!   [`MemoryStore`] is its in-memory backend.
//! - [`Publications`]: the records this node published, and when each must
//!   be republished.
//! - [`Replication`]: which stored records go to a node that just joined
//!   (Kademlia §2.5), bounded per call.
//!
//! **What it is not:** it sends nothing, verifies no signature (records are
//! not signed in protocol version 1), runs no lookup and stores nothing on
//! disk (a durable backend implements [`RecordStore`] later). Locks and
//! CASPaxos (docs/design.md §14) are not here yet. The node engine
//! (`shoutnet-engine`) decodes `STORE` and `FIND_VALUE`, asks this crate,
//! and answers.
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

mod address;
mod error;
mod limits;
mod memory;
mod publish;
mod record;
mod replicate;
mod store;

pub use address::{address_of, check_address, distance};
pub use error::StoreError;
pub use limits::{Limits, RECORD_OVERHEAD};
pub use memory::MemoryStore;
pub use publish::{Publication, Publications};
pub use record::{Meta, PutOutcome, Record, Usage};
pub use replicate::{Neighbourhood, Replication};
pub use store::RecordStore;

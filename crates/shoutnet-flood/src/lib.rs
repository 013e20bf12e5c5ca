//! Broadcast for shoutnet (docs/PROTOCOL.md §8.5, §9.7; docs/design.md §10):
//! the pure decisions behind `SHOUT` flooding, with no IO and no clock.
//!
//! - [`MessageId`]: the id of a `SHOUT`, SHA-256 of its origin, opcode byte
//!   and content.
//! - [`SeenCache`]: the ids already delivered, exact and bounded both in time
//!   and in entries, with its memory per entry stated.
//! - [`OriginBudgets`]: token buckets of new `SHOUT`s per origin, bounded in
//!   the number of origins they remember.
//! - [`Flood`]: the decision for one received `SHOUT` — a duplicate, or one
//!   to verify; then delivered and forwarded, or over its origin's budget —
//!   and the connections it goes on to.
//! - [`Rate`] and [`TokenBucket`]: the budgets' arithmetic, which the node
//!   engine uses for its other budgets too.
//!
//! **What it is not:** it verifies no signature and sends nothing; the node
//! engine (`shoutnet-engine`) does both, asking this crate what to do.
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

mod flood;
mod id;
mod origins;
mod rate;
mod seen;

pub use flood::{Admit, Flood, FloodConfig, Verified};
pub use id::MessageId;
pub use origins::OriginBudgets;
pub use rate::{Rate, TokenBucket};
pub use seen::{BYTES_PER_ENTRY, SeenCache};

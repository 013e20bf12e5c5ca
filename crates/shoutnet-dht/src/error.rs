//! The crate's one error type: every reason a record is refused, one
//! variant each, with typed fields so the engine can answer the right
//! `NACK` (docs/PROTOCOL.md §10) and tests can tell the reasons apart.

use crate::Meta;

/// Why a put or a publication was refused. A refused put changes nothing.
///
/// The engine's answers: [`AddressMismatch`](Self::AddressMismatch) is
/// `MALFORMED`; [`KeyTooLarge`](Self::KeyTooLarge) and
/// [`ValueTooLarge`](Self::ValueTooLarge) are `TOO_LARGE`;
/// [`Conflict`](Self::Conflict) is `CONFLICT` with the current metadata
/// as detail; the others are the node's own budgets.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The address given is not SHA-256 of the key (docs/PROTOCOL.md §8.7).
    #[error("address is not SHA-256 of the key")]
    AddressMismatch {
        /// The address given.
        claimed: [u8; 32],
        /// SHA-256 of the key.
        actual: [u8; 32],
    },
    /// The key is longer than [`Limits::max_key`](crate::Limits::max_key).
    #[error("key is {len} bytes, at most {max} allowed")]
    KeyTooLarge {
        /// The key's length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The value's encoding is longer than
    /// [`Limits::max_value`](crate::Limits::max_value).
    #[error("value is {len} bytes, at most {max} allowed")]
    ValueTooLarge {
        /// The value's length in bytes, as received.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The time to live asked is below
    /// [`Limits::min_ttl`](crate::Limits::min_ttl). (A TTL above the
    /// maximum is clamped, never refused.)
    #[error("time to live of {ttl} s is below the minimum of {min} s")]
    TtlTooShort {
        /// The time to live asked, in seconds.
        ttl: u64,
        /// The minimum, in seconds.
        min: u64,
    },
    /// The version rule refused the put: the stored record has a higher
    /// version, or the same version with another value (the first write
    /// at a version wins).
    #[error("record at version {} is stored", current.version)]
    Conflict {
        /// The stored record's metadata, the detail of `NACK CONFLICT`.
        current: Meta,
    },
    /// The peer that sent the record would hold more than its quota
    /// ([`Limits::max_records_per_peer`](crate::Limits::max_records_per_peer),
    /// [`Limits::max_bytes_per_peer`](crate::Limits::max_bytes_per_peer)).
    #[error("peer's quota exceeded: it holds {records} records, {bytes} bytes")]
    QuotaExceeded {
        /// Records the peer holds before this put.
        records: usize,
        /// Bytes charged to the peer before this put.
        bytes: usize,
    },
    /// The store would hold more than its global caps
    /// ([`Limits::max_records`](crate::Limits::max_records),
    /// [`Limits::max_bytes`](crate::Limits::max_bytes)).
    #[error("store full: it holds {records} records, {bytes} bytes")]
    StoreFull {
        /// Records held before this put.
        records: usize,
        /// Bytes charged before this put.
        bytes: usize,
    },
    /// [`Publications`](crate::Publications) already holds its maximum
    /// number of records.
    #[error("already publishing the maximum of {max} records")]
    TooManyPublications {
        /// The maximum.
        max: usize,
    },
}

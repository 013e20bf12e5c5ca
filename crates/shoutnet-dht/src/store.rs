//! The record store's interface (docs/PROTOCOL.md §8.7, §10 `CONFLICT`,
//! §11): what the engine asks of any backend, the in-memory one today and
//! a durable one later.

use crate::{Limits, PutOutcome, Record, StoreError, Usage};

/// Records stored for others, keyed by address (SHA-256 of the key).
///
/// Object safe, so the engine can hold a `Box<dyn RecordStore>`. Records
/// are returned by value (`Record` clones are cheap: `Bytes` share their
/// buffers), so a backend that reads them from disk can implement it.
///
/// **The version rule** (like BEP 44's `seq`): a put never replaces a
/// record of a higher version. Against a live record at the address:
///
/// | put's version | value | outcome |
/// |---|---|---|
/// | lower | any | [`StoreError::Conflict`] |
/// | equal | the same bytes | [`PutOutcome::Refreshed`]: `stored_at` and `ttl` renewed |
/// | equal | other bytes | [`StoreError::Conflict`]: the first write at a version wins |
/// | higher | any | [`PutOutcome::Replaced`] |
///
/// With no live record (none, or one expired but not yet dropped) the put
/// is [`PutOutcome::Created`].
///
/// **Accounting**: a record is charged ([`Record::charge`]) to the peer
/// whose put last created, refreshed or replaced it, so a put from another
/// peer moves the charge to that peer, within its quota.
///
/// **A refused put changes nothing.** Every check is made before anything
/// is changed, and no put evicts another record to make room.
pub trait RecordStore {
    /// The limits the store enforces.
    fn limits(&self) -> &Limits;

    /// The live record at `address`; `None` if there is none or it has
    /// expired at `now`, even if [`expire`](Self::expire) has not dropped
    /// it yet.
    fn get(&self, address: &[u8; 32], now: u64) -> Option<Record>;

    /// Stores `record` at `address` on behalf of the peer with key field
    /// `from_peer` (the sender of the `STORE`), at `now`.
    ///
    /// Checks, in order: key and value sizes, that `address` is SHA-256
    /// of the key, the TTL's minimum, the version rule, the peer's quota,
    /// then the global caps. The record kept has `stored_at = now` and its
    /// TTL clamped to [`Limits::max_ttl`]; its bytes are copied, so it never
    /// keeps alive a larger buffer (a received transmission) it was cut
    /// from.
    ///
    /// Room held by expired records counts until they are dropped: call
    /// [`expire`](Self::expire) at [`next_expiry`](Self::next_expiry).
    fn put(
        &mut self,
        address: [u8; 32],
        record: Record,
        from_peer: &[u8],
        now: u64,
    ) -> Result<PutOutcome, StoreError>;

    /// Removes the record at `address`, expired or not, and returns it.
    fn remove(&mut self, address: &[u8; 32]) -> Option<Record>;

    /// Drops every record expired at `now` and returns how many, in time
    /// proportional to that number (times a logarithm), not to the store.
    fn expire(&mut self, now: u64) -> usize;

    /// When the next record expires: the time for the engine's timer.
    fn next_expiry(&self) -> Option<u64>;

    /// Records held, expired ones not yet dropped included.
    fn len(&self) -> usize;

    /// Whether no record is held.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes charged in all (the sum of [`Record::charge`]).
    fn bytes(&self) -> usize;

    /// Records and bytes held on behalf of the peer with key field `peer`.
    fn usage_of(&self, peer: &[u8]) -> Usage;

    /// The addresses held from `start` on, in ascending order, expired
    /// ones not yet dropped included: a range scan, for re-replication
    /// ([`Replication`](crate::Replication)) and periodic sweeps.
    fn addresses_from(&self, start: &[u8; 32]) -> Box<dyn Iterator<Item = [u8; 32]> + '_>;
}

//! What a node stores for others, bounded (docs/PROTOCOL.md §11): record
//! sizes, time to live, the store's global caps and the per-peer quotas.

use crate::Record;

/// The bytes each record is charged beyond its key, value, publisher and
/// the key field of the peer it is charged to: the in-memory store's
/// containers, worst case on 64-bit targets.
///
/// std's B-trees keep every node but the root at least 5 of its 11
/// elements full, so one element costs at most a fifth of an internal
/// node (the node's 11 slots, parent link and 12 child links):
/// about 428 bytes in the record map (a 32-byte address and a 152-byte
/// entry per slot), 111 in the expiry index (40-byte slots) and 128 in the
/// per-peer usage map (48-byte slots, one element per peer, so at most one
/// per record). Four `Bytes` (key, value, publisher, owner) add a 24-byte
/// shared header each once cloned. That is 763 bytes, rounded up to 768; a
/// unit test recomputes it with `size_of`, and an integration test
/// measures the heap under a counting allocator.
pub const RECORD_OVERHEAD: usize = 768;

impl Record {
    /// The bytes this record is charged against the caps and quotas when
    /// held on behalf of the peer with key field `owner`: key, value,
    /// publisher and owner bytes plus [`RECORD_OVERHEAD`].
    ///
    /// ```
    /// use shoutnet_dht::{RECORD_OVERHEAD, Record};
    /// let r = Record::new(vec![0; 10], vec![0; 100], 0, 60, vec![0; 32]);
    /// assert_eq!(r.charge(&[0; 32]), 10 + 100 + 32 + 32 + RECORD_OVERHEAD);
    /// ```
    pub fn charge(&self, owner: &[u8]) -> usize {
        self.key
            .len()
            .saturating_add(self.value.len())
            .saturating_add(self.meta.publisher.len())
            .saturating_add(owner.len())
            .saturating_add(RECORD_OVERHEAD)
    }
}

/// The store's limits, each with its default as an associated constant.
///
/// A put is refused (with a typed [`StoreError`](crate::StoreError)) when
/// its key or value is too large, its TTL too short, or storing it would
/// take the sending peer past its quota or the store past a global cap.
/// A TTL longer than the maximum is **clamped** to it, not refused: the
/// record is kept for less time than asked, which its publisher's
/// republishing covers. A TTL shorter than the minimum is **refused**,
/// not raised: keeping a record longer than its publisher asked is the
/// unsafe direction, and a record that expires within a minute is gone
/// before most lookups could find it.
///
/// Quotas count across messages: a peer's records and bytes add up over
/// all its `STORE`s, until they expire or are removed, or another peer's
/// put takes them over.
///
/// ```
/// use shoutnet_dht::Limits;
/// let mut limits = Limits::default();
/// limits.set_max_records_per_peer(16).set_max_ttl(3600);
/// assert_eq!(limits.max_records_per_peer(), 16);
/// assert_eq!(limits.max_key(), Limits::DEFAULT_MAX_KEY);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    max_key: usize,
    max_value: usize,
    min_ttl: u64,
    max_ttl: u64,
    max_records: usize,
    max_bytes: usize,
    max_records_per_peer: usize,
    max_bytes_per_peer: usize,
}

impl Limits {
    /// DHT key, 1,024 bytes (docs/PROTOCOL.md §8.7, §11).
    pub const DEFAULT_MAX_KEY: usize = 1024;
    /// DHT value, 65,536 bytes as received (docs/PROTOCOL.md §8.7, §11).
    pub const DEFAULT_MAX_VALUE: usize = 65_536;
    /// Shortest TTL, 60 s: about what a lookup and its `STORE`s take on a
    /// slow network (10 s per unanswered request, several hops).
    pub const DEFAULT_MIN_TTL: u64 = 60;
    /// Longest TTL, 24 h (docs/design.md §13; Kademlia's expiry).
    pub const DEFAULT_MAX_TTL: u64 = 24 * 60 * 60;
    /// Records held, 65,536.
    pub const DEFAULT_MAX_RECORDS: usize = 65_536;
    /// Bytes charged in all, 256 MiB: with
    /// [`DEFAULT_MAX_RECORDS`](Self::DEFAULT_MAX_RECORDS) the bound on the
    /// store's memory, whatever the mix of record sizes.
    pub const DEFAULT_MAX_BYTES: usize = 256 << 20;
    /// Records held for one peer, 256: enough for a publisher whose keys
    /// all land here in a small network, or for a neighbour's
    /// re-replication ([`Replication::DEFAULT_MAX`](crate::Replication::DEFAULT_MAX)
    /// is the same).
    pub const DEFAULT_MAX_RECORDS_PER_PEER: usize = 256;
    /// Bytes charged for one peer, 4 MiB: 64 full-size values, or a
    /// sixty-fourth of the store, so at least 64 peers fill it.
    pub const DEFAULT_MAX_BYTES_PER_PEER: usize = 4 << 20;

    /// The defaults.
    pub const fn new() -> Self {
        Self {
            max_key: Self::DEFAULT_MAX_KEY,
            max_value: Self::DEFAULT_MAX_VALUE,
            min_ttl: Self::DEFAULT_MIN_TTL,
            max_ttl: Self::DEFAULT_MAX_TTL,
            max_records: Self::DEFAULT_MAX_RECORDS,
            max_bytes: Self::DEFAULT_MAX_BYTES,
            max_records_per_peer: Self::DEFAULT_MAX_RECORDS_PER_PEER,
            max_bytes_per_peer: Self::DEFAULT_MAX_BYTES_PER_PEER,
        }
    }

    /// The longest key accepted, in bytes.
    pub fn max_key(&self) -> usize {
        self.max_key
    }

    /// Sets the longest key accepted. A node MAY lower the protocol's
    /// limit (docs/PROTOCOL.md §11); raising it accepts keys peers refuse.
    pub fn set_max_key(&mut self, bytes: usize) -> &mut Self {
        self.max_key = bytes;
        self
    }

    /// The longest value encoding accepted, in bytes.
    pub fn max_value(&self) -> usize {
        self.max_value
    }

    /// Sets the longest value encoding accepted (lower it, as for
    /// [`set_max_key`](Self::set_max_key)).
    pub fn set_max_value(&mut self, bytes: usize) -> &mut Self {
        self.max_value = bytes;
        self
    }

    /// The shortest TTL accepted, in seconds; shorter is refused.
    pub fn min_ttl(&self) -> u64 {
        self.min_ttl
    }

    /// Sets the shortest TTL accepted.
    pub fn set_min_ttl(&mut self, seconds: u64) -> &mut Self {
        self.min_ttl = seconds;
        self
    }

    /// The longest TTL kept, in seconds; longer is clamped to it. The
    /// minimum is checked on the TTL asked, before clamping.
    pub fn max_ttl(&self) -> u64 {
        self.max_ttl
    }

    /// Sets the longest TTL kept.
    pub fn set_max_ttl(&mut self, seconds: u64) -> &mut Self {
        self.max_ttl = seconds;
        self
    }

    /// The most records the store holds.
    pub fn max_records(&self) -> usize {
        self.max_records
    }

    /// Sets the most records the store holds.
    pub fn set_max_records(&mut self, records: usize) -> &mut Self {
        self.max_records = records;
        self
    }

    /// The most bytes the store is charged ([`Record::charge`]).
    pub fn max_bytes(&self) -> usize {
        self.max_bytes
    }

    /// Sets the most bytes the store is charged.
    pub fn set_max_bytes(&mut self, bytes: usize) -> &mut Self {
        self.max_bytes = bytes;
        self
    }

    /// The most records held on behalf of one peer.
    pub fn max_records_per_peer(&self) -> usize {
        self.max_records_per_peer
    }

    /// Sets the most records held on behalf of one peer.
    pub fn set_max_records_per_peer(&mut self, records: usize) -> &mut Self {
        self.max_records_per_peer = records;
        self
    }

    /// The most bytes charged to one peer.
    pub fn max_bytes_per_peer(&self) -> usize {
        self.max_bytes_per_peer
    }

    /// Sets the most bytes charged to one peer.
    pub fn set_max_bytes_per_peer(&mut self, bytes: usize) -> &mut Self {
        self.max_bytes_per_peer = bytes;
        self
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use std::mem::size_of;

    use bytes::Bytes;

    use super::*;
    use crate::Usage;
    use crate::memory::Entry;

    /// The most heap one element costs in a std B-tree map with keys `K`
    /// and values `V`: a fifth of an internal node (parent pointer, parent
    /// index and length, 11 keys, 11 values, 12 child pointers), since
    /// every node but the root holds at least 5 elements.
    fn per_element<K, V>() -> usize {
        let header = size_of::<usize>() + 2 * size_of::<u16>();
        let leaf = (header + 11 * (size_of::<K>() + size_of::<V>())).next_multiple_of(8);
        let internal = leaf + 12 * size_of::<usize>();
        internal.div_ceil(5)
    }

    #[test]
    fn the_overhead_covers_the_containers_of_one_record() {
        let map = per_element::<[u8; 32], Entry>();
        let index = per_element::<(u64, [u8; 32]), ()>();
        let usage = per_element::<Bytes, Usage>();
        // The header `Bytes` allocates when a buffer is first shared: its
        // pointer, capacity and reference count.
        let shared = 3 * size_of::<usize>();
        let total = map + index + usage + 4 * shared;
        eprintln!("map {map}, index {index}, usage {usage}, shared {shared}: {total}");
        assert!(total <= RECORD_OVERHEAD, "{total} > {RECORD_OVERHEAD}");
        assert!(RECORD_OVERHEAD - total < 64, "stated close to the need");
    }

    #[test]
    fn defaults_are_the_protocol_limits() {
        let l = Limits::default();
        assert_eq!((l.max_key(), l.max_value()), (1024, 65_536));
        assert_eq!((l.min_ttl(), l.max_ttl()), (60, 86_400));
        assert_eq!((l.max_records(), l.max_bytes()), (65_536, 256 << 20));
        assert_eq!(
            (l.max_records_per_peer(), l.max_bytes_per_peer()),
            (256, 4 << 20)
        );
    }
}

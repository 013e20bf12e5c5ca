//! The routing table (implements docs/design.md §13 / docs/PROTOCOL.md
//! §8.7): 256 k-buckets around the local address, least-recently-seen
//! eviction with a ping first, replacement caches, failure counting and
//! idle-bucket refresh.
//!
//! Like libp2p's `KBucketsTable`, the table does no IO: it asks the caller to
//! ping ([`InsertOutcome::Pending`]), takes the answer through
//! [`RoutingTable::ping_result`], and reports the changes it makes on its own
//! through a queue the caller drains ([`RoutingTable::poll_event`]).

use std::collections::VecDeque;
use std::time::Instant;

use shoutnet_crypto::{Address, Distance};

use crate::bucket::{KBucket, PendingPing};
use crate::config::KadConfig;

/// Number of buckets: one per bit of a 256-bit address (τ = 256).
const BUCKETS: usize = 256;

/// The most events the table queues before it drops new ones (and counts
/// them). One operation makes at most two events, so a caller draining after
/// each input never comes near it; the bound only stops a caller that never
/// drains from growing the queue without limit.
pub const EVENT_QUEUE_CAPACITY: usize = 1024;

/// What [`RoutingTable::insert_or_update`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InsertOutcome {
    /// The address was new and its bucket had room.
    Inserted,
    /// The address was known: its value was replaced and it became the
    /// bucket's most-recently-seen entry.
    Updated,
    /// The bucket is full and its least-recently-seen entry `ping` was not
    /// seen for [`KadConfig::stale_after`]. The candidate waits in the
    /// replacement cache and the caller must ping `ping`, then report the
    /// result through [`RoutingTable::ping_result`].
    Pending {
        /// The entry to ping.
        ping: Address,
    },
    /// The bucket is full and either already waits for a ping or has only
    /// entries seen within [`KadConfig::stale_after`]: the candidate waits
    /// in the replacement cache, and the caller has nothing to do.
    Queued,
    /// The address is the local one; it has no bucket.
    Ignored,
}

/// A change the table made on its own, drained with
/// [`RoutingTable::poll_event`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableEvent {
    /// An entry was evicted: its ping failed or timed out, or it failed
    /// [`KadConfig::set_max_failures`] requests in a row.
    Evicted {
        /// The evicted address.
        address: Address,
    },
    /// A replacement was promoted into a bucket.
    Inserted {
        /// The promoted address.
        address: Address,
    },
}

/// A Kademlia routing table keyed by [`Address`], holding a contact value `V`
/// for each entry.
///
/// Bucket `i` holds the addresses whose XOR distance to the local address is
/// in `[2^i, 2^(i+1))` ([`Distance::bucket_index`]). Every method that
/// depends on time takes `now`; the table reads no clock.
#[derive(Debug, Clone)]
pub struct RoutingTable<V> {
    local: Address,
    config: KadConfig,
    buckets: Vec<KBucket<V>>,
    events: VecDeque<TableEvent>,
    dropped_events: u64,
    dropped_replacements: u64,
    len: usize,
}

impl<V: Clone> RoutingTable<V> {
    /// An empty table around `local`; every bucket counts as active at `now`.
    pub fn new(local: Address, config: KadConfig, now: Instant) -> Self {
        Self {
            local,
            config,
            buckets: (0..BUCKETS).map(|_| KBucket::new(now)).collect(),
            events: VecDeque::new(),
            dropped_events: 0,
            dropped_replacements: 0,
            len: 0,
        }
    }

    /// The local address.
    pub fn local(&self) -> &Address {
        &self.local
    }

    /// The configuration.
    pub fn config(&self) -> &KadConfig {
        &self.config
    }

    /// The bucket `address` belongs in, `None` for the local address.
    pub fn bucket_index(&self, address: &Address) -> Option<u8> {
        self.local.distance(address).bucket_index()
    }

    fn bucket(&self, address: &Address) -> Option<&KBucket<V>> {
        self.buckets.get(usize::from(self.bucket_index(address)?))
    }

    fn bucket_mut(&mut self, address: &Address) -> Option<&mut KBucket<V>> {
        let index = usize::from(self.bucket_index(address)?);
        self.buckets.get_mut(index)
    }

    /// Records that `address` was seen alive with contact `value`.
    ///
    /// A known entry is updated and becomes most-recently-seen. A new one is
    /// inserted if its bucket has room; otherwise it goes to the replacement
    /// cache and, unless a ping is already pending for the bucket or the
    /// least-recently-seen entry was seen within
    /// [`KadConfig::stale_after`], the caller is asked to ping that entry.
    /// A pending ping older than [`KadConfig::ping_timeout`] counts as
    /// failed first.
    pub fn insert_or_update(&mut self, address: Address, value: V, now: Instant) -> InsertOutcome {
        let Some(index) = self.bucket_index(&address) else {
            return InsertOutcome::Ignored;
        };
        self.expire_ping(index, now);
        let k = self.config.bucket_size();
        let cap = self.config.replacement_cache;
        let Some(bucket) = self.buckets.get_mut(usize::from(index)) else {
            return InsertOutcome::Ignored;
        };
        bucket.last_activity = now;
        if let Some(position) = bucket.position(&address) {
            bucket.mark_seen(position, Some(value), now);
            return InsertOutcome::Updated;
        }
        if bucket.len() < k {
            bucket.push(address, value, now);
            self.len += 1;
            return InsertOutcome::Inserted;
        }
        if bucket.cache_replacement(address, value, cap) {
            self.dropped_replacements += 1;
        }
        if bucket.pending.is_some() {
            return InsertOutcome::Queued;
        }
        match bucket.least_recently_seen_at() {
            Some((&ping, seen))
                if now.saturating_duration_since(seen) >= self.config.stale_after =>
            {
                bucket.pending = Some(PendingPing {
                    address: ping,
                    deadline: now + self.config.ping_timeout,
                });
                InsertOutcome::Pending { ping }
            }
            // A good entry, or no entry at all (only with k = 0, which
            // `bucket_size` rules out).
            _ => InsertOutcome::Queued,
        }
    }

    /// Records that the entry `address` was seen alive, keeping its value:
    /// what [`insert_or_update`](Self::insert_or_update) does for a known
    /// entry, without building a new value. `false` (and nothing changed
    /// but an expired ping) if `address` is not an entry.
    pub fn mark_seen(&mut self, address: &Address, now: Instant) -> bool {
        let Some(index) = self.bucket_index(address) else {
            return false;
        };
        self.expire_ping(index, now);
        let Some(bucket) = self.buckets.get_mut(usize::from(index)) else {
            return false;
        };
        let Some(position) = bucket.position(address) else {
            return false;
        };
        bucket.last_activity = now;
        bucket.mark_seen(position, None, now);
        true
    }

    /// The result of a liveness ping of `address`.
    ///
    /// Alive: the entry becomes most-recently-seen, and the candidate that
    /// caused the ping stays in the replacement cache. Dead: the entry is
    /// evicted ([`TableEvent::Evicted`]) and the freshest replacement takes
    /// its place ([`TableEvent::Inserted`]). Unknown addresses are ignored.
    pub fn ping_result(&mut self, address: &Address, alive: bool, now: Instant) {
        let Some(bucket) = self.bucket_mut(address) else {
            return;
        };
        let Some(position) = bucket.position(address) else {
            return;
        };
        if bucket.pending.is_some_and(|p| p.address == *address) {
            bucket.pending = None;
        }
        if alive {
            bucket.mark_seen(position, None, now);
            bucket.last_activity = now;
        } else {
            self.evict(address, now);
        }
    }

    /// Counts a failed request to `address`. After
    /// [`KadConfig::set_max_failures`] consecutive failures (with no
    /// [`insert_or_update`](Self::insert_or_update) or successful ping in
    /// between) the entry is evicted and a replacement promoted.
    pub fn record_failure(&mut self, address: &Address, now: Instant) {
        let limit = self.config.failure_limit();
        let Some(entry) = self.bucket_mut(address).and_then(|b| b.get_mut(address)) else {
            return;
        };
        entry.failures = entry.failures.saturating_add(1);
        if entry.failures >= limit {
            self.evict(address, now);
        }
    }

    /// Removes `address` (entry or replacement candidate) at the caller's
    /// request, returning its value if it was an entry. The freshest
    /// replacement is promoted into the freed slot ([`TableEvent::Inserted`]);
    /// the removal itself makes no event.
    pub fn remove(&mut self, address: &Address, now: Instant) -> Option<V> {
        let k = self.config.bucket_size();
        let bucket = self.bucket_mut(address)?;
        bucket.remove_replacement(address);
        let entry = bucket.remove(address)?;
        let promoted = bucket.promote_replacement(k, now);
        self.len -= 1;
        if let Some(promoted) = promoted {
            self.len += 1;
            self.push_event(TableEvent::Inserted { address: promoted });
        }
        Some(entry.value)
    }

    /// Whether `address` is an entry (not merely a replacement candidate).
    pub fn contains(&self, address: &Address) -> bool {
        self.get(address).is_some()
    }

    /// The value of an entry.
    pub fn get(&self, address: &Address) -> Option<&V> {
        self.bucket(address)?.get(address).map(|e| &e.value)
    }

    /// Whether `address` waits in its bucket's replacement cache.
    pub fn is_replacement(&self, address: &Address) -> bool {
        self.bucket(address)
            .is_some_and(|b| b.has_replacement(address))
    }

    /// Number of entries (replacement candidates not counted).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the table has no entries.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of entries in bucket `index`.
    pub fn bucket_len(&self, index: u8) -> usize {
        self.buckets.get(usize::from(index)).map_or(0, KBucket::len)
    }

    /// Number of candidates in bucket `index`'s replacement cache.
    pub fn replacements_len(&self, index: u8) -> usize {
        self.buckets
            .get(usize::from(index))
            .map_or(0, KBucket::replacements_len)
    }

    /// The entries of bucket `index`, least-recently-seen first.
    pub fn bucket_entries(&self, index: u8) -> Vec<(Address, &V)> {
        self.buckets
            .get(usize::from(index))
            .map(|b| b.entries().iter().map(|e| (e.address, &e.value)).collect())
            .unwrap_or_default()
    }

    /// Every entry, bucket by bucket.
    pub fn iter(&self) -> impl Iterator<Item = (Address, &V)> {
        self.buckets
            .iter()
            .flat_map(|b| b.entries().iter().map(|e| (e.address, &e.value)))
    }

    /// The address bucket `index` waits to hear a ping result for.
    pub fn pending_ping(&self, index: u8) -> Option<Address> {
        self.buckets
            .get(usize::from(index))
            .and_then(|b| b.pending.map(|p| p.address))
    }

    /// Up to `n` entries closest to `target`, nearest first.
    ///
    /// XOR is unidirectional, so no two entries are at the same distance
    /// and the order is total. Buckets are visited in order of their
    /// distance range from `target`, so only the buckets needed are sorted.
    pub fn closest(&self, target: &Address, n: usize) -> Vec<(Address, &V)> {
        let mut out = Vec::with_capacity(n.min(self.len));
        if n == 0 {
            return out;
        }
        let d = self.local.distance(target);
        for index in bucket_order(&d) {
            let Some(bucket) = self.buckets.get(usize::from(index)) else {
                continue;
            };
            if bucket.len() == 0 {
                continue;
            }
            let mut entries: Vec<(Distance, Address, &V)> = bucket
                .entries()
                .iter()
                .map(|e| (target.distance(&e.address), e.address, &e.value))
                .collect();
            entries.sort_unstable_by_key(|a| a.0);
            let room = n - out.len();
            out.extend(entries.into_iter().take(room).map(|(_, a, v)| (a, v)));
            if out.len() >= n {
                break;
            }
        }
        out
    }

    /// Records activity in bucket `index` (a lookup of an address in it), so
    /// it does not need a refresh.
    pub fn touch_bucket(&mut self, index: u8, now: Instant) {
        if let Some(bucket) = self.buckets.get_mut(usize::from(index)) {
            bucket.last_activity = now;
        }
    }

    /// Every bucket from the one holding the closest known neighbour up to
    /// 255: the buckets the Kademlia paper refreshes when a node joins
    /// ("all buckets farther away than its closest neighbour", that
    /// neighbour's own bucket included). Closer buckets are empty and are
    /// covered by the lookup of the local address. Empty for an empty
    /// table: there is no one to ask.
    pub fn buckets_from_closest(&self) -> impl Iterator<Item = u8> + use<V> {
        let lowest = self
            .buckets
            .iter()
            .position(|b| b.len() > 0)
            .and_then(|i| u8::try_from(i).ok());
        lowest.into_iter().flat_map(|lowest| lowest..=u8::MAX)
    }

    /// The buckets to refresh: those of
    /// [`buckets_from_closest`](Self::buckets_from_closest) idle for at
    /// least [`KadConfig::refresh_interval`].
    ///
    /// Refresh bucket `i` by looking up
    /// [`random_address_in_bucket(i, seed)`](Self::random_address_in_bucket)
    /// and calling [`touch_bucket`](Self::touch_bucket).
    pub fn buckets_to_refresh(&self, now: Instant) -> Vec<u8> {
        self.buckets_from_closest()
            .filter(|&i| {
                self.buckets.get(usize::from(i)).is_some_and(|bucket| {
                    now.saturating_duration_since(bucket.last_activity)
                        >= self.config.refresh_interval
                })
            })
            .collect()
    }

    /// An address in bucket `index`, its free bits taken from `seed` (the
    /// caller's randomness; the table has none).
    pub fn random_address_in_bucket(&self, index: u8, seed: [u8; 32]) -> Address {
        random_address_in_bucket(&self.local, index, seed)
    }

    /// Expires every pending ping past its deadline, as if it failed.
    pub fn handle_timeout(&mut self, now: Instant) {
        for index in 0..=u8::MAX {
            self.expire_ping(index, now);
        }
    }

    /// The earliest pending-ping deadline, for the caller's timer.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.buckets
            .iter()
            .filter_map(|b| b.pending.map(|p| p.deadline))
            .min()
    }

    /// The next change the table made on its own.
    pub fn poll_event(&mut self) -> Option<TableEvent> {
        self.events.pop_front()
    }

    /// Events dropped because the queue held [`EVENT_QUEUE_CAPACITY`].
    pub fn dropped_events(&self) -> u64 {
        self.dropped_events
    }

    /// Replacement candidates dropped because a cache was full.
    pub fn dropped_replacements(&self) -> u64 {
        self.dropped_replacements
    }

    /// Fails bucket `index`'s pending ping if its deadline has passed.
    fn expire_ping(&mut self, index: u8, now: Instant) {
        let expired = self
            .buckets
            .get(usize::from(index))
            .and_then(|b| b.pending)
            .filter(|p| p.deadline <= now);
        if let Some(pending) = expired {
            self.evict(&pending.address, now);
        }
    }

    /// Evicts an entry the table found dead and promotes a replacement,
    /// which counts as seen at `now`.
    fn evict(&mut self, address: &Address, now: Instant) {
        let k = self.config.bucket_size();
        let Some(bucket) = self.bucket_mut(address) else {
            return;
        };
        if bucket.remove(address).is_none() {
            return;
        }
        let promoted = bucket.promote_replacement(k, now);
        self.len -= 1;
        self.push_event(TableEvent::Evicted { address: *address });
        if let Some(promoted) = promoted {
            self.len += 1;
            self.push_event(TableEvent::Inserted { address: promoted });
        }
    }

    fn push_event(&mut self, event: TableEvent) {
        if self.events.len() >= EVENT_QUEUE_CAPACITY {
            self.dropped_events += 1;
        } else {
            self.events.push_back(event);
        }
    }
}

/// An address in bucket `index` of `local`: the bits above `index` equal
/// `local`'s, bit `index` differs, and the lower bits come from `seed`.
pub fn random_address_in_bucket(local: &Address, index: u8, seed: [u8; 32]) -> Address {
    let top = 31 - usize::from(index / 8);
    let bit = index % 8;
    let mut d = [0u8; 32];
    for (i, (out, s)) in d.iter_mut().zip(seed).enumerate() {
        *out = match i.cmp(&top) {
            std::cmp::Ordering::Less => 0,
            std::cmp::Ordering::Equal => (s & ((1u8 << bit) - 1)) | (1u8 << bit),
            std::cmp::Ordering::Greater => s,
        };
    }
    local.at_distance(&Distance(d))
}

/// The buckets in order of their distance range from a target at distance
/// `d` from the local address.
///
/// An entry in bucket `i` is at distance `d ^ e` from the target, where `e`
/// (its distance from us) has top bit `i`: the bits above `i` are `d`'s, bit
/// `i` is the inverse of `d`'s. So buckets where `d` has bit `i` set come
/// first, highest `i` first (each keeps more of `d`'s top bits cleared);
/// then those where it is clear, lowest `i` first.
fn bucket_order(d: &Distance) -> impl Iterator<Item = u8> + '_ {
    let bit_set = |i: u8| {
        let byte = d.0.get(31 - usize::from(i / 8)).copied().unwrap_or(0);
        byte & (1 << (i % 8)) != 0
    };
    let set = (0..=u8::MAX).rev().filter(move |&i| bit_set(i));
    let clear = (0..=u8::MAX).filter(move |&i| !bit_set(i));
    set.chain(clear)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const LOCAL: Address = Address([0; 32]);

    /// The one real instant of these tests; everything after it is `t0 + d`.
    #[allow(clippy::disallowed_methods)] // Tests only; the crate never reads a clock.
    fn t0() -> Instant {
        Instant::now()
    }

    /// The `n`th test address in bucket `index` of [`LOCAL`].
    fn in_bucket(index: u8, n: u8) -> Address {
        random_address_in_bucket(&LOCAL, index, [n; 32])
    }

    /// k = 3, a cache of 2, and every newcomer to a full bucket pings.
    fn small() -> KadConfig {
        KadConfig {
            k: 3,
            replacement_cache: 2,
            stale_after: Duration::ZERO,
            ..KadConfig::default()
        }
    }

    /// A table whose bucket 200 holds `in_bucket(200, 1..=3)`, 1 the least
    /// recently seen.
    fn full_bucket(now: Instant) -> RoutingTable<u8> {
        let mut t = RoutingTable::new(LOCAL, small(), now);
        for n in 1..=3 {
            assert_eq!(
                t.insert_or_update(in_bucket(200, n), n, now),
                InsertOutcome::Inserted
            );
        }
        t
    }

    fn events(t: &mut RoutingTable<u8>) -> Vec<TableEvent> {
        std::iter::from_fn(|| t.poll_event()).collect()
    }

    fn order(t: &RoutingTable<u8>, index: u8) -> Vec<Address> {
        t.bucket_entries(index)
            .into_iter()
            .map(|(a, _)| a)
            .collect()
    }

    #[test]
    fn insert_outcomes() {
        let now = t0();
        let check = |ops: &[(Address, InsertOutcome)]| {
            let mut t = full_bucket(now);
            for (i, (addr, expected)) in ops.iter().enumerate() {
                assert_eq!(t.insert_or_update(*addr, 9, now), *expected, "op {i}");
            }
            t
        };
        check(&[(LOCAL, InsertOutcome::Ignored)]);
        check(&[(in_bucket(200, 2), InsertOutcome::Updated)]);
        check(&[(in_bucket(199, 1), InsertOutcome::Inserted)]);
        let t = check(&[
            (
                in_bucket(200, 4),
                InsertOutcome::Pending {
                    ping: in_bucket(200, 1),
                },
            ),
            // One liveness check per bucket at a time.
            (in_bucket(200, 5), InsertOutcome::Queued),
            (in_bucket(200, 4), InsertOutcome::Queued),
        ]);
        assert_eq!(t.bucket_len(200), 3);
        assert_eq!(t.replacements_len(200), 2);
        assert!(t.is_replacement(&in_bucket(200, 4)));
        assert!(!t.contains(&in_bucket(200, 4)));
        assert_eq!(t.pending_ping(200), Some(in_bucket(200, 1)));
        assert_eq!(t.len(), 3);
    }

    #[test]
    fn mark_seen_keeps_the_value_and_answers_a_pending_ping() {
        let now = t0();
        let mut t = full_bucket(now);
        let InsertOutcome::Pending { ping } = t.insert_or_update(in_bucket(200, 4), 4, now) else {
            panic!("bucket is full");
        };
        assert!(t.mark_seen(&ping, now));
        assert_eq!(t.pending_ping(200), None);
        assert_eq!(order(&t, 200), [2, 3, 1].map(|n| in_bucket(200, n)));
        assert_eq!(t.get(&ping), Some(&1));
        assert!(
            !t.mark_seen(&in_bucket(200, 4), now),
            "a replacement, not an entry"
        );
        assert!(!t.mark_seen(&LOCAL, now));
    }

    #[test]
    fn update_moves_to_most_recent_and_replaces_the_value() {
        let now = t0();
        let mut t = full_bucket(now);
        t.insert_or_update(in_bucket(200, 1), 42, now);
        assert_eq!(order(&t, 200), [2, 3, 1].map(|n| in_bucket(200, n)));
        assert_eq!(t.get(&in_bucket(200, 1)), Some(&42));
    }

    #[test]
    fn ping_alive_keeps_the_entry_and_the_candidate_waits() {
        let now = t0();
        let mut t = full_bucket(now);
        let candidate = in_bucket(200, 4);
        let InsertOutcome::Pending { ping } = t.insert_or_update(candidate, 4, now) else {
            panic!("bucket is full");
        };
        t.ping_result(&ping, true, now);
        assert_eq!(order(&t, 200), [2, 3, 1].map(|n| in_bucket(200, n)));
        assert!(t.is_replacement(&candidate));
        assert_eq!(t.pending_ping(200), None);
        assert!(events(&mut t).is_empty());
        // The next candidate asks about the new least-recently-seen entry.
        assert_eq!(
            t.insert_or_update(in_bucket(200, 5), 5, now),
            InsertOutcome::Pending {
                ping: in_bucket(200, 2)
            }
        );
    }

    #[test]
    fn ping_dead_evicts_and_promotes_the_freshest_replacement() {
        let now = t0();
        let mut t = full_bucket(now);
        let InsertOutcome::Pending { ping } = t.insert_or_update(in_bucket(200, 4), 4, now) else {
            panic!("bucket is full");
        };
        t.insert_or_update(in_bucket(200, 5), 5, now);
        t.ping_result(&ping, false, now);
        assert_eq!(
            events(&mut t),
            [
                TableEvent::Evicted { address: ping },
                TableEvent::Inserted {
                    address: in_bucket(200, 5)
                },
            ]
        );
        assert_eq!(order(&t, 200), [2, 3, 5].map(|n| in_bucket(200, n)));
        assert!(t.is_replacement(&in_bucket(200, 4)));
        assert_eq!(t.len(), 3);
    }

    #[test]
    fn an_unanswered_ping_times_out_as_dead() {
        let now = t0();
        let mut t = full_bucket(now);
        let InsertOutcome::Pending { ping } = t.insert_or_update(in_bucket(200, 4), 4, now) else {
            panic!("bucket is full");
        };
        let deadline = now + t.config().ping_timeout;
        assert_eq!(t.poll_timeout(), Some(deadline));
        t.handle_timeout(deadline - Duration::from_millis(1));
        assert!(t.contains(&ping));
        t.handle_timeout(deadline);
        assert!(!t.contains(&ping));
        assert!(t.contains(&in_bucket(200, 4)));
        assert_eq!(t.poll_timeout(), None);
        assert_eq!(events(&mut t).len(), 2);
    }

    #[test]
    fn record_failure_evicts_after_max_failures() {
        let now = t0();
        let mut t = full_bucket(now);
        t.insert_or_update(in_bucket(200, 4), 4, now);
        let victim = in_bucket(200, 3);
        t.record_failure(&victim, now);
        t.record_failure(&victim, now);
        // Seen alive in between: the count starts again.
        t.insert_or_update(victim, 3, now);
        t.record_failure(&victim, now);
        t.record_failure(&victim, now);
        assert!(t.contains(&victim));
        t.record_failure(&victim, now);
        assert!(!t.contains(&victim));
        assert_eq!(
            events(&mut t),
            [
                TableEvent::Evicted { address: victim },
                TableEvent::Inserted {
                    address: in_bucket(200, 4)
                },
            ]
        );
        // Unknown addresses are ignored.
        t.record_failure(&in_bucket(10, 1), now);
        t.ping_result(&in_bucket(10, 1), false, now);
        assert!(events(&mut t).is_empty());
    }

    #[test]
    fn remove_promotes_without_an_eviction_event() {
        let now = t0();
        let mut t = full_bucket(now);
        let InsertOutcome::Pending { ping } = t.insert_or_update(in_bucket(200, 4), 4, now) else {
            panic!("bucket is full");
        };
        assert_eq!(t.remove(&ping, now), Some(1));
        assert_eq!(t.pending_ping(200), None, "the pinged entry is gone");
        assert_eq!(
            events(&mut t),
            [TableEvent::Inserted {
                address: in_bucket(200, 4)
            }]
        );
        assert_eq!(t.remove(&ping, now), None);
        assert_eq!(t.len(), 3);
    }

    #[test]
    fn good_entries_are_not_pinged_to_make_room() {
        let now = t0();
        let config = KadConfig {
            stale_after: Duration::from_secs(60),
            ..small()
        };
        let mut t = RoutingTable::new(LOCAL, config, now);
        for n in 1..=3 {
            t.insert_or_update(in_bucket(200, n), n, now);
        }
        let soon = now + Duration::from_secs(59);
        assert_eq!(
            t.insert_or_update(in_bucket(200, 4), 4, soon),
            InsertOutcome::Queued,
            "every entry was seen within a minute"
        );
        assert_eq!(t.pending_ping(200), None);
        assert!(t.is_replacement(&in_bucket(200, 4)));
        // Entry 1 goes stale; 2 and 3 were seen again meanwhile.
        let later = now + Duration::from_secs(61);
        t.insert_or_update(in_bucket(200, 2), 2, soon);
        t.insert_or_update(in_bucket(200, 3), 3, soon);
        assert_eq!(
            t.insert_or_update(in_bucket(200, 5), 5, later),
            InsertOutcome::Pending {
                ping: in_bucket(200, 1)
            }
        );
        // A ping answered makes it good again.
        t.ping_result(&in_bucket(200, 1), true, later);
        assert_eq!(
            t.insert_or_update(in_bucket(200, 6), 6, later),
            InsertOutcome::Queued
        );
    }

    #[test]
    fn closest_with_fewer_than_n_returns_all_sorted() {
        let now = t0();
        let mut t = RoutingTable::new(LOCAL, KadConfig::default(), now);
        let addrs = [
            in_bucket(255, 1),
            in_bucket(3, 2),
            in_bucket(100, 3),
            in_bucket(255, 4),
        ];
        for a in addrs {
            t.insert_or_update(a, 0u8, now);
        }
        let target = in_bucket(255, 9);
        let got: Vec<_> = t.closest(&target, 10).into_iter().map(|(a, _)| a).collect();
        let mut want = addrs.to_vec();
        want.sort_by_key(|a| target.distance(a));
        assert_eq!(got, want);
        assert_eq!(t.closest(&target, 2).len(), 2);
        assert!(t.closest(&target, 0).is_empty());
    }

    #[test]
    fn buckets_to_refresh_respects_the_interval() {
        let now = t0();
        let hour = KadConfig::default().refresh_interval;
        let mut t = RoutingTable::new(LOCAL, KadConfig::default(), now);
        assert!(
            t.buckets_to_refresh(now + 2 * hour).is_empty(),
            "empty table"
        );
        assert_eq!(t.buckets_from_closest().count(), 0);
        t.insert_or_update(in_bucket(250, 1), 0u8, now);
        t.insert_or_update(in_bucket(252, 1), 0u8, now + hour / 2);
        assert!(t.buckets_to_refresh(now + hour / 2).is_empty());
        assert!(t.buckets_from_closest().eq(250..=255));
        // An hour on, everything from bucket 250 up is idle except 252.
        let due = t.buckets_to_refresh(now + hour);
        assert_eq!(due, [250, 251, 253, 254, 255]);
        t.touch_bucket(251, now + hour);
        assert_eq!(t.buckets_to_refresh(now + hour), [250, 253, 254, 255]);
        assert_eq!(t.buckets_to_refresh(now + 2 * hour).len(), 6);
    }

    #[test]
    fn random_address_in_bucket_lands_in_that_bucket() {
        let local = Address::of_dht_key(b"local");
        for index in 0..=u8::MAX {
            for seed in [[0u8; 32], [0xff; 32], [0x5a; 32]] {
                let a = random_address_in_bucket(&local, index, seed);
                assert_eq!(local.distance(&a).bucket_index(), Some(index));
            }
        }
    }

    #[test]
    fn bucket_order_visits_every_bucket_once() {
        for d in [[0u8; 32], [0xff; 32], [0x0f; 32]] {
            let mut seen: Vec<_> = bucket_order(&Distance(d)).collect();
            assert_eq!(seen.len(), 256);
            seen.sort_unstable();
            seen.dedup();
            assert_eq!(seen.len(), 256);
        }
    }
}

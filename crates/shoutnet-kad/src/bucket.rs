//! One k-bucket (implements docs/design.md §13 / docs/PROTOCOL.md §8.7): at
//! most k entries ordered least-recently-seen first, a bounded replacement
//! cache and at most one pending liveness ping.

use std::time::Instant;

use shoutnet_crypto::Address;

/// A routing table entry.
#[derive(Debug, Clone)]
pub(crate) struct Entry<V> {
    pub(crate) address: Address,
    pub(crate) value: V,
    /// Consecutive failed requests since the entry was last seen alive.
    pub(crate) failures: u32,
    /// When it was last seen alive (inserted, updated, or answered a ping).
    pub(crate) last_seen: Instant,
}

/// The liveness check of a full bucket's least-recently-seen entry.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PendingPing {
    pub(crate) address: Address,
    pub(crate) deadline: Instant,
}

/// A k-bucket.
#[derive(Debug, Clone)]
pub(crate) struct KBucket<V> {
    /// Least-recently-seen first, most-recently-seen last; never more than k.
    entries: Vec<Entry<V>>,
    /// Candidates for a dying entry's place, oldest first, freshest last;
    /// never more than the configured cache size.
    replacements: Vec<(Address, V)>,
    /// The one liveness ping this bucket waits for, if any.
    pub(crate) pending: Option<PendingPing>,
    /// The last insert, update or lookup touching this bucket.
    pub(crate) last_activity: Instant,
}

impl<V> KBucket<V> {
    pub(crate) fn new(now: Instant) -> Self {
        Self {
            entries: Vec::new(),
            replacements: Vec::new(),
            pending: None,
            last_activity: now,
        }
    }

    pub(crate) fn entries(&self) -> &[Entry<V>] {
        &self.entries
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(crate) fn replacements_len(&self) -> usize {
        self.replacements.len()
    }

    pub(crate) fn position(&self, address: &Address) -> Option<usize> {
        self.entries.iter().position(|e| e.address == *address)
    }

    pub(crate) fn get(&self, address: &Address) -> Option<&Entry<V>> {
        self.entries.iter().find(|e| e.address == *address)
    }

    pub(crate) fn get_mut(&mut self, address: &Address) -> Option<&mut Entry<V>> {
        self.entries.iter_mut().find(|e| e.address == *address)
    }

    /// The least-recently-seen entry, with when it was seen.
    pub(crate) fn least_recently_seen_at(&self) -> Option<(&Address, Instant)> {
        self.entries.first().map(|e| (&e.address, e.last_seen))
    }

    /// Moves the entry at `index` to the most-recently-seen end, seen at
    /// `now`, optionally replacing its value, and clears its failure count.
    /// Being seen alive answers a pending ping of it.
    pub(crate) fn mark_seen(&mut self, index: usize, value: Option<V>, now: Instant) {
        if index < self.entries.len() {
            let mut entry = self.entries.remove(index);
            if self.pending.is_some_and(|p| p.address == entry.address) {
                self.pending = None;
            }
            if let Some(value) = value {
                entry.value = value;
            }
            entry.failures = 0;
            entry.last_seen = now;
            self.entries.push(entry);
        }
    }

    /// Appends a new most-recently-seen entry, seen at `now`. The caller
    /// checks there is room and that the address is not already present.
    pub(crate) fn push(&mut self, address: Address, value: V, now: Instant) {
        self.replacements.retain(|(a, _)| *a != address);
        self.entries.push(Entry {
            address,
            value,
            failures: 0,
            last_seen: now,
        });
    }

    /// Removes an entry, clearing the pending ping if it was for this entry.
    pub(crate) fn remove(&mut self, address: &Address) -> Option<Entry<V>> {
        let index = self.position(address)?;
        if self.pending.is_some_and(|p| p.address == *address) {
            self.pending = None;
        }
        Some(self.entries.remove(index))
    }

    /// Adds or refreshes a candidate as the freshest in the replacement
    /// cache, dropping the oldest one when the cache is full. Returns
    /// whether a candidate was dropped.
    pub(crate) fn cache_replacement(&mut self, address: Address, value: V, cap: usize) -> bool {
        self.replacements.retain(|(a, _)| *a != address);
        if cap == 0 {
            return true;
        }
        let mut dropped = false;
        while self.replacements.len() >= cap {
            self.replacements.remove(0);
            dropped = true;
        }
        self.replacements.push((address, value));
        dropped
    }

    /// Removes a candidate from the replacement cache.
    pub(crate) fn remove_replacement(&mut self, address: &Address) {
        self.replacements.retain(|(a, _)| a != address);
    }

    /// Whether `address` waits in the replacement cache.
    pub(crate) fn has_replacement(&self, address: &Address) -> bool {
        self.replacements.iter().any(|(a, _)| a == address)
    }

    /// Moves the freshest replacement into the bucket if there is room,
    /// returning its address. It counts as seen at `now`.
    pub(crate) fn promote_replacement(&mut self, k: usize, now: Instant) -> Option<Address> {
        if self.entries.len() >= k {
            return None;
        }
        let (address, value) = self.replacements.pop()?;
        self.push(address, value, now);
        Some(address)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(n: u8) -> Address {
        Address([n; 32])
    }

    /// The one real instant the tests read: the bucket only stores it.
    #[allow(clippy::disallowed_methods)] // Tests only; the crate never reads a clock.
    fn t0() -> Instant {
        Instant::now()
    }

    #[test]
    fn mark_seen_moves_to_the_back_and_clears_failures() {
        let now = t0();
        let mut b = KBucket::new(now);
        for n in 1..=3 {
            b.push(addr(n), n, now);
        }
        if let Some(e) = b.get_mut(&addr(1)) {
            e.failures = 2;
        }
        let later = now + std::time::Duration::from_secs(1);
        b.mark_seen(0, Some(10), later);
        assert_eq!(b.least_recently_seen_at(), Some((&addr(2), now)));
        let order: Vec<_> = b
            .entries()
            .iter()
            .map(|e| (e.address, e.value, e.failures))
            .collect();
        assert_eq!(order, [(addr(2), 2, 0), (addr(3), 3, 0), (addr(1), 10, 0)]);
    }

    #[test]
    fn replacement_cache_is_bounded_and_keeps_the_freshest() {
        let now = t0();
        let mut b = KBucket::<u8>::new(now);
        let dropped: Vec<_> = (1..=4)
            .map(|n| b.cache_replacement(addr(n), n, 2))
            .collect();
        assert_eq!(dropped, [false, false, true, true]);
        assert_eq!(b.replacements_len(), 2);
        // Re-caching an existing candidate refreshes it without dropping.
        assert!(!b.cache_replacement(addr(3), 3, 2));
        assert_eq!(b.promote_replacement(1, now), Some(addr(3)));
        assert_eq!(b.promote_replacement(1, now), None, "the bucket is full");
        assert!(b.has_replacement(&addr(4)));
    }
}

//! The records this node published itself (docs/PROTOCOL.md §8.7), which
//! it must republish before the nodes holding them let them expire
//! (Kademlia §2.5).
//!
//! Each publication is republished every
//! [`Publications::interval`]`(ttl)`: when three quarters of its TTL have
//! passed, or after an hour, whichever comes first. Three quarters leaves
//! a quarter of the TTL (at least 15 s) for the lookup and the `STORE`s;
//! the hour keeps a record alive where holders clamped a longer TTL to
//! their maximum (24 h by default, [`Limits::DEFAULT_MAX_TTL`]) and puts it
//! back on nodes that joined near its address since, where re-replication
//! missed them.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;

use crate::{Limits, StoreError, address_of};

/// A record this node publishes: what every republish sends again.
///
/// ```
/// use shoutnet_dht::{Publication, address_of};
/// let p = Publication::new("key", &b"\xa1v"[..], 1, 3600)?;
/// assert_eq!(p.address(), &address_of(b"key"));
/// # Ok::<(), shoutnet_dht::StoreError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Publication {
    address: [u8; 32],
    key: Bytes,
    value: Bytes,
    version: u64,
    ttl: u64,
}

impl Publication {
    /// A publication of `key` and the encoded `value` at `version` with
    /// time to live `ttl` seconds. Refused if peers would refuse it with
    /// the default [`Limits`]: a key or value over the protocol's size
    /// limits, or a TTL under the default minimum.
    pub fn new(
        key: impl Into<Bytes>,
        value: impl Into<Bytes>,
        version: u64,
        ttl: u64,
    ) -> Result<Self, StoreError> {
        let (key, value) = (key.into(), value.into());
        if key.len() > Limits::DEFAULT_MAX_KEY {
            return Err(StoreError::KeyTooLarge {
                len: key.len(),
                max: Limits::DEFAULT_MAX_KEY,
            });
        }
        if value.len() > Limits::DEFAULT_MAX_VALUE {
            return Err(StoreError::ValueTooLarge {
                len: value.len(),
                max: Limits::DEFAULT_MAX_VALUE,
            });
        }
        if ttl < Limits::DEFAULT_MIN_TTL {
            return Err(StoreError::TtlTooShort {
                ttl,
                min: Limits::DEFAULT_MIN_TTL,
            });
        }
        Ok(Self {
            address: address_of(&key),
            key,
            value,
            version,
            ttl,
        })
    }

    /// The record's address, SHA-256 of its key.
    pub fn address(&self) -> &[u8; 32] {
        &self.address
    }

    /// The key.
    pub fn key(&self) -> &Bytes {
        &self.key
    }

    /// The value's encoding.
    pub fn value(&self) -> &Bytes {
        &self.value
    }

    /// The version.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The time to live each `STORE` asks for, in seconds.
    pub fn ttl(&self) -> u64 {
        self.ttl
    }
}

/// The publications of this node, by address, with when each is due for
/// republishing; at most a fixed number.
///
/// ```
/// use shoutnet_dht::{Publication, Publications};
///
/// let mut pubs = Publications::new(Publications::DEFAULT_MAX);
/// let p = Publication::new("key", &b"\xa1v"[..], 1, 600)?;
/// // The engine sends the first STOREs itself, then:
/// assert_eq!(pubs.publish(p.clone(), 1000)?, 1000 + 450, "at 3/4 of the TTL");
/// assert_eq!(pubs.next_due(), Some(1450));
/// assert!(pubs.due(1449).is_empty());
/// assert_eq!(pubs.due(1450), [p]);
/// assert_eq!(pubs.next_due(), Some(1450 + 450), "rescheduled");
/// # Ok::<(), shoutnet_dht::StoreError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Publications {
    max: usize,
    /// Each publication and when it is due.
    entries: BTreeMap<[u8; 32], (Publication, u64)>,
    /// `(due, address)` of every publication.
    by_due: BTreeSet<(u64, [u8; 32])>,
}

impl Publications {
    /// Publications held by default, 256: a node cannot usefully publish
    /// more than one peer's quota
    /// ([`Limits::DEFAULT_MAX_RECORDS_PER_PEER`]) when every node is among
    /// the k closest to every key (a network of k nodes or fewer). At most
    /// 256 × (1 KiB + 64 KiB) of keys and values, about 17 MB.
    pub const DEFAULT_MAX: usize = 256;
    /// The longest time between two republishes, one hour.
    pub const MAX_INTERVAL: u64 = 60 * 60;

    /// No publications, holding at most `max`.
    pub fn new(max: usize) -> Self {
        Self {
            max,
            entries: BTreeMap::new(),
            by_due: BTreeSet::new(),
        }
    }

    /// Seconds between two republishes of a record with time to live
    /// `ttl`: three quarters of it, at most [`MAX_INTERVAL`](Self::MAX_INTERVAL),
    /// at least 1.
    pub fn interval(ttl: u64) -> u64 {
        (ttl - ttl / 4).clamp(1, Self::MAX_INTERVAL)
    }

    /// Adds `publication` (or replaces the one at its address, which the
    /// bound does not count twice), published at `now`; returns when it
    /// is first due for republishing. The engine sends the first `STORE`s.
    pub fn publish(&mut self, publication: Publication, now: u64) -> Result<u64, StoreError> {
        let address = *publication.address();
        if let Some((_, due)) = self.entries.remove(&address) {
            self.by_due.remove(&(due, address));
        } else if self.entries.len() >= self.max {
            return Err(StoreError::TooManyPublications { max: self.max });
        }
        let due = now.saturating_add(Self::interval(publication.ttl()));
        self.by_due.insert((due, address));
        self.entries.insert(address, (publication, due));
        Ok(due)
    }

    /// The publications due at `now`, each rescheduled one interval from
    /// `now`: the engine republishes them (a lookup of the address and a
    /// `STORE` to the k closest). At most the bound of them.
    pub fn due(&mut self, now: u64) -> Vec<Publication> {
        let mut due = Vec::new();
        while let Some(&(at, address)) = self.by_due.first() {
            if at > now {
                break;
            }
            self.by_due.pop_first();
            if let Some((publication, next)) = self.entries.get_mut(&address) {
                *next = now.saturating_add(Self::interval(publication.ttl()));
                due.push(publication.clone());
            }
        }
        for p in &due {
            if let Some((_, next)) = self.entries.get(p.address()) {
                self.by_due.insert((*next, *p.address()));
            }
        }
        due
    }

    /// When the next publication is due: the time for the engine's timer.
    pub fn next_due(&self) -> Option<u64> {
        self.by_due.first().map(|&(at, _)| at)
    }

    /// Stops republishing the record at `address`; returns it if it was
    /// published. Its copies expire at the end of their TTL.
    pub fn forget(&mut self, address: &[u8; 32]) -> Option<Publication> {
        let (publication, due) = self.entries.remove(address)?;
        self.by_due.remove(&(due, *address));
        Some(publication)
    }

    /// The publication at `address`.
    pub fn get(&self, address: &[u8; 32]) -> Option<&Publication> {
        self.entries.get(address).map(|(p, _)| p)
    }

    /// The most publications held.
    pub fn max(&self) -> usize {
        self.max
    }

    /// Publications held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether none is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl Default for Publications {
    /// No publications, holding at most [`DEFAULT_MAX`](Self::DEFAULT_MAX).
    fn default() -> Self {
        Self::new(Self::DEFAULT_MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_interval_is_three_quarters_of_the_ttl_at_most_an_hour() {
        assert_eq!(Publications::interval(60), 45);
        assert_eq!(Publications::interval(4000), 3000);
        assert_eq!(Publications::interval(4800), 3600);
        assert_eq!(Publications::interval(86_400), 3600);
        assert_eq!(Publications::interval(u64::MAX), 3600);
        assert_eq!(Publications::interval(0), 1, "never a busy loop");
    }

    #[test]
    fn the_default_holds_the_default_maximum() {
        assert_eq!(Publications::default().max(), Publications::DEFAULT_MAX);
    }

    #[test]
    fn the_index_holds_exactly_one_entry_per_publication() {
        let mut pubs = Publications::new(4);
        for (i, ttl) in [60, 600, 6000].into_iter().enumerate() {
            let p = Publication::new(vec![i as u8], &b"\xc0"[..], 0, ttl).unwrap();
            pubs.publish(p, 0).unwrap();
        }
        for now in [45, 100, 450, 3600, 3700, 10_000] {
            pubs.due(now);
            assert_eq!(pubs.by_due.len(), pubs.entries.len());
            for (a, (_, due)) in &pubs.entries {
                assert!(pubs.by_due.contains(&(*due, *a)) && *due > now);
            }
        }
    }
}

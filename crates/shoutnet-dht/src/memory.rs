//! The in-memory record store (docs/PROTOCOL.md §8.7, §11): records by
//! address, an index by expiry time so that expiring costs only what
//! expires, and per-peer usage kept up to date on every change.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;

use crate::{Limits, Meta, PutOutcome, Record, RecordStore, StoreError, Usage, check_address};

/// A stored record and the peer it is charged to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    record: Record,
    owner: Bytes,
}

impl Entry {
    fn charge(&self) -> usize {
        self.record.charge(&self.owner)
    }
}

/// [`RecordStore`] in memory.
///
/// ```
/// use shoutnet_dht::{MemoryStore, PutOutcome, Record, RecordStore, StoreError, address_of};
///
/// let mut store = MemoryStore::default();
/// let a = address_of(b"greeting");
/// let v1 = Record::new("greeting", &b"\xa5hello"[..], 1, 3600, vec![9; 32]);
/// assert_eq!(store.put(a, v1.clone(), b"peer", 100), Ok(PutOutcome::Created));
/// assert_eq!(store.put(a, v1, b"peer", 200), Ok(PutOutcome::Refreshed));
///
/// let stale = Record::new("greeting", &b"\xa3bye"[..], 0, 3600, vec![9; 32]);
/// assert!(matches!(
///     store.put(a, stale, b"peer", 300),
///     Err(StoreError::Conflict { current }) if current.version == 1
/// ));
/// assert_eq!(store.get(&a, 300).map(|r| r.meta.stored_at), Some(200));
/// assert_eq!(store.get(&a, 200 + 3600), None, "expired");
/// assert_eq!(store.expire(200 + 3600), 1);
/// assert!(store.is_empty() && store.usage_of(b"peer").records == 0);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemoryStore {
    limits: Limits,
    records: BTreeMap<[u8; 32], Entry>,
    /// `(expires_at, address)` of every record.
    by_expiry: BTreeSet<(u64, [u8; 32])>,
    /// Usage by peer key field; a peer holding nothing has no entry.
    usage: BTreeMap<Bytes, Usage>,
    total: Usage,
}

impl MemoryStore {
    /// An empty store enforcing `limits`.
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            ..Self::default()
        }
    }

    /// Every record held with the key field of the peer it is charged to,
    /// by address, expired ones not yet dropped included.
    pub fn entries(&self) -> impl Iterator<Item = (&[u8; 32], &Record, &[u8])> {
        self.records
            .iter()
            .map(|(a, e)| (a, &e.record, e.owner.as_ref()))
    }

    /// Checks sizes, address and TTL: what needs no stored state.
    fn check(&self, address: &[u8; 32], record: &Record) -> Result<(), StoreError> {
        let (key, value) = (record.key.len(), record.value.len());
        if key > self.limits.max_key() {
            return Err(StoreError::KeyTooLarge {
                len: key,
                max: self.limits.max_key(),
            });
        }
        if value > self.limits.max_value() {
            return Err(StoreError::ValueTooLarge {
                len: value,
                max: self.limits.max_value(),
            });
        }
        check_address(address, &record.key)?;
        if record.meta.ttl < self.limits.min_ttl() {
            return Err(StoreError::TtlTooShort {
                ttl: record.meta.ttl,
                min: self.limits.min_ttl(),
            });
        }
        Ok(())
    }

    /// The version rule against the live record at the address, if any.
    fn version_rule(current: Option<&Record>, new: &Record) -> Result<PutOutcome, StoreError> {
        let Some(current) = current else {
            return Ok(PutOutcome::Created);
        };
        let conflict = || StoreError::Conflict {
            current: current.meta.clone(),
        };
        match new.meta.version.cmp(&current.meta.version) {
            Ordering::Less => Err(conflict()),
            Ordering::Equal if new.value == current.value => Ok(PutOutcome::Refreshed),
            Ordering::Equal => Err(conflict()),
            Ordering::Greater => Ok(PutOutcome::Replaced {
                previous_version: current.meta.version,
            }),
        }
    }

    /// Checks that replacing `old` (if any) by a record charged `charge`
    /// to `peer` stays within the peer's quota and the global caps.
    fn check_room(
        &self,
        old: Option<&Entry>,
        peer: &[u8],
        charge: usize,
    ) -> Result<(), StoreError> {
        let held = self.usage_of(peer);
        let (mut records, mut bytes) = (held.records, held.bytes);
        if let Some(old) = old.filter(|old| old.owner == peer) {
            records = records.saturating_sub(1);
            bytes = bytes.saturating_sub(old.charge());
        }
        if records.saturating_add(1) > self.limits.max_records_per_peer()
            || bytes.saturating_add(charge) > self.limits.max_bytes_per_peer()
        {
            return Err(StoreError::QuotaExceeded {
                records: held.records,
                bytes: held.bytes,
            });
        }
        let (mut records, mut bytes) = (self.total.records, self.total.bytes);
        if let Some(old) = old {
            records = records.saturating_sub(1);
            bytes = bytes.saturating_sub(old.charge());
        }
        if records.saturating_add(1) > self.limits.max_records()
            || bytes.saturating_add(charge) > self.limits.max_bytes()
        {
            return Err(StoreError::StoreFull {
                records: self.total.records,
                bytes: self.total.bytes,
            });
        }
        Ok(())
    }

    /// Adds (or with `add` false, takes away) `entry` from the usage of
    /// its owner and the totals.
    fn account(&mut self, entry: &Entry, add: bool) {
        let charge = entry.charge();
        let apply = |u: &mut Usage| {
            if add {
                u.records = u.records.saturating_add(1);
                u.bytes = u.bytes.saturating_add(charge);
            } else {
                u.records = u.records.saturating_sub(1);
                u.bytes = u.bytes.saturating_sub(charge);
            }
        };
        apply(&mut self.total);
        let usage = self.usage.entry(entry.owner.clone()).or_default();
        apply(usage);
        if usage.records == 0 {
            self.usage.remove(&entry.owner);
        }
    }

    /// Takes the record at `address` out of the map, the index and the
    /// accounting.
    fn take(&mut self, address: &[u8; 32]) -> Option<Entry> {
        let entry = self.records.remove(address)?;
        self.by_expiry
            .remove(&(entry.record.meta.expires_at(), *address));
        self.account(&entry, false);
        Some(entry)
    }

    /// The owner's key field as a shared buffer: the one the usage map
    /// holds if the peer holds anything, else a copy.
    fn owner_key(&self, peer: &[u8]) -> Bytes {
        match self.usage.get_key_value(peer) {
            Some((key, _)) => key.clone(),
            None => Bytes::copy_from_slice(peer),
        }
    }
}

impl RecordStore for MemoryStore {
    fn limits(&self) -> &Limits {
        &self.limits
    }

    fn get(&self, address: &[u8; 32], now: u64) -> Option<Record> {
        let entry = self.records.get(address)?;
        (now < entry.record.meta.expires_at()).then(|| entry.record.clone())
    }

    fn put(
        &mut self,
        address: [u8; 32],
        record: Record,
        from_peer: &[u8],
        now: u64,
    ) -> Result<PutOutcome, StoreError> {
        self.check(&address, &record)?;
        let old = self.records.get(&address);
        let live = old.map(|e| &e.record).filter(|r| now < r.meta.expires_at());
        let outcome = Self::version_rule(live, &record)?;
        let ttl = record.meta.ttl.min(self.limits.max_ttl());
        let kept = match (outcome, live) {
            // A refresh keeps the stored bytes and renews the time.
            (PutOutcome::Refreshed, Some(live)) => Record {
                meta: Meta {
                    ttl,
                    stored_at: now,
                    ..live.meta.clone()
                },
                ..live.clone()
            },
            _ => Record {
                key: Bytes::copy_from_slice(&record.key),
                value: Bytes::copy_from_slice(&record.value),
                meta: Meta {
                    version: record.meta.version,
                    ttl,
                    stored_at: now,
                    publisher: Bytes::copy_from_slice(&record.meta.publisher),
                },
            },
        };
        self.check_room(old, from_peer, kept.charge(from_peer))?;

        // Every check passed: commit.
        self.take(&address);
        let entry = Entry {
            record: kept,
            owner: self.owner_key(from_peer),
        };
        self.account(&entry, true);
        self.by_expiry
            .insert((entry.record.meta.expires_at(), address));
        self.records.insert(address, entry);
        Ok(outcome)
    }

    fn remove(&mut self, address: &[u8; 32]) -> Option<Record> {
        self.take(address).map(|e| e.record)
    }

    fn expire(&mut self, now: u64) -> usize {
        let mut dropped = 0;
        while let Some(&(at, address)) = self.by_expiry.first() {
            if at > now {
                break;
            }
            self.take(&address);
            dropped += 1;
        }
        dropped
    }

    fn next_expiry(&self) -> Option<u64> {
        self.by_expiry.first().map(|&(at, _)| at)
    }

    fn len(&self) -> usize {
        self.records.len()
    }

    fn bytes(&self) -> usize {
        self.total.bytes
    }

    fn usage_of(&self, peer: &[u8]) -> Usage {
        self.usage.get(peer).copied().unwrap_or_default()
    }

    fn addresses_from(&self, start: &[u8; 32]) -> Box<dyn Iterator<Item = [u8; 32]> + '_> {
        Box::new(self.records.range(*start..).map(|(a, _)| *a))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::address_of;

    fn rec(key: &str, value: &str, version: u64) -> Record {
        Record::new(key.to_owned(), value.to_owned(), version, 600, vec![1; 32])
    }

    #[test]
    fn the_record_kept_is_a_copy_with_the_store_time_and_clamped_ttl() {
        let mut s = MemoryStore::default();
        let body = Bytes::from(vec![b'x'; 4096]);
        let mut r = rec("k", "", 0);
        r.value = body.slice(10..20);
        r.meta.ttl = u64::MAX;
        r.meta.stored_at = 12345;
        s.put(address_of(b"k"), r, b"p", 7).unwrap();
        let kept = s.get(&address_of(b"k"), 7).unwrap();
        assert_eq!(kept.value, body.slice(10..20));
        assert_ne!(kept.value.as_ptr(), body.slice(10..20).as_ptr(), "copied");
        assert_eq!(kept.meta.stored_at, 7);
        assert_eq!(kept.meta.ttl, Limits::DEFAULT_MAX_TTL);
    }

    #[test]
    fn a_refresh_keeps_the_stored_bytes() {
        let mut s = MemoryStore::default();
        let a = address_of(b"k");
        s.put(a, rec("k", "v", 1), b"p", 0).unwrap();
        let first = s.get(&a, 0).unwrap();
        assert_eq!(
            s.put(a, rec("k", "v", 1), b"q", 5),
            Ok(PutOutcome::Refreshed)
        );
        let now = s.get(&a, 5).unwrap();
        assert_eq!(now.value.as_ptr(), first.value.as_ptr());
        assert_eq!(s.usage_of(b"q").records, 1, "charged to the refresher");
        assert_eq!(s.usage_of(b"p").records, 0);
    }

    #[test]
    fn a_peer_holding_nothing_leaves_no_usage_entry() {
        let mut s = MemoryStore::default();
        let a = address_of(b"k");
        s.put(a, rec("k", "v", 1), b"p", 0).unwrap();
        s.remove(&a);
        assert!(s.usage.is_empty() && s.by_expiry.is_empty());
        assert_eq!((s.total, s.len()), (Usage::default(), 0));
    }

    #[test]
    fn an_expired_record_is_no_obstacle_to_a_lower_version() {
        let mut s = MemoryStore::default();
        let a = address_of(b"k");
        s.put(a, rec("k", "v", 5), b"p", 0).unwrap();
        assert_eq!(
            s.put(a, rec("k", "w", 1), b"q", 600),
            Ok(PutOutcome::Created)
        );
        assert_eq!(s.usage_of(b"p"), Usage::default(), "released");
        assert_eq!(s.next_expiry(), Some(1200));
        assert_eq!(s.by_expiry.len(), 1);
    }
}

//! The DHT records of one node (docs/PROTOCOL.md §8.7, §9.8): the store of
//! what peers asked it to keep, the records it published itself, and the
//! mapping between the engine's monotonic time and the Unix seconds of DHT
//! metadata. The rules (sizes, versions, quotas, expiry) are
//! `shoutnet_dht`'s; this part turns `STORE` and `FIND_VALUE` into calls to
//! it and its answers into wire metadata and `NACK` codes.

use std::time::{Duration, Instant};

use bytes::Bytes;
use shoutnet_dht::{
    Limits, MemoryStore, Meta, Publication, Publications, RecordStore, Replication, StoreError,
    address_of,
};
use shoutnet_wire::{Metadata, NackCode, Store, Value, ValueLimits};

use crate::event::CommandError;

/// How the node answers a `STORE`.
#[derive(Debug)]
pub(crate) enum StoreAnswer {
    /// Stored (created, refreshed or replaced): `ACK STORE` with this.
    Stored(Metadata),
    /// Refused: `NACK` with this code and reason, and for `CONFLICT` the
    /// current record's metadata as detail.
    Refused {
        code: NackCode,
        reason: &'static str,
        current: Option<Metadata>,
    },
}

/// The node's records and publications.
#[derive(Debug)]
pub(crate) struct Records {
    store: MemoryStore,
    publications: Publications,
    /// The engine's `now` at creation, and the Unix time it stands for.
    started: Instant,
    unix_at_start: u64,
}

/// A record's metadata on the wire: no lock (locks come with CASPaxos).
pub(crate) fn wire_metadata(meta: &Meta) -> Metadata {
    Metadata {
        version: meta.version,
        ttl: meta.ttl,
        stored_at: meta.stored_at,
        publisher: meta.publisher.clone(),
        lock: None,
    }
}

impl Records {
    pub(crate) fn new(limits: Limits, unix_at_start: u64, now: Instant) -> Self {
        Self {
            store: MemoryStore::new(limits),
            publications: Publications::default(),
            started: now,
            unix_at_start,
        }
    }

    /// Unix seconds at `now`.
    pub(crate) fn unix(&self, now: Instant) -> u64 {
        let elapsed = now.saturating_duration_since(self.started).as_secs();
        self.unix_at_start.saturating_add(elapsed)
    }

    /// The engine time of Unix second `at` (never before creation).
    fn instant(&self, at: u64) -> Instant {
        let secs = at.saturating_sub(self.unix_at_start);
        // Capped like every engine duration, so the sum cannot overflow.
        self.started + Duration::from_secs(secs.min(u64::from(u32::MAX)))
    }

    /// Serves a `STORE` from the peer whose key field is `from`.
    pub(crate) fn store(&mut self, from: &[u8], store: &Store, now: Instant) -> StoreAnswer {
        let refuse = |code, reason| StoreAnswer::Refused {
            code,
            reason,
            current: None,
        };
        let Ok(value) = store.value.encode() else {
            return refuse(
                NackCode::TooLarge,
                "value cannot be re-encoded within limits",
            );
        };
        let limits = self.store.limits();
        let ttl = store.ttl.unwrap_or(limits.max_ttl());
        let mut record = shoutnet_dht::Record::new(
            store.key.clone(),
            value,
            store.version.unwrap_or(0),
            ttl,
            Bytes::copy_from_slice(from),
        );
        record.meta.stored_at = self.unix(now);
        let address = store.address;
        match self.store.put(address, record, from, self.unix(now)) {
            Ok(_) => match self.store.get(&address, self.unix(now)) {
                Some(stored) => StoreAnswer::Stored(wire_metadata(&stored.meta)),
                None => refuse(NackCode::Internal, "stored record is gone"),
            },
            Err(e) => match e {
                StoreError::Conflict { current } => StoreAnswer::Refused {
                    code: NackCode::Conflict,
                    reason: "a record of a higher version, or of this version with another value",
                    current: Some(wire_metadata(&current)),
                },
                StoreError::AddressMismatch { .. } => {
                    refuse(NackCode::Malformed, "address is not SHA-256 of the key")
                }
                StoreError::KeyTooLarge { .. } => refuse(NackCode::TooLarge, "key too large"),
                StoreError::ValueTooLarge { .. } => refuse(NackCode::TooLarge, "value too large"),
                StoreError::TtlTooShort { .. } => refuse(NackCode::Malformed, "ttl too short"),
                StoreError::QuotaExceeded { .. } => {
                    refuse(NackCode::RateLimited, "over this peer's storage quota")
                }
                StoreError::StoreFull { .. } => refuse(NackCode::Internal, "store full"),
                _ => refuse(NackCode::Internal, "not stored"),
            },
        }
    }

    /// The live record under `key` at `address`, as a value and wire
    /// metadata; `Err` if the address is not SHA-256 of the key.
    pub(crate) fn find(
        &self,
        address: &[u8; 32],
        key: &[u8],
        now: Instant,
    ) -> Result<Option<(Value, Metadata)>, ()> {
        if address_of(key) != *address {
            return Err(());
        }
        let Some(record) = self.store.get(address, self.unix(now)) else {
            return Ok(None);
        };
        // Stored values were encoded by this node from a decoded value, so
        // they decode; one that does not is treated as absent.
        let limits = ValueLimits::default();
        Ok(Value::decode(&record.value, &limits)
            .ok()
            .map(|value| (value, wire_metadata(&record.meta))))
    }

    /// Drops expired records; returns when the next one expires.
    pub(crate) fn expire(&mut self, now: Instant) -> Option<Instant> {
        self.store.expire(self.unix(now));
        self.next_expiry()
    }

    /// When the next record expires.
    pub(crate) fn next_expiry(&self) -> Option<Instant> {
        self.store.next_expiry().map(|at| self.instant(at))
    }

    /// Records this node's own publication of `value` under `key`, and
    /// stores it locally. `version` defaults to one more than the last
    /// published under `key`, `ttl` to the longest holders keep.
    pub(crate) fn publish(
        &mut self,
        key: Bytes,
        value: &Value,
        version: Option<u64>,
        ttl: Option<u64>,
        now: Instant,
    ) -> Result<Publication, CommandError> {
        let limits = self.store.limits().clone();
        if key.len() > limits.max_key() {
            return Err(CommandError::KeyTooLarge {
                len: key.len(),
                max: limits.max_key(),
            });
        }
        let bytes = value.encode().map_err(|_| CommandError::Unencodable)?;
        let address = address_of(&key);
        let version = version.unwrap_or_else(|| {
            self.publications
                .get(&address)
                .map_or(0, |p| p.version().saturating_add(1))
        });
        let ttl = ttl.unwrap_or(limits.max_ttl()).min(limits.max_ttl());
        let publication = Publication::new(key, bytes, version, ttl).map_err(|e| match e {
            StoreError::ValueTooLarge { len, max } => CommandError::ValueTooLarge { len, max },
            StoreError::KeyTooLarge { len, max } => CommandError::KeyTooLarge { len, max },
            StoreError::TtlTooShort { ttl, min } => CommandError::TtlTooShort { ttl, min },
            _ => CommandError::Unencodable,
        })?;
        self.publications
            .publish(publication.clone(), self.unix(now))
            .map_err(|_| CommandError::TooManyPublications)?;
        Ok(publication)
    }

    /// Stores this node's own `publication` in its store, charged to its
    /// own key `local` (it is one of the k closest to the address).
    pub(crate) fn keep_own(&mut self, local: &[u8], publication: &Publication, now: Instant) {
        let mut record = shoutnet_dht::Record::new(
            publication.key().clone(),
            publication.value().clone(),
            publication.version(),
            publication.ttl(),
            Bytes::copy_from_slice(local),
        );
        record.meta.stored_at = self.unix(now);
        // A conflict or a full store leaves the copies on other nodes.
        let _ = self
            .store
            .put(*publication.address(), record, local, self.unix(now));
    }

    /// Publications due for their republish now.
    pub(crate) fn due(&mut self, now: Instant) -> Vec<Publication> {
        self.publications.due(self.unix(now))
    }

    /// When the next republish is due.
    pub(crate) fn next_due(&self) -> Option<Instant> {
        self.publications.next_due().map(|at| self.instant(at))
    }

    /// `STORE`s of the records a newly seen node should hold
    /// (`shoutnet_dht::Replication`): those this node is the closest it
    /// knows to, and of whose k closest the newcomer is one. `known(a, n)`
    /// is the distance from `a` to the n-th closest node of the routing
    /// table, neither this node nor the newcomer counted. The TTL sent is
    /// what is left of the record's.
    pub(crate) fn for_newcomer(
        &self,
        local: [u8; 32],
        newcomer: [u8; 32],
        k: usize,
        known: impl Fn(&[u8; 32], usize) -> Option<[u8; 32]>,
        now: Instant,
    ) -> Vec<Store> {
        let unix = self.unix(now);
        let mut replication = Replication::new(local);
        replication.set_k(k);
        replication
            .for_newcomer(&self.store, &newcomer, &known, unix)
            .into_iter()
            .filter_map(|address| {
                let record = self.store.get(&address, unix)?;
                let value = Value::decode(&record.value, &ValueLimits::default()).ok()?;
                Some(Store {
                    request_id: 0,
                    address,
                    key: record.key,
                    value,
                    version: Some(record.meta.version),
                    ttl: Some(record.meta.expires_at().saturating_sub(unix)),
                })
            })
            .collect()
    }

    /// Records held.
    pub(crate) fn len(&self) -> usize {
        self.store.len()
    }
}

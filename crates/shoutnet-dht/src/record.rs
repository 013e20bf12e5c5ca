//! A record as one node stores it (docs/PROTOCOL.md §8, `metadata`;
//! §8.7, `STORE`), and what a put reports.

use bytes::Bytes;

/// A record's metadata (docs/PROTOCOL.md §8, `metadata`, without the
/// `lock`, which comes with CASPaxos).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Meta {
    /// The record's version: a put never replaces a higher one.
    pub version: u64,
    /// Time to live in seconds, from `stored_at`.
    pub ttl: u64,
    /// When this node stored the record, Unix time in seconds. The store
    /// sets it; what a put passes in is ignored.
    pub stored_at: u64,
    /// The publisher's key field.
    pub publisher: Bytes,
}

impl Meta {
    /// The Unix time at which the record expires: `stored_at + ttl`
    /// (saturating). A record is expired at `now >= expires_at()`.
    pub fn expires_at(&self) -> u64 {
        self.stored_at.saturating_add(self.ttl)
    }
}

/// A record: a key, its value and metadata.
///
/// ```
/// use shoutnet_dht::Record;
/// let r = Record::new("key", "value", 3, 3600, [7u8; 32].to_vec());
/// assert_eq!((r.meta.version, r.meta.ttl, r.meta.stored_at), (3, 3600, 0));
/// assert_eq!(r.meta.expires_at(), 3600);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// The key (at most [`Limits::max_key`](crate::Limits::max_key) bytes;
    /// an empty key is allowed, as docs/PROTOCOL.md §8.7 allows it).
    pub key: Bytes,
    /// The value's msgpack encoding as received (docs/PROTOCOL.md §8.7),
    /// opaque to this crate; at most
    /// [`Limits::max_value`](crate::Limits::max_value) bytes.
    pub value: Bytes,
    /// Its metadata.
    pub meta: Meta,
}

impl Record {
    /// A record to put, with `stored_at` 0 (the store sets it).
    pub fn new(
        key: impl Into<Bytes>,
        value: impl Into<Bytes>,
        version: u64,
        ttl: u64,
        publisher: impl Into<Bytes>,
    ) -> Self {
        Self {
            key: key.into(),
            value: value.into(),
            meta: Meta {
                version,
                ttl,
                stored_at: 0,
                publisher: publisher.into(),
            },
        }
    }
}

/// What an accepted put did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PutOutcome {
    /// No live record was at the address; this one is stored.
    Created,
    /// The same version and value were stored: the record's `stored_at`
    /// and `ttl` were renewed (a republish).
    Refreshed,
    /// A lower version was stored and is replaced.
    Replaced {
        /// The version replaced.
        previous_version: u64,
    },
}

/// Records held and bytes charged, by the whole store or on behalf of one
/// peer. Bytes are as [`RECORD_OVERHEAD`](crate::RECORD_OVERHEAD) says.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    /// Records.
    pub records: usize,
    /// Bytes charged.
    pub bytes: usize,
}

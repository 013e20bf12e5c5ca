//! Kademlia parameters (implements DESIGN R10 / docs/PROTOCOL.md §8.7):
//! k, α, the per-request and ping timeouts, the replacement cache and the
//! bucket refresh interval.

use std::time::Duration;

/// k: the bucket size and the number of closest nodes a lookup returns
/// (DESIGN R10, as in the Kademlia paper and libp2p's `K_VALUE`).
pub const DEFAULT_K: usize = 20;

/// α: requests a lookup keeps in flight at once (DESIGN R10, the Kademlia
/// paper's concurrency parameter).
pub const DEFAULT_ALPHA: usize = 3;

/// How long a lookup waits for one FIND_NODE / FIND_VALUE answer before it
/// counts the peer as unresponsive: 10 s, libp2p kad's request timeout.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// How long the table waits for the result of a liveness ping before it
/// counts the least-recently-seen entry as dead: 10 s, the same as a request.
pub const DEFAULT_PING_TIMEOUT: Duration = Duration::from_secs(10);

/// A bucket without lookups or new contacts for this long is refreshed by a
/// lookup of a random address in it: 1 hour, the Kademlia paper's `tRefresh`.
pub const DEFAULT_REFRESH_INTERVAL: Duration = Duration::from_secs(60 * 60);

/// An entry seen alive this recently is "good" (BEP 5's term) and is
/// never pinged to make room: a newcomer to its full bucket just waits in
/// the replacement cache. 15 minutes, BEP 5's window. Older entries are
/// pinged first, as the Kademlia paper does for every entry.
pub const DEFAULT_STALE_AFTER: Duration = Duration::from_secs(15 * 60);

/// Consecutive request failures after which an entry is evicted: 3, so one
/// lost packet does not evict a live node but a crashed one goes quickly.
pub const DEFAULT_MAX_FAILURES: u32 = 3;

/// A lookup keeps at most `k` times this many candidates; farther,
/// uncontacted ones are dropped. 8 leaves room for every answer of the first
/// rounds (α answers of k peers each) without letting a lookup grow without
/// bound.
pub const CANDIDATES_PER_K: usize = 8;

/// Parameters of a [`RoutingTable`](crate::RoutingTable) and a
/// [`Lookup`](crate::Lookup).
///
/// `k` and `alpha` are used as at least 1: a zero would make the table
/// useless and lookups finish at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KadConfig {
    /// Bucket size and lookup result size ([`DEFAULT_K`]).
    pub k: usize,
    /// Requests in flight per lookup ([`DEFAULT_ALPHA`]).
    pub alpha: usize,
    /// Per-request timeout of a lookup ([`DEFAULT_REQUEST_TIMEOUT`]).
    pub request_timeout: Duration,
    /// Candidates each bucket keeps for when an entry dies (default `k`).
    pub replacement_cache: usize,
    /// Idle time after which a bucket needs a refresh
    /// ([`DEFAULT_REFRESH_INTERVAL`]).
    pub refresh_interval: Duration,
    /// Time the caller has to report a liveness ping
    /// ([`DEFAULT_PING_TIMEOUT`]).
    pub ping_timeout: Duration,
    /// Consecutive failures that evict an entry ([`DEFAULT_MAX_FAILURES`]).
    pub max_failures: u32,
    /// How long an entry stays good without news of it
    /// ([`DEFAULT_STALE_AFTER`]); zero pings on every newcomer.
    pub stale_after: Duration,
}

impl Default for KadConfig {
    fn default() -> Self {
        Self {
            k: DEFAULT_K,
            alpha: DEFAULT_ALPHA,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            replacement_cache: DEFAULT_K,
            refresh_interval: DEFAULT_REFRESH_INTERVAL,
            ping_timeout: DEFAULT_PING_TIMEOUT,
            max_failures: DEFAULT_MAX_FAILURES,
            stale_after: DEFAULT_STALE_AFTER,
        }
    }
}

impl KadConfig {
    /// `k`, at least 1.
    pub fn bucket_size(&self) -> usize {
        self.k.max(1)
    }

    /// `alpha`, at least 1.
    pub fn parallelism(&self) -> usize {
        self.alpha.max(1)
    }

    /// `max_failures`, at least 1.
    pub fn failure_limit(&self) -> u32 {
        self.max_failures.max(1)
    }

    /// The most candidates a lookup keeps: `k ·` [`CANDIDATES_PER_K`].
    pub fn max_candidates(&self) -> usize {
        self.bucket_size().saturating_mul(CANDIDATES_PER_K)
    }
}

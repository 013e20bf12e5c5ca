//! Kademlia parameters (implements docs/design.md §13 / docs/PROTOCOL.md
//! §8.7): k, α, the per-request and ping timeouts, the replacement cache and
//! the bucket refresh interval.

use std::time::Duration;

/// Parameters of a [`RoutingTable`](crate::RoutingTable) and a
/// [`Lookup`](crate::Lookup).
///
/// `#[non_exhaustive]` with private fields, setters and getters (as
/// libp2p-kad's `Config`), so that parameters can be added without breaking
/// anyone. `k` and `alpha` are used as at least 1: a zero would make the
/// table useless and lookups finish at once.
///
/// ```
/// use std::time::Duration;
/// use shoutnet_kad::KadConfig;
///
/// let mut config = KadConfig::default();
/// config.set_k(8).set_request_timeout(Duration::from_secs(5));
/// assert_eq!(config.bucket_size(), 8);
/// assert_eq!(config.parallelism(), KadConfig::DEFAULT_ALPHA);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct KadConfig {
    pub(crate) k: usize,
    pub(crate) alpha: usize,
    pub(crate) request_timeout: Duration,
    pub(crate) replacement_cache: usize,
    pub(crate) refresh_interval: Duration,
    pub(crate) ping_timeout: Duration,
    pub(crate) max_failures: u32,
    pub(crate) stale_after: Duration,
}

impl Default for KadConfig {
    fn default() -> Self {
        Self {
            k: Self::DEFAULT_K,
            alpha: Self::DEFAULT_ALPHA,
            request_timeout: Self::DEFAULT_REQUEST_TIMEOUT,
            replacement_cache: Self::DEFAULT_K,
            refresh_interval: Self::DEFAULT_REFRESH_INTERVAL,
            ping_timeout: Self::DEFAULT_PING_TIMEOUT,
            max_failures: Self::DEFAULT_MAX_FAILURES,
            stale_after: Self::DEFAULT_STALE_AFTER,
        }
    }
}

impl KadConfig {
    /// k: the bucket size and the number of closest nodes a lookup returns
    /// (docs/design.md §13, as in the Kademlia paper and libp2p's `K_VALUE`).
    pub const DEFAULT_K: usize = 20;

    /// α: requests a lookup keeps in flight at once (docs/design.md §13, the
    /// Kademlia paper's concurrency parameter).
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

    /// Bucket size and lookup result size ([`DEFAULT_K`](Self::DEFAULT_K)).
    pub fn set_k(&mut self, k: usize) -> &mut Self {
        self.k = k;
        self
    }

    /// Requests in flight per lookup ([`DEFAULT_ALPHA`](Self::DEFAULT_ALPHA)).
    pub fn set_alpha(&mut self, alpha: usize) -> &mut Self {
        self.alpha = alpha;
        self
    }

    /// Per-request timeout of a lookup
    /// ([`DEFAULT_REQUEST_TIMEOUT`](Self::DEFAULT_REQUEST_TIMEOUT)).
    pub fn set_request_timeout(&mut self, timeout: Duration) -> &mut Self {
        self.request_timeout = timeout;
        self
    }

    /// Candidates each bucket keeps for when an entry dies (default `k`).
    pub fn set_replacement_cache(&mut self, len: usize) -> &mut Self {
        self.replacement_cache = len;
        self
    }

    /// Idle time after which a bucket needs a refresh
    /// ([`DEFAULT_REFRESH_INTERVAL`](Self::DEFAULT_REFRESH_INTERVAL)).
    pub fn set_refresh_interval(&mut self, interval: Duration) -> &mut Self {
        self.refresh_interval = interval;
        self
    }

    /// Time the caller has to report a liveness ping
    /// ([`DEFAULT_PING_TIMEOUT`](Self::DEFAULT_PING_TIMEOUT)).
    pub fn set_ping_timeout(&mut self, timeout: Duration) -> &mut Self {
        self.ping_timeout = timeout;
        self
    }

    /// Consecutive failures that evict an entry
    /// ([`DEFAULT_MAX_FAILURES`](Self::DEFAULT_MAX_FAILURES)).
    pub fn set_max_failures(&mut self, failures: u32) -> &mut Self {
        self.max_failures = failures;
        self
    }

    /// How long an entry stays good without news of it
    /// ([`DEFAULT_STALE_AFTER`](Self::DEFAULT_STALE_AFTER)); zero pings on
    /// every newcomer.
    pub fn set_stale_after(&mut self, after: Duration) -> &mut Self {
        self.stale_after = after;
        self
    }

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

    /// The most candidates a lookup keeps: `k ·`
    /// [`CANDIDATES_PER_K`](Self::CANDIDATES_PER_K).
    pub fn max_candidates(&self) -> usize {
        self.bucket_size().saturating_mul(Self::CANDIDATES_PER_K)
    }

    /// See [`set_request_timeout`](Self::set_request_timeout).
    pub fn request_timeout(&self) -> Duration {
        self.request_timeout
    }

    /// See [`set_replacement_cache`](Self::set_replacement_cache).
    pub fn replacement_cache(&self) -> usize {
        self.replacement_cache
    }

    /// See [`set_refresh_interval`](Self::set_refresh_interval).
    pub fn refresh_interval(&self) -> Duration {
        self.refresh_interval
    }

    /// See [`set_ping_timeout`](Self::set_ping_timeout).
    pub fn ping_timeout(&self) -> Duration {
        self.ping_timeout
    }

    /// See [`set_stale_after`](Self::set_stale_after).
    pub fn stale_after(&self) -> Duration {
        self.stale_after
    }

    /// The configuration with every duration capped at `max`, so that
    /// `now + duration` cannot overflow for a caller that caps its clock's
    /// reach the same way.
    pub fn capped(mut self, max: Duration) -> Self {
        for d in [
            &mut self.request_timeout,
            &mut self.refresh_interval,
            &mut self.ping_timeout,
        ] {
            *d = (*d).min(max);
        }
        self
    }
}

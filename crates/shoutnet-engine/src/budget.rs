//! Budgets (docs/PROTOCOL.md §11): token buckets that bound what a peer
//! can make this node do per second — requests served per class, refusals
//! sent, bytes decompressed, handshakes accepted.
//!
//! Pure: each bucket refills from the `now` it is given, never from a
//! clock.

use std::time::Instant;

/// One token, in the bucket's fixed-point unit (a millionth of a token),
/// so refills of a fraction of a token are not lost.
const UNIT: u64 = 1_000_000;

/// A rate: `per_second` tokens a second, at most `burst` saved up.
///
/// ```
/// use shoutnet_engine::Rate;
/// let r = Rate::new(20, 100);
/// assert_eq!((r.per_second(), r.burst()), (20, 100));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    per_second: u64,
    burst: u64,
}

impl Rate {
    /// `per_second` tokens a second, up to `burst` at once (at least 1).
    pub const fn new(per_second: u64, burst: u64) -> Self {
        let burst = if burst == 0 { 1 } else { burst };
        Self { per_second, burst }
    }

    /// Tokens added per second.
    pub fn per_second(&self) -> u64 {
        self.per_second
    }

    /// The most tokens saved up.
    pub fn burst(&self) -> u64 {
        self.burst
    }
}

/// A token bucket, full when made.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Bucket {
    rate: Rate,
    /// Tokens held, in millionths.
    level: u64,
    /// When `level` was last brought up to date.
    at: Instant,
}

impl Bucket {
    pub(crate) fn new(rate: Rate, now: Instant) -> Self {
        Self {
            rate,
            level: rate.burst.saturating_mul(UNIT),
            at: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.at);
        if elapsed.is_zero() {
            return;
        }
        self.at = now;
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        // micros · per_second tokens·µs/s = that many millionths of a token.
        let added = micros.saturating_mul(self.rate.per_second);
        self.level = self
            .level
            .saturating_add(added)
            .min(self.rate.burst.saturating_mul(UNIT));
    }

    /// Takes `n` tokens if the bucket holds them at `now`.
    pub(crate) fn take(&mut self, n: u64, now: Instant) -> bool {
        self.refill(now);
        let cost = n.saturating_mul(UNIT);
        if self.level >= cost {
            self.level -= cost;
            true
        } else {
            false
        }
    }

    /// The whole tokens held at `now`.
    pub(crate) fn available(&mut self, now: Instant) -> u64 {
        self.refill(now);
        self.level / UNIT
    }

    /// How long until `n` tokens are held, from `now` (zero if they are).
    #[cfg(test)]
    pub(crate) fn wait_for(&mut self, n: u64, now: Instant) -> std::time::Duration {
        use std::time::Duration;
        self.refill(now);
        let missing = n.saturating_mul(UNIT).saturating_sub(self.level);
        match self.rate.per_second {
            0 if missing > 0 => Duration::MAX,
            0 => Duration::ZERO,
            rate => Duration::from_micros(missing.div_ceil(rate)),
        }
    }
}

/// The rates of the requests one connection may make, by class, and of
/// the refusals it may cause before it is closed (docs/PROTOCOL.md §11).
///
/// ```
/// use shoutnet_engine::{Rate, RequestRates};
/// let mut rates = RequestRates::default();
/// rates.lookup = Rate::new(5, 20);
/// assert_eq!(rates.ping, RequestRates::default().ping);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RequestRates {
    /// Keepalive `PING`s: 2 a second, bursts of 10. An honest peer pings
    /// once per quiet keepalive interval (30 s).
    pub ping: Rate,
    /// `FIND_NODE` and `FIND_VALUE`: 20 a second, bursts of 100. An honest
    /// lookup asks a peer once; even a node bootstrapping while it runs
    /// many lookups asks one peer a handful of times a second. Each answer
    /// is up to 20 node infos (about 1.5 KB with `ed25519`), so this bounds
    /// what one connection can make the node send to about 30 KB/s.
    pub lookup: Rate,
    /// `SET_CONNECTION_OPT`: 1 a second, bursts of 8.
    pub option: Rate,
    /// `NACK`s the connection may cause (malformed, unsupported, over a
    /// budget): 10 a second, bursts of 50. Past it the connection is
    /// closed, so refusals cannot be an amplifier either.
    pub refusals: Rate,
    /// Bytes of compressed transmissions the connection may decompress:
    /// 8 MiB a second, bursts of 64 MiB (one `max_decompressed`). With the
    /// default methods (`none` and `snappy`, at most 9.2 ns per output
    /// byte, crates/shoutnet-compress/README.md) that is under 8% of a
    /// core; a transmission that would go past it closes the connection.
    pub decompressed_bytes: Rate,
}

impl Default for RequestRates {
    fn default() -> Self {
        Self {
            ping: Rate::new(2, 10),
            lookup: Rate::new(20, 100),
            option: Rate::new(1, 8),
            refusals: Rate::new(10, 50),
            decompressed_bytes: Rate::new(8 << 20, 64 << 20),
        }
    }
}

/// A class of requests with its own budget.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Class {
    /// Keepalive `PING`.
    Ping,
    /// `FIND_NODE`, `FIND_VALUE`.
    Lookup,
    /// `SET_CONNECTION_OPT`.
    Option,
}

impl Class {
    /// Its name, for `NACK RATE_LIMITED` reasons.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Ping => "PING",
            Self::Lookup => "FIND_NODE/FIND_VALUE",
            Self::Option => "SET_CONNECTION_OPT",
        }
    }
}

/// One connection's budgets.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Budgets {
    ping: Bucket,
    lookup: Bucket,
    option: Bucket,
    refusals: Bucket,
}

impl Budgets {
    pub(crate) fn new(rates: &RequestRates, now: Instant) -> Self {
        Self {
            ping: Bucket::new(rates.ping, now),
            lookup: Bucket::new(rates.lookup, now),
            option: Bucket::new(rates.option, now),
            refusals: Bucket::new(rates.refusals, now),
        }
    }

    /// Whether a request of `class` is within its budget at `now` (and
    /// spends it).
    pub(crate) fn allow(&mut self, class: Class, now: Instant) -> bool {
        let bucket = match class {
            Class::Ping => &mut self.ping,
            Class::Lookup => &mut self.lookup,
            Class::Option => &mut self.option,
        };
        bucket.take(1, now)
    }

    /// Whether one more refusal is within budget at `now` (and spends it).
    pub(crate) fn allow_refusal(&mut self, now: Instant) -> bool {
        self.refusals.take(1, now)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_its_rate() {
        #[allow(clippy::disallowed_methods)] // A fixed epoch for the test.
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut b = Bucket::new(Rate::new(10, 3), t0);
        // (time, tokens asked, granted)
        let steps = [
            (0, 1, true),
            (0, 1, true),
            (0, 1, true),
            (0, 1, false),  // burst spent
            (50, 1, false), // half a token
            (100, 1, true), // 10/s: one per 100 ms
            (100, 1, false),
            (10_000, 5, false), // never more than the burst
            (10_000, 3, true),
        ];
        for (at, n, granted) in steps {
            assert_eq!(b.take(n, t0 + ms(at)), granted, "{n} at {at} ms");
        }
        assert_eq!(b.wait_for(1, t0 + ms(10_000)), ms(100));
        assert_eq!(b.available(t0 + ms(10_300)), 3);
    }

    #[test]
    fn each_class_has_its_own_budget() {
        #[allow(clippy::disallowed_methods)] // A fixed epoch for the test.
        let t0 = Instant::now();
        let rates = RequestRates {
            ping: Rate::new(1, 1),
            lookup: Rate::new(1, 2),
            option: Rate::new(1, 1),
            refusals: Rate::new(1, 1),
            decompressed_bytes: Rate::new(1, 1),
        };
        let mut b = Budgets::new(&rates, t0);
        assert!(b.allow(Class::Lookup, t0) && b.allow(Class::Lookup, t0));
        assert!(!b.allow(Class::Lookup, t0), "lookups spent");
        assert!(b.allow(Class::Ping, t0), "pings are counted apart");
        assert!(b.allow(Class::Option, t0));
        assert!(b.allow_refusal(t0) && !b.allow_refusal(t0));
        assert!(b.allow(Class::Lookup, t0 + Duration::from_secs(1)));
    }

    #[test]
    fn time_going_backwards_or_zero_rates_do_not_break_it() {
        #[allow(clippy::disallowed_methods)] // A fixed epoch for the test.
        let t0 = Instant::now();
        let mut b = Bucket::new(Rate::new(0, 2), t0 + Duration::from_secs(5));
        assert!(b.take(2, t0));
        assert!(
            !b.take(1, t0 + Duration::from_secs(3600)),
            "no refill at rate 0"
        );
        assert_eq!(b.wait_for(1, t0), Duration::MAX);
        assert_eq!(Rate::new(1, 0).burst(), 1, "a burst of at least one");
    }
}

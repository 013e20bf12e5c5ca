//! Token buckets (docs/PROTOCOL.md §11): the arithmetic of every budget —
//! `SHOUT`s per origin and per connection here, requests, refusals,
//! handshakes and decompressed bytes in the node engine.
//!
//! Pure: a bucket refills from the `now` it is given, never from a clock.

use std::time::Instant;

/// One token, in the bucket's fixed-point unit (a millionth of a token),
/// so refills of a fraction of a token are not lost.
const UNIT: u64 = 1_000_000;

/// A rate: `per_second` tokens a second, at most `burst` saved up.
///
/// ```
/// use shoutnet_flood::Rate;
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
///
/// ```
/// use std::time::{Duration, Instant};
/// use shoutnet_flood::{Rate, TokenBucket};
///
/// # #[allow(clippy::disallowed_methods)] // The caller reads the clock.
/// let t0 = Instant::now();
/// let mut bucket = TokenBucket::new(Rate::new(10, 2), t0);
/// assert!(bucket.take(1, t0) && bucket.take(1, t0));
/// assert!(!bucket.take(1, t0), "the burst is spent");
/// assert!(bucket.take(1, t0 + Duration::from_millis(100)), "10 a second");
/// ```
#[derive(Clone, Copy, Debug)]
pub struct TokenBucket {
    rate: Rate,
    /// Tokens held, in millionths.
    level: u64,
    /// When `level` was last brought up to date.
    at: Instant,
}

impl TokenBucket {
    /// A full bucket of `rate` at `now`.
    pub fn new(rate: Rate, now: Instant) -> Self {
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
    pub fn take(&mut self, n: u64, now: Instant) -> bool {
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
    pub fn available(&mut self, now: Instant) -> u64 {
        self.refill(now);
        self.level / UNIT
    }

    /// Whether the bucket is full at `now`: it has not been drawn on for
    /// long enough that forgetting it loses nothing.
    pub fn is_full(&mut self, now: Instant) -> bool {
        self.refill(now);
        self.level >= self.rate.burst.saturating_mul(UNIT)
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
        let mut b = TokenBucket::new(Rate::new(10, 3), t0);
        // (time, tokens asked, granted)
        let steps = [
            (0, 1, true),
            (0, 1, true),
            (0, 1, true),
            (0, 1, false),
            (50, 1, false),
            (100, 1, true),
            (100, 1, false),
            (10_000, 5, false),
            (10_000, 3, true),
        ];
        for (at, n, granted) in steps {
            assert_eq!(b.take(n, t0 + ms(at)), granted, "{n} at {at} ms");
        }
        assert_eq!(b.available(t0 + ms(10_300)), 3);
        assert!(b.is_full(t0 + ms(10_300)));
    }

    #[test]
    fn time_going_backwards_or_zero_rates_do_not_break_it() {
        #[allow(clippy::disallowed_methods)] // A fixed epoch for the test.
        let t0 = Instant::now();
        let mut b = TokenBucket::new(Rate::new(0, 2), t0 + Duration::from_secs(5));
        assert!(b.take(2, t0));
        assert!(
            !b.take(1, t0 + Duration::from_secs(3600)),
            "no refill at rate 0"
        );
        assert_eq!(Rate::new(1, 0).burst(), 1, "a burst of at least one");
    }
}

//! Budgets of new broadcasts per origin (docs/PROTOCOL.md §11): every
//! `SHOUT` costs the whole network about (2ℓ − 1)·n transmissions, so a
//! node forwards at most so many new ones a second from one origin. The
//! buckets are bounded in number; past the bound the origin unheard from
//! the longest is forgotten (it gets a full bucket if it comes back, which
//! the per-connection budgets still bound).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use crate::{Rate, TokenBucket};

/// Token buckets by origin (a routing address), least recently used
/// forgotten first.
///
/// ```
/// use std::time::Instant;
/// use shoutnet_flood::{OriginBudgets, Rate};
///
/// # #[allow(clippy::disallowed_methods)] // The caller reads the clock.
/// let t0 = Instant::now();
/// let mut budgets = OriginBudgets::new(Rate::new(1, 2), 100);
/// assert!(budgets.allow([1; 32], t0) && budgets.allow([1; 32], t0));
/// assert!(!budgets.allow([1; 32], t0), "origin 1 spent its burst");
/// assert!(budgets.allow([2; 32], t0), "origin 2 has its own");
/// ```
#[derive(Clone, Debug)]
pub struct OriginBudgets {
    rate: Rate,
    max: usize,
    buckets: BTreeMap<[u8; 32], (TokenBucket, Instant)>,
    /// The buckets by last use, oldest first.
    by_use: BTreeSet<(Instant, [u8; 32])>,
}

impl OriginBudgets {
    /// Buckets of `rate` for at most `max` origins (at least 1).
    pub fn new(rate: Rate, max: usize) -> Self {
        Self {
            rate,
            max: max.max(1),
            buckets: BTreeMap::new(),
            by_use: BTreeSet::new(),
        }
    }

    /// Whether one more broadcast from `origin` is within its budget at
    /// `now` (and spends it).
    pub fn allow(&mut self, origin: [u8; 32], now: Instant) -> bool {
        if !self.buckets.contains_key(&origin)
            && self.buckets.len() >= self.max
            && let Some((_, oldest)) = self.by_use.pop_first()
        {
            self.buckets.remove(&oldest);
        }
        let (bucket, last) = self
            .buckets
            .entry(origin)
            .or_insert_with(|| (TokenBucket::new(self.rate, now), now));
        self.by_use.remove(&(*last, origin));
        *last = now;
        self.by_use.insert((now, origin));
        bucket.take(1, now)
    }

    /// Origins remembered.
    pub fn len(&self) -> usize {
        self.buckets.len()
    }

    /// Whether no origin is remembered.
    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn the_least_recently_heard_origin_is_forgotten_past_the_bound() {
        #[allow(clippy::disallowed_methods)] // A fixed epoch for the test.
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut b = OriginBudgets::new(Rate::new(0, 1), 2);
        assert!(b.allow([1; 32], t0));
        assert!(b.allow([2; 32], t0 + s(1)));
        assert!(
            !b.allow([1; 32], t0 + s(2)),
            "spent, and now the most recent"
        );
        assert!(
            b.allow([3; 32], t0 + s(3)),
            "forgets origin 2, heard the least recently"
        );
        assert_eq!(b.len(), 2);
        assert!(
            !b.allow([1; 32], t0 + s(4)),
            "origin 1 was kept, still spent"
        );
        assert!(b.allow([2; 32], t0 + s(5)), "origin 2 starts again");
    }
}

//! The flooding decision (docs/PROTOCOL.md §8.5, §9.7): a received `SHOUT`
//! is a duplicate, or must be verified; a verified one is delivered and
//! forwarded, once, unless its origin is over its budget; it is forwarded
//! to every kept connection but the one it came from.
//!
//! Only ids whose origin signature verified enter the seen-cache, so a
//! forged copy arriving before the genuine one cannot suppress it.

use std::time::{Duration, Instant};

use crate::{MessageId, OriginBudgets, Rate, SeenCache};

/// How a [`Flood`] behaves.
///
/// ```
/// use std::time::Duration;
/// use shoutnet_flood::FloodConfig;
/// let mut config = FloodConfig::default();
/// config.seen_ttl = Duration::from_secs(60);
/// assert_eq!(config.seen_max, FloodConfig::default().seen_max);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct FloodConfig {
    /// How long an id is remembered: 5 minutes, far longer than a flood
    /// takes to reach every node (seconds), so a late copy is still known.
    pub seen_ttl: Duration,
    /// The most ids remembered: 100,000, about 19 MB at
    /// [`BYTES_PER_ENTRY`](crate::BYTES_PER_ENTRY), room for 330 broadcasts
    /// a second over the time to live.
    pub seen_max: usize,
    /// New broadcasts forwarded per origin: 10 a second, bursts of 50.
    pub origin_rate: Rate,
    /// Origins whose budgets are remembered: 10,000.
    pub max_origins: usize,
}

impl Default for FloodConfig {
    fn default() -> Self {
        Self {
            seen_ttl: Duration::from_secs(300),
            seen_max: 100_000,
            origin_rate: Rate::new(10, 50),
            max_origins: 10_000,
        }
    }
}

/// What to do with a received broadcast, before any signature check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admit {
    /// Its id was already verified and delivered: drop it, unverified.
    Duplicate,
    /// New: verify its origin's signature, then report with
    /// [`Flood::verified`].
    Verify,
}

/// What to do with a broadcast whose signature verified.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verified {
    /// Deliver it and forward it.
    Deliver,
    /// Its origin is over its budget: drop it (its id is remembered, so
    /// its copies cost nothing more).
    OverOriginBudget,
    /// Another copy was verified meanwhile: drop it.
    Duplicate,
}

/// The flooding state of one node.
#[derive(Clone, Debug)]
pub struct Flood {
    seen: SeenCache,
    origins: OriginBudgets,
}

impl Flood {
    /// Empty, configured by `config`.
    pub fn new(config: &FloodConfig) -> Self {
        Self {
            seen: SeenCache::new(config.seen_ttl, config.seen_max),
            origins: OriginBudgets::new(config.origin_rate, config.max_origins),
        }
    }

    /// The first look at a received broadcast `id`.
    pub fn admit(&self, id: &MessageId) -> Admit {
        if self.seen.contains(id) {
            Admit::Duplicate
        } else {
            Admit::Verify
        }
    }

    /// The broadcast `id` from `origin` (its routing address) verified at
    /// `now`: it enters the seen-cache, and is delivered if its origin is
    /// within its budget.
    pub fn verified(&mut self, id: MessageId, origin: [u8; 32], now: Instant) -> Verified {
        if !self.seen.insert(id, now) {
            return Verified::Duplicate;
        }
        if self.origins.allow(origin, now) {
            Verified::Deliver
        } else {
            Verified::OverOriginBudget
        }
    }

    /// This node's own broadcast `id`, sent at `now`: never delivered back
    /// to it.
    pub fn originate(&mut self, id: MessageId, now: Instant) {
        self.seen.insert(id, now);
    }

    /// Where a broadcast goes: over one link to every kept peer but `from`,
    /// the peer it came from (`None`: this node's own). `kept` lists each
    /// kept peer with the link to use.
    ///
    /// ```
    /// use shoutnet_flood::Flood;
    /// let kept = [("a", 1), ("b", 2), ("c", 3)];
    /// assert_eq!(Flood::forward_to(Some(&"b"), kept), [1, 3]);
    /// assert_eq!(Flood::forward_to(None, kept), [1, 2, 3]);
    /// ```
    pub fn forward_to<P: PartialEq, L>(
        from: Option<&P>,
        kept: impl IntoIterator<Item = (P, L)>,
    ) -> Vec<L> {
        kept.into_iter()
            .filter(|(peer, _)| from != Some(peer))
            .map(|(_, link)| link)
            .collect()
    }

    /// Forgets ids past their time to live at `now`.
    pub fn expire(&mut self, now: Instant) -> usize {
        self.seen.expire(now)
    }

    /// When the next id is due to be forgotten.
    pub fn next_expiry(&self) -> Option<Instant> {
        self.seen.next_expiry()
    }

    /// Ids remembered.
    pub fn seen_len(&self) -> usize {
        self.seen.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verify_once_deliver_once_and_budget_per_origin() {
        #[allow(clippy::disallowed_methods)] // A fixed epoch for the test.
        let t0 = Instant::now();
        let config = FloodConfig {
            origin_rate: Rate::new(0, 2),
            ..FloodConfig::default()
        };
        let mut flood = Flood::new(&config);
        let id = |b| MessageId([b; 32]);
        // (id, origin, expected after verification)
        let steps = [
            (1, 7, Verified::Deliver),
            (1, 7, Verified::Duplicate),
            (2, 7, Verified::Deliver),
            (3, 7, Verified::OverOriginBudget),
            (4, 8, Verified::Deliver),
        ];
        for (i, origin, expected) in steps {
            assert_eq!(flood.verified(id(i), [origin; 32], t0), expected, "{i}");
        }
        assert_eq!(
            flood.admit(&id(3)),
            Admit::Duplicate,
            "over-budget ids are remembered"
        );
        assert_eq!(flood.admit(&id(5)), Admit::Verify);
        flood.originate(id(5), t0);
        assert_eq!(
            flood.admit(&id(5)),
            Admit::Duplicate,
            "own broadcasts come back as duplicates"
        );
    }

    #[test]
    fn a_forged_copy_admitted_first_does_not_suppress_the_genuine_one() {
        #[allow(clippy::disallowed_methods)] // A fixed epoch for the test.
        let t0 = Instant::now();
        let mut flood = Flood::new(&FloodConfig::default());
        let id = MessageId([1; 32]);
        // The forged copy is admitted for verification, fails it, and is
        // never reported: the id stays unseen.
        assert_eq!(flood.admit(&id), Admit::Verify);
        assert_eq!(
            flood.admit(&id),
            Admit::Verify,
            "the genuine copy is still verified"
        );
        assert_eq!(flood.verified(id, [1; 32], t0), Verified::Deliver);
    }
}

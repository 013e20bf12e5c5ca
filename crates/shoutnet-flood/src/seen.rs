//! The seen-cache (docs/PROTOCOL.md §9.7): the ids of the broadcasts a node
//! has delivered, so that it delivers and forwards each once.
//!
//! Exact, never probabilistic (a filter's false positives would drop
//! broadcasts never seen), and bounded both in time (an id is forgotten
//! after the cache's time to live) and in entries (past the bound the
//! oldest id is forgotten first). Each entry costs at most
//! [`BYTES_PER_ENTRY`] bytes of heap, which a test measures.

use std::collections::{BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use crate::MessageId;

/// The most heap bytes one entry costs, including the spare room its
/// containers keep: the id in an ordered set (32 bytes and a B-tree's
/// share of node overhead) and in the insertion-order queue (an instant and
/// the id, 48 bytes, with up to twice that reserved while the queue grows).
pub const BYTES_PER_ENTRY: usize = 192;

/// Ids seen recently, oldest forgotten first.
///
/// ```
/// use std::time::{Duration, Instant};
/// use shoutnet_flood::{MessageId, SeenCache};
///
/// # #[allow(clippy::disallowed_methods)] // The caller reads the clock.
/// let t0 = Instant::now();
/// let mut seen = SeenCache::new(Duration::from_secs(300), 2);
/// let id = |b| MessageId([b; 32]);
/// assert!(seen.insert(id(1), t0));
/// assert!(!seen.insert(id(1), t0), "once");
/// seen.insert(id(2), t0);
/// seen.insert(id(3), t0);
/// assert!(!seen.contains(&id(1)), "the oldest goes past the bound");
/// seen.expire(t0 + Duration::from_secs(300));
/// assert!(seen.is_empty(), "and everything after its time to live");
/// ```
#[derive(Clone, Debug)]
pub struct SeenCache {
    ttl: Duration,
    max: usize,
    ids: BTreeSet<MessageId>,
    /// Ids in the order they were inserted, with when.
    order: VecDeque<(Instant, MessageId)>,
}

impl SeenCache {
    /// A cache that forgets ids after `ttl` and holds at most `max` (at
    /// least 1).
    pub fn new(ttl: Duration, max: usize) -> Self {
        Self {
            ttl,
            max: max.max(1),
            ids: BTreeSet::new(),
            order: VecDeque::new(),
        }
    }

    /// Whether `id` was seen (and not forgotten yet).
    pub fn contains(&self, id: &MessageId) -> bool {
        self.ids.contains(id)
    }

    /// Records `id` as seen at `now`; `false` if it already was. Forgets
    /// what is past its time to live first, then the oldest if full.
    pub fn insert(&mut self, id: MessageId, now: Instant) -> bool {
        self.expire(now);
        if !self.ids.insert(id) {
            return false;
        }
        while self.order.len() >= self.max {
            if let Some((_, old)) = self.order.pop_front() {
                self.ids.remove(&old);
            }
        }
        self.order.push_back((now, id));
        true
    }

    /// Forgets every id seen `ttl` or longer before `now`; returns how many.
    pub fn expire(&mut self, now: Instant) -> usize {
        let mut forgotten = 0;
        while let Some(&(at, id)) = self.order.front() {
            if now.saturating_duration_since(at) < self.ttl {
                break;
            }
            self.order.pop_front();
            self.ids.remove(&id);
            forgotten += 1;
        }
        forgotten
    }

    /// When the oldest id is due to be forgotten.
    pub fn next_expiry(&self) -> Option<Instant> {
        self.order.front().map(|&(at, _)| at + self.ttl)
    }

    /// Ids held.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether no id is held.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

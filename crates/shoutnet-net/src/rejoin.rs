//! When a node joins again through its seeds (ARCHITECTURE.md, "The
//! runtime and the facade"): after a bootstrap that reached no one, and
//! whenever its routing table has lost entries it once had.
//!
//! Kademlia forgets peers that stop answering, which is right for peers
//! that left, but a network cut in two for longer than the keepalive
//! forgets the other side entirely, and nothing in the protocol brings it
//! back: each side stays connected within itself, refreshes ask only
//! its own side. So the runtime remembers the largest routing table the
//! node had, checks every retry interval, and bootstraps again through
//! its seeds while the table is smaller, backing off to
//! [`MAX_BACKOFF`] while that finds nothing new.

use std::time::{Duration, Instant};

/// The longest wait between two bootstraps that found nothing new.
pub(crate) const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// The schedule of a node's bootstraps after its first.
#[derive(Debug)]
pub(crate) struct Rejoin {
    retry: Duration,
    backoff: Duration,
    high_water: usize,
    next_check: Option<Instant>,
}

impl Rejoin {
    /// Checks every `retry` while all is well.
    pub(crate) fn new(retry: Duration) -> Self {
        Self {
            retry,
            backoff: retry,
            high_water: 0,
            next_check: None,
        }
    }

    /// When to call [`check`](Self::check) next.
    pub(crate) fn next_check(&self) -> Option<Instant> {
        self.next_check
    }

    /// A bootstrap ended with `table_len` entries.
    pub(crate) fn bootstrapped(&mut self, table_len: usize, now: Instant) {
        self.high_water = self.high_water.max(table_len);
        self.next_check = Some(now + self.backoff);
    }

    /// The check is due: whether to bootstrap now, given the routing
    /// table's size and the open connections. Schedules the next check.
    pub(crate) fn check(&mut self, table_len: usize, connections: usize, now: Instant) -> bool {
        if connections > 0 && table_len >= self.high_water {
            self.high_water = table_len;
            self.backoff = self.retry;
            self.next_check = Some(now + self.retry);
            return false;
        }
        self.next_check = Some(now + self.backoff);
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF.max(self.retry));
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejoins_while_the_table_is_short_backing_off_and_stops_once_restored() {
        let s = Duration::from_secs;
        #[allow(clippy::disallowed_methods)] // A fixed epoch for the test.
        let t0 = Instant::now();
        let mut rejoin = Rejoin::new(s(10));
        assert_eq!(
            rejoin.next_check(),
            None,
            "nothing before the first bootstrap"
        );
        rejoin.bootstrapped(6, t0);
        assert_eq!(rejoin.next_check(), Some(t0 + s(10)));
        // All well: no bootstrap; the table grew, which raises the mark.
        assert!(!rejoin.check(7, 3, t0 + s(10)));
        // A cut: the table lost entries. Bootstrap, then back off.
        let mut at = t0 + s(20);
        let mut waits = Vec::new();
        for _ in 0..7 {
            assert!(rejoin.check(3, 3, at));
            let next = rejoin.next_check().unwrap();
            waits.push((next - at).as_secs());
            at = next;
        }
        assert_eq!(waits, [10, 20, 40, 80, 160, 300, 300]);
        // Healed: the table is back to 7, the checks go back to every 10 s.
        assert!(!rejoin.check(7, 4, at));
        assert_eq!(rejoin.next_check(), Some(at + s(10)));
        // No connection at all: bootstrap whatever the table says.
        assert!(rejoin.check(7, 0, at + s(10)));
    }
}

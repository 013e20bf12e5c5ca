//! The engine's timer table (docs/PROTOCOL.md §9.1 handshake timeout, §11;
//! docs/design.md §13 request timeouts): every deadline the engine waits for, kept
//! sorted so that the next one is found in O(log n), whatever the number
//! of connections.
//!
//! Like quinn's `TimerTable`, but keyed: each [`Timer`] has at most one
//! deadline, and setting it again moves it.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::Instant;

use crate::event::ConnectionId;

/// The id of one lookup the engine runs, for a command or on its own
/// (bootstrap, refresh).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct LookupId(pub(crate) u64);

/// Something the engine waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Timer {
    /// The handshake of a connection must complete by then.
    Handshake(ConnectionId),
    /// An established connection idle until then is pinged.
    Keepalive(ConnectionId),
    /// A transient connection idle until then is closed.
    Idle(ConnectionId),
    /// A request sent on a connection times out.
    Request(ConnectionId, u64),
    /// A dial that has not connected by then is given up.
    Dial(SocketAddr),
    /// A lookup's earliest per-request deadline.
    Lookup(LookupId),
    /// The routing table's earliest liveness-ping deadline.
    TablePing,
    /// Idle buckets are checked for a refresh.
    Refresh,
    /// The kept (ℓ) connections are topped up.
    Maintain,
    /// The oldest broadcast id is due to leave the seen-cache.
    SeenExpiry,
    /// The next stored DHT record expires.
    RecordExpiry,
    /// The next of this node's publications is due for its republish.
    Republish,
    /// The earliest `CUSTOM` request waiting for the application is late.
    CustomReply,
    /// The earliest whisper or relayed whisper's return route is due.
    Whisper,
}

/// Deadlines by time and by timer.
#[derive(Debug, Default)]
pub(crate) struct Timers {
    by_time: BTreeSet<(Instant, Timer)>,
    by_timer: BTreeMap<Timer, Instant>,
}

impl Timers {
    /// Sets (or moves) `timer` to `at`.
    pub(crate) fn set(&mut self, timer: Timer, at: Instant) {
        if let Some(old) = self.by_timer.insert(timer, at) {
            self.by_time.remove(&(old, timer));
        }
        self.by_time.insert((at, timer));
    }

    /// Sets `timer` to `at`, or cancels it for `None`.
    pub(crate) fn set_or_cancel(&mut self, timer: Timer, at: Option<Instant>) {
        match at {
            Some(at) => self.set(timer, at),
            None => self.cancel(timer),
        }
    }

    /// Cancels `timer` if it is set.
    pub(crate) fn cancel(&mut self, timer: Timer) {
        if let Some(old) = self.by_timer.remove(&timer) {
            self.by_time.remove(&(old, timer));
        }
    }

    /// When `timer` fires, if it is set.
    pub(crate) fn get(&self, timer: Timer) -> Option<Instant> {
        self.by_timer.get(&timer).copied()
    }

    /// The earliest deadline.
    pub(crate) fn next(&self) -> Option<Instant> {
        self.by_time.first().map(|(at, _)| *at)
    }

    /// Removes and returns every timer due at or before `now`, earliest
    /// first. Timers set while the caller handles them wait for the next
    /// call, so a zero duration cannot spin.
    pub(crate) fn take_due(&mut self, now: Instant) -> Vec<Timer> {
        let mut due = Vec::new();
        while let Some(&(at, timer)) = self.by_time.first() {
            if at > now {
                break;
            }
            self.by_time.pop_first();
            self.by_timer.remove(&timer);
            due.push(timer);
        }
        due
    }

    /// Number of timers set.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.by_timer.len()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn set_moves_cancel_removes_and_take_due_is_ordered() {
        #[allow(clippy::disallowed_methods)] // A fixed epoch for the test.
        let t0 = Instant::now();
        let at = |s| t0 + Duration::from_secs(s);
        let mut timers = Timers::default();
        timers.set(Timer::Refresh, at(5));
        timers.set(Timer::Maintain, at(3));
        timers.set(Timer::Refresh, at(1));
        timers.set(Timer::TablePing, at(9));
        assert_eq!(timers.len(), 3);
        assert_eq!(timers.next(), Some(at(1)));
        assert_eq!(timers.get(Timer::Refresh), Some(at(1)));
        timers.cancel(Timer::TablePing);
        timers.set_or_cancel(Timer::Maintain, None);
        assert_eq!(timers.len(), 1);
        timers.set(Timer::Maintain, at(2));
        assert_eq!(timers.take_due(at(0)), []);
        assert_eq!(
            timers.take_due(at(2)),
            [Timer::Refresh, Timer::Maintain],
            "earliest first"
        );
        assert_eq!(timers.next(), None);
    }
}

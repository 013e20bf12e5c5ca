//! `CUSTOM` handlers (docs/PROTOCOL.md §8.8): the names the application
//! serves, and the requests waiting for its answer, each answered exactly
//! once — by the application, or by the engine when the answer is late or
//! the connection is gone. Bounded: past `max` waiting requests a new one is
//! refused, so a peer cannot make the node hold unbounded state.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use shoutnet_wire::MAX_CUSTOM_NAME;

use crate::event::{ConnectionId, ReplyHandle};

/// A request waiting for the application's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Waiting {
    pub(crate) conn: ConnectionId,
    pub(crate) request_id: u64,
    deadline: Instant,
}

/// What to do with an arriving `CUSTOM`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Arrival {
    /// Hand it to the application, with a handle if it wants an answer.
    Deliver(Option<ReplyHandle>),
    /// No handler has this name.
    Unknown,
    /// Too many requests wait for answers already.
    Full,
}

/// Registered names and waiting requests.
#[derive(Debug)]
pub(crate) struct Customs {
    names: BTreeSet<String>,
    waiting: BTreeMap<ReplyHandle, Waiting>,
    by_deadline: BTreeSet<(Instant, ReplyHandle)>,
    next: u64,
    max: usize,
    timeout: Duration,
}

impl Customs {
    pub(crate) fn new(max: usize, timeout: Duration) -> Self {
        Self {
            names: BTreeSet::new(),
            waiting: BTreeMap::new(),
            by_deadline: BTreeSet::new(),
            next: 0,
            max,
            timeout,
        }
    }

    /// Whether `name` is a valid handler name (1 to 64 bytes).
    pub(crate) fn valid_name(name: &str) -> bool {
        (1..=MAX_CUSTOM_NAME).contains(&name.len())
    }

    pub(crate) fn register(&mut self, name: String) {
        self.names.insert(name);
    }

    pub(crate) fn unregister(&mut self, name: &str) {
        self.names.remove(name);
    }

    /// A `CUSTOM` named `name` arrived on `conn`, with `request_id` if it
    /// wants an answer.
    pub(crate) fn arrive(
        &mut self,
        name: &str,
        conn: ConnectionId,
        request_id: Option<u64>,
        now: Instant,
    ) -> Arrival {
        if !self.names.contains(name) {
            return Arrival::Unknown;
        }
        let Some(request_id) = request_id else {
            return Arrival::Deliver(None);
        };
        if self.waiting.len() >= self.max {
            return Arrival::Full;
        }
        self.next += 1;
        let handle = ReplyHandle(self.next);
        let deadline = now + self.timeout;
        self.waiting.insert(
            handle,
            Waiting {
                conn,
                request_id,
                deadline,
            },
        );
        self.by_deadline.insert((deadline, handle));
        Arrival::Deliver(Some(handle))
    }

    /// The application answers `handle`: where the answer goes, once.
    pub(crate) fn answer(&mut self, handle: ReplyHandle) -> Option<Waiting> {
        let waiting = self.waiting.remove(&handle)?;
        self.by_deadline.remove(&(waiting.deadline, handle));
        Some(waiting)
    }

    /// Requests whose answer is late at `now`: the engine refuses them.
    pub(crate) fn overdue(&mut self, now: Instant) -> Vec<Waiting> {
        let mut late = Vec::new();
        while let Some(&(deadline, handle)) = self.by_deadline.first() {
            if deadline > now {
                break;
            }
            self.by_deadline.pop_first();
            late.extend(self.waiting.remove(&handle));
        }
        late
    }

    /// The earliest deadline.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.by_deadline.first().map(|(at, _)| *at)
    }

    /// `conn` closed: its requests can no longer be answered.
    pub(crate) fn closed(&mut self, conn: ConnectionId) {
        let gone: Vec<(Instant, ReplyHandle)> = self
            .waiting
            .iter()
            .filter(|(_, w)| w.conn == conn)
            .map(|(h, w)| (w.deadline, *h))
            .collect();
        for (deadline, handle) in gone {
            self.waiting.remove(&handle);
            self.by_deadline.remove(&(deadline, handle));
        }
    }

    /// Requests waiting for an answer.
    pub(crate) fn waiting(&self) -> usize {
        self.waiting.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_request_is_answered_once_and_the_table_is_bounded() {
        #[allow(clippy::disallowed_methods)] // A fixed epoch for the test.
        let t0 = Instant::now();
        let mut customs = Customs::new(2, Duration::from_secs(5));
        let conn = ConnectionId(1);
        assert_eq!(customs.arrive("echo", conn, Some(1), t0), Arrival::Unknown);
        customs.register("echo".into());
        assert_eq!(
            customs.arrive("echo", conn, None, t0),
            Arrival::Deliver(None)
        );
        let Arrival::Deliver(Some(a)) = customs.arrive("echo", conn, Some(1), t0) else {
            panic!()
        };
        let Arrival::Deliver(Some(b)) = customs.arrive("echo", ConnectionId(2), Some(2), t0) else {
            panic!()
        };
        assert_eq!(customs.arrive("echo", conn, Some(3), t0), Arrival::Full);
        assert_eq!(customs.answer(a).map(|w| w.request_id), Some(1));
        assert_eq!(customs.answer(a), None, "answered once");
        assert_eq!(customs.next_deadline(), Some(t0 + Duration::from_secs(5)));
        assert!(customs.overdue(t0 + Duration::from_secs(4)).is_empty());
        let late = customs.overdue(t0 + Duration::from_secs(5));
        assert_eq!(late.len(), 1);
        assert_eq!(late[0].conn, ConnectionId(2));
        assert_eq!(customs.answer(b), None, "refused by the engine already");
        let Arrival::Deliver(Some(c)) = customs.arrive("echo", conn, Some(4), t0) else {
            panic!()
        };
        customs.closed(conn);
        assert_eq!(customs.answer(c), None);
        assert_eq!(customs.waiting(), 0);
        customs.unregister("echo");
        assert_eq!(customs.arrive("echo", conn, None, t0), Arrival::Unknown);
        assert!(!Customs::valid_name("") && !Customs::valid_name(&"x".repeat(65)));
        assert!(Customs::valid_name(&"x".repeat(64)));
    }
}

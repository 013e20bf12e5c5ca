//! Budgets (docs/PROTOCOL.md §11): what a peer can make this node do per
//! second — requests served per class, broadcasts, refusals sent, bytes
//! decompressed — in token buckets (`shoutnet_flood::TokenBucket`, which
//! refill from the `now` they are given, never from a clock).

use std::time::Instant;

pub use shoutnet_flood::Rate;
pub(crate) use shoutnet_flood::TokenBucket as Bucket;

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
    /// New `SHOUT`s (not seen before) the connection may bring, before any
    /// is verified: 100 a second, bursts of 1,000. A kept connection
    /// carries every broadcast of the network, so this bounds the
    /// network's broadcast rate through it, and the signature checks a peer
    /// can make this node do.
    pub shouts: Rate,
    /// `SPEAK`s from the peer: 10 a second, bursts of 50.
    pub speaks: Rate,
    /// `STORE`s: 10 a second, bursts of 100. A publisher stores each record
    /// once per node and republishes it hourly at most; the per-peer
    /// storage quota bounds what the stores hold, this what they cost.
    pub stores: Rate,
    /// `CUSTOM` requests: 20 a second, bursts of 100; the application's
    /// handlers decide what each costs, and the pending-answer bound
    /// (docs/PROTOCOL.md §11) what they hold.
    pub customs: Rate,
    /// `WHISPER`s, to this node or to relay: 20 a second, bursts of 100.
    pub whispers: Rate,
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
            shouts: Rate::new(100, 1_000),
            speaks: Rate::new(10, 50),
            stores: Rate::new(10, 100),
            customs: Rate::new(20, 100),
            whispers: Rate::new(20, 100),
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
    /// A new `SHOUT`.
    Shout,
    /// A `SPEAK`.
    Speak,
    /// `STORE`.
    Store,
    /// `CUSTOM`.
    Custom,
    /// `WHISPER`.
    Whisper,
}

impl Class {
    /// Its name, for `NACK RATE_LIMITED` reasons.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Ping => "PING",
            Self::Lookup => "FIND_NODE/FIND_VALUE",
            Self::Option => "SET_CONNECTION_OPT",
            Self::Shout => "SHOUT",
            Self::Speak => "SPEAK",
            Self::Store => "STORE",
            Self::Custom => "CUSTOM",
            Self::Whisper => "WHISPER",
        }
    }
}

/// One connection's budgets.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Budgets {
    ping: Bucket,
    lookup: Bucket,
    option: Bucket,
    shout: Bucket,
    speak: Bucket,
    store: Bucket,
    custom: Bucket,
    whisper: Bucket,
    refusals: Bucket,
}

impl Budgets {
    pub(crate) fn new(rates: &RequestRates, now: Instant) -> Self {
        Self {
            ping: Bucket::new(rates.ping, now),
            lookup: Bucket::new(rates.lookup, now),
            option: Bucket::new(rates.option, now),
            shout: Bucket::new(rates.shouts, now),
            speak: Bucket::new(rates.speaks, now),
            store: Bucket::new(rates.stores, now),
            custom: Bucket::new(rates.customs, now),
            whisper: Bucket::new(rates.whispers, now),
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
            Class::Shout => &mut self.shout,
            Class::Speak => &mut self.speak,
            Class::Store => &mut self.store,
            Class::Custom => &mut self.custom,
            Class::Whisper => &mut self.whisper,
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
    fn each_class_has_its_own_budget() {
        #[allow(clippy::disallowed_methods)] // A fixed epoch for the test.
        let t0 = Instant::now();
        let rates = RequestRates {
            ping: Rate::new(1, 1),
            lookup: Rate::new(1, 2),
            option: Rate::new(1, 1),
            refusals: Rate::new(1, 1),
            shouts: Rate::new(1, 1),
            speaks: Rate::new(1, 1),
            stores: Rate::new(1, 1),
            customs: Rate::new(1, 1),
            whispers: Rate::new(1, 1),
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
}

//! Re-replication (docs/PROTOCOL.md §2 distance, §9.5 k; Kademlia §2.5):
//! when a node joins, the nodes that hold records it is now among the k
//! closest to send it those records.
//!
//! **The rule.** The local node sends the record at address `r` to the
//! newcomer `n` when both hold, over the nodes the local node knows (not
//! counting itself or the newcomer):
//!
//! 1. no known node is closer to `r` than the local node is: of the k
//!    holders only the closest one sends, so the newcomer gets one copy
//!    rather than k (the paper's rule: "a node only transfers a key-value
//!    pair if its own ID is closer to the key than are the IDs of other
//!    nodes");
//! 2. the newcomer is among the k nodes closest to `r`, counting the local
//!    node: it is closer than the local node (which rule 1 makes the
//!    closest of the others), or fewer than k − 1 known nodes are closer
//!    to `r` than it.
//!
//! **The bound.** Only the [`Replication::max`] stored records closest to
//! the newcomer (by XOR) are examined, found by range scans that read
//! O(256 · max) addresses at worst and about log₂(n / max) · max with
//! SHA-256 addresses, so a join buys bounded work whatever the store
//! holds. The records closest to the newcomer are the ones it most likely
//! must hold; any the bound leaves out reach it when their publisher
//! republishes (within the hour, [`Publications::MAX_INTERVAL`](crate::Publications::MAX_INTERVAL)).

use crate::address::{bit, block, with_bit};
use crate::{RecordStore, distance};

/// What the local node knows of the nodes around an address: its routing
/// table, without itself and without the newcomer.
///
/// Closures `Fn(&[u8; 32], usize) -> Option<[u8; 32]>` implement it.
pub trait Neighbourhood {
    /// The distance from `address` to the `n`-th closest node known
    /// (`n` ≥ 1), not counting the local node or the newcomer; `None` if
    /// fewer than `n` are known.
    fn nth_closest(&self, address: &[u8; 32], n: usize) -> Option<[u8; 32]>;
}

impl<F: Fn(&[u8; 32], usize) -> Option<[u8; 32]>> Neighbourhood for F {
    fn nth_closest(&self, address: &[u8; 32], n: usize) -> Option<[u8; 32]> {
        self(address, n)
    }
}

/// The re-replication decision of one node.
///
/// ```
/// use shoutnet_dht::{MemoryStore, Record, RecordStore, Replication, address_of, distance};
///
/// let mut store = MemoryStore::default();
/// let r = address_of(b"key");
/// store.put(r, Record::new("key", &b"\xc0"[..], 0, 3600, vec![0; 32]), b"p", 0)?;
///
/// // The local node is 2 from the record, the newcomer 1; the only other
/// // node known is 3 away.
/// let near = |d: u8| { let mut a = r; a[31] ^= d; a };
/// let known = vec![near(3)];
/// let nth = |address: &[u8; 32], n: usize| {
///     let mut d: Vec<_> = known.iter().map(|k| distance(k, address)).collect();
///     d.sort();
///     d.get(n - 1).copied()
/// };
/// let replication = Replication::new(near(2));
/// assert_eq!(replication.for_newcomer(&store, &near(1), &nth, 0), [r]);
/// // Another node the local node knows is closer: that one sends.
/// let closer = vec![near(3), near(4)];
/// let replication = Replication::new(near(5));
/// let nth = |address: &[u8; 32], n: usize| {
///     let mut d: Vec<_> = closer.iter().map(|k| distance(k, address)).collect();
///     d.sort();
///     d.get(n - 1).copied()
/// };
/// assert!(replication.for_newcomer(&store, &near(1), &nth, 0).is_empty());
/// # Ok::<(), shoutnet_dht::StoreError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Replication {
    local: [u8; 32],
    k: usize,
    max: usize,
}

impl Replication {
    /// Nodes holding each record, k = 20 (docs/PROTOCOL.md §9.5).
    pub const DEFAULT_K: usize = 20;
    /// Records examined per newcomer, 256: the newcomer's default quota
    /// for one peer ([`Limits::DEFAULT_MAX_RECORDS_PER_PEER`](crate::Limits::DEFAULT_MAX_RECORDS_PER_PEER)),
    /// so it accepts everything sent.
    pub const DEFAULT_MAX: usize = 256;

    /// The decision of the node at address `local`, with the defaults.
    pub fn new(local: [u8; 32]) -> Self {
        Self {
            local,
            k: Self::DEFAULT_K,
            max: Self::DEFAULT_MAX,
        }
    }

    /// The local node's address.
    pub fn local(&self) -> &[u8; 32] {
        &self.local
    }

    /// k, the nodes that hold each record.
    pub fn k(&self) -> usize {
        self.k
    }

    /// Sets k.
    pub fn set_k(&mut self, k: usize) -> &mut Self {
        self.k = k;
        self
    }

    /// The most records examined, and so sent, per newcomer.
    pub fn max(&self) -> usize {
        self.max
    }

    /// Sets the most records examined per newcomer.
    pub fn set_max(&mut self, max: usize) -> &mut Self {
        self.max = max;
        self
    }

    /// Whether the record at `record` goes to `newcomer` (the module's
    /// rule).
    pub fn should_send(
        &self,
        record: &[u8; 32],
        newcomer: &[u8; 32],
        known: &impl Neighbourhood,
    ) -> bool {
        if *newcomer == self.local || self.k == 0 {
            return false;
        }
        let local = distance(&self.local, record);
        // Rule 1: the local node is the closest it knows.
        if known.nth_closest(record, 1).is_some_and(|d| d < local) {
            return false;
        }
        // Rule 2: the newcomer is among the k closest, the local node
        // counted.
        let new = distance(newcomer, record);
        new < local
            || self.k > 1
                && known
                    .nth_closest(record, self.k - 1)
                    .is_none_or(|d| new < d)
    }

    /// The addresses of the live records in `store` that go to
    /// `newcomer`, closest to it first: of the [`max`](Self::max) stored
    /// records closest to it, those [`should_send`](Self::should_send)
    /// picks.
    pub fn for_newcomer<S: RecordStore + ?Sized>(
        &self,
        store: &S,
        newcomer: &[u8; 32],
        known: &impl Neighbourhood,
        now: u64,
    ) -> Vec<[u8; 32]> {
        let mut nearest = Vec::new();
        closest_stored(store, newcomer, *newcomer, 0, self.max, &mut nearest);
        nearest.retain(|r| store.get(r, now).is_some() && self.should_send(r, newcomer, known));
        nearest
    }
}

/// Appends to `out`, closest to `target` first, the stored addresses whose
/// first `depth` bits are those of `prefix`, until `out` holds `max`.
///
/// A block with room for all its addresses is read whole and sorted;
/// a larger one is split in two, the half on `target`'s side first (every
/// address in it is closer to `target` than any in the other half). A
/// half that fills `out` leaves no room for the other, so at most one
/// block splits per depth.
fn closest_stored<S: RecordStore + ?Sized>(
    store: &S,
    target: &[u8; 32],
    prefix: [u8; 32],
    depth: usize,
    max: usize,
    out: &mut Vec<[u8; 32]>,
) {
    let room = max.saturating_sub(out.len());
    if room == 0 {
        return;
    }
    let (lo, hi) = block(&prefix, depth);
    let mut found: Vec<[u8; 32]> = store
        .addresses_from(&lo)
        .take_while(|a| *a <= hi)
        .take(room.saturating_add(1))
        .collect();
    if found.len() <= room || depth >= 256 {
        found.sort_by_key(|a| distance(a, target));
        found.truncate(room);
        out.extend(found);
        return;
    }
    let side = bit(target, depth);
    closest_stored(
        store,
        target,
        with_bit(prefix, depth, side),
        depth + 1,
        max,
        out,
    );
    closest_stored(
        store,
        target,
        with_bit(prefix, depth, !side),
        depth + 1,
        max,
        out,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(d: u8) -> [u8; 32] {
        let mut a = [0; 32];
        a[31] = d;
        a
    }

    /// The hand-built neighbourhood of `nodes`.
    fn knowing(nodes: &[[u8; 32]]) -> impl Fn(&[u8; 32], usize) -> Option<[u8; 32]> + '_ {
        |address, n| {
            let mut d: Vec<_> = nodes.iter().map(|x| distance(x, address)).collect();
            d.sort();
            d.get(n.checked_sub(1)?).copied()
        }
    }

    #[test]
    fn only_the_closest_holder_sends() {
        let r = at(0);
        let rep = Replication::new(at(4));
        assert!(rep.should_send(&r, &at(1), &knowing(&[at(5), at(6)])));
        assert!(!rep.should_send(&r, &at(1), &knowing(&[at(3), at(6)])));
        assert!(rep.should_send(&r, &at(1), &knowing(&[])), "knows no one");
    }

    #[test]
    fn the_newcomer_must_be_among_the_k_closest_counting_the_local_node() {
        let r = at(0);
        let mut rep = Replication::new(at(1));
        rep.set_k(3);
        // Local at 1; known at 2 and 3: with the local node those are the
        // 3 closest, so a newcomer at 4 is fourth.
        let known = [at(2), at(3)];
        assert!(!rep.should_send(&r, &at(4), &knowing(&known)));
        // One known node fewer: the newcomer at 4 is third.
        assert!(rep.should_send(&r, &at(4), &knowing(&[at(2), at(9)])));
        // Closer than the local node: always among the k.
        rep.set_k(1);
        assert!(rep.should_send(&[0; 32], &[0; 32], &knowing(&known)));
        assert!(!rep.should_send(&r, &at(4), &knowing(&[])), "k = 1");
        rep.set_k(0);
        assert!(!rep.should_send(&r, &[0; 32], &knowing(&[])), "k = 0");
    }

    #[test]
    fn the_local_node_never_sends_to_itself() {
        let rep = Replication::new(at(1));
        assert!(!rep.should_send(&at(0), &at(1), &knowing(&[])));
    }
}

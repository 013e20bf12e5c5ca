//! The seen-cache's bounds (docs/PROTOCOL.md §9.7): its heap per entry,
//! measured under a counting allocator, and its entry and time bounds under
//! random operations; and a flood of distinct ids that cannot grow it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::{Duration, Instant};

use proptest::prelude::*;
use shoutnet_flood::{BYTES_PER_ENTRY, MessageId, SeenCache};

/// Counts the heap bytes held by this test binary.
struct Counting;

static HELD: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        HELD.fetch_add(layout.size() as isize, Ordering::SeqCst);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        HELD.fetch_sub(layout.size() as isize, Ordering::SeqCst);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn id(i: u64) -> MessageId {
    MessageId::of(&i.to_be_bytes(), 0x40, b"")
}

fn epoch() -> Instant {
    #[allow(clippy::disallowed_methods)] // The one clock read: a fixed epoch.
    Instant::now()
}

#[test]
fn each_entry_costs_at_most_the_stated_bytes_and_a_flood_cannot_grow_it() {
    let t0 = epoch();
    // Sizes across the queue's doubling points, where its spare room is
    // largest.
    for n in [1_000u64, 4_097, 65_537, 100_000] {
        let before = HELD.load(Ordering::SeqCst);
        let mut seen = SeenCache::new(Duration::from_secs(300), 100_000);
        for i in 0..n {
            seen.insert(id(i), t0);
        }
        let held = HELD.load(Ordering::SeqCst) - before;
        let per_entry = held as f64 / n as f64;
        eprintln!("{n} entries: {per_entry:.1} heap bytes per entry");
        assert!(
            per_entry <= BYTES_PER_ENTRY as f64,
            "{per_entry:.1} bytes per entry at {n} entries"
        );
        // A flood of a million more distinct ids: the cache stays at its
        // bound, and its memory does not grow past it.
        if n == 100_000 {
            for i in n..n + 1_000_000 {
                seen.insert(id(i), t0);
            }
            assert_eq!(seen.len(), 100_000);
            let after = HELD.load(Ordering::SeqCst) - before;
            assert!(
                after as f64 <= 100_000.0 * BYTES_PER_ENTRY as f64,
                "{after} bytes"
            );
        }
        drop(seen);
    }
}

proptest! {
    #[test]
    fn the_cache_stays_within_its_bounds_and_forgets_in_order(
        max in 1usize..50,
        ops in proptest::collection::vec((0u64..80, 0u64..30), 1..300),
    ) {
        let t0 = epoch();
        let ttl = Duration::from_secs(10);
        let mut seen = SeenCache::new(ttl, max);
        let mut now = t0;
        let mut model: Vec<(Instant, MessageId)> = Vec::new();
        for (i, dt) in ops {
            now += Duration::from_millis(dt * 100);
            let new = seen.insert(id(i), now);
            model.retain(|&(at, _)| now.saturating_duration_since(at) < ttl);
            let was = model.iter().any(|&(_, m)| m == id(i));
            prop_assert_eq!(new, !was);
            if !was {
                if model.len() >= max {
                    model.remove(0);
                }
                model.push((now, id(i)));
            }
            prop_assert!(seen.len() <= max);
            prop_assert_eq!(seen.len(), model.len());
            for &(_, m) in &model {
                prop_assert!(seen.contains(&m));
            }
        }
    }
}

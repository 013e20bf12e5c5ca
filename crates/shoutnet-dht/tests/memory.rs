//! The byte cap is a bound on memory: under a counting allocator, the heap
//! a store holds never exceeds what it is charged (`bytes()`, built on
//! `RECORD_OVERHEAD`), with the store full or thinned out by removals,
//! every record from its own peer, every buffer shared by a read.
//!
//! One test in this binary: the allocator counts every thread's heap.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use shoutnet_dht::{Limits, MemoryStore, RECORD_OVERHEAD, Record, RecordStore, address_of};

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

/// A small record with key `i`, from the peer `i` (every peer distinct).
fn put(s: &mut MemoryStore, i: u32) {
    let key = i.to_be_bytes();
    let record = Record::new(key.to_vec(), vec![0xc0; 3], 0, 600, vec![7; 32]);
    let peer = [i.to_le_bytes(), [9; 4]].concat();
    s.put(address_of(&key), record, &peer, 0).unwrap();
    // A read shares every buffer, which allocates their shared headers.
    drop(s.get(&address_of(&key), 0));
}

/// The heap a store holds, after `fill`, beyond what it held before.
fn measure(s: &mut MemoryStore, fill: impl FnOnce(&mut MemoryStore)) -> isize {
    let before = HELD.load(Ordering::SeqCst);
    fill(s);
    HELD.load(Ordering::SeqCst) - before
}

#[test]
fn the_heap_held_never_exceeds_the_bytes_charged() {
    // A store's empty containers cost nothing; the first record's nodes
    // are the root's, which a small store pays whole.
    let root_nodes = 3 * 2_200;
    let mut limits = Limits::default();
    limits.set_max_records_per_peer(usize::MAX);
    for n in [1u32, 12, 1_000, 20_000, 65_536] {
        let mut s = MemoryStore::new(limits.clone());
        let held = measure(&mut s, |s| (0..n).for_each(|i| put(s, i)));
        let charged = s.bytes() as isize;
        let payload = charged - n as isize * RECORD_OVERHEAD as isize;
        eprintln!(
            "{n} records: {:.0} heap bytes per record beyond their payload",
            (held - payload) as f64 / f64::from(n)
        );
        assert!(
            held <= charged + root_nodes,
            "{n} records: {held} held, {charged} charged"
        );

        // Remove two records in three, leaving B-tree nodes as empty as
        // they get.
        let removed = measure(&mut s, |s| {
            for i in (0..n).filter(|i| i % 3 != 0) {
                s.remove(&address_of(&i.to_be_bytes()));
            }
        });
        let (held, charged) = (held + removed, s.bytes() as isize);
        assert!(
            held <= charged + root_nodes,
            "thinned to {}: {held} held, {charged} charged",
            s.len()
        );
    }
}

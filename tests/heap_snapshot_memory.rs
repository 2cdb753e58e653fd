//! A heap snapshot streams (issue #17, "bounded extra memory"): writing one
//! of a heap of 300,000 objects to `io::sink()` allocates, at its peak,
//! a fraction of the JSON it writes: the writer keeps one address per
//! object, not the output (nor the strings' text). Measured by a counting
//! global allocator (this test binary only); the first snapshot also builds
//! the id table, which stays.

use isogc::*;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

struct Counting;

static NOW: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator; only counts on the side.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let now = NOW.fetch_add(l.size(), Relaxed) + l.size();
        PEAK.fetch_max(now, Relaxed);
        // SAFETY: the caller's contract, forwarded.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        NOW.fetch_sub(l.size(), Relaxed);
        // SAFETY: the caller's contract, forwarded.
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Peak bytes allocated beyond those live when `f` started.
fn peak_extra<R>(f: impl FnOnce() -> R) -> (R, usize) {
    let before = NOW.load(Relaxed);
    PEAK.store(before, Relaxed);
    let r = f();
    (r, PEAK.load(Relaxed) - before)
}

#[test]
fn a_snapshot_of_300k_objects_allocates_a_fraction_of_what_it_writes() {
    let platform = Platform::new(1).unwrap();
    let mut isolate = Isolate::new(&platform, HeapConfig::default()).unwrap();
    let mut scope = HandleScope::new(&mut isolate);
    let map = scope.new_map(&ObjectLayout::new("Item", 2, 0).with_field_names(["label", "next"])).unwrap();
    let _list = {
        let mut s = HandleScope::new(&mut scope);
        let mut list = s.null();
        for i in 0..150_000 {
            let o = s.new_object(map).unwrap();
            let label = s.new_string(&format!("item {i}")).unwrap();
            s.set(o, 0, label);
            s.set(o, 1, list);
            list = o.as_value();
        }
        s.global(list)
    };
    // Settle first: the first full GC after building evacuates the young
    // generation, and its own transient memory (about 30 B/object here) is
    // the collector's, not the writer's. The snapshots' GCs then find the
    // heap in steady state.
    scope.collect_garbage(GcRequest::Major);
    scope.collect_garbage(GcRequest::FinishSweeping);
    let (first, first_peak) = peak_extra(|| scope.write_heap_snapshot(std::io::sink()).unwrap());
    let (second, second_peak) = peak_extra(|| scope.write_heap_snapshot(std::io::sink()).unwrap());
    let objects = second.objects;
    assert!(objects >= 300_000, "{objects} objects");
    assert_eq!(first.bytes, second.bytes, "the same heap, the same file");
    let per_object = |b: usize| b as f64 / objects as f64;
    eprintln!(
        "{objects} objects, {:.1} B of JSON each; peak extra allocation {:.1} B/object (first, with the id table), \
         {:.1} B/object (second)",
        second.bytes as f64 / objects as f64,
        per_object(first_peak),
        per_object(second_peak)
    );
    // The address vector (8 B/object), the per-map caches and the GC's
    // steady-state needs.
    assert!(per_object(second_peak) < 16.0, "{:.1} B/object", per_object(second_peak));
    assert!(second_peak < second.bytes as usize / 4);
    // Plus the id table (a hash map entry per object, at most half full
    // after it doubles), built once.
    assert!(per_object(first_peak) < 100.0, "{:.1} B/object", per_object(first_peak));
}

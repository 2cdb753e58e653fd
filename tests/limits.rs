//! The hard limit `max_old_space_size` holds for everything it bounds, the
//! collector's own promotions included, and after `Err(OutOfMemory)` the
//! clean-up reserve ([`CLEANUP_RESERVE`]) serves a runtime's error path.

mod common;

use common::*;
use isogc::*;

const LIMIT: usize = 2 * MB;

/// What the hard limit bounds: the old generation's committed bytes and
/// young large objects' (a scavenge makes them old by a page flip).
fn limited(scope: &HandleScope<'_>) -> usize {
    let stats = scope.heap_stats();
    ["old_space", "map_space", "large_object_space", "new_large_object_space"]
        .iter()
        .map(|n| stats.space(n).unwrap().committed)
        .sum()
}

fn config(mode: GcMode) -> HeapConfig {
    HeapConfig { max_old_space_size: LIMIT, initial_old_space_size: MB, ..test_config_in(mode) }
}

/// Allocates arrays of `len` slots into a chain rooted in slot 0 of
/// `root` (each link numbered in slot 1), checking the limit after each,
/// until one fails; returns the links made and the error.
fn grow(scope: &mut HandleScope<'_>, root: Local<'_, FixedArray>, len: usize, max: usize) -> (usize, AllocError) {
    for i in 0..max {
        let mut s = HandleScope::new(scope);
        let link = match s.new_fixed_array(len) {
            Ok(l) => l,
            Err(e) => return (i, e),
        };
        let prev = s.get(root, 0);
        s.set(link, 0, prev);
        s.set(link, 1, Smi::from(i as i32));
        s.set(root, 0, link);
        drop(s);
        let committed = limited(scope);
        assert!(committed <= LIMIT, "after link {i} of {len} slots: {committed} bytes committed, limit {LIMIT}");
    }
    panic!("no allocation failed after {max} arrays of {len} slots");
}

both_modes! {
    /// Young objects that all survive, promoted by the collector (by copying
    /// and, with fast promotion, by pages), and young large objects: the
    /// old generation's committed bytes never pass the limit, before or
    /// after `Err(OutOfMemory)`. (Before the limit covered the collector's
    /// promotions, this workload reached 2.6 MiB at a 2 MiB limit.)
    fn promotions_never_take_the_old_generation_past_the_hard_limit(mode: GcMode) {
        let platform = Platform::new(2).unwrap();
        let mut isolate = Isolate::new(&platform, config(mode)).unwrap();
        let mut scope = HandleScope::new(&mut isolate);
        let root = scope.new_fixed_array(2).unwrap();
        let (n, err) = grow(&mut scope, root, 200, 100_000);
        assert!(matches!(err, AllocError::OutOfMemory { limit: LIMIT, .. }), "{err:?}");
        assert!(n > 500, "only {n} small links within {LIMIT} bytes");
        let events = scope.gc_events();
        assert!(events.iter().any(|e| e.promoted_bytes > 0), "nothing was promoted");
        // Large objects (young first) on top, at the limit.
        let big = scope.new_fixed_array(2).unwrap();
        scope.set(root, 1, big);
        let (_, err) = grow(&mut scope, big, 20_000, 1000);
        assert!(matches!(err, AllocError::OutOfMemory { limit: LIMIT, .. }), "{err:?}");
        scope.collect_garbage(GcRequest::Minor);
        scope.collect_garbage(GcRequest::Major);
        assert!(limited(&scope) <= LIMIT, "{} bytes after the GCs", limited(&scope));
        // Everything is still there.
        let mut cur = scope.get(root, 0);
        let mut expect = n;
        while let Some(link) = scope.cast::<FixedArray, _>(cur) {
            expect -= 1;
            assert_eq!(scope.get_smi(link, 1), Some(expect as i64));
            cur = scope.get(link, 0);
        }
        assert_eq!(expect, 0, "links lost");
    }
}

both_modes! {
    /// Once an allocation failed, the runtime's clean-up (here: a few
    /// hundred small objects, some 40 KiB, kept alive) succeeds from the
    /// reserve; it is held back again once a GC has freed the old
    /// generation's pages, and serves the next failure too.
    fn after_out_of_memory_the_clean_up_reserve_serves_small_allocations(mode: GcMode) {
        let platform = Platform::new(2).unwrap();
        let mut isolate = Isolate::new(&platform, config(mode)).unwrap();
        let mut scope = HandleScope::new(&mut isolate);
        // The reserve is held again once the old generation's committed
        // bytes are below it: after the memory-reducing major GC below in
        // stop-the-world mode; in concurrent mode pages the sweepers empty
        // stay committed (reused, not released), so one round.
        let rounds = if mode == GcMode::StopTheWorld { 2 } else { 1 };
        for round in 0..rounds {
            let root = scope.new_fixed_array(2).unwrap();
            let (_, err) = grow(&mut scope, root, 1000, 100_000);
            assert!(matches!(err, AllocError::OutOfMemory { limit: LIMIT, .. }), "round {round}: {err:?}");
            // The error path: a message and a few objects describing it.
            let report = scope.new_fixed_array(400).unwrap_or_else(|e| panic!("round {round}: the report: {e}"));
            scope.set(root, 1, report);
            for i in 0..400 {
                let mut s = HandleScope::new(&mut scope);
                let o = s.new_fixed_array(10).unwrap_or_else(|e| panic!("round {round}: clean-up allocation {i}: {e}"));
                s.set(o, 0, Smi::from(i));
                s.set(report, i as usize, o);
            }
            let msg = scope.new_string("out of memory: the runtime's report").unwrap();
            assert_eq!(scope.to_rust_string(msg), "out of memory: the runtime's report");
            for i in 0..400 {
                let o = scope.get(report, i);
                let o = scope.cast::<FixedArray, _>(o).unwrap();
                assert_eq!(scope.get_smi(o, 0), Some(i as i64));
            }
            assert!(limited(&scope) <= LIMIT);
            // The reserve is one page: going on allocating fails again.
            let (_, err) = grow(&mut scope, root, 1000, 100_000);
            assert!(matches!(err, AllocError::OutOfMemory { .. }), "{err:?}");
            // Everything goes; the next round starts from an empty heap.
            let undefined = scope.undefined();
            scope.set(root, 0, undefined);
            scope.set(root, 1, undefined);
            scope.collect_garbage(GcRequest::Major);
            scope.collect_garbage(GcRequest::FinishSweeping);
            if round + 1 < rounds {
                assert!(limited(&scope) + CLEANUP_RESERVE < LIMIT, "{} bytes committed after the GC", limited(&scope));
            }
        }
    }
}

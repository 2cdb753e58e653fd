//! Promotion of the young generation by pages (V8's fast promotion mode, and
//! a major GC's promotion of a mostly live new space) and the pause budget's
//! bound on the nursery: when it happens, when it does not, and that every
//! object and pointer is right afterwards (the verifier runs after every GC).

mod common;

use common::{both_modes, test_config, test_config_in, ConfigExt, KB, MB};
use isogc::{FixedArray, GcEvent, GcKind, GcMode, GcRequest, HandleScope, HeapConfig, Isolate, Local, Platform, Smi};
use std::time::Duration;

/// Prepends `n` nodes `[i, next]` to the list in `holder[0]`, every node kept.
fn prepend(scope: &mut HandleScope<'_>, holder: Local<'_, FixedArray>, from: usize, n: usize) {
    for i in from..from + n {
        let mut s = HandleScope::new(scope);
        let node = s.new_fixed_array(2).unwrap();
        s.set(node, 0, Smi::new(i as i64).unwrap());
        let next = s.get(holder, 0);
        s.set(node, 1, next);
        s.set(holder, 0, node);
    }
}

/// Walks the list in `holder[0]`: it holds `n` nodes numbered down from
/// `n - 1`.
fn check_list(scope: &mut HandleScope<'_>, holder: Local<'_, FixedArray>, n: usize, when: &str) {
    let mut s = HandleScope::new(scope);
    let mut node = s.get(holder, 0);
    // (One scope for the walk: a handle per node.)
    for i in (0..n).rev() {
        let f = s.cast::<FixedArray, _>(node).unwrap_or_else(|| panic!("{when}: node {i} missing"));
        assert_eq!(s.get_smi(f, 0), Some(i as i64), "{when}: node {i}");
        node = s.get(f, 1);
    }
    assert!(s.is_undefined(node) || s.to_smi(node).is_some(), "{when}: the list ends after {n} nodes");
}

fn page_promotions(events: &[GcEvent], kind: GcKind) -> Vec<&GcEvent> {
    events.iter().filter(|e| e.kind == kind && e.promoted_pages > 0).collect()
}

both_modes! {
    /// A program whose every object survives: after a scavenge that copied
    /// all of new space, the following minor GCs promote new space by pages
    /// and copy nothing; the list is intact after minor and major GCs.
    fn everything_surviving_is_promoted_by_pages(mode: GcMode) {
        let platform = Platform::new(1).unwrap();
        let mut isolate = Isolate::new(&platform, test_config_in(mode)).unwrap();
        let mut scope = HandleScope::new(&mut isolate);
        let holder = scope.new_fixed_array(1).unwrap();
        // 40,000 nodes of 32 bytes: 1.25 MB through a 256 KiB new space.
        const N: usize = 40_000;
        prepend(&mut scope, holder, 0, N);
        let events = scope.gc_events();
        let fast = page_promotions(&events, GcKind::Minor);
        assert!(!fast.is_empty(), "no minor GC promoted by pages: {:?}", events.iter().map(|e| (e.kind, e.survived_bytes, e.promoted_pages)).collect::<Vec<_>>());
        for e in &fast {
            assert_eq!(e.survived_bytes, 0, "a promotion by pages copies nothing: {e:?}");
            assert!(e.promoted_bytes > 0 && e.predicted_scavenge.is_none(), "{e:?}");
            assert!(e.phases.iter().any(|(p, _)| *p == isogc::Phase::PagePromotion), "{e:?}");
        }
        check_list(&mut scope, holder, N, "after the promotions");
        scope.collect_garbage(GcRequest::Minor);
        scope.collect_garbage(GcRequest::Major);
        check_list(&mut scope, holder, N, "after a major GC");
    }
}

both_modes! {
    /// Objects that die young never switch fast promotion on.
    fn dying_objects_are_scavenged_not_promoted_by_pages(mode: GcMode) {
        let platform = Platform::new(1).unwrap();
        let mut isolate = Isolate::new(&platform, test_config_in(mode)).unwrap();
        let mut scope = HandleScope::new(&mut isolate);
        for i in 0..40_000 {
            let mut s = HandleScope::new(&mut scope);
            let a = s.new_fixed_array(2).unwrap();
            s.set(a, 0, Smi::new(i).unwrap());
        }
        let events = scope.gc_events();
        assert!(events.iter().filter(|e| e.kind == GcKind::Minor).count() >= 3);
        assert!(page_promotions(&events, GcKind::Minor).is_empty());
    }
}

/// `fast_promotion: false`: every minor GC scavenges, even when everything
/// survives.
#[test]
fn fast_promotion_off_always_scavenges() {
    let platform = Platform::new(1).unwrap();
    let mut isolate = Isolate::new(&platform, HeapConfig { fast_promotion: false, ..test_config() }).unwrap();
    let mut scope = HandleScope::new(&mut isolate);
    let holder = scope.new_fixed_array(1).unwrap();
    prepend(&mut scope, holder, 0, 40_000);
    let events = scope.gc_events();
    assert!(events.iter().filter(|e| e.kind == GcKind::Minor).count() >= 3);
    assert!(page_promotions(&events, GcKind::Minor).is_empty());
    check_list(&mut scope, holder, 40_000, "after scavenges");
}

/// Fast promotion while a compacting marking cycle runs: old objects on
/// evacuation candidates are referenced from young objects marking already
/// visited; their pages are promoted as pages, the cycle finishes and
/// compacts, and every pointer from the promoted pages into moved objects is
/// updated (their slots were recorded while they were young).
#[test]
fn promotion_by_pages_during_a_compacting_cycle_keeps_pointers_into_moved_objects() {
    let platform = Platform::new(1).unwrap();
    let cfg = HeapConfig { stress_compaction: true, ..test_config_in(GcMode::Concurrent) };
    let mut isolate = Isolate::new(&platform, cfg).unwrap();
    let mut scope = HandleScope::new(&mut isolate);
    // Old objects, each holding its number, on pages that will move.
    const OLD: usize = 3000;
    let olds = scope.new_fixed_array(OLD).unwrap();
    for i in 0..OLD {
        let o = scope.new_number(i as f64).unwrap();
        scope.set(olds, i, o);
    }
    // Survived twice: old now (promoted by age), and swept.
    scope.collect_garbage(GcRequest::Minor);
    scope.collect_garbage(GcRequest::Minor);
    scope.collect_garbage(GcRequest::Major);
    scope.collect_garbage(GcRequest::FinishSweeping);
    scope.collect_garbage(GcRequest::StartMarking);
    // Young nodes pointing at the old numbers, all kept: new space fills
    // and is promoted by pages while marking runs (and marking steps visit
    // the young nodes on the allocation path).
    let holder = scope.new_fixed_array(1).unwrap();
    const N: usize = 30_000;
    for i in 0..N {
        let mut s = HandleScope::new(&mut scope);
        let node = s.new_fixed_array(3).unwrap();
        s.set(node, 0, Smi::new(i as i64).unwrap());
        let next = s.get(holder, 0);
        s.set(node, 1, next);
        let n = s.get(olds, i % OLD);
        s.set(node, 2, n);
        s.set(holder, 0, node);
    }
    scope.collect_garbage(GcRequest::FinishMarking);
    let events = scope.gc_events();
    let start = events.iter().position(|e| e.kind == GcKind::MarkingStart).unwrap();
    let during: Vec<_> = events[start..].iter().filter(|e| e.kind == GcKind::Minor && e.promoted_pages > 0).collect();
    assert!(!during.is_empty(), "no promotion by pages during the cycle");
    let finish = events[start..].iter().find(|e| e.kind == GcKind::Major).unwrap();
    assert!(finish.evacuated_pages > 0, "the cycle compacted: {finish:?}");
    // Every node still sees its old number (moved by the compaction).
    let mut s = HandleScope::new(&mut scope);
    let mut node = s.get(holder, 0);
    for i in (0..N).rev() {
        let f = s.cast::<FixedArray, _>(node).unwrap();
        assert_eq!(s.get_smi(f, 0), Some(i as i64));
        assert_eq!(s.get_number(f, 2), Some((i % OLD) as f64), "node {i}'s old number");
        node = s.get(f, 1);
    }
}

/// An atomic major GC that finds most of new space live promotes it by
/// pages (no scavenge in its pause); the dead young objects among them are
/// swept, and a weak handle to one is cleared. (An incremental cycle's
/// marks overstate young survival, floating garbage included, so its
/// finalization promotes by pages only while fast promotion is on.)
#[test]
fn an_atomic_major_gc_promotes_a_mostly_live_new_space_by_pages() {
    {
        let mode = GcMode::StopTheWorld;
        let platform = Platform::new(1).unwrap();
        let cfg = HeapConfig { fast_promotion: false, ..test_config_in(mode).with_semi_spaces(MB, MB) };
        let mut isolate = Isolate::new(&platform, cfg).unwrap();
        let mut scope = HandleScope::new(&mut isolate);
        let holder = scope.new_fixed_array(1).unwrap();
        scope.collect_garbage(GcRequest::Minor); // the holder is a survivor now
        let dead = {
            let mut s = HandleScope::new(&mut scope);
            let d = s.new_fixed_array(4).unwrap();
            s.weak(d)
        };
        // About 700 KB of live nodes: new space (1 MiB) does not fill.
        const N: usize = 20_000;
        prepend(&mut scope, holder, 0, N);
        let minors = scope.heap_stats().minor_gcs;
        // A major GC that is not memory-reducing: in stop-the-world mode the
        // atomic GC `StartMarking` runs.
        scope.collect_garbage(GcRequest::StartMarking);
        assert_eq!(scope.heap_stats().minor_gcs, minors, "new space did not fill");
        let events = scope.gc_events();
        let major = events.iter().rev().find(|e| e.kind == GcKind::Major).unwrap();
        assert!(major.promoted_pages > 0 && major.survived_bytes == 0, "{major:?}");
        assert!(!major.phases.iter().any(|(p, _)| *p == isogc::Phase::Scavenge), "{major:?}");
        assert!(scope.open_weak(&dead).is_none(), "the dead young object's weak handle is cleared");
        check_list(&mut scope, holder, N, "after the major GC");
        scope.collect_garbage(GcRequest::FinishSweeping);
        scope.collect_garbage(GcRequest::Major);
        check_list(&mut scope, holder, N, "after a memory-reducing major GC");
    }
}

/// The pause budget bounds the nursery: with everything surviving (and fast
/// promotion off), a 1 ms target keeps new space below its maximum, where a
/// 1 s target lets V8's rules grow it to the maximum.
#[test]
fn the_pause_target_keeps_a_high_survival_nursery_small() {
    let largest_semi_space = |target: Duration| {
        let platform = Platform::new(1).unwrap();
        let cfg = HeapConfig {
            fast_promotion: false,
            pause_target: target,
            verify_heap: false,
            ..test_config().with_semi_spaces(256 * KB, 4 * MB)
        };
        let mut isolate = Isolate::new(&platform, cfg).unwrap();
        let mut scope = HandleScope::new(&mut isolate);
        let holder = scope.new_fixed_array(1).unwrap();
        prepend(&mut scope, holder, 0, 400_000);
        let events = scope.gc_events();
        assert!(events.iter().any(|e| e.kind == GcKind::Minor));
        events.iter().filter(|e| e.kind == GcKind::Minor).map(|e| e.semi_space_size).max().unwrap()
    };
    let relaxed = largest_semi_space(Duration::from_secs(1));
    let tight = largest_semi_space(Duration::from_millis(1));
    assert_eq!(relaxed, 4 * MB, "a 1 s budget does not hold V8's growth back");
    assert!(tight < relaxed, "a 1 ms budget keeps new space smaller: {tight} vs {relaxed}");
}

both_modes! {
    /// Fast promotion stops short of the hard limit (the last pages are
    /// scavenged): with everything surviving, allocation ends in
    /// `Err(OutOfMemory)` after the last-resort GC, never in a panic or a
    /// promotion loop; the list built so far is intact and the isolate
    /// stays usable.
    fn everything_surviving_up_to_the_hard_limit_ends_in_out_of_memory(mode: GcMode) {
        let platform = Platform::new(1).unwrap();
        let cfg = HeapConfig {
            max_old_space_size: 4 * MB,
            initial_old_space_size: 2 * MB,
            ..test_config_in(mode)
        };
        let mut isolate = Isolate::new(&platform, cfg).unwrap();
        let mut scope = HandleScope::new(&mut isolate);
        let holder = scope.new_fixed_array(1).unwrap();
        let mut made = 0;
        let err = loop {
            let mut s = HandleScope::new(&mut scope);
            let node = match s.new_fixed_array(2) {
                Ok(n) => n,
                Err(e) => break e,
            };
            s.set(node, 0, Smi::new(made as i64).unwrap());
            let next = s.get(holder, 0);
            s.set(node, 1, next);
            s.set(holder, 0, node);
            made += 1;
            assert!(made < 1_000_000, "the hard limit was never reached");
        };
        assert!(matches!(err, isogc::AllocError::OutOfMemory { .. }), "{err:?}");
        let events = scope.gc_events();
        assert!(!page_promotions(&events, GcKind::Minor).is_empty(), "fast promotion ran on the way");
        check_list(&mut scope, holder, made, "after running out of memory");
        // Still usable: drop the list and allocate again.
        scope.set(holder, 0, Smi::from(0));
        scope.collect_garbage(GcRequest::Major);
        scope.new_fixed_array(2).unwrap();
    }
}

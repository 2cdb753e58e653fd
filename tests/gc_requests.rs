//! What a caller may ask the collector for (`GcRequest`), each request in
//! both modes: the pause it runs (as recorded in the GC events), what it
//! leaves behind, and that the isolate goes on working after every one of
//! them in any order (a request never wedges the isolate).

mod common;

use common::*;
use isogc::*;

/// An isolate in `mode` whose major GCs start only when a test asks (a
/// 256 MiB initial old generation), with the heap verified after each GC.
fn isolate(platform: &Platform, mode: GcMode) -> Isolate {
    Isolate::new(platform, test_config_in(mode).with_initial_old_space(256 * MB)).unwrap()
}

/// Old objects to mark and sweep: `n` arrays of 64 slots promoted to old
/// space, every other one kept by `root` (the rest become garbage).
fn old_graph(isolate: &mut Isolate, n: usize) -> Global<FixedArray> {
    let mut scope = HandleScope::new(isolate);
    let root = scope.new_fixed_array(n / 2).unwrap();
    for i in 0..n {
        let mut s = HandleScope::new(&mut scope);
        let a = s.new_fixed_array(64).unwrap();
        s.set(a, 0, Smi::from(i as i32));
        if i % 2 == 0 {
            s.set(root, i / 2, a);
        }
    }
    // Twice: survivors are promoted on their second scavenge.
    scope.collect_garbage(GcRequest::Minor);
    scope.collect_garbage(GcRequest::Minor);
    scope.global(root)
}

/// Checks that the graph `old_graph` built is intact.
fn check_graph(isolate: &mut Isolate, root: &Global<FixedArray>) {
    let mut scope = HandleScope::new(isolate);
    let root = scope.open(root);
    for j in 0..scope.length(root) {
        let a = scope.get(root, j);
        let a = scope.cast::<FixedArray, _>(a).unwrap();
        assert_eq!(scope.get_smi(a, 0), Some(2 * j as i64));
    }
}

/// Runs `r`; returns the kind and reason of each GC event it recorded.
fn request(isolate: &mut Isolate, r: GcRequest) -> Vec<(GcKind, GcReason)> {
    let before = isolate.next_gc_event();
    isolate.collect_garbage(r);
    isolate.gc_event_iter(before).map(|(_, e)| (e.kind, e.reason)).collect()
}

both_modes! {
    fn minor_runs_one_requested_scavenge(mode: GcMode) {
        let platform = Platform::new(1).unwrap();
        let mut iso = isolate(&platform, mode);
        let root = old_graph(&mut iso, 64);
        assert_eq!(request(&mut iso, GcRequest::Minor), [(GcKind::Minor, GcReason::Requested)]);
        // A scavenge reports the pause the controller predicted for it, and
        // the time its roots and remembered set took.
        let e = iso.gc_events().last().cloned().unwrap();
        assert!(e.predicted_scavenge.is_some_and(|p| p > std::time::Duration::ZERO), "{e:?}");
        assert!(e.scavenge_roots > std::time::Duration::ZERO);
        check_graph(&mut iso, &root);
    }
}

both_modes! {
    fn major_runs_one_atomic_major_gc_and_frees_the_garbage(mode: GcMode) {
        let platform = Platform::new(1).unwrap();
        let mut iso = isolate(&platform, mode);
        let root = old_graph(&mut iso, 400);
        assert_eq!(request(&mut iso, GcRequest::Major), [(GcKind::Major, GcReason::Requested)]);
        assert_eq!(iso.gc_events().last().unwrap().predicted_scavenge, None, "only minor GCs are predicted");
        // The dead half is gone once sweeping is done.
        iso.collect_garbage(GcRequest::FinishSweeping);
        let objects = iso.heap_object_counts().objects("old_space");
        assert!(objects < 300, "{objects} old objects left of 200 live");
        check_graph(&mut iso, &root);
    }
}

#[test]
fn major_abandons_a_marking_cycle_in_progress() {
    let platform = Platform::new(1).unwrap();
    let mut iso = isolate(&platform, GcMode::Concurrent);
    let root = old_graph(&mut iso, 64);
    iso.collect_garbage(GcRequest::StartMarking);
    assert_eq!(request(&mut iso, GcRequest::Major), [(GcKind::Major, GcReason::Requested)]);
    // No cycle is left to finish: the request is a no-op.
    assert!(request(&mut iso, GcRequest::FinishMarking).is_empty());
    check_graph(&mut iso, &root);
}

#[test]
fn start_marking_starts_one_concurrent_cycle_that_finish_marking_finalizes() {
    let platform = Platform::new(1).unwrap();
    let mut iso = isolate(&platform, GcMode::Concurrent);
    let root = old_graph(&mut iso, 64);
    assert_eq!(request(&mut iso, GcRequest::StartMarking), [(GcKind::MarkingStart, GcReason::Requested)]);
    // A cycle runs already: asking again starts nothing.
    assert!(request(&mut iso, GcRequest::StartMarking).is_empty(), "a second start while marking");
    // The mutator goes on, with scavenges in the middle of the cycle.
    {
        let mut scope = HandleScope::new(&mut iso);
        let keep = scope.new_fixed_array(16).unwrap();
        for i in 0..16 {
            let a = scope.new_fixed_array(8).unwrap();
            scope.set(keep, i, a);
        }
        scope.collect_garbage(GcRequest::Minor);
        let _ = scope.global(keep);
    }
    let before = iso.gc_events().len();
    assert_eq!(request(&mut iso, GcRequest::FinishMarking), [(GcKind::Major, GcReason::Requested)]);
    let events = &iso.gc_events()[before..];
    assert!(events[0].phases.iter().any(|&(p, _)| p == Phase::Mark), "the finalization marks");
    check_graph(&mut iso, &root);
}

#[test]
fn start_marking_in_stop_the_world_mode_runs_the_major_gc_at_once() {
    let platform = Platform::new(1).unwrap();
    let mut iso = isolate(&platform, GcMode::StopTheWorld);
    let root = old_graph(&mut iso, 64);
    assert_eq!(request(&mut iso, GcRequest::StartMarking), [(GcKind::Major, GcReason::Requested)]);
    // No cycle ever runs in this mode: nothing to finish.
    assert!(request(&mut iso, GcRequest::FinishMarking).is_empty());
    check_graph(&mut iso, &root);
}

#[test]
fn finish_sweeping_sweeps_every_pending_page_in_one_step() {
    let platform = Platform::new(0).unwrap(); // no background sweeper
    let mut iso = isolate(&platform, GcMode::Concurrent);
    let root = old_graph(&mut iso, 2000);
    iso.collect_garbage(GcRequest::Major);
    let pending = iso.heap_stats().pages_pending_sweep;
    assert!(pending > 0, "a concurrent-mode major GC leaves pages to sweep");
    assert_eq!(request(&mut iso, GcRequest::FinishSweeping), [(GcKind::SweepingStep, GcReason::Requested)]);
    assert_eq!(iso.heap_stats().pages_pending_sweep, 0);
    // Nothing is left: a second request records nothing.
    assert!(request(&mut iso, GcRequest::FinishSweeping).is_empty());
    check_graph(&mut iso, &root);
}

#[test]
fn finish_sweeping_in_stop_the_world_mode_has_nothing_to_do() {
    let platform = Platform::new(1).unwrap();
    let mut iso = isolate(&platform, GcMode::StopTheWorld);
    let root = old_graph(&mut iso, 400);
    iso.collect_garbage(GcRequest::Major);
    assert_eq!(iso.heap_stats().pages_pending_sweep, 0, "the pause swept everything");
    assert!(request(&mut iso, GcRequest::FinishSweeping).is_empty());
    check_graph(&mut iso, &root);
}

both_modes! {
    /// The bug this API replaced: asking for a marking step wedged the
    /// isolate for good. Every request, in every order, leaves it usable.
    fn every_request_in_any_order_leaves_the_isolate_usable(mode: GcMode) {
        let all = [
            GcRequest::Minor,
            GcRequest::Major,
            GcRequest::StartMarking,
            GcRequest::FinishMarking,
            GcRequest::FinishSweeping,
        ];
        let platform = Platform::new(1).unwrap();
        let mut iso = isolate(&platform, mode);
        let root = old_graph(&mut iso, 200);
        for &a in &all {
            for &b in &all {
                iso.collect_garbage(a);
                {
                    let mut scope = HandleScope::new(&mut iso);
                    for _ in 0..64 {
                        scope.new_fixed_array(32).unwrap();
                    }
                }
                iso.collect_garbage(b);
                iso.collect_garbage(GcRequest::Minor);
                check_graph(&mut iso, &root);
            }
        }
    }
}

//! Observability that costs nothing when unused: the GC event history as a
//! bounded ring read incrementally by sequence number, heap statistics
//! without a heap walk (object counts from a separate walking call), the
//! "is marking / sweeping in progress" queries, and GC prologue and epilogue
//! callbacks, which cannot re-enter the collector: one that tries (through
//! an isolate shared in a `RefCell`) panics with a message saying so, and
//! leaves the isolate usable.

mod common;

use common::*;
use isogc::*;
use std::cell::{Cell, RefCell};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;

/// An isolate whose major GCs start only when a test asks.
fn isolate_with(platform: &Platform, config: HeapConfig) -> Isolate {
    Isolate::new(platform, HeapConfig { initial_old_space_size: 256 * MB, ..config }).unwrap()
}

/// `n` arrays of 64 slots, kept by a global and promoted to old space by two
/// scavenges.
fn old_arrays(isolate: &mut Isolate, n: usize) -> Global<FixedArray> {
    let mut scope = HandleScope::new(isolate);
    let root = scope.new_fixed_array(n).unwrap();
    for i in 0..n {
        let mut s = HandleScope::new(&mut scope);
        let a = s.new_fixed_array(64).unwrap();
        s.set(a, 0, Smi::from(i as i32));
        s.set(root, i, a);
    }
    scope.collect_garbage(GcRequest::Minor);
    scope.collect_garbage(GcRequest::Minor);
    scope.global(root)
}

/// Checks the arrays `old_arrays` made.
fn check_arrays(isolate: &mut Isolate, root: &Global<FixedArray>) {
    let mut scope = HandleScope::new(isolate);
    let root = scope.open(root);
    for i in 0..scope.length(root) {
        let a = scope.get_as::<FixedArray, _>(root, i);
        assert_eq!(scope.get_smi(a, 0), Some(i as i64));
    }
}

// ----- The event history ------------------------------------------------------

#[test]
fn a_full_history_drops_its_oldest_event_and_numbering_goes_on() {
    let platform = Platform::new(1).unwrap();
    let mut iso = isolate_with(&platform, HeapConfig { gc_event_history: 5, ..test_config() });
    // Every event, as the epilogue sees it, to hold the ring against.
    let all = Rc::new(RefCell::new(Vec::new()));
    let sink = all.clone();
    iso.add_gc_epilogue_callback(move |info| sink.borrow_mut().push(info.event.unwrap().start));
    for _ in 0..12 {
        iso.collect_garbage(GcRequest::Minor);
    }
    assert_eq!(iso.next_gc_event(), 12);
    let kept = iso.gc_events();
    assert_eq!(kept.len(), 5, "the ring holds its bound");
    let starts: Vec<_> = kept.iter().map(|e| e.start).collect();
    assert_eq!(starts, all.borrow()[7..], "the five most recent, oldest first");
    let numbers: Vec<u64> = iso.gc_event_iter(0).map(|(n, _)| n).collect();
    assert_eq!(numbers, [7, 8, 9, 10, 11], "numbers count on past the bound");
    // A reader that last saw event 3 learns that 4, 5 and 6 were dropped.
    let (events, next) = iso.gc_events_since(4);
    assert_eq!((events.len(), next), (5, 12));
    assert_eq!(iso.gc_event_iter(4).next().unwrap().0, 7);
}

#[test]
fn incremental_reads_return_only_the_events_since_the_last_read() {
    let platform = Platform::new(1).unwrap();
    let mut iso = isolate_with(&platform, test_config());
    let (none, n0) = iso.gc_events_since(0);
    assert!(none.is_empty());
    assert_eq!(n0, 0);
    iso.collect_garbage(GcRequest::Minor);
    iso.collect_garbage(GcRequest::Major);
    let (first, n1) = iso.gc_events_since(n0);
    assert_eq!(first.iter().map(|e| e.kind).collect::<Vec<_>>(), [GcKind::Minor, GcKind::Major]);
    assert_eq!(n1, 2);
    for _ in 0..3 {
        iso.collect_garbage(GcRequest::Minor);
    }
    let (second, n2) = iso.gc_events_since(n1);
    assert_eq!(second.len(), 3);
    assert!(second.iter().all(|e| e.kind == GcKind::Minor && e.reason == GcReason::Requested));
    assert_eq!(n2, 5);
    // Nothing new; a number from the future is nothing yet.
    assert!(iso.gc_events_since(n2).0.is_empty());
    let (future, next) = iso.gc_events_since(n2 + 100);
    assert!(future.is_empty());
    assert_eq!(next, n2);
    // The borrowing reader sees the same events, numbered.
    let borrowed: Vec<_> = iso.gc_event_iter(n1).map(|(n, e)| (n, e.start)).collect();
    assert_eq!(borrowed, [(2, second[0].start), (3, second[1].start), (4, second[2].start)]);
    assert_eq!(iso.gc_event_iter(n1).len(), 3);
    // The whole history is the reads put together.
    let whole: Vec<_> = iso.gc_events().iter().map(|e| e.start).collect();
    let pieces: Vec<_> = first.iter().chain(&second).map(|e| e.start).collect();
    assert_eq!(whole, pieces);
}

#[test]
fn a_zero_history_keeps_no_event_but_the_epilogue_streams_each() {
    let platform = Platform::new(1).unwrap();
    let mut iso = isolate_with(&platform, HeapConfig { gc_event_history: 0, ..test_config() });
    let seen = Rc::new(RefCell::new(Vec::new()));
    let sink = seen.clone();
    iso.add_gc_epilogue_callback(move |info| sink.borrow_mut().extend(info.event.map(|e| e.kind)));
    iso.collect_garbage(GcRequest::Minor);
    iso.collect_garbage(GcRequest::Major);
    assert!(iso.gc_events().is_empty());
    assert_eq!(iso.gc_event_iter(0).len(), 0);
    assert_eq!(iso.next_gc_event(), 2);
    assert_eq!(*seen.borrow(), [GcKind::Minor, GcKind::Major]);
}

#[test]
fn a_history_bound_above_the_maximum_is_a_config_error_naming_the_field() {
    let platform = Platform::new(1).unwrap();
    let config = HeapConfig { gc_event_history: MAX_GC_EVENT_HISTORY + 1, ..HeapConfig::default() };
    let e = Isolate::new(&platform, config).unwrap_err();
    assert!(matches!(e, ConfigError::Invalid { field: "gc_event_history", .. }), "{e}");
}

#[test]
fn an_event_reports_the_bytes_it_takes_in_the_history() {
    let platform = Platform::new(2).unwrap();
    let mut iso = isolate_with(&platform, test_config());
    let root = old_arrays(&mut iso, 200);
    iso.collect_garbage(GcRequest::Major);
    for e in iso.gc_events() {
        let vectors = e.phases.len() * std::mem::size_of::<(Phase, std::time::Duration)>()
            + e.spans.len() * std::mem::size_of::<GcSpan>();
        // Trimmed when recorded: what the vectors hold, not what they grew to.
        assert_eq!(e.heap_bytes(), std::mem::size_of::<GcEvent>() + vectors, "{e:?}");
    }
    check_arrays(&mut iso, &root);
}

// ----- Heap statistics ---------------------------------------------------------

both_modes! {
    /// `heap_stats()` reads the spaces' own counters; the walking call
    /// counts the same bytes object by object, on a quiet heap (sweeping
    /// done) and with young, old, large and map-space objects in it.
    fn heap_stats_match_the_walking_counts(mode: GcMode) {
        let platform = Platform::new(2).unwrap();
        let mut iso = isolate_with(&platform, test_config_in(mode));
        let root = old_arrays(&mut iso, 300);
        {
            let mut scope = HandleScope::new(&mut iso);
            let big = scope.new_fixed_array(40_000).unwrap();
            scope.new_map(&ObjectLayout { name: "P".into(), tagged_fields: 1, raw_bytes: 0, ..Default::default() }).unwrap();
            for _ in 0..100 {
                scope.new_string("young").unwrap();
            }
            let _ = scope.global(big);
        }
        let check = |iso: &Isolate, when: &str| {
            let stats = iso.heap_stats();
            let counts = iso.heap_object_counts();
            for (s, c) in stats.spaces.iter().zip(&counts.spaces) {
                assert_eq!(s.name, c.name);
                assert_eq!(s.used, c.bytes, "{when}: {s:?} {c:?}");
            }
        };
        check(&iso, "after allocation");
        iso.collect_garbage(GcRequest::Major);
        iso.collect_garbage(GcRequest::FinishSweeping);
        check(&iso, "after a major GC and its sweeping");
        check_arrays(&mut iso, &root);
    }
}

// ----- Marking and sweeping in progress ----------------------------------------

#[test]
fn is_marking_and_is_sweeping_follow_the_concurrent_cycle() {
    let platform = Platform::new(1).unwrap();
    let mut iso = isolate_with(&platform, test_config_in(GcMode::Concurrent));
    assert!(!iso.is_marking() && !iso.is_sweeping());
    let root = old_arrays(&mut iso, 400);
    assert!(!iso.is_marking() && !iso.is_sweeping(), "scavenges neither mark nor sweep");
    iso.collect_garbage(GcRequest::StartMarking);
    assert!(iso.is_marking());
    assert!(!iso.is_sweeping(), "marking starts after sweeping is finished");
    {
        // Also through a scope (it derefs to its isolate).
        let mut scope = HandleScope::new(&mut iso);
        assert!(scope.is_marking());
        scope.new_fixed_array(8).unwrap();
        scope.collect_garbage(GcRequest::Minor);
        assert!(scope.is_marking(), "a scavenge does not end the cycle");
    }
    iso.collect_garbage(GcRequest::FinishMarking);
    assert!(!iso.is_marking());
    assert!(iso.is_sweeping(), "the finalization leaves old pages to the sweepers");
    assert!(HandleScope::new(&mut iso).is_sweeping());
    iso.collect_garbage(GcRequest::FinishSweeping);
    assert!(!iso.is_marking() && !iso.is_sweeping());
    assert_eq!(iso.heap_stats().pages_pending_sweep, 0);
    check_arrays(&mut iso, &root);
}

#[test]
fn stop_the_world_marks_and_sweeps_inside_the_pause() {
    let platform = Platform::new(1).unwrap();
    let mut iso = isolate_with(&platform, test_config_in(GcMode::StopTheWorld));
    let root = old_arrays(&mut iso, 400);
    for r in [GcRequest::StartMarking, GcRequest::FinishMarking, GcRequest::Major] {
        iso.collect_garbage(r);
        assert!(!iso.is_marking(), "{r:?}: no cycle outlives a pause");
    }
    iso.collect_garbage(GcRequest::FinishSweeping);
    assert!(!iso.is_sweeping());
    check_arrays(&mut iso, &root);
}

// ----- Prologue and epilogue callbacks -----------------------------------------

type Log = Rc<RefCell<Vec<(&'static str, GcKind, GcReason)>>>;

/// Registers a prologue and an epilogue callback that log each call.
fn log_callbacks(iso: &mut Isolate) -> (Log, GcCallbackId, GcCallbackId) {
    let log: Log = Rc::default();
    let (a, b) = (log.clone(), log.clone());
    let pro = iso.add_gc_prologue_callback(move |i| {
        assert!(i.event.is_none(), "a prologue has no event yet");
        a.borrow_mut().push(("prologue", i.kind, i.reason));
    });
    let epi = iso.add_gc_epilogue_callback(move |i| {
        if let Some(e) = i.event {
            assert_eq!((e.kind, e.reason), (i.kind, i.reason));
        }
        b.borrow_mut().push(("epilogue", i.kind, i.reason));
    });
    (log, pro, epi)
}

#[test]
fn prologue_and_epilogue_bracket_each_pause_in_order() {
    let platform = Platform::new(1).unwrap();
    let mut iso = isolate_with(&platform, test_config_in(GcMode::Concurrent));
    let root = old_arrays(&mut iso, 400);
    let (log, pro, epi) = log_callbacks(&mut iso);
    let first = iso.next_gc_event();
    for r in [
        GcRequest::Minor,
        GcRequest::StartMarking,
        GcRequest::FinishMarking,
        GcRequest::FinishSweeping,
        GcRequest::Major,
    ] {
        iso.collect_garbage(r);
    }
    use GcKind::*;
    let rq = GcReason::Requested;
    let expected = [Minor, MarkingStart, Major, SweepingStep, Major]
        .iter()
        .flat_map(|&k| [("prologue", k, rq), ("epilogue", k, rq)])
        .collect::<Vec<_>>();
    assert_eq!(*log.borrow(), expected);
    assert_eq!(iso.next_gc_event() - first, 5, "one event per pause");
    // Removed, a callback is called no more; its id is spent.
    assert!(iso.remove_gc_callback(pro));
    assert!(!iso.remove_gc_callback(pro));
    iso.collect_garbage(GcRequest::Minor);
    assert_eq!(log.borrow().last(), Some(&("epilogue", Minor, rq)));
    assert_eq!(log.borrow().len(), expected.len() + 1);
    assert!(iso.remove_gc_callback(epi));
    iso.collect_garbage(GcRequest::Minor);
    assert_eq!(log.borrow().len(), expected.len() + 1);
    check_arrays(&mut iso, &root);
}

both_modes! {
    /// Under allocation (scavenges, in concurrent mode marking steps and
    /// lazy sweeping too) every prologue is followed by its epilogue, and
    /// the epilogues see exactly the events recorded.
    fn callbacks_pair_up_under_allocation(mode: GcMode) {
        let platform = Platform::new(1).unwrap();
        let config = test_config_in(mode).with_initial_old_space(2 * MB);
        let mut iso = Isolate::new(&platform, config).unwrap();
        let (log, _, _) = log_callbacks(&mut iso);
        let events = Rc::new(Cell::new(0u64));
        let count = events.clone();
        iso.add_gc_epilogue_callback(move |i| count.set(count.get() + i.event.is_some() as u64));
        {
            let mut scope = HandleScope::new(&mut iso);
            let keep = scope.new_fixed_array(2000).unwrap();
            for i in 0..30_000 {
                let mut s = HandleScope::new(&mut scope);
                let a = s.new_fixed_array(32).unwrap();
                s.set(keep, i % 2000, a);
            }
        }
        let log = log.borrow();
        assert!(log.len() >= 4, "the loop ran GCs: {}", log.len());
        for pair in log.chunks(2) {
            assert_eq!(pair[0].0, "prologue", "{pair:?}");
            assert_eq!((pair[1].0, pair[1].1, pair[1].2), ("epilogue", pair[0].1, pair[0].2));
        }
        assert_eq!(events.get(), iso.next_gc_event());
        assert!(log.iter().any(|l| l.1 == GcKind::Major), "the old generation reached its limit");
    }
}

// ----- Misuse: callbacks that re-enter the collector ---------------------------

/// An isolate shared the one way a `'static` callback can reach it.
fn shared_isolate(platform: &Platform, config: HeapConfig) -> Rc<RefCell<Isolate>> {
    Rc::new(RefCell::new(isolate_with(platform, config)))
}

fn expect_misuse(r: std::thread::Result<()>, when: &str) -> String {
    let m = panic_message(r.expect_err("the misuse must panic"));
    assert!(m.contains(&format!("GC {when} callback")), "names the callback: {m}");
    assert!(m.contains("must not allocate in or collect its own isolate"), "says what was misused: {m}");
    assert!(m.contains("still usable"), "{m}");
    m
}

#[test]
fn a_prologue_that_allocates_panics_and_leaves_the_isolate_usable() {
    let platform = Platform::new(1).unwrap();
    let iso = shared_isolate(&platform, test_config());
    let root = old_arrays(&mut iso.borrow_mut(), 50);
    let me = Rc::downgrade(&iso);
    let id = iso.borrow_mut().add_gc_prologue_callback(move |_| {
        let iso = me.upgrade().unwrap();
        let mut iso = iso.borrow_mut();
        HandleScope::new(&mut *iso).new_fixed_array(4).unwrap();
    });
    let before = iso.borrow().next_gc_event();
    let r = catch_unwind(AssertUnwindSafe(|| iso.borrow_mut().collect_garbage(GcRequest::Minor)));
    let m = expect_misuse(r, "prologue");
    assert!(m.contains("Minor GC"), "{m}");
    let mut iso = iso.borrow_mut();
    assert_eq!(iso.next_gc_event(), before + 1, "the GC itself completed");
    assert!(iso.remove_gc_callback(id));
    assert_usable(&mut HandleScope::new(&mut *iso));
    check_arrays(&mut iso, &root);
}

#[test]
fn an_epilogue_that_requests_a_gc_panics_and_leaves_the_isolate_usable() {
    let platform = Platform::new(1).unwrap();
    let iso = shared_isolate(&platform, test_config());
    let root = old_arrays(&mut iso.borrow_mut(), 50);
    let me = Rc::downgrade(&iso);
    let id = iso.borrow_mut().add_gc_epilogue_callback(move |_| {
        me.upgrade().unwrap().borrow_mut().collect_garbage(GcRequest::Major);
    });
    let r = catch_unwind(AssertUnwindSafe(|| iso.borrow_mut().collect_garbage(GcRequest::Major)));
    let m = expect_misuse(r, "epilogue");
    assert!(m.contains("Major GC"), "{m}");
    let mut iso = iso.borrow_mut();
    assert!(iso.remove_gc_callback(id));
    assert_usable(&mut HandleScope::new(&mut *iso));
    check_arrays(&mut iso, &root);
}

/// The harder place: the GC runs inside an allocation (a scavenge on the
/// slow path), so the panic comes out of `new_fixed_array`; the allocation
/// it interrupted is left as garbage, and the verifier (on after every GC)
/// finds the heap intact after.
#[test]
fn a_callback_that_collects_inside_an_allocation_panics_out_of_the_allocation() {
    let platform = Platform::new(1).unwrap();
    let iso = shared_isolate(&platform, test_config());
    let root = old_arrays(&mut iso.borrow_mut(), 50);
    let me = Rc::downgrade(&iso);
    let id = iso.borrow_mut().add_gc_prologue_callback(move |_| {
        me.upgrade().unwrap().borrow_mut().collect_garbage(GcRequest::Minor);
    });
    let before = iso.borrow().next_gc_event();
    let r = catch_unwind(AssertUnwindSafe(|| {
        let mut iso = iso.borrow_mut();
        let mut scope = HandleScope::new(&mut *iso);
        // 256 KiB semi-spaces: this fills new space and scavenges.
        for _ in 0..10_000 {
            let mut s = HandleScope::new(&mut scope);
            s.new_fixed_array(16).unwrap();
        }
    }));
    expect_misuse(r, "prologue");
    let mut iso = iso.borrow_mut();
    assert!(iso.next_gc_event() > before, "a scavenge ran inside the loop");
    assert!(iso.remove_gc_callback(id));
    assert_usable(&mut HandleScope::new(&mut *iso));
    check_arrays(&mut iso, &root);
}

/// A callback that panics in a marking step on the allocation path (the
/// driver holds the marking cycle outside its pause there): the cycle is
/// intact after, and finishes correctly.
#[test]
fn a_callback_panicking_in_a_marking_step_leaves_the_cycle_intact() {
    // No background marker: the schedule's steps on the allocation path do
    // all the marking, so one is bound to come.
    let platform = Platform::new(0).unwrap();
    let iso = shared_isolate(&platform, test_config_in(GcMode::Concurrent));
    let root = old_arrays(&mut iso.borrow_mut(), 400);
    let armed = Rc::new(Cell::new(true));
    let fire = armed.clone();
    iso.borrow_mut().add_gc_epilogue_callback(move |i| {
        if i.kind == GcKind::MarkingStep && fire.replace(false) {
            panic!("a bug in the embedder's callback");
        }
    });
    iso.borrow_mut().collect_garbage(GcRequest::StartMarking);
    let r = catch_unwind(AssertUnwindSafe(|| {
        let mut iso = iso.borrow_mut();
        let mut scope = HandleScope::new(&mut *iso);
        // Until the step's callback panics (the schedule asks for a step
        // once the time-based share of the heap is due).
        for _ in 0..50_000_000 {
            let mut s = HandleScope::new(&mut scope);
            s.new_fixed_array(16).unwrap();
        }
    }));
    let m = panic_message(r.expect_err("the callback panicked"));
    assert!(m.contains("GC epilogue callback") && m.contains("a bug in the embedder's callback"), "{m}");
    assert!(!armed.get());
    let mut iso = iso.borrow_mut();
    assert!(iso.is_marking(), "the cycle survived the panic");
    iso.collect_garbage(GcRequest::FinishMarking);
    iso.collect_garbage(GcRequest::FinishSweeping);
    assert_usable(&mut HandleScope::new(&mut *iso));
    check_arrays(&mut iso, &root);
}

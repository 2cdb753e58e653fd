//! Incremental marking (GcMode::Concurrent): cycles start at the soft limit,
//! advance in steps while the mutator runs, and finalize; the insertion
//! barrier keeps objects alive whose only reference the mutator moves during
//! marking. The heap is verified after every GC (tri-colour invariant and
//! live bytes included after each marking).

mod common;

use common::*;
use isogc::*;

const SLOTS: usize = 64;

/// The tests' configuration in `mode`: marking cycles start at 1 MiB of old
/// generation.
fn config(mode: GcMode) -> HeapConfig {
    test_config_in(mode).with_initial_old_space(MB)
}

/// Two long-lived arrays, `a` and `b`, share `SLOTS` values: each value lives
/// in exactly one of them, and the mutator keeps moving values from one array
/// to the other (take the only reference out of one slot, store it into the
/// other array, clear the slot), while allocating garbage that drives marking
/// steps and scavenges. A lost object would be freed and caught by the
/// verifier or by the final check.
fn shuffle(mode: GcMode, rounds: usize) -> Vec<GcEvent> {
    let platform = Platform::new(2).unwrap();
    let mut isolate = Isolate::new(&platform, config(mode)).unwrap();
    {
        let mut scope = HandleScope::new(&mut isolate);
        let a = scope.new_fixed_array(SLOTS).unwrap();
        let b = scope.new_fixed_array(SLOTS).unwrap();
        for i in 0..SLOTS {
            let v = scope.new_fixed_array(3).unwrap();
            scope.set(v, 0, Smi::from(i as i32));
            let payload = scope.new_string(&format!("value {i}")).unwrap();
            scope.set(v, 1, payload);
            scope.set(a, i, v);
        }
        let keep = scope.new_fixed_array(512).unwrap();
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for round in 0..rounds {
            let mut s = HandleScope::new(&mut scope);
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let i = (x % SLOTS as u64) as usize;
            let in_a = s.get(a, i);
            let (from, to) = if s.is_undefined(in_a) { (b, a) } else { (a, b) };
            let v = s.get(from, i);
            if !s.is_undefined(v) {
                let undefined = s.undefined();
                s.set(from, i, undefined);
                s.set(to, i, v);
            }
            // Garbage, and now and then something long-lived (old-generation
            // growth that starts marking cycles).
            for _ in 0..8 {
                s.new_fixed_array(16).unwrap();
            }
            let l = s.new_fixed_array(64).unwrap();
            s.set(keep, round % 512, l);
        }
        // Every value is in exactly one array and intact.
        for i in 0..SLOTS {
            let (va, vb) = (scope.get(a, i), scope.get(b, i));
            let v = match (scope.is_undefined(va), scope.is_undefined(vb)) {
                (false, true) => va,
                (true, false) => vb,
                other => panic!("slot {i}: value in both or neither array: {other:?}"),
            };
            let v = scope.cast::<FixedArray, _>(v).unwrap();
            assert_eq!(scope.get_smi(v, 0), Some(i as i64));
            let p = scope.get(v, 1);
            let p = scope.cast::<HeapString, _>(p).unwrap();
            assert_eq!(scope.to_rust_string(p), format!("value {i}"));
        }
    }
    isolate.gc_events()
}

#[test]
fn incremental_cycles_start_step_and_finalize_without_losing_moved_objects() {
    let events = shuffle(GcMode::Concurrent, 60_000);
    let count = |k: GcKind| events.iter().filter(|e| e.kind == k).count();
    let finalized = events
        .iter()
        .filter(|e| {
            e.kind == GcKind::Major
                && matches!(
                    e.reason,
                    GcReason::MarkingComplete | GcReason::MarkingAtLimit | GcReason::OldGenerationLimit
                )
        })
        .count();
    assert!(count(GcKind::MarkingStart) >= 3, "marking cycles started: {}", count(GcKind::MarkingStart));
    assert!(count(GcKind::MarkingStep) > count(GcKind::MarkingStart), "steps ran between the pauses");
    assert!(finalized >= 3, "cycles finalized: {finalized}");
    // Scavenges ran while marking was in progress (between a start and its
    // finalization).
    let mut marking = false;
    let mut scavenges_during_marking = 0;
    for e in &events {
        match e.kind {
            GcKind::MarkingStart => marking = true,
            GcKind::Major => marking = false,
            GcKind::Minor if marking => scavenges_during_marking += 1,
            _ => {}
        }
    }
    assert!(scavenges_during_marking > 0, "no scavenge ran during marking");
    // Background workers marked while the mutator ran: their runs, on pool
    // threads, are reported with the finalization events.
    let background = events.iter().flat_map(|e| &e.spans).filter(|s| s.phase == Phase::ConcurrentMark).count();
    assert!(background > 0, "no background marking ran");
    // ... and the finalizations report what they marked: some of it by the
    // background workers, some by the steps, the rest in the pauses.
    let sum = |f: &dyn Fn(&GcEvent) -> usize| events.iter().map(f).sum::<usize>();
    assert!(sum(&|e| e.background_marked_bytes) > 0, "background marking is reported");
    assert!(
        sum(&|e| if e.kind == GcKind::MarkingStep { e.marked_bytes } else { 0 }) > 0,
        "steps report what they marked"
    );
    assert!(events.iter().all(|e| e.kind == GcKind::Major || e.background_marked_bytes == 0));
    // A scavenge run ahead of a finalization is followed by that
    // finalization, at once.
    for w in events.windows(2) {
        if w[0].reason == GcReason::BeforeFinalization {
            assert_eq!(w[0].kind, GcKind::Minor);
            assert!(
                w[1].kind == GcKind::Major
                    && matches!(w[1].reason, GcReason::MarkingComplete | GcReason::MarkingAtLimit),
                "{:?} after a scavenge before finalization",
                (w[1].kind, w[1].reason)
            );
        }
    }
    assert!(
        events.iter().flat_map(|e| &e.spans).filter(|s| s.phase == Phase::ConcurrentMark).all(|s| s.thread != 0),
        "background marking runs on pool threads"
    );
}

#[test]
fn without_gc_workers_marking_still_completes_on_the_mutators_steps() {
    let platform = Platform::new(0).unwrap();
    let mut isolate = Isolate::new(&platform, config(GcMode::Concurrent).with_gc_workers(0)).unwrap();
    let events = {
        let mut scope = HandleScope::new(&mut isolate);
        let keep = scope.new_fixed_array(512).unwrap();
        for round in 0..40_000 {
            let mut s = HandleScope::new(&mut scope);
            let l = s.new_fixed_array(64).unwrap();
            s.set(keep, round % 512, l);
        }
        drop(scope);
        isolate.gc_events()
    };
    // The cycles end on the steps alone: the schedule's (marking complete),
    // or, once the old generation reached its limit first, stepping at every
    // safepoint (marking at limit, which users see as the reason).
    assert!(events
        .iter()
        .any(|e| e.kind == GcKind::Major && matches!(e.reason, GcReason::MarkingComplete | GcReason::MarkingAtLimit)));
    assert!(events.iter().flat_map(|e| &e.spans).all(|s| s.phase != Phase::ConcurrentMark));
    // All of it was the mutator's: steps and pauses, nothing in the
    // background.
    assert!(events.iter().all(|e| e.background_marked_bytes == 0));
    assert!(events.iter().any(|e| e.kind == GcKind::MarkingStep && e.marked_bytes > 0));
}

#[test]
fn stop_the_world_mode_never_marks_incrementally() {
    let events = shuffle(GcMode::StopTheWorld, 30_000);
    assert!(events.iter().all(|e| !matches!(e.kind, GcKind::MarkingStart | GcKind::MarkingStep)));
    assert!(events.iter().any(|e| e.kind == GcKind::Major), "major GCs ran");
}

both_modes! {
    /// Arrays far longer than a marking slice (large objects) are scanned a
    /// slice at a time by several markers: an atomic GC on three tasks and
    /// incremental cycles (whose mutator keeps storing fresh objects into the
    /// arrays while they are being marked) both leave every element alive and
    /// intact; the verifier checks after each marking that no marked object
    /// points to an unmarked one and that every page's live bytes are exact (a
    /// slice counted twice, or one never scanned, fails it).
    fn large_arrays_are_marked_slice_by_slice_by_several_markers(mode: GcMode) {
        const ARRAYS: usize = 2;
        // Over half a page of slots: the arrays are large objects.
        const LEN: usize = 20_000;
        let platform = Platform::new(2).unwrap();
        let config = config(mode).with_semi_spaces(MB, MB).with_gc_workers(2);
        let mut isolate = Isolate::new(&platform, config).unwrap();
        let mut scope = HandleScope::new(&mut isolate);
        let root = scope.new_fixed_array(ARRAYS).unwrap();
        for a in 0..ARRAYS {
            let mut s = HandleScope::new(&mut scope);
            let arr = s.new_fixed_array(LEN).unwrap();
            s.set(root, a, arr);
            for i in 0..LEN {
                let mut s = HandleScope::new(&mut s);
                // 80-byte elements: over 2 MiB in all, so marking runs on
                // more than one task.
                let v = s.new_fixed_array(8).unwrap();
                s.set(v, 0, Smi::from((a * LEN + i) as i32));
                s.set(arr, i, v);
            }
        }
        let marked_by =
            |e: &GcEvent| e.spans.iter().filter(|s| s.phase == Phase::Mark && s.task.is_some()).map(|s| s.thread).max();
        // A pool helper joins a marking job only if it gets a thread before
        // the joining thread has finished the work alone (issue #15): on a
        // loaded machine a waking worker can miss one GC, not twenty.
        let on_pool = (0..20).any(|_| {
            scope.collect_garbage(GcRequest::Major);
            let atomic = scope.gc_events().into_iter().rev().find(|e| e.kind == GcKind::Major).unwrap();
            marked_by(&atomic).is_some_and(|t| t > 0)
        });
        assert!(on_pool, "the atomic marking ran on pool threads too");
        // Rewrite elements while the next cycle marks (in concurrent mode),
        // with promoted garbage (a ring of arrays) to drive it.
        let ring = scope.new_fixed_array(256).unwrap();
        let mut n = 0usize;
        let majors = scope.gc_events().iter().filter(|e| e.kind == GcKind::Major).count();
        while scope.gc_events().iter().filter(|e| e.kind == GcKind::Major).count() < majors + 1 {
            let mut s = HandleScope::new(&mut scope);
            let (a, i) = (n % ARRAYS, (n * 7919) % LEN);
            let arr = s.get(root, a);
            let arr = s.cast::<FixedArray, _>(arr).unwrap();
            let v = s.new_fixed_array(8).unwrap();
            s.set(v, 0, Smi::from((a * LEN + i) as i32));
            s.set(arr, i, v);
            let g = s.new_fixed_array(64).unwrap();
            s.set(ring, n % 256, g);
            n += 1;
        }
        if mode == GcMode::Concurrent {
            let finalized = scope.gc_events().iter().any(|e| {
                e.kind == GcKind::Major && matches!(e.reason, GcReason::MarkingComplete | GcReason::MarkingAtLimit | GcReason::OldGenerationLimit)
            });
            assert!(finalized, "an incremental cycle marked the arrays");
        }
        for a in 0..ARRAYS {
            let arr = scope.get(root, a);
            let arr = scope.cast::<FixedArray, _>(arr).unwrap();
            for i in 0..LEN {
                let v = scope.get(arr, i);
                let v = scope.cast::<FixedArray, _>(v).unwrap();
                assert_eq!(scope.get_smi(v, 0), Some((a * LEN + i) as i64), "{mode:?}: array {a}, element {i}");
            }
        }
    }
}

/// #13's bad input: live data that grows faster than marking can keep up
/// with, with no GC workers at all (only the mutator's steps mark) and a
/// hard limit. Every cycle still finishes, the old generation never passes
/// the limit, nothing is lost, and the fallback shows as a reason: a cycle
/// finished at the limit, or one completed in a single pause.
#[test]
fn live_data_outgrowing_marking_without_workers_finishes_every_cycle_within_the_limit() {
    const LIMIT: usize = 12 * MB;
    let platform = Platform::new(0).unwrap();
    let config = HeapConfig { max_old_space_size: LIMIT, ..config(GcMode::Concurrent).with_gc_workers(0) };
    let mut isolate = Isolate::new(&platform, config).unwrap();
    let mut scope = HandleScope::new(&mut isolate);
    let list = scope.new_fixed_array(1).unwrap();
    // About 6 MB live in links of 64 slots (about 0.5 KB each), with four
    // times as much garbage between them.
    let links = 6 * MB / (66 * 8);
    for i in 0..links {
        let mut s = HandleScope::new(&mut scope);
        for _ in 0..4 {
            s.new_fixed_array(64).unwrap();
        }
        let link = s.new_fixed_array(64).unwrap();
        let prev = s.get(list, 0);
        s.set(link, 0, prev);
        s.set(link, 1, Smi::from(i as i32));
        s.set(list, 0, link);
        let stats = s.heap_stats();
        let old: usize =
            ["old_space", "map_space", "large_object_space"].iter().map(|n| stats.space(n).unwrap().committed).sum();
        assert!(old <= LIMIT, "link {i}: {old} bytes of old generation, limit {LIMIT}");
    }
    let events = scope.gc_events();
    let finished = events.iter().filter(|e| e.kind == GcKind::Major).count();
    assert!(finished >= 2, "{finished} major GCs");
    // No cycle is left open at the end other than the one running now.
    let starts = events.iter().filter(|e| e.kind == GcKind::MarkingStart).count();
    assert!(starts <= finished + 1, "{starts} cycles started, {finished} finished");
    assert!(
        events
            .iter()
            .any(|e| e.kind == GcKind::Major
                && matches!(e.reason, GcReason::MarkingAtLimit | GcReason::OldGenerationLimit)),
        "the fallback left no reason: {:?}",
        events.iter().filter(|e| e.kind == GcKind::Major).map(|e| e.reason).collect::<Vec<_>>()
    );
    // Every link is still there, in order.
    let mut expect = links;
    let mut at = scope.get(list, 0);
    while let Some(link) = scope.cast::<FixedArray, _>(at) {
        expect -= 1;
        assert_eq!(scope.get_smi(link, 1), Some(expect as i64));
        at = scope.get(link, 0);
    }
    assert_eq!(expect, 0, "links lost");
}

//! Sweeping after a major GC (issue #5, `src/sweeper.rs`): pages marking
//! found empty go back to the page pool in the pause and are reused; the
//! memory of dead objects is reused cycle after cycle; in `Concurrent` mode
//! allocation sweeps lazily, one page of its space per recorded step, and
//! finishes the sweep only when the space cannot grow; the next marking
//! start or major GC finishes what is left; background sweepers sweep
//! without any allocation; scavenges while pages wait keep live old-to-new
//! references and drop the stale slots of dead objects; objects allocated
//! black during incremental marking survive it. `StopTheWorld` mode sweeps
//! everything in the pause.
//!
//! Most tests run on a platform without workers, so no background sweeper
//! ever runs: in `Concurrent` mode every page is swept by an allocation step
//! or by a finish, which makes the interleavings deterministic. The heap is
//! verified after every GC.
//!
//! Old-space objects are interned strings (the mutator's old-space
//! allocation: the free list, swept pages, sweeping steps, growth) and arrays
//! promoted by scavenges (for old-to-new references).

mod common;

use common::*;
use isogc::*;
use std::time::{Duration, Instant};

/// Slots of one holder array.
const CHUNK: usize = 1024;
/// Bytes of content of the small strings: with the 3-word header, a string
/// object is exactly [`SMALL_OBJECT`] bytes, 1 KiB.
const SMALL: usize = 1000;
const SMALL_OBJECT: usize = 1024;

/// Content of string `i` of a batch: unique to `tag` and `i`, `len` bytes.
fn content(tag: &str, i: usize, len: usize) -> String {
    let mut s = format!("{tag}#{i}#");
    assert!(s.len() <= len, "{len} bytes cannot hold {s:?}");
    while s.len() < len {
        s.push((b'a' + (s.len() % 26) as u8) as char);
    }
    s
}

/// A batch of interned strings of `len` bytes, allocated one by one in old
/// space; the ones kept stay reachable from holder arrays (young fixed
/// arrays held by globals), the others are garbage at once.
struct Strings {
    tag: String,
    len: usize,
    holders: Vec<Global<FixedArray>>,
    kept: Vec<bool>,
}

impl Strings {
    fn new(tag: &str, len: usize) -> Strings {
        Strings { tag: tag.to_string(), len, holders: Vec::new(), kept: Vec::new() }
    }

    /// Interns the next string.
    fn push(&mut self, scope: &mut HandleScope<'_>, keep: bool) {
        let i = self.kept.len();
        let mut s = HandleScope::new(scope);
        if i % CHUNK == 0 {
            let a = s.new_fixed_array(CHUNK).unwrap();
            self.holders.push(s.global(a));
        }
        let x = s.intern(&content(&self.tag, i, self.len)).unwrap();
        if keep {
            let a = s.open(&self.holders[i / CHUNK]);
            s.set(a, i % CHUNK, x);
        }
        self.kept.push(keep);
    }

    fn push_many(&mut self, scope: &mut HandleScope<'_>, n: usize, keep: impl Fn(usize) -> bool) {
        for _ in 0..n {
            let i = self.kept.len();
            self.push(scope, keep(i));
        }
    }

    /// Every kept string reads back as interned; every other slot is
    /// `undefined`.
    fn check(&self, scope: &mut HandleScope<'_>, when: &str) {
        for (c, holder) in self.holders.iter().enumerate() {
            let mut s = HandleScope::new(scope);
            let a = s.open(holder);
            for j in 0..CHUNK {
                let i = c * CHUNK + j;
                let v = s.get(a, j);
                match self.kept.get(i) {
                    Some(true) => {
                        let x =
                            s.cast::<HeapString, _>(v).unwrap_or_else(|| panic!("{when}: {} #{i} is gone", self.tag));
                        assert!(s.is_internalized(x), "{when}: {} #{i} is not internalized", self.tag);
                        assert_eq!(s.to_rust_string(x), content(&self.tag, i, self.len), "{when}: {} #{i}", self.tag);
                    }
                    _ => assert!(s.is_undefined(v), "{when}: slot of {} #{i} should be undefined", self.tag),
                }
            }
        }
    }
}

fn pending(scope: &HandleScope<'_>) -> usize {
    scope.heap_stats().pages_pending_sweep
}

fn count(events: &[GcEvent], kind: GcKind, reason: GcReason) -> usize {
    events.iter().filter(|e| e.kind == kind && e.reason == reason).count()
}

fn steps(scope: &HandleScope<'_>) -> (usize, usize) {
    let events = scope.gc_events();
    (
        count(&events, GcKind::SweepingStep, GcReason::AllocationStep),
        count(&events, GcKind::SweepingStep, GcReason::AllocationFailure),
    )
}

// ----- Empty pages ------------------------------------------------------------------

both_modes! {
    /// Three batches fill old pages one after another; the middle one dies. The
    /// pages it filled alone have no live byte: the major GC's pause gives them
    /// back to the page pool at once (in `Concurrent` mode while the other pages
    /// still wait for their sweep), and the next allocations take them from the
    /// pool again instead of committing new memory.
    fn empty_pages_are_released_in_the_pause_and_reused(mode: GcMode) {
        let platform = Platform::new(0).unwrap();
        let mut isolate = Isolate::new(&platform, test_config_in(mode).with_initial_old_space(32 * MB)).unwrap();
        let mut scope = HandleScope::new(&mut isolate);
        // The first scavenge commits the second semi-space; from then on the
        // committed bytes change only with old space.
        scope.collect_garbage(GcRequest::Minor);
        let mut a = Strings::new("a", SMALL);
        a.push_many(&mut scope, 300, |_| true);
        let mut b = Strings::new("b", SMALL);
        b.push_many(&mut scope, 1500, |_| true);
        let mut c = Strings::new("c", SMALL);
        c.push_many(&mut scope, 300, |_| true);
        let before = scope.heap_stats();
        let peak = scope.memory_usage().peak_committed;
        drop(b);
        scope.collect_garbage(GcRequest::Major);
        let after = scope.heap_stats();
        let old = |s: &HeapStats| s.space("old_space").unwrap().committed;
        let released = (old(&before) - old(&after)) / PAGE_SIZE;
        // 1500 KiB of dead strings cover at least 5 pages on their own.
        assert!(released >= 5, "{mode:?}: only {released} empty pages released");
        assert!(
            after.pooled >= before.pooled + released * PAGE_SIZE,
            "{mode:?}: the {released} released pages are not pooled: {} -> {} bytes",
            before.pooled,
            after.pooled
        );
        assert_eq!(after.committed + released * PAGE_SIZE, before.committed, "{mode:?}: committed bytes");
        match mode {
            GcMode::Concurrent => assert!(after.pages_pending_sweep > 0, "the pages of a and c wait for their sweep"),
            GcMode::StopTheWorld => assert_eq!(after.pages_pending_sweep, 0),
        }
        a.check(&mut scope, "after the major GC");
        c.check(&mut scope, "after the major GC");

        let mut d = Strings::new("d", SMALL);
        d.push_many(&mut scope, 1500, |_| true);
        let last = scope.heap_stats();
        let grown = old(&last).saturating_sub(old(&after));
        assert!(old(&last) <= old(&before), "{mode:?}: old space grew past its size before the GC");
        assert!(grown >= (released - 1) * PAGE_SIZE, "{mode:?}: d fits in {grown} new bytes?");
        assert!(
            last.pooled + grown <= after.pooled,
            "{mode:?}: old space grew by {grown} bytes but the pool only gave {}",
            after.pooled - last.pooled
        );
        assert_eq!(scope.memory_usage().peak_committed, peak, "{mode:?}: a new peak of committed memory");
        for (s, name) in [(&a, "a"), (&c, "c"), (&d, "d")] {
            s.check(&mut scope, &format!("{name} at the end"));
        }
        scope.collect_garbage(GcRequest::Major);
        for (s, name) in [(&a, "a"), (&c, "c"), (&d, "d")] {
            s.check(&mut scope, &format!("{name} after the last major GC"));
        }
    }
}

// ----- Reuse across cycles ----------------------------------------------------------

both_modes! {
    /// Cycle after cycle the mutator interns 1.5 MiB of strings, a quarter of
    /// which live until the next cycle, and a major GC follows. The memory of
    /// the dead ones is swept and allocated again: old space stops growing after
    /// the first cycles.
    fn old_space_stays_bounded_over_gc_cycles(mode: GcMode) {
        const CYCLES: usize = 12;
        let platform = Platform::new(0).unwrap();
        let mut isolate = Isolate::new(&platform, test_config_in(mode).with_initial_old_space(32 * MB)).unwrap();
        let mut scope = HandleScope::new(&mut isolate);
        let mut peaks = Vec::new();
        let mut previous: Option<Strings> = None;
        for cycle in 0..CYCLES {
            let mut s = Strings::new(&format!("cycle{cycle}"), SMALL);
            s.push_many(&mut scope, 1500, |i| i % 4 == 0);
            peaks.push(old_space(&scope).committed);
            if let Some(p) = &previous {
                p.check(&mut scope, &format!("{mode:?}: cycle {cycle}"));
            }
            previous = Some(s);
            scope.collect_garbage(GcRequest::Major);
        }
        previous.unwrap().check(&mut scope, "at the end");
        let early = *peaks[..4].iter().max().unwrap();
        let late = *peaks[4..].iter().max().unwrap();
        // One cycle allocates 6 pages' worth: without reuse old space would grow
        // by about that much every cycle.
        assert!(late <= early + PAGE_SIZE, "{mode:?}: old space keeps growing: {:?} pages", pages(&peaks));
        if mode == GcMode::Concurrent {
            // Each cycle after the first sweeps several pages of the last one by
            // allocating.
            let (lazy, _) = steps(&scope);
            assert!(lazy >= 2 * (CYCLES - 1), "{mode:?}: only {lazy} lazy sweeping steps in {CYCLES} cycles");
        }
    }
}

fn pages(bytes: &[usize]) -> Vec<usize> {
    bytes.iter().map(|b| b / PAGE_SIZE).collect()
}

// ----- Lazy sweeping ----------------------------------------------------------------

/// In `Concurrent` mode (no background sweeper) a major GC leaves every page
/// with live objects pending. Allocation then sweeps them one at a time: each
/// time the free list runs dry it records one `SweepingStep` (reason
/// `AllocationStep`) that sweeps exactly one page, and old space does not
/// grow while pages are left to sweep.
#[test]
fn allocation_sweeps_pending_pages_one_step_at_a_time_before_growing() {
    let platform = Platform::new(0).unwrap();
    let mut isolate =
        Isolate::new(&platform, test_config_in(GcMode::Concurrent).with_initial_old_space(32 * MB)).unwrap();
    let mut scope = HandleScope::new(&mut isolate);
    let mut a = Strings::new("a", SMALL);
    a.push_many(&mut scope, 2500, |i| i % 2 == 0);
    scope.collect_garbage(GcRequest::Major);
    let pages = old_space(&scope).committed / PAGE_SIZE;
    let pending0 = pending(&scope);
    assert!(pages >= 8, "{pages} old pages");
    assert_eq!(pending0, pages, "every old page holds live strings, so every one waits for its sweep");
    assert_eq!(steps(&scope), (0, 0), "no sweeping step before any allocation");
    a.check(&mut scope, "with every page pending");

    let mut b = Strings::new("b", SMALL);
    let mut left = pending0;
    let mut lazy = 0;
    while left > 0 {
        assert!(b.kept.len() < 2 * 2500, "allocation never swept the last pages ({left} left)");
        b.push(&mut scope, true);
        let (now, finished) = steps(&scope);
        assert_eq!(finished, 0, "sweeping was finished instead of stepped");
        if now > lazy {
            assert_eq!(now, lazy + 1, "one allocation, one step");
            lazy = now;
            let p = pending(&scope);
            assert_eq!(p, left - 1, "a step sweeps exactly one page");
            left = p;
            assert_eq!(old_space(&scope).committed, pages * PAGE_SIZE, "old space grew while pages were pending");
        }
    }
    assert_eq!(lazy, pending0, "one step per pending page");
    // The dead halves of the pages were reused.
    assert_eq!(old_space(&scope).committed, pages * PAGE_SIZE);
    scope.collect_garbage(GcRequest::Minor);
    a.check(&mut scope, "after sweeping and a scavenge");
    b.check(&mut scope, "after sweeping and a scavenge");
    scope.collect_garbage(GcRequest::Major);
    a.check(&mut scope, "after the next major GC");
    b.check(&mut scope, "after the next major GC");
}

/// Sweeping steps are per space. A page of map space still waits (maps are
/// allocated rarely, so it may wait until the next marking start) after
/// allocation swept every old-space page: from then on an old-space
/// allocation that misses the free list grows the space, and records no
/// sweeping step, since there is nothing of its space left to sweep. Every
/// recorded step swept one page.
#[test]
fn sweeping_steps_are_recorded_only_when_they_sweep_a_page() {
    let platform = Platform::new(0).unwrap();
    let mut isolate =
        Isolate::new(&platform, test_config_in(GcMode::Concurrent).with_initial_old_space(32 * MB)).unwrap();
    let mut scope = HandleScope::new(&mut isolate);
    let mut maps = Vec::new();
    for i in 0..10 {
        let mut s = HandleScope::new(&mut scope);
        let m = s
            .new_map(&ObjectLayout { name: format!("Kept{i}"), tagged_fields: 1, raw_bytes: 0, ..Default::default() })
            .unwrap();
        maps.push(s.global(m));
    }
    let mut a = Strings::new("a", SMALL);
    a.push_many(&mut scope, 2500, |i| i % 2 == 0);
    scope.collect_garbage(GcRequest::Major);
    let old_pages = old_space(&scope).committed / PAGE_SIZE;
    assert_eq!(pending(&scope), old_pages + 1, "the old pages and the map page wait");
    // Strings too big for the 1 KiB holes: each step sweeps an old page and
    // the space grows; 900 of them need about 14 new pages.
    let mut b = Strings::new("b", 4000);
    let (mut left, mut lazy) = (old_pages + 1, 0);
    for _ in 0..900 {
        b.push(&mut scope, true);
        let (now, finished) = steps(&scope);
        assert_eq!(finished, 0);
        if now > lazy {
            let p = pending(&scope);
            assert_eq!((now, p), (lazy + 1, left - 1), "a recorded step did not sweep one page");
            (left, lazy) = (p, now);
        }
    }
    assert!(old_space(&scope).committed >= (old_pages + 12) * PAGE_SIZE, "old space did not grow");
    assert_eq!((lazy, left), (old_pages, 1), "one step per old page; the map page waits");
    a.check(&mut scope, "at the end");
    b.check(&mut scope, "at the end");
    for (i, m) in maps.iter().enumerate() {
        let mut s = HandleScope::new(&mut scope);
        let m = s.open(m);
        assert_eq!(s.layout(m).unwrap().name, format!("Kept{i}"));
    }
}

/// When the space may not grow (the old generation is at its hard limit)
/// and the pages swept one by one have no hole big enough, allocation
/// finishes the whole sweep (a `SweepingStep` with reason
/// `AllocationFailure`) and allocates in a page swept last, without a GC.
#[test]
fn allocation_finishes_sweeping_when_the_space_cannot_grow() {
    let platform = Platform::new(0).unwrap();
    let config =
        HeapConfig { max_old_space_size: 8 * MB, initial_old_space_size: 8 * MB, ..test_config_in(GcMode::Concurrent) };
    let mut isolate = Isolate::new(&platform, config).unwrap();
    let mut scope = HandleScope::new(&mut isolate);
    // About 20 pages with 1 KiB holes, then 3 with 15 KiB holes: 5.6 MiB,
    // under the soft limit (6 MiB).
    let mut a = Strings::new("a", SMALL);
    a.push_many(&mut scope, 5650, |i| if i < 4900 { i % 2 == 0 } else { i % 16 == 0 });
    assert!(scope.gc_events().is_empty(), "no GC during the fill");
    scope.collect_garbage(GcRequest::Major);
    let pending0 = pending(&scope);
    assert!(pending0 >= 22, "{pending0} pages pending");
    // 4 KiB strings fit only the last pages' holes: every step sweeps a
    // page and the space grows, up to the hard limit.
    let mut b = Strings::new("b", 4000);
    while steps(&scope).1 == 0 {
        assert!(b.kept.len() < 1000, "sweeping was never finished");
        b.push(&mut scope, true);
    }
    let (lazy, finished) = steps(&scope);
    assert_eq!(finished, 1);
    assert!(lazy >= 8 && lazy < pending0, "{lazy} lazy steps before the finish");
    assert_eq!(pending(&scope), 0);
    assert_eq!(scope.gc_counts(), (0, 1), "a GC ran instead");
    assert!(scope.heap_stats().space("old_space").unwrap().committed <= 8 * MB);
    a.check(&mut scope, "after the finish");
    b.check(&mut scope, "after the finish");
}

/// `StopTheWorld` mode sweeps everything in the pause: nothing is pending
/// afterwards, the dead strings' memory is on the free list at once, and
/// allocation never sweeps.
#[test]
fn stop_the_world_major_gc_sweeps_every_page_in_the_pause() {
    let platform = Platform::new(0).unwrap();
    let mut isolate =
        Isolate::new(&platform, test_config_in(GcMode::StopTheWorld).with_initial_old_space(32 * MB)).unwrap();
    let mut scope = HandleScope::new(&mut isolate);
    let mut a = Strings::new("a", SMALL);
    a.push_many(&mut scope, 2500, |i| i % 2 == 0);
    let committed = old_space(&scope).committed;
    scope.collect_garbage(GcRequest::Major);
    assert_eq!(pending(&scope), 0);
    let old = old_space(&scope);
    assert_eq!(old.committed, committed, "every page holds live strings");
    assert!(old.available >= 1250 * SMALL_OBJECT, "the dead strings' memory is listed: {} bytes", old.available);
    let mut b = Strings::new("b", SMALL);
    b.push_many(&mut scope, 1250, |_| true);
    assert_eq!(old_space(&scope).committed, committed, "b went into the freed memory");
    scope.collect_garbage(GcRequest::Major);
    assert_eq!(pending(&scope), 0);
    b.push_many(&mut scope, 500, |i| i % 3 == 0);
    assert!(scope.gc_events().iter().all(|e| e.kind != GcKind::SweepingStep), "no sweeping step");
    a.check(&mut scope, "at the end");
    b.check(&mut scope, "at the end");
}

// ----- Finishing sweeping -----------------------------------------------------------

/// Sweeping must be complete before marking starts (marking needs the mark
/// bits of the last cycle gone). With more pages pending than allocation
/// sweeps before the old generation reaches the soft limit, the allocation
/// path sweeps the rest in steps cut to the pause budget and starts marking
/// only once none is left, so the `MarkingStart` pause sweeps nothing
/// itself: every page was swept by a lazy or budgeted step, none by a
/// pause that finished the sweep, and the marking start ran no sweeping job.
#[test]
fn sweeping_finishes_in_budgeted_steps_before_marking_starts() {
    let platform = Platform::new(0).unwrap();
    let mut isolate =
        Isolate::new(&platform, test_config_in(GcMode::Concurrent).with_initial_old_space(4 * MB)).unwrap();
    let mut scope = HandleScope::new(&mut isolate);
    // 2.7 MiB, under the soft limit (3 MiB): no marking yet.
    let mut a = Strings::new("a", SMALL);
    a.push_many(&mut scope, 2800, |i| i % 4 != 0);
    assert!(scope.gc_events().iter().all(|e| e.kind != GcKind::MarkingStart));
    scope.collect_garbage(GcRequest::Major);
    let pending0 = pending(&scope);
    assert!(pending0 >= 10, "{pending0} pages pending");
    // Strings too big for the 1 KiB holes: every step sweeps and the space
    // grows, until the old generation reaches the soft limit.
    let mut b = Strings::new("b", 4000);
    let start = loop {
        assert!(b.kept.len() < 2000, "marking never started");
        b.push(&mut scope, true);
        let now = pending(&scope);
        let events = scope.gc_events();
        if let Some(e) = events.iter().find(|e| e.kind == GcKind::MarkingStart) {
            assert_eq!(e.reason, GcReason::SoftLimit);
            assert_eq!(now, 0, "marking started with pages still pending");
            break e.clone();
        }
    };
    let (lazy, finished) = steps(&scope);
    assert!(lazy > 0, "allocation swept no page before marking started");
    assert_eq!(finished, 0, "no pause finished the sweep");
    assert!(
        !start.spans.iter().any(|s| s.phase == Phase::Sweep && s.task.is_some()),
        "the marking start's pause ran a sweeping job: {:?}",
        start.spans
    );
    a.check(&mut scope, "after the marking start");
    b.check(&mut scope, "after the marking start");
    scope.collect_garbage(GcRequest::Major);
    a.check(&mut scope, "after the major GC");
    b.check(&mut scope, "after the major GC");
}

/// A requested major GC while pages wait finishes their sweep in its pause,
/// before it marks (the sweeping job's span ends before the marking phase
/// begins), and then queues the pages again.
#[test]
fn a_requested_major_gc_finishes_pending_sweeping_before_marking() {
    let platform = Platform::new(0).unwrap();
    let mut isolate =
        Isolate::new(&platform, test_config_in(GcMode::Concurrent).with_initial_old_space(32 * MB)).unwrap();
    let mut scope = HandleScope::new(&mut isolate);
    let mut a = Strings::new("a", SMALL);
    a.push_many(&mut scope, 2500, |i| i % 2 == 0);
    scope.collect_garbage(GcRequest::Major);
    let pending0 = pending(&scope);
    assert!(pending0 >= 8);
    // A few lazy steps, so the sweep is under way.
    let mut b = Strings::new("b", SMALL);
    b.push_many(&mut scope, 300, |i| i % 2 == 0);
    let (lazy, _) = steps(&scope);
    assert!(lazy >= 2 && pending(&scope) == pending0 - lazy, "{lazy} steps");
    scope.collect_garbage(GcRequest::Major);
    let events = scope.gc_events();
    let major = events.iter().rev().find(|e| e.kind == GcKind::Major).unwrap();
    let mark = major.spans.iter().find(|s| s.phase == Phase::Mark && s.task.is_none()).expect("a marking phase");
    let sweep_job = major
        .spans
        .iter()
        .find(|s| s.phase == Phase::Sweep && s.task.is_some())
        .unwrap_or_else(|| panic!("no sweeping job in the major GC's pause: {:?}", major.spans));
    assert!(sweep_job.start + sweep_job.duration <= mark.start, "the pause swept after marking began");
    assert_eq!(steps(&scope), (lazy, 0), "no sweeping step after the requested GC");
    assert!(pending(&scope) > 0, "the major GC queued its own sweep");
    a.check(&mut scope, "after the requested major GC");
    b.check(&mut scope, "after the requested major GC");
}

// ----- Scavenges and pending pages --------------------------------------------------

/// `n` arrays of `len` slots, slot 2 holding their index, promoted to old
/// space by two scavenges, held by holder arrays.
fn promoted_arrays(scope: &mut HandleScope<'_>, n: usize, len: usize) -> Vec<Global<FixedArray>> {
    let mut holders = Vec::new();
    let mut done = 0;
    while done < n {
        // Batches that fit in a semi-space, so the second scavenge promotes
        // all of them.
        let batch = (128 * KB / (8 * (len + 2))).min(n - done);
        let mut s = HandleScope::new(scope);
        for i in done..done + batch {
            if i % CHUNK == 0 {
                let h = s.new_fixed_array(CHUNK).unwrap();
                holders.push(s.global(h));
            }
            let mut t = HandleScope::new(&mut s);
            let x = t.new_fixed_array(len).unwrap();
            t.set(x, 2, Smi::from(i as i32));
            let h = t.open(&holders[i / CHUNK]);
            t.set(h, i % CHUNK, x);
        }
        drop(s);
        scope.collect_garbage(GcRequest::Minor);
        scope.collect_garbage(GcRequest::Minor);
        done += batch;
    }
    holders
}

fn array_at<'s>(s: &mut HandleScope<'s>, holders: &[Global<FixedArray>], i: usize) -> Local<'s, FixedArray> {
    let h = s.open(&holders[i / CHUNK]);
    let v = s.get(h, i % CHUNK);
    s.cast::<FixedArray, _>(v).unwrap_or_else(|| panic!("array {i} is gone"))
}

/// A fresh young array `[tag]`.
fn young_cell<'s>(s: &mut HandleScope<'s>, tag: i64) -> Local<'s, FixedArray> {
    let c = s.new_fixed_array(1).unwrap();
    s.set(c, 0, Smi::new(tag).unwrap());
    c
}

fn cell_value<'s>(s: &mut HandleScope<'s>, a: Local<'s, FixedArray>, field: usize) -> Option<i64> {
    let v = s.get(a, field);
    let c = s.cast::<FixedArray, _>(v)?;
    s.get_smi(c, 0)
}

const ARRAYS: usize = 2400;
const ARRAY_LEN: usize = 30;

/// Old arrays, every other one dead by the major GC, all with old-to-new
/// slots. A dead array's slot 1 holds a young array whose slot 0 points back
/// to the dead array: a scavenge that followed that stale slot would copy the
/// young array and leave its copy pointing at freed (or unmarked) memory,
/// which the verifier reports. A live array's first and last slots hold
/// young cells, which every scavenge must update.
fn old_to_new_setup(scope: &mut HandleScope<'_>) -> Vec<Global<FixedArray>> {
    let holders = promoted_arrays(scope, ARRAYS, ARRAY_LEN);
    let promoted: usize = scope.gc_events().iter().map(|e| e.promoted_bytes).sum();
    assert!(promoted >= ARRAYS * 8 * (ARRAY_LEN + 2), "the arrays were not promoted: {promoted} bytes");
    for i in 0..ARRAYS {
        let mut s = HandleScope::new(scope);
        let a = array_at(&mut s, &holders, i);
        if i % 2 == 0 {
            let first = young_cell(&mut s, i as i64);
            s.set(a, 0, first);
            let last = young_cell(&mut s, -(i as i64));
            s.set(a, ARRAY_LEN - 1, last);
        } else {
            let back = s.new_fixed_array(1).unwrap();
            s.set(back, 0, a);
            s.set(a, 1, back);
            let h = s.open(&holders[i / CHUNK]);
            let undefined = s.undefined();
            s.set(h, i % CHUNK, undefined);
        }
    }
    holders
}

/// The live arrays hold their index and their cells `first(i)` and
/// `last(i)`.
fn check_live_arrays(
    scope: &mut HandleScope<'_>,
    holders: &[Global<FixedArray>],
    first: impl Fn(i64) -> i64,
    when: &str,
) {
    for i in (0..ARRAYS).step_by(2) {
        let mut s = HandleScope::new(scope);
        let a = array_at(&mut s, holders, i);
        assert_eq!(s.get_smi(a, 2), Some(i as i64), "{when}: array {i}");
        assert_eq!(cell_value(&mut s, a, 0), Some(first(i as i64)), "{when}: first cell of array {i}");
        assert_eq!(cell_value(&mut s, a, ARRAY_LEN - 1), Some(-(i as i64)), "{when}: last cell of array {i}");
    }
}

both_modes! {
    /// The major GC's scavenge runs while the pages it scans wait for their
    /// sweep: it keeps and updates the slots inside marked objects and drops the
    /// stale ones of dead objects (else the verifier fails inside this GC).
    fn a_major_gc_drops_stale_slots_of_dead_old_objects(mode: GcMode) {
        let platform = Platform::new(0).unwrap();
        let mut isolate = Isolate::new(&platform, test_config_in(mode).with_initial_old_space(32 * MB)).unwrap();
        let mut scope = HandleScope::new(&mut isolate);
        let holders = old_to_new_setup(&mut scope);
        scope.collect_garbage(GcRequest::Major);
        check_live_arrays(&mut scope, &holders, |i| i, &format!("{mode:?}: after the major GC"));
        scope.collect_garbage(GcRequest::Minor);
        check_live_arrays(&mut scope, &holders, |i| i, &format!("{mode:?}: after the next scavenge"));
    }
}

/// Scavenges run while the old pages wait for their sweep (no allocation
/// swept them): the mutator stores new young cells into the live arrays on
/// pending pages (the barrier records the slots there), scavenges find and
/// update them, and the pages stay pending. Then allocation sweeps every
/// page, and a scavenge after the sweep still finds every slot.
#[test]
fn scavenges_while_pages_wait_for_sweeping_keep_old_to_new_references() {
    let platform = Platform::new(0).unwrap();
    let mut isolate =
        Isolate::new(&platform, test_config_in(GcMode::Concurrent).with_initial_old_space(32 * MB)).unwrap();
    let mut scope = HandleScope::new(&mut isolate);
    let holders = old_to_new_setup(&mut scope);
    scope.collect_garbage(GcRequest::Major);
    let pending0 = pending(&scope);
    assert!(pending0 >= 2, "{pending0} pages pending");
    for round in 1..=3i64 {
        for i in (0..ARRAYS).step_by(2) {
            let mut s = HandleScope::new(&mut scope);
            let a = array_at(&mut s, &holders, i);
            let cell = young_cell(&mut s, i as i64 + round * 1_000_000);
            s.set(a, 0, cell);
        }
        scope.collect_garbage(GcRequest::Minor);
        assert_eq!(pending(&scope), pending0, "a scavenge swept pages");
        let when = format!("after scavenge {round} with {pending0} pages pending");
        check_live_arrays(&mut scope, &holders, |i| i + round * 1_000_000, &when);
    }
    let minors = scope.gc_counts().0;
    // Sweep everything by allocating.
    let mut b = Strings::new("b", SMALL);
    while pending(&scope) > 0 {
        assert!(b.kept.len() < 10_000, "allocation never swept the last pages");
        b.push_many(&mut scope, 50, |i| i % 2 == 0);
    }
    assert_eq!(steps(&scope).1, 0);
    for round in 4..=5i64 {
        for i in (0..ARRAYS).step_by(2) {
            let mut s = HandleScope::new(&mut scope);
            let a = array_at(&mut s, &holders, i);
            let cell = young_cell(&mut s, i as i64 + round * 1_000_000);
            s.set(a, 0, cell);
        }
        scope.collect_garbage(GcRequest::Minor);
        check_live_arrays(&mut scope, &holders, |i| i + round * 1_000_000, "after the sweep");
    }
    assert!(scope.gc_counts().0 > minors);
    b.check(&mut scope, "at the end");
}

// ----- Black allocation -------------------------------------------------------------

/// Interns strings of `s` (all kept) until `what` holds for the GC events.
fn intern_until(scope: &mut HandleScope<'_>, s: &mut Strings, what: impl Fn(&[GcEvent]) -> bool) {
    let n = s.kept.len();
    while !what(&scope.gc_events()) {
        assert!(s.kept.len() < n + 20_000, "interned 20000 strings and still waiting");
        s.push(scope, true);
    }
}

fn marking_started(events: &[GcEvent]) -> bool {
    events.iter().any(|e| e.kind == GcKind::MarkingStart)
}

fn marking_finalized(events: &[GcEvent]) -> bool {
    let start = events.iter().position(|e| e.kind == GcKind::MarkingStart);
    start.is_some_and(|i| events[i..].iter().any(|e| e.kind == GcKind::Major))
}

/// Objects the mutator allocates in old space while incremental marking runs
/// are born black: on pages older than the cycle they get a mark bit, and
/// pages added during the cycle count as marked as a whole and skip the
/// sweep. Either way they survive the cycle's finalization, and no page is
/// left allocated black after it (the verifier checks both, with each page's
/// live bytes).
fn objects_allocated_during_marking_survive(finalize: bool) {
    let platform = Platform::new(0).unwrap();
    let mut isolate =
        Isolate::new(&platform, test_config_in(GcMode::Concurrent).with_initial_old_space(8 * MB)).unwrap();
    let mut scope = HandleScope::new(&mut isolate);
    // 1 KiB holes on swept pages, for the first strings allocated during
    // marking.
    let mut holes = Strings::new("holes", SMALL);
    holes.push_many(&mut scope, 500, |i| i % 2 == 0);
    scope.collect_garbage(GcRequest::Major);
    // Strings that do not fit the holes, up to the soft limit.
    let mut filler = Strings::new("filler", 2000);
    intern_until(&mut scope, &mut filler, marking_started);
    assert!(old_space(&scope).available >= 100 * SMALL_OBJECT, "holes are listed when marking starts");
    let committed_at_start = old_space(&scope).committed;
    // During marking: small strings into the holes first, then big ones that
    // need new pages, with a small one after each.
    let mut black = Strings::new("black", SMALL);
    let mut big = Strings::new("big", 120_000);
    let mut maps = Vec::new();
    for i in 0..4 {
        black.push(&mut scope, i % 4 != 3);
    }
    let mut grown = false;
    let mut n = 0;
    while !marking_finalized(&scope.gc_events()) {
        assert!(n < 2000, "marking never finalized");
        n += 1;
        if n % 4 == 0 {
            let mut s = HandleScope::new(&mut scope);
            let m = s
                .new_map(&ObjectLayout {
                    name: format!("Black{n}"),
                    tagged_fields: 1,
                    raw_bytes: 0,
                    ..Default::default()
                })
                .unwrap();
            maps.push(s.global(m));
        }
        big.push(&mut scope, true);
        black.push(&mut scope, n % 3 != 0);
        grown |= old_space(&scope).committed > committed_at_start;
        if !finalize && grown {
            break;
        }
    }
    assert!(grown, "no page was added while marking ran");
    if finalize {
        let events = scope.gc_events();
        let last = events.iter().rev().find(|e| e.kind == GcKind::Major).unwrap();
        assert!(
            matches!(last.reason, GcReason::MarkingComplete | GcReason::MarkingAtLimit | GcReason::OldGenerationLimit),
            "{:?}",
            last.reason
        );
    } else {
        // An explicit major GC abandons the cycle for an atomic one.
        assert!(!marking_finalized(&scope.gc_events()));
        scope.collect_garbage(GcRequest::Major);
    }
    for (s, name) in [(&holes, "holes"), (&filler, "filler"), (&black, "black"), (&big, "big")] {
        s.check(&mut scope, &format!("{name} after the cycle"));
    }
    for (i, m) in maps.iter().enumerate() {
        let mut s = HandleScope::new(&mut scope);
        let m = s.open(m);
        assert_eq!(s.layout(m).unwrap().name, format!("Black{}", 4 * (i + 1)));
    }
    // The next cycle marks them one by one and sweeps the pages that were
    // black.
    scope.collect_garbage(GcRequest::Major);
    for (s, name) in [(&holes, "holes"), (&filler, "filler"), (&black, "black"), (&big, "big")] {
        s.check(&mut scope, &format!("{name} after the next cycle"));
    }
}

#[test]
fn objects_allocated_during_marking_survive_its_finalization() {
    objects_allocated_during_marking_survive(true);
}

/// An explicit major GC during marking abandons the cycle (its marks and
/// black pages are dropped) for an atomic one, which finds the objects
/// allocated black live by tracing.
#[test]
fn objects_allocated_during_marking_survive_an_explicit_major_gc() {
    objects_allocated_during_marking_survive(false);
}

// ----- Background sweepers ----------------------------------------------------------

/// With a worker, the pages are swept in the background while the mutator
/// allocates nothing in old space: scavenges (which pause the sweepers and
/// take what they finished) see the pending count drop to 0 without a single
/// sweeping step, and the sweepers' runs are reported as `ConcurrentSweep`
/// spans on pool threads.
#[test]
fn background_sweepers_sweep_pending_pages_without_allocation() {
    let platform = Platform::new(1).unwrap();
    let mut isolate =
        Isolate::new(&platform, test_config_in(GcMode::Concurrent).with_initial_old_space(32 * MB)).unwrap();
    let mut scope = HandleScope::new(&mut isolate);
    let mut a = Strings::new("a", SMALL);
    a.push_many(&mut scope, 2500, |i| i % 2 == 0);
    scope.collect_garbage(GcRequest::Major);
    assert!(pending(&scope) > 0);
    let deadline = Instant::now() + Duration::from_secs(20);
    while pending(&scope) > 0 {
        assert!(Instant::now() < deadline, "the background sweepers did not finish in 20 s");
        std::thread::sleep(Duration::from_millis(5));
        scope.collect_garbage(GcRequest::Minor);
    }
    assert_eq!(steps(&scope), (0, 0), "the main thread swept");
    let spans: Vec<GcSpan> =
        scope.gc_events().iter().flat_map(|e| e.spans.clone()).filter(|s| s.phase == Phase::ConcurrentSweep).collect();
    assert!(!spans.is_empty(), "no ConcurrentSweep span");
    assert!(spans.iter().all(|s| s.thread != 0), "background sweeping on the isolate's thread: {spans:?}");
    a.check(&mut scope, "after the background sweep");
    let mut b = Strings::new("b", SMALL);
    let committed = old_space(&scope).committed;
    b.push_many(&mut scope, 1200, |_| true);
    assert_eq!(old_space(&scope).committed, committed, "the swept memory was reused");
    b.check(&mut scope, "at the end");
}

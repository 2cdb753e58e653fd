//! Full-heap marking: the mark bitmap and work-stealing worklists.
//!
//! Tri-colour marking as in V8's mark-compact: white objects have a clear
//! mark bit; grey ones are marked and wait on a worklist; black ones are
//! marked and scanned. Marking starts from the roots (local and global
//! handles), visits every tagged field (and the object's map, when it is not
//! read-only) and sets mark bits with the bitmap's atomic `set`, whose winner
//! pushes the object. Read-only objects are never marked. Live bytes are
//! accounted per page.
//!
//! Marking runs as a parallel job on the shared pool: task 0 (the isolate's
//! thread) marks the local handles, every task claims global-handle blocks,
//! and all drain the same segment-based work-stealing worklists the
//! scavenger uses ([`crate::worklist`]), until global termination.
//!
//! Ephemeron tables ([`crate::ephemeron`]): a table's values are not
//! traced with the table; an entry's value is traced once its key is
//! marked. Background markers that run out of grey objects run ephemeron
//! rounds (at most [`MAX_CONCURRENT_ROUNDS`] a cycle); the pause that ends
//! marking runs the bounded fixpoint ([`ephemeron_fixpoint`]: at most
//! [`MAX_PAUSE_ROUNDS`] rounds, each followed by a parallel drain, then the
//! linear fallback).
//!
//! After marking, weak handles and string-table entries whose targets stayed
//! white are cleared, and so are ephemeron entries of dead keys, WeakRef
//! targets, and finalization cells (whose held values are queued).
//!
//! Marking imports no other phase. While compacting (the driver chose
//! evacuation candidates before marking started), it records the slots that
//! point into candidates through the page ([`Page::record_old_to_old`]). It
//! receives one hand-off: the scavenger calls [`after_scavenge`] with the
//! objects it copied or promoted during a marking cycle.

use crate::ephemeron::{EphemeronTables, Marks, MAX_CONCURRENT_ROUNDS, MAX_PAUSE_ROUNDS};
use crate::gate::WorkerGate;
use crate::heap::live_objects::is_live;
use crate::heap::page::{flags, Page};
use crate::heap::{Heap, PAGE_SIZE_LOG2};
use crate::object::{HeapObject, MapRef};
use crate::platform::{Background, Platform, Step};
use crate::roots::{RootSet, StrongWalk};
use crate::sync::{Arc, AtomicUsize, Mutex, Ordering};
use crate::tracer::{Phase, SpanRecorder};
use crate::value::Tagged;
use crate::worklist::{GreyPool, Local, Worklist};
use std::time::{Duration, Instant};

/// Heap bytes per marking task: one task per this much of the heap (at most
/// [`MAX_TASKS`], at most the GC workers plus the main thread).
const BYTES_PER_TASK: usize = 1 << 20;
/// Most marking tasks one job uses (V8 caps concurrent marking tasks too).
const MAX_TASKS: usize = 8;

/// Number of tasks for marking a heap of `heap_bytes`.
pub(crate) fn task_count(heap_bytes: usize, gc_workers: usize) -> usize {
    (heap_bytes / BYTES_PER_TASK).clamp(1, MAX_TASKS).min(gc_workers + 1)
}

/// Live bytes per page, accumulated locally and flushed into the page
/// headers when a page falls out of the (direct-mapped) cache: one atomic add
/// per page visit instead of one per object, as V8's per-task live-byte maps.
struct LiveBytes {
    entries: [(usize, usize); 16],
}

impl LiveBytes {
    fn new() -> LiveBytes {
        LiveBytes { entries: [(0, 0); 16] }
    }

    #[inline(always)]
    fn add(&mut self, page: Page, bytes: usize) {
        let e = &mut self.entries[(page.address() >> PAGE_SIZE_LOG2) % 16];
        if e.0 == page.address() {
            e.1 += bytes;
        } else {
            Self::flush_entry(e);
            *e = (page.address(), bytes);
        }
    }

    fn flush_entry(e: &mut (usize, usize)) {
        if e.0 != 0 {
            // SAFETY: the entry holds the address of a live page of the heap
            // being marked (pages are not released during marking).
            unsafe { Page::of(e.0) }.add_live_bytes(e.1);
        }
        *e = (0, 0);
    }

    fn flush(&mut self) {
        self.entries.iter_mut().for_each(Self::flush_entry);
    }
}

/// State shared by the tasks of one marking job.
struct MarkJob<'h> {
    worklist: Worklist<HeapObject>,
    roots: StrongWalk<'h>,
    marked_bytes: AtomicUsize,
    /// Evacuation candidates were chosen: record slots pointing into them.
    compacting: bool,
}

/// One marking task.
struct Marker<'j> {
    local: Local<'j, HeapObject>,
    live: LiveBytes,
    marked_bytes: usize,
}

impl Marker<'_> {
    /// Greys `v` if it is a white heap object.
    #[inline(always)]
    fn mark(&mut self, v: Tagged) {
        if let Some(obj) = try_grey(v) {
            self.local.push(obj);
        }
    }

    fn run(mut self, job: &MarkJob<'_>, id: usize) {
        job.roots.visit(id, |h| {
            self.mark(h);
            h
        });
        loop {
            while let Some(obj) = self.local.pop() {
                let local = &mut self.local;
                self.marked_bytes += blacken(obj, &mut self.live, job.compacting, |o| local.push(o));
            }
            if !self.local.wait_for_work() {
                break;
            }
        }
        self.live.flush();
        // Relaxed: summed after the job's join.
        job.marked_bytes.fetch_add(self.marked_bytes, Ordering::Relaxed);
    }
}

/// Marks everything reachable from the roots, in parallel on the shared
/// pool inside the pause (`compacting`: evacuation candidates were chosen).
/// Returns the marked bytes.
pub(crate) fn mark_full(heap: &mut Heap, compacting: bool) -> usize {
    reset_live_bytes(heap);
    heap.roots.ephemerons.lock().reset_marking();
    let marked = mark_parallel(heap, Vec::new(), compacting);
    marked + ephemeron_fixpoint(heap, compacting)
}

/// The marks of the heap being marked, for the ephemeron algorithm.
struct HeapMarks;

impl Marks for HeapMarks {
    #[inline]
    fn is_marked(&self, word: usize) -> bool {
        is_live(Tagged(word))
    }
    #[inline]
    fn try_mark(&self, word: usize) -> bool {
        try_grey(Tagged(word)).is_some()
    }
}

/// The object a word [`HeapMarks`] marked points to.
fn marked_object(word: usize) -> HeapObject {
    // SAFETY: the ephemeron store holds tagged words of live objects (its
    // rows are updated where objects move and cleared where they die), and
    // `try_mark` succeeded only for a heap object.
    unsafe { HeapObject::from_tagged(Tagged(word)) }
}

/// The pause's ephemeron fixpoint, once every grey object was drained: at
/// most [`MAX_PAUSE_ROUNDS`] rounds over the waiting entries, each followed
/// by a parallel drain of what it marked; if work is left then, the linear
/// fallback (sequential, linear in entries plus objects). Returns the bytes
/// marked.
fn ephemeron_fixpoint(heap: &mut Heap, compacting: bool) -> usize {
    let store = heap.roots.ephemerons.clone();
    let mut tables = store.lock();
    let mut marked = 0;
    let rounds = tables.pause_rounds(&HeapMarks, MAX_PAUSE_ROUNDS, |seed| {
        marked += mark_parallel(heap, seed.into_iter().map(marked_object).collect(), compacting);
    });
    match rounds {
        Ok(r) => tables.last_pause_rounds = r,
        Err(seed) => {
            tables.last_pause_rounds = MAX_PAUSE_ROUNDS;
            tables.linear_fallbacks += 1;
            let mut live = LiveBytes::new();
            tables.linear(&HeapMarks, seed, |w, stack| {
                marked += blacken(marked_object(w), &mut live, compacting, |c| stack.push(c.tagged().0));
            });
            live.flush();
        }
    }
    marked
}

/// A background marker's ephemeron round, when it ran out of grey objects:
/// what it marked, if anything. Skipped when the mutator holds the store
/// (it inserts) or the cycle's rounds are spent.
fn concurrent_ephemeron_round(shared: &MarkingShared) -> Option<Vec<HeapObject>> {
    let mut tables = shared.ephemerons.try_lock()?;
    if tables.concurrent_rounds >= MAX_CONCURRENT_ROUNDS {
        return None;
    }
    tables.concurrent_rounds += 1;
    let mut found = Vec::new();
    tables.round(&HeapMarks, |w| found.push(marked_object(w)));
    (!found.is_empty()).then_some(found)
}

/// The mutator's shading of a value it stores into an ephemeron table or a
/// finalization registry while marking runs (as the insertion barrier would
/// for a heap slot).
pub(crate) fn shade_stored(worklist: &mut Vec<HeapObject>, v: Tagged) {
    shade(worklist, v)
}

/// After a finished marking, marks what the young generation's objects,
/// dead ones included, reach: for a major GC that must leave the young
/// generation where it is (the system refused the pages a scavenge needs
/// and page promotion is not possible), so every old object a young one
/// points to must stay. Nothing may be compacting.
pub(crate) fn mark_from_young_generation(heap: &mut Heap) -> usize {
    let mut seed = Vec::new();
    for (_, start, end) in heap.new_space.allocated_ranges() {
        let mut a = start;
        while a < end {
            // SAFETY: to-space is iterable up to each page's top: every
            // address reached by stepping sizes is an object or filler.
            let o = unsafe { HeapObject::from_address(a) };
            a += o.size();
            if !o.instance_type().is_filler() {
                shade(&mut seed, o.tagged());
            }
        }
    }
    for p in &heap.new_lo_space.pages {
        // SAFETY: a large page holds exactly one object at its start.
        shade(&mut seed, unsafe { HeapObject::from_address(p.area_start()) }.tagged());
    }
    mark_parallel(heap, seed, false)
}

/// Marks, in parallel inside the pause, everything reachable from the roots
/// and from the grey objects in `seed` (already marked). Live bytes add to
/// what the pages hold.
fn mark_parallel(heap: &mut Heap, seed: Vec<HeapObject>, compacting: bool) -> usize {
    let tasks = task_count(heap.size_of_objects(), heap.gc_worker_cap());
    let Heap { roots, platform, spans, .. } = heap;
    let mut strong = roots.strong();
    let job =
        MarkJob { worklist: Worklist::new(tasks), roots: strong.walk(), marked_bytes: AtomicUsize::new(0), compacting };
    for chunk in seed.chunks(crate::worklist::SEGMENT_SIZE) {
        job.worklist.inject(chunk.to_vec());
    }
    platform.run_job(tasks, Phase::Mark, spans, &|id| {
        if let Some(local) = job.worklist.local(id) {
            Marker { local, live: LiveBytes::new(), marked_bytes: 0 }.run(&job, id);
        }
    });
    job.marked_bytes.into_inner()
}

/// A marking cycle in progress while the mutator runs (`GcMode::Concurrent`).
///
/// The cycle starts in a short pause ([`start_incremental`]: roots greyed,
/// barrier and black allocation on, background workers posted), is advanced
/// by background workers on the shared pool and by budgeted steps on the
/// allocation slow path ([`step`], so marking completes even when the pool
/// is busy with other isolates), and ends in the finalization pause
/// ([`finish_incremental`]: workers stopped, roots re-scanned, barrier
/// worklist flushed, drained to a fixed point in parallel). Between pauses
/// the Dijkstra insertion barrier shades every value stored into any object,
/// old-generation objects are born marked, and scavenges (which stop the
/// workers first) grey the objects they copy or promote.
pub(crate) struct IncrementalMarking {
    shared: Arc<MarkingShared>,
    schedule: Schedule,
    /// Bytes the mutator's steps marked in this cycle (the rest of
    /// `shared.marked_bytes` is the background workers').
    mutator_marked: usize,
    /// The old generation reached its limit during this cycle (the driver
    /// records the finalization as [`crate::GcReason::MarkingAtLimit`]).
    pub(crate) reached_limit: bool,
}

/// When marking should be how far (V8's incremental-marking schedule): the
/// cycle aims to have marked `estimated_live` bytes by the time the old
/// generation has used [`Schedule::AIM`] of its headroom to the limit, and
/// at the latest after [`Schedule::TARGET_TIME`]. The background workers
/// do the marking; the mutator steps only for what they are behind.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Schedule {
    started: Instant,
    /// Bytes marking expects to mark: the heap's objects when it started
    /// (garbage included, so the estimate errs toward marking early).
    estimated_live: usize,
    /// Old-generation size when it started, and its limit.
    old_gen_at_start: usize,
    limit: usize,
}

impl Schedule {
    /// Share of the old generation's headroom by which marking should be
    /// done, so that a normal workload never finishes marking at the limit.
    pub(crate) const AIM: f64 = 0.5;
    /// Marking should be done this long after it started, whatever the
    /// allocation rate (V8 aims at about half a second).
    pub(crate) const TARGET_TIME: Duration = Duration::from_millis(500);
    /// A step that is due marks at least this much (V8's minimum step
    /// size: smaller steps cost more in entry than they mark).
    pub(crate) const MIN_STEP: usize = 64 << 10;

    pub(crate) fn new(estimated_live: usize, old_gen: usize, limit: usize, started: Instant) -> Schedule {
        Schedule { started, estimated_live, old_gen_at_start: old_gen, limit }
    }

    /// Bytes that should be marked by now, with the old generation at
    /// `old_gen`: the larger of the allocation-based and the time-based
    /// share of the estimate.
    pub(crate) fn expected(&self, old_gen: usize, now: Instant) -> usize {
        let headroom = self.limit.saturating_sub(self.old_gen_at_start).max(1) as f64;
        let by_allocation = old_gen.saturating_sub(self.old_gen_at_start) as f64 / (Self::AIM * headroom);
        let by_time = now.duration_since(self.started).as_secs_f64() / Self::TARGET_TIME.as_secs_f64();
        (self.estimated_live as f64 * by_allocation.max(by_time).min(1.0)) as usize
    }

    /// Has the cycle run well past its schedule: twice its estimate marked
    /// (the mutator keeps making work: every value it stores while marking
    /// is shaded, so a cycle can mark more than the heap held) or twice the
    /// target time gone? Then it finalizes as soon as no grey object is
    /// queued, instead of waiting for the workers to drain what they hold.
    pub(crate) fn overdue(&self, marked: usize, now: Instant) -> bool {
        marked >= 2 * self.estimated_live || now.duration_since(self.started) >= 2 * Self::TARGET_TIME
    }

    /// What a step on the mutator's thread should mark now, given what the
    /// cycle has marked: nothing while the workers keep up (or are behind by
    /// less than a minimum step).
    pub(crate) fn step_bytes(&self, marked: usize, old_gen: usize, now: Instant) -> usize {
        let behind = self.expected(old_gen, now).saturating_sub(marked);
        if behind < Self::MIN_STEP {
            0
        } else {
            behind
        }
    }
}

/// What background marking workers share with the isolate's thread.
struct MarkingShared {
    /// Grey objects, in segments, and the workers that may hold some.
    pool: GreyPool<HeapObject>,
    /// Keeps workers off the heap during pauses (closed for good once the
    /// cycle ends, for workers still queued).
    gate: WorkerGate,
    max_workers: usize,
    /// Evacuation candidates were chosen: record slots pointing into them.
    compacting: bool,
    /// The workers' runs, reported with the finalization event.
    spans: SpanRecorder,
    /// Bytes blackened so far this cycle, by workers and steps (for the
    /// schedule).
    marked_bytes: AtomicUsize,
    /// The isolate's ephemeron tables, for the workers' rounds.
    ephemerons: Arc<Mutex<EphemeronTables>>,
}

/// Posts background workers while there is work, up to the cap.
fn post_workers(shared: &Arc<MarkingShared>, platform: &Platform) {
    let queued = shared.pool.len();
    let posted = shared.pool.holders();
    for _ in posted..shared.max_workers.min(posted + queued) {
        shared.pool.add_holder();
        let shared = shared.clone();
        platform.spawn_background(move |bg| background_worker(&shared, bg));
    }
}

/// A background marking worker: marks until the pool is empty or it is told
/// to stop, then publishes what it still holds. Told by the platform to give
/// way, it publishes what it holds and yields, still counted as a holder: it
/// resumes from the pool later.
fn background_worker(shared: &MarkingShared, bg: &Background<'_>) -> Step {
    let mut local: Vec<HeapObject> = Vec::new();
    let mut yielded = false;
    if let Some(_inside) = shared.gate.enter() {
        let started = Instant::now();
        let mut live = LiveBytes::new();
        let mut n = 0u32;
        let mut marked = 0;
        loop {
            let obj = match local.pop() {
                Some(o) => o,
                None => match shared.pool.steal().or_else(|| concurrent_ephemeron_round(shared)) {
                    Some(seg) => {
                        local = seg;
                        continue;
                    }
                    None => break,
                },
            };
            marked += blacken_into(&mut local, &mut live, shared.compacting, obj);
            if local.len() >= 2 * crate::worklist::SEGMENT_SIZE {
                // Share half, so other workers and the mutator's steps help.
                let half = local.split_off(local.len() / 2);
                shared.pool.push(half);
            }
            n += 1;
            if n % 64 == 0 {
                // Relaxed: a progress counter the schedule reads; nothing is
                // published through it.
                shared.marked_bytes.fetch_add(std::mem::take(&mut marked), Ordering::Relaxed);
                if shared.gate.should_leave() || bg.should_yield() {
                    yielded = !shared.gate.should_leave();
                    break;
                }
            }
        }
        // Relaxed: as above.
        shared.marked_bytes.fetch_add(marked, Ordering::Relaxed);
        live.flush();
        if n > 0 {
            shared.spans.record(Phase::ConcurrentMark, None, started);
        }
    }
    if yielded {
        shared.pool.push(local);
        return Step::Yield;
    }
    // Publish what is left, then stop counting (the guard has left the gate
    // already, after the worker's last heap access).
    shared.pool.retire(local);
    Step::Done
}

/// A marking step stops after this share of the pause budget (checked
/// every 64 objects).
const STEP_BUDGET_SHARE: u32 = 2;

/// Sets the mark bit of `v` if it is a white heap object (read-only objects
/// are never marked; objects on pages allocated black count as marked).
/// Returns the object if this call marked it: the caller that wins the bit
/// pushes it.
#[inline(always)]
fn try_grey(v: Tagged) -> Option<HeapObject> {
    if !v.is_heap_object() {
        return None;
    }
    // SAFETY: `v` came from a root or a field of a live object.
    let obj = unsafe { HeapObject::from_tagged(v) };
    let page = obj.page();
    (!page.has(flags::READ_ONLY | flags::BLACK_ALLOCATED) && page.header().marks.set(page.mark_index(obj.address())))
        .then_some(obj)
}

/// Greys `v` into `worklist` if it is a white heap object.
#[inline]
fn shade(worklist: &mut Vec<HeapObject>, v: Tagged) {
    if let Some(obj) = try_grey(v) {
        worklist.push(obj);
    }
}

/// Blackens `obj`: greys its map and every object its fields point to
/// (`push` takes what this call greyed) and accounts its size, which it
/// returns. Fields are read with Acquire, pairing with the mutator's Release
/// stores, so a concurrent marker sees an object published by a store
/// initialised (in a pause nothing races; the load costs the same).
#[inline]
fn blacken(obj: HeapObject, live: &mut LiveBytes, compacting: bool, mut push: impl FnMut(HeapObject)) -> usize {
    let map = MapRef(obj.map());
    let host = obj.page();
    // (One decoding of the layout gives both: the size is used by the first
    // slice only, but costs nothing more.)
    let (size, mut fields) = obj.size_and_tagged_range(map);
    let mut first = true;
    if fields.len() > LARGE_SLICE && host.has(flags::LARGE) {
        // A large array is scanned a slice at a time, so that several
        // markers share it (V8's progress bar): claim the next slice, and put
        // the object back on the worklist if more is left for someone else.
        let start = host.claim_scan(LARGE_SLICE);
        if start >= fields.len() {
            return 0;
        }
        first = start == 0;
        let end = (start + LARGE_SLICE).min(fields.len());
        if end < fields.len() {
            push(obj);
        }
        fields = fields.start + start..fields.start + end;
    }
    // The map and the live bytes go with the first slice.
    if !first {
        scan_fields(obj, host, fields, compacting, &mut push);
        return 0;
    }
    if let Some(m) = try_grey(map.0.tagged()) {
        push(m);
    }
    live.add(host, size);
    scan_fields(obj, host, fields, compacting, &mut push);
    size
}

/// Tagged fields per slice when a large array is scanned (V8 scans large
/// objects in 32 KiB steps).
const LARGE_SLICE: usize = 4096;

/// Greys the objects fields `fields` of `obj` (on `host`) point to; while
/// compacting, records the slots that point into evacuation candidates.
#[inline(always)]
fn scan_fields(
    obj: HeapObject,
    host: Page,
    fields: std::ops::Range<usize>,
    compacting: bool,
    push: &mut impl FnMut(HeapObject),
) {
    for i in fields {
        let v = obj.field_acquire(i);
        if compacting && v.is_heap_object() {
            // SAFETY: a field of a live object points to a live object.
            host.record_old_to_old(unsafe { Page::of(v.address()) }.flags(), obj.slot(i));
        }
        if let Some(child) = try_grey(v) {
            push(child);
        }
    }
}

/// Blackens `obj` into a plain worklist (background workers, steps).
#[inline]
fn blacken_into(worklist: &mut Vec<HeapObject>, live: &mut LiveBytes, compacting: bool, obj: HeapObject) -> usize {
    blacken(obj, live, compacting, |o| worklist.push(o))
}

fn shade_roots(heap: &Heap, worklist: &mut Vec<HeapObject>) {
    heap.roots.for_each(RootSet::STRONG, |_, h| shade(worklist, h));
}

/// Zeroes every page's live-byte counter before a marking cycle (young
/// pages too: a young large object's page becomes old by a flag flip and
/// keeps its counter).
fn reset_live_bytes(heap: &Heap) {
    for p in heap.all_pages() {
        p.set_live_bytes(0);
        p.reset_scan();
    }
}

/// Turns the marking flags on every page (and on pages yet to be allocated)
/// on or off; off restores each page's generational barrier flags.
fn set_marking_flags(heap: &mut Heap, on: bool) {
    for p in heap.all_pages() {
        if on {
            p.activate_marking_barrier();
        } else {
            p.clear_flags(flags::MARKING);
            if p.is_young() {
                p.clear_flags(flags::FROM_HERE_INTERESTING);
            } else {
                p.clear_flags(flags::TO_HERE_INTERESTING);
            }
        }
    }
    heap.pool.extra_flags = if on { flags::MARKING_FLAGS } else { 0 };
    // Old pages added while marking runs are allocated black.
    heap.old_space.black_allocation = on;
    heap.map_space.black_allocation = on;
}

/// The start pause: greys the roots, turns the barrier and black allocation
/// on, posts background workers (`compacting`: evacuation candidates were
/// chosen, so slots into them are recorded). The caller finished sweeping
/// and retired the old-space allocation areas (objects allocated from now
/// on are marked one by one).
pub(crate) fn start_incremental(heap: &mut Heap, compacting: bool, limit: usize) -> IncrementalMarking {
    reset_live_bytes(heap);
    heap.roots.ephemerons.lock().reset_marking();
    set_marking_flags(heap, true);
    let mut roots = Vec::with_capacity(1024);
    shade_roots(heap, &mut roots);
    let shared = Arc::new(MarkingShared {
        pool: GreyPool::new(),
        gate: WorkerGate::new(),
        max_workers: heap.gc_worker_cap(),
        compacting,
        spans: SpanRecorder::new(heap.spans.origin()),
        marked_bytes: AtomicUsize::new(0),
        ephemerons: heap.roots.ephemerons.clone(),
    });
    for chunk in roots.chunks(crate::worklist::SEGMENT_SIZE) {
        shared.pool.push(chunk.to_vec());
    }
    post_workers(&shared, &heap.platform);
    let schedule = Schedule::new(heap.size_of_objects(), heap.old_gen_size(), limit, Instant::now());
    IncrementalMarking { shared, schedule, mutator_marked: 0, reached_limit: false }
}

/// What is due on the mutator's thread at an allocation safepoint while a
/// cycle runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StepDue {
    /// Nothing: the workers keep up with the schedule.
    Nothing,
    /// A step of at least this many bytes (bounded by time).
    Mark(usize),
    /// The cycle is well past its schedule: a step, and the finalization as
    /// soon as no grey object is queued (what background workers still hold, the
    /// finalization pause drains), so a mutator that keeps shading objects
    /// cannot hold the cycle open.
    Finish,
    /// No grey object is left: the cycle can be finalized.
    Complete,
}

/// Hands the barrier's shaded objects to the workers, posts workers if there
/// is work, and says what the schedule wants of the mutator now.
pub(crate) fn step_due(heap: &Heap, m: &mut IncrementalMarking, barrier_worklist: &mut Vec<HeapObject>) -> StepDue {
    if !barrier_worklist.is_empty() {
        m.shared.pool.push(std::mem::take(barrier_worklist));
    }
    if m.shared.pool.is_done() {
        return StepDue::Complete;
    }
    post_workers(&m.shared, &heap.platform);
    // Relaxed: a progress counter (see `background_worker`).
    let marked = m.shared.marked_bytes.load(Ordering::Relaxed);
    let now = Instant::now();
    if m.schedule.overdue(marked, now) {
        return StepDue::Finish;
    }
    match m.schedule.step_bytes(marked, heap.old_gen_size(), now) {
        0 => StepDue::Nothing,
        n => StepDue::Mark(n),
    }
}

/// One step on the mutator's thread: marks about `bytes`, for at most half
/// the pause budget. Returns whether the cycle can be finalized (no grey
/// object is left, or, `finishing` past the schedule, none is queued), and
/// the bytes the step marked.
pub(crate) fn step(heap: &Heap, m: &mut IncrementalMarking, bytes: usize, finishing: bool) -> (bool, usize) {
    let deadline = Instant::now() + heap.config.pause_target / STEP_BUDGET_SHARE;
    let (mut done, mut n) = (0, 0u32);
    let mut local: Vec<HeapObject> = Vec::new();
    let mut live = LiveBytes::new();
    loop {
        let obj = match local.pop() {
            Some(o) => o,
            None => match m.shared.pool.steal() {
                Some(seg) => {
                    local = seg;
                    continue;
                }
                None => break,
            },
        };
        done += blacken_into(&mut local, &mut live, m.shared.compacting, obj);
        n += 1;
        if done >= bytes || (n % 64 == 0 && Instant::now() >= deadline) {
            break;
        }
    }
    if !local.is_empty() {
        m.shared.pool.push(local);
    }
    live.flush();
    // Relaxed: a progress counter (see `background_worker`).
    m.shared.marked_bytes.fetch_add(done, Ordering::Relaxed);
    m.mutator_marked += done;
    (m.shared.pool.is_done() || (finishing && m.shared.pool.is_empty()), done)
}

impl IncrementalMarking {
    /// When the cycle started.
    pub(crate) fn started(&self) -> Instant {
        self.schedule.started
    }

    /// Stops the background workers for a pause of this isolate (a
    /// scavenge); [`IncrementalMarking::resume`] lets them go on.
    pub(crate) fn pause(&self) {
        self.shared.gate.close();
    }

    /// After a pause: lets the workers go on, posting new ones if there is
    /// work.
    pub(crate) fn resume(&self, platform: &Platform) {
        self.shared.gate.open();
        post_workers(&self.shared, platform);
    }
}

/// The finalization pause's marking: stops the workers, re-scans the roots
/// (they changed without a barrier), flushes the barrier worklist, and drains
/// to a fixed point in parallel; then turns the barrier off. Returns the
/// bytes marked in the pause, and those the background workers marked
/// during the cycle.
pub(crate) fn finish_incremental(
    heap: &mut Heap,
    m: IncrementalMarking,
    barrier_worklist: &mut Vec<HeapObject>,
) -> (usize, usize) {
    m.shared.gate.close();
    heap.spans.absorb(&m.shared.spans);
    // Relaxed: the gate's close (above) waited for the workers, whose
    // counter updates it orders before this load.
    let background = m.shared.marked_bytes.load(Ordering::Relaxed).saturating_sub(m.mutator_marked);
    let mut seed = m.shared.pool.drain();
    seed.append(barrier_worklist);
    let mut marked = mark_parallel(heap, seed, m.shared.compacting);
    marked += ephemeron_fixpoint(heap, m.shared.compacting);
    set_marking_flags(heap, false);
    (marked, background)
}

/// Abandons a marking cycle (an explicit or last-resort full GC runs an
/// atomic one instead): workers stopped, barrier off, worklists dropped,
/// marks cleared. (The driver drops the cycle's evacuation candidates.)
pub(crate) fn abort_incremental(heap: &mut Heap, m: IncrementalMarking, barrier_worklist: &mut Vec<HeapObject>) {
    m.shared.gate.close();
    drop(m);
    barrier_worklist.clear();
    set_marking_flags(heap, false);
    for p in heap.all_pages() {
        p.header().marks.clear_all();
        // The atomic marking that follows marks these pages' objects one
        // by one; they are swept like any other page.
        p.clear_flags(flags::BLACK_ALLOCATED);
    }
}

/// Grey-pool segments worth one more task of [`after_scavenge`]'s filter:
/// about 0.1 ms of filtering each task takes on, against a helper's
/// wake-up of tens of microseconds.
const SEGMENTS_PER_FILTER_TASK: usize = 512;

/// After a scavenge during a marking cycle (workers stopped): worklist
/// entries that moved or died go, and every object the scavenge copied or
/// promoted is greyed (its mark bit did not move with it). `tasks`: at most
/// this many tasks on `platform` filter the grey pool.
pub(crate) fn after_scavenge(
    m: &mut IncrementalMarking,
    barrier_worklist: &mut Vec<HeapObject>,
    copies: Vec<HeapObject>,
    (platform, spans, tasks): (&Platform, &SpanRecorder, usize),
) {
    // Entries in from-space are dropped: a survivor's copy is in `copies`
    // (and greyed below), a dead one needs nothing. Dead young large objects
    // go; everything else stays where it is. The pool can hold millions of
    // entries when the markers are behind (young objects the barrier shaded
    // while the mutator built them), so its segments are filtered in place
    // (no copy, no allocation), by several tasks when there are many, and
    // each task reuses the verdict of the last page it saw: neighbouring
    // entries mostly share a page, and the page header is what a check
    // costs.
    let keeper = || {
        let mut last: (usize, bool) = (0, true);
        move |o: &HeapObject| -> bool {
            let page = o.page();
            if page.address() != last.0 {
                let dead_large = page.has(flags::NEW_LARGE) && !page.has(flags::LARGE_SURVIVED);
                last = (page.address(), !page.has(flags::FROM_SPACE) && !dead_large);
            }
            last.1
        }
    };
    let pool = &m.shared.pool;
    let tasks = (pool.len() / SEGMENTS_PER_FILTER_TASK).clamp(1, tasks);
    let kept: Mutex<Vec<Vec<HeapObject>>> = Mutex::new(Vec::with_capacity(pool.len()));
    platform.run_job(tasks, Phase::Scavenge, spans, &|_| {
        let mut keep = keeper();
        let mut mine = Vec::new();
        // Kept segments are set aside, not pushed back, so no task meets
        // a segment twice.
        while let Some(mut seg) = pool.steal() {
            seg.retain(&mut keep);
            if !seg.is_empty() {
                mine.push(seg);
            }
        }
        kept.lock().append(&mut mine);
    });
    barrier_worklist.retain(keeper());
    for seg in kept.into_inner() {
        pool.push(seg);
    }
    let mut worklist = Vec::new();
    for c in copies {
        if c.page().has(flags::BLACK_ALLOCATED) {
            // Promoted onto a black page: counts as marked already, yet its
            // fields must be scanned (each copy is listed once).
            worklist.push(c);
        } else {
            shade(&mut worklist, c.tagged());
        }
    }
    for chunk in worklist.chunks(crate::worklist::SEGMENT_SIZE) {
        pool.push(chunk.to_vec());
    }
}

impl Drop for IncrementalMarking {
    fn drop(&mut self) {
        // Workers must never touch a heap that is going away (or a cycle
        // that ended): the flag stays set for late-starting ones.
        self.shared.gate.close();
    }
}

/// Clears weak handles and string-table entries whose targets are white.
pub(crate) fn clear_dead_weak_references(heap: &mut Heap) {
    heap.roots.clear_dead(is_live);
}

/// Black allocation: an old-generation object allocated while marking is
/// born marked (the marker never needs to visit it; every pointer later
/// stored into it goes through the barrier). Objects on pages allocated
/// black need no mark bit.
pub(crate) fn allocate_black(addr: usize, size: usize) {
    // SAFETY: `addr` was just allocated in a live page of this heap.
    unsafe { Page::of(addr) }.allocate_black(addr, size);
}

#[cfg(test)]
mod tests {
    use super::Schedule;
    use std::time::{Duration, Instant};

    const MB: usize = 1 << 20;

    #[test]
    fn the_schedule_expects_progress_with_allocation_and_with_time() {
        let t0 = Instant::now();
        // 40 MB to mark; the old generation at 30 MB of a 40 MB limit.
        let s = Schedule::new(40 * MB, 30 * MB, 40 * MB, t0);
        assert_eq!(s.expected(30 * MB, t0), 0, "nothing is due at the start");
        // A quarter of the headroom used: half of the aim, so half the bytes.
        assert_eq!(s.expected(32 * MB + MB / 2, t0), 20 * MB);
        // Half the headroom (the aim): everything.
        assert_eq!(s.expected(35 * MB, t0), 40 * MB);
        assert_eq!(s.expected(39 * MB, t0), 40 * MB, "never more than the estimate");
        // With no allocation, time alone: half the target time, half the bytes.
        assert_eq!(s.expected(30 * MB, t0 + Schedule::TARGET_TIME / 2), 20 * MB);
        assert_eq!(s.expected(30 * MB, t0 + Duration::from_secs(10)), 40 * MB);
    }

    #[test]
    fn steps_are_due_only_when_the_workers_fall_behind_by_a_minimum_step() {
        let t0 = Instant::now();
        let s = Schedule::new(40 * MB, 30 * MB, 40 * MB, t0);
        let at = 32 * MB + MB / 2; // 20 MB expected
        assert_eq!(s.step_bytes(20 * MB, at, t0), 0, "the workers keep up");
        assert_eq!(s.step_bytes(20 * MB - Schedule::MIN_STEP + 1, at, t0), 0, "behind by less than a step");
        assert_eq!(s.step_bytes(15 * MB, at, t0), 5 * MB, "behind: the step makes up the difference");
    }

    #[test]
    fn a_cycle_is_overdue_at_twice_its_estimate_or_its_target_time() {
        let t0 = Instant::now();
        let s = Schedule::new(40 * MB, 30 * MB, 40 * MB, t0);
        assert!(!s.overdue(40 * MB, t0 + Schedule::TARGET_TIME), "on schedule, just done");
        assert!(s.overdue(80 * MB, t0), "twice the estimate marked (the mutator keeps shading)");
        assert!(s.overdue(0, t0 + 2 * Schedule::TARGET_TIME), "twice the target time passed");
    }
}

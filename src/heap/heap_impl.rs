//! The heap of one isolate: spaces, roots, limits, and the GC driver.

use super::large_object_space::LargeObjectSpace;
use super::new_space::NewSpace;
use super::old_space::{FillerMaps, OldSpace};
use super::page::{flags, Page, PagePool, SpaceId, AREA_SIZE};
use super::read_only::{ReadOnlyRoots, ReadOnlySpace};
use super::{MAX_REGULAR_OBJECT_SIZE, PAGE_SIZE};
use crate::config::{GcMode, HeapConfig};
use crate::error::AllocError;
use crate::handles::GlobalTable;
use crate::object::{HeapObject, InstanceType};
use crate::platform::Platform;
use crate::scavenger::ScavengeStats;
use crate::string_table::StringTable;
use crate::tracer::{GcEvent, GcKind, GcReason, Phase, PhaseTimer, SpanRecorder, Tracer};
use crate::value::Tagged;
use crate::{compactor, marking, scavenger, sweeper, verifier};
use std::rc::Rc;
use std::time::{Duration, Instant};
use sweeper::Sweeping;

/// Handle-stack slots reserved for the oddballs (never popped).
pub(crate) const RESERVED_HANDLES: usize = 5;

/// Byte size above which an allocation request is rejected as an invalid
/// length rather than attempted (no heap holds a terabyte object).
pub(crate) const MAX_OBJECT_BYTES: usize = 1 << 40;

/// Smallest step between the live size and the next major-GC trigger.
const MIN_LIMIT_STEP: usize = 2 * PAGE_SIZE * 4;

/// One escalation step of a failing allocation.
#[derive(Clone, Copy)]
enum Step {
    Gc(GcKind, GcReason),
    Callback,
}

const LAST_RESORT: Step = Step::Gc(GcKind::Major, GcReason::LastResort);

/// Where an allocation goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Space {
    Young,
    Old,
    Map,
}

/// A callback asked when the heap is about to fail an allocation:
/// `(current_limit, initial_limit) -> new_limit`.
pub(crate) type NearHeapLimitCallback = Box<dyn FnMut(usize, usize) -> usize>;

/// One isolate's heap.
pub(crate) struct Heap {
    pub(crate) id: u32,
    pub(crate) config: HeapConfig,
    pub(crate) platform: Platform,
    pub(crate) pool: PagePool,
    pub(crate) new_space: NewSpace,
    pub(crate) new_lo_space: LargeObjectSpace,
    pub(crate) old_space: OldSpace,
    pub(crate) map_space: OldSpace,
    pub(crate) lo_space: LargeObjectSpace,
    pub(crate) read_only: ReadOnlySpace,
    pub(crate) roots: ReadOnlyRoots,
    /// The local handle stack (scopes push and pop).
    pub(crate) handles: Vec<Tagged>,
    pub(crate) globals: Rc<GlobalTable>,
    pub(crate) weaks: Rc<GlobalTable>,
    pub(crate) string_table: StringTable,
    pub(crate) tracer: Tracer,
    /// Spans of the GC in progress, from every thread working on it.
    pub(crate) spans: SpanRecorder,
    /// The incremental marking cycle in progress, if any.
    pub(crate) marking: Option<marking::IncrementalMarking>,
    /// The sweeping of the last major GC, while pages are left to sweep.
    pub(crate) sweeping: Option<Sweeping>,
    /// Evacuation candidates of the major GC whose marking runs.
    pub(crate) candidates: Vec<Page>,
    /// Pages the major GC in progress evacuated, released after its
    /// scavenge (which reads their forwarding words).
    pub(crate) evacuated: Vec<Page>,
    /// Measured evacuation speed, bytes per ms (for the candidates' budget).
    pub(crate) compaction_speed: Option<f64>,
    /// What the last compaction did, for its GC event.
    pub(crate) last_compaction: compactor::CompactionStats,
    /// Objects the write barrier shaded (the mutator's marking worklist).
    pub(crate) barrier_worklist: Vec<HeapObject>,
    /// Old-generation size that triggers the next major GC.
    pub(crate) old_gen_limit: usize,
    /// Hard limit (`max_old_space_size`, raised only by the callback).
    pub(crate) hard_limit: usize,
    pub(crate) near_heap_limit_callback: Option<NearHeapLimitCallback>,
    in_gc: bool,
    /// Bytes that survived scavenges since the semi-space last grew.
    survived_since_resize: usize,
    /// End of the previous scavenge, for the allocation rate.
    last_scavenge: Instant,
}

/// Below this new-space allocation rate (bytes per ms) new space shrinks
/// (V8's `kLowAllocationThroughput`).
const LOW_ALLOCATION_RATE: f64 = 1000.0;

impl Heap {
    pub(crate) fn new(id: u32, config: HeapConfig, platform: Platform) -> Option<Heap> {
        let mut pool = PagePool::new(id, (config.max_semi_space_size / PAGE_SIZE).max(16));
        let (read_only, roots) = ReadOnlySpace::create(&mut pool)?;
        let fillers = FillerMaps { free_space: roots.free_space_map, filler: roots.filler_map };
        let new_space = NewSpace::new(config.min_semi_space_size, &mut pool)?;
        let tracer = Tracer::new();
        let mut handles = Vec::with_capacity(1024);
        for &o in &roots.oddballs {
            handles.push(Tagged::from_address(o));
        }
        Some(Heap {
            id,
            old_gen_limit: config.initial_old_space_size,
            hard_limit: config.max_old_space_size,
            platform,
            pool,
            new_space,
            new_lo_space: LargeObjectSpace::new(
                SpaceId::NewLarge,
                flags::NEW_LARGE | flags::LARGE | flags::TO_HERE_INTERESTING,
            ),
            old_space: OldSpace::new(SpaceId::Old, fillers),
            map_space: OldSpace::new(SpaceId::Map, fillers),
            lo_space: LargeObjectSpace::new(SpaceId::Large, flags::OLD | flags::LARGE | flags::FROM_HERE_INTERESTING),
            read_only,
            roots,
            handles,
            globals: GlobalTable::new(id),
            weaks: GlobalTable::new(id),
            string_table: StringTable::new(),
            spans: SpanRecorder::new(tracer.origin()),
            marking: None,
            sweeping: None,
            candidates: Vec::new(),
            evacuated: Vec::new(),
            compaction_speed: None,
            last_compaction: compactor::CompactionStats::default(),
            barrier_worklist: Vec::new(),
            tracer,
            near_heap_limit_callback: None,
            in_gc: false,
            survived_since_resize: 0,
            last_scavenge: Instant::now(),
            config,
        })
    }

    /// Workers (besides the main thread) one GC job of this heap may use.
    pub(crate) fn gc_worker_cap(&self) -> usize {
        let pool = self.platform.workers();
        self.config.gc_workers.map_or(pool, |w| w.min(pool))
    }

    /// Bytes of objects in the old generation (old, map, large): what the
    /// major-GC trigger and the next limit are measured in, as V8's
    /// `OldGenerationSizeOfObjects` (committed pages may be mostly free).
    pub(crate) fn old_gen_size(&self) -> usize {
        self.old_space.used() + self.map_space.used() + self.lo_space.object_bytes
    }

    /// Committed bytes of the old generation (old, map, large): what the hard
    /// limit `max_old_space_size` bounds.
    pub(crate) fn old_gen_committed(&self) -> usize {
        self.old_space.committed() + self.map_space.committed() + self.lo_space.committed()
    }

    /// Bytes of objects in all spaces but read-only.
    pub(crate) fn size_of_objects(&self) -> usize {
        self.new_space.used()
            + self.new_lo_space.object_bytes
            + self.old_space.used()
            + self.map_space.used()
            + self.lo_space.object_bytes
    }

    pub(crate) fn committed(&self) -> usize {
        self.pool.committed()
    }

    #[inline(always)]
    pub(crate) fn object_at(addr: usize) -> HeapObject {
        // SAFETY: callers pass addresses the allocator just returned, which
        // they initialise before anything else reads them.
        unsafe { HeapObject::from_address(addr) }
    }

    /// Allocates `size` bytes (a multiple of the word size) in `space`. The
    /// memory is uninitialised: the caller writes the map and every field
    /// before the next allocation.
    #[inline]
    pub(crate) fn allocate(&mut self, size: usize, space: Space) -> Result<HeapObject, AllocError> {
        if space == Space::Young && size <= MAX_REGULAR_OBJECT_SIZE {
            if let Some(a) = self.new_space.lab.allocate(size) {
                return Ok(Self::object_at(a));
            }
        }
        self.allocate_slow(size, space)
    }

    #[cold]
    #[inline(never)]
    fn allocate_slow(&mut self, size: usize, space: Space) -> Result<HeapObject, AllocError> {
        assert!(!self.in_gc, "allocation during GC");
        if size > self.hard_limit {
            return Err(self.oom(size));
        }
        self.major_gc_safepoint();
        // What to try, in order, when an attempt fails. A young allocation
        // gets a second scavenge before any full GC: the survivors that
        // filled to-space are below the age mark now and get promoted.
        let young = space == Space::Young && size <= MAX_REGULAR_OBJECT_SIZE;
        let young_large = space == Space::Young && !young;
        let mut steps: &[Step] = if young {
            &[
                Step::Gc(GcKind::Minor, GcReason::AllocationFailure),
                Step::Gc(GcKind::Minor, GcReason::AllocationFailure),
                LAST_RESORT,
                Step::Callback,
            ]
        } else if young_large {
            // Young large objects are bounded by new space's capacity: a
            // scavenge promotes the survivors (by page flip) and frees the
            // dead, before a full GC is tried.
            &[
                Step::Gc(GcKind::Minor, GcReason::AllocationFailure),
                Step::Gc(GcKind::Major, GcReason::AllocationFailure),
                LAST_RESORT,
                Step::Callback,
            ]
        } else {
            &[Step::Gc(GcKind::Major, GcReason::AllocationFailure), LAST_RESORT, Step::Callback]
        };
        loop {
            if let Some(a) = self.try_allocate(size, space) {
                if space != Space::Young && self.marking.is_some() {
                    self.allocate_black(a, size);
                }
                return Ok(Self::object_at(a));
            }
            let Some((&step, rest)) = steps.split_first() else { return Err(self.oom(size)) };
            steps = rest;
            match step {
                // A scavenge cannot help once the old generation is over its
                // hard limit (it only adds to it).
                Step::Gc(GcKind::Minor, _) if self.old_gen_committed() > self.hard_limit => {
                    self.collect(GcKind::Major, GcReason::AllocationFailure)
                }
                Step::Gc(kind, reason) => self.collect(kind, reason),
                Step::Callback => {
                    if !self.ask_near_heap_limit_callback() {
                        return Err(self.oom(size));
                    }
                }
            }
        }
    }

    /// Major-GC work due at an allocation safepoint. Stop-the-world mode:
    /// the atomic major GC once the old generation reaches its limit.
    /// Concurrent mode: incremental marking starts at the soft limit (three
    /// quarters of the limit, so it usually finishes first), advances one
    /// step per slow-path allocation, and is finalized when no grey object is
    /// left, or at once when the old generation reaches the limit.
    fn major_gc_safepoint(&mut self) {
        let old_gen = self.old_gen_size();
        if self.marking.is_some() {
            if self.timed_pause(GcKind::MarkingStep, GcReason::AllocationStep, |h, t| {
                t.time(Phase::Mark, || marking::step(h))
            }) {
                self.collect(GcKind::Major, GcReason::MarkingComplete);
            } else if old_gen >= self.old_gen_limit {
                self.collect(GcKind::Major, GcReason::OldGenerationLimit);
            }
        } else if self.config.mode == GcMode::Concurrent && old_gen >= self.old_gen_limit - self.old_gen_limit / 4 {
            self.old_space.retire_mutator_lab();
            self.map_space.retire_mutator_lab();
            self.timed_pause(GcKind::MarkingStart, GcReason::SoftLimit, |h, t| {
                // Marking needs every mark bit of the last cycle gone.
                t.time(Phase::Sweep, || sweeper::finish(h));
                t.time(Phase::Mark, || marking::start_incremental(h));
                false
            });
        } else if old_gen >= self.old_gen_limit {
            self.collect(GcKind::Major, GcReason::OldGenerationLimit);
        }
    }

    /// Black allocation: an old-generation object allocated while marking is
    /// born marked (the marker never needs to visit it; every pointer later
    /// stored into it goes through the barrier). Objects on pages allocated
    /// black need no mark bit.
    fn allocate_black(&mut self, addr: usize, size: usize) {
        // SAFETY: `addr` was just allocated in a live page of this heap.
        let page = unsafe { Page::of(addr) };
        if !page.has(flags::BLACK_ALLOCATED) {
            page.header().marks.set(page.mark_index(addr));
        }
        page.add_live_bytes(size);
    }

    /// Runs `f` as a recorded pause of `kind` (a marking start or step);
    /// `f` times its phases.
    fn timed_pause(
        &mut self,
        kind: GcKind,
        reason: GcReason,
        f: impl FnOnce(&mut Heap, &mut PhaseTimer) -> bool,
    ) -> bool {
        let start = Instant::now();
        let bytes_before = self.size_of_objects();
        let mut timer = PhaseTimer::new();
        let r = f(self, &mut timer);
        self.record_event(kind, reason, start, timer, bytes_before, ScavengeStats::default());
        r
    }

    fn oom(&self, requested: usize) -> AllocError {
        AllocError::OutOfMemory { requested, old_generation: self.old_gen_committed(), limit: self.hard_limit }
    }

    /// Gives the embedder a chance to raise the hard limit. `true` if it did.
    fn ask_near_heap_limit_callback(&mut self) -> bool {
        let Some(cb) = self.near_heap_limit_callback.as_mut() else { return false };
        let new_limit = cb(self.hard_limit, self.config.max_old_space_size);
        if new_limit > self.hard_limit {
            self.hard_limit = new_limit;
            true
        } else {
            false
        }
    }

    /// One allocation attempt without GC.
    fn try_allocate(&mut self, size: usize, space: Space) -> Option<usize> {
        let old_gen = self.old_gen_committed();
        if old_gen > self.hard_limit {
            return None;
        }
        let large = size > MAX_REGULAR_OBJECT_SIZE;
        match space {
            Space::Young if !large => self.new_space.allocate(size),
            Space::Young => {
                let young_large = self.new_lo_space.object_bytes;
                if young_large > 0 && young_large + size > self.new_space.capacity() {
                    return None;
                }
                let chunk = LargeObjectSpace::chunk_size(size)?;
                if old_gen + self.new_lo_space.committed() + chunk > self.hard_limit {
                    return None;
                }
                self.new_lo_space.allocate(size, &mut self.pool)
            }
            Space::Old | Space::Map if large => {
                let chunk = LargeObjectSpace::chunk_size(size)?;
                if old_gen + chunk > self.hard_limit {
                    return None;
                }
                self.lo_space.allocate(size, &mut self.pool)
            }
            Space::Old | Space::Map => self.allocate_paged(size, space, old_gen + PAGE_SIZE <= self.hard_limit),
        }
    }

    /// A paged space, the page pool, and the sweeping in progress.
    fn paged_parts(&mut self, space: Space) -> (&mut OldSpace, &mut PagePool, &mut Option<Sweeping>) {
        let target = if space == Space::Map { &mut self.map_space } else { &mut self.old_space };
        (target, &mut self.pool, &mut self.sweeping)
    }

    /// Allocation in old or map space, in V8's order while sweeping is in
    /// progress: the free list; the pages sweepers finished; one page swept
    /// here; a new page (if `can_grow`); the rest of the sweeping.
    fn allocate_paged(&mut self, size: usize, space: Space, can_grow: bool) -> Option<usize> {
        let (target, pool, sweeping) = self.paged_parts(space);
        if let Some(a) = target.allocate(size, pool, false) {
            return Some(a);
        }
        if let Some(s) = sweeping {
            if sweeper::harvest(s, target) {
                if let Some(a) = target.allocate(size, pool, false) {
                    return Some(a);
                }
            }
            if self.sweeping_step(space, false) {
                let (target, pool, _) = self.paged_parts(space);
                if let Some(a) = target.allocate(size, pool, false) {
                    return Some(a);
                }
            }
        }
        let (target, pool, _) = self.paged_parts(space);
        if let Some(a) = target.allocate(size, pool, can_grow) {
            return Some(a);
        }
        if self.sweeping.is_some() {
            self.sweeping_step(space, true);
            let (target, pool, _) = self.paged_parts(space);
            return target.allocate(size, pool, can_grow);
        }
        None
    }

    /// Sweeping on the allocating thread, recorded as a pause: one page of
    /// `space`, or (`all`) everything left. `false` if there was nothing to
    /// claim.
    fn sweeping_step(&mut self, space: Space, all: bool) -> bool {
        let reason = if all { GcReason::AllocationFailure } else { GcReason::AllocationStep };
        let start = Instant::now();
        let bytes_before = self.size_of_objects();
        let mut timer = PhaseTimer::new();
        let swept = timer.time(Phase::Sweep, || {
            if all {
                sweeper::finish(self);
                return true;
            }
            let (target, _, sweeping) = self.paged_parts(space);
            let Some(s) = sweeping else { return false };
            let swept = sweeper::sweep_one_page(s, target);
            sweeper::end_if_complete(self);
            swept
        });
        // No page of `space` was left to claim (another space's may be):
        // nothing was swept, so there was no step to record.
        if swept {
            self.record_event(GcKind::SweepingStep, reason, start, timer, bytes_before, ScavengeStats::default());
        }
        swept
    }

    /// Runs a GC of `kind` now. All allocation areas are retired first, so
    /// every page is iterable while the collector runs.
    pub(crate) fn collect(&mut self, kind: GcKind, reason: GcReason) {
        assert!(!self.in_gc, "nested GC");
        self.in_gc = true;
        let start = Instant::now();
        // Background markers and sweepers never run during a pause: objects
        // move, pages go, flags change.
        marking::pause_workers(self);
        sweeper::pause_workers(self);
        self.old_space.retire_mutator_lab();
        self.map_space.retire_mutator_lab();
        self.new_space.sync_top();
        let bytes_before = self.size_of_objects();
        let young_before = self.new_space.used();
        let mut timer = PhaseTimer::new();
        let scavenge = match kind {
            GcKind::Minor => timer.time(Phase::Scavenge, || scavenger::scavenge(self, false)),
            GcKind::Major => {
                // An incremental cycle is finalized; an explicit or
                // last-resort collection abandons it for an atomic one (the
                // caller wants everything dead gone now, floating garbage
                // included).
                let finalize = self.marking.is_some() && !matches!(reason, GcReason::Requested | GcReason::LastResort);
                if self.marking.is_some() && !finalize {
                    marking::abort_incremental(self);
                }
                // A cycle's marking starts only after the previous sweeping
                // finished; an atomic GC finishes it here.
                debug_assert!(!finalize || self.sweeping.is_none());
                timer.time(Phase::Sweep, || sweeper::finish(self));
                if !finalize {
                    let reducing = matches!(reason, GcReason::Requested | GcReason::LastResort);
                    compactor::select_candidates(self, reducing);
                }
                timer.time(Phase::Mark, || {
                    if finalize {
                        marking::finish_incremental(self)
                    } else {
                        marking::mark_full(self)
                    }
                });
                if self.config.verify_heap {
                    timer.time(Phase::Verify, || self.verify_or_panic(kind, "marking", verifier::verify_marking(self)));
                }
                timer.time(Phase::Weak, || marking::clear_dead_weak_references(self));
                compactor::compact(self, &mut timer);
                timer.time(Phase::Sweep, || sweeper::prepare(self));
                let s = timer.time(Phase::Scavenge, || scavenger::scavenge(self, true));
                compactor::release_evacuated(self);
                timer.time(Phase::Sweep, || sweeper::start(self));
                self.update_old_gen_limit();
                s
            }
            GcKind::MarkingStart | GcKind::MarkingStep | GcKind::SweepingStep => {
                unreachable!("marking and sweeping steps run through timed_pause")
            }
        };
        self.resize_new_space(young_before, scavenge.survived);
        if self.config.verify_heap {
            timer.time(Phase::Verify, || self.verify_or_panic(kind, "GC", verifier::verify(self)));
        }
        self.record_event(kind, reason, start, timer, bytes_before, scavenge);
        marking::resume_workers(self);
        sweeper::resume_workers(self);
        self.unmap_released_pages();
        self.in_gc = false;
    }

    /// Hands the chunks the GC freed past the pool's bound to a background
    /// thread that returns them to the OS.
    fn unmap_released_pages(&mut self) {
        let unmap = self.pool.take_unmap();
        if !unmap.is_empty() {
            self.platform.spawn(move || unmap.run());
        }
    }

    fn record_event(
        &mut self,
        kind: GcKind,
        reason: GcReason,
        start: Instant,
        timer: PhaseTimer,
        bytes_before: usize,
        scavenge: ScavengeStats,
    ) {
        let pause = start.elapsed();
        let compaction = std::mem::take(&mut self.last_compaction);
        let mut spans: Vec<_> = timer.spans(self.tracer.origin()).collect();
        spans.extend(self.spans.take());
        let event = GcEvent {
            kind,
            reason,
            start: self.tracer.since_origin(start),
            pause,
            phases: timer.phases,
            spans,
            bytes_before,
            bytes_after: self.size_of_objects(),
            committed_after: self.committed(),
            survived_bytes: scavenge.survived,
            promoted_bytes: scavenge.promoted,
            scavenge_tasks: scavenge.tasks,
            semi_space_size: self.new_space.capacity(),
            evacuated_pages: compaction.evacuated_pages,
            evacuated_bytes: compaction.evacuated_bytes,
            aborted_pages: compaction.aborted_pages,
        };
        self.tracer.record(event, self.config.trace_gc, self.id);
    }

    fn verify_or_panic(&self, kind: GcKind, after: &str, r: Result<(), String>) {
        if let Err(e) = r {
            panic!("isogc heap verification failed after {after} ({kind:?} GC, isolate {}): {e}", self.id);
        }
    }

    /// Semi-space sizing, as V8 does it: double (up to the maximum) once more
    /// bytes survived scavenges since the last resize than a semi-space
    /// holds; shrink toward the minimum when the mutator allocates slowly
    /// (under 1 KB/ms). Takes effect at the next flip.
    fn resize_new_space(&mut self, allocated: usize, survived: usize) {
        let now = Instant::now();
        let ms = now.duration_since(self.last_scavenge).as_secs_f64() * 1e3;
        self.last_scavenge = now;
        self.survived_since_resize += survived;
        let cap = self.new_space.capacity();
        let (min, max) = (self.config.min_semi_space_size, self.config.max_semi_space_size);
        if self.survived_since_resize > cap && cap < max {
            self.new_space.set_capacity((cap * 2).min(max));
            self.survived_since_resize = 0;
        } else if cap > min && ms > 0.0 && (allocated as f64 / ms) < LOW_ALLOCATION_RATE {
            let target = (2 * survived).next_power_of_two().clamp(min, cap);
            if target < cap {
                self.new_space.set_capacity(target);
                self.survived_since_resize = 0;
            }
        }
    }

    /// After a major GC: next trigger at `live * factor` (live = bytes of
    /// old-generation objects after sweeping, not committed pages, which
    /// fragmentation inflates), at least a few pages above live, at most the
    /// hard limit.
    fn update_old_gen_limit(&mut self) {
        let live = self.old_gen_size();
        let grown = (live as f64 * self.config.old_gen_growth_factor) as usize;
        self.old_gen_limit = grown
            .max(live + MIN_LIMIT_STEP)
            .max(self.config.initial_old_space_size.min(self.hard_limit))
            .min(self.hard_limit);
    }

    /// Every page of the old generation.
    pub(crate) fn old_gen_pages(&self) -> impl Iterator<Item = Page> + '_ {
        self.old_space.pages.iter().chain(&self.map_space.pages).chain(&self.lo_space.pages).copied()
    }

    /// Calls `f` on every object (fillers included) of every space, with the
    /// space it lives in. Skips the unused part of the mutator's allocation
    /// areas.
    pub(crate) fn for_each_object(&self, mut f: impl FnMut(HeapObject, SpaceId)) {
        let walk =
            |start: usize, end: usize, skip: (usize, usize), space: SpaceId, f: &mut dyn FnMut(HeapObject, SpaceId)| {
                let mut a = start;
                while a < end {
                    if a == skip.0 && skip.1 > skip.0 {
                        a = skip.1;
                        continue;
                    }
                    // SAFETY: pages are iterable: every address reached by
                    // stepping object sizes from the area start is an object or
                    // filler start (allocation areas are skipped).
                    let o = unsafe { HeapObject::from_address(a) };
                    let size = o.size();
                    f(o, space);
                    a += size;
                }
            };
        walk(self.read_only.page.area_start(), self.read_only.top, (0, 0), SpaceId::ReadOnly, &mut f);
        for (_, start, end) in self.new_space.allocated_ranges() {
            walk(start, end, (0, 0), SpaceId::New, &mut f);
        }
        for space in [&self.old_space, &self.map_space] {
            let lab = (space.lab.top, space.lab.limit);
            for &p in &space.pages {
                if sweeper::is_pending(p) {
                    // Only the marked objects (sweepers are paused: see
                    // `stats`); the rest is garbage.
                    sweeper::for_each_marked(p, |o| f(o, space.id));
                } else {
                    walk(p.area_start(), p.area_end(), lab, space.id, &mut f);
                }
            }
        }
        for space in [&self.new_lo_space, &self.lo_space] {
            for p in &space.pages {
                // SAFETY: a large page holds exactly one object at its start.
                f(unsafe { HeapObject::from_address(p.area_start()) }, space.id);
            }
        }
    }

    /// Statistics per space, like V8's `getHeapSpaceStatistics()`.
    pub(crate) fn stats(&self) -> crate::isolate::HeapStats {
        // Objects are counted by walking pages, which sweepers write.
        sweeper::with_workers_paused(self, || self.stats_now())
    }

    fn stats_now(&self) -> crate::isolate::HeapStats {
        use crate::isolate::{HeapStats, SpaceStats};
        let mut counts = [0usize; 6];
        self.for_each_object(|o, space| {
            if !matches!(o.instance_type(), InstanceType::FreeSpace | InstanceType::Filler) {
                counts[space as usize] += 1;
            }
        });
        let ro_used = self.read_only.top - self.read_only.page.area_start();
        let spaces = vec![
            SpaceStats {
                name: "new_space",
                used: self.new_space.used(),
                committed: self.new_space.committed(),
                available: self.new_space.capacity().saturating_sub(self.new_space.used()),
                objects: counts[SpaceId::New as usize],
            },
            SpaceStats {
                name: "new_large_object_space",
                used: self.new_lo_space.object_bytes,
                committed: self.new_lo_space.committed(),
                available: 0,
                objects: counts[SpaceId::NewLarge as usize],
            },
            SpaceStats {
                name: "old_space",
                used: self.old_space.used(),
                committed: self.old_space.committed(),
                available: self.old_space.available(),
                objects: counts[SpaceId::Old as usize],
            },
            SpaceStats {
                name: "map_space",
                used: self.map_space.used(),
                committed: self.map_space.committed(),
                available: self.map_space.available(),
                objects: counts[SpaceId::Map as usize],
            },
            SpaceStats {
                name: "large_object_space",
                used: self.lo_space.object_bytes,
                committed: self.lo_space.committed(),
                available: 0,
                objects: counts[SpaceId::Large as usize],
            },
            SpaceStats {
                name: "read_only_space",
                used: ro_used,
                committed: PAGE_SIZE,
                available: AREA_SIZE - ro_used,
                objects: counts[SpaceId::ReadOnly as usize],
            },
        ];
        let (globals, weaks) = (self.globals.inner.borrow().live, self.weaks.inner.borrow().live);
        HeapStats {
            used: spaces.iter().map(|s| s.used).sum(),
            committed: self.committed(),
            pooled: self.pool.pooled(),
            spaces,
            old_generation_limit: self.old_gen_limit,
            max_old_generation: self.hard_limit,
            local_handles: self.handles.len() - RESERVED_HANDLES,
            global_handles: globals,
            weak_handles: weaks,
            interned_strings: self.string_table.len(),
            minor_gcs: self.tracer.minor_count,
            major_gcs: self.tracer.major_count,
            total_pause: self.tracer.total_pause,
            pages_pending_sweep: self.sweeping.as_ref().map_or(0, sweeper::pages_left),
        }
    }

    pub(crate) fn total_pause(&self) -> Duration {
        self.tracer.total_pause
    }
}

impl Drop for Heap {
    fn drop(&mut self) {
        // Stop background markers and sweepers before a single page goes
        // away.
        drop(self.marking.take());
        drop(self.sweeping.take());
        let mut pages: Vec<Page> = Vec::new();
        pages.extend(&self.new_space.to_pages);
        pages.extend(&self.new_space.from_pages);
        pages.extend(&self.new_lo_space.pages);
        pages.extend(&self.old_space.pages);
        pages.extend(&self.map_space.pages);
        pages.extend(&self.lo_space.pages);
        pages.push(self.read_only.page);
        for p in pages {
            self.pool.release(p);
        }
    }
}

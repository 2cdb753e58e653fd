//! The GC driver: what to collect when, and the pauses that do it.
//!
//! This is the one module above the phases (V8 splits the same work into
//! `heap.cc`'s `CollectGarbage`, the heap controller and the GC tracer). It
//! owns the collector's state between pauses, a [`Collector`] beside the
//! isolate's [`Heap`]: the marking cycle and the sweeping in progress, the
//! compactor's candidates, the mutator's barrier worklist, the limits, and
//! the GC history. The phases below it ([`crate::scavenger`],
//! [`crate::marking`], [`crate::compactor`], [`crate::sweeper`],
//! [`crate::verifier`]) work on the heap and on what the driver hands them,
//! and never on each other (one hand-off aside: a scavenge during marking
//! gives marking its copies).
//!
//! - [`GcRequest`]: what a caller may ask for, each one meaningful in both
//!   modes. The kind of a recorded pause is a [`GcKind`].
//! - Pauses ([`Collector::collect`] and the marking and sweeping steps) run
//!   inside a guard: background workers are kept off the heap, allocation
//!   areas are retired, and a panic inside the pause *poisons* the isolate
//!   (its heap may be half-collected), so every later use says so instead
//!   of running on a corrupt heap.
//! - The allocation slow path ([`allocation`]): V8's order of lazy
//!   sweeping, growing, and escalating collections, then the near-heap-limit
//!   callback, then `Err(OutOfMemory)`.
//! - The safepoint ([`Collector::safepoint`]): starts, steps and finalizes
//!   concurrent marking, or runs the atomic major GC at the limit.
//! - Limits and semi-space sizing: [`controller`].

mod allocation;
mod controller;

use crate::compactor::{CompactionStats, Compactor};
use crate::config::GcMode;
use crate::gc_callbacks::GcCallbacks;
use crate::heap::{Heap, HeapStats, ObjectCounts, PAGE_SIZE, RESERVED_HANDLES};
use crate::marking::{self, IncrementalMarking, StepDue};
use crate::object::HeapObject;
use crate::page_promotion::{self, PagePromotion};
use crate::scavenger::{self, ScavengeContext, ScavengeStats};
use crate::sweeper::{self, Sweeping};
use crate::tracer::{GcEvent, GcKind, GcReason, Phase, PhaseTimer, Tracer};
use crate::verifier;
use controller::{Controller, YoungGc, PAGE_PROMOTION_LIVE};
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::time::Instant;

/// A collection a caller may ask for
/// ([`crate::Isolate::collect_garbage`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GcRequest {
    /// A scavenge of the young generation now.
    Minor,
    /// A full, atomic, memory-reducing GC now: everything dead is freed,
    /// floating garbage of a marking cycle in progress included (the cycle is
    /// abandoned), and fragmented pages are compacted at V8's
    /// reduce-memory threshold. Sweeping is finished first.
    Major,
    /// Starts a concurrent marking cycle now, ahead of the allocation
    /// schedule (for example before an idle period); the cycle then runs
    /// and finishes as one started by allocation does. Nothing happens if a
    /// cycle is already running. In [`GcMode::StopTheWorld`], where marking
    /// runs inside one pause, this runs that (not memory-reducing) major GC
    /// now.
    StartMarking,
    /// Finishes the marking cycle in progress now: its finalization pause
    /// (marking finished, weak references cleared, compaction, sweeping
    /// started). Nothing happens if no cycle runs (as always in
    /// [`GcMode::StopTheWorld`]).
    FinishMarking,
    /// Finishes the sweeping in progress now, in one recorded
    /// [`GcKind::SweepingStep`] pause (every free block reaches the free
    /// lists). Nothing happens if no sweeping is left.
    FinishSweeping,
}

/// A callback asked when the heap is about to fail an allocation:
/// `(current_limit, initial_limit) -> new_limit`.
pub(crate) type NearHeapLimitCallback = Box<dyn FnMut(usize, usize) -> usize>;

/// How a major GC handles the young generation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum YoungInMajor {
    /// Scavenged after marking (its pages are secured).
    Scavenge,
    /// Promoted by pages (the system refused the scavenge's pages).
    PromotePages,
    /// Left where it is, as roots of an atomic marking (nothing else is
    /// possible without memory from the system).
    Keep,
}

/// What a pause collects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Collection {
    /// A scavenge.
    Minor,
    /// A major GC: the finalization of the marking cycle in progress, or, if
    /// none runs or `reduce_memory`, an atomic one (abandoning the cycle).
    Major { reduce_memory: bool },
}

/// Whether the collector may run.
#[derive(Debug)]
enum State {
    Idle,
    /// A pause is running (GCs do not nest).
    InPause,
    /// A pause panicked; the heap may be inconsistent. The message says why.
    Poisoned(String),
}

/// The collector's state between pauses, beside one isolate's heap.
pub(crate) struct Collector {
    /// The incremental marking cycle in progress, if any.
    pub(crate) marking: Option<IncrementalMarking>,
    /// The sweeping of the last major GC, while pages are left to sweep.
    pub(crate) sweeping: Option<Sweeping>,
    compactor: Compactor,
    /// Objects the write barrier shaded (the mutator's marking worklist).
    pub(crate) barrier_worklist: Vec<HeapObject>,
    controller: Controller,
    pub(crate) tracer: Tracer,
    pub(crate) near_heap_limit_callback: Option<NearHeapLimitCallback>,
    /// The GC prologue and epilogue callbacks.
    pub(crate) callbacks: GcCallbacks,
    state: State,
    /// The old generation's size after the last safepoint (see
    /// `allocation::SAFEPOINT_OLD_BYTES`).
    old_gen_at_safepoint: usize,
    /// The marking of the pause being recorded: bytes marked in it, bytes
    /// the background workers marked in the cycle it finalized.
    marked: (usize, usize),
    /// The last major GC kept the young generation where it was (the
    /// system refused the pages a scavenge needs): a young allocation that
    /// failed after it tries one more scavenge, with the pages that GC freed.
    pub(crate) kept_young: bool,
}

impl Collector {
    pub(crate) fn new(initial_old_gen_limit: usize, event_history: usize) -> Collector {
        Collector {
            marking: None,
            sweeping: None,
            compactor: Compactor::default(),
            barrier_worklist: Vec::new(),
            controller: Controller::new(initial_old_gen_limit),
            tracer: Tracer::new(event_history),
            near_heap_limit_callback: None,
            callbacks: GcCallbacks::default(),
            state: State::Idle,
            old_gen_at_safepoint: 0,
            marked: (0, 0),
            kept_young: false,
        }
    }

    /// Panics if a GC of this isolate panicked before: its heap may be
    /// half-collected, and using it could corrupt memory.
    #[inline]
    pub(crate) fn check_usable(&self, isolate: u32) {
        if let State::Poisoned(why) = &self.state {
            poisoned(isolate, why);
        }
    }

    /// Is a GC pause of this isolate running (a GC callback is being
    /// called)?
    pub(crate) fn in_pause(&self) -> bool {
        matches!(self.state, State::InPause)
    }

    /// Puts the collector in or out of a pause, as a GC callback would see
    /// it (for tests of calls that must be refused inside a GC).
    #[cfg(test)]
    pub(crate) fn set_in_pause_for_test(&mut self, on: bool) {
        self.state = if on { State::InPause } else { State::Idle };
    }

    /// Runs what `request` asks for.
    pub(crate) fn request(&mut self, heap: &mut Heap, request: GcRequest) {
        self.check_usable(heap.id);
        let reason = GcReason::Requested;
        match request {
            GcRequest::Minor => self.collect_minor(heap, reason),
            GcRequest::Major => self.collect_major(heap, reason, true),
            GcRequest::StartMarking if heap.config.mode == GcMode::StopTheWorld => {
                self.collect_major(heap, reason, false)
            }
            GcRequest::StartMarking => {
                if self.marking.is_none() {
                    self.start_marking(heap, reason);
                }
            }
            GcRequest::FinishMarking => {
                if self.marking.is_some() {
                    self.collect_major(heap, reason, false);
                }
            }
            GcRequest::FinishSweeping => {
                if self.sweeping.is_some() {
                    self.sweeping_pause(heap, reason, |gc, heap| {
                        sweeper::finish(heap, &mut gc.sweeping);
                        true
                    });
                }
            }
        }
        // A GC callback that panicked did so inside a pause that went on:
        // the collector is consistent again now.
        self.callbacks.raise_pending_panic();
    }

    /// A scavenge now.
    pub(crate) fn collect_minor(&mut self, heap: &mut Heap, reason: GcReason) {
        self.collect(heap, Collection::Minor, reason);
    }

    /// A major GC now: the marking cycle in progress is finalized, unless
    /// `reduce_memory` (then, as with no cycle, an atomic one runs).
    pub(crate) fn collect_major(&mut self, heap: &mut Heap, reason: GcReason, reduce_memory: bool) {
        self.collect(heap, Collection::Major { reduce_memory }, reason);
    }

    /// Runs `f` as a pause of the isolate: nothing nests, background
    /// markers and sweepers are kept off the heap, and a panic in `f`
    /// poisons the isolate (and goes on unwinding).
    fn pause<R>(&mut self, heap: &mut Heap, f: impl FnOnce(&mut Collector, &mut Heap) -> R) -> R {
        match self.state {
            State::Idle => {}
            State::InPause => panic!("isogc: a GC started inside a GC of isolate {}", heap.id),
            State::Poisoned(ref why) => poisoned(heap.id, why),
        }
        self.state = State::InPause;
        let r = catch_unwind(AssertUnwindSafe(|| f(self, heap)));
        match r {
            Ok(r) => {
                self.state = State::Idle;
                r
            }
            Err(payload) => {
                let why = panic_message(&*payload);
                self.state = State::Poisoned(why);
                // Background workers stay out for good, and no allocation
                // takes the fast path into a heap that may be inconsistent.
                self.pause_workers(heap);
                heap.new_space.lab.limit = heap.new_space.lab.top;
                resume_unwind(payload)
            }
        }
    }

    /// Keeps background markers and sweepers off the heap (objects move,
    /// pages go, flags change), taking what the sweepers finished.
    fn pause_workers(&mut self, heap: &mut Heap) {
        if let Some(m) = &self.marking {
            m.pause();
        }
        sweeper::pause_workers(heap, &mut self.sweeping);
    }

    /// Lets the background workers go on after a pause.
    fn resume_workers(&self, heap: &Heap) {
        if let Some(m) = &self.marking {
            m.resume(&heap.platform);
        }
        if let Some(s) = &self.sweeping {
            s.resume(&heap.platform);
        }
    }

    /// Runs a GC pause now. All allocation areas are retired first, so every
    /// page is iterable while the collector runs.
    fn collect(&mut self, heap: &mut Heap, what: Collection, reason: GcReason) {
        self.pause(heap, |gc, heap| {
            let kind = if what == Collection::Minor { GcKind::Minor } else { GcKind::Major };
            gc.callbacks.prologue(heap.id, kind, reason);
            let start = Instant::now();
            let mut timer = PhaseTimer::new();
            timer.time(Phase::StopWorkers, || gc.pause_workers(heap));
            heap.make_iterable();
            #[cfg(test)]
            tests::maybe_inject_panic();
            let bytes_before = heap.size_of_objects();
            let young_before = heap.new_space.used();
            let scavenge = match what {
                Collection::Minor => gc.minor(heap, &mut timer),
                Collection::Major { reduce_memory } => gc.major(heap, &mut timer, reduce_memory),
            };
            gc.controller.resize_new_space(heap, young_before, &scavenge);
            if heap.config.verify_heap {
                timer.time(Phase::Verify, || {
                    verify_or_panic(heap, kind, "GC", verifier::verify(heap, gc.marking.is_some()))
                });
            }
            let compaction = gc.compactor.take_stats();
            gc.record_event(heap, kind, reason, start, timer, bytes_before, scavenge, compaction);
            gc.resume_workers(heap);
            heap.unmap_released_pages();
        })
    }

    /// The young-generation GC of a minor GC: a scavenge (during a marking
    /// cycle its copies go to marking), or, while fast promotion is on, a
    /// promotion of new space by pages.
    fn minor(&mut self, heap: &mut Heap, timer: &mut PhaseTimer) -> ScavengeStats {
        if self.controller.young_gc(heap) == YoungGc::PromotePages {
            let promoted = timer.time(Phase::PagePromotion, || page_promotion::promote_young_generation(heap));
            if let Some(p) = promoted {
                heap.sites.skip_period();
                return promoted_stats(p);
            }
            // Out of memory for the new to-space: scavenge (which copies into
            // pages that are already there, or fails as it would have).
        }
        let context = match self.marking.as_mut() {
            Some(m) => ScavengeContext::DuringMarking(m, &mut self.barrier_worklist),
            None => ScavengeContext::Plain,
        };
        // Predicted before it runs, from what the controller knew then.
        let predicted = self.controller.predict_scavenge(heap.new_space.used());
        let capacity = heap.new_space.capacity();
        let Some(mut s) = Self::timed_scavenge(&mut self.controller, heap, timer, context) else {
            // The system has no memory for the scavenge's pages: promote by
            // pages if the limit allows (one page at most, secured already),
            // else collect nothing (the allocation goes on failing).
            return Self::promote_pages_secured(heap, timer).map_or_else(ScavengeStats::default, promoted_stats);
        };
        s.predicted = Some(predicted);
        self.controller.after_minor_scavenge(heap, capacity, s.copied());
        // Pretenuring: digest the mementos this scavenge found.
        heap.sites.digest(self.controller.full_size_scavenge(heap, capacity));
        s
    }

    /// A scavenge, timed as its phase, that the controller learns from.
    fn timed_scavenge(
        controller: &mut Controller,
        heap: &mut Heap,
        timer: &mut PhaseTimer,
        context: ScavengeContext<'_>,
    ) -> Option<ScavengeStats> {
        let young = heap.new_space.used();
        let started = Instant::now();
        let stats = timer.time(Phase::Scavenge, || scavenger::scavenge(heap, context))?;
        controller.record_scavenge(young, stats.copied(), started.elapsed(), stats.roots_time);
        Some(stats)
    }

    /// A promotion of the young generation by pages that may take the
    /// pages secured for a scavenge (the system refused a scavenge's).
    fn promote_pages_secured(heap: &mut Heap, timer: &mut PhaseTimer) -> Option<PagePromotion> {
        if !page_promotion::can_promote(heap) {
            return None;
        }
        heap.pool.open_reserve(true);
        let p = timer.time(Phase::PagePromotion, || page_promotion::promote_young_generation(heap));
        heap.pool.open_reserve(false);
        p
    }

    /// A major GC's phases, in order: marking (finished, or atomic),
    /// verification, weak clearing, compaction, sweeping prepared, the
    /// young generation scavenged, evacuated pages released, sweeping
    /// started, the next limit set.
    fn major(&mut self, heap: &mut Heap, timer: &mut PhaseTimer, reduce_memory: bool) -> ScavengeStats {
        // Once marking ran, the young generation must be scavenged, promoted
        // by pages or kept whole, and nothing it does may fail: the
        // scavenge's pages are secured now, or else nothing is compacted and
        // the choice waits for marking (below).
        let secured = scavenger::secure(heap);
        let finalize = self.marking.is_some() && !reduce_memory;
        if !finalize {
            // An atomic GC abandons a cycle in progress (the caller wants
            // everything dead gone now, floating garbage included).
            if let Some(m) = self.marking.take() {
                marking::abort_incremental(heap, m, &mut self.barrier_worklist);
                self.compactor.drop_candidates(heap);
            }
        }
        // A cycle's marking starts only after the previous sweeping
        // finished; an atomic GC finishes it here.
        debug_assert!(!finalize || self.sweeping.is_none());
        timer.time(Phase::Sweep, || sweeper::finish(heap, &mut self.sweeping));
        // Pretenuring feedback.
        let (old_gen_before, full_size) =
            (heap.old_gen_size(), self.controller.full_size_scavenge(heap, heap.new_space.capacity()));
        if !secured {
            self.compactor.drop_candidates(heap);
        } else if !finalize {
            self.compactor.select_candidates(heap, reduce_memory);
        }
        let cycle_started = self.marking.as_ref().map(IncrementalMarking::started);
        self.marked = timer.time(Phase::Mark, || match self.marking.take() {
            Some(m) => marking::finish_incremental(heap, m, &mut self.barrier_worklist),
            None => (marking::mark_full(heap, self.compactor.is_compacting()), 0),
        });
        if let Some(started) = cycle_started {
            self.controller.record_marking_cycle(self.marked.1, started.elapsed());
        }
        // (Without secured pages the candidates were dropped above, before
        // marking: with no page flagged a candidate, neither marking nor the
        // barrier recorded a slot since.)
        let young = self.young_in_major(heap, secured);
        self.kept_young = young == YoungInMajor::Keep;
        if self.kept_young {
            timer.time(Phase::Mark, || marking::mark_from_young_generation(heap));
        }
        if heap.config.verify_heap {
            timer.time(Phase::Verify, || {
                verify_or_panic(heap, GcKind::Major, "marking", verifier::verify_marking(heap))
            });
        }
        timer.time(Phase::Weak, || marking::clear_dead_weak_references(heap));
        // The young generation: promoted by pages (before compaction, which
        // then updates their objects by recorded slots, and before sweeping,
        // which frees their dead objects by the marks) when marking found
        // most of it live or fast promotion is on; else scavenged below.
        let by_pages = match young {
            YoungInMajor::PromotePages => Self::promote_pages_secured(heap, timer),
            YoungInMajor::Keep => None,
            YoungInMajor::Scavenge => (!reduce_memory && self.young_mostly_live(heap, finalize))
                .then(|| timer.time(Phase::PagePromotion, || page_promotion::promote_young_generation(heap)))
                .flatten(),
        };
        self.compactor.compact(heap, timer);
        let mut sweeping = timer.time(Phase::Sweep, || sweeper::prepare(heap));
        let s = match by_pages {
            Some(p) => promoted_stats(p),
            None if self.kept_young => ScavengeStats::default(),
            // (Its pages were secured before marking, or page promotion was
            // possible then: it cannot fail.)
            None => Self::timed_scavenge(&mut self.controller, heap, timer, ScavengeContext::AfterMarking)
                .expect("isogc: the major GC's scavenge lost the pages secured for it"),
        };
        self.compactor.release_evacuated(heap);
        timer.time(Phase::Sweep, || sweeper::start(heap, &mut sweeping));
        self.sweeping = sweeping;
        // Pretenuring: digest this scavenge's mementos; un-tenure on a
        // collapse of old-generation survival.
        let promoted_live = by_pages.map_or(s.promoted, |p| p.live_bytes);
        heap.sites.after_major(
            by_pages.is_none() && !self.kept_young,
            full_size,
            old_gen_before,
            heap.old_gen_size().saturating_sub(promoted_live),
        );
        self.controller.update_old_gen_limit(heap);
        s
    }

    /// After marking, how the major GC handles the young generation if the
    /// system refused the pages of its scavenge before marking
    /// (`!secured`): scavenged all the same if the old pages marking found
    /// empty (which the sweeper's preparation releases to the pool) make up
    /// for them; else promoted by pages if possible; else kept.
    fn young_in_major(&self, heap: &Heap, secured: bool) -> YoungInMajor {
        if secured {
            return YoungInMajor::Scavenge;
        }
        let empty = heap.old_space.pages.iter().chain(&heap.map_space.pages);
        let empty = empty.filter(|p| !p.has(crate::heap::page::flags::BLACK_ALLOCATED) && p.live_bytes() == 0).count();
        if heap.pool.reserved() + heap.pool.pooled() / PAGE_SIZE + empty >= scavenger::reserve_pages(heap) {
            YoungInMajor::Scavenge
        } else if page_promotion::can_promote(heap) {
            YoungInMajor::PromotePages
        } else {
            YoungInMajor::Keep
        }
    }

    /// After marking: is the young generation worth promoting by pages? An
    /// atomic marking (`!incremental`) measures new space's survival exactly:
    /// yes when it found at least 70% of new space's bytes live (V8 promotes
    /// a young page by moving it at that share of live bytes; isogc decides
    /// for new space as a whole), and the share tells the controller whether
    /// fast promotion should go on. After an incremental cycle the marks of
    /// young objects are biased (everything the mutator stored while marking
    /// ran was shaded, floating garbage included), so only fast promotion,
    /// if on, decides.
    fn young_mostly_live(&mut self, heap: &Heap, incremental: bool) -> bool {
        let used = heap.new_space.used();
        if used < PAGE_SIZE {
            return false;
        }
        if incremental {
            return self.controller.fast_promotion();
        }
        let live: usize = heap.new_space.to_pages[..=heap.new_space.current].iter().map(|p| p.live_bytes()).sum();
        let share = live as f64 / used as f64;
        self.controller.after_marking_young(heap, share);
        share >= PAGE_PROMOTION_LIVE
    }

    /// Major-GC work due at an allocation safepoint. Stop-the-world mode:
    /// the atomic major GC once the old generation reaches its limit.
    /// Concurrent mode: incremental marking starts at the soft limit, advances
    /// one step per slow-path allocation, and is finalized when no grey object
    /// is left, or at once when the old generation reaches the limit.
    pub(crate) fn safepoint(&mut self, heap: &mut Heap) {
        let old_gen = heap.old_gen_size();
        if let Some(mut m) = self.marking.take() {
            // Steps only for what the background workers are behind the
            // schedule; none while they keep up. Past the limit, every
            // safepoint steps and the cycle finalizes once nothing is
            // queued (V8 lets the old generation overshoot its limit while
            // marking finishes, rather than finishing it in one pause).
            let mut due = marking::step_due(heap, &mut m, &mut self.barrier_worklist);
            if due != StepDue::Complete && self.controller.reached_limit(old_gen) {
                due = StepDue::Finish;
                m.reached_limit = true;
            }
            let mut step = |gc: &mut Collector, bytes, finishing| {
                gc.timed_pause(heap, GcKind::MarkingStep, GcReason::AllocationStep, |gc, heap, t| {
                    let (complete, marked) = t.time(Phase::Mark, || marking::step(heap, &mut m, bytes, finishing));
                    gc.marked = (marked, 0);
                    complete
                })
            };
            let complete = match due {
                StepDue::Complete => true,
                StepDue::Nothing => false,
                StepDue::Mark(bytes) => step(self, bytes, false),
                StepDue::Finish => step(self, usize::MAX, true),
            };
            let at_limit = m.reached_limit;
            self.marking = Some(m);
            if complete {
                // The finalization pause scavenges what new space holds. If
                // that alone would take more than a quarter of the budget, it
                // runs first in a pause of its own (as V8 scavenges before a
                // mark-compact), and the finalization finds new space nearly
                // empty: two pauses within the budget instead of one over it.
                if self.controller.predict_scavenge(heap.new_space.used()) > heap.config.pause_target / 4 {
                    self.collect_minor(heap, GcReason::BeforeFinalization);
                }
                let reason = if at_limit { GcReason::MarkingAtLimit } else { GcReason::MarkingComplete };
                self.collect_major(heap, reason, false);
            } else if self.controller.overshot_by_large_margin(old_gen, heap.hard_limit) {
                // Marking could not keep up: finish it in the pause.
                self.collect_major(heap, GcReason::OldGenerationLimit, false);
            }
        } else if heap.config.mode == GcMode::Concurrent
            && self.controller.should_start_marking(old_gen, heap.gc_worker_cap() > 0, Instant::now())
        {
            if self.sweeping.is_some() && !self.controller.reached_limit(old_gen) {
                // Marking needs the last cycle's sweeping finished; rather
                // than finishing it inside the start pause, sweep a budgeted
                // step now and start marking once it is done.
                self.sweeping_step(heap);
            } else {
                self.start_marking(heap, GcReason::SoftLimit);
            }
        } else if self.controller.reached_limit(old_gen) {
            self.collect_major(heap, GcReason::OldGenerationLimit, false);
        }
    }

    /// Sweeping on the allocating thread for at most half the pause budget
    /// (at least one page), a recorded [`GcKind::SweepingStep`].
    fn sweeping_step(&mut self, heap: &mut Heap) {
        let deadline = Instant::now() + heap.config.pause_target / 2;
        self.sweeping_pause(heap, GcReason::AllocationStep, |gc, heap| {
            let Some(s) = gc.sweeping.as_mut() else { return false };
            let mut swept = s.sweep_until(&mut heap.old_space, &mut heap.map_space, deadline);
            // What the background sweepers finished counts too.
            swept |= s.harvest(&mut heap.old_space) | s.harvest(&mut heap.map_space);
            sweeper::end_if_complete(heap, &mut gc.sweeping);
            swept
        });
    }

    /// The pause that starts a concurrent marking cycle: sweeping finished
    /// (marking needs every mark bit of the last cycle gone), candidates
    /// chosen, roots greyed, barrier on.
    fn start_marking(&mut self, heap: &mut Heap, reason: GcReason) {
        debug_assert!(self.marking.is_none() && self.barrier_worklist.is_empty());
        self.timed_pause(heap, GcKind::MarkingStart, reason, |gc, heap, t| {
            heap.make_iterable();
            t.time(Phase::Sweep, || sweeper::finish(heap, &mut gc.sweeping));
            gc.compactor.select_candidates(heap, false);
            let compacting = gc.compactor.is_compacting();
            let limit = gc.controller.old_gen_limit();
            gc.marking = Some(t.time(Phase::Mark, || marking::start_incremental(heap, compacting, limit)));
        });
    }

    /// Runs `f` as a recorded pause of `kind` (a marking start or step);
    /// `f` times its phases. Background workers keep running: marking steps
    /// work beside them.
    fn timed_pause<R>(
        &mut self,
        heap: &mut Heap,
        kind: GcKind,
        reason: GcReason,
        f: impl FnOnce(&mut Collector, &mut Heap, &mut PhaseTimer) -> R,
    ) -> R {
        self.pause(heap, |gc, heap| {
            gc.callbacks.prologue(heap.id, kind, reason);
            let start = Instant::now();
            let bytes_before = heap.size_of_objects();
            let mut timer = PhaseTimer::new();
            let r = f(gc, heap, &mut timer);
            let (scavenge, compaction) = (ScavengeStats::default(), CompactionStats::default());
            gc.record_event(heap, kind, reason, start, timer, bytes_before, scavenge, compaction);
            r
        })
    }

    /// Sweeping on the allocating thread (or asked for), recorded as a
    /// [`GcKind::SweepingStep`] pause if `f` swept something.
    fn sweeping_pause(
        &mut self,
        heap: &mut Heap,
        reason: GcReason,
        f: impl FnOnce(&mut Collector, &mut Heap) -> bool,
    ) -> bool {
        self.pause(heap, |gc, heap| {
            gc.callbacks.prologue(heap.id, GcKind::SweepingStep, reason);
            let start = Instant::now();
            let bytes_before = heap.size_of_objects();
            let mut timer = PhaseTimer::new();
            let swept = timer.time(Phase::Sweep, || f(gc, heap));
            // Nothing was left to claim: there was no step to record.
            if swept {
                let (scavenge, compaction) = (ScavengeStats::default(), CompactionStats::default());
                gc.record_event(heap, GcKind::SweepingStep, reason, start, timer, bytes_before, scavenge, compaction);
            } else {
                gc.callbacks.epilogue(heap.id, GcKind::SweepingStep, reason, None);
            }
            swept
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn record_event(
        &mut self,
        heap: &Heap,
        kind: GcKind,
        reason: GcReason,
        start: Instant,
        timer: PhaseTimer,
        bytes_before: usize,
        scavenge: ScavengeStats,
        compaction: CompactionStats,
    ) {
        let pause = start.elapsed();
        let marked = std::mem::take(&mut self.marked);
        let mut spans: Vec<_> = timer.spans(self.tracer.origin()).collect();
        spans.extend(heap.spans.take());
        let event = GcEvent {
            kind,
            reason,
            start: self.tracer.since_origin(start),
            pause,
            phases: timer.phases,
            spans,
            bytes_before,
            bytes_after: heap.size_of_objects(),
            committed_after: heap.committed(),
            survived_bytes: scavenge.survived,
            promoted_bytes: scavenge.promoted,
            promoted_pages: scavenge.promoted_pages,
            scavenge_tasks: scavenge.tasks,
            predicted_scavenge: scavenge.predicted,
            scavenge_roots: scavenge.roots_time,
            scavenge_old_to_new: scavenge.old_to_new_time,
            scavenge_old_to_new_slots: scavenge.old_to_new_slots,
            semi_space_size: heap.new_space.capacity(),
            evacuated_pages: compaction.evacuated_pages,
            evacuated_bytes: compaction.evacuated_bytes,
            aborted_pages: compaction.aborted_pages,
            marked_bytes: marked.0,
            background_marked_bytes: marked.1,
        };
        self.callbacks.epilogue(heap.id, kind, reason, Some(&event));
        self.tracer.record(event, heap.config.trace_gc, heap.id);
    }

    /// Statistics per space, like V8's `getHeapSpaceStatistics()`: what
    /// the spaces and handle tables keep count of, in time proportional to
    /// the number of spaces and pages (no heap walk).
    pub(crate) fn stats(&self, heap: &Heap) -> HeapStats {
        self.check_usable(heap.id);
        let spaces = heap.space_stats();
        let roots = &heap.roots;
        HeapStats {
            used: spaces.iter().map(|s| s.used).sum(),
            committed: heap.committed(),
            pooled: heap.pool.pooled(),
            spaces,
            old_generation_limit: self.controller.old_gen_limit(),
            max_old_generation: heap.hard_limit,
            local_handles: roots.locals.len() - RESERVED_HANDLES,
            global_handles: roots.globals.inner.borrow().live,
            weak_handles: roots.weaks.inner.borrow().live,
            interned_strings: roots.string_table.len(),
            minor_gcs: self.tracer.minor_count,
            major_gcs: self.tracer.major_count,
            total_pause: self.tracer.total_pause,
            pages_pending_sweep: self.sweeping.as_ref().map_or(0, Sweeping::pages_left),
            weak: crate::ephemeron_api::weak_stats(roots),
        }
    }

    /// Objects per space, counted by a walk over every object of the heap
    /// (the background sweepers are kept off the pages meanwhile).
    pub(crate) fn object_counts(&self, heap: &Heap) -> ObjectCounts {
        self.check_usable(heap.id);
        if let Some(s) = &self.sweeping {
            s.pause();
        }
        let counts = heap.object_counts();
        if let Some(s) = &self.sweeping {
            s.resume(&heap.platform);
        }
        counts
    }
}

/// A promotion by pages, as the minor GC's statistics: everything promoted,
/// nothing copied.
fn promoted_stats(p: PagePromotion) -> ScavengeStats {
    let promoted = p.bytes + p.large_bytes;
    ScavengeStats { promoted, flipped: promoted, promoted_pages: p.pages, ..ScavengeStats::default() }
}

fn verify_or_panic(heap: &Heap, kind: GcKind, after: &str, r: Result<(), String>) {
    if let Err(e) = r {
        panic!("isogc heap verification failed after {after} ({kind:?} GC, isolate {}): {e}", heap.id);
    }
}

#[cold]
#[inline(never)]
fn poisoned(isolate: u32, why: &str) -> ! {
    panic!(
        "isogc: isolate {isolate} can no longer be used: a garbage collection panicked ({why}), so its heap may \
         be half-collected; drop the isolate and create a new one"
    )
}

/// The message of a panic payload.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else {
        "a panic without a message".to_string()
    }
}

#[cfg(test)]
mod tests {
    use crate::{GcRequest, HandleScope, HeapConfig, Isolate, Platform};
    use std::cell::Cell;
    use std::panic::{catch_unwind, AssertUnwindSafe};

    thread_local! {
        static INJECT_PANIC: Cell<bool> = const { Cell::new(false) };
    }

    /// Panics inside the next GC pause of this thread, if a test asked.
    pub(super) fn maybe_inject_panic() {
        if INJECT_PANIC.with(|p| p.replace(false)) {
            panic!("injected by a test");
        }
    }

    fn message(p: Box<dyn std::any::Any + Send>) -> String {
        super::panic_message(&*p)
    }

    #[test]
    fn a_panic_inside_a_gc_poisons_the_isolate_instead_of_wedging_it() {
        let platform = Platform::new(1).unwrap();
        let mut isolate = Isolate::new(&platform, HeapConfig { verify_heap: true, ..HeapConfig::default() }).unwrap();
        {
            let mut s = HandleScope::new(&mut isolate);
            let a = s.new_fixed_array(8).unwrap();
            let _keep = s.global(a);
        }
        INJECT_PANIC.with(|p| p.set(true));
        let first = catch_unwind(AssertUnwindSafe(|| isolate.collect_garbage(GcRequest::Minor)));
        assert_eq!(message(first.unwrap_err()), "injected by a test");
        // Every later use says why, instead of "nested GC" or worse.
        let mut expect_poisoned = |what: &str, attempt: &dyn Fn(&mut Isolate)| {
            let err = catch_unwind(AssertUnwindSafe(|| attempt(&mut isolate))).unwrap_err();
            let m = message(err);
            assert!(m.contains("can no longer be used") && m.contains("injected by a test"), "{what}: {m}");
        };
        expect_poisoned("collect_garbage", &|i| i.collect_garbage(GcRequest::Major));
        expect_poisoned("HandleScope::new", &|i| drop(HandleScope::new(i)));
        expect_poisoned("heap_stats", &|i| drop(i.heap_stats()));
        // The fast allocation path is closed too: an allocation reaches the
        // check on the slow path.
        assert_eq!(isolate.heap.new_space.lab.remaining(), 0);
        drop(isolate);
        // Other isolates are unaffected.
        let mut other = Isolate::new(&platform, HeapConfig::default()).unwrap();
        other.collect_garbage(GcRequest::Major);
    }
}

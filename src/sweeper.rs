//! Sweeping: turning the space between marked objects into free-list blocks,
//! lazily and concurrently, as V8's sweeper does (DESIGN section 7).
//!
//! **Sweeping a page** walks its mark bitmap
//! ([`crate::heap::sweep_state::sweep_runs`]): every run of words between two
//! marked objects becomes a `FreeSpace` filler (so the page stays iterable)
//! and, if big enough, a free block; OLD_TO_NEW slots inside freed runs are
//! removed; mark bits are cleared for the next cycle; live bytes are
//! recomputed. Exactly one thread sweeps a page: it claims it with one
//! compare-exchange of the page's sweep state and publishes the free blocks
//! with a Release store ([`crate::heap::sweep_state::SweepSlot`]).
//!
//! **Starting** ([`start`], in the major GC's pause, after marking): dead
//! large objects are freed; pages marking found empty go straight back to the
//! page pool; pages allocated black during the marking cycle need no sweep
//! (everything on them counts as live, their free-list blocks stay listed);
//! every other old and map page is queued as *pending*. Each space's
//! allocated bytes are reset to what marking measured live.
//!
//! **Concurrent mode**: background sweepers on the shared pool (at most
//! [`MAX_SWEEPER_TASKS`], behind a [`WorkerGate`] closed during every pause
//! of the isolate) claim queued pages through an atomic cursor. The
//! allocating thread, when a space's free list misses, first takes the
//! blocks of pages the sweepers finished ([`Sweeping::harvest`]), then sweeps one page
//! itself ([`Sweeping::sweep_one_page`], a recorded `SweepingStep`), then grows the
//! space, and only as a last resort finishes all sweeping ([`finish`]).
//! Before the next marking starts, and before any atomic major GC, the rest
//! is finished, the main thread helping in parallel.
//!
//! **Stop-the-world mode** sweeps everything in the pause, in parallel.
//!
//! While pages wait, a scavenge may run (the sweepers paused): the slots it
//! finds in a pending page's OLD_TO_NEW set count only if they lie inside a
//! marked object; the others are stale slots of dead objects, which it drops.
//! Heap iteration walks a pending page's marked objects only. Both are page
//! facts ([`crate::heap::live_objects`], [`Page::is_pending_sweep`]), so
//! neither the scavenger nor the heap imports this module.
//!
//! The sweeping in progress is a [`Sweeping`], owned by the GC driver, which
//! calls [`prepare`], [`start`] and [`finish`] in its pauses and the lazy
//! steps ([`Sweeping::harvest`], [`Sweeping::sweep_one_page`]) on the
//! allocation path.

use crate::config::GcMode;
use crate::gate::WorkerGate;
use crate::heap::free_list::SortedBlocks;
use crate::heap::old_space::{FillerMaps, OldSpace};
use crate::heap::page::{flags, Page, PagePool, SpaceId, SweptFree};
use crate::heap::sweep_state::{sweep_runs, SweepState};
use crate::heap::{Heap, WORD};
use crate::object::HeapObject;
use crate::platform::{Background, Platform, Step};
use crate::sync::{Arc, AtomicUsize, Ordering};
use crate::tracer::{Phase, SpanRecorder};
use std::time::Instant;

/// Most background sweeper tasks per isolate (V8 caps its concurrent
/// sweeper tasks too: sweeping is memory-bound).
pub(crate) const MAX_SWEEPER_TASKS: usize = 4;

/// Sweeps one page. Only the thread that claimed it may call this.
pub(crate) fn sweep_page(page: Page, fillers: FillerMaps) -> SweptFree {
    let header = page.header();
    let mut blocks = SortedBlocks::new();
    let live_words = sweep_runs(
        &header.marks,
        page.mark_index(page.area_start()),
        page.mark_index(page.area_end()),
        |i| {
            // SAFETY: a set mark bit on a page being swept marks the start of
            // an object marking found live.
            unsafe { HeapObject::from_address(page.address() + i * WORD) }.size() / WORD
        },
        |from, to| {
            let (start, size) = (page.address() + from * WORD, (to - from) * WORD);
            fillers.fill(start, size);
            // Mark and slot indices are both word offsets from the page start.
            header.old_to_new.remove_range(from, to);
            blocks.add(start, size);
        },
    );
    let live = live_words * WORD;
    page.set_live_bytes(live);
    SweptFree { blocks, live }
}

/// Pending pages of one space, in the order sweepers take them.
struct Queue {
    pages: Vec<Page>,
    cursor: AtomicUsize,
}

impl Queue {
    /// Claims the next pending page, if any is left.
    fn claim_next(&self) -> Option<Page> {
        loop {
            // Relaxed: hands out indices only; the page's claim CAS decides
            // who sweeps it, and the queue itself reached this thread through
            // the job's spawn or the gate's open.
            let i = self.cursor.fetch_add(1, Ordering::Relaxed);
            let page = *self.pages.get(i)?;
            if page.header().sweep.try_claim() {
                return Some(page);
            }
        }
    }

    fn claimed_so_far(&self) -> usize {
        // Relaxed: as in `handed_out`.
        self.cursor.load(Ordering::Relaxed).min(self.pages.len())
    }

    /// Claims and sweeps pages until none is left (or `stop` says so).
    /// Returns the pages swept.
    fn sweep_all(&self, fillers: FillerMaps, stop: impl Fn() -> bool) -> usize {
        let mut n = 0;
        while !stop() {
            let Some(page) = self.claim_next() else { break };
            page.header().sweep.publish(sweep_page(page, fillers));
            n += 1;
        }
        n
    }
}

/// What background sweepers share with the isolate's thread.
struct SweeperShared {
    /// Old space, then map space.
    queues: [Queue; 2],
    /// Keeps sweepers off the heap during the isolate's pauses.
    gate: WorkerGate,
    fillers: FillerMaps,
    max_workers: usize,
    /// Background sweepers posted and not yet finished.
    workers: AtomicUsize,
    /// The sweepers' runs, reported with the next GC event.
    spans: SpanRecorder,
}

/// The old generation's sweeping after a major GC, until it is complete.
pub(crate) struct Sweeping {
    shared: Arc<SweeperShared>,
    /// Per queue: every page below this index has had its result taken.
    harvested: [usize; 2],
}

impl Drop for Sweeping {
    fn drop(&mut self) {
        // Sweepers never touch a heap that is going away (or a sweeping that
        // ended): the gate stays closed for late-starting ones.
        self.shared.gate.close();
    }
}

/// Index of a paged space's queue.
fn queue_of(space: &OldSpace) -> usize {
    usize::from(space.id == SpaceId::Map)
}

/// Posts background sweepers while pages are left, up to the cap.
fn post_workers(shared: &Arc<SweeperShared>, platform: &Platform) {
    let left: usize = shared.queues.iter().map(|q| q.pages.len() - q.claimed_so_far()).sum();
    // Relaxed: a count that only decides how many to post; a stale value
    // posts one sweeper too few or too many, never a wrong one.
    let running = shared.workers.load(Ordering::Relaxed);
    let want = shared.max_workers.min(left.div_ceil(4));
    for _ in running..want {
        // Relaxed: as above.
        shared.workers.fetch_add(1, Ordering::Relaxed);
        let shared = shared.clone();
        platform.spawn_background(move |bg| background_sweeper(&shared, bg));
    }
}

/// A background sweeper: sweeps pages until none is left or a pause begins.
/// Told by the platform to give way (checked per page), it yields and
/// resumes later, still counted as posted.
fn background_sweeper(shared: &SweeperShared, bg: &Background<'_>) -> Step {
    if let Some(_inside) = shared.gate.enter() {
        let started = Instant::now();
        let stop = || shared.gate.should_leave() || bg.should_yield();
        let n: usize = shared.queues.iter().map(|q| q.sweep_all(shared.fillers, stop)).sum();
        if n > 0 {
            shared.spans.record(Phase::ConcurrentSweep, None, started);
        }
        let left = shared.queues.iter().any(|q| q.claimed_so_far() < q.pages.len());
        if left && !shared.gate.should_leave() {
            return Step::Yield;
        }
    }
    // Relaxed: see `post_workers`.
    shared.workers.fetch_sub(1, Ordering::Relaxed);
    Step::Done
}

/// Prepares sweeping in the major GC's pause, after marking and weak
/// clearing, before the pause's scavenge: frees dead large objects, releases
/// the pages marking found empty, ends black allocation, and queues every
/// other old and map page as pending. The free list keeps its blocks (free
/// fillers, unmarked) so the scavenge can promote into them; the scavenge
/// marks what it promotes onto pending pages (`scavenger::account_promoted`).
pub(crate) fn prepare(heap: &mut Heap) -> Option<Sweeping> {
    let workers = heap.gc_worker_cap();
    let Heap { old_space, map_space, pool, lo_space, new_lo_space, new_space, .. } = heap;
    let queues = [queue_space(old_space, pool), queue_space(map_space, pool)];
    for page in lo_space.pages.clone() {
        let marks = &page.header().marks;
        let start = page.mark_index(page.area_start());
        if marks.is_set(start) {
            marks.clear(start);
        } else {
            lo_space.take(page);
            pool.release(page);
        }
    }
    // Young objects are reclaimed by the scavenge that follows; only their
    // marks must go.
    for page in new_lo_space.pages.iter().chain(&new_space.to_pages) {
        page.header().marks.clear_all();
    }
    pool.trim(pool_keep(new_space.capacity_pages));
    if queues.iter().all(|q| q.pages.is_empty()) {
        return None;
    }
    let shared = Arc::new(SweeperShared {
        queues,
        gate: WorkerGate::new(),
        fillers: heap.old_space.fillers,
        max_workers: workers.min(MAX_SWEEPER_TASKS),
        workers: AtomicUsize::new(0),
        spans: SpanRecorder::new(heap.spans.origin()),
    });
    // The gate stays closed until the pause ends (`Sweeping::resume`).
    shared.gate.close();
    Some(Sweeping { shared, harvested: [0, 0] })
}

/// Starts sweeping, after the major GC's scavenge: drops free-list blocks on
/// pending pages (their sweep finds them again) and sets each space's
/// allocated bytes to its pages' live bytes. Stop-the-world mode sweeps
/// everything right here; concurrent mode posts the sweepers when the pause
/// ends.
pub(crate) fn start(heap: &mut Heap, sweeping: &mut Option<Sweeping>) {
    for space in [&mut heap.old_space, &mut heap.map_space] {
        space.unlist_pages(|p| p.is_pending_sweep());
        space.allocated = space.pages.iter().map(|p| p.live_bytes()).sum();
    }
    if heap.config.mode == GcMode::StopTheWorld {
        finish(heap, sweeping);
    }
}

/// Prepares one paged space for sweeping: releases empty pages, ends black
/// allocation (black pages stay idle: nothing to sweep), and queues the rest.
fn queue_space(space: &mut OldSpace, pool: &mut PagePool) -> Queue {
    debug_assert_eq!(space.lab.remaining(), 0, "the pause retired the allocation area");
    space.black_allocation = false;
    let released = |page: Page| !page.has(flags::BLACK_ALLOCATED) && page.live_bytes() == 0;
    space.unlist_pages(released);
    let mut queue = Vec::new();
    let mut empty = Vec::new();
    space.pages.retain(|&page| {
        if released(page) {
            empty.push(page);
            return false;
        }
        if page.has(flags::BLACK_ALLOCATED) {
            page.clear_flags(flags::BLACK_ALLOCATED);
        } else {
            page.header().sweep.set_pending();
            queue.push(page);
        }
        true
    });
    for page in empty {
        pool.release(page);
    }
    Queue { pages: queue, cursor: AtomicUsize::new(0) }
}

impl Sweeping {
    /// Takes the free blocks of every page of `space` that a sweeper finished.
    /// Returns `true` if it found any.
    pub(crate) fn harvest(&mut self, space: &mut OldSpace) -> bool {
        let q = queue_of(space);
        let queue = &self.shared.queues[q];
        let (mut found, mut prefix) = (false, true);
        for i in self.harvested[q]..queue.claimed_so_far() {
            let page = queue.pages[i];
            let slot = &page.header().sweep;
            if let Some(swept) = slot.take() {
                debug_assert!(swept.live > 0, "marking found live bytes on every queued page");
                space.link_free_blocks(page, swept.blocks);
                found = true;
            }
            prefix &= slot.state() == SweepState::Idle;
            if prefix {
                self.harvested[q] = i + 1;
            }
        }
        found
    }

    /// The allocating thread sweeps one page of `space` itself. `false` if no
    /// page was left to claim.
    pub(crate) fn sweep_one_page(&mut self, space: &mut OldSpace) -> bool {
        let shared = &self.shared;
        let Some(page) = shared.queues[queue_of(space)].claim_next() else { return false };
        page.header().sweep.publish(sweep_page(page, shared.fillers));
        self.harvest(space);
        true
    }

    /// The allocating thread sweeps pages of both spaces itself until
    /// `deadline` (at least one page, if any is left to claim). `false` if
    /// no page was left to claim.
    pub(crate) fn sweep_until(&mut self, old: &mut OldSpace, map: &mut OldSpace, deadline: Instant) -> bool {
        let mut swept = false;
        for space in [old, map] {
            while self.sweep_one_page(space) {
                swept = true;
                if Instant::now() >= deadline {
                    return true;
                }
            }
        }
        swept
    }

    /// Pages whose result the owner has not taken yet.
    pub(crate) fn pages_left(&self) -> usize {
        let untaken = |(q, h): (&Queue, usize)| {
            q.pages[h..].iter().filter(|p| p.header().sweep.state() != SweepState::Idle).count()
        };
        self.shared.queues.iter().zip(self.harvested).map(untaken).sum()
    }

    /// Is every page swept and taken?
    pub(crate) fn is_complete(&self) -> bool {
        self.shared.queues.iter().zip(self.harvested).all(|(q, h)| h == q.pages.len())
    }

    /// Stops the background sweepers (each finishes the page it holds) and
    /// keeps them out until [`Sweeping::resume`].
    pub(crate) fn pause(&self) {
        self.shared.gate.close();
    }

    /// After a pause: lets the sweepers go on, posting new ones if pages
    /// are left.
    pub(crate) fn resume(&self, platform: &Platform) {
        self.shared.gate.open();
        post_workers(&self.shared, platform);
    }
}

/// Finishes all sweeping now: stops the background sweepers (each finishes
/// the page it holds), sweeps what is left in parallel on the shared pool
/// with the calling thread helping, and lists every free block.
pub(crate) fn finish(heap: &mut Heap, sweeping: &mut Option<Sweeping>) {
    let Some(mut sweeping) = sweeping.take() else { return };
    let shared = sweeping.shared.clone();
    shared.gate.close();
    heap.spans.absorb(&shared.spans);
    let left: usize = shared.queues.iter().map(|q| q.pages.len() - q.claimed_so_far()).sum();
    if left > 0 {
        let tasks = left.div_ceil(8).clamp(1, heap.gc_worker_cap() + 1);
        heap.platform.run_job(tasks, Phase::Sweep, &heap.spans, &|_| {
            for q in &shared.queues {
                q.sweep_all(shared.fillers, || false);
            }
        });
    }
    sweeping.harvest(&mut heap.old_space);
    sweeping.harvest(&mut heap.map_space);
    debug_assert!(sweeping.is_complete(), "every page swept and taken");
}

/// Pauses the background sweepers for a pause of the isolate (they finish
/// the page they hold) and takes what they finished, so a scavenge promotes
/// into swept memory; ends the sweeping if nothing is left.
pub(crate) fn pause_workers(heap: &mut Heap, sweeping: &mut Option<Sweeping>) {
    let Some(s) = sweeping.as_mut() else { return };
    s.pause();
    heap.spans.absorb(&s.shared.spans);
    s.harvest(&mut heap.old_space);
    s.harvest(&mut heap.map_space);
    end_if_complete(heap, sweeping);
}

/// Ends the sweeping if every page is swept and taken, keeping the
/// sweepers' spans for the GC event being recorded.
pub(crate) fn end_if_complete(heap: &mut Heap, sweeping: &mut Option<Sweeping>) {
    if sweeping.as_ref().is_some_and(Sweeping::is_complete) {
        finish(heap, sweeping);
    }
}

/// Pages kept pooled after a GC: enough for new space to flip and grow a bit.
fn pool_keep(semi_space_pages: usize) -> usize {
    semi_space_pages.max(16)
}

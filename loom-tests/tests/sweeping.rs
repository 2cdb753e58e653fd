//! Concurrent sweeping of one page (DESIGN.md §10: "sweeper vs allocator
//! claiming a page", and "slot-set insertion vs ... clearing"), on the crate's
//! real [`SweepSlot`], [`sweep_runs`], [`MarkBitmap`] and [`SlotSet`].
//!
//! Every model sweeps the page with the real bitmap walk: a few marked
//! objects of known sizes, and every run between them handed to the free
//! callback, which does what the crate's sweeper does with it (collect it as
//! a free block, write a filler, forget its recorded slots).
//!
//! - A background sweeper and the allocating main thread both try to claim
//!   the same pending page; the winner sweeps it and publishes its free runs,
//!   and the owner takes them and hands out every free word. The page is
//!   swept exactly once; no word is handed out twice and none of a live
//!   object.
//!   Broken twin: [`Fault::SweepClaimLoadStore`] claims with a load and a
//!   store instead of one compare-exchange, so both threads can see the page
//!   pending and both sweep it (the second sees the marks the first cleared
//!   and would free the live objects too).
//! - A sweeper claims, sweeps (writing a filler over every free run) and
//!   publishes; the owner polls [`SweepSlot::take`] and, once it has the
//!   free runs, reads the fillers the sweeper wrote. It must see them: the
//!   Release publish and the Acquire in `take` are the only edge between the
//!   two threads.
//!   Broken twin: [`Fault::SweptPublishRelaxed`] publishes with a Relaxed
//!   store, so the owner can see "swept" without the sweeper's writes; loom
//!   reports it as a causality violation on the slot's result cell, the first
//!   thing the owner touches.
//! - A sweeper frees the dead runs of a page and removes their recorded
//!   slots with [`SlotSet::remove_range`] while the mutator's write barrier
//!   records a slot inside a live object of the same page, in the same 32-bit
//!   cell as a stale slot of a dead run. The live slot stays recorded and the
//!   stale one is gone.
//!   Broken twin: [`Fault::SlotSetRemoveRangeLoadStore`] clears with a load
//!   and a store instead of one `fetch_and`, so the store can wipe out the
//!   slot the barrier recorded in between.
#![cfg(loom)]

use isogc::model::faults::{self, Fault};
use isogc::model::{sweep_runs, MarkBitmap, SlotSet, SweepSlot, SweepState};
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread;
use loom_tests::explore;
use std::ops::Range;

/// A page as the sweeping models see it: its sweep state and free runs, its
/// mark bitmap (128 bits under loom) and a tally of the sweeps it got.
struct Page {
    sweep: SweepSlot<Vec<Range<usize>>>,
    marks: MarkBitmap,
    sweeps: AtomicUsize,
}

impl Page {
    /// A page left pending by the pause, with `live` (start, words) marked.
    fn pending(live: &[(usize, usize)]) -> Page {
        let page = Page { sweep: SweepSlot::new(), marks: MarkBitmap::new(), sweeps: AtomicUsize::new(0) };
        for &(start, _) in live {
            page.marks.set(start);
        }
        page.sweep.set_pending();
        page
    }

    /// Counts a sweep of this page; panics on the second.
    fn count_sweep(&self) {
        // Relaxed: a tally for the model, not part of the protocol; it must
        // add no ordering of its own, so it cannot hide a missing edge. An RMW
        // still reads the latest count, so a second sweep always sees 1.
        let earlier = self.sweeps.fetch_add(1, Ordering::Relaxed);
        assert_eq!(earlier, 0, "a page was claimed and swept twice");
    }
}

/// The size in words of the marked object at `start`, from the page's list.
fn object_words(live: &[(usize, usize)], start: usize) -> usize {
    match live.iter().find(|&&(s, _)| s == start) {
        Some(&(_, words)) => words,
        None => panic!("sweep_runs found a mark bit at {start} that starts no live object"),
    }
}

// ---------------------------------------------------------------------------
// Model 1: sweeper vs allocator claiming one page.

/// The swept area (bit indices, one per word): the page after a header, and
/// the live objects in it (start, words), one in each bitmap cell.
const CLAIM_AREA: Range<usize> = 4..96;
const CLAIM_LIVE: [(usize, usize); 2] = [(10, 3), (70, 4)];

/// One thread's attempt at the page: claim it, and if this thread won, sweep
/// it and publish the free runs. Returns whether it swept.
fn sweep_if_claimed(page: &Page) -> bool {
    if !page.sweep.try_claim() {
        return false;
    }
    page.count_sweep();
    let mut free = Vec::new();
    sweep_runs(&page.marks, CLAIM_AREA.start, CLAIM_AREA.end, |i| object_words(&CLAIM_LIVE, i), |s, e| free.push(s..e));
    page.sweep.publish(free);
    true
}

fn sweeper_and_allocator_claim_one_page() {
    explore(None, || {
        let page = Arc::new(Page::pending(&CLAIM_LIVE));
        let sweeper = {
            let page = page.clone();
            thread::spawn(move || sweep_if_claimed(&page))
        };
        // The allocating main thread misses its free list and sweeps lazily.
        let here = sweep_if_claimed(&page);
        let there = sweeper.join().unwrap();
        assert!(here ^ there, "exactly one thread must sweep a pending page (here {here}, there {there})");
        let free = page.sweep.take().expect("the owner found no result on a swept page");
        assert_eq!(page.sweep.state(), SweepState::Idle);
        assert_eq!(page.marks.count(), 0, "sweeping must leave the mark bits clear for the next cycle");

        // The owner hands out every free word.
        let mut handed_out = [false; 128];
        for run in free {
            for w in run {
                assert!(CLAIM_AREA.contains(&w), "word {w} outside the swept area was handed out");
                assert!(
                    !CLAIM_LIVE.iter().any(|&(s, n)| (s..s + n).contains(&w)),
                    "word {w} of a live object was handed out"
                );
                assert!(!handed_out[w], "word {w} was handed out twice");
                handed_out[w] = true;
            }
        }
        let live_words: usize = CLAIM_LIVE.iter().map(|&(_, n)| n).sum();
        let free_words = handed_out.iter().filter(|&&h| h).count();
        assert_eq!(free_words, CLAIM_AREA.len() - live_words, "sweeping lost free space");
    });
}

#[test]
fn sweeper_and_allocator_racing_for_a_page_sweep_it_once() {
    sweeper_and_allocator_claim_one_page();
}

#[test]
#[should_panic(expected = "a page was claimed and swept twice")]
fn twin_load_then_store_claim_lets_both_sweep_a_page() {
    let _fault = faults::inject(Fault::SweepClaimLoadStore);
    sweeper_and_allocator_claim_one_page();
}

// ---------------------------------------------------------------------------
// Model 2: publish "swept", then allocate from it.

/// A smaller page with one live object, so the fillers fit in a few words.
const PUBLISH_AREA: Range<usize> = 0..8;
const PUBLISH_LIVE: [(usize, usize); 1] = [(2, 3)];
/// The map of a free-space filler (map word, then the size).
const FREE_SPACE_MAP: usize = 0x9001;

/// Writes a filler over `run`, as the crate's `write_filler` does (every free
/// run of this model is at least two words).
fn write_filler(words: &[AtomicUsize], run: &Range<usize>) {
    // Relaxed: page words are Relaxed atomics in the crate too
    // (`HeapObject::set_word`); only the sweep slot's Release publish may
    // carry these stores to the owner, which is what the model checks.
    words[run.start].store(FREE_SPACE_MAP, Ordering::Relaxed);
    words[run.start + 1].store(run.len(), Ordering::Relaxed);
}

fn owner_sees_the_swept_page() {
    explore(None, || {
        let page = Arc::new(Page::pending(&PUBLISH_LIVE));
        let words: Arc<Vec<AtomicUsize>> = Arc::new(PUBLISH_AREA.map(|_| AtomicUsize::new(0)).collect());
        let sweeper = {
            let (page, words) = (page.clone(), words.clone());
            thread::spawn(move || {
                assert!(page.sweep.try_claim(), "the only sweeper could not claim a pending page");
                let mut free = Vec::new();
                sweep_runs(
                    &page.marks,
                    PUBLISH_AREA.start,
                    PUBLISH_AREA.end,
                    |i| object_words(&PUBLISH_LIVE, i),
                    |s, e| {
                        write_filler(&words, &(s..e));
                        free.push(s..e);
                    },
                );
                page.sweep.publish(free);
            })
        };
        // The owner's allocator looks for swept pages until it finds one.
        let free = loop {
            match page.sweep.take() {
                Some(free) => break free,
                None => thread::yield_now(),
            }
        };
        assert_eq!(free, [0..2, 5..8], "the owner took the wrong free runs");
        for run in &free {
            // Relaxed: as in `write_filler`; the Acquire in `take` orders it.
            let map = words[run.start].load(Ordering::Relaxed);
            assert_eq!(map, FREE_SPACE_MAP, "the owner took a free run without the filler the sweeper wrote");
            let size = words[run.start + 1].load(Ordering::Relaxed);
            assert_eq!(size, run.len(), "the owner took a free run without the filler the sweeper wrote");
        }
        sweeper.join().unwrap();
    });
}

#[test]
fn the_owner_sees_the_sweepers_free_runs_and_fillers() {
    owner_sees_the_swept_page();
}

/// The owner's `take` reads the result cell right after its Acquire load saw
/// the Relaxed "swept", with no edge from the sweeper's write of it: loom's
/// causality check on that cell (the model's only `UnsafeCell`; `take` writes
/// it, leaving `None`) fires before the filler check can run.
#[test]
#[should_panic(expected = "Causality violation: Concurrent write accesses to `UnsafeCell`")]
fn twin_relaxed_publish_hands_the_owner_an_unwritten_result() {
    let _fault = faults::inject(Fault::SweptPublishRelaxed);
    owner_sees_the_swept_page();
}

// ---------------------------------------------------------------------------
// Model 3: slot removal for a freed range vs a barrier insert in a live slot.

/// One live object at words 10..14; the dead runs 0..10 and 14..32 around
/// it. A stale slot of a dead object lies in the second run, and the barrier
/// records a field of the live object; both in the page's first 32-bit slot
/// cell.
const SLOTS_AREA: Range<usize> = 0..32;
const SLOTS_LIVE: [(usize, usize); 1] = [(10, 4)];
const STALE_SLOT: usize = 20;
const LIVE_SLOT: usize = 12;

/// The sweeper frees the dead runs (and their slots) while the mutator
/// records `LIVE_SLOT`.
///
/// `check_removal: false` checks only that `LIVE_SLOT` survives. The broken
/// twin needs that: for a racy plain store loom keeps the modification order
/// of a cell partial, so besides the lost insertion it also admits an outcome
/// C11 forbids (the removed stale slot reappears), and it could trip over
/// that first (as in `slot_set.rs`).
fn removal_racing_with_barrier_insert(check_removal: bool) {
    explore(None, move || {
        let page = Arc::new(Page::pending(&SLOTS_LIVE));
        let slots = Arc::new(SlotSet::new(page.marks.bits()));
        slots.insert(STALE_SLOT);
        let sweeper = {
            let (page, slots) = (page.clone(), slots.clone());
            thread::spawn(move || {
                assert!(page.sweep.try_claim(), "the only sweeper could not claim a pending page");
                sweep_runs(
                    &page.marks,
                    SLOTS_AREA.start,
                    SLOTS_AREA.end,
                    |i| object_words(&SLOTS_LIVE, i),
                    |s, e| slots.remove_range(s, e),
                )
            })
        };
        // The mutator stores a young pointer into the live object: the write
        // barrier records the slot.
        slots.insert(LIVE_SLOT);
        let live_words = sweeper.join().unwrap();
        assert_eq!(live_words, 4);
        assert!(slots.contains(LIVE_SLOT), "a slot the barrier recorded in a live object was lost to sweeping");
        if check_removal {
            assert!(!slots.contains(STALE_SLOT), "sweeping left a slot of a freed run recorded");
            assert_eq!(slots.len(), 1);
        }
    });
}

#[test]
fn removing_a_freed_runs_slots_keeps_a_racing_barrier_insert() {
    removal_racing_with_barrier_insert(true);
}

#[test]
#[should_panic(expected = "a slot the barrier recorded in a live object was lost to sweeping")]
fn twin_load_then_store_range_removal_loses_a_barrier_insert() {
    let _fault = faults::inject(Fault::SlotSetRemoveRangeLoadStore);
    removal_racing_with_barrier_insert(false);
}

/// The same model with the owner's load of "swept" Relaxed (in `state`,
/// which `take` reads through): the sweeper's Release publish has nothing to
/// pair with, and loom's causality check on the result cell fires.
#[test]
#[should_panic(expected = "Causality violation: Concurrent write accesses to `UnsafeCell`")]
fn twin_relaxed_take_reads_an_unwritten_result() {
    let _fault = faults::inject(Fault::TakeRelaxed);
    owner_sees_the_swept_page();
}

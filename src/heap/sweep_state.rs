//! The sweeping protocol of one page: its atomic sweep state, the handoff of
//! its result, and the bitmap walk that sweeps it.
//!
//! After a major GC every old-generation page that needs sweeping is
//! *pending*. Background sweepers and the allocating main thread race for
//! pages; a page is **claimed** by one compare-exchange from pending to *in
//! progress*, so exactly one thread sweeps it. The claimer walks the page's
//! mark bitmap ([`sweep_runs`]), turning every free run into free space, and
//! **publishes** the result (the page's free blocks) in the page's
//! [`SweepSlot`] with a Release store of *swept*. Only the heap's owner thread
//! takes results ([`SweepSlot::take`]): its Acquire load of *swept* pairs with
//! the publishing store, so it sees the free list and every filler the
//! sweeper wrote before it hands a single byte of the page out.
//!
//! ```text
//!   idle ──(pause: queued)──► pending ──(claim: one CAS)──► in progress
//!    ▲                                                          │
//!    └────────(owner: take, after Acquire)◄── swept ◄──(Release publish)
//! ```
//!
//! Built over the [`crate::sync`] facade so the loom models in `loom-tests/`
//! drive this very code (`loom-tests/tests/sweeping.rs`), each with a broken
//! twin: a claim split into a load and a store, a Relaxed publish.

use super::mark_bitmap::MarkBitmap;
use crate::sync::faults::{fault, Fault};
use crate::sync::{Atomic, Ordering, UnsafeCell};

/// Where a page is in the sweeping protocol.
///
/// A fieldless `u8` enum, so [`SweepSlot`] keeps it in an `Atomic<SweepState>`
/// (a native byte atomic): no state can be read back as anything but one of
/// these four.
#[derive(Clone, Copy, Debug, PartialEq, Eq, bytemuck::NoUninit)]
#[repr(u8)]
pub enum SweepState {
    /// Nothing to sweep: a fresh page, a page allocated black, or a page
    /// whose result the owner took.
    Idle = 0,
    /// Waiting for a sweeper: its mark bitmap tells the live objects, and
    /// everything else on it is garbage.
    Pending = 1,
    /// Being swept by the one thread that claimed it.
    InProgress = 2,
    /// Swept; its result waits for the owner thread.
    Swept = 3,
}

// A page's state is claimed and published by single atomic instructions,
// never by a lock behind the `atomic` crate's fallback.
const _: () = assert!(Atomic::<SweepState>::is_lock_free(), "the sweep state must be a native atomic");

/// A page's sweep state and the result its sweeper hands to the owner.
pub struct SweepSlot<R> {
    state: Atomic<SweepState>,
    result: UnsafeCell<Option<R>>,
}

// SAFETY: `result` is written only by the thread that claimed the page
// (between its winning CAS and its Release publish) and read only by the
// owner thread after an Acquire load that saw the publish, so no two threads
// ever access it at once and every access is ordered after the previous one.
unsafe impl<R: Send> Sync for SweepSlot<R> {}

impl<R> Default for SweepSlot<R> {
    fn default() -> Self {
        Self::new()
    }
}

impl<R> SweepSlot<R> {
    /// An idle slot.
    pub fn new() -> SweepSlot<R> {
        SweepSlot { state: Atomic::new(SweepState::Idle), result: UnsafeCell::new(None) }
    }

    /// The current state. Acquire: pairs with the Release publish, so a
    /// caller that sees [`SweepState::Swept`] or [`SweepState::Idle`] after a
    /// sweep also sees the swept page.
    #[inline]
    pub fn state(&self) -> SweepState {
        if fault(Fault::TakeRelaxed) {
            // Broken twin: the owner is not ordered after the sweep.
            return self.state.load(Ordering::Relaxed);
        }
        self.state.load(Ordering::Acquire)
    }

    /// Queues the page for sweeping. Owner thread, inside a pause, while no
    /// sweeper runs.
    pub fn set_pending(&self) {
        // Relaxed: sweepers learn of pending pages through the queue, which
        // reaches them by the job's spawn or by the gate's Release open, and
        // those edges order this store too.
        self.state.store(SweepState::Pending, Ordering::Relaxed);
    }

    /// Tries to claim a pending page for sweeping. `true` for exactly one
    /// caller per pending period.
    #[inline]
    pub fn try_claim(&self) -> bool {
        let (pending, in_progress) = (SweepState::Pending, SweepState::InProgress);
        if fault(Fault::SweepClaimLoadStore) {
            // Broken twin: check, then set; two threads can both see pending
            // and both sweep the page.
            if self.state.load(Ordering::Relaxed) != pending {
                return false;
            }
            self.state.store(in_progress, Ordering::Relaxed);
            return true;
        }
        // Relaxed: only who wins matters (one atomic RMW decides it). The
        // claimer reads the page (bitmap, objects) as the owner left it in
        // the pause that made it pending, and that reached every sweeper
        // through the queue's publication (its job's spawn, or the gate's
        // Release open and Acquire enter), not through this word; the
        // previous sweep of the slot was taken by the owner before that
        // pause. The loser touches nothing.
        self.state.compare_exchange(pending, in_progress, Ordering::Relaxed, Ordering::Relaxed).is_ok()
    }

    /// Publishes the result of sweeping a page this thread claimed.
    pub fn publish(&self, result: R) {
        debug_assert_eq!(self.state(), SweepState::InProgress, "publishing a page this thread did not claim");
        // The claim made this thread the only one to touch `result` until
        // the store below.
        self.result.with_mut(|p| {
            // SAFETY: see the `Sync` impl: the claimer has the slot to itself.
            unsafe { *p = Some(result) }
        });
        if fault(Fault::SweptPublishRelaxed) {
            // Broken twin: the owner can see "swept" before the result.
            self.state.store(SweepState::Swept, Ordering::Relaxed);
            return;
        }
        // Release: pairs with the Acquire in `take` (and `state`): the result
        // and every write of the sweep (fillers, cleared mark bits, removed
        // slots) happen before the owner uses the page.
        self.state.store(SweepState::Swept, Ordering::Release);
    }

    /// Owner thread: takes the result of a swept page (leaving it idle), or
    /// `None` if the page is not swept yet (or its result was taken).
    pub fn take(&self) -> Option<R> {
        // Acquire (`state`): pairs with the Release in `publish`.
        if self.state() != SweepState::Swept {
            return None;
        }
        let result = self.result.with_mut(|p| {
            // SAFETY: see the `Sync` impl: after seeing `Swept` the owner is
            // the only thread that touches `result`.
            unsafe { (*p).take() }
        });
        // Relaxed: only the owner acts on idle pages; sweepers' claims fail
        // on anything but pending.
        self.state.store(SweepState::Idle, Ordering::Relaxed);
        result
    }
}

/// Sweeps one page's bitmap: walks the marked objects in `first..end` (bit
/// indices, one per word), calls `free(start, end)` for every run of words
/// between them, clears the objects' mark bits for the next cycle, and
/// returns the live words. `object_words(i)` is the size in words of the
/// marked object starting at bit `i`.
///
/// Only the thread that claimed the page may call this: it clears bits.
pub fn sweep_runs(
    marks: &MarkBitmap,
    first: usize,
    end: usize,
    object_words: impl Fn(usize) -> usize,
    mut free: impl FnMut(usize, usize),
) -> usize {
    let (mut cursor, mut live) = (first, 0);
    loop {
        let next = marks.next_set(cursor, end);
        let free_end = next.unwrap_or(end);
        if free_end > cursor {
            free(cursor, free_end);
        }
        let Some(obj) = next else { break };
        let words = object_words(obj);
        marks.clear(obj);
        live += words;
        cursor = obj + words;
    }
    live
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn claim_publish_take() {
        let slot: SweepSlot<u32> = SweepSlot::new();
        assert!(!slot.try_claim(), "an idle page cannot be claimed");
        slot.set_pending();
        assert_eq!(slot.state(), SweepState::Pending);
        assert_eq!(slot.take(), None);
        assert!(slot.try_claim());
        assert!(!slot.try_claim(), "claimed once");
        assert_eq!(slot.state(), SweepState::InProgress);
        slot.publish(7);
        assert_eq!(slot.state(), SweepState::Swept);
        assert_eq!(slot.take(), Some(7));
        assert_eq!(slot.state(), SweepState::Idle);
        assert_eq!(slot.take(), None, "taken once");
    }

    #[test]
    fn sweep_runs_frees_the_gaps_and_clears_marks() {
        let marks = MarkBitmap::new();
        // Objects of 3 words at 10, 2 words at 20, 5 words at 100.
        let sizes = |i: usize| match i {
            10 => 3,
            20 => 2,
            100 => 5,
            _ => unreachable!(),
        };
        for i in [10, 20, 100] {
            marks.set(i);
        }
        let mut runs = vec![];
        let live = sweep_runs(&marks, 8, 128, sizes, |s, e| runs.push((s, e)));
        assert_eq!(live, 10);
        assert_eq!(runs, vec![(8, 10), (13, 20), (22, 100), (105, 128)]);
        assert_eq!(marks.count(), 0);
        // An object ending at the area end leaves no empty run.
        marks.set(120);
        let mut runs = vec![];
        sweep_runs(&marks, 8, 128, |_| 8, |s, e| runs.push((s, e)));
        assert_eq!(runs, vec![(8, 120)]);
    }
}

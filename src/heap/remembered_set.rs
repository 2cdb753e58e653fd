//! Remembered sets: per-page slot sets (OLD_TO_NEW, later OLD_TO_OLD).
//!
//! A slot set records *slots* (addresses of fields) of one page, one bit per
//! word, as V8's `SlotSet` does: the page's words are split into buckets of
//! [`SLOTS_PER_BUCKET`] slots, and a bucket's bits are allocated only when the
//! first slot in it is recorded. Buckets are installed with a compare-exchange
//! so that two threads recording slots in the same empty bucket (two scavenger
//! workers promoting objects onto one page) never lose an insertion, and bits
//! are set and cleared with single atomic read-modify-writes so an insertion
//! racing with iteration or with the removal of another slot is never lost.

use crate::sync::faults::{fault, Fault};
use crate::sync::{AtomicPtr, AtomicU32, Ordering};

/// Cells of 32 bits per bucket.
#[cfg(not(loom))]
const BUCKET_CELLS: usize = 32;
#[cfg(loom)]
const BUCKET_CELLS: usize = 2;

/// Slots covered by one lazily allocated bucket.
pub const SLOTS_PER_BUCKET: usize = BUCKET_CELLS * 32;

struct Bucket {
    cells: [AtomicU32; BUCKET_CELLS],
}

impl Bucket {
    fn new() -> Bucket {
        Bucket { cells: std::array::from_fn(|_| AtomicU32::new(0)) }
    }
}

/// What an iteration callback wants done with the slot it was shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlotCallbackResult {
    /// The slot still matters (e.g. still points into new space).
    Keep,
    /// Forget the slot.
    Remove,
}

/// The recorded slots of one page, indexed by word offset from the page start.
pub struct SlotSet {
    buckets: Box<[AtomicPtr<Bucket>]>,
}

impl SlotSet {
    /// A slot set for a page of `words` words; no bucket is allocated yet.
    pub fn new(words: usize) -> SlotSet {
        let n = words.div_ceil(SLOTS_PER_BUCKET);
        SlotSet { buckets: (0..n).map(|_| AtomicPtr::new(std::ptr::null_mut())).collect() }
    }

    #[inline]
    fn bucket(&self, index: usize) -> Option<&Bucket> {
        // Acquire: pairs with the Release half of the install CAS in
        // `bucket_or_install`, so the bucket's zeroed cells are visible.
        let p = self.buckets[index].load(Ordering::Acquire);
        // SAFETY: a non-null bucket pointer came from `Box::into_raw` in
        // `bucket_or_install` and is freed only in `drop`, so it is live
        // while `&self` is.
        (!p.is_null()).then(|| unsafe { &*p })
    }

    #[cold]
    fn bucket_or_install(&self, index: usize) -> &Bucket {
        if let Some(b) = self.bucket(index) {
            return b;
        }
        let fresh = Box::into_raw(Box::new(Bucket::new()));
        if fault(Fault::SlotSetPlainInstall) {
            // Broken twin: a plain store may overwrite a bucket another thread
            // installed (and already recorded a slot in) a moment ago.
            self.buckets[index].store(fresh, Ordering::Release);
            // SAFETY: just installed and never freed before `&mut self`.
            return unsafe { &*fresh };
        }
        // AcqRel on success: Release publishes the zeroed bucket to readers
        // (pairs with the Acquire in `bucket`). Acquire on failure: pairs with
        // the winner's Release so we can use its bucket.
        match self.buckets[index].compare_exchange(std::ptr::null_mut(), fresh, Ordering::AcqRel, Ordering::Acquire) {
            // SAFETY: installed by us; freed only through `&mut self`.
            Ok(_) => unsafe { &*fresh },
            Err(winner) => {
                // SAFETY: `fresh` was never shared; we still own it.
                drop(unsafe { Box::from_raw(fresh) });
                // SAFETY: the winner's bucket is live until `&mut self`.
                unsafe { &*winner }
            }
        }
    }

    /// Records `slot`. Safe to call from many threads at once.
    #[inline]
    pub fn insert(&self, slot: usize) {
        let (b, c, mask) = Self::split(slot);
        let bucket = match self.bucket(b) {
            Some(bucket) => bucket,
            None => self.bucket_or_install(b),
        };
        let cell = &bucket.cells[c];
        // Relaxed check: a set bit needs no second write.
        if cell.load(Ordering::Relaxed) & mask == 0 {
            // Release: pairs with the Acquire load in `iterate`. A scavenger
            // task may record a slot of an object it just promoted while
            // another task iterates this page's set; whoever finds the bit
            // must also see the slot's contents written before it.
            let order = if fault(Fault::SlotInsertRelaxed) { Ordering::Relaxed } else { Ordering::Release };
            cell.fetch_or(mask, order);
        }
    }

    /// Is `slot` recorded?
    pub fn contains(&self, slot: usize) -> bool {
        let (b, c, mask) = Self::split(slot);
        // Relaxed: a membership query made after the collector's join (the
        // verifier, the barrier's owner thread); nothing is read through it.
        self.bucket(b).is_some_and(|bucket| bucket.cells[c].load(Ordering::Relaxed) & mask != 0)
    }

    /// Forgets every slot in `start..end` (a range the sweeper freed). Safe
    /// to call while other threads insert slots outside the range.
    pub fn remove_range(&self, start: usize, end: usize) {
        let mut slot = start;
        while slot < end {
            let (b, c, _) = Self::split(slot);
            let Some(bucket) = self.bucket(b) else {
                slot = (b + 1) * SLOTS_PER_BUCKET;
                continue;
            };
            let cell_first = b * SLOTS_PER_BUCKET + c * 32;
            let lo = slot - cell_first;
            let hi = (end - cell_first).min(32);
            let mask = if hi - lo == 32 { u32::MAX } else { ((1u32 << (hi - lo)) - 1) << lo };
            if fault(Fault::SlotSetRemoveRangeLoadStore) {
                // Broken twin: the clearing split into a load and a store, so
                // a slot the write barrier inserts into this cell in between
                // is wiped out.
                let now = bucket.cells[c].load(Ordering::Relaxed);
                bucket.cells[c].store(now & !mask, Ordering::Relaxed);
            } else {
                // Relaxed: one atomic RMW clears only these bits, so a
                // concurrent insertion of another bit in the cell (the
                // barrier recording a live slot while the sweeper frees a
                // dead range of the same page) is never lost.
                bucket.cells[c].fetch_and(!mask, Ordering::Relaxed);
            }
            slot = cell_first + hi;
        }
    }

    /// Calls `f` on every recorded slot; removes those for which it returns
    /// [`SlotCallbackResult::Remove`]. Returns how many slots were kept.
    ///
    /// Insertions into other slots that race with the iteration are never
    /// lost: a removal clears exactly one bit with an atomic `fetch_and`.
    pub fn iterate(&self, f: impl FnMut(usize) -> SlotCallbackResult) -> usize {
        self.iterate_noting_empty(f, |_| {})
    }

    /// As [`SlotSet::iterate`], and calls `empty` with the index of every
    /// bucket the iteration left without a slot, as far as it saw: a
    /// concurrent insertion may have refilled it, so a caller that wants to
    /// release it checks again ([`SlotSet::release_if_empty`]). A bucket,
    /// once installed, otherwise stays until the page goes, and iteration
    /// reads every cell of every installed bucket: on an old generation
    /// whose old-to-new pointers come and go (a tree fed young payloads)
    /// that, not the slots, becomes the cost of a scavenge's remembered set.
    pub fn iterate_noting_empty(
        &self,
        mut f: impl FnMut(usize) -> SlotCallbackResult,
        mut empty: impl FnMut(usize),
    ) -> usize {
        let mut kept = 0;
        for b in 0..self.buckets.len() {
            let Some(bucket) = self.bucket(b) else { continue };
            let mut left = 0u32;
            for (c, cell) in bucket.cells.iter().enumerate() {
                // Acquire: pairs with the Release in `insert` (see there).
                let order = if fault(Fault::SlotIterateRelaxed) { Ordering::Relaxed } else { Ordering::Acquire };
                let mut bits = cell.load(order);
                let seen = bits;
                let mut remove = 0u32;
                while bits != 0 {
                    let bit = bits.trailing_zeros();
                    bits &= bits - 1;
                    match f(b * SLOTS_PER_BUCKET + c * 32 + bit as usize) {
                        SlotCallbackResult::Keep => kept += 1,
                        SlotCallbackResult::Remove => remove |= 1 << bit,
                    }
                }
                if remove != 0 {
                    if fault(Fault::SlotSetIterateLoadStore) {
                        // Broken twin: the removal's read-modify-write split
                        // in two, so a slot inserted into this cell between
                        // the load and the store is lost.
                        let now = cell.load(Ordering::Relaxed);
                        cell.store(now & !remove, Ordering::Relaxed);
                    } else {
                        // Relaxed: one atomic RMW clears only these bits, so a concurrent
                        // insertion of another bit in the cell is never lost.
                        cell.fetch_and(!remove, Ordering::Relaxed);
                    }
                }
                left |= seen & !remove;
            }
            if left == 0 {
                empty(b);
            }
        }
        kept
    }

    /// Forgets every slot: unlinks the buckets into `out`, to be freed
    /// later (off the pause, see [`DetachedBuckets`]). The caller excludes
    /// every other user of the set (a pause with its workers stopped): an
    /// insertion racing with this could be lost.
    #[cfg(not(loom))]
    pub(crate) fn detach_exclusive(&self, out: &mut DetachedBuckets) {
        for p in self.buckets.iter() {
            // Relaxed: no other thread uses the set now (the caller's
            // contract); the pause's end orders later installs after this.
            if !p.load(Ordering::Relaxed).is_null() {
                out.0.push(p.swap(std::ptr::null_mut(), Ordering::Relaxed));
            }
        }
    }

    /// Frees bucket `b` if it holds no slot; returns whether it did. The
    /// next insertion into its range installs a fresh one.
    ///
    /// # Safety
    /// No other thread may use this slot set during the call (a pause,
    /// after its parallel phase joined, with the background sweepers
    /// paused), and no reference to the bucket taken before the call is
    /// used after it (the set hands out none beyond its own calls).
    pub unsafe fn release_if_empty(&self, b: usize) -> bool {
        // Relaxed (here and below): the caller excludes every other thread;
        // the join that ended their accesses ordered them before this.
        let p = self.buckets[b].load(Ordering::Relaxed);
        if p.is_null() {
            return false;
        }
        // SAFETY: a non-null bucket pointer came from `Box::into_raw` and is
        // live until freed, which only this function and `drop` do.
        let bucket = unsafe { &*p };
        if bucket.cells.iter().any(|c| c.load(Ordering::Relaxed) != 0) {
            return false;
        }
        self.buckets[b].store(std::ptr::null_mut(), Ordering::Relaxed);
        // SAFETY: unlinked above, and no other thread can hold it (the
        // caller's contract), so this is the last reference.
        drop(unsafe { Box::from_raw(p) });
        true
    }

    /// Number of recorded slots (tests and models).
    #[cfg_attr(not(loom), allow(dead_code))]
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> usize {
        (0..self.buckets.len())
            .filter_map(|b| self.bucket(b))
            // Relaxed: a count for tests and models, taken after joins.
            .map(|bucket| bucket.cells.iter().map(|c| c.load(Ordering::Relaxed).count_ones() as usize).sum::<usize>())
            .sum()
    }

    #[inline(always)]
    fn split(slot: usize) -> (usize, usize, u32) {
        let b = slot / SLOTS_PER_BUCKET;
        let in_bucket = slot % SLOTS_PER_BUCKET;
        (b, in_bucket / 32, 1u32 << (in_bucket % 32))
    }
}

/// Buckets unlinked from slot sets, freed when this is dropped (on a
/// background thread: freeing thousands of buckets takes a pause's budget).
#[cfg(not(loom))]
#[derive(Default)]
pub(crate) struct DetachedBuckets(Vec<*mut Bucket>);

// SAFETY: the buckets are exclusively owned (unlinked from their sets, no
// reference to them remains), so they may be freed on any thread.
#[cfg(not(loom))]
unsafe impl Send for DetachedBuckets {}

#[cfg(not(loom))]
impl DetachedBuckets {
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(not(loom))]
impl Drop for DetachedBuckets {
    fn drop(&mut self) {
        for &raw in &self.0 {
            // SAFETY: allocated by `Box::into_raw` in `bucket_or_install`
            // and unlinked by `detach_exclusive`, so this is the only owner.
            drop(unsafe { Box::from_raw(raw) });
        }
    }
}

impl Drop for SlotSet {
    fn drop(&mut self) {
        for p in self.buckets.iter_mut() {
            // Relaxed: `&mut self` in drop excludes every other thread.
            let raw = p.load(Ordering::Relaxed);
            if !raw.is_null() {
                // SAFETY: allocated by `Box::into_raw`; `&mut self` in drop
                // means no other reference remains.
                drop(unsafe { Box::from_raw(raw) });
            }
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn insert_iterate_remove() {
        let s = SlotSet::new(4096);
        assert_eq!(s.len(), 0);
        for slot in [1, 31, 32, 1023, 1024, 4000] {
            s.insert(slot);
        }
        assert_eq!(s.len(), 6);
        assert!(s.contains(1024));
        let mut seen = vec![];
        let kept = s.iterate(|slot| {
            seen.push(slot);
            if slot % 2 == 0 {
                SlotCallbackResult::Remove
            } else {
                SlotCallbackResult::Keep
            }
        });
        assert_eq!(seen, vec![1, 31, 32, 1023, 1024, 4000]);
        assert_eq!(kept, 3);
        assert!(!s.contains(32));
        s.insert(1024);
        s.remove_range(0, 1024);
        assert_eq!(s.len(), 1, "the range end is exclusive");
        assert!(s.contains(1024));
        assert!(s.bucket(2).is_none(), "untouched buckets stay unallocated");
    }

    #[test]
    fn iteration_notes_emptied_buckets_and_they_can_be_released() {
        let s = SlotSet::new(4096);
        for slot in [5, SLOTS_PER_BUCKET + 1, SLOTS_PER_BUCKET + 2, 2 * SLOTS_PER_BUCKET] {
            s.insert(slot);
        }
        let mut empty = vec![];
        // Keep only the second slot of bucket 1: buckets 0 and 2 empty.
        s.iterate_noting_empty(
            |slot| {
                if slot == SLOTS_PER_BUCKET + 2 {
                    SlotCallbackResult::Keep
                } else {
                    SlotCallbackResult::Remove
                }
            },
            |b| empty.push(b),
        );
        assert_eq!(empty, vec![0, 2]);
        s.insert(7);
        // SAFETY: this thread is the set's only user.
        unsafe {
            assert!(!s.release_if_empty(0), "refilled since: kept");
            assert!(!s.release_if_empty(1), "holds a slot: kept");
            assert!(s.release_if_empty(2));
            assert!(!s.release_if_empty(3), "never installed");
        }
        assert!(s.bucket(2).is_none());
        assert_eq!(s.len(), 2);
        s.insert(2 * SLOTS_PER_BUCKET + 3);
        assert!(s.contains(2 * SLOTS_PER_BUCKET + 3), "a released bucket comes back on insertion");
    }

    #[test]
    fn remove_range_clears_only_the_range() {
        let s = SlotSet::new(4096);
        for slot in 0..200 {
            s.insert(slot);
        }
        s.remove_range(10, 150);
        assert_eq!(s.len(), 10 + 50);
        assert!(s.contains(9) && !s.contains(10) && !s.contains(149) && s.contains(150));
    }
}

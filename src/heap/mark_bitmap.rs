//! The per-page mark bitmap: one bit per heap word, set atomically.
//!
//! A set bit marks the object that *starts* at that word. isogc keeps one bit
//! per object (V8's current scheme): "grey" is a marked object that still sits
//! on a marking worklist, "black" a marked object that has been scanned, so
//! the colours need no second bit.
//!
//! Several markers (workers, the mutator's barrier) may set bits in the same
//! cell at once, so a bit is set with one `fetch_or`; the caller that turned
//! the bit from 0 to 1 *wins* the object and is the one that pushes it on a
//! worklist. Built over the [`crate::sync`] facade so loom checks it directly.

use super::page_flags as flags;
use super::BITMAP_CELLS;
use crate::sync::faults::{fault, Fault};
use crate::sync::{AtomicUsize, Ordering};

const BITS: usize = usize::BITS as usize;

/// One bit per word of a page.
pub struct MarkBitmap {
    cells: [AtomicUsize; BITMAP_CELLS],
}

impl Default for MarkBitmap {
    fn default() -> Self {
        Self::new()
    }
}

impl MarkBitmap {
    /// An all-clear bitmap.
    pub fn new() -> MarkBitmap {
        MarkBitmap { cells: std::array::from_fn(|_| AtomicUsize::new(0)) }
    }

    /// Number of bits (words covered).
    pub const fn bits(&self) -> usize {
        BITMAP_CELLS * BITS
    }

    #[inline(always)]
    fn cell(&self, index: usize) -> (&AtomicUsize, usize) {
        (&self.cells[index / BITS], 1usize << (index % BITS))
    }

    /// Sets bit `index`. Returns `true` if this call turned it from clear to
    /// set (the caller won the object), `false` if it was already set.
    #[inline]
    pub fn set(&self, index: usize) -> bool {
        let (cell, mask) = self.cell(index);
        if fault(Fault::BitmapLoadStore) {
            // Broken twin for the loom models: a read-modify-write split in
            // two, so concurrent markers can both "win" or lose each other's
            // bits.
            let old = cell.load(Ordering::Relaxed);
            if old & mask != 0 {
                return false;
            }
            cell.store(old | mask, Ordering::Relaxed);
            return true;
        }
        // Read first: most attempts find the object marked already, and a
        // plain load leaves the cell's cache line shared where a `fetch_or`
        // would take it away from every other marker (adjacent objects share
        // a cell). Relaxed: a caller that loses acts on nothing.
        if cell.load(Ordering::Relaxed) & mask != 0 {
            return false;
        }
        // Relaxed: a mark bit carries no data, only who won (one atomic RMW
        // decides that, whatever its ordering). The winner pushes the object
        // on a worklist, whose publication orders its scan; a loser does
        // nothing with the object; a black-allocated object is never read
        // through its bit. Every thread that reads bits to act on objects
        // (sweepers, compaction, weak clearing, page promotion) runs after
        // the markers joined or behind a gate (`is_set`).
        cell.fetch_or(mask, Ordering::Relaxed) & mask == 0
    }

    /// Is bit `index` set?
    #[inline]
    pub fn is_set(&self, index: usize) -> bool {
        let (cell, mask) = self.cell(index);
        // Relaxed: bits are read to act on objects only after the markers
        // that set them joined (the finalization pause) or behind a gate (a
        // sweeper let in after a pause: `WorkerGate::enter`'s Acquire), and
        // those edges order the objects too; `set` needs no Release.
        cell.load(Ordering::Relaxed) & mask != 0
    }

    /// Clears bit `index`.
    #[inline]
    pub fn clear(&self, index: usize) {
        let (cell, mask) = self.cell(index);
        // Relaxed: bits are cleared only while no marker runs (sweeping of a
        // claimed page, or inside a pause); the pause's join orders it.
        cell.fetch_and(!mask, Ordering::Relaxed);
    }

    /// Clears every bit. Only while no marker can touch this page.
    pub fn clear_all(&self) {
        for c in &self.cells {
            // Relaxed: as in `clear`.
            c.store(0, Ordering::Relaxed);
        }
    }

    /// The first set bit in `from..to`, if any.
    pub fn next_set(&self, from: usize, to: usize) -> Option<usize> {
        let to = to.min(self.bits());
        let mut i = from;
        while i < to {
            let cell_index = i / BITS;
            // Relaxed: as in `is_set`.
            let word = self.cells[cell_index].load(Ordering::Relaxed) >> (i % BITS);
            if word != 0 {
                let found = i + word.trailing_zeros() as usize;
                return (found < to).then_some(found);
            }
            i = (cell_index + 1) * BITS;
        }
        None
    }

    /// The last set bit at or below `at`, if any.
    pub fn prev_set(&self, at: usize) -> Option<usize> {
        let mut cell_index = at / BITS;
        // Keep bits 0..=at%BITS of the first cell.
        let mut keep = usize::MAX >> (BITS - 1 - at % BITS);
        loop {
            // Relaxed: as in `is_set`.
            let word = self.cells[cell_index].load(Ordering::Relaxed) & keep;
            if word != 0 {
                return Some(cell_index * BITS + (BITS - 1 - word.leading_zeros() as usize));
            }
            if cell_index == 0 {
                return None;
            }
            cell_index -= 1;
            keep = usize::MAX;
        }
    }

    /// Number of set bits (for statistics and the verifier).
    pub fn count(&self) -> usize {
        // Relaxed: only read inside a pause, after the markers joined.
        self.cells.iter().map(|c| c.load(Ordering::Relaxed).count_ones() as usize).sum()
    }
}

/// Where an object's mark bit is: real pages in normal builds, a model's
/// bitmap under loom.
pub trait MarkBits {
    /// Sets the mark bit of the object at `obj`; `true` if this call turned
    /// it from white to marked.
    fn try_mark(&self, obj: usize) -> bool;
}

/// Marking start, for one page: turns the barrier's marking half on in the
/// page's flag word (`flags::MARKING_FLAGS`). Runs in the start pause on the
/// isolate's thread, before the cycle's markers are posted.
///
/// The isolate's thread is the only mutator of its heap, so every write
/// after the pause sees the flags in program order, and the markers, posted
/// after the flags are set, see them through the post. A write "racing" the
/// activation is a write right after the pause, while the first marker
/// already scans: `loom-tests/tests/barrier_activation.rs` checks that it
/// cannot hide an object, with a twin that skips the activation.
pub fn activate_marking_barrier(page_flags: &AtomicUsize) {
    if fault(Fault::BarrierActivationSkipped) {
        // Broken twin: the page is left without the marking flags.
        return;
    }
    // Relaxed: as every page-flag change (`Page::flags`): only inside
    // pauses, ordered for workers by their post or the pause's join.
    page_flags.fetch_or(flags::MARKING_FLAGS, Ordering::Relaxed);
}

/// The write barrier's fast-path test (V8's): the host's page must be
/// `FROM_HERE_INTERESTING` and the value's page `TO_HERE_INTERESTING`.
#[inline(always)]
pub fn barrier_needed(host_page_flags: usize, value_page_flags: usize) -> bool {
    host_page_flags & flags::FROM_HERE_INTERESTING != 0 && value_page_flags & flags::TO_HERE_INTERESTING != 0
}

/// The marking half of the barrier's slow path: while the value's page is
/// being marked (`flags::MARKING`), shade the value ([`barrier_shade`]).
/// Returns `true` if the caller must push the value on its barrier worklist.
#[inline]
pub fn barrier_mark<B: MarkBits>(value_page_flags: usize, bits: &B, value: usize) -> bool {
    value_page_flags & flags::MARKING != 0 && barrier_shade(bits, value)
}

/// Black allocation: an object allocated while marking runs is born marked
/// (bit `index` of its page's bitmap). Nothing will scan it, so every pointer
/// stored into it must be shaded by the barrier, its initialising stores
/// included (`loom-tests/tests/black_allocation.rs`).
#[inline]
pub fn mark_black_allocated(marks: &MarkBitmap, index: usize) {
    marks.set(index);
}

/// The marking half of the write barrier (DESIGN section 5, step 3): shade
/// the stored value, unconditionally (the host's colour is not checked).
/// Returns `true` if the caller must push the value on its barrier worklist
/// (this call turned it from white to marked).
#[inline]
pub fn barrier_shade<B: MarkBits>(bits: &B, value: usize) -> bool {
    if fault(Fault::BarrierOff) {
        // Broken twin: the barrier forgets to shade.
        return false;
    }
    bits.try_mark(value)
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn set_reports_the_winner_once() {
        let b = MarkBitmap::new();
        assert!(b.set(70));
        assert!(!b.set(70));
        assert!(b.is_set(70));
        assert!(!b.is_set(71));
        b.clear(70);
        assert!(!b.is_set(70));
    }

    #[test]
    fn next_set_scans_across_cells() {
        let b = MarkBitmap::new();
        b.set(3);
        b.set(64);
        b.set(200);
        assert_eq!(b.next_set(0, b.bits()), Some(3));
        assert_eq!(b.next_set(4, b.bits()), Some(64));
        assert_eq!(b.next_set(65, b.bits()), Some(200));
        assert_eq!(b.next_set(65, 200), None);
        assert_eq!(b.next_set(201, b.bits()), None);
        assert_eq!(b.count(), 3);
        assert_eq!(b.prev_set(300), Some(200));
        assert_eq!(b.prev_set(200), Some(200));
        assert_eq!(b.prev_set(199), Some(64));
        assert_eq!(b.prev_set(63), Some(3));
        assert_eq!(b.prev_set(2), None);
        b.clear_all();
        assert_eq!(b.count(), 0);
    }
}

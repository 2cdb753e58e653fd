//! The write barrier, run on every store of a tagged value into a heap object
//! (DESIGN section 5).
//!
//! Fast path: two page-flag tests, V8's. The host page must have
//! `FROM_HERE_INTERESTING` (old pages always; every page while marking) and
//! the value's page `TO_HERE_INTERESTING` (young pages always; every page
//! while marking). Outside marking that is exactly "old host, young value".
//! The slow path, `#[cold]`, does what applies:
//!
//! - **generational**: old host, young value: record the slot in the host
//!   page's OLD_TO_NEW slot set;
//! - **marking (Dijkstra insertion barrier)**: while marking, shade the
//!   stored value: set its mark bit and, if this turned it from white to
//!   marked, push it on the mutator's barrier worklist (flushed into the
//!   marker's worklist by marking steps and at finalization). The host's
//!   colour is not checked: that would need a fence against the marker.
//!
//! Roots have no barrier; marking finalization re-scans them.

use crate::heap::mark_bitmap::{barrier_mark, barrier_needed, MarkBits};
use crate::heap::page::{flags, Page};
use crate::object::HeapObject;
use crate::value::Tagged;

/// Call after storing `value` into word `index` of `host`.
/// `marking_worklist` is the mutator's barrier worklist.
#[inline(always)]
pub(crate) fn write_barrier(marking_worklist: &mut Vec<HeapObject>, host: HeapObject, index: usize, value: Tagged) {
    if !value.is_heap_object() {
        return;
    }
    // SAFETY: `value` was read from a handle or field, so it points to a live
    // object of this heap.
    let value_page = unsafe { Page::of(value.address()) };
    let host_page = host.page();
    // (Page flags change only inside pauses: read once, they serve the
    // slow path too.)
    let (host_flags, value_flags) = (host_page.flags(), value_page.flags());
    if barrier_needed(host_flags, value_flags) {
        barrier_slow(marking_worklist, host, (host_page, host_flags), index, value, value_flags);
    }
}

#[cold]
#[inline(never)]
fn barrier_slow(
    marking_worklist: &mut Vec<HeapObject>,
    host: HeapObject,
    (host_page, host_flags): (Page, usize),
    index: usize,
    value: Tagged,
    value_flags: usize,
) {
    if value_flags & flags::YOUNG != 0 && host_flags & flags::YOUNG == 0 {
        host_page.header().old_to_new.insert(host_page.slot_index(host.slot(index)));
    }
    // Compaction: a slot pointing into an evacuation candidate is recorded
    // so the pointer can be updated when the object moves.
    host_page.record_old_to_old(value_flags, host.slot(index));
    if barrier_mark(value_flags, &PageMarks, value.address()) {
        // SAFETY: `value` is a live object (see above).
        marking_worklist.push(unsafe { HeapObject::from_tagged(value) });
    }
}

/// Mark bits on real pages.
struct PageMarks;

impl MarkBits for PageMarks {
    #[inline]
    fn try_mark(&self, obj: usize) -> bool {
        // SAFETY: `obj` is a live object of this heap (the barrier's value).
        let page = unsafe { Page::of(obj) };
        // Objects on pages allocated black count as marked already.
        !page.has(flags::BLACK_ALLOCATED) && page.header().marks.set(page.mark_index(obj))
    }
}

//! The write barrier, run on every store of a tagged value into a heap object.
//!
//! Generational part (DESIGN section 5, step 2): when an old object gets a
//! pointer to a young one, the slot goes into the host page's OLD_TO_NEW slot
//! set, so a scavenge finds it without scanning old space. The fast path is
//! two page-flag tests; recording is a `#[cold]` call.
//!
//! The marking (Dijkstra insertion) and compaction parts join this module
//! with concurrent marking and compaction.

use crate::heap::page::Page;
use crate::object::HeapObject;
use crate::value::Tagged;

/// Call after storing `value` into word `index` of `host`.
#[inline(always)]
pub(crate) fn write_barrier(host: HeapObject, index: usize, value: Tagged) {
    if !value.is_heap_object() {
        return;
    }
    // SAFETY: `value` was read from a handle or field, so it points to a live
    // object of this heap.
    let value_page = unsafe { Page::of(value.address()) };
    if value_page.is_young() {
        let host_page = host.page();
        if !host_page.is_young() {
            record_old_to_new(host_page, host.slot(index));
        }
    }
}

#[cold]
#[inline(never)]
fn record_old_to_new(host_page: Page, slot: usize) {
    host_page.header().old_to_new.insert(host_page.slot_index(slot));
}

//! Which objects of a page are live: the page-level facts every collector
//! phase reads between marking and sweeping.
//!
//! After marking, and while a page waits for its sweep, a page's mark bitmap
//! tells its live objects: a set bit marks the first word of each one, and
//! everything between them is garbage whose maps may already be gone (V8's
//! `LiveObjectRange` walks the same bits). Compaction's pointer updating
//! walks the live objects of the pages it cannot update by recorded slots,
//! heap iteration walks those of pages pending sweep, and a scavenge that
//! runs while pages wait for their sweeper keeps only the remembered slots
//! that lie inside a live object ([`slot_in_live_object`]).

use super::page::{flags, Page};
use super::WORD;
use crate::object::HeapObject;
use crate::value::Tagged;

/// The marked objects of one page, in address order (V8's
/// `LiveObjectRange`). The page's mark bits must tell its live objects:
/// between marking and sweeping, or while the page is pending sweep with
/// the sweepers paused.
pub(crate) struct LiveObjects {
    page: Page,
    next: usize,
    end: usize,
}

impl LiveObjects {
    /// The live objects of `page` (see the type's contract).
    pub(crate) fn of(page: Page) -> LiveObjects {
        LiveObjects { page, next: page.mark_index(page.area_start()), end: page.mark_index(page.area_end()) }
    }
}

impl Iterator for LiveObjects {
    type Item = HeapObject;

    fn next(&mut self) -> Option<HeapObject> {
        let j = self.page.header().marks.next_set(self.next, self.end)?;
        // SAFETY: per the type's contract, a set mark bit marks a live
        // object's start.
        let o = unsafe { HeapObject::from_address(self.page.address() + j * WORD) };
        self.next = j + o.size() / WORD;
        Some(o)
    }
}

/// Does `slot` of `page` lie inside an object marking found live? Slots of
/// dead objects are stale: their objects' memory is free the moment the page
/// is swept. The page's mark bits must tell its live objects (see
/// [`LiveObjects`]).
pub(crate) fn slot_in_live_object(page: Page, slot: usize) -> bool {
    match page.header().marks.prev_set(page.mark_index(slot)) {
        Some(i) => {
            let start = page.address() + i * WORD;
            // SAFETY: per the contract, a set mark bit marks the start of a
            // live object.
            start + unsafe { HeapObject::from_address(start) }.size() > slot
        }
        None => false,
    }
}

/// Is `v` alive as far as marking can tell: a Smi, a read-only object, an
/// object on a page allocated black, or a marked object?
pub(crate) fn is_live(v: Tagged) -> bool {
    if !v.is_heap_object() {
        return true;
    }
    // SAFETY: `v` came from a root or a field of a live object.
    let obj = unsafe { HeapObject::from_tagged(v) };
    let page = obj.page();
    page.has(flags::READ_ONLY | flags::BLACK_ALLOCATED) || page.header().marks.is_set(page.mark_index(obj.address()))
}

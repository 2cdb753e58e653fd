//! The minor GC: a Cheney-style copying scavenge of the young generation.
//!
//! Follows Cheney (1970) and Ungar's generation scavenging (1984), in V8's
//! shape (`papers/cheney-1970.md`, `papers/ungar-1984-generation-scavenging.md`):
//!
//! 1. flip the semi-spaces; to-space is empty, from-space holds the objects;
//! 2. evacuate everything the roots reach: local, global and (after) weak
//!    handles, and the OLD_TO_NEW slots of every old page;
//! 3. scan copied objects in to-space with Cheney's scan pointer, and the
//!    promoted ones from a worklist, until neither has work;
//! 4. clear weak handles to dead young objects; flip surviving young large
//!    objects to old large-object space; set the age mark.
//!
//! An object below its page's age mark survived one scavenge already and is
//! promoted to old space; so is any object that no longer fits in to-space.
//! Evacuating an object leaves a forwarding address in its map word. Slots of
//! promoted objects that still point into new space are recorded in their
//! page's OLD_TO_NEW slot set.
//!
//! This is the sequential reference implementation; the parallel scavenger
//! must agree with it.

use crate::handles::CLEARED;
use crate::heap::new_space::NewSpace;
use crate::heap::old_space::{Lab, OldSpace};
use crate::heap::page::{flags, Page, PagePool};
use crate::heap::remembered_set::SlotCallbackResult;
use crate::heap::Heap;
use crate::object::{HeapObject, MapRef};
use crate::sync::{AtomicUsize, Ordering};
use crate::value::Tagged;

/// What a scavenge moved.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct ScavengeStats {
    /// Bytes copied within new space.
    pub(crate) survived: usize,
    /// Bytes promoted to old space (copied or page-flipped).
    pub(crate) promoted: usize,
}

struct Scavenger<'h> {
    new_space: &'h mut NewSpace,
    old_space: &'h mut OldSpace,
    pool: &'h mut PagePool,
    promotion_lab: Lab,
    /// Promoted objects (and surviving young large objects) still to scan.
    promoted: Vec<HeapObject>,
    stats: ScavengeStats,
}

impl Scavenger<'_> {
    /// Returns where `v` lives after the scavenge, evacuating it if needed.
    #[inline]
    fn evacuate(&mut self, v: Tagged) -> Tagged {
        if !v.is_heap_object() {
            return v;
        }
        // SAFETY: every tagged pointer the scavenger follows comes from a
        // root or a live object's field, so it points to a live object.
        let obj = unsafe { HeapObject::from_tagged(v) };
        let page = obj.page();
        let f = page.flags();
        if f & flags::FROM_SPACE != 0 {
            self.copy(obj, page)
        } else if f & flags::NEW_LARGE != 0 {
            if page.try_set_flag(flags::LARGE_SURVIVED) {
                self.stats.promoted += obj.size();
                self.promoted.push(obj);
            }
            v
        } else {
            v
        }
    }

    fn copy(&mut self, obj: HeapObject, page: Page) -> Tagged {
        if let Some(to) = obj.forwarding_address() {
            return Tagged::from_address(to);
        }
        let map = MapRef(obj.map());
        let size = obj.size_with_map(map);
        let survivor = NewSpace::below_age_mark(page, obj.address());
        let to = match (!survivor).then(|| self.new_space.allocate(size)).flatten() {
            Some(to) => {
                self.stats.survived += size;
                to
            }
            None => {
                // Collector allocations may exceed the heap limit: the next
                // mutator allocation will find the limit and act on it.
                let to = self
                    .old_space
                    .allocate_in(&mut self.promotion_lab, size, self.pool, true)
                    .expect("isogc: the system is out of memory for promotion");
                self.stats.promoted += size;
                // SAFETY: `to` is initialised by the copy below.
                self.promoted.push(unsafe { HeapObject::from_address(to) });
                to
            }
        };
        obj.copy_to(to, size);
        obj.set_forwarding_address(to);
        Tagged::from_address(to)
    }

    /// Updates every tagged field of `obj`; if `record`, slots left pointing
    /// into new space go into the OLD_TO_NEW set of `obj`'s page.
    fn scan(&mut self, obj: HeapObject, record: bool) -> usize {
        let map = MapRef(obj.map());
        let page = obj.page();
        obj.for_each_tagged_index(map, |i| {
            let v = obj.field(i);
            let nv = self.evacuate(v);
            if nv != v {
                obj.set_field(i, nv);
            }
            if record && is_in_to_space(nv) {
                page.header().old_to_new.insert(page.slot_index(obj.slot(i)));
            }
        });
        obj.size_with_map(map)
    }
}

/// Does `v` point into to-space (young after this scavenge)?
#[inline]
fn is_in_to_space(v: Tagged) -> bool {
    // SAFETY: `v` is a live object's pointer (see `evacuate`).
    v.is_heap_object() && unsafe { HeapObject::from_tagged(v) }.page().has(flags::TO_SPACE)
}

/// Runs one scavenge of `heap`'s young generation.
pub(crate) fn scavenge(heap: &mut Heap) -> ScavengeStats {
    heap.new_space.flip(&mut heap.pool).expect("isogc: the system is out of memory for new space");
    let old_pages: Vec<Page> = heap.old_gen_pages().collect();
    let Heap { new_space, old_space, pool, handles, globals, weaks, new_lo_space, lo_space, .. } = heap;
    let mut s = Scavenger {
        new_space: &mut *new_space,
        old_space: &mut *old_space,
        pool: &mut *pool,
        promotion_lab: Lab::default(),
        promoted: Vec::new(),
        stats: ScavengeStats::default(),
    };

    // Roots: local handles, then global handles (claimed block by block, the
    // way parallel visitors will).
    for h in handles.iter_mut() {
        *h = s.evacuate(*h);
    }
    {
        let table = globals.inner.borrow();
        let cursor = AtomicUsize::new(0);
        table.blocks.visit_claimed(&cursor, |slot| {
            // Relaxed: inside the pause only this thread touches the table.
            let v = Tagged(slot.load(Ordering::Relaxed));
            let nv = s.evacuate(v);
            if nv != v {
                slot.store(nv.0, Ordering::Relaxed);
            }
        });
    }

    // The remembered set: old slots that may point into new space.
    for page in old_pages {
        page.header().old_to_new.iterate(|i| {
            // SAFETY: recorded slots lie inside live old objects: the sweeper
            // removes slots of freed ranges, and freed large pages take their
            // slot sets with them.
            let host_slot = unsafe { HeapObject::from_address(page.slot_address(i)) };
            let v = host_slot.field(0);
            let nv = s.evacuate(v);
            if nv != v {
                host_slot.set_field(0, nv);
            }
            if is_in_to_space(nv) {
                SlotCallbackResult::Keep
            } else {
                SlotCallbackResult::Remove
            }
        });
    }

    // Cheney's scan over to-space, interleaved with the promoted worklist.
    let (mut scan_page, mut scan) = (0, s.new_space.to_pages[0].area_start());
    loop {
        let mut progressed = false;
        loop {
            let limit = if scan_page == s.new_space.current {
                s.new_space.lab.top
            } else {
                s.new_space.to_pages[scan_page].top()
            };
            if scan < limit {
                // SAFETY: to-space below the allocation top holds only fully
                // copied objects.
                let obj = unsafe { HeapObject::from_address(scan) };
                scan += s.scan(obj, false);
                progressed = true;
            } else if scan_page < s.new_space.current {
                scan_page += 1;
                scan = s.new_space.to_pages[scan_page].area_start();
            } else {
                break;
            }
        }
        while let Some(obj) = s.promoted.pop() {
            s.scan(obj, true);
            progressed = true;
        }
        if !progressed {
            break;
        }
    }
    let (mut lab, stats) = (s.promotion_lab, s.stats);
    drop(s);
    old_space.retire(&mut lab);

    // Weak handles: follow forwarding, clear the dead.
    {
        let table = weaks.inner.borrow();
        let cursor = AtomicUsize::new(0);
        table.blocks.visit_claimed(&cursor, |slot| {
            // Relaxed: inside the pause only this thread touches the table.
            let v = Tagged(slot.load(Ordering::Relaxed));
            if !v.is_heap_object() {
                return;
            }
            // SAFETY: weak slots hold live or dead-but-unfreed young objects
            // (from-space is still intact) or live old objects.
            let obj = unsafe { HeapObject::from_tagged(v) };
            let page = obj.page();
            let nv = if page.has(flags::FROM_SPACE) {
                obj.forwarding_address().map_or(CLEARED, Tagged::from_address)
            } else if page.has(flags::NEW_LARGE) && !page.has(flags::LARGE_SURVIVED) {
                CLEARED
            } else {
                v
            };
            slot.store(nv.0, Ordering::Relaxed);
        });
    }

    // Young large objects: survivors become old by a flag flip, the rest go.
    for page in new_lo_space.pages.clone() {
        let size = new_lo_space.take(page);
        if page.has(flags::LARGE_SURVIVED) {
            page.clear_flags(flags::NEW_LARGE | flags::LARGE_SURVIVED);
            page.set_flags(flags::OLD);
            lo_space.adopt(page, size);
        } else {
            pool.release(page);
        }
    }
    new_space.set_age_mark_to_top();
    stats
}

//! Promotion of the young generation by pages: its pages become old-space
//! pages where they are, and nothing is copied.
//!
//! Follows V8's fast promotion mode (`PromoteYoungGenerationGC::
//! EvacuateYoungGeneration`, `Heap::ComputeFastPromotionMode`; see
//! `papers/v8-pretenuring.md`, which also maps new-space sizing): when
//! nearly everything in new space survives, a scavenge would copy it all
//! (twice, before the age mark promotes it) only to promote it anyway, so
//! the minor GC moves whole pages to old space instead. Its pause is a few
//! flag flips per page, whatever survived. The driver
//! ([`crate::collector`]) decides when; this module does it.
//!
//! Why it is correct, with nothing moved:
//! - **No young object is left**, so no slot points into new space any more,
//!   and neither roots nor weak handles need updating. The OLD_TO_NEW sets
//!   are left as they are: a slot whose value is no longer young is dropped
//!   by the next scavenge that looks at it, as any stale slot is (clearing
//!   every page's set here would cost the pause about a microsecond per
//!   old page).
//! - **Garbage rides along**: the promoted pages' dead objects are ordinary
//!   old-space garbage, freed when the next major GC sweeps the pages. Their
//!   fields point to objects that still exist until then (old objects die
//!   only in a major GC, which sweeps these pages too).
//! - **During marking** the mark bits stay valid (nothing moved) and the
//!   Dijkstra invariant holds on the promoted pages as before (the barrier
//!   runs for young hosts too while marking). When the cycle compacts,
//!   objects marking already visited while their page was young recorded no
//!   OLD_TO_OLD slots (young hosts are updated by the finalization's
//!   scavenge); their slots are recorded now (V8's `RecordLiveSlotsOnPage`).
//! - **In a major GC** (after marking, before compaction and sweeping) the
//!   pages are swept with the old ones, by the marks just computed; weak
//!   handles to dead young objects were already cleared by the marks.
//!
//! Where isogc departs from V8: V8 ships fast promotion off and leaves
//! the mode only when a later scavenge measures lower survival, which a
//! fast promotion never does (it reports everything as promoted). isogc
//! runs a regular scavenge, sized to the pause budget, every few fast
//! promotions to measure survival again (see `collector::controller`), and
//! also uses page promotion in the major GC when marking found most of the
//! young generation live.

use crate::heap::live_objects::{record_old_to_old_slots, LiveObjects};
use crate::heap::Heap;
use crate::object::HeapObject;

/// What a promotion by pages moved.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct PagePromotion {
    /// New-space pages that became old-space pages.
    pub(crate) pages: usize,
    /// Bytes of objects (live or not) on them.
    pub(crate) bytes: usize,
    /// Bytes of young large objects promoted with them.
    pub(crate) large_bytes: usize,
    /// Of all those bytes, the ones marking found live (meaningful only
    /// right after marking, in a major GC).
    pub(crate) live_bytes: usize,
}

/// Promotes the whole young generation by pages. `compacting`: a marking
/// cycle with evacuation candidates is in progress, so the slots of the
/// objects it already visited are recorded. Returns `None`, changing
/// nothing, if the system has no memory for the new to-space's pages (the
/// caller scavenges instead).
///
/// Runs in a pause: background workers stopped, allocation areas retired.
pub(crate) fn promote_young_generation(heap: &mut Heap, compacting: bool) -> Option<PagePromotion> {
    let pages = heap.new_space.take_pages_for_promotion(&mut heap.pool)?;
    let mut promotion = PagePromotion { pages: pages.len(), ..PagePromotion::default() };
    for &page in &pages {
        page.make_old();
        promotion.bytes += heap.old_space.adopt_promoted_page(page);
        promotion.live_bytes += page.live_bytes();
        if compacting {
            // The marked objects are the ones marking visited (or will: a
            // grey one records again when scanned, harmlessly).
            for obj in LiveObjects::of(page) {
                record_old_to_old_slots(page, obj);
            }
        }
    }
    for page in heap.new_lo_space.pages.clone() {
        let size = heap.new_lo_space.take(page);
        page.make_old();
        heap.lo_space.adopt(page, size);
        promotion.large_bytes += size;
        if page.header().marks.is_set(page.mark_index(page.area_start())) {
            promotion.live_bytes += size;
        }
        if compacting {
            // Slots of a dead object are filtered out by pointer updating
            // (it updates only slots inside marked objects).
            // SAFETY: a large page holds one object at its area's start.
            record_old_to_old_slots(page, unsafe { HeapObject::from_address(page.area_start()) });
        }
    }
    Some(promotion)
}

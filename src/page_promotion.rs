//! Promotion of the young generation by pages: its pages become old-space
//! pages where they are, and nothing is copied.
//!
//! Follows V8's fast promotion mode (`PromoteYoungGenerationGC::
//! EvacuateYoungGeneration`, `Heap::ComputeFastPromotionMode`, and
//! mark-compact's page promotion; see `papers/v8-new-space-sizing.md`): when
//! nearly everything in new space survives, a scavenge would copy it all
//! (twice, before the age mark promotes it) only to promote it anyway, so
//! the minor GC moves whole pages to old space instead. Its pause is a few
//! flag flips per page, whatever survived. The driver
//! ([`crate::collector`]) decides when; this module does it.
//!
//! Why it is correct, with nothing moved:
//! - **No young object is left**, so no slot points into new space any more:
//!   the OLD_TO_NEW sets are cleared (left, every slot would be stale, and
//!   the next scavenge would pay for filtering them all), and neither roots
//!   nor weak handles need updating.
//! - **Garbage rides along**: the promoted pages' dead objects are ordinary
//!   old-space garbage, freed when the next major GC sweeps the pages. Their
//!   fields point to objects that still exist until then (old objects die
//!   only in a major GC, which sweeps these pages too).
//! - **During marking** the mark bits stay valid (nothing moved) and the
//!   Dijkstra invariant holds on the promoted pages as before (the barrier
//!   runs for young hosts too while marking). When the cycle compacts, the
//!   objects marking visited while their page was young recorded their
//!   OLD_TO_OLD slots as old ones do (young pages record too, see
//!   [`crate::heap::page::Page::record_old_to_old`]), so the promoted page
//!   needs no walk over its live objects (V8's `RecordLiveSlotsOnPage`,
//!   which cost 40 us per page here).
//! - **In a major GC** (after marking, before compaction and sweeping) the
//!   pages are swept with the old ones, by the marks just computed; weak
//!   handles to dead young objects were already cleared by the marks.
//!
//! Where isogc departs from V8: V8 ships fast promotion off and leaves
//! the mode only when a later scavenge measures lower survival, which a
//! fast promotion never does (it reports everything as promoted). isogc
//! runs a regular scavenge, sized to the pause budget, every few fast
//! promotions to measure survival again (see `collector::controller`), and
//! also uses page promotion in the major GC when an atomic marking found
//! most of the young generation live (or while fast promotion is on).

use crate::heap::remembered_set::DetachedBuckets;
use crate::heap::{Heap, PAGE_SIZE};

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

/// Would the promoted pages keep the old generation within the heap's
/// allocation limit (the hard limit bounds the collector's promotions too)?
fn within_limit(heap: &Heap) -> bool {
    heap.limit_committed() + (heap.new_space.current + 1) * PAGE_SIZE <= heap.collector_limit()
}

/// Can the young generation be promoted by pages now, with no memory from
/// the system: within the limit, with a spare page for the new to-space or
/// one secured in the pool ([`crate::heap::page::PagePool::secure`])?
pub(crate) fn can_promote(heap: &Heap) -> bool {
    within_limit(heap) && (heap.new_space.spare_pages() > 0 || heap.pool.reserved() > 0)
}

/// Promotes the whole young generation by pages. Returns `None`, changing
/// nothing, if that would take the old generation past its limit or the
/// system has no memory for the new to-space's page (the caller scavenges
/// instead).
///
/// Runs in a pause: background workers stopped, allocation areas retired.
pub(crate) fn promote_young_generation(heap: &mut Heap) -> Option<PagePromotion> {
    if !within_limit(heap) {
        return None;
    }
    let pages = heap.new_space.take_pages_for_promotion(&mut heap.pool)?;
    let mut promotion = PagePromotion { pages: pages.len(), ..PagePromotion::default() };
    for &page in &pages {
        page.make_old();
        promotion.bytes += heap.old_space.adopt_promoted_page(page);
        promotion.live_bytes += page.live_bytes();
    }
    for page in heap.new_lo_space.pages.clone() {
        let size = heap.new_lo_space.take(page);
        page.make_old();
        heap.lo_space.adopt(page, size);
        promotion.large_bytes += size;
        if page.header().marks.is_set(page.mark_index(page.area_start())) {
            promotion.live_bytes += size;
        }
    }
    let mut detached = DetachedBuckets::default();
    for page in heap.old_gen_pages() {
        page.header().old_to_new.detach_exclusive(&mut detached);
    }
    if !detached.is_empty() {
        // Freeing thousands of buckets would take much of the pause.
        heap.platform.spawn(move || drop(detached));
    }
    Some(promotion)
}

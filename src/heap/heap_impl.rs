//! The heap of one isolate: its spaces, its roots, and allocation that
//! never collects.
//!
//! [`Heap::try_allocate`] is one attempt in one space, growing it within the
//! hard limit; when it fails, the GC driver ([`crate::collector`]) decides
//! what to collect or sweep before the next attempt. Nothing here starts a
//! GC.

use super::large_object_space::LargeObjectSpace;
use super::live_objects::LiveObjects;
use super::new_space::NewSpace;
use super::old_space::{FillerMaps, OldSpace};
use super::page::{flags, Page, PagePool, SpaceId};
use super::read_only::{ReadOnlyRoots, ReadOnlySpace};
use super::stats::{ObjectCounts, SpaceObjects, SpaceStats};
use super::{CLEANUP_RESERVE, MAX_REGULAR_OBJECT_SIZE, PAGE_SIZE};
use crate::config::HeapConfig;
use crate::object::HeapObject;
use crate::platform::Platform;
use crate::roots::Roots;
use crate::tracer::SpanRecorder;
use crate::value::Tagged;
use std::time::Instant;

#[cfg(test)]
thread_local! {
    /// Heap walks by [`Heap::object_counts`] on this thread (tests check
    /// that the statistics take none).
    pub(crate) static WALKS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Handle-stack slots reserved for the oddballs (never popped).
pub(crate) const RESERVED_HANDLES: usize = 5;

/// Byte size above which an allocation request is rejected as an invalid
/// length rather than attempted (no heap holds a terabyte object).
pub(crate) const MAX_OBJECT_BYTES: usize = 1 << 40;

/// Where an allocation goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Space {
    Young,
    Old,
    Map,
}

/// One isolate's heap.
pub(crate) struct Heap {
    pub(crate) id: u32,
    pub(crate) config: HeapConfig,
    pub(crate) platform: Platform,
    pub(crate) pool: PagePool,
    pub(crate) new_space: NewSpace,
    pub(crate) new_lo_space: LargeObjectSpace,
    pub(crate) old_space: OldSpace,
    pub(crate) map_space: OldSpace,
    pub(crate) lo_space: LargeObjectSpace,
    pub(crate) read_only: ReadOnlySpace,
    /// The built-in maps and oddballs.
    pub(crate) ro_roots: ReadOnlyRoots,
    /// Handles and the string table: what the collector starts from.
    pub(crate) roots: Roots,
    /// Spans of the GC in progress, from every thread working on it.
    pub(crate) spans: SpanRecorder,
    /// Hard limit of the old generation's committed bytes
    /// (`max_old_space_size`, raised only by the near-heap-limit callback).
    pub(crate) hard_limit: usize,
    /// Allocation sites and their pretenuring feedback.
    pub(crate) sites: super::allocation_site::AllocationSites,
    /// Is the clean-up reserve ([`CLEANUP_RESERVE`]) held back from
    /// allocation? Released when an allocation fails with `OutOfMemory`,
    /// held again once the old generation is back below it.
    pub(crate) cleanup_reserve_held: bool,
}

impl Heap {
    /// A heap whose GC spans are timed from `origin`; `None` if the system
    /// is out of memory for its first pages.
    pub(crate) fn new(id: u32, config: HeapConfig, platform: Platform, origin: Instant) -> Option<Heap> {
        let mut pool = PagePool::new(id, (config.max_semi_space_size / PAGE_SIZE).max(16));
        let (read_only, ro_roots) = ReadOnlySpace::create(&mut pool)?;
        let fillers = FillerMaps { free_space: ro_roots.free_space_map, filler: ro_roots.filler_map };
        let Some(new_space) = NewSpace::new(config.min_semi_space_size, &mut pool) else {
            // Everything taken goes back (the pool frees its chunks when
            // dropped), so a retry starts as this attempt did.
            pool.release(read_only.page);
            return None;
        };
        Some(Heap {
            cleanup_reserve_held: true,
            id,
            hard_limit: config.max_old_space_size,
            sites: Default::default(),
            platform,
            pool,
            new_space,
            new_lo_space: LargeObjectSpace::new(
                SpaceId::NewLarge,
                flags::NEW_LARGE | flags::LARGE | flags::TO_HERE_INTERESTING,
            ),
            old_space: OldSpace::new(SpaceId::Old, fillers),
            map_space: OldSpace::new(SpaceId::Map, fillers),
            lo_space: LargeObjectSpace::new(SpaceId::Large, flags::OLD | flags::LARGE | flags::FROM_HERE_INTERESTING),
            read_only,
            roots: Roots::new(id, ro_roots.oddballs.map(Tagged::from_address)),
            ro_roots,
            spans: SpanRecorder::new(origin),
            config,
        })
    }

    /// Workers (besides the main thread) one GC job of this heap may use.
    pub(crate) fn gc_worker_cap(&self) -> usize {
        let pool = self.platform.workers();
        self.config.gc_workers.map_or(pool, |w| w.min(pool))
    }

    /// Bytes of objects in the old generation (old, map, large): what the
    /// major-GC trigger and the next limit are measured in, as V8's
    /// `OldGenerationSizeOfObjects` (committed pages may be mostly free).
    pub(crate) fn old_gen_size(&self) -> usize {
        self.old_space.used() + self.map_space.used() + self.lo_space.object_bytes
    }

    /// Committed bytes of the old generation (old, map, large): what the hard
    /// limit `max_old_space_size` bounds.
    pub(crate) fn old_gen_committed(&self) -> usize {
        self.old_space.committed() + self.map_space.committed() + self.lo_space.committed()
    }

    /// Committed bytes the hard limit bounds: the old generation's, and
    /// young large objects' (which a scavenge makes old by a page flip,
    /// taking no page).
    pub(crate) fn limit_committed(&self) -> usize {
        self.old_gen_committed() + self.new_lo_space.committed()
    }

    /// The limit allocations and the collector's promotions grow the old
    /// generation within: the hard limit, less the clean-up reserve while it
    /// is held.
    pub(crate) fn allocation_limit(&self) -> usize {
        let reserve = if self.cleanup_reserve_held { CLEANUP_RESERVE } else { 0 };
        self.hard_limit.saturating_sub(reserve)
    }

    /// The limit the collector's own growth of the old generation
    /// (promotion, page promotion, compaction's targets) stays within: the
    /// hard limit less the clean-up reserve, always (the reserve is for the
    /// runtime's allocations after `OutOfMemory`, not for survivors).
    pub(crate) fn collector_limit(&self) -> usize {
        self.hard_limit.saturating_sub(CLEANUP_RESERVE)
    }

    /// An allocation is failing with `OutOfMemory`: the clean-up reserve
    /// becomes usable for what the runtime allocates next.
    pub(crate) fn release_cleanup_reserve(&mut self) {
        self.cleanup_reserve_held = false;
    }

    /// Holds the clean-up reserve back again once the old generation is
    /// below it with room to spare (a GC freed pages, or the limit was
    /// raised): at the failure it sits exactly at the reserve's start.
    pub(crate) fn rearm_cleanup_reserve(&mut self) {
        if !self.cleanup_reserve_held && self.limit_committed() + CLEANUP_RESERVE < self.hard_limit {
            self.cleanup_reserve_held = true;
        }
    }

    /// Bytes of objects in all spaces but read-only.
    pub(crate) fn size_of_objects(&self) -> usize {
        self.new_space.used()
            + self.new_lo_space.object_bytes
            + self.old_space.used()
            + self.map_space.used()
            + self.lo_space.object_bytes
    }

    pub(crate) fn committed(&self) -> usize {
        self.pool.committed()
    }

    #[inline(always)]
    pub(crate) fn object_at(addr: usize) -> HeapObject {
        // SAFETY: callers pass addresses the allocator just returned, which
        // they initialise before anything else reads them.
        unsafe { HeapObject::from_address(addr) }
    }

    /// The allocation fast path: a bump in new space's linear allocation
    /// area, or in old space's (a tenured site's objects, interned strings;
    /// born black while marking runs). `None` sends the caller to the GC
    /// driver's slow path, which also runs the safepoint's GC work.
    #[inline(always)]
    pub(crate) fn allocate_fast(&mut self, size: usize, space: Space) -> Option<HeapObject> {
        if size > MAX_REGULAR_OBJECT_SIZE {
            return None;
        }
        match space {
            Space::Young => self.new_space.lab.allocate(size).map(Self::object_at),
            Space::Old => {
                let a = self.old_space.lab.allocate(size)?;
                if self.old_space.black_allocation {
                    // SAFETY: `a` was just bumped from the area of a live
                    // page of old space.
                    unsafe { Page::of(a) }.allocate_black(a, size);
                }
                Some(Self::object_at(a))
            }
            Space::Map => None,
        }
    }

    /// Is an allocation of `size` bytes in `space` served by a paged space
    /// (old or map space, with free lists and sweeping)?
    pub(crate) fn is_paged(size: usize, space: Space) -> bool {
        space != Space::Young && size <= MAX_REGULAR_OBJECT_SIZE
    }

    /// One allocation attempt without GC. Paged spaces take a new page only
    /// if `grow` (and the hard limit allows it); the other spaces always may
    /// grow within the limit. The memory is uninitialised: the caller writes
    /// the map and every field before the next allocation.
    pub(crate) fn try_allocate(&mut self, size: usize, space: Space, grow: bool) -> Option<usize> {
        let old_gen = self.limit_committed();
        let limit = self.allocation_limit();
        if old_gen > limit {
            return None;
        }
        let large = size > MAX_REGULAR_OBJECT_SIZE;
        match space {
            Space::Young if !large => {
                self.new_space.allocate(size).or_else(|| self.new_space.allocate_on_fresh_page(size, &mut self.pool))
            }
            Space::Young => {
                let young_large = self.new_lo_space.object_bytes;
                if young_large > 0 && young_large + size > self.new_space.capacity() {
                    return None;
                }
                let chunk = LargeObjectSpace::chunk_size(size)?;
                if old_gen + chunk > limit {
                    return None;
                }
                self.new_lo_space.allocate(size, &mut self.pool)
            }
            Space::Old | Space::Map if large => {
                let chunk = LargeObjectSpace::chunk_size(size)?;
                if old_gen + chunk > limit {
                    return None;
                }
                self.lo_space.allocate(size, &mut self.pool)
            }
            Space::Old | Space::Map => {
                let can_grow = grow && old_gen + PAGE_SIZE <= limit;
                let (target, pool) = self.paged_space(space);
                target.allocate(size, pool, can_grow)
            }
        }
    }

    /// A paged space and the page pool.
    pub(crate) fn paged_space(&mut self, space: Space) -> (&mut OldSpace, &mut PagePool) {
        let target = if space == Space::Map { &mut self.map_space } else { &mut self.old_space };
        (target, &mut self.pool)
    }

    /// Retires every allocation area, so every page is iterable while a
    /// collector runs.
    pub(crate) fn make_iterable(&mut self) {
        self.old_space.retire_mutator_lab();
        self.map_space.retire_mutator_lab();
        self.new_space.sync_top();
    }

    /// Hands the chunks a GC freed past the pool's bound to a background
    /// thread that returns them to the OS.
    pub(crate) fn unmap_released_pages(&mut self) {
        let unmap = self.pool.take_unmap();
        if !unmap.is_empty() {
            self.platform.spawn(move || unmap.run());
        }
    }

    /// Every page the barrier and marking flags apply to (all but
    /// read-only).
    pub(crate) fn all_pages(&self) -> Vec<Page> {
        let mut pages: Vec<Page> = self.old_gen_pages().collect();
        pages.extend(&self.new_space.to_pages);
        pages.extend(&self.new_space.from_pages);
        pages.extend(&self.new_lo_space.pages);
        pages
    }

    /// Every page of the old generation.
    pub(crate) fn old_gen_pages(&self) -> impl Iterator<Item = Page> + '_ {
        self.old_space.pages.iter().chain(&self.map_space.pages).chain(&self.lo_space.pages).copied()
    }

    /// Calls `f` on every object (fillers included) of every space, with the
    /// space it lives in. Skips the unused part of the mutator's allocation
    /// areas; of a page pending sweep, visits only the live objects (the
    /// rest is garbage). Background sweepers must be paused.
    pub(crate) fn for_each_object(&self, mut f: impl FnMut(HeapObject, SpaceId)) {
        let walk =
            |start: usize, end: usize, skip: (usize, usize), space: SpaceId, f: &mut dyn FnMut(HeapObject, SpaceId)| {
                let mut a = start;
                while a < end {
                    if a == skip.0 && skip.1 > skip.0 {
                        a = skip.1;
                        continue;
                    }
                    // SAFETY: pages are iterable: every address reached by
                    // stepping object sizes from the area start is an object or
                    // filler start (allocation areas are skipped).
                    let o = unsafe { HeapObject::from_address(a) };
                    let size = o.size();
                    f(o, space);
                    a += size;
                }
            };
        walk(self.read_only.page.area_start(), self.read_only.top, (0, 0), SpaceId::ReadOnly, &mut f);
        for (_, start, end) in self.new_space.allocated_ranges() {
            walk(start, end, (0, 0), SpaceId::New, &mut f);
        }
        for space in [&self.old_space, &self.map_space] {
            let lab = (space.lab.top, space.lab.limit);
            for &p in &space.pages {
                if p.is_pending_sweep() {
                    LiveObjects::of(p).for_each(|o| f(o, space.id));
                } else {
                    walk(p.area_start(), p.area_end(), lab, space.id, &mut f);
                }
            }
        }
        for space in [&self.new_lo_space, &self.lo_space] {
            for p in &space.pages {
                // SAFETY: a large page holds exactly one object at its start.
                f(unsafe { HeapObject::from_address(p.area_start()) }, space.id);
            }
        }
    }

    /// Statistics per space, each space reporting what it keeps count of
    /// (no walk over objects: time in pages).
    pub(crate) fn space_stats(&self) -> Vec<SpaceStats> {
        vec![
            self.new_space.stats(),
            self.new_lo_space.stats(),
            self.old_space.stats(),
            self.map_space.stats(),
            self.lo_space.stats(),
            self.read_only.stats(),
        ]
    }

    /// Objects and their bytes per space, fillers not counted, from a walk
    /// over every object (background sweepers must be paused). In the order
    /// of [`Self::space_stats`].
    pub(crate) fn object_counts(&self) -> ObjectCounts {
        #[cfg(test)]
        WALKS.with(|w| w.set(w.get() + 1));
        let mut counts = [(0usize, 0usize); 6];
        self.for_each_object(|o, space| {
            if !o.instance_type().is_filler() {
                let c = &mut counts[space as usize];
                c.0 += 1;
                c.1 += o.size();
            }
        });
        let order = [SpaceId::New, SpaceId::NewLarge, SpaceId::Old, SpaceId::Map, SpaceId::Large, SpaceId::ReadOnly];
        ObjectCounts {
            spaces: order
                .iter()
                .map(|&id| SpaceObjects {
                    name: id.name(),
                    objects: counts[id as usize].0,
                    bytes: counts[id as usize].1,
                })
                .collect(),
        }
    }
}

impl Drop for Heap {
    fn drop(&mut self) {
        // The isolate drops its collector first, so no background marker or
        // sweeper is left to touch a page that goes here.
        let mut pages: Vec<Page> = Vec::new();
        pages.extend(&self.new_space.to_pages);
        pages.extend(&self.new_space.from_pages);
        pages.extend(&self.new_lo_space.pages);
        pages.extend(&self.old_space.pages);
        pages.extend(&self.map_space.pages);
        pages.extend(&self.lo_space.pages);
        pages.push(self.read_only.page);
        for p in pages {
            self.pool.release(p);
        }
    }
}

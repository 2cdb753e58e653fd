//! Old space (and map space): pages with free lists and linear allocation
//! areas.
//!
//! Allocation bumps a pointer through a [`Lab`] (linear allocation area)
//! carved from a free-list block; when the area is used up, the rest goes
//! back to the free list (with a filler) and a new block is taken. When the
//! free list has nothing that fits, the space grows by a page if the heap's
//! limit allows (the heap first asks the sweeper for swept memory, see
//! [`crate::sweeper`]). Collector threads (the scavenger promoting objects)
//! use their own `Lab`s, so the mutator's area is never shared.
//!
//! Accounting follows V8's allocation stats: `allocated` counts the bytes
//! handed to allocation areas and not given back. A major GC resets it to the
//! live bytes marking measured, so garbage on pages that still wait for the
//! sweeper is not counted as used.
use super::free_list::{FreeList, SortedBlocks};
use super::page::{flags, Page, PagePool, SpaceId, AREA_SIZE};
use super::stats::SpaceStats;
use super::PAGE_SIZE;
use crate::object::write_filler;

/// Addresses of the filler maps, needed whenever free space is written.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct FillerMaps {
    pub(crate) free_space: usize,
    pub(crate) filler: usize,
}

impl FillerMaps {
    pub(crate) fn fill(self, start: usize, size: usize) {
        write_filler(start, size, self.free_space, self.filler);
    }
}

/// A linear allocation area: bump `top` up to `limit`.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Lab {
    pub(crate) top: usize,
    pub(crate) limit: usize,
}

impl Lab {
    /// Bump-allocates `size` bytes, if they fit.
    #[inline(always)]
    pub(crate) fn allocate(&mut self, size: usize) -> Option<usize> {
        let top = self.top;
        if self.limit - top >= size {
            self.top = top + size;
            Some(top)
        } else {
            None
        }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.limit - self.top
    }
}

/// A paged space with free lists.
pub(crate) struct OldSpace {
    pub(crate) id: SpaceId,
    page_flags: usize,
    pub(crate) pages: Vec<Page>,
    pub(crate) free_list: FreeList,
    /// The mutator's allocation area.
    pub(crate) lab: Lab,
    /// Bytes handed to allocation areas (the mutator's and the collector's)
    /// and not given back: objects, plus the unused rest of open areas.
    pub(crate) allocated: usize,
    /// Set while a marking cycle runs: pages added now are allocated black
    /// (everything on them counts as marked; they need no sweep).
    pub(crate) black_allocation: bool,
    pub(crate) fillers: FillerMaps,
}

impl OldSpace {
    pub(crate) fn new(id: SpaceId, fillers: FillerMaps) -> OldSpace {
        let page_flags = match id {
            SpaceId::Map => flags::OLD | flags::FROM_HERE_INTERESTING | flags::NEVER_EVACUATE,
            _ => flags::OLD | flags::FROM_HERE_INTERESTING,
        };
        OldSpace {
            id,
            page_flags,
            pages: Vec::new(),
            free_list: FreeList::new(),
            lab: Lab::default(),
            allocated: 0,
            black_allocation: false,
            fillers,
        }
    }

    pub(crate) fn committed(&self) -> usize {
        self.pages.len() * PAGE_SIZE
    }

    /// The space's statistics.
    pub(crate) fn stats(&self) -> SpaceStats {
        SpaceStats { name: self.id.name(), used: self.used(), committed: self.committed(), available: self.available() }
    }

    /// Bytes of objects (for pages still waiting for the sweeper: of the
    /// objects marking found live).
    pub(crate) fn used(&self) -> usize {
        self.allocated - self.lab.remaining()
    }

    /// Bytes allocatable without growing.
    pub(crate) fn available(&self) -> usize {
        self.free_list.available() + self.lab.remaining()
    }

    /// Mutator allocation: bump, else refill from the free list or a new page
    /// (if `can_grow`).
    #[inline]
    pub(crate) fn allocate(&mut self, size: usize, pool: &mut PagePool, can_grow: bool) -> Option<usize> {
        if let Some(a) = self.lab.allocate(size) {
            return Some(a);
        }
        let mut lab = self.lab;
        let r = self.allocate_in(&mut lab, size, pool, can_grow);
        self.lab = lab;
        r
    }

    /// Allocation through a caller-owned area (the collector's).
    pub(crate) fn allocate_in(
        &mut self,
        lab: &mut Lab,
        size: usize,
        pool: &mut PagePool,
        can_grow: bool,
    ) -> Option<usize> {
        if let Some(a) = lab.allocate(size) {
            return Some(a);
        }
        self.refill(lab, size, pool, can_grow)?;
        lab.allocate(size)
    }

    #[cold]
    fn refill(&mut self, lab: &mut Lab, size: usize, pool: &mut PagePool, can_grow: bool) -> Option<()> {
        self.retire(lab);
        if let Some((start, block)) = self.free_list.allocate(size) {
            // SAFETY: listed blocks lie in pages of this space.
            unsafe { Page::of(start) }.add_free_listed(block.wrapping_neg());
            self.allocated += block;
            *lab = Lab { top: start, limit: start + block };
            return Some(());
        }
        if !can_grow {
            return None;
        }
        let black = if self.black_allocation { flags::BLACK_ALLOCATED } else { 0 };
        let page = pool.allocate(PAGE_SIZE, self.id, self.page_flags | black)?;
        self.pages.push(page);
        self.allocated += AREA_SIZE;
        *lab = Lab { top: page.area_start(), limit: page.area_end() };
        Some(())
    }

    /// Adopts a young page promoted whole (its flags already old): its
    /// objects up to the page's top stay where they are and count as
    /// allocated (the garbage among them until the next major GC sweeps the
    /// page, as for any old page); the rest of its area becomes a free
    /// block. Returns the bytes of objects it brought.
    pub(crate) fn adopt_promoted_page(&mut self, page: Page) -> usize {
        debug_assert_eq!(page.header().size, PAGE_SIZE);
        self.pages.push(page);
        self.allocated += AREA_SIZE;
        let mut tail = Lab { top: page.top(), limit: page.area_end() };
        self.retire(&mut tail);
        page.top() - page.area_start()
    }

    /// Links in the free blocks a sweeper found on `page` (each already a
    /// filler), in O(size classes).
    pub(crate) fn link_free_blocks(&mut self, page: Page, blocks: SortedBlocks) {
        page.add_free_listed(blocks.bytes());
        self.free_list.link(blocks);
    }

    /// Lists a free block (a filler already); `false` if too small to list.
    fn list(&mut self, start: usize, size: usize) -> bool {
        let listed = self.free_list.add(start, size);
        if listed {
            // SAFETY: the block lies in a page of this space.
            unsafe { Page::of(start) }.add_free_listed(size);
        }
        listed
    }

    /// Drops the free-list blocks of every page `drop` selects (their pages
    /// are swept, evacuated or released), keeping each page's count right.
    pub(crate) fn unlist_pages(&mut self, drop: impl Fn(Page) -> bool) {
        self.free_list.retain(|start| {
            // SAFETY: listed blocks lie in pages of this space.
            !drop(unsafe { Page::of(start) })
        });
        for &page in &self.pages {
            if drop(page) {
                page.set_free_listed(0);
            }
        }
    }

    /// Returns the unused rest of `lab` to the free list, leaving a filler.
    pub(crate) fn retire(&mut self, lab: &mut Lab) {
        let rest = lab.remaining();
        if rest > 0 {
            self.fillers.fill(lab.top, rest);
            // A rest too small to list stays a filler: wasted until the
            // page is next swept.
            self.list(lab.top, rest);
            self.allocated -= rest;
        }
        *lab = Lab::default();
    }

    /// Makes every page iterable (fills the mutator's area).
    pub(crate) fn retire_mutator_lab(&mut self) {
        let mut lab = self.lab;
        self.retire(&mut lab);
        self.lab = lab;
    }
}

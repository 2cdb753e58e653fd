//! Large-object spaces: one object per chunk, never moved.
//!
//! Objects over half a page ([`super::MAX_REGULAR_OBJECT_SIZE`]) get a chunk
//! of their own (a multiple of the page size, aligned like any page, header
//! first). Young large objects live in the *new* large-object space and are
//! promoted by flipping their page's flags, never by copying.

use super::page::{Page, PagePool, SpaceId, AREA_OFFSET};
use super::stats::SpaceStats;
use super::PAGE_SIZE;

/// A list of large-object pages.
pub(crate) struct LargeObjectSpace {
    pub(crate) id: SpaceId,
    page_flags: usize,
    pub(crate) pages: Vec<Page>,
    /// Sum of the objects' sizes.
    pub(crate) object_bytes: usize,
    /// Sum of the chunks' sizes (kept, not summed: the allocation path asks
    /// for it on every old-generation allocation).
    committed: usize,
}

impl LargeObjectSpace {
    pub(crate) fn new(id: SpaceId, page_flags: usize) -> LargeObjectSpace {
        LargeObjectSpace { id, page_flags, pages: Vec::new(), object_bytes: 0, committed: 0 }
    }

    /// Chunk size for an object of `size` bytes (`None` on overflow).
    pub(crate) fn chunk_size(size: usize) -> Option<usize> {
        let raw = size.checked_add(AREA_OFFSET)?.checked_add(PAGE_SIZE - 1)?;
        Some(raw & !(PAGE_SIZE - 1))
    }

    /// Allocates a chunk for one object; returns the object's address.
    pub(crate) fn allocate(&mut self, size: usize, pool: &mut PagePool) -> Option<usize> {
        let chunk = Self::chunk_size(size)?;
        let page = pool.allocate(chunk, self.id, self.page_flags)?;
        page.set_top(page.area_start() + size);
        self.pages.push(page);
        self.object_bytes += size;
        self.committed += chunk;
        Some(page.area_start())
    }

    pub(crate) fn committed(&self) -> usize {
        debug_assert_eq!(self.committed, self.pages.iter().map(|p| p.header().size).sum::<usize>());
        self.committed
    }

    /// The space's statistics, given its object count (nothing is
    /// allocatable without a new chunk).
    pub(crate) fn stats(&self) -> SpaceStats {
        SpaceStats { name: self.id.name(), used: self.object_bytes, committed: self.committed(), available: 0 }
    }

    /// Takes `page` out of this space (for a flip to another space).
    pub(crate) fn take(&mut self, page: Page) -> usize {
        self.pages.retain(|p| *p != page);
        let size = page.top() - page.area_start();
        self.object_bytes -= size;
        self.committed -= page.header().size;
        size
    }

    /// Adopts `page` (flags already set by the caller).
    pub(crate) fn adopt(&mut self, page: Page, size: usize) {
        self.pages.push(page);
        self.object_bytes += size;
        self.committed += page.header().size;
    }
}

//! The heap: pages and spaces, allocation without GC, and the page-level
//! facts the collector phases share. It imports no phase: the GC driver
//! ([`crate::collector`]) sits above it and the phases.
//!
//! ```text
//! new space         two semi-spaces of pages, bump allocation, age mark
//! new large space   young objects over half a page; promoted by page flip
//! old space         pages, size-class free lists, linear allocation areas
//! map space         like old space, for runtime-created maps; never moved
//! large space       old objects over half a page; never moved
//! read-only space   built-in maps and oddballs; never marked, swept, moved
//! allocation sites  per-site memento counts and pretenuring decisions
//! ```

#[cfg(not(loom))]
pub(crate) mod allocation_site;
pub(crate) mod mark_bitmap;
pub mod page_flags;
pub(crate) mod remembered_set;
pub(crate) mod sweep_state;

#[cfg(not(loom))]
pub(crate) mod free_list;
#[cfg(not(loom))]
mod heap_impl;
#[cfg(not(loom))]
pub(crate) mod large_object_space;
#[cfg(not(loom))]
pub(crate) mod live_objects;
#[cfg(not(loom))]
pub(crate) mod new_space;
#[cfg(not(loom))]
pub(crate) mod old_space;
#[cfg(not(loom))]
pub(crate) mod page;
#[cfg(not(loom))]
pub(crate) mod read_only;
#[cfg(not(loom))]
mod stats;
#[cfg(not(loom))]
pub(crate) use heap_impl::*;
#[cfg(not(loom))]
pub use stats::{HeapStats, MemoryUsage, ObjectCounts, SpaceObjects, SpaceStats};

/// Bytes in a machine word; objects are word aligned.
pub const WORD: usize = std::mem::size_of::<usize>();

/// log2 of the page size. Pages are tiny under loom (models touch a few words).
#[cfg(not(loom))]
pub const PAGE_SIZE_LOG2: u32 = 18;
/// log2 of the page size. Pages are tiny under loom (models touch a few words).
#[cfg(loom)]
pub const PAGE_SIZE_LOG2: u32 = 10;

/// Bytes in a page: 256 KiB, as in V8.
pub const PAGE_SIZE: usize = 1 << PAGE_SIZE_LOG2;

/// Cells of the mark bitmap: one bit per word of a page.
pub(crate) const BITMAP_CELLS: usize = PAGE_SIZE / WORD / usize::BITS as usize;

/// Objects larger than this live in large-object space (half a page).
pub const MAX_REGULAR_OBJECT_SIZE: usize = PAGE_SIZE / 2;

/// Bytes of `max_old_space_size` held back from ordinary allocation and
/// from the collector's promotions, for a runtime's clean-up after
/// `Err(OutOfMemory)` (V8 keeps such a margin for its own error path): one
/// page. Once an allocation fails with `OutOfMemory`, allocations may use
/// it; it is held back again once a GC has brought the old generation below
/// it.
pub const CLEANUP_RESERVE: usize = PAGE_SIZE;

//! Pages: 256 KiB aligned chunks with a header at the start.
//!
//! Because pages are aligned to their size, `address & !(PAGE_SIZE - 1)`
//! finds the header of the page any object lives on ([`Page::of`]). The
//! header holds the owning space and heap, flags the write barrier and the
//! collectors test, the mark bitmap, the live-byte counter and the page's
//! OLD_TO_NEW slot set. Large-object pages are bigger chunks with the same
//! header; their one object starts in the first 256 KiB.
//!
//! Pages come from and go back to a per-heap [`PagePool`]: fresh memory costs a
//! page fault per 4 KiB on first touch, which must not land in GC pauses.

use super::free_list::SortedBlocks;
use super::mark_bitmap::MarkBitmap;
use super::remembered_set::{SlotCallbackResult, SlotSet};
use super::sweep_state::{SweepSlot, SweepState};
use super::{PAGE_SIZE, WORD};
use crate::sync::{AtomicUsize, Ordering};
use std::alloc::Layout;
use std::ptr::NonNull;

/// Page flag bits (their own module, `page_flags`, so the loom models see
/// the barrier's flags too).
pub(crate) use super::page_flags as flags;

/// Which space owns a page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum SpaceId {
    New,
    NewLarge,
    Old,
    Map,
    Large,
    ReadOnly,
}

impl SpaceId {
    /// The space's name, as V8's `getHeapSpaceStatistics()` names it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            SpaceId::New => "new_space",
            SpaceId::NewLarge => "new_large_object_space",
            SpaceId::Old => "old_space",
            SpaceId::Map => "map_space",
            SpaceId::Large => "large_object_space",
            SpaceId::ReadOnly => "read_only_space",
        }
    }
}

/// What sweeping one page found: its free blocks (each already a filler;
/// runs too small to list are left as fillers), sorted into the free list's
/// size classes by the sweeper, and its live bytes. The sweeper hands it to
/// the owner thread through the page's [`SweepSlot`].
#[derive(Debug, Default)]
pub(crate) struct SweptFree {
    pub(crate) blocks: SortedBlocks,
    pub(crate) live: usize,
}

/// The header at the start of every page.
#[repr(C)]
pub(crate) struct PageHeader {
    flags: AtomicUsize,
    /// Total bytes of the chunk (PAGE_SIZE, or more for a large page).
    pub(crate) size: usize,
    pub(crate) space: SpaceId,
    /// Id of the isolate whose heap owns the page.
    pub(crate) heap_id: u32,
    /// New-space pages: objects below this address survived one scavenge.
    age_mark: AtomicUsize,
    /// New-space pages: end of the allocated part (objects are iterable up to
    /// here). Old pages are iterable to `area_end` (free space is filled).
    top: AtomicUsize,
    /// Bytes of marked objects, recomputed by the sweeper.
    live_bytes: AtomicUsize,
    /// Slots of this page that may point into new space.
    pub(crate) old_to_new: SlotSet,
    /// Slots of this page that point into evacuation candidates (recorded
    /// while marking, used and cleared by the compaction that follows).
    pub(crate) old_to_old: SlotSet,
    /// Bytes of this page listed in its space's free list.
    free_listed: AtomicUsize,
    /// Large-object pages: how many of the object's tagged fields markers
    /// have claimed to scan this cycle (V8's progress bar).
    scan_progress: AtomicUsize,
    /// One bit per word of the page.
    pub(crate) marks: MarkBitmap,
    /// Where the page is in the sweeping protocol, and the free blocks its
    /// sweeper found.
    pub(crate) sweep: SweepSlot<SweptFree>,
}

/// First object offset in a page: the header, rounded up to 64 bytes.
pub(crate) const AREA_OFFSET: usize = (std::mem::size_of::<PageHeader>() + 63) & !63;

/// The object area of a regular page, in bytes.
pub(crate) const AREA_SIZE: usize = PAGE_SIZE - AREA_OFFSET;

/// A handle to a page (the address of its header).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub(crate) struct Page(NonNull<PageHeader>);

// SAFETY: a `Page` is an address; what may be done through it across threads
// is governed by the header's atomics and by the GC's phase discipline.
unsafe impl Send for Page {}
// SAFETY: as above.
unsafe impl Sync for Page {}

impl Page {
    /// The page holding `addr`.
    ///
    /// # Safety
    /// `addr` must lie in the first `PAGE_SIZE` bytes of a live page (any
    /// object start qualifies, large objects included).
    #[inline(always)]
    pub(crate) unsafe fn of(addr: usize) -> Page {
        // SAFETY: pages are PAGE_SIZE aligned, so the masked address is the
        // (non-null) start of the page holding `addr`.
        Page(unsafe { NonNull::new_unchecked((addr & !(PAGE_SIZE - 1)) as *mut PageHeader) })
    }

    #[inline(always)]
    pub(crate) fn header(&self) -> &PageHeader {
        // SAFETY: a `Page` is created only for live pages (`Page::of`'s
        // contract, or by the pool that initialised the header) and is not
        // used after `PagePool::release`.
        unsafe { self.0.as_ref() }
    }

    #[inline(always)]
    pub(crate) fn address(&self) -> usize {
        self.0.as_ptr() as usize
    }

    #[inline(always)]
    pub(crate) fn area_start(&self) -> usize {
        self.address() + AREA_OFFSET
    }

    #[inline(always)]
    pub(crate) fn area_end(&self) -> usize {
        self.address() + self.header().size
    }

    #[inline(always)]
    pub(crate) fn flags(&self) -> usize {
        // Relaxed: flags change only inside pauses (space flips, promotion of
        // large pages); the pause's join orders those changes for workers.
        self.header().flags.load(Ordering::Relaxed)
    }

    #[inline(always)]
    pub(crate) fn has(&self, f: usize) -> bool {
        self.flags() & f != 0
    }

    /// Marking start: turns the barrier's marking flags on for this page
    /// (`mark_bitmap::activate_marking_barrier`, the step the loom model
    /// drives).
    pub(crate) fn activate_marking_barrier(&self) {
        super::mark_bitmap::activate_marking_barrier(&self.header().flags);
    }

    pub(crate) fn set_flags(&self, f: usize) {
        // Relaxed: see `flags`.
        self.header().flags.fetch_or(f, Ordering::Relaxed);
    }

    pub(crate) fn clear_flags(&self, f: usize) {
        // Relaxed: see `flags`.
        self.header().flags.fetch_and(!f, Ordering::Relaxed);
    }

    /// Atomically sets `f`; `true` if this call set it (it was clear).
    pub(crate) fn try_set_flag(&self, f: usize) -> bool {
        // Relaxed: only who wins matters (one atomic RMW decides it). The
        // winner (the scavenger task that promotes a large page) reads the
        // object, which the scavenge's start (the job's spawn) published;
        // losers do nothing with it; the flag is read again after the join.
        self.header().flags.fetch_or(f, Ordering::Relaxed) & f == 0
    }

    pub(crate) fn age_mark(&self) -> usize {
        // Relaxed: written only inside a scavenge pause, read by the next.
        self.header().age_mark.load(Ordering::Relaxed)
    }

    pub(crate) fn set_age_mark(&self, a: usize) {
        // Relaxed: see `age_mark`.
        self.header().age_mark.store(a, Ordering::Relaxed)
    }

    pub(crate) fn top(&self) -> usize {
        // Relaxed: owner-thread bookkeeping, read in pauses.
        self.header().top.load(Ordering::Relaxed)
    }

    pub(crate) fn set_top(&self, t: usize) {
        // Relaxed: see `top`.
        self.header().top.store(t, Ordering::Relaxed)
    }

    pub(crate) fn live_bytes(&self) -> usize {
        // Relaxed: accounting read after the markers/sweepers joined.
        self.header().live_bytes.load(Ordering::Relaxed)
    }

    /// Black allocation of the object of `size` bytes just allocated at
    /// `addr` on this page while marking runs: born marked (the marker never
    /// visits it; what is later stored into it goes through the barrier) and
    /// counted live. Objects on a page allocated black need no mark bit.
    #[inline]
    pub(crate) fn allocate_black(&self, addr: usize, size: usize) {
        if !self.has(flags::BLACK_ALLOCATED) {
            // The shipped black allocation the loom model drives
            // (`loom-tests/tests/black_allocation.rs`).
            super::mark_bitmap::mark_black_allocated(&self.header().marks, self.mark_index(addr));
        }
        self.add_live_bytes(size);
    }

    /// Adds marked bytes (from several marking tasks at once).
    pub(crate) fn add_live_bytes(&self, n: usize) {
        // Relaxed: a counter read after the markers joined.
        self.header().live_bytes.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn set_live_bytes(&self, n: usize) {
        // Relaxed: see `live_bytes`.
        self.header().live_bytes.store(n, Ordering::Relaxed)
    }

    /// Bytes of this page listed in its space's free list.
    pub(crate) fn free_listed(&self) -> usize {
        // Relaxed: touched by the owner thread, or by collector tasks under
        // the space's lock; read in pauses.
        self.header().free_listed.load(Ordering::Relaxed)
    }

    /// Adds `delta` (wrapping: a negative step is a wrapped subtraction) to
    /// the bytes listed in the free list.
    pub(crate) fn add_free_listed(&self, delta: usize) {
        // Relaxed: see `free_listed`.
        self.header().free_listed.fetch_add(delta, Ordering::Relaxed);
    }

    pub(crate) fn set_free_listed(&self, n: usize) {
        // Relaxed: see `free_listed`.
        self.header().free_listed.store(n, Ordering::Relaxed)
    }

    /// Claims the next `n` tagged fields of this large page's object for
    /// scanning; returns the index of the first (past the end once every
    /// field was claimed).
    pub(crate) fn claim_scan(&self, n: usize) -> usize {
        // Relaxed: hands out field ranges only (each range to one marker);
        // the object was published to the markers by the worklist.
        self.header().scan_progress.fetch_add(n, Ordering::Relaxed)
    }

    /// Forgets the scan progress (a marking cycle starts).
    pub(crate) fn reset_scan(&self) {
        // Relaxed: set while no marker runs (the start pause).
        self.header().scan_progress.store(0, Ordering::Relaxed)
    }

    /// Bit index of `addr` in this page's bitmap.
    #[inline(always)]
    pub(crate) fn mark_index(&self, addr: usize) -> usize {
        (addr - self.address()) / WORD
    }

    /// Slot index of `slot` in this page's slot sets.
    #[inline(always)]
    pub(crate) fn slot_index(&self, slot: usize) -> usize {
        (slot - self.address()) / WORD
    }

    /// Address of slot index `i`.
    #[inline(always)]
    pub(crate) fn slot_address(&self, i: usize) -> usize {
        self.address() + i * WORD
    }

    pub(crate) fn is_young(&self) -> bool {
        self.has(flags::YOUNG)
    }

    /// Is this page waiting for its sweep? Then its mark bits tell its live
    /// objects, and everything else on it is garbage whose maps may be gone
    /// (see [`super::live_objects`]).
    #[inline]
    pub(crate) fn is_pending_sweep(&self) -> bool {
        self.header().sweep.state() == SweepState::Pending
    }

    /// Makes a new-space page an empty to-space page: no objects, no
    /// survivors, no marks or live bytes, no recorded OLD_TO_OLD slots of
    /// the objects it held before.
    pub(crate) fn reset_for_to_space(&self) {
        self.clear_flags(flags::FROM_SPACE);
        self.set_flags(flags::TO_SPACE);
        self.set_top(self.area_start());
        self.set_age_mark(self.area_start());
        self.header().marks.clear_all();
        self.set_live_bytes(0);
        self.header().old_to_old.iterate(|_| SlotCallbackResult::Remove);
    }

    /// Turns a young page (new space, or new large-object space) into an
    /// old one, in a pause: the generational barrier now checks stores into
    /// it, and stores of its objects into old pages are no longer
    /// interesting (unless marking runs, which needs every page's stores).
    pub(crate) fn make_old(&self) {
        self.clear_flags(flags::YOUNG | flags::LARGE_SURVIVED);
        if !self.has(flags::MARKING) {
            self.clear_flags(flags::TO_HERE_INTERESTING);
        }
        self.set_flags(flags::OLD | flags::FROM_HERE_INTERESTING);
    }

    /// Records, while marking for a compacting GC, that `slot` (of an object
    /// on this page) points to a page with `value_flags`, if that page is an
    /// evacuation candidate and this page is not a candidate itself: the
    /// OLD_TO_OLD remembered set that compaction's pointer updating reads.
    /// The marker and the write barrier record through here.
    ///
    /// Young pages record too: pointer updating reads only old pages' sets
    /// (the major GC's scavenge updates young objects one by one), but a
    /// young page promoted *as a page* becomes old with its objects in
    /// place, and its recorded slots are then exactly what updating needs.
    /// A to-space page forgets its slots when it is reused
    /// ([`Page::reset_for_to_space`]).
    #[inline(always)]
    pub(crate) fn record_old_to_old(&self, value_flags: usize, slot: usize) {
        if value_flags & flags::EVACUATION_CANDIDATE != 0 && self.flags() & flags::EVACUATION_CANDIDATE == 0 {
            self.header().old_to_old.insert(self.slot_index(slot));
        }
    }
}

/// Hands out and takes back pages for one heap.
///
/// Regular pages are pooled up to a bound so the semi-space flip and the
/// sweeper's released pages are reused without new page faults; large pages
/// are allocated to size and freed at once.
pub(crate) struct PagePool {
    heap_id: u32,
    free: Vec<NonNull<u8>>,
    max_pooled: usize,
    /// Bytes of pages currently handed out (committed by the heap).
    committed: usize,
    /// The most `committed` has ever been.
    peak: usize,
    /// Flags added to every page handed out (the marking flags while a
    /// marking cycle runs).
    pub(crate) extra_flags: usize,
    /// Chunks released past the pool's bound, waiting to go back to the OS
    /// off the pause ([`PagePool::take_unmap`]).
    unmap: Vec<(NonNull<u8>, usize)>,
    /// Pages secured from the system for the collector's worst case
    /// ([`PagePool::secure`]): handed out only while the reserve is open
    /// ([`PagePool::open_reserve`]), so nothing else a GC does (compaction's
    /// targets) eats into them. Never touched until used.
    reserve: Vec<NonNull<u8>>,
    reserve_open: bool,
    /// The pages the last [`PagePool::secure`] asked for: what the reserve
    /// keeps of the pages a GC released ([`PagePool::take_unmap`]).
    reserve_target: usize,
}

/// Room the system must still have after it gave the heap a chunk
/// ([`PagePool::system_chunk`]), at least: the small allocations of the
/// mutator and of the collector (worklists, handle blocks, remembered-set
/// buckets, the sweepers' free-block lists, the error path) abort the
/// process if the system refuses them, so the heap gives up on its own
/// chunks first. A few of the allocator's fallback mappings (glibc's is
/// 1 MiB); [`PagePool::slack`] grows it with the heap.
const MIN_SLACK_BYTES: usize = 8 << 20;

/// Chunks to give back to the OS on a background thread, so that the
/// `munmap`s of a GC that freed many pages stay out of its pause (V8's
/// unmapper does the same).
pub(crate) struct Unmap(Vec<(NonNull<u8>, usize)>);

// SAFETY: the chunks are exclusively owned: their pages were released, and
// nothing refers to them any more.
unsafe impl Send for Unmap {}

impl Unmap {
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Gives the chunks back to the OS.
    pub(crate) fn run(self) {
        for (mem, size) in self.0 {
            // SAFETY: allocated by `PagePool::allocate` with this layout and
            // released, so nothing uses it.
            unsafe { std::alloc::dealloc(mem.as_ptr(), PagePool::layout(size)) };
        }
    }
}

// SAFETY: the pool exclusively owns the pooled chunks (no aliasing
// references exist), so moving it to another thread (or locking it from one,
// as the scavenger's tasks do) is sound.
unsafe impl Send for PagePool {}

impl PagePool {
    pub(crate) fn new(heap_id: u32, max_pooled: usize) -> PagePool {
        PagePool {
            heap_id,
            free: Vec::new(),
            max_pooled,
            committed: 0,
            peak: 0,
            extra_flags: 0,
            unmap: Vec::new(),
            reserve: Vec::new(),
            reserve_open: false,
            reserve_target: 0,
        }
    }

    /// The room [`PagePool::system_chunk`] leaves the system: at least
    /// [`MIN_SLACK_BYTES`], and a sixteenth of the heap (the collector's
    /// metadata grows with the pages it sweeps and scans: a few KiB per
    /// 256 KiB page).
    fn slack(&self) -> Layout {
        let bytes = MIN_SLACK_BYTES.max(self.committed / 16);
        Layout::from_size_align(bytes, 4096).expect("slack layout")
    }

    /// A fresh chunk of `size` bytes from the system, if the system has
    /// [`PagePool::slack`] more to give after it (probed by an allocation
    /// given back at once, never touched); `None` otherwise.
    fn system_chunk(&mut self, size: usize) -> Option<NonNull<u8>> {
        // SAFETY: the layout has non-zero size.
        let mem = NonNull::new(unsafe { std::alloc::alloc(Self::layout(size)) })?;
        let slack = self.slack();
        // (`black_box`: an allocation nothing uses may be elided, and this
        // one is only asked for its answer.)
        // SAFETY: as above.
        let probe = std::hint::black_box(unsafe { std::alloc::alloc(slack) });
        if probe.is_null() {
            // SAFETY: just allocated with this layout, unused.
            unsafe { std::alloc::dealloc(mem.as_ptr(), Self::layout(size)) };
            return None;
        }
        // SAFETY: just allocated with this layout, unused.
        unsafe { std::alloc::dealloc(probe, slack) };
        Some(mem)
    }

    /// Makes sure `pages` regular pages are set aside for the collector,
    /// taking pooled pages first, then asking the system. `false` if the
    /// system refused (the pages it gave stay set aside): a GC that needs
    /// them must not start, since nothing it does mid-way may fail.
    pub(crate) fn secure(&mut self, pages: usize) -> bool {
        self.reserve_target = pages;
        if self.reserve.try_reserve(pages.saturating_sub(self.reserve.len())).is_err() {
            return false;
        }
        while self.reserve.len() < pages {
            let mem = match self.free.pop().or_else(|| self.take_released()) {
                Some(m) => m,
                // SAFETY: the layout has non-zero size.
                None => match self.system_chunk(PAGE_SIZE) {
                    Some(m) => m,
                    None => return false,
                },
            };
            self.reserve.push(mem);
        }
        true
    }

    /// A regular page released past the pool's bound and not yet given
    /// back to the OS.
    fn take_released(&mut self) -> Option<NonNull<u8>> {
        let i = self.unmap.iter().rposition(|&(_, size)| size == PAGE_SIZE)?;
        Some(self.unmap.swap_remove(i).0)
    }

    /// Pages set aside by [`PagePool::secure`] and not used yet.
    pub(crate) fn reserved(&self) -> usize {
        self.reserve.len()
    }

    /// Lets (`true`) or stops (`false`) regular-page allocations take from
    /// the secured pages: open only while the GC the pages were secured for
    /// runs.
    pub(crate) fn open_reserve(&mut self, open: bool) {
        self.reserve_open = open;
    }

    /// Bytes committed by pages in use.
    pub(crate) fn committed(&self) -> usize {
        self.committed
    }

    /// The most bytes ever committed at once.
    pub(crate) fn peak(&self) -> usize {
        self.peak
    }

    /// Bytes held in the pool for reuse.
    pub(crate) fn pooled(&self) -> usize {
        self.free.len() * PAGE_SIZE
    }

    fn layout(size: usize) -> Layout {
        Layout::from_size_align(size, PAGE_SIZE).expect("page layout")
    }

    /// A page of `size` bytes (a multiple of `PAGE_SIZE`) for `space`, with a
    /// fresh header. `None` if the system is out of memory.
    pub(crate) fn allocate(&mut self, size: usize, space: SpaceId, page_flags: usize) -> Option<Page> {
        debug_assert!(size % PAGE_SIZE == 0 && size >= PAGE_SIZE);
        let mem = if size != PAGE_SIZE {
            None
        } else if self.reserve_open {
            self.reserve.pop().or_else(|| self.free.pop())
        } else {
            self.free.pop()
        };
        let mem = match mem {
            Some(m) => m,
            None => self.system_chunk(size)?,
        };
        let page_flags = if page_flags & flags::READ_ONLY != 0 { page_flags } else { page_flags | self.extra_flags };
        let header = PageHeader {
            flags: AtomicUsize::new(page_flags),
            size,
            space,
            heap_id: self.heap_id,
            age_mark: AtomicUsize::new(0),
            top: AtomicUsize::new(mem.as_ptr() as usize + AREA_OFFSET),
            live_bytes: AtomicUsize::new(0),
            old_to_new: SlotSet::new(size / WORD),
            old_to_old: SlotSet::new(size / WORD),
            free_listed: AtomicUsize::new(0),
            scan_progress: AtomicUsize::new(0),
            marks: MarkBitmap::new(),
            sweep: SweepSlot::new(),
        };
        // SAFETY: `mem` is a fresh or pooled allocation of at least `size`
        // bytes aligned to PAGE_SIZE, and no header lives there (pooled pages
        // had theirs dropped in `release`).
        unsafe { std::ptr::write(mem.as_ptr() as *mut PageHeader, header) };
        self.committed += size;
        self.peak = self.peak.max(self.committed);
        Some(Page(mem.cast()))
    }

    /// Gives a page back. The caller must hold no reference into it.
    pub(crate) fn release(&mut self, page: Page) {
        let size = page.header().size;
        self.committed -= size;
        let mem = page.0.cast::<u8>();
        // SAFETY: the header was written in `allocate` and is dropped once,
        // here; the caller promises no other use of the page follows.
        unsafe { std::ptr::drop_in_place(page.0.as_ptr()) };
        // (No growth of the pool's own lists may abort: a list that cannot
        // grow sends the chunk back to the OS at once.)
        if size == PAGE_SIZE && self.free.len() < self.max_pooled && self.free.try_reserve(1).is_ok() {
            self.free.push(mem);
        } else if self.unmap.try_reserve(1).is_ok() {
            self.unmap.push((mem, size));
        } else {
            // SAFETY: allocated by `allocate` with this layout; its header
            // was dropped above and the caller uses the page no more.
            unsafe { std::alloc::dealloc(mem.as_ptr(), Self::layout(size)) };
        }
    }

    /// Queues pooled pages past `keep` for return to the OS.
    pub(crate) fn trim(&mut self, keep: usize) {
        while self.free.len() > keep {
            let Some(mem) = self.free.pop() else { break };
            if self.unmap.try_reserve(1).is_ok() {
                self.unmap.push((mem, PAGE_SIZE));
            } else {
                // SAFETY: a pooled chunk, allocated with this layout, unused.
                unsafe { std::alloc::dealloc(mem.as_ptr(), Self::layout(PAGE_SIZE)) };
            }
        }
    }

    /// The chunks waiting to go back to the OS, for a background thread;
    /// regular pages among them refill the reserve first (up to what the
    /// last [`PagePool::secure`] asked for), so the next scavenge takes no
    /// memory the OS must give again.
    pub(crate) fn take_unmap(&mut self) -> Unmap {
        while self.reserve.len() < self.reserve_target && self.reserve.try_reserve(1).is_ok() {
            let Some(mem) = self.take_released() else { break };
            self.reserve.push(mem);
        }
        Unmap(std::mem::take(&mut self.unmap))
    }
}

impl Drop for PagePool {
    fn drop(&mut self) {
        for mem in std::mem::take(&mut self.reserve) {
            // SAFETY: a secured chunk, allocated with this layout, unused.
            unsafe { std::alloc::dealloc(mem.as_ptr(), Self::layout(PAGE_SIZE)) };
        }
        self.trim(0);
        self.take_unmap().run();
    }
}

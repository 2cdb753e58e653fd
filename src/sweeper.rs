//! Sweeping: turning the space between marked objects into free-list blocks.
//!
//! A page is swept by walking its mark bitmap: every run of words between two
//! marked objects becomes a `FreeSpace` filler (so the page stays iterable)
//! and, if big enough, a free-list block; OLD_TO_NEW slots inside freed runs
//! are removed; mark bits are cleared for the next cycle; live bytes are
//! recomputed. A page with no live object goes back to the page pool.
//!
//! Pages are independent, so the pause sweeps them in parallel on the shared
//! pool: each task claims pages through one atomic cursor and returns its free
//! blocks, which the main thread then links into the space's free list.
//! Dead large objects are freed page by page.

use crate::heap::free_list::MIN_BLOCK;
use crate::heap::old_space::{FillerMaps, OldSpace};
use crate::heap::page::{Page, PagePool};
use crate::heap::{Heap, WORD};
use crate::object::HeapObject;
use crate::platform::Platform;
use crate::sync::{AtomicUsize, Ordering};
use crate::tracer::{Phase, SpanRecorder};
use parking_lot::Mutex;

/// The outcome of sweeping one page.
pub(crate) struct SweptPage {
    pub(crate) page: Page,
    pub(crate) free: Vec<(usize, usize)>,
    pub(crate) live: usize,
    pub(crate) wasted: usize,
}

/// Sweeps one page. Exactly one thread may sweep a given page at a time.
pub(crate) fn sweep_page(page: Page, fillers: FillerMaps) -> SweptPage {
    let marks = &page.header().marks;
    let end = page.area_end();
    let (mut cursor, mut live, mut wasted, mut free) = (page.area_start(), 0, 0, Vec::new());
    loop {
        let next = marks.next_set(page.mark_index(cursor), page.mark_index(end)).map(|i| page.address() + i * WORD);
        let free_end = next.unwrap_or(end);
        if free_end > cursor {
            let size = free_end - cursor;
            fillers.fill(cursor, size);
            page.header().old_to_new.remove_range(page.slot_index(cursor), page.slot_index(free_end));
            if size >= MIN_BLOCK {
                free.push((cursor, size));
            } else {
                wasted += size;
            }
        }
        let Some(obj_addr) = next else { break };
        // SAFETY: a set mark bit marks the start of a live object.
        let obj = unsafe { HeapObject::from_address(obj_addr) };
        let size = obj.size();
        marks.clear(page.mark_index(obj_addr));
        live += size;
        cursor = obj_addr + size;
    }
    page.set_live_bytes(live);
    SweptPage { page, free, live, wasted }
}

/// Sweeps every page of a paged space in parallel, rebuilds its free list
/// and releases empty pages.
fn sweep_space(space: &mut OldSpace, pool: &mut PagePool, platform: &Platform, workers: usize, spans: &SpanRecorder) {
    space.free_list.clear();
    space.wasted = 0;
    let pages = std::mem::take(&mut space.pages);
    let fillers = space.fillers;
    let cursor = AtomicUsize::new(0);
    let results = Mutex::new(Vec::with_capacity(pages.len()));
    let tasks = (pages.len() / 8).clamp(1, workers + 1);
    platform.run_job(tasks, Phase::Sweep, spans, &|_| {
        let mut mine = Vec::new();
        loop {
            // Relaxed: hands out indices only; the pages were published by the
            // job's spawn and the results are joined by its end.
            let i = cursor.fetch_add(1, Ordering::Relaxed);
            let Some(&page) = pages.get(i) else { break };
            mine.push(sweep_page(page, fillers));
        }
        results.lock().extend(mine);
    });
    let mut swept = results.into_inner();
    swept.sort_by_key(|s| s.page.address());
    for s in swept {
        if s.live == 0 {
            pool.release(s.page);
            continue;
        }
        for (start, size) in s.free {
            space.free_list.add(start, size);
        }
        space.wasted += s.wasted;
        space.pages.push(s.page);
    }
}

/// Sweeps the old generation after marking.
pub(crate) fn sweep_all(heap: &mut Heap) {
    let workers = heap.gc_worker_cap();
    let Heap { old_space, map_space, pool, platform, lo_space, new_lo_space, new_space, spans, .. } = heap;
    sweep_space(old_space, pool, platform, workers, spans);
    sweep_space(map_space, pool, platform, workers, spans);
    for page in lo_space.pages.clone() {
        let marks = &page.header().marks;
        let start = page.mark_index(page.area_start());
        if marks.is_set(start) {
            marks.clear(start);
        } else {
            lo_space.take(page);
            pool.release(page);
        }
    }
    // Young objects are reclaimed by the scavenge that follows; only their
    // marks must go.
    for page in new_lo_space.pages.iter().chain(&new_space.to_pages) {
        page.header().marks.clear_all();
    }
    pool.trim(pool_keep(new_space.capacity_pages));
}

/// Pages kept pooled after a GC: enough for new space to flip and grow a bit.
fn pool_keep(semi_space_pages: usize) -> usize {
    semi_space_pages.max(16)
}

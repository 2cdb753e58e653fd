//! Full-heap marking: the mark bitmap and work-stealing worklists.
//!
//! Tri-colour marking as in V8's mark-compact: white objects have a clear
//! mark bit; grey ones are marked and wait on a worklist; black ones are
//! marked and scanned. Marking starts from the roots (local and global
//! handles), visits every tagged field (and the object's map, when it is not
//! read-only) and sets mark bits with the bitmap's atomic `set`, whose winner
//! pushes the object. Read-only objects are never marked. Live bytes are
//! accounted per page.
//!
//! Marking runs as a parallel job on the shared pool: task 0 (the isolate's
//! thread) marks the local handles, every task claims global-handle blocks,
//! and all drain the same segment-based work-stealing worklists the
//! scavenger uses ([`crate::worklist`]), until global termination.
//!
//! After marking, weak handles and string-table entries whose targets stayed
//! white are cleared.

use crate::handles::{HandleBlocks, CLEARED};
use crate::heap::page::{flags, Page};
use crate::heap::{Heap, PAGE_SIZE_LOG2};
use crate::object::{HeapObject, MapRef};
use crate::sync::{AtomicUsize, Ordering};
use crate::tracer::Phase;
use crate::value::Tagged;
use crate::worklist::{Local, Worklist};

/// Is `v` alive after marking (a Smi, read-only, or marked)?
pub(crate) fn is_live(v: Tagged) -> bool {
    if !v.is_heap_object() {
        return true;
    }
    // SAFETY: `v` came from a root or a field of a live object.
    let obj = unsafe { HeapObject::from_tagged(v) };
    let page = obj.page();
    page.has(flags::READ_ONLY) || page.header().marks.is_set(page.mark_index(obj.address()))
}

/// Heap bytes per marking task: one task per this much of the heap (at most
/// [`MAX_TASKS`], at most the GC workers plus the main thread).
const BYTES_PER_TASK: usize = 1 << 20;
/// Most marking tasks one job uses (V8 caps concurrent marking tasks too).
const MAX_TASKS: usize = 8;

/// Number of tasks for marking a heap of `heap_bytes`.
pub(crate) fn task_count(heap_bytes: usize, gc_workers: usize) -> usize {
    (heap_bytes / BYTES_PER_TASK).clamp(1, MAX_TASKS).min(gc_workers + 1)
}

/// Live bytes per page, accumulated locally and flushed into the page
/// headers when a page falls out of the (direct-mapped) cache: one atomic add
/// per page visit instead of one per object, as V8's per-task live-byte maps.
struct LiveBytes {
    entries: [(usize, usize); 16],
}

impl LiveBytes {
    fn new() -> LiveBytes {
        LiveBytes { entries: [(0, 0); 16] }
    }

    #[inline(always)]
    fn add(&mut self, page: Page, bytes: usize) {
        let e = &mut self.entries[(page.address() >> PAGE_SIZE_LOG2) % 16];
        if e.0 == page.address() {
            e.1 += bytes;
        } else {
            Self::flush_entry(e);
            *e = (page.address(), bytes);
        }
    }

    fn flush_entry(e: &mut (usize, usize)) {
        if e.0 != 0 {
            // SAFETY: the entry holds the address of a live page of the heap
            // being marked (pages are not released during marking).
            unsafe { Page::of(e.0) }.add_live_bytes(e.1);
        }
        *e = (0, 0);
    }

    fn flush(&mut self) {
        self.entries.iter_mut().for_each(Self::flush_entry);
    }
}

/// State shared by the tasks of one marking job.
struct MarkJob<'h> {
    worklist: Worklist<HeapObject>,
    locals: &'h [Tagged],
    globals: &'h HandleBlocks,
    global_cursor: AtomicUsize,
    marked_bytes: AtomicUsize,
}

/// One marking task.
struct Marker<'j> {
    local: Local<'j, HeapObject>,
    live: LiveBytes,
    marked_bytes: usize,
}

impl Marker<'_> {
    /// Greys `v` if it is a white heap object: the task whose bitmap `set`
    /// turns the bit on pushes it.
    #[inline(always)]
    fn mark(&mut self, v: Tagged) {
        if !v.is_heap_object() {
            return;
        }
        // SAFETY: `v` came from a root or a field of a live object.
        let obj = unsafe { HeapObject::from_tagged(v) };
        let page = obj.page();
        if page.has(flags::READ_ONLY) {
            return;
        }
        if page.header().marks.set(page.mark_index(obj.address())) {
            self.local.push(obj);
        }
    }

    /// Blackens `obj`: marks its map and every object its fields point to.
    #[inline]
    fn visit(&mut self, obj: HeapObject) {
        let map = MapRef(obj.map());
        self.mark(map.0.tagged());
        let size = obj.size_with_map(map);
        self.marked_bytes += size;
        self.live.add(obj.page(), size);
        for i in obj.tagged_range(map) {
            self.mark(obj.field(i));
        }
    }

    fn run(mut self, job: &MarkJob<'_>, id: usize) {
        if id == 0 {
            for &h in job.locals {
                self.mark(h);
            }
        }
        job.globals.visit_claimed(&job.global_cursor, |slot| {
            // Relaxed: inside the pause the table does not change; the job's
            // spawn published it to the workers.
            self.mark(Tagged(slot.load(Ordering::Relaxed)));
        });
        loop {
            while let Some(obj) = self.local.pop() {
                self.visit(obj);
            }
            if !self.local.wait_for_work() {
                break;
            }
        }
        self.live.flush();
        // Relaxed: summed after the job's join.
        job.marked_bytes.fetch_add(self.marked_bytes, Ordering::Relaxed);
    }
}

/// Marks everything reachable from the roots, in parallel on the shared
/// pool inside the pause. Returns the marked bytes.
pub(crate) fn mark_full(heap: &mut Heap) -> usize {
    for p in heap.old_gen_pages().collect::<Vec<_>>() {
        p.set_live_bytes(0);
    }
    let tasks = task_count(heap.size_of_objects(), heap.gc_worker_cap());
    let table = heap.globals.inner.borrow();
    let job = MarkJob {
        worklist: Worklist::new(tasks),
        locals: &heap.handles,
        globals: &table.blocks,
        global_cursor: AtomicUsize::new(0),
        marked_bytes: AtomicUsize::new(0),
    };
    heap.platform.run_job(tasks, Phase::Mark, &heap.spans, &|id| {
        if let Some(local) = job.worklist.local(id) {
            Marker { local, live: LiveBytes::new(), marked_bytes: 0 }.run(&job, id);
        }
    });
    job.marked_bytes.into_inner()
}

/// Clears weak handles and string-table entries whose targets are white.
pub(crate) fn clear_dead_weak_references(heap: &mut Heap) {
    let table = heap.weaks.inner.borrow();
    for i in 0..table.blocks.capacity() {
        let slot = table.blocks.slot(i);
        // Relaxed: inside the pause only this thread touches the table.
        let v = Tagged(slot.load(Ordering::Relaxed));
        if v.is_heap_object() && !is_live(v) {
            slot.store(CLEARED.0, Ordering::Relaxed);
        }
    }
    drop(table);
    heap.string_table.retain(is_live);
}

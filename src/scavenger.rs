//! The minor GC: a parallel scavenge of the young generation on the shared
//! worker pool (DESIGN section 6).
//!
//! Follows Cheney (1970) and Ungar (1984) in V8's parallel form
//! (`papers/cheney-1970.md`, `papers/ungar-1984-generation-scavenging.md`,
//! `papers/v8-trash-talk-orinoco.md`):
//!
//! 1. flip the semi-spaces; to-space is empty, from-space holds the objects;
//! 2. post a job to the isolate's [`crate::Platform`] with one task per MiB
//!    of semi-space (V8's heuristic), capped by the configured GC workers and
//!    the pool; the isolate's thread runs task 0 and so helps while it waits;
//! 3. task 0 evacuates the local handles; every task claims global-handle
//!    blocks and OLD_TO_NEW slot-set pages one at a time, evacuates what they
//!    point to, then drains the shared work-stealing worklist
//!    ([`crate::worklist`]) until global termination;
//! 4. evacuating copies an object into the task's own linear allocation
//!    buffer (to-space, or old space below the age mark or when to-space is
//!    full) and installs the forwarding address with one CAS on the map word
//!    ([`crate::evacuation`]); a loser gives its copy back;
//! 5. copied objects are scanned from the worklist; promoted ones record the
//!    slots still pointing into new space in their page's OLD_TO_NEW set;
//!    young large objects are promoted by flipping their page;
//! 6. the main thread clears weak handles to dead young objects, hands the
//!    copies to a marking cycle in progress, flips surviving young large
//!    pages to old large-object space, and sets the age mark.
//!
//! [`scavenge`] runs these as named steps. The scavenger imports one other
//! phase, for one hand-off: during a marking cycle it gives marking the
//! objects it copied or promoted ([`marking::after_scavenge`]), whose mark
//! bits did not move with them. What it needs of compaction (where a pointer
//! into an evacuated page goes) and of sweeping (which remembered slots of a
//! page pending sweep are stale) are forwarding and page facts
//! ([`crate::evacuation`], [`crate::heap::live_objects`]).

use crate::evacuation::{
    forward_exclusive, forwarded_if_evacuated, forwarding_target, load_map_word, prefetch, try_forward, RawMemory,
};
use crate::handles::CLEARED;
use crate::heap::allocation_site::MEMENTO_BYTES;
use crate::heap::live_objects::slot_in_live_object;
use crate::heap::new_space::NewSpace;
use crate::heap::old_space::{FillerMaps, Lab, OldSpace};
use crate::heap::page::AREA_SIZE;
use crate::heap::page::{flags, Page, PagePool};
use crate::heap::remembered_set::SlotCallbackResult;
use crate::heap::{Heap, MAX_REGULAR_OBJECT_SIZE, PAGE_SIZE, WORD};
use crate::marking::{self, IncrementalMarking};
use crate::object::{HeapObject, MapRef};
use crate::roots::{RootSet, StrongWalk};
use crate::sync::{AtomicUsize, Mutex, Ordering};
use crate::tracer::Phase;
use crate::value::{Tagged, TAG_MASK};
use crate::worklist::{Local, Worklist};
use std::collections::HashMap;
use std::ops::Range;
use std::time::{Duration, Instant};

/// Most scavenger tasks one scavenge uses (V8's `kMaxScavengerTasks`).
const MAX_TASKS: usize = 8;

/// Bytes of to-space a task takes at a time for its allocation buffer.
const TO_SPACE_LAB: usize = 32 * 1024;

/// What a scavenge moved.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct ScavengeStats {
    /// Bytes copied within new space.
    pub(crate) survived: usize,
    /// Bytes promoted to old space (copied or page-flipped).
    pub(crate) promoted: usize,
    /// Of those, bytes of young large objects promoted by a page flip (not
    /// copied).
    pub(crate) flipped: usize,
    /// The longest any task spent on the roots and the remembered set
    /// (OLD_TO_NEW) before the transitive closure: the part of the pause
    /// that does not shrink with new space.
    pub(crate) roots_time: Duration,
    /// Of `roots_time`, the longest any task spent on the remembered set
    /// (OLD_TO_NEW slots of old pages): the part of the fixed cost that grows
    /// with how many old-to-new pointers the mutator stored.
    pub(crate) old_to_new_time: Duration,
    /// OLD_TO_NEW slots the scavenge visited (all tasks).
    pub(crate) old_to_new_slots: usize,
    /// The pause the controller predicted for this scavenge (minor GCs).
    pub(crate) predicted: Option<Duration>,
    /// Tasks the job ran with.
    pub(crate) tasks: usize,
    /// New-space pages promoted as pages instead (fast promotion; the
    /// minor GC then copied nothing).
    pub(crate) promoted_pages: usize,
}

impl ScavengeStats {
    /// Bytes the scavenge copied (within new space or into old space).
    pub(crate) fn copied(&self) -> usize {
        self.survived + self.promoted - self.flipped
    }

    fn add(&mut self, o: ScavengeStats) {
        self.survived += o.survived;
        self.promoted += o.promoted;
        self.flipped += o.flipped;
        self.roots_time = self.roots_time.max(o.roots_time);
        self.old_to_new_time = self.old_to_new_time.max(o.old_to_new_time);
        self.old_to_new_slots += o.old_to_new_slots;
    }
}

/// OLD_TO_NEW slots, expected from the last scavenge, worth one more
/// scavenge task: about 0.3-1 ms of slot visits (each a cache miss or two
/// on a large old generation), against a helper's wake-up of tens of us.
pub(crate) const SLOTS_PER_SCAVENGE_TASK: usize = 2048;

/// Number of tasks for a scavenge: one per `per_task` bytes of semi-space
/// (V8: one per MiB), or one per [`SLOTS_PER_SCAVENGE_TASK`] remembered-set
/// slots the last scavenge visited if that is more (V8's scavenge job asks
/// for as many workers as old pages with OLD_TO_NEW slots remain: on an old
/// tree fed young nodes the remembered set, not the copying, is the pause),
/// at most [`MAX_TASKS`], at most the GC workers plus the main thread.
pub(crate) fn task_count(semi_space_bytes: usize, per_task: usize, slots: usize, gc_workers: usize) -> usize {
    (semi_space_bytes / per_task).max(slots / SLOTS_PER_SCAVENGE_TASK).clamp(1, MAX_TASKS).min(gc_workers + 1)
}

/// [`task_count`] for the next scavenge of `heap`.
fn tasks_for(heap: &Heap) -> usize {
    let ns = &heap.new_space;
    task_count(ns.capacity(), heap.config.new_space_per_scavenge_task, ns.last_old_to_new_slots, heap.gc_worker_cap())
}

/// A copied object waiting to be scanned, with the word range of its tagged
/// fields decoded from its map when it was copied: scanning reads neither the
/// map nor the length again. (A range that does not fit in `u32`s, which no
/// regular object has, is marked with `start == u32::MAX` and decoded again.)
#[derive(Clone, Copy, Debug)]
struct Scan {
    addr: usize,
    start: u32,
    end: u32,
}

impl Scan {
    #[inline(always)]
    fn new(obj: HeapObject, fields: Range<usize>) -> Scan {
        // (`start <= end` for every layout, so one test covers both.)
        if fields.end < u32::MAX as usize {
            Scan { addr: obj.address(), start: fields.start as u32, end: fields.end as u32 }
        } else {
            Scan { addr: obj.address(), start: u32::MAX, end: 0 }
        }
    }

    /// The object and the indices of its tagged fields.
    #[inline(always)]
    fn get(self) -> (HeapObject, Range<usize>) {
        // SAFETY: only objects the scavenge copied or promoted are queued;
        // they stay live and in place until it ends.
        let obj = unsafe { HeapObject::from_address(self.addr) };
        if self.start == u32::MAX {
            return (obj, obj.tagged_range(MapRef(obj.map())));
        }
        (obj, self.start as usize..self.end as usize)
    }
}

/// Mementos found behind evacuated objects, per site, counted by a task:
/// runs of one site (objects of one site are usually copied together) are
/// counted in a register-like last entry, folded into a map when the site
/// changes, so the common case hashes nothing.
#[derive(Default)]
struct FoundMementos {
    last: Option<(u32, u32)>,
    map: HashMap<u32, u32>,
}

impl FoundMementos {
    #[inline(always)]
    fn count(&mut self, site: u32) {
        match &mut self.last {
            Some((s, n)) if *s == site => *n += 1,
            _ => self.switch(site),
        }
    }

    #[cold]
    fn switch(&mut self, site: u32) {
        if let Some((s, n)) = self.last.replace((site, 1)) {
            *self.map.entry(s).or_insert(0) += n;
        }
    }

    fn into_map(mut self) -> HashMap<u32, u32> {
        if let Some((s, n)) = self.last.take() {
            *self.map.entry(s).or_insert(0) += n;
        }
        self.map
    }
}

/// State shared by the tasks of one scavenge.
struct Job<'h> {
    /// One task: no other thread evacuates, so forwarding needs no CAS.
    exclusive: bool,
    /// Incremental marking is in progress: copies are greyed afterwards.
    marking: bool,
    /// The major GC's scavenge, between marking and sweeping: promoted
    /// objects are accounted live (and marked on pages pending sweep).
    after_marking: bool,
    /// Page flags of the objects a scan must visit a pointer to: from-space
    /// (copied), young large objects (promoted) and, in the major GC's
    /// scavenge, evacuated pages (forwarded).
    moving: usize,
    copies: Mutex<Vec<HeapObject>>,
    worklist: Worklist<Scan>,
    new_space: Mutex<&'h mut NewSpace>,
    old_space: Mutex<(&'h mut OldSpace, &'h mut PagePool)>,
    /// Committed bytes old space may reach by promotion: the heap's
    /// collector limit ([`Heap::collector_limit`]) less what the other
    /// limit-bounded spaces commit
    /// (which a scavenge does not change).
    old_space_limit: usize,
    fillers: FillerMaps,
    roots: StrongWalk<'h>,
    old_pages: Vec<Page>,
    page_cursor: AtomicUsize,
    stats: Mutex<ScavengeStats>,
    /// The allocation memento map, and the number of allocation sites
    /// (0: no memento can exist, none is looked for).
    memento_map: usize,
    site_count: usize,
    /// Mementos found, per site: the tasks' counts merged.
    found: Mutex<HashMap<u32, u32>>,
    /// The tasks' emptied OLD_TO_NEW buckets.
    emptied: Mutex<Vec<(Page, usize)>>,
}

/// One task's state.
struct Task<'j, 'h> {
    job: &'j Job<'h>,
    /// Objects copied or promoted while marking is in progress.
    copies: Vec<HeapObject>,
    local: Local<'j, Scan>,
    to_lab: Lab,
    old_lab: Lab,
    stats: ScavengeStats,
    /// Mementos found behind evacuated objects, per site (merged into the
    /// job's once, when the task ends: no shared counter per object).
    found: FoundMementos,
    /// OLD_TO_NEW buckets this task's iteration left empty: released after
    /// the job (see [`release_empty_buckets`]).
    emptied: Vec<(Page, usize)>,
}

impl<'j, 'h> Task<'j, 'h> {
    /// Where `v` lives after the scavenge, evacuating it if needed, and
    /// whether that is in to-space (young after the scavenge: a promoted host
    /// records the slot). Runs for every slot visited: kept inline, with the
    /// copy out of line.
    #[inline(always)]
    fn evacuate(&mut self, v: Tagged) -> (Tagged, bool) {
        if !v.is_heap_object() {
            return (v, false);
        }
        // SAFETY: every pointer the scavenger follows comes from a root or a
        // field of a live object, so it points to a live object.
        let obj = unsafe { HeapObject::from_tagged(v) };
        let page = obj.page();
        let f = page.flags();
        if f & flags::FROM_SPACE != 0 {
            return self.copy(obj, page);
        }
        if f & flags::NEW_LARGE != 0 {
            self.promote_large(obj, page);
        }
        if self.job.after_marking {
            // The major GC's scavenge: a pointer into a page compaction
            // just evacuated goes to the object's new place (old space).
            return (forwarded_if_evacuated(v, f), f & flags::TO_SPACE != 0);
        }
        (v, f & flags::TO_SPACE != 0)
    }

    /// A young large object reached: the first task to reach it promotes it
    /// (by a page flip, after the scavenge) and scans it.
    #[cold]
    fn promote_large(&mut self, obj: HeapObject, page: Page) {
        if page.try_set_flag(flags::LARGE_SURVIVED) {
            let map = MapRef(obj.map());
            let (size, fields) = obj.size_and_tagged_range(map);
            self.stats.promoted += size;
            self.stats.flipped += size;
            if !fields.is_empty() {
                self.local.push(Scan::new(obj, fields));
            }
            if self.job.marking {
                self.copies.push(obj);
            }
        }
    }

    /// Evacuates from-space object `obj` (on `page`), or finds where another
    /// task or an earlier visit put it. The map is read once: it gives the
    /// size and the tagged fields, which travel with the copy to the worklist.
    #[inline(always)]
    fn copy(&mut self, obj: HeapObject, page: Page) -> (Tagged, bool) {
        let map_word = load_map_word(&RawMemory, obj.address());
        if let Some(to) = forwarding_target(map_word) {
            return (Tagged::from_address(to), in_to_space(to));
        }
        // SAFETY: a non-forwarded live object's map word points to its map.
        let map = MapRef(unsafe { HeapObject::from_address(map_word & !TAG_MASK) });
        let (size, fields) = obj.size_and_tagged_range(map);
        if self.job.site_count != 0 {
            if let Some(site) = self.memento_behind(obj.address() + size, page) {
                self.found.count(site);
            }
        }
        let survivor = NewSpace::below_age_mark(page, obj.address());
        let young = if survivor { None } else { self.allocate_young(size) };
        let (to, promoted) = match young {
            Some(to) => (to, false),
            None => self.allocate_old(size),
        };
        let forwarded = if self.job.exclusive {
            // SAFETY: as below, and this is the scavenge's only task.
            Ok(unsafe { forward_exclusive(&RawMemory, obj.address(), map_word, to, size / WORD) })
        } else {
            // SAFETY: `obj` is a live from-space object of `size` bytes whose
            // body no one writes during the scavenge; `to` is fresh memory.
            unsafe { try_forward(&RawMemory, obj.address(), map_word, to, size / WORD) }
        };
        match forwarded {
            Ok(to) => {
                // SAFETY: the copy is complete and now the object's home.
                let copy = unsafe { HeapObject::from_address(to) };
                if self.job.marking {
                    self.copies.push(copy);
                }
                if promoted {
                    self.stats.promoted += size;
                    if self.job.after_marking {
                        account_promoted(to, size);
                    }
                } else {
                    self.stats.survived += size;
                }
                // Only objects whose fields a scan would change or record
                // need one: a small object (just copied, so in cache) is
                // checked now and, if it points to nothing that moves (Smis,
                // old and read-only objects only), it is done without a trip
                // through the worklist.
                if !fields.is_empty()
                    && (fields.len() > SMALL_FIELDS || points_to_moving(copy, fields.clone(), self.job.moving))
                {
                    self.local.push(Scan::new(copy, fields));
                }
                (Tagged::from_address(to), !promoted)
            }
            Err(winner) => {
                let lab = if promoted { &mut self.old_lab } else { &mut self.to_lab };
                // The copy was the last allocation in its buffer: give it back.
                debug_assert_eq!(lab.top, to + size);
                lab.top = to;
                (Tagged::from_address(winner), in_to_space(winner))
            }
        }
    }

    /// The site index of the allocation memento at `end` (just behind an
    /// object of from-space page `page`), if one is there.
    #[inline(always)]
    fn memento_behind(&self, end: usize, page: Page) -> Option<u32> {
        // Words at or past the page's top may be stale (a previous cycle's
        // memento): only allocated words count.
        if self.job.site_count == 0 || end + MEMENTO_BYTES > page.top() {
            return None;
        }
        // During the scavenge only map words change there, atomically
        // (forwarding), and a forwarding word never equals the memento map.
        // SAFETY: [end, end + MEMENTO_BYTES) lies below the from-space
        // page's top: initialised words the mutator allocated.
        let m = unsafe { HeapObject::from_address(end) };
        if m.word(0) != self.job.memento_map {
            return None;
        }
        let index = m.word(1);
        (index < self.job.site_count).then_some(index as u32)
    }

    #[inline]
    fn allocate_young(&mut self, size: usize) -> Option<usize> {
        if let Some(a) = self.to_lab.allocate(size) {
            return Some(a);
        }
        self.retire_to_lab();
        let mut new_space = self.job.new_space.lock();
        self.to_lab = new_space.allocate_chunk(size, TO_SPACE_LAB)?;
        drop(new_space);
        self.to_lab.allocate(size)
    }

    /// Room for a promoted object: old space, grown within the heap's
    /// limit. Past the limit the object stays young (a to-space grown from
    /// the pages [`secure`] set aside), and `false` says so. The secured
    /// pages cover every copy a scavenge can make, so the last resort, old
    /// space past the limit, is for a broken bound only.
    #[inline]
    fn allocate_old(&mut self, size: usize) -> (usize, bool) {
        if let Some(a) = self.old_lab.allocate(size) {
            return (a, true);
        }
        let job = self.job;
        let mut guard = job.old_space.lock();
        let (old_space, pool) = &mut *guard;
        let can_grow = old_space.committed() + PAGE_SIZE <= job.old_space_limit;
        if let Some(a) = old_space.allocate_in(&mut self.old_lab, size, pool, can_grow) {
            return (a, true);
        }
        self.retire_to_lab();
        self.to_lab = job.new_space.lock().allocate_chunk_growing(size, TO_SPACE_LAB, pool).unwrap_or_default();
        if let Some(a) = self.to_lab.allocate(size) {
            return (a, false);
        }
        debug_assert!(false, "the pages a scavenge secured ran out");
        match old_space.allocate_in(&mut self.old_lab, size, pool, true) {
            Some(a) => (a, true),
            // Nothing can hold the object and it cannot stay: the heap
            // would be left half-evacuated. `secure` makes this unreachable.
            None => panic!("isogc: the pages secured for the scavenge ran out (a bug in `reserve_pages`)"),
        }
    }

    fn retire_to_lab(&mut self) {
        let lab = std::mem::take(&mut self.to_lab);
        if lab.remaining() > 0 {
            self.job.new_space.lock().give_back(lab, self.job.fillers);
        }
    }

    /// Updates every tagged field of a copied or promoted object. Objects
    /// outside to-space (promoted ones, surviving young large objects) record
    /// the slots that still point into new space.
    #[inline(always)]
    fn scan(&mut self, s: Scan) {
        let (obj, fields) = s.get();
        let page = obj.page();
        if page.has(flags::TO_SPACE) {
            let (mut slot, end) = (obj.slot(fields.start), obj.slot(fields.end));
            while slot < end {
                // SAFETY: `slot` is a field of `obj`, used as a one-word
                // object.
                let cell = unsafe { HeapObject::from_address(slot) };
                slot += WORD;
                let v = cell.field(0);
                // Smis (and cleared weak words) need nothing: the common
                // case of data-heavy objects stays a load and a test.
                if !v.is_heap_object() {
                    continue;
                }
                let (nv, _) = self.evacuate(v);
                if nv != v {
                    cell.set_field(0, nv);
                }
            }
        } else {
            self.scan_promoted(obj, page, fields);
        }
    }

    /// [`Task::scan`] of an object outside to-space: slots left pointing
    /// into new space go into its page's OLD_TO_NEW set.
    #[inline(never)]
    fn scan_promoted(&mut self, obj: HeapObject, page: Page, fields: Range<usize>) {
        for i in fields {
            let v = obj.field(i);
            if !v.is_heap_object() {
                continue;
            }
            let (nv, young) = self.evacuate(v);
            if nv != v {
                obj.set_field(i, nv);
            }
            if young {
                page.header().old_to_new.insert(page.slot_index(obj.slot(i)));
            }
        }
    }

    /// The OLD_TO_NEW slots of old page `page`: each is updated, and kept
    /// only while it still points into new space.
    fn old_to_new(&mut self, page: Page) {
        // A page still waiting for its sweeper (paused during the scavenge)
        // may hold stale slots of dead objects: only slots inside marked
        // objects count, the others go.
        let pending = page.is_pending_sweep();
        let mut visited = 0;
        let mut emptied = std::mem::take(&mut self.emptied);
        page.header().old_to_new.iterate_noting_empty(
            |slot| {
                visited += 1;
                let addr = page.slot_address(slot);
                if pending && !slot_in_live_object(page, addr) {
                    return SlotCallbackResult::Remove;
                }
                // A slot is treated as a one-word "object" for field access.
                // The sweeper removes slots of freed ranges (and stale ones of
                // pending pages are filtered above), and freed large pages take
                // their slot sets with them, so:
                // SAFETY: recorded slots lie inside live old objects.
                let cell = unsafe { HeapObject::from_address(addr) };
                let v = cell.field(0);
                let (nv, young) = self.evacuate(v);
                if nv != v {
                    cell.set_field(0, nv);
                }
                if young {
                    SlotCallbackResult::Keep
                } else {
                    SlotCallbackResult::Remove
                }
            },
            |bucket| emptied.push((page, bucket)),
        );
        self.emptied = emptied;
        self.stats.old_to_new_slots += visited;
    }

    fn run(mut self, id: usize) {
        let started = Instant::now();
        let job = self.job;
        // The strong roots: the locals on task 0, the isolate's own thread
        // (which the worklist counts as joined from the start), global-handle
        // blocks claimed by every task.
        job.roots.visit(id, |h| self.evacuate(h).0);
        // The remembered set, page by page.
        let remembered = Instant::now();
        loop {
            // Relaxed: hands out page indices only.
            let i = job.page_cursor.fetch_add(1, Ordering::Relaxed);
            let Some(&page) = job.old_pages.get(i) else { break };
            self.old_to_new(page);
        }
        self.stats.old_to_new_time = remembered.elapsed();
        self.stats.roots_time = started.elapsed();
        // Transitive closure, with stealing, until every task is idle.
        loop {
            while let Some(s) = self.local.pop() {
                self.scan(s);
            }
            if !self.local.wait_for_work() {
                break;
            }
        }
        self.retire_to_lab();
        let mut guard = job.old_space.lock();
        guard.0.retire(&mut self.old_lab);
        drop(guard);
        job.stats.lock().add(self.stats);
        let found = std::mem::take(&mut self.found).into_map();
        if !found.is_empty() {
            let mut all = job.found.lock();
            for (site, n) in found {
                *all.entry(site).or_insert(0) += n;
            }
        }
        if !self.copies.is_empty() {
            job.copies.lock().append(&mut self.copies);
        }
        if !self.emptied.is_empty() {
            job.emptied.lock().append(&mut self.emptied);
        }
    }
}

/// Most tagged fields a copied object may have for the copy path to look
/// for a pointer among them before queueing it for a scan.
const SMALL_FIELDS: usize = 16;

/// Does one of `obj`'s `fields` point into a page with one of the flags
/// `moving` (objects this scavenge moves or promotes: a scan of `obj` would
/// update or record the field)? Prefetches those objects, which the scan of
/// `obj` (soon: the worklist is LIFO) will read.
#[inline(always)]
fn points_to_moving(obj: HeapObject, fields: Range<usize>, moving: usize) -> bool {
    let mut any = false;
    // By address rather than by index: one induction variable, and the
    // loop runs for every field of every small object copied.
    let (mut slot, end) = (obj.slot(fields.start), obj.slot(fields.end));
    while slot < end {
        // SAFETY: `slot` is a field of `obj`, read as a one-word object.
        let v = unsafe { HeapObject::from_address(slot) }.field(0);
        // SAFETY: a field of a live object points to a live object.
        if v.is_heap_object() && unsafe { Page::of(v.address()) }.flags() & moving != 0 {
            prefetch(v.address());
            any = true;
        }
        slot += WORD;
    }
    any
}

/// Is the object at `addr` (a copy some task made) in to-space, young after
/// this scavenge?
#[inline]
fn in_to_space(addr: usize) -> bool {
    // SAFETY: `addr` is a live object's address (see `Task::evacuate`).
    unsafe { Page::of(addr) }.has(flags::TO_SPACE)
}

/// An object the major GC's scavenge promoted to `addr`: on a page pending
/// sweep it gets a mark bit (the sweeper keeps it), and every page counts
/// its bytes live (the spaces' accounting is rebuilt from live bytes when
/// sweeping starts).
#[inline]
fn account_promoted(addr: usize, size: usize) {
    // SAFETY: `addr` is an object the scavenge just promoted into a live page.
    let page = unsafe { Page::of(addr) };
    if page.is_pending_sweep() {
        page.header().marks.set(page.mark_index(addr));
    }
    page.add_live_bytes(size);
}

/// The GC around a scavenge.
pub(crate) enum ScavengeContext<'a> {
    /// A minor GC with no marking cycle in progress.
    Plain,
    /// A minor GC during a marking cycle: the copies go to marking, whose
    /// barrier worklist follows the moves.
    DuringMarking(&'a mut IncrementalMarking, &'a mut Vec<HeapObject>),
    /// The major GC's scavenge, between marking (and compaction) and
    /// sweeping: promoted objects are accounted live, pointers into
    /// evacuated pages are updated.
    AfterMarking,
}

/// Regular pages one scavenge of `heap`'s young generation may take, at
/// most: the flip's to-space pages beyond the from-space pages it reuses,
/// and the destinations of every copy. A destination page (old, or to-space
/// grown past its capacity when the old generation is at its limit) is left
/// only for an object that does not fit its rest, so it holds at least
/// `AREA_SIZE - MAX_REGULAR_OBJECT_SIZE` bytes, of copies or of fillers
/// where a task gave back a buffer's tail, which is at most the bytes it
/// then copied elsewhere: at most twice the young bytes over that, plus
/// each task's two partly used buffers and the flip's rounding.
pub(crate) fn reserve_pages(heap: &Heap) -> usize {
    let ns = &heap.new_space;
    let in_use = ns.current + 1;
    let flip = in_use.min(ns.capacity_pages).saturating_sub(ns.from_pages.len());
    let tasks = tasks_for(heap);
    let per_page = AREA_SIZE - MAX_REGULAR_OBJECT_SIZE;
    flip + (2 * (ns.used() + ns.filler_bytes)).div_ceil(per_page) + 2 * tasks + 1
}

/// Sets aside, from the pool or the system, every page a scavenge of the
/// young generation as it is now may take ([`reserve_pages`]). `false` if
/// the system refused: no scavenge may start, since nothing it does
/// mid-way may fail. The pages stay set aside for the next scavenge.
pub(crate) fn secure(heap: &mut Heap) -> bool {
    let pages = reserve_pages(heap);
    heap.pool.secure(pages)
}

/// Runs one scavenge of `heap`'s young generation, with the pages it needs
/// set aside first ([`secure`]): `None`, changing nothing, if the system
/// has no memory for them.
pub(crate) fn scavenge(heap: &mut Heap, context: ScavengeContext<'_>) -> Option<ScavengeStats> {
    if !secure(heap) {
        return None;
    }
    heap.pool.open_reserve(true);
    let stats = scavenge_secured(heap, context);
    heap.pool.open_reserve(false);
    stats
}

fn scavenge_secured(heap: &mut Heap, context: ScavengeContext<'_>) -> Option<ScavengeStats> {
    // (The flip's pages are secured; it changes nothing if it fails.)
    heap.new_space.flip(&mut heap.pool)?;
    let (marking, after_marking) = match context {
        ScavengeContext::Plain => (None, false),
        ScavengeContext::DuringMarking(m, barrier) => (Some((m, barrier)), false),
        ScavengeContext::AfterMarking => (None, true),
    };
    let (stats, copies) = evacuate(heap, marking.is_some(), after_marking);
    heap.new_space.last_old_to_new_slots = stats.old_to_new_slots;
    update_weak_handles(heap);
    // The hand-off to marking, while the dead young large objects' pages
    // (which marking's worklists may name) are still there.
    if let Some((m, barrier_worklist)) = marking {
        let tasks = (heap.gc_worker_cap() + 1).min(MAX_TASKS);
        marking::after_scavenge(m, barrier_worklist, copies, (&heap.platform, &heap.spans, tasks));
    }
    promote_young_large_objects(heap);
    heap.new_space.set_age_mark_to_top();
    Some(stats)
}

/// The parallel job: evacuates everything reachable from the roots and the
/// remembered set. Returns what moved and (while `marking`) the objects
/// copied or promoted.
fn evacuate(heap: &mut Heap, marking: bool, after_marking: bool) -> (ScavengeStats, Vec<HeapObject>) {
    let tasks = tasks_for(heap);
    let old_pages: Vec<Page> = heap.old_gen_pages().collect();
    let fillers = heap.old_space.fillers;
    let memento_map = heap.ro_roots.allocation_memento_map;
    let site_count = heap.sites.len();
    let old_space_limit = (heap.collector_limit() + heap.old_space.committed()).saturating_sub(heap.limit_committed());
    let Heap { new_space, old_space, pool, roots, platform, spans, sites, .. } = heap;
    // Ephemeron values are strong in a scavenge, their keys weak (dropped
    // below, with the weak handles, when not copied).
    let mut strong = roots.strong_for_scavenge();
    let job = Job {
        exclusive: tasks == 1,
        marking,
        after_marking,
        moving: flags::FROM_SPACE | flags::NEW_LARGE | if after_marking { flags::EVACUATION_CANDIDATE } else { 0 },
        copies: Mutex::new(Vec::new()),
        worklist: Worklist::new(tasks),
        new_space: Mutex::new(&mut *new_space),
        old_space: Mutex::new((&mut *old_space, &mut *pool)),
        old_space_limit,
        fillers,
        roots: strong.walk(),
        old_pages,
        page_cursor: AtomicUsize::new(0),
        stats: Mutex::new(ScavengeStats { tasks, ..Default::default() }),
        memento_map,
        site_count,
        found: Mutex::new(HashMap::new()),
        emptied: Mutex::new(Vec::new()),
    };
    platform.run_job(tasks, Phase::Scavenge, spans, &|id| {
        if let Some(local) = job.worklist.local(id) {
            Task {
                job: &job,
                copies: Vec::new(),
                local,
                to_lab: Lab::default(),
                old_lab: Lab::default(),
                stats: ScavengeStats::default(),
                found: FoundMementos::default(),
                emptied: Vec::new(),
            }
            .run(id);
        }
    });
    sites.add_found(&job.found.into_inner());
    release_empty_buckets(job.emptied.into_inner());
    (job.stats.into_inner(), job.copies.into_inner())
}

/// Frees the OLD_TO_NEW buckets the job's iterations left empty (unless a
/// task refilled one since), as V8's scavenger releases empty slot-set
/// buckets: the remembered set of the next scavenge then costs what it
/// holds, not every bucket ever installed (a splay-like old tree, whose
/// old-to-new pointers move around, otherwise ends up with buckets on every
/// page and scans all their cells at every scavenge).
fn release_empty_buckets(emptied: Vec<(Page, usize)>) {
    for (page, bucket) in emptied {
        // The job has joined, this is the pause's own thread, the background
        // sweepers and markers are paused (the collector's pause_workers),
        // and the mutator is this thread. Iteration and insertion take no
        // reference to a bucket beyond their own calls.
        // SAFETY: so no one else uses the slot set or holds its bucket.
        unsafe { page.header().old_to_new.release_if_empty(bucket) };
    }
}

/// Weak handles follow their targets' moves; those of dead young objects
/// are cleared (from-space is still intact, so a dead object's map word is
/// still readable).
fn update_weak_handles(heap: &mut Heap) {
    heap.roots.update(RootSet::WEAKS, |_, v| {
        if !v.is_heap_object() {
            return v;
        }
        // SAFETY: weak slots hold live or dead-but-unfreed young objects
        // (from-space is still intact) or live old objects.
        let obj = unsafe { HeapObject::from_tagged(v) };
        let page = obj.page();
        if page.has(flags::FROM_SPACE) {
            obj.forwarding_address().map_or(CLEARED, Tagged::from_address)
        } else if page.has(flags::NEW_LARGE) && !page.has(flags::LARGE_SURVIVED) {
            CLEARED
        } else {
            v
        }
    });
}

/// Young large objects: survivors become old by a flag flip, the rest go
/// back to the page pool.
fn promote_young_large_objects(heap: &mut Heap) {
    let Heap { new_lo_space, lo_space, pool, .. } = heap;
    for page in new_lo_space.pages.clone() {
        let size = new_lo_space.take(page);
        if page.has(flags::LARGE_SURVIVED) {
            // While marking compacts, the object's slots into candidates
            // are recorded already: young pages record OLD_TO_OLD slots as
            // old ones do (`Page::record_old_to_old`).
            page.make_old();
            lo_space.adopt(page, size);
        } else {
            pool.release(page);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::task_count;

    #[test]
    fn task_count_follows_semi_space_size_and_workers() {
        const MB: usize = 1 << 20;
        assert_eq!(task_count(MB, MB, 0, 8), 1);
        assert_eq!(task_count(256 << 10, MB, 0, 8), 1);
        assert_eq!(task_count(4 * MB, MB, 0, 8), 4);
        assert_eq!(task_count(4 * MB, MB, 0, 1), 2);
        assert_eq!(task_count(64 * MB, MB, 0, 64), 8);
        assert_eq!(task_count(16 * MB, MB, 0, 0), 1);
        assert_eq!(task_count(256 << 10, 64 << 10, 0, 8), 4);
        // A large remembered set asks for helpers of its own.
        let slots = super::SLOTS_PER_SCAVENGE_TASK;
        assert_eq!(task_count(MB, MB, slots - 1, 8), 1);
        assert_eq!(task_count(MB, MB, 3 * slots, 8), 3);
        assert_eq!(task_count(MB, MB, 3 * slots, 1), 2, "still at most the workers and the main thread");
        assert_eq!(task_count(4 * MB, MB, 2 * slots, 8), 4, "the larger of the two");
        assert_eq!(task_count(MB, MB, 1000 * slots, 64), 8);
    }
}

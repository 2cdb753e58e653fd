//! Compaction: evacuating fragmented old-space pages in parallel and
//! updating every pointer to the moved objects (V8's mark-compact; DESIGN
//! section 7, "Compaction").
//!
//! 1. **Candidates** are chosen when marking starts ([`Compactor::select_candidates`]):
//!    old-space pages whose free share is at least [`FREE_SHARE`] (or
//!    [`FREE_SHARE_REDUCING`] in a GC asked to reduce memory), fewest live
//!    bytes first, up to a byte budget that fits `HeapConfig::pause_target` at the
//!    measured evacuation speed. Nothing is chosen unless at least one page
//!    would be released. Map-space pages and pinned pages (`NEVER_EVACUATE`)
//!    never move. Candidates leave the free list, so nothing new lands on
//!    them.
//! 2. **Slot recording**: while marking, the marker and the write barrier
//!    record in the host page's OLD_TO_OLD slot set every slot of an old,
//!    non-candidate object that points into a candidate
//!    ([`Page::record_old_to_old`], a page fact the phases share); so does a
//!    scavenge that promotes a young large object by flipping its page
//!    (marking may have scanned it while it was young, and will not again).
//! 3. **Evacuation** ([`Compactor::compact`], in the finalization pause, after marking
//!    and weak clearing, before sweeping): tasks on the shared pool claim
//!    candidates; each moves the marked objects of its page into its own
//!    allocation area ([`forward_exclusive`]: one task owns a page's
//!    objects), marks the copy live, and records the copy's slots that point
//!    into new space (OLD_TO_NEW) or into candidates (OLD_TO_OLD,
//!    [`record_migrated_slots`]). A page whose objects do not all fit under
//!    the heap limit is *aborted*: what moved stays moved, the rest stays,
//!    and the page is swept instead of released.
//! 4. **Pointer updating** (a second parallel job, after the first joined):
//!    roots (local, global and weak handles, the string table) on task 0;
//!    page by page, every OLD_TO_OLD slot in a live host and the fields of
//!    the objects left on aborted or pinned pages ([`update_slot`]). Young
//!    objects are not walked here: the major GC's scavenge, which follows
//!    and scans every live young object anyway, resolves their pointers into
//!    evacuated pages ([`crate::evacuation::forwarded_if_evacuated`]).
//! 5. The evacuated pages leave the space, and go back to the page pool
//!    once that scavenge has read their forwarding words
//!    ([`Compactor::release_evacuated`]).
//!
//! The compactor's state between those steps (candidates, evacuated pages,
//! measured speed) is a [`Compactor`], owned by the GC driver. It imports no
//! other phase: what it needs of marking (which objects of a page are live)
//! and of sweeping (which slots lie in live objects) are page facts in
//! [`crate::heap::live_objects`].
//!
//! `GcMode::StopTheWorld` runs the same code in its single pause.

use crate::evacuation::{forward_exclusive, forwarded, load_map_word, record_migrated_slots, update_slot, RawMemory};
use crate::heap::live_objects::{slot_in_live_object, LiveObjects};
use crate::heap::old_space::{Lab, OldSpace};
use crate::heap::page::{flags, Page, PagePool, AREA_SIZE};
use crate::heap::remembered_set::SlotCallbackResult;
use crate::heap::{Heap, PAGE_SIZE, WORD};
use crate::object::{HeapObject, MapRef};
use crate::roots::RootSet;
use crate::sync::{AtomicUsize, Mutex, Ordering};
use crate::tracer::{Phase, PhaseTimer};
use std::time::Instant;

/// A page is a candidate when at least this share of it is free (V8: 70%).
pub(crate) const FREE_SHARE: f64 = 0.7;
/// ... or this share, in a GC asked to reduce memory (explicit or last
/// resort), with no byte budget: V8's reduce-memory threshold is 20%.
pub(crate) const FREE_SHARE_REDUCING: f64 = 0.2;
/// Evacuation speed assumed before one was measured, bytes per ms (a
/// conservative guess; the first compaction measures the real one).
const INITIAL_SPEED: f64 = 256.0 * 1024.0;
/// Pages handed to one evacuation task at least (tasks: candidates / this).
const PAGES_PER_TASK: usize = 2;

/// What one compaction did, reported in its GC event.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct CompactionStats {
    pub(crate) evacuated_pages: usize,
    pub(crate) evacuated_bytes: usize,
    pub(crate) aborted_pages: usize,
}

/// The compactor's state across one major GC: the candidates chosen when
/// its marking started, the pages it evacuated (released after the pause's
/// scavenge), and the measured evacuation speed that sizes the next budget.
#[derive(Default)]
pub(crate) struct Compactor {
    /// Evacuation candidates of the major GC whose marking runs.
    candidates: Vec<Page>,
    /// Pages the major GC in progress evacuated, released after its
    /// scavenge (which reads their forwarding words).
    evacuated: Vec<Page>,
    /// Candidates whose evacuation aborted in the major GC in progress: they
    /// stay, and stay flagged as candidates until its scavenge has updated
    /// the young objects pointing to what moved off them.
    aborted: Vec<Page>,
    /// Measured evacuation speed, bytes per ms (for the candidates' budget).
    speed: Option<f64>,
    /// What the last compaction did, for its GC event.
    last: CompactionStats,
}

impl Compactor {
    /// Were candidates chosen for the marking that runs (so marker, barrier
    /// and scavenger record slots into them)?
    pub(crate) fn is_compacting(&self) -> bool {
        !self.candidates.is_empty()
    }

    /// What the last compaction did (and forgets it).
    pub(crate) fn take_stats(&mut self) -> CompactionStats {
        std::mem::take(&mut self.last)
    }

    /// Chooses the evacuation candidates for the major GC whose marking
    /// starts now (`reducing`: the GC was asked to free memory).
    pub(crate) fn select_candidates(&mut self, heap: &mut Heap, reducing: bool) {
        debug_assert!(self.candidates.is_empty());
        if !heap.config.compaction {
            return;
        }
        let stress = heap.config.stress_compaction;
        let share = if stress {
            0.0
        } else if reducing {
            FREE_SHARE_REDUCING
        } else {
            FREE_SHARE
        };
        let mut eligible: Vec<(usize, Page)> = heap
            .old_space
            .pages
            .iter()
            .filter(|p| !p.has(flags::NEVER_EVACUATE | flags::BLACK_ALLOCATED))
            .filter(|p| stress || p.free_listed() as f64 >= share * AREA_SIZE as f64)
            .map(|&p| (AREA_SIZE - p.free_listed(), p))
            .collect();
        eligible.sort_by_key(|&(live, p)| (live, p.address()));
        let budget = if stress || reducing {
            usize::MAX
        } else {
            // Evacuation should fit the pause budget (V8 sizes its candidate
            // set by its measured compaction speed the same way).
            (self.speed.unwrap_or(INITIAL_SPEED) * heap.config.pause_target.as_secs_f64() * 1e3) as usize
        };
        let (mut chosen, mut bytes) = (Vec::new(), 0usize);
        for (live, page) in eligible {
            if bytes + live > budget && !chosen.is_empty() {
                break;
            }
            bytes += live;
            chosen.push(page);
        }
        // Skip compaction that would release nothing: the moved bytes would
        // fill as many pages as they empty.
        if !stress && chosen.len() <= bytes.div_ceil(AREA_SIZE) {
            return;
        }
        for &p in &chosen {
            p.set_flags(flags::EVACUATION_CANDIDATE);
        }
        heap.old_space.unlist_pages(|p| p.has(flags::EVACUATION_CANDIDATE));
        self.candidates = chosen;
    }

    /// Forgets the candidates (marking was abandoned; the atomic GC that
    /// follows chooses again). Their free memory comes back with their next
    /// sweep.
    pub(crate) fn drop_candidates(&mut self, heap: &Heap) {
        for p in std::mem::take(&mut self.candidates) {
            p.clear_flags(flags::EVACUATION_CANDIDATE);
        }
        for p in heap.old_gen_pages() {
            p.header().old_to_old.iterate(|_| SlotCallbackResult::Remove);
        }
    }
}

/// State of one evacuation job.
struct EvacuationJob<'h> {
    pages: &'h [Page],
    cursor: AtomicUsize,
    space: Mutex<(&'h mut OldSpace, &'h mut PagePool)>,
    /// Bytes the old generation may still grow by: evacuation may add pages
    /// up to the hard limit (`max_old_space_size`, which bounds the old
    /// generation only), never past it.
    headroom: usize,
    /// Old-space pages when the job started (growth is counted from here).
    pages_at_start: usize,
    moved: AtomicUsize,
    aborted: Mutex<Vec<Page>>,
}

impl EvacuationJob<'_> {
    /// Room for `size` bytes in `lab`, growing the space within the limit.
    fn allocate(&self, lab: &mut Lab, size: usize) -> Option<usize> {
        if let Some(a) = lab.allocate(size) {
            return Some(a);
        }
        let mut guard = self.space.lock();
        let (space, pool) = &mut *guard;
        let grown = space.pages.len() - self.pages_at_start;
        let can_grow = (grown + 1) * PAGE_SIZE <= self.headroom;
        space.allocate_in(lab, size, pool, can_grow)
    }

    /// Moves every marked object off `page`. `false` if it ran out of room.
    fn evacuate_page(&self, page: Page, lab: &mut Lab) -> bool {
        let marks = &page.header().marks;
        let (mut i, end) = (page.mark_index(page.area_start()), page.mark_index(page.area_end()));
        let mut moved = 0;
        let done = loop {
            let Some(j) = marks.next_set(i, end) else { break true };
            let addr = page.address() + j * WORD;
            let map_word = load_map_word(&RawMemory, addr);
            // SAFETY: a marked object on a candidate is live, and only this
            // task moves it, so its map word is still its map.
            let map = MapRef(unsafe { HeapObject::from_address(map_word) });
            // SAFETY: as above.
            let (size, fields) = unsafe { HeapObject::from_address(addr) }.size_and_tagged_range(map);
            i = j + size / WORD;
            let Some(to) = self.allocate(lab, size) else { break false };
            // SAFETY: `addr` is a live object of `size` bytes that only this
            // task moves, and nothing reads it during the phase; `to` is
            // fresh memory from this task's allocation area.
            unsafe { forward_exclusive(&RawMemory, addr, map_word, to, size / WORD) };
            moved += size;
            // SAFETY: the copy is complete.
            let copy = unsafe { HeapObject::from_address(to) };
            let dest = copy.page();
            // The copy is live, as an object allocated black is: its page
            // may be swept next, and counts it.
            dest.allocate_black(to, size);
            // Pointers into new space go to OLD_TO_NEW.
            for f in fields.clone() {
                let v = copy.field(f);
                // SAFETY: a field of a live object points to a live object.
                if v.is_heap_object() && unsafe { Page::of(v.address()) }.is_young() {
                    dest.header().old_to_new.insert(dest.slot_index(copy.slot(f)));
                }
            }
            let into_candidate = |target: usize| {
                // SAFETY: a field of a live object points to a live object.
                unsafe { Page::of(target) }.has(flags::EVACUATION_CANDIDATE)
            };
            let record = |slot: usize| dest.header().old_to_old.insert(dest.slot_index(slot));
            // SAFETY: the copy is this task's complete copy.
            unsafe { record_migrated_slots(&RawMemory, to, fields, into_candidate, record) };
        };
        // Relaxed: summed after the job's join.
        self.moved.fetch_add(moved, Ordering::Relaxed);
        done
    }
}

impl Compactor {
    /// Evacuates the candidates chosen when this GC's marking started and
    /// updates every pointer to what moved; releases the evacuated pages. Runs
    /// in the finalization pause after marking and weak clearing.
    pub(crate) fn compact(&mut self, heap: &mut Heap, timer: &mut PhaseTimer) {
        let mut candidates = std::mem::take(&mut self.candidates);
        if candidates.is_empty() {
            return;
        }
        // Pages pinned since they were chosen stay, like aborted ones: nothing
        // recorded their own slots, so their objects are updated one by one.
        let mut stay: Vec<Page> = Vec::new();
        candidates.retain(|&p| {
            let pinned = p.has(flags::NEVER_EVACUATE);
            if pinned {
                p.clear_flags(flags::EVACUATION_CANDIDATE);
                stay.push(p);
            }
            !pinned
        });
        let started = Instant::now();
        let workers = heap.gc_worker_cap();
        let tasks = candidates.len().div_ceil(PAGES_PER_TASK).clamp(1, workers + 1);
        let (moved, aborted) = timer.time(Phase::Evacuate, || {
            let headroom = heap.collector_limit().saturating_sub(heap.limit_committed());
            let Heap { old_space, pool, platform, spans, .. } = heap;
            let job = EvacuationJob {
                pages: &candidates,
                cursor: AtomicUsize::new(0),
                pages_at_start: old_space.pages.len(),
                space: Mutex::new((old_space, pool)),
                headroom,
                moved: AtomicUsize::new(0),
                aborted: Mutex::new(Vec::new()),
            };
            platform.run_job(tasks, Phase::Evacuate, spans, &|_| {
                let mut lab = Lab::default();
                loop {
                    // Relaxed: hands out page indices; the job's join publishes
                    // the results.
                    let i = job.cursor.fetch_add(1, Ordering::Relaxed);
                    let Some(&page) = job.pages.get(i) else { break };
                    if !job.evacuate_page(page, &mut lab) {
                        job.aborted.lock().push(page);
                    }
                }
                job.space.lock().0.retire(&mut lab);
            });
            (job.moved.into_inner(), job.aborted.into_inner())
        });
        let ms = started.elapsed().as_secs_f64() * 1e3;
        if moved > 0 && ms > 0.0 {
            let speed = moved as f64 / ms;
            self.speed = Some(self.speed.map_or(speed, |s| (s + speed) / 2.0));
        }
        for &page in &aborted {
            settle_aborted(page);
        }
        stay.extend(&aborted);
        // While still flagged, an aborted page's forwarded objects are
        // found by everything that resolves pointers into candidates: the
        // pointer updating here and the young objects' update by the
        // pause's scavenge (`evacuation::forwarded_if_evacuated`).
        timer.time(Phase::UpdatePointers, || update_pointers(heap, &stay));
        // The evacuated pages leave the space now; their memory (and the
        // forwarding words in it) stays until the pause's scavenge has updated
        // the young objects ([`release_evacuated`]).
        let mut evacuated = Vec::new();
        heap.old_space.pages.retain(|&p| {
            let gone = p.has(flags::EVACUATION_CANDIDATE) && !aborted.contains(&p);
            if gone {
                evacuated.push(p);
            }
            !gone
        });
        self.last =
            CompactionStats { evacuated_pages: evacuated.len(), evacuated_bytes: moved, aborted_pages: aborted.len() };
        self.evacuated = evacuated;
        self.aborted = aborted;
    }

    /// After the major GC's scavenge: the evacuated pages go back to the pool.
    pub(crate) fn release_evacuated(&mut self, heap: &mut Heap) {
        for p in std::mem::take(&mut self.evacuated) {
            heap.pool.release(p);
        }
        for p in std::mem::take(&mut self.aborted) {
            p.clear_flags(flags::EVACUATION_CANDIDATE);
        }
    }
}

/// An aborted candidate stays: the objects that moved off it are garbage
/// here now (their mark bits go), the rest stay, and the page is swept like
/// any other (its candidate flag goes after the pause's scavenge,
/// [`Compactor::release_evacuated`]).
fn settle_aborted(page: Page) {
    let marks = &page.header().marks;
    let (mut i, end) = (page.mark_index(page.area_start()), page.mark_index(page.area_end()));
    let mut live = 0;
    while let Some(j) = marks.next_set(i, end) {
        let addr = page.address() + j * WORD;
        let map_word = load_map_word(&RawMemory, addr);
        let target = crate::evacuation::forwarding_target(map_word);
        // SAFETY: a marked object: either still here, or forwarded to its
        // complete copy (which has the same size).
        let size = unsafe { HeapObject::from_address(target.unwrap_or(addr)) }.size();
        if target.is_some() {
            marks.clear(j);
        } else {
            live += size;
        }
        i = j + size / WORD;
    }
    page.set_live_bytes(live);
}

/// Updates every tagged field of `o`.
fn update_fields(o: HeapObject) {
    let map = MapRef(o.map());
    for f in o.tagged_range(map) {
        // SAFETY: a field of a live object.
        unsafe { update_slot(&RawMemory, o.slot(f)) };
    }
}

/// Is `slot` (recorded in `page`'s OLD_TO_OLD set) inside a live object?
fn slot_is_live(page: Page, slot: usize) -> bool {
    if page.has(flags::BLACK_ALLOCATED) {
        // Everything on a black page counts as live (slots are recorded
        // only in objects).
        return true;
    }
    if page.has(flags::LARGE) {
        return page.header().marks.is_set(page.mark_index(page.area_start()));
    }
    slot_in_live_object(page, slot)
}

/// What one updating task does with one page.
#[derive(Clone, Copy)]
enum UpdateItem {
    /// An old page: its OLD_TO_OLD slots (cleared afterwards).
    Slots(Page),
    /// An aborted or pinned candidate: the fields of its live objects.
    Objects(Page),
}

/// Pointer updating, in parallel: roots on task 0; pages split among tasks.
/// `stay`: candidates that keep (some of) their objects (aborted or pinned).
fn update_pointers(heap: &mut Heap, stay: &[Page]) {
    // Each page is one item, so each slot has one updating task. (`stay`
    // pages have no OLD_TO_OLD slots: nothing records into a candidate.)
    let mut items: Vec<UpdateItem> = heap
        .old_gen_pages()
        .filter(|p| !p.has(flags::EVACUATION_CANDIDATE) && !stay.contains(p))
        .map(UpdateItem::Slots)
        .collect();
    items.extend(stay.iter().copied().map(UpdateItem::Objects));
    let tasks = (items.len() / 16).clamp(1, heap.gc_worker_cap() + 1);
    let cursor = AtomicUsize::new(0);
    let Heap { roots, platform, spans, .. } = heap;
    let mut strong = roots.strong();
    let walk = strong.walk();
    platform.run_job(tasks, Phase::UpdatePointers, spans, &|id| {
        walk.visit(id, forwarded);
        loop {
            // Relaxed: hands out item indices.
            let i = cursor.fetch_add(1, Ordering::Relaxed);
            let Some(&item) = items.get(i) else { break };
            match item {
                UpdateItem::Slots(page) => {
                    page.header().old_to_old.iterate(|slot| {
                        let addr = page.slot_address(slot);
                        if slot_is_live(page, addr) {
                            // SAFETY: a field of a live object.
                            unsafe { update_slot(&RawMemory, addr) };
                        }
                        SlotCallbackResult::Remove
                    });
                }
                UpdateItem::Objects(page) => LiveObjects::of(page).for_each(update_fields),
            }
        }
    });
    drop(strong);
    // Weak handles and the string table, on the isolate's thread (the
    // table is not shared with the tasks).
    roots.update(RootSet::WEAK, |_, v| forwarded(v));
}

//! The allocation slow path: what the driver does when the heap's fast
//! path ([`Heap::allocate_fast`]) misses.
//!
//! First the safepoint's major-GC work (a marking step, the start or the
//! finalization of a cycle). Then attempts in V8's order, each after the
//! last failed: a paged space takes its free list, the pages the sweepers
//! finished, one page swept here, a new page, and only then the rest of the
//! sweeping; when every attempt fails, collections escalate (scavenges,
//! a major GC, a last-resort memory-reducing one), then the near-heap-limit
//! callback may raise the limit, and finally the allocation fails with
//! `Err(OutOfMemory)`.

use super::Collector;
use crate::error::AllocError;
use crate::heap::{Heap, Space, MAX_REGULAR_OBJECT_SIZE};
use crate::marking;
use crate::object::{write_filler, HeapObject};
use crate::sweeper;
use crate::tracer::GcReason;

/// Growth of the old generation between two safepoints of old-space
/// allocations (V8's old-generation allocation observer step for
/// incremental marking, `kMajorGCOldGenerationAllocationObserverStep`: 256 KB).
pub(crate) const SAFEPOINT_OLD_BYTES: usize = 256 << 10;

/// One escalation step of a failing allocation.
#[derive(Clone, Copy)]
enum Step {
    Minor,
    /// A major GC (finalizing a marking cycle in progress).
    Major,
    /// A memory-reducing atomic major GC: the last resort.
    LastResort,
    /// The near-heap-limit callback.
    Callback,
}

impl Collector {
    /// Allocates `size` bytes (a multiple of the word size) in `space`,
    /// collecting as needed. The memory is uninitialised: the caller writes
    /// the map and every field before the next allocation.
    #[cold]
    #[inline(never)]
    pub(crate) fn allocate_slow(
        &mut self,
        heap: &mut Heap,
        size: usize,
        space: Space,
    ) -> Result<HeapObject, AllocError> {
        let r = self.allocate_collecting(heap, size, space);
        if self.callbacks.has_pending_panic() {
            // A GC callback panicked in a pause on the way (the pause went
            // on). The allocation is given up as garbage, a filler keeping
            // its page iterable, before the panic is raised again.
            if let Ok(o) = &r {
                write_filler(o.address(), size, heap.ro_roots.free_space_map, heap.ro_roots.filler_map);
            }
            self.callbacks.raise_pending_panic();
        }
        r
    }

    /// [`Self::allocate_slow`], without the check for a GC callback's
    /// panic.
    fn allocate_collecting(&mut self, heap: &mut Heap, size: usize, space: Space) -> Result<HeapObject, AllocError> {
        self.check_usable(heap.id);
        heap.rearm_cleanup_reserve();
        if size > heap.hard_limit {
            return Err(oom(heap, size));
        }
        // The safepoint's major-GC work runs at every young slow path (a
        // new allocation area) and, for the old generation, once it changed
        // by [`SAFEPOINT_OLD_BYTES`] since the last safepoint (bumps in old
        // space's area included): V8 steps incremental marking from
        // allocation observers every 256 KB of old-generation allocation
        // (64 KB of young), not per object, and an old-space area may be a
        // few bytes long on a fragmented page.
        if space == Space::Young || heap.old_gen_size().abs_diff(self.old_gen_at_safepoint) >= SAFEPOINT_OLD_BYTES {
            self.safepoint(heap);
            self.old_gen_at_safepoint = heap.old_gen_size();
        }
        // What to try, in order, when an attempt fails. A young allocation
        // gets a second scavenge before any full GC: the survivors that
        // filled to-space are below the age mark now and get promoted.
        let young = space == Space::Young && size <= MAX_REGULAR_OBJECT_SIZE;
        let young_large = space == Space::Young && !young;
        let mut steps: &[Step] = if young {
            &[Step::Minor, Step::Minor, Step::LastResort, Step::Callback]
        } else if young_large {
            // Young large objects are bounded by new space's capacity: a
            // scavenge promotes the survivors (by page flip) and frees the
            // dead, before a full GC is tried.
            &[Step::Minor, Step::Major, Step::LastResort, Step::Callback]
        } else {
            &[Step::Major, Step::LastResort, Step::Callback]
        };
        loop {
            if let Some(a) = self.try_allocate(heap, size, space) {
                if space != Space::Young && self.marking.is_some() {
                    marking::allocate_black(a, size);
                }
                return Ok(Heap::object_at(a));
            }
            // After an `OutOfMemory`, a young allocation that new space
            // cannot serve (its survivors have nowhere to go) takes the
            // clean-up reserve in old space directly, as a pretenured one.
            if young && !heap.cleanup_reserve_held {
                if let Some(a) = self.try_allocate(heap, size, Space::Old) {
                    if self.marking.is_some() {
                        marking::allocate_black(a, size);
                    }
                    return Ok(Heap::object_at(a));
                }
            }
            let Some((&step, rest)) = steps.split_first() else { return Err(oom(heap, size)) };
            steps = rest;
            let reason = GcReason::AllocationFailure;
            match step {
                // A scavenge cannot help once the old generation is over its
                // hard limit (it only adds to it).
                Step::Minor if heap.old_gen_committed() > heap.hard_limit => self.collect_major(heap, reason, false),
                Step::Minor => self.collect_minor(heap, reason),
                Step::Major => self.collect_major(heap, reason, false),
                Step::LastResort => {
                    self.collect_major(heap, GcReason::LastResort, true);
                    if young && self.kept_young {
                        self.collect_minor(heap, reason);
                    }
                }
                Step::Callback => {
                    if !self.ask_near_heap_limit_callback(heap) {
                        return Err(oom(heap, size));
                    }
                    // A young allocation needs a scavenge to use the raised
                    // limit: the survivors filling to-space stayed young
                    // while the old generation was at its limit.
                    if young {
                        steps = &[Step::Minor, Step::Callback];
                    }
                }
            }
        }
    }

    /// One allocation attempt without GC. Paged spaces go in V8's order
    /// while sweeping is in progress: the free list; the pages sweepers
    /// finished; one page swept here; a new page; the rest of the sweeping.
    fn try_allocate(&mut self, heap: &mut Heap, size: usize, space: Space) -> Option<usize> {
        if heap.old_gen_committed() > heap.hard_limit {
            return None;
        }
        if !Heap::is_paged(size, space) {
            return heap.try_allocate(size, space, true);
        }
        if let Some(a) = heap.try_allocate(size, space, false) {
            return Some(a);
        }
        if let Some(s) = self.sweeping.as_mut() {
            if s.harvest(heap.paged_space(space).0) {
                if let Some(a) = heap.try_allocate(size, space, false) {
                    return Some(a);
                }
            }
            if self.sweep_one_page(heap, space) {
                if let Some(a) = heap.try_allocate(size, space, false) {
                    return Some(a);
                }
            }
        }
        if let Some(a) = heap.try_allocate(size, space, true) {
            return Some(a);
        }
        if self.sweeping.is_some() {
            self.sweeping_pause(heap, GcReason::AllocationFailure, |gc, heap| {
                sweeper::finish(heap, &mut gc.sweeping);
                true
            });
            return heap.try_allocate(size, space, true);
        }
        None
    }

    /// Lazy sweeping: one page of `space` swept on the allocating thread, a
    /// recorded pause. `false` if no page of `space` was left to claim.
    fn sweep_one_page(&mut self, heap: &mut Heap, space: Space) -> bool {
        self.sweeping_pause(heap, GcReason::AllocationStep, |gc, heap| {
            let Some(s) = gc.sweeping.as_mut() else { return false };
            let swept = s.sweep_one_page(heap.paged_space(space).0);
            sweeper::end_if_complete(heap, &mut gc.sweeping);
            swept
        })
    }

    /// Gives the embedder a chance to raise the hard limit. `true` if it did.
    fn ask_near_heap_limit_callback(&mut self, heap: &mut Heap) -> bool {
        let Some(cb) = self.near_heap_limit_callback.as_mut() else { return false };
        let new_limit = cb(heap.hard_limit, heap.config.max_old_space_size);
        if new_limit > heap.hard_limit {
            heap.hard_limit = new_limit;
            true
        } else {
            false
        }
    }
}

/// The error for a failed allocation of `requested` bytes; the clean-up
/// reserve becomes usable for what the runtime allocates next.
fn oom(heap: &mut Heap, requested: usize) -> AllocError {
    heap.release_cleanup_reserve();
    AllocError::OutOfMemory { requested, old_generation: heap.old_gen_committed(), limit: heap.hard_limit }
}

//! Limits and sizing: when the next major GC starts, and how big new space
//! is (V8's heap controller and `Heap::ResizeNewSpace`).

use crate::heap::{Heap, PAGE_SIZE};
use std::time::Instant;

/// Smallest step between the live size and the next major-GC trigger.
const MIN_LIMIT_STEP: usize = 2 * PAGE_SIZE * 4;

/// Below this new-space allocation rate (bytes per ms) new space shrinks
/// (V8's `kLowAllocationThroughput`).
const LOW_ALLOCATION_RATE: f64 = 1000.0;

/// The old generation's trigger and the semi-space sizing state.
pub(super) struct Controller {
    /// Old-generation size that triggers the next major GC.
    old_gen_limit: usize,
    /// Bytes that survived scavenges since the semi-space last grew.
    survived_since_resize: usize,
    /// End of the previous scavenge, for the allocation rate.
    last_scavenge: Instant,
}

impl Controller {
    pub(super) fn new(initial_old_gen_limit: usize) -> Controller {
        Controller { old_gen_limit: initial_old_gen_limit, survived_since_resize: 0, last_scavenge: Instant::now() }
    }

    /// Old-generation size that triggers the next major GC.
    pub(super) fn old_gen_limit(&self) -> usize {
        self.old_gen_limit
    }

    /// Has an old generation of `old_gen` bytes reached the limit?
    pub(super) fn reached_limit(&self, old_gen: usize) -> bool {
        old_gen >= self.old_gen_limit
    }

    /// Has it reached the soft limit, three quarters of the limit, where
    /// concurrent marking starts (so it usually finishes first)?
    pub(super) fn reached_soft_limit(&self, old_gen: usize) -> bool {
        old_gen >= self.old_gen_limit - self.old_gen_limit / 4
    }

    /// After a major GC: next trigger at `live * factor` (live = bytes of
    /// old-generation objects after sweeping, not committed pages, which
    /// fragmentation inflates), at least a few pages above live, at most the
    /// hard limit.
    pub(super) fn update_old_gen_limit(&mut self, heap: &Heap) {
        let live = heap.old_gen_size();
        let grown = (live as f64 * heap.config.old_gen_growth_factor) as usize;
        self.old_gen_limit = grown
            .max(live + MIN_LIMIT_STEP)
            .max(heap.config.initial_old_space_size.min(heap.hard_limit))
            .min(heap.hard_limit);
    }

    /// Semi-space sizing, as V8 does it: double (up to the maximum) once more
    /// bytes survived scavenges since the last resize than a semi-space
    /// holds; shrink toward the minimum when the mutator allocates slowly
    /// (under 1 KB/ms). Takes effect at the next flip.
    pub(super) fn resize_new_space(&mut self, heap: &mut Heap, allocated: usize, survived: usize) {
        let now = Instant::now();
        let ms = now.duration_since(self.last_scavenge).as_secs_f64() * 1e3;
        self.last_scavenge = now;
        self.survived_since_resize += survived;
        let cap = heap.new_space.capacity();
        let (min, max) = (heap.config.min_semi_space_size, heap.config.max_semi_space_size);
        if self.survived_since_resize > cap && cap < max {
            heap.new_space.set_capacity((cap * 2).min(max));
            self.survived_since_resize = 0;
        } else if cap > min && ms > 0.0 && (allocated as f64 / ms) < LOW_ALLOCATION_RATE {
            let target = (2 * survived).next_power_of_two().clamp(min, cap);
            if target < cap {
                heap.new_space.set_capacity(target);
                self.survived_since_resize = 0;
            }
        }
    }
}

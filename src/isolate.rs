//! The isolate: one heap, owned by one thread.

use crate::collector::{Collector, GcRequest};
use crate::config::HeapConfig;
use crate::error::{AllocError, ConfigError};
use crate::heap::allocation_site::{AllocationSite, AllocationSiteStats};
use crate::heap::{Heap, Space};
use crate::object::HeapObject;
use crate::platform::Platform;
use crate::sync::unmodeled::{AtomicU32, Ordering};
use crate::tracer::GcEvent;
use std::marker::PhantomData;
use std::time::Duration;

pub use crate::gc_callbacks::{GcCallbackId, GcCallbackInfo};
pub use crate::heap::{HeapStats, MemoryUsage, ObjectCounts, SpaceObjects, SpaceStats};

static NEXT_ISOLATE_ID: AtomicU32 = AtomicU32::new(1);

/// An isolated heap and the thread that owns it.
///
/// `Isolate` is `!Send + !Sync`: it lives and dies on the thread that created
/// it. "Stopping the world" for its GCs pauses only that thread; other
/// isolates, on other threads, keep running. All isolates of a process share
/// the [`Platform`]'s worker pool.
pub struct Isolate {
    /// The collector's state. Declared before the heap, so it is dropped
    /// first: its background markers and sweepers are stopped before a
    /// single page goes away.
    pub(crate) gc: Collector,
    pub(crate) heap: Box<Heap>,
    _not_send: PhantomData<*mut ()>,
}

impl Isolate {
    /// Creates an isolate with its own heap, sharing `platform`'s workers.
    pub fn new(platform: &Platform, config: HeapConfig) -> Result<Isolate, ConfigError> {
        config.validate()?;
        // Relaxed: the counter only has to hand out unique ids.
        let id = NEXT_ISOLATE_ID.fetch_add(1, Ordering::Relaxed);
        let initial = config.min_semi_space_size;
        let gc = Collector::new(config.initial_old_space_size, config.gc_event_history);
        let heap =
            Heap::new(id, config, platform.clone(), gc.tracer.origin()).ok_or(ConfigError::InitialHeap(initial))?;
        Ok(Isolate { gc, heap: Box::new(heap), _not_send: PhantomData })
    }

    /// Allocates `size` bytes (a multiple of the word size) in `space`:
    /// the heap's bump-pointer fast path, else the collector's slow path.
    /// The memory is uninitialised: the caller writes the map and every
    /// field before the next allocation.
    #[inline]
    pub(crate) fn allocate(&mut self, size: usize, space: Space) -> Result<HeapObject, AllocError> {
        match self.heap.allocate_fast(size, space) {
            Some(o) => Ok(o),
            None => self.gc.allocate_slow(&mut self.heap, size, space),
        }
    }

    /// A new allocation site named `name` (for diagnostics), to pass to
    /// the `_at` allocation calls of [`crate::HandleScope`]. A site lives
    /// until the isolate is dropped, costing
    /// [`AllocationSite::REGISTRY_BYTES`] plus its name; make one
    /// per site in the runtime's code, not one per object.
    pub fn new_allocation_site(&mut self, name: &str) -> AllocationSite {
        self.heap.sites.create(self.heap.id, name)
    }

    /// Every allocation site of this isolate, in creation order, with its
    /// counts and pretenuring decision.
    pub fn allocation_sites(&self) -> Vec<AllocationSiteStats> {
        self.heap.sites.stats()
    }

    /// This isolate's id (unique in the process); handles carry it.
    pub fn id(&self) -> u32 {
        self.heap.id
    }

    /// The configuration the isolate was created with.
    pub fn config(&self) -> &HeapConfig {
        &self.heap.config
    }

    /// Runs the collection `request` asks for now: `Minor` scavenges the
    /// young generation, `Major` collects the whole heap at once (see
    /// [`GcRequest`] for the others). Recorded events have reason
    /// [`crate::GcReason::Requested`].
    ///
    /// # Panics
    /// If an earlier GC of this isolate panicked (its heap may be
    /// half-collected).
    pub fn collect_garbage(&mut self, request: GcRequest) {
        self.gc.request(&mut self.heap, request);
    }

    /// Used, committed and peak committed bytes; cheap enough to call often.
    pub fn memory_usage(&self) -> MemoryUsage {
        MemoryUsage {
            used: self.heap.size_of_objects(),
            committed: self.heap.committed(),
            peak_committed: self.heap.pool.peak(),
        }
    }

    /// Per-space statistics (used, committed, available bytes) and the
    /// heap's counters (handles, GCs, limits), in time proportional to the
    /// number of spaces and pages: no object is visited. Object counts come
    /// from [`Isolate::heap_object_counts`], which walks the heap.
    pub fn heap_stats(&self) -> HeapStats {
        self.gc.stats(&self.heap)
    }

    /// Objects and their bytes per space, fillers not counted: a walk over
    /// every object of the heap (time proportional to the objects; the
    /// background sweepers wait meanwhile). For tests and diagnostics; the
    /// cheap figures are in [`Isolate::heap_stats`].
    pub fn heap_object_counts(&self) -> ObjectCounts {
        self.gc.object_counts(&self.heap)
    }

    /// Is a concurrent marking cycle in progress (started, not yet
    /// finalized)? The write barrier shades stores meanwhile. Always `false`
    /// between pauses in [`crate::GcMode::StopTheWorld`]. One load.
    #[inline]
    pub fn is_marking(&self) -> bool {
        self.gc.marking.is_some()
    }

    /// Is the sweeping of the last major GC still in progress (pages whose
    /// free memory has not reached the free lists yet)? It ends as
    /// allocation sweeps or takes the last pages, with
    /// [`GcRequest::FinishSweeping`], or before the next marking starts.
    /// One load.
    #[inline]
    pub fn is_sweeping(&self) -> bool {
        self.gc.sweeping.is_some()
    }

    /// Every GC event the history keeps, oldest first: up to
    /// [`HeapConfig::gc_event_history`] (default 4,096) of the most recent.
    ///
    /// Costs a clone of each event with its phases and spans (the history's
    /// [`GcEvent::heap_bytes`] in allocations; about 20 ms for a full
    /// history of 65,536 scavenges, 22 MiB, `cargo bench --bench
    /// observability`). A reader that polls should take only
    /// what is new: [`Isolate::gc_events_since`] or
    /// [`Isolate::gc_event_iter`].
    pub fn gc_events(&self) -> Vec<GcEvent> {
        self.gc.tracer.events_since(0).map(|(_, e)| e.clone()).collect()
    }

    /// The events numbered `n` or later that the history still keeps,
    /// oldest first, and the number the next event will get (pass it as `n`
    /// next time). Events are numbered from 0 for the isolate's first; if the
    /// first one returned is numbered above `n` (see
    /// [`Isolate::gc_event_iter`]), the ring dropped those between. Clones
    /// only the events returned.
    pub fn gc_events_since(&self, n: u64) -> (Vec<GcEvent>, u64) {
        let events = self.gc.tracer.events_since(n).map(|(_, e)| e.clone()).collect();
        (events, self.gc.tracer.next_sequence())
    }

    /// The events numbered `n` or later that the history still keeps,
    /// oldest first, each with its number, borrowed from the history (no
    /// clone). Finding where to start costs nothing per event skipped.
    pub fn gc_event_iter(&self, n: u64) -> impl ExactSizeIterator<Item = (u64, &GcEvent)> + '_ {
        self.gc.tracer.events_since(n)
    }

    /// The number the next GC event will get: how many this isolate has
    /// recorded, kept or dropped.
    pub fn next_gc_event(&self) -> u64 {
        self.gc.tracer.next_sequence()
    }

    /// Time since the isolate was created: the clock every [`GcEvent`]'s and
    /// [`crate::GcSpan`]'s `start` is measured on.
    pub fn elapsed(&self) -> Duration {
        self.gc.tracer.since_origin(std::time::Instant::now())
    }

    /// Number of GCs of each kind so far: `(minor, major)`.
    pub fn gc_counts(&self) -> (u64, u64) {
        (self.gc.tracer.minor_count, self.gc.tracer.major_count)
    }

    /// Sum of all GC pauses so far.
    pub fn total_gc_pause(&self) -> Duration {
        self.gc.tracer.total_pause
    }

    /// Installs a callback asked before an allocation fails for lack of
    /// memory: it gets `(current_limit, initial_limit)` and returns a new hard
    /// limit for the old generation. Returning a value no larger than
    /// `current_limit` lets the allocation fail with `Err(OutOfMemory)`.
    pub fn set_near_heap_limit_callback(&mut self, cb: impl FnMut(usize, usize) -> usize + 'static) {
        self.gc.near_heap_limit_callback = Some(Box::new(cb));
    }

    /// Removes the near-heap-limit callback (a limit it raised stays).
    pub fn remove_near_heap_limit_callback(&mut self) {
        self.gc.near_heap_limit_callback = None;
    }

    /// Registers `cb` to be called on this thread at the start of every
    /// recorded GC pause (V8's `AddGCPrologueCallback`): scavenges, major
    /// GCs, and in [`crate::GcMode::Concurrent`] the marking start and step
    /// pauses and the lazy sweeping steps (tell them apart by
    /// [`GcCallbackInfo::kind`]). Callbacks run in registration order, on
    /// the isolate's thread, as part of the stop (their time is not in the
    /// event's `pause`): keep them short.
    ///
    /// A callback cannot re-enter the collector: it sees only the
    /// [`GcCallbackInfo`], and, being `'static`, cannot hold the isolate, so
    /// an allocation or a GC of its isolate from inside does not compile:
    ///
    /// ```compile_fail
    /// # use isogc::*;
    /// # let platform = Platform::new(1).unwrap();
    /// let mut isolate = Isolate::new(&platform, HeapConfig::default()).unwrap();
    /// let me = &mut isolate;
    /// isolate.add_gc_prologue_callback(move |_| me.collect_garbage(GcRequest::Minor));
    /// ```
    ///
    /// If it panics (an isolate shared through a `RefCell` is borrowed for
    /// the GC, so reaching it from inside panics), the GC still completes and
    /// the isolate stays usable; the panic is raised again, with a message
    /// saying what was misused, when the call that ran the GC returns.
    pub fn add_gc_prologue_callback(&mut self, cb: impl FnMut(&GcCallbackInfo<'_>) + 'static) -> GcCallbackId {
        self.gc.callbacks.add_prologue(Box::new(cb))
    }

    /// Registers `cb` to be called on this thread at the end of every
    /// recorded GC pause (V8's `AddGCEpilogueCallback`), with the event the
    /// pause recorded in [`GcCallbackInfo::event`] (also when the history
    /// keeps none, so a callback can stream every event). Otherwise as
    /// [`Isolate::add_gc_prologue_callback`].
    pub fn add_gc_epilogue_callback(&mut self, cb: impl FnMut(&GcCallbackInfo<'_>) + 'static) -> GcCallbackId {
        self.gc.callbacks.add_epilogue(Box::new(cb))
    }

    /// Removes the GC prologue or epilogue callback `id`. `false` if it was
    /// removed already.
    pub fn remove_gc_callback(&mut self, id: GcCallbackId) -> bool {
        self.gc.callbacks.remove(id)
    }
}

impl std::fmt::Debug for Isolate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Isolate").field("id", &self.heap.id).finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use crate::heap::WALKS;
    use crate::{GcRequest, HandleScope, HeapConfig, Isolate, Platform};

    fn walks() -> u64 {
        WALKS.with(|w| w.get())
    }

    #[test]
    fn heap_stats_do_not_walk_the_heap_and_object_counts_do() {
        let platform = Platform::new(1).unwrap();
        let mut isolate = Isolate::new(&platform, HeapConfig::default()).unwrap();
        let _keep = {
            let mut s = HandleScope::new(&mut isolate);
            let a = s.new_fixed_array(100).unwrap();
            for i in 0..100 {
                let b = s.new_fixed_array(4).unwrap();
                s.set(a, i, b);
            }
            s.global(a)
        };
        isolate.collect_garbage(GcRequest::Major);
        let before = walks();
        let stats = isolate.heap_stats();
        assert_eq!(walks(), before, "heap_stats walked the heap");
        assert!(stats.used > 0);
        let counts = isolate.heap_object_counts();
        assert_eq!(walks(), before + 1);
        let all: usize = counts.spaces.iter().map(|s| s.objects).sum();
        assert!(all >= 101 + 16, "the arrays and the read-only objects: {counts:?}");
    }
}

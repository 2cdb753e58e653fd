//! The isolate: one heap, owned by one thread.

use crate::config::HeapConfig;
use crate::error::ConfigError;
use crate::heap::Heap;
use crate::platform::Platform;
use crate::sync::unmodeled::{AtomicU32, Ordering};
use crate::tracer::{GcEvent, GcKind, GcReason};
use std::marker::PhantomData;
use std::time::Duration;

static NEXT_ISOLATE_ID: AtomicU32 = AtomicU32::new(1);

/// An isolated heap and the thread that owns it.
///
/// `Isolate` is `!Send + !Sync`: it lives and dies on the thread that created
/// it. "Stopping the world" for its GCs pauses only that thread; other
/// isolates, on other threads, keep running. All isolates of a process share
/// the [`Platform`]'s worker pool.
pub struct Isolate {
    pub(crate) heap: Box<Heap>,
    _not_send: PhantomData<*mut ()>,
}

/// Statistics of one space (like an entry of V8's `getHeapSpaceStatistics()`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpaceStats {
    /// Space name, as V8 names it (`new_space`, `old_space`, …).
    pub name: &'static str,
    /// Bytes of objects.
    pub used: usize,
    /// Bytes of pages held by the space.
    pub committed: usize,
    /// Bytes allocatable without growing the space.
    pub available: usize,
    /// Number of objects (fillers not counted).
    pub objects: usize,
}

/// How much memory the heap uses, cheaply (no heap walk; like the heap
/// figures of `process.memoryUsage()`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryUsage {
    /// Bytes of objects, all spaces but read-only.
    pub used: usize,
    /// Bytes of pages in use by the heap.
    pub committed: usize,
    /// The most bytes of pages the heap has ever had in use at once.
    pub peak_committed: usize,
}

/// A snapshot of the heap (like `process.memoryUsage()` plus per-space
/// statistics).
#[derive(Clone, Debug)]
pub struct HeapStats {
    /// Per space.
    pub spaces: Vec<SpaceStats>,
    /// Bytes of objects, all spaces.
    pub used: usize,
    /// Bytes of pages in use by the heap.
    pub committed: usize,
    /// Bytes of free pages kept for reuse.
    pub pooled: usize,
    /// Old-generation size at which the next major GC starts.
    pub old_generation_limit: usize,
    /// The hard old-generation limit.
    pub max_old_generation: usize,
    /// Live local handles.
    pub local_handles: usize,
    /// Live global handles.
    pub global_handles: usize,
    /// Live weak handles (cleared or not).
    pub weak_handles: usize,
    /// Entries in the string table.
    pub interned_strings: usize,
    /// Scavenges so far.
    pub minor_gcs: u64,
    /// Full GCs so far.
    pub major_gcs: u64,
    /// Sum of all GC pauses.
    pub total_pause: Duration,
    /// Old-generation pages the last major GC left to sweep whose free
    /// memory has not reached the free lists yet (0 once sweeping is
    /// complete).
    pub pages_pending_sweep: usize,
}

impl HeapStats {
    /// The statistics of the space called `name`.
    pub fn space(&self, name: &str) -> Option<&SpaceStats> {
        self.spaces.iter().find(|s| s.name == name)
    }
}

impl Isolate {
    /// Creates an isolate with its own heap, sharing `platform`'s workers.
    pub fn new(platform: &Platform, config: HeapConfig) -> Result<Isolate, ConfigError> {
        config.validate()?;
        // Relaxed: the counter only has to hand out unique ids.
        let id = NEXT_ISOLATE_ID.fetch_add(1, Ordering::Relaxed);
        let initial = config.min_semi_space_size;
        let heap = Heap::new(id, config, platform.clone()).ok_or(ConfigError::InitialHeap(initial))?;
        Ok(Isolate { heap: Box::new(heap), _not_send: PhantomData })
    }

    /// This isolate's id (unique in the process); handles carry it.
    pub fn id(&self) -> u32 {
        self.heap.id
    }

    /// The configuration the isolate was created with.
    pub fn config(&self) -> &HeapConfig {
        &self.heap.config
    }

    /// Runs a GC now: `Minor` scavenges the young generation, `Major` marks
    /// and sweeps the whole heap (and evacuates the young generation).
    pub fn collect_garbage(&mut self, kind: GcKind) {
        self.heap.collect(kind, GcReason::Requested);
    }

    /// Used, committed and peak committed bytes; cheap enough to call often.
    pub fn memory_usage(&self) -> MemoryUsage {
        MemoryUsage {
            used: self.heap.size_of_objects(),
            committed: self.heap.committed(),
            peak_committed: self.heap.pool.peak(),
        }
    }

    /// Per-space statistics. Walks the heap to count objects.
    pub fn heap_stats(&self) -> HeapStats {
        self.heap.stats()
    }

    /// The most recent GC events (up to 65,536), oldest first.
    pub fn gc_events(&self) -> Vec<GcEvent> {
        self.heap.tracer.events().cloned().collect()
    }

    /// Time since the isolate was created: the clock every [`GcEvent`]'s and
    /// [`crate::GcSpan`]'s `start` is measured on.
    pub fn elapsed(&self) -> Duration {
        self.heap.tracer.since_origin(std::time::Instant::now())
    }

    /// Number of GCs of each kind so far: `(minor, major)`.
    pub fn gc_counts(&self) -> (u64, u64) {
        (self.heap.tracer.minor_count, self.heap.tracer.major_count)
    }

    /// Sum of all GC pauses so far.
    pub fn total_gc_pause(&self) -> Duration {
        self.heap.total_pause()
    }

    /// Installs a callback asked before an allocation fails for lack of
    /// memory: it gets `(current_limit, initial_limit)` and returns a new hard
    /// limit for the old generation. Returning a value no larger than
    /// `current_limit` lets the allocation fail with `Err(OutOfMemory)`.
    pub fn set_near_heap_limit_callback(&mut self, cb: impl FnMut(usize, usize) -> usize + 'static) {
        self.heap.near_heap_limit_callback = Some(Box::new(cb));
    }

    /// Removes the near-heap-limit callback (a limit it raised stays).
    pub fn remove_near_heap_limit_callback(&mut self) {
        self.heap.near_heap_limit_callback = None;
    }
}

impl std::fmt::Debug for Isolate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Isolate").field("id", &self.heap.id).finish_non_exhaustive()
    }
}

//! Heap statistics, as the spaces report them (like V8's
//! `getHeapSpaceStatistics()` and `process.memoryUsage()`).

use std::time::Duration;

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
}

/// Objects of one space, counted by a heap walk
/// ([`crate::Isolate::heap_object_counts`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpaceObjects {
    /// Space name, as in [`SpaceStats::name`].
    pub name: &'static str,
    /// Number of objects (fillers not counted).
    pub objects: usize,
    /// Their bytes (for a page still waiting for the sweeper: of the
    /// objects marking found live, as [`SpaceStats::used`]).
    pub bytes: usize,
}

/// Objects per space, from a walk over the whole heap: time proportional to
/// the number of objects ([`crate::Isolate::heap_object_counts`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectCounts {
    /// Per space, in the order of [`HeapStats::spaces`].
    pub spaces: Vec<SpaceObjects>,
}

impl ObjectCounts {
    /// The number of objects of the space called `name` (0 for a name no
    /// space has).
    pub fn objects(&self, name: &str) -> usize {
        self.space(name).map_or(0, |s| s.objects)
    }

    /// The counts of the space called `name`.
    pub fn space(&self, name: &str) -> Option<&SpaceObjects> {
        self.spaces.iter().find(|s| s.name == name)
    }
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
    /// Ephemeron tables, WeakRefs and finalization registries, with their
    /// weak edges.
    pub weak: crate::WeakStats,
}

impl HeapStats {
    /// The statistics of the space called `name`.
    pub fn space(&self, name: &str) -> Option<&SpaceStats> {
        self.spaces.iter().find(|s| s.name == name)
    }
}

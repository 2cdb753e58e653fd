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

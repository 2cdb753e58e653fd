//! Heap configuration: one struct, V8-like knobs, documented defaults.

use crate::error::ConfigError;
use crate::heap::PAGE_SIZE;
use std::time::Duration;

const KB: usize = 1024;
const MB: usize = 1024 * KB;

/// The smallest accepted [`HeapConfig::pause_target`]: a scavenge's fixed
/// costs (roots, the remembered set, starting the job) alone take tens of
/// microseconds.
pub const MIN_PAUSE_TARGET: Duration = Duration::from_micros(50);

/// The largest accepted [`HeapConfig::gc_event_history`]: about a million
/// events, some hundreds of MiB of history.
pub const MAX_GC_EVENT_HISTORY: usize = 1 << 20;

/// The largest accepted semi-space ([`HeapConfig::max_semi_space_size`]):
/// 1 GiB (V8 caps it far lower). A scavenge secures address space for its
/// worst case, a few times its semi-space, before it starts.
pub const MAX_SEMI_SPACE_SIZE: usize = 1 << 30;

/// The largest accepted [`HeapConfig::max_old_space_size`]: 64 TiB, half
/// of what a 48-bit address space gives a process.
pub const MAX_OLD_SPACE_SIZE: usize = 1 << 46;

/// How the major GC uses its pause.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum GcMode {
    /// Mark while the mutator runs and finish in a short pause (the default,
    /// as in V8): a cycle starts at three quarters of the old-generation
    /// limit in a short pause and is advanced by background workers on the
    /// shared pool (at most `gc_workers`) and by budgeted steps (at most
    /// 0.5 ms) on the allocation slow path, kept correct by the Dijkstra
    /// insertion barrier and black allocation; it is finalized in a pause
    /// that re-scans the roots and drains what is left in parallel. An
    /// explicit `collect_garbage(GcRequest::Major)` is always a full atomic
    /// collection. Sweeping is concurrent (background sweepers) and lazy
    /// (one page at a time on the allocation path), finished before the
    /// next marking starts.
    #[default]
    Concurrent,
    /// Run the whole major GC inside one pause (marking and sweeping in
    /// parallel on the worker pool). Kept for side-by-side pause comparisons.
    StopTheWorld,
}

/// Configuration of one isolate's heap. Build with `HeapConfig::default()`
/// and struct update syntax; [`HeapConfig::validate`] runs in
/// [`crate::Isolate::new`].
#[derive(Clone, Debug, PartialEq)]
pub struct HeapConfig {
    /// Initial size of one semi-space, bytes. A power of two, at least one
    /// page (256 KiB). Default 1 MiB (V8: `--min-semi-space-size`).
    pub min_semi_space_size: usize,
    /// Largest size a semi-space may grow to, bytes. A power of two, at least
    /// `min_semi_space_size`, at most [`MAX_SEMI_SPACE_SIZE`]. Default
    /// 16 MiB (V8: `--max-semi-space-size`). Semi-spaces take their pages as
    /// they fill: a large semi-space costs nothing until it is used.
    ///
    /// New space starts at `min_semi_space_size` and doubles, up to this,
    /// whenever more bytes survived scavenges since its last resize than one
    /// semi-space holds (high survival); it shrinks back toward the minimum
    /// when the mutator allocates under 1 KB/ms. Both as in V8. On top of
    /// that it is kept small enough that the predicted scavenge fits
    /// `pause_target` (never below `min_semi_space_size`).
    pub max_semi_space_size: usize,
    /// The pause the collector sizes its work against (DESIGN section 8a):
    /// new space is kept small enough that a scavenge, predicted from the
    /// measured copying speed and survival rate, fits it. Default 1 ms. At
    /// least 50 us (below that no scavenge's fixed costs fit); zero or less
    /// is rejected (a `Duration` is never negative or NaN).
    pub pause_target: Duration,
    /// Fast promotion (V8's `--fast-promotion-new-space`, here on by
    /// default): when a scavenge finds at least 90% of new space alive, the
    /// following minor GCs promote new space *by pages* (the pages become
    /// old-space pages; nothing is copied) until a periodic regular
    /// scavenge, sized to the budget, measures survival below 90% again.
    /// Off: every minor GC is a scavenge. Default on.
    pub fast_promotion: bool,
    /// Hard limit of the old generation, bytes: the committed bytes of old,
    /// map and large-object spaces plus young large objects (which become
    /// old by a page flip) never exceed it, the collector's own promotions
    /// and compaction included (survivors stay young, and candidates abort,
    /// when promoting or moving them would cross it). Of it,
    /// [`crate::CLEANUP_RESERVE`] is held back for a runtime's clean-up
    /// after `Err(OutOfMemory)`. Past it allocation returns
    /// `Err(AllocError::OutOfMemory)` after a last-resort GC and the
    /// near-heap-limit callback. At least 1 MiB, at most
    /// [`MAX_OLD_SPACE_SIZE`]. Default 2 GiB (V8: `--max-old-space-size`).
    pub max_old_space_size: usize,
    /// Old-generation size that triggers the first major GC, bytes. Default
    /// 16 MiB (V8: `--initial-old-space-size`, roughly).
    pub initial_old_space_size: usize,
    /// After a major GC the next one starts when the old generation reaches
    /// `live * old_gen_growth_factor`. Clamped by V8 to [1.1, 4.0]; values
    /// outside are rejected. Default 2.0.
    pub old_gen_growth_factor: f64,
    /// Concurrent (default) or stop-the-world major GCs.
    pub mode: GcMode,
    /// Most GC worker threads one GC of this isolate may use (the main thread
    /// not counted). `None`: as many as the platform has.
    pub gc_workers: Option<usize>,
    /// Semi-space bytes per parallel scavenge task: a scavenge runs
    /// `semi-space size / this` tasks, or one per 2048 remembered-set
    /// (OLD_TO_NEW) slots the last scavenge visited if that is more (at
    /// least 1, at most 8 and at most `gc_workers + 1`). Default 1 MiB, V8's
    /// heuristic; smaller values parallelise scavenges of small new spaces
    /// (the tests do). Non-zero.
    pub new_space_per_scavenge_task: usize,
    /// Compact fragmented old-space pages in major GCs (V8's mark-compact):
    /// pages chosen when marking starts are evacuated in the finalization
    /// pause and released. Default on (V8: `--compact`).
    pub compaction: bool,
    /// Compact on every major GC, every old-space page that can move (a
    /// stress mode for tests, V8's `--stress-compaction`). Default off.
    pub stress_compaction: bool,
    /// Run the heap verifier after every GC (slow; on in tests).
    pub verify_heap: bool,
    /// Print one line per GC on stderr, like V8's `--trace-gc`.
    pub trace_gc: bool,
    /// Most GC events the isolate keeps ([`crate::Isolate::gc_events`]): a
    /// ring, the oldest event dropped for each new one once it is full
    /// (sequence numbers go on counting). Default 4,096 events. An event
    /// takes its [`crate::GcEvent::heap_bytes`]: 224 bytes, 24 per phase and
    /// 64 per span (one per phase and per parallel task). Measured on the
    /// quick workloads with one GC worker: a marking step 296 bytes, a
    /// scavenge 300-420, a major GC 1.0-1.5 KiB; so a full default history
    /// holds about 1.2-2 MiB (more with more workers: a span per task). 0
    /// keeps no history (an epilogue callback,
    /// [`crate::Isolate::add_gc_epilogue_callback`], still sees each event).
    /// At most [`MAX_GC_EVENT_HISTORY`].
    pub gc_event_history: usize,
}

impl Default for HeapConfig {
    fn default() -> Self {
        HeapConfig {
            min_semi_space_size: MB,
            max_semi_space_size: 16 * MB,
            pause_target: Duration::from_millis(1),
            fast_promotion: true,
            max_old_space_size: 2048 * MB,
            initial_old_space_size: 16 * MB,
            old_gen_growth_factor: 2.0,
            mode: GcMode::Concurrent,
            gc_workers: None,
            new_space_per_scavenge_task: MB,
            compaction: true,
            stress_compaction: false,
            verify_heap: false,
            trace_gc: false,
            gc_event_history: 4096,
        }
    }
}

impl HeapConfig {
    /// Checks every field; the error names the first invalid one.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |field: &'static str, reason: String| Err(ConfigError::Invalid { field, reason });
        for (field, v) in
            [("min_semi_space_size", self.min_semi_space_size), ("max_semi_space_size", self.max_semi_space_size)]
        {
            if v == 0 || !v.is_power_of_two() {
                return bad(field, format!("{v} is not a non-zero power of two"));
            }
            if v < PAGE_SIZE {
                return bad(field, format!("{v} is smaller than one page ({PAGE_SIZE} bytes)"));
            }
            if v > MAX_SEMI_SPACE_SIZE {
                return bad(field, format!("{v} is above the maximum of {MAX_SEMI_SPACE_SIZE} (1 GiB)"));
            }
        }
        if self.min_semi_space_size > self.max_semi_space_size {
            return bad(
                "min_semi_space_size",
                format!("{} is above max_semi_space_size {}", self.min_semi_space_size, self.max_semi_space_size),
            );
        }
        if self.pause_target < MIN_PAUSE_TARGET {
            return bad(
                "pause_target",
                format!("{:?} is below the minimum of {MIN_PAUSE_TARGET:?}", self.pause_target),
            );
        }
        if self.max_old_space_size < MB {
            return bad("max_old_space_size", format!("{} is below the minimum of 1 MiB", self.max_old_space_size));
        }
        if self.max_old_space_size > MAX_OLD_SPACE_SIZE {
            return bad(
                "max_old_space_size",
                format!("{} is above the maximum of {MAX_OLD_SPACE_SIZE} (64 TiB)", self.max_old_space_size),
            );
        }
        if self.initial_old_space_size == 0 || self.initial_old_space_size > self.max_old_space_size {
            return bad(
                "initial_old_space_size",
                format!(
                    "{} must be non-zero and at most max_old_space_size {}",
                    self.initial_old_space_size, self.max_old_space_size
                ),
            );
        }
        if self.new_space_per_scavenge_task == 0 {
            return bad("new_space_per_scavenge_task", "must be non-zero".to_string());
        }
        let f = self.old_gen_growth_factor;
        if !(1.1..=4.0).contains(&f) {
            return bad("old_gen_growth_factor", format!("{f} is outside [1.1, 4.0]"));
        }
        if self.gc_event_history > MAX_GC_EVENT_HISTORY {
            return bad(
                "gc_event_history",
                format!("{} events is above the maximum of {MAX_GC_EVENT_HISTORY}", self.gc_event_history),
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_config_is_valid() {
        HeapConfig::default().validate().unwrap();
    }

    #[test]
    fn a_pause_target_below_the_minimum_names_the_field() {
        for t in [Duration::ZERO, Duration::from_nanos(1), Duration::from_micros(49)] {
            let e = HeapConfig { pause_target: t, ..HeapConfig::default() }.validate().unwrap_err();
            assert!(matches!(e, ConfigError::Invalid { field: "pause_target", .. }), "{t:?}: {e}");
            assert!(e.to_string().contains("pause_target"), "{e}");
        }
        HeapConfig { pause_target: MIN_PAUSE_TARGET, ..HeapConfig::default() }.validate().unwrap();
    }

    #[test]
    fn a_gc_event_history_above_the_maximum_names_the_field() {
        let e =
            HeapConfig { gc_event_history: MAX_GC_EVENT_HISTORY + 1, ..HeapConfig::default() }.validate().unwrap_err();
        assert!(matches!(e, ConfigError::Invalid { field: "gc_event_history", .. }), "{e}");
        assert!(e.to_string().contains("gc_event_history"), "{e}");
        for n in [0, 1, MAX_GC_EVENT_HISTORY] {
            HeapConfig { gc_event_history: n, ..HeapConfig::default() }.validate().unwrap();
        }
    }
}

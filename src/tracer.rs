//! GC events: what each collection did and how long its pause was.
//!
//! Every GC is recorded as a [`GcEvent`] (kind, reason, phase times, bytes
//! before and after) in a bounded history, and with
//! [`crate::HeapConfig::trace_gc`] printed as one line on stderr in the spirit
//! of V8's `--trace-gc`.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Which collector ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GcKind {
    /// A scavenge of the young generation.
    Minor,
    /// A full mark-sweep of the whole heap.
    Major,
}

/// Why a GC ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GcReason {
    /// New space was full.
    AllocationFailure,
    /// The old generation reached its limit.
    OldGenerationLimit,
    /// Requested through [`crate::Isolate::collect_garbage`].
    Requested,
    /// An allocation failed even after a GC: one more full GC before giving up.
    LastResort,
}

impl GcReason {
    fn as_str(self) -> &'static str {
        match self {
            GcReason::AllocationFailure => "allocation failure",
            GcReason::OldGenerationLimit => "old generation limit",
            GcReason::Requested => "requested",
            GcReason::LastResort => "last resort",
        }
    }
}

/// A phase of a GC pause.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Scavenge: roots, remembered set, copying.
    Scavenge,
    /// Marking the whole heap.
    Mark,
    /// Clearing weak handles and the string table.
    Weak,
    /// Sweeping old pages.
    Sweep,
    /// Heap verification (tests and debugging only).
    Verify,
}

/// One completed GC.
#[derive(Clone, Debug)]
pub struct GcEvent {
    /// Minor or major.
    pub kind: GcKind,
    /// Why it ran.
    pub reason: GcReason,
    /// When the pause began, since the isolate was created.
    pub start: Duration,
    /// Length of the pause on the isolate's thread.
    pub pause: Duration,
    /// Time of each phase inside the pause.
    pub phases: Vec<(Phase, Duration)>,
    /// Bytes of objects before the GC (all spaces).
    pub bytes_before: usize,
    /// Bytes of objects after the GC.
    pub bytes_after: usize,
    /// Committed bytes after the GC.
    pub committed_after: usize,
    /// Bytes copied within new space (scavenges).
    pub survived_bytes: usize,
    /// Bytes promoted to old space (scavenges).
    pub promoted_bytes: usize,
    /// Parallel tasks of the scavenge (main thread included).
    pub scavenge_tasks: usize,
    /// Semi-space size after the GC, bytes.
    pub semi_space_size: usize,
}

const HISTORY: usize = 1 << 16;

/// Records GC events for one isolate.
pub(crate) struct Tracer {
    origin: Instant,
    events: VecDeque<GcEvent>,
    pub(crate) minor_count: u64,
    pub(crate) major_count: u64,
    pub(crate) total_pause: Duration,
}

impl Tracer {
    pub(crate) fn new() -> Tracer {
        Tracer {
            origin: Instant::now(),
            events: VecDeque::new(),
            minor_count: 0,
            major_count: 0,
            total_pause: Duration::ZERO,
        }
    }

    pub(crate) fn since_origin(&self, t: Instant) -> Duration {
        t.duration_since(self.origin)
    }

    pub(crate) fn record(&mut self, e: GcEvent, trace: bool, isolate: u32) {
        match e.kind {
            GcKind::Minor => self.minor_count += 1,
            GcKind::Major => self.major_count += 1,
        }
        self.total_pause += e.pause;
        if trace {
            let mb = |b: usize| b as f64 / (1024.0 * 1024.0);
            eprintln!(
                "[isogc:{isolate}] {:9.1} ms: {} {:.1} -> {:.1} ({:.1}) MB, pause {:.3} ms, reason: {}",
                e.start.as_secs_f64() * 1e3,
                match e.kind {
                    GcKind::Minor => "Scavenge",
                    GcKind::Major => "Mark-Sweep",
                },
                mb(e.bytes_before),
                mb(e.bytes_after),
                mb(e.committed_after),
                e.pause.as_secs_f64() * 1e3,
                e.reason.as_str()
            );
        }
        if self.events.len() == HISTORY {
            self.events.pop_front();
        }
        self.events.push_back(e);
    }

    pub(crate) fn events(&self) -> impl Iterator<Item = &GcEvent> {
        self.events.iter()
    }
}

/// Times the phases of one pause.
pub(crate) struct PhaseTimer {
    pub(crate) phases: Vec<(Phase, Duration)>,
}

impl PhaseTimer {
    pub(crate) fn new() -> PhaseTimer {
        PhaseTimer { phases: Vec::with_capacity(4) }
    }

    pub(crate) fn time<R>(&mut self, phase: Phase, f: impl FnOnce() -> R) -> R {
        let t = Instant::now();
        let r = f();
        self.phases.push((phase, t.elapsed()));
        r
    }
}

//! GC events: what each collection did and how long its pause was.
//!
//! Every GC is recorded as a [`GcEvent`] (kind, reason, phase times, bytes
//! before and after) in a bounded history, and with
//! [`crate::HeapConfig::trace_gc`] printed as one line on stderr in the spirit
//! of V8's `--trace-gc`.
//!
//! The history is a ring of [`crate::HeapConfig::gc_event_history`] events:
//! the oldest event goes when a new one arrives at a full ring. Every event
//! gets a sequence number (0 for the isolate's first, counting on past the
//! ring's bound), so a reader can take only the events since the last it saw
//! ([`crate::Isolate::gc_events_since`], [`crate::Isolate::gc_event_iter`])
//! and tell whether the ring dropped some in between. An event costs its
//! struct plus its `phases` and `spans` vectors (trimmed to their length when
//! recorded); see [`GcEvent::heap_bytes`].

use crate::sync::Mutex;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Which collector ran: the kind of a recorded [`GcEvent`]. (What a caller
/// may ask for is a [`crate::GcRequest`].)
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GcKind {
    /// A scavenge of the young generation.
    Minor,
    /// A full mark-sweep of the whole heap: either one atomic pause, or the
    /// finalization pause of an incremental marking cycle.
    Major,
    /// The short pause that starts an incremental marking cycle (roots
    /// marked, barrier on).
    MarkingStart,
    /// One budgeted step of incremental marking on the allocation path.
    MarkingStep,
    /// Sweeping on the allocating thread: one page swept lazily when a
    /// space's free list missed, or the rest of the sweeping when the space
    /// could not grow.
    SweepingStep,
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
    /// The old generation reached the soft limit: incremental marking starts.
    SoftLimit,
    /// Incremental marking found no grey object left: finalization.
    MarkingComplete,
    /// The old generation reached its limit before incremental marking was
    /// done: from then on every allocation safepoint stepped, and this
    /// finalization followed (marking should have started earlier or
    /// stepped more; the pause report counts these).
    MarkingAtLimit,
    /// Allocation paid for a step of incremental marking or lazy sweeping.
    AllocationStep,
    /// A scavenge just before a marking cycle's finalization, so that the
    /// finalization pause finds new space nearly empty.
    BeforeFinalization,
}

impl GcReason {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            GcReason::AllocationFailure => "allocation failure",
            GcReason::OldGenerationLimit => "old generation limit",
            GcReason::Requested => "requested",
            GcReason::LastResort => "last resort",
            GcReason::SoftLimit => "soft limit",
            GcReason::MarkingComplete => "marking complete",
            GcReason::MarkingAtLimit => "marking at limit",
            GcReason::AllocationStep => "allocation step",
            GcReason::BeforeFinalization => "before finalization",
        }
    }
}

/// A phase of a GC pause.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Stopping the background markers and sweepers at the start of a GC
    /// pause (each leaves at its next check; a worker the OS has descheduled
    /// inside holds the pause until it runs again, V8's safepoint wait).
    StopWorkers,
    /// Scavenge: roots, remembered set, copying.
    Scavenge,
    /// Promotion of the young generation by pages (instead of a scavenge,
    /// when nearly all of it survives).
    PagePromotion,
    /// Marking the whole heap.
    Mark,
    /// Clearing weak handles and the string table.
    Weak,
    /// Sweeping old pages.
    Sweep,
    /// Compaction: moving the live objects off evacuation candidates.
    Evacuate,
    /// Compaction: updating every pointer to a moved object.
    UpdatePointers,
    /// Heap verification (tests and debugging only).
    Verify,
    /// Background marking on a worker while the mutator runs (not a pause;
    /// these spans are reported with the cycle's finalization event).
    ConcurrentMark,
    /// Background sweeping on a worker while the mutator runs (not a pause;
    /// these spans are reported with the next GC event).
    ConcurrentSweep,
}

/// One thread's share of a GC phase: the pause's phases on the isolate's
/// thread, and each task of a parallel job on whichever thread ran it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GcSpan {
    /// The phase.
    pub phase: Phase,
    /// 0 for the isolate's own thread, `i + 1` for worker `i` of the
    /// [`crate::Platform`]'s pool.
    pub thread: usize,
    /// `None` for a phase of the pause, `Some(id)` for task `id` of a job.
    pub task: Option<usize>,
    /// When it began, since the isolate was created.
    pub start: Duration,
    /// How long it ran.
    pub duration: Duration,
}

/// Collects the spans of one GC from every thread that works on it.
pub(crate) struct SpanRecorder {
    origin: Instant,
    spans: Mutex<Vec<GcSpan>>,
}

impl SpanRecorder {
    pub(crate) fn new(origin: Instant) -> SpanRecorder {
        SpanRecorder { origin, spans: Mutex::new(Vec::new()) }
    }

    /// Records that the calling thread ran `phase` (as `task`) from `start`
    /// until now.
    pub(crate) fn record(&self, phase: Phase, task: Option<usize>, start: Instant) {
        let thread = rayon::current_thread_index().map_or(0, |i| i + 1);
        let span = GcSpan { phase, thread, task, start: start.duration_since(self.origin), duration: start.elapsed() };
        self.spans.lock().push(span);
    }

    /// The instant span starts are measured from.
    pub(crate) fn origin(&self) -> Instant {
        self.origin
    }

    /// Moves the spans of `other` into this recorder.
    pub(crate) fn absorb(&self, other: &SpanRecorder) {
        let spans = other.take();
        self.spans.lock().extend(spans);
    }

    pub(crate) fn take(&self) -> Vec<GcSpan> {
        std::mem::take(&mut self.spans.lock())
    }
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
    /// Who did what when: the pause's phases on the isolate's thread and
    /// every task of the parallel jobs, per thread (for timelines).
    pub spans: Vec<GcSpan>,
    /// Bytes of objects before the GC (all spaces).
    pub bytes_before: usize,
    /// Bytes of objects after the GC.
    pub bytes_after: usize,
    /// Committed bytes after the GC.
    pub committed_after: usize,
    /// Bytes copied within new space (scavenges).
    pub survived_bytes: usize,
    /// Bytes promoted to old space (scavenges, and promotion by pages:
    /// then every byte of new space, garbage included).
    pub promoted_bytes: usize,
    /// New-space pages promoted whole, as pages (fast promotion: nothing
    /// was copied; `promoted_bytes` counts their objects). 0 for a
    /// scavenge.
    pub promoted_pages: usize,
    /// Parallel tasks of the scavenge (main thread included).
    pub scavenge_tasks: usize,
    /// Minor GCs: the scavenge's pause the controller predicted when it
    /// began (its measured fixed part, plus the young bytes allocated times
    /// the measured survival rate over the measured copying speed), to hold
    /// against the scavenge phase's measured time in `phases`. `None` for
    /// other kinds.
    pub predicted_scavenge: Option<Duration>,
    /// Scavenges (minor GCs and a major GC's own): the longest any task
    /// spent on the roots and the remembered set (OLD_TO_NEW) before the
    /// transitive closure, the part of the pause that does not shrink with
    /// new space.
    pub scavenge_roots: Duration,
    /// Scavenges: of `scavenge_roots`, the longest any task spent on the
    /// remembered set (the OLD_TO_NEW slots of old pages), the part of the
    /// fixed cost that grows with the old-to-new pointers the mutator
    /// stored rather than with the roots.
    pub scavenge_old_to_new: Duration,
    /// Scavenges: OLD_TO_NEW slots visited (all tasks), what
    /// `scavenge_old_to_new` is proportional to.
    pub scavenge_old_to_new_slots: usize,
    /// Semi-space size after the GC, bytes.
    pub semi_space_size: usize,
    /// Compaction: old-space pages evacuated and released by this GC.
    pub evacuated_pages: usize,
    /// Compaction: bytes of live objects moved off evacuated pages.
    pub evacuated_bytes: usize,
    /// Compaction: candidate pages whose evacuation ran out of space (they
    /// stay, and are swept).
    pub aborted_pages: usize,
    /// Marking done in this pause on the isolate's behalf: a marking step's
    /// bytes, or a major GC's marking inside its pause (all of it for an
    /// atomic GC; what was left for the finalization of a cycle).
    pub marked_bytes: usize,
    /// A major GC that finalized a concurrent cycle: the bytes the
    /// background workers marked during the cycle, outside any pause (with
    /// the steps' and the pauses' `marked_bytes`, the cycle's whole marking
    /// work). 0 for other events.
    pub background_marked_bytes: usize,
}

impl GcEvent {
    /// Bytes this event occupies in the history: the struct (224 bytes)
    /// and its `phases` (24 bytes each) and `spans` (64 bytes each, one per
    /// phase and per parallel task) buffers, trimmed when recorded. A
    /// marking step takes about 0.3 KiB, a scavenge 0.3-0.4 KiB, a major GC
    /// 1-1.5 KiB with one worker; see [`crate::HeapConfig::gc_event_history`].
    pub fn heap_bytes(&self) -> usize {
        std::mem::size_of::<GcEvent>()
            + self.phases.capacity() * std::mem::size_of::<(Phase, Duration)>()
            + self.spans.capacity() * std::mem::size_of::<GcSpan>()
    }
}

/// Records GC events for one isolate.
pub(crate) struct Tracer {
    origin: Instant,
    /// The history: the `events.len()` most recent events, the last one
    /// numbered `recorded - 1`.
    events: VecDeque<GcEvent>,
    /// Most events the history keeps ([`crate::HeapConfig::gc_event_history`]).
    capacity: usize,
    /// Events recorded since the isolate was created: the sequence number
    /// of the next one.
    recorded: u64,
    pub(crate) minor_count: u64,
    pub(crate) major_count: u64,
    pub(crate) total_pause: Duration,
}

impl Tracer {
    /// A tracer keeping the `capacity` most recent events.
    pub(crate) fn new(capacity: usize) -> Tracer {
        Tracer {
            origin: Instant::now(),
            events: VecDeque::new(),
            capacity,
            recorded: 0,
            minor_count: 0,
            major_count: 0,
            total_pause: Duration::ZERO,
        }
    }

    pub(crate) fn since_origin(&self, t: Instant) -> Duration {
        t.duration_since(self.origin)
    }

    /// When the isolate was created (the zero of every event's times).
    pub(crate) fn origin(&self) -> Instant {
        self.origin
    }

    pub(crate) fn record(&mut self, mut e: GcEvent, trace: bool, isolate: u32) {
        match e.kind {
            GcKind::Minor => self.minor_count += 1,
            GcKind::Major => self.major_count += 1,
            GcKind::MarkingStart | GcKind::MarkingStep | GcKind::SweepingStep => {}
        }
        self.total_pause += e.pause;
        if trace && !matches!(e.kind, GcKind::MarkingStep | GcKind::SweepingStep) {
            let mb = |b: usize| b as f64 / (1024.0 * 1024.0);
            eprintln!(
                "[isogc:{isolate}] {:9.1} ms: {} {:.1} -> {:.1} ({:.1}) MB, pause {:.3} ms, reason: {}",
                e.start.as_secs_f64() * 1e3,
                match e.kind {
                    GcKind::Minor if e.promoted_pages > 0 => "Scavenge (fast promotion)",
                    GcKind::Minor => "Scavenge",
                    GcKind::Major => "Mark-Sweep",
                    GcKind::MarkingStart => "Start marking",
                    GcKind::MarkingStep => "Marking step",
                    GcKind::SweepingStep => "Sweeping step",
                },
                mb(e.bytes_before),
                mb(e.bytes_after),
                mb(e.committed_after),
                e.pause.as_secs_f64() * 1e3,
                e.reason.as_str()
            );
        }
        self.recorded += 1;
        if self.capacity == 0 {
            return;
        }
        if self.events.len() == self.capacity {
            self.events.pop_front();
        }
        // The spans vector grew by doubling while the GC's threads filled
        // it: up to half of it would be kept empty for as long as the event.
        e.spans.shrink_to_fit();
        e.phases.shrink_to_fit();
        self.events.push_back(e);
    }

    /// The sequence number the next event will get.
    pub(crate) fn next_sequence(&self) -> u64 {
        self.recorded
    }

    /// The events kept whose sequence number is `n` or later, oldest first,
    /// with their numbers.
    pub(crate) fn events_since(&self, n: u64) -> impl ExactSizeIterator<Item = (u64, &GcEvent)> + '_ {
        let first = self.recorded - self.events.len() as u64;
        // Both bounds are at most `events.len()`, so the cast is lossless.
        let skip = n.saturating_sub(first).min(self.events.len() as u64) as usize;
        self.events.range(skip..).enumerate().map(move |(i, e)| (first + (skip + i) as u64, e))
    }
}

/// Times the phases of one pause on the isolate's thread.
pub(crate) struct PhaseTimer {
    pub(crate) phases: Vec<(Phase, Duration)>,
    starts: Vec<Instant>,
}

impl PhaseTimer {
    pub(crate) fn new() -> PhaseTimer {
        PhaseTimer { phases: Vec::with_capacity(4), starts: Vec::with_capacity(4) }
    }

    pub(crate) fn time<R>(&mut self, phase: Phase, f: impl FnOnce() -> R) -> R {
        let t = Instant::now();
        let r = f();
        self.phases.push((phase, t.elapsed()));
        self.starts.push(t);
        r
    }

    /// The phases as spans of the isolate's thread.
    pub(crate) fn spans(&self, origin: Instant) -> impl Iterator<Item = GcSpan> + '_ {
        self.phases.iter().zip(&self.starts).map(move |(&(phase, duration), &t)| GcSpan {
            phase,
            thread: 0,
            task: None,
            start: t.duration_since(origin),
            duration,
        })
    }
}

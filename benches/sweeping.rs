//! Sweeping on the isolate's own thread: how much of the sweeping of one
//! major GC the main thread does, over an old generation of about 256 MiB,
//! half of it garbage interleaved with live objects on every page, in
//! concurrent mode against stop-the-world mode, in one run.
//!
//! Run: `cargo bench --bench sweeping`. Group `sweep_main_thread`, one
//! benchmark per variant, each on its own heap:
//!
//! - `concurrent`: a `Platform` with one worker (a background sweeper);
//! - `stop_the_world`: the same platform; the major pause sweeps everything
//!   (in parallel, the main thread helping);
//! - `concurrent_0_workers`: the worst case, a `Platform` without workers:
//!   no background sweeper, so the allocating thread sweeps every page
//!   lazily, one page per step.
//!
//! The heap: 48-byte objects, allocated straight into the old generation,
//! every other one dropped at once, so each page alternates live and dead
//! objects; the live ones hang off large arrays under a global. Each
//! iteration is one explicit major GC, then the mutator refills the garbage:
//! it allocates as many new objects as died, into the holes the GC freed,
//! dropping them at once, and goes on until no page is pending sweep. The
//! old-generation limit is far above the heap, so no other major GC or
//! marking cycle starts.
//!
//! The objects are maps (`new_map`, map space): of the public API's
//! allocations, only maps and internalized strings go to the old generation
//! on the allocating thread, where lazy sweeping runs (promotion by the
//! scavenger takes swept pages or grows). Dead internalized strings would
//! also cost their string-table entries inside the pause (their weak
//! clearing, then glibc consolidating the freed entries at the pause's next
//! large allocation, which lands in `Phase::Sweep`: about 0.25 µs per string
//! in all), which would swamp the sweeping being measured. One internalized
//! string per refill sweeps the old-space page (the global array) lazily as
//! well.
//!
//! Criterion's figure is the main-thread sweeping time caused by that GC, as
//! the isolate recorded it (`iter_custom`): the `Phase::Sweep` entries of the
//! major pause (its first finishes the previous GC's sweeping: nothing left
//! here), plus every `GcKind::SweepingStep` pause (lazy steps and any
//! finishing step), plus the `Phase::Sweep` of a marking start, had one come.
//! Criterion budgets its time in that quantity, so expect its "unable to
//! complete 10 samples" warning: each sample is one GC, as intended. Not in
//! the figure, as no event records it: the allocating thread taking the
//! blocks of the pages background sweepers finished into the free list (on
//! a free-list miss, outside any pause).
//!
//! After each variant a `sweeping:` summary on stderr gives the median per
//! GC, the largest lazy step, the lazy steps and pages queued per GC (equal
//! when every page is swept lazily: one page per step), the background
//! sweepers' time (`Phase::ConcurrentSweep` spans, reported with the next
//! GC's event), and the committed heap after each refill (flat when swept
//! memory is reused); at the end, each concurrent variant's median as a
//! share of stop-the-world's.

mod common;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode};
use isogc::*;
use std::fmt::Write as _;
use std::time::Duration;

const MB: usize = 1 << 20;
/// The old generation, live and dead.
const HEAP_BYTES: usize = 256 * MB;
/// Live objects per array: a large object (over half a page), outside the
/// paged spaces being swept. Few of them: every old-generation allocation
/// on the slow path sums the large-object pages.
const CHUNK: usize = 1 << 17;
const CHUNK_BYTES: usize = (2 + CHUNK) * 8;
/// A map: 6 words.
const OBJECT_BYTES: usize = 48;
/// Objects allocated per handle scope.
const BATCH: usize = 4096;

/// One benchmark variant's heap, reused by every iteration.
struct Fixture {
    isolate: Isolate,
    _root: Global<FixedArray>,
    layout: ObjectLayout,
    /// Dead objects per GC: the objects each refill allocates.
    holes: usize,
    /// Internalized strings made so far (each one new).
    strings: u64,
}

/// What the isolate recorded, per variant, over every GC of its run.
#[derive(Default)]
struct Figures {
    /// Main-thread sweeping per GC (criterion's quantity).
    main: Vec<Duration>,
    /// Of which in the major pause.
    in_pause: Vec<Duration>,
    /// Every lazy step's pause.
    lazy: Vec<Duration>,
    /// `SweepingStep`s that finished all sweeping (reason `AllocationFailure`).
    finishing_steps: usize,
    finishing_max: Duration,
    marking_starts: usize,
    background: Duration,
    /// Pages pending sweep right after each GC.
    queued: Vec<usize>,
    /// Objects allocated past the holes before no page was pending.
    extra_objects: usize,
    committed: Vec<usize>,
}

impl Fixture {
    fn new(platform: &Platform, mode: GcMode) -> Fixture {
        // A limit far above the heap: the explicit GCs are the only major GCs.
        // Each GC's events are read whole: a history that holds them.
        let config =
            HeapConfig { mode, initial_old_space_size: 1 << 30, gc_event_history: 1 << 16, ..HeapConfig::default() };
        let mut isolate = Isolate::new(platform, config).unwrap();
        let layout = ObjectLayout { name: "Garbage".into(), tagged_fields: 0, raw_bytes: 0, ..Default::default() };
        let chunks = HEAP_BYTES / (2 * CHUNK * OBJECT_BYTES + CHUNK_BYTES);
        let root = common::chunk_root(&mut isolate, chunks, CHUNK);
        {
            let mut scope = HandleScope::new(&mut isolate);
            let root = scope.open(&root);
            for c in 0..chunks {
                let mut s = HandleScope::new(&mut scope);
                let v = s.get(root, c);
                let chunk = s.cast::<FixedArray, _>(v).unwrap();
                for i in 0..CHUNK {
                    let mut s = HandleScope::new(&mut s);
                    let live = s.new_map(&layout).unwrap();
                    s.new_map(&layout).unwrap();
                    s.set(chunk, i, live);
                }
            }
        }
        assert_eq!(isolate.gc_counts().1, 0, "building the heap ran no major GC");
        let mut f = Fixture { isolate, _root: root, layout, holes: chunks * CHUNK, strings: 0 };
        // The first GC frees the dropped half; from then on each refill puts
        // new garbage where the last GC's was.
        f.gc_and_refill(&mut Figures::default());
        f
    }

    /// Allocates `n` objects (and one internalized string), dropping them at
    /// once.
    fn allocate_garbage(&mut self, n: usize) {
        let mut scope = HandleScope::new(&mut self.isolate);
        let mut name = String::new();
        write!(name, "garbage {}", self.strings).unwrap();
        self.strings += 1;
        scope.intern(&name).unwrap();
        let mut left = n;
        while left > 0 {
            let mut s = HandleScope::new(&mut scope);
            for _ in 0..left.min(BATCH) {
                s.new_map(&self.layout).unwrap();
            }
            left -= left.min(BATCH);
        }
    }

    /// One major GC and the refill after it, until no page is pending
    /// sweep. Returns the main-thread sweeping it caused and adds to `fig`.
    fn gc_and_refill(&mut self, fig: &mut Figures) -> Duration {
        let since = self.isolate.next_gc_event();
        self.isolate.collect_garbage(GcRequest::Major);
        fig.queued.push(self.isolate.heap_stats().pages_pending_sweep);
        self.allocate_garbage(self.holes);
        let mut extra = 0;
        while self.isolate.heap_stats().pages_pending_sweep > 0 {
            assert!(extra < self.holes, "sweeping did not complete while the mutator allocated twice the garbage");
            self.allocate_garbage(BATCH);
            extra += BATCH;
        }
        fig.extra_objects += extra;
        fig.committed.push(self.isolate.memory_usage().committed);
        let sweep_phases =
            |e: &GcEvent| e.phases.iter().filter(|(p, _)| *p == Phase::Sweep).map(|(_, d)| *d).sum::<Duration>();
        let (mut main, mut in_pause) = (Duration::ZERO, Duration::ZERO);
        let events = self.isolate.gc_event_iter(since);
        assert_eq!(events.len() as u64, self.isolate.next_gc_event() - since, "the history dropped events");
        for (_, e) in events {
            fig.background +=
                e.spans.iter().filter(|s| s.phase == Phase::ConcurrentSweep).map(|s| s.duration).sum::<Duration>();
            match (e.kind, e.reason) {
                (GcKind::Major, _) => {
                    in_pause += sweep_phases(e);
                    main += sweep_phases(e);
                }
                (GcKind::MarkingStart, _) => {
                    fig.marking_starts += 1;
                    main += sweep_phases(e);
                }
                (GcKind::SweepingStep, GcReason::AllocationStep) => {
                    fig.lazy.push(e.pause);
                    main += e.pause;
                }
                (GcKind::SweepingStep, _) => {
                    fig.finishing_steps += 1;
                    fig.finishing_max = fig.finishing_max.max(e.pause);
                    main += e.pause;
                }
                _ => {}
            }
        }
        fig.main.push(main);
        fig.in_pause.push(in_pause);
        main
    }
}

fn median(v: &[Duration]) -> Duration {
    let mut v = v.to_vec();
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn summary(name: &str, f: &Figures) {
    let gcs = f.main.len().max(1);
    let per_gc = |n: usize| n as f64 / gcs as f64;
    let mb = |b: usize| b as f64 / MB as f64;
    eprintln!(
        "sweeping: {name}: {gcs} GCs; main-thread sweeping per GC median {:.3} ms (in the major pause {:.3} ms), \
         max {:.3} ms",
        ms(median(&f.main)),
        ms(median(&f.in_pause)),
        ms(f.main.iter().copied().max().unwrap_or_default()),
    );
    let mut lazy = f.lazy.clone();
    lazy.sort();
    let quantile = |q: f64| {
        ms(lazy.get(((lazy.len() as f64 * q) as usize).min(lazy.len().max(1) - 1)).copied().unwrap_or_default())
    };
    let queued: usize = f.queued.iter().sum();
    eprintln!(
        "sweeping: {name}: lazy steps {:.1} per GC, largest {:.3} ms (median {:.3}, p99 {:.3}, p99.9 {:.3} ms); \
         pages queued per GC {:.1} (lazy steps / pages queued = {:.3}); finishing steps {} (largest {:.3} ms); \
         marking starts {}",
        per_gc(lazy.len()),
        ms(lazy.last().copied().unwrap_or_default()),
        quantile(0.5),
        quantile(0.99),
        quantile(0.999),
        per_gc(queued),
        lazy.len() as f64 / queued.max(1) as f64,
        f.finishing_steps,
        ms(f.finishing_max),
        f.marking_starts,
    );
    eprintln!(
        "sweeping: {name}: background sweepers {:.3} ms per GC; objects past the holes {}; committed after refill \
         {:.1}..{:.1} MiB",
        ms(f.background) / gcs as f64,
        f.extra_objects,
        mb(f.committed.iter().copied().min().unwrap_or_default()),
        mb(f.committed.iter().copied().max().unwrap_or_default()),
    );
}

fn sweeping(c: &mut Criterion) {
    let one_worker = Platform::new(1).unwrap();
    let no_workers = Platform::new(0).unwrap();
    let variants = [
        ("concurrent", GcMode::Concurrent, &one_worker),
        ("stop_the_world", GcMode::StopTheWorld, &one_worker),
        ("concurrent_0_workers", GcMode::Concurrent, &no_workers),
    ];
    let mut g = c.benchmark_group("sweep_main_thread");
    // One GC per sample (a GC and refill of 256 MiB take a few tenths of a
    // second).
    g.sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_nanos(1))
        .measurement_time(Duration::from_micros(1));
    let mut medians = Vec::new();
    for (name, mode, platform) in variants {
        // Built on first use: a filtered-out variant costs nothing.
        let mut fixture = None;
        let mut fig = Figures::default();
        g.bench_function(BenchmarkId::new(name, HEAP_BYTES / MB), |b| {
            let f = fixture.get_or_insert_with(|| Fixture::new(platform, mode));
            b.iter_custom(|iters| (0..iters).map(|_| f.gc_and_refill(&mut fig)).sum())
        });
        if !fig.main.is_empty() {
            summary(name, &fig);
            medians.push((name, median(&fig.main)));
        }
    }
    g.finish();
    if let Some(&(_, stw)) = medians.iter().find(|(n, _)| *n == "stop_the_world") {
        for &(name, m) in medians.iter().filter(|(n, _)| *n != "stop_the_world") {
            eprintln!(
                "sweeping: {name} / stop_the_world main-thread sweeping per GC: {:.2}%",
                100.0 * m.as_secs_f64() / stw.as_secs_f64()
            );
        }
    }
}

criterion_group!(benches, sweeping);
criterion_main!(benches);

//! Parallel compaction: the compaction time of one memory-reducing major GC
//! over an old generation of about 256 MiB fragmented to 50% (every page
//! half free), with 1 task (the main thread) and 2 tasks (the main thread
//! and one worker) in one run.
//!
//! Run: `cargo bench --bench compaction`. Group `compaction`, one benchmark
//! per task count, each on a `Platform::new(1)` with `gc_workers` 0 or 1.
//! Samples are taken in pairs, one per task count, back to back in
//! alternating order, by the `1_tasks` benchmark; `2_tasks` reports the
//! pairs' 2-task samples (run alone, it takes its own). On a shared machine,
//! load that comes and goes then falls on both variants alike.
//!
//! The heap: 48-byte fixed arrays (4 slots: a Smi and a pointer to the
//! previous array of the same parity in its chunk, so the copies' slots get
//! recorded and updated), allocated young and promoted by single-task
//! scavenges, so they land in old space in allocation order; they hang off
//! large chunk arrays (outside the paged spaces) under a global. Then every
//! other array is dropped: each old-space page is half live, half garbage.
//! Candidates are chosen when marking starts, from each page's free-listed
//! bytes of the last sweep, so one explicit major GC sweeps the garbage
//! (nothing to compact yet: the pages were full) and a second one compacts:
//! an explicit GC reduces memory (every page at least 20% free is a
//! candidate, no byte budget). Compaction defragments the heap, so each
//! sample builds a fresh isolate (untimed; about a second each).
//!
//! Every old-space page is a candidate, so the copies go to fresh pages, and
//! first touching them costs page faults: with 1 task, more than half of
//! `Evacuate` (measured against pages an earlier heap had touched). glibc is
//! asked for a single malloc arena (`mallopt(M_ARENA_MAX, 1)`), so that the
//! worker's pages come from the same arena as the main thread's and both
//! variants pay those faults alike.
//!
//! The mode is `StopTheWorld`: the first GC then sweeps every page in its
//! pause, so the measured GC starts with nothing left to sweep (in
//! concurrent mode, with 0 workers, no background sweeper would run and the
//! measured pause would finish the first GC's sweeping). An explicit major
//! GC is atomic in either mode, and compaction is the same code.
//!
//! Criterion's figure is the compaction time of that GC as the isolate
//! recorded it (`iter_custom`): its `Phase::Evacuate` plus
//! `Phase::UpdatePointers`. Each sample is one GC, so expect criterion's
//! "unable to complete 20 samples" warning. After the group a `compaction:`
//! summary per variant on stderr gives the medians of that, of each phase
//! and of the whole pause (and of its time in no phase: mostly releasing the
//! evacuated pages); the evacuated bytes and pages, aborted pages, bytes
//! evacuated per ms of `Evacuate`, each job's busiest and idlest task, the
//! process's minor page faults during the GC (Linux only), and old space's
//! committed and used bytes before and after the compacting GC (committed /
//! live). At the end, the speedup from 1 to 2 tasks: the ratio of the median
//! compaction times (and the median of the pairs' ratios), and the same for
//! each phase and the whole pause.

mod common;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode};
use isogc::*;
use std::collections::VecDeque;
use std::time::Duration;

const MB: usize = 1 << 20;
/// The old generation's small objects, live and dead.
const HEAP_BYTES: usize = 256 * MB;
/// Objects per chunk array: a large object (1 MiB), outside old space's pages.
const CHUNK: usize = 1 << 17;
/// A fixed array of 4 slots: 2 header words and 4 slots.
const OBJECT_BYTES: usize = 48;
const OBJECT_SLOTS: usize = 4;

/// What one compacting GC did.
struct Sample {
    /// `Evacuate` + `UpdatePointers` (criterion's quantity).
    compaction: Duration,
    evacuate: Duration,
    update: Duration,
    mark: Duration,
    sweep: Duration,
    pause: Duration,
    /// The pause outside any phase (the evacuated pages' release, among
    /// others).
    unphased: Duration,
    evacuated_bytes: usize,
    evacuated_pages: usize,
    aborted_pages: usize,
    /// Evacuation tasks that ran, and their longest and shortest span.
    evacuate_tasks: usize,
    busiest: Duration,
    idlest: Duration,
    update_tasks: usize,
    update_busiest: Duration,
    update_idlest: Duration,
    faults: Option<u64>,
    /// Old space (committed, used) before and after the compacting GC.
    before: (usize, usize),
    after: (usize, usize),
}

/// A fresh isolate with an old generation of `HEAP_BYTES` of small arrays,
/// every other one dropped, swept once: every page about half free.
fn fragmented_heap(platform: &Platform, workers: usize) -> (Isolate, Global<FixedArray>) {
    let config = HeapConfig {
        mode: GcMode::StopTheWorld,
        gc_workers: Some(workers),
        // Far above the heap: the explicit GCs are the only major GCs.
        initial_old_space_size: 1 << 30,
        // One scavenge task: objects are promoted in allocation order, so
        // live and dead alternate on every page.
        new_space_per_scavenge_task: usize::MAX,
        ..HeapConfig::default()
    };
    let mut isolate = Isolate::new(platform, config).unwrap();
    let chunks = HEAP_BYTES / (CHUNK * OBJECT_BYTES);
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
                let o = s.new_fixed_array(OBJECT_SLOTS).unwrap();
                s.set(o, 0, Smi::from(i as i32));
                if i >= 2 {
                    let prev = s.get(chunk, i - 2);
                    s.set(o, 1, prev);
                }
                s.set(chunk, i, o);
            }
        }
        // Two scavenges promote what is still young.
        scope.collect_garbage(GcRequest::Minor);
        scope.collect_garbage(GcRequest::Minor);
        // Drop the odd arrays (each is reachable only from its chunk and the
        // next odd one).
        for c in 0..chunks {
            let mut s = HandleScope::new(&mut scope);
            let v = s.get(root, c);
            let chunk = s.cast::<FixedArray, _>(v).unwrap();
            for i in (1..CHUNK).step_by(2) {
                s.set(chunk, i, Smi::from(0));
            }
        }
    }
    assert_eq!(isolate.gc_counts().1, 0, "building the heap ran no major GC");
    assert_eq!(isolate.heap_stats().space("new_space").unwrap().used, 0, "everything was promoted");
    // Sweeps the dropped half; nothing to compact yet (no page had free
    // bytes when this GC's marking started).
    isolate.collect_garbage(GcRequest::Major);
    let e = isolate.gc_events().pop().unwrap();
    assert_eq!(e.evacuated_pages, 0, "the sweeping GC compacted nothing");
    (isolate, root)
}

/// Old space's (committed, used) bytes.
fn old_space(isolate: &Isolate) -> (usize, usize) {
    let stats = isolate.heap_stats();
    let s = stats.space("old_space").unwrap();
    (s.committed, s.used)
}

/// The process's minor page faults so far (Linux: `/proc/self/stat`).
fn minor_faults() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which ends at the last ')'): state is
    // field 3, minflt field 10.
    stat.rsplit_once(')')?.1.split_whitespace().nth(7)?.parse().ok()
}

/// Builds a fragmented heap and times its compacting GC.
fn compacting_gc(platform: &Platform, tasks: usize) -> Sample {
    let (mut isolate, _root) = fragmented_heap(platform, tasks - 1);
    let before = old_space(&isolate);
    let faults = minor_faults();
    isolate.collect_garbage(GcRequest::Major);
    let faults = faults.zip(minor_faults()).map(|(a, b)| b - a);
    let e = isolate.gc_events().pop().unwrap();
    let after = old_space(&isolate);
    let phase = |p: Phase| e.phases.iter().filter(|(q, _)| *q == p).map(|(_, d)| *d).sum::<Duration>();
    let task_spans = |p: Phase| {
        let mut v: Vec<Duration> =
            e.spans.iter().filter(|s| s.phase == p && s.task.is_some()).map(|s| s.duration).collect();
        v.sort();
        v
    };
    let evacuators = task_spans(Phase::Evacuate);
    let updaters = task_spans(Phase::UpdatePointers);
    assert_eq!(evacuators.len(), tasks, "the evacuation job ran with every task");
    assert!(e.evacuated_pages > 0, "the second GC compacted");
    let (evacuate, update) = (phase(Phase::Evacuate), phase(Phase::UpdatePointers));
    Sample {
        compaction: evacuate + update,
        evacuate,
        update,
        mark: phase(Phase::Mark),
        sweep: phase(Phase::Sweep),
        pause: e.pause,
        unphased: e.pause.saturating_sub(e.phases.iter().map(|(_, d)| *d).sum()),
        evacuated_bytes: e.evacuated_bytes,
        evacuated_pages: e.evacuated_pages,
        aborted_pages: e.aborted_pages,
        evacuate_tasks: evacuators.len(),
        busiest: evacuators.last().copied().unwrap_or_default(),
        idlest: evacuators.first().copied().unwrap_or_default(),
        update_tasks: updaters.len(),
        update_busiest: updaters.last().copied().unwrap_or_default(),
        update_idlest: updaters.first().copied().unwrap_or_default(),
        faults,
        before,
        after,
    }
}

fn median<T: Copy + PartialOrd>(v: impl Iterator<Item = T>) -> T {
    let mut v: Vec<T> = v.collect();
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn summary(name: &str, s: &[&Sample]) {
    let mb = |b: usize| b as f64 / MB as f64;
    let md = |f: &dyn Fn(&Sample) -> Duration| ms(median(s.iter().map(|s| f(s))));
    let mu = |f: &dyn Fn(&Sample) -> usize| median(s.iter().map(|s| f(s)));
    eprintln!(
        "compaction: {name}: {} GCs; medians: compaction {:.2} ms (Evacuate {:.2} + UpdatePointers {:.2}), \
         pause {:.2} ms (Mark {:.2}, Sweep {:.2}, in no phase {:.2})",
        s.len(),
        md(&|s| s.compaction),
        md(&|s| s.evacuate),
        md(&|s| s.update),
        md(&|s| s.pause),
        md(&|s| s.mark),
        md(&|s| s.sweep),
        md(&|s| s.unphased),
    );
    let speed = median(s.iter().map(|s| s.evacuated_bytes as f64 / MB as f64 / ms(s.evacuate)));
    let faults = s.iter().filter_map(|s| s.faults).collect::<Vec<_>>();
    eprintln!(
        "compaction: {name}: evacuated {:.1} MiB in {} pages, aborted {} pages; {:.2} MiB evacuated per ms of \
         Evacuate; evacuation tasks {} (busiest {:.2} ms, idlest {:.2} ms), pointer-updating tasks {} \
         (busiest {:.2} ms, idlest {:.2} ms); minor page faults in the GC {}",
        mb(mu(&|s| s.evacuated_bytes)),
        mu(&|s| s.evacuated_pages),
        mu(&|s| s.aborted_pages),
        speed,
        mu(&|s| s.evacuate_tasks),
        md(&|s| s.busiest),
        md(&|s| s.idlest),
        mu(&|s| s.update_tasks),
        md(&|s| s.update_busiest),
        md(&|s| s.update_idlest),
        if faults.is_empty() { "unknown".to_string() } else { median(faults.into_iter()).to_string() },
    );
    let (bc, bu) = (mu(&|s| s.before.0), mu(&|s| s.before.1));
    let (ac, au) = (mu(&|s| s.after.0), mu(&|s| s.after.1));
    eprintln!(
        "compaction: {name}: old space committed {:.1} MiB / live {:.1} MiB = {:.2} before, {:.1} / {:.1} = {:.2} \
         after the compacting GC",
        mb(bc),
        mb(bu),
        bc as f64 / bu as f64,
        mb(ac),
        mb(au),
        ac as f64 / au as f64,
    );
}

/// Makes every thread allocate from glibc's main arena (no per-thread
/// arenas), before the worker starts: pages the worker allocates then come
/// from where the main thread's do, so both variants first-touch their
/// destination pages alike. (With per-thread arenas the worker's arena keeps
/// the memory of earlier samples' heaps, and the 2-task variant took about a
/// third of the page faults of the 1-task one.)
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn one_malloc_arena() {
    extern "C" {
        fn mallopt(param: std::ffi::c_int, value: std::ffi::c_int) -> std::ffi::c_int;
    }
    const M_ARENA_MAX: std::ffi::c_int = -8;
    // SAFETY: `mallopt` only sets a malloc parameter (thread-safe in glibc);
    // the arena limit applies to threads that have no arena yet.
    let ok = unsafe { mallopt(M_ARENA_MAX, 1) };
    assert_eq!(ok, 1, "mallopt(M_ARENA_MAX, 1) failed");
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn one_malloc_arena() {}

fn compaction(c: &mut Criterion) {
    one_malloc_arena();
    let platform = Platform::new(1).unwrap();
    let mut g = c.benchmark_group("compaction");
    // One fresh heap per sample (about a second to build).
    g.sample_size(20)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_nanos(1))
        .measurement_time(Duration::from_micros(1));
    // Samples come in pairs, one per task count, back to back and in
    // alternating order: the 1-task benchmark takes both, and the 2-task
    // benchmark reports the pairs' 2-task samples. On a shared machine, load
    // that comes and goes then falls on both variants alike.
    let mut pairs: Vec<[Sample; 2]> = Vec::new();
    let mut pending = VecDeque::new();
    g.bench_function(BenchmarkId::new("1_tasks", HEAP_BYTES / MB), |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| {
                    let pair = if pairs.len() % 2 == 0 {
                        let one = compacting_gc(&platform, 1);
                        [one, compacting_gc(&platform, 2)]
                    } else {
                        let two = compacting_gc(&platform, 2);
                        [compacting_gc(&platform, 1), two]
                    };
                    let d = pair[0].compaction;
                    pending.push_back(pair[1].compaction);
                    pairs.push(pair);
                    d
                })
                .sum()
        })
    });
    let mut unpaired = Vec::new();
    g.bench_function(BenchmarkId::new("2_tasks", HEAP_BYTES / MB), |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| {
                    pending.pop_front().unwrap_or_else(|| {
                        let s = compacting_gc(&platform, 2);
                        let d = s.compaction;
                        unpaired.push(s);
                        d
                    })
                })
                .sum()
        })
    });
    g.finish();
    let (one, mut two): (Vec<&Sample>, Vec<&Sample>) = pairs.iter().map(|[a, b]| (a, b)).unzip();
    two.extend(&unpaired);
    for (name, s) in [("1_tasks", &one), ("2_tasks", &two)] {
        if !s.is_empty() {
            summary(name, s);
        }
    }
    if pairs.is_empty() {
        return;
    }
    let m = |v: &[&Sample], f: fn(&Sample) -> Duration| median(v.iter().map(|s| f(s)));
    let x = |f: fn(&Sample) -> Duration| m(&one, f).as_secs_f64() / m(&two, f).as_secs_f64();
    let paired = median(pairs.iter().map(|[a, b]| a.compaction.as_secs_f64() / b.compaction.as_secs_f64()));
    eprintln!(
        "compaction: speedup 1 -> 2 tasks (ratio of medians): compaction {:.2}x ({:.2} -> {:.2} ms; median of the \
         {} pairs' ratios {:.2}x); Evacuate {:.2}x, UpdatePointers {:.2}x; whole pause {:.2}x",
        x(|s| s.compaction),
        ms(m(&one, |s| s.compaction)),
        ms(m(&two, |s| s.compaction)),
        pairs.len(),
        paired,
        x(|s| s.evacuate),
        x(|s| s.update),
        x(|s| s.pause),
    );
}

criterion_group!(benches, compaction);
criterion_main!(benches);

//! Marking throughput: the Mark phase of a major GC over a live old
//! generation of 16 and 64 MiB, with 1 and 2 tasks (and all cores), in one
//! run; and the major-GC pause at 64 and 256 MiB live, concurrent mode's
//! finalization against stop-the-world mode's single pause.
//!
//! Run: `cargo bench --bench marking`. Criterion's throughput lines give MB
//! of live objects marked per second; per-task throughput is that divided by
//! the task count; the speedup is the 1-task time over the N-task time.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use isogc::*;
use std::time::Duration;

const MB: usize = 1 << 20;
const CHUNK: usize = 1024;
/// A live object: a fixed array of 4 slots (48 bytes), one pointing to the
/// next object of its chunk so marking follows pointers, not just arrays.
const OBJECT_BYTES: usize = 48;

fn build_old_generation(isolate: &mut Isolate, bytes: usize) -> Global<FixedArray> {
    let mut scope = HandleScope::new(isolate);
    let chunks = bytes / OBJECT_BYTES / CHUNK;
    let root = scope.new_fixed_array(chunks).unwrap();
    for c in 0..chunks {
        let mut s = HandleScope::new(&mut scope);
        let chunk = s.new_fixed_array(CHUNK).unwrap();
        let mut prev = s.null();
        for i in 0..CHUNK {
            let o = s.new_fixed_array(4).unwrap();
            s.set(o, 0, Smi::from(i as i32));
            s.set(o, 1, prev);
            prev = o.as_value();
            s.set(chunk, i, o);
        }
        s.set(root, c, chunk);
    }
    let g = scope.global(root);
    // Two scavenges promote everything to old space.
    scope.collect_garbage(GcRequest::Minor);
    scope.collect_garbage(GcRequest::Minor);
    g
}

fn marking(c: &mut Criterion) {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut task_counts = vec![1, 2, cores];
    task_counts.dedup();
    let mut g = c.benchmark_group("marking_live");
    g.sample_size(10).measurement_time(Duration::from_secs(5)).warm_up_time(Duration::from_millis(500));
    for live in [16 * MB, 64 * MB] {
        g.throughput(Throughput::Bytes(live as u64));
        for &tasks in &task_counts {
            let platform = Platform::new(tasks - 1).unwrap();
            let config = HeapConfig { gc_workers: Some(tasks - 1), ..HeapConfig::default() };
            let mut isolate = Isolate::new(&platform, config).unwrap();
            let _root = build_old_generation(&mut isolate, live);
            g.bench_with_input(BenchmarkId::new(format!("{tasks}_tasks"), live / MB), &live, |b, _| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        isolate.collect_garbage(GcRequest::Major);
                        let e = isolate.gc_events().pop().unwrap();
                        let ran = e.spans.iter().filter(|s| s.phase == Phase::Mark && s.task.is_some()).count();
                        assert_eq!(ran, tasks, "the job ran with every task");
                        total += e.phases.iter().filter(|(p, _)| *p == Phase::Mark).map(|(_, d)| *d).sum::<Duration>();
                    }
                    total
                })
            });
        }
    }
    g.finish();
}

/// The major-GC pause on a live old generation: in concurrent mode the
/// finalization pause of a cycle that marked while the mutator ran, in
/// stop-the-world mode the one atomic pause. Each iteration keeps allocating
/// arrays into a ring (each lives long enough to be promoted, then dies: old
/// garbage) until the next allocation-triggered major GC, and times that
/// GC's pause.
fn major_pause(c: &mut Criterion) {
    // Big enough that an array outlives two maximal semi-spaces (65,536 x
    // 528 bytes = 34 MB > 2 x 16 MiB): it is promoted, then dies old.
    const RING: usize = 65536;
    let mut g = c.benchmark_group("major_pause");
    g.sample_size(10).measurement_time(Duration::from_secs(8)).warm_up_time(Duration::from_millis(1));
    for live in [64 * MB, 256 * MB] {
        for mode in [GcMode::Concurrent, GcMode::StopTheWorld] {
            let platform = Platform::new(1).unwrap();
            let mut isolate = Isolate::new(&platform, HeapConfig { mode, ..HeapConfig::default() }).unwrap();
            let _root = build_old_generation(&mut isolate, live);
            let ring = {
                let mut scope = HandleScope::new(&mut isolate);
                let r = scope.new_fixed_array(RING).unwrap();
                scope.global(r)
            };
            let name = match mode {
                GcMode::Concurrent => "concurrent_finalization",
                GcMode::StopTheWorld => "stop_the_world",
            };
            let mut next = 0usize;
            g.bench_with_input(BenchmarkId::new(name, live / MB), &live, |b, _| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let majors = isolate.gc_counts().1;
                        while isolate.gc_counts().1 == majors {
                            let mut scope = HandleScope::new(&mut isolate);
                            let r = scope.open(&ring);
                            for _ in 0..256 {
                                let a = scope.new_fixed_array(64).unwrap();
                                scope.set(r, next % RING, a);
                                next += 1;
                            }
                        }
                        let e = isolate.gc_events().into_iter().rev().find(|e| e.kind == GcKind::Major).unwrap();
                        assert_ne!(e.reason, GcReason::Requested);
                        total += e.pause;
                    }
                    total
                })
            });
        }
    }
    g.finish();
}

criterion_group!(benches, marking, major_pause);
criterion_main!(benches);

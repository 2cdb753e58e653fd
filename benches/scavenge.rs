//! Scavenge pause against survived bytes, for 1, 2 and all available tasks,
//! next to `memcpy` of the same number of bytes (the physical limit).
//!
//! Run: `cargo bench --bench scavenge`. Criterion's throughput lines give the
//! copied MB/s; the speedup at N tasks is the 1-task time over the N-task
//! time of the same run.
//!
//! `scavenge_old_to_new` times the remembered-set part alone: a scavenge
//! whose only survivors are young objects that old objects, scattered over
//! an old generation of 128 MB, point to (splay's shape: one slot per old
//! object, each in its own cache line and mostly its own TLB page), with no
//! GC worker and with one (which a remembered set of 8,000 slots asks to
//! help: `SLOTS_PER_SCAVENGE_TASK`).

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use isogc::*;
use std::time::{Duration, Instant};

const MB: usize = 1 << 20;
/// A live object: a fixed array of 4 Smis (48 bytes).
const OBJECT_BYTES: usize = 48;
const CHUNK: usize = 1024;

/// Builds `bytes` of live young objects reachable from `root` (breadth: a
/// root array of chunks, each a fixed array of small arrays).
fn build(scope: &mut HandleScope<'_>, root: Local<'_, FixedArray>, bytes: usize) {
    let objects = bytes / OBJECT_BYTES;
    let chunks = objects.div_ceil(CHUNK).min(scope.length(root));
    for c in 0..chunks {
        let mut s = HandleScope::new(scope);
        let chunk = s.new_fixed_array(CHUNK).unwrap();
        for i in 0..CHUNK {
            let o = s.new_fixed_array(4).unwrap();
            s.set(o, 0, Smi::from(i as i32));
            s.set(chunk, i, o);
        }
        s.set(root, c, chunk);
    }
}

fn scavenge_pause(c: &mut Criterion) {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut task_counts = vec![1, 2, cores];
    task_counts.dedup();
    let mut g = c.benchmark_group("scavenge_survived");
    g.sample_size(10).measurement_time(Duration::from_secs(4)).warm_up_time(Duration::from_millis(500));
    for survived in [MB, 4 * MB, 16 * MB] {
        g.throughput(Throughput::Bytes(survived as u64));
        for &tasks in &task_counts {
            let platform = Platform::new(tasks - 1).unwrap();
            let config = HeapConfig {
                min_semi_space_size: 64 * MB,
                max_semi_space_size: 64 * MB,
                gc_workers: Some(tasks - 1),
                ..HeapConfig::default()
            };
            let mut isolate = Isolate::new(&platform, config).unwrap();
            g.bench_with_input(BenchmarkId::new(format!("{tasks}_tasks"), survived / MB), &survived, |b, &bytes| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let mut scope = HandleScope::new(&mut isolate);
                        let root = scope.new_fixed_array(bytes / OBJECT_BYTES / CHUNK + 1).unwrap();
                        build(&mut scope, root, bytes);
                        let t = Instant::now();
                        scope.collect_garbage(GcRequest::Minor);
                        total += t.elapsed();
                        let last = scope.gc_events().pop().unwrap();
                        assert_eq!(last.scavenge_tasks, tasks.min(8));
                        assert!(last.survived_bytes >= bytes * 9 / 10, "survived {} of {bytes}", last.survived_bytes);
                    }
                    total
                })
            });
        }
        let src = vec![1u8; survived];
        let mut dst = vec![0u8; survived];
        g.bench_with_input(BenchmarkId::new("memcpy", survived / MB), &survived, |b, _| {
            b.iter(|| {
                dst.copy_from_slice(black_box(&src));
                black_box(&dst);
            })
        });
    }
    g.finish();
}

/// Old arrays of this many words (256 bytes each).
const OLD_ARRAY_WORDS: usize = 30;
const OLD_GENERATION: usize = 128 * MB;

fn scavenge_old_to_new(c: &mut Criterion) {
    let mut g = c.benchmark_group("scavenge_old_to_new");
    g.sample_size(10).measurement_time(Duration::from_secs(4)).warm_up_time(Duration::from_millis(500));
    // With no worker, one task does all; with one, the remembered set alone
    // asks for the helper (a 2 MiB semi-space is one task's worth by size).
    for workers in [0, 1] {
        let platform = Platform::new(workers).unwrap();
        // (Fast promotion off: the setup's allocation would switch it on,
        // and a page-promoting minor GC visits no slots. Stop-the-world
        // major GCs sweep in their pause, so no page is left pending sweep,
        // whose slots a scavenge filters, with or without a worker.)
        let config = HeapConfig {
            mode: GcMode::StopTheWorld,
            gc_workers: Some(workers),
            fast_promotion: false,
            min_semi_space_size: 2 * MB,
            max_semi_space_size: 2 * MB,
            new_space_per_scavenge_task: 2 * MB,
            ..HeapConfig::default()
        };
        let mut isolate = Isolate::new(&platform, config).unwrap();
        let mut scope = HandleScope::new(&mut isolate);
        let arrays = OLD_GENERATION / ((OLD_ARRAY_WORDS + 2) * 8);
        let per_chunk = 4096;
        let table = scope.new_fixed_array(arrays.div_ceil(per_chunk)).unwrap();
        for c in 0..scope.length(table) {
            let mut s = HandleScope::new(&mut scope);
            let chunk = s.new_fixed_array(per_chunk).unwrap();
            for i in 0..per_chunk {
                let a = s.new_fixed_array(OLD_ARRAY_WORDS).unwrap();
                s.set(chunk, i, a);
            }
            s.set(table, c, chunk);
        }
        scope.collect_garbage(GcRequest::Major);
        scope.collect_garbage(GcRequest::Major);
        for slots in [0usize, 1_000, 8_000] {
            g.throughput(Throughput::Elements(slots as u64));
            let id = BenchmarkId::new(format!("{workers}_workers/slots"), slots);
            g.bench_with_input(id, &slots, |b, &slots| {
                let mut seed = 0x2545_f491_4f6c_dd1du64;
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    let mut measured = 0;
                    while measured < iters {
                        // Point `slots` old arrays, chosen at random, at
                        // fresh young objects; the old ones they pointed to
                        // die.
                        let mut s = HandleScope::new(&mut scope);
                        let (minors, majors) = s.gc_counts();
                        for _ in 0..slots {
                            seed ^= seed << 13;
                            seed ^= seed >> 7;
                            seed ^= seed << 17;
                            let n = (seed % arrays as u64) as usize;
                            let chunk: Local<'_, FixedArray> = s.get_as(table, n / per_chunk);
                            let old: Local<'_, FixedArray> = s.get_as(chunk, n % per_chunk);
                            let young = s.new_fixed_array(2).unwrap();
                            s.set(old, 0, young);
                        }
                        s.collect_garbage(GcRequest::Minor);
                        // A GC of the heap's own between (a marking cycle's
                        // finalization, with a worker) took some of the
                        // slots: that round does not count.
                        if s.gc_counts() != (minors + 1, majors) {
                            continue;
                        }
                        let last = s.gc_events().pop().unwrap();
                        assert!(
                            last.scavenge_old_to_new_slots >= slots * 9 / 10,
                            "{} slots: {last:?}",
                            last.scavenge_old_to_new_slots
                        );
                        total += last.pause;
                        measured += 1;
                    }
                    total
                })
            });
        }
    }
    g.finish();
}

criterion_group!(benches, scavenge_pause, scavenge_old_to_new);
criterion_main!(benches);

//! Scavenge pause against survived bytes, for 1, 2 and all available tasks,
//! next to `memcpy` of the same number of bytes (the physical limit).
//!
//! Run: `cargo bench --bench scavenge`. Criterion's throughput lines give the
//! copied MB/s; the speedup at N tasks is the 1-task time over the N-task
//! time of the same run.

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

criterion_group!(benches, scavenge_pause);
criterion_main!(benches);

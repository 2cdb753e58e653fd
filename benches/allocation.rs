//! Allocation through the public API against `Box::new`, and the cost of a
//! scavenge when nothing survives.
//!
//! The isogc figures include the amortised cost of the scavenges that the
//! allocation triggers (nothing survives them); `box_new` includes the
//! matching `free`.
//!
//! Run: `cargo bench --bench allocation`.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use isogc::*;
use std::time::{Duration, Instant};

const BATCH: usize = 1000;

fn isolate() -> (Platform, Isolate) {
    let platform = Platform::new(1).unwrap();
    let isolate = Isolate::new(&platform, HeapConfig::default()).unwrap();
    (platform, isolate)
}

/// A 4-field object: map word + 4 tagged fields = 40 bytes.
fn small_object(c: &mut Criterion) {
    let mut g = c.benchmark_group("allocate_4_field_object");
    g.throughput(Throughput::Elements(BATCH as u64));
    let (_p, mut iso) = isolate();
    let mut scope = HandleScope::new(&mut iso);
    let map = scope.new_map(&ObjectLayout { name: "Small".into(), tagged_fields: 4, raw_bytes: 0 }).unwrap();
    g.bench_function("isogc_new_object", |b| {
        b.iter(|| {
            let mut s = HandleScope::new(&mut scope);
            for _ in 0..BATCH {
                black_box(s.new_object(map).unwrap());
            }
        })
    });
    g.bench_function("isogc_new_object_scope_each", |b| {
        b.iter(|| {
            for _ in 0..BATCH {
                let mut s = HandleScope::new(&mut scope);
                black_box(s.new_object(map).unwrap());
            }
        })
    });
    drop(scope);
    g.bench_function("box_new", |b| {
        b.iter(|| {
            let mut v = Vec::with_capacity(BATCH);
            for _ in 0..BATCH {
                v.push(black_box(Box::new([0usize; 5])));
            }
            v
        })
    });
    g.finish();
}

/// A minor GC of a full nursery in which nothing survives.
fn empty_scavenge(c: &mut Criterion) {
    let mut g = c.benchmark_group("scavenge_nothing_survives");
    let (_p, mut iso) = isolate();
    let mut scope = HandleScope::new(&mut iso);
    let map = scope.new_map(&ObjectLayout { name: "Small".into(), tagged_fields: 4, raw_bytes: 0 }).unwrap();
    // Fill most of a 1 MiB semi-space with garbage, then time the scavenge.
    let per_fill = (HeapConfig::default().min_semi_space_size * 3 / 4) / 40;
    g.bench_function("minor_gc_1MiB_semi_space", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                for _ in 0..per_fill {
                    let mut s = HandleScope::new(&mut scope);
                    black_box(s.new_object(map).unwrap());
                }
                let t = Instant::now();
                scope.collect_garbage(GcRequest::Minor);
                total += t.elapsed();
            }
            total
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = small_object, empty_scavenge
}
criterion_main!(benches);

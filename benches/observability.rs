//! What observing the collector costs: reading a full GC event history whole
//! (`gc_events`, a clone of every event) against reading only what is new
//! (`gc_events_since`) or borrowing it (`gc_event_iter`); and the heap
//! statistics (`heap_stats`, counters of spaces and pages) against the
//! walking object counts (`heap_object_counts`) on a heap of a million
//! objects.
//!
//! Run: `cargo bench --bench observability`. Filling the 65,536-event history
//! takes a few seconds of scavenges first.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use isogc::*;
use std::time::Duration;

const HISTORY: usize = 1 << 16;

fn event_history(c: &mut Criterion) {
    let platform = Platform::new(1).unwrap();
    let config = HeapConfig { gc_event_history: HISTORY, gc_workers: Some(0), ..HeapConfig::default() };
    let mut isolate = Isolate::new(&platform, config).unwrap();
    // Each scavenge of an (almost) empty new space records one event.
    while isolate.next_gc_event() < HISTORY as u64 {
        isolate.collect_garbage(GcRequest::Minor);
    }
    let bytes: usize = isolate.gc_event_iter(0).map(|(_, e)| e.heap_bytes()).sum();
    println!("history: {} events, {:.1} MiB ({} bytes per event)", HISTORY, bytes as f64 / 1048576.0, bytes / HISTORY);
    let mut g = c.benchmark_group("gc_events_full_history");
    g.sample_size(10).measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_millis(500));
    g.bench_function("gc_events (clone all 65536)", |b| b.iter(|| black_box(isolate.gc_events()).len()));
    let last16 = isolate.next_gc_event() - 16;
    g.bench_function("gc_events_since (the last 16)", |b| {
        b.iter(|| black_box(isolate.gc_events_since(black_box(last16))).0.len())
    });
    g.bench_function("gc_event_iter (visit all 65536, no clone)", |b| {
        b.iter(|| isolate.gc_event_iter(black_box(0)).map(|(_, e)| e.pause).sum::<Duration>())
    });
    g.finish();
}

fn heap_statistics(c: &mut Criterion) {
    let platform = Platform::new(1).unwrap();
    let mut isolate = Isolate::new(&platform, HeapConfig::default()).unwrap();
    // A million small arrays, kept: 1,000 chunks of 1,000, promoted.
    let _root = {
        let mut scope = HandleScope::new(&mut isolate);
        let root = scope.new_fixed_array(1000).unwrap();
        for c in 0..1000 {
            let mut s = HandleScope::new(&mut scope);
            let chunk = s.new_fixed_array(1000).unwrap();
            for i in 0..1000 {
                let a = s.new_fixed_array(2).unwrap();
                s.set(chunk, i, a);
            }
            s.set(root, c, chunk);
        }
        scope.global(root)
    };
    isolate.collect_garbage(GcRequest::Major);
    isolate.collect_garbage(GcRequest::FinishSweeping);
    let mut g = c.benchmark_group("heap_stats_million_objects");
    g.sample_size(10).measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_millis(500));
    g.bench_function("heap_stats", |b| b.iter(|| black_box(isolate.heap_stats()).used));
    g.bench_function("heap_object_counts (walk)", |b| b.iter(|| black_box(isolate.heap_object_counts()).spaces.len()));
    g.bench_function("is_marking + is_sweeping", |b| {
        b.iter(|| black_box(isolate.is_marking() || isolate.is_sweeping()))
    });
    g.finish();
}

criterion_group!(benches, event_history, heap_statistics);
criterion_main!(benches);

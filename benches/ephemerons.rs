//! Ephemeron marking (issue #18): a heap holding 100,000 ephemeron entries
//! in chains of 1, 10 and 100 (one table; each chain's first key rooted,
//! every value the next link's key, entries inserted so that one round of
//! the fixpoint resolves one link), marked
//!
//! - `stop_the_world/<chain>`: the atomic major GC's pause (marking, the
//!   pause's fixpoint, weak clearing, sweeping started);
//! - `concurrent_cycle/<chain>`: a concurrent cycle, from its start to the
//!   end of its finalization pause (the background markers' rounds
//!   included), wall time;
//! - the finalization pause of those cycles alone: printed after the
//!   `concurrent_cycle` line (median and max over every cycle criterion ran).
//!
//! Chains up to 10 resolve within `MAX_PAUSE_ROUNDS` parallel rounds; chains
//! of 100 reach the bound and finish with the linear fallback, so the
//! growth from 10 to 100 shows whether the pause stays linear.
//!
//! Run: `cargo bench --bench ephemerons`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use isogc::*;
use std::time::{Duration, Instant};

const ENTRIES: usize = 100_000;

/// Builds the chains in `isolate`'s old generation; returns the roots (the
/// table and the first keys).
fn build(isolate: &mut Isolate, chain: usize) -> Global<FixedArray> {
    let mut scope = HandleScope::new(isolate);
    let chains = ENTRIES / chain;
    let root = scope.new_fixed_array(chains + 1).unwrap();
    let table = scope.new_ephemeron_table().unwrap();
    scope.set(root, chains, table);
    for c in 0..chains {
        let mut s = HandleScope::new(&mut scope);
        let keys: Vec<_> = (0..=chain).map(|_| s.new_fixed_array(1).unwrap()).collect();
        s.set(root, c, keys[0]);
        for i in (0..chain).rev() {
            s.ephemeron_set(table, keys[i], keys[i + 1]).unwrap();
        }
    }
    let g = scope.global(root);
    scope.collect_garbage(GcRequest::Major);
    g
}

fn ephemerons(c: &mut Criterion) {
    let mut g = c.benchmark_group("ephemerons");
    g.sample_size(10).measurement_time(Duration::from_secs(4)).warm_up_time(Duration::from_millis(200));
    for chain in [1, 10, 100] {
        for mode in [GcMode::StopTheWorld, GcMode::Concurrent] {
            let platform = Platform::new(1).unwrap();
            let mut isolate = Isolate::new(&platform, HeapConfig { mode, ..HeapConfig::default() }).unwrap();
            let _root = build(&mut isolate, chain);
            assert_eq!(isolate.heap_stats().weak.ephemeron_entries, ENTRIES / chain * chain);
            match mode {
                GcMode::StopTheWorld => {
                    g.bench_with_input(BenchmarkId::new("stop_the_world", chain), &chain, |b, _| {
                        b.iter_custom(|iters| {
                            (0..iters)
                                .map(|_| {
                                    isolate.collect_garbage(GcRequest::Major);
                                    isolate.gc_events().pop().unwrap().pause
                                })
                                .sum()
                        })
                    });
                }
                _ => {
                    let mut pauses = Vec::new();
                    g.bench_with_input(BenchmarkId::new("concurrent_cycle", chain), &chain, |b, _| {
                        b.iter_custom(|iters| {
                            let mut total = Duration::ZERO;
                            for _ in 0..iters {
                                let t = Instant::now();
                                isolate.collect_garbage(GcRequest::StartMarking);
                                // Give the background markers time to drain
                                // and run their rounds.
                                std::thread::sleep(Duration::from_millis(20));
                                isolate.collect_garbage(GcRequest::FinishMarking);
                                total += t.elapsed();
                                pauses.push(isolate.gc_events().pop().unwrap().pause);
                            }
                            total
                        })
                    });
                    pauses.sort();
                    // (Empty when a filter skipped the cycles.)
                    if !pauses.is_empty() {
                        println!(
                            "ephemerons/finalization_pause/{chain}: {} cycles, median {:?}, max {:?}",
                            pauses.len(),
                            pauses[pauses.len() / 2],
                            pauses[pauses.len() - 1]
                        );
                    }
                    assert_eq!(isolate.heap_stats().weak.ephemeron_entries, ENTRIES / chain * chain);
                }
            }
        }
    }
    g.finish();
}

criterion_group!(benches, ephemerons);
criterion_main!(benches);

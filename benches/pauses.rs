//! GC pause time, not wall time, of each workload (quick sizes) with the
//! major GC in `Concurrent` and in `StopTheWorld` mode.
//!
//! Run: `cargo bench --bench pauses`. Two groups, each with a benchmark per
//! workload and mode (`<workload>/<mode>`):
//!
//! - `gc_pause_sum`: the sum of the GC pauses of one run of the workload;
//! - `gc_pause_max`: the longest GC pause of one run.
//!
//! Every iteration is a whole run in a fresh isolate (one shared
//! `Platform`), timed by `iter_custom` with the pauses the isolate recorded,
//! so criterion's figures are pause times and the two modes of a workload
//! compare directly. Criterion budgets its measurement time in the measured
//! quantity: a target of a few milliseconds of pause still costs ten or so
//! whole runs per benchmark, so expect its "unable to complete 10 samples"
//! warning; it is harmless here.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode};
use isogc::workloads::{self, Size, Workload};
use isogc::{GcMode, HeapConfig, Platform};
use std::time::Duration;

/// What one run contributes to a sample.
#[derive(Clone, Copy)]
enum Figure {
    /// Sum of the run's pauses.
    Sum,
    /// Its longest pause.
    Max,
}

fn mode_name(m: GcMode) -> &'static str {
    match m {
        GcMode::Concurrent => "concurrent",
        GcMode::StopTheWorld => "stop-the-world",
    }
}

fn pauses(c: &mut Criterion) {
    let platform = Platform::with_default_workers().expect("a GC worker pool");
    for (group, figure) in [("gc_pause_sum", Figure::Sum), ("gc_pause_max", Figure::Max)] {
        let mut g = c.benchmark_group(group);
        // One run per sample: the smallest budget criterion accepts.
        g.sample_size(10)
            .sampling_mode(SamplingMode::Flat)
            .warm_up_time(Duration::from_millis(1))
            .measurement_time(Duration::from_millis(10));
        for workload in Workload::ALL {
            for mode in [GcMode::Concurrent, GcMode::StopTheWorld] {
                g.bench_function(BenchmarkId::new(workload.name(), mode_name(mode)), |b| {
                    b.iter_custom(|iters| {
                        let mut total = Duration::ZERO;
                        for _ in 0..iters {
                            let config = HeapConfig { mode, ..HeapConfig::default() };
                            let m = workloads::measure(&platform, config, workload, Size::Quick)
                                .unwrap_or_else(|e| panic!("{workload} ({}): {e}", mode_name(mode)));
                            total += match figure {
                                Figure::Sum => m.report.all.total,
                                Figure::Max => m.report.all.max.unwrap_or_default(),
                            };
                        }
                        total
                    })
                });
            }
        }
        g.finish();
    }
}

criterion_group!(benches, pauses);
criterion_main!(benches);

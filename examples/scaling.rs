//! Isolates side by side on one shared `Platform` (issue #15's multi-isolate
//! benchmark): 1, 2 and 4 isolates, each on its own thread, each running
//! the same workload; per isolate its wall time and its pause p99 / max,
//! and the aggregate throughput (runs per second of all isolates together)
//! against one isolate alone.
//!
//! ```text
//! cargo run --release --example scaling -- [--workload binary-trees|gcbench|splay] [--workers N] [--default]
//! ```
//!
//! `--default` runs the workloads at their full sizes (minutes); the default
//! is the quick sizes. `--workers` is the platform's GC worker count
//! (default 1, as the pause demonstration on this 2-core machine).

use isogc::workloads::{measure, Size, Workload};
use isogc::{HeapConfig, Platform};
use std::time::{Duration, Instant};

fn ms(d: Option<Duration>) -> f64 {
    d.map_or(0.0, |d| d.as_secs_f64() * 1e3)
}

fn main() {
    let mut workload = Workload::BinaryTrees;
    let mut workers = 1;
    let mut size = Size::Quick;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--workload" => {
                let w = args.next().unwrap_or_default();
                workload = Workload::from_name(&w).unwrap_or_else(|| panic!("unknown workload {w:?}"));
            }
            "--workers" => workers = args.next().and_then(|v| v.parse().ok()).expect("--workers needs a number"),
            "--default" => size = Size::Default,
            _ => {
                eprintln!("usage: scaling [--workload W] [--workers N] [--default]");
                std::process::exit(2);
            }
        }
    }
    let platform = Platform::new(workers).expect("a platform");
    println!("{workload} ({size:?} size) on one platform with {workers} GC worker(s)\n");
    println!(
        "isolates  isolate  wall s   pause p99 ms  pause max ms  minor max ms  longest pause: kind, longest phase"
    );
    let mut alone = None;
    let mut rows = Vec::new();
    for n in [1usize, 2, 4] {
        let started = Instant::now();
        let results: Vec<_> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..n)
                .map(|_| {
                    let platform = platform.clone();
                    s.spawn(move || {
                        measure(&platform, HeapConfig::default(), workload, size).expect("the workload runs")
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().expect("an isolate thread")).collect()
        });
        let wall = started.elapsed();
        for (i, m) in results.iter().enumerate() {
            let r = &m.report;
            let longest = m.events.iter().max_by_key(|e| e.pause);
            let what = longest.map_or(String::new(), |e| {
                let phase = e.phases.iter().max_by_key(|(_, d)| *d);
                format!("{:?}, {:?}", e.kind, phase.map(|(p, d)| (p, ms(Some(*d)))))
            });
            println!(
                "{n:8}  {:7}  {:6.2}   {:12.2}  {:12.2}  {:12.2}  {what}",
                i + 1,
                r.wall.as_secs_f64(),
                ms(r.all.p99),
                ms(r.all.max),
                ms(r.minor.max)
            );
        }
        let throughput = n as f64 / wall.as_secs_f64();
        let base = *alone.get_or_insert(throughput);
        rows.push((n, wall, throughput / base));
    }
    println!("\nisolates  wall s (all)  aggregate throughput vs one isolate");
    for (n, wall, x) in rows {
        println!("{n:8}  {:12.2}  {x:.2}x", wall.as_secs_f64());
    }
}

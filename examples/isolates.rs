//! Two isolates on one shared `Platform` (issue #15's interference set-up):
//! isolate A scavenges often and measures its scavenge pauses, first alone,
//! then while isolate B, on its own thread, keeps the pool busy with the
//! background work of its major GCs (concurrent marking of a large old
//! generation, then concurrent sweeping) and mostly sleeps.
//!
//! ```text
//! cargo run --release --example isolates -- [--workers N] [--scavenges N] [--b-mib N] [--quick]
//! ```
//!
//! A uses 4 MiB semi-spaces, so each of its scavenges is a job of two tasks
//! (its own thread and one pool helper) on a 1-worker platform: before
//! issue #15, its pause waited for that helper to start, that is for B's
//! background marker or sweeper to finish. Prints A's scavenge pause
//! p50 / p99 / max in both runs, how long of it A's thread spent waiting
//! for helpers after its own task had finished (the scavenge phase less task
//! 0's run: what issue #15 removed, apart from the OS's scheduling of A's
//! thread, which on a loaded machine dominates the tail), and how many major
//! GCs B finished meanwhile (B's background work must progress too).

use isogc::workloads::report::PauseStats;
use isogc::{GcKind, GcMode, GcRequest, HandleScope, HeapConfig, Isolate, Phase, Platform};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

const MB: usize = 1 << 20;

struct Options {
    workers: usize,
    scavenges: usize,
    b_mib: usize,
}

fn parse() -> Result<Options, String> {
    let mut o = Options { workers: 1, scavenges: 400, b_mib: 64 };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut num = |what: &str| -> Result<usize, String> {
            args.next().and_then(|v| v.parse().ok()).ok_or_else(|| format!("{what} needs a number"))
        };
        match a.as_str() {
            "--workers" => o.workers = num("--workers")?,
            "--scavenges" => o.scavenges = num("--scavenges")?,
            "--b-mib" => o.b_mib = num("--b-mib")?,
            "--quick" => {
                o.scavenges = 100;
                o.b_mib = 32;
            }
            "-h" | "--help" => {
                return Err("usage: isolates [--workers N] [--scavenges N] [--b-mib N] [--quick]".into());
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(o)
}

/// Isolate A: allocates short-lived arrays (a small ring of them survives
/// each scavenge) until it has run `scavenges` scavenges; returns their
/// pauses and, for each, how long the scavenge phase outlasted task 0 (the
/// wait for helpers).
fn run_a(platform: &Platform, scavenges: usize) -> (Vec<Duration>, Vec<Duration>) {
    let config = HeapConfig {
        min_semi_space_size: 4 * MB,
        max_semi_space_size: 4 * MB,
        mode: GcMode::Concurrent,
        ..HeapConfig::default()
    };
    let mut isolate = Isolate::new(platform, config).expect("isolate A");
    {
        let mut scope = HandleScope::new(&mut isolate);
        let ring = scope.new_fixed_array(2048).expect("ring");
        let mut i = 0usize;
        while scope.heap_stats().minor_gcs < scavenges as u64 {
            let mut s = HandleScope::new(&mut scope);
            for _ in 0..64 {
                let a = s.new_fixed_array(14).expect("A allocates");
                s.set(ring, i % 2048, a);
                i += 1;
            }
        }
    }
    let minors: Vec<_> = isolate.gc_events().into_iter().filter(|e| e.kind == GcKind::Minor).collect();
    let waited = |e: &isogc::GcEvent| {
        let phase = e.phases.iter().find(|(p, _)| *p == Phase::Scavenge).map_or(Duration::ZERO, |p| p.1);
        let own =
            e.spans.iter().find(|s| s.phase == Phase::Scavenge && s.task == Some(0)).map_or(phase, |s| s.duration);
        phase.saturating_sub(own)
    };
    (minors.iter().map(|e| e.pause).collect(), minors.iter().map(waited).collect())
}

/// Isolate B: holds about `mib` MiB of old objects, replaces a quarter of
/// them per round (garbage for the sweeper), starts a concurrent marking
/// cycle, sleeps while the pool marks, finishes it (sweeping starts in the
/// background), sleeps again. Returns the major GCs it finished.
fn run_b(platform: &Platform, mib: usize, stop: &AtomicBool) -> u64 {
    let config = HeapConfig {
        mode: GcMode::Concurrent,
        initial_old_space_size: 4 * mib * MB,
        max_old_space_size: 16 * mib * MB,
        ..HeapConfig::default()
    };
    let mut isolate = Isolate::new(platform, config).expect("isolate B");
    let mut scope = HandleScope::new(&mut isolate);
    // 1 KiB arrays of 126 slots; `mib` MiB of them.
    let n = mib * 1024;
    let table = scope.new_fixed_array(n).expect("table");
    let fill = |scope: &mut HandleScope<'_>, from: usize, to: usize| {
        for i in from..to {
            let mut s = HandleScope::new(scope);
            let a = s.new_fixed_array(126).expect("B allocates");
            s.set(table, i, a);
        }
    };
    fill(&mut scope, 0, n);
    scope.collect_garbage(GcRequest::Minor);
    scope.collect_garbage(GcRequest::Minor);
    let mut round = 0;
    // Relaxed: a stop request; nothing else is handed over with it.
    while !stop.load(Ordering::Relaxed) {
        let q = n / 4;
        let from = (round % 4) * q;
        fill(&mut scope, from, from + q);
        scope.collect_garbage(GcRequest::Minor);
        scope.collect_garbage(GcRequest::StartMarking);
        std::thread::sleep(Duration::from_millis(30));
        scope.collect_garbage(GcRequest::FinishMarking);
        std::thread::sleep(Duration::from_millis(30));
        round += 1;
    }
    scope.heap_stats().major_gcs
}

fn ms(d: Option<Duration>) -> String {
    d.map_or("-".into(), |d| format!("{:.3}", d.as_secs_f64() * 1e3))
}

fn main() {
    let o = match parse() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let platform = Platform::new(o.workers).expect("platform");
    println!(
        "Platform with {} worker(s); A: {} scavenges of a 4 MiB semi-space; B: {} MiB old generation",
        o.workers, o.scavenges, o.b_mib
    );
    let header = ["run", "count", "p50 ms", "p99 ms", "max ms", "wait p99", "wait max", "B majors"];
    println!(
        "{:<26} {:>5} {:>8} {:>8} {:>8} {:>9} {:>9} {:>8}",
        header[0], header[1], header[2], header[3], header[4], header[5], header[6], header[7]
    );
    let row = |name: &str, (pauses, waits): (Vec<Duration>, Vec<Duration>), majors: &str| {
        let (p, w) = (PauseStats::of(pauses), PauseStats::of(waits));
        println!(
            "{:<26} {:>5} {:>8} {:>8} {:>8} {:>9} {:>9} {:>8}",
            name,
            p.count,
            ms(p.p50),
            ms(p.p99),
            ms(p.max),
            ms(w.p99),
            ms(w.max),
            majors
        );
    };
    row("A alone", run_a(&platform, o.scavenges), "-");
    let stop = Arc::new(AtomicBool::new(false));
    let b = {
        let (platform, stop) = (platform.clone(), stop.clone());
        std::thread::spawn(move || run_b(&platform, o.b_mib, &stop))
    };
    // Let B build its old generation and start its first cycle.
    std::thread::sleep(Duration::from_millis(500));
    let with_b = run_a(&platform, o.scavenges);
    // Relaxed: pairs with nothing (see `run_b`); the join synchronises.
    stop.store(true, Ordering::Relaxed);
    let majors = b.join().expect("isolate B");
    row("A with B's background GC", with_b, &majors.to_string());
}

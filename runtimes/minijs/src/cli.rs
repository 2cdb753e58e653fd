//! The `minijs` command line.

use crate::{run, Options};
use isogc::workloads::report::PauseStats;
use isogc::GcMode;
use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

const USAGE: &str = "usage: minijs [--gc-report] [--trace-gc] [--verify-heap] [--stop-the-world] \
                     [--max-old-space-size=MB] [--heap-snapshot=FILE] FILE [ARGS...]";

fn ms(d: Option<Duration>) -> String {
    d.map_or("-".into(), |d| format!("{:.2}", d.as_secs_f64() * 1e3))
}

fn triple(s: &PauseStats) -> String {
    format!("{}/{}/{}", ms(s.p50), ms(s.p99), ms(s.max))
}

/// Runs the command line `args` (without the program name).
pub fn main(args: Vec<String>) -> ExitCode {
    let mut options = Options::default();
    let mut report = false;
    let mut rest = args.into_iter();
    let mut file = None;
    for a in rest.by_ref() {
        if let Some(v) = a.strip_prefix("--max-old-space-size=") {
            match v.parse::<usize>() {
                Ok(mb) if mb > 0 => {
                    options.heap.max_old_space_size = mb << 20;
                    options.heap.initial_old_space_size = options.heap.initial_old_space_size.min(mb << 20);
                }
                _ => {
                    eprintln!("minijs: --max-old-space-size takes a positive number of MB, not {v:?}");
                    return ExitCode::from(2);
                }
            }
        } else if let Some(path) = a.strip_prefix("--heap-snapshot=") {
            options.heap_snapshot = Some(path.into());
        } else if a == "--gc-report" {
            report = true;
        } else if a == "--trace-gc" {
            options.heap.trace_gc = true;
        } else if a == "--verify-heap" {
            options.heap.verify_heap = true;
        } else if a == "--stop-the-world" {
            options.heap.mode = GcMode::StopTheWorld;
        } else if a == "--help" || a == "-h" {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        } else if a.starts_with("--") {
            eprintln!("minijs: unknown flag {a}\n{USAGE}");
            return ExitCode::from(2);
        } else {
            file = Some(a);
            break;
        }
    }
    let Some(file) = file else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let script_args: Vec<String> = rest.collect();
    let source = match std::fs::read_to_string(&file) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("minijs: cannot read {file}: {e}");
            return ExitCode::from(2);
        }
    };
    let outcome = run(&file, &source, &script_args, &options);
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(&outcome.stdout);
    let _ = stdout.flush();
    if report {
        let r = outcome.report();
        let wall = r.wall.as_secs_f64();
        let share = if wall > 0.0 { r.all.total.as_secs_f64() / wall * 100.0 } else { 0.0 };
        eprintln!(
            "{:<12} {:>8} {:>15} {:>14} {:>8} {:>22} {:>22} {:>22} {:>16} {:>8}",
            "program",
            "wall s",
            "GCs minor/major",
            "pause total ms",
            "GC %",
            "pause p50/p99/max ms",
            "minor p50/p99/max ms",
            "major p50/p99/max ms",
            "MMU 1/10/100 ms",
            "peak MB"
        );
        let name = std::path::Path::new(&file).file_stem().map_or(file.clone(), |s| s.to_string_lossy().into_owned());
        eprintln!(
            "{:<12} {:>8.2} {:>15} {:>14.1} {:>8.1} {:>22} {:>22} {:>22} {:>16} {:>8.1}",
            name,
            wall,
            format!("{}/{}", r.minor_gcs, r.major_gcs),
            r.all.total.as_secs_f64() * 1e3,
            share,
            triple(&r.all),
            triple(&r.minor),
            triple(&r.major),
            r.mmu.map(|u| u.map_or("-".into(), |u| format!("{u:.2}"))).join("/"),
            r.peak_committed as f64 / (1 << 20) as f64,
        );
        for site in outcome.sites.iter().filter(|s| s.tenured_count > 0) {
            eprintln!(
                "pretenured site: {} ({:?}, tenured {} times, {} objects allocated old)",
                site.name, site.state, site.tenured_count, site.pretenured_objects
            );
        }
    }
    match outcome.result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{file}: {e}");
            ExitCode::from(1)
        }
    }
}

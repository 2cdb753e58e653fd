//! The main demonstration: GC pauses of three classic workloads
//! (binary-trees, GCBench, splay) with the major GC in `GcMode::Concurrent`
//! and in `GcMode::StopTheWorld`, one fresh isolate per run on one shared
//! `Platform`, as one table (or JSON lines), plus pictures and a Chrome
//! trace under `target/isogc-report/`.
//!
//! ```text
//! cargo run --release --example pauses -- [--workload binary-trees|gcbench|splay|all]
//!     [--mode concurrent|stop-the-world|both] [--workers N] [--quick] [--json]
//!     [--trace-gc] [--out DIR] [--heap-snapshot DIR]
//! ```
//!
//! The README documents the options and the JSON field names.

use isogc::workloads::report::{log_windows, MarkingTotals, Mmu, PauseStats, Report};
use isogc::workloads::{self, Measured, Size, Workload};
use isogc::{GcKind, GcMode, HeapConfig, Platform};
use plotters::prelude::*;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

const USAGE: &str = "\
usage: pauses [--workload binary-trees|gcbench|splay|all] [--mode concurrent|stop-the-world|both]
              [--workers N] [--quick] [--json] [--trace-gc] [--out DIR] [--heap-snapshot DIR]

  --workload W   which workload to run (default: all)
  --mode M       which major-GC mode (default: both)
  --workers N    GC worker threads of the shared Platform (default: cores - 1)
  --quick        small sizes: the whole run takes seconds
  --json         one JSON object per line per workload and mode on stdout, no table
  --trace-gc     one line per GC on stderr (HeapConfig::trace_gc)
  --out DIR      where the pictures and trace.json go (default: target/isogc-report)
  --heap-snapshot DIR
                 at the end of each run, while its long-lived data is alive, write a heap
                 snapshot DIR/<workload>-<mode>.heapsnapshot (open it in Chrome DevTools)";

struct Options {
    workloads: Vec<Workload>,
    modes: Vec<GcMode>,
    workers: Option<usize>,
    size: Size,
    json: bool,
    trace_gc: bool,
    out: Option<PathBuf>,
    heap_snapshot: Option<PathBuf>,
}

fn mode_name(m: GcMode) -> &'static str {
    match m {
        GcMode::Concurrent => "concurrent",
        GcMode::StopTheWorld => "stop-the-world",
    }
}

fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Options, String> {
    let mut o = Options {
        workloads: Workload::ALL.to_vec(),
        modes: vec![GcMode::Concurrent, GcMode::StopTheWorld],
        workers: None,
        size: Size::Default,
        json: false,
        trace_gc: false,
        out: None,
        heap_snapshot: None,
    };
    let mut args = args.into_iter();
    while let Some(a) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match a.as_str() {
            "--workload" => {
                let v = value("--workload")?;
                o.workloads = match v.as_str() {
                    "all" => Workload::ALL.to_vec(),
                    name => vec![Workload::from_name(name).ok_or_else(|| format!("unknown workload {name:?}"))?],
                };
            }
            "--mode" => {
                o.modes = match value("--mode")?.as_str() {
                    "concurrent" => vec![GcMode::Concurrent],
                    "stop-the-world" => vec![GcMode::StopTheWorld],
                    "both" => vec![GcMode::Concurrent, GcMode::StopTheWorld],
                    m => return Err(format!("unknown mode {m:?}")),
                };
            }
            "--workers" => {
                let v = value("--workers")?;
                o.workers = Some(v.parse().map_err(|_| format!("--workers: {v:?} is not a number"))?);
            }
            "--out" => o.out = Some(PathBuf::from(value("--out")?)),
            "--heap-snapshot" => o.heap_snapshot = Some(PathBuf::from(value("--heap-snapshot")?)),
            "--quick" => o.size = Size::Quick,
            "--json" => o.json = true,
            "--trace-gc" => o.trace_gc = true,
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown option {other:?}")),
        }
    }
    Ok(o)
}

/// One run: which workload, which mode, what it measured.
struct Row {
    workload: Workload,
    mode: GcMode,
    m: Measured,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn opt_ms(d: Option<Duration>) -> Value {
    d.map_or(Value::Null, |d| json!(ms(d)))
}

const MB: f64 = 1024.0 * 1024.0;

/// The JSON object of one run; the field names are documented in README.md.
fn json_row(r: &Row, size: Size, workers: usize) -> Value {
    let rep = &r.m.report;
    let kind = |prefix: &str, s: &PauseStats| {
        [
            (format!("{prefix}pause_count"), json!(s.count)),
            (format!("{prefix}total_pause_ms"), json!(ms(s.total))),
            (format!("{prefix}pause_p50_ms"), opt_ms(s.p50)),
            (format!("{prefix}pause_p99_ms"), opt_ms(s.p99)),
            (format!("{prefix}pause_max_ms"), opt_ms(s.max)),
        ]
    };
    let mut o = json!({
        "workload": r.workload.name(),
        "mode": mode_name(r.mode),
        "size": match size { Size::Quick => "quick", Size::Default => "default" },
        "workers": workers,
        "wall_s": rep.wall.as_secs_f64(),
        "gc_count": rep.minor_gcs + rep.major_gcs,
        "minor_gcs": rep.minor_gcs,
        "major_gcs": rep.major_gcs,
        "mmu_1ms": rep.mmu[0],
        "mmu_10ms": rep.mmu[1],
        "mmu_100ms": rep.mmu[2],
        "verified": true,
        "step_count": rep.steps.count,
        "step_p99_ms": opt_ms(rep.steps.p99),
        "step_p999_ms": opt_ms(rep.steps.p999),
        "step_max_ms": opt_ms(rep.steps.max),
        "peak_heap_mb": rep.peak_committed as f64 / MB,
        "scavenge_count": rep.scavenges.count,
        "marked_background_mb": rep.marking.background_bytes as f64 / MB,
        "marked_step_mb": rep.marking.step_bytes as f64 / MB,
        "marked_pause_mb": rep.marking.pause_bytes as f64 / MB,
        "forced_by_limit": rep.marking.forced,
        "scavenge_moved_mb": rep.scavenges.moved_bytes as f64 / MB,
        "scavenge_total_ms": ms(rep.scavenges.time),
        "scavenge_mb_per_ms": rep.scavenges.bytes_per_ms().map(|b| b / MB),
        "scavenge_roots_total_ms": ms(rep.scavenges.roots),
        "scavenge_old_to_new_total_ms": ms(rep.scavenges.old_to_new),
        "scavenge_old_to_new_max_ms": ms(rep.scavenges.old_to_new_max),
        "scavenge_old_to_new_slots": rep.scavenges.old_to_new_slots,
    });
    let map = o.as_object_mut().expect("an object");
    for (prefix, s) in [("", &rep.all), ("minor_", &rep.minor), ("major_", &rep.major)] {
        map.extend(kind(prefix, s));
    }
    o
}

/// A duration in ms with a precision that suits it; `-` for none.
fn fmt_ms(d: Option<Duration>) -> String {
    match d.map(ms) {
        None => "-".into(),
        Some(v) if v < 10.0 => format!("{v:.2}"),
        Some(v) if v < 100.0 => format!("{v:.1}"),
        Some(v) => format!("{v:.0}"),
    }
}

fn triple(s: &PauseStats) -> String {
    format!("{}/{}/{}", fmt_ms(s.p50), fmt_ms(s.p99), fmt_ms(s.max))
}

fn print_table(rows: &[Row]) {
    let header = [
        "workload",
        "mode",
        "wall s",
        "GCs minor/major",
        "pause total ms",
        "pause p50/p99/max ms",
        "minor p50/p99/max ms",
        "major p50/p99/max ms",
        "MMU 1/10/100 ms",
        "step p99/p99.9/max ms",
        "marked bg/step/pause %",
        "forced",
        "peak MB",
    ];
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let rep: &Report = &r.m.report;
            let steps = if rep.steps.count == 0 {
                "-".into()
            } else {
                format!("{}/{}/{}", fmt_ms(rep.steps.p99), fmt_ms(rep.steps.p999), fmt_ms(rep.steps.max))
            };
            vec![
                r.workload.name().into(),
                mode_name(r.mode).into(),
                format!("{:.2}", rep.wall.as_secs_f64()),
                format!("{}/{}", rep.minor_gcs, rep.major_gcs),
                format!("{:.1}", ms(rep.all.total)),
                triple(&rep.all),
                triple(&rep.minor),
                triple(&rep.major),
                rep.mmu.map(|u| u.map_or("-".into(), |u| format!("{u:.2}"))).join("/"),
                steps,
                marking_shares(&rep.marking),
                rep.marking.forced.to_string(),
                format!("{:.1}", rep.peak_committed as f64 / MB),
            ]
        })
        .collect();
    let widths: Vec<usize> = (0..header.len())
        .map(|i| cells.iter().map(|c| c[i].len()).chain([header[i].len()]).max().unwrap_or(0))
        .collect();
    let line = |c: &[String]| {
        let parts: Vec<String> = c
            .iter()
            .enumerate()
            .map(|(i, s)| if i < 2 { format!("{s:<w$}", w = widths[i]) } else { format!("{s:>w$}", w = widths[i]) })
            .collect();
        println!("{}", parts.join("  ").trim_end());
    };
    line(&header.map(String::from));
    println!("{}", "-".repeat(widths.iter().sum::<usize>() + 2 * (widths.len() - 1)));
    for c in &cells {
        line(c);
    }
}

/// The shares of the run's marking done by the background workers, by
/// marking steps and inside major-GC pauses, in percent.
fn marking_shares(m: &MarkingTotals) -> String {
    let all = (m.background_bytes + m.step_bytes + m.pause_bytes) as f64;
    if all == 0.0 {
        return "-".into();
    }
    let pct = |b: usize| format!("{:.0}", 100.0 * b as f64 / all);
    format!("{}/{}/{}", pct(m.background_bytes), pct(m.step_bytes), pct(m.pause_bytes))
}

/// Which phase took longest in the longest pause of a run.
fn longest_pause_phase(m: &Measured) -> Option<String> {
    let e = m.events.iter().max_by_key(|e| e.pause)?;
    let (phase, d) = e.phases.iter().max_by_key(|(_, d)| *d)?;
    let kind = match e.kind {
        GcKind::Minor => "scavenge",
        GcKind::Major => "full GC",
        GcKind::MarkingStart => "marking start",
        GcKind::MarkingStep => "marking step",
        GcKind::SweepingStep => "sweeping step",
    };
    Some(format!("{:.2} ms {kind}, of which {phase:?} {:.2} ms", ms(e.pause), ms(*d)))
}

/// `target/isogc-report`, next to the example's own build directory
/// (`target/<profile>/examples/pauses`); the crate's `target/` if that
/// cannot be found.
fn default_out_dir() -> PathBuf {
    let from_exe = std::env::current_exe().ok().and_then(|exe| {
        let examples = exe.parent()?;
        let target = examples.parent()?.parent()?;
        (examples.file_name()? == "examples").then(|| target.join("isogc-report"))
    });
    from_exe.unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target").join("isogc-report"))
}

const COLORS: [RGBColor; 2] = [RGBColor(31, 119, 180), RGBColor(214, 39, 40)];

type PlotResult = Result<(), Box<dyn std::error::Error>>;

/// The empirical CDF of the pause times of each mode, log x.
fn plot_pause_cdf(path: &Path, workload: Workload, rows: &[&Row]) -> PlotResult {
    let series: Vec<(String, Vec<(f64, f64)>)> = rows
        .iter()
        .map(|r| {
            let mut p: Vec<f64> = r.m.events.iter().map(|e| ms(e.pause).max(1e-3)).collect();
            p.sort_by(f64::total_cmp);
            let n = p.len() as f64;
            let pts = p.iter().enumerate().map(|(i, &x)| (x, (i + 1) as f64 / n)).collect();
            (format!("{} ({} pauses)", mode_name(r.mode), p.len()), pts)
        })
        .collect();
    let all = series.iter().flat_map(|(_, s)| s.iter().map(|p| p.0));
    let (lo, hi) = all.fold((f64::MAX, f64::MIN), |(a, b), x| (a.min(x), b.max(x)));
    let (lo, hi) = if lo > hi { (0.01, 10.0) } else { (lo / 1.5, hi * 1.5) };
    let root = SVGBackend::new(path, (800, 500)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(format!("{workload}: GC pause times (CDF)"), ("sans-serif", 22))
        .margin(15)
        .margin_right(35)
        .x_label_area_size(45)
        .y_label_area_size(55)
        .build_cartesian_2d((lo..hi).log_scale(), 0.0..1.0)?;
    chart
        .configure_mesh()
        .x_desc("pause (ms, log scale)")
        .y_desc("fraction of pauses <= x")
        .x_label_formatter(&|x| format!("{x}"))
        .draw()?;
    for (i, (name, pts)) in series.into_iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        // A step function: each pause raises the CDF at its length.
        let mut steps = Vec::with_capacity(2 * pts.len());
        let mut prev = 0.0;
        for (x, y) in pts {
            steps.push((x, prev));
            steps.push((x, y));
            prev = y;
        }
        chart
            .draw_series(LineSeries::new(steps, color.stroke_width(2)))?
            .label(name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
    }
    chart.configure_series_labels().position(SeriesLabelPosition::LowerRight).border_style(BLACK).draw()?;
    root.present()?;
    Ok(())
}

/// MMU against window width (0.1 to 1000 ms, log x) for each mode.
fn plot_mmu(path: &Path, workload: Workload, rows: &[&Row]) -> PlotResult {
    let windows = log_windows(Duration::from_micros(100), Duration::from_secs(1), 200);
    let root = SVGBackend::new(path, (800, 500)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(format!("{workload}: minimum mutator utilization"), ("sans-serif", 22))
        .margin(15)
        .margin_right(35)
        .x_label_area_size(45)
        .y_label_area_size(55)
        .build_cartesian_2d((0.1f64..1000.0).log_scale(), 0.0..1.0)?;
    chart
        .configure_mesh()
        .x_desc("window (ms, log scale)")
        .y_desc("MMU (least mutator share of any window)")
        .x_label_formatter(&|x| format!("{x}"))
        .draw()?;
    for (i, r) in rows.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let mmu = mmu_of(&r.m);
        let pts: Vec<(f64, f64)> = mmu.curve(&windows).into_iter().map(|(w, u)| (ms(w), u)).collect();
        chart
            .draw_series(LineSeries::new(pts, color.stroke_width(2)))?
            .label(mode_name(r.mode))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
    }
    chart.configure_series_labels().position(SeriesLabelPosition::UpperLeft).border_style(BLACK).draw()?;
    root.present()?;
    Ok(())
}

fn mmu_of(m: &Measured) -> Mmu {
    let interval =
        (m.run.started.saturating_duration_since(m.created), m.run.finished.saturating_duration_since(m.created));
    Mmu::new(interval, m.events.iter().map(|e| (e.start, e.pause)))
}

/// A Chrome trace-event file: one process per run (isolate and mode), one
/// thread per GC thread (0: the isolate's, i: pool worker i - 1), an "X"
/// event per pause and one per phase and task span.
fn trace_json(rows: &[Row], epoch: Instant) -> Value {
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let mut events = Vec::new();
    for (pid, r) in rows.iter().enumerate() {
        let pid = pid + 1;
        let base = us(r.m.created.saturating_duration_since(epoch));
        let name = format!("{} / {} (isolate {})", r.workload, mode_name(r.mode), r.m.isolate_id);
        events.push(json!({"name": "process_name", "ph": "M", "pid": pid, "args": {"name": name}}));
        events.push(json!({"name": "process_sort_index", "ph": "M", "pid": pid, "args": {"sort_index": pid}}));
        let mut threads: Vec<usize> = r.m.events.iter().flat_map(|e| e.spans.iter().map(|s| s.thread)).collect();
        threads.push(0);
        threads.sort_unstable();
        threads.dedup();
        for t in threads {
            let tname = if t == 0 { "isolate thread".to_string() } else { format!("isogc-worker-{}", t - 1) };
            events.push(json!({"name": "thread_name", "ph": "M", "pid": pid, "tid": t, "args": {"name": tname}}));
        }
        events.push(json!({
            "name": format!("{} run", r.workload), "cat": "run", "ph": "X", "pid": pid, "tid": 0,
            "ts": us(r.m.run.started.saturating_duration_since(epoch)),
            "dur": us(r.m.run.wall()),
        }));
        for e in &r.m.events {
            let kind = match e.kind {
                GcKind::Minor => "Minor GC pause",
                GcKind::Major => "Major GC pause",
                GcKind::MarkingStart => "Marking start pause",
                GcKind::MarkingStep => "Marking step",
                GcKind::SweepingStep => "Sweeping step",
            };
            events.push(json!({
                "name": kind, "cat": "gc", "ph": "X", "pid": pid, "tid": 0,
                "ts": base + us(e.start), "dur": us(e.pause),
                "args": {
                    "reason": format!("{:?}", e.reason),
                    "bytes_before": e.bytes_before, "bytes_after": e.bytes_after,
                    "survived_bytes": e.survived_bytes, "promoted_bytes": e.promoted_bytes,
                    "scavenge_tasks": e.scavenge_tasks,
                },
            }));
            for s in &e.spans {
                let name = match s.task {
                    None => format!("{:?}", s.phase),
                    Some(t) => format!("{:?} task {t}", s.phase),
                };
                events.push(json!({
                    "name": name, "cat": "gc", "ph": "X", "pid": pid, "tid": s.thread,
                    "ts": base + us(s.start), "dur": us(s.duration),
                }));
            }
        }
    }
    json!({"traceEvents": events, "displayTimeUnit": "ms"})
}

fn write_reports(rows: &[Row], out: &Path, epoch: Instant) -> Result<Vec<PathBuf>, Box<dyn std::error::Error>> {
    std::fs::create_dir_all(out)?;
    let mut written = Vec::new();
    let mut seen: Vec<Workload> = rows.iter().map(|r| r.workload).collect();
    seen.dedup();
    for w in seen {
        let of_w: Vec<&Row> = rows.iter().filter(|r| r.workload == w).collect();
        let cdf = out.join(format!("{w}-pauses.svg"));
        plot_pause_cdf(&cdf, w, &of_w)?;
        let mmu = out.join(format!("{w}-mmu.svg"));
        plot_mmu(&mmu, w, &of_w)?;
        written.extend([cdf, mmu]);
    }
    let trace = out.join("trace.json");
    std::fs::write(&trace, serde_json::to_vec(&trace_json(rows, epoch))?)?;
    written.push(trace);
    Ok(written)
}

fn main() -> ExitCode {
    let o = match parse_args(std::env::args().skip(1)) {
        Ok(o) => o,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("pauses: {e}");
            }
            eprintln!("{USAGE}");
            return if e.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(2) };
        }
    };
    let platform = match o.workers.map_or_else(Platform::with_default_workers, Platform::new) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("pauses: {e}");
            return ExitCode::FAILURE;
        }
    };
    let epoch = Instant::now();
    let mut rows = Vec::new();
    for &workload in &o.workloads {
        for &mode in &o.modes {
            eprint!("running {workload} ({}) ... ", mode_name(mode));
            let config = HeapConfig { mode, trace_gc: o.trace_gc, ..HeapConfig::default() };
            let snapshot = std::rc::Rc::new(std::cell::RefCell::new(None));
            let measured = match &o.heap_snapshot {
                None => workloads::measure(&platform, config, workload, o.size),
                Some(dir) => {
                    let path = dir.join(format!("{workload}-{}.heapsnapshot", mode_name(mode)));
                    let result = snapshot.clone();
                    let hook = move |_: Workload, scope: &mut isogc::HandleScope<'_>| {
                        let r = std::fs::create_dir_all(path.parent().unwrap())
                            .and_then(|()| scope.write_heap_snapshot_to(&path))
                            .map(|info| (path.clone(), info));
                        *result.borrow_mut() = Some(r);
                    };
                    workloads::with_end_hook(hook, || workloads::measure(&platform, config, workload, o.size))
                }
            };
            match snapshot.take() {
                Some(Ok((path, info))) => eprint!(
                    "wrote {} ({} objects, {} edges, {:.1} MiB) ... ",
                    path.display(),
                    info.objects,
                    info.edges,
                    info.bytes as f64 / MB
                ),
                Some(Err(e)) => {
                    eprintln!("failed");
                    eprintln!("pauses: writing the heap snapshot of {workload} ({}): {e}", mode_name(mode));
                    return ExitCode::FAILURE;
                }
                None => {}
            }
            match measured {
                Ok(m) => {
                    eprintln!(
                        "{:.2} s, verified; longest pause: {}",
                        m.report.wall.as_secs_f64(),
                        longest_pause_phase(&m).unwrap_or_else(|| "none".into())
                    );
                    for site in &m.sites {
                        eprintln!(
                            "  site {:?}: {:?} (tenured {} times, {} objects pretenured)",
                            site.name, site.state, site.tenured_count, site.pretenured_objects
                        );
                    }
                    let row = Row { workload, mode, m };
                    if o.json {
                        println!("{}", json_row(&row, o.size, platform.workers()));
                    }
                    rows.push(row);
                }
                Err(e) => {
                    eprintln!("failed");
                    eprintln!("pauses: {workload} ({}): {e}", mode_name(mode));
                    return ExitCode::FAILURE;
                }
            }
        }
    }
    if !o.json {
        println!();
        print_table(&rows);
        println!();
    }
    let out = o.out.clone().unwrap_or_else(default_out_dir);
    match write_reports(&rows, &out, epoch) {
        Ok(paths) => {
            for p in paths {
                if o.json {
                    eprintln!("wrote {}", p.display());
                } else {
                    println!("wrote {}", p.display());
                }
            }
        }
        Err(e) => {
            eprintln!("pauses: writing the report to {}: {e}", out.display());
            return ExitCode::FAILURE;
        }
    }
    let total = epoch.elapsed().as_secs_f64();
    if o.json {
        eprintln!("total {total:.1} s on {} GC workers", platform.workers());
    } else {
        println!("total {total:.1} s on {} GC workers", platform.workers());
    }
    ExitCode::SUCCESS
}

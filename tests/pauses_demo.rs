//! The main demonstration, end to end: `examples/pauses --quick --json` runs
//! every workload in both modes, and each line it prints must be a JSON
//! object with every documented figure present and sane (non-negative,
//! `p50 <= p99 <= max`, MMU in [0, 1] and non-decreasing from 1 to 10 to
//! 100 ms windows, counts that add up). Values are not checked: they depend
//! on the machine.
//!
//! The example binary is the one `cargo test` builds next to this test
//! (`target/<profile>/examples/pauses`); when it is missing or older than
//! this test (e.g. under `cargo test --test pauses_demo`, which builds no
//! examples), `cargo run --example pauses` builds and runs it instead.

use serde_json::{Map, Value};
use std::path::{Path, PathBuf};
use std::process::Command;

const WORKLOADS: [&str; 3] = ["binary-trees", "gcbench", "splay"];
const MODES: [&str; 2] = ["concurrent", "stop-the-world"];

/// The example built beside this test executable, if it is there and at
/// least as new as this test.
fn built_example() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let profile_dir = exe.parent()?.parent()?; // target/<profile>/deps/.. -> target/<profile>
    let example = profile_dir.join("examples").join(format!("pauses{}", std::env::consts::EXE_SUFFIX));
    let (built, this) = (example.metadata().ok()?.modified().ok()?, exe.metadata().ok()?.modified().ok()?);
    (built >= this).then_some(example)
}

fn demo_command(args: &[&str]) -> Command {
    match built_example() {
        Some(example) => {
            eprintln!("running {}", example.display());
            let mut c = Command::new(example);
            c.args(args);
            c
        }
        None => {
            eprintln!("no fresh example binary beside the test: cargo run --example pauses");
            let mut c = Command::new(env!("CARGO"));
            c.current_dir(env!("CARGO_MANIFEST_DIR"))
                .args(["run", "--quiet", "--profile", "test", "--example", "pauses", "--"])
                .args(args);
            c
        }
    }
}

fn num(o: &Map<String, Value>, k: &str) -> f64 {
    let v = o.get(k).unwrap_or_else(|| panic!("field {k} missing in {o:?}"));
    let n = v.as_f64().unwrap_or_else(|| panic!("field {k} is not a number: {v}"));
    assert!(n.is_finite() && n >= 0.0, "field {k} = {n} is negative or not finite");
    n
}

/// A figure that is `null` exactly when there is nothing to measure.
fn opt_num(o: &Map<String, Value>, k: &str, defined: bool) -> Option<f64> {
    let v = o.get(k).unwrap_or_else(|| panic!("field {k} missing in {o:?}"));
    if defined {
        Some(num(o, k))
    } else {
        assert!(v.is_null(), "field {k} = {v}, expected null");
        None
    }
}

fn close_or_below(a: f64, b: f64) -> bool {
    a <= b + 1e-9 * b.abs().max(1.0)
}

/// Checks one kind's pause figures (`prefix` "", "minor_" or "major_");
/// returns its count and total.
fn check_pauses(o: &Map<String, Value>, prefix: &str) -> (f64, f64) {
    let count = num(o, &format!("{prefix}pause_count"));
    assert_eq!(count.fract(), 0.0, "{prefix}pause_count is not an integer");
    let total = num(o, &format!("{prefix}total_pause_ms"));
    let p50 = opt_num(o, &format!("{prefix}pause_p50_ms"), count > 0.0);
    let p99 = opt_num(o, &format!("{prefix}pause_p99_ms"), count > 0.0);
    let max = opt_num(o, &format!("{prefix}pause_max_ms"), count > 0.0);
    match (p50, p99, max) {
        (Some(p50), Some(p99), Some(max)) => {
            assert!(p50 <= p99 && p99 <= max, "{prefix}: p50 {p50} <= p99 {p99} <= max {max} fails");
            assert!(close_or_below(max, total), "{prefix}: max pause {max} above the total {total}");
            assert!(close_or_below(total, count * max), "{prefix}: total {total} above count x max");
        }
        _ => assert_eq!(total, 0.0, "{prefix}: no pauses but a total of {total} ms"),
    }
    (count, total)
}

fn check_line(o: &Map<String, Value>) {
    let wall_ms = num(o, "wall_s") * 1e3;
    assert!(wall_ms > 0.0, "wall_s is zero");
    assert_eq!(o["size"], "quick");
    assert_eq!(o["verified"], true);
    assert!(num(o, "workers") >= 1.0);

    let (minor, major, gcs) = (num(o, "minor_gcs"), num(o, "major_gcs"), num(o, "gc_count"));
    assert_eq!(gcs, minor + major, "gc_count is not minor_gcs + major_gcs");
    assert!(gcs > 0.0, "a workload that ran no GC measures nothing");

    let (all, total) = check_pauses(o, "");
    let (minor_n, minor_total) = check_pauses(o, "minor_");
    let (major_n, major_total) = check_pauses(o, "major_");
    assert_eq!(all, minor_n + major_n, "pause_count is not minor + major");
    // A scavenge is one pause. A major GC is one pause in stop-the-world
    // mode; in concurrent mode its incremental marking adds a start pause and
    // steps before the finalization pause.
    assert!(minor_n <= minor, "more scavenge pauses ({minor_n}) than scavenges ({minor})");
    if o["mode"] == "stop-the-world" {
        assert!(major_n <= major, "more major pauses ({major_n}) than major GCs ({major}) in stop-the-world mode");
    } else {
        assert!(major_n >= major, "a major GC without a pause: {major_n} pauses, {major} major GCs");
    }
    assert!((total - (minor_total + major_total)).abs() <= 1e-6 * total.max(1.0), "total is not minor + major");
    assert!(total <= wall_ms * 1.001 + 1.0, "{total} ms of pauses in a run of {wall_ms} ms");

    // MMU: defined for windows that fit in the run, in [0, 1], and
    // non-decreasing across windows that are multiples of each other.
    let mut last = 0.0;
    for (k, w) in [("mmu_1ms", 1.0), ("mmu_10ms", 10.0), ("mmu_100ms", 100.0)] {
        let Some(u) = opt_num(o, k, w <= wall_ms) else { continue };
        assert!(u <= 1.0, "{k} = {u} above 1");
        assert!(u + 1e-9 >= last, "{k} = {u} below the smaller window's {last}");
        if total == 0.0 {
            assert_eq!(u, 1.0, "{k} below 1 without pauses");
        }
        last = u;
    }

    let steps = num(o, "step_count");
    assert_eq!(steps > 0.0, o["workload"] == "splay", "only splay measures steps");
    let p99 = opt_num(o, "step_p99_ms", steps > 0.0);
    let p999 = opt_num(o, "step_p999_ms", steps > 0.0);
    let max = opt_num(o, "step_max_ms", steps > 0.0);
    if let (Some(p99), Some(p999), Some(max)) = (p99, p999, max) {
        assert!(p99 <= p999 && p999 <= max && max <= wall_ms, "step latencies {p99} {p999} {max}");
    }
    assert!(num(o, "peak_heap_mb") > 0.0);
}

#[test]
fn quick_json_run_reports_every_figure_for_every_workload_and_mode() {
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("pauses-demo-report");
    let _ = std::fs::remove_dir_all(&out);
    let output = demo_command(&["--quick", "--json", "--out", out.to_str().expect("a UTF-8 path")])
        .output()
        .expect("the pauses example runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "pauses failed: {}\nstdout:\n{stdout}\nstderr:\n{stderr}", output.status);

    let mut seen = Vec::new();
    for line in stdout.lines() {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        let o = v.as_object().unwrap_or_else(|| panic!("not a JSON object: {line}"));
        let (w, m) = (o["workload"].as_str().expect("workload"), o["mode"].as_str().expect("mode"));
        assert!(WORKLOADS.contains(&w) && MODES.contains(&m), "unknown workload or mode: {line}");
        check_line(o);
        seen.push((w.to_string(), m.to_string()));
    }
    let mut want: Vec<(String, String)> =
        WORKLOADS.iter().flat_map(|w| MODES.iter().map(move |m| (w.to_string(), m.to_string()))).collect();
    seen.sort();
    want.sort();
    assert_eq!(seen, want, "one line per workload and mode");

    // The pictures and the trace.
    for w in WORKLOADS {
        for kind in ["pauses", "mmu"] {
            let svg = std::fs::read_to_string(out.join(format!("{w}-{kind}.svg"))).expect("an SVG per plot");
            assert!(svg.starts_with("<svg") && svg.contains("</svg>") && svg.contains("<text"), "{w}-{kind}.svg");
        }
    }
    let trace: Value = serde_json::from_slice(&std::fs::read(out.join("trace.json")).expect("trace.json")).unwrap();
    let events = trace["traceEvents"].as_array().expect("a traceEvents array");
    let complete: Vec<&Value> = events.iter().filter(|e| e["ph"] == "X").collect();
    assert!(!complete.is_empty(), "no complete events");
    for e in complete {
        assert!(e["ts"].as_f64().is_some() && e["dur"].as_f64().is_some_and(|d| d >= 0.0), "{e}");
        assert!(e["pid"].as_u64().is_some() && e["tid"].as_u64().is_some(), "{e}");
    }
    let pids: std::collections::BTreeSet<u64> = events.iter().filter_map(|e| e["pid"].as_u64()).collect();
    assert_eq!(pids.len(), 6, "one trace process per workload and mode");
}

#[test]
fn bad_options_are_rejected_with_usage() {
    let output = demo_command(&["--workload", "no-such-workload"]).output().expect("the pauses example runs");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("unknown workload") && stderr.contains("usage:"), "{stderr}");
}

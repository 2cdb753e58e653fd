//! Workloads: three classic GC benchmarks, written the way a language runtime
//! would write them, against the public API only ([`HandleScope`], maps,
//! fixed arrays, strings; no crate internals), and the pause report computed
//! from the [`GcEvent`]s they cause.
//!
//! | workload | after | what it stresses |
//! |---|---|---|
//! | [`binary_trees`] | the Computer Language Benchmarks Game's binary-trees | allocation rate; short-lived trees die young (scavenges), one long-lived tree is promoted |
//! | [`gcbench`] | Boehm's GCBench (Ellis, Kovac, Boehm) | trees built top-down (old-to-new stores, the write barrier) and bottom-up; a long-lived tree and a 4 MB array |
//! | [`splay`] | Octane's Splay / SplayLatency | a large, mutating old generation (major GCs) and per-step latency |
//!
//! Each workload takes a `&mut Isolate` and a size parameter, verifies its
//! own result (checksums, tree invariants) and returns what it measured.
//! [`measure`] runs one in a fresh isolate and builds its [`Report`]
//! (`papers/gc-benchmarks.md` says where these versions depart from the
//! originals; `papers/cheng-blelloch-2001-mmu.md` how the MMU is computed).
//!
//! Recursive builders return their results as a runtime's functions return
//! values: each call opens an [`crate::EscapableHandleScope`] for its
//! temporaries and escapes its result into its caller's scope, so the
//! number of live handles stays proportional to the recursion depth, as the
//! roots of a real runtime's stack would be, not to the size of the tree,
//! and a parent is linked to its (young) children by plain young-to-young
//! stores.

use crate::{
    AllocError, ConfigError, EscapableHandleScope, GcEvent, HandleScope, HeapConfig, Isolate, Local, Map, Object,
    Platform,
};
use std::time::{Duration, Instant};

pub mod binary_trees;
pub mod gcbench;
pub mod report;
pub mod splay;

/// A hook each workload calls at its end (after its measured interval,
/// while its long-lived data is still alive): see [`with_end_hook`].
type EndHook = Box<dyn FnMut(Workload, &mut HandleScope<'_>)>;

std::thread_local! {
    static END_HOOK: std::cell::RefCell<Option<EndHook>> = const { std::cell::RefCell::new(None) };
    /// Inside the end hook: [`measure`] leaves its GCs out of the figures.
    static IN_END_HOOK: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// GCs (minor, major) the end hook ran, for [`measure`] to subtract.
    static END_HOOK_GCS: std::cell::Cell<(u64, u64)> = const { std::cell::Cell::new((0, 0)) };
}

/// Runs `f` with `hook` called by every workload that runs inside it on
/// this thread at its end: after the time its figures measure, before it
/// verifies and drops its long-lived data (the pause demonstration's
/// `--heap-snapshot` writes a snapshot there). [`measure`] leaves the GCs
/// the hook runs out of its figures.
pub fn with_end_hook<R>(hook: impl FnMut(Workload, &mut HandleScope<'_>) + 'static, f: impl FnOnce() -> R) -> R {
    let previous = END_HOOK.with(|h| h.borrow_mut().replace(Box::new(hook)));
    struct Restore(Option<EndHook>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let previous = self.0.take();
            END_HOOK.with(|h| *h.borrow_mut() = previous);
        }
    }
    let _restore = Restore(previous);
    f()
}

/// Calls the end hook, if one is set (see [`with_end_hook`]).
fn at_end(workload: Workload, scope: &mut HandleScope<'_>) {
    let hook = END_HOOK.with(|h| h.borrow_mut().take());
    if let Some(mut hook) = hook {
        let (minor, major) = scope.gc_counts();
        IN_END_HOOK.set(true);
        hook(workload, scope);
        IN_END_HOOK.set(false);
        let (m, n) = scope.gc_counts();
        let (dm, dn) = END_HOOK_GCS.get();
        END_HOOK_GCS.set((dm + m - minor, dn + n - major));
        END_HOOK.with(|h| *h.borrow_mut() = Some(hook));
    }
}

pub use report::Report;

/// One of the three workloads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Workload {
    /// [`binary_trees`].
    BinaryTrees,
    /// [`gcbench`].
    GcBench,
    /// [`splay`].
    Splay,
}

impl Workload {
    /// Every workload, in the order the reports list them.
    pub const ALL: [Workload; 3] = [Workload::BinaryTrees, Workload::GcBench, Workload::Splay];

    /// The workload's name on the command line and in reports:
    /// `binary-trees`, `gcbench` or `splay`.
    pub fn name(self) -> &'static str {
        match self {
            Workload::BinaryTrees => "binary-trees",
            Workload::GcBench => "gcbench",
            Workload::Splay => "splay",
        }
    }

    /// The workload called `name` (see [`Workload::name`]).
    pub fn from_name(name: &str) -> Option<Workload> {
        Workload::ALL.into_iter().find(|w| w.name() == name)
    }

    /// Runs the workload at `size` on `isolate` and verifies its result.
    pub fn run(self, isolate: &mut Isolate, size: Size) -> Result<Run, WorkloadError> {
        match self {
            Workload::BinaryTrees => {
                let depth = match size {
                    Size::Quick => binary_trees::QUICK_MAX_DEPTH,
                    Size::Default => binary_trees::DEFAULT_MAX_DEPTH,
                };
                let r = binary_trees::run(isolate, depth)?;
                Ok(Run::new(self, r.started, r.finished, Vec::new(), r.output.join("\n")))
            }
            Workload::GcBench => {
                let params = match size {
                    Size::Quick => gcbench::Params::quick(),
                    Size::Default => gcbench::Params::default(),
                };
                let r = gcbench::run(isolate, &params)?;
                Ok(Run::new(self, r.started, r.finished, Vec::new(), r.output.join("\n")))
            }
            Workload::Splay => {
                let params = match size {
                    Size::Quick => splay::Params::quick(),
                    Size::Default => splay::Params::default(),
                };
                let r = splay::run(isolate, &params)?;
                let summary = format!(
                    "{} steps of {} insert/remove pairs on a tree of {} nodes; {} leaves checked",
                    r.step_latencies.len(),
                    params.modifications,
                    params.tree_size,
                    r.leaves_checked
                );
                Ok(Run::new(self, r.started, r.finished, r.step_latencies, summary))
            }
        }
    }
}

impl std::fmt::Display for Workload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// How big a run is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Size {
    /// Small: the three workloads in both modes take seconds, for tests and
    /// `--quick`.
    Quick,
    /// The sizes of the original benchmarks (binary-trees 21, GCBench's own
    /// constants, Octane's splay constants).
    #[default]
    Default,
}

/// What one run of a workload did, in wall-clock time.
#[derive(Clone, Debug)]
pub struct Run {
    /// Which workload ran.
    pub workload: Workload,
    /// When its work began (after the isolate was created).
    pub started: Instant,
    /// When its work ended (before its final verification).
    pub finished: Instant,
    /// The latency of every step, for workloads made of steps (splay);
    /// empty otherwise.
    pub step_latencies: Vec<Duration>,
    /// What the workload printed or checked, for humans.
    pub summary: String,
}

impl Run {
    fn new(workload: Workload, started: Instant, finished: Instant, steps: Vec<Duration>, summary: String) -> Run {
        Run { workload, started, finished, step_latencies: steps, summary }
    }

    /// Wall-clock time of the work.
    pub fn wall(&self) -> Duration {
        self.finished.duration_since(self.started)
    }
}

/// Why a workload could not finish.
#[derive(Debug, thiserror::Error)]
pub enum WorkloadError {
    /// The isolate could not be created.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// An allocation failed (the heap limit was reached).
    #[error(transparent)]
    Alloc(#[from] AllocError),
    /// The workload's own check of its result failed: the heap lost or
    /// corrupted an object, or the workload is wrong.
    #[error("{workload}: verification failed: {what}")]
    Verification {
        /// The workload's name.
        workload: &'static str,
        /// What did not match.
        what: String,
    },
}

/// A run measured in a fresh isolate: what the workload did, every GC event
/// of the isolate, and the report computed from them.
#[derive(Clone, Debug)]
pub struct Measured {
    /// The run.
    pub run: Run,
    /// The isolate's GC events, oldest first (times since the isolate was
    /// created; see [`Measured::created`]).
    pub events: Vec<GcEvent>,
    /// The figures.
    pub report: Report,
    /// When the isolate was created: the zero of the events' times
    /// ([`crate::Isolate::elapsed`]).
    pub created: Instant,
    /// The isolate's id.
    pub isolate_id: u32,
    /// The configuration the isolate ran with.
    pub config: HeapConfig,
    /// The workload's allocation sites at the end of the run, with their
    /// pretenuring decisions.
    pub sites: Vec<crate::AllocationSiteStats>,
}

/// Runs `workload` at `size` in a fresh isolate of `platform` configured by
/// `config`, and computes its report.
pub fn measure(
    platform: &Platform,
    config: HeapConfig,
    workload: Workload,
    size: Size,
) -> Result<Measured, WorkloadError> {
    let mut isolate = Isolate::new(platform, config.clone())?;
    // The events' clock is the isolate's: its zero is now less the time the
    // isolate has existed.
    let now = Instant::now();
    let created = now.checked_sub(isolate.elapsed()).unwrap_or(now);
    // Every event, streamed as it is recorded: the history's ring may be
    // smaller than the run (`HeapConfig::gc_event_history`).
    let streamed = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let sink = streamed.clone();
    let stream = isolate.add_gc_epilogue_callback(move |info| {
        if !IN_END_HOOK.get() {
            sink.borrow_mut().extend(info.event.cloned())
        }
    });
    END_HOOK_GCS.set((0, 0));
    let run = workload.run(&mut isolate, size)?;
    isolate.remove_gc_callback(stream);
    let events = streamed.take();
    let ((minor, major), (hook_minor, hook_major)) = (isolate.gc_counts(), END_HOOK_GCS.take());
    let (minor, major) = (minor - hook_minor, major - hook_major);
    let interval = (run.started.saturating_duration_since(created), run.finished.saturating_duration_since(created));
    let report =
        Report::new(&events, interval, (minor, major), &run.step_latencies, isolate.memory_usage().peak_committed);
    let sites = isolate.allocation_sites();
    Ok(Measured { run, events, report, created, isolate_id: isolate.id(), config, sites })
}

/// Builds a perfect tree of `depth` bottom-up (children before their parent,
/// as binary-trees' `bottomUpTree` and GCBench's `MakeTree` do) from nodes of
/// `node`'s layout (two tagged fields: left, right), and returns its root.
/// Each inner node's call opens an escapable scope for its children and
/// escapes the node to its caller; a leaf is made in its caller's scope.
fn build_tree<'p>(
    scope: &mut HandleScope<'p>,
    node: Local<'_, Map>,
    depth: u32,
) -> Result<Local<'p, Object>, AllocError> {
    if depth == 0 {
        return scope.new_object(node);
    }
    let mut s = EscapableHandleScope::new(scope);
    let left = build_tree(&mut s, node, depth - 1)?;
    let right = build_tree(&mut s, node, depth - 1)?;
    let n = s.new_object(node)?;
    s.set(n, 0, left);
    s.set(n, 1, right);
    Ok(s.escape(n))
}

fn verification(workload: Workload, what: String) -> WorkloadError {
    WorkloadError::Verification { workload: workload.name(), what }
}

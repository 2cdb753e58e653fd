//! # minijs
//!
//! A small JavaScript interpreter built on isogc's public API alone: the
//! proof that a runtime can sit on the crate. It parses with
//! [`oxc_parser`] and walks the tree; every JavaScript value lives in the
//! isogc heap and is held by handles only:
//!
//! - numbers are Smis when they are small integers (V8's rule: the 32-bit
//!   range on a 64-bit target, and never -0) and heap numbers otherwise;
//! - `undefined`, `null`, `true` and `false` are isogc's read-only oddballs;
//! - string literals and property names are internalized strings (atoms),
//!   other strings are fresh heap strings;
//! - objects are isogc objects whose field 0 names a hidden class (a shape:
//!   kind and property order, with transitions, so objects built the same
//!   way share one), field 1 the prototype, field 2 an overflow property
//!   store; then in-object property slots (as many as the constructor's
//!   last instance had, V8's slack tracking in short);
//! - arrays keep a growable `FixedArray` of elements, `Float64Array`s a
//!   `ByteArray`; closures hold their context, a heap `FixedArray` whose
//!   slot 0 is the enclosing context;
//! - object and array literals allocate at an allocation site each, so
//!   pretenuring works on them as it does in V8;
//! - `WeakMap`/`WeakSet`, `WeakRef` and `FinalizationRegistry` wrap
//!   isogc's ephemeron tables, WeakRefs and registries; cleanup callbacks
//!   run between jobs (the script's top level, each `setTimeout` task),
//!   never inside a GC.
//!
//! The parser is oxc's: of the maintained JavaScript parsers in Rust (oxc,
//! swc, boa) it is the fastest and the lightest to build (its dev build
//! here took about 40 s on two loaded cores, with isogc), and it is pinned
//! to 0.146, the last release whose MSRV (1.95) the toolchain meets.

#![warn(missing_docs)]

pub mod cli;
mod interp;
pub mod number;

use isogc::{GcMode, HandleScope, HeapConfig, Isolate, Platform};
use oxc_allocator::Allocator;
use oxc_parser::Parser;
use oxc_span::SourceType;
use std::io::Write;

pub use interp::MAX_CALL_DEPTH;

/// A line and column (both from 1) in the source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Position {
    /// Line, from 1.
    pub line: usize,
    /// Column, from 1 (in bytes).
    pub column: usize,
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// Why a run ended without finishing the program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// The source does not parse.
    Syntax {
        /// The parser's message.
        message: String,
        /// Where.
        at: Position,
    },
    /// The program uses a feature minijs does not implement.
    Unsupported {
        /// The feature.
        what: String,
        /// Where.
        at: Position,
    },
    /// An exception nothing caught (its `String()`).
    Uncaught(String),
    /// The heap is exhausted (isogc's `AllocError`).
    OutOfMemory(String),
    /// The heap could not be set up.
    Config(String),
    /// Output could not be written.
    Io(String),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Syntax { message, at } => write!(f, "SyntaxError at {at}: {message}"),
            Error::Unsupported { what, at } => write!(f, "minijs: unsupported feature at {at}: {what}"),
            Error::Uncaught(e) => write!(f, "Uncaught {e}"),
            Error::OutOfMemory(e) => write!(f, "FATAL ERROR: JavaScript heap out of memory ({e})"),
            Error::Config(e) => write!(f, "minijs: invalid heap configuration: {e}"),
            Error::Io(e) => write!(f, "minijs: {e}"),
        }
    }
}

impl std::error::Error for Error {}

/// Parses and runs `source` (named `file`) on `isolate`, with `args` after
/// the file in `process.argv`, writing `console.log` output to `out`.
pub fn run_on(
    isolate: &mut Isolate,
    file: &str,
    source: &str,
    args: &[String],
    out: &mut dyn Write,
) -> Result<(), Error> {
    run_on_with(isolate, file, source, args, out, None)
}

/// [`run_on`], then, if `snapshot` names a file, a heap snapshot
/// (`.heapsnapshot`, as node's `--heapsnapshot-near-heap-limit` writes) of the
/// heap as the script left it, its globals still alive, written there.
pub fn run_on_with(
    isolate: &mut Isolate,
    file: &str,
    source: &str,
    args: &[String],
    out: &mut dyn Write,
    snapshot: Option<&std::path::Path>,
) -> Result<(), Error> {
    let allocator = Allocator::default();
    let parsed = Parser::new(&allocator, source, SourceType::cjs()).parse();
    if let Some(d) = parsed.diagnostics.iter().next() {
        let offset = d.labels.first().map_or(0, |l| l.offset());
        return Err(Error::Syntax { message: d.message.to_string(), at: position(source, offset as usize) });
    }
    let program = &parsed.program;
    let mut argv = vec!["minijs".to_string(), file.to_string()];
    argv.extend(args.iter().cloned());
    let mut scope = HandleScope::new(isolate);
    let mut it = interp::Interp::new(source, argv, out);
    let r = (|| {
        it.init(&mut scope)?;
        let id = it.script_info(&mut scope, program)?;
        it.run_script(&mut scope, id)
    })();
    if let Some(path) = snapshot {
        if let Err(e) = scope.write_heap_snapshot_to(path) {
            return Err(Error::Io(format!("writing the heap snapshot {}: {e}", path.display())));
        }
    }
    match r {
        Ok(()) => Ok(()),
        Err(interp::Exc::Fatal(e)) => Err(e),
        Err(interp::Exc::Throw) => Err(Error::Uncaught(it.exception_text(&mut scope))),
    }
}

/// The line and column (both from 1) of byte `offset` in `source`.
pub(crate) fn position(source: &str, offset: usize) -> Position {
    let before = &source[..offset.min(source.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rfind('\n').map_or(before.len(), |nl| before.len() - nl - 1) + 1;
    Position { line, column }
}

/// Options of a run.
#[derive(Clone, Debug)]
pub struct Options {
    /// The heap's configuration.
    pub heap: HeapConfig,
    /// GC worker threads.
    pub workers: usize,
    /// Where to write a heap snapshot when the script ends (`--heap-snapshot`).
    pub heap_snapshot: Option<std::path::PathBuf>,
}

impl Default for Options {
    fn default() -> Options {
        Options { heap: HeapConfig::default(), workers: 2, heap_snapshot: None }
    }
}

/// What a run left: its output, how it ended, and the isolate's GC record.
#[derive(Debug)]
pub struct Outcome {
    /// What `console.log` printed.
    pub stdout: Vec<u8>,
    /// How the program ended.
    pub result: Result<(), Error>,
    /// The isolate's GC events.
    pub events: Vec<isogc::GcEvent>,
    /// The run's start and end on the events' clock.
    pub interval: (std::time::Duration, std::time::Duration),
    /// `Isolate::gc_counts()` at the end.
    pub counts: (u64, u64),
    /// Most bytes of pages the heap held.
    pub peak_committed: usize,
    /// The allocation sites (one per object and array literal) at the end.
    pub sites: Vec<isogc::AllocationSiteStats>,
}

impl Outcome {
    /// A run that ended with `e` before or without running the script: no
    /// GC record.
    fn failed(stdout: Vec<u8>, e: Error) -> Outcome {
        let zero = std::time::Duration::ZERO;
        Outcome {
            stdout,
            result: Err(e),
            events: Vec::new(),
            interval: (zero, zero),
            counts: (0, 0),
            peak_committed: 0,
            sites: Vec::new(),
        }
    }

    /// The pause report of the run (isogc's workload report).
    pub fn report(&self) -> isogc::workloads::report::Report {
        isogc::workloads::report::Report::new(&self.events, self.interval, self.counts, &[], self.peak_committed)
    }
}

/// Runs `source` on a fresh isolate, on a thread with a stack deep enough
/// for [`MAX_CALL_DEPTH`] JavaScript calls.
pub fn run(file: &str, source: &str, args: &[String], options: &Options) -> Outcome {
    let (file, source, args, options) = (file.to_string(), source.to_string(), args.to_vec(), options.clone());
    let handle = std::thread::Builder::new()
        .stack_size(1 << 30)
        .spawn(move || {
            let mut out = Vec::new();
            let platform = match Platform::new(options.workers) {
                Ok(p) => p,
                Err(e) => return Outcome::failed(out, Error::Config(e.to_string())),
            };
            let mut isolate = match Isolate::new(&platform, options.heap.clone()) {
                Ok(i) => i,
                Err(e) => return Outcome::failed(out, Error::Config(e.to_string())),
            };
            let t0 = isolate.elapsed();
            let result = run_on_with(&mut isolate, &file, &source, &args, &mut out, options.heap_snapshot.as_deref());
            let t1 = isolate.elapsed();
            Outcome {
                stdout: out,
                result,
                events: isolate.gc_events(),
                interval: (t0, t1),
                counts: isolate.gc_counts(),
                peak_committed: isolate.memory_usage().peak_committed,
                sites: isolate.allocation_sites(),
            }
        })
        .expect("spawn the interpreter thread");
    handle.join().unwrap_or_else(|_| Outcome::failed(Vec::new(), Error::Io("the interpreter panicked".into())))
}

/// The modes the tests run in.
pub const GC_MODES: [GcMode; 2] = [GcMode::StopTheWorld, GcMode::Concurrent];

//! loom models of isogc's concurrent protocols; the models live in `tests/`
//! (see `README.md`). Each test file is `#![cfg(loom)]`, so a normal build
//! compiles nothing; run them with `--cfg loom` (see the README).
//!
//! This library holds only what the models share: [`explore`], the one way
//! they run loom, and the small model heap of the barrier models.

#[cfg(loom)]
use std::sync::atomic::{AtomicBool, Ordering};

/// Set while a model runs in this process (see [`explore`]).
#[cfg(loom)]
static EXPLORING: AtomicBool = AtomicBool::new(false);

/// Explores every interleaving of `f` (up to `preemption_bound` preemptions
/// per execution, or all of them with `None`).
///
/// Unlike `loom::model`, the exploration is always exhaustive within the
/// bound: `LOOM_MAX_PERMUTATIONS` and `LOOM_MAX_DURATION` in the environment
/// would stop loom early *without failing*, which would let a broken twin
/// pass unnoticed, so they are ignored here. Other `LOOM_*` variables (for
/// example `LOOM_LOCATION`, `LOOM_CHECKPOINT_FILE`) still apply;
/// `LOOM_MAX_PREEMPTIONS` is overridden by the model's own bound.
///
/// With `LOOM_LOG` set (a `tracing` filter such as `trace` or `loom=debug`)
/// loom's log goes to the test's output: `loom::model` installs a `tracing`
/// subscriber for it and `Builder::check` does not, so this installs the same
/// one. Without it no subscriber is installed (nothing to pay for).
///
/// # Panics
/// If another model is running in this process: the fault knob
/// (`isogc::model::faults`) is process-wide, so a twin's fault would leak into
/// its neighbour. Run the models with `--test-threads=1`.
#[cfg(loom)]
pub fn explore<F>(preemption_bound: Option<usize>, f: F)
where
    F: Fn() + Sync + Send + 'static,
{
    struct Exploring;
    impl Drop for Exploring {
        fn drop(&mut self) {
            EXPLORING.store(false, Ordering::SeqCst);
        }
    }
    assert!(
        !EXPLORING.swap(true, Ordering::SeqCst),
        "two loom models ran at once; the fault knob is process-wide, so run them with `-- --test-threads=1`"
    );
    let _exploring = Exploring;

    let mut builder = loom::model::Builder::new();
    builder.max_permutations = None;
    builder.max_duration = None;
    builder.preemption_bound = preemption_bound;
    if std::env::var_os("LOOM_LOG").is_some() {
        use tracing_subscriber::util::SubscriberInitExt;
        let _log = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_env("LOOM_LOG"))
            .with_test_writer()
            .without_time()
            .set_default();
        builder.check(f);
    } else {
        builder.check(f);
    }
}

/// A model heap of a few two-word objects (map word, one field) laid out
/// from [`BASE`], with the crate's real mark bitmap: what the barrier models
/// (`lost_object.rs`, `weak_read.rs`) run on.
#[cfg(loom)]
pub mod small_heap {
    use isogc::model::{MarkBitmap, MarkBits, Memory};
    use loom::sync::atomic::AtomicUsize;

    /// Address of the first word.
    pub const BASE: usize = 0x1000;
    /// The barrier models' three two-word objects (map word, one field):
    /// B black, G grey, T white.
    pub const B: usize = BASE;
    /// See [`B`].
    pub const G: usize = BASE + 16;
    /// See [`B`].
    pub const T: usize = BASE + 32;
    /// Their map word.
    pub const MAP: usize = 0x9001;

    /// Words from [`BASE`] and one mark bit per word.
    pub struct SmallHeap {
        /// The heap words.
        pub words: Vec<AtomicUsize>,
        /// The real mark bitmap (bit `i` marks the object at word `i`).
        pub marks: MarkBitmap,
    }

    impl SmallHeap {
        /// `words` zeroed words, nothing marked.
        pub fn new(words: usize) -> SmallHeap {
            SmallHeap { words: (0..words).map(|_| AtomicUsize::new(0)).collect(), marks: MarkBitmap::new() }
        }

        /// The word at `addr`.
        pub fn at(&self, addr: usize) -> &AtomicUsize {
            &self.words[(addr - BASE) / 8]
        }

        /// The barrier models' starting point: B black and G grey (both
        /// marked), G's field holding the only strong reference to white T.
        /// Set up before any thread is spawned (the spawn orders it).
        pub fn black_grey_white() -> SmallHeap {
            use loom::sync::atomic::Ordering;
            let heap = SmallHeap::new(6);
            // Relaxed: see above.
            for o in [B, G, T] {
                heap.at(o).store(MAP, Ordering::Relaxed);
            }
            heap.at(G + 8).store(T | 1, Ordering::Relaxed);
            heap.try_mark(B);
            heap.try_mark(G);
            heap
        }

        /// Is the object at `obj` marked?
        pub fn is_marked(&self, obj: usize) -> bool {
            self.marks.is_set((obj - BASE) / 8)
        }
    }

    // SAFETY: the models pass only addresses of `words` (from BASE).
    unsafe impl Memory for SmallHeap {
        unsafe fn word(&self, addr: usize) -> &AtomicUsize {
            self.at(addr)
        }
    }

    impl MarkBits for SmallHeap {
        fn try_mark(&self, obj: usize) -> bool {
            self.marks.set((obj - BASE) / 8)
        }
    }
}

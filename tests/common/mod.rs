//! Set-up shared by the integration tests: the heap configuration they start
//! from, size constants, panic helpers, a fixture for isolates on several
//! threads and a macro for tests that run once per GC mode.
//!
//! Each test file declares `mod common;` and imports what it uses; GCs stay at
//! the call sites (no helper here collects garbage), so a test reads as the
//! sequence of GCs it asks for.

// Each test binary compiles this module and uses a subset of it.
#![allow(dead_code)]

use isogc::{GcMode, GcRequest, HandleScope, HeapConfig, Platform, Smi, SpaceStats};
use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// One KiB.
pub const KB: usize = 1024;
/// One MiB.
pub const MB: usize = 1024 * KB;

// ----- Configuration -----------------------------------------------------------

/// The configuration every test starts from: the heap verifier on after every
/// GC and 256 KiB semi-spaces (one page, fixed), so scavenges come often and
/// any corruption panics inside the GC that caused it; a GC event history of
/// 65,536 events, so tests that sum up a whole run's events see them all;
/// all else default (concurrent mode, 16 MiB initial old space, as many GC
/// workers as the platform has).
pub fn test_config() -> HeapConfig {
    HeapConfig {
        verify_heap: true,
        min_semi_space_size: 256 * KB,
        max_semi_space_size: 256 * KB,
        gc_event_history: 1 << 16,
        ..HeapConfig::default()
    }
}

/// [`test_config`] in `mode`.
pub fn test_config_in(mode: GcMode) -> HeapConfig {
    HeapConfig { mode, ..test_config() }
}

/// Named variations of a configuration, chained on [`test_config`] or
/// [`test_config_in`]: `test_config_in(mode).with_initial_old_space(MB)`.
pub trait ConfigExt {
    /// The old-generation size that triggers the first major GC.
    fn with_initial_old_space(self, bytes: usize) -> Self;
    /// Semi-spaces that start at `min` bytes and may grow to `max`.
    fn with_semi_spaces(self, min: usize, max: usize) -> Self;
    /// At most `n` GC worker threads per GC (the main thread not counted).
    fn with_gc_workers(self, n: usize) -> Self;
}

impl ConfigExt for HeapConfig {
    fn with_initial_old_space(self, bytes: usize) -> Self {
        HeapConfig { initial_old_space_size: bytes, ..self }
    }

    fn with_semi_spaces(self, min: usize, max: usize) -> Self {
        HeapConfig { min_semi_space_size: min, max_semi_space_size: max, ..self }
    }

    fn with_gc_workers(self, n: usize) -> Self {
        HeapConfig { gc_workers: Some(n), ..self }
    }
}

// ----- Heap statistics ---------------------------------------------------------

/// The old space's statistics now.
pub fn old_space(scope: &HandleScope<'_>) -> SpaceStats {
    scope.heap_stats().space("old_space").unwrap().clone()
}

/// The isolate works after a misuse: a scope opens, allocates, collects.
pub fn assert_usable(scope: &mut HandleScope<'_>) {
    let mut s = HandleScope::new(scope);
    let a = s.new_fixed_array(4).unwrap();
    s.set(a, 0, Smi::from(7));
    s.collect_garbage(GcRequest::Minor);
    s.collect_garbage(GcRequest::Major);
    assert_eq!(s.get_smi(a, 0), Some(7));
}

// ----- Panics ------------------------------------------------------------------

/// The message of a caught panic.
pub fn panic_message(p: Box<dyn Any + Send>) -> String {
    if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else {
        "<non-string panic payload>".to_string()
    }
}

/// Runs `f`, which must panic, and returns the panic message.
pub fn expect_panic<R>(what: &str, f: impl FnOnce() -> R) -> String {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(_) => panic!("{what}: expected a panic, but the call returned"),
        Err(p) => panic_message(p),
    }
}

// ----- Isolates on threads -----------------------------------------------------

/// Runs `body(platform, thread)` on `n` threads at once, each with its own
/// clone of `platform` (one shared pool), and waits for all of them; fails
/// the test, with the panic's message, if any thread panicked. Threads are
/// numbered from 1, so a tag derived from the number is never 0. A test that
/// wants the threads to start together passes them a `Barrier` of `n`.
pub fn on_threads(n: usize, platform: &Platform, body: impl Fn(&Platform, usize) + Sync) {
    let body = &body;
    std::thread::scope(|s| {
        let threads: Vec<_> = (1..=n)
            .map(|thread| {
                let platform = platform.clone();
                (thread, s.spawn(move || body(&platform, thread)))
            })
            .collect();
        for (thread, t) in threads {
            if let Err(p) = t.join() {
                panic!("isolate thread {thread} of {n} failed: {}", panic_message(p));
            }
        }
    });
}

// ----- Both GC modes -----------------------------------------------------------

/// One test per GC mode from one body:
///
/// ```ignore
/// both_modes! {
///     /// What the test checks.
///     fn name(mode: GcMode) { ... }
/// }
/// ```
///
/// makes a module `name` holding the body as `fn name(mode)` and the tests
/// `name::concurrent` and `name::stop_the_world`, which call it with
/// `GcMode::Concurrent` and `GcMode::StopTheWorld`. The module sees every item
/// of the test file.
#[allow(unused_macros)] // Not every test binary defines its tests with it,
macro_rules! both_modes {
    ($(#[$attr:meta])* fn $name:ident($mode:ident: GcMode) $body:block) => {
        $(#[$attr])*
        mod $name {
            use super::*;

            fn $name($mode: ::isogc::GcMode) $body

            #[test]
            fn concurrent() {
                $name(::isogc::GcMode::Concurrent);
            }

            #[test]
            fn stop_the_world() {
                $name(::isogc::GcMode::StopTheWorld);
            }
        }
    };
}
#[allow(unused_imports)] // nor imports it.
pub(crate) use both_modes;

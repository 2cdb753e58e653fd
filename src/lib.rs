//! # isogc
//!
//! A generational garbage-collected heap for language runtimes, after V8's
//! Orinoco collector. Each [`Isolate`] owns one heap and is owned by one
//! thread; all isolates of a process share one GC worker pool
//! ([`Platform`]). A runtime describes its object layouts ([`ObjectLayout`] →
//! [`Map`]), holds roots as handles ([`HandleScope`], [`Local`], [`Global`],
//! [`Weak`]) and reads and writes the heap only through a scope, so the
//! collector is precise and free to move objects.
//!
//! ```
//! use isogc::*;
//!
//! let platform = Platform::new(2)?;
//! let mut isolate = Isolate::new(&platform, HeapConfig::default())?;
//! let mut scope = HandleScope::new(&mut isolate);
//! let point = scope.new_map(&ObjectLayout { name: "Point".into(), tagged_fields: 2, raw_bytes: 0, ..Default::default() })?;
//! let p = scope.new_object(point)?;
//! scope.set(p, 0, Smi::from(3));
//! let label = scope.new_string("origin")?;
//! scope.set(p, 1, label);
//! scope.collect_garbage(GcRequest::Major);
//! assert_eq!(scope.get_smi(p, 0), Some(3));
//! let l = scope.get(p, 1);
//! let l = scope.cast::<HeapString, _>(l).unwrap();
//! assert_eq!(scope.to_rust_string(l), "origin");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Map of the modules
//!
//! The driver sits on top and calls the phases; the phases work on the
//! heap and the shared pieces below them, and not on each other (one
//! hand-off aside: a scavenge during marking hands marking its copies); the
//! heap imports no phase.
//!
//! | module | concept |
//! |---|---|
//! | [`isolate`] | one heap and its collector per thread; statistics |
//! | `scope` | [`HandleScope`]: allocation (with an optional [`AllocationSite`]) and typed access |
//! | `ephemeron_api` | the weak kinds on [`HandleScope`]: WeakMap / WeakSet tables, WeakRefs, finalization registries; [`WeakStats`] |
//! | [`platform`] | the shared worker pool: GC jobs the posting thread runs from the start (helpers join if free), pause work before background work, background tasks in turns |
//! | `collector` | the driver: [`GcRequest`], the pauses, the safepoint, the allocation slow path, limits and sizing |
//! | `tracer` | GC events, phase times, `--trace-gc` lines; the bounded, numbered event history |
//! | `config` | [`HeapConfig`] (with the pause budget) and [`GcMode`]: one struct of V8-like knobs, validated |
//! | `error` | [`AllocError`] and [`ConfigError`] |
//! | `string_table` | the isolate's internalized strings (a weak root) |
//! | `gc_callbacks` | GC prologue and epilogue callbacks, which cannot re-enter the collector |
//! | `scavenger` | phase: minor GC, a parallel scavenge with promotion by age mark |
//! | `page_promotion` | phase: minor GC (or a major GC's young part) by promoting whole pages when nearly all of new space survives |
//! | `marking` | phase: tri-colour marking, in parallel in the pause or concurrently with the mutator; weak clearing |
//! | `compactor` | phase: evacuation candidates, parallel evacuation and pointer updating |
//! | `sweeper` | phase: sweeping into free lists, concurrently and lazily or in the pause; release of empty pages |
//! | `barrier` | the write barrier: generational and compaction slot recording, Dijkstra shading while marking |
//! | `verifier` | the heap verifier |
//! | `roots` | the roots (handles, string table, identity hashes) and the one walk over them |
//! | [`heap_snapshot`] | V8 `.heapsnapshot` files for Chrome DevTools, with stable ids across moves; leak finding (growth between two snapshots, retaining paths) |
//! | `identity_hash` | the per-isolate side table of identity hashes, a weak root that follows moves |
//! | `ephemeron` | ephemeron tables (WeakMap / WeakSet): the entry store, the marking rounds, the pause's bounded fixpoint and linear fallback |
//! | `weak_ref` | weak fields: WeakRef objects whose target slot no collector traces, cleared to `undefined` |
//! | `finalization` | finalization registries: cells, the ready queue the runtime drains outside GCs |
//! | `heap` | pages, spaces, allocation without GC, page facts (live objects, mark bitmap, remembered sets, sweep state, free lists), allocation sites and their pretenuring feedback |
//! | `worklist` | segment-based work-stealing worklists with termination detection |
//! | `evacuation` | the forwarding protocol (CAS on the map word) over a narrow memory interface |
//! | `gate` | the handshake that keeps background markers and sweepers off the heap during pauses |
//! | `handles` | [`Local`], [`Global`], [`Weak`], the handle tables |
//! | `value` | tagged words: Smis and heap pointers |
//! | `object` | object layouts, maps, the small unsafe core over heap words |
//! | `sync` | the private std/loom facade: atomics, cells, locks, threads |
//! | [`workloads`] | binary-trees, GCBench and splay on the public API; the pause report (percentiles, MMU) |

#![warn(missing_docs, unsafe_op_in_unsafe_fn)]
#![cfg_attr(loom, allow(dead_code, unused_imports))]

mod sync;

mod handles;
mod heap;

#[cfg(not(loom))]
mod barrier;
#[cfg(not(loom))]
mod collector;
#[cfg(not(loom))]
mod compactor;
#[cfg(not(loom))]
mod config;
mod ephemeron;
#[cfg(not(loom))]
mod ephemeron_api;
#[cfg(not(loom))]
mod error;
mod evacuation;
#[cfg(not(loom))]
mod finalization;
mod gate;
#[cfg(not(loom))]
mod gc_callbacks;
#[cfg(not(loom))]
pub mod heap_snapshot;
#[cfg(not(loom))]
mod identity_hash;
#[cfg(not(loom))]
pub mod isolate;
#[cfg(not(loom))]
mod marking;
#[cfg(not(loom))]
mod object;
#[cfg(not(loom))]
mod page_promotion;
#[cfg(not(loom))]
pub mod platform;
#[cfg(not(loom))]
mod roots;
#[cfg(not(loom))]
mod scavenger;
#[cfg(not(loom))]
mod scope;
#[cfg(not(loom))]
mod string_table;
#[cfg(not(loom))]
mod sweeper;
#[cfg(not(loom))]
mod tracer;
mod value;
#[cfg(not(loom))]
mod verifier;
mod weak_ref;
mod worklist;
#[cfg(not(loom))]
pub mod workloads;

#[cfg(not(loom))]
pub use {
    collector::GcRequest,
    config::{GcMode, HeapConfig, MAX_GC_EVENT_HISTORY, MAX_OLD_SPACE_SIZE, MAX_SEMI_SPACE_SIZE, MIN_PAUSE_TARGET},
    ephemeron_api::{DrainError, WeakStats, WeakTargetError},
    error::{AllocError, ConfigError},
    handles::{Global, Local, Value, Weak},
    heap::allocation_site::{
        AllocationSite, AllocationSiteStats, SiteState, PRETENURE_MIN_CREATED, PRETENURE_MIN_NEW_SPACE,
        PRETENURE_RATIO, UNTENURE_SURVIVAL,
    },
    heap::{CLEANUP_RESERVE, MAX_REGULAR_OBJECT_SIZE, PAGE_SIZE},
    heap_snapshot::HeapSnapshotInfo,
    isolate::{GcCallbackId, GcCallbackInfo, HeapStats, Isolate, MemoryUsage, ObjectCounts, SpaceObjects, SpaceStats},
    object::InstanceType,
    platform::Platform,
    scope::{
        ByteArray, EphemeronTable, EscapableHandleScope, FinalizationRegistry, FixedArray, HandleScope, HasFields,
        HasLength, HasRawBytes, HeapNumber, HeapString, HeapType, IntoValue, Map, Object, ObjectLayout, ScopeParent,
        WeakRef,
    },
    string_table::hash_str,
    tracer::{GcEvent, GcKind, GcReason, GcSpan, Phase},
    value::Smi,
};

/// The concurrent protocols, exposed under `--cfg loom` so the models in
/// `loom-tests/` drive the crate's own code.
#[cfg(loom)]
pub mod model {
    pub use crate::ephemeron::{Entry, EphemeronTables, Marks, MAX_PAUSE_ROUNDS};
    pub use crate::evacuation::{
        forward_exclusive, forwarding_target, load_field_for_marking, load_map_word, publish_field,
        record_migrated_slots, try_forward, update_slot, Memory,
    };
    pub use crate::gate::{GateGuard, WorkerGate};
    pub use crate::handles::{clear_weak_slot, HandleBlock, HandleBlocks, CLEARED_WORD, HANDLE_BLOCK_SLOTS};
    pub use crate::heap::mark_bitmap::{
        activate_marking_barrier, barrier_mark, barrier_needed, barrier_shade, mark_black_allocated, MarkBitmap,
        MarkBits,
    };
    pub use crate::heap::page_flags;
    pub use crate::heap::remembered_set::{SlotCallbackResult, SlotSet, SLOTS_PER_BUCKET};
    pub use crate::heap::sweep_state::{sweep_runs, SweepSlot, SweepState};
    pub use crate::sync::faults;
    pub use crate::weak_ref::{clear_if_dead, read_target};
    pub use crate::worklist::{GreyPool, Local, Worklist, SEGMENT_SIZE};
}

/// The README's example, compiled and run as a doctest.
#[cfg(all(doctest, not(loom)))]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// An isolate belongs to its thread: it is not `Send`.
///
/// ```compile_fail
/// fn assert_send<T: Send>() {}
/// assert_send::<isogc::Isolate>();
/// ```
///
/// Neither are handles:
///
/// ```compile_fail
/// fn assert_send<T: Send>() {}
/// assert_send::<isogc::Local<'static, isogc::Value>>();
/// ```
///
/// ```compile_fail
/// fn assert_send<T: Send>() {}
/// assert_send::<isogc::Global<isogc::Value>>();
/// ```
///
/// ```compile_fail
/// fn assert_sync<T: Sync>() {}
/// assert_sync::<isogc::Isolate>();
/// ```
///
/// The platform is shared by every thread:
///
/// ```
/// fn assert_send_sync<T: Send + Sync>() {}
/// assert_send_sync::<isogc::Platform>();
/// ```
#[cfg(all(doctest, not(loom)))]
pub struct ThreadingDoctests;

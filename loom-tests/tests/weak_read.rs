//! A weak handle read racing with marking and the clearing that ends it
//! (issue: "a weak handle read racing with clearing"), on the crate's real
//! weak-handle table ([`HandleBlocks`]), clearing rule ([`clear_weak_slot`]),
//! barrier step ([`barrier_shade`]), mark bitmap, publishing store
//! ([`publish_field`]) and marker load ([`load_field_for_marking`]).
//!
//! In isogc weak handles are cleared only in the finalization pause, on the
//! isolate's own thread, after the markers stopped; the mutator reads them
//! on that same thread. So the read never overlaps the clearing itself: it
//! overlaps the *marking* whose result the clearing trusts. The read needs
//! no barrier of its own: the target it returns is either held in a local
//! handle (a root, re-scanned at finalization) or stored into an object,
//! and then the insertion barrier shades it. The model checks the second
//! case, the one a concurrent marker can get wrong:
//!
//! Marking is under way: B is black, G is grey and holds the only strong
//! reference to the white object T, and a weak handle W points to T. The
//! mutator reads W (getting T), stores T into B (with the barrier) and
//! clears G's field, while a marker scans G. Then the finalization pause
//! clears W if T stayed white. Whatever the marker read, the target the
//! read returned is now referenced by B, so W must not be cleared.
//!
//! Broken twin: [`Fault::BarrierOff`] (the store does not shade T, the
//! "read without keep-alive"): when the marker reads G's field after the
//! mutator cleared it, T stays white and W is cleared while B points to T.
#![cfg(loom)]

use isogc::model::faults::{self, Fault};
use isogc::model::{
    barrier_shade, clear_weak_slot, load_field_for_marking, publish_field, HandleBlocks, MarkBits, CLEARED_WORD,
};
use loom::sync::atomic::Ordering;
use loom::sync::Arc;
use loom::thread;
use loom_tests::explore;
use loom_tests::small_heap::{SmallHeap, B, G, T};

fn weak_read_during_marking() {
    explore(None, || {
        // The isolate's weak handles; slot 0 is W.
        let mut weaks = HandleBlocks::new();
        weaks.grow();
        let heap = Arc::new(SmallHeap::black_grey_white());
        // Relaxed: set-up before the marker is spawned (the spawn orders it).
        weaks.slot(0).store(T | 1, Ordering::Relaxed);

        let marker = {
            let heap = heap.clone();
            thread::spawn(move || {
                // Scan G: shade what its field holds now.
                // SAFETY: G + 8 is a word of the model heap.
                let v = unsafe { load_field_for_marking(&*heap, G + 8) };
                if v & 0b11 == 0b01 {
                    heap.try_mark(v & !0b11);
                }
            })
        };
        // The mutator: read W, store its target into black B (with the
        // barrier), drop G's reference.
        // Relaxed: the weak table is the isolate's own (`open_weak`).
        let t = weaks.slot(0).load(Ordering::Relaxed);
        assert_eq!(t, T | 1, "the weak handle holds its target during marking");
        // SAFETY: the slots are words of the model heap.
        unsafe {
            publish_field(&*heap, B + 8, t);
            barrier_shade(&*heap, t & !0b11);
            publish_field(&*heap, G + 8, 0);
        }
        // Finalization: the markers stopped (joined); weak handles whose
        // targets stayed white are cleared.
        marker.join().unwrap();
        clear_weak_slot(weaks.slot(0), |addr| heap.is_marked(addr));
        // Relaxed: read back on this thread after the join.
        let w = weaks.slot(0).load(Ordering::Relaxed);
        let b = heap.at(B + 8).load(Ordering::Relaxed);
        assert_eq!(b, T | 1);
        assert!(
            w != CLEARED_WORD && heap.is_marked(T),
            "the weak handle was cleared while the target it returned is referenced"
        );
    });
}

#[test]
fn a_weak_target_read_and_stored_during_marking_survives_clearing() {
    weak_read_during_marking();
}

#[test]
#[should_panic(expected = "the weak handle was cleared while the target it returned is referenced")]
fn twin_without_keep_alive_clears_a_referenced_target() {
    let _fault = faults::inject(Fault::BarrierOff);
    weak_read_during_marking();
}

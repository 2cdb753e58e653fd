//! A weak field read racing with the marker that will clear it (DESIGN
//! section 10: "a weak field read vs the marker that clears it"), on the
//! crate's real WeakRef slot read ([`read_target`]) and clearing
//! ([`clear_if_dead`]), barrier step ([`barrier_shade`]), mark bitmap,
//! publishing store ([`publish_field`]) and marker load
//! ([`load_field_for_marking`]).
//!
//! A WeakRef W holds white T in its target slot, a slot no marker traces.
//! Marking is under way: B is black, G is grey and holds the only strong
//! reference to T. The mutator reads W's target (getting T), stores it into
//! B with the barrier and clears G's field, while a marker scans G. Then
//! the finalization pause clears W's slot if T stayed white. Whatever the
//! marker read, B now refers to T, so W must still hold T.
//!
//! Broken twin: [`Fault::BarrierOff`] (the store does not shade T): when
//! the marker reads G's field after the mutator cleared it, T stays white
//! and W is cleared to `undefined` while B refers to T.
#![cfg(loom)]

use isogc::model::faults::{self, Fault};
use isogc::model::{barrier_shade, clear_if_dead, load_field_for_marking, publish_field, read_target, MarkBits};
use loom::sync::atomic::Ordering;
use loom::sync::Arc;
use loom::thread;
use loom_tests::explore;
use loom_tests::small_heap::{SmallHeap, B, G, MAP, T};

/// The WeakRef object (map word, target slot), after B, G and T.
const W: usize = T + 16;
/// The word a cleared target slot holds (`undefined` in the real heap).
const UNDEFINED: usize = 0x7001;

fn weak_field_read_during_marking() {
    explore(None, || {
        let heap = Arc::new(SmallHeap::new(8));
        // Set-up before the marker is spawned (the spawn orders it).
        // Relaxed: as above.
        for o in [B, G, T, W] {
            heap.at(o).store(MAP, Ordering::Relaxed);
        }
        heap.at(G + 8).store(T | 1, Ordering::Relaxed);
        heap.at(W + 8).store(T | 1, Ordering::Relaxed);
        heap.try_mark(B);
        heap.try_mark(G);
        heap.try_mark(W);

        let marker = {
            let heap = heap.clone();
            thread::spawn(move || {
                // Scan G (W's target slot is never scanned).
                // SAFETY: G + 8 is a word of the model heap.
                let v = unsafe { load_field_for_marking(&*heap, G + 8) };
                if v & 0b11 == 0b01 {
                    heap.try_mark(v & !0b11);
                }
            })
        };
        // The mutator: deref W, store the target into black B (with the
        // barrier), drop G's reference.
        let t = read_target(heap.at(W + 8));
        assert_eq!(t, T | 1, "the WeakRef holds its target during marking");
        // SAFETY: the slots are words of the model heap.
        unsafe {
            publish_field(&*heap, B + 8, t);
            barrier_shade(&*heap, t & !0b11);
            publish_field(&*heap, G + 8, 0);
        }
        // Finalization: the marker stopped (joined); WeakRef targets that
        // stayed white are cleared.
        marker.join().unwrap();
        clear_if_dead(heap.at(W + 8), |addr| heap.is_marked(addr), UNDEFINED);
        // Relaxed: read back on this thread after the join.
        let w = heap.at(W + 8).load(Ordering::Relaxed);
        assert_eq!(heap.at(B + 8).load(Ordering::Relaxed), T | 1);
        assert!(w == T | 1 && heap.is_marked(T), "the weak field was cleared while its target is referenced");
    });
}

#[test]
fn a_weak_field_target_read_and_stored_during_marking_is_not_cleared() {
    weak_field_read_during_marking();
}

#[test]
#[should_panic(expected = "the weak field was cleared while its target is referenced")]
fn twin_without_the_barrier_clears_a_referenced_weak_field() {
    let _fault = faults::inject(Fault::BarrierOff);
    weak_field_read_during_marking();
}

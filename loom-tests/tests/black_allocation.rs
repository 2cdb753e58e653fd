//! Black allocation (DESIGN.md §10: "black allocation and publication of a
//! new object to the marker"), on the crate's real [`mark_black_allocated`],
//! barrier steps ([`barrier_needed`], [`barrier_mark`] over a marking page's
//! flags), mark bitmap, publishing store and marker load.
//!
//! Marking runs. G is grey (marked, not yet scanned) and its field holds the
//! only reference to the white object T. The mutator allocates N, born black
//! (marked: the marker will never scan it), initialises it and writes the
//! reference to T into N's field (with the barrier), then stores N into G's
//! field in place of T (with the barrier), while a marker scans G. If the
//! marker finds N there, N is marked already and the marker does not scan it
//! (as the crate's marker, which scans only what it wins): T must have been
//! shaded by the barrier on the store into the black object. Whatever the
//! marker read, T and N end up marked.
//!
//! Broken twin: [`Fault::BarrierOff`] (the barrier does not shade): the store
//! into the black object is not shaded and T stays white while black N points
//! to it.
#![cfg(loom)]

use isogc::model::faults::{self, Fault};
use isogc::model::page_flags::{MARKING_FLAGS, OLD};
use isogc::model::{
    barrier_mark, barrier_needed, load_field_for_marking, mark_black_allocated, publish_field, MarkBits, Memory,
};
use loom::sync::atomic::Ordering;
use loom::sync::Arc;
use loom::thread;
use loom_tests::explore;
use loom_tests::small_heap::{SmallHeap, BASE, G, MAP, T};

/// The new object, allocated during marking: map word and one field.
const N: usize = BASE + 48;
/// The one page's flags while marking runs.
const FLAGS: usize = OLD | MARKING_FLAGS;

/// The mutator's store of `value` into `slot`, with the write barrier.
///
/// # Safety
/// `slot` is a word of the model heap.
unsafe fn store(heap: &SmallHeap, worklist: &mut Vec<usize>, slot: usize, value: usize) {
    // SAFETY: forwarded from the caller.
    unsafe { publish_field(heap, slot, value) };
    if value & 0b11 == 1 && barrier_needed(FLAGS, FLAGS) && barrier_mark(FLAGS, heap, value & !0b11) {
        worklist.push(value);
    }
}

fn black_allocation() {
    explore(None, || {
        let heap = SmallHeap::new(8);
        // Relaxed: set up before any thread is spawned (the spawn orders it).
        for o in [G, T] {
            heap.at(o).store(MAP, Ordering::Relaxed);
        }
        heap.at(G + 8).store(T | 1, Ordering::Relaxed);
        heap.try_mark(G);
        let heap = Arc::new(heap);

        let marker = {
            let heap = heap.clone();
            thread::spawn(move || {
                // Scan G; scan what it wins (and only that).
                // SAFETY: G + 8 is a word of the model heap.
                let v = unsafe { load_field_for_marking(&*heap, G + 8) };
                if v & 0b11 == 1 && heap.try_mark(v & !0b11) {
                    let won = v & !0b11;
                    // SAFETY: `won` + 8 is a word of the model heap.
                    let f = unsafe { load_field_for_marking(&*heap, won + 8) };
                    if f & 0b11 == 1 {
                        heap.try_mark(f & !0b11);
                    }
                }
            })
        };

        // The mutator: allocate N black, initialise it, write T into it,
        // publish it in G in place of T.
        let mut barrier_worklist = Vec::new();
        mark_black_allocated(&heap.marks, (N - BASE) / 8);
        // SAFETY: the slots are words of the model heap.
        unsafe {
            // Relaxed: N is unpublished until the Release store into G.
            heap.word(N).store(MAP, Ordering::Relaxed);
            let t = heap.word(G + 8).load(Ordering::Relaxed);
            store(&heap, &mut barrier_worklist, N + 8, t);
            store(&heap, &mut barrier_worklist, G + 8, N | 1);
        }
        marker.join().unwrap();
        assert!(heap.is_marked(N), "the black-allocated object is marked");
        assert!(heap.is_marked(T), "a black-allocated object points to a white one: its referent was lost");
    });
}

#[test]
fn a_black_allocated_objects_referent_is_marked() {
    black_allocation();
}

#[test]
#[should_panic(expected = "a black-allocated object points to a white one: its referent was lost")]
fn twin_without_the_barrier_a_black_allocated_object_hides_its_referent() {
    let _fault = faults::inject(Fault::BarrierOff);
    black_allocation();
}

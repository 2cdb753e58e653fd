//! The lost object (DESIGN.md §10: "insertion barrier vs marker"), on the
//! crate's real barrier step ([`barrier_shade`]), mark bitmap, publishing
//! store ([`publish_field`]) and marker load ([`load_field_for_marking`]).
//!
//! Marking is under way: B is black (marked, scanned), G is grey (marked, not
//! yet scanned) and holds the only reference to the white object T. The
//! mutator moves that reference from G into B — store into B (with the
//! barrier), clear G's field — while a marker scans G. Whatever the marker
//! reads, T must end up marked: either the marker finds it in G, or the
//! barrier shaded it when it was stored into B.
//!
//! Broken twin: [`Fault::BarrierOff`] turns the barrier's shading off, so the
//! marker can read G's field after it was cleared and T stays white while a
//! black object points to it.
#![cfg(loom)]

use isogc::model::faults::{self, Fault};
use isogc::model::{barrier_shade, load_field_for_marking, publish_field, MarkBits, Memory};
use loom::sync::atomic::Ordering;
use loom::sync::Arc;
use loom::thread;
use loom_tests::explore;
use loom_tests::small_heap::{SmallHeap, B, G, T};

fn lost_object() {
    explore(None, || {
        let heap = Arc::new(SmallHeap::black_grey_white());

        let marker = {
            let heap = heap.clone();
            thread::spawn(move || {
                // Scan G: shade what its field holds now.
                // SAFETY: G + 8 is a word of the model heap.
                let v = unsafe { load_field_for_marking(&*heap, G + 8) };
                if v != 0 && heap.try_mark(v & !0b11) {
                    // (A real marker would push T and scan it later.)
                }
            })
        };
        // The mutator: move the only reference to T from G into black B.
        let mut barrier_worklist = Vec::new();
        // SAFETY: the slots are words of the model heap.
        unsafe {
            let t = heap.word(G + 8).load(Ordering::Relaxed);
            publish_field(&*heap, B + 8, t);
            if barrier_shade(&*heap, t & !0b11) {
                barrier_worklist.push(t);
            }
            publish_field(&*heap, G + 8, 0);
        }
        marker.join().unwrap();
        assert!(heap.is_marked(T), "a black object points to a white one: the object was lost");
    });
}

#[test]
fn the_insertion_barrier_keeps_a_moved_reference_alive() {
    lost_object();
}

#[test]
#[should_panic(expected = "a black object points to a white one: the object was lost")]
fn twin_without_the_barrier_loses_the_object() {
    let _fault = faults::inject(Fault::BarrierOff);
    lost_object();
}

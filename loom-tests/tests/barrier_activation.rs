//! Barrier activation at marking start (DESIGN.md §10), on the crate's real
//! activation step ([`activate_marking_barrier`]), the barrier's flag tests
//! ([`barrier_needed`], [`barrier_mark`]) over a page flag word, the mark
//! bitmap, and the publishing store and marker load.
//!
//! The start pause runs on the isolate's thread, which is also the heap's
//! only mutator: it turns the barrier on (the page's flags), greys the roots
//! B and G (G's field holds the only reference to the white object T), and
//! posts a marker (here: spawns it, which orders the pause for it). Right
//! after the pause, while the marker already scans B and then G, the mutator
//! moves the reference to T from G into B (store with the barrier, then
//! clear G's field). The write races the marking that the activation
//! started: T must end up marked, whatever the marker read.
//!
//! Broken twin: [`Fault::BarrierActivationSkipped`] leaves the page without
//! the marking flags, so the write after the pause takes no barrier and the
//! marker, having scanned B before the store and G after the clear, never
//! sees T.
#![cfg(loom)]

use isogc::model::faults::{self, Fault};
use isogc::model::page_flags::{FROM_HERE_INTERESTING, OLD};
use isogc::model::{
    activate_marking_barrier, barrier_mark, barrier_needed, load_field_for_marking, publish_field, MarkBits, Memory,
};
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread;
use loom_tests::explore;
use loom_tests::small_heap::{SmallHeap, B, G, MAP, T};

/// The heap (one old page) and its page's flag word.
struct Model {
    heap: SmallHeap,
    page_flags: AtomicUsize,
}

fn activation_race() {
    explore(None, || {
        // Before marking: an old page (only the generational barrier's
        // flag), nothing marked, G's field holding the only reference to T.
        let heap = SmallHeap::new(6);
        // Relaxed: set up before any thread is spawned (the spawn orders it).
        for o in [B, G, T] {
            heap.at(o).store(MAP, Ordering::Relaxed);
        }
        heap.at(G + 8).store(T | 1, Ordering::Relaxed);
        let m = Arc::new(Model { heap, page_flags: AtomicUsize::new(OLD | FROM_HERE_INTERESTING) });

        // The start pause: the barrier on, the roots grey, a marker posted.
        activate_marking_barrier(&m.page_flags);
        let roots = [B, G];
        for r in roots {
            m.heap.try_mark(r);
        }
        let marker = {
            let m = m.clone();
            thread::spawn(move || {
                for o in roots {
                    // Scan `o`: shade what its field holds now.
                    // SAFETY: o + 8 is a word of the model heap.
                    let v = unsafe { load_field_for_marking(&m.heap, o + 8) };
                    if v & 0b11 == 1 && m.heap.try_mark(v & !0b11) {
                        // (A real marker would push T and scan it later;
                        // T's field holds nothing.)
                    }
                }
            })
        };

        // The mutator, right after the pause: move the reference to T from
        // G into B. Both objects (and T) are on the one page.
        let mut barrier_worklist = Vec::new();
        // SAFETY: the slots are words of the model heap.
        unsafe {
            let t = m.heap.word(G + 8).load(Ordering::Relaxed);
            publish_field(&m.heap, B + 8, t);
            // Relaxed: as `Page::flags` (the flags change only in pauses on
            // this thread).
            let flags = m.page_flags.load(Ordering::Relaxed);
            if barrier_needed(flags, flags) && barrier_mark(flags, &m.heap, t & !0b11) {
                barrier_worklist.push(t);
            }
            // A Smi store: no barrier.
            publish_field(&m.heap, G + 8, 0);
        }
        marker.join().unwrap();
        assert!(m.heap.is_marked(T), "a write racing the barrier's activation hid an object");
    });
}

#[test]
fn a_write_right_after_the_start_pause_cannot_hide_an_object() {
    activation_race();
}

#[test]
#[should_panic(expected = "a write racing the barrier's activation hid an object")]
fn twin_skipped_activation_lets_the_write_hide_an_object() {
    let _fault = faults::inject(Fault::BarrierActivationSkipped);
    activation_race();
}

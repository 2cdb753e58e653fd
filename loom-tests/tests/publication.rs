//! Publication of a new object to a concurrent marker (DESIGN.md §10: "black
//! allocation and publication of a new object to the marker"), on the
//! crate's real [`publish_field`] and [`load_field_for_marking`].
//!
//! The mutator initialises a fresh object (map word and a field, plain
//! stores) and stores a pointer to it into a field of an object the marker
//! is scanning. If the marker sees the pointer, it must also see the object
//! initialised: it reads the map word to learn the object's layout.
//! (Old-generation objects allocated during marking are black, so the marker
//! never reads them; young ones are white, and this is how they reach it.)
//!
//! Broken twins: [`Fault::PublishRelaxed`] publishes with a Relaxed store,
//! and [`Fault::MarkerLoadRelaxed`] loads the field Relaxed, so the marker
//! can reach the object before its initialisation.
#![cfg(loom)]

use isogc::model::faults::{self, Fault};
use isogc::model::{load_field_for_marking, publish_field, Memory};
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread;
use loom_tests::explore;

const BASE: usize = 0x1000;
/// The host object's field the mutator stores into.
const HOST_FIELD: usize = BASE + 8;
/// The new object: map word and one field.
const NEW: usize = BASE + 32;
const MAP: usize = 0x9001;

struct ModelHeap {
    words: Vec<AtomicUsize>,
}

// SAFETY: every address the model passes lies in `words` (8 words from BASE).
unsafe impl Memory for ModelHeap {
    unsafe fn word(&self, addr: usize) -> &AtomicUsize {
        &self.words[(addr - BASE) / 8]
    }
}

fn marker_sees_initialised_objects() {
    explore(None, || {
        let heap = Arc::new(ModelHeap { words: (0..8).map(|_| AtomicUsize::new(0)).collect() });
        let marker = {
            let heap = heap.clone();
            thread::spawn(move || {
                // SAFETY: HOST_FIELD is a word of the model heap.
                let v = unsafe { load_field_for_marking(&*heap, HOST_FIELD) };
                if v != 0 {
                    let target = v & !0b11;
                    // SAFETY: the target is a word of the model heap.
                    let map = unsafe { heap.word(target) }.load(Ordering::Relaxed);
                    assert_eq!(map, MAP, "the marker reached an object before its initialisation");
                }
            })
        };
        // The mutator: initialise, then publish.
        // SAFETY: NEW and NEW + 8 are words of the model heap.
        unsafe {
            heap.word(NEW).store(MAP, Ordering::Relaxed);
            heap.word(NEW + 8).store(42 << 1, Ordering::Relaxed);
            publish_field(&*heap, HOST_FIELD, NEW | 1);
        }
        marker.join().unwrap();
    });
}

#[test]
fn a_published_object_is_seen_initialised() {
    marker_sees_initialised_objects();
}

#[test]
#[should_panic(expected = "the marker reached an object before its initialisation")]
fn twin_relaxed_publication_exposes_an_uninitialised_object() {
    let _fault = faults::inject(Fault::PublishRelaxed);
    marker_sees_initialised_objects();
}

#[test]
#[should_panic(expected = "the marker reached an object before its initialisation")]
fn twin_relaxed_marker_load_reaches_an_uninitialised_object() {
    let _fault = faults::inject(Fault::MarkerLoadRelaxed);
    marker_sees_initialised_objects();
}

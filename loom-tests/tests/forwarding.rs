//! Two scavenger tasks forwarding the same object, reached from two slots
//! (DESIGN.md §10: "two scavenger workers forwarding the same object"), on the
//! crate's real evacuation protocol ([`try_forward`]) over a model heap.
//!
//! Each task reads the map word, copies the object into its own buffer and
//! tries to install the forwarding address. Exactly one copy must win; both
//! slots must end up with the winner's address; the winning copy's body must
//! be intact.
//!
//! Broken twin: [`Fault::ForwardLoadStore`] installs the forwarding address
//! with a load and a store instead of a compare-exchange, so both tasks can
//! win and the two slots disagree.
#![cfg(loom)]

use isogc::model::faults::{self, Fault};
use isogc::model::{forwarding_target, load_map_word, try_forward, Memory};
use loom::sync::atomic::AtomicUsize;
use loom::sync::Arc;
use loom::thread;
use loom_tests::explore;

const BASE: usize = 0x1000;
const WORDS: usize = 3;
/// The object: a map pointer (tag 01) and two body words.
const OBJECT: usize = BASE;
const MAP: usize = 0x9001;
const BODY: [usize; 2] = [0x2a << 1, 0x63 << 1];
/// Each task's private copy area.
const COPY: [usize; 2] = [BASE + 8 * 8, BASE + 16 * 8];

struct ModelHeap {
    words: Vec<AtomicUsize>,
}

impl ModelHeap {
    fn new() -> ModelHeap {
        let words: Vec<AtomicUsize> = (0..24).map(|_| AtomicUsize::new(0)).collect();
        words[0].store(MAP, loom::sync::atomic::Ordering::Relaxed);
        words[1].store(BODY[0], loom::sync::atomic::Ordering::Relaxed);
        words[2].store(BODY[1], loom::sync::atomic::Ordering::Relaxed);
        ModelHeap { words }
    }

    fn read(&self, addr: usize) -> usize {
        self.words[(addr - BASE) / 8].load(loom::sync::atomic::Ordering::Acquire)
    }
}

// SAFETY: every address the model passes lies in `words` (24 words from BASE).
unsafe impl Memory for ModelHeap {
    unsafe fn word(&self, addr: usize) -> &AtomicUsize {
        &self.words[(addr - BASE) / 8]
    }
}

/// One task's evacuation of OBJECT: returns (new address, won).
fn evacuate(heap: &ModelHeap, copy: usize) -> (usize, bool) {
    let map_word = load_map_word(heap, OBJECT);
    if let Some(to) = forwarding_target(map_word) {
        return (to, false);
    }
    // SAFETY: OBJECT is a live 3-word object whose body nobody writes; `copy`
    // is this task's private area.
    match unsafe { try_forward(heap, OBJECT, map_word, copy, WORDS) } {
        Ok(to) => (to, true),
        Err(winner) => (winner, false),
    }
}

fn two_tasks_forward_one_object() {
    explore(None, || {
        let heap = Arc::new(ModelHeap::new());
        let other = {
            let heap = heap.clone();
            thread::spawn(move || evacuate(&heap, COPY[1]))
        };
        let (slot_a, won_a) = evacuate(&heap, COPY[0]);
        let (slot_b, won_b) = other.join().unwrap();
        assert!(won_a ^ won_b, "exactly one copy must win the forwarding race");
        assert_eq!(slot_a, slot_b, "both slots must point to the one winning copy");
        assert_eq!(forwarding_target(heap.read(OBJECT)), Some(slot_a), "the map word forwards to the winner");
        assert_eq!(heap.read(slot_a), MAP, "the winning copy has the map");
        assert_eq!([heap.read(slot_a + 8), heap.read(slot_a + 16)], BODY, "the winning copy's body is intact");
    });
}

#[test]
fn exactly_one_copy_wins_and_both_slots_agree() {
    two_tasks_forward_one_object();
}

#[test]
#[should_panic(expected = "exactly one copy must win the forwarding race")]
fn twin_load_then_store_lets_two_copies_win() {
    let _fault = faults::inject(Fault::ForwardLoadStore);
    two_tasks_forward_one_object();
}

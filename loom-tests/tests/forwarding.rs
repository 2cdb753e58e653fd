//! Two scavenger tasks forwarding the same object, reached from two slots
//! (DESIGN.md §10: "two scavenger workers forwarding the same object"), on the
//! crate's real evacuation protocol over a model heap: the scavenger's
//! `load_map_word`, then `try_forward`, whose body copy is the crate's own
//! (`sync::copy_words` under loom: Relaxed word copies that loom lets a
//! reader see stale unless happens-before orders it after them); the model
//! heap supplies only the words.
//!
//! Each task reads the map word, copies the object into its own buffer and
//! tries to install the forwarding address. Exactly one copy must win; both
//! slots must end up with the winner's address; and a task that learns the
//! winner's address (from the map word, or from its failed CAS) must see the
//! winner's copy complete before the job's join: it reads the copy at once,
//! with the Relaxed loads the crate reads heap words with. (In the scavenger
//! such a task reads at least the header of the winner's page, which the
//! winner may have just set up, to tell to-space from old space; the copy
//! itself reaches other tasks through the forwarding word too.)
//!
//! Broken twins:
//! - [`Fault::ForwardLoadStore`] installs the forwarding address with a load
//!   and a store instead of a compare-exchange, so both tasks can win;
//! - [`Fault::ForwardCasRelaxed`]: the winning CAS is Relaxed, not Release;
//! - [`Fault::ForwardFailureRelaxed`]: the losing CAS reads Relaxed, not
//!   Acquire;
//! - [`Fault::MapWordLoadRelaxed`]: `load_map_word` is Relaxed, not Acquire.
//!
//! The last three let the loser read the winner's copy unwritten.
#![cfg(loom)]

use isogc::model::faults::{self, Fault};
use isogc::model::{forwarding_target, load_map_word, try_forward, Memory};
use loom::sync::atomic::{AtomicUsize, Ordering};
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
const COPY: [usize; 2] = [BASE + 4 * 8, BASE + 8 * 8];

struct ModelHeap {
    words: Vec<AtomicUsize>,
}

impl ModelHeap {
    fn new() -> ModelHeap {
        let words: Vec<AtomicUsize> = (0..12).map(|_| AtomicUsize::new(0)).collect();
        // Relaxed: set up before the tasks are spawned (the spawn orders it).
        words[0].store(MAP, Ordering::Relaxed);
        words[1].store(BODY[0], Ordering::Relaxed);
        words[2].store(BODY[1], Ordering::Relaxed);
        ModelHeap { words }
    }

    /// A heap word as the crate reads one (Relaxed).
    fn read(&self, addr: usize) -> usize {
        self.words[(addr - BASE) / 8].load(Ordering::Relaxed)
    }

    /// The object at `addr`: map word and body.
    fn object(&self, addr: usize) -> [usize; 3] {
        [self.read(addr), self.read(addr + 8), self.read(addr + 16)]
    }
}

// SAFETY: every address the model passes lies in `words` (12 words from BASE).
unsafe impl Memory for ModelHeap {
    unsafe fn word(&self, addr: usize) -> &AtomicUsize {
        &self.words[(addr - BASE) / 8]
    }
}

/// One task's visit of a slot holding OBJECT, as the scavenger's `copy`
/// does it: returns (new address, won).
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

/// A task: evacuates, and if it lost, reads the winner's copy right away.
fn task(heap: &ModelHeap, copy: usize) -> (usize, bool) {
    let (to, won) = evacuate(heap, copy);
    if !won {
        assert_eq!(
            heap.object(to),
            [MAP, BODY[0], BODY[1]],
            "a task that follows the forwarding word sees the winner's copy unwritten"
        );
    }
    (to, won)
}

fn two_tasks_forward_one_object() {
    explore(None, || {
        let heap = Arc::new(ModelHeap::new());
        let other = {
            let heap = heap.clone();
            thread::spawn(move || task(&heap, COPY[1]))
        };
        let (slot_a, won_a) = task(&heap, COPY[0]);
        let (slot_b, won_b) = other.join().unwrap();
        assert!(won_a ^ won_b, "exactly one copy must win the forwarding race");
        assert_eq!(slot_a, slot_b, "both slots must point to the one winning copy");
        assert_eq!(forwarding_target(heap.read(OBJECT)), Some(slot_a), "the map word forwards to the winner");
        assert_eq!(heap.object(slot_a), [MAP, BODY[0], BODY[1]], "the winning copy has the map and the body");
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

#[test]
#[should_panic(expected = "a task that follows the forwarding word sees the winner's copy unwritten")]
fn twin_relaxed_winning_cas_hides_the_copy_from_the_loser() {
    let _fault = faults::inject(Fault::ForwardCasRelaxed);
    two_tasks_forward_one_object();
}

#[test]
#[should_panic(expected = "a task that follows the forwarding word sees the winner's copy unwritten")]
fn twin_relaxed_losing_cas_hides_the_copy_from_the_loser() {
    let _fault = faults::inject(Fault::ForwardFailureRelaxed);
    two_tasks_forward_one_object();
}

#[test]
#[should_panic(expected = "a task that follows the forwarding word sees the winner's copy unwritten")]
fn twin_relaxed_map_word_load_hides_the_copy_from_the_loser() {
    let _fault = faults::inject(Fault::MapWordLoadRelaxed);
    two_tasks_forward_one_object();
}

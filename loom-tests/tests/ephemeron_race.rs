//! The ephemeron race (DESIGN section 10: "an ephemeron entry waiting while
//! its key is marked concurrently"), on the crate's real ephemeron store and
//! rounds ([`EphemeronTables::round`], [`EphemeronTables::pause_rounds`],
//! [`EphemeronTables::clear_dead`]) over the real mark bitmap.
//!
//! A marked table T holds the entry K → V; K and V are white. One
//! background marker runs an ephemeron round over T while another marker
//! reaches K (through some other object) and marks it. Whichever comes
//! first, the round may see K white and leave the entry waiting. The
//! finalization pause (after both markers stopped) runs its bounded
//! fixpoint: the waiting entry is looked at again, so V is marked and the
//! entry survives the clearing of dead keys.
//!
//! Broken twin: [`Fault::EphemeronDropWaiting`] (a round drops an entry it
//! found waiting, as if resolved): when the round runs before K is marked,
//! V stays white while its key is alive.
#![cfg(loom)]

use isogc::model::faults::{self, Fault};
use isogc::model::{EphemeronTables, MarkBits, Marks, MAX_PAUSE_ROUNDS};
use loom::sync::Arc;
use loom::thread;
use loom_tests::explore;
use loom_tests::small_heap::{SmallHeap, BASE};

/// The table object, the key and the value: two-word objects.
const T: usize = BASE;
const K: usize = BASE + 16;
const V: usize = BASE + 32;

/// The model heap's marks, as the ephemeron algorithm asks for them
/// (tagged words: a Smi counts as marked).
struct Heap(SmallHeap);

impl Marks for Heap {
    fn is_marked(&self, word: usize) -> bool {
        word & 1 == 0 || self.0.is_marked(word & !0b11)
    }
    fn try_mark(&self, word: usize) -> bool {
        word & 1 == 1 && self.0.try_mark(word & !0b11)
    }
}

fn key_marked_while_its_entry_waits() {
    explore(None, || {
        let heap = Arc::new(Heap(SmallHeap::new(6)));
        // Set-up before the markers are spawned (the spawn orders it).
        heap.try_mark(T | 1);
        let mut store = EphemeronTables::new();
        let id = store.create(T | 1);
        store.insert(id, K | 1, 7, V | 1, false, false);

        // Marker A: an ephemeron round (it ran out of grey objects).
        let a = {
            let heap = heap.clone();
            thread::spawn(move || {
                let mut found = Vec::new();
                store.round(&*heap, |v| found.push(v));
                (store, found)
            })
        };
        // Marker B: reaches K and marks it (K has no fields to scan).
        heap.try_mark(K | 1);
        let (mut store, found) = a.join().unwrap();
        assert!(found.iter().all(|&v| v == V | 1), "a round marks only values");

        // The finalization pause: markers stopped; the bounded fixpoint
        // (values have no fields here: the drains have nothing to scan).
        let r = store.pause_rounds(&*heap, MAX_PAUSE_ROUNDS, |_| {});
        assert!(r.is_ok(), "one entry needs at most one more round");
        store.clear_dead(|w| heap.is_marked(w));
        assert!(
            heap.is_marked(V | 1) && store.get(id, K | 1, 7) == Some(V | 1),
            "the value of a live key was left white"
        );
    });
}

#[test]
fn a_key_marked_while_its_entry_waits_gets_its_value_traced() {
    key_marked_while_its_entry_waits();
}

#[test]
#[should_panic(expected = "the value of a live key was left white")]
fn twin_dropping_waiting_entries_loses_the_value() {
    let _fault = faults::inject(Fault::EphemeronDropWaiting);
    key_marked_while_its_entry_waits();
}

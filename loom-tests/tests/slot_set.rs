//! Slot-set insertion vs insertion and vs iteration (DESIGN.md §10:
//! "slot-set insertion vs iteration or clearing"), on the crate's real
//! [`SlotSet`].
//!
//! - Two threads (two scavenger workers promoting onto one page) insert
//!   different slots into the same bucket that is not allocated yet: both
//!   race to install it, and neither insertion may be lost.
//!   Broken twin: [`Fault::SlotSetPlainInstall`] installs the bucket with a
//!   plain store, so the later installer replaces the bucket the earlier one
//!   already recorded its slot in.
//! - One thread inserts a slot while another iterates and removes a different,
//!   already recorded slot of the same cell: the insertion is never lost and
//!   the removal happens.
//!   Broken twin: [`Fault::SlotSetIterateLoadStore`] removes with a load and a
//!   store instead of one `fetch_and`, so the store can wipe out a slot
//!   inserted into the cell in between.
//! - One thread (a scavenger task that just promoted an object) writes a
//!   field and records its slot, while another iterates the set and reads
//!   the field of every slot it finds: a slot found must show the field's
//!   new contents (the insert's Release, the iteration's Acquire).
//!   Broken twins: [`Fault::SlotInsertRelaxed`] and
//!   [`Fault::SlotIterateRelaxed`] weaken either side to Relaxed.
#![cfg(loom)]

use isogc::model::faults::{self, Fault};
use isogc::model::{SlotCallbackResult, SlotSet, SLOTS_PER_BUCKET};
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread;
use loom_tests::explore;

/// A page of two buckets; the models work in the first.
const WORDS: usize = 2 * SLOTS_PER_BUCKET;

/// Two threads insert `a` and `b` (both in bucket 0, which starts
/// unallocated) at once.
fn concurrent_inserts_into_a_fresh_bucket(a: usize, b: usize) {
    assert!(a / SLOTS_PER_BUCKET == 0 && b / SLOTS_PER_BUCKET == 0 && a != b);
    explore(None, move || {
        let set = Arc::new(SlotSet::new(WORDS));
        let other = {
            let set = set.clone();
            thread::spawn(move || set.insert(b))
        };
        set.insert(a);
        other.join().unwrap();
        assert!(set.contains(a) && set.contains(b), "a slot inserted into a fresh bucket was lost");
        assert_eq!(set.len(), 2, "a slot inserted into a fresh bucket was lost");
    });
}

#[test]
fn two_inserts_into_one_unallocated_bucket_same_cell_both_recorded() {
    concurrent_inserts_into_a_fresh_bucket(3, 17);
}

#[test]
fn two_inserts_into_one_unallocated_bucket_different_cells_both_recorded() {
    concurrent_inserts_into_a_fresh_bucket(3, 32 + 5);
}

#[test]
#[should_panic(expected = "a slot inserted into a fresh bucket was lost")]
fn plain_store_bucket_install_loses_an_insert() {
    let _g = faults::inject(Fault::SlotSetPlainInstall);
    concurrent_inserts_into_a_fresh_bucket(3, 17);
}

/// One thread inserts `NEW` while this one iterates and removes `OLD`, which
/// was recorded before the race and shares `NEW`'s 32-bit cell.
///
/// `check_removal: false` checks only that `NEW` survives. The broken twin
/// needs that: for a racy plain store loom keeps the modification order of a
/// cell partial, so besides the real lost insertion it also admits an outcome
/// C11 forbids (the removed `OLD` reappears), and it would trip over that
/// first.
fn insert_racing_with_iterate_removing_another_slot(check_removal: bool) {
    const OLD: usize = 3;
    const NEW: usize = 17;
    explore(None, move || {
        let set = Arc::new(SlotSet::new(WORDS));
        set.insert(OLD);
        let inserter = {
            let set = set.clone();
            thread::spawn(move || set.insert(NEW))
        };
        let mut seen_new = false;
        let kept = set.iterate(|slot| {
            if slot == OLD {
                SlotCallbackResult::Remove
            } else {
                assert_eq!(slot, NEW, "iterate showed a slot nobody inserted");
                seen_new = true;
                SlotCallbackResult::Keep
            }
        });
        assert_eq!(kept, usize::from(seen_new), "iterate miscounted the slots it kept");
        inserter.join().unwrap();
        assert!(set.contains(NEW), "an insertion racing with iterate was lost");
        if check_removal {
            assert!(!set.contains(OLD), "iterate did not remove the slot it was told to");
            assert_eq!(set.len(), 1);
        }
    });
}

#[test]
fn insert_racing_with_iterate_that_removes_another_slot_is_kept() {
    insert_racing_with_iterate_removing_another_slot(true);
}

#[test]
#[should_panic(expected = "an insertion racing with iterate was lost")]
fn load_store_removal_in_iterate_loses_a_racing_insert() {
    let _g = faults::inject(Fault::SlotSetIterateLoadStore);
    insert_racing_with_iterate_removing_another_slot(false);
}

/// This thread (a scavenger task that just promoted an object) writes slot
/// `NEW`'s word, then records it, while another task iterates the set and
/// reads the word of each slot it is shown. (Slot `OLD`, recorded before the
/// race, keeps the bucket installed and its word written.) The iterating
/// task is the spawned one: loom's DPOR remembers only an object's last
/// access, so an iteration run first would hide the cell's read from the
/// inserter's later RMW and the insert-then-iterate order would go unexplored.
fn slot_found_shows_its_contents() {
    const OLD: usize = 3;
    const NEW: usize = 17;
    const VALUE: usize = 0x4001;
    explore(None, || {
        let set = Arc::new(SlotSet::new(WORDS));
        // The page's words, one per slot index; Relaxed as the crate's heap
        // words (`HeapObject::set_word`).
        let words: Arc<Vec<AtomicUsize>> = Arc::new((0..=NEW).map(|_| AtomicUsize::new(0)).collect());
        words[OLD].store(VALUE, Ordering::Relaxed);
        set.insert(OLD);
        let iterator = {
            let (set, words) = (set.clone(), words.clone());
            thread::spawn(move || {
                set.iterate(|slot| {
                    assert_eq!(words[slot].load(Ordering::Relaxed), VALUE, "iterate found a slot before its contents");
                    SlotCallbackResult::Keep
                })
            })
        };
        words[NEW].store(VALUE, Ordering::Relaxed);
        set.insert(NEW);
        iterator.join().unwrap();
    });
}

#[test]
fn a_slot_found_by_iterate_shows_what_was_written_before_its_insert() {
    slot_found_shows_its_contents();
}

#[test]
#[should_panic(expected = "iterate found a slot before its contents")]
fn twin_relaxed_insert_shows_a_slot_before_its_contents() {
    let _g = faults::inject(Fault::SlotInsertRelaxed);
    slot_found_shows_its_contents();
}

#[test]
#[should_panic(expected = "iterate found a slot before its contents")]
fn twin_relaxed_iterate_shows_a_slot_before_its_contents() {
    let _g = faults::inject(Fault::SlotIterateRelaxed);
    slot_found_shows_its_contents();
}

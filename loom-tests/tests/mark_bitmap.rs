//! Two markers setting bits in one mark-bitmap cell (DESIGN.md §10: "two
//! threads setting bits in one bitmap word"), on the crate's real
//! [`MarkBitmap`].
//!
//! Broken twin: [`Fault::BitmapLoadStore`] splits `set`'s `fetch_or` into a
//! load and a store, so one marker can overwrite the other's bit, or both can
//! "win" the same object and push it twice.
#![cfg(loom)]

use isogc::model::faults::{self, Fault};
use isogc::model::MarkBitmap;
use loom::sync::Arc;
use loom::thread;
use loom_tests::explore;

/// Two objects whose mark bits share the first bitmap cell.
const A: usize = 3;
const B: usize = 17;

fn different_bits_in_one_cell() {
    explore(None, || {
        let bitmap = Arc::new(MarkBitmap::new());
        let other = {
            let bitmap = bitmap.clone();
            thread::spawn(move || bitmap.set(B))
        };
        let won_a = bitmap.set(A);
        let won_b = other.join().unwrap();
        assert!(won_a && won_b, "a marker lost the race for an object nobody else marked");
        assert!(bitmap.is_set(A) && bitmap.is_set(B), "a mark bit in a shared cell was lost");
        assert_eq!(bitmap.count(), 2, "a mark bit in a shared cell was lost");
    });
}

fn same_bit() {
    explore(None, || {
        let bitmap = Arc::new(MarkBitmap::new());
        let other = {
            let bitmap = bitmap.clone();
            thread::spawn(move || bitmap.set(A))
        };
        let won_here = bitmap.set(A);
        let won_there = other.join().unwrap();
        assert!(won_here != won_there, "exactly one marker must win an object (here {won_here}, there {won_there})");
        assert!(bitmap.is_set(A));
        assert_eq!(bitmap.count(), 1);
    });
}

#[test]
fn two_markers_setting_different_bits_of_one_cell_both_land() {
    different_bits_in_one_cell();
}

#[test]
#[should_panic(expected = "a mark bit in a shared cell was lost")]
fn load_store_bitmap_loses_a_bit_in_a_shared_cell() {
    let _g = faults::inject(Fault::BitmapLoadStore);
    different_bits_in_one_cell();
}

#[test]
fn two_markers_racing_for_one_object_exactly_one_wins() {
    same_bit();
}

#[test]
#[should_panic(expected = "exactly one marker must win an object")]
fn load_store_bitmap_lets_both_markers_win_one_object() {
    let _g = faults::inject(Fault::BitmapLoadStore);
    same_bit();
}

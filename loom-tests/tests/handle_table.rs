//! Parallel visiting of the handle table (DESIGN.md §6/§7: GC workers update
//! global and weak handles in parallel), on the crate's real
//! [`HandleBlocks::visit_claimed`].
//!
//! Two visitor threads share one cursor; each adds 2 to every slot it is
//! handed. Afterwards every slot must hold exactly 2: every block was claimed
//! by exactly one visitor, none skipped, none visited twice.
//!
//! Broken twin: [`Fault::HandleClaimLoadStore`] claims a block with a load and
//! a store of the cursor instead of one `fetch_add`, so both visitors can take
//! the same block.
#![cfg(loom)]

use isogc::model::faults::{self, Fault};
use isogc::model::{HandleBlocks, HANDLE_BLOCK_SLOTS};
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread;
use loom_tests::explore;

/// Each visit adds this to the slot, so a double visit reads 4, a missed one 0.
const MARK: usize = 2;

fn parallel_visit(blocks: usize) {
    explore(None, move || {
        let mut table = HandleBlocks::new();
        for _ in 0..blocks {
            table.grow();
        }
        let table = Arc::new(table);
        let cursor = Arc::new(AtomicUsize::new(0));
        let visit = {
            let (table, cursor) = (table.clone(), cursor.clone());
            move || {
                table.visit_claimed(&cursor, |slot| {
                    // Relaxed: each slot needs only its own atomicity; the
                    // joins order these adds before the checks below.
                    slot.fetch_add(MARK, Ordering::Relaxed);
                })
            }
        };
        let other = thread::spawn(visit.clone());
        visit();
        other.join().unwrap();

        assert_eq!(table.capacity(), blocks * HANDLE_BLOCK_SLOTS);
        for i in 0..table.capacity() {
            let v = table.slot(i).load(Ordering::Relaxed);
            assert!(v == MARK, "handle slot {i} was visited {} times, not exactly once", v / MARK);
        }
    });
}

#[test]
fn two_visitors_sharing_a_cursor_visit_every_slot_of_two_blocks_once() {
    parallel_visit(2);
}

#[test]
fn two_visitors_sharing_a_cursor_visit_every_slot_of_three_blocks_once() {
    parallel_visit(3);
}

#[test]
#[should_panic(expected = "times, not exactly once")]
fn load_store_claim_lets_two_visitors_take_one_block() {
    let _g = faults::inject(Fault::HandleClaimLoadStore);
    parallel_visit(2);
}

//! Concurrent-marking termination with unpublished local work (DESIGN.md §10:
//! "marking termination with unpublished local work"), on the crate's real
//! [`GreyPool`].
//!
//! A background marker holds a grey object it has not published; it retires
//! (publishing what it holds). Meanwhile the mutator's safepoint polls: it
//! takes published segments, and when the pool says it is done it finalizes.
//! When it is told "done", every grey object must have been seen.
//!
//! Broken twin: [`Fault::RetireBeforePublish`] drops the worker's count
//! before its leftover work is published, so "done" can be declared while
//! the work is still private.
#![cfg(loom)]

use isogc::model::faults::{self, Fault};
use isogc::model::GreyPool;
use loom::sync::Arc;
use loom::thread;
use loom_tests::explore;

fn done_means_nothing_left() {
    explore(None, || {
        let pool = Arc::new(GreyPool::<u32>::new());
        pool.add_holder();
        let worker = {
            let pool = pool.clone();
            thread::spawn(move || {
                // The worker still holds one grey object when it finishes.
                pool.retire(vec![7]);
            })
        };
        let mut seen = Vec::new();
        loop {
            if pool.is_done() {
                break;
            }
            match pool.steal() {
                Some(seg) => seen.extend(seg),
                None => thread::yield_now(),
            }
        }
        worker.join().unwrap();
        assert_eq!(seen, vec![7], "marking was declared done while a grey object was unpublished");
    });
}

#[test]
fn done_is_declared_only_after_every_grey_object_was_published() {
    done_means_nothing_left();
}

#[test]
#[should_panic(expected = "marking was declared done while a grey object was unpublished")]
fn twin_retiring_before_publishing_hides_work() {
    let _fault = faults::inject(Fault::RetireBeforePublish);
    done_means_nothing_left();
}

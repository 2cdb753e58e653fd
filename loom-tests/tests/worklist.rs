//! Worklist termination (DESIGN.md §10: "marking termination with unpublished
//! local work"; the scavenger uses the same worklist), on the crate's real
//! [`Worklist`].
//!
//! Two tasks drain a worklist the way the scavenger does: pop until empty,
//! then wait for work or termination. Task 0 starts with three entries in its
//! private segment; segments hold two entries under loom, so the first two are
//! published (and may be stolen by task 1) while the third stays private. When
//! both tasks report "done", every entry must have been processed exactly
//! once, whichever task starts first; a helper that starts after the end
//! joins nothing.
//!
//! Broken twin: [`Fault::IdleBeforePublish`] lets a task go idle while it
//! still holds private, unpublished work, so termination is declared early.
#![cfg(loom)]

use isogc::model::faults::{self, Fault};
use isogc::model::{Local, Worklist};
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread;
use loom_tests::explore;

/// Processes entries until termination, adding them to `processed`.
fn drain(mut local: Local<'_, usize>, processed: &AtomicUsize) {
    loop {
        while let Some(x) = local.pop() {
            processed.fetch_add(x, Ordering::Relaxed);
        }
        if !local.wait_for_work() {
            break;
        }
    }
}

fn termination_sees_all_work() {
    explore(Some(3), || {
        let list = Arc::new(Worklist::new(2));
        let processed = Arc::new(AtomicUsize::new(0));
        let other = {
            let (list, processed) = (list.clone(), processed.clone());
            thread::spawn(move || {
                if let Some(local) = list.local(1) {
                    drain(local, &processed)
                }
            })
        };
        let mut local = list.local(0).expect("task 0 is always part of the job");
        for x in [1, 2, 3] {
            local.push(x);
        }
        drain(local, &processed);
        other.join().unwrap();
        assert_eq!(processed.load(Ordering::Relaxed), 1 + 2 + 3, "termination was declared while work remained");
    });
}

#[test]
fn done_is_reported_only_when_no_work_is_left() {
    termination_sees_all_work();
}

#[test]
#[should_panic(expected = "termination was declared while work remained")]
fn twin_idle_before_publishing_loses_work() {
    let _fault = faults::inject(Fault::IdleBeforePublish);
    termination_sees_all_work();
}

//! Parking and waking (issue #15: "no spinning where a wait can be long"),
//! on the crate's real [`WorkerGate`] and [`Worklist`], both of which park on
//! the private facade's `WaitQueue` after a short spin (under loom: at once).
//!
//! - The pausing thread closes the gate while a worker may be inside; it
//!   parks until the count of workers inside is zero, and the worker whose
//!   leaving makes it zero wakes it. In every interleaving the pause ends
//!   (no deadlock) and no worker is inside when it does. Run with one worker
//!   and with two (the wake-up comes from whichever leaves last).
//! - An idle worklist task parks until work is stealable or the job is done;
//!   the other task publishes a segment (whose publication wakes it) and
//!   ends the job. Both tasks return, and every entry is processed.
//!
//! Broken twins: [`Fault::NotifyWithoutLock`] lets the waker notify without
//! taking the wait queue's lock, so a waiter between its last check of the
//! condition and its sleep misses the notification and sleeps forever: the
//! lost wake-up. loom reports it as a deadlock (every live thread blocked),
//! so the twins expect loom's own `deadlock` message rather than a model
//! assertion. [`Fault::WaitFenceAcqRel`] weakens the wait queue's Dekker
//! fences to AcqRel: the waker can read no sleeper while the sleeper's
//! re-check misses the condition, the same lost wake-up.
#![cfg(loom)]

use isogc::model::faults::{self, Fault};
use isogc::model::{WorkerGate, Worklist, SEGMENT_SIZE};
use loom::sync::atomic::{AtomicUsize, Ordering};
// std's `Arc`, not loom's: when loom finds the twins' deadlock it unwinds the
// blocked model thread, and dropping a loom `Arc` there calls back into the
// torn-down execution and aborts the process (loom's own deadlock test uses
// `Rc` for the same reason). Nothing here races on the reference counts.
use loom::thread;
use loom_tests::explore;
use std::sync::Arc;

/// `workers` workers enter the gate, "touch the heap" (count themselves
/// inside) and leave, while the isolate's thread closes it.
fn pause_waits_for_leaving_workers(workers: usize, bound: Option<usize>) {
    explore(bound, move || {
        let gate = Arc::new(WorkerGate::new());
        let inside = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..workers)
            .map(|_| {
                let (gate, inside) = (gate.clone(), inside.clone());
                thread::spawn(move || {
                    if let Some(_g) = gate.enter() {
                        inside.fetch_add(1, Ordering::SeqCst);
                        inside.fetch_sub(1, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        // Parks while a worker is inside; must be woken.
        gate.close();
        assert_eq!(inside.load(Ordering::SeqCst), 0, "a worker was inside after the gate closed");
        for t in threads {
            t.join().unwrap();
        }
    });
}

#[test]
fn a_pause_parked_on_the_gate_is_woken_by_the_leaving_worker() {
    pause_waits_for_leaving_workers(1, None);
}

#[test]
fn a_pause_parked_on_the_gate_is_woken_by_the_last_of_two_workers() {
    pause_waits_for_leaving_workers(2, Some(3));
}

#[test]
#[should_panic(expected = "deadlock")]
fn twin_notify_without_lock_loses_the_gates_wake_up() {
    let _fault = faults::inject(Fault::NotifyWithoutLock);
    pause_waits_for_leaving_workers(1, None);
}

#[test]
#[should_panic(expected = "deadlock")]
fn twin_acqrel_fences_lose_the_gates_wake_up() {
    let _fault = faults::inject(Fault::WaitFenceAcqRel);
    pause_waits_for_leaving_workers(1, None);
}

/// Task 1 joins and finds nothing (it parks); task 0 pushes one full
/// segment (published: the publication wakes task 1) and drains.
fn idle_task_is_woken(bound: Option<usize>) {
    explore(bound, || {
        let list = Arc::new(Worklist::new(2));
        let processed = Arc::new(AtomicUsize::new(0));
        let helper = {
            let (list, processed) = (list.clone(), processed.clone());
            thread::spawn(move || {
                if let Some(mut local) = list.local(1) {
                    loop {
                        while let Some(x) = local.pop() {
                            processed.fetch_add(x, Ordering::Relaxed);
                        }
                        if !local.wait_for_work() {
                            break;
                        }
                    }
                }
            })
        };
        let mut local = list.local(0).expect("task 0 is always part of the job");
        for x in 1..=SEGMENT_SIZE {
            local.push(x);
        }
        loop {
            while let Some(x) = local.pop() {
                processed.fetch_add(x, Ordering::Relaxed);
            }
            if !local.wait_for_work() {
                break;
            }
        }
        drop(local);
        helper.join().unwrap();
        let all = SEGMENT_SIZE * (SEGMENT_SIZE + 1) / 2;
        // Relaxed (here and in the tasks): a tally read after the join.
        assert_eq!(processed.load(Ordering::Relaxed), all, "an entry was lost");
    });
}

#[test]
fn an_idle_worklist_task_is_woken_by_published_work_or_the_end() {
    idle_task_is_woken(Some(3));
}

#[test]
#[should_panic(expected = "deadlock")]
fn twin_notify_without_lock_loses_a_worklist_wake_up() {
    let _fault = faults::inject(Fault::NotifyWithoutLock);
    idle_task_is_woken(Some(3));
}

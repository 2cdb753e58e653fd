//! Background markers and a pause of the isolate (DESIGN.md §10: "barrier
//! activation at marking start" is the same kind of handshake: a flag one
//! side publishes and the other must not miss), on the crate's real
//! [`WorkerGate`].
//!
//! A worker enters the gate and, while inside, touches the heap; the
//! isolate's thread closes the gate, runs its pause (here: marks it as
//! running), and opens the gate again. No worker may be inside while the
//! pause runs, and the pausing thread must not wait for a worker that never
//! got in.
//!
//! Broken twin: [`Fault::GateCheckBeforeRegister`] makes the worker check the
//! stop flag before registering, so a pause can begin between the two
//! without seeing the worker.
//!
//! The second model checks the gate's orderings: the worker and the pause
//! both write one heap word (a loom `UnsafeCell`, so any two writes not
//! ordered by happens-before are a causality violation); the worker tries to
//! enter twice, so it may get in before the pause (the pause must then be
//! ordered after its write: the leave's Release, the wait's Acquire) or after
//! it (its write must be ordered after the pause's: the open's Release, the
//! enter check's Acquire), and the fences must keep it from getting in during
//! the pause. One twin per ordering weakens it: [`Fault::GateFenceAcqRel`]
//! (both fences AcqRel), [`Fault::GateLeaveRelaxed`],
//! [`Fault::GateWaitRelaxed`], [`Fault::GateOpenRelaxed`],
//! [`Fault::GateEnterRelaxed`]; each is caught as loom's causality violation
//! on the heap word.
#![cfg(loom)]

use isogc::model::faults::{self, Fault};
use isogc::model::WorkerGate;
use loom::cell::UnsafeCell;
use loom::sync::atomic::{AtomicBool, Ordering};
use loom::sync::Arc;
use loom::thread;
use loom_tests::explore;

fn pause_excludes_workers() {
    explore(None, || {
        let gate = Arc::new(WorkerGate::new());
        let pausing = Arc::new(AtomicBool::new(false));
        let worker = {
            let (gate, pausing) = (gate.clone(), pausing.clone());
            thread::spawn(move || {
                if let Some(_inside) = gate.enter() {
                    // "Touching the heap": must never overlap the pause.
                    assert!(!pausing.load(Ordering::SeqCst), "a worker touched the heap during a pause");
                }
            })
        };
        gate.close();
        pausing.store(true, Ordering::SeqCst);
        pausing.store(false, Ordering::SeqCst);
        gate.open();
        worker.join().unwrap();
    });
}

#[test]
fn no_worker_is_inside_the_heap_during_a_pause() {
    pause_excludes_workers();
}

#[test]
#[should_panic(expected = "a worker touched the heap during a pause")]
fn twin_check_before_register_lets_a_worker_into_a_pause() {
    let _fault = faults::inject(Fault::GateCheckBeforeRegister);
    pause_excludes_workers();
}

/// The worker (entering twice) and the pause both write one heap word.
fn pause_and_worker_writes_are_ordered() {
    // Preemption bound 3: the two entries make the full search the longest
    // of the suite, and every twin fails within three preemptions.
    explore(Some(3), || {
        let gate = Arc::new(WorkerGate::new());
        let heap = Arc::new(UnsafeCell::new(0usize));
        let worker = {
            let (gate, heap) = (gate.clone(), heap.clone());
            thread::spawn(move || {
                for _ in 0..2 {
                    if let Some(_inside) = gate.enter() {
                        // SAFETY: the gate is what makes this exclusive; loom
                        // checks that it does.
                        heap.with_mut(|w| unsafe { *w += 1 });
                    }
                }
            })
        };
        gate.close();
        // SAFETY: as above, for the pause.
        heap.with_mut(|w| unsafe { *w += 10 });
        gate.open();
        worker.join().unwrap();
    });
}

#[test]
fn the_pause_is_ordered_after_and_before_every_worker_inside() {
    pause_and_worker_writes_are_ordered();
}

#[test]
#[should_panic(expected = "Causality violation: Concurrent write accesses to `UnsafeCell`")]
fn twin_acqrel_fences_let_a_worker_in_during_the_pause() {
    let _fault = faults::inject(Fault::GateFenceAcqRel);
    pause_and_worker_writes_are_ordered();
}

#[test]
#[should_panic(expected = "Causality violation: Concurrent write accesses to `UnsafeCell`")]
fn twin_relaxed_leave_lets_the_pause_race_a_worker() {
    let _fault = faults::inject(Fault::GateLeaveRelaxed);
    pause_and_worker_writes_are_ordered();
}

#[test]
#[should_panic(expected = "Causality violation: Concurrent write accesses to `UnsafeCell`")]
fn twin_relaxed_wait_lets_the_pause_race_a_worker() {
    let _fault = faults::inject(Fault::GateWaitRelaxed);
    pause_and_worker_writes_are_ordered();
}

#[test]
#[should_panic(expected = "Causality violation: Concurrent write accesses to `UnsafeCell`")]
fn twin_relaxed_open_lets_a_worker_miss_the_pauses_writes() {
    let _fault = faults::inject(Fault::GateOpenRelaxed);
    pause_and_worker_writes_are_ordered();
}

#[test]
#[should_panic(expected = "Causality violation: Concurrent write accesses to `UnsafeCell`")]
fn twin_relaxed_enter_check_lets_a_worker_miss_the_pauses_writes() {
    let _fault = faults::inject(Fault::GateEnterRelaxed);
    pause_and_worker_writes_are_ordered();
}

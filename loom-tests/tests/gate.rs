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
#![cfg(loom)]

use isogc::model::faults::{self, Fault};
use isogc::model::WorkerGate;
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

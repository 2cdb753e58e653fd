//! The gate that keeps background workers off the heap during pauses, and
//! pool helpers off a job whose owner has returned.
//!
//! Concurrent markers and sweepers run as detached tasks on the shared pool
//! (each marking cycle and each sweeping has its own gate). Whenever the
//! isolate's thread pauses for a scavenge, a finalization, or the heap's
//! destruction, no marker may touch the heap, yet the thread must not wait
//! for tasks that are merely queued (other isolates' jobs may hold the pool's
//! threads). The same handshake ends a user-blocking job
//! ([`crate::platform`]): its helpers enter the job's gate before they touch
//! the job (which lives on the joining thread's stack), and the joining
//! thread closes it before it returns. The gate is a Dekker-style handshake:
//!
//! - a worker **registers first, then checks** `stop` ([`WorkerGate::enter`]);
//! - the pausing thread **sets `stop` first, then waits** until no worker is
//!   registered ([`WorkerGate::close`]).
//!
//! Each side separates its store from its load with a SeqCst fence, so
//! either the pausing thread sees the worker registered (and waits for it to
//! leave), or the worker sees `stop` (and leaves without touching the heap).
//! (Fences rather than SeqCst accesses: the fence form is the standard one,
//! and it is the one loom can check.) A worker leaves with a Release
//! decrement that the pausing thread's Acquire wait pairs with, so the pause
//! happens after the worker's last heap access. A worker that starts after
//! the pause began is turned away; one queued until after the cycle ended
//! finds the gate closed for good. `loom-tests/tests/gate.rs` checks this,
//! with a twin that checks before registering, and one twin per ordering
//! (the fences as AcqRel; the enter check, the wait, the open and the leave
//! as Relaxed), each letting a worker's heap access race with the pause's.
//!
//! **Waiting.** The pausing thread spins briefly, then parks on a
//! [`WaitQueue`] (a worker may be preempted, or finishing a page); the worker
//! whose leaving empties the gate wakes it. `loom-tests/tests/parking.rs`
//! checks that wake-up, with a lost wake-up twin.

use crate::sync::faults::{fault, Fault};
use crate::sync::{dekker_fence, fence, AtomicBool, AtomicUsize, Ordering, WaitQueue};

/// The handshake between background workers and the pausing thread.
#[derive(Default)]
pub struct WorkerGate {
    stop: AtomicBool,
    inside: AtomicUsize,
    /// Where the pausing thread parks while workers are inside.
    closer: WaitQueue,
}

/// A worker's permission to touch the heap; leaving drops it.
pub struct GateGuard<'g> {
    gate: &'g WorkerGate,
}

impl WorkerGate {
    /// An open gate.
    pub fn new() -> WorkerGate {
        WorkerGate { stop: AtomicBool::new(false), inside: AtomicUsize::new(0), closer: WaitQueue::new() }
    }

    /// A worker asks to touch the heap: `None` if a pause is on (or the
    /// cycle is over).
    pub fn enter(&self) -> Option<GateGuard<'_>> {
        if fault(Fault::GateCheckBeforeRegister) {
            // Broken twin: check, then register; a pause can begin between
            // the two without seeing this worker.
            if self.stop.load(Ordering::Relaxed) {
                return None;
            }
            self.inside.fetch_add(1, Ordering::Relaxed);
            return Some(GateGuard { gate: self });
        }
        // Relaxed register, SeqCst fence, check: the worker's half of the
        // handshake; the fence pairs with the one in `close`. The check is
        // Acquire: a worker let in after a pause (reading `open`'s Release
        // store) sees everything the pause wrote (moved objects, updated
        // fields).
        self.inside.fetch_add(1, Ordering::Relaxed);
        fence(dekker_fence(Fault::GateFenceAcqRel));
        let check = if fault(Fault::GateEnterRelaxed) { Ordering::Relaxed } else { Ordering::Acquire };
        if self.stop.load(check) {
            // Nothing was touched, but the pausing thread may be waiting on
            // this count.
            self.leave();
            return None;
        }
        Some(GateGuard { gate: self })
    }

    /// A hint for a worker inside to leave soon.
    #[inline]
    pub fn should_leave(&self) -> bool {
        // Relaxed: only a prompt; `close` waits for the worker regardless.
        self.stop.load(Ordering::Relaxed)
    }

    /// The pausing thread: once this returns, no worker is inside and none
    /// gets in until [`WorkerGate::open`].
    pub fn close(&self) {
        // Relaxed store, SeqCst fence: the pausing thread's half of the
        // handshake; the fence pairs with the one in `enter`.
        self.stop.store(true, Ordering::Relaxed);
        fence(dekker_fence(Fault::GateFenceAcqRel));
        // Acquire: pairs with the Release decrements of leaving workers, so
        // the pause happens after their last heap access.
        let wait = if fault(Fault::GateWaitRelaxed) { Ordering::Relaxed } else { Ordering::Acquire };
        self.closer.wait_until(|| self.inside.load(wait) == 0);
    }

    /// Lets workers in again (after a pause).
    pub fn open(&self) {
        // Release: pairs with the Acquire check in `enter`: a worker that
        // sees the gate open also sees everything the pause did.
        let order = if fault(Fault::GateOpenRelaxed) { Ordering::Relaxed } else { Ordering::Release };
        self.stop.store(false, order);
    }

    fn leave(&self) {
        // Release: pairs with the Acquire wait in `close`: the worker's heap
        // accesses happen before the pause.
        let order = if fault(Fault::GateLeaveRelaxed) { Ordering::Relaxed } else { Ordering::Release };
        if self.inside.fetch_sub(1, order) == 1 {
            // The gate is empty now: wake a pausing thread parked on it.
            self.closer.notify_all();
        }
    }
}

impl Drop for GateGuard<'_> {
    fn drop(&mut self) {
        self.gate.leave();
    }
}

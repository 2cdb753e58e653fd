//! Segment-based work-stealing worklists with global termination detection,
//! shared by the scavenger and the marker.
//!
//! Each task owns a [`Local`] view: a private *push* segment and a private
//! *pop* segment (plain vectors, no synchronisation), and a crossbeam-deque
//! [`Worker`] of full segments. A push segment that reaches
//! [`SEGMENT_SIZE`] entries is *published* as a whole into the task's deque,
//! where other tasks steal it through their [`Stealer`]s; work seeded before
//! the tasks start goes into the shared [`Injector`]. Moving segments rather
//! than single entries keeps synchronisation off the per-object path, as in
//! V8's `Worklist`.
//!
//! **Termination.** A task that finds no work anywhere goes *idle*; the job
//! is done when all of its tasks are idle at once. The number of tasks is
//! fixed when the worklist is made (every task of a job is guaranteed to run:
//! the job's scope waits for all of them), so a task that has not started yet
//! — and may hold the roots — keeps the job alive. The invariant that makes
//! "all idle" sound: a task goes idle only when its private segments are
//! empty (everything it still owns has been published), and an idle task
//! publishes nothing.

use crate::sync::faults::{fault, Fault};
use crate::sync::{AtomicUsize, Ordering};
use crossbeam_deque::{Injector, Steal, Stealer, Worker};

/// Entries per segment.
#[cfg(not(loom))]
pub const SEGMENT_SIZE: usize = 64;
/// Entries per segment (tiny under loom, so models publish and steal).
#[cfg(loom)]
pub const SEGMENT_SIZE: usize = 2;

const DONE: usize = 1 << 63;

/// The shared part of a worklist: the injector, every task's stealer, and the
/// termination state.
pub struct Worklist<T> {
    injector: Injector<Vec<T>>,
    stealers: Vec<Stealer<Vec<T>>>,
    tasks: usize,
    /// Idle tasks, and `DONE` once terminated.
    state: AtomicUsize,
    workers: parking_lot::Mutex<Vec<Option<Worker<Vec<T>>>>>,
}

impl<T: Send> Worklist<T> {
    /// A worklist for exactly `tasks` tasks, each of which must call
    /// [`Worklist::local`] once and run until [`Local::wait_for_work`] says
    /// the job is done.
    pub fn new(tasks: usize) -> Worklist<T> {
        let workers: Vec<Worker<Vec<T>>> = (0..tasks).map(|_| Worker::new_lifo()).collect();
        let stealers = workers.iter().map(|w| w.stealer()).collect();
        Worklist {
            injector: Injector::new(),
            stealers,
            tasks,
            state: AtomicUsize::new(0),
            workers: parking_lot::Mutex::new(workers.into_iter().map(Some).collect()),
        }
    }

    /// Seeds a segment of work before (or while) tasks run.
    #[cfg_attr(not(loom), allow(dead_code))]
    pub fn inject(&self, items: Vec<T>) {
        if !items.is_empty() {
            self.injector.push(items);
        }
    }

    /// Task `id`'s view (each id once).
    pub fn local(&self, id: usize) -> Local<'_, T> {
        let deque = self.workers.lock()[id].take().expect("each task id joins once");
        Local { list: self, id, push: Vec::with_capacity(SEGMENT_SIZE), pop: Vec::new(), deque }
    }

    fn steal(&self, own: usize) -> Option<Vec<T>> {
        loop {
            let mut retry = false;
            match self.injector.steal() {
                Steal::Success(s) => return Some(s),
                Steal::Retry => retry = true,
                Steal::Empty => {}
            }
            for (i, st) in self.stealers.iter().enumerate() {
                if i == own {
                    continue;
                }
                match st.steal() {
                    Steal::Success(s) => return Some(s),
                    Steal::Retry => retry = true,
                    Steal::Empty => {}
                }
            }
            if !retry {
                return None;
            }
        }
    }

    fn has_stealable_work(&self) -> bool {
        !self.injector.is_empty() || self.stealers.iter().any(|s| !s.is_empty())
    }
}

/// One task's view of a [`Worklist`].
pub struct Local<'w, T> {
    list: &'w Worklist<T>,
    id: usize,
    push: Vec<T>,
    pop: Vec<T>,
    deque: Worker<Vec<T>>,
}

impl<T: Send> Local<'_, T> {
    /// Adds an entry; publishes the push segment when it is full.
    #[inline]
    pub fn push(&mut self, item: T) {
        self.push.push(item);
        if self.push.len() >= SEGMENT_SIZE {
            self.publish();
        }
    }

    /// Makes the private push segment stealable.
    #[cold]
    pub fn publish(&mut self) {
        if !self.push.is_empty() {
            let seg = std::mem::replace(&mut self.push, Vec::with_capacity(SEGMENT_SIZE));
            self.deque.push(seg);
        }
    }

    /// Takes an entry: private segments first, then own published segments,
    /// then the injector and other tasks' segments.
    #[inline]
    pub fn pop(&mut self) -> Option<T> {
        if let Some(x) = self.pop.pop() {
            return Some(x);
        }
        self.pop_slow()
    }

    #[cold]
    fn pop_slow(&mut self) -> Option<T> {
        loop {
            if let Some(x) = self.pop.pop() {
                return Some(x);
            }
            // (The broken twin overlooks its private push segment, so it goes
            // idle holding unpublished work.)
            if !self.push.is_empty() && !fault(Fault::IdleBeforePublish) {
                std::mem::swap(&mut self.push, &mut self.pop);
                continue;
            }
            if let Some(seg) = self.deque.pop() {
                self.pop = seg;
                continue;
            }
            match self.list.steal(self.id) {
                Some(seg) => self.pop = seg,
                None => return None,
            }
        }
    }

    /// True when this task holds no private (unpublished) work.
    pub fn is_local_empty(&self) -> bool {
        self.pop.is_empty() && self.push.is_empty() && self.deque.is_empty()
    }

    /// Called when [`Local::pop`] found nothing. Waits until either work
    /// appears somewhere (returns `true`: pop again) or every participant is
    /// idle (returns `false`: the job is done).
    pub fn wait_for_work(&mut self) -> bool {
        if !self.is_local_empty() && !fault(Fault::IdleBeforePublish) {
            return true;
        }
        let list = self.list;
        // SeqCst: the idle count and the deques' contents must be seen in one
        // total order with other tasks' publications and idle transitions.
        list.state.fetch_add(1, Ordering::SeqCst);
        let mut spins = 0u32;
        loop {
            let s = list.state.load(Ordering::SeqCst);
            if s & DONE != 0 {
                return false;
            }
            if s == list.tasks {
                // Everyone is idle: no one holds or can create work.
                if list.state.compare_exchange(s, s | DONE, Ordering::SeqCst, Ordering::SeqCst).is_ok() {
                    return false;
                }
                continue;
            }
            if list.has_stealable_work() {
                list.state.fetch_sub(1, Ordering::SeqCst);
                return true;
            }
            spins += 1;
            if spins < 64 && !cfg!(loom) {
                std::hint::spin_loop();
            } else {
                crate::sync::yield_now();
            }
        }
    }
}

impl<T> Drop for Local<'_, T> {
    fn drop(&mut self) {
        debug_assert!(
            std::thread::panicking()
                || fault(Fault::IdleBeforePublish)
                || (self.push.is_empty() && self.pop.is_empty()),
            "a task left the worklist holding work"
        );
    }
}

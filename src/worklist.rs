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
//! is done when every participating task is idle at once. The invariant
//! that makes this sound: a task goes idle only when its private segments are
//! empty (everything it still owns has been published) and idle tasks publish
//! nothing. Participants and idle tasks are counted in one atomic word, so the
//! check "all idle" reads both halves consistently; a late-starting task that
//! finds the job done leaves without work (it could bring none).

use crate::sync::faults::{fault, Fault};
use crate::sync::{AtomicUsize, Ordering};
use crossbeam_deque::{Injector, Steal, Stealer, Worker};

/// Entries per segment.
pub const SEGMENT_SIZE: usize = 64;

const PARTICIPANT: usize = 1 << 32;
const IDLE: usize = 1;
const DONE: usize = 1 << 63;

/// The shared part of a worklist: the injector, every task's stealer, and the
/// termination state.
pub struct Worklist<T> {
    injector: Injector<Vec<T>>,
    stealers: Vec<Stealer<Vec<T>>>,
    /// `participants << 32 | idle`, and `DONE` once terminated.
    state: AtomicUsize,
    workers: parking_lot::Mutex<Vec<Option<Worker<Vec<T>>>>>,
}

impl<T: Send> Worklist<T> {
    /// A worklist for up to `tasks` tasks.
    pub fn new(tasks: usize) -> Worklist<T> {
        let workers: Vec<Worker<Vec<T>>> = (0..tasks).map(|_| Worker::new_lifo()).collect();
        let stealers = workers.iter().map(|w| w.stealer()).collect();
        Worklist {
            injector: Injector::new(),
            stealers,
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

    /// Joins task `id` to the job. `None` if the job already terminated (a
    /// late task has nothing to contribute).
    pub fn local(&self, id: usize) -> Option<Local<'_, T>> {
        let mut s = self.state.load(Ordering::SeqCst);
        loop {
            if s & DONE != 0 {
                return None;
            }
            match self.state.compare_exchange_weak(s, s + PARTICIPANT, Ordering::SeqCst, Ordering::SeqCst) {
                Ok(_) => break,
                Err(now) => s = now,
            }
        }
        let deque = self.workers.lock()[id].take().expect("each task id joins once");
        Some(Local { list: self, id, push: Vec::with_capacity(SEGMENT_SIZE), pop: Vec::new(), deque })
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
            if !self.push.is_empty() {
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
        if fault(Fault::IdleBeforePublish) {
            // Broken twin: go idle without looking at private work.
        } else {
            debug_assert!(self.is_local_empty(), "a task must not go idle holding work");
            if !self.is_local_empty() {
                return true;
            }
        }
        let list = self.list;
        // SeqCst: the idle count and the deques' contents must be seen in one
        // total order with other tasks' publications and idle transitions.
        list.state.fetch_add(IDLE, Ordering::SeqCst);
        let mut spins = 0u32;
        loop {
            let s = list.state.load(Ordering::SeqCst);
            if s & DONE != 0 {
                return false;
            }
            if (s >> 32) == (s & 0xffff_ffff) {
                // Everyone is idle: no one holds or can create work.
                if list.state.compare_exchange(s, s | DONE, Ordering::SeqCst, Ordering::SeqCst).is_ok() {
                    return false;
                }
                continue;
            }
            if list.has_stealable_work() {
                list.state.fetch_sub(IDLE, Ordering::SeqCst);
                return true;
            }
            spins += 1;
            if spins < 64 {
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
            std::thread::panicking() || (self.push.is_empty() && self.pop.is_empty()),
            "a task left the worklist holding work"
        );
    }
}

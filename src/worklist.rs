//! Segment-based work-stealing worklists with global termination detection,
//! shared by the scavenger and the marker.
//!
//! Each task owns a [`Local`] view: a private *push* segment and a private
//! *pop* segment (plain vectors, no synchronisation), and a crossbeam-deque
//! [`Worker`] of full segments. A push segment that reaches
//! [`SEGMENT_SIZE`] entries is *published* as a whole into the task's own
//! deque (LIFO, for locality), where other tasks steal it through their
//! [`Stealer`]s. While a task is idle and the shared [`Injector`] (the global
//! pool) is empty, a busy task shares its push segment early, every
//! [`SHARE_EVERY`] entries, through the injector, which idle tasks look at
//! first: V8's worklists share work the same way when their global pool is
//! empty. Moving segments rather than single entries keeps synchronisation
//! off the per-object path, as in V8's `Worklist`.
//!
//! **Termination.** A task that finds no work anywhere goes *idle*; the job
//! is done when every task that has joined is idle at once. Task 0 (the
//! isolate's own thread, which holds the roots no one else can claim) is
//! counted as joined from the start, so a helper that starts first cannot end
//! the job before the roots are processed. Helpers join when they start; one
//! that starts after the end leaves at once — it can hold no work, because all
//! other work is handed out through claims that some joined task exhausted
//! before going idle. No task ever waits for a task that has not started, so
//! jobs of several isolates sharing one small pool cannot wait on each other.
//! What makes "all joined tasks idle" sound: a task goes idle only when its
//! private segments are empty (everything it still owns has been published),
//! and an idle task publishes nothing.
//!
//! **Idle tasks park.** An idle task spins briefly, then parks on the
//! worklist's [`WaitQueue`] until work is stealable or the job is done: on an
//! oversubscribed machine a spinning helper would take the core from the task
//! that holds the work. Every publication (a segment into a deque or the
//! injector) and the termination wake parked tasks; the wake-up's fast path,
//! with no task parked, is a fence and a load per published segment.

use crate::sync::faults::{fault, Fault};
use crate::sync::{thread, AtomicUsize, Mutex, Ordering, WaitQueue};
use crossbeam_deque::{Injector, Steal, Stealer, Worker};

/// Entries per segment.
#[cfg(not(loom))]
pub const SEGMENT_SIZE: usize = 64;
/// Entries per segment (tiny under loom, so models publish and steal).
#[cfg(loom)]
pub const SEGMENT_SIZE: usize = 2;

/// How often (in pushed entries) a task considers publishing its push
/// segment.
#[cfg(not(loom))]
pub const SHARE_EVERY: usize = 8;
/// How often (in pushed entries) a task considers publishing its push
/// segment (every entry under loom, so models exercise sharing).
#[cfg(loom)]
pub const SHARE_EVERY: usize = 1;
// Under loom `SHARE_EVERY` is 1 (every push considers publishing).
#[allow(clippy::modulo_one)]
const _: () = assert!(SEGMENT_SIZE % SHARE_EVERY == 0, "a full segment must be noticed");

const DONE: usize = 1 << 63;
const JOINED: usize = 1 << 32;
const IDLE_MASK: usize = JOINED - 1;

/// The shared part of a worklist: the injector, every task's stealer, and the
/// termination state.
pub struct Worklist<T> {
    injector: Injector<Vec<T>>,
    stealers: Vec<Stealer<Vec<T>>>,
    /// `joined << 32 | idle`, and `DONE` once terminated.
    state: AtomicUsize,
    workers: Mutex<Vec<Option<Worker<Vec<T>>>>>,
    /// Where idle tasks park until work appears or the job is done.
    idle: WaitQueue,
}

impl<T: Send> Worklist<T> {
    /// A worklist for up to `tasks` tasks. Task 0 is counted as joined at
    /// once and must run until [`Local::wait_for_work`] says the job is done;
    /// the others join through [`Worklist::local`] when they start.
    pub fn new(tasks: usize) -> Worklist<T> {
        let workers: Vec<Worker<Vec<T>>> = (0..tasks).map(|_| Worker::new_lifo()).collect();
        let stealers = workers.iter().map(|w| w.stealer()).collect();
        Worklist {
            injector: Injector::new(),
            stealers,
            state: AtomicUsize::new(JOINED),
            workers: Mutex::new(workers.into_iter().map(Some).collect()),
            idle: WaitQueue::new(),
        }
    }

    /// Seeds a segment of work (before the tasks run).
    pub fn inject(&self, items: Vec<T>) {
        if !items.is_empty() {
            self.injector.push(items);
        }
    }

    /// Task `id`'s view (each id once). Task 0 always gets one; a helper
    /// gets `None` if the job already ended (it has nothing to contribute).
    pub fn local(&self, id: usize) -> Option<Local<'_, T>> {
        if id != 0 {
            let mut s = self.state.load(Ordering::SeqCst);
            loop {
                if s & DONE != 0 {
                    return None;
                }
                match self.state.compare_exchange_weak(s, s + JOINED, Ordering::SeqCst, Ordering::SeqCst) {
                    Ok(_) => break,
                    Err(now) => s = now,
                }
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

    /// Is some task idle (waiting for work)?
    #[inline]
    fn someone_idle(&self) -> bool {
        // Relaxed: a hint for sharing work early; correctness never depends
        // on it (termination re-checks everything with SeqCst).
        self.state.load(Ordering::Relaxed) & IDLE_MASK != 0
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
    /// Adds an entry. Every [`SHARE_EVERY`] entries it considers publishing
    /// the push segment: to its own deque when it is full, and early, to the
    /// global pool, when another task is idle and the pool is empty.
    #[inline(always)]
    #[allow(clippy::modulo_one)] // `SHARE_EVERY` is 1 under loom.
    pub fn push(&mut self, item: T) {
        self.push.push(item);
        if self.push.len() % SHARE_EVERY == 0 {
            self.maybe_publish();
        }
    }

    #[inline(never)]
    fn maybe_publish(&mut self) {
        if self.push.len() >= SEGMENT_SIZE {
            self.publish();
        } else if self.list.someone_idle() && self.list.injector.is_empty() {
            let seg = std::mem::replace(&mut self.push, Vec::with_capacity(SEGMENT_SIZE));
            self.list.injector.push(seg);
            self.list.idle.notify_all();
        }
    }

    /// Makes the private push segment stealable.
    #[cold]
    pub fn publish(&mut self) {
        if !self.push.is_empty() {
            let seg = std::mem::replace(&mut self.push, Vec::with_capacity(SEGMENT_SIZE));
            self.deque.push(seg);
            self.list.idle.notify_all();
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
        loop {
            let s = list.state.load(Ordering::SeqCst);
            if s & DONE != 0 {
                return false;
            }
            if s >> 32 == s & IDLE_MASK {
                // Everyone is idle: no one holds or can create work.
                if list.state.compare_exchange(s, s | DONE, Ordering::SeqCst, Ordering::SeqCst).is_ok() {
                    list.idle.notify_all();
                    return false;
                }
                continue;
            }
            if list.has_stealable_work() {
                list.state.fetch_sub(1, Ordering::SeqCst);
                return true;
            }
            // Spin, then park until something changed: work published (its
            // publisher wakes us), the job done (the task that ends it wakes
            // us), or everyone idle (we then end it ourselves).
            list.idle.wait_until(|| {
                let s = list.state.load(Ordering::SeqCst);
                s & DONE != 0 || s >> 32 == s & IDLE_MASK || list.has_stealable_work()
            });
        }
    }
}

impl<T> Drop for Local<'_, T> {
    fn drop(&mut self) {
        debug_assert!(
            thread::panicking() || fault(Fault::IdleBeforePublish) || (self.push.is_empty() && self.pop.is_empty()),
            "a task left the worklist holding work"
        );
    }
}

/// The segments of a [`GreyPool`]: crossbeam's lock-free `Injector` in
/// normal builds; under `--cfg loom` a loom mutex over a vector, so that
/// every push and steal is a point where loom can switch threads (it cannot
/// see inside crossbeam).
#[cfg(not(loom))]
struct Segments<T>(Injector<Vec<T>>);

#[cfg(not(loom))]
impl<T> Segments<T> {
    fn new() -> Self {
        Segments(Injector::new())
    }
    fn push(&self, seg: Vec<T>) {
        self.0.push(seg)
    }
    fn steal(&self) -> Option<Vec<T>> {
        loop {
            match self.0.steal() {
                Steal::Success(seg) => return Some(seg),
                Steal::Retry => continue,
                Steal::Empty => return None,
            }
        }
    }
    fn len(&self) -> usize {
        self.0.len()
    }
}

#[cfg(loom)]
struct Segments<T>(Mutex<Vec<Vec<T>>>);

#[cfg(loom)]
impl<T> Segments<T> {
    fn new() -> Self {
        Segments(Mutex::new(Vec::new()))
    }
    fn push(&self, seg: Vec<T>) {
        self.0.lock().push(seg)
    }
    fn steal(&self) -> Option<Vec<T>> {
        self.0.lock().pop()
    }
    fn len(&self) -> usize {
        self.0.lock().len()
    }
}

/// The shared pool of grey segments of a concurrent marking cycle, with the
/// number of background workers that may still hold unpublished work.
///
/// The mutator's thread asks [`GreyPool::is_done`] at its safepoints: no
/// holder left, *then* no segment left. It is sound because a worker publishes
/// what it still holds before it stops counting ([`GreyPool::retire`]), so
/// whoever sees the count at zero also sees that work in the pool.
pub struct GreyPool<T> {
    segments: Segments<T>,
    holders: AtomicUsize,
}

impl<T> Default for GreyPool<T> {
    fn default() -> Self {
        GreyPool { segments: Segments::new(), holders: AtomicUsize::new(0) }
    }
}

impl<T> GreyPool<T> {
    /// An empty pool with no holder.
    pub fn new() -> GreyPool<T> {
        Self::default()
    }

    /// Publishes a segment.
    pub fn push(&self, seg: Vec<T>) {
        if !seg.is_empty() {
            self.segments.push(seg);
        }
    }

    /// Takes a segment.
    pub fn steal(&self) -> Option<Vec<T>> {
        self.segments.steal()
    }

    /// Takes every entry.
    pub fn drain(&self) -> Vec<T> {
        let mut all = Vec::new();
        while let Some(seg) = self.steal() {
            all.extend(seg);
        }
        all
    }

    /// Segments waiting.
    pub fn len(&self) -> usize {
        self.segments.len()
    }

    /// No segment waiting (holders may still have work).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Counts a worker about to be posted: until it retires it may hold work.
    pub fn add_holder(&self) {
        // SeqCst: ordered before the worker exists (its spawn follows).
        self.holders.fetch_add(1, Ordering::SeqCst);
    }

    /// Workers posted and not yet retired.
    pub fn holders(&self) -> usize {
        // SeqCst: see `is_done`.
        self.holders.load(Ordering::SeqCst)
    }

    /// A worker is finished: what it still holds is published first, then
    /// it stops counting.
    pub fn retire(&self, leftover: Vec<T>) {
        if fault(Fault::RetireBeforePublish) {
            // Broken twin: the count drops before the work is visible.
            self.holders.fetch_sub(1, Ordering::SeqCst);
            self.push(leftover);
            return;
        }
        self.push(leftover);
        // SeqCst: pairs with the load in `is_done`; the push above happens
        // before it.
        self.holders.fetch_sub(1, Ordering::SeqCst);
    }

    /// No grey entry left anywhere: no holder (checked first), and no
    /// segment.
    pub fn is_done(&self) -> bool {
        self.holders() == 0 && self.is_empty()
    }
}

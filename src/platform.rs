//! The process-wide GC worker pool shared by every isolate.
//!
//! One [`Platform`] owns a rayon thread pool and nothing of any heap.
//! Isolates post two kinds of work to it, after V8's task priorities:
//!
//! - **user-blocking jobs** (`Platform::run_job`): work a pause waits for
//!   (a scavenge, the finalization's marking, evacuation, pointer updating,
//!   finishing sweeping). The joining isolate thread does the job's work
//!   itself from the start (V8's `JobHandle::Join`); pool threads that are
//!   free join it as *helpers*, up to the job's concurrency. The job ends
//!   when its work is done, not when every requested helper has started: a
//!   helper that gets a thread after the joiner returned finds nothing to do
//!   and leaves at once. A pause therefore never waits for a pool thread.
//! - **background tasks** (`Platform::spawn_background`): concurrent
//!   marking, concurrent sweeping, unmapping. They run only on threads that
//!   no queued helper wants, and give way at a bounded granularity (a page,
//!   64 objects) when a helper is queued or, after a time slice of
//!   [`BACKGROUND_SLICE`], when another background task waits: they return
//!   `Step::Yield` and are queued again at the back.
//!
//! **Why a small scheduler over rayon.** rayon provides the threads, their
//! idle sleep and wake-up, and the spawn queue, but not priorities (its
//! queues are FIFO/LIFO) and not preemption (a running task holds its thread
//! until it returns). Two rayon pools (one per priority) would run more GC
//! threads than the platform was given, and background tasks could still not
//! be told to give way. So the platform keeps its own two queues, jobs
//! wanting helpers first, background tasks second, and posts one rayon
//! *pump* per queued item: a pump takes whatever is most urgent when it gets
//! a thread (a pump that finds the queues empty returns at once). A running
//! background task learns that a helper is waiting through one atomic
//! counter, read at its yield points.
//!
//! **A job's lifetime.** The job's task function lives on the joining
//! thread's stack, so a helper must never touch it once the joiner returned.
//! A job's shared state is reference-counted (`Job`): helpers hold the
//! `Arc`, never the stack data, until they are inside the job's
//! `WorkerGate`. The joiner, after its own share, takes the job out of the
//! queue and closes the gate: once `close` returns, no helper is inside and
//! none gets in (the gate's handshake, modelled in `loom-tests/`), and only
//! then does `run_job` return (also when the joiner's share panics).
//!
//! **Fair share.** Jobs are served in the order they were posted, each
//! getting at most its concurrency less one (the joiner) helpers; background
//! tasks of all isolates share one FIFO queue and rotate every time slice,
//! so with more isolates than threads each isolate's background work
//! progresses.

use crate::error::ConfigError;
use crate::gate::WorkerGate;
use crate::sync::{thread, Arc, AtomicUsize, Mutex, Ordering};
use crate::tracer::{Phase, SpanRecorder};
use std::any::Any;
use std::collections::VecDeque;
use std::panic::{self, AssertUnwindSafe};
use std::time::{Duration, Instant};

/// How long a background task may keep a thread while another background
/// task waits for one (the isolates' fair share).
pub const BACKGROUND_SLICE: Duration = Duration::from_millis(2);

/// What a background task says when it returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// Finished: the task is dropped.
    Done,
    /// Gave way (its work is not finished): queue it again, at the back.
    Yield,
}

/// A running background task's view of the pool: whether to give way.
pub(crate) struct Background<'s> {
    sched: &'s Scheduler,
    started: Instant,
}

impl Background<'_> {
    /// Should the task give way now (return [`Step::Yield`] after putting
    /// its state where it resumes from)? True while a user-blocking job wants
    /// a helper, and once the task has run for [`BACKGROUND_SLICE`] while
    /// another background task waits.
    #[inline]
    pub(crate) fn should_yield(&self) -> bool {
        // Relaxed: hints; a stale value delays the yield to the next check.
        self.sched.wanted.load(Ordering::Relaxed) > 0
            || (self.sched.waiting_background.load(Ordering::Relaxed) > 0 && self.started.elapsed() >= BACKGROUND_SLICE)
    }
}

type BackgroundTask = Box<dyn FnMut(&Background<'_>) -> Step + Send>;

/// A job's task function with its lifetime erased: `&'a (dyn Fn(usize) +
/// Sync + 'a)` as a raw pointer. Dereferenced only inside the job's gate.
#[derive(Clone, Copy)]
struct TaskPtr(*const (dyn Fn(usize) + Sync + 'static));

// SAFETY: the pointee is `Sync` (shared calls from several threads are what
// it is for), and helpers dereference it only while the job's gate guarantees
// it is alive (see `Job::help`).
unsafe impl Send for TaskPtr {}
// SAFETY: as above.
unsafe impl Sync for TaskPtr {}

/// The state of one user-blocking job shared with its helpers (reference
/// counted: a helper may hold it after the joiner returned).
struct Job {
    /// Helpers enter it before they touch `task`; the joiner closes it for
    /// good before it returns.
    gate: WorkerGate,
    task: TaskPtr,
    /// The next helper's task id (the joiner is 0).
    next_id: AtomicUsize,
    tasks: usize,
    /// A helper's panic, re-raised on the joining thread.
    panic: Mutex<Option<Box<dyn Any + Send>>>,
}

impl Job {
    /// A helper's visit: runs one task id if the job is still on.
    fn help(&self) {
        let Some(_inside) = self.gate.enter() else { return };
        // Relaxed: only hands out distinct ids; the task's data reached
        // this thread through the queue's lock.
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        if id >= self.tasks {
            return;
        }
        // The joiner does not return from (or unwind out of) `run_job`, where
        // the task function lives, before `gate.close()` has returned, which
        // waits for every helper inside the gate; we are inside it until
        // `_inside` drops, after the call.
        // SAFETY: so the task function outlives this borrow.
        let task = unsafe { &*self.task.0 };
        if let Err(p) = panic::catch_unwind(AssertUnwindSafe(|| task(id))) {
            self.panic.lock().get_or_insert(p);
        }
    }
}

/// What a pump takes from the queues.
enum Work {
    Help(Arc<Job>),
    Background(BackgroundTask),
}

#[derive(Default)]
struct Queues {
    /// Jobs whose joiner is running, with the helpers each still wants:
    /// served first, in posting order.
    jobs: VecDeque<(Arc<Job>, usize)>,
    /// Background tasks of every isolate, in posting order.
    background: VecDeque<BackgroundTask>,
}

/// The platform's two queues in front of rayon.
struct Scheduler {
    queues: Mutex<Queues>,
    /// Helpers queued jobs still want: background tasks give way while it
    /// is not zero.
    wanted: AtomicUsize,
    /// Background tasks queued (not running).
    waiting_background: AtomicUsize,
    /// Pumps posted to rayon and not finished (tests wait for quiescence).
    pumps: AtomicUsize,
}

impl Scheduler {
    fn new() -> Scheduler {
        Scheduler {
            queues: Mutex::new(Queues::default()),
            wanted: AtomicUsize::new(0),
            waiting_background: AtomicUsize::new(0),
            pumps: AtomicUsize::new(0),
        }
    }

    /// Takes the most urgent item: a helper for the oldest job that wants
    /// one, else the oldest background task.
    fn take(&self) -> Option<Work> {
        let mut q = self.queues.lock();
        if let Some((job, want)) = q.jobs.front_mut() {
            let job = job.clone();
            *want -= 1;
            if *want == 0 {
                q.jobs.pop_front();
            }
            // Relaxed: the counters are hints (see `Background::should_yield`);
            // the queues themselves are under the lock.
            self.wanted.fetch_sub(1, Ordering::Relaxed);
            return Some(Work::Help(job));
        }
        let task = q.background.pop_front()?;
        // Relaxed: as above.
        self.waiting_background.fetch_sub(1, Ordering::Relaxed);
        Some(Work::Background(task))
    }

    /// Runs on a pool thread: one item, if any is left.
    fn pump(self: &Arc<Scheduler>) {
        match self.take() {
            Some(Work::Help(job)) => job.help(),
            Some(Work::Background(mut task)) => {
                let step = task(&Background { sched: self, started: Instant::now() });
                if step == Step::Yield {
                    self.push_background(task);
                }
            }
            None => {}
        }
        // Relaxed: a count for tests' quiescence checks only.
        self.pumps.fetch_sub(1, Ordering::Relaxed);
    }

    fn push_background(self: &Arc<Scheduler>, task: BackgroundTask) {
        self.queues.lock().background.push_back(task);
        // Relaxed: see `take`.
        self.waiting_background.fetch_add(1, Ordering::Relaxed);
        self.post_pumps(1);
    }

    /// Posts `n` pumps to the pool (the current thread's pool when called
    /// from a pump; rayon's global spawn is never used).
    fn post_pumps(self: &Arc<Scheduler>, n: usize) {
        debug_assert!(rayon::current_thread_index().is_some(), "only pumps re-post, from the pool's threads");
        // Relaxed: see `pumps`.
        self.pumps.fetch_add(n, Ordering::Relaxed);
        for _ in 0..n {
            let sched = self.clone();
            rayon::spawn(move || sched.pump());
        }
    }
}

struct Inner {
    pool: rayon::ThreadPool,
    workers: usize,
    sched: Arc<Scheduler>,
}

/// The shared GC worker pool. Cheap to clone; share one per process.
#[derive(Clone)]
pub struct Platform {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Platform").field("workers", &self.inner.workers).finish()
    }
}

impl Platform {
    /// A pool with `workers` GC threads. Zero is allowed: every GC job then
    /// runs on the isolate's own thread.
    pub fn new(workers: usize) -> Result<Platform, ConfigError> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(workers.max(1))
            .thread_name(|i| format!("isogc-worker-{i}"))
            .build()
            .map_err(|e| ConfigError::Platform(e.to_string()))?;
        Ok(Platform { inner: Arc::new(Inner { pool, workers, sched: Arc::new(Scheduler::new()) }) })
    }

    /// A pool with one worker per available core, less one for the main
    /// thread (V8's default), at least one.
    pub fn with_default_workers() -> Result<Platform, ConfigError> {
        let cores = thread::available_parallelism().map_or(2, |n| n.get());
        Platform::new(cores.saturating_sub(1).max(1))
    }

    /// Number of GC worker threads.
    pub fn workers(&self) -> usize {
        self.inner.workers
    }

    /// Runs `f` once on a worker as a background task that never gives way
    /// (a short one: unmapping). `f` must not borrow anything it does not
    /// own.
    pub(crate) fn spawn(&self, f: impl FnOnce() + Send + 'static) {
        let mut f = Some(f);
        self.spawn_background(move |_| {
            if let Some(f) = f.take() {
                f();
            }
            Step::Done
        });
    }

    /// Runs `f` on a worker as a background task (concurrent marking and
    /// sweeping), behind every user-blocking job. `f` should check
    /// [`Background::should_yield`] at its natural steps and, when told to,
    /// leave its state where it resumes from and return [`Step::Yield`]: it
    /// is then called again later, on some worker.
    pub(crate) fn spawn_background(&self, f: impl FnMut(&Background<'_>) -> Step + Send + 'static) {
        let sched = &self.inner.sched;
        sched.queues.lock().background.push_back(Box::new(f));
        // Relaxed: see `Scheduler::take`.
        sched.waiting_background.fetch_add(1, Ordering::Relaxed);
        self.post_pumps(1);
    }

    fn post_pumps(&self, n: usize) {
        let sched = &self.inner.sched;
        // Relaxed: see `Scheduler::pumps`.
        sched.pumps.fetch_add(n, Ordering::Relaxed);
        for _ in 0..n {
            let sched = sched.clone();
            self.inner.pool.spawn(move || sched.pump());
        }
    }

    /// Most tasks one job can run at once: the workers plus the caller.
    pub(crate) fn max_tasks(&self) -> usize {
        self.inner.workers + 1
    }

    /// Runs a user-blocking job of up to `n` tasks (at most
    /// [`Platform::max_tasks`]): `task(0)` on the calling thread at once, and
    /// `task(id)` for ids from 1 on pool threads that are free before the
    /// job's work is done, each id at most once, at most `n` at a time.
    /// Returns when `task(0)` has returned and no helper is running: the
    /// task function must therefore let task 0 finish the whole job alone (a
    /// shared cursor or worklist that task 0 drains), and no task may wait
    /// for a task that has not started. A helper's panic is re-raised here.
    ///
    /// Each task's run is recorded in `spans` as `phase`.
    pub(crate) fn run_job(&self, n: usize, phase: Phase, spans: &SpanRecorder, task: &(dyn Fn(usize) + Sync)) {
        assert!((1..=self.max_tasks()).contains(&n), "a job of {n} tasks on a pool of {} workers", self.inner.workers);
        let timed = move |id: usize| {
            let t = Instant::now();
            task(id);
            spans.record(phase, Some(id), t);
        };
        if n == 1 {
            timed(0);
            return;
        }
        let timed: &(dyn Fn(usize) + Sync + '_) = &timed;
        // SAFETY: only the lifetime is erased (same fat-pointer layout); the
        // pointer is dereferenced only inside the job's gate, which `Closing`
        // closes before this frame (and `timed`) goes away.
        let erased: *const (dyn Fn(usize) + Sync + 'static) = unsafe { std::mem::transmute(timed as *const _) };
        let job = Arc::new(Job {
            gate: WorkerGate::new(),
            task: TaskPtr(erased),
            next_id: AtomicUsize::new(1),
            tasks: n,
            panic: Mutex::new(None),
        });
        let sched = &self.inner.sched;
        sched.queues.lock().jobs.push_back((job.clone(), n - 1));
        // Relaxed: see `Scheduler::take`.
        sched.wanted.fetch_add(n - 1, Ordering::Relaxed);
        self.post_pumps(n - 1);

        /// Ends the job on every way out of `run_job`, unwinding included.
        struct Closing<'a> {
            sched: &'a Scheduler,
            job: &'a Arc<Job>,
        }
        impl Drop for Closing<'_> {
            fn drop(&mut self) {
                // Helpers not taken yet are not wanted any more.
                let mut q = self.sched.queues.lock();
                if let Some(i) = q.jobs.iter().position(|(j, _)| Arc::ptr_eq(j, self.job)) {
                    let (_, want) = q.jobs.remove(i).expect("found above");
                    // Relaxed: see `Scheduler::take`.
                    self.sched.wanted.fetch_sub(want, Ordering::Relaxed);
                }
                drop(q);
                // Waits for the helpers inside; keeps late ones out.
                self.job.gate.close();
            }
        }
        let closing = Closing { sched, job: &job };
        timed(0);
        drop(closing);
        let panicked = job.panic.lock().take();
        if let Some(p) = panicked {
            panic::resume_unwind(p);
        }
    }

    /// Waits until every pump posted so far has run (tests: late helpers
    /// have come and gone).
    #[cfg(test)]
    fn quiesce(&self) {
        // Relaxed: a test's poll; the pumps' effects are checked through
        // the tests' own synchronisation.
        while self.inner.sched.pumps.load(Ordering::Relaxed) != 0 {
            thread::sleep(Duration::from_millis(1));
        }
    }
}

#[cfg(test)]
mod tests;

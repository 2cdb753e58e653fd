//! The process-wide GC worker pool shared by every isolate.
//!
//! One [`Platform`] owns a rayon thread pool and nothing of any heap.
//! Isolates post GC *jobs* to it: a job runs one task function on up to
//! `max_concurrency` threads, and the posting (isolate's) thread runs a share
//! itself while it waits, like V8's `JobHandle::Join`. A job of one isolate
//! occupies only the workers it gets; it never stops another isolate's thread.

use crate::error::ConfigError;
use crate::sync::{thread, Arc};
use crate::tracer::{Phase, SpanRecorder};
use std::time::Instant;

struct Inner {
    pool: rayon::ThreadPool,
    workers: usize,
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
        Ok(Platform { inner: Arc::new(Inner { pool, workers }) })
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

    /// Runs `f` on a worker as a detached background task (concurrent
    /// marking). `f` must not borrow anything it does not own.
    pub(crate) fn spawn(&self, f: impl FnOnce() + Send + 'static) {
        self.inner.pool.spawn(f);
    }

    /// Most tasks one job can run at once: the workers plus the caller.
    pub(crate) fn max_tasks(&self) -> usize {
        self.inner.workers + 1
    }

    /// Runs `task(id)` for every id in `0..n`, each exactly once, `n` at most
    /// [`Platform::max_tasks`]; id 0 runs on the calling thread, which thus
    /// helps while it waits. Returns when every task has finished. Every task
    /// is guaranteed to start (jobs whose tasks wait for each other, like the
    /// worklists' termination, rely on it).
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
        self.inner.pool.in_place_scope(|s| {
            for id in 1..n {
                s.spawn(move |_| timed(id));
            }
            timed(0);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::{AtomicUsize, Ordering};

    #[test]
    fn a_job_runs_every_task_once_and_joins() {
        let p = Platform::new(3).unwrap();
        let seen = AtomicUsize::new(0);
        let spans = SpanRecorder::new(Instant::now());
        p.run_job(4, Phase::Sweep, &spans, &|id| {
            seen.fetch_or(1 << id, Ordering::SeqCst);
        });
        assert_eq!(seen.load(Ordering::SeqCst), 0b1111);
        let spans = spans.take();
        assert_eq!(spans.len(), 4, "one span per task");
        assert!(spans.iter().any(|s| s.task == Some(0) && s.thread == 0), "task 0 ran on the caller");
    }

    #[test]
    fn zero_workers_runs_on_the_caller() {
        let p = Platform::new(0).unwrap();
        let caller = thread::current().id();
        let spans = SpanRecorder::new(Instant::now());
        p.run_job(1, Phase::Sweep, &spans, &|_| assert_eq!(thread::current().id(), caller));
    }
}

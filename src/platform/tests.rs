//! The job API's behaviour: the joiner does the work, late helpers do
//! nothing, priorities, fair share, the concurrency cap. Every test asserts
//! an order or a count, never a time.

use super::*;
use crate::sync::{AtomicBool, WaitQueue};
use crate::{GcKind, GcRequest, HandleScope, HeapConfig, Isolate};

/// A one-shot latch: `wait` parks until `release`.
#[derive(Default)]
struct Latch {
    open: AtomicBool,
    q: WaitQueue,
}

impl Latch {
    fn release(&self) {
        self.open.store(true, Ordering::SeqCst);
        self.q.notify_all();
    }
    fn wait(&self) {
        self.q.wait_until(|| self.open.load(Ordering::SeqCst));
    }
}

/// Occupies a worker with a background task that runs until `release` (it
/// never gives way); returns once it runs.
fn occupy_a_worker(p: &Platform) -> Arc<Latch> {
    let (started, release) = (Arc::new(Latch::default()), Arc::new(Latch::default()));
    let (s, r) = (started.clone(), release.clone());
    p.spawn(move || {
        s.release();
        r.wait();
    });
    started.wait();
    release
}

/// Waits until the platform's queues hold a job that wants `n` helpers.
fn wait_for_wanted_helpers(p: &Platform, n: usize) {
    while p.inner.sched.wanted.load(Ordering::SeqCst) != n {
        thread::yield_now();
    }
}

#[test]
fn task_0_runs_on_the_caller_and_each_id_at_most_once() {
    let p = Platform::new(3).unwrap();
    let seen = AtomicUsize::new(0);
    let twice = AtomicBool::new(false);
    let spans = SpanRecorder::new(Instant::now());
    let caller = thread::current().id();
    p.run_job(4, Phase::Sweep, &spans, &|id| {
        if id == 0 {
            assert_eq!(thread::current().id(), caller, "task 0 runs on the joining thread");
        }
        if seen.fetch_or(1 << id, Ordering::SeqCst) & (1 << id) != 0 {
            twice.store(true, Ordering::SeqCst);
        }
    });
    let seen = seen.load(Ordering::SeqCst);
    assert!(!twice.load(Ordering::SeqCst), "an id ran twice");
    assert_eq!(seen & 1, 1, "task 0 always runs");
    assert_eq!(seen & !0b1111, 0, "ids stay below the job's task count");
    let spans = spans.take();
    assert_eq!(spans.len(), seen.count_ones() as usize, "one span per task that ran");
    assert!(spans.iter().any(|s| s.task == Some(0) && s.thread == 0), "task 0 ran on the caller");
}

#[test]
fn zero_workers_runs_on_the_caller() {
    let p = Platform::new(0).unwrap();
    let caller = thread::current().id();
    let spans = SpanRecorder::new(Instant::now());
    p.run_job(1, Phase::Sweep, &spans, &|_| assert_eq!(thread::current().id(), caller));
}

#[test]
fn the_joiner_finishes_a_job_alone_while_the_only_worker_is_busy_and_the_late_helper_does_nothing() {
    let p = Platform::new(1).unwrap();
    let release = occupy_a_worker(&p);
    let items: Vec<AtomicUsize> = (0..1000).map(|_| AtomicUsize::new(0)).collect();
    let cursor = AtomicUsize::new(0);
    let calls = AtomicUsize::new(0);
    let ids = AtomicUsize::new(0);
    // Outlives the job: a helper that (wrongly) ran it late would be seen.
    let task = |id: usize| {
        calls.fetch_add(1, Ordering::SeqCst);
        ids.fetch_or(1 << id, Ordering::SeqCst);
        // Relaxed: hands out indices and counts visits; the join orders them
        // before the checks below.
        while let Some(item) = items.get(cursor.fetch_add(1, Ordering::Relaxed)) {
            item.fetch_add(1, Ordering::Relaxed);
        }
    };
    let spans = SpanRecorder::new(Instant::now());
    // Without the joiner doing the work alone this would never return: the
    // only worker waits for `release`, which comes after the join.
    p.run_job(2, Phase::Scavenge, &spans, &task);
    assert_eq!(ids.load(Ordering::SeqCst), 0b1, "only the joiner ran");
    // Relaxed: after the join (see above).
    assert!(items.iter().all(|i| i.load(Ordering::Relaxed) == 1), "the joiner did all the work");
    assert_eq!(p.inner.sched.wanted.load(Ordering::SeqCst), 0, "the join withdrew the helper it no longer wants");
    release.release();
    p.quiesce();
    assert_eq!(calls.load(Ordering::SeqCst), 1, "the late helper did not run the task");
}

#[test]
fn queued_helpers_run_before_queued_background_tasks() {
    let p = Platform::new(1).unwrap();
    let release = occupy_a_worker(&p);
    let order = Arc::new(Mutex::new(Vec::new()));
    let o = order.clone();
    p.spawn(move || o.lock().push("background"));
    let helper_ran = Latch::default();
    thread::scope(|s| {
        s.spawn(|| {
            let spans = SpanRecorder::new(Instant::now());
            p.run_job(2, Phase::Scavenge, &spans, &|id| {
                if id == 0 {
                    // Keep the job on until its helper came.
                    helper_ran.wait();
                } else {
                    order.lock().push("helper");
                    helper_ran.release();
                }
            });
        });
        wait_for_wanted_helpers(&p, 1);
        release.release();
    });
    p.quiesce();
    assert_eq!(*order.lock(), ["helper", "background"], "the pause's helper went first");
}

#[test]
fn a_background_task_gives_way_to_a_queued_helper_and_resumes() {
    let p = Platform::new(1).unwrap();
    let order = Arc::new(Mutex::new(Vec::new()));
    let started = Arc::new(Latch::default());
    let (o, st) = (order.clone(), started.clone());
    let mut runs = 0;
    p.spawn_background(move |bg| {
        runs += 1;
        if runs > 1 {
            o.lock().push("background resumes");
            return Step::Done;
        }
        st.release();
        while !bg.should_yield() {
            thread::yield_now();
        }
        o.lock().push("background yields");
        Step::Yield
    });
    started.wait();
    let helper_ran = Latch::default();
    let spans = SpanRecorder::new(Instant::now());
    p.run_job(2, Phase::Scavenge, &spans, &|id| {
        if id == 0 {
            helper_ran.wait();
        } else {
            order.lock().push("helper");
            helper_ran.release();
        }
    });
    p.quiesce();
    assert_eq!(*order.lock(), ["background yields", "helper", "background resumes"]);
}

#[test]
fn background_tasks_of_several_isolates_share_one_worker() {
    // Each task finishes only once every task has had three turns: with
    // run-to-completion scheduling the first would spin forever.
    const TASKS: usize = 3;
    let p = Platform::new(1).unwrap();
    let turns: Arc<Vec<AtomicUsize>> = Arc::new((0..TASKS).map(|_| AtomicUsize::new(0)).collect());
    let done = Arc::new(Latch::default());
    let finished = Arc::new(AtomicUsize::new(0));
    for i in 0..TASKS {
        let (turns, done, finished) = (turns.clone(), done.clone(), finished.clone());
        p.spawn_background(move |bg| {
            turns[i].fetch_add(1, Ordering::SeqCst);
            loop {
                if turns.iter().all(|t| t.load(Ordering::SeqCst) >= 3) {
                    if finished.fetch_add(1, Ordering::SeqCst) + 1 == TASKS {
                        done.release();
                    }
                    return Step::Done;
                }
                if bg.should_yield() {
                    return Step::Yield;
                }
                thread::yield_now();
            }
        });
    }
    done.wait();
    p.quiesce();
    assert!(turns.iter().all(|t| t.load(Ordering::SeqCst) >= 3), "every task got its turns");
}

#[test]
fn a_job_never_runs_more_tasks_at_once_than_it_asked_for() {
    let p = Platform::new(3).unwrap();
    let (running, most, ids) = (AtomicUsize::new(0), AtomicUsize::new(0), AtomicUsize::new(0));
    let spans = SpanRecorder::new(Instant::now());
    for _ in 0..50 {
        p.run_job(2, Phase::Mark, &spans, &|id| {
            ids.fetch_or(1 << id, Ordering::SeqCst);
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            most.fetch_max(now, Ordering::SeqCst);
            for _ in 0..100 {
                thread::yield_now();
            }
            running.fetch_sub(1, Ordering::SeqCst);
        });
    }
    p.quiesce();
    assert!(most.load(Ordering::SeqCst) <= 2, "at most the job's two tasks ran at once");
    assert_eq!(ids.load(Ordering::SeqCst) & !0b11, 0, "no id past the job's tasks");
}

#[test]
fn a_helpers_panic_reaches_the_joiner() {
    let p = Platform::new(1).unwrap();
    let helper_ran = Latch::default();
    let spans = SpanRecorder::new(Instant::now());
    let r = panic::catch_unwind(AssertUnwindSafe(|| {
        p.run_job(2, Phase::Mark, &spans, &|id| {
            if id == 0 {
                helper_ran.wait();
            } else {
                helper_ran.release();
                panic!("helper failed");
            }
        })
    }));
    let msg = r.expect_err("the helper's panic is re-raised").downcast::<&str>().map(|s| *s);
    assert_eq!(msg.ok(), Some("helper failed"));
}

#[test]
fn a_scavenge_completes_while_another_isolates_background_task_holds_the_only_worker() {
    let p = Platform::new(1).unwrap();
    // Two scavenger tasks (4 MiB semi-space, 1 MiB per task, one worker).
    let config = HeapConfig {
        min_semi_space_size: 4 << 20,
        max_semi_space_size: 4 << 20,
        verify_heap: true,
        ..HeapConfig::default()
    };
    let mut isolate = Isolate::new(&p, config).unwrap();
    let release = occupy_a_worker(&p);
    {
        let mut scope = HandleScope::new(&mut isolate);
        let keep = scope.new_fixed_array(100).unwrap();
        for i in 0..100 {
            let a = scope.new_fixed_array(10).unwrap();
            scope.set(keep, i, a);
        }
        // Would wait for the held worker forever if the pause waited for
        // its helper.
        scope.collect_garbage(GcRequest::Minor);
        scope.collect_garbage(GcRequest::Minor);
        let last = scope.get(keep, 99);
        assert!(!scope.is_undefined(last), "the scavenges kept the array's elements");
    }
    let minors: Vec<_> = isolate.gc_events().into_iter().filter(|e| e.kind == GcKind::Minor).collect();
    assert_eq!(minors.len(), 2);
    assert!(minors.iter().all(|e| e.scavenge_tasks == 2), "each scavenge asked for a helper");
    release.release();
    p.quiesce();
}

//! The parallel scavenger under load: several tasks per scavenge, the heap
//! verified after every GC, contents checked against what was built.

mod common;

use common::*;
use isogc::*;

/// The tests' configuration with semi-spaces that start at `semi` bytes and
/// may grow to four times that, and at most `workers` GC workers.
fn config(semi: usize, workers: usize) -> HeapConfig {
    test_config().with_semi_spaces(semi, semi * 4).with_gc_workers(workers)
}

/// Builds a complete binary tree of `depth` whose leaves hold their index.
fn tree<'s>(s: &mut HandleScope<'s>, map: Local<'_, Map>, depth: u32, next: &mut i64) -> Local<'s, Value> {
    if depth == 0 {
        let leaf = s.new_number(*next as f64).unwrap();
        *next += 1;
        return leaf.as_value();
    }
    let node = s.new_object(map).unwrap();
    let l = tree(s, map, depth - 1, next);
    s.set(node, 0, l);
    let r = tree(s, map, depth - 1, next);
    s.set(node, 1, r);
    node.as_value()
}

fn check(s: &mut HandleScope<'_>, v: Local<'_, Value>, depth: u32, next: &mut i64) {
    if depth == 0 {
        assert_eq!(s.to_number(v), Some(*next as f64));
        *next += 1;
        return;
    }
    let node = s.cast::<Object, _>(v).expect("an inner node");
    let l = s.get(node, 0);
    check(s, l, depth - 1, next);
    let r = s.get(node, 1);
    check(s, r, depth - 1, next);
}

fn run_trees(isolate: &mut Isolate, rounds: usize) {
    let mut scope = HandleScope::new(isolate);
    let map = scope
        .new_map(&ObjectLayout { name: "Node".into(), tagged_fields: 2, raw_bytes: 0, ..Default::default() })
        .unwrap();
    let keep = scope.new_fixed_array(8).unwrap();
    for round in 0..rounds {
        let mut s = HandleScope::new(&mut scope);
        let mut n = 0;
        let t = tree(&mut s, map, 12, &mut n);
        s.set(keep, round % 8, t);
        // Garbage in between.
        for _ in 0..200 {
            s.new_fixed_array(16).unwrap();
        }
    }
    for i in 0..8.min(rounds) {
        let mut s = HandleScope::new(&mut scope);
        let t = s.get(keep, i);
        let mut n = 0;
        check(&mut s, t, 12, &mut n);
        assert_eq!(n, 1 << 12);
    }
}

#[test]
fn parallel_scavenges_keep_every_tree_intact() {
    let platform = Platform::new(3).unwrap();
    let mut isolate = Isolate::new(&platform, config(4 << 20, 3)).unwrap();
    run_trees(&mut isolate, 40);
    let events = isolate.gc_events();
    let parallel = events.iter().filter(|e| e.kind == GcKind::Minor && e.scavenge_tasks > 1).count();
    assert!(parallel > 0, "some scavenges ran with more than one task: {events:?}");
    assert!(events.iter().any(|e| e.promoted_bytes > 0), "objects were promoted");
}

#[test]
fn one_worker_and_many_workers_agree() {
    let platform = Platform::new(3).unwrap();
    for workers in [0, 1, 3] {
        let mut isolate = Isolate::new(&platform, config(4 << 20, workers)).unwrap();
        run_trees(&mut isolate, 24);
        isolate.collect_garbage(GcRequest::Major);
    }
}

#[test]
fn four_isolates_scavenge_concurrently_on_one_platform() {
    let platform = Platform::new(2).unwrap();
    on_threads(4, &platform, |platform, _| {
        let mut isolate = Isolate::new(platform, config(2 << 20, 2)).unwrap();
        run_trees(&mut isolate, 20);
        let (minor, _) = isolate.gc_counts();
        assert!(minor > 0);
    });
}

#[test]
fn semi_space_grows_under_high_survival() {
    let platform = Platform::new(1).unwrap();
    let mut isolate = Isolate::new(&platform, config(1 << 20, 1)).unwrap();
    run_trees(&mut isolate, 30);
    let max = isolate.gc_events().iter().map(|e| e.semi_space_size).max().unwrap();
    assert!(max > 1 << 20, "new space grew past its 1 MiB start (max {max})");
    assert!(max <= 4 << 20, "and stayed within max_semi_space_size (max {max})");
}

/// Six isolates whose scavenges each want three tasks share a pool of two
/// workers, so most spawned tasks queue behind other isolates' tasks. A task
/// must never wait for one that has not started (that would deadlock two jobs
/// holding the pool's threads); this is a liveness check with a generous
/// bound, not a timing assertion. A panic on an isolate's thread (a failed
/// verification, say) is reported as that panic, at once, not as a wait.
#[test]
fn isolates_oversubscribing_a_small_pool_all_finish() {
    let platform = Platform::new(2).unwrap();
    let (done, finished) = std::sync::mpsc::channel();
    for i in 0..6 {
        let (platform, done) = (platform.clone(), done.clone());
        std::thread::spawn(move || {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let mut isolate = Isolate::new(&platform, config(4 << 20, 2)).unwrap();
                run_trees(&mut isolate, 48);
                isolate.gc_events().iter().map(|e| e.scavenge_tasks).max().unwrap_or(0)
            }));
            done.send(r.map_err(|p| format!("isolate {i}'s thread panicked: {}", panic_message(p)))).unwrap();
        });
    }
    for _ in 0..6 {
        let tasks = finished
            .recv_timeout(std::time::Duration::from_secs(300))
            .expect("an isolate's scavenge never finished: GC jobs of isolates sharing a pool waited on each other");
        let tasks = tasks.unwrap_or_else(|why| panic!("{why}"));
        assert_eq!(tasks, 3, "each scavenge asked for three tasks");
    }
}

//! Isolates sharing one small `Platform` (issue #15): more isolates than
//! pool threads, each running concurrent marking and sweeping in the
//! background and parallel scavenges that ask for helpers the pool cannot
//! all give. Every isolate finishes its GCs, with the heap verifier on after
//! each: a pause never waits for a pool thread, and no isolate's background
//! work starves. (The job-level behaviours, with a worker held on a latch,
//! are unit tests of `src/platform.rs`: the job API is crate-private.)

mod common;

use common::{on_threads, test_config, ConfigExt, MB};
use isogc::{GcKind, GcRequest, HandleScope, Isolate, Platform, Smi};

/// An isolate that keeps a growing old generation and a churn of young
/// garbage, starts `cycles` concurrent marking cycles and lets each finish
/// on the allocation schedule (its background markers and sweepers on the
/// shared pool), then checks its data.
fn cycles_of_background_gc(platform: &Platform, tag: i64, cycles: u64) {
    // 2 MiB semi-spaces: each scavenge asks for a helper.
    let config = test_config().with_semi_spaces(2 * MB, 2 * MB).with_initial_old_space(2 * MB);
    let mut isolate = Isolate::new(platform, config).unwrap();
    let mut scope = HandleScope::new(&mut isolate);
    let keep = scope.new_fixed_array(512).unwrap();
    let mut i = 0usize;
    let majors = |s: &HandleScope<'_>| s.heap_stats().major_gcs;
    // At least a few semi-spaces' worth of allocation, so scavenges (which
    // ask for helpers) run beside the background cycles.
    while majors(&scope) < cycles || i < 50_000 {
        if i % 4096 == 0 {
            scope.collect_garbage(GcRequest::StartMarking);
        }
        let mut s = HandleScope::new(&mut scope);
        let a = s.new_fixed_array(30).unwrap();
        s.set(a, 0, Smi::new(tag * 1_000_000 + (i % 512) as i64).unwrap());
        s.set(keep, i % 512, a);
        i += 1;
    }
    for j in 0..512.min(i) {
        let mut s = HandleScope::new(&mut scope);
        let a = s.get(keep, j);
        let a = s.cast::<isogc::FixedArray, _>(a).unwrap();
        assert_eq!(s.get_smi(a, 0), Some(tag * 1_000_000 + j as i64), "isolate {tag}: element {j}");
    }
    drop(scope);
    let events = isolate.gc_events();
    assert!(
        events.iter().any(|e| e.kind == GcKind::Minor && e.scavenge_tasks == 2),
        "isolate {tag}: helpers were asked: {:?}",
        events
            .iter()
            .filter(|e| e.kind == GcKind::Minor)
            .map(|e| (e.scavenge_tasks, e.promoted_pages, e.semi_space_size))
            .collect::<Vec<_>>()
    );
}

#[test]
fn four_isolates_on_one_worker_each_finish_their_background_gc_cycles() {
    let platform = Platform::new(1).unwrap();
    on_threads(4, &platform, |p, t| cycles_of_background_gc(p, t as i64, 2));
}

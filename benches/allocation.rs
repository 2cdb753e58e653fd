//! The per-operation cost of the runtime-facing API against a `Box` / `Rc`
//! baseline in the same run, and the cost of a scavenge when nothing
//! survives.
//!
//! Every benchmark does [`BATCH`] operations per iteration, so criterion's
//! time divided by 1,000 is the cost of one (its throughput line says it
//! per element). Groups:
//!
//! - `allocate_4_field_object`: a 40-byte object (isogc: map word + 4
//!   tagged fields, made through a handle; includes the amortised cost of
//!   the scavenges it triggers, nothing surviving them) against
//!   `Box::new` / `Rc::new` of 40 bytes (including the matching `free`);
//! - `field_read`: `get` (makes a handle) and `get_smi` (no handle) against
//!   a field load through a `Box` and an `Rc` clone out of a `RefCell`;
//! - `field_write`: `set` into a young object and into an old one (a young
//!   value: the barrier's slow path records the slot) against a store
//!   through a `Box` and an `Rc` replaced in a `RefCell`;
//! - `handle`: a new `Local` (`HandleScope::local`) against an `Rc` clone
//!   (and its drop);
//! - `scope`: a `HandleScope` opened and closed against a push and truncate
//!   of a `Vec` (a hand-rolled shadow stack).
//!
//! Run: `cargo bench --bench allocation`.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use isogc::*;
use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

const BATCH: usize = 1000;

fn isolate() -> (Platform, Isolate) {
    let platform = Platform::new(1).unwrap();
    let isolate = Isolate::new(&platform, HeapConfig::default()).unwrap();
    (platform, isolate)
}

/// A 4-field object: map word + 4 tagged fields = 40 bytes.
fn small_object(c: &mut Criterion) {
    let mut g = c.benchmark_group("allocate_4_field_object");
    g.throughput(Throughput::Elements(BATCH as u64));
    let (_p, mut iso) = isolate();
    let mut scope = HandleScope::new(&mut iso);
    let map = scope
        .new_map(&ObjectLayout { name: "Small".into(), tagged_fields: 4, raw_bytes: 0, ..Default::default() })
        .unwrap();
    g.bench_function("isogc_new_object", |b| {
        b.iter(|| {
            let mut s = HandleScope::new(&mut scope);
            for _ in 0..BATCH {
                black_box(s.new_object(map).unwrap());
            }
        })
    });
    g.bench_function("isogc_new_object_scope_each", |b| {
        b.iter(|| {
            for _ in 0..BATCH {
                let mut s = HandleScope::new(&mut scope);
                black_box(s.new_object(map).unwrap());
            }
        })
    });
    drop(scope);
    g.bench_function("box_new", |b| {
        b.iter(|| {
            let mut v = Vec::with_capacity(BATCH);
            for _ in 0..BATCH {
                v.push(black_box(Box::new([0usize; 5])));
            }
            v
        })
    });
    g.bench_function("rc_new", |b| {
        b.iter(|| {
            let mut v = Vec::with_capacity(BATCH);
            for _ in 0..BATCH {
                v.push(black_box(Rc::new([0usize; 3])));
            }
            v
        })
    });
    g.finish();
}

/// A baseline node: four fields holding shared references.
type RcNode = Rc<RefCell<[Option<Rc<u64>>; 4]>>;

fn rc_node() -> RcNode {
    Rc::new(RefCell::new([Some(Rc::new(1)), Some(Rc::new(2)), None, None]))
}

/// An isolate with a 4-field map, a young object whose fields hold Smis,
/// and an old one (promoted by two scavenges).
fn with_objects(f: impl FnOnce(&mut HandleScope<'_>, Local<'_, Object>, Local<'_, Object>)) {
    let (_p, mut iso) = isolate();
    let mut scope = HandleScope::new(&mut iso);
    let map = scope
        .new_map(&ObjectLayout { name: "Small".into(), tagged_fields: 4, raw_bytes: 0, ..Default::default() })
        .unwrap();
    let old = scope.new_object(map).unwrap();
    scope.collect_garbage(GcRequest::Minor);
    scope.collect_garbage(GcRequest::Minor);
    let young = scope.new_object(map).unwrap();
    for i in 0..4 {
        scope.set(young, i, Smi::from(i as i32));
    }
    f(&mut scope, young, old)
}

/// Field reads: isogc's `get` and `get_smi` against `Box` and `Rc`.
fn field_read(c: &mut Criterion) {
    let mut g = c.benchmark_group("field_read");
    g.throughput(Throughput::Elements(BATCH as u64));
    with_objects(|scope, young, _| {
        g.bench_function("isogc_get", |b| {
            b.iter(|| {
                let mut s = HandleScope::new(scope);
                for i in 0..BATCH {
                    black_box(s.get(black_box(young), i & 3));
                }
            })
        });
        g.bench_function("isogc_get_smi", |b| {
            b.iter(|| {
                for i in 0..BATCH {
                    black_box(scope.get_smi(black_box(young), i & 3));
                }
            })
        });
    });
    let boxed = Box::new([1usize, 2, 3, 4]);
    g.bench_function("box_read", |b| {
        b.iter(|| {
            for i in 0..BATCH {
                black_box(black_box(&boxed)[i & 3]);
            }
        })
    });
    let node = rc_node();
    g.bench_function("rc_read_clone", |b| {
        b.iter(|| {
            for i in 0..BATCH {
                black_box(black_box(&node).borrow()[i & 1].clone());
            }
        })
    });
    g.finish();
}

/// Field writes: isogc's `set` into a young and an old object against `Box`
/// and `Rc`.
fn field_write(c: &mut Criterion) {
    let mut g = c.benchmark_group("field_write");
    g.throughput(Throughput::Elements(BATCH as u64));
    with_objects(|scope, young, old| {
        let value = scope.new_number(1.5).unwrap();
        g.bench_function("isogc_set_young_target", |b| {
            b.iter(|| {
                for i in 0..BATCH {
                    scope.set(black_box(young), i & 3, black_box(value));
                }
            })
        });
        g.bench_function("isogc_set_old_target_young_value", |b| {
            b.iter(|| {
                for i in 0..BATCH {
                    scope.set(black_box(old), i & 3, black_box(value));
                }
            })
        });
        g.bench_function("isogc_set_smi", |b| {
            b.iter(|| {
                for i in 0..BATCH {
                    scope.set(black_box(young), i & 3, Smi::from(i as i32));
                }
            })
        });
    });
    let mut boxed = Box::new([0usize; 4]);
    g.bench_function("box_write", |b| {
        b.iter(|| {
            for i in 0..BATCH {
                black_box(&mut boxed)[i & 3] = i;
            }
        })
    });
    let node = rc_node();
    let value = Rc::new(7u64);
    g.bench_function("rc_write_replace", |b| {
        b.iter(|| {
            for i in 0..BATCH {
                black_box(&node).borrow_mut()[i & 3] = Some(value.clone());
            }
        })
    });
    g.finish();
}

/// Making a handle against cloning (and dropping) an `Rc`.
fn handle(c: &mut Criterion) {
    let mut g = c.benchmark_group("handle");
    g.throughput(Throughput::Elements(BATCH as u64));
    with_objects(|scope, young, _| {
        g.bench_function("isogc_local", |b| {
            b.iter(|| {
                let mut s = HandleScope::new(scope);
                for _ in 0..BATCH {
                    black_box(s.local(black_box(young)));
                }
            })
        });
    });
    let rc = Rc::new(1u64);
    g.bench_function("rc_clone_drop", |b| {
        b.iter(|| {
            for _ in 0..BATCH {
                black_box(black_box(&rc).clone());
            }
        })
    });
    g.finish();
}

/// A scope opened and closed against a shadow stack's push and truncate.
fn scope(c: &mut Criterion) {
    let mut g = c.benchmark_group("scope");
    g.throughput(Throughput::Elements(BATCH as u64));
    with_objects(|scope, young, _| {
        g.bench_function("isogc_open_close", |b| {
            b.iter(|| {
                for _ in 0..BATCH {
                    black_box(HandleScope::new(scope).handle_count());
                }
            })
        });
        g.bench_function("isogc_open_local_close", |b| {
            b.iter(|| {
                for _ in 0..BATCH {
                    let mut s = HandleScope::new(scope);
                    black_box(s.local(black_box(young)));
                }
            })
        });
    });
    let mut stack: Vec<usize> = Vec::with_capacity(64);
    g.bench_function("vec_push_truncate", |b| {
        b.iter(|| {
            for i in 0..BATCH {
                let base = black_box(&mut stack).len();
                stack.push(i);
                stack.truncate(base);
            }
        })
    });
    g.finish();
}

/// A minor GC of a full nursery in which nothing survives.
fn empty_scavenge(c: &mut Criterion) {
    let mut g = c.benchmark_group("scavenge_nothing_survives");
    let (_p, mut iso) = isolate();
    let mut scope = HandleScope::new(&mut iso);
    let map = scope
        .new_map(&ObjectLayout { name: "Small".into(), tagged_fields: 4, raw_bytes: 0, ..Default::default() })
        .unwrap();
    // Fill most of a 1 MiB semi-space with garbage, then time the scavenge.
    let per_fill = (HeapConfig::default().min_semi_space_size * 3 / 4) / 40;
    g.bench_function("minor_gc_1MiB_semi_space", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                for _ in 0..per_fill {
                    let mut s = HandleScope::new(&mut scope);
                    black_box(s.new_object(map).unwrap());
                }
                let t = Instant::now();
                scope.collect_garbage(GcRequest::Minor);
                total += t.elapsed();
            }
            total
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = small_object, field_read, field_write, handle, scope, empty_scavenge
}
criterion_main!(benches);

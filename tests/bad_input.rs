//! Misuse and errors: the heap limit, absurd lengths, invalid configuration,
//! handles used with the wrong isolate, field indices out of range and
//! handles of the wrong kind. Every misuse must fail loudly (a panic or an
//! `Err`) and leave the heap intact and usable.

mod common;

use common::*;
use isogc::*;
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Barrier;

fn old_generation_committed(stats: &HeapStats) -> usize {
    ["old_space", "map_space", "large_object_space"].iter().map(|n| stats.space(n).unwrap().committed).sum()
}

// ----- 1. The heap limit ------------------------------------------------------

const CHAIN_SLOTS: usize = 1000;

/// Allocates arrays of `CHAIN_SLOTS` slots, each linked to the previous one
/// through slot 0 and numbered in slot 1 (from `start`), into a chain whose
/// head is slot 0 of `root`, until an allocation fails. Returns the number of
/// links in the chain and the error. Fails the test at `give_up` links.
fn grow_chain_until_error(
    isolate: &mut Isolate,
    root: &Global<FixedArray>,
    start: usize,
    give_up: usize,
) -> (usize, AllocError) {
    let mut scope = HandleScope::new(isolate);
    let root = scope.open(root);
    for i in start..give_up {
        let mut inner = HandleScope::new(&mut scope);
        let link = match inner.new_fixed_array(CHAIN_SLOTS) {
            Ok(l) => l,
            Err(e) => return (i, e),
        };
        let prev = inner.get(root, 0);
        inner.set(link, 0, prev);
        inner.set(link, 1, Smi::from(i as i32));
        inner.set(root, 0, link);
    }
    panic!("no allocation failed after {give_up} arrays of {CHAIN_SLOTS} slots");
}

/// Walks the chain from `root` and checks that it holds links `n-1..=0`.
fn check_chain(isolate: &mut Isolate, root: &Global<FixedArray>, n: usize) {
    let mut scope = HandleScope::new(isolate);
    let root = scope.open(root);
    let mut cur = scope.get(root, 0);
    let mut expect = n;
    while let Some(link) = scope.cast::<FixedArray, _>(cur) {
        expect -= 1;
        assert_eq!(scope.length(link), CHAIN_SLOTS);
        assert_eq!(scope.get_smi(link, 1), Some(expect as i64));
        let unset = scope.get(link, 2);
        assert!(scope.is_undefined(unset));
        cur = scope.get(link, 0);
    }
    assert!(scope.is_undefined(cur));
    assert_eq!(expect, 0, "the chain lost links");
}

#[test]
fn allocation_past_max_old_space_size_returns_out_of_memory_and_the_heap_recovers() {
    let platform = Platform::new(2).unwrap();
    let cfg = HeapConfig { max_old_space_size: 4 * MB, initial_old_space_size: MB, ..test_config() };
    let mut isolate = Isolate::new(&platform, cfg).unwrap();
    let root = {
        let mut scope = HandleScope::new(&mut isolate);
        let r = scope.new_fixed_array(1).unwrap();
        scope.global(r)
    };

    let (n, err) = grow_chain_until_error(&mut isolate, &root, 0, 10_000);
    match err {
        AllocError::OutOfMemory { requested, old_generation, limit } => {
            assert_eq!(limit, 4 * MB);
            assert!(requested >= CHAIN_SLOTS * 8, "requested {requested}");
            assert!(old_generation > 0);
        }
        e => panic!("expected OutOfMemory, got {e:?}"),
    }
    assert!(err.to_string().contains("out of memory"), "{err}");
    // The chain holds (almost) the whole limit: 4 MiB / 8 KiB is ~500 links.
    assert!(n >= 300, "only {n} links before running out of memory");
    check_chain(&mut isolate, &root, n);
    let stats = isolate.heap_stats();
    assert_eq!(stats.max_old_generation, 4 * MB);
    let last = isolate.gc_events().last().cloned().unwrap();
    assert_eq!((last.kind, last.reason), (GcKind::Major, GcReason::LastResort), "no full GC before giving up");

    // Going on allocating fails again soon (young allocations may still
    // succeed until the next scavenge finds the old generation full), and
    // again as an error, not an abort.
    let (n, err) = grow_chain_until_error(&mut isolate, &root, n, n + 200);
    assert!(matches!(err, AllocError::OutOfMemory { limit, .. } if limit == 4 * MB), "{err:?}");
    check_chain(&mut isolate, &root, n);

    // Drop the only root: everything is garbage, and allocation works again.
    drop(root);
    {
        let mut scope = HandleScope::new(&mut isolate);
        let keep = scope.new_fixed_array(200).unwrap();
        for i in 0..200 {
            let a = scope.new_fixed_array(CHAIN_SLOTS).unwrap();
            scope.set(a, 0, Smi::from(i));
            scope.set(keep, i as usize, a);
        }
        scope.collect_garbage(GcRequest::Major);
        for i in 0..200 {
            let a = scope.get(keep, i as usize);
            let a = scope.cast::<FixedArray, _>(a).unwrap();
            assert_eq!(scope.get_smi(a, 0), Some(i as i64));
        }
    }
    isolate.collect_garbage(GcRequest::Major);
    let stats = isolate.heap_stats();
    let old = old_generation_committed(&stats);
    assert!(old < 4 * MB, "old generation still at {old} bytes after dropping everything");
    assert!(stats.space("old_space").unwrap().used < MB, "{stats:#?}");
}

#[test]
fn near_heap_limit_callback_raises_the_limit_once_and_allocation_continues() {
    let platform = Platform::new(2).unwrap();
    let cfg = HeapConfig { max_old_space_size: 4 * MB, initial_old_space_size: MB, ..test_config() };
    let mut isolate = Isolate::new(&platform, cfg).unwrap();
    let calls: Rc<RefCell<Vec<(usize, usize)>>> = Rc::default();
    {
        let calls = calls.clone();
        isolate.set_near_heap_limit_callback(move |current, initial| {
            let mut c = calls.borrow_mut();
            c.push((current, initial));
            if c.len() == 1 {
                current + 4 * MB
            } else {
                current
            }
        });
    }
    let root = {
        let mut scope = HandleScope::new(&mut isolate);
        let r = scope.new_fixed_array(1).unwrap();
        scope.global(r)
    };
    let (n, err) = grow_chain_until_error(&mut isolate, &root, 0, 20_000);
    assert_eq!(*calls.borrow(), vec![(4 * MB, 4 * MB), (8 * MB, 4 * MB)]);
    match err {
        AllocError::OutOfMemory { limit, .. } => assert_eq!(limit, 8 * MB),
        e => panic!("expected OutOfMemory, got {e:?}"),
    }
    // Twice the room of the 4 MiB run (~500 links): well past 4 MiB.
    assert!(n > 4 * MB / (CHAIN_SLOTS * 8), "only {n} links: the raised limit was not used");
    assert_eq!(isolate.heap_stats().max_old_generation, 8 * MB);
    check_chain(&mut isolate, &root, n);

    // Without the callback the raised limit stays.
    isolate.remove_near_heap_limit_callback();
    drop(root);
    isolate.collect_garbage(GcRequest::Major);
    assert_eq!(isolate.heap_stats().max_old_generation, 8 * MB);
    let mut scope = HandleScope::new(&mut isolate);
    let a = scope.new_fixed_array(CHAIN_SLOTS).unwrap();
    scope.set(a, 7, Smi::from(7));
    scope.collect_garbage(GcRequest::Minor);
    assert_eq!(scope.get_smi(a, 7), Some(7));
    assert_eq!(calls.borrow().len(), 2);
}

#[test]
fn near_heap_limit_callback_cannot_lower_the_limit() {
    let platform = Platform::new(2).unwrap();
    let cfg = HeapConfig { max_old_space_size: 4 * MB, initial_old_space_size: MB, ..test_config() };
    let mut isolate = Isolate::new(&platform, cfg).unwrap();
    let calls = Rc::new(RefCell::new(0));
    {
        let calls = calls.clone();
        isolate.set_near_heap_limit_callback(move |current, _| {
            *calls.borrow_mut() += 1;
            current / 2
        });
    }
    let root = {
        let mut scope = HandleScope::new(&mut isolate);
        let r = scope.new_fixed_array(1).unwrap();
        scope.global(r)
    };
    let (n, err) = grow_chain_until_error(&mut isolate, &root, 0, 10_000);
    assert!(matches!(err, AllocError::OutOfMemory { limit, .. } if limit == 4 * MB), "{err:?}");
    assert_eq!(*calls.borrow(), 1);
    assert_eq!(isolate.heap_stats().max_old_generation, 4 * MB);
    check_chain(&mut isolate, &root, n);
}

#[test]
fn large_objects_past_max_old_space_size_return_out_of_memory_and_the_heap_recovers() {
    let platform = Platform::new(2).unwrap();
    let cfg = HeapConfig { max_old_space_size: 4 * MB, initial_old_space_size: MB, ..test_config() };
    let mut isolate = Isolate::new(&platform, cfg).unwrap();
    let mut scope = HandleScope::new(&mut isolate);
    const SLOTS: usize = 40_000; // 320 KB each: large objects
    let holder = scope.new_fixed_array(100).unwrap();
    let mut n = 0;
    let err = loop {
        assert!(n < 100, "no allocation failed");
        let mut inner = HandleScope::new(&mut scope);
        match inner.new_fixed_array(SLOTS) {
            Ok(a) => {
                inner.set(a, SLOTS - 1, Smi::from(n as i32));
                inner.set(holder, n, a);
                n += 1;
            }
            Err(e) => break e,
        }
    };
    assert!(matches!(err, AllocError::OutOfMemory { limit, .. } if limit == 4 * MB), "{err:?}");
    // Each takes a two-page chunk: at least 5 fit below 4 MiB.
    assert!(n >= 5, "only {n} large arrays fit in 4 MiB");
    for i in 0..n {
        let mut inner = HandleScope::new(&mut scope);
        let a = inner.get(holder, i);
        let a = inner.cast::<FixedArray, _>(a).unwrap();
        assert_eq!(inner.get_smi(a, SLOTS - 1), Some(i as i64));
    }
    // Drop all but one; the space comes back.
    for i in 1..n {
        scope.set(holder, i, Smi::from(0));
    }
    scope.collect_garbage(GcRequest::Major);
    let stats = scope.heap_stats();
    assert!(old_generation_committed(&stats) < 2 * MB, "{stats:#?}");
    for i in 1..n {
        let mut inner = HandleScope::new(&mut scope);
        let a = inner.new_fixed_array(SLOTS).unwrap();
        inner.set(a, 0, Smi::from(i as i32));
        inner.set(holder, i, a);
    }
    scope.collect_garbage(GcRequest::Minor);
    scope.collect_garbage(GcRequest::Major);
    let first = scope.get(holder, 0);
    let first = scope.cast::<FixedArray, _>(first).unwrap();
    assert_eq!(scope.get_smi(first, SLOTS - 1), Some(0));
}

#[test]
fn interning_past_max_old_space_size_returns_out_of_memory() {
    let platform = Platform::new(2).unwrap();
    let cfg = HeapConfig { max_old_space_size: 4 * MB, initial_old_space_size: MB, ..test_config() };
    let mut isolate = Isolate::new(&platform, cfg).unwrap();
    let mut scope = HandleScope::new(&mut isolate);
    let holder = scope.new_fixed_array(2000).unwrap();
    let mut n = 0;
    let err = loop {
        assert!(n < 2000, "no allocation failed");
        let text = format!("{n:08}{}", "s".repeat(8000));
        let mut inner = HandleScope::new(&mut scope);
        match inner.intern(&text) {
            Ok(s) => {
                inner.set(holder, n, s);
                n += 1;
            }
            Err(e) => break e,
        }
    };
    assert!(matches!(err, AllocError::OutOfMemory { limit, .. } if limit == 4 * MB), "{err:?}");
    assert!(n >= 300, "only {n} strings of 8 KB in 4 MiB");
    // The clean-up reserve (one page) serves a few more, then interning
    // fails again.
    let err = loop {
        assert!(n < 2000, "the clean-up reserve never ran out");
        let text = format!("{n:08}{}", "s".repeat(8000));
        let mut inner = HandleScope::new(&mut scope);
        match inner.intern(&text) {
            Ok(s) => {
                inner.set(holder, n, s);
                n += 1;
            }
            Err(e) => break e,
        }
    };
    assert!(matches!(err, AllocError::OutOfMemory { limit, .. } if limit == 4 * MB), "{err:?}");
    assert_eq!(scope.heap_stats().interned_strings, n);
    // Maps (map space) fail the same way.
    {
        let mut inner = HandleScope::new(&mut scope);
        let r =
            inner.new_map(&ObjectLayout { name: "Late".into(), tagged_fields: 1, raw_bytes: 0, ..Default::default() });
        assert!(matches!(r, Err(AllocError::OutOfMemory { .. })), "{r:?}");
    }
    for i in (0..n).step_by(37) {
        let mut inner = HandleScope::new(&mut scope);
        let s = inner.get(holder, i);
        let s = inner.cast::<HeapString, _>(s).unwrap();
        assert!(inner.to_rust_string(s).starts_with(&format!("{i:08}s")));
    }
    for i in 0..n {
        scope.set(holder, i, Smi::from(0));
    }
    scope.collect_garbage(GcRequest::Major);
    assert_eq!(scope.heap_stats().interned_strings, 0);
    let s = scope.intern("fits again").unwrap();
    let m = scope
        .new_map(&ObjectLayout { name: "Late".into(), tagged_fields: 1, raw_bytes: 0, ..Default::default() })
        .unwrap();
    scope.collect_garbage(GcRequest::Major);
    assert_eq!(scope.to_rust_string(s), "fits again");
    assert_eq!(scope.layout(m).unwrap().name, "Late");
}

#[test]
fn globals_and_weaks_outliving_their_isolate_drop_cleanly() {
    let platform = Platform::new(1).unwrap();
    let (g, w, id) = {
        let mut isolate = Isolate::new(&platform, test_config()).unwrap();
        let id = isolate.id();
        let mut scope = HandleScope::new(&mut isolate);
        let a = scope.new_fixed_array(1).unwrap();
        (scope.global(a), scope.weak(a), id)
    };
    assert_eq!(g.isolate_id(), id);
    assert_eq!(w.isolate_id(), id);
    // A new isolate never reuses the id, so the stale handles stay foreign.
    let mut other = Isolate::new(&platform, test_config()).unwrap();
    assert_ne!(other.id(), id);
    let mut scope = HandleScope::new(&mut other);
    assert!(expect_panic("open(stale Global)", || scope.open(&g)).contains("isolate"));
    assert!(expect_panic("open_weak(stale Weak)", || scope.open_weak(&w)).contains("isolate"));
    let g2 = g.clone();
    drop(g);
    drop(g2);
    drop(w);
    scope.collect_garbage(GcRequest::Major);
}

// ----- 2. Absurd lengths ------------------------------------------------------

fn assert_invalid_length<T: std::fmt::Debug>(r: Result<T, AllocError>, kind: &str, length: usize) {
    match r {
        Err(AllocError::InvalidLength { kind: k, length: l, max }) => {
            assert_eq!(k, kind);
            assert_eq!(l, length);
            assert!(max < length, "max {max} is not below the rejected length {length}");
        }
        other => panic!("expected InvalidLength for a {kind} of {length}, got {other:?}"),
    }
}

#[test]
fn absurd_lengths_return_invalid_length_and_the_isolate_keeps_working() {
    let platform = Platform::new(2).unwrap();
    let mut isolate = Isolate::new(&platform, test_config()).unwrap();
    let mut scope = HandleScope::new(&mut isolate);
    let keep = scope.new_fixed_array(3).unwrap();
    scope.set(keep, 0, Smi::from(42));
    let handles = scope.handle_count();

    assert_invalid_length(scope.new_fixed_array(usize::MAX), "FixedArray", usize::MAX);
    assert_invalid_length(scope.new_fixed_array(usize::MAX / 8), "FixedArray", usize::MAX / 8);
    assert_invalid_length(scope.new_fixed_array(usize::MAX / 8 - 1), "FixedArray", usize::MAX / 8 - 1);
    assert_invalid_length(scope.new_byte_array(usize::MAX), "ByteArray", usize::MAX);
    assert_invalid_length(scope.new_byte_array(usize::MAX - 3), "ByteArray", usize::MAX - 3);
    assert_invalid_length(scope.new_byte_array(usize::MAX - 16), "ByteArray", usize::MAX - 16);
    for layout in [
        ObjectLayout { name: "Huge".into(), tagged_fields: usize::MAX, raw_bytes: 0, ..Default::default() },
        ObjectLayout { name: "Huge".into(), tagged_fields: 0, raw_bytes: usize::MAX, ..Default::default() },
        ObjectLayout { name: "Huge".into(), tagged_fields: usize::MAX / 8, raw_bytes: 0, ..Default::default() },
        ObjectLayout { name: "Huge".into(), tagged_fields: 1, raw_bytes: usize::MAX - 6, ..Default::default() },
        ObjectLayout {
            name: "Huge".into(),
            tagged_fields: usize::MAX / 16,
            raw_bytes: usize::MAX / 2,
            ..Default::default()
        },
    ] {
        match scope.new_map(&layout) {
            Err(AllocError::InvalidLength { .. }) => {}
            other => panic!("expected InvalidLength for {layout:?}, got {other:?}"),
        }
    }
    let e = scope.new_fixed_array(usize::MAX).unwrap_err();
    assert!(e.to_string().contains("invalid length"), "{e}");

    // No handle was pushed by a failed allocation, and the heap is intact.
    assert_eq!(scope.handle_count(), handles);
    scope.collect_garbage(GcRequest::Minor);
    scope.collect_garbage(GcRequest::Major);
    let a = scope.new_fixed_array(10).unwrap();
    scope.set(a, 9, Smi::from(9));
    scope.set(keep, 1, a);
    let b = scope.new_byte_array(5).unwrap();
    scope.write_bytes(b, 0, b"hello");
    scope.collect_garbage(GcRequest::Minor);
    assert_eq!(scope.get_smi(keep, 0), Some(42));
    let a = scope.get(keep, 1);
    let a = scope.cast::<FixedArray, _>(a).unwrap();
    assert_eq!(scope.get_smi(a, 9), Some(9));
    let mut out = [0u8; 5];
    scope.read_bytes(b, 0, &mut out);
    assert_eq!(&out, b"hello");
}

#[test]
fn huge_but_representable_requests_return_out_of_memory_without_aborting() {
    let platform = Platform::new(2).unwrap();
    let mut isolate = Isolate::new(&platform, test_config()).unwrap();
    let mut scope = HandleScope::new(&mut isolate);
    let keep = scope.new_fixed_array(1).unwrap();
    scope.set(keep, 0, Smi::from(5));
    let handles = scope.handle_count();

    for r in [scope.new_byte_array(1 << 39).map(|_| ()), scope.new_fixed_array(1 << 33).map(|_| ())] {
        assert_eq!(scope.handle_count(), handles);
        match r {
            Err(AllocError::OutOfMemory { requested, limit, .. }) => {
                assert!(requested >= 1 << 36, "requested {requested}");
                assert_eq!(limit, HeapConfig::default().max_old_space_size);
            }
            other => panic!("expected OutOfMemory, got {other:?}"),
        }
    }
    // A valid map whose objects cannot fit in the heap: the map is fine, the
    // object is out of memory.
    let big = scope
        .new_map(&ObjectLayout { name: "Big".into(), tagged_fields: 1 << 33, raw_bytes: 0, ..Default::default() })
        .unwrap();
    assert_eq!(scope.layout(big).unwrap().tagged_fields, 1 << 33);
    let big_raw = scope
        .new_map(&ObjectLayout { name: "BigRaw".into(), tagged_fields: 0, raw_bytes: 1 << 38, ..Default::default() })
        .unwrap();
    let handles = scope.handle_count();
    assert!(matches!(scope.new_object(big), Err(AllocError::OutOfMemory { .. })));
    assert!(matches!(scope.new_object(big_raw), Err(AllocError::OutOfMemory { .. })));
    assert_eq!(scope.handle_count(), handles);
    let s = scope.new_string("still alive").unwrap();
    scope.collect_garbage(GcRequest::Major);
    scope.collect_garbage(GcRequest::Minor);
    assert_eq!(scope.to_rust_string(s), "still alive");
    assert_eq!(scope.get_smi(keep, 0), Some(5));
}

/// `InvalidLength::max` is documented as "the largest accepted length": a
/// request of exactly `max` must pass the length check (and fail only for
/// lack of memory), one more must not.
#[test]
fn invalid_length_max_of_fixed_array_is_the_largest_accepted_length() {
    let platform = Platform::new(1).unwrap();
    let mut isolate = Isolate::new(&platform, test_config()).unwrap();
    let mut scope = HandleScope::new(&mut isolate);

    let Err(AllocError::InvalidLength { max, .. }) = scope.new_fixed_array(usize::MAX) else { panic!() };
    assert!(
        matches!(scope.new_fixed_array(max), Err(AllocError::OutOfMemory { .. })),
        "FixedArray of the reported max {max}"
    );
    assert!(
        matches!(scope.new_fixed_array(max + 1), Err(AllocError::InvalidLength { .. })),
        "FixedArray of the reported max {max} + 1 was accepted: max is not the largest accepted length"
    );
}

/// As above, for byte arrays.
#[test]
fn invalid_length_max_of_byte_array_is_the_largest_accepted_length() {
    let platform = Platform::new(1).unwrap();
    let mut isolate = Isolate::new(&platform, test_config()).unwrap();
    let mut scope = HandleScope::new(&mut isolate);
    let Err(AllocError::InvalidLength { max, .. }) = scope.new_byte_array(usize::MAX) else { panic!() };
    assert!(
        matches!(scope.new_byte_array(max), Err(AllocError::OutOfMemory { .. })),
        "ByteArray of the reported max {max} was rejected: {:?}",
        scope.new_byte_array(max).map(|_| ())
    );
    assert!(matches!(scope.new_byte_array(max + 1), Err(AllocError::InvalidLength { .. })));
}

// ----- 3. Invalid configuration -----------------------------------------------

#[test]
fn invalid_heap_config_is_rejected_naming_the_field() {
    let platform = Platform::new(1).unwrap();
    let cases: Vec<(&str, HeapConfig)> = vec![
        (
            "min_semi_space_size",
            HeapConfig { min_semi_space_size: 512 * KB, max_semi_space_size: 256 * KB, ..test_config() },
        ),
        ("min_semi_space_size", HeapConfig { min_semi_space_size: 0, ..test_config() }),
        ("max_semi_space_size", HeapConfig { max_semi_space_size: 0, ..test_config() }),
        ("min_semi_space_size", HeapConfig { min_semi_space_size: 300 * KB, max_semi_space_size: MB, ..test_config() }),
        ("max_semi_space_size", HeapConfig { max_semi_space_size: 768 * KB, ..test_config() }),
        ("max_semi_space_size", HeapConfig { max_semi_space_size: usize::MAX, ..test_config() }),
        ("min_semi_space_size", HeapConfig { min_semi_space_size: 128 * KB, max_semi_space_size: MB, ..test_config() }),
        (
            "max_semi_space_size",
            HeapConfig { min_semi_space_size: 256 * KB, max_semi_space_size: 128 * KB, ..test_config() },
        ),
        ("min_semi_space_size", HeapConfig { min_semi_space_size: 8, max_semi_space_size: 8, ..test_config() }),
        // Powers of two that validated once, then aborted or exhausted the
        // machine in `Isolate::new`.
        (
            "min_semi_space_size",
            HeapConfig { min_semi_space_size: 1 << 62, max_semi_space_size: 1 << 62, ..test_config() },
        ),
        (
            "min_semi_space_size",
            HeapConfig { min_semi_space_size: 1 << 40, max_semi_space_size: 1 << 40, ..test_config() },
        ),
        ("max_semi_space_size", HeapConfig { max_semi_space_size: MAX_SEMI_SPACE_SIZE * 2, ..test_config() }),
        ("max_old_space_size", HeapConfig { max_old_space_size: 1 << 62, ..test_config() }),
        ("max_old_space_size", HeapConfig { max_old_space_size: usize::MAX, ..test_config() }),
        (
            "max_old_space_size",
            HeapConfig { max_old_space_size: 512 * KB, initial_old_space_size: 256 * KB, ..test_config() },
        ),
        ("max_old_space_size", HeapConfig { max_old_space_size: 0, initial_old_space_size: 1, ..test_config() }),
        ("initial_old_space_size", HeapConfig { initial_old_space_size: 0, ..test_config() }),
        (
            "initial_old_space_size",
            HeapConfig { max_old_space_size: 4 * MB, initial_old_space_size: 8 * MB, ..test_config() },
        ),
        ("old_gen_growth_factor", HeapConfig { old_gen_growth_factor: 1.0, ..test_config() }),
        ("old_gen_growth_factor", HeapConfig { old_gen_growth_factor: 5.0, ..test_config() }),
        ("old_gen_growth_factor", HeapConfig { old_gen_growth_factor: f64::NAN, ..test_config() }),
        ("old_gen_growth_factor", HeapConfig { old_gen_growth_factor: f64::INFINITY, ..test_config() }),
        ("old_gen_growth_factor", HeapConfig { old_gen_growth_factor: -2.0, ..test_config() }),
    ];
    for (field, cfg) in cases {
        let err = cfg.validate().expect_err(field);
        match &err {
            ConfigError::Invalid { field: f, reason } => {
                assert_eq!(*f, field, "{cfg:?}: {reason}");
                assert!(!reason.is_empty());
            }
            e => panic!("{cfg:?}: expected ConfigError::Invalid, got {e:?}"),
        }
        let msg = err.to_string();
        assert!(msg.contains(field), "message {msg:?} does not name {field}");
        assert_eq!(Isolate::new(&platform, cfg).unwrap_err(), err);
    }
}

#[test]
fn boundary_heap_configs_are_accepted() {
    let platform = Platform::new(1).unwrap();
    for cfg in [
        test_config(),
        HeapConfig { old_gen_growth_factor: 1.1, ..test_config() },
        HeapConfig { old_gen_growth_factor: 4.0, ..test_config() },
        HeapConfig { max_old_space_size: MB, initial_old_space_size: MB, ..test_config() },
        HeapConfig { max_old_space_size: MB, initial_old_space_size: 1, ..test_config() },
        HeapConfig { min_semi_space_size: 256 * KB, max_semi_space_size: MB, ..test_config() },
        HeapConfig { mode: GcMode::StopTheWorld, gc_workers: Some(0), trace_gc: false, ..test_config() },
        HeapConfig { gc_workers: Some(64), ..test_config() },
        HeapConfig { max_old_space_size: MAX_OLD_SPACE_SIZE, ..test_config() },
        HeapConfig {
            min_semi_space_size: MAX_SEMI_SPACE_SIZE,
            max_semi_space_size: MAX_SEMI_SPACE_SIZE,
            ..test_config()
        },
    ] {
        cfg.validate().unwrap();
        let mut isolate = Isolate::new(&platform, cfg.clone()).unwrap();
        assert_eq!(isolate.config(), &cfg);
        let mut scope = HandleScope::new(&mut isolate);
        let a = scope.new_fixed_array(4).unwrap();
        scope.set(a, 3, Smi::from(3));
        scope.collect_garbage(GcRequest::Major);
        assert_eq!(scope.get_smi(a, 3), Some(3));
    }
}

/// A semi-space of the largest accepted size costs nothing up front: to-space
/// takes its pages as the mutator fills it (the issue: a 1 GiB semi-space
/// committed and touched its pages at creation).
#[test]
fn huge_semi_spaces_take_pages_only_as_they_fill() {
    let platform = Platform::new(1).unwrap();
    let cfg = HeapConfig {
        min_semi_space_size: MAX_SEMI_SPACE_SIZE,
        max_semi_space_size: MAX_SEMI_SPACE_SIZE,
        ..test_config()
    };
    let mut isolate = Isolate::new(&platform, cfg).unwrap();
    let start = isolate.memory_usage().committed;
    assert!(start <= 2 * PAGE_SIZE, "{start} bytes committed at creation (read-only page and one to-space page)");
    let mut scope = HandleScope::new(&mut isolate);
    let keep = scope.new_fixed_array(256).unwrap();
    for i in 0..256 {
        let a = scope.new_fixed_array(1000).unwrap(); // 8 KiB each: 2 MiB
        scope.set(a, 0, Smi::from(i));
        scope.set(keep, i as usize, a);
    }
    let young = scope.heap_stats().space("new_space").unwrap().clone();
    assert!(young.committed <= 3 * MB, "new space committed {} for 2 MiB of objects", young.committed);
    scope.collect_garbage(GcRequest::Minor);
    scope.collect_garbage(GcRequest::Major);
    for i in 0..256 {
        let a = scope.get(keep, i);
        let a = scope.cast::<FixedArray, _>(a).unwrap();
        assert_eq!(scope.get_smi(a, 0), Some(i as i64));
    }
    assert!(scope.memory_usage().committed < 16 * MB, "{:?}", scope.memory_usage());
}

// ----- 4. Handles used with the wrong isolate ---------------------------------

fn assert_wrong_isolate<R>(what: &str, f: impl FnOnce() -> R) {
    let msg = expect_panic(what, f);
    assert!(msg.contains("isolate"), "{what}: panic message does not mention the isolate: {msg:?}");
}

/// One thread's worth: two isolates, each handle kind of A used with B (and
/// the other way round); afterwards both heaps are intact.
fn cross_isolate_misuse(platform: &Platform, tag: i32) {
    let mut a = Isolate::new(platform, test_config()).unwrap();
    let mut b = Isolate::new(platform, test_config()).unwrap();
    assert_ne!(a.id(), b.id());

    let (ga, wa, gb) = {
        let mut sa = HandleScope::new(&mut a);
        let mut sb = HandleScope::new(&mut b);
        let arr_a = sa.new_fixed_array(4).unwrap();
        sa.set(arr_a, 0, Smi::from(tag));
        let str_a = sa.new_string("from A").unwrap();
        sa.set(arr_a, 1, str_a);
        let val_a = sa.get(arr_a, 1);
        let num_a = sa.new_number(2.5).unwrap();
        sa.set(arr_a, 2, num_a);
        let ga = sa.global(arr_a);
        let wa = sa.weak(arr_a);

        let arr_b = sb.new_fixed_array(4).unwrap();
        sb.set(arr_b, 0, Smi::from(-tag));
        let str_b = sb.new_string("from B").unwrap();
        sb.set(arr_b, 1, str_b);
        let val_b = sb.get(arr_b, 1);
        let gb = sb.global(arr_b);
        let undefined_a = sa.undefined();

        let (count_a, count_b) = (sa.handle_count(), sb.handle_count());

        // Locals of A with scope B.
        assert_wrong_isolate("get(Local of A)", || sb.get(arr_a, 0));
        assert_wrong_isolate("try_get(Local of A)", || sb.try_get(arr_a, 0));
        assert_wrong_isolate("get_smi(Local of A)", || sb.get_smi(arr_a, 0));
        assert_wrong_isolate("set(Local of A)", || sb.set(arr_a, 0, Smi::from(0)));
        assert_wrong_isolate("try_set(Local of A)", || sb.try_set(arr_a, 0, Smi::from(0)));
        assert_wrong_isolate("set(B's array, A's value)", || sb.set(arr_b, 2, str_a));
        assert_wrong_isolate("try_set(B's array, A's value)", || sb.try_set(arr_b, 2, val_a));
        assert_wrong_isolate("length(Local of A)", || sb.length(arr_a));
        assert_wrong_isolate("to_rust_string(Local of A)", || sb.to_rust_string(str_a));
        assert_wrong_isolate("number_value(Local of A)", || sb.number_value(num_a));
        assert_wrong_isolate("global(Local of A)", || sb.global(arr_a));
        assert_wrong_isolate("weak(Local of A)", || sb.weak(arr_a));
        // Local<Value>s of A with scope B.
        assert_wrong_isolate("is_undefined(Local<Value> of A)", || sb.is_undefined(val_a));
        assert_wrong_isolate("is_undefined(A's undefined)", || sb.is_undefined(undefined_a));
        assert_wrong_isolate("to_smi(Local<Value> of A)", || sb.to_smi(val_a));
        assert_wrong_isolate("instance_type(Local<Value> of A)", || sb.instance_type(val_a));
        assert_wrong_isolate("same_value(A, B)", || sb.same_value(val_a, val_b));
        assert_wrong_isolate("map_of(Local<Value> of A)", || sb.map_of(val_a));
        assert_wrong_isolate("field_is(B's array, A's value)", || sb.field_is(arr_b, 1, val_a));
        // Globals and weaks of A with scope B.
        assert_wrong_isolate("open(Global of A)", || sb.open(&ga));
        assert_wrong_isolate("open_weak(Weak of A)", || sb.open_weak(&wa));
        // And the other way round.
        assert_wrong_isolate("get(Local of B)", || sa.get(arr_b, 0));
        assert_wrong_isolate("open(Global of B)", || sa.open(&gb));
        assert_wrong_isolate("is_null(Local<Value> of B)", || sa.is_null(val_b));

        // Nothing was pushed, nothing was stored.
        assert_eq!((sa.handle_count(), sb.handle_count()), (count_a, count_b));
        assert_eq!(sb.get_smi(arr_b, 0), Some(-tag as i64));
        let unset = sb.get(arr_b, 2);
        assert!(sb.is_undefined(unset));
        assert_eq!(sa.get_smi(arr_a, 0), Some(tag as i64));
        assert_eq!(ga.isolate_id(), sa.id());
        assert_eq!(wa.isolate_id(), sa.id());
        assert_eq!(gb.isolate_id(), sb.id());
        (ga, wa, gb)
    };

    // Both isolates still work: allocate, collect, read back.
    for (iso, g, sign, text) in [(&mut a, &ga, 1, "from A"), (&mut b, &gb, -1, "from B")] {
        let mut scope = HandleScope::new(iso);
        let arr = scope.open(g);
        for i in 0..2000 {
            let junk = scope.new_fixed_array(8).unwrap();
            if i % 100 == 0 {
                scope.set(arr, 3, junk);
            }
        }
        scope.collect_garbage(GcRequest::Minor);
        scope.collect_garbage(GcRequest::Major);
        scope.collect_garbage(GcRequest::Minor);
        assert_eq!(scope.get_smi(arr, 0), Some(sign * tag as i64));
        let s = scope.get(arr, 1);
        let s = scope.cast::<HeapString, _>(s).unwrap();
        assert_eq!(scope.to_rust_string(s), text);
        assert_eq!(scope.length(arr), 4);
    }
    let mut sa = HandleScope::new(&mut a);
    let arr = sa.open(&ga);
    let target = sa.open_weak(&wa).unwrap();
    assert!(sa.same_value(arr, target));
    assert_eq!(sa.get_number(arr, 2), Some(2.5));
}

#[test]
fn handles_of_another_isolate_panic_and_both_isolates_keep_working() {
    let platform = Platform::new(2).unwrap();
    let barrier = Barrier::new(2);
    on_threads(2, &platform, |platform, tag| {
        barrier.wait();
        cross_isolate_misuse(platform, tag as i32 * 1000);
    });
}

// ----- 5. Indices and byte ranges out of bounds -------------------------------

fn assert_out_of_bounds<R>(what: &str, len: usize, index: usize, f: impl FnOnce() -> R) {
    let msg = expect_panic(what, f);
    let expected = format!("index out of bounds: the len is {len} but the index is {index}");
    assert!(msg.contains(&expected), "{what}: panic message {msg:?} does not contain {expected:?}");
}

#[test]
fn fixed_array_index_out_of_range_panics_and_try_variants_store_nothing() {
    let platform = Platform::new(1).unwrap();
    let mut isolate = Isolate::new(&platform, test_config()).unwrap();
    let mut scope = HandleScope::new(&mut isolate);
    let arr = scope.new_fixed_array(3).unwrap();
    // The object right behind `arr`: an unchecked store at index 3 would hit it.
    let next = scope.new_fixed_array(2).unwrap();
    let s = scope.new_string("x").unwrap();
    for i in 0..3 {
        scope.set(arr, i, Smi::from(10 + i as i32));
    }
    scope.set(next, 0, s);

    assert_out_of_bounds("get(arr, 3)", 3, 3, || scope.get(arr, 3));
    assert_out_of_bounds("get(arr, MAX)", 3, usize::MAX, || scope.get(arr, usize::MAX));
    assert_out_of_bounds("set(arr, 3)", 3, 3, || scope.set(arr, 3, Smi::from(99)));
    assert_out_of_bounds("set(arr, 4, heap value)", 3, 4, || scope.set(arr, 4, s));
    assert_out_of_bounds("field_is(arr, 3)", 3, 3, || scope.field_is(arr, 3, Smi::from(0)));
    let empty = scope.new_fixed_array(0).unwrap();
    assert_out_of_bounds("get(empty, 0)", 0, 0, || scope.get(empty, 0));

    let handles = scope.handle_count();
    assert!(scope.try_get(arr, 3).is_none());
    assert!(scope.try_get(arr, usize::MAX).is_none());
    assert!(scope.try_get(empty, 0).is_none());
    assert!(scope.try_set(arr, 3, Smi::from(99)).is_none());
    assert!(scope.try_set(arr, 4, s).is_none());
    assert!(scope.try_set(arr, usize::MAX, Smi::from(99)).is_none());
    assert_eq!(scope.get_smi(arr, 3), None);
    assert_eq!(scope.handle_count(), handles, "a failed try_ call pushed a handle");
    assert!(scope.try_set(arr, 2, Smi::from(12)).is_some());
    let v = scope.try_get(arr, 2).unwrap();
    assert_eq!(scope.to_smi(v), Some(12));

    // Unchanged, and so is its neighbour; the verifier agrees.
    scope.collect_garbage(GcRequest::Minor);
    scope.collect_garbage(GcRequest::Major);
    assert_eq!(scope.length(arr), 3);
    assert_eq!(scope.length(next), 2);
    for i in 0..3 {
        assert_eq!(scope.get_smi(arr, i), Some(10 + i as i64));
    }
    assert!(scope.field_is(next, 0, s));
    let unset = scope.get(next, 1);
    assert!(scope.is_undefined(unset));
}

#[test]
fn object_field_index_out_of_range_panics_and_try_variants_store_nothing() {
    let platform = Platform::new(1).unwrap();
    let mut isolate = Isolate::new(&platform, test_config()).unwrap();
    let mut scope = HandleScope::new(&mut isolate);
    let map = scope
        .new_map(&ObjectLayout { name: "Pair".into(), tagged_fields: 2, raw_bytes: 16, ..Default::default() })
        .unwrap();
    let o = scope.new_object(map).unwrap();
    scope.set(o, 0, Smi::from(1));
    scope.set(o, 1, Smi::from(2));
    // Field 2 would be the first raw word.
    scope.write_bytes(o, 0, &[0xAB; 16]);
    let s = scope.new_string("y").unwrap();

    assert_out_of_bounds("get(o, 2)", 2, 2, || scope.get(o, 2));
    assert_out_of_bounds("set(o, 2)", 2, 2, || scope.set(o, 2, Smi::from(7)));
    assert_out_of_bounds("set(o, 3, heap value)", 2, 3, || scope.set(o, 3, s));
    assert!(scope.try_get(o, 2).is_none());
    assert!(scope.try_set(o, 2, Smi::from(7)).is_none());
    assert!(scope.try_set(o, 3, s).is_none());
    assert!(scope.try_set(o, usize::MAX, s).is_none());

    let no_fields = scope
        .new_map(&ObjectLayout { name: "Bytes".into(), tagged_fields: 0, raw_bytes: 8, ..Default::default() })
        .unwrap();
    let nf = scope.new_object(no_fields).unwrap();
    assert_out_of_bounds("get(no fields, 0)", 0, 0, || scope.get(nf, 0));
    assert!(scope.try_set(nf, 0, s).is_none());
    assert_eq!(scope.field_count(nf), 0);

    scope.collect_garbage(GcRequest::Minor);
    scope.collect_garbage(GcRequest::Major);
    assert_eq!(scope.get_smi(o, 0), Some(1));
    assert_eq!(scope.get_smi(o, 1), Some(2));
    let mut raw = [0u8; 16];
    scope.read_bytes(o, 0, &mut raw);
    assert_eq!(raw, [0xAB; 16], "a rejected store changed the raw bytes");
    let mut raw = [1u8; 8];
    scope.read_bytes(nf, 0, &mut raw);
    assert_eq!(raw, [0; 8]);
}

#[test]
fn byte_ranges_out_of_bounds_panic_and_change_nothing() {
    let platform = Platform::new(1).unwrap();
    let mut isolate = Isolate::new(&platform, test_config()).unwrap();
    let mut scope = HandleScope::new(&mut isolate);
    let b = scope.new_byte_array(5).unwrap();
    scope.write_bytes(b, 0, b"abcde");
    let map = scope
        .new_map(&ObjectLayout { name: "Raw".into(), tagged_fields: 1, raw_bytes: 12, ..Default::default() })
        .unwrap();
    let o = scope.new_object(map).unwrap();
    scope.write_bytes(o, 0, b"0123456789AB");
    let plain = scope
        .new_map(&ObjectLayout { name: "NoRaw".into(), tagged_fields: 1, raw_bytes: 0, ..Default::default() })
        .unwrap();
    let p = scope.new_object(plain).unwrap();

    let oob = |msg: String| assert!(msg.contains("out of bounds"), "{msg:?}");
    oob(expect_panic("read 3..6 of 5", || scope.read_bytes(b, 3, &mut [0; 3])));
    oob(expect_panic("read 6..6 of 5", || scope.read_bytes(b, 6, &mut [])));
    oob(expect_panic("write 5..6 of 5", || scope.write_bytes(b, 5, b"!")));
    oob(expect_panic("write 0..6 of 5", || scope.write_bytes(b, 0, b"123456")));
    oob(expect_panic("write at usize::MAX", || scope.write_bytes(b, usize::MAX, b"!")));
    oob(expect_panic("read at usize::MAX", || scope.read_bytes(b, usize::MAX, &mut [0; 2])));
    oob(expect_panic("object read 8..16 of 12", || scope.read_bytes(o, 8, &mut [0; 8])));
    oob(expect_panic("object write 12..13 of 12", || scope.write_bytes(o, 12, b"!")));
    oob(expect_panic("object write at usize::MAX - 1", || scope.write_bytes(o, usize::MAX - 1, b"!!!")));
    oob(expect_panic("no raw bytes", || scope.write_bytes(p, 0, b"!")));

    // Edge ranges that fit.
    scope.read_bytes(b, 5, &mut []);
    scope.write_bytes(o, 12, b"");
    assert_eq!(scope.raw_len(b), 5);
    assert_eq!(scope.raw_len(o), 12);
    assert_eq!(scope.raw_len(p), 0);

    scope.collect_garbage(GcRequest::Minor);
    scope.collect_garbage(GcRequest::Major);
    let mut out = [0u8; 5];
    scope.read_bytes(b, 0, &mut out);
    assert_eq!(&out, b"abcde");
    let mut out = [0u8; 12];
    scope.read_bytes(o, 0, &mut out);
    assert_eq!(&out, b"0123456789AB");
    let unset = scope.get(p, 0);
    assert!(scope.is_undefined(unset));
}

// ----- 6. Handles of the wrong kind -------------------------------------------

#[test]
fn cast_to_the_wrong_kind_returns_none() {
    let platform = Platform::new(1).unwrap();
    let mut isolate = Isolate::new(&platform, test_config()).unwrap();
    let mut scope = HandleScope::new(&mut isolate);
    let number = scope.new_number(1.5).unwrap().as_value();
    let smi = scope.smi(Smi::from(5));
    let string = scope.new_string("s").unwrap().as_value();
    let interned = scope.intern("i").unwrap().as_value();
    let array = scope.new_fixed_array(1).unwrap().as_value();
    let bytes = scope.new_byte_array(1).unwrap().as_value();
    let map = scope
        .new_map(&ObjectLayout { name: "K".into(), tagged_fields: 1, raw_bytes: 0, ..Default::default() })
        .unwrap();
    let object = scope.new_object(map).unwrap().as_value();
    let map = map.as_value();
    let undefined = scope.undefined();

    assert!(scope.cast::<FixedArray, _>(number).is_none());
    assert!(scope.cast::<HeapNumber, _>(number).is_some());
    for v in [smi, undefined] {
        assert!(scope.cast::<FixedArray, _>(v).is_none());
        assert!(scope.cast::<ByteArray, _>(v).is_none());
        assert!(scope.cast::<HeapString, _>(v).is_none());
        assert!(scope.cast::<HeapNumber, _>(v).is_none());
        assert!(scope.cast::<Map, _>(v).is_none());
        assert!(scope.cast::<Object, _>(v).is_none());
    }
    assert_eq!(scope.instance_type(smi), None);
    assert_eq!(scope.instance_type(undefined), Some(InstanceType::Oddball));
    // Exactly one marker type matches each kind.
    let kinds = [string, interned, array, bytes, map, object, number];
    let matches = |v: Local<'_, Value>| {
        [
            scope.cast::<FixedArray, _>(v).is_some(),
            scope.cast::<ByteArray, _>(v).is_some(),
            scope.cast::<HeapString, _>(v).is_some(),
            scope.cast::<HeapNumber, _>(v).is_some(),
            scope.cast::<Map, _>(v).is_some(),
            scope.cast::<Object, _>(v).is_some(),
        ]
    };
    let expected = [
        [false, false, true, false, false, false],
        [false, false, true, false, false, false],
        [true, false, false, false, false, false],
        [false, true, false, false, false, false],
        [false, false, false, false, true, false],
        [false, false, false, false, false, true],
        [false, false, false, true, false, false],
    ];
    for (v, e) in kinds.into_iter().zip(expected) {
        assert_eq!(matches(v), e, "{:?}", scope.instance_type(v));
    }
}

#[test]
fn reading_a_field_as_the_wrong_kind_returns_none() {
    let platform = Platform::new(1).unwrap();
    let mut isolate = Isolate::new(&platform, test_config()).unwrap();
    let mut scope = HandleScope::new(&mut isolate);
    let arr = scope.new_fixed_array(4).unwrap();
    let s = scope.new_string("not a number").unwrap();
    let n = scope.new_number(0.25).unwrap();
    scope.set(arr, 0, s);
    scope.set(arr, 1, n);
    scope.set(arr, 2, Smi::from(3));
    let null = scope.null();
    scope.set(arr, 3, null);

    assert_eq!(scope.get_smi(arr, 0), None);
    assert_eq!(scope.get_smi(arr, 1), None);
    assert_eq!(scope.get_smi(arr, 3), None);
    assert_eq!(scope.get_smi(arr, 2), Some(3));
    assert_eq!(scope.get_number(arr, 0), None);
    assert_eq!(scope.get_number(arr, 3), None);
    assert_eq!(scope.get_number(arr, 1), Some(0.25));
    assert_eq!(scope.get_number(arr, 2), Some(3.0));
    assert_eq!(scope.to_smi(s), None);
    assert_eq!(scope.to_number(s), None);
    assert_eq!(scope.to_smi(n), None);
    assert_eq!(scope.to_number(n), Some(0.25));
}

#[test]
fn new_object_with_a_built_in_map_panics_and_builtin_maps_have_no_layout() {
    let platform = Platform::new(1).unwrap();
    let mut isolate = Isolate::new(&platform, test_config()).unwrap();
    let mut scope = HandleScope::new(&mut isolate);
    let arr = scope.new_fixed_array(2).unwrap();
    let builtin = scope.map_of(arr).unwrap();
    assert_eq!(scope.layout(builtin), None);
    let handles = scope.handle_count();
    let msg = expect_panic("new_object(FixedArray map)", || scope.new_object(builtin));
    assert!(msg.contains("new_map"), "{msg:?}");
    assert_eq!(scope.handle_count(), handles);
    let smi = scope.smi(Smi::from(1));
    assert!(scope.map_of(smi).is_none());
    scope.collect_garbage(GcRequest::Major);
    assert_eq!(scope.length(arr), 2);
}

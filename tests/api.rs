//! Public-API behaviour: values, strings, numbers, byte arrays, interning,
//! runtime layouts, handles (local, global, weak), large objects, promotion,
//! GC events and heap statistics, and isolates on several threads.
//!
//! Every test runs with the heap verifier on and small semi-spaces, so GCs
//! happen often and any corruption panics inside the GC that caused it.

mod common;

use common::*;
use isogc::*;
use std::sync::Barrier;

fn new_isolate(platform: &Platform) -> Isolate {
    Isolate::new(platform, test_config()).unwrap()
}

/// Allocates `n` unreachable arrays of `slots` slots (GC pressure).
fn churn(scope: &mut HandleScope<'_>, n: usize, slots: usize) {
    let mut inner = HandleScope::new(scope);
    for _ in 0..n {
        let mut garbage = HandleScope::new(&mut inner);
        garbage.new_fixed_array(slots).unwrap();
    }
}

/// Minor, Major, Minor.
fn collect_all(scope: &mut HandleScope<'_>) {
    scope.collect_garbage(GcRequest::Minor);
    scope.collect_garbage(GcRequest::Major);
    scope.collect_garbage(GcRequest::Minor);
}

fn space(stats: &HeapStats, name: &str) -> SpaceStats {
    stats.space(name).unwrap_or_else(|| panic!("no space {name}")).clone()
}

/// Objects of the space called `name` now, counted by a heap walk.
fn objects(isolate: &Isolate, name: &str) -> usize {
    isolate.heap_object_counts().space(name).unwrap_or_else(|| panic!("no space {name}")).objects
}

// ----- Smis -------------------------------------------------------------------

#[test]
fn smis_round_trip_through_fields_including_min_and_max() {
    let platform = Platform::new(2).unwrap();
    let mut isolate = new_isolate(&platform);
    let mut scope = HandleScope::new(&mut isolate);
    let values = [Smi::MIN, Smi::MIN + 1, i32::MIN as i64, -1, 0, 1, i32::MAX as i64, Smi::MAX - 1, Smi::MAX];
    assert_eq!(Smi::MAX, (1 << 62) - 1);
    assert_eq!(Smi::MIN, -(1 << 62));
    assert!(Smi::new(Smi::MAX + 1).is_none());
    assert!(Smi::new(Smi::MIN - 1).is_none());
    assert!(Smi::new(i64::MAX).is_none());
    assert!(Smi::new(i64::MIN).is_none());
    assert_eq!(Smi::from(-7).value(), -7);

    let arr = scope.new_fixed_array(values.len()).unwrap();
    for (i, &v) in values.iter().enumerate() {
        scope.set(arr, i, Smi::new(v).unwrap());
    }
    for round in 0..2 {
        for (i, &v) in values.iter().enumerate() {
            assert_eq!(scope.get_smi(arr, i), Some(v), "slot {i} round {round}");
            assert_eq!(scope.get_number(arr, i), Some(v as f64));
            assert!(scope.field_is(arr, i, Smi::new(v).unwrap()));
            let l = scope.get(arr, i);
            assert_eq!(scope.to_smi(l), Some(v));
            assert_eq!(scope.instance_type(l), None);
            let fresh = scope.smi(Smi::new(v).unwrap());
            assert!(scope.same_value(l, fresh));
        }
        assert!(!scope.field_is(arr, 0, Smi::new(Smi::MAX).unwrap()));
        collect_all(&mut scope);
    }
}

// ----- Oddballs ---------------------------------------------------------------

#[test]
fn oddballs_are_distinct_and_each_satisfies_only_its_predicate() {
    let platform = Platform::new(2).unwrap();
    let mut isolate = new_isolate(&platform);
    let mut scope = HandleScope::new(&mut isolate);
    let oddballs = [scope.undefined(), scope.null(), scope.boolean(true), scope.boolean(false), scope.the_hole()];
    let check = |scope: &HandleScope<'_>, v: Local<'_, Value>, which: usize| {
        let got = [scope.is_undefined(v), scope.is_null(v), scope.is_true(v), scope.is_false(v), scope.is_the_hole(v)];
        let mut expected = [false; 5];
        expected[which] = true;
        assert_eq!(got, expected, "oddball {which}");
        assert_eq!(scope.instance_type(v), Some(InstanceType::Oddball));
        assert_eq!(scope.to_smi(v), None);
        assert_eq!(scope.to_number(v), None);
    };
    for (i, &a) in oddballs.iter().enumerate() {
        check(&scope, a, i);
        for (j, &b) in oddballs.iter().enumerate() {
            assert_eq!(scope.same_value(a, b), i == j);
        }
    }
    assert!(scope.same_value(scope.boolean(true), scope.boolean(true)));

    let arr = scope.new_fixed_array(6).unwrap();
    for (i, &o) in oddballs.iter().enumerate() {
        scope.set(arr, i, o);
    }
    collect_all(&mut scope);
    for (i, &o) in oddballs.iter().enumerate() {
        let v = scope.get(arr, i);
        check(&scope, v, i);
        assert!(scope.field_is(arr, i, o));
    }
    // Fresh slots hold undefined, and a Smi zero is not an oddball.
    let v = scope.get(arr, 5);
    check(&scope, v, 0);
    let zero = scope.smi(Smi::from(0));
    assert!(!scope.is_undefined(zero) && !scope.is_false(zero) && !scope.is_null(zero));
    let empty = scope.new_string("").unwrap();
    assert!(!scope.is_undefined(empty) && !scope.is_false(empty));
}

// ----- Strings ----------------------------------------------------------------

#[test]
fn strings_round_trip_utf8_including_multibyte_and_empty() {
    let platform = Platform::new(2).unwrap();
    let mut isolate = new_isolate(&platform);
    let mut scope = HandleScope::new(&mut isolate);
    let long: String = "αβγ🦀".repeat(300);
    let large: String = "x✓".repeat(50_000); // 200 KB: a large object
    let texts = ["", "a", "hello", "seven!!", "eight!!!", "héllo wörld ✓ 🦀 日本語", long.as_str(), large.as_str()];
    let holder = scope.new_fixed_array(texts.len()).unwrap();
    for (i, t) in texts.iter().enumerate() {
        let s = scope.new_string(t).unwrap();
        assert_eq!(scope.length(s), t.len(), "length is in bytes");
        assert_eq!(scope.to_rust_string(s), *t);
        assert!(!scope.is_internalized(s));
        assert_eq!(scope.instance_type(s), Some(InstanceType::String));
        scope.set(holder, i, s);
    }
    for round in 0..2 {
        churn(&mut scope, 300, 50);
        collect_all(&mut scope);
        for (i, t) in texts.iter().enumerate() {
            let s = scope.get(holder, i);
            let s = scope.cast::<HeapString, _>(s).unwrap();
            assert_eq!(scope.to_rust_string(s), *t, "string {i} round {round}");
            assert_eq!(scope.length(s), t.len());
        }
    }
    // Equal contents, distinct objects.
    let a = scope.new_string("same").unwrap();
    let b = scope.new_string("same").unwrap();
    assert!(!scope.same_value(a, b));
}

// ----- Heap numbers -----------------------------------------------------------

#[test]
fn heap_numbers_keep_their_exact_bits() {
    let platform = Platform::new(2).unwrap();
    let mut isolate = new_isolate(&platform);
    let mut scope = HandleScope::new(&mut isolate);
    let values = [
        0.0,
        -0.0,
        1.5,
        -1e300,
        f64::MAX,
        f64::MIN,
        f64::MIN_POSITIVE,
        5e-324,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
        f64::from_bits(0x7ff8_dead_beef_0001),
        std::f64::consts::PI,
    ];
    let arr = scope.new_fixed_array(values.len()).unwrap();
    for (i, &v) in values.iter().enumerate() {
        let n = scope.new_number(v).unwrap();
        assert_eq!(scope.number_value(n).to_bits(), v.to_bits());
        assert_eq!(scope.to_number(n).map(f64::to_bits), Some(v.to_bits()));
        assert_eq!(scope.instance_type(n), Some(InstanceType::HeapNumber));
        scope.set(arr, i, n);
    }
    for _ in 0..2 {
        churn(&mut scope, 200, 30);
        collect_all(&mut scope);
        for (i, &v) in values.iter().enumerate() {
            assert_eq!(scope.get_number(arr, i).map(f64::to_bits), Some(v.to_bits()), "number {i}");
            assert_eq!(scope.get_smi(arr, i), None);
            let n = scope.get(arr, i);
            let n = scope.cast::<HeapNumber, _>(n).unwrap();
            assert_eq!(scope.number_value(n).to_bits(), v.to_bits());
        }
    }
}

// ----- Byte arrays ------------------------------------------------------------

#[test]
fn byte_arrays_start_zeroed_and_read_back_what_was_written() {
    let platform = Platform::new(2).unwrap();
    let mut isolate = new_isolate(&platform);
    let mut scope = HandleScope::new(&mut isolate);
    let b = scope.new_byte_array(37).unwrap();
    assert_eq!(scope.length(b), 37);
    assert_eq!(scope.raw_len(b), 37);
    let mut all = [0xEEu8; 37];
    scope.read_bytes(b, 0, &mut all);
    assert_eq!(all, [0; 37]);

    scope.write_bytes(b, 0, b"start");
    scope.write_bytes(b, 30, b"the end");
    scope.write_bytes(b, 10, &[0xFF; 16]); // looks like tagged words: must never be scanned
    let mut expected = [0u8; 37];
    expected[..5].copy_from_slice(b"start");
    expected[10..26].copy_from_slice(&[0xFF; 16]);
    expected[30..].copy_from_slice(b"the end");

    let empty = scope.new_byte_array(0).unwrap();
    assert_eq!(scope.length(empty), 0);
    scope.read_bytes(empty, 0, &mut []);

    for _ in 0..2 {
        churn(&mut scope, 200, 30);
        collect_all(&mut scope);
        scope.read_bytes(b, 0, &mut all);
        assert_eq!(all, expected);
        let mut part = [0u8; 3];
        scope.read_bytes(b, 31, &mut part);
        assert_eq!(&part, b"he ");
    }
    assert_eq!(scope.instance_type(b), Some(InstanceType::ByteArray));
}

// ----- Interning --------------------------------------------------------------

#[test]
fn intern_returns_the_same_object_for_equal_contents() {
    let platform = Platform::new(2).unwrap();
    let mut isolate = new_isolate(&platform);
    let mut scope = HandleScope::new(&mut isolate);
    let a = scope.intern("foo").unwrap();
    let b = scope.intern("foo").unwrap();
    assert!(scope.same_value(a, b));
    assert!(scope.is_internalized(a));
    assert_eq!(scope.instance_type(a), Some(InstanceType::InternalizedString));
    assert_eq!(scope.to_rust_string(a), "foo");

    let plain = scope.new_string("foo").unwrap();
    assert!(!scope.same_value(a, plain));
    assert!(!scope.is_internalized(plain));
    let other = scope.intern("bar").unwrap();
    assert!(!scope.same_value(a, other));
    let crab = scope.intern("🦀 ü").unwrap();
    let eight = scope.intern("8 bytes!").unwrap();

    churn(&mut scope, 500, 40);
    collect_all(&mut scope);
    let again = scope.intern("foo").unwrap();
    assert!(scope.same_value(a, again), "interning after GCs made a new object");
    let crab2 = scope.intern("🦀 ü").unwrap();
    assert!(scope.same_value(crab, crab2));
    assert_eq!(scope.to_rust_string(crab2), "🦀 ü");
    let eight2 = scope.intern("8 bytes!").unwrap();
    assert!(scope.same_value(eight, eight2));
}

/// Regression: `allocate_string` zeroed "the padding of the last word" after
/// storing the hash; for the empty string the last word *is* the hash word,
/// so the hash became 0 and the verifier found the string-table entry filed
/// under the wrong hash after the next GC.
#[test]
fn interning_the_empty_string_keeps_its_hash() {
    let platform = Platform::new(1).unwrap();
    let mut isolate = new_isolate(&platform);
    let mut scope = HandleScope::new(&mut isolate);
    let empty = scope.intern("").unwrap();
    assert_eq!(scope.to_rust_string(empty), "");
    assert_eq!(scope.length(empty), 0);
    assert!(scope.is_internalized(empty));
    let anonymous =
        scope.new_map(&ObjectLayout { name: "".into(), tagged_fields: 1, raw_bytes: 0, ..Default::default() }).unwrap();
    scope.collect_garbage(GcRequest::Minor); // the verifier checks every table entry's hash
    scope.collect_garbage(GcRequest::Major);
    let again = scope.intern("").unwrap();
    assert!(scope.same_value(empty, again));
    assert_eq!(scope.layout(anonymous).unwrap().name, "");
}

#[test]
fn unreferenced_interned_strings_leave_the_string_table_after_a_major_gc() {
    let platform = Platform::new(2).unwrap();
    let mut isolate = new_isolate(&platform);
    let mut scope = HandleScope::new(&mut isolate);
    let keep = scope.new_fixed_array(10).unwrap();
    let base = scope.heap_stats().interned_strings;
    for i in 0..10 {
        let s = scope.intern(&format!("live-{i}")).unwrap();
        scope.set(keep, i, s);
    }
    let held_by_global = {
        let mut inner = HandleScope::new(&mut scope);
        let s = inner.intern("held by a global").unwrap();
        inner.global(s)
    };
    let weak_only = {
        let mut inner = HandleScope::new(&mut scope);
        for i in 0..100 {
            inner.intern(&format!("dead-{i}")).unwrap();
        }
        let s = inner.intern("weakly held").unwrap();
        inner.weak(s)
    };
    assert_eq!(scope.heap_stats().interned_strings, base + 112);

    // Minor GCs never drop table entries (interned strings live in old space).
    scope.collect_garbage(GcRequest::Minor);
    assert_eq!(scope.heap_stats().interned_strings, base + 112);

    scope.collect_garbage(GcRequest::Major);
    assert_eq!(scope.heap_stats().interned_strings, base + 11);
    assert!(weak_only.is_cleared());
    for i in 0..10 {
        let stored = scope.get(keep, i);
        let again = scope.intern(&format!("live-{i}")).unwrap();
        assert!(scope.same_value(stored, again), "live-{i} was re-created");
        assert_eq!(scope.to_rust_string(again), format!("live-{i}"));
    }
    let g = scope.open(&held_by_global);
    let again = scope.intern("held by a global").unwrap();
    assert!(scope.same_value(g, again));
    assert_eq!(scope.heap_stats().interned_strings, base + 11);
    // A dropped one can be interned again, as a fresh entry.
    let d = scope.intern("dead-7").unwrap();
    assert_eq!(scope.to_rust_string(d), "dead-7");
    assert_eq!(scope.heap_stats().interned_strings, base + 12);
}

// ----- Maps and runtime objects -----------------------------------------------

#[test]
fn new_map_layout_round_trips_and_objects_point_to_their_map() {
    let platform = Platform::new(2).unwrap();
    let mut isolate = new_isolate(&platform);
    let mut scope = HandleScope::new(&mut isolate);
    let layouts = [
        ObjectLayout { name: "Empty".into(), tagged_fields: 0, raw_bytes: 0, ..Default::default() },
        ObjectLayout { name: "Point".into(), tagged_fields: 2, raw_bytes: 0, ..Default::default() },
        ObjectLayout { name: "Blob".into(), tagged_fields: 0, raw_bytes: 13, ..Default::default() },
        ObjectLayout { name: "Mixed — ünïcode".into(), tagged_fields: 5, raw_bytes: 64, ..Default::default() },
        ObjectLayout { name: "x".into(), tagged_fields: 1, raw_bytes: 1, ..Default::default() },
    ];
    let maps: Vec<_> = layouts.iter().map(|l| scope.new_map(l).unwrap()).collect();
    let holder = scope.new_fixed_array(layouts.len()).unwrap();
    for (i, (l, &m)) in layouts.iter().zip(&maps).enumerate() {
        assert_eq!(scope.layout(m).as_ref(), Some(l));
        assert_eq!(scope.instance_type(m), Some(InstanceType::Map));
        let o = scope.new_object(m).unwrap();
        assert_eq!(scope.instance_type(o), Some(InstanceType::Object));
        assert_eq!(scope.field_count(o), l.tagged_fields);
        assert_eq!(scope.raw_len(o), l.raw_bytes);
        let mo = scope.map_of(o).unwrap();
        assert!(scope.same_value(mo, m));
        scope.set(holder, i, o);
    }
    // Two maps of one layout are two kinds.
    let point2 = scope.new_map(&layouts[1]).unwrap();
    assert!(!scope.same_value(point2, maps[1]));

    churn(&mut scope, 300, 40);
    collect_all(&mut scope);
    for (i, (l, &m)) in layouts.iter().zip(&maps).enumerate() {
        assert_eq!(scope.layout(m).as_ref(), Some(l));
        let o = scope.get(holder, i);
        let o = scope.cast::<Object, _>(o).unwrap();
        let mo = scope.map_of(o).unwrap();
        assert!(scope.same_value(mo, m));
        assert_eq!(scope.layout(mo).as_ref(), Some(l));
    }
}

#[test]
fn objects_keep_tagged_fields_and_raw_bytes_apart() {
    let platform = Platform::new(2).unwrap();
    let mut isolate = new_isolate(&platform);
    let mut scope = HandleScope::new(&mut isolate);
    let map = scope
        .new_map(&ObjectLayout { name: "Rec".into(), tagged_fields: 3, raw_bytes: 13, ..Default::default() })
        .unwrap();
    let o = scope.new_object(map).unwrap();
    for i in 0..3 {
        let v = scope.get(o, i);
        assert!(scope.is_undefined(v));
    }
    let mut raw = [0xAAu8; 13];
    scope.read_bytes(o, 0, &mut raw);
    assert_eq!(raw, [0; 13]);

    let name = scope.new_string("payload").unwrap();
    let child = scope.new_object(map).unwrap();
    scope.set(child, 0, Smi::from(-5));
    scope.set(o, 0, Smi::from(77));
    scope.set(o, 1, name);
    scope.set(o, 2, child);
    // Raw words that look like heap pointers (odd) must never be followed.
    let pattern: [u8; 13] = [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3, 4, 5];
    scope.write_bytes(o, 0, &pattern);
    scope.write_bytes(child, 5, &[9; 8]);

    for _ in 0..3 {
        churn(&mut scope, 300, 40);
        collect_all(&mut scope);
        assert_eq!(scope.get_smi(o, 0), Some(77));
        let n = scope.get(o, 1);
        let n = scope.cast::<HeapString, _>(n).unwrap();
        assert_eq!(scope.to_rust_string(n), "payload");
        assert!(scope.field_is(o, 2, child));
        assert_eq!(scope.get_smi(child, 0), Some(-5));
        scope.read_bytes(o, 0, &mut raw);
        assert_eq!(raw, pattern);
        scope.read_bytes(child, 0, &mut raw);
        assert_eq!(raw, [0, 0, 0, 0, 0, 9, 9, 9, 9, 9, 9, 9, 9]);
    }
}

#[test]
fn unreferenced_maps_are_collected_with_their_names() {
    let platform = Platform::new(2).unwrap();
    let mut isolate = new_isolate(&platform);
    let mut scope = HandleScope::new(&mut isolate);
    let kept = scope
        .new_map(&ObjectLayout { name: "Kept".into(), tagged_fields: 1, raw_bytes: 0, ..Default::default() })
        .unwrap();
    let used = scope
        .new_map(&ObjectLayout { name: "UsedByObject".into(), tagged_fields: 1, raw_bytes: 0, ..Default::default() })
        .unwrap();
    let obj = scope.new_object(used).unwrap();
    scope.set(obj, 0, Smi::from(1));
    let obj = scope.global(obj);
    let before = scope.heap_stats();
    let maps_before = objects(&scope, "map_space");
    {
        let mut inner = HandleScope::new(&mut scope);
        for i in 0..20 {
            let m = inner
                .new_map(&ObjectLayout {
                    name: format!("Ephemeral{i}"),
                    tagged_fields: 1,
                    raw_bytes: 0,
                    ..Default::default()
                })
                .unwrap();
            inner.new_object(m).unwrap();
        }
    }
    let during = scope.heap_stats();
    assert_eq!(objects(&scope, "map_space"), maps_before + 20);
    assert_eq!(during.interned_strings, before.interned_strings + 20);
    scope.collect_garbage(GcRequest::Major);
    let after = scope.heap_stats();
    assert_eq!(objects(&scope, "map_space"), maps_before);
    assert_eq!(after.interned_strings, before.interned_strings);
    assert_eq!(scope.layout(kept).unwrap().name, "Kept");
    let o = scope.open(&obj);
    let m = scope.map_of(o).unwrap();
    assert_eq!(scope.layout(m).unwrap().name, "UsedByObject");
    assert_eq!(scope.get_smi(o, 0), Some(1));
}

// ----- Global handles ---------------------------------------------------------

#[test]
fn global_keeps_its_object_alive_across_many_gcs() {
    let platform = Platform::new(2).unwrap();
    let mut isolate = new_isolate(&platform);
    let global_count = isolate.heap_stats().global_handles;
    let (g, w) = {
        let mut scope = HandleScope::new(&mut isolate);
        let arr = scope.new_fixed_array(50).unwrap();
        for i in 0..49 {
            scope.set(arr, i, Smi::from(i as i32 * 3));
        }
        let s = scope.new_string("kept by a global").unwrap();
        scope.set(arr, 49, s);
        (scope.global(arr), scope.weak(arr))
    };
    assert_eq!(isolate.heap_stats().global_handles, global_count + 1);
    assert_eq!(g.isolate_id(), isolate.id());
    let g2 = g.clone();
    assert_eq!(isolate.heap_stats().global_handles, global_count + 2);

    for round in 0..4 {
        let mut scope = HandleScope::new(&mut isolate);
        churn(&mut scope, 1500, 30); // several scavenges
        if round % 2 == 1 {
            scope.collect_garbage(GcRequest::Major);
        }
        let arr = scope.open(&g);
        assert_eq!(scope.length(arr), 50);
        for i in 0..49 {
            assert_eq!(scope.get_smi(arr, i), Some(i as i64 * 3), "slot {i} round {round}");
        }
        let s = scope.get(arr, 49);
        let s = scope.cast::<HeapString, _>(s).unwrap();
        assert_eq!(scope.to_rust_string(s), "kept by a global");
        let arr2 = scope.open(&g2);
        assert!(scope.same_value(arr, arr2));
    }
    let (minor, major) = isolate.gc_counts();
    assert!(minor >= 3 && major >= 2, "{minor} {major}");

    // The clone alone keeps it alive; dropping both frees it.
    drop(g);
    isolate.collect_garbage(GcRequest::Major);
    assert!(!w.is_cleared());
    drop(g2);
    assert_eq!(isolate.heap_stats().global_handles, global_count);
    isolate.collect_garbage(GcRequest::Major);
    assert!(w.is_cleared());
}

// ----- Weak handles -----------------------------------------------------------

/// A weak handle to a fresh array holding `tag` in slot 0; nothing else refers
/// to the array once this returns.
fn weak_to_garbage(isolate: &mut Isolate, tag: i32, slots: usize) -> Weak<FixedArray> {
    let mut scope = HandleScope::new(isolate);
    let arr = scope.new_fixed_array(slots).unwrap();
    scope.set(arr, 0, Smi::from(tag));
    let w = scope.weak(arr);
    let back = scope.open_weak(&w).unwrap();
    assert!(scope.same_value(arr, back));
    w
}

#[test]
fn weak_is_cleared_when_a_young_target_dies_in_a_minor_gc() {
    let platform = Platform::new(2).unwrap();
    let mut isolate = new_isolate(&platform);
    let w = weak_to_garbage(&mut isolate, 1, 4);
    assert!(!w.is_cleared());
    isolate.collect_garbage(GcRequest::Minor);
    assert!(w.is_cleared());
    let mut scope = HandleScope::new(&mut isolate);
    assert!(scope.open_weak(&w).is_none());
    scope.collect_garbage(GcRequest::Major);
    assert!(scope.open_weak(&w).is_none(), "a cleared weak handle came back");
}

#[test]
fn weak_is_cleared_when_a_young_large_target_dies_in_a_minor_gc() {
    let platform = Platform::new(2).unwrap();
    let mut isolate = new_isolate(&platform);
    let w = weak_to_garbage(&mut isolate, 2, 40_000);
    assert_eq!(objects(&isolate, "new_large_object_space"), 1);
    isolate.collect_garbage(GcRequest::Minor);
    assert!(w.is_cleared());
    assert_eq!(objects(&isolate, "new_large_object_space"), 0);
    assert_eq!(objects(&isolate, "large_object_space"), 0);
}

#[test]
fn weak_is_cleared_when_a_young_target_dies_in_a_major_gc() {
    let platform = Platform::new(2).unwrap();
    let mut isolate = new_isolate(&platform);
    let w = weak_to_garbage(&mut isolate, 3, 4);
    isolate.collect_garbage(GcRequest::Major);
    assert!(w.is_cleared());
}

#[test]
fn weak_to_an_old_target_survives_minor_gcs_and_is_cleared_by_a_major_gc() {
    let platform = Platform::new(2).unwrap();
    let mut isolate = new_isolate(&platform);
    let w = {
        let mut scope = HandleScope::new(&mut isolate);
        let arr = scope.new_fixed_array(4).unwrap();
        scope.set(arr, 0, Smi::from(4));
        let w = scope.weak(arr);
        // Two scavenges promote it.
        scope.collect_garbage(GcRequest::Minor);
        scope.collect_garbage(GcRequest::Minor);
        assert_eq!(objects(&scope, "new_space"), 0);
        w
    };
    // Dead now, but old: a scavenge does not look at it.
    isolate.collect_garbage(GcRequest::Minor);
    assert!(!w.is_cleared());
    {
        let mut scope = HandleScope::new(&mut isolate);
        let a = scope.open_weak(&w).unwrap();
        assert_eq!(scope.get_smi(a, 0), Some(4));
    }
    isolate.collect_garbage(GcRequest::Major);
    assert!(w.is_cleared());
}

#[test]
fn weak_is_not_cleared_while_a_global_or_local_holds_the_target() {
    let platform = Platform::new(2).unwrap();
    let mut isolate = new_isolate(&platform);
    let weak_count = isolate.heap_stats().weak_handles;
    let (g, wg) = {
        let mut scope = HandleScope::new(&mut isolate);
        let arr = scope.new_fixed_array(3).unwrap();
        scope.set(arr, 0, Smi::from(10));
        (scope.global(arr), scope.weak(arr))
    };
    let mut scope = HandleScope::new(&mut isolate);
    let local = scope.new_fixed_array(3).unwrap();
    scope.set(local, 0, Smi::from(20));
    let wl = scope.weak(local);
    assert_eq!(scope.heap_stats().weak_handles, weak_count + 2);
    for kind in [GcRequest::Minor, GcRequest::Major, GcRequest::Minor, GcRequest::Minor, GcRequest::Major] {
        churn(&mut scope, 100, 20);
        scope.collect_garbage(kind);
        assert!(!wg.is_cleared() && !wl.is_cleared(), "cleared by a {kind:?} GC");
        let a = scope.open_weak(&wg).unwrap();
        let b = scope.open(&g);
        assert!(scope.same_value(a, b));
        assert_eq!(scope.get_smi(a, 0), Some(10));
        let c = scope.open_weak(&wl).unwrap();
        assert!(scope.same_value(c, local));
        assert_eq!(scope.get_smi(c, 0), Some(20));
    }
    drop(wl);
    assert_eq!(scope.heap_stats().weak_handles, weak_count + 1);
}

#[test]
fn weak_follows_a_target_moved_by_a_scavenge() {
    let platform = Platform::new(2).unwrap();
    let mut isolate = new_isolate(&platform);
    let mut scope = HandleScope::new(&mut isolate);
    let map = scope
        .new_map(&ObjectLayout { name: "Cell".into(), tagged_fields: 2, raw_bytes: 8, ..Default::default() })
        .unwrap();
    let o = scope.new_object(map).unwrap();
    let s = scope.new_string("moved").unwrap();
    scope.set(o, 0, Smi::from(99));
    scope.set(o, 1, s);
    scope.write_bytes(o, 0, &0x0123_4567_89ab_cdefu64.to_le_bytes());
    let w = scope.weak(o);
    // First scavenge copies it within new space, the second promotes it.
    for gc in 0..3 {
        scope.collect_garbage(GcRequest::Minor);
        let back = scope.open_weak(&w).unwrap_or_else(|| panic!("cleared after scavenge {gc}"));
        assert!(scope.same_value(back, o));
        assert_eq!(scope.get_smi(back, 0), Some(99));
        let t = scope.get(back, 1);
        let t = scope.cast::<HeapString, _>(t).unwrap();
        assert_eq!(scope.to_rust_string(t), "moved");
        let mut raw = [0u8; 8];
        scope.read_bytes(back, 0, &mut raw);
        assert_eq!(u64::from_le_bytes(raw), 0x0123_4567_89ab_cdef);
    }
    let events = scope.gc_events();
    assert!(events.iter().any(|e| e.survived_bytes > 0), "nothing was moved: {events:?}");
    assert!(events.iter().any(|e| e.promoted_bytes > 0), "nothing was promoted: {events:?}");
}

#[test]
fn weak_to_a_read_only_oddball_is_never_cleared() {
    let platform = Platform::new(2).unwrap();
    let mut isolate = new_isolate(&platform);
    let mut scope = HandleScope::new(&mut isolate);
    let null = scope.null();
    let w = scope.weak(null);
    collect_all(&mut scope);
    let back = scope.open_weak(&w).unwrap();
    assert!(scope.is_null(back));
}

// ----- Scopes -----------------------------------------------------------------

#[test]
fn nested_scopes_pop_their_handles() {
    let platform = Platform::new(2).unwrap();
    let mut isolate = new_isolate(&platform);
    let base = isolate.heap_stats().local_handles;
    let mut outer = HandleScope::new(&mut isolate);
    assert_eq!(outer.handle_count(), 0);
    let arr = outer.new_fixed_array(10).unwrap();
    outer.smi(Smi::from(1));
    assert_eq!(outer.handle_count(), 2);
    // Oddballs are not pushed.
    outer.undefined();
    outer.boolean(true);
    assert_eq!(outer.handle_count(), 2);
    {
        let mut inner = HandleScope::new(&mut outer);
        assert_eq!(inner.handle_count(), 0);
        for i in 0..10 {
            let n = inner.new_number(i as f64 + 0.5).unwrap();
            inner.set(arr, i, n);
        }
        assert_eq!(inner.handle_count(), 10);
        {
            let mut innermost = HandleScope::new(&mut inner);
            for i in 0..5 {
                innermost.get(arr, i);
            }
            assert_eq!(innermost.handle_count(), 5);
            assert_eq!(innermost.heap_stats().local_handles, base + 17);
        }
        assert_eq!(inner.handle_count(), 10);
        assert_eq!(inner.heap_stats().local_handles, base + 12);
    }
    assert_eq!(outer.handle_count(), 2);
    assert_eq!(outer.heap_stats().local_handles, base + 2);
    // What the inner scope stored is still reachable through `arr`.
    collect_all(&mut outer);
    for i in 0..10 {
        assert_eq!(outer.get_number(arr, i), Some(i as f64 + 0.5));
    }
    drop(outer);
    assert_eq!(isolate.heap_stats().local_handles, base);
}

// ----- Large objects ----------------------------------------------------------

#[test]
fn large_arrays_are_promoted_by_a_scavenge_and_keep_young_children_alive() {
    let platform = Platform::new(2).unwrap();
    let mut isolate = new_isolate(&platform);
    let mut scope = HandleScope::new(&mut isolate);
    const N: usize = 40_000; // 320 KB > MAX_REGULAR_OBJECT_SIZE (128 KiB)
    let before = scope.heap_object_counts();
    let big = scope.new_fixed_array(N).unwrap();
    let stats = scope.heap_stats();
    let nlo = space(&stats, "new_large_object_space");
    assert_eq!(objects(&scope, "new_large_object_space"), before.objects("new_large_object_space") + 1);
    assert!(nlo.used >= N * 8, "{nlo:?}");
    assert!(nlo.committed >= nlo.used);
    assert_eq!(objects(&scope, "new_space"), before.objects("new_space"));
    for i in (0..N).step_by(7) {
        scope.set(big, i, Smi::from(i as i32));
    }
    // Young children of the young large array: scanned when it is promoted.
    for i in (5..N).step_by(5000) {
        let mut inner = HandleScope::new(&mut scope);
        let s = inner.new_string(&format!("young child {i}")).unwrap();
        inner.set(big, i, s);
    }
    let unset = scope.get(big, 1);
    assert!(scope.is_undefined(unset));

    scope.collect_garbage(GcRequest::Minor);
    let stats = scope.heap_stats();
    assert_eq!(objects(&scope, "new_large_object_space"), 0);
    assert_eq!(objects(&scope, "large_object_space"), before.objects("large_object_space") + 1);
    assert!(space(&stats, "large_object_space").used >= N * 8);
    assert_eq!(scope.length(big), N);

    // Young objects stored into the (now old) large array: only the write
    // barrier's remembered set keeps them alive through scavenges.
    for i in (3..N).step_by(1000) {
        let mut inner = HandleScope::new(&mut scope);
        let n = inner.new_number(i as f64 * 0.5).unwrap();
        inner.set(big, i, n);
        let s = inner.new_string(&format!("s{i}")).unwrap();
        inner.set(big, i + 1, s);
    }
    for round in 0..4 {
        churn(&mut scope, 1000, 30);
        scope.collect_garbage(if round == 2 { GcRequest::Major } else { GcRequest::Minor });
        for i in (0..N).step_by(7) {
            if (i % 1000 == 3) || (i % 1000 == 4) || (i % 5000 == 5) {
                continue;
            }
            assert_eq!(scope.get_smi(big, i), Some(i as i64), "slot {i} round {round}");
        }
        for i in (5..N).step_by(5000) {
            let mut inner = HandleScope::new(&mut scope);
            let s = inner.get(big, i);
            let s = inner.cast::<HeapString, _>(s).unwrap();
            assert_eq!(inner.to_rust_string(s), format!("young child {i}"));
        }
        for i in (3..N).step_by(1000) {
            assert_eq!(scope.get_number(big, i), Some(i as f64 * 0.5), "slot {i} round {round}");
            let s = scope.get(big, i + 1);
            let s = scope.cast::<HeapString, _>(s).unwrap();
            assert_eq!(scope.to_rust_string(s), format!("s{i}"));
        }
    }
    assert_eq!(objects(&scope, "large_object_space"), 1);
}

// ----- Promotion --------------------------------------------------------------

#[test]
fn objects_surviving_two_scavenges_are_promoted_intact() {
    let platform = Platform::new(2).unwrap();
    let mut isolate = new_isolate(&platform);
    let mut scope = HandleScope::new(&mut isolate);
    let map = scope
        .new_map(&ObjectLayout { name: "Cell".into(), tagged_fields: 1, raw_bytes: 8, ..Default::default() })
        .unwrap();
    const N: usize = 1000;
    let holder = scope.new_fixed_array(N).unwrap();
    for i in 0..N {
        let mut inner = HandleScope::new(&mut scope);
        let o = inner.new_object(map).unwrap();
        inner.set(o, 0, Smi::from(i as i32));
        inner.write_bytes(o, 0, &(i as u64 * 7).to_le_bytes());
        inner.set(holder, i, o);
    }
    let s0 = scope.heap_stats();
    assert!(objects(&scope, "new_space") > N);
    let old0 = space(&s0, "old_space").used;

    scope.collect_garbage(GcRequest::Minor);
    assert_eq!(objects(&scope, "new_space"), N + 1, "first scavenge should keep them young");
    let first = scope.gc_events().last().unwrap().clone();
    assert!(first.survived_bytes >= N * 24, "{first:?}");

    scope.collect_garbage(GcRequest::Minor);
    let s2 = scope.heap_stats();
    assert_eq!(objects(&scope, "new_space"), 0, "second scavenge should promote them");
    let old2 = space(&s2, "old_space").used;
    // Each object is map + 1 field + 8 bytes = 24 bytes; plus the holder.
    assert!(old2 >= old0 + N * 24 + N * 8, "old space used {old0} -> {old2}");
    let second = scope.gc_events().last().unwrap().clone();
    assert!(second.promoted_bytes >= N * 24 + N * 8, "{second:?}");
    assert_eq!(second.survived_bytes, 0);

    for i in 0..N {
        let o = scope.get(holder, i);
        let o = scope.cast::<Object, _>(o).unwrap();
        assert_eq!(scope.get_smi(o, 0), Some(i as i64));
        let mut raw = [0u8; 8];
        scope.read_bytes(o, 0, &mut raw);
        assert_eq!(u64::from_le_bytes(raw), i as u64 * 7);
    }

    // Young objects stored into the promoted holder and into promoted cells
    // survive later scavenges through the remembered set alone.
    for i in (0..N).step_by(10) {
        let mut inner = HandleScope::new(&mut scope);
        let n = inner.new_number(i as f64 + 0.25).unwrap();
        let o = inner.get(holder, i);
        let o = inner.cast::<Object, _>(o).unwrap();
        inner.set(o, 0, n);
        let fresh = inner.new_object(map).unwrap();
        inner.set(fresh, 0, Smi::from(-(i as i32)));
        inner.set(holder, i + 1, fresh);
    }
    for _ in 0..3 {
        churn(&mut scope, 1500, 30);
        scope.collect_garbage(GcRequest::Minor);
        let mut inner = HandleScope::new(&mut scope);
        for i in (0..N).step_by(10) {
            let o = inner.get(holder, i);
            let o = inner.cast::<Object, _>(o).unwrap();
            assert_eq!(inner.get_number(o, 0), Some(i as f64 + 0.25));
            let f = inner.get(holder, i + 1);
            let f = inner.cast::<Object, _>(f).unwrap();
            assert_eq!(inner.get_smi(f, 0), Some(-(i as i64)));
        }
    }
}

#[test]
fn objects_at_the_regular_size_boundary_survive_scavenges() {
    let platform = Platform::new(2).unwrap();
    let mut isolate = new_isolate(&platform);
    let mut scope = HandleScope::new(&mut isolate);
    // FixedArray header is two words.
    let largest_regular = (MAX_REGULAR_OBJECT_SIZE - 16) / 8;
    let lengths = [largest_regular, largest_regular + 1, largest_regular - 1, largest_regular, largest_regular + 1];
    let holder = scope.new_fixed_array(lengths.len() * 2).unwrap();
    for (i, &len) in lengths.iter().enumerate() {
        let mut inner = HandleScope::new(&mut scope);
        let a = inner.new_fixed_array(len).unwrap();
        inner.set(a, 0, Smi::from(i as i32));
        inner.set(a, len - 1, Smi::from(-(i as i32)));
        inner.set(holder, i, a);
        let b = inner.new_byte_array(MAX_REGULAR_OBJECT_SIZE - 16 + i % 2).unwrap();
        inner.write_bytes(b, 0, &[i as u8 + 1; 8]);
        inner.set(holder, lengths.len() + i, b);
    }
    let stats = scope.heap_stats();
    // Two arrays and two byte arrays are one word over the boundary.
    let large = objects(&scope, "new_large_object_space") + objects(&scope, "large_object_space");
    assert_eq!(large, 4, "{stats:#?}");
    for _ in 0..2 {
        churn(&mut scope, 500, 100);
        collect_all(&mut scope);
        let mut inner = HandleScope::new(&mut scope);
        for (i, &len) in lengths.iter().enumerate() {
            let a = inner.get(holder, i);
            let a = inner.cast::<FixedArray, _>(a).unwrap();
            assert_eq!(inner.length(a), len);
            assert_eq!(inner.get_smi(a, 0), Some(i as i64));
            assert_eq!(inner.get_smi(a, len - 1), Some(-(i as i64)));
            let b = inner.get(holder, lengths.len() + i);
            let b = inner.cast::<ByteArray, _>(b).unwrap();
            let mut raw = [0u8; 8];
            inner.read_bytes(b, 0, &mut raw);
            assert_eq!(raw, [i as u8 + 1; 8]);
        }
    }
}

/// When the survivors of a scavenge fill to-space (all live, 8 KB objects,
/// one-page semi-spaces), the next young allocation fails; a second scavenge
/// (which promotes those survivors, now below the age mark) must come before
/// any full GC, not a `LastResort` mark-sweep every 256 KB.
#[test]
fn surviving_young_allocations_do_not_force_last_resort_full_gcs() {
    let platform = Platform::new(2).unwrap();
    let mut isolate = new_isolate(&platform);
    let mut scope = HandleScope::new(&mut isolate);
    let head = scope.new_fixed_array(1).unwrap();
    for i in 0..300 {
        let mut inner = HandleScope::new(&mut scope);
        let a = inner.new_fixed_array(1000).unwrap();
        let prev = inner.get(head, 0);
        inner.set(a, 0, prev);
        inner.set(a, 1, Smi::from(i));
        inner.set(head, 0, a);
    }
    let events = scope.gc_events();
    let kinds: Vec<_> = events.iter().map(|e| (e.kind, e.reason)).collect();
    assert!(events.iter().all(|e| e.reason != GcReason::LastResort), "{kinds:?}");
    // 2.4 MB live, far below the 16 MiB that starts the first major GC.
    assert_eq!(scope.gc_counts().1, 0, "{kinds:?}");
    let mut cur = scope.get(head, 0);
    let mut expect = 300;
    while let Some(a) = scope.cast::<FixedArray, _>(cur) {
        expect -= 1;
        assert_eq!(scope.get_smi(a, 1), Some(expect));
        cur = scope.get(a, 0);
    }
    assert_eq!(expect, 0);
}

// ----- GC events and statistics -----------------------------------------------

#[test]
fn gc_events_record_kind_reason_phases_and_bytes() {
    let platform = Platform::new(2).unwrap();
    let mut isolate = new_isolate(&platform);
    assert!(isolate.gc_events().is_empty());
    assert_eq!(isolate.gc_counts(), (0, 0));
    let mut scope = HandleScope::new(&mut isolate);
    let keep = scope.new_fixed_array(100).unwrap();
    scope.set(keep, 0, Smi::from(1));
    {
        let mut inner = HandleScope::new(&mut scope);
        for _ in 0..20 {
            inner.new_fixed_array(1000).unwrap(); // 160 KB of garbage
        }
    }
    scope.collect_garbage(GcRequest::Minor);
    scope.collect_garbage(GcRequest::Major);
    let events = scope.gc_events();
    assert_eq!(events.len(), 2);
    let (minor, major) = (&events[0], &events[1]);
    assert_eq!((minor.kind, minor.reason), (GcKind::Minor, GcReason::Requested));
    assert_eq!((major.kind, major.reason), (GcKind::Major, GcReason::Requested));
    assert!(minor.bytes_before >= 20 * 8000 + 800, "{minor:?}");
    assert!(minor.bytes_before - minor.bytes_after >= 20 * 8000, "garbage not freed: {minor:?}");
    assert!(minor.bytes_after >= 800);
    assert!(minor.survived_bytes >= 800);
    assert_eq!(major.bytes_before, minor.bytes_after);
    assert!(major.committed_after > 0);
    assert!(major.start >= minor.start + minor.pause);

    let phases = |e: &GcEvent| e.phases.iter().map(|p| p.0).collect::<Vec<_>>();
    assert!(phases(minor).contains(&Phase::Scavenge), "{minor:?}");
    assert!(phases(minor).contains(&Phase::Verify), "{minor:?}");
    for p in [Phase::Mark, Phase::Weak, Phase::Sweep, Phase::Verify] {
        assert!(phases(major).contains(&p), "{p:?} missing: {major:?}");
    }
    for e in &events {
        let sum: std::time::Duration = e.phases.iter().map(|p| p.1).sum();
        assert!(sum <= e.pause, "{e:?}");
    }
    assert_eq!(scope.total_gc_pause(), minor.pause + major.pause);
    assert_eq!(scope.gc_counts(), (1, 1));
    let stats = scope.heap_stats();
    assert_eq!((stats.minor_gcs, stats.major_gcs), (1, 1));
    assert_eq!(stats.total_pause, scope.total_gc_pause());

    // Filling new space triggers scavenges of their own.
    churn(&mut scope, 3000, 30);
    let events = scope.gc_events();
    let auto: Vec<_> = events[2..].iter().collect();
    assert!(!auto.is_empty());
    assert!(auto.iter().all(|e| e.reason != GcReason::Requested), "{auto:?}");
    assert!(auto.iter().any(|e| e.kind == GcKind::Minor && e.reason == GcReason::AllocationFailure), "{auto:?}");
    let (m, j) = scope.gc_counts();
    assert_eq!((m + j) as usize, events.len());
    assert!(events.windows(2).all(|w| w[0].start <= w[1].start));
    assert_eq!(scope.get_smi(keep, 0), Some(1));
}

#[test]
fn heap_stats_are_consistent_and_count_new_objects() {
    let platform = Platform::new(2).unwrap();
    let mut isolate = new_isolate(&platform);
    let mut scope = HandleScope::new(&mut isolate);
    let s0 = scope.heap_stats();
    let c0 = scope.heap_object_counts();
    let names: Vec<_> = s0.spaces.iter().map(|s| s.name).collect();
    assert_eq!(
        names,
        ["new_space", "new_large_object_space", "old_space", "map_space", "large_object_space", "read_only_space"]
    );
    assert_eq!(names, c0.spaces.iter().map(|s| s.name).collect::<Vec<_>>(), "the counts come in the same order");
    let ro = space(&s0, "read_only_space");
    assert!(c0.objects("read_only_space") >= 5 + 6, "oddballs and built-in maps: {c0:?}");
    assert!(ro.used > 0 && ro.committed == PAGE_SIZE);
    assert_eq!(s0.local_handles, 0);

    const N: usize = 100;
    let arr = scope.new_fixed_array(N).unwrap();
    for i in 0..N {
        let a = scope.new_fixed_array(3).unwrap();
        scope.set(arr, i, a);
    }
    let s1 = scope.heap_stats();
    let c1 = scope.heap_object_counts();
    let (n0, n1) = (space(&s0, "new_space"), space(&s1, "new_space"));
    assert_eq!(c1.objects("new_space"), c0.objects("new_space") + N + 1);
    assert_eq!(n1.used, n0.used + N * 40 + (N * 8 + 16), "{n0:?} {n1:?}");
    assert_eq!(s1.local_handles, N + 1);
    assert_eq!(ro, space(&s1, "read_only_space"));

    churn(&mut scope, 2000, 20);
    scope.collect_garbage(GcRequest::Major);
    scope.new_map(&ObjectLayout { name: "M".into(), tagged_fields: 0, raw_bytes: 0, ..Default::default() }).unwrap();
    scope.new_fixed_array(40_000).unwrap();
    for (stats, counts) in [(s0, c0), (s1, c1), (scope.heap_stats(), scope.heap_object_counts())] {
        assert_eq!(stats.used, stats.spaces.iter().map(|s| s.used).sum::<usize>());
        assert!(stats.committed >= stats.used, "{stats:#?}");
        for (s, c) in stats.spaces.iter().zip(&counts.spaces) {
            assert!(s.committed >= s.used, "{s:?}");
            assert!(c.objects == 0 || s.used > 0, "{s:?} {c:?}");
        }
        assert!(stats.old_generation_limit <= stats.max_old_generation);
        assert_eq!(stats.max_old_generation, HeapConfig::default().max_old_space_size);
    }
    let s2 = scope.heap_stats();
    let c2 = scope.heap_object_counts();
    assert!(c2.objects("old_space") > N, "{c2:#?}");
    assert_eq!(c2.objects("map_space"), 1);
    assert_eq!(c2.objects("new_large_object_space"), 1);
    assert!(s2.minor_gcs > 0 && s2.major_gcs == 1);
    for i in 0..N {
        let a = scope.get(arr, i);
        let a = scope.cast::<FixedArray, _>(a).unwrap();
        assert_eq!(scope.length(a), 3);
    }
}

#[test]
fn a_platform_with_zero_workers_runs_gcs_on_the_isolate_thread() {
    let platform = Platform::new(0).unwrap();
    assert_eq!(platform.workers(), 0);
    let mut isolate = new_isolate(&platform);
    let mut scope = HandleScope::new(&mut isolate);
    let keep = scope.new_fixed_array(100).unwrap();
    for i in 0..100 {
        let mut inner = HandleScope::new(&mut scope);
        let s = inner.new_string(&i.to_string()).unwrap();
        inner.set(keep, i, s);
    }
    churn(&mut scope, 2000, 30);
    collect_all(&mut scope);
    for i in 0..100 {
        let mut inner = HandleScope::new(&mut scope);
        let s = inner.get(keep, i);
        let s = inner.cast::<HeapString, _>(s).unwrap();
        assert_eq!(inner.to_rust_string(s), i.to_string());
    }
}

// ----- Isolates on threads ----------------------------------------------------

fn build_and_check_list(platform: &Platform, thread: i64, barrier: &Barrier) {
    let mut isolate = new_isolate(platform);
    let mut scope = HandleScope::new(&mut isolate);
    let node = scope
        .new_map(&ObjectLayout { name: format!("Node{thread}"), tagged_fields: 2, raw_bytes: 8, ..Default::default() })
        .unwrap();
    let head = scope.new_fixed_array(1).unwrap();
    const N: i64 = 4000;
    barrier.wait();
    for i in 0..N {
        let mut inner = HandleScope::new(&mut scope);
        let n = inner.new_object(node).unwrap();
        let value = thread * 1_000_000 + i;
        inner.set(n, 0, Smi::new(value).unwrap());
        let prev = inner.get(head, 0);
        inner.set(n, 1, prev);
        inner.write_bytes(n, 0, &(value as u64).to_le_bytes());
        inner.set(head, 0, n);
        inner.new_fixed_array(12).unwrap(); // garbage
        if i % 1500 == 1499 {
            inner.collect_garbage(GcRequest::Major);
        }
    }
    let (minor, major) = scope.gc_counts();
    assert!(minor > 0 && major >= 2, "thread {thread}: {minor} {major}");
    let mut cur = scope.get(head, 0);
    let mut expect = N;
    while let Some(o) = scope.cast::<Object, _>(cur) {
        expect -= 1;
        let value = thread * 1_000_000 + expect;
        assert_eq!(scope.get_smi(o, 0), Some(value), "thread {thread}");
        let mut raw = [0u8; 8];
        scope.read_bytes(o, 0, &mut raw);
        assert_eq!(u64::from_le_bytes(raw), value as u64, "thread {thread}");
        let m = scope.map_of(o).unwrap();
        assert_eq!(scope.layout(m).unwrap().name, format!("Node{thread}"));
        cur = scope.get(o, 1);
    }
    assert_eq!(expect, 0, "thread {thread}: list cut short");
    assert!(scope.is_undefined(cur));
}

#[test]
fn four_isolates_on_four_threads_share_a_platform_without_cross_talk() {
    let platform = Platform::new(2).unwrap();
    let barrier = Barrier::new(4);
    on_threads(4, &platform, |platform, t| build_and_check_list(platform, t as i64, &barrier));
}

#[test]
fn gc_events_carry_per_thread_spans_and_memory_usage_tracks_the_peak() {
    let platform = Platform::new(2).unwrap();
    let config = HeapConfig { new_space_per_scavenge_task: 256 * KB, ..test_config().with_semi_spaces(MB, MB) };
    let mut isolate = Isolate::new(&platform, config).unwrap();
    let before = isolate.memory_usage();
    {
        let mut scope = HandleScope::new(&mut isolate);
        let keep = scope.new_fixed_array(64).unwrap();
        for i in 0..64 {
            let a = scope.new_fixed_array(2000).unwrap();
            scope.set(keep, i, a);
        }
        scope.collect_garbage(GcRequest::Minor);
        scope.collect_garbage(GcRequest::Major);
    }
    let after = isolate.memory_usage();
    assert!(after.peak_committed >= before.committed && after.peak_committed >= after.committed);
    assert!(after.used > before.used);
    let events = isolate.gc_events();
    for e in &events {
        assert!(!e.spans.is_empty(), "{e:?}");
        // The pause's phases are spans of the isolate's thread, in the pause.
        for s in e.spans.iter().filter(|s| s.task.is_none()) {
            assert_eq!(s.thread, 0);
            assert!(s.start >= e.start && s.start + s.duration <= e.start + e.pause, "{s:?} outside {e:?}");
        }
    }
    let minor = events.iter().find(|e| e.kind == GcKind::Minor).unwrap();
    let mut tasks: Vec<_> = minor.spans.iter().filter(|s| s.phase == Phase::Scavenge).filter_map(|s| s.task).collect();
    // One span per task that ran: the job ends when its work is done, so a
    // helper that got no thread in time never runs (issue #15).
    tasks.sort_unstable();
    tasks.dedup();
    assert_eq!(tasks.len(), minor.spans.iter().filter(|s| s.phase == Phase::Scavenge && s.task.is_some()).count());
    assert!(tasks.iter().all(|&t| t < minor.scavenge_tasks), "task ids within the job's tasks: {minor:?}");
    assert!(minor.spans.iter().any(|s| s.task == Some(0) && s.thread == 0), "task 0 runs on the isolate's thread");
}

//! What a runtime needs to build its own tables and type checks: the map
//! test (`has_map`), typed field reads (`get_as`, `try_get_as`), identity
//! hashes that survive moves, string hashing and comparison without copying
//! out, and re-pointing handles (`set_local`, `Global::set`) so loop state
//! needs no heap array. Each misuse panics with a message naming it and
//! leaves the isolate usable. The heap verifier runs after every GC.

mod common;

use common::*;
use isogc::*;
use std::cmp::Ordering;

fn layout(name: &str, tagged_fields: usize) -> ObjectLayout {
    ObjectLayout { name: name.into(), tagged_fields, raw_bytes: 0, ..Default::default() }
}

// ----- The map test --------------------------------------------------------------

#[test]
fn has_map_tells_runtime_kinds_apart() {
    let platform = Platform::new(1).unwrap();
    let mut isolate = Isolate::new(&platform, test_config()).unwrap();
    let mut scope = HandleScope::new(&mut isolate);
    let point = scope.new_map(&layout("Point", 2)).unwrap();
    let pair = scope.new_map(&layout("Pair", 2)).unwrap();
    let p = scope.new_object(point).unwrap();
    let q = scope.new_object(pair).unwrap();
    let arr = scope.new_fixed_array(2).unwrap();
    let smi = scope.smi(Smi::from(3));
    scope.collect_garbage(GcRequest::Minor); // p, q and arr move
    assert!(scope.has_map(p, point) && !scope.has_map(p, pair));
    assert!(scope.has_map(q, pair) && !scope.has_map(q, point));
    assert!(!scope.has_map(arr, point), "an array is no Point");
    assert!(!scope.has_map(smi, point), "a Smi has no map");
    let arr_map = scope.map_of(arr).unwrap();
    assert!(scope.has_map(arr, arr_map));
}

// ----- Typed reads -------------------------------------------------------------

#[test]
fn get_as_reads_a_field_as_its_kind() {
    let platform = Platform::new(1).unwrap();
    let mut isolate = Isolate::new(&platform, test_config()).unwrap();
    let mut scope = HandleScope::new(&mut isolate);
    let arr = scope.new_fixed_array(3).unwrap();
    let s = scope.new_string("field").unwrap();
    let n = scope.new_number(2.5).unwrap();
    scope.set(arr, 0, s);
    scope.set(arr, 1, n);
    scope.set(arr, 2, Smi::from(9));
    scope.collect_garbage(GcRequest::Minor);
    let s2 = scope.get_as::<HeapString, _>(arr, 0);
    assert_eq!(scope.as_str(s2), "field");
    let n2 = scope.get_as::<HeapNumber, _>(arr, 1);
    assert_eq!(scope.number_value(n2), 2.5);

    let before = scope.handle_count();
    assert!(scope.try_get_as::<HeapNumber, _>(arr, 0).is_none(), "a string is no number");
    assert!(scope.try_get_as::<HeapNumber, _>(arr, 2).is_none(), "a Smi is no number");
    assert!(scope.try_get_as::<HeapNumber, _>(arr, 3).is_none(), "out of range");
    assert_eq!(scope.handle_count(), before, "a failed try_get_as makes no handle");
    assert!(scope.try_get_as::<HeapString, _>(arr, 0).is_some());
}

#[test]
fn a_typed_read_of_the_wrong_kind_panics_and_leaves_the_isolate_usable() {
    let platform = Platform::new(1).unwrap();
    let mut isolate = Isolate::new(&platform, test_config()).unwrap();
    let mut scope = HandleScope::new(&mut isolate);
    let node = scope.new_map(&layout("Node", 2)).unwrap();
    let o = scope.new_object(node).unwrap();
    let n = scope.new_number(1.0).unwrap();
    scope.set(o, 0, n);
    scope.set(o, 1, Smi::from(5));

    let msg = expect_panic("get_as of a number field as a string", || scope.get_as::<HeapString, _>(o, 0));
    assert!(msg.contains("get_as::<HeapString>"), "{msg}");
    assert!(msg.contains("field 0 of a Object holds a HeapNumber, not a HeapString"), "{msg}");
    assert!(msg.contains("try_get_as"), "the message says the alternative: {msg}");

    let msg = expect_panic("get_as of a Smi field", || scope.get_as::<FixedArray, _>(o, 1));
    assert!(msg.contains("holds the Smi 5, not a FixedArray"), "{msg}");

    let msg = expect_panic("get_as out of range", || scope.get_as::<FixedArray, _>(o, 2));
    assert!(msg.contains("index out of bounds: the len is 2 but the index is 2"), "{msg}");

    assert_eq!(scope.get_number(o, 0), Some(1.0));
    assert_usable(&mut scope);
}

// ----- Identity hashes ---------------------------------------------------------

both_modes! {
    /// A young object's identity hash stays through the scavenges that move
    /// it and promote it, and through major GCs; different objects get
    /// (almost always) different hashes; dead objects' entries go.
    fn identity_hash_is_stable_across_scavenges_and_major_gcs(mode: GcMode) {
        let platform = Platform::new(2).unwrap();
        let mut isolate = Isolate::new(&platform, test_config_in(mode)).unwrap();
        let mut scope = HandleScope::new(&mut isolate);
        let n = 1000;
        let arr = scope.new_fixed_array(n).unwrap();
        let mut hashes = Vec::new();
        for i in 0..n {
            let mut s = HandleScope::new(&mut scope);
            let o = s.new_fixed_array(3).unwrap();
            s.set(arr, i, o);
            hashes.push(s.identity_hash(o));
        }
        let check = |scope: &mut HandleScope<'_>, when: &str| {
            for (i, &h) in hashes.iter().enumerate() {
                let mut s = HandleScope::new(scope);
                let o = s.get_as::<FixedArray, _>(arr, i);
                assert_eq!(s.identity_hash(o), h, "object {i} {when}");
            }
            assert_eq!(scope.identity_hash_count(), n, "no entry was added or lost {when}");
        };
        let mut sorted = hashes.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert!(sorted.len() >= n - 2, "{} distinct hashes of {n}", sorted.len());

        check(&mut scope, "before any GC");
        scope.collect_garbage(GcRequest::Minor);
        check(&mut scope, "after the scavenge that copied them");
        scope.collect_garbage(GcRequest::Minor);
        check(&mut scope, "after the scavenge that promoted them");
        scope.collect_garbage(GcRequest::Major);
        check(&mut scope, "after a major GC");
        scope.collect_garbage(GcRequest::StartMarking);
        // Hashed while marking runs: young objects, moved by a scavenge
        // during marking, kept by finalization.
        let mut young = Vec::new();
        for i in 0..10 {
            let o = scope.new_number(i as f64).unwrap();
            young.push((o, scope.identity_hash(o)));
        }
        scope.collect_garbage(GcRequest::Minor);
        scope.collect_garbage(GcRequest::FinishMarking);
        for &(o, h) in &young {
            assert_eq!(scope.identity_hash(o), h);
        }

        // Half the objects die: their entries go with them.
        let undefined = scope.undefined();
        for i in (0..n).step_by(2) {
            scope.set(arr, i, undefined);
        }
        scope.collect_garbage(GcRequest::Major);
        scope.collect_garbage(GcRequest::FinishSweeping);
        assert_eq!(scope.identity_hash_count(), n / 2 + young.len(), "dead objects' entries were dropped");
        for i in (1..n).step_by(2) {
            let mut s = HandleScope::new(&mut scope);
            let o = s.get_as::<FixedArray, _>(arr, i);
            assert_eq!(s.identity_hash(o), hashes[i], "survivor {i}");
        }
        // A young object that dies unhashed-again leaves no entry.
        {
            let mut s = HandleScope::new(&mut scope);
            let o = s.new_fixed_array(1).unwrap();
            s.identity_hash(o);
        }
        let before = scope.identity_hash_count();
        scope.collect_garbage(GcRequest::Minor);
        assert_eq!(scope.identity_hash_count(), before - 1, "a dead young object's entry goes at the scavenge");
    }
}

both_modes! {
    /// With every movable old page evacuated at each major GC, hashed old
    /// objects move and keep their identity hashes.
    fn identity_hash_is_stable_across_compaction(mode: GcMode) {
        let platform = Platform::new(2).unwrap();
        let config = HeapConfig { stress_compaction: true, ..test_config_in(mode) };
        let mut isolate = Isolate::new(&platform, config).unwrap();
        let mut scope = HandleScope::new(&mut isolate);
        let n = 4000;
        let arr = scope.new_fixed_array(n).unwrap();
        for i in 0..n {
            let mut s = HandleScope::new(&mut scope);
            let o = s.new_fixed_array(8).unwrap();
            s.set(o, 0, Smi::from(i as i32));
            s.set(arr, i, o);
        }
        scope.collect_garbage(GcRequest::Minor);
        scope.collect_garbage(GcRequest::Minor); // all old now
        let hashes: Vec<u32> = (0..n)
            .map(|i| {
                let mut s = HandleScope::new(&mut scope);
                let o = s.get_as::<FixedArray, _>(arr, i);
                s.identity_hash(o)
            })
            .collect();
        let mut evacuated = 0;
        for _ in 0..2 {
            scope.collect_garbage(GcRequest::Major);
            evacuated += scope.gc_events().last().unwrap().evacuated_bytes;
            for (i, &h) in hashes.iter().enumerate() {
                let mut s = HandleScope::new(&mut scope);
                let o = s.get_as::<FixedArray, _>(arr, i);
                assert_eq!(s.get_smi(o, 0), Some(i as i64));
                assert_eq!(s.identity_hash(o), h, "object {i} after compaction");
            }
            assert_eq!(scope.identity_hash_count(), n);
        }
        assert!(evacuated > 0, "{mode:?}: compaction moved the objects");
    }
}

#[test]
fn the_identity_hash_of_a_smi_panics_and_leaves_the_isolate_usable() {
    let platform = Platform::new(1).unwrap();
    let mut isolate = Isolate::new(&platform, test_config()).unwrap();
    let mut scope = HandleScope::new(&mut isolate);
    let v = scope.smi(Smi::from(-12));
    assert_eq!(scope.try_identity_hash(v), None, "a Smi has no identity");
    let msg = expect_panic("identity_hash of a Smi", || scope.identity_hash(v));
    assert!(msg.contains("identity_hash of the Smi -12"), "{msg}");
    assert!(msg.contains("has no identity") && msg.contains("try_identity_hash"), "{msg}");
    assert_eq!(scope.identity_hash_count(), 0);
    // Oddballs are objects: they have identity hashes.
    let u = scope.undefined();
    let h = scope.identity_hash(u);
    assert_eq!(scope.try_identity_hash(u), Some(h));
    assert_usable(&mut scope);
}

// ----- Strings -----------------------------------------------------------------

#[test]
fn strings_hash_and_compare_in_place_including_non_ascii() {
    let platform = Platform::new(1).unwrap();
    let mut isolate = Isolate::new(&platform, test_config()).unwrap();
    let mut scope = HandleScope::new(&mut isolate);
    let texts = ["", "a", "ab", "abc", "Zürich", "zürich", "日本語", "日本", "🦀 crab", "e\u{301}", "é"];
    let plain: Vec<_> = texts.iter().map(|t| scope.new_string(t).unwrap()).collect();
    let again: Vec<_> = texts.iter().map(|t| scope.new_string(t).unwrap()).collect();
    let interned: Vec<_> = texts.iter().map(|t| scope.intern(t).unwrap()).collect();
    scope.collect_garbage(GcRequest::Minor); // young strings move
    for (i, &t) in texts.iter().enumerate() {
        assert_eq!(scope.as_str(plain[i]), t);
        assert_eq!(scope.as_str(interned[i]), t);
        assert_eq!(scope.string_hash(plain[i]), hash_str(t), "{t:?}");
        assert_eq!(scope.string_hash(interned[i]), hash_str(t));
        assert!(scope.string_eq(plain[i], t));
        assert!(scope.string_equals(plain[i], again[i]), "{t:?}: equal contents, two objects");
        assert!(scope.string_equals(plain[i], interned[i]));
        assert!(!scope.same_value(plain[i], again[i]));
        for (j, &u) in texts.iter().enumerate() {
            assert_eq!(scope.string_equals(plain[i], interned[j]), t == u, "{t:?} vs {u:?}");
            assert_eq!(scope.string_equals(interned[i], interned[j]), t == u);
            assert_eq!(scope.string_eq(plain[i], u), t == u);
            assert_eq!(scope.string_cmp(plain[i], again[j]), t.cmp(u), "{t:?} vs {u:?}");
        }
    }
    // Canonically different spellings of "é" are different strings.
    assert!(!scope.string_eq(plain[9], "é"));
    assert_eq!(scope.string_cmp(plain[4], plain[5]), Ordering::Less, "'Z' < 'z'");
    // Identity is not content: equal strings have their own identity hashes
    // (almost always different).
    let (h1, h2) = (scope.identity_hash(plain[6]), scope.identity_hash(again[6]));
    let (h3, h4) = (scope.identity_hash(plain[7]), scope.identity_hash(again[7]));
    assert!(h1 != h2 || h3 != h4);
}

// ----- Re-pointing handles -----------------------------------------------------

both_modes! {
    /// Loop state in one outer handle, re-pointed from each iteration's
    /// scope, survives GCs; the handle count stays flat.
    fn a_re_pointed_local_carries_loop_state_through_gcs(mode: GcMode) {
        let platform = Platform::new(2).unwrap();
        let mut isolate = Isolate::new(&platform, test_config_in(mode)).unwrap();
        let mut scope = HandleScope::new(&mut isolate);
        let cell = scope.new_map(&layout("Cell", 2)).unwrap();
        let null = scope.null();
        let acc = scope.local(null);
        let count = scope.smi(Smi::from(0));
        let before = scope.handle_count();
        for i in 0..2000 {
            let mut s = HandleScope::new(&mut scope);
            let c = s.new_object(cell).unwrap();
            s.set(c, 0, Smi::from(i));
            s.set(c, 1, acc);
            s.set_local(acc, c.as_value());
            s.set_local_smi(count, Smi::from(i + 1));
            s.new_fixed_array(32).unwrap(); // garbage
            if i % 500 == 0 {
                s.collect_garbage(GcRequest::Major);
            }
        }
        assert_eq!(scope.handle_count(), before, "no handle outlived its iteration");
        assert!(scope.is_null(null), "the shared null was not re-pointed");
        assert_eq!(scope.to_smi(count), Some(2000));
        scope.collect_garbage(GcRequest::Minor);
        let mut s = HandleScope::new(&mut scope);
        let cursor = s.local(acc);
        for i in (0..2000).rev() {
            let c = s.cast::<Object, _>(cursor).unwrap();
            assert!(s.has_map(c, cell));
            assert_eq!(s.get_smi(c, 0), Some(i));
            let next = s.get(c, 1);
            s.set_local(cursor, next);
        }
        assert!(s.is_null(cursor));
    }
}

both_modes! {
    /// `Global::set` re-points a global to another object, in its slot; the
    /// new target is kept, the old one may die.
    fn a_re_pointed_global_keeps_its_new_target(mode: GcMode) {
        let platform = Platform::new(2).unwrap();
        let mut isolate = Isolate::new(&platform, test_config_in(mode)).unwrap();
        let mut g = {
            let mut s = HandleScope::new(&mut isolate);
            let first = s.new_string("first").unwrap();
            s.global(first)
        };
        let weak_first = {
            let mut s = HandleScope::new(&mut isolate);
            let first = s.open(&g);
            let w = s.weak(first);
            let second = s.new_string("second").unwrap();
            g.set(&s, second);
            w
        };
        let mut s = HandleScope::new(&mut isolate);
        s.collect_garbage(GcRequest::Minor);
        s.collect_garbage(GcRequest::Major);
        let v = s.open(&g);
        assert_eq!(s.as_str(v), "second");
        assert!(weak_first.is_cleared(), "the old target is no longer held");
        let third = s.new_string("third").unwrap();
        s.set_global(&mut g, third);
        s.collect_garbage(GcRequest::Minor);
        let v = s.open(&g);
        assert_eq!(s.as_str(v), "third");
    }
}

#[test]
fn re_pointing_a_handle_with_another_isolate_panics_and_leaves_both_usable() {
    let platform = Platform::new(1).unwrap();
    let mut a = Isolate::new(&platform, test_config()).unwrap();
    let mut b = Isolate::new(&platform, test_config()).unwrap();
    let mut ga = {
        let mut s = HandleScope::new(&mut a);
        let x = s.new_fixed_array(1).unwrap();
        s.global(x)
    };
    let mut sa = HandleScope::new(&mut a);
    let mut sb = HandleScope::new(&mut b);
    let la = sa.new_fixed_array(2).unwrap();
    let lb = sb.new_fixed_array(3).unwrap();

    let msg = expect_panic("set_local with another isolate's value", || sa.set_local(la, lb));
    assert!(msg.contains("a Local of isolate") && msg.contains("was used with isolate"), "{msg}");
    let msg = expect_panic("set_local of another isolate's handle", || sb.set_local(la, lb));
    assert!(msg.contains("a Local of isolate"), "{msg}");
    let msg = expect_panic("Global::set with another isolate's value", || ga.set(&sa, lb));
    assert!(msg.contains("a Local of isolate"), "{msg}");
    let msg = expect_panic("Global::set through another isolate's scope", || ga.set(&sb, lb));
    assert!(msg.contains("a Global of isolate"), "{msg}");

    assert_eq!((sa.length(la), sb.length(lb)), (2, 3), "nothing was re-pointed");
    let g = sa.open(&ga);
    assert_eq!(sa.length(g), 1);
    assert_usable(&mut sa);
    assert_usable(&mut sb);
}

#[test]
fn re_pointing_a_shared_oddball_handle_panics_and_leaves_the_isolate_usable() {
    let platform = Platform::new(1).unwrap();
    let mut isolate = Isolate::new(&platform, test_config()).unwrap();
    let mut scope = HandleScope::new(&mut isolate);
    let undefined = scope.undefined();
    let msg = expect_panic("set_local on undefined()", || scope.set_local_smi(undefined, Smi::from(1)));
    assert!(msg.contains("set_local on the shared handle") && msg.contains("HandleScope::local"), "{msg}");
    assert!(scope.is_undefined(undefined), "undefined is still undefined");
    let mine = scope.local(undefined);
    scope.set_local_smi(mine, Smi::from(1));
    assert_eq!(scope.to_smi(mine), Some(1));
    assert!(scope.is_undefined(undefined));
    assert_usable(&mut scope);
}

//! Ephemeron tables (WeakMap / WeakSet), WeakRefs and finalization
//! registries on the public API: the classic ephemeron cases, in both
//! modes and under stress compaction (every major GC moves every movable
//! old page), with the heap verifier on after every GC.

mod common;

use common::{both_modes, test_config_in};
use isogc::*;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// The test configuration with stress compaction: every major GC moves
/// every movable old object, so lookups by identity are checked across
/// moves.
fn config(mode: GcMode) -> HeapConfig {
    HeapConfig { stress_compaction: true, ..test_config_in(mode) }
}

/// A major GC through the mode's own path: in concurrent mode a marking
/// cycle started and finalized (the ephemeron rounds of the background
/// markers, then the pause's fixpoint); in stop-the-world mode the atomic
/// GC.
fn full_gc(s: &mut HandleScope<'_>) {
    s.collect_garbage(GcRequest::StartMarking);
    // Let the background markers run a little before the pause.
    std::thread::sleep(std::time::Duration::from_millis(2));
    s.collect_garbage(GcRequest::FinishMarking);
}

/// A fresh object with one field.
fn object<'s>(s: &mut HandleScope<'s>, map: Local<'_, Map>, field: impl IntoValue) -> Local<'s, Object> {
    let o = s.new_object(map).unwrap();
    s.set(o, 0, field);
    o
}

/// Is a weak handle's target alive? (Asked in a scope of its own, so the
/// handle it opens does not keep the target alive afterwards.)
fn alive<T>(s: &mut HandleScope<'_>, w: &Weak<T>) -> bool {
    HandleScope::new(s).open_weak(w).is_some()
}

fn cell_map<'s>(s: &mut HandleScope<'s>) -> Local<'s, Map> {
    s.new_map(&ObjectLayout { name: "Cell".into(), tagged_fields: 1, raw_bytes: 0, ..Default::default() }).unwrap()
}

both_modes! {
    fn lookups_by_identity_survive_scavenges_and_compaction(mode: GcMode) {
        let platform = Platform::new(2).unwrap();
        let mut isolate = Isolate::new(&platform, config(mode)).unwrap();
        let mut s = HandleScope::new(&mut isolate);
        let map = cell_map(&mut s);
        let table = s.new_ephemeron_table().unwrap();
        let keys = s.new_fixed_array(200).unwrap();
        for i in 0..200 {
            let k = object(&mut s, map, Smi::from(i as i32));
            s.set(keys, i, k);
            let v = s.new_number(i as f64).unwrap();
            s.ephemeron_set(table, k, v).unwrap();
        }
        for round in 0..3 {
            s.collect_garbage(GcRequest::Minor);
            s.collect_garbage(GcRequest::Minor);
            if round == 1 {
                full_gc(&mut s);
            } else {
                s.collect_garbage(GcRequest::Major);
            }
            assert_eq!(s.ephemeron_len(table), 200);
            for i in 0..200 {
                let k = s.get(keys, i);
                let v = s.ephemeron_get(table, k).expect("a live key's entry");
                assert_eq!(s.to_number(v), Some(i as f64), "key {i} after round {round}");
            }
        }
        // Delete half; the others stay.
        for i in (0..200).step_by(2) {
            let k = s.get(keys, i);
            assert!(s.ephemeron_delete(table, k));
            assert!(!s.ephemeron_has(table, k));
        }
        s.collect_garbage(GcRequest::Major);
        assert_eq!(s.ephemeron_len(table), 100);
        let entries = s.ephemeron_entries(table);
        assert_eq!(entries.len(), 100);
        for (k, v) in entries {
            let i = s.get_smi(s.cast::<Object, _>(k).unwrap(), 0).unwrap();
            assert_eq!(i % 2, 1);
            assert_eq!(s.to_number(v), Some(i as f64));
        }
        let w = s.heap_stats().weak;
        assert_eq!((w.ephemeron_tables, w.ephemeron_entries), (1, 100));
    }
}

both_modes! {
    fn a_value_that_refers_to_its_own_key_dies_with_it(mode: GcMode) {
        let platform = Platform::new(2).unwrap();
        let mut isolate = Isolate::new(&platform, config(mode)).unwrap();
        let mut s = HandleScope::new(&mut isolate);
        let map = cell_map(&mut s);
        let table = s.new_ephemeron_table().unwrap();
        let (wk, wv) = {
            let mut inner = HandleScope::new(&mut s);
            let k = inner.new_fixed_array(1).unwrap();
            let v = object(&mut inner, map, k);
            inner.ephemeron_set(table, k, v).unwrap();
            (inner.weak(k), inner.weak(v))
        };
        // A scavenge keeps values strong (as V8's): the cycle survives it.
        s.collect_garbage(GcRequest::Minor);
        assert_eq!(s.ephemeron_len(table), 1);
        full_gc(&mut s);
        assert!(s.open_weak(&wk).is_none(), "the key is kept only by its own value");
        assert!(s.open_weak(&wv).is_none());
        assert_eq!(s.ephemeron_len(table), 0, "the dead key's entry is cleared");
    }
}

both_modes! {
    fn chains_resolve_across_tables_and_die_with_their_first_key(mode: GcMode) {
        let platform = Platform::new(2).unwrap();
        let mut isolate = Isolate::new(&platform, config(mode)).unwrap();
        let mut s = HandleScope::new(&mut isolate);
        let n = 40; // past MAX_PAUSE_ROUNDS: the pause's linear fallback runs
        let tables = s.new_fixed_array(n).unwrap();
        for i in 0..n {
            let t = s.new_ephemeron_table().unwrap();
            s.set(tables, i, t);
        }
        let first = s.new_fixed_array(1).unwrap();
        let weak_last = {
            let mut inner = HandleScope::new(&mut s);
            // Table i maps key i to key i+1; entries inserted from the end, so
            // every round resolves one link.
            let keys: Vec<_> = (0..n).map(|_| inner.new_fixed_array(1).unwrap()).collect();
            for i in (0..n).rev() {
                let t = inner.get_as::<EphemeronTable, _>(tables, i);
                let k = if i == 0 { first } else { keys[i - 1] };
                inner.ephemeron_set(t, k, keys[i]).unwrap();
            }
            inner.weak(keys[n - 1])
        };
        for _ in 0..2 {
            full_gc(&mut s);
            s.collect_garbage(GcRequest::Major);
        }
        assert!(alive(&mut s, &weak_last), "the chain is alive while its first key is");
        // Walk the chain by lookups.
        {
            let mut inner = HandleScope::new(&mut s);
            let t0 = inner.get_as::<EphemeronTable, _>(tables, 0);
            let mut k = inner.ephemeron_get(t0, first).expect("link 0 lost");
            for i in 1..n {
                let t = inner.get_as::<EphemeronTable, _>(tables, i);
                k = inner.ephemeron_get(t, k).unwrap_or_else(|| panic!("link {i} lost"));
            }
            let last = inner.open_weak(&weak_last).unwrap();
            assert!(inner.same_value(k, last));
        }
        // Drop the first key: the whole chain dies, the tables empty.
        let t0 = s.get_as::<EphemeronTable, _>(tables, 0);
        assert!(s.ephemeron_delete(t0, first));
        full_gc(&mut s);
        s.collect_garbage(GcRequest::Major);
        assert!(!alive(&mut s, &weak_last), "nothing keeps the chain now");
        for i in 1..n {
            let t = s.get_as::<EphemeronTable, _>(tables, i);
            assert_eq!(s.ephemeron_len(t), 0, "table {i}");
        }
    }
}

both_modes! {
    fn a_key_kept_only_by_another_tables_value_keeps_its_entry(mode: GcMode) {
        let platform = Platform::new(2).unwrap();
        let mut isolate = Isolate::new(&platform, config(mode)).unwrap();
        let mut s = HandleScope::new(&mut isolate);
        let map = cell_map(&mut s);
        let t1 = s.new_ephemeron_table().unwrap();
        let t2 = s.new_ephemeron_table().unwrap();
        let a = s.new_fixed_array(1).unwrap();
        let (wb, wc) = {
            let mut inner = HandleScope::new(&mut s);
            let b = inner.new_fixed_array(1).unwrap();
            let c = object(&mut inner, map, Smi::from(42));
            // Inserted in the order that needs two rounds.
            inner.ephemeron_set(t2, b, c).unwrap();
            inner.ephemeron_set(t1, a, b).unwrap();
            (inner.weak(b), inner.weak(c))
        };
        full_gc(&mut s);
        s.collect_garbage(GcRequest::Major);
        let b = s.open_weak(&wb).expect("b is t1's value for a live key");
        let c = s.ephemeron_get(t2, b).expect("b's entry in t2");
        let c = s.cast::<Object, _>(c).unwrap();
        assert_eq!(s.get_smi(c, 0), Some(42));
        let wc = s.open_weak(&wc).unwrap();
        assert!(s.same_value(c, wc));
    }
}

both_modes! {
    fn an_old_tables_young_keys_are_weak_in_a_scavenge(mode: GcMode) {
        let platform = Platform::new(2).unwrap();
        let mut isolate = Isolate::new(&platform, config(mode)).unwrap();
        let mut s = HandleScope::new(&mut isolate);
        let map = cell_map(&mut s);
        let table = s.new_ephemeron_table().unwrap();
        s.collect_garbage(GcRequest::Major); // the table is old now
        let live = object(&mut s, map, Smi::from(1));
        let wdead = {
            let mut inner = HandleScope::new(&mut s);
            let dead = object(&mut inner, map, Smi::from(2));
            inner.ephemeron_set(table, dead, Smi::from(20)).unwrap();
            inner.ephemeron_set(table, live, Smi::from(10)).unwrap();
            inner.weak(dead)
        };
        assert_eq!(s.ephemeron_len(table), 2);
        s.collect_garbage(GcRequest::Minor);
        assert!(s.open_weak(&wdead).is_none(), "a young key the old table alone held died in the scavenge");
        assert_eq!(s.ephemeron_len(table), 1);
        let v = s.ephemeron_get(table, live).expect("the moved young key is found");
        assert_eq!(s.to_smi(v), Some(10));
    }
}

both_modes! {
    fn a_weak_ref_follows_moves_and_is_cleared_to_undefined(mode: GcMode) {
        let platform = Platform::new(2).unwrap();
        let mut isolate = Isolate::new(&platform, config(mode)).unwrap();
        let mut s = HandleScope::new(&mut isolate);
        let map = cell_map(&mut s);
        // The target is held by a global handle alone, which is dropped below.
        let target = {
            let mut inner = HandleScope::new(&mut s);
            let t = object(&mut inner, map, Smi::from(7));
            inner.global(t)
        };
        let t = s.open(&target);
        let wr = s.new_weak_ref(t).unwrap();
        // Held in a runtime object's field, as a weak field.
        let holder = object(&mut s, map, wr);
        let young = {
            let mut inner = HandleScope::new(&mut s);
            let t = inner.new_fixed_array(1).unwrap();
            let wr = inner.new_weak_ref(t).unwrap();
            inner.global(wr)
        };
        s.collect_garbage(GcRequest::Minor);
        let y = s.open(&young);
        let yt = s.weak_ref_deref(y);
        assert!(s.is_undefined(yt), "a young target held only weakly dies in a scavenge");
        for _ in 0..2 {
            s.collect_garbage(GcRequest::Minor);
            full_gc(&mut s);
            s.collect_garbage(GcRequest::Major);
            let wr = s.get_as::<WeakRef, _>(holder, 0);
            let t = s.weak_ref_deref(wr);
            let expected = s.open(&target);
            assert!(s.same_value(t, expected), "the WeakRef follows its target's moves");
        }
        assert_eq!(s.heap_stats().weak.weak_ref_targets, 1);
        drop(target);
        // The scope's own handles to the target go with a nested scope's
        // worth of work: open one, read through the WeakRef there, close it.
        let holder = s.global(holder);
        drop(s);
        let mut s = HandleScope::new(&mut isolate);
        full_gc(&mut s);
        let holder = s.open(&holder);
        let wr = s.get_as::<WeakRef, _>(holder, 0);
        let t = s.weak_ref_deref(wr);
        assert!(s.is_undefined(t), "cleared to undefined once the target died");
        let w = s.heap_stats().weak;
        assert_eq!((w.weak_refs, w.weak_ref_targets), (2, 0));
    }
}

#[test]
fn a_weak_ref_target_read_and_stored_during_marking_survives() {
    let platform = Platform::new(2).unwrap();
    let mut isolate = Isolate::new(&platform, config(GcMode::Concurrent)).unwrap();
    let mut s = HandleScope::new(&mut isolate);
    let map = cell_map(&mut s);
    let holder = object(&mut s, map, Smi::from(0));
    // The target's only strong reference is grey's field.
    let grey = object(&mut s, map, Smi::from(0));
    let wr = {
        let mut inner = HandleScope::new(&mut s);
        let t = object(&mut inner, map, Smi::from(5));
        inner.set(grey, 0, t);
        let wr = inner.new_weak_ref(t).unwrap();
        inner.global(wr)
    };
    s.collect_garbage(GcRequest::Major); // everything old
    s.collect_garbage(GcRequest::StartMarking);
    assert!(s.is_marking());
    {
        let mut inner = HandleScope::new(&mut s);
        let wr = inner.open(&wr);
        let t = inner.weak_ref_deref(wr);
        assert!(!inner.is_undefined(t));
        inner.set(holder, 0, t); // the insertion barrier shades it
        inner.set(grey, 0, Smi::from(0)); // racing with the marker's scan
    }
    s.collect_garbage(GcRequest::FinishMarking);
    let t = s.get_as::<Object, _>(holder, 0);
    assert_eq!(s.get_smi(t, 0), Some(5));
    let wr = s.open(&wr);
    let t2 = s.weak_ref_deref(wr);
    assert!(s.same_value(t, t2), "the WeakRef was not cleared");
}

#[test]
fn entries_set_while_marking_survive_the_cycle() {
    let platform = Platform::new(2).unwrap();
    let mut isolate = Isolate::new(&platform, config(GcMode::Concurrent)).unwrap();
    let mut s = HandleScope::new(&mut isolate);
    let map = cell_map(&mut s);
    let table = s.new_ephemeron_table().unwrap();
    let key = object(&mut s, map, Smi::from(1));
    s.collect_garbage(GcRequest::Major);
    s.collect_garbage(GcRequest::StartMarking);
    std::thread::sleep(std::time::Duration::from_millis(2)); // the table may be scanned already
    {
        let mut inner = HandleScope::new(&mut s);
        let v = object(&mut inner, map, Smi::from(99));
        inner.ephemeron_set(table, key, v).unwrap();
    }
    s.collect_garbage(GcRequest::FinishMarking);
    s.collect_garbage(GcRequest::Major);
    let v = s.ephemeron_get(table, key).unwrap();
    assert_eq!(s.get_smi(s.cast::<Object, _>(v).unwrap(), 0), Some(99));
}

both_modes! {
    fn finalization_delivers_held_values_after_the_target_dies(mode: GcMode) {
        let platform = Platform::new(2).unwrap();
        let mut isolate = Isolate::new(&platform, config(mode)).unwrap();
        let mut s = HandleScope::new(&mut isolate);
        let registry = s.new_finalization_registry().unwrap();
        let token = s.new_fixed_array(0).unwrap();
        let kept = s.new_fixed_array(1).unwrap();
        {
            let mut inner = HandleScope::new(&mut s);
            for i in 0..3 {
                let target = inner.new_fixed_array(1).unwrap();
                let held = inner.new_string(&format!("held {i}")).unwrap();
                inner.finalization_register(registry, target, held, Some(token)).unwrap();
            }
            let unregistered = inner.new_fixed_array(1).unwrap();
            let other = inner.new_fixed_array(0).unwrap();
            inner.finalization_register(registry, unregistered, Smi::from(9), Some(other)).unwrap();
            assert_eq!(inner.finalization_unregister(registry, other), 1);
            inner.finalization_register(registry, kept, Smi::from(1), None::<Local<'_, Value>>).unwrap();
        }
        assert_eq!(s.finalization_counts(registry), (4, 0));
        // Held values survive GCs until delivered (strings that move).
        s.collect_garbage(GcRequest::Minor);
        full_gc(&mut s);
        s.collect_garbage(GcRequest::Major);
        assert_eq!(s.finalization_counts(registry), (1, 3), "three targets died, one is alive");
        assert_eq!(s.heap_stats().weak.finalization_ready, 3);
        let mut got = Vec::new();
        let n = s
            .drain_finalization(registry, |scope, held| {
                let h = scope.cast::<HeapString, _>(held).unwrap();
                got.push(scope.to_rust_string(h));
            })
            .unwrap();
        assert_eq!(n, 3);
        got.sort();
        assert_eq!(got, ["held 0", "held 1", "held 2"]);
        assert_eq!(s.finalization_counts(registry), (1, 0));
        assert_eq!(s.finalization_unregister(registry, token), 0, "delivered cells are gone");
    }
}

#[test]
fn a_panicking_finalization_callback_leaves_the_rest_queued() {
    let platform = Platform::new(1).unwrap();
    let mut isolate = Isolate::new(&platform, config(GcMode::Concurrent)).unwrap();
    let mut s = HandleScope::new(&mut isolate);
    let registry = s.new_finalization_registry().unwrap();
    {
        let mut inner = HandleScope::new(&mut s);
        for i in 0..3 {
            let target = inner.new_fixed_array(1).unwrap();
            inner.finalization_register(registry, target, Smi::from(i), None::<Local<'_, Value>>).unwrap();
        }
    }
    s.collect_garbage(GcRequest::Major);
    assert_eq!(s.finalization_counts(registry), (0, 3));
    let r = catch_unwind(AssertUnwindSafe(|| {
        let _ = s.drain_finalization(registry, |_, _| panic!("callback failed"));
    }));
    assert!(r.is_err());
    assert_eq!(s.finalization_counts(registry), (0, 2), "the panicking delivery counts; the rest wait");
    s.collect_garbage(GcRequest::Major);
    let mut got = Vec::new();
    assert_eq!(s.drain_finalization(registry, |scope, h| got.push(scope.to_smi(h).unwrap())), Ok(2));
    got.sort();
    assert_eq!(got.len(), 2);
    common::assert_usable(&mut s);
}

#[test]
fn values_that_cannot_be_held_weakly_are_errors() {
    let platform = Platform::new(1).unwrap();
    let mut isolate = Isolate::new(&platform, config(GcMode::Concurrent)).unwrap();
    let mut s = HandleScope::new(&mut isolate);
    let table = s.new_ephemeron_table().unwrap();
    let smi = s.smi(Smi::from(3));
    assert_eq!(s.ephemeron_set(table, smi, Smi::from(1)), Err(WeakTargetError::Smi(3)));
    let undefined = s.undefined();
    assert_eq!(s.ephemeron_set(table, undefined, Smi::from(1)), Err(WeakTargetError::ReadOnly));
    assert!(s.ephemeron_get(table, smi).is_none());
    assert!(!s.ephemeron_delete(table, undefined));
    assert_eq!(s.new_weak_ref(smi).err(), Some(WeakTargetError::Smi(3)));
    let registry = s.new_finalization_registry().unwrap();
    let t = s.new_fixed_array(0).unwrap();
    assert_eq!(s.finalization_register(registry, t, t, None::<Local<'_, Value>>), Err(WeakTargetError::HeldIsTarget));
    assert_eq!(s.finalization_register(registry, t, Smi::from(1), Some(smi)), Err(WeakTargetError::Smi(3)));
    assert_eq!(s.ephemeron_len(table), 0);
    common::assert_usable(&mut s);
}

#[test]
#[should_panic(expected = "was used with isolate")]
fn a_table_of_another_isolate_panics() {
    let platform = Platform::new(1).unwrap();
    let mut a = Isolate::new(&platform, config(GcMode::Concurrent)).unwrap();
    let mut b = Isolate::new(&platform, config(GcMode::Concurrent)).unwrap();
    let mut sa = HandleScope::new(&mut a);
    let table = sa.new_ephemeron_table().unwrap();
    let mut sb = HandleScope::new(&mut b);
    let k = sb.new_fixed_array(0).unwrap();
    let _ = sb.ephemeron_set(table, k, Smi::from(1));
}

#[test]
#[should_panic(expected = "was used with isolate")]
fn a_registry_of_another_isolate_panics() {
    let platform = Platform::new(1).unwrap();
    let mut a = Isolate::new(&platform, config(GcMode::Concurrent)).unwrap();
    let mut b = Isolate::new(&platform, config(GcMode::Concurrent)).unwrap();
    let mut sa = HandleScope::new(&mut a);
    let registry = sa.new_finalization_registry().unwrap();
    let mut sb = HandleScope::new(&mut b);
    let t = sb.new_fixed_array(0).unwrap();
    let _ = sb.finalization_register(registry, t, Smi::from(1), None::<Local<'_, Value>>);
}

#[test]
#[should_panic(expected = "was used with isolate")]
fn a_weak_ref_of_another_isolate_panics() {
    let platform = Platform::new(1).unwrap();
    let mut a = Isolate::new(&platform, config(GcMode::Concurrent)).unwrap();
    let mut b = Isolate::new(&platform, config(GcMode::Concurrent)).unwrap();
    let mut sa = HandleScope::new(&mut a);
    let t = sa.new_fixed_array(0).unwrap();
    let wr = sa.new_weak_ref(t).unwrap();
    let mut sb = HandleScope::new(&mut b);
    let _ = sb.weak_ref_deref(wr);
}

#[test]
#[should_panic(expected = "holds a FinalizationRegistry, not a EphemeronTable")]
fn a_registry_read_as_a_table_panics_with_both_kinds() {
    let platform = Platform::new(1).unwrap();
    let mut isolate = Isolate::new(&platform, config(GcMode::Concurrent)).unwrap();
    let mut s = HandleScope::new(&mut isolate);
    let holder = s.new_fixed_array(1).unwrap();
    let registry = s.new_finalization_registry().unwrap();
    s.set(holder, 0, registry);
    // A runtime bug: the field is read back as the wrong weak kind (typed
    // handles cannot name a table that is not one).
    let _ = s.get_as::<EphemeronTable, _>(holder, 0);
}

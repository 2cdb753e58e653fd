//! Allocation-site pretenuring (V8's allocation sites and mementos): sites
//! whose objects survive are tenured and allocate old; sites whose objects
//! die stay young; tenured sites are un-tenured when old-generation
//! survival collapses; misuse panics.

mod common;

use common::{both_modes, expect_panic, old_space, test_config, test_config_in, MB};
use isogc::{
    AllocError, AllocationSite, FixedArray, GcRequest, HandleScope, HeapConfig, Isolate, Local, Platform, SiteState,
};

/// `n` fixed arrays of 2 slots made at `site`, all kept alive in a holder.
fn allocate_kept<'s>(scope: &mut HandleScope<'s>, site: &AllocationSite, n: usize) -> Local<'s, FixedArray> {
    let holder = scope.new_fixed_array(n).unwrap();
    for i in 0..n {
        let a = scope.new_fixed_array_at(2, site).unwrap();
        scope.set(a, 0, isogc::Smi::new(i as i64).unwrap());
        scope.set(holder, i, a);
    }
    holder
}

both_modes! {
    /// 200 objects that all survive a scavenge tenure their site; the
    /// next object of the site goes to old space, and an old object from
    /// the site that points to a young one keeps it (the barrier recorded
    /// the slot; verify_heap checks the remembered set).
    fn surviving_site_is_tenured_and_then_allocates_old(mode: GcMode) {
        let platform = Platform::new(2).unwrap();
        let mut isolate = Isolate::new(&platform, test_config_in(mode)).unwrap();
        let mut scope = HandleScope::new(&mut isolate);
        let site = scope.new_allocation_site("kept");
        let holder = allocate_kept(&mut scope, &site, 200);
        scope.collect_garbage(GcRequest::Minor);
        let s = &scope.allocation_sites()[0];
        assert_eq!((s.name.as_str(), s.state, s.tenured_count), ("kept", SiteState::Tenured, 1), "{s:?}");

        let old_before = old_space(&scope).used;
        let a = scope.new_fixed_array_at(2, &site).unwrap();
        assert!(old_space(&scope).used > old_before, "a tenured site's object went to old space");
        assert_eq!(scope.allocation_sites()[0].pretenured_objects, 1);
        let young = scope.new_number(2.5).unwrap();
        scope.set(a, 1, young);
        scope.collect_garbage(GcRequest::Minor);
        scope.collect_garbage(GcRequest::Minor);
        assert_eq!(scope.get_number(a, 1), Some(2.5));
        scope.collect_garbage(GcRequest::Major);
        assert_eq!(scope.get_number(a, 1), Some(2.5));
        for i in 0..200 {
            let e = scope.get(holder, i);
            let e = scope.cast::<FixedArray, _>(e).unwrap();
            assert_eq!(scope.get_smi(e, 0), Some(i as i64));
        }
    }
}

both_modes! {
    /// Objects that die before the scavenge leave their site young, with
    /// its counters reset for the next period.
    fn dying_site_stays_young(mode: GcMode) {
        let platform = Platform::new(2).unwrap();
        let mut isolate = Isolate::new(&platform, test_config_in(mode)).unwrap();
        let mut scope = HandleScope::new(&mut isolate);
        let site = scope.new_allocation_site("temp");
        for i in 0..500 {
            let mut inner = HandleScope::new(&mut scope);
            let n = inner.new_number_at(i as f64, &site).unwrap();
            assert_eq!(inner.number_value(n), i as f64);
        }
        scope.collect_garbage(GcRequest::Minor);
        let s = &scope.allocation_sites()[0];
        assert_eq!((s.state, s.created, s.found, s.tenured_count), (SiteState::DontTenure, 0, 0, 0), "{s:?}");
        let old_before = old_space(&scope).used;
        scope.new_number_at(1.0, &site).unwrap();
        assert_eq!(old_space(&scope).used, old_before, "a young site's object went to new space");
    }
}

both_modes! {
    /// A tenured site whose old objects then die: the major GC that finds
    /// under 10% of the old generation alive un-tenures it.
    fn collapse_of_old_survival_untenures_sites(mode: GcMode) {
        let platform = Platform::new(2).unwrap();
        let mut isolate = Isolate::new(&platform, test_config_in(mode)).unwrap();
        let mut scope = HandleScope::new(&mut isolate);
        let site = scope.new_allocation_site("phase change");
        {
            let mut inner = HandleScope::new(&mut scope);
            allocate_kept(&mut inner, &site, 200);
            inner.collect_garbage(GcRequest::Minor);
        }
        assert_eq!(scope.allocation_sites()[0].state, SiteState::Tenured);
        // About 2 MiB of pretenured garbage, against a few KiB kept.
        for _ in 0..2 * MB / 32 {
            let mut inner = HandleScope::new(&mut scope);
            inner.new_fixed_array_at(2, &site).unwrap();
        }
        assert!(scope.allocation_sites()[0].pretenured_objects >= (2 * MB / 32) as u64);
        scope.collect_garbage(GcRequest::Major);
        let s = &scope.allocation_sites()[0];
        assert_eq!(s.state, SiteState::Undecided, "{s:?}");
        // Back to young allocation with mementos.
        let old_before = old_space(&scope).used;
        scope.new_fixed_array_at(2, &site).unwrap();
        assert_eq!(old_space(&scope).used, old_before);
        assert_eq!(scope.allocation_sites()[0].created, 1);
    }
}

#[test]
fn a_site_of_another_isolate_panics_and_corrupts_neither() {
    let platform = Platform::new(2).unwrap();
    let mut a = Isolate::new(&platform, test_config()).unwrap();
    let mut b = Isolate::new(&platform, test_config()).unwrap();
    let site = a.new_allocation_site("of a");
    let msg = expect_panic("site of another isolate", || {
        let mut scope = HandleScope::new(&mut b);
        let _ = scope.new_fixed_array_at(3, &site);
    });
    assert!(msg.contains("AllocationSite") && msg.contains("isolate"), "{msg}");
    for iso in [&mut a, &mut b] {
        let mut scope = HandleScope::new(iso);
        let x = scope.new_fixed_array(1).unwrap();
        scope.collect_garbage(GcRequest::Major);
        let v = scope.get(x, 0);
        assert!(scope.is_undefined(v));
    }
    assert!(b.allocation_sites().is_empty());
    assert_eq!(a.allocation_sites()[0].created, 0);
}

#[test]
fn a_million_sites_cost_their_registry_bytes() {
    let platform = Platform::new(1).unwrap();
    let mut isolate = Isolate::new(&platform, test_config()).unwrap();
    for _ in 0..1_000_000 {
        isolate.new_allocation_site("s");
    }
    assert_eq!(isolate.allocation_sites().len(), 1_000_000);
    // The registry entry stays small (a name box, counters, a state).
    const { assert!(AllocationSite::REGISTRY_BYTES <= 64) };
    // Sites are plain indices: a site made after a million others works.
    let mut scope = HandleScope::new(&mut isolate);
    let last = scope.new_allocation_site("last");
    scope.new_number_at(1.0, &last).unwrap();
    assert_eq!(scope.allocation_sites()[1_000_000].created, 1);
}

#[test]
fn a_tenured_site_under_an_exhausted_old_generation_returns_out_of_memory() {
    let platform = Platform::new(2).unwrap();
    let cfg = HeapConfig { max_old_space_size: 4 * MB, initial_old_space_size: MB, ..test_config() };
    let mut isolate = Isolate::new(&platform, cfg).unwrap();
    let mut scope = HandleScope::new(&mut isolate);
    let site = scope.new_allocation_site("grows");
    let keep = scope.new_fixed_array(1).unwrap();
    let mut last = keep;
    let err = loop {
        // A chain of arrays: everything survives, so the site tenures and
        // then fills the old generation.
        match scope.new_fixed_array_at(64, &site) {
            Ok(a) => {
                scope.set(last, 0, a);
                last = a;
            }
            Err(e) => break e,
        }
    };
    assert!(matches!(err, AllocError::OutOfMemory { limit, .. } if limit == 4 * MB), "{err:?}");
    assert_eq!(scope.allocation_sites()[0].state, SiteState::Tenured);
    assert!(scope.allocation_sites()[0].pretenured_objects > 0);
}

/// A tenured site's object is born black while marking runs, and nothing
/// scans it: its map must be shaded when it is written, or a map whose only
/// other reference the mutator removed during marking is freed while the
/// object still uses it (the shadow model found this; verify_heap's marking
/// check names it: "marked object ... has an unmarked map").
#[test]
fn a_black_allocated_object_keeps_its_map_alive() {
    use isogc::{GcMode, ObjectLayout};
    // No background markers: marking advances only in the steps this test
    // causes, so the order of events below is the one that runs.
    let platform = Platform::new(0).unwrap();
    let config = test_config_in(GcMode::Concurrent);
    let mut isolate = Isolate::new(&platform, config).unwrap();
    let mut scope = HandleScope::new(&mut isolate);
    let site = scope.new_allocation_site("point");
    let layout = ObjectLayout { name: "Point".into(), tagged_fields: 1, raw_bytes: 0, ..Default::default() };
    let holder = scope.new_fixed_array(1).unwrap();
    let kept = scope.new_fixed_array(200).unwrap();
    let keep = scope.global(kept);
    {
        let mut s = HandleScope::new(&mut scope);
        // The map's only reference is a field of an old array.
        let map = s.new_map(&layout).unwrap();
        s.set(holder, 0, map);
        for i in 0..200 {
            let o = s.new_object_at(map, &site).unwrap();
            s.set(kept, i, o);
        }
    }
    let holder_g = scope.global(holder);
    scope.collect_garbage(GcRequest::Minor);
    scope.collect_garbage(GcRequest::Minor);
    assert_eq!(scope.allocation_sites()[0].state, SiteState::Tenured);
    for i in 0..200 {
        let undefined = scope.undefined();
        scope.set(kept, i, undefined);
    }
    // Enough live old objects that the marking step the next old
    // allocation runs leaves grey work behind (the cycle stays open).
    let big = scope.new_fixed_array(4000).unwrap();
    for i in 0..4000 {
        let a = scope.new_fixed_array(64).unwrap();
        scope.set(big, i, a);
    }
    let _big = scope.global(big);
    scope.collect_garbage(GcRequest::Minor);
    scope.collect_garbage(GcRequest::Minor);
    scope.collect_garbage(GcRequest::StartMarking);
    let object = {
        let mut s = HandleScope::new(&mut scope);
        // Take the map out of the array (a deletion: the insertion barrier
        // does not see it), then make a black object of it.
        let holder = s.open(&holder_g);
        let map = s.get(holder, 0);
        let map = s.cast::<isogc::Map, _>(map).unwrap();
        let undefined = s.undefined();
        s.set(holder, 0, undefined);
        let o = s.new_object_at(map, &site).unwrap();
        s.global(o)
    };
    // Finalization: the map is reachable only from the black object.
    let finalized_before = scope.gc_events().iter().filter(|e| e.kind == isogc::GcKind::Major).count();
    assert_eq!(finalized_before, 0, "the cycle was still open when the object was made");
    scope.collect_garbage(GcRequest::FinishMarking);
    scope.collect_garbage(GcRequest::Major);
    let o = scope.open(&object);
    assert!(scope.get_smi(o, 0).is_none(), "the object's field is still undefined");
    drop(keep);
}

/// V8's `kDontTenure` is final: a site whose objects died once stays
/// young even when its later objects all survive, and its objects carry no
/// memento any more (nothing is left to decide).
#[test]
fn dont_tenure_is_final() {
    let platform = Platform::new(1).unwrap();
    let mut isolate = Isolate::new(&platform, test_config()).unwrap();
    let mut scope = HandleScope::new(&mut isolate);
    let site = scope.new_allocation_site("mostly temporary");
    for i in 0..500 {
        let mut inner = HandleScope::new(&mut scope);
        inner.new_number_at(i as f64, &site).unwrap();
    }
    scope.collect_garbage(GcRequest::Minor);
    assert_eq!(scope.allocation_sites()[0].state, SiteState::DontTenure);
    let young_before = young_used(&scope);
    let holder = allocate_kept(&mut scope, &site, 200);
    // 200 arrays of 2 slots (32 bytes each) and the holder (1.6 KB).
    let holder_bytes = young_used(&scope) - young_before;
    // With mementos it would be 200 * 48 bytes and the holder.
    assert!(holder_bytes < 200 * 40 + 2000, "objects of a decided site carry no memento: {holder_bytes} bytes");
    scope.collect_garbage(GcRequest::Minor);
    scope.collect_garbage(GcRequest::Minor);
    let s = &scope.allocation_sites()[0];
    assert_eq!((s.state, s.created, s.tenured_count), (SiteState::DontTenure, 0, 0), "{s:?}");
    for i in 0..200 {
        let e = scope.get(holder, i);
        let e = scope.cast::<FixedArray, _>(e).unwrap();
        assert_eq!(scope.get_smi(e, 0), Some(i as i64));
    }
}

/// Survivors at the tenuring ratio in a new space that may still grow make
/// the site `MaybeTenure` (V8 tenures only in a full-size scavenge): it
/// keeps allocating young, with mementos.
#[test]
fn a_surviving_site_in_a_growable_new_space_is_maybe_tenure() {
    let platform = Platform::new(1).unwrap();
    // A generous budget: the nursery may grow to 16 MiB.
    let cfg =
        HeapConfig { max_semi_space_size: 16 * MB, pause_target: std::time::Duration::from_secs(1), ..test_config() };
    let mut isolate = Isolate::new(&platform, cfg).unwrap();
    let mut scope = HandleScope::new(&mut isolate);
    let site = scope.new_allocation_site("kept");
    let _holder = allocate_kept(&mut scope, &site, 200);
    scope.collect_garbage(GcRequest::Minor);
    let s = &scope.allocation_sites()[0];
    assert_eq!((s.state, s.tenured_count), (SiteState::MaybeTenure, 0), "{s:?}");
    let old_before = old_space(&scope).used;
    scope.new_fixed_array_at(2, &site).unwrap();
    assert_eq!(old_space(&scope).used, old_before, "a MaybeTenure site allocates young");
    assert_eq!(scope.allocation_sites()[0].created, 1);
}

fn young_used(scope: &HandleScope<'_>) -> usize {
    scope.heap_stats().space("new_space").unwrap().used
}

/// Strings made at a site tenure like other objects: after a full-size
/// scavenge in which they all survived, the site's next string is made in
/// old space, with its text intact.
#[test]
fn strings_made_at_a_site_tenure_too() {
    let platform = Platform::new(1).unwrap();
    let mut isolate = Isolate::new(&platform, test_config()).unwrap();
    let mut scope = HandleScope::new(&mut isolate);
    let site = scope.new_allocation_site("labels");
    let holder = scope.new_fixed_array(200).unwrap();
    for i in 0..200 {
        let s = scope.new_string_at(&format!("label {i}"), &site).unwrap();
        scope.set(holder, i, s);
    }
    scope.collect_garbage(GcRequest::Minor);
    assert_eq!(scope.allocation_sites()[0].state, SiteState::Tenured);
    let old_before = old_space(&scope).used;
    let s = scope.new_string_at("a tenured label", &site).unwrap();
    assert!(old_space(&scope).used > old_before, "a tenured site's string went to old space");
    assert_eq!(scope.to_rust_string(s), "a tenured label");
    for i in 0..200 {
        let v = scope.get(holder, i);
        let v = scope.cast::<isogc::HeapString, _>(v).unwrap();
        assert_eq!(scope.to_rust_string(v), format!("label {i}"));
    }
}

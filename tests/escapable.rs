//! Escapable scopes: a helper that opens its own scope returns one handle to
//! its parent with `EscapableHandleScope::escape`. Escaped handles survive
//! every kind of GC in both modes, escaping costs the parent one handle,
//! and each misuse (escaping twice, escaping into the wrong scope, a handle
//! of another isolate) panics with a message naming it and leaves the
//! isolate usable.

mod common;

use common::*;
use isogc::*;

fn pair_layout() -> ObjectLayout {
    ObjectLayout { name: "Pair".into(), tagged_fields: 2, raw_bytes: 0, ..Default::default() }
}

/// A list of `n` pairs `(i, next)` built back to front, each cell by a
/// helper in its own escapable scope that also makes garbage; a GC of
/// `request` runs inside every tenth helper while its temporaries live.
fn build_list<'p>(
    scope: &mut HandleScope<'p>,
    pair: Local<'_, Map>,
    n: i32,
    request: GcRequest,
) -> Result<Local<'p, Value>, AllocError> {
    let null = scope.null();
    let list = scope.local(null);
    for i in (0..n).rev() {
        // The loop state lives in `list`, a handle of the caller's scope,
        // re-pointed from each iteration's own scope.
        let mut s = HandleScope::new(scope);
        let cell = cons(&mut s, pair, i, list, request)?;
        s.set_local(list, cell.as_value());
    }
    Ok(list)
}

fn cons<'p>(
    scope: &mut HandleScope<'p>,
    pair: Local<'_, Map>,
    i: i32,
    tail: Local<'_, Value>,
    request: GcRequest,
) -> Result<Local<'p, Object>, AllocError> {
    let mut s = EscapableHandleScope::new(scope);
    for _ in 0..8 {
        s.new_fixed_array(16)?; // garbage
    }
    let cell = s.new_object(pair)?;
    s.set(cell, 0, Smi::from(i));
    s.set(cell, 1, tail);
    if i % 10 == 0 {
        s.collect_garbage(request);
    }
    let out = s.escape(cell);
    // The scope stays usable after its escape.
    s.new_fixed_array(4)?;
    Ok(out)
}

/// Walks the list and checks it holds `0..n` in order.
fn check_list(scope: &mut HandleScope<'_>, list: Local<'_, Value>, n: i32) {
    let mut s = HandleScope::new(scope);
    let cursor = s.local(list);
    for i in 0..n {
        let cell = s.cast::<Object, _>(cursor).unwrap_or_else(|| panic!("cell {i} missing"));
        assert_eq!(s.get_smi(cell, 0), Some(i as i64), "cell {i}");
        let next = s.get(cell, 1);
        s.set_local(cursor, next);
    }
    assert!(s.is_null(cursor), "the list ends after {n} cells");
}

both_modes! {
    /// Handles escaped from helper scopes, with GCs of every kind inside the
    /// helpers and after, keep their objects and contents.
    fn escaped_handles_survive_minor_and_major_gcs(mode: GcMode) {
        let platform = Platform::new(2).unwrap();
        let mut isolate = Isolate::new(&platform, test_config_in(mode)).unwrap();
        let mut scope = HandleScope::new(&mut isolate);
        let pair = scope.new_map(&pair_layout()).unwrap();
        for request in [GcRequest::Minor, GcRequest::Major, GcRequest::StartMarking] {
            let mut s = HandleScope::new(&mut scope);
            let list = build_list(&mut s, pair, 100, request).unwrap();
            check_list(&mut s, list, 100);
            s.collect_garbage(GcRequest::Minor);
            check_list(&mut s, list, 100);
            s.collect_garbage(GcRequest::Major);
            check_list(&mut s, list, 100);
            s.collect_garbage(GcRequest::FinishMarking);
            check_list(&mut s, list, 100);
        }
        let (minor, major) = scope.gc_counts();
        assert!(minor > 0 && major > 0, "{minor} scavenges, {major} full GCs");
    }
}

both_modes! {
    /// Nested escapes: a handle escaped twice over, through two escapable
    /// scopes, reaches the outermost scope and survives compaction.
    fn a_handle_escapes_through_nested_escapable_scopes(mode: GcMode) {
        let platform = Platform::new(2).unwrap();
        let config = HeapConfig { stress_compaction: true, ..test_config_in(mode) };
        let mut isolate = Isolate::new(&platform, config).unwrap();
        let mut scope = HandleScope::new(&mut isolate);
        let before = scope.handle_count();
        let s = {
            let mut outer = EscapableHandleScope::new(&mut scope);
            let inner_result = {
                let mut inner = EscapableHandleScope::new(&mut outer);
                let s = inner.new_string("escaped twice").unwrap();
                inner.collect_garbage(GcRequest::Minor);
                inner.escape(s)
            };
            outer.collect_garbage(GcRequest::Major);
            outer.escape(inner_result)
        };
        assert_eq!(scope.handle_count(), before + 1, "the parent holds the escaped handle only");
        scope.collect_garbage(GcRequest::Minor);
        scope.collect_garbage(GcRequest::Major);
        assert_eq!(scope.to_rust_string(s), "escaped twice");
    }
}

#[test]
fn escaping_costs_the_parent_one_handle_however_many_temporaries() {
    let platform = Platform::new(1).unwrap();
    let mut isolate = Isolate::new(&platform, test_config()).unwrap();
    let mut scope = HandleScope::new(&mut isolate);
    let before = scope.handle_count();
    let kept = {
        let mut s = EscapableHandleScope::new(&mut scope);
        assert!(!s.has_escaped());
        for _ in 0..1000 {
            s.new_number(1.0).unwrap();
        }
        let kept = s.new_number(42.0).unwrap();
        let out = s.escape(kept);
        assert!(s.has_escaped());
        out
    };
    assert_eq!(scope.handle_count(), before + 1);
    assert_eq!(scope.number_value(kept), 42.0);
    // An escapable scope that escapes nothing still costs its parent the
    // reserved slot (it holds the hole), and nothing else.
    {
        let mut s = EscapableHandleScope::new(&mut scope);
        s.new_number(1.0).unwrap();
    }
    assert_eq!(scope.handle_count(), before + 2);
}

#[test]
fn escaping_an_oddball_or_a_parent_handle_is_allowed() {
    let platform = Platform::new(1).unwrap();
    let mut isolate = Isolate::new(&platform, test_config()).unwrap();
    let mut scope = HandleScope::new(&mut isolate);
    let outer = scope.new_fixed_array(3).unwrap();
    let u = {
        let mut s = EscapableHandleScope::new(&mut scope);
        let u = s.undefined();
        s.escape(u)
    };
    let o = {
        let mut s = EscapableHandleScope::new(&mut scope);
        s.escape(outer)
    };
    assert!(scope.is_undefined(u));
    assert!(scope.same_value(o, outer));
    assert_eq!(scope.length(o), 3);
}

#[test]
fn escaping_twice_from_one_scope_panics_and_leaves_the_isolate_usable() {
    let platform = Platform::new(1).unwrap();
    let mut isolate = Isolate::new(&platform, test_config()).unwrap();
    let mut scope = HandleScope::new(&mut isolate);
    let before = scope.handle_count();
    let msg = expect_panic("second escape", || {
        let mut s = EscapableHandleScope::new(&mut scope);
        let a = s.new_fixed_array(1).unwrap();
        let b = s.new_fixed_array(2).unwrap();
        s.escape(a);
        s.escape(b);
    });
    assert!(msg.contains("escape called twice on one scope"), "{msg}");
    assert!(msg.contains("exactly one handle"), "the message says the contract: {msg}");
    // The reserved slot is the parent's, holding the first escape.
    assert_eq!(scope.handle_count(), before + 1);
    assert_usable(&mut scope);
}

#[test]
fn escaping_into_the_wrong_scope_panics_and_leaves_both_isolates_usable() {
    // The compiler keeps an escape in its own scope (see the compile_fail
    // examples of `EscapableHandleScope`); what it cannot see is a scope
    // exchanged through `DerefMut`, after which the reserved slot is no
    // longer the parent's of the scope that escapes.
    let platform = Platform::new(1).unwrap();
    let mut a = Isolate::new(&platform, test_config()).unwrap();
    let mut b = Isolate::new(&platform, test_config()).unwrap();
    let mut pa = HandleScope::new(&mut a);
    let mut pb = HandleScope::new(&mut b);
    let (a_before, b_before) = (pa.handle_count(), pb.handle_count());
    let keep_b = pb.new_string("b's").unwrap();
    let msg = expect_panic("escape after a swap", || {
        let mut e = EscapableHandleScope::new(&mut pa);
        let mut other = HandleScope::new(&mut pb);
        std::mem::swap(&mut *e, &mut other);
        let x = e.new_fixed_array(1).unwrap(); // a handle of isolate b now
        e.escape(x);
    });
    assert!(msg.contains("escape into the wrong scope"), "{msg}");
    assert!(msg.contains("std::mem::swap"), "the message says how it happened: {msg}");
    assert_eq!(pa.handle_count(), a_before + 1, "a keeps only its reserved slot");
    assert_eq!(pb.handle_count(), b_before + 1, "b keeps only its own handle");
    assert_eq!(pb.to_rust_string(keep_b), "b's");
    assert_usable(&mut pa);
    assert_usable(&mut pb);
}

#[test]
fn escaping_a_handle_of_another_isolate_panics_and_leaves_both_usable() {
    let platform = Platform::new(1).unwrap();
    let mut a = Isolate::new(&platform, test_config()).unwrap();
    let mut b = Isolate::new(&platform, test_config()).unwrap();
    let mut pa = HandleScope::new(&mut a);
    let mut pb = HandleScope::new(&mut b);
    let foreign = pb.new_fixed_array(1).unwrap();
    let msg = expect_panic("escape of another isolate's handle", || {
        let mut e = EscapableHandleScope::new(&mut pa);
        e.escape(foreign);
    });
    assert!(msg.contains("Local of isolate") && msg.contains("was used with isolate"), "{msg}");
    assert_eq!(pb.length(foreign), 1);
    // The failed escape filled nothing: the same scope can still escape.
    let ok = {
        let mut e = EscapableHandleScope::new(&mut pa);
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| e.escape(foreign)));
        assert!(r.is_err());
        assert!(!e.has_escaped());
        let mine = e.new_fixed_array(2).unwrap();
        e.escape(mine)
    };
    assert_eq!(pa.length(ok), 2);
    assert_usable(&mut pa);
    assert_usable(&mut pb);
}

//! Randomized programs over ephemeron tables, WeakRefs and a finalization
//! registry, checked against a shadow model with ephemeron semantics (the
//! weak kinds' part of DESIGN section 9's shadow model, kept in a file of
//! its own beside `shadow_model.rs`).
//!
//! Nodes are two-field arrays (field 0 their id as a Smi, field 1 a link to
//! another node or a Smi) held in a rooted array of slots; three rooted
//! tables map nodes to nodes or Smis; WeakRefs and registrations target
//! nodes, and a registration's held value is a Smi or an array pointing to
//! a node (strong until delivered). The model computes liveness as Hayes'
//! ephemerons define it (roots, undelivered held values, links, and an
//! entry's value once its key is live). After every op:
//!
//! - the heap never invents: every entry a table holds, every WeakRef target
//!   and every delivered held value is one the model has;
//! - nothing live is lost: every entry with a live key is in its table with
//!   its value, every WeakRef with a live target derefs to it;
//! - after an atomic major GC (exact: no floating garbage) the tables hold
//!   exactly the live-key entries, a WeakRef is `undefined` exactly when its
//!   target is dead, and exactly the dead targets' held values are queued.
//!
//! Both modes, with stress compaction (every major GC moves what it can),
//! marking cycles started and finished between ops, and scavenges.

mod common;

use common::test_config_in;
use isogc::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use std::collections::{BTreeMap, BTreeSet};

const SLOTS: usize = 8;
const TABLES: usize = 3;
const WEAK_REFS: usize = 3;

#[derive(Clone, Debug)]
enum Val {
    Smi(i64),
    /// The node in root slot `n` at the time of the op.
    Slot(usize),
}

#[derive(Clone, Debug)]
enum Op {
    New(usize),
    Link(usize, Val),
    Drop(usize),
    Set { table: usize, key: usize, value: Val },
    Delete { table: usize, key: usize },
    WeakRef { w: usize, target: usize },
    Register { target: usize, held: Val },
    Drain,
    Gc(u8),
}

fn val() -> impl Strategy<Value = Val> {
    prop_oneof![(0i64..100).prop_map(Val::Smi), (0..SLOTS).prop_map(Val::Slot)]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..SLOTS).prop_map(Op::New),
        2 => ((0..SLOTS), val()).prop_map(|(s, v)| Op::Link(s, v)),
        2 => (0..SLOTS).prop_map(Op::Drop),
        5 => ((0..TABLES), (0..SLOTS), val()).prop_map(|(table, key, value)| Op::Set { table, key, value }),
        1 => ((0..TABLES), (0..SLOTS)).prop_map(|(table, key)| Op::Delete { table, key }),
        1 => ((0..WEAK_REFS), (0..SLOTS)).prop_map(|(w, target)| Op::WeakRef { w, target }),
        1 => ((0..SLOTS), val()).prop_map(|(target, held)| Op::Register { target, held }),
        1 => Just(Op::Drain),
        3 => (0u8..4).prop_map(Op::Gc),
    ]
}

/// A model value: a Smi or a node id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum M {
    Smi(i64),
    Node(i64),
}

#[derive(Default)]
struct Model {
    next: i64,
    slots: [Option<i64>; SLOTS],
    links: BTreeMap<i64, M>,
    tables: [BTreeMap<i64, M>; TABLES],
    weak_refs: [Option<i64>; WEAK_REFS],
    /// Registrations not yet delivered: (target, tag, held node if any).
    /// Held nodes are strong until delivered.
    cells: Vec<(i64, i64, Option<i64>)>,
    /// Tags queued or delivered by the heap, or due.
    delivered: BTreeSet<i64>,
}

impl Model {
    fn live(&self) -> BTreeSet<i64> {
        let mut live: BTreeSet<i64> = self.slots.iter().flatten().copied().collect();
        live.extend(self.cells.iter().filter_map(|c| c.2));
        loop {
            let before = live.len();
            for n in live.clone() {
                if let Some(M::Node(m)) = self.links.get(&n) {
                    live.insert(*m);
                }
            }
            for t in &self.tables {
                for (k, v) in t {
                    if let (true, M::Node(m)) = (live.contains(k), v) {
                        live.insert(*m);
                    }
                }
            }
            if live.len() == before {
                return live;
            }
        }
    }
}

type Res<T> = Result<T, TestCaseError>;

fn id_of(s: &mut HandleScope<'_>, v: Local<'_, Value>) -> Res<M> {
    if let Some(i) = s.to_smi(v) {
        return Ok(M::Smi(i));
    }
    let a = s.cast::<FixedArray, _>(v).ok_or_else(|| TestCaseError::fail("not a node"))?;
    Ok(M::Node(s.get_smi(a, 0).ok_or_else(|| TestCaseError::fail("node without id"))?))
}

struct World {
    nodes: Global<FixedArray>,
    tables: Global<FixedArray>,
    weak_refs: Global<FixedArray>,
    registry: Global<FinalizationRegistry>,
}

fn value_of<'s>(s: &mut HandleScope<'s>, w: &World, m: &Model, v: &Val) -> Option<(Local<'s, Value>, M)> {
    match *v {
        Val::Smi(i) => Some((s.smi(Smi::from(i as i32)), M::Smi(i))),
        Val::Slot(n) => {
            let id = m.slots[n]?;
            let nodes = s.open(&w.nodes);
            Some((s.get(nodes, n), M::Node(id)))
        }
    }
}

fn apply(s: &mut HandleScope<'_>, w: &World, m: &mut Model, op: &Op) -> Res<bool> {
    let nodes = s.open(&w.nodes);
    match op {
        Op::New(n) => {
            let a = s.new_fixed_array(2).unwrap();
            s.set(a, 0, Smi::from(m.next as i32));
            s.set(nodes, *n, a);
            m.slots[*n] = Some(m.next);
            m.next += 1;
        }
        Op::Link(n, v) => {
            let (Some(id), Some((hv, mv))) = (m.slots[*n], value_of(s, w, m, v)) else { return Ok(false) };
            let a = s.get_as::<FixedArray, _>(nodes, *n);
            s.set(a, 1, hv);
            m.links.insert(id, mv);
        }
        Op::Drop(n) => {
            s.set(nodes, *n, Smi::from(0));
            m.slots[*n] = None;
        }
        Op::Set { table, key, value } => {
            let (Some(k), Some((hv, mv))) = (m.slots[*key], value_of(s, w, m, value)) else { return Ok(false) };
            let tables = s.open(&w.tables);
            let t = s.get_as::<EphemeronTable, _>(tables, *table);
            let hk = s.get(nodes, *key);
            s.ephemeron_set(t, hk, hv).unwrap();
            m.tables[*table].insert(k, mv);
        }
        Op::Delete { table, key } => {
            let Some(k) = m.slots[*key] else { return Ok(false) };
            let tables = s.open(&w.tables);
            let t = s.get_as::<EphemeronTable, _>(tables, *table);
            let hk = s.get(nodes, *key);
            let had = s.ephemeron_delete(t, hk);
            prop_assert_eq!(had, m.tables[*table].remove(&k).is_some(), "delete of a live key");
        }
        Op::WeakRef { w: i, target } => {
            let Some(id) = m.slots[*target] else { return Ok(false) };
            let ht = s.get(nodes, *target);
            let wr = s.new_weak_ref(ht).unwrap();
            let wrs = s.open(&w.weak_refs);
            s.set(wrs, *i, wr);
            m.weak_refs[*i] = Some(id);
        }
        Op::Register { target, held } => {
            let Some(id) = m.slots[*target] else { return Ok(false) };
            let ht = s.get(nodes, *target);
            let r = s.open(&w.registry);
            let tag = m.next;
            m.next += 1;
            // The held value: a node (the tag rides in a fresh array that
            // points to it) or the tag as a Smi.
            let (held_value, held_node) = match value_of(s, w, m, held) {
                Some((hv, M::Node(n))) => {
                    let a = s.new_fixed_array(2).unwrap();
                    s.set(a, 0, Smi::from(tag as i32));
                    s.set(a, 1, hv);
                    (a.as_value(), Some((n, hv)))
                }
                _ => (s.smi(Smi::from(tag as i32)), None),
            };
            if held_node.is_some_and(|(n, _)| n == id) {
                // The held array is not the target, so this registers fine;
                // registering the target itself as held is refused.
                let hv = held_node.unwrap().1;
                let refused = s.finalization_register(r, ht, hv, None::<Local<'_, Value>>);
                prop_assert_eq!(refused, Err(WeakTargetError::HeldIsTarget));
            }
            s.finalization_register(r, ht, held_value, None::<Local<'_, Value>>).unwrap();
            m.cells.push((id, tag, held_node.map(|(n, _)| n)));
        }
        Op::Drain => {
            let r = s.open(&w.registry);
            let mut got = Vec::new();
            s.drain_finalization(r, |scope, h| {
                let tag = match scope.to_smi(h) {
                    Some(t) => t,
                    None => {
                        let a = scope.cast::<FixedArray, _>(h).unwrap();
                        scope.get_smi(a, 0).unwrap()
                    }
                };
                got.push(tag);
            })
            .unwrap();
            let live = m.live();
            for tag in got {
                let Some(i) = m.cells.iter().position(|&(_, t, _)| t == tag) else {
                    return Err(TestCaseError::fail(format!("held value {tag} delivered twice or never registered")));
                };
                let (target, _, _) = m.cells.remove(i);
                prop_assert!(!live.contains(&target), "held value {} delivered while its target lives", tag);
                m.delivered.insert(tag);
                seen(|s| s.delivered += 1);
            }
        }
        Op::Gc(k) => {
            let req =
                [GcRequest::Minor, GcRequest::Major, GcRequest::StartMarking, GcRequest::FinishMarking][*k as usize];
            s.collect_garbage(req);
            return Ok(req == GcRequest::Major);
        }
    }
    Ok(false)
}

fn check(s: &mut HandleScope<'_>, w: &World, m: &mut Model, exact: bool) -> Res<()> {
    let live = m.live();
    let tables = s.open(&w.tables);
    for ti in 0..TABLES {
        let t = s.get_as::<EphemeronTable, _>(tables, ti);
        let mut heap = BTreeMap::new();
        for (k, v) in s.ephemeron_entries(t) {
            let M::Node(k) = id_of(s, k)? else { return Err(TestCaseError::fail("a Smi key")) };
            heap.insert(k, id_of(s, v)?);
        }
        for (k, v) in &heap {
            prop_assert_eq!(m.tables[ti].get(k), Some(v), "table {} holds an entry the model has not", ti);
        }
        for (k, v) in &m.tables[ti] {
            if live.contains(k) {
                prop_assert_eq!(heap.get(k), Some(v), "table {} lost the entry of live key {}", ti, k);
            } else if exact {
                prop_assert!(!heap.contains_key(k), "table {} kept dead key {} after an atomic GC", ti, k);
            }
        }
        if exact {
            let before = m.tables[ti].len();
            m.tables[ti].retain(|k, _| live.contains(k));
            let cleared = before - m.tables[ti].len();
            seen(|s| s.dead_entries_cleared += cleared);
        }
    }
    let wrs = s.open(&w.weak_refs);
    for i in 0..WEAK_REFS {
        let Some(target) = m.weak_refs[i] else { continue };
        let wr = s.get_as::<WeakRef, _>(wrs, i);
        let t = s.weak_ref_deref(wr);
        if s.is_undefined(t) {
            prop_assert!(!live.contains(&target), "WeakRef {} cleared while its target lives", i);
            m.weak_refs[i] = None;
            seen(|s| s.weak_refs_cleared += 1);
        } else {
            prop_assert_eq!(id_of(s, t)?, M::Node(target), "WeakRef {} points elsewhere", i);
            prop_assert!(!exact || live.contains(&target), "WeakRef {} kept a dead target after an atomic GC", i);
        }
    }
    let r = s.open(&w.registry);
    let (cells, ready) = s.finalization_counts(r);
    prop_assert!(cells + ready <= m.cells.len(), "the registry has more registrations than the model");
    if exact {
        let dead = m.cells.iter().filter(|(t, _, _)| !live.contains(t)).count();
        prop_assert_eq!((cells, ready), (m.cells.len() - dead, dead), "registrations after an atomic GC");
    }
    if exact {
        m.links.retain(|k, _| live.contains(k));
        seen(|s| s.exact_gcs += 1);
    }
    Ok(())
}

/// Counts of what the programs did, to require that they exercised the
/// interesting cases.
#[derive(Default, Debug)]
struct Seen {
    programs: usize,
    exact_gcs: usize,
    dead_entries_cleared: usize,
    weak_refs_cleared: usize,
    delivered: usize,
}

thread_local! {
    static SEEN: std::cell::RefCell<Seen> = std::cell::RefCell::new(Seen::default());
}

fn seen(f: impl FnOnce(&mut Seen)) {
    SEEN.with(|s| f(&mut s.borrow_mut()));
}

fn run(mode: GcMode, ops: &[Op], platform: &Platform) -> Res<()> {
    seen(|s| s.programs += 1);
    let cfg = HeapConfig { stress_compaction: true, ..test_config_in(mode) };
    let mut isolate = Isolate::new(platform, cfg).unwrap();
    let mut s = HandleScope::new(&mut isolate);
    let world = {
        let mut i = HandleScope::new(&mut s);
        let nodes = i.new_fixed_array(SLOTS).unwrap();
        let tables = i.new_fixed_array(TABLES).unwrap();
        for t in 0..TABLES {
            let e = i.new_ephemeron_table().unwrap();
            i.set(tables, t, e);
        }
        let weak_refs = i.new_fixed_array(WEAK_REFS).unwrap();
        let registry = i.new_finalization_registry().unwrap();
        World {
            nodes: i.global(nodes),
            tables: i.global(tables),
            weak_refs: i.global(weak_refs),
            registry: i.global(registry),
        }
    };
    let mut m = Model::default();
    for op in ops {
        let mut scope = HandleScope::new(&mut s);
        let exact = apply(&mut scope, &world, &mut m, op)?;
        drop(scope);
        let mut scope = HandleScope::new(&mut s);
        check(&mut scope, &world, &mut m, exact)?;
    }
    // Until nothing more dies: a delivered held value may have kept the
    // next target alive.
    // (Each step in a scope of its own, so the handles a check opens do not
    // keep anything alive.)
    loop {
        s.collect_garbage(GcRequest::Major);
        check(&mut HandleScope::new(&mut s), &world, &mut m, true)?;
        let before = m.cells.len();
        apply(&mut HandleScope::new(&mut s), &world, &mut m, &Op::Drain)?;
        if m.cells.len() == before {
            break;
        }
    }
    let live = m.live();
    prop_assert!(m.cells.iter().all(|(t, _, _)| live.contains(t)), "a dead target's held value was not delivered");
    Ok(())
}

fn run_mode(mode: GcMode) {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(256);
    let platform = Platform::new(2).unwrap();
    let mut runner = TestRunner::new(Config { cases, failure_persistence: None, ..Config::default() });
    runner
        .run(&proptest::collection::vec(op(), 1..80), |ops| run(mode, &ops, &platform))
        .unwrap_or_else(|e| panic!("{mode:?}: {e}"));
    SEEN.with(|s| {
        let s = s.borrow();
        println!("{mode:?}: {s:?}");
        assert!(s.programs >= cases as usize, "every case ran");
        assert!(
            s.exact_gcs > 0 && s.dead_entries_cleared > 0 && s.weak_refs_cleared > 0 && s.delivered > 0,
            "the programs cleared dead entries and WeakRefs and delivered held values: {s:?}"
        );
    });
}

#[test]
fn weak_kinds_agree_with_the_model_concurrent() {
    run_mode(GcMode::Concurrent);
}

#[test]
fn weak_kinds_agree_with_the_model_stop_the_world() {
    run_mode(GcMode::StopTheWorld);
}

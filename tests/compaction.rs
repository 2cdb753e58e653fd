//! Compaction (issue #7, `src/compactor.rs`): fragmented old-space pages are
//! evacuated and released, and every reference to a moved object is updated:
//! from old objects (recorded OLD_TO_OLD slots, by the marker and by the write
//! barrier while marking runs), from the copies themselves (slots recorded as
//! they migrate), from young objects, local, global and weak handles, the
//! string table and map names. A page pinned with `HandleScope::pin` never
//! moves; a candidate whose objects do not fit under the hard limit is
//! aborted (what moved stays moved, the rest stays); `compaction: false`
//! never moves an old object.
//!
//! Candidates are chosen when marking starts, from what the previous sweep
//! left free on each page, so the garbage one cycle makes is compacted by the
//! next major GC (as in V8). `stress_compaction` makes every movable page a
//! candidate at every major GC.
//!
//! The heap is verified after every GC: a slot left pointing at an evacuated
//! (released) page, or a copy the sweeper freed, fails inside the GC that
//! caused it. Tests that count pages run on a platform without workers, so
//! the whole collector (one evacuation task) is deterministic.

mod common;

use common::*;
use isogc::*;
use std::time::Duration;

/// Slots of one holder array (8 KiB: a regular old object, itself moved).
const CHUNK: usize = 1024;
/// Fields of a record.
const RECORD_LEN: usize = 6;
/// Raw bytes of a record's payload object (not a multiple of the word size).
const RAW: usize = 12;
/// Records of the fragmentation workload: about ten old pages.
const RECORDS: usize = 12_000;

/// The tests' configuration in `mode`: no major GC but the ones a test asks
/// for (tests that want marking cycles started by allocation lower the
/// initial old space).
fn config(mode: GcMode) -> HeapConfig {
    test_config_in(mode).with_initial_old_space(256 * MB)
}

/// What a GC's compaction did: (evacuated pages, evacuated bytes, aborted
/// pages).
fn compaction(e: &GcEvent) -> (usize, usize, usize) {
    (e.evacuated_pages, e.evacuated_bytes, e.aborted_pages)
}

fn last_event(scope: &HandleScope<'_>) -> GcEvent {
    scope.gc_events().pop().expect("a GC ran")
}

/// A major GC now; its event.
fn major(scope: &mut HandleScope<'_>) -> GcEvent {
    scope.collect_garbage(GcRequest::Major);
    let e = last_event(scope);
    assert_eq!(e.kind, GcKind::Major);
    e
}

/// Two scavenges: everything young and alive is old afterwards.
fn promote_all(scope: &mut HandleScope<'_>) {
    scope.collect_garbage(GcRequest::Minor);
    scope.collect_garbage(GcRequest::Minor);
    let young = scope.heap_stats().space("new_space").unwrap().used;
    assert_eq!(young, 0, "two scavenges left {young} bytes young");
}

// ----- Records -----------------------------------------------------------------

fn number(i: usize) -> f64 {
    i as f64 * 0.25 - 1000.125
}

fn text(i: usize) -> String {
    format!("record {i}")
}

fn interned(i: usize) -> String {
    format!("interned {i}")
}

fn bytes(i: usize) -> Vec<u8> {
    (0..1 + i % 23).map(|k| (i * 7 + k * 13) as u8).collect()
}

fn raw(i: usize) -> [u8; RAW] {
    std::array::from_fn(|k| (i >> (k % 4 * 8)) as u8 ^ (k as u8).wrapping_mul(29))
}

/// Record `i` is kept by the fragmentation workload (the others die).
fn kept(i: usize) -> bool {
    i % 2 == 0
}

/// Records in holder arrays, one per [`CHUNK`], each record a fixed array of
/// [`RECORD_LEN`] fields:
///
/// 0. `Smi(i)`;
/// 1. a heap number;
/// 2. a string;
/// 3. record `i - 2` (`undefined` for the first two): old-to-old references
///    between survivors, and between the dead;
/// 4. an interned string (allocated in old space directly, by the mutator:
///    interned pages fragment too);
/// 5. a payload object of the `Payload` map: one tagged field, a byte array,
///    and [`RAW`] raw bytes.
///
/// Roots besides the holders (globals): local handles to records `i % 100 ==
/// 0`, globals to `i % 100 == 2`, weak handles to `i % 50 == 4` (survivors)
/// and `i % 50 == 1` (dead once odd records are dropped), and an old `hub`
/// array whose slot 0 holds a young array of references to every 20th
/// record.
struct Records {
    n: usize,
    map: Global<Map>,
    holders: Vec<Global<FixedArray>>,
    hub: Global<FixedArray>,
    globals: Vec<(usize, Global<FixedArray>)>,
    weaks: Vec<(usize, Weak<FixedArray>)>,
    /// Records dropped (see [`Records::drop_odd`]).
    dropped: bool,
}

impl Records {
    /// Makes `n` records and promotes them (and everything else) to old
    /// space.
    fn build(scope: &mut HandleScope<'_>, n: usize) -> Records {
        let mut s = HandleScope::new(scope);
        let map = s
            .new_map(&ObjectLayout { name: "Payload".into(), tagged_fields: 1, raw_bytes: RAW, ..Default::default() })
            .unwrap();
        let map = s.global(map);
        let hub = s.new_fixed_array(2).unwrap();
        let hub = s.global(hub);
        let holders = (0..n.div_ceil(CHUNK))
            .map(|_| {
                let a = s.new_fixed_array(CHUNK).unwrap();
                s.global(a)
            })
            .collect();
        drop(s);
        let mut r = Records { n, map, holders, hub, globals: Vec::new(), weaks: Vec::new(), dropped: false };
        for i in 0..n {
            r.make(scope, i);
        }
        promote_all(scope);
        r
    }

    fn make(&mut self, scope: &mut HandleScope<'_>, i: usize) {
        let mut s = HandleScope::new(scope);
        let rec = s.new_fixed_array(RECORD_LEN).unwrap();
        s.set(rec, 0, Smi::from(i as i32));
        let x = s.new_number(number(i)).unwrap();
        s.set(rec, 1, x);
        let x = s.new_string(&text(i)).unwrap();
        s.set(rec, 2, x);
        if i >= 2 {
            let prev = self.record(&mut s, i - 2);
            s.set(rec, 3, prev);
        }
        let x = s.intern(&interned(i)).unwrap();
        s.set(rec, 4, x);
        let map = s.open(&self.map);
        let payload = s.new_object(map).unwrap();
        s.write_bytes(payload, 0, &raw(i));
        let b = s.new_byte_array(bytes(i).len()).unwrap();
        s.write_bytes(b, 0, &bytes(i));
        s.set(payload, 0, b);
        s.set(rec, 5, payload);
        let h = s.open(&self.holders[i / CHUNK]);
        s.set(h, i % CHUNK, rec);
        if i % 100 == 2 {
            let g = s.global(rec);
            self.globals.push((i, g));
        }
        if i % 50 == 4 || i % 50 == 1 {
            let w = s.weak(rec);
            self.weaks.push((i, w));
        }
    }

    /// What holder slot `i` holds.
    fn slot<'s>(&self, s: &mut HandleScope<'s>, i: usize) -> Local<'s, Value> {
        let h = s.open(&self.holders[i / CHUNK]);
        s.get(h, i % CHUNK)
    }

    /// Record `i`, which must be there.
    fn record<'s>(&self, s: &mut HandleScope<'s>, i: usize) -> Local<'s, FixedArray> {
        let v = self.slot(s, i);
        s.cast::<FixedArray, _>(v).unwrap_or_else(|| panic!("record {i} is gone"))
    }

    /// Local handles (in `scope`) to records `i % 100 == 0`.
    fn locals<'s>(&self, scope: &mut HandleScope<'s>) -> Vec<(usize, Local<'s, FixedArray>)> {
        (0..self.n).step_by(100).map(|i| (i, self.record(scope, i))).collect()
    }

    /// Drops every odd record (and all it alone refers to).
    fn drop_odd(&mut self, scope: &mut HandleScope<'_>) {
        let mut s = HandleScope::new(scope);
        let undefined = s.undefined();
        for i in (1..self.n).step_by(2) {
            let h = s.open(&self.holders[i / CHUNK]);
            s.set(h, i % CHUNK, undefined);
        }
        self.dropped = true;
    }

    fn alive(&self, i: usize) -> bool {
        !self.dropped || kept(i)
    }

    /// A fresh young array of references to every 20th record (what its
    /// holder slot holds), in the old hub's slot 0.
    fn young_referrers(&self, scope: &mut HandleScope<'_>) {
        let mut s = HandleScope::new(scope);
        let y = s.new_fixed_array(self.n.div_ceil(20)).unwrap();
        for k in 0..self.n.div_ceil(20) {
            let r = self.slot(&mut s, 20 * k);
            s.set(y, k, r);
        }
        let hub = s.open(&self.hub);
        s.set(hub, 0, y);
    }

    /// Every record reads back exactly; every reference to one (holder,
    /// record, young array, handle, string table, map name) is the same
    /// object.
    fn check(&self, scope: &mut HandleScope<'_>, locals: &[(usize, Local<'_, FixedArray>)], when: &str) {
        for i in 0..self.n {
            let mut s = HandleScope::new(scope);
            let v = self.slot(&mut s, i);
            if !self.alive(i) {
                assert!(s.is_undefined(v), "{when}: holder slot {i} should be undefined");
                continue;
            }
            let rec = s.cast::<FixedArray, _>(v).unwrap_or_else(|| panic!("{when}: record {i} is not an array"));
            self.check_record(&mut s, i, rec, when);
        }
        let mut s = HandleScope::new(scope);
        let map = s.open(&self.map);
        let layout = ObjectLayout { name: "Payload".into(), tagged_fields: 1, raw_bytes: RAW, ..Default::default() };
        assert_eq!(s.layout(map), Some(layout), "{when}: the map's name");
        for &(i, l) in locals {
            let r = self.slot(&mut s, i);
            assert!(s.same_value(l, r), "{when}: the local handle to record {i} is another object");
        }
        for (i, g) in &self.globals {
            let l = s.open(g);
            let r = self.slot(&mut s, *i);
            assert!(s.same_value(l, r), "{when}: the global handle to record {i} is another object");
        }
        for (i, w) in &self.weaks {
            match s.open_weak(w) {
                Some(l) => {
                    assert!(self.alive(*i), "{when}: the weak handle to dead record {i} is not cleared");
                    let r = self.slot(&mut s, *i);
                    assert!(s.same_value(l, r), "{when}: the weak handle to record {i} is another object");
                }
                None => assert!(!self.alive(*i), "{when}: the weak handle to live record {i} was cleared"),
            }
        }
        let hub = s.open(&self.hub);
        let y = s.get(hub, 0);
        if let Some(y) = s.cast::<FixedArray, _>(y) {
            for k in 0..s.length(y) {
                let l = s.get(y, k);
                let r = self.slot(&mut s, 20 * k);
                assert!(s.same_value(l, r), "{when}: the young reference to record {} is another object", 20 * k);
            }
        }
    }

    fn check_record(&self, s: &mut HandleScope<'_>, i: usize, rec: Local<'_, FixedArray>, when: &str) {
        assert_eq!(s.length(rec), RECORD_LEN, "{when}: length of record {i}");
        assert_eq!(s.get_smi(rec, 0), Some(i as i64), "{when}: field 0 of record {i}");
        assert_eq!(s.get_number(rec, 1).map(f64::to_bits), Some(number(i).to_bits()), "{when}: number of record {i}");
        let x = s.get(rec, 2);
        let x = s.cast::<HeapString, _>(x).unwrap_or_else(|| panic!("{when}: field 2 of record {i}"));
        assert_eq!(s.to_rust_string(x), text(i), "{when}: string of record {i}");
        assert!(!s.is_internalized(x));
        let prev = s.get(rec, 3);
        if i < 2 {
            assert!(s.is_undefined(prev), "{when}: field 3 of record {i}");
        } else {
            let p = s.cast::<FixedArray, _>(prev).unwrap_or_else(|| panic!("{when}: field 3 of record {i}"));
            assert_eq!(s.get_smi(p, 0), Some(i as i64 - 2), "{when}: field 3 of record {i}");
            let q = self.slot(s, i - 2);
            assert!(s.same_value(p, q), "{when}: record {i} refers to another record {} than its holder", i - 2);
        }
        let x = s.get(rec, 4);
        let x = s.cast::<HeapString, _>(x).unwrap_or_else(|| panic!("{when}: field 4 of record {i}"));
        assert!(s.is_internalized(x), "{when}: field 4 of record {i} is not internalized");
        assert_eq!(s.to_rust_string(x), interned(i), "{when}: interned string of record {i}");
        let again = s.intern(&interned(i)).unwrap();
        assert!(s.same_value(x, again), "{when}: interning {:?} gave another object", interned(i));
        let p = s.get(rec, 5);
        let p = s.cast::<Object, _>(p).unwrap_or_else(|| panic!("{when}: field 5 of record {i}"));
        let m = s.map_of(p).unwrap();
        let expected = s.open(&self.map);
        assert!(s.same_value(m, expected), "{when}: map of the payload of record {i}");
        let mut buf = [0u8; RAW];
        s.read_bytes(p, 0, &mut buf);
        assert_eq!(buf, raw(i), "{when}: raw bytes of the payload of record {i}");
        let b = s.get(p, 0);
        let b = s.cast::<ByteArray, _>(b).unwrap_or_else(|| panic!("{when}: bytes of record {i}"));
        let mut buf = vec![0u8; s.length(b)];
        s.read_bytes(b, 0, &mut buf);
        assert_eq!(buf, bytes(i), "{when}: byte array of record {i}");
    }
}

// ----- Fragmentation -----------------------------------------------------------------

both_modes! {
    /// Ten old pages of records; every other record dies. The first major GC
    /// sweeps the garbage (its candidates were chosen before the pages were
    /// fragmented); the next one, asked for explicitly (memory-reducing: pages
    /// at least 20% free qualify), evacuates the fragmented pages. Every value
    /// reads back exactly after every GC, and old space commits about half as
    /// many pages, close to its live bytes.
    fn fragmentation_workload_is_compacted(mode: GcMode) {
        let platform = Platform::new(2).unwrap();
        let mut isolate = Isolate::new(&platform, config(mode)).unwrap();
        let mut scope = HandleScope::new(&mut isolate);
        let mut r = Records::build(&mut scope, RECORDS);
        let locals = r.locals(&mut scope);
        let full = old_space(&scope);
        assert!(full.committed >= 8 * PAGE_SIZE, "{mode:?}: only {} old pages", full.committed / PAGE_SIZE);
        r.check(&mut scope, &locals, "before any major GC");
        r.drop_odd(&mut scope);

        let mut compacted = None;
        for gc in 0..3 {
            // Young references, young during this GC's compaction.
            r.young_referrers(&mut scope);
            let before = old_space(&scope);
            let e = major(&mut scope);
            let after = old_space(&scope);
            r.check(&mut scope, &locals, &format!("{mode:?}: after major GC {gc}"));
            if e.evacuated_pages > 0 {
                compacted = Some((gc, e, before, after));
                break;
            }
        }
        let (gc, e, before, after) = compacted.unwrap_or_else(|| panic!("{mode:?}: three major GCs, no compaction"));
        assert_eq!(gc, 1, "{mode:?}: the second major GC compacts (the first one's sweep measured the garbage)");
        assert_eq!(e.aborted_pages, 0, "{mode:?}: {:?}", compaction(&e));
        assert!(e.evacuated_bytes > 0, "{mode:?}: {:?}", compaction(&e));
        let pages = |b: usize| b / PAGE_SIZE;
        println!(
            "{mode:?}: old space {} pages before dropping, {} fragmented, {} after compacting ({} evacuated, {} KiB \
             moved, {} KiB live)",
            pages(full.committed),
            pages(before.committed),
            pages(after.committed),
            e.evacuated_pages,
            e.evacuated_bytes / KB,
            after.used / KB
        );
        assert!(
            after.committed * 10 <= before.committed * 7,
            "{mode:?}: old space did not shrink: {} -> {} pages",
            pages(before.committed),
            pages(after.committed)
        );
        assert!(
            after.committed <= after.used + after.used / 4 + 2 * PAGE_SIZE,
            "{mode:?}: {} pages committed for {} KiB live",
            pages(after.committed),
            after.used / KB
        );
        // The copies stay live through the next GCs (their pages are swept with
        // them marked).
        scope.collect_garbage(GcRequest::Minor);
        major(&mut scope);
        r.check(&mut scope, &locals, &format!("{mode:?}: after the GCs that followed the compaction"));
    }
}

/// `compaction: false` (even with `stress_compaction`) never moves an old
/// object, and fragmented pages stay committed.
#[test]
fn without_compaction_nothing_is_evacuated() {
    let platform = Platform::new(2).unwrap();
    let cfg = HeapConfig { compaction: false, stress_compaction: true, ..config(GcMode::Concurrent) };
    let mut isolate = Isolate::new(&platform, cfg).unwrap();
    let mut scope = HandleScope::new(&mut isolate);
    let mut r = Records::build(&mut scope, RECORDS / 2);
    let locals = r.locals(&mut scope);
    r.drop_odd(&mut scope);
    major(&mut scope);
    let fragmented = old_space(&scope);
    for gc in 0..3 {
        r.young_referrers(&mut scope);
        major(&mut scope);
        r.check(&mut scope, &locals, &format!("after major GC {gc}"));
    }
    for e in scope.gc_events() {
        assert_eq!(compaction(&e), (0, 0, 0), "{:?} {:?}", e.kind, e.reason);
        assert!(e.phases.iter().all(|&(p, _)| !matches!(p, Phase::Evacuate | Phase::UpdatePointers)), "{:?}", e.phases);
    }
    // The survivors are spread over every page: none can go.
    assert!(old_space(&scope).committed >= fragmented.committed, "old pages were released without compaction");
}

// ----- Incremental marking ------------------------------------------------------------

/// Slots of the large home array (over half a page: large-object space,
/// never moved).
const LARGE_HOME: usize = 20_000;
/// Slots of the pinned home array.
const PINNED_HOME: usize = 256;
/// Values moved around between the homes: several pages of them (the
/// pinned home's page pins the values that share it; the others move).
const VALUES: usize = 8000;

/// xorshift64.
fn next(x: &mut u64) -> u64 {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    *x
}

/// Old values `[Smi(v), "value v", link]` that live in the slots of two
/// arrays that never move (a large one, and one on a pinned page), and the
/// model of where each is and what it links to.
struct Homes<'s> {
    large: Local<'s, FixedArray>,
    pinned: Local<'s, FixedArray>,
    /// The value each slot holds (slots below `LARGE_HOME` are the large
    /// array's).
    slots: Vec<Option<usize>>,
    /// The slot of each value.
    home: Vec<usize>,
    /// The value each value's field 2 refers to.
    link: Vec<Option<usize>>,
    rng: u64,
}

impl<'s> Homes<'s> {
    fn new(scope: &mut HandleScope<'s>) -> Homes<'s> {
        let large = scope.new_fixed_array(LARGE_HOME).unwrap();
        let pinned = scope.new_fixed_array(PINNED_HOME).unwrap();
        let mut h = Homes {
            large,
            pinned,
            slots: vec![None; LARGE_HOME + PINNED_HOME],
            home: Vec::new(),
            link: vec![None; VALUES],
            rng: 0x2545_f491_4f6c_dd1d,
        };
        for v in 0..VALUES {
            let mut s = HandleScope::new(scope);
            let o = s.new_fixed_array(3).unwrap();
            s.set(o, 0, Smi::from(v as i32));
            let t = s.new_string(&format!("value {v}")).unwrap();
            s.set(o, 1, t);
            let slot = h.free_slot();
            h.store(&mut s, slot, o);
            h.slots[slot] = Some(v);
            h.home.push(slot);
        }
        h
    }

    fn random(&mut self, n: usize) -> usize {
        (next(&mut self.rng) % n as u64) as usize
    }

    fn free_slot(&mut self) -> usize {
        loop {
            let slot = self.random(self.slots.len());
            if self.slots[slot].is_none() {
                return slot;
            }
        }
    }

    fn load<'t>(&self, s: &mut HandleScope<'t>, slot: usize) -> Local<'t, Value> {
        if slot < LARGE_HOME {
            s.get(self.large, slot)
        } else {
            s.get(self.pinned, slot - LARGE_HOME)
        }
    }

    fn store(&self, s: &mut HandleScope<'_>, slot: usize, v: impl IntoValue) {
        if slot < LARGE_HOME {
            s.set(self.large, slot, v);
        } else {
            s.set(self.pinned, slot - LARGE_HOME, v);
        }
    }

    /// Moves a random value to a random free slot of either home.
    fn move_one(&mut self, s: &mut HandleScope<'_>) {
        let v = self.random(VALUES);
        let (from, to) = (self.home[v], self.free_slot());
        let o = self.load(s, from);
        self.store(s, to, o);
        let undefined = s.undefined();
        self.store(s, from, undefined);
        self.slots[from] = None;
        self.slots[to] = Some(v);
        self.home[v] = to;
    }

    /// Points a random value's field 2 at another value (or at nothing).
    fn relink_one(&mut self, s: &mut HandleScope<'_>) {
        let v = self.random(VALUES);
        let w = self.random(VALUES + 1);
        let host = self.load(s, self.home[v]);
        let host = s.cast::<FixedArray, _>(host).unwrap();
        if w == VALUES {
            let undefined = s.undefined();
            s.set(host, 2, undefined);
            self.link[v] = None;
        } else {
            let target = self.load(s, self.home[w]);
            s.set(host, 2, target);
            self.link[v] = Some(w);
        }
    }

    /// Every slot holds what the model says, every value is intact and
    /// links the very object the model says.
    fn check(&self, scope: &mut HandleScope<'_>, when: &str) {
        for (slot, held) in self.slots.iter().enumerate() {
            let mut s = HandleScope::new(scope);
            let l = self.load(&mut s, slot);
            let Some(v) = *held else {
                assert!(s.is_undefined(l), "{when}: slot {slot} should be empty");
                continue;
            };
            let o = s.cast::<FixedArray, _>(l).unwrap_or_else(|| panic!("{when}: value {v} in slot {slot}"));
            assert_eq!(s.get_smi(o, 0), Some(v as i64), "{when}: slot {slot}");
            let t = s.get(o, 1);
            let t = s.cast::<HeapString, _>(t).unwrap_or_else(|| panic!("{when}: the string of value {v}"));
            assert_eq!(s.to_rust_string(t), format!("value {v}"), "{when}");
            let l = s.get(o, 2);
            match self.link[v] {
                None => assert!(s.is_undefined(l), "{when}: value {v} links nothing"),
                Some(w) => {
                    let target = self.load(&mut s, self.home[w]);
                    assert!(s.same_value(l, target), "{when}: value {v} links another object than value {w}");
                }
            }
        }
    }
}

/// Marking cycles started by allocation compact (stress), while the mutator
/// keeps moving references to old values between two homes that never move:
/// a large array and an array on a pinned page. Each home is scanned by the
/// marker once per cycle, so a reference stored into it afterwards is known
/// only to the write barrier, which records its slot (OLD_TO_OLD); without
/// that the slot would still point into the evacuated page. The values also
/// point to each other (slots of hosts that move themselves, recorded when
/// the host migrates; and of values on the pinned page, recorded by the
/// barrier).
#[test]
fn slots_recorded_by_the_barrier_during_marking_are_updated() {
    const ROUNDS: usize = 60_000;
    let platform = Platform::new(0).unwrap();
    let cfg = HeapConfig {
        stress_compaction: true,
        gc_workers: Some(0),
        initial_old_space_size: MB,
        ..config(GcMode::Concurrent)
    };
    let mut isolate = Isolate::new(&platform, cfg).unwrap();
    let mut scope = HandleScope::new(&mut isolate);
    let ring = scope.new_fixed_array(512).unwrap();
    let mut homes = Homes::new(&mut scope);
    promote_all(&mut scope);
    assert!(scope.pin(homes.pinned), "the promoted home array can be pinned");
    assert!(scope.pin(homes.large), "an old large object can be pinned");
    // When each move was made.
    let mut moves: Vec<Duration> = Vec::new();
    for round in 0..ROUNDS {
        let mut s = HandleScope::new(&mut scope);
        if round % 4 == 3 {
            homes.relink_one(&mut s);
        } else {
            homes.move_one(&mut s);
            moves.push(s.elapsed());
        }
        // Garbage, and something long-lived now and then: old-generation
        // growth that starts marking cycles.
        for _ in 0..8 {
            s.new_fixed_array(16).unwrap();
        }
        let l = s.new_fixed_array(64).unwrap();
        s.set(ring, round % 512, l);
        drop(s);
        if round % 10_000 == 9_999 {
            homes.check(&mut scope, &format!("after round {round}"));
        }
    }
    homes.check(&mut scope, "at the end");

    // Moves made while a cycle that compacted was marking.
    let mut start = None;
    let (mut cycles, mut moves_while_marking) = (0, 0);
    for e in scope.gc_events() {
        match e.kind {
            GcKind::MarkingStart => start = Some(e.start),
            GcKind::Major => {
                if let (Some(t0), true) = (start.take(), e.evacuated_pages > 0) {
                    cycles += 1;
                    moves_while_marking += moves.iter().filter(|&&t| t0 <= t && t < e.start).count();
                }
            }
            _ => {}
        }
    }
    println!("{cycles} compacting marking cycles; {moves_while_marking} moves while they marked");
    assert!(cycles >= 2, "only {cycles} marking cycles compacted");
    assert!(moves_while_marking >= 1000, "only {moves_while_marking} moves while marking");
}

// ----- Pinning ------------------------------------------------------------------------

/// `pin` pins old objects only: a Smi or a young object (which scavenges
/// move anyway) is refused, an object is accepted once promoted, and large,
/// map-space and interned objects are accepted too.
#[test]
fn pin_refuses_smis_and_young_objects() {
    let platform = Platform::new(0).unwrap();
    let mut isolate = Isolate::new(&platform, config(GcMode::Concurrent)).unwrap();
    let mut scope = HandleScope::new(&mut isolate);
    let smi = scope.smi(Smi::from(7));
    assert!(!scope.pin(smi), "a Smi cannot be pinned");
    let young = scope.new_fixed_array(4).unwrap();
    assert!(!scope.pin(young), "a young object cannot be pinned");
    let young_large = scope.new_fixed_array(LARGE_HOME).unwrap();
    assert!(!scope.pin(young_large), "a young large object cannot be pinned");
    let map = scope
        .new_map(&ObjectLayout { name: "Pinned".into(), tagged_fields: 0, raw_bytes: 0, ..Default::default() })
        .unwrap();
    assert!(scope.pin(map), "a map (map space) is old");
    let s = scope.intern("pinned").unwrap();
    assert!(scope.pin(s), "an interned string is old");
    scope.collect_garbage(GcRequest::Minor);
    assert!(!scope.pin(young), "an object that survived one scavenge is still young");
    scope.collect_garbage(GcRequest::Minor);
    assert!(scope.pin(young), "a promoted object can be pinned");
    assert!(scope.pin(young_large), "a promoted large object can be pinned");
}

both_modes! {
    /// With `stress_compaction` every movable old-space page is evacuated and
    /// released at every major GC; the page of a pinned object never is, in this
    /// GC or any later one, and its objects (and the pointers from them to
    /// objects that moved) stay correct.
    fn pinned_page_is_never_evacuated(mode: GcMode) {
        let platform = Platform::new(0).unwrap();
        let cfg = HeapConfig { stress_compaction: true, gc_workers: Some(0), ..config(mode) };
        let mut isolate = Isolate::new(&platform, cfg).unwrap();
        let mut scope = HandleScope::new(&mut isolate);
        let mut r = Records::build(&mut scope, RECORDS / 4);
        let locals = r.locals(&mut scope);
        r.drop_odd(&mut scope);
        let pages = old_space(&scope).committed / PAGE_SIZE;
        assert!(pages >= 3, "{mode:?}: {pages} old pages");
        let e = major(&mut scope);
        assert_eq!((e.evacuated_pages, e.aborted_pages), (pages, 0), "{mode:?}: every page moves");
        r.check(&mut scope, &locals, &format!("{mode:?}: after compacting everything"));
        {
            let mut s = HandleScope::new(&mut scope);
            let rec = r.record(&mut s, 1000);
            assert!(s.pin(rec));
        }
        for gc in 0..3 {
            r.young_referrers(&mut scope);
            let pages = old_space(&scope).committed / PAGE_SIZE;
            let e = major(&mut scope);
            assert_eq!(
                (e.evacuated_pages, e.aborted_pages),
                (pages - 1, 0),
                "{mode:?}: GC {gc}: every page but the pinned one moves"
            );
            r.check(&mut scope, &locals, &format!("{mode:?}: after stress GC {gc} with a pinned page"));
        }
    }
}

/// Stress compaction, marking cycles started by allocation (at 768 KiB of
/// old generation), one thread: deterministic up to the first cycle's
/// marking start at least.
fn cycle_config() -> HeapConfig {
    HeapConfig {
        stress_compaction: true,
        gc_workers: Some(0),
        initial_old_space_size: MB,
        ..config(GcMode::Concurrent)
    }
}

/// Allocates long-lived arrays (kept in `ring`, replacing the oldest) until
/// the isolate has recorded a GC event of `kind`; returns the first one.
fn allocate_until(scope: &mut HandleScope<'_>, ring: Local<'_, FixedArray>, kind: GcKind) -> GcEvent {
    for round in 0.. {
        let mut s = HandleScope::new(scope);
        let l = s.new_fixed_array(64).unwrap();
        s.set(ring, round % 512, l);
        drop(s);
        if let Some(e) = scope.gc_events().into_iter().find(|e| e.kind == kind) {
            return e;
        }
    }
    unreachable!()
}

/// Runs the first marking cycle (started by allocation, stress compaction)
/// of a deterministic program; with `pin`, pins a record once marking runs,
/// that is after the candidates were chosen. Returns the finalization event.
fn first_compacting_cycle(pin: bool) -> GcEvent {
    let platform = Platform::new(0).unwrap();
    let mut isolate = Isolate::new(&platform, cycle_config()).unwrap();
    let mut scope = HandleScope::new(&mut isolate);
    let r = Records::build(&mut scope, RECORDS / 8);
    let locals = r.locals(&mut scope);
    assert!(scope.gc_events().iter().all(|e| e.kind == GcKind::Minor), "marking started while building");
    let ring = scope.new_fixed_array(512).unwrap();
    allocate_until(&mut scope, ring, GcKind::MarkingStart);
    assert_eq!(scope.gc_counts().1, 0, "the cycle finished at once");
    if pin {
        let mut s = HandleScope::new(&mut scope);
        let rec = r.record(&mut s, 700);
        assert!(s.pin(rec));
    }
    let event = allocate_until(&mut scope, ring, GcKind::Major);
    assert_ne!(event.reason, GcReason::Requested);
    r.check(&mut scope, &locals, &format!("after the first marking cycle (pinned: {pin})"));
    // The pin holds in later GCs too.
    let pages = old_space(&scope).committed / PAGE_SIZE;
    let e = major(&mut scope);
    assert_eq!(e.evacuated_pages, pages - usize::from(pin), "pinned: {pin}");
    r.check(&mut scope, &locals, &format!("after an explicit major GC (pinned: {pin})"));
    event
}

/// A candidate pinned after it was chosen (while marking runs) stays: it is
/// neither evacuated nor released, and its objects, which nothing recorded
/// as slots, are updated one by one. The same deterministic program without
/// the pin releases exactly one page more.
#[test]
fn candidate_pinned_during_marking_stays() {
    let free = first_compacting_cycle(false);
    let pinned = first_compacting_cycle(true);
    println!("without the pin: {:?}; with the pin: {:?}", compaction(&free), compaction(&pinned));
    assert!(pinned.evacuated_pages > 0 && pinned.aborted_pages == 0, "{:?}", compaction(&pinned));
    assert_eq!(free.aborted_pages, 0);
    assert_eq!(pinned.evacuated_pages + 1, free.evacuated_pages, "the pinned candidate was released");
}

/// An explicit major GC while a compacting marking cycle runs abandons the
/// cycle and its candidates and chooses again for its own (atomic)
/// compaction. A candidate of the abandoned cycle pinned meanwhile is not
/// chosen again, and must not be released with the evacuated pages.
#[test]
fn explicit_gc_drops_the_candidates_of_the_marking_cycle_it_abandons() {
    let platform = Platform::new(0).unwrap();
    let mut isolate = Isolate::new(&platform, cycle_config()).unwrap();
    let mut scope = HandleScope::new(&mut isolate);
    let r = Records::build(&mut scope, RECORDS / 8);
    let locals = r.locals(&mut scope);
    let ring = scope.new_fixed_array(512).unwrap();
    allocate_until(&mut scope, ring, GcKind::MarkingStart);
    assert_eq!(scope.gc_counts().1, 0, "the cycle finished at once");
    {
        let mut s = HandleScope::new(&mut scope);
        let rec = r.record(&mut s, 700);
        assert!(s.pin(rec));
    }
    for gc in 0..2 {
        let pages = old_space(&scope).committed / PAGE_SIZE;
        let e = major(&mut scope);
        assert_eq!(e.reason, GcReason::Requested);
        assert_eq!(compaction(&e).0, pages - 1, "GC {gc}: every page but the pinned one moves");
        r.check(&mut scope, &locals, &format!("after explicit major GC {gc}"));
    }
}

// ----- Aborted evacuation ---------------------------------------------------------------

/// Evacuation may grow old space up to the hard limit (less the clean-up
/// reserve, [`CLEANUP_RESERVE`]), never past it. Here the old generation
/// (old, map and large-object pages) is exactly at that limit when stress
/// compaction starts, so nothing can move except
/// into free memory of pages that are not candidates: the first GC aborts
/// every candidate and moves nothing; once a page is pinned, its free memory
/// takes some objects and the rest of the candidates abort. Everything stays
/// correct (aborted pages are swept like any other), and once the limit has
/// room again compaction completes.
#[test]
fn evacuation_aborts_at_the_hard_limit() {
    const LIMIT: usize = 2 * MB;
    let platform = Platform::new(0).unwrap();
    let cfg = HeapConfig {
        stress_compaction: true,
        gc_workers: Some(0),
        max_old_space_size: LIMIT,
        initial_old_space_size: LIMIT,
        // The layout below is built by scavenges (promotion by copying packs
        // the records onto few pages); promotion by pages would carry the
        // garbage along and change which pages exist.
        fast_promotion: false,
        ..config(GcMode::StopTheWorld)
    };
    let mut isolate = Isolate::new(&platform, cfg).unwrap();
    let mut scope = HandleScope::new(&mut isolate);
    let mut r = Records::build(&mut scope, RECORDS / 4);
    let locals = r.locals(&mut scope);
    r.drop_odd(&mut scope);
    // Fill the rest of the limit with large byte arrays, a page each.
    let old_gen = |scope: &HandleScope<'_>| {
        let stats = scope.heap_stats();
        ["old_space", "map_space", "large_object_space"]
            .iter()
            .map(|n| stats.space(n).unwrap().committed)
            .sum::<usize>()
    };
    let mut fillers = Vec::new();
    while old_gen(&scope) < LIMIT - CLEANUP_RESERVE {
        let mut s = HandleScope::new(&mut scope);
        let b = s.new_byte_array(200_000).unwrap();
        fillers.push(s.global(b));
        drop(s);
        promote_all(&mut scope);
    }
    assert_eq!(old_gen(&scope), LIMIT - CLEANUP_RESERVE, "the old generation is at its allocation limit");
    let pages = old_space(&scope).committed / PAGE_SIZE;
    assert!(pages >= 3, "{pages} old pages");

    let e = major(&mut scope);
    println!("at the limit: {:?}", compaction(&e));
    assert_eq!(e.aborted_pages, pages, "every candidate aborts: {:?}", compaction(&e));
    assert_eq!((e.evacuated_pages, e.evacuated_bytes), (0, 0), "nothing can move: {:?}", compaction(&e));
    r.check(&mut scope, &locals, "after a GC whose candidates all aborted");

    // A pinned page, half free after the sweep, takes part of one candidate.
    {
        let mut s = HandleScope::new(&mut scope);
        let rec = r.record(&mut s, 0);
        assert!(s.pin(rec));
    }
    let pages = old_space(&scope).committed / PAGE_SIZE;
    let e = major(&mut scope);
    println!("with a pinned page: {:?}", compaction(&e));
    assert!(
        e.aborted_pages > 0 && e.evacuated_bytes > 0,
        "some objects move, then a page aborts: {:?}",
        compaction(&e)
    );
    assert_eq!(e.evacuated_pages + e.aborted_pages, pages - 1, "{:?}", compaction(&e));
    r.check(&mut scope, &locals, "after a partly aborted compaction");
    scope.collect_garbage(GcRequest::Minor);
    r.check(&mut scope, &locals, "after a scavenge that followed");

    // Room again: compaction completes.
    fillers.clear();
    let mut events = Vec::new();
    for _ in 0..2 {
        events.push(major(&mut scope));
        r.check(&mut scope, &locals, "after the limit has room again");
    }
    let e = events.last().unwrap();
    assert!(e.evacuated_pages > 0 && e.aborted_pages == 0, "{:?}", events.iter().map(compaction).collect::<Vec<_>>());
}

// ----- Both modes alike ----------------------------------------------------------------

/// Everything readable from the records' holders, weak handles and string
/// table, one line per record: contents, what field 3 refers to (by the
/// target's id, checked to be the very object its holder holds), and the
/// identity of the interned string.
fn snapshot(r: &Records, scope: &mut HandleScope<'_>) -> Vec<String> {
    let mut lines = Vec::new();
    for i in 0..r.n {
        let mut s = HandleScope::new(scope);
        let v = r.slot(&mut s, i);
        let Some(rec) = s.cast::<FixedArray, _>(v) else {
            lines.push(format!("{i}: undefined {}", s.is_undefined(v)));
            continue;
        };
        let mut line = format!("{i}: {:?} {:?}", s.get_smi(rec, 0), s.get_number(rec, 1).map(f64::to_bits));
        let x = s.get(rec, 2);
        line += &format!(" {:?}", s.cast::<HeapString, _>(x).map(|x| s.to_rust_string(x)));
        let p = s.get(rec, 3);
        match s.cast::<FixedArray, _>(p) {
            Some(p) => {
                let k = s.get_smi(p, 0).unwrap() as usize;
                let q = r.slot(&mut s, k);
                line += &format!(" ->{k} (same: {})", s.same_value(p, q));
            }
            None => line += &format!(" -> undefined {}", s.is_undefined(p)),
        }
        let x = s.get(rec, 4);
        let x = s.cast::<HeapString, _>(x).unwrap();
        let text = s.to_rust_string(x);
        let again = s.intern(&text).unwrap();
        line += &format!(" {text:?} (interned: {})", s.same_value(x, again));
        let p = s.get(rec, 5);
        let p = s.cast::<Object, _>(p).unwrap();
        let mut raw = [0u8; RAW];
        s.read_bytes(p, 0, &mut raw);
        let b = s.get(p, 0);
        let b = s.cast::<ByteArray, _>(b).unwrap();
        let mut bytes = vec![0u8; s.length(b)];
        s.read_bytes(b, 0, &mut bytes);
        line += &format!(" {raw:?} {bytes:?}");
        lines.push(line);
    }
    let mut s = HandleScope::new(scope);
    for (i, w) in &r.weaks {
        let target = s.open_weak(w);
        let same = target.map(|t| {
            let v = r.slot(&mut s, *i);
            s.same_value(t, v)
        });
        lines.push(format!("weak {i}: {same:?}"));
    }
    lines
}

/// One program under stress compaction: records are dropped and relinked
/// between major GCs (each compacting everything), with young referrers.
/// Returns the snapshot after every GC.
fn relinking_program(mode: GcMode) -> Vec<Vec<String>> {
    let platform = Platform::new(2).unwrap();
    let cfg = HeapConfig { stress_compaction: true, ..config(mode) };
    let mut isolate = Isolate::new(&platform, cfg).unwrap();
    let mut scope = HandleScope::new(&mut isolate);
    let r = Records::build(&mut scope, RECORDS / 4);
    let n = r.n;
    let mut snapshots = Vec::new();
    for round in 0..4 {
        let mut s = HandleScope::new(&mut scope);
        let undefined = s.undefined();
        for i in (round..n).step_by(7) {
            let v = r.slot(&mut s, i);
            let j = (i * 3 + round) % n;
            let w = r.slot(&mut s, j);
            if let (Some(rec), false) = (s.cast::<FixedArray, _>(v), s.is_undefined(w)) {
                s.set(rec, 3, w);
            }
        }
        for i in (round * 3..n).step_by(11) {
            let h = s.open(&r.holders[i / CHUNK]);
            s.set(h, i % CHUNK, undefined);
        }
        drop(s);
        r.young_referrers(&mut scope);
        let e = major(&mut scope);
        assert!(e.evacuated_pages > 0, "{mode:?}: round {round}: {:?}", compaction(&e));
        snapshots.push(snapshot(&r, &mut scope));
        scope.collect_garbage(GcRequest::Minor);
    }
    snapshots
}

/// Stop-the-world and concurrent mode compact the same program into the
/// same object graph.
#[test]
fn both_modes_compact_into_the_same_graph() {
    let stw = relinking_program(GcMode::StopTheWorld);
    let concurrent = relinking_program(GcMode::Concurrent);
    for (round, (a, b)) in stw.iter().zip(&concurrent).enumerate() {
        for (x, y) in a.iter().zip(b) {
            assert_eq!(x, y, "round {round}: StopTheWorld vs Concurrent");
        }
        assert_eq!(a.len(), b.len());
        assert!(a.iter().all(|l| !l.contains("interned: false")), "round {round}");
        let records = a.iter().filter(|l| l.contains("interned: true")).count();
        assert!(records >= RECORDS / 8, "round {round}: only {records} records left");
    }
}

// ----- Large objects promoted while marking ----------------------------------------

/// A young large object is promoted by flipping its page to old, not by
/// copying: its mark bit stays. Here it is a root when an incremental cycle
/// (stress compaction) starts, so the first marking step scans it while it
/// is young (a young host's slots are not recorded: young pages are updated
/// object by object); a scavenge then promotes it, still black, and the
/// cycle finalizes and compacts. Its fields point to old objects that move:
/// they must be updated although the marker never saw the object as old.
#[test]
fn large_object_promoted_during_marking_has_its_fields_updated() {
    let platform = Platform::new(0).unwrap();
    let cfg = HeapConfig {
        stress_compaction: true,
        gc_workers: Some(0),
        initial_old_space_size: 2 * MB,
        ..config(GcMode::Concurrent)
    };
    let mut isolate = Isolate::new(&platform, cfg).unwrap();
    let mut scope = HandleScope::new(&mut isolate);
    // Old objects: a value, and a ballast of about a megabyte that keeps the
    // marking cycle going for several steps.
    let (value, ballast) = {
        let mut s = HandleScope::new(&mut scope);
        let v = s.new_fixed_array(2).unwrap();
        s.set(v, 0, Smi::from(42));
        let t = s.new_string("the value").unwrap();
        s.set(v, 1, t);
        let b = s.new_fixed_array(2000).unwrap();
        for i in 0..2000 {
            let x = s.new_fixed_array(64).unwrap();
            s.set(x, 0, Smi::from(i));
            s.set(b, i as usize, x);
        }
        (s.global(v), s.global(b))
    };
    promote_all(&mut scope);
    // The large object: young, a root, and the only one (the globals go).
    let large = scope.new_fixed_array(LARGE_HOME).unwrap();
    {
        let mut s = HandleScope::new(&mut scope);
        let v = s.open(&value);
        s.set(large, 5, v);
        let b = s.open(&ballast);
        s.set(large, 0, b);
    }
    drop((value, ballast));
    assert!(!scope.pin(large), "the large object is young");
    // Old-space allocations until marking starts, then a few steps (each
    // old-space allocation is one).
    let mut n = 0;
    let mut intern = |scope: &mut HandleScope<'_>| {
        let mut s = HandleScope::new(scope);
        s.intern(&format!("{n:>1000}")).unwrap();
        n += 1;
    };
    while scope.gc_events().iter().all(|e| e.kind != GcKind::MarkingStart) {
        intern(&mut scope);
    }
    for _ in 0..2 {
        intern(&mut scope);
    }
    let majors = scope.gc_counts().1;
    assert_eq!(majors, 0, "the cycle finished before the scavenge");
    scope.collect_garbage(GcRequest::Minor);
    assert!(scope.pin(large), "the scavenge promoted the large object");
    while scope.gc_counts().1 == majors {
        intern(&mut scope);
    }
    let e = scope.gc_events().into_iter().rfind(|e| e.kind == GcKind::Major).unwrap();
    assert!(e.reason != GcReason::Requested && e.evacuated_pages > 0, "{:?}: {:?}", e.reason, compaction(&e));
    let v = scope.get(large, 5);
    let v = scope.cast::<FixedArray, _>(v).expect("the value");
    assert_eq!(scope.get_smi(v, 0), Some(42));
    let t = scope.get(v, 1);
    assert_eq!(scope.to_rust_string(scope.cast::<HeapString, _>(t).unwrap()), "the value");
    let b = scope.get(large, 0);
    let b = scope.cast::<FixedArray, _>(b).expect("the ballast");
    for i in (0..2000).step_by(97) {
        let x = scope.get(b, i);
        let x = scope.cast::<FixedArray, _>(x).unwrap();
        assert_eq!(scope.get_smi(x, 0), Some(i as i64));
    }
}

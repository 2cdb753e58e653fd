//! Ephemeron tables (WeakMap / WeakSet): a value is kept alive only while
//! its key is (Hayes 1997, `papers/hayes-1997-ephemerons.md`; V8's
//! `EphemeronHashTable` and its marking in `mark-compact.cc`).
//!
//! A table is a heap object of kind [`crate::InstanceType::EphemeronTable`]
//! (map, row id) whose entries live in this module's store, one row per
//! table, owned by the isolate's [`crate::roots`] (as V8's
//! `JSWeakCollection` points to a separate hash-table backing store). The
//! store is one more row of roots, so the existing weak-root machinery
//! updates it: the scavenger and the compactor rewrite moved table objects,
//! keys and values; a scavenge drops the entries of keys it did not copy
//! (visiting only the tables' young lists, below); a major GC's
//! weak clearing drops dead tables and the entries of dead keys.
//!
//! - **Lookup by identity survives moves**: an entry is filed in a bucket
//!   by the key's identity hash ([`crate::identity_hash`]), which never
//!   changes when the key moves, so a move is a rewrite of the key word and
//!   never a rehash.
//! - **Marking**: an entry's value is traced only once both the table and
//!   the key are marked. [`EphemeronTables::round`] resolves, in one pass,
//!   the entries whose key is marked; the others wait (their `resolved`
//!   flag stays clear). Background markers run rounds when they run out of
//!   grey objects (a bounded number per cycle); the finalization pause runs
//!   at most [`MAX_PAUSE_ROUNDS`] rounds, each followed by a parallel drain
//!   ([`EphemeronTables::pause_rounds`]), then falls back to the linear
//!   algorithm ([`EphemeronTables::linear`]: waiting entries filed under the
//!   object they wait for, resolved when that object is popped), as V8
//!   iterates `ephemeron_fixpoint_iterations` parallel rounds and then
//!   switches to `ProcessEphemeronsLinear`. The pause's ephemeron work is so
//!   bounded by `MAX_PAUSE_ROUNDS` passes over the entries plus one linear
//!   pass, whatever the chains' length.
//! - **Minor GCs**: a scavenge treats keys as weak and values as strong
//!   (V8's scavenger does the same): an entry whose young key was not copied
//!   goes after the scavenge. Each table keeps the indices of its entries
//!   whose key or value may be young ([`Table::young`], V8's ephemeron
//!   remembered set, which also holds young tables' entries here): a
//!   scavenge visits only those entries (their values as roots, their keys
//!   updated or cleared afterwards, [`EphemeronTables::scavenge_update`]),
//!   so its cost follows the young entries, not the whole store.
//!
//! The algorithm ([`Marks`], [`EphemeronTables::round`], the pause's
//! fixpoint) is written against a small marking interface so that the loom
//! model `loom-tests/tests/ephemeron_race.rs` drives this very code.

use crate::sync::faults::{fault, Fault};
use std::collections::HashMap;

/// Most parallel rounds the finalization pause runs before the linear
/// fallback (V8's `--ephemeron-fixpoint-iterations` default is 10).
pub const MAX_PAUSE_ROUNDS: usize = 10;
/// Most rounds the background markers run over one concurrent cycle (the
/// rest waits for the pause, whose work is bounded). A round costs a pass
/// over the entries (about 0.1-0.5 ms for 100,000), so this bounds the
/// background CPU a cycle spends on rounds while letting chains of ~100
/// resolve before the pause (`benches/ephemerons.rs`: with 16, chains of
/// 100 left a 13 ms finalization pause; with 128, under 1 ms).
pub const MAX_CONCURRENT_ROUNDS: usize = 128;

/// The word a table row holds for a cleared key, value or table: a
/// cleared weak handle's word.
pub use crate::handles::CLEARED_WORD;

/// What the ephemeron algorithm asks of marking. Words are tagged words: a
/// Smi is always "marked" and never needs marking.
pub trait Marks {
    /// Is the object `word` points to marked (or a Smi, or never marked
    /// because it is immortal)?
    fn is_marked(&self, word: usize) -> bool;
    /// Marks the object `word` points to; `true` if this call marked it
    /// (then the caller pushes it, to be scanned).
    fn try_mark(&self, word: usize) -> bool;
}

/// One entry of a table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The key (a tagged pointer; held weakly).
    pub key: usize,
    /// The value (a tagged word; traced once the key is marked).
    pub value: usize,
    /// The key's identity hash (its bucket).
    pub hash: u32,
    /// In the current marking cycle, was the value traced already?
    pub resolved: bool,
    /// This entry's position in its table's young list, or [`NOT_YOUNG`].
    pub young: u32,
}

/// [`Entry::young`] of an entry whose key and value are old.
pub const NOT_YOUNG: u32 = u32::MAX;

/// The entries of one table, with buckets by identity hash.
#[derive(Debug, Default)]
pub struct Table {
    /// The table's heap object (a tagged pointer; held weakly).
    pub object: usize,
    /// The entries, in insertion order (deletion swaps the last one in).
    pub entries: Vec<Entry>,
    buckets: HashMap<u32, Vec<u32>>,
    /// The ephemeron remembered set: indices of the entries whose key or
    /// value may be young (each entry knows its position, [`Entry::young`]).
    pub young: Vec<u32>,
}

impl Table {
    fn find(&self, key: usize, hash: u32) -> Option<usize> {
        self.buckets.get(&hash)?.iter().map(|&i| i as usize).find(|&i| self.entries[i].key == key)
    }

    /// Files every entry again (buckets and young list) after a bulk
    /// removal; an entry stays young if it was.
    fn rebuild_buckets(&mut self) {
        self.buckets.clear();
        self.young.clear();
        for (i, e) in self.entries.iter_mut().enumerate() {
            self.buckets.entry(e.hash).or_default().push(i as u32);
            if e.young != NOT_YOUNG {
                e.young = self.young.len() as u32;
                self.young.push(i as u32);
            }
        }
    }

    fn mark_young(&mut self, i: usize) {
        if self.entries[i].young == NOT_YOUNG {
            self.entries[i].young = self.young.len() as u32;
            self.young.push(i as u32);
        }
    }

    fn unmark_young(&mut self, i: usize) {
        let p = self.entries[i].young;
        if p == NOT_YOUNG {
            return;
        }
        self.young.swap_remove(p as usize);
        if let Some(&moved) = self.young.get(p as usize) {
            self.entries[moved as usize].young = p;
        }
        self.entries[i].young = NOT_YOUNG;
    }

    /// Removes entry `i` (swapping the last one in), keeping buckets and
    /// the young list right.
    fn remove_at(&mut self, i: usize) {
        self.unmark_young(i);
        self.unfile(self.entries[i].hash, i);
        let last = self.entries.len() - 1;
        if i != last {
            let moved = self.entries[last];
            self.unfile(moved.hash, last);
            self.buckets.entry(moved.hash).or_default().push(i as u32);
            if moved.young != NOT_YOUNG {
                self.young[moved.young as usize] = i as u32;
            }
        }
        self.entries.swap_remove(i);
    }

    fn unfile(&mut self, hash: u32, i: usize) {
        if let Some(b) = self.buckets.get_mut(&hash) {
            b.retain(|&j| j as usize != i);
            if b.is_empty() {
                self.buckets.remove(&hash);
            }
        }
    }
}

/// The entries of every ephemeron table of one isolate, by row id.
#[derive(Debug, Default)]
pub struct EphemeronTables {
    rows: Vec<Option<Table>>,
    free: Vec<u32>,
    /// Rounds the background markers ran this cycle.
    pub concurrent_rounds: usize,
    /// Parallel rounds the last finalization pause ran.
    pub last_pause_rounds: usize,
    /// Finalization pauses that reached the bound and fell back to the
    /// linear algorithm.
    pub linear_fallbacks: usize,
}

impl EphemeronTables {
    /// An empty store.
    pub fn new() -> EphemeronTables {
        EphemeronTables::default()
    }

    /// A row for the table object `object`; returns its id.
    pub fn create(&mut self, object: usize) -> u32 {
        let t = Table { object, ..Table::default() };
        match self.free.pop() {
            Some(id) => {
                self.rows[id as usize] = Some(t);
                id
            }
            None => {
                self.rows.push(Some(t));
                (self.rows.len() - 1) as u32
            }
        }
    }

    /// The row `id`.
    ///
    /// # Panics
    /// If the row does not exist: the table object names a row of another
    /// isolate's store, or the heap is corrupt.
    pub fn table(&self, id: u32) -> &Table {
        match self.rows.get(id as usize).and_then(Option::as_ref) {
            Some(t) => t,
            None => panic!("isogc: ephemeron table row {id} does not exist in this isolate"),
        }
    }

    fn table_mut(&mut self, id: u32) -> &mut Table {
        match self.rows.get_mut(id as usize).and_then(Option::as_mut) {
            Some(t) => t,
            None => panic!("isogc: ephemeron table row {id} does not exist in this isolate"),
        }
    }

    /// Sets `key` (with identity hash `hash`) to `value` in table `id`.
    /// `resolved`: the caller shaded key and value (marking is active), so
    /// the entry needs no round this cycle. `young`: the key or the value
    /// is young (the entry joins the table's young list).
    pub fn insert(&mut self, id: u32, key: usize, hash: u32, value: usize, resolved: bool, young: bool) {
        let t = self.table_mut(id);
        let i = match t.find(key, hash) {
            Some(i) => {
                t.entries[i].value = value;
                t.entries[i].resolved |= resolved;
                i
            }
            None => {
                t.buckets.entry(hash).or_default().push(t.entries.len() as u32);
                t.entries.push(Entry { key, value, hash, resolved, young: NOT_YOUNG });
                t.entries.len() - 1
            }
        };
        if young {
            t.mark_young(i);
        }
    }

    /// The value of `key` in table `id`.
    pub fn get(&self, id: u32, key: usize, hash: u32) -> Option<usize> {
        let t = self.table(id);
        t.find(key, hash).map(|i| t.entries[i].value)
    }

    /// Removes `key` from table `id`; `true` if it was there.
    pub fn remove(&mut self, id: u32, key: usize, hash: u32) -> bool {
        let t = self.table_mut(id);
        let Some(i) = t.find(key, hash) else { return false };
        t.remove_at(i);
        true
    }

    /// Every live row: its id and table.
    pub fn tables(&self) -> impl Iterator<Item = (u32, &Table)> + '_ {
        self.rows.iter().enumerate().filter_map(|(i, t)| Some((i as u32, t.as_ref()?)))
    }

    /// Number of tables and of entries.
    pub fn counts(&self) -> (usize, usize) {
        self.tables().fold((0, 0), |(t, e), (_, tb)| (t + 1, e + tb.entries.len()))
    }

    /// Rewrites every table object, key and value with `f` (a move returns
    /// the new word, [`CLEARED_WORD`] that the object died): a table whose
    /// object died goes, and so does an entry whose key or value did.
    pub fn update(&mut self, mut f: impl FnMut(usize) -> usize) {
        for (i, row) in self.rows.iter_mut().enumerate() {
            let Some(t) = row else { continue };
            t.object = f(t.object);
            if t.object == CLEARED_WORD {
                *row = None;
                self.free.push(i as u32);
                continue;
            }
            let before = t.entries.len();
            t.entries.retain_mut(|e| {
                e.key = f(e.key);
                e.value = f(e.value);
                e.key != CLEARED_WORD && e.value != CLEARED_WORD
            });
            if t.entries.len() != before {
                t.rebuild_buckets();
            }
        }
    }

    /// After marking: tables whose object `is_live` rejects go, and so do
    /// the entries whose key it rejects (their values were never traced).
    pub fn clear_dead(&mut self, is_live: impl Fn(usize) -> bool) {
        self.update(|w| if is_live(w) { w } else { CLEARED_WORD });
    }

    /// Calls `f` on every table object, key and value word.
    pub fn for_each_word(&self, mut f: impl FnMut(usize)) {
        for (_, t) in self.tables() {
            f(t.object);
            for e in &t.entries {
                f(e.key);
                f(e.value);
            }
        }
    }

    /// Calls `f` on the value of every entry in a young list: a
    /// scavenge's strong roots (an old entry's value is old, and what it
    /// points to is in the remembered sets already).
    pub fn for_each_young_value(&mut self, mut f: impl FnMut(&mut usize)) {
        for t in self.rows.iter_mut().flatten() {
            let Table { entries, young, .. } = t;
            for &i in young.iter() {
                f(&mut entries[i as usize].value);
            }
        }
    }

    /// After a scavenge: every table object, and the keys and values of the
    /// entries in the young lists, rewritten with `f` (as in
    /// [`EphemeronTables::update`]); a dead table goes, an entry whose key
    /// died goes, and an entry whose key and value are now old
    /// (`is_young` rejects both) leaves its young list.
    pub fn scavenge_update(&mut self, mut f: impl FnMut(usize) -> usize, is_young: impl Fn(usize) -> bool) {
        for (id, row) in self.rows.iter_mut().enumerate() {
            let Some(t) = row else { continue };
            t.object = f(t.object);
            if t.object == CLEARED_WORD {
                *row = None;
                self.free.push(id as u32);
                continue;
            }
            let mut dead = Vec::new();
            // Positions from the last down: leaving the young list moves its
            // last element into the freed position, one already visited.
            for p in (0..t.young.len()).rev() {
                let i = t.young[p];
                let e = &mut t.entries[i as usize];
                e.key = f(e.key);
                e.value = f(e.value);
                if e.key == CLEARED_WORD || e.value == CLEARED_WORD {
                    dead.push(i);
                } else if !is_young(e.key) && !is_young(e.value) {
                    t.unmark_young(i as usize);
                }
            }
            // From the highest index down, so the entry swapped in by each
            // removal is never one still to be removed.
            dead.sort_unstable();
            for &i in dead.iter().rev() {
                t.remove_at(i as usize);
            }
        }
    }

    /// At the start of a marking cycle: every entry waits again.
    pub fn reset_marking(&mut self) {
        self.concurrent_rounds = 0;
        for t in self.rows.iter_mut().flatten() {
            t.entries.iter_mut().for_each(|e| e.resolved = false);
        }
    }

    /// One round: in every marked table, each waiting entry whose key is
    /// marked is resolved (its value marked; `push` takes what this call
    /// marked). Entries whose key is white keep waiting. Returns the
    /// entries resolved.
    pub fn round<M: Marks>(&mut self, marks: &M, mut push: impl FnMut(usize)) -> usize {
        let mut resolved = 0;
        for t in self.rows.iter_mut().flatten() {
            if !marks.is_marked(t.object) {
                continue;
            }
            for e in t.entries.iter_mut().filter(|e| !e.resolved) {
                if marks.is_marked(e.key) {
                    e.resolved = true;
                    resolved += 1;
                    if marks.try_mark(e.value) {
                        push(e.value);
                    }
                } else if fault(Fault::EphemeronDropWaiting) {
                    // Broken twin: the waiting entry is dropped from the
                    // work as if it had been resolved.
                    e.resolved = true;
                }
            }
        }
        resolved
    }

    /// The finalization pause's parallel part: up to `max_rounds` rounds,
    /// each followed by `drain` (marking, to a fixed point, what the round
    /// marked). `Ok(rounds)` once a round after a full drain marks nothing
    /// (the fixpoint); `Err(seed)` when the bound is reached with work left
    /// (`seed`: what the last round marked, for [`EphemeronTables::linear`]).
    pub fn pause_rounds<M: Marks>(
        &mut self,
        marks: &M,
        max_rounds: usize,
        mut drain: impl FnMut(Vec<usize>),
    ) -> Result<usize, Vec<usize>> {
        for r in 0..=max_rounds {
            let mut seed = Vec::new();
            self.round(marks, |v| seed.push(v));
            if seed.is_empty() {
                return Ok(r);
            }
            if r == max_rounds {
                return Err(seed);
            }
            drain(seed);
        }
        unreachable!("the loop returns in its last iteration")
    }

    /// The linear fallback: every waiting entry is filed under the object it
    /// waits for (its table, or its key), and `visit` (which scans one
    /// object, pushing what it marked) drains `stack` sequentially; when a
    /// popped object has entries waiting for it, they are looked at again.
    /// Each entry is filed at most twice (table, then key), so the cost is
    /// linear in the entries plus the objects marked.
    pub fn linear<M: Marks>(
        &mut self,
        marks: &M,
        mut stack: Vec<usize>,
        mut visit: impl FnMut(usize, &mut Vec<usize>),
    ) {
        let waiting_entries: usize = self.rows.iter().flatten().map(|t| t.entries.len()).sum();
        let mut waiting =
            Waiting { heads: HashMap::with_capacity(waiting_entries), links: Vec::with_capacity(waiting_entries) };
        for ti in 0..self.rows.len() {
            let n = self.rows[ti].as_ref().map_or(0, |t| t.entries.len());
            for ei in 0..n {
                self.classify(marks, (ti as u32, ei as u32), &mut waiting, &mut stack);
            }
        }
        while let Some(o) = stack.pop() {
            visit(o, &mut stack);
            let Some(mut link) = waiting.heads.remove(&o) else { continue };
            while link != NO_LINK {
                let (next, dep) = waiting.links[link as usize];
                self.classify(marks, dep, &mut waiting, &mut stack);
                link = next;
            }
        }
    }

    /// [`EphemeronTables::linear`]'s step for one entry: resolved now if its
    /// table and key are marked, else filed under the first of them that
    /// is not.
    fn classify<M: Marks>(&mut self, marks: &M, (ti, ei): (u32, u32), waiting: &mut Waiting, stack: &mut Vec<usize>) {
        let Some(t) = self.rows[ti as usize].as_mut() else { return };
        let object = t.object;
        let e = &mut t.entries[ei as usize];
        if e.resolved {
            return;
        }
        let on = if !marks.is_marked(object) {
            object
        } else if !marks.is_marked(e.key) {
            e.key
        } else {
            e.resolved = true;
            if marks.try_mark(e.value) {
                stack.push(e.value);
            }
            return;
        };
        let next = waiting.heads.insert(on, waiting.links.len() as u32).unwrap_or(NO_LINK);
        waiting.links.push((next, (ti, ei)));
    }
}

/// The linear fallback's multimap from an unmarked object to the entries
/// waiting for it: a list per object, threaded through one vector (no
/// allocation per object).
struct Waiting {
    heads: HashMap<usize, u32>,
    /// (next link of the same object, (table row, entry)).
    links: Vec<(u32, (u32, u32))>,
}

/// The end of a [`Waiting`] list.
const NO_LINK: u32 = u32::MAX;

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::collections::HashSet;

    /// Marks as a set of words; objects as a map from word to children.
    struct Toy {
        marked: RefCell<HashSet<usize>>,
    }

    impl Marks for Toy {
        fn is_marked(&self, w: usize) -> bool {
            w & 1 == 0 || self.marked.borrow().contains(&w)
        }
        fn try_mark(&self, w: usize) -> bool {
            w & 1 == 1 && self.marked.borrow_mut().insert(w)
        }
    }

    fn toy(marked: &[usize]) -> Toy {
        Toy { marked: RefCell::new(marked.iter().copied().collect()) }
    }

    #[test]
    fn insert_get_remove_keep_buckets_consistent() {
        let mut s = EphemeronTables::new();
        let id = s.create(0x11);
        for k in 0..50usize {
            // Few hashes, so buckets hold several keys.
            s.insert(id, 0x101 + 16 * k, (k % 3) as u32, 2 * k, false, false);
        }
        assert_eq!(s.counts(), (1, 50));
        assert!(s.remove(id, 0x101, 0));
        assert!(!s.remove(id, 0x101, 0), "removed twice");
        for k in 1..50usize {
            assert_eq!(s.get(id, 0x101 + 16 * k, (k % 3) as u32), Some(2 * k), "key {k} after a swap-remove");
        }
        s.insert(id, 0x111, 1, 7, false, false);
        assert_eq!(s.get(id, 0x111, 1), Some(7), "insert replaces");
        assert_eq!(s.counts(), (1, 49));
    }

    #[test]
    fn a_chain_resolves_round_by_round_and_linearly_past_the_bound() {
        // Table T; entries k0 -> k1 -> k2 -> ... (each value the next key).
        let n = 30;
        let keys: Vec<usize> = (0..=n).map(|i| 0x1001 + 16 * i).collect();
        let build = || {
            let mut s = EphemeronTables::new();
            let id = s.create(0x11);
            // Inserted in reverse so one round resolves one link.
            for i in (0..n).rev() {
                s.insert(id, keys[i], i as u32, keys[i + 1], false, false);
            }
            s
        };
        let mut s = build();
        let m = toy(&[0x11, keys[0]]);
        let r = s.pause_rounds(&m, 100, |_| {});
        assert_eq!(r, Ok(n), "one link per round");
        assert!(keys.iter().all(|&k| m.is_marked(k)));

        let mut s = build();
        let m = toy(&[0x11, keys[0]]);
        let seed = s.pause_rounds(&m, 3, |_| {}).expect_err("the bound is reached");
        s.linear(&m, seed, |_, _| {});
        assert!(keys.iter().all(|&k| m.is_marked(k)), "the linear fallback finishes the chain");
    }

    #[test]
    fn an_unmarked_table_traces_nothing_until_it_is_marked() {
        let mut s = EphemeronTables::new();
        let id = s.create(0x11);
        s.insert(id, 0x21, 0, 0x31, false, false);
        let m = toy(&[0x21]);
        assert_eq!(s.round(&m, |_| {}), 0);
        // The table is reached later, by the linear drain.
        s.linear(&m, vec![0x41], |o, stack| {
            if o == 0x41 && m.try_mark(0x11) {
                stack.push(0x11);
            }
        });
        assert!(m.is_marked(0x31));
    }

    #[test]
    fn the_young_list_follows_removals_and_scavenges() {
        let mut s = EphemeronTables::new();
        let id = s.create(0x11);
        // Keys 0x1001.. young when odd-numbered, values Smis.
        for k in 0..20usize {
            s.insert(id, 0x1001 + 16 * k, k as u32, 2 * k, false, k % 2 == 1);
        }
        assert_eq!(s.table(id).young.len(), 10);
        assert!(s.remove(id, 0x1001 + 16 * 3, 3));
        assert!(s.remove(id, 0x1001, 0));
        let check = |s: &EphemeronTables| {
            let t = s.table(id);
            for (p, &i) in t.young.iter().enumerate() {
                assert_eq!(t.entries[i as usize].young, p as u32, "positions agree");
            }
            assert_eq!(t.entries.iter().filter(|e| e.young != NOT_YOUNG).count(), t.young.len());
        };
        check(&s);
        assert_eq!(s.table(id).young.len(), 9);
        let mut visited = 0;
        s.for_each_young_value(|_| visited += 1);
        assert_eq!(visited, 9);
        // A scavenge: key 5 died, key 7 was promoted, the others stay young.
        s.scavenge_update(
            |w| match w {
                w if w == 0x1001 + 16 * 5 => CLEARED_WORD,
                w if w == 0x1001 + 16 * 7 => 0x9001,
                w => w,
            },
            |w| w & 1 == 1 && w != 0x9001,
        );
        check(&s);
        assert_eq!(s.counts(), (1, 17));
        assert_eq!(s.table(id).young.len(), 7);
        assert_eq!(s.get(id, 0x9001, 7), Some(14), "the promoted key is found under its hash");
        for k in [9usize, 11, 13, 15, 17, 19, 1] {
            assert_eq!(s.get(id, 0x1001 + 16 * k, k as u32), Some(2 * k), "key {k}");
        }
    }

    #[test]
    fn clearing_drops_dead_keys_and_dead_tables() {
        let mut s = EphemeronTables::new();
        let a = s.create(0x11);
        let b = s.create(0x51);
        s.insert(a, 0x21, 0, 0x31, false, false);
        s.insert(a, 0x41, 1, 8, false, false);
        s.insert(b, 0x21, 0, 0x31, false, false);
        s.clear_dead(|w| w != 0x41 && w != 0x51);
        assert_eq!(s.counts(), (1, 1));
        assert_eq!(s.get(a, 0x21, 0), Some(0x31));
        assert_eq!(s.get(a, 0x41, 1), None);
        let c = s.create(0x61);
        assert_eq!(c, b, "a dead table's row is reused");
    }
}

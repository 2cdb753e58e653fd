//! The roots of one isolate's heap, and the one walk over them.
//!
//! A runtime holds heap values only in handles (DESIGN section 4), so the
//! roots are exactly:
//!
//! | kind | where | strength |
//! |---|---|---|
//! | local handles | the handle stack of the isolate's scopes (the oddballs at its bottom) | strong |
//! | global handles | the global [`GlobalTable`] | strong |
//! | weak handles | the weak [`GlobalTable`] | weak: cleared when the target dies |
//! | the string table | [`StringTable`] | weak: entries of dead strings go |
//! | identity hashes | [`IdentityHashes`] | weak: entries follow moves; those of dead objects go |
//! | ephemeron tables | [`EphemeronTables`] | table objects and keys weak; values traced once their key is (marking), strong in a scavenge |
//! | WeakRefs | [`WeakRefs`] | weak: rows follow their objects; dead targets become `undefined` |
//! | finalization registries | [`Registries`] | registry objects, targets and tokens weak; held values strong |
//! | heap-snapshot ids | [`SnapshotIds`] | weak, as identity hashes (empty until a first snapshot) |
//!
//! Every phase reaches them through this module and no other: the scavenger
//! and the marker walk the strong roots in parallel ([`Roots::strong`]:
//! the isolate's thread takes the locals, every task claims global-handle
//! blocks), the scavenger and compaction update the weak ones
//! ([`Roots::update`]), marking clears the dead ones ([`Roots::clear_dead`]),
//! and the verifier reads them all ([`Roots::for_each`]). A new kind of root
//! is one more row here.

use crate::ephemeron::EphemeronTables;
use crate::finalization::Registries;
use crate::handles::{clear_weak_slot, GlobalTable, GlobalTableInner, HandleBlocks, CLEARED};
use crate::heap_snapshot::SnapshotIds;
use crate::identity_hash::IdentityHashes;
use crate::string_table::StringTable;
use crate::sync::{Arc, AtomicUsize, Mutex, Ordering};
use crate::value::Tagged;
use crate::weak_ref::WeakRefs;
use std::cell::Ref;
use std::rc::Rc;

/// Which root a walk is at (for messages, and for the string table's hash).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Root {
    /// Local handle `i` (an index into the handle stack).
    Local(usize),
    /// Global handle slot `i`.
    Global(usize),
    /// Weak handle slot `i`.
    Weak(usize),
    /// A string-table entry, filed under `hash`.
    String { hash: u64 },
    /// The key of an identity-hash entry.
    IdentityHash,
    /// An ephemeron table object, key or value.
    Ephemeron,
    /// A WeakRef object or its target.
    WeakRef,
    /// A finalization registry, target, token or held value.
    Finalization,
    /// The key of a heap-snapshot id entry.
    SnapshotId,
}

impl std::fmt::Display for Root {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Root::Local(i) => write!(f, "local handle #{i}"),
            Root::Global(i) => write!(f, "global handle #{i}"),
            Root::Weak(i) => write!(f, "weak handle #{i}"),
            Root::String { .. } => write!(f, "string table entry"),
            Root::IdentityHash => write!(f, "identity-hash entry"),
            Root::Ephemeron => write!(f, "ephemeron table entry"),
            Root::WeakRef => write!(f, "WeakRef row"),
            Root::Finalization => write!(f, "finalization registry cell"),
            Root::SnapshotId => write!(f, "heap-snapshot id entry"),
        }
    }
}

/// The kinds of roots one walk visits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RootSet(u16);

impl RootSet {
    /// The local handles.
    pub(crate) const LOCALS: RootSet = RootSet(1);
    /// The global handles.
    pub(crate) const GLOBALS: RootSet = RootSet(2);
    /// The weak handles alone.
    pub(crate) const WEAK_HANDLES: RootSet = RootSet(4);
    /// The identity-hash table's keys alone.
    const IDENTITY_HASHES: RootSet = RootSet(16);
    /// The ephemeron tables: table objects, keys and values. Weak (keys'
    /// and tables' deaths drop entries); marking traces the values itself.
    const EPHEMERONS: RootSet = RootSet(32);
    /// For a scavenge's update: the table objects and the entries on the
    /// tables' young lists alone (the ephemeron remembered set).
    const YOUNG_EPHEMERONS: RootSet = RootSet(512);
    /// For a scavenge's update: the WeakRefs on the young list alone.
    const YOUNG_WEAK_REFS: RootSet = RootSet(1024);
    /// For a scavenge's update: the registries and their young cells alone.
    const YOUNG_FINALIZATION: RootSet = RootSet(2048);
    /// The WeakRef rows and their targets.
    const WEAK_REFS: RootSet = RootSet(64);
    /// The finalization registries' weak words: registries, targets, tokens.
    const FINALIZATION_WEAK: RootSet = RootSet(128);
    /// The finalization registries' held values (strong).
    const FINALIZATION_HELD: RootSet = RootSet(256);
    /// The heap-snapshot id table's keys of old objects.
    const SNAPSHOT_IDS_OLD: RootSet = RootSet(4096);
    /// The heap-snapshot id table's keys of young objects.
    const SNAPSHOT_IDS_YOUNG: RootSet = RootSet(8192);
    /// The weak references that may point into the young generation, which
    /// a scavenge updates: the weak handles, the identity-hash keys, the
    /// ephemeron tables' young entries, the young WeakRefs, the
    /// registries' young cells and the young objects' snapshot-id keys.
    pub(crate) const WEAKS: RootSet = RootSet(4 | 16 | 512 | 1024 | 2048 | 8192);
    /// The string table.
    pub(crate) const STRINGS: RootSet = RootSet(8);
    /// What keeps objects alive: local and global handles, and held values
    /// waiting for delivery.
    pub(crate) const STRONG: RootSet = RootSet(1 | 2 | 256);
    /// What holds objects without keeping them alive.
    pub(crate) const WEAK: RootSet = RootSet(4 | 8 | 16 | 32 | 64 | 128 | 4096 | 8192);
    /// Every root.
    pub(crate) const ALL: RootSet = RootSet(511 | 4096 | 8192);

    fn has(self, kind: RootSet) -> bool {
        self.0 & kind.0 != 0
    }
}

/// The roots of one heap.
pub(crate) struct Roots {
    /// The local handle stack (scopes push and pop; the oddballs are
    /// reserved at its bottom).
    pub(crate) locals: Vec<Tagged>,
    pub(crate) globals: Rc<GlobalTable>,
    pub(crate) weaks: Rc<GlobalTable>,
    pub(crate) string_table: StringTable,
    pub(crate) identity_hashes: IdentityHashes,
    /// Shared with the background markers, which run ephemeron rounds.
    pub(crate) ephemerons: Arc<Mutex<EphemeronTables>>,
    pub(crate) weak_refs: WeakRefs,
    pub(crate) finalization: Registries,
    /// `undefined`, what a dead WeakRef target becomes.
    pub(crate) undefined: Tagged,
    pub(crate) snapshot_ids: SnapshotIds,
}

impl Roots {
    /// Empty roots of isolate `id`, the handle stack starting with `reserved`.
    pub(crate) fn new(id: u32, reserved: impl IntoIterator<Item = Tagged>) -> Roots {
        let mut locals = Vec::with_capacity(1024);
        locals.extend(reserved);
        let undefined = locals[0];
        Roots {
            ephemerons: Arc::new(Mutex::new(EphemeronTables::new())),
            weak_refs: WeakRefs::default(),
            finalization: Registries::default(),
            undefined,
            locals,
            globals: GlobalTable::new(id),
            weaks: GlobalTable::new(id),
            string_table: StringTable::new(),
            identity_hashes: IdentityHashes::new(id),
            snapshot_ids: SnapshotIds::new(),
        }
    }

    /// Calls `f` on every root of `set`, in a fixed order: locals, globals,
    /// weak handles, string table, identity-hash keys, snapshot-id keys.
    /// Cleared weak handles are skipped. Runs
    /// on the isolate's thread.
    pub(crate) fn for_each(&self, set: RootSet, mut f: impl FnMut(Root, Tagged)) {
        if set.has(RootSet::LOCALS) {
            for (i, &h) in self.locals.iter().enumerate() {
                f(Root::Local(i), h);
            }
        }
        for (kind, table, root) in self.tables(set) {
            let t = table.inner.borrow();
            for i in 0..t.blocks.capacity() {
                // Relaxed: the isolate's thread owns the tables outside GC
                // jobs, and a job's join orders its workers' stores before.
                let v = Tagged(t.blocks.slot(i).load(Ordering::Relaxed));
                if !(kind == RootSet::WEAK_HANDLES && v == CLEARED) {
                    f(root(i), v);
                }
            }
        }
        if set.has(RootSet::STRINGS) {
            for (hash, t) in self.string_table.iter() {
                f(Root::String { hash }, t);
            }
        }
        if set.has(RootSet::IDENTITY_HASHES) {
            for (t, _) in self.identity_hashes.iter() {
                f(Root::IdentityHash, t);
            }
        }
        if set.has(RootSet::EPHEMERONS) {
            self.ephemerons.lock().for_each_word(|w| f(Root::Ephemeron, Tagged(w)));
        }
        if set.has(RootSet::WEAK_REFS) {
            self.weak_refs.for_each(|o, t| {
                f(Root::WeakRef, o);
                f(Root::WeakRef, t);
            });
        }
        if set.has(RootSet::FINALIZATION_WEAK) {
            self.finalization.for_each_weak(|w| f(Root::Finalization, Tagged(w)));
        }
        if set.has(RootSet::FINALIZATION_HELD) {
            self.finalization.for_each_held(|w| f(Root::Finalization, Tagged(w)));
        }
        if set.has(RootSet(RootSet::SNAPSHOT_IDS_OLD.0 | RootSet::SNAPSHOT_IDS_YOUNG.0)) {
            for (t, _) in self.snapshot_ids.iter() {
                f(Root::SnapshotId, t);
            }
        }
    }

    /// Calls `f` on every root of `set` (in [`Roots::for_each`]'s order) and
    /// stores what it returns: the same value leaves the root alone;
    /// [`CLEARED`] clears a weak handle or drops a string-table or
    /// identity-hash entry (a moved identity-hash key keeps its hash).
    /// Runs on the isolate's thread, inside a pause.
    pub(crate) fn update(&mut self, set: RootSet, mut f: impl FnMut(Root, Tagged) -> Tagged) {
        if set.has(RootSet::LOCALS) {
            for (i, h) in self.locals.iter_mut().enumerate() {
                *h = f(Root::Local(i), *h);
            }
        }
        for (kind, table, root) in self.tables(set) {
            let t = table.inner.borrow();
            for i in 0..t.blocks.capacity() {
                let slot = t.blocks.slot(i);
                // Relaxed: see `for_each`.
                let v = Tagged(slot.load(Ordering::Relaxed));
                if kind == RootSet::WEAK_HANDLES && v == CLEARED {
                    continue;
                }
                let nv = f(root(i), v);
                if nv != v {
                    // Relaxed: as above.
                    slot.store(nv.0, Ordering::Relaxed);
                }
            }
        }
        if set.has(RootSet::STRINGS) {
            // Entries keep their hash (computed from the contents) when their
            // string moves.
            self.string_table.update(|hash, t| f(Root::String { hash }, t));
            self.string_table.retain(|t| t != CLEARED);
        }
        if set.has(RootSet::IDENTITY_HASHES) {
            self.identity_hashes.update(|t| f(Root::IdentityHash, t));
        }
        if set.has(RootSet::EPHEMERONS) {
            self.ephemerons.lock().update(|w| f(Root::Ephemeron, Tagged(w)).0);
        }
        if set.has(RootSet::YOUNG_EPHEMERONS) {
            self.ephemerons
                .lock()
                .scavenge_update(|w| f(Root::Ephemeron, Tagged(w)).0, |w| crate::object::is_young(Tagged(w)));
        }
        if set.has(RootSet::WEAK_REFS) {
            self.weak_refs.update(self.undefined, |t| f(Root::WeakRef, t));
        }
        if set.has(RootSet::YOUNG_WEAK_REFS) {
            self.weak_refs.scavenge_update(self.undefined, |t| f(Root::WeakRef, t), crate::object::is_young);
        }
        if set.has(RootSet::FINALIZATION_WEAK) {
            self.finalization.update(|w| f(Root::Finalization, Tagged(w)).0);
        }
        if set.has(RootSet::YOUNG_FINALIZATION) {
            self.finalization
                .scavenge_update(|w| f(Root::Finalization, Tagged(w)).0, |w| crate::object::is_young(Tagged(w)));
        }
        if set.has(RootSet::FINALIZATION_HELD) {
            for h in self.finalization.held_mut() {
                *h = f(Root::Finalization, Tagged(*h)).0;
            }
        }
        if set.has(RootSet::SNAPSHOT_IDS_YOUNG) {
            self.snapshot_ids.update_young(|t| f(Root::SnapshotId, t));
        }
        if set.has(RootSet::SNAPSHOT_IDS_OLD) {
            self.snapshot_ids.update_old(|t| f(Root::SnapshotId, t));
        }
    }

    /// Weak clearing once marking is complete: weak handles, string-table
    /// and identity-hash entries whose target `is_live` rejects are cleared (the one clearing
    /// rule, [`clear_weak_slot`], that `loom-tests/tests/weak_read.rs`
    /// checks against a racing read).
    pub(crate) fn clear_dead(&mut self, is_live: impl Fn(Tagged) -> bool) {
        let table = self.weaks.inner.borrow();
        for i in 0..table.blocks.capacity() {
            clear_weak_slot(table.blocks.slot(i), |addr| is_live(Tagged::from_address(addr)));
        }
        drop(table);
        self.string_table.retain(&is_live);
        self.identity_hashes.retain(&is_live);
        self.ephemerons.lock().clear_dead(|w| is_live(Tagged(w)));
        self.weak_refs.clear_dead(self.undefined, &is_live);
        self.finalization.clear_dead(|w| is_live(Tagged(w)));
        self.snapshot_ids.retain(is_live);
    }

    /// The strong roots, held for a parallel walk ([`StrongRoots::walk`]).
    pub(crate) fn strong(&mut self) -> StrongRoots<'_> {
        StrongRoots {
            locals: &mut self.locals,
            globals: self.globals.inner.borrow(),
            held: &mut self.finalization,
            ephemeron_values: None,
        }
    }

    /// [`Roots::strong`] for a scavenge, which also treats the values of the
    /// ephemeron entries on the tables' young lists as strong (their keys
    /// stay weak; V8's scavenger does the same): a minor GC cannot tell
    /// whether an old key is alive.
    pub(crate) fn strong_for_scavenge(&mut self) -> StrongRoots<'_> {
        StrongRoots {
            locals: &mut self.locals,
            globals: self.globals.inner.borrow(),
            held: &mut self.finalization,
            ephemeron_values: Some(self.ephemerons.lock()),
        }
    }

    /// The handle tables of `set`, with their kind and how to name a slot.
    fn tables(&self, set: RootSet) -> impl Iterator<Item = (RootSet, &GlobalTable, fn(usize) -> Root)> {
        let globals =
            set.has(RootSet::GLOBALS).then_some((RootSet::GLOBALS, &*self.globals, Root::Global as fn(_) -> _));
        let weaks =
            set.has(RootSet::WEAK_HANDLES).then_some((RootSet::WEAK_HANDLES, &*self.weaks, Root::Weak as fn(_) -> _));
        globals.into_iter().chain(weaks)
    }
}

/// The strong roots, borrowed for the parallel walks of a pause.
pub(crate) struct StrongRoots<'r> {
    locals: &'r mut Vec<Tagged>,
    globals: Ref<'r, GlobalTableInner>,
    held: &'r mut Registries,
    ephemeron_values: Option<parking_lot::MutexGuard<'r, EphemeronTables>>,
}

/// The roots task 0 visits: the locals, the held values, and (in a
/// scavenge) the ephemeron values.
struct TaskZero<'r> {
    locals: &'r mut Vec<Tagged>,
    held: &'r mut Registries,
    ephemeron_values: Option<&'r mut EphemeronTables>,
}

impl StrongRoots<'_> {
    /// A walk shared by the tasks of one parallel job.
    pub(crate) fn walk(&mut self) -> StrongWalk<'_> {
        StrongWalk {
            locals: Mutex::new(Some(TaskZero {
                locals: &mut *self.locals,
                held: &mut *self.held,
                ephemeron_values: self.ephemeron_values.as_deref_mut(),
            })),
            globals: &self.globals.blocks,
            cursor: AtomicUsize::new(0),
        }
    }
}

/// The strong roots, split among the tasks of a parallel job: task 0 (the
/// isolate's own thread) takes the local handles; every task claims
/// global-handle blocks through one cursor, so each block has one visitor.
pub(crate) struct StrongWalk<'r> {
    locals: Mutex<Option<TaskZero<'r>>>,
    globals: &'r HandleBlocks,
    cursor: AtomicUsize,
}

impl StrongWalk<'_> {
    /// Task `task`'s share of the walk: `f` gets each root and returns its
    /// new value (the same to leave it).
    pub(crate) fn visit(&self, task: usize, mut f: impl FnMut(Tagged) -> Tagged) {
        if task == 0 {
            if let Some(zero) = self.locals.lock().take() {
                for h in zero.locals.iter_mut() {
                    *h = f(*h);
                }
                match zero.ephemeron_values {
                    // A scavenge: the young cells' held values and the young
                    // ephemeron values (old ones do not move).
                    Some(tables) => {
                        for h in zero.held.young_held_mut() {
                            *h = f(Tagged(*h)).0;
                        }
                        tables.for_each_young_value(|v| *v = f(Tagged(*v)).0);
                    }
                    None => {
                        for h in zero.held.held_mut() {
                            *h = f(Tagged(*h)).0;
                        }
                    }
                }
            }
        }
        self.globals.visit_claimed(&self.cursor, |slot| {
            // Relaxed: each block is visited by the one task that claimed
            // it; the job's spawn published the table to the tasks, and its
            // join orders the stores for the isolate's thread.
            let v = Tagged(slot.load(Ordering::Relaxed));
            let nv = f(v);
            if nv != v {
                slot.store(nv.0, Ordering::Relaxed);
            }
        });
    }
}

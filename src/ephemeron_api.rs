//! The public API of the weak kinds on [`HandleScope`]: ephemeron tables
//! (WeakMap / WeakSet, [`crate::ephemeron`]), WeakRefs ([`crate::weak_ref`])
//! and finalization registries ([`crate::finalization`]), and their
//! statistics ([`WeakStats`]).
//!
//! Handles of another isolate panic with a message, as everywhere (the
//! handle's isolate is checked when it is resolved). A value that cannot be
//! held weakly (a Smi, an oddball or another read-only object, which never
//! die) is an `Err` ([`WeakTargetError`]), as JavaScript's `WeakMap`,
//! `WeakRef` and `FinalizationRegistry` throw a `TypeError`.

use crate::ephemeron::CLEARED_WORD;
use crate::error::AllocError;
use crate::handles::{Local, Value};
use crate::heap::page::flags;
use crate::isolate::Isolate;
use crate::marking::shade_stored;
use crate::object::is_young;
use crate::object::{offsets, HeapObject};
use crate::roots::Roots;
use crate::scope::{EphemeronTable, FinalizationRegistry, HandleScope, IntoValue, ScopeParent, WeakRef};
use crate::value::Tagged;

/// A value that cannot be held weakly, or an allocation that failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WeakTargetError {
    /// A Smi has no identity: it cannot be a key, target or token.
    #[error("a Smi ({0}) has no identity and cannot be held weakly (WeakMap keys, WeakRef and registry targets, unregister tokens must be objects)")]
    Smi(i64),
    /// An oddball (`undefined`, `null`, `true`, `false`, the hole) or
    /// another read-only object: it never dies, so holding it weakly means
    /// nothing.
    #[error("an oddball or other read-only object never dies and cannot be held weakly")]
    ReadOnly,
    /// A finalization registry's held value is its target (it would keep the
    /// target alive for ever).
    #[error("a finalization registry's held value must not be its target")]
    HeldIsTarget,
    /// The object could not be allocated.
    #[error(transparent)]
    Alloc(#[from] AllocError),
}

/// Why [`HandleScope::drain_finalization`] refused to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DrainError {
    /// Called while a GC of the isolate runs (from a GC callback): held
    /// values are delivered only outside the collector.
    #[error("finalization callbacks cannot run inside a GC (a GC callback); drain the queue after the call that ran the GC returns")]
    InsideGc,
}

/// Counts of the weak kinds and their weak edges (part of
/// [`crate::HeapStats`]; no heap walk: time proportional to the tables and
/// WeakRefs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WeakStats {
    /// Live ephemeron tables.
    pub ephemeron_tables: usize,
    /// Their entries (each a weak edge to a key).
    pub ephemeron_entries: usize,
    /// Live WeakRef objects.
    pub weak_refs: usize,
    /// WeakRefs whose target is still alive (weak edges).
    pub weak_ref_targets: usize,
    /// Live finalization registries.
    pub finalization_registries: usize,
    /// Registrations waiting for their target's death (weak edges).
    pub finalization_cells: usize,
    /// Held values queued for delivery.
    pub finalization_ready: usize,
}

/// The weak kinds' statistics of `roots`.
pub(crate) fn weak_stats(roots: &Roots) -> WeakStats {
    let (ephemeron_tables, ephemeron_entries) = roots.ephemerons.lock().counts();
    let (weak_refs, weak_ref_targets) = roots.weak_refs.counts(roots.undefined);
    let (finalization_registries, finalization_cells, finalization_ready) = roots.finalization.counts();
    WeakStats {
        ephemeron_tables,
        ephemeron_entries,
        weak_refs,
        weak_ref_targets,
        finalization_registries,
        finalization_cells,
        finalization_ready,
    }
}

impl<'s> HandleScope<'s> {
    fn iso(&mut self) -> &mut Isolate {
        self.isolate_mut()
    }

    /// Checks that `t` can be held weakly.
    fn weak_target(t: Tagged) -> Result<HeapObject, WeakTargetError> {
        if !t.is_heap_object() {
            return Err(WeakTargetError::Smi(t.smi_value()));
        }
        // SAFETY: from a handle of this isolate: a live object.
        let o = unsafe { HeapObject::from_tagged(t) };
        if o.page().has(flags::READ_ONLY) {
            return Err(WeakTargetError::ReadOnly);
        }
        Ok(o)
    }

    /// Allocates a two-word object of `map` whose second word is `word`.
    fn side_object(&mut self, map: usize, word: usize) -> Result<HeapObject, AllocError> {
        let o = self.allocate_young(offsets::SIDE_OBJECT_WORDS * crate::heap::WORD, None)?;
        o.set_word(offsets::MAP, map);
        o.set_word(offsets::SIDE_ID, word);
        Ok(o)
    }

    /// While marking runs, shades `v` (stored into a table or registry
    /// outside the heap's slots) as the insertion barrier would. Returns
    /// whether marking runs.
    fn shade_if_marking(&mut self, v: Tagged) -> bool {
        let gc = &mut self.iso().gc;
        if gc.marking.is_none() {
            return false;
        }
        shade_stored(&mut gc.barrier_worklist, v);
        true
    }

    // ----- Ephemeron tables -------------------------------------------------

    /// The identity hash of a possible key: `None` for a Smi or an object
    /// never hashed (neither can be a key of any table).
    fn key_hash(&mut self, k: Tagged) -> Option<u32> {
        if !k.is_heap_object() {
            return None;
        }
        self.iso().heap.roots.identity_hashes.get(k)
    }

    /// A new, empty ephemeron table: a WeakMap (or, with a constant value,
    /// a WeakSet) whose entries keep their value alive only while the key
    /// is alive, and never keep the key alive.
    pub fn new_ephemeron_table(&mut self) -> Result<Local<'s, EphemeronTable>, AllocError> {
        let map = self.iso().heap.ro_roots.ephemeron_table_map;
        let o = self.side_object(map, Tagged::from_smi(0).0)?;
        let id = self.iso().heap.roots.ephemerons.lock().create(o.tagged().0);
        o.set_word(offsets::SIDE_ID, Tagged::from_smi(id as i64).0);
        Ok(self.push(o.tagged()))
    }

    fn table_id(&self, table: Local<'_, EphemeronTable>) -> u32 {
        self.typed(table).0.smi_word(offsets::SIDE_ID) as u32
    }

    /// Sets `key`'s value in `table` (replacing an existing one). `Err` if
    /// `key` cannot be held weakly (a Smi or an oddball).
    pub fn ephemeron_set<K>(
        &mut self,
        table: Local<'_, EphemeronTable>,
        key: Local<'_, K>,
        value: impl IntoValue,
    ) -> Result<(), WeakTargetError> {
        let id = self.table_id(table);
        let k = Self::weak_target(self.resolve(key))?.tagged();
        let v = Tagged(value.to_raw(self));
        let hash = self.iso().heap.roots.identity_hashes.get_or_insert(k);
        // While marking, the table may have been scanned already: shade both
        // (floating garbage at worst), so the entry needs no round.
        let marking = self.shade_if_marking(k) && self.shade_if_marking(v);
        // The ephemeron remembered set: a young key or value puts the entry
        // on the table's young list, the only entries a scavenge visits.
        let young = is_young(k) || is_young(v);
        self.iso().heap.roots.ephemerons.lock().insert(id, k.0, hash, v.0, marking, young);
        Ok(())
    }

    /// `key`'s value in `table`, or `None` (also for a key that cannot be
    /// held weakly, as JavaScript's `WeakMap.prototype.get`).
    pub fn ephemeron_get<K>(
        &mut self,
        table: Local<'_, EphemeronTable>,
        key: Local<'_, K>,
    ) -> Option<Local<'s, Value>> {
        let id = self.table_id(table);
        let k = self.resolve(key);
        let hash = self.key_hash(k)?;
        let v = self.iso().heap.roots.ephemerons.lock().get(id, k.0, hash)?;
        Some(self.push(Tagged(v)))
    }

    /// Does `table` have an entry for `key`?
    pub fn ephemeron_has<K>(&mut self, table: Local<'_, EphemeronTable>, key: Local<'_, K>) -> bool {
        let id = self.table_id(table);
        let k = self.resolve(key);
        let Some(hash) = self.key_hash(k) else { return false };
        self.iso().heap.roots.ephemerons.lock().get(id, k.0, hash).is_some()
    }

    /// Removes `key`'s entry from `table`; `true` if there was one.
    pub fn ephemeron_delete<K>(&mut self, table: Local<'_, EphemeronTable>, key: Local<'_, K>) -> bool {
        let id = self.table_id(table);
        let k = self.resolve(key);
        let Some(hash) = self.key_hash(k) else { return false };
        self.iso().heap.roots.ephemerons.lock().remove(id, k.0, hash)
    }

    /// Number of entries of `table` (those of dead keys are gone after the
    /// GC that found them dead).
    pub fn ephemeron_len(&self, table: Local<'_, EphemeronTable>) -> usize {
        let id = self.table_id(table);
        self.heap.roots.ephemerons.lock().table(id).entries.len()
    }

    /// The entries of `table`, as handles: every key and value in the
    /// returned pairs is kept alive by its handle for the scope's life.
    pub fn ephemeron_entries(&mut self, table: Local<'_, EphemeronTable>) -> Vec<(Local<'s, Value>, Local<'s, Value>)> {
        let id = self.table_id(table);
        let words: Vec<(usize, usize)> = {
            let store = self.iso().heap.roots.ephemerons.clone();
            let store = store.lock();
            store.table(id).entries.iter().map(|e| (e.key, e.value)).collect()
        };
        words.into_iter().map(|(k, v)| (self.push(Tagged(k)), self.push(Tagged(v)))).collect()
    }

    // ----- WeakRefs ---------------------------------------------------------

    /// A new WeakRef to `target`: a heap object that can be stored in any
    /// field and whose target is held weakly. `Err` if `target` cannot be
    /// held weakly.
    pub fn new_weak_ref<T>(&mut self, target: Local<'_, T>) -> Result<Local<'s, WeakRef>, WeakTargetError> {
        Self::weak_target(self.resolve(target))?;
        let map = self.iso().heap.ro_roots.weak_ref_map;
        let undefined = self.iso().heap.ro_roots.undefined().0;
        let o = self.side_object(map, undefined)?;
        // Read after the allocation, which may have moved the target.
        let t = self.resolve(target);
        o.set_word(offsets::WEAK_REF_TARGET, t.0);
        self.iso().heap.roots.weak_refs.add(o.tagged());
        Ok(self.push(o.tagged()))
    }

    /// The target of `weak_ref`, or `undefined` once it died.
    pub fn weak_ref_deref(&mut self, weak_ref: Local<'_, WeakRef>) -> Local<'s, Value> {
        let o = self.typed(weak_ref).0;
        // SAFETY: the target word lies inside the live WeakRef object.
        let slot = unsafe { crate::sync::atomic_word(o.slot(offsets::WEAK_REF_TARGET)) };
        let t = crate::weak_ref::read_target(slot);
        self.push(Tagged(t))
    }

    // ----- Finalization registries ------------------------------------------

    /// A new finalization registry.
    pub fn new_finalization_registry(&mut self) -> Result<Local<'s, FinalizationRegistry>, AllocError> {
        let map = self.iso().heap.ro_roots.finalization_registry_map;
        let o = self.side_object(map, Tagged::from_smi(0).0)?;
        let id = self.iso().heap.roots.finalization.create(o.tagged().0);
        o.set_word(offsets::SIDE_ID, Tagged::from_smi(id as i64).0);
        Ok(self.push(o.tagged()))
    }

    fn registry_id(&self, registry: Local<'_, FinalizationRegistry>) -> u32 {
        self.typed(registry).0.smi_word(offsets::SIDE_ID) as u32
    }

    /// Registers `target`: once a GC finds it dead, `held` is queued for
    /// [`HandleScope::drain_finalization`]. `held` stays alive until it is
    /// delivered (or the registry dies). With `token`, the registration can
    /// be undone by [`HandleScope::finalization_unregister`] (the token is
    /// held weakly). `Err` if the target or token cannot be held weakly, or
    /// if `held` is the target.
    pub fn finalization_register<T, K>(
        &mut self,
        registry: Local<'_, FinalizationRegistry>,
        target: Local<'_, T>,
        held: impl IntoValue,
        token: Option<Local<'_, K>>,
    ) -> Result<(), WeakTargetError> {
        let id = self.registry_id(registry);
        let t = Self::weak_target(self.resolve(target))?.tagged();
        let h = Tagged(held.to_raw(self));
        if h == t {
            return Err(WeakTargetError::HeldIsTarget);
        }
        let k = match token {
            Some(k) => Self::weak_target(self.resolve(k))?.tagged().0,
            None => CLEARED_WORD,
        };
        // The cell's held value is a strong root, re-scanned at
        // finalization; the target and token are weak. Nothing to shade.
        self.iso().heap.roots.finalization.register(id, t.0, h.0, k);
        Ok(())
    }

    /// Removes the registrations made with `token` (not yet found dead);
    /// returns how many.
    pub fn finalization_unregister<K>(
        &mut self,
        registry: Local<'_, FinalizationRegistry>,
        token: Local<'_, K>,
    ) -> usize {
        let id = self.registry_id(registry);
        let k = self.resolve(token);
        if !k.is_heap_object() {
            return 0;
        }
        self.iso().heap.roots.finalization.unregister(id, k.0)
    }

    /// Registrations of `registry` still waiting for their target's death,
    /// and held values queued for delivery.
    pub fn finalization_counts(&mut self, registry: Local<'_, FinalizationRegistry>) -> (usize, usize) {
        let id = self.registry_id(registry);
        self.iso().heap.roots.finalization.lens(id)
    }

    /// Delivers the queued held values of `registry` to `callback`, one at
    /// a time, oldest first, each in its own handle scope; returns how many
    /// it delivered. The runtime calls this when it chooses (JavaScript
    /// runs it as a task after the job). The isolate is not `Send`, so this
    /// never runs on a GC worker; inside a GC (from a GC callback) it is
    /// refused.
    ///
    /// A held value leaves the queue before its callback runs: if the
    /// callback panics, that value counts as delivered, the rest stay queued
    /// for a later drain, and the heap is untouched (the panic unwinds to
    /// the caller).
    pub fn drain_finalization(
        &mut self,
        registry: Local<'_, FinalizationRegistry>,
        mut callback: impl FnMut(&mut HandleScope<'_>, Local<'_, Value>),
    ) -> Result<usize, DrainError> {
        if self.iso().gc.in_pause() {
            return Err(DrainError::InsideGc);
        }
        let id = self.registry_id(registry);
        let mut delivered = 0;
        loop {
            let mut scope = HandleScope::new(self);
            let Some(h) = scope.iso().heap.roots.finalization.pop_ready(id) else { break };
            let held = scope.push(Tagged(h));
            delivered += 1;
            callback(&mut scope, held);
        }
        Ok(delivered)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{HeapConfig, Platform};

    #[test]
    fn draining_inside_a_gc_is_refused_and_leaves_the_queue() {
        let platform = Platform::new(1).unwrap();
        let mut isolate = Isolate::new(&platform, HeapConfig::default()).unwrap();
        let mut s = HandleScope::new(&mut isolate);
        let r = s.new_finalization_registry().unwrap();
        {
            let mut inner = HandleScope::new(&mut s);
            let t = inner.new_fixed_array(1).unwrap();
            inner.finalization_register(r, t, crate::Smi::from(1), None::<Local<'_, Value>>).unwrap();
        }
        s.collect_garbage(crate::GcRequest::Major);
        assert_eq!(s.finalization_counts(r), (0, 1));
        // What a GC callback would find if it could reach the isolate.
        s.iso().gc.set_in_pause_for_test(true);
        assert_eq!(s.drain_finalization(r, |_, _| panic!("delivered inside a GC")), Err(DrainError::InsideGc));
        s.iso().gc.set_in_pause_for_test(false);
        assert_eq!(s.finalization_counts(r), (0, 1), "the refused drain took nothing");
        assert_eq!(s.drain_finalization(r, |_, _| {}), Ok(1));
    }
}

//! Stable node ids: V8's `HeapObjectsMap`, on the identity-hash mechanism.
//!
//! A snapshot names every object by an id that stays the same across the
//! snapshots of one isolate although the object moves, so two snapshots can
//! be compared (DevTools' "Comparison" view, [`super::analysis`]). V8 keeps
//! an address → id map and moves entries on every object move event once a
//! profiler exists. isogc keeps the same map as one more weak row of
//! [`crate::roots`], an [`AddressMap`] as the identity hashes are: the
//! scavenger's and the compactor's weak-root update move an entry with its
//! object, and a major GC's weak clearing drops the entries of dead objects
//! before their memory is reused. Until the first snapshot the map is empty
//! and those updates return after one length check; afterwards it holds one
//! entry per object that was alive at the last snapshot, plus nothing for
//! objects born since (they get ids at the next snapshot).

use crate::identity_hash::AddressMap;
use crate::object::is_young;
use crate::value::Tagged;

/// Ids of the synthetic nodes, as V8 numbers them: the root is 1, "(GC
/// roots)" 3, the sub-roots 5, 7, ...; heap objects get odd ids from
/// [`FIRST_OBJECT_ID`] on (V8's `kObjectIdStep` is 2: even ids are for
/// nodes that are not heap objects, here the value of a heap number).
pub(crate) const ROOT_ID: u32 = 1;
/// The id of the "(GC roots)" node.
pub(crate) const GC_ROOTS_ID: u32 = 3;
/// The id of the first sub-root; the next ones follow in steps of 2.
pub(crate) const FIRST_SUBROOT_ID: u32 = 5;
/// Room for 48 sub-roots before the first object id.
pub(crate) const FIRST_OBJECT_ID: u32 = 101;

/// The snapshot ids of one isolate's objects, by object address: young
/// objects' entries apart from old ones', so a scavenge (which moves only
/// young objects) walks only the young entries, as V8's move events cost
/// only what moves; entries whose object became old (promoted, or its page
/// promoted) move to the old map at the next scavenge.
pub(crate) struct SnapshotIds {
    young: AddressMap<u32>,
    old: AddressMap<u32>,
    next: u32,
}

impl SnapshotIds {
    pub(crate) fn new() -> SnapshotIds {
        SnapshotIds { young: AddressMap::new(), old: AddressMap::new(), next: FIRST_OBJECT_ID }
    }

    /// The id of `t`'s object, assigned now if it has none.
    pub(crate) fn id_of(&mut self, t: Tagged) -> u32 {
        if let Some(id) = self.old.get(t).or_else(|| self.young.get(t)) {
            return id;
        }
        let id = self.next;
        self.next = id.checked_add(2).expect("isogc: heap snapshot ids exhausted (2^31 objects named)");
        let map = if is_young(t) { &mut self.young } else { &mut self.old };
        map.get_or_insert_with(t, || id)
    }

    /// Makes room for `additional` more old ids.
    pub(crate) fn reserve(&mut self, additional: usize) {
        self.old.reserve(additional)
    }

    /// Number of objects with an id.
    pub(crate) fn len(&self) -> usize {
        self.young.len() + self.old.len()
    }

    /// Every entry: the object and its id.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (Tagged, u32)> + '_ {
        self.young.iter().chain(self.old.iter())
    }

    /// [`AddressMap::update`] of the young entries (a scavenge): moved
    /// entries keep their id; those now old move to the old map.
    pub(crate) fn update_young(&mut self, f: impl FnMut(Tagged) -> Tagged) {
        if self.young.len() == 0 {
            return;
        }
        self.young.update(f);
        let mut promoted = Vec::new();
        self.young.retain_or_take(is_young, &mut promoted);
        for (t, id) in promoted {
            self.old.get_or_insert_with(t, || id);
        }
    }

    /// [`AddressMap::update`] of the old entries (a compaction).
    pub(crate) fn update_old(&mut self, f: impl FnMut(Tagged) -> Tagged) {
        self.old.update(f)
    }

    /// Keeps only the entries whose object `keep` accepts.
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(Tagged) -> bool) {
        self.young.retain(&mut keep);
        self.old.retain(keep)
    }

    #[cfg(test)]
    fn young_len(&self) -> usize {
        self.young.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{HandleScope, HeapConfig, Isolate, Platform, ScopeParent};

    #[test]
    fn young_ids_move_to_the_old_map_when_their_objects_are_promoted() {
        let platform = Platform::new(1).unwrap();
        let mut isolate = Isolate::new(&platform, HeapConfig { verify_heap: true, ..HeapConfig::default() }).unwrap();
        let mut scope = HandleScope::new(&mut isolate);
        let a = scope.new_fixed_array(1).unwrap();
        let t = scope.resolve(a);
        let ids = &mut scope.isolate_mut().heap.roots.snapshot_ids;
        let id = ids.id_of(t);
        assert_eq!((id, ids.young_len(), ids.len()), (FIRST_OBJECT_ID, 1, 1));
        // Two scavenges: copied within new space, then promoted.
        for _ in 0..2 {
            scope.collect_garbage(crate::GcRequest::Minor);
        }
        let t = scope.resolve(a);
        let ids = &mut scope.isolate_mut().heap.roots.snapshot_ids;
        assert!(!is_young(t), "promoted after two scavenges");
        assert_eq!((ids.id_of(t), ids.young_len(), ids.len()), (id, 0, 1));
    }
}

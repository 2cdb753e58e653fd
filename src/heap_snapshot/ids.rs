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

/// The snapshot ids of one isolate's objects, by object address.
pub(crate) struct SnapshotIds {
    by_address: AddressMap<u32>,
    next: u32,
}

impl SnapshotIds {
    pub(crate) fn new() -> SnapshotIds {
        SnapshotIds { by_address: AddressMap::new(), next: FIRST_OBJECT_ID }
    }

    /// The id of `t`'s object, assigned now if it has none.
    pub(crate) fn id_of(&mut self, t: Tagged) -> u32 {
        let next = &mut self.next;
        self.by_address.get_or_insert_with(t, || {
            let id = *next;
            *next = next.checked_add(2).expect("isogc: heap snapshot ids exhausted (2^31 objects named)");
            id
        })
    }

    /// Makes room for `additional` more ids.
    pub(crate) fn reserve(&mut self, additional: usize) {
        self.by_address.reserve(additional)
    }

    /// Number of objects with an id.
    pub(crate) fn len(&self) -> usize {
        self.by_address.len()
    }

    /// Every entry: the object and its id.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (Tagged, u32)> + '_ {
        self.by_address.iter()
    }

    /// [`AddressMap::update`]: moved entries keep their id.
    pub(crate) fn update(&mut self, f: impl FnMut(Tagged) -> Tagged) {
        self.by_address.update(f)
    }

    /// Keeps only the entries whose object `keep` accepts.
    pub(crate) fn retain(&mut self, keep: impl FnMut(Tagged) -> bool) {
        self.by_address.retain(keep)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handles::CLEARED;

    #[test]
    fn an_id_follows_its_object_and_a_dead_one_is_never_reused() {
        let mut ids = SnapshotIds::new();
        let (a, b, c) = (Tagged::from_address(0x1000), Tagged::from_address(0x2000), Tagged::from_address(0x3000));
        let (ia, ib) = (ids.id_of(a), ids.id_of(b));
        assert_eq!((ia, ib), (FIRST_OBJECT_ID, FIRST_OBJECT_ID + 2));
        assert_eq!(ids.id_of(a), ia, "asked twice, one id");
        // a moves to c, b dies.
        ids.update(|k| if k == a { c } else if k == b { CLEARED } else { k });
        assert_eq!(ids.id_of(c), ia);
        assert_eq!(ids.len(), 1);
        // A new object at b's old address gets a new id.
        assert_eq!(ids.id_of(b), FIRST_OBJECT_ID + 4);
    }
}

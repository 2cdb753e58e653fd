//! Identity hashes: a stable hash per heap object, for a runtime's own hash
//! tables keyed by object identity (V8's `Object::GetIdentityHash`).
//!
//! V8 keeps the hash in the object (a JS object's properties-or-hash word,
//! a string's hash field). isogc's objects have no spare word, and adding
//! one to every object would change every object's size for the few that
//! are ever hashed, so the hashes live in this per-isolate side table,
//! keyed by object address and held *weakly* as one more row of
//! [`crate::roots`]: the collectors already update weak roots where objects
//! move and drop those whose object died, so the table follows
//!
//! - a scavenge: the weak-root update after evacuation moves a forwarded
//!   young object's entry to its new address and drops the entries of young
//!   objects that were not copied (and of dead young large objects);
//! - a compaction: the weak-root update after evacuation follows the
//!   forwarding addresses of evacuated old objects;
//! - a major GC: its weak clearing (after marking, in the finalization
//!   pause, before sweeping frees anything) drops the entries of white
//!   objects, so an address is never reused under a stale hash. Concurrent
//!   markers never read the table: it is touched only by the isolate's
//!   thread, in its own calls or inside a pause.
//!
//! The hash is drawn once, from a per-isolate sequence (splitmix64 of a
//! counter seeded by the isolate id), when the object is first asked for
//! it; it is not derived from the address, so it never changes. A Smi has no
//! identity and no entry (see [`crate::HandleScope::identity_hash`]).
//! The cost is a hash-map entry per hashed object, and a walk of the table
//! at each scavenge and compaction, as for weak handles.

use crate::handles::CLEARED;
use crate::value::Tagged;
use std::collections::HashMap;

/// A value per heap object, keyed by the object's address and held weakly:
/// the mechanism behind identity hashes, also used by the heap snapshots'
/// stable object ids ([`crate::heap_snapshot`]). [`AddressMap::update`]
/// follows moves and drops dead objects; an empty map costs its callers one
/// length check.
pub(crate) struct AddressMap<V> {
    by_address: HashMap<usize, V>,
}

impl<V: Copy> AddressMap<V> {
    pub(crate) fn new() -> AddressMap<V> {
        AddressMap { by_address: HashMap::new() }
    }

    pub(crate) fn len(&self) -> usize {
        self.by_address.len()
    }

    pub(crate) fn reserve(&mut self, additional: usize) {
        self.by_address.reserve(additional)
    }

    /// The value of `t`'s object, `make()` inserted if it has none.
    pub(crate) fn get_or_insert_with(&mut self, t: Tagged, make: impl FnOnce() -> V) -> V {
        debug_assert!(t.is_heap_object());
        *self.by_address.entry(t.address()).or_insert_with(make)
    }

    /// The value of `t`'s object, if it has one.
    pub(crate) fn get(&self, t: Tagged) -> Option<V> {
        self.by_address.get(&t.address()).copied()
    }

    /// Every entry: the object and its value.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (Tagged, V)> + '_ {
        self.by_address.iter().map(|(&a, &v)| (Tagged::from_address(a), v))
    }

    /// Replaces every key by `f(key)`: the same to keep it, a new pointer
    /// where the object moved (the value moves with it), [`CLEARED`] to drop
    /// the entry (the object died).
    pub(crate) fn update(&mut self, mut f: impl FnMut(Tagged) -> Tagged) {
        if self.by_address.is_empty() {
            return;
        }
        let mut moved = Vec::new();
        self.by_address.retain(|&a, &mut v| {
            let t = Tagged::from_address(a);
            let nt = f(t);
            if nt == t {
                return true;
            }
            if nt != CLEARED {
                debug_assert!(nt.is_heap_object(), "an address-map key became {nt:?}");
                moved.push((nt.address(), v));
            }
            false
        });
        // Re-inserted after all removals: a new address may be one that
        // another (moved or dead) entry just left.
        self.by_address.extend(moved);
    }

    /// Keeps only the entries whose object `keep` accepts.
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(Tagged) -> bool) {
        self.by_address.retain(|&a, _| keep(Tagged::from_address(a)));
    }

    /// Keeps the entries whose object `keep` accepts and moves the others
    /// into `taken`.
    pub(crate) fn retain_or_take(&mut self, mut keep: impl FnMut(Tagged) -> bool, taken: &mut Vec<(Tagged, V)>) {
        self.by_address.retain(|&a, &mut v| {
            let t = Tagged::from_address(a);
            keep(t) || {
                taken.push((t, v));
                false
            }
        });
    }
}

/// The identity hashes of one isolate's objects, by object address.
pub(crate) struct IdentityHashes {
    by_address: AddressMap<u32>,
    /// The state of the hash sequence.
    next: u64,
}

impl IdentityHashes {
    /// An empty table whose hashes are drawn from a sequence seeded by `seed`.
    pub(crate) fn new(seed: u32) -> IdentityHashes {
        IdentityHashes { by_address: AddressMap::new(), next: (seed as u64) << 32 }
    }

    /// Number of objects with a hash.
    pub(crate) fn len(&self) -> usize {
        self.by_address.len()
    }

    /// The hash of the object `t` points to, drawn now if it has none.
    pub(crate) fn get_or_insert(&mut self, t: Tagged) -> u32 {
        let next = &mut self.next;
        self.by_address.get_or_insert_with(t, || {
            *next = next.wrapping_add(0x9E37_79B9_7F4A_7C15);
            (splitmix64(*next) >> 32) as u32
        })
    }

    /// The hash of `t`'s object, if it has one.
    pub(crate) fn get(&self, t: Tagged) -> Option<u32> {
        self.by_address.get(t)
    }

    /// Every entry: the object and its hash.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (Tagged, u32)> + '_ {
        self.by_address.iter()
    }

    /// [`AddressMap::update`]: moved entries keep their hash.
    pub(crate) fn update(&mut self, f: impl FnMut(Tagged) -> Tagged) {
        self.by_address.update(f)
    }

    /// Keeps only the entries whose object `keep` accepts.
    pub(crate) fn retain(&mut self, keep: impl FnMut(Tagged) -> bool) {
        self.by_address.retain(keep)
    }
}

/// Steele, Lea and Flood's splitmix64 finalizer: spreads a counter's bits.
fn splitmix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_moved_entry_keeps_its_hash_and_a_cleared_one_goes() {
        let mut t = IdentityHashes::new(7);
        let (a, b, c) = (Tagged::from_address(0x1000), Tagged::from_address(0x2000), Tagged::from_address(0x3000));
        let (ha, hb) = (t.get_or_insert(a), t.get_or_insert(b));
        assert_eq!(t.get_or_insert(a), ha, "asked twice, one hash");
        // a moves to where b was, b moves to c: removals before insertions.
        t.update(|k| match k.address() {
            0x1000 => b,
            0x2000 => c,
            _ => k,
        });
        assert_eq!((t.get(b), t.get(c), t.get(a)), (Some(ha), Some(hb), None));
        t.update(|k| if k == b { CLEARED } else { k });
        assert_eq!((t.len(), t.get(c)), (1, Some(hb)));
    }
}

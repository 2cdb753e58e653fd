//! Weak fields: a [`crate::InstanceType::WeakRef`] object (map, target)
//! holds its target in a heap slot that no collector traces (the slot lies
//! outside the object's tagged range), and is cleared to `undefined` when
//! the target dies (V8's `JSWeakRef`, whose target is a weak slot that the
//! marker records and the weak processing clears).
//!
//! The collectors find weak slots through [`WeakRefs`], the isolate's list
//! of WeakRef objects: one more weak row of [`crate::roots`]. The row
//! follows its object's moves and goes when the object dies; each live
//! WeakRef's target slot is rewritten after a scavenge or a compaction
//! (the target moved) and cleared after marking (the target stayed white).
//! A scavenge treats the target as weak too (it is not in the tagged
//! range), so a young target reachable only through WeakRefs dies in the
//! next minor GC. A scavenge visits only the rows on the young list (the
//! object or its target may be young); a row whose object and target are
//! both old leaves it, so long-lived WeakRefs cost a minor GC nothing.
//!
//! Barrier and black allocation: the marker never reads the target slot,
//! so storing a target needs no marking barrier, and a WeakRef born black
//! keeps nothing alive. A target the mutator reads during marking is kept
//! by the marking itself: held in a local handle it is a root (re-scanned
//! at finalization); stored into an object, the insertion barrier shades
//! it. `loom-tests/tests/weak_field.rs` checks the second case on this
//! module's read and clearing ([`read_target`], [`clear_if_dead`]).

use crate::sync::{AtomicUsize, Ordering};

/// Loads a WeakRef's target slot (the mutator's read).
#[inline]
pub fn read_target(slot: &AtomicUsize) -> usize {
    // Relaxed: the slot is read and written only by the isolate's thread
    // (the markers never read it; clearing runs in a pause on that thread).
    slot.load(Ordering::Relaxed)
}

/// Weak clearing of one WeakRef target slot once marking is complete: a
/// pointer to an object `is_live` rejects (given its address) becomes
/// `cleared` (the `undefined` word). Returns `true` if it cleared the slot.
pub fn clear_if_dead(slot: &AtomicUsize, is_live: impl Fn(usize) -> bool, cleared: usize) -> bool {
    // Relaxed: in the pause only the isolate's thread touches the slot; the
    // markers' marks reach it through the gate's Acquire or the job's join.
    let v = slot.load(Ordering::Relaxed);
    if v & 0b11 == 0b01 && !is_live(v & !0b11) {
        // Relaxed: as above.
        slot.store(cleared, Ordering::Relaxed);
        return true;
    }
    false
}

/// The WeakRef objects of one isolate (tagged words), held weakly, in two
/// lists: `young` (the object or its target may be young: what a scavenge
/// visits) and `old` (both old: only major GCs look at them).
#[cfg(not(loom))]
#[derive(Debug, Default)]
pub(crate) struct WeakRefs {
    old: Vec<usize>,
    young: Vec<usize>,
}

#[cfg(not(loom))]
mod heap_side {
    use super::*;
    use crate::ephemeron::CLEARED_WORD;
    use crate::object::{offsets, HeapObject};
    use crate::sync::atomic_word;
    use crate::value::Tagged;

    fn target_slot<'a>(object: usize) -> &'a AtomicUsize {
        // SAFETY: `object` is a live WeakRef of this heap (rows of dead ones
        // are dropped before their memory is reused), and its target word
        // lies inside it.
        unsafe { atomic_word(HeapObject::from_tagged(Tagged(object)).slot(offsets::WEAK_REF_TARGET)) }
    }

    /// One row's update (see [`WeakRefs::update`]): the row's new word, or
    /// `None` if the WeakRef died.
    fn update_row(o: usize, undefined: Tagged, f: &mut impl FnMut(Tagged) -> Tagged) -> Option<usize> {
        let no = f(Tagged(o));
        if no.0 == CLEARED_WORD {
            return None;
        }
        let slot = target_slot(no.0);
        let t = Tagged(read_target(slot));
        if t.is_heap_object() {
            let nt = f(t);
            if nt != t {
                let nt = if nt.0 == CLEARED_WORD { undefined } else { nt };
                // Relaxed: see `read_target`.
                slot.store(nt.0, Ordering::Relaxed);
            }
        }
        Some(no.0)
    }

    impl WeakRefs {
        /// Records a new WeakRef object (young).
        pub(crate) fn add(&mut self, object: Tagged) {
            self.young.push(object.0);
        }

        fn all(&self) -> impl Iterator<Item = usize> + '_ {
            self.old.iter().chain(&self.young).copied()
        }

        /// Number of WeakRef objects alive, and of those whose target is
        /// alive (weak edges; a cleared one holds `undefined`).
        pub(crate) fn counts(&self, undefined: Tagged) -> (usize, usize) {
            let edges = self.all().filter(|&o| read_target(target_slot(o)) != undefined.0).count();
            (self.old.len() + self.young.len(), edges)
        }

        /// Calls `f` on every WeakRef object and its target.
        pub(crate) fn for_each(&self, mut f: impl FnMut(Tagged, Tagged)) {
            for o in self.all() {
                f(Tagged(o), Tagged(read_target(target_slot(o))));
            }
        }

        /// Rewrites the rows and their targets with `f` (a move returns the
        /// new word, [`CLEARED_WORD`] that the object died): a row whose
        /// object died goes; a dead target becomes `undefined`.
        pub(crate) fn update(&mut self, undefined: Tagged, mut f: impl FnMut(Tagged) -> Tagged) {
            for list in [&mut self.old, &mut self.young] {
                list.retain_mut(|o| update_row(*o, undefined, &mut f).map(|no| *o = no).is_some());
            }
        }

        /// After a scavenge: [`WeakRefs::update`] for the young list alone;
        /// rows whose object and target are now both old (`is_young`
        /// rejects them) join the old list.
        pub(crate) fn scavenge_update(
            &mut self,
            undefined: Tagged,
            mut f: impl FnMut(Tagged) -> Tagged,
            is_young: impl Fn(Tagged) -> bool,
        ) {
            let old = &mut self.old;
            self.young.retain_mut(|o| {
                let Some(no) = update_row(*o, undefined, &mut f) else { return false };
                *o = no;
                if is_young(Tagged(no)) || is_young(Tagged(read_target(target_slot(no)))) {
                    return true;
                }
                old.push(no);
                false
            });
        }

        /// After marking: rows of dead WeakRefs go; live ones whose target
        /// `is_live` rejects are cleared to `undefined`.
        pub(crate) fn clear_dead(&mut self, undefined: Tagged, is_live: impl Fn(Tagged) -> bool) {
            for list in [&mut self.old, &mut self.young] {
                list.retain(|&o| {
                    if !is_live(Tagged(o)) {
                        return false;
                    }
                    clear_if_dead(target_slot(o), |a| is_live(Tagged::from_address(a)), undefined.0);
                    true
                });
            }
        }
    }
}

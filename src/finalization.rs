//! Finalization registries (JavaScript's `FinalizationRegistry`; V8's
//! `JSFinalizationRegistry` with its `WeakCell`s and cleared-cells list).
//!
//! A registry is a heap object of kind
//! [`crate::InstanceType::FinalizationRegistry`] (map, row id) whose cells
//! live in this module's store, one row per registry, owned by the
//! isolate's [`crate::roots`]. A cell holds a **target** (weak), a **held
//! value** (strong: it must survive to be delivered) and an optional
//! **unregister token** (weak). When a GC finds a target dead (a scavenge
//! that did not copy it, or marking that left it white), the weak-root
//! update moves the cell's held value to the registry's ready queue; the
//! runtime drains the queue when it chooses, on the isolate's thread and
//! outside any GC ([`crate::HandleScope::drain_finalization`]). The object
//! is gone by then; only the held value is delivered, so nothing can
//! resurrect it.
//!
//! Cells start on the registry's young list; a scavenge updates only those
//! (and treats only their held values and the queued ones as roots), and
//! moves a cell whose words are all old to the old list, which only major
//! GCs walk.
//!
//! A registry that dies takes its cells and its queue with it (as in
//! JavaScript: no callback runs for a collected registry). Held values are
//! strong roots while their registry's row exists, so a held value that
//! refers to its own registry keeps it alive (V8 behaves the same way).

use crate::ephemeron::CLEARED_WORD;
use std::collections::VecDeque;

/// One registration.
#[derive(Clone, Copy, Debug)]
struct Cell {
    /// Weak.
    target: usize,
    /// Strong.
    held: usize,
    /// Weak; [`CLEARED_WORD`] when none (or when it died).
    token: usize,
}

#[derive(Debug, Default)]
struct Registry {
    /// The registry's heap object (weak).
    object: usize,
    /// Cells whose target, held value and token are old: only major GCs
    /// look at them.
    cells: Vec<Cell>,
    /// Cells that may point into the young generation: what a scavenge
    /// visits (new cells start here).
    young: Vec<Cell>,
    /// Held values of dead targets, in the order their deaths were found.
    ready: VecDeque<usize>,
}

/// The cells and ready queues of every finalization registry of one
/// isolate, by row id. Touched only by the isolate's thread.
#[derive(Debug, Default)]
pub(crate) struct Registries {
    rows: Vec<Option<Registry>>,
    free: Vec<u32>,
}

impl Registries {
    /// A row for the registry object `object`; returns its id.
    pub(crate) fn create(&mut self, object: usize) -> u32 {
        let r = Registry { object, ..Registry::default() };
        match self.free.pop() {
            Some(id) => {
                self.rows[id as usize] = Some(r);
                id
            }
            None => {
                self.rows.push(Some(r));
                (self.rows.len() - 1) as u32
            }
        }
    }

    fn row(&mut self, id: u32) -> &mut Registry {
        match self.rows.get_mut(id as usize).and_then(Option::as_mut) {
            Some(r) => r,
            None => panic!("isogc: finalization registry row {id} does not exist in this isolate"),
        }
    }

    /// Registers `target` with `held` (and `token`, or [`CLEARED_WORD`]).
    pub(crate) fn register(&mut self, id: u32, target: usize, held: usize, token: usize) {
        self.row(id).young.push(Cell { target, held, token });
    }

    /// Removes the cells of `token`; returns how many.
    pub(crate) fn unregister(&mut self, id: u32, token: usize) -> usize {
        let r = self.row(id);
        let before = r.cells.len() + r.young.len();
        r.cells.retain(|c| c.token != token);
        r.young.retain(|c| c.token != token);
        before - r.cells.len() - r.young.len()
    }

    /// Takes the next held value ready for delivery.
    pub(crate) fn pop_ready(&mut self, id: u32) -> Option<usize> {
        self.row(id).ready.pop_front()
    }

    /// Cells still waiting for their target's death, and held values ready.
    pub(crate) fn lens(&mut self, id: u32) -> (usize, usize) {
        let r = self.row(id);
        (r.cells.len() + r.young.len(), r.ready.len())
    }

    /// Number of registries, of cells (weak edges to targets) and of held
    /// values ready.
    pub(crate) fn counts(&self) -> (usize, usize, usize) {
        self.rows
            .iter()
            .flatten()
            .fold((0, 0, 0), |(r, c, q), g| (r + 1, c + g.cells.len() + g.young.len(), q + g.ready.len()))
    }

    /// Calls `f` on every weak word: registry objects, targets, tokens.
    pub(crate) fn for_each_weak(&self, mut f: impl FnMut(usize)) {
        for r in self.rows.iter().flatten() {
            f(r.object);
            for c in r.cells.iter().chain(&r.young) {
                f(c.target);
                if c.token != CLEARED_WORD {
                    f(c.token);
                }
            }
        }
    }

    /// Calls `f` on every held value (cells' and ready ones): strong roots.
    pub(crate) fn for_each_held(&self, mut f: impl FnMut(usize)) {
        for r in self.rows.iter().flatten() {
            r.cells.iter().chain(&r.young).for_each(|c| f(c.held));
            r.ready.iter().for_each(|&h| f(h));
        }
    }

    /// The held values, for a root walk that updates them.
    pub(crate) fn held_mut(&mut self) -> impl Iterator<Item = &mut usize> + '_ {
        self.rows
            .iter_mut()
            .flatten()
            .flat_map(|r| r.cells.iter_mut().chain(r.young.iter_mut()).map(|c| &mut c.held).chain(r.ready.iter_mut()))
    }

    /// The held values a scavenge must treat as roots: the young cells' and
    /// the queued ones (an old cell's held value is old and does not move).
    pub(crate) fn young_held_mut(&mut self) -> impl Iterator<Item = &mut usize> + '_ {
        self.rows.iter_mut().flatten().flat_map(|r| r.young.iter_mut().map(|c| &mut c.held).chain(r.ready.iter_mut()))
    }

    /// Rewrites the weak words with `f` (a move returns the new word,
    /// [`CLEARED_WORD`] that the object died): a dead registry goes with its
    /// cells and queue; a cell whose target died moves its held value to
    /// the queue; a dead token is forgotten.
    pub(crate) fn update(&mut self, mut f: impl FnMut(usize) -> usize) {
        self.update_rows(&mut f, None::<fn(usize) -> bool>);
    }

    /// After a scavenge: [`Registries::update`] for the registry objects and
    /// the young cells alone; a cell whose words are now all old (`is_young`
    /// rejects each) joins the old cells.
    pub(crate) fn scavenge_update(&mut self, mut f: impl FnMut(usize) -> usize, is_young: impl Fn(usize) -> bool) {
        self.update_rows(&mut f, Some(is_young));
    }

    fn update_rows(&mut self, f: &mut impl FnMut(usize) -> usize, young_only: Option<impl Fn(usize) -> bool>) {
        for (i, row) in self.rows.iter_mut().enumerate() {
            let Some(r) = row else { continue };
            r.object = f(r.object);
            if r.object == CLEARED_WORD {
                *row = None;
                self.free.push(i as u32);
                continue;
            }
            let Registry { cells, young, ready, .. } = r;
            // Updates one cell; `false` once its target died (its held value
            // is queued).
            let mut keep = |c: &mut Cell| {
                if c.token != CLEARED_WORD {
                    c.token = f(c.token);
                }
                c.target = f(c.target);
                // (The held value is a strong root: the root walk moved it.)
                if c.target == CLEARED_WORD {
                    ready.push_back(c.held);
                    return false;
                }
                true
            };
            match &young_only {
                None => {
                    cells.retain_mut(&mut keep);
                    young.retain_mut(&mut keep);
                }
                Some(is_young) => young.retain_mut(|c| {
                    if !keep(c) {
                        return false;
                    }
                    if [c.target, c.held, c.token].into_iter().any(is_young) {
                        return true;
                    }
                    cells.push(*c);
                    false
                }),
            }
        }
    }

    /// After marking: [`Registries::update`] with `is_live` as the rule.
    pub(crate) fn clear_dead(&mut self, is_live: impl Fn(usize) -> bool) {
        self.update(|w| if is_live(w) { w } else { CLEARED_WORD });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dead_target_queues_its_held_value_and_a_dead_registry_drops_everything() {
        let mut r = Registries::default();
        let a = r.create(0x11);
        r.register(a, 0x21, 0x31, 0x41);
        r.register(a, 0x51, 0x61, CLEARED_WORD);
        r.clear_dead(|w| w != 0x21);
        assert_eq!(r.lens(a), (1, 1));
        assert_eq!(r.pop_ready(a), Some(0x31));
        assert_eq!(r.pop_ready(a), None);
        assert_eq!(r.unregister(a, 0x41), 0, "the delivered cell is gone");
        r.register(a, 0x71, 0x81, 0x91);
        assert_eq!(r.unregister(a, 0x91), 1);
        r.clear_dead(|w| w != 0x11);
        assert_eq!(r.counts(), (0, 0, 0));
    }
}

//! Handles: the roots a runtime holds.
//!
//! - [`Local`] is a `Copy` index into the isolate's handle stack, branded with
//!   the lifetime of the [`crate::HandleScope`] that created it; the scope pops
//!   its handles when it ends.
//! - [`Global`] owns a slot in the isolate's global handle table until dropped.
//! - [`Weak`] owns a slot in the weak table; the collector clears it when its
//!   target dies.
//!
//! The collector visits and updates every handle slot, so objects can move.
//! Each handle carries its isolate's id: using it with another isolate panics
//! (and touches neither heap).
//!
//! Global and weak slots live in [`HandleBlocks`]: fixed blocks of atomic
//! slots, so GC workers can visit them in parallel by claiming whole blocks
//! with one atomic cursor ([`HandleBlocks::visit_claimed`]).

use crate::sync::faults::{fault, Fault};
use crate::sync::{AtomicUsize, Ordering};

/// Slots per block of the global handle table.
#[cfg(not(loom))]
pub const HANDLE_BLOCK_SLOTS: usize = 256;
/// Slots per block of the global handle table (small under loom).
#[cfg(loom)]
pub const HANDLE_BLOCK_SLOTS: usize = 2;

/// A block of handle slots, each a tagged word.
pub struct HandleBlock {
    slots: [AtomicUsize; HANDLE_BLOCK_SLOTS],
}

impl HandleBlock {
    fn new() -> HandleBlock {
        HandleBlock { slots: std::array::from_fn(|_| AtomicUsize::new(0)) }
    }

    /// The block's slots.
    #[cfg_attr(not(loom), allow(dead_code))]
    pub fn slots(&self) -> &[AtomicUsize; HANDLE_BLOCK_SLOTS] {
        &self.slots
    }
}

/// Growable storage of handle slots in fixed blocks (slot addresses never
/// change while the table grows).
#[derive(Default)]
pub struct HandleBlocks {
    blocks: Vec<HandleBlock>,
}

impl HandleBlocks {
    /// An empty table.
    pub fn new() -> HandleBlocks {
        HandleBlocks { blocks: Vec::new() }
    }

    /// Number of slots (all blocks).
    pub fn capacity(&self) -> usize {
        self.blocks.len() * HANDLE_BLOCK_SLOTS
    }

    /// Adds a block of empty (Smi zero) slots.
    pub fn grow(&mut self) {
        self.blocks.push(HandleBlock::new());
    }

    /// The slot at `index`.
    #[inline]
    pub fn slot(&self, index: usize) -> &AtomicUsize {
        &self.blocks[index / HANDLE_BLOCK_SLOTS].slots[index % HANDLE_BLOCK_SLOTS]
    }

    /// Claims the next unvisited block: every block goes to exactly one
    /// claimant however many threads call this with the same `cursor`.
    #[inline]
    pub fn claim(&self, cursor: &AtomicUsize) -> Option<&HandleBlock> {
        let i = if fault(Fault::HandleClaimLoadStore) {
            // Broken twin: two visitors can read the same cursor value and
            // both take that block.
            let i = cursor.load(Ordering::Relaxed);
            cursor.store(i + 1, Ordering::Relaxed);
            i
        } else {
            // Relaxed: the cursor only hands out indices; the blocks were
            // published to the visitors by the job's start (a spawn, which
            // synchronises), and their results are joined at its end.
            cursor.fetch_add(1, Ordering::Relaxed)
        };
        self.blocks.get(i)
    }

    /// Visits every slot of every block this caller claims through `cursor`.
    /// Several threads may call this at once with one cursor; together they
    /// visit every slot exactly once.
    pub fn visit_claimed(&self, cursor: &AtomicUsize, mut f: impl FnMut(&AtomicUsize)) {
        while let Some(block) = self.claim(cursor) {
            for s in &block.slots {
                f(s);
            }
        }
    }
}

/// The word a cleared weak handle holds: the reserved weak tag with a null
/// address (neither a Smi nor a pointer).
pub const CLEARED_WORD: usize = 0b11;

/// Weak clearing of one handle slot, in the finalization pause once marking
/// is complete: a slot holding a pointer to an object that `is_live` (given
/// its address) rejects is cleared. Returns `true` if it cleared the slot.
///
/// A target the mutator read from the slot during marking is kept alive by
/// the marking itself: held in a local handle it is a root (re-scanned at
/// finalization), stored into an object the insertion barrier shaded it
/// (`loom-tests/tests/weak_read.rs`).
pub fn clear_weak_slot(slot: &AtomicUsize, is_live: impl Fn(usize) -> bool) -> bool {
    // Relaxed: inside the pause only the isolate's thread touches the table;
    // the markers' marks reach it through the gate's Acquire (or the job's
    // join).
    let v = slot.load(Ordering::Relaxed);
    if v & 0b11 == 0b01 && !is_live(v & !0b11) {
        // Relaxed: as above.
        slot.store(CLEARED_WORD, Ordering::Relaxed);
        return true;
    }
    false
}

#[cfg(not(loom))]
pub use api::*;

#[cfg(not(loom))]
mod api {
    use super::*;
    use crate::value::Tagged;
    use std::cell::RefCell;
    use std::marker::PhantomData;
    use std::rc::Rc;

    /// A cleared weak slot: the reserved weak tag with a null address.
    pub(crate) const CLEARED: Tagged = Tagged(CLEARED_WORD);

    /// A table of global or weak handle slots of one isolate.
    pub(crate) struct GlobalTable {
        pub(crate) isolate: u32,
        pub(crate) inner: RefCell<GlobalTableInner>,
    }

    pub(crate) struct GlobalTableInner {
        pub(crate) blocks: HandleBlocks,
        free: Vec<u32>,
        pub(crate) live: usize,
    }

    impl GlobalTable {
        pub(crate) fn new(isolate: u32) -> Rc<GlobalTable> {
            Rc::new(GlobalTable {
                isolate,
                inner: RefCell::new(GlobalTableInner { blocks: HandleBlocks::new(), free: Vec::new(), live: 0 }),
            })
        }

        pub(crate) fn create(&self, v: Tagged) -> u32 {
            let mut t = self.inner.borrow_mut();
            let index = match t.free.pop() {
                Some(i) => i,
                None => {
                    let i = t.blocks.capacity() as u32;
                    t.blocks.grow();
                    let cap = t.blocks.capacity() as u32;
                    t.free.extend((i + 1..cap).rev());
                    i
                }
            };
            t.live += 1;
            // Relaxed: the table is touched only by the isolate's thread, and
            // by GC workers inside a pause (ordered by the job's spawn/join).
            t.blocks.slot(index as usize).store(v.0, Ordering::Relaxed);
            index
        }

        pub(crate) fn get(&self, index: u32) -> Tagged {
            // Relaxed: see `create`.
            Tagged(self.inner.borrow().blocks.slot(index as usize).load(Ordering::Relaxed))
        }

        pub(crate) fn set(&self, index: u32, v: Tagged) {
            // Relaxed: see `create`.
            self.inner.borrow().blocks.slot(index as usize).store(v.0, Ordering::Relaxed);
        }

        pub(crate) fn release(&self, index: u32) {
            let mut t = self.inner.borrow_mut();
            // Relaxed: see `create`.
            t.blocks.slot(index as usize).store(0, Ordering::Relaxed);
            t.free.push(index);
            t.live -= 1;
        }
    }

    /// A handle to a heap value, valid for the life of the
    /// [`crate::HandleScope`] that created it (`'s`). `Copy`; 8 bytes.
    ///
    /// `T` says what the value is known to be: [`Value`] (anything),
    /// [`crate::FixedArray`], [`crate::HeapString`], [`crate::Object`], …
    pub struct Local<'s, T> {
        pub(crate) index: u32,
        pub(crate) isolate: u32,
        _marker: PhantomData<(&'s (), *const T)>,
    }

    impl<T> Clone for Local<'_, T> {
        fn clone(&self) -> Self {
            *self
        }
    }
    impl<T> Copy for Local<'_, T> {}

    impl<T> std::fmt::Debug for Local<'_, T> {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "Local<{}>(isolate {}, #{})", std::any::type_name::<T>(), self.isolate, self.index)
        }
    }

    impl<'s, T> Local<'s, T> {
        pub(crate) fn new(index: u32, isolate: u32) -> Self {
            Local { index, isolate, _marker: PhantomData }
        }

        /// The same handle, seen as any value.
        pub fn as_value(self) -> Local<'s, Value> {
            Local::new(self.index, self.isolate)
        }

        pub(crate) fn retype<U>(self) -> Local<'s, U> {
            Local::new(self.index, self.isolate)
        }
    }

    /// A strong handle that outlives scopes. Keeps its target alive until it
    /// is dropped. Not `Send`: it belongs to its isolate's thread.
    pub struct Global<T> {
        pub(crate) table: Rc<GlobalTable>,
        pub(crate) index: u32,
        _marker: PhantomData<*const T>,
    }

    impl<T> Global<T> {
        pub(crate) fn from_table(table: Rc<GlobalTable>, index: u32) -> Self {
            Global { table, index, _marker: PhantomData }
        }

        /// Id of the isolate this handle belongs to.
        pub fn isolate_id(&self) -> u32 {
            self.table.isolate
        }

        /// Re-points this global to `v`'s value, reusing its slot: the same
        /// as [`crate::HandleScope::set_global`].
        ///
        /// # Panics
        /// If this global or `v` belongs to another isolate than `scope`'s.
        pub fn set(&mut self, scope: &crate::HandleScope<'_>, v: Local<'_, T>) {
            scope.set_global(self, v);
        }
    }

    impl<T> Clone for Global<T> {
        fn clone(&self) -> Self {
            let v = self.table.get(self.index);
            let index = self.table.create(v);
            Global::from_table(self.table.clone(), index)
        }
    }

    impl<T> Drop for Global<T> {
        fn drop(&mut self) {
            self.table.release(self.index);
        }
    }

    impl<T> std::fmt::Debug for Global<T> {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "Global<{}>(isolate {}, #{})", std::any::type_name::<T>(), self.table.isolate, self.index)
        }
    }

    /// A weak handle: does not keep its target alive, and reads as empty once
    /// the collector found the target dead. Not `Send`.
    pub struct Weak<T> {
        pub(crate) table: Rc<GlobalTable>,
        pub(crate) index: u32,
        _marker: PhantomData<*const T>,
    }

    impl<T> Weak<T> {
        pub(crate) fn from_table(table: Rc<GlobalTable>, index: u32) -> Self {
            Weak { table, index, _marker: PhantomData }
        }

        /// Has the collector cleared this handle (its target died)?
        pub fn is_cleared(&self) -> bool {
            self.table.get(self.index) == CLEARED
        }

        /// Id of the isolate this handle belongs to.
        pub fn isolate_id(&self) -> u32 {
            self.table.isolate
        }
    }

    impl<T> Drop for Weak<T> {
        fn drop(&mut self) {
            self.table.release(self.index);
        }
    }

    impl<T> std::fmt::Debug for Weak<T> {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "Weak<{}>(isolate {}, #{})", std::any::type_name::<T>(), self.table.isolate, self.index)
        }
    }

    /// Any value: a Smi or a heap object (the `T` of an untyped handle).
    pub enum Value {}
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn claimed_visits_cover_every_slot_once() {
        let mut t = HandleBlocks::new();
        for _ in 0..5 {
            t.grow();
        }
        let cursor = AtomicUsize::new(0);
        let mut n = 0;
        t.visit_claimed(&cursor, |s| {
            s.fetch_add(2, Ordering::Relaxed);
            n += 1;
        });
        assert_eq!(n, 5 * HANDLE_BLOCK_SLOTS);
        for i in 0..t.capacity() {
            assert_eq!(t.slot(i).load(Ordering::Relaxed), 2);
        }
    }
}

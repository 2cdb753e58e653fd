//! Full-heap marking: the mark bitmap and a worklist.
//!
//! Tri-colour marking as in V8's mark-compact: white objects have a clear
//! mark bit; grey ones are marked and wait on the worklist; black ones are
//! marked and scanned. Marking starts from the roots (local and global
//! handles), visits every tagged field (and the object's map, when it is not
//! read-only) and sets mark bits with the bitmap's atomic `set`, whose winner
//! pushes the object. Read-only objects are never marked.
//!
//! After marking, weak handles and string-table entries whose targets stayed
//! white are cleared.
//!
//! This is the sequential, stop-the-world reference; concurrent marking on
//! the worker pool must agree with it.

use crate::handles::CLEARED;
use crate::heap::page::flags;
use crate::heap::Heap;
use crate::object::{HeapObject, MapRef};
use crate::sync::Ordering;
use crate::value::Tagged;

/// Is `v` alive after marking (a Smi, read-only, or marked)?
pub(crate) fn is_live(v: Tagged) -> bool {
    if !v.is_heap_object() {
        return true;
    }
    // SAFETY: `v` came from a root or a field of a live object.
    let obj = unsafe { HeapObject::from_tagged(v) };
    let page = obj.page();
    page.has(flags::READ_ONLY) || page.header().marks.is_set(page.mark_index(obj.address()))
}

struct Marker {
    worklist: Vec<HeapObject>,
    marked_bytes: usize,
}

impl Marker {
    /// Greys `v` if it is a white heap object.
    #[inline]
    fn mark(&mut self, v: Tagged) {
        if !v.is_heap_object() {
            return;
        }
        // SAFETY: `v` came from a root or a field of a live object.
        let obj = unsafe { HeapObject::from_tagged(v) };
        let page = obj.page();
        if page.has(flags::READ_ONLY) {
            return;
        }
        if page.header().marks.set(page.mark_index(obj.address())) {
            self.worklist.push(obj);
        }
    }

    fn drain(&mut self) {
        while let Some(obj) = self.worklist.pop() {
            let map = MapRef(obj.map());
            self.mark(map.0.tagged());
            let size = obj.size_with_map(map);
            self.marked_bytes += size;
            let page = obj.page();
            page.set_live_bytes(page.live_bytes() + size);
            for i in obj.tagged_range(map) {
                self.mark(obj.field(i));
            }
        }
    }
}

/// Marks everything reachable from the roots. Returns the marked bytes.
pub(crate) fn mark_full(heap: &mut Heap) -> usize {
    for p in heap.old_gen_pages().collect::<Vec<_>>() {
        p.set_live_bytes(0);
    }
    let mut m = Marker { worklist: Vec::with_capacity(1024), marked_bytes: 0 };
    for &h in &heap.handles {
        m.mark(h);
    }
    {
        let table = heap.globals.inner.borrow();
        for i in 0..table.blocks.capacity() {
            // Relaxed: inside the pause only this thread touches the table.
            m.mark(Tagged(table.blocks.slot(i).load(Ordering::Relaxed)));
        }
    }
    m.drain();
    m.marked_bytes
}

/// Clears weak handles and string-table entries whose targets are white.
pub(crate) fn clear_dead_weak_references(heap: &mut Heap) {
    let table = heap.weaks.inner.borrow();
    for i in 0..table.blocks.capacity() {
        let slot = table.blocks.slot(i);
        // Relaxed: inside the pause only this thread touches the table.
        let v = Tagged(slot.load(Ordering::Relaxed));
        if v.is_heap_object() && !is_live(v) {
            slot.store(CLEARED.0, Ordering::Relaxed);
        }
    }
    drop(table);
    heap.string_table.retain(is_live);
}

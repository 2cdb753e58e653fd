//! The heap verifier (DESIGN section 9), run after every GC when
//! [`crate::HeapConfig::verify_heap`] is on.
//!
//! It checks, over every object of every space:
//! - the map word points to a valid map (whose map is the meta map);
//! - every tagged field is a Smi or points to the start of a live object of
//!   this heap that is not in from-space and not a filler;
//! - every old-to-new pointer is in its page's OLD_TO_NEW slot set;
//! - no mark bit is left set in the old generation after sweeping;
//! - every handle (local, global, weak) and string-table entry is valid;
//!
//! [`verify_marking`] runs between marking and sweeping and checks the
//! tri-colour invariant at the end of marking: no marked object points to an
//! unmarked one.

use crate::heap::live_objects::is_live;
use crate::heap::page::{flags, SpaceId};
use crate::heap::Heap;
use crate::object::{offsets, HeapObject, InstanceType, MapRef};
use crate::roots::{Root, RootSet};
use crate::value::Tagged;
use std::collections::HashMap;

/// Object starts → instance type, plus basic per-object checks.
fn collect_objects(heap: &Heap) -> Result<HashMap<usize, InstanceType>, String> {
    let mut objects = HashMap::new();
    let meta = heap.ro_roots.meta_map;
    let mut err = None;
    heap.for_each_object(|o, space| {
        if err.is_some() {
            return;
        }
        let page = o.page();
        if page.header().heap_id != heap.id {
            err = Some(format!("object {:#x} lies on a page of heap {}", o.address(), page.header().heap_id));
            return;
        }
        if o.forwarding_address().is_some() {
            err = Some(format!("object {:#x} in {space:?} still holds a forwarding address", o.address()));
            return;
        }
        let map = MapRef(o.map());
        if !map.is_valid(meta) {
            err = Some(format!("object {:#x} in {space:?} has an invalid map {:#x}", o.address(), map.0.address()));
            return;
        }
        let end = o.address() + o.size_with_map(map);
        let limit = if space == SpaceId::New { page.top().max(heap.new_space.lab.top) } else { page.area_end() };
        if end > page.area_end() || (space != SpaceId::New && end > limit) {
            err = Some(format!("object {:#x} ({:?}) overruns its page", o.address(), map.instance_type()));
            return;
        }
        objects.insert(o.address(), map.instance_type());
    });
    match err {
        Some(e) => Err(e),
        None => Ok(objects),
    }
}

fn check_pointer(objects: &HashMap<usize, InstanceType>, v: Tagged, what: &dyn Fn() -> String) -> Result<(), String> {
    if !v.is_heap_object() {
        return Ok(());
    }
    match objects.get(&v.address()) {
        None => Err(format!("{} points to {:#x}, which is not an object start", what(), v.address())),
        Some(&t) if t.is_filler() => Err(format!("{} points to a filler at {:#x} (freed memory)", what(), v.address())),
        Some(_) => {
            // SAFETY: the address is a known object start.
            let page = unsafe { HeapObject::from_tagged(v) }.page();
            if page.has(flags::FROM_SPACE) {
                return Err(format!("{} points into from-space at {:#x}", what(), v.address()));
            }
            Ok(())
        }
    }
}

/// Runs every check; returns the first violation found. `marking`: a
/// marking cycle is in progress (a scavenge may run in the middle of one).
pub(crate) fn verify(heap: &Heap, marking: bool) -> Result<(), String> {
    let objects = collect_objects(heap)?;
    // Fields, maps and the remembered set.
    for (&addr, &ty) in &objects {
        if ty.is_filler() {
            continue;
        }
        // SAFETY: a known object start.
        let o = unsafe { HeapObject::from_address(addr) };
        let map = MapRef(o.map());
        check_pointer(&objects, map.0.tagged(), &|| format!("map word of {addr:#x}"))?;
        let host_page = o.page();
        let host_old = host_page.has(flags::OLD);
        let mut r = Ok(());
        o.for_each_tagged_index(map, |i| {
            if r.is_err() {
                return;
            }
            let v = o.field(i);
            r = check_pointer(&objects, v, &|| format!("field {i} of {ty:?} at {addr:#x}"));
            if r.is_ok() && host_old && v.is_heap_object() {
                // SAFETY: checked above to be a live object start.
                let target = unsafe { HeapObject::from_tagged(v) }.page();
                if target.is_young() && !host_page.header().old_to_new.contains(host_page.slot_index(o.slot(i))) {
                    r = Err(format!(
                        "old-to-new pointer in field {i} of {ty:?} at {addr:#x} is not in the remembered set"
                    ));
                }
            }
        });
        r?;
    }
    // No mark bits survive sweeping (unless an incremental marking cycle is
    // in progress: a scavenge may run in the middle of one; or the page still
    // waits for its sweeper). No page stays allocated black after marking.
    for page in heap.old_gen_pages() {
        if !marking && page.has(flags::BLACK_ALLOCATED) {
            return Err(format!("old page {:#x} is still allocated black after marking", page.address()));
        }
        if marking || page.is_pending_sweep() {
            continue;
        }
        let n = page.header().marks.count();
        if n != 0 {
            return Err(format!("{n} mark bits left set on old page {:#x} after GC", page.address()));
        }
    }
    // Roots.
    let mut r = Ok(());
    heap.roots.for_each(RootSet::ALL, |root, v| {
        if r.is_ok() {
            r = check_root(&objects, root, v);
        }
    });
    r?;
    Ok(())
}

/// A root is a Smi or a live object; a string-table entry is an
/// internalized string filed under its hash.
fn check_root(objects: &HashMap<usize, InstanceType>, root: Root, v: Tagged) -> Result<(), String> {
    check_pointer(objects, v, &|| root.to_string())?;
    let Root::String { hash } = root else { return Ok(()) };
    if objects.get(&v.address()) != Some(&InstanceType::InternalizedString) {
        return Err(format!("string table entry {:#x} is not an internalized string", v.address()));
    }
    // SAFETY: a known internalized string.
    let s = unsafe { HeapObject::from_tagged(v) };
    if s.word(offsets::STRING_HASH) as u64 != hash {
        return Err(format!("string table entry {:#x} is filed under the wrong hash", v.address()));
    }
    Ok(())
}

/// The end-of-marking invariants: no marked object points to an unmarked
/// one, and every old page's live-byte count is the size of its marked
/// objects.
pub(crate) fn verify_marking(heap: &Heap) -> Result<(), String> {
    let mut live: HashMap<usize, usize> = HashMap::new();
    let mut r = Ok(());
    heap.for_each_object(|o, space| {
        if r.is_err() || space == SpaceId::ReadOnly || o.instance_type().is_filler() || !is_live(o.tagged()) {
            return;
        }
        let map = MapRef(o.map());
        *live.entry(o.page().address()).or_default() += o.size_with_map(map);
        if !is_live(map.0.tagged()) {
            r = Err(format!("marked object {:#x} has an unmarked map", o.address()));
            return;
        }
        o.for_each_tagged_index(map, |i| {
            let v = o.field(i);
            if r.is_ok() && !is_live(v) {
                r = Err(format!(
                    "marked {:?} at {:#x} points to unmarked {:#x} (field {i})",
                    map.instance_type(),
                    o.address(),
                    v.address()
                ));
            }
        });
    });
    r?;
    for page in heap.old_gen_pages() {
        let counted = live.get(&page.address()).copied().unwrap_or(0);
        if page.live_bytes() != counted {
            return Err(format!(
                "page {:#x} accounts {} live bytes, its marked objects hold {counted}",
                page.address(),
                page.live_bytes()
            ));
        }
    }
    Ok(())
}

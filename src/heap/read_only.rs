//! Read-only space: the built-in maps and the oddballs.
//!
//! Created once per isolate when it starts, then never marked, swept or
//! moved (its page carries the `READ_ONLY` flag, which every collector tests
//! before touching an object). The roots are kept as raw addresses in
//! [`ReadOnlyRoots`]; they are valid for the isolate's whole life.

use super::old_space::Lab;
use super::page::AREA_SIZE;
use super::page::{flags, Page, PagePool, SpaceId};
use super::stats::SpaceStats;
use super::{PAGE_SIZE, WORD};
use crate::object::{offsets, HeapObject, InstanceType};
use crate::value::Tagged;

/// The kinds of oddball, stored as a Smi in the oddball.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum OddballKind {
    /// `undefined`.
    Undefined = 0,
    /// `null`.
    Null = 1,
    /// `true`.
    True = 2,
    /// `false`.
    False = 3,
    /// `the_hole`: marks an absent element.
    TheHole = 4,
}

/// Addresses of the read-only objects.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct ReadOnlyRoots {
    pub(crate) meta_map: usize,
    pub(crate) oddball_map: usize,
    pub(crate) fixed_array_map: usize,
    pub(crate) byte_array_map: usize,
    pub(crate) string_map: usize,
    pub(crate) internalized_string_map: usize,
    pub(crate) heap_number_map: usize,
    pub(crate) free_space_map: usize,
    pub(crate) filler_map: usize,
    /// The map of allocation mementos (see `heap::allocation_site`).
    pub(crate) allocation_memento_map: usize,
    /// The maps of the weak kinds (`ephemeron`, `weak_ref`, `finalization`).
    pub(crate) ephemeron_table_map: usize,
    pub(crate) weak_ref_map: usize,
    pub(crate) finalization_registry_map: usize,
    pub(crate) oddballs: [usize; 5],
    pub(crate) empty_fixed_array: usize,
}

impl ReadOnlyRoots {
    pub(crate) fn oddball(&self, k: OddballKind) -> Tagged {
        Tagged::from_address(self.oddballs[k as usize])
    }

    pub(crate) fn undefined(&self) -> Tagged {
        self.oddball(OddballKind::Undefined)
    }

    /// Every root with V8's name for it (the heap snapshot's "(Read-only
    /// roots)" edges): a root added to the struct is added here, next to it.
    pub(crate) fn named(&self) -> [(&'static str, usize); 19] {
        [
            ("undefined_value", self.oddballs[0]),
            ("null_value", self.oddballs[1]),
            ("true_value", self.oddballs[2]),
            ("false_value", self.oddballs[3]),
            ("the_hole_value", self.oddballs[4]),
            ("empty_fixed_array", self.empty_fixed_array),
            ("meta_map", self.meta_map),
            ("oddball_map", self.oddball_map),
            ("fixed_array_map", self.fixed_array_map),
            ("byte_array_map", self.byte_array_map),
            ("string_map", self.string_map),
            ("internalized_string_map", self.internalized_string_map),
            ("heap_number_map", self.heap_number_map),
            ("free_space_map", self.free_space_map),
            ("one_pointer_filler_map", self.filler_map),
            ("allocation_memento_map", self.allocation_memento_map),
            ("ephemeron_hash_table_map", self.ephemeron_table_map),
            ("js_weak_ref_map", self.weak_ref_map),
            ("js_finalization_registry_map", self.finalization_registry_map),
        ]
    }
}

/// The read-only space: one page.
pub(crate) struct ReadOnlySpace {
    pub(crate) page: Page,
    pub(crate) top: usize,
}

impl ReadOnlySpace {
    /// The space's statistics.
    pub(crate) fn stats(&self) -> SpaceStats {
        let used = self.top - self.page.area_start();
        SpaceStats { name: SpaceId::ReadOnly.name(), used, committed: PAGE_SIZE, available: AREA_SIZE - used }
    }

    /// Creates the page and the built-in objects.
    pub(crate) fn create(pool: &mut PagePool) -> Option<(ReadOnlySpace, ReadOnlyRoots)> {
        let page = pool.allocate(PAGE_SIZE, SpaceId::ReadOnly, flags::READ_ONLY | flags::NEVER_EVACUATE)?;
        let mut lab = Lab { top: page.area_start(), limit: page.area_end() };
        let mut alloc = |words: usize| -> HeapObject {
            let a = lab.allocate(words * WORD).expect("read-only page holds the roots");
            // SAFETY: freshly allocated in this heap's read-only page; the
            // caller initialises every word before anything reads it.
            unsafe { HeapObject::from_address(a) }
        };
        let meta = alloc(offsets::MAP_WORDS);
        let mut roots = ReadOnlyRoots { meta_map: meta.address(), ..Default::default() };
        let undefined_placeholder = 0usize; // patched once undefined exists
        let init_map = |m: HeapObject, ty: InstanceType, size: usize| {
            m.set_word(offsets::MAP, roots.meta_map);
            m.set_word(offsets::MAP_TYPE, Tagged::from_smi(ty as i64).0);
            m.set_word(offsets::MAP_INSTANCE_SIZE, Tagged::from_smi(size as i64).0);
            m.set_word(offsets::MAP_TAGGED_FIELDS, 0);
            m.set_word(offsets::MAP_RAW_BYTES, 0);
            m.set_word(offsets::MAP_NAME, undefined_placeholder);
            m.set_word(offsets::MAP_FIELD_NAMES, undefined_placeholder);
        };
        init_map(meta, InstanceType::Map, offsets::MAP_WORDS * WORD);
        let mut make = |ty: InstanceType, size: usize| {
            let m = alloc(offsets::MAP_WORDS);
            init_map(m, ty, size);
            m.address()
        };
        roots.oddball_map = make(InstanceType::Oddball, 2 * WORD);
        roots.fixed_array_map = make(InstanceType::FixedArray, 0);
        roots.byte_array_map = make(InstanceType::ByteArray, 0);
        roots.string_map = make(InstanceType::String, 0);
        roots.internalized_string_map = make(InstanceType::InternalizedString, 0);
        roots.heap_number_map = make(InstanceType::HeapNumber, 2 * WORD);
        roots.free_space_map = make(InstanceType::FreeSpace, 0);
        roots.filler_map = make(InstanceType::Filler, WORD);
        // Shaped like a heap number (two words, the second raw): an
        // allocation memento's second word is its site's index.
        roots.allocation_memento_map = make(InstanceType::HeapNumber, 2 * WORD);
        roots.ephemeron_table_map = make(InstanceType::EphemeronTable, offsets::SIDE_OBJECT_WORDS * WORD);
        roots.weak_ref_map = make(InstanceType::WeakRef, offsets::SIDE_OBJECT_WORDS * WORD);
        roots.finalization_registry_map = make(InstanceType::FinalizationRegistry, offsets::SIDE_OBJECT_WORDS * WORD);
        for (i, slot) in roots.oddballs.iter_mut().enumerate() {
            let o = alloc(2);
            o.set_word(offsets::MAP, roots.oddball_map);
            o.set_word(offsets::ODDBALL_KIND, Tagged::from_smi(i as i64).0);
            *slot = o.address();
        }
        let empty = alloc(2);
        empty.set_word(offsets::MAP, roots.fixed_array_map);
        empty.set_word(offsets::LENGTH, Tagged::from_smi(0).0);
        roots.empty_fixed_array = empty.address();
        // Map names (and field names) of the built-in maps are `undefined`.
        let undefined = roots.undefined().0;
        let mut a = page.area_start();
        while a < roots.oddballs[0] {
            // SAFETY: the maps were initialised just above.
            let m = unsafe { HeapObject::from_address(a) };
            m.set_word(offsets::MAP_NAME, undefined);
            m.set_word(offsets::MAP_FIELD_NAMES, undefined);
            a += offsets::MAP_WORDS * WORD;
        }
        page.set_top(lab.top);
        Some((ReadOnlySpace { page, top: lab.top }, roots))
    }
}

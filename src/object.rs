//! Heap objects: layouts, maps, and the small unsafe core that reads and
//! writes heap words.
//!
//! Every object starts with its map word. The map says what the object is
//! ([`InstanceType`]), how big it is, and which of its words hold tagged
//! values, so the collector is precise. Built-in layouts:
//!
//! | kind               | words                                            |
//! |--------------------|--------------------------------------------------|
//! | `Map`              | map, type, instance size, tagged fields, raw bytes, name, field names |
//! | `Oddball`          | map, kind (Smi)                                  |
//! | `FixedArray`       | map, length (Smi), `length` tagged slots         |
//! | `ByteArray`        | map, length (Smi), bytes                         |
//! | `String`           | map, length (Smi), hash (raw), UTF-8 bytes       |
//! | `HeapNumber`       | map, f64 bits                                    |
//! | `Object` (runtime) | map, N tagged fields, M raw bytes (from its map) |
//! | `FreeSpace`        | map, size (Smi) — a filler of two or more words  |
//! | `Filler`           | map — a one-word filler                          |
//! | `EphemeronTable`   | map, table id (Smi): entries in [`crate::ephemeron`]'s store |
//! | `WeakRef`          | map, target (a *weak* slot, outside the tagged range: [`crate::weak_ref`]) |
//! | `FinalizationRegistry` | map, registry id (Smi): cells in [`crate::finalization`]'s store |
//!
//! All raw memory access goes through [`HeapObject`]'s methods, which rest on
//! one invariant: a `HeapObject` is only made for the address of a live,
//! initialised object in a heap that the current thread may touch (the
//! isolate's own thread, or a GC worker inside a pause of that heap).

use crate::heap::page::Page;
use crate::heap::WORD;
use crate::sync::{atomic_word, Ordering};
use crate::value::{Tagged, FORWARDING_TAG, TAG_MASK};

/// The kind of a heap object, stored in its map.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum InstanceType {
    /// A map: the layout of other objects.
    Map = 1,
    /// `undefined`, `null`, `true`, `false`, `the_hole`.
    Oddball = 2,
    /// An array of tagged values.
    FixedArray = 3,
    /// An array of raw bytes.
    ByteArray = 4,
    /// A UTF-8 string.
    String = 5,
    /// A UTF-8 string held in the isolate's string table.
    InternalizedString = 6,
    /// A boxed f64.
    HeapNumber = 7,
    /// A runtime-defined object: N tagged fields and M raw bytes.
    Object = 8,
    /// A filler covering free space (two or more words).
    FreeSpace = 9,
    /// A one-word filler.
    Filler = 10,
    /// An ephemeron table (WeakMap / WeakSet): a value is kept alive only
    /// while its key is (see `ephemeron`).
    EphemeronTable = 11,
    /// A weak reference held in a heap slot: cleared to `undefined` when its
    /// target dies (see `weak_ref`).
    WeakRef = 12,
    /// A finalization registry (see `finalization`).
    FinalizationRegistry = 13,
}

impl InstanceType {
    /// Free space or a one-word filler: not an object, a gap pages keep
    /// iterable.
    pub(crate) fn is_filler(self) -> bool {
        matches!(self, InstanceType::FreeSpace | InstanceType::Filler)
    }

    fn from_u8(v: u8) -> Option<InstanceType> {
        use InstanceType::*;
        Some(match v {
            1 => Map,
            2 => Oddball,
            3 => FixedArray,
            4 => ByteArray,
            5 => String,
            6 => InternalizedString,
            7 => HeapNumber,
            8 => Object,
            9 => FreeSpace,
            10 => Filler,
            11 => EphemeronTable,
            12 => WeakRef,
            13 => FinalizationRegistry,
            _ => return None,
        })
    }
}

/// Word offsets inside objects.
pub(crate) mod offsets {
    pub const MAP: usize = 0;
    // Map
    pub const MAP_TYPE: usize = 1;
    pub const MAP_INSTANCE_SIZE: usize = 2;
    pub const MAP_TAGGED_FIELDS: usize = 3;
    pub const MAP_RAW_BYTES: usize = 4;
    pub const MAP_NAME: usize = 5;
    /// A `FixedArray` of internalized strings, one per tagged field, or
    /// `undefined` when the layout names none (built-in maps never do).
    pub const MAP_FIELD_NAMES: usize = 6;
    pub const MAP_WORDS: usize = 7;
    // Arrays and strings
    pub const LENGTH: usize = 1;
    pub const ARRAY_HEADER_WORDS: usize = 2;
    pub const STRING_HASH: usize = 2;
    pub const STRING_HEADER_WORDS: usize = 3;
    // HeapNumber, Oddball
    pub const NUMBER_VALUE: usize = 1;
    pub const ODDBALL_KIND: usize = 1;
    // FreeSpace
    pub const FREE_SPACE_SIZE: usize = 1;
    // EphemeronTable, FinalizationRegistry: the id of the store's row (Smi);
    // WeakRef: the target (weak: outside the tagged range).
    pub const SIDE_ID: usize = 1;
    pub const WEAK_REF_TARGET: usize = 1;
    /// The size of each of the three kinds above.
    pub const SIDE_OBJECT_WORDS: usize = 2;
}

/// Rounds `n` up to a whole number of words.
#[inline(always)]
pub(crate) const fn round_to_words(n: usize) -> usize {
    (n + WORD - 1) & !(WORD - 1)
}

/// Checked object sizes: `None` when the byte size overflows.
pub(crate) mod sizes {
    use super::{offsets, WORD};

    pub fn fixed_array(len: usize) -> Option<usize> {
        len.checked_mul(WORD)?.checked_add(offsets::ARRAY_HEADER_WORDS * WORD)
    }
    pub fn byte_array(len: usize) -> Option<usize> {
        round_up(len.checked_add(offsets::ARRAY_HEADER_WORDS * WORD)?)
    }
    pub fn string(len: usize) -> Option<usize> {
        round_up(len.checked_add(offsets::STRING_HEADER_WORDS * WORD)?)
    }
    fn round_up(n: usize) -> Option<usize> {
        Some(n.checked_add(WORD - 1)? & !(WORD - 1))
    }
    pub fn object(tagged: usize, raw: usize) -> Option<usize> {
        tagged.checked_add(1)?.checked_mul(WORD)?.checked_add(round_up(raw)?)
    }
}

/// A live heap object, by address. See the module docs for the invariant
/// every method relies on.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub(crate) struct HeapObject(usize);

impl HeapObject {
    /// Wraps an object address.
    ///
    /// # Safety
    /// `addr` is the start of a live, initialised object that this thread may
    /// access (the module invariant), for as long as the value is used.
    #[inline(always)]
    pub(crate) unsafe fn from_address(addr: usize) -> HeapObject {
        debug_assert!(addr != 0 && addr % WORD == 0);
        HeapObject(addr)
    }

    /// Wraps the target of a tagged pointer.
    ///
    /// # Safety
    /// As [`HeapObject::from_address`] for `t.address()`.
    #[inline(always)]
    pub(crate) unsafe fn from_tagged(t: Tagged) -> HeapObject {
        debug_assert!(t.is_heap_object());
        // SAFETY: forwarded to the caller.
        unsafe { Self::from_address(t.address()) }
    }

    #[inline(always)]
    pub(crate) fn address(self) -> usize {
        self.0
    }

    #[inline(always)]
    pub(crate) fn tagged(self) -> Tagged {
        Tagged::from_address(self.0)
    }

    #[inline(always)]
    pub(crate) fn page(self) -> Page {
        // SAFETY: a live object starts in the first PAGE_SIZE bytes of its
        // page (the module invariant).
        unsafe { Page::of(self.0) }
    }

    /// Loads word `i` (Relaxed: concurrent markers read fields atomically;
    /// ordering with the object's initialisation comes from its publication).
    #[inline(always)]
    pub(crate) fn word(self, i: usize) -> usize {
        // SAFETY: word `i` lies inside this live object (callers index within
        // the layout its map describes), which is word aligned.
        unsafe { atomic_word(self.0 + i * WORD) }.load(Ordering::Relaxed)
    }

    /// Stores word `i` (Relaxed: see [`HeapObject::word`]).
    #[inline(always)]
    pub(crate) fn set_word(self, i: usize, v: usize) {
        // SAFETY: as in `word`.
        unsafe { atomic_word(self.0 + i * WORD) }.store(v, Ordering::Relaxed)
    }

    #[inline(always)]
    pub(crate) fn field(self, i: usize) -> Tagged {
        Tagged(self.word(i))
    }

    /// Loads field `i` for a concurrent marker. Acquire: pairs with the
    /// Release of [`HeapObject::set_field_release`], so an object published
    /// by a store is seen initialised.
    #[inline(always)]
    pub(crate) fn field_acquire(self, i: usize) -> Tagged {
        // SAFETY: word `i` lies inside this live object (as in `word`).
        Tagged(unsafe { crate::evacuation::load_field_for_marking(&crate::evacuation::RawMemory, self.slot(i)) })
    }

    /// Stores field `i` as the mutator does. Release: publishes everything
    /// written before (a new object's initialisation) to a concurrent marker
    /// that loads the field with [`HeapObject::field_acquire`].
    #[inline(always)]
    pub(crate) fn set_field_release(self, i: usize, v: Tagged) {
        // SAFETY: word `i` lies inside this live object (as in `word`).
        unsafe { crate::evacuation::publish_field(&crate::evacuation::RawMemory, self.slot(i), v.0) }
    }

    #[inline(always)]
    pub(crate) fn set_field(self, i: usize, v: Tagged) {
        self.set_word(i, v.0)
    }

    /// Address of word `i` (a slot).
    #[inline(always)]
    pub(crate) fn slot(self, i: usize) -> usize {
        self.0 + i * WORD
    }

    /// The raw map word: a map pointer, or a forwarding address.
    #[inline(always)]
    pub(crate) fn map_word(self) -> usize {
        self.word(offsets::MAP)
    }

    /// The object's map. Must not be forwarded.
    #[inline(always)]
    pub(crate) fn map(self) -> HeapObject {
        let w = self.map_word();
        debug_assert!(w & TAG_MASK != FORWARDING_TAG, "map() of a forwarded object");
        // SAFETY: a live object's map word points to its live map.
        unsafe { HeapObject::from_address(w & !TAG_MASK) }
    }

    /// If the map word holds a forwarding address, the object's new home.
    #[inline(always)]
    pub(crate) fn forwarding_address(self) -> Option<usize> {
        let w = self.map_word();
        (w & TAG_MASK == FORWARDING_TAG).then_some(w & !TAG_MASK)
    }

    #[inline(always)]
    pub(crate) fn instance_type(self) -> InstanceType {
        MapRef(self.map()).instance_type()
    }

    /// The Smi in word `i` as a `usize` (lengths, sizes).
    #[inline(always)]
    pub(crate) fn smi_word(self, i: usize) -> usize {
        Tagged(self.word(i)).smi_value() as usize
    }

    /// Size of the object in bytes, computed from its map.
    #[inline]
    pub(crate) fn size(self) -> usize {
        self.size_with_map(MapRef(self.map()))
    }

    /// Size of the object in bytes given its map (the map word may already
    /// hold a forwarding address; `map` was read before that).
    #[inline]
    pub(crate) fn size_with_map(self, map: MapRef) -> usize {
        use InstanceType::*;
        match map.instance_type() {
            FixedArray => offsets::ARRAY_HEADER_WORDS * WORD + self.smi_word(offsets::LENGTH) * WORD,
            ByteArray => round_to_words(offsets::ARRAY_HEADER_WORDS * WORD + self.smi_word(offsets::LENGTH)),
            String | InternalizedString => {
                round_to_words(offsets::STRING_HEADER_WORDS * WORD + self.smi_word(offsets::LENGTH))
            }
            FreeSpace => self.smi_word(offsets::FREE_SPACE_SIZE),
            Filler => WORD,
            Map | Oddball | HeapNumber | Object | EphemeronTable | WeakRef | FinalizationRegistry => {
                map.instance_size()
            }
        }
    }

    /// The word indices of the tagged fields of the body (the map word
    /// excluded), given the object's map. Every layout keeps its tagged
    /// fields in one contiguous run, so collectors loop over a range.
    #[inline(always)]
    pub(crate) fn tagged_range(self, map: MapRef) -> std::ops::Range<usize> {
        use InstanceType::*;
        match map.instance_type() {
            FixedArray => {
                let start = offsets::ARRAY_HEADER_WORDS;
                start..start + self.smi_word(offsets::LENGTH)
            }
            Object => 1..1 + map.tagged_fields(),
            Map => offsets::MAP_NAME..offsets::MAP_FIELD_NAMES + 1,
            // A weak reference's target is weak: outside the tagged range, so
            // no collector traces it; `weak_ref` updates and clears it.
            ByteArray | String | InternalizedString | HeapNumber | Oddball | FreeSpace | Filler | EphemeronTable
            | WeakRef | FinalizationRegistry => 0..0,
        }
    }

    /// [`HeapObject::size_with_map`] and [`HeapObject::tagged_range`] from
    /// one reading of the map's instance type and of the length word: the
    /// scavenger's copy path, which needs both for every object it moves.
    #[inline(always)]
    pub(crate) fn size_and_tagged_range(self, map: MapRef) -> (usize, std::ops::Range<usize>) {
        use InstanceType::*;
        let r = match map.instance_type() {
            FixedArray => {
                let len = self.smi_word(offsets::LENGTH);
                let start = offsets::ARRAY_HEADER_WORDS;
                ((start + len) * WORD, start..start + len)
            }
            Object => (map.instance_size(), 1..1 + map.tagged_fields()),
            ByteArray => (round_to_words(offsets::ARRAY_HEADER_WORDS * WORD + self.smi_word(offsets::LENGTH)), 0..0),
            String | InternalizedString => {
                (round_to_words(offsets::STRING_HEADER_WORDS * WORD + self.smi_word(offsets::LENGTH)), 0..0)
            }
            HeapNumber | Oddball | EphemeronTable | WeakRef | FinalizationRegistry => (map.instance_size(), 0..0),
            Map => (map.instance_size(), offsets::MAP_NAME..offsets::MAP_FIELD_NAMES + 1),
            FreeSpace => (self.smi_word(offsets::FREE_SPACE_SIZE), 0..0),
            Filler => (WORD, 0..0),
        };
        debug_assert_eq!(r, (self.size_with_map(map), self.tagged_range(map)), "one layout, two readings");
        r
    }

    /// Calls `f` with the index of every tagged word of the body.
    #[inline]
    pub(crate) fn for_each_tagged_index(self, map: MapRef, f: impl FnMut(usize)) {
        self.tagged_range(map).for_each(f)
    }

    /// Fills words `from..to` of a newly allocated object with `v`: plain
    /// (non-atomic) stores, which the compiler may merge and vectorize,
    /// where [`HeapObject::set_word`] is one atomic store per word.
    ///
    /// Only for an object no other thread can reach yet: one just allocated
    /// by this thread and not yet stored anywhere. Its publication (the
    /// Release store of [`HeapObject::set_field_release`], or a GC job's
    /// spawn) orders these stores before any collector thread reads it.
    #[inline(always)]
    pub(crate) fn init_words(self, from: usize, to: usize, v: usize) {
        debug_assert!(from <= to);
        // Words `from..to` lie inside this object (callers pass its layout's
        // bounds), which is word aligned, and no other thread accesses an
        // unpublished object, so these non-atomic stores race with nothing.
        let (mut p, end) = ((self.0 + from * WORD) as *mut usize, (self.0 + to * WORD) as *mut usize);
        while p < end {
            // SAFETY: `from <= p < to` lies in the object (see above).
            unsafe {
                p.write(v);
                p = p.add(1);
            }
        }
    }

    /// Raw bytes `offset..offset+out.len()` of the object.
    pub(crate) fn read_bytes(self, offset: usize, out: &mut [u8]) {
        // Raw bytes hold no pointers, so no collector thread touches them
        // outside copying, which happens in a pause.
        // SAFETY: callers bound `offset + out.len()` by the object's raw area,
        // and no write to raw bytes runs concurrently with this read.
        unsafe { std::ptr::copy_nonoverlapping((self.0 + offset) as *const u8, out.as_mut_ptr(), out.len()) }
    }

    /// Writes raw bytes at `offset`.
    pub(crate) fn write_bytes(self, offset: usize, data: &[u8]) {
        // SAFETY: as in `read_bytes`.
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), (self.0 + offset) as *mut u8, data.len()) }
    }

    /// A view of raw bytes (valid until the next allocation; crate-internal).
    pub(crate) fn bytes<'a>(self, offset: usize, len: usize) -> &'a [u8] {
        // SAFETY: as in `read_bytes`; callers drop the slice before anything
        // can allocate or collect.
        unsafe { std::slice::from_raw_parts((self.0 + offset) as *const u8, len) }
    }
}

/// A map object, with typed accessors to its layout words.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct MapRef(pub(crate) HeapObject);

impl MapRef {
    #[inline(always)]
    pub(crate) fn instance_type(self) -> InstanceType {
        let raw = self.0.smi_word(offsets::MAP_TYPE) as u8;
        match InstanceType::from_u8(raw) {
            Some(t) => t,
            None => panic!("heap corruption: map at {:#x} has instance type {raw}", self.0.address()),
        }
    }

    /// The raw type word (the instance type as a Smi), undecoded: what a
    /// kind check compares against.
    #[inline(always)]
    pub(crate) fn raw_type(self) -> usize {
        self.0.word(offsets::MAP_TYPE)
    }

    /// Fixed instance size in bytes (0 for variable-sized kinds).
    #[inline(always)]
    pub(crate) fn instance_size(self) -> usize {
        self.0.smi_word(offsets::MAP_INSTANCE_SIZE)
    }

    #[inline(always)]
    pub(crate) fn tagged_fields(self) -> usize {
        self.0.smi_word(offsets::MAP_TAGGED_FIELDS)
    }

    #[inline(always)]
    pub(crate) fn raw_bytes(self) -> usize {
        self.0.smi_word(offsets::MAP_RAW_BYTES)
    }

    /// Checks that `self` looks like a map (its map is the meta map, whose
    /// map is itself). Used by the verifier.
    pub(crate) fn is_valid(self, meta_map: usize) -> bool {
        self.0.map_word() == meta_map && InstanceType::from_u8(self.0.smi_word(offsets::MAP_TYPE) as u8).is_some()
    }
}

/// The text of a string object (`None` for a non-string: the `undefined`
/// of a built-in map's name).
pub(crate) fn string_text(t: Tagged) -> Option<String> {
    if !t.is_heap_object() {
        return None;
    }
    // SAFETY: `t` was read from a live object's field, so it is live.
    let s = unsafe { HeapObject::from_tagged(t) };
    if !matches!(s.instance_type(), InstanceType::String | InstanceType::InternalizedString) {
        return None;
    }
    let bytes = s.bytes(offsets::STRING_HEADER_WORDS * WORD, s.smi_word(offsets::LENGTH));
    Some(String::from_utf8_lossy(bytes).into_owned())
}

/// The name of a runtime map's layout (`None` for a built-in map).
pub(crate) fn map_name(map: MapRef) -> Option<String> {
    string_text(map.0.field(offsets::MAP_NAME))
}

/// The name a runtime map's layout gave tagged field `i` (`None` when it
/// names no fields, or for a built-in map).
pub(crate) fn field_name(map: MapRef, i: usize) -> Option<String> {
    if map.instance_type() != InstanceType::Object {
        return None;
    }
    let names = map.0.field(offsets::MAP_FIELD_NAMES);
    if !names.is_heap_object() {
        return None;
    }
    // SAFETY: a field of a live map, so a live object.
    let names = unsafe { HeapObject::from_tagged(names) };
    if names.instance_type() != InstanceType::FixedArray || i >= names.smi_word(offsets::LENGTH) {
        return None;
    }
    string_text(names.field(offsets::ARRAY_HEADER_WORDS + i))
}

/// Writes a filler covering `start..start+size` so the page stays iterable.
pub(crate) fn write_filler(start: usize, size: usize, free_space_map: usize, filler_map: usize) {
    if size == 0 {
        return;
    }
    debug_assert!(size % WORD == 0);
    // SAFETY: the caller owns `start..start+size` (free memory of a page of
    // this heap, not visible to any other thread as an object yet).
    let o = unsafe { HeapObject::from_address(start) };
    if size == WORD {
        o.set_word(offsets::MAP, filler_map);
    } else {
        o.set_word(offsets::MAP, free_space_map);
        o.set_word(offsets::FREE_SPACE_SIZE, Tagged::from_smi(size as i64).0);
    }
}

/// The hash of a string's bytes stored in the string header: eight bytes at
/// a time, each word folded into the state by a 64x64->128-bit multiply
/// (wyhash's `mum` step), the length mixed in first. Byte-serial FNV-1a,
/// used before, is a chain of one multiply per byte (about 4 cycles a byte):
/// it was 9% of splay's cycles, most of them in allocating its key strings.
pub(crate) fn string_hash(bytes: &[u8]) -> u64 {
    const K0: u64 = 0xa076_1d64_78bd_642f;
    const K1: u64 = 0xe703_7ed1_a0b4_28db;
    const K2: u64 = 0x8ebc_6af0_9c88_c6e3;
    #[inline(always)]
    fn mum(a: u64, b: u64) -> u64 {
        let r = (a as u128).wrapping_mul(b as u128);
        (r as u64) ^ ((r >> 64) as u64)
    }
    let mut h = K0 ^ (bytes.len() as u64).wrapping_mul(K2);
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_le_bytes(c.try_into().expect("chunks_exact(8) yields 8 bytes"));
        h = mum(w ^ K1, h ^ K2);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut last = [0u8; 8];
        last[..rest.len()].copy_from_slice(rest);
        h = mum(u64::from_le_bytes(last) ^ K1, h ^ K2);
    }
    mum(h ^ K0, K1)
}

/// Does `t` point to a young object? (A Smi does not.)
pub(crate) fn is_young(t: Tagged) -> bool {
    // SAFETY: callers pass words from handles, roots or side tables of this
    // isolate: Smis or live objects (or, in a scavenge's update, new copies).
    t.is_heap_object() && unsafe { HeapObject::from_tagged(t) }.page().is_young()
}

//! [`HandleScope`]: where a runtime allocates, reads and writes heap objects;
//! [`EscapableHandleScope`]: a scope that returns one handle to its parent.
//!
//! Every access goes through a scope (DESIGN section 4): no reference into
//! the heap survives a call that may allocate, so the collector is free to
//! move objects. Every tagged store runs the write barrier. Misuse fails
//! loudly: a handle of another isolate, a field index out of range, or a
//! handle whose object is not of the expected kind panics (the `try_`
//! variants return `None` for a bad index) and never touches the heap.

use crate::barrier::write_barrier;
use crate::collector::GcRequest;
use crate::error::AllocError;
use crate::handles::{Global, Local, Value, Weak, CLEARED};
use crate::heap::allocation_site::{AllocationSite, SiteAllocation, MEMENTO_BYTES};
use crate::heap::page::flags;
use crate::heap::read_only::OddballKind;
use crate::heap::{Space, MAX_OBJECT_BYTES, MAX_REGULAR_OBJECT_SIZE, WORD};
use crate::isolate::Isolate;
use crate::object::{offsets, sizes, string_hash, HeapObject, InstanceType, MapRef};
use crate::value::{Smi, Tagged};
use std::marker::PhantomData;

mod private {
    pub trait Sealed {}
}

/// What a [`HandleScope`] can be opened on: an [`Isolate`] or another scope.
pub trait ScopeParent: private::Sealed {
    #[doc(hidden)]
    fn isolate_mut(&mut self) -> &mut Isolate;
}

impl private::Sealed for Isolate {}
impl ScopeParent for Isolate {
    fn isolate_mut(&mut self) -> &mut Isolate {
        self
    }
}
impl private::Sealed for HandleScope<'_> {}
impl ScopeParent for HandleScope<'_> {
    fn isolate_mut(&mut self) -> &mut Isolate {
        self.isolate
    }
}
impl private::Sealed for EscapableHandleScope<'_, '_> {}
impl ScopeParent for EscapableHandleScope<'_, '_> {
    fn isolate_mut(&mut self) -> &mut Isolate {
        self.scope.isolate
    }
}

/// A value that can be stored into a field: a handle or a [`Smi`].
pub trait IntoValue: private::Sealed {
    #[doc(hidden)]
    fn to_raw(&self, scope: &HandleScope<'_>) -> usize;
}
impl<T> private::Sealed for Local<'_, T> {}
impl<T> IntoValue for Local<'_, T> {
    fn to_raw(&self, scope: &HandleScope<'_>) -> usize {
        scope.resolve(*self).0
    }
}
impl private::Sealed for Smi {}
impl IntoValue for Smi {
    fn to_raw(&self, _: &HandleScope<'_>) -> usize {
        self.tagged().0
    }
}

/// Marker: an array of tagged values.
pub enum FixedArray {}
/// Marker: an array of raw bytes.
pub enum ByteArray {}
/// Marker: a UTF-8 string (plain or internalized).
pub enum HeapString {}
/// Marker: a boxed `f64`.
pub enum HeapNumber {}
/// Marker: a map (an object layout).
pub enum Map {}
/// Marker: a runtime-defined object made from a [`Map`].
pub enum Object {}
/// Marker: an ephemeron table, a WeakMap / WeakSet
/// ([`HandleScope::new_ephemeron_table`]).
pub enum EphemeronTable {}
/// Marker: a weak reference held in the heap ([`HandleScope::new_weak_ref`]).
pub enum WeakRef {}
/// Marker: a finalization registry
/// ([`HandleScope::new_finalization_registry`]).
pub enum FinalizationRegistry {}

/// Handle types that name a kind of heap object, for [`HandleScope::cast`].
///
/// A kind is a run of one or two consecutive instance types (`FIRST..=LAST`),
/// so checking one is a single comparison of the raw type word of the
/// object's map, with no decoding.
pub trait HeapType: private::Sealed {
    #[doc(hidden)]
    const NAME: &'static str;
    #[doc(hidden)]
    const FIRST: InstanceType;
    #[doc(hidden)]
    const LAST: InstanceType;
    #[doc(hidden)]
    #[inline(always)]
    fn matches(t: InstanceType) -> bool {
        (Self::FIRST as u8..=Self::LAST as u8).contains(&(t as u8))
    }
    /// Does a map's raw type word (a Smi) name this kind? One unsigned
    /// comparison: `raw - smi(FIRST) <= smi(LAST) - smi(FIRST)`.
    #[doc(hidden)]
    #[inline(always)]
    fn matches_raw(raw: usize) -> bool {
        let first = Tagged::from_smi(Self::FIRST as i64).0;
        raw.wrapping_sub(first) <= Tagged::from_smi(Self::LAST as i64).0 - first
    }
    /// The instance type behind a raw type word that [`HeapType::matches_raw`]
    /// accepted (a constant for one-type kinds).
    #[doc(hidden)]
    #[inline(always)]
    fn type_of_raw(raw: usize) -> InstanceType {
        const { assert!(Self::LAST as u8 - Self::FIRST as u8 <= 1, "a kind spans at most two types") };
        if raw == Tagged::from_smi(Self::FIRST as i64).0 {
            Self::FIRST
        } else {
            Self::LAST
        }
    }
}
/// Kinds with tagged fields, indexable with [`HandleScope::get`].
pub trait HasFields: HeapType {}
/// Kinds with a length word.
pub trait HasLength: HeapType {}
/// Kinds with raw bytes that the runtime may read and write.
pub trait HasRawBytes: HeapType {}

macro_rules! heap_type {
    ($t:ty, $first:ident ..= $last:ident) => {
        impl private::Sealed for $t {}
        impl HeapType for $t {
            const NAME: &'static str = stringify!($t);
            const FIRST: InstanceType = InstanceType::$first;
            const LAST: InstanceType = InstanceType::$last;
        }
    };
}
heap_type!(FixedArray, FixedArray..=FixedArray);
heap_type!(ByteArray, ByteArray..=ByteArray);
heap_type!(HeapString, String..=InternalizedString);
heap_type!(HeapNumber, HeapNumber..=HeapNumber);
heap_type!(Map, Map..=Map);
heap_type!(Object, Object..=Object);
heap_type!(EphemeronTable, EphemeronTable..=EphemeronTable);
heap_type!(WeakRef, WeakRef..=WeakRef);
heap_type!(FinalizationRegistry, FinalizationRegistry..=FinalizationRegistry);
impl HasFields for FixedArray {}
impl HasFields for Object {}
impl HasLength for FixedArray {}
impl HasLength for ByteArray {}
impl HasLength for HeapString {}
impl HasRawBytes for ByteArray {}
impl HasRawBytes for Object {}

/// The layout of a runtime-defined object kind.
///
/// Built with struct literal syntax; `..Default::default()` leaves the
/// optional parts out:
///
/// ```
/// # use isogc::ObjectLayout;
/// let plain = ObjectLayout { name: "Pair".into(), tagged_fields: 2, raw_bytes: 0, ..Default::default() };
/// let named = ObjectLayout::new("Node", 2, 8).with_field_names(["left", "right"]);
/// assert_eq!(named.field_names, ["left", "right"]);
/// assert!(plain.field_names.is_empty());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObjectLayout {
    /// A name, for diagnostics (stored in the map as an internalized string).
    pub name: String,
    /// Number of tagged fields (scanned by the collector).
    pub tagged_fields: usize,
    /// Number of raw bytes after the tagged fields (never scanned).
    pub raw_bytes: usize,
    /// Optional names of the tagged fields, for heap snapshots and debug
    /// output (`left`, `right` rather than `0`, `1`): empty, or one name per
    /// tagged field (stored in the map as internalized strings).
    pub field_names: Vec<String>,
}

impl ObjectLayout {
    /// A layout named `name` with `tagged_fields` tagged fields and
    /// `raw_bytes` raw bytes, its fields unnamed.
    pub fn new(name: impl Into<String>, tagged_fields: usize, raw_bytes: usize) -> ObjectLayout {
        ObjectLayout { name: name.into(), tagged_fields, raw_bytes, field_names: Vec::new() }
    }

    /// The same layout with its tagged fields named, in order.
    pub fn with_field_names<S: Into<String>>(mut self, names: impl IntoIterator<Item = S>) -> ObjectLayout {
        self.field_names = names.into_iter().map(Into::into).collect();
        self
    }
}

#[cold]
#[inline(never)]
fn field_names_mismatch(layout: &ObjectLayout) -> ! {
    panic!(
        "isogc: ObjectLayout {:?} names {} fields but has {} tagged fields: give one name per tagged field, or none",
        layout.name,
        layout.field_names.len(),
        layout.tagged_fields
    )
}

/// A scope of local handles on one isolate.
///
/// Handles created through a scope ([`Local`]s) live until the scope is
/// dropped. Open one on an isolate or, nested, on another scope:
///
/// ```
/// # use isogc::*;
/// let platform = Platform::new(1).unwrap();
/// let mut isolate = Isolate::new(&platform, HeapConfig::default()).unwrap();
/// let mut outer = HandleScope::new(&mut isolate);
/// let a = outer.new_fixed_array(2).unwrap();
/// {
///     let mut inner = HandleScope::new(&mut outer);
///     let n = inner.new_number(1.5).unwrap();
///     inner.set(a, 0, n);
/// }
/// assert_eq!(outer.get_number(a, 0), Some(1.5));
/// ```
pub struct HandleScope<'s> {
    isolate: &'s mut Isolate,
    base: usize,
}

impl Drop for HandleScope<'_> {
    fn drop(&mut self) {
        self.isolate.heap.roots.locals.truncate(self.base);
    }
}

impl std::ops::Deref for HandleScope<'_> {
    type Target = Isolate;
    fn deref(&self) -> &Isolate {
        self.isolate
    }
}

#[cold]
#[inline(never)]
fn wrong_isolate(what: &str, handle: u32, scope: u32) -> ! {
    panic!(
        "isogc: a {what} of isolate {handle} was used with isolate {scope}; handles belong to the \
         isolate that created them (pass values between isolates by copying, never by handle)"
    )
}

#[cold]
#[inline(never)]
fn escaped_twice(slot: u32) -> ! {
    panic!(
        "isogc: EscapableHandleScope::escape called twice on one scope (its escape slot #{slot} already \
         holds the first escaped handle); a scope returns exactly one handle to its parent: return \
         several values in a FixedArray, or open one EscapableHandleScope per value"
    )
}

#[cold]
#[inline(never)]
fn escape_into_wrong_scope(slot: u32, slot_isolate: u32, base: usize, isolate: u32) -> ! {
    panic!(
        "isogc: escape into the wrong scope: this EscapableHandleScope's escape slot (#{slot}, \
         isolate {slot_isolate}) is not the slot reserved just below its handles (first handle \
         #{base}, isolate {isolate}); its handle scope was exchanged for another one (std::mem::swap \
         or replace through DerefMut); escape from the scope the slot was reserved for"
    )
}

#[cold]
#[inline(never)]
fn field_of_wrong_kind(expected: &str, index: usize, host: InstanceType, v: Tagged) -> ! {
    let smi = v.smi_value();
    match HandleScope::kind_of(v) {
        Some(found) => panic!(
            "isogc: get_as::<{expected}>: field {index} of a {host:?} holds a {found:?}, not a {expected}; \
             use try_get_as (or get and cast) where the field's kind may vary"
        ),
        None => panic!(
            "isogc: get_as::<{expected}>: field {index} of a {host:?} holds the Smi {smi}, not a {expected}; \
             use try_get_as (or get_smi) where the field may hold a Smi"
        ),
    }
}

#[cold]
#[inline(never)]
fn identity_hash_of_smi(v: i64) -> ! {
    panic!(
        "isogc: identity_hash of the Smi {v}: a Smi is a value, not an object, and has no identity; \
         hash its integer (to_smi) instead, or call try_identity_hash, which returns None for a Smi"
    )
}

#[cold]
#[inline(never)]
fn repoint_constant(index: u32) -> ! {
    panic!(
        "isogc: set_local on the shared handle #{index} of an oddball (undefined, null, true, false or \
         the_hole, as returned by HandleScope::undefined() and friends); those handles are constants of \
         the isolate: copy one into a handle of your own with HandleScope::local and re-point that"
    )
}

#[cold]
#[inline(never)]
fn out_of_range(index: usize, len: usize, ty: InstanceType) -> ! {
    panic!("isogc: index out of bounds: the len is {len} but the index is {index} ({ty:?})")
}

#[cold]
#[inline(never)]
fn wrong_kind(expected: &str, found: InstanceType) -> ! {
    panic!("isogc: expected {expected}, found a {found:?}")
}

/// [`wrong_kind`] for `o`, decoding its type out of line (the hot paths
/// compare the raw type word only).
#[cold]
#[inline(never)]
fn wrong_kind_of(expected: &str, o: HeapObject) -> ! {
    wrong_kind(expected, o.instance_type())
}

/// [`wrong_kind`] for the kind `map` describes, decoded out of line.
#[cold]
#[inline(never)]
fn wrong_layout(expected: &str, map: MapRef) -> ! {
    wrong_kind(expected, map.instance_type())
}

#[cold]
#[inline(never)]
fn not_a_heap_object(smi: i64) -> ! {
    panic!("isogc: expected a heap object, found the Smi {smi}")
}

impl<'s> HandleScope<'s> {
    /// Opens a scope on an isolate or on an enclosing scope.
    pub fn new<P: ScopeParent + ?Sized>(parent: &'s mut P) -> HandleScope<'s> {
        let isolate = parent.isolate_mut();
        isolate.gc.check_usable(isolate.heap.id);
        let base = isolate.heap.roots.locals.len();
        HandleScope { isolate, base }
    }

    #[inline(always)]
    pub(crate) fn push<T>(&mut self, t: Tagged) -> Local<'s, T> {
        let id = self.isolate.heap.id;
        self.push_in(t, id)
    }

    /// [`HandleScope::push`] where the caller has the isolate's id at hand
    /// (a handle it checked): the id need not be loaded again after the
    /// push.
    #[inline(always)]
    fn push_in<T>(&mut self, t: Tagged, isolate: u32) -> Local<'s, T> {
        debug_assert_eq!(isolate, self.isolate.heap.id);
        let handles = &mut self.isolate.heap.roots.locals;
        let index = handles.len();
        handles.push(t);
        Local::new(index as u32, isolate)
    }

    /// The tagged word behind a handle, after checking its isolate.
    #[inline(always)]
    pub(crate) fn resolve<T>(&self, l: Local<'_, T>) -> Tagged {
        let heap = &self.isolate.heap;
        if l.isolate != heap.id {
            wrong_isolate("Local", l.isolate, heap.id);
        }
        heap.roots.locals[l.index as usize]
    }

    #[inline(always)]
    fn object<T>(&self, l: Local<'_, T>) -> HeapObject {
        let t = self.resolve(l);
        if !t.is_heap_object() {
            not_a_heap_object(t.smi_value());
        }
        // SAFETY: handle slots hold live objects of this heap (the collector
        // updates them), and the isolate check above passed.
        unsafe { HeapObject::from_tagged(t) }
    }

    /// The object behind `l`, checked to be of kind `T`.
    #[inline(always)]
    pub(crate) fn typed<T: HeapType>(&self, l: Local<'_, T>) -> (HeapObject, InstanceType) {
        let (o, ty, _) = self.typed_map(l);
        (o, ty)
    }

    /// [`HandleScope::typed`], with the object's map (read once: the map
    /// word is an atomic load the compiler cannot merge with a second one).
    #[inline(always)]
    fn typed_map<T: HeapType>(&self, l: Local<'_, T>) -> (HeapObject, InstanceType, MapRef) {
        let o = self.object(l);
        let map = MapRef(o.map());
        let raw = map.raw_type();
        if !T::matches_raw(raw) {
            wrong_kind_of(T::NAME, o);
        }
        (o, T::type_of_raw(raw), map)
    }

    /// Is `v` a pointer to an object of kind `K`? (A heap-object test and
    /// one comparison of its map's raw type word.)
    #[inline(always)]
    fn is_kind<K: HeapType>(v: Tagged) -> bool {
        // SAFETY: `v` came from a handle or a live object's field, so it is a
        // Smi or points to a live object.
        v.is_heap_object() && K::matches_raw(MapRef(unsafe { HeapObject::from_tagged(v) }.map()).raw_type())
    }

    fn oddball(&self, k: OddballKind) -> Local<'s, Value> {
        Local::new(k as u32, self.isolate.heap.id)
    }

    // ----- Oddballs and Smis ------------------------------------------------

    /// `undefined`.
    pub fn undefined(&self) -> Local<'s, Value> {
        self.oddball(OddballKind::Undefined)
    }
    /// `null`.
    pub fn null(&self) -> Local<'s, Value> {
        self.oddball(OddballKind::Null)
    }
    /// `true` or `false`.
    pub fn boolean(&self, b: bool) -> Local<'s, Value> {
        self.oddball(if b { OddballKind::True } else { OddballKind::False })
    }
    /// `the_hole`, the marker of an absent element.
    pub fn the_hole(&self) -> Local<'s, Value> {
        self.oddball(OddballKind::TheHole)
    }
    /// A handle holding a Smi.
    pub fn smi(&mut self, v: Smi) -> Local<'s, Value> {
        self.push(v.tagged())
    }

    // ----- Allocation -------------------------------------------------------

    /// A new allocation site named `name` (for diagnostics), to pass to
    /// the `_at` allocation calls. See [`AllocationSite`].
    pub fn new_allocation_site(&mut self, name: &str) -> AllocationSite {
        self.isolate.new_allocation_site(name)
    }

    /// `size` bytes for a new object that the runtime would allocate young;
    /// with a site, where the site decides. The caller initialises the
    /// object, with old or immortal values only (`undefined`, Smis, raw
    /// words): an old object must not point young without a barrier.
    #[inline(always)]
    pub(crate) fn allocate_young(
        &mut self,
        size: usize,
        site: Option<&AllocationSite>,
    ) -> Result<HeapObject, AllocError> {
        match site {
            None => self.isolate.allocate(size, Space::Young),
            Some(site) => self.allocate_at_site(size, site),
        }
    }

    /// The site-taking allocation: straight into old space (black while
    /// marking, by the old-space slow path) for a tenured site; otherwise
    /// young with an allocation memento behind the object, if both fit a
    /// regular page object (a young large object takes none).
    #[inline(never)]
    fn allocate_at_site(&mut self, size: usize, site: &AllocationSite) -> Result<HeapObject, AllocError> {
        let heap = &mut self.isolate.heap;
        if site.isolate != heap.id {
            wrong_isolate("AllocationSite", site.isolate, heap.id);
        }
        let memento_fits = size + MEMENTO_BYTES <= MAX_REGULAR_OBJECT_SIZE;
        match heap.sites.on_allocate(site.index, memento_fits) {
            SiteAllocation::Old => return self.isolate.allocate(size, Space::Old),
            SiteAllocation::Young => return self.isolate.allocate(size, Space::Young),
            SiteAllocation::YoungWithMemento => {}
        }
        let o = self.isolate.allocate(size + MEMENTO_BYTES, Space::Young)?;
        // The memento: its map, then the site's index (a raw word). Words
        // `size / WORD` and the next lie inside the block just allocated
        // (`size + MEMENTO_BYTES`), which is all `set_word` needs.
        o.set_word(size / WORD, self.isolate.heap.ro_roots.allocation_memento_map);
        o.set_word(size / WORD + 1, site.index as usize);
        Ok(o)
    }

    /// Accepts `size` (the checked byte size for `length` units of `unit`
    /// bytes after a `header`) if it is at most `MAX_OBJECT_BYTES`; the
    /// error states the exact largest length that would be accepted.
    fn check_size(
        kind: &'static str,
        length: usize,
        size: Option<usize>,
        header: usize,
        unit: usize,
    ) -> Result<usize, AllocError> {
        match size {
            Some(s) if s <= MAX_OBJECT_BYTES => Ok(s),
            _ => Err(AllocError::InvalidLength { kind, length, max: (MAX_OBJECT_BYTES - header) / unit }),
        }
    }

    /// A fixed array of `len` slots, all `undefined`.
    #[inline]
    pub fn new_fixed_array(&mut self, len: usize) -> Result<Local<'s, FixedArray>, AllocError> {
        self.fixed_array(len, None)
    }

    /// [`HandleScope::new_fixed_array`] at allocation site `site`: young with
    /// a memento, or old once the site is tenured.
    pub fn new_fixed_array_at(
        &mut self,
        len: usize,
        site: &AllocationSite,
    ) -> Result<Local<'s, FixedArray>, AllocError> {
        self.fixed_array(len, Some(site))
    }

    #[inline(always)]
    fn fixed_array(&mut self, len: usize, site: Option<&AllocationSite>) -> Result<Local<'s, FixedArray>, AllocError> {
        let size =
            Self::check_size("FixedArray", len, sizes::fixed_array(len), offsets::ARRAY_HEADER_WORDS * WORD, WORD)?;
        let o = self.allocate_young(size, site)?;
        o.set_word(offsets::MAP, self.isolate.heap.ro_roots.fixed_array_map);
        o.set_word(offsets::LENGTH, Tagged::from_smi(len as i64).0);
        let undefined = self.isolate.heap.ro_roots.undefined().0;
        o.init_words(offsets::ARRAY_HEADER_WORDS, offsets::ARRAY_HEADER_WORDS + len, undefined);
        Ok(self.push(o.tagged()))
    }

    /// A byte array of `len` zero bytes.
    #[inline]
    pub fn new_byte_array(&mut self, len: usize) -> Result<Local<'s, ByteArray>, AllocError> {
        let size = Self::check_size("ByteArray", len, sizes::byte_array(len), offsets::ARRAY_HEADER_WORDS * WORD, 1)?;
        let o = self.isolate.allocate(size, Space::Young)?;
        o.set_word(offsets::MAP, self.isolate.heap.ro_roots.byte_array_map);
        o.set_word(offsets::LENGTH, Tagged::from_smi(len as i64).0);
        o.init_words(offsets::ARRAY_HEADER_WORDS, size / WORD, 0);
        Ok(self.push(o.tagged()))
    }

    fn allocate_string(
        &mut self,
        s: &str,
        hash: u64,
        space: Space,
        internalized: bool,
    ) -> Result<HeapObject, AllocError> {
        self.allocate_string_at(s, hash, space, internalized, None)
    }

    fn allocate_string_at(
        &mut self,
        s: &str,
        hash: u64,
        space: Space,
        internalized: bool,
        site: Option<&AllocationSite>,
    ) -> Result<HeapObject, AllocError> {
        let size = Self::check_size("String", s.len(), sizes::string(s.len()), offsets::STRING_HEADER_WORDS * WORD, 1)?;
        let o = match site {
            Some(site) => self.allocate_young(size, Some(site))?,
            None => self.isolate.allocate(size, space)?,
        };
        let map = if internalized {
            self.isolate.heap.ro_roots.internalized_string_map
        } else {
            self.isolate.heap.ro_roots.string_map
        };
        // Zero the last word first (padding after the bytes); for the empty
        // string the last word is the hash, written next.
        o.set_word(size / WORD - 1, 0);
        o.set_word(offsets::MAP, map);
        o.set_word(offsets::LENGTH, Tagged::from_smi(s.len() as i64).0);
        o.set_word(offsets::STRING_HASH, hash as usize);
        o.write_bytes(offsets::STRING_HEADER_WORDS * WORD, s.as_bytes());
        Ok(o)
    }

    /// A new (not internalized) string.
    pub fn new_string(&mut self, s: &str) -> Result<Local<'s, HeapString>, AllocError> {
        let o = self.allocate_string(s, string_hash(s.as_bytes()), Space::Young, false)?;
        Ok(self.push(o.tagged()))
    }

    /// [`HandleScope::new_string`] at allocation site `site` (a runtime's
    /// string-building expression whose results live long, such as a
    /// concatenation stored into pretenured objects: tenured with the site,
    /// it is made old instead of pointing old objects at young strings).
    pub fn new_string_at(&mut self, s: &str, site: &AllocationSite) -> Result<Local<'s, HeapString>, AllocError> {
        let o = self.allocate_string_at(s, string_hash(s.as_bytes()), Space::Young, false, Some(site))?;
        Ok(self.push(o.tagged()))
    }

    /// The internalized string with content `s`: the same object for equal
    /// contents, for as long as any reference to it lives.
    pub fn intern(&mut self, s: &str) -> Result<Local<'s, HeapString>, AllocError> {
        let hash = string_hash(s.as_bytes());
        if let Some(t) = self.isolate.heap.roots.string_table.lookup(hash, s.as_bytes()) {
            return Ok(self.push(t));
        }
        let o = self.allocate_string(s, hash, Space::Old, true)?;
        self.isolate.heap.roots.string_table.insert(hash, o.tagged());
        Ok(self.push(o.tagged()))
    }

    /// A heap number.
    #[inline]
    pub fn new_number(&mut self, v: f64) -> Result<Local<'s, HeapNumber>, AllocError> {
        self.number(v, None)
    }

    /// [`HandleScope::new_number`] at allocation site `site`.
    pub fn new_number_at(&mut self, v: f64, site: &AllocationSite) -> Result<Local<'s, HeapNumber>, AllocError> {
        self.number(v, Some(site))
    }

    #[inline(always)]
    fn number(&mut self, v: f64, site: Option<&AllocationSite>) -> Result<Local<'s, HeapNumber>, AllocError> {
        let o = self.allocate_young(2 * WORD, site)?;
        o.set_word(offsets::MAP, self.isolate.heap.ro_roots.heap_number_map);
        o.set_word(offsets::NUMBER_VALUE, v.to_bits() as usize);
        Ok(self.push(o.tagged()))
    }

    /// A map for runtime objects with `layout`. Maps live in map space and are
    /// never moved; they are collected when nothing refers to them.
    pub fn new_map(&mut self, layout: &ObjectLayout) -> Result<Local<'s, Map>, AllocError> {
        let size = match sizes::object(layout.tagged_fields, layout.raw_bytes).filter(|&s| s <= MAX_OBJECT_BYTES) {
            Some(size) => size,
            // Name the field that does not fit, with its largest value given
            // the other one.
            None if layout.tagged_fields > MAX_OBJECT_BYTES / WORD - 1 => {
                return Err(AllocError::InvalidLength {
                    kind: "Object layout (tagged_fields)",
                    length: layout.tagged_fields,
                    max: MAX_OBJECT_BYTES / WORD - 1,
                })
            }
            None => {
                return Err(AllocError::InvalidLength {
                    kind: "Object layout (raw_bytes)",
                    length: layout.raw_bytes,
                    max: MAX_OBJECT_BYTES - (layout.tagged_fields + 1) * WORD,
                })
            }
        };
        if !layout.field_names.is_empty() && layout.field_names.len() != layout.tagged_fields {
            field_names_mismatch(layout);
        }
        let name = self.intern(&layout.name)?;
        let field_names = if layout.field_names.is_empty() {
            None
        } else {
            let names = self.new_fixed_array(layout.field_names.len())?;
            for (i, n) in layout.field_names.iter().enumerate() {
                let n = self.intern(n)?;
                self.set(names, i, n);
            }
            Some(names)
        };
        let m = self.isolate.allocate(offsets::MAP_WORDS * WORD, Space::Map)?;
        m.set_word(offsets::MAP, self.isolate.heap.ro_roots.meta_map);
        m.set_word(offsets::MAP_TYPE, Tagged::from_smi(InstanceType::Object as i64).0);
        m.set_word(offsets::MAP_INSTANCE_SIZE, Tagged::from_smi(size as i64).0);
        m.set_word(offsets::MAP_TAGGED_FIELDS, Tagged::from_smi(layout.tagged_fields as i64).0);
        m.set_word(offsets::MAP_RAW_BYTES, Tagged::from_smi(layout.raw_bytes as i64).0);
        let name = self.resolve(name);
        m.set_field_release(offsets::MAP_NAME, name);
        write_barrier(&mut self.isolate.gc.barrier_worklist, m, offsets::MAP_NAME, name);
        let field_names = match field_names {
            Some(names) => self.resolve(names),
            None => self.isolate.heap.ro_roots.undefined(),
        };
        m.set_field_release(offsets::MAP_FIELD_NAMES, field_names);
        write_barrier(&mut self.isolate.gc.barrier_worklist, m, offsets::MAP_FIELD_NAMES, field_names);
        Ok(self.push(m.tagged()))
    }

    /// A new object of `map`'s layout: tagged fields `undefined`, raw bytes 0.
    #[inline]
    pub fn new_object(&mut self, map: Local<'_, Map>) -> Result<Local<'s, Object>, AllocError> {
        self.object_of(map, None)
    }

    /// [`HandleScope::new_object`] at allocation site `site`.
    pub fn new_object_at(
        &mut self,
        map: Local<'_, Map>,
        site: &AllocationSite,
    ) -> Result<Local<'s, Object>, AllocError> {
        self.object_of(map, Some(site))
    }

    #[inline(always)]
    fn object_of(
        &mut self,
        map: Local<'_, Map>,
        site: Option<&AllocationSite>,
    ) -> Result<Local<'s, Object>, AllocError> {
        let (m, _) = self.typed(map);
        let layout = MapRef(m);
        if layout.raw_type() != Tagged::from_smi(InstanceType::Object as i64).0 {
            wrong_layout("a map made by new_map", layout);
        }
        let (size, fields) = (layout.instance_size(), layout.tagged_fields());
        // `m` stays valid across a GC in the allocation: maps live on map
        // space's pages, which are never evacuated (`NEVER_EVACUATE`).
        let o = self.allocate_young(size, site)?;
        o.set_word(offsets::MAP, m.address());
        if site.is_some() && !o.page().is_young() {
            // A tenured site's object is old, and born marked while marking
            // runs (black allocation): nothing will scan it, so its map
            // (a map-space object the marker must keep) is shaded here like
            // any other pointer stored into a black object.
            write_barrier(&mut self.isolate.gc.barrier_worklist, o, offsets::MAP, m.tagged());
        }
        let undefined = self.isolate.heap.ro_roots.undefined().0;
        o.init_words(1, 1 + fields, undefined);
        o.init_words(1 + fields, size / WORD, 0);
        Ok(self.push(o.tagged()))
    }

    // ----- Tagged fields ----------------------------------------------------

    /// Word index and bound of field `index` of `o`.
    #[inline(always)]
    fn field_word(o: HeapObject, ty: InstanceType, map: MapRef, index: usize) -> Result<usize, usize> {
        let (first, len) = match ty {
            InstanceType::FixedArray => (offsets::ARRAY_HEADER_WORDS, o.smi_word(offsets::LENGTH)),
            _ => (1, map.tagged_fields()),
        };
        if index < len {
            Ok(first + index)
        } else {
            Err(len)
        }
    }

    /// Field `index` of `obj` (an element of a fixed array, or a tagged field
    /// of an object). Panics if `index` is out of range.
    #[inline]
    pub fn get<T: HasFields>(&mut self, obj: Local<'_, T>, index: usize) -> Local<'s, Value> {
        let (o, ty, m) = self.typed_map(obj);
        match Self::field_word(o, ty, m, index) {
            Ok(w) => self.push_in(o.field(w), obj.isolate),
            Err(len) => out_of_range(index, len, ty),
        }
    }

    /// Field `index` of `obj`, or `None` if out of range.
    #[inline]
    pub fn try_get<T: HasFields>(&mut self, obj: Local<'_, T>, index: usize) -> Option<Local<'s, Value>> {
        let (o, ty, m) = self.typed_map(obj);
        let w = Self::field_word(o, ty, m, index).ok()?;
        Some(self.push_in(o.field(w), obj.isolate))
    }

    /// Stores `value` into field `index` of `obj` (with the write barrier).
    /// Panics if `index` is out of range.
    #[inline]
    pub fn set<T: HasFields>(&mut self, obj: Local<'_, T>, index: usize, value: impl IntoValue) {
        let v = Tagged(value.to_raw(self));
        let (o, ty, m) = self.typed_map(obj);
        match Self::field_word(o, ty, m, index) {
            Ok(w) => {
                o.set_field_release(w, v);
                write_barrier(&mut self.isolate.gc.barrier_worklist, o, w, v);
            }
            Err(len) => out_of_range(index, len, ty),
        }
    }

    /// Stores `value` into field `index` of `obj`; `None` (and no store) if
    /// `index` is out of range.
    #[inline]
    pub fn try_set<T: HasFields>(&mut self, obj: Local<'_, T>, index: usize, value: impl IntoValue) -> Option<()> {
        let v = Tagged(value.to_raw(self));
        let (o, ty, m) = self.typed_map(obj);
        let w = Self::field_word(o, ty, m, index).ok()?;
        o.set_field_release(w, v);
        write_barrier(&mut self.isolate.gc.barrier_worklist, o, w, v);
        Some(())
    }

    /// Field `index` of `obj` as an integer, if it holds a Smi (no handle).
    pub fn get_smi<T: HasFields>(&self, obj: Local<'_, T>, index: usize) -> Option<i64> {
        let (o, ty, m) = self.typed_map(obj);
        let w = Self::field_word(o, ty, m, index).ok()?;
        let v = o.field(w);
        v.is_smi().then(|| v.smi_value())
    }

    /// Field `index` of `obj` as a number, if it holds a Smi or heap number.
    pub fn get_number<T: HasFields>(&self, obj: Local<'_, T>, index: usize) -> Option<f64> {
        let (o, ty, m) = self.typed_map(obj);
        let w = Self::field_word(o, ty, m, index).ok()?;
        Self::number_of(o.field(w))
    }

    fn number_of(v: Tagged) -> Option<f64> {
        if v.is_smi() {
            return Some(v.smi_value() as f64);
        }
        // SAFETY: a field of a live object points to a live object.
        let n = unsafe { HeapObject::from_tagged(v) };
        (n.instance_type() == InstanceType::HeapNumber).then(|| f64::from_bits(n.word(offsets::NUMBER_VALUE) as u64))
    }

    /// Is field `index` of `obj` the very same value as `value` (identity
    /// for heap objects, equality for Smis)?
    pub fn field_is<T: HasFields>(&self, obj: Local<'_, T>, index: usize, value: impl IntoValue) -> bool {
        let v = Tagged(value.to_raw(self));
        let (o, ty, m) = self.typed_map(obj);
        match Self::field_word(o, ty, m, index) {
            Ok(w) => o.field(w) == v,
            Err(len) => out_of_range(index, len, ty),
        }
    }

    // ----- Lengths, bytes, numbers, strings ---------------------------------

    /// Length of an array or string (elements or bytes).
    pub fn length<T: HasLength>(&self, obj: Local<'_, T>) -> usize {
        self.typed(obj).0.smi_word(offsets::LENGTH)
    }

    /// Number of tagged fields of `obj` (its map's or array's length).
    pub fn field_count<T: HasFields>(&self, obj: Local<'_, T>) -> usize {
        let (o, ty, m) = self.typed_map(obj);
        Self::field_word(o, ty, m, usize::MAX).unwrap_err()
    }

    fn raw_area<T: HasRawBytes>(&self, obj: Local<'_, T>) -> (HeapObject, usize, usize) {
        let (o, ty) = self.typed(obj);
        match ty {
            InstanceType::ByteArray => (o, offsets::ARRAY_HEADER_WORDS * WORD, o.smi_word(offsets::LENGTH)),
            _ => {
                let m = MapRef(o.map());
                (o, (1 + m.tagged_fields()) * WORD, m.raw_bytes())
            }
        }
    }

    /// Copies raw bytes `offset..offset + out.len()` of `obj` into `out`.
    /// Panics if the range is out of bounds.
    pub fn read_bytes<T: HasRawBytes>(&self, obj: Local<'_, T>, offset: usize, out: &mut [u8]) {
        let (o, start, len) = self.raw_area(obj);
        match offset.checked_add(out.len()) {
            Some(end) if end <= len => o.read_bytes(start + offset, out),
            _ => panic!("isogc: byte range {offset}..{offset}+{} out of bounds of {len} raw bytes", out.len()),
        }
    }

    /// Writes `data` at raw byte `offset` of `obj`. Panics if out of bounds.
    pub fn write_bytes<T: HasRawBytes>(&mut self, obj: Local<'_, T>, offset: usize, data: &[u8]) {
        let (o, start, len) = self.raw_area(obj);
        match offset.checked_add(data.len()) {
            Some(end) if end <= len => o.write_bytes(start + offset, data),
            _ => panic!("isogc: byte range {offset}..{offset}+{} out of bounds of {len} raw bytes", data.len()),
        }
    }

    /// Number of raw bytes of `obj`.
    pub fn raw_len<T: HasRawBytes>(&self, obj: Local<'_, T>) -> usize {
        self.raw_area(obj).2
    }

    /// The value of a heap number.
    pub fn number_value(&self, n: Local<'_, HeapNumber>) -> f64 {
        f64::from_bits(self.typed(n).0.word(offsets::NUMBER_VALUE) as u64)
    }

    /// The contents of a string.
    pub fn to_rust_string(&self, s: Local<'_, HeapString>) -> String {
        let (o, _) = self.typed(s);
        let len = o.smi_word(offsets::LENGTH);
        let bytes = o.bytes(offsets::STRING_HEADER_WORDS * WORD, len).to_vec();
        String::from_utf8(bytes).expect("isogc strings hold UTF-8")
    }

    /// Is `s` internalized (held by the string table)?
    pub fn is_internalized(&self, s: Local<'_, HeapString>) -> bool {
        self.typed(s).1 == InstanceType::InternalizedString
    }

    // ----- Values -----------------------------------------------------------

    /// The integer of a Smi, or `None` for a heap object.
    pub fn to_smi<T>(&self, v: Local<'_, T>) -> Option<i64> {
        let t = self.resolve(v);
        t.is_smi().then(|| t.smi_value())
    }

    /// The number a value holds (Smi or heap number).
    pub fn to_number<T>(&self, v: Local<'_, T>) -> Option<f64> {
        Self::number_of(self.resolve(v))
    }

    fn is_oddball<T>(&self, v: Local<'_, T>, k: OddballKind) -> bool {
        self.resolve(v) == self.isolate.heap.ro_roots.oddball(k)
    }
    /// Is `v` `undefined`?
    pub fn is_undefined<T>(&self, v: Local<'_, T>) -> bool {
        self.is_oddball(v, OddballKind::Undefined)
    }
    /// Is `v` `null`?
    pub fn is_null<T>(&self, v: Local<'_, T>) -> bool {
        self.is_oddball(v, OddballKind::Null)
    }
    /// Is `v` `true`?
    pub fn is_true<T>(&self, v: Local<'_, T>) -> bool {
        self.is_oddball(v, OddballKind::True)
    }
    /// Is `v` `false`?
    pub fn is_false<T>(&self, v: Local<'_, T>) -> bool {
        self.is_oddball(v, OddballKind::False)
    }
    /// Is `v` `the_hole`?
    pub fn is_the_hole<T>(&self, v: Local<'_, T>) -> bool {
        self.is_oddball(v, OddballKind::TheHole)
    }

    /// Are `a` and `b` the same value (identity for heap objects)?
    pub fn same_value<A, B>(&self, a: Local<'_, A>, b: Local<'_, B>) -> bool {
        self.resolve(a) == self.resolve(b)
    }

    /// The kind of `v`'s object, or `None` for a Smi.
    pub fn instance_type<T>(&self, v: Local<'_, T>) -> Option<InstanceType> {
        let t = self.resolve(v);
        // SAFETY: a handle's heap object is live.
        t.is_heap_object().then(|| unsafe { HeapObject::from_tagged(t) }.instance_type())
    }

    /// `v` as a handle of kind `T`, if its object is one.
    pub fn cast<T: HeapType, U>(&self, v: Local<'s, U>) -> Option<Local<'s, T>> {
        Self::is_kind::<T>(self.resolve(v)).then(|| v.retype())
    }

    /// The map of `v`'s object (`None` for a Smi).
    pub fn map_of<T>(&mut self, v: Local<'_, T>) -> Option<Local<'s, Map>> {
        let t = self.resolve(v);
        if !t.is_heap_object() {
            return None;
        }
        // SAFETY: a handle's heap object is live.
        let m = unsafe { HeapObject::from_tagged(t) }.map();
        Some(self.push(m.tagged()))
    }

    /// The layout a runtime map was made from (`None` for built-in maps).
    pub fn layout(&self, map: Local<'_, Map>) -> Option<ObjectLayout> {
        let m = MapRef(self.typed(map).0);
        if m.instance_type() != InstanceType::Object {
            return None;
        }
        Some(ObjectLayout {
            name: crate::object::map_name(m).expect("a runtime map has a name"),
            tagged_fields: m.tagged_fields(),
            raw_bytes: m.raw_bytes(),
            field_names: (0..m.tagged_fields()).map_while(|i| crate::object::field_name(m, i)).collect(),
        })
    }

    /// The name the layout of `obj`'s map gave its tagged field `index`
    /// (`None` if the layout names no fields, or `obj` is not a runtime
    /// object).
    pub fn field_name<T: HasFields>(&self, obj: Local<'_, T>, index: usize) -> Option<String> {
        let t = self.resolve(obj);
        // SAFETY: a handle's heap object is live.
        crate::object::field_name(MapRef(unsafe { HeapObject::from_tagged(t) }.map()), index)
    }

    /// Is `v` a heap object whose map is `map` (a runtime's "is this an
    /// instance of my type" test)? One comparison of the map word; `false`
    /// for a Smi.
    #[inline]
    pub fn has_map<T>(&self, v: Local<'_, T>, map: Local<'_, Map>) -> bool {
        let t = self.resolve(v);
        let m = self.resolve(map);
        // SAFETY: a handle's heap object is live (and never forwarded
        // outside a pause).
        t.is_heap_object() && unsafe { HeapObject::from_tagged(t) }.map_word() == m.address()
    }

    /// Field `index` of `obj` as a handle of kind `K` (`get` and `cast` in
    /// one step).
    ///
    /// # Panics
    /// If `index` is out of range, or the field holds a value of another
    /// kind (or a Smi): the message names the field, what it holds and what
    /// was expected. [`HandleScope::try_get_as`] returns `None` instead.
    #[inline]
    pub fn get_as<K: HeapType, T: HasFields>(&mut self, obj: Local<'_, T>, index: usize) -> Local<'s, K> {
        let (o, ty, m) = self.typed_map(obj);
        let w = match Self::field_word(o, ty, m, index) {
            Ok(w) => w,
            Err(len) => out_of_range(index, len, ty),
        };
        let v = o.field(w);
        if !Self::is_kind::<K>(v) {
            field_of_wrong_kind(K::NAME, index, ty, v);
        }
        self.push_in(v, obj.isolate)
    }

    /// Field `index` of `obj` as a handle of kind `K`, or `None` (and no
    /// handle made) if `index` is out of range or the field holds another
    /// kind of value.
    #[inline]
    pub fn try_get_as<K: HeapType, T: HasFields>(&mut self, obj: Local<'_, T>, index: usize) -> Option<Local<'s, K>> {
        let (o, ty, m) = self.typed_map(obj);
        let v = o.field(Self::field_word(o, ty, m, index).ok()?);
        Self::is_kind::<K>(v).then(|| self.push_in(v, obj.isolate))
    }

    /// The kind of the object `v` points to, `None` for a Smi.
    #[inline(always)]
    fn kind_of(v: Tagged) -> Option<InstanceType> {
        // SAFETY: `v` came from a live object's field or a handle, so it is
        // a Smi or points to a live object.
        v.is_heap_object().then(|| unsafe { HeapObject::from_tagged(v) }.instance_type())
    }

    // ----- Identity hashes --------------------------------------------------

    /// A hash of `v`'s object identity: the same number for the same object
    /// for as long as it lives, however often the collector moves it, and
    /// unrelated to its contents (equal strings have different identity
    /// hashes; use [`HandleScope::string_hash`] for contents). Different
    /// objects may share a hash. The first call for an object draws its
    /// hash and records it in the isolate's identity-hash table (a weak
    /// side table that the collector updates as objects move and die).
    ///
    /// # Panics
    /// If `v` holds a Smi: a Smi is a value and has no identity (hash its
    /// integer instead). [`HandleScope::try_identity_hash`] returns `None`.
    pub fn identity_hash<T>(&mut self, v: Local<'_, T>) -> u32 {
        match self.try_identity_hash(v) {
            Some(h) => h,
            None => identity_hash_of_smi(self.resolve(v).smi_value()),
        }
    }

    /// [`HandleScope::identity_hash`], or `None` for a Smi.
    pub fn try_identity_hash<T>(&mut self, v: Local<'_, T>) -> Option<u32> {
        let t = self.resolve(v);
        t.is_heap_object().then(|| self.isolate.heap.roots.identity_hashes.get_or_insert(t))
    }

    /// Number of objects that have been given an identity hash and are
    /// still alive (entries of the isolate's identity-hash table).
    pub fn identity_hash_count(&self) -> usize {
        self.isolate.heap.roots.identity_hashes.len()
    }

    // ----- Strings without copying ------------------------------------------

    /// The contents of `s`, borrowed from the heap: no copy. The borrow of
    /// the scope keeps the string in place (nothing that may allocate or
    /// collect can run while it lives).
    #[inline]
    pub fn as_str<'a>(&'a self, s: Local<'_, HeapString>) -> &'a str {
        let (o, _) = self.typed(s);
        let bytes = o.bytes(offsets::STRING_HEADER_WORDS * WORD, o.smi_word(offsets::LENGTH));
        debug_assert!(std::str::from_utf8(bytes).is_ok());
        // A heap string's bytes are copied from a `&str` when it is made
        // (`new_string`, `intern`) and never written afterwards (strings have
        // no raw-byte access). They stay where they are for `'a`: objects
        // move only in GC pauses, which start only from calls that take the
        // scope mutably, and `'a` borrows it.
        // SAFETY: so the bytes are UTF-8 and unmoved for `'a`.
        unsafe { std::str::from_utf8_unchecked(bytes) }
    }

    /// The hash of `s`'s contents, stored in the string when it was made (no
    /// pass over its bytes): [`crate::hash_str`] of its contents, so a
    /// runtime's table can look a heap string and a Rust `&str` up alike.
    #[inline]
    pub fn string_hash(&self, s: Local<'_, HeapString>) -> u64 {
        self.typed(s).0.word(offsets::STRING_HASH) as u64
    }

    /// Do `a` and `b` hold the same contents? Identical or internalized
    /// strings compare in one step, others by hash and length, then bytes.
    pub fn string_equals(&self, a: Local<'_, HeapString>, b: Local<'_, HeapString>) -> bool {
        let ((x, tx), (y, ty)) = (self.typed(a), self.typed(b));
        if x == y {
            return true;
        }
        if tx == InstanceType::InternalizedString && ty == InstanceType::InternalizedString {
            return false; // one internalized string per content
        }
        x.word(offsets::STRING_HASH) == y.word(offsets::STRING_HASH)
            && x.word(offsets::LENGTH) == y.word(offsets::LENGTH)
            && self.as_str(a) == self.as_str(b)
    }

    /// Does `s` hold exactly `other`? Compares lengths, then bytes.
    pub fn string_eq(&self, s: Local<'_, HeapString>, other: &str) -> bool {
        self.as_str(s) == other
    }

    /// Orders `a` and `b` by contents: byte-wise on UTF-8, which is the
    /// order of Unicode code points (Rust's `str` order).
    pub fn string_cmp(&self, a: Local<'_, HeapString>, b: Local<'_, HeapString>) -> std::cmp::Ordering {
        self.as_str(a).cmp(self.as_str(b))
    }

    // ----- Re-pointing handles ----------------------------------------------

    /// A new handle in this scope to `v`'s value: a copy to re-point with
    /// [`HandleScope::set_local`] without changing `v`.
    #[inline]
    pub fn local<T>(&mut self, v: Local<'_, T>) -> Local<'s, T> {
        let t = self.resolve(v);
        self.push_in(t, v.isolate)
    }

    /// Re-points `target` to `value`'s value: every copy of `target` sees
    /// the new value. `target` may belong to this scope or to any enclosing
    /// one that is still open, so loop state kept in an outer handle can be
    /// updated from the loop body's own scope (the value then lives as long
    /// as `target`'s scope): no heap array is needed to carry it.
    ///
    /// # Panics
    /// If either handle belongs to another isolate, or `target` is one of
    /// the isolate's shared oddball handles ([`HandleScope::undefined`] and
    /// friends): copy it with [`HandleScope::local`] first.
    #[inline]
    pub fn set_local<T>(&mut self, target: Local<'_, T>, value: Local<'_, T>) {
        let t = self.resolve(value);
        self.store_local(target, t);
    }

    /// Re-points `target` to the Smi `v` (no handle made).
    ///
    /// # Panics
    /// As [`HandleScope::set_local`].
    #[inline]
    pub fn set_local_smi(&mut self, target: Local<'_, Value>, v: Smi) {
        self.store_local(target, v.tagged());
    }

    #[inline(always)]
    fn store_local<T>(&mut self, target: Local<'_, T>, t: Tagged) {
        let heap = &mut self.isolate.heap;
        if target.isolate != heap.id {
            wrong_isolate("Local", target.isolate, heap.id);
        }
        if (target.index as usize) < heap.ro_roots.oddballs.len() {
            repoint_constant(target.index);
        }
        heap.roots.locals[target.index as usize] = t;
    }

    // ----- Global and weak handles ------------------------------------------

    /// A global handle to `v`'s value.
    pub fn global<T>(&mut self, v: Local<'_, T>) -> Global<T> {
        let t = self.resolve(v);
        let table = self.isolate.heap.roots.globals.clone();
        let index = table.create(t);
        Global::from_table(table, index)
    }

    /// Re-points `g` to `v`'s value (rusty_v8's `Global::set`): the global's
    /// slot is reused, nothing is allocated.
    ///
    /// # Panics
    /// If `g` or `v` belongs to another isolate than this scope's.
    pub fn set_global<T>(&self, g: &mut Global<T>, v: Local<'_, T>) {
        let id = self.isolate.heap.id;
        if g.table.isolate != id {
            wrong_isolate("Global", g.table.isolate, id);
        }
        g.table.set(g.index, self.resolve(v));
    }

    /// A local handle to a global's value.
    pub fn open<T>(&mut self, g: &Global<T>) -> Local<'s, T> {
        let id = self.isolate.heap.id;
        if g.table.isolate != id {
            wrong_isolate("Global", g.table.isolate, id);
        }
        let t = g.table.get(g.index);
        self.push(t)
    }

    /// A weak handle to `v`'s value.
    pub fn weak<T>(&mut self, v: Local<'_, T>) -> Weak<T> {
        let t = self.resolve(v);
        let table = self.isolate.heap.roots.weaks.clone();
        let index = table.create(t);
        Weak::from_table(table, index)
    }

    /// A local handle to a weak handle's target, or `None` once it died.
    pub fn open_weak<T>(&mut self, w: &Weak<T>) -> Option<Local<'s, T>> {
        let id = self.isolate.heap.id;
        if w.table.isolate != id {
            wrong_isolate("Weak", w.table.isolate, id);
        }
        let t = w.table.get(w.index);
        (t != CLEARED).then(|| self.push(t))
    }

    // ----- GC ---------------------------------------------------------------

    /// Runs the collection `request` asks for now (see
    /// [`Isolate::collect_garbage`]).
    pub fn collect_garbage(&mut self, request: GcRequest) {
        self.isolate.collect_garbage(request);
    }

    /// Writes a heap snapshot (see [`Isolate::write_heap_snapshot`]); this
    /// scope's handles (and its parents') are the "(Handle scope)" roots.
    pub fn write_heap_snapshot(&mut self, out: impl std::io::Write) -> std::io::Result<crate::HeapSnapshotInfo> {
        self.isolate.write_heap_snapshot(out)
    }

    /// [`Isolate::write_heap_snapshot_to`]: a snapshot into a new file.
    pub fn write_heap_snapshot_to(
        &mut self,
        path: impl AsRef<std::path::Path>,
    ) -> std::io::Result<crate::HeapSnapshotInfo> {
        self.isolate.write_heap_snapshot_to(path)
    }

    /// Pins `v`'s object where it is, for a runtime that hands its address
    /// out: compaction never moves it. Pinning is per page, as V8's
    /// never-evacuate pages: the other objects on the page stay too, for as
    /// long as the page lives. Returns `false`, pinning nothing, for a Smi or
    /// a young object (scavenges move young objects; pin it once promoted);
    /// `true` for an old object (large and read-only objects never move).
    pub fn pin<T>(&mut self, v: Local<'_, T>) -> bool {
        let t = self.resolve(v);
        if !t.is_heap_object() {
            return false;
        }
        // SAFETY: a handle's heap object is live.
        let page = unsafe { HeapObject::from_tagged(t) }.page();
        if page.is_young() {
            return false;
        }
        // Large and read-only objects never move: nothing to flag.
        if !page.has(flags::LARGE | flags::READ_ONLY) {
            page.set_flags(flags::NEVER_EVACUATE);
        }
        true
    }

    /// Number of local handles this scope holds.
    pub fn handle_count(&self) -> usize {
        self.isolate.heap.roots.locals.len() - self.base
    }
}

/// A [`HandleScope`] that can return one handle to its parent scope:
/// the shape of V8's (and rusty_v8's) `EscapableHandleScope`.
///
/// A helper that opens a scope of its own for its temporaries returns its
/// result with [`EscapableHandleScope::escape`]; everything else it made
/// goes when the scope ends. Opening the scope reserves the escaped handle's
/// slot in the parent, just below the scope's own handles (it holds
/// `the_hole` until the escape), so escaping is a store into that slot: no
/// allocation, and the parent's handle count grows by one however many
/// temporaries the helper made. Everything a [`HandleScope`] does is
/// reachable through `Deref`.
///
/// ```
/// # use isogc::*;
/// /// A two-element list `[head, tail]`, built with temporaries of its own.
/// fn cons<'p>(
///     scope: &mut HandleScope<'p>,
///     head: Smi,
///     tail: Local<'_, Value>,
/// ) -> Result<Local<'p, FixedArray>, AllocError> {
///     let mut s = EscapableHandleScope::new(scope);
///     let cell = s.new_fixed_array(2)?;
///     let boxed = s.new_number(head.value() as f64)?; // a temporary
///     s.set(cell, 0, boxed);
///     s.set(cell, 1, tail);
///     Ok(s.escape(cell))
/// }
///
/// let platform = Platform::new(1).unwrap();
/// let mut isolate = Isolate::new(&platform, HeapConfig::default()).unwrap();
/// let mut scope = HandleScope::new(&mut isolate);
/// let before = scope.handle_count();
/// let nil = scope.null();
/// let list = cons(&mut scope, Smi::from(1), nil).unwrap();
/// let list = cons(&mut scope, Smi::from(2), list.as_value()).unwrap();
/// assert_eq!(scope.handle_count(), before + 2); // one per escape
/// scope.collect_garbage(GcRequest::Major);
/// assert_eq!(scope.get_number(list, 0), Some(2.0));
/// ```
///
/// The compiler keeps escaped handles in their scope: an escaped handle
/// lives as long as the parent's handles, not longer, and a handle made in
/// the escapable scope cannot outlive it un-escaped:
///
/// ```compile_fail,E0621
/// # use isogc::*;
/// fn leak<'p>(scope: &mut HandleScope<'p>) -> Local<'p, FixedArray> {
///     let mut s = EscapableHandleScope::new(scope);
///     s.new_fixed_array(1).unwrap() // not escaped: does not live long enough
/// }
/// ```
///
/// ```compile_fail,E0499
/// # use isogc::*;
/// # let platform = Platform::new(1).unwrap();
/// # let mut isolate = Isolate::new(&platform, HeapConfig::default()).unwrap();
/// let escaped;
/// {
///     let mut parent = HandleScope::new(&mut isolate);
///     let mut s = EscapableHandleScope::new(&mut parent);
///     let a = s.new_fixed_array(1).unwrap();
///     escaped = s.escape(a);
/// } // the parent ends here: its handles with it
/// let mut other = HandleScope::new(&mut isolate);
/// other.length(escaped);
/// ```
///
/// # Panics
/// [`EscapableHandleScope::escape`] panics when called a second time on
/// one scope, with a handle of another isolate, or when the scope's
/// [`HandleScope`] was exchanged for another one (`std::mem::swap` through
/// `DerefMut`), so that the reserved slot is not its parent's any more.
pub struct EscapableHandleScope<'s, 'p> {
    scope: HandleScope<'s>,
    /// The reserved slot in the parent (just below `scope.base`).
    slot: u32,
    /// Has the escape filled the slot?
    escaped: bool,
    /// The isolate of the reserved slot (to catch an exchanged scope).
    slot_isolate: u32,
    /// Escaped handles are the parent's: they live for `'p`.
    _parent: PhantomData<&'p ()>,
}

impl<'s, 'p> EscapableHandleScope<'s, 'p> {
    /// Opens an escapable scope on `parent`, reserving the slot the escaped
    /// handle will take in `parent` (one handle of the parent's, holding
    /// `the_hole` until [`EscapableHandleScope::escape`]).
    #[inline]
    pub fn new(parent: &'s mut HandleScope<'p>) -> EscapableHandleScope<'s, 'p> {
        let isolate: &'s mut Isolate = &mut *parent.isolate;
        isolate.gc.check_usable(isolate.heap.id);
        let hole = isolate.heap.ro_roots.oddball(OddballKind::TheHole);
        let handles = &mut isolate.heap.roots.locals;
        let slot = handles.len();
        handles.push(hole);
        let slot_isolate = isolate.heap.id;
        // The scope's own handles start above the reserved slot, so its drop
        // (truncating to `base`) keeps the slot: the parent's drop pops it.
        EscapableHandleScope {
            scope: HandleScope { isolate, base: slot + 1 },
            slot: slot as u32,
            escaped: false,
            slot_isolate,
            _parent: PhantomData,
        }
    }

    /// Returns `value` to the parent scope: its value is stored into the
    /// slot reserved when this scope opened, and the returned handle (the
    /// parent's) stays valid after this scope ends. Call it once per scope;
    /// this scope stays usable afterwards.
    ///
    /// # Panics
    /// If called a second time on this scope, if `value` belongs to another
    /// isolate, or if this scope's [`HandleScope`] was exchanged for another
    /// one (see the type's docs). The isolate stays usable.
    #[inline]
    pub fn escape<T>(&mut self, value: Local<'_, T>) -> Local<'p, T> {
        let slot = self.slot;
        if self.escaped {
            escaped_twice(slot);
        }
        let heap = &self.scope.isolate.heap;
        if heap.id != self.slot_isolate || self.scope.base != slot as usize + 1 {
            escape_into_wrong_scope(slot, self.slot_isolate, self.scope.base, heap.id);
        }
        let t = self.scope.resolve(value);
        self.escaped = true;
        self.scope.isolate.heap.roots.locals[slot as usize] = t;
        Local::new(slot, self.slot_isolate)
    }

    /// Has [`EscapableHandleScope::escape`] been called on this scope?
    pub fn has_escaped(&self) -> bool {
        self.escaped
    }
}

impl<'s> std::ops::Deref for EscapableHandleScope<'s, '_> {
    type Target = HandleScope<'s>;
    fn deref(&self) -> &HandleScope<'s> {
        &self.scope
    }
}

impl<'s> std::ops::DerefMut for EscapableHandleScope<'s, '_> {
    fn deref_mut(&mut self) -> &mut HandleScope<'s> {
        &mut self.scope
    }
}

impl std::fmt::Debug for EscapableHandleScope<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EscapableHandleScope")
            .field("isolate", &self.slot_isolate)
            .field("escaped", &self.has_escaped())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agrees<K: HeapType>(all: &[InstanceType]) {
        for &t in all {
            let raw = Tagged::from_smi(t as i64).0;
            assert_eq!(K::matches_raw(raw), K::matches(t), "{} vs {t:?}", K::NAME);
            if K::matches(t) {
                assert_eq!(K::type_of_raw(raw), t);
            }
        }
        // Odd words (never a Smi type word) and neighbours never match.
        for raw in [0, 1, usize::MAX, Tagged::from_smi(K::LAST as i64 + 1).0] {
            assert!(!K::matches_raw(raw), "{} raw {raw:#x}", K::NAME);
        }
    }

    #[test]
    fn the_raw_kind_check_agrees_with_the_decoded_one() {
        use InstanceType::*;
        let all = [
            Map,
            Oddball,
            FixedArray,
            ByteArray,
            String,
            InternalizedString,
            HeapNumber,
            Object,
            FreeSpace,
            Filler,
            EphemeronTable,
            WeakRef,
            FinalizationRegistry,
        ];
        agrees::<super::FixedArray>(&all);
        agrees::<super::ByteArray>(&all);
        agrees::<super::HeapString>(&all);
        agrees::<super::HeapNumber>(&all);
        agrees::<super::Map>(&all);
        agrees::<super::Object>(&all);
        agrees::<super::EphemeronTable>(&all);
        agrees::<super::WeakRef>(&all);
        agrees::<super::FinalizationRegistry>(&all);
        assert!(super::HeapString::matches(String) && super::HeapString::matches(InternalizedString));
        assert!(!super::HeapString::matches(HeapNumber) && !super::HeapString::matches(ByteArray));
    }
}

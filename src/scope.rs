//! [`HandleScope`]: where a runtime allocates, reads and writes heap objects.
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
use crate::heap::allocation_site::{AllocationSite, MEMENTO_BYTES};
use crate::heap::page::flags;
use crate::heap::read_only::OddballKind;
use crate::heap::{Space, MAX_OBJECT_BYTES, MAX_REGULAR_OBJECT_SIZE, WORD};
use crate::isolate::Isolate;
use crate::object::{offsets, sizes, string_hash, HeapObject, InstanceType, MapRef};
use crate::value::{Smi, Tagged};

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

/// Handle types that name a kind of heap object, for [`HandleScope::cast`].
pub trait HeapType: private::Sealed {
    #[doc(hidden)]
    fn matches(t: InstanceType) -> bool;
}
/// Kinds with tagged fields, indexable with [`HandleScope::get`].
pub trait HasFields: HeapType {}
/// Kinds with a length word.
pub trait HasLength: HeapType {}
/// Kinds with raw bytes that the runtime may read and write.
pub trait HasRawBytes: HeapType {}

macro_rules! heap_type {
    ($t:ty, $($it:ident)|+) => {
        impl private::Sealed for $t {}
        impl HeapType for $t {
            fn matches(t: InstanceType) -> bool {
                matches!(t, $(InstanceType::$it)|+)
            }
        }
    };
}
heap_type!(FixedArray, FixedArray);
heap_type!(ByteArray, ByteArray);
heap_type!(HeapString, String | InternalizedString);
heap_type!(HeapNumber, HeapNumber);
heap_type!(Map, Map);
heap_type!(Object, Object);
impl HasFields for FixedArray {}
impl HasFields for Object {}
impl HasLength for FixedArray {}
impl HasLength for ByteArray {}
impl HasLength for HeapString {}
impl HasRawBytes for ByteArray {}
impl HasRawBytes for Object {}

/// The layout of a runtime-defined object kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectLayout {
    /// A name, for diagnostics (stored in the map as an internalized string).
    pub name: String,
    /// Number of tagged fields (scanned by the collector).
    pub tagged_fields: usize,
    /// Number of raw bytes after the tagged fields (never scanned).
    pub raw_bytes: usize,
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
fn out_of_range(index: usize, len: usize, ty: InstanceType) -> ! {
    panic!("isogc: index out of bounds: the len is {len} but the index is {index} ({ty:?})")
}

#[cold]
#[inline(never)]
fn wrong_kind(expected: &str, found: InstanceType) -> ! {
    panic!("isogc: expected {expected}, found a {found:?}")
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
    fn push<T>(&mut self, t: Tagged) -> Local<'s, T> {
        let handles = &mut self.isolate.heap.roots.locals;
        let index = handles.len();
        handles.push(t);
        Local::new(index as u32, self.isolate.heap.id)
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
            panic!("isogc: expected a heap object, found the Smi {}", t.smi_value());
        }
        // SAFETY: handle slots hold live objects of this heap (the collector
        // updates them), and the isolate check above passed.
        unsafe { HeapObject::from_tagged(t) }
    }

    /// The object behind `l`, checked to be of kind `T`.
    #[inline(always)]
    fn typed<T: HeapType>(&self, l: Local<'_, T>) -> (HeapObject, InstanceType) {
        let o = self.object(l);
        let t = o.instance_type();
        if !T::matches(t) {
            wrong_kind(std::any::type_name::<T>(), t);
        }
        (o, t)
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
    fn allocate_young(&mut self, size: usize, site: Option<&AllocationSite>) -> Result<HeapObject, AllocError> {
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
        let with_memento = size + MEMENTO_BYTES <= MAX_REGULAR_OBJECT_SIZE;
        if heap.sites.on_allocate(site.index, with_memento) {
            return self.isolate.allocate(size, Space::Old);
        }
        if !with_memento {
            return self.isolate.allocate(size, Space::Young);
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
        for i in 0..len {
            o.set_word(offsets::ARRAY_HEADER_WORDS + i, undefined);
        }
        Ok(self.push(o.tagged()))
    }

    /// A byte array of `len` zero bytes.
    pub fn new_byte_array(&mut self, len: usize) -> Result<Local<'s, ByteArray>, AllocError> {
        let size = Self::check_size("ByteArray", len, sizes::byte_array(len), offsets::ARRAY_HEADER_WORDS * WORD, 1)?;
        let o = self.isolate.allocate(size, Space::Young)?;
        o.set_word(offsets::MAP, self.isolate.heap.ro_roots.byte_array_map);
        o.set_word(offsets::LENGTH, Tagged::from_smi(len as i64).0);
        for i in offsets::ARRAY_HEADER_WORDS..size / WORD {
            o.set_word(i, 0);
        }
        Ok(self.push(o.tagged()))
    }

    fn allocate_string(
        &mut self,
        s: &str,
        hash: u64,
        space: Space,
        internalized: bool,
    ) -> Result<HeapObject, AllocError> {
        let size = Self::check_size("String", s.len(), sizes::string(s.len()), offsets::STRING_HEADER_WORDS * WORD, 1)?;
        let o = self.isolate.allocate(size, space)?;
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
        let name = self.intern(&layout.name)?;
        let m = self.isolate.allocate(offsets::MAP_WORDS * WORD, Space::Map)?;
        m.set_word(offsets::MAP, self.isolate.heap.ro_roots.meta_map);
        m.set_word(offsets::MAP_TYPE, Tagged::from_smi(InstanceType::Object as i64).0);
        m.set_word(offsets::MAP_INSTANCE_SIZE, Tagged::from_smi(size as i64).0);
        m.set_word(offsets::MAP_TAGGED_FIELDS, Tagged::from_smi(layout.tagged_fields as i64).0);
        m.set_word(offsets::MAP_RAW_BYTES, Tagged::from_smi(layout.raw_bytes as i64).0);
        let name = self.resolve(name);
        m.set_field_release(offsets::MAP_NAME, name);
        write_barrier(&mut self.isolate.gc.barrier_worklist, m, offsets::MAP_NAME, name);
        Ok(self.push(m.tagged()))
    }

    /// A new object of `map`'s layout: tagged fields `undefined`, raw bytes 0.
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
        if layout.instance_type() != InstanceType::Object {
            wrong_kind("a map made by new_map", layout.instance_type());
        }
        let (size, fields) = (layout.instance_size(), layout.tagged_fields());
        let o = self.allocate_young(size, site)?;
        // Maps never move, but read it again after the allocation anyway.
        let m = self.object(map);
        o.set_word(offsets::MAP, m.address());
        if site.is_some() && !o.page().is_young() {
            // A tenured site's object is old, and born marked while marking
            // runs (black allocation): nothing will scan it, so its map
            // (a map-space object the marker must keep) is shaded here like
            // any other pointer stored into a black object.
            write_barrier(&mut self.isolate.gc.barrier_worklist, o, offsets::MAP, m.tagged());
        }
        let undefined = self.isolate.heap.ro_roots.undefined().0;
        for i in 1..=fields {
            o.set_word(i, undefined);
        }
        for i in 1 + fields..size / WORD {
            o.set_word(i, 0);
        }
        Ok(self.push(o.tagged()))
    }

    // ----- Tagged fields ----------------------------------------------------

    /// Word index and bound of field `index` of `o`.
    #[inline(always)]
    fn field_word(o: HeapObject, ty: InstanceType, index: usize) -> Result<usize, usize> {
        let (first, len) = match ty {
            InstanceType::FixedArray => (offsets::ARRAY_HEADER_WORDS, o.smi_word(offsets::LENGTH)),
            _ => (1, MapRef(o.map()).tagged_fields()),
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
        match self.try_get(obj, index) {
            Some(v) => v,
            None => {
                let (o, ty) = self.typed(obj);
                out_of_range(index, Self::field_word(o, ty, index).unwrap_err(), ty)
            }
        }
    }

    /// Field `index` of `obj`, or `None` if out of range.
    #[inline]
    pub fn try_get<T: HasFields>(&mut self, obj: Local<'_, T>, index: usize) -> Option<Local<'s, Value>> {
        let (o, ty) = self.typed(obj);
        let w = Self::field_word(o, ty, index).ok()?;
        Some(self.push(o.field(w)))
    }

    /// Stores `value` into field `index` of `obj` (with the write barrier).
    /// Panics if `index` is out of range.
    #[inline]
    pub fn set<T: HasFields>(&mut self, obj: Local<'_, T>, index: usize, value: impl IntoValue) {
        if self.try_set(obj, index, value).is_none() {
            let (o, ty) = self.typed(obj);
            out_of_range(index, Self::field_word(o, ty, index).unwrap_err(), ty)
        }
    }

    /// Stores `value` into field `index` of `obj`; `None` (and no store) if
    /// `index` is out of range.
    #[inline]
    pub fn try_set<T: HasFields>(&mut self, obj: Local<'_, T>, index: usize, value: impl IntoValue) -> Option<()> {
        let v = Tagged(value.to_raw(self));
        let (o, ty) = self.typed(obj);
        let w = Self::field_word(o, ty, index).ok()?;
        o.set_field_release(w, v);
        write_barrier(&mut self.isolate.gc.barrier_worklist, o, w, v);
        Some(())
    }

    /// Field `index` of `obj` as an integer, if it holds a Smi (no handle).
    pub fn get_smi<T: HasFields>(&self, obj: Local<'_, T>, index: usize) -> Option<i64> {
        let (o, ty) = self.typed(obj);
        let w = Self::field_word(o, ty, index).ok()?;
        let v = o.field(w);
        v.is_smi().then(|| v.smi_value())
    }

    /// Field `index` of `obj` as a number, if it holds a Smi or heap number.
    pub fn get_number<T: HasFields>(&self, obj: Local<'_, T>, index: usize) -> Option<f64> {
        let (o, ty) = self.typed(obj);
        let w = Self::field_word(o, ty, index).ok()?;
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
        let (o, ty) = self.typed(obj);
        match Self::field_word(o, ty, index) {
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
        let (o, ty) = self.typed(obj);
        Self::field_word(o, ty, usize::MAX).unwrap_err()
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
        self.instance_type(v).filter(|&t| T::matches(t)).map(|_| v.retype())
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
        let name = m.0.field(offsets::MAP_NAME);
        // SAFETY: a runtime map's name is a live internalized string.
        let n = unsafe { HeapObject::from_tagged(name) };
        let bytes = n.bytes(offsets::STRING_HEADER_WORDS * WORD, n.smi_word(offsets::LENGTH)).to_vec();
        Some(ObjectLayout {
            name: String::from_utf8(bytes).expect("UTF-8"),
            tagged_fields: m.tagged_fields(),
            raw_bytes: m.raw_bytes(),
        })
    }

    // ----- Global and weak handles ------------------------------------------

    /// A global handle to `v`'s value.
    pub fn global<T>(&mut self, v: Local<'_, T>) -> Global<T> {
        let t = self.resolve(v);
        let table = self.isolate.heap.roots.globals.clone();
        let index = table.create(t);
        Global::from_table(table, index)
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

//! The tree-walking evaluator. Every JavaScript value it touches is an isogc
//! value held by a handle: Smis and heap numbers, oddballs, heap strings, and
//! objects (isogc `Object`s whose field 0 names their hidden class). Nothing
//! holds a raw pointer across an allocation; the collector may move any
//! object at any allocation.

use crate::number;
use crate::{position, Error};
use isogc::{
    AllocError, AllocationSite, EscapableHandleScope, FixedArray, Global, HandleScope, HeapString, InstanceType, Local,
    Map, Object, ObjectLayout, Smi, Value, Weak,
};
use oxc_ast::ast::*;
use oxc_span::{GetSpan, Span};
use oxc_syntax::operator::{AssignmentOperator, BinaryOperator, LogicalOperator, UnaryOperator, UpdateOperator};
use std::cell::Cell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::io::Write;
use std::rc::Rc;
use std::time::Instant;

mod weak;

/// A value handle.
pub type V<'s> = Local<'s, Value>;

/// An FxHash-style hasher for the interpreter's small integer and short
/// string keys.
#[derive(Default)]
pub struct Fx(u64);
impl Hasher for Fx {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(5) ^ b as u64).wrapping_mul(0x517c_c1b7_2722_0a95);
        }
    }
    fn write_usize(&mut self, n: usize) {
        self.0 = (self.0.rotate_left(5) ^ n as u64).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
    fn write_u32(&mut self, n: u32) {
        self.write_usize(n as usize);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}
type FxMap<K, T> = HashMap<K, T, BuildHasherDefault<Fx>>;

/// An interned property name: an index into the interpreter's atom table,
/// whose entries are internalized isogc strings.
type Atom = u32;

/// The kind of a JS object, recorded in its hidden class.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Kind {
    Plain,
    Array,
    F64Array,
    Function,
    Builtin,
    /// `new WeakMap()`: `INT_A` holds its isogc ephemeron table.
    WeakMap,
    /// `new WeakSet()`: `INT_A` holds an ephemeron table whose values are `true`.
    WeakSet,
    /// `new WeakRef(target)`: `INT_A` holds an isogc `WeakRef`.
    WeakRef,
    /// `new FinalizationRegistry(cb)`: `INT_A` holds the isogc registry,
    /// `INT_B` the cleanup callback.
    FinReg,
}

impl Kind {
    /// Tagged fields before the in-object property slots.
    fn header(self) -> usize {
        match self {
            Kind::Plain => 3,
            Kind::Function => 6,
            _ => 5,
        }
    }
}

// Object fields (all kinds).
const SHAPE: usize = 0;
const PROTO: usize = 1;
const OVERFLOW: usize = 2;
// Internal fields of the exotic kinds.
const INT_A: usize = 3; // array/f64 length; function id; builtin id
const INT_B: usize = 4; // array elements; f64 bytes; function context
const INT_C: usize = 5; // an arrow function's captured `this`

/// A hidden class: the object's kind and the order of its property names,
/// with transitions to the shapes one property longer.
struct Shape {
    kind: Kind,
    keys: Vec<Atom>,
    transitions: FxMap<Atom, u32>,
}

/// How an identifier resolves (statically, per reference).
#[derive(Clone, Copy)]
enum Res {
    Local { depth: u32, slot: u32 },
    Global(Atom),
}

enum Body<'a> {
    Stmts(&'a [Statement<'a>]),
    Expr(&'a Expression<'a>),
}

/// What the interpreter knows of one function literal.
struct FuncInfo<'a> {
    parent: Option<u32>,
    params: Vec<u32>,
    slots: FxMap<Atom, u32>,
    nslots: usize,
    body: Body<'a>,
    hoisted: Vec<(u32, &'a Function<'a>)>,
    is_arrow: bool,
    /// In-object slots for objects this function constructs (slack
    /// tracking, simplified: the property count of the last instance).
    ctor_slots: Cell<usize>,
}

/// How a statement completed.
enum Completion {
    Normal,
    Return,
    Break,
    Continue,
}

/// A non-local exit: a JS exception (the value is in
/// [`Interp::exception`]) or a fatal error.
pub enum Exc {
    Throw,
    Fatal(Error),
}

impl From<AllocError> for Exc {
    fn from(e: AllocError) -> Exc {
        Exc::Fatal(Error::OutOfMemory(e.to_string()))
    }
}

type R<T> = Result<T, Exc>;

/// One activation's state.
struct Frame<'f> {
    ctx: Local<'f, FixedArray>,
    this: V<'f>,
    func: u32,
    ret: V<'f>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u32)]
enum Builtin {
    ConsoleLog,
    MathMax,
    MathMin,
    MathFloor,
    MathCeil,
    MathSqrt,
    MathTrunc,
    MathAbs,
    MathPow,
    PerfNow,
    DateNow,
    ParseInt,
    StringCtor,
    NumberCtor,
    ErrorCtor,
    RangeErrorCtor,
    TypeErrorCtor,
    ArrayCtor,
    Float64ArrayCtor,
    ArrayPush,
    ArrayPop,
    ArrayFill,
    ArrayJoin,
    NumToFixed,
    MemoryUsage,
    Require,
    WriteFileSync,
    Gc,
    // The builtins of interp/weak.rs: keep them last (`Builtin::is_weak`).
    WeakMapCtor,
    WeakMapSet,
    WeakMapGet,
    WeakMapHas,
    WeakMapDelete,
    WeakSetCtor,
    WeakSetAdd,
    WeakSetHas,
    WeakSetDelete,
    WeakRefCtor,
    WeakRefDeref,
    FinRegCtor,
    FinRegRegister,
    FinRegUnregister,
    SetTimeout,
    ClearTimeout,
}

const BUILTINS: &[Builtin] = &[
    Builtin::ConsoleLog,
    Builtin::MathMax,
    Builtin::MathMin,
    Builtin::MathFloor,
    Builtin::MathCeil,
    Builtin::MathSqrt,
    Builtin::MathTrunc,
    Builtin::MathAbs,
    Builtin::MathPow,
    Builtin::PerfNow,
    Builtin::DateNow,
    Builtin::ParseInt,
    Builtin::StringCtor,
    Builtin::NumberCtor,
    Builtin::ErrorCtor,
    Builtin::RangeErrorCtor,
    Builtin::TypeErrorCtor,
    Builtin::ArrayCtor,
    Builtin::Float64ArrayCtor,
    Builtin::ArrayPush,
    Builtin::ArrayPop,
    Builtin::ArrayFill,
    Builtin::ArrayJoin,
    Builtin::NumToFixed,
    Builtin::MemoryUsage,
    Builtin::Require,
    Builtin::WriteFileSync,
    Builtin::Gc,
    Builtin::WeakMapCtor,
    Builtin::WeakMapSet,
    Builtin::WeakMapGet,
    Builtin::WeakMapHas,
    Builtin::WeakMapDelete,
    Builtin::WeakSetCtor,
    Builtin::WeakSetAdd,
    Builtin::WeakSetHas,
    Builtin::WeakSetDelete,
    Builtin::WeakRefCtor,
    Builtin::WeakRefDeref,
    Builtin::FinRegCtor,
    Builtin::FinRegRegister,
    Builtin::FinRegUnregister,
    Builtin::SetTimeout,
    Builtin::ClearTimeout,
];

/// A `setTimeout` callback waiting for its turn: tasks run after the
/// script, in order of their due time on a virtual clock (no real waiting),
/// then of their creation. Its function and arguments are strong roots.
struct Task {
    due: f64,
    seq: u64,
    callback: Global<Value>,
    args: Vec<Global<Value>>,
}

/// The deepest JS call nesting before a `RangeError` (node's default
/// stack allows about 11,000 frames of a small function).
pub const MAX_CALL_DEPTH: usize = 10_000;

/// The interpreter: the Rust-side tables (function literals, hidden
/// classes, atoms) and the global handles of its heap-side roots.
pub struct Interp<'a> {
    source: &'a str,
    funcs: Vec<Rc<FuncInfo<'a>>>,
    func_ids: FxMap<usize, u32>,
    resolutions: FxMap<usize, Res>,
    sites: FxMap<usize, AllocationSite>,
    atoms: FxMap<String, Atom>,
    name_atoms: FxMap<usize, Atom>,
    atom_strings: Vec<Global<HeapString>>,
    shapes: Vec<Shape>,
    roots: FxMap<Kind, u32>,
    maps: FxMap<(Kind, usize), Global<Map>>,
    global_obj: Option<Global<Value>>,
    object_proto: Option<Global<Value>>,
    array_proto: Option<Global<Value>>,
    number_proto: Option<Global<Value>>,
    string_proto: Option<Global<Value>>,
    function_proto: Option<Global<Value>>,
    error_protos: Vec<Global<Value>>,
    weak_map_proto: Option<Global<Value>>,
    weak_set_proto: Option<Global<Value>>,
    weak_ref_proto: Option<Global<Value>>,
    fin_reg_proto: Option<Global<Value>>,
    /// The targets of WeakRefs created or dereferenced in the current job,
    /// kept alive until it ends (the spec's KeepDuringJob set).
    kept: Vec<Global<Value>>,
    /// `kept`'s entries by identity hash, so a target is kept once.
    kept_index: FxMap<u32, Vec<usize>>,
    /// `gc_counts()` when the registries' queues were last drained: no GC
    /// since, nothing new to deliver.
    drained_at: (u64, u64),
    /// Every `FinalizationRegistry` made, held weakly: at the end of each
    /// job the live ones get their queued held values delivered.
    registries: Vec<Weak<Value>>,
    /// `setTimeout` tasks not yet run.
    tasks: Vec<Task>,
    task_seq: u64,
    /// The virtual clock of the tasks, in ms.
    task_now: f64,
    exception: Option<Global<Value>>,
    depth: usize,
    start: Instant,
    argv: Vec<String>,
    out: &'a mut dyn Write,
    a_length: Atom,
    a_prototype: Atom,
    a_message: Atom,
    a_name: Atom,
}

/// A Smi if `v` is a small integer (V8's 32-bit Smi range on 64-bit
/// targets; -0 is not one), otherwise a heap number.
fn num<'s>(s: &mut HandleScope<'s>, v: f64) -> R<V<'s>> {
    if v.fract() == 0.0 && v >= i32::MIN as f64 && v <= i32::MAX as f64 && !(v == 0.0 && v.is_sign_negative()) {
        return Ok(s.smi(Smi::new(v as i64).expect("an i32 is a Smi")));
    }
    Ok(s.new_number(v)?.as_value())
}

fn int<'s>(s: &mut HandleScope<'s>, v: i64) -> R<V<'s>> {
    if v >= i32::MIN as i64 && v <= i32::MAX as i64 {
        return Ok(s.smi(Smi::new(v).expect("an i32 is a Smi")));
    }
    Ok(s.new_number(v as f64)?.as_value())
}

fn to_int32(x: f64) -> i32 {
    if !x.is_finite() {
        return 0;
    }
    (x.trunc().rem_euclid(4294967296.0) as u32) as i32
}

impl<'a> Interp<'a> {
    /// A new interpreter over `program`'s source, with `argv` as
    /// `process.argv`, printing to `out`.
    pub fn new(source: &'a str, argv: Vec<String>, out: &'a mut dyn Write) -> Interp<'a> {
        Interp {
            source,
            funcs: Vec::new(),
            func_ids: FxMap::default(),
            resolutions: FxMap::default(),
            sites: FxMap::default(),
            atoms: FxMap::default(),
            name_atoms: FxMap::default(),
            atom_strings: Vec::new(),
            shapes: Vec::new(),
            roots: FxMap::default(),
            maps: FxMap::default(),
            global_obj: None,
            object_proto: None,
            array_proto: None,
            number_proto: None,
            string_proto: None,
            function_proto: None,
            error_protos: Vec::new(),
            weak_map_proto: None,
            weak_set_proto: None,
            weak_ref_proto: None,
            fin_reg_proto: None,
            kept: Vec::new(),
            kept_index: FxMap::default(),
            drained_at: (0, 0),
            registries: Vec::new(),
            tasks: Vec::new(),
            task_seq: 0,
            task_now: 0.0,
            exception: None,
            depth: 0,
            start: Instant::now(),
            argv,
            out,
            a_length: 0,
            a_prototype: 0,
            a_message: 0,
            a_name: 0,
        }
    }

    fn unsupported(&self, span: Span, what: &str) -> Exc {
        Exc::Fatal(Error::Unsupported { what: what.to_string(), at: position(self.source, span.start as usize) })
    }

    // ----- Atoms, shapes, maps ----------------------------------------------

    fn atom<'s>(&mut self, s: &mut HandleScope<'s>, name: &str) -> R<Atom> {
        if let Some(&a) = self.atoms.get(name) {
            return Ok(a);
        }
        let h = s.intern(name)?;
        let g = s.global(h);
        let a = self.atom_strings.len() as Atom;
        self.atom_strings.push(g);
        self.atoms.insert(name.to_string(), a);
        Ok(a)
    }

    /// The atom of a property name in the source, cached by its node.
    fn name_atom(&mut self, s: &mut HandleScope<'_>, name: &'a IdentifierName<'a>) -> R<Atom> {
        self.atom_at(s, name as *const _ as usize, name.name.as_str())
    }

    fn atom_at(&mut self, s: &mut HandleScope<'_>, addr: usize, name: &str) -> R<Atom> {
        if let Some(&a) = self.name_atoms.get(&addr) {
            return Ok(a);
        }
        let a = self.atom(s, name)?;
        self.name_atoms.insert(addr, a);
        Ok(a)
    }

    fn atom_name(&self, a: Atom) -> String {
        self.atoms.iter().find(|(_, &v)| v == a).map(|(k, _)| k.clone()).unwrap_or_default()
    }

    fn root_shape(&mut self, kind: Kind) -> u32 {
        if let Some(&id) = self.roots.get(&kind) {
            return id;
        }
        let id = self.shapes.len() as u32;
        self.shapes.push(Shape { kind, keys: Vec::new(), transitions: FxMap::default() });
        self.roots.insert(kind, id);
        id
    }

    fn transition(&mut self, from: u32, key: Atom) -> u32 {
        if let Some(&to) = self.shapes[from as usize].transitions.get(&key) {
            return to;
        }
        let mut keys = self.shapes[from as usize].keys.clone();
        keys.push(key);
        let kind = self.shapes[from as usize].kind;
        let id = self.shapes.len() as u32;
        self.shapes.push(Shape { kind, keys, transitions: FxMap::default() });
        self.shapes[from as usize].transitions.insert(key, id);
        id
    }

    fn map<'s>(&mut self, s: &mut HandleScope<'s>, kind: Kind, cap: usize) -> R<Local<'s, Map>> {
        if let Some(g) = self.maps.get(&(kind, cap)) {
            return Ok(s.open(g));
        }
        let m = s.new_map(&ObjectLayout {
            name: format!("JS{kind:?}{cap}"),
            tagged_fields: kind.header() + cap,
            raw_bytes: 0,
            ..Default::default()
        })?;
        let g = s.global(m);
        self.maps.insert((kind, cap), g);
        Ok(m)
    }

    fn new_obj<'s>(
        &mut self,
        s: &mut HandleScope<'s>,
        kind: Kind,
        cap: usize,
        proto: V<'s>,
        site: Option<AllocationSite>,
    ) -> R<Local<'s, Object>> {
        let m = self.map(s, kind, cap)?;
        let o = match site {
            Some(site) => s.new_object_at(m, &site)?,
            None => s.new_object(m)?,
        };
        let shape = self.root_shape(kind);
        s.set(o, SHAPE, Smi::from(shape as i32));
        s.set(o, PROTO, proto);
        Ok(o)
    }

    fn site<'s>(&mut self, s: &mut HandleScope<'s>, addr: usize, span: Span, what: &str) -> AllocationSite {
        if let Some(&site) = self.sites.get(&addr) {
            return site;
        }
        let pos = position(self.source, span.start as usize);
        let site = s.new_allocation_site(&format!("{what} at {}:{}", pos.line, pos.column));
        self.sites.insert(addr, site);
        site
    }

    fn proto<'s>(&self, s: &mut HandleScope<'s>, g: &Option<Global<Value>>) -> V<'s> {
        match g {
            Some(g) => s.open(g),
            None => s.null(),
        }
    }

    fn shape_of<'s>(&self, s: &HandleScope<'s>, o: Local<'s, Object>) -> u32 {
        s.get_smi(o, SHAPE).expect("a JS object's field 0 is its shape") as u32
    }

    fn kind_of<'s>(&self, s: &HandleScope<'s>, o: Local<'s, Object>) -> Kind {
        self.shapes[self.shape_of(s, o) as usize].kind
    }

    fn as_obj<'s>(&self, s: &HandleScope<'s>, v: V<'s>) -> Option<Local<'s, Object>> {
        s.cast::<Object, _>(v)
    }

    // ----- Properties -------------------------------------------------------

    fn own_index<'s>(&self, s: &HandleScope<'s>, o: Local<'s, Object>, key: Atom) -> Option<(Kind, usize)> {
        let shape = &self.shapes[self.shape_of(s, o) as usize];
        shape.keys.iter().rposition(|&k| k == key).map(|i| (shape.kind, i))
    }

    fn read_slot<'s>(&self, s: &mut HandleScope<'s>, o: Local<'s, Object>, kind: Kind, i: usize) -> V<'s> {
        let base = kind.header();
        let cap = s.field_count(o) - base;
        if i < cap {
            s.get(o, base + i)
        } else {
            let ov = s.get_as::<FixedArray, _>(o, OVERFLOW);
            s.get(ov, i - cap)
        }
    }

    fn write_slot<'s>(&self, s: &mut HandleScope<'s>, o: Local<'s, Object>, kind: Kind, i: usize, v: V<'s>) -> R<()> {
        let base = kind.header();
        let cap = s.field_count(o) - base;
        if i < cap {
            s.set(o, base + i, v);
            return Ok(());
        }
        let j = i - cap;
        let ov = s.get(o, OVERFLOW);
        let len = s.cast::<FixedArray, _>(ov).map_or(0, |a| s.length(a));
        if j < len {
            let ov = s.cast::<FixedArray, _>(ov).expect("checked above");
            s.set(ov, j, v);
            return Ok(());
        }
        let mut inner = HandleScope::new(s);
        let grown = inner.new_fixed_array((len * 2).max(4).max(j + 1))?;
        if let Some(old) = inner.cast::<FixedArray, _>(ov) {
            for k in 0..len {
                let e = inner.get(old, k);
                inner.set(grown, k, e);
            }
        }
        inner.set(grown, j, v);
        inner.set(o, OVERFLOW, grown);
        Ok(())
    }

    fn get_prop<'s>(&mut self, s: &mut HandleScope<'s>, recv: V<'s>, key: Atom, span: Span) -> R<V<'s>> {
        let mut cur = match self.as_obj(s, recv) {
            Some(o) => {
                let kind = self.kind_of(s, o);
                if key == self.a_length && matches!(kind, Kind::Array | Kind::F64Array) {
                    return Ok(s.get(o, INT_A));
                }
                o
            }
            None => {
                if s.to_number(recv).is_some() {
                    let p = self.proto(s, &self.number_proto);
                    s.cast::<Object, _>(p).expect("Number.prototype is an object")
                } else if let Some(st) = s.cast::<HeapString, _>(recv) {
                    if key == self.a_length {
                        let n = s.as_str(st).encode_utf16().count();
                        return int(s, n as i64);
                    }
                    let p = self.proto(s, &self.string_proto);
                    s.cast::<Object, _>(p).expect("String.prototype is an object")
                } else if s.is_undefined(recv) || s.is_null(recv) {
                    let what = if s.is_null(recv) { "null" } else { "undefined" };
                    let msg = format!("Cannot read properties of {what} (reading '{}')", self.atom_name(key));
                    let _ = span;
                    return Err(self.throw_error(s, 2, &msg));
                } else {
                    return Ok(s.undefined());
                }
            }
        };
        loop {
            if let Some((kind, i)) = self.own_index(s, cur, key) {
                return Ok(self.read_slot(s, cur, kind, i));
            }
            let p = s.get(cur, PROTO);
            match s.cast::<Object, _>(p) {
                Some(p) => cur = p,
                None => return Ok(s.undefined()),
            }
        }
    }

    fn set_prop<'s>(&mut self, s: &mut HandleScope<'s>, recv: V<'s>, key: Atom, v: V<'s>) -> R<()> {
        let Some(o) = s.cast::<Object, _>(recv) else {
            if s.is_undefined(recv) || s.is_null(recv) {
                let msg = format!("Cannot set properties of undefined (setting '{}')", self.atom_name(key));
                return Err(self.throw_error(s, 2, &msg));
            }
            return Ok(());
        };
        if let Some((kind, i)) = self.own_index(s, o, key) {
            if key == self.a_length && kind == Kind::Array {
                return Err(self.throw_error(s, 2, "minijs: assigning an array's length is not supported"));
            }
            return self.write_slot(s, o, kind, i, v);
        }
        let from = self.shape_of(s, o);
        let to = self.transition(from, key);
        let kind = self.shapes[to as usize].kind;
        let i = self.shapes[to as usize].keys.len() - 1;
        self.write_slot(s, o, kind, i, v)?;
        s.set(o, SHAPE, Smi::from(to as i32));
        Ok(())
    }

    fn key_atom<'s>(&mut self, s: &mut HandleScope<'s>, key: V<'s>) -> R<Atom> {
        let name = self.display_of(s, key);
        self.atom(s, &name)
    }

    fn get_elem<'s>(&mut self, s: &mut HandleScope<'s>, recv: V<'s>, key: V<'s>, span: Span) -> R<V<'s>> {
        if let (Some(o), Some(i)) = (self.as_obj(s, recv), s.to_number(key)) {
            let kind = self.kind_of(s, o);
            if matches!(kind, Kind::Array | Kind::F64Array) {
                let len = s.get_smi(o, INT_A).unwrap_or(0) as usize;
                if i.fract() != 0.0 || i < 0.0 || i as usize >= len {
                    return Ok(s.undefined());
                }
                let i = i as usize;
                if kind == Kind::Array {
                    let els = s.get_as::<FixedArray, _>(o, INT_B);
                    return Ok(s.get(els, i));
                }
                let bytes = s.get_as::<isogc::ByteArray, _>(o, INT_B);
                let mut b = [0u8; 8];
                s.read_bytes(bytes, i * 8, &mut b);
                return num(s, f64::from_le_bytes(b));
            }
        }
        if let Some(st) = s.cast::<HeapString, _>(recv) {
            // Only a non-negative integral index names a character; "abc"[-1] and
            // "abc"[1.5] are ordinary (absent) properties.
            if let Some(i) = s.to_number(key).filter(|i| i.fract() == 0.0 && *i >= 0.0) {
                let c = s.as_str(st).chars().nth(i as usize).map(|c| c.to_string());
                return match c {
                    Some(c) => Ok(s.new_string(&c)?.as_value()),
                    None => Ok(s.undefined()),
                };
            }
        }
        let a = self.key_atom(s, key)?;
        self.get_prop(s, recv, a, span)
    }

    fn set_elem<'s>(&mut self, s: &mut HandleScope<'s>, recv: V<'s>, key: V<'s>, v: V<'s>) -> R<()> {
        if let (Some(o), Some(i)) = (s.cast::<Object, _>(recv), s.to_number(key)) {
            let kind = self.kind_of(s, o);
            if matches!(kind, Kind::Array | Kind::F64Array) && i.fract() == 0.0 && i >= 0.0 {
                let i = i as usize;
                let len = s.get_smi(o, INT_A).unwrap_or(0) as usize;
                if kind == Kind::F64Array {
                    if i < len {
                        let x = self.number_of(s, v)?;
                        let bytes = s.get_as::<isogc::ByteArray, _>(o, INT_B);
                        s.write_bytes(bytes, i * 8, &x.to_le_bytes());
                    }
                    return Ok(());
                }
                return self.array_store(s, o, i, v);
            }
        }
        let a = self.key_atom(s, key)?;
        self.set_prop(s, recv, a, v)
    }

    /// `a[i] = v` on an array: grows the backing store by half (as V8's
    /// `JSObject::NewElementsCapacity`: old + old/2 + 16) when `i` is past
    /// its end.
    fn array_store<'s>(&mut self, s: &mut HandleScope<'s>, o: Local<'s, Object>, i: usize, v: V<'s>) -> R<()> {
        let len = s.get_smi(o, INT_A).unwrap_or(0) as usize;
        let els = s.get_as::<FixedArray, _>(o, INT_B);
        let cap = s.length(els);
        if i >= cap {
            let mut inner = HandleScope::new(s);
            let new_cap = (i + 1).max(cap + cap / 2 + 16);
            let grown = inner.new_fixed_array(new_cap)?;
            for k in 0..len {
                let e = inner.get(els, k);
                inner.set(grown, k, e);
            }
            inner.set(o, INT_B, grown);
        }
        let els = s.get_as::<FixedArray, _>(o, INT_B);
        s.set(els, i, v);
        if i >= len {
            s.set(o, INT_A, Smi::from((i + 1) as i32));
        }
        Ok(())
    }

    fn new_array<'s>(
        &mut self,
        s: &mut HandleScope<'s>,
        len: usize,
        site: Option<AllocationSite>,
    ) -> R<Local<'s, Object>> {
        let proto = self.proto(s, &self.array_proto);
        let a = self.new_obj(s, Kind::Array, 0, proto, site)?;
        let els = match site {
            Some(site) => s.new_fixed_array_at(len, &site)?,
            None => s.new_fixed_array(len)?,
        };
        s.set(a, INT_B, els);
        s.set(a, INT_A, Smi::from(len as i32));
        Ok(a)
    }

    // ----- Conversions ------------------------------------------------------

    fn truthy<'s>(&self, s: &HandleScope<'s>, v: V<'s>) -> bool {
        if let Some(n) = s.to_number(v) {
            return n != 0.0 && !n.is_nan();
        }
        if s.is_undefined(v) || s.is_null(v) || s.is_false(v) {
            return false;
        }
        if let Some(st) = s.cast::<HeapString, _>(v) {
            return s.length(st) > 0;
        }
        true
    }

    fn number_of<'s>(&mut self, s: &mut HandleScope<'s>, v: V<'s>) -> R<f64> {
        if let Some(n) = s.to_number(v) {
            return Ok(n);
        }
        if s.is_undefined(v) {
            return Ok(f64::NAN);
        }
        if s.is_null(v) || s.is_false(v) {
            return Ok(0.0);
        }
        if s.is_true(v) {
            return Ok(1.0);
        }
        let v = s.local(v);
        if let Some(st) = s.cast::<HeapString, _>(v) {
            let t = s.as_str(st).trim();
            return Ok(if t.is_empty() { 0.0 } else { t.parse().unwrap_or(f64::NAN) });
        }
        Ok(f64::NAN)
    }

    /// `String(v)`.
    fn display_of<'s>(&mut self, s: &mut HandleScope<'s>, v: V<'s>) -> String {
        if let Some(n) = s.to_number(v) {
            return number::to_js_string(n);
        }
        if s.is_undefined(v) {
            return "undefined".into();
        }
        if s.is_null(v) {
            return "null".into();
        }
        if s.is_true(v) {
            return "true".into();
        }
        if s.is_false(v) {
            return "false".into();
        }
        let mut inner = HandleScope::new(s);
        let v = inner.local(v);
        if let Some(st) = inner.cast::<HeapString, _>(v) {
            return inner.to_rust_string(st);
        }
        let Some(o) = inner.cast::<Object, _>(v) else { return String::new() };
        match self.kind_of(&inner, o) {
            Kind::Array => {
                let len = inner.get_smi(o, INT_A).unwrap_or(0) as usize;
                let els = inner.get_as::<FixedArray, _>(o, INT_B);
                let mut parts = Vec::with_capacity(len);
                for i in 0..len {
                    let e = inner.get(els, i);
                    parts.push(if inner.is_undefined(e) || inner.is_null(e) {
                        String::new()
                    } else {
                        self.display_of(&mut inner, e)
                    });
                }
                parts.join(",")
            }
            Kind::Function | Kind::Builtin => "function".into(),
            Kind::WeakMap => "[object WeakMap]".into(),
            Kind::WeakSet => "[object WeakSet]".into(),
            Kind::WeakRef => "[object WeakRef]".into(),
            Kind::FinReg => "[object FinalizationRegistry]".into(),
            _ => {
                // An Error prints as name: message.
                let ov = inner.local(v);
                let (a_name, a_message) = (self.a_name, self.a_message);
                if let (Ok(n), Ok(m)) = (
                    self.get_prop(&mut inner, ov, a_name, Span::default()),
                    self.get_prop(&mut inner, ov, a_message, Span::default()),
                ) {
                    if inner.cast::<HeapString, _>(n).is_some() && inner.cast::<HeapString, _>(m).is_some() {
                        let (n, m) = (self.display_of(&mut inner, n), self.display_of(&mut inner, m));
                        return if m.is_empty() { n } else { format!("{n}: {m}") };
                    }
                }
                "[object Object]".into()
            }
        }
    }

    fn type_of<'s>(&self, s: &HandleScope<'s>, v: V<'s>) -> &'static str {
        if s.to_number(v).is_some() {
            "number"
        } else if s.is_undefined(v) {
            "undefined"
        } else if s.is_true(v) || s.is_false(v) {
            "boolean"
        } else if s.is_null(v) {
            "object"
        } else if matches!(s.instance_type(v), Some(InstanceType::String | InstanceType::InternalizedString)) {
            "string"
        } else if let Some(o) = s.cast::<Object, _>(v) {
            match self.kind_of(s, o) {
                Kind::Function | Kind::Builtin => "function",
                _ => "object",
            }
        } else {
            "object"
        }
    }

    fn is_string<'s>(s: &HandleScope<'s>, v: V<'s>) -> bool {
        matches!(s.instance_type(v), Some(InstanceType::String | InstanceType::InternalizedString))
    }

    fn strict_eq<'s>(&self, s: &HandleScope<'s>, a: V<'s>, b: V<'s>) -> bool {
        if let (Some(x), Some(y)) = (s.to_number(a), s.to_number(b)) {
            return x == y;
        }
        if Self::is_string(s, a) && Self::is_string(s, b) {
            let (a, b) = (s.cast::<HeapString, _>(a).expect("a string"), s.cast::<HeapString, _>(b).expect("a string"));
            return s.string_equals(a, b);
        }
        s.same_value(a, b)
    }

    fn loose_eq<'s>(&mut self, s: &mut HandleScope<'s>, a: V<'s>, b: V<'s>) -> R<bool> {
        let nullish = |s: &HandleScope<'s>, v: V<'s>| s.is_undefined(v) || s.is_null(v);
        if nullish(s, a) || nullish(s, b) {
            return Ok(nullish(s, a) && nullish(s, b));
        }
        let num_like = |s: &HandleScope<'s>, v: V<'s>| s.to_number(v).is_some() || Self::is_string(s, v);
        if num_like(s, a) && num_like(s, b) && !(Self::is_string(s, a) && Self::is_string(s, b)) {
            return Ok(self.number_of(s, a)? == self.number_of(s, b)?);
        }
        Ok(self.strict_eq(s, a, b))
    }

    // ----- Exceptions -------------------------------------------------------

    /// Throws a new `Error` (0), `RangeError` (1) or `TypeError` (2).
    fn throw_error<'s>(&mut self, s: &mut HandleScope<'s>, which: usize, msg: &str) -> Exc {
        let mut inner = HandleScope::new(s);
        match self.make_error(&mut inner, which, msg) {
            Ok(e) => {
                self.exception = Some(inner.global(e));
                Exc::Throw
            }
            Err(e) => e,
        }
    }

    fn make_error<'s>(&mut self, s: &mut HandleScope<'s>, which: usize, msg: &str) -> R<V<'s>> {
        let proto = s.open(&self.error_protos[which]);
        let e = self.new_obj(s, Kind::Plain, 1, proto, None)?;
        let m = s.new_string(msg)?.as_value();
        let a = self.a_message;
        self.set_prop(s, e.as_value(), a, m)?;
        Ok(e.as_value())
    }

    /// The pending exception, as text (for an uncaught throw).
    pub fn exception_text<'s>(&mut self, s: &mut HandleScope<'s>) -> String {
        let Some(g) = self.exception.take() else { return "unknown exception".into() };
        let v = s.open(&g);
        self.display_of(s, v)
    }

    // ----- Functions and calls ------------------------------------------

    fn func_info<'s>(&mut self, s: &mut HandleScope<'s>, parent: Option<u32>, node: &'a Function<'a>) -> R<u32> {
        let addr = node as *const _ as usize;
        if let Some(&id) = self.func_ids.get(&addr) {
            return Ok(id);
        }
        if node.generator || node.r#async {
            return Err(self.unsupported(node.span, "generator or async function"));
        }
        let Some(body) = &node.body else { return Err(self.unsupported(node.span, "function without a body")) };
        let id = self.build_func(s, parent, &node.params, Body::Stmts(&body.statements), false, node.span)?;
        self.func_ids.insert(addr, id);
        Ok(id)
    }

    fn arrow_info<'s>(
        &mut self,
        s: &mut HandleScope<'s>,
        parent: u32,
        node: &'a ArrowFunctionExpression<'a>,
    ) -> R<u32> {
        let addr = node as *const _ as usize;
        if let Some(&id) = self.func_ids.get(&addr) {
            return Ok(id);
        }
        if node.r#async {
            return Err(self.unsupported(node.span, "async arrow function"));
        }
        let body = match &node.body {
            ArrowFunctionBody::FunctionBody(b) => Body::Stmts(&b.statements),
            other => Body::Expr(other.to_expression()),
        };
        let id = self.build_func(s, Some(parent), &node.params, body, true, node.span)?;
        self.func_ids.insert(addr, id);
        Ok(id)
    }

    /// Builds the program's function (the script's top level).
    pub fn script_info<'s>(&mut self, s: &mut HandleScope<'s>, program: &'a Program<'a>) -> R<u32> {
        let mut info = FuncInfo {
            parent: None,
            params: Vec::new(),
            slots: FxMap::default(),
            nslots: 0,
            body: Body::Stmts(&program.body),
            hoisted: Vec::new(),
            is_arrow: false,
            ctor_slots: Cell::new(4),
        };
        self.declare_stmts(s, &mut info, &program.body)?;
        let id = self.funcs.len() as u32;
        self.funcs.push(Rc::new(info));
        Ok(id)
    }

    fn build_func<'s>(
        &mut self,
        s: &mut HandleScope<'s>,
        parent: Option<u32>,
        params: &'a FormalParameters<'a>,
        body: Body<'a>,
        is_arrow: bool,
        span: Span,
    ) -> R<u32> {
        let mut info = FuncInfo {
            parent,
            params: Vec::new(),
            slots: FxMap::default(),
            nslots: 0,
            body: Body::Stmts(&[]),
            hoisted: Vec::new(),
            is_arrow,
            ctor_slots: Cell::new(4),
        };
        if params.rest.is_some() {
            return Err(self.unsupported(span, "rest parameter"));
        }
        for p in &params.items {
            if p.initializer.is_some() {
                return Err(self.unsupported(p.span, "default parameter"));
            }
            let BindingPattern::BindingIdentifier(id) = &p.pattern else {
                return Err(self.unsupported(p.span, "destructuring parameter"));
            };
            let slot = self.declare(s, &mut info, id.name.as_str())?;
            info.params.push(slot);
        }
        match &body {
            Body::Stmts(stmts) => self.declare_stmts(s, &mut info, stmts)?,
            Body::Expr(_) => {}
        }
        info.body = body;
        let id = self.funcs.len() as u32;
        self.funcs.push(Rc::new(info));
        Ok(id)
    }

    fn declare<'s>(&mut self, s: &mut HandleScope<'s>, info: &mut FuncInfo<'a>, name: &str) -> R<u32> {
        let a = self.atom(s, name)?;
        if let Some(&slot) = info.slots.get(&a) {
            return Ok(slot);
        }
        info.nslots += 1;
        let slot = info.nslots as u32;
        info.slots.insert(a, slot);
        Ok(slot)
    }

    /// Collects the declarations of a function body (block-scoped ones are
    /// hoisted to the function: the programs never shadow a name in a block).
    fn declare_stmts<'s>(
        &mut self,
        s: &mut HandleScope<'s>,
        info: &mut FuncInfo<'a>,
        stmts: &'a [Statement<'a>],
    ) -> R<()> {
        for st in stmts {
            self.declare_stmt(s, info, st)?;
        }
        Ok(())
    }

    fn declare_var<'s>(
        &mut self,
        s: &mut HandleScope<'s>,
        info: &mut FuncInfo<'a>,
        d: &'a VariableDeclaration<'a>,
    ) -> R<()> {
        if !matches!(
            d.kind,
            VariableDeclarationKind::Var | VariableDeclarationKind::Let | VariableDeclarationKind::Const
        ) {
            return Err(self.unsupported(d.span, "using declaration"));
        }
        for decl in &d.declarations {
            let BindingPattern::BindingIdentifier(id) = &decl.id else {
                return Err(self.unsupported(decl.span, "destructuring declaration"));
            };
            self.declare(s, info, id.name.as_str())?;
        }
        Ok(())
    }

    fn declare_stmt<'s>(&mut self, s: &mut HandleScope<'s>, info: &mut FuncInfo<'a>, st: &'a Statement<'a>) -> R<()> {
        match st {
            Statement::VariableDeclaration(d) => self.declare_var(s, info, d)?,
            Statement::FunctionDeclaration(f) => {
                let Some(id) = &f.id else { return Err(self.unsupported(f.span, "anonymous function declaration")) };
                let slot = self.declare(s, info, id.name.as_str())?;
                info.hoisted.push((slot, f));
            }
            Statement::ClassDeclaration(c) => return Err(self.unsupported(c.span, "class")),
            Statement::BlockStatement(b) => self.declare_stmts(s, info, &b.body)?,
            Statement::IfStatement(i) => {
                self.declare_stmt(s, info, &i.consequent)?;
                if let Some(a) = &i.alternate {
                    self.declare_stmt(s, info, a)?;
                }
            }
            Statement::ForStatement(f) => {
                if let Some(ForStatementInit::VariableDeclaration(d)) = &f.init {
                    self.declare_var(s, info, d)?;
                }
                self.declare_stmt(s, info, &f.body)?;
            }
            Statement::WhileStatement(w) => self.declare_stmt(s, info, &w.body)?,
            Statement::DoWhileStatement(w) => self.declare_stmt(s, info, &w.body)?,
            Statement::TryStatement(t) => {
                self.declare_stmts(s, info, &t.block.body)?;
                if let Some(h) = &t.handler {
                    if let Some(p) = &h.param {
                        let BindingPattern::BindingIdentifier(id) = &p.pattern else {
                            return Err(self.unsupported(h.span, "destructuring catch parameter"));
                        };
                        self.declare(s, info, id.name.as_str())?;
                    }
                    self.declare_stmts(s, info, &h.body.body)?;
                }
                if let Some(f) = &t.finalizer {
                    self.declare_stmts(s, info, &f.body)?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn resolve<'s>(&mut self, s: &mut HandleScope<'s>, func: u32, id: &'a IdentifierReference<'a>) -> R<Res> {
        let addr = id as *const _ as usize;
        if let Some(&r) = self.resolutions.get(&addr) {
            return Ok(r);
        }
        let a = self.atom(s, id.name.as_str())?;
        let mut f = Some(func);
        let mut depth = 0;
        let mut res = Res::Global(a);
        while let Some(fid) = f {
            let info = &self.funcs[fid as usize];
            if let Some(&slot) = info.slots.get(&a) {
                res = Res::Local { depth, slot };
                break;
            }
            f = info.parent;
            depth += 1;
        }
        self.resolutions.insert(addr, res);
        Ok(res)
    }

    fn context_at<'s>(&self, s: &mut HandleScope<'s>, f: &Frame<'_>, depth: u32) -> Local<'s, FixedArray> {
        let mut c = s.local(f.ctx);
        for _ in 0..depth {
            c = s.get_as::<FixedArray, _>(c, 0);
        }
        c
    }

    fn read_var<'s>(&mut self, s: &mut HandleScope<'s>, f: &Frame<'_>, id: &'a IdentifierReference<'a>) -> R<V<'s>> {
        match self.resolve(s, f.func, id)? {
            Res::Local { depth: 0, slot } => Ok(s.get(f.ctx, slot as usize)),
            Res::Local { depth, slot } => {
                let c = self.context_at(s, f, depth);
                Ok(s.get(c, slot as usize))
            }
            Res::Global(a) => {
                let g = self.proto(s, &self.global_obj);
                let go = s.cast::<Object, _>(g).expect("the global object");
                if self.own_index(s, go, a).is_none() {
                    let msg = format!("{} is not defined", id.name.as_str());
                    // ReferenceError, reported as an Error of that name.
                    let e = self.throw_error(s, 0, &msg);
                    if let Some(g) = &self.exception {
                        let ev = s.open(g);
                        let n = s.new_string("ReferenceError")?.as_value();
                        let an = self.a_name;
                        self.set_prop(s, ev, an, n)?;
                    }
                    return Err(e);
                }
                self.get_prop(s, g, a, id.span)
            }
        }
    }

    fn write_var<'s>(
        &mut self,
        s: &mut HandleScope<'s>,
        f: &Frame<'_>,
        id: &'a IdentifierReference<'a>,
        v: V<'s>,
    ) -> R<()> {
        match self.resolve(s, f.func, id)? {
            Res::Local { depth: 0, slot } => s.set(f.ctx, slot as usize, v),
            Res::Local { depth, slot } => {
                let c = self.context_at(s, f, depth);
                s.set(c, slot as usize, v)
            }
            Res::Global(a) => {
                let g = self.proto(s, &self.global_obj);
                self.set_prop(s, g, a, v)?;
            }
        }
        Ok(())
    }

    fn write_binding<'s>(&mut self, s: &mut HandleScope<'s>, f: &Frame<'_>, name: &str, v: V<'s>) -> R<()> {
        let a = self.atom(s, name)?;
        let slot = *self.funcs[f.func as usize].slots.get(&a).expect("declared by declare_stmts");
        s.set(f.ctx, slot as usize, v);
        Ok(())
    }

    fn make_closure<'s>(&mut self, s: &mut HandleScope<'s>, f: &Frame<'_>, id: u32) -> R<V<'s>> {
        let fp = self.proto(s, &self.function_proto);
        let clo = self.new_obj(s, Kind::Function, 0, fp, None)?;
        s.set(clo, INT_A, Smi::from(id as i32));
        s.set(clo, INT_B, f.ctx);
        let clo = clo.as_value();
        if self.funcs[id as usize].is_arrow {
            let o = s.cast::<Object, _>(clo).expect("just made");
            s.set(o, INT_C, f.this);
        } else {
            let op = self.proto(s, &self.object_proto);
            let proto = self.new_obj(s, Kind::Plain, 4, op, None)?.as_value();
            let a = self.a_prototype;
            self.set_prop(s, clo, a, proto)?;
        }
        Ok(clo)
    }

    fn call<'p>(
        &mut self,
        s: &mut HandleScope<'p>,
        callee: V<'p>,
        this: V<'p>,
        args: &[V<'p>],
        span: Span,
    ) -> R<V<'p>> {
        let Some(o) = s.cast::<Object, _>(callee) else {
            return Err(self.not_a_function(s, span));
        };
        match self.kind_of(s, o) {
            Kind::Function => self.call_closure(s, o, this, args),
            Kind::Builtin => {
                let id = s.get_smi(o, INT_A).expect("a builtin's id") as usize;
                self.call_builtin(s, BUILTINS[id], this, args, span, false)
            }
            _ => Err(self.not_a_function(s, span)),
        }
    }

    fn not_a_function<'s>(&mut self, s: &mut HandleScope<'s>, span: Span) -> Exc {
        let text = &self.source[span.start as usize..span.end as usize];
        let callee = text.split('(').next().unwrap_or(text).trim().to_string();
        self.throw_error(s, 2, &format!("{callee} is not a function"))
    }

    fn call_closure<'p>(
        &mut self,
        parent: &mut HandleScope<'p>,
        callee: Local<'p, Object>,
        this: V<'p>,
        args: &[V<'p>],
    ) -> R<V<'p>> {
        if self.depth >= MAX_CALL_DEPTH {
            return Err(self.throw_error(parent, 1, "Maximum call stack size exceeded"));
        }
        self.depth += 1;
        let r = self.call_closure_inner(parent, callee, this, args);
        self.depth -= 1;
        r
    }

    fn call_closure_inner<'p>(
        &mut self,
        parent: &mut HandleScope<'p>,
        callee: Local<'p, Object>,
        this: V<'p>,
        args: &[V<'p>],
    ) -> R<V<'p>> {
        let mut es = EscapableHandleScope::new(parent);
        let fid = es.get_smi(callee, INT_A).expect("a closure's function id") as u32;
        let info = self.funcs[fid as usize].clone();
        let outer = es.get(callee, INT_B);
        let ctx = es.new_fixed_array(1 + info.nslots)?;
        es.set(ctx, 0, outer);
        for (i, &slot) in info.params.iter().enumerate() {
            if let Some(&a) = args.get(i) {
                es.set(ctx, slot as usize, a);
            }
        }
        let this = if info.is_arrow { es.get(callee, INT_C) } else { es.local(this) };
        let undefined = es.undefined();
        let ret = es.local(undefined);
        let frame = Frame { ctx, this, func: fid, ret };
        self.run_body(&mut es, &frame, &info)?;
        Ok(es.escape(ret))
    }

    fn run_body<'s>(&mut self, s: &mut HandleScope<'s>, frame: &Frame<'_>, info: &FuncInfo<'a>) -> R<()> {
        for &(slot, fnode) in &info.hoisted {
            let mut inner = HandleScope::new(s);
            let id = self.func_info(&mut inner, Some(frame.func), fnode)?;
            let clo = self.make_closure(&mut inner, frame, id)?;
            inner.set(frame.ctx, slot as usize, clo);
        }
        match info.body {
            Body::Stmts(stmts) => {
                self.exec_block(s, frame, stmts)?;
            }
            Body::Expr(e) => {
                let mut inner = HandleScope::new(s);
                let v = self.eval(&mut inner, frame, e)?;
                inner.set_local(frame.ret, v);
            }
        }
        Ok(())
    }

    /// Runs the script function `id`.
    pub fn run_script<'s>(&mut self, s: &mut HandleScope<'s>, id: u32) -> R<()> {
        let info = self.funcs[id as usize].clone();
        let ctx = s.new_fixed_array(1 + info.nslots)?;
        let this = s.undefined();
        let undefined = s.undefined();
        let ret = s.local(undefined);
        let frame = Frame { ctx, this, func: id, ret };
        self.run_body(s, &frame, &info)?;
        self.end_job(s)?;
        self.run_tasks(s)
    }

    fn construct<'s>(&mut self, s: &mut HandleScope<'s>, callee: V<'s>, args: &[V<'s>], span: Span) -> R<V<'s>> {
        let Some(o) = s.cast::<Object, _>(callee) else {
            return Err(self.not_a_function(s, span));
        };
        match self.kind_of(s, o) {
            Kind::Function => {
                let fid = s.get_smi(o, INT_A).expect("function id") as usize;
                let info = self.funcs[fid].clone();
                if info.is_arrow {
                    return Err(self.not_a_function(s, span));
                }
                let a = self.a_prototype;
                let p = self.get_prop(s, o.as_value(), a, span)?;
                let p = if s.cast::<Object, _>(p).is_some() { p } else { self.proto(s, &self.object_proto) };
                let obj = self.new_obj(s, Kind::Plain, info.ctor_slots.get(), p, None)?.as_value();
                let r = self.call_closure(s, o, obj, args)?;
                if s.cast::<Object, _>(r).is_some() {
                    return Ok(r);
                }
                let ob = s.cast::<Object, _>(obj).expect("just made");
                let n = self.shapes[self.shape_of(s, ob) as usize].keys.len();
                info.ctor_slots.set(n.max(1));
                Ok(obj)
            }
            Kind::Builtin => {
                let id = s.get_smi(o, INT_A).expect("a builtin's id") as usize;
                let undefined = s.undefined();
                self.call_builtin(s, BUILTINS[id], undefined, args, span, true)
            }
            _ => Err(self.not_a_function(s, span)),
        }
    }

    // ----- Statements -------------------------------------------------------

    fn exec_block<'s>(&mut self, s: &mut HandleScope<'s>, f: &Frame<'_>, stmts: &'a [Statement<'a>]) -> R<Completion> {
        for st in stmts {
            match self.exec(s, f, st)? {
                Completion::Normal => {}
                c => return Ok(c),
            }
        }
        Ok(Completion::Normal)
    }

    fn exec_var<'s>(&mut self, s: &mut HandleScope<'s>, f: &Frame<'_>, d: &'a VariableDeclaration<'a>) -> R<()> {
        for decl in &d.declarations {
            let BindingPattern::BindingIdentifier(id) = &decl.id else {
                return Err(self.unsupported(decl.span, "destructuring declaration"));
            };
            let mut inner = HandleScope::new(s);
            let v = match &decl.init {
                Some(e) => self.eval(&mut inner, f, e)?,
                None if d.kind == VariableDeclarationKind::Var => continue,
                None => inner.undefined(),
            };
            self.write_binding(&mut inner, f, id.name.as_str(), v)?;
        }
        Ok(())
    }

    fn exec<'s>(&mut self, s: &mut HandleScope<'s>, f: &Frame<'_>, st: &'a Statement<'a>) -> R<Completion> {
        match st {
            Statement::ExpressionStatement(e) => {
                let mut inner = HandleScope::new(s);
                self.eval(&mut inner, f, &e.expression)?;
            }
            Statement::VariableDeclaration(d) => self.exec_var(s, f, d)?,
            Statement::FunctionDeclaration(_) | Statement::EmptyStatement(_) => {}
            Statement::ReturnStatement(r) => {
                if let Some(e) = &r.argument {
                    let mut inner = HandleScope::new(s);
                    let v = self.eval(&mut inner, f, e)?;
                    inner.set_local(f.ret, v);
                }
                return Ok(Completion::Return);
            }
            Statement::IfStatement(i) => {
                let t = {
                    let mut inner = HandleScope::new(s);
                    let v = self.eval(&mut inner, f, &i.test)?;
                    self.truthy(&inner, v)
                };
                if t {
                    return self.exec(s, f, &i.consequent);
                } else if let Some(a) = &i.alternate {
                    return self.exec(s, f, a);
                }
            }
            Statement::BlockStatement(b) => return self.exec_block(s, f, &b.body),
            Statement::ForStatement(fo) => {
                match &fo.init {
                    Some(ForStatementInit::VariableDeclaration(d)) => self.exec_var(s, f, d)?,
                    Some(init) => {
                        let mut inner = HandleScope::new(s);
                        self.eval(&mut inner, f, init.to_expression())?;
                    }
                    None => {}
                }
                loop {
                    let mut inner = HandleScope::new(s);
                    if let Some(t) = &fo.test {
                        let v = self.eval(&mut inner, f, t)?;
                        if !self.truthy(&inner, v) {
                            break;
                        }
                    }
                    match self.exec(&mut inner, f, &fo.body)? {
                        Completion::Break => break,
                        Completion::Return => return Ok(Completion::Return),
                        _ => {}
                    }
                    if let Some(u) = &fo.update {
                        self.eval(&mut inner, f, u)?;
                    }
                }
            }
            Statement::WhileStatement(w) => loop {
                let mut inner = HandleScope::new(s);
                let v = self.eval(&mut inner, f, &w.test)?;
                if !self.truthy(&inner, v) {
                    break;
                }
                match self.exec(&mut inner, f, &w.body)? {
                    Completion::Break => break,
                    Completion::Return => return Ok(Completion::Return),
                    _ => {}
                }
            },
            Statement::DoWhileStatement(w) => loop {
                let mut inner = HandleScope::new(s);
                match self.exec(&mut inner, f, &w.body)? {
                    Completion::Break => break,
                    Completion::Return => return Ok(Completion::Return),
                    _ => {}
                }
                let v = self.eval(&mut inner, f, &w.test)?;
                if !self.truthy(&inner, v) {
                    break;
                }
            },
            Statement::BreakStatement(b) => {
                if b.label.is_some() {
                    return Err(self.unsupported(b.span, "labelled break"));
                }
                return Ok(Completion::Break);
            }
            Statement::ContinueStatement(c) => {
                if c.label.is_some() {
                    return Err(self.unsupported(c.span, "labelled continue"));
                }
                return Ok(Completion::Continue);
            }
            Statement::ThrowStatement(t) => {
                let mut inner = HandleScope::new(s);
                let v = self.eval(&mut inner, f, &t.argument)?;
                self.exception = Some(inner.global(v));
                return Err(Exc::Throw);
            }
            Statement::TryStatement(t) => {
                let depth = self.depth;
                let mut r = self.exec_block(s, f, &t.block.body);
                if let (Err(Exc::Throw), Some(h)) = (&r, &t.handler) {
                    self.depth = depth;
                    let g = self.exception.take().expect("a pending exception");
                    if let Some(p) = &h.param {
                        if let BindingPattern::BindingIdentifier(id) = &p.pattern {
                            let mut inner = HandleScope::new(s);
                            let v = inner.open(&g);
                            self.write_binding(&mut inner, f, id.name.as_str(), v)?;
                        }
                    }
                    r = self.exec_block(s, f, &h.body.body);
                }
                if let Some(fin) = &t.finalizer {
                    match self.exec_block(s, f, &fin.body)? {
                        Completion::Normal => {}
                        c => return Ok(c),
                    }
                }
                return r;
            }
            other => return Err(self.unsupported(other.span(), statement_name(other))),
        }
        Ok(Completion::Normal)
    }

    // ----- Expressions ------------------------------------------------------

    fn eval<'s>(&mut self, s: &mut HandleScope<'s>, f: &Frame<'_>, e: &'a Expression<'a>) -> R<V<'s>> {
        match e {
            Expression::NumericLiteral(n) => num(s, n.value),
            Expression::StringLiteral(l) => {
                let a = self.atom_at(s, &**l as *const _ as usize, l.value.as_str())?;
                Ok(s.open(&self.atom_strings[a as usize]).as_value())
            }
            Expression::BooleanLiteral(b) => Ok(s.boolean(b.value)),
            Expression::NullLiteral(_) => Ok(s.null()),
            Expression::TemplateLiteral(t) => {
                let mut out = String::new();
                for (i, q) in t.quasis.iter().enumerate() {
                    match &q.value.cooked {
                        Some(c) => out.push_str(c.as_str()),
                        None => out.push_str(q.value.raw.as_str()),
                    }
                    if let Some(x) = t.expressions.get(i) {
                        let v = self.eval(s, f, x)?;
                        out.push_str(&self.display_of(s, v));
                    }
                }
                Ok(s.new_string(&out)?.as_value())
            }
            Expression::Identifier(id) => {
                if id.name.as_str() == "undefined" {
                    if let Res::Global(_) = self.resolve(s, f.func, id)? {
                        return Ok(s.undefined());
                    }
                }
                self.read_var(s, f, id)
            }
            Expression::ThisExpression(_) => Ok(s.local(f.this)),
            Expression::ParenthesizedExpression(p) => self.eval(s, f, &p.expression),
            Expression::SequenceExpression(q) => {
                let mut v = s.undefined();
                for x in &q.expressions {
                    v = self.eval(s, f, x)?;
                }
                Ok(v)
            }
            Expression::ArrayExpression(a) => {
                let site = self.site(s, &**a as *const _ as usize, a.span, "array literal");
                let arr = self.new_array(s, a.elements.len(), Some(site))?;
                let els = s.get_as::<FixedArray, _>(arr, INT_B);
                for (i, el) in a.elements.iter().enumerate() {
                    let x = match el {
                        ArrayExpressionElement::SpreadElement(sp) => return Err(self.unsupported(sp.span, "spread")),
                        ArrayExpressionElement::Elision(_) => s.undefined(),
                        other => self.eval(s, f, other.to_expression())?,
                    };
                    s.set(els, i, x);
                }
                Ok(arr.as_value())
            }
            Expression::ObjectExpression(o) => {
                let site = self.site(s, &**o as *const _ as usize, o.span, "object literal");
                let proto = self.proto(s, &self.object_proto);
                let obj = self.new_obj(s, Kind::Plain, o.properties.len().max(1), proto, Some(site))?.as_value();
                for p in &o.properties {
                    let ObjectPropertyKind::ObjectProperty(p) = p else {
                        return Err(self.unsupported(o.span, "object spread"));
                    };
                    if p.kind != PropertyKind::Init || p.computed {
                        return Err(self.unsupported(p.span, "getter, setter or computed key"));
                    }
                    let key = match &p.key {
                        PropertyKey::StaticIdentifier(id) => self.name_atom(s, id)?,
                        PropertyKey::StringLiteral(l) => {
                            self.atom_at(s, &**l as *const _ as usize, l.value.as_str())?
                        }
                        PropertyKey::NumericLiteral(n) => self.atom(s, &number::to_js_string(n.value))?,
                        _ => return Err(self.unsupported(p.span, "this kind of property key")),
                    };
                    let v = self.eval(s, f, &p.value)?;
                    self.set_prop(s, obj, key, v)?;
                }
                Ok(obj)
            }
            Expression::FunctionExpression(fe) => {
                let id = self.func_info(s, Some(f.func), fe)?;
                if fe.id.is_some() {
                    return Err(self.unsupported(fe.span, "named function expression"));
                }
                self.make_closure(s, f, id)
            }
            Expression::ArrowFunctionExpression(ae) => {
                let id = self.arrow_info(s, f.func, ae)?;
                self.make_closure(s, f, id)
            }
            Expression::StaticMemberExpression(m) => {
                let o = self.eval(s, f, &m.object)?;
                if m.optional {
                    return Err(self.unsupported(m.span, "optional chaining"));
                }
                let a = self.name_atom(s, &m.property)?;
                self.get_prop(s, o, a, m.span)
            }
            Expression::ComputedMemberExpression(m) => {
                let o = self.eval(s, f, &m.object)?;
                let k = self.eval(s, f, &m.expression)?;
                self.get_elem(s, o, k, m.span)
            }
            Expression::CallExpression(c) => {
                if c.optional {
                    return Err(self.unsupported(c.span, "optional call"));
                }
                let (callee, this) = match &c.callee {
                    Expression::StaticMemberExpression(m) => {
                        let o = self.eval(s, f, &m.object)?;
                        let a = self.name_atom(s, &m.property)?;
                        (self.get_prop(s, o, a, m.span)?, o)
                    }
                    Expression::ComputedMemberExpression(m) => {
                        let o = self.eval(s, f, &m.object)?;
                        let k = self.eval(s, f, &m.expression)?;
                        (self.get_elem(s, o, k, m.span)?, o)
                    }
                    other => (self.eval(s, f, other)?, s.undefined()),
                };
                let args = self.eval_args(s, f, &c.arguments)?;
                self.call(s, callee, this, &args, c.span)
            }
            Expression::NewExpression(n) => {
                let callee = self.eval(s, f, &n.callee)?;
                let args = self.eval_args(s, f, &n.arguments)?;
                self.construct(s, callee, &args, n.span)
            }
            Expression::ConditionalExpression(c) => {
                let t = self.eval(s, f, &c.test)?;
                if self.truthy(s, t) {
                    self.eval(s, f, &c.consequent)
                } else {
                    self.eval(s, f, &c.alternate)
                }
            }
            Expression::LogicalExpression(l) => {
                let a = self.eval(s, f, &l.left)?;
                let take_left = match l.operator {
                    LogicalOperator::Or => self.truthy(s, a),
                    LogicalOperator::And => !self.truthy(s, a),
                    LogicalOperator::Coalesce => !(s.is_undefined(a) || s.is_null(a)),
                };
                if take_left {
                    Ok(a)
                } else {
                    self.eval(s, f, &l.right)
                }
            }
            Expression::UnaryExpression(u) => {
                if u.operator == UnaryOperator::Typeof {
                    if let Expression::Identifier(id) = &u.argument {
                        if let Res::Global(a) = self.resolve(s, f.func, id)? {
                            let g = self.proto(s, &self.global_obj);
                            let go = s.cast::<Object, _>(g).expect("global");
                            if self.own_index(s, go, a).is_none() {
                                let a = self.atom(s, "undefined")?;
                                return Ok(s.open(&self.atom_strings[a as usize]).as_value());
                            }
                        }
                    }
                }
                let v = self.eval(s, f, &u.argument)?;
                match u.operator {
                    UnaryOperator::LogicalNot => {
                        let t = self.truthy(s, v);
                        Ok(s.boolean(!t))
                    }
                    UnaryOperator::UnaryNegation => {
                        let x = self.number_of(s, v)?;
                        num(s, -x)
                    }
                    UnaryOperator::UnaryPlus => {
                        let x = self.number_of(s, v)?;
                        num(s, x)
                    }
                    UnaryOperator::BitwiseNot => {
                        let x = self.number_of(s, v)?;
                        int(s, !to_int32(x) as i64)
                    }
                    UnaryOperator::Typeof => {
                        let t = self.type_of(s, v);
                        let a = self.atom(s, t)?;
                        Ok(s.open(&self.atom_strings[a as usize]).as_value())
                    }
                    UnaryOperator::Void => Ok(s.undefined()),
                    UnaryOperator::Delete => Err(self.unsupported(u.span, "delete")),
                }
            }
            Expression::BinaryExpression(b) => {
                let l = self.eval(s, f, &b.left)?;
                let r = self.eval(s, f, &b.right)?;
                self.binary(s, b.operator, l, r, b.span)
            }
            Expression::AssignmentExpression(a) => self.assign(s, f, a),
            Expression::UpdateExpression(u) => {
                let delta = if u.operator == UpdateOperator::Increment { 1.0 } else { -1.0 };
                // `x` is the old value as a number: boxed only for a postfix update.
                let (x, new) = match &u.argument {
                    SimpleAssignmentTarget::AssignmentTargetIdentifier(id) => {
                        let old = self.read_var(s, f, id)?;
                        let x = self.number_of(s, old)?;
                        let new = num(s, x + delta)?;
                        self.write_var(s, f, id, new)?;
                        (x, new)
                    }
                    SimpleAssignmentTarget::StaticMemberExpression(m) => {
                        let o = self.eval(s, f, &m.object)?;
                        let a = self.name_atom(s, &m.property)?;
                        let old = self.get_prop(s, o, a, m.span)?;
                        let x = self.number_of(s, old)?;
                        let new = num(s, x + delta)?;
                        self.set_prop(s, o, a, new)?;
                        (x, new)
                    }
                    SimpleAssignmentTarget::ComputedMemberExpression(m) => {
                        let o = self.eval(s, f, &m.object)?;
                        let k = self.eval(s, f, &m.expression)?;
                        let old = self.get_elem(s, o, k, m.span)?;
                        let x = self.number_of(s, old)?;
                        let new = num(s, x + delta)?;
                        self.set_elem(s, o, k, new)?;
                        (x, new)
                    }
                    _ => return Err(self.unsupported(u.span, "this update target")),
                };
                if u.prefix {
                    Ok(new)
                } else {
                    num(s, x)
                }
            }
            other => Err(self.unsupported(other.span(), expression_name(other))),
        }
    }

    fn eval_args<'s>(&mut self, s: &mut HandleScope<'s>, f: &Frame<'_>, args: &'a [Argument<'a>]) -> R<Vec<V<'s>>> {
        let mut out = Vec::with_capacity(args.len());
        for a in args {
            match a {
                Argument::SpreadElement(sp) => return Err(self.unsupported(sp.span, "spread argument")),
                other => out.push(self.eval(s, f, other.to_expression())?),
            }
        }
        Ok(out)
    }

    fn assign<'s>(&mut self, s: &mut HandleScope<'s>, f: &Frame<'_>, a: &'a AssignmentExpression<'a>) -> R<V<'s>> {
        let op = if a.operator == AssignmentOperator::Assign {
            None
        } else {
            match a.operator.to_binary_operator() {
                Some(op) => Some(op),
                None => return Err(self.unsupported(a.span, "logical assignment")),
            }
        };
        match &a.left {
            AssignmentTarget::AssignmentTargetIdentifier(id) => {
                let v = match op {
                    None => self.eval(s, f, &a.right)?,
                    Some(op) => {
                        let old = self.read_var(s, f, id)?;
                        let r = self.eval(s, f, &a.right)?;
                        self.binary(s, op, old, r, a.span)?
                    }
                };
                self.write_var(s, f, id, v)?;
                Ok(v)
            }
            AssignmentTarget::StaticMemberExpression(m) => {
                let o = self.eval(s, f, &m.object)?;
                let key = self.name_atom(s, &m.property)?;
                let v = match op {
                    None => self.eval(s, f, &a.right)?,
                    Some(op) => {
                        let old = self.get_prop(s, o, key, m.span)?;
                        let r = self.eval(s, f, &a.right)?;
                        self.binary(s, op, old, r, a.span)?
                    }
                };
                self.set_prop(s, o, key, v)?;
                Ok(v)
            }
            AssignmentTarget::ComputedMemberExpression(m) => {
                let o = self.eval(s, f, &m.object)?;
                let k = self.eval(s, f, &m.expression)?;
                let v = match op {
                    None => self.eval(s, f, &a.right)?,
                    Some(op) => {
                        let old = self.get_elem(s, o, k, m.span)?;
                        let r = self.eval(s, f, &a.right)?;
                        self.binary(s, op, old, r, a.span)?
                    }
                };
                self.set_elem(s, o, k, v)?;
                Ok(v)
            }
            _ => Err(self.unsupported(a.span, "destructuring assignment")),
        }
    }

    fn binary<'s>(&mut self, s: &mut HandleScope<'s>, op: BinaryOperator, l: V<'s>, r: V<'s>, span: Span) -> R<V<'s>> {
        use BinaryOperator as B;
        // Smi fast paths.
        if let (Some(x), Some(y)) = (s.to_smi(l), s.to_smi(r)) {
            match op {
                B::Addition => return int(s, x + y),
                B::Subtraction => return int(s, x - y),
                B::Multiplication => return num(s, (x as f64) * (y as f64)),
                B::LessThan => return Ok(s.boolean(x < y)),
                B::LessEqualThan => return Ok(s.boolean(x <= y)),
                B::GreaterThan => return Ok(s.boolean(x > y)),
                B::GreaterEqualThan => return Ok(s.boolean(x >= y)),
                B::StrictEquality | B::Equality => return Ok(s.boolean(x == y)),
                B::StrictInequality | B::Inequality => return Ok(s.boolean(x != y)),
                _ => {}
            }
        }
        match op {
            B::Addition => {
                if Self::is_string(s, l) || Self::is_string(s, r) || self.is_object(s, l) || self.is_object(s, r) {
                    let text = self.display_of(s, l) + &self.display_of(s, r);
                    return Ok(s.new_string(&text)?.as_value());
                }
                let (x, y) = (self.number_of(s, l)?, self.number_of(s, r)?);
                num(s, x + y)
            }
            B::Subtraction | B::Multiplication | B::Division | B::Remainder | B::Exponential => {
                let (x, y) = (self.number_of(s, l)?, self.number_of(s, r)?);
                let z = match op {
                    B::Subtraction => x - y,
                    B::Multiplication => x * y,
                    B::Division => x / y,
                    B::Remainder => x % y,
                    _ => x.powf(y),
                };
                num(s, z)
            }
            B::ShiftLeft | B::ShiftRight | B::ShiftRightZeroFill | B::BitwiseAnd | B::BitwiseOR | B::BitwiseXOR => {
                let (x, y) = (self.number_of(s, l)?, self.number_of(s, r)?);
                let (a, b) = (to_int32(x), to_int32(y));
                let z = match op {
                    B::ShiftLeft => a.wrapping_shl(b as u32 & 31) as i64,
                    B::ShiftRight => (a >> (b as u32 & 31)) as i64,
                    B::ShiftRightZeroFill => ((a as u32) >> (b as u32 & 31)) as i64,
                    B::BitwiseAnd => (a & b) as i64,
                    B::BitwiseOR => (a | b) as i64,
                    _ => (a ^ b) as i64,
                };
                int(s, z)
            }
            B::LessThan | B::LessEqualThan | B::GreaterThan | B::GreaterEqualThan => {
                let ord = if Self::is_string(s, l) && Self::is_string(s, r) {
                    Some(s.string_cmp(
                        s.cast::<HeapString, _>(l).expect("a string"),
                        s.cast::<HeapString, _>(r).expect("a string"),
                    ))
                } else {
                    let (x, y) = (self.number_of(s, l)?, self.number_of(s, r)?);
                    x.partial_cmp(&y)
                };
                let b = match ord {
                    None => false,
                    Some(o) => match op {
                        B::LessThan => o.is_lt(),
                        B::LessEqualThan => o.is_le(),
                        B::GreaterThan => o.is_gt(),
                        _ => o.is_ge(),
                    },
                };
                Ok(s.boolean(b))
            }
            B::StrictEquality => Ok(s.boolean(self.strict_eq(s, l, r))),
            B::StrictInequality => Ok(s.boolean(!self.strict_eq(s, l, r))),
            B::Equality => {
                let b = self.loose_eq(s, l, r)?;
                Ok(s.boolean(b))
            }
            B::Inequality => {
                let b = self.loose_eq(s, l, r)?;
                Ok(s.boolean(!b))
            }
            B::Instanceof => {
                let a = self.a_prototype;
                let p = self.get_prop(s, r, a, span)?;
                let mut cur = l;
                while let Some(o) = s.cast::<Object, _>(cur) {
                    cur = s.get(o, PROTO);
                    if s.same_value(cur, p) {
                        return Ok(s.boolean(true));
                    }
                }
                Ok(s.boolean(false))
            }
            B::In => Err(self.unsupported(span, "the in operator")),
        }
    }

    fn is_object<'s>(&self, s: &HandleScope<'s>, v: V<'s>) -> bool {
        s.instance_type(v) == Some(InstanceType::Object)
    }

    // ----- Builtins ---------------------------------------------------------

    fn arg<'s>(s: &mut HandleScope<'s>, args: &[V<'s>], i: usize) -> V<'s> {
        match args.get(i) {
            Some(&v) => s.local(v),
            None => s.undefined(),
        }
    }

    fn call_builtin<'s>(
        &mut self,
        s: &mut HandleScope<'s>,
        b: Builtin,
        this: V<'s>,
        args: &[V<'s>],
        span: Span,
        construct: bool,
    ) -> R<V<'s>> {
        use Builtin as B;
        if b.is_weak() {
            return self.call_weak_builtin(s, b, this, args, span, construct);
        }
        let nums = |me: &mut Self, s: &mut HandleScope<'s>| -> R<Vec<f64>> {
            args.iter().map(|&a| me.number_of(s, a)).collect()
        };
        match b {
            B::ConsoleLog => {
                let mut line = String::new();
                for (i, &a) in args.iter().enumerate() {
                    if i > 0 {
                        line.push(' ');
                    }
                    line.push_str(&self.display_of(s, a));
                }
                line.push('\n');
                if self.out.write_all(line.as_bytes()).is_err() {
                    return Err(Exc::Fatal(Error::Io("cannot write to stdout".into())));
                }
                Ok(s.undefined())
            }
            B::MathMax | B::MathMin => {
                let xs = nums(self, s)?;
                let mut acc = if b == B::MathMax { f64::NEG_INFINITY } else { f64::INFINITY };
                for x in xs {
                    if x.is_nan() {
                        acc = f64::NAN;
                        break;
                    }
                    acc = if b == B::MathMax { acc.max(x) } else { acc.min(x) };
                }
                num(s, acc)
            }
            B::MathFloor | B::MathCeil | B::MathSqrt | B::MathTrunc | B::MathAbs => {
                let x = nums(self, s)?.first().copied().unwrap_or(f64::NAN);
                let y = match b {
                    B::MathFloor => x.floor(),
                    B::MathCeil => x.ceil(),
                    B::MathSqrt => x.sqrt(),
                    B::MathTrunc => x.trunc(),
                    _ => x.abs(),
                };
                num(s, y)
            }
            B::MathPow => {
                let xs = nums(self, s)?;
                num(s, xs.first().copied().unwrap_or(f64::NAN).powf(xs.get(1).copied().unwrap_or(f64::NAN)))
            }
            B::PerfNow => num(s, self.start.elapsed().as_secs_f64() * 1000.0),
            B::DateNow => {
                let ms = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0.0, |d| d.as_millis() as f64);
                num(s, ms)
            }
            B::ParseInt => {
                let a = Self::arg(s, args, 0);
                let t = self.display_of(s, a);
                num(s, number::parse_int(&t))
            }
            B::StringCtor => {
                let a = Self::arg(s, args, 0);
                let t = if args.is_empty() { String::new() } else { self.display_of(s, a) };
                Ok(s.new_string(&t)?.as_value())
            }
            B::NumberCtor => {
                let a = Self::arg(s, args, 0);
                let x = if args.is_empty() { 0.0 } else { self.number_of(s, a)? };
                num(s, x)
            }
            B::ErrorCtor | B::RangeErrorCtor | B::TypeErrorCtor => {
                let a = Self::arg(s, args, 0);
                let msg = if s.is_undefined(a) { String::new() } else { self.display_of(s, a) };
                let which = match b {
                    B::ErrorCtor => 0,
                    B::RangeErrorCtor => 1,
                    _ => 2,
                };
                self.make_error(s, which, &msg)
            }
            B::ArrayCtor => {
                let n = match args {
                    [] => 0.0,
                    [a] if s.to_number(*a).is_some() => s.to_number(*a).unwrap_or(0.0),
                    _ => return Err(self.unsupported(span, "Array() with elements")),
                };
                if n < 0.0 || n.fract() != 0.0 || n > i32::MAX as f64 {
                    return Err(self.throw_error(s, 1, "Invalid array length"));
                }
                Ok(self.new_array(s, n as usize, None)?.as_value())
            }
            B::Float64ArrayCtor => {
                let a = Self::arg(s, args, 0);
                let n = self.number_of(s, a)?;
                if n.is_nan() || n < 0.0 || n.fract() != 0.0 || n > (i32::MAX / 8) as f64 {
                    return Err(self.throw_error(s, 1, "Invalid typed array length"));
                }
                let proto = self.proto(s, &self.array_proto);
                let o = self.new_obj(s, Kind::F64Array, 0, proto, None)?;
                let bytes = s.new_byte_array(n as usize * 8)?;
                s.set(o, INT_B, bytes);
                s.set(o, INT_A, Smi::from(n as i32));
                Ok(o.as_value())
            }
            B::ArrayPush => {
                let Some(o) = self.array_this(s, this) else {
                    return Err(self.throw_error(s, 2, "push on a non-array"));
                };
                for &a in args {
                    let len = s.get_smi(o, INT_A).unwrap_or(0) as usize;
                    self.array_store(s, o, len, a)?;
                }
                Ok(s.get(o, INT_A))
            }
            B::ArrayPop => {
                let Some(o) = self.array_this(s, this) else {
                    return Err(self.throw_error(s, 2, "pop on a non-array"));
                };
                let len = s.get_smi(o, INT_A).unwrap_or(0) as usize;
                if len == 0 {
                    return Ok(s.undefined());
                }
                let els = s.get_as::<FixedArray, _>(o, INT_B);
                let v = s.get(els, len - 1);
                let u = s.undefined();
                s.set(els, len - 1, u);
                s.set(o, INT_A, Smi::from((len - 1) as i32));
                Ok(v)
            }
            B::ArrayFill => {
                let Some(o) = s.cast::<Object, _>(this) else {
                    return Err(self.throw_error(s, 2, "fill on a non-array"));
                };
                let v = Self::arg(s, args, 0);
                let len = s.get_smi(o, INT_A).unwrap_or(0) as usize;
                match self.kind_of(s, o) {
                    Kind::Array => {
                        let els = s.get_as::<FixedArray, _>(o, INT_B);
                        for i in 0..len {
                            s.set(els, i, v);
                        }
                    }
                    Kind::F64Array => {
                        let x = self.number_of(s, v)?;
                        let bytes = s.get_as::<isogc::ByteArray, _>(o, INT_B);
                        for i in 0..len {
                            s.write_bytes(bytes, i * 8, &x.to_le_bytes());
                        }
                    }
                    _ => return Err(self.throw_error(s, 2, "fill on a non-array")),
                }
                Ok(o.as_value())
            }
            B::ArrayJoin => {
                let Some(o) = s.cast::<Object, _>(this) else {
                    return Err(self.throw_error(s, 2, "join on a non-array"));
                };
                let sepv = Self::arg(s, args, 0);
                let sep = if s.is_undefined(sepv) { ",".to_string() } else { self.display_of(s, sepv) };
                let len = s.get_smi(o, INT_A).unwrap_or(0) as usize;
                let mut parts = Vec::with_capacity(len);
                for i in 0..len {
                    let mut inner = HandleScope::new(s);
                    let k = inner.smi(Smi::from(i as i32));
                    let ov = o.as_value();
                    let e = self.get_elem(&mut inner, ov, k, span)?;
                    parts.push(if inner.is_undefined(e) || inner.is_null(e) {
                        String::new()
                    } else {
                        self.display_of(&mut inner, e)
                    });
                }
                Ok(s.new_string(&parts.join(&sep))?.as_value())
            }
            B::NumToFixed => {
                let x = s.to_number(this).unwrap_or(f64::NAN);
                let d = Self::arg(s, args, 0);
                let d = self.number_of(s, d)?;
                let d = if d.is_nan() { 0.0 } else { d };
                if !(0.0..=100.0).contains(&d) {
                    return Err(self.throw_error(s, 1, "toFixed() digits argument must be between 0 and 100"));
                }
                Ok(s.new_string(&number::to_fixed(x, d as usize))?.as_value())
            }
            B::MemoryUsage => {
                let m = s.memory_usage();
                let proto = self.proto(s, &self.object_proto);
                let o = self.new_obj(s, Kind::Plain, 4, proto, None)?.as_value();
                for (name, v) in [
                    ("rss", m.committed as f64),
                    ("heapTotal", m.committed as f64),
                    ("heapUsed", m.used as f64),
                    ("external", 0.0),
                ] {
                    let a = self.atom(s, name)?;
                    let n = num(s, v)?;
                    self.set_prop(s, o, a, n)?;
                }
                Ok(o)
            }
            B::Require => {
                let a = Self::arg(s, args, 0);
                let name = self.display_of(s, a);
                if name != "fs" {
                    return Err(self.throw_error(s, 0, &format!("Cannot find module '{name}'")));
                }
                let proto = self.proto(s, &self.object_proto);
                let o = self.new_obj(s, Kind::Plain, 1, proto, None)?.as_value();
                let w = self.builtin(s, B::WriteFileSync)?;
                let a = self.atom(s, "writeFileSync")?;
                self.set_prop(s, o, a, w)?;
                Ok(o)
            }
            B::WriteFileSync => {
                let (p, d) = (Self::arg(s, args, 0), Self::arg(s, args, 1));
                let (path, data) = (self.display_of(s, p), self.display_of(s, d));
                if let Err(e) = std::fs::write(&path, data) {
                    return Err(self.throw_error(s, 0, &format!("cannot write {path}: {e}")));
                }
                Ok(s.undefined())
            }
            B::Gc => {
                s.collect_garbage(isogc::GcRequest::Major);
                Ok(s.undefined())
            }
            _ => unreachable!("{b:?} is handled by call_weak_builtin"),
        }
    }

    fn array_this<'s>(&self, s: &mut HandleScope<'s>, this: V<'s>) -> Option<Local<'s, Object>> {
        let o = s.cast::<Object, _>(this)?;
        (self.kind_of(s, o) == Kind::Array).then_some(o)
    }

    fn builtin<'s>(&mut self, s: &mut HandleScope<'s>, b: Builtin) -> R<V<'s>> {
        let proto = self.proto(s, &self.function_proto);
        let o = self.new_obj(s, Kind::Builtin, 0, proto, None)?;
        s.set(o, INT_A, Smi::from(b as i32));
        Ok(o.as_value())
    }

    /// A plain object whose prototype is `Object.prototype`.
    fn object_plain<'s>(&mut self, s: &mut HandleScope<'s>) -> R<V<'s>> {
        let p = self.proto(s, &self.object_proto);
        self.plain_with(s, p)
    }

    fn plain_with<'s>(&mut self, s: &mut HandleScope<'s>, p: V<'s>) -> R<V<'s>> {
        Ok(self.new_obj(s, Kind::Plain, 4, p, None)?.as_value())
    }

    fn put<'s>(&mut self, s: &mut HandleScope<'s>, o: V<'s>, name: &str, v: V<'s>) -> R<()> {
        let a = self.atom(s, name)?;
        self.set_prop(s, o, a, v)
    }

    fn put_builtin<'s>(&mut self, s: &mut HandleScope<'s>, o: V<'s>, name: &str, b: Builtin) -> R<()> {
        let mut inner = HandleScope::new(s);
        let f = self.builtin(&mut inner, b)?;
        self.put(&mut inner, o, name, f)
    }

    /// Creates the global object and the builtins.
    pub fn init<'s>(&mut self, s: &mut HandleScope<'s>) -> R<()> {
        use Builtin as B;
        self.a_length = self.atom(s, "length")?;
        self.a_prototype = self.atom(s, "prototype")?;
        self.a_message = self.atom(s, "message")?;
        self.a_name = self.atom(s, "name")?;
        let null = s.null();
        let op = self.plain_with(s, null)?;
        self.object_proto = Some(s.global(op));
        let fp = self.object_plain(s)?;
        self.function_proto = Some(s.global(fp));
        let ap = self.object_plain(s)?;
        self.array_proto = Some(s.global(ap));
        let np = self.object_plain(s)?;
        self.number_proto = Some(s.global(np));
        let sp = self.object_plain(s)?;
        self.string_proto = Some(s.global(sp));
        let go = self.object_plain(s)?;
        self.global_obj = Some(s.global(go));
        for (name, parent) in [("Error", None), ("RangeError", Some(0)), ("TypeError", Some(0))] {
            let p = match parent {
                None => self.object_plain(s)?,
                Some(i) => {
                    let p = s.open(&self.error_protos[i]);
                    self.plain_with(s, p)?
                }
            };
            let n = s.intern(name)?.as_value();
            self.put(s, p, "name", n)?;
            let m = s.intern("")?.as_value();
            self.put(s, p, "message", m)?;
            self.error_protos.push(s.global(p));
        }
        self.put_builtin(s, ap, "push", B::ArrayPush)?;
        self.put_builtin(s, ap, "pop", B::ArrayPop)?;
        self.put_builtin(s, ap, "fill", B::ArrayFill)?;
        self.put_builtin(s, ap, "join", B::ArrayJoin)?;
        self.put_builtin(s, np, "toFixed", B::NumToFixed)?;

        let console = self.object_plain(s)?;
        self.put_builtin(s, console, "log", B::ConsoleLog)?;
        self.put(s, go, "console", console)?;
        let math = self.object_plain(s)?;
        for (n, b) in [
            ("max", B::MathMax),
            ("min", B::MathMin),
            ("floor", B::MathFloor),
            ("ceil", B::MathCeil),
            ("sqrt", B::MathSqrt),
            ("trunc", B::MathTrunc),
            ("abs", B::MathAbs),
            ("pow", B::MathPow),
        ] {
            self.put_builtin(s, math, n, b)?;
        }
        self.put(s, go, "Math", math)?;
        let perf = self.object_plain(s)?;
        self.put_builtin(s, perf, "now", B::PerfNow)?;
        self.put(s, go, "performance", perf)?;
        let date = self.object_plain(s)?;
        self.put_builtin(s, date, "now", B::DateNow)?;
        self.put(s, go, "Date", date)?;
        let process = self.object_plain(s)?;
        let argv = self.new_array(s, 0, None)?;
        for (i, a) in self.argv.clone().iter().enumerate() {
            let st = s.new_string(a)?.as_value();
            self.array_store(s, argv, i, st)?;
        }
        self.put(s, process, "argv", argv.as_value())?;
        self.put_builtin(s, process, "memoryUsage", B::MemoryUsage)?;
        self.put(s, go, "process", process)?;
        for (n, b) in [
            ("parseInt", B::ParseInt),
            ("String", B::StringCtor),
            ("Number", B::NumberCtor),
            ("Array", B::ArrayCtor),
            ("Float64Array", B::Float64ArrayCtor),
            ("require", B::Require),
            ("gc", B::Gc),
        ] {
            self.put_builtin(s, go, n, b)?;
        }
        for (i, n) in [(0, "Error"), (1, "RangeError"), (2, "TypeError")] {
            let ctor = self.builtin(s, [B::ErrorCtor, B::RangeErrorCtor, B::TypeErrorCtor][i])?;
            let p = s.open(&self.error_protos[i]);
            self.put(s, ctor, "prototype", p)?;
            self.put(s, go, n, ctor)?;
        }
        self.init_weak(s, go)?;
        let nan = num(s, f64::NAN)?;
        self.put(s, go, "NaN", nan)?;
        let inf = num(s, f64::INFINITY)?;
        self.put(s, go, "Infinity", inf)?;
        Ok(())
    }
}

fn statement_name(st: &Statement<'_>) -> &'static str {
    match st {
        Statement::ForInStatement(_) => "for-in",
        Statement::ForOfStatement(_) => "for-of",
        Statement::SwitchStatement(_) => "switch",
        Statement::LabeledStatement(_) => "labelled statement",
        Statement::WithStatement(_) => "with",
        Statement::ClassDeclaration(_) => "class",
        Statement::DebuggerStatement(_) => "debugger",
        _ => "this statement (import/export or TypeScript)",
    }
}

fn expression_name(e: &Expression<'_>) -> &'static str {
    match e {
        Expression::ClassExpression(_) => "class",
        Expression::BigIntLiteral(_) => "BigInt",
        Expression::RegExpLiteral(_) => "regular expression",
        Expression::AwaitExpression(_) => "await",
        Expression::YieldExpression(_) => "yield",
        Expression::TaggedTemplateExpression(_) => "tagged template",
        Expression::ChainExpression(_) => "optional chaining",
        Expression::Super(_) => "super",
        Expression::ImportExpression(_) => "import()",

        _ => "this expression",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use isogc::{HeapConfig, Isolate, Platform};
    use oxc_allocator::Allocator;
    use oxc_parser::Parser;
    use oxc_span::SourceType;

    /// Runs `src` and hands `check` the interpreter and a scope, to look at
    /// the globals it assigned.
    fn with_program(src: &str, check: impl FnOnce(&mut Interp<'_>, &mut HandleScope<'_>)) {
        let platform = Platform::new(1).unwrap();
        let mut isolate = Isolate::new(&platform, HeapConfig::default()).unwrap();
        let allocator = Allocator::default();
        let parsed = Parser::new(&allocator, src, SourceType::cjs()).parse();
        assert!(parsed.diagnostics.is_empty());
        let mut out = Vec::new();
        let mut scope = HandleScope::new(&mut isolate);
        let mut it = Interp::new(src, vec![], &mut out);
        assert!(it.init(&mut scope).is_ok());
        let id = it.script_info(&mut scope, &parsed.program).ok().unwrap();
        assert!(it.run_script(&mut scope, id).is_ok());
        scope.collect_garbage(isogc::GcRequest::Major);
        check(&mut it, &mut scope);
    }

    fn global<'s>(it: &mut Interp<'_>, s: &mut HandleScope<'s>, name: &str) -> V<'s> {
        let g = it.proto(s, &it.global_obj);
        let a = it.atom(s, name).ok().unwrap();
        it.get_prop(s, g, a, Span::default()).ok().unwrap()
    }

    #[test]
    fn objects_built_alike_share_a_hidden_class() {
        let src = "function P(x, y) { this.x = x; this.y = y; }\n\
                   a = new P(1, 2); b = new P(3, 4); c = { x: 1, y: 2 }; d = { x: 5, y: 6 }; e = { y: 1, x: 2 };";
        with_program(src, |it, s| {
            let shape = |it: &mut Interp<'_>, s: &mut HandleScope<'_>, n: &str| {
                let v = global(it, s, n);
                let o = s.cast::<Object, _>(v).expect("an object");
                it.shape_of(s, o)
            };
            assert_eq!(shape(it, s, "a"), shape(it, s, "b"), "two `new P` share a shape");
            assert_eq!(shape(it, s, "c"), shape(it, s, "d"), "two literals built alike share a shape");
            assert_ne!(shape(it, s, "c"), shape(it, s, "e"), "another property order is another shape");
            // The constructor learned its instances' size: the second has
            // exactly two in-object slots.
            let b = global(it, s, "b");
            let b = s.cast::<Object, _>(b).unwrap();
            assert_eq!(s.field_count(b), Kind::Plain.header() + 2);
        });
    }

    #[test]
    fn small_integers_are_smis_and_other_numbers_are_boxed() {
        let src = "i = 7; j = 3 * 4; f = 1.5; big = 2147483647 + 1; neg0 = -0; s = 'lit'; t = 'lit';";
        with_program(src, |it, s| {
            for (n, smi) in [("i", Some(7)), ("j", Some(12)), ("f", None), ("big", None), ("neg0", None)] {
                let v = global(it, s, n);
                assert_eq!(s.to_smi(v), smi, "{n}");
                if smi.is_none() {
                    assert_eq!(s.instance_type(v), Some(InstanceType::HeapNumber), "{n}");
                }
            }
            let (a, b) = (global(it, s, "s"), global(it, s, "t"));
            assert!(s.same_value(a, b), "string literals are one internalized string");
            assert_eq!(s.instance_type(a), Some(InstanceType::InternalizedString));
        });
    }
}

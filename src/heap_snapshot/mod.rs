//! Heap snapshots: V8's `.heapsnapshot` JSON, which Chrome DevTools' Memory
//! panel opens, and leak finding on top of it ([`analysis`]).
//!
//! Follows V8's `src/profiler/heap-snapshot-generator.cc` (the explorer
//! that names nodes and edges, and `HeapSnapshotJSONSerializer`); the
//! format and the invariants DevTools relies on are in
//! `papers/v8-heap-snapshot.md`. [`crate::Isolate::write_heap_snapshot`]
//! is the entry point.
//!
//! **Safepoint.** As V8's `HeapObjectsMap::UpdateHeapObjectsMap` does, a
//! snapshot starts with a full GC (a marking cycle in progress is
//! abandoned; sweeping is finished before and after it), so every object
//! left is live, no background marker or sweeper runs, and no page waits for
//! its sweep while the heap is walked. Nothing is allocated in the heap
//! while writing.
//!
//! **Streaming.** The header needs the node and edge counts, and every node
//! its edge count, before the arrays: the writer walks the objects three
//! times (count, nodes, edges), recomputing each object's edges instead of
//! storing them, and a fourth time at the end for the per-object names
//! (strings' texts, numbers' values), which it writes straight from the
//! heap rather than keeping them. What it keeps is one sorted address per
//! object (node index = position, found by binary search), the shared
//! names (map, field, root and edge names) and per-map caches: about
//! 8 bytes per object (`tests/heap_snapshot_memory.rs`).
//!
//! **Ids** are stable across snapshots of one isolate ([`ids`]).
//!
//! **Nodes and edges, by kind** (one function per kind below; a new object
//! kind adds one): a runtime object is an `object` named by its map's
//! layout name, with a `property` edge per tagged field its layout names
//! (an `element` edge by index otherwise) and an `internal` `map` edge; a
//! `FixedArray` an `array` with `element` edges; a string a `string` named
//! by its text (the first 1024 characters); a heap number a `number` named
//! "heap number" with an `internal` `value` edge to a string node holding
//! the value (V8's numerics mode); a map `hidden`, "system / Map (name)";
//! an oddball `hidden`, "system / Oddball". Smis are values, never nodes,
//! and edges to read-only objects (oddballs, built-in maps, the empty
//! array) are left out as V8 leaves out its "non-essential" objects, except
//! from the "(Read-only roots)" node that names them. Weak handles and
//! string-table entries are `weak` edges.

pub mod analysis;
pub(crate) mod ids;

pub(crate) use ids::SnapshotIds;

use crate::collector::GcRequest;
use crate::heap::page::flags;
use crate::heap::Heap;
use crate::isolate::Isolate;
use crate::object::{field_name, map_name, offsets, HeapObject, InstanceType, MapRef};
use crate::roots::{Root, RootSet};
use crate::value::Tagged;
use std::collections::HashMap;
use std::io::{self, Write};
use std::rc::Rc;
use std::time::{Duration, Instant};

/// What one heap snapshot held, and what writing it cost.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeapSnapshotInfo {
    /// Nodes written: heap objects, synthetic roots, heap-number values.
    pub nodes: usize,
    /// Edges written.
    pub edges: usize,
    /// Heap objects among the nodes.
    pub objects: usize,
    /// Distinct strings in the `strings` table.
    pub strings: usize,
    /// Bytes of JSON written.
    pub bytes: u64,
    /// Time of the GC that started the snapshot.
    pub gc_time: Duration,
    /// Time of the walk and the writing, after that GC.
    pub write_time: Duration,
}

/// V8's node types, in its `node_types` order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum NodeType {
    Hidden = 0,
    Array = 1,
    String = 2,
    Object = 3,
    Number = 7,
    Synthetic = 9,
}

/// V8's edge types, in its `edge_types` order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum EdgeType {
    Element = 1,
    Property = 2,
    Internal = 3,
    Weak = 6,
}

/// An edge's `name_or_index`: an index for element edges, a string for the
/// others.
#[derive(Clone, Copy)]
enum Label<'a> {
    Index(usize),
    Name(&'a str),
}

/// Fields per node and per edge, as the meta section declares them.
const NODE_FIELDS: usize = 7;

/// V8's names for its sub-roots, those isogc has.
const SUBROOTS: [&str; 4] = ["(Handle scope)", "(Global handles)", "(Internalized strings)", "(Read-only roots)"];
const ROOT_NODE: usize = 0;
const GC_ROOTS_NODE: usize = 1;
const HANDLE_SCOPE_NODE: usize = 2;
const GLOBAL_HANDLES_NODE: usize = 3;
const STRINGS_NODE: usize = 4;
const READ_ONLY_NODE: usize = 5;
/// Nodes before the first heap object.
const SYNTHETIC_NODES: usize = 2 + SUBROOTS.len();

/// V8 truncates the names of string nodes to this many characters.
const MAX_NAME_CHARS: usize = 1024;

const META: &str = concat!(
    r#"{"node_fields":["type","name","id","self_size","edge_count","trace_node_id","detachedness"],"#,
    r#""node_types":[["hidden","array","string","object","code","closure","regexp","number","native","synthetic","concatenated string","sliced string","symbol","bigint","object shape"],"string","number","number","number","number","number"],"#,
    r#""edge_fields":["type","name_or_index","to_node"],"#,
    r#""edge_types":[["context","element","property","internal","hidden","shortcut","weak"],"string_or_number","node"],"#,
    r#""trace_function_info_fields":["function_id","name","script_name","script_id","line","column"],"#,
    r#""trace_node_fields":["id","function_info_index","count","size","children"],"#,
    r#""sample_fields":["timestamp_us","last_assigned_id"],"#,
    r#""location_fields":["object_index","script_id","line","column"]}"#
);

impl Isolate {
    /// Writes a heap snapshot of this isolate to `out`, in V8's
    /// `.heapsnapshot` JSON format (open it in Chrome DevTools: Memory panel,
    /// "Load profile"; or read it with [`analysis::HeapSnapshot`]).
    ///
    /// Starts with a full GC (recorded as a requested major GC), so only live
    /// objects appear; any marking cycle or sweeping in progress is finished
    /// or abandoned first. Node ids are stable across the snapshots of one
    /// isolate, so two of them can be compared. The output is streamed: the
    /// extra memory is about 8 bytes per object plus the strings' text.
    ///
    /// An error of `out` is returned as it is; the isolate stays usable (the
    /// heap is not changed by writing).
    ///
    /// # Panics
    /// As [`Isolate::collect_garbage`]; or if heap verification is on
    /// ([`crate::HeapConfig::verify_heap`]) and finds the heap corrupt.
    pub fn write_heap_snapshot(&mut self, out: impl Write) -> io::Result<HeapSnapshotInfo> {
        let start = Instant::now();
        self.collect_garbage(GcRequest::Major);
        self.collect_garbage(GcRequest::FinishSweeping);
        debug_assert!(self.gc.marking.is_none() && self.gc.sweeping.is_none());
        let gc_time = start.elapsed();
        let start = Instant::now();
        let mut counted = CountingWriter { inner: io::BufWriter::with_capacity(1 << 16, out), bytes: 0 };
        let r = Snapshot::new(&mut self.heap).write(&mut counted);
        let flushed = counted.flush();
        if self.heap.config.verify_heap {
            if let Err(e) = crate::verifier::verify(&self.heap, false) {
                panic!("isogc heap verification failed after a heap snapshot (isolate {}): {e}", self.heap.id);
            }
        }
        let (nodes, edges, objects, strings) = r?;
        flushed?;
        Ok(HeapSnapshotInfo {
            nodes,
            edges,
            objects,
            strings,
            bytes: counted.bytes,
            gc_time,
            write_time: start.elapsed(),
        })
    }

    /// [`Isolate::write_heap_snapshot`] into a new file at `path`
    /// (conventionally named `*.heapsnapshot`).
    pub fn write_heap_snapshot_to(&mut self, path: impl AsRef<std::path::Path>) -> io::Result<HeapSnapshotInfo> {
        let file = std::fs::File::create(path)?;
        let info = self.write_heap_snapshot(&file)?;
        file.sync_data().ok();
        Ok(info)
    }

    /// Number of objects that have a heap-snapshot id (those alive at the
    /// last snapshot and still alive): 0 until the first snapshot, which is
    /// when the id table starts costing the collector anything.
    pub fn heap_snapshot_ids(&self) -> usize {
        self.heap.roots.snapshot_ids.len()
    }
}

struct CountingWriter<W: Write> {
    inner: W,
    bytes: u64,
}

impl<W: Write> Write for CountingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// The name and field names of one map, looked up once per snapshot.
struct MapInfo {
    /// The node name of the map's instances.
    instance_name: Rc<str>,
    /// The node name of the map itself.
    map_name: Rc<str>,
    field_names: Vec<Option<Rc<str>>>,
}

/// The deduplicated shared names of the `strings` table, numbered from
/// `first` on (see [`Snapshot::write`]).
struct Strings {
    ids: HashMap<Rc<str>, u32>,
    first: u32,
}

impl Strings {
    fn new(first: u32) -> Strings {
        Strings { ids: HashMap::new(), first }
    }

    fn id(&mut self, s: &str) -> u32 {
        if let Some(&id) = self.ids.get(s) {
            return id;
        }
        let id = self.first + self.ids.len() as u32;
        self.ids.insert(Rc::from(s), id);
        id
    }
}

/// Where an object kind's edges go: counted, or written.
trait EdgeSink {
    fn edge(&mut self, ty: EdgeType, label: Label<'_>, to: usize) -> io::Result<()>;
}

struct Count(usize);

impl EdgeSink for Count {
    fn edge(&mut self, _: EdgeType, _: Label<'_>, _: usize) -> io::Result<()> {
        self.0 += 1;
        Ok(())
    }
}

struct Emit<'w> {
    out: &'w mut dyn Write,
    strings: &'w mut Strings,
    first: bool,
}

impl EdgeSink for Emit<'_> {
    fn edge(&mut self, ty: EdgeType, label: Label<'_>, to: usize) -> io::Result<()> {
        let name_or_index = match label {
            Label::Index(i) => i as u64,
            Label::Name(n) => self.strings.id(n) as u64,
        };
        let sep = if std::mem::take(&mut self.first) { "" } else { "," };
        write_numbers(self.out, sep, &[ty as u64, name_or_index, (to * NODE_FIELDS) as u64])
    }
}

/// Writes `sep` then the numbers, comma-separated, then a newline (V8's
/// one line per node or edge).
fn write_numbers(out: &mut dyn Write, sep: &str, values: &[u64]) -> io::Result<()> {
    let mut buf = [0u8; 8 * 21 + 2];
    let mut n = 0;
    for &b in sep.as_bytes() {
        buf[n] = b;
        n += 1;
    }
    for (i, &v) in values.iter().enumerate() {
        if i > 0 {
            buf[n] = b',';
            n += 1;
        }
        let mut digits = [0u8; 20];
        let (mut v, mut d) = (v, 0);
        loop {
            digits[d] = b'0' + (v % 10) as u8;
            d += 1;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        for k in (0..d).rev() {
            buf[n] = digits[k];
            n += 1;
        }
    }
    buf[n] = b'\n';
    out.write_all(&buf[..=n])
}

/// Writes `s` as a JSON string literal.
fn write_json_string(out: &mut dyn Write, s: &str) -> io::Result<()> {
    out.write_all(b"\"")?;
    let bytes = s.as_bytes();
    let mut from = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f => b"",
            _ => continue,
        };
        out.write_all(&bytes[from..i])?;
        if esc.is_empty() {
            write!(out, "\\u{b:04x}")?;
        } else {
            out.write_all(esc)?;
        }
        from = i + 1;
    }
    out.write_all(&bytes[from..])?;
    out.write_all(b"\"")
}

/// JavaScript's spelling of a number (for the value of a heap number).
fn number_text(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "Infinity" } else { "-Infinity" }.into()
    } else {
        format!("{v}")
    }
}

/// The first [`MAX_NAME_CHARS`] characters of `s`.
fn truncated(s: &str) -> &str {
    match s.char_indices().nth(MAX_NAME_CHARS) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// One snapshot being written: the heap, walked three times.
struct Snapshot<'h> {
    heap: &'h mut Heap,
    /// Every object's address, sorted: node index = SYNTHETIC_NODES + position.
    objects: Vec<usize>,
    /// String objects and heap numbers among them.
    string_objects: usize,
    numbers: usize,
    /// Heap numbers seen so far in this pass: the k-th one's value node is
    /// node `SYNTHETIC_NODES + objects.len() + k`.
    numbers_seen: usize,
    /// String objects described so far: the k-th one's name is string `1 + k`.
    strings_seen: usize,
    /// Where the description of value nodes looks for the next heap number.
    value_cursor: usize,
    /// A counting pass: edges need no target node index.
    counting: bool,
    maps: HashMap<usize, Rc<MapInfo>>,
}

/// The UTF-8 bytes of a string object.
fn string_bytes<'a>(s: HeapObject) -> &'a [u8] {
    s.bytes(offsets::STRING_HEADER_WORDS * crate::heap::WORD, s.smi_word(offsets::LENGTH))
}

impl<'h> Snapshot<'h> {
    fn new(heap: &'h mut Heap) -> Snapshot<'h> {
        // Counted first, so the address vector is allocated once, exactly.
        let mut n = 0;
        heap.for_each_object(|o, _| n += !o.instance_type().is_filler() as usize);
        let mut objects = Vec::with_capacity(n);
        let (mut numbers, mut string_objects) = (0, 0);
        let heap_number_map = heap.ro_roots.heap_number_map;
        heap.for_each_object(|o, _| {
            let t = o.instance_type();
            if !t.is_filler() {
                objects.push(o.address());
                numbers += (o.map_word() == heap_number_map) as usize;
                string_objects += matches!(t, InstanceType::String | InstanceType::InternalizedString) as usize;
            }
        });
        objects.sort_unstable();
        // Room for every id up front: no rehash, no transient doubling.
        let ids = &mut heap.roots.snapshot_ids;
        ids.reserve(objects.len().saturating_sub(ids.len()));
        Snapshot {
            heap,
            objects,
            string_objects,
            numbers,
            numbers_seen: 0,
            strings_seen: 0,
            value_cursor: 0,
            counting: false,
            maps: HashMap::new(),
        }
    }

    fn node_count(&self) -> usize {
        SYNTHETIC_NODES + self.objects.len() + self.numbers
    }

    /// The node of the object `t` points to; `None` for a Smi, or an object
    /// in read-only space when `read_only` is false (see the module docs).
    /// In a counting pass, any node (`Some(0)`).
    fn node_of(&self, t: Tagged, read_only: bool) -> Option<usize> {
        if !t.is_heap_object() {
            return None;
        }
        // SAFETY: `t` is a root or a field of a live object (the heap was
        // just collected), so it points to a live object.
        if !read_only && unsafe { HeapObject::from_tagged(t) }.page().has(flags::READ_ONLY) {
            return None;
        }
        if self.counting {
            return Some(0);
        }
        match self.objects.binary_search(&t.address()) {
            Ok(i) => Some(SYNTHETIC_NODES + i),
            Err(_) => panic!("isogc heap snapshot: {:#x} is referenced but is no object start", t.address()),
        }
    }

    fn map_info(&mut self, map: MapRef) -> Rc<MapInfo> {
        self.maps
            .entry(map.0.address())
            .or_insert_with(|| {
                let name = map_name(map);
                let field_names =
                    (0..map.tagged_fields()).map(|i| field_name(map, i).map(|n| Rc::from(n.as_str()))).collect();
                let (instance_name, map_name): (Rc<str>, Rc<str>) = match name {
                    Some(n) => (Rc::from(n.as_str()), Rc::from(format!("system / Map ({n})").as_str())),
                    None => (Rc::from(""), Rc::from("system / Map")),
                };
                Rc::new(MapInfo { instance_name, map_name, field_names })
            })
            .clone()
    }

    /// Counts the edges of `node`.
    fn edge_count(&mut self, node: usize) -> io::Result<usize> {
        let mut n = Count(0);
        self.counting = true;
        let r = self.edges_of(node, &mut n);
        self.counting = false;
        r.map(|()| n.0)
    }

    /// Writes the whole snapshot; returns (nodes, edges, objects, strings).
    ///
    /// The `strings` table holds, after V8's `<dummy>`, first the text of
    /// every string object and the value of every heap number, in node
    /// order (so their names need no table while writing: string `1 + k`
    /// names the k-th string object), then the deduplicated shared names
    /// (map and field names, synthetic nodes, edge names).
    fn write(mut self, out: &mut dyn Write) -> io::Result<(usize, usize, usize, usize)> {
        let nodes = self.node_count();
        let mut edges = 0;
        for node in 0..nodes {
            edges += self.edge_count(node)?;
        }
        let per_object = (1 + self.string_objects + self.numbers) as u32;
        let mut strings = Strings::new(per_object);
        write!(out, "{{\"snapshot\":{{\"meta\":{META},\"node_count\":{nodes},\"edge_count\":{edges},\"trace_function_count\":0}},\n\"nodes\":[")?;
        self.numbers_seen = 0;
        for node in 0..nodes {
            let (ty, name, id, size) = self.describe(node, &mut strings);
            let n = self.edge_count(node)?;
            let sep = if node == 0 { "" } else { "," };
            write_numbers(out, sep, &[ty as u64, name as u64, id as u64, size as u64, n as u64, 0, 0])?;
        }
        out.write_all(b"],\n\"edges\":[")?;
        self.numbers_seen = 0;
        let mut emit = Emit { out, strings: &mut strings, first: true };
        for node in 0..nodes {
            self.edges_of(node, &mut emit)?;
        }
        out.write_all(b"],\n\"trace_function_infos\":[],\n\"trace_tree\":[],\n\"samples\":[],\n\"locations\":[],\n\"strings\":[\"<dummy>\"")?;
        // The per-object names, walked again in node order.
        let heap_number_map = self.heap.ro_roots.heap_number_map;
        for pass in [InstanceType::String, InstanceType::HeapNumber] {
            for &addr in &self.objects {
                // SAFETY: an object start found by the walk of the collected heap.
                let o = unsafe { HeapObject::from_address(addr) };
                let ty = o.instance_type();
                if pass == InstanceType::String && matches!(ty, InstanceType::String | InstanceType::InternalizedString)
                {
                    out.write_all(b",\n")?;
                    write_json_string(out, truncated(&String::from_utf8_lossy(string_bytes(o))))?;
                } else if pass == InstanceType::HeapNumber && o.map_word() == heap_number_map {
                    out.write_all(b",\n")?;
                    write_json_string(out, &number_text(f64::from_bits(o.word(offsets::NUMBER_VALUE) as u64)))?;
                }
            }
        }
        let mut table: Vec<(u32, Rc<str>)> = strings.ids.into_iter().map(|(s, id)| (id, s)).collect();
        table.sort_unstable_by_key(|&(id, _)| id);
        for (_, s) in &table {
            out.write_all(b",\n")?;
            write_json_string(out, s)?;
        }
        out.write_all(b"]}\n")?;
        Ok((nodes, edges, self.objects.len(), per_object as usize + table.len()))
    }

    /// A node's (type, name's string id, id, self size).
    fn describe(&mut self, node: usize, strings: &mut Strings) -> (NodeType, u32, u32, usize) {
        use ids::*;
        if node < SYNTHETIC_NODES {
            let (name, id) = match node {
                ROOT_NODE => ("", ROOT_ID),
                GC_ROOTS_NODE => ("(GC roots)", GC_ROOTS_ID),
                n => (SUBROOTS[n - 2], FIRST_SUBROOT_ID + 2 * (n as u32 - 2)),
            };
            return (NodeType::Synthetic, strings.id(name), id, 0);
        }
        let i = node - SYNTHETIC_NODES;
        if let Some(&addr) = self.objects.get(i) {
            // SAFETY: an object start found by the walk of the collected heap.
            let o = unsafe { HeapObject::from_address(addr) };
            let id = self.heap.roots.snapshot_ids.id_of(o.tagged());
            if matches!(o.instance_type(), InstanceType::String | InstanceType::InternalizedString) {
                self.strings_seen += 1;
                return (NodeType::String, self.strings_seen as u32, id, o.size());
            }
            let (ty, name) = self.object_node(o);
            return (ty, strings.id(&name), id, o.size());
        }
        // The value of the next heap number (value nodes are described in
        // order), whose node has the even id after the number's own.
        let heap_number_map = self.heap.ro_roots.heap_number_map;
        // SAFETY: object starts found by the walk of the collected heap.
        let is_number = |a: usize| unsafe { HeapObject::from_address(a) }.map_word() == heap_number_map;
        while !is_number(self.objects[self.value_cursor]) {
            self.value_cursor += 1;
        }
        // SAFETY: as above.
        let number = unsafe { HeapObject::from_address(self.objects[self.value_cursor]) };
        self.value_cursor += 1;
        let k = i - self.objects.len();
        let id = self.heap.roots.snapshot_ids.id_of(number.tagged()) + 1;
        (NodeType::String, (1 + self.string_objects + k) as u32, id, 0)
    }

    /// The type and name of an object's node, by kind.
    fn object_node(&mut self, o: HeapObject) -> (NodeType, Rc<str>) {
        let map = MapRef(o.map());
        let ro = &self.heap.ro_roots;
        if map.0.address() == ro.allocation_memento_map {
            return (NodeType::Hidden, Rc::from("system / AllocationMemento"));
        }
        match map.instance_type() {
            InstanceType::Object => (NodeType::Object, self.map_info(map).instance_name.clone()),
            InstanceType::FixedArray => (NodeType::Array, Rc::from("FixedArray")),
            InstanceType::ByteArray => (NodeType::Array, Rc::from("ByteArray")),
            InstanceType::String | InstanceType::InternalizedString => unreachable!("strings name themselves"),
            InstanceType::HeapNumber => (NodeType::Number, Rc::from("heap number")),
            InstanceType::Oddball => (NodeType::Hidden, Rc::from("system / Oddball")),
            InstanceType::Map => {
                let m = MapRef(o);
                let name = if m.instance_type() == InstanceType::Object {
                    self.map_info(m).map_name.clone()
                } else {
                    Rc::from("system / Map")
                };
                (NodeType::Hidden, name)
            }
            InstanceType::EphemeronTable => (NodeType::Object, Rc::from("EphemeronTable")),
            InstanceType::WeakRef => (NodeType::Object, Rc::from("WeakRef")),
            InstanceType::FinalizationRegistry => (NodeType::Object, Rc::from("FinalizationRegistry")),
            InstanceType::FreeSpace | InstanceType::Filler => unreachable!("fillers are not nodes"),
        }
    }

    /// Calls `sink` for every edge of `node`, in order.
    fn edges_of(&mut self, node: usize, sink: &mut dyn EdgeSink) -> io::Result<()> {
        if node < SYNTHETIC_NODES {
            return self.root_edges(node, sink);
        }
        match self.objects.get(node - SYNTHETIC_NODES) {
            // SAFETY: an object start found by the walk of the collected heap.
            Some(&addr) => self.object_edges(unsafe { HeapObject::from_address(addr) }, sink),
            None => Ok(()), // a heap number's value has no edges
        }
    }

    /// The edges of the synthetic roots.
    fn root_edges(&mut self, node: usize, sink: &mut dyn EdgeSink) -> io::Result<()> {
        let mut r = Ok(());
        match node {
            ROOT_NODE => sink.edge(EdgeType::Element, Label::Index(1), GC_ROOTS_NODE)?,
            GC_ROOTS_NODE => {
                for i in 0..SUBROOTS.len() {
                    sink.edge(EdgeType::Element, Label::Index(i + 1), 2 + i)?;
                }
            }
            HANDLE_SCOPE_NODE => self.heap.roots.for_each(RootSet::LOCALS, |root, v| {
                if let (true, Root::Local(i), Some(to)) = (r.is_ok(), root, self.node_of(v, false)) {
                    r = sink.edge(EdgeType::Element, Label::Index(i), to);
                }
            }),
            GLOBAL_HANDLES_NODE => {
                for set in [RootSet::GLOBALS, RootSet::WEAK_HANDLES] {
                    self.heap.roots.for_each(set, |root, v| {
                        let Some(to) = self.node_of(v, false).filter(|_| r.is_ok()) else { return };
                        r = match root {
                            Root::Global(i) => sink.edge(EdgeType::Element, Label::Index(i), to),
                            Root::Weak(_) => sink.edge(EdgeType::Weak, Label::Name("weak handle"), to),
                            _ => Ok(()),
                        };
                    });
                }
            }
            STRINGS_NODE => self.heap.roots.for_each(RootSet::STRINGS, |_, v| {
                if let (true, Some(to)) = (r.is_ok(), self.node_of(v, false)) {
                    r = sink.edge(EdgeType::Weak, Label::Name("entry"), to);
                }
            }),
            READ_ONLY_NODE => {
                let named = self.heap.ro_roots.named();
                for (name, addr) in named {
                    let to = self.node_of(Tagged::from_address(addr), true).expect("read-only roots are objects");
                    sink.edge(EdgeType::Internal, Label::Name(name), to)?;
                }
            }
            _ => unreachable!("synthetic node {node}"),
        }
        r
    }

    /// The edges of one object, by kind: one function per kind.
    fn object_edges(&mut self, o: HeapObject, sink: &mut dyn EdgeSink) -> io::Result<()> {
        let map = MapRef(o.map());
        if map.0.address() == self.heap.ro_roots.allocation_memento_map {
            return Ok(());
        }
        match map.instance_type() {
            InstanceType::Object => self.runtime_object_edges(o, map, sink),
            InstanceType::FixedArray => self.fixed_array_edges(o, sink),
            InstanceType::Map => self.map_edges(MapRef(o), sink),
            InstanceType::HeapNumber => self.heap_number_edges(sink),
            InstanceType::EphemeronTable => self.ephemeron_table_edges(o, sink),
            InstanceType::WeakRef => self.weak_ref_edges(o, sink),
            InstanceType::FinalizationRegistry
            | InstanceType::ByteArray
            | InstanceType::String
            | InstanceType::InternalizedString
            | InstanceType::Oddball
            | InstanceType::FreeSpace
            | InstanceType::Filler => Ok(()),
        }
    }

    /// A runtime object: a `property` edge per named tagged field (an
    /// `element` edge by index when the layout names none), then its map.
    fn runtime_object_edges(&mut self, o: HeapObject, map: MapRef, sink: &mut dyn EdgeSink) -> io::Result<()> {
        let info = self.map_info(map);
        for i in 0..map.tagged_fields() {
            let Some(to) = self.node_of(o.field(1 + i), false) else { continue };
            match info.field_names.get(i).and_then(|n| n.as_deref()) {
                Some(name) => sink.edge(EdgeType::Property, Label::Name(name), to)?,
                None => sink.edge(EdgeType::Element, Label::Index(i), to)?,
            }
        }
        let to = self.node_of(map.0.tagged(), false).expect("a runtime map is no read-only object");
        sink.edge(EdgeType::Internal, Label::Name("map"), to)
    }

    /// An ephemeron table (a WeakMap): per entry, a weak edge to its key and
    /// an internal edge to its value (V8 names a WeakMap's value edges by
    /// their key; the value lives only while the key does).
    fn ephemeron_table_edges(&mut self, o: HeapObject, sink: &mut dyn EdgeSink) -> io::Result<()> {
        let id = o.smi_word(offsets::SIDE_ID) as u32;
        let entries: Vec<(usize, usize)> =
            self.heap.roots.ephemerons.lock().table(id).entries.iter().map(|e| (e.key, e.value)).collect();
        for (key, value) in entries {
            if let Some(to) = self.node_of(Tagged(key), false) {
                sink.edge(EdgeType::Weak, Label::Name("key"), to)?;
            }
            if let Some(to) = self.node_of(Tagged(value), false) {
                sink.edge(EdgeType::Internal, Label::Name("value"), to)?;
            }
        }
        Ok(())
    }

    /// A WeakRef: a weak edge to its target, if it has not been cleared.
    fn weak_ref_edges(&mut self, o: HeapObject, sink: &mut dyn EdgeSink) -> io::Result<()> {
        match self.node_of(o.field(offsets::WEAK_REF_TARGET), false) {
            Some(to) => sink.edge(EdgeType::Weak, Label::Name("target"), to),
            None => Ok(()),
        }
    }

    /// A `FixedArray`: an `element` edge per element that is an object.
    fn fixed_array_edges(&mut self, o: HeapObject, sink: &mut dyn EdgeSink) -> io::Result<()> {
        for i in 0..o.smi_word(offsets::LENGTH) {
            if let Some(to) = self.node_of(o.field(offsets::ARRAY_HEADER_WORDS + i), false) {
                sink.edge(EdgeType::Element, Label::Index(i), to)?;
            }
        }
        Ok(())
    }

    /// A map: its layout's name and field names.
    fn map_edges(&mut self, m: MapRef, sink: &mut dyn EdgeSink) -> io::Result<()> {
        if let Some(to) = self.node_of(m.0.field(offsets::MAP_NAME), false) {
            sink.edge(EdgeType::Internal, Label::Name("name"), to)?;
        }
        if let Some(to) = self.node_of(m.0.field(offsets::MAP_FIELD_NAMES), false) {
            sink.edge(EdgeType::Internal, Label::Name("field_names"), to)?;
        }
        Ok(())
    }

    /// A heap number: an `internal` `value` edge to the node of its value.
    fn heap_number_edges(&mut self, sink: &mut dyn EdgeSink) -> io::Result<()> {
        let to = SYNTHETIC_NODES + self.objects.len() + self.numbers_seen;
        self.numbers_seen += 1;
        sink.edge(EdgeType::Internal, Label::Name("value"), to)
    }
}

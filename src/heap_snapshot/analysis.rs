//! Leak finding on heap snapshots, in Rust: load a `.heapsnapshot` (ours,
//! or V8's: the reader follows the file's own `meta` section), list the
//! classes whose instance counts grew between two snapshots, and follow a
//! shortest retaining path from the roots to an object, as DevTools'
//! Comparison view and Retainers pane do.
//!
//! ```
//! use isogc::*;
//! use isogc::heap_snapshot::analysis::HeapSnapshot;
//!
//! let platform = Platform::new(1)?;
//! let mut isolate = Isolate::new(&platform, HeapConfig::default())?;
//! let mut scope = HandleScope::new(&mut isolate);
//! let cache = scope.new_map(&ObjectLayout::new("Cache", 1, 0).with_field_names(["entries"]))?;
//! let keep = {
//!     let mut s = HandleScope::new(&mut scope);
//!     let c = s.new_object(cache)?;
//!     let entries = s.new_fixed_array(8)?;
//!     s.set(c, 0, entries);
//!     s.global(c)
//! };
//! let mut before = Vec::new();
//! scope.write_heap_snapshot(&mut before)?;
//! let entry = scope.new_map(&ObjectLayout::new("Entry", 0, 8))?;
//! {
//!     let mut s = HandleScope::new(&mut scope);
//!     let c = s.open(&keep);
//!     let c = s.cast::<Object, _>(c).unwrap();
//!     let entries = s.get(c, 0);
//!     let entries = s.cast::<FixedArray, _>(entries).unwrap();
//!     for i in 0..5 {
//!         let e = s.new_object(entry)?; // the leak: entries nobody removes
//!         s.set(entries, i, e);
//!     }
//! }
//! let mut after = Vec::new();
//! scope.write_heap_snapshot(&mut after)?;
//! let (before, after) = (HeapSnapshot::parse(&before[..])?, HeapSnapshot::parse(&after[..])?);
//! let growth = after.growth_since(&before);
//! assert_eq!((growth[0].name.as_str(), growth[0].before, growth[0].after), ("Entry", 0, 5));
//! let leaked = growth[0].new_ids[0];
//! let path = after.retaining_path(after.node_by_id(leaked).unwrap()).unwrap();
//! assert_eq!(
//!     after.path_text(&path),
//!     ["(root)[1]", "(GC roots)[2]", "(Global handles)[0]", "Cache.entries", "FixedArray[0]", "Entry"]
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::io::Read;

/// Why a snapshot could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// Reading failed.
    #[error("reading the heap snapshot: {0}")]
    Io(#[from] std::io::Error),
    /// The text is not JSON.
    #[error("heap snapshot is not valid JSON at byte {offset}: {what}")]
    Syntax {
        /// Where the parser stopped.
        offset: usize,
        /// What it expected.
        what: &'static str,
    },
    /// JSON, but not a heap snapshot (a section or field is missing or
    /// inconsistent).
    #[error("not a heap snapshot: {0}")]
    Format(String),
}

/// A loaded heap snapshot: the flat arrays of the file, with accessors.
#[derive(Debug)]
pub struct HeapSnapshot {
    node_fields: usize,
    edge_fields: usize,
    /// Offsets of the fields within a node / an edge.
    n_type: usize,
    n_name: usize,
    n_id: usize,
    n_size: usize,
    n_edges: usize,
    e_type: usize,
    e_name: usize,
    e_to: usize,
    node_types: Vec<String>,
    edge_types: Vec<String>,
    nodes: Vec<u64>,
    edges: Vec<u64>,
    strings: Vec<String>,
    /// Index of each node's first edge.
    first_edge: Vec<usize>,
}

/// One node of a snapshot, by value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    /// Position in the snapshot (0 is the root).
    pub index: usize,
    /// The node type's name (`object`, `array`, `string`, `synthetic`, ...).
    pub kind: String,
    /// The node's name (an object's map name, a string's text, ...).
    pub name: String,
    /// The stable id.
    pub id: u64,
    /// Bytes of the object itself.
    pub self_size: u64,
    /// Number of outgoing edges.
    pub edge_count: usize,
}

/// One edge of a snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Edge {
    /// The edge type's name (`property`, `element`, `internal`, `weak`, ...).
    pub kind: String,
    /// The field name, or the element index as text.
    pub name: String,
    /// The node it points to.
    pub to: usize,
}

/// One step of a retaining path: the node, and the edge that led to it
/// from the previous step (`None` for the first step, the root).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathStep {
    /// The node reached.
    pub node: usize,
    /// The edge taken to reach it.
    pub via: Option<Edge>,
}

/// A class whose instance count grew between two snapshots.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Growth {
    /// The class: the node name for objects, arrays and hidden nodes;
    /// `(string)` and `(heap number)` for all strings and numbers.
    pub name: String,
    /// Instances in the earlier snapshot.
    pub before: usize,
    /// Instances in the later one.
    pub after: usize,
    /// Bytes of the instances, before and after.
    pub bytes_before: u64,
    /// Bytes of the instances in the later snapshot.
    pub bytes_after: u64,
    /// Ids of the instances of the later snapshot that the earlier one did
    /// not have (at most 100, lowest first).
    pub new_ids: Vec<u64>,
}

impl HeapSnapshot {
    /// Reads a snapshot from `input` (all of it, then parses).
    pub fn parse(mut input: impl Read) -> Result<HeapSnapshot, SnapshotError> {
        let mut text = Vec::new();
        input.read_to_end(&mut text)?;
        let root = Parser { s: &text, i: 0 }.document()?;
        HeapSnapshot::from_json(root)
    }

    /// Reads the snapshot file at `path`.
    pub fn from_path(path: impl AsRef<std::path::Path>) -> Result<HeapSnapshot, SnapshotError> {
        HeapSnapshot::parse(std::io::BufReader::new(std::fs::File::open(path)?))
    }

    fn from_json(root: Json) -> Result<HeapSnapshot, SnapshotError> {
        let bad = |what: &str| SnapshotError::Format(what.to_string());
        let Json::Object(mut top) = root else { return Err(bad("the top level is no object")) };
        let mut take = |k: &str| top.remove(k).ok_or_else(|| SnapshotError::Format(format!("no \"{k}\" section")));
        let snapshot = take("snapshot")?;
        let (nodes, edges, strings) = (take("nodes")?, take("edges")?, take("strings")?);
        let meta = snapshot.get("meta").ok_or_else(|| bad("no snapshot.meta"))?;
        let names = |k: &str| -> Result<Vec<String>, SnapshotError> {
            meta.get(k).and_then(Json::strings).ok_or_else(|| SnapshotError::Format(format!("no meta.{k}")))
        };
        let (node_fields, edge_fields) = (names("node_fields")?, names("edge_fields")?);
        let types = |k: &str| -> Result<Vec<String>, SnapshotError> {
            match meta.get(k) {
                Some(Json::Array(a)) => a.first().and_then(Json::strings),
                _ => None,
            }
            .ok_or_else(|| SnapshotError::Format(format!("no meta.{k}[0]")))
        };
        let (node_types, edge_types) = (types("node_types")?, types("edge_types")?);
        let field = |fields: &[String], f: &str| {
            fields.iter().position(|x| x == f).ok_or_else(|| SnapshotError::Format(format!("no field {f}")))
        };
        let nodes = nodes.numbers().ok_or_else(|| bad("nodes is not an array of numbers"))?;
        let edges = edges.numbers().ok_or_else(|| bad("edges is not an array of numbers"))?;
        let strings = strings.strings().ok_or_else(|| bad("strings is not an array of strings"))?;
        let mut s = HeapSnapshot {
            node_fields: node_fields.len(),
            edge_fields: edge_fields.len(),
            n_type: field(&node_fields, "type")?,
            n_name: field(&node_fields, "name")?,
            n_id: field(&node_fields, "id")?,
            n_size: field(&node_fields, "self_size")?,
            n_edges: field(&node_fields, "edge_count")?,
            e_type: field(&edge_fields, "type")?,
            e_name: field(&edge_fields, "name_or_index")?,
            e_to: field(&edge_fields, "to_node")?,
            node_types,
            edge_types,
            nodes,
            edges,
            strings,
            first_edge: Vec::new(),
        };
        if s.nodes.len() % s.node_fields != 0 || s.edges.len() % s.edge_fields != 0 {
            return Err(bad("nodes or edges is not a whole number of records"));
        }
        let mut next = 0;
        s.first_edge = (0..s.node_count())
            .map(|i| {
                let first = next;
                next += s.raw_node(i, s.n_edges) as usize;
                first
            })
            .collect();
        if next != s.edge_count() {
            return Err(SnapshotError::Format(format!("edge counts add up to {next}, not {}", s.edge_count())));
        }
        for e in 0..s.edge_count() {
            let to = s.edges[e * s.edge_fields + s.e_to] as usize;
            if to % s.node_fields != 0 || to / s.node_fields >= s.node_count() {
                return Err(SnapshotError::Format(format!("edge {e} points to {to}, no node")));
            }
        }
        for i in 0..s.node_count() {
            if s.raw_node(i, s.n_name) as usize >= s.strings.len() {
                return Err(SnapshotError::Format(format!("node {i} names no string")));
            }
        }
        Ok(s)
    }

    fn raw_node(&self, i: usize, f: usize) -> u64 {
        self.nodes[i * self.node_fields + f]
    }

    /// Number of nodes.
    pub fn node_count(&self) -> usize {
        self.nodes.len() / self.node_fields
    }

    /// Number of edges.
    pub fn edge_count(&self) -> usize {
        self.edges.len() / self.edge_fields
    }

    /// Node `index`.
    ///
    /// # Panics
    /// If `index` is not below [`HeapSnapshot::node_count`].
    pub fn node(&self, index: usize) -> Node {
        assert!(index < self.node_count(), "node {index} of a snapshot of {} nodes", self.node_count());
        Node {
            index,
            kind: self.kind_of(index).to_string(),
            name: self.name_of(index).to_string(),
            id: self.raw_node(index, self.n_id),
            self_size: self.raw_node(index, self.n_size),
            edge_count: self.raw_node(index, self.n_edges) as usize,
        }
    }

    fn kind_of(&self, index: usize) -> &str {
        self.node_types.get(self.raw_node(index, self.n_type) as usize).map_or("?", String::as_str)
    }

    fn name_of(&self, index: usize) -> &str {
        &self.strings[self.raw_node(index, self.n_name) as usize]
    }

    /// Every node, in order.
    pub fn nodes(&self) -> impl Iterator<Item = Node> + '_ {
        (0..self.node_count()).map(|i| self.node(i))
    }

    /// The node with id `id`.
    pub fn node_by_id(&self, id: u64) -> Option<usize> {
        (0..self.node_count()).find(|&i| self.raw_node(i, self.n_id) == id)
    }

    /// The instances of class `class` (see [`Growth::name`]): the objects,
    /// arrays and hidden nodes named `class`, or every string for
    /// `(string)`, every heap number for `(heap number)`.
    pub fn instances_of<'a>(&'a self, class: &'a str) -> impl Iterator<Item = usize> + 'a {
        (0..self.node_count()).filter(move |&i| self.class_of(i) == Some(class))
    }

    /// The nodes named `name`, of any kind (a string's name is its text).
    pub fn nodes_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = usize> + 'a {
        (0..self.node_count()).filter(move |&i| self.name_of(i) == name)
    }

    fn edge(&self, e: usize) -> Edge {
        let r = &self.edges[e * self.edge_fields..(e + 1) * self.edge_fields];
        let kind = self.edge_types.get(r[self.e_type] as usize).map_or("?", String::as_str);
        let name = if kind == "element" || kind == "hidden" {
            r[self.e_name].to_string()
        } else {
            self.strings.get(r[self.e_name] as usize).cloned().unwrap_or_default()
        };
        Edge { kind: kind.to_string(), name, to: r[self.e_to] as usize / self.node_fields }
    }

    /// The outgoing edges of node `index`.
    pub fn edges_of(&self, index: usize) -> impl Iterator<Item = Edge> + '_ {
        let first = self.first_edge[index];
        (first..first + self.raw_node(index, self.n_edges) as usize).map(|e| self.edge(e))
    }

    /// The nodes with an edge to `index`, and those edges (a walk over
    /// every edge).
    pub fn retainers(&self, index: usize) -> Vec<(usize, Edge)> {
        let mut out = Vec::new();
        for from in 0..self.node_count() {
            out.extend(self.edges_of(from).filter(|e| e.to == index).map(|e| (from, e)));
        }
        out
    }

    /// A shortest retaining path from the root (node 0) to `index` over
    /// strong edges (weak edges do not retain), or `None` if nothing
    /// strong reaches it.
    pub fn retaining_path(&self, index: usize) -> Option<Vec<PathStep>> {
        let mut parent: Vec<Option<(usize, usize)>> = vec![None; self.node_count()];
        let mut seen = vec![false; self.node_count()];
        let mut queue = VecDeque::from([0usize]);
        seen[0] = true;
        while let Some(n) = queue.pop_front() {
            if n == index {
                break;
            }
            let first = self.first_edge[n];
            for e in first..first + self.raw_node(n, self.n_edges) as usize {
                let r = &self.edges[e * self.edge_fields..(e + 1) * self.edge_fields];
                if self.edge_types.get(r[self.e_type] as usize).is_some_and(|t| t == "weak") {
                    continue;
                }
                let to = r[self.e_to] as usize / self.node_fields;
                if !seen[to] {
                    seen[to] = true;
                    parent[to] = Some((n, e));
                    queue.push_back(to);
                }
            }
        }
        if !seen[index] {
            return None;
        }
        let mut path = vec![];
        let mut n = index;
        while let Some((from, e)) = parent[n] {
            path.push(PathStep { node: n, via: Some(self.edge(e)) });
            n = from;
        }
        path.push(PathStep { node: 0, via: None });
        path.reverse();
        Some(path)
    }

    /// A path as text, one string per step: the node's name and the edge
    /// it holds the next step by, as `Node.left` (a named edge) or
    /// `FixedArray[3]` (an element); the last step is the object's name
    /// alone, and the root is `(root)`.
    pub fn path_text(&self, path: &[PathStep]) -> Vec<String> {
        (0..path.len())
            .map(|i| {
                let name = match self.name_of(path[i].node) {
                    "" if path[i].node == 0 => "(root)",
                    n => n,
                };
                match path.get(i + 1).and_then(|next| next.via.as_ref()) {
                    Some(e) if e.kind == "element" || e.kind == "hidden" => format!("{name}[{}]", e.name),
                    Some(e) => format!("{name}.{}", e.name),
                    None => name.to_string(),
                }
            })
            .collect()
    }

    /// The class a node is counted under (see [`Growth::name`]); `None`
    /// for synthetic nodes.
    fn class_of(&self, i: usize) -> Option<&str> {
        match self.kind_of(i) {
            "synthetic" => None,
            "string" | "concatenated string" | "sliced string" => Some("(string)"),
            "number" => Some("(heap number)"),
            _ => Some(self.name_of(i)),
        }
    }

    /// Instances and bytes per class (see [`Growth::name`]).
    pub fn class_counts(&self) -> BTreeMap<String, (usize, u64)> {
        let mut counts: BTreeMap<String, (usize, u64)> = BTreeMap::new();
        for i in 0..self.node_count() {
            if let Some(c) = self.class_of(i) {
                let e = counts.entry(c.to_string()).or_default();
                e.0 += 1;
                e.1 += self.raw_node(i, self.n_size);
            }
        }
        counts
    }

    /// The classes with more instances here than in `before` (an earlier
    /// snapshot of the same isolate), most grown first, with the ids of the
    /// new instances.
    pub fn growth_since(&self, before: &HeapSnapshot) -> Vec<Growth> {
        let (old, new) = (before.class_counts(), self.class_counts());
        let old_ids: HashSet<u64> = (0..before.node_count()).map(|i| before.raw_node(i, before.n_id)).collect();
        let mut fresh: HashMap<&str, Vec<u64>> = HashMap::new();
        for i in 0..self.node_count() {
            let id = self.raw_node(i, self.n_id);
            if let (Some(c), false) = (self.class_of(i), old_ids.contains(&id)) {
                fresh.entry(c).or_default().push(id);
            }
        }
        let mut out: Vec<Growth> = new
            .iter()
            .filter_map(|(name, &(after, bytes_after))| {
                let (before, bytes_before) = old.get(name).copied().unwrap_or_default();
                (after > before).then(|| {
                    let mut new_ids = fresh.remove(name.as_str()).unwrap_or_default();
                    new_ids.sort_unstable();
                    new_ids.truncate(100);
                    Growth { name: name.clone(), before, after, bytes_before, bytes_after, new_ids }
                })
            })
            .collect();
        out.sort_by(|a, b| (b.after - b.before).cmp(&(a.after - a.before)).then(a.name.cmp(&b.name)));
        out
    }
}

/// The JSON a snapshot is made of; arrays of numbers are kept flat.
#[derive(Debug)]
enum Json {
    Null,
    Bool,
    Number,
    String(String),
    Numbers(Vec<u64>),
    Array(Vec<Json>),
    Object(HashMap<String, Json>),
}

impl Json {
    fn get(&self, k: &str) -> Option<&Json> {
        match self {
            Json::Object(m) => m.get(k),
            _ => None,
        }
    }

    fn numbers(self) -> Option<Vec<u64>> {
        match self {
            Json::Numbers(v) => Some(v),
            Json::Array(a) if a.is_empty() => Some(Vec::new()),
            _ => None,
        }
    }

    fn strings(&self) -> Option<Vec<String>> {
        match self {
            Json::Array(a) => a
                .iter()
                .map(|x| match x {
                    Json::String(s) => Some(s.clone()),
                    _ => None,
                })
                .collect(),
            Json::Numbers(v) if v.is_empty() => Some(Vec::new()),
            _ => None,
        }
    }
}

/// A small JSON parser (the crate has no JSON dependency), with a fast path
/// for arrays of non-negative integers, which are nearly all of a snapshot.
struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn err<T>(&self, what: &'static str) -> Result<T, SnapshotError> {
        Err(SnapshotError::Syntax { offset: self.i, what })
    }

    fn ws(&mut self) {
        while self.i < self.s.len() && matches!(self.s[self.i], b' ' | b'\n' | b'\r' | b'\t') {
            self.i += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.s.get(self.i).copied()
    }

    fn eat(&mut self, c: u8, what: &'static str) -> Result<(), SnapshotError> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            self.err(what)
        }
    }

    fn document(mut self) -> Result<Json, SnapshotError> {
        let v = self.value()?;
        if self.peek().is_some() {
            return self.err("end of input");
        }
        Ok(v)
    }

    fn value(&mut self) -> Result<Json, SnapshotError> {
        match self.peek() {
            Some(b'{') => self.object(),
            Some(b'[') => self.array(),
            Some(b'"') => Ok(Json::String(self.string()?)),
            Some(b't') => self.word(b"true", Json::Bool),
            Some(b'f') => self.word(b"false", Json::Bool),
            Some(b'n') => self.word(b"null", Json::Null),
            Some(b'-' | b'0'..=b'9') => self.number().map(|_| Json::Number),
            _ => self.err("a value"),
        }
    }

    fn word(&mut self, w: &[u8], v: Json) -> Result<Json, SnapshotError> {
        if self.s[self.i..].starts_with(w) {
            self.i += w.len();
            Ok(v)
        } else {
            self.err("true, false or null")
        }
    }

    fn object(&mut self) -> Result<Json, SnapshotError> {
        self.eat(b'{', "{")?;
        let mut m = HashMap::new();
        if self.peek() == Some(b'}') {
            self.i += 1;
            return Ok(Json::Object(m));
        }
        loop {
            if self.peek() != Some(b'"') {
                return self.err("a key");
            }
            let k = self.string()?;
            self.eat(b':', ":")?;
            m.insert(k, self.value()?);
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    return Ok(Json::Object(m));
                }
                _ => return self.err(", or }"),
            }
        }
    }

    /// The digits of a non-negative integer at the cursor, if that is what
    /// is there (followed by `,`, `]` or white space).
    fn integer(&mut self) -> Option<u64> {
        let start = self.i;
        let mut v: u64 = 0;
        while let Some(&c @ b'0'..=b'9') = self.s.get(self.i) {
            v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
            self.i += 1;
        }
        let ends = matches!(self.s.get(self.i), Some(b',' | b']' | b' ' | b'\n' | b'\r' | b'\t'));
        if self.i > start && ends {
            Some(v)
        } else {
            self.i = start;
            None
        }
    }

    fn array(&mut self) -> Result<Json, SnapshotError> {
        self.eat(b'[', "[")?;
        if self.peek() == Some(b']') {
            self.i += 1;
            return Ok(Json::Array(Vec::new()));
        }
        // Fast path: integers only.
        let start = self.i;
        let mut ints = Vec::new();
        loop {
            self.ws();
            let Some(v) = self.integer() else { break };
            ints.push(v);
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    return Ok(Json::Numbers(ints));
                }
                _ => return self.err(", or ]"),
            }
        }
        self.i = start;
        let mut a = Vec::new();
        loop {
            a.push(self.value()?);
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    return Ok(Json::Array(a));
                }
                _ => return self.err(", or ]"),
            }
        }
    }

    fn number(&mut self) -> Result<f64, SnapshotError> {
        let start = self.i;
        while let Some(b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9') = self.s.get(self.i) {
            self.i += 1;
        }
        match std::str::from_utf8(&self.s[start..self.i]).ok().and_then(|t| t.parse().ok()) {
            Some(v) => Ok(v),
            None => self.err("a number"),
        }
    }

    fn hex4(&mut self) -> Result<u32, SnapshotError> {
        let h = self.s.get(self.i..self.i + 4).and_then(|h| std::str::from_utf8(h).ok());
        match h.and_then(|h| u32::from_str_radix(h, 16).ok()) {
            Some(v) => {
                self.i += 4;
                Ok(v)
            }
            None => self.err("four hex digits"),
        }
    }

    fn string(&mut self) -> Result<String, SnapshotError> {
        self.eat(b'"', "\"")?;
        let mut out = Vec::new();
        loop {
            let Some(&c) = self.s.get(self.i) else { return self.err("closing \"") };
            self.i += 1;
            match c {
                b'"' => break,
                b'\\' => {
                    let Some(&e) = self.s.get(self.i) else { return self.err("an escape") };
                    self.i += 1;
                    let ch = match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let mut u = self.hex4()?;
                            if (0xD800..0xDC00).contains(&u) && self.s[self.i..].starts_with(b"\\u") {
                                self.i += 2;
                                let lo = self.hex4()?;
                                u = 0x10000 + ((u - 0xD800) << 10) + (lo.wrapping_sub(0xDC00) & 0x3FF);
                            }
                            char::from_u32(u).unwrap_or('\u{FFFD}')
                        }
                        _ => return self.err("a valid escape"),
                    };
                    let mut b = [0; 4];
                    out.extend_from_slice(ch.encode_utf8(&mut b).as_bytes());
                }
                _ => out.push(c),
            }
        }
        String::from_utf8(out).or_else(|_| self.err("UTF-8 text"))
    }
}

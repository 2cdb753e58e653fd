//! Splay, after Octane's Splay and SplayLatency benchmarks (V8 project).
//!
//! A splay tree (Sleator and Tarjan's top-down splaying) of `tree_size`
//! (8,000) nodes keyed by random doubles. Each node's value is a *payload*:
//! a perfect binary tree of depth `payload_depth` (5) whose 32 leaves each
//! hold a 10-element array and a fresh string naming the key. A *step*
//! replaces `modifications` (80) nodes: insert a node with a new random key,
//! then remove the node with the greatest key below it (or the new node if
//! there is none), so the tree keeps its size while most of what the old
//! generation holds slowly turns over. The latency of every step is
//! recorded: a GC pause inside a step makes that step slow, which is what
//! SplayLatency scores.
//!
//! At the end the tree is verified: `tree_size` nodes, keys strictly
//! increasing in order, and every payload intact (shape, arrays, strings).

use super::{verification, Workload, WorkloadError};
use crate::{
    AllocError, AllocationSite, EscapableHandleScope, HandleScope, Isolate, Local, Map, Object, ObjectLayout, Smi,
};
use std::time::{Duration, Instant};

/// Splay's parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Params {
    /// Nodes in the tree (`kSplayTreeSize`, 8,000).
    pub tree_size: usize,
    /// Insert/remove pairs per step (`kSplayTreeModifications`, 80).
    pub modifications: usize,
    /// Depth of each node's payload tree (`kSplayTreePayloadDepth`, 5).
    pub payload_depth: u32,
    /// Steps to run after the tree is built.
    pub steps: usize,
    /// Seed of the key generator (the run is deterministic).
    pub seed: u64,
}

impl Default for Params {
    /// Octane's constants and 5,000 steps (400,000 insert/remove pairs: the
    /// tree turns over fifty times).
    fn default() -> Params {
        Params { tree_size: 8000, modifications: 80, payload_depth: 5, steps: 5000, seed: 0x5EED_5B1A }
    }
}

impl Params {
    /// Octane's tree and 300 steps, for tests and `--quick`.
    pub fn quick() -> Params {
        Params { steps: 300, ..Params::default() }
    }
}

/// What a run of splay measured.
#[derive(Clone, Debug)]
pub struct Splay {
    /// How long each step took.
    pub step_latencies: Vec<Duration>,
    /// How long building the initial tree took.
    pub setup: Duration,
    /// Payload leaves verified at the end.
    pub leaves_checked: usize,
    /// When the work began.
    pub started: Instant,
    /// When it ended.
    pub finished: Instant,
}

// Field indices of the layouts.
const VALUE: usize = 0;
const LEFT: usize = 1;
const RIGHT: usize = 2;
const ROOT: usize = 0;
const LEAF_ARRAY: usize = 0;
const LEAF_STRING: usize = 1;
const LEAF_ARRAY_LEN: usize = 10;

/// A deterministic source of keys in `[0, 1)` (Octane makes `Math.random`
/// deterministic too): xorshift64*.
struct Keys(u64);

impl Keys {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let r = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D);
        (r >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The tree object and the layouts.
struct Tree<'a> {
    /// A `SplayTree` object: one field, the root (`null` when empty).
    tree: Local<'a, Object>,
    node: Local<'a, Map>,
    payload_node: Local<'a, Map>,
    leaf: Local<'a, Map>,
    /// The payload's allocation sites, where V8 has them: one per literal
    /// of `GeneratePayloadTree` (the inner `{left, right}`, the leaf
    /// `{array, string}` and its `[0, ..., 9]`). The tree's nodes come from
    /// `new SplayTree.Node(..)`, which has no site in V8, nor here.
    inner_site: AllocationSite,
    leaf_site: AllocationSite,
    array_site: AllocationSite,
    string_site: AllocationSite,
}

fn key_of(s: &HandleScope<'_>, n: Local<'_, Object>) -> f64 {
    let mut b = [0u8; 8];
    s.read_bytes(n, 0, &mut b);
    f64::from_le_bytes(b)
}

/// Field `f` of `n` if it holds a node (`None` for `null`).
fn child<'s>(s: &mut HandleScope<'s>, n: Local<'_, Object>, f: usize) -> Option<Local<'s, Object>> {
    let v = s.get(n, f);
    s.cast::<Object, _>(v)
}

fn new_node<'s>(
    s: &mut HandleScope<'s>,
    t: &Tree<'_>,
    key: f64,
    value: Local<'_, Object>,
) -> Result<Local<'s, Object>, AllocError> {
    let n = s.new_object(t.node)?;
    s.write_bytes(n, 0, &key.to_le_bytes());
    s.set(n, VALUE, value);
    let null = s.null();
    s.set(n, LEFT, null);
    s.set(n, RIGHT, null);
    Ok(n)
}

/// Top-down splay on `key`: moves the node with `key`, or the last node on
/// its search path, to the root. The tree must not be empty. Like the
/// original, it allocates a dummy node whose children collect the left and
/// right trees.
fn splay(scope: &mut HandleScope<'_>, t: &Tree<'_>, key: f64) -> Result<(), AllocError> {
    let mut s = HandleScope::new(scope);
    let dummy = s.new_object(t.node)?;
    let null = s.null();
    s.set(dummy, LEFT, null);
    s.set(dummy, RIGHT, null);
    let (mut left, mut right) = (dummy, dummy);
    let mut current = child(&mut s, t.tree, ROOT).expect("splay of an empty tree");
    loop {
        let k = key_of(&s, current);
        if key < k {
            let Some(next) = child(&mut s, current, LEFT) else { break };
            if key < key_of(&s, next) {
                // Rotate right.
                let inner = s.get(next, RIGHT);
                s.set(current, LEFT, inner);
                s.set(next, RIGHT, current);
                current = next;
                if child(&mut s, current, LEFT).is_none() {
                    break;
                }
            }
            // Link right.
            s.set(right, LEFT, current);
            right = current;
            current = child(&mut s, current, LEFT).expect("checked above");
        } else if key > k {
            let Some(next) = child(&mut s, current, RIGHT) else { break };
            if key > key_of(&s, next) {
                // Rotate left.
                let inner = s.get(next, LEFT);
                s.set(current, RIGHT, inner);
                s.set(next, LEFT, current);
                current = next;
                if child(&mut s, current, RIGHT).is_none() {
                    break;
                }
            }
            // Link left.
            s.set(left, RIGHT, current);
            left = current;
            current = child(&mut s, current, RIGHT).expect("checked above");
        } else {
            break;
        }
    }
    // Assemble.
    let v = s.get(current, LEFT);
    s.set(left, RIGHT, v);
    let v = s.get(current, RIGHT);
    s.set(right, LEFT, v);
    let v = s.get(dummy, RIGHT);
    s.set(current, LEFT, v);
    let v = s.get(dummy, LEFT);
    s.set(current, RIGHT, v);
    s.set(t.tree, ROOT, current);
    Ok(())
}

fn is_empty(s: &mut HandleScope<'_>, t: &Tree<'_>) -> bool {
    let mut s = HandleScope::new(s);
    child(&mut s, t.tree, ROOT).is_none()
}

/// Inserts `key` with `value` unless the key is present; the new node
/// becomes the root.
fn insert(scope: &mut HandleScope<'_>, t: &Tree<'_>, key: f64, value: Local<'_, Object>) -> Result<(), AllocError> {
    let mut s = HandleScope::new(scope);
    if is_empty(&mut s, t) {
        let n = new_node(&mut s, t, key, value)?;
        s.set(t.tree, ROOT, n);
        return Ok(());
    }
    splay(&mut s, t, key)?;
    let root = child(&mut s, t.tree, ROOT).expect("not empty");
    let root_key = key_of(&s, root);
    if root_key == key {
        return Ok(());
    }
    let n = new_node(&mut s, t, key, value)?;
    let null = s.null();
    if key > root_key {
        s.set(n, LEFT, root);
        let r = s.get(root, RIGHT);
        s.set(n, RIGHT, r);
        s.set(root, RIGHT, null);
    } else {
        s.set(n, RIGHT, root);
        let l = s.get(root, LEFT);
        s.set(n, LEFT, l);
        s.set(root, LEFT, null);
    }
    s.set(t.tree, ROOT, n);
    Ok(())
}

/// Removes the node with `key`; `Ok(false)` if there is none.
fn remove(scope: &mut HandleScope<'_>, t: &Tree<'_>, key: f64) -> Result<bool, AllocError> {
    let mut s = HandleScope::new(scope);
    if is_empty(&mut s, t) {
        return Ok(false);
    }
    splay(&mut s, t, key)?;
    let root = child(&mut s, t.tree, ROOT).expect("not empty");
    if key_of(&s, root) != key {
        return Ok(false);
    }
    match child(&mut s, root, LEFT) {
        None => {
            let r = s.get(root, RIGHT);
            s.set(t.tree, ROOT, r);
        }
        Some(left) => {
            let right = s.get(root, RIGHT);
            s.set(t.tree, ROOT, left);
            // The new root, the greatest key below `key`, has no right child
            // after this splay: hang the old right subtree there.
            splay(&mut s, t, key)?;
            let new_root = child(&mut s, t.tree, ROOT).expect("not empty");
            s.set(new_root, RIGHT, right);
        }
    }
    Ok(true)
}

/// Is `key` in the tree? (Splays on it.)
fn contains(scope: &mut HandleScope<'_>, t: &Tree<'_>, key: f64) -> Result<bool, AllocError> {
    let mut s = HandleScope::new(scope);
    if is_empty(&mut s, t) {
        return Ok(false);
    }
    splay(&mut s, t, key)?;
    let root = child(&mut s, t.tree, ROOT).expect("not empty");
    Ok(key_of(&s, root) == key)
}

/// The greatest key below `key`, if any.
fn greatest_less_than(scope: &mut HandleScope<'_>, t: &Tree<'_>, key: f64) -> Result<Option<f64>, AllocError> {
    let mut s = HandleScope::new(scope);
    if is_empty(&mut s, t) {
        return Ok(None);
    }
    splay(&mut s, t, key)?;
    let root = child(&mut s, t.tree, ROOT).expect("not empty");
    if key_of(&s, root) < key {
        return Ok(Some(key_of(&s, root)));
    }
    let Some(mut current) = child(&mut s, root, LEFT) else { return Ok(None) };
    while let Some(next) = child(&mut s, current, RIGHT) {
        current = next;
    }
    Ok(Some(key_of(&s, current)))
}

fn leaf_string(tag: &str) -> String {
    format!("String for key {tag} in leaf node")
}

/// A payload tree of `depth` for the key printed as `tag`, built bottom-up:
/// a leaf in the caller's scope, an inner node in an escapable scope of its
/// own that escapes it to the caller (a handful of live handles per level).
fn payload<'p>(
    scope: &mut HandleScope<'p>,
    t: &Tree<'_>,
    depth: u32,
    tag: &str,
) -> Result<Local<'p, Object>, AllocError> {
    if depth == 0 {
        let s = scope;
        let array = s.new_fixed_array_at(LEAF_ARRAY_LEN, &t.array_site)?;
        for i in 0..LEAF_ARRAY_LEN {
            s.set(array, i, Smi::from(i as i32));
        }
        let string = s.new_string_at(&leaf_string(tag), &t.string_site)?;
        let leaf = s.new_object_at(t.leaf, &t.leaf_site)?;
        s.set(leaf, LEAF_ARRAY, array);
        s.set(leaf, LEAF_STRING, string);
        return Ok(leaf);
    }
    let mut s = EscapableHandleScope::new(scope);
    let left = payload(&mut s, t, depth - 1, tag)?;
    let right = payload(&mut s, t, depth - 1, tag)?;
    let node = s.new_object_at(t.payload_node, &t.inner_site)?;
    s.set(node, 0, left);
    s.set(node, 1, right);
    Ok(s.escape(node))
}

/// Inserts a node with a key not yet in the tree and a fresh payload;
/// returns the key.
fn insert_new_node(scope: &mut HandleScope<'_>, t: &Tree<'_>, p: &Params, keys: &mut Keys) -> Result<f64, AllocError> {
    let mut s = HandleScope::new(scope);
    let key = loop {
        let k = keys.next();
        if !contains(&mut s, t, k)? {
            break k;
        }
    };
    let value = payload(&mut s, t, p.payload_depth, &key.to_string())?;
    insert(&mut s, t, key, value)?;
    Ok(key)
}

/// One step: `modifications` insert/remove pairs.
fn step(scope: &mut HandleScope<'_>, t: &Tree<'_>, p: &Params, keys: &mut Keys) -> Result<(), WorkloadError> {
    for _ in 0..p.modifications {
        let mut s = HandleScope::new(scope);
        let key = insert_new_node(&mut s, t, p, keys)?;
        let victim = greatest_less_than(&mut s, t, key)?.unwrap_or(key);
        if !remove(&mut s, t, victim)? {
            return Err(verification(Workload::Splay, format!("key {victim} not found for removal")));
        }
    }
    Ok(())
}

/// Checks the payload at `node` for the key printed as `tag`; returns its
/// number of leaves.
fn check_payload(scope: &mut HandleScope<'_>, node: Local<'_, Object>, depth: u32, tag: &str) -> Result<usize, String> {
    let mut s = HandleScope::new(scope);
    let first = s.get(node, 0);
    let second = s.get(node, 1);
    if depth == 0 {
        let array = s.cast::<crate::FixedArray, _>(first).ok_or("a leaf without its array")?;
        let len = s.length(array);
        if len != LEAF_ARRAY_LEN || (0..len).any(|i| s.get_smi(array, i) != Some(i as i64)) {
            return Err(format!("a leaf array of key {tag} was changed"));
        }
        let string = s.cast::<crate::HeapString, _>(second).ok_or("a leaf without its string")?;
        if s.to_rust_string(string) != leaf_string(tag) {
            return Err(format!("a leaf string of key {tag} was changed"));
        }
        return Ok(1);
    }
    let (Some(l), Some(r)) = (s.cast::<Object, _>(first), s.cast::<Object, _>(second)) else {
        return Err(format!("a payload node of key {tag} lost a child"));
    };
    Ok(check_payload(&mut s, l, depth - 1, tag)? + check_payload(&mut s, r, depth - 1, tag)?)
}

/// Walks the tree in order: `tree_size` nodes, strictly increasing keys,
/// intact payloads. Returns the number of leaves checked.
fn verify(scope: &mut HandleScope<'_>, t: &Tree<'_>, p: &Params) -> Result<usize, String> {
    let mut s = HandleScope::new(scope);
    let mut stack = Vec::new();
    let mut current = child(&mut s, t.tree, ROOT);
    let (mut count, mut leaves, mut last) = (0, 0, f64::NEG_INFINITY);
    while current.is_some() || !stack.is_empty() {
        while let Some(n) = current {
            stack.push(n);
            current = child(&mut s, n, LEFT);
        }
        let n = stack.pop().expect("not empty");
        let key = key_of(&s, n);
        if key <= last {
            return Err(format!("keys out of order: {key} after {last}"));
        }
        last = key;
        count += 1;
        let value = s.get(n, VALUE);
        let value = s.cast::<Object, _>(value).ok_or_else(|| format!("node {key} lost its payload"))?;
        leaves += check_payload(&mut s, value, p.payload_depth, &key.to_string())?;
        current = child(&mut s, n, RIGHT);
    }
    if count != p.tree_size {
        return Err(format!("the tree has {count} nodes, expected {}", p.tree_size));
    }
    Ok(leaves)
}

/// Builds the tree, runs `steps` steps, recording each one's latency, and
/// verifies the tree.
pub fn run(isolate: &mut Isolate, p: &Params) -> Result<Splay, WorkloadError> {
    let started = Instant::now();
    let mut s = HandleScope::new(isolate);
    let tree_map = s.new_map(&ObjectLayout::new("SplayTree", 1, 0))?;
    let tree = s.new_object(tree_map)?;
    let null = s.null();
    s.set(tree, ROOT, null);
    let t = Tree {
        tree,
        node: s.new_map(&ObjectLayout::new("SplayTreeNode", 3, 8))?,
        payload_node: s.new_map(&ObjectLayout::new("PayloadNode", 2, 0))?,
        leaf: s.new_map(&ObjectLayout::new("PayloadLeaf", 2, 0))?,
        inner_site: s.new_allocation_site("GeneratePayloadTree {left, right}"),
        leaf_site: s.new_allocation_site("GeneratePayloadTree {array, string}"),
        array_site: s.new_allocation_site("GeneratePayloadTree [0, ..., 9]"),
        string_site: s.new_allocation_site("GeneratePayloadTree 'String for key ' + tag"),
    };
    let mut keys = Keys(p.seed | 1);

    for _ in 0..p.tree_size {
        insert_new_node(&mut s, &t, p, &mut keys)?;
    }
    let setup = started.elapsed();

    let mut step_latencies = Vec::with_capacity(p.steps);
    for _ in 0..p.steps {
        let t0 = Instant::now();
        step(&mut s, &t, p, &mut keys)?;
        step_latencies.push(t0.elapsed());
    }
    let finished = Instant::now();
    super::at_end(super::Workload::Splay, &mut s);

    let leaves_checked = verify(&mut s, &t, p).map_err(|e| verification(Workload::Splay, e))?;
    Ok(Splay { step_latencies, setup, leaves_checked, started, finished })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{HeapConfig, Platform};

    #[test]
    fn keys_are_deterministic_and_in_the_unit_interval() {
        let (mut a, mut b) = (Keys(7), Keys(7));
        for _ in 0..1000 {
            let k = a.next();
            assert_eq!(k, b.next());
            assert!((0.0..1.0).contains(&k));
        }
    }

    #[test]
    fn a_small_tree_survives_steps_and_gcs() {
        let platform = Platform::new(1).unwrap();
        let config = HeapConfig {
            min_semi_space_size: 256 << 10,
            max_semi_space_size: 256 << 10,
            initial_old_space_size: 512 << 10,
            verify_heap: true,
            ..HeapConfig::default()
        };
        let mut isolate = Isolate::new(&platform, config).unwrap();
        let p = Params { tree_size: 500, modifications: 20, payload_depth: 4, steps: 40, seed: 42 };
        let r = run(&mut isolate, &p).unwrap();
        assert_eq!(r.step_latencies.len(), 40);
        assert_eq!(r.leaves_checked, 500 * 16);
        let (minor, major) = isolate.gc_counts();
        assert!(minor > 0 && major > 0, "{minor} scavenges and {major} full GCs");
    }
}

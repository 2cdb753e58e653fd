//! GCBench, after Hans Boehm's version of John Ellis and Pete Kovac's
//! benchmark.
//!
//! 1. *Stretch* the heap with a tree of depth 18, built bottom-up and
//!    dropped.
//! 2. Build a *long-lived* tree of depth 16 top-down and a *long-lived array*
//!    of 500,000 doubles, half of it filled with `1/i`; both are kept.
//! 3. For depths 4, 6, …, 16: build `2 * size(18) / size(d)` trees of depth
//!    `d` top-down (allocate a node, then its children, storing each into its
//!    older parent: the write barrier's case), drop each, then as many
//!    bottom-up (children before parents), drop each. `size(d) = 2^(d+1) - 1`.
//! 4. Check that the long-lived tree and the array are intact.
//!
//! A node has two tagged fields (left, right) and two raw 32-bit integers
//! (`i`, `j`), like the original's `Node`.
//!
//! The array is a [`crate::ByteArray`] of `f64`s, not a fixed array of heap
//! numbers: the original's `double[]` holds unboxed doubles that the
//! collector never scans (V8 keeps such an array as a `FixedDoubleArray`), so
//! the faithful translation is one 4 MB pointer-free large object. A fixed
//! array of heap numbers would add 250,000 small long-lived objects and
//! 500,000 slots to every major GC's marking, a different benchmark.

use super::{build_tree, verification, Workload, WorkloadError};
use crate::{AllocError, ByteArray, HandleScope, Isolate, Local, Map, Object, ObjectLayout};
use std::time::Instant;

/// GCBench's constants.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Params {
    /// Depth of the stretch tree (`kStretchTreeDepth`, 18). Also sets the
    /// iteration counts: `2 * size(stretch_depth) / size(d)` trees per depth.
    pub stretch_depth: u32,
    /// Depth of the long-lived tree (`kLongLivedTreeDepth`, 16).
    pub long_lived_depth: u32,
    /// Doubles in the long-lived array (`kArraySize`, 500,000); the first
    /// half is filled.
    pub array_size: usize,
    /// Smallest depth of the short-lived trees (`kMinTreeDepth`, 4).
    pub min_depth: u32,
    /// Largest depth of the short-lived trees (`kMaxTreeDepth`, 16).
    pub max_depth: u32,
}

impl Default for Params {
    /// The original's constants.
    fn default() -> Params {
        Params { stretch_depth: 18, long_lived_depth: 16, array_size: 500_000, min_depth: 4, max_depth: 16 }
    }
}

impl Params {
    /// A small run for tests and `--quick`: trees two levels shallower (a
    /// quarter of the work), half the array.
    pub fn quick() -> Params {
        Params { stretch_depth: 16, long_lived_depth: 14, array_size: 250_000, min_depth: 4, max_depth: 14 }
    }

    /// Nodes of a tree of `depth` (`TreeSize`).
    pub fn tree_size(depth: u32) -> u64 {
        (1u64 << (depth + 1)) - 1
    }

    /// Trees built per direction at `depth` (`NumIters`).
    pub fn iterations(&self, depth: u32) -> u64 {
        2 * Self::tree_size(self.stretch_depth) / Self::tree_size(depth)
    }
}

/// What a run of GCBench did.
#[derive(Clone, Debug)]
pub struct GcBench {
    /// What the original prints, one line per phase (without its timings).
    pub output: Vec<String>,
    /// Tree nodes allocated.
    pub nodes: u64,
    /// When the work began.
    pub started: Instant,
    /// When it ended.
    pub finished: Instant,
}

/// A new node: children `undefined`, `i = j = 0`.
fn new_node<'s>(s: &mut HandleScope<'s>, node: Local<'_, Map>) -> Result<Local<'s, Object>, AllocError> {
    s.new_object(node)
}

/// `Populate`: gives `node` two new children, then populates each, down to
/// `depth` levels below it. Children are stored into their (older) parent
/// before they get children of their own.
fn populate(
    scope: &mut HandleScope<'_>,
    map: Local<'_, Map>,
    depth: u32,
    node: Local<'_, Object>,
) -> Result<(), AllocError> {
    if depth == 0 {
        return Ok(());
    }
    let mut s = HandleScope::new(scope);
    let left = new_node(&mut s, map)?;
    s.set(node, 0, left);
    let right = new_node(&mut s, map)?;
    s.set(node, 1, right);
    populate(&mut s, map, depth - 1, left)?;
    populate(&mut s, map, depth - 1, right)
}

/// Nodes of the tree at `node`, checking that it is perfect.
fn count(scope: &mut HandleScope<'_>, node: Local<'_, Object>) -> Option<u64> {
    let mut s = HandleScope::new(scope);
    let left = s.get(node, 0);
    let right = s.get(node, 1);
    match (s.cast::<Object, _>(left), s.cast::<Object, _>(right)) {
        (None, None) => Some(1),
        (Some(l), Some(r)) => {
            let (a, b) = (count(&mut s, l)?, count(&mut s, r)?);
            (a == b).then_some(1 + a + b)
        }
        _ => None,
    }
}

fn check_tree(s: &mut HandleScope<'_>, node: Local<'_, Object>, depth: u32, what: &str) -> Result<(), WorkloadError> {
    match count(s, node) {
        Some(n) if n == Params::tree_size(depth) => Ok(()),
        got => Err(verification(
            Workload::GcBench,
            format!("{what}: {got:?} nodes, expected a perfect tree of {}", Params::tree_size(depth)),
        )),
    }
}

/// The value the original stores at index `i` of the array (`1.0 / i` in
/// the first half, 0 after).
fn array_value(p: &Params, i: usize) -> f64 {
    if i < p.array_size / 2 {
        1.0 / i as f64
    } else {
        0.0
    }
}

fn check_array(s: &HandleScope<'_>, p: &Params, array: Local<'_, ByteArray>) -> Result<(), WorkloadError> {
    let mut bytes = vec![0u8; p.array_size * 8];
    s.read_bytes(array, 0, &mut bytes);
    for (i, b) in bytes.chunks_exact(8).enumerate() {
        let v = f64::from_le_bytes(b.try_into().expect("8 bytes"));
        if v.to_bits() != array_value(p, i).to_bits() {
            return Err(verification(Workload::GcBench, format!("array[{i}] = {v}, expected {}", array_value(p, i))));
        }
    }
    Ok(())
}

/// Runs GCBench with `params` and checks the long-lived data, and one tree of
/// each depth and direction.
pub fn run(isolate: &mut Isolate, p: &Params) -> Result<GcBench, WorkloadError> {
    let started = Instant::now();
    let mut output = Vec::new();
    let mut nodes = 0;
    let mut s = HandleScope::new(isolate);
    let layout = ObjectLayout::new("Node", 2, 8).with_field_names(["left", "right"]);
    let node = s.new_map(&layout)?;

    output.push(format!("Stretching memory with a binary tree of depth {}", p.stretch_depth));
    {
        let mut s = HandleScope::new(&mut s);
        build_tree(&mut s, node, p.stretch_depth)?; // `MakeTree`
        nodes += Params::tree_size(p.stretch_depth);
    }

    output.push(format!("Creating a long-lived binary tree of depth {}", p.long_lived_depth));
    let long_lived = new_node(&mut s, node)?;
    populate(&mut s, node, p.long_lived_depth, long_lived)?;
    nodes += Params::tree_size(p.long_lived_depth);

    output.push(format!("Creating a long-lived array of {} doubles", p.array_size));
    let array = s.new_byte_array(p.array_size * 8)?;
    for i in 0..p.array_size / 2 {
        s.write_bytes(array, i * 8, &array_value(p, i).to_le_bytes());
    }

    for d in (p.min_depth..=p.max_depth).step_by(2) {
        let iterations = p.iterations(d);
        output.push(format!("Creating {iterations} trees of depth {d}"));
        for i in 0..iterations {
            let mut s = HandleScope::new(&mut s);
            let temp = new_node(&mut s, node)?;
            populate(&mut s, node, d, temp)?;
            if i + 1 == iterations {
                check_tree(&mut s, temp, d, "a top-down tree")?;
            }
        }
        output.push("\tTop down construction".into());
        for i in 0..iterations {
            let mut s = HandleScope::new(&mut s);
            let root = build_tree(&mut s, node, d)?; // `MakeTree`
            if i + 1 == iterations {
                check_tree(&mut s, root, d, "a bottom-up tree")?;
            }
        }
        output.push("\tBottom up construction".into());
        nodes += 2 * iterations * Params::tree_size(d);
    }
    let finished = Instant::now();
    super::at_end(super::Workload::GcBench, &mut s);

    // The original's check (`longLivedTree == null || array[1000] != 1/1000`),
    // made exhaustive.
    check_tree(&mut s, long_lived, p.long_lived_depth, "the long-lived tree")?;
    check_array(&s, p, array)?;
    Ok(GcBench { output, nodes, started, finished })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{HeapConfig, Platform};

    #[test]
    fn iteration_counts_are_the_originals() {
        let p = Params::default();
        // 2 * (2^19 - 1) / (2^(d+1) - 1), integer division as in the original.
        assert_eq!(p.iterations(4), 33_824);
        assert_eq!(p.iterations(16), 8);
        assert_eq!(Params::tree_size(18), 524_287);
    }

    #[test]
    fn a_tiny_run_checks_its_trees_and_array() {
        let platform = Platform::new(1).unwrap();
        let config = HeapConfig { min_semi_space_size: 256 << 10, verify_heap: true, ..HeapConfig::default() };
        let mut isolate = Isolate::new(&platform, config).unwrap();
        let p = Params { stretch_depth: 10, long_lived_depth: 8, array_size: 20_000, min_depth: 4, max_depth: 8 };
        let r = run(&mut isolate, &p).unwrap();
        assert_eq!(r.output[0], "Stretching memory with a binary tree of depth 10");
        let (minor, major) = isolate.gc_counts();
        assert!(minor + major > 0, "the run collected garbage");
    }
}

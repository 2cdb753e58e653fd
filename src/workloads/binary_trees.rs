//! binary-trees, after the Computer Language Benchmarks Game (itself a
//! simplification of Boehm's GCBench).
//!
//! With `n` the maximum depth (at least `MIN_DEPTH + 2`):
//!
//! 1. build a *stretch* tree of depth `n + 1`, check it, drop it;
//! 2. build a *long-lived* tree of depth `n`, kept to the end;
//! 3. for each depth `d = 4, 6, …, n`: build `2^(n - d + 4)` trees of depth
//!    `d` one after another, each checked and dropped at once;
//! 4. check the long-lived tree.
//!
//! A tree of depth `d` is perfect: `2^(d+1) - 1` nodes, leaves the same kind
//! of object as inner nodes (two tagged fields, `undefined` for no child).
//! Trees are built bottom-up (children before their parent), and the *item
//! check* of a tree counts its nodes by walking it. [`run`] returns the lines
//! the real program prints and checks each against its closed form
//! ([`expected_output`]).

use super::{build_tree, verification, Workload, WorkloadError};
use crate::{HandleScope, Isolate, Local, Object, ObjectLayout};
use std::time::Instant;

/// The smallest depth of the short-lived trees.
pub const MIN_DEPTH: u32 = 4;
/// The Benchmarks Game's size for timing runs.
pub const DEFAULT_MAX_DEPTH: u32 = 21;
/// A small size for tests and `--quick`.
pub const QUICK_MAX_DEPTH: u32 = 16;

/// What a run of binary-trees printed and did.
#[derive(Clone, Debug)]
pub struct BinaryTrees {
    /// The lines the Benchmarks Game program prints, e.g.
    /// `"stretch tree of depth 22\t check: 8388607"`.
    pub output: Vec<String>,
    /// Tree nodes allocated.
    pub nodes: u64,
    /// When the work began.
    pub started: Instant,
    /// When it ended.
    pub finished: Instant,
}

/// The maximum depth a run with parameter `n` uses.
pub fn max_depth(n: u32) -> u32 {
    n.max(MIN_DEPTH + 2)
}

/// Nodes of a perfect tree of `depth`.
fn tree_nodes(depth: u32) -> u64 {
    (1u64 << (depth + 1)) - 1
}

/// The output of the Benchmarks Game program for `n`, from closed forms.
pub fn expected_output(n: u32) -> Vec<String> {
    let max = max_depth(n);
    let mut lines = vec![format!("stretch tree of depth {}\t check: {}", max + 1, tree_nodes(max + 1))];
    for d in (MIN_DEPTH..=max).step_by(2) {
        let iterations = 1u64 << (max - d + MIN_DEPTH);
        lines.push(format!("{iterations}\t trees of depth {d}\t check: {}", iterations * tree_nodes(d)));
    }
    lines.push(format!("long lived tree of depth {max}\t check: {}", tree_nodes(max)));
    lines
}

/// The item check: the number of nodes of the tree at `node`.
fn item_check(scope: &mut HandleScope<'_>, node: Local<'_, Object>) -> u64 {
    let mut s = HandleScope::new(scope);
    let left = s.get(node, 0);
    let Some(left) = s.cast::<Object, _>(left) else { return 1 };
    let right = s.get(node, 1);
    let right = s.cast::<Object, _>(right).expect("binary-trees: an inner node without a right child");
    1 + item_check(&mut s, left) + item_check(&mut s, right)
}

/// Runs binary-trees with maximum depth `n` (the program's argument; 21 for
/// timing runs) and checks every line of its output.
pub fn run(isolate: &mut Isolate, n: u32) -> Result<BinaryTrees, WorkloadError> {
    let max = max_depth(n);
    let started = Instant::now();
    let mut output = Vec::new();
    let mut nodes = 0;
    let mut s = HandleScope::new(isolate);
    let node = s.new_map(&ObjectLayout::new("TreeNode", 2, 0).with_field_names(["left", "right"]))?;

    {
        let mut s = HandleScope::new(&mut s);
        let stretch = build_tree(&mut s, node, max + 1)?;
        let check = item_check(&mut s, stretch);
        nodes += tree_nodes(max + 1);
        output.push(format!("stretch tree of depth {}\t check: {check}", max + 1));
    }

    let long_lived = build_tree(&mut s, node, max)?;
    nodes += tree_nodes(max);

    for d in (MIN_DEPTH..=max).step_by(2) {
        let iterations = 1u64 << (max - d + MIN_DEPTH);
        let mut check = 0;
        for _ in 0..iterations {
            let mut s = HandleScope::new(&mut s);
            let short = build_tree(&mut s, node, d)?;
            check += item_check(&mut s, short);
        }
        nodes += iterations * tree_nodes(d);
        output.push(format!("{iterations}\t trees of depth {d}\t check: {check}"));
    }

    let check = item_check(&mut s, long_lived);
    output.push(format!("long lived tree of depth {max}\t check: {check}"));
    let finished = Instant::now();
    super::at_end(super::Workload::BinaryTrees, &mut s);

    let expected = expected_output(n);
    if output != expected {
        let (got, want) = output.iter().zip(&expected).find(|(a, b)| a != b).unwrap_or((&output[0], &expected[0]));
        return Err(verification(Workload::BinaryTrees, format!("printed {got:?}, expected {want:?}")));
    }
    Ok(BinaryTrees { output, nodes, started, finished })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{HeapConfig, Platform};

    #[test]
    fn expected_output_matches_the_benchmarks_game_for_10() {
        // The Benchmarks Game's reference output for the argument 10.
        let want = [
            "stretch tree of depth 11\t check: 4095",
            "1024\t trees of depth 4\t check: 31744",
            "256\t trees of depth 6\t check: 32512",
            "64\t trees of depth 8\t check: 32704",
            "16\t trees of depth 10\t check: 32752",
            "long lived tree of depth 10\t check: 2047",
        ];
        assert_eq!(expected_output(10), want);
    }

    #[test]
    fn a_small_run_prints_the_expected_checks() {
        let platform = Platform::new(1).unwrap();
        let config = HeapConfig { min_semi_space_size: 256 << 10, verify_heap: true, ..HeapConfig::default() };
        let mut isolate = Isolate::new(&platform, config).unwrap();
        let r = run(&mut isolate, 8).unwrap();
        assert_eq!(r.output, expected_output(8));
        assert!(isolate.gc_counts().0 > 0, "the run scavenged");
    }
}

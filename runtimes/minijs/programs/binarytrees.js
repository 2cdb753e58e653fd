// binary-trees (Computer Language Benchmarks Game), as isogc's
// src/workloads/binary_trees.rs defines it: with n the maximum depth (at
// least minDepth + 2), a stretch tree of depth n + 1, a long-lived tree of
// depth n, and for d = 4, 6, ..., n: 2^(n - d + 4) short-lived trees of
// depth d. A tree of depth d has 2^(d+1) - 1 nodes, its check.
// Usage: binarytrees.js [n=21]  (runs unchanged on node and minijs)
'use strict';

function TreeNode(left, right) {
  this.left = left;
  this.right = right;
}

function itemCheck(node) {
  if (node.left === null) return 1;
  return 1 + itemCheck(node.left) + itemCheck(node.right);
}

function bottomUpTree(depth) {
  if (depth > 0) {
    return new TreeNode(bottomUpTree(depth - 1), bottomUpTree(depth - 1));
  }
  return new TreeNode(null, null);
}

function main() {
  const n = process.argv.length > 2 ? parseInt(process.argv[2], 10) : 21;
  const minDepth = 4;
  const maxDepth = Math.max(minDepth + 2, n);
  const stretchDepth = maxDepth + 1;

  const stretchCheck = itemCheck(bottomUpTree(stretchDepth));
  console.log(`stretch tree of depth ${stretchDepth}\t check: ${stretchCheck}`);

  const longLivedTree = bottomUpTree(maxDepth);

  for (let depth = minDepth; depth <= maxDepth; depth += 2) {
    const iterations = 1 << (maxDepth - depth + minDepth);
    let check = 0;
    for (let i = 0; i < iterations; i++) {
      check += itemCheck(bottomUpTree(depth));
    }
    console.log(`${iterations}\t trees of depth ${depth}\t check: ${check}`);
  }

  console.log(`long lived tree of depth ${maxDepth}\t check: ${itemCheck(longLivedTree)}`);
}

main();

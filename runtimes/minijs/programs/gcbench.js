// GCBench (John Ellis and Pete Kovac, modified by Hans Boehm), as isogc's
// src/workloads/gcbench.rs defines it: stretch the heap with a tree of depth
// 18 built bottom-up and dropped; build a long-lived tree of depth 16 top
// down and a long-lived array of 500,000 doubles (half of it 1/i), both
// kept; for depths 4, 6, ..., 16 build 2 * size(18) / size(d) trees top down
// (children stored into their older parent) and as many bottom up, dropping
// each; then check the long-lived tree and the array. size(d) = 2^(d+1) - 1.
// The array is a Float64Array: unboxed doubles the collector never scans,
// as the original's double[].
// Usage: gcbench.js [stretch=18] [longLived=16] [arraySize=500000] [min=4] [max=16]
// Prints no times, so that node and minijs print the same text.
'use strict';

function arg(i, dflt) {
  return process.argv.length > i ? parseInt(process.argv[i], 10) : dflt;
}
const kStretchTreeDepth = arg(2, 18);
const kLongLivedTreeDepth = arg(3, 16);
const kArraySize = arg(4, 500000);
const kMinTreeDepth = arg(5, 4);
const kMaxTreeDepth = arg(6, 16);

function Node(l, r) {
  this.left = l;
  this.right = r;
  this.i = 0;
  this.j = 0;
}

function TreeSize(i) {
  return (1 << (i + 1)) - 1;
}

function NumIters(i) {
  return Math.trunc((2 * TreeSize(kStretchTreeDepth)) / TreeSize(i));
}

// Build tree top down, assigning to older objects.
function Populate(iDepth, thisNode) {
  if (iDepth <= 0) {
    return;
  }
  iDepth--;
  thisNode.left = new Node(null, null);
  thisNode.right = new Node(null, null);
  Populate(iDepth, thisNode.left);
  Populate(iDepth, thisNode.right);
}

// Build tree bottom-up.
function MakeTree(iDepth) {
  if (iDepth <= 0) {
    return new Node(null, null);
  }
  return new Node(MakeTree(iDepth - 1), MakeTree(iDepth - 1));
}

// Nodes of a tree, -1 if it is not perfect.
function CountNodes(node, depth) {
  if (node.left === null || node.right === null) {
    return node.left === node.right && depth === 0 ? 1 : -1;
  }
  const l = CountNodes(node.left, depth - 1);
  const r = CountNodes(node.right, depth - 1);
  return l < 0 || r < 0 ? -1 : 1 + l + r;
}

function TimeConstruction(depth) {
  const iNumIters = NumIters(depth);
  let tempTree;
  let nodes = 0;
  console.log(`Creating ${iNumIters} trees of depth ${depth}`);
  for (let i = 0; i < iNumIters; ++i) {
    tempTree = new Node(null, null);
    Populate(depth, tempTree);
    if (i === 0) nodes += CountNodes(tempTree, depth);
    tempTree = null;
  }
  console.log('\tTop down construction');
  for (let i = 0; i < iNumIters; ++i) {
    tempTree = MakeTree(depth);
    if (i === 0) nodes += CountNodes(tempTree, depth);
    tempTree = null;
  }
  console.log('\tBottom up construction');
  return nodes;
}

function main() {
  console.log('Garbage Collector Test');
  console.log(`Stretching memory with a binary tree of depth ${kStretchTreeDepth}`);
  let tempTree = MakeTree(kStretchTreeDepth);
  tempTree = null;

  console.log(`Creating a long-lived binary tree of depth ${kLongLivedTreeDepth}`);
  const longLivedTree = new Node(null, null);
  Populate(kLongLivedTreeDepth, longLivedTree);

  console.log(`Creating a long-lived array of ${kArraySize} doubles`);
  const array = new Float64Array(kArraySize);
  for (let i = 0; i < kArraySize / 2; ++i) {
    array[i] = 1.0 / i;
  }

  let checked = 0;
  for (let d = kMinTreeDepth; d <= kMaxTreeDepth; d += 2) {
    checked += TimeConstruction(d);
  }

  const longLivedNodes = CountNodes(longLivedTree, kLongLivedTreeDepth);
  let arrayOk = true;
  for (let i = 1; i < kArraySize; ++i) {
    const want = i < kArraySize / 2 ? 1.0 / i : 0.0;
    if (array[i] !== want) arrayOk = false;
  }
  if (longLivedNodes !== TreeSize(kLongLivedTreeDepth) || !arrayOk) {
    console.log('Failed');
  }
  console.log(`checked ${checked} nodes of sample trees, long-lived tree of ${longLivedNodes} nodes, array ${arrayOk ? 'intact' : 'damaged'}`);
}

main();

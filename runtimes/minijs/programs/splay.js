// Splay (Octane's Splay and SplayLatency), as isogc's src/workloads/splay.rs
// defines it: a splay tree (top-down splaying) of treeSize (8,000) nodes
// keyed by random doubles; each node's value is a payload, a perfect binary
// tree of depth payloadDepth (5) whose leaves each hold a 10-element array
// and a fresh string naming the key. A step replaces modifications (80)
// nodes: insert a node with a new random key, then remove the node with
// the greatest key below it (or the new node if there is none). The
// latency of every step is recorded. At the end the tree is verified: its
// size, keys strictly increasing in order, and every payload intact.
// The keys come from Octane's own Math.random (base.js, seed 49734321),
// which plain JavaScript can compute exactly.
// Usage: splay.js [steps=5000] [treeSize=8000] [modifications=80]
//                 [payloadDepth=5] [latencyFile]
// latencyFile: one per-step latency (ms) per line. Prints no times.
'use strict';

function arg(i, dflt) {
  return process.argv.length > i ? parseInt(process.argv[i], 10) : dflt;
}
const kSteps = arg(2, 5000);
const kSplayTreeSize = arg(3, 8000);
const kSplayTreeModifications = arg(4, 80);
const kSplayTreePayloadDepth = arg(5, 5);
const latencyFile = process.argv.length > 6 ? process.argv[6] : null;

// Octane base.js: Robert Jenkins' 32 bit integer hash.
let seed = 49734321;
function random() {
  seed = ((seed + 0x7ed55d16) + (seed << 12)) & 0xffffffff;
  seed = ((seed ^ 0xc761c23c) ^ (seed >>> 19)) & 0xffffffff;
  seed = ((seed + 0x165667b1) + (seed << 5)) & 0xffffffff;
  seed = ((seed + 0xd3a2646c) ^ (seed << 9)) & 0xffffffff;
  seed = ((seed + 0xfd7046c5) + (seed << 3)) & 0xffffffff;
  seed = ((seed ^ 0xb55a4f09) ^ (seed >>> 16)) & 0xffffffff;
  return (seed & 0xfffffff) / 0x10000000;
}

function SplayTree() {}

SplayTree.prototype.root_ = null;

SplayTree.prototype.isEmpty = function () {
  return !this.root_;
};

SplayTree.prototype.insert = function (key, value) {
  if (this.isEmpty()) {
    this.root_ = new SplayTree.Node(key, value);
    return;
  }
  this.splay_(key);
  if (this.root_.key == key) {
    return;
  }
  const node = new SplayTree.Node(key, value);
  if (key > this.root_.key) {
    node.left = this.root_;
    node.right = this.root_.right;
    this.root_.right = null;
  } else {
    node.right = this.root_;
    node.left = this.root_.left;
    this.root_.left = null;
  }
  this.root_ = node;
};

SplayTree.prototype.remove = function (key) {
  if (this.isEmpty()) {
    throw new Error('Key not found: ' + key);
  }
  this.splay_(key);
  if (this.root_.key != key) {
    throw new Error('Key not found: ' + key);
  }
  const removed = this.root_;
  if (!this.root_.left) {
    this.root_ = this.root_.right;
  } else {
    const right = this.root_.right;
    this.root_ = this.root_.left;
    this.splay_(key);
    this.root_.right = right;
  }
  return removed;
};

SplayTree.prototype.find = function (key) {
  if (this.isEmpty()) {
    return null;
  }
  this.splay_(key);
  return this.root_.key == key ? this.root_ : null;
};

SplayTree.prototype.findMax = function (startNode) {
  if (this.isEmpty()) {
    return null;
  }
  let current = startNode || this.root_;
  while (current.right) {
    current = current.right;
  }
  return current;
};

SplayTree.prototype.findGreatestLessThan = function (key) {
  if (this.isEmpty()) {
    return null;
  }
  this.splay_(key);
  if (this.root_.key < key) {
    return this.root_;
  } else if (this.root_.left) {
    return this.findMax(this.root_.left);
  }
  return null;
};

SplayTree.prototype.exportNodes = function () {
  const result = [];
  if (!this.isEmpty()) {
    this.root_.traverse_(function (node) {
      result.push(node);
    });
  }
  return result;
};

SplayTree.prototype.splay_ = function (key) {
  if (this.isEmpty()) {
    return;
  }
  let dummy, left, right;
  dummy = left = right = new SplayTree.Node(null, null);
  let current = this.root_;
  while (true) {
    if (key < current.key) {
      if (!current.left) {
        break;
      }
      if (key < current.left.key) {
        // Rotate right.
        const tmp = current.left;
        current.left = tmp.right;
        tmp.right = current;
        current = tmp;
        if (!current.left) {
          break;
        }
      }
      // Link right.
      right.left = current;
      right = current;
      current = current.left;
    } else if (key > current.key) {
      if (!current.right) {
        break;
      }
      if (key > current.right.key) {
        // Rotate left.
        const tmp = current.right;
        current.right = tmp.left;
        tmp.left = current;
        current = tmp;
        if (!current.right) {
          break;
        }
      }
      // Link left.
      left.right = current;
      left = current;
      current = current.right;
    } else {
      break;
    }
  }
  // Assemble.
  left.right = current.left;
  right.left = current.right;
  current.left = dummy.right;
  current.right = dummy.left;
  this.root_ = current;
};

SplayTree.Node = function (key, value) {
  this.key = key;
  this.value = value;
};

SplayTree.Node.prototype.left = null;
SplayTree.Node.prototype.right = null;

SplayTree.Node.prototype.traverse_ = function (f) {
  let current = this;
  while (current) {
    const left = current.left;
    if (left) left.traverse_(f);
    f(current);
    current = current.right;
  }
};

function GeneratePayloadTree(depth, tag) {
  if (depth == 0) {
    return {
      array: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
      string: 'String for key ' + tag + ' in leaf node',
    };
  }
  return {
    left: GeneratePayloadTree(depth - 1, tag),
    right: GeneratePayloadTree(depth - 1, tag),
  };
}

let splayTree = null;

function InsertNewNode() {
  // Insert new node with a unique key.
  let key;
  do {
    key = random();
  } while (splayTree.find(key) != null);
  const payload = GeneratePayloadTree(kSplayTreePayloadDepth, String(key));
  splayTree.insert(key, payload);
  return key;
}

function SplayRun() {
  for (let i = 0; i < kSplayTreeModifications; i++) {
    const key = InsertNewNode();
    const greatest = splayTree.findGreatestLessThan(key);
    if (greatest == null) splayTree.remove(key);
    else splayTree.remove(greatest.key);
  }
}

// Leaves of an intact payload of `depth` for `tag`, or throws.
function CheckPayload(node, depth, tag) {
  if (depth == 0) {
    const a = node.array;
    if (a.length != 10) throw new Error('payload array of length ' + a.length);
    for (let i = 0; i < 10; i++) {
      if (a[i] !== i) throw new Error('payload array damaged');
    }
    if (node.string !== 'String for key ' + tag + ' in leaf node') throw new Error('payload string damaged');
    return 1;
  }
  return CheckPayload(node.left, depth - 1, tag) + CheckPayload(node.right, depth - 1, tag);
}

function main() {
  splayTree = new SplayTree();
  for (let i = 0; i < kSplayTreeSize; i++) {
    InsertNewNode();
  }
  const latencies = new Float64Array(kSteps);
  let last = performance.now();
  for (let s = 0; s < kSteps; s++) {
    SplayRun();
    const now = performance.now();
    latencies[s] = now - last;
    last = now;
  }
  const nodes = splayTree.exportNodes();
  if (nodes.length != kSplayTreeSize) {
    throw new Error('Splay tree has wrong size: ' + nodes.length);
  }
  let keySum = 0;
  let leaves = 0;
  for (let i = 0; i < nodes.length; i++) {
    if (i + 1 < nodes.length && nodes[i].key >= nodes[i + 1].key) {
      throw new Error('Splay tree not sorted');
    }
    keySum += nodes[i].key;
    leaves += CheckPayload(nodes[i].value, kSplayTreePayloadDepth, String(nodes[i].key));
  }
  if (latencyFile) {
    const lines = [];
    for (let s = 0; s < kSteps; s++) lines.push(latencies[s].toFixed(4));
    require('fs').writeFileSync(latencyFile, lines.join('\n') + '\n');
  }
  console.log(`steps=${kSteps} keys=${nodes.length} leaves=${leaves} key_sum=${keySum.toFixed(9)}`);
}

main();

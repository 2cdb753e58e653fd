// Reads before.heapsnapshot and after.heapsnapshot in the directory given as
// the argument with @vscode/v8-heap-parser (an independent parser of V8 heap
// snapshots: Rust compiled to WebAssembly, used by VS Code's JavaScript
// debugger), and checks what expected.json says it must find: node and edge
// counts, the instances of a class, a known object's self size and
// retainers, and the leak's growth between the two snapshots.
// Exits non-zero, saying why, on the first disagreement.
'use strict';
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const parser = require('@vscode/v8-heap-parser');

const dir = process.argv[2];
const expected = JSON.parse(fs.readFileSync(path.join(dir, 'expected.json'), 'utf8'));

function load(name) {
  const graph = parser.decode_bytes(fs.readFileSync(path.join(dir, name)));
  // Every node belongs to one class group; every edge leaves one node.
  const groups = graph.get_class_groups(0, 1 << 30, true);
  const byId = new Map();
  const counts = new Map();
  let nodes = 0;
  let edges = 0;
  groups.forEach((group, gi) => {
    const members = graph.class_children(gi, 0, group.children_len, parser.WasmSortBy.SelfSize);
    counts.set(group.name(), members.length);
    for (const node of members) {
      nodes += 1;
      edges += node.children_len;
      byId.set(node.id, node);
    }
  });
  return { graph, nodes, edges, counts, byId };
}

function retainerNames(snap, id) {
  const node = snap.byId.get(id);
  assert.ok(node, `no node with id ${id}`);
  // Direct retainers: the entries that retain the queried node itself.
  return snap.graph
    .get_all_retainers(node.index, 1)
    .filter((r) => r.retains_index === node.index && r.index !== node.index)
    .map((r) => r.name());
}

const before = load('before.heapsnapshot');
const after = load('after.heapsnapshot');
for (const [name, snap] of [['before', before], ['after', after]]) {
  const want = expected[name];
  assert.equal(snap.nodes, want.nodes, `${name}: node count`);
  assert.equal(snap.edges, want.edges, `${name}: edge count`);
  assert.equal(snap.counts.get('Entry'), want.Entry, `${name}: Entry instances`);
}
for (const key of ['cache', 'entries']) {
  const want = expected[key];
  const node = after.byId.get(want.id);
  assert.ok(node, `${key}: no node with id ${want.id}`);
  assert.equal(Number(node.self_size), want.self_size, `${key}: self size`);
  assert.deepEqual(retainerNames(after, want.id), want.retainers, `${key}: retainers`);
}
assert.equal(after.byId.get(expected.cache.id).name(), 'Cache');
// The leak: Entry grew by 50 between the snapshots; the Cache did not.
const grown = [...after.counts].filter(([name, n]) => n > (before.counts.get(name) || 0)).map(([name]) => name);
assert.ok(grown.includes('Entry'), `Entry did not grow: ${grown}`);
assert.ok(!grown.includes('Cache'), 'the Cache grew');
console.log(`ok: ${after.nodes} nodes, ${after.edges} edges; Entry ${before.counts.get('Entry')} -> ${after.counts.get('Entry')}`);

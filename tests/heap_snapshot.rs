//! Heap snapshots (issue #17, `src/heap_snapshot/`): V8's `.heapsnapshot`
//! layout, nodes and edges per object kind, field names from the layout,
//! ids that survive moves, safety during marking and sweeping, a failing
//! writer, leak finding with `heap_snapshot::analysis`, and the same files
//! read by an independent parser (`@vscode/v8-heap-parser`, run by node).

mod common;

use common::*;
use isogc::heap_snapshot::analysis::{HeapSnapshot, Node};
use isogc::*;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

fn isolate(platform: &Platform, config: HeapConfig) -> Isolate {
    Isolate::new(platform, config).unwrap()
}

fn snapshot(scope: &mut HandleScope<'_>) -> (HeapSnapshot, HeapSnapshotInfo) {
    let mut out = Vec::new();
    let info = scope.write_heap_snapshot(&mut out).unwrap();
    assert_eq!(info.bytes as usize, out.len());
    (HeapSnapshot::parse(&out[..]).unwrap(), info)
}

/// The instances of class `name` (objects named by their map, not the
/// strings with that text).
fn named<'a>(s: &'a HeapSnapshot, name: &'a str) -> Vec<Node> {
    s.instances_of(name).map(|i| s.node(i)).collect()
}

/// The edges of node `i` as `(kind, name, to)`, with `to` by node name.
fn edges(s: &HeapSnapshot, i: usize) -> Vec<(String, String, String)> {
    s.edges_of(i).map(|e| (e.kind, e.name, s.node(e.to).name)).collect()
}

fn e(kind: &str, name: &str, to: &str) -> (String, String, String) {
    (kind.into(), name.into(), to.into())
}

#[test]
fn a_snapshot_has_v8s_layout_and_its_meta_section() {
    let platform = Platform::new(1).unwrap();
    let mut iso = isolate(&platform, test_config());
    let mut scope = HandleScope::new(&mut iso);
    let mut out = Vec::new();
    let info = scope.write_heap_snapshot(&mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    // The sections in V8's order, and the meta section byte for byte.
    let order = ["\"snapshot\":", "\"nodes\":", "\"edges\":", "\"trace_function_infos\":[]", "\"trace_tree\":[]"];
    let order = order.iter().chain(&["\"samples\":[]", "\"locations\":[]", "\"strings\":[\"<dummy>\""]);
    let mut at = 0;
    for section in order {
        at += text[at..].find(section).unwrap_or_else(|| panic!("no {section} after byte {at}"));
    }
    assert!(text.contains(concat!(
        r#""node_fields":["type","name","id","self_size","edge_count","trace_node_id","detachedness"],"#,
        r#""node_types":[["hidden","array","string","object","code","closure","regexp","number","native","synthetic","concatenated string","sliced string","symbol","bigint","object shape"],"string","number","number","number","number","number"],"#,
        r#""edge_fields":["type","name_or_index","to_node"],"#,
        r#""edge_types":[["context","element","property","internal","hidden","shortcut","weak"],"string_or_number","node"]"#
    )));
    let s = HeapSnapshot::parse(text.as_bytes()).unwrap();
    assert_eq!((s.node_count(), s.edge_count()), (info.nodes, info.edges));
    assert!(text.contains(&format!("\"node_count\":{},\"edge_count\":{}", info.nodes, info.edges)));
    // The synthetic roots, as V8 numbers them.
    let root = s.node(0);
    assert_eq!((root.kind.as_str(), root.name.as_str(), root.id), ("synthetic", "", 1));
    let gc_roots = s.node(1);
    assert_eq!((gc_roots.name.as_str(), gc_roots.id), ("(GC roots)", 3));
    let subroots: Vec<_> = s.edges_of(1).map(|e| s.node(e.to).name).collect();
    assert_eq!(subroots, ["(Handle scope)", "(Global handles)", "(Internalized strings)", "(Read-only roots)"]);
    let ro = s.nodes_named("(Read-only roots)").next().unwrap();
    let undefined = s.edges_of(ro).find(|e| e.name == "undefined_value").unwrap();
    assert_eq!((undefined.kind.as_str(), s.node(undefined.to).name.as_str()), ("internal", "system / Oddball"));
    // Ids: odd for heap objects, each once.
    let mut ids: Vec<u64> = s.nodes().map(|n| n.id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), s.node_count());
    assert!(s.nodes().filter(|n| n.kind != "synthetic").all(|n| n.id % 2 == 1 && n.id > 100));
}

#[test]
fn objects_are_named_by_kind_and_fields_by_the_layout() {
    let platform = Platform::new(1).unwrap();
    let mut iso = isolate(&platform, test_config());
    let mut scope = HandleScope::new(&mut iso);
    let node = scope.new_map(&ObjectLayout::new("TreeNode", 2, 8).with_field_names(["left", "right"])).unwrap();
    let pair = scope.new_map(&ObjectLayout::new("Pair", 2, 0)).unwrap();
    let (root, leaf) = (scope.new_object(node).unwrap(), scope.new_object(node).unwrap());
    scope.set(root, 0, leaf);
    scope.set(root, 1, Smi::from(41));
    let n = scope.new_number(2.5).unwrap();
    scope.set(leaf, 1, n);
    let p = scope.new_object(pair).unwrap();
    let label = scope.new_string("a \"quoted\"\nlabel é").unwrap();
    scope.set(p, 1, label);
    let smis = scope.new_fixed_array(3).unwrap();
    for i in 0..3 {
        scope.set(smis, i, Smi::from(i as i32 * 1000));
    }
    scope.set(smis, 1, p);
    let _g = scope.global(smis);
    assert_eq!(scope.field_name(root, 1).as_deref(), Some("right"));
    assert_eq!(scope.field_name(p, 0), None);
    assert_eq!(scope.layout(node).unwrap().field_names, ["left", "right"]);

    let (s, _) = snapshot(&mut scope);
    let tree_nodes = named(&s, "TreeNode");
    assert_eq!(tree_nodes.len(), 2);
    assert!(tree_nodes.iter().all(|n| n.kind == "object" && n.self_size == 8 + 2 * 8 + 8));
    let parent = tree_nodes.iter().find(|n| n.edge_count == 2).unwrap();
    assert_eq!(
        edges(&s, parent.index),
        [e("property", "left", "TreeNode"), e("internal", "map", "system / Map (TreeNode)")],
        "the Smi in `right` is a value, not an edge"
    );
    let child = tree_nodes.iter().find(|n| n.index != parent.index).unwrap();
    assert_eq!(edges(&s, child.index)[0], e("property", "right", "heap number"));
    // A heap number's value is a string node behind a `value` edge.
    let number = s.nodes_named("heap number").next().unwrap();
    let value = s.edges_of(number).next().unwrap();
    assert_eq!((value.kind.as_str(), value.name.as_str()), ("internal", "value"));
    let v = s.node(value.to);
    assert_eq!((v.kind.as_str(), v.name.as_str(), v.id), ("string", "2.5", s.node(number).id + 1));
    // Unnamed fields are elements; strings carry their text.
    let pair_node = named(&s, "Pair").pop().unwrap();
    assert_eq!(edges(&s, pair_node.index)[0], e("element", "1", "a \"quoted\"\nlabel é"));
    let label_node = s.node(s.nodes_named("a \"quoted\"\nlabel é").next().unwrap());
    assert_eq!((label_node.kind.as_str(), label_node.self_size), ("string", 3 * 8 + 24));
    // An array's Smis are values: one element edge, to the pair.
    let arrays: Vec<_> = named(&s, "FixedArray").into_iter().filter(|n| n.self_size == 2 * 8 + 3 * 8).collect();
    assert_eq!(arrays.len(), 1);
    assert_eq!(edges(&s, arrays[0].index), [e("element", "1", "Pair")]);
    assert_eq!(s.nodes().filter(|n| n.kind == "number").count(), 1, "one heap number; Smis are no nodes");
    // The array's retainer is its global handle.
    let retainers: Vec<_> =
        s.retainers(arrays[0].index).into_iter().map(|(from, e)| (s.node(from).name, e.kind)).collect();
    let handles = [("(Handle scope)", "element"), ("(Global handles)", "element")].map(|(a, b)| (a.into(), b.into()));
    assert_eq!(retainers, handles, "its local and its global handle");
}

#[test]
#[should_panic(expected = "names 1 fields but has 2 tagged fields")]
fn a_layout_naming_the_wrong_number_of_fields_panics() {
    let platform = Platform::new(1).unwrap();
    let mut iso = isolate(&platform, test_config());
    let mut scope = HandleScope::new(&mut iso);
    let _ = scope.new_map(&ObjectLayout::new("Bad", 2, 0).with_field_names(["only"]));
}

/// `n` objects `Labelled { label, next }` in a list held by a global; each
/// label is `"L<i>"`.
fn labelled_list(scope: &mut HandleScope<'_>, n: usize) -> Global<Value> {
    let map = scope.new_map(&ObjectLayout::new("Labelled", 2, 0).with_field_names(["label", "next"])).unwrap();
    let mut s = HandleScope::new(scope);
    let mut list = s.null();
    for i in 0..n {
        let o = s.new_object(map).unwrap();
        let label = s.new_string(&format!("L{i}")).unwrap();
        s.set(o, 0, label);
        s.set(o, 1, list);
        list = o.as_value();
    }
    s.global(list)
}

/// label text → id of the `Labelled` node holding it.
fn ids_by_label(s: &HeapSnapshot) -> std::collections::HashMap<String, u64> {
    s.instances_of("Labelled")
        .map(|i| {
            let label = s.edges_of(i).find(|e| e.name == "label").unwrap();
            (s.node(label.to).name, s.node(i).id)
        })
        .collect()
}

#[test]
fn ids_are_stable_although_every_object_moves() {
    let platform = Platform::new(1).unwrap();
    // Every movable page is an evacuation candidate at every major GC, so
    // the snapshot's own full GC moves every old object.
    let mut iso = isolate(&platform, HeapConfig { stress_compaction: true, ..test_config() });
    let mut scope = HandleScope::new(&mut iso);
    assert_eq!(scope.heap_snapshot_ids(), 0, "no snapshot, no id table");
    let list = labelled_list(&mut scope, 2000);
    let (first, _) = snapshot(&mut scope);
    let before = ids_by_label(&first);
    assert_eq!(before.len(), 2000);
    assert!(scope.heap_snapshot_ids() >= 4000);
    // Scavenges with young garbage, then the next snapshot's compaction.
    for _ in 0..3 {
        let mut s = HandleScope::new(&mut scope);
        for _ in 0..2000 {
            s.new_fixed_array(8).unwrap();
        }
        s.collect_garbage(GcRequest::Minor);
    }
    let events_before = scope.next_gc_event();
    let (second, _) = snapshot(&mut scope);
    let (events, _) = scope.gc_events_since(events_before);
    let moved: usize = events.iter().map(|e| e.evacuated_bytes).sum();
    assert!(moved > 2000 * 24, "the snapshot's GC moved the list ({moved} bytes evacuated)");
    assert_eq!(ids_by_label(&second), before, "every object kept its id");
    // A dead object's id goes with it, and is never handed out again.
    drop(list);
    let (third, _) = snapshot(&mut scope);
    assert_eq!(third.instances_of("Labelled").count(), 0);
    let max_before = second.nodes().map(|n| n.id).max().unwrap();
    let fresh = labelled_list(&mut scope, 1);
    let (fourth, _) = snapshot(&mut scope);
    assert!(ids_by_label(&fourth)["L0"] > max_before);
    drop(fresh);
}

#[test]
fn a_snapshot_during_marking_or_sweeping_is_complete_and_leaves_the_heap_verified() {
    let platform = Platform::new(2).unwrap();
    for request in [GcRequest::StartMarking, GcRequest::Major] {
        let mut iso = isolate(&platform, test_config_in(GcMode::Concurrent).with_initial_old_space(256 * MB));
        let mut scope = HandleScope::new(&mut iso);
        let list = labelled_list(&mut scope, 3000);
        {
            let mut s = HandleScope::new(&mut scope);
            for _ in 0..20_000 {
                s.new_fixed_array(4).unwrap(); // garbage for the sweeper
            }
        }
        scope.collect_garbage(GcRequest::Major);
        scope.collect_garbage(request);
        if request == GcRequest::StartMarking {
            assert!(scope.is_marking());
            // Objects the marker has not seen yet, behind the barrier.
            let extra = labelled_list(&mut scope, 100);
            std::mem::forget(extra);
        } else {
            assert!(scope.is_sweeping(), "the test needs sweeping pending");
        }
        let (s, info) = snapshot(&mut scope);
        assert!(!scope.is_marking() && !scope.is_sweeping());
        let expect = if request == GcRequest::StartMarking { 3100 } else { 3000 };
        assert_eq!(s.instances_of("Labelled").count(), expect);
        assert_eq!(s.node_count(), info.nodes);
        // Only live objects: the garbage arrays are gone.
        assert!(s.nodes_named("FixedArray").count() < 100);
        drop(list);
        assert_usable(&mut scope);
    }
}

/// A writer that fails after `left` bytes.
struct Failing {
    left: usize,
}

impl Write for Failing {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.left == 0 {
            return Err(io::Error::other("disk full"));
        }
        let n = buf.len().min(self.left);
        self.left -= n;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_failing_writer_returns_its_error_and_the_isolate_stays_usable() {
    let platform = Platform::new(1).unwrap();
    let mut iso = isolate(&platform, test_config());
    let mut scope = HandleScope::new(&mut iso);
    let _list = labelled_list(&mut scope, 5000);
    for left in [0, 100, 70_000] {
        let err = scope.write_heap_snapshot(Failing { left }).unwrap_err();
        assert_eq!(err.to_string(), "disk full");
        assert_usable(&mut scope);
    }
    let err = scope.write_heap_snapshot_to("/nonexistent-dir/x.heapsnapshot").unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::NotFound);
    let (s, _) = snapshot(&mut scope);
    assert_eq!(s.instances_of("Labelled").count(), 5000);
}

/// The leaky program of the consumer test: a `Cache` (held by a global)
/// whose `entries` array gains `Entry` objects that nobody removes; two
/// snapshots, before and after 50 more entries.
fn leaky_program(dir: &Path) -> (HeapSnapshot, HeapSnapshot) {
    let platform = Platform::new(1).unwrap();
    let mut iso = isolate(&platform, test_config());
    let mut scope = HandleScope::new(&mut iso);
    let cache = scope.new_map(&ObjectLayout::new("Cache", 2, 0).with_field_names(["entries", "size"])).unwrap();
    let entry = scope.new_map(&ObjectLayout::new("Entry", 1, 16).with_field_names(["key"])).unwrap();
    let keep = {
        let mut s = HandleScope::new(&mut scope);
        let c = s.new_object(cache).unwrap();
        let entries = s.new_fixed_array(100).unwrap();
        s.set(c, 0, entries);
        s.global(c)
    };
    let add = |scope: &mut HandleScope<'_>, from: usize, to: usize| {
        let mut s = HandleScope::new(scope);
        let c = s.open(&keep);
        let c = s.cast::<Object, _>(c).unwrap();
        let entries = s.get(c, 0);
        let entries = s.cast::<FixedArray, _>(entries).unwrap();
        for i in from..to {
            let e = s.new_object(entry).unwrap();
            let key = s.new_string(&format!("key-{i}")).unwrap();
            s.set(e, 0, key);
            s.set(entries, i, e);
        }
        s.set(c, 1, Smi::from(to as i32));
    };
    add(&mut scope, 0, 10);
    scope.write_heap_snapshot_to(dir.join("before.heapsnapshot")).unwrap();
    add(&mut scope, 10, 60);
    scope.write_heap_snapshot_to(dir.join("after.heapsnapshot")).unwrap();
    (
        HeapSnapshot::from_path(dir.join("before.heapsnapshot")).unwrap(),
        HeapSnapshot::from_path(dir.join("after.heapsnapshot")).unwrap(),
    )
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("isogc-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn a_leak_shows_as_growth_and_its_retaining_path_leads_to_the_cache() {
    let dir = temp_dir("leak");
    let (before, after) = leaky_program(&dir);
    let growth = after.growth_since(&before);
    let g = |name: &str| growth.iter().find(|g| g.name == name).unwrap_or_else(|| panic!("no growth of {name}"));
    let entries = g("Entry");
    assert_eq!((entries.before, entries.after, entries.new_ids.len()), (10, 60, 50));
    assert_eq!(entries.bytes_after, 60 * (8 + 8 + 16));
    let top: Vec<_> = growth.iter().take(2).map(|g| g.name.as_str()).collect();
    assert_eq!(top, ["(string)", "Entry"], "the entries and their keys grew most (ties by name): {growth:?}");
    assert_eq!(g("(string)").after - g("(string)").before, 50);
    assert!(growth.iter().all(|g| g.name != "Cache"), "one cache in both");
    let leaked = after.node_by_id(entries.new_ids[0]).unwrap();
    let path = after.retaining_path(leaked).unwrap();
    assert_eq!(
        after.path_text(&path),
        ["(root)[1]", "(GC roots)[2]", "(Global handles)[0]", "Cache.entries", &format!("FixedArray[{}]", 10), "Entry"]
    );
    std::fs::remove_dir_all(dir).ok();
}

/// The files above, read by `@vscode/v8-heap-parser` (the parser VS Code's
/// JavaScript debugger uses for `.heapsnapshot` files; WebAssembly, no
/// dependencies), installed by `npm ci` in `tests/snapshot-consumer/`
/// (scripts/test-all.sh runs it). Skipped, saying so, where node is absent.
#[test]
fn an_independent_v8_snapshot_parser_reads_our_files() {
    let consumer = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshot-consumer");
    if std::process::Command::new("node").arg("--version").output().is_err() {
        eprintln!("SKIPPED an_independent_v8_snapshot_parser_reads_our_files: node is not installed");
        return;
    }
    assert!(
        consumer.join("node_modules/@vscode/v8-heap-parser").exists(),
        "node is installed but the parser is not: run `npm ci` in {} (scripts/test-all.sh does)",
        consumer.display()
    );
    let dir = temp_dir("consumer");
    let (before, after) = leaky_program(&dir);
    // What the parser must find, from our own reading of the files.
    let cache = after.instances_of("Cache").next().unwrap();
    let entries = after.edges_of(cache).find(|e| e.name == "entries").unwrap().to;
    let expected = format!(
        r#"{{"before":{{"nodes":{},"edges":{},"Entry":10}},"after":{{"nodes":{},"edges":{},"Entry":60}},
           "cache":{{"id":{},"self_size":{},"retainers":["(Global handles)"]}},
           "entries":{{"id":{},"self_size":{},"retainers":["Cache"]}}}}"#,
        before.node_count(),
        before.edge_count(),
        after.node_count(),
        after.edge_count(),
        after.node(cache).id,
        after.node(cache).self_size,
        after.node(entries).id,
        after.node(entries).self_size,
    );
    std::fs::write(dir.join("expected.json"), expected).unwrap();
    let out = std::process::Command::new("node").arg(consumer.join("check.js")).arg(&dir).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "the parser disagrees:\n{text}");
    assert!(text.contains("ok: "), "{text}");
    std::fs::remove_dir_all(dir).ok();
}

/// The example built beside this test executable, if it is there and at
/// least as new as this test (as in tests/pauses_demo.rs).
fn built_example(name: &str) -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let profile_dir = exe.parent()?.parent()?;
    let example = profile_dir.join("examples").join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    let (built, this) = (example.metadata().ok()?.modified().ok()?, exe.metadata().ok()?.modified().ok()?);
    (built >= this).then_some(example)
}

#[test]
fn the_pause_demonstration_writes_a_snapshot_per_workload_with_named_objects_and_retainers() {
    let dir = temp_dir("pauses");
    let args = ["--quick", "--workload", "gcbench", "--mode", "stop-the-world", "--json"];
    let (snapshots, report) = (dir.join("snapshots"), dir.join("report"));
    let mut cmd = match built_example("pauses") {
        Some(example) => std::process::Command::new(example),
        None => {
            let mut c = std::process::Command::new(env!("CARGO"));
            c.current_dir(env!("CARGO_MANIFEST_DIR")).args([
                "run",
                "--quiet",
                "--profile",
                "test",
                "--example",
                "pauses",
                "--",
            ]);
            c
        }
    };
    let out = cmd.args(args).arg("--heap-snapshot").arg(&snapshots).arg("--out").arg(&report).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let file = snapshots.join("gcbench-stop-the-world.heapsnapshot");
    assert!(String::from_utf8_lossy(&out.stderr).contains(&format!("wrote {}", file.display())));
    let s = HeapSnapshot::from_path(&file).unwrap();
    // GCBench's long-lived tree (depth 14 in --quick) and its array are alive.
    let nodes = named(&s, "Node");
    assert!(nodes.len() >= (1 << 15) - 1, "{} Node objects", nodes.len());
    let inner = nodes.iter().find(|n| n.edge_count == 3).unwrap();
    let fields: Vec<_> = edges(&s, inner.index).into_iter().map(|(k, n, to)| format!("{k} {n} -> {to}")).collect();
    assert_eq!(fields, ["property left -> Node", "property right -> Node", "internal map -> system / Map (Node)"]);
    let path = s.path_text(&s.retaining_path(inner.index).unwrap());
    assert_eq!(path[..2], ["(root)[1]", "(GC roots)[1]"], "held by the workload's handle scope: {path:?}");
    assert!(path[3..path.len() - 1].iter().all(|step| step.starts_with("Node.")), "{path:?}");
    // The figures leave the snapshot's own GC out: the JSON line still parses.
    let line = String::from_utf8(out.stdout).unwrap();
    assert!(line.contains("\"workload\":\"gcbench\""), "{line}");
    std::fs::remove_dir_all(dir).ok();
}

/// The weak kinds (issue #18) are nodes too: an ephemeron table has a weak
/// edge to each key and an internal edge to its value; a WeakRef a weak
/// edge to its target. Only strong edges retain: the key's retaining path
/// goes through the array that keeps it, not through the table.
#[test]
fn ephemeron_tables_and_weak_refs_show_their_weak_edges() {
    let platform = Platform::new(1).unwrap();
    let mut iso = isolate(&platform, test_config());
    let mut scope = HandleScope::new(&mut iso);
    let map = scope.new_map(&ObjectLayout { name: "Key".into(), tagged_fields: 0, ..Default::default() }).unwrap();
    let vmap = scope.new_map(&ObjectLayout { name: "Val".into(), tagged_fields: 0, ..Default::default() }).unwrap();
    let holder = scope.new_fixed_array(3).unwrap();
    let table = scope.new_ephemeron_table().unwrap();
    let key = scope.new_object(map).unwrap();
    let value = scope.new_object(vmap).unwrap();
    scope.ephemeron_set(table, key, value).unwrap();
    let weak = scope.new_weak_ref(key).unwrap();
    scope.set(holder, 0, table);
    scope.set(holder, 1, key);
    scope.set(holder, 2, weak);
    let (s, _) = snapshot(&mut scope);
    let tables = s.instances_of("EphemeronTable").collect::<Vec<_>>();
    assert_eq!(tables.len(), 1);
    let t = edges(&s, tables[0]);
    assert!(t.contains(&e("weak", "key", "Key")), "{t:?}");
    assert!(t.contains(&e("internal", "value", "Val")), "{t:?}");
    let refs = s.instances_of("WeakRef").collect::<Vec<_>>();
    assert_eq!(refs.len(), 1);
    assert!(edges(&s, refs[0]).contains(&e("weak", "target", "Key")));
    let k = s.instances_of("Key").next().unwrap();
    let path = s.path_text(&s.retaining_path(k).unwrap());
    assert!(path.iter().all(|step| !step.contains("EphemeronTable") && !step.contains("WeakRef")), "{path:?}");
    // Every node but the root has a retainer: the weak kinds' maps hang from
    // "(Read-only roots)" like the other read-only objects.
    let mut retained = vec![false; s.node_count()];
    for from in 0..s.node_count() {
        for edge in s.edges_of(from) {
            retained[edge.to] = true;
        }
    }
    let loose: Vec<_> = (1..s.node_count()).filter(|&i| !retained[i]).map(|i| s.node(i)).collect();
    assert!(loose.is_empty(), "nodes no edge leads to: {loose:?}");
}

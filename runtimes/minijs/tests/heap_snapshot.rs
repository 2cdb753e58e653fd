//! `--heap-snapshot`: the heap a script leaves, written as a `.heapsnapshot`
//! by isogc's writer, shows the script's objects and what retains them.

use isogc::heap_snapshot::analysis::HeapSnapshot;
use minijs::{run, Options};

#[test]
fn a_script_s_objects_are_in_its_heap_snapshot_with_their_retainers() {
    let dir = std::env::temp_dir().join(format!("minijs-snapshot-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("leak.heapsnapshot");
    let source = "var cache = [];\n\
                  for (let i = 0; i < 500; i++) { cache.push({ id: i, label: 'entry ' + i }); }\n\
                  console.log(cache.length);\n";
    let options = Options { heap_snapshot: Some(path.clone()), ..Options::default() };
    let o = run("leak.js", source, &[], &options);
    assert_eq!(o.result, Ok(()));
    assert_eq!(String::from_utf8(o.stdout).unwrap(), "500\n");
    let s = HeapSnapshot::from_path(&path).unwrap();
    // The 500 entries share one hidden class (they were built the same way):
    // one class with at least 500 instances.
    let counts = s.class_counts();
    let (class, (n, _)) = counts.iter().max_by_key(|(_, (n, _))| *n).unwrap();
    assert!(*n >= 500, "the largest class {class} has {n} instances");
    // An entry is retained from the roots (through the cache's store).
    let entry = s.instances_of(class).next().unwrap();
    assert!(s.retaining_path(entry).is_some(), "an entry of {class} has no path from the roots");
    // Their labels are strings with their text.
    assert!(s.nodes_named("entry 499").next().is_some());
    std::fs::remove_dir_all(&dir).ok();
}

//! `WeakMap`, `WeakSet`, `WeakRef` and `FinalizationRegistry` on isogc's
//! weak kinds: each program runs in both GC modes with the heap verifier,
//! stress compaction and a 256 KiB new space, and must print the expected
//! text; where `node` is installed, `node --expose-gc` must print the same.
//!
//! The programs call `gc()` in `setTimeout` tasks because JavaScript keeps a
//! WeakRef's target alive until the job that created or dereferenced it
//! ends (KeepDuringJob), in node as in minijs.

mod common;

use common::*;
use minijs::{run, Error};
use std::process::Command;

/// `node --expose-gc` on `source`, or `None` where node is not installed.
fn node_output(name: &str, source: &str) -> Option<String> {
    let dir = std::env::temp_dir().join(format!("minijs-weak-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(format!("{name}.js"));
    std::fs::write(&path, source).expect("write the program");
    let out = Command::new("node").arg("--expose-gc").arg(&path).output().ok()?;
    assert!(out.status.success(), "node failed on {name}: {}", String::from_utf8_lossy(&out.stderr));
    Some(String::from_utf8(out.stdout).expect("node prints UTF-8"))
}

/// Runs `source` in both modes and returns the outcomes; each must end well
/// and print `expected`, as node must.
fn check(name: &str, source: &str, expected: &str) -> Vec<minijs::Outcome> {
    let mut outcomes = Vec::new();
    for mode in minijs::GC_MODES {
        let outcome = run(&format!("{name}.js"), source, &[], &stressed(mode));
        assert_eq!(outcome.result, Ok(()), "{name} in {mode:?}");
        let got = String::from_utf8(outcome.stdout.clone()).expect("UTF-8 output");
        assert_eq!(got, expected, "{name} in {mode:?}");
        outcomes.push(outcome);
    }
    if let Some(node) = node_output(name, source) {
        assert_eq!(node, expected, "{name}: node prints otherwise");
    }
    outcomes
}

#[test]
fn a_weak_map_value_dies_with_its_key() {
    let src = r#"
const m = new WeakMap();
let key = { k: 1 };
let probe;
(function () {
  const value = { payload: [1, 2, 3] };
  console.log("set returns the map:", m.set(key, value) === m);
  probe = new WeakRef(value);
})();
setTimeout(() => {
  gc();
  const v = probe.deref();
  console.log("value alive while its key is:", v !== undefined, m.get(key) === v, m.has(key), v.payload.join(","));
  key = null;
}, 1);
setTimeout(() => {
  gc();
  console.log("value after its key died:", probe.deref());
}, 2);
"#;
    check(
        "weakmap-value-dies-with-key",
        src,
        "set returns the map: true\nvalue alive while its key is: true true true 1,2,3\nvalue after its key died: undefined\n",
    );
}

#[test]
fn a_value_referring_to_its_own_key_does_not_keep_it_alive() {
    let src = r#"
const m = new WeakMap();
const m2 = new WeakMap();
let keyProbe, valueProbe, chainProbe;
(function () {
  const k = {};
  const v = { back: k };
  m.set(k, v);
  keyProbe = new WeakRef(k);
  valueProbe = new WeakRef(v);
  // A chain across two maps: k2 -> v2 (in m), v2 is the key of m2 -> v3.
  const k2 = {};
  const v2 = { back: k2 };
  const v3 = { back: v2 };
  m.set(k2, v2);
  m2.set(v2, v3);
  chainProbe = new WeakRef(v3);
})();
setTimeout(() => {
  gc();
  console.log("key:", keyProbe.deref(), "value:", valueProbe.deref(), "chain end:", chainProbe.deref());
}, 1);
"#;
    check("weakmap-self-reference", src, "key: undefined value: undefined chain end: undefined\n");
}

#[test]
fn weak_map_lookups_survive_scavenges_and_compaction() {
    // Enough allocation for the 256 KiB new space to scavenge many times,
    // and stress compaction moves the old keys at every major GC.
    let src = r#"
const m = new WeakMap();
const s = new WeakSet();
const keys = [];
for (let i = 0; i < 4000; i++) {
  const k = { i: i, pad: [i, i, i, i] };
  keys.push(k);
  m.set(k, { v: i * 2 });
  if (i % 2 === 0) s.add(k);
}
gc();
let ok = 0;
let inSet = 0;
for (let i = 0; i < keys.length; i++) {
  if (m.get(keys[i]).v === i * 2) ok++;
  if (s.has(keys[i])) inSet++;
}
console.log("lookups after moves:", ok, inSet);
console.log("delete:", m.delete(keys[0]), m.delete(keys[0]), m.has(keys[0]), m.get(keys[0]));
console.log("weak set:", s.add(keys[1]) === s, s.has(keys[1]), s.delete(keys[1]), s.has(keys[1]), s.has({}));
console.log("non-object keys:", m.get(1), m.has("x"), m.delete(null), s.has(undefined));
"#;
    for outcome in check(
        "weakmap-moves",
        src,
        "lookups after moves: 4000 2000\ndelete: true false false undefined\nweak set: true true true false false\n\
         non-object keys: undefined false false false\n",
    ) {
        let (minor, major) = outcome.counts;
        assert!(minor > 0 && major > 0, "the keys must move ({minor} minor, {major} major GCs)");
    }
}

#[test]
fn weak_ref_deref_is_kept_while_reachable_and_undefined_once_collected() {
    let src = r#"
let target = { name: "t" };
const w = new WeakRef(target);
let w2;
(function () { w2 = new WeakRef({ name: "only weak" }); })();
gc();
// Within the job that made them, both targets are kept (KeepDuringJob).
console.log("same job:", w.deref() === target, w2.deref().name);
setTimeout(() => {
  gc();
  console.log("reachable:", w.deref().name, "unreachable:", w2.deref());
  target = null;
}, 1);
setTimeout(() => {
  gc();
  console.log("after collection:", w.deref(), String(w));
}, 2);
"#;
    check(
        "weakref",
        src,
        "same job: true only weak\nreachable: t unreachable: undefined\nafter collection: undefined [object WeakRef]\n",
    );
}

#[test]
fn a_finalization_callback_gets_its_held_value_after_gc_and_not_after_unregister() {
    // node runs cleanup as a task of its own, after timers already due: the
    // timers here are far enough apart that both orders agree.
    let src = r#"
const r = new FinalizationRegistry((held) => console.log("cleanup", held.name));
const token = {};
(function () {
  r.register({}, { name: "first" });
  r.register({}, { name: "unregistered" }, token);
})();
let live = {};
r.register(live, { name: "live" });
console.log("unregister:", r.unregister(token), r.unregister(token));
console.log("before gc");
gc();
console.log("after gc, same job");
setTimeout(() => {
  console.log("next task");
  live = null;
  gc();
  console.log("task end");
}, 100);
setTimeout(() => console.log("done"), 300);
"#;
    check(
        "finalization",
        src,
        "unregister: true false\nbefore gc\nafter gc, same job\ncleanup first\nnext task\ntask end\ncleanup live\ndone\n",
    );
}

#[test]
fn a_dead_registry_delivers_nothing_and_a_callback_may_collect_again() {
    let src = r#"
(function () {
  const dead = new FinalizationRegistry(() => console.log("never: the registry died"));
  dead.register({}, "x");
})();
let chained = 0;
const r = new FinalizationRegistry((held) => {
  console.log("cleanup", held);
  if (held < 3) {
    (function () { r.register({}, held + 1); })();
    gc();
  }
});
(function () { r.register({}, 1); })();
gc();
console.log("script end");
"#;
    check("finalization-chain", src, "script end\ncleanup 1\ncleanup 2\ncleanup 3\n");
}

#[test]
fn bad_keys_and_targets_are_type_errors() {
    let src = r#"
const t = (f) => { try { f(); } catch (e) { console.log(String(e)); } };
t(() => new WeakMap().set(1, 2));
t(() => new WeakMap().set("s", 2));
t(() => new WeakMap().set(null, 2));
t(() => new WeakSet().add(1.5));
t(() => new WeakRef(1));
t(() => new WeakRef(undefined));
t(() => new FinalizationRegistry(1));
const r = new FinalizationRegistry((h) => h);
const o = {};
t(() => r.register(1, 2));
t(() => r.register(o, o));
t(() => r.register(o, 1, 5));
t(() => r.unregister(5));
t(() => WeakMap());
t(() => WeakRef(o));
console.log(r.unregister({}), typeof WeakMap, typeof WeakSet, typeof WeakRef, typeof FinalizationRegistry);
console.log(String(new WeakMap()), String(new WeakSet()), String(r), new WeakMap() instanceof WeakMap);
"#;
    let expected = "TypeError: Invalid value used as weak map key\n\
                    TypeError: Invalid value used as weak map key\n\
                    TypeError: Invalid value used as weak map key\n\
                    TypeError: Invalid value used in weak set\n\
                    TypeError: WeakRef: invalid target\n\
                    TypeError: WeakRef: invalid target\n\
                    TypeError: FinalizationRegistry: cleanup must be callable\n\
                    TypeError: FinalizationRegistry.prototype.register: invalid target\n\
                    TypeError: FinalizationRegistry.prototype.register: target and holdings must not be same\n\
                    TypeError: Invalid unregisterToken ('5')\n\
                    TypeError: Invalid unregisterToken ('5')\n\
                    TypeError: Constructor WeakMap requires 'new'\n\
                    TypeError: Constructor WeakRef requires 'new'\n\
                    false function function function function\n\
                    [object WeakMap] [object WeakSet] [object FinalizationRegistry] true\n";
    check("weak-type-errors", src, expected);
}

#[test]
fn a_throwing_cleanup_callback_is_uncaught() {
    let src = "const r = new FinalizationRegistry((h) => { throw new Error('cleanup ' + h); });\n\
               (function () { r.register({}, 'a'); })();\ngc();\nconsole.log('end');\n";
    for mode in minijs::GC_MODES {
        let o = run("throwing-cleanup.js", src, &[], &stressed(mode));
        assert_eq!(String::from_utf8(o.stdout).unwrap(), "end\n", "{mode:?}");
        assert_eq!(o.result, Err(Error::Uncaught("Error: cleanup a".into())), "{mode:?}");
    }
}

#[test]
fn the_readme_example_prints_what_the_readme_says() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).expect("read README.md");
    let block = |fence: &str| {
        let start = readme.find(fence).unwrap_or_else(|| panic!("README.md has a {fence} block")) + fence.len();
        readme[start..][..readme[start..].find("```").expect("the block ends")].to_string()
    };
    let (source, expected) = (block("```js\n"), block("```text\n"));
    assert!(source.contains("new FinalizationRegistry") && source.contains("new WeakMap"));
    check("readme-example", &source, &expected);
}

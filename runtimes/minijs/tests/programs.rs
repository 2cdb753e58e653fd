//! The three programs at small sizes, in both GC modes, with the heap
//! verifier on and a heap small enough that scavenges, major GCs and
//! compaction move objects throughout; the output must match the expected
//! text (node's, committed) and, where `node` is installed, node's own.

mod common;

use common::*;
use minijs::run;
use std::path::Path;
use std::process::Command;

fn program(name: &str) -> (String, String) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("programs").join(format!("{name}.js"));
    let source = std::fs::read_to_string(&path).expect("read the program");
    (path.to_string_lossy().into_owned(), source)
}

fn node_output(path: &str, args: &[&str]) -> Option<String> {
    let out = Command::new("node").arg(path).args(args).output().ok()?;
    assert!(out.status.success(), "node failed on {path}: {}", String::from_utf8_lossy(&out.stderr));
    Some(String::from_utf8(out.stdout).expect("node prints UTF-8"))
}

fn check(name: &str, args: &[&str]) -> Vec<minijs::Outcome> {
    let mut outcomes = Vec::new();
    let (path, source) = program(name);
    let expected_file =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/expected").join(format!("{name}-{}.txt", args.join("-")));
    let expected = std::fs::read_to_string(&expected_file).expect("read the expected output");
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    for mode in minijs::GC_MODES {
        let outcome = run(&path, &source, &args, &stressed(mode));
        assert_eq!(outcome.result, Ok(()), "{name} in {mode:?}");
        let got = String::from_utf8(outcome.stdout.clone()).expect("UTF-8 output");
        assert_eq!(got, expected, "{name} in {mode:?}: output differs from {}", expected_file.display());
        let (minor, major) = outcome.counts;
        assert!(minor > 0 && major > 0, "{name} in {mode:?}: the run must collect ({minor} minor, {major} major)");
        outcomes.push(outcome);
    }
    let arg_refs: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
    if let Some(node) = node_output(&path, &arg_refs) {
        assert_eq!(node, expected, "{name}: node's output differs from the committed text");
    }
    outcomes
}

#[test]
fn binarytrees_prints_what_node_prints() {
    let _ = check("binarytrees", &["10"]);
}

#[test]
fn gcbench_prints_what_node_prints() {
    let _ = check("gcbench", &["12", "12", "20000", "4", "10"]);
}

#[test]
fn splay_prints_what_node_prints() {
    for outcome in check("splay", &["20", "500", "20", "3"]) {
        // The payload's literals (GeneratePayloadTree's object and array
        // literals) survive in the tree: their sites tenure, as in V8.
        let payload: Vec<_> = outcome
            .sites
            .iter()
            .filter(|s| ["literal at 206:", "literal at 207:", "literal at 211:"].iter().any(|p| s.name.contains(p)))
            .collect();
        assert!(!payload.is_empty(), "no payload sites among {:?}", outcome.sites);
        assert!(
            payload.iter().any(|s| s.tenured_count > 0 && s.pretenured_objects > 0),
            "no payload site tenured: {payload:?}"
        );
    }
}

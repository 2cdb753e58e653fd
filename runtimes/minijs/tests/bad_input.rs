//! Bad input ends with a clear error, never a panic: syntax errors and
//! unsupported features (with line and column), uncaught exceptions, deep
//! recursion and heap exhaustion; the binary exits non-zero for each.

use isogc::HeapConfig;
use minijs::{run, Error, Options, Position};
use std::process::Command;

fn run_js(source: &str) -> (String, Result<(), Error>) {
    run_with(source, &Options::default())
}

fn run_with(source: &str, options: &Options) -> (String, Result<(), Error>) {
    let o = run("test.js", source, &[], options);
    (String::from_utf8(o.stdout).expect("UTF-8"), o.result)
}

#[test]
fn a_syntax_error_names_its_line_and_column() {
    let (_, r) = run_js("let a = 1;\nlet x = ;\n");
    match r {
        Err(Error::Syntax { at, .. }) => assert_eq!(at, Position { line: 2, column: 9 }),
        other => panic!("expected a syntax error, got {other:?}"),
    }
}

#[test]
fn an_unsupported_feature_is_named_with_its_position() {
    let (_, r) = run_js("console.log(1);\n  class A {}\n");
    assert_eq!(r, Err(Error::Unsupported { what: "class".into(), at: Position { line: 2, column: 3 } }));
    let (out, r) = run_js("console.log('before');\nfor (const x of [1]) {}\n");
    assert_eq!(out, "before\n", "the program runs up to the unsupported statement");
    assert_eq!(r, Err(Error::Unsupported { what: "for-of".into(), at: Position { line: 2, column: 1 } }));
}

#[test]
fn an_uncaught_throw_reports_the_error() {
    let (out, r) = run_js("console.log('a');\nthrow new Error('boom');\nconsole.log('b');\n");
    assert_eq!(out, "a\n");
    assert_eq!(r, Err(Error::Uncaught("Error: boom".into())));
    let (_, r) = run_js("let o = null;\no.x;\n");
    assert_eq!(r, Err(Error::Uncaught("TypeError: Cannot read properties of null (reading 'x')".into())));
    let (_, r) = run_js("nope();\n");
    assert_eq!(r, Err(Error::Uncaught("ReferenceError: nope is not defined".into())));
}

#[test]
fn a_caught_throw_goes_on() {
    let (out, r) = run_js(
        "try { throw new RangeError('r'); } catch (e) { console.log(String(e), e.message); }\nconsole.log('after');\n",
    );
    assert_eq!(r, Ok(()));
    assert_eq!(out, "RangeError: r r\nafter\n");
}

#[test]
fn a_string_indexed_off_its_characters_is_undefined() {
    // Only a non-negative integral index names a character, as in node.
    let (out, r) = run_js("console.log(\"abc\"[-1], \"abc\"[1.5], \"abc\"[1]);\n");
    assert_eq!(r, Ok(()));
    assert_eq!(out, "undefined undefined b\n");
}

#[test]
fn deep_recursion_is_a_range_error() {
    let (_, r) = run_js("function f(n) { return f(n + 1) + 1; }\nf(0);\n");
    assert_eq!(r, Err(Error::Uncaught("RangeError: Maximum call stack size exceeded".into())));
    // Catchable, and the interpreter's depth is restored after the catch.
    let src = "function f(n) { return f(n + 1); }\nlet c = 0;\nfor (let i = 0; i < 2; i++) { try { f(0); } catch (e) { c++; } }\nconsole.log(c);\n";
    let (out, r) = run_js(src);
    assert_eq!(r, Ok(()));
    assert_eq!(out, "2\n");
}

#[test]
fn heap_exhaustion_is_out_of_memory() {
    let options = Options {
        heap: HeapConfig { max_old_space_size: 1 << 20, initial_old_space_size: 1 << 19, ..HeapConfig::default() },
        workers: 1,
        ..Options::default()
    };
    let src = "const keep = [];\nwhile (true) { keep.push({ a: [1, 2, 3, 4, 5, 6, 7, 8], b: 'x' + keep.length }); }\n";
    let (_, r) = run_with(src, &options);
    assert!(matches!(r, Err(Error::OutOfMemory(_))), "expected heap exhaustion, got {r:?}");
}

fn minijs(args: &[&str], source: &str) -> std::process::Output {
    // A directory per call: tests run in parallel, and the file's name (its
    // stem is the program's name in the report) is the same for calls with
    // as many arguments, so a shared directory let one test run another's
    // program.
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed); // Relaxed: a unique number only.
    let dir = std::env::temp_dir().join(format!("minijs-bad-{}-{call}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join(format!("{}.js", args.len()));
    std::fs::write(&file, source).expect("write the program");
    let out = Command::new(env!("CARGO_BIN_EXE_minijs")).args(args).arg(&file).output().expect("run minijs");
    let _ = std::fs::remove_dir_all(&dir);
    out
}

#[test]
fn the_binary_exits_non_zero_with_a_message() {
    for (args, src, says) in [
        (&[][..], "let x = ;", "SyntaxError at 1:9"),
        (&[][..], "label: for (;;) {}", "unsupported feature at 1:1: labelled statement"),
        (&[][..], "throw new TypeError('bad');", "Uncaught TypeError: bad"),
        (
            &["--max-old-space-size=1"][..],
            "const k = []; while (true) k.push([1, 2, 3, 4]);",
            "JavaScript heap out of memory",
        ),
    ] {
        let out = minijs(args, src);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{src}: {stderr}");
        assert!(stderr.contains(says), "{src}: stderr {stderr:?} lacks {says:?}");
        assert!(!stderr.contains("panicked"), "{src}: {stderr}");
    }
    let out = minijs(&["--max-old-space-size=lots"], "1;");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn the_gc_report_prints_a_pause_table() {
    let out = minijs(
        &["--gc-report"],
        "let t = 0; for (let i = 0; i < 20000; i++) { t += [i, i].length; }\nconsole.log(t);\n",
    );
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "40000\n");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert!(lines.len() >= 2, "{stderr}");
    assert!(lines[0].contains("pause p50/p99/max ms") && lines[0].contains("GC %"), "{stderr}");
    let cells: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(cells.len(), 10, "{stderr}");
    assert_eq!(cells[0], "1", "the program's name (its file stem): {stderr}");
}

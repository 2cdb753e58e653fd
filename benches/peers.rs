//! isogc against its peers, in one run: the same programs on isogc (both
//! [`GcMode`]s), on gc-arena (the incremental mark-sweep collector Ruffle and
//! piccolo use) and on plain `Box` (no collector: the floor).
//!
//! - `binary_trees/<depth>` (16 and 18): the Benchmarks Game program, with
//!   its stretch tree, long-lived tree and checks; isogc runs
//!   [`isogc::workloads::binary_trees`];
//! - `splay_like`: a long-lived perfect tree of 8,191 nodes (Splay's 8,000)
//!   whose every node holds a *payload* (a perfect tree of 31 nodes); each of
//!   [`SPLAY_STEPS`] steps walks a pseudo-random path from the root and
//!   replaces the payload it ends at with a fresh one, so the old
//!   generation holds the tree while young payloads keep arriving and old
//!   ones die (no rotations: the shape of Splay's heap, not its
//!   algorithm).
//!
//! Each benchmark's figure is the wall time of one whole run. The largest
//! pause is recorded beside it: for isogc the longest [`GcEvent::pause`] of
//! the run, for gc-arena the longest `Arena::collect_debt` call (it collects
//! only between `mutate` calls; each tree of binary-trees and each splay
//! step is one call, followed by `collect_debt` once the debt reaches
//! [`GC_ARENA_GRANULARITY`]). After the runs the bench
//! prints a table of the median run time and the largest pause of every
//! pair, and writes it to `target/peers.md`.
//!
//! Run: `cargo bench --bench peers` (a few minutes).

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode};
use gc_arena::{Arena, Collect, Gc, Mutation, RefLock, Rootable};
use isogc::workloads::binary_trees;
use isogc::*;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Steps of the splay-like workload per run.
const SPLAY_STEPS: usize = 50_000;
/// Depth of its long-lived tree (2^13 - 1 = 8,191 nodes).
const SPLAY_TREE_DEPTH: u32 = 12;
/// Depth of a payload (31 nodes).
const SPLAY_PAYLOAD_DEPTH: u32 = 4;

/// Nodes of a perfect tree of `depth`.
fn tree_nodes(depth: u32) -> u64 {
    (1 << (depth + 1)) - 1
}

/// The binary-trees check sum of depth `n` (every tree's node count).
fn binary_trees_check(n: u32) -> u64 {
    let max = binary_trees::max_depth(n);
    let mut sum = tree_nodes(max + 1) + tree_nodes(max);
    for d in (4..=max).step_by(2) {
        sum += (1u64 << (max - d + 4)) * tree_nodes(d);
    }
    sum
}

/// The payload-node count a splay-like run must end with.
fn splay_check() -> u64 {
    tree_nodes(SPLAY_TREE_DEPTH) * tree_nodes(SPLAY_PAYLOAD_DEPTH)
}

/// A deterministic generator (xorshift64*), the same for every collector.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A path from the root: its length (0..=depth) and its turns (bits).
    fn path(&mut self) -> (u32, u64) {
        let r = self.next();
        ((r % (SPLAY_TREE_DEPTH as u64 + 1)) as u32, r >> 8)
    }
}

/// What one run measured.
struct RunResult {
    wall: Duration,
    max_pause: Duration,
}

// ----- isogc ----------------------------------------------------------------

fn isogc_isolate(platform: &Platform, mode: GcMode) -> Isolate {
    Isolate::new(platform, HeapConfig { mode, ..HeapConfig::default() }).unwrap()
}

fn isogc_max_pause(isolate: &Isolate) -> Duration {
    isolate.gc_events().iter().map(|e| e.pause).max().unwrap_or_default()
}

fn isogc_binary_trees(platform: &Platform, mode: GcMode, n: u32) -> RunResult {
    let mut isolate = isogc_isolate(platform, mode);
    let started = Instant::now();
    let run = binary_trees::run(&mut isolate, n).expect("binary-trees on isogc");
    let wall = started.elapsed();
    assert_eq!(run.nodes, binary_trees_check(n));
    RunResult { wall, max_pause: isogc_max_pause(&isolate) }
}

/// A perfect tree of `depth` of `map`'s nodes (fields 0 and 1: children),
/// escaped into the caller's scope.
fn isogc_tree<'p>(s: &mut HandleScope<'p>, map: Local<'_, Map>, depth: u32) -> Local<'p, Object> {
    if depth == 0 {
        return s.new_object(map).unwrap();
    }
    let mut e = EscapableHandleScope::new(s);
    let left = isogc_tree(&mut e, map, depth - 1);
    let right = isogc_tree(&mut e, map, depth - 1);
    let node = e.new_object(map).unwrap();
    e.set(node, 0, left);
    e.set(node, 1, right);
    e.escape(node)
}

/// The long-lived tree: `node`'s nodes (children, payload), each with a
/// payload of `payload`'s nodes.
fn isogc_splay_tree<'p>(
    s: &mut HandleScope<'p>,
    node: Local<'_, Map>,
    payload: Local<'_, Map>,
    depth: u32,
) -> Local<'p, Object> {
    let mut e = EscapableHandleScope::new(s);
    let n = e.new_object(node).unwrap();
    if depth > 0 {
        let left = isogc_splay_tree(&mut e, node, payload, depth - 1);
        e.set(n, 0, left);
        let right = isogc_splay_tree(&mut e, node, payload, depth - 1);
        e.set(n, 1, right);
    }
    let p = isogc_tree(&mut e, payload, SPLAY_PAYLOAD_DEPTH);
    e.set(n, 2, p);
    e.escape(n)
}

fn isogc_count(s: &mut HandleScope<'_>, n: Local<'_, Object>) -> u64 {
    let mut s = HandleScope::new(s);
    match s.try_get_as::<Object, _>(n, 0) {
        None => 1,
        Some(left) => {
            let right = s.get_as::<Object, _>(n, 1);
            1 + isogc_count(&mut s, left) + isogc_count(&mut s, right)
        }
    }
}

fn isogc_payloads(s: &mut HandleScope<'_>, n: Local<'_, Object>) -> u64 {
    let mut s = HandleScope::new(s);
    let p = s.get_as::<Object, _>(n, 2);
    let mut sum = isogc_count(&mut s, p);
    if let Some(left) = s.try_get_as::<Object, _>(n, 0) {
        let right = s.get_as::<Object, _>(n, 1);
        sum += isogc_payloads(&mut s, left) + isogc_payloads(&mut s, right);
    }
    sum
}

fn isogc_splay(platform: &Platform, mode: GcMode) -> RunResult {
    let mut isolate = isogc_isolate(platform, mode);
    let started = Instant::now();
    let mut scope = HandleScope::new(&mut isolate);
    let node = scope
        .new_map(&ObjectLayout { name: "SplayNode".into(), tagged_fields: 3, raw_bytes: 0, ..Default::default() })
        .unwrap();
    let payload = scope
        .new_map(&ObjectLayout { name: "Payload".into(), tagged_fields: 2, raw_bytes: 0, ..Default::default() })
        .unwrap();
    let root = isogc_splay_tree(&mut scope, node, payload, SPLAY_TREE_DEPTH);
    let mut rng = Rng(0x5EED);
    for _ in 0..SPLAY_STEPS {
        let mut s = HandleScope::new(&mut scope);
        let (len, mut turns) = rng.path();
        let mut at = s.local(root);
        for _ in 0..len {
            at = s.get_as::<Object, _>(at, (turns & 1) as usize);
            turns >>= 1;
        }
        let p = isogc_tree(&mut s, payload, SPLAY_PAYLOAD_DEPTH);
        s.set(at, 2, p);
    }
    assert_eq!(isogc_payloads(&mut scope, root), splay_check());
    drop(scope);
    let wall = started.elapsed();
    RunResult { wall, max_pause: isogc_max_pause(&isolate) }
}

// ----- gc-arena -------------------------------------------------------------

#[derive(Collect)]
#[collect(no_drop)]
struct GNode<'gc> {
    left: Option<Gc<'gc, GNode<'gc>>>,
    right: Option<Gc<'gc, GNode<'gc>>>,
}

fn g_tree<'gc>(mc: &Mutation<'gc>, depth: u32) -> Gc<'gc, GNode<'gc>> {
    if depth == 0 {
        return Gc::new(mc, GNode { left: None, right: None });
    }
    let left = g_tree(mc, depth - 1);
    let right = g_tree(mc, depth - 1);
    Gc::new(mc, GNode { left: Some(left), right: Some(right) })
}

fn g_count(n: &GNode<'_>) -> u64 {
    match (n.left, n.right) {
        (Some(l), Some(r)) => 1 + g_count(&l) + g_count(&r),
        _ => 1,
    }
}

/// Allocation debt (bytes) below which gc-arena is not asked to collect:
/// its docs advise against calling `collect_debt` for every small debt (a
/// call has a fixed cost), and runtimes on it (piccolo's executor, Ruffle)
/// collect at a granularity like this one.
const GC_ARENA_GRANULARITY: f64 = 4096.0;

/// Runs gc-arena's incremental collection if its debt is worth a call,
/// timing the call and keeping the longest.
fn g_collect<R>(arena: &mut Arena<R>, max: &mut Duration)
where
    R: for<'a> Rootable<'a>,
    for<'a> <R as Rootable<'a>>::Root: Collect<'a>,
{
    if arena.metrics().allocation_debt() < GC_ARENA_GRANULARITY {
        return;
    }
    let t = Instant::now();
    arena.collect_debt();
    *max = (*max).max(t.elapsed());
}

fn gc_arena_binary_trees(n: u32) -> RunResult {
    let max = binary_trees::max_depth(n);
    let started = Instant::now();
    let mut pause = Duration::ZERO;
    let mut arena = Arena::<Rootable![Option<Gc<'_, GNode<'_>>>]>::new(|_| None);
    let mut sum = arena.mutate(|mc, _| g_count(&g_tree(mc, max + 1)));
    g_collect(&mut arena, &mut pause);
    arena.mutate_root(|mc, root| *root = Some(g_tree(mc, max)));
    g_collect(&mut arena, &mut pause);
    for d in (4..=max).step_by(2) {
        for _ in 0..1u64 << (max - d + 4) {
            sum += arena.mutate(|mc, _| g_count(&g_tree(mc, d)));
            g_collect(&mut arena, &mut pause);
        }
    }
    sum += arena.mutate(|_, root| g_count(&root.expect("the long-lived tree")));
    let wall = started.elapsed();
    assert_eq!(sum, binary_trees_check(n));
    RunResult { wall, max_pause: pause }
}

#[derive(Collect)]
#[collect(no_drop)]
struct GSplay<'gc> {
    left: Option<Gc<'gc, RefLock<GSplay<'gc>>>>,
    right: Option<Gc<'gc, RefLock<GSplay<'gc>>>>,
    payload: Gc<'gc, GNode<'gc>>,
}

type GSplayRef<'gc> = Gc<'gc, RefLock<GSplay<'gc>>>;

fn g_splay_tree<'gc>(mc: &Mutation<'gc>, depth: u32) -> GSplayRef<'gc> {
    let (left, right) =
        if depth == 0 { (None, None) } else { (Some(g_splay_tree(mc, depth - 1)), Some(g_splay_tree(mc, depth - 1))) };
    Gc::new(mc, RefLock::new(GSplay { left, right, payload: g_tree(mc, SPLAY_PAYLOAD_DEPTH) }))
}

fn g_payloads(n: GSplayRef<'_>) -> u64 {
    let n = n.borrow();
    g_count(&n.payload) + n.left.map_or(0, g_payloads) + n.right.map_or(0, g_payloads)
}

fn gc_arena_splay() -> RunResult {
    let started = Instant::now();
    let mut pause = Duration::ZERO;
    let mut arena = Arena::<Rootable![GSplayRef<'_>]>::new(|mc| g_splay_tree(mc, SPLAY_TREE_DEPTH));
    g_collect(&mut arena, &mut pause);
    let mut rng = Rng(0x5EED);
    for _ in 0..SPLAY_STEPS {
        let (len, mut turns) = rng.path();
        arena.mutate(|mc, root| {
            let mut at = *root;
            for _ in 0..len {
                let next = if turns & 1 == 0 { at.borrow().left } else { at.borrow().right };
                at = next.expect("a path inside the tree");
                turns >>= 1;
            }
            at.borrow_mut(mc).payload = g_tree(mc, SPLAY_PAYLOAD_DEPTH);
        });
        g_collect(&mut arena, &mut pause);
    }
    assert_eq!(arena.mutate(|_, root| g_payloads(*root)), splay_check());
    let wall = started.elapsed();
    RunResult { wall, max_pause: pause }
}

// ----- Box (no collector) ---------------------------------------------------

struct BNode {
    left: Option<Box<BNode>>,
    right: Option<Box<BNode>>,
}

fn b_tree(depth: u32) -> Box<BNode> {
    if depth == 0 {
        return Box::new(BNode { left: None, right: None });
    }
    Box::new(BNode { left: Some(b_tree(depth - 1)), right: Some(b_tree(depth - 1)) })
}

fn b_count(n: &BNode) -> u64 {
    match (&n.left, &n.right) {
        (Some(l), Some(r)) => 1 + b_count(l) + b_count(r),
        _ => 1,
    }
}

fn box_binary_trees(n: u32) -> RunResult {
    let max = binary_trees::max_depth(n);
    let started = Instant::now();
    let mut sum = b_count(&b_tree(max + 1));
    let long_lived = b_tree(max);
    for d in (4..=max).step_by(2) {
        for _ in 0..1u64 << (max - d + 4) {
            sum += b_count(&b_tree(d));
        }
    }
    sum += b_count(&long_lived);
    drop(long_lived);
    let wall = started.elapsed();
    assert_eq!(sum, binary_trees_check(n));
    RunResult { wall, max_pause: Duration::ZERO }
}

struct BSplay {
    left: Option<Box<BSplay>>,
    right: Option<Box<BSplay>>,
    payload: Box<BNode>,
}

fn b_splay_tree(depth: u32) -> Box<BSplay> {
    let (left, right) =
        if depth == 0 { (None, None) } else { (Some(b_splay_tree(depth - 1)), Some(b_splay_tree(depth - 1))) };
    Box::new(BSplay { left, right, payload: b_tree(SPLAY_PAYLOAD_DEPTH) })
}

fn b_payloads(n: &BSplay) -> u64 {
    b_count(&n.payload) + n.left.as_deref().map_or(0, b_payloads) + n.right.as_deref().map_or(0, b_payloads)
}

fn box_splay() -> RunResult {
    let started = Instant::now();
    let mut root = b_splay_tree(SPLAY_TREE_DEPTH);
    let mut rng = Rng(0x5EED);
    for _ in 0..SPLAY_STEPS {
        let (len, mut turns) = rng.path();
        let mut at = &mut *root;
        for _ in 0..len {
            let next = if turns & 1 == 0 { at.left.as_deref_mut() } else { at.right.as_deref_mut() };
            at = next.expect("a path inside the tree");
            turns >>= 1;
        }
        at.payload = b_tree(SPLAY_PAYLOAD_DEPTH);
    }
    assert_eq!(b_payloads(&root), splay_check());
    drop(root);
    let wall = started.elapsed();
    RunResult { wall, max_pause: Duration::ZERO }
}

// ----- The bench and its table ----------------------------------------------

/// Every run's result, by (workload, collector).
type Results = RefCell<BTreeMap<(String, &'static str), Vec<RunResult>>>;

fn bench_one(c: &mut Criterion, results: &Results, workload: &str, name: &'static str, run: &dyn Fn() -> RunResult) {
    let mut g = c.benchmark_group(workload);
    g.sampling_mode(SamplingMode::Flat).sample_size(10);
    g.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let r = run();
                total += r.wall;
                results.borrow_mut().entry((workload.to_string(), name)).or_default().push(r);
            }
            total
        })
    });
    g.finish();
}

fn peers(c: &mut Criterion) {
    let platform = Platform::new(1).unwrap();
    let results = Results::default();
    for n in [16, 18] {
        let w = format!("binary_trees/{n}");
        bench_one(c, &results, &w, "isogc_concurrent", &|| isogc_binary_trees(&platform, GcMode::Concurrent, n));
        bench_one(c, &results, &w, "isogc_stop_the_world", &|| isogc_binary_trees(&platform, GcMode::StopTheWorld, n));
        bench_one(c, &results, &w, "gc_arena", &|| gc_arena_binary_trees(n));
        bench_one(c, &results, &w, "box", &|| box_binary_trees(n));
    }
    let w = "splay_like";
    bench_one(c, &results, w, "isogc_concurrent", &|| isogc_splay(&platform, GcMode::Concurrent));
    bench_one(c, &results, w, "isogc_stop_the_world", &|| isogc_splay(&platform, GcMode::StopTheWorld));
    bench_one(c, &results, w, "gc_arena", &gc_arena_splay);
    bench_one(c, &results, w, "box", &box_splay);
    report(&results.borrow());
}

/// Prints the table and writes it to `target/peers.md`.
fn report(results: &BTreeMap<(String, &'static str), Vec<RunResult>>) {
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let mut out = String::from(
        "| workload | collector | median run (ms) | largest pause (ms) | runs |\n|---|---|---:|---:|---:|\n",
    );
    for ((workload, name), runs) in results {
        let mut walls: Vec<Duration> = runs.iter().map(|r| r.wall).collect();
        walls.sort();
        let median = walls[walls.len() / 2];
        let pause = runs.iter().map(|r| r.max_pause).max().unwrap_or_default();
        let pause = if *name == "box" { "-".to_string() } else { format!("{:.2}", ms(pause)) };
        out += &format!("| {workload} | {name} | {:.1} | {pause} | {} |\n", ms(median), runs.len());
    }
    println!("\n{out}");
    let dir =
        std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/target").into());
    let path = std::path::Path::new(&dir).join("peers.md");
    match std::fs::write(&path, &out) {
        Ok(()) => println!("written to {}", path.display()),
        Err(e) => println!("could not write {}: {e}", path.display()),
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_millis(1)).measurement_time(Duration::from_secs(1));
    targets = peers
}
criterion_main!(benches);

//! What a heap snapshot costs: builds a heap of about N objects (default 2
//! million: a binary tree of named nodes, each with a string label and
//! every fourth with a heap number), writes two snapshots and prints, for
//! each, objects per second and the extra memory the writer allocated at
//! its peak (a counting global allocator), next to the size of the JSON.
//!
//! ```text
//! cargo run --release --example heap_snapshot -- [OBJECTS] [--out FILE]
//! ```
//!
//! With `--out FILE` the second snapshot goes to FILE (open it in Chrome
//! DevTools: Memory, Load profile); otherwise both go to `io::sink()`.

use isogc::*;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// Counts the bytes allocated now and at the peak since the last reset.
struct Counting;

static NOW: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator; only counts on the side.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let now = NOW.fetch_add(l.size(), Relaxed) + l.size();
        PEAK.fetch_max(now, Relaxed);
        // SAFETY: the caller's contract, forwarded.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        NOW.fetch_sub(l.size(), Relaxed);
        // SAFETY: the caller's contract, forwarded.
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mut objects = 2_000_000usize;
    let mut out = None;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--out" => out = args.next(),
            n => objects = n.parse()?,
        }
    }
    let platform = Platform::with_default_workers()?;
    let config = HeapConfig { max_old_space_size: 4 << 30, ..HeapConfig::default() };
    let mut isolate = Isolate::new(&platform, config)?;
    let mut scope = HandleScope::new(&mut isolate);
    let node =
        scope.new_map(&ObjectLayout::new("TreeNode", 4, 8).with_field_names(["left", "right", "label", "weight"]))?;
    // Each tree node comes with a label string, and every fourth with a
    // heap number: about 2.25 objects per node.
    let nodes = objects * 4 / 9;
    let root = {
        let mut s = HandleScope::new(&mut scope);
        let mut level: Vec<Global<Value>> = Vec::new();
        for i in 0..nodes {
            let mut t = HandleScope::new(&mut s);
            let n = t.new_object(node)?;
            let label = t.new_string(&format!("node {i}"))?;
            t.set(n, 2, label);
            if i % 4 == 0 {
                let w = t.new_number(i as f64 / 4.0)?;
                t.set(n, 3, w);
            }
            // Binary-heap order: node i's children are 2i+1 and 2i+2, so
            // link parents once their children exist (built bottom-up below).
            level.push(t.global(n.as_value()));
        }
        for i in (0..nodes).rev() {
            let mut t = HandleScope::new(&mut s);
            let n = t.open(&level[i]);
            let n = t.cast::<Object, _>(n).unwrap();
            for (field, child) in [(0, 2 * i + 1), (1, 2 * i + 2)] {
                if child < nodes {
                    let c = t.open(&level[child]);
                    t.set(n, field, c);
                }
            }
        }
        let root = s.open(&level[0]);
        let g = s.global(root);
        drop(level);
        g
    };
    println!("heap: {} tree nodes, {} MiB used", nodes, scope.memory_usage().used >> 20);
    for round in 1..=2 {
        let before = NOW.load(Relaxed);
        PEAK.store(before, Relaxed);
        let info = match (&out, round) {
            (Some(path), 2) => scope.write_heap_snapshot_to(path)?,
            _ => scope.write_heap_snapshot(std::io::sink())?,
        };
        let peak = PEAK.load(Relaxed) - before;
        let kept = NOW.load(Relaxed).saturating_sub(before);
        let secs = info.write_time.as_secs_f64();
        println!(
            "snapshot {round}: {} objects, {} nodes, {} edges, {} strings, {:.1} MiB JSON; full GC {:.0} ms, \
             walk+write {:.0} ms = {:.2} M objects/s; peak extra allocation {:.1} MiB ({:.1} B/object), \
             kept after (id table growth) {:.1} MiB",
            info.objects,
            info.nodes,
            info.edges,
            info.strings,
            info.bytes as f64 / (1 << 20) as f64,
            info.gc_time.as_secs_f64() * 1e3,
            secs * 1e3,
            info.objects as f64 / secs / 1e6,
            peak as f64 / (1 << 20) as f64,
            peak as f64 / info.objects as f64,
            kept as f64 / (1 << 20) as f64,
        );
    }
    drop(root);
    Ok(())
}

//! A small tour of isogc: a runtime defines object layouts, builds a
//! long-lived structure, churns short-lived garbage, and the collector
//! scavenges and mark-sweeps underneath. Prints `--trace-gc` lines, the heap
//! statistics per space, and a summary of the GC events.
//!
//! Run: `cargo run --release --example demo` (add `-- --trace-gc` for one
//! line per GC on stderr).

use isogc::*;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let platform = Platform::with_default_workers()?;
    let trace_gc = std::env::args().any(|a| a == "--trace-gc");
    let config = HeapConfig { trace_gc, initial_old_space_size: 8 << 20, ..HeapConfig::default() };
    let mut isolate = Isolate::new(&platform, config)?;
    let start = Instant::now();
    {
        let mut scope = HandleScope::new(&mut isolate);
        // The runtime's layouts: a cons cell, and a point with raw f64 coordinates.
        let cons = scope.new_map(&ObjectLayout {
            name: "Cons".into(),
            tagged_fields: 2,
            raw_bytes: 0,
            ..Default::default()
        })?;
        let point = scope.new_map(&ObjectLayout {
            name: "Point".into(),
            tagged_fields: 1,
            raw_bytes: 16,
            ..Default::default()
        })?;

        // A long-lived list of 200,000 points, held by a global handle.
        let list = {
            let mut s = HandleScope::new(&mut scope);
            let head = s.new_fixed_array(1)?;
            for i in 0..200_000 {
                let mut t = HandleScope::new(&mut s);
                let p = t.new_object(point)?;
                t.write_bytes(p, 0, &(i as f64).to_le_bytes());
                t.write_bytes(p, 8, &(-(i as f64)).to_le_bytes());
                let label = t.intern(if i % 2 == 0 { "even" } else { "odd" })?;
                t.set(p, 0, label);
                let cell = t.new_object(cons)?;
                t.set(cell, 0, p);
                let rest = t.get(head, 0);
                t.set(cell, 1, rest);
                t.set(head, 0, cell);
            }
            s.global(head)
        };

        // Churn: short-lived trees, most of which die young.
        let survivor = scope.new_fixed_array(64)?;
        for round in 0..2_000 {
            let mut t = HandleScope::new(&mut scope);
            let mut node = t.undefined();
            for d in 0..200 {
                let c = t.new_object(cons)?;
                t.set(c, 0, Smi::from(d));
                t.set(c, 1, node);
                node = c.as_value();
            }
            // Keep one tree in 50 alive for a while: these get promoted.
            if round % 50 == 0 {
                t.set(survivor, (round / 50) % 64, node);
            }
            let _big = t.new_byte_array(200_000)?; // a large object, dead at once
        }
        let weak = {
            let mut t = HandleScope::new(&mut scope);
            let garbage = t.new_string("this string dies")?;
            t.weak(garbage)
        };
        scope.collect_garbage(GcRequest::Major);
        println!("\nweak handle to a dead string cleared: {}", weak.is_cleared());

        // The list is intact: sum the x coordinates.
        let head = scope.open(&list);
        let mut cur = scope.get(head, 0);
        let (mut n, mut sum) = (0u64, 0f64);
        while let Some(cell) = scope.cast::<Object, _>(cur) {
            let p = scope.get(cell, 0);
            let p = scope.cast::<Object, _>(p).expect("a point");
            let mut x = [0u8; 8];
            scope.read_bytes(p, 0, &mut x);
            sum += f64::from_le_bytes(x);
            n += 1;
            cur = scope.get(cell, 1);
        }
        println!("list of {n} points intact, sum of x = {sum}");
    }
    let wall = start.elapsed();

    let stats = isolate.heap_stats();
    let counts = isolate.heap_object_counts();
    println!("\n{:<24} {:>12} {:>12} {:>12} {:>10}", "space", "used KB", "committed KB", "available KB", "objects");
    let kb = |b: usize| b as f64 / 1024.0;
    for (s, c) in stats.spaces.iter().zip(&counts.spaces) {
        println!(
            "{:<24} {:>12.1} {:>12.1} {:>12.1} {:>10}",
            s.name,
            kb(s.used),
            kb(s.committed),
            kb(s.available),
            c.objects
        );
    }
    println!(
        "total: used {:.1} MB, committed {:.1} MB, pooled {:.1} MB; {} interned strings, {} global handles",
        stats.used as f64 / 1048576.0,
        stats.committed as f64 / 1048576.0,
        stats.pooled as f64 / 1048576.0,
        stats.interned_strings,
        stats.global_handles
    );

    let events = isolate.gc_events();
    println!("\nlast GC events:");
    for e in events.iter().rev().take(5).rev() {
        println!(
            "  {:8.1} ms  {:?} ({:?})  {:.2} -> {:.2} MB  pause {:.3} ms  phases {:?}",
            e.start.as_secs_f64() * 1e3,
            e.kind,
            e.reason,
            e.bytes_before as f64 / 1048576.0,
            e.bytes_after as f64 / 1048576.0,
            e.pause.as_secs_f64() * 1e3,
            e.phases.iter().map(|(p, d)| format!("{p:?} {:.3}", d.as_secs_f64() * 1e3)).collect::<Vec<_>>()
        );
    }
    for kind in [GcKind::Minor, GcKind::Major] {
        let mut pauses: Vec<f64> =
            events.iter().filter(|e| e.kind == kind).map(|e| e.pause.as_secs_f64() * 1e3).collect();
        pauses.sort_by(f64::total_cmp);
        if pauses.is_empty() {
            continue;
        }
        let pct = |p: f64| pauses[((pauses.len() - 1) as f64 * p).round() as usize];
        println!(
            "{kind:?} GCs: {:>4}  total {:8.2} ms  p50 {:6.3} ms  p99 {:6.3} ms  max {:6.3} ms",
            pauses.len(),
            pauses.iter().sum::<f64>(),
            pct(0.5),
            pct(0.99),
            pct(1.0)
        );
    }
    println!(
        "wall {:.2} s, GC pauses {:.1} ms in total ({} workers in the shared pool)",
        wall.as_secs_f64(),
        isolate.total_gc_pause().as_secs_f64() * 1e3,
        platform.workers()
    );
    Ok(())
}

//! Runs one API operation `n` times, for instruction counts under
//! `valgrind --tool=callgrind` (steady where wall time is noisy).
//!
//! ```text
//! cargo build --release --example api_cost
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/examples/api_cost alloc 1000000
//! ```
//!
//! The per-operation count is the difference of two runs (`n` and `2n`)
//! divided by `n`, which cancels the isolate's setup. Operations: `alloc`
//! (a 4-field object), `get` (a field read making a handle), `get_smi` (a
//! field read without a handle), `set_young` (a store into a young object),
//! `set_old` (a store of a young value into an old object), `local` (a new
//! handle), `scope` (a scope opened and closed).

use isogc::*;
use std::hint::black_box;

/// Handles made per scope: a scope is closed (and its handles popped) after
/// this many operations, so the handle stack stays small.
const BATCH: usize = 1000;

fn main() {
    let mut args = std::env::args().skip(1);
    let op = args.next().unwrap_or_else(|| "alloc".into());
    let n: usize = args.next().map_or(1_000_000, |s| s.parse().expect("n: a count"));
    let platform = Platform::new(1).unwrap();
    let mut isolate = Isolate::new(&platform, HeapConfig::default()).unwrap();
    let mut scope = HandleScope::new(&mut isolate);
    let map = scope
        .new_map(&ObjectLayout { name: "Small".into(), tagged_fields: 4, raw_bytes: 0, ..Default::default() })
        .unwrap();
    let young = scope.new_object(map).unwrap();
    let value = scope.new_object(map).unwrap();
    scope.set(young, 1, Smi::from(7));
    let old = scope.new_object(map).unwrap();
    scope.collect_garbage(GcRequest::Minor);
    scope.collect_garbage(GcRequest::Minor);
    let value2 = scope.new_object(map).unwrap();
    let young2 = scope.new_object(map).unwrap();
    let _ = (young, value);
    let (young, value) = (young2, value2);
    let rounds = n / BATCH;
    for _ in 0..rounds {
        let mut s = HandleScope::new(&mut scope);
        match op.as_str() {
            "alloc" => {
                for _ in 0..BATCH {
                    black_box(s.new_object(map).unwrap());
                }
            }
            "get" => {
                for i in 0..BATCH {
                    black_box(s.get(black_box(young), i & 3));
                }
            }
            "get_smi" => {
                for _ in 0..BATCH {
                    black_box(s.get_smi(black_box(young), 1));
                }
            }
            "set_young" => {
                for i in 0..BATCH {
                    s.set(black_box(young), i & 3, black_box(value));
                }
            }
            "set_old" => {
                for i in 0..BATCH {
                    s.set(black_box(old), i & 3, black_box(value));
                }
            }
            "local" => {
                for _ in 0..BATCH {
                    black_box(s.local(black_box(young)));
                }
            }
            "scope" => {
                for _ in 0..BATCH {
                    black_box(HandleScope::new(&mut s).handle_count());
                }
            }
            other => panic!("unknown operation {other:?}"),
        }
    }
}

//! The system running out of memory (not the heap reaching its limit): an
//! isolate whose `max_old_space_size` is far above what the process may map
//! returns `Err(OutOfMemory)` when the system refuses a page, in the
//! mutator or in the middle of a GC's needs, and its heap stays consistent
//! (verified after every GC) and usable.
//!
//! The test re-runs its own binary in a child process whose address space
//! is limited with `ulimit -v` (a few tens of MiB above what the process
//! maps at start), so the system's refusal is real and nothing else in the
//! test process is affected.

mod common;

use common::*;
use isogc::*;
use std::process::Command;

/// Set in the child process: run the workload instead of spawning it.
const CHILD: &str = "ISOGC_SYSTEM_MEMORY_CHILD";

/// What the child prints when its workload finished (the parent checks it).
const DONE: &str = "system-memory child: done";

/// Address space the child may map beyond its own start-up footprint.
const HEADROOM_KB: usize = 64 * 1024;

const SLOTS: usize = 1000;

/// The process's mapped address space (`VmSize`), KiB.
fn vm_size_kb() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status.lines().find(|l| l.starts_with("VmSize:")).expect("a VmSize line");
    line.split_whitespace().nth(1).and_then(|v| v.parse().ok()).expect("VmSize in kB")
}

/// Makes glibc's malloc map every large block on its own and unmap it when
/// freed (no dynamic threshold that moves large blocks into the heap, where
/// freed memory stays mapped): the heap's check that the system has room
/// left after each chunk it takes ([`isogc::HeapConfig`]'s docs on system
/// memory) then measures the address space itself.
#[cfg(target_env = "gnu")]
fn fixed_mmap_threshold() {
    extern "C" {
        fn mallopt(param: i32, value: i32) -> i32;
    }
    const M_MMAP_THRESHOLD: i32 = -3;
    // SAFETY: glibc's mallopt, called before any other thread of the child
    // allocates (the platform is created after it).
    assert_eq!(unsafe { mallopt(M_MMAP_THRESHOLD, 128 * 1024) }, 1, "mallopt(M_MMAP_THRESHOLD)");
}

#[cfg(not(target_env = "gnu"))]
fn fixed_mmap_threshold() {}

/// The workload: arrays linked into a chain until an allocation fails, then
/// every check that the heap survived.
fn child() {
    fixed_mmap_threshold();
    let platform = Platform::new(2).unwrap();
    let cfg = HeapConfig {
        max_old_space_size: 64 << 30,
        initial_old_space_size: 16 * MB,
        ..test_config().with_semi_spaces(256 * KB, 4 * MB)
    };
    let mut isolate = Isolate::new(&platform, cfg).unwrap();
    let root = {
        let mut scope = HandleScope::new(&mut isolate);
        let r = scope.new_fixed_array(1).unwrap();
        scope.global(r)
    };
    let mut n = 0usize;
    let err = {
        let mut scope = HandleScope::new(&mut isolate);
        let root = scope.open(&root);
        loop {
            let mut inner = HandleScope::new(&mut scope);
            let link = match inner.new_fixed_array(SLOTS) {
                Ok(l) => l,
                Err(e) => break e,
            };
            let prev = inner.get(root, 0);
            inner.set(link, 0, prev);
            inner.set(link, 1, Smi::from(n as i32));
            inner.set(root, 0, link);
            n += 1;
            assert!(n < 1_000_000, "no allocation failed under the address-space limit");
        }
    };
    match err {
        AllocError::OutOfMemory { old_generation, limit, .. } => {
            assert_eq!(limit, 64 << 30);
            assert!(old_generation < limit, "the system, not the heap limit, ran out: {err}");
        }
        e => panic!("expected OutOfMemory, got {e:?}"),
    }
    assert!(n > 1000, "only {n} arrays before the system ran out");
    // A new isolate cannot get its first pages now: `Err`, never an abort,
    // and a retry fails the same way (a failed attempt gives back what it
    // took).
    for attempt in 0..3 {
        match Isolate::new(&platform, test_config()) {
            Err(ConfigError::InitialHeap(_)) => {}
            Err(e) => panic!("attempt {attempt}: expected InitialHeap, got {e}"),
            Ok(_) => panic!("attempt {attempt}: an isolate was created with the system out of memory"),
        }
    }
    // Usage is readable (it panicked on a half-flipped new space).
    let usage = isolate.memory_usage();
    assert!(usage.used <= usage.committed, "{usage:?}");
    // Every link is there, in order; GCs run and verify the heap.
    let check = |isolate: &mut Isolate, n: usize| {
        let mut scope = HandleScope::new(isolate);
        let root = scope.open(&root);
        let mut cur = scope.get(root, 0);
        let mut expect = n;
        while let Some(link) = scope.cast::<FixedArray, _>(cur) {
            expect -= 1;
            assert_eq!(scope.get_smi(link, 1), Some(expect as i64));
            cur = scope.get(link, 0);
        }
        assert_eq!(expect, 0, "the chain lost links");
    };
    check(&mut isolate, n);
    isolate.collect_garbage(GcRequest::Minor);
    check(&mut isolate, n);
    // Everything dropped: the heap collects it and allocates again.
    {
        let mut scope = HandleScope::new(&mut isolate);
        let root = scope.open(&root);
        let undefined = scope.undefined();
        scope.set(root, 0, undefined);
    }
    isolate.collect_garbage(GcRequest::Major);
    check(&mut isolate, 0);
    {
        let mut scope = HandleScope::new(&mut isolate);
        for i in 0..2000 {
            let a = match scope.new_fixed_array(SLOTS) {
                Ok(a) => a,
                Err(e) => panic!("allocation {i} failed once memory was free: {e}\n{:#?}", scope.heap_stats()),
            };
            scope.set(a, 0, Smi::from(i));
        }
        assert_usable(&mut scope);
    }
    isolate.collect_garbage(GcRequest::Major);
    // With the memory back (the pages the GCs freed are returned to the
    // system by a background task), a new isolate can be created again.
    drop(isolate);
    let second = (0..100).find_map(|_| {
        Isolate::new(&platform, test_config()).ok().or_else(|| {
            std::thread::sleep(std::time::Duration::from_millis(20));
            None
        })
    });
    let mut second = second.expect("an isolate once the first one's memory is free");
    assert_usable(&mut HandleScope::new(&mut second));
    println!("{DONE}: {n} arrays before OutOfMemory");
}

#[test]
fn system_memory_exhaustion_returns_out_of_memory_and_the_heap_stays_verified() {
    if std::env::var_os(CHILD).is_some() {
        child();
        return;
    }
    // The child's footprint at start is about this process's (same binary,
    // an isolate made and dropped): the limit leaves it HEADROOM_KB more.
    drop(Isolate::new(&Platform::new(2).unwrap(), test_config()).unwrap());
    let limit_kb = vm_size_kb() + HEADROOM_KB;
    let exe = std::env::current_exe().unwrap();
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -v {limit_kb} && exec \"$0\" \"$@\""))
        .arg(exe)
        .args(["--exact", "system_memory_exhaustion_returns_out_of_memory_and_the_heap_stays_verified"])
        .args(["--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        // Symbolizing a backtrace maps the binary's debug information: more
        // than the child may map, so a panic's message would be lost.
        .env("RUST_BACKTRACE", "0")
        // One malloc arena: no thread reserves its own 64 MiB of address
        // space, so the limit measures the heap and not the allocator.
        .env("MALLOC_ARENA_MAX", "1")
        .output()
        .expect("spawn sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains(DONE),
        "the child (address space limited to {limit_kb} KiB) failed: {}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
    println!("{}", stdout.lines().find(|l| l.contains(DONE)).unwrap_or_default());
}

//! What the test programs share: the stressed heap they run on.

use isogc::{GcMode, HeapConfig};
use minijs::Options;

pub const KB: usize = 1024;

/// A heap small enough that scavenges, major GCs and compaction move objects
/// throughout, with the verifier on, in `mode`.
pub fn stressed(mode: GcMode) -> Options {
    Options {
        heap: HeapConfig {
            min_semi_space_size: 256 * KB,
            max_semi_space_size: 256 * KB,
            initial_old_space_size: 256 * KB,
            fast_promotion: false,
            stress_compaction: true,
            verify_heap: true,
            mode,
            new_space_per_scavenge_task: 128 * KB,
            ..HeapConfig::default()
        },
        workers: 2,
        ..Options::default()
    }
}

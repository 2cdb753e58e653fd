//! Page flag bits (re-exported as `page::flags`). A module of its own, built
//! under `--cfg loom` too, so the barrier steps the loom models drive test
//! the same bits.

/// In new space's from-space (being evacuated by a scavenge).
pub const FROM_SPACE: usize = 1 << 0;
/// In new space's to-space (where the mutator allocates young objects).
pub const TO_SPACE: usize = 1 << 1;
/// A young large object (new large-object space).
pub const NEW_LARGE: usize = 1 << 2;
/// Old generation: old space, map space or old large-object space.
pub const OLD: usize = 1 << 3;
/// A large-object page.
pub const LARGE: usize = 1 << 4;
/// Read-only space: never marked, swept or moved.
pub const READ_ONLY: usize = 1 << 5;
/// Never chosen for evacuation (maps, pinned objects).
pub const NEVER_EVACUATE: usize = 1 << 6;
/// A young large object found live by the running scavenge.
pub const LARGE_SURVIVED: usize = 1 << 7;
/// Any young page.
pub const YOUNG: usize = FROM_SPACE | TO_SPACE | NEW_LARGE;
/// Stores into objects on this page may need the barrier's slow path
/// (old pages always; every page while marking). V8's
/// `POINTERS_FROM_HERE_ARE_INTERESTING`.
pub const FROM_HERE_INTERESTING: usize = 1 << 8;
/// Stores of pointers to objects on this page may need the barrier's
/// slow path (young pages always; every page while marking). V8's
/// `POINTERS_TO_HERE_ARE_INTERESTING`.
pub const TO_HERE_INTERESTING: usize = 1 << 9;
/// Marking is in progress: objects on this page are shaded by the
/// barrier.
pub const MARKING: usize = 1 << 10;
/// What marking adds to every page (but read-only ones).
pub const MARKING_FLAGS: usize = FROM_HERE_INTERESTING | TO_HERE_INTERESTING | MARKING;
/// An old page added while marking ran: every object on it counts as
/// marked without a mark bit (V8's `BLACK_ALLOCATED`), so marking skips
/// it and the sweeper has nothing to do on it. Cleared when the cycle's
/// sweeping starts.
pub const BLACK_ALLOCATED: usize = 1 << 11;
/// An old page chosen for compaction at the start of marking: its live
/// objects are moved out in the finalization pause and the page is
/// released. Marking records the slots that point into it (OLD_TO_OLD).
pub const EVACUATION_CANDIDATE: usize = 1 << 12;

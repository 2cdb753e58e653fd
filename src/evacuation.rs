//! The evacuation protocol: installing a forwarding address in a map word.
//!
//! Several scavenger tasks may reach the same from-space object through
//! different slots at once. Each copies the object into its own allocation
//! buffer and then tries to install the forwarding address with one
//! compare-exchange on the map word: exactly one wins; the losers take the
//! winner's address and give their copy back. The winner's CAS is `Release`
//! and a loser's read of the winning word is `Acquire`, so anyone who follows
//! a forwarding address sees the fully copied object.
//!
//! The protocol is written against the narrow [`Memory`] interface (DESIGN
//! section 9), so the loom models run this very code over a small model heap
//! while normal builds run it over real pages.

use crate::sync::faults::{fault, Fault};
use crate::sync::{AtomicUsize, Ordering};
use crate::value::{FORWARDING_TAG, HEAP_OBJECT_TAG, TAG_MASK};

/// Bytes in a word (heap addresses step by words).
const WORD: usize = std::mem::size_of::<usize>();

/// Word-addressed memory the collector's protocols run on.
///
/// The body copy of an evacuation is not part of this interface: every
/// evacuation copies through the crate's own [`crate::sync::copy_words`]
/// (a raw copy of page memory in normal builds; under loom a word-by-word
/// copy through [`Memory::word`] that loom sees as plain copies), so a model
/// heap supplies only the words, never a copy of its own.
///
/// # Safety
/// Implementations must return, for every address the protocol is given (a
/// word-aligned address of a live object or of memory the caller allocated),
/// an atomic view of that word that stays valid while `self` is borrowed. In
/// normal builds the address must be the word's real address (the body copy
/// reads and writes page memory directly); `RawMemory` is the only
/// implementation there (the trait is public only under `--cfg loom`).
pub unsafe trait Memory: Sync {
    /// The word at `addr`.
    ///
    /// # Safety
    /// `addr` is a word of a live object or of memory the caller owns.
    unsafe fn word(&self, addr: usize) -> &AtomicUsize;
}

/// If `map_word` is a forwarding word, the address it forwards to.
#[inline(always)]
pub fn forwarding_target(map_word: usize) -> Option<usize> {
    (map_word & TAG_MASK == FORWARDING_TAG).then_some(map_word & !TAG_MASK)
}

/// Reads `obj`'s map word for evacuation (Acquire: pairs with the Release of
/// a winning [`try_forward`], so a forwarded copy is seen complete).
#[inline(always)]
pub fn load_map_word<M: Memory>(mem: &M, obj: usize) -> usize {
    // Broken twin: a task that finds the object forwarded is not ordered
    // after the winner's copy.
    let order = if fault(Fault::MapWordLoadRelaxed) { Ordering::Relaxed } else { Ordering::Acquire };
    // SAFETY: `obj` is a live object (the caller's contract with `mem`).
    unsafe { mem.word(obj) }.load(order)
}

/// Copies `obj` (whose map word was `map_word`, `words` long) to `copy` and
/// tries to install the forwarding address.
///
/// Returns `Ok(copy)` if this call won, or `Err(winner)` with the address the
/// object was forwarded to by another thread; the caller then gives `copy`
/// back.
///
/// # Safety
/// `obj` is a live object of at least `words` words whose body no thread
/// writes during the copy; `copy` is unshared memory of at least `words`
/// words that does not overlap it.
#[inline]
pub unsafe fn try_forward<M: Memory>(
    mem: &M,
    obj: usize,
    map_word: usize,
    copy: usize,
    words: usize,
) -> Result<usize, usize> {
    // SAFETY: forwarded from the caller.
    unsafe { copy_object(mem, obj, map_word, copy, words) };
    // SAFETY: `obj` is live.
    let w = unsafe { mem.word(obj) };
    let forwarding = copy | FORWARDING_TAG;
    if fault(Fault::ForwardLoadStore) {
        // Broken twin: check, then store; two threads can both "win".
        let now = w.load(Ordering::Acquire);
        if let Some(winner) = forwarding_target(now) {
            return Err(winner);
        }
        w.store(forwarding, Ordering::Release);
        return Ok(copy);
    }
    // Release on success: publishes the copy to every thread that reads the
    // forwarding word with Acquire (`load_map_word`, the failure case here).
    // Acquire on failure: the loser is ordered after the winner's copy.
    // Broken twins weaken either half to Relaxed.
    let success = if fault(Fault::ForwardCasRelaxed) { Ordering::Relaxed } else { Ordering::Release };
    let failure = if fault(Fault::ForwardFailureRelaxed) { Ordering::Relaxed } else { Ordering::Acquire };
    match w.compare_exchange(map_word, forwarding, success, failure) {
        Ok(_) => Ok(copy),
        Err(now) => Err(forwarding_target(now).expect("a map word only ever changes to a forwarding address")),
    }
}

/// Copies `obj` to `copy` and forwards it there with a plain store: for a
/// collector that is the only thread evacuating (a one-task scavenge), where
/// no other thread can race for the object.
///
/// # Safety
/// As [`try_forward`], and no other thread may evacuate or read `obj`
/// concurrently.
#[inline]
pub unsafe fn forward_exclusive<M: Memory>(mem: &M, obj: usize, map_word: usize, copy: usize, words: usize) -> usize {
    // SAFETY: forwarded from the caller.
    unsafe {
        copy_object(mem, obj, map_word, copy, words);
        // Relaxed: single-threaded; the job's join publishes everything.
        mem.word(obj).store(copy | FORWARDING_TAG, Ordering::Relaxed);
    }
    copy
}

/// Copies the body of `obj` to `copy` and writes the copy's map word
/// (`map_word`, read before the copy started).
///
/// # Safety
/// As [`try_forward`].
#[inline(always)]
unsafe fn copy_object<M: Memory>(mem: &M, obj: usize, map_word: usize, copy: usize, words: usize) {
    // SAFETY: forwarded from the caller.
    unsafe {
        copy_body(mem, obj, copy, words);
        // Relaxed: `copy` is private until a forwarding store (the winning
        // CAS's Release, or the job's join) publishes it.
        mem.word(copy).store(map_word, Ordering::Relaxed);
    }
}

/// Copies words `1..words` of the object at `from` to `to` (word 0, the map
/// word, is written separately) with the facade's [`crate::sync::copy_words`].
///
/// Only map words change during a scavenge or a compaction, and word 0 is
/// not copied here, so the copy (plain in normal builds) races with nothing.
///
/// # Safety
/// As [`try_forward`].
#[inline(always)]
unsafe fn copy_body<M: Memory>(mem: &M, from: usize, to: usize, words: usize) {
    let n = words.saturating_sub(1);
    #[cfg(not(loom))]
    {
        // Normal builds: `mem` is `RawMemory`, whose addresses are real.
        let _ = mem;
        // SAFETY: per the contract, both bodies cover `n` words, no thread
        // writes the source body, and the destination is unshared and does
        // not overlap it.
        unsafe { crate::sync::copy_words(from + WORD, to + WORD, n) }
    }
    #[cfg(loom)]
    {
        // SAFETY: the words lie inside the two objects, per the contract.
        unsafe { crate::sync::copy_words(|a| mem.word(a), from + WORD, to + WORD, n) }
    }
}

/// Compaction: after moving an object off an evacuation candidate, shows
/// `record` every field slot of the copy (`copy + i * WORD` for `i` in
/// `fields`) whose value points into a page that `needs_update` says will
/// be evacuated, so the pointer-updating phase finds it in the copy's
/// OLD_TO_OLD slot set. (The copy lives on a page that marking did not
/// record slots for.)
///
/// # Safety
/// `copy` is a complete copy this thread made, with at least `fields.end`
/// words.
#[inline]
pub unsafe fn record_migrated_slots<M: Memory>(
    mem: &M,
    copy: usize,
    fields: core::ops::Range<usize>,
    needs_update: impl Fn(usize) -> bool,
    mut record: impl FnMut(usize),
) {
    if fault(Fault::MigratedSlotsNotRecorded) {
        // Broken twin: the copy's pointers into other candidates are never
        // updated.
        return;
    }
    for i in fields {
        let slot = copy + i * WORD;
        // SAFETY: inside the copy, per the contract.
        // Relaxed: the copy is this thread's until the phase's join.
        let v = unsafe { mem.word(slot) }.load(Ordering::Relaxed);
        if v & TAG_MASK == HEAP_OBJECT_TAG && needs_update(v & !TAG_MASK) {
            record(slot);
        }
    }
}

/// Compaction's pointer updating: if `slot` holds a pointer to an object
/// that was moved (its map word is a forwarding word), stores the new
/// address. Returns `true` if the slot changed.
///
/// Runs after the evacuation phase's join, which publishes every copy and
/// forwarding word; each slot belongs to exactly one updating task (slot
/// sets and objects are split by page, roots are one task's).
///
/// # Safety
/// `slot` is a word of a live object or a root, and a pointer in it points
/// to an object (moved or not) whose memory is still mapped.
#[inline]
pub unsafe fn update_slot<M: Memory>(mem: &M, slot: usize) -> bool {
    // SAFETY: per the contract.
    let w = unsafe { mem.word(slot) };
    // Relaxed: see above: the join orders this after the evacuation, and no
    // other task touches this slot.
    let v = w.load(Ordering::Relaxed);
    if v & TAG_MASK != HEAP_OBJECT_TAG {
        return false;
    }
    match forwarding_target(load_map_word(mem, v & !TAG_MASK)) {
        Some(to) => {
            // Relaxed: as the load above.
            w.store(to | HEAP_OBJECT_TAG, Ordering::Relaxed);
            true
        }
        None => false,
    }
}

/// The mutator's store of a tagged value into a field. Release: publishes
/// everything written before it (a new object's initialisation) to a
/// concurrent marker that reads the field with [`load_field_for_marking`].
///
/// # Safety
/// `slot` is a word of a live object (the caller's contract with `mem`).
#[inline(always)]
pub unsafe fn publish_field<M: Memory>(mem: &M, slot: usize, value: usize) {
    // SAFETY: forwarded from the caller.
    let w = unsafe { mem.word(slot) };
    if fault(Fault::PublishRelaxed) {
        // Broken twin: nothing orders the object's initialisation before
        // the pointer becomes visible.
        w.store(value, Ordering::Relaxed);
        return;
    }
    w.store(value, Ordering::Release);
}

/// A concurrent marker's load of a field. Acquire: pairs with the Release
/// of [`publish_field`], so an object reached through the field is seen
/// initialised.
///
/// # Safety
/// `slot` is a word of a live object.
#[inline(always)]
pub unsafe fn load_field_for_marking<M: Memory>(mem: &M, slot: usize) -> usize {
    // Broken twin: nothing orders the marker's reads of the object after
    // its initialisation.
    let order = if fault(Fault::MarkerLoadRelaxed) { Ordering::Relaxed } else { Ordering::Acquire };
    // SAFETY: forwarded from the caller.
    unsafe { mem.word(slot) }.load(order)
}

/// Real heap memory: atomic views of page words.
#[cfg(not(loom))]
pub(crate) struct RawMemory;

// SAFETY: `word` builds the view with `atomic_word`, valid for any live heap
// word, at the word's real address.
#[cfg(not(loom))]
unsafe impl Memory for RawMemory {
    #[inline(always)]
    unsafe fn word(&self, addr: usize) -> &AtomicUsize {
        // SAFETY: the caller passes a live, word-aligned heap address.
        unsafe { crate::sync::atomic_word(addr) }
    }
}

/// Asks the CPU to bring the cache line at `addr` in (a hint: no effect on
/// what any thread sees). The scavenger prefetches the objects a fresh copy
/// points to, so their map words are in cache by the time it visits them.
#[cfg(not(loom))]
#[inline(always)]
pub(crate) fn prefetch(addr: usize) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch never faults and changes no memory, whatever the
    // address; SSE, which it needs, is part of every x86_64 target.
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(addr as *const i8)
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = addr;
}

/// Where `v` points once every move of this pause is done: the target of
/// its object's forwarding word, or `v` itself if the object did not move
/// (Smis and cleared weak words pass through).
#[cfg(not(loom))]
pub(crate) fn forwarded(v: crate::value::Tagged) -> crate::value::Tagged {
    if !v.is_heap_object() {
        return v;
    }
    match forwarding_target(load_map_word(&RawMemory, v.address())) {
        Some(to) => crate::value::Tagged::from_address(to),
        None => v,
    }
}

/// Where `v`, whose page has `page_flags`, points after compaction: the
/// major GC's scavenge, which scans every live young object anyway, updates
/// their pointers into evacuated pages with this instead of a walk of new
/// space by the compactor.
#[cfg(not(loom))]
#[inline(always)]
pub(crate) fn forwarded_if_evacuated(v: crate::value::Tagged, page_flags: usize) -> crate::value::Tagged {
    if page_flags & crate::heap::page::flags::EVACUATION_CANDIDATE == 0 {
        return v;
    }
    forwarded(v)
}

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
/// # Safety
/// Implementations must return, for every address the protocol is given (a
/// word-aligned address of a live object or of memory the caller allocated),
/// an atomic view of that word that stays valid while `self` is borrowed, and
/// `copy_body` must copy the words `1..words` from `from` to `to`.
pub unsafe trait Memory: Sync {
    /// The word at `addr`.
    ///
    /// # Safety
    /// `addr` is a word of a live object or of memory the caller owns.
    unsafe fn word(&self, addr: usize) -> &AtomicUsize;

    /// Copies words `1..words` of the object at `from` to `to`. Word 0 (the
    /// map word) is written separately by the protocol.
    ///
    /// # Safety
    /// `from` is a live object of at least `words` words whose body no thread
    /// writes during the copy; `to` is unshared memory of at least `words`
    /// words that does not overlap it.
    unsafe fn copy_body(&self, from: usize, to: usize, words: usize) {
        for i in 1..words {
            // SAFETY: inside the two objects, per this function's contract.
            let (src, dst) = unsafe { (self.word(from + i * 8), self.word(to + i * 8)) };
            // Relaxed: `to` is unshared until the Release CAS publishes it.
            dst.store(src.load(Ordering::Relaxed), Ordering::Relaxed);
        }
    }
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
    // SAFETY: `obj` is a live object (the caller's contract with `mem`).
    unsafe { mem.word(obj) }.load(Ordering::Acquire)
}

/// Copies `obj` (whose map word was `map_word`, `words` long) to `copy` and
/// tries to install the forwarding address.
///
/// Returns `Ok(copy)` if this call won, or `Err(winner)` with the address the
/// object was forwarded to by another thread; the caller then gives `copy`
/// back.
///
/// # Safety
/// As [`Memory::copy_body`] for `obj`, `copy` and `words`.
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
    match w.compare_exchange(map_word, forwarding, Ordering::Release, Ordering::Acquire) {
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
/// As [`Memory::copy_body`].
#[inline(always)]
unsafe fn copy_object<M: Memory>(mem: &M, obj: usize, map_word: usize, copy: usize, words: usize) {
    // SAFETY: forwarded from the caller.
    unsafe {
        mem.copy_body(obj, copy, words);
        // Relaxed: `copy` is private until a forwarding store (the winning
        // CAS's Release, or the job's join) publishes it.
        mem.word(copy).store(map_word, Ordering::Relaxed);
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
    // SAFETY: forwarded from the caller.
    unsafe { mem.word(slot) }.load(Ordering::Acquire)
}

/// Real heap memory: atomic views of page words.
#[cfg(not(loom))]
pub(crate) struct RawMemory;

// SAFETY: `word` builds the view with `atomic_word`, valid for any live heap
// word; `copy_body` copies exactly the body words.
#[cfg(not(loom))]
unsafe impl Memory for RawMemory {
    #[inline(always)]
    unsafe fn word(&self, addr: usize) -> &AtomicUsize {
        // SAFETY: the caller passes a live, word-aligned heap address.
        unsafe { crate::sync::atomic_word(addr) }
    }

    #[inline(always)]
    unsafe fn copy_body(&self, from: usize, to: usize, words: usize) {
        let (src, dst, n) = ((from + WORD) as *const usize, (to + WORD) as *mut usize, words.saturating_sub(1));
        // Only map words change during a scavenge, and word 0 is not copied
        // here, so plain (non-atomic) copies of the body race with nothing.
        // SAFETY: per the contract, `src` and `dst` each cover `n` words, no
        // thread writes the source body, and the destination is unshared and
        // does not overlap it.
        unsafe { copy_words(src, dst, n) }
    }
}

/// Copies `n` words from `src` to `dst`. Most objects are a few words: a
/// body of up to 16 words is one fixed-size copy picked by a jump table
/// (inlined moves, no call; a variable-length loop would be turned back
/// into a call to `memcpy`), longer ones call `memcpy`.
///
/// # Safety
/// `src` and `dst` are valid for `n` words and do not overlap.
#[cfg(not(loom))]
#[inline(always)]
unsafe fn copy_words(src: *const usize, dst: *mut usize, n: usize) {
    /// One fixed-size copy of `N` words.
    ///
    /// # Safety
    /// As `copy_words` with `n == N`.
    #[inline(always)]
    unsafe fn fixed<const N: usize>(src: *const usize, dst: *mut usize) {
        // SAFETY: forwarded from the caller; `[usize; N]` has `usize`'s
        // alignment, which both pointers have.
        unsafe { dst.cast::<[usize; N]>().write(src.cast::<[usize; N]>().read()) }
    }
    // SAFETY (every arm): forwarded from the caller, with N == n.
    unsafe {
        match n {
            0 => {}
            1 => fixed::<1>(src, dst),
            2 => fixed::<2>(src, dst),
            3 => fixed::<3>(src, dst),
            4 => fixed::<4>(src, dst),
            5 => fixed::<5>(src, dst),
            6 => fixed::<6>(src, dst),
            7 => fixed::<7>(src, dst),
            8 => fixed::<8>(src, dst),
            9 => fixed::<9>(src, dst),
            10 => fixed::<10>(src, dst),
            11 => fixed::<11>(src, dst),
            12 => fixed::<12>(src, dst),
            13 => fixed::<13>(src, dst),
            14 => fixed::<14>(src, dst),
            15 => fixed::<15>(src, dst),
            16 => fixed::<16>(src, dst),
            _ => std::ptr::copy_nonoverlapping(src, dst, n),
        }
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

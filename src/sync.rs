//! The crate's private facade over atomics, cells, locks and threads.
//!
//! Every other module reaches synchronisation through here, never through
//! `std::sync::atomic`, `std::cell::UnsafeCell`, `std::thread`,
//! `parking_lot` or `loom` directly (DESIGN.md §9). In normal builds this
//! re-exports the real thing; under `--cfg loom` it re-exports loom's
//! modelled types, or wraps them in the normal build's API, so the loom models
//! in `loom-tests/` drive the very code the crate ships (the mark bitmap, the
//! handle table, the slot sets, the worklists, the sweep state) and not a copy
//! of it.
//!
//! | item | normal build | `--cfg loom` |
//! |---|---|---|
//! | `Ordering`, `fence`, `AtomicBool`, `AtomicPtr`, `AtomicU32`, `AtomicUsize` | `std` | loom's |
//! | [`Atomic<T>`] (a typed atomic of a small `Copy` value, e.g. an enum) | the `atomic` crate | a shim over a loom `AtomicUsize` |
//! | `Arc` | `std` | loom's |
//! | [`UnsafeCell`] (loom's `with_mut` API) | a wrapper over `std`'s | loom's |
//! | [`Mutex`] (`lock()` returns the guard) | `parking_lot`'s | a wrapper over loom's |
//! | [`Condvar`] (`wait` takes and returns the guard) | a wrapper over `parking_lot`'s | a wrapper over loom's |
//! | [`WaitQueue`] (spin, then park until a condition; wake) | over the above | the same code over loom's |
//! | [`thread`]`::{yield_now, current}` | `std` | loom's |
//! | [`thread`]`::spin_loop` | `std::hint` | loom's `yield_now` (a spin is a point to switch threads) |
//! | [`thread`]`::{panicking, available_parallelism}` | `std` | `std` (nothing to model) |
//! | [`atomic_word`] (an atomic view of a heap word) | over raw page memory | absent (models use a model heap) |
//! | [`copy_words`] (an evacuation's body copy) | plain copies of page memory | Relaxed word copies through the model heap |
//!
//! The module is private: only the fault knobs ([`faults`]) are reachable
//! from outside, and only under `--cfg loom`, as `isogc::model::faults`.
//!
//! `unmodeled` holds the few atomics that loom must *not* model (process-wide
//! id counters and statistics kept in `static`s, which loom cannot host).

#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{fence, AtomicBool, AtomicPtr, AtomicU32, AtomicUsize, Ordering};

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{fence, AtomicBool, AtomicPtr, AtomicU32, AtomicUsize, Ordering};

#[cfg(loom)]
pub(crate) use loom::sync::Arc;
#[cfg(not(loom))]
pub(crate) use std::sync::Arc;

/// A typed atomic over a small `Copy` value with no padding
/// ([`bytemuck::NoUninit`]), such as a fieldless `#[repr(u8)]` enum: the
/// `atomic` crate's, which uses the native atomic of the value's size.
#[cfg(not(loom))]
pub(crate) use ::atomic::Atomic;

#[cfg(loom)]
pub(crate) use loom_atomic::Atomic;

/// A lock for the slow paths (a worker taking its share of a job): in normal
/// builds `parking_lot`'s, which does not poison, and whose `lock()` returns
/// the guard itself.
#[cfg(not(loom))]
pub(crate) use parking_lot::Mutex;

#[cfg(loom)]
pub(crate) use loom_mutex::{Condvar, Mutex};

#[cfg(not(loom))]
pub(crate) use real_condvar::Condvar;

/// `Condvar` in normal builds: `parking_lot`'s, behind a `wait` that takes
/// the guard and gives it back (loom's shape), so call sites are the same in
/// both builds.
#[cfg(not(loom))]
mod real_condvar {
    /// A condition variable for [`super::Mutex`].
    #[derive(Debug, Default)]
    pub(crate) struct Condvar(parking_lot::Condvar);

    impl Condvar {
        pub(crate) fn new() -> Condvar {
            Condvar(parking_lot::Condvar::new())
        }

        /// Unlocks, sleeps until notified (or spuriously), locks again.
        pub(crate) fn wait<'a, T>(&self, mut guard: parking_lot::MutexGuard<'a, T>) -> parking_lot::MutexGuard<'a, T> {
            self.0.wait(&mut guard);
            guard
        }

        pub(crate) fn notify_all(&self) {
            self.0.notify_all();
        }
    }
}

/// A cell for data handed between threads by an atomic protocol (the
/// sweeper's per-page result). Under loom it is loom's tracked cell, so a
/// handoff without a happens-before edge is reported as a causality
/// violation; in normal builds it is `std`'s, with the same closure API.
#[cfg(loom)]
pub(crate) use loom::cell::UnsafeCell;

/// A cell for data handed between threads by an atomic protocol (the
/// sweeper's per-page result). Under loom it is loom's tracked cell, so a
/// handoff without a happens-before edge is reported as a causality
/// violation; in normal builds it is `std`'s, with the same closure API.
#[cfg(not(loom))]
#[derive(Debug, Default)]
pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

#[cfg(not(loom))]
impl<T> UnsafeCell<T> {
    pub(crate) fn new(v: T) -> UnsafeCell<T> {
        UnsafeCell(std::cell::UnsafeCell::new(v))
    }

    /// Runs `f` with a pointer for writing; the caller's protocol must make
    /// the access exclusive.
    #[inline(always)]
    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}

/// Threads: what the crate asks of the current thread.
pub(crate) mod thread {
    /// Lets other threads run (a waiting worker's back-off); under loom, a
    /// point where the model switches threads.
    #[cfg(loom)]
    pub(crate) use loom::thread::yield_now;
    /// Lets other threads run (a waiting worker's back-off); under loom, a
    /// point where the model switches threads.
    #[cfg(not(loom))]
    pub(crate) use std::thread::yield_now;

    /// The calling thread (its id: tests check where a job's task ran).
    #[cfg(all(test, loom))]
    pub(crate) use loom::thread::current;
    /// The calling thread (its id: tests check where a job's task ran).
    #[cfg(all(test, not(loom)))]
    pub(crate) use std::thread::current;

    /// A busy-wait hint; under loom, a point where the model switches
    /// threads (a spinning model thread must let the others run).
    #[cfg(loom)]
    pub(crate) use loom::thread::yield_now as spin_loop;
    /// A busy-wait hint; under loom, a point where the model switches
    /// threads (a spinning model thread must let the others run).
    #[cfg(not(loom))]
    pub(crate) use std::hint::spin_loop;

    /// Threads for the crate's own unit tests (a platform's jobs driven from
    /// several threads).
    #[cfg(all(test, not(loom)))]
    pub(crate) use std::thread::{scope, sleep};

    // Neither has anything for loom to model: a panic in a model thread is a
    // real panic of the thread running it, and the core count only sizes the
    // worker pool, which loom builds do not have.
    pub(crate) use std::thread::{available_parallelism, panicking};
}

/// `Mutex` under loom: loom's mutex, so a model switches threads at every
/// lock, behind `parking_lot`'s API so that call sites are the same in both
/// builds.
#[cfg(loom)]
mod loom_mutex {
    use std::sync::PoisonError;

    /// loom's mutex with `parking_lot`'s API: `lock()` returns the guard.
    #[derive(Debug)]
    pub(crate) struct Mutex<T>(loom::sync::Mutex<T>);

    impl<T> Mutex<T> {
        pub(crate) fn new(v: T) -> Mutex<T> {
            Mutex(loom::sync::Mutex::new(v))
        }

        /// Locks; like `parking_lot`'s, it ignores poisoning (a panic under
        /// the lock fails the model anyway).
        pub(crate) fn lock(&self) -> loom::sync::MutexGuard<'_, T> {
            self.0.lock().unwrap_or_else(PoisonError::into_inner)
        }

        pub(crate) fn into_inner(self) -> T {
            self.0.into_inner().unwrap_or_else(PoisonError::into_inner)
        }
    }

    /// loom's condition variable, with the normal build's API.
    #[derive(Debug)]
    pub(crate) struct Condvar(loom::sync::Condvar);

    impl Condvar {
        pub(crate) fn new() -> Condvar {
            Condvar(loom::sync::Condvar::new())
        }

        /// Unlocks, sleeps until notified, locks again.
        pub(crate) fn wait<'a, T>(&self, guard: loom::sync::MutexGuard<'a, T>) -> loom::sync::MutexGuard<'a, T> {
            self.0.wait(guard).unwrap_or_else(PoisonError::into_inner)
        }

        pub(crate) fn notify_all(&self) {
            self.0.notify_all();
        }
    }
}

/// Sleeping until a condition that other threads make true through atomics
/// (the gate's "no worker inside", a worklist's "work or termination").
///
/// A waiter spins briefly ([`WaitQueue::wait_until`]: a wait is usually
/// short), then *parks*: under the lock it counts itself as a sleeper, issues
/// a SeqCst fence, re-checks the condition and sleeps on the condvar until it
/// holds. A thread that makes the condition true then calls
/// [`WaitQueue::notify_all`]: a SeqCst fence, then, only if it sees a
/// sleeper, it takes the lock (so a waiter between its re-check and its sleep
/// cannot miss the notification) and notifies. The two fences are a Dekker
/// pair: either the waker sees the sleeper count, or the waiter's re-check
/// sees the condition. The waker's fast path (no sleeper) is a fence and a
/// load. `loom-tests/tests/parking.rs` checks it, with a twin that notifies
/// without taking the lock (the lost wake-up).
pub(crate) struct WaitQueue {
    sleepers: AtomicUsize,
    lock: Mutex<()>,
    cv: Condvar,
}

impl Default for WaitQueue {
    fn default() -> Self {
        WaitQueue::new()
    }
}

/// Checks of the condition before a waiter parks: a few with a CPU spin
/// hint, then a few with `yield_now` (a wait on another thread's short
/// step usually ends within them).
#[cfg(not(loom))]
const SPINS: (u32, u32) = (64, 16);
/// Under loom: one check, then park (a spin is only more interleavings).
#[cfg(loom)]
const SPINS: (u32, u32) = (0, 0);

impl WaitQueue {
    pub(crate) fn new() -> WaitQueue {
        WaitQueue { sleepers: AtomicUsize::new(0), lock: Mutex::new(()), cv: Condvar::new() }
    }

    /// Returns once `ready()` holds: spins for a while, then parks. Whoever
    /// makes `ready()` true must call [`WaitQueue::notify_all`] afterwards.
    /// `ready` does its own loads with the orderings the caller needs.
    #[inline]
    pub(crate) fn wait_until(&self, mut ready: impl FnMut() -> bool) {
        for i in 0..SPINS.0 + SPINS.1 {
            if ready() {
                return;
            }
            if i < SPINS.0 {
                thread::spin_loop();
            } else {
                thread::yield_now();
            }
        }
        self.park_until(ready);
    }

    #[cold]
    fn park_until(&self, mut ready: impl FnMut() -> bool) {
        let mut guard = self.lock.lock();
        // Relaxed: ordered by the fence below (pairs with the fence in
        // `notify_all`); the decrement below is only ever read as a hint.
        self.sleepers.fetch_add(1, Ordering::Relaxed);
        fence(dekker_fence(faults::Fault::WaitFenceAcqRel));
        while !ready() {
            guard = self.cv.wait(guard);
        }
        // Relaxed: a stale non-zero count only costs a waker a lock.
        self.sleepers.fetch_sub(1, Ordering::Relaxed);
        drop(guard);
    }

    /// Wakes every parked waiter. Call after the store that makes their
    /// condition true.
    #[inline]
    pub(crate) fn notify_all(&self) {
        fence(dekker_fence(faults::Fault::WaitFenceAcqRel));
        // Relaxed: the fence above pairs with the one in `park_until`: if
        // this reads no sleeper, that waiter's re-check sees the condition.
        if self.sleepers.load(Ordering::Relaxed) == 0 {
            return;
        }
        self.wake();
    }

    #[cold]
    fn wake(&self) {
        if !faults::fault(faults::Fault::NotifyWithoutLock) {
            // Taking the lock waits out a waiter between its re-check and
            // its sleep (the condvar releases the lock only once it sleeps).
            drop(self.lock.lock());
        }
        self.cv.notify_all();
    }
}

/// The ordering of one fence of a Dekker pair (the wait queue's, the
/// gate's): SeqCst; AcqRel in the broken twin that injects `weakened`.
#[inline(always)]
pub(crate) fn dekker_fence(weakened: faults::Fault) -> Ordering {
    if faults::fault(weakened) {
        Ordering::AcqRel
    } else {
        Ordering::SeqCst
    }
}

/// `Atomic<T>` under loom: the subset of the `atomic` crate's API the crate
/// uses, over a loom `AtomicUsize` holding `T`'s bytes, so that loom models
/// every access (it cannot see inside the `atomic` crate).
#[cfg(loom)]
mod loom_atomic {
    use super::Ordering;
    use bytemuck::NoUninit;
    use std::marker::PhantomData;
    use std::mem::size_of;

    /// A `T` stored as the low bytes (in memory order) of a loom
    /// `AtomicUsize`, the rest zero.
    ///
    /// Invariant: the word only ever holds `Atomic::to_bits` of some `T`
    /// (every write, in `new`, `store` and `compare_exchange`, goes through
    /// it), so its first `size_of::<T>()` bytes are always a valid `T`.
    pub(crate) struct Atomic<T> {
        bits: loom::sync::atomic::AtomicUsize,
        _value: PhantomData<T>,
    }

    impl<T: NoUninit> Atomic<T> {
        pub(crate) fn new(v: T) -> Atomic<T> {
            const { assert!(size_of::<T>() <= size_of::<usize>(), "loom's Atomic<T> holds at most a word") };
            Atomic { bits: loom::sync::atomic::AtomicUsize::new(Self::to_bits(v)), _value: PhantomData }
        }

        /// loom's atomics stand for native ones, as the `atomic` crate's are
        /// for the types the crate uses.
        pub(crate) const fn is_lock_free() -> bool {
            true
        }

        /// `v`'s bytes, zero-extended to a word. Equal values give equal
        /// words (`NoUninit`: no padding), so comparing words compares values
        /// byte for byte, as the `atomic` crate's `compare_exchange` does.
        fn to_bits(v: T) -> usize {
            let mut bits = 0usize;
            bytemuck::bytes_of_mut(&mut bits)[..size_of::<T>()].copy_from_slice(bytemuck::bytes_of(&v));
            bits
        }

        /// The `T` whose bytes `bits` holds.
        ///
        /// # Safety
        /// `bits` must have been read from `self.bits` (so, by the type's
        /// invariant, it is `to_bits` of a valid `T`).
        unsafe fn from_bits(bits: usize) -> T {
            // `read_unaligned`: `usize`'s alignment need not be `T`'s.
            // SAFETY: the first `size_of::<T>()` bytes of `bits` copy a valid
            // `T` (the caller's contract), and `T: Copy`.
            unsafe { std::ptr::read_unaligned((&bits as *const usize).cast::<T>()) }
        }

        pub(crate) fn load(&self, order: Ordering) -> T {
            let bits = self.bits.load(order);
            // SAFETY: read from `self.bits`.
            unsafe { Self::from_bits(bits) }
        }

        pub(crate) fn store(&self, v: T, order: Ordering) {
            self.bits.store(Self::to_bits(v), order)
        }

        pub(crate) fn compare_exchange(
            &self,
            current: T,
            new: T,
            success: Ordering,
            failure: Ordering,
        ) -> Result<T, T> {
            // SAFETY: the previous value (`Ok`) and the current one (`Err`)
            // are both read from `self.bits`.
            let read = |bits| unsafe { Self::from_bits(bits) };
            self.bits
                .compare_exchange(Self::to_bits(current), Self::to_bits(new), success, failure)
                .map(read)
                .map_err(read)
        }
    }
}

/// Atomics that are never modelled by loom: process-wide counters in
/// `static`s (isolate ids) whose only job is to be unique.
pub(crate) mod unmodeled {
    pub(crate) use std::sync::atomic::{AtomicU32, Ordering};
}

/// Builds a word-sized atomic view of a word of heap memory.
///
/// Page memory is raw (it comes from the page allocator, not from Rust
/// values), so the collector reaches its words through this one function.
///
/// # Safety
/// `addr` must be word-aligned, point into a live page owned by the caller's
/// heap, and stay valid for `'a`. Every other access to that word during `'a`
/// must be atomic too (the crate never mixes plain and atomic accesses to a
/// heap word that another thread can see).
#[cfg(not(loom))]
#[inline(always)]
pub(crate) unsafe fn atomic_word<'a>(addr: usize) -> &'a AtomicUsize {
    // SAFETY: the caller guarantees alignment and liveness; `AtomicUsize` has
    // the same size and alignment as `usize`.
    unsafe { AtomicUsize::from_ptr(addr as *mut usize) }
}

/// Copies `n` words of heap memory from `src` to `dst` with plain
/// (non-atomic) accesses: the body copy of every evacuation. Most objects are
/// a few words: a body of up to 16 words is one fixed-size copy picked by a
/// jump table (inlined moves, no call; a variable-length loop would be turned
/// back into a call to `memcpy`), longer ones call `memcpy`.
///
/// # Safety
/// `src` and `dst` are word-aligned heap addresses valid for `n` words, they
/// do not overlap, and no thread writes either range during the copy.
#[cfg(not(loom))]
#[inline(always)]
pub(crate) unsafe fn copy_words(src: usize, dst: usize, n: usize) {
    let (src, dst) = (src as *const usize, dst as *mut usize);
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

/// Under loom: the evacuation body copy of the normal build's `copy_words`,
/// word by word through `word` (the model heap's words). Each word is a
/// Relaxed load and a Relaxed store: loom then lets a reader that is not
/// ordered after the copy by happens-before see the destination's old
/// words, as a plain copy raced by a plain read would, so the models check
/// the edges that publish a copy (the forwarding CAS and the loads pairing
/// with it).
///
/// # Safety
/// As the normal build's: `word` gives the words `src..src + n` and
/// `dst..dst + n` (word steps), which do not overlap and which no thread
/// writes during the copy.
#[cfg(loom)]
pub(crate) unsafe fn copy_words<'a>(word: impl Fn(usize) -> &'a AtomicUsize, src: usize, dst: usize, n: usize) {
    const WORD: usize = std::mem::size_of::<usize>();
    for i in 0..n {
        // Relaxed: plain accesses in the normal build; see above.
        word(dst + i * WORD).store(word(src + i * WORD).load(Ordering::Relaxed), Ordering::Relaxed);
    }
}

/// Fault injection for the loom models' broken twins.
///
/// Each model in `loom-tests/` has a twin that turns one of these faults on and
/// must be caught by loom. The knob exists only under `--cfg loom`; in normal
/// builds [`faults::fault`] is a constant `false` and the checks compile away.
pub mod faults {
    /// A deliberately broken variant of one protocol step.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    #[repr(u32)]
    pub enum Fault {
        /// The mark bitmap sets a bit with a load followed by a store instead
        /// of one `fetch_or`.
        BitmapLoadStore = 1,
        /// Parallel handle-block visitors claim a block by a load and a store
        /// instead of one `fetch_add`.
        HandleClaimLoadStore = 2,
        /// A slot set installs a lazily allocated bucket with a plain store
        /// instead of a compare-exchange.
        SlotSetPlainInstall = 3,
        /// Slot-set iteration removes slots with a load followed by a store
        /// instead of one `fetch_and`.
        SlotSetIterateLoadStore = 4,
        /// A worklist task goes idle without first publishing its private
        /// work, so termination can be declared while work remains.
        IdleBeforePublish = 5,
        /// The scavenger installs a forwarding address with a load and a
        /// store instead of a compare-exchange on the map word.
        ForwardLoadStore = 6,
        /// A background worker checks the stop flag before registering as
        /// inside the heap, so a pause can begin without seeing it.
        GateCheckBeforeRegister = 7,
        /// The mutator publishes a pointer with a Relaxed store, so a
        /// concurrent marker can reach an object before its initialisation.
        PublishRelaxed = 8,
        /// The write barrier does not shade the stored value while marking.
        BarrierOff = 9,
        /// A background marker stops counting as a holder of work before it
        /// publishes what it still holds.
        RetireBeforePublish = 10,
        /// A sweeper claims a pending page with a load and a store instead of
        /// one compare-exchange, so two threads can sweep the same page.
        SweepClaimLoadStore = 11,
        /// A sweeper publishes a page as swept with a Relaxed store, so the
        /// allocator can take the page's free list before it is written.
        SweptPublishRelaxed = 12,
        /// The sweeper removes the slots of a freed range with a load and a
        /// store instead of one `fetch_and`, so a slot the write barrier
        /// records in the same cell at that moment is lost.
        SlotSetRemoveRangeLoadStore = 13,
        /// Compaction moves an object without recording the slots of its
        /// copy that point into other evacuated pages, so they are never
        /// updated.
        MigratedSlotsNotRecorded = 14,
        /// A thread that made a parked waiter's condition true notifies it
        /// without taking the wait queue's lock, so a waiter between its
        /// last check and its sleep misses the wake-up and sleeps forever.
        NotifyWithoutLock = 15,
        /// The winning forwarding CAS is Relaxed instead of Release, so a
        /// task that follows the forwarding word can see the copy unwritten.
        ForwardCasRelaxed = 16,
        /// A losing forwarding CAS reads the winner's word Relaxed instead of
        /// Acquire, so the loser can see the winner's copy unwritten.
        ForwardFailureRelaxed = 17,
        /// `load_map_word` is Relaxed instead of Acquire, so a task that
        /// finds an object forwarded can see its copy unwritten.
        MapWordLoadRelaxed = 18,
        /// A concurrent marker loads a field Relaxed instead of Acquire, so
        /// it can reach a published object before its initialisation.
        MarkerLoadRelaxed = 19,
        /// A worker leaves the gate with a Relaxed decrement instead of
        /// Release, so its last heap accesses can race with the pause.
        GateLeaveRelaxed = 20,
        /// The pausing thread waits for the gate to empty with Relaxed loads
        /// instead of Acquire, so the pause can race with a worker's last
        /// heap accesses.
        GateWaitRelaxed = 21,
        /// The pausing thread reopens the gate with a Relaxed store instead
        /// of Release, so a worker let in can miss what the pause wrote.
        GateOpenRelaxed = 22,
        /// A worker checks the gate's stop flag Relaxed instead of Acquire,
        /// so a worker let in after a pause can miss what the pause wrote.
        GateEnterRelaxed = 23,
        /// The owner takes a swept page's result after a Relaxed load of
        /// "swept" instead of Acquire, so it can read the result unwritten.
        TakeRelaxed = 24,
        /// Marking starts without turning the barrier on for a page the
        /// mutator writes to (the marking flag is never set on it).
        BarrierActivationSkipped = 25,
        /// The gate's two fences are AcqRel instead of SeqCst, so the
        /// Dekker handshake fails: a worker and a pause can both miss each
        /// other.
        GateFenceAcqRel = 26,
        /// The wait queue's two fences are AcqRel instead of SeqCst, so a
        /// waker can miss a sleeper while the sleeper misses the condition.
        WaitFenceAcqRel = 27,
        /// A slot set records a slot with a Relaxed `fetch_or` instead of
        /// Release, so an iterating task can find the slot before its
        /// contents.
        SlotInsertRelaxed = 28,
        /// Slot-set iteration reads cells Relaxed instead of Acquire, so it
        /// can find a slot before its contents.
        SlotIterateRelaxed = 29,
        /// An ephemeron round drops an entry whose key it found white
        /// instead of keeping it waiting, so a key marked later (by another
        /// marker, concurrently) never gets its value traced.
        EphemeronDropWaiting = 40,
    }

    #[cfg(loom)]
    static ACTIVE: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

    /// Is `f` injected right now? Always `false` outside `--cfg loom`.
    #[inline(always)]
    pub fn fault(f: Fault) -> bool {
        #[cfg(loom)]
        {
            ACTIVE.load(std::sync::atomic::Ordering::SeqCst) == f as u32
        }
        #[cfg(not(loom))]
        {
            let _ = f;
            false
        }
    }

    /// Turns `f` on until the returned guard is dropped (also on unwinding, so
    /// a `#[should_panic]` twin leaves the knob off for the next model).
    /// Models that inject faults must run one at a time (`--test-threads=1`).
    #[cfg(loom)]
    pub fn inject(f: Fault) -> FaultGuard {
        ACTIVE.store(f as u32, std::sync::atomic::Ordering::SeqCst);
        FaultGuard(())
    }

    /// Clears the injected fault when dropped.
    #[cfg(loom)]
    pub struct FaultGuard(());

    #[cfg(loom)]
    impl Drop for FaultGuard {
        fn drop(&mut self) {
            ACTIVE.store(0, std::sync::atomic::Ordering::SeqCst);
        }
    }
}

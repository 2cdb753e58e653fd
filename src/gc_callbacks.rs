//! GC prologue and epilogue callbacks: V8's `Isolate::AddGCPrologueCallback`
//! and `AddGCEpilogueCallback`.
//!
//! A callback is called on the isolate's thread before (prologue) and after
//! (epilogue) every recorded GC pause, with the pause's [`GcKind`] and
//! [`GcReason`], and after it with the [`GcEvent`] the pause recorded. The
//! driver calls them from its pause functions (`collect`, `timed_pause`,
//! `sweeping_pause` in [`crate::collector`]).
//!
//! A callback cannot re-enter the collector. It gets a [`GcCallbackInfo`],
//! which reads nothing but the pause, and it is `'static`, so it holds no
//! borrow of its isolate: allocating in or collecting its own isolate does
//! not compile. The one safe way around that, an isolate shared through an
//! `Rc<RefCell<Isolate>>`, is borrowed for as long as the GC runs, so the
//! attempt panics inside the callback. A panic in a callback never unwinds
//! through the collector (which would poison the isolate, or leave a
//! marking cycle half taken apart): it is caught where the callback was
//! called, the pause completes, and the panic is raised again, with a message
//! naming the callback and the misuse, when the call that ran the GC
//! (`collect_garbage` or an allocation) is about to return. The isolate stays
//! usable.

use crate::tracer::{GcEvent, GcKind, GcReason};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// What a GC callback learns about the pause it is called for.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct GcCallbackInfo<'a> {
    /// Which collector runs (or ran).
    pub kind: GcKind,
    /// Why.
    pub reason: GcReason,
    /// Epilogues: the event the pause recorded (whether or not the history
    /// keeps it, [`crate::HeapConfig::gc_event_history`]). `None` in
    /// prologues, and in the epilogue of a lazy sweeping step that found no
    /// page left to sweep (it records no event).
    pub event: Option<&'a GcEvent>,
}

/// Identifies a registered GC callback, for
/// [`crate::Isolate::remove_gc_callback`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct GcCallbackId(u64);

/// A registered GC callback.
type Callback = Box<dyn FnMut(&GcCallbackInfo<'_>)>;

/// Before or after the pause.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum When {
    Prologue,
    Epilogue,
}

impl When {
    fn as_str(self) -> &'static str {
        match self {
            When::Prologue => "prologue",
            When::Epilogue => "epilogue",
        }
    }
}

/// The callbacks of one isolate, and the first panic one of them raised
/// since the collector was last entered.
#[derive(Default)]
pub(crate) struct GcCallbacks {
    prologue: Vec<(GcCallbackId, Callback)>,
    epilogue: Vec<(GcCallbackId, Callback)>,
    next_id: u64,
    panicked: Option<String>,
}

impl GcCallbacks {
    pub(crate) fn add_prologue(&mut self, cb: Callback) -> GcCallbackId {
        let id = self.next_id();
        self.prologue.push((id, cb));
        id
    }

    pub(crate) fn add_epilogue(&mut self, cb: Callback) -> GcCallbackId {
        let id = self.next_id();
        self.epilogue.push((id, cb));
        id
    }

    fn next_id(&mut self) -> GcCallbackId {
        self.next_id += 1;
        GcCallbackId(self.next_id)
    }

    /// Removes the callback `id`; `false` if there is none (already
    /// removed).
    pub(crate) fn remove(&mut self, id: GcCallbackId) -> bool {
        let before = self.prologue.len() + self.epilogue.len();
        self.prologue.retain(|(i, _)| *i != id);
        self.epilogue.retain(|(i, _)| *i != id);
        before != self.prologue.len() + self.epilogue.len()
    }

    /// Calls the prologue callbacks, in registration order.
    #[inline]
    pub(crate) fn prologue(&mut self, isolate: u32, kind: GcKind, reason: GcReason) {
        if !self.prologue.is_empty() {
            self.call(When::Prologue, isolate, &GcCallbackInfo { kind, reason, event: None });
        }
    }

    /// Calls the epilogue callbacks, in registration order, with the event
    /// the pause recorded, if any.
    #[inline]
    pub(crate) fn epilogue(&mut self, isolate: u32, kind: GcKind, reason: GcReason, event: Option<&GcEvent>) {
        if !self.epilogue.is_empty() {
            self.call(When::Epilogue, isolate, &GcCallbackInfo { kind, reason, event });
        }
    }

    #[cold]
    #[inline(never)]
    fn call(&mut self, when: When, isolate: u32, info: &GcCallbackInfo<'_>) {
        let list = match when {
            When::Prologue => &mut self.prologue,
            When::Epilogue => &mut self.epilogue,
        };
        for (_, cb) in list.iter_mut() {
            // A callback's panic must not unwind through the collector: the
            // pause goes on, and the panic is raised again once the
            // collector is consistent (`raise_pending_panic`).
            if let Err(payload) = catch_unwind(AssertUnwindSafe(|| cb(info))) {
                if self.panicked.is_none() {
                    self.panicked =
                        Some(misuse_message(when, isolate, info, &crate::collector::panic_message(&*payload)));
                }
            }
        }
    }

    /// Did a callback panic since the last [`Self::raise_pending_panic`]?
    #[inline]
    pub(crate) fn has_pending_panic(&self) -> bool {
        self.panicked.is_some()
    }

    /// Raises the panic a callback raised, if one did; the caller has left
    /// the collector and the heap consistent.
    #[inline]
    pub(crate) fn raise_pending_panic(&mut self) {
        if let Some(why) = self.panicked.take() {
            callback_panicked(why);
        }
    }
}

#[cold]
#[inline(never)]
fn callback_panicked(why: String) -> ! {
    panic!("{why}")
}

fn misuse_message(when: When, isolate: u32, info: &GcCallbackInfo<'_>, inner: &str) -> String {
    format!(
        "isogc: a GC {} callback of isolate {isolate} panicked ({:?} GC, reason: {}): {inner}. A GC callback runs \
         inside the collector and must not allocate in or collect its own isolate (shared through a RefCell, the \
         isolate is borrowed for the GC); read the pause from the GcCallbackInfo and do such work after the call \
         that ran the GC returns. The GC completed and the isolate is still usable",
        when.as_str(),
        info.kind,
        info.reason.as_str(),
    )
}

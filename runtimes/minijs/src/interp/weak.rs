//! `WeakMap`, `WeakSet`, `WeakRef` and `FinalizationRegistry` on isogc's
//! weak kinds, and the job loop (`setTimeout` tasks) that decides when
//! WeakRef targets stop being kept and when cleanup callbacks run.
//!
//! Each JavaScript object wraps an isogc object in its `INT_A` field: an
//! `EphemeronTable` (a WeakSet's values are `true`), a `WeakRef`, or a
//! `FinalizationRegistry` (with the cleanup callback in `INT_B`). The wrapper
//! is an ordinary JS object (shape, prototype, properties); the isogc object
//! dies with it.
//!
//! Jobs: the script's top level is one job, each `setTimeout` callback and
//! each cleanup callback another. At the end of every job the interpreter
//! (1) drops the WeakRef targets kept during it (the spec's KeepDuringJob
//! set: a target created or dereferenced in a job survives until the job
//! ends, so `deref()` is stable within one), then (2) drains every live
//! registry's queue (`drain_finalization`) and calls its callback with each
//! held value, each call a job of its own, until no queue has anything left.
//! So callbacks never run inside a GC, nor in the middle of a job: after a
//! `gc()` they run once the job that called it finishes, before the next
//! `setTimeout` task (node runs them as a task of their own, which may come
//! after a `setTimeout(f, 0)` queued before; the tests do not depend on that).

use super::*;
use isogc::{EphemeronTable, FinalizationRegistry, WeakRef, WeakTargetError};

/// A prototype's methods: name and builtin.
type Methods = &'static [(&'static str, Builtin)];

impl Builtin {
    /// Is this one of the builtins of this module (declared last)?
    pub(super) fn is_weak(self) -> bool {
        self as u32 >= Builtin::WeakMapCtor as u32
    }

    /// The name of a builtin that must be called with `new`.
    pub(super) fn constructor_name(self) -> Option<&'static str> {
        match self {
            Builtin::WeakMapCtor => Some("WeakMap"),
            Builtin::WeakSetCtor => Some("WeakSet"),
            Builtin::WeakRefCtor => Some("WeakRef"),
            Builtin::FinRegCtor => Some("FinalizationRegistry"),
            _ => None,
        }
    }
}

impl<'a> Interp<'a> {
    fn is_callable<'s>(&self, s: &HandleScope<'s>, v: V<'s>) -> bool {
        s.cast::<Object, _>(v).is_some_and(|o| matches!(self.kind_of(s, o), Kind::Function | Kind::Builtin))
    }

    /// How V8 names a value in its TypeErrors: `#<Object>` for an object,
    /// the value itself otherwise.
    fn describe<'s>(&mut self, s: &mut HandleScope<'s>, v: V<'s>) -> String {
        if self.is_object(s, v) {
            "#<Object>".into()
        } else {
            self.display_of(s, v)
        }
    }

    /// `this` as a wrapper of `kind`, or the TypeError V8 throws for a
    /// method called on another receiver.
    fn weak_this<'s>(
        &mut self,
        s: &mut HandleScope<'s>,
        this: V<'s>,
        kind: Kind,
        method: &str,
    ) -> R<Local<'s, Object>> {
        if let Some(o) = s.cast::<Object, _>(this) {
            if self.kind_of(s, o) == kind {
                return Ok(o);
            }
        }
        let recv = self.describe(s, this);
        Err(self.throw_error(s, 2, &format!("Method {method} called on incompatible receiver {recv}")))
    }

    /// isogc's verdict on a weak key or target: an allocation failure is
    /// fatal, any other refusal the TypeError `msg` (the interpreter checks
    /// first that keys and targets are objects, so this is a second line).
    fn weak_ok<'s>(&mut self, s: &mut HandleScope<'s>, r: Result<(), WeakTargetError>, msg: &str) -> R<()> {
        match r {
            Ok(()) => Ok(()),
            Err(WeakTargetError::Alloc(e)) => Err(e.into()),
            Err(_) => Err(self.throw_error(s, 2, msg)),
        }
    }

    /// Keeps `target` alive until the current job ends (KeepDuringJob),
    /// once however often it is kept (by identity, as the spec's set).
    fn keep_during_job<'s>(&mut self, s: &mut HandleScope<'s>, target: V<'s>) {
        let hash = s.identity_hash(target);
        if let Some(indices) = self.kept_index.get(&hash) {
            for &i in indices {
                let kept = s.open(&self.kept[i]);
                if s.same_value(kept, target) {
                    return;
                }
            }
        }
        self.kept_index.entry(hash).or_default().push(self.kept.len());
        self.kept.push(s.global(target));
    }

    fn clear_kept(&mut self) {
        self.kept.clear();
        self.kept_index.clear();
    }

    fn wrapper<'s>(&mut self, s: &mut HandleScope<'s>, kind: Kind) -> R<Local<'s, Object>> {
        let proto = match kind {
            Kind::WeakMap => &self.weak_map_proto,
            Kind::WeakSet => &self.weak_set_proto,
            Kind::WeakRef => &self.weak_ref_proto,
            _ => &self.fin_reg_proto,
        };
        let p = self.proto(s, proto);
        self.new_obj(s, kind, 0, p, None)
    }

    /// The weak builtins and `setTimeout` / `clearTimeout` (`construct`:
    /// called by `new`).
    pub(super) fn call_weak_builtin<'s>(
        &mut self,
        s: &mut HandleScope<'s>,
        b: Builtin,
        this: V<'s>,
        args: &[V<'s>],
        span: Span,
        construct: bool,
    ) -> R<V<'s>> {
        use Builtin as B;
        if let Some(name) = b.constructor_name() {
            if !construct {
                return Err(self.throw_error(s, 2, &format!("Constructor {name} requires 'new'")));
            }
        }
        let a0 = Self::arg(s, args, 0);
        let a1 = Self::arg(s, args, 1);
        let v = match b {
            B::WeakMapCtor | B::WeakSetCtor => {
                if !(s.is_undefined(a0) || s.is_null(a0)) {
                    return Err(self.unsupported(span, "a WeakMap or WeakSet built from an iterable"));
                }
                let kind = if b == B::WeakMapCtor { Kind::WeakMap } else { Kind::WeakSet };
                let o = self.wrapper(s, kind)?;
                let table = s.new_ephemeron_table()?;
                s.set(o, INT_A, table);
                o.as_value()
            }
            B::WeakMapSet | B::WeakSetAdd => {
                let (kind, method, msg) = if b == B::WeakMapSet {
                    (Kind::WeakMap, "WeakMap.prototype.set", "Invalid value used as weak map key")
                } else {
                    (Kind::WeakSet, "WeakSet.prototype.add", "Invalid value used in weak set")
                };
                let o = self.weak_this(s, this, kind, method)?;
                if !self.is_object(s, a0) {
                    return Err(self.throw_error(s, 2, msg));
                }
                let value = if b == B::WeakMapSet { a1 } else { s.boolean(true) };
                let table = s.get_as::<EphemeronTable, _>(o, INT_A);
                let r = s.ephemeron_set(table, a0, value);
                self.weak_ok(s, r, msg)?;
                o.as_value()
            }
            B::WeakMapGet => {
                let o = self.weak_this(s, this, Kind::WeakMap, "WeakMap.prototype.get")?;
                let table = s.get_as::<EphemeronTable, _>(o, INT_A);
                match s.ephemeron_get(table, a0) {
                    Some(v) => v,
                    None => s.undefined(),
                }
            }
            B::WeakMapHas | B::WeakSetHas | B::WeakMapDelete | B::WeakSetDelete => {
                let (kind, method) = match b {
                    B::WeakMapHas => (Kind::WeakMap, "WeakMap.prototype.has"),
                    B::WeakSetHas => (Kind::WeakSet, "WeakSet.prototype.has"),
                    B::WeakMapDelete => (Kind::WeakMap, "WeakMap.prototype.delete"),
                    _ => (Kind::WeakSet, "WeakSet.prototype.delete"),
                };
                let o = self.weak_this(s, this, kind, method)?;
                let table = s.get_as::<EphemeronTable, _>(o, INT_A);
                let found = if matches!(b, B::WeakMapHas | B::WeakSetHas) {
                    s.ephemeron_has(table, a0)
                } else {
                    s.ephemeron_delete(table, a0)
                };
                s.boolean(found)
            }
            B::WeakRefCtor => {
                let msg = "WeakRef: invalid target";
                if !self.is_object(s, a0) {
                    return Err(self.throw_error(s, 2, msg));
                }
                let o = self.wrapper(s, Kind::WeakRef)?;
                let w = match s.new_weak_ref(a0) {
                    Ok(w) => w,
                    Err(e) => {
                        self.weak_ok(s, Err(e), msg)?;
                        unreachable!("weak_ok turns every error into Err")
                    }
                };
                s.set(o, INT_A, w);
                self.keep_during_job(s, a0);
                o.as_value()
            }
            B::WeakRefDeref => {
                let o = self.weak_this(s, this, Kind::WeakRef, "WeakRef.prototype.deref")?;
                let w = s.get_as::<WeakRef, _>(o, INT_A);
                let target = s.weak_ref_deref(w);
                if !s.is_undefined(target) {
                    self.keep_during_job(s, target);
                }
                target
            }
            B::FinRegCtor => {
                if !self.is_callable(s, a0) {
                    return Err(self.throw_error(s, 2, "FinalizationRegistry: cleanup must be callable"));
                }
                let o = self.wrapper(s, Kind::FinReg)?;
                let registry = s.new_finalization_registry()?;
                s.set(o, INT_A, registry);
                s.set(o, INT_B, a0);
                let w = s.weak(o.as_value());
                self.registries.push(w);
                o.as_value()
            }
            B::FinRegRegister => {
                let o = self.weak_this(s, this, Kind::FinReg, "FinalizationRegistry.prototype.register")?;
                let target_msg = "FinalizationRegistry.prototype.register: invalid target";
                if !self.is_object(s, a0) {
                    return Err(self.throw_error(s, 2, target_msg));
                }
                if s.same_value(a0, a1) {
                    let msg = "FinalizationRegistry.prototype.register: target and holdings must not be same";
                    return Err(self.throw_error(s, 2, msg));
                }
                let a2 = Self::arg(s, args, 2);
                let token = if s.is_undefined(a2) {
                    None
                } else if self.is_object(s, a2) {
                    Some(a2)
                } else {
                    let t = self.describe(s, a2);
                    return Err(self.throw_error(s, 2, &format!("Invalid unregisterToken ('{t}')")));
                };
                let registry = s.get_as::<FinalizationRegistry, _>(o, INT_A);
                let r = s.finalization_register(registry, a0, a1, token);
                self.weak_ok(s, r, target_msg)?;
                s.undefined()
            }
            B::FinRegUnregister => {
                let o = self.weak_this(s, this, Kind::FinReg, "FinalizationRegistry.prototype.unregister")?;
                if !self.is_object(s, a0) {
                    let t = self.describe(s, a0);
                    return Err(self.throw_error(s, 2, &format!("Invalid unregisterToken ('{t}')")));
                }
                let registry = s.get_as::<FinalizationRegistry, _>(o, INT_A);
                let n = s.finalization_unregister(registry, a0);
                s.boolean(n > 0)
            }
            B::SetTimeout => {
                if !self.is_callable(s, a0) {
                    let t = self.describe(s, a0);
                    let msg = format!("The \"callback\" argument must be of type function. Received {t}");
                    return Err(self.throw_error(s, 2, &msg));
                }
                let delay = if args.len() > 1 { self.number_of(s, a1)? } else { 0.0 };
                // node: a delay under 1 ms (or not a number) is 1 ms.
                let delay = if delay >= 1.0 { delay } else { 1.0 };
                self.task_seq += 1;
                let callback = s.global(a0);
                let rest = args.iter().skip(2).map(|&v| s.global(v)).collect();
                self.tasks.push(Task { due: self.task_now + delay, seq: self.task_seq, callback, args: rest });
                int(s, self.task_seq as i64)?
            }
            B::ClearTimeout => {
                if let Some(id) = s.to_number(a0) {
                    self.tasks.retain(|t| t.seq as f64 != id);
                }
                s.undefined()
            }
            _ => unreachable!("{b:?} is not a weak builtin"),
        };
        Ok(v)
    }

    /// Ends a job: drops the WeakRef targets it kept, then, if a GC ran
    /// since the last drain, delivers every live registry's queued held
    /// values to its callback (each call a job of its own), until no queue
    /// has anything left. An exception a callback throws is uncaught (as
    /// in node).
    pub(super) fn end_job<'s>(&mut self, s: &mut HandleScope<'s>) -> R<()> {
        self.clear_kept();
        if s.gc_counts() == self.drained_at {
            return Ok(());
        }
        loop {
            let mut delivered = 0;
            let mut i = 0;
            while i < self.registries.len() {
                let mut inner = HandleScope::new(s);
                let Some(reg) = inner.open_weak(&self.registries[i]) else {
                    // The registry died: its callbacks never run (as in JS).
                    self.registries.remove(i);
                    continue;
                };
                i += 1;
                let reg = inner.cast::<Object, _>(reg).expect("a FinalizationRegistry is an object");
                let registry = inner.get_as::<FinalizationRegistry, _>(reg, INT_A);
                let mut held = Vec::new();
                inner
                    .drain_finalization(registry, |s, h| held.push(s.global(h)))
                    .expect("the interpreter drains between jobs, never inside a GC");
                let callback = inner.get(reg, INT_B);
                for h in held {
                    let mut job = HandleScope::new(&mut inner);
                    let h = job.open(&h);
                    let undefined = job.undefined();
                    self.call(&mut job, callback, undefined, &[h], Span::default())?;
                    self.clear_kept();
                    delivered += 1;
                }
            }
            if delivered == 0 {
                self.drained_at = s.gc_counts();
                return Ok(());
            }
        }
    }

    /// Runs the `setTimeout` tasks, earliest due first (then in the order
    /// they were made), each a job, until none is left.
    pub(super) fn run_tasks<'s>(&mut self, s: &mut HandleScope<'s>) -> R<()> {
        while let Some(i) = (0..self.tasks.len()).min_by(|&a, &b| {
            let (a, b) = (&self.tasks[a], &self.tasks[b]);
            a.due.total_cmp(&b.due).then(a.seq.cmp(&b.seq))
        }) {
            let task = self.tasks.remove(i);
            self.task_now = task.due;
            let mut inner = HandleScope::new(s);
            let callback = inner.open(&task.callback);
            let args: Vec<V<'_>> = task.args.iter().map(|g| inner.open(g)).collect();
            drop(task);
            let undefined = inner.undefined();
            self.call(&mut inner, callback, undefined, &args, Span::default())?;
            self.end_job(&mut inner)?;
        }
        Ok(())
    }

    /// The constructors and prototypes of the weak kinds, and
    /// `setTimeout` / `clearTimeout`, on the global object `go`.
    pub(super) fn init_weak<'s>(&mut self, s: &mut HandleScope<'s>, go: V<'s>) -> R<()> {
        use Builtin as B;
        let kinds: [(&str, Builtin, Methods); 4] = [
            (
                "WeakMap",
                B::WeakMapCtor,
                &[("set", B::WeakMapSet), ("get", B::WeakMapGet), ("has", B::WeakMapHas), ("delete", B::WeakMapDelete)],
            ),
            (
                "WeakSet",
                B::WeakSetCtor,
                &[("add", B::WeakSetAdd), ("has", B::WeakSetHas), ("delete", B::WeakSetDelete)],
            ),
            ("WeakRef", B::WeakRefCtor, &[("deref", B::WeakRefDeref)]),
            (
                "FinalizationRegistry",
                B::FinRegCtor,
                &[("register", B::FinRegRegister), ("unregister", B::FinRegUnregister)],
            ),
        ];
        for (name, ctor, methods) in kinds {
            let p = self.object_plain(s)?;
            for &(m, b) in methods {
                self.put_builtin(s, p, m, b)?;
            }
            let c = self.builtin(s, ctor)?;
            self.put(s, c, "prototype", p)?;
            self.put(s, go, name, c)?;
            let g = Some(s.global(p));
            match ctor {
                B::WeakMapCtor => self.weak_map_proto = g,
                B::WeakSetCtor => self.weak_set_proto = g,
                B::WeakRefCtor => self.weak_ref_proto = g,
                _ => self.fin_reg_proto = g,
            }
        }
        self.put_builtin(s, go, "setTimeout", B::SetTimeout)?;
        self.put_builtin(s, go, "clearTimeout", B::ClearTimeout)
    }
}

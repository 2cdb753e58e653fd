//! Limits and sizing: when the next major GC starts, and how big new space
//! is (V8's heap controller, `Heap::ResizeNewSpace`), and the scavenge model
//! (V8's GC tracer keeps a scavenge speed the same way).
//!
//! A scavenge's pause is modelled as a fixed part (the roots and the
//! remembered set, which do not shrink with new space) plus the bytes it
//! copies over the copying speed; the bytes it copies are the young bytes
//! allocated since the last one times the survival rate. The controller
//! measures the three (smoothed over recent scavenges) and predicts each
//! scavenge before it runs; the prediction is reported in the scavenge's
//! [`crate::GcEvent`], so the model can be checked against the pause before
//! new space is sized by it.
//!
//! New space is sized against the pause budget
//! ([`crate::HeapConfig::pause_target`]): on top of V8's grow and shrink
//! rules, a semi-space never holds more young bytes than the model says a
//! scavenge can copy within the budget (never below the configured
//! minimum). When a scavenge finds nearly all of new space alive
//! (V8's fast promotion mode), the next minor GCs promote new space by
//! pages ([`crate::page_promotion`]) with new space at its maximum, and every
//! [`FAST_PROMOTIONS_PER_PROBE`]-th one is a regular scavenge of a
//! budget-sized new space that measures survival again.

use crate::heap::allocation_site::PRETENURE_MIN_NEW_SPACE;
use crate::heap::{Heap, PAGE_SIZE};
use crate::marking;
use crate::scavenger::ScavengeStats;
use std::time::{Duration, Instant};

/// Smallest step between the live size and the next major-GC trigger.
const MIN_LIMIT_STEP: usize = 2 * PAGE_SIZE * 4;

/// Below this new-space allocation rate (bytes per ms) new space shrinks
/// (V8's `kLowAllocationThroughput`).
const LOW_ALLOCATION_RATE: f64 = 1000.0;

/// Copying speed assumed before the first scavenge measured one, bytes per
/// ms (1 GB/s: a conservative guess; one task copies about 3 GB/s here).
const PRIOR_SPEED: f64 = 1024.0 * 1024.0;
/// Survival rate assumed before the first measurement: everything (the
/// prediction errs toward a longer pause).
const PRIOR_SURVIVAL: f64 = 1.0;
/// Background marking speed assumed before a cycle measured one, bytes per
/// ms of a cycle's wall time (256 MB/s: one worker on a busy machine).
const PRIOR_MARK_SPEED: f64 = 256.0 * 1024.0;
/// Old-generation growth (and background marking) below which no rate is
/// computed from it.
const MIN_GROWTH_FOR_RATE: usize = 1 << 20;
/// Headroom asked for on top of the schedule's need when marking starts by
/// the rates (the rates are estimates; the allocation rate varies).
const START_MARGIN: f64 = 1.5;
/// A scavenge in which all of new space survives may take this many pause
/// budgets (see [`Controller::young_bytes_within`]).
const WORST_CASE_BUDGETS: f64 = 2.0;
/// Weight of the newest measurement in the smoothed estimates.
const SMOOTHING: f64 = 0.3;

/// `old` moved toward the measurement `new` by [`SMOOTHING`].
fn smooth(old: Option<f64>, new: f64) -> Option<f64> {
    Some(old.map_or(new, |o| o + SMOOTHING * (new - o)))
}

/// A scavenge that copies at least this share of the semi-space's capacity
/// switches fast promotion on (V8's `kMinPromotedPercentForFastPromotionMode`).
const FAST_PROMOTION_SURVIVAL: f64 = 0.9;

/// Share of new space's bytes marking must find live for a major GC to
/// promote new space by pages, and for fast promotion to go on (V8's
/// `--page-promotion-threshold`, 70%).
pub(super) const PAGE_PROMOTION_LIVE: f64 = 0.7;

/// Fast promotions in a row before a regular scavenge measures survival
/// again.
pub(super) const FAST_PROMOTIONS_PER_PROBE: u32 = 8;

/// How the next minor GC handles the young generation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum YoungGc {
    /// A scavenge (copying, promotion by age mark).
    Scavenge,
    /// Promotion of new space by pages.
    PromotePages,
}

/// The old generation's trigger, the semi-space sizing state and the
/// scavenge model.
pub(super) struct Controller {
    /// Old-generation size that triggers the next major GC.
    old_gen_limit: usize,
    /// Bytes that survived scavenges since the semi-space last grew.
    survived_since_resize: usize,
    /// End of the previous scavenge, for the allocation rate.
    last_scavenge: Instant,
    /// Measured copying speed of scavenges: bytes copied (within new space
    /// or promoted) per ms of the pause's variable part, smoothed.
    scavenge_speed: Option<f64>,
    /// Measured survival rate: bytes copied over young bytes scavenged,
    /// smoothed.
    survival: Option<f64>,
    /// Measured fixed part of a scavenge, ms: the roots and the remembered
    /// set, smoothed.
    fixed_ms: Option<f64>,
    /// Fast promotions left before the next regular scavenge (0: fast
    /// promotion is off).
    fast_promotions_left: u32,
    /// End of the last major GC and the old generation's size then: the
    /// old generation's growth rate since is the allocation rate that
    /// marking has to outrun.
    last_major: (Instant, usize),
    /// Measured speed of the background markers over a whole cycle: bytes
    /// they marked per ms of the cycle's wall time, smoothed.
    background_mark_speed: Option<f64>,
}

impl Controller {
    pub(super) fn new(initial_old_gen_limit: usize) -> Controller {
        Controller {
            old_gen_limit: initial_old_gen_limit,
            survived_since_resize: 0,
            last_scavenge: Instant::now(),
            scavenge_speed: None,
            survival: None,
            fixed_ms: None,
            fast_promotions_left: 0,
            last_major: (Instant::now(), 0),
            background_mark_speed: None,
        }
    }

    /// How the next minor GC should handle the young generation: by pages
    /// while fast promotion is on and the old generation can take all of
    /// new space without passing the hard limit.
    pub(super) fn young_gc(&mut self, heap: &Heap) -> YoungGc {
        if self.fast_promotions_left == 0 {
            return YoungGc::Scavenge;
        }
        let young = heap.new_space.used() + heap.new_lo_space.object_bytes;
        if heap.old_gen_committed() + young + PAGE_SIZE > heap.hard_limit {
            self.fast_promotions_left = 0;
            return YoungGc::Scavenge;
        }
        self.fast_promotions_left -= 1;
        YoungGc::PromotePages
    }

    /// Is fast promotion on (the young generation is handled by pages)?
    pub(super) fn fast_promotion(&self) -> bool {
        self.fast_promotions_left > 0
    }

    /// After a regular minor GC's scavenge of a semi-space of `capacity`
    /// bytes: fast promotion goes on if it copied at least 90% of it.
    pub(super) fn after_minor_scavenge(&mut self, heap: &Heap, capacity: usize, copied: usize) {
        if heap.config.fast_promotion && copied as f64 >= FAST_PROMOTION_SURVIVAL * capacity as f64 {
            self.fast_promotions_left = FAST_PROMOTIONS_PER_PROBE;
        }
    }

    /// After an atomic marking (a major GC): the share of new space's bytes
    /// marking found live is a survival measurement that costs no scavenge. At 70%
    /// or more (V8's page-promotion threshold) fast promotion goes on (or
    /// stays on for another round); below, it stops.
    pub(super) fn after_marking_young(&mut self, heap: &Heap, live_share: f64) {
        if heap.config.fast_promotion && live_share >= PAGE_PROMOTION_LIVE {
            self.fast_promotions_left = self.fast_promotions_left.max(FAST_PROMOTIONS_PER_PROBE);
        } else {
            self.fast_promotions_left = 0;
        }
    }

    /// The most young bytes a scavenge can take and still fit `target`,
    /// by the model (0 if its fixed part alone does not fit): at the
    /// measured survival rate, and, should everything survive (a program
    /// that builds a large structure after a phase of garbage: survival
    /// jumps from a few percent to all), within [`WORST_CASE_BUDGETS`]
    /// times `target`. The mean bounds the typical pause, the second the
    /// longest.
    pub(super) fn young_bytes_within(&self, target: Duration) -> usize {
        let (target_ms, fixed_ms) = (target.as_secs_f64() * 1e3, self.fixed_ms.unwrap_or(0.0));
        let ms = target_ms - fixed_ms;
        if ms <= 0.0 {
            return 0;
        }
        let speed = self.scavenge_speed.unwrap_or(PRIOR_SPEED);
        let survival = self.survival.unwrap_or(PRIOR_SURVIVAL).max(0.01);
        let typical = ms * speed / survival;
        let worst = (WORST_CASE_BUDGETS * target_ms - fixed_ms) * speed;
        typical.min(worst) as usize
    }

    /// Whether a scavenge of a semi-space of `capacity` ran at full size,
    /// for pretenuring (V8's `maximum_size_scavenge`): new space is at least
    /// [`PRETENURE_MIN_NEW_SPACE`], or as large as it may grow (the
    /// configured maximum, or the pause budget's bound), so survivors can
    /// no longer be given more room to die in.
    pub(super) fn full_size_scavenge(&self, heap: &Heap, capacity: usize) -> bool {
        let (min, max) = (heap.config.min_semi_space_size, heap.config.max_semi_space_size);
        let ceiling = (self.young_bytes_within(heap.config.pause_target) / PAGE_SIZE * PAGE_SIZE).clamp(min, max);
        capacity >= PRETENURE_MIN_NEW_SPACE.min(ceiling)
    }

    /// The pause predicted for scavenging `young` bytes: the fixed part plus
    /// the surviving bytes at the copying speed.
    pub(super) fn predict_scavenge(&self, young: usize) -> Duration {
        let copied = young as f64 * self.survival.unwrap_or(PRIOR_SURVIVAL);
        let ms = self.fixed_ms.unwrap_or(0.0) + copied / self.scavenge_speed.unwrap_or(PRIOR_SPEED);
        Duration::from_secs_f64(ms / 1e3)
    }

    /// Learns from a scavenge of `young` bytes that copied `copied` bytes
    /// in `took`, `fixed` of it on the roots and the remembered set.
    pub(super) fn record_scavenge(&mut self, young: usize, copied: usize, took: Duration, fixed: Duration) {
        let fixed_ms = fixed.as_secs_f64() * 1e3;
        self.fixed_ms = smooth(self.fixed_ms, fixed_ms);
        let ms = took.as_secs_f64() * 1e3 - fixed_ms;
        // A scavenge that copied little says more about its fixed costs
        // than about copying.
        if copied >= PAGE_SIZE && ms > 0.0 {
            self.scavenge_speed = smooth(self.scavenge_speed, copied as f64 / ms);
        }
        if young > 0 {
            self.survival = smooth(self.survival, (copied as f64 / young as f64).min(1.0));
        }
    }

    /// Old-generation size that triggers the next major GC.
    pub(super) fn old_gen_limit(&self) -> usize {
        self.old_gen_limit
    }

    /// Has an old generation of `old_gen` bytes reached the limit?
    pub(super) fn reached_limit(&self, old_gen: usize) -> bool {
        old_gen >= self.old_gen_limit
    }

    /// While marking runs: has the old generation passed its limit by so
    /// much that the cycle must be finished in a pause now (V8's
    /// `AllocationLimitOvershotByLargeMargin`)? The margin is half the limit,
    /// at least 32 MiB, and at most half of what is left to the hard limit.
    pub(super) fn overshot_by_large_margin(&self, old_gen: usize, hard_limit: usize) -> bool {
        const SMALL_HEAP_MARGIN: usize = 32 << 20;
        let margin =
            (self.old_gen_limit / 2).max(SMALL_HEAP_MARGIN).min(hard_limit.saturating_sub(self.old_gen_limit) / 2);
        old_gen >= self.old_gen_limit + margin
    }

    /// Should concurrent marking start now, with the old generation at
    /// `old_gen`? At the soft limit (three quarters of the limit), or
    /// earlier once the headroom left to the limit is no more than the
    /// schedule needs: the old generation's growth while the background
    /// markers mark `old_gen` bytes at their measured speed, over the
    /// schedule's aim ([`marking::Schedule::AIM`]), with a margin. A mutator
    /// that fills the old generation fast (a pretenuring site) thus starts
    /// marking early enough for the background markers to finish it, rather
    /// than leaving the work to its own steps. Without background markers
    /// (`background` false) only the soft limit counts: starting early would
    /// only mean more steps.
    pub(super) fn should_start_marking(&self, old_gen: usize, background: bool, now: Instant) -> bool {
        if old_gen >= self.old_gen_limit - self.old_gen_limit / 4 {
            return true;
        }
        if !background {
            return false;
        }
        let (at, size) = self.last_major;
        let ms = now.duration_since(at).as_secs_f64() * 1e3;
        let grown = old_gen.saturating_sub(size);
        if ms <= 0.0 || grown < MIN_GROWTH_FOR_RATE {
            return false;
        }
        let rate = grown as f64 / ms;
        let marking_ms = old_gen as f64 / self.background_mark_speed.unwrap_or(PRIOR_MARK_SPEED);
        let needed = START_MARGIN * marking_ms * rate / marking::Schedule::AIM;
        (self.old_gen_limit.saturating_sub(old_gen) as f64) <= needed
    }

    /// After a concurrent cycle that lasted `took` (start to finalization),
    /// in which the background markers marked `background` bytes.
    pub(super) fn record_marking_cycle(&mut self, background: usize, took: Duration) {
        let ms = took.as_secs_f64() * 1e3;
        if background >= MIN_GROWTH_FOR_RATE && ms > 0.0 {
            self.background_mark_speed = smooth(self.background_mark_speed, background as f64 / ms);
        }
    }

    /// After a major GC: next trigger at `live * factor` (live = bytes of
    /// old-generation objects after sweeping, not committed pages, which
    /// fragmentation inflates), at least a few pages above live, at most the
    /// hard limit.
    pub(super) fn update_old_gen_limit(&mut self, heap: &Heap) {
        let live = heap.old_gen_size();
        self.last_major = (Instant::now(), live);
        let grown = (live as f64 * heap.config.old_gen_growth_factor) as usize;
        self.old_gen_limit = grown
            .max(live + MIN_LIMIT_STEP)
            .max(heap.config.initial_old_space_size.min(heap.hard_limit))
            .min(heap.hard_limit);
    }

    /// Semi-space sizing after a GC that handled `allocated` young bytes.
    /// V8's rules: double (up to the maximum) once more bytes survived
    /// scavenges since the last resize than a semi-space holds; shrink toward
    /// the minimum when the mutator allocates slowly (under 1 KB/ms). On top
    /// of them, the pause budget: no more young bytes than a scavenge can
    /// take within `pause_target` (but at least the minimum). While fast
    /// promotion is on, the maximum (a promotion by pages costs the same
    /// whatever it promotes). Takes effect now.
    pub(super) fn resize_new_space(&mut self, heap: &mut Heap, allocated: usize, s: &ScavengeStats) {
        let now = Instant::now();
        let ms = now.duration_since(self.last_scavenge).as_secs_f64() * 1e3;
        self.last_scavenge = now;
        let survived = s.survived;
        self.survived_since_resize += survived;
        let cap = heap.new_space.capacity();
        let (min, max) = (heap.config.min_semi_space_size, heap.config.max_semi_space_size);
        let target = if self.fast_promotion() {
            max
        } else {
            let mut proposed = cap;
            if self.survived_since_resize > cap && cap < max {
                proposed = (cap * 2).min(max);
            } else if cap > min && ms > 0.0 && (allocated as f64 / ms) < LOW_ALLOCATION_RATE {
                proposed = (2 * survived).next_power_of_two().clamp(min, cap);
            }
            let budget = self.young_bytes_within(heap.config.pause_target) / PAGE_SIZE * PAGE_SIZE;
            proposed.min(budget).clamp(min, max)
        };
        if target != cap {
            heap.new_space.set_capacity(target);
            self.survived_since_resize = 0;
            heap.new_space.apply_capacity(&mut heap.pool);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prediction_follows_the_measured_fixed_part_speed_and_survival() {
        let mut c = Controller::new(1 << 24);
        let mib = 1 << 20;
        // Before any measurement: everything survives at the prior speed.
        assert_eq!(c.predict_scavenge(mib), Duration::from_secs_f64(mib as f64 / PRIOR_SPEED / 1e3));
        // A scavenge of 4 MiB that copied 1 MiB in 3 ms, 1 ms of it fixed:
        // half a MiB per ms, a quarter survives.
        c.record_scavenge(4 * mib, mib, Duration::from_millis(3), Duration::from_millis(1));
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        assert!((ms(c.predict_scavenge(4 * mib)) - 3.0).abs() < 1e-9);
        assert!((ms(c.predict_scavenge(8 * mib)) - 5.0).abs() < 1e-9);
        // Later measurements move the estimates part of the way.
        c.record_scavenge(4 * mib, 4 * mib, Duration::from_millis(9), Duration::from_millis(1));
        let predicted = ms(c.predict_scavenge(4 * mib));
        assert!(predicted > 3.0 && predicted < 9.0, "{predicted}");
    }

    #[test]
    fn marking_starts_early_when_the_old_generation_grows_faster_than_background_marking_would_finish() {
        let mib = 1 << 20;
        let t0 = Instant::now();
        let mut c = Controller::new(100 * mib);
        c.last_major = (t0, 40 * mib);
        c.background_mark_speed = Some(100.0 * 1024.0); // 100 MB/s
                                                        // 10 MiB grown in 1 s: marking 50 MiB takes about 0.5 s, in which it
                                                        // grows by about 5 MiB; the schedule wants that within half the
                                                        // headroom, with a margin: about 16 MiB. 50 MiB left: not yet.
        assert!(!c.should_start_marking(50 * mib, true, t0 + Duration::from_secs(1)));
        // The same growth in 20 ms (500 MiB/s): 0.5 s of marking needs about
        // 770 MiB of headroom; 50 MiB is left, so marking starts now.
        assert!(c.should_start_marking(50 * mib, true, t0 + Duration::from_millis(20)));
        // Without background markers, only the soft limit starts it.
        assert!(!c.should_start_marking(50 * mib, false, t0 + Duration::from_millis(20)));
        // The soft limit always starts it.
        assert!(c.should_start_marking(75 * mib, true, t0 + Duration::from_secs(100)));
        // Too little growth to measure a rate: only the soft limit.
        assert!(!c.should_start_marking(40 * mib + mib / 2, true, t0 + Duration::from_micros(1)));
    }

    #[test]
    fn a_cycle_teaches_the_background_marking_speed() {
        let mut c = Controller::new(1 << 30);
        c.record_marking_cycle(64 << 20, Duration::from_millis(100));
        assert_eq!(c.background_mark_speed, Some((64 << 20) as f64 / 100.0));
        // A cycle in which the workers marked next to nothing teaches nothing.
        c.record_marking_cycle(1000, Duration::from_millis(100));
        assert_eq!(c.background_mark_speed, Some((64 << 20) as f64 / 100.0));
    }

    #[test]
    fn marking_may_overshoot_the_limit_by_half_of_it_at_least_32_mib_within_the_hard_limit() {
        let mib = 1 << 20;
        let c = Controller::new(100 * mib);
        let hard = 2048 * mib;
        assert!(!c.overshot_by_large_margin(149 * mib, hard));
        assert!(c.overshot_by_large_margin(150 * mib, hard));
        let small = Controller::new(16 * mib);
        assert!(!small.overshot_by_large_margin(47 * mib, hard), "at least 32 MiB");
        assert!(small.overshot_by_large_margin(48 * mib, hard));
        // Near the hard limit: half of what is left.
        assert!(c.overshot_by_large_margin(110 * mib, 120 * mib));
        assert!(!c.overshot_by_large_margin(109 * mib, 120 * mib));
    }

    #[test]
    fn the_budget_bounds_the_young_bytes_by_the_measured_model() {
        let mut c = Controller::new(1 << 24);
        let mib = 1 << 20;
        // Before any measurement: everything survives at the prior speed.
        let prior = c.young_bytes_within(Duration::from_millis(1));
        assert_eq!(prior, PRIOR_SPEED as usize);
        // 4 MiB scavenged, 1 MiB copied in 3 ms, 1 ms fixed: 0.5 MiB/ms, a
        // quarter survives; 2 ms of a 3 ms budget past the fixed part take
        // 4 MiB at that rate, but should everything survive, 4 MiB would
        // take 9 ms, over twice the budget: 2.5 MiB (5 ms at 0.5 MiB/ms).
        c.record_scavenge(4 * mib, mib, Duration::from_millis(3), Duration::from_millis(1));
        let bytes = c.young_bytes_within(Duration::from_millis(3));
        assert!(bytes.abs_diff(5 * mib / 2) < 16, "{bytes}");
        // With less of the budget past the fixed part, the survival rate is
        // the bound: 0.25 ms of a 1.25 ms budget take 0.5 MiB at a quarter
        // surviving (everything surviving, 0.75 MiB would fit 2.5 ms).
        let bytes = c.young_bytes_within(Duration::from_micros(1250));
        assert!(bytes.abs_diff(mib / 2) < 16, "{bytes}");
        // A budget the fixed part alone exceeds takes nothing.
        assert_eq!(c.young_bytes_within(Duration::from_micros(500)), 0);
    }

    #[test]
    fn fast_promotion_goes_on_at_90_percent_of_capacity_copied() {
        let platform = crate::Platform::new(0).unwrap();
        let isolate = crate::Isolate::new(&platform, crate::HeapConfig::default()).unwrap();
        let heap = &isolate.heap;
        let mut c = Controller::new(1 << 24);
        c.after_minor_scavenge(heap, 1 << 20, (1 << 20) * 89 / 100);
        assert!(!c.fast_promotion());
        c.after_minor_scavenge(heap, 1 << 20, (1 << 20) * 91 / 100);
        assert!(c.fast_promotion());
        // A fixed number of fast promotions, then a scavenge measures again.
        let mut heap_c = c;
        let mut promotions = 0;
        while heap_c.young_gc(heap) == YoungGc::PromotePages {
            promotions += 1;
        }
        assert_eq!(promotions, FAST_PROMOTIONS_PER_PROBE);
        assert!(!heap_c.fast_promotion());
        // Off by configuration: never.
        let off =
            crate::Isolate::new(&platform, crate::HeapConfig { fast_promotion: false, ..Default::default() }).unwrap();
        let mut c = Controller::new(1 << 24);
        c.after_minor_scavenge(&off.heap, 1 << 20, 1 << 20);
        assert!(!c.fast_promotion());
    }

    #[test]
    fn a_scavenge_that_copied_almost_nothing_leaves_the_speed_alone() {
        let mut c = Controller::new(1 << 24);
        c.record_scavenge(1 << 20, 64, Duration::from_millis(2), Duration::from_millis(1));
        assert_eq!(c.scavenge_speed, None);
        assert!(c.fixed_ms.is_some() && c.survival.is_some());
    }
}

//! The pause report: GC counts, pause percentiles, minimum mutator
//! utilization, step latencies and peak heap of one run, computed from the
//! isolate's [`GcEvent`]s and the run's wall-clock interval.
//!
//! **Percentiles** are nearest-rank: the `p`-th percentile of `n` sorted
//! values is the value at rank `ceil(p / 100 * n)` (1-based), always one of
//! the samples, so `p50 <= p99 <= max` holds by construction.
//!
//! **Minimum mutator utilization** (Cheng and Blelloch, PLDI 2001; see
//! `papers/cheng-blelloch-2001-mmu.md`): the utilization of a time window is
//! the share of it in which the mutator ran, i.e. not inside a GC pause;
//! `MMU(w)` is the smallest utilization of any window of width `w` inside the
//! run. [`Mmu`] computes it exactly from the pause intervals: the time in
//! pauses of the window `[t, t + w]` is piecewise linear in `t` and is
//! largest where the window starts at a pause's start or ends at a pause's
//! end (or touches the run's edges), so only those `O(n)` windows are
//! evaluated, each in `O(log n)` with prefix sums. No window wider than the
//! run fits in it: `MMU` of such a width is undefined (`None`).
//!
//! MMU is not monotone in `w` in general (two 1 ms pauses 1 ms apart give
//! `MMU(2 ms) = 1/2` but `MMU(3 ms) = 1/3`), but `MMU(k w) >= MMU(w)` for
//! every integer `k`: a window of `k w` is `k` windows of `w`, each paused at
//! most `(1 - MMU(w)) w`. So the reported 1, 10 and 100 ms figures are
//! non-decreasing wherever they are defined.

use crate::{GcEvent, GcKind, GcReason, Phase};
use std::time::Duration;

/// The nearest-rank `p`-th percentile (`0 < p <= 100`) of `sorted`
/// (ascending); `None` if it is empty.
pub fn percentile<T: Copy>(sorted: &[T], p: f64) -> Option<T> {
    assert!(p > 0.0 && p <= 100.0, "percentile {p} outside (0, 100]");
    if sorted.is_empty() {
        return None;
    }
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// Count, sum and distribution of a set of pauses.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct PauseStats {
    /// How many.
    pub count: usize,
    /// Their sum.
    pub total: Duration,
    /// Median (`None` when there are none).
    pub p50: Option<Duration>,
    /// 99th percentile.
    pub p99: Option<Duration>,
    /// Longest.
    pub max: Option<Duration>,
}

impl PauseStats {
    /// The statistics of `pauses` (in any order).
    pub fn of(pauses: impl IntoIterator<Item = Duration>) -> PauseStats {
        let mut v: Vec<Duration> = pauses.into_iter().collect();
        v.sort_unstable();
        PauseStats {
            count: v.len(),
            total: v.iter().sum(),
            p50: percentile(&v, 50.0),
            p99: percentile(&v, 99.0),
            max: v.last().copied(),
        }
    }
}

/// Latency distribution of a workload's steps (splay).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LatencyStats {
    /// Steps measured.
    pub count: usize,
    /// 99th percentile.
    pub p99: Option<Duration>,
    /// 99.9th percentile.
    pub p999: Option<Duration>,
    /// Slowest step.
    pub max: Option<Duration>,
}

impl LatencyStats {
    /// The statistics of `latencies` (in any order).
    pub fn of(latencies: &[Duration]) -> LatencyStats {
        let mut v = latencies.to_vec();
        v.sort_unstable();
        LatencyStats { count: v.len(), p99: percentile(&v, 99.0), p999: percentile(&v, 99.9), max: v.last().copied() }
    }
}

/// Who did a run's marking: the background workers (concurrently, outside
/// any pause) or the isolate's thread (marking steps, and marking inside
/// major-GC pauses), and how many cycles the old generation's limit forced
/// to an end.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MarkingTotals {
    /// Bytes the background workers marked (`GcEvent::background_marked_bytes`).
    pub background_bytes: usize,
    /// Bytes marked by marking steps on the isolate's thread.
    pub step_bytes: usize,
    /// Bytes marked inside major-GC pauses (finalizations and atomic GCs).
    pub pause_bytes: usize,
    /// Major GCs the old generation's limit forced: concurrent cycles
    /// finalized after it was reached ([`GcReason::MarkingAtLimit`]), and
    /// full GCs for it ([`GcReason::OldGenerationLimit`]; in stop-the-world
    /// mode that is every ordinary major GC).
    pub forced: usize,
}

impl MarkingTotals {
    /// The totals of `events`.
    pub fn of<'e>(events: impl IntoIterator<Item = &'e GcEvent>) -> MarkingTotals {
        let mut t = MarkingTotals::default();
        for e in events {
            t.background_bytes += e.background_marked_bytes;
            match e.kind {
                GcKind::MarkingStep => t.step_bytes += e.marked_bytes,
                GcKind::Major => t.pause_bytes += e.marked_bytes,
                _ => {}
            }
            if e.kind == GcKind::Major && matches!(e.reason, GcReason::MarkingAtLimit | GcReason::OldGenerationLimit) {
                t.forced += 1;
            }
        }
        t
    }

    /// The background workers' share of all marking (`None` before any).
    pub fn background_share(&self) -> Option<f64> {
        let all = self.background_bytes + self.step_bytes + self.pause_bytes;
        (all > 0).then(|| self.background_bytes as f64 / all as f64)
    }

    /// The marking steps' share of all marking: what the mutator's thread
    /// marked between pauses of its own (`None` before any).
    pub fn step_share(&self) -> Option<f64> {
        let all = self.background_bytes + self.step_bytes + self.pause_bytes;
        (all > 0).then(|| self.step_bytes as f64 / all as f64)
    }
}

/// What the scavenges of a run (minor GCs and a major GC's own) did, summed:
/// the scavenger's speed, and how much of its time the remembered set took.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ScavengeTotals {
    /// Scavenges.
    pub count: usize,
    /// Bytes they moved: copied within new space plus promoted.
    pub moved_bytes: usize,
    /// Time in their scavenge phases.
    pub time: Duration,
    /// Their fixed parts (`GcEvent::scavenge_roots`: roots and remembered
    /// set), summed.
    pub roots: Duration,
    /// Their remembered-set parts (`GcEvent::scavenge_old_to_new`), summed.
    pub old_to_new: Duration,
    /// The longest remembered-set part of any one scavenge.
    pub old_to_new_max: Duration,
    /// OLD_TO_NEW slots visited, summed.
    pub old_to_new_slots: usize,
}

impl ScavengeTotals {
    /// The totals of the scavenges among `events`.
    pub fn of<'e>(events: impl IntoIterator<Item = &'e GcEvent>) -> ScavengeTotals {
        let mut t = ScavengeTotals::default();
        for e in events {
            let time: Duration = e.phases.iter().filter(|(p, _)| *p == Phase::Scavenge).map(|(_, d)| *d).sum();
            if time.is_zero() {
                continue;
            }
            t.count += 1;
            t.moved_bytes += e.survived_bytes + e.promoted_bytes;
            t.time += time;
            t.roots += e.scavenge_roots;
            t.old_to_new += e.scavenge_old_to_new;
            t.old_to_new_max = t.old_to_new_max.max(e.scavenge_old_to_new);
            t.old_to_new_slots += e.scavenge_old_to_new_slots;
        }
        t
    }

    /// Bytes moved per millisecond of scavenging (`None` before any).
    pub fn bytes_per_ms(&self) -> Option<f64> {
        (!self.time.is_zero()).then(|| self.moved_bytes as f64 / (self.time.as_secs_f64() * 1e3))
    }
}

/// Exact minimum mutator utilization over one run.
#[derive(Clone, Debug)]
pub struct Mmu {
    /// Run start and end, seconds.
    run: (f64, f64),
    /// Disjoint pause intervals inside the run, sorted, seconds.
    pauses: Vec<(f64, f64)>,
    /// `prefix[i]`: total length of `pauses[..i]`.
    prefix: Vec<f64>,
}

impl Mmu {
    /// The utilization function of a run from `run.0` to `run.1` with the
    /// given pauses (`(start, length)`, on the same clock, in any order).
    /// Pauses are clipped to the run; overlapping ones are merged.
    pub fn new(run: (Duration, Duration), pauses: impl IntoIterator<Item = (Duration, Duration)>) -> Mmu {
        let (s, e) = (run.0.as_secs_f64(), run.1.as_secs_f64().max(run.0.as_secs_f64()));
        let mut v: Vec<(f64, f64)> = pauses
            .into_iter()
            .map(|(start, len)| (start.as_secs_f64(), (start + len).as_secs_f64()))
            .map(|(a, b)| (a.max(s), b.min(e)))
            .filter(|(a, b)| b > a)
            .collect();
        v.sort_by(|x, y| x.0.total_cmp(&y.0));
        let mut pauses: Vec<(f64, f64)> = Vec::with_capacity(v.len());
        for (a, b) in v {
            match pauses.last_mut() {
                Some(last) if a <= last.1 => last.1 = last.1.max(b),
                _ => pauses.push((a, b)),
            }
        }
        let mut prefix = Vec::with_capacity(pauses.len() + 1);
        prefix.push(0.0);
        for &(a, b) in &pauses {
            prefix.push(prefix.last().copied().unwrap_or(0.0) + (b - a));
        }
        Mmu { run: (s, e), pauses, prefix }
    }

    /// Length of the run.
    pub fn run_length(&self) -> Duration {
        Duration::from_secs_f64(self.run.1 - self.run.0)
    }

    /// Total time in pauses within the run.
    pub fn total_pause(&self) -> Duration {
        Duration::from_secs_f64(self.prefix.last().copied().unwrap_or(0.0))
    }

    /// Time in pauses within `[a, b]`, seconds.
    fn busy(&self, a: f64, b: f64) -> f64 {
        // First pause ending after `a`, first starting at or after `b`.
        let i = self.pauses.partition_point(|p| p.1 <= a);
        let j = self.pauses.partition_point(|p| p.0 < b);
        if i >= j {
            return 0.0;
        }
        let mut t = self.prefix[j] - self.prefix[i];
        t -= (a - self.pauses[i].0).max(0.0);
        t -= (self.pauses[j - 1].1 - b).max(0.0);
        t.max(0.0)
    }

    /// The most pause time in any window of `w` seconds inside the run
    /// (`w` no wider than the run).
    fn max_busy(&self, w: f64) -> f64 {
        let (s, e) = self.run;
        // (`max`: `e - w` may round below `s` when `w` is the whole run.)
        let last = (e - w).max(s);
        let clamp = |t: f64| t.clamp(s, last);
        let mut best = self.busy(s, s + w).max(self.busy(last, e));
        for &(a, b) in &self.pauses {
            for t in [clamp(a), clamp(b - w)] {
                best = best.max(self.busy(t, t + w));
            }
        }
        best.min(w)
    }

    /// `MMU(window)`: the least share of any `window`-wide stretch of the
    /// run left to the mutator, in `[0, 1]`; `None` if the window is wider
    /// than the run (none fits).
    pub fn at(&self, window: Duration) -> Option<f64> {
        let len = self.run.1 - self.run.0;
        let w = window.as_secs_f64();
        if w > len {
            return None;
        }
        if w <= 0.0 {
            // An instant inside a pause has utilization 0.
            return Some(if self.pauses.is_empty() { 1.0 } else { 0.0 });
        }
        Some((1.0 - self.max_busy(w) / w).clamp(0.0, 1.0))
    }

    /// `(window, MMU)` for each of `windows` that fits in the run.
    pub fn curve(&self, windows: &[Duration]) -> Vec<(Duration, f64)> {
        windows.iter().filter_map(|&w| Some((w, self.at(w)?))).collect()
    }
}

/// `n` window widths spaced evenly on a log scale from `from` to `to`.
pub fn log_windows(from: Duration, to: Duration, n: usize) -> Vec<Duration> {
    let (a, b) = (from.as_secs_f64().ln(), to.as_secs_f64().ln());
    (0..n).map(|i| Duration::from_secs_f64((a + (b - a) * i as f64 / (n.max(2) - 1) as f64).exp())).collect()
}

/// The window widths the report gives the MMU at: 1, 10 and 100 ms.
pub const MMU_WINDOWS: [Duration; 3] =
    [Duration::from_millis(1), Duration::from_millis(10), Duration::from_millis(100)];

/// Every figure of one run.
#[derive(Clone, Debug)]
pub struct Report {
    /// Wall-clock time of the run.
    pub wall: Duration,
    /// Scavenges during the isolate's life.
    pub minor_gcs: u64,
    /// Full GCs during the isolate's life.
    pub major_gcs: u64,
    /// Every pause.
    pub all: PauseStats,
    /// Scavenge pauses.
    pub minor: PauseStats,
    /// Pauses of major-GC work: atomic full GCs, and in concurrent mode the
    /// incremental marking start, steps and finalization, and the lazy
    /// sweeping steps.
    pub major: PauseStats,
    /// `MMU` at 1, 10 and 100 ms ([`MMU_WINDOWS`]); `None` for a window
    /// longer than the run.
    pub mmu: [Option<f64>; 3],
    /// Step latencies (splay; `count` 0 for the others).
    pub steps: LatencyStats,
    /// Most bytes of pages the heap ever held.
    pub peak_committed: usize,
    /// The scavenges' speed and remembered-set share.
    pub scavenges: ScavengeTotals,
    /// Who marked, and the cycles the limit forced.
    pub marking: MarkingTotals,
}

impl Report {
    /// The report of a run from `interval.0` to `interval.1` (on the events'
    /// clock: since the isolate was created). `counts` is
    /// `Isolate::gc_counts()` (it differs from the events only if the
    /// isolate's bounded history dropped some).
    pub fn new(
        events: &[GcEvent],
        interval: (Duration, Duration),
        counts: (u64, u64),
        step_latencies: &[Duration],
        peak_committed: usize,
    ) -> Report {
        let of =
            |keep: &dyn Fn(GcKind) -> bool| PauseStats::of(events.iter().filter(|e| keep(e.kind)).map(|e| e.pause));
        let mmu = Mmu::new(interval, events.iter().map(|e| (e.start, e.pause)));
        Report {
            wall: interval.1.saturating_sub(interval.0),
            minor_gcs: counts.0,
            major_gcs: counts.1,
            all: of(&|_| true),
            minor: of(&|k| k == GcKind::Minor),
            // Every pause of major-GC work: atomic GCs, and in concurrent
            // mode the marking start, steps and finalization, and the lazy
            // sweeping steps.
            major: of(&|k| k != GcKind::Minor),
            mmu: MMU_WINDOWS.map(|w| mmu.at(w)),
            steps: LatencyStats::of(step_latencies),
            peak_committed,
            scavenges: ScavengeTotals::of(events),
            marking: MarkingTotals::of(events),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: f64) -> Duration {
        Duration::from_secs_f64(v / 1e3)
    }

    /// A run of `len` ms with pauses `(start, length)` in ms.
    fn mmu(len: f64, pauses: &[(f64, f64)]) -> Mmu {
        Mmu::new((ms(0.0), ms(len)), pauses.iter().map(|&(s, l)| (ms(s), ms(l))))
    }

    fn close(a: Option<f64>, b: f64) -> bool {
        a.is_some_and(|a| (a - b).abs() < 1e-9)
    }

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<u32> = (1..=100).collect();
        assert_eq!(percentile(&v, 50.0), Some(50));
        assert_eq!(percentile(&v, 99.0), Some(99));
        assert_eq!(percentile(&v, 99.9), Some(100));
        assert_eq!(percentile(&v, 100.0), Some(100));
        assert_eq!(percentile(&[7], 50.0), Some(7));
        assert_eq!(percentile(&[1, 2], 50.0), Some(1));
        assert_eq!(percentile(&[1, 2, 3], 50.0), Some(2));
        assert_eq!(percentile::<u32>(&[], 50.0), None);
    }

    #[test]
    fn pause_stats_of_a_hand_made_list() {
        let s = PauseStats::of([5, 1, 3, 2, 4].map(|m| ms(m as f64)));
        assert_eq!(s.count, 5);
        assert_eq!(s.total, ms(15.0));
        assert_eq!((s.p50, s.p99, s.max), (Some(ms(3.0)), Some(ms(5.0)), Some(ms(5.0))));
        assert_eq!(PauseStats::of([]), PauseStats::default());
    }

    #[test]
    fn mmu_of_one_pause() {
        // 100 ms run, one 5 ms pause at 10 ms.
        let m = mmu(100.0, &[(10.0, 5.0)]);
        assert!(close(m.at(ms(1.0)), 0.0));
        assert!(close(m.at(ms(5.0)), 0.0));
        assert!(close(m.at(ms(10.0)), 0.5));
        assert!(close(m.at(ms(50.0)), 0.9));
        assert!(close(m.at(ms(100.0)), 0.95));
        assert_eq!(m.at(ms(100.1)), None, "no window wider than the run fits in it");
    }

    #[test]
    fn mmu_of_no_pause_is_one() {
        let m = mmu(50.0, &[]);
        for w in [0.1, 1.0, 10.0, 50.0] {
            assert!(close(m.at(ms(w)), 1.0));
        }
    }

    #[test]
    fn mmu_is_not_monotone_but_is_at_integer_multiples() {
        // Two 1 ms pauses with a 1 ms gap: the worst 2 ms window holds 1 ms of
        // pause, the worst 3 ms window 2 ms.
        let m = mmu(10.0, &[(0.0, 1.0), (2.0, 1.0)]);
        assert!(close(m.at(ms(1.0)), 0.0));
        assert!(close(m.at(ms(2.0)), 0.5));
        assert!(close(m.at(ms(3.0)), 1.0 / 3.0));
        assert!(close(m.at(ms(4.0)), 0.5));
        assert!(close(m.at(ms(6.0)), 4.0 / 6.0));
        assert!(m.at(ms(6.0)) >= m.at(ms(3.0)) && m.at(ms(4.0)) >= m.at(ms(2.0)));
        assert!(close(m.at(ms(0.0)), 0.0), "an instant inside a pause");
    }

    #[test]
    fn mmu_finds_the_worst_window_between_pauses() {
        // Pauses of 2 ms every 10 ms (at 5, 15, …, 95) in a 100 ms run: any
        // 10 ms window holds exactly 2 ms of pause; the worst 20 ms window 4
        // ms; a 12 ms window can hold two whole pauses (4 ms).
        let pauses: Vec<(f64, f64)> = (0..10).map(|i| (5.0 + 10.0 * i as f64, 2.0)).collect();
        let m = mmu(100.0, &pauses);
        assert!(close(m.at(ms(10.0)), 0.8));
        assert!(close(m.at(ms(20.0)), 0.8));
        assert!(close(m.at(ms(12.0)), 1.0 - 4.0 / 12.0));
        assert!(close(m.at(ms(100.0)), 0.8));
        assert!(close(m.at(ms(1.0)), 0.0));
    }

    #[test]
    fn pauses_are_clipped_to_the_run_and_merged() {
        // Run 10..110 ms; a pause straddling its start counts 2 ms of 4, one
        // after its end not at all; two overlapping pauses count once.
        let m = Mmu::new(
            (ms(10.0), ms(110.0)),
            [(8.0, 4.0), (200.0, 50.0), (50.0, 4.0), (52.0, 4.0)].map(|(s, l)| (ms(s), ms(l))),
        );
        assert!(close(Some(m.total_pause().as_secs_f64() * 1e3), 8.0));
        assert!(close(Some(m.run_length().as_secs_f64() * 1e3), 100.0));
        assert!(close(m.at(ms(100.0)), 0.92));
        assert!(close(m.at(ms(6.0)), 0.0));
        assert!(close(m.at(ms(12.0)), 0.5));
        assert!(close(m.at(ms(4.0)), 0.0));
    }

    #[test]
    fn log_windows_span_the_range() {
        let w = log_windows(ms(0.1), ms(1000.0), 5);
        let got: Vec<f64> = w.iter().map(|d| d.as_secs_f64() * 1e3).collect();
        for (g, want) in got.iter().zip([0.1, 1.0, 10.0, 100.0, 1000.0]) {
            assert!((g / want - 1.0).abs() < 1e-6, "{got:?}");
        }
    }
}

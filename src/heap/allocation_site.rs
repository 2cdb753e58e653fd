//! Allocation sites: per-site pretenuring feedback, as V8 keeps it
//! (`AllocationSite`, `AllocationMemento`, `PretenuringHandler`; see
//! `papers/v8-pretenuring.md`).
//!
//! A runtime creates one [`AllocationSite`] per allocation site of its
//! code and passes it to the `_at` allocation calls of
//! [`crate::HandleScope`]. While a site is not tenured, each regular young
//! object allocated through it is followed by an *allocation memento*: a
//! two-word object (the read-only memento map, then the site's index as a
//! raw word). The memento keeps pages iterable (it is sized by its map, has
//! no tagged fields, nothing points to it) and dies with the scavenge that
//! follows. The scavenger counts, per task, the mementos found behind the
//! objects it evacuates; the driver merges the counts and digests them
//! after the GC ([`AllocationSites::digest`]).
//!
//! Sites live in the isolate's registry until the isolate is dropped (a
//! site handle is a `Copy` index, like V8's sites, which die only with
//! their code): each costs [`SITE_BYTES`] plus its name.

use std::collections::HashMap;

/// Minimum objects created through a site in a period before it is
/// decided (V8's `kPretenureMinimumCreated`).
pub const PRETENURE_MIN_CREATED: u32 = 100;
/// Found/created ratio at or above which a site is tenured (V8's
/// `kPretenureRatio`).
pub const PRETENURE_RATIO: f64 = 0.85;
/// Old-generation survival rate of a major GC below which every tenured
/// site goes back to young allocation (V8's `kHighSurvivalRateThreshold`
/// side of `ResetPretenuringFeedback`/deopt: 10%).
pub const UNTENURE_SURVIVAL: f64 = 0.10;
/// Bytes of an allocation memento: the memento map, the site index.
pub(crate) const MEMENTO_BYTES: usize = 2 * super::WORD;
/// Bytes of the registry per site, its name's bytes not counted.
pub const SITE_BYTES: usize = std::mem::size_of::<Site>();

/// A site of allocation in the runtime's code: where objects with a
/// common fate are created. Made by
/// [`crate::HandleScope::new_allocation_site`]; valid only with the
/// isolate that made it (another isolate panics).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AllocationSite {
    pub(crate) isolate: u32,
    pub(crate) index: u32,
}

impl AllocationSite {
    /// Bytes the isolate's registry holds per site, the name's bytes not
    /// counted. Sites are freed with their isolate.
    pub const REGISTRY_BYTES: usize = SITE_BYTES;
}

/// What a site decided: V8's `AllocationSite::PretenureDecision`. Only
/// `Undecided` and `MaybeTenure` sites are still deciding; `DontTenure` is
/// final, and `Tenured` goes back to `Undecided` only when old-generation
/// survival collapses ([`UNTENURE_SURVIVAL`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SiteState {
    /// Counting; its objects are allocated young with a memento.
    Undecided,
    /// Its objects survived at the tenuring ratio, but new space was below
    /// [`PRETENURE_MIN_NEW_SPACE`] and could still grow to hold them, so
    /// the site keeps counting (young, with mementos) and tenures at the
    /// first such period with new space that large.
    MaybeTenure,
    /// Its objects died young at least once in a decided period: allocated
    /// young, without a memento, for good (V8's final `kDontTenure`).
    DontTenure,
    /// Its objects are allocated in old space (no memento).
    Tenured,
}

/// How an allocation through a site is made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SiteAllocation {
    /// In old space (the site is tenured).
    Old,
    /// Young, followed by a memento (the site is still deciding).
    YoungWithMemento,
    /// Young, plain (the site decided not to tenure, or the object is too
    /// large for a memento).
    Young,
}

/// New-space capacity at or above which a scavenge may tenure a site:
/// V8's `kDefaultMinNewSpaceCapacityForPretenuring` (8 MiB on 64-bit
/// without pointer compression, 4 MiB with; isogc's words are 8 bytes).
/// Below it, a high survival ratio first grows new space; the site waits in
/// [`SiteState::MaybeTenure`]. A new space that cannot grow any more (at
/// its configured maximum, or at the pause budget's bound) counts as large
/// enough: see the driver's `maximum_size_scavenge`.
pub const PRETENURE_MIN_NEW_SPACE: usize = 8 << 20;

/// A snapshot of one site, from [`crate::Isolate::allocation_sites`].
#[derive(Clone, Debug, PartialEq)]
pub struct AllocationSiteStats {
    /// The name the runtime gave it.
    pub name: String,
    /// Objects created with a memento in the current period.
    pub created: u32,
    /// Of those, found alive by a scavenge.
    pub found: u32,
    /// The decision.
    pub state: SiteState,
    /// Times the site was tenured.
    pub tenured_count: u32,
    /// Objects allocated straight into old space through the site.
    pub pretenured_objects: u64,
}

#[derive(Debug)]
pub(crate) struct Site {
    name: Box<str>,
    created: u32,
    found: u32,
    state: SiteState,
    tenured_count: u32,
    pretenured: u64,
}

/// The isolate's sites, indexed by [`AllocationSite::index`].
#[derive(Debug, Default)]
pub(crate) struct AllocationSites {
    sites: Vec<Site>,
}

impl AllocationSites {
    pub(crate) fn create(&mut self, isolate: u32, name: &str) -> AllocationSite {
        let index = u32::try_from(self.sites.len()).expect("isogc: more than u32::MAX allocation sites");
        self.sites.push(Site {
            name: name.into(),
            created: 0,
            found: 0,
            state: SiteState::Undecided,
            tenured_count: 0,
            pretenured: 0,
        });
        AllocationSite { isolate, index }
    }

    /// Where an allocation through `site` goes now (`memento_fits`: the
    /// object and a memento fit a regular page object). Counts it: as
    /// pretenured, or as created if it gets a memento.
    #[inline]
    pub(crate) fn on_allocate(&mut self, site: u32, memento_fits: bool) -> SiteAllocation {
        let s = &mut self.sites[site as usize];
        match s.state {
            SiteState::Tenured => {
                s.pretenured += 1;
                SiteAllocation::Old
            }
            SiteState::DontTenure => SiteAllocation::Young,
            SiteState::Undecided | SiteState::MaybeTenure if memento_fits => {
                s.created = s.created.saturating_add(1);
                SiteAllocation::YoungWithMemento
            }
            SiteState::Undecided | SiteState::MaybeTenure => SiteAllocation::Young,
        }
    }

    /// Number of sites (a memento's index word is below it).
    pub(crate) fn len(&self) -> usize {
        self.sites.len()
    }

    /// Adds a scavenge's per-site found counts.
    pub(crate) fn add_found(&mut self, found: &HashMap<u32, u32>) {
        for (&i, &n) in found {
            let s = &mut self.sites[i as usize];
            s.found = s.found.saturating_add(n).min(s.created);
        }
    }

    /// V8's `DigestPretenuringFeedback` with `MakePretenureDecision`,
    /// after every GC that scavenged: a still-deciding site with at least
    /// [`PRETENURE_MIN_CREATED`] creations whose found/created ratio is at
    /// least [`PRETENURE_RATIO`] is tenured if the scavenge ran at full
    /// size (`maximum_size_scavenge`), else it becomes
    /// [`SiteState::MaybeTenure`]; below the ratio it is
    /// [`SiteState::DontTenure`], for good. Its counters start a new period
    /// either way. Returns sites tenured.
    pub(crate) fn digest(&mut self, maximum_size_scavenge: bool) -> usize {
        let mut tenured = 0;
        for s in &mut self.sites {
            let deciding = matches!(s.state, SiteState::Undecided | SiteState::MaybeTenure);
            if !deciding || s.created < PRETENURE_MIN_CREATED {
                continue;
            }
            if f64::from(s.found) / f64::from(s.created) < PRETENURE_RATIO {
                s.state = SiteState::DontTenure;
            } else if maximum_size_scavenge {
                s.state = SiteState::Tenured;
                s.tenured_count += 1;
                tenured += 1;
            } else {
                s.state = SiteState::MaybeTenure;
            }
            s.created = 0;
            s.found = 0;
        }
        tenured
    }

    /// After a GC that promoted new space by pages instead of scavenging
    /// it: nobody looked for mementos, so the period's creations have no
    /// found counts to be judged by. The period is dropped (counters reset,
    /// decisions kept); the next scavenge judges a fresh one.
    pub(crate) fn skip_period(&mut self) {
        for s in &mut self.sites {
            s.created = 0;
            s.found = 0;
        }
    }

    /// After a major GC whose old-generation survival rate was below
    /// [`UNTENURE_SURVIVAL`]: every tenured site counts again from zero
    /// (V8 deoptimizes code that pretenured). Returns the sites reset.
    pub(crate) fn untenure_all(&mut self) -> usize {
        let mut n = 0;
        for s in &mut self.sites {
            if s.state == SiteState::Tenured {
                s.state = SiteState::Undecided;
                s.created = 0;
                s.found = 0;
                n += 1;
            }
        }
        n
    }

    /// The feedback of a major GC: its scavenge's mementos digested (or, if
    /// it promoted new space by pages, the period dropped), then,
    /// if less than [`UNTENURE_SURVIVAL`] of the `before` bytes of the old
    /// generation survived (`live`), every tenured site un-tenured (its
    /// objects died old: pretenuring them was wrong, V8's deopt).
    pub(crate) fn after_major(&mut self, scavenged: bool, maximum_size_scavenge: bool, before: usize, live: usize) {
        if scavenged {
            self.digest(maximum_size_scavenge);
        } else {
            self.skip_period();
        }
        if before > 0 && (live as f64) < UNTENURE_SURVIVAL * before as f64 {
            self.untenure_all();
        }
    }

    pub(crate) fn stats(&self) -> Vec<AllocationSiteStats> {
        self.sites
            .iter()
            .map(|s| AllocationSiteStats {
                name: s.name.to_string(),
                created: s.created,
                found: s.found,
                state: s.state,
                tenured_count: s.tenured_count,
                pretenured_objects: s.pretenured,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_tenures_at_the_ratio_and_resets_below_it() {
        let mut r = AllocationSites::default();
        let (a, b) = (r.create(1, "a"), r.create(1, "b"));
        for _ in 0..100 {
            assert_eq!(r.on_allocate(a.index, true), SiteAllocation::YoungWithMemento);
            assert_eq!(r.on_allocate(b.index, true), SiteAllocation::YoungWithMemento);
        }
        r.add_found(&HashMap::from([(a.index, 85), (b.index, 84)]));
        assert_eq!(r.digest(true), 1);
        let s = r.stats();
        assert_eq!((s[0].state, s[1].state), (SiteState::Tenured, SiteState::DontTenure));
        assert_eq!((s[1].created, s[1].found), (0, 0));
        assert_eq!(r.on_allocate(a.index, true), SiteAllocation::Old);
        assert_eq!(r.untenure_all(), 1);
        assert_eq!(r.stats()[0].state, SiteState::Undecided);
    }

    #[test]
    fn dont_tenure_is_final_and_makes_no_mementos() {
        let mut r = AllocationSites::default();
        let a = r.create(1, "a");
        for _ in 0..100 {
            r.on_allocate(a.index, true);
        }
        r.add_found(&HashMap::from([(a.index, 10)]));
        r.digest(true);
        assert_eq!(r.stats()[0].state, SiteState::DontTenure);
        for _ in 0..200 {
            assert_eq!(r.on_allocate(a.index, true), SiteAllocation::Young);
        }
        r.add_found(&HashMap::from([(a.index, 200)]));
        assert_eq!(r.digest(true), 0);
        assert_eq!(r.untenure_all(), 0);
        assert_eq!((r.stats()[0].state, r.stats()[0].created), (SiteState::DontTenure, 0));
    }

    #[test]
    fn a_small_new_space_makes_a_surviving_site_maybe_tenure_until_a_full_size_scavenge() {
        let mut r = AllocationSites::default();
        let a = r.create(1, "a");
        for period in 0..3 {
            for _ in 0..100 {
                assert_eq!(r.on_allocate(a.index, true), SiteAllocation::YoungWithMemento);
            }
            r.add_found(&HashMap::from([(a.index, 100)]));
            let full_size = period == 2;
            assert_eq!(r.digest(full_size), usize::from(full_size));
            let want = if full_size { SiteState::Tenured } else { SiteState::MaybeTenure };
            assert_eq!(r.stats()[0].state, want);
        }
    }

    #[test]
    fn digest_waits_for_the_minimum_created() {
        let mut r = AllocationSites::default();
        let a = r.create(1, "a");
        for _ in 0..99 {
            r.on_allocate(a.index, true);
        }
        r.add_found(&HashMap::from([(a.index, 99)]));
        assert_eq!(r.digest(true), 0);
        assert_eq!(r.stats()[0].created, 99);
    }
}

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

/// What a site decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SiteState {
    /// Counting; its objects are allocated young with a memento.
    Undecided,
    /// Decided young for the last period; still counting.
    Young,
    /// Its objects are allocated in old space (no memento).
    Tenured,
}

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

    /// Whether `site` allocates old now. Counts the allocation: as
    /// pretenured, or as created if it gets a memento.
    #[inline]
    pub(crate) fn on_allocate(&mut self, site: u32, with_memento: bool) -> bool {
        let s = &mut self.sites[site as usize];
        if s.state == SiteState::Tenured {
            s.pretenured += 1;
            true
        } else {
            if with_memento {
                s.created = s.created.saturating_add(1);
            }
            false
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

    /// V8's `DigestPretenuringFeedback`, after every GC that scavenged:
    /// a site with at least [`PRETENURE_MIN_CREATED`] creations is tenured
    /// at found/created >= [`PRETENURE_RATIO`], otherwise decided young;
    /// its counters start a new period either way. Returns sites tenured.
    pub(crate) fn digest(&mut self) -> usize {
        let mut tenured = 0;
        for s in &mut self.sites {
            if s.state == SiteState::Tenured || s.created < PRETENURE_MIN_CREATED {
                continue;
            }
            if f64::from(s.found) / f64::from(s.created) >= PRETENURE_RATIO {
                s.state = SiteState::Tenured;
                s.tenured_count += 1;
                tenured += 1;
            } else {
                s.state = SiteState::Young;
            }
            s.created = 0;
            s.found = 0;
        }
        tenured
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

    /// The feedback of a major GC: its scavenge's mementos digested, then,
    /// if less than [`UNTENURE_SURVIVAL`] of the `before` bytes of the old
    /// generation survived (`live`), every tenured site un-tenured (its
    /// objects died old: pretenuring them was wrong, V8's deopt).
    pub(crate) fn after_major(&mut self, before: usize, live: usize) {
        self.digest();
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
            assert!(!r.on_allocate(a.index, true));
            assert!(!r.on_allocate(b.index, true));
        }
        r.add_found(&HashMap::from([(a.index, 85), (b.index, 84)]));
        assert_eq!(r.digest(), 1);
        let s = r.stats();
        assert_eq!((s[0].state, s[1].state), (SiteState::Tenured, SiteState::Young));
        assert_eq!((s[1].created, s[1].found), (0, 0));
        assert!(r.on_allocate(a.index, true));
        assert_eq!(r.untenure_all(), 1);
        assert_eq!(r.stats()[0].state, SiteState::Undecided);
    }

    #[test]
    fn digest_waits_for_the_minimum_created() {
        let mut r = AllocationSites::default();
        let a = r.create(1, "a");
        for _ in 0..99 {
            r.on_allocate(a.index, true);
        }
        r.add_found(&HashMap::from([(a.index, 99)]));
        assert_eq!(r.digest(), 0);
        assert_eq!(r.stats()[0].created, 99);
    }
}

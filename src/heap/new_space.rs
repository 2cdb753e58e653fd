//! New space: two semi-spaces of pages with bump-pointer allocation.
//!
//! The mutator allocates in to-space. A scavenge flips the semi-spaces:
//! to-space becomes from-space (being evacuated), the old from-space pages are
//! reused as the new, empty to-space, and survivors are copied into it. Pages
//! stay committed between scavenges (no fresh page faults in the pause).
//!
//! The **age mark** separates survivors from newer objects: after a scavenge,
//! every to-space page records in its header where the survivors it holds
//! end. At the next scavenge an object below its page's age mark has
//! survived once already and is promoted to old space (V8's policy: promote
//! after two scavenges).

use super::old_space::Lab;
use super::page::{flags, Page, PagePool, SpaceId};
use super::stats::SpaceStats;
use super::PAGE_SIZE;

/// The young generation's semi-spaces.
pub(crate) struct NewSpace {
    pub(crate) to_pages: Vec<Page>,
    pub(crate) from_pages: Vec<Page>,
    /// Index in `to_pages` of the page being allocated in.
    pub(crate) current: usize,
    pub(crate) lab: Lab,
    /// Pages per semi-space.
    pub(crate) capacity_pages: usize,
    /// Bytes of to-space covered by fillers (collector buffers' unused
    /// tails), not counted as used.
    pub(crate) filler_bytes: usize,
    /// OLD_TO_NEW slots the last scavenge visited: what the next one expects
    /// of the remembered set (it sizes the scavenge's tasks).
    pub(crate) last_old_to_new_slots: usize,
}

impl NewSpace {
    /// A new space of `capacity` bytes per semi-space; to-space starts with
    /// one page and takes the others as the mutator fills it.
    pub(crate) fn new(capacity: usize, pool: &mut PagePool) -> Option<NewSpace> {
        let capacity_pages = (capacity / PAGE_SIZE).max(1);
        let to_pages = vec![Self::fresh_page(pool)?];
        let lab = Lab { top: to_pages[0].area_start(), limit: to_pages[0].area_end() };
        Some(NewSpace {
            to_pages,
            from_pages: Vec::new(),
            current: 0,
            lab,
            capacity_pages,
            filler_bytes: 0,
            last_old_to_new_slots: 0,
        })
    }

    /// The space's statistics.
    pub(crate) fn stats(&self) -> SpaceStats {
        SpaceStats {
            name: SpaceId::New.name(),
            used: self.used(),
            committed: self.committed(),
            available: self.capacity().saturating_sub(self.used()),
        }
    }

    /// Bytes of one semi-space.
    pub(crate) fn capacity(&self) -> usize {
        self.capacity_pages * PAGE_SIZE
    }

    /// Committed bytes (both semi-spaces).
    pub(crate) fn committed(&self) -> usize {
        (self.to_pages.len() + self.from_pages.len()) * PAGE_SIZE
    }

    /// Bytes allocated in to-space.
    pub(crate) fn used(&self) -> usize {
        self.to_pages[..self.current].iter().map(|p| p.top() - p.area_start()).sum::<usize>()
            + (self.lab.top - self.to_pages[self.current].area_start())
            - self.filler_bytes
    }

    /// Takes back the unused tail `lab` of a collector's buffer: reclaimed if
    /// it is the most recent chunk handed out, else covered by a filler.
    pub(crate) fn give_back(&mut self, lab: Lab, fillers: super::old_space::FillerMaps) {
        if lab.remaining() == 0 {
            return;
        }
        if lab.limit == self.lab.top {
            self.lab.top = lab.top;
        } else {
            fillers.fill(lab.top, lab.remaining());
            self.filler_bytes += lab.remaining();
        }
    }

    /// Bump allocation, moving to the next to-space page when one is full.
    #[inline(always)]
    pub(crate) fn allocate(&mut self, size: usize) -> Option<usize> {
        match self.lab.allocate(size) {
            Some(a) => Some(a),
            None => self.allocate_on_next_page(size),
        }
    }

    /// A page from `pool` for to-space.
    fn fresh_page(pool: &mut PagePool) -> Option<Page> {
        let p = pool.allocate(PAGE_SIZE, SpaceId::New, flags::TO_SPACE | flags::TO_HERE_INTERESTING)?;
        p.set_age_mark(p.area_start());
        Some(p)
    }

    /// Bump allocation on a page taken from `pool` now, if to-space has
    /// fewer pages than its capacity: to-space gets its pages as the mutator
    /// needs them (their first touch costs microseconds each), not in the
    /// pause that emptied it.
    #[cold]
    pub(crate) fn allocate_on_fresh_page(&mut self, size: usize, pool: &mut PagePool) -> Option<usize> {
        debug_assert_eq!(self.current + 1, self.to_pages.len(), "the pages in hand are full");
        if self.to_pages.len() >= self.capacity_pages {
            return None;
        }
        let p = Self::fresh_page(pool)?;
        self.to_pages[self.current].set_top(self.lab.top);
        self.to_pages.push(p);
        self.current += 1;
        self.lab = Lab { top: p.area_start(), limit: p.area_end() };
        self.lab.allocate(size)
    }

    #[cold]
    fn allocate_on_next_page(&mut self, size: usize) -> Option<usize> {
        while self.current + 1 < self.to_pages.len() {
            self.to_pages[self.current].set_top(self.lab.top);
            self.current += 1;
            let p = self.to_pages[self.current];
            self.lab = Lab { top: p.area_start(), limit: p.area_end() };
            if let Some(a) = self.lab.allocate(size) {
                return Some(a);
            }
        }
        None
    }

    /// A linear allocation area of at least `min` and at most `preferred`
    /// bytes of to-space for a collector task, or `None` if to-space is full.
    pub(crate) fn allocate_chunk(&mut self, min: usize, preferred: usize) -> Option<Lab> {
        loop {
            let rest = self.lab.remaining();
            if rest >= min {
                let take = rest.min(preferred.max(min));
                let start = self.lab.top;
                self.lab.top += take;
                return Some(Lab { top: start, limit: start + take });
            }
            if self.current + 1 >= self.to_pages.len() {
                return None;
            }
            self.to_pages[self.current].set_top(self.lab.top);
            self.current += 1;
            let p = self.to_pages[self.current];
            self.lab = Lab { top: p.area_start(), limit: p.area_end() };
        }
    }

    /// [`NewSpace::allocate_chunk`] for a scavenge that must keep survivors
    /// young (the old generation is at its limit): past the last to-space
    /// page it takes a page from `pool` (the pages the scavenge secured), so
    /// to-space may exceed its capacity until the next flip.
    pub(crate) fn allocate_chunk_growing(&mut self, min: usize, preferred: usize, pool: &mut PagePool) -> Option<Lab> {
        loop {
            if let Some(lab) = self.allocate_chunk(min, preferred) {
                return Some(lab);
            }
            self.to_pages.try_reserve(1).ok()?;
            let p = Self::fresh_page(pool)?;
            self.to_pages[self.current].set_top(self.lab.top);
            self.to_pages.push(p);
            self.current += 1;
            self.lab = Lab { top: p.area_start(), limit: p.area_end() };
        }
    }

    /// Sets the semi-space size for the next flip (a whole number of pages).
    pub(crate) fn set_capacity(&mut self, bytes: usize) {
        self.capacity_pages = (bytes / PAGE_SIZE).max(1);
    }

    /// Records the current page's top in its header (so pages are iterable).
    pub(crate) fn sync_top(&self) {
        self.to_pages[self.current].set_top(self.lab.top);
    }

    /// The allocated part of each to-space page: `(page, start, end)`.
    pub(crate) fn allocated_ranges(&self) -> impl Iterator<Item = (Page, usize, usize)> + '_ {
        self.sync_top();
        self.to_pages[..=self.current].iter().map(|p| (*p, p.area_start(), p.top()))
    }

    /// Swaps the semi-spaces; to-space comes back empty, with as many pages
    /// as from-space has in use (the survivors fit; if the collector's
    /// buffers leave it short, the rest is promoted), and takes more as the
    /// mutator fills it. Returns `None` only if the system is out of memory
    /// for to-space pages.
    pub(crate) fn flip(&mut self, pool: &mut PagePool) -> Option<()> {
        self.sync_top();
        let in_use = self.current + 1;
        // The pages first: a failure changes nothing.
        let want = in_use.min(self.capacity_pages);
        let have = self.from_pages.len();
        self.from_pages.try_reserve(want.saturating_sub(have)).ok()?;
        while self.from_pages.len() < want {
            match Self::fresh_page(pool) {
                Some(p) => self.from_pages.push(p),
                None => {
                    self.from_pages.drain(have..).for_each(|p| pool.release(p));
                    return None;
                }
            }
        }
        std::mem::swap(&mut self.to_pages, &mut self.from_pages);
        for p in &self.from_pages {
            p.clear_flags(flags::TO_SPACE);
            p.set_flags(flags::FROM_SPACE);
        }
        while self.to_pages.len() > self.capacity_pages {
            pool.release(self.to_pages.pop().expect("non-empty"));
        }
        for p in &self.to_pages {
            p.reset_for_to_space();
        }
        self.current = 0;
        self.filler_bytes = 0;
        let first = self.to_pages[0];
        self.lab = Lab { top: first.area_start(), limit: first.area_end() };
        Some(())
    }

    /// Committed pages that hold no object: to-space's past the current
    /// one, and from-space's.
    pub(crate) fn spare_pages(&self) -> usize {
        self.to_pages.len() - (self.current + 1) + self.from_pages.len()
    }

    /// Hands over the to-space pages that hold objects, for promotion as
    /// whole pages (their tops recorded, their flags still young: the
    /// caller makes them old), and makes the rest of to-space plus the
    /// (empty) from-space pages the new, empty to-space. Returns `None`,
    /// changing nothing, if the system is out of memory for the one page
    /// to-space needs.
    pub(crate) fn take_pages_for_promotion(&mut self, pool: &mut PagePool) -> Option<Vec<Page>> {
        self.sync_top();
        // The LAB needs a page; more come as the mutator fills it.
        let fresh = if self.spare_pages() == 0 { Some(Self::fresh_page(pool)?) } else { None };
        let taken: Vec<Page> = self.to_pages.drain(..=self.current).collect();
        let mut to_pages = std::mem::take(&mut self.to_pages);
        to_pages.append(&mut self.from_pages);
        to_pages.extend(fresh);
        while to_pages.len() > self.capacity_pages {
            pool.release(to_pages.pop().expect("non-empty"));
        }
        for p in &to_pages {
            p.reset_for_to_space();
        }
        self.to_pages = to_pages;
        self.current = 0;
        self.filler_bytes = 0;
        let first = self.to_pages[0];
        self.lab = Lab { top: first.area_start(), limit: first.area_end() };
        Some(taken)
    }

    /// Applies a smaller capacity now instead of at the next flip: gives
    /// back the empty to-space pages past the capacity (a larger capacity
    /// needs nothing: to-space takes pages as the mutator fills it).
    pub(crate) fn apply_capacity(&mut self, pool: &mut PagePool) {
        while self.to_pages.len() > self.capacity_pages.max(self.current + 1) {
            pool.release(self.to_pages.pop().expect("non-empty"));
        }
    }

    /// After a scavenge: everything in to-space now is a survivor, so the age
    /// mark of each page is its top.
    pub(crate) fn set_age_mark_to_top(&self) {
        self.sync_top();
        for (i, p) in self.to_pages.iter().enumerate() {
            p.set_age_mark(if i <= self.current { p.top() } else { p.area_start() });
        }
    }

    /// Is `addr` (an object in a from-space page) a survivor of the previous
    /// scavenge?
    #[inline(always)]
    pub(crate) fn below_age_mark(page: Page, addr: usize) -> bool {
        addr < page.age_mark()
    }
}

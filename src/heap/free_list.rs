//! Segregated free lists for paged spaces.
//!
//! Size classes follow V8's `FreeListMany` in spirit: one class per word size
//! for small blocks (2..=32 words), then one class per power of two up to a
//! page. A block in an exact class fits any request of that size; a request
//! first looks in the smallest class that is guaranteed to fit, then scans its
//! own (power-of-two) class for a block that happens to be big enough.
//!
//! Every block is also a `FreeSpace` filler object in its page (written by the
//! caller), so the page stays iterable.

use super::WORD;

/// Smallest block worth listing (two words: a `FreeSpace` header).
pub(crate) const MIN_BLOCK: usize = 2 * WORD;
const SMALL_LIMIT_WORDS: usize = 32;
const SMALL_CLASSES: usize = SMALL_LIMIT_WORDS - 1; // 2..=32 words
const LARGE_CLASSES: usize = 20;
const CLASSES: usize = SMALL_CLASSES + LARGE_CLASSES;

/// Class holding blocks of `size` bytes.
fn class_of(size: usize) -> usize {
    let words = size / WORD;
    if words <= SMALL_LIMIT_WORDS {
        words - 2
    } else {
        // Blocks of [2^k, 2^(k+1)) bytes; 2^8 = 256 B = 32 words is the edge.
        let k = usize::BITS - 1 - size.leading_zeros();
        (SMALL_CLASSES + (k as usize - 8)).min(CLASSES - 1)
    }
}

/// The smallest class all of whose blocks hold `size` bytes.
fn class_guaranteed(size: usize) -> usize {
    let words = size / WORD;
    if words <= SMALL_LIMIT_WORDS {
        words - 2
    } else {
        let c = class_of(size);
        if size.is_power_of_two() {
            c
        } else {
            c + 1
        }
    }
}

/// A space's free blocks, by size class.
#[derive(Default)]
pub(crate) struct FreeList {
    classes: Vec<Vec<(usize, usize)>>,
    available: usize,
}

impl FreeList {
    pub(crate) fn new() -> FreeList {
        FreeList { classes: (0..CLASSES).map(|_| Vec::new()).collect(), available: 0 }
    }

    /// Bytes in listed blocks.
    pub(crate) fn available(&self) -> usize {
        self.available
    }

    /// Lists a block. Returns `false` (block not listed: wasted) if it is too
    /// small to be worth listing.
    pub(crate) fn add(&mut self, start: usize, size: usize) -> bool {
        if size < MIN_BLOCK {
            return false;
        }
        self.classes[class_of(size)].push((start, size));
        self.available += size;
        true
    }

    /// Takes a block of at least `size` bytes.
    pub(crate) fn allocate(&mut self, size: usize) -> Option<(usize, usize)> {
        let size = size.max(MIN_BLOCK);
        let first = class_guaranteed(size);
        for c in first..CLASSES {
            if let Some(block) = self.classes[c].pop() {
                self.available -= block.1;
                return Some(block);
            }
        }
        // The request's own class may hold a block that is big enough.
        let own = class_of(size);
        if own < first {
            let list = &mut self.classes[own];
            if let Some(i) = list.iter().position(|&(_, s)| s >= size) {
                let block = list.swap_remove(i);
                self.available -= block.1;
                return Some(block);
            }
        }
        None
    }

    /// Keeps only the blocks whose start `keep` accepts.
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(usize) -> bool) {
        let mut available = 0;
        for list in &mut self.classes {
            list.retain(|&(start, size)| {
                let k = keep(start);
                if k {
                    available += size;
                }
                k
            });
        }
        self.available = available;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_are_monotone_and_fit() {
        let mut last = 0;
        for words in 2..20_000 {
            let size = words * WORD;
            let c = class_of(size);
            assert!(c >= last);
            last = c;
            assert!(class_guaranteed(size) >= c);
        }
    }

    #[test]
    fn allocate_returns_a_block_that_fits() {
        let mut fl = FreeList::new();
        fl.add(0x1000, 24);
        fl.add(0x2000, 600);
        fl.add(0x3000, 5000);
        assert_eq!(fl.available(), 5624);
        assert_eq!(fl.allocate(24), Some((0x1000, 24)));
        // Guaranteed-fit classes first: the 5000-byte block serves 520 bytes.
        assert_eq!(fl.allocate(520), Some((0x3000, 5000)));
        // Then the request's own class is searched for a block that fits.
        assert_eq!(fl.allocate(550), Some((0x2000, 600)));
        assert_eq!(fl.allocate(16), None);
        assert_eq!(fl.available(), 0);
        assert!(!fl.add(0x4000, 8));
    }
}

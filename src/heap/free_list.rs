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

/// A space's free blocks, by size class. Each class is a stack of
/// *segments*: the blocks one sweep of one page found in that class arrive
/// as one segment ([`FreeList::link`]), so handing a swept page's memory to
/// the allocator costs one push per class, not one per block (V8 links a
/// swept page's free-list categories the same way).
#[derive(Default)]
pub(crate) struct FreeList {
    classes: Vec<Vec<Vec<(usize, usize)>>>,
    available: usize,
}

/// Free blocks sorted into size classes away from the free list (by a
/// sweeper), ready to be linked into it in O(classes).
#[derive(Debug, Default)]
pub(crate) struct SortedBlocks {
    classes: Vec<Vec<(usize, usize)>>,
    bytes: usize,
}

impl SortedBlocks {
    pub(crate) fn new() -> SortedBlocks {
        SortedBlocks { classes: (0..CLASSES).map(|_| Vec::new()).collect(), bytes: 0 }
    }

    /// Sorts in a block. Returns `false` (block not kept: wasted) if it is
    /// too small to be worth listing.
    pub(crate) fn add(&mut self, start: usize, size: usize) -> bool {
        if size < MIN_BLOCK {
            return false;
        }
        self.classes[class_of(size)].push((start, size));
        self.bytes += size;
        true
    }

    /// Bytes in the sorted blocks.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }
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
        let class = &mut self.classes[class_of(size)];
        match class.last_mut() {
            Some(segment) => segment.push((start, size)),
            None => class.push(vec![(start, size)]),
        }
        self.available += size;
        true
    }

    /// Links sorted blocks in: one segment per non-empty class.
    pub(crate) fn link(&mut self, sorted: SortedBlocks) {
        for (class, segment) in self.classes.iter_mut().zip(sorted.classes) {
            if !segment.is_empty() {
                class.push(segment);
            }
        }
        self.available += sorted.bytes;
    }

    /// Takes the most recently listed block of class `c`.
    fn pop(&mut self, c: usize) -> Option<(usize, usize)> {
        let class = &mut self.classes[c];
        loop {
            let segment = class.last_mut()?;
            if let Some(block) = segment.pop() {
                return Some(block);
            }
            class.pop();
        }
    }

    /// Takes a block of at least `size` bytes.
    pub(crate) fn allocate(&mut self, size: usize) -> Option<(usize, usize)> {
        let size = size.max(MIN_BLOCK);
        let first = class_guaranteed(size);
        for c in first..CLASSES {
            if let Some(block) = self.pop(c) {
                self.available -= block.1;
                return Some(block);
            }
        }
        // The request's own class may hold a block that is big enough.
        let own = class_of(size);
        if own < first {
            for segment in &mut self.classes[own] {
                if let Some(i) = segment.iter().position(|&(_, s)| s >= size) {
                    let block = segment.swap_remove(i);
                    self.available -= block.1;
                    return Some(block);
                }
            }
        }
        None
    }

    /// Keeps only the blocks whose start `keep` accepts.
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(usize) -> bool) {
        let mut available = 0;
        for class in &mut self.classes {
            for segment in class.iter_mut() {
                segment.retain(|&(start, size)| {
                    let k = keep(start);
                    if k {
                        available += size;
                    }
                    k
                });
            }
            class.retain(|segment| !segment.is_empty());
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

    #[test]
    fn linked_segments_serve_allocations_and_retain() {
        let mut fl = FreeList::new();
        fl.add(0x1000, 48);
        let mut sorted = SortedBlocks::new();
        assert!(sorted.add(0x2000, 48));
        assert!(sorted.add(0x3000, 48));
        assert!(sorted.add(0x4000, 4096));
        assert!(!sorted.add(0x5000, 8), "too small to keep");
        assert_eq!(sorted.bytes(), 4192);
        fl.link(sorted);
        assert_eq!(fl.available(), 4240);
        // Blocks of the linked segment first (the newest), then the older.
        assert_eq!(fl.allocate(48), Some((0x3000, 48)));
        assert_eq!(fl.allocate(48), Some((0x2000, 48)));
        assert_eq!(fl.allocate(48), Some((0x1000, 48)));
        fl.retain(|start| start != 0x4000);
        assert_eq!(fl.available(), 0);
        assert_eq!(fl.allocate(48), None);
    }
}

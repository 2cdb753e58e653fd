//! The per-isolate string table: one internalized string per content.
//!
//! Internalized strings are allocated in old space (they are long-lived, and
//! the table then never needs updating after a scavenge). The table holds
//! them weakly: after marking, entries whose string stayed white are dropped.

use crate::object::{offsets, HeapObject};
use crate::value::Tagged;
use std::collections::HashMap;

/// The hash isogc stores in every heap string: a 64-bit hash of its UTF-8
/// bytes (eight bytes at a time, wyhash's multiply-fold step; not keyed, so
/// not a defence against chosen collisions).
/// [`crate::HandleScope::string_hash`] of a heap string with contents `s` is
/// `hash_str(s)`, so a runtime's table can file heap strings and Rust
/// strings under one hash.
pub fn hash_str(s: &str) -> u64 {
    crate::object::string_hash(s.as_bytes())
}

pub(crate) struct StringTable {
    by_hash: HashMap<u64, Vec<Tagged>>,
    len: usize,
}

impl StringTable {
    pub(crate) fn new() -> StringTable {
        StringTable { by_hash: HashMap::new(), len: 0 }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The internalized string with these bytes, if any.
    pub(crate) fn lookup(&self, hash: u64, bytes: &[u8]) -> Option<Tagged> {
        self.by_hash.get(&hash)?.iter().copied().find(|&t| {
            // SAFETY: table entries are live internalized strings (dead ones
            // are removed right after marking, before sweeping frees them).
            let s = unsafe { HeapObject::from_tagged(t) };
            s.smi_word(offsets::LENGTH) == bytes.len()
                && s.bytes(offsets::STRING_HEADER_WORDS * crate::heap::WORD, bytes.len()) == bytes
        })
    }

    pub(crate) fn insert(&mut self, hash: u64, t: Tagged) {
        self.by_hash.entry(hash).or_default().push(t);
        self.len += 1;
    }

    /// Keeps only the entries for which `keep` holds.
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(Tagged) -> bool) {
        let mut len = 0;
        self.by_hash.retain(|_, v| {
            v.retain(|&t| keep(t));
            len += v.len();
            !v.is_empty()
        });
        self.len = len;
    }

    /// Replaces every entry by `f(entry)` (compaction moved it; the hash,
    /// computed from the contents, stays).
    pub(crate) fn update(&mut self, mut f: impl FnMut(u64, Tagged) -> Tagged) {
        for (&hash, v) in self.by_hash.iter_mut() {
            for t in v.iter_mut() {
                *t = f(hash, *t);
            }
        }
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (u64, Tagged)> + '_ {
        self.by_hash.iter().flat_map(|(&h, v)| v.iter().map(move |&t| (h, t)))
    }
}

#[cfg(test)]
mod tests {
    use super::hash_str;
    use std::collections::HashSet;

    #[test]
    fn equal_contents_hash_alike_and_near_misses_differ() {
        assert_eq!(hash_str("String for key 42"), hash_str(&format!("String for key {}", 42)));
        // Zero padding of the last word must not merge lengths, and every
        // byte position of a multi-word string counts.
        let mut seen = HashSet::new();
        let mut inputs: Vec<String> = (0..=24).map(|n| "\0".repeat(n)).collect();
        inputs.extend((1..=24).map(|n| "a".repeat(n)));
        let base = "abcdefghijklmnopqrstuvwxyz0123";
        for i in 0..base.len() {
            let mut s = base.as_bytes().to_vec();
            s[i] ^= 1;
            inputs.push(String::from_utf8(s).unwrap());
        }
        inputs.push(base.to_string());
        for s in &inputs {
            assert!(seen.insert(hash_str(s)), "collision for {s:?}");
        }
    }
}

//! Tagged values: one machine word that is either a small integer or a pointer.
//!
//! The encoding follows V8's pointer tagging (see `papers/v8-pointer-tagging.md`):
//!
//! | low bits | meaning                                                     |
//! |----------|-------------------------------------------------------------|
//! | `…0`     | Smi: a 63-bit signed integer stored as `value << 1`         |
//! | `…01`    | strong pointer to a heap object: `address | 1`             |
//! | `…11`    | reserved for weak references                                 |
//! | `…10`    | forwarding address; only ever found in a *map word* while a |
//! |          | collector moves the object, never in a field                 |
//!
//! Objects are word aligned, so the low three bits of an address are free.
//! A raw [`Tagged`] that holds a pointer never leaves the crate: the runtime
//! sees heap values only through handles ([`crate::Local`], [`crate::Global`]),
//! which the collector updates when objects move.

/// Bit pattern of a strong heap-object pointer (`address | HEAP_OBJECT_TAG`).
pub(crate) const HEAP_OBJECT_TAG: usize = 0b01;
/// Mask of the two tag bits.
pub(crate) const TAG_MASK: usize = 0b11;
/// Tag of a forwarding address stored in a map word.
pub(crate) const FORWARDING_TAG: usize = 0b10;

/// One tagged word: a Smi or a heap-object pointer.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
#[repr(transparent)]
pub(crate) struct Tagged(pub(crate) usize);

impl Tagged {
    /// Encodes a Smi. The caller has range-checked `v` (see [`Smi::new`]).
    #[inline(always)]
    pub(crate) const fn from_smi(v: i64) -> Tagged {
        Tagged((v << 1) as usize)
    }

    /// Tags a heap-object address.
    #[inline(always)]
    pub(crate) fn from_address(addr: usize) -> Tagged {
        debug_assert!(addr & 7 == 0, "object address {addr:#x} is not word aligned");
        Tagged(addr | HEAP_OBJECT_TAG)
    }

    /// Is this a Smi?
    #[inline(always)]
    pub(crate) const fn is_smi(self) -> bool {
        self.0 & 1 == 0
    }

    /// Is this a strong pointer to a heap object?
    #[inline(always)]
    pub(crate) const fn is_heap_object(self) -> bool {
        self.0 & TAG_MASK == HEAP_OBJECT_TAG
    }

    /// The integer of a Smi (arithmetic shift keeps the sign).
    #[inline(always)]
    pub(crate) const fn smi_value(self) -> i64 {
        (self.0 as i64) >> 1
    }

    /// The address of the object this points to.
    #[inline(always)]
    pub(crate) const fn address(self) -> usize {
        self.0 & !TAG_MASK
    }
}

impl std::fmt::Debug for Tagged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.is_smi() {
            write!(f, "Smi({})", self.smi_value())
        } else {
            write!(f, "Ptr({:#x})", self.address())
        }
    }
}

/// A small integer stored directly in a tagged word (no allocation).
///
/// Smis hold 63-bit signed integers. Storing one into a field or reading it
/// back never allocates and never triggers a GC.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Smi(i64);

impl Smi {
    /// The largest value a Smi holds: 2^62 - 1.
    pub const MAX: i64 = (1i64 << 62) - 1;
    /// The smallest value a Smi holds: -2^62.
    pub const MIN: i64 = -(1i64 << 62);

    /// A Smi holding `v`, or `None` if `v` is outside [`Smi::MIN`, `Smi::MAX`]
    /// (box such numbers as heap numbers instead).
    pub const fn new(v: i64) -> Option<Smi> {
        if v >= Self::MIN && v <= Self::MAX {
            Some(Smi(v))
        } else {
            None
        }
    }

    /// The integer.
    pub const fn value(self) -> i64 {
        self.0
    }

    #[inline(always)]
    pub(crate) const fn tagged(self) -> Tagged {
        Tagged::from_smi(self.0)
    }
}

impl From<i32> for Smi {
    fn from(v: i32) -> Smi {
        Smi(v as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smi_round_trips_at_the_edges() {
        for v in [0, 1, -1, Smi::MAX, Smi::MIN, 12345, -98765] {
            let t = Smi::new(v).unwrap().tagged();
            assert!(t.is_smi());
            assert!(!t.is_heap_object());
            assert_eq!(t.smi_value(), v);
        }
        assert!(Smi::new(Smi::MAX + 1).is_none());
        assert!(Smi::new(Smi::MIN - 1).is_none());
    }

    #[test]
    fn heap_pointers_keep_their_address() {
        let t = Tagged::from_address(0x4000_0008);
        assert!(t.is_heap_object());
        assert!(!t.is_smi());
        assert_eq!(t.address(), 0x4000_0008);
        assert_ne!(t.0 & TAG_MASK, FORWARDING_TAG);
    }
}

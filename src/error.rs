//! Error types: configuration errors and allocation failures.

/// A [`crate::HeapConfig`] or [`crate::Platform`] setting is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The named field has an invalid value.
    #[error("invalid HeapConfig.{field}: {reason}")]
    Invalid {
        /// The field's name.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The system could not provide the memory an isolate starts with.
    #[error("could not reserve the initial heap ({0} bytes)")]
    InitialHeap(usize),
    /// The worker pool could not be built.
    #[error("could not start the GC worker pool: {0}")]
    Platform(String),
}

/// An allocation failed. The heap is intact and usable afterwards.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AllocError {
    /// The heap limit was reached even after a last-resort full GC and the
    /// near-heap-limit callback.
    #[error("out of memory: {requested} bytes requested, old generation at {old_generation} of {limit} bytes")]
    OutOfMemory {
        /// Bytes requested.
        requested: usize,
        /// Committed bytes of the old generation when the request failed.
        old_generation: usize,
        /// The hard limit in force.
        limit: usize,
    },
    /// The requested length cannot be represented (its byte size overflows
    /// or exceeds what any heap could hold).
    #[error("invalid length {length} for a {kind} (at most {max})")]
    InvalidLength {
        /// The kind of object requested.
        kind: &'static str,
        /// The length asked for.
        length: usize,
        /// The largest accepted length.
        max: usize,
    },
}

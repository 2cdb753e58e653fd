//! loom models live in `tests/`; see the README there.

#!/usr/bin/env bash
# Runs every test of the workspace, from any directory:
#   1. `cargo test --workspace`: unit, integration, proptest and doc tests
#      (first `npm ci` in tests/snapshot-consumer/, the independent heap
#      snapshot parser tests/heap_snapshot.rs runs with node, if node is here);
#   2. the loom models in loom-tests/ (see loom-tests/README.md).
# Both stages run even if the first fails; the script fails if either did.
# Extra arguments go to both `cargo test` invocations (e.g. `--locked`).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

failed=()

header() {
    printf '\n==== %s ====\n' "$1"
}

header "1/2 cargo test --workspace (unit, integration, doc tests)"
# The heap-snapshot consumer: one small npm package (no dependencies of its
# own), installed from the lock file. Without node the Rust test skips,
# saying so.
if command -v node >/dev/null && command -v npm >/dev/null; then
    if ! (cd tests/snapshot-consumer && npm ci --no-audit --no-fund --loglevel=error); then
        failed+=("npm ci in tests/snapshot-consumer")
    fi
else
    echo "node/npm not found: tests/heap_snapshot.rs will skip its independent-parser check"
fi
# --no-fail-fast: report every failing test binary, not just the first.
if ! cargo test --workspace --no-fail-fast "$@"; then
    failed+=("cargo test --workspace")
fi

header "2/2 loom models (--cfg loom, release, one test at a time)"
# `--cfg loom` goes to every crate of the build; isogc is the only one that
# reads it (its dependencies build unchanged). It is appended to any RUSTFLAGS
# already set, and the build gets its own target directory so it does not
# invalidate the normal one. `--test-threads=1`: the fault knob the broken
# twins turn on is process-wide.
if ! RUSTFLAGS="${RUSTFLAGS:+$RUSTFLAGS }--cfg loom" \
    cargo test -p loom-tests --release --target-dir target/loom --no-fail-fast "$@" -- --test-threads=1; then
    failed+=("loom models")
fi

if ((${#failed[@]})); then
    header "FAILED: ${failed[*]}"
    exit 1
fi
header "all tests passed"

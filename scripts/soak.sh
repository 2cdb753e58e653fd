#!/usr/bin/env bash
# Soak: the shadow model (tests/shadow_model.rs) in release, with many cases,
# in both GC modes and with stress compaction; prints the verified GCs per
# mode and in total, the time, and the failures.
#
#   scripts/soak.sh                  # 10000 cases per test (about 10^6 GCs)
#   SOAK_CASES=400 scripts/soak.sh   # a short soak (about 10^5 GCs)
#
# PROPTEST_RNG_SEED=<seed> replays a run (each test prints its seed). The
# stress-compaction tests run a quarter of the cases (each of their
# programs runs more, and slower, GCs).
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

cases="${SOAK_CASES:-10000}"
stress_cases=$(( cases / 4 > 0 ? cases / 4 : 1 ))
log="${SOAK_LOG:-target/soak.log}"
mkdir -p "$(dirname "$log")"
: > "$log"

cargo build --release --tests -p isogc --quiet || exit 1

start=$(date +%s)
failed=()
run() {
    local filter="$1" n="$2" out="$log.$1"
    printf '==== %s (%s cases)\n' "$filter" "$n"
    PROPTEST_CASES="$n" cargo test --release -p isogc --test shadow_model --quiet -- \
        --exact "$filter" --nocapture --test-threads=1 > "$out" 2>&1
    local rc=$?
    cat "$out" >> "$log"
    grep -E "verified GCs|aborted|finished on allocation|panicked" "$out"
    if ((rc != 0)); then
        failed+=("$filter")
    fi
}
run shadow_model::concurrent "$cases"
run shadow_model::stop_the_world "$cases"
run shadow_model_stress_compaction::concurrent "$stress_cases"
run shadow_model_stress_compaction::stop_the_world "$stress_cases"
secs=$(( $(date +%s) - start ))

total=$(grep -oE '[0-9]+ verified GCs' "$log" | awk '{s += $1} END {print s + 0}')
echo
grep -E 'verified GCs' "$log" | sed -E 's/^shadow model ([^:]+): [0-9]+ programs, ([0-9]+) verified GCs.*/\1: \2 verified GCs/'
echo "soak: $total verified GCs in ${secs}s, ${#failed[@]} failed tests${failed:+: ${failed[*]}} (log: $log)"
((${#failed[@]} == 0))

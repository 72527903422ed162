#!/usr/bin/env bash
# Sanitizer runs for tokengate (issue 10). Not part of the test command: they need a
# nightly toolchain with the `miri` and `rust-src` components, which may be missing.
#
#   scripts/sanitize.sh            # both
#   scripts/sanitize.sh miri       # Miri only
#   scripts/sanitize.sh tsan       # ThreadSanitizer only
#
# Miri runs a small set of tests under Tree Borrows with several scheduling seeds
# (MIRI_SEEDS, default "1 2 3"). ThreadSanitizer runs the soak (tests/soak.rs) for
# TSAN_SOAK_SECS seconds (default 20) with an instrumented std (-Zbuild-std).
# Separate target directories keep both away from the normal build.
set -euo pipefail
cd "$(dirname "$0")/.."

what="${1:-all}"
seeds="${MIRI_SEEDS:-1 2 3}"
target="$(rustc -vV | sed -n 's/^host: //p')"

need_nightly() {
    if ! cargo +nightly --version >/dev/null 2>&1; then
        echo "sanitize.sh: no nightly toolchain (rustup toolchain install nightly); nothing was checked" >&2
        exit 2
    fi
    for component in "$@"; do
        if ! rustup +nightly component list --installed 2>/dev/null | grep -q "^$component"; then
            echo "sanitize.sh: nightly lacks the '$component' component" \
                "(rustup +nightly component add $component); nothing was checked" >&2
            exit 2
        fi
    done
}

# Tests small enough for Miri: the token state machine, fork-join stack jobs, the
# hostile-payload and self-wait paths, and a drop inside a task.
MIRI_TESTS=(
    "--test robustness a_panic_payload_that_panics_on_drop_is_reported_not_fatal"
    "--test robustness a_task_waiting_on_its_own_token_panics"
    "--test robustness dropping_the_last_coordinator_inside_a_task_while_a_peer_waits_on_it"
    # fork_join minus its fib(20), which outlasts the tests' 20 s bound under Miri.
    "--test fork_join -- --skip recursive_join_runs_every_half_exactly_once"
)

run_miri() {
    need_nightly miri rust-src
    for seed in $seeds; do
        for t in "${MIRI_TESTS[@]}"; do
            echo "== miri (tree borrows, seed $seed): $t"
            # shellcheck disable=SC2086
            MIRIFLAGS="-Zmiri-tree-borrows -Zmiri-seed=$seed -Zmiri-ignore-leaks" \
                cargo +nightly miri test --target-dir target/miri $t
        done
    done
}

run_tsan() {
    need_nightly rust-src
    echo "== ThreadSanitizer: soak for ${TSAN_SOAK_SECS:-20} s"
    TOKENGATE_SOAK_SECS="${TSAN_SOAK_SECS:-20}" \
    RUSTFLAGS="-Zsanitizer=thread" RUSTDOCFLAGS="-Zsanitizer=thread" TSAN_OPTIONS="halt_on_error=1" \
        cargo +nightly test -Zbuild-std --target "$target" --target-dir target/tsan --release --test soak -- --nocapture
}

case "$what" in
    miri) run_miri ;;
    tsan) run_tsan ;;
    all) run_miri; run_tsan ;;
    *) echo "usage: scripts/sanitize.sh [miri|tsan|all]" >&2; exit 2 ;;
esac
echo "sanitize.sh: clean"

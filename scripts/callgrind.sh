#!/usr/bin/env bash
# Instructions per hot-path operation, counted by callgrind (repeatable on a noisy
# machine), inside examples/hotpath.rs's `probe` only, divided by the operations.
# Usage: scripts/callgrind.sh [mode ...]   (default: spawn handle join fib fibtok fibhandle rayonjoin rayonfib)
# fib modes count per call of fib(20) (21891 calls); the others per operation.
# TOKENGATE_METRICS=0 in the environment measures with metrics off.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "valgrind is not installed (apt-get install valgrind)" >&2; exit 1; }
cargo build --release --example hotpath >&2
bin=target/release/examples/hotpath
count() {
    valgrind --tool=callgrind --toggle-collect="*hotpath::probe*" --callgrind-out-file=/dev/null "$bin" "$1" "$2" 2>&1 |
        sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
modes=("$@")
[ ${#modes[@]} -gt 0 ] || modes=(spawn handle join fib fibtok fibhandle rayonjoin rayonfib)
for mode in "${modes[@]}"; do
    if [[ "$mode" == fib* || "$mode" == rayonfib ]]; then n=20; ops=21891; # calls of fib(20)
    else n=20000; ops=20000; fi
    echo "$mode: $(( $(count "$mode" "$n") / ops )) instructions per operation"
done

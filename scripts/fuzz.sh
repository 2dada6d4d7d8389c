#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/fuzz_*.c) with clang, ASan and
# UBSan, and runs each for a while from its seed corpus.
#
# usage: scripts/fuzz.sh [seconds-per-target]      (default 20)
#   NC_FUZZ_BUILD   build folder (default build-fuzz)
#   NC_FUZZ_JOBS    parallel compile jobs (default 2)
#
# New interesting inputs collect in tests/fuzz/findings/<target>/ (ignored by
# git, reused by the next run), not in the committed seeds under
# tests/fuzz/corpus/<target>/. A crash stops the script with the failing
# input saved as tests/fuzz/findings/crash-<target>-*; once fixed, copy it
# into the target's corpus folder so it stays a regression seed.
set -euo pipefail

secs="${1:-20}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${NC_FUZZ_BUILD:-$root/build-fuzz}"
jobs="${NC_FUZZ_JOBS:-2}"

if ! command -v clang >/dev/null; then
    echo "fuzz.sh: clang is required (apt-get install clang)" >&2
    exit 1
fi

targets=()
for src in "$root"/tests/fuzz/fuzz_*.c; do
    targets+=("$(basename "$src" .c)")
done

# Coverage instrumentation keeps some `omp simd` loops from vectorising;
# clang reports that as a warning, which -Werror would make fatal.
cmake -S "$root" -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Release -DNC_FUZZ=ON \
    -DCMAKE_C_FLAGS="-Wno-pass-failed" >/dev/null
cmake --build "$build" -j "$jobs" --target "${targets[@]}"

findings="$root/tests/fuzz/findings"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
status=0
for t in "${targets[@]}"; do
    corpus="$root/tests/fuzz/corpus/$t"
    mkdir -p "$findings/$t"
    echo "== $t: ${secs}s"
    if ! ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 UBSAN_OPTIONS=print_stacktrace=1 \
        "$build/fuzz/$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$findings/crash-$t-" "$findings/$t" "$corpus" 2>"$log"; then
        tail -n 60 "$log" >&2
        echo "fuzz.sh: $t failed; input saved as $findings/crash-$t-*" >&2
        status=1
        break
    fi
    grep -E "^stat::number_of_executed_units|^stat::peak_rss_mb" "$log" || true
done
exit $status

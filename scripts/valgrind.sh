#!/usr/bin/env bash
# Runs the unit tests under valgrind's memcheck: invalid reads and writes,
# uses of uninitialised values, and definite leaks fail the run.
#
# usage: scripts/valgrind.sh [regex]     (only tests whose name matches)
#   NC_VALGRIND_BUILD   build folder (default build-valgrind)
#   NC_VALGRIND_JOBS    parallel compile jobs (default 2)
#
# The build has no -march=native (valgrind cannot execute AVX-512) and keeps
# debug info for the reports. NC_REFERENCE_KERNELS=1: matmuls and convolutions
# run nemoc's plain reference kernels, which valgrind can follow, instead of
# oneDNN's JIT code (which reads whole vectors past the end of its own
# buffers, and has no symbols). Valgrind's virtual CPU has no AVX-512, so
# oneDNN offers no bf16 matmul there and nemoc emulates it (fp32 matmuls of
# bf16-rounded operands, as on any CPU without a bf16 kernel). Third-party
# noise is suppressed by tests/valgrind.supp; anything else is reported with a
# suppression stanza. Slow: a test runs 20-50x slower than natively.
set -euo pipefail

filter="${1:-.}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${NC_VALGRIND_BUILD:-$root/build-valgrind}"
jobs="${NC_VALGRIND_JOBS:-2}"

if ! command -v valgrind >/dev/null; then
    echo "valgrind.sh: valgrind is required (apt-get install valgrind)" >&2
    exit 1
fi
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNC_NATIVE=OFF >/dev/null
cmake --build "$build" -j "$jobs" >/dev/null

failed=()
total=0
for t in "$build"/tests/test_*; do
    name=$(basename "$t")
    [[ "$name" =~ $filter ]] || continue
    total=$((total + 1))
    log="$build/valgrind-$name.log"
    start=$SECONDS
    rc=0
    (cd "$build" && NC_SOURCE_DIR="$root" NC_BINARY_DIR="$build" OMP_NUM_THREADS=2 NC_REFERENCE_KERNELS=1 \
        valgrind --error-exitcode=99 --leak-check=full --show-leak-kinds=definite \
        --errors-for-leak-kinds=definite --track-origins=yes --gen-suppressions=all \
        --suppressions="$root/tests/valgrind.supp" -q "$t" >"$log" 2>&1) || rc=$?
    if [ "$rc" -eq 0 ]; then
        echo "ok    $name ($((SECONDS - start)) s)"
    elif [ "$rc" -eq 99 ]; then
        echo "FAIL  $name ($((SECONDS - start)) s): memcheck errors, see $log"
        failed+=("$name")
    else
        echo "FAIL  $name ($((SECONDS - start)) s): the test failed (exit $rc), see $log"
        failed+=("$name")
    fi
done
echo "valgrind: $((total - ${#failed[@]})) of $total unit tests clean"
[ ${#failed[@]} -eq 0 ]

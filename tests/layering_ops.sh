#!/usr/bin/env bash
# The backend seam (docs/architecture.md): op front ends in src/ops reach
# kernels only through the backend table. Fails when a file in src/ops
# includes a backend header other than the seam (backend/backend.h, and only
# from ops_internal.h), includes omp.h, or runs OpenMP (a pragma or an omp_
# call).   usage: tests/layering_ops.sh [SOURCE_DIR]
set -u
ROOT=${1:-$(cd "$(dirname "$0")/.." && pwd)}
OPS="$ROOT/src/ops"
[ -d "$OPS" ] || { echo "layering_ops: no $OPS" >&2; exit 2; }
bad=0
report() { echo "layering_ops: $1" >&2; echo "$2" >&2; bad=1; }

hits=$(grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]backend/' "$OPS"/*.c "$OPS"/*.h |
       grep -vE '^[^:]*/ops_internal\.h:[0-9]+:[[:space:]]*#[[:space:]]*include[[:space:]]*"backend/backend\.h"')
[ -n "$hits" ] && report "src/ops includes a backend header (only ops_internal.h may include backend/backend.h):" "$hits"

hits=$(grep -nE '^[[:space:]]*#[[:space:]]*pragma[[:space:]]+omp|#[[:space:]]*include[[:space:]]*<omp\.h>|\bomp_[a-z_]+[[:space:]]*\(' \
       "$OPS"/*.c "$OPS"/*.h)
[ -n "$hits" ] && report "src/ops runs OpenMP (loops belong in src/backend/<name>/):" "$hits"

[ "$bad" = 0 ] && echo "layering_ops: ok ($(ls "$OPS"/*.c "$OPS"/*.h | wc -l) files)"
exit "$bad"

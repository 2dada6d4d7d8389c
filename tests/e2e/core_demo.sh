#!/usr/bin/env bash
# `nemoc demo`: the core engine (a registered model class trained through
# the stepper) learns to reverse sequences: exit 0 only above 90% token
# accuracy on batches it did not train on.
set -euo pipefail
NEMOC=$1
out=$("$NEMOC" demo steps=300 2>&1) || { echo "$out"; echo "FAIL: nemoc demo exited non-zero"; exit 1; }
grep -q "final token accuracy" <<<"$out" || { echo "$out"; echo "FAIL: no summary"; exit 1; }
echo "$out" | tail -n 1

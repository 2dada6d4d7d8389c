#!/usr/bin/env bash
# End-to-end: the LLM benchmarks compute what their twins compute, on 1-layer
# versions of both shapes (bench/README.md, "LLM: MegatronGPTModel"):
# bench_gpt (MegatronGPTModel through nc_stepper_step) and bench/torch/gpt.py
# (Megatron-core's GPTModel in PyTorch) on the same weights and batch give the
# same first-step loss and, after one AdamW step, the same second-step loss
# (fp32 within 1e-3, bf16 within 5e-3); bench_gpt_generate (nc_gpt_generate)
# and bench/torch/gpt_generate.py (KV cache) give the same greedy ids;
# bench/llmc/llmc_files.py writes llm.c's checkpoint and token files with the
# sizes train_gpt2.c reads, and where an llm.c checkout is in bench/llm.c its
# trainer's first-step loss sits just below nemoc's (llm.c's softmax leaves
# out the 47 padded vocabulary logits). Skipped (77) without PyTorch.
# ctest-labels: slow
# ctest-skip-return-code: 77
# Usage: bench_llm_twins.sh /path/to/nemoc   (ctest passes it)
set -euo pipefail
NEMOC="${1:?usage: bench_llm_twins.sh /path/to/nemoc}"
SRC="${NC_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
BIN="$(cd "$(dirname "$NEMOC")/.." && pwd)/bench"
PY=/usr/bin/python3
"$PY" -c "import torch" 2>/dev/null || { echo "skip: no PyTorch for $PY"; exit 77; }
[ -x "$BIN/bench_gpt" ] && [ -x "$BIN/bench_gpt_generate" ] || { echo "skip: no bench programs in $BIN"; exit 77; }
TMP="$(mktemp -d "${TMPDIR:-/tmp}/nemoc-e2e-bench-llm.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
export OMP_NUM_THREADS=2
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<< "$2"; }
close() { awk -v a="$1" -v b="$2" -v t="$3" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a != "" && b != "" && d <= t) }'; }

for arch in gpt2 llama; do
    "$BIN/bench_gpt" --arch $arch --layers 1 --batch 2 --seq 16 --steps 0 --warmup 0 --save "$TMP/$arch" >/dev/null ||
        fail "bench_gpt --arch $arch --save"
    for p in 32 bf16; do
        tol=1e-3; [ $p = bf16 ] && tol=5e-3
        nl=$("$BIN/bench_gpt" --arch $arch --layers 1 --batch 2 --seq 16 --prec $p --dropout 0 --steps 2 --warmup 0 |
             grep '^result') || fail "bench_gpt --arch $arch --prec $p"
        tl=$("$PY" "$SRC/bench/torch/gpt.py" --dir "$TMP/$arch" --arch $arch --prec $p --dropout 0 --steps 2 \
             --warmup 0 | grep '^result') || fail "gpt.py --arch $arch --prec $p"
        echo "$arch $p: loss0 nemoc $(field loss0 "$nl") torch $(field loss0 "$tl"); step 2 nemoc $(field loss "$nl") torch $(field loss "$tl")"
        close "$(field loss0 "$nl")" "$(field loss0 "$tl")" $tol || fail "$arch $p first-step losses differ"
        close "$(field loss "$nl")" "$(field loss "$tl")" $tol || fail "$arch $p second-step losses differ"
    done
    "$BIN/bench_gpt_generate" --arch $arch --layers 1 --prompt 8 --new 8 --repeats 1 --save "$TMP/gen_$arch" \
        >"$TMP/gen.log" || fail "bench_gpt_generate --arch $arch"
    grep -q "limit_tok_s=[0-9]" "$TMP/gen.log" || fail "no bandwidth limit in the generation result"
    "$PY" "$SRC/bench/torch/gpt_generate.py" --dir "$TMP/gen_$arch" --arch $arch --new 8 --repeats 1 >"$TMP/tgen.log" ||
        fail "gpt_generate.py --arch $arch"
    grep "^check" "$TMP/tgen.log"
    grep -q "agree with nemoc for the first 8 of 8 tokens" "$TMP/tgen.log" || fail "$arch greedy ids differ"
done

# llm.c's files: header + Vp C + maxT C + L (12 C^2 + 13 C) + 2 C floats; 256 ints + 33 uint16 tokens
"$PY" "$SRC/bench/llmc/llmc_files.py" --dir "$TMP/gpt2" >/dev/null || fail "llmc_files.py"
C=768 Vp=50304 L=1
want=$(( 4 * (256 + Vp * C + 1024 * C + L * (12 * C * C + 13 * C) + 2 * C) ))
[ "$(stat -c %s "$TMP/gpt2/gpt2_124M.bin")" = "$want" ] || fail "gpt2_124M.bin is not $want bytes"
[ "$(stat -c %s "$TMP/gpt2/train.bin")" = $(( 1024 + 2 * 33 )) ] || fail "train.bin size"
if [ -f "$SRC/bench/llm.c/train_gpt2.c" ]; then
    gcc -Ofast -march=native -fopenmp -DOMP -Wno-unused-result -I"$SRC/bench/llm.c" "$SRC/bench/llmc/llmc_train.c" \
        -lm -o "$TMP/llmc_train" || fail "llm.c build"
    ll=$("$TMP/llmc_train" "$TMP/gpt2/gpt2_124M.bin" "$TMP/gpt2/train.bin" 2 16 1 0 | grep '^result') || fail "llm.c run"
    nl=$("$BIN/bench_gpt" --arch gpt2 --layers 1 --batch 2 --seq 16 --dropout 0 --steps 1 --warmup 0 | grep '^result')
    echo "llm.c first-step loss $(field loss0 "$ll"), nemoc $(field loss0 "$nl")"
    awk -v a="$(field loss0 "$nl")" -v b="$(field loss0 "$ll")" 'BEGIN { exit !(a - b > 0 && a - b < 1.5e-3) }' ||
        fail "llm.c's loss is not just below nemoc's"
else
    echo "no llm.c checkout in $SRC/bench/llm.c: its run is not checked"
fi
echo "PASS"

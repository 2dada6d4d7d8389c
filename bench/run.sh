#!/usr/bin/env bash
# The benchmark suite (`make bench`): nemoc against PyTorch on the same CPU,
# same shapes, same weights, same batches. Each case runs the nemoc program
# and its PyTorch twin (bench/torch/, Debian's python3-torch, 2 threads)
# alternately REPEATS times; each run does WARMUP + STEPS steps and reports
# the median step. The table shows the median over runs of wall time and CPU
# time per step, nemoc/PyTorch speed ratios, peak RSS of each process, and
# nemoc's achieved GFLOP/s (FLOP counts in bench/README.md).
#
#   bench/run.sh [BUILD_DIR]          (default build)
#   env: REPEATS=3 STEPS=3 WARMUP=2 THREADS=2
#        CASES="conformer fastconformer transducer gpt llama gen llmc infer features rnnt_greedy loss_curve"
#        LLMC=bench/llm.c (llm.c checkout for the llmc case)
#        LLM_LAYERS=N (gpt, llama, gen, llmc with N layers: quick checks only)
#        SECONDS_AUDIO=16 OMP_WAIT_POLICY (default passive for both sides, see README)
#        PYTHON=/usr/bin/python3 OUT=bench_out
set -euo pipefail
BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$BUILD/bench
PY=${PYTHON:-/usr/bin/python3}
REPEATS=${REPEATS:-3}
STEPS=${STEPS:-3}
# Two warm-up steps: nemoc's arena consolidates its chunks into one block
# after the first step, so the second step first-touches (page-faults) that
# block; from the third on a step allocates nothing. Both sides get the same.
WARMUP=${WARMUP:-2}
THREADS=${THREADS:-2}
SECS=${SECONDS_AUDIO:-16}
CASES=${CASES:-"conformer fastconformer transducer gpt llama gen llmc infer features rnnt_greedy loss_curve"}
LLMC=${LLMC:-$ROOT/bench/llm.c}
LL=${LLM_LAYERS:+--layers $LLM_LAYERS}
OUT=${OUT:-bench_out}
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
mkdir -p "$OUT"
LOG="$OUT/runs.log"
: > "$LOG"

for b in bench_conformer bench_gpt bench_gpt_generate bench_matmul bench_features bench_rnnt_greedy; do
    [ -x "$BIN/$b" ] || { echo "missing $BIN/$b: build first (make build)" >&2; exit 1; }
done
"$PY" -c "import torch" 2>/dev/null || { echo "PyTorch not found for $PY (apt install python3-torch)" >&2; exit 1; }

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores;" \
     "flags:$(grep -m1 -o -w -E 'avx512f|avx512_bf16|amx_bf16' /proc/cpuinfo | sort -u | tr '\n' ' ')"
echo "torch $("$PY" -c 'import torch; print(torch.__version__)'), threads $THREADS, OMP_WAIT_POLICY=$OMP_WAIT_POLICY," \
     "repeats $REPEATS x (warmup $WARMUP + steps $STEPS), load at start: $(cut -d' ' -f1-3 /proc/loadavg)"

# field NAME from a "result ..." line
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<< "$2"; }
median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) print "nan"; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

# run_pair LABEL "nemoc command" "torch command": alternates, keeps result lines
declare -A WALL CPU RSS GF
run_pair() {
    local label=$1 nc=$2 th=$3 r line
    local nw=() nc_cpu=() nr=() ng=() tw=() tc=() tr=()
    for ((r = 0; r < REPEATS; r++)); do
        line=$(OMP_NUM_THREADS=$THREADS eval "$nc" | grep '^result' || true)
        echo "[$label] $line" >> "$LOG"
        nw+=("$(field median_s "$line")") nc_cpu+=("$(field cpu_s "$line")")
        nr+=("$(field rss_mb "$line")") ng+=("$(field gflop "$line")")
        line=$(eval "$th" | grep '^result' || true)
        echo "[$label] $line" >> "$LOG"
        tw+=("$(field median_s "$line")") tc+=("$(field cpu_s "$line")") tr+=("$(field rss_mb "$line")")
    done
    WALL[$label.nc]=$(printf '%s\n' "${nw[@]}" | median)
    CPU[$label.nc]=$(printf '%s\n' "${nc_cpu[@]}" | median)
    RSS[$label.nc]=$(printf '%s\n' "${nr[@]}" | sort -g | tail -1)
    GF[$label]=$(printf '%s\n' "${ng[@]}" | median)
    WALL[$label.th]=$(printf '%s\n' "${tw[@]}" | median)
    CPU[$label.th]=$(printf '%s\n' "${tc[@]}" | median)
    RSS[$label.th]=$(printf '%s\n' "${tr[@]}" | sort -g | tail -1)
}

row() { # LABEL description [torch label to compare with]
    local l=$1 what=$2 tl=${3:-$1}
    awk -v w="$what" -v nw="${WALL[$l.nc]}" -v tw="${WALL[$tl.th]}" -v nc="${CPU[$l.nc]}" \
        -v tc="${CPU[$tl.th]}" -v nr="${RSS[$l.nc]}" -v tr="${RSS[$tl.th]}" -v gf="${GF[$l]}" \
        'BEGIN { printf "| %-38s | %8.3f | %8.3f | %5.2fx | %7.3f | %7.3f | %5.2fx | %6d | %6d | %6.1f |\n",
                 w, nw, tw, tw / nw, nc, tc, tc / nc, nr, tr, gf / nw }'
}

header() { # [other side's name, default torch]
    local o=${1:-torch}
    echo
    echo "| case | nemoc s/step | $o s/step | speed-up (wall) | nemoc CPU s | $o CPU s | speed-up (CPU) | nemoc RSS MB | $o RSS MB | nemoc GFLOP/s |"
    echo "|---|---|---|---|---|---|---|---|---|---|"
}

# The best GFLOP/s bench_matmul measures per precision (fp32: OpenBLAS or
# oneDNN; bf16: oneDNN), the peak the LLM cases' MFU divides by; once.
PEAK_F32= PEAK_BF16=
peaks() {
    [ -n "$PEAK_F32" ] && return
    local mm
    mm=$(OMP_NUM_THREADS=$THREADS "$BIN/bench_matmul")
    PEAK_F32=$(awk '$5 ~ /_f32$/ && $8 > m { m = $8 } END { print m + 0 }' <<< "$mm")
    PEAK_BF16=$(awk '$5 == "dnnl_bf16" && $8 > m { m = $8 } END { print m + 0 }' <<< "$mm")
    echo "bench_matmul peaks ($THREADS threads): fp32 $PEAK_F32 GFLOP/s, bf16 $PEAK_BF16 GFLOP/s" | tee -a "$TABLE"
}

TABLE="$OUT/table.md"
: > "$TABLE"
for c in $CASES; do
    case $c in
    conformer|fastconformer)
        d="$OUT/$c"
        "$BIN/bench_conformer" --arch "$c" --steps 0 --warmup 0 --seconds "$SECS" --save "$d" > /dev/null
        for p in 32 bf16; do
            run_pair "$c.$p" \
                "$BIN/bench_conformer --arch $c --prec $p --seconds $SECS --steps $STEPS --warmup $WARMUP" \
                "$PY $ROOT/bench/torch/conformer.py --dir $d --arch $c --prec $p --steps $STEPS --warmup $WARMUP --threads $THREADS"
        done
        {
            header
            row "$c.32" "$c train fp32 vs torch fp32"
            row "$c.bf16" "$c train bf16 vs torch fp32" "$c.32"
            row "$c.bf16" "$c train bf16 vs torch bf16 autocast"
        } | tee -a "$TABLE"
        ;;
    transducer)
        # Conformer-Transducer (RNN-T): the conformer case's encoder with
        # bench_conformer --head rnnt; nemoc with the whole-batch joint and
        # with NeMo's fuse_loss_wer (fused_batch_size 4) vs the twin's
        # whole-batch joint + torchaudio rnnt_loss
        d="$OUT/transducer"
        "$BIN/bench_conformer" --head rnnt --steps 0 --warmup 0 --seconds "$SECS" --save "$d" > /dev/null
        run_pair "rnnt.32" "$BIN/bench_conformer --head rnnt --seconds $SECS --steps $STEPS --warmup $WARMUP" \
            "$PY $ROOT/bench/torch/conformer.py --dir $d --head rnnt --steps $STEPS --warmup $WARMUP --threads $THREADS"
        run_pair "rnnt_fused.32" "$BIN/bench_conformer --head rnnt --fused 4 --seconds $SECS --steps $STEPS --warmup $WARMUP" \
            "$PY $ROOT/bench/torch/conformer.py --dir $d --head rnnt --steps $STEPS --warmup $WARMUP --threads $THREADS"
        {
            header
            row rnnt.32 "Conformer-RNNT train fp32 vs torch fp32"
            row rnnt_fused.32 "Conformer-RNNT fused joint fp32 vs torch"
        } | tee -a "$TABLE"
        ;;
    gpt|llama)
        # MegatronGPTModel training step (bench_gpt.c) vs the twin
        # (bench/torch/gpt.py): GPT-2 124M / Llama-style, B=4, T=256
        arch=$c; [ "$c" = gpt ] && arch=gpt2
        d="$OUT/$arch"
        "$BIN/bench_gpt" --arch "$arch" $LL --steps 0 --warmup 0 --save "$d" > /dev/null
        peaks
        # first-step loss of both sides on the same weights and batch, dropout 0
        for p in 32 bf16; do
            l=$(field loss0 "$(OMP_NUM_THREADS=$THREADS "$BIN/bench_gpt" --arch "$arch" $LL --prec $p --dropout 0 --steps 1 --warmup 0 | grep '^result')")
            "$PY" "$ROOT/bench/torch/gpt.py" --dir "$d" --arch "$arch" --prec $p --dropout 0 --steps 1 --warmup 0 \
                --threads "$THREADS" --nemoc-loss0 "$l" | grep '^check' | tee -a "$TABLE"
        done
        for p in 32 bf16; do
            pk=$PEAK_F32; [ $p = bf16 ] && pk=$PEAK_BF16
            run_pair "$c.$p" "$BIN/bench_gpt --arch $arch $LL --prec $p --steps $STEPS --warmup $WARMUP --peak-gflops $pk" \
                "$PY $ROOT/bench/torch/gpt.py --dir $d --arch $arch --prec $p --steps $STEPS --warmup $WARMUP --threads $THREADS"
        done
        {
            header
            row "$c.32" "$arch B4xT256 step fp32 vs torch fp32"
            row "$c.bf16" "$arch B4xT256 step bf16 vs torch fp32" "$c.32"
            row "$c.bf16" "$arch B4xT256 step bf16 vs torch bf16"
            echo
            for p in 32 bf16; do
                pk=$PEAK_F32; [ $p = bf16 ] && pk=$PEAK_BF16
                awk -v a="$arch" -v p=$p -v nw="${WALL[$c.$p.nc]}" -v tw="${WALL[$c.$p.th]}" -v gf="${GF[$c.$p]}" -v pk="$pk" \
                    'BEGIN { printf "%s %s: nemoc %.0f tokens/s, MFU %.1f%% of the bench_matmul peak %.0f GFLOP/s; torch %.0f tokens/s\n",
                             a, p, 1024 / nw, 100 * gf / nw / pk, pk, 1024 / tw }'
            done
        } | tee -a "$TABLE"
        ;;
    gen)
        # batch-1 greedy generation, prompt 128 + 128 new tokens, fp32 (and nemoc with bf16 weights)
        # (bench_gpt_generate.c vs bench/torch/gpt_generate.py, KV cache both)
        {
            echo
            echo "| generation (B=1, 128 + 128) | nemoc prompt tok/s | torch prompt tok/s | nemoc decode tok/s | torch decode tok/s | bandwidth limit tok/s | nemoc share of limit | nemoc RSS MB | torch RSS MB |"
            echo "|---|---|---|---|---|---|---|---|---|"
        } | tee -a "$TABLE"
        checks=()
        for arch in gpt2 llama; do
            d="$OUT/gen_$arch"
            nl=$(OMP_NUM_THREADS=$THREADS "$BIN/bench_gpt_generate" --arch $arch $LL --repeats "$REPEATS" --save "$d" | grep '^result')
            echo "[gen.$arch] $nl" >> "$LOG"
            tout=$("$PY" "$ROOT/bench/torch/gpt_generate.py" --dir "$d" --arch $arch --repeats "$REPEATS" --threads "$THREADS")
            tl=$(grep '^result' <<< "$tout")
            echo "[gen.$arch] $tl" >> "$LOG"
            checks+=("$(grep '^check' <<< "$tout"); bandwidth copy $(field copy_gbs "$nl") GB/s, triad $(field triad_gbs "$nl") GB/s; weights read per token $(field weight_mb "$nl") MB, mean KV cache read $(field kv_mb "$nl") MB")
            awk -v a=$arch -v np="$(field prompt_tok_s "$nl")" -v tp="$(field prompt_tok_s "$tl")" -v nd="$(field decode_tok_s "$nl")" \
                -v td="$(field decode_tok_s "$tl")" -v lim="$(field limit_tok_s "$nl")" -v sh="$(field share "$nl")" \
                -v nr="$(field rss_mb "$nl")" -v tr="$(field rss_mb "$tl")" \
                'BEGIN { printf "| %s | %.0f | %.0f | %.1f | %.1f | %.1f | %.0f%% | %d | %d |\n", a, np, tp, nd, td, lim, 100 * sh, nr, tr }' | tee -a "$TABLE"
            # nemoc with precision=bf16 (weights read as bf16 copies made once) against the same fp32 twin
            bl=$(OMP_NUM_THREADS=$THREADS "$BIN/bench_gpt_generate" --arch $arch $LL --repeats "$REPEATS" --prec bf16 | grep '^result')
            echo "[gen.$arch.bf16] $bl" >> "$LOG"
            awk -v a="$arch, nemoc bf16 weights" -v np="$(field prompt_tok_s "$bl")" -v tp="$(field prompt_tok_s "$tl")" \
                -v nd="$(field decode_tok_s "$bl")" -v td="$(field decode_tok_s "$tl")" -v lim="$(field limit_tok_s "$bl")" \
                -v sh="$(field share "$bl")" -v nr="$(field rss_mb "$bl")" -v tr="$(field rss_mb "$tl")" \
                'BEGIN { printf "| %s | %.0f | %.0f | %.1f | %.1f | %.1f | %.0f%% | %d | %d |\n", a, np, tp, nd, td, lim, 100 * sh, nr, tr }' | tee -a "$TABLE"
        done
        printf '%s\n' "${checks[@]}" | tee -a "$TABLE"
        ;;
    llmc)
        # llm.c's CPU trainer (train_gpt2.c) on the same GPT-2 124M weights and
        # batch (bench/llmc/), vs bench_gpt --arch gpt2 fp32 without dropout
        # (llm.c has none)
        if [ ! -f "$LLMC/train_gpt2.c" ]; then
            echo "llmc: no llm.c checkout in $LLMC (put a checkout of karpathy/llm.c's source there)" | tee -a "$TABLE"
            continue
        fi
        "${CC:-gcc}" -Ofast -march=native -fopenmp -DOMP -Wno-unused-result -I"$LLMC" "$ROOT/bench/llmc/llmc_train.c" -lm -o "$BIN/llmc_train"
        d="$OUT/llmc"
        "$BIN/bench_gpt" --arch gpt2 $LL --steps 0 --warmup 0 --save "$d" > /dev/null
        "$PY" "$ROOT/bench/llmc/llmc_files.py" --dir "$d" > /dev/null
        run_pair llmc "$BIN/bench_gpt --arch gpt2 $LL --dropout 0 --steps $STEPS --warmup $WARMUP" \
            "OMP_NUM_THREADS=$THREADS $BIN/llmc_train $d/gpt2_124M.bin $d/train.bin 4 256 $STEPS $WARMUP"
        {
            header llm.c
            row llmc "gpt2 B4xT256 step fp32 vs llm.c train_gpt2.c"
            awk -v a="$(grep -m1 'side=nemoc' <(grep '^\[llmc\]' "$LOG") | sed -n 's/.* loss0=\([^ ]*\).*/\1/p')" \
                -v b="$(grep -m1 'side=llmc' <(grep '^\[llmc\]' "$LOG") | sed -n 's/.* loss0=\([^ ]*\).*/\1/p')" \
                'BEGIN { printf "\nllmc: first-step loss nemoc %s, llm.c %s (llm.c'"'"'s softmax skips the 47 padded vocabulary logits, NeMo'"'"'s and nemoc'"'"'s cross-entropy includes them)\n", a, b }'
        } | tee -a "$TABLE"
        ;;
    infer)
        d="$OUT/infer"
        "$BIN/bench_conformer" --mode infer --steps 0 --warmup 0 --seconds "$SECS" --save "$d" > /dev/null
        for t in 1 2; do
            THREADS_SAVE=$THREADS
            THREADS=$t
            run_pair "infer.t$t" "$BIN/bench_conformer --mode infer --seconds $SECS --steps $STEPS --warmup $WARMUP" \
                "$PY $ROOT/bench/torch/conformer.py --dir $d --mode infer --steps $STEPS --warmup $WARMUP --threads $t"
            THREADS=$THREADS_SAVE
        done
        {
            header
            row infer.t1 "Conformer-CTC transcribe 8x${SECS}s, 1 thread"
            row infer.t2 "Conformer-CTC transcribe 8x${SECS}s, 2 threads"
            audio=$(awk -v s="$SECS" 'BEGIN { print 8 * s * (1 - 0.15 / 2) }')
            echo
            for t in 1 2; do
                awk -v t=$t -v a="$audio" -v n="${WALL[infer.t$t.nc]}" -v p="${WALL[infer.t$t.th]}" \
                    'BEGIN { printf "real-time factor, %d thread(s): nemoc %.4f, torch %.4f (%.2fx better)\n", t, n / a, p / a, p / n }'
            done
        } | tee -a "$TABLE"
        ;;
    features)
        echo | tee -a "$TABLE"
        for t in 1 2; do
            OMP_NUM_THREADS=$t "$BIN/bench_features" --threads $t --python "$PY" | sed "s/^/features ($t thread): /" | tee -a "$TABLE"
        done
        ;;
    rnnt_greedy) # greedy vs greedy_batch transducer decoding, RNN-T and TDT (no PyTorch twin)
        echo | tee -a "$TABLE"
        for t in 1 2; do
            OMP_NUM_THREADS=$t "$BIN/bench_rnnt_greedy" 16 250 176 320 129 "$((STEPS + WARMUP))" |
                sed "s/^/rnnt_greedy ($t thread): /" | tee -a "$TABLE"
        done
        ;;
    loss_curve) # bf16-mixed vs fp32 over 200 steps of the demo task (bench/loss_curve.sh)
        echo | tee -a "$TABLE"
        OUT="$OUT/loss_curve" "$ROOT/bench/loss_curve.sh" "$BUILD/bin/nemoc" | tail -n 3 | tee -a "$TABLE"
        ;;
    *) echo "unknown case $c" >&2; exit 2 ;;
    esac
done
echo
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg); per-run lines in $LOG, table in $TABLE"

#!/usr/bin/env bash
# Data-parallel throughput on this machine: the demo model trained for 40
# steps at a global batch of 16 as 1 process x 2 threads and as 2 MPI
# processes x 1 thread; prints utterances/s, the step time and the gradient
# all-reduce time per step (so the communication overhead is visible).
# Usage: bench/ddp.sh [build-dir]
set -euo pipefail
B=${1:-build}
NEMOC=$B/bin/nemoc
ROOT=$(cd "$(dirname "$0")/.." && pwd)
command -v mpirun >/dev/null || { echo "ddp: mpirun not installed, skipped"; exit 0; }
W=$(mktemp -d "${TMPDIR:-/tmp}/nemoc_bench_ddp.XXXXXX")
trap 'rm -rf "$W"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
"$NEMOC" data synth out_dir="$W/data" text_set=digits letters=false engines=espeak num_utts=400 seed=2 \
    num_validation=0 num_test=0 >/dev/null 2>&1
common=(--config-path "$ROOT/examples/asr/conf/conformer" --config-name conformer_ctc_char_cpu_small
  model.train_ds.manifest_filepath="$W/data/train_manifest.json" ~model.validation_ds
  model.train_ds.bucketing_strategy=null trainer.devices=-1 trainer.max_epochs=-1 trainer.max_steps=40
  trainer.log_every_n_steps=20 trainer.enable_progress_bar=false exp_manager.create_checkpoint_callback=false
  exp_manager.create_tensorboard_logger=false)
report() { # $1 label, $2 metrics.jsonl, $3 global batch
  tail -n 1 "$2" | awk -v l="$1" -v b="$3" '{
    for (i = 1; i <= NF; i++) { if ($i ~ /"train_step_timing/) st = $(i + 3); if ($i ~ /"grad_allreduce_timing/) ar = $(i + 3) }
    gsub(/[,}]/, "", st); gsub(/[,}]/, "", ar)
    printf "ddp  %-22s step %6.1f ms  %6.1f utt/s  all-reduce %s\n", l, st * 1000, b / st, ar == "" ? "-" : sprintf("%.1f ms", ar * 1000) }'
}
OMP_NUM_THREADS=2 "$NEMOC" asr train "${common[@]}" model.train_ds.batch_size=16 exp_manager.exp_dir="$W/one" >/dev/null 2>&1
report "1 process x 2 threads" "$(ls "$W"/one/*/*/metrics.jsonl)" 16
mpirun -np 2 -x OMP_NUM_THREADS=1 "$NEMOC" asr train "${common[@]}" model.train_ds.batch_size=8 \
    exp_manager.exp_dir="$W/two" >/dev/null 2>&1
report "2 processes x 1 thread" "$(ls "$W"/two/*/*/metrics.jsonl)" 16

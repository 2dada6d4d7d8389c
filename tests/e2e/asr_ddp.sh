#!/usr/bin/env bash
# Data-parallel training over MPI: 20 steps of the demo model (dropout,
# SpecAugment and dither off so both runs are deterministic) with
# `mpirun -np 2` at batch 4 per rank, and on one process at batch 8. With
# synchronized batch statistics and averaged gradients the global batches are
# the same; only the order of float reductions differs, so the losses must
# agree within 1e-5 relative and the final weights within 1e-5. All audio is
# cut to one length, so padding (which BatchNorm statistics see) is the same.
# SGD rather than Adam: a conv bias right before BatchNorm has a gradient that
# is zero in exact arithmetic, and Adam's normalisation turns its rounding
# noise into full-size steps, so no two reduction orders agree on it.
# ctest-labels: slow
set -euo pipefail
NEMOC=$1
ROOT=${NC_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
if ! command -v mpirun >/dev/null; then echo "SKIPPED: mpirun is not installed"; exit 0; fi
W=$(mktemp -d "${TMPDIR:-/tmp}/nemoc_e2e_ddp.XXXXXX")
trap 'rm -rf "$W"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OMP_NUM_THREADS=1

"$NEMOC" data synth out_dir="$W/data" text_set=digits letters=false num_utts=96 seed=5 \
    num_validation=0 num_test=0 >/dev/null
# Every file cut or padded to exactly 1.2 s.
: >"$W/train.json"
while IFS= read -r line; do
  rel=$(echo "$line" | sed 's/.*"audio_filepath": "\([^"]*\)".*/\1/')
  sox -V1 "$W/data/$rel" "$W/data/$rel.fixed.wav" pad 0 2 trim 0 1.2
  echo "$line" | sed "s|\"audio_filepath\": \"$rel\"|\"audio_filepath\": \"$rel.fixed.wav\"|; s/\"duration\": [0-9.e-]*/\"duration\": 1.2/" >>"$W/train.json"
done <"$W/data/train_manifest.json"
mv "$W/train.json" "$W/data/train_fixed.json"

common=(--config-path "$ROOT/examples/asr/conf/conformer" --config-name conformer_ctc_char_cpu_small
  model.train_ds.manifest_filepath="$W/data/train_fixed.json" ~model.validation_ds
  model.train_ds.shuffle=true model.train_ds.num_workers=0
  model.encoder.d_model=64 model.encoder.n_layers=2 model.encoder.conv_kernel_size=7
  model.encoder.dropout=0.0 model.encoder.dropout_pre_encoder=0.0 model.encoder.dropout_att=0.0
  model.spec_augment.freq_masks=0 model.spec_augment.time_masks=0 model.preprocessor.dither=0.0
  model.optim.name=sgd model.optim.lr=0.05 +model.optim.momentum=0.9 model.optim.weight_decay=0.0 ~model.optim.betas
  trainer.devices=-1 trainer.sync_batchnorm=true trainer.max_epochs=-1 trainer.max_steps=20
  trainer.log_every_n_steps=1 trainer.enable_progress_bar=false
  exp_manager.checkpoint_callback_params.save_top_k=0 exp_manager.create_tensorboard_logger=false)

"$NEMOC" asr train "${common[@]}" model.train_ds.batch_size=8 exp_manager.exp_dir="$W/one" \
    >"$W/one.log" 2>&1 || { cat "$W/one.log"; fail "1-process run"; }
mpirun -np 2 "$NEMOC" asr train "${common[@]}" model.train_ds.batch_size=4 \
    exp_manager.exp_dir="$W/two" >"$W/two.log" 2>&1 || { cat "$W/two.log"; fail "2-process run"; }

l1=$(grep -o '"train_loss": [0-9.e+-]*' "$W"/one/*/*/metrics.jsonl | sed 's/.*: //')
l2=$(grep -o '"train_loss": [0-9.e+-]*' "$W"/two/*/*/metrics.jsonl | sed 's/.*: //')
[ "$(echo "$l1" | wc -l)" -eq 20 ] || fail "expected 20 logged losses, got: $l1"
paste <(echo "$l1") <(echo "$l2") | awk '
  { d = $1 - $2; if (d < 0) d = -d; r = d / ($1 < 0 ? -$1 : $1); if (r > worst) worst = r
    printf "step %2d  1x8 %.7f  2x4 %.7f  rel %.2e\n", NR, $1, $2, r }
  END { printf "worst relative loss difference %.3g\n", worst; exit !(worst <= 1e-5) }' \
  || fail "losses differ by more than 1e-5"
"${NC_BINARY_DIR:-.}/tests/ckpt_compare" "$(ls "$W"/one/*/*/checkpoints/*end.ckpt)" \
    "$(ls "$W"/two/*/*/checkpoints/*end.ckpt)" 1e-5 || fail "weights differ"
echo OK

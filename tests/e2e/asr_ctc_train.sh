#!/usr/bin/env bash
# End to end: synthesize a small digits dataset, train a tiny Conformer-CTC for
# a bounded number of steps, check that the loss fell and the test WER is below
# a bound this scale reliably reaches, then check that the trained checkpoint
# reloads and transcribes identically twice (and through transcribe vs eval).
# ctest-labels: slow
set -euo pipefail
NEMOC=$1
ROOT=${NC_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
W=$(mktemp -d "${TMPDIR:-/tmp}/nemoc_e2e_asr.XXXXXX")
trap 'rm -rf "$W"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$NEMOC" data synth out_dir="$W/data" text_set=digits letters=false engines=espeak num_utts=600 seed=11 \
    validation_fraction=0.1 test_fraction=0.1 >/dev/null

"$NEMOC" asr train --config-path "$ROOT/examples/asr/conf/conformer" \
    --config-name conformer_ctc_char_cpu_small \
    model.train_ds.manifest_filepath="$W/data/train_manifest.json" \
    model.validation_ds.manifest_filepath="$W/data/validation_manifest.json" \
    model.encoder.d_model=96 model.encoder.n_layers=4 model.encoder.conv_kernel_size=9 \
    model.optim.sched.warmup_steps=50 trainer.max_epochs=-1 trainer.max_steps=${E2E_STEPS:-450} \
    trainer.val_check_interval=150 trainer.log_every_n_steps=50 trainer.enable_progress_bar=false \
    exp_manager.exp_dir="$W/exp" >"$W/train.log" 2>&1 || { cat "$W/train.log"; fail "training"; }

METRICS=$(ls "$W"/exp/*/*/metrics.jsonl)
first=$(grep -m1 train_loss "$METRICS" | sed 's/.*"train_loss": \([0-9.e+-]*\).*/\1/')
last=$(grep train_loss "$METRICS" | tail -n1 | sed 's/.*"train_loss": \([0-9.e+-]*\).*/\1/')
echo "train loss $first -> $last"
awk -v a="$first" -v b="$last" 'BEGIN { exit !(b < a / 4) }' || fail "loss did not fall: $first -> $last"

CKPT=$(ls "$W"/exp/*/*/checkpoints/*-last.ckpt | head -n1)
"$NEMOC" asr eval model_path="$CKPT" dataset_manifest="$W/data/test_manifest.json" \
    output_filename="$W/eval.json" >"$W/eval.log" 2>&1 || { cat "$W/eval.log"; fail "eval"; }
wer=$(sed -n 's/^wer: //p' "$W/eval.log")
echo "test WER (voices unseen in training): $wer"
awk -v w="$wer" -v bound="${E2E_WER_BOUND:-0.35}" 'BEGIN { exit !(w < bound) }' || fail "WER $wer not below ${E2E_WER_BOUND:-0.35}"

# Reload and transcribe twice: identical text; and the same as eval's pred_text.
"$NEMOC" asr transcribe model_path="$CKPT" dataset_manifest="$W/data/test_manifest.json" \
    output_filename="$W/t1.json" >/dev/null 2>&1 || fail "transcribe 1"
"$NEMOC" asr transcribe model_path="$CKPT" dataset_manifest="$W/data/test_manifest.json" \
    output_filename="$W/t2.json" batch_size=3 >/dev/null 2>&1 || fail "transcribe 2"
cmp -s <(grep -o '"pred_text":"[^"]*"' "$W/t1.json") <(grep -o '"pred_text":"[^"]*"' "$W/t2.json") \
    || fail "transcriptions differ between runs / batch sizes"
cmp -s <(grep -o '"pred_text":"[^"]*"' "$W/t1.json") <(grep -o '"pred_text":"[^"]*"' "$W/eval.json") \
    || fail "transcribe and eval disagree"
echo "OK"

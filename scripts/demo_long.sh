#!/usr/bin/env bash
# `make demo-long` (issue 17): the generalising recipe on sentences. Synthesize
# 3,000 King James Version sentences with espeak-ng (2,400 train, 300
# validation and 300 test sentences, the validation and test voices never heard
# in training) plus 600 training sentences spoken by festival's three voices,
# train a 3.7M-parameter Conformer-CTC with a 256-piece BPE tokenizer and
# NeMo's waveform augmentations (conformer/conformer_ctc_bpe_cpu_robust.yaml:
# 3,000 steps of 16) within 60 CPU-minutes, and report the test WER three
# ways (scripts/eval_channels.sh): unseen voices, an engine never heard in
# training (flite, speaking the test sentences) and degraded channels.
# The CPU time of the training is printed from bash's `time`.
set -euo pipefail
NEMOC=${1:-build/bin/nemoc}
OUT=${DEMO_OUT:-demo_long_out}
MINUTES=${DEMO_MINUTES:-30}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-$(nproc)}
mkdir -p "$OUT"

echo "== 1/5 synthesizing 3,000 sentences with espeak-ng and 600 training sentences with festival"
# The same arguments give the same files, so a dataset already there is kept.
if [ ! -s "$OUT/data/test_manifest.json" ]; then
    "$NEMOC" data synth out_dir="$OUT/data" text_set=sentences engines=espeak num_utts=3000 seed=0 | tail -n 4
fi
# Festival speaks training sentences only, so no test text is heard in training.
if [ ! -s "$OUT/data_festival/train_manifest.json" ]; then
    sed 's/.*"text": "\([^"]*\)".*/\1/' "$OUT/data/train_manifest.json" > "$OUT/train_texts.txt"
    "$NEMOC" data synth out_dir="$OUT/data_festival" text_set="$OUT/train_texts.txt" engines=festival \
        num_utts=600 num_validation=0 num_test=0 seed=9 | tail -n 1
fi
TRAIN="$OUT/data/train_manifest.json,$OUT/data_festival/train_manifest.json"

echo "== 2/5 augmentation banks and the tokenizer"
"$ROOT/scripts/aug_banks.sh" "$NEMOC" "$OUT"
rm -rf "$OUT/tok"
"$NEMOC" tokenizer train --manifest "$TRAIN" --data_root "$OUT/tok" --vocab_size 256 \
    --tokenizer spe --spe_type bpe >/dev/null

echo "== 3/5 training Conformer-CTC (BPE 256) for 3,000 steps (at most $MINUTES minutes)"
rm -rf "$OUT/exp"
TIMEFORMAT="training CPU time: %U s user + %S s system, %R s wall"
time {
    "$NEMOC" asr train --config-path "$ROOT/examples/asr/conf/conformer" \
        --config-name conformer_ctc_bpe_cpu_robust \
        model.tokenizer.dir="$OUT/tok/tokenizer_spe_bpe_v256" \
        model.train_ds.manifest_filepath="$TRAIN" \
        model.validation_ds.manifest_filepath="$OUT/data/validation_manifest.json" \
        model.train_ds.augmentor.impulse.manifest_path="$OUT/train_rirs/rir_manifest.json" \
        model.train_ds.augmentor.noise.manifest_path="$OUT/train_noise/noise_manifest.json" \
        +model.train_ds.num_buckets=4 exp_manager.exp_dir="$OUT/exp" \
        exp_manager.max_time_per_run="00:00:$(printf %02d "$MINUTES"):00" \
        trainer.enable_progress_bar=false trainer.log_every_n_steps=100 |
        tee "$OUT/train.log" | grep -E "^(model|training|validation|finished|done|best)"
}
BEST=$(grep -o 'best checkpoint: .*' "$OUT/train.log" | sed 's/best checkpoint: //')
MODEL_PATH=${BEST:-$(ls "$OUT"/exp/*/*/checkpoints/*-last.ckpt | head -n 1)}

echo
echo "== 4/5 honest evaluation: unseen voices, an unseen engine (flite) and degraded channels"
"$ROOT/scripts/eval_channels.sh" "$NEMOC" "$MODEL_PATH" "$OUT/data" "$OUT/eval" sentences

echo
echo "== 5/5 three test sentences"
head -n 3 "$OUT/eval/pred_unseen_voices.json" |
    sed 's/.*"text":"\([^"]*\)".*"pred_text":"\([^"]*\)".*/  reference: \1\n  heard:     \2/'

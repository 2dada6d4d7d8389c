#!/usr/bin/env bash
# The nemoc demo (`make demo`): synthesize a spoken digits-and-commands dataset
# with espeak-ng and flite (test voices never heard in training), train a
# small Conformer-CTC on 2 CPU cores for at most DEMO_MINUTES (default 10),
# print the loss curve and the test WER, and transcribe two files.
set -euo pipefail
NEMOC=${1:-build/bin/nemoc}
OUT=${DEMO_OUT:-demo_out}
MINUTES=${DEMO_MINUTES:-10}
UTTS=${DEMO_UTTS:-2400}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-$(nproc)}

mkdir -p "$OUT"
echo "== 1/4 synthesizing $UTTS utterances of digits and commands with espeak-ng"
"$NEMOC" data synth out_dir="$OUT/data" text_set=digits letters=false engines=espeak num_utts="$UTTS" seed=7 | tail -n 4

echo "== 2/4 training Conformer-CTC (char) for at most $MINUTES minutes"
rm -rf "$OUT/exp"
"$NEMOC" asr train --config-path "$ROOT/examples/asr/conf/conformer" \
    --config-name conformer_ctc_char_cpu_small \
    model.train_ds.manifest_filepath="$OUT/data/train_manifest.json" \
    model.validation_ds.manifest_filepath="$OUT/data/validation_manifest.json" \
    exp_manager.exp_dir="$OUT/exp" \
    exp_manager.max_time_per_run="00:00:$(printf %02d "$MINUTES"):00" \
    trainer.enable_progress_bar=false trainer.log_every_n_steps=50 | tee "$OUT/train.log" | grep -E "^(model|training|epoch|validation|finished|done|best)"

CKPT=$(ls "$OUT"/exp/*/*/checkpoints/*-last.ckpt | head -n 1)
BEST=$(grep -o 'best checkpoint: .*' "$OUT/train.log" | sed 's/best checkpoint: //')
MODEL=${BEST:-$CKPT}
echo
echo "== loss curve (train_loss every 50 steps)"
sed -n 's/.*"step": \([0-9]*\).*"train_loss": \([0-9.e+-]*\).*/\1 \2/p' \
    "$(dirname "$(dirname "$MODEL")")/metrics.jsonl" |
  awk '{ n = int($2 * 4); if (n > 60) n = 60; bar = ""; for (k = 0; k < n; k++) bar = bar "#";
         printf "step %5d  loss %8.3f  %s\n", $1, $2, bar }'
echo
echo "== 3/4 test WER on voices never heard in training ($MODEL)"
"$NEMOC" asr eval model_path="$MODEL" dataset_manifest="$OUT/data/test_manifest.json" \
    output_filename="$OUT/test_predictions.json" | grep -E "WER|transcribed"

echo
echo "== 4/4 transcribing two files"
rm -rf "$OUT/two" && mkdir -p "$OUT/two"
tests=("$OUT"/data/audio/test/*.wav)
cp "${tests[0]}" "${tests[1]}" "$OUT/two/"
"$NEMOC" asr transcribe model_path="$MODEL" audio_dir="$OUT/two" timestamps=true >/dev/null
while IFS= read -r line; do
    f=$(echo "$line" | sed 's/.*"audio_filepath":"\([^"]*\)".*/\1/')
    t=$(echo "$line" | sed 's/.*"pred_text":"\([^"]*\)".*/\1/')
    ref=$(grep "$(basename "$f")" "$OUT/data/test_manifest.json" | sed 's/.*"text": "\([^"]*\)".*/\1/')
    echo "$(basename "$f"): \"$t\"   (reference: \"$ref\")"
done < "$OUT/two/transcriptions.json"

#!/usr/bin/env bash
# The nemoc demo (`make demo`): synthesize a spoken digits-and-commands dataset
# with espeak-ng and festival voices (test voices never heard in training),
# train a small Conformer-CTC on 2 CPU cores for at most DEMO_MINUTES (default
# 10) with NeMo's waveform augmentations (a simulated room, noise, tempo, vocal
# tract length, telephone band, codec: conformer_ctc_char_cpu_robust.yaml),
# print the loss curve, then the test WER three ways (scripts/eval_channels.sh):
# on unseen voices, on an engine never heard in training (flite) and through
# degraded channels, and transcribe two files.
# DEMO_MODEL=tdt (`make demo-tdt`) trains the same encoder as a hybrid
# Conformer TDT-CTC (NeMo's parakeet-tdt_ctc recipe: TDT loss + 0.3 auxiliary
# CTC) and DEMO_MODEL=rnnt (`make demo-rnnt`) as a Conformer-RNNT, both with a
# 64-piece BPE tokenizer trained on the training transcripts, without the
# augmentations. DEMO_RECIPE=plain trains the CTC model the way the demo did
# before (espeak-ng voices only, no waveform augmentation) for comparison.
set -euo pipefail
NEMOC=${1:-build/bin/nemoc}
OUT=${DEMO_OUT:-demo_out}
MINUTES=${DEMO_MINUTES:-10}
UTTS=${DEMO_UTTS:-2400}
MODEL=${DEMO_MODEL:-ctc}
RECIPE=${DEMO_RECIPE:-robust}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-$(nproc)}
case $RECIPE in robust|plain) ;; *) echo "DEMO_RECIPE must be robust or plain, not '$RECIPE'" >&2; exit 2 ;; esac
[ "$MODEL" != ctc ] && RECIPE=plain

mkdir -p "$OUT"
# Validation and test speak with espeak-ng voices held out of training; every
# festival voice trains (flite, never heard, is the unseen engine).
HELD_VAL=en-gb+f5,en-gb+klatt2,en-gb-scotland+f1,en-gb-scotland+klatt,en-gb-x-gbclan+f2,en-gb-x-rp+klatt,en-us+f3
HELD_TEST=en-029+f1,en-029+m7,en-gb-scotland+f3,en-gb-scotland+m5,en-gb-x-gbclan+klatt3,en-gb-x-gbcwmd+f4,en-gb-x-rp+m1,en-us+m7
TRAIN="$OUT/data/train_manifest.json"
if [ "$RECIPE" = robust ]; then
    echo "== 1/5 synthesizing $UTTS utterances with espeak-ng and $((UTTS / 2)) more with festival"
    "$NEMOC" data synth out_dir="$OUT/data" text_set=digits letters=false engines=espeak num_utts="$UTTS" seed=7 \
        validation_voices="$HELD_VAL" test_voices="$HELD_TEST" | tail -n 4
    # Festival's three voices all train (a third of the training set).
    "$NEMOC" data synth out_dir="$OUT/data_festival" text_set=digits letters=false engines=festival \
        num_utts="$((UTTS / 2))" num_validation=0 num_test=0 seed=9 | tail -n 1
    TRAIN="$TRAIN,$OUT/data_festival/train_manifest.json"
else
    echo "== 1/5 synthesizing $UTTS utterances of digits and commands with espeak-ng"
    "$NEMOC" data synth out_dir="$OUT/data" text_set=digits letters=false engines=espeak num_utts="$UTTS" seed=7 |
        tail -n 4
fi

AUG=()
if [ "$RECIPE" = robust ]; then
    echo "== 2/5 augmentation banks: 200 simulated rooms (nemoc data rirs) and noise (sox)"
    "$ROOT/scripts/aug_banks.sh" "$NEMOC" "$OUT"
    AUG=(+model.train_ds.num_buckets=4
         model.train_ds.augmentor.impulse.manifest_path="$OUT/train_rirs/rir_manifest.json"
         model.train_ds.augmentor.noise.manifest_path="$OUT/train_noise/noise_manifest.json")
fi

case $MODEL in
ctc) if [ "$RECIPE" = robust ]; then
         CONF=(--config-path "$ROOT/examples/asr/conf/conformer" --config-name conformer_ctc_char_cpu_robust)
     else
         CONF=(--config-path "$ROOT/examples/asr/conf/conformer" --config-name conformer_ctc_char_cpu_small)
     fi
     NAME="Conformer-CTC (char)" ;;
tdt) CONF=(--config-path "$ROOT/examples/asr/conf/conformer/hybrid_transducer_ctc"
           --config-name conformer_hybrid_tdt_ctc_bpe_cpu_small)
     NAME="Conformer hybrid TDT-CTC (BPE)" ;;
rnnt) CONF=(--config-path "$ROOT/examples/asr/conf/conformer" --config-name conformer_transducer_bpe_cpu_small)
      NAME="Conformer-RNNT (BPE)" ;;
*) echo "DEMO_MODEL must be ctc, tdt or rnnt, not '$MODEL'" >&2; exit 2 ;;
esac
EXTRA=()
if [ "$MODEL" != ctc ]; then
    # process_asr_text_tokenizer.py's SentencePiece BPE on the training transcripts
    rm -rf "$OUT/tok"
    "$NEMOC" tokenizer train --manifest "$OUT/data/train_manifest.json" --data_root "$OUT/tok" \
        --vocab_size 64 --tokenizer spe --spe_type bpe >/dev/null
    EXTRA=(model.tokenizer.dir="$OUT/tok/tokenizer_spe_bpe_v64" model.train_ds.batch_size=16
           model.validation_ds.batch_size=32 trainer.max_epochs=10)
fi

echo "== 3/5 training $NAME for at most $MINUTES minutes"
rm -rf "$OUT/exp"
"$NEMOC" asr train "${CONF[@]}" \
    model.train_ds.manifest_filepath="$TRAIN" \
    model.validation_ds.manifest_filepath="$OUT/data/validation_manifest.json" \
    exp_manager.exp_dir="$OUT/exp" \
    exp_manager.max_time_per_run="00:00:$(printf %02d "$MINUTES"):00" \
    trainer.enable_progress_bar=false trainer.log_every_n_steps=50 ${EXTRA[@]+"${EXTRA[@]}"} \
    ${AUG[@]+"${AUG[@]}"} |
    tee "$OUT/train.log" | grep -E "^(model|training|epoch|validation|finished|done|best)"

CKPT=$(ls "$OUT"/exp/*/*/checkpoints/*-last.ckpt | head -n 1)
BEST=$(grep -o 'best checkpoint: .*' "$OUT/train.log" | sed 's/best checkpoint: //')
MODEL_PATH=${BEST:-$CKPT}
echo
echo "== loss curve (train_loss every 50 steps)"
sed -n 's/.*"step": \([0-9]*\).*"train_loss": \([0-9.e+-]*\).*/\1 \2/p' \
    "$(dirname "$(dirname "$MODEL_PATH")")/metrics.jsonl" |
  awk '{ n = int($2 * 4); if (n > 60) n = 60; bar = ""; for (k = 0; k < n; k++) bar = bar "#";
         printf "step %5d  loss %8.3f  %s\n", $1, $2, bar }'
echo
echo "== 4/5 test WER on voices never heard in training ($MODEL_PATH)"
eval_once() { # label, extra eval arguments...
    local label=$1 t0 t1
    shift
    t0=$(date +%s.%N)
    "$NEMOC" asr eval model_path="$MODEL_PATH" dataset_manifest="$OUT/data/test_manifest.json" \
        output_filename="$OUT/test_predictions.json" "$@" | grep -E "WER" | sed "s/^/$label/"
    t1=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" -v m="$OUT/data/test_manifest.json" -v l="$label" 'BEGIN {
        while ((getline x < m) > 0) if (match(x, /"duration": [0-9.]+/)) s += substr(x, RSTART + 12, RLENGTH - 12)
        printf "%sdecoding: %.1f s for %.0f s of audio (RTF %.4f, model load included)\n", l, b - a, s, (b - a) / s }'
}
if [ "$MODEL" = tdt ]; then
    eval_once "TDT decoder (greedy): " decoder_type=rnnt
    eval_once "CTC decoder (greedy): " decoder_type=ctc
else
    eval_once ""
fi
echo
echo "== honest evaluation: unseen voices, an unseen engine (flite) and degraded channels"
"$ROOT/scripts/eval_channels.sh" "$NEMOC" "$MODEL_PATH" "$OUT/data" "$OUT/eval" digits
echo
echo "== 5/5 transcribing two files"
rm -rf "$OUT/two" && mkdir -p "$OUT/two"
tests=("$OUT"/data/audio/test/*.wav)
cp "${tests[0]}" "${tests[1]}" "$OUT/two/"
"$NEMOC" asr transcribe model_path="$MODEL_PATH" audio_dir="$OUT/two" timestamps=true >/dev/null
while IFS= read -r line; do
    f=$(echo "$line" | sed 's/.*"audio_filepath":"\([^"]*\)".*/\1/')
    t=$(echo "$line" | sed 's/.*"pred_text":"\([^"]*\)".*/\1/')
    ref=$(grep "$(basename "$f")" "$OUT/data/test_manifest.json" | sed 's/.*"text": "\([^"]*\)".*/\1/')
    echo "$(basename "$f"): \"$t\"   (reference: \"$ref\")"
done < "$OUT/two/transcriptions.json"

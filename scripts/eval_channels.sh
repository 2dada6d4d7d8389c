#!/usr/bin/env bash
# Honest evaluation of a speech model (issue 17): WER on
#   (a) the test split: voices never heard in training, of the engines seen in training;
#   (b) an engine never heard in training (flite, when training used espeak-ng/festival);
#   (c) the test split through degraded channels: 8 kHz telephone band, an Opus
#       codec round trip, additive noise at 10 dB SNR, and a simulated room
#       (image-method RIRs).
# The channel sets are the test split passed through NeMo's augmentor
# (`nemoc data perturb`, every step with prob 1), so they are the same files
# for every model compared on them.
#
# usage: scripts/eval_channels.sh NEMOC MODEL DATA_DIR EVAL_DIR [TEXT_SET] [extra eval args...]
#   DATA_DIR holds test_manifest.json (from `nemoc data synth`); EVAL_DIR gets
#   the evaluation sets (built once, reused) and the predictions.
#   TEXT_SET (default digits) is what the unseen-engine set says: digits, or
#   anything else for the test split's own texts.
# Prints one "name: WER" line per set and a last line
#   "columns: unseen_voices=X unseen_engine=Y degraded=Z" (degraded = mean of the four channels).
set -euo pipefail
NEMOC=$1; MODEL=$2; DATA=$3; EVAL=$4; TEXT_SET=${5:-digits}
shift 4; [ $# -gt 0 ] && shift
EXTRA_EVAL=("$@")
mkdir -p "$EVAL"
TEST="$DATA/test_manifest.json"
N=$(grep -c . "$TEST")

# (b) unseen engine: every flite voice. Digits: new digit strings and
# commands of the same kind; any other text set: the test split's own texts
# (each once), so the column does not hear texts the model trained on.
if [ ! -s "$EVAL/flite/test_manifest.json" ]; then
    if [ "$TEXT_SET" = digits ]; then
        TEXTS=(text_set=digits letters=false)
    else
        sed 's/.*"text": *"\([^"]*\)".*/\1/' "$TEST" > "$EVAL/test_texts.txt"
        TEXTS=(text_set="$EVAL/test_texts.txt")
    fi
    "$NEMOC" data synth out_dir="$EVAL/flite" "${TEXTS[@]}" engines=flite \
        num_utts="$N" num_validation=0 num_test="$N" test_voices=kal,kal16,awb,rms,slt seed=8 >/dev/null 2>&1
fi

# Noise for (c): white, pink and brown noise (sox), 20 s each.
if [ ! -s "$EVAL/noise/noise_manifest.json" ]; then
    mkdir -p "$EVAL/noise"
    : > "$EVAL/noise/noise_manifest.json.tmp"
    for c in white pink brown; do
        sox -q -R -n -r 16000 -b 16 -c 1 "$EVAL/noise/$c.wav" synth 20 "${c}noise" gain -n -6
        echo "{\"audio_filepath\": \"$c.wav\", \"duration\": 20.0}" >> "$EVAL/noise/noise_manifest.json.tmp"
    done
    mv "$EVAL/noise/noise_manifest.json.tmp" "$EVAL/noise/noise_manifest.json"
fi
# Rooms for (c): a bank of image-method impulse responses.
if [ ! -s "$EVAL/rirs/rir_manifest.json" ]; then
    "$NEMOC" data rirs out_dir="$EVAL/rirs" num_rirs=40 seed=3 >/dev/null 2>&1
fi

perturb() { # name, augmentor overrides...
    local name=$1
    shift
    [ -s "$EVAL/$name/manifest.json" ] && return 0
    "$NEMOC" data perturb input_manifest="$TEST" output_dir="$EVAL/$name" seed=17 "$@" >/dev/null 2>&1
}
perturb telephone augmentor.resample.prob=1.0 augmentor.resample.target_sr=8000
perturb codec augmentor.transcode_aug.prob=1.0 'augmentor.transcode_aug.codecs=[opus]'
perturb noise augmentor.noise.prob=1.0 augmentor.noise.manifest_path="$EVAL/noise/noise_manifest.json" \
    augmentor.noise.min_snr_db=10 augmentor.noise.max_snr_db=10
perturb reverb augmentor.impulse.prob=1.0 augmentor.impulse.manifest_path="$EVAL/rirs/rir_manifest.json"

wer_of() { # name manifest -> prints the WER in percent
    local name=$1 man=$2
    "$NEMOC" asr eval model_path="$MODEL" dataset_manifest="$man" \
        output_filename="$EVAL/pred_$name.json" ${EXTRA_EVAL[@]+"${EXTRA_EVAL[@]}"} 2>/dev/null |
        sed -n 's/^WER \([0-9.]*\)%.*/\1/p'
}
declare -A W
W[unseen_voices]=$(wer_of unseen_voices "$TEST")
W[unseen_engine]=$(wer_of unseen_engine "$EVAL/flite/test_manifest.json")
for ch in telephone codec noise reverb; do W[$ch]=$(wer_of "$ch" "$EVAL/$ch/manifest.json"); done
for k in unseen_voices unseen_engine telephone codec noise reverb; do printf "%-14s WER %6s%%\n" "$k:" "${W[$k]}"; done
awk -v a="${W[unseen_voices]}" -v b="${W[unseen_engine]}" -v t="${W[telephone]}" -v c="${W[codec]}" \
    -v n="${W[noise]}" -v r="${W[reverb]}" 'BEGIN {
    d = (t + c + n + r) / 4
    printf "columns: unseen_voices=%.2f%% unseen_engine=%.2f%% degraded=%.2f%% (degraded/clean %.2fx)\n", a, b, d, (a > 0 ? d / a : 0) }'

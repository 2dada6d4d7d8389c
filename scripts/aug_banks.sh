#!/usr/bin/env bash
# The training-side augmentation banks of the demos (issue 17): a bank of 200
# simulated rooms (`nemoc data rirs`, image method, seed 1) and six
# band-limited noise colours made with sox, 30 s each, as NeMo manifests. The
# evaluation (scripts/eval_channels.sh) uses other rooms (seed 3) and plain
# white/pink/brown noise, so no test condition is a training condition.
# usage: scripts/aug_banks.sh NEMOC OUT
#   writes OUT/train_rirs/rir_manifest.json and OUT/train_noise/noise_manifest.json
#   (kept when they exist).
set -euo pipefail
NEMOC=$1; OUT=$2
if [ ! -s "$OUT/train_rirs/rir_manifest.json" ]; then
    "$NEMOC" data rirs out_dir="$OUT/train_rirs" num_rirs=200 seed=1 2>&1 | tail -n 1
fi
if [ ! -s "$OUT/train_noise/noise_manifest.json" ]; then
    mkdir -p "$OUT/train_noise"
    : > "$OUT/train_noise/noise_manifest.json.tmp"
    k=0
    for spec in "whitenoise vol 0.5 lowpass 3000" "whitenoise vol 0.5 highpass 1000" \
                "pinknoise vol 0.5 bandpass 1500 2000h" "brownnoise vol 0.5 highpass 200" \
                "pinknoise vol 0.5 lowpass 1000" "tpdfnoise vol 0.5 bandpass 3000 1000h"; do
        # shellcheck disable=SC2086 # spec is a list of sox effect words
        sox -q -R -n -r 16000 -b 16 -c 1 "$OUT/train_noise/n$k.wav" synth 30 $spec gain -n -6
        echo "{\"audio_filepath\": \"n$k.wav\", \"duration\": 30.0}" >> "$OUT/train_noise/noise_manifest.json.tmp"
        k=$((k + 1))
    done
    mv "$OUT/train_noise/noise_manifest.json.tmp" "$OUT/train_noise/noise_manifest.json"
fi

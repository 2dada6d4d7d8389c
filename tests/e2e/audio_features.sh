#!/usr/bin/env bash
# `nemoc audio features` on a synthesized file: shapes, keys, and errors.
# Usage: audio_features.sh <path to nemoc>
set -euo pipefail
NEMOC=$1
DIR=$(mktemp -d)
trap 'rm -rf "$DIR"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# 1.5 s, 44.1 kHz stereo tone: decoded, averaged to mono and resampled to 16 kHz.
sox -n -r 44100 -c 2 -b 16 "$DIR/tone.wav" synth 1.5 sine 440 sine 660 vol 0.5
out=$("$NEMOC" audio features "$DIR/tone.wav" window_size=0.025 features=80 pad_to=0 out="$DIR/f.npy")
echo "$out"
[[ -s "$DIR/f.npy" ]] || fail "no output file"
# 24000 samples at 16 kHz: 151 STFT frames, 150 valid.
head -c 128 "$DIR/f.npy" | grep -aqE "'shape': \(80, ?151\)" || fail "wrong shape: $(head -c 128 "$DIR/f.npy" | tr -d '\0')"
grep -q "150 valid frames" <<<"$out" || fail "wrong length"

# A segment and the TTS keys.
"$NEMOC" audio features "$DIR/tone.wav" offset=0.5 duration=0.5 sample_rate=22050 window_size=null \
    window_stride=null n_window_size=1024 n_window_stride=256 n_fft=1024 features=80 highfreq=8000 \
    mag_power=1.0 normalize=null preemph=null log_zero_guard_type=clamp log_zero_guard_value=1e-5 pad_to=1 \
    out="$DIR/tts.npy" >/dev/null
head -c 128 "$DIR/tts.npy" | grep -aqE "'shape': \(80, ?44\)" || fail "wrong TTS shape"

# Errors: exit status and a message naming the problem.
set +e
msg=$("$NEMOC" audio features "$DIR/missing.wav" out="$DIR/x.npy" 2>&1); rc=$?
[[ $rc -ne 0 && $msg == *missing.wav* ]] || fail "missing file: rc=$rc msg=$msg"
echo "not audio" >"$DIR/text.wav"
msg=$("$NEMOC" audio features "$DIR/text.wav" out="$DIR/x.npy" 2>&1); rc=$?
[[ $rc -ne 0 && $msg == *text.wav* ]] || fail "text file: rc=$rc msg=$msg"
msg=$("$NEMOC" audio features "$DIR/tone.wav" bogus=1 out="$DIR/x.npy" 2>&1); rc=$?
[[ $rc -eq 2 && $msg == *bogus* ]] || fail "unknown key: rc=$rc msg=$msg"
msg=$("$NEMOC" audio features "$DIR/tone.wav" offset=1.4 duration=0.5 out="$DIR/x.npy" 2>&1); rc=$?
[[ $rc -ne 0 && $msg == *"requested 0.500 s"* ]] || fail "segment past end: rc=$rc msg=$msg"
"$NEMOC" audio features --help | grep -q "log_zero_guard_value" || fail "--help lacks keys"
echo "audio_features: ok"

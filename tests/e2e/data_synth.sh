#!/usr/bin/env bash
# End-to-end: `nemoc data synth` with both engines. Checks that the three
# manifests are well-formed NeMo JSON lines, every audio file exists and is
# 16 kHz mono 16-bit, manifest durations match the files within 10 ms, the
# split is by voice (no voice in two splits), the same seed gives identical
# manifests and audio, another seed other ones, text_set=sentences works, and
# a missing or failing engine is a clear error.
# Usage: data_synth.sh /path/to/nemoc   (ctest passes it; CWD is the build dir)
set -euo pipefail

NEMOC="${1:?usage: data_synth.sh /path/to/nemoc}"
for tool in espeak-ng flite soxi; do
  command -v "$tool" >/dev/null || { echo "FAIL: '$tool' not installed (scripts/install-deps.sh)"; exit 1; }
done
TMP="$(mktemp -d "${TMPDIR:-/tmp}/nemoc-e2e-synth.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

args=(num_utts=30 seed=17 speed_prob=0.5 noise_prob=0.5 num_workers=2)
"$NEMOC" data synth out_dir="$TMP/a" "${args[@]}" >"$TMP/a.log" 2>&1 || { cat "$TMP/a.log"; fail "synth run a"; }
# Same seed with another worker count: must not matter.
"$NEMOC" data synth out_dir="$TMP/b" "${args[@]/num_workers=2/num_workers=3}" >"$TMP/b.log" 2>&1 ||
  { cat "$TMP/b.log"; fail "synth run b"; }
"$NEMOC" data synth out_dir="$TMP/c" "${args[@]/seed=17/seed=18}" >/dev/null 2>&1 || fail "synth run c"

cd "$TMP/a"
total=0
for split in train validation test; do
  m="${split}_manifest.json"
  [ -f "$m" ] || fail "$m missing"
  # The exact line NeMo's json.dumps style gives, with this split's folder.
  re='^\{"audio_filepath": "audio/'$split'/[0-9]{6}\.wav", "duration": [0-9]+\.[0-9]+, "text": "[a-z'"'"' ]+", "speaker": "(espeak-ng|flite):[A-Za-z0-9+._-]+"'
  re+=', "synth_rate": [0-9.]+, "synth_pitch": [0-9.]+, "synth_pitch_range": [0-9.]+, "synth_word_gap": [0-9]+, "synth_gain_db": (0|-[0-9.]+)\}$'
  bad=$(grep -Ecv "$re" "$m" || true)
  [ "$bad" -eq 0 ] || { grep -Ev "$re" "$m" | head -3; fail "$m: $bad malformed lines"; }
  total=$((total + $(wc -l <"$m")))
done
[ "$total" -eq 30 ] || fail "manifests hold $total utterances, want 30"
[ "$(wc -l <test_manifest.json)" -eq 3 ] && [ "$(wc -l <validation_manifest.json)" -eq 3 ] ||
  fail "split sizes are not 24/3/3"

# Every file: present, 16 kHz, mono, 16-bit, duration within 10 ms of the manifest.
cat train_manifest.json validation_manifest.json test_manifest.json |
  sed -E 's/^\{"audio_filepath": "([^"]+)", "duration": ([0-9.]+),.*/\1 \2/' >"$TMP/files.txt"
while read -r path dur; do
  [ -f "$path" ] || fail "$path listed but missing"
  info="$(soxi -r "$path") $(soxi -c "$path") $(soxi -b "$path")"
  [ "$info" = "16000 1 16" ] || fail "$path: rate/channels/bits = $info, want 16000 1 16"
  real=$(soxi -D "$path")
  awk -v a="$dur" -v b="$real" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= 0.010) }' ||
    fail "$path: manifest duration $dur vs file $real"
  awk -v a="$real" 'BEGIN { exit !(a > 0.2 && a < 10) }' || fail "$path: implausible duration $real"
done <"$TMP/files.txt"
[ "$(find audio -name '*.wav' | wc -l)" -eq 30 ] || fail "audio/ holds other than 30 files"

# Split by voice: no speaker in two manifests.
for split in train validation test; do
  sed -E 's/.*"speaker": "([^"]+)".*/\1/' "${split}_manifest.json" | sort -u >"$TMP/spk.$split"
done
for pair in "train validation" "train test" "validation test"; do
  set -- $pair
  both=$(comm -12 "$TMP/spk.$1" "$TMP/spk.$2")
  [ -z "$both" ] || fail "voices in both $1 and $2: $both"
done
grep -q "flite:" "$TMP/spk.train" && grep -q "espeak-ng:" "$TMP/spk.train" || fail "train lacks an engine"
# The voice listing printed for a person names the held-out voices.
for s in $(cat "$TMP/spk.test"); do grep -q -- "$s" "$TMP/a.log" || fail "voice $s not printed"; done

# Determinism: same seed -> identical manifests and audio; another seed differs.
for split in train validation test; do
  cmp -s "$TMP/a/${split}_manifest.json" "$TMP/b/${split}_manifest.json" || fail "$split manifest differs for the same seed"
done
diff -r "$TMP/a/audio" "$TMP/b/audio" >/dev/null || fail "audio differs for the same seed"
cmp -s "$TMP/a/train_manifest.json" "$TMP/c/train_manifest.json" && fail "seed 18 gave seed 17's manifest"

# text_set=sentences (found through NC_SOURCE_DIR, which ctest sets).
"$NEMOC" data synth out_dir="$TMP/s" text_set=sentences num_utts=6 num_validation=0 num_test=1 \
  engines=flite >/dev/null 2>&1 || fail "text_set=sentences"
words=$(sed -E 's/.*"text": "([^"]+)".*/\1/' "$TMP/s/train_manifest.json" | awk '{ n += NF } END { print n / NR }')
awk -v w="$words" 'BEGIN { exit !(w >= 3 && w <= 12) }' || fail "sentences average $words words"

# Errors: an unknown voice, a missing engine, a failing engine.
if "$NEMOC" data synth out_dir="$TMP/e" num_utts=4 engines=flite flite_voices=kal,nosuch,slt,awb \
  >/dev/null 2>"$TMP/e.err"; then fail "unknown flite voice accepted"; fi
grep -q "nosuch" "$TMP/e.err" || { cat "$TMP/e.err"; fail "unknown voice not named"; }
if PATH=/nonexistent "$NEMOC" data synth out_dir="$TMP/e" num_utts=4 >/dev/null 2>"$TMP/e.err"; then
  fail "ran without engines"
fi
grep -q "not on PATH" "$TMP/e.err" || { cat "$TMP/e.err"; fail "missing engine not reported"; }
mkdir -p "$TMP/fake"
cat >"$TMP/fake/espeak-ng" <<FAKE
#!/bin/sh
case "\$1" in --voices*) exec "$(command -v espeak-ng)" "\$@";; esac
echo "synthesis exploded" >&2
exit 7
FAKE
chmod +x "$TMP/fake/espeak-ng"
if PATH="$TMP/fake:$PATH" "$NEMOC" data synth out_dir="$TMP/e" num_utts=4 engines=espeak \
  >/dev/null 2>"$TMP/e.err"; then fail "failing engine not reported"; fi
grep -q "utterance 0 (espeak-ng:" "$TMP/e.err" && grep -q "exited with status 7: synthesis exploded" "$TMP/e.err" &&
  grep -q "espeak-ng -v " "$TMP/e.err" || { cat "$TMP/e.err"; fail "engine failure message lacks context"; }

echo "data_synth: all checks passed"

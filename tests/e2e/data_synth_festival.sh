#!/usr/bin/env bash
# End-to-end: `nemoc data synth engines=festival` really synthesizes three
# short utterances with festival's three Debian voices (one per split) and
# checks the WAVs are 16 kHz mono 16-bit and not silent, that a larger
# festival_stretch gives every utterance a longer duration (diphone voices
# through Duration_Stretch, the HTS voice through its speed), that the split
# is by voice, that f0_shift reaches the diphone voices (not the HTS one)
# and gain_db every voice, and that a missing voice names its Debian package
# and a Scheme error (text2wave exits 0) is a failure. Batches (one festival
# process for many utterances, the default) give WAVs byte-identical to
# text2wave per utterance (festival_batch=1) and to themselves for another
# num_workers; a Scheme error or a missing output inside a batch names its
# utterance.
# Skipped (exit 77) when festival or its voices are not installed;
# scripts/install-deps.sh installs them, so CI runs it.
# ctest-skip-return-code: 77
# Usage: data_synth_festival.sh /path/to/nemoc   (ctest passes it; CWD is the build dir)
set -euo pipefail

NEMOC="${1:?usage: data_synth_festival.sh /path/to/nemoc}"
for tool in festival text2wave soxi sox; do
  command -v "$tool" >/dev/null || { echo "SKIP: '$tool' not installed (scripts/install-deps.sh)"; exit 77; }
done
voices="$(festival -b '(print (voice.list))')"
for v in kal_diphone ked_diphone cmu_us_slt_arctic_hts; do
  grep -qw "$v" <<<"$voices" || { echo "SKIP: festival voice $v not installed (scripts/install-deps.sh)"; exit 77; }
done
TMP="$(mktemp -d "${TMPDIR:-/tmp}/nemoc-e2e-festival.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

args=(engines=festival num_utts=3 num_validation=1 num_test=1 seed=4 num_workers=2 text_set="$TMP/text.txt")
printf 'turn the volume up to seven\nthe quick brown fox jumps over the lazy dog\nplease stop at number nine\n' \
  >"$TMP/text.txt"
for s in fast:0.8 slow:1.35; do
  name=${s%%:*} x=${s#*:}
  "$NEMOC" data synth out_dir="$TMP/$name" "${args[@]}" festival_stretch="[$x,$x]" >"$TMP/$name.log" 2>&1 ||
    { cat "$TMP/$name.log"; fail "synth $name"; }
done

# One line per split, festival voices, each split its own voice, all three used.
for split in train validation test; do
  [ "$(wc -l <"$TMP/fast/${split}_manifest.json")" -eq 1 ] || fail "$split manifest does not hold 1 line"
done
cat "$TMP"/fast/*_manifest.json | sed -E 's/.*"speaker": "([^"]+)".*/\1/' | sort -u >"$TMP/spk"
[ "$(wc -l <"$TMP/spk")" -eq 3 ] || fail "3 utterances do not use 3 voices: $(tr '\n' ' ' <"$TMP/spk")"
grep -vq '^festival:' "$TMP/spk" && fail "a non-festival speaker: $(tr '\n' ' ' <"$TMP/spk")"
# The manifest records the stretch each engine was given.
[ "$(grep -c '"synth_rate": 1.35,' "$TMP"/slow/*_manifest.json | awk -F: '{ n += $2 } END { print n }')" -eq 3 ] ||
  fail "slow manifests do not record synth_rate 1.35"

# Every file 16 kHz mono 16-bit, not silent; the slow one longer than the fast one.
cat "$TMP"/fast/*_manifest.json | sed -E 's/^\{"audio_filepath": "([^"]+)".*"speaker": "([^"]+)".*/\1 \2/' \
  >"$TMP/files"
while read -r path speaker; do
  for d in fast slow; do
    f="$TMP/$d/$path"
    [ -f "$f" ] || fail "$d/$path missing"
    info="$(soxi -r "$f") $(soxi -c "$f") $(soxi -b "$f")"
    [ "$info" = "16000 1 16" ] || fail "$d/$path: rate/channels/bits = $info, want 16000 1 16"
    rms=$(sox "$f" -n stat 2>&1 | awk '/RMS +amplitude/ { print $3 }')
    awk -v r="$rms" 'BEGIN { exit !(r > 0.003) }' || fail "$d/$path ($speaker) is silent: RMS $rms"
  done
  fast=$(soxi -D "$TMP/fast/$path") slow=$(soxi -D "$TMP/slow/$path")
  # Stretch 1.35 / 0.8 = 1.69; ask for 1.3 to leave room for pauses that do not stretch.
  awk -v a="$fast" -v b="$slow" 'BEGIN { exit !(b > 1.3 * a) }' ||
    fail "$path ($speaker): festival_stretch=1.35 gave $slow s, 0.8 gave $fast s"
  echo "  $speaker: $fast s at stretch 0.8, $slow s at 1.35"
done <"$TMP/files"

# F0 targets reach the diphone voices (other audio) and not the HTS voice
# (festival's HTS module reads only its speed: the same audio); the gain
# scales every voice: -12 dB is an RMS ratio of 0.251.
for s in lo:-3:0 hi:3:0 quiet:3:-12; do
  IFS=: read -r name f0 gain <<<"$s"
  "$NEMOC" data synth out_dir="$TMP/$name" "${args[@]}" f0_shift="[$f0,$f0]" gain_db="[$gain,$gain]" \
    festival_stretch=[1,1] >"$TMP/$name.log" 2>&1 || { cat "$TMP/$name.log"; fail "synth $name"; }
done
while read -r path speaker; do
  if [ "$speaker" = festival:cmu_us_slt_arctic_hts ]; then
    cmp -s "$TMP/lo/$path" "$TMP/hi/$path" || fail "$speaker: f0_shift changed the HTS voice's audio"
  else
    cmp -s "$TMP/lo/$path" "$TMP/hi/$path" && fail "$speaker: f0_shift -3 and +3 gave the same audio"
  fi
  a=$(sox "$TMP/hi/$path" -n stat 2>&1 | awk '/RMS +amplitude/ { print $3 }')
  b=$(sox "$TMP/quiet/$path" -n stat 2>&1 | awk '/RMS +amplitude/ { print $3 }')
  awk -v a="$a" -v b="$b" 'BEGIN { r = b / a; exit !(r > 0.245 && r < 0.257) }' ||
    fail "$speaker: gain_db=-12 gave RMS $b against $a"
done <"$TMP/files"

# A voice festival lacks: its Debian package is named (a stand-in festival
# that lists no ked_diphone), and an unknown voice is named.
mkdir -p "$TMP/fake"
cat >"$TMP/fake/festival" <<'FAKE'
#!/bin/sh
echo "(cmu_us_slt_arctic_hts kal_diphone)"
FAKE
chmod +x "$TMP/fake/festival"
if PATH="$TMP/fake:$PATH" "$NEMOC" data synth out_dir="$TMP/e" "${args[@]}" >/dev/null 2>"$TMP/e.err"; then
  fail "missing festival voice accepted"
fi
grep -q "ked_diphone" "$TMP/e.err" && grep -q "festvox-kdlpc16k" "$TMP/e.err" ||
  { cat "$TMP/e.err"; fail "missing voice does not name its package"; }
if "$NEMOC" data synth out_dir="$TMP/e" engines=festival festival_voices=kal_diphone,nosuch_voice num_utts=2 \
  num_validation=0 num_test=0 >/dev/null 2>"$TMP/e.err"; then fail "unknown festival voice accepted"; fi
grep -q "nosuch_voice" "$TMP/e.err" || { cat "$TMP/e.err"; fail "unknown festival voice not named"; }
# text2wave prints a Scheme error and exits 0: still a failure, with the command.
cat >"$TMP/fake/text2wave" <<'FAKE'
#!/bin/sh
echo "SIOD ERROR: unbound variable : voice_x" >&2
exit 0
FAKE
chmod +x "$TMP/fake/text2wave"
rm "$TMP/fake/festival"
if PATH="$TMP/fake:$PATH" "$NEMOC" data synth out_dir="$TMP/e" "${args[@]}" festival_batch=1 >/dev/null \
  2>"$TMP/e.err"; then
  fail "text2wave's Scheme error not reported"
fi
grep -q "SIOD ERROR" "$TMP/e.err" && grep -q "text2wave -eval" "$TMP/e.err" ||
  { cat "$TMP/e.err"; fail "Scheme error message lacks context"; }

rm "$TMP/fake/text2wave"

# Batches against text2wave: 48 utterances (16 per voice) with prosody,
# speed and noise drawn per utterance; every WAV and manifest the same bytes.
bargs=(engines=festival num_utts=48 num_validation=16 num_test=16 seed=11
  f0_shift=[-3,3] festival_stretch=[0.8,1.3] speed_prob=0.5 noise_prob=0.5)
for run in ref:1:2 b2:0:2 b1:0:1 b5:5:2; do
  IFS=: read -r name batch workers <<<"$run"
  "$NEMOC" data synth out_dir="$TMP/$name" "${bargs[@]}" festival_batch="$batch" num_workers="$workers" \
    >"$TMP/$name.log" 2>&1 || { cat "$TMP/$name.log"; fail "synth $name"; }
done
n=$(find "$TMP/ref/audio" -name '*.wav' | wc -l)
[ "$n" -eq 48 ] || fail "festival_batch=1 wrote $n WAVs, want 48"
for name in b2 b1 b5; do
  diff -r "$TMP/ref/audio" "$TMP/$name/audio" >/dev/null ||
    fail "$name: WAVs differ from text2wave's (festival_batch=1): $(diff -rq "$TMP/ref/audio" "$TMP/$name/audio" | head -3)"
  for split in train validation test; do
    cmp -s "$TMP/ref/${split}_manifest.json" "$TMP/$name/${split}_manifest.json" || fail "$name: $split manifest differs"
  done
done
echo "  batches: 48 WAVs byte-identical to text2wave's (batch 0/5, 1 and 2 workers)"

# A Scheme error inside a batch (festival --script stops there, exit 0): the
# utterance is named with festival's message. A stand-in festival rewrites
# the script so that ked_diphone's voice function does not exist.
real_festival="$(command -v festival)"
cat >"$TMP/fake/festival" <<FAKE
#!/bin/sh
if [ "\$1" = --script ]; then sed -i 's/(voice_ked_diphone)/(voice_nosuch_x)/' "\$2"; fi
exec "$real_festival" "\$@"
FAKE
chmod +x "$TMP/fake/festival"
if PATH="$TMP/fake:$PATH" "$NEMOC" data synth out_dir="$TMP/e" "${bargs[@]}" >/dev/null 2>"$TMP/e.err"; then
  fail "a Scheme error inside a festival batch was not reported"
fi
grep -q 'utterance [0-9]* (festival:ked_diphone' "$TMP/e.err" && grep -q 'SIOD ERROR: unbound variable : voice_nosuch_x' \
  "$TMP/e.err" && grep -q 'festival --script' "$TMP/e.err" || { cat "$TMP/e.err"; fail "batch Scheme error lacks context"; }
# Outputs that never appear (the script saves them elsewhere): named too.
cat >"$TMP/fake/festival" <<FAKE
#!/bin/sh
if [ "\$1" = --script ]; then sed -i 's/\.wav")\$/.wav.elsewhere")/' "\$2"; fi
exec "$real_festival" "\$@"
FAKE
if TMPDIR="$TMP" PATH="$TMP/fake:$PATH" "$NEMOC" data synth out_dir="$TMP/e" "${bargs[@]}" >/dev/null \
  2>"$TMP/e.err"; then
  fail "missing festival batch outputs were not reported"
fi
grep -q 'utterance [0-9]* (festival:' "$TMP/e.err" && grep -q 'output of `env .*festival --script' "$TMP/e.err" ||
  { cat "$TMP/e.err"; fail "a missing batch output is not named"; }

echo "data_synth_festival: all checks passed"

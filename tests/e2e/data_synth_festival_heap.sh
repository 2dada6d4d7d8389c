#!/usr/bin/env bash
# End-to-end, slow: festival batches (one festival process for up to 32
# utterances) against text2wave per utterance on 200 utterances, the set on
# which reused festival processes once gave 3 different diphone WAVs
# (festival's UniSyn reads one float past a pitchmark track, and a heap that
# earlier utterances used can put a plausible time there; see
# src/synth/synth_festival.c). Without the glibc tunables the batches run
# with, 3 WAVs of this set differed in each of three runs; with them none.
# Skipped (exit 77) when festival or its voices are not installed.
# ctest-skip-return-code: 77
# ctest-labels: slow
# Usage: data_synth_festival_heap.sh /path/to/nemoc   (ctest passes it; CWD is the build dir)
set -euo pipefail

NEMOC="${1:?usage: data_synth_festival_heap.sh /path/to/nemoc}"
for tool in festival text2wave; do
  command -v "$tool" >/dev/null || { echo "SKIP: '$tool' not installed (scripts/install-deps.sh)"; exit 77; }
done
voices="$(festival -b '(print (voice.list))')"
for v in kal_diphone ked_diphone cmu_us_slt_arctic_hts; do
  grep -qw "$v" <<<"$voices" || { echo "SKIP: festival voice $v not installed (scripts/install-deps.sh)"; exit 77; }
done
TMP="$(mktemp -d "${TMPDIR:-/tmp}/nemoc-e2e-festival-heap.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

args=(engines=festival num_utts=200 seed=7 num_workers=2)
for run in ref:1 batch:0; do
  IFS=: read -r name batch <<<"$run"
  "$NEMOC" data synth out_dir="$TMP/$name" "${args[@]}" festival_batch="$batch" >"$TMP/$name.log" 2>&1 ||
    { cat "$TMP/$name.log"; fail "synth $name"; }
done
n=$(find "$TMP/ref/audio" -name '*.wav' | wc -l)
[ "$n" -eq 200 ] || fail "festival_batch=1 wrote $n WAVs, want 200"
if ! diff -r "$TMP/ref" "$TMP/batch" >/dev/null; then
  diff -rq "$TMP/ref" "$TMP/batch" | head -5
  fail "festival batches differ from text2wave per utterance"
fi
echo "data_synth_festival_heap: 200 WAVs and manifests byte-identical ($(tail -1 "$TMP/ref.log" | grep -o 'in [0-9.]* s') per utterance, $(tail -1 "$TMP/batch.log" | grep -o 'in [0-9.]* s') in batches)"

#!/usr/bin/env bash
# End-to-end: `nemoc data rirs`. Checks that it writes num_rirs float WAVs and
# a NeMo manifest whose durations match the files, that the same seed gives
# byte-identical files and another seed other ones, and that bad arguments are
# named (unknown key and missing out_dir: exit 2; impossible ranges: exit 1).
# Usage: data_rirs.sh /path/to/nemoc   (ctest passes it; CWD is the build dir)
set -euo pipefail

NEMOC="${1:?usage: data_rirs.sh /path/to/nemoc}"
command -v soxi >/dev/null || { echo "FAIL: 'soxi' not installed (scripts/install-deps.sh)"; exit 1; }
TMP="$(mktemp -d "${TMPDIR:-/tmp}/nemoc-e2e-rirs.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

args=(num_rirs=4 seed=3 rt60=[0.15,0.4] sample_rate=8000)
"$NEMOC" data rirs out_dir="$TMP/a" "${args[@]}" >"$TMP/a.log" 2>&1 || { cat "$TMP/a.log"; fail "rirs run a"; }
"$NEMOC" data rirs out_dir="$TMP/b" "${args[@]}" >/dev/null 2>&1 || fail "rirs run b"
"$NEMOC" data rirs out_dir="$TMP/c" "${args[@]/seed=3/seed=4}" >/dev/null 2>&1 || fail "rirs run c"
grep -q "wrote 4 RIRs" "$TMP/a.log" || { cat "$TMP/a.log"; fail "no summary line"; }

m="$TMP/a/rir_manifest.json"
[ "$(wc -l <"$m")" -eq 4 ] || fail "manifest has $(wc -l <"$m") lines, want 4"
while IFS= read -r line; do
  f=$(sed -n 's/.*"audio_filepath": "\([^"]*\)".*/\1/p' <<<"$line")
  d=$(sed -n 's/.*"duration": \([0-9.e-]*\),.*/\1/p' <<<"$line")
  [ -f "$TMP/a/$f" ] || fail "$f missing"
  [ "$(soxi -r "$TMP/a/$f")" = 8000 ] || fail "$f: rate $(soxi -r "$TMP/a/$f"), want 8000"
  [ "$(soxi -e "$TMP/a/$f")" = "Floating Point PCM" ] || fail "$f: not float"
  awk -v a="$(soxi -D "$TMP/a/$f")" -v b="$d" 'BEGIN { exit !((a - b) ^ 2 < 1e-10) }' ||
    fail "$f: manifest duration $d, file $(soxi -D "$TMP/a/$f")"
done <"$m"

for f in rir_manifest.json rir_00000.wav rir_00003.wav; do
  cmp -s "$TMP/a/$f" "$TMP/b/$f" || fail "same seed, different $f"
done
cmp -s "$TMP/a/rir_00000.wav" "$TMP/c/rir_00000.wav" && fail "another seed, same rir_00000.wav"

set +e
"$NEMOC" data rirs out_dir="$TMP/d" num_rirs=2 colour=red >"$TMP/d.log" 2>&1; rc=$?
[ $rc -eq 2 ] && grep -q "unknown key 'colour'" "$TMP/d.log" || { cat "$TMP/d.log"; fail "unknown key: rc $rc"; }
"$NEMOC" data rirs num_rirs=2 >"$TMP/e.log" 2>&1; rc=$?
[ $rc -eq 2 ] && grep -q "out_dir" "$TMP/e.log" || { cat "$TMP/e.log"; fail "missing out_dir: rc $rc"; }
"$NEMOC" data rirs out_dir="$TMP/f" rt60=[0.05,0.1] room_length=[9,10] room_width=[7,8] >"$TMP/f.log" 2>&1; rc=$?
[ $rc -eq 1 ] && grep -q "rt60" "$TMP/f.log" || { cat "$TMP/f.log"; fail "rt60 too short for the rooms: rc $rc"; }
[ ! -e "$TMP/f/rir_manifest.json" ] || fail "a failed run left a manifest"
set -e
echo "data_rirs: ok"

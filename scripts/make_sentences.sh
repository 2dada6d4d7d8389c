#!/usr/bin/env bash
# Regenerates data/text/sentences.txt: short English sentences for
# `nemoc data synth text_set=sentences`.
#
# Source: the King James Version of the Bible (1611), as shipped by the Debian
# packages bible-kjv (the `bible` reader) and bible-kjv-text (its data). The
# text is in the public domain (see /usr/share/doc/bible-kjv/copyright: "The
# copyright for the King James Version text of the Bible is expired").
#
# Steps: print every verse (Genesis 1:1 to Revelation 22:21) unwrapped; drop
# the verse numbers and book/chapter headers; split at sentence ends (. ? !);
# lowercase; turn hyphens into spaces and drop every other character except
# letters, spaces and apostrophes; keep sentences of 3..12 words; remove
# duplicates keeping the first; keep `count` of them evenly spaced in Bible
# order (line floor(i*total/count) for i = 0..count-1) so that the selection
# spans all books. Deterministic: same package version, same file.
#
# Usage: scripts/make_sentences.sh [output] [count]   (defaults below)
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$here/data/text/sentences.txt}"
want="${2:-3000}"

command -v bible >/dev/null || {
  echo "make_sentences: 'bible' not found; install the Debian packages bible-kjv bible-kjv-text" >&2
  exit 1
}

export LC_ALL=C
tmp="$(mktemp)"
trap 'rm -f "$tmp"' EXIT

# -l0: one verse per line. Verse lines look like "  12 And God said, ...".
bible -l0 "gen1:1-rev22:21" |
  sed -n 's/^ *[0-9][0-9]* //p' |
  tr '.?!' '\n\n\n' |
  tr 'A-Z' 'a-z' |
  tr -- '-' ' ' |
  sed -e "s/[^a-z' ]//g" -e "s/''*/'/g" -e "s/ '/ /g" -e "s/^'//" \
      -e 's/  */ /g' -e 's/^ //' -e 's/ $//' |
  awk 'NF >= 3 && NF <= 12 && !seen[$0]++' >"$tmp"

total=$(wc -l <"$tmp")
if [ "$total" -lt "$want" ]; then
  echo "make_sentences: only $total candidate sentences, wanted $want" >&2
  exit 1
fi
# Evenly spaced lines: the i-th kept line is candidate floor(i * total / want).
awk -v total="$total" -v want="$want" \
  'BEGIN { i = 0 } NR - 1 == int(i * total / want) { print; i++ }' "$tmp" >"$out"
echo "make_sentences: wrote $(wc -l <"$out") of $total candidate sentences to $out" >&2

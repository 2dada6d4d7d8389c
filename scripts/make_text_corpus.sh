#!/usr/bin/env bash
# Builds the English sentence corpus used by the tokenizer tests:
#   tests/data/text/sentences.txt  (default; pass another path as $1)
#
# Source: the King James Bible from Debian's bible-kjv / bible-kjv-text
# packages (public domain), read with the `bible` program. Each verse is cut
# into clauses at . ; : ? !, lowercased and reduced to letters, spaces and
# apostrophes (ASR-style transcripts: no digits, no other punctuation).
# Clauses of 4..14 words are kept, duplicates dropped, and survivors taken at
# an even stride so that the 4000 lines spread over all books. The output is
# deterministic: the same package version gives the same file.
set -euo pipefail
out=${1:-"$(cd "$(dirname "$0")/.." && pwd)/tests/data/text/sentences.txt"}
max_lines=${MAX_LINES:-4000}

if ! command -v bible >/dev/null 2>&1; then
    echo "make_text_corpus: the 'bible' program is missing; install it with" >&2
    echo "  apt-get install bible-kjv" >&2
    exit 1
fi

mkdir -p "$(dirname "$out")"
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT

# -f: one verse per line, "Ge1:1 In the beginning ...".
bible -f "Gen1:1-Rev22:21" 2>/dev/null |
    sed -E 's/^[0-9]?[A-Za-z]+[0-9]+:[0-9]+ //' |
    tr '.;:?!' '\n\n\n\n\n' |
    tr '[:upper:]' '[:lower:]' |
    LC_ALL=C sed -E "s/[^a-z' ]+/ /g; s/ +/ /g; s/^ //; s/ $//; s/(^| )'+/\1/g; s/'+( |$)/\1/g" |
    awk -v max="$max_lines" '
        NF >= 4 && NF <= 14 && !seen[$0]++ { keep[n++] = $0 }
        END {
            stride = n / max; if (stride < 1) stride = 1
            for (i = 0; i < max && int(i * stride) < n; i++) print keep[int(i * stride)]
        }
    ' >"$tmp"

n=$(wc -l <"$tmp")
if [ "$n" -lt 1000 ]; then
    echo "make_text_corpus: only $n sentences produced; is bible-kjv-text installed?" >&2
    exit 1
fi
mv "$tmp" "$out"
trap - EXIT
echo "make_text_corpus: wrote $n sentences to $out"

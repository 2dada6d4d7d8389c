#!/usr/bin/env bash
# English corpus for the language-model demo: the King James Version from
# Debian's bible-kjv / bible-kjv-text packages (public domain), one JSONL
# document per chapter ({"text": ...}, 1,189 documents, about 4.1 MB), in
# canonical order, case and punctuation kept. The output is deterministic:
# the same package version gives the same file.
#   scripts/make_llm_corpus.sh OUT.jsonl
set -euo pipefail
out=${1:?usage: make_llm_corpus.sh OUT.jsonl}
if ! command -v bible >/dev/null 2>&1; then
    echo "make_llm_corpus: the 'bible' program is missing (scripts/install-deps.sh installs bible-kjv)" >&2
    exit 1
fi
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
# -f: one verse per line, "Ge1:1 In the beginning ..."; a chapter is the
# verses sharing the reference before the colon.
bible -f "Gen1:1-Rev22:21" 2>/dev/null | awk '
    { ref = $1; sub(/^[^ ]+ /, ""); ch = ref; sub(/:[0-9]+$/, "", ch)
      if (ch != prev && prev != "") { emit(doc); doc = "" }
      prev = ch; doc = doc (doc == "" ? "" : " ") $0 }
    function emit(t) { gsub(/\\/, "\\\\", t); gsub(/"/, "\\\"", t); printf "{\"text\": \"%s\"}\n", t }
    END { if (doc != "") emit(doc) }' >"$tmp"
n=$(wc -l <"$tmp")
if [ "$n" -lt 1000 ]; then
    echo "make_llm_corpus: only $n chapters produced; is bible-kjv-text installed?" >&2
    exit 1
fi
mv "$tmp" "$out"
trap - EXIT
echo "make_llm_corpus: wrote $n chapters ($(wc -c <"$out") bytes) to $out"

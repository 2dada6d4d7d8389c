#!/usr/bin/env bash
# Dependencies point down only (DESIGN.md): every #include in src/<layer>/
# must name a folder that tests/layers.txt allows for that layer, directly
# ("train/checkpoint.h") or through a public header it maps to a folder
# ("nemoc/wer.h" is asr's). A new folder or public header must be listed.
set -uo pipefail
ROOT=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$ROOT" || exit 1
declare -A allow header
while read -r kind name rest; do
    case "$kind" in
    layer) allow[$name]=" $name $rest " ;;
    header) header[$name]=$rest ;;
    esac
done < <(grep -v '^#' tests/layers.txt)
bad=0
for h in include/nemoc/*.h; do
    b=$(basename "$h" .h)
    [ -n "${header[$b]:-}" ] || { echo "tests/layers.txt: public header $h has no layer"; bad=1; }
done
layer_of() { # src/<layer>/... or include/nemoc/<header>.h
    case "$1" in
    include/nemoc/*) local b; b=$(basename "$1" .h); echo "${header[$b]:-}" ;;
    *) cut -d/ -f2 <<<"$1" ;;
    esac
}
while IFS= read -r f; do
    from=$(layer_of "$f")
    [ -n "$from" ] || continue # an unmapped public header, reported above
    [ -n "${allow[$from]:-}" ] || { echo "tests/layers.txt: $from ($f) is not a listed layer"; bad=1; continue; }
    while IFS=: read -r line inc; do
        dir=${inc%%/*}
        if [ "$dir" = nemoc ]; then
            b=$(basename "$inc" .h)
            to=${header[$b]:-}
            [ -n "$to" ] || continue # reported above
        else
            to=$dir
        fi
        case "${allow[$from]}" in
        *" $to "*) ;;
        *) echo "$f:$line: src/$from may not include $inc (a $to header; $from uses:${allow[$from]})"; bad=1 ;;
        esac
    done < <(grep -nE '^#include "[^"]+/[^"]+"' "$f" | sed -E 's/^([0-9]+):#include "([^"]+)".*/\1:\2/')
done < <(find src include/nemoc -name '*.[ch]' | sort)
if [ $bad -ne 0 ]; then
    echo "FAIL: an upward or unlisted dependency (see tests/layers.txt)"
    exit 1
fi
echo "OK: every include in src/ points down"

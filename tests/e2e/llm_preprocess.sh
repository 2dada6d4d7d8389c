#!/usr/bin/env bash
# End-to-end: `nemoc llm preprocess` (preprocess_data_for_megatron.py) and
# `nemoc llm inspect`. A JSONL of 300 sentences goes through a SentencePiece
# model (and a GPT-2 BPE, as megatron and as huggingface library); the indexed dataset read back holds one document per non-empty line
# whose ids are `nemoc tokenizer encode`'s plus the eos id (--append-eod);
# 1 and 3 workers and a gzip-compressed input give byte-identical files; two
# --json-keys give two datasets. Bad input: malformed JSON (trailing junk too), a missing key, a
# number where text belongs, invalid UTF-8 (each exit 1 naming file:line, no
# output left behind), --skip-bad-lines (counted, first one named), empty
# texts (skipped with a warning, as NeMo skips them), truncated and
# wrong-magic .idx files, tokenizer flags NeMo's libraries need, and flags
# nemoc does not mirror.
# Usage: llm_preprocess.sh /path/to/nemoc   (ctest passes it; CWD is the build dir)
set -euo pipefail

NEMOC="${1:?usage: llm_preprocess.sh /path/to/nemoc}"
SRC="${NC_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
MODEL="$SRC/tests/ref/spm/bpe_v1024.model"
TMP="$(mktemp -d "${TMPDIR:-/tmp}/nemoc-e2e-llm.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

# 300 lines of {"text": ..., "title": ...}; line 5 has JSON escapes and a
# non-ASCII character, line 7 an empty text.
head -n 300 "$SRC/tests/data/text/sentences.txt" |
  awk '{ t = $0; if (NR == 5) t = "caf\\u00e9 \\\"quoted\\\" " $0; if (NR == 7) t = "";
         printf "{\"text\": \"%s\", \"title\": \"line %d\"}\n", t, NR }' >"$TMP/in.jsonl"
PP=("$NEMOC" llm preprocess --tokenizer-library sentencepiece --tokenizer-model "$MODEL" --append-eod)

"${PP[@]}" --input "$TMP/in.jsonl" --output-prefix "$TMP/w1" --workers 1 >"$TMP/w1.log" 2>&1 ||
  { cat "$TMP/w1.log"; fail "preprocess, 1 worker"; }
grep -q "300 lines, 299 documents" "$TMP/w1.log" || { cat "$TMP/w1.log"; fail "summary"; }
grep -q "1 texts gave no tokens and were skipped" "$TMP/w1.log" || { cat "$TMP/w1.log"; fail "empty-text warning"; }
grep -q "uint16 ids" "$TMP/w1.log" || fail "a 1024-piece vocabulary should give uint16 ids"
"${PP[@]}" --input "$TMP/in.jsonl" --output-prefix "$TMP/w3" --workers 3 >/dev/null 2>&1 || fail "3 workers"
gzip -c "$TMP/in.jsonl" >"$TMP/in.json.gz"
"${PP[@]}" --input "$TMP/in.json.gz" --output-prefix "$TMP/gz" >/dev/null 2>&1 || fail "gzip input"
for ext in bin idx; do
  cmp -s "$TMP/w1_text_document.$ext" "$TMP/w3_text_document.$ext" || fail "1 vs 3 workers: .$ext differs"
  cmp -s "$TMP/w1_text_document.$ext" "$TMP/gz_text_document.$ext" || fail "gzip input: .$ext differs"
done
# NeMo's layout: magic, version 1, dtype code 8 (uint16).
[ "$(head -c 18 "$TMP/w1_text_document.idx" | od -An -tx1 | tr -d ' \n')" = 4d4d49444944580000010000000000000008 ] ||
  fail "index header is not MMIDIDX\\0\\0, version 1, dtype 8"

# Read back: every document is the tokenizer's ids plus eos (2).
"$NEMOC" llm inspect "$TMP/w1_text_document.idx" --count 400 --tokens 100000 >"$TMP/inspect.txt" ||
  fail "inspect"
grep -q "dtype uint16, 299 sequences, 299 documents" "$TMP/inspect.txt" || { head -3 "$TMP/inspect.txt"; fail "counts"; }
head -n 300 "$SRC/tests/data/text/sentences.txt" |
  awk 'NR == 5 { $0 = "café \"quoted\" " $0 } NR != 7' | "$NEMOC" tokenizer encode --model "$MODEL" |
  sed 's/$/ 2/' >"$TMP/want.txt"
sed -n 's/^document [0-9]*: 1 sequence, [0-9]* tokens: //p' "$TMP/inspect.txt" >"$TMP/got.txt"
[ "$(wc -l <"$TMP/got.txt")" -eq 299 ] || fail "inspect printed $(wc -l <"$TMP/got.txt") documents"
diff -q "$TMP/want.txt" "$TMP/got.txt" >/dev/null || { diff "$TMP/want.txt" "$TMP/got.txt" | head; fail "ids differ from tokenizer encode"; }
"$NEMOC" llm inspect "$TMP/w1_text_document" --count 1 --tokenizer-model "$MODEL" | grep -q "text: in the beginning god created" ||
  fail "inspect --tokenizer-model text"

# Two keys: one dataset each.
"${PP[@]}" --input "$TMP/in.jsonl" --output-prefix "$TMP/k" --json-keys text title >/dev/null 2>&1 || fail "two keys"
"$NEMOC" llm inspect "$TMP/k_title_document" | grep -q "300 documents" || fail "title dataset"
cmp -s "$TMP/k_text_document.bin" "$TMP/w1_text_document.bin" || fail "text dataset with two keys differs"

# expect RC NEEDLE -- CMD...: exit status RC and NEEDLE in the output.
expect() {
  local want=$1 needle=$2 rc=0
  shift 3
  "$@" >"$TMP/out.log" 2>&1 || rc=$?
  [ "$rc" -eq "$want" ] && grep -qF -- "$needle" "$TMP/out.log" ||
    { cat "$TMP/out.log"; fail "$* -> rc $rc, want $want with '$needle'"; }
}
bad() { # bad NAME LINE3: in.jsonl's first lines with line 3 replaced
  { head -n 2 "$TMP/in.jsonl"; printf '%s\n' "$2"; sed -n 4,6p "$TMP/in.jsonl"; } >"$TMP/$1.jsonl"
}
bad notjson '{"text": "unterminated'
bad nokey '{"body": "no text key"}'
bad junk '{"text": "fine"} and then junk'
bad number '{"text": 42}'
printf '{"text": "\xff\xfe bad bytes"}\n' >"$TMP/utf8_line"
bad utf8 "$(cat "$TMP/utf8_line")"
expect 1 "notjson.jsonl:3: not valid JSON" -- "${PP[@]}" --input "$TMP/notjson.jsonl" --output-prefix "$TMP/bad1"
[ ! -e "$TMP/bad1_text_document.bin" ] && [ ! -e "$TMP/bad1_text_document.idx" ] || fail "a failed run left output"
expect 1 "junk.jsonl:3: not valid JSON" -- "${PP[@]}" --input "$TMP/junk.jsonl" --output-prefix "$TMP/bad6"
expect 1 "nokey.jsonl:3: missing key 'text'" -- "${PP[@]}" --input "$TMP/nokey.jsonl" --output-prefix "$TMP/bad2"
expect 1 "number.jsonl:3: 'text' is not a string" -- "${PP[@]}" --input "$TMP/number.jsonl" --output-prefix "$TMP/bad3"
expect 1 "utf8.jsonl:3: 'text' is not valid UTF-8" -- "${PP[@]}" --input "$TMP/utf8.jsonl" --output-prefix "$TMP/bad4"
cat "$TMP/notjson.jsonl" "$TMP/nokey.jsonl" >"$TMP/two.jsonl"
expect 0 "2 bad lines skipped; the first: $TMP/two.jsonl:3: not valid JSON" -- \
  "${PP[@]}" --input "$TMP/two.jsonl" --output-prefix "$TMP/skip" --skip-bad-lines
"$NEMOC" llm inspect "$TMP/skip_text_document" | grep -q "10 documents" || fail "--skip-bad-lines kept the good lines"
# A list of inputs (comma-separated and a glob), in order.
expect 0 "12 lines, 10 documents" -- "${PP[@]}" --input "$TMP/nokey.jsonl,$TMP/notjso*.jsonl" --output-prefix "$TMP/list" --skip-bad-lines
expect 1 "missing.jsonl" -- "${PP[@]}" --input "$TMP/missing.jsonl" --output-prefix "$TMP/bad5"
mkfifo "$TMP/fifo.jsonl"
expect 1 "is a FIFO" -- "${PP[@]}" --input "$TMP/fifo.jsonl" --output-prefix "$TMP/bad7"
expect 1 "$TMP/nodir/x_text_document.bin" -- "${PP[@]}" --input "$TMP/in.jsonl" --output-prefix "$TMP/nodir/x"

# Corrupt index files.
head -c 40 "$TMP/w1_text_document.idx" >"$TMP/trunc.idx"
cp "$TMP/w1_text_document.bin" "$TMP/trunc.bin"
expect 1 "truncated file" -- "$NEMOC" llm inspect "$TMP/trunc"
{ printf 'XXIDIDX'; tail -c +8 "$TMP/w1_text_document.idx"; } >"$TMP/magic.idx"
cp "$TMP/w1_text_document.bin" "$TMP/magic.bin"
expect 1 "bad magic" -- "$NEMOC" llm inspect "$TMP/magic"
head -c 100 "$TMP/w1_text_document.bin" >"$TMP/short.bin"
cp "$TMP/w1_text_document.idx" "$TMP/short.idx"
expect 1 "pointers beyond .bin" -- "$NEMOC" llm inspect "$TMP/short"

# GPT-2 byte-level BPE (a committed cut of GPT-2: 500 merges, eos
# <|endoftext|> = 756) through NeMo's megatron library flags and through a
# tokenizer.json (huggingface): ids equal `tokenizer encode --type gpt2` + eos.
TINY="$SRC/tests/ref/llm_tok/tiny_gpt2"
"$NEMOC" llm preprocess --input "$TMP/in.jsonl" --output-prefix "$TMP/meg" --append-eod --tokenizer-library megatron \
  --tokenizer-type GPT2BPETokenizer --vocab-file "$TINY/vocab.json" --merge-file "$TINY/merges.txt" >/dev/null 2>&1 ||
  fail "preprocess, megatron GPT2BPETokenizer"
"$NEMOC" llm preprocess --input "$TMP/in.jsonl" --output-prefix "$TMP/hf" --append-eod --tokenizer-library huggingface \
  --tokenizer-type "$TINY/tokenizer.json" >/dev/null 2>&1 || fail "preprocess, huggingface tokenizer.json"
for ext in bin idx; do
  cmp -s "$TMP/meg_text_document.$ext" "$TMP/hf_text_document.$ext" || fail "megatron vs huggingface: .$ext differs"
done
head -n 300 "$SRC/tests/data/text/sentences.txt" |
  awk 'NR == 5 { $0 = "café \"quoted\" " $0 } NR != 7' | "$NEMOC" tokenizer encode --type gpt2 "$TINY" |
  sed 's/$/ 756/' >"$TMP/want_gpt2.txt"
"$NEMOC" llm inspect "$TMP/meg_text_document" --count 400 --tokens 100000 |
  sed -n 's/^document [0-9]*: 1 sequence, [0-9]* tokens: //p' >"$TMP/got_gpt2.txt"
diff -q "$TMP/want_gpt2.txt" "$TMP/got_gpt2.txt" >/dev/null ||
  { diff "$TMP/want_gpt2.txt" "$TMP/got_gpt2.txt" | head; fail "megatron ids differ from tokenizer encode --type gpt2"; }

# Arguments.
expect 1 "only GPT2BPETokenizer" -- "$NEMOC" llm preprocess --input "$TMP/in.jsonl" \
  --output-prefix "$TMP/x" --tokenizer-library megatron --tokenizer-type BertWordPieceCase --vocab-file v
expect 1 "needs --vocab-file and --merge-file" -- "$NEMOC" llm preprocess --input "$TMP/in.jsonl" \
  --output-prefix "$TMP/x" --tokenizer-library megatron --tokenizer-type GPT2BPETokenizer --vocab-file v
expect 1 "$TMP/nothing/vocab.json" -- "$NEMOC" llm preprocess --input "$TMP/in.jsonl" --output-prefix "$TMP/x" \
  --tokenizer-library megatron --tokenizer-type GPT2BPETokenizer --vocab-file "$TMP/nothing/vocab.json" --merge-file m
expect 1 "huggingface needs --tokenizer-type" -- "$NEMOC" llm preprocess --input "$TMP/in.jsonl" \
  --output-prefix "$TMP/x" --tokenizer-library huggingface
expect 1 "$TMP/gpt2" -- "$NEMOC" llm preprocess --input "$TMP/in.jsonl" \
  --output-prefix "$TMP/x" --tokenizer-library huggingface --tokenizer-type "$TMP/gpt2"
expect 1 "YouTokenToMe" -- "$NEMOC" llm preprocess --input "$TMP/in.jsonl" \
  --output-prefix "$TMP/x" --tokenizer-library yttm --tokenizer-model m
expect 1 "needs --tokenizer-model" -- "$NEMOC" llm preprocess --input "$TMP/in.jsonl" --output-prefix "$TMP/x" \
  --tokenizer-library sentencepiece
expect 2 "only mmap" -- "${PP[@]}" --input "$TMP/in.jsonl" --output-prefix "$TMP/x" --dataset-impl lazy
expect 2 "--split-sentences is not supported" -- "${PP[@]}" --input "$TMP/in.jsonl" --output-prefix "$TMP/x" --split-sentences
expect 2 "--workers needs an integer" -- "${PP[@]}" --input "$TMP/in.jsonl" --output-prefix "$TMP/x" --workers 0
expect 2 "--output-prefix is required" -- "${PP[@]}" --input "$TMP/in.jsonl"
echo "PASS"
